/* prefetch.c -- read-ahead of the pool ranges of regions being opened, on a thread of its own
 * (prefetch.h). */
#include "prefetch.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "metrics.h"

#define PIECE_DEFAULT (128u << 10) /* the kernel's default read-ahead */

/* read_ahead_of -- the read-ahead of the block device holding fd's file, in bytes (what one
 * WILLNEED request reads at most), or PIECE_DEFAULT when it cannot be learnt. */
static uint64_t read_ahead_of(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return PIECE_DEFAULT;
	static const char *const where[] = {"/sys/dev/block/%u:%u/queue/read_ahead_kb",
					    "/sys/dev/block/%u:%u/../queue/read_ahead_kb"};
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		char path[96];
		snprintf(path, sizeof(path), where[i], major(st.st_dev), minor(st.st_dev));
		FILE *f = fopen(path, "r");
		unsigned long kb = 0;
		bool got = f && fscanf(f, "%lu", &kb) == 1 && kb > 0;
		if (f)
			fclose(f);
		if (got)
			return (uint64_t)kb << 10;
	}
	return PIECE_DEFAULT;
}

/* run -- the thread: take the oldest range queued and have the kernel read it, piece by piece,
 * until told to stop. */
static void *run(void *arg)
{
	struct npmu__prefetch *pf = arg;
	pthread_mutex_lock(&pf->lock);
	for (;;) {
		while (!pf->stop && pf->n == 0)
			pthread_cond_wait(&pf->more, &pf->lock);
		if (pf->stop)
			break;
		struct npmu__prefetch_range r = pf->q[pf->head];
		pf->head = (pf->head + 1) % NPMU_PREFETCH_QUEUE;
		pf->n--;
		pthread_mutex_unlock(&pf->lock);
		for (uint64_t done = 0; done < r.len && !__atomic_load_n(&pf->stop, __ATOMIC_RELAXED);
		     done += pf->piece) {
			uint64_t len = r.len - done < pf->piece ? r.len - done : pf->piece;
			int e = posix_fadvise(pf->fd, (off_t)(r.off + done), (off_t)len,
					      POSIX_FADV_WILLNEED);
			if (e != 0) {
				LOG_DEBUG("prefetch: posix_fadvise: %s", strerror(e));
				break;
			}
		}
		pthread_mutex_lock(&pf->lock);
	}
	pthread_mutex_unlock(&pf->lock);
	return NULL;
}

/* npmu__prefetch_start -- the thread for pool file fd (prefetch.h). */
void npmu__prefetch_start(struct npmu__prefetch *pf, int fd)
{
	memset(pf, 0, sizeof(*pf));
	pf->fd = fd;
	pf->piece = read_ahead_of(fd);
	pthread_mutex_init(&pf->lock, NULL);
	pthread_cond_init(&pf->more, NULL);
	pf->started = pthread_create(&pf->thread, NULL, run, pf) == 0;
	if (!pf->started)
		LOG_WARN("unit: no thread to read regions ahead: pages are read as they are touched");
}

/* npmu__prefetch_add -- queue a range; the oldest is forgotten when the queue is full. */
void npmu__prefetch_add(struct npmu__prefetch *pf, uint64_t off, uint64_t len)
{
	if (!pf->started || len == 0)
		return;
	pthread_mutex_lock(&pf->lock);
	if (pf->n == NPMU_PREFETCH_QUEUE) {
		pf->head = (pf->head + 1) % NPMU_PREFETCH_QUEUE;
		pf->n--;
	}
	pf->q[(pf->head + pf->n) % NPMU_PREFETCH_QUEUE] = (struct npmu__prefetch_range){off, len};
	pf->n++;
	npmu__metric_add(&pf->queued, len);
	pthread_cond_signal(&pf->more);
	pthread_mutex_unlock(&pf->lock);
}

/* npmu__prefetch_stop -- stop and join the thread. */
void npmu__prefetch_stop(struct npmu__prefetch *pf)
{
	if (pf->started) {
		pthread_mutex_lock(&pf->lock);
		__atomic_store_n(&pf->stop, true, __ATOMIC_RELAXED);
		pthread_cond_signal(&pf->more);
		pthread_mutex_unlock(&pf->lock);
		pthread_join(pf->thread, NULL);
		pf->started = false;
	}
	pthread_mutex_destroy(&pf->lock);
	pthread_cond_destroy(&pf->more);
}
