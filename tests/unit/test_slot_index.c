/* test_slot_index.c -- unit tests of the slot index (src/common/slot_index.c): every key in
 * the table is found, and none that is not, as keys come and go, with hashes spread and with
 * every hash the same or in a few runs that wrap around the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "npmu.h"
#include "slot_index.h"

#define SLOTS 1000

/* The table indexed: a key per slot (0: free) and how its hash is made. */
struct table {
	uint64_t key[SLOTS];
	uint32_t (*hash)(uint64_t key);
};

static uint32_t spread(uint64_t k) { return (uint32_t)(k * 2654435761u); }
static uint32_t same(uint64_t k) { (void)k; return 7; }
static uint32_t few(uint64_t k) { return (uint32_t)(k % 3) + 2045; } /* near the end: wraps */

static uint32_t hash_of(const void *t, uint32_t slot)
{
	const struct table *tb = t;
	return tb->hash(tb->key[slot]);
}

static bool is(const void *t, uint32_t slot, const void *key)
{
	return ((const struct table *)t)->key[slot] == *(const uint64_t *)key;
}

/* check -- every key present is found at its slot; some absent ones are not. */
static void check(const struct npmu__slot_index *ix, const struct table *t)
{
	for (uint32_t s = 0; s < SLOTS; s++) {
		if (!t->key[s])
			continue;
		uint64_t k = t->key[s];
		assert_int_equal(npmu__slot_index_find(ix, t->hash(k), is, &k), (int32_t)s);
	}
	for (uint64_t k = 1000001; k < 1000050; k++)
		assert_int_equal(npmu__slot_index_find(ix, t->hash(k), is, &k), -1);
}

/* churn -- fill the table, then free and refill slots in a scattered order, checking all. */
static void churn(uint32_t (*hash)(uint64_t))
{
	static struct table t;
	memset(&t, 0, sizeof(t));
	t.hash = hash;
	struct npmu__slot_index ix;
	assert_int_equal(npmu__slot_index_init(&ix, SLOTS, &t, hash_of), 0);
	assert_true(ix.size >= 2 * SLOTS);
	uint64_t next = 1;
	for (uint32_t s = 0; s < SLOTS; s++) {
		t.key[s] = next++;
		npmu__slot_index_add(&ix, s);
	}
	check(&ix, &t);
	for (int round = 0; round < 3; round++) {
		for (uint32_t n = 0; n < SLOTS / 2; n++) { /* out: a scattered half */
			uint32_t s = (n * 7919u + (uint32_t)round * 13u) % SLOTS;
			if (!t.key[s])
				continue;
			npmu__slot_index_del(&ix, s);
			t.key[s] = 0;
		}
		check(&ix, &t);
		for (uint32_t s = 0; s < SLOTS; s++) /* in again, with new keys */
			if (!t.key[s]) {
				t.key[s] = next++;
				npmu__slot_index_add(&ix, s);
			}
		check(&ix, &t);
	}
	npmu__slot_index_del(&ix, 0); /* twice: the second a no-op */
	t.key[0] = 0;
	npmu__slot_index_del(&ix, 0);
	check(&ix, &t);
	npmu__slot_index_fini(&ix);
	npmu__slot_index_fini(&ix);
}

static void index__spread_hashes(void **state)
{
	(void)state;
	churn(spread);
}

static void index__one_hash_for_all(void **state)
{
	(void)state;
	churn(same);
}

static void index__runs_wrap_around(void **state)
{
	(void)state;
	churn(few);
}

static void index__sizes(void **state)
{
	(void)state;
	struct table t = {.hash = spread};
	struct npmu__slot_index ix;
	assert_int_equal(npmu__slot_index_init(&ix, 0, &t, hash_of), NPMU_E_INVAL);
	assert_int_equal(npmu__slot_index_init(&ix, NPMU_SLOT_INDEX_MAX + 1, &t, hash_of),
			 NPMU_E_INVAL);
	assert_int_equal(npmu__slot_index_init(&ix, 1, &t, hash_of), 0);
	assert_int_equal(ix.size, 2);
	npmu__slot_index_fini(&ix);
	assert_int_equal(npmu__slot_index_init(&ix, NPMU_SLOT_INDEX_MAX, &t, hash_of), 0);
	assert_int_equal(ix.size, 131072);
	npmu__slot_index_fini(&ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(index__spread_hashes),
		cmocka_unit_test(index__one_hash_for_all),
		cmocka_unit_test(index__runs_wrap_around),
		cmocka_unit_test(index__sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
