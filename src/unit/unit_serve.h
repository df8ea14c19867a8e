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
};

/* npmu__unit_service_init -- handlers for unit and its embedded manager pmm (NULL: none),
 * written to ops. */
void npmu__unit_service_init(struct npmu__unit_service *us, struct npmu__unit *unit,
			     struct npmu__pmm *pmm, struct npmu__service_ops *ops);

/* npmu__unit_service_fini -- release what init set up. */
void npmu__unit_service_fini(struct npmu__unit_service *us);

#endif
