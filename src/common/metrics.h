/* metrics.h -- what the daemons measure, and its Prometheus text exposition. */
#ifndef NPMU_METRICS_H
#define NPMU_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Counters and gauges are atomics written by the threads that serve (relaxed: each value is
 * exact on its own; two values read by one scrape may be a moment apart) and read by the
 * metrics thread, which takes no lock of the serving code. Names follow Prometheus's
 * conventions: an npmu_ prefix, base units (seconds, bytes) in the name, _total on counters.
 */

/* npmu__metric_add -- add n to a counter (relaxed). */
static inline void npmu__metric_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* npmu__metric_set -- set a gauge (relaxed). */
static inline void npmu__metric_set(_Atomic uint64_t *g, uint64_t v)
{
	atomic_store_explicit(g, v, memory_order_relaxed);
}

/* npmu__metric_get -- read a counter or gauge (relaxed). */
static inline uint64_t npmu__metric_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* Bucket bounds of a latency histogram, in nanoseconds (the last bucket, +Inf, is implicit). */
#define NPMU_HISTOGRAM_BOUNDS 14
extern const uint64_t npmu__histogram_bounds_ns[NPMU_HISTOGRAM_BOUNDS];

/* A latency histogram: observations per bucket (not cumulative) and their sum. */
struct npmu__histogram {
	_Atomic uint64_t bucket[NPMU_HISTOGRAM_BOUNDS + 1];
	_Atomic uint64_t sum_ns;
};

/* npmu__histogram_observe -- count one observation of ns nanoseconds. */
void npmu__histogram_observe(struct npmu__histogram *h, uint64_t ns);

/* A text exposition being written: grown as needed; `failed` once memory ran out. */
struct npmu__prom {
	char *text;
	size_t len, cap;
	bool failed;
};

/* npmu__prom_free -- free the text; *p is empty after. */
void npmu__prom_free(struct npmu__prom *p);

/* npmu__prom_family -- the "# HELP" and "# TYPE" lines of metric name (type: "counter",
 * "gauge" or "histogram"); its samples follow. */
void npmu__prom_family(struct npmu__prom *p, const char *name, const char *type,
		       const char *help);

/* npmu__prom_u64 -- one sample "name{k="v",...} value": labels are NULL-ended pairs of key and
 * value (values escaped here). */
void npmu__prom_u64(struct npmu__prom *p, const char *name, uint64_t value, ...)
	__attribute__((sentinel));

/* npmu__prom_histogram -- a histogram family with its HELP and TYPE: name_bucket{le=...}
 * (cumulative, in seconds), name_sum (seconds) and name_count. */
void npmu__prom_histogram(struct npmu__prom *p, const char *name, const char *help,
			  const struct npmu__histogram *h);

/* npmu__prom_process -- the process's memory as /proc/self/status has it: resident anonymous
 * memory apart from resident file pages (a unit's mapped pool) and shared memory. */
void npmu__prom_process(struct npmu__prom *p);

#endif
