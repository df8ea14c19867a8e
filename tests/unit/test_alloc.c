/* test_alloc.c -- unit tests of the page allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "npmu.h"

/* get__single_run: a fresh allocator gives one extent right after the reserved pages. */
static void get__single_run(void **state)
{
	(void)state;
	struct npmu__alloc a;
	assert_int_equal(npmu__alloc_init(&a, 100, 10), 0);
	struct npmu__extent e[4];
	assert_int_equal(npmu__alloc_get(&a, 20, NULL, e, 4), 1);
	assert_int_equal(e[0].start, 10);
	assert_int_equal(e[0].npages, 20);
	assert_int_equal(a.nfree, 70);
	npmu__alloc_fini(&a);
}

/* get__fragmented: with no run long enough, the first runs that add up are taken. */
static void get__fragmented(void **state)
{
	(void)state;
	struct npmu__alloc a;
	assert_int_equal(npmu__alloc_init(&a, 40, 0), 0);
	struct npmu__extent e[8], x;
	for (int i = 0; i < 4; i++)
		assert_int_equal(npmu__alloc_get(&a, 10, NULL, &x, 1), 1);
	npmu__alloc_release(&a, &(struct npmu__extent){0, 5});
	npmu__alloc_release(&a, &(struct npmu__extent){20, 5});
	npmu__alloc_release(&a, &(struct npmu__extent){35, 5});
	assert_int_equal(npmu__alloc_get(&a, 12, NULL, e, 8), 3);
	assert_int_equal(e[0].start, 0);
	assert_int_equal(e[1].start, 20);
	assert_int_equal(e[2].start, 35);
	assert_int_equal(e[2].npages, 2);
	assert_int_equal(a.nfree, 3);
	npmu__alloc_fini(&a);
}

/* get__extends_in_place: growth after an extent with free pages behind it extends that extent. */
static void get__extends_in_place(void **state)
{
	(void)state;
	struct npmu__alloc a;
	assert_int_equal(npmu__alloc_init(&a, 64, 0), 0);
	struct npmu__extent first, e[4];
	assert_int_equal(npmu__alloc_get(&a, 8, NULL, &first, 1), 1);
	assert_int_equal(npmu__alloc_get(&a, 8, &first, e, 4), 1);
	assert_int_equal(e[0].start, first.start);
	assert_int_equal(e[0].npages, 16);
	assert_true(npmu__alloc_used(&a, 15));
	assert_false(npmu__alloc_used(&a, 16));
	npmu__alloc_fini(&a);
}

/* get__extends_then_elsewhere: a partial extension in place plus new runs never overlap. */
static void get__extends_then_elsewhere(void **state)
{
	(void)state;
	struct npmu__alloc a;
	assert_int_equal(npmu__alloc_init(&a, 64, 0), 0);
	struct npmu__extent first, x, e[4];
	assert_int_equal(npmu__alloc_get(&a, 4, NULL, &first, 1), 1);   /* [0,4) */
	assert_int_equal(npmu__alloc_get(&a, 8, NULL, &x, 1), 1);       /* [4,12) */
	npmu__alloc_release(&a, &x);                                       /* free again */
	assert_int_equal(npmu__alloc_get(&a, 1, NULL, &x, 1), 1);        /* [4,5) */
	npmu__alloc_release(&a, &x);
	assert_int_equal(npmu__alloc_claim(&a, &(struct npmu__extent){13, 1}), 0); /* 9 free after first */
	int n = npmu__alloc_get(&a, 16, &first, e, 4);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].start, 0);
	assert_int_equal(e[0].npages, 13); /* extended over [4,13) */
	assert_true(e[1].start >= 14);     /* the rest from elsewhere, not [4,11) again */
	assert_int_equal(e[1].npages, 7);
	assert_int_equal(a.nfree, 64 - 4 - 1 - 16);
	npmu__alloc_fini(&a);
}

/* get__nospc_takes_nothing: a request that cannot be met leaves every page free. */
static void get__nospc_takes_nothing(void **state)
{
	(void)state;
	struct npmu__alloc a;
	assert_int_equal(npmu__alloc_init(&a, 64, 0), 0);
	struct npmu__extent e[2], x;
	assert_int_equal(npmu__alloc_get(&a, 65, NULL, e, 2), NPMU_E_NOSPC);
	for (int i = 0; i < 8; i++)
		assert_int_equal(npmu__alloc_get(&a, 8, NULL, &x, 1), 1);
	for (int i = 0; i < 4; i++)
		npmu__alloc_release(&a, &(struct npmu__extent){(uint64_t)i * 16, 8});
	/* 32 pages free in 4 runs, but only 2 extents allowed */
	assert_int_equal(npmu__alloc_get(&a, 24, NULL, e, 2), NPMU_E_NOSPC);
	assert_int_equal(a.nfree, 32);
	npmu__alloc_fini(&a);
}

/* claim__double_owned: claiming a page twice, or past the end, is corruption. */
static void claim__double_owned(void **state)
{
	(void)state;
	struct npmu__alloc a;
	assert_int_equal(npmu__alloc_init(&a, 64, 4), 0);
	assert_int_equal(npmu__alloc_claim(&a, &(struct npmu__extent){10, 5}), 0);
	assert_int_equal(npmu__alloc_claim(&a, &(struct npmu__extent){14, 2}), NPMU_E_CORRUPT);
	assert_int_equal(npmu__alloc_claim(&a, &(struct npmu__extent){2, 1}), NPMU_E_CORRUPT);
	assert_int_equal(npmu__alloc_claim(&a, &(struct npmu__extent){60, 5}), NPMU_E_CORRUPT);
	assert_int_equal(npmu__alloc_claim(&a, &(struct npmu__extent){20, 0}), NPMU_E_CORRUPT);
	assert_int_equal(a.nfree, 64 - 4 - 5);
	npmu__alloc_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get__single_run),
		cmocka_unit_test(get__fragmented),
		cmocka_unit_test(get__extends_in_place),
		cmocka_unit_test(get__extends_then_elsewhere),
		cmocka_unit_test(get__nospc_takes_nothing),
		cmocka_unit_test(claim__double_owned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
