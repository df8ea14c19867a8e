/* group.c -- group commit: 16 streams committing persistently at once on one unit, next to one
 * stream alone (each stream its own connection, in a thread of the benchmark). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define STREAMS_MAX 16
#define ROUNDS 3
#define COMMIT_LEN 64

/* One committing stream. */
struct streamer {
	const char *server;
	int idx;
	uint64_t ms;               /* how long to commit */
	pthread_barrier_t *go;     /* every stream open: start together */
	uint64_t commits;          /* out */
	double secs;               /* out: the time they took */
	int rc;                    /* out */
};

/* streamer_main -- open a stream of its own, wait for the others, commit 64 B append updates
 * persistently for ms milliseconds. */
static void *streamer_main(void *arg)
{
	struct streamer *s = arg;
	char name[64];
	snprintf(name, sizeof(name), "bench.group.%d", s->idx);
	struct npmu_conn_cfg cfg = {.server = s->server};
	struct npmu_conn *conn = NULL;
	struct npmu_ckpt *ck = NULL;
	struct npmu_ckpt_cfg ccfg = {.mode = NPMU_CKPT_APPEND, .state_size = 4096,
				     .log_size = 4u << 20};
	struct npmu_ckpt_opts opts = {.durability = NPMU_PERSISTENT};
	uint8_t buf[COMMIT_LEN];
	memset(buf, s->idx, sizeof(buf));
	s->rc = npmu_conn_new(&cfg, &conn);
	if (s->rc == 0 && (s->rc = npmu_ckpt_create(conn, name, &ccfg)) == NPMU_E_EXIST)
		s->rc = 0;
	if (s->rc == 0)
		s->rc = npmu_ckpt_open_primary(conn, name, &opts, &ck);
	for (int i = 0; s->rc == 0 && i < 50; i++) /* warm the log's first pages */
		s->rc = npmu_ckpt_update(ck, 0, buf, sizeof(buf));
	pthread_barrier_wait(s->go);
	uint64_t start = now_ns(), stop = start + s->ms * 1000000ull;
	while (s->rc == 0 && now_ns() < stop) {
		s->rc = npmu_ckpt_update(ck, 0, buf, sizeof(buf));
		s->commits += s->rc == 0;
	}
	s->secs = (double)(now_ns() - start) / 1e9;
	npmu_ckpt_close(&ck);
	npmu_conn_delete(&conn);
	return NULL;
}

/* round_of -- n streams committing at once for ms; aggregate commits per second. */
static double round_of(const char *server, int n, uint64_t ms)
{
	struct streamer s[STREAMS_MAX];
	pthread_t th[STREAMS_MAX];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		s[i] = (struct streamer){.server = server, .idx = i, .ms = ms, .go = &go};
		if (pthread_create(&th[i], NULL, streamer_main, &s[i]) != 0)
			bail("pthread_create", NPMU_E_NOMEM);
	}
	uint64_t total = 0;
	double secs = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (s[i].rc != 0)
			bail("group commit", s[i].rc);
		total += s[i].commits;
		secs = s[i].secs > secs ? s[i].secs : secs;
	}
	pthread_barrier_destroy(&go);
	return (double)total / secs;
}

/* bench_group_commit -- 16 streams' persistent commits at once next to one stream's. */
void bench_group_commit(const struct bench_env *env)
{
	uint64_t ms = env->quick ? 300 : 1000;
	struct samples one = {0}, many = {0};
	for (int r = 0; r < ROUNDS; r++) {
		samples_add(&one, round_of(env->unit, 1, ms));
		samples_add(&many, round_of(env->unit, STREAMS_MAX, ms));
	}
	report_section("streams committing persistently at once on one unit (group commit)", NULL);
	report_figure("16 streams, aggregate (commits/s)", "commits/s", stat_of(&many));
	report_baseline("1 stream", stat_of(&one), GOAL_AT_LEAST, 4.0);
	report_figure("1 stream (commits/s)", "commits/s", stat_of(&one));
	report_note("%d rounds of %llu ms, one stream then 16 at once; each stream has its own "
		    "connection and commits 64 B append updates persistently back to back from a "
		    "thread of the benchmark; aggregate = all commits / the longest stream's time. The "
		    "unit flushes the persist requests it finds waiting together with one flush",
		    ROUNDS, (unsigned long long)ms);
	samples_free(&one);
	samples_free(&many);
	for (int i = 0; i < STREAMS_MAX; i++) { /* the streams and their cursors */
		struct npmu_conn_cfg cfg = {.server = env->unit};
		struct npmu_conn *conn;
		if (npmu_conn_new(&cfg, &conn) != 0)
			break;
		char name[64];
		snprintf(name, sizeof(name), "bench.group.%d", i);
		npmu_region_delete(conn, name);
		snprintf(name, sizeof(name), "bench.group.%d.cursor", i);
		npmu_region_delete(conn, name);
		npmu_conn_delete(&conn);
	}
}
