/* spin.h -- polite busy-waiting: poll freely for a while, then yield the CPU on each idle turn. */
#ifndef NPMU_SPIN_H
#define NPMU_SPIN_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"

/*
 * Completion queues on providers such as tcp are progressed by polling, so waiting for a reply
 * or an RMA completion is a loop. Spinning keeps latency low when cores are free; when more
 * threads poll than there are cores (many clients, tests beside each other), a spinning waiter
 * would hold a core the peer it waits for needs. After free_ns without progress each idle turn
 * calls sched_yield(), which returns at once when nothing else wants the core. A transfer's
 * bytes move inside fi_cq_read() without a completion to show for it, and yielding on every
 * turn of such a wait costs a third of the bandwidth (measured: bench/), so a waiter for a
 * transfer spins freely for about as long as its bytes take (npmu__spin_for_bytes).
 * A wait that goes on (a peer that does not answer, a long flush, a unit serving 64 clients)
 * must not hold a core either: after NPMU_SPIN_NAP_AFTER_NS without progress the waiter sleeps
 * on its completion queue's wait fd where it has one (npmu__spin_should_sleep), else each idle
 * turn sleeps 100 us, and after NPMU_SPIN_SLEEP_AFTER_NS 1 ms, so a process waiting on a silent
 * peer costs next to no CPU.
 */
#define NPMU_SPIN_FREE_NS 20000u /* a reply: a round trip and a little work */
#define NPMU_SPIN_NAP_AFTER_NS 1000000u   /* 1 ms idle: sleep 100 us per turn */
#define NPMU_SPIN_SLEEP_AFTER_NS 10000000u /* 10 ms idle: sleep 1 ms per turn */

struct npmu__spin {
	uint64_t free_ns;    /* spin this long without progress before yielding */
	uint64_t idle_since; /* ns; 0 while progress is being made */
};

/* npmu__spin_ns -- monotonic nanoseconds. */
static inline uint64_t npmu__spin_ns(void)
{
	return npmu__now_ns();
}

/* npmu__spin_for_bytes -- free spin for a wait that moves about `bytes` (at 4 GB/s). */
static inline uint64_t npmu__spin_for_bytes(uint64_t bytes)
{
	return NPMU_SPIN_FREE_NS + bytes / 4;
}

/* npmu__spin_progress -- the last turn made progress: spin freely again. */
static inline void npmu__spin_progress(struct npmu__spin *s)
{
	s->idle_since = 0;
}

/* npmu__spin_should_sleep -- whether the wait has gone on past its free spin and its yielding
 * (NPMU_SPIN_NAP_AFTER_NS): the waiter should sleep on its completion queue now, where it can
 * (npmu__fabric_wait), woken by what it waits for rather than napping. A short wait (a round
 * trip, a flush) keeps yielding: a wake-up from poll() costs tens of microseconds. */
static inline bool npmu__spin_should_sleep(struct npmu__spin *s)
{
	uint64_t now = npmu__spin_ns();
	if (!s->idle_since) {
		s->idle_since = now;
		return false;
	}
	return now - s->idle_since > s->free_ns + NPMU_SPIN_NAP_AFTER_NS;
}

/* npmu__spin_idle -- the last turn found nothing: yield once the free spin is used up, then
 * nap, then sleep. */
static inline void npmu__spin_idle(struct npmu__spin *s)
{
	uint64_t now = npmu__spin_ns();
	if (!s->idle_since) {
		s->idle_since = now;
		return;
	}
	uint64_t idle = now - s->idle_since;
	if (idle > s->free_ns + NPMU_SPIN_SLEEP_AFTER_NS) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	} else if (idle > s->free_ns + NPMU_SPIN_NAP_AFTER_NS) {
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	} else if (idle > s->free_ns) {
		sched_yield();
	}
}

#endif
