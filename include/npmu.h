/* npmu.h -- the public interface of libnpmu, the network-attached persistent memory client. */
#ifndef NPMU_H
#define NPMU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NPMU_API __attribute__((visibility("default")))

/*
 * How this interface grows (decided before 1.0):
 * - Handles are opaque; a call returns 0 or a count, or a negative NPMU_E_* code, and never
 *   touches its *out argument on failure. Counts are size_t.
 * - Option and configuration structs (npmu_conn_cfg, npmu_region_opts, npmu_ckpt_cfg,
 *   npmu_ckpt_opts, npmu_stripe_cfg) are zero-initialised by the caller; a zero field always
 *   means the default. New fields are only ever added at the end, and a call whose struct grows
 *   gets a new symbol version (src/lib/libnpmu.map), keeping the old entry point, which reads
 *   the old struct: a program built against an older npmu.h keeps working unchanged.
 * - Information structs filled by the library (npmu_*_info) likewise grow at the end under a
 *   new symbol version of the call that fills them.
 * - A changed signature is a new symbol version; the old one stays while the soname is 0.
 * - Region calls come as a plain call and an _ex (or _copy) call with options: create and
 *   create_ex, open and open_copy; nothing else grows a third variant.
 * - The library writes nothing to stdout, logs through npmu_log_set_function (stderr by
 *   default), and reads its environment (NPMU_SERVER, NPMU_PROVIDER, NPMU_CREDENTIALS,
 *   NPMU_LOG, NPMU_IO_TIMEOUT_MS, NPMU_LEASE_MS, NPMU_UNIT_WAIT_MS, NPMU_SET_WAIT_MS) only where
 *   a call's argument leaves a setting at its default. Four environment defaults are set in
 *   the process, each unless already set, at the first connection, before libfabric reads
 *   them: FI_OFI_RXM_BUFFER_SIZE=256, FI_OFI_RXM_EAGER_LIMIT=16384 (rxm's default, kept so
 *   peers without these settings still connect), FI_OFI_RXM_MSG_RX_SIZE=32 and
 *   FI_UNIVERSE_SIZE=16. libfabric 1.17 sizes tcp;ofi_rxm's pools from these alone; they cut
 *   each endpoint's memory from about 36 MiB (87 MiB with no setting) to 2.3 MiB and keep it
 *   from growing over a run. What each costs and why it is safe: src/fabric/fabric.c. A host
 *   that uses libfabric itself and needs other values sets them first.
 */

/*
 * Error codes. Every call returns 0 (or a non-negative count) on success and one of these
 * negative codes on failure; npmu_strerror() turns each into a sentence.
 */
#define NPMU_E_INVAL (-1001)       /* an argument is invalid */
#define NPMU_E_NOMEM (-1002)       /* out of memory */
#define NPMU_E_NOENT (-1003)       /* no region with that name */
#define NPMU_E_EXIST (-1004)       /* a region with that name already exists */
#define NPMU_E_NOSPC (-1005)       /* the pool has no room left */
#define NPMU_E_NAME (-1006)        /* region name empty, too long or with bad characters */
#define NPMU_E_RANGE (-1007)       /* offset or length outside the region */
#define NPMU_E_ACCESS (-1008)      /* the right held does not allow this operation */
#define NPMU_E_KEY (-1009)         /* unknown or revoked access key */
#define NPMU_E_PROTO (-1010)       /* malformed protocol message */
#define NPMU_E_TOOBIG (-1011)      /* message or size over the limit */
#define NPMU_E_CORRUPT (-1012)     /* pool file or stream corrupt, or not of its format */
#define NPMU_E_VERSION (-1013)     /* pool or protocol version not supported */
#define NPMU_E_IO (-1014)          /* I/O or persistence failure on the unit */
#define NPMU_E_FABRIC (-1015)      /* libfabric transport error */
#define NPMU_E_TIMEDOUT (-1016)    /* no answer in time */
#define NPMU_E_UNREACHABLE (-1017) /* the unit cannot be reached */
#define NPMU_E_LIMIT (-1018)       /* too many regions, rights, peers or requests in flight */
#define NPMU_E_SHRINK (-1019)      /* a region can only grow */
#define NPMU_E_INTERNAL (-1020)    /* internal error (a bug: please report) */
#define NPMU_E_BUSY (-1021)        /* in use by another process: a pool, or a set another writer holds */
#define NPMU_E_AUTH (-1022)        /* authentication failed, or a message was replayed or altered */
#define NPMU_E_NOUNIT (-1023)      /* the manager has no unit of that address */
#define NPMU_E_FENCED (-1024)      /* fenced: another process took over the stream */
#define NPMU_E_LEASE (-1025)       /* a stream, set or staging held by a live writer */
#define NPMU_E_LOST (-1026)        /* too many units lost or corrupt to restore this version */
#define NPMU_E_MANAGER (-1027)     /* the manager (pmmd, or a unit's embedded one) does not answer */
#define NPMU_E_CONFIG (-1028)      /* a credentials or key file is missing, exposed or malformed */

/* npmu_strerror -- a static sentence for any code returned by this library. */
NPMU_API const char *npmu_strerror(int err);

/*
 * Logging. The library logs what an operator needs (a unit that stopped answering, a copy gone
 * stale, a lease taken over) as one line at a time, by default to stderr at NPMU_LOG_WARN and
 * above ($NPMU_LOG=error|warn|info|debug changes that until npmu_log_set_level is called).
 */
enum npmu_log_level {
	NPMU_LOG_ERROR = 0,
	NPMU_LOG_WARN = 1,
	NPMU_LOG_INFO = 2,
	NPMU_LOG_DEBUG = 3,
};

/* A log sink: one line (no newline) at level; called from whichever thread logs, so it must be
 * thread-safe, and must not call back into the library. */
typedef void (*npmu_log_fn)(enum npmu_log_level level, const char *line, void *arg);

/* npmu_log_set_function -- send the library's lines to fn with arg (NULL: stderr again). */
NPMU_API void npmu_log_set_function(npmu_log_fn fn, void *arg);

/* npmu_log_set_level -- log lines at level and more severe; overrides $NPMU_LOG from now on. */
NPMU_API void npmu_log_set_level(enum npmu_log_level level);

/* Limits. */
#define NPMU_NAME_MAX 63            /* bytes of a region name: [A-Za-z0-9._-] */
#define NPMU_DEFAULT_PORT 7411      /* npmud's default port */
#define NPMU_DEFAULT_PROVIDER "tcp" /* libfabric provider used when none is asked for */

/* Access rights to a region. */
enum npmu_access {
	NPMU_ACCESS_READ = 1,       /* one-sided reads */
	NPMU_ACCESS_READ_WRITE = 3, /* one-sided reads and writes, persist */
};

/* Durability levels of npmu_region_persist(). */
enum npmu_durability {
	NPMU_PLACED = 1,     /* in the unit's memory: survives the client's and the unit process's death */
	NPMU_PERSISTENT = 2, /* flushed to the persistence domain: survives power loss */
};

/* What a unit says about one region. */
struct npmu_region_info {
	char name[NPMU_NAME_MAX + 1];
	char owner[NPMU_NAME_MAX + 1]; /* the principal that created it ("" without authentication) */
	uint64_t id;       /* unit-wide region id, never reused */
	uint64_t size;     /* bytes */
	uint32_t extents;  /* runs of contiguous pool pages behind the region */
	uint32_t rights;   /* open rights (registrations) */
	uint32_t copies;   /* 1, or 2 for a mirrored region */
};

/* Connection settings; zero or NULL fields take defaults. */
struct npmu_conn_cfg {
	const char *server;   /* "host:port"; NULL: $NPMU_SERVER, else 127.0.0.1:7411 */
	const char *provider; /* libfabric provider; NULL: $NPMU_PROVIDER, else "tcp" */
	int timeout_ms;       /* control request timeout; 0: 10000 */
	const char *credentials; /* client credentials file; NULL: $NPMU_CREDENTIALS, else none.
				  * Two lines, mode 0600: "principal NAME" and "key HEX" (64 hex
				  * digits) or "key-file PATH" (a file written by `npmu keygen`). */
	int io_timeout_ms;    /* mirrored regions: a copy that makes no progress for this long is
			       * given up (reads go to the other, writes go on degraded);
			       * 0: $NPMU_IO_TIMEOUT_MS, else 1000 */
};

struct npmu_conn;   /* a connection to a unit's manager */
struct npmu_region; /* an open right to a region */

/*
 * npmu_conn_new -- connect to the manager at cfg->server.
 * On success *conn_ptr owns the connection; on failure it is untouched.
 * Errors: NPMU_E_INVAL, NPMU_E_NOMEM, NPMU_E_FABRIC, NPMU_E_UNREACHABLE, NPMU_E_TIMEDOUT.
 */
NPMU_API int npmu_conn_new(const struct npmu_conn_cfg *cfg, struct npmu_conn **conn_ptr);

/* npmu_conn_delete -- close a connection (regions opened on it must be closed first); NULLs *conn_ptr. */
NPMU_API int npmu_conn_delete(struct npmu_conn **conn_ptr);

/* npmu_region_create -- create a region NAME of SIZE bytes (rounded up to pages); info may be NULL. */
NPMU_API int npmu_region_create(struct npmu_conn *conn, const char *name, uint64_t size,
				struct npmu_region_info *info);

/* npmu_region_create_on -- (deprecated: kept for programs built against 0.1) like
 * npmu_region_create_ex with opts.unit: on the unit "host:port" named (NULL or "": the manager
 * chooses). */
NPMU_API int npmu_region_create_on(struct npmu_conn *conn, const char *name, uint64_t size,
				   const char *unit, struct npmu_region_info *info)
	__attribute__((deprecated("use npmu_region_create_ex with opts.unit")));

/* How a region is made (npmu_region_create_ex); zero fields take defaults. */
struct npmu_region_opts {
	const char *unit;        /* the unit of the region (of copy 0 if mirrored), "host:port";
				  * NULL: the manager chooses */
	int mirror;              /* 1: mirrored: a primary region and a mirror region on two units
				  * in distinct fault domains (needs pmmd with two units or more) */
	const char *mirror_unit; /* the unit of the mirror region (copy 1); NULL: the manager's
				  * choice */
};

/* npmu_region_create_ex -- create a region with options (NULL opts: npmu_region_create). */
NPMU_API int npmu_region_create_ex(struct npmu_conn *conn, const char *name, uint64_t size,
				   const struct npmu_region_opts *opts, struct npmu_region_info *info);

/* Where a region's copies are (npmu_region_where). */
#define NPMU_PLACE_COPIES 2
struct npmu_region_place {
	uint32_t count;                        /* copies: 1, or 2 for a mirrored region */
	char unit[NPMU_PLACE_COPIES][128];     /* the unit of each ("host:port") */
};

/* npmu_region_where -- the units holding region NAME (a manager of several units knows; a
 * unit's embedded manager names itself). NPMU_E_VERSION from a manager too old to say. */
NPMU_API int npmu_region_where(struct npmu_conn *conn, const char *name,
			       struct npmu_region_place *place);

/* npmu_region_delete -- delete a region; every right to it is revoked at once. */
NPMU_API int npmu_region_delete(struct npmu_conn *conn, const char *name);

/* npmu_region_revoke -- (owner) close every open right to a region at once: every key handed out
 * for it dies at the unit. Returns how many rights were revoked. */
NPMU_API int npmu_region_revoke(struct npmu_conn *conn, const char *name);

/* npmu_region_resize -- grow a region to SIZE bytes; its data and open rights are kept. */
NPMU_API int npmu_region_resize(struct npmu_conn *conn, const char *name, uint64_t size,
				struct npmu_region_info *info);

/* npmu_region_stat -- describe one region. */
NPMU_API int npmu_region_stat(struct npmu_conn *conn, const char *name,
			      struct npmu_region_info *info);

/*
 * npmu_region_list -- describe every region. On success *list is an array of *count entries
 * that the caller frees with free().
 */
NPMU_API int npmu_region_list(struct npmu_conn *conn, struct npmu_region_info **list,
			      size_t *count);

/*
 * npmu_region_open -- open a right to region NAME. The unit registers the region's window
 * under a fresh random key; reads and writes then go straight to the unit's memory.
 * On success *region_ptr owns the right; on failure it is untouched. A region has 64 rights:
 * one connection holds at most 16 of them and readers at most 56 (the rest are kept for
 * writers); past either, or all 64 held by live clients, NPMU_E_LIMIT (the unit's log says
 * which). Threads may share one handle rather than each opening its own.
 */
NPMU_API int npmu_region_open(struct npmu_conn *conn, const char *name, enum npmu_access access,
			      struct npmu_region **region_ptr);

/* Which copy of a mirrored region reads go to. */
enum npmu_copy {
	NPMU_COPY_NEAREST = 0, /* the in-sync copy that answered fastest at open */
	NPMU_COPY_PRIMARY = 1, /* copy 0, the primary region, while it is in sync */
	NPMU_COPY_MIRROR = 2,  /* copy 1, the mirror region, while it is in sync */
};

/*
 * npmu_region_open_copy -- npmu_region_open, reading from the copy asked for. On a mirrored
 * region a read falls back to the other copy when the one chosen is unreachable, errs or is
 * not in sync; a write goes to both copies at once and completes when both have it, or, when
 * one cannot be reached, once the manager has recorded that copy stale (degraded mode; the
 * handle of a writer then resyncs it in the background as soon as it answers again). A
 * read-write open of a mirrored region closes every earlier read-write right to it.
 */
NPMU_API int npmu_region_open_copy(struct npmu_conn *conn, const char *name,
				   enum npmu_access access, enum npmu_copy read_from,
				   struct npmu_region **region_ptr);

/* The state of one copy of a mirrored region. */
enum npmu_copy_state {
	NPMU_COPY_IN_SYNC = 0,   /* holds every completed write; reads may go to it */
	NPMU_COPY_STALE = 1,     /* missed writes (degraded); waits for a resync */
	NPMU_COPY_RESYNCING = 2, /* being brought up to date (resync_done bytes so far) */
};

struct npmu_copy_info {
	char unit[128];        /* host:port */
	int state;             /* enum npmu_copy_state */
	int reachable;         /* its unit answered the manager (or this handle) */
	uint64_t resync_done;  /* bytes resynced so far (NPMU_COPY_RESYNCING) */
};

/* What is known of a mirrored region's copies. */
struct npmu_mirror_info {
	uint64_t generation;   /* of the mirror record in force (raised by every change) */
	uint64_t size;
	uint32_t ncopies;      /* 2 */
	int repaired;          /* the units' records disagreed; the newer was written back */
	int reads_from;        /* npmu_region_mirror: the copy the last read came from (-1: none) */
	struct npmu_copy_info copy[2]; /* copy 0: the primary region; copy 1: the mirror region */
};

/* npmu_region_mirror_stat -- ask the manager about a mirrored region's copies
 * (NPMU_E_INVAL for a region that is not mirrored). */
NPMU_API int npmu_region_mirror_stat(struct npmu_conn *conn, const char *name,
				     struct npmu_mirror_info *info);

/* npmu_region_mirror -- the copies as this handle knows them (its attribute cache). */
NPMU_API int npmu_region_mirror(struct npmu_region *region, struct npmu_mirror_info *info);

/*
 * npmu_region_resync -- (a writer of a mirrored region) bring every stale copy up to date now,
 * calling progress (may be NULL) as it goes; returns 0 once every copy is in sync, or
 * NPMU_E_UNREACHABLE while some copy's unit still does not answer. Writes may go on meanwhile
 * from other threads through the same handle.
 */
NPMU_API int npmu_region_resync(struct npmu_region *region,
				void (*progress)(uint64_t done, uint64_t total, void *arg),
				void *arg);

/* npmu_region_close -- revoke the right at the unit and free the handle; NULLs *region_ptr. */
NPMU_API int npmu_region_close(struct npmu_region **region_ptr);

/* npmu_region_size -- the region's size in bytes as of open or the last npmu_region_refresh(). */
NPMU_API uint64_t npmu_region_size(const struct npmu_region *region);

/* npmu_region_refresh -- learn the region's current size (after another client grew it). */
NPMU_API int npmu_region_refresh(struct npmu_region *region);

/*
 * npmu_region_write -- one-sided write of LEN bytes at OFFSET; returns when the data is
 * placed in the unit's memory (delivery complete). Bounds and rights are checked locally first.
 */
NPMU_API int npmu_region_write(struct npmu_region *region, uint64_t offset, const void *buf,
			       size_t len);

/* npmu_region_read -- one-sided read of LEN bytes at OFFSET into buf. */
NPMU_API int npmu_region_read(struct npmu_region *region, uint64_t offset, void *buf, size_t len);

/* One piece of a batched write. */
struct npmu_iov {
	uint64_t offset;
	const void *buf;
	size_t len;
};

/* npmu_region_writev -- issue several writes at once and wait for all; follow with one persist. */
NPMU_API int npmu_region_writev(struct npmu_region *region, const struct npmu_iov *iov, int iovcnt);

/*
 * npmu_region_persist -- make [offset, offset+len) durable at the given level. NPMU_PLACED
 * returns at once (writes are placed when they complete); NPMU_PERSISTENT returns only when
 * the unit has flushed the range (msync on ordinary files, cache flushes on pmem).
 */
NPMU_API int npmu_region_persist(struct npmu_region *region, uint64_t offset, uint64_t len,
				 enum npmu_durability level);

/*
 * npmu_region_put -- write every piece of iov and make them all durable at level: the commit
 * of a writer's own data structure. NPMU_PERSISTENT costs one round trip and one flush at the
 * unit where the provider orders sends after writes (tcp, verbs): the persist request follows
 * the writes without waiting for them, names every piece (up to 8; more are flushed as the
 * range covering them), and the unit flushes it together with the others it has at that
 * moment (group commit). The pieces become durable together, in no order among them: a
 * structure that must survive a crash mid-put checks itself (a checksum in a record written
 * in the same put, as npmu's streams do). A mirrored region's put writes both copies and
 * persists the covering range on each.
 */
NPMU_API int npmu_region_put(struct npmu_region *region, const struct npmu_iov *iov, int iovcnt,
			     enum npmu_durability level);

/* What a manager says about one of its units. */
struct npmu_unit_info {
	char addr[128];    /* host:port */
	int up;            /* answering and authenticated */
	uint64_t bytes;    /* data capacity */
	uint64_t free;     /* unallocated bytes */
	uint32_t regions;
	char domain[NPMU_NAME_MAX + 1]; /* its fault domain ("": a domain of its own) */
};

/* npmu_unit_list -- the manager's units; *list (of *count) is freed by the caller with free(). */
NPMU_API int npmu_unit_list(struct npmu_conn *conn, struct npmu_unit_info **list, size_t *count);

/* ---- Checkpoint streams ---------------------------------------------------------------- */

/* How a stream keeps state (see src/common/ckpt_format.h for the layout). */
enum npmu_ckpt_mode {
	NPMU_CKPT_OVERWRITE = 1, /* each commit replaces the state; the last `keep` stay readable */
	NPMU_CKPT_APPEND = 2,    /* a base state and update records appended after it */
};

/* The shape of a new stream. */
struct npmu_ckpt_cfg {
	enum npmu_ckpt_mode mode;
	uint64_t state_size; /* the largest state, bytes */
	uint64_t log_size;   /* append: bytes of update log; 0: 4 x state_size, at least 1 MiB */
	uint32_t keep;       /* overwrite: checkpoints kept readable, 2..8; 0: 2 */
	int mirror;          /* 1: keep the stream mirrored on two units (pmmd) */
};

/* How a process uses a stream; zero fields take defaults. */
struct npmu_ckpt_opts {
	enum npmu_durability durability; /* of each commit; 0: NPMU_PERSISTENT */
	int lease_ms;                    /* primary's lease, renewed every third of it; 0:
					  * $NPMU_LEASE_MS, else 300. With pmmd, keep it above
					  * pmmd's --unit-timeout: a unit that stops answering
					  * delays pmmd's other requests by up to that long */
	int observe;                     /* backup: only look (no consumed marks, no takeover) */
	enum npmu_copy read_from;        /* a mirrored stream's copy to read (falling back to the
					  * other); 0: NPMU_COPY_NEAREST, the faster at open */
	int unit_wait_ms;                /* primary: how long a commit goes on retrying while its
					  * unit does not answer (restarting, cut off) before it
					  * fails; 0: $NPMU_UNIT_WAIT_MS, else 30000 */
};

/* A stream's lease as anyone may see it (npmu_ckpt_info.lease_state). */
enum npmu_lease_state {
	NPMU_LEASE_NONE = 0,   /* no writer yet */
	NPMU_LEASE_HELD = 1,   /* a primary holds it and renews it */
	NPMU_LEASE_LAPSED = 2, /* its primary stopped renewing it: a backup may take over (the
				* primary is fenced when one does; until then a late renewal
				* keeps it) */
};

/* What a stream says of itself (npmu_ckpt_stat). */
struct npmu_ckpt_info {
	enum npmu_ckpt_mode mode;
	uint64_t epoch;       /* raised each time a writer is fenced */
	uint64_t seq;         /* last committed checkpoint (overwrite) or update (append) */
	uint64_t state_size, state_len;
	uint64_t log_size;
	uint64_t latest_start, latest_end; /* append: log positions of the latest update */
	uint64_t unread;      /* append: bytes of log the backup has not consumed */
	enum npmu_lease_state lease_state;
	uint32_t lease_left_ms;
	char lease_holder[64]; /* principal holding the lease ("" without authentication) */
};

struct npmu_ckpt;

/* npmu_ckpt_create -- create stream NAME (a region, and NAME.cursor for the backup's marks). */
NPMU_API int npmu_ckpt_create(struct npmu_conn *conn, const char *name,
			      const struct npmu_ckpt_cfg *cfg);

/*
 * npmu_ckpt_open_primary -- become the stream's writer: take its lease at the manager (which
 * fences any earlier writer: NPMU_E_LEASE while that one's lease is alive), open it read-write
 * and load its latest state. The lease is renewed in the background; once it is lost (the
 * manager says another writer took it, or the unit refuses this writer's key) every write fails
 * with NPMU_E_FENCED and the stream is never changed again through this handle. A manager that
 * does not answer for a while (restarting, cut off) takes nothing away: renewals go on with
 * bounded back-off, and so do commits. A commit whose unit stops answering is retried (the same
 * bytes) for up to opts->unit_wait_ms, so a primary cut off the network learns NPMU_E_FENCED
 * once it is back if a backup took over meanwhile, or goes on; a unit silent for longer gives
 * NPMU_E_TIMEDOUT or NPMU_E_UNREACHABLE.
 */
NPMU_API int npmu_ckpt_open_primary(struct npmu_conn *conn, const char *name,
				    const struct npmu_ckpt_opts *opts, struct npmu_ckpt **ck_ptr);

/* npmu_ckpt_open_backup -- follow a stream read-only (and mark what was consumed). */
NPMU_API int npmu_ckpt_open_backup(struct npmu_conn *conn, const char *name,
				   const struct npmu_ckpt_opts *opts, struct npmu_ckpt **ck_ptr);

/* npmu_ckpt_commit -- (primary) commit a whole new state: overwrite mode's checkpoint, or a new
 * base in append mode. Returns once durable at the stream's durability. */
NPMU_API int npmu_ckpt_commit(struct npmu_ckpt *ck, const void *state, uint64_t len);

/* npmu_ckpt_update -- (primary, append) commit one update: len bytes at offset in the state. */
NPMU_API int npmu_ckpt_update(struct npmu_ckpt *ck, uint64_t offset, const void *data,
			      uint32_t len);

/*
 * npmu_ckpt_follow -- (backup) read what is new since the last call and apply it in order to
 * the local copy of the state, then mark it consumed. Returns how many commits were applied.
 */
NPMU_API int npmu_ckpt_follow(struct npmu_ckpt *ck);

/*
 * npmu_ckpt_takeover -- (backup) wait up to wait_ms for the primary's lease to lapse, take it
 * (the manager fences the old primary), read every unread update, and become the primary.
 * NPMU_E_LEASE while the primary's lease holds; NPMU_E_MANAGER while the manager does not
 * answer (within wait_ms it is asked again with bounded back-off): call it again later.
 */
NPMU_API int npmu_ckpt_takeover(struct npmu_ckpt *ck, int wait_ms);

/* npmu_ckpt_state -- the local copy of the state (valid until the next call on ck), its length
 * and the sequence number it reflects. */
NPMU_API const void *npmu_ckpt_state(const struct npmu_ckpt *ck, uint64_t *len, uint64_t *seq);

/* One kept checkpoint (overwrite mode). */
struct npmu_ckpt_set {
	uint64_t seq;
	uint64_t epoch;
	uint64_t len;
	void *data; /* len bytes, owned by the array: npmu_ckpt_sets_free() */
};

/*
 * npmu_ckpt_sets -- (overwrite) read every kept checkpoint at once, newest first, each checked
 * against its checksum (a torn or corrupt one is left out). *sets has *count entries.
 */
NPMU_API int npmu_ckpt_sets(struct npmu_ckpt *ck, struct npmu_ckpt_set **sets, size_t *count);

/* npmu_ckpt_sets_free -- free what npmu_ckpt_sets returned. */
NPMU_API void npmu_ckpt_sets_free(struct npmu_ckpt_set *sets, size_t count);

/* npmu_ckpt_stat -- what the stream and this handle know. */
NPMU_API int npmu_ckpt_stat(struct npmu_ckpt *ck, struct npmu_ckpt_info *info);

/* npmu_ckpt_close -- release the lease (primary), close the rights, free; NULLs *ck_ptr. */
NPMU_API int npmu_ckpt_close(struct npmu_ckpt **ck_ptr);

/* ---- Striped checkpoint sets -------------------------------------------------------------- */

/* Progress of a long operation: done of total bytes. */
typedef void (*npmu_progress_fn)(uint64_t done, uint64_t total, void *arg);

/* The shape of a new set; zero fields take defaults. A set's shape is fixed by its first put. */
struct npmu_stripe_cfg {
	uint32_t k;        /* data sub-segments per group, 1..32; 0: 4 */
	uint32_t m;        /* parity sub-segments per group, 1..16 (1: XOR parity); 0: 2 */
	uint32_t n;        /* units (one member region on each), k+m..64; 0: k+m */
	uint64_t seg_size; /* sub-segment bytes, a multiple of 4 KiB; 0: 1 MiB */
	uint32_t keep;     /* versions kept, 2..8; 0: 2 */
	uint64_t capacity; /* the largest checkpoint it will hold; 0: the first one's size */
	int mirror;        /* 1: the mirrored layout instead: k = 1, m = n - 1 full copies */
	enum npmu_durability durability; /* of this put (since NPMU_0.4); 0: NPMU_PERSISTENT.
			    * NPMU_PLACED: data and manifest written to the units' memory, not
			    * flushed: a put survives the client's and a unit process's death, and
			    * power loss of fewer units than the parity covers */
};

/* What a restore or a rebuild found. */
struct npmu_stripe_report {
	uint64_t version;       /* the version restored (or rebuilt) */
	uint64_t newest;        /* the newest committed version found */
	uint64_t older_ok;      /* NPMU_E_LOST: the newest older version still recoverable (0: none) */
	uint32_t lost;          /* members that could not be read (unreachable or missing) */
	uint32_t bad;           /* sub-segments that failed their checksum (treated as lost) */
	uint32_t repaired;      /* sub-segments reconstructed (get) or written back (rebuild) */
	char which[512];        /* the members lost or failing, "s2 (host:port) unreachable, ..." */
	uint32_t staged;        /* (since NPMU_0.6) 1: the version restored is staged, not yet
				 * protected: read from its staging copy (npmu_stage_put) */
};

/*
 * npmu_stripe_put -- write a checkpoint of len bytes as the next version of set NAME (the newest
 * + 1, in slot version % keep), creating the set (n member regions NAME.s0.., on n distinct
 * units) on first use: cut into sub-segments, k data + m parity per group (ISA-L, in this
 * process), each member's share written, made persistent (cfg->durability), and only then the
 * version's manifest (its commit record) written on every member. *version (may be NULL) gets
 * the version number. Members lost with their units: the put goes on over the others while
 * every group keeps k+1 of its k+m sub-segments (k when m = 1), warns naming the members left
 * out, and the version shows degraded in npmu_stripe_stat (manifest on fewer than n members)
 * until npmu_stripe_rebuild; below that, NPMU_E_UNREACHABLE naming them. A new set of n units
 * when fewer answer: NPMU_E_UNREACHABLE ("needs n units, only M answer").
 */
NPMU_API int npmu_stripe_put(struct npmu_conn *conn, const char *name, const void *data,
			     uint64_t len, const struct npmu_stripe_cfg *cfg,
			     npmu_progress_fn progress, void *arg, uint64_t *version);

/*
 * npmu_stripe_get -- restore version `version` (0: the newest that can be restored) of set NAME
 * into a buffer the caller frees with free(): any k sub-segments of each group are enough; one
 * that fails its checksum counts as lost. Asked for the newest, a newest version that cannot be
 * restored is skipped for the newest older one that can: rep->version is the one restored and
 * rep->newest the newest committed (rep->which says why it was skipped). NPMU_E_LOST when too
 * many are lost: rep names them and gives the newest older version that can still be restored.
 * A set with staged versions (npmu_stage_put): the newest version is the newest protected one
 * or, when newer, the newest staged one whose staging copy reads whole (its checksum matches);
 * rep->staged says it came from there. Asked for a version by number, a staged one is read from
 * its staging copy until it is protected.
 */
NPMU_API int npmu_stripe_get(struct npmu_conn *conn, const char *name, uint64_t version,
			     void **data, uint64_t *len, npmu_progress_fn progress, void *arg,
			     struct npmu_stripe_report *rep);

/*
 * npmu_stripe_read -- npmu_stripe_get into the caller's buffer of cap bytes (buf may be NULL
 * when cap is 0): *len gets the restored version's length. NPMU_E_TOOBIG when it is longer than
 * cap: nothing is restored and *len says how many bytes it needs. Restoring into memory the
 * process already uses (a model's weights, an array it reloads) spares the page faults of new
 * memory, which on a fast link cost as much as the transfer. On failure buf's content is
 * unspecified.
 */
NPMU_API int npmu_stripe_read(struct npmu_conn *conn, const char *name, uint64_t version,
			      void *buf, uint64_t cap, uint64_t *len, npmu_progress_fn progress,
			      void *arg, struct npmu_stripe_report *rep);

/*
 * npmu_stripe_rebuild -- regenerate every lost or corrupt sub-segment of every kept version from
 * the others and write it back (a member region lost with its unit is created again on its unit,
 * or on another unit the set does not use, or with no such spare on the set's unit holding the
 * fewest members: two members on one unit, logged as reduced fault tolerance); rep counts what
 * was written.
 */
NPMU_API int npmu_stripe_rebuild(struct npmu_conn *conn, const char *name,
				 npmu_progress_fn progress, void *arg, struct npmu_stripe_report *rep);

/* What `npmu stripe stat` shows: the layout, the versions, and each member's health. */
/* A striped set's member as a reader finds it (npmu_stripe_info.member[].state). */
enum npmu_member_state {
	NPMU_MEMBER_OK = 0,          /* its header reads and agrees with the set */
	NPMU_MEMBER_LOST = 1,        /* its unit does not answer, or the region is missing */
	NPMU_MEMBER_CORRUPT = 2,     /* its header is damaged or belongs to another set */
};

struct npmu_stripe_info {
	uint32_t k, m, n, keep;
	uint64_t seg_size, capacity;
	uint64_t newest_data_off; /* where the newest version's sub-segments start in each member */
	uint32_t nversions;
	struct {
		uint64_t version, length;
		uint32_t members; /* members holding its manifest */
	} versions[8];          /* newest first */
	struct {
		char region[NPMU_NAME_MAX + 1];
		char unit[128];
		enum npmu_member_state state;
		uint32_t manifests; /* kept versions whose manifest it holds */
	} member[64];
};

/* npmu_stripe_stat -- describe set NAME (without reading its data). */
NPMU_API int npmu_stripe_stat(struct npmu_conn *conn, const char *name,
			      struct npmu_stripe_info *info);

/* npmu_stripe_delete -- delete set NAME: every member region, and its staging region (staged
 * versions are deleted with the set; a staging writer's next put fails). NPMU_E_BUSY while a put or a
 * rebuild holds the set (nothing deleted); members on units that do not answer are named in
 * the log and left, the rest deleted, and NPMU_E_UNREACHABLE says so (delete again once the
 * units are back); members the caller may not delete (made by another principal) likewise,
 * with NPMU_E_ACCESS. NPMU_E_NOENT when the set has no member. */
NPMU_API int npmu_stripe_delete(struct npmu_conn *conn, const char *name);

/* ---- Staged puts: checkpoint once, protect in the background (seed 004 claims 11-12) ----- */

/*
 * A staged put writes a version of set NAME once, plain, into the set's staging region
 * (NAME.stg, one region on one unit) with one placed or persistent write, and returns: the
 * version is *staged*. An encoder -- `npmu-encoder` on a unit's host or on any other machine,
 * or npmu_stripe_protect -- reads it there with one-sided reads, cuts and encodes it with the
 * set's k+m, writes the members and commits the version's manifests as a synchronous put does:
 * the version is then *protected*, and its staging slot free for a later version. Several
 * encoders may run: each version is encoded by one of them, under the set's lease, and one
 * killed midway is finished by another. What a version survives:
 *   staged (NPMU_PLACED staging)     the writer's death, the staging unit process's death
 *   staged (NPMU_PERSISTENT staging) also the staging unit's power loss
 *   protected                        what a synchronous npmu_stripe_put survives
 * A staged version whose staging unit is lost before it was protected is *lost*; the newest
 * protected version is never touched by a later staged one. Layout and rules:
 * src/proto/stage_format.h.
 */
struct npmu_stage;

/* What a staged put does when every staging slot holds a version not yet protected. */
enum npmu_stage_full {
	NPMU_STAGE_WAIT = 0, /* wait for an encoder to free a slot, up to wait_ms */
	NPMU_STAGE_SYNC = 1, /* put this version synchronously instead (npmu_stripe_put) */
};

/* How a set is staged; zero fields take defaults. */
struct npmu_stage_cfg {
	const char *unit;       /* the staging region's unit, "host:port"; NULL: the manager's choice */
	uint32_t slots;         /* versions staged at once, 1..8; 0: 2 */
	uint64_t slot_size;     /* bytes of the largest version staged; 0: the set's capacity, else
				 * the first put's length (a longer put later lays the region out
				 * again once nothing in it waits) */
	enum npmu_durability durability; /* of the staging write; 0: NPMU_PLACED */
	enum npmu_stage_full full;
	int wait_ms;            /* NPMU_STAGE_WAIT: how long a put waits; 0: 60000; < 0: forever */
};

/*
 * npmu_stage_open -- stage versions of set NAME: set_cfg is the set's shape (as npmu_stripe_put
 * takes it; its durability is that of the protected versions) and cfg how it is staged (NULL:
 * defaults). The handle holds the staging region's lease (one staging writer per set: another
 * gets NPMU_E_LEASE while this one lives) until npmu_stage_close.
 */
NPMU_API int npmu_stage_open(struct npmu_conn *conn, const char *name,
			     const struct npmu_stripe_cfg *set_cfg, const struct npmu_stage_cfg *cfg,
			     struct npmu_stage **st_ptr);

/*
 * npmu_stage_put -- stage len bytes as the next version of the set (above every version it holds
 * or has staged); *version (may be NULL) gets its number. Returns 0 once staged, or 1 when
 * every slot was busy and cfg.full is NPMU_STAGE_SYNC: then it was put synchronously and is
 * protected already. NPMU_E_TIMEDOUT when every slot stayed busy for wait_ms (no encoder runs?
 * the log says which versions wait); NPMU_E_UNREACHABLE when the staging unit does not answer;
 * NPMU_E_TOOBIG for a version beyond the set's capacity (set_cfg's, else the first version's).
 */
NPMU_API int npmu_stage_put(struct npmu_stage *st, const void *data, uint64_t len,
			    uint64_t *version);

/* npmu_stage_close -- give the staging lease back and free (staged versions stay staged, for
 * the encoders); NULLs *st_ptr. */
NPMU_API int npmu_stage_close(struct npmu_stage **st_ptr);

/* A version's state (npmu_version_info.state). */
enum npmu_version_state {
	NPMU_VERSION_PROTECTED = 0,  /* its manifest is on every member that answers */
	NPMU_VERSION_STAGED = 1,     /* in its staging slot, waiting for an encoder */
	NPMU_VERSION_LOST = 2,       /* staged, never protected, and its staging copy cannot be read
				      * now (its unit down, the region gone, the bytes torn) */
	NPMU_VERSION_SUPERSEDED = 3, /* staged, never protected: a newer version was protected
				      * first (a synchronous put), so it never will be */
	NPMU_VERSION_PARTIAL = 4,    /* its manifest is on some members only: being protected, or
				      * an encoder died midway (another finishes it), or degraded */
};

/* One version of a set, protected or staged (npmu_stripe_versions). */
struct npmu_version_info {
	uint64_t version, length;
	enum npmu_version_state state;
	uint32_t members;       /* members holding its manifest */
	uint64_t staged_ms;     /* when it was staged (wall clock, ms since 1970); 0: not staged */
	char staging[128];      /* the staging region's unit ("host:port"), "" when not staged */
};

/*
 * npmu_stripe_versions -- every version set NAME holds or has staged, newest first; *list is
 * freed by the caller with free(). A staging region whose unit does not answer is said in the
 * log; the versions in it are then not listed (they are lost unless it comes back).
 * NPMU_E_NOENT when the set has neither members nor a staging region.
 */
NPMU_API int npmu_stripe_versions(struct npmu_conn *conn, const char *name,
				  struct npmu_version_info **list, size_t *count);

/*
 * npmu_stripe_wait -- wait until version `version` of set NAME, or a newer one, is protected:
 * 0, with *protected_version (may be NULL) the newest protected. NPMU_E_LOST when timeout_ms
 * passed and it is neither protected nor staged readably (its staging unit down, its slot
 * reused: npmu_stripe_versions says which); NPMU_E_TIMEDOUT when it is still staged (is an
 * encoder running?); NPMU_E_NOENT at once when neither the set nor a staging region of it
 * answers. timeout_ms < 0: forever.
 */
NPMU_API int npmu_stripe_wait(struct npmu_conn *conn, const char *name, uint64_t version,
			      int timeout_ms, uint64_t *protected_version);

/*
 * npmu_stripe_protect -- (what an encoder does, once) protect every staged version of set NAME,
 * oldest first, under the set's lease: read from the staging region, checked against its
 * checksum, put into the set as that version (data durable on every member before any
 * manifest). Returns how many it protected; NPMU_E_BUSY when another encoder or a writer holds
 * the set (it protects them, or this is asked again later); NPMU_E_NOENT when the set has no
 * staging region. progress (may be NULL) sees each version's put. The memory a version is read
 * into is kept with conn for the next call (an encoder's next version: fresh memory's page
 * faults would cost as much as the transfer) until npmu_conn_delete.
 */
NPMU_API int npmu_stripe_protect(struct npmu_conn *conn, const char *name,
				 npmu_progress_fn progress, void *arg);

/* ---- Datasets: one checkpoint of many processes, committed together ----------------------- */

/*
 * A dataset NAME is the checkpoint of a job of many processes (MPI ranks, training workers):
 * version v has N parts, one per process, each protected like a striped set (k data + m parity
 * sub-segments per group over n units, or full copies), and one user label (the iteration,
 * the step). A version is complete once every one of its N parts was put and one process
 * committed it; readers see complete versions only. Puts and commits never overwrite the
 * newest `keep` complete versions nor a pinned one, whatever crashed between them.
 *
 * The library needs no MPI. A job uses it as:
 *     npmu_dataset_open(conn, "heat", &cfg, &ds);          cfg.parts = number of processes
 *     npmu_dataset_latest(ds, &last)   -> restart from last.label, reading any part's bytes
 *     v = last.version + 1;  (or 1)
 *     every K steps:  rc = npmu_dataset_put(ds, v, rank, buf, len);
 *                     all processes agree that every rc was 0 (MPI_Allreduce of rc, MIN)
 *                     one process: npmu_dataset_commit(ds, v, step);  v++
 * A version's parts may differ in length; a job restarting with another number of processes
 * reads the byte ranges it needs (npmu_dataset_read) and puts later versions with its new N.
 * Layout: src/proto/dataset_format.h.
 */
struct npmu_dataset;

/* The shape of a new dataset, and how this process uses it; zero fields take defaults. */
struct npmu_dataset_cfg {
	uint32_t parts;    /* parts of the versions this job puts (its number of processes),
			    * 1..NPMU_DATASET_PARTS_MAX; 0: only reading (open fails to put) */
	uint32_t k, m, n;  /* each part's protection as npmu_stripe_cfg: 0 gives 4, 2, k+m */
	int mirror;        /* 1: each part as full copies on n units (k = 1, m = n - 1) */
	uint64_t seg_size; /* sub-segment bytes; 0: 1 MiB */
	uint64_t capacity; /* the largest part; 0: the first part put's size */
	uint32_t keep;     /* complete versions kept readable, 1..4; 0: 2 */
	uint32_t pins;     /* versions that may be pinned at once besides, 1..2; 0: 1 */
	enum npmu_durability durability; /* of this process's puts; 0: NPMU_PERSISTENT.
			    * NPMU_PLACED: in the units' memory, protected by parity across units
			    * only (a version survives unit crashes that leave k of each group) */
};
#define NPMU_DATASET_PARTS_MAX 1024
#define NPMU_DATASET_NAME_MAX 53 /* bytes of a dataset's name: a region name less ".p1023.s63" */

/* One complete version. */
struct npmu_dataset_version {
	uint64_t version;
	uint64_t label;  /* what the committing process said (the iteration) */
	uint32_t parts;  /* N */
	int pinned;      /* kept whatever is committed after it, until unpinned */
	uint64_t bytes;  /* all parts together */
};

/*
 * npmu_dataset_open -- open dataset NAME, creating it from cfg when it does not exist (cfg
 * NULL or cfg->parts 0: it must exist). The shape of an existing one is its own; a cfg that
 * asks for another fails with NPMU_E_INVAL (the log says which field).
 */
NPMU_API int npmu_dataset_open(struct npmu_conn *conn, const char *name,
			       const struct npmu_dataset_cfg *cfg, struct npmu_dataset **ds_ptr);

/*
 * npmu_dataset_put -- put part `part` (< cfg.parts) of version `version`: len bytes, cut,
 * encoded and written to the part's units at the handle's durability. `version` must be above
 * every complete version (NPMU_E_INVAL otherwise: versions only grow). Putting the same part of
 * the same version again replaces it. Units that are down: see npmu_stripe_put; a part put
 * with some members missing is said in the log and in `npmu dataset stat`. The handle keeps
 * the parts it puts open, holding their leases, until npmu_dataset_close: another handle
 * putting the same part (in this process or another) waits until then, or until this process
 * is gone and its lease lapsed (2 s).
 */
NPMU_API int npmu_dataset_put(struct npmu_dataset *ds, uint64_t version, uint32_t part,
			      const void *data, uint64_t len);

/*
 * npmu_dataset_commit -- (one process, once every process's put of `version` returned 0) make
 * version complete with `label`: every part 0..cfg.parts-1 must hold it (NPMU_E_NOENT names
 * the first that does not); the oldest complete version beyond `keep`, unless pinned, stops
 * being kept. Committing a version already complete with the same label is a no-op.
 */
NPMU_API int npmu_dataset_commit(struct npmu_dataset *ds, uint64_t version, uint64_t label);

/* npmu_dataset_latest -- the newest complete version that can be read (a staged one whose
 * staging copy is lost is passed over, and, by a handle that puts, unlisted: its job's next
 * version then follows the one it returns); NPMU_E_NOENT when none is. */
NPMU_API int npmu_dataset_latest(struct npmu_dataset *ds, struct npmu_dataset_version *out);

/* npmu_dataset_versions -- every kept complete version, newest first; *list is freed by the
 * caller with free(). */
NPMU_API int npmu_dataset_versions(struct npmu_dataset *ds, struct npmu_dataset_version **list,
				   size_t *count);

/* npmu_dataset_part_size -- the bytes of part `part` of complete version `version`. */
NPMU_API int npmu_dataset_part_size(struct npmu_dataset *ds, uint64_t version, uint32_t part,
				    uint64_t *len);

/*
 * npmu_dataset_read -- len bytes at offset of part `part` of complete version `version` into
 * buf, from any k sub-segments of each group; only the groups holding those bytes are read,
 * and each is checked against the version's checksums. NPMU_E_RANGE beyond the part,
 * NPMU_E_NOENT for a version that is not complete (or no longer kept), NPMU_E_LOST when
 * too many of the part's units are lost.
 */
NPMU_API int npmu_dataset_read(struct npmu_dataset *ds, uint64_t version, uint32_t part,
			       uint64_t offset, void *buf, uint64_t len);

/* npmu_dataset_pin -- keep complete version `version` (pinned 1) whatever is committed after
 * it, or let it go (0). NPMU_E_NOENT for a version not kept, NPMU_E_LIMIT beyond cfg.pins. */
NPMU_API int npmu_dataset_pin(struct npmu_dataset *ds, uint64_t version, int pinned);

/*
 * npmu_dataset_stage -- this handle's puts from now on are staged (seed 004 claims 11-12, as
 * npmu_stage_put is for a set): npmu_dataset_put writes the part's bytes once, plain, to the
 * part's staging region NAME.pP.stg (cfg->unit, else the manager's choice; cfg NULL: defaults)
 * and returns; an encoder (npmu-encoder) protects it into the part's set later. A version whose
 * parts are staged is committed as any other and readable at once (npmu_dataset_read takes a
 * part from its staging copy until it is protected). A full staging waits cfg->wait_ms for the
 * encoder (NPMU_STAGE_WAIT, then NPMU_E_TIMEDOUT) or puts synchronously (NPMU_STAGE_SYNC). A
 * put is also made synchronously when the part's staging cannot be written (its unit down), or
 * when the part holds this version or a newer one already (a job restarted from an older
 * version); what the part staged before stays for the encoder. NPMU_E_INVAL for a handle
 * opened without cfg.parts.
 */
NPMU_API int npmu_dataset_stage(struct npmu_dataset *ds, const struct npmu_stage_cfg *cfg);

/*
 * npmu_dataset_state -- complete version `version`'s state: NPMU_VERSION_PROTECTED (every part
 * in its set), STAGED (some parts only in their staging, all readable), PARTIAL (some part on
 * some of its members only: being protected) or LOST (some part's staging copy cannot be read
 * and it was never protected: npmu_dataset_latest passes over it). NPMU_E_NOENT for a version
 * that is not complete.
 */
NPMU_API int npmu_dataset_state(struct npmu_dataset *ds, uint64_t version,
				enum npmu_version_state *state);

/* npmu_dataset_wait -- wait until complete version `version` is protected: 0, NPMU_E_TIMEDOUT
 * after timeout_ms (< 0: no limit), NPMU_E_LOST when it never will be, NPMU_E_NOENT when it is
 * not complete. */
NPMU_API int npmu_dataset_wait(struct npmu_dataset *ds, uint64_t version, int timeout_ms);

/* npmu_dataset_close -- free the handle (nothing is committed by closing); NULLs *ds_ptr. */
NPMU_API int npmu_dataset_close(struct npmu_dataset **ds_ptr);

/* npmu_dataset_delete -- delete dataset NAME: every part and its catalog. NPMU_E_BUSY while a
 * process puts, commits or pins (nothing deleted). */
NPMU_API int npmu_dataset_delete(struct npmu_conn *conn, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* NPMU_H */
