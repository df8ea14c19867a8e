/* client.h -- the request/reply client of npmud and pmmd, used by libnpmu and by pmmd: one
 * endpoint to one server, greeted, authenticated when it has credentials, requests sealed. */
#ifndef NPMU_RPC_CLIENT_H
#define NPMU_RPC_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fabric.h"
#include "session.h"
#include "wire.h"

/*
 * A client owns one endpoint and its CQ; its users take `lock` around every call, so a client
 * may be shared between threads. A transport error marks the endpoint broken and the next call
 * opens a fresh one (on tcp, an access with a dead key tears the underlying connection down).
 * Nothing here changes after npmu__rpc_init but under `lock`.
 */
struct npmu__rpc {
	pthread_mutex_t lock;
	bool manager;                   /* to a manager (its silence is NPMU_E_MANAGER), not a unit */
	struct npmu__fabric *fab;
	fi_addr_t server;
	char addr[NPMU_ADDR_STR_MAX + 1]; /* "host:port" as given */
	char host[256];
	char port[16];
	char provider[64];
	int timeout_ms;                 /* how long a request waits for its answer by default */
	int broken;
	bool answered;                  /* the last exchange got a reply (its status may be an error) */
	bool refused_plain;             /* ...a refusal in the clear of a sealed request: the far end
					 * could not open it (it does not know our session) */
	uint64_t next_req;
	uint32_t unit_flags;            /* the server's HELLO flags (NPMU_UNIT_*) */
	bool have_creds;                /* a principal and key to authenticate with */
	char principal[NPMU_ID_MAX + 1];
	uint8_t key[NPMU_KEY_LEN];
	bool sealed;                    /* an authenticated session is open on the endpoint */
	/* while a request travels behind one-sided transfers still in flight on the endpoint
	 * (npmu__rpc_call_behind): where their completions go (err: 0, or the fi error) */
	void (*hook)(void *arg, void *op_context, int err);
	void *hook_arg;
	struct npmu__channel ch;
	uint8_t tx[NPMU_WIRE_MAX];
	uint8_t rx[NPMU_WIRE_MAX];
};

/*
 * npmu__rpc_init -- set c up for the server at addr ("host[:port]", NPMU_DEFAULT_PORT when
 * none) over provider, not yet connected (npmu__rpc_ready connects). manager: the server is a
 * manager, whose silence is told as NPMU_E_MANAGER. NPMU_E_INVAL for an address or provider
 * name that does not fit.
 */
int npmu__rpc_init(struct npmu__rpc *c, const char *provider, const char *addr, int timeout_ms,
		   bool manager);

/* npmu__rpc_set_key -- authenticate as principal with key from the next (re)connection on. */
void npmu__rpc_set_key(struct npmu__rpc *c, const char *principal, const uint8_t key[NPMU_KEY_LEN]);

/* npmu__rpc_fini -- close the endpoint and wipe the key. */
void npmu__rpc_fini(struct npmu__rpc *c);

/* npmu__rpc_ready -- (re)open the endpoint if it is broken, waiting at most timeout_ms for each
 * answer; c->lock held. */
int npmu__rpc_ready(struct npmu__rpc *c, int timeout_ms);

/*
 * npmu__rpc_call -- send one request on a ready (reopened if need be) endpoint, sealed when
 * authenticated, and wait at most timeout_ms for its answer; c->lock held. On success the
 * reply body is at *body (inside c->rx, valid until the next call) and the reply's status is
 * returned. A manager's silence is NPMU_E_MANAGER (PERSIST and CLOSE are a unit's). A server
 * that restarted and forgot the session is authenticated with again, once, by itself.
 */
int npmu__rpc_call(struct npmu__rpc *c, uint16_t type, const struct npmu__request *req,
		   const uint8_t **body, size_t *body_len, int timeout_ms);

/*
 * npmu__rpc_call_behind -- send one request on the endpoint as it is, behind one-sided
 * transfers posted on it and not yet complete, and wait at most timeout_ms for its answer;
 * c->lock held. Every completion that is not the request's own goes to hook(arg, op_context,
 * err) meanwhile. Unlike npmu__rpc_call it never reopens the endpoint (that would cancel the
 * transfers): a broken one, or a server that forgot the session, is an error for the caller
 * to handle once its transfers are accounted for. Returns like npmu__rpc_call.
 */
int npmu__rpc_call_behind(struct npmu__rpc *c, uint16_t type, const struct npmu__request *req,
			  const uint8_t **body, size_t *body_len, int timeout_ms,
			  void (*hook)(void *arg, void *op_context, int err), void *arg);

/* npmu__rpc_silent -- an error that says the far end did not answer (rather than refused). */
bool npmu__rpc_silent(int rc);

#endif
