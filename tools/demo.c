/* demo.c -- npmu-demo: a primary key-value store checkpointing every update into a stream, and a
 * backup that follows it, takes over when the primary is killed, and finishes the work. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "npmu.h"

/*
 * The work: a store of KEYS entries {u64 last_step, u64 value}. Step s picks key h(s) and sets
 * value = mix(value, s), last_step = s: one 16-byte update, committed as one stream record. The
 * final store depends on every step being applied exactly once and in order, so comparing it
 * with a run without failure checks the takeover. The step reached is the largest last_step.
 */
#define KEYS 65536
#define ENTRY 16

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	return x ^ (x >> 33);
}

/* step -- apply step s to the store; returns the key it changed. */
static uint32_t step(uint64_t *store, uint64_t s)
{
	uint32_t k = (uint32_t)(mix64(s) % KEYS);
	store[2 * k] = s;
	store[2 * k + 1] = mix64(store[2 * k + 1] ^ s);
	return k;
}

/* reached -- the last step applied to a store. */
static uint64_t reached(const uint64_t *store)
{
	uint64_t m = 0;
	for (uint32_t k = 0; k < KEYS; k++)
		if (store[2 * k] > m)
			m = store[2 * k];
	return m;
}

/* digest -- a checksum of the whole store, to compare runs. */
static uint64_t digest(const uint64_t *store)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	for (uint32_t i = 0; i < 2 * KEYS; i++)
		h = mix64(h ^ store[i]);
	return h;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "npmu-demo: %s: %s\n", what, npmu_strerror(rc));
	exit(1);
}

/* transient -- an error that passes: a unit or the manager away for a while. */
static bool transient(int rc)
{
	return rc == NPMU_E_UNREACHABLE || rc == NPMU_E_TIMEDOUT || rc == NPMU_E_MANAGER ||
	       rc == NPMU_E_FABRIC;
}

/* waiting -- say once that we wait out a transient error (what says which). */
static void waiting(const char *what, int rc, bool *told)
{
	if (!*told)
		printf("backup: %s: %s; trying again\n", what, npmu_strerror(rc));
	*told = true;
}

/* connect_or_die -- connect to the manager, waiting (up to a minute) while it does not answer:
 * a process started while its manager restarts waits for it. */
static struct npmu_conn *connect_or_die(void)
{
	struct npmu_conn *c;
	int rc;
	bool told = false;
	double give_up = now_s() + 60;
	while ((rc = npmu_conn_new(NULL, &c)) != 0 && transient(rc) && now_s() < give_up) {
		if (!told)
			printf("npmu-demo: connect: %s; trying again\n", npmu_strerror(rc));
		told = true;
		usleep(200 * 1000);
	}
	if (rc != 0)
		die("connect", rc);
	return c;
}

/* primary -- run steps, committing each, appending each committed step to ack_path. */
static int primary(const char *stream, uint64_t steps, const char *ack_path)
{
	struct npmu_conn *c = connect_or_die();
	struct npmu_ckpt *ck;
	struct npmu_ckpt_opts opts = {.durability = NPMU_PLACED};
	int rc;
	bool told = false;
	double give_up = now_s() + 60; /* a primary restarted waits out its predecessor's lease */
	while ((rc = npmu_ckpt_open_primary(c, stream, &opts, &ck)) != 0 &&
	       (rc == NPMU_E_LEASE || transient(rc)) && now_s() < give_up) {
		if (!told)
			printf("primary: %s; waiting\n", npmu_strerror(rc));
		told = true;
		usleep(20 * 1000);
	}
	if (rc != 0)
		die("open primary", rc);
	uint64_t *store = calloc(KEYS, ENTRY), len, seq;
	const void *st = npmu_ckpt_state(ck, &len, &seq);
	memcpy(store, st, len);
	int ack = open(ack_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	static double lat[1 << 16];
	size_t nlat = 0;
	double last_report = now_s();
	for (uint64_t s = reached(store) + 1; s <= steps; s++) {
		uint32_t k = step(store, s);
		double t0 = now_s();
		if ((rc = npmu_ckpt_update(ck, (uint64_t)k * ENTRY, &store[2 * k], ENTRY)) != 0)
			die("commit", rc);
		lat[nlat++ % (1 << 16)] = now_s() - t0;
		if (write(ack, &s, sizeof(s)) != sizeof(s))
			die("ack log", NPMU_E_IO);
		if (now_s() - last_report > 0.25) {
			size_t n = nlat < (1 << 16) ? nlat : (1 << 16);
			qsort(lat, n, sizeof(double), cmp_double);
			printf("primary: step %llu, commit latency p50 %.1f us, p99 %.1f us\n",
			       (unsigned long long)s, lat[n / 2] * 1e6, lat[n * 99 / 100] * 1e6);
			fflush(stdout);
			nlat = 0;
			last_report = now_s();
		}
	}
	printf("primary: finished %llu steps, digest %016llx\n", (unsigned long long)steps,
	       (unsigned long long)digest(store));
	free(store);
	close(ack);
	npmu_ckpt_close(&ck);
	npmu_conn_delete(&c);
	return 0;
}

/* last_ack -- the last step the primary was told was committed. */
static uint64_t last_ack(const char *path)
{
	int fd = open(path, O_RDONLY);
	uint64_t v = 0, last = 0;
	while (fd >= 0 && read(fd, &v, sizeof(v)) == sizeof(v))
		last = v;
	if (fd >= 0)
		close(fd);
	return last;
}

/* backup -- follow every period_ms; on takeover, finish the steps (or, with more, that many
 * steps past the takeover) and compare with a clean run. */
static int backup(const char *stream, uint64_t steps, bool more, int period_ms,
		  const char *ack_path, const char *kill_path)
{
	struct npmu_conn *c = connect_or_die();
	struct npmu_ckpt *ck;
	int rc;
	bool told = false; /* a unit or the manager away is waited out, said once */
	while ((rc = npmu_ckpt_open_backup(c, stream, NULL, &ck)) != 0) {
		if (!transient(rc))
			die("open backup", rc);
		waiting("open", rc, &told);
		usleep((useconds_t)period_ms * 1000);
	}
	uint64_t followed = 0;
	for (;;) {
		if ((rc = npmu_ckpt_follow(ck)) < 0 && !transient(rc))
			die("follow", rc);
		if (rc < 0)
			waiting("follow", rc, &told);
		else
			followed += (uint64_t)rc;
		rc = npmu_ckpt_takeover(ck, 0); /* succeeds only once the primary's lease lapsed */
		if (rc == 0)
			break;
		if (rc != NPMU_E_LEASE && !transient(rc))
			die("takeover", rc);
		if (rc != NPMU_E_LEASE)
			waiting("takeover", rc, &told);
		usleep((useconds_t)period_ms * 1000);
	}
	double taken = now_s();
	uint64_t len, seq;
	uint64_t *store = calloc(KEYS, ENTRY);
	const void *st = npmu_ckpt_state(ck, &len, &seq);
	memcpy(store, st, len);
	uint64_t at = reached(store), acked = last_ack(ack_path);
	FILE *kf = fopen(kill_path, "r");
	double killed = 0;
	if (kf && fscanf(kf, "%lf", &killed) != 1)
		killed = 0;
	if (kf)
		fclose(kf);
	printf("backup: followed %llu updates while the primary ran\n", (unsigned long long)followed);
	printf("backup: took over at step %llu; the primary had been told %llu were committed: "
	       "%llu committed update(s) lost\n", (unsigned long long)at, (unsigned long long)acked,
	       (unsigned long long)(acked > at ? acked - at : 0));
	if (killed > 0)
		printf("backup: takeover %.0f ms after the primary was killed (lease lapse, fencing, "
		       "catch-up)\n", (taken - killed) * 1e3);
	if (more)
		steps += at;
	for (uint64_t s = at + 1; s <= steps; s++) {
		uint32_t k = step(store, s);
		if ((rc = npmu_ckpt_update(ck, (uint64_t)k * ENTRY, &store[2 * k], ENTRY)) != 0)
			die("commit", rc);
	}
	uint64_t *ref = calloc(KEYS, ENTRY);
	for (uint64_t s = 1; s <= steps; s++)
		step(ref, s);
	uint64_t got = digest(store), want = digest(ref);
	printf("backup: finished %llu steps: digest %016llx; a run without failure: %016llx: %s\n",
	       (unsigned long long)steps, (unsigned long long)got, (unsigned long long)want,
	       got == want && acked <= at ? "EQUAL" : "DIFFERENT");
	free(store);
	free(ref);
	npmu_ckpt_close(&ck);
	npmu_conn_delete(&c);
	return got == want && acked <= at ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines reach logs as they happen */
	if (argc >= 3 && !strcmp(argv[1], "create")) {
		struct npmu_conn *c = connect_or_die();
		struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = KEYS * ENTRY,
					    .mirror = argc == 4 && !strcmp(argv[3], "--mirror")};
		int rc = npmu_ckpt_create(c, argv[2], &cfg);
		if (rc != 0)
			die("create", rc);
		npmu_conn_delete(&c);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "primary"))
		return primary(argv[2], strtoull(argv[3], NULL, 10), argv[4]);
	if (argc == 7 && !strcmp(argv[1], "backup"))
		return backup(argv[2], strtoull(argv[3] + (argv[3][0] == '+'), NULL, 10),
			      argv[3][0] == '+', atoi(argv[4]), argv[5], argv[6]);
	fprintf(stderr, "Usage: npmu-demo create STREAM [--mirror]\n"
			"       npmu-demo primary STREAM STEPS ACK_FILE\n"
			"       npmu-demo backup STREAM STEPS|+STEPS PERIOD_MS ACK_FILE KILL_TIME_FILE\n"
			"         (+STEPS: that many steps past the takeover)\n"
			"(run by scripts/demo.sh; the server is $NPMU_SERVER)\n");
	return 2;
}
