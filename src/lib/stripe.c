/* stripe.c -- striped checkpoint sets: put (segment, encode with ISA-L, write, commit), get
 * (restore from any k of each group), rebuild and stat. Format: src/proto/stripe_format.h. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "csum.h"
#include "prefault.h"
#include "lease.h"
#include "log.h"
#include "stage_format.h"
#include "stripe_format.h"
#include "stripe_ops.h"

#define KEEP_DEFAULT 2
#define SET_LEASE_MS 2000     /* a writer's lease on a set (renewed while it writes) */
#define SET_WAIT_MS 60000     /* how long a writer waits for another to finish: $NPMU_SET_WAIT_MS */

/*
 * Writers: one at a time per set. A put or a rebuild takes the set's lease at the manager
 * (src/lib/lease.h; a lease named after the set, covering its n members), which fences every
 * earlier writer's keys on every member before it is granted, and opens the members read-write
 * showing it. So two puts never write the same version's slot at once, a manifest is never
 * committed over data another writer is changing, and a writer that stalled past its lease
 * (stopped, cut off) and was taken over finds its keys dead (NPMU_E_FENCED) and changes
 * nothing. A second writer waits for the first (up to SET_WAIT_MS), then fails clearly.
 */

/* One member region as a set handle holds it. */
struct member {
	struct npmu_region *r;     /* NULL: lost (unreachable or missing) */
	struct npmu__stripe_member h;
	enum npmu_member_state state;
	char region[NPMU_NAME_MAX + 1];
};

struct set {
	struct npmu_conn *conn;
	char name[NPMU_NAME_MAX + 1];
	uint32_t n;
	struct npmu__stripe_member shape; /* from the first good header */
	struct member mem[NPMU_STRIPE_UNITS_MAX];
	/* every valid manifest found, by member and slot */
	struct npmu__stripe_manifest mf[NPMU_STRIPE_UNITS_MAX][NPMU_STRIPE_KEEP_MAX];
	bool have[NPMU_STRIPE_UNITS_MAX][NPMU_STRIPE_KEEP_MAX];
	uint64_t blank; /* members whose header page reads as zeros: made, never written */
};

/* member_target -- a transfer target moving the iovcnt pieces at iov to or from member mb. */
static struct npmu__xfer_target member_target(const struct member *mb, const struct npmu_iov *iov,
					      int iovcnt)
{
	return (struct npmu__xfer_target){.data = mb->r->data, .ai = &mb->r->ai,
					  .region_id = mb->r->info.id, .iov = iov,
					  .iovcnt = iovcnt};
}

/* member_name -- "NAME.sI". */
static void member_name(const char *name, uint32_t i, char out[NPMU_NAME_MAX + 1])
{
	char tmp[NPMU_NAME_MAX + 16]; /* set names are at most NPMU_NAME_MAX - 4: it fits */
	snprintf(tmp, sizeof(tmp), "%s.s%u", name, i);
	memcpy(out, tmp, NPMU_NAME_MAX);
	out[NPMU_NAME_MAX] = '\0';
}

/* set_close -- close every member and free the manifests. */
static void set_close(struct set *s)
{
	for (uint32_t i = 0; i < NPMU_STRIPE_UNITS_MAX; i++) {
		if (s->mem[i].r)
			npmu_region_close(&s->mem[i].r);
		for (uint32_t k = 0; k < NPMU_STRIPE_KEEP_MAX; k++)
			if (s->have[i][k])
				npmu__stripe_manifest_free(&s->mf[i][k]);
	}
	free(s);
}

/* check_header -- member i's header as read (raw): its state, and its shape into h. */
static int check_header(struct set *s, uint32_t i, const uint8_t raw[64])
{
	struct member *mb = &s->mem[i];
	static const uint8_t zeros[64];
	if (memcmp(raw, zeros, sizeof(zeros)) == 0) { /* a creation that stopped before it */
		s->blank |= 1ull << i;
		mb->state = NPMU_MEMBER_CORRUPT;
		return NPMU_E_CORRUPT;
	}
	int drc = npmu__stripe_member_decode(raw, &mb->h);
	if (drc != 0 || mb->h.index != i ||
	    npmu_region_size(mb->r) < npmu__stripe_member_size(&mb->h)) {
		LOG_WARN("stripe %s: member %s has %s", s->name, mb->region,
			 drc == NPMU_E_VERSION ? "a header of a newer format" : "no valid header");
		mb->state = NPMU_MEMBER_CORRUPT;
		return drc == NPMU_E_VERSION ? drc : NPMU_E_CORRUPT;
	}
	mb->state = NPMU_MEMBER_OK;
	return 0;
}

/* read_manifests -- every valid manifest slot of every open member: each member's slots (they
 * follow each other) in one read, all members at once. */
static void read_manifests(struct set *s)
{
	struct npmu__xfer_target t[NPMU_STRIPE_UNITS_MAX];
	struct npmu_iov iov[NPMU_STRIPE_UNITS_MAX];
	uint32_t who[NPMU_STRIPE_UNITS_MAX];
	uint8_t *bufs[NPMU_STRIPE_UNITS_MAX];
	int nt = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		struct member *mb = &s->mem[i];
		uint64_t bytes = (uint64_t)mb->h.keep * mb->h.marea;
		uint8_t *buf = mb->state == NPMU_MEMBER_OK ? malloc(bytes ? bytes : 1) : NULL;
		if (!buf)
			continue;
		bufs[nt] = buf;
		iov[nt] = (struct npmu_iov){npmu__stripe_manifest_off(&mb->h, 0), buf, bytes};
		t[nt] = member_target(mb, &iov[nt], 1);
		who[nt++] = i;
	}
	if (nt > 0)
		npmu__transfer(t, nt, 0, NULL, 0, 0);
	for (int q = 0; q < nt; q++) {
		uint32_t i = who[q];
		const struct npmu__stripe_member *h = &s->mem[i].h;
		for (uint32_t k = 0; t[q].rc == 0 && k < h->keep; k++) {
			s->have[i][k] = npmu__stripe_manifest_decode(bufs[q] + (size_t)k * h->marea,
								     h->marea, &s->mf[i][k]) == 0;
			s->mf[i][k].slot = k; /* where it lies: a restore reads that slot's data */
			if (s->have[i][k] && s->mf[i][k].layout.n != s->n) {
				npmu__stripe_manifest_free(&s->mf[i][k]);
				s->have[i][k] = false;
			}
		}
		free(bufs[q]);
	}
}

/* refresh_manifests -- read every open member's manifests again (one transfer). */
static void refresh_manifests(struct set *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		for (uint32_t k = 0; k < NPMU_STRIPE_KEEP_MAX; k++)
			if (s->have[i][k]) {
				npmu__stripe_manifest_free(&s->mf[i][k]);
				s->have[i][k] = false;
			}
	read_manifests(s);
}

/* find_members -- which of NAME.s0 .. NAME.s63 exist (bit i: member i), in one MEMBERS request
 * to the manager rather than an OPEN per possible member; a manager from before MEMBERS (its
 * HELLO lacks NPMU_UNIT_MEMBERS) leaves every one to be tried. */
static int find_members(struct npmu_conn *conn, const char *name, uint64_t *present)
{
	return npmu__stripe_members(conn, name, present, NULL);
}

/* npmu__stripe_members -- which members of set NAME exist, and whether its staging region does
 * (stripe_ops.h). */
int npmu__stripe_members(struct npmu_conn *conn, const char *name, uint64_t *present,
			 bool *staging)
{
	struct npmu__request req = {0};
	memcpy(req.name, name, strnlen(name, NPMU_NAME_MAX));
	const uint8_t *body;
	size_t blen;
	uint32_t flags = NPMU__MEMBERS_HAS_STAGING; /* a manager too old to say: look for it */
	pthread_mutex_lock(&conn->rpc.lock);
	int rc = npmu__rpc_ready(&conn->rpc, conn->rpc.timeout_ms);
	bool asked = rc == 0 && (conn->rpc.unit_flags & NPMU_UNIT_MEMBERS);
	bool says = asked && staging && (conn->rpc.unit_flags & NPMU_UNIT_STAGING);
	req.op = says ? NPMU__MEMBERS_STAGING : 0;
	if (asked)
		rc = npmu__conn_call(conn, NPMU_MSG_MEMBERS, &req, &body, &blen);
	if (asked && rc == 0)
		rc = says ? npmu__reply_members(body, blen, present, &flags)
			  : npmu__reply_u64(body, blen, present);
	pthread_mutex_unlock(&conn->rpc.lock);
	if (rc == 0 && !asked) {
		LOG_DEBUG("stripe %s: the manager does not answer MEMBERS: trying every member", name);
		*present = UINT64_MAX;
	}
	if (staging)
		*staging = rc == 0 && (flags & NPMU__MEMBERS_HAS_STAGING);
	return rc;
}

/* open_members -- open the members that exist (a writer shows the set's lease; a member in
 * `opened`, when not NULL, is taken over from there instead), then read all their headers at
 * once: the first good one tells n; a member missing, or that does not open or read, is noted
 * lost; those from n on (not the set's) are closed. 0, or an error that ends the open (a
 * header of a newer format). */
static int open_members(struct set *s, uint64_t present, enum npmu_access access, uint64_t lease,
			struct npmu_region **opened, int *last)
{
	uint8_t raw[NPMU_STRIPE_UNITS_MAX][64];
	struct npmu__xfer_target t[NPMU_STRIPE_UNITS_MAX];
	struct npmu_iov iov[NPMU_STRIPE_UNITS_MAX];
	uint32_t who[NPMU_STRIPE_UNITS_MAX];
	int nt = 0;
	for (uint32_t i = 0; i < NPMU_STRIPE_UNITS_MAX; i++) {
		struct member *mb = &s->mem[i];
		member_name(s->name, i, mb->region);
		mb->state = NPMU_MEMBER_LOST; /* missing (or on a unit that did not answer) */
		int rc = !(present & (1ull << i)) ? NPMU_E_NOENT : 0;
		if (rc == 0 && opened && opened[i]) { /* (its creator's handle, taken over) */
			mb->r = opened[i];
			opened[i] = NULL;
		} else if (rc == 0) {
			rc = npmu__region_open_leased(s->conn, mb->region, access, lease, &mb->r);
		}
		if (rc != 0 && rc != NPMU_E_NOENT)
			*last = rc;
		if (rc != 0)
			continue;
		iov[nt] = (struct npmu_iov){0, raw[i], sizeof(raw[i])};
		t[nt] = member_target(mb, &iov[nt], 1);
		who[nt++] = i;
	}
	if (nt > 0)
		npmu__transfer(t, nt, 0, NULL, 0, 0);
	for (int q = 0; q < nt; q++) {
		uint32_t i = who[q];
		int rc = s->n && i >= s->n ? NPMU_E_NOENT : t[q].rc ? t[q].rc : check_header(s, i, raw[i]);
		if (rc == NPMU_E_VERSION)
			return rc; /* written by a newer npmu: never guess at it */
		if (rc == 0 && s->n == 0) {
			s->n = s->mem[i].h.n;
			s->shape = s->mem[i].h;
		}
		if (rc != 0 && rc != NPMU_E_NOENT)
			*last = rc;
		if (rc != 0 && s->mem[i].state != NPMU_MEMBER_CORRUPT)
			npmu_region_close(&s->mem[i].r); /* unread, or beyond the set */
	}
	return 0;
}

/*
 * set_open_with -- find set NAME's members (one MEMBERS request) and open those that exist, or,
 * when `opened` is not NULL, take the members open there (its creator's: each taken is left
 * NULL): the first whose header reads tells n; a lost one is noted, not fatal. NPMU_E_NOENT
 * when none exists.
 */
static int set_open_with(struct npmu_conn *conn, const char *name, enum npmu_access access,
			 uint64_t lease, struct npmu_region **opened, struct set **out)
{
	if (!conn || !name)
		return NPMU_E_INVAL;
	size_t nl = strnlen(name, NPMU_NAME_MAX + 1);
	if (!npmu__name_valid(name, nl) || nl > NPMU_NAME_MAX - 4)
		return NPMU_E_NAME;
	uint64_t present = 0;
	int rc = 0;
	if (opened) /* (its creator's: the members it made, open) */
		for (uint32_t i = 0; i < NPMU_STRIPE_UNITS_MAX; i++)
			present |= opened[i] ? 1ull << i : 0;
	else
		rc = find_members(conn, name, &present);
	if (rc == 0 && present == 0)
		rc = NPMU_E_NOENT;
	if (rc != 0)
		return rc;
	struct set *s = calloc(1, sizeof(*s));
	if (!s)
		return NPMU_E_NOMEM;
	s->conn = conn;
	memcpy(s->name, name, nl);
	int last = NPMU_E_NOENT;
	if ((rc = open_members(s, present, access, lease, opened, &last)) != 0 || s->n == 0) {
		bool unborn = rc == 0 && s->blank == present; /* every member made, none written */
		if (unborn)
			LOG_INFO("stripe %s: only members of a creation that never finished (no header "
				 "written): no set", name);
		set_close(s);
		return unborn ? NPMU_E_NOENT : rc != 0 ? rc : last;
	}
	for (uint32_t i = 0; i < s->n; i++) /* members must agree on the shape */
		if (s->mem[i].state == NPMU_MEMBER_OK &&
		    (s->mem[i].h.n != s->n || s->mem[i].h.keep != s->shape.keep ||
		     s->mem[i].h.k != s->shape.k || s->mem[i].h.m != s->shape.m ||
		     s->mem[i].h.seg_size != s->shape.seg_size || s->mem[i].h.dslot != s->shape.dslot)) {
			LOG_WARN("stripe %s: member %s disagrees with the set's shape", name,
				 s->mem[i].region);
			npmu_region_close(&s->mem[i].r);
			s->mem[i].state = NPMU_MEMBER_CORRUPT;
		}
	read_manifests(s);
	*out = s;
	return 0;
}

/* set_open -- set_open_with, every member opened here. */
static int set_open(struct npmu_conn *conn, const char *name, enum npmu_access access,
		    uint64_t lease, struct set **out)
{
	return set_open_with(conn, name, access, lease, NULL, out);
}

/* newest -- the valid manifest of the highest version below `below` (0: any); NULL if none. */
static const struct npmu__stripe_manifest *newest(const struct set *s, uint64_t below,
						  uint32_t *holders)
{
	const struct npmu__stripe_manifest *best = NULL;
	for (uint32_t i = 0; i < s->n; i++)
		for (uint32_t k = 0; k < s->shape.keep; k++)
			if (s->have[i][k] && (!below || s->mf[i][k].version < below) &&
			    (!best || s->mf[i][k].version > best->version))
				best = &s->mf[i][k];
	if (holders) {
		*holders = 0;
		for (uint32_t i = 0; best && i < s->n; i++)
			for (uint32_t k = 0; k < s->shape.keep; k++)
				*holders += s->have[i][k] && s->mf[i][k].version == best->version;
	}
	return best;
}

/* exact -- the valid manifest of version v, or NULL. */
static const struct npmu__stripe_manifest *exact(const struct set *s, uint64_t v)
{
	for (uint32_t i = 0; i < s->n; i++)
		for (uint32_t k = 0; k < s->shape.keep; k++)
			if (s->have[i][k] && s->mf[i][k].version == v)
				return &s->mf[i][k];
	return NULL;
}

/* units_short -- a new set NAME of n members of size bytes finds too few units among the
 * manager's count: why, said once. NPMU_E_NOUNIT when the manager has fewer than n units,
 * NPMU_E_UNREACHABLE when fewer than n answer, NPMU_E_NOSPC when fewer have room. */
static int units_short(const char *name, uint32_t n, uint64_t size,
		       const struct npmu_unit_info *list, size_t count)
{
	uint32_t up = 0, room = 0;
	for (size_t i = 0; i < count; i++) {
		up += list[i].up != 0;
		room += list[i].up && list[i].free >= size;
	}
	if (count < n) {
		LOG_WARN("stripe %s: needs %u units, the manager has %zu", name, n, count);
		return NPMU_E_NOUNIT;
	}
	if (up < n) {
		LOG_WARN("stripe %s: needs %u units, only %u answer (of the manager's %zu)", name, n,
			 up, count);
		return NPMU_E_UNREACHABLE;
	}
	LOG_WARN("stripe %s: needs %u units with %llu bytes free, only %u have that room", name, n,
		 (unsigned long long)size, room);
	return NPMU_E_NOSPC;
}

/* pick_units -- n distinct units that answer: each time the one whose fault domain the set uses
 * least so far (a unit without a domain is its own), then the one with the most room. */
static int pick_units(struct npmu_conn *conn, const char *name, uint32_t n, uint64_t size,
		      char units[][NPMU_ADDR_STR_MAX + 1], uint32_t *picked)
{
	struct npmu_unit_info *list;
	size_t count;
	int rc = npmu_unit_list(conn, &list, &count);
	if (rc != 0)
		return rc;
	uint32_t got = 0;
	bool *used = calloc(count + 1, sizeof(*used));
	while (used && got < n) {
		int best = -1;
		uint32_t best_share = UINT32_MAX;
		for (size_t i = 0; i < count; i++) {
			if (used[i] || !list[i].up || list[i].free < size)
				continue;
			uint32_t share = 0; /* units of its domain already in the set */
			for (size_t k = 0; k < count && list[i].domain[0]; k++)
				share += used[k] && strcmp(list[k].domain, list[i].domain) == 0;
			if (best < 0 || share < best_share ||
			    (share == best_share && list[i].free > list[best].free)) {
				best = (int)i;
				best_share = share;
			}
		}
		if (best < 0)
			break;
		used[best] = true;
		snprintf(units[got++], NPMU_ADDR_STR_MAX + 1, "%s", list[best].addr);
	}
	free(used);
	rc = got < n ? units_short(name, n, size, list, count) : 0;
	free(list);
	*picked = got;
	return rc;
}

static uint32_t fewest_written(const struct npmu__stripe_layout *l, uint64_t missing);

/* start_degraded -- a new set of layout l finds only `got` units that answer (units_short said
 * why): it is made with members got..n-1 missing, as a put with their units down would go on
 * (each group keeping k+1 of its k+m, k with m = 1), for a rebuild to place later. */
static bool start_degraded(const char *name, const struct npmu__stripe_layout *l, uint32_t got)
{
	uint64_t missing = 0;
	for (uint32_t i = got; i < l->n; i++)
		missing |= 1ull << i;
	uint32_t need = l->m == 1 ? l->k : l->k + 1;
	if (got == 0 || fewest_written(l, missing) < need)
		return false;
	LOG_WARN("stripe %s: made with %u of its %u members (the others' units do not answer): "
		 "degraded until `npmu stripe rebuild %s`", name, got, l->n, name);
	return true;
}

/* A new member's header written and made durable, on a thread of its own. */
struct member_init {
	struct npmu_region *r;
	uint8_t raw[64];
	pthread_t thread;
	bool started;
	int rc;
};

/* init_one -- the thread: the header written, then flushed. */
static void *init_one(void *arg)
{
	struct member_init *m = arg;
	m->rc = npmu_region_write(m->r, 0, m->raw, sizeof(m->raw));
	if (m->rc == 0)
		m->rc = npmu_region_persist(m->r, 0, sizeof(m->raw), NPMU_PERSISTENT);
	return NULL;
}

/* init_members -- every new member's header written and flushed at once, a thread per member
 * (each unit's flush, often a journal commit of its file system, overlaps the others'). */
static int init_members(struct member_init *m, uint32_t got)
{
	for (uint32_t i = 0; i < got; i++) {
		m[i].started = pthread_create(&m[i].thread, NULL, init_one, &m[i]) == 0;
		if (!m[i].started)
			init_one(&m[i]);
	}
	int rc = 0;
	for (uint32_t i = 0; i < got; i++) {
		if (m[i].started)
			pthread_join(m[i].thread, NULL);
		rc = rc ? rc : m[i].rc;
	}
	return rc;
}

/*
 * set_create -- the member regions of a new set, one per unit, with their headers: each made
 * and opened (requests to the manager, one at a time), every header written and flushed at
 * once, and the set opened on those same handles (a second open and a close per member would
 * each cost the unit a durable change of its region table).
 */
static int set_create(struct npmu_conn *conn, const char *name, const struct npmu__stripe_layout *l,
		      uint32_t keep, uint64_t capacity, uint64_t lease, struct set **out)
{
	struct npmu__stripe_layout cap;
	int rc = npmu__stripe_layout_init(l->k, l->m, l->n, l->seg_size, capacity, &cap);
	if (rc != 0)
		return rc;
	struct npmu__stripe_member h = {.n = l->n, .keep = keep, .k = l->k, .m = l->m,
					.seg_size = l->seg_size,
					.marea = npmu__stripe_marea(l->n, l->k, l->m, cap.ngroups),
					.dslot = (uint64_t)cap.ngroups * l->seg_size};
	char (*units)[NPMU_ADDR_STR_MAX + 1] = calloc(l->n, NPMU_ADDR_STR_MAX + 1);
	struct member_init *m = calloc(l->n, sizeof(*m));
	if (!units || !m) {
		free(units);
		free(m);
		return NPMU_E_NOMEM;
	}
	uint32_t got = 0;
	rc = pick_units(conn, name, l->n, npmu__stripe_member_size(&h), units, &got);
	if (rc == NPMU_E_UNREACHABLE && start_degraded(name, l, got))
		rc = 0;
	uint32_t made = 0; /* members created by this call: the only ones an undo may delete */
	for (uint32_t i = 0; i < got && rc == 0; i++) {
		char rn[NPMU_NAME_MAX + 1];
		member_name(name, i, rn);
		h.index = i;
		npmu__stripe_member_encode(&h, m[i].raw);
		rc = npmu_region_create_ex(conn, rn, npmu__stripe_member_size(&h),
					   &(struct npmu_region_opts){.unit = units[i]}, NULL);
		if (rc == 0)
			made = i + 1;
		if (rc == 0)
			rc = npmu__region_open_leased(conn, rn, NPMU_ACCESS_READ_WRITE, lease, &m[i].r);
	}
	if (rc == 0)
		rc = init_members(m, got);
	struct npmu_region *opened[NPMU_STRIPE_UNITS_MAX] = {0};
	for (uint32_t i = 0; i < got; i++)
		opened[i] = m[i].r;
	if (rc == 0)
		rc = set_open_with(conn, name, NPMU_ACCESS_READ_WRITE, lease, opened, out);
	for (uint32_t i = 0; i < got; i++)
		if (opened[i]) /* (not taken by the set: it failed) */
			npmu_region_close(&opened[i]);
	if (rc != 0) { /* undo: no half-made set stays behind */
		for (uint32_t i = 0; i < made; i++) {
			char rn[NPMU_NAME_MAX + 1];
			member_name(name, i, rn);
			npmu_region_delete(conn, rn);
		}
	}
	free(units);
	free(m);
	return rc;
}

/* set_members -- how many members set NAME has (from member 0's header), 0 when it has none. */
static int set_members(struct npmu_conn *conn, const char *name, uint32_t *n)
{
	struct set *s;
	*n = 0;
	int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
	if (rc == NPMU_E_NOENT)
		return 0;
	if (rc != 0)
		return rc;
	*n = s->n;
	set_close(s);
	return 0;
}

/* take_set -- (a writer) take set NAME's lease, as a set of n members, waiting up to wait_ms for
 * another writer to finish (< 0: $NPMU_SET_WAIT_MS or SET_WAIT_MS; 0: asked once); then lh
 * holds it (renewed) until npmu__lease_release. */
static int take_set(struct npmu_conn *conn, const char *name, uint32_t n, int wait_ms,
		    struct npmu__lease_holder *lh)
{
	const char *env = getenv("NPMU_SET_WAIT_MS");
	int wait = wait_ms >= 0 ? wait_ms : env && atoi(env) >= 0 ? atoi(env) : SET_WAIT_MS;
	npmu__lease_init(lh, name, n, SET_LEASE_MS);
	int rc = npmu__lease_take(lh, conn, wait);
	if (rc == NPMU_E_LEASE && wait > 0)
		LOG_WARN("stripe %s: another process is writing this set (waited %d ms)", name, wait);
	return rc;
}

/* let_go -- give back the lease lh holds (if it was taken) and free it. */
static void let_go(struct npmu__lease_holder *lh, int took)
{
	if (took == 0)
		npmu__lease_release(lh);
	npmu__lease_fini(lh);
}

/* encode_group -- point data[] at group g of the checkpoint (the tail copied and zero-padded into
 * pad), compute parity into par[], and the k+m checksums into cs. */
static void encode_group(const struct npmu__ec *ec, const struct npmu__stripe_layout *l,
			 const uint8_t *src, uint32_t g, uint8_t **data, uint8_t *pad,
			 uint8_t **par, uint64_t *cs)
{
	for (uint32_t j = 0; j < l->k; j++) {
		uint64_t off = ((uint64_t)g * l->k + j) * l->seg_size;
		if (off + l->seg_size <= l->length) {
			data[j] = (uint8_t *)src + off;
		} else {
			data[j] = pad + (size_t)j * l->seg_size;
			memset(data[j], 0, l->seg_size);
			if (off < l->length)
				memcpy(data[j], src + off, l->length - off);
		}
	}
	npmu__ec_encode(ec, l->seg_size, data, par);
	for (uint32_t j = 0; j < l->k + l->m; j++)
		cs[j] = npmu__csum(j < l->k ? data[j] : par[j - l->k], l->seg_size);
}

/* put_defaults -- cfg with every zero field at its default. */
static struct npmu_stripe_cfg put_defaults(const struct npmu_stripe_cfg *cfg);

/* npmu__stripe_defaults -- cfg with every zero field at its default (stripe_ops.h). */
struct npmu_stripe_cfg npmu__stripe_defaults(const struct npmu_stripe_cfg *cfg)
{
	return put_defaults(cfg);
}

static struct npmu_stripe_cfg put_defaults(const struct npmu_stripe_cfg *cfg)
{
	struct npmu_stripe_cfg c = cfg ? *cfg : (struct npmu_stripe_cfg){0};
	if (c.mirror) {
		c.n = c.n ? c.n : 2;
		c.k = 1;
		c.m = c.n - 1;
	}
	c.k = c.k ? c.k : 4;
	c.m = c.m ? c.m : 2;
	c.n = c.n ? c.n : c.k + c.m;
	c.seg_size = c.seg_size ? c.seg_size : 1u << 20;
	c.keep = c.keep ? c.keep : KEEP_DEFAULT;
	c.durability = c.durability ? c.durability : NPMU_PERSISTENT;
	return c;
}

/* delete_unborn -- (the set's lease held, set_open having found no set) delete the members a
 * creation left before writing any header (a writer killed, or a unit that answered too late),
 * so the set can be made again; NPMU_E_NOENT when that is done (or there were none). */
static int delete_unborn(struct npmu_conn *conn, const char *name)
{
	uint64_t present = 0;
	int rc = find_members(conn, name, &present);
	for (uint32_t i = 0; rc == 0 && i < NPMU_STRIPE_UNITS_MAX; i++) {
		char rn[NPMU_NAME_MAX + 1];
		member_name(name, i, rn);
		if (present & (1ull << i))
			rc = npmu_region_delete(conn, rn);
	}
	if (rc == 0 && present)
		LOG_WARN("stripe %s: members left by a creation that never finished deleted; made "
			 "again", name);
	return rc == 0 ? NPMU_E_NOENT : rc;
}

/* put_open -- (the set's lease held) open the set read-write, or make it as c asks; then check
 * that a shape asked for is the set's. */
static int put_open(struct npmu_conn *conn, const char *name, const struct npmu_stripe_cfg *c,
		    const struct npmu_stripe_cfg *cfg, uint64_t len, struct npmu__lease_holder *lh,
		    struct set **sp)
{
	struct npmu__stripe_layout l;
	int rc = set_open(conn, name, NPMU_ACCESS_READ_WRITE, lh->id, sp);
	if (rc == NPMU_E_NOENT)
		rc = delete_unborn(conn, name);
	if (rc == NPMU_E_NOENT &&
	    (rc = npmu__stripe_layout_init(c->k, c->m, c->n, c->seg_size, len, &l)) == 0)
		rc = set_create(conn, name, &l, c->keep, c->capacity > len ? c->capacity : len, lh->id,
				sp);
	struct set *s = *sp;
	if (rc == 0 && s->n != lh->members) /* made anew meanwhile, of another shape */
		rc = NPMU_E_LEASE;
	if (rc != 0)
		return rc;
	if (s->mem[0].r)
		atomic_store(&lh->proof, s->mem[0].r->ai.key); /* for a manager that restarted */
	const struct npmu__stripe_member *h = &s->shape;
	if (cfg && ((cfg->k && cfg->k != h->k) || (cfg->m && cfg->m != h->m) ||
		    (cfg->n && cfg->n != h->n) || (cfg->seg_size && cfg->seg_size != h->seg_size) ||
		    (cfg->keep && cfg->keep != h->keep))) {
		LOG_WARN("stripe %s: is %u+%u over %u units, sub-segments of %llu bytes, %u kept: its "
			 "shape is fixed by its first put", name, h->k, h->m, h->n,
			 (unsigned long long)h->seg_size, h->keep);
		return NPMU_E_INVAL;
	}
	return 0;
}

/* missing_members -- bit i: member i of s is not open (lost with its unit, or corrupt). */
static uint64_t missing_members(const struct set *s)
{
	uint64_t missing = 0;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->mem[i].state != NPMU_MEMBER_OK || !s->mem[i].r)
			missing |= 1ull << i;
	return missing;
}

/* fewest_written -- the fewest sub-segments of any group of layout l that land on members not in
 * missing (the placement repeats every n groups). */
static uint32_t fewest_written(const struct npmu__stripe_layout *l, uint64_t missing)
{
	uint32_t fewest = l->k + l->m;
	for (uint32_t g = 0; g < l->ngroups && g < l->n; g++) {
		uint32_t w = 0;
		for (uint32_t j = 0; j < l->k + l->m; j++)
			w += !(missing & (1ull << npmu__stripe_member_of(l, g, j)));
		fewest = w < fewest ? w : fewest;
	}
	return fewest;
}

/* describe_missing -- "NAME.s2 (host:port, lost), ..." for the members in missing, each with
 * the unit the newest manifest places it on. */
static void describe_missing(const struct set *s, uint64_t missing, char *out, size_t cap)
{
	const struct npmu__stripe_manifest *top = newest(s, 0, NULL);
	size_t at = 0;
	out[0] = '\0';
	for (uint32_t i = 0; i < s->n && at < cap; i++) {
		if (!(missing & (1ull << i)))
			continue;
		int w = snprintf(out + at, cap - at, "%s%s (%s, %s)", at ? ", " : "", s->mem[i].region,
				 top && top->unit[i][0] ? top->unit[i] : "unit unknown",
				 s->mem[i].state == NPMU_MEMBER_CORRUPT ? "corrupt" : "unit down");
		at += w > 0 ? (size_t)w : 0;
	}
}

/* check_degraded -- a put of layout l with members missing goes on over the others while every
 * group keeps k+1 of its k+m sub-segments (k with m = 1: unprotected), said once; below that,
 * NPMU_E_UNREACHABLE naming the members and their units. */
static int check_degraded(const struct set *s, const struct npmu__stripe_layout *l,
			  uint64_t missing)
{
	if (!missing)
		return 0;
	char which[1024];
	describe_missing(s, missing, which, sizeof(which));
	uint32_t fewest = fewest_written(l, missing), need = l->m == 1 ? l->k : l->k + 1;
	if (fewest < need) {
		LOG_WARN("stripe %s: not written: members %s do not answer, so a group would keep "
			 "%u of its %u+%u sub-segments (a put needs %u): bring the units back, or "
			 "rebuild the set", s->name, which, fewest, l->k, l->m, need);
		return NPMU_E_UNREACHABLE;
	}
	LOG_WARN("stripe %s: writing without members %s: every group keeps %u of its %u+%u "
		 "sub-segments (%s); rebuild the set once the units are back", s->name, which, fewest,
		 l->k, l->m, fewest > l->k ? "degraded" : "unprotected");
	return 0;
}

/* drop_silent -- member i failed with rc in the middle of a put: if its unit stopped answering
 * it counts as lost from now on, and the put goes on while check_degraded allows (its pieces
 * written so far fail their checksums against the manifest, so none is ever used); any other
 * error is returned as is. */
static int drop_silent(struct set *s, const struct npmu__stripe_layout *l, uint32_t i, int rc)
{
	if (rc != NPMU_E_UNREACHABLE && rc != NPMU_E_TIMEDOUT && rc != NPMU_E_FABRIC)
		return rc;
	s->mem[i].state = NPMU_MEMBER_LOST;
	uint64_t missing = 0;
	for (uint32_t u = 0; u < s->n; u++)
		if (!s->mem[u].r || s->mem[u].state != NPMU_MEMBER_OK)
			missing |= 1ull << u;
	LOG_WARN("stripe %s: member %s stopped answering in the middle of a put (%s)", s->name,
		 s->mem[i].region, npmu_strerror(rc));
	return check_degraded(s, l, missing);
}

/* drop_failed -- a group's transfer failed (rc): each member whose own transfer failed is
 * dropped (drop_silent); 0 when the put may go on, else the first error that stops it. */
static int drop_failed(struct set *s, const struct npmu__stripe_layout *l,
		       const struct npmu__xfer_target *t, const uint32_t *who, int nt, int rc)
{
	int first = 0;
	bool any = false;
	for (int k = 0; k < nt; k++) {
		if (!t[k].rc)
			continue;
		any = true;
		int d = drop_silent(s, l, who[k], t[k].rc);
		first = first ? first : d;
	}
	return any ? first : rc;
}

/* is_kept -- whether o names version v among those never to overwrite. */
static bool is_kept(const struct npmu__stripe_put_opts *o, uint64_t v)
{
	for (uint32_t i = 0; i < o->nkeep; i++)
		if (o->keep[i] == v)
			return true;
	return false;
}

/* choose_slot -- where a put of the version o names goes (rule in stripe_ops.h): the slot of a
 * manifest of that version, else one without any manifest, else that of the oldest version
 * not kept; NPMU_E_LIMIT when every slot holds a kept version. */
static int choose_slot(const struct set *s, const struct npmu__stripe_put_opts *o, uint32_t *slot)
{
	bool used[NPMU_STRIPE_KEEP_MAX] = {0}, kept[NPMU_STRIPE_KEEP_MAX] = {0};
	uint64_t top[NPMU_STRIPE_KEEP_MAX] = {0}; /* the newest version in each slot */
	uint32_t keep = s->shape.keep;
	uint64_t pending = 0; /* keep_pending: the newest between pending_above and the version */
	for (uint32_t i = 0; o->keep_pending && i < s->n; i++)
		for (uint32_t k = 0; k < keep; k++) {
			uint64_t v = s->mf[i][k].version;
			if (s->have[i][k] && v > o->pending_above && v < o->version && v > pending)
				pending = v;
		}
	for (uint32_t i = 0; i < s->n; i++)
		for (uint32_t k = 0; k < keep; k++) {
			uint64_t v = s->mf[i][k].version;
			if (!s->have[i][k])
				continue;
			if (v == o->version) {
				*slot = k;
				return 0;
			}
			used[k] = true;
			kept[k] |= is_kept(o, v) || (pending && v == pending);
			top[k] = v > top[k] ? v : top[k];
		}
	int best = -1;
	for (uint32_t k = 0; k < keep; k++)
		if ((!used[k] && (best < 0 || used[best])) || /* the first empty slot, else */
		    (used[k] && !kept[k] && (best < 0 || (used[best] && top[k] < top[best]))))
			best = (int)k;
	if (best < 0) {
		LOG_WARN("stripe %s: version %llu not written: each of its %u slots holds a version "
			 "that must be kept", s->name, (unsigned long long)o->version, keep);
		return NPMU_E_LIMIT;
	}
	*slot = (uint32_t)best;
	return 0;
}

/* put_version -- the version a put of len bytes writes (o's, or the newest + 1) and its slot,
 * into mf with its layout l and checksum; mf->csums allocated for put_data. */
static int put_version(const struct set *s, const struct npmu__stripe_put_opts *o,
		       const struct npmu__stripe_layout *l, const void *data, uint64_t len,
		       struct npmu__stripe_manifest *mf)
{
	const struct npmu__stripe_manifest *last = newest(s, 0, NULL);
	mf->layout = *l;
	mf->version = o && o->version ? o->version : last ? last->version + 1 : 1;
	mf->slot = (uint32_t)(mf->version % s->shape.keep);
	int rc = o && o->version ? choose_slot(s, o, &mf->slot) : 0;
	if (rc != 0)
		return rc;
	mf->length_csum = o && o->data_ready ? o->expect_csum : npmu__csum(data, len);
	for (uint32_t i = 0; last && i < s->n; i++) /* where a member not written was */
		memcpy(mf->unit[i], last->unit[i], sizeof(mf->unit[i]));
	mf->csums = malloc((size_t)l->ngroups * (l->k + l->m) * sizeof(uint64_t));
	return mf->csums ? 0 : NPMU_E_NOMEM;
}

/* One member's commit (its manifest written and flushed with its data), on a thread of its
 * own. */
struct member_commit {
	struct npmu__xfer_target t;
	struct npmu_iov iov;
	pthread_t thread;
	bool started;
	int rc;
};

/* commit_one -- the thread: the manifest written and one PERSIST behind it to one member. */
static void *commit_one(void *arg)
{
	struct member_commit *c = arg;
	c->rc = npmu__transfer_persist(&c->t, &c->iov, c->iov.len ? 1 : 0, 0);
	return NULL;
}

/* commit_members -- (persistent puts) every open member's manifest (mbuf, marea bytes at
 * manifest offset moff; none when marea is 0) written, and made durable together with the
 * member's data range [doff, doff + dlen) (none when dlen is 0), on every member at once: each unit flushes its share while the others
 * flush theirs (a thread per member, or the member in turn where no thread starts). A member
 * whose unit stopped answering is dropped (drop_silent). */
static int commit_members(struct set *s, const struct npmu__stripe_layout *l, const uint8_t *mbuf,
			  uint64_t marea, uint64_t moff, uint64_t doff, uint64_t dlen)
{
	struct member_commit c[NPMU_STRIPE_UNITS_MAX] = {0};
	for (uint32_t i = 0; i < s->n; i++) {
		if (!s->mem[i].r || s->mem[i].state != NPMU_MEMBER_OK)
			continue;
		c[i].iov = (struct npmu_iov){moff, mbuf, marea};
		c[i].t = member_target(&s->mem[i], &c[i].iov, 1);
		c[i].t.also_off = doff;
		c[i].t.also_len = dlen;
		c[i].started = pthread_create(&c[i].thread, NULL, commit_one, &c[i]) == 0;
		if (!c[i].started)
			commit_one(&c[i]);
	}
	int rc = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		if (c[i].started)
			pthread_join(c[i].thread, NULL);
		int d = c[i].t.data && c[i].rc ? drop_silent(s, l, i, c[i].rc) : 0;
		rc = rc ? rc : d;
	}
	return rc;
}

/* place_members -- (placed puts) every open member's manifest written, on every member at
 * once; a member whose unit stopped answering is dropped (drop_failed). */
static int place_members(struct set *s, const struct npmu__stripe_layout *l, const uint8_t *mbuf,
			 uint64_t marea, uint64_t moff)
{
	struct npmu__xfer_target t[NPMU_STRIPE_UNITS_MAX];
	uint32_t who[NPMU_STRIPE_UNITS_MAX];
	struct npmu_iov iov = {moff, (void *)mbuf, marea};
	int nt = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		if (!s->mem[i].r || s->mem[i].state != NPMU_MEMBER_OK)
			continue;
		t[nt] = member_target(&s->mem[i], &iov, 1);
		who[nt++] = i;
	}
	int rc = nt ? npmu__transfer(t, nt, 1, NULL, 0, 0) : 0;
	return rc ? drop_failed(s, l, t, who, nt, rc) : 0;
}

#define PUT_BATCH_PARITY (4u << 20) /* parity bytes of the groups encoded before a transfer */
#define PUT_BATCH_MAX 16u              /* groups in one transfer at most */

/* put_batch_of -- the groups one transfer of a put carries: as many as PUT_BATCH_PARITY of
 * parity holds (each transfer waits for all it carries; fewer, larger ones keep every member's
 * window of writes busy), at least one, and few enough that a put reports its progress (once a
 * batch) four times when it has four groups or more. */
static uint32_t put_batch_of(const struct npmu__stripe_layout *l)
{
	uint64_t per = (uint64_t)l->m * l->seg_size;
	uint64_t b = per ? PUT_BATCH_PARITY / per : PUT_BATCH_MAX;
	uint64_t quarter = ((uint64_t)l->ngroups + 3) / 4;
	b = b > PUT_BATCH_MAX ? PUT_BATCH_MAX : b;
	b = b > quarter ? quarter : b;
	return (uint32_t)(b < 1 ? 1 : b);
}

/* put_groups -- groups [g0, g0 + nb) encoded (parity into parbuf, checksums into mf) and
 * written to the members that are open, each member's pieces in one transfer with the others';
 * iov has room for n * nb pieces. */
static int put_groups(struct set *s, const struct npmu__stripe_layout *l, const struct npmu__ec *ec,
		      const void *data, uint32_t g0, uint32_t nb, uint8_t *pad, uint8_t *parbuf,
		      struct npmu_iov *iov, struct npmu__stripe_manifest *mf)
{
	uint64_t doff = npmu__stripe_data_off(&s->shape, mf->slot);
	uint32_t cnt[NPMU_STRIPE_UNITS_MAX] = {0};
	for (uint32_t b = 0; b < nb; b++) {
		uint32_t g = g0 + b;
		uint8_t *dp[NPMU_EC_K_MAX], *pp[NPMU_EC_M_MAX];
		for (uint32_t j = 0; j < l->m; j++)
			pp[j] = parbuf + ((size_t)b * l->m + j) * l->seg_size;
		encode_group(ec, l, data, g, dp, pad, pp, mf->csums + (size_t)g * (l->k + l->m));
		for (uint32_t j = 0; j < l->k + l->m; j++) {
			uint32_t i = npmu__stripe_member_of(l, g, j);
			iov[(size_t)i * nb + cnt[i]++] = (struct npmu_iov){
				doff + (uint64_t)g * l->seg_size, j < l->k ? dp[j] : pp[j - l->k],
				l->seg_size};
		}
	}
	struct npmu__xfer_target t[NPMU_STRIPE_UNITS_MAX];
	uint32_t who[NPMU_STRIPE_UNITS_MAX];
	int nt = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		struct member *mb = &s->mem[i];
		if (!cnt[i] || !mb->r || mb->state != NPMU_MEMBER_OK)
			continue; /* lost: a degraded put (check_degraded) */
		t[nt] = member_target(mb, &iov[(size_t)i * nb], (int)cnt[i]);
		who[nt++] = i;
	}
	int rc = nt ? npmu__transfer(t, nt, 1, NULL, 0, 0) : 0;
	return rc ? drop_failed(s, l, t, who, nt, rc) : 0;
}

/* put_data -- S1: every group's k data and m parity sub-segments written to the members that
 * are open, a batch of groups at a time (made durable with the manifests: put_manifests); their
 * checksums into mf. Stops as soon as the set is taken over. */
static int put_data(struct set *s, const struct npmu__stripe_layout *l, const void *data,
		    uint64_t len, const struct npmu__stripe_put_opts *o,
		    struct npmu__lease_holder *lh, struct npmu__stripe_manifest *mf,
		    npmu_progress_fn progress, void *arg)
{
	struct npmu__ec ec;
	int rc = npmu__ec_init(&ec, (int)l->k, (int)l->m);
	uint32_t batch = put_batch_of(l);
	uint8_t *pad = malloc((size_t)l->k * l->seg_size);
	uint8_t *parbuf = malloc((size_t)batch * l->m * l->seg_size);
	struct npmu_iov *iov = malloc((size_t)s->n * batch * sizeof(*iov));
	if (rc == 0 && (!pad || !parbuf || !iov))
		rc = NPMU_E_NOMEM;
	for (uint32_t g0 = 0; rc == 0 && g0 < l->ngroups; g0 += batch) {
		uint32_t nb = l->ngroups - g0 < batch ? l->ngroups - g0 : batch;
		uint64_t upto = (uint64_t)(g0 + nb) * l->k * l->seg_size;
		if (o && o->data_ready) /* (the bytes arriving while they are put) */
			rc = o->data_ready(upto < len ? upto : len, o->ready_arg);
		if (rc == 0)
			rc = put_groups(s, l, &ec, data, g0, nb, pad, parbuf, iov, mf);
		if (atomic_load(&lh->fenced))
			rc = NPMU_E_FENCED; /* taken over: stop (the members' keys are dead anyway) */
		uint64_t done = (uint64_t)(g0 + nb) * l->k * l->seg_size;
		if (rc == 0 && progress)
			progress(done < len ? done : len, len, arg);
	}
	free(pad);
	free(parbuf);
	free(iov);
	return rc;
}

/* put_manifests -- S1: the version's manifest (naming each member's unit) written on every
 * member that is open; for a persistent put, made durable there in one flush with the
 * member's data sub-segments of the version (slot mf->slot), or, data_first, after the data
 * was made durable on every member. */
static int put_manifests(struct npmu_conn *conn, struct set *s, struct npmu__stripe_manifest *mf,
			 enum npmu_durability dur, bool data_first)
{
	const struct npmu__stripe_member *h = &s->shape;
	for (uint32_t i = 0; i < s->n; i++) {
		if (s->mem[i].r && s->mem[i].r->ai.unit[0])
			snprintf(mf->unit[i], sizeof(mf->unit[i]), "%s", s->mem[i].r->ai.unit);
		else if (s->mem[i].r)
			snprintf(mf->unit[i], sizeof(mf->unit[i]), "%s", conn->rpc.addr);
		else if (!mf->unit[i][0])
			snprintf(mf->unit[i], sizeof(mf->unit[i]), "?");
	}
	uint8_t *mbuf = calloc(1, h->marea);
	if (!mbuf)
		return NPMU_E_NOMEM;
	int64_t mlen = npmu__stripe_manifest_encode(mf, mbuf, h->marea);
	int rc = mlen < 0 ? (int)mlen : 0;
	uint64_t off = npmu__stripe_manifest_off(h, mf->slot);
	uint64_t doff = npmu__stripe_data_off(h, mf->slot);
	uint64_t dlen = (uint64_t)mf->layout.ngroups * mf->layout.seg_size;
	if (rc == 0 && dur == NPMU_PERSISTENT && data_first) {
		rc = commit_members(s, &mf->layout, NULL, 0, 0, doff, dlen);
		if (rc == 0)
			rc = commit_members(s, &mf->layout, mbuf, h->marea, off, 0, 0);
	} else if (rc == 0 && dur == NPMU_PERSISTENT) {
		rc = commit_members(s, &mf->layout, mbuf, h->marea, off, doff, dlen);
	} else if (rc == 0) {
		rc = place_members(s, &mf->layout, mbuf, h->marea, off);
	}
	free(mbuf);
	return rc;
}

/* put_layout -- the layout of a put of len bytes into open set s: within the capacity it was
 * made with, and with enough members open (check_degraded). */
static int put_layout(const struct set *s, uint64_t len, struct npmu__stripe_layout *l)
{
	const struct npmu__stripe_member *h = &s->shape;
	int rc = npmu__stripe_layout_init(h->k, h->m, h->n, h->seg_size, len, l);
	if (rc == 0 && (uint64_t)l->ngroups * h->seg_size > h->dslot) {
		LOG_WARN("stripe %s: %llu bytes is beyond the capacity the set was made with (%llu)",
			 s->name, (unsigned long long)len,
			 (unsigned long long)(h->dslot / h->seg_size * h->k * h->seg_size));
		rc = NPMU_E_TOOBIG;
	}
	return rc == 0 ? check_degraded(s, l, missing_members(s)) : rc;
}

/* put_said -- a put's outcome (rc) logged once: taken over (NPMU_E_FENCED), or committed. */
static int put_said(const struct set *s, const struct npmu__stripe_manifest *mf, uint64_t len,
		    enum npmu_durability dur, const struct npmu__lease_holder *lh, int rc)
{
	const char *name = s ? s->name : lh->name;
	if (rc == NPMU_E_KEY || (rc != 0 && atomic_load(&lh->fenced))) {
		if (mf->version)
			LOG_WARN("stripe %s: another writer took the set over: version %llu not "
				 "committed", name, (unsigned long long)mf->version);
		else
			LOG_WARN("stripe %s: another writer took the set over", name);
		return NPMU_E_FENCED;
	}
	if (rc == 0)
		LOG_INFO("stripe %s: version %llu committed (%s) in slot %u, %llu bytes in %u "
			 "group(s) of %u+%u on %u units", name, (unsigned long long)mf->version,
			 dur == NPMU_PLACED ? "placed" : "persistent", mf->slot,
			 (unsigned long long)len, mf->layout.ngroups, mf->layout.k, mf->layout.m,
			 mf->layout.n);
	return rc;
}

/* put_held -- (set NAME's lease held in lh) a put into *sp, opened or made first when NULL
 * (and left open), or, already open, with its manifests read again: choose the version and its
 * slot, write the data and parity (S1), then the manifests; *version gets it. */
static int put_held(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
		    const struct npmu_stripe_cfg *c, const struct npmu_stripe_cfg *cfg,
		    const struct npmu__stripe_put_opts *o, struct npmu__lease_holder *lh,
		    struct set **sp, npmu_progress_fn progress, void *arg, uint64_t *version)
{
	struct npmu__stripe_layout l;
	struct npmu__stripe_manifest mf = {0};
	struct npmu__stripe_put_opts leased;
	if (o && o->under_lease) {
		leased = *o;
		o = &leased;
		int rc = o->under_lease(&leased, o->arg);
		if (rc != 0)
			return rc;
	}
	int rc = 0;
	if (*sp)
		refresh_manifests(*sp);
	else
		rc = put_open(conn, name, c, cfg, len, lh, sp);
	struct set *s = *sp;
	if (rc == 0)
		rc = put_layout(s, len, &l);
	if (rc == 0)
		rc = put_version(s, o, &l, data, len, &mf);
	if (rc == 0)
		rc = put_data(s, &l, data, len, o, lh, &mf, progress, arg);
	if (rc == 0 && o && o->data_ready) /* the whole checked before anything is committed */
		rc = o->data_ready(len, o->ready_arg);
	if (rc == 0)
		rc = put_manifests(conn, s, &mf, c->durability, o && o->data_first);
	rc = put_said(s, &mf, len, c->durability, lh, rc);
	if (rc == 0 && version)
		*version = mf.version;
	if (rc == 0 && o && o->length_csum)
		*o->length_csum = mf.length_csum;
	free(mf.csums);
	return rc;
}

/* put_locked -- (set NAME's lease held in lh) one put, the set opened and closed around it. */
static int put_locked(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
		      const struct npmu_stripe_cfg *c, const struct npmu_stripe_cfg *cfg,
		      const struct npmu__stripe_put_opts *o, struct npmu__lease_holder *lh,
		      npmu_progress_fn progress, void *arg, uint64_t *version)
{
	struct set *s = NULL;
	int rc = put_held(conn, name, data, len, c, cfg, o, lh, &s, progress, arg, version);
	if (s)
		set_close(s);
	return rc;
}

/* put_args -- c: cfg with its defaults and o's durability; NPMU_E_INVAL for what no put takes. */
static int put_args(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
		    const struct npmu_stripe_cfg *cfg, const struct npmu__stripe_put_opts *o,
		    struct npmu_stripe_cfg *c)
{
	*c = put_defaults(cfg);
	if (o && o->durability)
		c->durability = o->durability;
	if (!conn || !name || (len && !data) || (o && o->nkeep && !o->keep))
		return NPMU_E_INVAL;
	if (c->keep < 2 || c->keep > NPMU_STRIPE_KEEP_MAX ||
	    (c->durability != NPMU_PLACED && c->durability != NPMU_PERSISTENT))
		return NPMU_E_INVAL;
	return 0;
}

/* lease_members -- the members a writer's lease names: a dataset part's shape is fixed (cfg's
 * n), any other set's is its own (a new set's: as c says). */
static int lease_members(struct npmu_conn *conn, const char *name,
			 const struct npmu_stripe_cfg *cfg, const struct npmu__stripe_put_opts *o,
			 const struct npmu_stripe_cfg *c, uint32_t *members)
{
	*members = 0;
	int rc = 0;
	if (o && o->version && cfg && cfg->n)
		*members = cfg->n;
	else
		rc = set_members(conn, name, members);
	if (*members == 0)
		*members = c->n;
	return rc;
}

/* npmu__stripe_put -- take the set's lease, then write a version: its data and parity (S1),
 * then its manifest (S2); see stripe_ops.h and stripe_format.h. */
int npmu__stripe_put(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
		     const struct npmu_stripe_cfg *cfg, const struct npmu__stripe_put_opts *o,
		     npmu_progress_fn progress, void *arg, uint64_t *version)
{
	struct npmu_stripe_cfg c;
	uint32_t members = 0;
	int rc = put_args(conn, name, data, len, cfg, o, &c);
	if (rc == 0)
		rc = lease_members(conn, name, cfg, o, &c, &members);
	if (rc != 0)
		return rc;
	struct npmu__lease_holder lh;
	int took = take_set(conn, name, members, -1, &lh);
	rc = took != 0 ? took
		       : put_locked(conn, name, data, len, &c, cfg, o, &lh, progress, arg, version);
	let_go(&lh, took);
	return rc;
}

/* A writer that keeps its set's lease and members between puts (stripe_ops.h). */
struct npmu__stripe_writer {
	struct npmu__lease_holder lh;
	bool held;    /* lh taken (and renewed) */
	struct set *s; /* open read-write under lh, or NULL */
};

/* writer_drop -- close what w holds open and give its lease back. */
static void writer_drop(struct npmu__stripe_writer *w)
{
	if (w->s)
		set_close(w->s);
	w->s = NULL;
	if (w->held)
		let_go(&w->lh, 0);
	w->held = false;
}

/* npmu__stripe_writer_put -- npmu__stripe_put through *wp: the lease taken and the set opened
 * at the first put (or after anything failed), kept for the next. */
int npmu__stripe_writer_put(struct npmu__stripe_writer **wp, struct npmu_conn *conn,
			    const char *name, const void *data, uint64_t len,
			    const struct npmu_stripe_cfg *cfg, const struct npmu__stripe_put_opts *o,
			    npmu_progress_fn progress, void *arg, uint64_t *version)
{
	struct npmu_stripe_cfg c;
	uint32_t members = 0;
	int rc = wp ? put_args(conn, name, data, len, cfg, o, &c) : NPMU_E_INVAL;
	if (rc == 0 && !*wp && !(*wp = calloc(1, sizeof(**wp))))
		rc = NPMU_E_NOMEM;
	if (rc != 0)
		return rc;
	struct npmu__stripe_writer *w = *wp;
	if (w->held && atomic_load(&w->lh.fenced))
		writer_drop(w); /* taken over meanwhile: take it again */
	if (w->s && missing_members(w->s)) {
		set_close(w->s); /* members lost: opened again, in case their units are back */
		w->s = NULL;
	}
	if (!w->held && (rc = lease_members(conn, name, cfg, o, &c, &members)) == 0) {
		rc = take_set(conn, name, members, -1, &w->lh);
		w->held = rc == 0;
		if (rc != 0)
			npmu__lease_fini(&w->lh);
	}
	if (rc == 0)
		rc = put_held(conn, name, data, len, &c, cfg, o, &w->lh, &w->s, progress, arg,
			      version);
	if (rc != 0)
		writer_drop(w); /* whatever failed, the next put starts afresh */
	return rc;
}

/* npmu__stripe_writer_claim -- take set NAME's lease for *wp without putting (stripe_ops.h). */
int npmu__stripe_writer_claim(struct npmu__stripe_writer **wp, struct npmu_conn *conn,
			      const char *name, const struct npmu_stripe_cfg *cfg, int wait_ms)
{
	if (!wp || !conn || !name)
		return NPMU_E_INVAL;
	if (!*wp && !(*wp = calloc(1, sizeof(**wp))))
		return NPMU_E_NOMEM;
	struct npmu__stripe_writer *w = *wp;
	if (w->held && atomic_load(&w->lh.fenced))
		writer_drop(w);
	if (w->held)
		return 0;
	uint32_t members = 0;
	int rc = set_members(conn, name, &members);
	if (rc != 0)
		return rc;
	if (members == 0)
		members = put_defaults(cfg).n;
	rc = take_set(conn, name, members, wait_ms, &w->lh);
	w->held = rc == 0;
	if (rc != 0)
		npmu__lease_fini(&w->lh);
	return rc;
}

/* npmu__stripe_writer_close -- give the lease back, close the set, free; NULLs *wp. */
void npmu__stripe_writer_close(struct npmu__stripe_writer **wp)
{
	if (!wp || !*wp)
		return;
	writer_drop(*wp);
	free(*wp);
	*wp = NULL;
}

/*
 * npmu_stripe_put -- the public put, a plain npmu__stripe_put. Two entry points: NPMU_0.4 reads
 * the npmu_stripe_cfg of today (with durability); NPMU_0's, for programs built before, reads the
 * struct as it was then (no durability: its bytes there may be the caller's padding).
 */
struct stripe_cfg_0 {
	uint32_t k, m, n;
	uint64_t seg_size;
	uint32_t keep;
	uint64_t capacity;
	int mirror;
};
_Static_assert(offsetof(struct npmu_stripe_cfg, durability) ==
		       offsetof(struct stripe_cfg_0, mirror) + sizeof(int),
	       "npmu_stripe_cfg of NPMU_0 is today's up to durability");

__asm__(".symver npmu__stripe_put_0_4, npmu_stripe_put@@NPMU_0.4");
__asm__(".symver npmu__stripe_put_0, npmu_stripe_put@NPMU_0");

NPMU_API int npmu__stripe_put_0_4(struct npmu_conn *conn, const char *name, const void *data,
				  uint64_t len, const struct npmu_stripe_cfg *cfg,
				  npmu_progress_fn progress, void *arg, uint64_t *version);
NPMU_API int npmu__stripe_put_0(struct npmu_conn *conn, const char *name, const void *data,
				uint64_t len, const struct stripe_cfg_0 *cfg, npmu_progress_fn progress,
				void *arg, uint64_t *version);

/* npmu__stripe_put_0_4 -- npmu_stripe_put@@NPMU_0.4: the newest + 1, at cfg's durability. */
int npmu__stripe_put_0_4(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
			 const struct npmu_stripe_cfg *cfg, npmu_progress_fn progress, void *arg,
			 uint64_t *version)
{
	return npmu__stripe_put(conn, name, data, len, cfg, NULL, progress, arg, version);
}

/* npmu__stripe_put_0 -- npmu_stripe_put@NPMU_0: cfg read as NPMU_0 laid it out; persistent. */
int npmu__stripe_put_0(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
		       const struct stripe_cfg_0 *cfg, npmu_progress_fn progress, void *arg,
		       uint64_t *version)
{
	struct npmu_stripe_cfg c = {0};
	if (cfg)
		memcpy(&c, cfg, offsetof(struct npmu_stripe_cfg, durability));
	return npmu__stripe_put(conn, name, data, len, cfg ? &c : NULL, NULL, progress, arg,
				version);
}

/* note_lost -- add "sI (unit) why" to the report once. */
static void note_lost(struct npmu_stripe_report *rep, uint64_t *noted, const struct set *s,
		      const struct npmu__stripe_manifest *mf, uint32_t i, const char *why)
{
	if (!rep || (*noted & (1ull << i)))
		return;
	*noted |= 1ull << i;
	size_t at = strlen(rep->which);
	snprintf(rep->which + at, sizeof(rep->which) - at, "%s%s (%s) %s", at ? ", " : "",
		 s->mem[i].region[0] ? s->mem[i].region : "?", mf->unit[i], why);
}

/*
 * A restore reads in batches of groups: every sub-segment a batch needs, from all its members at
 * once (each member's pieces in one transfer, a window of them in flight: transfer.c), data
 * straight into the checkpoint where it lies whole; then each piece's checksum (a get: summed on
 * a thread of its own while the next batch is read); then, in one more transfer, the parity of
 * the groups that miss data; then the decoding of those groups.
 */
#define GET_DEPTH 32             /* a get's sub-segments per member per batch (2 windows) */
#define REBUILD_BYTES (32u << 20) /* a rebuild's buffer for the sub-segments of a batch */

/* Where a restore of one version is. */
struct restoring {
	struct set *s;
	const struct npmu__stripe_manifest *mf;
	const struct npmu__ec *ec;
	uint32_t slot;
	uint8_t *out;                   /* the checkpoint from byte base; NULL: a rebuild (all goes
					 * to scratch) */
	uint64_t base;                  /* the offset in the checkpoint of out[0] */
	uint32_t g_begin, g_end;        /* the groups restored */
	uint8_t *tail;                  /* the data sub-segments of the group the end cuts */
	uint8_t *scratch;               /* the batch's parity (a rebuild: every sub-segment) */
	uint32_t g0;                    /* the batch's first group */
	struct npmu__csum_shift shift;  /* over one sub-segment's bytes */
	uint64_t whole;                 /* the checksum of the checkpoint restored so far */
	struct npmu_stripe_report *rep; /* may be NULL */
	uint64_t noted;                 /* members already in rep->which */
	uint64_t failed;                /* members whose read failed: not asked again */
	uint32_t bad, repaired;
};

/* One sub-segment to read: j of group g, into buf; arrived once its member's read did, summed
 * once its checksum is in csum, good once that checksum is the manifest's. */
struct piece {
	uint32_t g, j;
	uint8_t *buf;
	bool arrived, summed, good;
	uint64_t csum;
};

/* piece_buf -- where sub-segment j of group g goes: a data one that lies whole in the checkpoint
 * straight there, the tail group's data to tail, parity (a rebuild: all) to the batch's scratch. */
static uint8_t *piece_buf(const struct restoring *rs, uint32_t g, uint32_t j)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	uint64_t off = ((uint64_t)g * l->k + j) * l->seg_size;
	if (rs->out && j < l->k)
		return off + l->seg_size <= l->length ? rs->out + (off - rs->base)
						      : rs->tail + (size_t)j * l->seg_size;
	uint32_t per = rs->out ? l->m : l->k + l->m, at = rs->out ? j - l->k : j;
	return rs->scratch + ((size_t)(g - rs->g0) * per + at) * l->seg_size;
}

/* sum_pieces -- the checksum of every piece that arrived (on the summing thread, or in
 * judge_pieces). */
static void sum_pieces(struct piece *p, size_t np, uint64_t seg_size)
{
	for (size_t q = 0; q < np; q++)
		if (p[q].arrived && !p[q].summed) {
			p[q].csum = npmu__csum(p[q].buf, seg_size);
			p[q].summed = true;
		}
}

/* judge_pieces -- each piece that arrived and whose checksum is the manifest's is good; one
 * that fails is lost, never used (S2). */
static void judge_pieces(struct restoring *rs, struct piece *p, size_t np)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	sum_pieces(p, np, l->seg_size);
	for (size_t q = 0; q < np; q++) {
		if (!p[q].arrived)
			continue;
		p[q].good = p[q].csum == rs->mf->csums[(size_t)p[q].g * (l->k + l->m) + p[q].j];
		if (p[q].good)
			continue;
		rs->bad++;
		note_lost(rs->rep, &rs->noted, rs->s, rs->mf, npmu__stripe_member_of(l, p[q].g, p[q].j),
			  "checksum failed");
	}
}

/* read_pieces -- read the np pieces, every member's at once (one target each); a member that is
 * lost, or whose read fails, gives none. */
static int read_pieces(struct restoring *rs, struct piece *p, size_t np)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	struct npmu__xfer_target t[NPMU_STRIPE_UNITS_MAX];
	size_t first[NPMU_STRIPE_UNITS_MAX + 1] = {0}; /* member u's pieces: idx[first[u] ..] */
	uint32_t who[NPMU_STRIPE_UNITS_MAX];
	struct npmu_iov *iov = malloc((np ? np : 1) * sizeof(*iov));
	size_t *idx = malloc((np ? np : 1) * sizeof(*idx));
	if (!iov || !idx) {
		free(iov);
		free(idx);
		return NPMU_E_NOMEM;
	}
	for (size_t q = 0; q < np; q++)
		first[npmu__stripe_member_of(l, p[q].g, p[q].j) + 1]++;
	for (uint32_t u = 0; u < l->n; u++)
		first[u + 1] += first[u];
	size_t fill[NPMU_STRIPE_UNITS_MAX];
	memcpy(fill, first, sizeof(fill));
	for (size_t q = 0; q < np; q++)
		idx[fill[npmu__stripe_member_of(l, p[q].g, p[q].j)]++] = q;
	int nt = 0;
	for (uint32_t u = 0; u < l->n; u++) {
		struct member *mb = &rs->s->mem[u];
		if (first[u] == first[u + 1])
			continue;
		if (mb->state != NPMU_MEMBER_OK || (rs->failed & (1ull << u))) {
			note_lost(rs->rep, &rs->noted, rs->s, rs->mf, u,
				  mb->state == NPMU_MEMBER_LOST ? "unreachable or missing"
				  : mb->state == NPMU_MEMBER_CORRUPT ? "corrupt header" : "read failed");
			continue;
		}
		for (size_t q = first[u]; q < first[u + 1]; q++)
			iov[q] = (struct npmu_iov){npmu__stripe_data_off(&mb->h, rs->slot) +
							   (uint64_t)p[idx[q]].g * l->seg_size,
						   p[idx[q]].buf, l->seg_size};
		t[nt] = member_target(mb, &iov[first[u]], (int)(first[u + 1] - first[u]));
		who[nt++] = u;
	}
	if (nt > 0)
		npmu__transfer(t, nt, 0, NULL, 0, 0);
	for (int k = 0; k < nt; k++) {
		uint32_t u = who[k];
		if (t[k].rc != 0) {
			rs->failed |= 1ull << u;
			note_lost(rs->rep, &rs->noted, rs->s, rs->mf, u, "read failed");
		} else {
			for (size_t q = first[u]; q < first[u + 1]; q++)
				p[idx[q]].arrived = true;
		}
	}
	free(iov);
	free(idx);
	return 0;
}

/* put_back -- write the reconstructed sub-segments of group g back on their members (those
 * that are open), persistent. */
static int put_back(struct restoring *rs, uint32_t g, uint8_t **frag, const uint8_t *present)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	int rc = 0;
	for (uint32_t j = 0; j < l->k + l->m; j++) {
		if (present[j])
			continue;
		rs->repaired++;
		struct member *mb = &rs->s->mem[npmu__stripe_member_of(l, g, j)];
		if (mb->state != NPMU_MEMBER_OK)
			continue;
		uint64_t off = npmu__stripe_data_off(&mb->h, rs->slot) + (uint64_t)g * l->seg_size;
		int wrc = npmu_region_write(mb->r, off, frag[j], l->seg_size);
		if (wrc == 0)
			wrc = npmu_region_persist(mb->r, off, l->seg_size, NPMU_PERSISTENT);
		if (wrc != 0)
			rc = wrc;
	}
	return rc;
}

/* add_to_whole -- group g's data, final in the checkpoint, into the checkpoint's checksum: from
 * the checksums of its whole sub-segments (csum, checked), the end's computed. */
static void add_to_whole(struct restoring *rs, uint32_t g, const uint64_t *csum)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	for (uint32_t j = 0; j < l->k; j++) {
		uint64_t off = ((uint64_t)g * l->k + j) * l->seg_size;
		if (off >= l->length)
			break;
		if (off + l->seg_size > l->length) { /* the end: a shorter piece */
			uint64_t n = l->length - off;
			rs->whole = npmu__csum_combine(rs->whole,
						       npmu__csum(rs->out + (off - rs->base), n), n);
			break;
		}
		rs->whole = npmu__csum_concat(&rs->shift, rs->whole, csum[j]);
	}
}

/* check_decoded -- group g's data sub-segments rebuilt from parity (not present) against the
 * manifest's checksums (the tail group's as encoded: zero-padded), their checksums into csum:
 * NPMU_E_CORRUPT, naming the group, when one differs. */
static int check_decoded(struct restoring *rs, uint32_t g, uint8_t **frag, const uint8_t *present,
			 uint64_t *csum)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	for (uint32_t j = 0; j < l->k; j++) {
		if (present[j])
			continue;
		csum[j] = npmu__csum(frag[j], l->seg_size);
		if (csum[j] == rs->mf->csums[(size_t)g * (l->k + l->m) + j])
			continue;
		LOG_WARN("stripe %s: version %llu: sub-segment %u of group %u decoded from parity "
			 "fails its checksum: not used", rs->s->name,
			 (unsigned long long)rs->mf->version, j, g);
		return NPMU_E_CORRUPT;
	}
	return 0;
}

/* finish_group -- group g, its pieces read (present, with their checksums): decoded when some
 * data is missing (a rebuild: when anything is, and written back); the tail group's data copied
 * into the checkpoint, and its data added to the checkpoint's checksum. NPMU_E_LOST when fewer
 * than k sub-segments are good. */
static int finish_group(struct restoring *rs, uint32_t g, const uint8_t *present,
			const uint64_t *csum)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	uint32_t w = l->k + l->m, good = 0;
	uint8_t *frag[NPMU_EC_K_MAX + NPMU_EC_M_MAX];
	bool need = false;
	for (uint32_t j = 0; j < w; j++) {
		frag[j] = piece_buf(rs, g, j);
		good += present[j];
		need |= !present[j] && (j < l->k || !rs->out);
	}
	if (good < l->k)
		return NPMU_E_LOST;
	if (need && npmu__ec_decode(rs->ec, l->seg_size, frag, present) != 0)
		return NPMU_E_LOST;
	if (!rs->out)
		return need ? put_back(rs, g, frag, present) : 0;
	uint64_t sums[NPMU_EC_K_MAX];
	memcpy(sums, csum, l->k * sizeof(*sums));
	int rc = need ? check_decoded(rs, g, frag, present, sums) : 0;
	for (uint32_t j = 0; rc == 0 && j < l->k; j++) {
		rs->repaired += !present[j];
		uint64_t off = ((uint64_t)g * l->k + j) * l->seg_size;
		if (frag[j] != rs->out + (off - rs->base) && off < l->length) /* the tail group */
			memcpy(rs->out + (off - rs->base), frag[j],
			       l->length - off < l->seg_size ? l->length - off : l->seg_size);
	}
	if (rc == 0)
		add_to_whole(rs, g, sums);
	return rc;
}

/* One batch of groups [g0, g0 + count) and its data pieces (a rebuild: every piece), np. */
struct batch {
	uint32_t g0, count;
	struct piece *p;
	size_t np;
	pthread_t summer; /* summing its pieces' checksums while the next batch is read */
	bool summing;
};

/* read_batch -- read the batch's data (a rebuild: everything), all members at once. */
static int read_batch(struct restoring *rs, struct batch *b)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	uint32_t first = rs->out ? l->k : l->k + l->m;
	rs->g0 = b->g0;
	b->np = 0;
	for (uint32_t g = b->g0; g < b->g0 + b->count; g++)
		for (uint32_t j = 0; j < first; j++)
			b->p[b->np++] = (struct piece){.g = g, .j = j, .buf = piece_buf(rs, g, j)};
	return read_pieces(rs, b->p, b->np);
}

/* finish_batch -- the batch read: its pieces judged, the parity of the groups that miss data
 * read and judged, then each group finished; lost groups counted. */
static int finish_batch(struct restoring *rs, struct batch *b, uint32_t *lost_groups)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	uint32_t w = l->k + l->m, first = rs->out ? l->k : w;
	struct piece *p = b->p;
	size_t np = b->np, more = np; /* the parity of groups that miss data, after the data */
	rs->g0 = b->g0;
	judge_pieces(rs, p, np);
	for (uint32_t g = b->g0; first < w && g < b->g0 + b->count; g++) {
		bool whole = true;
		for (uint32_t j = 0; j < l->k; j++)
			whole &= p[(size_t)(g - b->g0) * first + j].good;
		for (uint32_t j = l->k; j < w && !whole; j++)
			p[more++] = (struct piece){.g = g, .j = j, .buf = piece_buf(rs, g, j)};
	}
	int rc = more > np ? read_pieces(rs, p + np, more - np) : 0;
	judge_pieces(rs, p + np, more - np);
	uint8_t present[NPMU_EC_K_MAX + NPMU_EC_M_MAX];
	uint64_t csum[NPMU_EC_K_MAX + NPMU_EC_M_MAX];
	size_t q = np;
	for (uint32_t g = b->g0; rc == 0 && g < b->g0 + b->count; g++) {
		memset(present, 0, sizeof(present));
		for (uint32_t j = 0; j < first; j++) {
			present[j] = p[(size_t)(g - b->g0) * first + j].good;
			csum[j] = p[(size_t)(g - b->g0) * first + j].csum;
		}
		for (; q < more && p[q].g == g; q++)
			present[p[q].j] = p[q].good;
		int grc = finish_group(rs, g, present, csum);
		if (grc == NPMU_E_LOST)
			(*lost_groups)++;
		else
			rc = grc;
	}
	return rc;
}

/* Arguments of the summing thread. */
struct summing {
	struct batch *b;
	uint64_t seg_size;
};

/* summer -- the summing thread: a batch's checksums, while the main thread reads the next. */
static void *summer(void *arg)
{
	struct summing *sm = arg;
	sum_pieces(sm->b->p, sm->b->np, sm->seg_size);
	return NULL;
}

/* sum_start / sum_wait -- a batch's checksums summed on a thread of their own (not at all if
 * no thread starts: judge_pieces then sums them). */
static void sum_start(struct batch *b, struct summing *sm, uint64_t seg_size)
{
	*sm = (struct summing){.b = b, .seg_size = seg_size};
	b->summing = pthread_create(&b->summer, NULL, summer, sm) == 0;
}

static void sum_wait(struct batch *b)
{
	if (b->summing)
		pthread_join(b->summer, NULL);
	b->summing = false;
}

/* restore_batches -- every group, a batch at a time: a get reads batch i + 1 while batch i's
 * checksums are summed beside it, then finishes batch i; a rebuild one batch after the other. */
static int restore_batches(struct restoring *rs, struct batch bt[2], npmu_progress_fn progress,
			   void *arg, uint32_t *lost_groups)
{
	const struct npmu__stripe_layout *l = &rs->mf->layout;
	uint32_t per = bt[0].count;
	struct summing sm[2];
	struct batch *prev = NULL;
	int rc = 0;
	for (uint32_t g = rs->g_begin, i = 0; rc == 0 && g < rs->g_end; g += per, i ^= 1) {
		struct batch *b = &bt[i];
		b->g0 = g;
		b->count = rs->g_end - g < per ? rs->g_end - g : per;
		rc = read_batch(rs, b);
		if (prev)
			sum_wait(prev);
		if (rc == 0 && rs->out)
			sum_start(b, &sm[i], l->seg_size);
		if (rc == 0 && prev && (rc = finish_batch(rs, prev, lost_groups)) == 0 && progress)
			progress((uint64_t)prev->g0 + prev->count, l->ngroups, arg);
		prev = rs->out ? b : NULL;
		if (rc == 0 && !rs->out && (rc = finish_batch(rs, b, lost_groups)) == 0 && progress)
			progress((uint64_t)g + b->count, l->ngroups, arg);
	}
	if (prev)
		sum_wait(prev);
	if (rc == 0 && prev && (rc = finish_batch(rs, prev, lost_groups)) == 0 && progress)
		progress(rs->g_end, l->ngroups, arg);
	return rc;
}

/*
 * restore_groups -- groups [g_begin, g_end) of version mf into out (when not NULL: the bytes
 * from group g_begin's first on), or (out NULL: a rebuild) put every reconstructed sub-segment
 * back on its member; *whole gets the checksum of the bytes restored. Counts in rep;
 * NPMU_E_LOST when some group has fewer than k good sub-segments.
 */
static int restore_groups(struct set *s, const struct npmu__stripe_manifest *mf, uint8_t *out,
			  uint32_t g_begin, uint32_t g_end, npmu_progress_fn progress, void *arg,
			  struct npmu_stripe_report *rep, uint64_t *whole)
{
	const struct npmu__stripe_layout *l = &mf->layout;
	uint32_t w = l->k + l->m;
	struct npmu__ec ec;
	struct restoring rs = {.s = s, .mf = mf, .ec = &ec, .out = out, .rep = rep,
			       .slot = mf->slot, .g_begin = g_begin, .g_end = g_end,
			       .base = (uint64_t)g_begin * l->k * l->seg_size};
	uint64_t batch = out ? (uint64_t)GET_DEPTH * l->n / l->k : REBUILD_BYTES / (w * l->seg_size);
	batch = batch < 1 ? 1 : batch > g_end - g_begin ? g_end - g_begin : batch;
	int rc = npmu__ec_init(&ec, (int)l->k, (int)l->m);
	if (out)
		npmu__csum_shift_init(&rs.shift, l->seg_size);
	struct piece *p = malloc((size_t)(batch ? batch : 1) * w * 2 * sizeof(*p));
	struct batch bt[2] = {{.count = (uint32_t)batch, .p = p},
			      {.count = (uint32_t)batch, .p = p ? p + batch * w : NULL}};
	rs.scratch = malloc((size_t)(batch ? batch : 1) * (out ? l->m : w) * l->seg_size);
	rs.tail = out ? malloc((size_t)l->k * l->seg_size) : NULL;
	if (rc == 0 && (!p || !rs.scratch || (out && !rs.tail)))
		rc = NPMU_E_NOMEM;
	uint32_t lost_groups = 0;
	if (rc == 0)
		rc = restore_batches(&rs, bt, progress, arg, &lost_groups);
	free(p);
	free(rs.scratch);
	free(rs.tail);
	if (rep) {
		rep->bad += rs.bad;
		rep->repaired += rs.repaired;
	}
	*whole = rs.whole;
	return rc == 0 && lost_groups ? NPMU_E_LOST : rc;
}

/*
 * restore -- rebuild version mf into out (when not NULL), or (out NULL: a rebuild) put every
 * reconstructed sub-segment back on its member. Counts in rep; NPMU_E_LOST when some group
 * has fewer than k good sub-segments.
 */
static int restore(struct set *s, const struct npmu__stripe_manifest *mf, uint8_t *out,
		   npmu_progress_fn progress, void *arg, struct npmu_stripe_report *rep)
{
	uint64_t whole = 0;
	int rc = restore_groups(s, mf, out, 0, mf->layout.ngroups, progress, arg, rep, &whole);
	/* the whole checkpoint's checksum, joined from those of its pieces as they lie in out (the
	 * same value as npmu__csum(out, length), without reading it again) */
	if (rc == 0 && out && whole != mf->length_csum)
		return NPMU_E_CORRUPT; /* every piece checked out but not the whole: never hand it out */
	return rc;
}

/* count_lost -- members not open. */
static uint32_t count_lost(const struct set *s)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->n; i++)
		n += s->mem[i].state != NPMU_MEMBER_OK;
	return n;
}

/* Where a get restores to: the caller's buffer, or memory of its own handed to the caller. */
struct get_dest {
	uint8_t *buf;  /* the caller's (npmu_stripe_read); NULL: new memory (npmu_stripe_get) */
	uint64_t cap;  /* its bytes */
	uint8_t *mine; /* new memory holding the restored version (npmu_stripe_get) */
	bool newest_only; /* the newest that cannot be restored is an error, no older in its place */
};

/* restore_to -- restore mf into the destination; memory of its own replaces any earlier. */
static int restore_to(struct set *s, const struct npmu__stripe_manifest *mf, struct get_dest *d,
		      npmu_progress_fn progress, void *arg, struct npmu_stripe_report *rep)
{
	uint64_t length = mf->layout.length;
	if (d->buf)
		return length > d->cap ? NPMU_E_TOOBIG : restore(s, mf, d->buf, progress, arg, rep);
	free(d->mine);
	if (!(d->mine = malloc(length ? length : 1)))
		return NPMU_E_NOMEM;
	struct npmu__prefault pf; /* the fresh pages' faults beside the transfers, not in them */
	npmu__prefault_start(&pf, d->mine, length);
	int rc = restore(s, mf, d->mine, progress, arg, rep);
	npmu__prefault_end(&pf);
	return rc;
}

/* pick_version -- version `version` (0: the newest) of open set s, or NULL with *rc saying why
 * (and rep, the log). */
static const struct npmu__stripe_manifest *pick_version(struct set *s, uint64_t version,
							 struct npmu_stripe_report *rep, int *rc)
{
	rep->lost = count_lost(s);
	const struct npmu__stripe_manifest *top = newest(s, 0, NULL);
	const struct npmu__stripe_manifest *mf = version ? exact(s, version) : top;
	rep->newest = top ? top->version : 0;
	if (mf) {
		rep->version = mf->version;
		return mf;
	}
	if (!top) {
		snprintf(rep->which, sizeof(rep->which), "no member holds a valid manifest");
		LOG_WARN("stripe %s: no member holds a valid manifest", s->name);
	} else {
		LOG_WARN("stripe %s: version %llu is not kept (the newest is %llu; the set keeps %u)",
			 s->name, (unsigned long long)version, (unsigned long long)top->version,
			 s->shape.keep);
	}
	*rc = top ? NPMU_E_NOENT : rep->lost == s->n ? NPMU_E_LOST : NPMU_E_CORRUPT;
	return NULL;
}

/* fall_back -- version mf cannot be restored (rc): the newest older version that can is
 * offered (rep->older_ok), or, when the newest was asked for (version 0), restored into d and
 * said; *len gets its length. Returns 0 when it was restored, else rc. */
static int fall_back(struct set *s, const struct npmu__stripe_manifest *mf, uint64_t version,
		     int rc, struct get_dest *d, uint64_t *len, struct npmu_stripe_report *rep)
{
	for (const struct npmu__stripe_manifest *o = newest(s, mf->version, NULL); o;
	     o = newest(s, o->version, NULL)) {
		struct npmu_stripe_report r2 = {0};
		struct get_dest probe = {0}; /* an older version that does not fit is tried aside */
		struct get_dest *to = d->buf && o->layout.length > d->cap ? &probe : d;
		int orc = restore_to(s, o, to, NULL, NULL, &r2);
		free(probe.mine);
		if (orc != 0)
			continue;
		rep->older_ok = o->version;
		if (version != 0)
			break;
		LOG_WARN("stripe %s: the newest version, %llu, cannot be restored (%s): restored "
			 "version %llu", s->name, (unsigned long long)mf->version, rep->which,
			 (unsigned long long)o->version);
		*len = o->layout.length;
		if (to == &probe)
			return NPMU_E_TOOBIG; /* it is not in the caller's buffer: *len says how big */
		rep->version = o->version;
		rep->bad = r2.bad;
		rep->repaired = r2.repaired;
		return 0;
	}
	LOG_WARN("stripe %s: version %llu cannot be restored: %s", s->name,
		 (unsigned long long)mf->version, rep->which);
	return rc;
}

/* get -- npmu_stripe_get and npmu_stripe_read: restore a version of set NAME into d; *len gets
 * its length (also when it does not fit: NPMU_E_TOOBIG). */
static int get(struct npmu_conn *conn, const char *name, uint64_t version, struct get_dest *d,
	       uint64_t *len, npmu_progress_fn progress, void *arg, struct npmu_stripe_report *rep)
{
	struct npmu_stripe_report dummy;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	struct set *s;
	int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
	if (rc != 0)
		return rc;
	const struct npmu__stripe_manifest *mf = pick_version(s, version, rep, &rc);
	if (mf) {
		*len = mf->layout.length;
		rc = restore_to(s, mf, d, progress, arg, rep);
	}
	if (mf && !d->newest_only && (rc == NPMU_E_LOST || rc == NPMU_E_CORRUPT))
		rc = fall_back(s, mf, version, rc, d, len, rep);
	set_close(s);
	return rc;
}

/* get_new -- get into new memory (d says which), handed to the caller as *data, *len. */
static int get_new(struct npmu_conn *conn, const char *name, uint64_t version, struct get_dest *d,
		   void **data, uint64_t *len, npmu_progress_fn progress, void *arg,
		   struct npmu_stripe_report *rep)
{
	if (!data || !len)
		return NPMU_E_INVAL;
	uint64_t length = 0;
	int rc = get(conn, name, version, d, &length, progress, arg, rep);
	if (rc != 0) {
		free(d->mine);
		return rc;
	}
	*data = d->mine;
	*len = length;
	return 0;
}

/* npmu__stripe_get_set -- npmu_stripe_get from the set's members alone (stripe_ops.h). */
int npmu__stripe_get_set(struct npmu_conn *conn, const char *name, uint64_t version, void **data,
		    uint64_t *len, npmu_progress_fn progress, void *arg,
		    struct npmu_stripe_report *rep)
{
	struct get_dest d = {0};
	return get_new(conn, name, version, &d, data, len, progress, arg, rep);
}

/* npmu__stripe_get_newest -- the newest version of set NAME, never an older one (stripe_ops.h). */
int npmu__stripe_get_newest(struct npmu_conn *conn, const char *name, void **data, uint64_t *len,
			    struct npmu_stripe_report *rep)
{
	struct get_dest d = {.newest_only = true};
	return get_new(conn, name, 0, &d, data, len, NULL, NULL, rep);
}

/* npmu__stripe_read_set -- npmu_stripe_read from the set's members alone (stripe_ops.h). */
int npmu__stripe_read_set(struct npmu_conn *conn, const char *name, uint64_t version, void *buf,
		     uint64_t cap, uint64_t *len, npmu_progress_fn progress, void *arg,
		     struct npmu_stripe_report *rep)
{
	if (!len || (!buf && cap))
		return NPMU_E_INVAL;
	uint8_t none;
	struct get_dest d = {.buf = buf ? buf : &none, .cap = cap};
	*len = 0;
	return get(conn, name, version, &d, len, progress, arg, rep);
}

/* member_unit -- the unit member k of s is on now (opened), else where mf placed it. */
static const char *member_unit(const struct set *s, uint32_t k,
			       const struct npmu__stripe_manifest *mf)
{
	if (s->mem[k].r && s->mem[k].state == NPMU_MEMBER_OK && s->mem[k].r->ai.unit[0])
		return s->mem[k].r->ai.unit;
	return mf->unit[k];
}

/* members_on -- how many members of s other than i are on unit addr. */
static uint32_t members_on(const struct set *s, uint32_t i, const struct npmu__stripe_manifest *mf,
			   const char *addr)
{
	uint32_t count = 0;
	for (uint32_t k = 0; k < s->n; k++)
		count += k != i && strcmp(member_unit(s, k, mf), addr) == 0;
	return count;
}

/* create_member -- member i's region of size bytes on unit addr. */
static int create_member(struct set *s, uint32_t i, const char *addr, uint64_t size)
{
	return npmu_region_create_ex(s->conn, s->mem[i].region, size,
				     &(struct npmu_region_opts){.unit = addr}, NULL);
}

/* replace_member -- member i's unit is gone: member i on a unit that answers with room, one the
 * set does not use if there is one, else (no spare) the one holding the fewest of its members,
 * said: two members on one unit lose together (reduced fault tolerance). */
static int replace_member(struct set *s, uint32_t i, const struct npmu__stripe_manifest *mf,
			  uint64_t size)
{
	struct npmu_unit_info *list;
	size_t count;
	int rc = npmu_unit_list(s->conn, &list, &count);
	if (rc != 0)
		return rc;
	int best = -1;
	uint32_t best_share = UINT32_MAX;
	for (size_t u = 0; u < count; u++) {
		uint32_t share = members_on(s, i, mf, list[u].addr);
		if (list[u].up && list[u].free >= size && share < best_share) {
			best = (int)u;
			best_share = share;
		}
	}
	rc = best < 0 ? NPMU_E_NOSPC : create_member(s, i, list[best].addr, size);
	if (rc == 0 && best_share > 0)
		LOG_WARN("stripe %s: no spare unit: member %s placed on %s beside %u other member(s) "
			 "of the set: reduced fault tolerance (a loss of that unit costs %u "
			 "sub-segments of a group) until a unit is added and the set rebuilt", s->name,
			 s->mem[i].region, list[best].addr, best_share, best_share + 1);
	else if (rc != 0)
		LOG_WARN("stripe %s: member %s cannot be placed on any unit: %s", s->name,
			 s->mem[i].region, npmu_strerror(rc));
	free(list);
	return rc;
}

/* recreate_member -- member i was lost with its unit: create it again, on its unit if that one
 * answers, else elsewhere (replace_member), with its header. */
static int recreate_member(struct set *s, uint32_t i, const struct npmu__stripe_manifest *mf,
			   uint64_t lease)
{
	struct member *mb = &s->mem[i];
	member_name(s->name, i, mb->region);
	struct npmu__stripe_member h = s->shape;
	h.index = i;
	uint64_t size = npmu__stripe_member_size(&h);
	(void)npmu_region_delete(s->conn, mb->region); /* a corrupt one goes */
	int rc = create_member(s, i, mf->unit[i], size);
	if (rc != 0) /* its unit is gone */
		rc = replace_member(s, i, mf, size);
	if (rc != 0)
		return rc;
	uint8_t raw[64];
	npmu__stripe_member_encode(&h, raw);
	if ((rc = npmu__region_open_leased(s->conn, mb->region, NPMU_ACCESS_READ_WRITE, lease,
					   &mb->r)) == 0 &&
	    (rc = npmu_region_write(mb->r, 0, raw, sizeof(raw))) == 0)
		rc = npmu_region_persist(mb->r, 0, sizeof(raw), NPMU_PERSISTENT);
	if (rc == 0) {
		mb->h = h;
		mb->state = NPMU_MEMBER_OK;
		LOG_INFO("stripe %s: member %s made again", s->name, mb->region);
	}
	return rc;
}

static int rebuild(struct set *s, uint64_t lease, npmu_progress_fn progress, void *arg,
		   struct npmu_stripe_report *rep);

__asm__(".symver npmu__stripe_rebuild_0_6, npmu_stripe_rebuild@@NPMU_0.6");
NPMU_API int npmu__stripe_rebuild_0_6(struct npmu_conn *conn, const char *name,
				      npmu_progress_fn progress, void *arg,
				      struct npmu_stripe_report *rep);

/* npmu__stripe_rebuild_0_6 -- npmu_stripe_rebuild@@NPMU_0.6: regenerate every lost or corrupt
 * sub-segment (see npmu.h; the report as it is since NPMU_0.6, src/lib/compat.c). */
int npmu__stripe_rebuild_0_6(struct npmu_conn *conn, const char *name, npmu_progress_fn progress,
			     void *arg, struct npmu_stripe_report *rep)
{
	struct npmu_stripe_report dummy;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	uint32_t members;
	int rc = set_members(conn, name, &members);
	if (rc == 0 && members == 0)
		rc = NPMU_E_NOENT;
	if (rc != 0)
		return rc;
	struct npmu__lease_holder lh; /* one writer at a time (see the top) */
	if ((rc = take_set(conn, name, members, -1, &lh)) != 0) {
		npmu__lease_fini(&lh);
		return rc;
	}
	struct set *s;
	if ((rc = set_open(conn, name, NPMU_ACCESS_READ_WRITE, lh.id, &s)) != 0) {
		npmu__lease_release(&lh);
		npmu__lease_fini(&lh);
		return rc;
	}
	rc = rebuild(s, lh.id, progress, arg, rep);
	if (rc == NPMU_E_KEY || (rc != 0 && atomic_load(&lh.fenced)))
		rc = NPMU_E_FENCED;
	set_close(s);
	npmu__lease_release(&lh);
	npmu__lease_fini(&lh);
	return rc;
}

/* rebuild -- regenerate and write back, in set s opened read-write under the lease. */
static int rebuild(struct set *s, uint64_t lease, npmu_progress_fn progress, void *arg,
		   struct npmu_stripe_report *rep)
{
	const char *name = s->name;
	int rc = 0;
	rep->lost = count_lost(s);
	const struct npmu__stripe_manifest *top = newest(s, 0, NULL);
	if (!top)
		return NPMU_E_LOST;
	rep->newest = rep->version = top->version;
	/* members lost with their units come back empty, on their unit or another */
	for (uint32_t i = 0; i < s->n && rc == 0; i++)
		if (s->mem[i].state != NPMU_MEMBER_OK) {
			if (s->mem[i].r)
				npmu_region_close(&s->mem[i].r);
			rc = recreate_member(s, i, top, lease);
		}
	/* every kept version, oldest first, so the newest's manifest is written last */
	uint64_t versions[NPMU_STRIPE_KEEP_MAX];
	uint32_t nv = 0;
	for (const struct npmu__stripe_manifest *o = top; o && nv < s->shape.keep;
	     o = newest(s, o->version, NULL))
		versions[nv++] = o->version;
	for (int v = (int)nv - 1; v >= 0 && rc == 0; v--) {
		const struct npmu__stripe_manifest *mf = exact(s, versions[v]);
		int vrc = restore(s, mf, NULL, progress, arg, rep);
		if (vrc == NPMU_E_LOST && v > 0) {
			LOG_WARN("stripe %s: version %llu cannot be rebuilt: %s", name,
				 (unsigned long long)mf->version, rep->which);
			continue; /* an older one lost: the newer ones still count */
		}
		if (vrc != 0) {
			rc = vrc;
			break;
		}
		/* its manifest on every member, unit list as the set now stands */
		struct npmu__stripe_manifest copy = *mf;
		for (uint32_t i = 0; i < s->n; i++)
			if (s->mem[i].r && s->mem[i].r->ai.unit[0])
				snprintf(copy.unit[i], sizeof(copy.unit[i]), "%s", s->mem[i].r->ai.unit);
		uint8_t *mbuf = calloc(1, s->shape.marea);
		int64_t mlen = mbuf ? npmu__stripe_manifest_encode(&copy, mbuf, s->shape.marea)
				    : NPMU_E_NOMEM;
		uint32_t slot = mf->slot;
		for (uint32_t i = 0; mlen > 0 && i < s->n && rc == 0; i++) {
			struct member *mb = &s->mem[i];
			rc = npmu_region_write(mb->r, npmu__stripe_manifest_off(&mb->h, slot), mbuf,
					       s->shape.marea);
			if (rc == 0)
				rc = npmu_region_persist(mb->r, npmu__stripe_manifest_off(&mb->h, slot),
							 s->shape.marea, NPMU_PERSISTENT);
		}
		if (mlen < 0 && rc == 0)
			rc = (int)mlen;
		free(mbuf);
	}
	return rc;
}

/* npmu_stripe_stat -- layout, versions and members' health of a set. */
int npmu_stripe_stat(struct npmu_conn *conn, const char *name, struct npmu_stripe_info *info)
{
	if (!info)
		return NPMU_E_INVAL;
	memset(info, 0, sizeof(*info));
	struct set *s;
	int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
	if (rc != 0)
		return rc;
	info->k = s->shape.k;
	info->m = s->shape.m;
	info->n = s->n;
	info->keep = s->shape.keep;
	info->seg_size = s->shape.seg_size;
	info->capacity = s->shape.dslot / s->shape.seg_size * s->shape.k * s->shape.seg_size;
	const struct npmu__stripe_manifest *top = newest(s, 0, NULL);
	if (top)
		info->newest_data_off = npmu__stripe_data_off(&s->shape, top->slot);
	for (const struct npmu__stripe_manifest *o = top; o && info->nversions < 8;
	     o = newest(s, o->version, NULL)) {
		uint32_t holders = 0;
		for (uint32_t i = 0; i < s->n; i++)
			for (uint32_t k = 0; k < s->shape.keep; k++)
				holders += s->have[i][k] && s->mf[i][k].version == o->version;
		info->versions[info->nversions].version = o->version;
		info->versions[info->nversions].length = o->layout.length;
		info->versions[info->nversions].members = holders;
		info->nversions++;
	}
	for (uint32_t i = 0; i < s->n; i++) {
		member_name(name, i, info->member[i].region);
		info->member[i].state = s->mem[i].state;
		if (top)
			snprintf(info->member[i].unit, sizeof(info->member[i].unit), "%s", top->unit[i]);
		for (uint32_t k = 0; k < s->shape.keep; k++)
			info->member[i].manifests += s->have[i][k];
	}
	set_close(s);
	return 0;
}

/* holders_of -- how many members hold a valid manifest of version v. */
static uint32_t holders_of(const struct set *s, uint64_t v)
{
	uint32_t holders = 0;
	for (uint32_t i = 0; i < s->n; i++)
		for (uint32_t k = 0; k < s->shape.keep; k++)
			holders += s->have[i][k] && s->mf[i][k].version == v;
	return holders;
}

/* npmu__stripe_find -- version `version` of set NAME as its manifests say (stripe_ops.h). */
int npmu__stripe_find(struct npmu_conn *conn, const char *name, uint64_t version,
		      struct npmu__stripe_version *out)
{
	if (!out || !version)
		return NPMU_E_INVAL;
	struct set *s;
	int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
	if (rc != 0)
		return rc;
	const struct npmu__stripe_manifest *mf = exact(s, version);
	if (mf)
		*out = (struct npmu__stripe_version){.version = mf->version,
						     .length = mf->layout.length,
						     .length_csum = mf->length_csum,
						     .members = holders_of(s, version)};
	set_close(s);
	return mf ? 0 : NPMU_E_NOENT;
}

/* read_span -- bytes [off, off + len) of version mf of open set s into buf: only the groups
 * holding them restored (straight into buf when they are exactly those bytes). */
static int read_span(struct set *s, const struct npmu__stripe_manifest *mf, uint64_t off,
		     uint8_t *buf, uint64_t len, struct npmu_stripe_report *rep)
{
	const struct npmu__stripe_layout *l = &mf->layout;
	uint64_t gbytes = (uint64_t)l->k * l->seg_size, whole;
	uint32_t g_begin = (uint32_t)(off / gbytes), g_end = (uint32_t)((off + len - 1) / gbytes + 1);
	uint64_t base = (uint64_t)g_begin * gbytes;
	uint64_t end = (uint64_t)g_end * gbytes < l->length ? (uint64_t)g_end * gbytes : l->length;
	uint8_t *span = off == base && len == end - base ? buf : malloc(end - base);
	if (!span)
		return NPMU_E_NOMEM;
	int rc = restore_groups(s, mf, span, g_begin, g_end, NULL, NULL, rep, &whole);
	if (span != buf) {
		if (rc == 0)
			memcpy(buf, span + (off - base), len);
		free(span);
	}
	return rc;
}

/* pick_exact -- version `version` of open set s whose length_csum is length_csum, holding
 * [off, off + len); else NULL with *rc saying why (logged). */
static const struct npmu__stripe_manifest *pick_exact(const struct set *s, uint64_t version,
						       uint64_t length_csum, uint64_t off,
						       uint64_t len, int *rc)
{
	const struct npmu__stripe_manifest *mf = exact(s, version);
	*rc = !mf ? NPMU_E_NOENT : mf->length_csum != length_csum ? NPMU_E_CORRUPT
		: off > mf->layout.length || len > mf->layout.length - off ? NPMU_E_RANGE : 0;
	if (*rc == NPMU_E_NOENT)
		LOG_WARN("stripe %s: no member holds version %llu", s->name,
			 (unsigned long long)version);
	else if (*rc == NPMU_E_CORRUPT)
		LOG_WARN("stripe %s: version %llu is another write of that number (checksum %016llx, "
			 "not %016llx): not read", s->name, (unsigned long long)version,
			 (unsigned long long)mf->length_csum, (unsigned long long)length_csum);
	else if (*rc == NPMU_E_RANGE)
		LOG_WARN("stripe %s: bytes %llu..%llu are beyond version %llu's %llu", s->name,
			 (unsigned long long)off, (unsigned long long)(off + len),
			 (unsigned long long)version, (unsigned long long)mf->layout.length);
	return *rc == 0 ? mf : NULL;
}

/* npmu__stripe_read_range -- a byte range of one version of set NAME (stripe_ops.h). */
int npmu__stripe_read_range(struct npmu_conn *conn, const char *name, uint64_t version,
			    uint64_t length_csum, uint64_t off, void *buf, uint64_t len,
			    struct npmu_stripe_report *rep)
{
	struct npmu__stripe_reader *r = NULL;
	int rc = npmu__stripe_reader_read(&r, conn, name, version, length_csum, off, buf, len, rep);
	npmu__stripe_reader_close(&r);
	return rc;
}

/* read_open_set -- version's bytes [off, off + len) from open set s (see read_range). */
static int read_open_set(struct set *s, uint64_t version, uint64_t length_csum, uint64_t off,
			 void *buf, uint64_t len, struct npmu_stripe_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	int rc = 0;
	const struct npmu__stripe_manifest *top = newest(s, 0, NULL);
	const struct npmu__stripe_manifest *mf = pick_exact(s, version, length_csum, off, len, &rc);
	rep->lost = count_lost(s);
	rep->newest = top ? top->version : 0;
	rep->version = mf ? mf->version : 0;
	if (mf && len)
		rc = read_span(s, mf, off, buf, len, rep);
	return rc;
}

/* npmu__stripe_reader_read -- read_range through a set kept open in *r (see stripe_ops.h). */
int npmu__stripe_reader_read(struct npmu__stripe_reader **r, struct npmu_conn *conn,
			     const char *name, uint64_t version, uint64_t length_csum, uint64_t off,
			     void *buf, uint64_t len, struct npmu_stripe_report *rep)
{
	struct npmu_stripe_report dummy;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	if (!r || (!buf && len) || !version)
		return NPMU_E_INVAL;
	int rc = NPMU_E_NOENT;
	bool fresh = false;
	if (*r && !exact((struct set *)*r, version))
		refresh_manifests((struct set *)*r); /* a version committed since it was opened */
	for (int attempt = 0; attempt < 2 && rc != 0; attempt++) {
		if (*r && attempt > 0)
			npmu__stripe_reader_close(r); /* what it had open may be stale: once more */
		if (!*r) {
			struct set *s;
			if ((rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s)) != 0)
				return rc;
			*r = (struct npmu__stripe_reader *)s;
			fresh = true;
		}
		rc = read_open_set((struct set *)*r, version, length_csum, off, buf, len, rep);
		if (fresh)
			break; /* just opened: its answer is the answer */
	}
	if (rc == NPMU_E_LOST)
		LOG_WARN("stripe %s: bytes %llu..%llu of version %llu cannot be restored: %s", name,
			 (unsigned long long)off, (unsigned long long)(off + len),
			 (unsigned long long)version, rep->which);
	return rc;
}

/* npmu__stripe_reader_find -- npmu__stripe_find through *r (stripe_ops.h). */
int npmu__stripe_reader_find(struct npmu__stripe_reader **r, struct npmu_conn *conn, bool quick,
			     const char *name, uint64_t version, struct npmu__stripe_version *out)
{
	if (!r || !out || !version)
		return NPMU_E_INVAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!*r) {
			struct set *s;
			int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
			if (rc != 0)
				return rc;
			*r = (struct npmu__stripe_reader *)s;
			attempt = 1; /* just opened: its answer is the answer */
		} else {
			refresh_manifests((struct set *)*r);
		}
		struct set *s = (struct set *)*r;
		const struct npmu__stripe_manifest *mf = exact(s, version);
		if (mf) {
			*out = (struct npmu__stripe_version){.version = mf->version,
							     .length = mf->layout.length,
							     .length_csum = mf->length_csum,
							     .members = holders_of(s, version)};
			return 0;
		}
		if (attempt == 0 && quick && count_lost(s) == 0)
			break; /* every member answered, and none holds it */
		if (attempt == 0)
			npmu__stripe_reader_close(r); /* a member re-placed since: once more */
	}
	return NPMU_E_NOENT;
}

/* seen_of -- the distinct versions open set s's members hold, newest first, with their holders. */
static void seen_of(const struct set *s, struct npmu__stripe_seen *out)
{
	memset(out, 0, sizeof(*out));
	out->n = s->n;
	out->open = s->n - count_lost(s);
	for (const struct npmu__stripe_manifest *mf = newest(s, 0, NULL);
	     mf && out->nversions < NPMU__STRIPE_SEEN_MAX; mf = newest(s, mf->version, NULL))
		out->v[out->nversions++] = (struct npmu__stripe_version){
			.version = mf->version, .length = mf->layout.length,
			.length_csum = mf->length_csum, .members = holders_of(s, mf->version)};
}

/* npmu__stripe_reader_seen -- what a set's members hold, through a kept reader (stripe_ops.h). */
int npmu__stripe_reader_seen(struct npmu__stripe_reader **r, struct npmu_conn *conn,
			     const char *name, struct npmu__stripe_seen *out)
{
	if (!r || !out)
		return NPMU_E_INVAL;
	if (*r && count_lost((struct set *)*r) == 0) {
		refresh_manifests((struct set *)*r);
		if (count_lost((struct set *)*r) == 0) {
			seen_of((const struct set *)*r, out);
			return 0;
		}
	}
	npmu__stripe_reader_close(r); /* not yet open, or a member lost: from pmmd's list */
	struct set *s;
	int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
	if (rc != 0)
		return rc;
	*r = (struct npmu__stripe_reader *)s;
	seen_of(s, out);
	return 0;
}

/* members_agree -- whether every member open holds a manifest of the newest version any of them
 * holds (after a put or an update every member written holds it; a member that does not was
 * left behind: re-placed, or written while this reader did not see it). */
static bool members_agree(const struct set *s)
{
	const struct npmu__stripe_manifest *top = newest(s, 0, NULL);
	for (uint32_t i = 0; top && i < s->n; i++) {
		if (!s->mem[i].r || s->mem[i].state != NPMU_MEMBER_OK)
			continue;
		bool has = false;
		for (uint32_t k = 0; k < s->shape.keep && !has; k++)
			has = s->have[i][k] && s->mf[i][k].version == top->version;
		if (!has)
			return false;
	}
	return top != NULL;
}

/* newest_of -- (open set s) its newest version restored into new memory, no older in its
 * place. */
static int newest_of(struct set *s, void **data, uint64_t *len, struct npmu_stripe_report *rep)
{
	struct get_dest d = {.newest_only = true};
	memset(rep, 0, sizeof(*rep));
	int rc = 0;
	const struct npmu__stripe_manifest *mf = pick_version(s, 0, rep, &rc);
	if (mf)
		rc = restore_to(s, mf, &d, NULL, NULL, rep);
	if (mf && rc == 0) {
		*data = d.mine;
		*len = mf->layout.length;
	} else {
		free(d.mine);
	}
	return rc;
}

/* npmu__stripe_reader_newest -- npmu__stripe_get_newest through *r (stripe_ops.h). */
int npmu__stripe_reader_newest(struct npmu__stripe_reader **r, struct npmu_conn *conn,
			       const char *name, void **data, uint64_t *len,
			       struct npmu_stripe_report *rep)
{
	struct npmu_stripe_report dummy;
	if (!rep)
		rep = &dummy;
	if (!r || !data || !len)
		return NPMU_E_INVAL;
	if (*r) {
		struct set *s = (struct set *)*r;
		refresh_manifests(s);
		if (members_agree(s) && newest_of(s, data, len, rep) == 0)
			return 0;
		npmu__stripe_reader_close(r); /* stale, or a member gone: from pmmd's list again */
	}
	struct set *s;
	int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
	if (rc != 0)
		return rc;
	*r = (struct npmu__stripe_reader *)s;
	return newest_of(s, data, len, rep);
}

/* npmu__stripe_reader_close -- close what a reader holds open; NULLs *r. */
void npmu__stripe_reader_close(struct npmu__stripe_reader **r)
{
	if (r && *r)
		set_close((struct set *)*r);
	if (r)
		*r = NULL;
}

/* read_newest -- (the set's lease held) the newest version of set NAME into new memory: NULL, 0
 * when the set does not exist or holds no version. */
static int read_newest(struct npmu_conn *conn, const char *name, void **cur, uint64_t *cur_len)
{
	struct set *s;
	*cur = NULL;
	*cur_len = 0;
	int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
	if (rc == NPMU_E_NOENT)
		return 0;
	if (rc != 0)
		return rc;
	const struct npmu__stripe_manifest *mf = newest(s, 0, NULL);
	struct npmu_stripe_report rep = {0};
	struct get_dest d = {0};
	rc = mf ? restore_to(s, mf, &d, NULL, NULL, &rep) : 0;
	if (rc != 0)
		LOG_WARN("stripe %s: its newest version, %llu, cannot be read to update it: %s", name,
			 (unsigned long long)mf->version, rep.which[0] ? rep.which : npmu_strerror(rc));
	if (rc == 0 && mf) {
		*cur = d.mine;
		*cur_len = mf->layout.length;
	} else {
		free(d.mine);
	}
	set_close(s);
	return rc;
}

/* update_locked -- (set NAME's lease held in lh) read the newest version, let fn change it, put
 * what fn returns as the next version. */
static int update_locked(struct npmu_conn *conn, const char *name, const struct npmu_stripe_cfg *c,
			 const struct npmu_stripe_cfg *cfg, struct npmu__lease_holder *lh,
			 npmu__stripe_update_fn fn, void *arg)
{
	void *cur, *out = NULL;
	uint64_t cur_len, out_len = 0;
	int rc = read_newest(conn, name, &cur, &cur_len);
	if (rc != 0)
		return rc;
	rc = fn(cur, cur_len, &out, &out_len, arg);
	free(cur);
	if (rc == 0 && !out && out_len)
		rc = NPMU_E_INVAL;
	/* data first: a record read without falling back (read_newest) must never be torn */
	struct npmu__stripe_put_opts o = {.data_first = true};
	if (rc == 0)
		rc = put_locked(conn, name, out, out_len, c, cfg, &o, lh, NULL, NULL, NULL);
	free(out);
	return rc == 1 ? 0 : rc > 1 ? NPMU_E_INVAL : rc;
}

/* npmu__stripe_update -- read-modify-write of a small set under its lease (stripe_ops.h). */
int npmu__stripe_update(struct npmu_conn *conn, const char *name, const struct npmu_stripe_cfg *cfg,
			int wait_ms, npmu__stripe_update_fn fn, void *arg)
{
	struct npmu_stripe_cfg c;
	int rc = fn ? put_args(conn, name, NULL, 0, cfg, NULL, &c) : NPMU_E_INVAL;
	uint32_t members = 0;
	if (rc == 0)
		rc = set_members(conn, name, &members);
	if (rc != 0)
		return rc;
	struct npmu__lease_holder lh;
	int took = take_set(conn, name, members ? members : c.n, wait_ms, &lh);
	rc = took != 0 ? took : update_locked(conn, name, &c, cfg, &lh, fn, arg);
	let_go(&lh, took);
	if (took == NPMU_E_LEASE && wait_ms == 0) {
		LOG_DEBUG("stripe %s: another process is writing it: not updated", name);
		return NPMU_E_BUSY;
	}
	return rc;
}

/* unit_up -- whether the manager lists unit addr as answering. */
static bool unit_up(const struct npmu_unit_info *list, size_t count, const char *addr)
{
	for (size_t u = 0; u < count; u++)
		if (strcmp(list[u].addr, addr) == 0)
			return list[u].up != 0;
	return false;
}

/* delete_member -- delete member i of open set s (the lease held); a member whose unit does not
 * answer, or that refuses (access denied), is left, said into `left` ("NAME.sI (host:port:
 * why)"). Returns 0, or why it was left: NPMU_E_UNREACHABLE (its unit down), or the refusal. */
static int delete_member(struct set *s, uint32_t i, const struct npmu__stripe_manifest *top,
			 const struct npmu_unit_info *list, size_t count, char *left, size_t cap)
{
	char unit[NPMU_ADDR_STR_MAX + 1]; /* (copied: it may lie in the handle closed below) */
	snprintf(unit, sizeof(unit), "%s", top ? member_unit(s, i, top) : "unit unknown");
	bool open = s->mem[i].state == NPMU_MEMBER_OK || s->mem[i].state == NPMU_MEMBER_CORRUPT;
	if (s->mem[i].r)
		npmu_region_close(&s->mem[i].r);
	int rc = npmu_region_delete(s->conn, s->mem[i].region);
	if (rc == 0 || (rc == NPMU_E_NOENT && (open || (top && unit_up(list, count, unit)))))
		return 0; /* deleted, or missing from a unit that answers: nothing left */
	size_t at = strlen(left);
	snprintf(left + at, cap - at, "%s%s (%s: %s)", at ? ", " : "", s->mem[i].region, unit,
		 rc == NPMU_E_NOENT ? "unit down" : npmu_strerror(rc));
	return rc == NPMU_E_NOENT ? NPMU_E_UNREACHABLE : rc;
}

/* delete_members -- (set NAME's lease held) delete every member; those on units that do not
 * answer, or that refuse, are left, named once: NPMU_E_UNREACHABLE, or the refusal (such as
 * NPMU_E_ACCESS: the members were made by another principal). */
static int delete_members(struct npmu_conn *conn, const char *name)
{
	struct set *s;
	int rc = set_open(conn, name, NPMU_ACCESS_READ, 0, &s);
	if (rc != 0)
		return rc;
	struct npmu_unit_info *list = NULL;
	size_t count = 0;
	if (npmu_unit_list(conn, &list, &count) != 0)
		count = 0; /* no list: a member that is not found is said left */
	const struct npmu__stripe_manifest *top = newest(s, 0, NULL);
	char left[1024] = "";
	uint32_t nleft = 0;
	rc = 0; /* the first refusal that is not a unit down (access denied) wins */
	for (uint32_t i = 0; i < s->n; i++) {
		int d = delete_member(s, i, top, list, count, left, sizeof(left));
		nleft += d != 0;
		rc = !rc || (rc == NPMU_E_UNREACHABLE && d != 0) ? d : rc;
	}
	if (nleft)
		LOG_WARN("stripe %s: %u of its %u members not deleted: %s; %s", name, nleft, s->n,
			 left, rc == NPMU_E_UNREACHABLE ? "delete the set again once their units are back"
						 : "deleting them needs a principal allowed to");
	else
		LOG_INFO("stripe %s: deleted (%u members)", name, s->n);
	free(list);
	set_close(s);
	return rc;
}

/* delete_staging -- the set's staging region (src/proto/stage_format.h) deleted with it, first,
 * so no encoder makes the set again from what was staged. */
static int delete_staging(struct npmu_conn *conn, const char *name)
{
	char region[NPMU_NAME_MAX + 8];
	snprintf(region, sizeof(region), "%s%s", name, NPMU_STAGE_SUFFIX);
	int rc = npmu_region_delete(conn, region);
	if (rc == 0)
		LOG_INFO("stripe %s: its staging region %s deleted", name, region);
	return rc == NPMU_E_NOENT ? 0 : rc;
}

/* npmu_stripe_delete -- delete set NAME without waiting for a writer (see npmu.h). */
int npmu_stripe_delete(struct npmu_conn *conn, const char *name)
{
	uint32_t members;
	uint64_t present;
	bool staging = false;
	int rc = set_members(conn, name, &members);
	if (rc == 0 && npmu__stripe_members(conn, name, &present, &staging) == 0 && staging &&
	    members == 0)
		return delete_staging(conn, name); /* staged versions only, never protected */
	if (rc == 0 && members == 0)
		rc = NPMU_E_NOENT;
	if (rc != 0)
		return rc;
	struct npmu__lease_holder lh;
	int took = take_set(conn, name, members, 0, &lh);
	if (took == 0 && staging)
		rc = delete_staging(conn, name);
	rc = took != 0 ? took : rc != 0 ? rc : delete_members(conn, name);
	let_go(&lh, took);
	if (took == NPMU_E_LEASE) {
		LOG_WARN("stripe %s: a put or a rebuild is writing it: not deleted", name);
		return NPMU_E_BUSY;
	}
	return rc;
}
