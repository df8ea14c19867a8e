/* pmm.h -- the persistent memory manager: region requests by name, served by programming units. */
#ifndef NPMU_PMM_H
#define NPMU_PMM_H

#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "wire.h"

/*
 * The boundary between the manager and a unit: what a PMM may ask of a unit's TPT and pool.
 * The embedded manager (npmud --manager, the default) calls its own unit through these; the
 * standalone pmmd will reach remote units through the same table over an authenticated channel.
 */
struct npmu__unit_ops {
	/* create -- region req->name of req->size bytes (req->copies, units req->unit and
	 * req->unit2, and a record req->rec where the implementation supports them) */
	int (*create)(void *unit, const struct npmu__request *req, const char *owner,
		      struct npmu_region_info *info);
	int (*remove)(void *unit, const char *name);
	int (*resize)(void *unit, const char *name, uint64_t size, struct npmu_region_info *info);
	int (*stat)(void *unit, const char *name, struct npmu_region_info *info);
	int (*list)(void *unit, uint32_t start, struct npmu_region_info *out, uint32_t max,
		    uint32_t *total);
	int (*grant)(void *unit, const char *name, uint32_t access, struct npmu_region_info *info,
		     struct npmu__access_info *ai);
	int (*revoke)(void *unit, uint64_t region_id, uint64_t key);
	/* revoke_all -- close every right to region name; returns how many */
	int (*revoke_all)(void *unit, const char *name);
	/* fence -- close a region's write rights, and with raise a stream's epoch (into *epoch) */
	int (*fence)(void *unit, const char *name, bool raise, uint64_t *epoch);
	/* mirror_rec -- (a unit) get or set a copy's mirror record: NPMU_MSG_MIRROR_REC */
	int (*mirror_rec)(void *unit, const struct npmu__request *req, struct npmu__cursor *reply);
	/* mirror -- (a manager of several units) serve OPEN, DELETE, RESIZE, REVOKE and MIRROR on
	 * a mirrored region; NULL where regions are never mirrored */
	int (*mirror)(void *unit, uint16_t type, const struct npmu__request *req,
		      struct npmu__cursor *reply);
	/* units -- append the UNITS reply body: every unit with its state and capacity */
	int (*units)(void *unit, struct npmu__cursor *reply);
};

struct npmu__credentials;

/* A writer's lease on a checkpoint stream. */
struct npmu__lease {
	char name[NPMU_NAME_MAX + 1];
	uint64_t id;         /* what the holder renews with; 0: free slot */
	uint64_t epoch;      /* the epoch granted with it */
	uint64_t expiry_ns;  /* monotonic */
	bool fenced;         /* lapsed and fenced */
	char holder[NPMU_ID_MAX + 1]; /* the principal holding it */
};

#define NPMU_LEASES_MAX 1024

struct npmu__pmm {
	const struct npmu__unit_ops *ops;
	void *unit;
	const struct npmu__credentials *creds; /* NULL: no authentication, everything allowed */
	struct npmu__lease *leases;            /* NPMU_LEASES_MAX, allocated on first use */
};

/*
 * npmu__pmm_tick -- fence every lease that has lapsed; returns the milliseconds until the next
 * lease may lapse (-1: none), for the service's poll timeout.
 */
int npmu__pmm_tick(struct npmu__pmm *pmm);

/* Regions per LIST reply page. */
#define NPMU_LIST_PAGE 40

/*
 * npmu__pmm_handle -- serve one decoded manager request (CREATE, OPEN, CLOSE, DELETE, RESIZE,
 * STAT, LIST) from principal `who` (NULL when the manager runs without credentials), appending
 * the reply body to `reply`. Returns 0 or the NPMU_E_* status to send. Rights: see
 * credentials.h.
 */
int npmu__pmm_handle(struct npmu__pmm *pmm, const char *who, uint16_t type,
		     const struct npmu__request *req, struct npmu__cursor *reply);

/* The unit_ops of a unit in the same process (struct npmu__unit). */
extern const struct npmu__unit_ops npmu__local_unit_ops;

#endif
