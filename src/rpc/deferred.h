/* deferred.h -- requests served on a thread of their own (pmmd: those that ask units). */
#ifndef NPMU_DEFERRED_H
#define NPMU_DEFERRED_H

#include <rdma/fabric.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handlers.h"
#include "wire.h"

/*
 * pmmd answers renewals (of holders and leases), handshakes and HELLO on the thread that
 * receives requests, at once; a request that has to ask units (which may take a unit timeout
 * when one is away) is queued here and served in order by one slow thread, whose answer the
 * receiving thread then seals and sends. So a lease is never renewed late because a unit is
 * slow (leases.h), and the units are asked by one thread at a time, as before.
 *
 * A job's life: QUEUED (submitted by the receiving thread) -> SERVED (its reply body and status
 * filled by the slow thread) -> taken back and sent by the receiving thread. At most
 * NPMU_DEFERRED_MAX jobs wait, and NPMU_DEFERRED_PER_PEER of one peer (its return address:
 * where its session was made, when sealed): a client sends one request at a time, so one that
 * sends them back to back cannot fill the queue and lock everyone else out, nor delay their
 * requests behind its own; beyond either a request is refused at once (NPMU_E_LIMIT).
 * When idle for `idle_ms`, the slow thread calls `idle` (pmmd: look at the units that are away).
 */
#define NPMU_DEFERRED_MAX 256
#define NPMU_DEFERRED_PER_PEER 2

struct npmu__job {
	/* the request */
	uint16_t type;
	uint64_t req_id;
	uint64_t session;              /* 0: the reply goes in the clear */
	fi_addr_t to;
	bool has_who;
	char who[NPMU_ID_MAX + 1];
	bool manager, secured;         /* as in struct npmu__caller */
	char peer[128];
	struct npmu__request req;
	/* the answer */
	int status;
	size_t body_len;
	uint8_t body[NPMU_WIRE_MAX];
	struct npmu__job *next;
};

struct npmu__deferred;

/* npmu__deferred_new -- start the thread serving jobs with ops->handle_later (and calling
 * ops->idle, if set); ops must outlive it. */
int npmu__deferred_new(const struct npmu__service_ops *ops, struct npmu__deferred **out);

/* npmu__deferred_delete -- stop the thread (after its current job) and free every job. */
void npmu__deferred_delete(struct npmu__deferred **d);

/* npmu__deferred_fd -- readable while served jobs wait to be taken. */
int npmu__deferred_fd(const struct npmu__deferred *d);

/* npmu__deferred_submit -- queue a copy of job; NPMU_E_LIMIT when NPMU_DEFERRED_MAX wait, or
 * NPMU_DEFERRED_PER_PEER of job->to's. */
int npmu__deferred_submit(struct npmu__deferred *d, const struct npmu__job *job);

/* npmu__deferred_waiting -- jobs submitted and not yet taken back (queued, being served, or
 * served). */
unsigned npmu__deferred_waiting(struct npmu__deferred *d);

/* npmu__deferred_take -- a served job (the caller frees it with free()), or NULL. */
struct npmu__job *npmu__deferred_take(struct npmu__deferred *d);

#endif
