/* flush.c -- group commit: queued ranges of the pool made durable with one flush (flush.h). */
#define _GNU_SOURCE
#include "flush.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grow.h"
#include "log.h"
#include "npmu.h"

#define PIECES_MAX (1u << 20) /* a bound on the queue; past it pieces are persisted at once */
#define SLOW_FLUSH_NS (100 * 1000000ull)       /* a flush slower than this is logged, */
#define SLOW_SAY_EVERY_NS (10 * 1000000000ull) /* at most once in this time */

static void run_group(struct npmu__flush *f, struct npmu__flush_group *g);

/* flusher_main -- the flusher thread: make each group handed over durable, then say so (F1). */
static void *flusher_main(void *arg)
{
	struct npmu__flush *f = arg;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->work && !f->stop)
			pthread_cond_wait(&f->cv, &f->lock);
		if (!f->work)
			break; /* (stop, nothing handed over) */
		struct npmu__flush_group *g = &f->group[!f->queued]; /* (read under the lock) */
		pthread_mutex_unlock(&f->lock);
		run_group(f, g);
		pthread_mutex_lock(&f->lock);
		f->work = false;
		pthread_cond_broadcast(&f->cv);
		uint64_t one = 1;
		if (write(f->done_fd, &one, sizeof(one)) != sizeof(one))
			LOG_ERR("unit: flusher: cannot signal the service: %s", strerror(errno));
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* npmu__flush_init -- empty groups for the pool file fd, and the flusher thread. */
int npmu__flush_init(struct npmu__flush *f, int fd)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->done_fd < 0 || pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
		if (f->done_fd >= 0)
			close(f->done_fd);
		f->done_fd = -1;
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->lock);
		return NPMU_E_NOMEM;
	}
	return 0;
}

/* wait_idle -- (service thread) until the flusher has no group (after npmu__flush_fini: at
 * once; the unit drops its windows after it). */
static void wait_idle(struct npmu__flush *f)
{
	if (f->done_fd < 0)
		return; /* (finished: no thread, nothing in flight) */
	pthread_mutex_lock(&f->lock);
	while (f->work)
		pthread_cond_wait(&f->cv, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

/* npmu__flush_fini -- wait for the group in flight, run the queued one, stop the thread. */
void npmu__flush_fini(struct npmu__flush *f)
{
	if (f->done_fd < 0)
		return;
	wait_idle(f);
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	run_group(f, &f->group[f->queued]);
	for (int i = 0; i < 2; i++) {
		free(f->group[i].piece);
		f->group[i] = (struct npmu__flush_group){0};
	}
	close(f->done_fd);
	f->done_fd = -1;
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->lock);
}

/* npmu__flush_add -- queue a piece; persisted at once when it cannot be queued. */
void npmu__flush_add(struct npmu__flush *f, struct pmem2_map *map, void *addr, uint64_t len,
		     uint64_t file_off)
{
	if (len == 0)
		return;
	struct npmu__flush_group *g = &f->group[f->queued];
	int rc;
	void *p = npmu__grow(g->piece, &g->cap, g->n, sizeof(*g->piece), 16, PIECES_MAX, &rc);
	if (!p) {
		pmem2_get_persist_fn(map)(addr, len);
		return;
	}
	g->piece = p;
	g->piece[g->n++] = (struct npmu__flush_piece){map, addr, len, file_off};
	g->bytes += len;
}

/* npmu__flush_request_done -- one request's pieces are all queued. */
void npmu__flush_request_done(struct npmu__flush *f)
{
	f->group[f->queued].requests++;
}

/* npmu__flush_begin -- the queued group to the flusher (F1). */
int npmu__flush_begin(struct npmu__flush *f)
{
	struct npmu__flush_group *g = &f->group[f->queued];
	if (g->n == 0) { /* (its pieces run by a quiesce, or none) */
		run_group(f, g);
		return 1;
	}
	if (f->in_flight) /* (even a small group: the disk is busy with that one) */
		return NPMU_E_BUSY;
	if (g->bytes < NPMU_FLUSH_INLINE && npmu__now_ns() >= atomic_load(&f->slow_until_ns)) {
		run_group(f, g);
		return 1;
	}
	pthread_mutex_lock(&f->lock);
	f->queued = !f->queued; /* (the flusher takes the other one) */
	f->work = true;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->lock);
	f->in_flight = true;
	return 0;
}

/* npmu__flush_end -- the group in flight finished, if it has (or, with wait, once it has). */
bool npmu__flush_end(struct npmu__flush *f, bool wait)
{
	if (!f->in_flight)
		return false;
	pthread_mutex_lock(&f->lock);
	while (wait && f->work)
		pthread_cond_wait(&f->cv, &f->lock);
	bool busy = f->work;
	pthread_mutex_unlock(&f->lock);
	if (busy)
		return false;
	uint64_t n;
	(void)!read(f->done_fd, &n, sizeof(n)); /* (consumed; EAGAIN: read by an end before) */
	f->in_flight = false;
	return true;
}

/* npmu__flush_quiesce -- F2: the group in flight finished, the queued one run here. */
void npmu__flush_quiesce(struct npmu__flush *f)
{
	wait_idle(f);
	struct npmu__flush_group *g = &f->group[f->queued];
	uint32_t requests = g->requests;
	g->requests = 0;
	run_group(f, g);
	g->requests = requests; /* (still to be answered: they are counted when begun) */
}

/* write_back -- step 1 and 2 of a page-granularity group (flush.h): every piece's pages sent
 * to the disk at once, and all but the last's waited for (the persist of the last waits for
 * its own); false when the kernel refused (the caller persists each piece). */
static bool write_back(struct npmu__flush *f, const struct npmu__flush_group *g)
{
	const unsigned start = SYNC_FILE_RANGE_WRITE;
	const unsigned wait = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			      SYNC_FILE_RANGE_WAIT_AFTER;
	for (uint32_t i = 0; i < g->n; i++) /* the last one's too: every write in flight at once */
		if (sync_file_range(f->fd, (off_t)g->piece[i].file_off, (off_t)g->piece[i].len,
				    start) != 0)
			goto refused;
	for (uint32_t i = 0; i + 1 < g->n; i++)
		if (sync_file_range(f->fd, (off_t)g->piece[i].file_off, (off_t)g->piece[i].len,
				    wait) != 0)
			goto refused;
	return true;
refused:
	LOG_WARN("unit: sync_file_range on the pool: %s; persisting each range alone",
		 strerror(errno));
	return false;
}

/* run_group -- make every piece of g durable and empty it (its requests counted). */
static void run_group(struct npmu__flush *f, struct npmu__flush_group *g)
{
	if (g->n == 0) {
		f->requests += g->requests;
		g->requests = 0;
		return;
	}
	uint64_t t0 = npmu__now_ns(), bytes = 0;
	for (uint32_t i = 0; i < g->n; i++)
		bytes += g->piece[i].len;
	struct npmu__flush_piece *last = &g->piece[g->n - 1];
	if (pmem2_map_get_store_granularity(last->map) == PMEM2_GRANULARITY_PAGE) {
		if (g->n == 1 || write_back(f, g)) {
			pmem2_get_persist_fn(last->map)(last->addr, last->len);
		} else {
			for (uint32_t i = 0; i < g->n; i++)
				pmem2_get_persist_fn(g->piece[i].map)(g->piece[i].addr,
								      g->piece[i].len);
		}
	} else {
		for (uint32_t i = 0; i < g->n; i++)
			pmem2_get_flush_fn(g->piece[i].map)(g->piece[i].addr, g->piece[i].len);
		pmem2_get_drain_fn(last->map)();
	}
	uint64_t took = npmu__now_ns() - t0;
	if (took >= NPMU_FLUSH_SLOW_NS) /* the disk is slow: small groups off the loop for a while */
		atomic_store(&f->slow_until_ns, t0 + took + NPMU_FLUSH_SLOW_FOR_NS);
	npmu__metric_add(&f->bytes, bytes);
	npmu__histogram_observe(&f->latency, took);
	if (took >= SLOW_FLUSH_NS && t0 - atomic_load(&f->slow_said_ns) >= SLOW_SAY_EVERY_NS) {
		atomic_store(&f->slow_said_ns, t0); /* (once in a while: a slow disk would say it at
						      * every flush) */
		LOG_INFO("unit: a flush of %llu KiB in %u range(s) took %llu ms: the pool's file "
			 "system is slow now (writing back other data first?)",
			 (unsigned long long)(bytes >> 10), g->n,
			 (unsigned long long)(took / 1000000));
	}
	f->groups++;
	f->requests += g->requests;
	g->requests = 0;
	g->n = 0;
	g->bytes = 0;
}
