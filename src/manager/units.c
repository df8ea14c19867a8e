/* units.c -- pmmd's unit operations: placement, directory, and TPT programming over sealed sessions. */
#include "units.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client.h"
#include "codec.h"
#include "log.h"
#include "sessions.h"

/* npmu__units_add -- declare a unit (not yet connected). */
int npmu__units_add(struct npmu__units *us, const char *addr)
{
	if (us->n == NPMU_PMMD_UNITS_MAX || strlen(addr) > NPMU_ADDR_STR_MAX)
		return NPMU_E_LIMIT;
	for (uint32_t i = 0; i < us->n; i++)
		if (strcmp(us->u[i].addr, addr) == 0)
			return NPMU_E_EXIST;
	struct npmu__remote_unit *u = &us->u[us->n++];
	memset(u, 0, sizeof(*u));
	snprintf(u->addr, sizeof(u->addr), "%s", addr);
	return 0;
}

/* call -- one request to unit i; a transport failure marks the unit down. */
static int call(struct npmu__units *us, uint32_t i, uint16_t type, const struct npmu__request *req,
		const uint8_t **body, size_t *blen)
{
	struct npmu__remote_unit *u = &us->u[i];
	if (!u->conn) {
		struct npmu_conn_cfg cfg = {.server = u->addr, .provider = us->provider,
					    .timeout_ms = us->timeout_ms};
		int rc = npmu__conn_new_keyed(&cfg, NPMU_MANAGER_ID, us->key, &u->conn);
		if (rc != 0) {
			if (u->up || rc == NPMU_E_AUTH)
				LOG_WARN("unit %s: %s", u->addr, npmu_strerror(rc));
			u->up = false;
			return rc == NPMU_E_AUTH ? rc : NPMU_E_UNREACHABLE;
		}
		if (!u->up)
			LOG_INFO("unit %s: connected and authenticated", u->addr);
		u->up = true;
	}
	int rc = npmu__rpc(u->conn, type, req, body, blen);
	if (rc == NPMU_E_UNREACHABLE || rc == NPMU_E_TIMEDOUT || rc == NPMU_E_FABRIC) {
		LOG_WARN("unit %s: %s", u->addr, npmu_strerror(rc));
		npmu_conn_delete(&u->conn);
		u->up = false;
		return NPMU_E_UNREACHABLE;
	}
	return rc;
}

/* greet -- learn a unit's capacity. */
static int greet(struct npmu__units *us, uint32_t i)
{
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	int rc = call(us, i, NPMU_MSG_HELLO, &req, &body, &blen);
	if (rc != 0)
		return rc;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, blen);
	uint32_t flags = npmu__get_u32(&c);
	npmu__cursor_take(&c, 8);
	us->u[i].bytes = npmu__get_u64(&c);
	us->u[i].free = npmu__get_u64(&c);
	return c.ok && (flags & NPMU_UNIT_DATA) ? 0 : NPMU_E_PROTO;
}

/* list_unit -- every region of unit i, appended to *out (grown). */
static int list_unit(struct npmu__units *us, uint32_t i, struct npmu_region_info **out,
		     uint32_t *n)
{
	uint32_t start = 0;
	for (;;) {
		struct npmu__request req = {.start = start};
		const uint8_t *body;
		size_t blen;
		int rc = call(us, i, NPMU_MSG_LIST, &req, &body, &blen);
		if (rc != 0)
			return rc;
		struct npmu__cursor c;
		npmu__cursor_init(&c, (void *)body, blen);
		uint32_t total = npmu__get_u32(&c), next = npmu__get_u32(&c), got = npmu__get_u32(&c);
		if (!c.ok || got > NPMU_WIRE_MAX / 16 || (next <= start && total > start))
			return NPMU_E_PROTO;
		void *p = realloc(*out, (*n + got + 1) * sizeof(**out));
		if (!p)
			return NPMU_E_NOMEM;
		*out = p;
		for (uint32_t k = 0; k < got; k++)
			npmu__info_get(&c, &(*out)[*n + k]);
		if (!c.ok)
			return NPMU_E_PROTO;
		*n += got;
		if (next >= total)
			return 0;
		start = next;
	}
}

/* dir_add -- record that unit holds region name. */
static int dir_add(struct npmu__units *us, const char *name, uint32_t unit)
{
	if (us->ndir == us->capdir) {
		uint32_t cap = us->capdir ? 2 * us->capdir : 64;
		void *p = realloc(us->dir, cap * sizeof(*us->dir));
		if (!p)
			return NPMU_E_NOMEM;
		us->dir = p;
		us->capdir = cap;
	}
	struct npmu__dir_entry *d = &us->dir[us->ndir++];
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->unit = unit;
	return 0;
}

/* npmu__units_refresh -- reconnect to units that are down and rebuild the directory. */
void npmu__units_refresh(struct npmu__units *us)
{
	us->ndir = 0;
	for (uint32_t i = 0; i < us->n; i++) {
		struct npmu_region_info *list = NULL;
		uint32_t n = 0;
		if (greet(us, i) == 0 && list_unit(us, i, &list, &n) == 0)
			for (uint32_t k = 0; k < n; k++)
				dir_add(us, list[k].name, i);
		free(list);
	}
}

/* npmu__units_fini -- close every connection, free the directory, wipe the key. */
void npmu__units_fini(struct npmu__units *us)
{
	for (uint32_t i = 0; i < us->n; i++)
		if (us->u[i].conn)
			npmu_conn_delete(&us->u[i].conn);
	free(us->dir);
	free(us->cache);
	sodium_memzero(us, sizeof(*us));
}

/* find -- the unit holding name (refreshing the directory once on a miss), or -1. */
static int find(struct npmu__units *us, const char *name)
{
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < us->ndir; i++)
			if (strcmp(us->dir[i].name, name) == 0)
				return (int)us->dir[i].unit;
		if (pass == 0)
			npmu__units_refresh(us);
	}
	return -1;
}

/* info_reply -- decode a reply that is one region_info. */
static int info_reply(const uint8_t *body, size_t blen, struct npmu_region_info *info)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, blen);
	npmu__info_get(&c, info);
	return c.ok && c.pos == blen ? 0 : NPMU_E_PROTO;
}

/* remote_create -- place a region on the unit asked for, or the one with the most room. */
static int remote_create(void *v, const char *name, const char *owner, const char *where,
			 uint64_t size, struct npmu_region_info *info)
{
	struct npmu__units *us = v;
	if (find(us, name) >= 0)
		return NPMU_E_EXIST;
	int best = -1;
	for (uint32_t i = 0; i < us->n; i++) {
		if (where[0] && strcmp(us->u[i].addr, where) != 0)
			continue;
		if (greet(us, i) == 0 && us->u[i].free >= size &&
		    (best < 0 || us->u[i].free > us->u[best].free))
			best = (int)i;
	}
	if (best < 0) {
		bool known = !where[0];
		for (uint32_t i = 0; i < us->n && !known; i++)
			known = strcmp(us->u[i].addr, where) == 0;
		return known ? NPMU_E_NOSPC : NPMU_E_NOUNIT;
	}
	struct npmu__request req = {.size = size};
	snprintf(req.name, sizeof(req.name), "%s", name);
	snprintf(req.owner, sizeof(req.owner), "%s", owner);
	const uint8_t *body;
	size_t blen;
	int rc = call(us, (uint32_t)best, NPMU_MSG_CREATE, &req, &body, &blen);
	if (rc == 0 && (rc = info_reply(body, blen, info)) == 0)
		rc = dir_add(us, name, (uint32_t)best);
	return rc;
}

/* by_name -- a request naming an existing region, sent to its unit. */
static int by_name(struct npmu__units *us, uint16_t type, const char *name,
		   struct npmu__request *req, const uint8_t **body, size_t *blen, int *unit)
{
	*unit = find(us, name);
	if (*unit < 0)
		return NPMU_E_NOENT;
	snprintf(req->name, sizeof(req->name), "%s", name);
	return call(us, (uint32_t)*unit, type, req, body, blen);
}

static int remote_remove(void *v, const char *name)
{
	struct npmu__units *us = v;
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	int unit;
	int rc = by_name(us, NPMU_MSG_DELETE, name, &req, &body, &blen, &unit);
	if (rc == 0)
		for (uint32_t i = 0; i < us->ndir; i++)
			if (strcmp(us->dir[i].name, name) == 0)
				us->dir[i] = us->dir[--us->ndir];
	return rc;
}

static int remote_resize(void *v, const char *name, uint64_t size, struct npmu_region_info *info)
{
	struct npmu__request req = {.size = size};
	const uint8_t *body;
	size_t blen;
	int unit;
	int rc = by_name(v, NPMU_MSG_RESIZE, name, &req, &body, &blen, &unit);
	return rc == 0 ? info_reply(body, blen, info) : rc;
}

static int remote_stat(void *v, const char *name, struct npmu_region_info *info)
{
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	int unit;
	int rc = by_name(v, NPMU_MSG_STAT, name, &req, &body, &blen, &unit);
	return rc == 0 ? info_reply(body, blen, info) : rc;
}

/* remote_grant -- open a right on the region's unit; the client is sent there for data. */
static int remote_grant(void *v, const char *name, uint32_t access, struct npmu_region_info *info,
			struct npmu__access_info *ai)
{
	struct npmu__units *us = v;
	struct npmu__request req = {.access = access};
	const uint8_t *body;
	size_t blen;
	int unit;
	int rc = by_name(us, NPMU_MSG_OPEN, name, &req, &body, &blen, &unit);
	if (rc != 0)
		return rc;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, blen);
	npmu__info_get(&c, info);
	npmu__access_get(&c, ai);
	npmu__str_get(&c, ai->unit, sizeof(ai->unit));
	if (!c.ok || c.pos != blen)
		return NPMU_E_PROTO;
	if (!ai->unit[0])
		snprintf(ai->unit, sizeof(ai->unit), "%s", us->u[unit].addr);
	return 0;
}

/* remote_revoke -- keys are given back at their unit, which the client reaches directly. */
/* remote_fence -- have the stream's unit close its write rights and raise its epoch. */
static int remote_fence(void *v, const char *name, uint64_t *epoch)
{
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	int unit;
	int rc = by_name(v, NPMU_MSG_FENCE, name, &req, &body, &blen, &unit);
	if (rc != 0)
		return rc;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, blen);
	*epoch = npmu__get_u64(&c);
	return c.ok && c.pos == blen ? 0 : NPMU_E_PROTO;
}

static int remote_revoke(void *v, uint64_t region_id, uint64_t key)
{
	(void)v;
	(void)region_id;
	(void)key;
	return NPMU_E_INVAL;
}

/* remote_revoke_all -- ask the region's unit to close every right to it. */
static int remote_revoke_all(void *v, const char *name)
{
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	int unit;
	int rc = by_name(v, NPMU_MSG_REVOKE, name, &req, &body, &blen, &unit);
	if (rc != 0)
		return rc;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)body, blen);
	uint32_t n = npmu__get_u32(&c);
	return c.ok ? (int)n : NPMU_E_PROTO;
}

/* remote_list -- the regions of every unit, gathered when a listing starts, served by pages. */
static int remote_list(void *v, uint32_t start, struct npmu_region_info *out, uint32_t max,
		       uint32_t *total)
{
	struct npmu__units *us = v;
	if (start == 0) {
		free(us->cache);
		us->cache = NULL;
		us->ncache = 0;
		for (uint32_t i = 0; i < us->n; i++)
			(void)list_unit(us, i, &us->cache, &us->ncache); /* a down unit lists nothing */
	}
	*total = us->ncache;
	uint32_t n = 0;
	for (uint32_t i = start; i < us->ncache && n < max; i++)
		out[n++] = us->cache[i];
	return (int)n;
}

/* remote_units -- every unit with its state and capacity. */
static int remote_units(void *v, struct npmu__cursor *reply)
{
	struct npmu__units *us = v;
	npmu__units_refresh(us);
	npmu__put_u32(reply, us->n);
	for (uint32_t i = 0; i < us->n; i++) {
		uint32_t regions = 0;
		for (uint32_t k = 0; k < us->ndir; k++)
			regions += us->dir[k].unit == i;
		npmu__str_put(reply, us->u[i].addr);
		npmu__put_u32(reply, us->u[i].up);
		npmu__put_u64(reply, us->u[i].up ? us->u[i].bytes : 0);
		npmu__put_u64(reply, us->u[i].up ? us->u[i].free : 0);
		npmu__put_u32(reply, regions);
	}
	return 0;
}

const struct npmu__unit_ops npmu__remote_unit_ops = {
	.create = remote_create,
	.remove = remote_remove,
	.resize = remote_resize,
	.stat = remote_stat,
	.list = remote_list,
	.grant = remote_grant,
	.revoke = remote_revoke,
	.units = remote_units,
	.revoke_all = remote_revoke_all,
	.fence = remote_fence,
};
