/* create.c -- a region's creation on a unit whose other regions hold placed writes not yet
 * written back, next to its creation on a quiet unit: the new region's zeroing is made durable
 * for its own pages only (a ranged fsync), not by writing back the whole pool. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BIG_LEN (512ull << 20)
#define NEW_LEN (64ull << 20)

/* create_ms -- ms to create region NAME of NEW_LEN on conn's unit (then deleted). */
static double create_ms(struct npmu_conn *conn, const char *name)
{
	uint64_t t = now_ns();
	int rc = npmu_region_create(conn, name, NEW_LEN, NULL);
	double ms = (double)(now_ns() - t) / 1e6;
	if (rc != 0)
		bail("create a region", rc);
	npmu_region_delete(conn, name);
	return ms;
}

/* bench_create -- the section: creates with nothing dirty, and after 512 MiB placed elsewhere. */
void bench_create(const struct bench_env *env)
{
	struct npmu_conn_cfg cfg = {.server = env->unit};
	struct npmu_conn *conn;
	struct npmu_region *big;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc == 0)
		rc = npmu_region_create(conn, "bench.create.big", BIG_LEN, NULL);
	if (rc == 0)
		rc = npmu_region_open(conn, "bench.create.big", NPMU_ACCESS_READ_WRITE, &big);
	uint8_t *data = rc == 0 ? malloc(BIG_LEN) : NULL;
	if (rc != 0 || !data)
		bail("create section", rc ? rc : NPMU_E_NOMEM);
	memset(data, 0x5a, BIG_LEN);
	struct samples quiet = {0}, dirty = {0};
	int reps = env->quick ? 2 : 5;
	for (int i = 0; i < reps; i++) {
		if ((rc = npmu_region_write(big, 0, data, BIG_LEN)) != 0 ||
		    (rc = npmu_region_persist(big, 0, BIG_LEN, NPMU_PERSISTENT)) != 0)
			bail("write the other region", rc);
		samples_add(&quiet, create_ms(conn, "bench.create.new"));
		if ((rc = npmu_region_write(big, 0, data, BIG_LEN)) != 0) /* placed: left dirty */
			bail("write the other region", rc);
		samples_add(&dirty, create_ms(conn, "bench.create.new"));
	}
	report_section("creating a 64 MiB region while another holds 512 MiB of placed writes", NULL);
	report_figure("create, another region's placed writes not written back", "ms",
		      stat_of(&dirty));
	report_baseline("create, nothing dirty", stat_of(&quiet), GOAL_NONE, 0);
	report_note("%d times each, alternating, on the npmud with its embedded manager; before each "
		    "quiet create the other region's 512 MiB were written and flushed, before each "
		    "other create written placed (in the unit's page cache, not written back); a "
		    "create zeroes the new region's pages and makes that durable",
		    reps);
	samples_free(&quiet);
	samples_free(&dirty);
	free(data);
	npmu_region_close(&big);
	npmu_region_delete(conn, "bench.create.big");
	npmu_conn_delete(&conn);
}
