/* stripe_ops.h -- what datasets (dataset.c) use of striped sets beyond the public calls. */
#ifndef NPMU_STRIPE_OPS_H
#define NPMU_STRIPE_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "npmu.h"

/* npmu__stripe_members -- which members of set NAME exist (bit i: NAME.sI, as the manager's
 * MEMBERS request says; all bits from a manager too old to answer it) and (staging may be
 * NULL) whether its staging region NAME.stg does (true from a manager too old to say), in one
 * request: nothing is opened, so a missing region costs no refused request. */
int npmu__stripe_members(struct npmu_conn *conn, const char *name, uint64_t *present,
			 bool *staging);

/* npmu__stripe_defaults -- cfg (may be NULL) with every zero field at the default a put takes
 * (capacity stays 0: the first put's length). */
struct npmu_stripe_cfg npmu__stripe_defaults(const struct npmu_stripe_cfg *cfg);

/*
 * How a put chooses its version and slot. A plain npmu_stripe_put writes the set's newest
 * version + 1 into slot version % keep. A dataset's part names its version (the dataset's) and
 * must never overwrite a slot holding a version the dataset still keeps (its complete and
 * pinned versions), so the slot of version v is:
 *   1. the slot where some member holds a valid manifest of v (v put again replaces itself);
 *   2. else a slot where no member holds a valid manifest;
 *   3. else the slot of the oldest version not in keep[] (nor the pending one, keep_pending);
 *   none of these: NPMU_E_LIMIT, nothing written.
 * Readers find a version by its manifest, wherever it lies (the slot it was found in).
 */
struct npmu__stripe_put_opts {
	uint64_t version;                /* 0: the newest + 1 (and slot version % keep) */
	const uint64_t *keep;            /* versions whose slots are never overwritten */
	uint32_t nkeep;
	bool keep_pending;               /* nor that of the newest version the set holds above
					  * pending_above and below `version` (a dataset version
					  * being committed while the next is put) */
	uint64_t pending_above;
	enum npmu_durability durability; /* 0: cfg's (itself 0: NPMU_PERSISTENT). NPMU_PLACED:
					  * data and manifest written, not flushed; a manifest is
					  * still written only once every data write completed */
	bool data_first;                 /* a persistent put makes its data durable on every member
					  * before it writes any manifest (S1's strict order: the
					  * newest manifest is never torn by a crash), at the cost of
					  * a second flush (npmu__stripe_update's records) */
	uint64_t *length_csum;           /* (may be NULL) gets the CRC-64 of the bytes put */
	/* (may be NULL) called once the set's lease is held, before the set is opened or made,
	 * with a copy of these options whose keep, nkeep and pending_above it may set; an error
	 * it returns stops the put, nothing written (a dataset's part reads its catalog there, so
	 * no part of a dataset being deleted is written or made again) */
	int (*under_lease)(struct npmu__stripe_put_opts *o, void *arg);
	void *arg;
	/* (may be NULL) the bytes arrive while the put runs (an encoder reading a staged version
	 * as it encodes it): data_ready(upto) returns 0 once data[0, upto) is there, or the error
	 * that stops the put; it is called before each batch of groups, and with upto = len before
	 * any manifest is written (it checks the whole then: an error leaves nothing committed).
	 * The manifest's length_csum is then expect_csum, not computed from data first. */
	int (*data_ready)(uint64_t upto, void *arg);
	void *ready_arg;
	uint64_t expect_csum;
};

/* npmu__stripe_put -- npmu_stripe_put with the version, slot and durability of o (NULL: as
 * npmu_stripe_put), degraded as it is when units are down. NPMU_E_LIMIT: every slot holds a
 * version of keep[] (nothing written). */
int npmu__stripe_put(struct npmu_conn *conn, const char *name, const void *data, uint64_t len,
		     const struct npmu_stripe_cfg *cfg, const struct npmu__stripe_put_opts *o,
		     npmu_progress_fn progress, void *arg, uint64_t *version);

/*
 * A writer that keeps its set's lease and members open between puts (a dataset's part: the
 * job's process that writes it, version after version), so a put costs its writes, one flush
 * and the manifests. npmu__stripe_writer_put is npmu__stripe_put through *wp: the lease is
 * taken (waiting as a put does) and the set opened or made at the first put, and again after a
 * put that failed or found the lease taken over; members lost are looked for again at the next
 * put. While a writer is open no other process writes, rebuilds or deletes the set (they wait,
 * or get NPMU_E_BUSY). npmu__stripe_writer_close gives the lease back.
 */
struct npmu__stripe_writer;
int npmu__stripe_writer_put(struct npmu__stripe_writer **wp, struct npmu_conn *conn,
			    const char *name, const void *data, uint64_t len,
			    const struct npmu_stripe_cfg *cfg, const struct npmu__stripe_put_opts *o,
			    npmu_progress_fn progress, void *arg, uint64_t *version);
void npmu__stripe_writer_close(struct npmu__stripe_writer **wp);
/* npmu__stripe_writer_claim -- take set NAME's lease for *wp (made at the first call) without
 * putting, waiting up to wait_ms for another writer (0: asked once, NPMU_E_LEASE while another
 * holds it); the puts through *wp that follow hold it (an encoder looks at what to do under the
 * lease before it writes anything). cfg->n (0: k+m): the members of a set not made yet. */
int npmu__stripe_writer_claim(struct npmu__stripe_writer **wp, struct npmu_conn *conn,
			      const char *name, const struct npmu_stripe_cfg *cfg, int wait_ms);

/* A version as its manifest describes it. */
struct npmu__stripe_version {
	uint64_t version, length, length_csum;
	uint32_t members; /* members holding its manifest (fewer than n: degraded, or unreachable) */
};

/* npmu__stripe_find -- version `version` of set NAME from its manifests, without reading data:
 * NPMU_E_NOENT when no member holds it (or the set does not exist). */
int npmu__stripe_find(struct npmu_conn *conn, const char *name, uint64_t version,
		      struct npmu__stripe_version *out);

/*
 * npmu__stripe_read_range -- bytes [off, off + len) of version `version` of set NAME into buf:
 * only the groups holding them are read, from any k good sub-segments of each, and every data
 * sub-segment used (read or decoded) is checked against the manifest's checksum. A version
 * whose manifest's length_csum is not `length_csum` is another write of that version number
 * (one never committed): NPMU_E_CORRUPT. NPMU_E_RANGE beyond the version's length;
 * NPMU_E_NOENT when no member holds the version; NPMU_E_LOST when a group has fewer than k
 * good sub-segments (rep, which may be NULL, names the members lost and counts the decoded).
 */
int npmu__stripe_read_range(struct npmu_conn *conn, const char *name, uint64_t version,
			    uint64_t length_csum, uint64_t off, void *buf, uint64_t len,
			    struct npmu_stripe_report *rep);

/*
 * A reader that keeps a set open between reads (a dataset's parts: their kept versions never
 * move, D2). npmu__stripe_reader_read is npmu__stripe_read_range through *r, opened at the
 * first call; when a read through what it holds fails (a member re-placed, a version it has
 * not seen), it is opened again and the read tried once more. Close with
 * npmu__stripe_reader_close (also on a NULL *r).
 */
struct npmu__stripe_reader;
int npmu__stripe_reader_read(struct npmu__stripe_reader **r, struct npmu_conn *conn,
			     const char *name, uint64_t version, uint64_t length_csum, uint64_t off,
			     void *buf, uint64_t len, struct npmu_stripe_report *rep);
void npmu__stripe_reader_close(struct npmu__stripe_reader **r);

/* npmu__stripe_reader_find -- npmu__stripe_find through *r (opened at the first call): the
 * members' manifests read again; a version they do not hold is looked for once more in the set
 * opened again from pmmd's list of members, unless `quick` and every member answered (a
 * dataset's commit looks in the part's staging first then: D3). */
int npmu__stripe_reader_find(struct npmu__stripe_reader **r, struct npmu_conn *conn, bool quick,
			     const char *name, uint64_t version, struct npmu__stripe_version *out);

/* What the members of a set hold now: the versions whose manifest some member holds, newest
 * first (staged versions are judged by it: src/proto/stage_format.h G4). */
#define NPMU__STRIPE_SEEN_MAX 16
struct npmu__stripe_seen {
	uint32_t n;        /* the set's members */
	uint32_t open;     /* members that answer with a good header */
	uint32_t nversions;
	struct npmu__stripe_version v[NPMU__STRIPE_SEEN_MAX]; /* .members: holders of its manifest */
};

/* npmu__stripe_reader_seen -- what set NAME's members hold, through *r (opened at the first
 * call, and again while some member does not answer, in case its unit is back): NPMU_E_NOENT
 * when the set does not exist. */
int npmu__stripe_reader_seen(struct npmu__stripe_reader **r, struct npmu_conn *conn,
			     const char *name, struct npmu__stripe_seen *out);

/* npmu__stripe_get_set / npmu__stripe_read_set -- npmu_stripe_get and npmu_stripe_read from the
 * set's members alone, its staging region aside (src/lib/stage.c adds it). */
int npmu__stripe_get_set(struct npmu_conn *conn, const char *name, uint64_t version, void **data,
			 uint64_t *len, npmu_progress_fn progress, void *arg,
			 struct npmu_stripe_report *rep);
int npmu__stripe_read_set(struct npmu_conn *conn, const char *name, uint64_t version, void *buf,
			  uint64_t cap, uint64_t *len, npmu_progress_fn progress, void *arg,
			  struct npmu_stripe_report *rep);

/* npmu__stripe_rebuild_0_6 -- npmu_stripe_rebuild of today (src/lib/compat.c keeps the older). */
int npmu__stripe_rebuild_0_6(struct npmu_conn *conn, const char *name, npmu_progress_fn progress,
			     void *arg, struct npmu_stripe_report *rep);

/*
 * npmu__stripe_get_newest -- npmu_stripe_get of the newest version, with no fall back: when it
 * cannot be restored, the error (NPMU_E_LOST, NPMU_E_CORRUPT; rep says which members), never an
 * older version in its place (a dataset's older catalog lists versions no longer kept).
 */
int npmu__stripe_get_newest(struct npmu_conn *conn, const char *name, void **data, uint64_t *len,
			    struct npmu_stripe_report *rep);

/*
 * npmu__stripe_reader_newest -- npmu__stripe_get_newest through a reader kept open (a dataset's
 * catalog, read at every put): its members' manifests read again; when they do not all hold
 * the newest version, or it cannot be restored through them, the set is opened again from
 * pmmd's list of members and that answer is the answer. Close with npmu__stripe_reader_close.
 */
int npmu__stripe_reader_newest(struct npmu__stripe_reader **r, struct npmu_conn *conn,
			       const char *name, void **data, uint64_t *len,
			       struct npmu_stripe_report *rep);

/*
 * npmu__stripe_update -- read-modify-write of a small set under its lease: with the lease held
 * (waiting as a put does), the newest version's bytes (NULL, 0 when the set has none) are given
 * to fn, which returns 0 with *out (malloc'd, freed here) and *out_len to put as the next
 * version (created from cfg when new), 1 to change nothing, or a negative error returned as is.
 * wait_ms < 0: as a put waits; 0: NPMU_E_BUSY at once when another holds the lease. A newest
 * version that cannot be restored is an error (nothing is put over it).
 */
typedef int (*npmu__stripe_update_fn)(const void *cur, uint64_t cur_len, void **out,
				      uint64_t *out_len, void *arg);
int npmu__stripe_update(struct npmu_conn *conn, const char *name, const struct npmu_stripe_cfg *cfg,
			int wait_ms, npmu__stripe_update_fn fn, void *arg);

#endif
