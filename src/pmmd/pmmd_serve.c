/* pmmd_serve.c -- pmmd's handlers for the service loop (pmmd_serve.h). */
#include "pmmd_serve.h"

#include "metrics.h"
#include "mirror_format.h"

/* hello -- a manager without data of its own. */
static void hello(void *arg, uint32_t *flags, uint8_t id[8], uint64_t *capacity, uint64_t *free)
{
	(void)arg;
	(void)id;
	*flags = NPMU_UNIT_MANAGER | NPMU_UNIT_MEMBERS | NPMU_UNIT_WHERE | NPMU_UNIT_STAGING;
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

/* publish -- (the slow thread) the units' and the mirrors' gauges. */
static void publish(struct npmu__pmmd_service *ps)
{
	const struct npmu__units *us = ps->units;
	for (uint32_t i = 0; i < us->n; i++) {
		npmu__metric_set(&ps->unit[i].up, us->u[i].up);
		npmu__metric_set(&ps->unit[i].bytes, us->u[i].bytes);
		npmu__metric_set(&ps->unit[i].free, us->u[i].free);
	}
	npmu__metric_set(&ps->regions, us->ndir);
	uint64_t copies[3] = {0, 0, 0}, done = 0, bytes = 0;
	for (uint32_t i = 0; i < us->nseen; i++)
		for (uint32_t c = 0; c < us->seen[i].ncopies; c++) {
			uint8_t st = us->seen[i].state[c];
			if (st < 3)
				copies[st]++;
			if (st == NPMU__COPY_RESYNCING) {
				done += us->seen[i].resync_done[c];
				bytes += us->seen[i].size;
			}
		}
	for (int k = 0; k < 3; k++)
		npmu__metric_set(&ps->copies[k], copies[k]);
	npmu__metric_set(&ps->resync_done, done);
	npmu__metric_set(&ps->resync_bytes, bytes);
}

/* handle_later -- on the slow thread, the only one that asks units. */
static int handle_later(void *arg, const struct npmu__caller *c, uint16_t type,
			const struct npmu__request *req, struct npmu__cursor *reply)
{
	struct npmu__pmmd_service *ps = arg;
	int rc = npmu__pmm_handle(ps->pmm, c->who, type, req, reply);
	publish(ps);
	return rc;
}

/* idle -- on the slow thread: look at the units that are away. */
static void idle(void *arg)
{
	struct npmu__pmmd_service *ps = arg;
	npmu__units_probe(ps->units);
	publish(ps);
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

/* npmu__pmmd_service_render -- pmmd's families. */
void npmu__pmmd_service_render(struct npmu__pmmd_service *ps, struct npmu__prom *p)
{
	const struct npmu__units *us = ps->units;
	static const struct {
		const char *name, *help;
	} per_unit[3] = {
		{"npmu_unit_up", "Whether pmmd reaches the unit (answering, authenticated): 1 or 0."},
		{"npmu_unit_capacity_bytes", "A unit's data capacity, as of its last greeting."},
		{"npmu_unit_free_bytes", "A unit's unallocated bytes, as of its last greeting."},
	};
	for (int k = 0; k < 3; k++) {
		npmu__prom_family(p, per_unit[k].name, "gauge", per_unit[k].help);
		for (uint32_t i = 0; i < us->n; i++) {
			const _Atomic uint64_t *g = k == 0 ? &ps->unit[i].up
						   : k == 1 ? &ps->unit[i].bytes : &ps->unit[i].free;
			npmu__prom_u64(p, per_unit[k].name, npmu__metric_get(g), "unit",
				       us->u[i].addr, "domain", us->u[i].domain, NULL);
		}
	}
	npmu__prom_family(p, "npmu_regions", "gauge", "Regions in pmmd's directory (on any unit).");
	npmu__prom_u64(p, "npmu_regions", npmu__metric_get(&ps->regions), NULL);
	npmu__prom_family(p, "npmu_mirror_copies", "gauge",
			  "Copies of mirrored regions by state, as of the mirror records pmmd last "
			  "read or wrote since it started.");
	for (int k = 0; k < 3; k++)
		npmu__prom_u64(p, "npmu_mirror_copies", npmu__metric_get(&ps->copies[k]), "state",
			       npmu__copy_state_name(k), NULL);
	npmu__prom_family(p, "npmu_mirror_resync_done_bytes", "gauge",
			  "Bytes of the resyncing copies brought up to date so far.");
	npmu__prom_u64(p, "npmu_mirror_resync_done_bytes", npmu__metric_get(&ps->resync_done),
		       NULL);
	npmu__prom_family(p, "npmu_mirror_resync_size_bytes", "gauge",
			  "Bytes of the resyncing copies in all (their regions' sizes).");
	npmu__prom_u64(p, "npmu_mirror_resync_size_bytes", npmu__metric_get(&ps->resync_bytes),
		       NULL);
	npmu__pmm_render(ps->pmm, p);
}
