/* ec.h -- Reed-Solomon erasure coding of sub-segment groups with ISA-L (k data, m parity). */
#ifndef NPMU_EC_H
#define NPMU_EC_H

#include <stddef.h>
#include <stdint.h>

#define NPMU_EC_K_MAX 32 /* data sub-segments per group */
#define NPMU_EC_M_MAX 16 /* parity sub-segments per group */

/*
 * The code's generator is the identity (k rows: data is stored as is) over m parity rows: a
 * Cauchy matrix (any k of the k+m rows are invertible, so any m losses are repaired), except
 * that m = 1 uses a row of ones (plain XOR parity) and k = 1 uses rows of ones (each parity
 * sub-segment is a copy: the mirrored layout).
 */
struct npmu__ec {
	int k, m;
	uint8_t matrix[(NPMU_EC_K_MAX + NPMU_EC_M_MAX) * NPMU_EC_K_MAX];
	uint8_t tables[32 * NPMU_EC_K_MAX * NPMU_EC_M_MAX];
};

/* npmu__ec_init -- a code of k data and m parity sub-segments; NPMU_E_INVAL out of range. */
int npmu__ec_init(struct npmu__ec *ec, int k, int m);

/* npmu__ec_encode -- compute the m parity sub-segments of len bytes from the k data ones. */
void npmu__ec_encode(const struct npmu__ec *ec, size_t len, uint8_t *const *data,
		     uint8_t *const *parity);

/*
 * npmu__ec_decode -- frag[0..k+m) point at each sub-segment's buffer (data first, then parity);
 * present[i] says which hold good bytes. Rebuilds every missing one in place. Returns 0, or
 * NPMU_E_CORRUPT when fewer than k are present.
 */
int npmu__ec_decode(const struct npmu__ec *ec, size_t len, uint8_t *const *frag,
		    const uint8_t *present);

#endif
