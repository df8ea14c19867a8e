/* mirror_format.h -- the record that binds a mirrored region's copies, kept on every copy's unit. */
#ifndef NPMU_MIRROR_FORMAT_H
#define NPMU_MIRROR_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npmu.h"
#include "wire.h"

/*
 * A mirrored region is a region of the same name on two units (claims 6, 15, 38, 46): copy 0,
 * the primary region, and copy 1, the mirror region. Both units keep the same mirror record in
 * the region's entry of their pool metadata, so the manager can rebuild the mirror from either
 * unit alone. Encoding (little-endian):
 *
 *   u32 magic "NPMR"   u16 version (NPMU_MIRROR_VERSION)   u8 ncopies (2)   u8 0
 *   u64 generation     raised by one with every change; the newer valid record wins
 *   u64 size           the region's size on every copy
 *   ncopies x { unit (u8 length + "host:port" as the manager reaches it), u8 state,
 *               u64 resync_done (bytes of the copy brought up to date, while resyncing),
 *               u8 unit_id[8] (version 2 on: the first bytes of that unit's pool uuid when
 *               the copy was made there; zero: unknown) }
 *   u64 csum           CRC-64 of every byte before it
 * Version 1 records (no unit ids) are read.
 *
 * Copy states and their invariants:
 *   M1. An IN_SYNC copy holds every write that was reported complete. Reads may go to it.
 *   M2. A STALE copy missed writes: no read goes to it and writers skip it. A copy becomes
 *       stale only through the manager, which records it on the other copies before the write
 *       that missed it is reported complete (so a reader never trusts it again).
 *   M3. A RESYNCING copy receives every write, and its bytes [0, resync_done) equal the
 *       in-sync copy's; no read goes to it until the manager records it IN_SYNC again.
 *   M4. At least one copy is IN_SYNC. A change that would leave none is refused.
 * Two records of the same generation that differ are a conflict: reported, never resolved
 * silently (NPMU_E_CORRUPT until an operator repairs it).
 *
 * A copy's unit that answers without the region is told apart by its unit id: another pool
 * (the unit was replaced) gets the copy made again, stale, to be resynced; the same pool means
 * the region was deleted there while the other copy's unit was away, and that other copy, now
 * an orphan, is deleted too (src/pmmd/mirrors.c).
 */

#define NPMU_MIRROR_MAGIC 0x524d504eu /* "NPMR" */
#define NPMU_MIRROR_VERSION 2
#define NPMU_MIRROR_COPIES 2
#define NPMU_MIRROR_REC_MAX 336 /* the largest encoded record */
_Static_assert(NPMU_MIRROR_REC_MAX == NPMU_MIRROR_REC_WIRE, "a record fits its wire field");

enum npmu__copy_state {
	NPMU__COPY_IN_SYNC = 0,
	NPMU__COPY_STALE = 1,
	NPMU__COPY_RESYNCING = 2,
};

struct npmu__mirror {
	uint64_t generation;
	uint64_t size;
	uint32_t ncopies;
	struct {
		char unit[NPMU_ADDR_STR_MAX + 1];
		uint8_t state;
		uint64_t resync_done;
		uint8_t unit_id[8];   /* of the pool it was made in (zero: unknown) */
	} copy[NPMU_MIRROR_COPIES];
};

/* npmu__mirror_encode -- serialise m into buf; returns its length or NPMU_E_INVAL. */
int npmu__mirror_encode(const struct npmu__mirror *m, uint8_t *buf, size_t buflen);

/*
 * npmu__mirror_decode -- parse and check one record: NPMU_E_CORRUPT (bad magic, checksum,
 * length or field), NPMU_E_VERSION (a record of a newer format), or 0.
 */
int npmu__mirror_decode(const uint8_t *buf, size_t len, struct npmu__mirror *m);

/* The outcome of comparing the records read from a mirror's units. */
struct npmu__mirror_pick {
	int winner;       /* index of the record in force, -1 when none is valid */
	int valid;        /* how many records decoded */
	bool disagree;    /* some valid record is older than the winner, or some record is bad */
	bool conflict;    /* two valid records of the winner's generation differ */
};

/*
 * npmu__mirror_choose -- of n records (recs[i] of lens[i] bytes; a length of 0: none read),
 * find the one in force: the valid record of highest generation. out gets it decoded.
 * Returns 0, NPMU_E_CORRUPT when none is valid or the newest conflict.
 */
int npmu__mirror_choose(const uint8_t *const recs[], const size_t lens[], int n,
			struct npmu__mirror *out, struct npmu__mirror_pick *pick);

/* npmu__mirror_in_sync -- how many copies are IN_SYNC. */
int npmu__mirror_in_sync(const struct npmu__mirror *m);

/* npmu__copy_state_name -- "in-sync", "stale" or "resyncing". */
const char *npmu__copy_state_name(int state);

#endif
