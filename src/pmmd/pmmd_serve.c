/* pmmd_serve.c -- pmmd's handlers for the service loop (pmmd_serve.h). */
#include "pmmd_serve.h"

/* hello -- a manager without data of its own. */
static void hello(void *arg, uint32_t *flags, uint8_t id[8], uint64_t *capacity, uint64_t *free)
{
	(void)arg;
	(void)id;
	*flags = NPMU_UNIT_MANAGER | NPMU_UNIT_MEMBERS;
	*capacity = *free = 0;
}

/* handle -- renewals at once; what needs units goes to the slow thread. */
static int handle(void *arg, const struct npmu__caller *c, uint16_t type,
		  const struct npmu__request *req, struct npmu__cursor *reply)
{
	struct npmu__pmmd_service *ps = arg;
	if (type == NPMU_MSG_PERSIST || type == NPMU_MSG_CLOSE)
		return NPMU_E_PROTO; /* a unit's request: pmmd holds no data */
	if (c->secured && !c->who)
		return NPMU_E_AUTH; /* manager requests only on an authenticated session */
	int rc = npmu__pmm_handle_fast(ps->pmm, c->who, type, req, reply);
	return rc == NPMU__PMM_DEFER ? NPMU__SERVE_LATER : rc;
}

/* handle_later -- on the slow thread, the only one that asks units. */
static int handle_later(void *arg, const struct npmu__caller *c, uint16_t type,
			const struct npmu__request *req, struct npmu__cursor *reply)
{
	struct npmu__pmmd_service *ps = arg;
	return npmu__pmm_handle(ps->pmm, c->who, type, req, reply);
}

/* idle -- on the slow thread: look at the units that are away. */
static void idle(void *arg)
{
	struct npmu__pmmd_service *ps = arg;
	npmu__units_probe(ps->units);
}

/* stalled -- nobody could renew a lease meanwhile (leases.h L3). */
static void stalled(void *arg, uint64_t ms)
{
	struct npmu__pmmd_service *ps = arg;
	npmu__pmm_stalled(ps->pmm, ms);
}

/* npmu__pmmd_service_init -- pmmd's handlers. */
void npmu__pmmd_service_init(struct npmu__pmmd_service *ps, struct npmu__pmm *pmm,
			     struct npmu__units *units, unsigned probe_ms,
			     struct npmu__service_ops *ops)
{
	ps->pmm = pmm;
	ps->units = units;
	*ops = (struct npmu__service_ops){.arg = ps, .hello = hello, .handle = handle,
					  .handle_later = handle_later, .idle = idle,
					  .idle_ms = probe_ms, .stalled = stalled};
}
