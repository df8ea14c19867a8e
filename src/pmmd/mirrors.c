/* mirrors.c -- pmmd's mirrored regions: two copies on units of distinct fault domains, the mirror
 * record kept on both, writers' rights on both, and the copy states of degraded mode and resync. */
#include "mirrors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "codec.h"
#include "log.h"
#include "replies.h"

/* What the manager knows of a mirrored region after asking its units. */
struct mview {
	char name[NPMU_NAME_MAX + 1];
	struct npmu__mirror m;   /* the record in force */
	int unit[NPMU_MIRROR_COPIES]; /* unit index of copy i (-1: a unit this manager lacks) */
	bool up[NPMU_MIRROR_COPIES];  /* copy i's unit answered with the region */
	bool missing[NPMU_MIRROR_COPIES]; /* copy i's unit answered without it (a replaced unit) */
	bool repaired;           /* a copy's record was older or bad, and the newer was written back */
};

/* seen_of -- the newest generation seen of region name (a new slot when none; NULL when out of
 * memory). */
static struct npmu__gen_seen *seen_of(struct npmu__units *us, const char *name)
{
	for (uint32_t i = 0; i < us->nseen; i++)
		if (strcmp(us->seen[i].name, name) == 0)
			return &us->seen[i];
	int rc;
	void *p = npmu__grow(us->seen, &us->capseen, us->nseen, sizeof(*us->seen), 64, 0, &rc);
	if (!p)
		return NULL;
	us->seen = p;
	struct npmu__gen_seen *g = &us->seen[us->nseen++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	return g;
}

/* saw -- note record m of region name, in force from now on (its generation is the newest). */
static void saw(struct npmu__units *us, const char *name, const struct npmu__mirror *m)
{
	struct npmu__gen_seen *g = seen_of(us, name);
	if (!g || m->generation < g->generation)
		return;
	g->generation = m->generation;
	g->size = m->size;
	g->ncopies = m->ncopies < NPMU_MIRROR_COPIES ? m->ncopies : NPMU_MIRROR_COPIES;
	for (uint32_t c = 0; c < g->ncopies; c++) {
		g->state[c] = m->copy[c].state;
		g->resync_done[c] = m->copy[c].resync_done;
	}
}

/* forget -- a deleted region's generation. */
static void forget(struct npmu__units *us, const char *name)
{
	for (uint32_t i = 0; i < us->nseen; i++)
		if (strcmp(us->seen[i].name, name) == 0) {
			us->seen[i] = us->seen[--us->nseen];
			return;
		}
}

/* rec_call -- MIRROR_REC to unit i: get (rec NULL), or set rec (checking key unless 0). */
static int rec_call(struct npmu__units *us, int i, const char *name, const uint8_t *rec,
		    size_t rec_len, uint64_t key, uint8_t *out, size_t *out_len)
{
	struct npmu__request req = {.op = rec ? NPMU__REC_SET : NPMU__REC_GET, .key = key, .rec_len = (uint16_t)rec_len};
	snprintf(req.name, sizeof(req.name), "%s", name);
	if (rec)
		memcpy(req.rec, rec, rec_len);
	const uint8_t *body;
	size_t blen;
	int rc = npmu__units_call(us, (uint32_t)i, NPMU_MSG_MIRROR_REC, &req, &body, &blen);
	if (rc != 0)
		return rc;
	uint8_t rec_buf[NPMU_MIRROR_REC_MAX];
	size_t n;
	if (npmu__reply_mirror_rec(body, blen, rec_buf, &n) != 0)
		return NPMU_E_PROTO;
	if (out) {
		memcpy(out, rec_buf, n);
		*out_len = n;
	}
	return 0;
}

static int store(struct npmu__units *us, struct mview *v, struct npmu__mirror *next,
		 const uint64_t keys[NPMU_MIRROR_COPIES], uint32_t *stored_mask);
static int drop_copy(struct npmu__units *us, int i, const char *name);

/* deleted_there -- copy c's unit answers without the region: is it the very pool the copy was
 * made in (the region was deleted there), rather than a new one (the unit was replaced)? */
static bool deleted_there(struct npmu__units *us, const struct mview *v, uint32_t c)
{
	static const uint8_t unknown[8];
	int u = v->unit[c];
	if (u < 0 || memcmp(v->m.copy[c].unit_id, unknown, 8) == 0 || npmu__units_greet(us, (uint32_t)u) != 0)
		return false;
	return memcmp(v->m.copy[c].unit_id, us->u[u].unit_id, 8) == 0;
}

/* drop_orphans -- the region was deleted on copy c's unit while the others were away: delete
 * the others too, as the delete asked. */
static void drop_orphans(struct npmu__units *us, const struct mview *v, uint32_t c)
{
	for (uint32_t k = 0; k < v->m.ncopies; k++) {
		if (k == c || v->unit[k] < 0 || !v->up[k])
			continue;
		int rc = drop_copy(us, v->unit[k], v->name);
		LOG_WARN("region %s: deleted while its copy on %s was away: that copy deleted too%s%s",
			 v->name, v->m.copy[k].unit, rc ? ": " : "", rc ? npmu_strerror(rc) : "");
	}
	forget(us, v->name);
}

/* The mirror records of one region as its units answered. */
struct gathered {
	int n;                                        /* units asked */
	int at[NPMU_PMMD_UNITS_MAX];                  /* which */
	uint8_t buf[NPMU_PMMD_UNITS_MAX][NPMU_MIRROR_REC_MAX];
	const uint8_t *recs[NPMU_PMMD_UNITS_MAX];     /* their records (length 0: none read) */
	size_t lens[NPMU_PMMD_UNITS_MAX];
	int rcs[NPMU_PMMD_UNITS_MAX];                 /* how each answered */
	struct npmu__mirror m;                        /* the record in force */
	struct npmu__mirror_pick pick;
};

/* ask -- read the record of name from unit u into slot g->n. */
static void ask(struct npmu__units *us, const char *name, int u, struct gathered *g)
{
	int k = g->n++;
	g->at[k] = u;
	g->recs[k] = g->buf[k];
	g->lens[k] = 0;
	if ((g->rcs[k] = rec_call(us, u, name, NULL, 0, 0, g->buf[k], &g->lens[k])) != 0)
		g->lens[k] = 0;
}

/* gather -- the records of every unit holding name (and of a unit the record names that the
 * directory missed: it was down at the last refresh), and the one in force among them. */
static int gather(struct npmu__units *us, const char *name, struct gathered *g)
{
	int at[NPMU_PMMD_UNITS_MAX];
	int n = npmu__units_find_all(us, name, at, NPMU_PMMD_UNITS_MAX);
	if (n == 0)
		return NPMU_E_NOENT;
	g->n = 0;
	for (int k = 0; k < n; k++)
		ask(us, name, at[k], g);
	int rc = npmu__mirror_choose(g->recs, g->lens, g->n, &g->m, &g->pick);
	if (rc == 0 && g->n < NPMU_MIRROR_COPIES) {
		for (uint32_t c = 0; c < g->m.ncopies; c++) {
			int u = npmu__units_index(us, g->m.copy[c].unit);
			bool have = false;
			for (int k = 0; k < g->n; k++)
				have |= g->at[k] == u;
			if (u < 0 || have || g->n >= NPMU_PMMD_UNITS_MAX)
				continue;
			ask(us, name, u, g);
			if (g->rcs[g->n - 1] == 0)
				npmu__units_dir_add(us, name, (uint32_t)u);
		}
		rc = npmu__mirror_choose(g->recs, g->lens, g->n, &g->m, &g->pick);
	}
	if (rc != 0) {
		LOG_ERR("region %s: %s", name,
			g->pick.conflict ? "the copies' mirror records differ at the same generation"
					 : "no copy has a valid mirror record");
		return NPMU_E_CORRUPT;
	}
	return 0;
}

/* copies_of -- where each copy of v->m is, whether its unit answered, and whether it answered
 * without the region. */
static void copies_of(struct npmu__units *us, const struct gathered *g, struct mview *v)
{
	for (uint32_t c = 0; c < v->m.ncopies; c++) {
		v->unit[c] = npmu__units_index(us, v->m.copy[c].unit);
		bool asked = false;
		for (int k = 0; k < g->n; k++) {
			if (g->at[k] != v->unit[c])
				continue;
			asked = true;
			v->up[c] |= g->lens[k] > 0;
			v->missing[c] |= g->rcs[k] == NPMU_E_NOENT;
		}
		if (!asked && v->unit[c] >= 0) { /* not in the directory: a unit that lost it? */
			uint8_t rec[NPMU_MIRROR_REC_MAX];
			size_t len = 0;
			int rc = rec_call(us, v->unit[c], v->name, NULL, 0, 0, rec, &len);
			v->missing[c] = rc == NPMU_E_NOENT;
		}
	}
}

/* write_back -- where a unit answered with an older or a bad record, write the one in force
 * there (reported, never silent); sets v->repaired. */
static void write_back(struct npmu__units *us, const struct gathered *g, struct mview *v)
{
	int w = g->pick.winner;
	for (int k = 0; k < g->n; k++) {
		if (k == w || g->lens[k] == 0 ||
		    (g->lens[k] == g->lens[w] && memcmp(g->recs[k], g->recs[w], g->lens[k]) == 0))
			continue; /* the one in force, one that did not answer, or the same */
		struct npmu__mirror old;
		int drc = npmu__mirror_decode(g->recs[k], g->lens[k], &old);
		LOG_WARN("region %s: the mirror record on %s is %s (generation %llu is in force): "
			 "writing the newer back", v->name, us->u[g->at[k]].addr,
			 drc != 0 ? "not valid" : "older", (unsigned long long)g->m.generation);
		if (rec_call(us, g->at[k], v->name, g->recs[w], g->lens[w], 0, NULL, NULL) == 0)
			v->repaired = true;
	}
}

/* settle_missing -- a copy whose unit answers without the region: deleted there while the
 * others were away (then delete them too: NPMU_E_NOENT), or its unit was replaced (record it
 * stale). */
static int settle_missing(struct npmu__units *us, struct mview *v)
{
	for (uint32_t c = 0; c < v->m.ncopies; c++)
		if (v->missing[c] && deleted_there(us, v, c)) {
			drop_orphans(us, v, c);
			return NPMU_E_NOENT;
		}
	struct npmu__mirror lost = v->m;
	bool any_lost = false;
	for (uint32_t c = 0; c < lost.ncopies; c++)
		if (v->missing[c] && lost.copy[c].state != NPMU__COPY_STALE) {
			LOG_WARN("region %s: unit %s answers without its copy (replaced?): recorded "
				 "stale", v->name, lost.copy[c].unit);
			lost.copy[c].state = NPMU__COPY_STALE;
			lost.copy[c].resync_done = 0;
			any_lost = true;
		}
	if (any_lost && store(us, v, &lost, NULL, NULL) != 0)
		LOG_WARN("region %s: could not record the lost copy stale", v->name);
	return 0;
}

/*
 * load_and_repair -- the view of a mirrored region: read the record from every unit holding it
 * and take the newest valid one; refuse (NPMU_E_UNREACHABLE) a record older than one seen in
 * force since pmmd started. It also repairs what it finds, each step reported: an older or bad
 * record is written over with the one in force, a copy deleted on its unit while the others
 * were away takes them along (NPMU_E_NOENT), and a copy its unit lost is recorded stale.
 */
static int load_and_repair(struct npmu__units *us, const char *name, struct mview *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	struct gathered g; /* (about 22 KiB) */
	int rc = gather(us, name, &g);
	if (rc != 0)
		return rc;
	struct npmu__gen_seen *seen = seen_of(us, name);
	if (seen && g.m.generation < seen->generation) {
		LOG_WARN("region %s: the units that answer hold mirror record generation %llu, but "
			 "generation %llu was in force: the copy holding it is away, and the others may "
			 "be stale: refusing until it is back", name, (unsigned long long)g.m.generation,
			 (unsigned long long)seen->generation);
		return NPMU_E_UNREACHABLE;
	}
	if (seen)
		saw(us, name, &g.m);
	v->m = g.m;
	copies_of(us, &g, v);
	if (g.pick.disagree)
		write_back(us, &g, v);
	return settle_missing(us, v);
}

/* store -- write a changed record (generation raised here) on every copy that answers, checking
 * the writer's key on copy i where keys[i] is not 0. Succeeds when some copy that next keeps in
 * sync stored it; *stored_mask says where it landed. */
static int store(struct npmu__units *us, struct mview *v, struct npmu__mirror *next,
		 const uint64_t keys[NPMU_MIRROR_COPIES], uint32_t *stored_mask)
{
	if (npmu__mirror_in_sync(next) == 0)
		return NPMU_E_UNREACHABLE; /* M4: no change may leave no copy in sync */
	next->generation = v->m.generation + 1;
	uint8_t rec[NPMU_MIRROR_REC_MAX];
	int len = npmu__mirror_encode(next, rec, sizeof(rec));
	if (len < 0)
		return NPMU_E_INTERNAL;
	uint32_t mask = 0;
	int first_err = 0;
	bool in_sync_stored = false;
	for (uint32_t c = 0; c < next->ncopies; c++) {
		if (v->unit[c] < 0 || !v->up[c])
			continue;
		int rc = rec_call(us, v->unit[c], v->name, rec, (size_t)len, keys ? keys[c] : 0, NULL,
				  NULL);
		if (rc == 0) {
			mask |= 1u << c;
			in_sync_stored |= next->copy[c].state == NPMU__COPY_IN_SYNC;
		} else {
			if (!first_err)
				first_err = rc;
			if (rc == NPMU_E_UNREACHABLE)
				v->up[c] = false;
		}
	}
	if (stored_mask)
		*stored_mask = mask;
	if (!in_sync_stored)
		return first_err ? first_err : NPMU_E_UNREACHABLE;
	v->m = *next;
	saw(us, v->name, next);
	return 0;
}

/* view_reply -- the MIRROR reply of v: record, reachable copies, flags (an ATTACH adds its
 * grant). */
static struct npmu__mirror_reply view_reply(const struct mview *v)
{
	struct npmu__mirror_reply mr = {.m = v->m, .flags = v->repaired ? 1 : 0};
	for (uint32_t c = 0; c < v->m.ncopies; c++)
		mr.reach |= v->up[c] ? 1u << c : 0;
	return mr;
}

/* recheck_down -- ask the units of copies that did not answer now, even one left alone for
 * not answering lately: a copy must not be given up on an old impression. */
static void recheck_down(struct npmu__units *us, struct mview *v)
{
	for (uint32_t c = 0; c < v->m.ncopies; c++) {
		if (v->up[c] || v->unit[c] < 0)
			continue;
		uint8_t rec[NPMU_MIRROR_REC_MAX];
		size_t len = 0;
		us->u[v->unit[c]].retry_ms = 0;
		v->up[c] = rec_call(us, v->unit[c], v->name, NULL, 0, 0, rec, &len) == 0 && len > 0;
	}
}

/* mark_unreachable_stale -- copies in sync that did not answer are recorded stale on the others
 * (a writer may be given rights, or fenced, only where the manager reaches). */
static int mark_unreachable_stale(struct npmu__units *us, struct mview *v)
{
	struct npmu__mirror next = v->m;
	bool change = false;
	for (uint32_t c = 0; c < next.ncopies; c++)
		if (!v->up[c] && next.copy[c].state != NPMU__COPY_STALE) {
			next.copy[c].state = NPMU__COPY_STALE;
			next.copy[c].resync_done = 0;
			change = true;
		}
	int rc = change ? store(us, v, &next, NULL, NULL) : 0;
	for (uint32_t c = 0; change && c < next.ncopies; c++)
		if (!v->up[c])
			LOG_WARN("region %s: copy on %s unreachable: %s", v->name, next.copy[c].unit,
				 rc == 0 ? "recorded stale" : "could not be recorded stale");
	return rc;
}

/* pick_unit -- the unit with the most room for size that is not `other` and, where both declare
 * one, not in other's fault domain; `where` names one instead. -1: none. */
static int pick_unit(struct npmu__units *us, const char *where, int other, uint64_t size,
		     bool *away)
{
	int best = -1;
	for (uint32_t i = 0; i < us->n; i++) {
		if ((int)i == other || (where[0] && strcmp(us->u[i].addr, where) != 0))
			continue;
		if (other >= 0 && us->u[i].domain[0] &&
		    strcmp(us->u[i].domain, us->u[other].domain) == 0)
			continue;
		us->u[i].retry_ms = 0; /* placement is rare: ask even a unit left alone lately */
		if (npmu__units_greet(us, i) != 0)
			*away = true;
		else if (us->u[i].free >= size && (best < 0 || us->u[i].free > us->u[best].free))
			best = (int)i;
	}
	return best;
}

/* create_copy -- create one copy, carrying the mirror record, on unit i. */
static int create_copy(struct npmu__units *us, int i, const struct npmu__request *creq,
		       const char *owner, const uint8_t *rec, int rec_len,
		       struct npmu_region_info *info)
{
	struct npmu__request req = {.size = creq->size, .copies = 1, .rec_len = (uint16_t)rec_len};
	snprintf(req.name, sizeof(req.name), "%s", creq->name);
	snprintf(req.owner, sizeof(req.owner), "%s", owner);
	memcpy(req.rec, rec, (size_t)rec_len);
	const uint8_t *body;
	size_t blen;
	int rc = npmu__units_call(us, (uint32_t)i, NPMU_MSG_CREATE, &req, &body, &blen);
	if (rc == 0)
		rc = npmu__reply_info(body, blen, info);
	if (rc == 0)
		rc = npmu__units_dir_add(us, creq->name, (uint32_t)i);
	return rc;
}

/* drop_copy -- delete one copy (undoing a half-made mirror, or deleting the region). */
static int drop_copy(struct npmu__units *us, int i, const char *name)
{
	struct npmu__request req = {0};
	snprintf(req.name, sizeof(req.name), "%s", name);
	const uint8_t *body;
	size_t blen;
	int rc = npmu__units_call(us, (uint32_t)i, NPMU_MSG_DELETE, &req, &body, &blen);
	if (rc == 0 || rc == NPMU_E_NOENT)
		npmu__units_dir_drop(us, name, (uint32_t)i);
	return rc;
}

/* npmu__mirror_create -- place a mirrored region on two units of distinct fault domains. */
int npmu__mirror_create(struct npmu__units *us, const struct npmu__request *req, const char *owner,
			struct npmu_region_info *info)
{
	int ua = req->unit[0] ? npmu__units_index(us, req->unit) : -1;
	int ub = req->unit2[0] ? npmu__units_index(us, req->unit2) : -1;
	if (ua >= 0 && ub >= 0 &&
	    (ua == ub || (us->u[ua].domain[0] && !strcmp(us->u[ua].domain, us->u[ub].domain)))) {
		LOG_INFO("region %s: not mirrored on %s and %s: one unit, or one fault domain",
			 req->name, req->unit, req->unit2);
		return NPMU_E_INVAL; /* the copies must not share a unit, nor a fault domain */
	}
	bool away = false;
	int a = pick_unit(us, req->unit, -1, req->size, &away);
	int b = a < 0 ? -1 : pick_unit(us, req->unit2, a, req->size, &away);
	if (a < 0 || b < 0) {
		const char *where = a < 0 ? req->unit : req->unit2;
		if (where[0] && npmu__units_index(us, where) < 0)
			return NPMU_E_NOUNIT;
		if (away)
			return NPMU_E_UNREACHABLE; /* a unit that could have taken it does not answer */
		LOG_INFO("region %s: no %s unit with %llu bytes free%s", req->name,
			 a < 0 ? "first" : "second", (unsigned long long)req->size,
			 a < 0 ? "" : " in another fault domain");
		return a < 0 || where[0] || us->n > 1 ? NPMU_E_NOSPC : NPMU_E_NOUNIT;
	}
	struct npmu__mirror m = {.generation = 1, .size = req->size, .ncopies = NPMU_MIRROR_COPIES};
	snprintf(m.copy[0].unit, sizeof(m.copy[0].unit), "%s", us->u[a].addr);
	snprintf(m.copy[1].unit, sizeof(m.copy[1].unit), "%s", us->u[b].addr);
	memcpy(m.copy[0].unit_id, us->u[a].unit_id, sizeof(m.copy[0].unit_id));
	memcpy(m.copy[1].unit_id, us->u[b].unit_id, sizeof(m.copy[1].unit_id));
	uint8_t rec[NPMU_MIRROR_REC_MAX];
	int len = npmu__mirror_encode(&m, rec, sizeof(rec));
	if (len < 0)
		return NPMU_E_INTERNAL;
	int rc = create_copy(us, a, req, owner, rec, len, info);
	if (rc != 0)
		return rc;
	struct npmu_region_info second;
	if ((rc = create_copy(us, b, req, owner, rec, len, &second)) != 0) {
		LOG_WARN("region %s: mirror on %s not created (%s): removing the primary copy",
			 req->name, us->u[b].addr, npmu_strerror(rc));
		drop_copy(us, a, req->name);
		return rc;
	}
	saw(us, req->name, &m);
	LOG_INFO("region %s: mirrored on %s and %s", req->name, us->u[a].addr, us->u[b].addr);
	return 0;
}

/* fence_copy -- FENCE on unit i (raise: a stream's epoch); *epoch gets what the unit says. */
static int fence_copy(struct npmu__units *us, int i, const char *name, bool raise,
		      uint64_t *epoch)
{
	struct npmu__request req = {.op = raise ? NPMU__FENCE_STREAM : NPMU__FENCE_WRITERS,
				    .epoch = *epoch};
	snprintf(req.name, sizeof(req.name), "%s", name);
	const uint8_t *body;
	size_t blen;
	int rc = npmu__units_call(us, (uint32_t)i, NPMU_MSG_FENCE, &req, &body, &blen);
	if (rc != 0)
		return rc;
	return npmu__reply_u64(body, blen, epoch);
}

/* fence_all -- close earlier writers on every copy that answers, then record the others stale. */
static int fence_all(struct npmu__units *us, struct mview *v, bool raise, uint64_t *epoch)
{
	*epoch = 0;
	int rc = 0;
	recheck_down(us, v);
	bool in_sync_up = false; /* (M4) else nothing may be changed, an epoch least of all */
	for (uint32_t c = 0; c < v->m.ncopies; c++)
		in_sync_up |= v->up[c] && v->m.copy[c].state == NPMU__COPY_IN_SYNC;
	if (!in_sync_up) {
		LOG_WARN("region %s: no copy in sync can be reached: writers not fenced", v->name);
		return NPMU_E_UNREACHABLE;
	}
	/* every copy that answers to one epoch: the highest any of them reaches (a copy that
	 * had been fenced alone before is ahead), so the copies never disagree on it */
	uint64_t got[NPMU_MIRROR_COPIES] = {0};
	for (int pass = 0; pass < 2 && rc == 0; pass++)
		for (uint32_t c = 0; c < v->m.ncopies; c++) {
			if (!v->up[c] || (pass == 1 && (!raise || got[c] == *epoch)))
				continue;
			uint64_t e = *epoch;
			int frc = fence_copy(us, v->unit[c], v->name, raise, &e);
			if (frc == NPMU_E_UNREACHABLE)
				v->up[c] = false;
			else if (frc != 0 && !rc)
				rc = frc;
			got[c] = e;
			if (e > *epoch)
				*epoch = e;
		}
	if (rc != 0)
		return rc;
	return mark_unreachable_stale(us, v);
}

/* npmu__mirror_fence -- fence a mirrored region's writers on every copy. */
int npmu__mirror_fence(struct npmu__units *us, const char *name, bool raise, uint64_t *epoch)
{
	struct mview v;
	int rc = load_and_repair(us, name, &v);
	return rc != 0 ? rc : fence_all(us, &v, raise, epoch);
}

/* grant_copy -- OPEN on copy c's unit for holder; fills the copy's region id and access info. */
static int grant_copy(struct npmu__units *us, struct mview *v, uint32_t c, uint32_t access,
		      uint64_t holder, struct npmu_region_info *info, struct npmu__access_info *ai)
{
	int rc = npmu__units_grant(us, (uint32_t)v->unit[c], v->name, access, holder, info, ai);
	if (rc == 0)
		snprintf(ai->unit, sizeof(ai->unit), "%s", v->m.copy[c].unit);
	return rc;
}

/*
 * replace_copy -- copy c's unit answers but has no such region (the unit was replaced, its pool
 * new): record the copy stale on the others, then create it there again, empty, carrying that
 * record, so that the writer can attach and resync it.
 */
static int replace_copy(struct npmu__units *us, struct mview *v, uint32_t c)
{
	int src = -1;
	for (uint32_t k = 0; k < v->m.ncopies; k++)
		if (k != c && v->up[k] && v->m.copy[k].state == NPMU__COPY_IN_SYNC)
			src = (int)k;
	if (src < 0 || v->unit[c] < 0)
		return NPMU_E_UNREACHABLE;
	struct npmu__request req = {0};
	snprintf(req.name, sizeof(req.name), "%s", v->name);
	const uint8_t *body;
	size_t blen;
	struct npmu_region_info info;
	int rc = npmu__units_call(us, (uint32_t)v->unit[src], NPMU_MSG_STAT, &req, &body, &blen);
	if (rc == 0)
		rc = npmu__reply_info(body, blen, &info);
	if (rc != 0)
		return rc;
	struct npmu__mirror next = v->m;
	next.copy[c].state = NPMU__COPY_STALE;
	next.copy[c].resync_done = 0;
	memcpy(next.copy[c].unit_id, us->u[v->unit[c]].unit_id, sizeof(next.copy[c].unit_id));
	if ((rc = store(us, v, &next, NULL, NULL)) != 0) /* (its new unit id too) */
		return rc;
	uint8_t rec[NPMU_MIRROR_REC_MAX];
	int len = npmu__mirror_encode(&v->m, rec, sizeof(rec));
	struct npmu__request creq = {.size = v->m.size, .copies = 1};
	snprintf(creq.name, sizeof(creq.name), "%s", v->name);
	struct npmu_region_info made;
	if (len < 0)
		return NPMU_E_INTERNAL;
	if ((rc = create_copy(us, v->unit[c], &creq, info.owner, rec, len, &made)) != 0)
		return rc;
	LOG_WARN("region %s: unit %s had lost its copy (replaced?): created again, stale, for a "
		 "resync", v->name, v->m.copy[c].unit);
	v->up[c] = true;
	v->missing[c] = false;
	return 0;
}

/* key_live -- whether key is a live read-write right to the region on copy c. */
static bool key_live(struct npmu__units *us, struct mview *v, uint32_t c, uint64_t key)
{
	return key && v->up[c] && npmu__units_key_live(us, (uint32_t)v->unit[c], v->name, key);
}

/* open_mirror -- rights on every copy that answers (read: those in sync; read-write: all, after
 * closing earlier writers). Reply: see NPMU_MSG_OPEN in wire.h. */
static int open_mirror(struct npmu__units *us, struct mview *v, uint32_t access, uint64_t holder,
		       struct npmu__cursor *reply)
{
	bool rw = access == NPMU_ACCESS_READ_WRITE;
	if (rw) {
		uint64_t epoch;
		int rc = fence_all(us, v, false, &epoch);
		if (rc != 0)
			return rc;
	}
	struct npmu_region_info info[NPMU_MIRROR_COPIES] = {{{0}}};
	struct npmu__access_info ai[NPMU_MIRROR_COPIES] = {{0}};
	bool granted[NPMU_MIRROR_COPIES] = {false};
	int first = -1, in_sync = 0, rc = 0;
	for (uint32_t c = 0; c < v->m.ncopies; c++) {
		bool usable = v->m.copy[c].state == NPMU__COPY_IN_SYNC;
		if (!v->up[c] || (!rw && !usable))
			continue;
		int grc = grant_copy(us, v, c, access, holder, &info[c], &ai[c]);
		if (grc != 0) {
			rc = rc ? rc : grc;
			continue;
		}
		granted[c] = true;
		in_sync += usable;
		if (first < 0 || (usable && v->m.copy[first].state != NPMU__COPY_IN_SYNC))
			first = (int)c;
	}
	if (rw && in_sync > 0) {
		/* a copy the writer gets no right on would miss its writes: recorded stale now (M2) */
		struct npmu__mirror next = v->m;
		bool change = false;
		for (uint32_t c = 0; c < next.ncopies; c++)
			if (!granted[c] && next.copy[c].state != NPMU__COPY_STALE) {
				LOG_WARN("region %s: copy on %s could not be opened for the writer: "
					 "recorded stale", v->name, next.copy[c].unit);
				next.copy[c].state = NPMU__COPY_STALE;
				next.copy[c].resync_done = 0;
				change = true;
			}
		if (change && (rc = store(us, v, &next, NULL, NULL)) != 0)
			in_sync = 0; /* not recorded: nothing may be written */
	}
	if (in_sync == 0) {
		for (uint32_t c = 0; c < v->m.ncopies; c++)
			if (granted[c]) { /* of no use: give the right back */
				struct npmu__request req = {.region_id = info[c].id, .key = ai[c].key};
				const uint8_t *body;
				size_t blen;
				npmu__units_call(us, (uint32_t)v->unit[c], NPMU_MSG_CLOSE, &req, &body,
						 &blen);
			}
		LOG_WARN("region %s: no copy in sync can be reached", v->name);
		return rc && rc != NPMU_E_UNREACHABLE ? rc : NPMU_E_UNREACHABLE;
	}
	struct npmu__open_reply o = {.info = info[first], .ai = ai[first], .mirrored = true,
				     .m = v->m};
	o.info.copies = NPMU_MIRROR_COPIES;
	for (uint32_t c = 0; c < v->m.ncopies && c < NPMU_MIRROR_COPIES; c++) {
		o.copy[c].granted = granted[c];
		o.copy[c].region_id = granted[c] ? info[c].id : 0;
		o.copy[c].ai = granted[c] ? ai[c] : (struct npmu__access_info){.access = access};
		snprintf(o.copy[c].ai.unit, sizeof(o.copy[c].ai.unit), "%s", v->m.copy[c].unit);
	}
	npmu__reply_open_put(reply, &o);
	return 0;
}

/* writer_ok -- whether the requester holds a live read-write right on some copy other than
 * `except` that is in sync (the proof a writer gives before changing copy states). */
static bool writer_ok(struct npmu__units *us, struct mview *v, const uint64_t keys[2], int except)
{
	for (uint32_t c = 0; c < v->m.ncopies; c++)
		if ((int)c != except && v->m.copy[c].state == NPMU__COPY_IN_SYNC &&
		    key_live(us, v, c, keys[c]))
			return true;
	return false;
}

/* mirror_op -- a writer's or reader's MIRROR request (enum npmu__mirror_op).
 * long: one case per op, each the record change it makes (mirror_format.h M1-M4). */
static int mirror_op(struct npmu__units *us, struct mview *v, const struct npmu__request *req,
		     struct npmu__cursor *reply)
{
	const uint64_t keys[2] = {req->key, req->key1};
	uint32_t c = req->copy;
	struct npmu__mirror next = v->m;
	int rc = 0;
	switch (req->op) {
	case NPMU__MIRROR_GET: break;
	case NPMU__MIRROR_DEGRADE: {
		if (next.copy[c].state == NPMU__COPY_STALE)
			break; /* already */
		uint64_t proof[2] = {keys[0], keys[1]};
		proof[c] = 0; /* the copy that missed the write is written unchecked, if reached */
		next.copy[c].state = NPMU__COPY_STALE;
		next.copy[c].resync_done = 0;
		if (npmu__mirror_in_sync(&next) == 0) {
			LOG_WARN("region %s: copy on %s missed a write and no other copy is in sync",
				 v->name, next.copy[c].unit);
			return NPMU_E_UNREACHABLE; /* M4: the write cannot count */
		}
		if (!writer_ok(us, v, keys, (int)c))
			return NPMU_E_FENCED; /* not the live writer: its write counts for nothing */
		rc = store(us, v, &next, proof, NULL);
		if (rc == 0)
			LOG_WARN("region %s: copy on %s missed a write: recorded stale (degraded)",
				 v->name, next.copy[c].unit);
		break;
	}
	case NPMU__MIRROR_ATTACH: {
		if (!writer_ok(us, v, keys, (int)c))
			return NPMU_E_FENCED;
		if (v->missing[c] && (rc = replace_copy(us, v, c)) != 0)
			return rc;
		if (!v->up[c])
			return NPMU_E_UNREACHABLE;
		uint64_t epoch = 0;
		if ((rc = fence_copy(us, v->unit[c], v->name, false, &epoch)) != 0)
			return rc;
		struct npmu_region_info info;
		struct npmu__access_info ai;
		if ((rc = grant_copy(us, v, c, NPMU_ACCESS_READ_WRITE, req->holder, &info, &ai)) != 0)
			return rc;
		struct npmu__mirror_reply mr = view_reply(v);
		mr.attach = (struct npmu__copy_grant){.granted = true, .region_id = info.id, .ai = ai};
		npmu__reply_mirror_put(reply, &mr, true);
		return 0;
	}
	case NPMU__MIRROR_RESYNC:
		if (next.copy[c].state == NPMU__COPY_IN_SYNC || req->value > next.size)
			return NPMU_E_INVAL;
		next.copy[c].state = NPMU__COPY_RESYNCING;
		next.copy[c].resync_done = req->value;
		if (!v->up[c])
			return NPMU_E_UNREACHABLE;
		if (!writer_ok(us, v, keys, (int)c))
			return NPMU_E_FENCED;
		rc = store(us, v, &next, keys, NULL);
		break;
	case NPMU__MIRROR_SYNCED: {
		if (next.copy[c].state != NPMU__COPY_RESYNCING)
			return NPMU_E_INVAL;
		next.copy[c].state = NPMU__COPY_IN_SYNC;
		next.copy[c].resync_done = 0;
		if (!writer_ok(us, v, keys, (int)c))
			return NPMU_E_FENCED;
		uint32_t mask = 0;
		rc = store(us, v, &next, keys, &mask);
		if (rc == 0)
			LOG_INFO("region %s: copy on %s resynced: in sync again%s", v->name,
				 next.copy[c].unit, mask & (1u << c) ? "" : " (its own record later)");
		break;
	}
	default: return NPMU_E_PROTO;
	}
	if (rc == 0) {
		struct npmu__mirror_reply mr = view_reply(v);
		npmu__reply_mirror_put(reply, &mr, false);
	}
	return rc;
}

/* every_copy -- DELETE or REVOKE on every copy that answers. A copy whose unit is away when its
 * region is deleted is deleted when that unit is back (deleted_there sees the region gone from
 * the pool the other copy was made in). */
static int every_copy(struct npmu__units *us, struct mview *v, uint16_t type,
		      struct npmu__cursor *reply)
{
	recheck_down(us, v);
	uint32_t reached = 0;
	for (uint32_t c = 0; c < v->m.ncopies; c++)
		reached += v->up[c];
	if (reached == 0)
		return NPMU_E_UNREACHABLE;
	for (uint32_t c = 0; c < v->m.ncopies; c++)
		if (!v->up[c] && type == NPMU_MSG_DELETE) {
			LOG_WARN("region %s: copy on %s unreachable: deleted when its unit is back",
				 v->name, v->m.copy[c].unit);
			if (v->unit[c] >= 0) /* the name is free meanwhile */
				npmu__units_dir_drop(us, v->name, (uint32_t)v->unit[c]);
		}
	uint32_t revoked = 0;
	int rc = 0;
	for (uint32_t c = 0; c < v->m.ncopies; c++) {
		if (!v->up[c])
			continue;
		int crc;
		if (type == NPMU_MSG_DELETE) {
			crc = drop_copy(us, v->unit[c], v->name);
		} else {
			struct npmu__request req = {0};
			snprintf(req.name, sizeof(req.name), "%s", v->name);
			const uint8_t *body;
			size_t blen;
			crc = npmu__units_call(us, (uint32_t)v->unit[c], NPMU_MSG_REVOKE, &req, &body,
					       &blen);
			uint32_t n;
			if (crc == 0 && npmu__reply_u32(body, blen, &n) == 0)
				revoked += n;
		}
		if (crc != 0 && !rc)
			rc = crc;
	}
	if (type == NPMU_MSG_REVOKE && rc == 0)
		npmu__reply_u32_put(reply, revoked);
	if (type == NPMU_MSG_DELETE && rc == 0)
		forget(us, v->name);
	return rc;
}

/* resize_mirror -- grow both copies, then record the new size (both must answer). */
static int resize_mirror(struct npmu__units *us, struct mview *v, uint64_t size,
			 struct npmu__cursor *reply)
{
	for (uint32_t c = 0; c < v->m.ncopies; c++)
		if (!v->up[c])
			return NPMU_E_UNREACHABLE;
	struct npmu_region_info info = {0};
	for (uint32_t c = 0; c < v->m.ncopies; c++) {
		struct npmu__request req = {.size = size};
		snprintf(req.name, sizeof(req.name), "%s", v->name);
		const uint8_t *body;
		size_t blen;
		int rc = npmu__units_call(us, (uint32_t)v->unit[c], NPMU_MSG_RESIZE, &req, &body, &blen);
		if (rc == 0)
			rc = npmu__reply_info(body, blen, c == 0 ? &info : &(struct npmu_region_info){0});
		if (rc != 0)
			return rc;
	}
	struct npmu__mirror next = v->m;
	next.size = info.size;
	int rc = store(us, v, &next, NULL, NULL);
	if (rc == 0)
		npmu__reply_info_put(reply, &info);
	return rc;
}

/* npmu__mirror_handle -- OPEN, DELETE, RESIZE, REVOKE and MIRROR on a mirrored region. */
int npmu__mirror_handle(void *vus, uint16_t type, const struct npmu__request *req,
			struct npmu__cursor *reply)
{
	struct npmu__units *us = vus;
	struct mview v;
	int rc = load_and_repair(us, req->name, &v);
	if (rc != 0)
		return rc;
	switch (type) {
	case NPMU_MSG_OPEN: return open_mirror(us, &v, req->access, req->holder, reply);
	case NPMU_MSG_DELETE:
	case NPMU_MSG_REVOKE: return every_copy(us, &v, type, reply);
	case NPMU_MSG_RESIZE: return resize_mirror(us, &v, req->size, reply);
	case NPMU_MSG_MIRROR: return mirror_op(us, &v, req, reply);
	default: return NPMU_E_PROTO;
	}
}

/* npmu__mirrors_unit_back -- unit i answers again: tidy each of its mirrored regions. */
void npmu__mirrors_unit_back(struct npmu__units *us, uint32_t i)
{
	struct npmu_region_info *list = NULL;
	uint32_t n = 0;
	if (npmu__units_list(us, i, &list, &n) != 0) {
		free(list);
		return;
	}
	for (uint32_t k = 0; k < n; k++) {
		struct mview v;
		if (list[k].copies > 1)
			(void)load_and_repair(us, list[k].name, &v); /* drops a copy deleted elsewhere meanwhile */
	}
	free(list);
}
