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
/* A handler's answer meaning "answer this, with an empty body, once its batch is done" (ops). */
#define NPMU__SERVE_BATCHED 2

/*
 * The owner's part. handle answers every request but HELLO and the handshake on the receiving
 * thread: 0 with the reply body written to reply, an error, or NPMU__SERVE_LATER to have
 * handle_later serve it, in arrival order, on a thread of its own (a request that may wait on
 * other machines must not delay renewals). idle runs on that thread when nothing came for
 * idle_ms. stalled is told when one request kept the loop busy for ms or more (STALL_MS).
 * The requests answered NPMU__SERVE_BATCHED leave work in common (a unit's group flush): once
 * the loop has served every request waiting at once (or BATCH_MAX of them), never waiting for
 * more, it calls batch_begin: 1 when the work is done already (answered at once), 0 when it
 * was sent away, off the loop, which goes on serving meanwhile; NPMU_E_BUSY when it can only
 * be sent away and one batch is away already (the requests gather until that lands), or an
 * error to answer them with at once. When the batch away is done, the owner makes batch_fd
 * readable; the loop then calls batch_end (with wait, it blocks until the work is done; true
 * when it was) and answers its requests. batch_types has bit T set for each message type T
 * that handle may answer NPMU__SERVE_BATCHED: while a full batch waits for the one away,
 * requests of those types are held unread (service.c, hold) and the rest served.
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
	int (*batch_begin)(void *arg);
	bool (*batch_end)(void *arg, bool wait);
	int batch_fd;
	uint64_t batch_types;
};

#endif
