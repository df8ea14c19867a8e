/* units.h -- pmmd's view of its units: authenticated connections, placement, and the directory. */
#ifndef NPMU_UNITS_H
#define NPMU_UNITS_H

#include <stdbool.h>
#include <stdint.h>

#include "mirror_format.h"
#include "pmm.h"
#include "session.h"
#include "wire.h"

#define NPMU_PMMD_UNITS_MAX 64

struct npmu__rpc;

/* One unit as pmmd knows it. */
struct npmu__remote_unit {
	char addr[NPMU_ADDR_STR_MAX + 1]; /* host:port */
	char domain[NPMU_NAME_MAX + 1];   /* fault domain ("": its own) */
	struct npmu__rpc *conn;           /* authenticated as NPMU_MANAGER_ID, or NULL while down */
	bool up;
	uint64_t retry_ms;                /* while down: no new attempt before this (monotonic) */
	uint64_t backoff_ms;              /* the wait after the last attempt that got no answer */
	uint64_t bytes, free;             /* capacity, as of the last greeting */
	uint8_t unit_id[8];               /* its pool's id, as of the last greeting (zero: none) */
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
	struct npmu__holders *holders; /* the manager's live clients, for reclaiming rights */
	const char *provider;
	int timeout_ms;                /* per request to a unit */
	/* called when unit i answers again after being away (pmmd: mirrors.c tidies its mirrored
	 * regions), or NULL */
	void (*unit_back)(struct npmu__units *us, uint32_t i);
	uint32_t ndir, capdir;
	struct npmu__dir_entry *dir;
	/* regions forgotten on units that were away (npmu__units_forget_away), deleted there as
	 * each answers again; lost with pmmd (then both copies of the name are listed) */
	uint32_t nstale, capstale;
	struct npmu__dir_entry *stale;
	uint32_t ncache;               /* LIST: the regions of every unit, gathered at start 0 */
	struct npmu_region_info *cache;
	/* the newest mirror record generation seen per mirrored region since pmmd started: a
	 * unit coming back alone with an older record is not trusted (its peer, which holds the
	 * newer one, is away); with the copies' states that record gave (for the metrics) */
	uint32_t nseen, capseen;
	struct npmu__gen_seen {
		char name[NPMU_NAME_MAX + 1];
		uint64_t generation;
		uint64_t size;
		uint32_t ncopies;                  /* 0: no record seen yet */
		uint8_t state[NPMU_MIRROR_COPIES]; /* enum npmu__copy_state */
		uint64_t resync_done[NPMU_MIRROR_COPIES];
	} *seen;
};

/* npmu__units_add -- declare a unit (not yet connected), "HOST:PORT" or "HOST:PORT@DOMAIN". */
int npmu__units_add(struct npmu__units *us, const char *addr);

/* npmu__units_call -- one request to unit i; a transport failure marks it down, and a unit that
 * did not answer at all is not tried again for a second (NPMU_E_UNREACHABLE at once). */
int npmu__units_call(struct npmu__units *us, uint32_t i, uint16_t type,
		     const struct npmu__request *req, const uint8_t **body, size_t *blen);

/* npmu__units_probe -- (idle work) reconnect to the units that are away and answer again (and
 * tell us->unit_back of each). */
void npmu__units_probe(struct npmu__units *us);

/* npmu__units_greet -- learn unit i's capacity (HELLO). */
int npmu__units_greet(struct npmu__units *us, uint32_t i);

/* npmu__units_list -- every region of unit i, appended to *out (grown; the caller frees it). */
int npmu__units_list(struct npmu__units *us, uint32_t i, struct npmu_region_info **out,
		     uint32_t *n);

/* npmu__units_index -- the unit of address addr, or -1. */
int npmu__units_index(const struct npmu__units *us, const char *addr);

/* npmu__units_find_all -- the units holding a region name (refreshing the directory once on a
 * miss): up to max indexes into out; returns the count. */
int npmu__units_find_all(struct npmu__units *us, const char *name, int *out, int max);

/* npmu__units_grant -- OPEN on unit i for holder, reclaiming the rights of clients gone when
 * the region's rights are all taken; ai->unit is set to the unit's address. */
int npmu__units_grant(struct npmu__units *us, uint32_t i, const char *name, uint32_t access,
		      uint64_t holder, struct npmu_region_info *info, struct npmu__access_info *ai);

/* npmu__units_key_live -- whether key is a live read-write right to region name on unit i. */
bool npmu__units_key_live(struct npmu__units *us, uint32_t i, const char *name, uint64_t key);

/* npmu__units_forget_away -- region name is only on units that are away: drop it from the
 * directory and delete it on each when it answers again (a striped set's member re-placed by
 * its rebuild); NPMU_E_NOENT (now it does not exist), or NPMU_E_NOMEM. */
int npmu__units_forget_away(struct npmu__units *us, const char *name);

/* npmu__units_dir_add / npmu__units_dir_drop -- record that unit i holds (or no longer holds) name. */
int npmu__units_dir_add(struct npmu__units *us, const char *name, uint32_t unit);
void npmu__units_dir_drop(struct npmu__units *us, const char *name, uint32_t unit);


/* npmu__units_refresh -- (re)connect to every unit that is down and rebuild the directory. */
void npmu__units_refresh(struct npmu__units *us);

/* npmu__units_fini -- close every connection, free the directory, wipe the key. */
void npmu__units_fini(struct npmu__units *us);

#endif
