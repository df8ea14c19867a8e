/* transport.c -- the physical and transport limits (memcpy, raw libfabric fi_write/fi_read
 * between two plain processes) and npmu region write/read/persist next to them. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define RAW_KEY 0x5eed5eed5eedull
#define RAW_SIZE (64u << 20)
#define BLOCKS 3 /* repetitions: raw and npmu alternate in blocks, so both see the same machine */

struct stat3 ref_raw_read_bw_64m;
static struct stat3 memcpy_bw;

/* raw_target_main -- a plain libfabric process exposing one registered buffer and driving
 * progress for the initiator's one-sided operations, until its parent goes. */
int raw_target_main(const char *addr_file)
{
	struct npmu__fabric *fab;
	if (npmu__fabric_open("tcp", "127.0.0.1", "0", true, &fab) != 0)
		return 1;
	void *buf = aligned_alloc(4096, RAW_SIZE);
	struct fid_mr *mr;
	uint64_t key;
	if (!buf || npmu__fabric_mr_reg(fab, buf, RAW_SIZE, FI_REMOTE_READ | FI_REMOTE_WRITE,
					RAW_KEY, &mr, &key) != 0)
		return 1;
	char addr[128];
	npmu__fabric_addr_str(fab, fab->name, addr, sizeof(addr));
	FILE *f = fopen(addr_file, "w");
	if (!f)
		return 1;
	fprintf(f, "%s\n", addr);
	fclose(f);
	for (;;) {
		struct fi_cq_msg_entry e;
		(void)fi_cq_read(fab->cq, &e, 1);
		if (getppid() == 1)
			return 0;
	}
}

/* One way of moving bytes: raw libfabric, or an npmu region. */
struct target {
	pid_t busy_pid; /* a process that spins for this target: paused while the other runs */
	struct npmu__fabric *fab;
	fi_addr_t peer;
	struct npmu_region *region;
};

static struct target *raw_ref;

/* op -- one blocking write or read of len bytes at offset 0 (persist: npmu write + persist). */
static int op(struct target *t, int write, void *buf, size_t len, bool persist)
{
	if (t->region) {
		int rc = write ? npmu_region_write(t->region, 0, buf, len)
			       : npmu_region_read(t->region, 0, buf, len);
		if (rc == 0 && persist)
			rc = npmu_region_persist(t->region, 0, len, NPMU_PERSISTENT);
		return rc;
	}
	static int ctx;
	ssize_t rc;
	do {
		rc = write ? fi_write(t->fab->ep, buf, len, NULL, t->peer, 0, RAW_KEY, &ctx)
			   : fi_read(t->fab->ep, buf, len, NULL, t->peer, 0, RAW_KEY, &ctx);
		if (rc == -FI_EAGAIN) {
			struct fi_cq_msg_entry e;
			fi_cq_read(t->fab->cq, &e, 0);
		}
	} while (rc == -FI_EAGAIN);
	for (;;) {
		struct fi_cq_msg_entry e;
		ssize_t n = fi_cq_read(t->fab->cq, &e, 1);
		if (n == 1)
			return 0;
		if (n == -FI_EAVAIL)
			return NPMU_E_FABRIC;
	}
}

/* switch_to -- let t's busy process run and stop the other's (2 cores: three spinning
 * processes would measure the scheduler). */
static void switch_to(struct target *t)
{
	if (raw_ref && raw_ref->busy_pid > 0)
		kill(raw_ref->busy_pid, t == raw_ref ? SIGCONT : SIGSTOP);
	usleep(1000);
}

/* lat_block -- n timed operations (after a warm-up), microseconds appended to lat. */
static void lat_block(struct target *t, int write, size_t len, bool persist, int n,
		      struct samples *lat)
{
	switch_to(t);
	char *buf = calloc(1, len);
	for (int i = 0; i < 50; i++)
		if (op(t, write, buf, len, persist) != 0)
			bail("warm-up", NPMU_E_FABRIC);
	for (int i = 0; i < n; i++) {
		uint64_t s = now_ns();
		if (op(t, write, buf, len, persist) != 0)
			bail("latency", NPMU_E_FABRIC);
		samples_add(lat, (double)(now_ns() - s) / 1000.0);
	}
	free(buf);
}

/* bw_block -- n samples of MiB/s, each over enough operations of len to move >= 8 MiB
 * (persist: npmu writes each made persistent before the next). */
static void bw_block(struct target *t, int write, char *buf, size_t len, bool persist, int n,
		     struct samples *bw)
{
	switch_to(t);
	int k = len >= (8u << 20) ? 1 : (int)((8u << 20) / len);
	op(t, write, buf, len, persist); /* warm-up after the switch */
	for (int i = 0; i < n; i++) {
		uint64_t s = now_ns();
		for (int j = 0; j < k; j++)
			if (op(t, write, buf, len, persist) != 0)
				bail("bandwidth", NPMU_E_FABRIC);
		double secs = (double)(now_ns() - s) / 1e9;
		samples_add(bw, (double)len * k / (1 << 20) / secs);
	}
}

/* size_name -- "64 B", "4 KiB", "1 MiB". */
static const char *size_name(size_t len, char *buf, size_t n)
{
	if (len >= (1u << 20))
		snprintf(buf, n, "%zu MiB", len >> 20);
	else if (len >= 1024)
		snprintf(buf, n, "%zu KiB", len >> 10);
	else
		snprintf(buf, n, "%zu B", len);
	return buf;
}

/* bench_memcpy -- single-core memcpy bandwidth over 64 MiB buffers. */
void bench_memcpy(const struct bench_env *env)
{
	size_t len = 64u << 20;
	char *a = malloc(len), *b = malloc(len);
	if (!a || !b)
		bail("memcpy", NPMU_E_NOMEM);
	memset(a, 1, len);
	memset(b, 2, len);
	struct samples s = {0};
	int reps = env->quick ? 5 : 15;
	for (int i = 0; i < reps; i++) {
		uint64_t t = now_ns();
		memcpy(i % 2 ? a : b, i % 2 ? b : a, len);
		samples_add(&s, (double)len / (1 << 20) / ((double)(now_ns() - t) / 1e9));
	}
	memcpy_bw = stat_of(&s);
	report_section("physical limit", NULL);
	report_figure("memcpy, one core, 64 MiB", "MiB/s", memcpy_bw);
	report_note("%d copies of 64 MiB between two buffers", reps);
	samples_free(&s);
	free(a);
	free(b);
}

/* open_targets -- connect to the raw target and open an npmu region on the unit. */
static void open_targets(const struct bench_env *env, struct target *raw, struct target *np,
			 struct npmu_conn **conn)
{
	char host[64], port[16];
	raw->busy_pid = env->raw_pid;
	npmu__split_hostport(env->raw, host, sizeof(host), port, sizeof(port), 0);
	if (npmu__fabric_open("tcp", host, port, false, &raw->fab) != 0 ||
	    fi_av_insert(raw->fab->av, raw->fab->info->dest_addr, 1, &raw->peer, 0, NULL) != 1)
		bail("raw target", NPMU_E_UNREACHABLE);
	struct npmu_conn_cfg cfg = {.server = env->unit};
	int rc = npmu_conn_new(&cfg, conn);
	if (rc == 0)
		rc = npmu_region_create(*conn, "bench", RAW_SIZE, NULL);
	if (rc == 0)
		rc = npmu_region_open(*conn, "bench", NPMU_ACCESS_READ_WRITE, &np->region);
	if (rc != 0)
		bail("npmu region", rc);
}

/* latencies -- write and read latency by size, raw and npmu (and npmu's write + persist):
 * table rows for 64 B and 4 KiB, every size in latency_{write,read}.dat for the plot. */
static void latencies(const struct bench_env *env, struct target *raw, struct target *np)
{
	const size_t sizes[] = {64, 256, 1024, 4096, 16384, 65536};
	const int nsz = 6, per = env->quick ? 300 : 3000;
	char path[512], sn[32], name[64];
	report_section("latency, one operation at a time", NULL);
	for (int w = 1; w >= 0; w--) {
		snprintf(path, sizeof(path), "%s/latency_%s.dat", env->out, w ? "write" : "read");
		FILE *dat = fopen(path, "w");
		if (!dat)
			bail(path, NPMU_E_IO);
		fprintf(dat, "# bytes raw_p50 raw_p90 raw_p99 npmu_p50 npmu_p90 npmu_p99%s (us)\n",
			w ? " persist_p50 persist_p90 persist_p99" : "");
		for (int i = 0; i < nsz; i++) {
			struct samples r = {0}, n = {0}, p = {0};
			for (int b = 0; b < BLOCKS; b++) {
				lat_block(raw, w, sizes[i], false, per, &r);
				lat_block(np, w, sizes[i], false, per, &n);
				if (w)
					lat_block(np, w, sizes[i], true, per / 3, &p);
			}
			struct stat3 r50 = stat_pct(&r, 50, BLOCKS), r99 = stat_pct(&r, 99, BLOCKS);
			struct stat3 n50 = stat_pct(&n, 50, BLOCKS), n99 = stat_pct(&n, 99, BLOCKS);
			fprintf(dat, "%zu %.2f %.2f %.2f %.2f %.2f %.2f", sizes[i], r50.med,
				pct(&r, 90), r99.med, n50.med, pct(&n, 90), n99.med);
			if (w)
				fprintf(dat, " %.2f %.2f %.2f", pct(&p, 50), pct(&p, 90), pct(&p, 99));
			fprintf(dat, "\n");
			if (sizes[i] == 64 || sizes[i] == 4096) {
				size_name(sizes[i], sn, sizeof(sn));
				snprintf(name, sizeof(name), "%s %s p50", w ? "write" : "read", sn);
				report_figure(name, "us", n50);
				report_baseline(w ? "raw fi_write" : "raw fi_read", r50, GOAL_AT_MOST, 1.3);
				snprintf(name, sizeof(name), "%s %s p99", w ? "write" : "read", sn);
				report_figure(name, "us", n99);
				report_baseline(w ? "raw fi_write" : "raw fi_read", r99, GOAL_NONE, 0);
				if (w) {
					snprintf(name, sizeof(name), "write + persist %s p50", sn);
					report_figure(name, "us", stat_pct(&p, 50, BLOCKS));
					report_baseline("raw fi_write", r50, GOAL_NONE, 0);
				}
			}
			samples_free(&r);
			samples_free(&n);
			samples_free(&p);
		}
		fclose(dat);
	}
	report_note("%d blocks of %d operations per size and kind after 50 warm-up ones, raw and npmu "
		    "alternating; median = percentile over all, spread = that percentile's lowest and "
		    "highest block; persist = npmu_region_persist to the unit's persistence domain "
		    "(%d per block); plot: latency.png for 64 B-64 KiB", BLOCKS, per, per / 3);
}

/* bandwidths -- write and read bandwidth by size, raw and npmu: table rows for 1 MiB and
 * 64 MiB, every size in bandwidth.dat. */
static void bandwidths(const struct bench_env *env, struct target *raw, struct target *np)
{
	const size_t sizes[] = {4096, 65536, 262144, 1u << 20, 4u << 20, 16u << 20, 64u << 20};
	const int nsz = 7, per = env->quick ? 2 : 5;
	char path[512], sn[32], name[64];
	char *buf = malloc(RAW_SIZE);
	if (!buf)
		bail("bandwidth", NPMU_E_NOMEM);
	memset(buf, 1, RAW_SIZE);
	snprintf(path, sizeof(path), "%s/bandwidth.dat", env->out);
	FILE *dat = fopen(path, "w");
	if (!dat)
		bail(path, NPMU_E_IO);
	fprintf(dat, "# bytes raw_write npmu_write raw_read npmu_read (MiB/s, medians)\n");
	report_section("bandwidth, one transfer at a time", NULL);
	double row[7][4];
	for (int w = 1; w >= 0; w--)
		for (int i = 0; i < nsz; i++) {
			bool table = sizes[i] == (1u << 20) || sizes[i] == RAW_SIZE;
			struct samples r = {0}, n = {0}, p = {0};
			for (int b = 0; b < BLOCKS; b++) {
				bw_block(raw, w, buf, sizes[i], false, per, &r);
				bw_block(np, w, buf, sizes[i], false, per, &n);
				if (w && table)
					bw_block(np, w, buf, sizes[i], true, per, &p);
			}
			struct stat3 rs = stat_of(&r), ns = stat_of(&n);
			row[i][w ? 0 : 2] = rs.med;
			row[i][w ? 1 : 3] = ns.med;
			if (!w && sizes[i] == RAW_SIZE)
				ref_raw_read_bw_64m = rs;
			if (table) {
				size_name(sizes[i], sn, sizeof(sn));
				snprintf(name, sizeof(name), "%s %s", w ? "write" : "read", sn);
				report_figure(name, "MiB/s", ns);
				report_baseline(w ? "raw fi_write" : "raw fi_read", rs, GOAL_AT_LEAST, 0.85);
				if (sizes[i] == RAW_SIZE)
					report_baseline("memcpy, one core", memcpy_bw, GOAL_NONE, 0);
				if (w) {
					snprintf(name, sizeof(name), "write + persist %s", sn);
					report_figure(name, "MiB/s", stat_of(&p));
					report_baseline("raw fi_write", rs, GOAL_NONE, 0);
				}
			}
			samples_free(&r);
			samples_free(&n);
			samples_free(&p);
		}
	for (int i = 0; i < nsz; i++)
		fprintf(dat, "%zu %.1f %.1f %.1f %.1f\n", sizes[i], row[i][0], row[i][1], row[i][2],
			row[i][3]);
	fclose(dat);
	free(buf);
	report_note("%d blocks of %d samples per size, raw and npmu alternating; a sample moves at "
		    "least 8 MiB in transfers of the size; median and lowest-highest sample; write + "
		    "persist: each transfer flushed to the unit's persistence domain (msync of the pool "
		    "file on this machine's disk) before the next; plot: bandwidth.png for 4 KiB-64 MiB",
		    BLOCKS, per);
}

/* bench_transport -- raw libfabric and an npmu region side by side. */
void bench_transport(const struct bench_env *env)
{
	struct target raw = {0}, np = {0};
	struct npmu_conn *conn;
	raw_ref = &raw;
	open_targets(env, &raw, &np, &conn);
	latencies(env, &raw, &np);
	bandwidths(env, &raw, &np);
	report_note("provider tcp on loopback between two processes; the raw target busy-polls and "
		    "is stopped while npmu runs; npmud polls for --spin-us after activity, then sleeps");
	kill(env->raw_pid, SIGSTOP); /* the rest measures npmu alone */
	raw_ref = NULL;
	npmu_region_close(&np.region);
	npmu_region_delete(conn, "bench");
	npmu_conn_delete(&conn);
	npmu__fabric_close(&raw.fab);
}

/* region_latency -- n timed operations of len bytes at offset 0 of r (after a warm-up),
 * microseconds appended to lat. */
void region_latency(struct npmu_region *r, int write, size_t len, int n, struct samples *lat)
{
	struct target t = {.region = r};
	lat_block(&t, write, len, false, n, lat);
}

/* region_bandwidth -- n samples of MiB/s of transfers of len bytes at offset 0 of r. */
void region_bandwidth(struct npmu_region *r, int write, size_t len, int n, struct samples *bw)
{
	struct target t = {.region = r};
	char *buf = malloc(len);
	if (!buf)
		bail("bandwidth", NPMU_E_NOMEM);
	memset(buf, 1, len);
	bw_block(&t, write, buf, len, false, n, bw);
	free(buf);
}
