/* ec.c -- encode and repair sub-segment groups with ISA-L's Reed-Solomon routines. */
#include "ec.h"

#include <string.h>

#include <isa-l/erasure_code.h>

#include "npmu.h"

/* npmu__ec_init -- the generator matrix and ISA-L's tables for its parity rows. */
int npmu__ec_init(struct npmu__ec *ec, int k, int m)
{
	if (k < 1 || k > NPMU_EC_K_MAX || m < 1 || m > NPMU_EC_M_MAX)
		return NPMU_E_INVAL;
	memset(ec, 0, sizeof(*ec));
	ec->k = k;
	ec->m = m;
	gf_gen_cauchy1_matrix(ec->matrix, k + m, k);
	if (m == 1 || k == 1) /* XOR parity; copies */
		memset(ec->matrix + k * k, 1, (size_t)(m * k));
	ec_init_tables(k, m, ec->matrix + k * k, ec->tables);
	return 0;
}

/* npmu__ec_encode -- the parity of one group. */
void npmu__ec_encode(const struct npmu__ec *ec, size_t len, uint8_t *const *data,
		     uint8_t *const *parity)
{
	ec_encode_data((int)len, ec->k, ec->m, (unsigned char *)ec->tables, (unsigned char **)data,
		       (unsigned char **)parity);
}

/* npmu__ec_decode -- rebuild the missing sub-segments of one group from any k present ones. */
int npmu__ec_decode(const struct npmu__ec *ec, size_t len, uint8_t *const *frag,
		    const uint8_t *present)
{
	int k = ec->k, n = ec->k + ec->m;
	int src[NPMU_EC_K_MAX], lost[NPMU_EC_K_MAX + NPMU_EC_M_MAX];
	int nsrc = 0, nlost = 0;
	for (int i = 0; i < n; i++) {
		if (present[i] && nsrc < k)
			src[nsrc++] = i;
		else if (!present[i])
			lost[nlost++] = i;
	}
	if (nsrc < k)
		return NPMU_E_CORRUPT;
	if (nlost == 0)
		return 0;
	/* b: the rows of the k sources; its inverse maps sources back to the data */
	uint8_t b[NPMU_EC_K_MAX * NPMU_EC_K_MAX], inv[NPMU_EC_K_MAX * NPMU_EC_K_MAX];
	for (int r = 0; r < k; r++)
		memcpy(b + r * k, ec->matrix + src[r] * k, (size_t)k);
	if (gf_invert_matrix(b, inv, k) != 0)
		return NPMU_E_CORRUPT; /* cannot happen for this code's matrices */
	/* each lost row expressed over the sources: row(lost) x inv */
	uint8_t dec[(NPMU_EC_K_MAX + NPMU_EC_M_MAX) * NPMU_EC_K_MAX];
	for (int l = 0; l < nlost; l++) {
		const uint8_t *row = ec->matrix + lost[l] * k;
		for (int j = 0; j < k; j++) {
			uint8_t s = 0;
			for (int t = 0; t < k; t++)
				s ^= gf_mul(row[t], inv[t * k + j]);
			dec[l * k + j] = s;
		}
	}
	static __thread uint8_t tables[32 * NPMU_EC_K_MAX * (NPMU_EC_K_MAX + NPMU_EC_M_MAX)];
	ec_init_tables(k, nlost, dec, tables);
	uint8_t *in[NPMU_EC_K_MAX], *out[NPMU_EC_K_MAX + NPMU_EC_M_MAX];
	for (int i = 0; i < k; i++)
		in[i] = frag[src[i]];
	for (int l = 0; l < nlost; l++)
		out[l] = frag[lost[l]];
	ec_encode_data((int)len, k, nlost, tables, in, out);
	return 0;
}
