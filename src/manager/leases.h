/* leases.h -- writers' leases on checkpoint streams and striped sets, kept by the manager. */
#ifndef NPMU_LEASES_H
#define NPMU_LEASES_H

#include <stdbool.h>
#include <stdint.h>

#include "npmu.h"
#include "session.h"

/*
 * One writer per stream (or striped set) per epoch. A writer holds the lease under a random id
 * that only it and the manager know, and renews it every third of its TTL. Lease states:
 *
 *   FREE   --acquire: the earlier writers are fenced at the units-->  HELD
 *   HELD   --renewal by its holder-->                                  HELD
 *   HELD   --no renewal for a TTL-->                                   LAPSED
 *   LAPSED --renewal by its holder-->                                  HELD
 *   LAPSED --acquire by another: TAKING (the holder is fenced)-->       HELD (new id and epoch)
 *   HELD, LAPSED --release by its holder-->                            FREE
 *
 * Invariants:
 *   L1. A lease passes to another writer only through TAKING, which fences every earlier
 *       writer at the units (their keys die, a stream's epoch is raised) before the new holder
 *       learns its id; while TAKING, renewals of the old id are refused (NPMU_E_FENCED).
 *   L2. A lapsed lease is fenced only when another writer wants it ("courteous"): a writer
 *       that was slow, starved of CPU, or cut off from the manager for a while loses nothing
 *       unless somebody took over meanwhile, so no fault that took nobody's place stops it.
 *   L3. A manager that cannot answer cannot let leases lapse: time in which it served nothing
 *       (npmu__leases_stalled) is added to every live lease.
 *   L4. A manager keeps no state across restarts. For NPMU_LEASE_GRACE_MS after a start no
 *       lease is granted to a new writer (NPMU_E_LEASE), and a renewal of an id it does not
 *       know is taken over (HELD) when the renewer shows a live read-write key of the region:
 *       only the current writer has one, since every acquire fenced the earlier writers' keys.
 *       A restarted manager is therefore invisible to a healthy writer and its backup.
 */
#define NPMU_LEASES_MAX 1024
#define NPMU_LEASE_GRACE_MS 3000u /* default: see L4 (pmmd --lease-grace) */

enum npmu__lease_state { LEASE_FREE, LEASE_HELD, LEASE_LAPSED, LEASE_TAKING };

struct npmu__lease {
	char name[NPMU_NAME_MAX + 1];
	uint64_t id;                  /* what the holder renews with; 0: free slot */
	uint64_t epoch;               /* the epoch granted with it */
	uint64_t expiry_ms;           /* monotonic: LAPSED from then on */
	bool taking;                  /* TAKING: being passed to another writer */
	uint32_t members;             /* a striped set's members (0: a stream or region) */
	char holder[NPMU_ID_MAX + 1]; /* the principal holding it */
};

struct npmu__leases {
	uint64_t started_ms;
	uint32_t grace_ms;
	struct npmu__lease *l;        /* NPMU_LEASES_MAX, allocated on first use */
};

/* npmu__leases_init -- an empty table whose grace (L4) starts now. */
void npmu__leases_init(struct npmu__leases *ls, uint32_t grace_ms);

/* npmu__leases_fini -- free the table. */
void npmu__leases_fini(struct npmu__leases *ls);

/* npmu__lease_state -- the state of a lease entry now. */
enum npmu__lease_state npmu__lease_state(const struct npmu__lease *l);

/* npmu__leases_find -- the entry of name, or NULL. */
struct npmu__lease *npmu__leases_find(struct npmu__leases *ls, const char *name);

/* npmu__leases_slot -- the entry of name, or a fresh one (a free slot, else the lapsed entry
 * that lapsed first); NULL when every slot is live. */
struct npmu__lease *npmu__leases_slot(struct npmu__leases *ls, const char *name);

/* npmu__leases_in_grace -- whether the grace after the manager's start (L4) still runs. */
bool npmu__leases_in_grace(const struct npmu__leases *ls);

/* npmu__leases_grace_left -- milliseconds of grace left (0: over). */
uint32_t npmu__leases_grace_left(const struct npmu__leases *ls);

/* npmu__leases_stalled -- the manager served nothing for ms: add it to every live lease (L3). */
void npmu__leases_stalled(struct npmu__leases *ls, uint64_t ms);

/* npmu__leases_now -- the monotonic clock the table uses, in milliseconds. */
uint64_t npmu__leases_now(void);

#endif
