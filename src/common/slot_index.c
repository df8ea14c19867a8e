/* slot_index.c -- an index of a table's slots by key (slot_index.h). */
#include "slot_index.h"

#include <stdlib.h>

#include "errors.h"

/* npmu__slot_index_init -- an empty index for `slots` slots. */
int npmu__slot_index_init(struct npmu__slot_index *ix, uint32_t slots, const void *table,
			  uint32_t (*hash_of)(const void *table, uint32_t slot))
{
	*ix = (struct npmu__slot_index){.table = table, .hash_of = hash_of};
	if (slots == 0 || slots > NPMU_SLOT_INDEX_MAX)
		return NPMU_E_INVAL;
	for (ix->size = 2; ix->size < 2 * slots; ix->size *= 2)
		; /* (a power of two, never over half full) */
	ix->at = calloc(ix->size, sizeof(*ix->at));
	return ix->at ? 0 : NPMU_E_NOMEM;
}

/* npmu__slot_index_fini -- free it. */
void npmu__slot_index_fini(struct npmu__slot_index *ix)
{
	free(ix->at);
	ix->at = NULL;
	ix->size = 0;
}

/* next -- the entry after h, wrapping. */
static uint32_t next(const struct npmu__slot_index *ix, uint32_t h)
{
	return (h + 1) & (ix->size - 1);
}

/* npmu__slot_index_find -- the run from the hash's home, until an empty entry. */
int32_t npmu__slot_index_find(const struct npmu__slot_index *ix, uint32_t hash,
			      bool (*match)(const void *table, uint32_t slot, const void *key),
			      const void *key)
{
	for (uint32_t h = hash & (ix->size - 1); ix->at[h]; h = next(ix, h))
		if (match(ix->table, ix->at[h] - 1u, key))
			return (int32_t)ix->at[h] - 1;
	return -1;
}

/* npmu__slot_index_add -- into the first empty entry from its home on. */
void npmu__slot_index_add(struct npmu__slot_index *ix, uint32_t slot)
{
	uint32_t h = ix->hash_of(ix->table, slot) & (ix->size - 1);
	while (ix->at[h])
		h = next(ix, h);
	ix->at[h] = (uint16_t)(slot + 1);
}

/* npmu__slot_index_del -- out, the run after it shifted back into the gap: an entry may fill
 * the gap unless its home lies cyclically in (gap, its place]. */
void npmu__slot_index_del(struct npmu__slot_index *ix, uint32_t slot)
{
	const uint32_t mask = ix->size - 1;
	uint32_t gap = ix->hash_of(ix->table, slot) & mask;
	while (ix->at[gap] && ix->at[gap] != slot + 1)
		gap = next(ix, gap);
	if (!ix->at[gap])
		return;
	for (uint32_t j = next(ix, gap); ix->at[j]; j = next(ix, j)) {
		uint32_t home = ix->hash_of(ix->table, ix->at[j] - 1u) & mask;
		if (((j - home) & mask) >= ((j - gap) & mask)) {
			ix->at[gap] = ix->at[j];
			gap = j;
		}
	}
	ix->at[gap] = 0;
}

/* npmu__hash_bytes -- FNV-1a over the bytes. */
uint32_t npmu__hash_bytes(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}
