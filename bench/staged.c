/* staged.c -- checkpoint once, protect in the background: a writer's stall with a staged put next
 * to a synchronous striped put and a single region's put of the same bytes, and the time until
 * npmu-encoder (bench/run.sh starts one) has protected it. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define SET "bench.sg"
#define SINGLE "bench.sg.single"
#define WAIT_MS 600000

/* What one size measures. */
struct staged_runs {
	struct samples single[2]; /* seconds: a single region's put, placed and persistent */
	struct samples sync;      /* seconds: a synchronous striped put (persistent) */
	struct samples stall[2];  /* seconds: a staged put, placed and persistent staging */
	struct samples protect;   /* seconds: from a staged put's start until it is protected */
};

/* runs_free -- free every sample of sr. */
static void runs_free(struct staged_runs *sr)
{
	for (int d = 0; d < 2; d++) {
		samples_free(&sr->single[d]);
		samples_free(&sr->stall[d]);
	}
	samples_free(&sr->sync);
	samples_free(&sr->protect);
}

/* timed_region_put -- one put of len bytes into r at level; seconds. */
static double timed_region_put(struct npmu_region *r, const uint8_t *data, uint64_t len,
			       enum npmu_durability level)
{
	uint64_t t = now_ns();
	int rc = npmu_region_put(r, &(struct npmu_iov){0, data, len}, 1, level);
	if (rc != 0)
		bail("single region put", rc);
	return (double)(now_ns() - t) / 1e9;
}

/* staged_once -- one staged put (staging at level) and the wait until it is protected: its stall
 * and, into *protect, the seconds from its start until protected. */
static double staged_once(struct npmu_conn *conn, struct npmu_stage *st, const uint8_t *data,
			  uint64_t len, double *protect)
{
	uint64_t v, got, t = now_ns();
	int rc = npmu_stage_put(st, data, len, &v);
	if (rc != 0)
		bail("staged put", rc < 0 ? rc : NPMU_E_INTERNAL);
	double stall = (double)(now_ns() - t) / 1e9;
	if ((rc = npmu_stripe_wait(conn, SET, v, WAIT_MS, &got)) != 0)
		bail("wait until protected (is npmu-encoder running?)", rc);
	*protect = (double)(now_ns() - t) / 1e9;
	return stall;
}

/* staged_rep -- one repetition of every way, in turn (a staging handle per durability, opened
 * before its put: it holds the staging lease, and one writer stages a set at a time). */
static void staged_rep(struct npmu_conn *conn, const struct bench_env *env,
		       struct npmu_region *single, const uint8_t *data, uint64_t len,
		       struct staged_runs *sr)
{
	struct npmu_stripe_cfg sc = {.k = 4, .m = 2, .capacity = len};
	samples_add(&sr->single[0], timed_region_put(single, data, len, NPMU_PLACED));
	samples_add(&sr->single[1], timed_region_put(single, data, len, NPMU_PERSISTENT));
	uint64_t t = now_ns();
	int rc = npmu_stripe_put(conn, SET, data, len, &sc, NULL, NULL, NULL);
	if (rc != 0)
		bail("synchronous striped put", rc);
	samples_add(&sr->sync, (double)(now_ns() - t) / 1e9);
	for (int d = 0; d < 2; d++) {
		struct npmu_stage_cfg stc = {.unit = env->stage_unit, .slots = 1,
					     .durability = d ? NPMU_PERSISTENT : NPMU_PLACED};
		struct npmu_stage *st;
		double protect;
		if ((rc = npmu_stage_open(conn, SET, &sc, &stc, &st)) != 0)
			bail("stage open", rc);
		samples_add(&sr->stall[d], staged_once(conn, st, data, len, &protect));
		if (d == 0)
			samples_add(&sr->protect, protect);
		npmu_stage_close(&st);
	}
}

/* staged_report -- the section's figures for one size. */
static void staged_report(uint64_t len, int reps, struct staged_runs *sr)
{
	char title[96];
	snprintf(title, sizeof(title), "a %llu MiB checkpoint staged, protected in the background",
		 (unsigned long long)(len >> 20));
	report_section(title, NULL);
	struct stat3 sync = stat_of(&sr->sync);
	report_figure("writer's stall, staged put (placed staging)", "s", stat_of(&sr->stall[0]));
	report_baseline("single region put, placed", stat_of(&sr->single[0]), GOAL_AT_MOST, 1.2);
	report_baseline("synchronous striped put 4+2", sync, GOAL_NONE, 0);
	report_figure("writer's stall, staged put (persistent staging)", "s",
		      stat_of(&sr->stall[1]));
	report_baseline("single region put, persistent", stat_of(&sr->single[1]), GOAL_AT_MOST,
			1.2);
	report_baseline("synchronous striped put 4+2", sync, GOAL_NONE, 0);
	report_figure("time until protected (placed staging)", "s", stat_of(&sr->protect));
	report_baseline("synchronous striped put 4+2", sync, GOAL_AT_MOST, 1.3);
	report_note("%d times each, in turn, after one round not counted (the units' pool pages "
		    "faulted in); every put persistent into the set (4+2 over six "
		    "units), through one pmmd; a staged put writes the bytes once to the set's "
		    "staging region on one unit and returns; npmu-encoder, a process of its own on "
		    "this machine, reads them there, encodes them and commits them into the set: "
		    "protected is when npmu_stripe_wait saw every member's manifest; all units, the "
		    "encoder and this writer share two cores and one disk",
		    reps);
}

/* bench_staged -- the staged puts of a checkpoint of len bytes, next to their baselines. */
void bench_staged(const struct bench_env *env, uint64_t len)
{
	if (!env->stage_unit)
		return;
	uint8_t *data = malloc(len);
	if (!data)
		bail("staged", NPMU_E_NOMEM);
	for (uint64_t i = 0; i < len; i += 8)
		*(uint64_t *)(data + i) = (i + len) * 0x9e3779b97f4a7c15ull;
	struct npmu_conn_cfg cfg = {.server = env->pmmd};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc != 0)
		bail("connect to pmmd", rc);
	struct npmu_region *single;
	struct npmu_region_opts ro = {.unit = env->stage_unit}; /* beside the staging region */
	if ((rc = npmu_region_create_ex(conn, SINGLE, len, &ro, NULL)) != 0 ||
	    (rc = npmu_region_open(conn, SINGLE, NPMU_ACCESS_READ_WRITE, &single)) != 0)
		bail("single region", rc);
	struct staged_runs sr = {0}, warm = {0};
	int reps = env->quick ? 1 : 3;
	staged_rep(conn, env, single, data, len, &warm); /* the units' fresh pool pages, faulted */
	for (int rep = 0; rep < reps; rep++)
		staged_rep(conn, env, single, data, len, &sr);
	runs_free(&warm);
	staged_report(len, reps, &sr);
	npmu_region_close(&single);
	npmu_region_delete(conn, SINGLE);
	npmu_stripe_delete(conn, SET);
	npmu_conn_delete(&conn);
	runs_free(&sr);
	free(data);
}
