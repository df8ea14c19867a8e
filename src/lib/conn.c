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

/* Completion contexts of the control path. */
static int ctx_send, ctx_recv;

/* npmu__now_ms -- a monotonic clock in milliseconds. */
uint64_t npmu__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* open_endpoint -- a fresh endpoint with the server in its AV. */
static int open_endpoint(struct npmu_conn *conn)
{
	npmu__fabric_close(&conn->fab);
	int rc = npmu__fabric_open(conn->provider, conn->host, conn->port, false, &conn->fab);
	if (rc != 0)
		return rc;
	if (fi_av_insert(conn->fab->av, conn->fab->info->dest_addr, 1, &conn->server, 0, NULL) != 1) {
		npmu__fabric_close(&conn->fab);
		return NPMU_E_UNREACHABLE;
	}
	conn->broken = 0;
	return 0;
}

/* npmu__conn_ready -- (re)open the endpoint if it is broken. */
int npmu__conn_ready(struct npmu_conn *conn)
{
	if (!conn->broken && conn->fab)
		return 0;
	return open_endpoint(conn);
}

/* wait_rpc -- progress the CQ until the send and the matching reply complete, or time runs out. */
static int wait_rpc(struct npmu_conn *conn, uint64_t req_id, size_t *len)
{
	uint64_t deadline = npmu__now_ms() + (uint64_t)conn->timeout_ms;
	int sent = 0, replied = 0;
	while (!sent || !replied) {
		struct fi_cq_msg_entry e;
		ssize_t n = fi_cq_read(conn->fab->cq, &e, 1);
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
			return NPMU_E_TIMEDOUT;
		}
	}
	return 0;
}

/* npmu__rpc -- send one request and wait for its reply. */
int npmu__rpc(struct npmu_conn *conn, uint16_t type, const struct npmu__request *req,
	      const uint8_t **body, size_t *body_len)
{
	int rc = npmu__conn_ready(conn);
	if (rc != 0)
		return rc;
	struct npmu__msg_hdr hdr = {
		.type = type,
		.req_id = ++conn->next_req,
		.addr_len = (uint16_t)conn->fab->name_len,
		.addr = conn->fab->name,
	};
	int hlen = npmu__msg_encode_hdr(conn->tx, sizeof(conn->tx), &hdr);
	if (hlen < 0)
		return hlen;
	int blen = npmu__req_encode(type, req, conn->tx + hlen, sizeof(conn->tx) - (size_t)hlen);
	if (blen < 0)
		return blen;
	hdr.body_len = (uint32_t)blen;
	npmu__msg_encode_hdr(conn->tx, sizeof(conn->tx), &hdr);

	ssize_t frc = fi_recv(conn->fab->ep, conn->rx, sizeof(conn->rx), NULL, FI_ADDR_UNSPEC,
			      &ctx_recv);
	if (frc != 0) {
		conn->broken = 1;
		return npmu__from_fi((int)frc);
	}
	uint64_t deadline = npmu__now_ms() + (uint64_t)conn->timeout_ms;
	while ((frc = fi_send(conn->fab->ep, conn->tx, (size_t)(hlen + blen), NULL, conn->server,
			      &ctx_send)) == -FI_EAGAIN) {
		struct fi_cq_msg_entry e;
		(void)fi_cq_read(conn->fab->cq, &e, 0);
		if (npmu__now_ms() > deadline) {
			frc = -FI_ETIMEDOUT;
			break;
		}
	}
	size_t len = 0;
	rc = frc == 0 ? wait_rpc(conn, hdr.req_id, &len) : npmu__from_fi((int)frc);
	if (rc != 0) {
		/* The posted receive and any half-done exchange go away with the endpoint. */
		conn->broken = 1;
		if (rc == NPMU_E_TIMEDOUT || rc == NPMU_E_UNREACHABLE)
			LOG_DEBUG("no answer from %s:%s", conn->host, conn->port);
		return rc;
	}
	struct npmu__msg_hdr reply;
	rc = npmu__msg_decode_hdr(conn->rx, len, &reply);
	if (rc != 0)
		return rc;
	if (reply.type != (type | NPMU_MSG_REPLY))
		return NPMU_E_PROTO;
	*body = reply.body;
	*body_len = reply.body_len;
	return reply.status;
}

/* npmu_conn_new -- connect to the manager at cfg->server and greet it. */
int npmu_conn_new(const struct npmu_conn_cfg *cfg, struct npmu_conn **conn_ptr)
{
	if (!conn_ptr)
		return NPMU_E_INVAL;
	if (sodium_init() < 0)
		return NPMU_E_INTERNAL;
	npmu__log_env();
	const char *server = cfg && cfg->server ? cfg->server : getenv("NPMU_SERVER");
	const char *provider = cfg && cfg->provider ? cfg->provider : getenv("NPMU_PROVIDER");
	if (!server)
		server = "127.0.0.1";
	if (!provider)
		provider = NPMU_DEFAULT_PROVIDER;
	struct npmu_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NPMU_E_NOMEM;
	if (npmu__split_hostport(server, conn->host, sizeof(conn->host), conn->port,
				 sizeof(conn->port), NPMU_DEFAULT_PORT) != 0 ||
	    strlen(provider) >= sizeof(conn->provider)) {
		free(conn);
		return NPMU_E_INVAL;
	}
	snprintf(conn->provider, sizeof(conn->provider), "%s", provider);
	conn->timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	randombytes_buf(&conn->next_req, sizeof(conn->next_req));
	pthread_mutex_init(&conn->lock, NULL);
	conn->broken = 1;
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	int rc = npmu__rpc(conn, NPMU_MSG_HELLO, &req, &body, &blen);
	if (rc == 0) {
		struct npmu__cursor c;
		npmu__cursor_init(&c, (void *)body, blen);
		conn->unit_flags = npmu__get_u32(&c);
		(void)npmu__get_u64(&c);
		if (!c.ok)
			rc = NPMU_E_PROTO;
	}
	if (rc != 0) {
		npmu__fabric_close(&conn->fab);
		pthread_mutex_destroy(&conn->lock);
		free(conn);
		return rc;
	}
	*conn_ptr = conn;
	return 0;
}

/* npmu_conn_delete -- close a connection; NULLs *conn_ptr. */
int npmu_conn_delete(struct npmu_conn **conn_ptr)
{
	if (!conn_ptr || !*conn_ptr)
		return NPMU_E_INVAL;
	struct npmu_conn *conn = *conn_ptr;
	npmu__fabric_close(&conn->fab);
	pthread_mutex_destroy(&conn->lock);
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
		struct npmu__cursor c;
		npmu__cursor_init(&c, (void *)body, blen);
		npmu__info_get(&c, &tmp);
		if (!c.ok || c.pos != blen)
			rc = NPMU_E_PROTO;
		else if (info)
			*info = tmp;
	}
	pthread_mutex_unlock(&conn->lock);
	return rc;
}

/* npmu_region_create -- create a region NAME of SIZE bytes. */
int npmu_region_create(struct npmu_conn *conn, const char *name, uint64_t size,
		       struct npmu_region_info *info)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (!conn || size == 0)
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	req.size = size;
	return info_call(conn, NPMU_MSG_CREATE, &req, info);
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

/* npmu_region_delete -- delete a region (revoking every right to it). */
int npmu_region_delete(struct npmu_conn *conn, const char *name)
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
	rc = npmu__rpc(conn, NPMU_MSG_DELETE, &req, &body, &blen);
	pthread_mutex_unlock(&conn->lock);
	return rc;
}

/* npmu_region_list -- every region, fetched a page at a time. */
int npmu_region_list(struct npmu_conn *conn, struct npmu_region_info **list, size_t *count)
{
	if (!conn || !list || !count)
		return NPMU_E_INVAL;
	struct npmu_region_info *out = NULL;
	size_t n = 0;
	int rc = 0;
	pthread_mutex_lock(&conn->lock);
	for (;;) {
		struct npmu__request req = {.start = (uint32_t)n};
		const uint8_t *body;
		size_t blen;
		rc = npmu__rpc(conn, NPMU_MSG_LIST, &req, &body, &blen);
		if (rc != 0)
			break;
		struct npmu__cursor c;
		npmu__cursor_init(&c, (void *)body, blen);
		uint32_t total = npmu__get_u32(&c);
		uint32_t got = npmu__get_u32(&c);
		if (!c.ok || got > NPMU_WIRE_MAX / 16 || total > (1u << 20)) {
			rc = NPMU_E_PROTO;
			break;
		}
		void *p = realloc(out, (n + got + 1) * sizeof(*out));
		if (!p) {
			rc = NPMU_E_NOMEM;
			break;
		}
		out = p;
		for (uint32_t i = 0; i < got; i++)
			npmu__info_get(&c, &out[n + i]);
		if (!c.ok || c.pos != blen) {
			rc = NPMU_E_PROTO;
			break;
		}
		n += got;
		if (got == 0 || n >= total)
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
