/* test_mirror_format.c -- the mirror record: round trip, damage, and choosing between copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <endian.h>

#include "csum.h"
#include "mirror_format.h"

/* sample -- a valid record of generation gen. */
static struct npmu__mirror sample(uint64_t gen)
{
	struct npmu__mirror m = {.generation = gen, .size = 1 << 20, .ncopies = 2};
	strcpy(m.copy[0].unit, "198.18.2.1:7411");
	strcpy(m.copy[1].unit, "198.18.2.2:7411");
	return m;
}

/* rec__roundtrip_and_damage: a record decodes as encoded; any flipped bit or cut is refused. */
static void rec__roundtrip_and_damage(void **state)
{
	(void)state;
	struct npmu__mirror m = sample(9), out;
	m.copy[1].state = NPMU__COPY_RESYNCING;
	m.copy[1].resync_done = 4096;
	uint8_t buf[NPMU_MIRROR_REC_MAX];
	int len = npmu__mirror_encode(&m, buf, sizeof(buf));
	assert_true(len > 0 && len <= NPMU_MIRROR_REC_MAX);
	assert_int_equal(npmu__mirror_decode(buf, (size_t)len, &out), 0);
	assert_int_equal(out.generation, 9);
	assert_string_equal(out.copy[1].unit, "198.18.2.2:7411");
	assert_int_equal(out.copy[1].state, NPMU__COPY_RESYNCING);
	assert_int_equal(out.copy[1].resync_done, 4096);
	for (int i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			uint8_t bad[NPMU_MIRROR_REC_MAX];
			memcpy(bad, buf, (size_t)len);
			bad[i] ^= (uint8_t)(1 << bit);
			assert_int_not_equal(npmu__mirror_decode(bad, (size_t)len, &out), 0);
		}
	for (int cut = 0; cut < len; cut++)
		assert_int_equal(npmu__mirror_decode(buf, (size_t)cut, &out), NPMU_E_CORRUPT);
}

/* rec__rejects_nonsense: no copy in sync, one unit twice, progress past the end, bad state. */
static void rec__rejects_nonsense(void **state)
{
	(void)state;
	uint8_t buf[NPMU_MIRROR_REC_MAX];
	struct npmu__mirror out, m = sample(2);
	m.copy[0].state = m.copy[1].state = NPMU__COPY_STALE;
	int len = npmu__mirror_encode(&m, buf, sizeof(buf));
	assert_int_equal(npmu__mirror_decode(buf, (size_t)len, &out), NPMU_E_CORRUPT);
	m = sample(2);
	strcpy(m.copy[1].unit, m.copy[0].unit);
	len = npmu__mirror_encode(&m, buf, sizeof(buf));
	assert_int_equal(npmu__mirror_decode(buf, (size_t)len, &out), NPMU_E_CORRUPT);
	m = sample(2);
	m.copy[1].state = NPMU__COPY_RESYNCING;
	m.copy[1].resync_done = m.size + 1;
	len = npmu__mirror_encode(&m, buf, sizeof(buf));
	assert_int_equal(npmu__mirror_decode(buf, (size_t)len, &out), NPMU_E_CORRUPT);
	m = sample(2);
	m.copy[0].state = 7;
	assert_int_equal(npmu__mirror_encode(&m, buf, sizeof(buf)), NPMU_E_INVAL);
	m = sample(0);
	len = npmu__mirror_encode(&m, buf, sizeof(buf));
	assert_int_equal(npmu__mirror_decode(buf, (size_t)len, &out), NPMU_E_CORRUPT);
	/* a record of a newer format is reported as such */
	m = sample(3);
	len = npmu__mirror_encode(&m, buf, sizeof(buf));
	buf[4] = NPMU_MIRROR_VERSION + 1;
	assert_int_equal(npmu__mirror_decode(buf, (size_t)len, &out), NPMU_E_CORRUPT); /* csum */
	uint64_t csum = htole64(npmu__csum(buf, (size_t)len - 8));
	memcpy(buf + len - 8, &csum, 8);
	assert_int_equal(npmu__mirror_decode(buf, (size_t)len, &out), NPMU_E_VERSION);
}

/* rec__unit_ids_and_version_1: each copy's unit id round-trips; a version-1 record (no unit
 * ids) still decodes, its ids unknown (zero). */
static void rec__unit_ids_and_version_1(void **state)
{
	(void)state;
	uint8_t buf[NPMU_MIRROR_REC_MAX], v1[NPMU_MIRROR_REC_MAX];
	struct npmu__mirror out, m = sample(4);
	memcpy(m.copy[0].unit_id, "AAAAAAAA", 8);
	memcpy(m.copy[1].unit_id, "BBBBBBBB", 8);
	int len = npmu__mirror_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(npmu__mirror_decode(buf, (size_t)len, &out), 0);
	assert_memory_equal(out.copy[1].unit_id, "BBBBBBBB", 8);
	/* the same record as version 1 wrote it: each copy without its 8 id bytes */
	size_t n = 0, at = 24;
	memcpy(v1, buf, at);
	v1[4] = 1;
	n = at;
	for (int c = 0; c < 2; c++) {
		size_t copy_len = 1 + buf[at] + 1 + 8;
		memcpy(v1 + n, buf + at, copy_len);
		n += copy_len;
		at += copy_len + 8;
	}
	uint64_t csum = htole64(npmu__csum(v1, n));
	memcpy(v1 + n, &csum, 8);
	n += 8;
	assert_int_equal(npmu__mirror_decode(v1, n, &out), 0);
	assert_int_equal(out.generation, 4);
	assert_string_equal(out.copy[1].unit, m.copy[1].unit);
	for (int i = 0; i < 8; i++)
		assert_int_equal(out.copy[1].unit_id[i], 0);
}

/* choose__newest_valid_wins: by generation and checksum; a conflict is never resolved silently. */
static void choose__newest_valid_wins(void **state)
{
	(void)state;
	uint8_t a[NPMU_MIRROR_REC_MAX], b[NPMU_MIRROR_REC_MAX];
	struct npmu__mirror ma = sample(5), mb = sample(6), out;
	mb.copy[0].state = NPMU__COPY_STALE;
	size_t la = (size_t)npmu__mirror_encode(&ma, a, sizeof(a));
	size_t lb = (size_t)npmu__mirror_encode(&mb, b, sizeof(b));
	const uint8_t *recs[2] = {a, b};
	size_t lens[2] = {la, lb};
	struct npmu__mirror_pick pick;
	/* the newer wins, and the disagreement is reported */
	assert_int_equal(npmu__mirror_choose(recs, lens, 2, &out, &pick), 0);
	assert_int_equal(pick.winner, 1);
	assert_true(pick.disagree);
	assert_int_equal(out.copy[0].state, NPMU__COPY_STALE);
	/* the newer one damaged: the older valid one wins, reported */
	b[10] ^= 1;
	assert_int_equal(npmu__mirror_choose(recs, lens, 2, &out, &pick), 0);
	assert_int_equal(pick.winner, 0);
	assert_true(pick.disagree);
	assert_int_equal(out.generation, 5);
	/* one copy did not answer: no disagreement */
	lens[1] = 0;
	assert_int_equal(npmu__mirror_choose(recs, lens, 2, &out, &pick), 0);
	assert_false(pick.disagree);
	/* same generation, other content: a conflict */
	mb = sample(5);
	mb.copy[1].state = NPMU__COPY_STALE;
	lens[1] = (size_t)npmu__mirror_encode(&mb, b, sizeof(b));
	assert_int_equal(npmu__mirror_choose(recs, lens, 2, &out, &pick), NPMU_E_CORRUPT);
	assert_true(pick.conflict);
	/* nothing valid */
	a[0] ^= 1;
	b[0] ^= 1;
	assert_int_equal(npmu__mirror_choose(recs, lens, 2, &out, &pick), NPMU_E_CORRUPT);
	assert_int_equal(pick.winner, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rec__roundtrip_and_damage),
		cmocka_unit_test(rec__rejects_nonsense),
		cmocka_unit_test(rec__unit_ids_and_version_1),
		cmocka_unit_test(choose__newest_valid_wins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
