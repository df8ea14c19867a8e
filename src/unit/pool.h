/* pool.h -- a pool file opened by npmud: its superblocks, region table, allocator and commits. */
#ifndef NPMU_POOL_H
#define NPMU_POOL_H

#include <libpmem2.h>

#include "pool_format.h"

struct npmu__pool {
	int fd;
	struct npmu__superblock sb;   /* the current (newest valid) superblock */
	struct npmu__meta meta;       /* the current region table */
	struct npmu__alloc alloc;     /* free pages, rebuilt from meta at open */
	struct pmem2_source *src;
	struct pmem2_map *head_map;   /* superblocks and metadata areas: pages [0, data_start) */
	uint8_t *head;
	pmem2_persist_fn persist;
	uint8_t *scratch;             /* one metadata area's worth, for encoding */
	uint64_t recovered_from;      /* 0, or the generation that was skipped as invalid at open */
};

/* npmu__pool_create -- create a new pool file of size bytes (fails if path exists). */
int npmu__pool_create(const char *path, uint64_t size, struct npmu__pool **pool_ptr);

/*
 * npmu__pool_open -- open an existing pool and rebuild its region table and allocator from it.
 * Errors: NPMU_E_NOENT, NPMU_E_CORRUPT, NPMU_E_VERSION, NPMU_E_IO, NPMU_E_BUSY (pool in use).
 */
int npmu__pool_open(const char *path, struct npmu__pool **pool_ptr);

/* npmu__pool_close -- unmap and close; NULLs *pool_ptr. */
void npmu__pool_close(struct npmu__pool **pool_ptr);

/*
 * npmu__pool_commit -- make the in-memory region table durable as the next generation.
 * On NPMU_E_NOSPC (metadata area full) nothing on media changed and the caller rolls back.
 */
int npmu__pool_commit(struct npmu__pool *pool);

/* npmu__pool_zero -- zero the pages of n extents and make that durable. */
int npmu__pool_zero(struct npmu__pool *pool, const struct npmu__extent *ext, uint32_t n);

/* npmu__pool_release -- give the extents of a region back to the allocator (after a commit). */
void npmu__pool_release(struct npmu__pool *pool, const struct npmu__region_meta *r);

#ifdef NPMU_TEST_HOOKS
/* npmu__pool_crash_after -- (test builds only) SIGKILL this process right after its nth
 * metadata persist from now, so a test can stop a unit at every step of a commit. */
void npmu__pool_crash_after(long n);
#endif

#endif
