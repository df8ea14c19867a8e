/* flush.h -- group commit: the ranges of every persist request a unit has at once made durable together, with one flush of the pool file. */
#ifndef NPMU_FLUSH_H
#define NPMU_FLUSH_H

#include <libpmem2.h>
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
 * Pieces point into windows: whoever deletes a window runs the group first.
 */
struct npmu__flush_piece {
	struct pmem2_map *map;  /* the mapping the bytes are in */
	void *addr;             /* their address in it */
	uint64_t len;
	uint64_t file_off;      /* their offset in the pool file */
};

struct npmu__flush {
	int fd;                          /* the pool file */
	struct npmu__flush_piece *piece; /* waiting to be flushed */
	uint32_t n, cap;
	uint64_t groups, requests;       /* flushes run and requests they served, for the log */
	uint32_t pending_requests;       /* requests whose pieces are waiting */
	uint64_t slow_said_ns;           /* when a slow flush was last logged */
	/* for the metrics (metrics.h): */
	_Atomic uint64_t bytes;          /* bytes of the pieces made durable */
	struct npmu__histogram latency;  /* how long each group took to flush */
};

/* npmu__flush_init -- an empty group for the pool file fd. */
void npmu__flush_init(struct npmu__flush *f, int fd);

/* npmu__flush_fini -- run what waits and free the group. */
void npmu__flush_fini(struct npmu__flush *f);

/*
 * npmu__flush_add -- queue [addr, addr+len) of map, at file_off in the pool file, for the next
 * run. When it cannot be queued (no memory) it is persisted at once. Returns nothing: either way
 * the bytes are durable once npmu__flush_run returns.
 */
void npmu__flush_add(struct npmu__flush *f, struct pmem2_map *map, void *addr, uint64_t len,
		     uint64_t file_off);

/* npmu__flush_request_done -- one request's pieces are all queued (for the counts). */
void npmu__flush_request_done(struct npmu__flush *f);

/* npmu__flush_run -- make every queued piece durable (see above) and empty the group. */
void npmu__flush_run(struct npmu__flush *f);

#endif
