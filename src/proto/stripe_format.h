/* stripe_format.h -- striped checkpoint sets: layout of sub-segments over units, and the member
 * header and manifest kept on every unit. */
#ifndef NPMU_STRIPE_FORMAT_H
#define NPMU_STRIPE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ec.h"
#include "npmu.h"
#include "wire.h"

/*
 * A striped set NAME (seed 004) is n member regions NAME.s0 .. NAME.s<n-1>, one per unit. A
 * checkpoint of L bytes is cut into sub-segments of S bytes, grouped k at a time (the last one
 * padded with zeros), and each group gets m parity sub-segments (ec.h). Sub-segment j of group
 * g (j < k: data, j >= k: parity) lives on member (g + j) mod n, so the k+m of a group are on
 * k+m distinct units and the parity rotates. With k = 1 the parity sub-segments are copies:
 * the mirrored layout (claim 7).
 *
 * Member region (all integers little-endian):
 *   [0, 4096)                      member header: u32 magic "NPMH", u16 format, u16 0,
 *                                  u32 index, u32 n, u32 keep, u32 k, u32 m, u64 seg_size,
 *                                  u64 marea, u64 dslot, u64 csum (CRC-64 of the bytes before)
 *   [4096 + s*marea, +marea)       manifest slot s (s < keep)
 *   [4096 + keep*marea + s*dslot, +dslot)
 *                                  data slot s: sub-segment of group g at g*S
 * A plain put writes version v to slot v % keep on every member: writing version v never
 * touches the keep-1 versions before it. A put that names its version (a dataset's part,
 * src/lib/stripe_ops.h) picks a slot holding no version it must keep; so readers find a version
 * by its manifest, in whatever slot it lies (npmu__stripe_manifest.slot).
 *
 * Manifest (the commit record of one version, identical on every member):
 *   u32 magic "NPMS", u16 format, u16 0, u32 k, u32 m, u32 n, u32 ngroups,
 *   u64 version, u64 length, u64 seg_size, u64 length_csum (CRC-64 of the checkpoint),
 *   n x unit (u8 length + "host:port" where member i was placed),
 *   ngroups*(k+m) x u64 csum of each sub-segment (group-major), u64 csum of all before it.
 * Invariants:
 *   S1. A version's manifest is written on any member only after every sub-segment of that
 *       version is written on every member the put writes; a persistent put makes each
 *       member's manifest durable in the same flush as its sub-segments, and returns once every
 *       member flushed. So once a put returned, one valid manifest anywhere means the version
 *       is complete; a put cut short by a crash may leave a manifest whose sub-segments did not
 *       all reach the media, and those fail their checksums (S2), so the version cannot be
 *       restored and restore takes the one before it (a put asked for data first flushes
 *       the data on every member before any manifest: then even a crash leaves no manifest
 *       whose data is torn). A put with members lost (their units
 *       down: a degraded put) writes the members that remain, only while every group keeps
 *       k+1 of its k+m sub-segments (k with m = 1), and its manifest only there; a member that
 *       comes back holds another version's bytes in that slot, which fail their checksums.
 *   S2. Restore takes the newest version with a valid manifest and, in every group, at least
 *       k sub-segments whose checksums match; a sub-segment that fails its checksum counts as
 *       lost, never as data.
 */

#define NPMU_STRIPE_FORMAT 1
#define NPMU_STRIPE_UNITS_MAX 64
_Static_assert(NPMU_STRIPE_UNITS_MAX == NPMU_SET_MEMBERS_MAX, "a set's lease fences them all");
#define NPMU_STRIPE_KEEP_MAX 8
#define NPMU_STRIPE_HDR 4096u
#define NPMU_STRIPE_SEG_MIN 4096u
#define NPMU_STRIPE_SEG_MAX (64u << 20)

/* The shape of one version. */
struct npmu__stripe_layout {
	uint32_t k, m, n;
	uint64_t seg_size;
	uint64_t length;
	uint32_t ngroups;
};

/* npmu__stripe_layout_init -- check k, m, n and S and compute the groups for length bytes. */
int npmu__stripe_layout_init(uint32_t k, uint32_t m, uint32_t n, uint64_t seg_size,
			     uint64_t length, struct npmu__stripe_layout *out);

/* npmu__stripe_member_of -- the member holding sub-segment j of group g. */
static inline uint32_t npmu__stripe_member_of(const struct npmu__stripe_layout *l, uint32_t g,
					      uint32_t j)
{
	return (g + j) % l->n;
}

/* A member header. */
struct npmu__stripe_member {
	uint32_t index, n, keep, k, m;
	uint64_t seg_size, marea, dslot;
};

/* npmu__stripe_marea -- bytes of a manifest slot for up to ngroups groups. */
uint64_t npmu__stripe_marea(uint32_t n, uint32_t k, uint32_t m, uint32_t ngroups);

/* npmu__stripe_manifest_off / _data_off / _member_size -- where things are in a member. */
uint64_t npmu__stripe_manifest_off(const struct npmu__stripe_member *h, uint32_t slot);
uint64_t npmu__stripe_data_off(const struct npmu__stripe_member *h, uint32_t slot);
uint64_t npmu__stripe_member_size(const struct npmu__stripe_member *h);

/* npmu__stripe_member_encode / _decode -- the member header page (decode: NPMU_E_CORRUPT or
 * NPMU_E_VERSION). */
void npmu__stripe_member_encode(const struct npmu__stripe_member *h, uint8_t out[64]);
int npmu__stripe_member_decode(const uint8_t in[64], struct npmu__stripe_member *h);

/* A decoded manifest. */
struct npmu__stripe_manifest {
	struct npmu__stripe_layout layout;
	uint64_t version;
	uint64_t length_csum;
	char unit[NPMU_STRIPE_UNITS_MAX][NPMU_ADDR_STR_MAX + 1];
	uint64_t *csums; /* ngroups*(k+m), owned (npmu__stripe_manifest_free) */
	uint32_t slot;   /* the slot it was read from (not on media; 0 when encoded) */
};

/* npmu__stripe_manifest_len -- bytes of the encoded manifest. */
size_t npmu__stripe_manifest_len(const struct npmu__stripe_manifest *mf);

/* npmu__stripe_manifest_encode -- into buf; returns the length or NPMU_E_TOOBIG. */
int64_t npmu__stripe_manifest_encode(const struct npmu__stripe_manifest *mf, uint8_t *buf,
				     size_t buflen);

/* npmu__stripe_manifest_decode -- parse and check a manifest slot (len: the slot's bytes;
 * trailing bytes after the manifest are ignored). NPMU_E_CORRUPT, NPMU_E_VERSION, NPMU_E_NOMEM
 * or 0 (then free with npmu__stripe_manifest_free). */
int npmu__stripe_manifest_decode(const uint8_t *buf, size_t len,
				 struct npmu__stripe_manifest *mf);

/* npmu__stripe_manifest_free -- free the checksums. */
void npmu__stripe_manifest_free(struct npmu__stripe_manifest *mf);

#endif
