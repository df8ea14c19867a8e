/* client.h -- internals of libnpmu shared by the connection and region code. */
#ifndef NPMU_CLIENT_H
#define NPMU_CLIENT_H

#include <pthread.h>

#include "fabric.h"
#include "npmu.h"
#include "session.h"
#include "wire.h"

/*
 * A connection owns one endpoint and its CQ; every call on the connection or on a region opened
 * through it takes conn->lock, so a connection may be shared between threads. A transport error
 * marks the endpoint broken and the next call opens a fresh one (on tcp, an access with a dead
 * key tears the underlying connection down).
 */
#define NPMU_UNITS_MAX 64

struct npmu_conn {
	pthread_mutex_t lock;
	struct npmu__fabric *fab;
	fi_addr_t server;
	char addr[NPMU_ADDR_STR_MAX + 1]; /* "host:port" as given */
	char host[256];
	char port[16];
	char provider[64];
	int timeout_ms;
	int broken;
	uint64_t next_req;
	uint32_t unit_flags;
	bool have_creds;                /* a principal and key to authenticate with */
	char principal[NPMU_ID_MAX + 1];
	uint8_t key[NPMU_KEY_LEN];
	bool sealed;                    /* an authenticated session is open on the endpoint */
	struct npmu__channel ch;
	struct npmu_conn *units[NPMU_UNITS_MAX]; /* data connections to other units (pmmd) */
	uint32_t nunits;
	uint8_t tx[NPMU_WIRE_MAX];
	uint8_t rx[NPMU_WIRE_MAX];
};

struct npmu_region {
	struct npmu_conn *conn;  /* the manager's connection */
	struct npmu_conn *data;  /* the unit's: conn itself, or one of conn->units */
	struct npmu_region_info info;
	struct npmu__access_info ai;
};

/* npmu__conn_new_keyed -- connect and authenticate as principal with key (a manager to a unit);
 * NPMU_E_AUTH when the far end does not require or does not accept it. */
int npmu__conn_new_keyed(const struct npmu_conn_cfg *cfg, const char *principal,
			 const uint8_t key[NPMU_KEY_LEN], struct npmu_conn **conn_ptr);

/* npmu__region_open_leased -- npmu_region_open showing the stream lease held (0: none): while
 * a stream's lease is live, only its holder may open the stream read-write. */
int npmu__region_open_leased(struct npmu_conn *conn, const char *name, enum npmu_access access,
			     uint64_t lease, struct npmu_region **region_ptr);

/* npmu__conn_clone -- a second connection to the same manager with the same credentials (for
 * work that must not wait behind the first one's traffic, such as lease renewal). */
int npmu__conn_clone(struct npmu_conn *conn, struct npmu_conn **out);

/* npmu__conn_unit -- the data connection to unit `addr` ("" for conn itself); conn->lock held. */
int npmu__conn_unit(struct npmu_conn *conn, const char *addr, struct npmu_conn **out);

/* npmu__conn_ready -- (re)open the endpoint if it is broken; conn->lock held. */
int npmu__conn_ready(struct npmu_conn *conn);

/*
 * npmu__rpc -- send request `type` and wait for its reply; conn->lock held. On success the reply
 * body is at *body (inside conn->rx) with *body_len bytes; returns the reply's status.
 */
int npmu__rpc(struct npmu_conn *conn, uint16_t type, const struct npmu__request *req,
	      const uint8_t **body, size_t *body_len);

/* npmu__now_ms -- a monotonic clock in milliseconds. */
uint64_t npmu__now_ms(void);

#endif
