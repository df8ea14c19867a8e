/* size.c -- human-readable sizes: parsing "4G" and printing "1.5 MiB". */
#include "size.h"

#include "npmu.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * npmu__size_parse -- parse a byte count, in exactly the forms the documentation gives: decimal
 * digits (no leading zeros: "010" is refused, not read as 10 or 8), an optional fraction
 * (".5"), and an optional binary unit K, M, G or T (either case), optionally followed by "iB"
 * or "B"; or a plain "B". Spaces around it are allowed. Hex, exponents, signs and fractions of
 * a byte are refused.
 */
int npmu__size_parse(const char *text, uint64_t *bytes)
{
	if (!text || !bytes)
		return NPMU_E_INVAL;
	const char *p = text;
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
		return NPMU_E_INVAL;
	uint64_t whole = 0, frac = 0, scale = 1;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return NPMU_E_INVAL;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return NPMU_E_INVAL;
		for (; isdigit((unsigned char)*p); p++) {
			if (scale > UINT64_MAX / 100)
				return NPMU_E_INVAL; /* more digits than any size needs */
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	}
	unsigned shift = 0;
	switch (*p) {
	case 'K': case 'k': shift = 10; p++; break;
	case 'M': case 'm': shift = 20; p++; break;
	case 'G': case 'g': shift = 30; p++; break;
	case 'T': case 't': shift = 40; p++; break;
	default: break;
	}
	if (shift && (*p == 'i' || *p == 'I')) {
		p++;
		if (*p != 'B' && *p != 'b')
			return NPMU_E_INVAL; /* "Ki" alone is not a unit */
	}
	if (*p == 'B' || *p == 'b')
		p++;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		return NPMU_E_INVAL;
	uint64_t mult = 1ull << shift;
	if (whole > UINT64_MAX >> shift)
		return NPMU_E_INVAL;
	/* the fraction in bytes: frac/scale of mult, which must come out whole */
	unsigned __int128 fb = (unsigned __int128)frac * mult;
	if (fb % scale != 0)
		return NPMU_E_INVAL; /* not a whole number of bytes */
	unsigned __int128 total = (unsigned __int128)whole * mult + fb / scale;
	if (total > UINT64_MAX)
		return NPMU_E_INVAL;
	*bytes = (uint64_t)total;
	return 0;
}

/* npmu__size_format -- format bytes with the largest binary unit that keeps the number >= 1. */
char *npmu__size_format(uint64_t bytes, char *buf, size_t buflen)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024.0 && u < 5) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, buflen, "%llu B", (unsigned long long)bytes);
	else if (v == floor(v))
		snprintf(buf, buflen, "%.0f %s", v, units[u]);
	else
		snprintf(buf, buflen, "%.1f %s", v, units[u]);
	return buf;
}
