/* it_flush.c -- a unit's group flush runs beside its service loop (flush.h F1): while one client
 * makes 256 MiB durable and another makes 4 KiB durable again and again, a third client's placed
 * writes and the manager's requests go on at once instead of waiting for the flushes; and while
 * 56 clients make 4 KiB durable at once beside the 256 MiB ones (more persists than a batch
 * holds wait for the flush away), placed writes still go on: the unit holds new requests, not
 * its loop (service.c, hold); with 100 clients at once every request is answered; and one
 * client sending persists back to back cannot fill a batch (the rest of its requests are
 * refused at once) nor so make the loop wait. Every byte read back. */
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

#include "internal.h"
#include "harness.h"

#define BIG (256u << 20) /* the persisting client's region and each put */
#define PUTS 3
#define SLOW_ENOUGH_MS 60 /* a flush shorter than this shows nothing: the round fails */

static struct unit_proc unit;

static int setup(void **state)
{
	(void)state;
	return unit_start(&unit, "640M");
}

static int teardown(void **state)
{
	(void)state;
	unit_stop(&unit, false);
	unit_cleanup(&unit);
	return 0;
}

/* now_ms -- monotonic milliseconds. */
static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* The persisting client: PUTS whole-region persistent puts, each of other bytes. */
struct persister {
	struct npmu_region *r;
	uint8_t *buf;
	double longest_ms; /* out: the longest put */
	int rc;            /* out */
	atomic_bool done;
};

/* persister_main -- put the region PUTS times, persistently, timing each put. */
static void *persister_main(void *arg)
{
	struct persister *p = arg;
	for (int i = 0; i < PUTS && p->rc == 0; i++) {
		fill_pattern(p->buf, BIG, 100 + (uint64_t)i, 0);
		struct npmu_iov iov = {0, p->buf, BIG};
		double t = now_ms();
		p->rc = npmu_region_put(p->r, &iov, 1, NPMU_PERSISTENT);
		double took = now_ms() - t;
		p->longest_ms = took > p->longest_ms ? took : p->longest_ms;
	}
	atomic_store(&p->done, true);
	return NULL;
}

/* The client making 4 KiB durable again and again until the large puts end. */
struct small_persister {
	struct npmu_region *r;
	atomic_bool *stop;
	int puts; /* out */
	int rc;   /* out */
};

/* small_main -- persistent 4 KiB puts, each of other bytes, until told to stop. */
static void *small_main(void *arg)
{
	struct small_persister *sp = arg;
	uint8_t b[4096];
	while (sp->rc == 0 && !atomic_load(sp->stop)) {
		fill_pattern(b, sizeof(b), 300, (uint64_t)sp->puts);
		struct npmu_iov iov = {(uint64_t)(sp->puts % 16) * 4096, b, sizeof(b)};
		if ((sp->rc = npmu_region_put(sp->r, &iov, 1, NPMU_PERSISTENT)) == 0)
			sp->puts++;
	}
	return NULL;
}

/* meanwhile -- until p's puts are done, placed 4 KiB writes of pattern `seed` into small, every
 * 20th followed by a stat of it on wc (the embedded manager answers on the unit's loop; not a
 * persist, so not held either), each timed; returns the writes made. */
static int meanwhile(struct persister *p, struct npmu_region *small, struct npmu_conn *wc,
		     uint64_t seed, double *worst, double *worst_stat)
{
	uint8_t w[4096];
	struct npmu_region_info info;
	int writes = 0;
	while (!atomic_load(&p->done)) {
		fill_pattern(w, sizeof(w), seed, (uint64_t)writes);
		double s = now_ms();
		assert_int_equal(npmu_region_write(small, (uint64_t)(writes % 256) * 4096, w, sizeof(w)),
				 0);
		double took = now_ms() - s;
		*worst = took > *worst ? took : *worst;
		if (writes % 20 == 0) {
			s = now_ms();
			assert_int_equal(npmu_region_stat(wc, "small", &info), 0);
			took = now_ms() - s;
			*worst_stat = took > *worst_stat ? took : *worst_stat;
		}
		writes++;
		usleep(1000);
	}
	return writes;
}

/* flush__others_go_on: while a client's 256 MiB persistent puts are flushed (and another's
 * 4 KiB ones, which then wait for them, the disk being busy), a third client's placed 4 KiB
 * writes (and region stats from the embedded manager) are answered in a small part of a
 * flush's time, not after it; the last large put's bytes, the small puts' and every write
 * read back. */
static void flush__others_go_on(void **state)
{
	(void)state;
	struct npmu_conn *pc = unit_connect(&unit), *wc = unit_connect(&unit);
	struct npmu_region_info info;
	assert_int_equal(npmu_region_create(pc, "big", BIG, &info), 0);
	assert_int_equal(npmu_region_create(wc, "small", 1 << 20, &info), 0);
	struct npmu_conn *sc = unit_connect(&unit);
	assert_int_equal(npmu_region_create(sc, "durable", 64 << 10, &info), 0);
	struct persister p = {.buf = malloc(BIG)};
	assert_non_null(p.buf);
	struct npmu_region *small;
	atomic_bool stop = false;
	struct small_persister sp = {.stop = &stop};
	assert_int_equal(npmu_region_open(pc, "big", NPMU_ACCESS_READ_WRITE, &p.r), 0);
	assert_int_equal(npmu_region_open(wc, "small", NPMU_ACCESS_READ_WRITE, &small), 0);
	assert_int_equal(npmu_region_open(sc, "durable", NPMU_ACCESS_READ_WRITE, &sp.r), 0);
	uint8_t w[4096];
	pthread_t t, ts;
	assert_int_equal(pthread_create(&ts, NULL, small_main, &sp), 0);
	assert_int_equal(pthread_create(&t, NULL, persister_main, &p), 0);
	double worst = 0, worst_stat = 0;
	int writes = meanwhile(&p, small, wc, 7, &worst, &worst_stat);
	pthread_join(t, NULL);
	atomic_store(&stop, true);
	pthread_join(ts, NULL);
	assert_int_equal(p.rc, 0);
	assert_int_equal(sp.rc, 0);
	printf("# %d placed writes beside %d persistent puts of 256 MiB and %d of 4 KiB: the longest "
	       "large put %.0f ms, the slowest write %.1f ms, the slowest stat %.1f ms\n",
	       writes, PUTS, sp.puts, p.longest_ms, worst, worst_stat);
	if (p.longest_ms < SLOW_ENOUGH_MS)
		fail_msg("the longest put took %.0f ms: too quick a flush to show a stall (this "
			 "round proved nothing)", p.longest_ms);
	assert_true(writes >= 20);
	/* before: a write or a stat waited for the whole flush; now a small part of it at most */
	assert_true(worst < p.longest_ms / 4);
	assert_true(worst_stat < p.longest_ms / 4);
	/* every byte: the last put's, and each write's */
	uint8_t *back = malloc(BIG);
	assert_non_null(back);
	assert_int_equal(npmu_region_read(p.r, 0, back, BIG), 0);
	assert_true(check_pattern(back, BIG, 100 + PUTS - 1, 0));
	for (int i = writes - 256 > 0 ? writes - 256 : 0; i < writes; i++) {
		assert_int_equal(npmu_region_read(small, (uint64_t)(i % 256) * 4096, w, sizeof(w)), 0);
		assert_true(check_pattern(w, sizeof(w), 7, (uint64_t)i));
	}
	assert_true(sp.puts >= 1);
	for (int i = sp.puts - 16 > 0 ? sp.puts - 16 : 0; i < sp.puts; i++) {
		assert_int_equal(npmu_region_read(sp.r, (uint64_t)(i % 16) * 4096, w, sizeof(w)), 0);
		assert_true(check_pattern(w, sizeof(w), 300, (uint64_t)i));
	}
	npmu_region_close(&sp.r);
	npmu_conn_delete(&sc);
	free(back);
	free(p.buf);
	npmu_region_close(&small);
	npmu_region_close(&p.r);
	npmu_conn_delete(&wc);
	npmu_conn_delete(&pc);
}

#define MANY_MAX 100 /* clients persisting at once, at most */

/* log_has -- whether the unit's log holds text. */
static bool log_has(const char *text)
{
	FILE *f = fopen(unit.log, "r");
	char line[1024];
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* beside_large -- while a client's 256 MiB persistent puts are flushed, `many` clients put
 * 4 KiB persistently, each on a connection of its own, and a further client writes (placed)
 * and stats meanwhile (meanwhile). Each persist succeeds and its bytes read back; the stats
 * are answered; the unit says it held requests (else the round proved nothing); bounded: the
 * writes and stats take a small part of a flush's time. */
static void beside_large(int many, bool bounded)
{
	struct npmu_conn *pc = unit_connect(&unit), *wc = unit_connect(&unit);
	struct npmu_region_info info;
	struct npmu_region *small;
	struct persister p = {.buf = malloc(BIG)};
	assert_non_null(p.buf);
	assert_int_equal(npmu_region_open(pc, "big", NPMU_ACCESS_READ_WRITE, &p.r), 0);
	assert_int_equal(npmu_region_open(wc, "small", NPMU_ACCESS_READ_WRITE, &small), 0);
	struct npmu_conn *mc[MANY_MAX];
	struct small_persister sp[MANY_MAX];
	pthread_t ts[MANY_MAX], t;
	atomic_bool stop = false;
	for (int i = 0; i < many; i++) {
		char name[32];
		snprintf(name, sizeof(name), "many%d.%d", many, i);
		mc[i] = unit_connect(&unit);
		assert_int_equal(npmu_region_create(mc[i], name, 64 << 10, &info), 0);
		sp[i] = (struct small_persister){.stop = &stop};
		assert_int_equal(npmu_region_open(mc[i], name, NPMU_ACCESS_READ_WRITE, &sp[i].r), 0);
	}
	for (int i = 0; i < many; i++)
		assert_int_equal(pthread_create(&ts[i], NULL, small_main, &sp[i]), 0);
	assert_int_equal(pthread_create(&t, NULL, persister_main, &p), 0);
	uint8_t w[4096];
	double worst = 0, worst_stat = 0;
	int writes = meanwhile(&p, small, wc, 8, &worst, &worst_stat);
	pthread_join(t, NULL);
	atomic_store(&stop, true);
	int puts = 0;
	for (int i = 0; i < many; i++) {
		pthread_join(ts[i], NULL);
		assert_int_equal(sp[i].rc, 0);
		puts += sp[i].puts;
	}
	assert_int_equal(p.rc, 0);
	bool held = log_has("held new requests");
	printf("# %d placed writes beside %d persistent puts of 256 MiB and %d of 4 KiB from %d "
	       "clients: the longest large put %.0f ms, the slowest write %.1f ms, the slowest stat "
	       "%.1f ms; requests held: %s\n", writes, PUTS, puts, many, p.longest_ms, worst,
	       worst_stat, held ? "yes" : "no");
	if (p.longest_ms < SLOW_ENOUGH_MS || !held)
		fail_msg("the longest put took %.0f ms and the unit %s requests: this round proved "
			 "nothing", p.longest_ms, held ? "held" : "never held");
	assert_true(writes >= 20);
	if (bounded) { /* (past HELD_MAX held, one more waits for the flush: not bounded then) */
		assert_true(worst < p.longest_ms / 4);
		assert_true(worst_stat < p.longest_ms / 4);
	}
	assert_true(worst_stat < 2000); /* answered, well within a manager request's timeout */
	for (int i = writes - 256 > 0 ? writes - 256 : 0; i < writes; i++) {
		assert_int_equal(npmu_region_read(small, (uint64_t)(i % 256) * 4096, w, sizeof(w)), 0);
		assert_true(check_pattern(w, sizeof(w), 8, (uint64_t)i));
	}
	for (int i = 0; i < many; i++) {
		assert_true(sp[i].puts >= 1);
		for (int k = sp[i].puts - 16 > 0 ? sp[i].puts - 16 : 0; k < sp[i].puts; k++) {
			assert_int_equal(npmu_region_read(sp[i].r, (uint64_t)(k % 16) * 4096, w,
							  sizeof(w)), 0);
			assert_true(check_pattern(w, sizeof(w), 300, (uint64_t)k));
		}
		npmu_region_close(&sp[i].r);
		npmu_conn_delete(&mc[i]);
	}
	free(p.buf);
	npmu_region_close(&small);
	npmu_region_close(&p.r);
	npmu_conn_delete(&wc);
	npmu_conn_delete(&pc);
}

/* flush__a_full_batch_holds_requests_not_the_loop: 56 clients, more than a batch away and one
 * gathering hold (BATCH_MAX, service.c), so that a full batch of persists waits for the flush
 * away: the placed writes and stats are still done in a small part of a flush's time (before,
 * the loop itself waited for the flush once a batch was full). */
static void flush__a_full_batch_holds_requests_not_the_loop(void **state)
{
	(void)state;
	beside_large(56, true);
}

/* flush__a_hundred_clients_are_all_answered: 100 clients persisting at once: every request is
 * answered (before, the waiting persists held reply buffers, the replies waited for slow
 * clients to take them, and the unit dropped requests for want of room to answer: a stat
 * failed after its 5 s timeout). */
static void flush__a_hundred_clients_are_all_answered(void **state)
{
	(void)state;
	beside_large(100, false);
}

/* The pipelining client: a bare endpoint sending PERSIST requests for one region back to back,
 * BURST at a time, 20 ms apart, until the large puts end. */
struct pipeliner {
	struct persister *p;
	uint64_t region_id, key;
	struct raw_answers a; /* out */
	int rc;               /* out: 0, or -1 if its endpoint failed */
};

#define BURST 64

/* pipeliner_main -- bursts of persists until the large puts end (an answer not come in 100 ms
 * is not waited for). */
static void *pipeliner_main(void *arg)
{
	struct pipeliner *x = arg;
	struct raw_peer *peer = raw_peer_open(unit.addr);
	struct npmu__request req = {.region_id = x->region_id, .key = x->key, .len = 4096};
	x->rc = peer ? 0 : -1;
	while (x->rc == 0 && !atomic_load(&x->p->done)) {
		x->rc = raw_pipeline(peer, NPMU_MSG_PERSIST, &req, BURST, 0, 100, &x->a);
		usleep(20000);
	}
	raw_peer_close(&peer);
	return NULL;
}

/* flush__one_client_cannot_fill_the_batch: a client that sends persist requests back to back
 * (64 at a time, while 256 MiB puts are flushed) has at most two of them waiting; the rest are
 * answered NPMU_E_LIMIT at once, so it can neither fill a batch nor make the loop wait for the
 * flush away: a placed writer's writes and stats beside it stay within a small part of a
 * flush's time. Before, its requests filled the batch and the held ones, and the next one made
 * the loop wait for the whole flush. */
static void flush__one_client_cannot_fill_the_batch(void **state)
{
	(void)state;
	struct npmu_conn *pc = unit_connect(&unit), *wc = unit_connect(&unit),
			 *xc = unit_connect(&unit);
	struct npmu_region_info info;
	struct npmu_region *small, *xr;
	struct persister p = {.buf = malloc(BIG)};
	assert_non_null(p.buf);
	assert_int_equal(npmu_region_create(xc, "pipelined", 64 << 10, &info), 0);
	assert_int_equal(npmu_region_open(pc, "big", NPMU_ACCESS_READ_WRITE, &p.r), 0);
	assert_int_equal(npmu_region_open(wc, "small", NPMU_ACCESS_READ_WRITE, &small), 0);
	assert_int_equal(npmu_region_open(xc, "pipelined", NPMU_ACCESS_READ_WRITE, &xr), 0);
	struct pipeliner x = {.p = &p, .region_id = xr->info.id, .key = xr->ai.key};
	pthread_t t, tx;
	assert_int_equal(pthread_create(&t, NULL, persister_main, &p), 0);
	assert_int_equal(pthread_create(&tx, NULL, pipeliner_main, &x), 0);
	double worst = 0, worst_stat = 0;
	int writes = meanwhile(&p, small, wc, 9, &worst, &worst_stat);
	pthread_join(t, NULL);
	pthread_join(tx, NULL);
	assert_int_equal(p.rc, 0);
	assert_int_equal(x.rc, 0);
	printf("# %d placed writes beside %d persistent puts of 256 MiB and %d pipelined persists "
	       "(%d answered, %d refused NPMU_E_LIMIT, %d other errors): the longest large put "
	       "%.0f ms, the slowest write %.1f ms, the slowest stat %.1f ms\n", writes, PUTS,
	       x.a.sent, x.a.answered, x.a.limited, x.a.other, p.longest_ms, worst, worst_stat);
	if (p.longest_ms < SLOW_ENOUGH_MS || x.a.sent < 4 * BURST)
		fail_msg("the longest put took %.0f ms beside %d pipelined persists: this round "
			 "proved nothing", p.longest_ms, x.a.sent);
	assert_true(writes >= 20);
	assert_true(worst < p.longest_ms / 4); /* (before: the whole flush away) */
	assert_true(worst_stat < p.longest_ms / 4);
	assert_int_equal(x.a.other, 0);
	/* most refused at once with NPMU_E_LIMIT (or, past four answers in flight to it, not
	 * answered): the cap was met */
	assert_true(x.a.limited >= BURST && x.a.sent - x.a.served >= x.a.sent / 2);
	/* the client itself still gets its persists done one at a time */
	struct npmu_iov iov = {0, p.buf, 4096};
	assert_int_equal(npmu_region_put(xr, &iov, 1, NPMU_PERSISTENT), 0);
	free(p.buf);
	npmu_region_close(&xr);
	npmu_region_close(&small);
	npmu_region_close(&p.r);
	npmu_conn_delete(&xc);
	npmu_conn_delete(&wc);
	npmu_conn_delete(&pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flush__others_go_on),
		cmocka_unit_test(flush__a_full_batch_holds_requests_not_the_loop),
		cmocka_unit_test(flush__a_hundred_clients_are_all_answered),
		cmocka_unit_test(flush__one_client_cannot_fill_the_batch),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
