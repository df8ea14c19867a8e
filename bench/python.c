/* python.c -- the Python package next to C on the same unit: a placed 4 KiB write's p50, a
 * numpy array as large as a region (1 GiB) put and read back, and npmu.torch.save/load of a
 * ~200 MB state_dict next to torch.save to a local file with fsync and torch.load. The Python
 * figures come from bench/python_bench.py, run with the build's package. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench.h"

#define BLOCKS 3
#define REGION_NAME "bench.py"

/* put_get -- n samples each of MiB/s putting (persistent) and reading len bytes of buf at
 * offset 0, after one put to warm up (as python_bench.py's). */
static void put_get(struct npmu_region *r, char *buf, size_t len, int n, struct samples *put,
		    struct samples *get)
{
	struct npmu_iov iov = {0, buf, len};
	if (npmu_region_put(r, &iov, 1, NPMU_PERSISTENT) != 0) /* warm-up */
		bail("python: put", NPMU_E_IO);
	for (int i = 0; i < n; i++) {
		uint64_t s = now_ns();
		int rc = npmu_region_put(r, &iov, 1, NPMU_PERSISTENT);
		uint64_t m = now_ns();
		if (rc == 0)
			rc = npmu_region_read(r, 0, buf, len);
		if (rc != 0)
			bail("python: put/get", rc);
		samples_add(put, (double)len / (1 << 20) / ((double)(m - s) / 1e9));
		samples_add(get, (double)len / (1 << 20) / ((double)(now_ns() - m) / 1e9));
	}
}

/* Python's figures, by the names python_bench.py prints. */
struct py_figures {
	struct samples write4k, put, get, npmu_save, npmu_load, file_save, file_load, state_mb;
};

/* parse_line -- one "NAME SAMPLE ..." line into the samples of that name. */
static void parse_line(char *line, struct py_figures *f)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
		{"write4k_us", offsetof(struct py_figures, write4k)},
		{"put_mibs", offsetof(struct py_figures, put)},
		{"get_mibs", offsetof(struct py_figures, get)},
		{"npmu_save", offsetof(struct py_figures, npmu_save)},
		{"npmu_load", offsetof(struct py_figures, npmu_load)},
		{"file_save", offsetof(struct py_figures, file_save)},
		{"file_load", offsetof(struct py_figures, file_load)},
		{"state_mb", offsetof(struct py_figures, state_mb)},
	};
	char *save, *tok = strtok_r(line, " \n", &save);
	for (size_t i = 0; tok && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(tok, names[i].name) != 0)
			continue;
		struct samples *s = (struct samples *)((char *)f + names[i].off);
		while ((tok = strtok_r(NULL, " \n", &save)))
			samples_add(s, strtod(tok, NULL));
		return;
	}
}

/* The runs of python_bench.py: its modes, and the figures each must give. */
enum py_mode { PY_WRITE4K, PY_PUTGET, PY_TORCH };

/* run_python -- python_bench.py against env's unit in one mode (write4k: one block of 4 KiB
 * writes; putget: reps puts and reads of the whole region; torch: the state_dict figures);
 * its figures added to f, or false when it failed. */
static bool run_python(const struct bench_env *env, int writes, int reps, size_t state,
		       enum py_mode mode, struct py_figures *f)
{
	static const char *const names[] = {"write4k", "putget", "torch"};
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "PYTHONPATH='%s' '%s' '%s' '%s' " REGION_NAME " %d %d %d %zu '%s' %s",
		 NPMU_BENCH_PYTHONPATH, NPMU_BENCH_PYTHON, NPMU_BENCH_PY_SCRIPT, env->unit, writes,
		 BLOCKS, reps, state, env->dir, names[mode]);
	int before = mode == PY_WRITE4K ? f->write4k.n : mode == PY_PUTGET ? f->put.n : 0;
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, p) > 0)
		parse_line(line, f);
	free(line);
	int st = pclose(p);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return false;
	return mode == PY_WRITE4K ? f->write4k.n > before
	       : mode == PY_PUTGET ? f->put.n > before && f->get.n > before
				   : f->npmu_save.n && f->state_mb.n;
}

/* report_python -- the section's table: Python next to C, npmu.torch next to a local file. */
static void report_python(struct samples *c_lat, struct samples *c_put, struct samples *c_get,
			  struct py_figures *f, size_t len)
{
	char name[64];
	report_section("Python (the npmu package) next to C, on one unit", NULL);
	report_figure("Python: placed write 4 KiB p50", "us", stat_pct(&f->write4k, 50, BLOCKS));
	report_baseline("C", stat_pct(c_lat, 50, BLOCKS), GOAL_AT_MOST, 1.2);
	snprintf(name, sizeof(name), "Python: put %zu MiB numpy", len >> 20);
	report_figure(name, "MiB/s", stat_of(&f->put));
	report_baseline("C", stat_of(c_put), GOAL_AT_LEAST, 0.9);
	snprintf(name, sizeof(name), "Python: get %zu MiB numpy", len >> 20);
	report_figure(name, "MiB/s", stat_of(&f->get));
	report_baseline("C", stat_of(c_get), GOAL_AT_LEAST, 0.9);
	snprintf(name, sizeof(name), "npmu.torch.save %.0f MB state_dict", f->state_mb.v[0]);
	report_figure(name, "ms", stat_of(&f->npmu_save));
	report_baseline("torch.save, file + fsync", stat_of(&f->file_save), GOAL_NONE, 0);
	snprintf(name, sizeof(name), "npmu.torch.load %.0f MB state_dict", f->state_mb.v[0]);
	report_figure(name, "ms", stat_of(&f->npmu_load));
	report_baseline("torch.load from the file", stat_of(&f->file_load), GOAL_NONE, 0);
}

/* bench_python -- C's figures on a region, then Python's on the same region, then the table. */
void bench_python(const struct bench_env *env)
{
	/* NPMU_BENCH_PYTHON_MB: the region and the state_dict in MiB (a smoke run's small sizes) */
	const char *mb = getenv("NPMU_BENCH_PYTHON_MB");
	size_t len = mb ? strtoull(mb, NULL, 10) << 20 : env->quick ? 64u << 20 : 1u << 30;
	size_t state = mb ? len : env->quick ? 20u << 20 : 200u << 20;
	int writes = env->quick ? 300 : 3000, reps = env->quick ? 2 : 5;
	if (len == 0)
		bail("python: NPMU_BENCH_PYTHON_MB", NPMU_E_INVAL);
	struct npmu_conn *c;
	struct npmu_region *r;
	int rc = npmu_conn_new(&(struct npmu_conn_cfg){.server = env->unit}, &c);
	if (rc == 0 && (rc = npmu_region_create(c, REGION_NAME, len, NULL)) == NPMU_E_EXIST)
		rc = 0;
	if (rc == 0)
		rc = npmu_region_open(c, REGION_NAME, NPMU_ACCESS_READ_WRITE, &r);
	if (rc != 0)
		bail("python: region", rc);
	struct samples lat = {0}, put = {0}, get = {0};
	struct py_figures f = {0};
	bool ok = true;
	for (int b = 0; b < BLOCKS && ok; b++) { /* C's blocks and Python's, alternating */
		region_latency(r, 1, 4096, writes, &lat);
		ok = run_python(env, writes, reps, state, PY_WRITE4K, &f);
	}
	/* puts and reads alternating too: each one writes the whole region through the unit's
	 * disk, whose speed drifts over a run (its cache on the host fills) */
	char *buf = malloc(len);
	if (!buf)
		bail("python: put/get buffer", NPMU_E_NOMEM);
	memset(buf, 1, len);
	for (int i = 0; i < reps && ok; i++) {
		put_get(r, buf, len, 1, &put, &get);
		ok = run_python(env, writes, 1, state, PY_PUTGET, &f);
	}
	free(buf);
	if (ok && run_python(env, writes, reps, state, PY_TORCH, &f)) {
		report_python(&lat, &put, &get, &f, len);
		report_note("%d blocks of %d placed 4 KiB writes, C's and Python's alternating (each "
			    "Python block a process of its own), then %d rounds of a put (persistent) "
			    "and a read of a %zu MiB buffer, from C (libnpmu) and then from Python "
			    "(npmu: Region.write, put, read_into of a numpy array; a process each "
			    "round, C's buffer the same one every round), each after a put to warm up, on the same region of the npmud; "
			    "npmu.torch.save/load of %.0f MB of float32 tensors (4 MiB each) "
			    "with the manifest committed persistently, alternating with torch.save "
			    "to a file in the scratch directory followed by fsync, and torch.load "
			    "of it (from the page cache)", BLOCKS, writes, reps, len >> 20,
			    f.state_mb.v[0]);
	} else {
		fprintf(stderr, "npmu_bench: python: %s failed: the section is left out\n",
			NPMU_BENCH_PY_SCRIPT);
	}
	struct samples *all[] = {&lat, &put, &get, &f.write4k, &f.put, &f.get, &f.npmu_save,
				 &f.npmu_load, &f.file_save, &f.file_load, &f.state_mb};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		samples_free(all[i]);
	npmu_region_close(&r);
	npmu_region_delete(c, REGION_NAME);
	npmu_conn_delete(&c);
}
