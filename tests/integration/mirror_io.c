/* mirror_io.c -- a reader and a writer of a mirrored region for the multi-host mirror test
 * (tests/integration/mirror.sh): they keep doing I/O while the test cuts and restores units,
 * check every byte, and report fail-over times and copy states. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "npmu.h"

#define CHUNK (1u << 20)

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fill -- the content of chunk i in pass g: a pattern no other (g, i) produces. */
static void fill(uint8_t *buf, uint64_t g, uint64_t i)
{
	uint64_t x = g * 0x9e3779b97f4a7c15ull ^ (i + 1) * 0xc2b2ae3d27d4eb4full;
	for (size_t k = 0; k < CHUNK; k += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + k, &x, 8);
	}
}

/* die -- report a failed call and exit 1. */
static void die(const char *what, int rc)
{
	fprintf(stderr, "mirror_io: %s: %s\n", what, npmu_strerror(rc));
	exit(1);
}

/*
 * reader -- until SIGTERM: read the region chunk by chunk from the primary copy (falling back
 * as the library does) and check each chunk against FILE. Prints the reads, the copies that
 * served them, and the longest read.
 */
static int reader(struct npmu_conn *c, const char *name, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return perror(path), 1;
	struct npmu_region *r;
	int rc = npmu_region_open_copy(c, name, NPMU_ACCESS_READ, NPMU_COPY_PRIMARY, &r);
	if (rc != 0)
		die("open", rc);
	uint64_t size = npmu_region_size(r), chunks = size / CHUNK;
	uint8_t *want = malloc(size), *got = malloc(CHUNK);
	if (!want || !got || fread(want, 1, size, f) != size)
		return fprintf(stderr, "mirror_io: %s: short\n", path), 1;
	fclose(f);
	uint64_t reads = 0, by[2] = {0, 0}, bad = 0;
	double longest = 0;
	for (uint64_t i = 0; !stop; i = (i + 1) % chunks) {
		double t = now_s();
		rc = npmu_region_read(r, i * CHUNK, got, CHUNK);
		double el = now_s() - t;
		if (rc != 0)
			die("read", rc);
		longest = el > longest ? el : longest;
		reads++;
		if (memcmp(got, want + i * CHUNK, CHUNK) != 0)
			bad++;
		struct npmu_mirror_info mi;
		if (npmu_region_mirror(r, &mi) == 0 && mi.reads_from >= 0)
			by[mi.reads_from]++;
	}
	printf("reads %llu wrong %llu from-primary %llu from-mirror %llu longest %.3f s\n",
	       (unsigned long long)reads, (unsigned long long)bad, (unsigned long long)by[0],
	       (unsigned long long)by[1], longest);
	npmu_region_close(&r);
	free(want);
	free(got);
	return bad ? 1 : 0;
}

/*
 * writer -- until SIGTERM: rewrite the region chunk by chunk, pass after pass (each chunk's
 * content names its pass), noting the copy states it sees. On SIGTERM it finishes the pass,
 * waits (bounded) for every copy to be in sync, and writes the region's expected image to OUT.
 */
static int writer(struct npmu_conn *c, const char *name, const char *out)
{
	struct npmu_region *r;
	int rc = npmu_region_open(c, name, NPMU_ACCESS_READ_WRITE, &r);
	if (rc != 0)
		die("open", rc);
	uint64_t size = npmu_region_size(r), chunks = size / CHUNK;
	uint64_t *pass_of = calloc(chunks, sizeof(*pass_of));
	uint8_t *buf = malloc(CHUNK);
	uint64_t writes = 0, degraded_writes = 0, resync_writes = 0;
	double longest = 0;
	int seen_stale = 0, seen_resync = 0;
	for (uint64_t g = 1; !stop; g++) {
		for (uint64_t i = 0; i < chunks; i++) {
			fill(buf, g, i);
			double t = now_s();
			if ((rc = npmu_region_write(r, i * CHUNK, buf, CHUNK)) != 0)
				die("write", rc);
			double el = now_s() - t;
			longest = el > longest ? el : longest;
			pass_of[i] = g;
			writes++;
			struct npmu_mirror_info mi;
			npmu_region_mirror(r, &mi);
			for (int k = 0; k < 2; k++) {
				degraded_writes += mi.copy[k].state == NPMU_COPY_STALE;
				resync_writes += mi.copy[k].state == NPMU_COPY_RESYNCING;
				seen_stale |= mi.copy[k].state == NPMU_COPY_STALE;
				seen_resync |= mi.copy[k].state == NPMU_COPY_RESYNCING;
			}
			usleep(2000);
		}
	}
	if ((rc = npmu_region_persist(r, 0, size, NPMU_PERSISTENT)) != 0)
		die("persist", rc);
	struct npmu_mirror_info mi;
	double t = now_s();
	do {
		npmu_region_mirror(r, &mi);
		if (mi.copy[0].state == NPMU_COPY_IN_SYNC && mi.copy[1].state == NPMU_COPY_IN_SYNC)
			break;
		usleep(50000);
	} while (now_s() - t < 20);
	FILE *f = fopen(out, "wb");
	for (uint64_t i = 0; f && i < chunks; i++) {
		fill(buf, pass_of[i], i);
		fwrite(buf, 1, CHUNK, f);
	}
	if (!f || fclose(f) != 0)
		return perror(out), 1;
	printf("writes %llu degraded %llu while-resyncing %llu longest %.3f s seen-stale %d "
	       "seen-resync %d final %s %s\n",
	       (unsigned long long)writes, (unsigned long long)degraded_writes,
	       (unsigned long long)resync_writes, longest, seen_stale, seen_resync,
	       mi.copy[0].state == NPMU_COPY_IN_SYNC ? "in-sync" : "NOT-in-sync",
	       mi.copy[1].state == NPMU_COPY_IN_SYNC ? "in-sync" : "NOT-in-sync");
	npmu_region_close(&r);
	free(buf);
	free(pass_of);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "reader") != 0 && strcmp(argv[1], "writer") != 0)) {
		fprintf(stderr, "Usage: mirror_io reader REGION EXPECTED_FILE\n"
				"       mirror_io writer REGION IMAGE_OUT\n"
				"(until SIGTERM; the manager is $NPMU_SERVER)\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	struct npmu_conn *c;
	int rc = npmu_conn_new(NULL, &c);
	if (rc != 0)
		die("connect", rc);
	rc = argv[1][0] == 'r' ? reader(c, argv[2], argv[3]) : writer(c, argv[2], argv[3]);
	npmu_conn_delete(&c);
	return rc;
}
