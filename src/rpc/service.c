/* service.c -- the request loop: posted receives, sealed requests opened, dispatch to the owner's
 * handlers (or its slow thread), replies, and idle sleep. */
#define _GNU_SOURCE /* ppoll */
#include "service.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "codec.h"
#include "deferred.h"
#include "log.h"
#include "replies.h"
#include "sessions.h"

#define RX_BUFS 64         /* receives kept posted */
#define TX_BUFS 64         /* replies in flight */
#define PEERS_MAX 4096     /* return addresses kept in the address vector, without sessions
			    * (with them: as many as sessions and handshakes) */
#define SEND_WAIT_MS 1000  /* how long a reply may wait for transmit room */
#define STALL_MS 20        /* a request served longer than this stalled the manager (leases) */
#define NAP_NS 50000       /* a sleep without a wait object (shm), while busy */
#define NAP_BUSY_NS 3000000000ull /* busy: a message came this recently */
#define BATCH_MAX 24       /* requests in one batch at most */
#define HELD_MAX (RX_BUFS / 2) /* batched requests held at most (the rest keep receiving) */
#define PEER_WAITING_MAX 2 /* batched requests of one peer waiting at once (its client sends one
			    * at a time: the rest are answered NPMU_E_LIMIT) */
#define PEER_REPLIES_MAX 4 /* replies to one peer in flight at once (it asks one at a time: one
			    * that does not take its replies cannot hold every transmit buffer) */
#define CQ_READ 16         /* completions taken from the queue at once */
#define HELD_SAY_EVERY_NS (10 * 1000000000ull) /* holding is logged at most this often */
_Static_assert(RX_BUFS <= NPMU_FABRIC_SERVER_RX && TX_BUFS <= NPMU_FABRIC_SERVER_TX,
	       "the endpoint is opened with room for the receives posted and replies in flight");

/* What a completion's context points at. */
enum op_kind { OP_RX, OP_TX };

struct rx_buf {
	enum op_kind kind;
	uint8_t data[NPMU_WIRE_MAX];
};

struct tx_buf {
	enum op_kind kind;
	int busy;
	fi_addr_t to; /* while busy: where it goes */
	bool sealed;  /* ...and whether it is sealed (a session's answer) */
	uint8_t data[NPMU_WIRE_MAX];
};

/* A return address inserted in the AV, least recently used evicted first. */
struct peer {
	uint8_t addr[NPMU_WIRE_ADDR_MAX];
	uint16_t len;
	fi_addr_t fi_addr;
	uint64_t last_used;
};

/* A request answered once the batch ends (NPMU__SERVE_BATCHED), with an empty body: a reply
 * buffer is taken when it is answered (replies in flight use the buffers, waiting ones do not). */
struct batched {
	fi_addr_t to;
	uint16_t type;
	uint64_t req_id;
	uint64_t session; /* looked up again at answer time: 0 for a plain request */
	char peer[128];
};

struct npmu__service {
	struct npmu__fabric *fab;
	struct npmu__service_ops ops;    /* the owner's handlers */
	struct npmu__sessions *sessions; /* NULL: no authentication (loopback or --insecure) */
	struct npmu__deferred *deferred; /* the slow thread (NULL: everything served here) */
	struct rx_buf *rx;
	struct tx_buf *tx;
	struct peer *peers;
	uint32_t npeers, peers_max;
	struct npmu__slot_index peer_index; /* the peers by address */
	uint64_t tick;
	struct npmu__service_counters counters;
	void (*tick_fn)(void *arg);     /* the owner's tick (npmu__service_set_tick), or NULL */
	void *tick_arg;
	unsigned tick_ms;
	uint64_t last_tick_ns;
	struct batched batch[BATCH_MAX]; /* the next batch, being gathered */
	uint32_t nbatch;
	struct batched flight[BATCH_MAX]; /* the batch begun, waiting for ops.batch_end */
	uint32_t nflight;
	bool flying;
	/* Requests held while a full batch waits for the one away (see hold): their receive
	 * buffers, in arrival order, and since when. */
	struct held {
		struct rx_buf *b;
		size_t len;
	} held[HELD_MAX];
	uint32_t nheld;
	uint64_t held_since_ns;
	uint64_t held_said_ns; /* when holding was last logged */
	/* The peers whose request the owner served among the completions read at once (see "One
	 * request at a time"): another from one of them was sent before the first was answered. */
	struct turn {
		fi_addr_t to;
		bool sealed;
	} turn[CQ_READ];
	uint32_t nturn;
	/* Rate limit for logging bad input: a burst, then one line per second with a count. */
	time_t log_second;
	unsigned log_count;
	uint64_t log_suppressed;
};

/* npmu__refusal_name -- a refusal's label. */
const char *npmu__refusal_name(enum npmu__refusal r)
{
	static const char *const names[NPMU__REFUSALS] = {"receive", "header",	"address",
							   "no_room", "session", "body",
							   "in_flight"};
	return r < NPMU__REFUSALS ? names[r] : "other";
}

/* log_quota -- whether one more line about bad input may be logged this second (10 may; the
 * rest are counted and said once the second is over). */
static bool log_quota(struct npmu__service *svc)
{
	time_t now = time(NULL);
	if (now != svc->log_second) {
		if (svc->log_suppressed)
			LOG_WARN("%llu more rejected messages not logged",
				 (unsigned long long)svc->log_suppressed);
		svc->log_second = now;
		svc->log_count = 0;
		svc->log_suppressed = 0;
	}
	if (svc->log_count++ < 10)
		return true;
	svc->log_suppressed++;
	return false;
}

/* log_bad -- count and log one input refused before any handler saw it, with its peer. */
static void log_bad(struct npmu__service *svc, enum npmu__refusal why, const char *peer,
		    const char *what, int rc)
{
	npmu__metric_add(&svc->counters.refused[why], 1);
	if (log_quota(svc))
		LOG_WARN("rejected %s from %s: %s", what, peer, npmu_strerror(rc));
}

/* log_refused -- log one request a handler answered with an error (rate-limited). */
static void log_refused(struct npmu__service *svc, const char *peer, const char *what, int rc)
{
	if (log_quota(svc))
		LOG_WARN("rejected %s from %s: %s", what, peer, npmu_strerror(rc));
}

/* post_rx -- (re)post one receive buffer. */
static int post_rx(struct npmu__service *svc, struct rx_buf *b)
{
	ssize_t rc;
	while ((rc = fi_recv(svc->fab->ep, b->data, sizeof(b->data), NULL, FI_ADDR_UNSPEC, b)) ==
	       -FI_EAGAIN) {
		struct fi_cq_msg_entry e;
		(void)npmu__fabric_cq_read(svc->fab, &e, 0);
	}
	if (rc != 0) {
		LOG_ERR("fi_recv: %s", fi_strerror((int)-rc));
		return NPMU_E_FABRIC;
	}
	return 0;
}

static uint32_t peer_hash(const void *table, uint32_t slot);

/* npmu__service_new -- a service answering with ops; posts its receive buffers. */
int npmu__service_new(struct npmu__fabric *fab, const struct npmu__service_ops *ops,
		      struct npmu__sessions *sessions, struct npmu__service **svc_ptr)
{
	struct npmu__service *svc = calloc(1, sizeof(*svc));
	if (!svc)
		return NPMU_E_NOMEM;
	svc->fab = fab;
	svc->ops = *ops;
	svc->sessions = sessions;
	svc->rx = calloc(RX_BUFS, sizeof(*svc->rx));
	svc->tx = calloc(TX_BUFS, sizeof(*svc->tx));
	svc->peers_max = sessions ? sessions->max + NPMU_PENDING_MAX : PEERS_MAX;
	svc->peers = calloc(svc->peers_max, sizeof(*svc->peers)); /* (touched as peers come) */
	if (!svc->rx || !svc->tx || !svc->peers ||
	    npmu__slot_index_init(&svc->peer_index, svc->peers_max, svc, peer_hash) != 0) {
		npmu__service_delete(&svc);
		return NPMU_E_NOMEM;
	}
	for (int i = 0; i < TX_BUFS; i++)
		svc->tx[i].kind = OP_TX;
	for (int i = 0; i < RX_BUFS; i++) {
		svc->rx[i].kind = OP_RX;
		int rc = post_rx(svc, &svc->rx[i]);
		if (rc != 0) {
			npmu__service_delete(&svc);
			return rc;
		}
	}
	*svc_ptr = svc;
	return 0;
}

/* npmu__service_delete -- free the service; NULLs *svc_ptr. Cancels posted receives first. */
void npmu__service_delete(struct npmu__service **svc_ptr)
{
	struct npmu__service *svc = *svc_ptr;
	if (!svc)
		return;
	npmu__deferred_delete(&svc->deferred);
	if (svc->rx)
		for (int i = 0; i < RX_BUFS; i++)
			fi_cancel(&svc->fab->ep->fid, &svc->rx[i]);
	free(svc->rx);
	free(svc->tx);
	free(svc->peers);
	npmu__slot_index_fini(&svc->peer_index);
	free(svc);
	*svc_ptr = NULL;
}

/* npmu__service_counters -- the live counters. */
const struct npmu__service_counters *npmu__service_counters(const struct npmu__service *svc)
{
	return &svc->counters;
}

/* npmu__service_set_tick -- the owner's tick. */
void npmu__service_set_tick(struct npmu__service *svc, void (*fn)(void *arg), void *arg,
			    unsigned ms)
{
	svc->tick_fn = fn;
	svc->tick_arg = arg;
	svc->tick_ms = ms && ms < NPMU_SERVICE_TICK_MS ? ms : NPMU_SERVICE_TICK_MS;
}

/* peer_hash -- (slot_index.h) the hash of a known peer's address. */
static uint32_t peer_hash(const void *table, uint32_t slot)
{
	const struct peer *p = &((const struct npmu__service *)table)->peers[slot];
	return npmu__hash_bytes(p->addr, p->len);
}

/* An address looked for. */
struct addr_key {
	const uint8_t *addr;
	uint16_t len;
};

/* peer_is -- (slot_index.h) whether a known peer has the address *key. */
static bool peer_is(const void *table, uint32_t slot, const void *key)
{
	const struct peer *p = &((const struct npmu__service *)table)->peers[slot];
	const struct addr_key *k = key;
	return p->len == k->len && memcmp(p->addr, k->addr, k->len) == 0;
}

/* least_used -- the known peer used least recently (the table is full). */
static struct peer *least_used(struct npmu__service *svc)
{
	struct peer *victim = &svc->peers[0];
	for (uint32_t i = 1; i < svc->npeers; i++)
		if (svc->peers[i].last_used < victim->last_used)
			victim = &svc->peers[i];
	return victim;
}

/* peer_lookup -- the fi_addr of a return address: found by address (peer_index), else
 * inserted into the AV, the least recently used one given up first once peers_max (or the
 * AV's count) are known. NPMU_E_PROTO for an address that is none. */
static int peer_lookup(struct npmu__service *svc, const uint8_t *addr, uint16_t len,
		       fi_addr_t *out)
{
	/* socket addresses have our own's length; a string address (shm) may end in its NUL,
	 * holds none before, and is terminated here */
	bool str = svc->fab->info->addr_format == FI_ADDR_STR;
	if (str ? len == 0 || len >= NPMU_WIRE_ADDR_MAX || memchr(addr, 0, len - 1u)
		: len != svc->fab->name_len)
		return NPMU_E_PROTO;
	svc->tick++;
	struct addr_key k = {addr, len};
	int32_t at = npmu__slot_index_find(&svc->peer_index, npmu__hash_bytes(addr, len), peer_is,
					   &k);
	if (at >= 0) {
		svc->peers[at].last_used = svc->tick;
		*out = svc->peers[at].fi_addr;
		return 0;
	}
	struct peer *victim;
	if (svc->npeers < svc->peers_max && svc->npeers < svc->fab->av_count) {
		victim = &svc->peers[svc->npeers++];
	} else {
		victim = least_used(svc);
		if (victim->len) {
			npmu__slot_index_del(&svc->peer_index, (uint32_t)(victim - svc->peers));
			fi_av_remove(svc->fab->av, &victim->fi_addr, 1, 0);
		}
	}
	fi_addr_t fa;
	uint8_t name[NPMU_WIRE_ADDR_MAX];
	memcpy(name, addr, len);
	name[len] = '\0';
	if (fi_av_insert(svc->fab->av, name, 1, &fa, 0, NULL) != 1) {
		victim->len = 0; /* (not in the index: the first to be given up) */
		victim->last_used = 0;
		return NPMU_E_PROTO;
	}
	memcpy(victim->addr, addr, len);
	victim->len = len;
	victim->fi_addr = fa;
	victim->last_used = svc->tick;
	npmu__slot_index_add(&svc->peer_index, (uint32_t)(victim - svc->peers));
	*out = fa;
	return 0;
}

static void handle_completion(struct npmu__service *svc, const struct fi_cq_msg_entry *e);
static void finish_batch(struct npmu__service *svc);
static void land_batch(struct npmu__service *svc, bool wait);
static void make_room(struct npmu__service *svc);
static void release_held(struct npmu__service *svc);
static void flush_deferred(struct npmu__service *svc);

/* drain -- handle every completion now available; returns how many there were. The batched
 * requests are answered when nothing more waits (or after BATCH_MAX completions). */
static int drain(struct npmu__service *svc)
{
	struct fi_cq_msg_entry ev[CQ_READ];
	int total = 0, since_batch = 0;
	for (;;) {
		ssize_t n = npmu__fabric_cq_read(svc->fab, ev, CQ_READ);
		if (n > 0) {
			svc->nturn = 0; /* (a new read: every peer may have its turn) */
			for (ssize_t i = 0; i < n; i++)
				handle_completion(svc, &ev[i]);
			total += (int)n;
			if ((since_batch += (int)n) >= BATCH_MAX) {
				finish_batch(svc);
				since_batch = 0;
			}
			continue;
		}
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry err = {0};
			if (fi_cq_readerr(svc->fab->cq, &err, 0) == 1) {
				enum op_kind *kind = err.op_context;
				if (kind && *kind == OP_RX) {
					log_bad(svc, NPMU__REFUSED_RECEIVE, "an unknown peer",
						"message",
						err.err == FI_ETRUNC ? NPMU_E_TOOBIG : NPMU_E_FABRIC);
					post_rx(svc, (struct rx_buf *)kind);
				} else if (kind && *kind == OP_TX) {
					LOG_INFO("reply not delivered: %s", fi_strerror(err.err));
					((struct tx_buf *)kind)->busy = 0;
				}
			}
			total++;
			continue;
		}
		finish_batch(svc);
		return total;
	}
}

/* tx_get -- a free transmit buffer, progressing the CQ for a bounded time if none is free. */
static struct tx_buf *tx_get(struct npmu__service *svc)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		for (int i = 0; i < TX_BUFS; i++)
			if (!svc->tx[i].busy)
				return &svc->tx[i];
		land_batch(svc, false); /* (its buffers are held) */
		finish_batch(svc);
		drain(svc);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    SEND_WAIT_MS)
			return NULL;
	}
}

/* replies_to -- how many replies to `to`, sealed or plain, are in flight (separately: anyone
 * can name an address for plain ones; see "One request at a time"). */
static int replies_to(const struct npmu__service *svc, fi_addr_t to, bool sealed)
{
	int n = 0;
	for (int i = 0; i < TX_BUFS; i++)
		n += svc->tx[i].busy && svc->tx[i].to == to && svc->tx[i].sealed == sealed;
	return n;
}

/* refuse_reply -- (a reply to a peer with PEER_REPLIES_MAX in flight already: it sends
 * requests without taking their answers) drop it; counted and logged with the peer's address. */
static void refuse_reply(struct npmu__service *svc, fi_addr_t to)
{
	npmu__metric_add(&svc->counters.refused[NPMU__REFUSED_NO_ROOM], 1);
	if (!log_quota(svc))
		return;
	char peer[128] = "an unknown peer";
	for (uint32_t i = 0; i < svc->npeers; i++)
		if (svc->peers[i].fi_addr == to)
			npmu__fabric_addr_str(svc->fab, svc->peers[i].addr, peer, sizeof(peer));
	LOG_WARN("reply to %s dropped: %d replies to it in flight already (it does not take "
		 "them)", peer, PEER_REPLIES_MAX);
}

/* send_reply -- post a reply; gives up (and logs) if the peer cannot take it in time, or has
 * PEER_REPLIES_MAX in flight already (refuse_reply). Its
 * buffer is free again once the provider has sent it (transmit complete), not once the client
 * has taken it (the endpoint's delivery complete): a client that is not running would keep it,
 * and with a hundred such a unit ran out of buffers and dropped requests (it_flush). */
static void send_reply(struct npmu__service *svc, fi_addr_t to, bool sealed, struct tx_buf *b,
		       size_t len)
{
	struct timespec start, now;
	if (replies_to(svc, to, sealed) >= PEER_REPLIES_MAX) {
		refuse_reply(svc, to);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	b->busy = 1;
	b->to = to;
	b->sealed = sealed;
	for (;;) {
		struct iovec iov = {b->data, len};
		struct fi_msg m = {.msg_iov = &iov, .iov_count = 1, .addr = to, .context = b};
		ssize_t rc = fi_sendmsg(svc->fab->ep, &m, FI_TRANSMIT_COMPLETE | FI_COMPLETION);
		if (rc == 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (rc != -FI_EAGAIN ||
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
			    SEND_WAIT_MS) {
			LOG_INFO("reply dropped: %s", fi_strerror((int)-rc));
			b->busy = 0;
			return;
		}
		struct fi_cq_msg_entry e;
		(void)npmu__fabric_cq_read(svc->fab, &e, 0);
	}
}

/* open_sealed -- check and decrypt a sealed request in place; on success sets *sess. */
static int open_sealed(struct npmu__service *svc, uint8_t *msg, const struct npmu__msg_hdr *hdr,
		       size_t *blen, struct npmu__session **sess)
{
	struct npmu__session *s = svc->sessions ? npmu__sessions_find(svc->sessions, hdr->session)
						: NULL;
	if (!s || hdr->req_id != s->ch.rx_seq + 1)
		return NPMU_E_AUTH; /* unknown session, or a replayed or reordered message */
	uint8_t *body = msg + (hdr->body - msg);
	int n = npmu__unseal(&s->ch, true, hdr->req_id, msg, (size_t)(hdr->body - msg), body,
			     hdr->body_len);
	if (n < 0)
		return NPMU_E_AUTH;
	s->ch.rx_seq++;
	*blen = (size_t)n;
	*sess = s;
	return 0;
}

/* dispatch -- answer HELLO and the handshake; hand the rest to the owner (or its slow thread). */
static int dispatch(struct npmu__service *svc, const struct npmu__msg_hdr *hdr,
		    const struct npmu__request *req, fi_addr_t to, const uint8_t host[16],
		    struct npmu__session *sess, const char *peer, struct npmu__cursor *reply)
{
	const char *who = sess ? sess->who : NULL;
	switch (hdr->type) {
	case NPMU_MSG_HELLO: {
		struct npmu__hello_reply h = {0};
		svc->ops.hello(svc->ops.arg, &h.flags, h.unit_id, &h.bytes, &h.free);
		h.flags |= (svc->fab->virt_addr ? NPMU_UNIT_VIRT_ADDR : 0) |
			   (svc->sessions ? NPMU_UNIT_AUTH : 0);
		npmu__reply_hello_put(reply, &h);
		return 0;
	}
	case NPMU_MSG_AUTH1:
		if (!svc->sessions)
			return NPMU_E_INVAL; /* this unit runs without credentials */
		return npmu__sessions_auth1(svc->sessions, req, to, host, reply);
	case NPMU_MSG_AUTH3: {
		if (!svc->sessions)
			return NPMU_E_INVAL;
		int rc = npmu__sessions_auth3(svc->sessions, hdr->session, host, req, &who);
		if (rc == 0)
			LOG_INFO("principal %s authenticated from %s", who, peer);
		return rc;
	}
	default: {
		struct npmu__caller c = {.who = who, .manager = sess && sess->manager,
					 .secured = svc->sessions != NULL, .peer = peer};
		int rc = svc->ops.handle(svc->ops.arg, &c, hdr->type, req, reply);
		if (rc != NPMU__SERVE_LATER)
			return rc;
		if (!svc->deferred)
			return NPMU_E_INTERNAL; /* (an owner without handle_later) */
		struct npmu__job job = {.type = hdr->type, .req_id = hdr->req_id,
					.session = sess ? sess->ch.session : 0, .to = to,
					.has_who = who != NULL, .manager = c.manager,
					.secured = c.secured, .req = *req};
		snprintf(job.who, sizeof(job.who), "%s", who ? who : "");
		snprintf(job.peer, sizeof(job.peer), "%s", peer);
		rc = npmu__deferred_submit(svc->deferred, &job);
		if (rc == NPMU_E_LIMIT) /* (the peer has its share waiting, or the queue is full) */
			npmu__metric_add(&svc->counters.refused[NPMU__REFUSED_IN_FLIGHT], 1);
		return rc == 0 ? NPMU__SERVE_LATER : rc;
	}
	}
}

/* refused -- log a request answered with an error (a unit away is logged where noticed). */
static void refused(struct npmu__service *svc, const char *peer, uint16_t type, const char *name,
		    bool unopened, int rc)
{
	if (rc == NPMU_E_UNREACHABLE)
		return;
	char what[128];
	snprintf(what, sizeof(what), "%s%s%s%s", npmu__msg_type_name(type), name[0] ? " " : "",
		 name, unopened ? " (sealed)" : "");
	log_refused(svc, peer, what, rc);
}

/* answer -- send the reply to request (type, req_id) with status rc, its body_len bytes of
 * body already at b->data + NPMU_WIRE_HDR_LEN; sealed on sess when there is one. */
static void answer(struct npmu__service *svc, struct tx_buf *b, fi_addr_t to, uint16_t type,
		   uint64_t req_id, struct npmu__session *sess, int rc, size_t body_len)
{
	size_t hlen = NPMU_WIRE_HDR_LEN;
	struct npmu__msg_hdr out = {
		.type = (uint16_t)(type | NPMU_MSG_REPLY),
		.status = rc,
		.body_len = rc == 0 ? (uint32_t)body_len : 0,
		.req_id = req_id,
		.session = sess ? sess->ch.session : 0,
	};
	int result = npmu__error_index(rc);
	if (type <= NPMU_MSG_TYPE_MAX && result >= 0)
		npmu__metric_add(&svc->counters.answered[type][result], 1);
	size_t plain = out.body_len;
	if (sess)
		out.body_len += NPMU_TAG_LEN;
	npmu__msg_encode_hdr(b->data, NPMU_WIRE_MAX, &out);
	if (sess)
		npmu__seal(&sess->ch, false, req_id, b->data, hlen, b->data + hlen, plain);
	send_reply(svc, to, sess != NULL, b, hlen + out.body_len);
}

/* batched_type -- whether requests of this type are batched by the owner (ops.batch_types). */
static bool batched_type(const struct npmu__service *svc, uint16_t type)
{
	return type < 64 && (svc->ops.batch_types >> type & 1);
}

/* waiting_of -- how many batched requests of the peer at `to` wait (gathering or away), sealed
 * ones or plain ones (see "One request at a time": anyone can name an address). */
static int waiting_of(const struct npmu__service *svc, fi_addr_t to, bool sealed)
{
	int n = 0;
	for (uint32_t i = 0; i < svc->nbatch; i++)
		n += svc->batch[i].to == to && (svc->batch[i].session != 0) == sealed;
	for (uint32_t i = 0; svc->flying && i < svc->nflight; i++)
		n += svc->flight[i].to == to && (svc->flight[i].session != 0) == sealed;
	return n;
}

/*
 * One request at a time. A client sends its next request once the last was answered (the
 * library holds a lock across each; one that timed out takes its endpoint, and so its address
 * and session, with it), so a request the owner serves whose peer already had one served among
 * the completions read at once was sent before that one's answer: a pipeline. It is answered
 * NPMU_E_LIMIT before the owner sees it (npmu_requests_refused_total{reason="in_flight"}).
 * Before, a unit served a peer's pipelined opens, creates or deletes back to back, each a
 * durable change of its region table, while every other client's requests and one-sided
 * transfers waited (a burst of 60 opens: a stat took 21 ms against 0.35; behind a large flush
 * each change waits for the disk). Batched requests have their own share (PEER_WAITING_MAX);
 * greetings and handshakes are the sessions' (sessions.h). A sealed request's peer is where its
 * session was made, and only that session's holder can seal one; a plain request's is the
 * return address it names, which anyone can name, so the two take separate turns: plain
 * requests naming a client's address (refused NPMU_E_AUTH on a server with credentials) cannot
 * use up the turn of that client's sealed ones.
 */

/* take_turn -- whether the peer at `to` may have a request (sealed or not) served by the owner
 * now: not when it had one of that kind among the completions read at once already. */
static bool take_turn(struct npmu__service *svc, fi_addr_t to, bool sealed)
{
	for (uint32_t i = 0; i < svc->nturn; i++)
		if (svc->turn[i].to == to && svc->turn[i].sealed == sealed)
			return false;
	if (svc->nturn < CQ_READ)
		svc->turn[svc->nturn++] = (struct turn){to, sealed};
	return true;
}

/* owner_type -- whether a request of this type is served by the owner (not the greeting and
 * the handshake, which the service answers itself). */
static bool owner_type(uint16_t type)
{
	return type != NPMU_MSG_HELLO && type != NPMU_MSG_AUTH1 && type != NPMU_MSG_AUTH3;
}

/* session_peer -- where a session's replies go: where it was made, whatever the header says;
 * that address looked up again (the header's, `to`, when the same), as past peers_max peers
 * since, the entry the session was made with may have been given to another peer (a crowd of
 * greetings from 1,100 endpoints cut an authenticated client off until its request timed out). */
static fi_addr_t session_peer(struct npmu__service *svc, struct npmu__session *sess,
			      const struct npmu__msg_hdr *hdr, fi_addr_t to)
{
	fi_addr_t fa;
	if (sess->addr_len == hdr->addr_len && memcmp(sess->addr, hdr->addr, hdr->addr_len) == 0)
		sess->peer = to;
	else if (sess->addr_len && peer_lookup(svc, sess->addr, sess->addr_len, &fa) == 0)
		sess->peer = fa;
	return sess->peer;
}

/* serve -- decode one request (opening it when sealed), run it, and answer it (or leave it to
 * the slow thread, which answers through flush_deferred). */
static void serve(struct npmu__service *svc, uint8_t *msg, size_t len)
{
	struct npmu__msg_hdr hdr;
	int rc = npmu__msg_decode_hdr(msg, len, &hdr);
	if (rc == 0 && (hdr.type & NPMU_MSG_REPLY))
		rc = NPMU_E_PROTO;
	if (rc != 0 && (rc != NPMU_E_VERSION || !hdr.addr)) {
		log_bad(svc, NPMU__REFUSED_HEADER, "an unknown peer", "message header", rc);
		return;
	}
	char peer[128];
	npmu__fabric_addr_str(svc->fab, hdr.addr, peer, sizeof(peer));
	fi_addr_t to;
	if (peer_lookup(svc, hdr.addr, hdr.addr_len, &to) != 0) {
		log_bad(svc, NPMU__REFUSED_ADDRESS, peer, "return address", NPMU_E_PROTO);
		return;
	}
	uint8_t host[16];
	npmu__host_of(hdr.addr, hdr.addr_len, host);
	struct tx_buf *b = tx_get(svc);
	if (!b) {
		log_bad(svc, NPMU__REFUSED_NO_ROOM, peer, "request (no room to reply)", NPMU_E_LIMIT);
		return;
	}
	struct npmu__session *sess = NULL;
	size_t blen = hdr.body_len;
	if (rc == 0 && hdr.session != 0 && hdr.type != NPMU_MSG_AUTH3) {
		rc = open_sealed(svc, msg, &hdr, &blen, &sess);
		if (rc != 0)
			npmu__metric_add(&svc->counters.refused[NPMU__REFUSED_SESSION], 1);
		if (rc != 0 && svc->sessions)
			npmu__sessions_fail(svc->sessions, host);
	}
	if (sess)
		to = session_peer(svc, sess, &hdr, to);
	struct npmu__request req = {0};
	struct npmu__cursor reply;
	npmu__cursor_init(&reply, b->data + NPMU_WIRE_HDR_LEN,
			  NPMU_WIRE_MAX - NPMU_WIRE_HDR_LEN - NPMU_TAG_LEN);
	if (rc == 0 && (rc = npmu__req_decode(hdr.type, hdr.body, blen, &req)) != 0)
		npmu__metric_add(&svc->counters.refused[NPMU__REFUSED_BODY], 1);
	if (rc == 0 && hdr.addr_len <= sizeof(req.peer)) {
		memcpy(req.peer, hdr.addr, hdr.addr_len);
		req.peer_len = (uint8_t)hdr.addr_len;
	}
	if (rc == 0 && (batched_type(svc, hdr.type)
				? waiting_of(svc, to, sess != NULL) >= PEER_WAITING_MAX
				: owner_type(hdr.type) && !take_turn(svc, to, sess != NULL))) {
		npmu__metric_add(&svc->counters.refused[NPMU__REFUSED_IN_FLIGHT], 1);
		rc = NPMU_E_LIMIT; /* (a pipeline: see "Flow control", "One request at a time") */
	}
	if (rc == 0) {
		uint64_t t0 = npmu__now_ns();
		rc = dispatch(svc, &hdr, &req, to, host, sess, peer, &reply);
		uint64_t took_ms = (npmu__now_ns() - t0) / 1000000;
		if (took_ms >= STALL_MS && svc->ops.stalled)
			svc->ops.stalled(svc->ops.arg, took_ms); /* nobody could renew meanwhile */
		if (rc == NPMU__SERVE_LATER)
			return; /* the slow thread answers */
		if (rc == NPMU__SERVE_BATCHED && svc->ops.batch_begin) {
			if (svc->nbatch == BATCH_MAX)
				make_room(svc);
			struct batched *q = &svc->batch[svc->nbatch++];
			*q = (struct batched){.to = to, .type = hdr.type, .req_id = hdr.req_id,
					      .session = sess ? sess->ch.session : 0};
			snprintf(q->peer, sizeof(q->peer), "%s", peer); /* (b stays free) */
			if (svc->nbatch == BATCH_MAX)
				finish_batch(svc);
			return;
		}
		if (rc == NPMU__SERVE_BATCHED)
			rc = NPMU_E_INTERNAL; /* (an owner without batch_begin) */
	}
	if (rc != 0)
		refused(svc, peer, hdr.type, req.name,
			hdr.session && !sess && hdr.type != NPMU_MSG_AUTH3, rc);
	if (rc == 0 && !reply.ok)
		rc = NPMU_E_INTERNAL;
	answer(svc, b, to, hdr.type, hdr.req_id, sess, rc, rc == 0 ? reply.pos : 0);
}

/* make_room -- (a batched request served while the gathering batch is full: only after the
 * batch away landed, as a full one holds new messages until then) the full batch begun, or,
 * should one still be away, waited for. A request whose work joined the owner's next batch
 * and is answered with the one after is answered late, never early. */
static void make_room(struct npmu__service *svc)
{
	finish_batch(svc);
	if (svc->nbatch == BATCH_MAX) {
		land_batch(svc, true);
		finish_batch(svc);
	}
}

/* answer_batched -- answer n batched requests (*list, emptied first: answering may drain and
 * gather more) with status rc; a sealed one only while its session lives. */
static void answer_batched(struct npmu__service *svc, struct batched *list, uint32_t *n, int rc)
{
	uint32_t count = *n;
	struct batched q[BATCH_MAX];
	memcpy(q, list, count * sizeof(*q));
	*n = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct tx_buf *b = tx_get(svc); /* (may serve more: the session is looked up after) */
		struct npmu__session *sess = q[i].session && svc->sessions
						     ? npmu__sessions_find(svc->sessions, q[i].session)
						     : NULL;
		if ((q[i].session && !sess) || !b) {
			LOG_INFO("reply to %s from %s dropped: %s", npmu__msg_type_name(q[i].type),
				 q[i].peer, b ? "its session is gone" : "no room to send it");
			continue;
		}
		if (rc != 0)
			refused(svc, q[i].peer, q[i].type, "", false, rc);
		answer(svc, b, q[i].to, q[i].type, q[i].req_id, sess, rc, 0);
	}
}

/* land_batch -- the batch away, if its work is done (with wait: once it is), answered. The
 * next one begins when the loop next finds nothing waiting (drain): the peers just answered
 * may have sent their next requests by then. */
static void land_batch(struct npmu__service *svc, bool wait)
{
	if (!svc->flying || !svc->ops.batch_end(svc->ops.arg, wait))
		return;
	svc->flying = false;
	answer_batched(svc, svc->flight, &svc->nflight, 0);
}

/* finish_batch -- the owner's work for the requests gathered (ops.batch_begin): answered at
 * once when it is done at once, sent away, or (work that cannot start while a batch is away)
 * left to gather more until that lands -- a full batch waits for it here. */
static void finish_batch(struct npmu__service *svc)
{
	if (svc->nbatch == 0)
		return;
	uint64_t t0 = npmu__now_ns();
	int rc = svc->ops.batch_begin(svc->ops.arg);
	if (rc == NPMU_E_BUSY)
		return; /* (begun again after the one away lands; a full one holds new messages
			 * meanwhile: handle_completion) */
	uint64_t took_ms = (npmu__now_ns() - t0) / 1000000;
	if (took_ms >= STALL_MS && svc->ops.stalled)
		svc->ops.stalled(svc->ops.arg, took_ms); /* (work done here: nobody could renew) */
	if (rc == 0) {
		svc->nflight = svc->nbatch;
		memcpy(svc->flight, svc->batch, svc->nbatch * sizeof(*svc->batch));
		svc->nbatch = 0;
		svc->flying = true;
		return;
	}
	answer_batched(svc, svc->batch, &svc->nbatch, rc == 1 ? 0 : rc);
}

/* flush_deferred -- send the replies of the jobs the slow thread served. */
static void flush_deferred(struct npmu__service *svc)
{
	struct npmu__job *job;
	while (svc->deferred && (job = npmu__deferred_take(svc->deferred)) != NULL) {
		struct npmu__session *sess = job->session && svc->sessions
						     ? npmu__sessions_find(svc->sessions, job->session)
						     : NULL;
		struct tx_buf *b = job->session && !sess ? NULL : tx_get(svc);
		if (!b) {
			LOG_INFO("reply to %s from %s dropped: %s", npmu__msg_type_name(job->type),
				 job->peer, job->session && !sess ? "its session is gone" : "no room");
			free(job);
			continue;
		}
		if (job->status != 0)
			refused(svc, job->peer, job->type, job->req.name, false, job->status);
		memcpy(b->data + NPMU_WIRE_HDR_LEN, job->body, job->body_len);
		answer(svc, b, job->to, job->type, job->req_id, sess, job->status, job->body_len);
		free(job);
	}
}

/*
 * Flow control while a full batch waits. A batch gathers while the one sent away is worked on;
 * when it is full (BATCH_MAX), no more batched requests fit until that one lands. The loop
 * must not wait for it (it drives every client's one-sided transfers on providers such as tcp,
 * and the work away may take seconds), and other requests (lease renewals, handshakes, stats)
 * need not: a request of a type the owner batches (ops.batch_types, read from the plain
 * header) is held, unread, in its receive buffer (not posted again), behind any held before
 * it; everything else is served as it comes. When the batch away lands, the loop serves the
 * held requests (release_held) in the order they came, until a batch is full again. At most
 * HELD_MAX are held, so the other receives stay posted; one more is served at once, and waits
 * for the batch away (make_room), as the loop did for every full batch before.
 *
 * One peer cannot bring that about alone: its client sends one request at a time (a request
 * that timed out takes its endpoint, and so its address and session, with it), so a batched
 * request from a peer (its return address: where its session was made, when sealed) that has
 * PEER_WAITING_MAX waiting already, gathering or away, is answered NPMU_E_LIMIT at once,
 * before the owner sees it (npmu_requests_refused_total{reason="in_flight"}). A full batch
 * then takes BATCH_MAX / PEER_WAITING_MAX peers, and their further requests are held, and
 * past HELD_MAX refused, without waiting.
 */

/* held_type -- whether a received message is of a type the owner batches (held while full). */
static bool held_type(const struct npmu__service *svc, const struct rx_buf *b, size_t len)
{
	struct npmu__msg_hdr hdr;
	return npmu__msg_decode_hdr(b->data, len, &hdr) == 0 && batched_type(svc, hdr.type);
}

/* hold -- keep a received request, unread, until release_held; false when it is to be served
 * now (not a batched type, no full batch waiting, or HELD_MAX held already). */
static bool hold(struct npmu__service *svc, struct rx_buf *b, size_t len)
{
	if (!(svc->nheld || (svc->flying && svc->nbatch == BATCH_MAX)) || !held_type(svc, b, len))
		return false;
	if (svc->nheld == HELD_MAX)
		return false; /* (held all it may: served now -- refused if its peer has its share
			       * waiting, else it waits for the batch away, make_room) */
	if (svc->nheld == 0)
		svc->held_since_ns = npmu__now_ns();
	svc->held[svc->nheld++] = (struct held){b, len};
	npmu__metric_add(&svc->counters.held, 1);
	return true;
}

/* release_held -- serve the held requests in order while no full batch waits; logged (at most
 * every HELD_SAY_EVERY_NS) once none is left. */
static void release_held(struct npmu__service *svc)
{
	uint8_t msg[NPMU_WIRE_MAX + NPMU_TAG_LEN];
	for (;;) {
		if (svc->nheld && svc->nbatch == BATCH_MAX && !svc->flying)
			finish_batch(svc); /* (the full one, begun now that none is away) */
		if (!svc->nheld || (svc->flying && svc->nbatch == BATCH_MAX))
			break;
		struct held h = svc->held[0];
		memmove(&svc->held[0], &svc->held[1], (svc->nheld - 1) * sizeof(svc->held[0]));
		svc->nheld--;
		memcpy(msg, h.b->data, h.len);
		post_rx(svc, h.b);
		serve(svc, msg, h.len);
	}
	if (svc->nheld || !svc->held_since_ns)
		return;
	uint64_t now = npmu__now_ns(), ms = (now - svc->held_since_ns) / 1000000;
	svc->held_since_ns = 0;
	if (!svc->held_said_ns || now - svc->held_said_ns >= HELD_SAY_EVERY_NS) {
		svc->held_said_ns = now; /* (once in a while: a slow disk would have it said often) */
		LOG_INFO("held new requests for %llu ms while %u persist requests waited for the "
			 "flush before them (%llu held so far): the flushes are the bottleneck",
			 (unsigned long long)ms, BATCH_MAX,
			 (unsigned long long)npmu__metric_get(&svc->counters.held));
	}
}

/* handle_completion -- a received request or a finished reply. */
static void handle_completion(struct npmu__service *svc, const struct fi_cq_msg_entry *e)
{
	enum op_kind *kind = e->op_context;
	if (!kind)
		return;
	if (*kind == OP_TX) {
		((struct tx_buf *)kind)->busy = 0;
		return;
	}
	if (!(e->flags & FI_RECV))
		return;
	struct rx_buf *b = (struct rx_buf *)kind;
	size_t len = e->len < NPMU_WIRE_MAX ? e->len : NPMU_WIRE_MAX;
	if (hold(svc, b, len))
		return;
	uint8_t msg[NPMU_WIRE_MAX + NPMU_TAG_LEN];
	memcpy(msg, b->data, len);
	post_rx(svc, b);
	serve(svc, msg, len);
}

/* publish -- the service's gauges (sessions, handshakes) and the sessions' counters. */
static void publish(struct npmu__service *svc)
{
	uint64_t open = 0, pending = 0, failures = 0, abandoned = 0;
	const struct npmu__sessions *ss = svc->sessions;
	if (ss) {
		open = ss->open;
		for (size_t i = 0; i < NPMU_PENDING_MAX; i++)
			pending += ss->pending[i].state == SESSION_CHALLENGED;
		failures = ss->failures;
		abandoned = ss->abandoned;
	}
	npmu__metric_set(&svc->counters.sessions, open);
	npmu__metric_set(&svc->counters.handshakes, pending);
	npmu__metric_set(&svc->counters.auth_failures, failures);
	npmu__metric_set(&svc->counters.handshakes_abandoned, abandoned);
}

/* tick -- the service's and the owner's tick, when it is due; returns the milliseconds until
 * the next. */
static int tick(struct npmu__service *svc)
{
	uint64_t now = npmu__now_ns(), every = (uint64_t)svc->tick_ms * 1000000;
	if (now - svc->last_tick_ns >= every) {
		svc->last_tick_ns = now;
		publish(svc);
		if (svc->tick_fn)
			svc->tick_fn(svc->tick_arg);
		return (int)svc->tick_ms;
	}
	return (int)((every - (now - svc->last_tick_ns)) / 1000000) + 1;
}

/* finish_in_flight -- (stopping) answer what the slow thread holds, serving what else comes
 * meanwhile, for up to NPMU_SERVICE_STOP_MS. */
static void finish_in_flight(struct npmu__service *svc)
{
	/* the batch away, the one gathered meanwhile, and what was held (which may fill more) */
	for (int i = 0; i < 2 + HELD_MAX / BATCH_MAX + 1 && (svc->nbatch || svc->flying ||
								 svc->nheld); i++) {
		finish_batch(svc);
		land_batch(svc, true);
		release_held(svc);
	}
	if (!svc->deferred)
		return;
	uint64_t until = npmu__now_ns() + (uint64_t)NPMU_SERVICE_STOP_MS * 1000000;
	unsigned left;
	while ((left = npmu__deferred_waiting(svc->deferred)) > 0 && npmu__now_ns() < until) {
		struct pollfd pfd = {.fd = npmu__deferred_fd(svc->deferred), .events = POLLIN};
		(void)poll(&pfd, 1, 10);
		flush_deferred(svc);
		drain(svc);
	}
	flush_deferred(svc);
	if (left)
		LOG_WARN("stopped with %u request(s) unanswered: the units they wait on are slow",
			 left);
}

/*
 * npmu__service_run -- serve until stop_fd is readable. After any activity the loop keeps
 * polling the CQ for spin_us microseconds (one-sided operations on providers such as tcp need
 * the target to drive progress, and a wake-up from poll() per operation costs latency), then
 * sleeps in poll() on the CQ's wait fd until the next tick, so an idle unit uses no CPU.
 */
int npmu__service_run(struct npmu__service *svc, int stop_fd, unsigned spin_us)
{
	struct fid *cq_fid = &svc->fab->cq->fid;
	uint64_t spin_ns = (uint64_t)spin_us * 1000, last = npmu__now_ns();
	int rc = svc->ops.handle_later && !svc->deferred
			 ? npmu__deferred_new(&svc->ops, &svc->deferred) : 0;
	if (rc != 0)
		return rc;
	if (!svc->tick_ms)
		svc->tick_ms = NPMU_SERVICE_TICK_MS;
	int dfd = svc->deferred ? npmu__deferred_fd(svc->deferred) : -1;
	int bfd = svc->ops.batch_begin ? svc->ops.batch_fd : -1;
	for (;;) {
		int next_tick_ms = tick(svc);
		flush_deferred(svc);
		bool landed = svc->flying;
		land_batch(svc, false);
		release_held(svc);
		if (drain(svc) > 0 || landed != svc->flying) {
			last = npmu__now_ns();
			continue;
		}
		/* (not while a batch is away: its work, not a peer, is what the loop waits for, and
		 * it would keep a core from the peers; its end wakes the poll below) */
		if (spin_ns && npmu__now_ns() - last < spin_ns && !svc->flying)
			continue;
		struct pollfd pfd[4] = {{.fd = stop_fd, .events = POLLIN},
					{.fd = dfd, .events = POLLIN},
					{.fd = svc->flying ? bfd : -1, .events = POLLIN},
					{.fd = svc->fab->wait_fd, .events = POLLIN}};
		/* a provider without a wait object (shm) drives one-sided transfers only when the
		 * unit progresses it, and they leave nothing in the CQ: it naps 50 us at a time
		 * while clients talk to it (one holding a region renews its holder every second),
		 * 1 ms once none has for NAP_BUSY_NS */
		const struct timespec nap = {0, npmu__now_ns() - last < NAP_BUSY_NS ? NAP_NS : 1000000};
		const struct timespec until_tick = {next_tick_ms / 1000,
						    (long)(next_tick_ms % 1000) * 1000000};
		errno = 0; /* (a progress call: see npmu__fabric_cq_read) */
		if (svc->fab->wait_fd >= 0 && fi_trywait(svc->fab->fabric, &cq_fid, 1) != FI_SUCCESS) {
			last = npmu__now_ns();
			continue;
		}
		int n = ppoll(pfd, svc->fab->wait_fd < 0 ? 3 : 4,
			      svc->fab->wait_fd < 0 ? &nap : &until_tick, NULL);
		if (n < 0 && errno != EINTR) {
			LOG_ERR("poll: %s", strerror(errno));
			return NPMU_E_INTERNAL;
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			finish_in_flight(svc);
			return 0;
		}
		if (n > 0)
			last = npmu__now_ns();
	}
}

/* npmu__service_render -- the service's metrics in the text exposition (see service.h). */
void npmu__service_render(const struct npmu__service_counters *c, struct npmu__prom *p)
{
	npmu__prom_family(p, "npmu_requests_total", "counter",
			  "Requests answered, by message type and result (ok, or the error).");
	for (uint16_t t = 1; t <= NPMU_MSG_TYPE_MAX; t++)
		for (int r = 0; r < NPMU__ERROR_NAMES; r++) {
			uint64_t v = npmu__metric_get(&c->answered[t][r]);
			if (v || r == 0) /* (ok always: a type asked for never reads as absent) */
				npmu__prom_u64(p, "npmu_requests_total", v, "type",
					       npmu__msg_type_name(t), "result",
					       npmu__error_name(r ? NPMU_E_INVAL - r + 1 : 0), NULL);
		}
	npmu__prom_family(p, "npmu_requests_refused_total", "counter",
			  "Messages refused before a handler saw them, by reason (receive, header, "
			  "address, no_room: unanswered; session, body: answered with an error).");
	for (int r = 0; r < NPMU__REFUSALS; r++)
		npmu__prom_u64(p, "npmu_requests_refused_total", npmu__metric_get(&c->refused[r]),
			       "reason", npmu__refusal_name((enum npmu__refusal)r), NULL);
	npmu__prom_family(p, "npmu_sessions", "gauge", "Open authenticated sessions.");
	npmu__prom_u64(p, "npmu_sessions", npmu__metric_get(&c->sessions), NULL);
	npmu__prom_family(p, "npmu_handshakes_pending", "gauge",
			  "Authentication handshakes begun and not finished.");
	npmu__prom_u64(p, "npmu_handshakes_pending", npmu__metric_get(&c->handshakes), NULL);
	npmu__prom_family(p, "npmu_requests_held_total", "counter",
			  "Messages held unread while a full batch of requests waited for the one "
			  "before it (a unit: persists waiting for a flush): flow control.");
	npmu__prom_u64(p, "npmu_requests_held_total", npmu__metric_get(&c->held), NULL);
	npmu__prom_family(p, "npmu_handshakes_abandoned_total", "counter",
			  "Handshakes evicted or expired unfinished.");
	npmu__prom_u64(p, "npmu_handshakes_abandoned_total",
		       npmu__metric_get(&c->handshakes_abandoned), NULL);
	npmu__prom_family(p, "npmu_authentication_failures_total", "counter",
			  "Failed authentications (bad proofs, sealed messages that do not open).");
	npmu__prom_u64(p, "npmu_authentication_failures_total",
		       npmu__metric_get(&c->auth_failures), NULL);
	npmu__prom_family(p, "npmu_abandoned_endpoints", "gauge",
			  "Endpoints given up with transfers in flight (a peer that stopped "
			  "answering mid-transfer), kept open until the process exits.");
	npmu__prom_u64(p, "npmu_abandoned_endpoints", npmu__fabric_abandoned(), NULL);
}
