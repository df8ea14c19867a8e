/* pmmd_serve.h -- pmmd's handlers for the service loop: renewals at once on the receiving thread,
 * everything that asks units on the slow thread, which also looks at units that are away. */
#ifndef NPMU_PMMD_SERVE_H
#define NPMU_PMMD_SERVE_H

#include "pmm.h"
#include "service.h"
#include "units.h"

/* pmmd's side of the service. */
struct npmu__pmmd_service {
	struct npmu__pmm *pmm;
	struct npmu__units *units;
};

/* npmu__pmmd_service_init -- handlers for pmm over units, written to ops; units are looked at
 * every probe_ms when nothing else comes. */
void npmu__pmmd_service_init(struct npmu__pmmd_service *ps, struct npmu__pmm *pmm,
			     struct npmu__units *units, unsigned probe_ms,
			     struct npmu__service_ops *ops);

#endif
