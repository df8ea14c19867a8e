/* service.h -- the request loop of npmud and pmmd: receives requests on the endpoint, opens
 * sealed ones, answers HELLO and the handshake itself and hands the rest to its owner's handlers
 * (struct npmu__service_ops), then seals and sends the answers. */
#ifndef NPMU_SERVICE_H
#define NPMU_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "fabric.h"
#include "handlers.h"
#include "metrics.h"

struct npmu__service;
struct npmu__sessions;

/* Why a message was refused before any handler saw it (npmu_requests_refused_total{reason}). */
enum npmu__refusal {
	NPMU__REFUSED_RECEIVE,   /* the receive failed (an oversized message): unanswered */
	NPMU__REFUSED_HEADER,    /* a malformed header, or a reply sent as a request: unanswered */
	NPMU__REFUSED_ADDRESS,   /* a return address that is none: unanswered */
	NPMU__REFUSED_NO_ROOM,   /* no transmit buffer came free in time, or its peer has
				  * PEER_REPLIES_MAX replies in flight (it does not take them):
				  * unanswered */
	NPMU__REFUSED_SESSION,   /* sealed on no open session, replayed or altered: answered */
	NPMU__REFUSED_BODY,      /* a body that does not decode: answered */
	NPMU__REFUSED_IN_FLIGHT, /* a request from a peer with its share waiting already (a
				  * unit's batched persists, pmmd's slow thread: deferred.h), or
				  * that queue full: answered NPMU_E_LIMIT */
	NPMU__REFUSALS
};

/* npmu__refusal_name -- "receive", "header", "address", "no_room", "session", "body" or
 * "in_flight". */
const char *npmu__refusal_name(enum npmu__refusal r);

/*
 * What a running service counts. The receiving thread writes them (the gauges once a tick);
 * any thread may read them meanwhile (metrics.h).
 */
struct npmu__service_counters {
	/* requests answered, by type and status (npmu__error_index); those refused before a
	 * handler saw them and answered are counted here too, and by reason below */
	_Atomic uint64_t answered[NPMU_MSG_TYPE_MAX + 1][NPMU__ERROR_NAMES];
	_Atomic uint64_t refused[NPMU__REFUSALS];
	_Atomic uint64_t sessions;             /* gauge: open authenticated sessions */
	_Atomic uint64_t handshakes;           /* gauge: handshakes begun, not finished */
	_Atomic uint64_t auth_failures;        /* failed authentications (sessions.h) */
	_Atomic uint64_t handshakes_abandoned; /* handshakes evicted or expired unfinished */
	_Atomic uint64_t held;                 /* messages held while a full batch waited */
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
 * npmu__service_set_tick -- have the receiving thread call fn(arg) every ms (at most
 * NPMU_SERVICE_TICK_MS), busy or idle, from npmu__service_run on: the owner publishes its
 * gauges there, and shows systemd's watchdog the loop is alive. The service publishes its own
 * gauges at the same beat.
 */
#define NPMU_SERVICE_TICK_MS 1000
void npmu__service_set_tick(struct npmu__service *svc, void (*fn)(void *arg), void *arg,
			    unsigned ms);

/*
 * npmu__service_run -- serve until stop_fd becomes readable (the slow thread, if any, starts
 * here: until then the owner may use what its handlers use). Keeps polling for spin_us after
 * activity, then sleeps in poll() on the CQ's wait object (waking for the tick), so an idle
 * unit uses almost no CPU. Once stopped, the requests the slow thread holds are finished and
 * answered (for up to NPMU_SERVICE_STOP_MS) before it returns.
 */
#define NPMU_SERVICE_STOP_MS 5000
int npmu__service_run(struct npmu__service *svc, int stop_fd, unsigned spin_us);

/* npmu__service_render -- the counters in Prometheus text (npmu_requests_total{type,result},
 * npmu_requests_refused_total{reason}, npmu_sessions, npmu_handshakes_pending, ...), with the
 * process's abandoned endpoints (fabric.h). */
void npmu__service_render(const struct npmu__service_counters *c, struct npmu__prom *p);

/* npmu__service_counters -- the counters, live (valid until the service is deleted). */
const struct npmu__service_counters *npmu__service_counters(const struct npmu__service *svc);

#endif
