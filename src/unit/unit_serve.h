/* unit_serve.h -- npmud's handlers for the service loop: a unit's own requests, TPT programming by
 * an authenticated manager (pmmd), and region requests to the embedded manager. */
#ifndef NPMU_UNIT_SERVE_H
#define NPMU_UNIT_SERVE_H

#include "pmm.h"
#include "service.h"
#include "unit.h"

/* npmud's side of the service: what its handlers answer with. */
struct npmu__unit_service {
	struct npmu__unit *unit;
	struct npmu__pmm *pmm;        /* the embedded manager, or NULL (npmud --no-manager) */
	struct npmu__pmm programming; /* this unit as programmed by an authenticated manager */
	/* gauges for the metrics, as of the last npmu__unit_service_publish */
	_Atomic uint64_t regions, rights, capacity, free;
};

/* npmu__unit_service_init -- handlers for unit and its embedded manager pmm (NULL: none),
 * written to ops. */
void npmu__unit_service_init(struct npmu__unit_service *us, struct npmu__unit *unit,
			     struct npmu__pmm *pmm, struct npmu__service_ops *ops);

/* npmu__unit_service_publish -- (the receiving thread, once a tick) the pool's and the TPT's
 * gauges, and the embedded manager's. */
void npmu__unit_service_publish(struct npmu__unit_service *us);

/* npmu__unit_service_render -- the unit's metrics in Prometheus text (the embedded manager's
 * too): regions, rights, pool capacity and free space, bytes made durable and flush latency,
 * fences. Reads atomics only. */
void npmu__unit_service_render(struct npmu__unit_service *us, struct npmu__prom *p);

/* npmu__unit_service_fini -- release what init set up. */
void npmu__unit_service_fini(struct npmu__unit_service *us);

#endif
