/* service.h -- the request loop of npmud and pmmd: receives requests on the endpoint, opens
 * sealed ones, answers HELLO and the handshake itself and hands the rest to its owner's handlers
 * (struct npmu__service_ops), then seals and sends the answers. */
#ifndef NPMU_SERVICE_H
#define NPMU_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "fabric.h"
#include "wire.h"

struct npmu__service;
struct npmu__sessions;

/* Counters a running service keeps (for logs and tests). */
struct npmu__service_stats {
	uint64_t requests;  /* well-formed requests served */
	uint64_t rejected;  /* malformed, oversized or unanswerable messages */
};

/* What a handler is told of a request's sender. */
struct npmu__caller {
	const char *who;    /* the principal of its session, or NULL (sent in the clear) */
	bool manager;       /* its session is the manager's (NPMU_MANAGER_ID) */
	bool secured;       /* the service authenticates: NULL who means anonymous */
	const char *peer;   /* its address, printable */
};

/* A handler's answer meaning "serve this on the slow thread" (ops.handle_later). */
#define NPMU__SERVE_LATER 1

/*
 * The owner's part. handle answers every request but HELLO and the handshake on the receiving
 * thread: 0 with the reply body written to reply, an error, or NPMU__SERVE_LATER to have
 * handle_later serve it, in arrival order, on a thread of its own (a request that may wait on
 * other machines must not delay renewals). idle runs on that thread when nothing came for
 * idle_ms. stalled is told when one request kept the loop busy for ms or more (STALL_MS).
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
};

/*
 * npmu__service_new -- a service on fab answering with ops (copied; handle_later, idle and
 * stalled may be NULL). sessions NULL means no authentication (only for loopback or an
 * explicit --insecure).
 */
int npmu__service_new(struct npmu__fabric *fab, const struct npmu__service_ops *ops,
		      struct npmu__sessions *sessions, struct npmu__service **svc_ptr);

/* npmu__service_delete -- free the service (the fabric stays); NULLs *svc_ptr. */
void npmu__service_delete(struct npmu__service **svc_ptr);

/*
 * npmu__service_run -- serve until stop_fd becomes readable (the slow thread, if any, starts
 * here: until then the owner may use what its handlers use). Keeps polling for spin_us after
 * activity, then sleeps in poll() on the CQ's wait object, so an idle unit uses no CPU.
 */
int npmu__service_run(struct npmu__service *svc, int stop_fd, unsigned spin_us);

/* npmu__service_stats -- the counters so far. */
struct npmu__service_stats npmu__service_stats(const struct npmu__service *svc);

#endif
