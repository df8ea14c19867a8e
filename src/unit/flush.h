/* flush.h -- group commit: the ranges of every persist request a unit has at once made durable together, with one flush of the pool file. */
#ifndef NPMU_FLUSH_H
#define NPMU_FLUSH_H

#include <libpmem2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"

/*
 * A unit answers each PERSIST only once its ranges are durable. The requests that arrive
 * together (those its service loop finds waiting at once) are flushed as one group:
 *
 *   pool on a page-granularity mapping (a file in the page cache, made durable with msync):
 *     1. writeback of every piece is started (sync_file_range WRITE), so the writes of all
 *        requests go to the disk at once;
 *     2. each piece's writeback but the last's is waited for (WAIT_BEFORE | WRITE |
 *        WAIT_AFTER);
 *     3. one libpmem2 persist (msync) of the last piece: it waits for its own pages (already
 *        written), commits the file's metadata that the writes needed (extents, datasync) and
 *        flushes the disk's cache -- which makes the pieces written in 2 durable as well.
 *     A group costs about one flush however many requests it holds; a lone request is
 *     persisted directly (3 only). Should sync_file_range fail, each piece is persisted alone.
 *   pool on byte- or cache-line-granularity memory (DAX): each piece is flushed, and one drain
 *     ends the group.
 *
 * A large group is flushed by the flusher thread, so that the service loop goes on moving every
 * other client's bytes meanwhile (a 256 MiB persist's flush takes a few hundred milliseconds;
 * in the loop it stalled every client of the unit that long). A small one (under
 * NPMU_FLUSH_INLINE bytes, about a flush of the disk) is flushed on the service thread: handing
 * it over and back would cost two thread wake-ups, more than it takes -- but not while a group
 * is away (the disk is busy with it: the small one waits for it), nor for NPMU_FLUSH_SLOW_FOR_NS
 * after any flush took NPMU_FLUSH_SLOW_NS or more (a disk writing back other data makes even a
 * small flush slow). Two groups, double-buffered:
 *   queued   -- filled by the service thread (npmu__flush_add, _request_done) while
 *   in flight -- the other one is flushed by the flusher thread.
 *   F1. npmu__flush_begin flushes a small queued group at once, or hands a large one over when
 *       none is in flight; the flusher makes it durable, then writes done_fd (an eventfd the
 *       service polls); npmu__flush_end, on the service thread, reads it: the requests of that
 *       group may be answered now.
 *   F2. Pieces point into windows: whoever deletes a window first waits for the group in
 *       flight and runs the queued one (npmu__flush_quiesce), on its own thread.
 *   F3. Only the service thread calls these, but for the flusher's own loop.
 */
struct npmu__flush_piece {
	struct pmem2_map *map;  /* the mapping the bytes are in */
	void *addr;             /* their address in it */
	uint64_t len;
	uint64_t file_off;      /* their offset in the pool file */
};

/* A group of pieces: the queued one, or the one in flight. */
struct npmu__flush_group {
	struct npmu__flush_piece *piece;
	uint32_t n, cap;
	uint32_t requests; /* requests whose pieces these are */
	uint64_t bytes;    /* the pieces' */
};

#define NPMU_FLUSH_INLINE (256u << 10) /* smaller groups are flushed on the service thread, */
#define NPMU_FLUSH_SLOW_NS 5000000ull   /* unless a flush took this long */
#define NPMU_FLUSH_SLOW_FOR_NS 1000000000ull /* this recently */

struct npmu__flush {
	int fd;                          /* the pool file */
	struct npmu__flush_group group[2];
	int queued;                      /* index of the queued group (the other: in flight) */
	bool in_flight;                  /* the other group was handed over, not yet ended (F1) */
	int done_fd;                     /* eventfd: written when a group in flight is durable */
	pthread_t thread;
	pthread_mutex_t lock;            /* guards work and stop: the handover */
	pthread_cond_t cv;
	bool work, stop;                 /* the flusher has a group / is to end */
	_Atomic uint64_t groups, requests; /* flushes run and requests they served, for the log */
	_Atomic uint64_t slow_said_ns;   /* when a slow flush was last logged */
	_Atomic uint64_t slow_until_ns;  /* small groups go to the flusher until then */
	/* for the metrics (metrics.h): */
	_Atomic uint64_t bytes;          /* bytes of the pieces made durable */
	struct npmu__histogram latency;  /* how long each group took to flush */
};

/* npmu__flush_init -- empty groups for the pool file fd, and the flusher thread; 0 or
 * NPMU_E_NOMEM (no thread or eventfd). */
int npmu__flush_init(struct npmu__flush *f, int fd);

/* npmu__flush_fini -- wait for the group in flight, run the queued one, stop the thread. */
void npmu__flush_fini(struct npmu__flush *f);

/*
 * npmu__flush_add -- queue [addr, addr+len) of map, at file_off in the pool file, for the next
 * group. When it cannot be queued (no memory) it is persisted at once. Returns nothing: either
 * way the bytes are durable once the group they joined is.
 */
void npmu__flush_add(struct npmu__flush *f, struct pmem2_map *map, void *addr, uint64_t len,
		     uint64_t file_off);

/* npmu__flush_request_done -- one request's pieces are all queued (for the counts). */
void npmu__flush_request_done(struct npmu__flush *f);

/* npmu__flush_begin -- the queued group flushed (F1): 1 when it is durable now (empty, or small
 * and flushed here: its requests may be answered at once), 0 when the flusher has it,
 * NPMU_E_BUSY when a group is in flight already (begin again after npmu__flush_end). */
int npmu__flush_begin(struct npmu__flush *f);

/* npmu__flush_end -- (done_fd readable, or wait) the group in flight is durable: true when one
 * was, and is finished now; with wait, blocks until it is. */
bool npmu__flush_end(struct npmu__flush *f, bool wait);

/* npmu__flush_quiesce -- F2: the group in flight finished, the queued one run here. */
void npmu__flush_quiesce(struct npmu__flush *f);

#endif
