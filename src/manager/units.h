/* units.h -- pmmd's view of its units: authenticated connections, placement, and the directory. */
#ifndef NPMU_UNITS_H
#define NPMU_UNITS_H

#include <stdbool.h>
#include <stdint.h>

#include "pmm.h"
#include "session.h"
#include "wire.h"

#define NPMU_PMMD_UNITS_MAX 64

struct npmu_conn;

/* One unit as pmmd knows it. */
struct npmu__remote_unit {
	char addr[NPMU_ADDR_STR_MAX + 1]; /* host:port */
	struct npmu_conn *conn;           /* authenticated as NPMU_MANAGER_ID, or NULL while down */
	bool up;
	uint64_t bytes, free;             /* capacity, as of the last greeting */
};

/* A directory entry: which unit holds a region. */
struct npmu__dir_entry {
	char name[NPMU_NAME_MAX + 1];
	uint32_t unit;
};

/*
 * The manager keeps no state of its own: the directory is rebuilt from the units' region
 * tables (LIST on each) when pmmd starts, when a unit comes back, and whenever a name is not
 * found, so a restarted pmmd, or a region made behind its back, is always found again.
 */
struct npmu__units {
	uint32_t n;
	struct npmu__remote_unit u[NPMU_PMMD_UNITS_MAX];
	uint8_t key[NPMU_KEY_LEN]; /* the cluster key */
	const char *provider;
	int timeout_ms;
	uint32_t ndir, capdir;
	struct npmu__dir_entry *dir;
	uint32_t ncache;               /* LIST: the regions of every unit, gathered at start 0 */
	struct npmu_region_info *cache;
};

/* npmu__units_add -- declare a unit (not yet connected). */
int npmu__units_add(struct npmu__units *us, const char *addr);

/* npmu__units_refresh -- (re)connect to every unit that is down and rebuild the directory. */
void npmu__units_refresh(struct npmu__units *us);

/* npmu__units_fini -- close every connection, free the directory, wipe the key. */
void npmu__units_fini(struct npmu__units *us);

/* The unit_ops of a manager of several remote units (the `void *unit` is a struct npmu__units). */
extern const struct npmu__unit_ops npmu__remote_unit_ops;

#endif
