/* credentials.h -- the manager's principals, their keys, and what each may do to which regions. */
#ifndef NPMU_CREDENTIALS_H
#define NPMU_CREDENTIALS_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"

/*
 * A credentials file, one statement per line ('#' starts a comment):
 *
 *   principal NAME KEY          NAME: [A-Za-z0-9._@-]{1,63}; KEY: 64 hex digits
 *   principal NAME file PATH    the key read from a key file written by `npmu keygen`
 *   allow NAME RIGHTS PATTERN   RIGHTS: comma-separated create, read, write;
 *                               PATTERN: a shell glob on region names ("ckpt.*")
 *
 * A region's creator owns it and may read, write, grow and delete it. Others may open it for
 * reading (and stat and list it) when granted `read`, for reading and writing when granted
 * `write`, and may create regions whose names match a `create` grant. Nothing else is allowed.
 * The file must not be readable by group or others.
 */

#define NPMU_RIGHT_CREATE 1u
#define NPMU_RIGHT_READ 2u
#define NPMU_RIGHT_WRITE 4u

struct npmu__principal {
	char name[NPMU_ID_MAX + 1];
	uint8_t key[NPMU_KEY_LEN];
};

struct npmu__grant {
	uint32_t principal; /* index into principals */
	uint32_t rights;
	char pattern[64];
};

struct npmu__credentials {
	uint32_t nprincipals, ngrants;
	struct npmu__principal *principals;
	struct npmu__grant *grants;
};

/*
 * npmu__credentials_load -- parse a credentials file. On error returns NPMU_E_INVAL (and
 * writes "line N: what" into err) or the error of reading a key file.
 */
int npmu__credentials_load(const char *path, struct npmu__credentials *cr, char *err, size_t errlen);

/* npmu__credentials_parse -- parse credentials text (what _load does after reading the file). */
int npmu__credentials_parse(char *text, struct npmu__credentials *cr, char *err, size_t errlen);

/* npmu__credentials_free -- free and wipe the keys. */
void npmu__credentials_free(struct npmu__credentials *cr);

/* npmu__credentials_find -- the principal named name, or NULL. */
const struct npmu__principal *npmu__credentials_find(const struct npmu__credentials *cr,
						     const char *name);

/* npmu__credentials_rights -- what principal `who` may do to region `region` owned by `owner`. */
uint32_t npmu__credentials_rights(const struct npmu__credentials *cr, const char *who,
				  const char *region, const char *owner);

#endif
