/* handlers.h -- what the owner of a service (npmud, pmmd) supplies to answer requests, and what
 * a handler is told of each request's sender. */
#ifndef NPMU_HANDLERS_H
#define NPMU_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "wire.h"

/* What a handler is told of a request's sender. */
struct npmu__caller {
	const char *who;    /* the principal of its session, or NULL (sent in the clear) */
	bool manager;       /* its session is the manager's (NPMU_MANAGER_ID) */
	bool secured;       /* the service authenticates: NULL who means anonymous */
	const char *peer;   /* its address, printable */
};

/* A handler's answer meaning "serve this on the slow thread" (ops.handle_later). */
#define NPMU__SERVE_LATER 1
/* A handler's answer meaning "answer this, with an empty body, once ops.batch_end has run". */
#define NPMU__SERVE_BATCHED 2

/*
 * The owner's part. handle answers every request but HELLO and the handshake on the receiving
 * thread: 0 with the reply body written to reply, an error, or NPMU__SERVE_LATER to have
 * handle_later serve it, in arrival order, on a thread of its own (a request that may wait on
 * other machines must not delay renewals). idle runs on that thread when nothing came for
 * idle_ms. stalled is told when one request kept the loop busy for ms or more (STALL_MS).
 * batch_end finishes the work the requests answered NPMU__SERVE_BATCHED left in common (a
 * unit's group flush): the loop calls it once it has served every request waiting at once
 * (or NPMU_BATCH_MAX of them), never waiting for more, and answers them with its status.
 */
struct npmu__service_ops {
	void *arg;
	void (*hello)(void *arg, uint32_t *flags, uint8_t id[8], uint64_t *capacity, uint64_t *free);
	int (*handle)(void *arg, const struct npmu__caller *c, uint16_t type,
		      const struct npmu__request *req, struct npmu__cursor *reply);
	int (*handle_later)(void *arg, const struct npmu__caller *c, uint16_t type,
			    const struct npmu__request *req, struct npmu__cursor *reply);
	void (*idle)(void *arg);
	unsigned idle_ms;
	void (*stalled)(void *arg, uint64_t ms);
	int (*batch_end)(void *arg);
};

#endif
