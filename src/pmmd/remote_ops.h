/* remote_ops.h -- the manager-to-unit interface (pmm.h) of pmmd, over the network. */
#ifndef NPMU_REMOTE_OPS_H
#define NPMU_REMOTE_OPS_H

#include "pmm.h"

/* The unit_ops of a manager of several remote units (the `void *unit` is a struct npmu__units). */
extern const struct npmu__unit_ops npmu__remote_unit_ops;

#endif
