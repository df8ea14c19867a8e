/* pool_format.c -- encode, decode and validate superblocks and the region table (layout in pool_format.h). */
#include "pool_format.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "codec.h"
#include "csum.h"
#include "session.h"
#include "wire.h"

/* npmu__pool_geometry -- the superblock fields of a new pool of size bytes. */
int npmu__pool_geometry(uint64_t size, struct npmu__superblock *sb)
{
	if (size < NPMU_POOL_MIN_SIZE)
		return NPMU_E_INVAL;
	memset(sb, 0, sizeof(*sb));
	sb->version = NPMU_POOL_VERSION;
	sb->page_size = NPMU_PAGE_SIZE;
	sb->npages = size / NPMU_PAGE_SIZE;
	sb->pool_size = sb->npages * NPMU_PAGE_SIZE;
	/* Each metadata area: 1/512 of the pool, between 64 KiB and 16 MiB. */
	uint64_t area = sb->pool_size / 512;
	if (area < 64 * 1024)
		area = 64 * 1024;
	if (area > 16 * 1024 * 1024)
		area = 16 * 1024 * 1024;
	sb->meta_pages = area / NPMU_PAGE_SIZE;
	sb->data_start = 2 + 2 * sb->meta_pages;
	if (sb->data_start >= sb->npages)
		return NPMU_E_INVAL;
	return 0;
}

/* npmu__sb_encode -- write a superblock into NPMU_SB_LEN bytes, with its checksum. */
void npmu__sb_encode(const struct npmu__superblock *sb, uint8_t out[NPMU_SB_LEN])
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, out, NPMU_SB_LEN);
	npmu__put_bytes(&c, NPMU_POOL_MAGIC, 8);
	npmu__put_u32(&c, sb->version);
	npmu__put_u32(&c, sb->page_size);
	npmu__put_u64(&c, sb->pool_size);
	npmu__put_u64(&c, sb->npages);
	npmu__put_u64(&c, sb->meta_pages);
	npmu__put_u64(&c, sb->data_start);
	npmu__put_u64(&c, sb->generation);
	npmu__put_u64(&c, sb->meta_len);
	npmu__put_u64(&c, sb->meta_csum);
	npmu__put_bytes(&c, sb->uuid, 16);
	npmu__put_u64(&c, npmu__csum(out, 88));
}

/* npmu__sb_decode -- decode and check one superblock copy. */
int npmu__sb_decode(const uint8_t in[NPMU_SB_LEN], struct npmu__superblock *sb)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)in, NPMU_SB_LEN);
	char magic[8];
	npmu__get_bytes(&c, magic, 8);
	sb->version = npmu__get_u32(&c);
	sb->page_size = npmu__get_u32(&c);
	sb->pool_size = npmu__get_u64(&c);
	sb->npages = npmu__get_u64(&c);
	sb->meta_pages = npmu__get_u64(&c);
	sb->data_start = npmu__get_u64(&c);
	sb->generation = npmu__get_u64(&c);
	sb->meta_len = npmu__get_u64(&c);
	sb->meta_csum = npmu__get_u64(&c);
	npmu__get_bytes(&c, sb->uuid, 16);
	uint64_t csum = npmu__get_u64(&c);
	if (memcmp(magic, NPMU_POOL_MAGIC, 8) != 0 || csum != npmu__csum(in, 88))
		return NPMU_E_CORRUPT;
	if (sb->version < NPMU_POOL_VERSION_MIN || sb->version > NPMU_POOL_VERSION)
		return NPMU_E_VERSION;
	if (sb->page_size != NPMU_PAGE_SIZE || sb->npages == 0 ||
	    sb->pool_size != sb->npages * NPMU_PAGE_SIZE || sb->meta_pages == 0 ||
	    sb->meta_pages > sb->npages || sb->data_start != 2 + 2 * sb->meta_pages ||
	    sb->data_start >= sb->npages || sb->generation == 0 ||
	    sb->meta_len > sb->meta_pages * NPMU_PAGE_SIZE)
		return NPMU_E_CORRUPT;
	return 0;
}

/* npmu__meta_encoded_len -- bytes npmu__meta_encode() needs for meta. */
size_t npmu__meta_encoded_len(const struct npmu__meta *meta)
{
	size_t n = 32;
	for (uint32_t i = 0; i < meta->nregions; i++) {
		const struct npmu__region_meta *r = &meta->regions[i];
		n += 8 + 8 + 1 + strlen(r->name) + 1 + strlen(r->owner) + 4 + 4 +
		     16 * (size_t)r->nextents +
		     24 * (size_t)r->nrights + 2 + r->mirror_len;
	}
	return n;
}

/* npmu__meta_encode -- serialise meta into buf; returns the length or NPMU_E_NOSPC. */
int64_t npmu__meta_encode(const struct npmu__meta *meta, void *buf, size_t buflen)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf, buflen);
	npmu__put_bytes(&c, NPMU_META_MAGIC, 8);
	npmu__put_u64(&c, meta->generation);
	npmu__put_u64(&c, meta->next_region_id);
	npmu__put_u32(&c, meta->nregions);
	npmu__put_u32(&c, 0);
	for (uint32_t i = 0; i < meta->nregions; i++) {
		const struct npmu__region_meta *r = &meta->regions[i];
		size_t nl = strlen(r->name);
		npmu__put_u64(&c, r->id);
		npmu__put_u64(&c, r->size);
		npmu__put_u8(&c, (uint8_t)nl);
		npmu__put_bytes(&c, r->name, nl);
		size_t ol = strlen(r->owner);
		npmu__put_u8(&c, (uint8_t)ol);
		npmu__put_bytes(&c, r->owner, ol);
		npmu__put_u32(&c, r->nextents);
		npmu__put_u32(&c, r->nrights);
		for (uint32_t e = 0; e < r->nextents; e++) {
			npmu__put_u64(&c, r->extents[e].start);
			npmu__put_u64(&c, r->extents[e].npages);
		}
		for (uint32_t k = 0; k < r->nrights; k++) {
			npmu__put_u64(&c, r->rights[k].key);
			npmu__put_u32(&c, r->rights[k].access);
			npmu__put_u32(&c, 0);
			npmu__put_u64(&c, r->rights[k].holder);
		}
		npmu__put_u16(&c, r->mirror_len);
		npmu__put_bytes(&c, r->mirror, r->mirror_len);
	}
	return c.ok ? (int64_t)c.pos : NPMU_E_NOSPC;
}

/* decode_region -- parse one region record and claim its pages; 0 or NPMU_E_CORRUPT. */
static int decode_region(struct npmu__cursor *c, const struct npmu__superblock *sb,
			 struct npmu__region_meta *r, struct npmu__alloc *alloc)
{
	memset(r, 0, sizeof(*r));
	r->id = npmu__get_u64(c);
	r->size = npmu__get_u64(c);
	uint8_t nl = npmu__get_u8(c);
	const uint8_t *name = npmu__cursor_take(c, nl);
	uint8_t ol = npmu__get_u8(c);
	const uint8_t *owner = npmu__cursor_take(c, ol);
	r->nextents = npmu__get_u32(c);
	r->nrights = npmu__get_u32(c);
	if (!c->ok || !npmu__name_valid((const char *)name, nl) ||
	    (ol && !npmu__id_valid((const char *)owner, ol)) || r->nextents == 0 ||
	    r->nextents > NPMU_EXTENTS_MAX || r->nrights > NPMU_RIGHTS_MAX || r->size == 0)
		return NPMU_E_CORRUPT;
	memcpy(r->name, name, nl);
	r->name[nl] = '\0';
	memcpy(r->owner, owner, ol);
	r->owner[ol] = '\0';
	r->extents = calloc(r->nextents, sizeof(*r->extents));
	if (!r->extents)
		return NPMU_E_NOMEM;
	uint64_t pages = 0;
	for (uint32_t e = 0; e < r->nextents; e++) {
		struct npmu__extent *x = &r->extents[e];
		x->start = npmu__get_u64(c);
		x->npages = npmu__get_u64(c);
		if (!c->ok || x->start < sb->data_start || npmu__alloc_claim(alloc, x) != 0)
			return NPMU_E_CORRUPT;
		pages += x->npages;
	}
	if (pages != (r->size + NPMU_PAGE_SIZE - 1) / NPMU_PAGE_SIZE)
		return NPMU_E_CORRUPT;
	for (uint32_t k = 0; k < r->nrights; k++) {
		r->rights[k].key = npmu__get_u64(c);
		r->rights[k].access = npmu__get_u32(c);
		uint32_t zero = npmu__get_u32(c);
		r->rights[k].holder = sb->version >= 3 ? npmu__get_u64(c) : 0;
		if (!c->ok || zero != 0 ||
		    (r->rights[k].access != NPMU_ACCESS_READ &&
		     r->rights[k].access != NPMU_ACCESS_READ_WRITE))
			return NPMU_E_CORRUPT;
	}
	if (sb->version >= 2) {
		struct npmu__mirror m;
		r->mirror_len = npmu__get_u16(c);
		if (!c->ok || r->mirror_len > NPMU_MIRROR_REC_MAX)
			return NPMU_E_CORRUPT;
		npmu__get_bytes(c, r->mirror, r->mirror_len);
		if (!c->ok || (r->mirror_len && npmu__mirror_decode(r->mirror, r->mirror_len, &m) != 0))
			return NPMU_E_CORRUPT;
	}
	return 0;
}

/* npmu__meta_decode -- parse and validate metadata of the superblock's generation. */
int npmu__meta_decode(const void *buf, size_t len, const struct npmu__superblock *sb,
		      struct npmu__meta *meta, struct npmu__alloc *alloc)
{
	memset(meta, 0, sizeof(*meta));
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)buf, len);
	char magic[8];
	npmu__get_bytes(&c, magic, 8);
	meta->generation = npmu__get_u64(&c);
	meta->next_region_id = npmu__get_u64(&c);
	uint32_t n = npmu__get_u32(&c);
	uint32_t reserved = npmu__get_u32(&c);
	if (!c.ok || memcmp(magic, NPMU_META_MAGIC, 8) != 0 || meta->generation != sb->generation ||
	    reserved != 0 || n > NPMU_REGIONS_MAX)
		return NPMU_E_CORRUPT;
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		struct npmu__region_meta r;
		rc = decode_region(&c, sb, &r, alloc);
		if (rc == 0 && (npmu__meta_find(meta, r.name) || npmu__meta_find_id(meta, r.id) ||
				r.id >= meta->next_region_id))
			rc = NPMU_E_CORRUPT;
		if (rc == 0)
			rc = npmu__meta_add(meta, &r);
		if (rc != 0)
			free(r.extents);
	}
	if (rc == 0 && c.pos != len)
		rc = NPMU_E_CORRUPT;
	if (rc != 0) {
		npmu__meta_free(meta);
		return rc == NPMU_E_NOMEM ? rc : NPMU_E_CORRUPT;
	}
	return 0;
}

/* npmu__meta_free -- free every region of meta. */
void npmu__meta_free(struct npmu__meta *meta)
{
	for (uint32_t i = 0; i < meta->nregions; i++)
		free(meta->regions[i].extents);
	free(meta->regions);
	meta->regions = NULL;
	meta->nregions = meta->cap = 0;
}

/* npmu__meta_find -- the region named name, or NULL. */
struct npmu__region_meta *npmu__meta_find(struct npmu__meta *meta, const char *name)
{
	for (uint32_t i = 0; i < meta->nregions; i++)
		if (strcmp(meta->regions[i].name, name) == 0)
			return &meta->regions[i];
	return NULL;
}

/* npmu__meta_find_id -- the region with id, or NULL. */
struct npmu__region_meta *npmu__meta_find_id(struct npmu__meta *meta, uint64_t id)
{
	for (uint32_t i = 0; i < meta->nregions; i++)
		if (meta->regions[i].id == id)
			return &meta->regions[i];
	return NULL;
}

/* npmu__meta_add -- append a region (taking ownership of r->extents). */
int npmu__meta_add(struct npmu__meta *meta, const struct npmu__region_meta *r)
{
	if (meta->nregions >= NPMU_REGIONS_MAX)
		return NPMU_E_LIMIT;
	int rc;
	void *p = npmu__grow(meta->regions, &meta->cap, meta->nregions, sizeof(*meta->regions), 16,
			     0, &rc);
	if (!p)
		return rc;
	meta->regions = p;
	meta->regions[meta->nregions++] = *r;
	return 0;
}

/* npmu__meta_remove -- remove the region at index i (freeing its extents). */
void npmu__meta_remove(struct npmu__meta *meta, uint32_t i)
{
	free(meta->regions[i].extents);
	meta->regions[i] = meta->regions[--meta->nregions];
}
