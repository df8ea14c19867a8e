/* mirror.c -- the client side of mirrored regions: writes to both copies, reads from the chosen
 * copy with fall-back, degraded mode, the attribute cache, and resynchronisation (seed 003). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "codec.h"
#include "log.h"

#define RESYNC_CHUNK (1u << 20) /* bytes copied per step; writers get in between steps */
#define RESYNC_REPORT_MS 500    /* resync progress is recorded at the manager this often */
#define ATTR_TTL_MS 1000        /* a reader relearns the copy states this often */
#define PROBE_MS 250            /* the resync thread asks a lost unit again after this long, */
#define PROBE_MAX_MS 2000       /* doubling up to this while it stays away */
#define SUSPECT_MS 2000         /* a copy that failed a read is tried last for this long */
#define HANDOVER_MS 50          /* resync waits at most this long for waiting writes per step */

/* lock_fg -- take mlock for a write, a read or a look at the copies; counted as waiting, so
 * that the resync thread hands the lock over between its steps (a mutex alone would give it
 * straight back to the resync loop, and a write could wait for the whole resync). */
static void lock_fg(struct npmu_region *r)
{
	atomic_fetch_add(&r->mwaiting, 1);
	pthread_mutex_lock(&r->mlock);
	atomic_fetch_sub(&r->mwaiting, 1);
}

/* transport_err -- whether rc says the copy could not be reached (rather than refused). */
static bool transport_err(int rc)
{
	return rc == NPMU_E_UNREACHABLE || rc == NPMU_E_TIMEDOUT || rc == NPMU_E_FABRIC;
}

/* writer -- whether this handle may write. */
static bool writer(const struct npmu_region *r)
{
	return r->ai.access == NPMU_ACCESS_READ_WRITE;
}

/* take_record -- adopt a record from the manager if it is at least as new as the cached one. */
static void take_record(struct npmu_region *r, const struct npmu__mirror *m)
{
	if (m->generation >= r->m.generation) {
		r->m = *m;
		r->m_at_ms = npmu__now_ms();
	}
}

/*
 * mirror_call -- one MIRROR request to the manager, showing this handle's write keys; the
 * record in the reply becomes the cached one. For ATTACH, *attach gets the new right. mlock held.
 */
static int mirror_call(struct npmu_region *r, uint32_t op, uint32_t copy, uint64_t value,
		       uint32_t *reach, struct npmu__copy *attach, char *attach_unit)
{
	struct npmu__request req = {.op = op, .copy = copy, .value = value,
				    .holder = r->conn->holder};
	snprintf(req.name, sizeof(req.name), "%s", r->info.name);
	if (writer(r)) {
		req.key = r->copy[0].granted ? r->copy[0].ai.key : 0;
		req.key1 = r->copy[1].granted ? r->copy[1].ai.key : 0;
	}
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&r->conn->rpc.lock);
	int rc = npmu__conn_call(r->conn, NPMU_MSG_MIRROR, &req, &body, &blen);
	if (rc == 0) {
		struct npmu__mirror_reply mr;
		rc = npmu__reply_mirror(body, blen, attach != NULL, &mr);
		if (rc == 0) {
			take_record(r, &mr.m);
			if (reach)
				*reach = mr.reach;
			if (attach) {
				memset(attach, 0, sizeof(*attach));
				attach->region_id = mr.attach.region_id;
				attach->ai = mr.attach.ai;
				snprintf(attach_unit, NPMU_ADDR_STR_MAX + 1, "%s", mr.attach.ai.unit);
			}
		}
	}
	pthread_mutex_unlock(&r->conn->rpc.lock);
	if (rc != 0)
		LOG_DEBUG("region %s: mirror request %u: %s", r->info.name, op, npmu_strerror(rc));
	return rc;
}

/* target -- the transfer target of copy c. */
static struct npmu__xfer_target target(struct npmu_region *r, int c)
{
	return (struct npmu__xfer_target){.data = r->copy[c].data,
					  .ai = &r->copy[c].ai,
					  .region_id = r->copy[c].region_id,
					  .quick = true};
}

/* ping -- ask copy c's unit whether the key still holds (PERSIST of nothing); 0, NPMU_E_ACCESS
 * (a read right), NPMU_E_KEY, or a transport error. Measures the round trip. */
static int ping(struct npmu__copy *cp, int timeout_ms)
{
	struct npmu__request req = {.region_id = cp->region_id, .key = cp->ai.key};
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&cp->data->rpc.lock);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int rc = npmu__rpc_call(&cp->data->rpc, NPMU_MSG_PERSIST, &req, &body, &blen, timeout_ms);
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_mutex_unlock(&cp->data->rpc.lock);
	cp->rtt_us = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000 + (uint64_t)(b.tv_nsec - a.tv_nsec) / 1000;
	return rc == NPMU_E_NOENT ? NPMU_E_KEY : rc;
}

/* take_copies -- each copy's right in an OPEN reply into cp[], with its unit's connection (a
 * copy granted on a unit that cannot be reached counts as not granted); conn->rpc.lock held. */
static void take_copies(struct npmu_region *r, const struct npmu__open_reply *o,
			struct npmu__copy *cp)
{
	for (int k = 0; k < NPMU_MIRROR_COPIES; k++) {
		cp[k] = (struct npmu__copy){.granted = o->copy[k].granted,
					    .region_id = o->copy[k].region_id, .ai = o->copy[k].ai};
		if (cp[k].granted && npmu__conn_unit(r->conn, cp[k].ai.unit, &cp[k].data) != 0) {
			LOG_WARN("region %s: copy on %s granted but not reachable", r->info.name,
				 cp[k].ai.unit);
			cp[k].granted = false;
		}
	}
}

/* serving_copy -- the first copy granted and in sync in m: the one data and ai name (-1: none). */
static int serving_copy(const struct npmu__copy *cp, const struct npmu__mirror *m)
{
	for (int k = 0; k < NPMU_MIRROR_COPIES; k++)
		if (cp[k].granted && m->copy[k].state == NPMU__COPY_IN_SYNC)
			return k;
	return -1;
}

/* give_back -- close each granted copy's right at its unit (a unit that is gone drops it when
 * replaced); returns the first refusal that is not a transport error. */
static int give_back(struct npmu_region *r, const struct npmu__copy *cp)
{
	int rc = 0;
	for (int k = 0; k < NPMU_MIRROR_COPIES; k++) {
		if (!cp[k].granted || !cp[k].data) /* (a reply that did not parse leaves no connection) */
			continue;
		struct npmu__request req = {.region_id = cp[k].region_id, .key = cp[k].ai.key};
		const uint8_t *body;
		size_t blen;
		pthread_mutex_lock(&cp[k].data->rpc.lock);
		int crc = npmu__rpc_call(&cp[k].data->rpc, NPMU_MSG_CLOSE, &req, &body, &blen,
					 r->conn->io_timeout_ms);
		pthread_mutex_unlock(&cp[k].data->rpc.lock);
		if (crc != 0 && !transport_err(crc) && rc == 0)
			rc = crc;
	}
	return rc;
}

/* measure -- each granted copy's round trip (a copy that does not answer goes last); returns how
 * many copies in sync there are to serve. */
static int measure(struct npmu_region *r, struct npmu__copy *cp, const struct npmu__mirror *m)
{
	int usable = 0;
	for (int k = 0; k < NPMU_MIRROR_COPIES; k++) {
		if (!cp[k].granted)
			continue;
		int rc = ping(&cp[k], r->conn->io_timeout_ms);
		if (rc != 0 && rc != NPMU_E_ACCESS)
			cp[k].rtt_us = UINT64_MAX;
		usable += m->copy[k].state == NPMU__COPY_IN_SYNC;
	}
	return usable;
}

/* npmu__mirror_open -- the mirror part of an OPEN reply: the record, then each copy's right.
 * conn->rpc.lock held (the copies' unit connections are made here). */
int npmu__mirror_open(struct npmu_region *r, const struct npmu__open_reply *o)
{
	pthread_mutex_init(&r->mlock, NULL);
	atomic_init(&r->mwaiting, 0);
	pthread_cond_init(&r->bg_cond, NULL);
	r->last_read = -1;
	r->m = o->m;
	r->m_at_ms = npmu__now_ms();
	take_copies(r, o, r->copy);
	int k = serving_copy(r->copy, &r->m); /* data and ai: a copy that answers */
	if (k < 0)
		return NPMU_E_UNREACHABLE;
	r->data = r->copy[k].data;
	r->ai = r->copy[k].ai;
	r->info.id = r->copy[k].region_id;
	return 0;
}

static void *bg_main(void *arg);

/* bg_start -- (a writer) start the resync thread unless it runs; mlock held. */
static void bg_start(struct npmu_region *r)
{
	if (!writer(r) || r->bg_state == NPMU__BG_RUNNING)
		return;
	if (r->bg_state == NPMU__BG_FINISHED)
		pthread_join(r->bg, NULL);
	r->bg_state = NPMU__BG_NONE;
	r->bg_stop = false;
	if (pthread_create(&r->bg, NULL, bg_main, r) == 0)
		r->bg_state = NPMU__BG_RUNNING;
	else
		LOG_WARN("region %s: cannot start the resync thread", r->info.name);
}

/* npmu__mirror_start -- measure each copy's round trip; a writer starts resyncing stale ones. */
int npmu__mirror_start(struct npmu_region *r)
{
	if (measure(r, r->copy, &r->m) == 0)
		return NPMU_E_UNREACHABLE;
	pthread_mutex_lock(&r->mlock);
	if (npmu__mirror_in_sync(&r->m) < NPMU_MIRROR_COPIES || !r->copy[0].granted ||
	    !r->copy[1].granted)
		bg_start(r);
	pthread_mutex_unlock(&r->mlock);
	return 0;
}

/* npmu__mirror_close -- stop the resync thread and give every copy's right back. */
int npmu__mirror_close(struct npmu_region *r)
{
	pthread_mutex_lock(&r->mlock);
	r->bg_stop = true;
	pthread_cond_broadcast(&r->bg_cond);
	enum npmu__bg_state state = r->bg_state;
	pthread_mutex_unlock(&r->mlock);
	if (state != NPMU__BG_NONE)
		pthread_join(r->bg, NULL);
	int rc = give_back(r, r->copy);
	pthread_cond_destroy(&r->bg_cond);
	pthread_mutex_destroy(&r->mlock);
	return rc;
}

/* degrade -- copy c could not take a write: have the manager record it stale before the
 * write counts, then resync it in the background. mlock held. */
static int degrade(struct npmu_region *r, int c, int why)
{
	LOG_WARN("region %s: copy on %s: %s; going on degraded", r->info.name, r->m.copy[c].unit,
		 npmu_strerror(why));
	int rc = mirror_call(r, NPMU__MIRROR_DEGRADE, (uint32_t)c, 0, NULL, NULL, NULL);
	if (rc == 0 && r->m.copy[c].state != NPMU__COPY_STALE)
		rc = NPMU_E_INTERNAL;
	if (rc != 0) {
		LOG_WARN("region %s: the manager could not record the copy stale: %s", r->info.name,
			 npmu_strerror(rc));
		return rc == NPMU_E_FENCED ? rc : transport_err(rc) || rc == NPMU_E_CORRUPT ? why : rc;
	}
	bg_start(r);
	return 0;
}

/* settle -- after a write or persist to targets: degrade the copies that could not be reached;
 * the outcome counts only if a copy in sync took it. mlock held. */
static int settle(struct npmu_region *r, const int *copies, const int *rcs, int n)
{
	int rc = 0;
	bool landed = false;
	for (int k = 0; k < n; k++) {
		int c = copies[k];
		if (rcs[k] == 0) {
			landed |= r->m.copy[c].state == NPMU__COPY_IN_SYNC;
			continue;
		}
		if (!transport_err(rcs[k])) {
			rc = rc ? rc : rcs[k]; /* refused (a revoked key, a range): no fail-over */
			continue;
		}
		int drc = degrade(r, c, rcs[k]);
		if (drc != 0)
			rc = rc ? rc : drc;
	}
	if (rc == 0 && !landed)
		rc = NPMU_E_UNREACHABLE;
	return rc;
}

/* degrade_unheld -- (before a write or persist) a copy recorded in sync or resyncing that this
 * handle holds no right on (its unit did not answer us at open: an asymmetric partition, or
 * the manager could not grant it) would miss what follows: have the manager record it stale
 * first (M1, M2), or nothing may be written. mlock held. */
static int degrade_unheld(struct npmu_region *r)
{
	for (int c = 0; c < NPMU_MIRROR_COPIES; c++)
		if (!r->copy[c].granted && r->m.copy[c].state != NPMU__COPY_STALE) {
			int rc = degrade(r, c, NPMU_E_UNREACHABLE);
			if (rc != 0)
				return rc;
		}
	return 0;
}

/* targets -- the copies writes go to: granted, and in sync or resyncing. mlock held. */
static int targets(struct npmu_region *r, int *copies)
{
	int n = 0;
	for (int c = 0; c < NPMU_MIRROR_COPIES; c++)
		if (r->copy[c].granted && r->m.copy[c].state != NPMU__COPY_STALE)
			copies[n++] = c;
	return n;
}

/* npmu__mirror_write -- write to both copies at once; degrade the one that cannot take it. */
int npmu__mirror_write(struct npmu_region *r, const struct npmu_iov *iov, int iovcnt)
{
	lock_fg(r);
	int copies[NPMU_MIRROR_COPIES], rcs[NPMU_MIRROR_COPIES];
	int rc = degrade_unheld(r);
	int n = rc == 0 ? targets(r, copies) : 0;
	struct npmu__xfer_target t[NPMU_MIRROR_COPIES];
	for (int k = 0; k < n; k++)
		t[k] = target(r, copies[k]);
	if (rc == 0)
		rc = NPMU_E_UNREACHABLE;
	if (n > 0) {
		npmu__transfer(t, n, 1, iov, iovcnt, r->conn->io_timeout_ms);
		for (int k = 0; k < n; k++)
			rcs[k] = t[k].rc;
		rc = settle(r, copies, rcs, n);
	}
	pthread_mutex_unlock(&r->mlock);
	return rc;
}

/* npmu__mirror_persist -- flush the range on every copy writes go to. */
int npmu__mirror_persist(struct npmu_region *r, uint64_t off, uint64_t len)
{
	lock_fg(r);
	int copies[NPMU_MIRROR_COPIES], rcs[NPMU_MIRROR_COPIES];
	int drc = degrade_unheld(r);
	int n = drc == 0 ? targets(r, copies) : 0;
	/* a flush takes time by its size: allow about 4 ms per MiB beyond the I/O timeout */
	int timeout = r->conn->io_timeout_ms + (int)((len >> 20) * 4 > 600000 ? 600000 : (len >> 20) * 4);
	for (int k = 0; k < n; k++) {
		struct npmu__copy *cp = &r->copy[copies[k]];
		struct npmu__request req = {
			.region_id = cp->region_id, .key = cp->ai.key, .offset = off, .len = len};
		const uint8_t *body;
		size_t blen;
		pthread_mutex_lock(&cp->data->rpc.lock);
		rcs[k] = npmu__rpc_call(&cp->data->rpc, NPMU_MSG_PERSIST, &req, &body, &blen, timeout);
		pthread_mutex_unlock(&cp->data->rpc.lock);
	}
	int rc = drc ? drc : n > 0 ? settle(r, copies, rcs, n) : NPMU_E_UNREACHABLE;
	pthread_mutex_unlock(&r->mlock);
	return rc;
}

/* regrant -- (a reader) ask for rights again, to get rights on the copies in sync now; the old
 * rights are given back. mlock held. */
static int regrant(struct npmu_region *r)
{
	struct npmu__open_reply o;
	struct npmu__copy fresh[NPMU_MIRROR_COPIES] = {0};
	pthread_mutex_lock(&r->conn->rpc.lock);
	int rc = npmu__open_call(r->conn, r->info.name, (enum npmu_access)r->ai.access, r->lease, &o);
	if (rc == 0 && !o.mirrored)
		rc = NPMU_E_KEY; /* not the mirrored region this handle was opened on */
	if (rc == 0)
		take_copies(r, &o, fresh);
	pthread_mutex_unlock(&r->conn->rpc.lock);
	int k = rc == 0 ? serving_copy(fresh, &o.m) : -1;
	if (rc == 0 && (k < 0 || measure(r, fresh, &o.m) == 0))
		rc = NPMU_E_UNREACHABLE;
	if (rc != 0) {
		give_back(r, fresh);
		return rc;
	}
	struct npmu__copy old[NPMU_MIRROR_COPIES];
	memcpy(old, r->copy, sizeof(old));
	memcpy(r->copy, fresh, sizeof(r->copy));
	r->m = o.m;
	r->m_at_ms = npmu__now_ms();
	r->info = o.info;
	r->info.id = fresh[k].region_id;
	r->ai = fresh[k].ai;
	r->data = fresh[k].data;
	give_back(r, old);
	return 0;
}

/* read_order -- the copies to read from, best first: the one asked for (or the nearest), in
 * sync and granted; a copy that failed lately goes last. Returns the count. mlock held. */
static int read_order(struct npmu_region *r, int *order, const uint64_t *suspect)
{
	int first = r->read_from == NPMU_COPY_PRIMARY ? 0
		    : r->read_from == NPMU_COPY_MIRROR ? 1
		    : r->copy[1].granted && r->copy[1].rtt_us < r->copy[0].rtt_us ? 1 : 0;
	int cand[2] = {first, 1 - first}, n = 0;
	uint64_t now = npmu__now_ms();
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < 2; k++) {
			int c = cand[k];
			bool ok = r->copy[c].granted && r->m.copy[c].state == NPMU__COPY_IN_SYNC;
			bool late = suspect[c] > now;
			if (ok && late == (pass == 1))
				order[n++] = c;
		}
	return n;
}

/* npmu__mirror_read -- read from the copy asked for, falling back to the other one. */
int npmu__mirror_read(struct npmu_region *r, uint64_t off, void *buf, size_t len)
{
	uint64_t *suspect = r->suspect_ms;
	lock_fg(r);
	if (!writer(r) && npmu__now_ms() - r->m_at_ms > ATTR_TTL_MS)
		(void)mirror_call(r, NPMU__MIRROR_GET, 0, 0, NULL, NULL, NULL); /* stale cache */
	struct npmu_iov iov = {off, buf, len};
	int rc = NPMU_E_UNREACHABLE;
	for (int attempt = 0; attempt < 2; attempt++) {
		int order[NPMU_MIRROR_COPIES];
		int n = read_order(r, order, suspect);
		for (int k = 0; k < n; k++) {
			struct npmu__xfer_target t = target(r, order[k]);
			rc = npmu__transfer(&t, 1, 0, &iov, 1, r->conn->io_timeout_ms);
			if (rc == 0) {
				r->last_read = order[k];
				pthread_mutex_unlock(&r->mlock);
				return 0;
			}
			LOG_INFO("region %s: read from copy on %s: %s%s", r->info.name,
				 r->m.copy[order[k]].unit, npmu_strerror(rc),
				 k + 1 < n ? "; reading the other copy" : "");
			suspect[order[k]] = npmu__now_ms() + SUSPECT_MS;
		}
		/* nothing could serve it: relearn the copies (a reader may lack a right on a copy
		 * that came back in sync since it opened) and try once more */
		if (attempt == 1 || writer(r) || regrant(r) != 0)
			break;
	}
	pthread_mutex_unlock(&r->mlock);
	return rc;
}

/* source_copy -- an in-sync, granted copy other than c, or -1. mlock held. */
static int source_copy(struct npmu_region *r, int c)
{
	for (int k = 0; k < NPMU_MIRROR_COPIES; k++)
		if (k != c && r->copy[k].granted && r->m.copy[k].state == NPMU__COPY_IN_SYNC)
			return k;
	return -1;
}

/* attach_copy -- (mlock held; dropped while the copy's unit is asked) a new right on stale copy
 * c, which is then recorded RESYNCING from *start (0 when it had no right before: writes
 * skipped it). */
static int attach_copy(struct npmu_region *r, int c, uint64_t *start)
{
	/* Is the unit back, and does our right there still hold? Ask without holding mlock (the
	 * copy is stale: no write or read touches it meanwhile). */
	struct npmu__copy cp = r->copy[c];
	pthread_mutex_unlock(&r->mlock);
	int prc = cp.granted ? ping(&cp, r->conn->io_timeout_ms) : NPMU_E_KEY;
	pthread_mutex_lock(&r->mlock);
	if (r->bg_stop || transport_err(prc))
		return NPMU_E_UNREACHABLE;
	/* A new right every time, even when ours still holds: ATTACH closes the copy's earlier
	 * rights at its unit, so that a write still in flight on a connection given up when the
	 * copy went stale is refused rather than landing after the resync over newer bytes. */
	char unit[NPMU_ADDR_STR_MAX + 1];
	int rc = mirror_call(r, NPMU__MIRROR_ATTACH, (uint32_t)c, 0, NULL, &cp, unit);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&r->conn->rpc.lock);
	rc = npmu__conn_unit(r->conn, unit, &cp.data);
	pthread_mutex_unlock(&r->conn->rpc.lock);
	if (rc != 0)
		return NPMU_E_UNREACHABLE;
	cp.granted = true;
	cp.rtt_us = UINT64_MAX;
	r->copy[c] = cp;
	if (prc != 0)
		*start = 0; /* it had no right here: writes skipped it (replaced, restarted) */
	return mirror_call(r, NPMU__MIRROR_RESYNC, (uint32_t)c, *start, NULL, NULL, NULL);
}

/* copy_chunks -- (mlock held per chunk) copy [start, size) from copy src to copy c, letting
 * writers in between chunks and telling the manager the progress now and then. */
static int copy_chunks(struct npmu_region *r, int c, int src, uint64_t start,
		       void (*progress)(uint64_t, uint64_t, void *), void *arg)
{
	uint64_t size = r->m.size, reported = npmu__now_ms();
	int timeout = r->conn->io_timeout_ms, rc = 0;
	uint8_t *buf = malloc(RESYNC_CHUNK);
	if (!buf)
		return NPMU_E_NOMEM;
	for (uint64_t pos = start; pos < size && rc == 0;) {
		size_t n = size - pos < RESYNC_CHUNK ? (size_t)(size - pos) : RESYNC_CHUNK;
		struct npmu_iov iov = {pos, buf, n};
		struct npmu__xfer_target from = target(r, src), to = target(r, c);
		rc = npmu__transfer(&from, 1, 0, &iov, 1, timeout);
		if (rc == 0) {
			rc = npmu__transfer(&to, 1, 1, &iov, 1, timeout);
			if (transport_err(rc) && degrade(r, c, rc) == 0)
				rc = NPMU_E_UNREACHABLE;
		}
		if (rc != 0)
			break;
		pos += n;
		if (progress)
			progress(pos, size, arg);
		if (npmu__now_ms() - reported >= RESYNC_REPORT_MS && pos < size) {
			reported = npmu__now_ms();
			rc = mirror_call(r, NPMU__MIRROR_RESYNC, (uint32_t)c, pos, NULL, NULL, NULL);
		}
		/* let writers in between chunks: those waiting for mlock go first (bounded) */
		pthread_mutex_unlock(&r->mlock);
		uint64_t until = npmu__now_ms() + HANDOVER_MS;
		do
			sched_yield();
		while (atomic_load(&r->mwaiting) > 0 && npmu__now_ms() < until);
		pthread_mutex_lock(&r->mlock);
		if (rc == 0 && (r->bg_stop || r->m.copy[c].state != NPMU__COPY_RESYNCING ||
				source_copy(r, c) != src))
			rc = NPMU_E_UNREACHABLE;
	}
	free(buf);
	return rc;
}

/*
 * resync_copy -- bring copy c up to date from an in-sync copy (invariant M3): get a right on it
 * (always a new one: earlier rights are closed), record it RESYNCING (from then on every write
 * goes to it too), copy it chunk by chunk with mlock held per chunk (so writes fall between
 * chunks, never inside one, and a write waiting goes before the next chunk), then have the
 * manager record it IN_SYNC. mlock held on entry and exit; released while probing.
 */
static int resync_copy(struct npmu_region *r, int c,
		       void (*progress)(uint64_t, uint64_t, void *), void *arg)
{
	int src = source_copy(r, c);
	if (src < 0)
		return NPMU_E_UNREACHABLE;
	bool continuing = r->m.copy[c].state == NPMU__COPY_RESYNCING && r->copy[c].granted;
	uint64_t start = continuing ? r->m.copy[c].resync_done : 0;
	int rc = attach_copy(r, c, &start);
	if (rc != 0)
		return rc;
	LOG_INFO("region %s: resyncing copy on %s from %llu bytes", r->info.name, r->m.copy[c].unit,
		 (unsigned long long)start);
	rc = copy_chunks(r, c, src, start, progress, arg);
	if (rc == 0)
		rc = mirror_call(r, NPMU__MIRROR_SYNCED, (uint32_t)c, 0, NULL, NULL, NULL);
	if (rc == 0)
		LOG_INFO("region %s: copy on %s in sync again", r->info.name, r->m.copy[c].unit);
	return rc;
}

/* resync_all -- resync every copy that is not in sync; 0 when all are. mlock held. */
static int resync_all(struct npmu_region *r, void (*progress)(uint64_t, uint64_t, void *),
		      void *arg)
{
	for (int c = 0; c < NPMU_MIRROR_COPIES; c++) {
		if (r->m.copy[c].state == NPMU__COPY_IN_SYNC && r->copy[c].granted)
			continue;
		if (r->m.copy[c].state == NPMU__COPY_IN_SYNC) {
			/* in sync but no right here (its unit was away at open), and no write of this
			 * handle has been made since (the first would have recorded it stale:
			 * degrade_unheld): it holds every write, so attaching is enough */
			struct npmu__copy cp;
			char unit[NPMU_ADDR_STR_MAX + 1];
			int rc = mirror_call(r, NPMU__MIRROR_ATTACH, (uint32_t)c, 0, NULL, &cp, unit);
			if (rc == 0 && r->m.copy[c].state == NPMU__COPY_IN_SYNC) {
				pthread_mutex_lock(&r->conn->rpc.lock);
				rc = npmu__conn_unit(r->conn, unit, &cp.data);
				pthread_mutex_unlock(&r->conn->rpc.lock);
				if (rc == 0) {
					cp.granted = true;
					r->copy[c] = cp;
					continue;
				}
			}
			if (rc != 0)
				return transport_err(rc) ? NPMU_E_UNREACHABLE : rc;
		}
		int rc = resync_copy(r, c, progress, arg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* bg_main -- a writer's resync thread: every PROBE_MS, try to bring stale copies back. */
static void *bg_main(void *arg)
{
	struct npmu_region *r = arg;
	long wait_ms = PROBE_MS;
	pthread_mutex_lock(&r->mlock);
	while (!r->bg_stop) {
		uint64_t gen = r->m.generation;
		int rc = resync_all(r, NULL, NULL);
		if (rc == 0 || rc == NPMU_E_FENCED || rc == NPMU_E_KEY || rc == NPMU_E_ACCESS)
			break; /* done, or no longer the writer */
		wait_ms = r->m.generation != gen ? PROBE_MS : wait_ms * 2 > PROBE_MAX_MS ? PROBE_MAX_MS
											   : wait_ms * 2;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += wait_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!r->bg_stop &&
		       pthread_cond_timedwait(&r->bg_cond, &r->mlock, &ts) != ETIMEDOUT)
			;
	}
	r->bg_state = NPMU__BG_FINISHED;
	pthread_mutex_unlock(&r->mlock);
	return NULL;
}

/* npmu_region_resync -- bring every stale copy up to date now (a writer's handle). */
int npmu_region_resync(struct npmu_region *r, void (*progress)(uint64_t, uint64_t, void *),
		       void *arg)
{
	if (!r || !r->mirrored)
		return NPMU_E_INVAL;
	if (!writer(r))
		return NPMU_E_ACCESS;
	pthread_mutex_lock(&r->mlock);
	if (r->bg_state == NPMU__BG_RUNNING) { /* the caller does it: stop the background thread first */
		r->bg_stop = true;
		pthread_cond_broadcast(&r->bg_cond);
		pthread_mutex_unlock(&r->mlock);
		pthread_join(r->bg, NULL);
		pthread_mutex_lock(&r->mlock);
		r->bg_state = NPMU__BG_NONE;
	} else if (r->bg_state == NPMU__BG_FINISHED) {
		pthread_join(r->bg, NULL);
		r->bg_state = NPMU__BG_NONE;
	}
	r->bg_stop = false;
	int rc = resync_all(r, progress, arg);
	if (rc != 0)
		bg_start(r); /* keep trying in the background */
	pthread_mutex_unlock(&r->mlock);
	return rc;
}

/* fill_info -- the public view of a record. */
static void fill_info(const struct npmu__mirror *m, uint32_t reach, struct npmu_mirror_info *out)
{
	memset(out, 0, sizeof(*out));
	out->generation = m->generation;
	out->size = m->size;
	out->ncopies = m->ncopies;
	out->reads_from = -1;
	for (uint32_t c = 0; c < m->ncopies && c < 2; c++) {
		snprintf(out->copy[c].unit, sizeof(out->copy[c].unit), "%s", m->copy[c].unit);
		out->copy[c].state = m->copy[c].state;
		out->copy[c].resync_done = m->copy[c].resync_done;
		out->copy[c].reachable = (reach >> c) & 1;
	}
}

/* npmu_region_mirror -- the copies as this handle knows them. */
int npmu_region_mirror(struct npmu_region *r, struct npmu_mirror_info *info)
{
	if (!r || !info)
		return NPMU_E_INVAL;
	if (!r->mirrored)
		return NPMU_E_INVAL;
	lock_fg(r);
	fill_info(&r->m, (r->copy[0].granted ? 1u : 0) | (r->copy[1].granted ? 2u : 0), info);
	info->reads_from = r->last_read;
	pthread_mutex_unlock(&r->mlock);
	return 0;
}

/* npmu_region_mirror_stat -- ask the manager about a mirrored region's copies. */
int npmu_region_mirror_stat(struct npmu_conn *conn, const char *name, struct npmu_mirror_info *info)
{
	if (!conn || !name || !info)
		return NPMU_E_INVAL;
	size_t n = strnlen(name, NPMU_NAME_MAX + 1);
	if (!npmu__name_valid(name, n))
		return NPMU_E_NAME;
	struct npmu__request req = {.op = NPMU__MIRROR_GET};
	memcpy(req.name, name, n);
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->rpc.lock);
	int rc = npmu__conn_call(conn, NPMU_MSG_MIRROR, &req, &body, &blen);
	if (rc == 0) {
		struct npmu__mirror_reply mr;
		rc = npmu__reply_mirror(body, blen, false, &mr);
		if (rc == 0) {
			fill_info(&mr.m, mr.reach, info);
			info->repaired = (mr.flags & 1) != 0;
		}
	}
	pthread_mutex_unlock(&conn->rpc.lock);
	return rc;
}
