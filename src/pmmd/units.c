/* units.c -- pmmd's unit operations: placement, directory, and TPT programming over sealed sessions. */
#include "units.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "grow.h"
#include "clock.h"
#include "client.h"
#include "codec.h"
#include "log.h"
#include "replies.h"
#include "sessions.h"

/*
 * pmmd serves one request at a time, so a unit that does not answer at all (cut off, not merely
 * stopped: a stopped one refuses at once) must not stall it often: a connection attempt waits at
 * most CONNECT_MS, and after one that got no answer the unit is left alone for RETRY_MS,
 * doubling up to RETRY_MAX_MS while it stays silent.
 */
#define CONNECT_MS 200
#define RETRY_MS 1000
#define RETRY_MAX_MS 8000

/* npmu__units_add -- declare a unit (not yet connected), "HOST:PORT" or "HOST:PORT@DOMAIN". */
int npmu__units_add(struct npmu__units *us, const char *spec)
{
	char addr[NPMU_ADDR_STR_MAX + 1], domain[NPMU_NAME_MAX + 1] = "";
	const char *at = strchr(spec, '@');
	size_t alen = at ? (size_t)(at - spec) : strlen(spec);
	if (us->n == NPMU_PMMD_UNITS_MAX)
		return NPMU_E_LIMIT;
	if (alen == 0 || alen > NPMU_ADDR_STR_MAX)
		return NPMU_E_INVAL;
	if (at && !npmu__name_valid(at + 1, strlen(at + 1)))
		return NPMU_E_NAME;
	memcpy(addr, spec, alen);
	addr[alen] = '\0';
	if (at)
		snprintf(domain, sizeof(domain), "%s", at + 1);
	if (npmu__units_index(us, addr) >= 0)
		return NPMU_E_EXIST;
	struct npmu__remote_unit *u = &us->u[us->n++];
	memset(u, 0, sizeof(*u));
	snprintf(u->addr, sizeof(u->addr), "%s", addr);
	snprintf(u->domain, sizeof(u->domain), "%s", domain);
	return 0;
}

/* npmu__units_index -- the unit of address addr, or -1. */
int npmu__units_index(const struct npmu__units *us, const char *addr)
{
	for (uint32_t i = 0; i < us->n; i++)
		if (strcmp(us->u[i].addr, addr) == 0)
			return (int)i;
	return -1;
}

/* backoff -- unit i did not answer at all: leave it alone for a while (doubling). */
static void backoff(struct npmu__remote_unit *u)
{
	u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : RETRY_MS;
	if (u->backoff_ms > RETRY_MAX_MS)
		u->backoff_ms = RETRY_MAX_MS;
	u->retry_ms = npmu__now_ms() + u->backoff_ms;
}

/* unit_connect -- a client of unit u, authenticated as the manager within timeout_ms (requests
 * then wait us->timeout_ms). */
static int unit_connect(struct npmu__units *us, struct npmu__remote_unit *u, int timeout_ms)
{
	struct npmu__rpc *c = calloc(1, sizeof(*c));
	if (!c)
		return NPMU_E_NOMEM;
	int rc = npmu__rpc_init(c, us->provider, u->addr, us->timeout_ms, false);
	if (rc != 0) {
		free(c);
		return rc;
	}
	npmu__rpc_set_key(c, NPMU_MANAGER_ID, us->key);
	rc = npmu__rpc_ready(c, timeout_ms);
	if (rc == 0 && !c->sealed)
		rc = NPMU_E_AUTH; /* it does not take authenticated programming */
	if (rc != 0) {
		npmu__rpc_fini(c);
		free(c);
		return rc;
	}
	u->conn = c;
	return 0;
}

/* unit_disconnect -- close unit u's client, if any. */
static void unit_disconnect(struct npmu__remote_unit *u)
{
	if (u->conn) {
		npmu__rpc_fini(u->conn);
		free(u->conn);
		u->conn = NULL;
	}
}

static int units_call(struct npmu__units *us, uint32_t i, uint16_t type,
		      const struct npmu__request *req, const uint8_t **body, size_t *blen, bool again);

/* purge_stale -- unit i answers again: the regions forgotten on it while it was away (their
 * names now live elsewhere) are deleted there. */
static void purge_stale(struct npmu__units *us, uint32_t i)
{
	for (uint32_t k = 0; k < us->nstale;) {
		if (us->stale[k].unit != i) {
			k++;
			continue;
		}
		struct npmu__request req = {0};
		snprintf(req.name, sizeof(req.name), "%s", us->stale[k].name);
		const uint8_t *body;
		size_t blen;
		int rc = units_call(us, i, NPMU_MSG_DELETE, &req, &body, &blen, true);
		LOG_WARN("unit %s: back holding %s, which was placed elsewhere while it was away: %s",
			 us->u[i].addr, req.name, rc == 0 ? "deleted here" : npmu_strerror(rc));
		us->stale[k] = us->stale[--us->nstale];
	}
}

/*
 * units_call -- one request to unit i. A unit that refuses connections (its process is down)
 * is asked again at the next request; one that does not answer at all (cut off) is left alone
 * for a while (backoff). A connection that fails, or whose session the unit no longer knows
 * (NPMU_E_AUTH: it restarted), is replaced and the request sent once more (again: this is that
 * second try), so a restarted unit serves at once.
 */
static int units_call(struct npmu__units *us, uint32_t i, uint16_t type,
		      const struct npmu__request *req, const uint8_t **body, size_t *blen, bool again)
{
	struct npmu__remote_unit *u = &us->u[i];
	if (!u->conn && !u->up && npmu__now_ms() < u->retry_ms)
		return NPMU_E_UNREACHABLE;
	if (!u->conn) {
		int rc = unit_connect(us, u, us->timeout_ms < CONNECT_MS ? us->timeout_ms : CONNECT_MS);
		if (rc != 0) {
			if (u->up || rc == NPMU_E_AUTH)
				LOG_WARN("unit %s: %s", u->addr, rc == NPMU_E_UNREACHABLE
					 ? "down (refuses connections)" : npmu_strerror(rc));
			u->up = false;
			if (rc == NPMU_E_TIMEDOUT)
				backoff(u);
			else
				u->retry_ms = 0;
			return rc == NPMU_E_AUTH ? rc : NPMU_E_UNREACHABLE;
		}
		bool back = !u->up;
		if (back)
			LOG_INFO("unit %s: connected and authenticated", u->addr);
		u->up = true;
		u->backoff_ms = 0;
		if (back)
			purge_stale(us, i);
	}
	int rc = npmu__rpc_call(u->conn, type, req, body, blen, us->timeout_ms);
	bool lost = rc == NPMU_E_UNREACHABLE || rc == NPMU_E_TIMEDOUT || rc == NPMU_E_FABRIC;
	if (lost || (rc == NPMU_E_AUTH && !again)) {
		unit_disconnect(u); /* u->up stays: the retry logs the unit going down */
		if (rc == NPMU_E_TIMEDOUT) { /* the next request tries a fresh connection (bounded) */
			LOG_WARN("unit %s: %s", u->addr, npmu_strerror(rc));
			u->up = false;
			return NPMU_E_UNREACHABLE;
		}
		if (!again)
			return units_call(us, i, type, req, body, blen, true);
		LOG_WARN("unit %s: %s", u->addr, npmu_strerror(rc));
		u->up = false;
		return NPMU_E_UNREACHABLE;
	}
	return rc;
}

/* npmu__units_call -- one request to unit i (see units.h). */
int npmu__units_call(struct npmu__units *us, uint32_t i, uint16_t type,
		     const struct npmu__request *req, const uint8_t **body, size_t *blen)
{
	return units_call(us, i, type, req, body, blen, false);
}

/* npmu__units_probe -- ask each unit that is away whether it is back (the unit thread's idle
 * work), so that a restarted unit serves again at once rather than at its next retry. */
void npmu__units_probe(struct npmu__units *us)
{
	for (uint32_t i = 0; i < us->n; i++)
		if (!us->u[i].conn && npmu__now_ms() >= us->u[i].retry_ms &&
		    npmu__units_greet(us, i) == 0) {
			LOG_INFO("unit %s: back (%llu MiB free)", us->u[i].addr,
				 (unsigned long long)(us->u[i].free >> 20));
			if (us->unit_back)
				us->unit_back(us, i);
		}
}

/* npmu__units_greet -- learn a unit's capacity. */
int npmu__units_greet(struct npmu__units *us, uint32_t i)
{
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	int rc = npmu__units_call(us, i, NPMU_MSG_HELLO, &req, &body, &blen);
	if (rc != 0)
		return rc;
	struct npmu__hello_reply h;
	if (npmu__reply_hello(body, blen, &h) != 0 || !(h.flags & NPMU_UNIT_DATA))
		return NPMU_E_PROTO;
	us->u[i].bytes = h.bytes;
	us->u[i].free = h.free;
	memcpy(us->u[i].unit_id, h.unit_id, sizeof(h.unit_id));
	return 0;
}

/* npmu__units_list -- every region of unit i, appended to *out (grown). */
int npmu__units_list(struct npmu__units *us, uint32_t i, struct npmu_region_info **out,
		     uint32_t *n)
{
	uint32_t start = 0;
	for (;;) {
		struct npmu__request req = {.start = start};
		const uint8_t *body;
		size_t blen;
		int rc = npmu__units_call(us, i, NPMU_MSG_LIST, &req, &body, &blen);
		if (rc != 0)
			return rc;
		struct npmu__list_page page;
		if ((rc = npmu__reply_list(body, blen, start, &page)) != 0)
			return rc;
		void *p = realloc(*out, (*n + page.count + 1) * sizeof(**out));
		if (!p) {
			free(page.infos);
			return NPMU_E_NOMEM;
		}
		*out = p;
		if (page.count)
			memcpy(*out + *n, page.infos, page.count * sizeof(**out));
		free(page.infos);
		*n += page.count;
		if (page.last)
			return 0;
		start = page.next;
	}
}

/* npmu__units_dir_add -- record that unit holds region name. */
int npmu__units_dir_add(struct npmu__units *us, const char *name, uint32_t unit)
{
	int rc;
	void *p = npmu__grow(us->dir, &us->capdir, us->ndir, sizeof(*us->dir), 64, 0, &rc);
	if (!p)
		return rc;
	us->dir = p;
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
		if (npmu__units_greet(us, i) == 0 && npmu__units_list(us, i, &list, &n) == 0)
			for (uint32_t k = 0; k < n; k++)
				npmu__units_dir_add(us, list[k].name, i);
		free(list);
	}
}

/* npmu__units_dir_drop -- forget that unit holds region name. */
void npmu__units_dir_drop(struct npmu__units *us, const char *name, uint32_t unit)
{
	for (uint32_t i = 0; i < us->ndir; i++)
		if (us->dir[i].unit == unit && strcmp(us->dir[i].name, name) == 0) {
			us->dir[i] = us->dir[--us->ndir];
			return;
		}
}

/* npmu__units_forget_away -- drop name from the directory, to be deleted on its units when
 * they are back (see units.h). */
int npmu__units_forget_away(struct npmu__units *us, const char *name)
{
	int at[NPMU_PMMD_UNITS_MAX];
	int n = npmu__units_find_all(us, name, at, NPMU_PMMD_UNITS_MAX);
	for (int k = 0; k < n; k++) {
		int rc;
		void *p = npmu__grow(us->stale, &us->capstale, us->nstale, sizeof(*us->stale), 16, 0,
				     &rc);
		if (!p)
			return rc;
		us->stale = p;
		us->stale[us->nstale] = (struct npmu__dir_entry){.unit = (uint32_t)at[k]};
		snprintf(us->stale[us->nstale++].name, NPMU_NAME_MAX + 1, "%s", name);
		npmu__units_dir_drop(us, name, (uint32_t)at[k]);
		LOG_WARN("unit %s: away; its %s is forgotten (placed elsewhere) and will be deleted "
			 "when it is back", us->u[at[k]].addr, name);
	}
	return NPMU_E_NOENT;
}

/* npmu__units_fini -- close every connection, free the directory, wipe the key. */
void npmu__units_fini(struct npmu__units *us)
{
	for (uint32_t i = 0; i < us->n; i++)
		if (us->u[i].conn)
			unit_disconnect(&us->u[i]);
	free(us->dir);
	free(us->stale);
	free(us->cache);
	free(us->seen);
	sodium_memzero(us, sizeof(*us));
}

/* npmu__units_find_all -- the units holding name, refreshing the directory once on a miss. */
int npmu__units_find_all(struct npmu__units *us, const char *name, int *out, int max)
{
	for (int pass = 0; pass < 2; pass++) {
		int n = 0;
		for (uint32_t i = 0; i < us->ndir && n < max; i++)
			if (strcmp(us->dir[i].name, name) == 0)
				out[n++] = (int)us->dir[i].unit;
		if (n > 0 || pass == 1)
			return n;
		npmu__units_refresh(us);
	}
	return 0;
}

/* reclaim -- close the rights to region name on unit i of holders that are gone (holders.h:
 * the dead ones, else the first found gone), unless holder holds its own share already (c: how
 * the rights stood); returns how many were closed. */
static int reclaim(struct npmu__units *us, uint32_t i, const char *name, uint64_t holder,
		   struct npmu__rights_count *c)
{
	struct npmu__request req = {0};
	snprintf(req.name, sizeof(req.name), "%s", name);
	const uint8_t *body;
	size_t blen;
	struct npmu__rights_reply rr;
	if (npmu__units_call(us, i, NPMU_MSG_RIGHTS, &req, &body, &blen) != 0 ||
	    npmu__reply_rights(body, blen, &rr) != 0)
		return 0;
	*c = (struct npmu__rights_count){.all = rr.count};
	for (uint32_t k = 0; k < rr.count; k++) {
		c->reads += rr.r[k].access == NPMU_ACCESS_READ;
		c->held += holder && rr.r[k].holder == holder;
	}
	if (!us->holders || npmu__rights_holder_full(c))
		return 0;
	struct npmu__reclaim rec;
	npmu__reclaim_init(&rec, us->holders);
	bool victim[NPMU_RIGHTS_REPLY_MAX] = {false}, any = false;
	for (uint32_t k = 0; k < rr.count; k++)
		any |= victim[k] = !npmu__holders_keep_live(us->holders, rr.r[k].holder);
	for (uint32_t k = 0; k < rr.count && !any; k++)
		any |= victim[k] = !npmu__holders_keep_present(&rec, rr.r[k].holder);
	int n = 0;
	for (uint32_t k = 0; k < rr.count; k++) {
		if (!victim[k])
			continue;
		struct npmu__request cr = {.region_id = rr.region_id, .key = rr.r[k].key};
		if (npmu__units_call(us, i, NPMU_MSG_CLOSE, &cr, &body, &blen) == 0)
			n++;
	}
	if (n)
		LOG_INFO("region %s on %s: %d right(s) of clients gone reclaimed", name, us->u[i].addr, n);
	return n;
}

/* npmu__units_grant -- OPEN on unit i for holder; when the region's rights are all taken, those
 * of holders that are gone are closed first (holders.h). */
int npmu__units_grant(struct npmu__units *us, uint32_t i, const char *name, uint32_t access,
		      uint64_t holder, struct npmu_region_info *info, struct npmu__access_info *ai)
{
	struct npmu__request req = {.access = access, .holder = holder};
	snprintf(req.name, sizeof(req.name), "%s", name);
	const uint8_t *body;
	size_t blen;
	int rc = npmu__units_call(us, i, NPMU_MSG_OPEN, &req, &body, &blen);
	struct npmu__rights_count c = {0};
	if (rc == NPMU_E_LIMIT && reclaim(us, i, name, holder, &c) > 0)
		rc = npmu__units_call(us, i, NPMU_MSG_OPEN, &req, &body, &blen);
	if (rc == NPMU_E_LIMIT)
		npmu__rights_log_refusal(name, us->u[i].addr, access, holder, &c);
	if (rc != 0)
		return rc;
	if (npmu__reply_grant(body, blen, access, info, ai) != 0)
		return NPMU_E_PROTO;
	if (!ai->unit[0])
		snprintf(ai->unit, sizeof(ai->unit), "%s", us->u[i].addr);
	return 0;
}

/* npmu__units_key_live -- whether key is a live read-write right to name on unit i. */
bool npmu__units_key_live(struct npmu__units *us, uint32_t i, const char *name, uint64_t key)
{
	struct npmu__request req = {0};
	snprintf(req.name, sizeof(req.name), "%s", name);
	const uint8_t *body;
	size_t blen;
	struct npmu_region_info info;
	if (!key || npmu__units_call(us, i, NPMU_MSG_STAT, &req, &body, &blen) != 0 ||
	    npmu__reply_info(body, blen, &info) != 0)
		return false;
	struct npmu__request p = {.region_id = info.id, .key = key};
	return npmu__units_call(us, i, NPMU_MSG_PERSIST, &p, &body, &blen) == 0;
}
