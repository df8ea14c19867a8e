/* transfer.c -- the one-sided data path: a transfer's pieces posted as fi_write or fi_read to
 * one or more targets at once, a window in flight per target, completions reaped, progress
 * timed, and a dead key told from a dead link. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "errors.h"
#include "log.h"
#include "spin.h"

#define RMA_WINDOW 16                 /* transfers kept in flight */
#define RMA_CHUNK (4u << 20)          /* largest single transfer posted */
#define DRAIN_MS 200                  /* a failed transfer's remainder is awaited this long */
_Static_assert(RMA_WINDOW + 1 <= NPMU_FABRIC_CLIENT_TX,
	       "a client's endpoint has room for a window of transfers and a request");

/* One transfer in flight. */
struct rma_slot {
	int busy;
	struct fid_mr *mr;
};

/* One target's share of a transfer: its window of slots and where it has got to. */
struct xfer {
	struct npmu__xfer_target *t;
	struct rma_slot slots[RMA_WINDOW];
	int inflight;
	int piece;        /* iov index being posted */
	size_t done;      /* bytes of that piece posted */
	size_t chunk;
	uint64_t deadline;
	bool finished;
};

/* slot_done -- a transfer of x finished: its slot is free again. */
static void slot_done(struct xfer *x, struct rma_slot *s)
{
	if (s->mr)
		fi_close(&s->mr->fid);
	s->mr = NULL;
	s->busy = 0;
	x->inflight--;
}

/* reap -- collect finished transfers of x; returns the first error seen (0 if none). */
static int reap(struct xfer *x)
{
	struct npmu_conn *conn = x->t->data;
	struct fi_cq_msg_entry ev[RMA_WINDOW];
	ssize_t n = npmu__fabric_cq_read(conn->rpc.fab, ev, RMA_WINDOW);
	int err = 0;
	struct rma_slot *done[RMA_WINDOW];
	int ndone = 0;
	if (n > 0) {
		for (ssize_t i = 0; i < n; i++)
			done[ndone++] = ev[i].op_context;
	} else if (n == -FI_EAVAIL) {
		struct fi_cq_err_entry e = {0};
		if (fi_cq_readerr(conn->rpc.fab->cq, &e, 0) == 1) {
			done[ndone++] = e.op_context;
			err = npmu__from_fi(e.err);
			LOG_DEBUG("transfer failed: %s", fi_strerror(e.err));
		}
	}
	for (int i = 0; i < ndone; i++) {
		struct rma_slot *s = done[i];
		if (s < x->slots || s >= x->slots + RMA_WINDOW || !s->busy)
			continue; /* not one of ours */
		slot_done(x, s);
	}
	return err;
}

/* post_one -- post one transfer into slot s; -FI_EAGAIN (as 1) when the provider is full. */
static int post_one(struct xfer *x, int write, uint64_t off, void *buf, size_t len,
		    struct rma_slot *s)
{
	struct npmu_conn *conn = x->t->data;
	struct npmu__fabric *fab = conn->rpc.fab;
	void *desc = NULL;
	if (fab->local_mr && !s->mr) {
		uint64_t key;
		int rc = npmu__fabric_mr_reg(fab, buf, len, write ? FI_WRITE : FI_READ, 0, &s->mr,
					     &key);
		if (rc != 0)
			return rc;
	}
	if (s->mr)
		desc = fi_mr_desc(s->mr);
	uint64_t addr = x->t->ai->base + off;
	ssize_t rc = write ? fi_write(fab->ep, buf, len, desc, conn->rpc.server, addr, x->t->ai->key, s)
			   : fi_read(fab->ep, buf, len, desc, conn->rpc.server, addr, x->t->ai->key, s);
	if (rc == 0) {
		s->busy = 1;
		x->inflight++;
		return 0;
	}
	if (s->mr)
		fi_close(&s->mr->fid);
	s->mr = NULL;
	return rc == -FI_EAGAIN ? 1 : npmu__from_fi((int)rc);
}

/* pump -- post what the window allows and reap once; sets x->finished when all is done or an
 * error (in x->t->rc) ends it. */
static void pump(struct xfer *x, int write, const struct npmu_iov *iov, int iovcnt, int timeout_ms)
{
	int rc = 0;
	while (rc == 0 && x->piece < iovcnt && x->inflight < RMA_WINDOW) {
		const struct npmu_iov *v = &iov[x->piece];
		if (x->done >= v->len) {
			x->piece++;
			x->done = 0;
			continue;
		}
		size_t len = v->len - x->done < x->chunk ? v->len - x->done : x->chunk;
		int s = 0;
		while (s < RMA_WINDOW && x->slots[s].busy)
			s++;
		rc = post_one(x, write, v->offset + x->done, (char *)v->buf + x->done, len,
			      &x->slots[s]);
		if (rc == 1) { /* provider full: reap and come back */
			rc = 0;
			break;
		}
		if (rc == 0) {
			x->done += len;
			x->deadline = npmu__now_ms() + (uint64_t)timeout_ms;
		}
	}
	if (rc == 0) {
		int inflight = x->inflight;
		rc = reap(x);
		if (x->inflight < inflight)
			x->deadline = npmu__now_ms() + (uint64_t)timeout_ms;
		else if (rc == 0 && npmu__now_ms() > x->deadline)
			rc = NPMU_E_TIMEDOUT;
	}
	if (rc != 0) {
		x->t->rc = rc;
		x->finished = true;
	} else if (x->piece >= iovcnt && x->inflight == 0) {
		x->finished = true;
	}
}

/* key_status -- after a failed transfer, ask the unit whether the key is still valid:
 * NPMU_E_KEY (revoked), NPMU_E_ACCESS (valid but read-only) or 0 (valid for writing). */
static int key_status(struct npmu__xfer_target *t, int timeout_ms)
{
	struct npmu__request req = {.region_id = t->region_id, .key = t->ai->key};
	const uint8_t *body;
	size_t blen;
	/* a short question: the transfer already failed */
	int rc = npmu__rpc_call(&t->data->rpc, NPMU_MSG_PERSIST, &req, &body, &blen,
				  timeout_ms < 1000 ? timeout_ms : 1000);
	if (rc == NPMU_E_KEY || rc == NPMU_E_NOENT)
		return NPMU_E_KEY;
	return rc == NPMU_E_ACCESS ? NPMU_E_ACCESS : rc == 0 ? 0 : NPMU_E_UNREACHABLE;
}

/* begin -- (target's lock taken here) make target k's connection ready and its window empty;
 * a target that cannot be reached is finished at once with its error. */
static void begin(struct npmu__xfer_target *t, struct xfer *x, int *tmo, int timeout_ms)
{
	memset(x, 0, sizeof(*x));
	x->t = t;
	t->rc = 0;
	pthread_mutex_lock(&t->data->rpc.lock);
	int own = t->data->rpc.timeout_ms;
	*tmo = timeout_ms > 0 && timeout_ms < own ? timeout_ms : own;
	t->rc = npmu__rpc_ready(&t->data->rpc, *tmo); /* a reconnect, too, is bounded */
	if (t->rc != 0) {
		x->finished = true;
		return;
	}
	/* progress first: a connection the unit closed meanwhile (it restarted) is noticed before
	 * transfers go into it */
	struct fi_cq_msg_entry stale;
	(void)npmu__fabric_cq_read(t->data->rpc.fab, &stale, 0);
	size_t max = t->data->rpc.fab->max_rma;
	x->chunk = max < RMA_CHUNK ? max : RMA_CHUNK;
	x->deadline = npmu__now_ms() + (uint64_t)*tmo;
}

/* finish -- after target k failed: drain or give up its endpoint, then ask its unit whether
 * the key died (NPMU_E_KEY) or the unit is gone; the target's lock is released here. */
static void finish(struct npmu__xfer_target *t, struct xfer *x, int tmo, int write)
{
	struct npmu_conn *conn = t->data;
	if (t->rc != 0 && conn->rpc.fab) {
		/* the rest of a failed transfer ends with it when the peer answers (a torn
		 * connection cancels it); a silent peer's is left in flight: its endpoint is given
		 * up, not closed (fabric.h) */
		uint64_t until = npmu__now_ms() + DRAIN_MS;
		while (x->inflight > 0 && t->rc != NPMU_E_TIMEDOUT && npmu__now_ms() < until)
			(void)reap(x);
		if (x->inflight > 0) {
			npmu__fabric_abandon(&conn->rpc.fab); /* with its registrations */
		} else {
			for (int s = 0; s < RMA_WINDOW; s++)
				if (x->slots[s].mr)
					fi_close(&x->slots[s].mr->fid);
			npmu__fabric_close(&conn->rpc.fab);
		}
		conn->rpc.broken = 1;
		/* a refused access (tcp tears the connection down on a dead key) is told from a lost
		 * unit by asking; a mirror's copy that stopped answering is not asked: the other
		 * copy serves at once */
		int ks = t->quick && t->rc == NPMU_E_TIMEDOUT ? NPMU_E_UNREACHABLE
							      : key_status(t, tmo);
		if (ks == NPMU_E_KEY || (ks == NPMU_E_ACCESS && write))
			t->rc = ks;
		else if (ks == NPMU_E_UNREACHABLE && t->rc == NPMU_E_FABRIC)
			t->rc = NPMU_E_UNREACHABLE;
	}
	pthread_mutex_unlock(&conn->rpc.lock);
}

/* wait_targets -- (nothing moved for a while) sleep on the unfinished targets' completion
 * queues for up to a millisecond; false when they cannot be slept on (then yield). */
static bool wait_targets(const struct npmu__xfer_target *t, const struct xfer *x, int nt)
{
	struct npmu__fabric *fabs[NPMU_XFER_MAX];
	int n = 0;
	for (int k = 0; k < nt; k++)
		if (!x[k].finished)
			fabs[n++] = t[k].data->rpc.fab;
	return n > 0 && npmu__fabric_wait(fabs, n, 1);
}

/* lock_order -- ord: the indexes of the nt targets sorted by their connection's address, the
 * one order in which every transfer takes their locks (two threads moving to the same units,
 * their targets listed differently, would otherwise each hold a lock the other waits for). */
static void lock_order(const struct npmu__xfer_target *t, int nt, int *ord)
{
	for (int i = 0; i < nt; i++) {
		int j = i;
		for (; j > 0 && (uintptr_t)t[ord[j - 1]].data > (uintptr_t)t[i].data; j--)
			ord[j] = ord[j - 1];
		ord[j] = i;
	}
}

/*
 * npmu__transfer -- move every piece of iov to or from each target at once, chunked, with up
 * to RMA_WINDOW in flight per target, and wait for all. On a target's transport error its
 * endpoint is closed at once (no completion may land later in this frame) and its unit is
 * asked whether the key died, to report NPMU_E_KEY. Targets' locks are taken in one order
 * (lock_order).
 */
int npmu__transfer(struct npmu__xfer_target *t, int nt, int write, const struct npmu_iov *iov,
		   int iovcnt, int timeout_ms)
{
	struct xfer x[NPMU_XFER_MAX];
	int tmo[NPMU_XFER_MAX]; /* each target's bound on waiting for progress */
	if (nt < 1 || nt > NPMU_XFER_MAX)
		return NPMU_E_INVAL;
	for (int a = 0; a < nt; a++) /* one target per connection: each lock is taken once */
		for (int b = a + 1; b < nt; b++)
			if (t[a].data == t[b].data) {
				int rc = 0;
				for (int k = 0; k < nt; k++) {
					int krc = npmu__transfer(&t[k], 1, write, iov, iovcnt, timeout_ms);
					rc = rc ? rc : krc;
				}
				return rc;
			}
	int ord[NPMU_XFER_MAX]; /* the targets by connection address: locks in one order always */
	lock_order(t, nt, ord);
	for (int i = 0; i < nt; i++)
		begin(&t[ord[i]], &x[ord[i]], &tmo[ord[i]], timeout_ms);
	/* the bytes between two completions: one chunk per target in flight at most; total: the
	 * most any target moves (its own pieces, or the shared ones) */
	uint64_t chunk_bytes = 0, total = 0;
	for (int k = 0; k < nt; k++) {
		chunk_bytes += x[k].chunk;
		uint64_t bytes = 0;
		const struct npmu_iov *v = t[k].iov ? t[k].iov : iov;
		for (int i = 0, n = t[k].iov ? t[k].iovcnt : iovcnt; i < n; i++)
			bytes += v[i].len;
		total = bytes > total ? bytes : total;
	}
	struct npmu__spin spin = {
		.free_ns = npmu__spin_for_bytes(total < chunk_bytes ? total : chunk_bytes)};
	for (bool busy = true; busy;) {
		busy = false;
		bool moved = false;
		for (int k = 0; k < nt; k++) {
			if (x[k].finished)
				continue;
			int inflight = x[k].inflight, piece = x[k].piece;
			size_t done = x[k].done;
			if (t[k].iov)
				pump(&x[k], write, t[k].iov, t[k].iovcnt, tmo[k]);
			else
				pump(&x[k], write, iov, iovcnt, tmo[k]);
			moved |= x[k].inflight != inflight || x[k].piece != piece ||
				 x[k].done != done || x[k].finished;
			busy |= !x[k].finished;
		}
		if (moved)
			npmu__spin_progress(&spin);
		else if (!npmu__spin_should_sleep(&spin) || !wait_targets(t, x, nt))
			npmu__spin_idle(&spin);
	}
	for (int i = nt - 1; i >= 0; i--)
		finish(&t[ord[i]], &x[ord[i]], tmo[ord[i]], write);
	int first = 0;
	for (int k = 0; k < nt && !first; k++)
		first = t[k].rc;
	return first;
}


/* all_posted -- whether every piece of iov has been posted. */
static bool all_posted(const struct xfer *x, const struct npmu_iov *iov, int iovcnt)
{
	int p = x->piece;
	size_t done = x->done;
	while (p < iovcnt && done >= iov[p].len) {
		p++;
		done = 0;
	}
	return p >= iovcnt;
}

/* drive -- pump one target's writes until they are all posted (posted_only) or all done, or
 * an error ends them; waits politely as npmu__transfer does. */
static void drive(struct xfer *x, const struct npmu_iov *iov, int iovcnt, int tmo,
		  bool posted_only)
{
	struct npmu__spin spin = {.free_ns = NPMU_SPIN_FREE_NS};
	while (!x->finished && !(posted_only && all_posted(x, iov, iovcnt))) {
		int inflight = x->inflight, piece = x->piece;
		size_t done = x->done;
		pump(x, 1, iov, iovcnt, tmo);
		if (x->inflight != inflight || x->piece != piece || x->done != done)
			npmu__spin_progress(&spin);
		else if (!npmu__spin_should_sleep(&spin) || !wait_targets(x->t, x, 1))
			npmu__spin_idle(&spin);
	}
}

/* written -- (the hook of a PERSIST sent behind the writes) one of them completed. */
static void written(void *arg, void *op_context, int err)
{
	struct xfer *x = arg;
	struct rma_slot *s = op_context;
	if (s < x->slots || s >= x->slots + RMA_WINDOW || !s->busy)
		return; /* not one of ours */
	slot_done(x, s);
	if (err && x->t->rc == 0) {
		LOG_DEBUG("transfer failed: %s", fi_strerror(err));
		x->t->rc = npmu__from_fi(err);
		x->finished = true;
	}
}

/* persist_request -- a PERSIST of the ranges iov wrote and of t's `also` range: one per range,
 * or the range covering them all when there are more than one request names. */
static void persist_request(const struct npmu__xfer_target *t, const struct npmu_iov *iov,
			    int iovcnt, struct npmu__request *req)
{
	*req = (struct npmu__request){.region_id = t->region_id, .key = t->ai->key};
	uint64_t lo = UINT64_MAX, hi = 0;
	int n = 0;
	for (int i = 0; i <= iovcnt; i++) {
		uint64_t off = i < iovcnt ? iov[i].offset : t->also_off;
		uint64_t len = i < iovcnt ? iov[i].len : t->also_len;
		if (len == 0)
			continue;
		lo = off < lo ? off : lo;
		hi = off + len > hi ? off + len : hi;
		if (n == 0) {
			req->offset = off;
			req->len = len;
		} else if (n < NPMU_PERSIST_RANGES) {
			req->more_ranges[n - 1] = (struct npmu__range){off, len};
		}
		n++;
	}
	req->more = n > 1 && n <= NPMU_PERSIST_RANGES ? (uint32_t)n - 1 : 0;
	if (n > NPMU_PERSIST_RANGES) {
		req->offset = lo;
		req->len = hi - lo;
	}
}

/*
 * npmu__transfer_persist -- write every piece of iov to target t and make them durable at its
 * unit with one PERSIST. Where the provider sends after writes in order (fabric.h), the PERSIST
 * goes as soon as the writes are posted and the unit's answer comes with their completions: one
 * round trip and one flush. Elsewhere, or when that PERSIST got no answer, it is sent once every
 * write completed. A write's failure is handled as npmu__transfer's; a PERSIST refused (its
 * status) is returned with the endpoint kept.
 */
int npmu__transfer_persist(struct npmu__xfer_target *t, const struct npmu_iov *iov, int iovcnt,
			   int timeout_ms)
{
	struct xfer x;
	int tmo;
	struct npmu__request req;
	const uint8_t *body;
	size_t blen;
	persist_request(t, iov, iovcnt, &req);
	begin(t, &x, &tmo, timeout_ms);
	struct npmu__rpc *rpc = &t->data->rpc;
	int prc = -1; /* the PERSIST's status; -1: still to ask */
	if (!x.finished && rpc->fab->send_after_write) {
		drive(&x, iov, iovcnt, tmo, true);
		if (!x.finished) {
			prc = npmu__rpc_call_behind(rpc, NPMU_MSG_PERSIST, &req, &body, &blen, tmo,
						    written, &x);
			if (prc != 0 && (!rpc->answered || prc == NPMU_E_AUTH))
				prc = -1; /* no answer, or a session the unit forgot: ask again */
			x.deadline = npmu__now_ms() + (uint64_t)tmo;
		}
	}
	drive(&x, iov, iovcnt, tmo, false);
	if (t->rc == 0 && prc == -1)
		prc = npmu__rpc_call(rpc, NPMU_MSG_PERSIST, &req, &body, &blen, tmo);
	finish(t, &x, tmo, 1);
	return t->rc != 0 ? t->rc : prc;
}
