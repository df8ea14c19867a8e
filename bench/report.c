/* report.c -- the figures as they are measured: a table on the terminal and, at the end, a JSON
 * file with every figure, its baselines, the ratios, the targets and the machine's description. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <rdma/fabric.h>

#include "bench.h"

#define MAX_FIGS 256
#define MAX_BASES 4
#define MAX_NOTES 64

struct base {
	char name[40];
	struct stat3 v;
	enum goal goal;
	double bound;
};

struct figure {
	int section;
	char name[64];
	char unit[16];
	struct stat3 v;
	struct base base[MAX_BASES];
	int nbase;
};

static char sections[32][96];
static int nsections;
static char *notes[MAX_NOTES];
static int note_section[MAX_NOTES];
static int nnotes;
static struct figure figs[MAX_FIGS];
static int nfigs;
static bool pending; /* figs[nfigs - 1] not printed yet */

/* per_second -- a rate: ratios read as percentages, higher is better. */
static bool per_second(const char *unit)
{
	return strstr(unit, "/s") != NULL;
}

/* fmt_value -- a value with a precision that suits its size. */
static void fmt_value(char *out, size_t n, double v)
{
	if (v >= 1000 || v == (double)(long long)v)
		snprintf(out, n, "%.0f", v);
	else if (v >= 10)
		snprintf(out, n, "%.1f", v);
	else
		snprintf(out, n, "%.2f", v);
}

/* fmt_stat -- "median [lowest-highest]" (the spread left out when there is none). */
static void fmt_stat(char *out, size_t n, struct stat3 v)
{
	char m[24], lo[24], hi[24];
	fmt_value(m, sizeof(m), v.med);
	fmt_value(lo, sizeof(lo), v.lo);
	fmt_value(hi, sizeof(hi), v.hi);
	if (v.lo == v.hi)
		snprintf(out, n, "%s", m);
	else
		snprintf(out, n, "%s [%s-%s]", m, lo, hi);
}

/* fmt_ratio -- figure / baseline as "1.05x", or for rates as "97%". */
static void fmt_ratio(char *out, size_t n, double r, const char *unit)
{
	if (per_second(unit))
		snprintf(out, n, "%.0f%%", 100.0 * r);
	else
		snprintf(out, n, "%.2fx", r);
}

/* goal_text -- the target as text ("<= 1.30x", ">= 85%"). */
static void goal_text(char *out, size_t n, enum goal g, double bound, const char *unit)
{
	char b[16];
	const char *op = g == GOAL_AT_MOST ? "<=" : g == GOAL_AT_LEAST ? ">=" : "<";
	fmt_ratio(b, sizeof(b), bound, unit);
	if (g == GOAL_NONE)
		out[0] = '\0';
	else
		snprintf(out, n, "%s %s", op, b);
}

/* goal_met -- whether the ratio meets the target. */
static bool goal_met(enum goal g, double bound, double r)
{
	return g == GOAL_AT_MOST ? r <= bound : g == GOAL_AT_LEAST ? r >= bound : r < bound;
}

/* ratio_of -- figure / baseline medians (0 when the baseline is 0). */
static double ratio_of(const struct figure *f, const struct base *b)
{
	return b->v.med > 0 ? f->v.med / b->v.med : 0;
}

/* print_line -- one row: the figure (or blanks, for its second baseline on) and a baseline. */
static void print_line(const struct figure *f, const struct base *b, bool first)
{
	char v[80] = "", bv[80] = "", r[16] = "", g[40] = "", name[96];
	snprintf(name, sizeof(name), "%s (%s)", f->name, f->unit);
	if (first)
		fmt_stat(v, sizeof(v), f->v);
	if (b) {
		fmt_stat(bv, sizeof(bv), b->v);
		fmt_ratio(r, sizeof(r), ratio_of(f, b), f->unit);
		goal_text(g, sizeof(g), b->goal, b->bound, f->unit);
	}
	printf("  %-46s %-22s %-18s %-22s %7s", first ? name : "", v, b ? b->name : "", bv, r);
	if (b && b->goal != GOAL_NONE)
		printf("  %-9s %s", g, goal_met(b->goal, b->bound, ratio_of(f, b)) ? "met" : "MISSED");
	printf("\n");
	fflush(stdout);
}

/* flush_pending -- print a figure that got no baseline. */
static void flush_pending(void)
{
	if (pending && figs[nfigs - 1].nbase == 0)
		print_line(&figs[nfigs - 1], NULL, true);
	pending = false;
}

/* report_section -- start a section of the table. */
void report_section(const char *title, const char *columns)
{
	flush_pending();
	if (nsections < 32)
		snprintf(sections[nsections++], sizeof(sections[0]), "%s", title);
	printf("\n%s\n  %-46s %-22s %-18s %-22s %7s  %s\n", title, columns ? columns : "figure",
	       "median [spread]", "baseline", "median [spread]", "ratio", "target");
}

/* report_figure -- a measured figure; its baselines follow with report_baseline. */
void report_figure(const char *name, const char *unit, struct stat3 v)
{
	flush_pending();
	if (nfigs == MAX_FIGS)
		return;
	struct figure *f = &figs[nfigs++];
	memset(f, 0, sizeof(*f));
	f->section = nsections - 1;
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->unit, sizeof(f->unit), "%s", unit);
	f->v = v;
	pending = true;
}

/* report_baseline -- a baseline of the last figure, the ratio to it, and the target if any. */
void report_baseline(const char *name, struct stat3 v, enum goal g, double bound)
{
	if (!nfigs || !pending)
		return;
	struct figure *f = &figs[nfigs - 1];
	if (f->nbase == MAX_BASES)
		return;
	struct base *b = &f->base[f->nbase++];
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->v = v;
	b->goal = g;
	b->bound = bound;
	print_line(f, b, f->nbase == 1);
}

/* report_note -- how the section's figures were taken (printed and kept in the JSON). */
void report_note(const char *fmt, ...)
{
	flush_pending();
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("  (%s)\n", buf);
	if (nnotes < MAX_NOTES) {
		note_section[nnotes] = nsections - 1;
		notes[nnotes++] = strdup(buf);
	}
}

/* report_targets -- the targets, met or missed, as a closing summary. */
void report_targets(void)
{
	flush_pending();
	int met = 0, all = 0;
	printf("\ntargets\n");
	for (int i = 0; i < nfigs; i++)
		for (int j = 0; j < figs[i].nbase; j++) {
			const struct figure *f = &figs[i];
			const struct base *b = &f->base[j];
			if (b->goal == GOAL_NONE)
				continue;
			char r[16], g[40];
			double x = ratio_of(f, b);
			fmt_ratio(r, sizeof(r), x, f->unit);
			goal_text(g, sizeof(g), b->goal, b->bound, f->unit);
			bool ok = goal_met(b->goal, b->bound, x);
			printf("  %-6s %-44s vs %-18s %7s (target %s)\n", ok ? "met" : "MISSED", f->name,
			       b->name, r, g);
			met += ok;
			all++;
		}
	printf("  %d of %d targets met\n", met, all);
}

/* json_str -- a JSON string literal. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* json_stat -- {"median":..,"min":..,"max":..,"n":..}. */
static void json_stat(FILE *f, struct stat3 v)
{
	fprintf(f, "{\"median\":%.6g,\"min\":%.6g,\"max\":%.6g,\"n\":%d}", v.med, v.lo, v.hi, v.n);
}

/* cpu_model -- the "model name" line of /proc/cpuinfo. */
static void cpu_model(char *out, size_t n)
{
	snprintf(out, n, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(out, n, "%s", strchr(line, ':') + 2);
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
}

/* mem_total_mib -- MemTotal of /proc/meminfo, MiB. */
static long mem_total_mib(void)
{
	long kib = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	if (f && fscanf(f, "MemTotal: %ld kB", &kib) != 1)
		kib = 0;
	if (f)
		fclose(f);
	return kib / 1024;
}

/* report_json -- every figure, the targets, and the machine's description. */
int report_json(const char *path, const struct bench_env *env)
{
	flush_pending();
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	struct utsname u;
	uname(&u);
	char cpu[128], when[32];
	cpu_model(cpu, sizeof(cpu));
	time_t t = time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	uint32_t fv = fi_version();
	fprintf(f, "{\"machine\":{\"cpu\":");
	json_str(f, cpu);
	fprintf(f, ",\"cores\":%ld,\"memory_mib\":%ld,\"kernel\":", sysconf(_SC_NPROCESSORS_ONLN),
		mem_total_mib());
	json_str(f, u.release);
	fprintf(f, ",\"libfabric\":\"%u.%u\",\"provider\":\"tcp\",\"network\":\"loopback\","
		   "\"scratch_dir\":", FI_MAJOR(fv), FI_MINOR(fv));
	json_str(f, env->dir);
	fprintf(f, ",\"commit\":");
	json_str(f, getenv("NPMU_BENCH_COMMIT") ? getenv("NPMU_BENCH_COMMIT") : "");
	fprintf(f, ",\"date\":\"%s\",\"quick\":%s},\n\"sections\":[", when,
		env->quick ? "true" : "false");
	for (int s = 0; s < nsections; s++) {
		fprintf(f, "%s\n{\"title\":", s ? "," : "");
		json_str(f, sections[s]);
		fprintf(f, ",\"notes\":[");
		for (int i = 0, k = 0; i < nnotes; i++)
			if (note_section[i] == s) {
				fprintf(f, "%s", k++ ? "," : "");
				json_str(f, notes[i]);
			}
		fprintf(f, "],\"figures\":[");
		for (int i = 0, k = 0; i < nfigs; i++) {
			const struct figure *g = &figs[i];
			if (g->section != s)
				continue;
			fprintf(f, "%s\n {\"name\":", k++ ? "," : "");
			json_str(f, g->name);
			fprintf(f, ",\"unit\":");
			json_str(f, g->unit);
			fprintf(f, ",\"value\":");
			json_stat(f, g->v);
			fprintf(f, ",\"baselines\":[");
			for (int j = 0; j < g->nbase; j++) {
				const struct base *b = &g->base[j];
				fprintf(f, "%s{\"name\":", j ? "," : "");
				json_str(f, b->name);
				fprintf(f, ",\"value\":");
				json_stat(f, b->v);
				fprintf(f, ",\"ratio\":%.6g", ratio_of(g, b));
				if (b->goal != GOAL_NONE) {
					char gt[40];
					goal_text(gt, sizeof(gt), b->goal, b->bound, g->unit);
					fprintf(f, ",\"target\":");
					json_str(f, gt);
					fprintf(f, ",\"met\":%s",
						goal_met(b->goal, b->bound, ratio_of(g, b)) ? "true" : "false");
				}
				fprintf(f, "}");
			}
			fprintf(f, "]}");
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n]}\n");
	return fclose(f) == 0 ? 0 : -1;
}

/* report_markdown -- the table again, one Markdown table per section, for the README. */
int report_markdown(const char *path)
{
	flush_pending();
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	for (int s = 0; s < nsections; s++) {
		fprintf(f, "%s**%s**\n\n| figure | median [spread] | baseline | median [spread] | ratio "
			   "| target |\n|---|---:|---|---:|---:|---|\n", s ? "\n" : "", sections[s]);
		for (int i = 0; i < nfigs; i++) {
			const struct figure *g = &figs[i];
			if (g->section != s)
				continue;
			char v[80];
			fmt_stat(v, sizeof(v), g->v);
			if (g->nbase == 0)
				fprintf(f, "| %s (%s) | %s | | | | |\n", g->name, g->unit, v);
			for (int j = 0; j < g->nbase; j++) {
				const struct base *b = &g->base[j];
				char bv[80], r[16], gt[64] = "";
				fmt_stat(bv, sizeof(bv), b->v);
				fmt_ratio(r, sizeof(r), ratio_of(g, b), g->unit);
				if (b->goal != GOAL_NONE) {
					char t[32];
					goal_text(t, sizeof(t), b->goal, b->bound, g->unit);
					snprintf(gt, sizeof(gt), "%s %s", t,
						 goal_met(b->goal, b->bound, ratio_of(g, b)) ? "met"
											     : "**missed**");
				}
				if (j == 0)
					fprintf(f, "| %s (%s) | %s | %s | %s | %s | %s |\n", g->name,
						g->unit, v, b->name, bv, r, gt);
				else
					fprintf(f, "| | | %s | %s | %s | %s |\n", b->name, bv, r, gt);
			}
		}
		for (int i = 0; i < nnotes; i++)
			if (note_section[i] == s)
				fprintf(f, "\n%s.\n", notes[i]);
	}
	return fclose(f) == 0 ? 0 : -1;
}
