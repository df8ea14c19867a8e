/* window.h -- translation: a region's discontiguous pool extents mapped into one contiguous window. */
#ifndef NPMU_WINDOW_H
#define NPMU_WINDOW_H

#include <libpmem2.h>
#include <stdint.h>

#include "flush.h"
#include "pool.h"
#include "prefetch.h"

/*
 * A window is a contiguous virtual range reserved with libpmem2 into which each extent of a
 * region is mapped (MAP_SHARED, at the extent's file offset) at its place in the region.
 * The kernel's page tables then do the virtual-to-physical translation of the seeds, and one
 * memory registration covers the whole region. Offset o of the region is addr + o.
 */
struct npmu__window {
	struct pmem2_vm_reservation *rsv;
	uint32_t nmaps;
	struct pmem2_map **maps;   /* one per extent */
	uint64_t *map_off;         /* region offset where each map starts */
	uint64_t *file_off;        /* pool file offset of each map */
	uint8_t *addr;             /* region offset 0 */
	uint64_t mapped;           /* bytes mapped (whole pages) */
};

/* npmu__window_prefetch -- queue every extent of the window in pf, to be read in the
 * background. */
void npmu__window_prefetch(const struct npmu__window *win, struct npmu__prefetch *pf);

/* npmu__window_new -- reserve a window and map every extent of region r from the pool. */
int npmu__window_new(struct npmu__pool *pool, const struct npmu__region_meta *r,
		     struct npmu__window **win_ptr);

/* npmu__window_delete -- unmap everything and release the reservation; NULLs *win_ptr. */
void npmu__window_delete(struct npmu__window **win_ptr);

/* npmu__window_persist -- make region bytes [off, off+len) durable (per extent, via libpmem2). */
void npmu__window_persist(struct npmu__window *win, uint64_t off, uint64_t len);

/* npmu__window_flush_add -- queue region bytes [off, off+len) in group f (per extent). */
void npmu__window_flush_add(struct npmu__window *win, uint64_t off, uint64_t len,
			    struct npmu__flush *f);

#endif
