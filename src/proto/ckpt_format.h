/* ckpt_format.h -- the layout of a checkpoint stream inside a region, and its validating codecs. */
#ifndef NPMU_CKPT_FORMAT_H
#define NPMU_CKPT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npmu.h"

/*
 * A stream is a region laid out as (all integers little-endian):
 *
 *   [0, 4096)        header page
 *       0  char[8] "NPMUCKPT"    8  u32 version      12 u32 mode (1 overwrite, 2 append)
 *      16  u64 epoch  -- the one word the manager writes when it fences a writer
 *      24  u64 state_size       32 u64 log_size (append)   40 u32 nslots   44 u32 0
 *      48  u64 csum of bytes [0,16) and [24,48)
 *     512  nslots records of 64 bytes (overwrite: commit records; append: 2 base records)
 *   [4096, +nslots * state_size rounded to 4 KiB)   state slots
 *   [.., + log_size)                               the update log (append)
 *
 * Overwrite (claim 13). Commit number s writes the state into slot s % nslots, then the
 * commit record into record s % nslots: u64 seq, u64 epoch, u64 length, u64 data_csum,
 * u64[3] 0, u64 record csum. Invariants:
 *   O1. A record is valid when its csum, and then its slot's data_csum, check out, and its
 *       epoch is at most the header's.
 *   O2. The latest checkpoint is the valid record of highest seq; the nslots - 1 before it
 *       stay intact while a commit is in progress, so a torn or interrupted commit leaves the
 *       previous checkpoint readable (claims 5-6: several sets kept and read at once).
 *
 * Append (claims 14-16). A full base state in one of two slots, and update records appended
 * in the log, a ring addressed by a logical position lpos that only grows (byte lpos % log_size):
 *   update record: u32 magic "NPUR", u32 len, u64 seq, u64 epoch, u64 offset (in the state),
 *                  u64 lpos (its own), u64 csum (of the 40 bytes before it and the payload),
 *                  then len bytes of payload padded to 8
 *   skip record:   u32 magic "NPSK", u32 0, u64 lpos -- the rest of the ring is unused this lap
 *   base record (in record b % 2 for base number b): u64 base_no, u64 epoch, u64 seq (the last
 *                  update folded in), u64 length, u64 data_csum, u64 lpos (where the updates to
 *                  it start), u64 0, u64 csum
 * Invariants:
 *   A1. An update is committed once its record is placed (persisted, at that durability)
 *       whole at the log position after the previous one, with seq one more.
 *   A2. A reader applies, from a valid base, the valid records from its lpos on in order and
 *       stops at the first that is not (wrong magic, lpos, seq or csum): a torn record, or a
 *       record of an earlier lap, is never applied.
 *   A3. When the log has no room (it holds every update since the base), the writer folds
 *       everything into a new base in the other slot, persists it, then writes its base record:
 *       it never waits for the backup.
 * The backup's consumed position lives in a second region, NAME.cursor, that it may write:
 *   u64 lpos, u64 seq, u64 csum.
 */

#define NPMU_CKPT_MAGIC "NPMUCKPT"
#define NPMU_CKPT_VERSION 1
#define NPMU_CKPT_HDR 4096
#define NPMU_CKPT_REC_OFF 512
#define NPMU_CKPT_REC 64
#define NPMU_CKPT_SLOTS_MAX 8
#define NPMU_CKPT_EPOCH_OFF 16
#define NPMU_CKPT_UPD_HDR 48 /* update record header */
#define NPMU_CKPT_UPD_MAGIC 0x5255504eu  /* "NPUR" */
#define NPMU_CKPT_SKIP_MAGIC 0x4b53504eu /* "NPSK" */

struct npmu__ckpt_hdr {
	uint32_t mode;
	uint64_t epoch;
	uint64_t state_size;
	uint64_t log_size;
	uint32_t nslots;
};

/* A commit record (overwrite) or base record (append). */
struct npmu__ckpt_rec {
	uint64_t seq;     /* overwrite: commit number; append: base number */
	uint64_t epoch;
	uint64_t length;
	uint64_t data_csum;
	uint64_t upto;    /* append: last update seq folded into the base */
	uint64_t lpos;    /* append: where updates to this base start */
};

/* An update record's header. */
struct npmu__ckpt_upd {
	uint32_t len;
	uint64_t seq;
	uint64_t epoch;
	uint64_t offset;
	uint64_t lpos;
	uint64_t csum;
};

/* npmu__ckpt_slot_bytes -- bytes one state slot takes (state_size rounded up to 4 KiB). */
uint64_t npmu__ckpt_slot_bytes(uint64_t state_size);

/* npmu__ckpt_slot_off -- region offset of slot i. */
uint64_t npmu__ckpt_slot_off(const struct npmu__ckpt_hdr *h, uint32_t i);

/* npmu__ckpt_log_off -- region offset of the log. */
uint64_t npmu__ckpt_log_off(const struct npmu__ckpt_hdr *h);

/* npmu__ckpt_region_size -- the region size a stream of this shape needs. */
uint64_t npmu__ckpt_region_size(const struct npmu__ckpt_hdr *h);

/* npmu__ckpt_hdr_encode -- the 56 header bytes. */
void npmu__ckpt_hdr_encode(const struct npmu__ckpt_hdr *h, uint8_t out[56]);

/* npmu__ckpt_hdr_decode -- check and decode a header; NPMU_E_VERSION for another version,
 * NPMU_E_CORRUPT for anything else that is not a stream header. */
int npmu__ckpt_hdr_decode(const uint8_t in[56], struct npmu__ckpt_hdr *h);

/* npmu__ckpt_rec_encode / _decode -- a 64-byte record; decode fails (NPMU_E_CORRUPT) on a bad csum. */
void npmu__ckpt_rec_encode(const struct npmu__ckpt_rec *r, uint8_t out[NPMU_CKPT_REC]);
int npmu__ckpt_rec_decode(const uint8_t in[NPMU_CKPT_REC], struct npmu__ckpt_rec *r);

/* npmu__ckpt_upd_size -- bytes an update of len payload bytes takes in the log. */
uint64_t npmu__ckpt_upd_size(uint32_t len);

/* npmu__ckpt_upd_encode -- header + payload + padding into out (npmu__ckpt_upd_size bytes). */
void npmu__ckpt_upd_encode(struct npmu__ckpt_upd *u, const void *payload, uint8_t *out);

/* npmu__ckpt_upd_check -- whether the bytes at in (avail of them) hold the valid update record
 * that is expected at lpos with sequence seq and epoch at most max_epoch; 0 and *u filled, or
 * NPMU_E_CORRUPT. A skip record at lpos gives 1 (continue at the next lap). */
int npmu__ckpt_upd_check(const uint8_t *in, size_t avail, uint64_t lpos, uint64_t seq,
			 uint64_t max_epoch, struct npmu__ckpt_upd *u);

/* npmu__ckpt_skip_encode -- a skip record for lpos (16 bytes). */
void npmu__ckpt_skip_encode(uint64_t lpos, uint8_t out[16]);

#endif
