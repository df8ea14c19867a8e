/* csum.c -- CRC-64 checksums joined without reading the bytes again (GF(2) shift operators). */
#include "csum.h"

#include <string.h>

#define CRC64_ECMA_REFLECTED 0xc96c5795d7870f42ull /* the polynomial crc64_ecma_refl uses */

/* times -- the operator m applied to the 64-bit register v. */
static uint64_t times(const uint64_t m[64], uint64_t v)
{
	uint64_t sum = 0;
	for (int i = 0; v; i++, v >>= 1)
		if (v & 1)
			sum ^= m[i];
	return sum;
}

/* compose -- out = a after b (out may not be a or b). */
static void compose(uint64_t out[64], const uint64_t a[64], const uint64_t b[64])
{
	for (int n = 0; n < 64; n++)
		out[n] = times(a, b[n]);
}

/* npmu__csum_shift_init -- the operator that moves a checksum over len more bytes. */
void npmu__csum_shift_init(struct npmu__csum_shift *s, uint64_t len)
{
	uint64_t op[64], tmp[64];
	op[0] = CRC64_ECMA_REFLECTED; /* one zero bit into the reflected register */
	for (int n = 1; n < 64; n++)
		op[n] = 1ull << (n - 1);
	for (int bits = 1; bits < 8; bits *= 2) { /* one zero byte */
		compose(tmp, op, op);
		memcpy(op, tmp, sizeof(op));
	}
	for (int n = 0; n < 64; n++)
		s->row[n] = 1ull << n;
	while (len) { /* op is the shift over 2^i bytes; bit i of len applies it */
		if (len & 1) {
			compose(tmp, op, s->row);
			memcpy(s->row, tmp, sizeof(tmp));
		}
		len >>= 1;
		if (len) {
			compose(tmp, op, op);
			memcpy(op, tmp, sizeof(op));
		}
	}
}

/* npmu__csum_concat -- the checksum of A then B, from A's, B's and the shift over B's length. */
uint64_t npmu__csum_concat(const struct npmu__csum_shift *s, uint64_t a, uint64_t b)
{
	return times(s->row, a) ^ b;
}

/* npmu__csum_combine -- the checksum of A then B, from A's, B's and B's length. */
uint64_t npmu__csum_combine(uint64_t a, uint64_t b, uint64_t len_b)
{
	struct npmu__csum_shift s;
	npmu__csum_shift_init(&s, len_b);
	return npmu__csum_concat(&s, a, b);
}
