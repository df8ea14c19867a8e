/* remote_ops.c -- the manager-to-unit interface (pmm.h) of pmmd: each operation sent to the unit
 * that holds the region (found through the directory), or to mirrors.c for a mirrored one. */
#include "remote_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "mirrors.h"
#include "replies.h"

/* find -- a unit holding name (the first that answers, for a mirrored region), or -1. */
static int find(struct npmu__units *us, const char *name)
{
	int at[NPMU_MIRROR_COPIES];
	int n = npmu__units_find_all(us, name, at, NPMU_MIRROR_COPIES);
	for (int k = 0; k < n; k++)
		if (us->u[at[k]].conn || k == n - 1)
			return at[k];
	return -1;
}

static int remote_stat(void *v, const char *name, struct npmu_region_info *info);

/* remote_create -- place a region on the unit asked for, or the one with the most room. */
static int remote_create(void *v, const struct npmu__request *creq, const char *owner,
			 struct npmu_region_info *info)
{
	struct npmu__units *us = v;
	const char *name = creq->name, *where = creq->unit;
	uint64_t size = creq->size;
	struct npmu_region_info have;
	int src = remote_stat(us, name, &have); /* a unit restarted empty forgets what it had */
	if (src == 0)
		return NPMU_E_EXIST;
	if (src == NPMU_E_UNREACHABLE && creq->replace_away) /* a set member re-placed */
		src = npmu__units_forget_away(us, name);
	if (src != NPMU_E_NOENT) /* the unit holding that name is away: never a second one */
		return src;
	if (creq->copies == 2)
		return npmu__mirror_create(us, creq, owner, info);
	int best = -1;
	for (uint32_t i = 0; i < us->n; i++) {
		if (where[0] && strcmp(us->u[i].addr, where) != 0)
			continue;
		if (npmu__units_greet(us, i) == 0 && us->u[i].free >= size &&
		    (best < 0 || us->u[i].free > us->u[best].free))
			best = (int)i;
	}
	if (best < 0) {
		bool known = !where[0];
		for (uint32_t i = 0; i < us->n && !known; i++)
			known = strcmp(us->u[i].addr, where) == 0;
		return known ? NPMU_E_NOSPC : NPMU_E_NOUNIT;
	}
	struct npmu__request req = {.size = size, .copies = 1};
	snprintf(req.name, sizeof(req.name), "%s", name);
	snprintf(req.owner, sizeof(req.owner), "%s", owner);
	const uint8_t *body;
	size_t blen;
	int rc = npmu__units_call(us, (uint32_t)best, NPMU_MSG_CREATE, &req, &body, &blen);
	if (rc == 0 && (rc = npmu__reply_info(body, blen, info)) == 0)
		rc = npmu__units_dir_add(us, name, (uint32_t)best);
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
	return npmu__units_call(us, (uint32_t)*unit, type, req, body, blen);
}

static int remote_remove(void *v, const char *name)
{
	struct npmu__units *us = v;
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	int unit;
	int rc = by_name(us, NPMU_MSG_DELETE, name, &req, &body, &blen, &unit);
	if (rc == 0 || (rc == NPMU_E_NOENT && unit >= 0))
		npmu__units_dir_drop(us, name, (uint32_t)unit);
	return rc;
}

static int remote_resize(void *v, const char *name, uint64_t size, struct npmu_region_info *info)
{
	struct npmu__request req = {.size = size};
	const uint8_t *body;
	size_t blen;
	int unit;
	int rc = by_name(v, NPMU_MSG_RESIZE, name, &req, &body, &blen, &unit);
	return rc == 0 ? npmu__reply_info(body, blen, info) : rc;
}

static int remote_stat(void *v, const char *name, struct npmu_region_info *info)
{
	struct npmu__units *us = v;
	int at[NPMU_MIRROR_COPIES];
	int n = npmu__units_find_all(us, name, at, NPMU_MIRROR_COPIES);
	int rc = NPMU_E_NOENT;
	for (int k = 0; k < n; k++) { /* any copy of a mirrored region answers for it */
		struct npmu__request req = {0};
		snprintf(req.name, sizeof(req.name), "%s", name);
		const uint8_t *body;
		size_t blen;
		rc = npmu__units_call(us, (uint32_t)at[k], NPMU_MSG_STAT, &req, &body, &blen);
		if (rc == 0)
			return npmu__reply_info(body, blen, info);
		if (rc == NPMU_E_NOENT) /* that unit no longer has it (restarted empty) */
			npmu__units_dir_drop(us, name, (uint32_t)at[k]);
		else if (rc != NPMU_E_UNREACHABLE)
			return rc;
	}
	return rc;
}

/* remote_where -- the units the directory says hold the region. */
static int remote_where(void *v, const char *name, struct npmu_region_place *place)
{
	struct npmu__units *us = v;
	int at[NPMU_PLACE_COPIES];
	int n = npmu__units_find_all(us, name, at, NPMU_PLACE_COPIES);
	if (n <= 0)
		return NPMU_E_NOENT;
	memset(place, 0, sizeof(*place));
	place->count = (uint32_t)n;
	for (int k = 0; k < n; k++)
		snprintf(place->unit[k], sizeof(place->unit[k]), "%s", us->u[at[k]].addr);
	return 0;
}

/* remote_grant -- open a right on the region's unit; the client is sent there for data. */
static int remote_grant(void *v, const char *name, uint32_t access, uint64_t holder,
			struct npmu__holders *hs, struct npmu_region_info *info,
			struct npmu__access_info *ai)
{
	struct npmu__units *us = v;
	(void)hs; /* us->holders: the same table */
	int unit = find(us, name);
	if (unit < 0)
		return NPMU_E_NOENT;
	return npmu__units_grant(us, (uint32_t)unit, name, access, holder, info, ai);
}

/* remote_writers -- how many read-write rights to name are open, on every unit holding it. */
static int remote_writers(void *v, const char *name)
{
	struct npmu__units *us = v;
	int at[NPMU_MIRROR_COPIES], n = 0;
	int units = npmu__units_find_all(us, name, at, NPMU_MIRROR_COPIES);
	for (int k = 0; k < units; k++) {
		struct npmu__request req = {0};
		snprintf(req.name, sizeof(req.name), "%s", name);
		const uint8_t *body;
		size_t blen;
		struct npmu__rights_reply rr;
		int rc = npmu__units_call(us, (uint32_t)at[k], NPMU_MSG_RIGHTS, &req, &body, &blen);
		if (rc == 0 && (rc = npmu__reply_rights(body, blen, &rr)) == 0) {
			for (uint32_t i = 0; i < rr.count; i++)
				n += rr.r[i].access == NPMU_ACCESS_READ_WRITE;
		} else if (rc != NPMU_E_NOENT) {
			return rc; /* a copy away may hold a writer: not known to have none */
		}
	}
	return n;
}

/* remote_key_live -- whether key is a live read-write right to name on any unit holding it. */
static bool remote_key_live(void *v, const char *name, uint64_t key)
{
	struct npmu__units *us = v;
	int at[NPMU_MIRROR_COPIES];
	int n = npmu__units_find_all(us, name, at, NPMU_MIRROR_COPIES);
	for (int k = 0; k < n; k++)
		if (npmu__units_key_live(us, (uint32_t)at[k], name, key))
			return true;
	return false;
}

/* remote_fence -- have the region's unit close its write rights (and raise a stream's epoch). */
static int remote_fence(void *v, const char *name, bool raise, uint64_t *epoch)
{
	struct npmu_region_info info;
	int rc = remote_stat(v, name, &info);
	if (rc != 0)
		return rc;
	if (info.copies > 1)
		return npmu__mirror_fence(v, name, raise, epoch);
	struct npmu__request req = {.op = raise ? NPMU__FENCE_STREAM : NPMU__FENCE_WRITERS,
				    .epoch = *epoch};
	const uint8_t *body;
	size_t blen;
	int unit;
	rc = by_name(v, NPMU_MSG_FENCE, name, &req, &body, &blen, &unit);
	if (rc != 0)
		return rc;
	return npmu__reply_u64(body, blen, epoch);
}

/* remote_revoke -- keys are given back at their unit, which the client reaches directly. */
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
	uint32_t n;
	rc = npmu__reply_u32(body, blen, &n);
	return rc == 0 ? (n > INT32_MAX ? NPMU_E_PROTO : (int)n) : rc;
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
			(void)npmu__units_list(us, i, &us->cache, &us->ncache); /* a down unit lists nothing */
		for (uint32_t i = 0; i < us->ncache; i++) /* a mirrored region once, not per copy */
			for (uint32_t k = i + 1; k < us->ncache;)
				if (strcmp(us->cache[i].name, us->cache[k].name) == 0)
					us->cache[k] = us->cache[--us->ncache];
				else
					k++;
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
	struct npmu_unit_info list[NPMU_PMMD_UNITS_MAX];
	for (uint32_t i = 0; i < us->n; i++) {
		struct npmu__remote_unit *u = &us->u[i];
		list[i] = (struct npmu_unit_info){.up = u->up, .bytes = u->up ? u->bytes : 0,
						  .free = u->up ? u->free : 0};
		snprintf(list[i].addr, sizeof(list[i].addr), "%s", u->addr);
		snprintf(list[i].domain, sizeof(list[i].domain), "%s", u->domain);
		for (uint32_t k = 0; k < us->ndir; k++)
			list[i].regions += us->dir[k].unit == i;
	}
	npmu__reply_units_put(reply, list, us->n);
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
	.where = remote_where,
	.revoke_all = remote_revoke_all,
	.fence = remote_fence,
	.key_live = remote_key_live,
	.writers = remote_writers,
	.rights = NULL,
	.mirror_rec = NULL,
	.mirror = npmu__mirror_handle,
};
