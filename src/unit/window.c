/* window.c -- map a region's extents into one contiguous window with libpmem2 reservations. */
#include "window.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

/* npmu__window_delete -- unmap everything and release the reservation; NULLs *win_ptr. */
void npmu__window_delete(struct npmu__window **win_ptr)
{
	struct npmu__window *win = *win_ptr;
	if (!win)
		return;
	for (uint32_t i = 0; i < win->nmaps; i++)
		if (win->maps[i])
			pmem2_map_delete(&win->maps[i]);
	if (win->rsv)
		pmem2_vm_reservation_delete(&win->rsv);
	free(win->maps);
	free(win->map_off);
	free(win->file_off);
	free(win);
	*win_ptr = NULL;
}

/*
 * page_per_folio -- keep the page cache behind a mapping in single pages (no fault read-ahead).
 * After a flush every page of the pool is write-protected again, and the next network write
 * into each page faults; the file system's fault handler works on the whole folio the page
 * lies in, so with the large folios fault read-ahead builds, rewriting a flushed region costs
 * each page a whole folio's work (measured: a flushed region rewritten at half the speed of a
 * dirty one). Read-ahead is asked for explicitly instead (npmu__window_prefetch, prefetch.h).
 */
static void page_per_folio(void *addr, uint64_t len)
{
	if (madvise(addr, len, MADV_RANDOM) != 0)
		LOG_DEBUG("window: madvise(MADV_RANDOM): %s", strerror(errno));
}

/* npmu__window_prefetch -- queue every extent of the window in pf, to be read in the
 * background. */
void npmu__window_prefetch(const struct npmu__window *win, struct npmu__prefetch *pf)
{
	for (uint32_t e = 0; e < win->nmaps; e++) {
		uint64_t end = e + 1 < win->nmaps ? win->map_off[e + 1] : win->mapped;
		npmu__prefetch_add(pf, win->file_off[e], end - win->map_off[e]);
	}
}

/* npmu__window_new -- reserve a window and map every extent of region r from the pool. */
int npmu__window_new(struct npmu__pool *pool, const struct npmu__region_meta *r,
		     struct npmu__window **win_ptr)
{
	struct npmu__window *win = calloc(1, sizeof(*win));
	if (!win)
		return NPMU_E_NOMEM;
	win->maps = calloc(r->nextents, sizeof(*win->maps));
	win->map_off = calloc(r->nextents, sizeof(*win->map_off));
	win->file_off = calloc(r->nextents, sizeof(*win->file_off));
	for (uint32_t e = 0; e < r->nextents; e++)
		win->mapped += r->extents[e].npages * NPMU_PAGE_SIZE;
	if (!win->maps || !win->map_off || !win->file_off) {
		npmu__window_delete(&win);
		return NPMU_E_NOMEM;
	}
	if (pmem2_vm_reservation_new(&win->rsv, NULL, win->mapped) != 0) {
		LOG_ERR("region %s: cannot reserve %llu bytes of address space: %s", r->name,
			(unsigned long long)win->mapped, pmem2_errormsg());
		npmu__window_delete(&win);
		return NPMU_E_NOMEM;
	}
	win->addr = pmem2_vm_reservation_get_address(win->rsv);
	uint64_t off = 0;
	for (uint32_t e = 0; e < r->nextents; e++) {
		struct pmem2_config *cfg = NULL;
		uint64_t len = r->extents[e].npages * NPMU_PAGE_SIZE;
		int rc = pmem2_config_new(&cfg);
		if (rc == 0)
			rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
		if (rc == 0)
			rc = pmem2_config_set_offset(cfg, r->extents[e].start * NPMU_PAGE_SIZE);
		if (rc == 0)
			rc = pmem2_config_set_length(cfg, len);
		if (rc == 0)
			rc = pmem2_config_set_vm_reservation(cfg, win->rsv, off);
		if (rc == 0)
			rc = pmem2_map_new(&win->maps[e], cfg, pool->src);
		if (cfg)
			pmem2_config_delete(&cfg);
		win->nmaps = e + 1;
		if (rc != 0) {
			LOG_ERR("region %s: cannot map extent %u: %s", r->name, e, pmem2_errormsg());
			npmu__window_delete(&win);
			return NPMU_E_IO;
		}
		page_per_folio(pmem2_map_get_address(win->maps[e]), len);
		win->map_off[e] = off;
		win->file_off[e] = r->extents[e].start * NPMU_PAGE_SIZE;
		off += len;
	}
	*win_ptr = win;
	return 0;
}

/* for_each_piece -- call fn for each extent's piece of region bytes [off, off+len): its map,
 * address, length and offset in the pool file. */
static void for_each_piece(struct npmu__window *win, uint64_t off, uint64_t len,
			   void (*fn)(void *arg, struct pmem2_map *map, void *addr, uint64_t len,
				      uint64_t file_off),
			   void *arg)
{
	uint64_t end = off + len;
	for (uint32_t i = 0; i < win->nmaps && off < end; i++) {
		uint64_t mstart = win->map_off[i];
		uint64_t mend = mstart + pmem2_map_get_size(win->maps[i]);
		if (off >= mend)
			continue;
		uint64_t stop = end < mend ? end : mend;
		fn(arg, win->maps[i], win->addr + off, stop - off, win->file_off[i] + (off - mstart));
		off = stop;
	}
}

/* persist_piece -- (for_each_piece) make one piece durable now. */
static void persist_piece(void *arg, struct pmem2_map *map, void *addr, uint64_t len,
			  uint64_t file_off)
{
	(void)arg;
	(void)file_off;
	pmem2_get_persist_fn(map)(addr, len);
}

/* npmu__window_persist -- make region bytes [off, off+len) durable (per extent, via libpmem2). */
void npmu__window_persist(struct npmu__window *win, uint64_t off, uint64_t len)
{
	for_each_piece(win, off, len, persist_piece, NULL);
}

/* queue_piece -- (for_each_piece) queue one piece in the flush group arg. */
static void queue_piece(void *arg, struct pmem2_map *map, void *addr, uint64_t len,
			uint64_t file_off)
{
	npmu__flush_add(arg, map, addr, len, file_off);
}

/* npmu__window_flush_add -- queue region bytes [off, off+len) in group f, one piece per extent. */
void npmu__window_flush_add(struct npmu__window *win, uint64_t off, uint64_t len,
			    struct npmu__flush *f)
{
	for_each_piece(win, off, len, queue_piece, f);
}
