/* pmm.c -- the manager's request handling: names to regions, principals' rights, rights to keys,
 * holders, and leases (their states: leases.h). */
#include "pmm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "metrics.h"
#include "replies.h"

#include "credentials.h"

/* npmu__pmm_init -- a manager over unit through ops. */
void npmu__pmm_init(struct npmu__pmm *pmm, const struct npmu__unit_ops *ops, void *unit,
		    const struct npmu__credentials *creds, uint32_t lease_grace_ms)
{
	memset(pmm, 0, sizeof(*pmm));
	pmm->ops = ops;
	pmm->unit = unit;
	pmm->creds = creds;
	pthread_mutex_init(&pmm->lock, NULL);
	npmu__leases_init(&pmm->leases, lease_grace_ms);
	npmu__holders_init(&pmm->holders, NPMU_HOLDER_TTL_MS);
}

/* npmu__pmm_fini -- free the tables. */
void npmu__pmm_fini(struct npmu__pmm *pmm)
{
	npmu__leases_fini(&pmm->leases);
	npmu__holders_fini(&pmm->holders);
	pthread_mutex_destroy(&pmm->lock);
}

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
		if (rights_of(pmm, who, &page[i]) != 0)
			page[visible++] = page[i];
	npmu__reply_list_put(reply, total, start + (uint32_t)n, page, visible);
	return 0;
}

/* holder_renew -- holder req->holder (if any) of who, at req->peer, is alive. */
static int holder_renew(struct npmu__pmm *pmm, const char *who, const struct npmu__request *req)
{
	if (!req->holder)
		return 0;
	int rc = npmu__holders_renew(&pmm->holders, req->holder, who, req->peer, req->peer_len);
	if (rc == NPMU_E_LIMIT)
		LOG_WARN("holders: %s has too many live connections (at most %u); its new ones' rights "
			 "are not protected", who && who[0] ? who : "an unauthenticated client",
			 NPMU_HOLDERS_PER_ID);
	return rc;
}

/* member_name -- NAME.sI, the region of member i of striped set NAME (a set's name leaves room
 * for it: checked when the request is decoded). */
static void member_name(const char *name, uint32_t i, char out[NPMU_NAME_MAX + 1])
{
	char tmp[NPMU_NAME_MAX + 16];
	int n = snprintf(tmp, sizeof(tmp), "%s.s%u", name, i);
	size_t len = n < 0 ? 0 : (size_t)n > NPMU_NAME_MAX ? NPMU_NAME_MAX : (size_t)n;
	memcpy(out, tmp, len);
	out[len] = '\0';
}

/* member_index -- i when region is NAME.sI, member i of striped set NAME (as member_name spells
 * it: no leading zeros, i below NPMU_SET_MEMBERS_MAX); else -1. */
static int member_index(const char *name, const char *region)
{
	size_t nl = strlen(name);
	if (strncmp(region, name, nl) != 0 || strncmp(region + nl, ".s", 2) != 0)
		return -1;
	const char *d = region + nl + 2;
	int i = 0;
	for (size_t k = 0; d[k]; k++) {
		if (d[k] < '0' || d[k] > '9' || k >= 2 || (k == 1 && d[0] == '0'))
			return -1;
		i = i * 10 + (d[k] - '0');
	}
	return d[0] && i < NPMU_SET_MEMBERS_MAX ? i : -1;
}

/* set_anchor -- the member of set req->name whose owner rules its lease: member 0, or while its
 * unit does not answer the first other member that answers (its name into named). Member 0's
 * error when none does (NPMU_E_NOENT: a set being made). */
static int set_anchor(struct npmu__pmm *pmm, const struct npmu__request *req,
		      char named[NPMU_NAME_MAX + 1], struct npmu_region_info *info)
{
	member_name(req->name, 0, named);
	int rc = pmm->ops->stat(pmm->unit, named, info);
	for (uint32_t i = 1; rc == NPMU_E_UNREACHABLE && i < req->members &&
			     i < NPMU_SET_MEMBERS_MAX; i++) {
		char other[NPMU_NAME_MAX + 1];
		member_name(req->name, i, other);
		if (pmm->ops->stat(pmm->unit, other, info) == 0) {
			memcpy(named, other, NPMU_NAME_MAX + 1);
			return 0;
		}
	}
	return rc;
}

/* holds_set_of -- whether region is a member NAME.sI of a striped set whose lease `who` holds
 * (a rebuild re-placing a member lost with its unit). */
static bool holds_set_of(struct npmu__pmm *pmm, const char *who, const char *region)
{
	const char *dot = strrchr(region, '.');
	if (!dot || dot == region)
		return false;
	char set[NPMU_NAME_MAX + 1];
	snprintf(set, sizeof(set), "%.*s", (int)(dot - region), region);
	int i = member_index(set, region);
	pthread_mutex_lock(&pmm->lock);
	struct npmu__lease *l = i >= 0 ? npmu__leases_find(&pmm->leases, set) : NULL;
	bool held = l && l->members > (uint32_t)i && !l->taking &&
		    npmu__lease_state(l) == LEASE_HELD && strcmp(l->holder, who ? who : "") == 0;
	pthread_mutex_unlock(&pmm->lock);
	return held;
}

/* set_members -- the MEMBERS reply: which regions NAME.s0 .. NAME.s63 exist and `who` may see,
 * found in one pass over the unit's table (pmmd: every unit's, listed afresh, so a member is
 * found however the directory stands); NPMU_E_ACCESS when some exist but none is visible. */
static int set_members(struct npmu__pmm *pmm, const char *who, const char *name, uint32_t op,
		       struct npmu__cursor *reply)
{
	struct npmu_region_info page[NPMU_LIST_PAGE];
	char staging[NPMU_NAME_MAX + 8];
	snprintf(staging, sizeof(staging), "%s.stg", name);
	uint32_t flags = 0;
	uint64_t present = 0, hidden = 0;
	uint32_t start = 0, total = 0;
	do {
		int n = pmm->ops->list(pmm->unit, start, page, NPMU_LIST_PAGE, &total);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		for (int k = 0; k < n; k++) {
			int i = member_index(name, page[k].name);
			if (i >= 0 && rights_of(pmm, who, &page[k]) != 0)
				present |= 1ull << i;
			else if (i >= 0)
				hidden |= 1ull << i;
			else if (strcmp(page[k].name, staging) == 0 && rights_of(pmm, who, &page[k]))
				flags |= NPMU__MEMBERS_HAS_STAGING;
		}
		start += (uint32_t)n;
	} while (start < total);
	if (!present && hidden)
		return NPMU_E_ACCESS;
	npmu__reply_u64_put(reply, present);
	if (op == NPMU__MEMBERS_STAGING)
		npmu__put_u32(reply, flags);
	return 0;
}

/* lease_put -- the LEASE reply of acquire and renew: u64 id, u64 epoch. */
static void lease_put(struct npmu__cursor *reply, const struct npmu__lease *l)
{
	struct npmu__lease_reply lr = {.lease = l->id, .epoch = l->epoch};
	npmu__reply_lease_put(reply, &lr, false);
}

/*
 * lease_fast -- renew or release a lease by its holder (pmm->lock held): 0 with the reply,
 * NPMU_E_FENCED when the id is not the lease's, NPMU__PMM_DEFER when the manager does not know
 * the lease (after its start: proved with a key by lease_adopt).
 */
static int lease_fast(struct npmu__pmm *pmm, const char *who, const struct npmu__request *req,
		      struct npmu__cursor *reply)
{
	struct npmu__lease *l = npmu__leases_find(&pmm->leases, req->name);
	if (req->lease == 0)
		return NPMU__PMM_DEFER; /* an acquire fences at the units */
	if (!l || l->id != req->lease) {
		if (req->lease_op == NPMU__LEASE_TAKE && !l && req->key &&
		    npmu__leases_in_grace(&pmm->leases))
			return NPMU__PMM_DEFER; /* a lease from before our start (L4) */
		return NPMU_E_FENCED;
	}
	if (strcmp(l->holder, who ? who : "") != 0 || l->taking)
		return NPMU_E_FENCED;
	if (req->lease_op == NPMU__LEASE_RELEASE) {
		memset(l, 0, sizeof(*l));
		return 0;
	}
	l->expiry_ms = npmu__leases_now() + req->ttl_ms; /* HELD, or LAPSED back to HELD (L2) */
	lease_put(reply, l);
	return 0;
}

/* lease_adopt -- (L4) a renewal of a lease unknown here, during the grace after a start: taken
 * over when req->key is a live read-write right of the region (a set: of its member 0). */
static int lease_adopt(struct npmu__pmm *pmm, const char *who, const struct npmu__request *req,
		       struct npmu__cursor *reply)
{
	char anchor[NPMU_NAME_MAX + 1];
	if (req->members)
		member_name(req->name, 0, anchor);
	else
		snprintf(anchor, sizeof(anchor), "%s", req->name);
	bool proved = pmm->ops->key_live && pmm->ops->key_live(pmm->unit, anchor, req->key);
	pthread_mutex_lock(&pmm->lock);
	int rc = NPMU_E_FENCED;
	struct npmu__lease *l = npmu__leases_find(&pmm->leases, req->name);
	if (!l && proved && (l = npmu__leases_slot(&pmm->leases, req->name)) != NULL) {
		snprintf(l->name, sizeof(l->name), "%s", req->name);
		snprintf(l->holder, sizeof(l->holder), "%s", who ? who : "");
		l->id = req->lease;
		l->members = req->members;
		l->expiry_ms = npmu__leases_now() + req->ttl_ms;
		lease_put(reply, l);
		rc = 0;
	} else if (l && l->id == req->lease) {
		rc = lease_fast(pmm, who, req, reply); /* adopted meanwhile */
	}
	pthread_mutex_unlock(&pmm->lock);
	if (rc == 0)
		LOG_INFO("%s %s: lease from before this manager's start renewed by %s", req->members
			 ? "set" : "stream", req->name, who && who[0] ? who : "its writer");
	else
		LOG_WARN("%s %s: renewal of an unknown lease refused (%s)", req->members ? "set"
			 : "stream", req->name, proved ? "taken meanwhile" : "no live write key shown");
	return rc;
}

/* fence_writers -- close every earlier writer's rights: a stream's (raising its epoch into
 * *epoch), or each member's of a striped set of `members`. */
static int fence_writers(struct npmu__pmm *pmm, const char *name, uint32_t members,
			 uint64_t *epoch)
{
	*epoch = 0;
	if (!members)
		return pmm->ops->fence(pmm->unit, name, true, epoch);
	for (uint32_t i = 0; i < members; i++) {
		char mn[NPMU_NAME_MAX + 1];
		uint64_t e = 0;
		member_name(name, i, mn);
		int rc = pmm->ops->fence(pmm->unit, mn, false, &e);
		if (rc == NPMU_E_UNREACHABLE) { /* its unit is down: fenced by the next lease after */
			LOG_WARN("set %s: member %s not fenced: its unit does not answer", name, mn);
			continue;
		}
		if (rc != 0 && rc != NPMU_E_NOENT) { /* a member lost with its unit has no writer */
			LOG_WARN("set %s: member %s cannot be fenced: %s", name, mn, npmu_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* lease_acquire -- (L1) take a free or lapsed lease: TAKING, fence, then HELD by who. */
static int lease_acquire(struct npmu__pmm *pmm, const char *who, const struct npmu__request *req,
			 struct npmu__cursor *reply)
{
	/* L4: a writer from before our start may still renew, unless it has no key left */
	uint32_t grace = npmu__leases_grace_left(&pmm->leases);
	if (grace) {
		char anchor[NPMU_NAME_MAX + 1];
		if (req->members)
			member_name(req->name, 0, anchor);
		else
			snprintf(anchor, sizeof(anchor), "%s", req->name);
		pthread_mutex_lock(&pmm->lock);
		bool known = npmu__leases_find(&pmm->leases, req->name) != NULL;
		pthread_mutex_unlock(&pmm->lock);
		int writers = pmm->ops->writers ? pmm->ops->writers(pmm->unit, anchor) : -1;
		if (known || writers == 0 || writers == NPMU_E_NOENT)
			grace = 0;
	}
	pthread_mutex_lock(&pmm->lock);
	struct npmu__lease *l = grace ? NULL : npmu__leases_slot(&pmm->leases, req->name);
	enum npmu__lease_state st = npmu__lease_state(l);
	int rc = 0;
	if (grace)
		rc = NPMU_E_LEASE; /* L4: the writer from before the start may still renew */
	else if (!l)
		rc = NPMU_E_LIMIT;
	else if (st == LEASE_HELD || st == LEASE_TAKING)
		rc = NPMU_E_LEASE;
	uint64_t old_id = l ? l->id : 0;
	if (rc == 0) {
		l->taking = true;
		if (!l->id) { /* a fresh entry: reserved under a placeholder id nobody holds */
			snprintf(l->name, sizeof(l->name), "%s", req->name);
			randombytes_buf(&l->id, sizeof(l->id));
			l->id |= 1;
		}
	}
	pthread_mutex_unlock(&pmm->lock);
	if (rc != 0) {
		if (grace)
			LOG_INFO("%s %s: has a writer from before this manager's start: no new writer "
				 "for %u ms, unless it stops renewing", req->members ? "set" : "stream",
				 req->name, grace);
		return rc;
	}
	uint64_t epoch;
	rc = fence_writers(pmm, req->name, req->members, &epoch);
	pthread_mutex_lock(&pmm->lock);
	if (rc != 0) {
		l->taking = false;
		if (!old_id)
			memset(l, 0, sizeof(*l));
	} else {
		if (old_id)
			npmu__metric_add(&pmm->takeovers, 1);
		if (old_id)
			LOG_WARN("%s %s: lease lapsed and taken by %s; the writer before was fenced",
				 req->members ? "set" : "stream", req->name,
				 who && who[0] ? who : "another writer");
		memset(l, 0, sizeof(*l));
		snprintf(l->name, sizeof(l->name), "%s", req->name);
		snprintf(l->holder, sizeof(l->holder), "%s", who ? who : "");
		do
			randombytes_buf(&l->id, sizeof(l->id));
		while (l->id == 0);
		l->epoch = epoch;
		l->members = req->members;
		l->expiry_ms = npmu__leases_now() + req->ttl_ms;
		lease_put(reply, l);
	}
	pthread_mutex_unlock(&pmm->lock);
	return rc;
}

/* lease_query -- the lease's state for a reader: never its id, which is the holder's to renew
 * with. Reply: u64 0, u64 epoch, u32 state (0 none, 1 held, 2 lapsed), u32 ms left, holder. */
static int lease_query(struct npmu__pmm *pmm, const struct npmu__request *req,
		       struct npmu__cursor *reply)
{
	pthread_mutex_lock(&pmm->lock);
	struct npmu__lease *l = npmu__leases_find(&pmm->leases, req->name);
	enum npmu__lease_state st = npmu__lease_state(l);
	uint64_t now = npmu__leases_now();
	bool held = st == LEASE_HELD || st == LEASE_TAKING;
	struct npmu__lease_reply lr = {
		.epoch = l ? l->epoch : 0,
		.state = st == LEASE_FREE ? NPMU_LEASE_NONE : held ? NPMU_LEASE_HELD : NPMU_LEASE_LAPSED,
		.left_ms = held && l->expiry_ms > now ? (uint32_t)(l->expiry_ms - now) : 0};
	snprintf(lr.holder, sizeof(lr.holder), "%s", l ? l->holder : "");
	npmu__reply_lease_put(reply, &lr, true);
	pthread_mutex_unlock(&pmm->lock);
	return 0;
}

/* lease -- acquire, renew, release or query a lease (the rights are checked by the caller). */
static int lease(struct npmu__pmm *pmm, const char *who, const struct npmu__request *req,
		 struct npmu__cursor *reply)
{
	if (req->lease_op == NPMU__LEASE_QUERY)
		return lease_query(pmm, req, reply);
	pthread_mutex_lock(&pmm->lock);
	int rc = lease_fast(pmm, who, req, reply);
	pthread_mutex_unlock(&pmm->lock);
	if (rc != NPMU__PMM_DEFER)
		return rc;
	return req->lease ? lease_adopt(pmm, who, req, reply) : lease_acquire(pmm, who, req, reply);
}

/* lease_current -- whether some lease's id is `shown` and not being passed on (lock held). */
static bool lease_current(struct npmu__pmm *pmm, uint64_t shown)
{
	for (int i = 0; pmm->leases.l && i < NPMU_LEASES_MAX; i++)
		if (pmm->leases.l[i].id == shown && !pmm->leases.l[i].taking)
			return true;
	return false;
}

/*
 * writer_admit -- (OPEN read-write) whether a writer showing lease `shown` (0: none) may write
 * region name: NPMU_E_LEASE while another writer holds its lease (HELD or TAKING); a LAPSED
 * lease is taken from its holder first (fenced, L1); NPMU_E_FENCED when the lease shown is not
 * current (a set member is opened with its set's lease).
 */
static int writer_admit(struct npmu__pmm *pmm, const char *name, uint64_t shown)
{
	pthread_mutex_lock(&pmm->lock);
	struct npmu__lease *l = npmu__leases_find(&pmm->leases, name);
	enum npmu__lease_state st = npmu__lease_state(l);
	int rc = 0;
	if (!l)
		rc = !shown || lease_current(pmm, shown) || npmu__leases_in_grace(&pmm->leases)
			     ? 0 : NPMU_E_FENCED;
	else if (l->id == shown)
		rc = l->taking ? NPMU_E_FENCED : 0;
	else if (st == LEASE_HELD || st == LEASE_TAKING)
		rc = NPMU_E_LEASE; /* one writer per epoch: only the lease holder writes */
	else
		l->taking = true; /* LAPSED: its holder goes first */
	uint32_t members = l ? l->members : 0;
	bool take = l && l->taking && st == LEASE_LAPSED;
	pthread_mutex_unlock(&pmm->lock);
	if (!take || rc != 0)
		return rc;
	uint64_t epoch;
	rc = fence_writers(pmm, name, members, &epoch);
	pthread_mutex_lock(&pmm->lock);
	if (rc == 0)
		memset(l, 0, sizeof(*l)); /* FREE: the new writer holds no lease */
	else
		l->taking = false;
	pthread_mutex_unlock(&pmm->lock);
	if (rc == 0) {
		npmu__metric_add(&pmm->takeovers, 1);
		LOG_WARN("stream %s: lease lapsed; its writer fenced for a writer without a lease", name);
	}
	return rc;
}

/* npmu__pmm_handle_fast -- renewals (holders' and leases') at once; the rest is deferred. */
int npmu__pmm_handle_fast(struct npmu__pmm *pmm, const char *who, uint16_t type,
			  const struct npmu__request *req, struct npmu__cursor *reply)
{
	if (pmm->creds && !who)
		return NPMU_E_AUTH;
	int rc = NPMU__PMM_DEFER;
	if (type == NPMU_MSG_HOLDER) {
		rc = holder_renew(pmm, who, req);
		if (rc == 0)
			npmu__reply_holder_put(reply, pmm->holders.ttl_ms);
	} else if (type == NPMU_MSG_LEASE && req->lease_op != NPMU__LEASE_QUERY) {
		pthread_mutex_lock(&pmm->lock);
		rc = lease_fast(pmm, who, req, reply);
		pthread_mutex_unlock(&pmm->lock);
	}
	return rc;
}

/* npmu__pmm_publish -- the leases by state and the live holders, into the gauges. */
void npmu__pmm_publish(struct npmu__pmm *pmm)
{
	uint64_t held = 0, lapsed = 0;
	pthread_mutex_lock(&pmm->lock);
	for (uint32_t i = 0; pmm->leases.l && i < NPMU_LEASES_MAX; i++) {
		enum npmu__lease_state st = npmu__lease_state(&pmm->leases.l[i]);
		held += st == LEASE_HELD || st == LEASE_TAKING;
		lapsed += st == LEASE_LAPSED;
	}
	pthread_mutex_unlock(&pmm->lock);
	npmu__metric_set(&pmm->leases_held, held);
	npmu__metric_set(&pmm->leases_lapsed, lapsed);
	npmu__metric_set(&pmm->holders_live, npmu__holders_count(&pmm->holders));
}

/* npmu__pmm_stalled -- nothing was answered for ms: leases may not lapse for it. */
void npmu__pmm_stalled(struct npmu__pmm *pmm, uint64_t ms)
{
	pthread_mutex_lock(&pmm->lock);
	npmu__leases_stalled(&pmm->leases, ms);
	pthread_mutex_unlock(&pmm->lock);
}

/* open_region -- OPEN: check the rights and the lease, then open a right for req->holder. */
static int open_region(struct npmu__pmm *pmm, const char *who, const struct npmu__request *req,
		       uint32_t rights, struct npmu_region_info *info, struct npmu__cursor *reply)
{
	if (!(rights & (req->access == NPMU_ACCESS_READ_WRITE ? NPMU_RIGHT_WRITE : NPMU_RIGHT_READ)))
		return NPMU_E_ACCESS;
	int rc;
	if (req->access == NPMU_ACCESS_READ_WRITE && !pmm->programmed &&
	    (rc = writer_admit(pmm, req->name, req->lease)) != 0)
		return rc;
	/* a holder id another principal renewed is not the caller's to charge rights to */
	if (!pmm->programmed && holder_renew(pmm, who, req) == NPMU_E_ACCESS)
		return NPMU_E_ACCESS;
	if (info->copies > 1 && pmm->ops->mirror)
		return pmm->ops->mirror(pmm->unit, NPMU_MSG_OPEN, req, reply);
	struct npmu__access_info ai;
	/* a unit programmed by a remote manager records the holder; that manager reclaims */
	rc = pmm->ops->grant(pmm->unit, req->name, req->access, req->holder,
			     pmm->programmed ? NULL : &pmm->holders, info, &ai);
	if (rc == 0)
		npmu__reply_grant_put(reply, info, &ai); /* (a plain region's OPEN reply) */
	return rc;
}

/* programming -- what only a manager programming this unit may ask: FENCE, MIRROR_REC, RIGHTS. */
static int programming(struct npmu__pmm *pmm, const char *who, uint16_t type,
		       const struct npmu__request *req, struct npmu__cursor *reply)
{
	if (pmm->creds || who)
		return NPMU_E_ACCESS;
	switch (type) {
	case NPMU_MSG_MIRROR_REC:
		if (!pmm->ops->mirror_rec)
			return NPMU_E_ACCESS;
		return pmm->ops->mirror_rec(pmm->unit, req, reply);
	case NPMU_MSG_FENCE: {
		uint64_t epoch = req->epoch;
		int rc = pmm->ops->fence(pmm->unit, req->name, req->op == NPMU__FENCE_STREAM, &epoch);
		if (rc == 0)
			npmu__reply_u64_put(reply, epoch);
		return rc;
	}
	case NPMU_MSG_RIGHTS: {
		struct npmu__right_info r[NPMU_RIGHTS_REPLY_MAX];
		struct npmu__rights_reply rr;
		if (!pmm->ops->rights)
			return NPMU_E_ACCESS;
		int n = pmm->ops->rights(pmm->unit, req->name, &rr.region_id, r, NPMU_RIGHTS_REPLY_MAX);
		if (n < 0)
			return n;
		rr.count = (uint32_t)n;
		for (int i = 0; i < n; i++) {
			rr.r[i].key = r[i].key;
			rr.r[i].access = r[i].access;
			rr.r[i].holder = r[i].holder;
		}
		npmu__reply_rights_put(reply, &rr);
		return 0;
	}
	default: return NPMU_E_PROTO;
	}
}

/* npmu__pmm_handle -- serve one manager request for principal who.
 * long: the rights check, then one case per request type, a few lines each. */
int npmu__pmm_handle(struct npmu__pmm *pmm, const char *who, uint16_t type,
		     const struct npmu__request *req, struct npmu__cursor *reply)
{
	struct npmu_region_info info;
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
		cr.replace_away = holds_set_of(pmm, who, req->name);
		rc = pmm->ops->create(pmm->unit, &cr, pmm->creds ? who : req->owner, &info);
		if (rc == 0)
			npmu__reply_info_put(reply, &info);
		return rc;
	}
	case NPMU_MSG_LIST: return list(pmm, who, req->start, reply);
	case NPMU_MSG_MEMBERS: return set_members(pmm, who, req->name, req->op, reply);
	case NPMU_MSG_UNITS: return pmm->ops->units(pmm->unit, reply);
	case NPMU_MSG_HOLDER: return npmu__pmm_handle_fast(pmm, who, type, req, reply);
	case NPMU_MSG_CLOSE: /* the key is the proof: whoever holds it may give it back */
		return pmm->ops->revoke(pmm->unit, req->region_id, req->key);
	case NPMU_MSG_FENCE:
	case NPMU_MSG_MIRROR_REC:
	case NPMU_MSG_RIGHTS: return programming(pmm, who, type, req, reply);
	default: break;
	}
	/* The rest name an existing region (a lease on a set: a member that answers): its owner
	 * first. */
	char named[NPMU_NAME_MAX + 1];
	if (type == NPMU_MSG_LEASE && req->members)
		rc = set_anchor(pmm, req, named, &info);
	else
		rc = pmm->ops->stat(pmm->unit, memcpy(named, req->name, sizeof(named)), &info);
	if (rc == NPMU_E_NOENT && type == NPMU_MSG_LEASE && req->members &&
	    req->lease_op == NPMU__LEASE_TAKE) {
		/* a set being made: its first writer takes the lease before creating members */
		struct npmu_region_info want = {0};
		snprintf(want.name, sizeof(want.name), "%s", named);
		if (pmm->creds && !(rights_of(pmm, who, &want) & NPMU_RIGHT_CREATE))
			return NPMU_E_ACCESS;
		return lease(pmm, who, req, reply);
	}
	if (rc != 0)
		return rc;
	uint32_t rights = rights_of(pmm, who, &info);
	bool mirrored = info.copies > 1 && pmm->ops->mirror;
	switch (type) {
	case NPMU_MSG_STAT:
		if (!rights)
			return NPMU_E_ACCESS;
		npmu__reply_info_put(reply, &info);
		return 0;
	case NPMU_MSG_WHERE: {
		struct npmu_region_place place;
		if (!rights)
			return NPMU_E_ACCESS;
		if ((rc = pmm->ops->where(pmm->unit, req->name, &place)) == 0)
			npmu__reply_where_put(reply, &place);
		return rc;
	}
	case NPMU_MSG_OPEN: return open_region(pmm, who, req, rights, &info, reply);
	case NPMU_MSG_LEASE:
		if (!(rights & (req->lease_op == NPMU__LEASE_QUERY ? NPMU_RIGHT_READ : NPMU_RIGHT_WRITE)))
			return NPMU_E_ACCESS;
		return lease(pmm, who, req, reply);
	case NPMU_MSG_MIRROR:
		if (!mirrored)
			return NPMU_E_INVAL; /* not a mirrored region */
		if (!(rights & (req->op == NPMU__MIRROR_GET ? NPMU_RIGHT_READ : NPMU_RIGHT_WRITE)))
			return NPMU_E_ACCESS;
		if (req->holder) {
			holder_renew(pmm, who, req);
		}
		return pmm->ops->mirror(pmm->unit, type, req, reply);
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
				npmu__reply_u32_put(reply, (uint32_t)rc);
			return rc < 0 ? rc : 0;
		}
		rc = pmm->ops->resize(pmm->unit, req->name, req->size, &info);
		if (rc == 0)
			npmu__reply_info_put(reply, &info);
		return rc;
	default: return NPMU_E_PROTO;
	}
}

/* npmu__pmm_render -- the manager's metrics in the text exposition (see pmm.h). */
void npmu__pmm_render(struct npmu__pmm *pmm, struct npmu__prom *p)
{
	npmu__prom_family(p, "npmu_leases", "gauge",
			  "Writers' leases on streams and striped sets, by state (held: renewed "
			  "within its term; lapsed: not renewed, kept until another writer asks).");
	npmu__prom_u64(p, "npmu_leases", npmu__metric_get(&pmm->leases_held), "state", "held",
		       NULL);
	npmu__prom_u64(p, "npmu_leases", npmu__metric_get(&pmm->leases_lapsed), "state", "lapsed",
		       NULL);
	npmu__prom_family(p, "npmu_lease_takeovers_total", "counter",
			  "Lapsed leases passed to another writer, the writer before fenced.");
	npmu__prom_u64(p, "npmu_lease_takeovers_total", npmu__metric_get(&pmm->takeovers), NULL);
	npmu__prom_family(p, "npmu_clients", "gauge",
			  "Clients keeping their rights alive (holders renewed within their term).");
	npmu__prom_u64(p, "npmu_clients", npmu__metric_get(&pmm->holders_live), NULL);
}
