/* compat.c -- entry points kept for programs built against an older npmu.h: they fill the
 * npmu_stripe_report as it was before NPMU_0.6 (no `staged`). */
#include <stddef.h>
#include <string.h>

#include "npmu.h"
#include "stripe_ops.h"

/* (the entry points of today, src/lib/stage.c) */
int npmu__stripe_get_0_6(struct npmu_conn *conn, const char *name, uint64_t version, void **data,
			 uint64_t *len, npmu_progress_fn progress, void *arg,
			 struct npmu_stripe_report *rep);
int npmu__stripe_read_0_6(struct npmu_conn *conn, const char *name, uint64_t version, void *buf,
			  uint64_t cap, uint64_t *len, npmu_progress_fn progress, void *arg,
			  struct npmu_stripe_report *rep);

/* The report's bytes before NPMU_0.6: everything up to `staged`. */
#define REPORT_0_LEN offsetof(struct npmu_stripe_report, staged)

__asm__(".symver npmu__stripe_get_0, npmu_stripe_get@NPMU_0");
__asm__(".symver npmu__stripe_read_0_3, npmu_stripe_read@NPMU_0.3");
__asm__(".symver npmu__stripe_rebuild_0, npmu_stripe_rebuild@NPMU_0");

NPMU_API int npmu__stripe_get_0(struct npmu_conn *conn, const char *name, uint64_t version,
				void **data, uint64_t *len, npmu_progress_fn progress, void *arg,
				void *rep);
NPMU_API int npmu__stripe_read_0_3(struct npmu_conn *conn, const char *name, uint64_t version,
				   void *buf, uint64_t cap, uint64_t *len,
				   npmu_progress_fn progress, void *arg, void *rep);
NPMU_API int npmu__stripe_rebuild_0(struct npmu_conn *conn, const char *name,
				    npmu_progress_fn progress, void *arg, void *rep);

/* give_back -- the old report's bytes of r into the caller's rep (may be NULL). */
static int give_back(int rc, const struct npmu_stripe_report *r, void *rep)
{
	if (rep)
		memcpy(rep, r, REPORT_0_LEN);
	return rc;
}

/* npmu__stripe_get_0 -- npmu_stripe_get@NPMU_0. */
int npmu__stripe_get_0(struct npmu_conn *conn, const char *name, uint64_t version, void **data,
		       uint64_t *len, npmu_progress_fn progress, void *arg, void *rep)
{
	struct npmu_stripe_report r;
	return give_back(npmu__stripe_get_0_6(conn, name, version, data, len, progress, arg, &r), &r,
			 rep);
}

/* npmu__stripe_read_0_3 -- npmu_stripe_read@NPMU_0.3. */
int npmu__stripe_read_0_3(struct npmu_conn *conn, const char *name, uint64_t version, void *buf,
			  uint64_t cap, uint64_t *len, npmu_progress_fn progress, void *arg,
			  void *rep)
{
	struct npmu_stripe_report r;
	return give_back(npmu__stripe_read_0_6(conn, name, version, buf, cap, len, progress, arg, &r),
			 &r, rep);
}

/* npmu__stripe_rebuild_0 -- npmu_stripe_rebuild@NPMU_0. */
int npmu__stripe_rebuild_0(struct npmu_conn *conn, const char *name, npmu_progress_fn progress,
			   void *arg, void *rep)
{
	struct npmu_stripe_report r;
	return give_back(npmu__stripe_rebuild_0_6(conn, name, progress, arg, &r), &r, rep);
}
