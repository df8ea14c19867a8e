/* lease.h -- a writer's lease at the manager, held and renewed for a stream or a striped set. */
#ifndef NPMU_LEASE_H
#define NPMU_LEASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "npmu.h"

/*
 * One writer per stream (or striped set) per epoch: the writer takes the lease at the manager,
 * which fences every earlier writer at the units, and renews it from a thread of its own, on a
 * connection of its own (renewals never wait behind writes), every period (a third of the
 * lease, at most a second). The states and their rules are the manager's (src/manager/
 * leases.h); what the holder needs to know:
 *   - it is lost only when the manager says so (NPMU_E_FENCED: another writer took it over);
 *     then `fenced` is set and stays set. A manager that does not answer takes nothing away
 *     (it cannot hand the lease on without fencing this writer at the units, L1-L2);
 *   - a renewal shows the writer's live write key (`proof`), with which a manager that has
 *     restarted takes the lease over (L4).
 */
struct npmu__lease_holder {
	struct npmu_conn *conn;        /* its own connection to the manager */
	char name[NPMU_NAME_MAX + 1];  /* the stream, or the striped set */
	uint32_t members;              /* a set's members (0: a stream) */
	int lease_ms;
	uint64_t id, epoch;            /* as granted */
	_Atomic uint64_t proof;        /* a live write key of the region (a set: of its member 0) */
	atomic_bool fenced;            /* lost: the manager said another writer took it */
	/* renewals */
	pthread_t renewer;
	bool renewing, stop;
	pthread_mutex_t lk;
	pthread_cond_t cv;
};

/* npmu__lease_init -- a holder for name (members: a set's, 0 for a stream) of lease_ms. */
void npmu__lease_init(struct npmu__lease_holder *lh, const char *name, uint32_t members,
		      int lease_ms);

/*
 * npmu__lease_take -- acquire the lease through conn's manager (a connection of its own is made
 * from conn), and start renewing it. While another writer holds it (NPMU_E_LEASE) or the
 * manager does not answer (NPMU_E_MANAGER) it is asked again until wait_ms pass (0: once).
 */
int npmu__lease_take(struct npmu__lease_holder *lh, struct npmu_conn *conn, int wait_ms);

/* npmu__lease_release -- stop renewing and, unless it was lost, give the lease back. */
void npmu__lease_release(struct npmu__lease_holder *lh);

/* npmu__lease_fini -- stop renewing (the lease is left to lapse) and free the connection. */
void npmu__lease_fini(struct npmu__lease_holder *lh);

/* npmu__lease_period -- how often the lease is renewed, in milliseconds. */
int npmu__lease_period(const struct npmu__lease_holder *lh);

#endif
