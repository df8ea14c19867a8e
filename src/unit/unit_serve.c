/* unit_serve.c -- npmud's handlers for the service loop (unit_serve.h). */
#include "unit_serve.h"

#include <string.h>

#include "metrics.h"
#include "unit_ops.h"

/* hello -- a unit with data, and a manager when one is embedded. */
static void hello(void *arg, uint32_t *flags, uint8_t id[8], uint64_t *capacity, uint64_t *free)
{
	struct npmu__unit_service *us = arg;
	const struct npmu__pool *pool = us->unit->pool;
	*flags = NPMU_UNIT_DATA |
		 (us->pmm ? NPMU_UNIT_MANAGER | NPMU_UNIT_MEMBERS | NPMU_UNIT_WHERE |
				   NPMU_UNIT_STAGING : 0);
	memcpy(id, pool->sb.uuid, 8);
	*capacity = (pool->sb.npages - pool->sb.data_start) * NPMU_PAGE_SIZE;
	*free = pool->alloc.nfree * NPMU_PAGE_SIZE;
}

/* handle -- PERSIST (checked now, flushed with its batch and answered when that lands) and
 * CLOSE (outside a session too: the key is the proof), TPT programming by the manager's
 * session, and region requests to the embedded manager. A persist checked before a key is
 * revoked counts as before it (a flush of bytes written since is harmless); a window is never
 * unmapped under a queued or running flush (unit.c quiesces the groups first: flush.h F2). */
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

/* batch_begin -- the persists of the batch: one flush for all, here or (a large one) on the
 * flusher thread (group commit, flush.h F1). */
static int batch_begin(void *arg)
{
	struct npmu__unit_service *us = arg;
	return npmu__flush_begin(&us->unit->flush);
}

/* batch_end -- the batch's flush is done (or, with wait, once it is). */
static bool batch_end(void *arg, bool wait)
{
	struct npmu__unit_service *us = arg;
	return npmu__flush_end(&us->unit->flush, wait);
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
					  .batch_begin = batch_begin, .batch_end = batch_end,
					  .batch_fd = unit->flush.done_fd,
					  .batch_types = 1ull << NPMU_MSG_PERSIST, .stalled = stalled};
}

/* npmu__unit_service_publish -- the gauges, from the pool and the TPT. */
void npmu__unit_service_publish(struct npmu__unit_service *us)
{
	const struct npmu__unit *unit = us->unit;
	const struct npmu__pool *pool = unit->pool;
	uint64_t rights = 0;
	for (uint32_t i = 0; i < unit->nentries; i++)
		rights += unit->entries[i].nmr;
	npmu__metric_set(&us->regions, pool->meta.nregions);
	npmu__metric_set(&us->rights, rights);
	npmu__metric_set(&us->capacity, (pool->sb.npages - pool->sb.data_start) * NPMU_PAGE_SIZE);
	npmu__metric_set(&us->free, pool->alloc.nfree * NPMU_PAGE_SIZE);
	if (us->pmm)
		npmu__pmm_publish(us->pmm);
}

/* gauge -- one family of one unlabelled sample. */
static void gauge(struct npmu__prom *p, const char *name, const char *type, const char *help,
		  uint64_t v)
{
	npmu__prom_family(p, name, type, help);
	npmu__prom_u64(p, name, v, NULL);
}

/* npmu__unit_service_render -- the unit's families (and its embedded manager's). */
void npmu__unit_service_render(struct npmu__unit_service *us, struct npmu__prom *p)
{
	const struct npmu__unit *unit = us->unit;
	gauge(p, "npmu_regions", "gauge", "Regions in the pool.", npmu__metric_get(&us->regions));
	gauge(p, "npmu_rights", "gauge", "Open rights (registrations with a live key).",
	      npmu__metric_get(&us->rights));
	gauge(p, "npmu_pool_capacity_bytes", "gauge", "Bytes of the pool that regions can use.",
	      npmu__metric_get(&us->capacity));
	gauge(p, "npmu_pool_free_bytes", "gauge", "Bytes of the pool no region uses.",
	      npmu__metric_get(&us->free));
	gauge(p, "npmu_persist_bytes_total", "counter",
	      "Bytes made durable for PERSIST requests (ranges flushed).",
	      npmu__metric_get(&unit->flush.bytes));
	gauge(p, "npmu_prefetch_bytes_total", "counter",
	      "Bytes of regions being opened asked to be read ahead (a region this unit made "
	      "and no writer has closed yet is not: its pages are zeros).",
	      npmu__metric_get(&unit->prefetch.queued));
	npmu__prom_histogram(p, "npmu_flush_duration_seconds",
			     "Time to make a group of PERSIST requests durable (one flush).",
			     &unit->flush.latency);
	gauge(p, "npmu_fences_total", "counter",
	      "Fence operations: a region's read-write rights closed (a stream's epoch raised).",
	      npmu__metric_get(&unit->fences));
	gauge(p, "npmu_fenced_rights_total", "counter", "Read-write rights closed by fences.",
	      npmu__metric_get(&unit->fenced_rights));
	if (us->pmm)
		npmu__pmm_render(us->pmm, p);
}

/* npmu__unit_service_fini -- release the programming manager. */
void npmu__unit_service_fini(struct npmu__unit_service *us)
{
	if (us->programming.ops)
		npmu__pmm_fini(&us->programming);
}
