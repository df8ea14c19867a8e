/* unit_ops.c -- the unit side of the manager-to-unit interface, for a manager in the same process. */
#include "unit_ops.h"

#include "unit.h"

#include "log.h"
#include "replies.h"

static int local_create(void *u, const struct npmu__request *req, const char *owner,
			struct npmu_region_info *info)
{
	/* one unit, this one: a mirror needs a manager of two (pmmd); a manager programming this
	 * unit creates one copy and hands over its mirror record */
	if (req->copies != 1)
		return NPMU_E_NOUNIT;
	return npmu__unit_create(u, req->name, owner, req->size, req->rec, req->rec_len, info);
}

static int local_remove(void *u, const char *name)
{
	return npmu__unit_remove(u, name);
}

static int local_resize(void *u, const char *name, uint64_t size, struct npmu_region_info *info)
{
	return npmu__unit_resize(u, name, size, info);
}

static int local_stat(void *u, const char *name, struct npmu_region_info *info)
{
	return npmu__unit_stat(u, name, info);
}

static int local_list(void *u, uint32_t start, struct npmu_region_info *out, uint32_t max,
		      uint32_t *total)
{
	return npmu__unit_list(u, start, out, max, total);
}

/* local_grant -- a right for holder; when the region's rights are all taken, those of dead
 * holders go first (holders.h), unless the holder holds its own share already. */
static int local_grant(void *u, const char *name, uint32_t access, uint64_t holder,
		       struct npmu__holders *hs, struct npmu_region_info *info,
		       struct npmu__access_info *ai)
{
	int rc = npmu__unit_grant(u, name, access, holder, info, ai);
	struct npmu__rights_count c;
	if (rc != NPMU_E_LIMIT ||
	    npmu__unit_rights_count(u, name, holder, &c.all, &c.reads, &c.held) != 0)
		return rc;
	if (hs && !npmu__rights_holder_full(&c)) {
		struct npmu__reclaim rec;
		npmu__reclaim_init(&rec, hs);
		if (npmu__unit_reclaim(u, name, npmu__holders_keep_live, hs) > 0 ||
		    npmu__unit_reclaim(u, name, npmu__holders_keep_present, &rec) > 0)
			rc = npmu__unit_grant(u, name, access, holder, info, ai);
	}
	if (rc == NPMU_E_LIMIT)
		npmu__rights_log_refusal(name, NULL, access, holder, &c);
	return rc;
}

static bool local_key_live(void *u, const char *name, uint64_t key)
{
	return npmu__unit_key_live(u, name, key);
}

/* local_writers -- how many read-write rights to a region are open. */
static int local_writers(void *u, const char *name)
{
	struct npmu__unit *unit = u;
	struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	int n = 0;
	for (uint32_t k = 0; k < r->nrights; k++)
		n += r->rights[k].access == NPMU_ACCESS_READ_WRITE;
	return n;
}

/* local_rights -- a region's rights, for a manager that reclaims them. */
static int local_rights(void *u, const char *name, uint64_t *region_id,
			struct npmu__right_info *out, uint32_t max)
{
	struct npmu__unit *unit = u;
	struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	*region_id = r->id;
	uint32_t n = 0;
	for (; n < r->nrights && n < max; n++)
		out[n] = (struct npmu__right_info){r->rights[n].key, r->rights[n].access,
						   r->rights[n].holder};
	return (int)n;
}

static int local_revoke(void *u, uint64_t region_id, uint64_t key)
{
	return npmu__unit_revoke(u, region_id, key);
}

static int local_revoke_all(void *u, const char *name)
{
	return npmu__unit_revoke_all(u, name);
}

static int local_fence(void *u, const char *name, bool raise, uint64_t *epoch)
{
	return npmu__unit_fence(u, name, raise, epoch);
}

static int local_mirror_rec(void *u, const struct npmu__request *req, struct npmu__cursor *reply)
{
	return npmu__unit_mirror_rec(u, req->name, req->op == NPMU__REC_SET, req->key, req->rec, req->rec_len,
				     reply);
}

static int local_units(void *u, struct npmu__cursor *reply)
{
	struct npmu__unit *unit = u;
	struct npmu_unit_info me = {
		.up = true, /* it is answering */
		.bytes = (unit->pool->sb.npages - unit->pool->sb.data_start) * NPMU_PAGE_SIZE,
		.free = unit->pool->alloc.nfree * NPMU_PAGE_SIZE,
		.regions = unit->pool->meta.nregions}; /* no fault domain: it is its own */
	npmu__fabric_addr_str(unit->fab, unit->fab->name, me.addr, sizeof(me.addr));
	npmu__reply_units_put(reply, &me, 1);
	return 0;
}

/* local_where -- the region is here: this unit's address. */
static int local_where(void *u, const char *name, struct npmu_region_place *place)
{
	struct npmu__unit *unit = u;
	struct npmu_region_info info;
	int rc = npmu__unit_stat(unit, name, &info);
	if (rc != 0)
		return rc;
	memset(place, 0, sizeof(*place));
	place->count = 1;
	npmu__fabric_addr_str(unit->fab, unit->fab->name, place->unit[0], sizeof(place->unit[0]));
	return 0;
}

const struct npmu__unit_ops npmu__local_unit_ops = {
	.where = local_where,
	.create = local_create,
	.remove = local_remove,
	.resize = local_resize,
	.stat = local_stat,
	.list = local_list,
	.grant = local_grant,
	.revoke = local_revoke,
	.units = local_units,
	.revoke_all = local_revoke_all,
	.fence = local_fence,
	.key_live = local_key_live,
	.writers = local_writers,
	.rights = local_rights,
	.mirror_rec = local_mirror_rec,
	.mirror = NULL,
};
