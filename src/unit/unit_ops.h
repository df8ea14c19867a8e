/* unit_ops.h -- the manager-to-unit interface (pmm.h) of a unit in the same process. */
#ifndef NPMU_UNIT_OPS_H
#define NPMU_UNIT_OPS_H

#include "pmm.h"

/* The unit_ops of a unit in the same process (struct npmu__unit). */
extern const struct npmu__unit_ops npmu__local_unit_ops;

#endif
