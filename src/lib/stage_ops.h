/* stage_ops.h -- what datasets (dataset.c) use of staging (stage.c) beyond the public calls:
 * a part's staged puts under the dataset's version numbers (stage_format.h G5, and
 * dataset_format.h D3). */
#ifndef NPMU_STAGE_OPS_H
#define NPMU_STAGE_OPS_H

#include <stdint.h>

#include "npmu.h"
#include "stripe_ops.h"

/* npmu__stage_open_part -- npmu_stage_open for part set NAME of a dataset: its staging header
 * says so, and its encoder reads the catalog (G5). */
int npmu__stage_open_part(struct npmu_conn *conn, const char *name,
			  const struct npmu_stripe_cfg *set_cfg, const struct npmu_stage_cfg *cfg,
			  struct npmu_stage **st_ptr);

/* npmu__stage_put_as -- stage version `version` (the dataset's number): NPMU_E_EXIST, nothing
 * written, when the set or its staging holds that version or a newer one (a job restarted from
 * an older version), NPMU_E_LIMIT when the staging is full and cfg.full is NPMU_STAGE_SYNC: the
 * caller puts it synchronously then. */
int npmu__stage_put_as(struct npmu_stage *st, uint64_t version, const void *data, uint64_t len);

/* npmu__stage_lookup -- the length and checksum of version `version` in set NAME's staging
 * records: NPMU_E_NOENT when none holds it. */
int npmu__stage_lookup(struct npmu_conn *conn, const char *name, uint64_t version,
		       uint64_t *length, uint64_t *csum);

/* npmu__stage_read_part -- len bytes at offset of staged version `version` whose bytes have
 * checksum csum (the whole copy read and checked first): NPMU_E_NOENT when the staging holds
 * no such version, NPMU_E_CORRUPT when its bytes fail the checksum. */
int npmu__stage_read_part(struct npmu_conn *conn, const char *name, uint64_t version,
			  uint64_t csum, uint64_t offset, void *buf, uint64_t len);

/* npmu__stage_part_state -- PROTECTED (its manifest with csum on every member that answers,
 * or on some while its staging holds no copy waiting: put synchronously, or degraded), STAGED
 * (its staging records it, no member holds it), PARTIAL (both: being protected) or LOST
 * (neither); the members read through *rd (kept open by the caller). */
int npmu__stage_part_state(struct npmu_conn *conn, const char *name, uint64_t version,
			   uint64_t csum, struct npmu__stripe_reader **rd,
			   enum npmu_version_state *state);

#endif
