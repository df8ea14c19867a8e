/* unit.c -- the NPMU's region operations: pool metadata commits plus the TPT (windows and registrations). */
#include "unit.h"

#include <stdatomic.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <endian.h>

#include "ckpt_format.h"
#include "clock.h"
#include "codec.h"
#include "log.h"
#include "metrics.h"
#include "replies.h"

/* entry_find -- the TPT entry of region id, or NULL. */
static struct npmu__tpt_entry *entry_find(struct npmu__unit *unit, uint64_t id)
{
	for (uint32_t i = 0; i < unit->nentries; i++)
		if (unit->entries[i].region_id == id)
			return &unit->entries[i];
	return NULL;
}

/* entry_close_mrs -- close every registration of an entry (revoking all its keys). */
static void entry_close_mrs(struct npmu__tpt_entry *e)
{
	for (uint32_t k = 0; k < e->nmr; k++)
		if (e->mr[k].mr) {
			fi_close(&e->mr[k].mr->fid);
			e->mr[k].mr = NULL;
		}
}

/* entry_drop -- close an entry's registrations and window and remove it from the table. */
static void entry_drop(struct npmu__unit *unit, struct npmu__tpt_entry *e)
{
	npmu__flush_quiesce(&unit->flush); /* queued or running pieces may lie in its window */
	entry_close_mrs(e);
	npmu__window_delete(&e->win);
	*e = unit->entries[--unit->nentries];
}

/* fi_access -- libfabric remote access flags of an npmu right. */
static uint64_t fi_access(uint32_t access)
{
	return access == NPMU_ACCESS_READ_WRITE ? FI_REMOTE_READ | FI_REMOTE_WRITE : FI_REMOTE_READ;
}

/* region_info -- fill the public info of a region. */
static void region_info(const struct npmu__region_meta *r, struct npmu_region_info *info)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	strcpy(info->name, r->name);
	strcpy(info->owner, r->owner);
	info->id = r->id;
	info->size = r->size;
	info->extents = r->nextents;
	info->rights = r->nrights;
	info->copies = r->mirror_len ? NPMU_MIRROR_COPIES : 1;
}

/* register_right -- register the entry's window for one right under its key. */
static int register_right(struct npmu__unit *unit, struct npmu__tpt_entry *e, uint64_t size,
			  uint32_t slot, uint64_t key, uint32_t access)
{
	uint64_t got;
	int rc = npmu__fabric_mr_reg(unit->fab, e->win->addr, size, fi_access(access), key,
				     &e->mr[slot].mr, &got);
	if (rc != 0)
		return rc;
	e->mr[slot].key = got;
	e->mr[slot].access = access;
	return 0;
}

/* entry_build -- map a region and register each of its recorded rights. */
static int entry_build(struct npmu__unit *unit, const struct npmu__region_meta *r)
{
	void *p = realloc(unit->entries, (unit->nentries + 1) * sizeof(*unit->entries));
	if (!p)
		return NPMU_E_NOMEM;
	unit->entries = p;
	struct npmu__tpt_entry *e = &unit->entries[unit->nentries];
	memset(e, 0, sizeof(*e));
	e->region_id = r->id;
	int rc = npmu__window_new(unit->pool, r, &e->win);
	if (rc != 0)
		return rc;
	unit->nentries++;
	for (uint32_t k = 0; k < r->nrights; k++) {
		rc = register_right(unit, e, r->size, k, r->rights[k].key, r->rights[k].access);
		if (rc != 0) {
			entry_drop(unit, e);
			return rc;
		}
		e->nmr = k + 1;
	}
	return 0;
}

/* npmu__unit_new -- serve pool over fab, rebuilding every window and registration. */
int npmu__unit_new(struct npmu__pool *pool, struct npmu__fabric *fab, struct npmu__unit **unit_ptr)
{
	struct npmu__unit *unit = calloc(1, sizeof(*unit));
	if (!unit)
		return NPMU_E_NOMEM;
	unit->pool = pool;
	unit->fab = fab;
	if (npmu__flush_init(&unit->flush, pool->fd) != 0) {
		free(unit);
		return NPMU_E_NOMEM;
	}
	npmu__prefetch_start(&unit->prefetch, pool->fd);
	for (uint32_t i = 0; i < pool->meta.nregions; i++) {
		int rc = entry_build(unit, &pool->meta.regions[i]);
		if (rc != 0) {
			LOG_ERR("unit: cannot restore region %s: %s", pool->meta.regions[i].name,
				npmu_strerror(rc));
			npmu__unit_delete(&unit);
			return rc;
		}
	}
	*unit_ptr = unit;
	return 0;
}

/* npmu__unit_delete -- close every registration and window; NULLs *unit_ptr. */
void npmu__unit_delete(struct npmu__unit **unit_ptr)
{
	struct npmu__unit *unit = *unit_ptr;
	if (!unit)
		return;
	npmu__prefetch_stop(&unit->prefetch);
	npmu__flush_fini(&unit->flush);
	if (atomic_load(&unit->flush.requests))
		LOG_INFO("unit: %llu persist requests made durable by %llu flushes (group commit)",
			 (unsigned long long)atomic_load(&unit->flush.requests),
			 (unsigned long long)atomic_load(&unit->flush.groups));
	while (unit->nentries > 0)
		entry_drop(unit, &unit->entries[0]);
	free(unit->entries);
	free(unit);
	*unit_ptr = NULL;
}

/* pages_of -- pages needed for size bytes. */
static uint64_t pages_of(uint64_t size)
{
	return (size + NPMU_PAGE_SIZE - 1) / NPMU_PAGE_SIZE;
}

/* check_size -- a region size is 1 byte .. the pool's data pages. */
static int check_size(const struct npmu__unit *unit, uint64_t size)
{
	if (size == 0)
		return NPMU_E_INVAL;
	if (pages_of(size) > unit->pool->sb.npages - unit->pool->sb.data_start)
		return NPMU_E_NOSPC;
	return 0;
}

/* npmu__unit_create -- allocate, zero and record a new region, then map it. */
int npmu__unit_create(struct npmu__unit *unit, const char *name, const char *owner, uint64_t size,
		      const uint8_t *rec, size_t rec_len, struct npmu_region_info *info)
{
	struct npmu__pool *pool = unit->pool;
	uint64_t t0 = npmu__now_ms();
	if (npmu__meta_find(&pool->meta, name))
		return NPMU_E_EXIST; /* said first: a size too large for a name taken is beside it */
	int rc = check_size(unit, size);
	if (rc != 0)
		return rc;
	struct npmu__mirror m;
	if (rec_len && (npmu__mirror_decode(rec, rec_len, &m) != 0 || m.size != size))
		return NPMU_E_INVAL;
	if (pool->meta.nregions >= NPMU_REGIONS_MAX)
		return NPMU_E_LIMIT;
	struct npmu__extent ext[NPMU_EXTENTS_MAX];
	int n = npmu__alloc_get(&pool->alloc, pages_of(size), NULL, ext, NPMU_EXTENTS_MAX);
	if (n < 0)
		return n;
	struct npmu__region_meta r;
	memset(&r, 0, sizeof(r));
	r.id = pool->meta.next_region_id;
	r.size = size;
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.owner, sizeof(r.owner), "%s", owner ? owner : "");
	r.nextents = (uint32_t)n;
	r.mirror_len = (uint16_t)rec_len;
	if (rec_len)
		memcpy(r.mirror, rec, rec_len);
	r.extents = malloc((size_t)n * sizeof(*r.extents));
	if (!r.extents) {
		rc = NPMU_E_NOMEM;
		goto err_release;
	}
	memcpy(r.extents, ext, (size_t)n * sizeof(*ext));
	if ((rc = npmu__pool_zero(pool, ext, (uint32_t)n)) != 0)
		goto err_free;
	if ((rc = npmu__meta_add(&pool->meta, &r)) != 0)
		goto err_free;
	pool->meta.next_region_id++;
	if ((rc = npmu__pool_commit(pool)) != 0) {
		pool->meta.next_region_id--;
		pool->meta.nregions--; /* the region added last; its extents are freed below */
		goto err_free;
	}
	struct npmu__region_meta *rm = &pool->meta.regions[pool->meta.nregions - 1];
	if ((rc = entry_build(unit, rm)) != 0)
		LOG_ERR("region %s: created but cannot be mapped: %s", name, npmu_strerror(rc));
	else
		unit->entries[unit->nentries - 1].fresh = true;
	region_info(rm, info);
	LOG_INFO("region %s: created, %llu bytes in %d extent(s), in %llu ms", name,
		 (unsigned long long)size, n, (unsigned long long)(npmu__now_ms() - t0));
	return rc;
err_free:
	free(r.extents);
err_release:
	for (int i = 0; i < n; i++)
		npmu__alloc_release(&pool->alloc, &ext[i]);
	return rc;
}

/* npmu__unit_remove -- revoke every right, forget the region durably, then free its pages. */
int npmu__unit_remove(struct npmu__unit *unit, const char *name)
{
	struct npmu__pool *pool = unit->pool;
	struct npmu__region_meta *r = npmu__meta_find(&pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	uint32_t idx = (uint32_t)(r - pool->meta.regions);
	struct npmu__region_meta saved = *r;
	/* Take the region out of the table, commit, and only then touch pages and keys. */
	pool->meta.regions[idx] = pool->meta.regions[pool->meta.nregions - 1];
	pool->meta.nregions--;
	int rc = npmu__pool_commit(pool);
	if (rc != 0) {
		pool->meta.regions[pool->meta.nregions++] = pool->meta.regions[idx];
		pool->meta.regions[idx] = saved;
		return rc;
	}
	struct npmu__tpt_entry *e = entry_find(unit, saved.id);
	if (e)
		entry_drop(unit, e);
	npmu__pool_release(pool, &saved);
	free(saved.extents);
	LOG_INFO("region %s: deleted", name);
	return 0;
}

/* npmu__unit_resize -- grow a region: allocate and zero new pages, commit, remap, re-register. */
int npmu__unit_resize(struct npmu__unit *unit, const char *name, uint64_t size,
		      struct npmu_region_info *info)
{
	struct npmu__pool *pool = unit->pool;
	struct npmu__region_meta *r = npmu__meta_find(&pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	int rc = check_size(unit, size);
	if (rc != 0)
		return rc;
	if (size < r->size)
		return NPMU_E_SHRINK;
	uint64_t more = pages_of(size) - pages_of(r->size);
	struct npmu__extent ext[NPMU_EXTENTS_MAX];
	struct npmu__extent fresh[NPMU_EXTENTS_MAX]; /* only the new pages, for zeroing */
	int n = 0;
	uint32_t keep = r->nextents;
	if (more > 0) {
		struct npmu__extent *last = &r->extents[r->nextents - 1];
		int room = NPMU_EXTENTS_MAX - (int)r->nextents + 1;
		n = npmu__alloc_get(&pool->alloc, more, last, ext, room);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			fresh[i] = ext[i];
			if (i == 0 && ext[0].start == last->start) {
				fresh[0].start = last->start + last->npages;
				fresh[0].npages = ext[0].npages - last->npages;
				keep--; /* ext[0] replaces the last extent */
			}
		}
	}
	uint32_t total = keep + (uint32_t)n;
	struct npmu__extent *all = malloc(total * sizeof(*all));
	if (!all) {
		rc = NPMU_E_NOMEM;
		goto err_release;
	}
	memcpy(all, r->extents, keep * sizeof(*all));
	memcpy(all + keep, ext, (size_t)n * sizeof(*ext));
	if (n > 0 && (rc = npmu__pool_zero(pool, fresh, (uint32_t)n)) != 0)
		goto err_free;
	struct npmu__extent *old_ext = r->extents;
	uint32_t old_n = r->nextents;
	uint64_t old_size = r->size;
	r->extents = all;
	r->nextents = total;
	r->size = size;
	if ((rc = npmu__pool_commit(pool)) != 0) {
		r->extents = old_ext;
		r->nextents = old_n;
		r->size = old_size;
		goto err_free;
	}
	free(old_ext);
	/* Remap: a new window, then move each right's registration to it under the same key. */
	struct npmu__tpt_entry *e = entry_find(unit, r->id);
	struct npmu__window *win = NULL;
	if (e && (rc = npmu__window_new(pool, r, &win)) == 0) {
		npmu__flush_quiesce(&unit->flush); /* pieces may lie in the old window */
		entry_close_mrs(e);
		npmu__window_delete(&e->win);
		e->win = win;
		for (uint32_t k = 0; k < e->nmr && rc == 0; k++)
			rc = register_right(unit, e, r->size, k, e->mr[k].key, e->mr[k].access);
	}
	if (rc != 0)
		LOG_ERR("region %s: grown on media but not remapped: %s (restart the unit)", name,
			npmu_strerror(rc));
	region_info(r, info);
	LOG_INFO("region %s: resized to %llu bytes, %u extent(s)", name, (unsigned long long)size,
		 r->nextents);
	return rc;
err_free:
	free(all);
err_release:
	for (int i = 0; i < n; i++)
		npmu__alloc_release(&pool->alloc, &fresh[i]);
	return rc;
}

/* npmu__unit_stat -- describe one region. */
int npmu__unit_stat(struct npmu__unit *unit, const char *name, struct npmu_region_info *info)
{
	struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	region_info(r, info);
	return 0;
}

/* npmu__unit_list -- info of regions [start, start+max). */
int npmu__unit_list(struct npmu__unit *unit, uint32_t start, struct npmu_region_info *out,
		    uint32_t max, uint32_t *total)
{
	const struct npmu__meta *m = &unit->pool->meta;
	*total = m->nregions;
	uint32_t n = 0;
	for (uint32_t i = start; i < m->nregions && n < max; i++)
		region_info(&m->regions[i], &out[n++]);
	return (int)n;
}

/* npmu__key_draw -- one 64-bit key candidate from libsodium's CSPRNG. */
uint64_t npmu__key_draw(void)
{
	uint64_t key;
	randombytes_buf(&key, sizeof(key));
	return key;
}

/* new_key -- a random non-zero 64-bit key not in use anywhere in this unit. */
static uint64_t new_key(struct npmu__unit *unit)
{
	for (;;) {
		uint64_t key = npmu__key_draw();
		bool used = key == 0;
		for (uint32_t i = 0; i < unit->nentries && !used; i++)
			for (uint32_t k = 0; k < unit->entries[i].nmr; k++)
				used |= unit->entries[i].mr[k].key == key;
		if (!used)
			return key;
	}
}

/* count_rights -- region r's rights: in all, read ones, and holder's (none for holder 0, of
 * unknown origin: always reclaimable, not one client). */
static void count_rights(const struct npmu__region_meta *r, uint64_t holder, uint32_t *all,
			 uint32_t *reads, uint32_t *held)
{
	*all = r->nrights;
	*reads = *held = 0;
	for (uint32_t k = 0; k < r->nrights; k++) {
		*reads += r->rights[k].access == NPMU_ACCESS_READ;
		*held += holder && r->rights[k].holder == holder;
	}
}

/* npmu__unit_rights_count -- region name's rights: in all, read ones, and holder's. */
int npmu__unit_rights_count(struct npmu__unit *unit, const char *name, uint64_t holder,
			    uint32_t *all, uint32_t *reads, uint32_t *held)
{
	const struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	count_rights(r, holder, all, reads, held);
	return 0;
}

/* room_for -- whether region r has room for one more right of access for holder: fewer than
 * NPMU_RIGHTS_MAX in all, NPMU_RIGHTS_READ_MAX read ones, and NPMU_RIGHTS_PER_HOLDER of the
 * holder's (wire.h). */
static bool room_for(const struct npmu__region_meta *r, uint32_t access, uint64_t holder)
{
	uint32_t all, reads, held;
	count_rights(r, holder, &all, &reads, &held);
	return all < NPMU_RIGHTS_MAX && held < NPMU_RIGHTS_PER_HOLDER &&
	       (access != NPMU_ACCESS_READ || reads < NPMU_RIGHTS_READ_MAX);
}

/* npmu__unit_grant -- open a right: register the window under a new random key and record it. */
int npmu__unit_grant(struct npmu__unit *unit, const char *name, uint32_t access, uint64_t holder,
		     struct npmu_region_info *info, struct npmu__access_info *ai)
{
	struct npmu__pool *pool = unit->pool;
	if (access != NPMU_ACCESS_READ && access != NPMU_ACCESS_READ_WRITE)
		return NPMU_E_INVAL;
	struct npmu__region_meta *r = npmu__meta_find(&pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	struct npmu__tpt_entry *e = entry_find(unit, r->id);
	if (!e)
		return NPMU_E_IO;
	if (!room_for(r, access, holder) || e->nmr >= NPMU_RIGHTS_MAX)
		return NPMU_E_LIMIT;
	uint32_t slot = e->nmr;
	int rc = register_right(unit, e, r->size, slot, new_key(unit), access);
	if (rc != 0)
		return rc;
	r->rights[r->nrights].key = e->mr[slot].key;
	r->rights[r->nrights].access = access;
	r->rights[r->nrights].holder = holder;
	r->nrights++;
	if ((rc = npmu__pool_commit(pool)) != 0) {
		r->nrights--;
		fi_close(&e->mr[slot].mr->fid);
		e->mr[slot].mr = NULL;
		return rc;
	}
	e->nmr++;
	if (!e->fresh) /* (a fresh region's pages are zeros: reading them ahead only costs) */
		npmu__window_prefetch(e->win, &unit->prefetch); /* its transfers find its pages */
	region_info(r, info);
	ai->key = e->mr[slot].key;
	ai->base = unit->fab->virt_addr ? (uint64_t)(uintptr_t)e->win->addr : 0;
	ai->access = access;
	ai->unit[0] = '\0'; /* this unit */
	return 0;
}

/* npmu__unit_revoke -- close a right: deregister (the key dies at once) and forget it durably. */
int npmu__unit_revoke(struct npmu__unit *unit, uint64_t region_id, uint64_t key)
{
	struct npmu__region_meta *r = npmu__meta_find_id(&unit->pool->meta, region_id);
	struct npmu__tpt_entry *e = entry_find(unit, region_id);
	if (!r || !e)
		return NPMU_E_NOENT;
	uint32_t k = 0, m = 0;
	while (k < r->nrights && r->rights[k].key != key)
		k++;
	while (m < e->nmr && e->mr[m].key != key)
		m++;
	if (k == r->nrights || m == e->nmr)
		return NPMU_E_KEY;
	/* Kill the key first: from here on no access through it can succeed. */
	fi_close(&e->mr[m].mr->fid);
	e->mr[m] = e->mr[--e->nmr];
	e->fresh = false; /* (a writer may have left data) */
	r->rights[k] = r->rights[--r->nrights];
	return npmu__pool_commit(unit->pool);
}

/* npmu__unit_reclaim -- close the rights of dead holders (keys dead at once), one commit. */
int npmu__unit_reclaim(struct npmu__unit *unit, const char *name,
		       bool (*live)(void *arg, uint64_t holder), void *arg)
{
	struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	struct npmu__tpt_entry *e = entry_find(unit, r->id);
	int n = 0;
	for (uint32_t k = 0; k < r->nrights;) {
		if (live(arg, r->rights[k].holder)) {
			k++;
			continue;
		}
		for (uint32_t m = 0; e && m < e->nmr; m++)
			if (e->mr[m].key == r->rights[k].key) {
				fi_close(&e->mr[m].mr->fid);
				e->mr[m] = e->mr[--e->nmr];
				e->fresh = false; /* (a writer may have left data) */
				break;
			}
		r->rights[k] = r->rights[--r->nrights];
		n++;
	}
	if (n == 0)
		return 0;
	int rc = npmu__pool_commit(unit->pool);
	LOG_INFO("region %s: %d right(s) of clients gone reclaimed", name, n);
	return rc == 0 ? n : rc;
}

/* npmu__unit_key_live -- whether key is a live read-write right to region name. */
bool npmu__unit_key_live(struct npmu__unit *unit, const char *name, uint64_t key)
{
	struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	for (uint32_t k = 0; r && key && k < r->nrights; k++)
		if (r->rights[k].key == key && r->rights[k].access == NPMU_ACCESS_READ_WRITE)
			return true;
	return false;
}

/* npmu__unit_revoke_all -- close every right to a region (keys dead at once), then forget them. */
int npmu__unit_revoke_all(struct npmu__unit *unit, const char *name)
{
	struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	struct npmu__tpt_entry *e = entry_find(unit, r->id);
	int n = (int)r->nrights;
	if (e) {
		entry_close_mrs(e);
		e->nmr = 0;
		e->fresh = false;
	}
	r->nrights = 0;
	int rc = npmu__pool_commit(unit->pool);
	LOG_INFO("region %s: %d right(s) revoked", name, n);
	return rc == 0 ? n : rc;
}

/* npmu__unit_fence -- close the read-write rights of a region (and raise a stream's epoch; a
 * plain region under a lease, a set's staging region, has none: its rights alone are closed). */
int npmu__unit_fence(struct npmu__unit *unit, const char *name, bool raise, uint64_t *epoch)
{
	struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	struct npmu__tpt_entry *e = entry_find(unit, r->id);
	if (!e)
		return NPMU_E_IO;
	struct npmu__ckpt_hdr h;
	if (raise && (r->size < NPMU_CKPT_HDR || npmu__ckpt_hdr_decode(e->win->addr, &h) != 0))
		raise = false;
	npmu__metric_add(&unit->fences, 1);
	for (uint32_t m = 0; m < e->nmr;) {
		if (e->mr[m].access != NPMU_ACCESS_READ_WRITE) {
			m++;
			continue;
		}
		npmu__metric_add(&unit->fenced_rights, 1);
		fi_close(&e->mr[m].mr->fid);
		for (uint32_t k = 0; k < r->nrights; k++)
			if (r->rights[k].key == e->mr[m].key)
				r->rights[k] = r->rights[--r->nrights];
		e->mr[m] = e->mr[--e->nmr];
		e->fresh = false; /* (a writer may have left data) */
	}
	uint64_t least = *epoch;
	*epoch = 0;
	if (raise) {
		volatile uint64_t *word = (uint64_t *)(e->win->addr + NPMU_CKPT_EPOCH_OFF);
		*epoch = h.epoch + 1 > least ? h.epoch + 1 : least;
		*word = htole64(*epoch);
		npmu__window_persist(e->win, NPMU_CKPT_EPOCH_OFF, 8);
	}
	int rc = npmu__pool_commit(unit->pool);
	if (raise)
		LOG_INFO("stream %s: writers fenced, epoch %llu", name, (unsigned long long)*epoch);
	else
		LOG_INFO("region %s: earlier writers' rights closed", name);
	return rc;
}

/* npmu__unit_mirror_rec -- read, or replace with a newer generation, a region's mirror record. */
int npmu__unit_mirror_rec(struct npmu__unit *unit, const char *name, bool set, uint64_t key,
			  const uint8_t *rec, size_t rec_len, struct npmu__cursor *reply)
{
	struct npmu__region_meta *r = npmu__meta_find(&unit->pool->meta, name);
	if (!r)
		return NPMU_E_NOENT;
	if (set) {
		struct npmu__mirror want, have;
		if (!r->mirror_len)
			return NPMU_E_INVAL; /* a plain region does not become a mirror */
		if (npmu__mirror_decode(rec, rec_len, &want) != 0 || want.size != r->size)
			return NPMU_E_INVAL;
		if (npmu__mirror_decode(r->mirror, r->mirror_len, &have) == 0 &&
		    want.generation <= have.generation)
			return NPMU_E_EXIST; /* a newer record is already here */
		if (key) { /* on behalf of a writer: its right must still be alive */
			bool live = false;
			for (uint32_t k = 0; k < r->nrights; k++)
				live |= r->rights[k].key == key &&
					r->rights[k].access == NPMU_ACCESS_READ_WRITE;
			if (!live)
				return NPMU_E_FENCED;
		}
		uint16_t old_len = r->mirror_len;
		uint8_t old[NPMU_MIRROR_REC_MAX];
		memcpy(old, r->mirror, old_len);
		memcpy(r->mirror, rec, rec_len);
		r->mirror_len = (uint16_t)rec_len;
		int rc = npmu__pool_commit(unit->pool);
		if (rc != 0) {
			memcpy(r->mirror, old, old_len);
			r->mirror_len = old_len;
			return rc;
		}
		LOG_INFO("region %s: mirror record generation %llu", name,
			 (unsigned long long)want.generation);
	}
	npmu__reply_mirror_rec_put(reply, r->mirror, r->mirror_len);
	return 0;
}

/* npmu__unit_persist -- queue a PERSIST's ranges in the unit's flush group, for a holder of a
 * read-write key; every range is checked before any is queued. */
int npmu__unit_persist(struct npmu__unit *unit, const struct npmu__request *req)
{
	struct npmu__region_meta *r = npmu__meta_find_id(&unit->pool->meta, req->region_id);
	struct npmu__tpt_entry *e = entry_find(unit, req->region_id);
	if (!r || !e)
		return NPMU_E_KEY; /* no region: no key can be valid for it */
	uint32_t m = 0;
	while (m < e->nmr && e->mr[m].key != req->key)
		m++;
	if (m == e->nmr)
		return NPMU_E_KEY;
	if (e->mr[m].access != NPMU_ACCESS_READ_WRITE)
		return NPMU_E_ACCESS;
	if (req->more >= NPMU_PERSIST_RANGES)
		return NPMU_E_PROTO;
	struct npmu__range ranges[NPMU_PERSIST_RANGES];
	ranges[0] = (struct npmu__range){req->offset, req->len};
	memcpy(ranges + 1, req->more_ranges, req->more * sizeof(*ranges));
	for (uint32_t i = 0; i <= req->more; i++)
		if (ranges[i].offset > r->size || ranges[i].len > r->size - ranges[i].offset)
			return NPMU_E_RANGE;
	for (uint32_t i = 0; i <= req->more; i++)
		npmu__window_flush_add(e->win, ranges[i].offset, ranges[i].len, &unit->flush);
	npmu__flush_request_done(&unit->flush);
	return 0;
}
