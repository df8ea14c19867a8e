/* shm.c -- the same unit on libfabric's shm provider (a unit beside its writers) next to tcp on
 * loopback: a placed 4 KiB write's latency and 64 MiB write and read bandwidth. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BLOCKS 3
#define REGION (64u << 20)

/* open_on -- a connection over provider to server and a scratch region of REGION bytes. */
static struct npmu_conn *open_on(const char *server, const char *provider,
				 struct npmu_region **r)
{
	struct npmu_conn_cfg cfg = {.server = server, .provider = provider};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc == 0 && (rc = npmu_region_create(conn, "bench.shm", REGION, NULL)) == NPMU_E_EXIST)
		rc = 0;
	if (rc == 0)
		rc = npmu_region_open(conn, "bench.shm", NPMU_ACCESS_READ_WRITE, r);
	if (rc != 0)
		bail(provider, rc);
	return conn;
}

/* bench_shm -- shm next to tcp, blocks alternating. */
void bench_shm(const struct bench_env *env)
{
	struct npmu_region *rs, *rt;
	struct npmu_conn *cs = open_on(env->shm_unit, "shm", &rs);
	struct npmu_conn *ct = open_on(env->unit, "tcp", &rt);
	struct samples ls = {0}, lt = {0}, ws = {0}, wt = {0}, rds = {0}, rdt = {0};
	int n = env->quick ? 300 : 3000, nb = env->quick ? 2 : 5;
	for (int b = 0; b < BLOCKS; b++) {
		region_latency(rs, 1, 4096, n, &ls);
		region_latency(rt, 1, 4096, n, &lt);
		region_bandwidth(rs, 1, REGION, nb, &ws);
		region_bandwidth(rt, 1, REGION, nb, &wt);
		region_bandwidth(rs, 0, REGION, nb, &rds);
		region_bandwidth(rt, 0, REGION, nb, &rdt);
	}
	report_section("a unit on the same host: libfabric's shm provider next to tcp", NULL);
	report_figure("shm: placed write 4 KiB p50 (us)", "us", stat_pct(&ls, 50, BLOCKS));
	report_baseline("tcp on loopback", stat_pct(&lt, 50, BLOCKS), GOAL_NONE, 0);
	report_figure("shm: write 64 MiB (MiB/s)", "MiB/s", stat_of(&ws));
	report_baseline("tcp on loopback", stat_of(&wt), GOAL_NONE, 0);
	report_figure("shm: read 64 MiB (MiB/s)", "MiB/s", stat_of(&rds));
	report_baseline("tcp on loopback", stat_of(&rdt), GOAL_NONE, 0);
	report_note("%d blocks of %d writes of 4 KiB and %d transfers of 64 MiB each way, shm and "
		    "tcp alternating, to a region of an npmud serving on --provider shm and of the "
		    "npmud on tcp; the shm provider moves bytes through shared memory and the "
		    "kernel's cross-process copy (CMA) and has no ordering of sends after writes, so "
		    "a persist waits for its writes there", BLOCKS, n, nb);
	samples_free(&ls);
	samples_free(&lt);
	samples_free(&ws);
	samples_free(&wt);
	samples_free(&rds);
	samples_free(&rdt);
	npmu_region_close(&rs);
	npmu_region_close(&rt);
	npmu_region_delete(cs, "bench.shm");
	npmu_region_delete(ct, "bench.shm");
	npmu_conn_delete(&cs);
	npmu_conn_delete(&ct);
}
