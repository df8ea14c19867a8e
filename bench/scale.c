/* scale.c -- 1, 4, 16 and 64 client processes writing to one unit at once: aggregate bandwidth,
 * p99 latency, and the unit's CPU use idle and under that load. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "bench.h"

#define OP_SIZE (64u << 10)
#define REGION_SIZE (4u << 20)
#define ROUNDS 3

/* cpu_ticks -- user + system clock ticks of a process so far (0 if unknown). */
static uint64_t cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

/* cpu_percent -- a process's CPU use between two readings, percent of one core. */
static double cpu_percent(uint64_t t0, uint64_t t1, uint64_t ns)
{
	return 100.0 * (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK) / ((double)ns / 1e9);
}

/*
 * scale_client_main -- (child) npmu_bench --client SERVER REGION MS READY_FD GO_FD OUT: open
 * REGION, say ready, wait for go, write OP_SIZE blocks for MS milliseconds, and write to OUT the
 * bytes moved, the seconds taken and each write's latency (doubles, microseconds).
 */
int scale_client_main(int argc, char **argv)
{
	if (argc != 8)
		return 2;
	int ms = atoi(argv[4]), ready = atoi(argv[5]), go = atoi(argv[6]);
	struct npmu_conn_cfg cfg = {.server = argv[2]};
	struct npmu_conn *conn;
	struct npmu_region *r;
	char *buf = malloc(OP_SIZE);
	if (!buf || npmu_conn_new(&cfg, &conn) != 0 ||
	    npmu_region_open(conn, argv[3], NPMU_ACCESS_READ_WRITE, &r) != 0)
		return 1;
	memset(buf, 9, OP_SIZE);
	if (npmu_region_write(r, 0, buf, OP_SIZE) != 0 || write(ready, "r", 1) != 1)
		return 1;
	char c;
	if (read(go, &c, 1) < 0) /* returns 0 when the parent closes it: everyone starts at once */
		return 1;
	struct samples lat = {0};
	uint64_t start = now_ns(), end = start + (uint64_t)ms * 1000000, bytes = 0, t = start;
	for (uint64_t off = 0; t < end; off = (off + OP_SIZE) % REGION_SIZE) {
		if (npmu_region_write(r, off, buf, OP_SIZE) != 0)
			return 1;
		uint64_t t1 = now_ns();
		samples_add(&lat, (double)(t1 - t) / 1000.0);
		bytes += OP_SIZE;
		t = t1;
	}
	FILE *f = fopen(argv[7], "w");
	double secs = (double)(t - start) / 1e9, b = (double)bytes;
	if (!f || fwrite(&b, sizeof(b), 1, f) != 1 || fwrite(&secs, sizeof(secs), 1, f) != 1 ||
	    fwrite(lat.v, sizeof(double), (size_t)lat.n, f) != (size_t)lat.n || fclose(f) != 0)
		return 1;
	npmu_region_close(&r);
	npmu_conn_delete(&conn);
	return 0;
}

/* one_round -- n clients at once for ms; aggregate MiB/s, their latencies, the unit's CPU %. */
static void one_round(const struct bench_env *env, int n, int ms, double *agg, struct samples *lat,
		      double *cpu)
{
	int ready[2], go[2];
	if (pipe(ready) != 0 || pipe(go) != 0)
		bail("pipe", NPMU_E_INTERNAL);
	pid_t pids[64];
	char out[64][512];
	for (int i = 0; i < n; i++) {
		char region[32], rfd[16], gfd[16], mss[16];
		snprintf(region, sizeof(region), "bench.scale.%d", i);
		snprintf(out[i], sizeof(out[i]), "%s/scale.%d", env->dir, i);
		snprintf(rfd, sizeof(rfd), "%d", ready[1]);
		snprintf(gfd, sizeof(gfd), "%d", go[0]);
		snprintf(mss, sizeof(mss), "%d", ms);
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			execl(env->self, env->self, "--client", env->unit, region, mss, rfd, gfd, out[i],
			      (char *)NULL);
			_exit(127);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < n; i++) {
		char c;
		if (read(ready[0], &c, 1) != 1)
			bail("a client did not start", NPMU_E_INTERNAL);
	}
	uint64_t c0 = cpu_ticks(env->unit_pid), t0 = now_ns();
	close(go[1]); /* go */
	double bytes = 0, longest = 0;
	for (int i = 0; i < n; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bail("a client failed", NPMU_E_INTERNAL);
	}
	uint64_t c1 = cpu_ticks(env->unit_pid), t1 = now_ns();
	close(ready[0]);
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(out[i], "r");
		double b, secs, x;
		if (!f || fread(&b, sizeof(b), 1, f) != 1 || fread(&secs, sizeof(secs), 1, f) != 1)
			bail("client results", NPMU_E_IO);
		while (fread(&x, sizeof(x), 1, f) == 1)
			samples_add(lat, x);
		fclose(f);
		unlink(out[i]);
		bytes += b;
		longest = secs > longest ? secs : longest;
	}
	*agg = bytes / (1 << 20) / longest;
	*cpu = cpu_percent(c0, c1, t1 - t0);
}

/* bench_scale -- clients 1, 4, 16, 64 on one unit; the unit's CPU idle and loaded. */
void bench_scale(const struct bench_env *env)
{
	struct npmu_conn_cfg cfg = {.server = env->unit};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cfg, &conn);
	for (int i = 0; rc == 0 && i < 64; i++) {
		char region[32];
		snprintf(region, sizeof(region), "bench.scale.%d", i);
		rc = npmu_region_create(conn, region, REGION_SIZE, NULL);
	}
	if (rc != 0)
		bail("scale regions", rc);
	const int counts[] = {1, 4, 16, 64};
	const int ms = env->quick ? 300 : 1000;
	/* idle: nothing talks to the unit */
	sleep(1);
	uint64_t c0 = cpu_ticks(env->unit_pid), t0 = now_ns();
	sleep(2);
	struct samples idle = {0};
	samples_add(&idle, cpu_percent(c0, cpu_ticks(env->unit_pid), now_ns() - t0));
	char path[512];
	snprintf(path, sizeof(path), "%s/scaling.dat", env->out);
	FILE *dat = fopen(path, "w");
	if (!dat)
		bail(path, NPMU_E_IO);
	fprintf(dat, "# clients aggregate_MiB/s p50_us p99_us unit_cpu_%%\n");
	report_section("clients writing to one unit at once (64 KiB writes)", NULL);
	/* the counts take turns round by round, so each is measured in the same stretch of the
	 * run as the one client it is compared with (the disk's write-back of earlier sections and
	 * the host drift over a run) */
	struct samples agg[4] = {0}, lat[4] = {0}, cpu[4] = {0};
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < 4; k++) {
			double a, c;
			one_round(env, counts[k], ms, &a, &lat[k], &c);
			samples_add(&agg[k], a);
			samples_add(&cpu[k], c);
		}
	struct stat3 one = stat_of(&agg[0]);
	for (int k = 0; k < 4; k++) {
		int n = counts[k];
		struct stat3 a = stat_of(&agg[k]), c = stat_of(&cpu[k]);
		/* per-round p99 for the spread: samples were appended round by round, but rounds
		 * differ in length, so the spread is taken over equal thirds */
		struct stat3 p99 = stat_pct(&lat[k], 99, ROUNDS);
		char name[64];
		snprintf(name, sizeof(name), "%d client%s, aggregate", n, n > 1 ? "s" : "");
		report_figure(name, "MiB/s", a);
		if (n > 1)
			report_baseline("1 client", one, n == 64 ? GOAL_AT_LEAST : GOAL_NONE,
					n == 64 ? 0.85 : 0); /* (issue 14: 64 at 85%) */
		snprintf(name, sizeof(name), "%d client%s, write p99", n, n > 1 ? "s" : "");
		report_figure(name, "us", p99);
		snprintf(name, sizeof(name), "%d client%s, unit CPU", n, n > 1 ? "s" : "");
		report_figure(name, "% of a core", c);
		fprintf(dat, "%d %.1f %.1f %.1f %.1f\n", n, a.med, pct(&lat[k], 50), p99.med, c.med);
		samples_free(&agg[k]);
		samples_free(&lat[k]);
		samples_free(&cpu[k]);
	}
	report_figure("idle unit CPU", "% of a core", stat_of(&idle));
	report_note("%d rounds of %d ms per count, the counts taking turns; each client is its own process with its own "
		    "connection and region, writing 64 KiB blocks back to back; aggregate = all bytes "
		    "/ the longest client's time; p99 over every write of the rounds (spread: over "
		    "thirds of them); unit CPU from /proc (user + system) over the round; idle: 2 s "
		    "with no client; every process shares this machine's cores; plot: scaling.png",
		    ROUNDS, ms);
	fclose(dat);
	samples_free(&idle);
	for (int i = 0; i < 64; i++) {
		char region[32];
		snprintf(region, sizeof(region), "bench.scale.%d", i);
		npmu_region_delete(conn, region);
	}
	npmu_conn_delete(&conn);
}
