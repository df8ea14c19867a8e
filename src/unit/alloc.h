/* alloc.h -- the page allocator of a pool: a bitmap of used pages rebuilt from the region table. */
#ifndef NPMU_ALLOC_H
#define NPMU_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

/* A run of contiguous pool pages. */
struct npmu__extent {
	uint64_t start;  /* first page */
	uint64_t npages; /* > 0 */
};

/*
 * The allocator keeps no state on media: at open it is rebuilt from the extents recorded in
 * the metadata, so a crash can neither leak a page nor give one page to two regions (a page
 * claimed twice is reported as corruption by npmu__alloc_claim()).
 */
struct npmu__alloc {
	uint64_t npages;  /* pages in the pool */
	uint64_t nfree;   /* free pages */
	uint64_t *bits;   /* bit set: page in use */
};

/* npmu__alloc_init -- an allocator over npages pages, with pages [0, reserved) in use. */
int npmu__alloc_init(struct npmu__alloc *a, uint64_t npages, uint64_t reserved);

/* npmu__alloc_fini -- free the bitmap. */
void npmu__alloc_fini(struct npmu__alloc *a);

/* npmu__alloc_claim -- mark an extent used; NPMU_E_CORRUPT if out of range or already used. */
int npmu__alloc_claim(struct npmu__alloc *a, const struct npmu__extent *e);

/* npmu__alloc_release -- mark an extent free again. */
void npmu__alloc_release(struct npmu__alloc *a, const struct npmu__extent *e);

/*
 * npmu__alloc_get -- allocate npages pages as at most max_out extents (one if any free run
 * is long enough, otherwise the first runs that add up). When after != NULL, first try to
 * extend that extent in place. Returns the number of extents written to out (the first may
 * be an extension of *after: same start, larger npages), or NPMU_E_NOSPC with nothing taken.
 */
int npmu__alloc_get(struct npmu__alloc *a, uint64_t npages, const struct npmu__extent *after,
		    struct npmu__extent *out, int max_out);

/* npmu__alloc_used -- whether a page is in use. */
bool npmu__alloc_used(const struct npmu__alloc *a, uint64_t page);

#endif
