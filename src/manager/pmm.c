/* pmm.c -- the manager's request handling: names to regions, principals' rights, rights to keys. */
#include "pmm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "log.h"

#include "credentials.h"

/* rights_of -- what `who` may do to the region described by info (everything without creds). */
static uint32_t rights_of(const struct npmu__pmm *pmm, const char *who,
			  const struct npmu_region_info *info)
{
	if (!pmm->creds)
		return NPMU_RIGHT_CREATE | NPMU_RIGHT_READ | NPMU_RIGHT_WRITE;
	return npmu__credentials_rights(pmm->creds, who, info->name, info->owner);
}

/* is_owner -- who created the region (or there is no authentication at all). */
static bool is_owner(const struct npmu__pmm *pmm, const char *who,
		     const struct npmu_region_info *info)
{
	return !pmm->creds || (info->owner[0] && strcmp(info->owner, who) == 0);
}

/* list -- the regions `who` may see among the unit's table from req->start on. */
static int list(struct npmu__pmm *pmm, const char *who, uint32_t start, struct npmu__cursor *reply)
{
	struct npmu_region_info page[NPMU_LIST_PAGE];
	uint32_t total = 0;
	int n = pmm->ops->list(pmm->unit, start, page, NPMU_LIST_PAGE, &total);
	if (n < 0)
		return n;
	uint32_t visible = 0;
	for (int i = 0; i < n; i++)
		visible += rights_of(pmm, who, &page[i]) != 0;
	npmu__put_u32(reply, total);
	npmu__put_u32(reply, start + (uint32_t)n);
	npmu__put_u32(reply, visible);
	for (int i = 0; i < n; i++)
		if (rights_of(pmm, who, &page[i]) != 0)
			npmu__info_put(reply, &page[i]);
	return 0;
}

/* now_ns -- monotonic nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* lease_of -- the lease slot of a stream (a free one if it has none); NULL when full. */
static struct npmu__lease *lease_of(struct npmu__pmm *pmm, const char *name)
{
	if (!pmm->leases && !(pmm->leases = calloc(NPMU_LEASES_MAX, sizeof(*pmm->leases))))
		return NULL;
	struct npmu__lease *free_slot = NULL;
	for (int i = 0; i < NPMU_LEASES_MAX; i++) {
		struct npmu__lease *l = &pmm->leases[i];
		if (l->id && strcmp(l->name, name) == 0)
			return l;
		if (!free_slot && (!l->id || l->fenced))
			free_slot = l;
	}
	if (free_slot)
		memset(free_slot, 0, sizeof(*free_slot));
	return free_slot;
}

/* npmu__pmm_tick -- fence lapsed leases; milliseconds until the next may lapse. */
int npmu__pmm_tick(struct npmu__pmm *pmm)
{
	if (!pmm->leases)
		return -1;
	uint64_t now = now_ns(), next = UINT64_MAX;
	for (int i = 0; i < NPMU_LEASES_MAX; i++) {
		struct npmu__lease *l = &pmm->leases[i];
		if (!l->id || l->fenced)
			continue;
		if (l->expiry_ns <= now) {
			uint64_t epoch;
			int rc = pmm->ops->fence(pmm->unit, l->name, true, &epoch);
			LOG_WARN("stream %s: lease lapsed; writer fenced%s%s", l->name,
				 rc ? ": " : "", rc ? npmu_strerror(rc) : "");
			l->fenced = true;
		} else if (l->expiry_ns < next) {
			next = l->expiry_ns;
		}
	}
	return next == UINT64_MAX ? -1 : (int)((next - now) / 1000000 + 1);
}

/* lease_live -- whether a stream has a live lease held under an id other than `mine`. */
static bool lease_live(struct npmu__pmm *pmm, const char *name, uint64_t mine)
{
	if (!pmm->leases)
		return false;
	uint64_t now = now_ns();
	for (int i = 0; i < NPMU_LEASES_MAX; i++) {
		const struct npmu__lease *l = &pmm->leases[i];
		if (l->id && !l->fenced && l->expiry_ns > now && strcmp(l->name, name) == 0)
			return l->id != mine;
	}
	return false;
}

/* lease -- acquire (fencing any earlier writer), renew or release a stream's lease. */
static int lease(struct npmu__pmm *pmm, const char *who, const struct npmu__request *req,
		 struct npmu__cursor *reply)
{
	uint64_t now = now_ns();
	struct npmu__lease *l = lease_of(pmm, req->name);
	if (!l)
		return NPMU_E_LIMIT;
	if (req->release == 2) { /* query: never the lease id, which is the holder's to renew with */
		bool held = l->id && !l->fenced && l->expiry_ns > now;
		npmu__put_u64(reply, 0);
		npmu__put_u64(reply, l->epoch);
		npmu__put_u32(reply, !l->id ? 0 : held ? 1 : 2);
		npmu__put_u32(reply, held ? (uint32_t)((l->expiry_ns - now) / 1000000) : 0);
		npmu__str_put(reply, l->id ? l->holder : "");
		return 0;
	}
	bool mine = l->id && l->id == req->lease;
	if (req->release) {
		if (mine)
			memset(l, 0, sizeof(*l));
		return mine ? 0 : NPMU_E_FENCED;
	}
	if (req->lease) { /* renew */
		if (!mine || l->fenced || l->expiry_ns <= now)
			return NPMU_E_FENCED;
	} else { /* acquire */
		if (l->id && !l->fenced && l->expiry_ns > now)
			return NPMU_E_LEASE;
		uint64_t epoch;
		int rc = pmm->ops->fence(pmm->unit, req->name, true, &epoch);
		if (rc != 0)
			return rc;
		memset(l, 0, sizeof(*l));
		snprintf(l->name, sizeof(l->name), "%s", req->name);
		snprintf(l->holder, sizeof(l->holder), "%s", who ? who : "");
		do
			randombytes_buf(&l->id, sizeof(l->id));
		while (l->id == 0);
		l->epoch = epoch;
	}
	l->expiry_ns = now + (uint64_t)req->ttl_ms * 1000000;
	npmu__put_u64(reply, l->id);
	npmu__put_u64(reply, l->epoch);
	return 0;
}

/* npmu__pmm_handle -- serve one manager request for principal who. */
int npmu__pmm_handle(struct npmu__pmm *pmm, const char *who, uint16_t type,
		     const struct npmu__request *req, struct npmu__cursor *reply)
{
	struct npmu_region_info info;
	struct npmu__access_info ai;
	int rc;
	if (pmm->creds && !who)
		return NPMU_E_AUTH;
	switch (type) {
	case NPMU_MSG_CREATE: {
		struct npmu_region_info want = {0};
		snprintf(want.name, sizeof(want.name), "%s", req->name);
		if (pmm->creds && !(rights_of(pmm, who, &want) & NPMU_RIGHT_CREATE))
			return NPMU_E_ACCESS;
		/* with credentials the owner is the requester; without, a manager programming this
		 * unit names the owner and hands the mirror record (and an open unit has nothing to
		 * protect) */
		struct npmu__request cr = *req;
		if (pmm->creds)
			cr.rec_len = 0;
		rc = pmm->ops->create(pmm->unit, &cr, pmm->creds ? who : req->owner, &info);
		if (rc == 0)
			npmu__info_put(reply, &info);
		return rc;
	}
	case NPMU_MSG_LIST: return list(pmm, who, req->start, reply);
	case NPMU_MSG_UNITS: return pmm->ops->units(pmm->unit, reply);
	case NPMU_MSG_CLOSE: /* the key is the proof: whoever holds it may give it back */
		return pmm->ops->revoke(pmm->unit, req->region_id, req->key);
	default: break;
	}
	/* The rest name an existing region: look at its owner first. */
	if ((rc = pmm->ops->stat(pmm->unit, req->name, &info)) != 0)
		return rc;
	uint32_t rights = rights_of(pmm, who, &info);
	bool mirrored = info.copies > 1 && pmm->ops->mirror;
	switch (type) {
	case NPMU_MSG_STAT:
		if (!rights)
			return NPMU_E_ACCESS;
		npmu__info_put(reply, &info);
		return 0;
	case NPMU_MSG_OPEN:
		if (!(rights & (req->access == NPMU_ACCESS_READ_WRITE ? NPMU_RIGHT_WRITE
								      : NPMU_RIGHT_READ)))
			return NPMU_E_ACCESS;
		if (req->access == NPMU_ACCESS_READ_WRITE && lease_live(pmm, req->name, req->lease))
			return NPMU_E_LEASE; /* one writer per epoch: only the lease holder writes */
		if (mirrored)
			return pmm->ops->mirror(pmm->unit, type, req, reply);
		rc = pmm->ops->grant(pmm->unit, req->name, req->access, &info, &ai);
		if (rc == 0) {
			npmu__info_put(reply, &info);
			npmu__access_put(reply, &ai);
			npmu__str_put(reply, ai.unit);
		}
		return rc;
	case NPMU_MSG_LEASE:
		if (!(rights & (req->release == 2 ? NPMU_RIGHT_READ : NPMU_RIGHT_WRITE)))
			return NPMU_E_ACCESS;
		return lease(pmm, who, req, reply);
	case NPMU_MSG_MIRROR:
		if (!mirrored)
			return NPMU_E_INVAL; /* not a mirrored region */
		if (!(rights & (req->op == NPMU__MIRROR_GET ? NPMU_RIGHT_READ : NPMU_RIGHT_WRITE)))
			return NPMU_E_ACCESS;
		return pmm->ops->mirror(pmm->unit, type, req, reply);
	case NPMU_MSG_MIRROR_REC:
		/* only a manager programming this unit reads or writes a mirror record */
		if (pmm->creds || who || !pmm->ops->mirror_rec)
			return NPMU_E_ACCESS;
		return pmm->ops->mirror_rec(pmm->unit, req, reply);
	case NPMU_MSG_FENCE: {
		if (pmm->creds || who) /* only a manager programming this unit fences directly */
			return NPMU_E_ACCESS;
		uint64_t epoch;
		rc = pmm->ops->fence(pmm->unit, req->name, req->op == 1, &epoch);
		if (rc == 0)
			npmu__put_u64(reply, epoch);
		return rc;
	}
	case NPMU_MSG_RESIZE:
	case NPMU_MSG_DELETE:
	case NPMU_MSG_REVOKE:
		if (!is_owner(pmm, who, &info))
			return NPMU_E_ACCESS;
		if (mirrored)
			return pmm->ops->mirror(pmm->unit, type, req, reply);
		if (type == NPMU_MSG_DELETE)
			return pmm->ops->remove(pmm->unit, req->name);
		if (type == NPMU_MSG_REVOKE) {
			rc = pmm->ops->revoke_all(pmm->unit, req->name);
			if (rc >= 0)
				npmu__put_u32(reply, (uint32_t)rc);
			return rc < 0 ? rc : 0;
		}
		rc = pmm->ops->resize(pmm->unit, req->name, req->size, &info);
		if (rc == 0)
			npmu__info_put(reply, &info);
		return rc;
	default: return NPMU_E_PROTO;
	}
}
