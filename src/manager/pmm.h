/* pmm.h -- the persistent memory manager: region requests by name, served by programming units. */
#ifndef NPMU_PMM_H
#define NPMU_PMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "holders.h"
#include "leases.h"
#include "wire.h"

/* One open right as a unit lists it (NPMU_MSG_RIGHTS). */
struct npmu__right_info {
	uint64_t key;
	uint32_t access;
	uint64_t holder; /* 0: unknown */
};

/*
 * The boundary between the manager and a unit: what a PMM may ask of a unit's TPT and pool.
 * The embedded manager (npmud --manager, the default) calls its own unit through these; pmmd
 * reaches remote units through the same table over an authenticated channel.
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
	/* grant -- open a right for holder; when the region's rights are all taken, the rights of
	 * holders that hs counts dead are closed to make room (hs NULL: never) */
	int (*grant)(void *unit, const char *name, uint32_t access, uint64_t holder,
		     struct npmu__holders *hs, struct npmu_region_info *info,
		     struct npmu__access_info *ai);
	int (*revoke)(void *unit, uint64_t region_id, uint64_t key);
	/* revoke_all -- close every right to region name; returns how many */
	int (*revoke_all)(void *unit, const char *name);
	/* fence -- close a region's write rights, and with raise raise a stream's epoch: to one more
	 * than it was, or to *epoch if that is more; *epoch gets the epoch now */
	int (*fence)(void *unit, const char *name, bool raise, uint64_t *epoch);
	/* key_live -- whether key is a live read-write right to region name (on any copy) */
	bool (*key_live)(void *unit, const char *name, uint64_t key);
	/* writers -- how many read-write rights to region name are open (on every copy); negative:
	 * an NPMU_E_* code */
	int (*writers)(void *unit, const char *name);
	/* rights -- (a unit) the open rights of region name: up to max into out, its region id
	 * into *region_id; returns the count */
	int (*rights)(void *unit, const char *name, uint64_t *region_id,
		      struct npmu__right_info *out, uint32_t max);
	/* mirror_rec -- (a unit) get or set a copy's mirror record: NPMU_MSG_MIRROR_REC */
	int (*mirror_rec)(void *unit, const struct npmu__request *req, struct npmu__cursor *reply);
	/* mirror -- (a manager of several units) serve OPEN, DELETE, RESIZE, REVOKE and MIRROR on
	 * a mirrored region; NULL where regions are never mirrored */
	int (*mirror)(void *unit, uint16_t type, const struct npmu__request *req,
		      struct npmu__cursor *reply);
	/* units -- append the UNITS reply body: every unit with its state and capacity */
	int (*units)(void *unit, struct npmu__cursor *reply);
	/* where -- the units holding region name's copies */
	int (*where)(void *unit, const char *name, struct npmu_region_place *place);
};

struct npmu__credentials;

/*
 * A manager. Its leases and holders are shared between the thread that receives requests (which
 * serves renewals at once: npmu__pmm_handle_fast) and, in pmmd, the thread that does the work
 * touching units (npmu__pmm_handle); `lock` guards them.
 */
struct npmu__pmm {
	const struct npmu__unit_ops *ops;
	void *unit;
	const struct npmu__credentials *creds; /* NULL: no authentication, everything allowed */
	bool programmed;    /* a unit's own table, programmed by a remote manager (pmmd), which
			     * keeps the leases and holders and reclaims rights */
	pthread_mutex_t lock;
	struct npmu__leases leases;
	struct npmu__holders holders;
	/* for the metrics (metrics.h): */
	_Atomic uint64_t takeovers;     /* lapsed leases passed to another writer, the holder fenced */
	_Atomic uint64_t leases_held;   /* gauge, as of the last npmu__pmm_publish (TAKING: held) */
	_Atomic uint64_t leases_lapsed; /* gauge, likewise */
	_Atomic uint64_t holders_live;  /* gauge, likewise: clients renewing their holder */
};

/* npmu__pmm_init -- a manager over unit through ops; its leases' grace (leases.h L4) and its
 * holders' grace (holders.h) start now. */
void npmu__pmm_init(struct npmu__pmm *pmm, const struct npmu__unit_ops *ops, void *unit,
		    const struct npmu__credentials *creds, uint32_t lease_grace_ms);

/* npmu__pmm_fini -- free the tables. */
void npmu__pmm_fini(struct npmu__pmm *pmm);

/* Regions per LIST reply page. */
#define NPMU_LIST_PAGE 40

/* npmu__pmm_handle_fast's answer when a request needs work on units. */
#define NPMU__PMM_DEFER 1

/*
 * npmu__pmm_handle_fast -- serve at once what needs no unit: a holder's renewal, a lease's
 * renewal or release by its holder. Returns NPMU__PMM_DEFER for anything else (to be served by
 * npmu__pmm_handle, in pmmd on its unit thread), else 0 or the NPMU_E_* status to send.
 */
int npmu__pmm_handle_fast(struct npmu__pmm *pmm, const char *who, uint16_t type,
			  const struct npmu__request *req, struct npmu__cursor *reply);

/*
 * npmu__pmm_handle -- serve one decoded manager request (CREATE, OPEN, CLOSE, DELETE, RESIZE,
 * STAT, LIST, MEMBERS, UNITS, REVOKE, LEASE, HOLDER, MIRROR; FENCE, MIRROR_REC and RIGHTS from a
 * manager programming this unit) from principal `who` (NULL when the manager runs without
 * credentials), appending the reply body to `reply`. Returns 0 or the NPMU_E_* status to send.
 * Rights: see credentials.h.
 */
int npmu__pmm_handle(struct npmu__pmm *pmm, const char *who, uint16_t type,
		     const struct npmu__request *req, struct npmu__cursor *reply);

/* npmu__pmm_publish -- count the leases by state and the live holders into the gauges (under
 * the lock, briefly: called once a tick by the thread that serves renewals). */
void npmu__pmm_publish(struct npmu__pmm *pmm);

/* npmu__pmm_render -- npmu_leases{state}, npmu_lease_takeovers_total and npmu_clients in
 * Prometheus text, from the atomics alone. */
struct npmu__prom;
void npmu__pmm_render(struct npmu__pmm *pmm, struct npmu__prom *p);

/* npmu__pmm_stalled -- the service answered nothing for ms (leases.h L3). */
void npmu__pmm_stalled(struct npmu__pmm *pmm, uint64_t ms);

#endif
