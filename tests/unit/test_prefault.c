/* test_prefault.c -- unit tests of faulting a fresh buffer's pages in beside its writer. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prefault.h"

#define LEN (64u << 20)

/* resident -- how many of the pages of [p, p+len) are in memory. */
static size_t resident(void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, count = 0;
	unsigned char *vec = malloc(n);
	assert_non_null(vec);
	assert_int_equal(mincore(p, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

/* fresh -- an untouched anonymous mapping of len bytes. */
static char *fresh(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	return p;
}

/* populates__every_page: after end, every page of a fresh buffer is in memory (none was
 * before), and its contents still read as zero. */
static void populates__every_page(void **state)
{
	(void)state;
	char *p = fresh(LEN);
	size_t pages = LEN / (size_t)sysconf(_SC_PAGESIZE);
	assert_int_equal(resident(p, LEN), 0);
	struct npmu__prefault pf;
	npmu__prefault_start(&pf, p, LEN);
	npmu__prefault_end(&pf);
	assert_int_equal(resident(p, LEN), pages);
	for (size_t o = 0; o < LEN; o += 4096)
		assert_int_equal(p[o], 0);
	munmap(p, LEN);
}

/* races__writer_keeps_bytes: bytes written while the thread faults the same pages in all stay
 * written (the faulting never changes a page's contents). */
static void races__writer_keeps_bytes(void **state)
{
	(void)state;
	char *p = fresh(LEN);
	struct npmu__prefault pf;
	npmu__prefault_start(&pf, p, LEN);
	for (size_t o = 0; o < LEN; o += 512)
		p[o] = (char)(o / 512 % 251 + 1);
	npmu__prefault_end(&pf);
	for (size_t o = 0; o < LEN; o += 512)
		assert_int_equal(p[o], (char)(o / 512 % 251 + 1));
	munmap(p, LEN);
}

/* small__left_alone: a buffer below the threshold starts no thread and faults nothing. */
static void small__left_alone(void **state)
{
	(void)state;
	size_t len = NPMU_PREFAULT_MIN / 2;
	char *p = fresh(len);
	struct npmu__prefault pf;
	npmu__prefault_start(&pf, p, len);
	assert_false(pf.running);
	npmu__prefault_end(&pf);
	assert_int_equal(resident(p, len), 0);
	munmap(p, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(populates__every_page),
		cmocka_unit_test(races__writer_keeps_bytes),
		cmocka_unit_test(small__left_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
