/* catalog.c -- a dataset's catalog as the library reads it (see catalog.h; the format:
 * src/proto/dataset_format.h). */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"

/* npmu__ds_part_name -- "NAME.pP". */
void npmu__ds_part_name(const char *name, uint32_t p, char out[NPMU_NAME_MAX + 1])
{
	snprintf(out, NPMU_NAME_MAX + 1, "%.*s.p%u", NPMU_DATASET_NAME_MAX, name,
		 (unsigned)(uint16_t)p);
}

/* npmu__ds_catalog_name -- "NAME.ds". */
void npmu__ds_catalog_name(const char *name, char out[NPMU_NAME_MAX + 1])
{
	snprintf(out, NPMU_NAME_MAX + 1, "%.*s.ds", NPMU_DATASET_NAME_MAX, name);
}

/* npmu__ds_of_part -- split "NAME.pP". */
bool npmu__ds_of_part(const char *set, char out[NPMU_DATASET_NAME_MAX + 1], uint32_t *part)
{
	const char *dot = strrchr(set, '.');
	if (!dot || dot == set || dot[1] != 'p' || dot[2] < '0' || dot[2] > '9' ||
	    (size_t)(dot - set) > NPMU_DATASET_NAME_MAX)
		return false;
	char *end;
	unsigned long p = strtoul(dot + 2, &end, 10);
	if (*end || p >= NPMU_DATASET_PARTS_MAX || (dot[2] == '0' && dot[3]))
		return false;
	memcpy(out, set, (size_t)(dot - set));
	out[dot - set] = '\0';
	*part = (uint32_t)p;
	return true;
}

/* npmu__ds_read_catalog -- the newest catalog, decoded and checked. */
int npmu__ds_read_catalog(struct npmu_conn *conn, const char *name, struct npmu__ds_catalog *cat,
			  struct npmu__stripe_reader **via)
{
	char cname[NPMU_NAME_MAX + 1];
	npmu__ds_catalog_name(name, cname);
	void *buf = NULL;
	uint64_t len = 0;
	struct npmu_stripe_report rep;
	int rc = via ? npmu__stripe_reader_newest(via, conn, cname, &buf, &len, &rep)
		     : npmu__stripe_get_newest(conn, cname, &buf, &len, &rep);
	struct npmu__ds_catalog fresh;
	if (rc == NPMU_E_LOST || rc == NPMU_E_CORRUPT)
		LOG_WARN("dataset %s: the newest version of its catalog %s cannot be read (%s): %s",
			 name, cname, npmu_strerror(rc), rep.which);
	if (rc == 0 && (rc = npmu__ds_decode(buf, len, &fresh)) != 0)
		LOG_WARN("dataset %s: its catalog %s is not a dataset catalog (%s)", name, cname,
			 npmu_strerror(rc));
	free(buf);
	if (rc != 0)
		return rc;
	npmu__ds_free(cat);
	*cat = fresh;
	if (cat->flags & NPMU_DS_FLAG_DELETING) {
		LOG_WARN("dataset %s is being deleted", name);
		return NPMU_E_NOENT;
	}
	return 0;
}

/* npmu__ds_keep_listed -- the listed versions, and the pending one above them. */
void npmu__ds_keep_listed(const struct npmu__ds_catalog *cat, struct npmu__stripe_put_opts *o,
			  uint64_t keep[NPMU_DS_VERSIONS_MAX])
{
	uint32_t n = cat->nversions < NPMU_DS_VERSIONS_MAX ? cat->nversions : NPMU_DS_VERSIONS_MAX;
	for (uint32_t i = 0; i < n; i++)
		keep[i] = cat->v[i].version;
	o->keep = keep;
	o->nkeep = n;
	o->keep_pending = true;
	o->pending_above = n ? cat->v[0].version : 0;
}

/* npmu__ds_guard -- an encoder's check of the part's dataset under the part's lease. */
int npmu__ds_guard(struct npmu__stripe_put_opts *o, void *arg)
{
	struct npmu__ds_guard *g = arg;
	struct npmu__ds_catalog cat;
	memset(&cat, 0, sizeof(cat));
	int rc = npmu__ds_read_catalog(g->conn, g->dataset, &cat, NULL);
	if (rc == 0)
		npmu__ds_keep_listed(&cat, o, g->keep);
	else
		LOG_WARN("dataset %s: its catalog cannot be read (%s): a staged part is not "
			 "protected without it", g->dataset, npmu_strerror(rc));
	npmu__ds_free(&cat);
	return rc;
}
