/* test_pool_format.c -- unit tests of the superblock and region-table codecs and their validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "pool_format.h"

/* geometry__bounds: tiny pools are refused; metadata areas scale and are capped. */
static void geometry__bounds(void **state)
{
	(void)state;
	struct npmu__superblock sb;
	assert_int_equal(npmu__pool_geometry(4096, &sb), NPMU_E_INVAL);
	assert_int_equal(npmu__pool_geometry(1 << 20, &sb), 0);
	assert_int_equal(sb.meta_pages, 16);
	assert_int_equal(sb.data_start, 34);
	assert_int_equal(npmu__pool_geometry(1ull << 40, &sb), 0);
	assert_int_equal(sb.meta_pages * NPMU_PAGE_SIZE, 16u << 20);
}

/* sb__roundtrip_and_damage: any flipped byte is caught; another version is told apart. */
static void sb__roundtrip_and_damage(void **state)
{
	(void)state;
	struct npmu__superblock sb, out;
	assert_int_equal(npmu__pool_geometry(64 << 20, &sb), 0);
	sb.generation = 7;
	sb.meta_len = 100;
	sb.meta_csum = 0x1234;
	uint8_t raw[NPMU_SB_LEN];
	npmu__sb_encode(&sb, raw);
	assert_int_equal(npmu__sb_decode(raw, &out), 0);
	assert_int_equal(out.generation, 7);
	assert_int_equal(out.npages, sb.npages);
	for (int i = 0; i < NPMU_SB_LEN; i++) {
		uint8_t bad[NPMU_SB_LEN];
		memcpy(bad, raw, sizeof(bad));
		bad[i] ^= 0x40;
		assert_int_not_equal(npmu__sb_decode(bad, &out), 0);
	}
	sb.version = NPMU_POOL_VERSION + 1;
	npmu__sb_encode(&sb, raw);
	assert_int_equal(npmu__sb_decode(raw, &out), NPMU_E_VERSION);
	sb.version = 1; /* pools of the first format are still read */
	npmu__sb_encode(&sb, raw);
	assert_int_equal(npmu__sb_decode(raw, &out), 0);
}

/* add_region -- append a region with the given extents to meta. */
static void add_region(struct npmu__meta *m, const char *name, uint64_t size,
		       const struct npmu__extent *ext, uint32_t n)
{
	struct npmu__region_meta r;
	memset(&r, 0, sizeof(r));
	r.id = m->next_region_id++;
	r.size = size;
	strcpy(r.name, name);
	r.nextents = n;
	r.extents = malloc(n * sizeof(*ext));
	memcpy(r.extents, ext, n * sizeof(*ext));
	assert_int_equal(npmu__meta_add(m, &r), 0);
}

/* meta__roundtrip: regions, extents and rights decode as encoded and claim their pages. */
static void meta__roundtrip(void **state)
{
	(void)state;
	struct npmu__superblock sb;
	npmu__pool_geometry(64 << 20, &sb);
	sb.generation = 3;
	struct npmu__meta m = {.generation = 3, .next_region_id = 1};
	add_region(&m, "a", 10000, (struct npmu__extent[]){{100, 2}, {200, 1}}, 2);
	add_region(&m, "b", 4096, (struct npmu__extent[]){{102, 1}}, 1);
	m.regions[1].nrights = 1;
	m.regions[1].rights[0] = (struct npmu__right){0xabcdef, NPMU_ACCESS_READ, 0x1234567890ull};
	struct npmu__mirror mr = {.generation = 4, .size = 4096, .ncopies = 2,
				  .copy = {{"10.0.0.1:7411", 0, 0}, {"10.0.0.2:7411", 1, 0}}};
	int rl = npmu__mirror_encode(&mr, m.regions[1].mirror, NPMU_MIRROR_REC_MAX);
	assert_true(rl > 0);
	m.regions[1].mirror_len = (uint16_t)rl;
	uint8_t buf[4096];
	int64_t len = npmu__meta_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, (int64_t)npmu__meta_encoded_len(&m));
	struct npmu__alloc a;
	npmu__alloc_init(&a, sb.npages, sb.data_start);
	struct npmu__meta out;
	assert_int_equal(npmu__meta_decode(buf, (size_t)len, &sb, &out, &a), 0);
	assert_int_equal(out.nregions, 2);
	assert_int_equal(npmu__meta_find(&out, "a")->nextents, 2);
	assert_int_equal(npmu__meta_find(&out, "b")->rights[0].key, 0xabcdef);
	assert_int_equal(npmu__meta_find(&out, "b")->rights[0].holder, 0x1234567890ull);
	assert_int_equal(npmu__meta_find(&out, "b")->mirror_len, rl);
	assert_memory_equal(npmu__meta_find(&out, "b")->mirror, m.regions[1].mirror, (size_t)rl);
	assert_int_equal(npmu__meta_find(&out, "a")->mirror_len, 0);
	assert_true(npmu__alloc_used(&a, 200));
	assert_int_equal(a.nfree, sb.npages - sb.data_start - 4);
	assert_int_equal(npmu__meta_encode(&m, buf, 40), NPMU_E_NOSPC);
	npmu__meta_free(&out);
	npmu__meta_free(&m);
	npmu__alloc_fini(&a);
}

/* meta__reads_version_2: a region table written before rights had holders (version 2: a right
 * is u64 key, u32 access, u32 0) decodes, each right's holder unknown (0). */
static void meta__reads_version_2(void **state)
{
	(void)state;
	struct npmu__superblock sb;
	npmu__pool_geometry(64 << 20, &sb);
	sb.generation = 5;
	sb.version = 2;
	uint8_t buf[512];
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf, sizeof(buf));
	npmu__put_bytes(&c, NPMU_META_MAGIC, 8);
	npmu__put_u64(&c, 5); /* generation */
	npmu__put_u64(&c, 2); /* next region id */
	npmu__put_u32(&c, 1); /* regions */
	npmu__put_u32(&c, 0);
	npmu__put_u64(&c, 1); /* id */
	npmu__put_u64(&c, 4096);
	npmu__put_u8(&c, 1);
	npmu__put_bytes(&c, "r", 1);
	npmu__put_u8(&c, 0); /* no owner */
	npmu__put_u32(&c, 1); /* extents */
	npmu__put_u32(&c, 2); /* rights */
	npmu__put_u64(&c, 100);
	npmu__put_u64(&c, 1);
	for (int k = 0; k < 2; k++) {
		npmu__put_u64(&c, 0x100 + (uint64_t)k);
		npmu__put_u32(&c, NPMU_ACCESS_READ_WRITE);
		npmu__put_u32(&c, 0);
	}
	npmu__put_u16(&c, 0); /* not mirrored */
	assert_true(c.ok);
	struct npmu__alloc a;
	npmu__alloc_init(&a, sb.npages, sb.data_start);
	struct npmu__meta out;
	assert_int_equal(npmu__meta_decode(buf, c.pos, &sb, &out, &a), 0);
	struct npmu__region_meta *r = npmu__meta_find(&out, "r");
	assert_non_null(r);
	assert_int_equal(r->nrights, 2);
	assert_int_equal(r->rights[1].key, 0x101);
	assert_int_equal(r->rights[0].holder, 0);
	assert_int_equal(r->rights[1].holder, 0);
	npmu__meta_free(&out);
	npmu__alloc_fini(&a);
}

/* decode_expect_corrupt -- encode m and check that decoding it reports corruption. */
static void decode_expect_corrupt(struct npmu__meta *m, const struct npmu__superblock *sb)
{
	uint8_t buf[4096];
	int64_t len = npmu__meta_encode(m, buf, sizeof(buf));
	assert_true(len > 0);
	struct npmu__alloc a;
	npmu__alloc_init(&a, sb->npages, sb->data_start);
	struct npmu__meta out;
	assert_int_equal(npmu__meta_decode(buf, (size_t)len, sb, &out, &a), NPMU_E_CORRUPT);
	assert_int_equal(out.nregions, 0);
	npmu__alloc_fini(&a);
	npmu__meta_free(m);
}

/* meta__rejects_inconsistent: shared pages, metadata pages, duplicate names, wrong sizes. */
static void meta__rejects_inconsistent(void **state)
{
	(void)state;
	struct npmu__superblock sb;
	npmu__pool_geometry(64 << 20, &sb);
	sb.generation = 1;
	struct npmu__meta m = {.generation = 1, .next_region_id = 1};
	add_region(&m, "a", 8192, (struct npmu__extent[]){{100, 2}}, 1);
	add_region(&m, "b", 8192, (struct npmu__extent[]){{101, 2}}, 1); /* overlaps a */
	decode_expect_corrupt(&m, &sb);
	m = (struct npmu__meta){.generation = 1, .next_region_id = 1};
	add_region(&m, "a", 4096, (struct npmu__extent[]){{2, 1}}, 1); /* a metadata page */
	decode_expect_corrupt(&m, &sb);
	m = (struct npmu__meta){.generation = 1, .next_region_id = 1};
	add_region(&m, "a", 4096, (struct npmu__extent[]){{100, 1}}, 1);
	add_region(&m, "a", 4096, (struct npmu__extent[]){{200, 1}}, 1);
	decode_expect_corrupt(&m, &sb);
	m = (struct npmu__meta){.generation = 1, .next_region_id = 1};
	add_region(&m, "a", 3 * 4096, (struct npmu__extent[]){{100, 1}}, 1); /* too few pages */
	decode_expect_corrupt(&m, &sb);
	m = (struct npmu__meta){.generation = 2, .next_region_id = 1}; /* other generation */
	add_region(&m, "a", 4096, (struct npmu__extent[]){{100, 1}}, 1);
	decode_expect_corrupt(&m, &sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(geometry__bounds),
		cmocka_unit_test(sb__roundtrip_and_damage),
		cmocka_unit_test(meta__roundtrip),
		cmocka_unit_test(meta__reads_version_2),
		cmocka_unit_test(meta__rejects_inconsistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
