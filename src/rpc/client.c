/* client.c -- the request/reply client (client.h): greeting, the initiator's side of the
 * handshake, sealed requests, waiting for replies, and telling a silent server from a gone one. */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "codec.h"
#include "errors.h"
#include "log.h"
#include "replies.h"
#include "spin.h"

#define REFUSED_CHECK_MS 20 /* a send held back this long: is anything listening? */
#define REPLY_CHECK_MS 250  /* a reply awaited this long: likewise */
#define PLAIN_GRACE_MS 50   /* a sealed request's plain refusal: how long its sealed answer may
			     * still come (see wait_rpc) */

/* Completion contexts of the control path. */
static int ctx_send, ctx_recv;

/* cq_read -- read one completion of the endpoint into *e (1), or none (-FI_EAGAIN), or an error
 * of the control path into *err (-FI_EAVAIL). Completions that are not the control path's go to
 * the hook when one is set (a transfer's writes in flight behind the request), else are
 * dropped (a stale one), and count as none. */
static ssize_t cq_read(struct npmu__rpc *conn, struct fi_cq_msg_entry *e, struct fi_cq_err_entry *err)
{
	ssize_t n = npmu__fabric_cq_read(conn->fab, e, 1);
	if (n == 1 && e->op_context != &ctx_send && e->op_context != &ctx_recv) {
		if (conn->hook)
			conn->hook(conn->hook_arg, e->op_context, 0);
		return -FI_EAGAIN;
	}
	if (n != -FI_EAVAIL)
		return n;
	*err = (struct fi_cq_err_entry){0};
	if (fi_cq_readerr(conn->fab->cq, err, 0) != 1)
		return -FI_EAGAIN;
	if (err->op_context == &ctx_send || err->op_context == &ctx_recv)
		return -FI_EAVAIL;
	if (conn->hook)
		conn->hook(conn->hook_arg, err->op_context, err->err ? err->err : FI_EIO);
	return -FI_EAGAIN;
}

/*
 * wait_rpc -- progress the CQ until the send and the matching reply complete, or time runs out.
 *
 * Anyone who can reach our endpoint can send it a reply, and anyone can name our address as a
 * request's return address so that a server's answer comes here; only a sealed reply proves it
 * is the server's answer to a sealed request. A server that does not know our session (it
 * restarted) answers such a request in the clear, so a plain reply with the request's id is
 * taken only when no sealed one came within PLAIN_GRACE_MS of it; *plain says so (and the
 * reply is not in conn->rx). Before, a stranger naming a client's address in requests of its own
 * failed that client's requests with the errors they got.
 */
static int wait_rpc(struct npmu__rpc *conn, uint64_t req_id, bool sealed, size_t *len,
		    bool *plain, int timeout_ms)
{
	uint64_t start = npmu__now_ms(), deadline = start + (uint64_t)timeout_ms, grace = 0;
	int sent = 0, replied = 0;
	bool checked = false;
	struct npmu__spin spin = {.free_ns = NPMU_SPIN_FREE_NS};
	*plain = false;
	while (!sent || !replied) {
		/* a send the provider cannot deliver (it retries a refused connection forever), or
		 * a reply that does not come (the peer's process may be gone): is it listening? */
		if (!checked && npmu__now_ms() - start >= (sent ? REPLY_CHECK_MS : REFUSED_CHECK_MS)) {
			checked = true;
			if (npmu__fabric_refused(conn->fab, conn->fab->info->dest_addr)) {
				LOG_DEBUG("%s:%s refuses connections: nothing listens there",
					  conn->host, conn->port);
				return NPMU_E_UNREACHABLE;
			}
		}
		struct fi_cq_msg_entry e;
		struct fi_cq_err_entry err;
		ssize_t n = cq_read(conn, &e, &err);
		if (n == 1)
			npmu__spin_progress(&spin);
		else if (!npmu__spin_should_sleep(&spin) || !npmu__fabric_wait(&conn->fab, 1, 1))
			npmu__spin_idle(&spin);
		if (n == 1 && e.op_context == &ctx_send) {
			sent = 1;
		} else if (n == 1) { /* ctx_recv */
			struct npmu__msg_hdr hdr;
			bool match = npmu__msg_decode_hdr(conn->rx, e.len, &hdr) == 0 &&
				     hdr.req_id == req_id;
			if (match && (!sealed || hdr.session != 0)) {
				*len = e.len;
				replied = 1;
				*plain = false;
			} else {
				if (match && !*plain) { /* a refusal in the clear: its sealed answer? */
					*plain = true;
					grace = npmu__now_ms() + PLAIN_GRACE_MS;
				}
				/* a stale, malformed or plain reply: listen again */
				fi_recv(conn->fab->ep, conn->rx, sizeof(conn->rx), NULL, FI_ADDR_UNSPEC,
					&ctx_recv);
			}
		} else if (n == -FI_EAVAIL) {
			LOG_DEBUG("control message failed: %s", fi_strerror(err.err));
			return npmu__from_fi(err.err);
		} else if (*plain && sent && npmu__now_ms() > grace) {
			return 0; /* (refused in the clear, and no sealed answer came) */
		} else if (npmu__now_ms() > deadline) {
			LOG_DEBUG("no reply (request %s)", sent ? "sent" : "not sent");
			return NPMU_E_TIMEDOUT;
		}
	}
	return 0;
}

/* encode -- the request message in conn->tx (sealed when seal); its length, or an error. The
 * header's req_id is returned in *req_id. */
static int encode(struct npmu__rpc *conn, uint16_t type, const struct npmu__request *req,
		  uint64_t session, bool seal, uint64_t *req_id)
{
	struct npmu__msg_hdr hdr = {
		.type = type,
		.req_id = seal ? conn->ch.tx_seq + 1 : ++conn->next_req,
		.session = seal ? conn->ch.session : session,
		.addr_len = (uint16_t)conn->fab->name_len,
		.addr = conn->fab->name,
	};
	int hlen = npmu__msg_encode_hdr(conn->tx, sizeof(conn->tx), &hdr);
	if (hlen < 0)
		return hlen;
	size_t room = sizeof(conn->tx) - (size_t)hlen - NPMU_TAG_LEN;
	int blen = npmu__req_encode(type, req, conn->tx + hlen, room);
	if (blen < 0)
		return blen;
	hdr.body_len = (uint32_t)blen + (seal ? NPMU_TAG_LEN : 0);
	npmu__msg_encode_hdr(conn->tx, sizeof(conn->tx), &hdr);
	if (seal) {
		npmu__seal(&conn->ch, true, hdr.req_id, conn->tx, (size_t)hlen, conn->tx + hlen,
			   (size_t)blen);
		conn->ch.tx_seq++;
	}
	*req_id = hdr.req_id;
	return hlen + (int)hdr.body_len;
}

/* send_msg -- post the receive for the reply, then send conn->tx[0..len). The provider holds a
 * send back (EAGAIN) while it connects; a peer that refuses the connection is retried by it
 * forever, so after REFUSED_CHECK_MS a refusal is looked for. */
static int send_msg(struct npmu__rpc *conn, size_t len, int timeout_ms)
{
	/* progress first: a connection the peer closed meanwhile (it restarted) is noticed now,
	 * before the request goes into it and is lost */
	struct fi_cq_msg_entry stale;
	(void)npmu__fabric_cq_read(conn->fab, &stale, 0); /* (0: progress only, nothing taken) */
	ssize_t frc = fi_recv(conn->fab->ep, conn->rx, sizeof(conn->rx), NULL, FI_ADDR_UNSPEC,
			      &ctx_recv);
	if (frc != 0)
		return npmu__from_fi((int)frc);
	uint64_t start = npmu__now_ms(), deadline = start + (uint64_t)timeout_ms;
	bool checked = false;
	struct npmu__spin spin = {.free_ns = NPMU_SPIN_FREE_NS};
	while ((frc = fi_send(conn->fab->ep, conn->tx, len, NULL, conn->server, &ctx_send)) ==
	       -FI_EAGAIN) {
		struct fi_cq_msg_entry e;
		(void)npmu__fabric_cq_read(conn->fab, &e, 0);
		uint64_t now = npmu__now_ms();
		if (!checked && now - start >= REFUSED_CHECK_MS) {
			checked = true;
			if (npmu__fabric_refused(conn->fab, conn->fab->info->dest_addr)) {
				LOG_DEBUG("%s:%s refuses connections: nothing listens there", conn->host,
					  conn->port);
				return npmu__from_fi(-FI_ECONNREFUSED);
			}
		}
		if (now > deadline)
			return npmu__from_fi(-FI_ETIMEDOUT);
		npmu__spin_idle(&spin);
	}
	return frc == 0 ? 0 : npmu__from_fi((int)frc);
}

/*
 * exchange -- send one request and wait for its reply; conn->lock held, endpoint open. When
 * the connection is sealed (and this is not a handshake message) the body is sealed and the
 * reply opened; session names the session of a plain AUTH3. On success the reply body is at
 * *body (inside conn->rx) and the reply's status is returned.
 */
static int exchange(struct npmu__rpc *conn, uint16_t type, const struct npmu__request *req,
		    uint64_t session, const uint8_t **body, size_t *body_len, int timeout_ms)
{
	conn->answered = false;
	conn->refused_plain = false;
	bool seal = conn->sealed && type != NPMU_MSG_HELLO && type != NPMU_MSG_AUTH1 &&
		    type != NPMU_MSG_AUTH3;
	uint64_t req_id;
	int mlen = encode(conn, type, req, session, seal, &req_id);
	if (mlen < 0)
		return mlen;
	size_t len = 0;
	bool plain = false;
	int rc = send_msg(conn, (size_t)mlen, timeout_ms);
	if (rc == 0)
		rc = wait_rpc(conn, req_id, seal, &len, &plain, timeout_ms);
	if (rc != 0) {
		/* The posted receive and any half-done exchange go away with the endpoint. */
		conn->broken = 1;
		LOG_DEBUG("no answer from %s:%s: %s", conn->host, conn->port, npmu_strerror(rc));
		return rc;
	}
	if (plain) { /* refused in the clear: whatever it said, it may not be the server's */
		conn->answered = conn->refused_plain = true;
		conn->broken = 1; /* (its receive is posted again: start over) */
		return NPMU_E_AUTH;
	}
	int status;
	rc = npmu__reply_accept(seal ? &conn->ch : NULL, type, req_id, conn->rx, len, body,
				body_len, &status);
	conn->answered = rc == 0;
	if (rc == NPMU_E_AUTH)
		conn->broken = 1; /* a reply we cannot trust: start over */
	return rc != 0 ? rc : status;
}

/* authenticate -- the initiator side of the handshake (session.h); opens the sealed channel. */
static int authenticate(struct npmu__rpc *conn, int timeout_ms)
{
	struct npmu__request req = {0};
	struct npmu__transcript t = {0};
	snprintf(req.id, sizeof(req.id), "%s", conn->principal);
	randombytes_buf(req.nonce, NPMU_NONCE_LEN);
	const uint8_t *body;
	size_t blen;
	int rc = exchange(conn, NPMU_MSG_AUTH1, &req, 0, &body, &blen, timeout_ms);
	if (rc != 0)
		return rc;
	struct npmu__auth1_reply a;
	if (npmu__reply_auth1(body, blen, &a) != 0)
		return NPMU_E_PROTO;
	t.session = a.session;
	memcpy(t.id_r, a.id_r, sizeof(t.id_r));
	memcpy(t.nonce_r, a.nonce_r, NPMU_NONCE_LEN);
	snprintf(t.id_i, sizeof(t.id_i), "%s", conn->principal);
	memcpy(t.nonce_i, req.nonce, NPMU_NONCE_LEN);
	if (!npmu__auth_check(conn->key, false, &t, a.mac)) {
		LOG_WARN("authentication with %s:%s failed: it does not hold the key this client has for "
			 "%s (wrong key file, or not the manager expected)",
			 conn->host, conn->port, conn->principal);
		return NPMU_E_AUTH;
	}
	npmu__auth_mac(conn->key, true, &t, req.mac);
	if ((rc = exchange(conn, NPMU_MSG_AUTH3, &req, t.session, &body, &blen, timeout_ms)) != 0)
		return rc;
	npmu__channel_init(&conn->ch, conn->key, true, &t);
	conn->sealed = true;
	return 0;
}

/* open_endpoint -- a fresh endpoint with the server in its AV, greeted and authenticated, each
 * answer awaited at most timeout_ms. */
static int open_endpoint(struct npmu__rpc *conn, int timeout_ms)
{
	npmu__fabric_close(&conn->fab);
	npmu__channel_wipe(&conn->ch);
	conn->sealed = false;
	int rc = npmu__fabric_open(conn->provider, conn->host, conn->port, false, &conn->fab);
	if (rc != 0)
		return rc;
	if (fi_av_insert(conn->fab->av, conn->fab->info->dest_addr, 1, &conn->server, 0, NULL) != 1) {
		npmu__fabric_close(&conn->fab);
		return NPMU_E_UNREACHABLE;
	}
	conn->broken = 0;
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	rc = exchange(conn, NPMU_MSG_HELLO, &req, 0, &body, &blen, timeout_ms);
	if (rc != 0 && conn->answered)
		conn->answered = false; /* (a refused greeting: the endpoint is of no use) */
	if (rc == 0) {
		struct npmu__hello_reply h;
		rc = npmu__reply_hello(body, blen, &h);
		conn->unit_flags = rc == 0 ? h.flags : 0;
	}
	if (rc == 0 && (conn->unit_flags & NPMU_UNIT_AUTH) && conn->have_creds)
		rc = authenticate(conn, timeout_ms);
	if (rc != 0) {
		npmu__fabric_close(&conn->fab);
		conn->broken = 1;
	}
	return rc;
}

/* npmu__rpc_ready -- (re)open the endpoint if it is broken, waiting at most timeout_ms for each
 * answer. */
int npmu__rpc_ready(struct npmu__rpc *conn, int timeout_ms)
{
	if (!conn->broken && conn->fab)
		return 0;
	return open_endpoint(conn, timeout_ms);
}

/* npmu__rpc_silent -- an error that says the far end did not answer (rather than refused). */
bool npmu__rpc_silent(int rc)
{
	return rc == NPMU_E_UNREACHABLE || rc == NPMU_E_TIMEDOUT;
}

/* npmu__rpc_call -- one request on a ready (reopened if need be) endpoint, sealed when
 * authenticated, waiting at most timeout_ms for each answer. A manager request that gets no answer
 * is NPMU_E_MANAGER (PERSIST and CLOSE are the unit's). */
int npmu__rpc_call(struct npmu__rpc *conn, uint16_t type, const struct npmu__request *req,
		     const uint8_t **body, size_t *body_len, int timeout_ms)
{
	bool to_manager = conn->manager && type != NPMU_MSG_PERSIST && type != NPMU_MSG_CLOSE;
	int rc = npmu__rpc_ready(conn, timeout_ms);
	if (rc != 0)
		return to_manager && npmu__rpc_silent(rc) ? NPMU_E_MANAGER : rc;
	bool sealed = conn->sealed;
	rc = exchange(conn, type, req, 0, body, body_len, timeout_ms);
	if (rc == NPMU_E_AUTH && sealed && conn->refused_plain) {
		/* refused before it was opened: the far end no longer knows our session (it
		 * restarted), so it did nothing; authenticate afresh and ask once more */
		LOG_INFO("%s:%s no longer knows our session (restarted?): authenticating again",
			 conn->host, conn->port);
		conn->broken = 1;
		if ((rc = npmu__rpc_ready(conn, timeout_ms)) == 0)
			rc = exchange(conn, type, req, 0, body, body_len, timeout_ms);
		else if (to_manager && npmu__rpc_silent(rc))
			return NPMU_E_MANAGER;
	}
	if (to_manager && npmu__rpc_silent(rc) && !conn->answered) /* (a manager's answer may be that a unit
							   * cannot be reached) */
		return NPMU_E_MANAGER;
	if (rc == NPMU_E_AUTH && !conn->sealed && (conn->unit_flags & NPMU_UNIT_AUTH))
		LOG_WARN("%s:%s requires authentication: set NPMU_CREDENTIALS to a credentials file",
			 conn->host, conn->port);
	return rc;
}



/* npmu__rpc_call_behind -- one request behind transfers in flight, their completions to hook. */
int npmu__rpc_call_behind(struct npmu__rpc *conn, uint16_t type, const struct npmu__request *req,
			  const uint8_t **body, size_t *body_len, int timeout_ms,
			  void (*hook)(void *arg, void *op_context, int err), void *arg)
{
	if (conn->broken || !conn->fab)
		return NPMU_E_FABRIC;
	conn->hook = hook;
	conn->hook_arg = arg;
	int rc = exchange(conn, type, req, 0, body, body_len, timeout_ms);
	conn->hook = NULL;
	conn->hook_arg = NULL;
	return rc;
}

/* npmu__rpc_init -- a client of addr, not yet connected. */
int npmu__rpc_init(struct npmu__rpc *c, const char *provider, const char *addr, int timeout_ms,
		   bool manager)
{
	memset(c, 0, sizeof(*c));
	if (npmu__split_hostport(addr, c->host, sizeof(c->host), c->port, sizeof(c->port),
				 NPMU_DEFAULT_PORT) != 0 ||
	    strlen(provider) >= sizeof(c->provider) || strlen(addr) >= sizeof(c->addr))
		return NPMU_E_INVAL;
	snprintf(c->provider, sizeof(c->provider), "%s", provider);
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->timeout_ms = timeout_ms;
	c->manager = manager;
	c->broken = 1;
	randombytes_buf(&c->next_req, sizeof(c->next_req));
	pthread_mutex_init(&c->lock, NULL);
	return 0;
}

/* npmu__rpc_set_key -- the credentials to authenticate with. */
void npmu__rpc_set_key(struct npmu__rpc *c, const char *principal, const uint8_t key[NPMU_KEY_LEN])
{
	snprintf(c->principal, sizeof(c->principal), "%s", principal);
	memcpy(c->key, key, NPMU_KEY_LEN);
	c->have_creds = true;
}

/* npmu__rpc_fini -- close the endpoint; wipe the key and the session. */
void npmu__rpc_fini(struct npmu__rpc *c)
{
	npmu__fabric_close(&c->fab);
	npmu__channel_wipe(&c->ch);
	pthread_mutex_destroy(&c->lock);
	sodium_memzero(c->key, sizeof(c->key));
}
