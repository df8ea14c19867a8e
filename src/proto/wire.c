/* wire.c -- encoders and validating decoders for the control protocol (format in wire.h). */
#include "wire.h"

#include <string.h>

#include "codec.h"
#include "session.h"

/* npmu__name_valid -- whether name is 1..NPMU_NAME_MAX characters of [A-Za-z0-9._-]. */
bool npmu__name_valid(const char *name, size_t len)
{
	if (len == 0 || len > NPMU_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* npmu__msg_type_name -- the name of a message type, for logs. */
const char *npmu__msg_type_name(uint16_t type)
{
	static const char *const names[] = {"?",      "HELLO", "CREATE", "OPEN",    "CLOSE",
					    "DELETE", "RESIZE", "STAT", "LIST",  "PERSIST",
					    "AUTH1",  "AUTH3",  "UNITS", "REVOKE", "LEASE",
					    "FENCE",  "MIRROR_REC", "MIRROR", "HOLDER", "RIGHTS",
					    "MEMBERS", "WHERE"};
	_Static_assert(sizeof(names) / sizeof(names[0]) == NPMU_MSG_TYPE_MAX + 1,
		       "a name for every message type");
	type &= (uint16_t)~NPMU_MSG_REPLY;
	return type <= NPMU_MSG_TYPE_MAX ? names[type] : "?";
}

/* npmu__msg_encode_hdr -- write a header and the return address; returns the header size. */
int npmu__msg_encode_hdr(void *buf, size_t buflen, const struct npmu__msg_hdr *hdr)
{
	if (hdr->addr_len > NPMU_WIRE_ADDR_MAX)
		return NPMU_E_INVAL;
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf, buflen);
	npmu__put_u32(&c, NPMU_WIRE_MAGIC);
	npmu__put_u16(&c, NPMU_WIRE_VERSION);
	npmu__put_u16(&c, hdr->type);
	npmu__put_u32(&c, hdr->body_len);
	npmu__put_u32(&c, (uint32_t)hdr->status);
	npmu__put_u64(&c, hdr->req_id);
	npmu__put_u64(&c, hdr->session);
	npmu__put_u16(&c, hdr->addr_len);
	npmu__put_u16(&c, 0);
	npmu__put_bytes(&c, hdr->addr, hdr->addr_len);
	if (!c.ok || c.pos + hdr->body_len > NPMU_WIRE_MAX)
		return NPMU_E_TOOBIG;
	return (int)c.pos;
}

/* npmu__msg_decode_hdr -- validate and decode a received message's header. */
int npmu__msg_decode_hdr(const void *buf, size_t len, struct npmu__msg_hdr *hdr)
{
	if (len > NPMU_WIRE_MAX)
		return NPMU_E_TOOBIG;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)buf, len);
	uint32_t magic = npmu__get_u32(&c);
	uint16_t version = npmu__get_u16(&c);
	hdr->type = npmu__get_u16(&c);
	hdr->body_len = npmu__get_u32(&c);
	hdr->status = (int32_t)npmu__get_u32(&c);
	hdr->req_id = npmu__get_u64(&c);
	hdr->session = npmu__get_u64(&c);
	hdr->addr_len = npmu__get_u16(&c);
	uint16_t reserved = npmu__get_u16(&c);
	hdr->addr = hdr->body = NULL;
	if (!c.ok || magic != NPMU_WIRE_MAGIC)
		return NPMU_E_PROTO;
	/* Another version is reported as such; its header is still read when it has our shape,
	 * so that the sender can be told. */
	int bad = version != NPMU_WIRE_VERSION ? NPMU_E_VERSION : NPMU_E_PROTO;
	uint16_t base = hdr->type & (uint16_t)~NPMU_MSG_REPLY;
	if (reserved != 0 || base == 0 || base > NPMU_MSG_TYPE_MAX)
		return bad;
	bool reply = (hdr->type & NPMU_MSG_REPLY) != 0;
	if (reply ? hdr->addr_len != 0 : (hdr->addr_len == 0 || hdr->addr_len > NPMU_WIRE_ADDR_MAX))
		return bad;
	if (!reply && hdr->status != 0)
		return bad;
	const uint8_t *addr = npmu__cursor_take(&c, hdr->addr_len);
	const uint8_t *body = npmu__cursor_take(&c, hdr->body_len);
	if (!c.ok || c.pos != len)
		return bad;
	hdr->addr = addr;
	hdr->body = body;
	return version != NPMU_WIRE_VERSION ? NPMU_E_VERSION : 0;
}

/* put_name -- a string field: u8 length and bytes. */
static void put_name(struct npmu__cursor *c, const char *name)
{
	size_t n = strnlen(name, NPMU_NAME_MAX + 1);
	if (n > NPMU_NAME_MAX) {
		c->ok = false;
		return;
	}
	npmu__put_u8(c, (uint8_t)n);
	npmu__put_bytes(c, name, n);
}

/* get_name -- read a string field and check it is a valid region name. */
static int get_name(struct npmu__cursor *c, char out[NPMU_NAME_MAX + 1])
{
	uint8_t n = npmu__get_u8(c);
	uint8_t *s = npmu__cursor_take(c, n);
	if (!s)
		return NPMU_E_PROTO;
	if (!npmu__name_valid((const char *)s, n))
		return NPMU_E_NAME;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* put_rec -- a mirror record field: u16 length and bytes. */
static void put_rec(struct npmu__cursor *c, const struct npmu__request *req)
{
	if (req->rec_len > sizeof(req->rec)) {
		c->ok = false;
		return;
	}
	npmu__put_u16(c, req->rec_len);
	npmu__put_bytes(c, req->rec, req->rec_len);
}

/* get_rec -- read a mirror record field (its content is checked where it is used). */
static void get_rec(struct npmu__cursor *c, struct npmu__request *req)
{
	req->rec_len = npmu__get_u16(c);
	if (req->rec_len > sizeof(req->rec)) {
		c->ok = false;
		return;
	}
	npmu__get_bytes(c, req->rec, req->rec_len);
}

/* put_persist -- a PERSIST's body: region, key and its ranges; -1 when they are too many. */
static int put_persist(struct npmu__cursor *c, const struct npmu__request *req)
{
	if (req->more >= NPMU_PERSIST_RANGES)
		return -1;
	npmu__put_u64(c, req->region_id);
	npmu__put_u64(c, req->key);
	npmu__put_u64(c, req->offset);
	npmu__put_u64(c, req->len);
	npmu__put_u32(c, req->more);
	for (uint32_t i = 0; i < req->more; i++) {
		npmu__put_u64(c, req->more_ranges[i].offset);
		npmu__put_u64(c, req->more_ranges[i].len);
	}
	return 0;
}

/* get_persist -- a PERSIST's body; NPMU_E_PROTO for more ranges than one may name. */
static int get_persist(struct npmu__cursor *c, struct npmu__request *req)
{
	req->region_id = npmu__get_u64(c);
	req->key = npmu__get_u64(c);
	req->offset = npmu__get_u64(c);
	req->len = npmu__get_u64(c);
	req->more = npmu__get_u32(c);
	if (c->ok && req->more >= NPMU_PERSIST_RANGES)
		return NPMU_E_PROTO;
	for (uint32_t i = 0; c->ok && i < req->more; i++) {
		req->more_ranges[i].offset = npmu__get_u64(c);
		req->more_ranges[i].len = npmu__get_u64(c);
	}
	return 0;
}

/* npmu__req_encode -- encode the body of request `type`; returns its length.
 * long: one case per message type, beside npmu__req_decode's. */
int npmu__req_encode(uint16_t type, const struct npmu__request *req, void *buf, size_t buflen)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf, buflen);
	switch (type) {
	case NPMU_MSG_HELLO:
	case NPMU_MSG_UNITS: break;
	case NPMU_MSG_CREATE:
		put_name(&c, req->name);
		npmu__put_u64(&c, req->size);
		npmu__str_put(&c, req->owner);
		npmu__str_put(&c, req->unit);
		npmu__put_u32(&c, req->copies);
		npmu__str_put(&c, req->unit2);
		put_rec(&c, req);
		break;
	case NPMU_MSG_FENCE:
		put_name(&c, req->name);
		npmu__put_u32(&c, req->op);
		npmu__put_u64(&c, req->epoch);
		break;
	case NPMU_MSG_MIRROR_REC:
		put_name(&c, req->name);
		npmu__put_u32(&c, req->op);
		npmu__put_u64(&c, req->key);
		put_rec(&c, req);
		break;
	case NPMU_MSG_MIRROR:
		put_name(&c, req->name);
		npmu__put_u32(&c, req->op);
		npmu__put_u32(&c, req->copy);
		npmu__put_u64(&c, req->key);
		npmu__put_u64(&c, req->key1);
		npmu__put_u64(&c, req->value);
		npmu__put_u64(&c, req->holder);
		break;
	case NPMU_MSG_RESIZE:
		put_name(&c, req->name);
		npmu__put_u64(&c, req->size);
		break;
	case NPMU_MSG_OPEN:
		put_name(&c, req->name);
		npmu__put_u32(&c, req->access);
		npmu__put_u64(&c, req->lease);
		npmu__put_u64(&c, req->holder);
		break;
	case NPMU_MSG_HOLDER: npmu__put_u64(&c, req->holder); break;
	case NPMU_MSG_CLOSE:
		npmu__put_u64(&c, req->region_id);
		npmu__put_u64(&c, req->key);
		break;
	case NPMU_MSG_DELETE:
	case NPMU_MSG_REVOKE:
	case NPMU_MSG_RIGHTS:
	case NPMU_MSG_STAT:
	case NPMU_MSG_WHERE: put_name(&c, req->name); break;
	case NPMU_MSG_MEMBERS:
		put_name(&c, req->name);
		if (req->op)
			npmu__put_u32(&c, req->op);
		break;
	case NPMU_MSG_LIST: npmu__put_u32(&c, req->start); break;
	case NPMU_MSG_PERSIST:
		if (put_persist(&c, req) != 0)
			return NPMU_E_INVAL;
		break;
	case NPMU_MSG_AUTH1:
		npmu__put_u8(&c, (uint8_t)strnlen(req->id, NPMU_ID_MAX));
		npmu__put_bytes(&c, req->id, strnlen(req->id, NPMU_ID_MAX));
		npmu__put_bytes(&c, req->nonce, NPMU_NONCE_LEN);
		break;
	case NPMU_MSG_AUTH3: npmu__put_bytes(&c, req->mac, NPMU_MAC_LEN); break;
	case NPMU_MSG_LEASE:
		put_name(&c, req->name);
		npmu__put_u64(&c, req->lease);
		npmu__put_u32(&c, req->ttl_ms);
		npmu__put_u32(&c, req->lease_op);
		npmu__put_u64(&c, req->key);
		npmu__put_u32(&c, req->members);
		break;
	default: return NPMU_E_INVAL;
	}
	return c.ok ? (int)c.pos : NPMU_E_TOOBIG;
}

/* npmu__req_decode -- decode and validate the body of request `type`.
 * long: one case per message type, a few lines each, beside npmu__req_encode's: the layouts
 * read best side by side. */
int npmu__req_decode(uint16_t type, const void *body, size_t len, struct npmu__request *req)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	memset(req, 0, sizeof(*req));
	int rc = 0;
	switch (type) {
	case NPMU_MSG_HELLO:
	case NPMU_MSG_UNITS: break;
	case NPMU_MSG_CREATE:
		rc = get_name(&c, req->name);
		req->size = npmu__get_u64(&c);
		npmu__str_get(&c, req->owner, sizeof(req->owner));
		npmu__str_get(&c, req->unit, sizeof(req->unit));
		req->copies = npmu__get_u32(&c);
		npmu__str_get(&c, req->unit2, sizeof(req->unit2));
		get_rec(&c, req);
		if (c.ok && req->owner[0] && !npmu__id_valid(req->owner, strlen(req->owner)))
			return NPMU_E_PROTO;
		if (c.ok && (req->copies < 1 || req->copies > 2))
			return NPMU_E_PROTO;
		break;
	case NPMU_MSG_FENCE:
		rc = get_name(&c, req->name);
		req->op = npmu__get_u32(&c);
		req->epoch = npmu__get_u64(&c);
		if (c.ok && req->op > NPMU__FENCE_STREAM)
			return NPMU_E_PROTO;
		break;
	case NPMU_MSG_MIRROR_REC:
		rc = get_name(&c, req->name);
		req->op = npmu__get_u32(&c);
		req->key = npmu__get_u64(&c);
		get_rec(&c, req);
		if (c.ok && (req->op > NPMU__REC_SET ||
			     (req->op == NPMU__REC_SET) != (req->rec_len > 0)))
			return NPMU_E_PROTO;
		break;
	case NPMU_MSG_MIRROR:
		rc = get_name(&c, req->name);
		req->op = npmu__get_u32(&c);
		req->copy = npmu__get_u32(&c);
		req->key = npmu__get_u64(&c);
		req->key1 = npmu__get_u64(&c);
		req->value = npmu__get_u64(&c);
		req->holder = npmu__get_u64(&c);
		if (c.ok && (req->op > NPMU__MIRROR_OP_MAX || req->copy > 1))
			return NPMU_E_PROTO;
		break;
	case NPMU_MSG_RESIZE:
		rc = get_name(&c, req->name);
		req->size = npmu__get_u64(&c);
		break;
	case NPMU_MSG_OPEN:
		rc = get_name(&c, req->name);
		req->access = npmu__get_u32(&c);
		req->lease = npmu__get_u64(&c);
		req->holder = npmu__get_u64(&c);
		if (c.ok && req->access != NPMU_ACCESS_READ && req->access != NPMU_ACCESS_READ_WRITE)
			return NPMU_E_PROTO;
		break;
	case NPMU_MSG_HOLDER:
		req->holder = npmu__get_u64(&c);
		if (c.ok && req->holder == 0)
			return NPMU_E_PROTO;
		break;
	case NPMU_MSG_CLOSE:
		req->region_id = npmu__get_u64(&c);
		req->key = npmu__get_u64(&c);
		break;
	case NPMU_MSG_DELETE:
	case NPMU_MSG_REVOKE:
	case NPMU_MSG_RIGHTS:
	case NPMU_MSG_STAT:
	case NPMU_MSG_WHERE: rc = get_name(&c, req->name); break;
	case NPMU_MSG_MEMBERS:
		rc = get_name(&c, req->name);
		if (c.ok && rc == 0 && strlen(req->name) + 4 > NPMU_NAME_MAX)
			return NPMU_E_NAME; /* a set's name leaves room for its members' ".s63" */
		if (c.ok && c.pos < len && (req->op = npmu__get_u32(&c)) != NPMU__MEMBERS_STAGING)
			return NPMU_E_PROTO;
		break;
	case NPMU_MSG_LIST: req->start = npmu__get_u32(&c); break;
	case NPMU_MSG_PERSIST:
		rc = get_persist(&c, req);
		break;
	case NPMU_MSG_AUTH1: {
		uint8_t n = npmu__get_u8(&c);
		const uint8_t *id = npmu__cursor_take(&c, n);
		npmu__get_bytes(&c, req->nonce, NPMU_NONCE_LEN);
		if (c.ok && !npmu__id_valid((const char *)id, n))
			return NPMU_E_PROTO;
		if (c.ok)
			memcpy(req->id, id, n);
		break;
	}
	case NPMU_MSG_AUTH3: npmu__get_bytes(&c, req->mac, NPMU_MAC_LEN); break;
	case NPMU_MSG_LEASE:
		rc = get_name(&c, req->name);
		req->lease = npmu__get_u64(&c);
		req->ttl_ms = npmu__get_u32(&c);
		req->lease_op = npmu__get_u32(&c);
		req->key = npmu__get_u64(&c);
		req->members = npmu__get_u32(&c);
		if (c.ok && (req->ttl_ms < 10 || req->ttl_ms > 600000 ||
			     req->lease_op > NPMU__LEASE_QUERY || req->members > NPMU_SET_MEMBERS_MAX))
			return NPMU_E_PROTO;
		if (c.ok && req->members && strlen(req->name) + 4 > NPMU_NAME_MAX)
			return NPMU_E_NAME; /* a set's name leaves room for its members' ".s63" */
		break;
	default: return NPMU_E_PROTO;
	}
	if (!c.ok || c.pos != len)
		return NPMU_E_PROTO;
	return rc;
}

/* npmu__str_put -- a u8-length string. */
void npmu__str_put(struct npmu__cursor *c, const char *s)
{
	size_t n = strlen(s);
	if (n > 255) {
		c->ok = false;
		return;
	}
	npmu__put_u8(c, (uint8_t)n);
	npmu__put_bytes(c, s, n);
}

/* npmu__str_get -- a u8-length string of printable characters, at most max-1 long. */
void npmu__str_get(struct npmu__cursor *c, char *out, size_t max)
{
	uint8_t n = npmu__get_u8(c);
	const uint8_t *s = npmu__cursor_take(c, n);
	out[0] = '\0';
	if (!s)
		return;
	if ((size_t)n >= max) {
		c->ok = false;
		return;
	}
	for (uint8_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e) {
			c->ok = false;
			return;
		}
	memcpy(out, s, n);
	out[n] = '\0';
}

/* npmu__info_put -- append a region_info. */
void npmu__info_put(struct npmu__cursor *c, const struct npmu_region_info *info)
{
	put_name(c, info->name);
	size_t ol = strnlen(info->owner, NPMU_NAME_MAX);
	npmu__put_u8(c, (uint8_t)ol);
	npmu__put_bytes(c, info->owner, ol);
	npmu__put_u64(c, info->id);
	npmu__put_u64(c, info->size);
	npmu__put_u32(c, info->extents);
	npmu__put_u32(c, info->rights);
	npmu__put_u32(c, info->copies ? info->copies : 1);
}

/* npmu__info_get -- read a region_info; leaves the cursor bad on malformed input. */
void npmu__info_get(struct npmu__cursor *c, struct npmu_region_info *info)
{
	memset(info, 0, sizeof(*info));
	if (get_name(c, info->name) != 0)
		c->ok = false;
	uint8_t ol = npmu__get_u8(c);
	const uint8_t *owner = npmu__cursor_take(c, ol);
	if (owner && ol && !npmu__id_valid((const char *)owner, ol))
		c->ok = false;
	if (owner && c->ok)
		memcpy(info->owner, owner, ol);
	info->id = npmu__get_u64(c);
	info->size = npmu__get_u64(c);
	info->extents = npmu__get_u32(c);
	info->rights = npmu__get_u32(c);
	info->copies = npmu__get_u32(c);
	if (info->copies < 1 || info->copies > 2)
		c->ok = false;
}

/* npmu__access_put -- append an access_info. */
void npmu__access_put(struct npmu__cursor *c, const struct npmu__access_info *ai)
{
	npmu__put_u64(c, ai->key);
	npmu__put_u64(c, ai->base);
	npmu__put_u32(c, ai->access);
	npmu__put_u32(c, 0);
}

/* npmu__access_get -- read an access_info; leaves the cursor bad on malformed input. */
void npmu__access_get(struct npmu__cursor *c, struct npmu__access_info *ai)
{
	ai->key = npmu__get_u64(c);
	ai->base = npmu__get_u64(c);
	ai->access = npmu__get_u32(c);
	if (npmu__get_u32(c) != 0 ||
	    (ai->access != NPMU_ACCESS_READ && ai->access != NPMU_ACCESS_READ_WRITE))
		c->ok = false;
}
