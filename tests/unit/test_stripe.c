/* test_stripe.c -- striped sets: layout and placement, Reed-Solomon repair of every pattern of up
 * to m losses, the member header and manifest codecs, and checksums joined from pieces'. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "csum.h"
#include "stripe_format.h"

/* layout__groups_and_placement: group counts at uneven sizes, bounds, distinct rotating members. */
static void layout__groups_and_placement(void **state)
{
	(void)state;
	struct npmu__stripe_layout l;
	assert_int_equal(npmu__stripe_layout_init(4, 2, 6, 4096, 4 * 4096 * 3 + 1, &l), 0);
	assert_int_equal(l.ngroups, 4);
	assert_int_equal(npmu__stripe_layout_init(4, 2, 6, 4096, 0, &l), 0);
	assert_int_equal(l.ngroups, 1);
	assert_int_equal(npmu__stripe_layout_init(4, 2, 5, 4096, 1, &l), NPMU_E_INVAL); /* n < k+m */
	assert_int_equal(npmu__stripe_layout_init(0, 2, 6, 4096, 1, &l), NPMU_E_INVAL);
	assert_int_equal(npmu__stripe_layout_init(4, 0, 6, 4096, 1, &l), NPMU_E_INVAL);
	assert_int_equal(npmu__stripe_layout_init(33, 1, 40, 4096, 1, &l), NPMU_E_INVAL);
	assert_int_equal(npmu__stripe_layout_init(4, 17, 30, 4096, 1, &l), NPMU_E_INVAL);
	assert_int_equal(npmu__stripe_layout_init(4, 2, 6, 4000, 1, &l), NPMU_E_INVAL);
	assert_int_equal(npmu__stripe_layout_init(4, 2, 65, 4096, 1, &l), NPMU_E_INVAL);
	/* each group on k+m distinct members; every member holds parity for some group, and data
	 * for some other (no member holds only parity) */
	for (uint32_t n = 6; n <= 9; n++) {
		assert_int_equal(npmu__stripe_layout_init(4, 2, n, 4096, 4096ull * 4 * 20, &l), 0);
		uint32_t data[16] = {0}, parity[16] = {0};
		for (uint32_t g = 0; g < l.ngroups; g++) {
			uint32_t used = 0;
			for (uint32_t j = 0; j < 6; j++) {
				uint32_t u = npmu__stripe_member_of(&l, g, j);
				assert_true(u < n);
				assert_false(used & (1u << u));
				used |= 1u << u;
				(j < 4 ? data : parity)[u]++;
			}
		}
		for (uint32_t u = 0; u < n; u++)
			assert_true(data[u] > 0 && parity[u] > 0);
	}
}

/* check_code -- every pattern of up to m lost sub-segments of a group of len bytes is repaired. */
static void check_code(int k, int m, size_t len)
{
	struct npmu__ec ec;
	assert_int_equal(npmu__ec_init(&ec, k, m), 0);
	int n = k + m;
	uint8_t *orig[48], *frag[48];
	for (int i = 0; i < n; i++) {
		orig[i] = malloc(len);
		frag[i] = malloc(len);
	}
	for (int i = 0; i < k; i++)
		for (size_t b = 0; b < len; b++)
			orig[i][b] = (uint8_t)(rand() & 0xff);
	npmu__ec_encode(&ec, len, orig, orig + k);
	if (m == 1 || k == 1) /* XOR parity, or copies */
		for (size_t b = 0; b < len; b++) {
			uint8_t x = 0;
			for (int i = 0; i < k; i++)
				x ^= orig[i][b];
			assert_int_equal(orig[k][b], x);
		}
	unsigned patterns = 0;
	for (uint32_t mask = 0; mask < (1u << n); mask++) {
		int lost = __builtin_popcount(mask);
		if (lost > m)
			continue;
		uint8_t present[48];
		for (int i = 0; i < n; i++) {
			present[i] = !(mask & (1u << i));
			if (present[i])
				memcpy(frag[i], orig[i], len);
			else
				memset(frag[i], 0xee, len);
		}
		assert_int_equal(npmu__ec_decode(&ec, len, frag, present), 0);
		for (int i = 0; i < n; i++)
			assert_memory_equal(frag[i], orig[i], len);
		patterns++;
	}
	assert_true(patterns > 0);
	/* one loss too many: refused, never a wrong answer */
	uint8_t present[48];
	for (int i = 0; i < n; i++)
		present[i] = i > m; /* m+1 lost */
	assert_int_equal(npmu__ec_decode(&ec, len, frag, present), NPMU_E_CORRUPT);
	for (int i = 0; i < n; i++) {
		free(orig[i]);
		free(frag[i]);
	}
}

/* code__every_loss_pattern: several k and m, lengths that are not multiples of anything. */
static void code__every_loss_pattern(void **state)
{
	(void)state;
	srand(7);
	check_code(4, 2, 4096 + 37);
	check_code(3, 1, 1000);
	check_code(1, 2, 777);
	check_code(5, 3, 129);
	check_code(8, 4, 64);
	struct npmu__ec ec;
	assert_int_equal(npmu__ec_init(&ec, 0, 1), NPMU_E_INVAL);
	assert_int_equal(npmu__ec_init(&ec, 4, 0), NPMU_E_INVAL);
	assert_int_equal(npmu__ec_init(&ec, 4, NPMU_EC_M_MAX + 1), NPMU_E_INVAL);
}

/* member__roundtrip_and_damage: the member header decodes as encoded; any bit flip is refused. */
static void member__roundtrip_and_damage(void **state)
{
	(void)state;
	struct npmu__stripe_member h = {.index = 3, .n = 6, .keep = 2, .k = 4, .m = 2,
					.seg_size = 1 << 16, .marea = 8192, .dslot = 1 << 20}, out;
	uint8_t raw[64];
	npmu__stripe_member_encode(&h, raw);
	assert_int_equal(npmu__stripe_member_decode(raw, &out), 0);
	assert_int_equal(out.index, 3);
	assert_int_equal(npmu__stripe_member_size(&out), 4096 + 2 * 8192 + 2 * (1 << 20));
	assert_int_equal(out.seg_size, 1 << 16);
	for (int i = 0; i < 60; i++)
		for (int bit = 0; bit < 8; bit++) {
			uint8_t bad[64];
			memcpy(bad, raw, 64);
			bad[i] ^= (uint8_t)(1 << bit);
			assert_int_not_equal(npmu__stripe_member_decode(bad, &out), 0);
		}
}

/* manifest__roundtrip_and_damage: a manifest decodes as encoded; flips and cuts are refused. */
static void manifest__roundtrip_and_damage(void **state)
{
	(void)state;
	struct npmu__stripe_manifest mf = {.version = 9, .length_csum = 42}, out;
	assert_int_equal(npmu__stripe_layout_init(2, 1, 3, 4096, 3 * 8192 + 5, &mf.layout), 0);
	for (int i = 0; i < 3; i++)
		snprintf(mf.unit[i], sizeof(mf.unit[i]), "10.0.0.%d:7411", i + 1);
	uint64_t cs[12];
	for (int i = 0; i < 12; i++)
		cs[i] = 1000 + (uint64_t)i;
	mf.csums = cs;
	assert_int_equal(mf.layout.ngroups, 4);
	uint8_t buf[8192];
	int64_t len = npmu__stripe_manifest_encode(&mf, buf, sizeof(buf));
	assert_int_equal(len, (int64_t)npmu__stripe_manifest_len(&mf));
	assert_true((uint64_t)len <= npmu__stripe_marea(3, 2, 1, 4));
	memset(buf + len, 0x5a, sizeof(buf) - (size_t)len); /* what follows in the slot is ignored */
	assert_int_equal(npmu__stripe_manifest_decode(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.version, 9);
	assert_int_equal(out.layout.length, 3 * 8192 + 5);
	assert_string_equal(out.unit[2], "10.0.0.3:7411");
	assert_int_equal(out.csums[11], 1011);
	npmu__stripe_manifest_free(&out);
	for (int64_t i = 0; i < len; i++) {
		buf[i] ^= 0x10;
		assert_int_not_equal(npmu__stripe_manifest_decode(buf, sizeof(buf), &out), 0);
		buf[i] ^= 0x10;
	}
	for (int64_t cut = 0; cut < len; cut += 7)
		assert_int_not_equal(npmu__stripe_manifest_decode(buf, (size_t)cut, &out), 0);
	assert_int_equal(npmu__stripe_manifest_encode(&mf, buf, 40), NPMU_E_TOOBIG);
	memset(buf, 0, sizeof(buf)); /* an empty slot */
	assert_int_equal(npmu__stripe_manifest_decode(buf, sizeof(buf), &out), NPMU_E_CORRUPT);
}

/* csum__joined_equals_whole: a buffer's CRC-64 follows from its pieces' (any split, pieces of
 * one size through one shift, the empty piece), and a change anywhere changes it. */
static void csum__joined_equals_whole(void **state)
{
	(void)state;
	size_t len = 3u << 20;
	uint8_t *b = malloc(len);
	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 2654435761u >> 13);
	uint64_t whole = npmu__csum(b, len);
	size_t cuts[] = {0, 1, 7, 4096, 65537, 1u << 20, len - 1, len};
	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		size_t a = cuts[c];
		assert_true(npmu__csum_combine(npmu__csum(b, a), npmu__csum(b + a, len - a), len - a) ==
			    whole);
	}
	struct npmu__csum_shift seg; /* pieces of 64 KiB, then a short tail */
	npmu__csum_shift_init(&seg, 65536);
	uint64_t run = 0;
	size_t off = 0;
	for (; off + 65536 <= len - 1000; off += 65536)
		run = npmu__csum_concat(&seg, run, npmu__csum(b + off, 65536));
	run = npmu__csum_combine(run, npmu__csum(b + off, len - off), len - off);
	assert_true(run == whole);
	b[len / 2] ^= 1;
	assert_true(npmu__csum_combine(npmu__csum(b, 4096), npmu__csum(b + 4096, len - 4096),
				       len - 4096) != whole);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout__groups_and_placement),
		cmocka_unit_test(code__every_loss_pattern),
		cmocka_unit_test(member__roundtrip_and_damage),
		cmocka_unit_test(manifest__roundtrip_and_damage),
		cmocka_unit_test(csum__joined_equals_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
