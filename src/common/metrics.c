/* metrics.c -- latency histograms and the Prometheus text exposition format (metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint64_t npmu__histogram_bounds_ns[NPMU_HISTOGRAM_BOUNDS] = {
	10000,	  25000,    50000,     100000,	  250000,    500000,	1000000,
	2500000, 5000000, 10000000, 25000000, 100000000, 250000000, 1000000000};

/* npmu__histogram_observe -- one observation into its bucket and the sum. */
void npmu__histogram_observe(struct npmu__histogram *h, uint64_t ns)
{
	size_t i = 0;
	while (i < NPMU_HISTOGRAM_BOUNDS && ns > npmu__histogram_bounds_ns[i])
		i++;
	npmu__metric_add(&h->bucket[i], 1);
	npmu__metric_add(&h->sum_ns, ns);
}

/* npmu__prom_free -- free the text. */
void npmu__prom_free(struct npmu__prom *p)
{
	free(p->text);
	*p = (struct npmu__prom){0};
}

/* append -- printf onto the text, growing it; sets failed when memory runs out. */
static void append(struct npmu__prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(struct npmu__prom *p, const char *fmt, ...)
{
	if (p->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = p->cap - p->len;
		int n = vsnprintf(p->text ? p->text + p->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			p->failed = true;
			return;
		}
		if ((size_t)n < room) {
			p->len += (size_t)n;
			return;
		}
		size_t cap = p->cap ? 2 * p->cap : 8192;
		while (cap - p->len <= (size_t)n)
			cap *= 2;
		char *t = realloc(p->text, cap);
		if (!t) {
			p->failed = true;
			return;
		}
		p->text = t;
		p->cap = cap;
	}
}

/* npmu__prom_family -- HELP and TYPE lines (help text holds no newline or backslash). */
void npmu__prom_family(struct npmu__prom *p, const char *name, const char *type, const char *help)
{
	append(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* label_value -- a label value escaped as the format asks (\\, \" and \n). */
static void label_value(struct npmu__prom *p, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			append(p, "\\%c", *v);
		else if (*v == '\n')
			append(p, "\\n");
		else
			append(p, "%c", *v);
	}
}

/* npmu__prom_u64 -- one sample with its labels. */
void npmu__prom_u64(struct npmu__prom *p, const char *name, uint64_t value, ...)
{
	append(p, "%s", name);
	va_list ap;
	va_start(ap, value);
	const char *k;
	int n = 0;
	for (; (k = va_arg(ap, const char *)) != NULL; n++) {
		append(p, "%s%s=\"", n ? "," : "{", k);
		label_value(p, va_arg(ap, const char *));
		append(p, "\"");
	}
	va_end(ap);
	append(p, "%s %llu\n", n ? "}" : "", (unsigned long long)value);
}

/* npmu__prom_histogram -- cumulative buckets in seconds, sum and count. */
void npmu__prom_histogram(struct npmu__prom *p, const char *name, const char *help,
			  const struct npmu__histogram *h)
{
	npmu__prom_family(p, name, "histogram", help);
	uint64_t total = 0;
	for (size_t i = 0; i <= NPMU_HISTOGRAM_BOUNDS; i++) {
		total += npmu__metric_get(&h->bucket[i]);
		if (i < NPMU_HISTOGRAM_BOUNDS)
			append(p, "%s_bucket{le=\"%g\"} %llu\n", name,
			       (double)npmu__histogram_bounds_ns[i] / 1e9, (unsigned long long)total);
		else
			append(p, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)total);
	}
	append(p, "%s_sum %.9f\n%s_count %llu\n", name, (double)npmu__metric_get(&h->sum_ns) / 1e9,
	       name, (unsigned long long)total);
}

/* npmu__prom_process -- RssAnon, RssFile and RssShmem of /proc/self/status, in bytes. */
void npmu__prom_process(struct npmu__prom *p)
{
	static const struct {
		const char *field, *name, *help;
	} rss[] = {
		{"RssAnon:", "npmu_memory_rss_anon_bytes",
		 "Resident anonymous memory: the process's own (heap, stacks, buffers)."},
		{"RssFile:", "npmu_memory_rss_file_bytes",
		 "Resident file-backed pages: a unit's mapped pool, and the program's code."},
		{"RssShmem:", "npmu_memory_rss_shmem_bytes",
		 "Resident shared memory (a pool on tmpfs or /dev/shm counts here)."},
	};
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return;
	char line[256];
	unsigned long long kb[3];
	bool have[3] = {false, false, false};
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < 3; i++)
			if (strncmp(line, rss[i].field, strlen(rss[i].field)) == 0 &&
			    sscanf(line + strlen(rss[i].field), "%llu kB", &kb[i]) == 1)
				have[i] = true;
	fclose(f);
	for (size_t i = 0; i < 3; i++) {
		if (!have[i])
			continue;
		npmu__prom_family(p, rss[i].name, "gauge", rss[i].help);
		npmu__prom_u64(p, rss[i].name, (uint64_t)kb[i] * 1024, NULL);
	}
}
