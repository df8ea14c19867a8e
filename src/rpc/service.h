/* service.h -- the request loop of npmud and pmmd: receives requests on the endpoint, opens
 * sealed ones, answers HELLO and the handshake itself and hands the rest to its owner's handlers
 * (struct npmu__service_ops), then seals and sends the answers. */
#ifndef NPMU_SERVICE_H
#define NPMU_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "fabric.h"
#include "handlers.h"

struct npmu__service;
struct npmu__sessions;

/* Counters a running service keeps (for logs and tests). */
struct npmu__service_stats {
	uint64_t requests;  /* well-formed requests served */
	uint64_t rejected;  /* malformed, oversized or unanswerable messages */
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
