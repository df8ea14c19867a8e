/* stage_format.c -- the validating codecs of a staging region's header and slot records. */
#include "stage_format.h"

#include <string.h>

#include "codec.h"
#include "csum.h"
#include "ec.h"
#include "npmu.h"
#include "stripe_format.h"

#define HDR_MAGIC 0x4753504eu /* "NPSG" */
#define REC_MAGIC 0x5253504eu /* "NPSR" */

/* npmu__stage_region_size -- header page, then the slots. */
uint64_t npmu__stage_region_size(const struct npmu__stage_hdr *h)
{
	return npmu__stage_data_off(h, h->slots);
}

/* npmu__stage_data_off -- after the header page, slot after slot. */
uint64_t npmu__stage_data_off(const struct npmu__stage_hdr *h, uint32_t s)
{
	return NPMU_STAGE_HDR + (uint64_t)s * h->slot_size;
}

/* npmu__stage_hdr_encode -- the header. */
void npmu__stage_hdr_encode(const struct npmu__stage_hdr *h, uint8_t out[NPMU_STAGE_HDR_LEN])
{
	struct npmu__cursor c;
	memset(out, 0, NPMU_STAGE_HDR_LEN);
	npmu__cursor_init(&c, out, NPMU_STAGE_HDR_LEN);
	npmu__put_u32(&c, HDR_MAGIC);
	npmu__put_u16(&c, NPMU_STAGE_FORMAT);
	npmu__put_u16(&c, (uint16_t)h->flags);
	npmu__put_u32(&c, h->slots);
	npmu__put_u32(&c, h->durability);
	npmu__put_u64(&c, h->slot_size);
	npmu__put_u32(&c, h->k);
	npmu__put_u32(&c, h->m);
	npmu__put_u32(&c, h->n);
	npmu__put_u32(&c, h->keep);
	npmu__put_u64(&c, h->seg_size);
	npmu__put_u64(&c, h->capacity);
	npmu__put_u32(&c, h->mirror);
	npmu__put_u64(&c, npmu__csum(out, c.pos));
}

/* npmu__stage_hdr_decode -- check and read the header: every field in the bounds a put takes. */
int npmu__stage_hdr_decode(const uint8_t in[NPMU_STAGE_HDR_LEN], struct npmu__stage_hdr *h)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)in, NPMU_STAGE_HDR_LEN);
	uint32_t magic = npmu__get_u32(&c);
	uint16_t fmt = npmu__get_u16(&c);
	h->flags = npmu__get_u16(&c);
	h->slots = npmu__get_u32(&c);
	h->durability = npmu__get_u32(&c);
	h->slot_size = npmu__get_u64(&c);
	h->k = npmu__get_u32(&c);
	h->m = npmu__get_u32(&c);
	h->n = npmu__get_u32(&c);
	h->keep = npmu__get_u32(&c);
	h->seg_size = npmu__get_u64(&c);
	h->capacity = npmu__get_u64(&c);
	h->mirror = npmu__get_u32(&c);
	size_t body = c.pos;
	uint64_t csum = npmu__get_u64(&c);
	if (!c.ok || magic != HDR_MAGIC || (h->flags & ~NPMU_STAGE_DATASET_PART) ||
	    csum != npmu__csum(in, body))
		return NPMU_E_CORRUPT;
	if (fmt != NPMU_STAGE_FORMAT)
		return NPMU_E_VERSION;
	struct npmu__stripe_layout l;
	if (h->slots < 1 || h->slots > NPMU_STAGE_SLOTS_MAX || h->slot_size % 4096 != 0 ||
	    h->slot_size == 0 || h->slot_size > (UINT64_MAX - NPMU_STAGE_HDR) / h->slots ||
	    h->durability > NPMU_PERSISTENT || h->mirror > 1 || h->keep < 2 ||
	    h->keep > NPMU_STRIPE_KEEP_MAX || h->capacity > h->slot_size ||
	    npmu__stripe_layout_init(h->k, h->m, h->n, h->seg_size, 0, &l) != 0)
		return NPMU_E_CORRUPT;
	return 0;
}

/* npmu__stage_rec_encode -- a slot record. */
void npmu__stage_rec_encode(const struct npmu__stage_rec *r, uint8_t out[64])
{
	struct npmu__cursor c;
	memset(out, 0, 64);
	npmu__cursor_init(&c, out, 64);
	npmu__put_u32(&c, REC_MAGIC);
	npmu__put_u16(&c, NPMU_STAGE_FORMAT);
	npmu__put_u16(&c, 0);
	npmu__put_u32(&c, r->slot);
	npmu__put_u32(&c, 0);
	npmu__put_u64(&c, r->version);
	npmu__put_u64(&c, r->length);
	npmu__put_u64(&c, r->length_csum);
	npmu__put_u64(&c, r->staged_ms);
	npmu__put_u64(&c, npmu__csum(out, c.pos));
}

/* npmu__stage_rec_decode -- check and read slot record `slot` of a region of header h. */
int npmu__stage_rec_decode(const uint8_t in[64], const struct npmu__stage_hdr *h, uint32_t slot,
			   struct npmu__stage_rec *r)
{
	static const uint8_t zeros[64];
	if (memcmp(in, zeros, sizeof(zeros)) == 0)
		return NPMU_E_NOENT;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)in, 64);
	uint32_t magic = npmu__get_u32(&c);
	uint16_t fmt = npmu__get_u16(&c), zero = npmu__get_u16(&c);
	r->slot = npmu__get_u32(&c);
	uint32_t zero2 = npmu__get_u32(&c);
	r->version = npmu__get_u64(&c);
	r->length = npmu__get_u64(&c);
	r->length_csum = npmu__get_u64(&c);
	r->staged_ms = npmu__get_u64(&c);
	size_t body = c.pos;
	uint64_t csum = npmu__get_u64(&c);
	if (magic != REC_MAGIC || zero != 0 || zero2 != 0 || csum != npmu__csum(in, body))
		return NPMU_E_CORRUPT;
	if (fmt != NPMU_STAGE_FORMAT)
		return NPMU_E_VERSION;
	if (r->slot != slot || r->version == 0 || r->length > h->slot_size)
		return NPMU_E_CORRUPT;
	return 0;
}
