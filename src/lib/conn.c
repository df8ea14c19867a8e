/* conn.c -- connecting to a unit's manager and the request/response control path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client.h"
#include "codec.h"
#include "errors.h"
#include "log.h"
#include "spin.h"

#define REFUSED_CHECK_MS 20 /* a send held back this long: is anything listening? */
#define REPLY_CHECK_MS 250  /* a reply awaited this long: likewise */

/* Completion contexts of the control path. */
static int ctx_send, ctx_recv;

/* npmu__now_ms -- a monotonic clock in milliseconds. */
uint64_t npmu__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* wait_rpc -- progress the CQ until the send and the matching reply complete, or time runs out. */
static int wait_rpc(struct npmu_conn *conn, uint64_t req_id, size_t *len, int timeout_ms)
{
	uint64_t start = npmu__now_ms(), deadline = start + (uint64_t)timeout_ms;
	int sent = 0, replied = 0;
	bool checked = false;
	struct npmu__spin spin = {.free_ns = NPMU_SPIN_FREE_NS};
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
		ssize_t n = fi_cq_read(conn->fab->cq, &e, 1);
		if (n == 1)
			npmu__spin_progress(&spin);
		else
			npmu__spin_idle(&spin);
		if (n == 1 && e.op_context == &ctx_send) {
			sent = 1;
		} else if (n == 1 && e.op_context == &ctx_recv) {
			struct npmu__msg_hdr hdr;
			if (npmu__msg_decode_hdr(conn->rx, e.len, &hdr) == 0 && hdr.req_id == req_id) {
				*len = e.len;
				replied = 1;
			} else {
				/* a stale or malformed reply: listen again */
				fi_recv(conn->fab->ep, conn->rx, sizeof(conn->rx), NULL, FI_ADDR_UNSPEC,
					&ctx_recv);
			}
		} else if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry err = {0};
			fi_cq_readerr(conn->fab->cq, &err, 0);
			if (err.op_context == &ctx_send || err.op_context == &ctx_recv) {
				LOG_DEBUG("control message failed: %s", fi_strerror(err.err));
				return npmu__from_fi(err.err);
			}
		} else if (n != 1 && npmu__now_ms() > deadline) {
			LOG_DEBUG("no reply (request %s)", sent ? "sent" : "not sent");
			return NPMU_E_TIMEDOUT;
		}
	}
	return 0;
}

/*
 * exchange -- send one request and wait for its reply; conn->lock held, endpoint open. When
 * the connection is sealed (and this is not a handshake message) the body is sealed and the
 * reply opened; session names the session of a plain AUTH3. On success the reply body is at
 * *body (inside conn->rx) and the reply's status is returned.
 */
static int exchange(struct npmu_conn *conn, uint16_t type, const struct npmu__request *req,
		    uint64_t session, const uint8_t **body, size_t *body_len, int timeout_ms)
{
	conn->answered = false;
	conn->refused_plain = false;
	bool seal = conn->sealed && type != NPMU_MSG_HELLO && type != NPMU_MSG_AUTH1 &&
		    type != NPMU_MSG_AUTH3;
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

	/* progress first: a connection the peer closed meanwhile (it restarted) is noticed now,
	 * before the request goes into it and is lost */
	struct fi_cq_msg_entry stale;
	(void)fi_cq_read(conn->fab->cq, &stale, 0);
	ssize_t frc = fi_recv(conn->fab->ep, conn->rx, sizeof(conn->rx), NULL, FI_ADDR_UNSPEC,
			      &ctx_recv);
	if (frc != 0) {
		conn->broken = 1;
		return npmu__from_fi((int)frc);
	}
	/* The provider holds the send back (EAGAIN) while it connects; a peer that refuses the
	 * connection is retried by it forever, so after REFUSED_CHECK_MS a refusal is looked for. */
	uint64_t start = npmu__now_ms(), deadline = start + (uint64_t)timeout_ms;
	bool checked = false;
	struct npmu__spin spin = {.free_ns = NPMU_SPIN_FREE_NS};
	while ((frc = fi_send(conn->fab->ep, conn->tx, (size_t)hlen + hdr.body_len, NULL,
			      conn->server, &ctx_send)) == -FI_EAGAIN) {
		struct fi_cq_msg_entry e;
		(void)fi_cq_read(conn->fab->cq, &e, 0);
		uint64_t now = npmu__now_ms();
		if (!checked && now - start >= REFUSED_CHECK_MS) {
			checked = true;
			if (npmu__fabric_refused(conn->fab, conn->fab->info->dest_addr)) {
				LOG_DEBUG("%s:%s refuses connections: nothing listens there", conn->host,
					  conn->port);
				frc = -FI_ECONNREFUSED;
				break;
			}
		}
		if (now > deadline) {
			frc = -FI_ETIMEDOUT;
			break;
		}
		npmu__spin_idle(&spin);
	}
	size_t len = 0;
	int rc = frc == 0 ? wait_rpc(conn, hdr.req_id, &len, timeout_ms) : npmu__from_fi((int)frc);
	if (rc != 0) {
		/* The posted receive and any half-done exchange go away with the endpoint. */
		conn->broken = 1;
		LOG_DEBUG("no answer from %s:%s: %s", conn->host, conn->port, npmu_strerror(rc));
		return rc;
	}
	int status;
	rc = npmu__reply_accept(seal ? &conn->ch : NULL, type, hdr.req_id, conn->rx, len, body,
				body_len, &status);
	conn->answered = rc == 0;
	struct npmu__msg_hdr rh;
	conn->refused_plain = rc == 0 && seal && status != 0 &&
			      npmu__msg_decode_hdr(conn->rx, len, &rh) == 0 && rh.session == 0;
	if (rc == NPMU_E_AUTH)
		conn->broken = 1; /* a reply we cannot trust: start over */
	return rc != 0 ? rc : status;
}

/* authenticate -- the initiator side of the handshake (session.h); opens the sealed channel. */
static int authenticate(struct npmu_conn *conn, int timeout_ms)
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
static int open_endpoint(struct npmu_conn *conn, int timeout_ms)
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

/* npmu__conn_ready -- (re)open the endpoint if it is broken, waiting at most timeout_ms for each
 * answer. */
int npmu__conn_ready(struct npmu_conn *conn, int timeout_ms)
{
	if (!conn->broken && conn->fab)
		return 0;
	return open_endpoint(conn, timeout_ms);
}

/* silent -- an error that says the far end did not answer (rather than refused). */
static bool silent(int rc)
{
	return rc == NPMU_E_UNREACHABLE || rc == NPMU_E_TIMEDOUT;
}

/* npmu__rpc_within -- npmu__rpc waiting at most timeout_ms for the answer (the connection's own
 * timeout is left alone: others read it). */
int npmu__rpc_within(struct npmu_conn *conn, uint16_t type, const struct npmu__request *req,
		     const uint8_t **body, size_t *body_len, int timeout_ms)
{
	bool to_manager = conn->manager && type != NPMU_MSG_PERSIST && type != NPMU_MSG_CLOSE;
	int rc = npmu__conn_ready(conn, timeout_ms);
	if (rc != 0)
		return to_manager && silent(rc) ? NPMU_E_MANAGER : rc;
	bool sealed = conn->sealed;
	rc = exchange(conn, type, req, 0, body, body_len, timeout_ms);
	if (rc == NPMU_E_AUTH && sealed && conn->refused_plain) {
		/* refused before it was opened: the far end no longer knows our session (it
		 * restarted), so it did nothing; authenticate afresh and ask once more */
		LOG_INFO("%s:%s no longer knows our session (restarted?): authenticating again",
			 conn->host, conn->port);
		conn->broken = 1;
		if ((rc = npmu__conn_ready(conn, timeout_ms)) == 0)
			rc = exchange(conn, type, req, 0, body, body_len, timeout_ms);
		else if (to_manager && silent(rc))
			return NPMU_E_MANAGER;
	}
	if (to_manager && silent(rc) && !conn->answered) /* (a manager's answer may be that a unit
							   * cannot be reached) */
		return NPMU_E_MANAGER;
	if (rc == NPMU_E_AUTH && !conn->sealed && (conn->unit_flags & NPMU_UNIT_AUTH))
		LOG_WARN("%s:%s requires authentication: set NPMU_CREDENTIALS to a credentials file",
			 conn->host, conn->port);
	return rc;
}

/* npmu__rpc -- one request on a ready (reopened if need be) endpoint, sealed when authenticated,
 * under the connection's timeout. A manager request that gets no answer is NPMU_E_MANAGER
 * (PERSIST and CLOSE are the unit's). */
int npmu__rpc(struct npmu_conn *conn, uint16_t type, const struct npmu__request *req,
	      const uint8_t **body, size_t *body_len)
{
	return npmu__rpc_within(conn, type, req, body, body_len, conn->timeout_ms);
}

/* load_credentials -- read a client credentials file: "principal NAME" and "key HEX" or
 * "key-file PATH"; the file (and a key file) must not be readable by others. Every problem is
 * logged naming the file (and line) and answered NPMU_E_CONFIG. */
static int load_credentials(struct npmu_conn *conn, const char *path)
{
	uint8_t key[NPMU_KEY_LEN];
	int rc = npmu__key_read(path, key); /* checks the mode; not parsing as a bare key is normal */
	sodium_memzero(key, sizeof(key));
	if (rc == NPMU_E_NOENT || rc == NPMU_E_ACCESS || rc == NPMU_E_IO) {
		LOG_ERR("credentials %s: %s", path, npmu__key_problem(rc));
		return NPMU_E_CONFIG;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		LOG_ERR("credentials %s: %s", path, npmu__key_problem(NPMU_E_IO));
		return NPMU_E_CONFIG;
	}
	char line[512], word[32], value[400];
	bool have_key = false;
	int lineno = 0;
	rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		int n = sscanf(line, "%31s %399s", word, value);
		if (n <= 0 || word[0] == '#')
			continue;
		if (n == 2 && !strcmp(word, "principal") && npmu__id_valid(value, strlen(value))) {
			size_t vl = strlen(value); /* at most NPMU_ID_MAX: checked */
			memcpy(conn->principal, value, vl);
			conn->principal[vl] = '\0';
		} else if (n == 2 && !strcmp(word, "key")) {
			if ((rc = npmu__key_parse(value, conn->key)) != 0)
				LOG_ERR("credentials %s line %d: %s", path, lineno,
					npmu__key_problem(NPMU_E_INVAL));
			have_key = rc == 0;
		} else if (n == 2 && !strcmp(word, "key-file")) {
			if ((rc = npmu__key_read(value, conn->key)) != 0)
				LOG_ERR("credentials %s line %d: key file %s: %s", path, lineno, value,
					npmu__key_problem(rc));
			have_key = rc == 0;
		} else {
			LOG_ERR("credentials %s line %d: expected 'principal NAME' (1-63 of "
				"A-Z a-z 0-9 . _ @ -), 'key HEX' or 'key-file PATH'", path, lineno);
			rc = NPMU_E_INVAL;
		}
	}
	fclose(f);
	sodium_memzero(line, sizeof(line));
	sodium_memzero(value, sizeof(value));
	if (rc == 0 && (!have_key || !conn->principal[0]))
		LOG_ERR("credentials %s: no %s: expected 'principal NAME' and 'key HEX' or 'key-file "
			"PATH'", path, !conn->principal[0] ? "principal" : "key");
	if (rc != 0 || !have_key || !conn->principal[0])
		return NPMU_E_CONFIG;
	conn->have_creds = true;
	return 0;
}

/* conn_open -- a connection (to a manager, or to a unit for data) with credentials already in
 * memory (principal NULL: none). */
static int conn_open(const struct npmu_conn_cfg *cfg, bool manager, const char *creds_path,
		     const char *principal, const uint8_t *key, struct npmu_conn **conn_ptr)
{
	if (!conn_ptr)
		return NPMU_E_INVAL;
	if (sodium_init() < 0)
		return NPMU_E_INTERNAL;
	npmu__log_env();
	const char *server = cfg && cfg->server ? cfg->server : getenv("NPMU_SERVER");
	if (server && !*server)
		server = NULL; /* NPMU_SERVER="" is unset, not an address */
	const char *provider = cfg && cfg->provider ? cfg->provider : getenv("NPMU_PROVIDER");
	if (!server)
		server = "127.0.0.1";
	if (!provider)
		provider = NPMU_DEFAULT_PROVIDER;
	struct npmu_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NPMU_E_NOMEM;
	int rc = 0;
	if (npmu__split_hostport(server, conn->host, sizeof(conn->host), conn->port,
				 sizeof(conn->port), NPMU_DEFAULT_PORT) != 0 ||
	    strlen(provider) >= sizeof(conn->provider) || strlen(server) >= sizeof(conn->addr))
		rc = NPMU_E_INVAL;
	if (rc == 0 && creds_path && *creds_path)
		rc = load_credentials(conn, creds_path);
	if (rc == 0 && principal) {
		snprintf(conn->principal, sizeof(conn->principal), "%s", principal);
		memcpy(conn->key, key, NPMU_KEY_LEN);
		conn->have_creds = true;
	}
	if (rc != 0) {
		sodium_memzero(conn, sizeof(*conn));
		free(conn);
		return rc;
	}
	snprintf(conn->provider, sizeof(conn->provider), "%s", provider);
	snprintf(conn->addr, sizeof(conn->addr), "%s", server);
	conn->timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	const char *io = getenv("NPMU_IO_TIMEOUT_MS");
	conn->io_timeout_ms = cfg && cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms
			      : io && atoi(io) > 0 ? atoi(io) : 1000;
	randombytes_buf(&conn->next_req, sizeof(conn->next_req));
	conn->manager = manager;
	do
		randombytes_buf(&conn->holder, sizeof(conn->holder));
	while (conn->holder == 0);
	pthread_mutex_init(&conn->lock, NULL);
	pthread_mutex_init(&conn->ka_lock, NULL);
	pthread_cond_init(&conn->ka_cond, NULL);
	conn->broken = 1;
	rc = open_endpoint(conn, conn->timeout_ms);
	if (rc != 0) {
		npmu__fabric_close(&conn->fab);
		pthread_mutex_destroy(&conn->lock);
		pthread_mutex_destroy(&conn->ka_lock);
		pthread_cond_destroy(&conn->ka_cond);
		sodium_memzero(conn, sizeof(*conn));
		free(conn);
		if (manager && silent(rc))
			LOG_DEBUG("no manager answers at %s", server);
		return manager && silent(rc) ? NPMU_E_MANAGER : rc;
	}
	*conn_ptr = conn;
	return 0;
}

/* npmu__conn_clone -- a second connection to the same manager with the same credentials. */
int npmu__conn_clone(struct npmu_conn *conn, struct npmu_conn **out)
{
	struct npmu_conn_cfg cfg = {.server = conn->addr, .provider = conn->provider,
				    .timeout_ms = conn->timeout_ms, .credentials = "",
				    .io_timeout_ms = conn->io_timeout_ms};
	pthread_mutex_lock(&conn->lock);
	char principal[NPMU_ID_MAX + 1];
	uint8_t key[NPMU_KEY_LEN];
	bool creds = conn->have_creds;
	memcpy(principal, conn->principal, sizeof(principal));
	memcpy(key, conn->key, sizeof(key));
	pthread_mutex_unlock(&conn->lock);
	int rc = conn_open(&cfg, conn->manager, NULL, creds ? principal : NULL, key, out);
	sodium_memzero(key, sizeof(key));
	return rc;
}

/* npmu_conn_new -- connect to the manager at cfg->server, greet it and authenticate. */
int npmu_conn_new(const struct npmu_conn_cfg *cfg, struct npmu_conn **conn_ptr)
{
	const char *creds = cfg && cfg->credentials ? cfg->credentials : getenv("NPMU_CREDENTIALS");
	return conn_open(cfg, true, creds, NULL, NULL, conn_ptr);
}

/* npmu__conn_new_keyed -- connect and authenticate as principal with key (a manager to a unit). */
int npmu__conn_new_keyed(const struct npmu_conn_cfg *cfg, const char *principal,
			 const uint8_t key[NPMU_KEY_LEN], struct npmu_conn **conn_ptr)
{
	int rc = conn_open(cfg, false, NULL, principal, key, conn_ptr);
	if (rc == 0 && !(*conn_ptr)->sealed) {
		npmu_conn_delete(conn_ptr); /* it does not take authenticated programming */
		return NPMU_E_AUTH;
	}
	return rc;
}

/* npmu__conn_unit -- the data connection to unit addr, made (unauthenticated: data operations
 * carry their key as proof) the first time it is needed. */
int npmu__conn_unit(struct npmu_conn *conn, const char *addr, struct npmu_conn **out)
{
	if (!addr[0]) {
		*out = conn;
		return 0;
	}
	for (uint32_t i = 0; i < conn->nunits; i++)
		if (strcmp(conn->units[i]->addr, addr) == 0) {
			*out = conn->units[i];
			return 0;
		}
	if (conn->nunits == NPMU_UNITS_MAX)
		return NPMU_E_LIMIT;
	struct npmu_conn_cfg cfg = {.server = addr, .provider = conn->provider,
				    .timeout_ms = conn->timeout_ms, .credentials = "",
				    .io_timeout_ms = conn->io_timeout_ms};
	struct npmu_conn *u;
	int rc = conn_open(&cfg, false, NULL, NULL, NULL, &u);
	if (rc != 0)
		return rc;
	conn->units[conn->nunits++] = u;
	*out = u;
	return 0;
}

/* keepalive_main -- renew the holder every third of its TTL; a renewal that cannot get the
 * connection within that time (a long transfer on it) is skipped, not queued. */
static void *keepalive_main(void *arg)
{
	struct npmu_conn *conn = arg;
	uint32_t ttl = NPMU_HOLDER_TTL_MS;
	bool told = false;
	pthread_mutex_lock(&conn->ka_lock);
	while (!conn->ka_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(ttl / 3) * 1000000;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&conn->ka_cond, &conn->ka_lock, &ts);
		if (conn->ka_stop)
			break;
		pthread_mutex_unlock(&conn->ka_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (uint64_t)ts.tv_nsec + (uint64_t)(ttl / 3) * 1000000;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		if (pthread_mutex_timedlock(&conn->lock, &ts) == 0) {
			struct npmu__request req = {.holder = conn->holder};
			const uint8_t *body;
			size_t blen;
			/* a renewal never waits longer than its period */
			int rc = npmu__rpc_within(conn, NPMU_MSG_HOLDER, &req, &body, &blen,
						  (int)(ttl / 3));
			uint32_t t;
			if (rc == 0 && npmu__reply_holder(body, blen, &t) == 0)
				ttl = t;
			pthread_mutex_unlock(&conn->lock);
			if (rc != 0 && !told)
				LOG_INFO("holder renewal at %s: %s (retrying)", conn->addr,
					 npmu_strerror(rc));
			told = rc != 0;
		}
		pthread_mutex_lock(&conn->ka_lock);
	}
	pthread_mutex_unlock(&conn->ka_lock);
	return NULL;
}

/* npmu__conn_hold -- start the holder's renewals (once per connection). */
void npmu__conn_hold(struct npmu_conn *conn)
{
	pthread_mutex_lock(&conn->ka_lock);
	if (!conn->ka_running && !conn->ka_stop && conn->manager &&
	    pthread_create(&conn->ka, NULL, keepalive_main, conn) == 0)
		conn->ka_running = true;
	pthread_mutex_unlock(&conn->ka_lock);
}

/* npmu_conn_delete -- close a connection and its data connections; NULLs *conn_ptr. */
int npmu_conn_delete(struct npmu_conn **conn_ptr)
{
	if (!conn_ptr || !*conn_ptr)
		return NPMU_E_INVAL;
	struct npmu_conn *conn = *conn_ptr;
	pthread_mutex_lock(&conn->ka_lock);
	conn->ka_stop = true;
	pthread_cond_signal(&conn->ka_cond);
	bool running = conn->ka_running;
	pthread_mutex_unlock(&conn->ka_lock);
	if (running)
		pthread_join(conn->ka, NULL);
	for (uint32_t i = 0; i < conn->nunits; i++)
		npmu_conn_delete(&conn->units[i]);
	npmu__fabric_close(&conn->fab);
	pthread_mutex_destroy(&conn->lock);
	pthread_mutex_destroy(&conn->ka_lock);
	pthread_cond_destroy(&conn->ka_cond);
	sodium_memzero(conn, sizeof(*conn));
	free(conn);
	*conn_ptr = NULL;
	return 0;
}

/* name_request -- a request carrying a validated region name. */
static int name_request(const char *name, struct npmu__request *req)
{
	memset(req, 0, sizeof(*req));
	if (!name)
		return NPMU_E_INVAL;
	size_t n = strnlen(name, NPMU_NAME_MAX + 1);
	if (!npmu__name_valid(name, n))
		return NPMU_E_NAME;
	memcpy(req->name, name, n);
	return 0;
}

/* info_call -- a request whose reply is one region_info. */
static int info_call(struct npmu_conn *conn, uint16_t type, struct npmu__request *req,
		     struct npmu_region_info *info)
{
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->lock);
	int rc = npmu__rpc(conn, type, req, &body, &blen);
	if (rc == 0) {
		struct npmu_region_info tmp;
		rc = npmu__reply_info(body, blen, &tmp);
		if (rc == 0 && info)
			*info = tmp;
	}
	pthread_mutex_unlock(&conn->lock);
	return rc;
}

/* npmu_region_create_ex -- create a region with options: its unit(s), mirrored or not. */
int npmu_region_create_ex(struct npmu_conn *conn, const char *name, uint64_t size,
			  const struct npmu_region_opts *opts, struct npmu_region_info *info)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	const char *unit = opts && opts->unit ? opts->unit : "";
	const char *unit2 = opts && opts->mirror_unit ? opts->mirror_unit : "";
	if (!conn || size == 0 || strlen(unit) > NPMU_ADDR_STR_MAX ||
	    strlen(unit2) > NPMU_ADDR_STR_MAX || (unit2[0] && !(opts && opts->mirror)))
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	req.size = size;
	req.copies = opts && opts->mirror ? 2 : 1;
	snprintf(req.unit, sizeof(req.unit), "%s", unit);
	snprintf(req.unit2, sizeof(req.unit2), "%s", unit2);
	return info_call(conn, NPMU_MSG_CREATE, &req, info);
}

/* npmu_region_create_on -- create a region NAME of SIZE bytes, on a given unit if named. */
int npmu_region_create_on(struct npmu_conn *conn, const char *name, uint64_t size,
			  const char *unit, struct npmu_region_info *info)
{
	struct npmu_region_opts opts = {.unit = unit};
	return npmu_region_create_ex(conn, name, size, &opts, info);
}

/* npmu_region_create -- create a region NAME of SIZE bytes where the manager chooses. */
int npmu_region_create(struct npmu_conn *conn, const char *name, uint64_t size,
		       struct npmu_region_info *info)
{
	return npmu_region_create_on(conn, name, size, NULL, info);
}

/* npmu_region_resize -- grow a region. */
int npmu_region_resize(struct npmu_conn *conn, const char *name, uint64_t size,
		       struct npmu_region_info *info)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (!conn || size == 0)
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	req.size = size;
	return info_call(conn, NPMU_MSG_RESIZE, &req, info);
}

/* npmu_region_stat -- describe one region. */
int npmu_region_stat(struct npmu_conn *conn, const char *name, struct npmu_region_info *info)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (!conn || !info)
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	return info_call(conn, NPMU_MSG_STAT, &req, info);
}

/* name_call -- a request that names a region, on the locked connection; the reply's status. */
static int name_call(struct npmu_conn *conn, uint16_t type, const char *name, uint32_t *count)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (!conn)
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->lock);
	rc = npmu__rpc(conn, type, &req, &body, &blen);
	if (rc == 0 && count) {
		rc = npmu__reply_u32(body, blen, count);
	}
	pthread_mutex_unlock(&conn->lock);
	return rc;
}

/* npmu_region_delete -- delete a region (revoking every right to it). */
int npmu_region_delete(struct npmu_conn *conn, const char *name)
{
	return name_call(conn, NPMU_MSG_DELETE, name, NULL);
}

/* npmu_region_revoke -- close every right to a region; returns how many. */
int npmu_region_revoke(struct npmu_conn *conn, const char *name)
{
	uint32_t n = 0;
	int rc = name_call(conn, NPMU_MSG_REVOKE, name, &n);
	return rc == 0 ? (int)n : rc;
}

/* npmu_region_list -- every region the caller may see, fetched a page at a time. */
int npmu_region_list(struct npmu_conn *conn, struct npmu_region_info **list, size_t *count)
{
	if (!conn || !list || !count)
		return NPMU_E_INVAL;
	struct npmu_region_info *out = NULL;
	size_t n = 0;
	uint32_t start = 0;
	int rc = 0;
	pthread_mutex_lock(&conn->lock);
	for (int pages = 0; pages < (1 << 16); pages++) {
		struct npmu__request req = {.start = start};
		const uint8_t *body;
		size_t blen;
		rc = npmu__rpc(conn, NPMU_MSG_LIST, &req, &body, &blen);
		if (rc != 0)
			break;
		struct npmu__list_page page;
		if ((rc = npmu__reply_list(body, blen, start, &page)) != 0)
			break;
		void *p = realloc(out, (n + page.count + 1) * sizeof(*out));
		if (!p) {
			free(page.infos);
			rc = NPMU_E_NOMEM;
			break;
		}
		out = p;
		if (page.count)
			memcpy(out + n, page.infos, page.count * sizeof(*out));
		free(page.infos);
		n += page.count;
		start = page.next;
		if (page.last)
			break;
	}
	pthread_mutex_unlock(&conn->lock);
	if (rc != 0) {
		free(out);
		return rc;
	}
	*list = out ? out : calloc(1, sizeof(*out));
	*count = n;
	return *list ? 0 : NPMU_E_NOMEM;
}

/* npmu_unit_list -- the manager's units with their state and capacity. */
int npmu_unit_list(struct npmu_conn *conn, struct npmu_unit_info **list, size_t *count)
{
	if (!conn || !list || !count)
		return NPMU_E_INVAL;
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->lock);
	int rc = npmu__rpc(conn, NPMU_MSG_UNITS, &req, &body, &blen);
	struct npmu_unit_info *out = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = npmu__reply_units(body, blen, &out, &n);
	pthread_mutex_unlock(&conn->lock);
	if (rc == 0) {
		*list = out;
		*count = n;
	}
	return rc;
}
