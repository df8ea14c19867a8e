/* fuzz_manifest.c -- the metadata other units hand back: a striped set's member header and
 * manifest, a mirrored region's record (alone, and chosen among three copies), a dataset's
 * catalog, and a staging region's header and slot records. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "dataset_format.h"
#include "mirror_format.h"
#include "stage_format.h"
#include "stripe_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mh[64] = {0};
	memcpy(mh, data, size < sizeof(mh) ? size : sizeof(mh));
	struct npmu__stripe_member m;
	if (npmu__stripe_member_decode(mh, &m) == 0) {
		(void)npmu__stripe_member_size(&m);
		(void)npmu__stripe_manifest_off(&m, m.keep ? m.keep - 1 : 0);
		(void)npmu__stripe_data_off(&m, m.keep ? m.keep - 1 : 0);
	}
	struct npmu__stripe_manifest mf;
	if (npmu__stripe_manifest_decode(data, size, &mf) == 0) {
		size_t len = npmu__stripe_manifest_len(&mf);
		if (len > size)
			__builtin_trap(); /* a manifest decoded from size bytes fits in them */
		npmu__stripe_manifest_free(&mf);
	}
	struct npmu__mirror mr;
	(void)npmu__mirror_decode(data, size, &mr);
	size_t third = size / 3;
	const uint8_t *recs[3] = {data, data + third, data + 2 * third};
	size_t lens[3] = {third, third, size - 2 * third};
	struct npmu__mirror_pick pick;
	if (npmu__mirror_choose(recs, lens, 3, &mr, &pick) == 0 && pick.valid == 0)
		__builtin_trap(); /* a winner comes from a valid record */
	struct npmu__ds_catalog cat;
	if (npmu__ds_decode(data, size, &cat) == 0) {
		void *again;
		uint64_t len;
		if (npmu__ds_encode(&cat, &again, &len) != 0 || len != size ||
		    memcmp(again, data, size) != 0)
			__builtin_trap(); /* a catalog that decodes encodes to the same bytes */
		free(again);
		npmu__ds_free(&cat);
	}
	uint8_t sh[NPMU_STAGE_HDR + 0] = {0}; /* a staging region's first page */
	memcpy(sh, data, size < sizeof(sh) ? size : sizeof(sh));
	struct npmu__stage_hdr h;
	if (npmu__stage_hdr_decode(sh, &h) == 0) {
		if (npmu__stage_data_off(&h, h.slots) != npmu__stage_region_size(&h) ||
		    npmu__stage_region_size(&h) < NPMU_STAGE_HDR + h.slot_size)
			__builtin_trap(); /* a valid header's slots lie after the header page */
		for (uint32_t s = 0; s < h.slots; s++) {
			struct npmu__stage_rec r;
			if (npmu__stage_rec_decode(sh + NPMU_STAGE_REC_OFF + s * NPMU_STAGE_REC_LEN, &h,
						   s, &r) == 0 &&
			    (r.length > h.slot_size || r.version == 0 || r.slot != s))
				__builtin_trap(); /* a valid record fits its slot */
		}
	}
	return 0;
}
