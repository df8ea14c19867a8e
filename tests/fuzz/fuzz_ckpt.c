/* fuzz_ckpt.c -- the checkpoint stream's on-media decoders: header, commit record, update
 * record (with skip records), as a backup meets them in a region it does not trust. */
#include <string.h>

#include "ckpt_format.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hbuf[56] = {0}, rbuf[NPMU_CKPT_REC] = {0};
	memcpy(hbuf, data, size < sizeof(hbuf) ? size : sizeof(hbuf));
	struct npmu__ckpt_hdr h;
	if (npmu__ckpt_hdr_decode(hbuf, &h) == 0) {
		(void)npmu__ckpt_slot_off(&h, h.nslots ? h.nslots - 1 : 0);
		(void)npmu__ckpt_log_off(&h);
		(void)npmu__ckpt_region_size(&h);
	}
	memcpy(rbuf, data, size < sizeof(rbuf) ? size : sizeof(rbuf));
	struct npmu__ckpt_rec r;
	(void)npmu__ckpt_rec_decode(rbuf, &r);
	if (size >= 17) { /* lpos, seq and max epoch from the input's first bytes */
		uint64_t lpos, seq;
		memcpy(&lpos, data, 8);
		memcpy(&seq, data + 8, 8);
		struct npmu__ckpt_upd u;
		if (npmu__ckpt_upd_check(data + 17, size - 17, lpos % 4096, seq % 8, data[16], &u) == 0 &&
		    npmu__ckpt_upd_size(u.len) > size - 17)
			__builtin_trap(); /* a valid update lies inside the bytes given */
	}
	return 0;
}
