/* dataset_format.h -- a dataset's catalog: its shape and its complete versions, kept as a small
 * mirrored striped set beside the parts. */
#ifndef NPMU_DATASET_FORMAT_H
#define NPMU_DATASET_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "npmu.h"

/*
 * A dataset NAME (include/npmu.h) is:
 *   NAME.pP   part P (P = 0, 1, ... in decimal): a striped set (stripe_format.h) whose
 *             version v is part P of dataset version v, in a slot chosen by the rule of
 *             src/lib/stripe_ops.h so that no version the catalog keeps is overwritten;
 *   NAME.ds   the catalog: a striped set in the mirrored layout (m + 1 full copies, so it
 *             survives whatever a part survives), whose newest version is the one below.
 * A dataset version is complete exactly when the catalog lists it; the catalog is changed
 * only under its set's lease (read, change, put as its next version), so commits, pins and
 * deletion are serialised and each is atomic (stripe_format.h S1).
 *
 * Catalog (all integers little-endian):
 *   u32 magic "NPMD", u16 format, u16 flags (bit 0: being deleted),
 *   u32 k, u32 m, u32 n, u32 mirror        each part's protection
 *   u64 seg_size, u64 capacity              (capacity 0: each part's first put's size)
 *   u32 keep, u32 pins                      complete versions kept; pins allowed besides
 *   u32 nversions, u32 0
 *   nversions x { u64 version, u64 label, u32 parts, u32 flags (bit 0: pinned; bit 1: staged,
 *                 format 2 only), parts x { u64 length, u64 csum } }
 *                                           newest first, versions strictly falling
 *   u64 CRC-64 of everything before
 * csum is the CRC-64 of the part's bytes as committed: a reader restores a part only from
 * the write of that version the commit saw (stripe_ops.h, npmu__stripe_read_range).
 * A catalog is written in format 1 unless a listed version has the staged flag (format 2, so
 * that a library that does not know staging says "another format" rather than misreading it).
 *
 * Invariants:
 *   D1. Every version listed is complete: each of its parts held a manifest of that version
 *       (every sub-segment durable, S1) with these lengths and checksums when it was listed.
 *   D2. The catalog lists the newest `keep` complete versions and the pinned ones, nothing
 *       else; a part's put never overwrites a listed version's slot, nor that of the newest
 *       version it holds between the newest listed one and its own (one being committed).
 *       So a part needs keep + pins + 2 slots.
 *   D3. Staged parts (stage_format.h; npmu_dataset_stage): a part whose version is only in its
 *       staging region NAME.pP.stg when it is committed, or on some of its members only, is
 *       listed with that staging record's length and checksum, and the version is flagged
 *       staged. Such a version stays readable while each part is protected or its staging
 *       copy is; a handle that puts drops the newest listed version from the catalog when a
 *       part of it is neither (its staging unit died before an encoder protected it), so the
 *       job resumes from the version before and numbers its next one after it. A part put
 *       synchronously (a restarted job's, or its staging unit down) supersedes only a staged
 *       copy of the same version (stage_format.h G5): older staged versions stay for an
 *       encoder, their slots kept.
 */

#define NPMU_DS_FORMAT 1        /* without staged versions */
#define NPMU_DS_FORMAT_STAGED 2 /* with */
#define NPMU_DS_KEEP_MAX 4
#define NPMU_DS_PINS_MAX 2
#define NPMU_DS_VERSIONS_MAX (NPMU_DS_KEEP_MAX + NPMU_DS_PINS_MAX)
#define NPMU_DS_HEAD 56u
#define NPMU_DS_VERSION_HEAD 24u
/* the largest catalog: every version with the most parts */
#define NPMU_DS_CATALOG_MAX                                                                        \
	(NPMU_DS_HEAD + NPMU_DS_VERSIONS_MAX * (NPMU_DS_VERSION_HEAD + 16u * NPMU_DATASET_PARTS_MAX) + \
	 8u)
#define NPMU_DS_FLAG_DELETING 1u
#define NPMU_DS_VERSION_PINNED 1u
#define NPMU_DS_VERSION_STAGED 2u

/* One complete version as the catalog lists it. */
struct npmu__ds_version {
	uint64_t version, label;
	uint32_t parts;
	bool pinned;
	bool staged;      /* some part was staged, not protected, when it was listed (D3) */
	uint64_t *length; /* parts entries each, owned by the catalog */
	uint64_t *csum;
};

/* A decoded catalog. */
struct npmu__ds_catalog {
	uint32_t flags;
	uint32_t k, m, n;
	bool mirror;
	uint64_t seg_size, capacity;
	uint32_t keep, pins;
	uint32_t nversions;
	struct npmu__ds_version v[NPMU_DS_VERSIONS_MAX + 1]; /* one more while a commit prunes */
};

/* npmu__ds_encode -- into a new buffer (*out, freed by the caller) of *len bytes. */
int npmu__ds_encode(const struct npmu__ds_catalog *cat, void **out, uint64_t *len);

/* npmu__ds_decode -- parse and check a catalog: NPMU_E_CORRUPT, NPMU_E_VERSION, NPMU_E_NOMEM
 * or 0 (then free with npmu__ds_free). */
int npmu__ds_decode(const void *buf, uint64_t len, struct npmu__ds_catalog *cat);

/* npmu__ds_free -- free the versions' arrays. */
void npmu__ds_free(struct npmu__ds_catalog *cat);

/* npmu__ds_find -- the listed version `version`, or NULL. */
const struct npmu__ds_version *npmu__ds_find(const struct npmu__ds_catalog *cat, uint64_t version);

/* npmu__ds_add -- list a new newest version (taking ownership of length and csum), then drop
 * what D2 no longer keeps: the complete versions beyond the newest `keep` that are not pinned.
 * NPMU_E_INVAL when version is not above the newest listed. */
int npmu__ds_add(struct npmu__ds_catalog *cat, struct npmu__ds_version *v);

/* npmu__ds_prune -- drop what D2 no longer keeps (after an unpin). */
void npmu__ds_prune(struct npmu__ds_catalog *cat);

/* npmu__ds_drop -- unlist version `version` (one that cannot be read: D3); false when it is
 * not listed. */
bool npmu__ds_drop(struct npmu__ds_catalog *cat, uint64_t version);

#endif
