/* holders.h -- the manager's record of live clients, to which open rights are tied. */
#ifndef NPMU_HOLDERS_H
#define NPMU_HOLDERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"
#include "wire.h"

/*
 * Every right a manager opens is recorded at its unit with the holder it was opened for: a
 * random 64-bit id that a client connection chooses and renews here (NPMU_MSG_HOLDER) every
 * third of NPMU_HOLDER_TTL_MS while it has regions open. A holder is live while its renewals
 * come; one that stopped (its process died, or was cut off) is dead once a whole TTL passed.
 *
 * Rights are reclaimed courteously, as an NFSv4.1 server treats expired clients: a dead
 * holder's rights stay (so a client that was merely slow or cut off for a while loses nothing)
 * until a new right to the same region finds all NPMU_RIGHTS_MAX slots taken. Then the rights
 * of dead holders are closed to make room. Holder states:
 *
 *   UNKNOWN --renewal--> LIVE --no renewal for a TTL--> DEAD --renewal--> LIVE
 *
 * A manager keeps no state across restarts: after a start every holder is unknown, and for one
 * TTL an unknown holder counts as live (its client renews within that time), after which it
 * counts as dead. A holder id belongs to the principal that first renewed it; another
 * principal's renewal of it is refused. Holder id 0 is never live (rights of unknown origin).
 *
 * A crash loop faster than the TTL would still fill a region with rights of holders that look
 * live. So when no dead holder is left to reclaim from, the manager asks the network: on tcp a
 * client's endpoint listens at the address its requests come from, and a process that is gone
 * refuses connections there (npmu__holders_gone). Only a refusal counts; silence does not.
 */
#define NPMU_HOLDERS_MAX 16384    /* holders tracked at once */
#define NPMU_HOLDERS_PER_ID 1024  /* live holders one principal may have */

#define NPMU_HOLDER_ADDR_MAX 32  /* a socket address (sockaddr_in6 is 28 bytes) */

struct npmu__holder {
	uint64_t id;
	uint64_t expiry_ms;           /* monotonic */
	char who[NPMU_ID_MAX + 1];    /* the principal ("" without authentication) */
	uint8_t addr[NPMU_HOLDER_ADDR_MAX]; /* where its requests came from (a socket address) */
	uint8_t addr_len;             /* 0: not known */
};

struct npmu__holders {
	pthread_mutex_t lock;         /* renewals come from the receiving thread, checks from the
				       * unit thread (pmmd) */
	uint64_t started_ms;          /* unknown holders count as live until started_ms + ttl */
	uint32_t ttl_ms;
	bool probe;                   /* clients' addresses take TCP connections (a tcp provider) */
	uint64_t probe_quiet_until_ms; /* no probing before then (see npmu__reclaim) */
	uint64_t probes;              /* addresses probed so far (for tests) */
	uint32_t n, cap;
	struct npmu__holder *h;       /* n of them, unordered */
};

/* npmu__holders_init -- an empty table whose grace for unknown holders starts now. */
void npmu__holders_init(struct npmu__holders *hs, uint32_t ttl_ms);

/* npmu__holders_fini -- free the table. */
void npmu__holders_fini(struct npmu__holders *hs);

/*
 * npmu__holders_renew -- holder id of principal who (NULL: none), whose requests come from addr
 * (addr_len bytes; 0: unknown), is alive now. NPMU_E_INVAL for id 0, NPMU_E_ACCESS when another
 * principal holds that id, NPMU_E_LIMIT when the table (or the principal's share of it) is full
 * of live holders.
 */
int npmu__holders_renew(struct npmu__holders *hs, uint64_t id, const char *who,
			const uint8_t *addr, size_t addr_len);

/* npmu__holders_live -- whether rights of holder id must be kept (see the states above). */
bool npmu__holders_live(struct npmu__holders *hs, uint64_t id);

/* npmu__holders_gone -- whether holder id, live by its renewals, is known to be gone: its
 * address refuses connections (waits up to 100 ms; false when it cannot tell). */
bool npmu__holders_gone(struct npmu__holders *hs, uint64_t id);

/*
 * A reclaim of a full region's rights, in two passes: first every right of a dead holder
 * (npmu__holders_keep_live); when that frees none, the first right whose holder is gone
 * (npmu__holders_keep_present), looked for within NPMU_RECLAIM_PROBE_MS. A unit's manager
 * probes in its service loop, so a probe that has to wait (a client's host that drops
 * connections to it: a firewall, a one-way partition) holds every client up; once a pass has
 * used up its budget, no address is probed for NPMU_RECLAIM_QUIET_MS (opens meanwhile are
 * answered NPMU_E_LIMIT unless a holder is dead by its renewals). Before, a client opening a
 * full region again and again, one request at a time, held a unit's loop up nearly all the
 * time while its readers' hosts dropped the probes.
 */
#define NPMU_RECLAIM_PROBE_MS 500
#define NPMU_RECLAIM_QUIET_MS 5000
struct npmu__reclaim {
	struct npmu__holders *hs;
	uint64_t deadline_ms;
	bool found;
};

/* npmu__reclaim_init -- a reclaim over hs whose probing budget starts now. */
void npmu__reclaim_init(struct npmu__reclaim *rc, struct npmu__holders *hs);

/* npmu__holders_keep_live -- (pass 1) keep a right unless its holder is dead; arg: the table. */
bool npmu__holders_keep_live(void *hs, uint64_t holder);

/* npmu__holders_keep_present -- (pass 2) keep a right unless it is the first whose holder is
 * gone, within the budget; arg: a struct npmu__reclaim. */
bool npmu__holders_keep_present(void *reclaim, uint64_t holder);

/* How a region's rights stood when its unit refused one more (NPMU_E_LIMIT): in all, read
 * ones, and those of the holder asking (wire.h: NPMU_RIGHTS_PER_HOLDER, NPMU_RIGHTS_READ_MAX). */
struct npmu__rights_count {
	uint32_t all, reads, held;
};

/* npmu__rights_holder_full -- whether the refusal was the holder's own share: no reclaim of
 * others' rights makes room for it. */
bool npmu__rights_holder_full(const struct npmu__rights_count *c);

/* npmu__rights_log_refusal -- log (at most once a second) why region name (on unit `where`,
 * NULL: this one) refused a right of access for holder. */
void npmu__rights_log_refusal(const char *name, const char *where, uint32_t access,
			      uint64_t holder, const struct npmu__rights_count *c);

/* npmu__holders_count -- holders live now (for logs and tests). */
uint32_t npmu__holders_count(struct npmu__holders *hs);

#endif
