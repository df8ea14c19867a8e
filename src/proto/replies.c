/* replies.c -- decoders of reply bodies (layouts in wire.h; the rules in replies.h). */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "errors.h"
#include "replies.h"

/* done -- the verdict on a decode: every field read and nothing left over. */
static int done(const struct npmu__cursor *c)
{
	return c->ok && c->pos == c->len ? 0 : NPMU_E_PROTO;
}

/* npmu__reply_accept -- check a reply's header and open its sealed body (see replies.h). */
int npmu__reply_accept(const struct npmu__channel *ch, uint16_t type, uint64_t req_id,
		       uint8_t *msg, size_t len, const uint8_t **body, size_t *body_len, int *status)
{
	struct npmu__msg_hdr h;
	int rc = npmu__msg_decode_hdr(msg, len, &h);
	if (rc != 0)
		return rc;
	if (h.type != (type | NPMU_MSG_REPLY) || h.req_id != req_id ||
	    (h.status != 0 && !npmu__is_error(h.status)))
		return NPMU_E_PROTO;
	if (ch && h.session != 0) {
		/* a reply has no return address: its body follows the header */
		int n = h.session != ch->session
				? NPMU_E_AUTH
				: npmu__unseal(ch, false, h.req_id, msg, NPMU_WIRE_HDR_LEN,
					       msg + NPMU_WIRE_HDR_LEN, h.body_len);
		if (n < 0)
			return NPMU_E_AUTH;
		h.body_len = (uint32_t)n;
	} else if (ch && h.status == 0) {
		return NPMU_E_AUTH; /* success must come sealed */
	} else if (!ch && h.session != 0) {
		return NPMU_E_PROTO; /* sealed, but nothing was sealed to it */
	}
	*body = h.body;
	*body_len = h.body_len;
	*status = h.status;
	return 0;
}

/* npmu__reply_hello -- decode a HELLO reply. */
int npmu__reply_hello(const uint8_t *body, size_t len, struct npmu__hello_reply *out)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	out->flags = npmu__get_u32(&c);
	npmu__get_bytes(&c, out->unit_id, sizeof(out->unit_id));
	out->bytes = npmu__get_u64(&c);
	out->free = npmu__get_u64(&c);
	if (out->free > out->bytes)
		c.ok = false;
	return done(&c);
}

/* npmu__reply_hello_put -- encode a HELLO reply. */
void npmu__reply_hello_put(struct npmu__cursor *c, const struct npmu__hello_reply *h)
{
	npmu__put_u32(c, h->flags);
	npmu__put_bytes(c, h->unit_id, sizeof(h->unit_id));
	npmu__put_u64(c, h->bytes);
	npmu__put_u64(c, h->free);
}

/* npmu__reply_auth1 -- decode the responder's AUTH1 reply (session, identity, nonce, mac). */
int npmu__reply_auth1(const uint8_t *body, size_t len, struct npmu__auth1_reply *out)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	memset(out, 0, sizeof(*out));
	out->session = npmu__get_u64(&c);
	uint8_t n = npmu__get_u8(&c);
	const uint8_t *id = npmu__cursor_take(&c, n);
	npmu__get_bytes(&c, out->nonce_r, NPMU_NONCE_LEN);
	npmu__get_bytes(&c, out->mac, NPMU_MAC_LEN);
	if (!id || !npmu__id_valid((const char *)id, n) || out->session == 0)
		return NPMU_E_PROTO;
	memcpy(out->id_r, id, n);
	return done(&c);
}

/* npmu__reply_auth1_put -- encode the responder's AUTH1 reply. */
void npmu__reply_auth1_put(struct npmu__cursor *c, const struct npmu__auth1_reply *a)
{
	size_t n = strnlen(a->id_r, sizeof(a->id_r));
	npmu__put_u64(c, a->session);
	npmu__put_u8(c, (uint8_t)n);
	npmu__put_bytes(c, a->id_r, n);
	npmu__put_bytes(c, a->nonce_r, NPMU_NONCE_LEN);
	npmu__put_bytes(c, a->mac, NPMU_MAC_LEN);
}

/* npmu__reply_info -- decode a reply that is one region_info. */
int npmu__reply_info(const uint8_t *body, size_t len, struct npmu_region_info *info)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	npmu__info_get(&c, info);
	return done(&c);
}

/* npmu__reply_info_put -- encode a reply that is one region_info. */
void npmu__reply_info_put(struct npmu__cursor *c, const struct npmu_region_info *info)
{
	npmu__info_put(c, info);
}

/* npmu__reply_u32 -- decode a reply that is one u32. */
int npmu__reply_u32(const uint8_t *body, size_t len, uint32_t *v)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	*v = npmu__get_u32(&c);
	return done(&c);
}

/* npmu__reply_u32_put -- encode a reply that is one u32. */
void npmu__reply_u32_put(struct npmu__cursor *c, uint32_t v)
{
	npmu__put_u32(c, v);
}

/* npmu__reply_u64 -- decode a reply that is one u64. */
int npmu__reply_u64(const uint8_t *body, size_t len, uint64_t *v)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	*v = npmu__get_u64(&c);
	return done(&c);
}

/* npmu__reply_members -- decode a MEMBERS reply asked with NPMU__MEMBERS_STAGING. */
int npmu__reply_members(const uint8_t *body, size_t len, uint64_t *present, uint32_t *flags)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	*present = npmu__get_u64(&c);
	*flags = npmu__get_u32(&c);
	return done(&c);
}

/* npmu__reply_u64_put -- encode a reply that is one u64. */
void npmu__reply_u64_put(struct npmu__cursor *c, uint64_t v)
{
	npmu__put_u64(c, v);
}

/* npmu__reply_list -- decode one LIST page; out->infos is malloc'd. */
int npmu__reply_list(const uint8_t *body, size_t len, uint32_t start, struct npmu__list_page *out)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	memset(out, 0, sizeof(*out));
	out->total = npmu__get_u32(&c);
	out->next = npmu__get_u32(&c);
	out->count = npmu__get_u32(&c);
	if (!c.ok || out->next < start || out->count > out->next - start ||
	    out->count > NPMU_WIRE_MAX / 16)
		return NPMU_E_PROTO;
	out->last = out->next >= out->total;
	if (out->next == start && !out->last)
		return NPMU_E_PROTO; /* a page that does not move on would never end */
	if (out->count == 0)
		return done(&c);
	if (!(out->infos = calloc(out->count, sizeof(*out->infos))))
		return NPMU_E_NOMEM;
	for (uint32_t i = 0; i < out->count && c.ok; i++)
		npmu__info_get(&c, &out->infos[i]);
	int rc = done(&c);
	if (rc != 0) {
		free(out->infos);
		out->infos = NULL;
	}
	return rc;
}

/* npmu__reply_list_put -- encode one LIST page. */
void npmu__reply_list_put(struct npmu__cursor *c, uint32_t total, uint32_t next,
			  const struct npmu_region_info *infos, uint32_t count)
{
	npmu__put_u32(c, total);
	npmu__put_u32(c, next);
	npmu__put_u32(c, count);
	for (uint32_t i = 0; i < count; i++)
		npmu__info_put(c, &infos[i]);
}

/* npmu__reply_where -- decode a WHERE reply: 1 or 2 units, none empty. */
int npmu__reply_where(const uint8_t *body, size_t len, struct npmu_region_place *place)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	memset(place, 0, sizeof(*place));
	place->count = npmu__get_u32(&c);
	if (!c.ok || place->count == 0 || place->count > NPMU_PLACE_COPIES)
		return NPMU_E_PROTO;
	for (uint32_t i = 0; i < place->count && c.ok; i++) {
		npmu__str_get(&c, place->unit[i], sizeof(place->unit[i]));
		if (!place->unit[i][0])
			c.ok = false;
	}
	int rc = done(&c);
	if (rc != 0)
		memset(place, 0, sizeof(*place));
	return rc;
}

/* npmu__reply_where_put -- encode a WHERE reply. */
void npmu__reply_where_put(struct npmu__cursor *c, const struct npmu_region_place *place)
{
	npmu__put_u32(c, place->count);
	for (uint32_t i = 0; i < place->count; i++)
		npmu__str_put(c, place->unit[i]);
}

/* npmu__reply_units -- decode a UNITS reply into a malloc'd list. */
int npmu__reply_units(const uint8_t *body, size_t len, struct npmu_unit_info **list,
		      size_t *count)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	uint32_t n = npmu__get_u32(&c);
	if (!c.ok || n > NPMU_UNITS_REPLY_MAX)
		return NPMU_E_PROTO;
	struct npmu_unit_info *out = calloc((size_t)n + 1, sizeof(*out));
	if (!out)
		return NPMU_E_NOMEM;
	for (uint32_t i = 0; i < n && c.ok; i++) {
		npmu__str_get(&c, out[i].addr, sizeof(out[i].addr));
		uint32_t up = npmu__get_u32(&c);
		out[i].bytes = npmu__get_u64(&c);
		out[i].free = npmu__get_u64(&c);
		out[i].regions = npmu__get_u32(&c);
		npmu__str_get(&c, out[i].domain, sizeof(out[i].domain));
		out[i].up = up != 0;
		if (up > 1 || !out[i].addr[0])
			c.ok = false;
	}
	int rc = done(&c);
	if (rc != 0) {
		free(out);
		return rc;
	}
	*list = out;
	*count = n;
	return 0;
}

/* npmu__reply_units_put -- encode a UNITS reply. */
void npmu__reply_units_put(struct npmu__cursor *c, const struct npmu_unit_info *list, size_t count)
{
	npmu__put_u32(c, (uint32_t)count);
	for (size_t i = 0; i < count; i++) {
		npmu__str_put(c, list[i].addr);
		npmu__put_u32(c, list[i].up ? 1 : 0);
		npmu__put_u64(c, list[i].bytes);
		npmu__put_u64(c, list[i].free);
		npmu__put_u32(c, list[i].regions);
		npmu__str_put(c, list[i].domain);
	}
}

/* grant_get -- one copy's grant: u32 granted, u64 region_id, access_info, unit. */
static void grant_get(struct npmu__cursor *c, struct npmu__copy_grant *g)
{
	uint32_t granted = npmu__get_u32(c);
	g->granted = granted != 0;
	g->region_id = npmu__get_u64(c);
	npmu__access_get(c, &g->ai);
	npmu__str_get(c, g->ai.unit, sizeof(g->ai.unit));
	if (granted > 1 || (g->granted && !g->ai.unit[0]))
		c->ok = false;
}

/* record_get -- u16 rec_len, rec: a valid mirror record of two copies. */
static void record_get(struct npmu__cursor *c, struct npmu__mirror *m)
{
	uint16_t n = npmu__get_u16(c);
	const uint8_t *rec = npmu__cursor_take(c, n);
	if (!rec || npmu__mirror_decode(rec, n, m) != 0 || m->ncopies != NPMU_MIRROR_COPIES)
		c->ok = false;
}

/* grant_put -- one copy's grant (grant_get's layout). */
static void grant_put(struct npmu__cursor *c, const struct npmu__copy_grant *g)
{
	npmu__put_u32(c, g->granted ? 1 : 0);
	npmu__put_u64(c, g->region_id);
	npmu__access_put(c, &g->ai);
	npmu__str_put(c, g->ai.unit);
}

/* record_put -- u16 rec_len, rec (record_get's layout); a record that does not encode leaves the
 * cursor not ok. */
static void record_put(struct npmu__cursor *c, const struct npmu__mirror *m)
{
	uint8_t rec[NPMU_MIRROR_REC_MAX];
	int n = npmu__mirror_encode(m, rec, sizeof(rec));
	if (n < 0) {
		c->ok = false;
		return;
	}
	npmu__put_u16(c, (uint16_t)n);
	npmu__put_bytes(c, rec, (size_t)n);
}

/* npmu__reply_open -- decode an OPEN reply, with a mirrored region's record and grants. */
int npmu__reply_open(const uint8_t *body, size_t len, uint32_t access,
		     struct npmu__open_reply *out)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	memset(out, 0, sizeof(*out));
	npmu__info_get(&c, &out->info);
	npmu__access_get(&c, &out->ai);
	npmu__str_get(&c, out->ai.unit, sizeof(out->ai.unit));
	if (!c.ok || out->ai.access != access)
		return NPMU_E_PROTO;
	out->mirrored = out->info.copies > 1;
	if (!out->mirrored)
		return done(&c);
	record_get(&c, &out->m);
	for (int k = 0; k < NPMU_MIRROR_COPIES && c.ok; k++) {
		grant_get(&c, &out->copy[k]);
		if (out->copy[k].granted && strcmp(out->copy[k].ai.unit, out->m.copy[k].unit) != 0)
			c.ok = false; /* a right on a unit the record does not name */
		if (out->copy[k].granted && out->copy[k].ai.access != access)
			c.ok = false;
	}
	return done(&c);
}

/* npmu__reply_open_put -- encode an OPEN reply (with the mirror part when o->mirrored). */
void npmu__reply_open_put(struct npmu__cursor *c, const struct npmu__open_reply *o)
{
	npmu__info_put(c, &o->info);
	npmu__access_put(c, &o->ai);
	npmu__str_put(c, o->ai.unit);
	if (!o->mirrored)
		return;
	record_put(c, &o->m);
	for (int k = 0; k < NPMU_MIRROR_COPIES; k++)
		grant_put(c, &o->copy[k]);
}

/* npmu__reply_grant -- decode a unit's OPEN reply (no mirror part). */
int npmu__reply_grant(const uint8_t *body, size_t len, uint32_t access,
		      struct npmu_region_info *info, struct npmu__access_info *ai)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	npmu__info_get(&c, info);
	npmu__access_get(&c, ai);
	npmu__str_get(&c, ai->unit, sizeof(ai->unit));
	if (ai->access != access)
		c.ok = false;
	return done(&c);
}

/* npmu__reply_grant_put -- encode a unit's OPEN reply. */
void npmu__reply_grant_put(struct npmu__cursor *c, const struct npmu_region_info *info,
			   const struct npmu__access_info *ai)
{
	npmu__info_put(c, info);
	npmu__access_put(c, ai);
	npmu__str_put(c, ai->unit);
}

/* npmu__reply_mirror -- decode a MIRROR reply (with an ATTACH's grant when attach). */
int npmu__reply_mirror(const uint8_t *body, size_t len, bool attach,
		       struct npmu__mirror_reply *out)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	memset(out, 0, sizeof(*out));
	record_get(&c, &out->m);
	out->reach = npmu__get_u32(&c);
	out->flags = npmu__get_u32(&c);
	if (out->reach > 3 || out->flags > 1)
		c.ok = false;
	if (attach && c.ok) {
		out->attach.region_id = npmu__get_u64(&c);
		npmu__access_get(&c, &out->attach.ai);
		npmu__str_get(&c, out->attach.ai.unit, sizeof(out->attach.ai.unit));
		out->attach.granted = true;
		if (!out->attach.ai.unit[0])
			c.ok = false;
	}
	return done(&c);
}

/* npmu__reply_mirror_put -- encode a MIRROR reply (with an ATTACH's grant when attach). */
void npmu__reply_mirror_put(struct npmu__cursor *c, const struct npmu__mirror_reply *m,
			    bool attach)
{
	record_put(c, &m->m);
	npmu__put_u32(c, m->reach);
	npmu__put_u32(c, m->flags);
	if (!attach)
		return;
	npmu__put_u64(c, m->attach.region_id);
	npmu__access_put(c, &m->attach.ai);
	npmu__str_put(c, m->attach.ai.unit);
}

/* npmu__reply_mirror_rec -- decode a unit's MIRROR_REC reply: the record's bytes. */
int npmu__reply_mirror_rec(const uint8_t *body, size_t len, uint8_t rec[NPMU_MIRROR_REC_MAX],
			   size_t *rec_len)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	uint16_t n = npmu__get_u16(&c);
	if (n > NPMU_MIRROR_REC_MAX)
		return NPMU_E_PROTO;
	npmu__get_bytes(&c, rec, n);
	*rec_len = n;
	return done(&c);
}

/* npmu__reply_mirror_rec_put -- encode a unit's MIRROR_REC reply. */
void npmu__reply_mirror_rec_put(struct npmu__cursor *c, const uint8_t *rec, size_t rec_len)
{
	if (rec_len > NPMU_MIRROR_REC_MAX) {
		c->ok = false;
		return;
	}
	npmu__put_u16(c, (uint16_t)rec_len);
	npmu__put_bytes(c, rec, rec_len);
}

/* npmu__reply_rights -- decode a unit's list of a region's rights. */
int npmu__reply_rights(const uint8_t *body, size_t len, struct npmu__rights_reply *out)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	out->region_id = npmu__get_u64(&c);
	out->count = npmu__get_u32(&c);
	if (!c.ok || out->count > NPMU_RIGHTS_REPLY_MAX)
		return NPMU_E_PROTO;
	for (uint32_t i = 0; i < out->count; i++) {
		out->r[i].key = npmu__get_u64(&c);
		out->r[i].access = npmu__get_u32(&c);
		out->r[i].holder = npmu__get_u64(&c);
		if (c.ok && out->r[i].access != NPMU_ACCESS_READ &&
		    out->r[i].access != NPMU_ACCESS_READ_WRITE)
			return NPMU_E_PROTO;
	}
	return done(&c);
}

/* npmu__reply_rights_put -- encode a unit's list of a region's rights. */
void npmu__reply_rights_put(struct npmu__cursor *c, const struct npmu__rights_reply *r)
{
	npmu__put_u64(c, r->region_id);
	npmu__put_u32(c, r->count);
	for (uint32_t i = 0; i < r->count && i < NPMU_RIGHTS_REPLY_MAX; i++) {
		npmu__put_u64(c, r->r[i].key);
		npmu__put_u32(c, r->r[i].access);
		npmu__put_u64(c, r->r[i].holder);
	}
}

/* npmu__reply_holder -- decode a HOLDER reply: the manager's holder TTL. */
int npmu__reply_holder(const uint8_t *body, size_t len, uint32_t *ttl_ms)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	*ttl_ms = npmu__get_u32(&c);
	if (c.ok && *ttl_ms < 100)
		return NPMU_E_PROTO;
	return done(&c);
}

/* npmu__reply_holder_put -- encode a HOLDER reply. */
void npmu__reply_holder_put(struct npmu__cursor *c, uint32_t ttl_ms)
{
	npmu__put_u32(c, ttl_ms);
}

/* npmu__reply_lease -- decode a LEASE reply (acquire or renew; or a query). */
int npmu__reply_lease(const uint8_t *body, size_t len, bool query, struct npmu__lease_reply *out)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, len);
	memset(out, 0, sizeof(*out));
	out->lease = npmu__get_u64(&c);
	out->epoch = npmu__get_u64(&c);
	if (query) {
		out->state = npmu__get_u32(&c);
		out->left_ms = npmu__get_u32(&c);
		npmu__str_get(&c, out->holder, sizeof(out->holder));
		if (out->lease != 0 || out->state > 2)
			c.ok = false;
	} else if (out->lease == 0) {
		c.ok = false;
	}
	return done(&c);
}

/* npmu__reply_lease_put -- encode a LEASE reply (a query's with its state, time left, holder). */
void npmu__reply_lease_put(struct npmu__cursor *c, const struct npmu__lease_reply *l, bool query)
{
	npmu__put_u64(c, l->lease);
	npmu__put_u64(c, l->epoch);
	if (!query)
		return;
	npmu__put_u32(c, l->state);
	npmu__put_u32(c, l->left_ms);
	npmu__str_put(c, l->holder);
}
