/* errors.h -- internal translation of errno and libfabric codes into NPMU_E_* codes. */
#ifndef NPMU_ERRORS_H
#define NPMU_ERRORS_H

#include <stdbool.h>

#include "npmu.h"

/* npmu__from_errno -- map an errno value to an NPMU_E_* code. */
int npmu__from_errno(int e);

/* npmu__from_fi -- map a libfabric return code to an NPMU_E_* code. */
int npmu__from_fi(int rc);

/* npmu__is_error -- whether code is one of the NPMU_E_* codes (a status a peer may send). */
bool npmu__is_error(int code);

#endif
