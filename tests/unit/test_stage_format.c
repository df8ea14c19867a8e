/* test_stage_format.c -- unit tests of a staging region's header and slot record codecs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "npmu.h"
#include "stage_format.h"

/* shape -- a 4+2 set over 6 units staged in 2 slots of 1 MiB. */
static struct npmu__stage_hdr shape(void)
{
	return (struct npmu__stage_hdr){.slots = 2, .durability = NPMU_PERSISTENT,
					.slot_size = 1 << 20, .k = 4, .m = 2, .n = 6, .keep = 2,
					.seg_size = 1 << 20, .capacity = 1 << 20};
}

/* hdr_round_trip -- what is encoded decodes the same, and the slots lie after the header page. */
static void hdr_round_trip(void **state)
{
	(void)state;
	struct npmu__stage_hdr h = shape(), back;
	uint8_t raw[NPMU_STAGE_HDR_LEN];
	npmu__stage_hdr_encode(&h, raw);
	assert_int_equal(npmu__stage_hdr_decode(raw, &back), 0);
	assert_memory_equal(&h, &back, sizeof(h)); /* (no padding: flags fills it) */
	h.flags = NPMU_STAGE_DATASET_PART; /* a dataset's part (G5) */
	npmu__stage_hdr_encode(&h, raw);
	assert_int_equal(npmu__stage_hdr_decode(raw, &back), 0);
	assert_int_equal(back.flags, NPMU_STAGE_DATASET_PART);
	assert_int_equal(npmu__stage_data_off(&h, 0), NPMU_STAGE_HDR);
	assert_int_equal(npmu__stage_data_off(&h, 1), NPMU_STAGE_HDR + (1 << 20));
	assert_int_equal(npmu__stage_region_size(&h), NPMU_STAGE_HDR + (2 << 20));
}

/* hdr_rejects -- a flipped byte, another format, and every field out of bounds are refused. */
static void hdr_rejects(void **state)
{
	(void)state;
	struct npmu__stage_hdr h = shape(), back;
	uint8_t raw[NPMU_STAGE_HDR_LEN];
	for (size_t i = 0; i < 68; i++) { /* every byte of the header and its checksum */
		npmu__stage_hdr_encode(&h, raw);
		raw[i] ^= 0x40;
		assert_int_not_equal(npmu__stage_hdr_decode(raw, &back), 0);
	}
	struct npmu__stage_hdr bad[] = {shape(), shape(), shape(), shape(), shape(),
					shape(), shape(), shape(), shape(), shape()};
	bad[0].slots = 0;
	bad[1].slots = NPMU_STAGE_SLOTS_MAX + 1;
	bad[2].slot_size = 4097;
	bad[3].durability = 7;
	bad[4].keep = 1;
	bad[5].k = 0;
	bad[6].n = 5; /* fewer than k + m */
	bad[7].capacity = (2 << 20); /* more than a slot holds */
	bad[8].mirror = 2;
	bad[9].flags = 2; /* a flag this format does not have */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		npmu__stage_hdr_encode(&bad[i], raw);
		assert_int_equal(npmu__stage_hdr_decode(raw, &back), NPMU_E_CORRUPT);
	}
}

/* rec_round_trip -- a record decodes as written, in its own slot only; zeros are no record. */
static void rec_round_trip(void **state)
{
	(void)state;
	struct npmu__stage_hdr h = shape();
	struct npmu__stage_rec r = {.slot = 1, .version = 7, .length = 12345,
				    .length_csum = 0x1234567890abcdefull, .staged_ms = 1700000000000},
			       back;
	uint8_t raw[NPMU_STAGE_REC_LEN];
	npmu__stage_rec_encode(&r, raw);
	assert_int_equal(npmu__stage_rec_decode(raw, &h, 1, &back), 0);
	assert_int_equal(back.slot, r.slot); /* (field by field: the struct has padding) */
	assert_int_equal(back.version, r.version);
	assert_int_equal(back.length, r.length);
	assert_int_equal(back.length_csum, r.length_csum);
	assert_int_equal(back.staged_ms, r.staged_ms);
	assert_int_equal(npmu__stage_rec_decode(raw, &h, 0, &back), NPMU_E_CORRUPT);
	memset(raw, 0, sizeof(raw));
	assert_int_equal(npmu__stage_rec_decode(raw, &h, 1, &back), NPMU_E_NOENT);
}

/* rec_rejects -- a torn record, version 0, or a length no slot holds are refused. */
static void rec_rejects(void **state)
{
	(void)state;
	struct npmu__stage_hdr h = shape();
	struct npmu__stage_rec r = {.slot = 0, .version = 3, .length = 100}, back;
	uint8_t raw[NPMU_STAGE_REC_LEN];
	for (size_t i = 0; i < 56; i++) {
		npmu__stage_rec_encode(&r, raw);
		raw[i] ^= 0x01;
		assert_int_not_equal(npmu__stage_rec_decode(raw, &h, 0, &back), 0);
	}
	r.version = 0;
	npmu__stage_rec_encode(&r, raw);
	assert_int_equal(npmu__stage_rec_decode(raw, &h, 0, &back), NPMU_E_CORRUPT);
	r.version = 3;
	r.length = h.slot_size + 1;
	npmu__stage_rec_encode(&r, raw);
	assert_int_equal(npmu__stage_rec_decode(raw, &h, 0, &back), NPMU_E_CORRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hdr_round_trip),
		cmocka_unit_test(hdr_rejects),
		cmocka_unit_test(rec_round_trip),
		cmocka_unit_test(rec_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
