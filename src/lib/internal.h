/* internal.h -- internals of libnpmu shared by its connection, region, mirror, stream and set code. */
#ifndef NPMU_INTERNAL_H
#define NPMU_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "client.h"
#include "clock.h"
#include "fabric.h"
#include "mirror_format.h"
#include "npmu.h"
#include "replies.h"
#include "session.h"
#include "wire.h"

/*
 * A connection: the request/reply client of its manager (rpc, whose lock every call on the
 * connection or on a region opened through it takes, so a connection may be shared between
 * threads), the holder id its rights are recorded under, and the data connections to other
 * units that pmmd sent it to.
 */
#define NPMU_UNITS_MAX 64

struct npmu_conn {
	struct npmu__rpc rpc;
	uint64_t holder;                /* this connection's holder id (src/manager/holders.h) */
	/* keeps the holder alive while regions are open through this connection */
	pthread_t ka;
	bool ka_running, ka_stop;
	pthread_mutex_t ka_lock;
	pthread_cond_t ka_cond;
	int io_timeout_ms;              /* a mirrored region's copy without progress this long is lost */
	struct npmu_conn *units[NPMU_UNITS_MAX]; /* data connections to other units (pmmd) */
	uint32_t nunits;
	/* an encoder's buffer (src/lib/stage.c): the largest staged version it read, kept for the
	 * next (fresh memory's page faults cost as much as the transfer); freed with the conn */
	pthread_mutex_t scratch_lock;
	void *scratch;
	size_t scratch_cap;
	bool scratch_busy;
};

/* One copy of a mirrored region, as a handle holds it. */
struct npmu__copy {
	struct npmu_conn *data;        /* the copy's unit (one of conn->units) */
	struct npmu__access_info ai;
	uint64_t region_id;            /* the copy's id on its unit */
	bool granted;                  /* ai holds a right on this copy */
	uint64_t rtt_us;               /* measured at open: the nearest copy serves reads */
};

/*
 * A mirrored writer's resync thread (mirror.c), under mlock:
 *   BG_NONE --bg_start--> BG_RUNNING --(every copy in sync, or bg_stop)--> BG_FINISHED
 *   BG_FINISHED --(joined by bg_start, npmu_region_resync or close)--> BG_NONE
 *   BG_RUNNING --(bg_stop set, joined by npmu_region_resync or close)--> BG_NONE
 */
enum npmu__bg_state {
	NPMU__BG_NONE = 0,     /* no thread */
	NPMU__BG_RUNNING = 1,  /* resyncing stale copies */
	NPMU__BG_FINISHED = 2, /* it returned; to be joined */
};

/*
 * A right to a region. A plain region has one copy (data, ai). A mirrored region has two
 * (copy[]), the mirror record as last learnt (the attribute cache), and a lock that orders its
 * writes, its reads and its resync steps. A writer's handle resyncs stale copies from a thread
 * of its own (src/lib/mirror.c).
 */
struct npmu_region {
	struct npmu_conn *conn;  /* the manager's connection */
	struct npmu_conn *data;  /* the unit's: conn itself, or one of conn->units */
	struct npmu_region_info info;
	struct npmu__access_info ai;
	uint64_t lease;          /* the stream lease shown at open (0: none) */
	/* mirrored regions only */
	bool mirrored;
	pthread_mutex_t mlock;
	atomic_uint mwaiting;    /* writes, reads and probes waiting for mlock (resync yields) */
	struct npmu__mirror m;   /* the attribute cache: copy states as last learnt */
	uint64_t m_at_ms;        /* when m was learnt */
	struct npmu__copy copy[NPMU_MIRROR_COPIES];
	enum npmu_copy read_from;
	int last_read;           /* the copy the last read came from */
	uint64_t suspect_ms[NPMU_MIRROR_COPIES]; /* a copy that failed a read is tried last until */
	pthread_t bg;            /* the resync thread of a writer's handle */
	enum npmu__bg_state bg_state; /* the resync thread (below) */
	bool bg_stop;
	pthread_cond_t bg_cond;  /* wakes the resync thread early (on close) */
};

/* One transfer's pieces, for npmu__transfer. */
struct npmu__xfer_target {
	struct npmu_conn *data;
	const struct npmu__access_info *ai;
	uint64_t region_id;
	bool quick;  /* a copy of a mirrored region: after a timeout, fail over, do not probe */
	const struct npmu_iov *iov; /* this target's own pieces (NULL: the shared ones) */
	int iovcnt;
	uint64_t also_off, also_len; /* npmu__transfer_persist: a range written before, made
				      * durable with the pieces (also_len 0: none) */
	int rc; /* out */
};

#define NPMU_XFER_MAX 64 /* targets of one npmu__transfer */

/*
 * npmu__transfer -- move every piece of iov (or of a target's own iov) to (write) or from each
 * target at once, chunked, with a window of transfers in flight per target, and wait for all;
 * timeout_ms bounds a target's wait for progress (0: each target connection's own timeout).
 * Each target's outcome lands in its rc; returns the first error.
 */
int npmu__transfer(struct npmu__xfer_target *t, int nt, int write, const struct npmu_iov *iov,
		   int iovcnt, int timeout_ms);

/*
 * npmu__transfer_persist -- write every piece of iov to target t and make the pieces (and the
 * target's `also` range) durable at its unit, with one PERSIST sent behind the writes (one round
 * trip) where the provider orders sends after writes, else after them. Returns the writes'
 * error, else the PERSIST's.
 */
int npmu__transfer_persist(struct npmu__xfer_target *t, const struct npmu_iov *iov, int iovcnt,
			   int timeout_ms);

/* npmu__mirror_open -- finish opening a mirrored region from the OPEN reply's mirror part. */
struct npmu__cursor;
int npmu__mirror_open(struct npmu_region *r, const struct npmu__open_reply *o);
/* npmu__mirror_start -- measure the copies and, for a writer, start resyncing stale ones. */
int npmu__mirror_start(struct npmu_region *r);
/* npmu__mirror_close -- stop the resync thread and give back every copy's right. */
int npmu__mirror_close(struct npmu_region *r);
/* npmu__mirror_write / _read / _persist -- the data path of a mirrored region. */
int npmu__mirror_write(struct npmu_region *r, const struct npmu_iov *iov, int iovcnt);
int npmu__mirror_read(struct npmu_region *r, uint64_t off, void *buf, size_t len);
int npmu__mirror_persist(struct npmu_region *r, uint64_t off, uint64_t len);

/* npmu__conn_new_keyed -- connect and authenticate as principal with key (a manager to a unit);
 * NPMU_E_AUTH when the far end does not require or does not accept it. */
int npmu__conn_new_keyed(const struct npmu_conn_cfg *cfg, const char *principal,
			 const uint8_t key[NPMU_KEY_LEN], struct npmu_conn **conn_ptr);

/* npmu__open_call -- ask the manager for a right to region name (OPEN, showing lease: 0 for
 * none) and decode its answer into *o; conn->rpc.lock held. */
int npmu__open_call(struct npmu_conn *conn, const char *name, enum npmu_access access,
		    uint64_t lease, struct npmu__open_reply *o);

/* npmu__region_open_leased -- npmu_region_open showing the stream lease held (0: none): while
 * a stream's lease is live, only its holder may open the stream read-write. */
int npmu__region_open_leased(struct npmu_conn *conn, const char *name, enum npmu_access access,
			     uint64_t lease, struct npmu_region **region_ptr);

/* npmu__conn_clone -- a second connection to the same manager with the same credentials (for
 * work that must not wait behind the first one's traffic, such as lease renewal). */
int npmu__conn_clone(struct npmu_conn *conn, struct npmu_conn **out);

/* npmu__conn_hold -- (a region was opened) keep renewing this connection's holder at the manager
 * from a thread of its own, from now until the connection is deleted. conn->lock not held. */
void npmu__conn_hold(struct npmu_conn *conn);

/* npmu__conn_unit -- the data connection to unit `addr` ("" for conn itself); conn->lock held. */
int npmu__conn_unit(struct npmu_conn *conn, const char *addr, struct npmu_conn **out);

/* npmu__conn_call -- send request `type` to conn's server and wait for its reply (at most the
 * connection's timeout); conn->rpc.lock held. See npmu__rpc_call. */
static inline int npmu__conn_call(struct npmu_conn *conn, uint16_t type,
				  const struct npmu__request *req, const uint8_t **body,
				  size_t *body_len)
{
	return npmu__rpc_call(&conn->rpc, type, req, body, body_len, conn->rpc.timeout_ms);
}

#endif
