/* stripe_format.c -- layout arithmetic and the validating codecs of member headers and manifests. */
#include "stripe_format.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "csum.h"

#define MEMBER_MAGIC 0x484d504eu   /* "NPMH" */
#define MANIFEST_MAGIC 0x534d504eu /* "NPMS" */

/* npmu__stripe_layout_init -- check the parameters and count the groups. */
int npmu__stripe_layout_init(uint32_t k, uint32_t m, uint32_t n, uint64_t seg_size,
			     uint64_t length, struct npmu__stripe_layout *out)
{
	if (k < 1 || k > NPMU_EC_K_MAX || m < 1 || m > NPMU_EC_M_MAX || n < k + m ||
	    n > NPMU_STRIPE_UNITS_MAX || seg_size < NPMU_STRIPE_SEG_MIN ||
	    seg_size > NPMU_STRIPE_SEG_MAX || seg_size % 64 != 0)
		return NPMU_E_INVAL;
	uint64_t per_group = (uint64_t)k * seg_size;
	uint64_t groups = length == 0 ? 1 : (length + per_group - 1) / per_group;
	if (groups > UINT32_MAX)
		return NPMU_E_TOOBIG;
	*out = (struct npmu__stripe_layout){k, m, n, seg_size, length, (uint32_t)groups};
	return 0;
}

/* npmu__stripe_marea -- a manifest slot: fixed part, units, checksums, rounded to pages. */
uint64_t npmu__stripe_marea(uint32_t n, uint32_t k, uint32_t m, uint32_t ngroups)
{
	uint64_t bytes = 64 + (uint64_t)n * (1 + NPMU_ADDR_STR_MAX) +
			 (uint64_t)ngroups * (k + m) * 8 + 8;
	return (bytes + 4095) & ~4095ull;
}

uint64_t npmu__stripe_manifest_off(const struct npmu__stripe_member *h, uint32_t slot)
{
	return NPMU_STRIPE_HDR + (uint64_t)slot * h->marea;
}

uint64_t npmu__stripe_data_off(const struct npmu__stripe_member *h, uint32_t slot)
{
	return NPMU_STRIPE_HDR + (uint64_t)h->keep * h->marea + (uint64_t)slot * h->dslot;
}

uint64_t npmu__stripe_member_size(const struct npmu__stripe_member *h)
{
	return npmu__stripe_data_off(h, h->keep);
}

/* npmu__stripe_member_encode -- the member header. */
void npmu__stripe_member_encode(const struct npmu__stripe_member *h, uint8_t out[64])
{
	struct npmu__cursor c;
	memset(out, 0, 64);
	npmu__cursor_init(&c, out, 64);
	npmu__put_u32(&c, MEMBER_MAGIC);
	npmu__put_u16(&c, NPMU_STRIPE_FORMAT);
	npmu__put_u16(&c, 0);
	npmu__put_u32(&c, h->index);
	npmu__put_u32(&c, h->n);
	npmu__put_u32(&c, h->keep);
	npmu__put_u32(&c, h->k);
	npmu__put_u32(&c, h->m);
	npmu__put_u64(&c, h->seg_size);
	npmu__put_u64(&c, h->marea);
	npmu__put_u64(&c, h->dslot);
	npmu__put_u64(&c, npmu__csum(out, c.pos));
}

/* npmu__stripe_member_decode -- check and read a member header. */
int npmu__stripe_member_decode(const uint8_t in[64], struct npmu__stripe_member *h)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)in, 64);
	uint32_t magic = npmu__get_u32(&c);
	uint16_t fmt = npmu__get_u16(&c), zero = npmu__get_u16(&c);
	h->index = npmu__get_u32(&c);
	h->n = npmu__get_u32(&c);
	h->keep = npmu__get_u32(&c);
	h->k = npmu__get_u32(&c);
	h->m = npmu__get_u32(&c);
	h->seg_size = npmu__get_u64(&c);
	h->marea = npmu__get_u64(&c);
	h->dslot = npmu__get_u64(&c);
	size_t body = c.pos;
	uint64_t csum = npmu__get_u64(&c);
	if (magic != MEMBER_MAGIC || csum != npmu__csum(in, body))
		return NPMU_E_CORRUPT;
	if (fmt != NPMU_STRIPE_FORMAT)
		return fmt > NPMU_STRIPE_FORMAT ? NPMU_E_VERSION : NPMU_E_CORRUPT;
	struct npmu__stripe_layout l;
	if (zero || npmu__stripe_layout_init(h->k, h->m, h->n, h->seg_size, 0, &l) != 0 ||
	    h->index >= h->n || h->dslot % h->seg_size ||
	    h->keep < 1 || h->keep > NPMU_STRIPE_KEEP_MAX || h->marea % 4096 || h->marea == 0 ||
	    h->dslot % 4096 || h->dslot == 0 || h->marea > (1ull << 32) || h->dslot > (1ull << 44))
		return NPMU_E_CORRUPT;
	return 0;
}

/* npmu__stripe_manifest_len -- the encoded size. */
size_t npmu__stripe_manifest_len(const struct npmu__stripe_manifest *mf)
{
	const struct npmu__stripe_layout *l = &mf->layout;
	size_t n = 4 + 2 + 2 + 4 * 4 + 8 * 4 + 8;
	for (uint32_t i = 0; i < l->n; i++)
		n += 1 + strlen(mf->unit[i]);
	return n + (size_t)l->ngroups * (l->k + l->m) * 8;
}

/* npmu__stripe_manifest_encode -- serialise a manifest with its checksum. */
int64_t npmu__stripe_manifest_encode(const struct npmu__stripe_manifest *mf, uint8_t *buf,
				     size_t buflen)
{
	const struct npmu__stripe_layout *l = &mf->layout;
	struct npmu__cursor c;
	npmu__cursor_init(&c, buf, buflen);
	npmu__put_u32(&c, MANIFEST_MAGIC);
	npmu__put_u16(&c, NPMU_STRIPE_FORMAT);
	npmu__put_u16(&c, 0);
	npmu__put_u32(&c, l->k);
	npmu__put_u32(&c, l->m);
	npmu__put_u32(&c, l->n);
	npmu__put_u32(&c, l->ngroups);
	npmu__put_u64(&c, mf->version);
	npmu__put_u64(&c, l->length);
	npmu__put_u64(&c, l->seg_size);
	npmu__put_u64(&c, mf->length_csum);
	for (uint32_t i = 0; i < l->n; i++)
		npmu__str_put(&c, mf->unit[i]);
	for (uint64_t i = 0; i < (uint64_t)l->ngroups * (l->k + l->m); i++)
		npmu__put_u64(&c, mf->csums[i]);
	if (!c.ok)
		return NPMU_E_TOOBIG;
	npmu__put_u64(&c, npmu__csum(buf, c.pos));
	return c.ok ? (int64_t)c.pos : NPMU_E_TOOBIG;
}

/* npmu__stripe_manifest_decode -- parse and check one manifest slot. */
int npmu__stripe_manifest_decode(const uint8_t *buf, size_t len,
				 struct npmu__stripe_manifest *mf)
{
	memset(mf, 0, sizeof(*mf));
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)buf, len);
	uint32_t magic = npmu__get_u32(&c);
	uint16_t fmt = npmu__get_u16(&c), zero = npmu__get_u16(&c);
	uint32_t k = npmu__get_u32(&c), m = npmu__get_u32(&c), n = npmu__get_u32(&c);
	uint32_t ngroups = npmu__get_u32(&c);
	mf->version = npmu__get_u64(&c);
	uint64_t length = npmu__get_u64(&c), seg = npmu__get_u64(&c);
	mf->length_csum = npmu__get_u64(&c);
	if (!c.ok || magic != MANIFEST_MAGIC)
		return NPMU_E_CORRUPT;
	if (fmt != NPMU_STRIPE_FORMAT)
		return fmt > NPMU_STRIPE_FORMAT ? NPMU_E_VERSION : NPMU_E_CORRUPT;
	struct npmu__stripe_layout l;
	if (zero || npmu__stripe_layout_init(k, m, n, seg, length, &l) != 0 || l.ngroups != ngroups ||
	    mf->version == 0)
		return NPMU_E_CORRUPT;
	mf->layout = l;
	for (uint32_t i = 0; i < n; i++)
		npmu__str_get(&c, mf->unit[i], sizeof(mf->unit[i]));
	uint64_t count = (uint64_t)ngroups * (k + m);
	if (!c.ok || count > (len - c.pos) / 8)
		return NPMU_E_CORRUPT;
	mf->csums = malloc(count * sizeof(*mf->csums));
	if (!mf->csums)
		return NPMU_E_NOMEM;
	for (uint64_t i = 0; i < count; i++)
		mf->csums[i] = npmu__get_u64(&c);
	size_t body = c.pos;
	uint64_t csum = npmu__get_u64(&c);
	if (!c.ok || csum != npmu__csum(buf, body)) {
		npmu__stripe_manifest_free(mf);
		return NPMU_E_CORRUPT;
	}
	return 0;
}

/* npmu__stripe_manifest_free -- free the checksums. */
void npmu__stripe_manifest_free(struct npmu__stripe_manifest *mf)
{
	free(mf->csums);
	mf->csums = NULL;
}
