/* unit_serve.c -- npmud's handlers for the service loop (unit_serve.h). */
#include "unit_serve.h"

#include <string.h>

#include "unit_ops.h"

/* hello -- a unit with data, and a manager when one is embedded. */
static void hello(void *arg, uint32_t *flags, uint8_t id[8], uint64_t *capacity, uint64_t *free)
{
	struct npmu__unit_service *us = arg;
	const struct npmu__pool *pool = us->unit->pool;
	*flags = NPMU_UNIT_DATA | (us->pmm ? NPMU_UNIT_MANAGER | NPMU_UNIT_MEMBERS : 0);
	memcpy(id, pool->sb.uuid, 8);
	*capacity = (pool->sb.npages - pool->sb.data_start) * NPMU_PAGE_SIZE;
	*free = pool->alloc.nfree * NPMU_PAGE_SIZE;
}

/* handle -- PERSIST (checked now, flushed and answered when the batch ends: batch_end) and
 * CLOSE (outside a session too: the key is the proof), TPT programming by the manager's
 * session, and region requests to the embedded manager. A persist checked before a key is
 * revoked counts as before it (a flush of bytes written since is harmless); a window is never
 * unmapped under a queued flush (unit.c runs the group first). */
static int handle(void *arg, const struct npmu__caller *c, uint16_t type,
		  const struct npmu__request *req, struct npmu__cursor *reply)
{
	struct npmu__unit_service *us = arg;
	switch (type) {
	case NPMU_MSG_PERSIST: {
		int rc = npmu__unit_persist(us->unit, req);
		return rc == 0 ? NPMU__SERVE_BATCHED : rc;
	}
	case NPMU_MSG_CLOSE: /* whoever holds the key may give it back */
		return npmu__unit_revoke(us->unit, req->region_id, req->key);
	default:
		if (c->manager) /* TPT programming by a manager */
			return npmu__pmm_handle(&us->programming, NULL, type, req, reply);
		if (!us->pmm)
			return NPMU_E_ACCESS; /* a unit without a manager */
		if (c->secured && !c->who)
			return NPMU_E_AUTH; /* manager requests only on an authenticated session */
		return npmu__pmm_handle(us->pmm, c->who, type, req, reply);
	}
}

/* batch_end -- the persists of the batch: one flush for all (group commit, flush.h). */
static int batch_end(void *arg)
{
	struct npmu__unit_service *us = arg;
	npmu__flush_run(&us->unit->flush);
	return 0;
}

/* stalled -- nobody could renew a lease meanwhile (leases.h L3). */
static void stalled(void *arg, uint64_t ms)
{
	struct npmu__unit_service *us = arg;
	if (us->pmm)
		npmu__pmm_stalled(us->pmm, ms);
}

/* npmu__unit_service_init -- npmud's handlers. */
void npmu__unit_service_init(struct npmu__unit_service *us, struct npmu__unit *unit,
			     struct npmu__pmm *pmm, struct npmu__service_ops *ops)
{
	us->unit = unit;
	us->pmm = pmm;
	npmu__pmm_init(&us->programming, &npmu__local_unit_ops, unit, NULL, 0);
	us->programming.programmed = true;
	*ops = (struct npmu__service_ops){.arg = us, .hello = hello, .handle = handle,
					  .batch_end = batch_end, .stalled = stalled};
}

/* npmu__unit_service_fini -- release the programming manager. */
void npmu__unit_service_fini(struct npmu__unit_service *us)
{
	if (us->programming.ops)
		npmu__pmm_fini(&us->programming);
}
