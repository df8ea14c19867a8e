/* test_replies.c -- unit tests of every reply encoder against its decoder (src/proto/replies.h):
 * what a server encodes, a client decodes to the same values; what a decoder must refuse, an
 * encoder given a bad value writes and the decoder refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "replies.h"

static uint8_t buf[NPMU_WIRE_MAX];

/* start -- a cursor over the shared reply buffer. */
static struct npmu__cursor start(void)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf, sizeof(buf));
	return c;
}

/* region -- a region_info with every field set. */
static struct npmu_region_info region(const char *name, uint32_t copies)
{
	struct npmu_region_info i = {.id = 77, .size = 1 << 20, .extents = 3, .rights = 2,
				     .copies = copies};
	snprintf(i.name, sizeof(i.name), "%s", name);
	snprintf(i.owner, sizeof(i.owner), "alice");
	return i;
}

/* access -- an access_info on unit. */
static struct npmu__access_info access(uint32_t mode, const char *unit)
{
	struct npmu__access_info a = {.key = 0x1122334455667788ull, .base = 4096, .access = mode};
	snprintf(a.unit, sizeof(a.unit), "%s", unit);
	return a;
}

/* mirror -- a valid record of two copies on u0 and u1. */
static struct npmu__mirror mirror(void)
{
	struct npmu__mirror m = {.generation = 9, .size = 1 << 20, .ncopies = 2};
	snprintf(m.copy[0].unit, sizeof(m.copy[0].unit), "198.18.0.1:7411");
	snprintf(m.copy[1].unit, sizeof(m.copy[1].unit), "198.18.0.2:7411");
	m.copy[1].state = NPMU__COPY_RESYNCING;
	m.copy[1].resync_done = 4096;
	memset(m.copy[0].unit_id, 0xab, 8);
	return m;
}

/* hello__roundtrip: flags, unit id and sizes; free beyond the capacity is refused. */
static void hello__roundtrip(void **state)
{
	(void)state;
	struct npmu__hello_reply h;
	memset(&h, 0, sizeof(h)); /* (padding too: the structs are compared whole) */
	h.flags = NPMU_UNIT_DATA | NPMU_UNIT_AUTH;
	h.bytes = 1 << 30;
	h.free = 1 << 20;
	memset(h.unit_id, 7, 8);
	struct npmu__cursor c = start();
	npmu__reply_hello_put(&c, &h);
	struct npmu__hello_reply out;
	memset(&out, 0, sizeof(out)); /* (the decoder writes fields, not padding) */
	assert_true(c.ok);
	assert_int_equal(npmu__reply_hello(buf, c.pos, &out), 0);
	assert_memory_equal(&out, &h, sizeof(h));
	h.free = h.bytes + 1;
	c = start();
	npmu__reply_hello_put(&c, &h);
	assert_int_equal(npmu__reply_hello(buf, c.pos, &out), NPMU_E_PROTO);
	assert_int_equal(npmu__reply_hello(buf, c.pos - 1, &out), NPMU_E_PROTO);
}

/* auth1__roundtrip: session, identity, nonce, mac; session 0 is refused. */
static void auth1__roundtrip(void **state)
{
	(void)state;
	struct npmu__auth1_reply a = {.session = 5};
	snprintf(a.id_r, sizeof(a.id_r), "pmmd");
	memset(a.nonce_r, 1, sizeof(a.nonce_r));
	memset(a.mac, 2, sizeof(a.mac));
	struct npmu__cursor c = start();
	npmu__reply_auth1_put(&c, &a);
	struct npmu__auth1_reply out;
	assert_int_equal(npmu__reply_auth1(buf, c.pos, &out), 0);
	assert_memory_equal(&out, &a, sizeof(a));
	a.session = 0;
	c = start();
	npmu__reply_auth1_put(&c, &a);
	assert_int_equal(npmu__reply_auth1(buf, c.pos, &out), NPMU_E_PROTO);
}

/* scalars__roundtrip: region_info, u32, u64 and the holder's TTL (under 100 ms refused). */
static void scalars__roundtrip(void **state)
{
	(void)state;
	struct npmu_region_info i = region("ckpt.0", 1), io;
	memset(&io, 0, sizeof(io)); /* (strings are decoded up to their NUL) */
	struct npmu__cursor c = start();
	npmu__reply_info_put(&c, &i);
	assert_int_equal(npmu__reply_info(buf, c.pos, &io), 0);
	assert_memory_equal(&io, &i, sizeof(i));
	uint32_t v32;
	uint64_t v64;
	c = start();
	npmu__reply_u32_put(&c, 0xdeadbeef);
	assert_int_equal(npmu__reply_u32(buf, c.pos, &v32), 0);
	assert_int_equal(v32, 0xdeadbeef);
	c = start();
	npmu__reply_u64_put(&c, 1ull << 60);
	assert_int_equal(npmu__reply_u64(buf, c.pos, &v64), 0);
	assert_true(v64 == 1ull << 60);
	c = start();
	npmu__reply_holder_put(&c, 3000);
	assert_int_equal(npmu__reply_holder(buf, c.pos, &v32), 0);
	assert_int_equal(v32, 3000);
	c = start();
	npmu__reply_holder_put(&c, 99);
	assert_int_equal(npmu__reply_holder(buf, c.pos, &v32), NPMU_E_PROTO);
}

/* list__roundtrip: a page of regions; a page that does not move on is refused. */
static void list__roundtrip(void **state)
{
	(void)state;
	struct npmu_region_info infos[3] = {region("a", 1), region("b", 2), region("c", 1)};
	struct npmu__cursor c = start();
	npmu__reply_list_put(&c, 10, 5, infos, 3);
	struct npmu__list_page p;
	assert_int_equal(npmu__reply_list(buf, c.pos, 2, &p), 0);
	assert_int_equal(p.total, 10);
	assert_int_equal(p.next, 5);
	assert_int_equal(p.count, 3);
	assert_false(p.last);
	assert_memory_equal(p.infos, infos, sizeof(infos));
	free(p.infos);
	c = start();
	npmu__reply_list_put(&c, 10, 2, NULL, 0);
	assert_int_equal(npmu__reply_list(buf, c.pos, 2, &p), NPMU_E_PROTO);
}

/* units__roundtrip: every unit's address, state, sizes, regions and domain. */
static void units__roundtrip(void **state)
{
	(void)state;
	struct npmu_unit_info u[2] = {{.addr = "198.18.0.1:7411", .up = 1, .bytes = 1 << 30,
				       .free = 1 << 29, .regions = 4, .domain = "rack1"},
				      {.addr = "198.18.0.2:7411", .up = 0}};
	struct npmu__cursor c = start();
	npmu__reply_units_put(&c, u, 2);
	struct npmu_unit_info *list;
	size_t n;
	assert_int_equal(npmu__reply_units(buf, c.pos, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(list, u, sizeof(u));
	free(list);
}

/* open__roundtrip: a plain region's grant, and a mirrored one's record and copies; a copy
 * granted on a unit its record does not name is refused. */
static void open__roundtrip(void **state)
{
	(void)state;
	struct npmu__open_reply o;
	memset(&o, 0, sizeof(o)); /* (padding too: the structs are compared whole) */
	o.info = region("plain", 1);
	o.ai = access(NPMU_ACCESS_READ_WRITE, "198.18.0.1:7411");
	struct npmu__cursor c = start();
	npmu__reply_open_put(&c, &o);
	struct npmu__open_reply out;
	assert_int_equal(npmu__reply_open(buf, c.pos, NPMU_ACCESS_READ_WRITE, &out), 0);
	assert_memory_equal(&out, &o, sizeof(o));
	assert_int_equal(npmu__reply_open(buf, c.pos, NPMU_ACCESS_READ, &out), NPMU_E_PROTO);
	struct npmu_region_info gi;
	struct npmu__access_info ga;
	memset(&gi, 0, sizeof(gi)); /* (strings are decoded up to their NUL) */
	memset(&ga, 0, sizeof(ga));
	c = start();
	npmu__reply_grant_put(&c, &o.info, &o.ai);
	assert_int_equal(npmu__reply_grant(buf, c.pos, NPMU_ACCESS_READ_WRITE, &gi, &ga), 0);
	assert_memory_equal(&gi, &o.info, sizeof(gi));
	assert_memory_equal(&ga, &o.ai, sizeof(ga));

	struct npmu__open_reply m = {.info = region("mirrored", 2), .mirrored = true, .m = mirror()};
	m.ai = access(NPMU_ACCESS_READ, m.m.copy[0].unit);
	m.copy[0] = (struct npmu__copy_grant){.granted = true, .region_id = 12, .ai = m.ai};
	m.copy[1].ai = access(NPMU_ACCESS_READ, m.m.copy[1].unit);
	m.copy[1].ai.key = 0;
	c = start();
	npmu__reply_open_put(&c, &m);
	assert_int_equal(npmu__reply_open(buf, c.pos, NPMU_ACCESS_READ, &out), 0);
	assert_true(out.mirrored);
	assert_memory_equal(&out.m, &m.m, sizeof(m.m));
	assert_memory_equal(out.copy, m.copy, sizeof(m.copy));
	snprintf(m.copy[0].ai.unit, sizeof(m.copy[0].ai.unit), "198.18.0.9:7411");
	c = start();
	npmu__reply_open_put(&c, &m);
	assert_int_equal(npmu__reply_open(buf, c.pos, NPMU_ACCESS_READ, &out), NPMU_E_PROTO);
}

/* mirror__roundtrip: MIRROR (and ATTACH's grant), MIRROR_REC; reach beyond two copies refused. */
static void mirror__roundtrip(void **state)
{
	(void)state;
	struct npmu__mirror_reply mr = {.m = mirror(), .reach = 3, .flags = 1};
	mr.attach = (struct npmu__copy_grant){
		.granted = true, .region_id = 8,
		.ai = access(NPMU_ACCESS_READ_WRITE, "198.18.0.2:7411")};
	struct npmu__mirror_reply out;
	for (int attach = 0; attach < 2; attach++) {
		struct npmu__cursor c = start();
		npmu__reply_mirror_put(&c, &mr, attach);
		assert_int_equal(npmu__reply_mirror(buf, c.pos, attach, &out), 0);
		assert_memory_equal(&out.m, &mr.m, sizeof(mr.m));
		assert_int_equal(out.reach, 3);
		assert_int_equal(out.flags, 1);
		if (attach)
			assert_memory_equal(&out.attach, &mr.attach, sizeof(mr.attach));
	}
	mr.reach = 4;
	struct npmu__cursor c = start();
	npmu__reply_mirror_put(&c, &mr, false);
	assert_int_equal(npmu__reply_mirror(buf, c.pos, false, &out), NPMU_E_PROTO);

	uint8_t rec[NPMU_MIRROR_REC_MAX], got[NPMU_MIRROR_REC_MAX];
	int len = npmu__mirror_encode(&mr.m, rec, sizeof(rec));
	assert_true(len > 0);
	size_t glen;
	c = start();
	npmu__reply_mirror_rec_put(&c, rec, (size_t)len);
	assert_int_equal(npmu__reply_mirror_rec(buf, c.pos, got, &glen), 0);
	assert_int_equal(glen, len);
	assert_memory_equal(got, rec, glen);
	c = start();
	npmu__reply_mirror_rec_put(&c, rec, NPMU_MIRROR_REC_MAX + 1);
	assert_false(c.ok); /* an encoder never writes what its decoder refuses by length */
}

/* rights_lease__roundtrip: RIGHTS; LEASE for a holder and for a query (a holder's lease 0, and
 * a query's lease id, are refused). */
static void rights_lease__roundtrip(void **state)
{
	(void)state;
	static struct npmu__rights_reply rr, rout;
	rr.region_id = 4;
	rr.count = 2;
	rr.r[0].key = 1;
	rr.r[0].access = NPMU_ACCESS_READ;
	rr.r[0].holder = 99;
	rr.r[1].key = 2;
	rr.r[1].access = NPMU_ACCESS_READ_WRITE;
	struct npmu__cursor c = start();
	npmu__reply_rights_put(&c, &rr);
	assert_int_equal(npmu__reply_rights(buf, c.pos, &rout), 0);
	assert_int_equal(rout.count, 2);
	assert_memory_equal(rout.r, rr.r, 2 * sizeof(rr.r[0]));

	struct npmu__lease_reply l = {.lease = 17, .epoch = 3}, lout;
	c = start();
	npmu__reply_lease_put(&c, &l, false);
	assert_int_equal(npmu__reply_lease(buf, c.pos, false, &lout), 0);
	assert_memory_equal(&lout, &l, sizeof(l));
	assert_int_equal(npmu__reply_lease(buf, c.pos, true, &lout), NPMU_E_PROTO);
	struct npmu__lease_reply q = {.epoch = 3, .state = 2, .left_ms = 120, .holder = "bob"};
	c = start();
	npmu__reply_lease_put(&c, &q, true);
	assert_int_equal(npmu__reply_lease(buf, c.pos, true, &lout), 0);
	assert_memory_equal(&lout, &q, sizeof(q));
	assert_int_equal(npmu__reply_lease(buf, c.pos, false, &lout), NPMU_E_PROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hello__roundtrip),     cmocka_unit_test(auth1__roundtrip),
		cmocka_unit_test(scalars__roundtrip),   cmocka_unit_test(list__roundtrip),
		cmocka_unit_test(units__roundtrip),     cmocka_unit_test(open__roundtrip),
		cmocka_unit_test(mirror__roundtrip),    cmocka_unit_test(rights_lease__roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
