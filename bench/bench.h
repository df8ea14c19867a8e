/* bench.h -- the benchmark's shared pieces: clock, samples, the figure report, and its sections. */
#ifndef NPMU_BENCH_H
#define NPMU_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "internal.h"

/* What the sections run against (bench/run.sh starts them all on loopback). */
struct bench_env {
	const char *raw;       /* raw libfabric target's address */
	pid_t raw_pid;         /* it busy-polls: paused while others are measured */
	const char *unit;      /* one npmud with its embedded manager */
	const char *shm_unit;  /* the same on libfabric's shm provider (NULL: not measured) */
	pid_t unit_pid;        /* for its CPU use */
	const char *unit_metrics; /* its metrics endpoint HOST:PORT (NULL: no scrape section) */
	const char *pmmd;      /* a pmmd over six units (mirrors, striped sets) */
	const char *stage_unit; /* the one of them with room for staging (NULL: no staged section) */
	pid_t pmmd_pid;        /* for its memory (0: unknown) */
	const char *redis;     /* HOST:PORT of a redis-server with an append-only file, or NULL */
	const char *dir;       /* scratch directory on the disk measured (file baselines) */
	const char *out;       /* where the JSON and the plot data go */
	const char *self;      /* this executable, for child processes */
	bool quick;            /* fewer repetitions (a smoke run, not for figures) */
};

/* now_ns -- monotonic nanoseconds. */
uint64_t now_ns(void);

/* bail -- report a failed step and stop the benchmark. */
void bail(const char *what, int rc);

/* ---- stats.c: samples and their summaries ---------------------------------------------------- */

/* A figure's value: the median of its repetitions and their spread. */
struct stat3 {
	double med, lo, hi; /* median, lowest, highest */
	int n;              /* repetitions (or operations, for percentiles) */
};

/* A growable list of samples. */
struct samples {
	double *v;
	int n, cap;
};

void samples_add(struct samples *s, double x);
void samples_free(struct samples *s);
/* pct -- the p-th percentile (0..100) of the samples (sorts them). */
double pct(struct samples *s, double p);
/* stat_of -- median, lowest and highest of the samples. */
struct stat3 stat_of(struct samples *s);
/* stat_pct -- percentile p over all samples; spread: that percentile in each of nb equal blocks
 * (the repetitions, in the order taken). */
struct stat3 stat_pct(struct samples *s, double p, int nb);
/* stat_sum -- two figures added: medians, lowest and highest. */
struct stat3 stat_sum(struct stat3 a, struct stat3 b);

/* ---- report.c: figures, their baselines and targets; the table, the JSON ---------------------- */

/* How a ratio (figure / baseline) is judged. */
enum goal {
	GOAL_NONE,
	GOAL_AT_MOST,  /* ratio <= bound */
	GOAL_AT_LEAST, /* ratio >= bound */
	GOAL_BELOW,    /* ratio < bound */
};

void report_section(const char *title, const char *columns);
/* report_figure -- a measured figure; its baselines follow with report_baseline. */
void report_figure(const char *name, const char *unit, struct stat3 v);
void report_baseline(const char *name, struct stat3 v, enum goal g, double bound);
/* report_note -- how the section's figures were taken (printed and kept in the JSON). */
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* report_json -- every figure, the targets, and the machine's description. */
int report_json(const char *path, const struct bench_env *env);
/* report_markdown -- the table again, one Markdown table per section, for the README. */
int report_markdown(const char *path);
/* report_targets -- the targets, met or missed, as a closing summary. */
void report_targets(void);

/* ---- the sections --------------------------------------------------------------------------- */

int raw_target_main(const char *addr_file);
void bench_memcpy(const struct bench_env *env);
void bench_transport(const struct bench_env *env);
void bench_mirrored(const struct bench_env *env);
void bench_create(const struct bench_env *env);
void bench_striped(const struct bench_env *env, uint64_t len);
void bench_staged(const struct bench_env *env, uint64_t len);
void bench_commit(const struct bench_env *env);
void bench_group_commit(const struct bench_env *env);
void bench_shm(const struct bench_env *env);
void bench_python(const struct bench_env *env);
void bench_catchup(const struct bench_env *env);
void bench_takeover(const struct bench_env *env);
int takeover_primary_main(const char *server, const char *name, uint64_t size);
void bench_scale(const struct bench_env *env);
int scale_client_main(int argc, char **argv);
void bench_memory(const struct bench_env *env);
void bench_scrape(const struct bench_env *env);
void bench_dataset(const struct bench_env *env);
int ds_worker_main(int argc, char **argv);
int mem_client_main(int argc, char **argv);
int mem_set_main(int argc, char **argv);

/* Baselines (baselines.c): p50/p99 of n writes of len bytes made durable, in microseconds. */
void file_fdatasync(const char *dir, size_t len, int n, struct samples *lat);
/* redis_set -- n SETs of len bytes with appendfsync at `fsync` ("always", "everysec");
 * false when no redis is at hand. */
bool redis_set(const char *hostport, const char *fsync, size_t len, int n, struct samples *lat);

/* region_latency -- n timed operations of len bytes at offset 0 of r (after a warm-up),
 * microseconds appended to lat; region_bandwidth -- n samples of MiB/s. */
void region_latency(struct npmu_region *r, int write, size_t len, int n, struct samples *lat);
void region_bandwidth(struct npmu_region *r, int write, size_t len, int n, struct samples *bw);

/* The raw libfabric reference transfer (transport.c), for other sections. */
extern struct stat3 ref_raw_read_bw_64m; /* MiB/s, set by bench_transport */

#endif
