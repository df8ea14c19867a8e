/* test_ckpt_format.c -- unit tests of the checkpoint stream format: header, records, updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ckpt_format.h"
#include "csum.h"

/* hdr__roundtrip_and_rejects: a header decodes as encoded; its epoch word may change without
 * breaking the checksum; any other change, another version or an impossible shape is refused. */
static void hdr__roundtrip_and_rejects(void **state)
{
	(void)state;
	struct npmu__ckpt_hdr h = {.mode = NPMU_CKPT_APPEND, .epoch = 3, .state_size = 1 << 20,
				   .log_size = 4 << 20, .nslots = 2}, out;
	uint8_t b[56];
	npmu__ckpt_hdr_encode(&h, b);
	assert_int_equal(npmu__ckpt_hdr_decode(b, &out), 0);
	assert_int_equal(out.log_size, 4 << 20);
	b[16] = 9; /* the epoch word, as a manager fencing a writer changes it */
	assert_int_equal(npmu__ckpt_hdr_decode(b, &out), 0);
	assert_int_equal(out.epoch, 9);
	for (int i = 0; i < 56; i++) {
		if (i >= 16 && i < 24)
			continue;
		uint8_t bad[56];
		memcpy(bad, b, 56);
		bad[i] ^= 0x10;
		assert_int_not_equal(npmu__ckpt_hdr_decode(bad, &out), 0);
	}
	/* another version: a valid header, checksum and all, with version 2 */
	npmu__ckpt_hdr_encode(&h, b);
	b[8] = 2;
	uint64_t c = npmu__csum_more(npmu__csum(b, 16), b + 24, 24);
	for (int i = 0; i < 8; i++)
		b[48 + i] = (uint8_t)(c >> (8 * i));
	assert_int_equal(npmu__ckpt_hdr_decode(b, &out), NPMU_E_VERSION);
	h.nslots = 3; /* append streams have exactly two base slots */
	npmu__ckpt_hdr_encode(&h, b);
	assert_int_equal(npmu__ckpt_hdr_decode(b, &out), NPMU_E_CORRUPT);
	h.nslots = 2;
	h.mode = 7;
	npmu__ckpt_hdr_encode(&h, b);
	assert_int_equal(npmu__ckpt_hdr_decode(b, &out), NPMU_E_CORRUPT);
	uint8_t zeros[56] = {0};
	assert_int_equal(npmu__ckpt_hdr_decode(zeros, &out), NPMU_E_CORRUPT);
}

/* rec__roundtrip_and_every_flip: a record decodes as encoded; any flipped bit or a record never
 * written (zeros) is refused. */
static void rec__roundtrip_and_every_flip(void **state)
{
	(void)state;
	struct npmu__ckpt_rec r = {.seq = 12, .epoch = 2, .length = 4096, .data_csum = 0x1234,
				   .upto = 77, .lpos = 8192}, out;
	uint8_t b[NPMU_CKPT_REC];
	npmu__ckpt_rec_encode(&r, b);
	assert_int_equal(npmu__ckpt_rec_decode(b, &out), 0);
	assert_int_equal(out.upto, 77);
	assert_int_equal(out.lpos, 8192);
	for (int i = 0; i < NPMU_CKPT_REC * 8; i++) {
		uint8_t bad[NPMU_CKPT_REC];
		memcpy(bad, b, sizeof(bad));
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(npmu__ckpt_rec_decode(bad, &out), NPMU_E_CORRUPT);
	}
	uint8_t zeros[NPMU_CKPT_REC] = {0};
	assert_int_equal(npmu__ckpt_rec_decode(zeros, &out), NPMU_E_CORRUPT);
}

/* upd__every_truncation_and_mismatch: an update record checks only whole, at its own position,
 * with the next sequence number and an epoch not above the stream's. */
static void upd__every_truncation_and_mismatch(void **state)
{
	(void)state;
	uint8_t payload[100], rec[256];
	for (int i = 0; i < 100; i++)
		payload[i] = (uint8_t)i;
	struct npmu__ckpt_upd u = {.len = 100, .seq = 5, .epoch = 2, .offset = 640, .lpos = 4096}, out;
	npmu__ckpt_upd_encode(&u, payload, rec);
	uint64_t size = npmu__ckpt_upd_size(100);
	assert_int_equal(size, 48 + 104);
	assert_int_equal(npmu__ckpt_upd_check(rec, size, 4096, 5, 2, &out), 0);
	assert_int_equal(out.offset, 640);
	for (uint64_t cut = 0; cut < size; cut++)
		assert_int_equal(npmu__ckpt_upd_check(rec, cut, 4096, 5, 2, &out), NPMU_E_CORRUPT);
	assert_int_equal(npmu__ckpt_upd_check(rec, size, 4096 + 8, 5, 2, &out), NPMU_E_CORRUPT);
	assert_int_equal(npmu__ckpt_upd_check(rec, size, 4096, 6, 2, &out), NPMU_E_CORRUPT);
	assert_int_equal(npmu__ckpt_upd_check(rec, size, 4096, 5, 1, &out), NPMU_E_CORRUPT);
	for (uint64_t i = 0; i < 48 + 100; i++) { /* torn anywhere in header or payload */
		uint8_t bad[256];
		memcpy(bad, rec, size);
		bad[i] ^= 0x01;
		assert_int_equal(npmu__ckpt_upd_check(bad, size, 4096, 5, 2, &out), NPMU_E_CORRUPT);
	}
	uint8_t skip[16];
	npmu__ckpt_skip_encode(123456, skip);
	assert_int_equal(npmu__ckpt_upd_check(skip, 16, 123456, 9, 2, &out), 1);
	assert_int_equal(npmu__ckpt_upd_check(skip, 16, 123464, 9, 2, &out), NPMU_E_CORRUPT);
	assert_int_equal(npmu__ckpt_upd_check(skip, 15, 123456, 9, 2, &out), NPMU_E_CORRUPT);
}

/* layout__regions_and_offsets: slots are 4 KiB aligned after the header, the log after them. */
static void layout__regions_and_offsets(void **state)
{
	(void)state;
	struct npmu__ckpt_hdr h = {.mode = NPMU_CKPT_OVERWRITE, .state_size = 5000, .nslots = 3};
	assert_int_equal(npmu__ckpt_slot_bytes(5000), 8192);
	assert_int_equal(npmu__ckpt_slot_off(&h, 0), 4096);
	assert_int_equal(npmu__ckpt_slot_off(&h, 2), 4096 + 2 * 8192);
	assert_int_equal(npmu__ckpt_region_size(&h), 4096 + 3 * 8192);
	h.mode = NPMU_CKPT_APPEND;
	h.nslots = 2;
	h.log_size = 1 << 20;
	assert_int_equal(npmu__ckpt_log_off(&h), 4096 + 2 * 8192);
	assert_int_equal(npmu__ckpt_region_size(&h), 4096 + 2 * 8192 + (1 << 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hdr__roundtrip_and_rejects),
		cmocka_unit_test(rec__roundtrip_and_every_flip),
		cmocka_unit_test(upd__every_truncation_and_mismatch),
		cmocka_unit_test(layout__regions_and_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
