/* test_wire.c -- unit tests of every control-protocol encoder and decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "wire.h"

static const uint8_t addr[16] = {2, 0, 0x1c, 0xf3, 127, 0, 0, 1};

/* make_request -- encode a whole request message; returns its length. */
static size_t make_request(uint8_t *buf, uint16_t type, const struct npmu__request *req)
{
	struct npmu__msg_hdr h = {.type = type, .req_id = 42, .addr_len = 16, .addr = addr};
	int hl = npmu__msg_encode_hdr(buf, NPMU_WIRE_MAX, &h);
	assert_true(hl > 0);
	int bl = npmu__req_encode(type, req, buf + hl, NPMU_WIRE_MAX - (size_t)hl);
	assert_true(bl >= 0);
	h.body_len = (uint32_t)bl;
	npmu__msg_encode_hdr(buf, NPMU_WIRE_MAX, &h);
	return (size_t)(hl + bl);
}

/* hdr__roundtrip: a request header decodes to what was encoded, address and body in place. */
static void hdr__roundtrip(void **state)
{
	(void)state;
	uint8_t buf[NPMU_WIRE_MAX];
	struct npmu__request req = {.name = "ckpt.0", .size = 1 << 20, .copies = 1};
	size_t len = make_request(buf, NPMU_MSG_CREATE, &req);
	struct npmu__msg_hdr h;
	assert_int_equal(npmu__msg_decode_hdr(buf, len, &h), 0);
	assert_int_equal(h.type, NPMU_MSG_CREATE);
	assert_int_equal(h.req_id, 42);
	assert_int_equal(h.addr_len, 16);
	assert_memory_equal(h.addr, addr, 16);
	struct npmu__request out;
	assert_int_equal(npmu__req_decode(h.type, h.body, h.body_len, &out), 0);
	assert_string_equal(out.name, "ckpt.0");
	assert_int_equal(out.size, 1 << 20);
}

/* hdr__rejects: bad magic, other version, truncation, trailing bytes, bad type, bad address length. */
static void hdr__rejects(void **state)
{
	(void)state;
	uint8_t buf[NPMU_WIRE_MAX], bad[NPMU_WIRE_MAX];
	struct npmu__request req = {.name = "r"};
	size_t len = make_request(buf, NPMU_MSG_STAT, &req);
	struct npmu__msg_hdr h;
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(npmu__msg_decode_hdr(buf, cut, &h), NPMU_E_PROTO);
	memcpy(bad, buf, len);
	bad[len] = 0;
	assert_int_equal(npmu__msg_decode_hdr(bad, len + 1, &h), NPMU_E_PROTO);
	memcpy(bad, buf, len);
	bad[0] ^= 1;
	assert_int_equal(npmu__msg_decode_hdr(bad, len, &h), NPMU_E_PROTO);
	memcpy(bad, buf, len);
	bad[4] = 9; /* version */
	assert_int_equal(npmu__msg_decode_hdr(bad, len, &h), NPMU_E_VERSION);
	memcpy(bad, buf, len);
	bad[6] = 99; /* type */
	assert_int_equal(npmu__msg_decode_hdr(bad, len, &h), NPMU_E_PROTO);
	memcpy(bad, buf, len);
	bad[8] = 0xff; /* body length beyond the message */
	assert_int_equal(npmu__msg_decode_hdr(bad, len, &h), NPMU_E_PROTO);
	memcpy(bad, buf, len);
	bad[12] = 1; /* a request carrying a status */
	assert_int_equal(npmu__msg_decode_hdr(bad, len, &h), NPMU_E_PROTO);
	memcpy(bad, buf, len);
	bad[32] = 0; /* request without a return address */
	bad[33] = 0;
	assert_int_equal(npmu__msg_decode_hdr(bad, len, &h), NPMU_E_PROTO);
	assert_int_equal(npmu__msg_decode_hdr(buf, NPMU_WIRE_MAX + 1, &h), NPMU_E_TOOBIG);
}

/* req__every_type_roundtrips: each request body decodes to its fields, and any cut is rejected. */
static void req__every_type_roundtrips(void **state)
{
	(void)state;
	struct npmu__request in = {.name = "A-z_0.9", .size = 77, .access = NPMU_ACCESS_READ,
				   .region_id = 5, .key = 0xdeadbeefcafef00dull, .offset = 4095,
				   .len = 3, .start = 40, .id = "alice@lab", .nonce = {1, 2, 3}, .ttl_ms = 500,
				   .mac = {9, 8, 7}, .copies = 2, .unit2 = "10.0.0.2:7411", .op = 1,
				   .copy = 1, .key1 = 77, .value = 4096, .rec_len = 3, .rec = {5, 6, 7},
				   .holder = 0x1122334455667788ull, .members = 6, .lease = 42};
	for (uint16_t t = 1; t <= NPMU_MSG_TYPE_MAX; t++) {
		uint8_t body[512];
		int n = npmu__req_encode(t, &in, body, sizeof(body));
		assert_true(n >= 0);
		struct npmu__request out;
		assert_int_equal(npmu__req_decode(t, body, (size_t)n, &out), 0);
		if (t == NPMU_MSG_PERSIST || t == NPMU_MSG_CLOSE) {
			assert_int_equal(out.region_id, 5);
			assert_int_equal(out.key, in.key);
		}
		if (t == NPMU_MSG_PERSIST) {
			assert_int_equal(out.offset, 4095);
			assert_int_equal(out.len, 3);
		}
		if (t == NPMU_MSG_OPEN) {
			assert_int_equal(out.access, NPMU_ACCESS_READ);
			assert_int_equal(out.lease, 42);
			assert_int_equal(out.holder, in.holder);
		}
		if (t == NPMU_MSG_HOLDER)
			assert_int_equal(out.holder, in.holder);
		if (t == NPMU_MSG_RIGHTS || t == NPMU_MSG_MEMBERS)
			assert_string_equal(out.name, in.name);
		if (t == NPMU_MSG_LEASE) {
			assert_int_equal(out.lease, 42);
			assert_int_equal(out.ttl_ms, 500);
			assert_int_equal(out.key, in.key);
			assert_int_equal(out.members, 6);
		}
		if (t == NPMU_MSG_LIST)
			assert_int_equal(out.start, 40);
		if (t == NPMU_MSG_CREATE) {
			assert_int_equal(out.copies, 2);
			assert_string_equal(out.unit2, "10.0.0.2:7411");
			assert_int_equal(out.rec_len, 3);
			assert_memory_equal(out.rec, in.rec, 3);
		}
		if (t == NPMU_MSG_MIRROR_REC) {
			assert_int_equal(out.op, 1);
			assert_int_equal(out.key, in.key);
			assert_memory_equal(out.rec, in.rec, 3);
		}
		if (t == NPMU_MSG_MIRROR) {
			assert_int_equal(out.op, 1);
			assert_int_equal(out.copy, 1);
			assert_int_equal(out.key1, 77);
			assert_int_equal(out.value, 4096);
			assert_int_equal(out.holder, in.holder);
		}
		if (t == NPMU_MSG_FENCE)
			assert_int_equal(out.op, 1);
		if (t == NPMU_MSG_AUTH1) {
			assert_string_equal(out.id, "alice@lab");
			assert_memory_equal(out.nonce, in.nonce, NPMU_NONCE_LEN);
		}
		if (t == NPMU_MSG_AUTH3)
			assert_memory_equal(out.mac, in.mac, NPMU_MAC_LEN);
		for (int cut = 0; cut < n; cut++) /* (MEMBERS without its op: the older request) */
			if (!(t == NPMU_MSG_MEMBERS && cut == n - 4))
				assert_int_not_equal(npmu__req_decode(t, body, (size_t)cut, &out), 0);
		body[n] = 0;
		assert_int_equal(npmu__req_decode(t, body, (size_t)n + 1, &out), NPMU_E_PROTO);
	}
	assert_int_equal(npmu__req_decode(0, "", 0, &in), NPMU_E_PROTO);
	/* a holder renewal names a holder; a set's lease leaves room for its members' names */
	uint8_t body[512];
	in.holder = 0;
	int n = npmu__req_encode(NPMU_MSG_HOLDER, &in, body, sizeof(body));
	assert_int_equal(npmu__req_decode(NPMU_MSG_HOLDER, body, (size_t)n, &in), NPMU_E_PROTO);
	struct npmu__request set = {.ttl_ms = 500, .members = 6};
	memset(set.name, 'a', NPMU_NAME_MAX - 4);
	n = npmu__req_encode(NPMU_MSG_LEASE, &set, body, sizeof(body));
	struct npmu__request out;
	assert_int_equal(npmu__req_decode(NPMU_MSG_LEASE, body, (size_t)n, &out), 0);
	set.name[NPMU_NAME_MAX - 4] = 'a';
	n = npmu__req_encode(NPMU_MSG_LEASE, &set, body, sizeof(body));
	assert_int_equal(npmu__req_decode(NPMU_MSG_LEASE, body, (size_t)n, &out), NPMU_E_NAME);
	/* MEMBERS names a set the same way: a longer name is refused, naming the field */
	n = npmu__req_encode(NPMU_MSG_MEMBERS, &set, body, sizeof(body));
	assert_int_equal(npmu__req_decode(NPMU_MSG_MEMBERS, body, (size_t)n, &out), NPMU_E_NAME);
	set.name[NPMU_NAME_MAX - 4] = '\0';
	n = npmu__req_encode(NPMU_MSG_MEMBERS, &set, body, sizeof(body));
	assert_int_equal(npmu__req_decode(NPMU_MSG_MEMBERS, body, (size_t)n, &out), 0);
	assert_string_equal(out.name, set.name);
	assert_int_equal(out.op, 0);
	/* ... asking about the staging region too (NPMU__MEMBERS_STAGING); another op is refused */
	set.op = NPMU__MEMBERS_STAGING;
	n = npmu__req_encode(NPMU_MSG_MEMBERS, &set, body, sizeof(body));
	assert_int_equal(npmu__req_decode(NPMU_MSG_MEMBERS, body, (size_t)n, &out), 0);
	assert_int_equal(out.op, NPMU__MEMBERS_STAGING);
	set.op = 2;
	n = npmu__req_encode(NPMU_MSG_MEMBERS, &set, body, sizeof(body));
	assert_int_equal(npmu__req_decode(NPMU_MSG_MEMBERS, body, (size_t)n, &out), NPMU_E_PROTO);
	set.op = 0;
	set.members = NPMU_SET_MEMBERS_MAX + 1;
	n = npmu__req_encode(NPMU_MSG_LEASE, &set, body, sizeof(body));
	assert_int_equal(npmu__req_decode(NPMU_MSG_LEASE, body, (size_t)n, &out), NPMU_E_PROTO);
}

/* req__bad_names_and_access: invalid names and unknown access values are refused. */
static void req__bad_names_and_access(void **state)
{
	(void)state;
	uint8_t body[300];
	struct npmu__request out;
	const char *names[] = {"", "has space", "slash/no", "\xff", NULL};
	for (int i = 0; names[i]; i++) {
		body[0] = (uint8_t)strlen(names[i]);
		memcpy(body + 1, names[i], body[0]);
		/* size, empty owner and unit, copies 1, empty unit2, no record */
		memset(body + 1 + body[0], 0, 17);
		body[1 + body[0] + 10] = 1;
		assert_int_equal(npmu__req_decode(NPMU_MSG_CREATE, body, 1u + body[0] + 17, &out),
				 body[0] ? NPMU_E_NAME : NPMU_E_NAME);
	}
	body[0] = 64; /* one byte over the limit */
	memset(body + 1, 'a', 64);
	assert_int_equal(npmu__req_decode(NPMU_MSG_STAT, body, 65, &out), NPMU_E_NAME);
	struct npmu__request in = {.name = "x", .access = 2};
	int n = npmu__req_encode(NPMU_MSG_OPEN, &in, body, sizeof(body));
	assert_int_equal(npmu__req_decode(NPMU_MSG_OPEN, body, (size_t)n, &out), NPMU_E_PROTO);
	struct npmu__request toolong;
	memset(toolong.name, 'a', sizeof(toolong.name));
	assert_int_equal(npmu__req_encode(NPMU_MSG_STAT, &toolong, body, sizeof(body)), NPMU_E_TOOBIG);
}

/* info__roundtrip_and_malformed: region and access info survive a round trip; bad values do not. */
/* A PERSIST names up to NPMU_PERSIST_RANGES ranges; one more, or a short list, is refused. */
static void req__persist_ranges(void **state)
{
	(void)state;
	struct npmu__request in = {.region_id = 9, .key = 7, .offset = 0, .len = 64,
				   .more = NPMU_PERSIST_RANGES - 1};
	for (uint32_t i = 0; i < in.more; i++)
		in.more_ranges[i] = (struct npmu__range){.offset = 4096 * (i + 1), .len = i + 1};
	uint8_t body[512];
	int n = npmu__req_encode(NPMU_MSG_PERSIST, &in, body, sizeof(body));
	assert_int_equal(n, 4 * 8 + 4 + (NPMU_PERSIST_RANGES - 1) * 16);
	struct npmu__request out;
	assert_int_equal(npmu__req_decode(NPMU_MSG_PERSIST, body, (size_t)n, &out), 0);
	assert_int_equal(out.more, in.more);
	for (uint32_t i = 0; i < in.more; i++) {
		assert_int_equal(out.more_ranges[i].offset, in.more_ranges[i].offset);
		assert_int_equal(out.more_ranges[i].len, in.more_ranges[i].len);
	}
	/* a list cut short, and a count past the limit */
	assert_int_equal(npmu__req_decode(NPMU_MSG_PERSIST, body, (size_t)n - 8, &out),
			 NPMU_E_PROTO);
	body[32] = NPMU_PERSIST_RANGES; /* u32 more, little-endian */
	assert_int_equal(npmu__req_decode(NPMU_MSG_PERSIST, body, (size_t)n + 16, &out),
			 NPMU_E_PROTO);
	in.more = NPMU_PERSIST_RANGES;
	assert_true(npmu__req_encode(NPMU_MSG_PERSIST, &in, body, sizeof(body)) < 0);
}

static void info__roundtrip_and_malformed(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct npmu__cursor c;
	struct npmu_region_info in = {.name = "r1", .id = 9, .size = 12345, .extents = 3, .rights = 2,
				      .copies = 2};
	struct npmu__access_info ai = {.key = 77, .base = 0, .access = NPMU_ACCESS_READ_WRITE};
	npmu__cursor_init(&c, buf, sizeof(buf));
	npmu__info_put(&c, &in);
	npmu__access_put(&c, &ai);
	size_t len = c.pos;
	struct npmu_region_info out;
	struct npmu__access_info ao;
	npmu__cursor_init(&c, buf, len);
	npmu__info_get(&c, &out);
	npmu__access_get(&c, &ao);
	assert_true(c.ok);
	assert_memory_equal(&in, &out, sizeof(in));
	assert_int_equal(ao.key, 77);
	buf[len - 8] = 7; /* access value */
	npmu__cursor_init(&c, buf, len);
	npmu__info_get(&c, &out);
	npmu__access_get(&c, &ao);
	assert_false(c.ok);
	npmu__cursor_init(&c, buf, 5);
	npmu__info_get(&c, &out);
	assert_false(c.ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hdr__roundtrip),
		cmocka_unit_test(hdr__rejects),
		cmocka_unit_test(req__every_type_roundtrips),
		cmocka_unit_test(req__bad_names_and_access),
		cmocka_unit_test(req__persist_ranges),
		cmocka_unit_test(info__roundtrip_and_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
