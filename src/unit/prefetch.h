/* prefetch.h -- read-ahead of the pool ranges of regions being opened, on a thread of its own. */
#ifndef NPMU_PREFETCH_H
#define NPMU_PREFETCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The unit maps its pool with read-ahead off (window.c: page-sized folios), so a page a remote
 * transfer touches that is not in memory would be read from the disk alone. When a region is
 * opened, its ranges of the pool file are queued here, and a thread asks the kernel to read
 * them in the background (posix_fadvise WILLNEED, in pieces no larger than the device's
 * read-ahead, the most the kernel reads for one such request). A prefetch is a hint: when the
 * queue is full the oldest range is forgotten, and nothing waits for it.
 */
#define NPMU_PREFETCH_QUEUE 64

struct npmu__prefetch_range {
	uint64_t off, len; /* bytes of the pool file */
};

struct npmu__prefetch {
	int fd;
	uint64_t piece; /* bytes one request reads at most */
	pthread_t thread;
	bool started, stop;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct npmu__prefetch_range q[NPMU_PREFETCH_QUEUE];
	uint32_t head, n;
	_Atomic uint64_t queued; /* bytes queued so far, for the metrics (metrics.h) */
};

/* npmu__prefetch_start -- the thread for pool file fd; without it (no thread), prefetching is
 * off and npmu__prefetch_add does nothing. */
void npmu__prefetch_start(struct npmu__prefetch *pf, int fd);

/* npmu__prefetch_add -- queue bytes [off, off + len) of the pool file to be read. */
void npmu__prefetch_add(struct npmu__prefetch *pf, uint64_t off, uint64_t len);

/* npmu__prefetch_stop -- stop the thread (what is queued is dropped) and join it. */
void npmu__prefetch_stop(struct npmu__prefetch *pf);

#endif
