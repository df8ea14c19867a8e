/* alloc.c -- bitmap page allocator: first fit for one run, else the first runs that add up. */
#include "alloc.h"

#include <stdlib.h>

#include "npmu.h"

/* set_range -- mark pages [start, start+n) used or free. */
static void set_range(struct npmu__alloc *a, uint64_t start, uint64_t n, bool used)
{
	for (uint64_t p = start; p < start + n; p++) {
		uint64_t m = 1ull << (p & 63);
		if (used)
			a->bits[p >> 6] |= m;
		else
			a->bits[p >> 6] &= ~m;
	}
	if (used)
		a->nfree -= n;
	else
		a->nfree += n;
}

/* npmu__alloc_used -- whether a page is in use. */
bool npmu__alloc_used(const struct npmu__alloc *a, uint64_t page)
{
	return (a->bits[page >> 6] >> (page & 63)) & 1;
}

/* npmu__alloc_init -- an allocator over npages pages, with pages [0, reserved) in use. */
int npmu__alloc_init(struct npmu__alloc *a, uint64_t npages, uint64_t reserved)
{
	if (reserved > npages)
		return NPMU_E_INVAL;
	a->bits = calloc((npages + 63) / 64, sizeof(uint64_t));
	if (!a->bits)
		return NPMU_E_NOMEM;
	a->npages = npages;
	a->nfree = npages;
	set_range(a, 0, reserved, true);
	return 0;
}

/* npmu__alloc_fini -- free the bitmap. */
void npmu__alloc_fini(struct npmu__alloc *a)
{
	free(a->bits);
	a->bits = NULL;
}

/* npmu__alloc_claim -- mark an extent used; NPMU_E_CORRUPT if out of range or already used. */
int npmu__alloc_claim(struct npmu__alloc *a, const struct npmu__extent *e)
{
	if (e->npages == 0 || e->start >= a->npages || e->npages > a->npages - e->start)
		return NPMU_E_CORRUPT;
	for (uint64_t p = e->start; p < e->start + e->npages; p++)
		if (npmu__alloc_used(a, p))
			return NPMU_E_CORRUPT;
	set_range(a, e->start, e->npages, true);
	return 0;
}

/* npmu__alloc_release -- mark an extent free again. */
void npmu__alloc_release(struct npmu__alloc *a, const struct npmu__extent *e)
{
	set_range(a, e->start, e->npages, false);
}

/* free_run_at -- length of the free run starting at page p, up to limit pages. */
static uint64_t free_run_at(const struct npmu__alloc *a, uint64_t p, uint64_t limit)
{
	uint64_t n = 0;
	while (p + n < a->npages && n < limit && !npmu__alloc_used(a, p + n))
		n++;
	return n;
}

/* next_free -- the first free page at or after p, or npages. */
static uint64_t next_free(const struct npmu__alloc *a, uint64_t p)
{
	while (p < a->npages) {
		uint64_t w = a->bits[p >> 6] | ((1ull << (p & 63)) - 1);
		if (w != ~0ull) {
			p = (p & ~63ull) + (uint64_t)__builtin_ctzll(~w);
			return p < a->npages ? p : a->npages;
		}
		p = (p & ~63ull) + 64;
	}
	return a->npages;
}

/* undo -- give back what npmu__alloc_get took so far (only the growth of an extended extent). */
static void undo(struct npmu__alloc *a, const struct npmu__extent *after,
		 const struct npmu__extent *out, int n)
{
	for (int i = 0; i < n; i++) {
		if (after && i == 0 && out[0].start == after->start)
			set_range(a, after->start + after->npages, out[0].npages - after->npages, false);
		else
			set_range(a, out[i].start, out[i].npages, false);
	}
}

/* npmu__alloc_get -- allocate npages pages as at most max_out extents, marking them as it goes. */
int npmu__alloc_get(struct npmu__alloc *a, uint64_t npages, const struct npmu__extent *after,
		    struct npmu__extent *out, int max_out)
{
	if (npages == 0 || max_out < 1)
		return NPMU_E_INVAL;
	if (npages > a->nfree)
		return NPMU_E_NOSPC;
	int n = 0;
	uint64_t need = npages;
	if (after) {
		uint64_t end = after->start + after->npages;
		uint64_t run = end < a->npages ? free_run_at(a, end, need) : 0;
		if (run > 0) {
			set_range(a, end, run, true);
			out[n++] = (struct npmu__extent){after->start, after->npages + run};
			need -= run;
		}
	}
	/* One run long enough: take it whole. */
	for (uint64_t p = next_free(a, 0); need > 0 && n < max_out && p < a->npages;) {
		uint64_t run = free_run_at(a, p, need);
		if (run == need) {
			set_range(a, p, need, true);
			out[n++] = (struct npmu__extent){p, need};
			need = 0;
			break;
		}
		p = next_free(a, p + run);
	}
	/* Otherwise the first runs that add up. */
	while (need > 0) {
		uint64_t p = next_free(a, 0);
		if (n == max_out || p >= a->npages) {
			undo(a, after, out, n);
			return NPMU_E_NOSPC;
		}
		uint64_t run = free_run_at(a, p, need);
		set_range(a, p, run, true);
		out[n++] = (struct npmu__extent){p, run};
		need -= run;
	}
	return n;
}
