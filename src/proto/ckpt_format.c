/* ckpt_format.c -- encoders and validating decoders of the checkpoint stream format (see ckpt_format.h). */
#include "ckpt_format.h"

#include <string.h>

#include "codec.h"
#include "csum.h"
#include "npmu.h"

/* npmu__ckpt_slot_bytes -- bytes one state slot takes. */
uint64_t npmu__ckpt_slot_bytes(uint64_t state_size)
{
	return (state_size + 4095) & ~4095ull;
}

/* npmu__ckpt_slot_off -- region offset of slot i. */
uint64_t npmu__ckpt_slot_off(const struct npmu__ckpt_hdr *h, uint32_t i)
{
	return NPMU_CKPT_HDR + (uint64_t)i * npmu__ckpt_slot_bytes(h->state_size);
}

/* npmu__ckpt_log_off -- region offset of the log. */
uint64_t npmu__ckpt_log_off(const struct npmu__ckpt_hdr *h)
{
	return npmu__ckpt_slot_off(h, h->nslots);
}

/* npmu__ckpt_region_size -- the region size a stream of this shape needs. */
uint64_t npmu__ckpt_region_size(const struct npmu__ckpt_hdr *h)
{
	return npmu__ckpt_log_off(h) + h->log_size;
}

/* hdr_csum -- checksum of the header without its epoch word. */
static uint64_t hdr_csum(const uint8_t b[56])
{
	return npmu__csum_more(npmu__csum(b, 16), b + 24, 24);
}

/* npmu__ckpt_hdr_encode -- the 56 header bytes. */
void npmu__ckpt_hdr_encode(const struct npmu__ckpt_hdr *h, uint8_t out[56])
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, out, 56);
	npmu__put_bytes(&c, NPMU_CKPT_MAGIC, 8);
	npmu__put_u32(&c, NPMU_CKPT_VERSION);
	npmu__put_u32(&c, h->mode);
	npmu__put_u64(&c, h->epoch);
	npmu__put_u64(&c, h->state_size);
	npmu__put_u64(&c, h->log_size);
	npmu__put_u32(&c, h->nslots);
	npmu__put_u32(&c, 0);
	npmu__put_u64(&c, hdr_csum(out));
}

/* npmu__ckpt_hdr_decode -- check and decode a header. */
int npmu__ckpt_hdr_decode(const uint8_t in[56], struct npmu__ckpt_hdr *h)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)in, 56);
	char magic[8];
	npmu__get_bytes(&c, magic, 8);
	uint32_t version = npmu__get_u32(&c);
	h->mode = npmu__get_u32(&c);
	h->epoch = npmu__get_u64(&c);
	h->state_size = npmu__get_u64(&c);
	h->log_size = npmu__get_u64(&c);
	h->nslots = npmu__get_u32(&c);
	uint32_t zero = npmu__get_u32(&c);
	uint64_t csum = npmu__get_u64(&c);
	if (memcmp(magic, NPMU_CKPT_MAGIC, 8) != 0 || csum != hdr_csum(in))
		return NPMU_E_CORRUPT;
	if (version != NPMU_CKPT_VERSION)
		return NPMU_E_VERSION;
	bool append = h->mode == NPMU_CKPT_APPEND;
	if (zero != 0 || (h->mode != NPMU_CKPT_OVERWRITE && !append) || h->state_size == 0 ||
	    h->state_size > (1ull << 40) || h->nslots < 2 || h->nslots > NPMU_CKPT_SLOTS_MAX ||
	    (append && (h->nslots != 2 || h->log_size < 4096 || h->log_size % 8)) ||
	    (!append && h->log_size != 0) || h->log_size > (1ull << 40))
		return NPMU_E_CORRUPT;
	return 0;
}

/* npmu__ckpt_rec_encode -- a 64-byte record with its checksum. */
void npmu__ckpt_rec_encode(const struct npmu__ckpt_rec *r, uint8_t out[NPMU_CKPT_REC])
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, out, NPMU_CKPT_REC);
	npmu__put_u64(&c, r->seq);
	npmu__put_u64(&c, r->epoch);
	npmu__put_u64(&c, r->length);
	npmu__put_u64(&c, r->data_csum);
	npmu__put_u64(&c, r->upto);
	npmu__put_u64(&c, r->lpos);
	npmu__put_u64(&c, 0);
	npmu__put_u64(&c, npmu__csum(out, 56));
}

/* npmu__ckpt_rec_decode -- a 64-byte record; NPMU_E_CORRUPT when torn or never written. */
int npmu__ckpt_rec_decode(const uint8_t in[NPMU_CKPT_REC], struct npmu__ckpt_rec *r)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)in, NPMU_CKPT_REC);
	r->seq = npmu__get_u64(&c);
	r->epoch = npmu__get_u64(&c);
	r->length = npmu__get_u64(&c);
	r->data_csum = npmu__get_u64(&c);
	r->upto = npmu__get_u64(&c);
	r->lpos = npmu__get_u64(&c);
	uint64_t zero = npmu__get_u64(&c);
	uint64_t csum = npmu__get_u64(&c);
	if (zero != 0 || csum != npmu__csum(in, 56) || r->seq == 0)
		return NPMU_E_CORRUPT;
	return 0;
}

/* npmu__ckpt_upd_size -- bytes an update of len payload bytes takes in the log. */
uint64_t npmu__ckpt_upd_size(uint32_t len)
{
	return NPMU_CKPT_UPD_HDR + (((uint64_t)len + 7) & ~7ull);
}

/* upd_csum -- checksum of a record's first 40 bytes and its payload. */
static uint64_t upd_csum(const uint8_t *rec, const uint8_t *payload, uint32_t len)
{
	return npmu__csum_more(npmu__csum(rec, 40), payload, len);
}

/* npmu__ckpt_upd_encode -- header + payload + padding. */
void npmu__ckpt_upd_encode(struct npmu__ckpt_upd *u, const void *payload, uint8_t *out)
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, out, NPMU_CKPT_UPD_HDR);
	npmu__put_u32(&c, NPMU_CKPT_UPD_MAGIC);
	npmu__put_u32(&c, u->len);
	npmu__put_u64(&c, u->seq);
	npmu__put_u64(&c, u->epoch);
	npmu__put_u64(&c, u->offset);
	npmu__put_u64(&c, u->lpos);
	memcpy(out + NPMU_CKPT_UPD_HDR, payload, u->len);
	memset(out + NPMU_CKPT_UPD_HDR + u->len, 0, npmu__ckpt_upd_size(u->len) - NPMU_CKPT_UPD_HDR - u->len);
	u->csum = upd_csum(out, out + NPMU_CKPT_UPD_HDR, u->len);
	npmu__put_u64(&c, u->csum);
}

/* npmu__ckpt_skip_encode -- a skip record for lpos. */
void npmu__ckpt_skip_encode(uint64_t lpos, uint8_t out[16])
{
	struct npmu__cursor c;
	npmu__cursor_init(&c, out, 16);
	npmu__put_u32(&c, NPMU_CKPT_SKIP_MAGIC);
	npmu__put_u32(&c, 0);
	npmu__put_u64(&c, lpos);
}

/* npmu__ckpt_upd_check -- validate the record expected at lpos with sequence seq. */
int npmu__ckpt_upd_check(const uint8_t *in, size_t avail, uint64_t lpos, uint64_t seq,
			 uint64_t max_epoch, struct npmu__ckpt_upd *u)
{
	if (avail < 16)
		return NPMU_E_CORRUPT;
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)in, avail < NPMU_CKPT_UPD_HDR ? avail : NPMU_CKPT_UPD_HDR);
	uint32_t magic = npmu__get_u32(&c);
	u->len = npmu__get_u32(&c);
	if (magic == NPMU_CKPT_SKIP_MAGIC)
		return u->len == 0 && npmu__get_u64(&c) == lpos ? 1 : NPMU_E_CORRUPT;
	u->seq = npmu__get_u64(&c);
	u->epoch = npmu__get_u64(&c);
	u->offset = npmu__get_u64(&c);
	u->lpos = npmu__get_u64(&c);
	u->csum = npmu__get_u64(&c);
	if (!c.ok || magic != NPMU_CKPT_UPD_MAGIC || u->lpos != lpos || u->seq != seq ||
	    u->epoch > max_epoch || npmu__ckpt_upd_size(u->len) > avail ||
	    u->csum != upd_csum(in, in + NPMU_CKPT_UPD_HDR, u->len))
		return NPMU_E_CORRUPT;
	return 0;
}
