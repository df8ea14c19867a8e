/* it_crash.c -- kill -9 of npmud at random moments during create, grow, write and delete: on
 * restart the pool is consistent and everything a client was told succeeded is there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ROUNDS 12
#define MAX_REGIONS 256

/* What the client was told: per region name index. */
struct truth {
	bool created;      /* create acknowledged */
	bool deleted;      /* delete acknowledged */
	bool delete_sent;  /* delete issued (maybe done, maybe not) */
	uint64_t size;     /* acknowledged size */
	uint64_t size_sent; /* size last asked for (create or grow), maybe not acknowledged */
	uint64_t written;  /* bytes [0, written) acknowledged persistent with pattern seed = index */
};

static struct truth truth[MAX_REGIONS];

/* operations the unit acknowledged so far (a round in which it acknowledged none proved nothing) */
static atomic_int acked;

struct killer {
	pid_t pid;
	int delay_ms;
	int acked_before;
};

/* killer_main -- SIGKILL the unit a random delay after it acknowledged its first operation of
 * the round (so the kill falls among its work, never before it). */
static void *killer_main(void *arg)
{
	struct killer *k = arg;
	for (int i = 0; i < 5000 && atomic_load(&acked) == k->acked_before; i++)
		usleep(1000);
	struct timespec ts = {k->delay_ms / 1000, (k->delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* workload -- create, write, grow and delete regions until a call fails (the unit died). */
static void workload(struct npmu_conn *conn, int *next)
{
	static uint8_t buf[256 << 10];
	char name[32];
	for (;;) {
		int i = (*next)++;
		if (i >= MAX_REGIONS)
			return;
		snprintf(name, sizeof(name), "r%d", i);
		uint64_t size = 4096 * (1 + (uint64_t)(rand() % 32)) + (uint64_t)(rand() % 4096);
		truth[i].size_sent = size;
		if (npmu_region_create(conn, name, size, NULL) != 0)
			return;
		atomic_fetch_add(&acked, 1);
		truth[i].created = true;
		truth[i].size = size;
		struct npmu_region *r;
		if (npmu_region_open(conn, name, NPMU_ACCESS_READ_WRITE, &r) != 0)
			return;
		fill_pattern(buf, size, (uint64_t)i, 0);
		bool ok = npmu_region_write(r, 0, buf, size) == 0 &&
			  npmu_region_persist(r, 0, size, NPMU_PERSISTENT) == 0;
		if (ok) {
			truth[i].written = size;
			atomic_fetch_add(&acked, 1);
		}
		if (npmu_region_close(&r) != 0 || !ok) /* the handle is freed either way */
			return;
		if (i % 3 == 2 && truth[i - 1].created && !truth[i - 1].delete_sent) {
			snprintf(name, sizeof(name), "r%d", i - 1);
			uint64_t grown = truth[i - 1].size + 4096 * (uint64_t)(1 + rand() % 16);
			truth[i - 1].size_sent = grown;
			if (npmu_region_resize(conn, name, grown, NULL) != 0)
				return;
			truth[i - 1].size = grown;
		}
		if (i % 4 == 3 && truth[i - 2].created) {
			snprintf(name, sizeof(name), "r%d", i - 2);
			truth[i - 2].delete_sent = true;
			if (npmu_region_delete(conn, name) != 0)
				return;
			truth[i - 2].deleted = true;
		}
	}
}

/* verify -- every acknowledged change is in the restarted unit, and nothing else is. */
static void verify(struct npmu_conn *conn)
{
	static uint8_t buf[512 << 10];
	struct npmu_region_info *list;
	size_t n;
	assert_int_equal(npmu_region_list(conn, &list, &n), 0);
	bool seen[MAX_REGIONS] = {false};
	for (size_t k = 0; k < n; k++) {
		int i = atoi(list[k].name + 1);
		assert_true(i >= 0 && i < MAX_REGIONS);
		seen[i] = true;
		assert_false(truth[i].deleted);
		/* the acknowledged size, or the one asked for last if its answer was lost */
		assert_true(list[k].size == truth[i].size || list[k].size == truth[i].size_sent);
		struct npmu_region *r;
		assert_int_equal(npmu_region_open(conn, list[k].name, NPMU_ACCESS_READ, &r), 0);
		assert_int_equal(npmu_region_read(r, 0, buf, list[k].size), 0);
		assert_true(check_pattern(buf, truth[i].written, (uint64_t)i, 0));
		assert_int_equal(npmu_region_close(&r), 0);
	}
	for (int i = 0; i < MAX_REGIONS; i++)
		if (truth[i].created && !truth[i].delete_sent)
			assert_true(seen[i]);
	free(list);
}

/* crash__random_kills: ROUNDS of workload, kill -9 at a random moment, restart, verify. */
static void crash__random_kills(void **state)
{
	(void)state;
	srand((unsigned)time(NULL));
	unsigned seed = (unsigned)rand();
	printf("# seed %u\n", seed);
	srand(seed);
	struct unit_proc u;
	assert_int_equal(unit_start(&u, "64M"), 0);
	int next = 0, effective = 0, rounds = 0;
	for (int round = 0; round < ROUNDS && next < MAX_REGIONS; round++) {
		struct npmu_conn_cfg cfg = {.server = u.addr, .timeout_ms = 2000};
		struct npmu_conn *conn;
		assert_int_equal(npmu_conn_new(&cfg, &conn), 0);
		int before = atomic_load(&acked);
		struct killer k = {u.pid, rand() % 60, before};
		pthread_t t;
		pthread_create(&t, NULL, killer_main, &k);
		workload(conn, &next);
		pthread_join(t, NULL);
		npmu_conn_delete(&conn);
		assert_int_equal(unit_stop(&u, true), -9); /* killed by us, not ended by itself */
		rounds++;
		effective += atomic_load(&acked) > before;
		assert_int_equal(unit_restart(&u), 0);
		assert_int_equal(npmu_conn_new(&cfg, &conn), 0);
		verify(conn);
		npmu_conn_delete(&conn);
	}
	printf("# %d regions touched over %d kills, %d effective (the unit had acknowledged work in "
	       "the round)\n", next, rounds, effective);
	assert_int_equal(effective, rounds);
	assert_int_equal(unit_log_count(&u, "cannot"), 0);
	unit_stop(&u, false);
	unit_cleanup(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crash__random_kills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
