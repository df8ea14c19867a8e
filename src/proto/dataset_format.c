/* dataset_format.c -- the validating codec of a dataset's catalog, and its keeping rule (D2). */
#include "dataset_format.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "csum.h"

#define CATALOG_MAGIC 0x444d504eu /* "NPMD" */

/* encoded_len -- the catalog's bytes. */
static uint64_t encoded_len(const struct npmu__ds_catalog *cat)
{
	uint64_t n = NPMU_DS_HEAD + 8;
	for (uint32_t i = 0; i < cat->nversions; i++)
		n += NPMU_DS_VERSION_HEAD + 16ull * cat->v[i].parts;
	return n;
}

/* npmu__ds_encode -- serialise the catalog with its checksum. */
int npmu__ds_encode(const struct npmu__ds_catalog *cat, void **out, uint64_t *len)
{
	uint64_t n = encoded_len(cat);
	if (n > NPMU_DS_CATALOG_MAX || cat->nversions > NPMU_DS_VERSIONS_MAX)
		return NPMU_E_TOOBIG;
	uint8_t *buf = malloc(n);
	if (!buf)
		return NPMU_E_NOMEM;
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf, n);
	bool staged = false;
	for (uint32_t i = 0; i < cat->nversions; i++)
		staged |= cat->v[i].staged;
	npmu__put_u32(&c, CATALOG_MAGIC);
	npmu__put_u16(&c, staged ? NPMU_DS_FORMAT_STAGED : NPMU_DS_FORMAT);
	npmu__put_u16(&c, (uint16_t)cat->flags);
	npmu__put_u32(&c, cat->k);
	npmu__put_u32(&c, cat->m);
	npmu__put_u32(&c, cat->n);
	npmu__put_u32(&c, cat->mirror);
	npmu__put_u64(&c, cat->seg_size);
	npmu__put_u64(&c, cat->capacity);
	npmu__put_u32(&c, cat->keep);
	npmu__put_u32(&c, cat->pins);
	npmu__put_u32(&c, cat->nversions);
	npmu__put_u32(&c, 0);
	for (uint32_t i = 0; i < cat->nversions; i++) {
		const struct npmu__ds_version *v = &cat->v[i];
		npmu__put_u64(&c, v->version);
		npmu__put_u64(&c, v->label);
		npmu__put_u32(&c, v->parts);
		npmu__put_u32(&c, (v->pinned ? NPMU_DS_VERSION_PINNED : 0) |
				      (v->staged ? NPMU_DS_VERSION_STAGED : 0));
		for (uint32_t p = 0; p < v->parts; p++) {
			npmu__put_u64(&c, v->length[p]);
			npmu__put_u64(&c, v->csum[p]);
		}
	}
	npmu__put_u64(&c, npmu__csum(buf, c.pos));
	if (!c.ok) {
		free(buf);
		return NPMU_E_INTERNAL;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* shape_ok -- the head's fields within what a dataset may have. */
static bool shape_ok(const struct npmu__ds_catalog *cat)
{
	return cat->k >= 1 && cat->m >= 1 && cat->n >= (uint64_t)cat->k + cat->m && cat->n <= 64 &&
	       (!cat->mirror || cat->k == 1) && cat->seg_size >= 4096 && cat->seg_size % 4096 == 0 &&
	       cat->keep >= 1 && cat->keep <= NPMU_DS_KEEP_MAX && cat->pins <= NPMU_DS_PINS_MAX &&
	       cat->nversions <= cat->keep + cat->pins && (cat->flags & ~NPMU_DS_FLAG_DELETING) == 0;
}

/* decode_version -- one listed version (below: the one listed before it, 0 for the first;
 * flags_ok: the flags its format allows): 0, NPMU_E_CORRUPT when it does not hold together, or
 * NPMU_E_NOMEM. */
static int decode_version(struct npmu__cursor *c, struct npmu__ds_version *v, uint64_t below,
			  uint32_t flags_ok)
{
	v->version = npmu__get_u64(c);
	v->label = npmu__get_u64(c);
	v->parts = npmu__get_u32(c);
	uint32_t flags = npmu__get_u32(c);
	v->pinned = flags & NPMU_DS_VERSION_PINNED;
	v->staged = flags & NPMU_DS_VERSION_STAGED;
	if (!c->ok || v->version == 0 || (below && v->version >= below) || v->parts == 0 ||
	    v->parts > NPMU_DATASET_PARTS_MAX || (flags & ~flags_ok) ||
	    16ull * v->parts > c->len - c->pos)
		return NPMU_E_CORRUPT;
	v->length = malloc(v->parts * sizeof(uint64_t));
	v->csum = malloc(v->parts * sizeof(uint64_t));
	if (!v->length || !v->csum)
		return NPMU_E_NOMEM;
	for (uint32_t p = 0; p < v->parts; p++) {
		v->length[p] = npmu__get_u64(c);
		v->csum[p] = npmu__get_u64(c);
	}
	return c->ok ? 0 : NPMU_E_CORRUPT;
}

/* npmu__ds_decode -- parse and check a catalog. */
int npmu__ds_decode(const void *buf, uint64_t len, struct npmu__ds_catalog *cat)
{
	memset(cat, 0, sizeof(*cat));
	if (len < NPMU_DS_HEAD + 8 || len > NPMU_DS_CATALOG_MAX)
		return NPMU_E_CORRUPT;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (uint8_t *)buf + len - 8, 8);
	if (npmu__get_u64(&c) != npmu__csum(buf, len - 8))
		return NPMU_E_CORRUPT;
	npmu__cursor_init(&c, (void *)buf, len - 8);
	uint32_t magic = npmu__get_u32(&c);
	uint16_t fmt = npmu__get_u16(&c);
	cat->flags = npmu__get_u16(&c);
	cat->k = npmu__get_u32(&c);
	cat->m = npmu__get_u32(&c);
	cat->n = npmu__get_u32(&c);
	uint32_t mirror = npmu__get_u32(&c);
	cat->mirror = mirror != 0;
	cat->seg_size = npmu__get_u64(&c);
	cat->capacity = npmu__get_u64(&c);
	cat->keep = npmu__get_u32(&c);
	cat->pins = npmu__get_u32(&c);
	cat->nversions = npmu__get_u32(&c);
	uint32_t zero = npmu__get_u32(&c);
	if (!c.ok || magic != CATALOG_MAGIC)
		return NPMU_E_CORRUPT;
	if (fmt != NPMU_DS_FORMAT && fmt != NPMU_DS_FORMAT_STAGED)
		return fmt > NPMU_DS_FORMAT_STAGED ? NPMU_E_VERSION : NPMU_E_CORRUPT;
	uint32_t flags_ok = NPMU_DS_VERSION_PINNED |
			    (fmt == NPMU_DS_FORMAT_STAGED ? NPMU_DS_VERSION_STAGED : 0);
	if (zero || mirror > 1 || !shape_ok(cat))
		return NPMU_E_CORRUPT;
	uint32_t count = cat->nversions;
	cat->nversions = 0;
	for (uint32_t i = 0; i < count; i++) {
		cat->nversions = i + 1; /* freed by npmu__ds_free whatever happens next */
		int rc = decode_version(&c, &cat->v[i], i ? cat->v[i - 1].version : 0, flags_ok);
		if (rc != 0) {
			npmu__ds_free(cat);
			return rc;
		}
	}
	if (c.pos != c.len) {
		npmu__ds_free(cat);
		return NPMU_E_CORRUPT; /* bytes after the last version */
	}
	return 0;
}

/* npmu__ds_free -- free the versions' arrays. */
void npmu__ds_free(struct npmu__ds_catalog *cat)
{
	for (uint32_t i = 0; i < cat->nversions; i++) {
		free(cat->v[i].length);
		free(cat->v[i].csum);
		cat->v[i].length = cat->v[i].csum = NULL;
	}
	cat->nversions = 0;
}

/* npmu__ds_find -- the listed version `version`, or NULL. */
const struct npmu__ds_version *npmu__ds_find(const struct npmu__ds_catalog *cat, uint64_t version)
{
	for (uint32_t i = 0; i < cat->nversions; i++)
		if (cat->v[i].version == version)
			return &cat->v[i];
	return NULL;
}

/* npmu__ds_prune -- keep the newest `keep` versions and the pinned ones (D2). */
void npmu__ds_prune(struct npmu__ds_catalog *cat)
{
	uint32_t kept = 0, out = 0;
	for (uint32_t i = 0; i < cat->nversions; i++) {
		struct npmu__ds_version *v = &cat->v[i];
		if (kept < cat->keep || v->pinned) {
			kept += kept < cat->keep;
			cat->v[out++] = *v;
			continue;
		}
		free(v->length);
		free(v->csum);
	}
	cat->nversions = out;
}

/* npmu__ds_drop -- unlist one version. */
bool npmu__ds_drop(struct npmu__ds_catalog *cat, uint64_t version)
{
	for (uint32_t i = 0; i < cat->nversions; i++) {
		if (cat->v[i].version != version)
			continue;
		free(cat->v[i].length);
		free(cat->v[i].csum);
		memmove(&cat->v[i], &cat->v[i + 1], (cat->nversions - i - 1) * sizeof(cat->v[0]));
		cat->nversions--;
		return true;
	}
	return false;
}

/* npmu__ds_add -- a new newest version, then the keeping rule. */
int npmu__ds_add(struct npmu__ds_catalog *cat, struct npmu__ds_version *v)
{
	if (cat->nversions && v->version <= cat->v[0].version)
		return NPMU_E_INVAL;
	if (cat->nversions > NPMU_DS_VERSIONS_MAX)
		return NPMU_E_INTERNAL;
	memmove(&cat->v[1], &cat->v[0], cat->nversions * sizeof(cat->v[0]));
	cat->v[0] = *v;
	cat->nversions++;
	npmu__ds_prune(cat);
	return 0;
}
