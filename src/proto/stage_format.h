/* stage_format.h -- a striped set's staging region: versions written once, plain, by their writer,
 * waiting for an encoder to protect them (seed 004 claims 11-12). */
#ifndef NPMU_STAGE_FORMAT_H
#define NPMU_STAGE_FORMAT_H

#include <stdint.h>

/*
 * Set NAME's staging region is NAME.stg, one region on one unit (the writer's choice, else the
 * manager's). A staged put writes a version's bytes there, plain, with one placed or persistent
 * write, and returns: the version is then staged, not yet protected. An encoder (npmu-encoder,
 * npmu_stripe_protect) reads it with one-sided reads, puts it into the set as that version
 * (parity, manifests: stripe_format.h), and from then on the slot may be written again.
 *
 * Region layout (all integers little-endian):
 *   [0, 128)                    header: u32 magic "NPSG", u16 format, u16 flags (bit 0: the
 *                               set is a dataset's part, dataset_format.h D3), u32 slots,
 *                               u32 durability (of the protected versions, enum npmu_durability),
 *                               u64 slot_size, the set's shape (u32 k, m, n, keep, u64 seg_size,
 *                               u64 capacity, u32 mirror), u64 csum (CRC-64 of the bytes before)
 *   [512 + s*64, +64)           slot record s: u32 magic "NPSR", u16 format, u16 0, u32 slot,
 *                               u32 0, u64 version, u64 length, u64 length_csum (CRC-64 of the
 *                               staged bytes), u64 staged_ms (wall clock), u64 csum
 *   [4096 + s*slot_size, ...)   slot s's bytes (slot_size a multiple of 4096)
 *
 * Rules (the writer holds the lease of NAME.stg, the encoder the set's lease):
 *   G1. A version is staged in a free slot: one with no valid record, or whose version the set
 *       protects, or has superseded (a newer version's manifest is on some member). Its bytes
 *       are written before its record; a staged put returns once both are placed (or flushed
 *       together, persistent staging). A record whose bytes do not match its length_csum is torn:
 *       never reported staged, never protected, and its slot is free.
 *   G2. A staged version's number is above every version the set holds and every valid record's.
 *   G3. An encoder protects staged versions oldest first, under the set's lease, as the put of
 *       that version number with the strict order of stripe_ops.h (data durable on every member
 *       before any manifest). It checks the bytes it read against length_csum first. Killed
 *       midway, it leaves manifests on some members at most, over durable data; the version is
 *       not yet protected (G4), its slot is not free, and the next encoder puts it again into
 *       the same slot.
 *   G4. Version v is protected once a manifest of v with the record's length_csum is on every
 *       member that answers; superseded once not protected and a newer version's manifest is on
 *       some member; lost while its staged copy cannot be read (its unit down, the region gone,
 *       its bytes torn) and it is neither. A later staged version never overwrites a protected
 *       one: the set's slots are chosen by the set's put (stripe_format.h).
 *   G5. A dataset's part (header flag bit 0): its version numbers are the dataset's, chosen by
 *       the writer. A staged put of version v where the set or the staging already holds v or
 *       above (a job restarted from an older version) is not staged: the writer waits until
 *       nothing in the staging waits for an encoder, then puts v synchronously (D3). The
 *       encoder's put reads the dataset's catalog under the part's lease and never overwrites
 *       a listed version's slot (D2). A part's staged version is superseded (G4) only by a put
 *       of the same version with other bytes: a newer version put synchronously (its staging
 *       unit down meanwhile) leaves it staged, its slot kept, for an encoder to protect, since
 *       the dataset may still list it.
 */

#define NPMU_STAGE_FORMAT 1
#define NPMU_STAGE_SUFFIX ".stg"
#define NPMU_STAGE_HDR 4096u
#define NPMU_STAGE_HDR_LEN 128u
#define NPMU_STAGE_SLOTS_MAX 8
#define NPMU_STAGE_REC_OFF 512u
#define NPMU_STAGE_REC_LEN 64u
#define NPMU_STAGE_DATASET_PART 1u /* header flag */

/* The staging header. */
struct npmu__stage_hdr {
	uint32_t slots, durability;
	uint64_t slot_size;
	uint32_t k, m, n, keep, mirror;
	uint32_t flags; /* NPMU_STAGE_DATASET_PART */
	uint64_t seg_size, capacity;
};

/* A slot record. */
struct npmu__stage_rec {
	uint32_t slot;
	uint64_t version, length, length_csum, staged_ms;
};

/* npmu__stage_region_size -- the bytes of a staging region of h's shape. */
uint64_t npmu__stage_region_size(const struct npmu__stage_hdr *h);

/* npmu__stage_data_off -- where slot s's bytes start. */
uint64_t npmu__stage_data_off(const struct npmu__stage_hdr *h, uint32_t s);

/* npmu__stage_hdr_encode / _decode -- the header (NPMU_STAGE_HDR_LEN bytes) (decode: NPMU_E_CORRUPT for a header
 * that is not one, or is out of bounds; NPMU_E_VERSION for another format). */
void npmu__stage_hdr_encode(const struct npmu__stage_hdr *h, uint8_t out[NPMU_STAGE_HDR_LEN]);
int npmu__stage_hdr_decode(const uint8_t in[NPMU_STAGE_HDR_LEN], struct npmu__stage_hdr *h);

/* npmu__stage_rec_encode / _decode -- a 64-byte slot record (decode: NPMU_E_NOENT for an empty
 * record, all zeros; NPMU_E_CORRUPT for a torn or foreign one, or one that does not fit h). */
void npmu__stage_rec_encode(const struct npmu__stage_rec *r, uint8_t out[64]);
int npmu__stage_rec_decode(const uint8_t in[64], const struct npmu__stage_hdr *h, uint32_t slot,
			   struct npmu__stage_rec *r);

#endif
