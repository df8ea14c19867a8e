/* service.h -- npmud's event loop: receives control requests on the endpoint and answers them. */
#ifndef NPMU_SERVICE_H
#define NPMU_SERVICE_H

#include <stdint.h>

#include "fabric.h"
#include "pmm.h"
#include "unit.h"

struct npmu__service;

/* Counters a running service keeps (for logs and tests). */
struct npmu__service_stats {
	uint64_t requests;  /* well-formed requests served */
	uint64_t rejected;  /* malformed, oversized or unanswerable messages */
};

struct npmu__sessions;

/*
 * npmu__service_new -- a service on fab for unit (NULL in a manager without a unit: pmmd) and
 * pmm (NULL in a unit without a manager: npmud --no-manager). sessions NULL means no
 * authentication (only for loopback or an explicit --insecure).
 */
int npmu__service_new(struct npmu__fabric *fab, struct npmu__unit *unit, struct npmu__pmm *pmm,
		      struct npmu__sessions *sessions, struct npmu__service **svc_ptr);

/*
 * npmu__service_defer -- (pmmd) serve the manager's requests that touch units on a thread of
 * their own (deferred.h), calling idle there when nothing came for idle_ms; renewals,
 * handshakes and HELLO are still answered at once.
 */
int npmu__service_defer(struct npmu__service *svc, void (*idle)(void *arg), void *idle_arg,
			unsigned idle_ms);

/* npmu__service_delete -- free the service (the unit and fabric stay); NULLs *svc_ptr. */
void npmu__service_delete(struct npmu__service **svc_ptr);

/*
 * npmu__service_run -- serve until stop_fd becomes readable. Keeps polling for spin_us after
 * activity, then sleeps in poll() on the CQ's wait object, so an idle unit uses no CPU.
 */
int npmu__service_run(struct npmu__service *svc, int stop_fd, unsigned spin_us);

/* npmu__service_stats -- the counters so far. */
struct npmu__service_stats npmu__service_stats(const struct npmu__service *svc);

#endif
