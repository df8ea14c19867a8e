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

#endif
