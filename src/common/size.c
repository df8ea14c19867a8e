/* size.c -- human-readable sizes: parsing "4G" and printing "1.5 MiB". */
#include "npmu.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* npmu_parse_size -- parse a byte count with an optional binary suffix (K, M, G, T, optional "iB"/"B"). */
int npmu_parse_size(const char *text, uint64_t *bytes)
{
	if (!text || !bytes)
		return NPMU_E_INVAL;
	while (isspace((unsigned char)*text))
		text++;
	if (!isdigit((unsigned char)*text) && *text != '.')
		return NPMU_E_INVAL;
	errno = 0;
	char *end;
	double v = strtod(text, &end);
	if (errno || end == text || !(v >= 0))
		return NPMU_E_INVAL;
	double mult = 1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mult = 1024.0; end++; break;
	case 'M': mult = 1024.0 * 1024; end++; break;
	case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
	case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return NPMU_E_INVAL;
	double r = v * mult;
	if (r >= 18446744073709551615.0 || r != floor(r))
		return NPMU_E_INVAL;
	*bytes = (uint64_t)r;
	return 0;
}

/* npmu_format_size -- format bytes with the largest binary unit that keeps the number >= 1. */
char *npmu_format_size(uint64_t bytes, char *buf, size_t buflen)
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
