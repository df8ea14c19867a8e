/* bench.c -- npmu region write/read next to raw libfabric fi_write/fi_read on the same provider. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "ec.h"

#define RAW_KEY 0x5eed5eed5eedull
#define RAW_SIZE (64u << 20)

/* now_ns -- monotonic nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* raw_target -- a plain libfabric process exposing one registered buffer, driving progress. */
static int raw_target(const char *addr_file)
{
	struct npmu__fabric *fab;
	if (npmu__fabric_open("tcp", "127.0.0.1", "0", true, &fab) != 0)
		return 1;
	void *buf = aligned_alloc(4096, RAW_SIZE);
	struct fid_mr *mr;
	uint64_t key;
	if (npmu__fabric_mr_reg(fab, buf, RAW_SIZE, FI_REMOTE_READ | FI_REMOTE_WRITE, RAW_KEY, &mr,
				&key) != 0)
		return 1;
	char addr[128];
	npmu__fabric_addr_str(fab, fab->name, addr, sizeof(addr));
	FILE *f = fopen(addr_file, "w");
	fprintf(f, "%s\n", addr);
	fclose(f);
	for (;;) { /* progress for the initiator's one-sided operations */
		struct fi_cq_msg_entry e;
		(void)fi_cq_read(fab->cq, &e, 1);
		if (getppid() == 1)
			return 0;
	}
}

/* One way of moving bytes: raw libfabric or an npmu region. */
struct target {
	pid_t busy_pid;             /* a process that spins for this target, paused while the other runs */
	struct npmu__fabric *fab; /* raw */
	fi_addr_t peer;
	struct npmu_region *region; /* npmu */
};

/* op -- one blocking write or read of len bytes at offset 0. */
static int op(struct target *t, int write, void *buf, size_t len)
{
	if (t->region)
		return write ? npmu_region_write(t->region, 0, buf, len)
			     : npmu_region_read(t->region, 0, buf, len);
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
			return -1;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* pause_other -- stop the raw target's busy loop while npmu is measured (2 cores: three
 * spinning processes would measure the scheduler), resume it for raw measurements. */
static void pause_other(struct target *t, struct target *raw)
{
	if (raw->busy_pid > 0)
		kill(raw->busy_pid, t == raw ? SIGCONT : SIGSTOP);
	usleep(1000);
}

static struct target *raw_ref;

/* latency -- p50 and p99 in microseconds over iters operations. */
static void latency(struct target *t, int write, size_t len, int iters, double *p50, double *p99)
{
	pause_other(t, raw_ref);
	static uint64_t lat[20000];
	char *buf = calloc(1, len);
	for (int i = 0; i < 100; i++)
		op(t, write, buf, len);
	for (int i = 0; i < iters; i++) {
		uint64_t s = now_ns();
		op(t, write, buf, len);
		lat[i] = now_ns() - s;
	}
	qsort(lat, (size_t)iters, sizeof(lat[0]), cmp_u64);
	*p50 = (double)lat[iters / 2] / 1000.0;
	*p99 = (double)lat[iters * 99 / 100] / 1000.0;
	free(buf);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* transfers -- MiB/s of n transfers of len bytes through t, into v. */
static void transfers(struct target *t, int write, char *buf, size_t len, int n, double *v)
{
	pause_other(t, raw_ref);
	op(t, write, buf, len); /* warm-up after the switch */
	for (int i = 0; i < n; i++) {
		uint64_t s = now_ns();
		op(t, write, buf, len);
		v[i] = (double)len / (1 << 20) / ((double)(now_ns() - s) / 1e9);
	}
}

/*
 * bandwidth -- median MiB/s of raw and of npmu over 3 x block transfers each, in alternating
 * blocks (raw, npmu, raw, npmu, ...) so that both see the same machine; also the spread (lowest
 * and highest) of each.
 */
static void bandwidth(struct target *raw, struct target *np, int write, size_t len, int block,
		      double out[2][3])
{
	double v[2][3 * 64];
	char *buf = malloc(len);
	memset(buf, 1, len);
	for (int round = 0; round < 3; round++) {
		transfers(raw, write, buf, len, block, v[0] + round * block);
		transfers(np, write, buf, len, block, v[1] + round * block);
	}
	free(buf);
	int reps = 3 * block;
	for (int k = 0; k < 2; k++) {
		qsort(v[k], (size_t)reps, sizeof(double), cmp_double);
		out[k][0] = v[k][reps / 2];
		out[k][1] = v[k][0];
		out[k][2] = v[k][reps - 1];
	}
}

/* bail -- report a failed step and stop. */
static void bail(const char *what, int rc)
{
	fprintf(stderr, "npmu_bench: %s: %s\n", what, npmu_strerror(rc));
	exit(1);
}

/* pct -- p-th percentile (0..100) of n sorted doubles. */
static double pct(double *v, int n, int p)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return v[(n - 1) * p / 100];
}

/* commit_latency -- p50/p99 microseconds of n stream updates of len bytes at a durability. */
static void commit_latency(struct npmu_conn *conn, const char *name, size_t len,
			   enum npmu_durability d, int n, double *p50, double *p99)
{
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = 2u << 20,
				    .log_size = 64u << 20};
	struct npmu_ckpt *ck;
	struct npmu_ckpt_opts opts = {.durability = d};
	if (npmu_ckpt_create(conn, name, &cfg) != 0 || npmu_ckpt_open_primary(conn, name, &opts, &ck) != 0) {
		fprintf(stderr, "npmu_bench: stream %s\n", name);
		exit(1);
	}
	char *buf = malloc(len);
	memset(buf, 7, len);
	double *v = malloc((size_t)n * sizeof(double));
	for (int i = 0; i < n + 10; i++) {
		uint64_t s = now_ns();
		if (npmu_ckpt_update(ck, (uint64_t)(i % 2) * (len < (1u << 20) ? len : 0), buf, (uint32_t)len) != 0)
			exit(1);
		if (i >= 10)
			v[i - 10] = (double)(now_ns() - s) / 1000.0;
	}
	*p50 = pct(v, n, 50);
	*p99 = pct(v, n, 99);
	free(v);
	free(buf);
	npmu_ckpt_close(&ck);
}

/* file_latency -- p50/p99 microseconds of pwrite + fdatasync of len bytes to a local file. */
static void file_latency(const char *dir, size_t len, int n, double *p50, double *p99)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/fdatasync.bin", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *buf = malloc(len);
	memset(buf, 7, len);
	double *v = malloc((size_t)n * sizeof(double));
	for (int i = 0; i < n + 10; i++) {
		uint64_t s = now_ns();
		if (pwrite(fd, buf, len, (off_t)((i % 64) * len)) != (ssize_t)len || fdatasync(fd) != 0)
			exit(1);
		if (i >= 10)
			v[i - 10] = (double)(now_ns() - s) / 1000.0;
	}
	*p50 = pct(v, n, 50);
	*p99 = pct(v, n, 99);
	close(fd);
	unlink(path);
	free(v);
	free(buf);
}

/* primary_proc -- (child) commit a state of size bytes into an overwrite stream, then wait. */
static int primary_proc(const char *server, const char *name, uint64_t size)
{
	struct npmu_conn_cfg cfg = {.server = server};
	struct npmu_conn *conn;
	struct npmu_ckpt *ck;
	struct npmu_ckpt_opts opts = {.durability = NPMU_PLACED, .lease_ms = 300};
	char *state = malloc(size);
	memset(state, 3, size);
	if (npmu_conn_new(&cfg, &conn) != 0 || npmu_ckpt_open_primary(conn, name, &opts, &ck) != 0 ||
	    npmu_ckpt_commit(ck, state, size) != 0)
		return 1;
	printf("committed\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* takeover_ms -- SIGKILL a primary holding size bytes of state; time until a backup that had
 * read nothing has taken over with the whole state. */
static double takeover_ms(struct npmu_conn *conn, const char *self, const char *server,
			  const char *name, uint64_t size)
{
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_OVERWRITE, .state_size = size};
	int rc = npmu_ckpt_create(conn, name, &cfg);
	if (rc != 0)
		bail("create takeover stream", rc);
	int pfd[2];
	char sz[32], line[64];
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	if (pipe(pfd) != 0)
		bail("pipe", NPMU_E_INTERNAL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		execl(self, self, "--primary", server, name, sz, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	ssize_t got = read(pfd[0], line, sizeof(line)); /* "committed" once the state is in */
	if (got <= 0)
		bail("start the primary", NPMU_E_INTERNAL);
	struct npmu_ckpt *b;
	if ((rc = npmu_ckpt_open_backup(conn, name, NULL, &b)) != 0)
		bail("open backup", rc);
	uint64_t t0 = now_ns();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pfd[0]);
	if ((rc = npmu_ckpt_takeover(b, 10000)) != 0)
		bail("takeover", rc);
	uint64_t len;
	npmu_ckpt_state(b, &len, NULL);
	double ms = (double)(now_ns() - t0) / 1e6;
	if (len != size)
		bail("state after takeover", NPMU_E_CORRUPT);
	npmu_ckpt_close(&b);
	npmu_region_delete(conn, name);
	char cname[80];
	snprintf(cname, sizeof(cname), "%s.cursor", name);
	npmu_region_delete(conn, cname);
	return ms;
}

/*
 * side_by_side -- latency (p50, p99 of iters operations of 64 B and 4 KiB) and bandwidth (1 MiB
 * and 64 MiB) of target b next to target a, with the ratio; targets: print the targets.
 */
static void side_by_side(struct target *a, struct target *b, const char *an, const char *bn,
			 int iters, bool targets)
{
	const size_t lsz[] = {64, 4096};
	for (int w = 1; w >= 0; w--)
		for (int i = 0; i < 2; i++) {
			double a50, a99, b50, b99;
			latency(a, w, lsz[i], iters, &a50, &a99);
			latency(b, w, lsz[i], iters, &b50, &b99);
			printf("%-5s %5zu B latency p50 (us) %12.1f %12.1f %7.2fx%s\n",
			       w ? "write" : "read", lsz[i], a50, b50, b50 / a50,
			       targets ? "   <= 1.3x" : "");
			printf("%-5s %5zu B latency p99 (us) %12.1f %12.1f %7.2fx\n",
			       w ? "write" : "read", lsz[i], a99, b99, b99 / a99);
		}
	const size_t bsz[] = {1u << 20, 64u << 20};
	for (int w = 1; w >= 0; w--)
		for (int i = 0; i < 2; i++) {
			double v[2][3];
			bandwidth(a, b, w, bsz[i], i ? 5 : 17, v);
			printf("%-5s %3zu MiB bandwidth (MiB/s) %11.0f %12.0f %7.0f%%%s"
			       "   (spread: %s %.0f-%.0f, %s %.0f-%.0f)\n",
			       w ? "write" : "read", bsz[i] >> 20, v[0][0], v[1][0],
			       100.0 * v[1][0] / v[0][0], targets ? "   >= 85%" : "", an, v[0][1],
			       v[0][2], bn, v[1][1], v[1][2]);
		}
}

/* mirrored -- a mirrored region's writes and reads next to a single region's, both through the
 * same pmmd with two units (each copy on its own unit), in alternating blocks. */
static void mirrored(const char *pmmd)
{
	struct npmu_conn_cfg cfg = {.server = pmmd};
	struct npmu_conn *conn;
	struct target single = {0}, mirror = {0};
	struct npmu_region_opts one = {0}, two = {.mirror = 1};
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc == 0)
		rc = npmu_region_create_ex(conn, "bench.single", RAW_SIZE, &one, NULL);
	if (rc == 0)
		rc = npmu_region_create_ex(conn, "bench.mirror", RAW_SIZE, &two, NULL);
	if (rc == 0)
		rc = npmu_region_open(conn, "bench.single", NPMU_ACCESS_READ_WRITE, &single.region);
	if (rc == 0)
		rc = npmu_region_open(conn, "bench.mirror", NPMU_ACCESS_READ_WRITE, &mirror.region);
	if (rc != 0)
		bail("mirrored regions", rc);
	printf("\n%-28s %12s %12s %8s\n", "mirrored region (2 units)", "single", "mirrored",
	       "ratio");
	side_by_side(&single, &mirror, "single", "mirrored", 5000, false);
	printf("(5000 operations per latency row; a mirrored write goes to both units at once and\n"
	       " completes when both have it; a read goes to one copy. Both units and the client share\n"
	       " this machine's cores and loopback: the units sleep on their completion queue between\n"
	       " operations (--spin-us 0; with 2 cores, two spinning units and the client would\n"
	       " measure the scheduler), and the mirrored write bandwidth is bounded by one machine\n"
	       " doing the copying of both units; across hosts each unit copies its own)\n");
	npmu_region_close(&single.region);
	npmu_region_close(&mirror.region);
	npmu_region_delete(conn, "bench.single");
	npmu_region_delete(conn, "bench.mirror");
	npmu_conn_delete(&conn);
}

/* whole_region -- write (and persist) or read len bytes of a region in 8 MiB pieces; seconds. */
static double whole_region(struct npmu_region *r, int write, uint8_t *buf, uint64_t len)
{
	uint64_t t = now_ns();
	for (uint64_t off = 0; off < len; off += 8u << 20) {
		size_t n = len - off < (8u << 20) ? (size_t)(len - off) : 8u << 20;
		int rc = write ? npmu_region_write(r, off, buf + off, n) : npmu_region_read(r, off, buf + off, n);
		if (rc != 0)
			bail("region transfer", rc);
	}
	if (write && npmu_region_persist(r, 0, len, NPMU_PERSISTENT) != 0)
		bail("persist", NPMU_E_IO);
	return (double)(now_ns() - t) / 1e9;
}

/* median3 -- the median of three. */
static double median3(double a, double b, double c)
{
	double v[3] = {a, b, c};
	qsort(v, 3, sizeof(double), cmp_double);
	return v[1];
}

/* striped -- ISA-L coding throughput, and one checkpoint put and got as a striped set (k=4, m=2
 * over six units), a mirrored region and a single region, persistent each time. */
static void striped(const char *pmmd, uint64_t len)
{
	uint8_t *data = malloc(len), *back = malloc(len);
	if (!data || !back)
		bail("striped", NPMU_E_NOMEM);
	for (uint64_t i = 0; i < len; i += 8)
		*(uint64_t *)(data + i) = i * 0x9e3779b97f4a7c15ull;
	/* coding alone: 4+2 groups of 1 MiB sub-segments */
	struct npmu__ec ec;
	npmu__ec_init(&ec, 4, 2);
	size_t seg = 1u << 20;
	uint8_t *par = malloc(2 * seg), *frag[6];
	double enc[3], dec[3];
	for (int rep = 0; rep < 3; rep++) {
		uint64_t t = now_ns();
		for (uint64_t off = 0; off + 4 * seg <= len; off += 4 * seg) {
			uint8_t *d[4] = {data + off, data + off + seg, data + off + 2 * seg, data + off + 3 * seg};
			uint8_t *p[2] = {par, par + seg};
			npmu__ec_encode(&ec, seg, d, p);
		}
		enc[rep] = (double)len / (1 << 20) / ((double)(now_ns() - t) / 1e9);
		t = now_ns();
		for (uint64_t off = 0; off + 4 * seg <= len; off += 4 * seg) { /* two data lost */
			for (int j = 0; j < 4; j++)
				frag[j] = back + off + (size_t)j * seg;
			frag[4] = par;
			frag[5] = par + seg;
			uint8_t present[6] = {0, 1, 0, 1, 1, 1};
			npmu__ec_decode(&ec, seg, frag, present);
		}
		dec[rep] = (double)len / (1 << 20) / ((double)(now_ns() - t) / 1e9);
	}
	free(par);
	struct npmu_conn_cfg cfg = {.server = pmmd};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cfg, &conn);
	struct npmu_region *single = NULL, *mirror = NULL;
	struct npmu_region_opts one = {0}, two = {.mirror = 1};
	if (rc == 0)
		rc = npmu_region_create_ex(conn, "bench.ck.single", len, &one, NULL);
	if (rc == 0)
		rc = npmu_region_create_ex(conn, "bench.ck.mirror", len, &two, NULL);
	if (rc == 0)
		rc = npmu_region_open(conn, "bench.ck.single", NPMU_ACCESS_READ_WRITE, &single);
	if (rc == 0)
		rc = npmu_region_open(conn, "bench.ck.mirror", NPMU_ACCESS_READ_WRITE, &mirror);
	if (rc != 0)
		bail("checkpoint regions", rc);
	double put[3][3], get[3][3];
	struct npmu_stripe_cfg sc = {.k = 4, .m = 2};
	for (int rep = 0; rep < 3; rep++) {
		double mib = (double)len / (1 << 20);
		put[0][rep] = mib / whole_region(single, 1, data, len);
		get[0][rep] = mib / whole_region(single, 0, back, len);
		put[1][rep] = mib / whole_region(mirror, 1, data, len);
		get[1][rep] = mib / whole_region(mirror, 0, back, len);
		uint64_t t = now_ns();
		if ((rc = npmu_stripe_put(conn, "bench.ck.set", data, len, &sc, NULL, NULL, NULL)) != 0)
			bail("stripe put", rc);
		put[2][rep] = mib / ((double)(now_ns() - t) / 1e9);
		void *got;
		uint64_t glen;
		t = now_ns();
		if ((rc = npmu_stripe_get(conn, "bench.ck.set", 0, &got, &glen, NULL, NULL, NULL)) != 0)
			bail("stripe get", rc);
		get[2][rep] = mib / ((double)(now_ns() - t) / 1e9);
		if (glen != len || memcmp(got, data, len) != 0)
			bail("stripe get: other bytes", NPMU_E_CORRUPT);
		free(got);
	}
	printf("\n%-40s %10s\n", "erasure coding (ISA-L, 4+2, 1 MiB)", "MiB/s");
	printf("%-40s %10.0f   (median of 3 passes over %llu MiB)\n", "encode", median3(enc[0], enc[1], enc[2]),
	       (unsigned long long)(len >> 20));
	printf("%-40s %10.0f   (two data sub-segments of every group lost)\n", "decode",
	       median3(dec[0], dec[1], dec[2]));
	printf("\n%-34s %10s %10s %9s\n", "a checkpoint, persistent", "put MiB/s", "get MiB/s",
	       "storage");
	const char *label[3] = {"single region (1 unit)", "mirrored region (2 units)",
				"striped set 4+2 (6 units)"};
	const char *over[3] = {"1.00x", "2.00x", "1.50x"};
	for (int k = 0; k < 3; k++)
		printf("%-34s %10.0f %10.0f %9s\n", label[k], median3(put[k][0], put[k][1], put[k][2]),
		       median3(get[k][0], get[k][1], get[k][2]), over[k]);
	printf("(%llu MiB checkpoint, median of 3; put includes the flush to the units' persistence\n"
	       " domain (and for the set: encoding, checksums, the manifests); get of the set checks\n"
	       " every sub-segment's checksum; all units share this machine's 2 cores and disk)\n",
	       (unsigned long long)(len >> 20));
	npmu_region_close(&single);
	npmu_region_close(&mirror);
	npmu_region_delete(conn, "bench.ck.single");
	npmu_region_delete(conn, "bench.ck.mirror");
	for (int i = 0; i < 6; i++) {
		char rn[32];
		snprintf(rn, sizeof(rn), "bench.ck.set.s%d", i);
		npmu_region_delete(conn, rn);
	}
	npmu_conn_delete(&conn);
	free(data);
	free(back);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--raw-target"))
		return raw_target(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "--primary"))
		return primary_proc(argv[2], argv[3], strtoull(argv[4], NULL, 10));
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: npmu_bench RAW_HOST:PORT RAW_PID NPMU_HOST:PORT [PMMD_HOST:PORT]"
				"  (run by bench/run.sh)\n");
		return 2;
	}
	struct target raw = {.busy_pid = atoi(argv[2])}, np = {0};
	raw_ref = &raw;
	char host[64], port[16];
	npmu__split_hostport(argv[1], host, sizeof(host), port, sizeof(port), 0);
	if (npmu__fabric_open("tcp", host, port, false, &raw.fab) != 0 ||
	    fi_av_insert(raw.fab->av, raw.fab->info->dest_addr, 1, &raw.peer, 0, NULL) != 1)
		return 1;
	struct npmu_conn_cfg cfg = {.server = argv[3]};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc == 0)
		rc = npmu_region_create(conn, "bench", RAW_SIZE, NULL);
	if (rc == 0)
		rc = npmu_region_open(conn, "bench", NPMU_ACCESS_READ_WRITE, &np.region);
	if (rc != 0) {
		fprintf(stderr, "npmu_bench: %s\n", npmu_strerror(rc));
		return 1;
	}
	printf("%-28s %12s %12s %8s   %s\n", "measure", "raw fi_*", "npmu", "ratio", "target");
	side_by_side(&raw, &np, "raw", "npmu", 10000, true);
	printf("(latency: 10000 operations each after 100 warm-up, p50 and p99; bandwidth: median\n"
	       " of 51 (1 MiB) or 15 (64 MiB) transfers, raw and npmu in alternating blocks, spread =\n"
	       " lowest-highest; provider tcp on loopback; the raw target busy-polls and is paused\n"
	       " while npmu runs; npmud polls for --spin-us after activity, then sleeps)\n");
	kill(raw.busy_pid, SIGSTOP); /* the rest measures npmu alone */
	npmu_region_close(&np.region);
	npmu_region_delete(conn, "bench");
	if (argc == 5) {
		mirrored(argv[4]);
		striped(argv[4], 256u << 20);
	}

	printf("\n%-34s %10s %10s %14s %8s   %s\n", "checkpoint commit (append update)", "p50 us",
	       "p99 us", "write+fdatasync", "ratio", "target");
	const size_t csz[] = {64, 4096, 1u << 20};
	const int cn[] = {5000, 3000, 100};
	char name[32];
	for (int i = 0; i < 3; i++) {
		double f50, f99;
		file_latency(getenv("NPMU_BENCH_DIR") ? getenv("NPMU_BENCH_DIR") : "/tmp", csz[i],
			     cn[i] / 10, &f50, &f99);
		for (int d = 0; d < 2; d++) {
			double c50, c99;
			snprintf(name, sizeof(name), "commit.%d.%d", i, d);
			commit_latency(conn, name, csz[i], d ? NPMU_PERSISTENT : NPMU_PLACED, cn[i], &c50, &c99);
			printf("%7zu B %-24s %10.1f %10.1f %14.1f %7.1fx   %s\n", csz[i],
			       d ? "persistent (msync)" : "placed (in the unit)", c50, c99, f50, f50 / c50,
			       d ? "" : ">= 10x faster");
		}
	}
	printf("(%d, %d and %d commits per row; the file baseline is the same bytes written with\n"
	       " pwrite + fdatasync to a file on the same disk, %d times)\n", cn[0], cn[1], cn[2],
	       cn[0] / 10);
	printf("\n%-34s %10s\n", "takeover after SIGKILL", "ms");
	const uint64_t tsz[] = {64u << 20, 1u << 30};
	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[sl > 0 ? sl : 0] = '\0';
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "takeover.%d", i);
		printf("%4llu MiB of state, backup cold       %10.0f\n",
		       (unsigned long long)(tsz[i] >> 20),
		       takeover_ms(conn, self, argv[3], name, tsz[i]));
	}
	printf("(from SIGKILL of the primary to the backup holding the lease and the whole state: the\n"
	       " 300 ms lease lapsing, fencing, and reading the state it had not read)\n");
	kill(raw.busy_pid, SIGCONT);
	npmu_conn_delete(&conn);
	npmu__fabric_close(&raw.fab);
	return 0;
}
