/* encoder.h -- npmu-encoder's work: find sets with staged versions and protect them. */
#ifndef NPMU_ENCODER_H
#define NPMU_ENCODER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "npmu.h"

/* What an encoder is told (main.c parses it). */
struct npmu__encoder_cfg {
	int interval_ms;          /* how often each staging region is looked at */
	int scan_ms;              /* how often the manager is asked for staging regions */
	const char *const *sets;  /* only these sets (NULL: every set whose staging it may read) */
	int nsets;
	bool once;                /* protect what is staged now, then return */
};

/* Counters of one run, for the log and the exit status. */
struct npmu__encoder_stats {
	uint64_t protected_versions, busy, errors, scans;
};

/*
 * npmu__encoder_run -- until *stop is set (or, cfg->once, until nothing staged is left that
 * another encoder does not hold): every scan_ms, list the staging regions (NAME.stg) the
 * manager shows this principal; every interval_ms, read each one's slot records (one one-sided
 * read) and, when they changed or work was left undone, protect the set (npmu_stripe_protect:
 * the set's lease, taken without waiting, is the claim; a set another encoder holds is tried
 * again at the next interval, so one killed midway is finished once its lease lapses).
 */
int npmu__encoder_run(struct npmu_conn *conn, const struct npmu__encoder_cfg *cfg,
		      volatile sig_atomic_t *stop, struct npmu__encoder_stats *stats);

#endif
