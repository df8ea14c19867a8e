/* mirrors.h -- pmmd's side of mirrored regions: placement on two fault domains, the mirror record
 * kept in both copies (mirror_format.h), fencing every copy, and tidying a unit that comes back. */
#ifndef NPMU_MIRRORS_H
#define NPMU_MIRRORS_H

#include "codec.h"
#include "units.h"

/* npmu__mirror_create -- place a mirrored region on two units of distinct fault domains. */
int npmu__mirror_create(struct npmu__units *us, const struct npmu__request *req, const char *owner,
			struct npmu_region_info *info);

/* npmu__mirror_fence -- close the writers of a mirrored region on every copy (raise: and raise
 * its stream epoch); a copy that cannot be reached is recorded stale on the others. */
int npmu__mirror_fence(struct npmu__units *us, const char *name, bool raise, uint64_t *epoch);

/* npmu__mirrors_unit_back -- unit i answers again: look at each of its mirrored regions (a copy
 * whose region was deleted meanwhile is deleted too; see mirror_format.h). */
void npmu__mirrors_unit_back(struct npmu__units *us, uint32_t i);

/* npmu__mirror_handle -- the unit_ops mirror entry: OPEN, DELETE, RESIZE, REVOKE, MIRROR. */
int npmu__mirror_handle(void *v, uint16_t type, const struct npmu__request *req,
			struct npmu__cursor *reply);

#endif
