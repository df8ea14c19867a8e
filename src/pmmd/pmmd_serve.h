/* pmmd_serve.h -- pmmd's handlers for the service loop: renewals at once on the receiving thread,
 * everything that asks units on the slow thread, which also looks at units that are away. */
#ifndef NPMU_PMMD_SERVE_H
#define NPMU_PMMD_SERVE_H

#include "pmm.h"
#include "service.h"
#include "units.h"

/* A unit's gauges, as pmmd sees it. */
struct npmu__unit_gauges {
	_Atomic uint64_t up, bytes, free;
};

/* pmmd's side of the service. */
struct npmu__pmmd_service {
	struct npmu__pmm *pmm;
	struct npmu__units *units;
	/* gauges for the metrics, published by the slow thread (the only one that touches the
	 * units) after each request it serves and when idle */
	struct npmu__unit_gauges unit[NPMU_PMMD_UNITS_MAX];
	_Atomic uint64_t regions;                    /* in the directory */
	_Atomic uint64_t copies[3];                  /* mirror copies by enum npmu__copy_state */
	_Atomic uint64_t resync_done, resync_bytes;  /* resyncing copies: bytes done, of their size */
};

/* npmu__pmmd_service_init -- handlers for pmm over units, written to ops; units are looked at
 * every probe_ms when nothing else comes. */
void npmu__pmmd_service_init(struct npmu__pmmd_service *ps, struct npmu__pmm *pmm,
			     struct npmu__units *units, unsigned probe_ms,
			     struct npmu__service_ops *ops);

/* npmu__pmmd_service_render -- pmmd's metrics in Prometheus text: each unit's reachability and
 * capacity, regions, mirror copies by state and resync progress, and the manager's (pmm.h).
 * Reads atomics and the units' addresses (fixed once pmmd serves). */
void npmu__pmmd_service_render(struct npmu__pmmd_service *ps, struct npmu__prom *p);

#endif
