/* fuzz_replies.c -- the client's side of the protocol: every reply decoder (src/proto/replies.c)
 * and the initiator's half of the handshake and of the sealed channel. Input: u8 kind, then the
 * kind's bytes. Checks besides memory safety: what decodes is in range and terminated; whatever
 * decodes, its encoder (npmu__reply_*_put) writes back to the very same bytes; and a reply or an AUTH1 answer made properly, then
 * altered in one byte, is never accepted, while the unaltered one always is. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "errors.h"
#include "fuzz.h"
#include "replies.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static const uint8_t key[NPMU_KEY_LEN] = {7, 6, 5, 4, 3, 2, 1};

/* SAME -- the encoder statement put (writing to cursor e) gives back exactly b[0..n): each value
 * has one encoding, and the encoders and decoders agree. */
#define SAME(b, n, put)                                                                            \
	do {                                                                                       \
		static uint8_t again_[NPMU_WIRE_MAX];                                              \
		struct npmu__cursor e_;                                                            \
		npmu__cursor_init(&e_, again_, sizeof(again_));                                    \
		struct npmu__cursor *e = &e_;                                                      \
		put;                                                                               \
		CHECK(e_.ok && e_.pos == (n) && memcmp(again_, (b), (n)) == 0);                    \
	} while (0)

/* terminated -- s holds a NUL within its n bytes. */
static bool terminated(const char *s, size_t n)
{
	return strnlen(s, n) < n;
}

/* transcript -- the fixed initiator half of a handshake; the responder half from the caller. */
static void transcript(struct npmu__transcript *t, uint64_t session, const char *id_r,
		       const uint8_t nonce_r[NPMU_NONCE_LEN])
{
	memset(t, 0, sizeof(*t));
	strcpy(t->id_i, "alice");
	snprintf(t->id_r, sizeof(t->id_r), "%s", id_r);
	memset(t->nonce_i, 0x5a, NPMU_NONCE_LEN);
	memcpy(t->nonce_r, nonce_r, NPMU_NONCE_LEN);
	t->session = session;
}

/* decoders -- one reply decoder on the body, with its properties. */
static void decoders(uint8_t which, const uint8_t *b, size_t n)
{
	switch (which % 14) {
	case 0: {
		struct npmu__hello_reply h;
		if (npmu__reply_hello(b, n, &h) == 0) {
			CHECK(h.free <= h.bytes && n == 28);
			SAME(b, n, npmu__reply_hello_put(e, &h));
		}
		break;
	}
	case 1: {
		struct npmu__auth1_reply a;
		if (npmu__reply_auth1(b, n, &a) == 0) {
			CHECK(a.session != 0 && npmu__id_valid(a.id_r, strlen(a.id_r)));
			SAME(b, n, npmu__reply_auth1_put(e, &a));
		}
		break;
	}
	case 2: {
		struct npmu_region_info info;
		if (npmu__reply_info(b, n, &info) == 0) {
			CHECK(terminated(info.name, sizeof(info.name)) && info.copies >= 1 &&
			      info.copies <= 2);
			SAME(b, n, npmu__reply_info_put(e, &info));
		}
		break;
	}
	case 3: {
		uint32_t v;
		uint64_t w;
		if (npmu__reply_u32(b, n, &v) == 0)
			SAME(b, n, npmu__reply_u32_put(e, v));
		if (npmu__reply_u64(b, n, &w) == 0)
			SAME(b, n, npmu__reply_u64_put(e, w));
		break;
	}
	case 4: {
		struct npmu__list_page p;
		if (n < 1)
			break;
		uint32_t start = b[0]; /* the page asked for, then the reply */
		if (npmu__reply_list(b + 1, n - 1, start, &p) == 0) {
			CHECK(p.next >= start && p.count <= p.next - start);
			CHECK((p.count == 0) == (p.infos == NULL));
			CHECK(p.last || p.next > start); /* a listing always ends */
			for (uint32_t i = 0; i < p.count; i++)
				CHECK(terminated(p.infos[i].name, sizeof(p.infos[i].name)));
			SAME(b + 1, n - 1, npmu__reply_list_put(e, p.total, p.next, p.infos, p.count));
			free(p.infos);
		}
		break;
	}
	case 5: {
		struct npmu_unit_info *list = NULL;
		size_t count = 0;
		if (npmu__reply_units(b, n, &list, &count) == 0) {
			CHECK(list && count <= NPMU_UNITS_REPLY_MAX);
			for (size_t i = 0; i < count; i++)
				CHECK(list[i].addr[0] && terminated(list[i].addr, sizeof(list[i].addr)) &&
				      terminated(list[i].domain, sizeof(list[i].domain)));
			SAME(b, n, npmu__reply_units_put(e, list, count));
			free(list);
		}
		break;
	}
	case 6:
	case 7: {
		struct npmu__open_reply o;
		uint32_t access = which % 14 == 6 ? NPMU_ACCESS_READ : NPMU_ACCESS_READ_WRITE;
		if (npmu__reply_open(b, n, access, &o) == 0) {
			CHECK(o.ai.access == access && o.mirrored == (o.info.copies == 2));
			for (int k = 0; o.mirrored && k < NPMU_MIRROR_COPIES; k++) {
				CHECK(o.m.ncopies == NPMU_MIRROR_COPIES);
				CHECK(!o.copy[k].granted ||
				      strcmp(o.copy[k].ai.unit, o.m.copy[k].unit) == 0);
			}
			SAME(b, n, npmu__reply_open_put(e, &o));
		}
		struct npmu_region_info info;
		struct npmu__access_info ai;
		if (npmu__reply_grant(b, n, access, &info, &ai) == 0) {
			CHECK(ai.access == access && terminated(ai.unit, sizeof(ai.unit)));
			SAME(b, n, npmu__reply_grant_put(e, &info, &ai));
		}
		break;
	}
	case 8:
	case 9: {
		struct npmu__mirror_reply mr;
		bool attach = which % 14 == 9;
		if (npmu__reply_mirror(b, n, attach, &mr) == 0) {
			CHECK(mr.reach <= 3 && mr.m.ncopies == NPMU_MIRROR_COPIES);
			CHECK(!attach || mr.attach.ai.unit[0]);
			SAME(b, n, npmu__reply_mirror_put(e, &mr, attach));
		}
		break;
	}
	case 10: {
		uint8_t rec[NPMU_MIRROR_REC_MAX];
		size_t len;
		if (npmu__reply_mirror_rec(b, n, rec, &len) == 0) {
			CHECK(len <= NPMU_MIRROR_REC_MAX && n == len + 2);
			SAME(b, n, npmu__reply_mirror_rec_put(e, rec, len));
		}
		break;
	}
	case 11: {
		struct npmu__lease_reply lr;
		if (npmu__reply_lease(b, n, false, &lr) == 0) {
			CHECK(lr.lease != 0 && n == 16);
			SAME(b, n, npmu__reply_lease_put(e, &lr, false));
		}
		if (npmu__reply_lease(b, n, true, &lr) == 0) {
			CHECK(lr.lease == 0 && lr.state <= 2 && terminated(lr.holder, sizeof(lr.holder)));
			SAME(b, n, npmu__reply_lease_put(e, &lr, true));
		}
		break;
	}
	case 12: {
		struct npmu__rights_reply rr;
		if (npmu__reply_rights(b, n, &rr) == 0) {
			CHECK(rr.count <= NPMU_RIGHTS_REPLY_MAX && n == 12 + 20 * (size_t)rr.count);
			for (uint32_t i = 0; i < rr.count; i++)
				CHECK(rr.r[i].access == NPMU_ACCESS_READ ||
				      rr.r[i].access == NPMU_ACCESS_READ_WRITE);
			SAME(b, n, npmu__reply_rights_put(e, &rr));
		}
		break;
	}
	case 13: {
		uint32_t ttl;
		if (npmu__reply_holder(b, n, &ttl) == 0) {
			CHECK(ttl >= 100 && n == 4);
			SAME(b, n, npmu__reply_holder_put(e, ttl));
		}
		break;
	}
	}
}

/* handshake -- the initiator's checks on an AUTH1 answer made with the key from the input's
 * session, id and nonce, then maybe altered at one byte: accepted exactly when unaltered. */
static void handshake(const uint8_t *b, size_t n)
{
	if (n < 1 + 2 + 8 + NPMU_NONCE_LEN + 1)
		return;
	uint8_t idn = (uint8_t)(b[0] % NPMU_ID_MAX + 1);
	uint16_t flip = (uint16_t)(b[1] | b[2] << 8); /* 0: none; else the byte to alter, + 1 */
	uint64_t session;
	memcpy(&session, b + 3, 8);
	const uint8_t *nonce_r = b + 11;
	const uint8_t *id = b + 11 + NPMU_NONCE_LEN;
	size_t idlen = n - 11 - NPMU_NONCE_LEN < idn ? n - 11 - NPMU_NONCE_LEN : idn;
	if (session == 0 || !npmu__id_valid((const char *)id, idlen))
		return;
	char id_r[NPMU_ID_MAX + 1] = {0};
	memcpy(id_r, id, idlen);
	struct npmu__transcript t;
	transcript(&t, session, id_r, nonce_r);
	uint8_t msg[8 + 1 + NPMU_ID_MAX + NPMU_NONCE_LEN + NPMU_MAC_LEN];
	struct npmu__cursor c;
	npmu__cursor_init(&c, msg, sizeof(msg));
	npmu__put_u64(&c, session);
	npmu__str_put(&c, id_r);
	npmu__put_bytes(&c, nonce_r, NPMU_NONCE_LEN);
	uint8_t mac[NPMU_MAC_LEN];
	npmu__auth_mac(key, false, &t, mac);
	npmu__put_bytes(&c, mac, NPMU_MAC_LEN);
	CHECK(c.ok);
	bool altered = flip != 0 && flip <= c.pos;
	if (altered)
		msg[flip - 1] ^= (uint8_t)(b[1] | 1);
	/* what the initiator does with the answer (src/lib/conn.c, authenticate) */
	struct npmu__auth1_reply a;
	bool ok = npmu__reply_auth1(msg, c.pos, &a) == 0;
	if (ok) {
		struct npmu__transcript mine;
		transcript(&mine, a.session, a.id_r, a.nonce_r);
		ok = npmu__auth_check(key, false, &mine, a.mac);
	}
	CHECK(ok == !altered);
}

/* sealed -- a reply sealed properly by the responder under the input's sequence number, then
 * maybe altered at one byte, as the initiator receives it: accepted exactly when unaltered. */
static void sealed(const uint8_t *b, size_t n)
{
	if (n < 11)
		return;
	static struct npmu__channel ci, cr;
	static bool once;
	if (!once) {
		uint8_t nonce_r[NPMU_NONCE_LEN] = {1};
		struct npmu__transcript t;
		transcript(&t, 42, "unit", nonce_r);
		npmu__channel_init(&ci, key, true, &t);
		npmu__channel_init(&cr, key, false, &t);
		once = true;
	}
	uint16_t type = (uint16_t)(b[0] % NPMU_MSG_TYPE_MAX + 1);
	uint16_t flip = (uint16_t)(b[1] | b[2] << 8); /* 0: none; else the byte to alter, + 1 */
	uint8_t x = (uint8_t)(b[1] | 1);
	uint64_t seq;
	memcpy(&seq, b + 3, 8);
	b += 11;
	n -= 11;
	if (n > 512)
		n = 512;
	uint8_t msg[NPMU_WIRE_HDR_LEN + 512 + NPMU_TAG_LEN];
	struct npmu__msg_hdr h = {.type = (uint16_t)(type | NPMU_MSG_REPLY),
				  .req_id = seq,
				  .session = 42,
				  .body_len = (uint32_t)(n + NPMU_TAG_LEN)};
	CHECK(npmu__msg_encode_hdr(msg, sizeof(msg), &h) == NPMU_WIRE_HDR_LEN);
	memcpy(msg + NPMU_WIRE_HDR_LEN, b, n);
	npmu__seal(&cr, false, seq, msg, NPMU_WIRE_HDR_LEN, msg + NPMU_WIRE_HDR_LEN, n);
	size_t len = NPMU_WIRE_HDR_LEN + n + NPMU_TAG_LEN;
	bool altered = flip != 0 && flip <= len;
	if (altered)
		msg[flip - 1] ^= x;
	const uint8_t *body;
	size_t blen;
	int status;
	int rc = npmu__reply_accept(&ci, type, seq, msg, len, &body, &blen, &status);
	if (!altered)
		CHECK(rc == 0 && status == 0 && blen == n && memcmp(body, b, n) == 0);
	else
		CHECK(rc != 0 || status != 0); /* never a success made up from an altered reply */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	if (!once) {
		if (sodium_init() < 0)
			return 0;
		once = true;
	}
	if (size < 1)
		return 0;
	uint8_t kind = data[0];
	const uint8_t *b = data + 1;
	size_t n = size - 1;
	switch (kind >> 6) {
	case 0:
		decoders(kind, b, n);
		break;
	case 1:
		handshake(b, n);
		break;
	case 2:
		sealed(b, n);
		break;
	case 3: { /* an arbitrary message as a reply, in the clear and to a sealed request */
		static struct npmu__channel ch = {.session = 42};
		uint8_t msg[NPMU_WIRE_MAX];
		size_t len = n < sizeof(msg) ? n : sizeof(msg);
		const uint8_t *body;
		size_t blen;
		int status;
		for (int s = 0; s < 2; s++) {
			memcpy(msg, b, len);
			uint16_t type = (uint16_t)(kind % NPMU_MSG_TYPE_MAX + 1);
			if (npmu__reply_accept(s ? &ch : NULL, type, 1, msg, len, &body, &blen,
					       &status) == 0) {
				CHECK(body >= msg && body + blen <= msg + len);
				CHECK(status == 0 || npmu__is_error(status));
				CHECK(!s || status != 0); /* no key: nothing opens */
			}
		}
		break;
	}
	}
	return 0;
}
