/* stage.c -- staged puts (a version written once, plain, to the set's staging region), their
 * protection by an encoder, the states of a set's versions, and restores that take staged ones. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "clock.h"
#include "csum.h"
#include "internal.h"
#include "lease.h"
#include "log.h"
#include "npmu.h"
#include "stage_format.h"
#include "stage_ops.h"
#include "stripe_format.h"
#include "stripe_ops.h"

#define SLOTS_DEFAULT 2
#define WAIT_DEFAULT_MS 60000
#define STAGE_LEASE_MS 10000
#define POLL_MS 20 /* how often a waiting put or npmu_stripe_wait looks again */

/* What a staging region holds, as read in one transfer. */
struct staging {
	struct npmu__stage_hdr h;
	bool valid[NPMU_STAGE_SLOTS_MAX]; /* rec[s] is a valid record */
	struct npmu__stage_rec rec[NPMU_STAGE_SLOTS_MAX];
	char unit[128];                   /* where the region is ("" unknown) */
};

/* The staging writer's handle. */
struct npmu_stage {
	struct npmu_conn *conn;
	char name[NPMU_NAME_MAX + 1];   /* the set */
	char region[NPMU_NAME_MAX + 1]; /* NAME.stg */
	char unit[128];                 /* the unit asked for ("": the manager's choice) */
	struct npmu_stripe_cfg set;     /* the set's shape, defaults filled in */
	struct npmu_stage_cfg cfg;
	bool part;                      /* a dataset's part (G5) */
	bool made;                      /* NAME.stg existed at open, or was made since */
	struct npmu__lease_holder lh;
	bool held;
	struct npmu_region *r;          /* NAME.stg, read-write under lh */
	struct npmu__stripe_reader *seen; /* the set's manifests */
};

/* stage_region -- "NAME.stg"; NPMU_E_NAME when NAME leaves no room for it. */
static int stage_region(const char *name, char out[NPMU_NAME_MAX + 1])
{
	size_t nl = name ? strnlen(name, NPMU_NAME_MAX + 1) : 0;
	if (!name)
		return NPMU_E_INVAL;
	if (nl == 0 || nl + strlen(NPMU_STAGE_SUFFIX) > NPMU_NAME_MAX || nl > NPMU_NAME_MAX - 4)
		return NPMU_E_NAME;
	snprintf(out, NPMU_NAME_MAX + 1, "%s%s", name, NPMU_STAGE_SUFFIX);
	return 0;
}

/* staging_read -- the header and every slot record of open staging region r: NPMU_E_NOENT for
 * a region made and never laid out (its header all zeros: nothing staged), NPMU_E_CORRUPT or
 * NPMU_E_VERSION for a header that is not one of ours (said once, by the caller). */
static int staging_read(struct npmu_region *r, struct staging *st)
{
	static const uint8_t blank[NPMU_STAGE_HDR_LEN];
	uint8_t page[NPMU_STAGE_REC_OFF + NPMU_STAGE_SLOTS_MAX * NPMU_STAGE_REC_LEN];
	memset(st, 0, sizeof(*st));
	int rc = npmu_region_read(r, 0, page, sizeof(page));
	if (rc != 0)
		return rc;
	if (memcmp(page, blank, sizeof(blank)) == 0)
		return NPMU_E_NOENT;
	if ((rc = npmu__stage_hdr_decode(page, &st->h)) != 0)
		return rc;
	for (uint32_t s = 0; s < st->h.slots; s++)
		st->valid[s] = npmu__stage_rec_decode(page + NPMU_STAGE_REC_OFF +
							      s * NPMU_STAGE_REC_LEN,
						      &st->h, s, &st->rec[s]) == 0;
	return 0;
}

/* staging_open -- open set NAME's staging region (access) and read it; NPMU_E_NOENT when the
 * set has none. */
static int staging_open(struct npmu_conn *conn, const char *name, enum npmu_access access,
			bool quiet, bool where, struct npmu_region **r, struct staging *st)
{
	char region[NPMU_NAME_MAX + 1];
	int rc = stage_region(name, region);
	if (rc == 0)
		rc = npmu_region_open(conn, region, access, r);
	if (rc != 0)
		return rc;
	rc = staging_read(*r, st);
	if (rc == 0 && npmu__stage_region_size(&st->h) > npmu_region_size(*r))
		rc = NPMU_E_CORRUPT; /* a header claiming more slots than the region holds */
	if (rc != 0) {
		if (!quiet && (rc == NPMU_E_CORRUPT || rc == NPMU_E_VERSION))
			LOG_WARN("staging region %s: its header is %s: ignored", region,
				 rc == NPMU_E_VERSION ? "of another format" : "not a staging header");
		npmu_region_close(r);
		return rc;
	}
	struct npmu_region_place pl;
	if (where && npmu_region_where(conn, region, &pl) == 0 && pl.count)
		snprintf(st->unit, sizeof(st->unit), "%s", pl.unit[0]);
	return 0;
}

/* staging_find -- staging_open when the manager says set NAME has a staging region (asked with
 * the set's members, in one request: a set without one costs no refused OPEN). */
static int staging_find(struct npmu_conn *conn, const char *name, bool quiet, bool where,
			struct npmu_region **r, struct staging *st)
{
	uint64_t present;
	bool staging = false;
	int rc = conn && name ? npmu__stripe_members(conn, name, &present, &staging)
			      : NPMU_E_INVAL;
	if (rc == 0 && !staging)
		rc = NPMU_E_NOENT;
	return rc != 0 ? rc : staging_open(conn, name, NPMU_ACCESS_READ, quiet, where, r, st);
}

/* set_seen -- what set NAME's members hold (nothing when the set does not exist yet). */
static int set_seen(struct npmu__stripe_reader **rd, struct npmu_conn *conn, const char *name,
		    struct npmu__stripe_seen *seen)
{
	int rc = npmu__stripe_reader_seen(rd, conn, name, seen);
	if (rc == NPMU_E_NOENT) {
		memset(seen, 0, sizeof(*seen));
		return 0;
	}
	return rc;
}

/* judge -- the state of staged record rec of staging sg as the set's members show it (G4). A
 * dataset's part (G5) is superseded only by a put of the same version with other bytes: a newer
 * version in its set (put synchronously while its staging unit was down) leaves it to protect,
 * as the dataset may still list it. */
static enum npmu_version_state judge(const struct staging *sg,
				     const struct npmu__stripe_seen *seen,
				     const struct npmu__stage_rec *rec, uint32_t *members)
{
	*members = 0;
	bool newer = false, part = sg->h.flags & NPMU_STAGE_DATASET_PART;
	for (uint32_t i = 0; i < seen->nversions; i++) {
		const struct npmu__stripe_version *v = &seen->v[i];
		if (v->version == rec->version && v->length_csum == rec->length_csum) {
			*members = v->members;
			return v->members >= seen->open ? NPMU_VERSION_PROTECTED : NPMU_VERSION_PARTIAL;
		}
		/* (the same number, other bytes: put over it) */
		newer |= part ? v->version == rec->version : v->version >= rec->version;
	}
	return newer ? NPMU_VERSION_SUPERSEDED : NPMU_VERSION_STAGED;
}

/* newest_protected -- the newest version whose manifest every member that answers holds (0:
 * none). */
static uint64_t newest_protected(const struct npmu__stripe_seen *seen)
{
	for (uint32_t i = 0; i < seen->nversions; i++)
		if (seen->open && seen->v[i].members >= seen->open)
			return seen->v[i].version;
	return 0;
}

/* newest_number -- the highest version the set holds or the staging region records (G2). */
static uint64_t newest_number(const struct npmu__stripe_seen *seen, const struct staging *st)
{
	uint64_t top = seen->nversions ? seen->v[0].version : 0;
	for (uint32_t s = 0; st && s < st->h.slots; s++)
		if (st->valid[s] && st->rec[s].version > top)
			top = st->rec[s].version;
	return top;
}

/* sleep_ms -- nap. */
static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* wall_ms -- the wall clock in milliseconds. */
static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the staging writer ----------------------------------------------------------------- */

/* stage_drop -- close the staging region and give its lease back. */
static void stage_drop(struct npmu_stage *st)
{
	npmu_region_close(&st->r);
	if (st->held) {
		npmu__lease_release(&st->lh);
		npmu__lease_fini(&st->lh);
	}
	st->held = false;
}

/* clear_torn -- (the staging lease held, the region just opened) every slot waiting for an
 * encoder whose bytes do not match its record never was a staged version (a power loss of the
 * staging unit under placed staging, or in the middle of its flush: G1): its record is cleared,
 * said once, and the slot is free again. */
static void clear_torn(struct npmu_stage *st)
{
	struct staging sg;
	struct npmu__stripe_seen seen;
	if (staging_read(st->r, &sg) != 0 || set_seen(&st->seen, st->conn, st->name, &seen) != 0)
		return;
	for (uint32_t s = 0; s < sg.h.slots; s++) {
		uint32_t members;
		if (!sg.valid[s] || judge(&sg, &seen, &sg.rec[s], &members) != NPMU_VERSION_STAGED)
			continue;
		uint8_t *data = malloc(sg.rec[s].length ? sg.rec[s].length : 1);
		if (!data)
			return;
		int rc = sg.rec[s].length ? npmu_region_read(st->r, npmu__stage_data_off(&sg.h, s),
							     data, sg.rec[s].length)
					  : 0;
		bool torn = rc == 0 && npmu__csum(data, sg.rec[s].length) != sg.rec[s].length_csum;
		free(data);
		if (!torn)
			continue;
		uint8_t zero[NPMU_STAGE_REC_LEN] = {0};
		LOG_WARN("stripe %s: staged version %llu is torn (its bytes fail their checksum: its "
			 "unit lost power before they were flushed): never protected, slot cleared",
			 st->name, (unsigned long long)sg.rec[s].version);
		npmu_region_put(st->r, &(struct npmu_iov){NPMU_STAGE_REC_OFF +
							  (uint64_t)s * NPMU_STAGE_REC_LEN,
						  zero, sizeof(zero)},
				1, NPMU_PERSISTENT);
	}
}

/* stage_take -- (the staging region exists) take its lease and open it read-write. */
static int stage_take(struct npmu_stage *st)
{
	if (st->held && atomic_load(&st->lh.fenced)) {
		LOG_WARN("stripe %s: another process took over its staging", st->name);
		stage_drop(st);
		return NPMU_E_FENCED;
	}
	if (st->held && st->r)
		return 0;
	if (!st->held) {
		const char *env = getenv("NPMU_SET_WAIT_MS");
		int wait = env && atoi(env) >= 0 ? atoi(env) : WAIT_DEFAULT_MS;
		npmu__lease_init(&st->lh, st->region, 0, STAGE_LEASE_MS);
		int rc = npmu__lease_take(&st->lh, st->conn, wait);
		if (rc != 0) {
			npmu__lease_fini(&st->lh);
			if (rc == NPMU_E_LEASE)
				LOG_WARN("stripe %s: another process stages this set", st->name);
			return rc;
		}
		st->held = true;
	}
	int rc = npmu__region_open_leased(st->conn, st->region, NPMU_ACCESS_READ_WRITE, st->lh.id,
					  &st->r);
	if (rc == 0)
		atomic_store(&st->lh.proof, st->r->ai.key); /* for a manager that restarted */
	if (rc == 0)
		clear_torn(st);
	return rc;
}

/* stage_layout -- write a fresh header (slots of slot_size, every record cleared) into the
 * staging region, growing it first when it is too small. */
static int stage_layout(struct npmu_stage *st, uint64_t slot_size)
{
	struct npmu__stage_hdr h = {
		.flags = st->part ? NPMU_STAGE_DATASET_PART : 0u, .slots = st->cfg.slots, .durability = (uint32_t)st->set.durability,
		.slot_size = slot_size, .k = st->set.k, .m = st->set.m, .n = st->set.n,
		.keep = st->set.keep, .mirror = st->set.mirror ? 1u : 0u,
		.seg_size = st->set.seg_size,
		.capacity = st->set.capacity && st->set.capacity <= slot_size ? st->set.capacity
									      : slot_size};
	uint64_t size = npmu__stage_region_size(&h);
	int rc = 0;
	if (npmu_region_size(st->r) < size) {
		rc = npmu_region_resize(st->conn, st->region, size, NULL);
		if (rc == 0)
			rc = npmu_region_refresh(st->r);
	}
	uint8_t page[NPMU_STAGE_REC_OFF + NPMU_STAGE_SLOTS_MAX * NPMU_STAGE_REC_LEN] = {0};
	npmu__stage_hdr_encode(&h, page);
	if (rc == 0)
		rc = npmu_region_put(st->r, &(struct npmu_iov){0, page, sizeof(page)}, 1,
				     NPMU_PERSISTENT);
	if (rc == 0)
		LOG_INFO("stripe %s: staging %s laid out: %u slots of %llu bytes", st->name,
			 st->region, h.slots, (unsigned long long)slot_size);
	return rc;
}

/* stage_make -- the set's first staged put: NAME.stg made on the unit asked for (or where the
 * manager chooses) with slots of slot_size, its lease taken, its header written. */
static int stage_make(struct npmu_stage *st, uint64_t slot_size)
{
	struct npmu__stage_hdr h = {.slots = st->cfg.slots, .slot_size = slot_size};
	struct npmu_region_opts ro = {.unit = st->unit[0] ? st->unit : NULL};
	int rc = npmu_region_create_ex(st->conn, st->region, npmu__stage_region_size(&h), &ro, NULL);
	if (rc != 0 && rc != NPMU_E_EXIST)
		return rc;
	if ((rc = stage_take(st)) == 0)
		rc = stage_layout(st, slot_size);
	return rc;
}

/* round_slot -- a slot of at least len bytes (whole pages). */
static uint64_t round_slot(uint64_t len)
{
	return len ? (len + 4095) & ~4095ull : 4096;
}

/* free_slot -- a slot a put may write (G1), or -1; busy gets the versions that wait. */
static int free_slot(const struct staging *sg, const struct npmu__stripe_seen *seen, char *busy,
		     size_t cap)
{
	int slot = -1;
	size_t used = 0;
	busy[0] = '\0';
	for (uint32_t s = 0; s < sg->h.slots; s++) {
		uint32_t members;
		enum npmu_version_state state = sg->valid[s] ? judge(sg, seen, &sg->rec[s], &members)
							     : NPMU_VERSION_PROTECTED;
		if (state == NPMU_VERSION_PROTECTED || state == NPMU_VERSION_SUPERSEDED) {
			/* an empty slot first, else the oldest version's: the newest stay listed */
			uint64_t mine = sg->valid[s] ? sg->rec[s].version : 0;
			if (slot < 0 || mine < (sg->valid[slot] ? sg->rec[slot].version : 0))
				slot = (int)s;
		} else if (used < cap) {
			int n = snprintf(busy + used, cap - used, "%s%llu", used ? ", " : "",
					 (unsigned long long)sg->rec[s].version);
			used += n > 0 ? (size_t)n : 0;
		}
	}
	return slot;
}

/* any_busy -- whether some slot holds a version not yet protected. */
static bool any_busy(const struct staging *sg, const struct npmu__stripe_seen *seen)
{
	uint32_t members;
	for (uint32_t s = 0; s < sg->h.slots; s++)
		if (sg->valid[s]) {
			enum npmu_version_state state = judge(sg, seen, &sg->rec[s], &members);
			if (state != NPMU_VERSION_PROTECTED && state != NPMU_VERSION_SUPERSEDED)
				return true;
		}
	return false;
}

/* Checksum of the staged bytes, on a thread of its own while they are written. */
struct summing {
	const void *data;
	uint64_t len, csum;
};

/* sum_thread -- the staged bytes' CRC-64 into the struct summing at arg. */
static void *sum_thread(void *arg)
{
	struct summing *sm = arg;
	sm->csum = npmu__csum(sm->data, sm->len);
	return NULL;
}

/* stage_write -- G1: the bytes into slot s, then its record; flushed together when persistent. */
static int stage_write(struct npmu_stage *st, const struct staging *sg, uint32_t s,
		       const void *data, uint64_t len, uint64_t version)
{
	struct summing sm = {data, len, 0};
	pthread_t t;
	bool threaded = len >= (1u << 20) && pthread_create(&t, NULL, sum_thread, &sm) == 0;
	if (!threaded)
		sum_thread(&sm);
	uint64_t off = npmu__stage_data_off(&sg->h, s);
	int rc = len ? npmu_region_write(st->r, off, data, len) : 0;
	if (threaded)
		pthread_join(t, NULL);
	if (rc != 0)
		return rc;
	struct npmu__stage_rec rec = {.slot = s, .version = version, .length = len,
				      .length_csum = sm.csum, .staged_ms = wall_ms()};
	uint8_t raw[NPMU_STAGE_REC_LEN];
	npmu__stage_rec_encode(&rec, raw);
	uint64_t roff = NPMU_STAGE_REC_OFF + (uint64_t)s * NPMU_STAGE_REC_LEN;
	rc = npmu_region_write(st->r, roff, raw, sizeof(raw)); /* placed after the bytes */
	if (rc == 0 && st->cfg.durability == NPMU_PERSISTENT)
		rc = npmu_region_persist(st->r, roff, off + len - roff, NPMU_PERSISTENT);
	return rc;
}

/* stage_wait -- every slot busy (or a longer put than the slots hold): wait for the encoders to
 * free what the put needs, up to the configured time; the staging and set as last read. */
static int stage_wait(struct npmu_stage *st, uint64_t len, struct staging *sg,
		      struct npmu__stripe_seen *seen, int *slot)
{
	uint64_t start = npmu__now_ms();
	bool said = false;
	for (;;) {
		char busy[128];
		*slot = free_slot(sg, seen, busy, sizeof(busy));
		bool fits = len <= sg->h.slot_size;
		if (fits ? *slot >= 0 : !any_busy(sg, seen))
			return 0;
		if (st->cfg.full == NPMU_STAGE_SYNC)
			return NPMU_E_LIMIT;
		if (st->cfg.wait_ms >= 0 && npmu__now_ms() - start >= (uint64_t)st->cfg.wait_ms) {
			LOG_WARN("stripe %s: staging full for %d ms: versions %s still wait for an "
				 "encoder (is npmu-encoder running?)", st->name, st->cfg.wait_ms, busy);
			return NPMU_E_TIMEDOUT;
		}
		if (!said)
			LOG_INFO("stripe %s: staging %s: waiting for an encoder to protect versions %s",
				 st->name, fits ? "full" : "too small for this put", busy);
		said = true;
		sleep_ms(POLL_MS);
		int rc = staging_read(st->r, sg);
		if (rc == 0)
			rc = set_seen(&st->seen, st->conn, st->name, seen);
		if (rc != 0)
			return rc;
	}
}

/* put_sync -- staging full and the handle asked for it: the version put synchronously. */
static int put_sync(struct npmu_stage *st, const void *data, uint64_t len, uint64_t version,
		    uint64_t *out)
{
	struct npmu__stripe_put_opts o = {.version = version};
	LOG_INFO("stripe %s: staging full: version %llu put synchronously", st->name,
		 (unsigned long long)version);
	int rc = npmu__stripe_put(st->conn, st->name, data, len, &st->set, &o, NULL, NULL, out);
	return rc == 0 ? 1 : rc;
}

/* stage_open -- a staging writer for set NAME, a dataset's part or not. */
static int stage_open(struct npmu_conn *conn, const char *name,
		      const struct npmu_stripe_cfg *set_cfg, const struct npmu_stage_cfg *cfg,
		      bool part, struct npmu_stage **st_ptr)
{
	struct npmu_stage_cfg c = cfg ? *cfg : (struct npmu_stage_cfg){0};
	char region[NPMU_NAME_MAX + 1];
	int rc = conn && st_ptr ? stage_region(name, region) : NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	c.slots = c.slots ? c.slots : SLOTS_DEFAULT;
	c.durability = c.durability ? c.durability : NPMU_PLACED;
	c.wait_ms = c.wait_ms ? c.wait_ms : WAIT_DEFAULT_MS;
	if (c.slots > NPMU_STAGE_SLOTS_MAX || c.slot_size % 4096 != 0 ||
	    (c.durability != NPMU_PLACED && c.durability != NPMU_PERSISTENT) ||
	    (c.full != NPMU_STAGE_WAIT && c.full != NPMU_STAGE_SYNC) ||
	    (c.unit && strlen(c.unit) >= 128))
		return NPMU_E_INVAL;
	struct npmu_stage *st = calloc(1, sizeof(*st));
	if (!st)
		return NPMU_E_NOMEM;
	st->conn = conn;
	st->part = part;
	snprintf(st->name, sizeof(st->name), "%s", name);
	memcpy(st->region, region, sizeof(region));
	snprintf(st->unit, sizeof(st->unit), "%s", c.unit ? c.unit : "");
	c.unit = NULL;
	st->cfg = c;
	st->set = npmu__stripe_defaults(set_cfg);
	struct npmu_stripe_info info;
	if (npmu_stripe_stat(conn, name, &info) == 0) /* a set that exists keeps its shape */
		st->set = npmu__stripe_defaults(&(struct npmu_stripe_cfg){
			.k = info.k, .m = info.m, .n = info.n, .seg_size = info.seg_size,
			.keep = info.keep, .capacity = info.capacity,
			.durability = st->set.durability});
	uint64_t present;
	bool exists = true; /* (asked first: a lease on a region not made yet is refused, logged) */
	if (npmu__stripe_members(conn, name, &present, &exists) != 0)
		exists = true;
	st->made = exists;
	rc = exists ? stage_take(st) : NPMU_E_NOENT; /* an existing one: held from now on */
	if (rc == NPMU_E_NOENT)
		rc = 0; /* made at the first put, when its slots' size is known */
	struct npmu__stripe_seen seen;
	if (rc == 0) /* the set's members opened now: a put reads their manifests again only */
		set_seen(&st->seen, conn, name, &seen);
	if (rc != 0) {
		stage_drop(st);
		free(st);
		return rc;
	}
	*st_ptr = st;
	return 0;
}

/* npmu_stage_open -- a staging writer for set NAME (see npmu.h). */
int npmu_stage_open(struct npmu_conn *conn, const char *name, const struct npmu_stripe_cfg *set_cfg,
		    const struct npmu_stage_cfg *cfg, struct npmu_stage **st_ptr)
{
	return stage_open(conn, name, set_cfg, cfg, false, st_ptr);
}

/* npmu__stage_open_part -- a staging writer for a dataset's part set NAME (G5). */
int npmu__stage_open_part(struct npmu_conn *conn, const char *name,
			  const struct npmu_stripe_cfg *set_cfg, const struct npmu_stage_cfg *cfg,
			  struct npmu_stage **st_ptr)
{
	return stage_open(conn, name, set_cfg, cfg, true, st_ptr);
}

/* stage_ready -- the staging region made (first put), held, and read, with the set's state. */
static int stage_ready(struct npmu_stage *st, uint64_t len, struct staging *sg,
		       struct npmu__stripe_seen *seen)
{
	int rc = st->made ? stage_take(st) : NPMU_E_NOENT;
	if (rc == NPMU_E_NOENT) { /* the first staged put: the set's capacity is fixed now */
		if (!st->set.capacity)
			st->set.capacity = len;
		uint64_t size = st->cfg.slot_size > st->set.capacity ? st->cfg.slot_size
								    : st->set.capacity;
		rc = stage_make(st, round_slot(size > len ? size : len));
		st->made = rc == 0;
	}
	if (rc == 0)
		rc = staging_read(st->r, sg);
	if (rc == 0 && npmu__stage_region_size(&sg->h) > npmu_region_size(st->r))
		rc = NPMU_E_CORRUPT; /* more slots than the region holds: not a header of ours */
	if (rc == NPMU_E_NOENT || rc == NPMU_E_CORRUPT) { /* made, never laid out; or not ours:
							    * we hold its lease, so laid out afresh */
		if (!st->set.capacity)
			st->set.capacity = len;
		uint64_t size = st->set.capacity > len ? st->set.capacity : len;
		if ((rc = stage_layout(st, round_slot(size))) == 0)
			rc = staging_read(st->r, sg);
	}
	if (rc == 0 && !st->set.capacity)
		st->set.capacity = sg->h.capacity; /* (a set not made yet: as its staging says) */
	if (rc == 0)
		rc = set_seen(&st->seen, st->conn, st->name, seen);
	return rc;
}

/* stage_one -- stage len bytes as version `want` (0: the set's next number, G2; else a
 * dataset's number, G5: NPMU_E_EXIST, nothing written, when the set or the staging holds it or
 * a newer one) into a free slot, waiting for one as configured. */
static int stage_one(struct npmu_stage *st, const void *data, uint64_t len, uint64_t want,
		     uint64_t *version)
{
	struct staging sg;
	struct npmu__stripe_seen seen;
	int slot = -1;
	int rc = stage_ready(st, len, &sg, &seen);
	if (rc == 0 && len > st->set.capacity) {
		LOG_WARN("stripe %s: a version of %llu bytes is beyond the set's capacity (%llu bytes, "
			 "fixed by its first put)", st->name, (unsigned long long)len,
			 (unsigned long long)st->set.capacity);
		return NPMU_E_TOOBIG;
	}
	if (rc == 0 && want && want <= newest_number(&seen, &sg))
		return NPMU_E_EXIST;
	if (rc == 0)
		rc = stage_wait(st, len, &sg, &seen, &slot);
	uint64_t v = want ? want
			  : newest_number(&seen, rc == 0 || rc == NPMU_E_LIMIT ? &sg : NULL) + 1;
	if (rc == NPMU_E_LIMIT) /* (a dataset's part: its own put, under the catalog's rules) */
		return st->part ? rc : put_sync(st, data, len, v, version);
	if (rc == 0 && len > sg.h.slot_size) { /* nothing waits: laid out again, larger */
		if ((rc = stage_layout(st, round_slot(len))) == 0)
			rc = staging_read(st->r, &sg);
		slot = 0;
	}
	if (rc == 0)
		rc = stage_write(st, &sg, (uint32_t)slot, data, len, v);
	if (rc != 0) {
		if (!st->part) /* (a dataset's put says it, and what it does instead) */
			LOG_WARN("stripe %s: staged put of version %llu failed: %s", st->name,
				 (unsigned long long)v, npmu_strerror(rc));
		if (rc != NPMU_E_TIMEDOUT)
			npmu_region_close(&st->r); /* opened again at the next put */
		return rc;
	}
	if (version)
		*version = v;
	return 0;
}

/* npmu_stage_put -- stage the next version (see npmu.h). */
int npmu_stage_put(struct npmu_stage *st, const void *data, uint64_t len, uint64_t *version)
{
	if (!st || (len && !data))
		return NPMU_E_INVAL;
	return stage_one(st, data, len, 0, version);
}

/* npmu_stage_close -- give the staging lease back and free (see npmu.h). */
int npmu_stage_close(struct npmu_stage **st_ptr)
{
	if (!st_ptr || !*st_ptr)
		return NPMU_E_INVAL;
	struct npmu_stage *st = *st_ptr;
	stage_drop(st);
	npmu__stripe_reader_close(&st->seen);
	free(st);
	*st_ptr = NULL;
	return 0;
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* oldest_pending -- the oldest staged version the set does not yet protect (STAGED, or PARTIAL:
 * an encoder died midway), skipping the slots in `skip`, or -1. */
static int oldest_pending(const struct staging *sg, const struct npmu__stripe_seen *seen,
			  uint32_t skip)
{
	int best = -1;
	uint32_t members;
	for (uint32_t s = 0; s < sg->h.slots; s++) {
		if (!sg->valid[s] || (skip & (1u << s)))
			continue;
		enum npmu_version_state state = judge(sg, seen, &sg->rec[s], &members);
		if ((state == NPMU_VERSION_STAGED || state == NPMU_VERSION_PARTIAL) &&
		    (best < 0 || sg->rec[s].version < sg->rec[best].version))
			best = (int)s;
	}
	return best;
}

/* A staged version read while it is put (G3): a thread reads it in chunks from the staging
 * region, summing it, and the put waits for the bytes each batch of groups needs. */
struct feed {
	struct npmu_region *r;
	const struct npmu__stage_rec *rec;
	uint64_t off;            /* the slot's bytes in the staging region */
	uint8_t *data;
	pthread_mutex_t lk;
	pthread_cond_t cv;
	uint64_t have;           /* bytes read so far */
	int rc;                  /* the read's error, or NPMU_E_CORRUPT: the checksum failed */
	bool done;               /* every byte read and summed (rc says how it ended) */
};

#define FEED_CHUNK (16u << 20)

/* feed_main -- the reading thread: every chunk read and summed, then the whole judged. */
static void *feed_main(void *arg)
{
	struct feed *f = arg;
	uint64_t len = f->rec->length, csum = 0;
	int rc = 0;
	for (uint64_t pos = 0; rc == 0 && pos < len;) {
		uint64_t n = len - pos < FEED_CHUNK ? len - pos : FEED_CHUNK;
		rc = npmu_region_read(f->r, f->off + pos, f->data + pos, n);
		if (rc == 0)
			csum = npmu__csum_more(csum, f->data + pos, n);
		pos += n;
		pthread_mutex_lock(&f->lk);
		f->have = rc == 0 ? pos : f->have;
		f->rc = rc;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->lk);
	}
	pthread_mutex_lock(&f->lk);
	if (rc == 0 && csum != f->rec->length_csum)
		f->rc = NPMU_E_CORRUPT;
	f->done = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->lk);
	return NULL;
}

/* feed_ready -- the put's data_ready: wait until [0, upto) is read (the whole: and checked). */
static int feed_ready(uint64_t upto, void *arg)
{
	struct feed *f = arg;
	pthread_mutex_lock(&f->lk);
	while (!f->rc && !f->done && (f->have < upto || upto == f->rec->length))
		pthread_cond_wait(&f->cv, &f->lk);
	int rc = f->rc;
	pthread_mutex_unlock(&f->lk);
	return rc;
}

/* scratch_take -- len bytes to read a staged version into: conn's kept buffer (grown when too
 * small), or, while another thread of this connection holds it, memory of its own. */
static uint8_t *scratch_take(struct npmu_conn *conn, size_t len)
{
	len = len ? len : 1;
	pthread_mutex_lock(&conn->scratch_lock);
	uint8_t *buf = NULL;
	if (!conn->scratch_busy) {
		if (conn->scratch_cap < len) {
			free(conn->scratch);
			conn->scratch = malloc(len);
			conn->scratch_cap = conn->scratch ? len : 0;
		}
		buf = conn->scratch;
		conn->scratch_busy = buf != NULL;
	}
	pthread_mutex_unlock(&conn->scratch_lock);
	return buf ? buf : malloc(len);
}

/* scratch_give -- a buffer of scratch_take back: kept for the next version, or freed. */
static void scratch_give(struct npmu_conn *conn, uint8_t *buf)
{
	pthread_mutex_lock(&conn->scratch_lock);
	bool kept = buf == conn->scratch;
	if (kept)
		conn->scratch_busy = false;
	pthread_mutex_unlock(&conn->scratch_lock);
	if (!kept)
		free(buf);
}

/* protect_one -- (the set's lease held in *w) staged slot s put into the set as its version
 * while it is read from the staging region and checked (G3). 1: protected; 0: torn (its bytes
 * fail their checksum: nothing committed, left for its writer to clear); < 0: the error. */
static int protect_one(struct npmu_conn *conn, const char *name, struct npmu_region *r,
		       const struct staging *sg, uint32_t s, struct npmu__stripe_writer **w,
		       npmu_progress_fn progress, void *arg)
{
	const struct npmu__stage_rec *rec = &sg->rec[s];
	struct npmu__ds_guard *guard = NULL; /* a dataset's part: its catalog, read under the lease */
	uint32_t part;
	if ((sg->h.flags & NPMU_STAGE_DATASET_PART) &&
	    (!(guard = calloc(1, sizeof(*guard))) ||
	     !npmu__ds_of_part(name, guard->dataset, &part))) {
		int bad = guard ? NPMU_E_NAME : NPMU_E_NOMEM;
		if (guard)
			LOG_WARN("stripe %s: staged as a dataset's part, but not named as one "
				 "(DATASET.pP): not protected", name);
		free(guard);
		return bad;
	}
	if (guard)
		guard->conn = conn;
	struct feed f = {.r = r, .rec = rec, .off = npmu__stage_data_off(&sg->h, s),
			 .data = scratch_take(conn, rec->length)};
	if (!f.data) {
		free(guard);
		return NPMU_E_NOMEM;
	}
	pthread_mutex_init(&f.lk, NULL);
	pthread_cond_init(&f.cv, NULL);
	pthread_t t;
	int rc = pthread_create(&t, NULL, feed_main, &f) == 0 ? 0 : NPMU_E_NOMEM;
	struct npmu_stripe_cfg cfg = {.k = sg->h.k, .m = sg->h.m, .n = sg->h.n,
				      .seg_size = sg->h.seg_size, .keep = sg->h.keep,
				      .capacity = sg->h.capacity,
				      .durability = (enum npmu_durability)sg->h.durability};
	/* (the mirrored layout's k = 1, m = n - 1 are stored as they are: mirror stays 0) */
	struct npmu__stripe_put_opts o = {.version = rec->version, .data_first = true,
					  .data_ready = feed_ready, .ready_arg = &f,
					  .expect_csum = rec->length_csum};
	if (sg->h.flags & NPMU_STAGE_DATASET_PART) { /* G5: never over a version it lists */
		o.keep_pending = true;
		o.under_lease = npmu__ds_guard;
		o.arg = guard;
	}
	uint64_t t0 = npmu__now_ms();
	LOG_INFO("stripe %s: encoding staged version %llu (%llu bytes)", name,
		 (unsigned long long)rec->version, (unsigned long long)rec->length);
	if (rc == 0) {
		rc = npmu__stripe_writer_put(w, conn, name, f.data, rec->length, &cfg, &o, progress,
					     arg, NULL);
		pthread_join(t, NULL);
	}
	bool torn = f.rc == NPMU_E_CORRUPT;
	free(guard);
	scratch_give(conn, f.data);
	pthread_mutex_destroy(&f.lk);
	pthread_cond_destroy(&f.cv);
	if (torn) {
		LOG_WARN("stripe %s: staged version %llu is torn (its bytes fail their checksum): "
			 "never protected (its writer clears it)", name,
			 (unsigned long long)rec->version);
		return 0;
	}
	if (rc == 0)
		LOG_INFO("stripe %s: staged version %llu protected (%llu bytes, %llu ms after it was "
			 "staged, put in %llu ms)", name, (unsigned long long)rec->version,
			 (unsigned long long)rec->length,
			 (unsigned long long)(wall_ms() > rec->staged_ms ? wall_ms() - rec->staged_ms
									 : 0),
			 (unsigned long long)(npmu__now_ms() - t0));
	return rc == 0 ? 1 : rc;
}

/* npmu_stripe_protect -- protect every staged version of set NAME (see npmu.h). */
int npmu_stripe_protect(struct npmu_conn *conn, const char *name, npmu_progress_fn progress,
			void *arg)
{
	struct npmu_region *r = NULL;
	struct staging sg;
	struct npmu__stripe_seen seen;
	struct npmu__stripe_reader *rd = NULL;
	int rc = staging_find(conn, name, false, true, &r, &sg);
	if (rc == 0)
		rc = set_seen(&rd, conn, name, &seen);
	if (rc != 0 || oldest_pending(&sg, &seen, 0) < 0) { /* nothing to do: no lease taken */
		npmu__stripe_reader_close(&rd);
		npmu_region_close(&r);
		return rc;
	}
	struct npmu__stripe_writer *w = NULL;
	struct npmu_stripe_cfg shape = {.k = sg.h.k, .m = sg.h.m, .n = sg.h.n};
	uint64_t t0 = npmu__now_ms();
	rc = npmu__stripe_writer_claim(&w, conn, name, &shape, 0);
	LOG_DEBUG("stripe %s: claim %s in %llu ms", name, rc == 0 ? "taken" : npmu_strerror(rc),
		  (unsigned long long)(npmu__now_ms() - t0));
	int done = 0;
	uint32_t torn = 0;
	while (rc == 0) { /* under the lease: what is still to do, read again each time */
		if ((rc = npmu__stripe_writer_claim(&w, conn, name, &shape, 0)) != 0)
			break; /* (a failed put gave it back: taken again, or another has it) */
		if ((rc = staging_read(r, &sg)) == 0)
			rc = set_seen(&rd, conn, name, &seen);
		int s = rc == 0 ? oldest_pending(&sg, &seen, torn) : -1;
		if (s < 0)
			break;
		rc = protect_one(conn, name, r, &sg, (uint32_t)s, &w, progress, arg);
		torn |= rc == 0 ? 1u << s : 0;
		done += rc > 0;
		rc = rc > 0 ? 0 : rc;
	}
	npmu__stripe_writer_close(&w);
	npmu__stripe_reader_close(&rd);
	npmu_region_close(&r);
	if (rc == NPMU_E_LEASE)
		return done ? done : NPMU_E_BUSY;
	return rc != 0 ? rc : done;
}

/* ---- what a set holds, and waiting for it ------------------------------------------------- */

/* add_version -- append one entry to a growing list. */
static int add_version(struct npmu_version_info **list, size_t *count,
		       const struct npmu_version_info *v)
{
	struct npmu_version_info *grown = realloc(*list, (*count + 1) * sizeof(**list));
	if (!grown)
		return NPMU_E_NOMEM;
	*list = grown;
	grown[(*count)++] = *v;
	return 0;
}

/* by_version -- newest first. */
static int by_version(const void *a, const void *b)
{
	const struct npmu_version_info *x = a, *y = b;
	return x->version < y->version ? 1 : x->version > y->version ? -1 : 0;
}

/* list_staged -- the staging region's versions into the list (those the set protects are
 * there already: their entries learn when they were staged). */
static int list_staged(const struct staging *sg, const struct npmu__stripe_seen *seen,
		       struct npmu_version_info **list, size_t *count)
{
	int rc = 0;
	for (uint32_t s = 0; rc == 0 && s < sg->h.slots; s++) {
		if (!sg->valid[s])
			continue;
		const struct npmu__stage_rec *rec = &sg->rec[s];
		struct npmu_version_info v = {.version = rec->version, .length = rec->length,
					      .staged_ms = rec->staged_ms};
		snprintf(v.staging, sizeof(v.staging), "%s", sg->unit);
		v.state = judge(sg, seen, rec, &v.members);
		bool listed = false;
		for (size_t i = 0; i < *count && !listed; i++)
			if ((*list)[i].version == rec->version &&
			    (v.state == NPMU_VERSION_PROTECTED || v.state == NPMU_VERSION_PARTIAL)) {
				(*list)[i].staged_ms = rec->staged_ms;
				memcpy((*list)[i].staging, v.staging, sizeof(v.staging));
				listed = true;
			}
		if (!listed)
			rc = add_version(list, count, &v);
	}
	return rc;
}

/* npmu_stripe_versions -- every version a set holds or has staged (see npmu.h). */
int npmu_stripe_versions(struct npmu_conn *conn, const char *name,
			 struct npmu_version_info **list, size_t *count)
{
	if (!conn || !name || !list || !count)
		return NPMU_E_INVAL;
	struct npmu__stripe_reader *rd = NULL;
	struct npmu__stripe_seen seen;
	int rc = npmu__stripe_reader_seen(&rd, conn, name, &seen);
	npmu__stripe_reader_close(&rd);
	bool set = rc == 0;
	if (rc == NPMU_E_NOENT) {
		memset(&seen, 0, sizeof(seen));
		rc = 0;
	} else if (rc != 0) {
		return rc;
	}
	struct npmu_version_info *out = NULL;
	size_t n = 0;
	for (uint32_t i = 0; rc == 0 && i < seen.nversions; i++) {
		struct npmu_version_info v = {.version = seen.v[i].version,
					      .length = seen.v[i].length,
					      .members = seen.v[i].members};
		v.state = seen.v[i].members >= seen.open ? NPMU_VERSION_PROTECTED
							 : NPMU_VERSION_PARTIAL;
		rc = add_version(&out, &n, &v);
	}
	struct npmu_region *r = NULL;
	struct staging sg;
	int src = rc == 0 ? staging_find(conn, name, false, true, &r, &sg) : 0;
	if (rc == 0 && src == 0)
		rc = list_staged(&sg, &seen, &out, &n);
	else if (rc == 0 && src != NPMU_E_NOENT)
		LOG_WARN("stripe %s: its staging region cannot be read (%s): versions staged there "
			 "and not protected are lost unless it comes back", name, npmu_strerror(src));
	npmu_region_close(&r);
	if (rc == 0 && !set && src == NPMU_E_NOENT)
		rc = NPMU_E_NOENT;
	if (rc != 0) {
		free(out);
		return rc;
	}
	if (n > 1) /* (out is NULL when no version is known) */
		qsort(out, n, sizeof(*out), by_version);
	*list = out;
	*count = n;
	return 0;
}

/* npmu_stripe_wait -- wait until a version, or a newer one, is protected (see npmu.h). */
int npmu_stripe_wait(struct npmu_conn *conn, const char *name, uint64_t version, int timeout_ms,
		     uint64_t *protected_version)
{
	if (!conn || !name || !version)
		return NPMU_E_INVAL;
	uint64_t start = npmu__now_ms();
	struct npmu__stripe_reader *rd = NULL;
	struct npmu_region *r = NULL;
	int rc;
	for (;;) {
		struct npmu__stripe_seen seen;
		rc = set_seen(&rd, conn, name, &seen);
		uint64_t top = rc == 0 ? newest_protected(&seen) : 0;
		if (rc == 0 && top >= version) {
			if (protected_version)
				*protected_version = top;
			break;
		}
		struct staging sg;
		int src = r ? staging_read(r, &sg) : staging_find(conn, name, true, false, &r, &sg);
		bool staged = false;
		for (uint32_t s = 0; src == 0 && s < sg.h.slots; s++)
			staged |= sg.valid[s] && sg.rec[s].version == version;
		if (src != 0)
			npmu_region_close(&r); /* opened again: its unit may come back */
		if (rc == 0 && seen.n == 0 && src == NPMU_E_NOENT) {
			LOG_WARN("stripe %s: no such set, and no staging region that answers",
				 name);
			rc = NPMU_E_NOENT; /* (a misspelt name: said at once) */
			break;
		}
		if (rc == 0)
			rc = staged ? NPMU_E_TIMEDOUT : NPMU_E_LOST;
		if (timeout_ms >= 0 && npmu__now_ms() - start >= (uint64_t)timeout_ms)
			break;
		sleep_ms(POLL_MS);
	}
	if (rc == NPMU_E_LOST)
		LOG_WARN("stripe %s: version %llu is not protected, and no staging copy of it can be "
			 "read", name, (unsigned long long)version);
	npmu__stripe_reader_close(&rd);
	npmu_region_close(&r);
	return rc;
}

/* ---- restores ---------------------------------------------------------------------------- */

/* Where a restore goes: the caller's buffer (read) or new memory (get). */
struct restore_to {
	uint8_t *buf;
	uint64_t cap;
	void **data;
	uint64_t *len;
};

/* read_staged -- staged slot s whole into d, checked against its record: 0, NPMU_E_TOOBIG (with
 * *d->len), NPMU_E_CORRUPT (torn, or reused meanwhile), or the read's error. */
static int read_staged(struct npmu_region *r, const struct staging *sg, uint32_t s,
		       struct restore_to *d)
{
	const struct npmu__stage_rec *rec = &sg->rec[s];
	*d->len = rec->length;
	if (d->buf && rec->length > d->cap)
		return NPMU_E_TOOBIG;
	uint8_t *to = d->buf ? d->buf : malloc(rec->length ? rec->length : 1);
	if (!to)
		return NPMU_E_NOMEM;
	int rc = rec->length ? npmu_region_read(r, npmu__stage_data_off(&sg->h, s), to, rec->length)
			     : 0;
	if (rc == 0 && npmu__csum(to, rec->length) != rec->length_csum)
		rc = NPMU_E_CORRUPT;
	if (!d->buf && rc == 0)
		*d->data = to;
	else if (!d->buf)
		free(to);
	return rc;
}

/* staged_candidate -- the slot to restore from: the version asked for (staged, the set holding
 * no manifest of it), or, asked for the newest, the newest staged above every version the set
 * holds and below `below` (0: any); -1 when none. */
static int staged_candidate(const struct staging *sg, const struct npmu__stripe_seen *seen,
			    uint64_t version, uint64_t below)
{
	uint64_t set_top = seen->nversions ? seen->v[0].version : 0;
	int best = -1;
	for (uint32_t s = 0; s < sg->h.slots; s++) {
		if (!sg->valid[s])
			continue;
		uint64_t v = sg->rec[s].version;
		bool held = false;
		for (uint32_t i = 0; i < seen->nversions; i++)
			held |= seen->v[i].version == v;
		bool want = version ? v == version && !held
				    : v > set_top && (!below || v < below);
		if (want && (best < 0 || v > sg->rec[best].version))
			best = (int)s;
	}
	return best;
}

/* restore_staged -- a restore that a staged version answers: 0 when it did (rep says so), 1
 * when the set's members must answer, or an error of its own (NPMU_E_TOOBIG). */
static int restore_staged(struct npmu_conn *conn, const char *name, uint64_t version,
			  struct restore_to *d, struct npmu_stripe_report *rep)
{
	struct npmu_region *r = NULL;
	struct staging sg;
	int rc = staging_find(conn, name, false, true, &r, &sg);
	if (rc != 0) {
		if (rc != NPMU_E_NOENT && rc != NPMU_E_NAME)
			LOG_WARN("stripe %s: its staging region cannot be read (%s): restoring from "
				 "the set's members", name, npmu_strerror(rc));
		return 1;
	}
	struct npmu__stripe_reader *rd = NULL;
	struct npmu__stripe_seen seen;
	rc = set_seen(&rd, conn, name, &seen);
	npmu__stripe_reader_close(&rd);
	uint64_t below = 0;
	int s;
	while (rc == 0 && (s = staged_candidate(&sg, &seen, version, below)) >= 0) {
		rc = read_staged(r, &sg, (uint32_t)s, d);
		if (rc == 0 || rc == NPMU_E_TOOBIG) {
			memset(rep, 0, sizeof(*rep));
			rep->version = rep->newest = sg.rec[s].version;
			rep->staged = 1;
			snprintf(rep->which, sizeof(rep->which),
				 "version %llu is staged, not yet protected: read from its staging "
				 "copy on %s", (unsigned long long)sg.rec[s].version, sg.unit);
			break;
		}
		LOG_WARN("stripe %s: staged version %llu cannot be read whole (%s): %s", name,
			 (unsigned long long)sg.rec[s].version, npmu_strerror(rc),
			 version ? "restoring from the set" : "trying an older one");
		below = sg.rec[s].version;
		rc = version ? 1 : 0;
		if (version)
			break;
	}
	npmu_region_close(&r);
	if (rc == 0 && !rep->staged)
		rc = 1;
	return rc;
}

__asm__(".symver npmu__stripe_get_0_6, npmu_stripe_get@@NPMU_0.6");
__asm__(".symver npmu__stripe_read_0_6, npmu_stripe_read@@NPMU_0.6");
NPMU_API int npmu__stripe_get_0_6(struct npmu_conn *conn, const char *name, uint64_t version,
				  void **data, uint64_t *len, npmu_progress_fn progress, void *arg,
				  struct npmu_stripe_report *rep);
NPMU_API int npmu__stripe_read_0_6(struct npmu_conn *conn, const char *name, uint64_t version,
				   void *buf, uint64_t cap, uint64_t *len,
				   npmu_progress_fn progress, void *arg,
				   struct npmu_stripe_report *rep);

/* npmu__stripe_get_0_6 -- npmu_stripe_get@@NPMU_0.6: a staged version when it is the one to
 * take, else the set's (see npmu.h). */
int npmu__stripe_get_0_6(struct npmu_conn *conn, const char *name, uint64_t version, void **data,
			 uint64_t *len, npmu_progress_fn progress, void *arg,
			 struct npmu_stripe_report *rep)
{
	struct npmu_stripe_report dummy;
	if (!conn || !name || !data || !len)
		return NPMU_E_INVAL;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	uint64_t got = 0;
	struct restore_to d = {.data = data, .len = &got};
	int rc = restore_staged(conn, name, version, &d, rep);
	if (rc == 0)
		*len = got;
	return rc != 1 ? rc : npmu__stripe_get_set(conn, name, version, data, len, progress, arg, rep);
}

/* npmu__stripe_read_0_6 -- npmu_stripe_read@@NPMU_0.6: npmu_stripe_get into buf (see npmu.h). */
int npmu__stripe_read_0_6(struct npmu_conn *conn, const char *name, uint64_t version, void *buf,
			  uint64_t cap, uint64_t *len, npmu_progress_fn progress, void *arg,
			  struct npmu_stripe_report *rep)
{
	struct npmu_stripe_report dummy;
	if (!conn || !name || !len || (!buf && cap))
		return NPMU_E_INVAL;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	uint8_t none;
	struct restore_to d = {.buf = buf ? buf : &none, .cap = cap, .len = len};
	int rc = restore_staged(conn, name, version, &d, rep);
	return rc != 1 ? rc
		       : npmu__stripe_read_set(conn, name, version, buf, cap, len, progress, arg,
					       rep);
}

/* ---- a dataset's parts (G5) ------------------------------------------------------------ */

/* npmu__stage_put_as -- (a dataset's part) stage version `version`, the caller's number (G5):
 * NPMU_E_EXIST, nothing written, when the set or the staging holds it or a newer one. */
int npmu__stage_put_as(struct npmu_stage *st, uint64_t version, const void *data, uint64_t len)
{
	if (!st || !version || (len && !data))
		return NPMU_E_INVAL;
	return stage_one(st, data, len, version, NULL);
}

/* staged_slot -- the slot of sg holding version `version` (with checksum csum unless csum_any),
 * or -1. */
static int staged_slot(const struct staging *sg, uint64_t version, uint64_t csum, bool csum_any)
{
	for (uint32_t s = 0; s < sg->h.slots; s++)
		if (sg->valid[s] && sg->rec[s].version == version &&
		    (csum_any || sg->rec[s].length_csum == csum))
			return (int)s;
	return -1;
}

/* npmu__stage_lookup -- the length and checksum of version `version` as set NAME's staging
 * records it: NPMU_E_NOENT when it holds none, or the error that keeps it from being read. */
int npmu__stage_lookup(struct npmu_conn *conn, const char *name, uint64_t version,
		       uint64_t *length, uint64_t *csum)
{
	struct npmu_region *r = NULL;
	struct staging sg;
	int rc = staging_find(conn, name, false, false, &r, &sg);
	int s = rc == 0 ? staged_slot(&sg, version, 0, true) : -1;
	if (rc == 0 && s < 0)
		rc = NPMU_E_NOENT;
	if (rc == 0) {
		*length = sg.rec[s].length;
		*csum = sg.rec[s].length_csum;
	}
	npmu_region_close(&r);
	return rc;
}

/* npmu__stage_read_part -- len bytes at offset of version `version` (whose bytes have checksum
 * csum) from set NAME's staging: the whole staged copy is read and checked first. NPMU_E_NOENT
 * when the staging holds no such version, NPMU_E_CORRUPT when its bytes do not check. */
int npmu__stage_read_part(struct npmu_conn *conn, const char *name, uint64_t version,
			  uint64_t csum, uint64_t offset, void *buf, uint64_t len)
{
	struct npmu_region *r = NULL;
	struct staging sg;
	int rc = staging_find(conn, name, false, false, &r, &sg);
	int s = rc == 0 ? staged_slot(&sg, version, csum, false) : -1;
	if (rc == 0 && s < 0)
		rc = NPMU_E_NOENT;
	uint64_t whole = s >= 0 ? sg.rec[s].length : 0;
	if (rc == 0 && (offset > whole || len > whole - offset))
		rc = NPMU_E_RANGE;
	uint8_t *tmp = NULL;
	if (rc == 0) {
		bool direct = offset == 0 && len == whole;
		uint64_t got = 0;
		tmp = direct ? buf : malloc(whole ? whole : 1);
		struct restore_to d = {.buf = tmp, .cap = whole, .len = &got};
		rc = tmp ? read_staged(r, &sg, (uint32_t)s, &d) : NPMU_E_NOMEM;
		if (rc == 0 && !direct)
			memcpy(buf, tmp + offset, len);
		if (!direct)
			free(tmp);
		if (rc == NPMU_E_CORRUPT)
			LOG_WARN("stripe %s: the staged copy of version %llu fails its checksum", name,
				 (unsigned long long)version);
	}
	npmu_region_close(&r);
	return rc;
}

/* npmu__stage_part_state -- the state of version `version` (checksum csum) of set NAME: its
 * members' manifests through *rd, then its staging's records. Protected once nothing of it waits
 * in the staging (G4) and its manifest is on some member: put synchronously, or encoded with
 * units down (degraded: `npmu dataset stat` says so) count. */
int npmu__stage_part_state(struct npmu_conn *conn, const char *name, uint64_t version,
			   uint64_t csum, struct npmu__stripe_reader **rd,
			   enum npmu_version_state *state)
{
	struct npmu__stripe_seen seen;
	int rc = set_seen(rd, conn, name, &seen);
	if (rc != 0)
		return rc;
	bool held = false, whole = false;
	for (uint32_t i = 0; i < seen.nversions; i++)
		if (seen.v[i].version == version && seen.v[i].length_csum == csum) {
			held = true;
			whole = seen.open && seen.v[i].members >= seen.open;
		}
	if (whole) {
		*state = NPMU_VERSION_PROTECTED;
		return 0;
	}
	struct npmu_region *r = NULL;
	struct staging sg;
	int src = staging_find(conn, name, true, false, &r, &sg);
	bool staged = src == 0 && staged_slot(&sg, version, csum, false) >= 0;
	npmu_region_close(&r);
	*state = staged ? (held ? NPMU_VERSION_PARTIAL : NPMU_VERSION_STAGED)
			: held ? NPMU_VERSION_PROTECTED
			       : NPMU_VERSION_LOST;
	return 0;
}
