/* stats.c -- samples, percentiles, and a figure's median with its spread. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* now_ns -- monotonic nanoseconds. */
uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* bail -- report a failed step and stop the benchmark. */
void bail(const char *what, int rc)
{
	fprintf(stderr, "npmu_bench: %s: %s\n", what, npmu_strerror(rc));
	exit(1);
}

/* samples_add -- append one sample. */
void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, (size_t)s->cap * sizeof(double));
		if (!s->v)
			bail("samples", NPMU_E_NOMEM);
	}
	s->v[s->n++] = x;
}

/* samples_free -- release the samples. */
void samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* cmp_double -- qsort order of doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* pct_of -- the p-th percentile of n doubles (sorts them): the nearest rank. */
static double pct_of(double *v, int n, double p)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	int i = (int)((double)(n - 1) * p / 100.0 + 0.5);
	return v[i < n ? i : n - 1];
}

/* pct -- the p-th percentile (0..100) of the samples (sorts them). */
double pct(struct samples *s, double p)
{
	return pct_of(s->v, s->n, p);
}

/* stat_of -- median, lowest and highest of the samples. */
struct stat3 stat_of(struct samples *s)
{
	struct stat3 r = {.n = s->n};
	if (s->n == 0)
		return r;
	r.med = pct_of(s->v, s->n, 50);
	r.lo = s->v[0];
	r.hi = s->v[s->n - 1];
	return r;
}

/* stat_pct -- percentile p over all samples; spread: the same percentile of each of nb equal
 * blocks, in the order the samples were taken. */
struct stat3 stat_pct(struct samples *s, double p, int nb)
{
	struct stat3 r = {.n = s->n};
	if (s->n == 0 || nb < 1)
		return r;
	int per = s->n / nb;
	double *copy = malloc((size_t)s->n * sizeof(double));
	if (!copy)
		bail("samples", NPMU_E_NOMEM);
	r.lo = r.hi = -1;
	for (int b = 0; b < nb && per > 0; b++) {
		memcpy(copy, s->v + b * per, (size_t)per * sizeof(double));
		double x = pct_of(copy, per, p);
		if (r.lo < 0 || x < r.lo)
			r.lo = x;
		if (x > r.hi)
			r.hi = x;
	}
	free(copy);
	r.med = pct(s, p);
	if (r.lo < 0)
		r.lo = r.hi = r.med;
	return r;
}

/* stat_sum -- two figures added: medians, lowest and highest. */
struct stat3 stat_sum(struct stat3 a, struct stat3 b)
{
	return (struct stat3){.med = a.med + b.med, .lo = a.lo + b.lo, .hi = a.hi + b.hi,
			      .n = a.n < b.n ? a.n : b.n};
}
