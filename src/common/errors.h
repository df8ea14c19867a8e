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

/* Codes with a name and an index: success and each NPMU_E_* (for counters kept per result). */
#define NPMU__ERROR_NAMES (NPMU_E_INVAL - NPMU_E_CONFIG + 2)

/* npmu__error_index -- 0 for success, 1.. for NPMU_E_INVAL.. NPMU_E_CONFIG; -1 for any other. */
int npmu__error_index(int code);

/* npmu__error_name -- "ok", or the code's name in lower case without NPMU_E_ ("noent"), for
 * metric labels; "other" for a value that is no code. */
const char *npmu__error_name(int code);

#endif
