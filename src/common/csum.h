/* csum.h -- the checksum used on media and on the wire: CRC-64 (ECMA, reflected) from ISA-L. */
#ifndef NPMU_CSUM_H
#define NPMU_CSUM_H

#include <isa-l/crc64.h>
#include <stddef.h>
#include <stdint.h>

/* npmu__csum -- checksum of len bytes at p. */
static inline uint64_t npmu__csum(const void *p, size_t len)
{
	return crc64_ecma_refl(0, (const unsigned char *)p, (uint64_t)len);
}

/* npmu__csum_more -- continue a checksum over more bytes. */
static inline uint64_t npmu__csum_more(uint64_t seed, const void *p, size_t len)
{
	return crc64_ecma_refl(seed, (const unsigned char *)p, (uint64_t)len);
}

/*
 * Joining checksums: npmu__csum(A then B) == npmu__csum_concat(&shift over len(B) bytes,
 * npmu__csum(A), npmu__csum(B)), so a buffer's checksum follows from its pieces' without
 * reading it again (a striped restore checks each sub-segment, then the whole from theirs).
 */
struct npmu__csum_shift {
	uint64_t row[64];
};

/* npmu__csum_shift_init -- the operator that moves a checksum over len more bytes. */
void npmu__csum_shift_init(struct npmu__csum_shift *s, uint64_t len);

/* npmu__csum_concat -- the checksum of A then B, from A's, B's and the shift over B's length. */
uint64_t npmu__csum_concat(const struct npmu__csum_shift *s, uint64_t a, uint64_t b);

/* npmu__csum_combine -- the checksum of A then B, from A's, B's and B's length. */
uint64_t npmu__csum_combine(uint64_t a, uint64_t b, uint64_t len_b);

#endif
