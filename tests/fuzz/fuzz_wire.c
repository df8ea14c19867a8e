/* fuzz_wire.c -- every wire decoder: the message header, each request body by type, and the
 * region and access information in replies. Input: u16 type, then the bytes. */
#include <string.h>

#include "codec.h"
#include "fuzz.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct npmu__msg_hdr hdr;
	if (npmu__msg_decode_hdr(data, size, &hdr) == 0 && hdr.body_len > size)
		__builtin_trap(); /* the header decoder must bound the body by the buffer */
	if (size < 2)
		return 0;
	uint16_t type = (uint16_t)(data[0] | data[1] << 8);
	struct npmu__request req;
	memset(&req, 0, sizeof(req));
	if (npmu__req_decode(type, data + 2, size - 2, &req) == 0) {
		if (strnlen(req.name, sizeof(req.name)) == sizeof(req.name) ||
		    strnlen(req.unit, sizeof(req.unit)) == sizeof(req.unit) ||
		    req.rec_len > sizeof(req.rec))
			__builtin_trap(); /* decoded strings are terminated, lengths bounded */
		uint8_t again[NPMU_WIRE_MAX];
		(void)npmu__req_encode(type, &req, again, sizeof(again));
	}
	struct npmu__cursor c;
	npmu__cursor_init(&c, (void *)(data + 2), size - 2);
	struct npmu_region_info info;
	struct npmu__access_info ai;
	npmu__info_get(&c, &info);
	npmu__access_get(&c, &ai);
	char s[64];
	npmu__str_get(&c, s, sizeof(s));
	return 0;
}
