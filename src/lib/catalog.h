/* catalog.h -- a dataset's catalog as the library reads it: the names of its sets, the newest
 * catalog, and the versions a part's put must not overwrite (used by datasets and encoders). */
#ifndef NPMU_CATALOG_H
#define NPMU_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "dataset_format.h"
#include "npmu.h"
#include "stripe_ops.h"

/* npmu__ds_part_name -- "NAME.pP", the striped set holding part P of dataset NAME. */
void npmu__ds_part_name(const char *name, uint32_t p, char out[NPMU_NAME_MAX + 1]);

/* npmu__ds_catalog_name -- "NAME.ds", the catalog's set. */
void npmu__ds_catalog_name(const char *name, char out[NPMU_NAME_MAX + 1]);

/* npmu__ds_of_part -- the dataset NAME (into out) and P when set is "NAME.pP"; false if not. */
bool npmu__ds_of_part(const char *set, char out[NPMU_DATASET_NAME_MAX + 1], uint32_t *part);

/* npmu__ds_read_catalog -- the newest catalog of dataset NAME into cat (replacing what it
 * held), through the reader *via keeps open (NULL: opened for this read); never an older one,
 * which may list versions whose slots puts have reused since. NPMU_E_NOENT (cat->flags says
 * so) for a dataset being deleted. */
int npmu__ds_read_catalog(struct npmu_conn *conn, const char *name, struct npmu__ds_catalog *cat,
			  struct npmu__stripe_reader **via);

/* npmu__ds_keep_listed -- o (a part's put) keeps every version cat lists and the one being
 * committed (the newest the part holds above them: D2); keep holds the list. */
void npmu__ds_keep_listed(const struct npmu__ds_catalog *cat, struct npmu__stripe_put_opts *o,
			  uint64_t keep[NPMU_DS_VERSIONS_MAX]);

/* What an encoder's put of a dataset's part learns under the part's lease. */
struct npmu__ds_guard {
	struct npmu_conn *conn;
	char dataset[NPMU_DATASET_NAME_MAX + 1];
	uint64_t keep[NPMU_DS_VERSIONS_MAX];
};

/* npmu__ds_guard -- (an under_lease of stripe_ops.h, arg a struct npmu__ds_guard) the part's
 * dataset read: NPMU_E_NOENT when it is gone or being deleted; else o keeps what it lists. */
int npmu__ds_guard(struct npmu__stripe_put_opts *o, void *arg);

#endif
