/* pool_format.h -- the on-media layout of a pool file: superblocks and the region table. */
#ifndef NPMU_POOL_FORMAT_H
#define NPMU_POOL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "mirror_format.h"
#include "npmu.h"

/*
 * A pool is a file of 4 KiB pages:
 *
 *   page 0                 superblock, copy 0 (written by even generations)
 *   page 1                 superblock, copy 1 (written by odd generations)
 *   pages 2 .. 2+M-1       metadata area 0    (written by even generations)
 *   pages 2+M .. 2+2M-1    metadata area 1    (written by odd generations)
 *   pages 2+2M .. N-1      data pages, owned by regions through their extents
 *
 * Superblock (little-endian, 96 bytes used of its page):
 *   0  char[8] magic "NPMUPOOL"     8  u32 version (NPMU_POOL_VERSION)   12 u32 page_size
 *   16 u64 pool_size                24 u64 npages                        32 u64 meta_pages (M)
 *   40 u64 data_start (2+2M)        48 u64 generation                    56 u64 meta_len
 *   64 u64 meta_csum                72 u8[16] uuid                       88 u64 sb_csum
 * sb_csum is the CRC-64 of bytes 0..87; meta_csum is the CRC-64 of the metadata's meta_len bytes.
 *
 * Metadata (in area generation % 2):
 *   u64 magic "NPMUMETA", u64 generation, u64 next_region_id, u32 nregions, u32 reserved,
 *   then per region: u64 id, u64 size, u8 name_len, name, u8 owner_len, owner,
 *                    u32 nextents, u32 nrights,
 *                    nextents x (u64 start_page, u64 npages),
 *                    nrights x (u64 key, u32 access, u32 0, u64 holder (version 3 on)),
 *                    u16 mirror_len, mirror[mirror_len] (version 2 on: the mirror record of a
 *                    mirrored region's copy, see mirror_format.h; 0 for a plain region)
 * A right's holder is the client (its connection's holder id, renewed at the manager) it was
 * opened for; 0: unknown. A manager reclaims the rights of holders that stopped renewing when a
 * region's rights are all taken (src/manager/holders.h).
 * Version 1 and 2 pools (no mirror field; no holders) are read, and written as version 3 from
 * their next commit.
 *
 * Crash consistency (the LMDB scheme). Invariants:
 *   1. The pool's state is the metadata named by the valid superblock of highest generation
 *      whose metadata checksum also matches; the other copy names the previous state.
 *   2. Generation g writes only metadata area g%2 and then superblock copy g%2, each followed
 *      by a persist; it never touches what generation g-1 wrote, so a crash at any instant
 *      leaves g-1 intact, and g valid only once both its writes are durable.
 *   3. Page ownership lives only in the region table. The allocator is rebuilt from it at open,
 *      and a page claimed twice, or outside the data pages, makes the pool corrupt.
 *   4. Pages are zeroed (and that made durable) before the metadata that gives them to a
 *      region is written, so a region never shows an earlier region's data.
 */

#define NPMU_POOL_MAGIC "NPMUPOOL"
#define NPMU_META_MAGIC "NPMUMETA"
#define NPMU_POOL_VERSION 3
#define NPMU_POOL_VERSION_MIN 1
#define NPMU_PAGE_SIZE 4096u
#define NPMU_SB_LEN 96
#define NPMU_POOL_MIN_SIZE (1u << 20)    /* 1 MiB */
#define NPMU_REGIONS_MAX 4096            /* regions per pool */
#define NPMU_EXTENTS_MAX 1024            /* extents per region */
#define NPMU_RIGHTS_MAX 64               /* open rights per region */
_Static_assert(NPMU_RIGHTS_MAX == NPMU_RIGHTS_REPLY_MAX, "a RIGHTS reply lists them all");

/* One open right: a registration of the region's window under its own key. */
struct npmu__right {
	uint64_t key;
	uint32_t access; /* enum npmu_access */
	uint64_t holder; /* the client it was opened for (0: unknown) */
};

/* One region as recorded in the metadata. */
struct npmu__region_meta {
	uint64_t id;
	uint64_t size;
	char name[NPMU_NAME_MAX + 1];
	char owner[NPMU_NAME_MAX + 1]; /* creating principal, "" when unauthenticated */
	uint32_t nextents;
	uint32_t nrights;
	struct npmu__extent *extents; /* nextents, owned */
	struct npmu__right rights[NPMU_RIGHTS_MAX];
	uint16_t mirror_len;                     /* 0: not mirrored */
	uint8_t mirror[NPMU_MIRROR_REC_MAX];     /* the mirror record, checked at decode */
};

/* A decoded superblock. */
struct npmu__superblock {
	uint32_t version;
	uint32_t page_size;
	uint64_t pool_size;
	uint64_t npages;
	uint64_t meta_pages;
	uint64_t data_start;
	uint64_t generation;
	uint64_t meta_len;
	uint64_t meta_csum;
	uint8_t uuid[16];
};

/* The whole region table in memory. */
struct npmu__meta {
	uint64_t generation;
	uint64_t next_region_id;
	uint32_t nregions;
	uint32_t cap;
	struct npmu__region_meta *regions; /* nregions, owned */
};

/* npmu__pool_geometry -- the superblock fields of a new pool of size bytes (rounded down to pages). */
int npmu__pool_geometry(uint64_t size, struct npmu__superblock *sb);

/* npmu__sb_encode -- write a superblock into NPMU_SB_LEN bytes, with its checksum. */
void npmu__sb_encode(const struct npmu__superblock *sb, uint8_t out[NPMU_SB_LEN]);

/*
 * npmu__sb_decode -- decode and check one superblock copy. Returns 0, NPMU_E_CORRUPT (bad
 * magic, checksum or geometry) or NPMU_E_VERSION (a valid superblock of another version).
 */
int npmu__sb_decode(const uint8_t in[NPMU_SB_LEN], struct npmu__superblock *sb);

/* npmu__meta_encoded_len -- bytes npmu__meta_encode() needs for meta. */
size_t npmu__meta_encoded_len(const struct npmu__meta *meta);

/* npmu__meta_encode -- serialise meta into buf; returns the length or NPMU_E_NOSPC. */
int64_t npmu__meta_encode(const struct npmu__meta *meta, void *buf, size_t buflen);

/*
 * npmu__meta_decode -- parse and validate metadata of generation gen against the superblock's
 * geometry, claiming every extent in alloc (which must be fresh). On failure returns
 * NPMU_E_CORRUPT and leaves meta empty.
 */
int npmu__meta_decode(const void *buf, size_t len, const struct npmu__superblock *sb,
		      struct npmu__meta *meta, struct npmu__alloc *alloc);

/* npmu__meta_free -- free every region of meta. */
void npmu__meta_free(struct npmu__meta *meta);

/* npmu__meta_find -- the region named name, or NULL. */
struct npmu__region_meta *npmu__meta_find(struct npmu__meta *meta, const char *name);

/* npmu__meta_find_id -- the region with id, or NULL. */
struct npmu__region_meta *npmu__meta_find_id(struct npmu__meta *meta, uint64_t id);

/* npmu__meta_add -- append a region (taking ownership of r->extents); NPMU_E_LIMIT when full. */
int npmu__meta_add(struct npmu__meta *meta, const struct npmu__region_meta *r);

/* npmu__meta_remove -- remove the region at index i (freeing its extents). */
void npmu__meta_remove(struct npmu__meta *meta, uint32_t i);

#endif
