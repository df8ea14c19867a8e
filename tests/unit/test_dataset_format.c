/* test_dataset_format.c -- unit tests of a dataset's catalog codec and its keeping rule (D2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "csum.h"
#include "dataset_format.h"

/* shape -- a 4+2 catalog over 6 units keeping 2 versions, 1 pin. */
static struct npmu__ds_catalog shape(void)
{
	return (struct npmu__ds_catalog){.k = 4, .m = 2, .n = 6, .seg_size = 1 << 20,
					 .keep = 2, .pins = 1};
}

/* version -- version v of `parts` parts, part p of length 100 v + p and checksum v * 1000 + p. */
static struct npmu__ds_version version(uint64_t v, uint32_t parts)
{
	struct npmu__ds_version out = {.version = v, .label = v * 10, .parts = parts};
	out.length = malloc(parts * sizeof(uint64_t));
	out.csum = malloc(parts * sizeof(uint64_t));
	assert_non_null(out.length);
	assert_non_null(out.csum);
	for (uint32_t p = 0; p < parts; p++) {
		out.length[p] = 100 * v + p;
		out.csum[p] = v * 1000 + p;
	}
	return out;
}

/* reseal -- recompute the trailing checksum after a test changed the body. */
static void reseal(uint8_t *buf, uint64_t len)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf + len - 8, 8);
	npmu__put_u64(&c, npmu__csum(buf, len - 8));
}

/* roundtrip__versions_and_parts: what is encoded decodes the same, newest first. */
static void roundtrip__versions_and_parts(void **state)
{
	(void)state;
	struct npmu__ds_catalog cat = shape(), back;
	struct npmu__ds_version v1 = version(1, 4), v2 = version(2, 3);
	assert_int_equal(npmu__ds_add(&cat, &v1), 0);
	assert_int_equal(npmu__ds_add(&cat, &v2), 0);
	void *buf;
	uint64_t len;
	assert_int_equal(npmu__ds_encode(&cat, &buf, &len), 0);
	assert_int_equal(len, NPMU_DS_HEAD + 8 + 2 * NPMU_DS_VERSION_HEAD + 16 * 7);
	assert_int_equal(npmu__ds_decode(buf, len, &back), 0);
	assert_int_equal(back.nversions, 2);
	assert_int_equal(back.v[0].version, 2);
	assert_int_equal(back.v[0].parts, 3);
	assert_int_equal(back.v[1].label, 10);
	assert_int_equal(back.v[1].length[3], 103);
	assert_int_equal(back.v[1].csum[2], 1002);
	assert_int_equal(back.k, 4);
	assert_int_equal(back.keep, 2);
	assert_non_null(npmu__ds_find(&back, 1));
	assert_null(npmu__ds_find(&back, 3));
	npmu__ds_free(&back);
	npmu__ds_free(&cat);
	free(buf);
}

/* keep__newest_and_pinned: only the newest `keep` and the pinned ones stay listed; a version
 * that is not above the newest is refused. */
static void keep__newest_and_pinned(void **state)
{
	(void)state;
	struct npmu__ds_catalog cat = shape();
	for (uint64_t v = 1; v <= 3; v++) {
		struct npmu__ds_version nv = version(v, 2);
		assert_int_equal(npmu__ds_add(&cat, &nv), 0);
	}
	assert_int_equal(cat.nversions, 2); /* 3, 2 */
	assert_null(npmu__ds_find(&cat, 1));
	cat.v[1].pinned = true; /* pin 2 */
	for (uint64_t v = 4; v <= 6; v++) {
		struct npmu__ds_version nv = version(v, 2);
		assert_int_equal(npmu__ds_add(&cat, &nv), 0);
	}
	assert_int_equal(cat.nversions, 3); /* 6, 5, and the pinned 2 */
	assert_non_null(npmu__ds_find(&cat, 2));
	assert_null(npmu__ds_find(&cat, 4));
	cat.v[2].pinned = false;
	npmu__ds_prune(&cat);
	assert_int_equal(cat.nversions, 2);
	assert_null(npmu__ds_find(&cat, 2));
	struct npmu__ds_version old = version(6, 1);
	assert_int_equal(npmu__ds_add(&cat, &old), NPMU_E_INVAL);
	free(old.length);
	free(old.csum);
	npmu__ds_free(&cat);
}

/* decode__rejects_damage: a flipped bit, a future format, versions out of order, a part count
 * beyond the limit, trailing bytes and a short buffer are all refused. */
static void decode__rejects_damage(void **state)
{
	(void)state;
	struct npmu__ds_catalog cat = shape(), back;
	struct npmu__ds_version v1 = version(1, 2), v2 = version(2, 2);
	assert_int_equal(npmu__ds_add(&cat, &v1), 0);
	assert_int_equal(npmu__ds_add(&cat, &v2), 0);
	void *enc;
	uint64_t len;
	assert_int_equal(npmu__ds_encode(&cat, &enc, &len), 0);
	uint8_t *buf = malloc(len + 8);
	assert_non_null(buf);
	memcpy(buf, enc, len);
	buf[20] ^= 1;
	assert_int_equal(npmu__ds_decode(buf, len, &back), NPMU_E_CORRUPT);
	memcpy(buf, enc, len);
	buf[4] = NPMU_DS_FORMAT_STAGED + 1;
	reseal(buf, len);
	assert_int_equal(npmu__ds_decode(buf, len, &back), NPMU_E_VERSION);
	memcpy(buf, enc, len); /* version 2 then 1 becomes 2 then 2 */
	buf[NPMU_DS_HEAD + NPMU_DS_VERSION_HEAD + 32] = 2;
	reseal(buf, len);
	assert_int_equal(npmu__ds_decode(buf, len, &back), NPMU_E_CORRUPT);
	memcpy(buf, enc, len); /* the first version claims more parts than there are bytes */
	buf[NPMU_DS_HEAD + 16] = 0xff;
	buf[NPMU_DS_HEAD + 17] = 0xff;
	reseal(buf, len);
	assert_int_equal(npmu__ds_decode(buf, len, &back), NPMU_E_CORRUPT);
	memcpy(buf, enc, len - 8); /* eight bytes more before the checksum */
	memset(buf + len - 8, 0, 8);
	reseal(buf, len + 8);
	assert_int_equal(npmu__ds_decode(buf, len + 8, &back), NPMU_E_CORRUPT);
	assert_int_equal(npmu__ds_decode(enc, NPMU_DS_HEAD, &back), NPMU_E_CORRUPT);
	memcpy(buf, enc, len); /* keep beyond the limit */
	buf[40] = NPMU_DS_KEEP_MAX + 1;
	reseal(buf, len);
	assert_int_equal(npmu__ds_decode(buf, len, &back), NPMU_E_CORRUPT);
	assert_int_equal(npmu__ds_decode(enc, len, &back), 0); /* the original still reads */
	npmu__ds_free(&back);
	npmu__ds_free(&cat);
	free(enc);
	free(buf);
}

/* staged__flag_format_and_drop: a version listed staged (D3) makes the catalog format 2 and
 * reads back staged; format 1 may not carry the flag; a lost version is unlisted by drop. */
static void staged__flag_format_and_drop(void **state)
{
	(void)state;
	struct npmu__ds_catalog cat = shape(), back;
	struct npmu__ds_version v1 = version(1, 2), v2 = version(2, 2);
	assert_int_equal(npmu__ds_add(&cat, &v1), 0);
	void *enc;
	uint64_t len;
	assert_int_equal(npmu__ds_encode(&cat, &enc, &len), 0);
	assert_int_equal(((uint8_t *)enc)[4], NPMU_DS_FORMAT); /* nothing staged: format 1 */
	free(enc);
	v2.staged = true;
	assert_int_equal(npmu__ds_add(&cat, &v2), 0);
	assert_int_equal(npmu__ds_encode(&cat, &enc, &len), 0);
	uint8_t *buf = enc;
	assert_int_equal(buf[4], NPMU_DS_FORMAT_STAGED);
	assert_int_equal(npmu__ds_decode(buf, len, &back), 0);
	assert_true(back.v[0].staged);
	assert_false(back.v[1].staged);
	npmu__ds_free(&back);
	buf[4] = NPMU_DS_FORMAT; /* the staged flag in a format-1 catalog */
	reseal(buf, len);
	assert_int_equal(npmu__ds_decode(buf, len, &back), NPMU_E_CORRUPT);
	assert_false(npmu__ds_drop(&cat, 3));
	assert_true(npmu__ds_drop(&cat, 2)); /* the newest unlisted: the one before is newest */
	assert_int_equal(cat.nversions, 1);
	assert_int_equal(cat.v[0].version, 1);
	struct npmu__ds_version v3 = version(2, 2); /* its number may be put and listed again */
	assert_int_equal(npmu__ds_add(&cat, &v3), 0);
	assert_int_equal(cat.v[0].version, 2);
	npmu__ds_free(&cat);
	free(enc);
}

/* decode__rejects_shape_overflow: a k so large that k + m wraps around to fit n is refused. */
static void decode__rejects_shape_overflow(void **state)
{
	(void)state;
	struct npmu__ds_catalog cat = shape(), back;
	cat.k = UINT32_MAX; /* k + m is 1 in 32 bits: "n >= k + m" would hold */
	void *enc;
	uint64_t len;
	assert_int_equal(npmu__ds_encode(&cat, &enc, &len), 0);
	assert_int_equal(npmu__ds_decode(enc, len, &back), NPMU_E_CORRUPT);
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip__versions_and_parts),
		cmocka_unit_test(keep__newest_and_pinned),
		cmocka_unit_test(decode__rejects_damage),
		cmocka_unit_test(decode__rejects_shape_overflow),
		cmocka_unit_test(staged__flag_format_and_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
