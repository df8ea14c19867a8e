/* grow.h -- room for one more element in a growable array (the one pattern npmu writes for it). */
#ifndef NPMU_GROW_H
#define NPMU_GROW_H

#include <stdint.h>
#include <stdlib.h>

#include "npmu.h" /* NPMU_E_* */

/*
 * npmu__grow -- the array arr (capacity *cap, elements of elem bytes) with room for element n:
 * arr itself, or a larger copy (doubling from first, never beyond max; 0: no limit), *cap
 * updated. NULL with *rc set to NPMU_E_LIMIT (max reached) or NPMU_E_NOMEM; arr is then
 * unchanged and still the caller's.
 */
static inline void *npmu__grow(void *arr, uint32_t *cap, uint32_t n, size_t elem, uint32_t first,
			       uint32_t max, int *rc)
{
	*rc = 0;
	if (n < *cap)
		return arr;
	uint32_t c = *cap ? 2 * *cap : first;
	if (max && c > max)
		c = max;
	void *p = c > n ? realloc(arr, (size_t)c * elem) : NULL;
	if (!p) {
		*rc = c > n ? NPMU_E_NOMEM : NPMU_E_LIMIT;
		return NULL;
	}
	*cap = c;
	return p;
}

#endif
