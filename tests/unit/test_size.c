/* test_size.c -- unit tests of human-readable size parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "npmu.h"
#include "size.h"

/* parse__suffixes: binary suffixes with and without "iB", fractions that land on whole bytes. */
static void parse__suffixes(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(npmu__size_parse("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(npmu__size_parse("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(npmu__size_parse("1.5M", &v), 0);
	assert_int_equal(v, 1572864);
	assert_int_equal(npmu__size_parse("4GiB", &v), 0);
	assert_int_equal(v, 4ull << 30);
	assert_int_equal(npmu__size_parse("1t", &v), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(npmu__size_parse("0.5K", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(npmu__size_parse(" 5mb ", &v), 0);
	assert_int_equal(v, 5ull << 20);
	assert_int_equal(npmu__size_parse("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(npmu__size_parse("12B", &v), 0);
	assert_int_equal(v, 12);
}

/* parse__rejects: junk, negatives, fractions of a byte and overflow are errors. */
static void parse__rejects(void **state)
{
	(void)state;
	uint64_t v = 7;
	/* and only the documented forms: no hex, exponents, signs, leading zeros or bare "Ki" */
	const char *bad[] = {"", "abc", "-1", "1X", "0.5", "4G4", "99999999999T", "1 K B",
			     "0x10M", "0x10", "1e3", "1E3K", "010", "00", "+5", "inf", "nan", "1Ki",
			     ".5M", "5.M", "1.5.5M", "18446744073709551616", "16777216T"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(npmu__size_parse(bad[i], &v), NPMU_E_INVAL);
	assert_int_equal(v, 7);
	assert_int_equal(npmu__size_parse(NULL, &v), NPMU_E_INVAL);
}

/* format__units: the largest unit that keeps the number at least 1. */
static void format__units(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(npmu__size_format(100, b, sizeof(b)), "100 B");
	assert_string_equal(npmu__size_format(1536, b, sizeof(b)), "1.5 KiB");
	assert_string_equal(npmu__size_format(4ull << 30, b, sizeof(b)), "4 GiB");
}

/* strerror__all_codes: every code has its own sentence. */
static void strerror__all_codes(void **state)
{
	(void)state;
	for (int c = NPMU_E_CONFIG; c <= NPMU_E_INVAL; c++)
		assert_string_not_equal(npmu_strerror(c), "unknown error");
	assert_string_equal(npmu_strerror(-1), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse__suffixes),
		cmocka_unit_test(parse__rejects),
		cmocka_unit_test(format__units),
		cmocka_unit_test(strerror__all_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
