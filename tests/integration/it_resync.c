/* it_resync.c -- resynchronising a mirrored region's copy while another thread keeps writing
 * through the same handle (pmmd and two npmud units on loopback): writes go on degraded while a
 * unit is dead; once it is back, the resync lets the writes in between its steps (a write waits
 * for one step at most, never for the whole resync); the writer's own resync thread stands aside
 * for the caller's; the copies end byte-identical. Nothing here is bounded by time (beyond
 * hang guards), so that it also runs under ThreadSanitizer (`make test-tsan`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define REGION_SIZE (32u << 20) /* 32 steps of resync (its step is 1 MiB) */
#define CHUNK (64u << 10)       /* the writer's write */
#define NCHUNKS (REGION_SIZE / CHUNK)
#define HANG_GUARD_S 240        /* only a test that hangs waits this long */

static struct unit_proc units[2], pm;

/* now_s -- monotonic seconds. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(void **state)
{
	(void)state;
	return mirror_cluster_start(units, &pm);
}

static int teardown(void **state)
{
	(void)state;
	unit_cleanup(&pm);
	unit_cleanup(&units[0]);
	unit_cleanup(&units[1]);
	return 0;
}

/* The writer thread's view. */
struct writer {
	struct npmu_region *r;
	atomic_bool stop;
	atomic_ulong writes;          /* completed writes */
	atomic_ulong calls;           /* completed calls that take the region's lock (writes, looks) */
	atomic_bool in_call;          /* in such a call (waiting for the lock, or holding it) */
	atomic_ulong while_resyncing; /* writes that found copy 1 being resynced */
	atomic_int failed;            /* the first write error, 0 if none */
	uint32_t pass_of[NCHUNKS];    /* the pass whose pattern each chunk holds */
};

/* writer_main -- rewrite the region chunk by chunk, pass after pass, until told to stop. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t *buf = malloc(CHUNK);
	for (uint32_t pass = 2; buf && !atomic_load(&w->stop) && !atomic_load(&w->failed); pass++)
		for (uint32_t i = 0; i < NCHUNKS && !atomic_load(&w->stop); i++) {
			fill_pattern(buf, CHUNK, pass, (uint64_t)i * CHUNK);
			atomic_store(&w->in_call, true);
			int rc = npmu_region_write(w->r, (uint64_t)i * CHUNK, buf, CHUNK);
			atomic_store(&w->in_call, false);
			if (rc != 0) {
				atomic_store(&w->failed, rc);
				break;
			}
			w->pass_of[i] = pass;
			atomic_fetch_add(&w->writes, 1);
			atomic_fetch_add(&w->calls, 1);
			struct npmu_mirror_info mi;
			atomic_store(&w->in_call, true);
			int mrc = npmu_region_mirror(w->r, &mi);
			atomic_store(&w->in_call, false);
			if (mrc == 0 && mi.copy[1].state == NPMU_COPY_RESYNCING)
				atomic_fetch_add(&w->while_resyncing, 1);
			atomic_fetch_add(&w->calls, 1);
		}
	free(buf);
	return NULL;
}

/* Progress of the caller's resync: after each step, whether the writer waited for the lock
 * then, and whether it got in before the next step. */
struct steps {
	struct writer *w;
	unsigned long last_calls;
	bool was_waiting;
	int steps;
	int waited;  /* steps at whose end the writer was waiting for the lock */
	int got_in;  /* of those, how many it got in after, before the next step */
};

/* on_step -- progress callback, run with the region's lock held: a writer in a call now is
 * waiting for it. */
static void on_step(uint64_t done, uint64_t total, void *arg)
{
	(void)done;
	(void)total;
	struct steps *s = arg;
	unsigned long n = atomic_load(&s->w->calls);
	if (s->was_waiting) {
		s->waited++;
		s->got_in += n != s->last_calls;
	}
	s->last_calls = n;
	s->was_waiting = atomic_load(&s->w->in_call);
	s->steps++;
}

/* copy_state -- copy c's state as the writer's handle knows it. */
static int copy_state(struct npmu_region *r, int c)
{
	struct npmu_mirror_info mi;
	assert_int_equal(npmu_region_mirror(r, &mi), 0);
	return (int)mi.copy[c].state;
}

/* check_copy -- read the whole region from one copy and compare it with what was written. */
static void check_copy(struct npmu_conn *conn, enum npmu_copy which, const struct writer *w)
{
	struct npmu_region *r;
	assert_int_equal(npmu_region_open_copy(conn, "resync", NPMU_ACCESS_READ, which, &r), 0);
	uint8_t *got = malloc(CHUNK);
	assert_non_null(got);
	int bad = 0;
	for (uint32_t i = 0; i < NCHUNKS; i++) {
		assert_int_equal(npmu_region_read(r, (uint64_t)i * CHUNK, got, CHUNK), 0);
		bad += !check_pattern(got, CHUNK, w->pass_of[i], (uint64_t)i * CHUNK);
	}
	struct npmu_mirror_info mi;
	assert_int_equal(npmu_region_mirror(r, &mi), 0);
	assert_int_equal(mi.reads_from, which == NPMU_COPY_PRIMARY ? 0 : 1);
	if (bad)
		fail_msg("copy %d: %d of %u chunks differ from what was written", (int)which - 1,
			 bad, NCHUNKS);
	free(got);
	npmu_region_close(&r);
}

/* resync__writes_go_on_between_steps -- lose copy 1's unit, write on, bring it back, resync
 * it while the writer writes; then both copies hold exactly what was written. */
static void resync__writes_go_on_between_steps(void **state)
{
	(void)state;
	struct npmu_conn_cfg cfg = {.server = pm.addr, .timeout_ms = 10000};
	struct npmu_conn *conn;
	assert_int_equal(npmu_conn_new(&cfg, &conn), 0);
	struct npmu_region_opts opts = {.mirror = 1};
	assert_int_equal(npmu_region_create_ex(conn, "resync", REGION_SIZE, &opts, NULL), 0);
	static struct writer w;
	assert_int_equal(npmu_region_open(conn, "resync", NPMU_ACCESS_READ_WRITE, &w.r), 0);
	uint8_t *buf = malloc(CHUNK);
	assert_non_null(buf);
	for (uint32_t i = 0; i < NCHUNKS; i++) { /* pass 1: every chunk */
		fill_pattern(buf, CHUNK, 1, (uint64_t)i * CHUNK);
		assert_int_equal(npmu_region_write(w.r, (uint64_t)i * CHUNK, buf, CHUNK), 0);
		w.pass_of[i] = 1;
	}
	free(buf);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);

	/* The writer's own resync thread may win the race to the unit that came back; then the
	 * caller's resync has nothing to do, and the round is played again. */
	struct steps s = {.w = &w};
	for (int round = 0; round < 4 && s.steps < 8; round++) {
		memset(&s, 0, sizeof(s));
		s.w = &w;
		assert_int_equal(unit_stop(&units[1], true), -9); /* SIGKILL: copy 1's unit is gone */
		double t0 = now_s();
		unsigned long before = atomic_load(&w.writes);
		while ((copy_state(w.r, 1) != NPMU_COPY_STALE || atomic_load(&w.writes) < before + 8) &&
		       now_s() - t0 < HANG_GUARD_S && !atomic_load(&w.failed))
			usleep(10000);
		assert_int_equal(copy_state(w.r, 1), NPMU_COPY_STALE); /* degraded, writes going on */
		assert_int_equal(atomic_load(&w.failed), 0);
		assert_int_equal(unit_restart(&units[1]), 0);
		int rc;
		t0 = now_s();
		while ((rc = npmu_region_resync(w.r, on_step, &s)) == NPMU_E_UNREACHABLE &&
		       now_s() - t0 < HANG_GUARD_S)
			usleep(50000); /* pmmd may not have seen the unit back yet */
		assert_int_equal(rc, 0);
		assert_int_equal(copy_state(w.r, 0), NPMU_COPY_IN_SYNC);
		assert_int_equal(copy_state(w.r, 1), NPMU_COPY_IN_SYNC);
		print_message("round %d: %d resync steps by the caller; after %d the writer was "
			      "waiting, and got in after %d of them\n",
			      round, s.steps, s.waited, s.got_in);
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&w.failed), 0);
	print_message("%lu writes, %lu of them while copy 1 was resyncing\n",
		      atomic_load(&w.writes), atomic_load(&w.while_resyncing));
	assert_true(s.steps >= 8);
	/* a writer waiting for the lock at the end of a step gets in before the next step (before
	 * the fair hand-over, the resync took the lock straight back, step after step: a write
	 * could wait for the whole resync). The hand-over waits for it a bounded time, which a
	 * loaded machine may exceed now and then. */
	assert_true(s.waited >= 4);
	if (s.got_in * 4 < s.waited * 3)
		fail_msg("the writer got in after only %d of the %d steps it waited at", s.got_in,
			 s.waited);
	assert_int_equal(npmu_region_persist(w.r, 0, REGION_SIZE, NPMU_PERSISTENT), 0);
	check_copy(conn, NPMU_COPY_PRIMARY, &w);
	check_copy(conn, NPMU_COPY_MIRROR, &w);
	assert_int_equal(npmu_region_close(&w.r), 0);
	assert_int_equal(npmu_region_delete(conn, "resync"), 0);
	npmu_conn_delete(&conn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resync__writes_go_on_between_steps),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
