/* slot_index.h -- an index of a table's slots by key: open addressing, linear probing. */
#ifndef NPMU_SLOT_INDEX_H
#define NPMU_SLOT_INDEX_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A table of up to NPMU_SLOT_INDEX_MAX slots (the caller's: the sessions of a server, the
 * return addresses it knows) is found by key through this index: an array of slot + 1 (0:
 * empty) of a power-of-two size at least twice the table's, so never over half full; a key's
 * slot is at the key's hash's home or after it, with no empty entry in between. Removing an
 * entry moves later entries of the same run back into the gap (backward shift), so lookups
 * never cross tombstones and the index never needs rebuilding. The caller keeps the keys in
 * its table and says, through the callbacks, what a slot's hash is and whether a slot holds
 * a key. Not thread-safe: the table's owner serialises it with the table.
 */
#define NPMU_SLOT_INDEX_MAX 65534

struct npmu__slot_index {
	uint32_t size;  /* entries: a power of two, at least twice the slots */
	uint16_t *at;   /* slot + 1, or 0 */
	const void *table;
	uint32_t (*hash_of)(const void *table, uint32_t slot); /* a slot's key's hash */
};

/* npmu__slot_index_init -- an empty index of a table of `slots` slots (1..NPMU_SLOT_INDEX_MAX);
 * NPMU_E_INVAL, NPMU_E_NOMEM. */
int npmu__slot_index_init(struct npmu__slot_index *ix, uint32_t slots, const void *table,
			  uint32_t (*hash_of)(const void *table, uint32_t slot));

/* npmu__slot_index_fini -- free it (a no-op on one never made, or made twice). */
void npmu__slot_index_fini(struct npmu__slot_index *ix);

/* npmu__slot_index_find -- the slot whose key has `hash` and for which match(table, slot, key)
 * says yes, or -1. */
int32_t npmu__slot_index_find(const struct npmu__slot_index *ix, uint32_t hash,
			      bool (*match)(const void *table, uint32_t slot, const void *key),
			      const void *key);

/* npmu__slot_index_add -- slot (its key in the table already, not in the index yet) in. */
void npmu__slot_index_add(struct npmu__slot_index *ix, uint32_t slot);

/* npmu__slot_index_del -- slot (its key still in the table) out; a no-op if not in. */
void npmu__slot_index_del(struct npmu__slot_index *ix, uint32_t slot);

/* npmu__hash_bytes -- a hash of len bytes (FNV-1a), for keys such as addresses. */
uint32_t npmu__hash_bytes(const void *p, uint32_t len);

#endif
