/* loader.c -- load for the fault schedule: a primary committing whole large states to a stream of
 * its own, as fast as it can, for a while, beside a backup that follows it and would take over
 * at once if its lease lapsed. Neither may be fenced or take over while both live.
 *
 *   loader STREAM SIZE SECONDS
 *
 * Creates STREAM (overwrite mode, mirrored when $LOADER_MIRROR is set) if needed. Prints
 *   loader STREAM: N commits of SIZE bytes in S s, F fenced, T taken over
 * and exits 0 only when F and T are 0 and N > 0.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "npmu.h"
#include "size.h"

static atomic_bool stop;
static atomic_int taken;
static const char *name;

/* now_s -- monotonic seconds. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* backup_main -- follow every 50 ms and try to take over (it must never succeed). */
static void *backup_main(void *arg)
{
	(void)arg;
	struct npmu_conn *c;
	struct npmu_ckpt *b;
	if (npmu_conn_new(NULL, &c) != 0)
		return NULL;
	if (npmu_ckpt_open_backup(c, name, NULL, &b) == 0) {
		while (!atomic_load(&stop)) {
			(void)npmu_ckpt_follow(b);
			if (npmu_ckpt_takeover(b, 0) == 0) {
				atomic_fetch_add(&taken, 1);
				break;
			}
			usleep(50 * 1000);
		}
		npmu_ckpt_close(&b);
	}
	npmu_conn_delete(&c);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: loader STREAM SIZE SECONDS\n");
		return 2;
	}
	name = argv[1];
	uint64_t size;
	if (npmu__size_parse(argv[2], &size) != 0 || size == 0)
		return 2;
	double seconds = atof(argv[3]);
	struct npmu_conn *c;
	int rc = npmu_conn_new(NULL, &c);
	if (rc != 0) {
		fprintf(stderr, "loader: connect: %s\n", npmu_strerror(rc));
		return 1;
	}
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_OVERWRITE, .state_size = size,
				    .mirror = getenv("LOADER_MIRROR") != NULL};
	rc = npmu_ckpt_create(c, name, &cfg);
	if (rc != 0 && rc != NPMU_E_EXIST) {
		fprintf(stderr, "loader: create %s: %s\n", name, npmu_strerror(rc));
		return 1;
	}
	struct npmu_ckpt *p;
	if ((rc = npmu_ckpt_open_primary(c, name, NULL, &p)) != 0) {
		fprintf(stderr, "loader: open %s: %s\n", name, npmu_strerror(rc));
		return 1;
	}
	pthread_t bt;
	pthread_create(&bt, NULL, backup_main, NULL);
	uint8_t *st = malloc(size);
	unsigned long commits = 0, fenced = 0;
	double start = now_s();
	while (now_s() - start < seconds) {
		memset(st, (int)commits, size);
		rc = npmu_ckpt_commit(p, st, size);
		if (rc == NPMU_E_FENCED) {
			fenced++;
			break;
		}
		if (rc != 0) {
			fprintf(stderr, "loader %s: commit: %s\n", name, npmu_strerror(rc));
			break;
		}
		commits++;
	}
	atomic_store(&stop, true);
	pthread_join(bt, NULL);
	printf("loader %s: %lu commits of %s bytes in %.1f s, %lu fenced, %d taken over\n", name,
	       commits, argv[2], now_s() - start, fenced, atomic_load(&taken));
	npmu_ckpt_close(&p);
	npmu_region_delete(c, name);
	char cname[NPMU_NAME_MAX + 8];
	snprintf(cname, sizeof(cname), "%s.cursor", name);
	npmu_region_delete(c, cname);
	npmu_conn_delete(&c);
	free(st);
	return commits > 0 && fenced == 0 && atomic_load(&taken) == 0 && rc == 0 ? 0 : 1;
}
