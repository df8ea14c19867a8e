/* ops_client.c -- the workload of tests/integration/ops.sh, through the public API: a stream's
 * primary that commits until it is fenced, a backup that takes over, and a writer of a mirrored
 * region whose library log goes to the application's sink. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npmu.h"

#define STATE_SIZE 65536

/* connect_or_die -- a connection to $NPMU_SERVER. */
static struct npmu_conn *connect_or_die(void)
{
	struct npmu_conn_cfg cfg = {0};
	struct npmu_conn *c = NULL;
	int rc = npmu_conn_new(&cfg, &c);
	if (rc != 0) {
		fprintf(stderr, "ops_client: connect: %s\n", npmu_strerror(rc));
		exit(1);
	}
	return c;
}

/* primary -- create stream name, commit once ("committed"), then every 50 ms until a commit
 * fails: "fenced" and status 3 when another writer took over, else status 1. */
static int primary(const char *name)
{
	struct npmu_conn *c = connect_or_die();
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_OVERWRITE, .state_size = STATE_SIZE};
	int rc = npmu_ckpt_create(c, name, &cfg);
	struct npmu_ckpt_opts opts = {.lease_ms = 600};
	struct npmu_ckpt *ck = NULL;
	if (rc == 0)
		rc = npmu_ckpt_open_primary(c, name, &opts, &ck);
	static char state[STATE_SIZE];
	for (unsigned i = 0; rc == 0; i++) {
		memset(state, (int)i, sizeof(state));
		rc = npmu_ckpt_commit(ck, state, sizeof(state));
		if (rc == 0 && i == 0) {
			printf("committed\n");
			fflush(stdout);
		}
		usleep(50000);
	}
	printf("%s\n", rc == NPMU_E_FENCED ? "fenced" : npmu_strerror(rc));
	npmu_ckpt_close(&ck);
	npmu_conn_delete(&c);
	return rc == NPMU_E_FENCED ? 3 : 1;
}

/* takeover -- follow stream name, take it over once its primary's lease lapses, commit. */
static int takeover(const char *name)
{
	struct npmu_conn *c = connect_or_die();
	struct npmu_ckpt_opts opts = {.lease_ms = 600};
	struct npmu_ckpt *ck = NULL;
	static char state[STATE_SIZE];
	int rc = npmu_ckpt_open_backup(c, name, &opts, &ck);
	if (rc == 0)
		rc = npmu_ckpt_takeover(ck, 10000);
	if (rc == 0)
		rc = npmu_ckpt_commit(ck, state, sizeof(state));
	printf("%s\n", rc == 0 ? "took over" : npmu_strerror(rc));
	npmu_ckpt_close(&ck);
	npmu_conn_delete(&c);
	return rc == 0 ? 0 : 1;
}

static char lines[16][1024];
static enum npmu_log_level levels[16];
static int nlines;

/* sink -- the application's log sink: keep each line. */
static void sink(enum npmu_log_level level, const char *line, void *arg)
{
	(void)arg;
	if (nlines < 16) {
		snprintf(lines[nlines], sizeof(lines[nlines]), "%s", line);
		levels[nlines++] = level;
	}
}

/* degraded -- open mirrored region name ("opened"), wait for file go to exist (the test has
 * stopped a copy's unit meanwhile), then write and persist it; the library's lines go to the
 * sink, then to stdout as "LEVEL: line". Status 0 when the write succeeded (degraded) and some
 * warning named the region. */
static int degraded(const char *name, const char *go)
{
	npmu_log_set_function(sink, NULL);
	npmu_log_set_level(NPMU_LOG_INFO);
	struct npmu_conn *c = connect_or_die();
	struct npmu_region *r = NULL;
	static char data[65536];
	memset(data, 0x5a, sizeof(data));
	int rc = npmu_region_open(c, name, NPMU_ACCESS_READ_WRITE, &r);
	printf("opened\n");
	fflush(stdout);
	for (int i = 0; i < 1000 && access(go, F_OK) != 0; i++)
		usleep(10000);
	if (rc == 0)
		rc = npmu_region_write(r, 0, data, sizeof(data));
	if (rc == 0)
		rc = npmu_region_persist(r, 0, sizeof(data), NPMU_PERSISTENT);
	bool named = false;
	for (int i = 0; i < nlines; i++) {
		static const char *const level_names[] = {"error", "warn", "info", "debug"};
		printf("%s: %s\n", level_names[levels[i]], lines[i]);
		named |= levels[i] <= NPMU_LOG_WARN && strstr(lines[i], name) != NULL;
	}
	printf("write: %s\n", npmu_strerror(rc));
	npmu_region_close(&r);
	npmu_conn_delete(&c);
	npmu_log_set_function(NULL, NULL);
	return rc == 0 && named ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "primary") == 0)
		return primary(argv[2]);
	if (argc == 3 && strcmp(argv[1], "takeover") == 0)
		return takeover(argv[2]);
	if (argc == 4 && strcmp(argv[1], "degraded") == 0)
		return degraded(argv[2], argv[3]);
	fprintf(stderr, "usage: ops_client primary|takeover NAME | degraded NAME GO_FILE\n");
	return 2;
}
