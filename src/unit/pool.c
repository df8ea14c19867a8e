/* pool.c -- pool files: create, open with recovery, crash-consistent commits (scheme in pool_format.h). */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "csum.h"
#include "errors.h"
#include "log.h"

#ifdef NPMU_TEST_HOOKS
/* Test builds only (tests/CMakeLists.txt builds test_pool with it; npmud never has it). */
static long crash_countdown = -1;

/* npmu__pool_crash_after -- SIGKILL this process right after its nth metadata persist. */
void npmu__pool_crash_after(long n)
{
	crash_countdown = n;
}
#endif

/* persist_step -- persist a range of the head mapping (then, in a test build, maybe crash). */
static void persist_step(struct npmu__pool *pool, const void *p, size_t len)
{
	pool->persist(p, len);
#ifdef NPMU_TEST_HOOKS
	if (crash_countdown > 0 && --crash_countdown == 0)
		raise(SIGKILL);
#endif
}

/* map_head -- map pages [0, data_start) of the pool file with libpmem2. */
static int map_head(struct npmu__pool *pool, uint64_t data_start)
{
	struct pmem2_config *cfg = NULL;
	int rc = pmem2_source_from_fd(&pool->src, pool->fd);
	if (rc == 0)
		rc = pmem2_config_new(&cfg);
	if (rc == 0)
		rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
	if (rc == 0)
		rc = pmem2_config_set_length(cfg, data_start * NPMU_PAGE_SIZE);
	if (rc == 0)
		rc = pmem2_map_new(&pool->head_map, cfg, pool->src);
	if (cfg)
		pmem2_config_delete(&cfg);
	if (rc != 0) {
		LOG_ERR("pool: cannot map metadata: %s", pmem2_errormsg());
		return NPMU_E_IO;
	}
	pool->head = pmem2_map_get_address(pool->head_map);
	pool->persist = pmem2_get_persist_fn(pool->head_map);
	return 0;
}

/* pool_alloc -- a zeroed pool struct. */
static struct npmu__pool *pool_alloc(void)
{
	struct npmu__pool *pool = calloc(1, sizeof(*pool));
	if (pool)
		pool->fd = -1;
	return pool;
}

/* lock_file -- take an exclusive lock so two units never serve one pool. */
static int lock_file(int fd, const char *path)
{
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		LOG_ERR("pool %s: in use by another process", path);
		return NPMU_E_BUSY;
	}
	return 0;
}

/* finish_open -- allocate the scratch area once the geometry is known. */
static int finish_open(struct npmu__pool *pool)
{
	pool->scratch = malloc(pool->sb.meta_pages * NPMU_PAGE_SIZE);
	return pool->scratch ? 0 : NPMU_E_NOMEM;
}

/* npmu__pool_create -- create a new pool file of size bytes (fails if path exists). */
int npmu__pool_create(const char *path, uint64_t size, struct npmu__pool **pool_ptr)
{
	struct npmu__superblock sb;
	int rc = npmu__pool_geometry(size, &sb);
	if (rc != 0) {
		LOG_ERR("pool %s: size %llu too small (at least 1 MiB)", path, (unsigned long long)size);
		return rc;
	}
	struct npmu__pool *pool = pool_alloc();
	if (!pool)
		return NPMU_E_NOMEM;
	pool->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (pool->fd < 0) {
		rc = npmu__from_errno(errno);
		LOG_ERR("pool %s: cannot create: %s", path, strerror(errno));
		goto err_free;
	}
	if ((rc = lock_file(pool->fd, path)) != 0)
		goto err_unlink;
	/* Allocate every block now: a later store into a hole could SIGBUS on a full file system. */
	int e = posix_fallocate(pool->fd, 0, (off_t)sb.pool_size);
	if (e != 0) {
		LOG_ERR("pool %s: cannot allocate %llu bytes: %s", path,
			(unsigned long long)sb.pool_size, strerror(e));
		rc = e == ENOSPC ? NPMU_E_NOSPC : NPMU_E_IO;
		goto err_unlink;
	}
	if ((rc = map_head(pool, sb.data_start)) != 0)
		goto err_unlink;
	randombytes_buf(sb.uuid, sizeof(sb.uuid));
	pool->sb = sb;
	pool->meta.next_region_id = 1;
	if ((rc = npmu__alloc_init(&pool->alloc, sb.npages, sb.data_start)) != 0 ||
	    (rc = finish_open(pool)) != 0 || (rc = npmu__pool_commit(pool)) != 0)
		goto err_unlink;
	if (fsync(pool->fd) != 0) {
		rc = NPMU_E_IO;
		goto err_unlink;
	}
	*pool_ptr = pool;
	return 0;
err_unlink:
	unlink(path);
	npmu__pool_close(&pool);
	return rc;
err_free:
	free(pool);
	return rc;
}

/* read_superblocks -- both superblock copies of the open pool file, decoded and checked against
 * its size and their slot (src[i]: 0 or why copy i is not valid; a copy written but not valid
 * is told, once). Returns 0 when one is valid. */
static int read_superblocks(struct npmu__pool *pool, const char *path,
			    struct npmu__superblock sb[2], int src[2])
{
	struct stat st;
	uint8_t raw[2][NPMU_SB_LEN];
	if (fstat(pool->fd, &st) != 0 || pread(pool->fd, raw[0], NPMU_SB_LEN, 0) != NPMU_SB_LEN ||
	    pread(pool->fd, raw[1], NPMU_SB_LEN, NPMU_PAGE_SIZE) != NPMU_SB_LEN) {
		LOG_ERR("pool %s: too short or unreadable to be a pool", path);
		return NPMU_E_CORRUPT;
	}
	for (int i = 0; i < 2; i++) {
		src[i] = npmu__sb_decode(raw[i], &sb[i]);
		if (src[i] == 0 && (sb[i].generation % 2 != (uint64_t)i ||
				    sb[i].pool_size != (uint64_t)st.st_size))
			src[i] = NPMU_E_CORRUPT;
	}
	for (int i = 0; i < 2; i++) {
		bool blank = true;
		for (int k = 0; k < NPMU_SB_LEN && blank; k++)
			blank = raw[i][k] == 0;
		if (src[i] != 0 && !blank && src[1 - i] == 0)
			LOG_WARN("pool %s: superblock copy %d is %s: using copy %d (generation %llu); "
				 "it is rewritten by the next change", path, i,
				 src[i] == NPMU_E_VERSION ? "of another version" : "damaged", 1 - i,
				 (unsigned long long)sb[1 - i].generation);
	}
	if (src[0] != 0 && src[1] != 0) {
		int rc = (src[0] == NPMU_E_VERSION || src[1] == NPMU_E_VERSION) ? NPMU_E_VERSION
										 : NPMU_E_CORRUPT;
		LOG_ERR("pool %s: %s", path,
			rc == NPMU_E_VERSION ? "written by an unsupported npmu version"
					     : "no valid superblock (not a pool, or corrupt)");
		return rc;
	}
	return 0;
}

/* load_generation -- the region table of the newest valid generation whose metadata checks out,
 * else of the other one (recorded in pool->recovered_from). */
static int load_generation(struct npmu__pool *pool, const char *path,
			   const struct npmu__superblock sb[2], const int src[2])
{
	int order[2] = {0, 1}; /* newest first */
	if (src[0] != 0 || (src[1] == 0 && sb[1].generation > sb[0].generation)) {
		order[0] = 1;
		order[1] = 0;
	}
	int first = order[0];
	int rc = map_head(pool, sb[first].data_start);
	if (rc != 0)
		return rc;
	rc = NPMU_E_CORRUPT;
	for (int k = 0; k < 2 && rc != 0; k++) {
		int i = order[k];
		if (src[i] != 0 || sb[i].data_start != sb[first].data_start)
			continue;
		const uint8_t *area =
			pool->head + (2 + (sb[i].generation % 2) * sb[i].meta_pages) * NPMU_PAGE_SIZE;
		if (npmu__csum(area, sb[i].meta_len) != sb[i].meta_csum) {
			LOG_WARN("pool %s: generation %llu incomplete (metadata checksum), using the previous one",
				 path, (unsigned long long)sb[i].generation);
			pool->recovered_from = sb[i].generation;
			continue;
		}
		npmu__alloc_fini(&pool->alloc);
		if ((rc = npmu__alloc_init(&pool->alloc, sb[i].npages, sb[i].data_start)) != 0)
			return rc;
		rc = npmu__meta_decode(area, sb[i].meta_len, &sb[i], &pool->meta, &pool->alloc);
		if (rc == NPMU_E_NOMEM)
			return rc;
		if (rc == 0)
			pool->sb = sb[i];
	}
	if (rc != 0)
		LOG_ERR("pool %s: metadata corrupt in both generations", path);
	return rc;
}

/* npmu__pool_open -- open an existing pool and rebuild its state from the newest valid generation. */
int npmu__pool_open(const char *path, struct npmu__pool **pool_ptr)
{
	struct npmu__pool *pool = pool_alloc();
	if (!pool)
		return NPMU_E_NOMEM;
	int rc;
	pool->fd = open(path, O_RDWR | O_CLOEXEC);
	if (pool->fd < 0) {
		rc = npmu__from_errno(errno);
		LOG_ERR("pool %s: cannot open: %s", path, strerror(errno));
		goto err;
	}
	struct npmu__superblock sb[2];
	int src[2];
	if ((rc = lock_file(pool->fd, path)) != 0 ||
	    (rc = read_superblocks(pool, path, sb, src)) != 0 ||
	    (rc = load_generation(pool, path, sb, src)) != 0 || (rc = finish_open(pool)) != 0)
		goto err;
	*pool_ptr = pool;
	return 0;
err:
	npmu__pool_close(&pool);
	return rc;
}

/* npmu__pool_close -- unmap and close; NULLs *pool_ptr. */
void npmu__pool_close(struct npmu__pool **pool_ptr)
{
	struct npmu__pool *pool = *pool_ptr;
	if (!pool)
		return;
	if (pool->head_map)
		pmem2_map_delete(&pool->head_map);
	if (pool->src)
		pmem2_source_delete(&pool->src);
	if (pool->fd >= 0)
		close(pool->fd);
	npmu__meta_free(&pool->meta);
	npmu__alloc_fini(&pool->alloc);
	free(pool->scratch);
	free(pool);
	*pool_ptr = NULL;
}

/* npmu__pool_commit -- write the region table as generation g+1: area, persist, superblock, persist. */
int npmu__pool_commit(struct npmu__pool *pool)
{
	struct npmu__superblock next = pool->sb;
	next.generation = pool->sb.generation + 1;
	next.version = NPMU_POOL_VERSION; /* a version-1 pool is upgraded by its first commit */
	uint64_t area_len = pool->sb.meta_pages * NPMU_PAGE_SIZE;
	pool->meta.generation = next.generation;
	int64_t len = npmu__meta_encode(&pool->meta, pool->scratch, area_len);
	if (len < 0) {
		pool->meta.generation = pool->sb.generation;
		LOG_WARN("pool: metadata area full (%llu bytes)", (unsigned long long)area_len);
		return NPMU_E_NOSPC;
	}
	next.meta_len = (uint64_t)len;
	next.meta_csum = npmu__csum(pool->scratch, (size_t)len);
	uint8_t *area = pool->head + (2 + (next.generation % 2) * next.meta_pages) * NPMU_PAGE_SIZE;
	memcpy(area, pool->scratch, (size_t)len);
	persist_step(pool, area, (size_t)len);
	uint8_t *sbp = pool->head + (next.generation % 2) * NPMU_PAGE_SIZE;
	npmu__sb_encode(&next, sbp);
	persist_step(pool, sbp, NPMU_SB_LEN);
	pool->sb = next;
	return 0;
}

/* sync_range -- make bytes [off, off + len) of the pool file and the file's metadata durable
 * (the extents a zeroing changed), without writing back the rest of the file: msync of a
 * mapping of that range is a ranged fsync (fdatasync would flush every other region's placed
 * writes, and make one client's create wait for all of them). */
static int sync_range(struct npmu__pool *pool, off_t off, off_t len)
{
	void *map = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, pool->fd, off);
	int rc = map == MAP_FAILED ? -1 : msync(map, (size_t)len, MS_SYNC);
	if (map != MAP_FAILED)
		munmap(map, (size_t)len);
	if (rc != 0) /* (no room for the mapping: the whole file, as before) */
		rc = fdatasync(pool->fd);
	if (rc != 0)
		LOG_ERR("pool: cannot make zeroed pages durable: %s", strerror(errno));
	return rc != 0 ? NPMU_E_IO : 0;
}

#define SLOW_ZERO_NS (100 * 1000000ull) /* zeroing slower than this is logged */

/* npmu__pool_zero -- zero the pages of n extents and make that durable. */
int npmu__pool_zero(struct npmu__pool *pool, const struct npmu__extent *ext, uint32_t n)
{
	static char zeros[1 << 16];
	uint64_t t0 = npmu__now_ns(), zeroed = 0, bytes = 0;
	for (uint32_t i = 0; i < n; i++) {
		off_t off = (off_t)(ext[i].start * NPMU_PAGE_SIZE);
		off_t len = (off_t)(ext[i].npages * NPMU_PAGE_SIZE);
		uint64_t z0 = npmu__now_ns();
		bytes += (uint64_t)len;
		if (fallocate(pool->fd, FALLOC_FL_ZERO_RANGE, off, len) != 0) {
			for (off_t done = 0; done < len;) {
				size_t chunk = (size_t)(len - done) < sizeof(zeros)
						       ? (size_t)(len - done)
						       : sizeof(zeros);
				ssize_t w = pwrite(pool->fd, zeros, chunk, off + done);
				if (w <= 0) {
					LOG_ERR("pool: cannot zero pages: %s", strerror(errno));
					return NPMU_E_IO;
				}
				done += w;
			}
		}
		zeroed += npmu__now_ns() - z0;
		int rc = sync_range(pool, off, len);
		if (rc != 0)
			return rc;
	}
	uint64_t took = npmu__now_ns() - t0;
	if (took >= SLOW_ZERO_NS) /* (the file system's doing: said, so a slow create is explained) */
		LOG_INFO("pool: zeroing %llu KiB took %llu ms (zero range %llu ms, flush %llu ms)",
			 (unsigned long long)(bytes >> 10), (unsigned long long)(took / 1000000),
			 (unsigned long long)(zeroed / 1000000),
			 (unsigned long long)((took - zeroed) / 1000000));
	return 0;
}

/* npmu__pool_release -- give the extents of a region back to the allocator. */
void npmu__pool_release(struct npmu__pool *pool, const struct npmu__region_meta *r)
{
	for (uint32_t e = 0; e < r->nextents; e++)
		npmu__alloc_release(&pool->alloc, &r->extents[e]);
}
