/* flush.c -- group commit: queued ranges of the pool made durable with one flush (flush.h). */
#define _GNU_SOURCE
#include "flush.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "grow.h"
#include "log.h"

#define PIECES_MAX (1u << 20) /* a bound on the queue; past it pieces are persisted at once */
#define SLOW_FLUSH_NS (100 * 1000000ull)       /* a flush slower than this is logged, */
#define SLOW_SAY_EVERY_NS (10 * 1000000000ull) /* at most once in this time */

/* npmu__flush_init -- an empty group for the pool file fd. */
void npmu__flush_init(struct npmu__flush *f, int fd)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
}

/* npmu__flush_fini -- run what waits and free the group. */
void npmu__flush_fini(struct npmu__flush *f)
{
	npmu__flush_run(f);
	free(f->piece);
	f->piece = NULL;
	f->cap = 0;
}

/* npmu__flush_add -- queue a piece; persisted at once when it cannot be queued. */
void npmu__flush_add(struct npmu__flush *f, struct pmem2_map *map, void *addr, uint64_t len,
		     uint64_t file_off)
{
	if (len == 0)
		return;
	int rc;
	void *p = npmu__grow(f->piece, &f->cap, f->n, sizeof(*f->piece), 16, PIECES_MAX, &rc);
	if (!p) {
		pmem2_get_persist_fn(map)(addr, len);
		return;
	}
	f->piece = p;
	f->piece[f->n++] = (struct npmu__flush_piece){map, addr, len, file_off};
}

/* npmu__flush_request_done -- one request's pieces are all queued. */
void npmu__flush_request_done(struct npmu__flush *f)
{
	f->pending_requests++;
}

/* write_back -- step 1 and 2 of a page-granularity group (flush.h): every piece's pages sent
 * to the disk at once, and all but the last's waited for (the persist of the last waits for
 * its own); false when the kernel refused (the caller persists each piece). */
static bool write_back(struct npmu__flush *f)
{
	const unsigned start = SYNC_FILE_RANGE_WRITE;
	const unsigned wait = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			      SYNC_FILE_RANGE_WAIT_AFTER;
	for (uint32_t i = 0; i < f->n; i++) /* the last one's too: every write in flight at once */
		if (sync_file_range(f->fd, (off_t)f->piece[i].file_off, (off_t)f->piece[i].len,
				    start) != 0)
			goto refused;
	for (uint32_t i = 0; i + 1 < f->n; i++)
		if (sync_file_range(f->fd, (off_t)f->piece[i].file_off, (off_t)f->piece[i].len,
				    wait) != 0)
			goto refused;
	return true;
refused:
	LOG_WARN("unit: sync_file_range on the pool: %s; persisting each range alone",
		 strerror(errno));
	return false;
}

/* npmu__flush_run -- make every queued piece durable and empty the group. */
void npmu__flush_run(struct npmu__flush *f)
{
	if (f->n == 0) {
		f->pending_requests = 0;
		return;
	}
	uint64_t t0 = npmu__now_ns(), bytes = 0;
	for (uint32_t i = 0; i < f->n; i++)
		bytes += f->piece[i].len;
	struct npmu__flush_piece *last = &f->piece[f->n - 1];
	if (pmem2_map_get_store_granularity(last->map) == PMEM2_GRANULARITY_PAGE) {
		if (f->n == 1 || write_back(f)) {
			pmem2_get_persist_fn(last->map)(last->addr, last->len);
		} else {
			for (uint32_t i = 0; i < f->n; i++)
				pmem2_get_persist_fn(f->piece[i].map)(f->piece[i].addr,
								      f->piece[i].len);
		}
	} else {
		for (uint32_t i = 0; i < f->n; i++)
			pmem2_get_flush_fn(f->piece[i].map)(f->piece[i].addr, f->piece[i].len);
		pmem2_get_drain_fn(last->map)();
	}
	uint64_t took = npmu__now_ns() - t0;
	npmu__metric_add(&f->bytes, bytes);
	npmu__histogram_observe(&f->latency, took);
	if (took >= SLOW_FLUSH_NS && t0 - f->slow_said_ns >= SLOW_SAY_EVERY_NS) {
		f->slow_said_ns = t0; /* (once in a while: a slow disk would say it at every flush) */
		LOG_INFO("unit: a flush of %llu KiB in %u range(s) took %llu ms: the pool's file "
			 "system is slow now (writing back other data first?)",
			 (unsigned long long)(bytes >> 10), f->n,
			 (unsigned long long)(took / 1000000));
	}
	f->groups++;
	f->requests += f->pending_requests;
	f->pending_requests = 0;
	f->n = 0;
}
