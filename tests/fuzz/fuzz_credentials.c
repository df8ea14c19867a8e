/* fuzz_credentials.c -- the files an operator writes: a credentials file (principals, keys,
 * grants) and a key in hex. */
#include <stdlib.h>
#include <string.h>

#include "credentials.h"
#include "fuzz.h"
#include "log.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	npmu__log_threshold = -1;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	uint8_t key[NPMU_KEY_LEN];
	(void)npmu__key_parse(text, key);
	struct npmu__credentials cr;
	memset(&cr, 0, sizeof(cr));
	char err[128];
	if (npmu__credentials_parse(text, &cr, err, sizeof(err)) == 0) {
		for (uint32_t i = 0; i < cr.ngrants; i++)
			if (cr.grants[i].principal >= cr.nprincipals)
				__builtin_trap(); /* a grant names a known principal */
		for (uint32_t i = 0; i < cr.nprincipals; i++)
			(void)npmu__credentials_find(&cr, cr.principals[i].name);
		npmu__credentials_free(&cr);
	}
	free(text);
	return 0;
}
