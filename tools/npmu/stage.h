/* stage.h -- npmu stripe's staged puts and what waits on them (stage.c). */
#ifndef NPMU_TOOL_STAGE_H
#define NPMU_TOOL_STAGE_H

#include <stdint.h>

#include "npmu.h"
#include "options.h"

/* stage_state_name -- a version's state in one word. */
const char *stage_state_name(enum npmu_version_state s);

/* stage_put -- stage len bytes as the next version of set NAME and say so; exit status. */
int stage_put(struct npmu_conn *conn, const char *name, const char *path, const void *buf,
	      uint64_t len, const struct npmu_stripe_cfg *sc, const struct npmu_stage_cfg *stc);

/* stage_print_versions -- versions and their states, for people (after stat's layout), or as a
 * JSON array named key when j is not NULL. */
struct out_json;
void stage_print_versions(const struct npmu_version_info *v, size_t n, struct out_json *j,
			  const char *key);

/* The verbs: stripe wait|protect|versions. */
extern const struct opt_cmd stage_wait_cmd, stage_protect_cmd, stage_versions_cmd;
int stage_wait(const struct opt_result *r);
int stage_protect(const struct opt_result *r);
int stage_versions(const struct opt_result *r);

#endif
