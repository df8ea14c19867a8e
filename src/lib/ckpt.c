/* ckpt.c -- checkpoint streams: a primary's commits, a backup's follow, leases and takeover. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_format.h"
#include "internal.h"
#include "codec.h"
#include "csum.h"
#include "lease.h"
#include "log.h"
#include "prefault.h"

#define LOG_READ_CHUNK (4u << 20) /* bytes of log read at once; the largest update record */
#define CURSOR_SUFFIX ".cursor"

/*
 * A stream handle's role:
 *   BACKUP   -- reads the stream and marks what it consumed (NAME.cursor); may take over
 *   OBSERVER -- (opts.observe) reads only: no marks, no takeover
 *   PRIMARY  -- holds the lease and commits
 * BACKUP or OBSERVER --(lease taken, state loaded: take_over)--> PRIMARY;
 * PRIMARY --(become_primary failed before any commit: the lease given back)--> BACKUP.
 * npmu_ckpt_open_primary opens a backup handle and takes over at once.
 */
enum ckpt_role { ROLE_BACKUP, ROLE_OBSERVER, ROLE_PRIMARY };

struct npmu_ckpt {
	struct npmu_conn *conn;
	char name[NPMU_NAME_MAX + 1];
	enum ckpt_role role;
	enum npmu_copy read_from;   /* a mirrored stream's copy to read */
	struct npmu_region *data;   /* read-write for the primary, read-only for a backup */
	struct npmu_region *cursor; /* NAME.cursor: read-write for a backup, read-only for the primary */
	struct npmu__ckpt_hdr hdr;
	enum npmu_durability durability;
	int lease_ms;
	int unit_wait_ms;           /* a commit retries a silent unit this long */
	struct npmu__lease_holder lease; /* held, and renewed, while primary */
	/* the state as of seq */
	uint8_t *state;
	uint64_t state_len, seq;
	bool loaded;
	/* append: positions in the log */
	uint64_t base_no, base_lpos, tail, latest_start, latest_end;
	uint8_t *io; /* scratch: one update record, or a chunk of log */
};

/* unit_silent -- an error that says the unit did not answer, not that it refused. */
static bool unit_silent(int rc)
{
	return rc == NPMU_E_TIMEDOUT || rc == NPMU_E_UNREACHABLE || rc == NPMU_E_FABRIC ||
	       rc == NPMU_E_MANAGER;
}

/*
 * put -- write and, at the stream's durability, persist pieces of the stream, together: one
 * round trip and one flush (npmu_region_put). The pieces land in no order among them, so a
 * commit puts a state and the record that points at it with one put only because the record's
 * checksum tells a reader that the state is not whole (it then takes the commit before).
 * While the unit does not answer the same bytes are written again until they land, the
 * writer is fenced, or unit_wait_ms pass: nobody else writes the stream unless it took the
 * lease over, which fences this writer's key at the unit, so a retry changes nothing but the
 * outcome, and the caller learns "committed" or "fenced" -- or, when the unit stays silent
 * that long, its error.
 */
static int put(struct npmu_ckpt *ck, const struct npmu_iov *iov, int iovcnt)
{
	uint64_t give_up = 0;
	useconds_t nap = 10 * 1000;
	for (;;) {
		if (atomic_load(&ck->lease.fenced))
			return NPMU_E_FENCED;
		int rc = npmu_region_put(ck->data, iov, iovcnt, ck->durability);
		if (rc == NPMU_E_KEY || (rc != 0 && atomic_load(&ck->lease.fenced))) {
			atomic_store(&ck->lease.fenced, true);
			return NPMU_E_FENCED;
		}
		if (rc == 0 || !unit_silent(rc) || !ck->lease.renewing)
			return rc;
		if (!give_up)
			give_up = npmu__now_ms() + (uint64_t)ck->unit_wait_ms;
		else if (npmu__now_ms() > give_up)
			return rc;
		usleep(nap);
		nap = nap * 2 > 200 * 1000 ? 200 * 1000 : nap * 2;
	}
}

/* read_hdr -- the header page (with the records), checked; updates ck->hdr. */
static int read_hdr(struct npmu_ckpt *ck, uint8_t page[NPMU_CKPT_HDR])
{
	if (npmu_region_size(ck->data) < NPMU_CKPT_HDR)
		return NPMU_E_CORRUPT; /* too small to be a stream */
	int rc = npmu_region_read(ck->data, 0, page, NPMU_CKPT_HDR);
	if (rc != 0)
		return rc;
	struct npmu__ckpt_hdr h;
	if ((rc = npmu__ckpt_hdr_decode(page, &h)) != 0)
		return rc;
	if (ck->hdr.state_size && (h.mode != ck->hdr.mode || h.state_size != ck->hdr.state_size ||
				   h.log_size != ck->hdr.log_size || h.nslots != ck->hdr.nslots))
		return NPMU_E_CORRUPT;
	ck->hdr = h;
	return 0;
}

/* load_slot -- read slot i's data into a fresh state buffer and, if it matches the record, make
 * it the state (no copy; the old state stays whole until then); 0 or NPMU_E_CORRUPT. */
static int load_slot(struct npmu_ckpt *ck, uint32_t i, const struct npmu__ckpt_rec *r)
{
	if (r->length > ck->hdr.state_size || r->epoch > ck->hdr.epoch)
		return NPMU_E_CORRUPT;
	uint8_t *tmp = calloc(1, ck->hdr.state_size); /* untouched pages cost nothing */
	if (!tmp)
		return NPMU_E_NOMEM;
	struct npmu__prefault pf; /* the fresh pages' faults beside the transfer, not in it */
	npmu__prefault_start(&pf, tmp, r->length);
	int rc = npmu_region_read(ck->data, npmu__ckpt_slot_off(&ck->hdr, i), tmp, r->length);
	npmu__prefault_end(&pf);
	if (rc == 0 && npmu__csum(tmp, r->length) != r->data_csum)
		rc = NPMU_E_CORRUPT;
	if (rc == 0) {
		free(ck->state);
		ck->state = tmp;
		ck->state_len = r->length;
		return 0;
	}
	free(tmp);
	return rc;
}

/* follow_overwrite -- load the newest valid checkpoint if newer than ours; returns 1 or 0. */
static int follow_overwrite(struct npmu_ckpt *ck)
{
	uint8_t page[NPMU_CKPT_HDR];
	int rc = read_hdr(ck, page);
	if (rc != 0)
		return rc;
	struct npmu__ckpt_rec recs[NPMU_CKPT_SLOTS_MAX];
	bool valid[NPMU_CKPT_SLOTS_MAX];
	for (uint32_t i = 0; i < ck->hdr.nslots; i++)
		valid[i] = npmu__ckpt_rec_decode(page + NPMU_CKPT_REC_OFF + i * NPMU_CKPT_REC,
						 &recs[i]) == 0 &&
			   recs[i].seq % ck->hdr.nslots == i;
	for (;;) { /* newest first; a torn or unfinished one falls back to the one before */
		int best = -1;
		for (uint32_t i = 0; i < ck->hdr.nslots; i++)
			if (valid[i] && recs[i].seq > ck->seq && (best < 0 || recs[i].seq > recs[best].seq))
				best = (int)i;
		if (best < 0)
			return 0;
		rc = load_slot(ck, (uint32_t)best, &recs[best]);
		if (rc == 0) {
			ck->seq = recs[best].seq;
			ck->loaded = true;
			return 1;
		}
		if (rc != NPMU_E_CORRUPT)
			return rc;
		valid[best] = false;
	}
}

/* load_base -- the newest valid base into the state; positions set from it. */
static int load_base(struct npmu_ckpt *ck, const uint8_t *page)
{
	struct npmu__ckpt_rec r[2];
	bool valid[2];
	for (int i = 0; i < 2; i++)
		valid[i] = npmu__ckpt_rec_decode(page + NPMU_CKPT_REC_OFF + i * NPMU_CKPT_REC, &r[i]) == 0 &&
			   r[i].seq % 2 == (uint64_t)i;
	LOG_DEBUG("stream %s: base records %d:%llu/%llu %d:%llu/%llu, at seq %llu", ck->name, valid[0],
		  (unsigned long long)r[0].seq, (unsigned long long)r[0].upto, valid[1],
		  (unsigned long long)r[1].seq, (unsigned long long)r[1].upto,
		  (unsigned long long)ck->seq);
	for (int pass = 0; pass < 2; pass++) {
		int best = valid[0] && (!valid[1] || r[0].seq > r[1].seq) ? 0 : valid[1] ? 1 : -1;
		if (best < 0)
			return NPMU_E_CORRUPT;
		if (ck->loaded && r[best].upto <= ck->seq)
			return 0; /* we are at or past that base: keep following the log */
		int rc = load_slot(ck, (uint32_t)best, &r[best]);
		if (rc == 0) {
			ck->seq = r[best].upto;
			ck->base_no = r[best].seq;
			ck->base_lpos = ck->tail = ck->latest_start = ck->latest_end = r[best].lpos;
			ck->loaded = true;
			return 0;
		}
		if (rc != NPMU_E_CORRUPT)
			return rc;
		valid[best] = false;
	}
	return NPMU_E_CORRUPT;
}

/* follow_append -- load a newer base if we fell behind it, then apply the valid updates after
 * our position in order; returns how many commits were applied. */
static int follow_append(struct npmu_ckpt *ck)
{
	uint8_t page[NPMU_CKPT_HDR];
	int rc = read_hdr(ck, page);
	uint64_t before = ck->seq;
	for (int tries = 0; rc == 0 && tries < 8; tries++) {
		rc = load_base(ck, page);
		if (rc != NPMU_E_CORRUPT)
			break;
		rc = read_hdr(ck, page); /* a base being replaced under us: look again */
	}
	if (rc != 0)
		return rc == NPMU_E_CORRUPT && !ck->loaded ? 0 : rc; /* a new stream has no base yet */
	uint64_t L = ck->hdr.log_size, log_off = npmu__ckpt_log_off(&ck->hdr);
	for (;;) { /* one chunk of log at a time; a record never spans two chunks' reads */
		uint64_t phys = ck->tail % L;
		if (L - phys < NPMU_CKPT_UPD_HDR) { /* too little room at the end: implicit wrap */
			ck->tail += L - phys;
			continue;
		}
		size_t avail = (size_t)(L - phys < LOG_READ_CHUNK ? L - phys : LOG_READ_CHUNK);
		if ((rc = npmu_region_read(ck->data, log_off + phys, ck->io, avail)) != 0)
			return rc;
		size_t pos = 0;
		bool progress = false, wrap = false;
		for (;;) {
			struct npmu__ckpt_upd u;
			int v = npmu__ckpt_upd_check(ck->io + pos, avail - pos, ck->tail, ck->seq + 1,
						     ck->hdr.epoch, &u);
			if (v == 1) {
				wrap = true;
				break;
			}
			if (v != 0 || u.offset > ck->hdr.state_size ||
			    u.len > ck->hdr.state_size - u.offset)
				break;
			memcpy(ck->state + u.offset, ck->io + pos + NPMU_CKPT_UPD_HDR, u.len);
			if (u.offset + u.len > ck->state_len)
				ck->state_len = u.offset + u.len;
			uint64_t size = npmu__ckpt_upd_size(u.len);
			ck->latest_start = ck->tail;
			ck->tail += size;
			ck->latest_end = ck->tail;
			ck->seq++;
			pos += size;
			progress = true;
			if (L - (ck->tail % L) < NPMU_CKPT_UPD_HDR || ck->tail % L == 0)
				break;
		}
		if (wrap) {
			ck->tail += L - phys - pos;
			continue;
		}
		if (!progress)
			break;
	}
	return (int)(ck->seq - before);
}

/* write_cursor -- (backup) mark the log consumed up to where we are. */
static void write_cursor(struct npmu_ckpt *ck)
{
	uint8_t b[24];
	struct npmu__cursor c;
	npmu__cursor_init(&c, b, sizeof(b));
	npmu__put_u64(&c, ck->tail);
	npmu__put_u64(&c, ck->seq);
	npmu__put_u64(&c, npmu__csum(b, 16));
	(void)npmu_region_write(ck->cursor, 0, b, sizeof(b)); /* advisory: a failure only delays reuse */
}

/* read_cursor -- how far the backup has consumed (for the unread count); 0 when unknown. */
static uint64_t read_cursor(struct npmu_ckpt *ck)
{
	uint8_t b[24];
	if (!ck->cursor || npmu_region_read(ck->cursor, 0, b, sizeof(b)) != 0)
		return 0;
	struct npmu__cursor c;
	npmu__cursor_init(&c, b, sizeof(b));
	uint64_t lpos = npmu__get_u64(&c);
	(void)npmu__get_u64(&c);
	uint64_t csum = npmu__get_u64(&c);
	return csum == npmu__csum(b, 16) ? lpos : 0;
}

/* npmu_ckpt_follow -- (backup) apply what is new, then mark it consumed. */
int npmu_ckpt_follow(struct npmu_ckpt *ck)
{
	if (!ck)
		return NPMU_E_INVAL;
	int rc = ck->hdr.mode == NPMU_CKPT_APPEND ? follow_append(ck) : follow_overwrite(ck);
	if (rc >= 0 && ck->role == ROLE_BACKUP && ck->hdr.mode == NPMU_CKPT_APPEND)
		write_cursor(ck);
	return rc;
}

/* new_base -- (append) fold the state into a new base in the other slot, then publish it. */
static int new_base(struct npmu_ckpt *ck)
{
	uint64_t no = ck->base_no + 1;
	uint32_t slot = (uint32_t)(no % 2);
	struct npmu__ckpt_rec r = {.seq = no, .epoch = ck->lease.epoch, .length = ck->state_len,
				   .data_csum = npmu__csum(ck->state, ck->state_len),
				   .upto = ck->seq, .lpos = ck->tail};
	uint8_t b[NPMU_CKPT_REC];
	npmu__ckpt_rec_encode(&r, b);
	/* the base and its record at once: a torn base fails its record's checksum, and the
	 * base before (in the other slot) with the log after it still holds the state */
	struct npmu_iov iov[2] = {
		{npmu__ckpt_slot_off(&ck->hdr, slot), ck->state, ck->state_len},
		{NPMU_CKPT_REC_OFF + slot * NPMU_CKPT_REC, b, sizeof(b)}};
	int rc = put(ck, iov, 2);
	if (rc != 0)
		return rc;
	ck->base_no = no;
	ck->base_lpos = ck->tail;
	return 0;
}

/* npmu_ckpt_commit -- (primary) a whole new state. */
int npmu_ckpt_commit(struct npmu_ckpt *ck, const void *state, uint64_t len)
{
	if (!ck || (len && !state))
		return NPMU_E_INVAL;
	if (ck->role != ROLE_PRIMARY)
		return NPMU_E_ACCESS;
	if (len > ck->hdr.state_size)
		return NPMU_E_TOOBIG;
	if (atomic_load(&ck->lease.fenced))
		return NPMU_E_FENCED;
	memcpy(ck->state, state, len);
	ck->state_len = len;
	if (ck->hdr.mode == NPMU_CKPT_APPEND)
		return new_base(ck);
	uint64_t seq = ck->seq + 1;
	uint32_t slot = (uint32_t)(seq % ck->hdr.nslots);
	struct npmu__ckpt_rec r = {.seq = seq, .epoch = ck->lease.epoch, .length = len,
				   .data_csum = npmu__csum(state, len)};
	uint8_t b[NPMU_CKPT_REC];
	npmu__ckpt_rec_encode(&r, b);
	/* the state and its record at once: a torn state fails the record's checksum, and the
	 * commit before (in another slot) is taken */
	struct npmu_iov iov[2] = {{npmu__ckpt_slot_off(&ck->hdr, slot), state, len},
				  {NPMU_CKPT_REC_OFF + slot * NPMU_CKPT_REC, b, sizeof(b)}};
	int rc = put(ck, iov, 2);
	if (rc != 0)
		return rc;
	ck->seq = seq;
	return 0;
}

/* npmu_ckpt_update -- (primary, append) one update record after the last. */
int npmu_ckpt_update(struct npmu_ckpt *ck, uint64_t offset, const void *data, uint32_t len)
{
	if (!ck || (len && !data))
		return NPMU_E_INVAL;
	if (ck->role != ROLE_PRIMARY || ck->hdr.mode != NPMU_CKPT_APPEND)
		return NPMU_E_ACCESS;
	uint64_t L = ck->hdr.log_size, need = npmu__ckpt_upd_size(len);
	if (offset > ck->hdr.state_size || len > ck->hdr.state_size - offset ||
	    need > L - NPMU_CKPT_UPD_HDR || need > LOG_READ_CHUNK)
		return NPMU_E_TOOBIG;
	if (atomic_load(&ck->lease.fenced))
		return NPMU_E_FENCED;
	for (;;) {
		uint64_t phys = ck->tail % L, gap = L - phys < need ? L - phys : 0;
		uint64_t end = ck->tail + gap + need;
		/* The log holds the updates since the base: reusing it means folding them into a new
		 * base first (what a backup consumed is still needed by any later reader). */
		if (end - ck->base_lpos > L) {
			int rc = new_base(ck);
			if (rc != 0)
				return rc;
			continue;
		}
		/* a skip record (at the log's end, when the update does not fit before it) and the
		 * update at once: a reader checks each, and stops at the first that is not whole */
		uint8_t skip[16];
		struct npmu_iov iov[2];
		int n = 0;
		if (gap >= NPMU_CKPT_UPD_HDR) {
			npmu__ckpt_skip_encode(ck->tail, skip);
			iov[n++] = (struct npmu_iov){npmu__ckpt_log_off(&ck->hdr) + phys, skip,
						     sizeof(skip)};
		}
		uint64_t lpos = ck->tail + gap;
		struct npmu__ckpt_upd u = {.len = len, .seq = ck->seq + 1, .epoch = ck->lease.epoch,
					   .offset = offset, .lpos = lpos};
		npmu__ckpt_upd_encode(&u, data, ck->io);
		iov[n++] = (struct npmu_iov){npmu__ckpt_log_off(&ck->hdr) + lpos % L, ck->io, need};
		int rc = put(ck, iov, n);
		if (rc != 0)
			return rc;
		memcpy(ck->state + offset, data, len);
		if (offset + len > ck->state_len)
			ck->state_len = offset + len;
		ck->seq++;
		ck->latest_start = lpos;
		ck->tail = ck->latest_end = end;
		return 0;
	}
}

/* cursor_name -- NAME.cursor. */
static int cursor_name(const char *name, char out[NPMU_NAME_MAX + 1])
{
	size_t n = strlen(name);
	if (n + strlen(CURSOR_SUFFIX) > NPMU_NAME_MAX)
		return NPMU_E_NAME;
	snprintf(out, NPMU_NAME_MAX + 1, "%s%s", name, CURSOR_SUFFIX);
	return 0;
}

/* npmu_ckpt_create -- a stream region with its header, and its cursor region. */
int npmu_ckpt_create(struct npmu_conn *conn, const char *name, const struct npmu_ckpt_cfg *cfg)
{
	char cname[NPMU_NAME_MAX + 1];
	if (!conn || !name || !cfg || cfg->state_size == 0 ||
	    (cfg->mode != NPMU_CKPT_OVERWRITE && cfg->mode != NPMU_CKPT_APPEND) ||
	    (cfg->keep && (cfg->keep < 2 || cfg->keep > NPMU_CKPT_SLOTS_MAX)))
		return NPMU_E_INVAL;
	int rc = cursor_name(name, cname);
	if (rc != 0)
		return rc;
	struct npmu__ckpt_hdr h = {.mode = cfg->mode, .state_size = cfg->state_size};
	if (cfg->mode == NPMU_CKPT_APPEND) {
		h.nslots = 2;
		h.log_size = cfg->log_size ? cfg->log_size : 4 * cfg->state_size;
		if (h.log_size < (1u << 20))
			h.log_size = 1u << 20;
		h.log_size = (h.log_size + 4095) & ~4095ull;
	} else {
		h.nslots = cfg->keep ? cfg->keep : 2;
	}
	struct npmu_region_opts ro = {.mirror = cfg->mirror};
	if ((rc = npmu_region_create_ex(conn, name, npmu__ckpt_region_size(&h), &ro, NULL)) != 0)
		return rc;
	struct npmu_region *r;
	if ((rc = npmu_region_open(conn, name, NPMU_ACCESS_READ_WRITE, &r)) != 0) {
		npmu_region_delete(conn, name);
		return rc;
	}
	uint8_t b[56];
	npmu__ckpt_hdr_encode(&h, b);
	rc = npmu_region_write(r, 0, b, sizeof(b));
	if (rc == 0)
		rc = npmu_region_persist(r, 0, sizeof(b), NPMU_PERSISTENT);
	/* the cursor beside the stream, on the same unit (a mirrored stream's: the same two), so
	 * that the stream lives and dies with one unit (or pair), not two */
	char unit[NPMU_ADDR_STR_MAX + 1], unit2[NPMU_ADDR_STR_MAX + 1];
	snprintf(unit, sizeof(unit), "%s", r->mirrored ? r->m.copy[0].unit : r->ai.unit);
	snprintf(unit2, sizeof(unit2), "%s", r->mirrored ? r->m.copy[1].unit : "");
	npmu_region_close(&r);
	ro.unit = unit[0] ? unit : NULL;
	ro.mirror_unit = unit2[0] ? unit2 : NULL;
	if (rc == 0)
		rc = npmu_region_create_ex(conn, cname, 4096, &ro, NULL);
	if (rc != 0)
		npmu_region_delete(conn, name);
	return rc;
}

/* ckpt_new -- a backup's (or an observer's) handle with its buffers, for the stream's shape in
 * the header. */
static int ckpt_new(struct npmu_conn *conn, const char *name, const struct npmu_ckpt_opts *opts,
		    struct npmu_ckpt **out)
{
	if (!conn || !name || !out)
		return NPMU_E_INVAL;
	struct npmu_ckpt *ck = calloc(1, sizeof(*ck));
	if (!ck)
		return NPMU_E_NOMEM;
	ck->conn = conn;
	snprintf(ck->name, sizeof(ck->name), "%s", name);
	ck->durability = opts && opts->durability ? opts->durability : NPMU_PERSISTENT;
	const char *env = getenv("NPMU_LEASE_MS");
	ck->lease_ms = opts && opts->lease_ms > 0 ? opts->lease_ms
		       : env && atoi(env) >= 30 ? atoi(env) : 300;
	const char *wait = getenv("NPMU_UNIT_WAIT_MS");
	ck->unit_wait_ms = opts && opts->unit_wait_ms > 0 ? opts->unit_wait_ms
			   : wait && atoi(wait) > 0 ? atoi(wait) : 30000;
	ck->role = opts && opts->observe ? ROLE_OBSERVER : ROLE_BACKUP;
	ck->read_from = opts ? opts->read_from : NPMU_COPY_NEAREST;
	npmu__lease_init(&ck->lease, name, 0, ck->lease_ms);
	char cname[NPMU_NAME_MAX + 1];
	int rc = cursor_name(name, cname);
	if (rc == 0)
		rc = npmu_region_open_copy(conn, name, NPMU_ACCESS_READ, ck->read_from, &ck->data);
	uint8_t page[NPMU_CKPT_HDR];
	if (rc == 0)
		rc = read_hdr(ck, page); /* a region that is no stream is told as such first */
	if (rc == 0)
		rc = npmu_region_open(conn, cname,
				      ck->role == ROLE_OBSERVER ? NPMU_ACCESS_READ : NPMU_ACCESS_READ_WRITE,
				      &ck->cursor);
	if (rc == 0 && npmu__ckpt_region_size(&ck->hdr) > npmu_region_size(ck->data))
		rc = NPMU_E_CORRUPT;
	if (rc == 0) {
		ck->state = calloc(1, ck->hdr.state_size);
		ck->io = malloc(LOG_READ_CHUNK);
		if (!ck->state || !ck->io)
			rc = NPMU_E_NOMEM;
	}
	if (rc != 0) {
		npmu_ckpt_close(&ck);
		return rc;
	}
	*out = ck;
	return 0;
}

/* become_primary -- after taking the lease: renewal (at once: the lease runs from now on),
 * read-write right, full state. */
static int become_primary(struct npmu_ckpt *ck)
{
	int rc;
	if (ck->data && (ck->data->ai.access != NPMU_ACCESS_READ_WRITE ||
			 ck->data->lease != ck->lease.id)) { /* (a right of an earlier attempt is fenced) */
		npmu_region_close(&ck->data);
		rc = npmu__region_open_leased(ck->conn, ck->name, NPMU_ACCESS_READ_WRITE,
					      ck->lease.id, &ck->data);
		if (rc != 0)
			return rc;
		ck->data->read_from = ck->read_from;
	}
	atomic_store(&ck->lease.proof, ck->data->ai.key); /* for a manager that restarted */
	rc = npmu_ckpt_follow(ck); /* everything not yet read, under the new epoch */
	if (rc < 0)
		return rc;
	ck->role = ROLE_PRIMARY;
	if (ck->hdr.mode == NPMU_CKPT_APPEND && !ck->loaded) {
		if ((rc = new_base(ck)) != 0) /* a new stream: readers start from an empty base */
			return rc;
		ck->loaded = true;
	} else if (ck->hdr.mode == NPMU_CKPT_APPEND && ck->data->mirrored) {
		/* The old writer's last put may have reached one copy only (it died in between):
		 * the update chain we adopted from one copy can be broken on the other, and every
		 * update we append would be out of reach there. A new base, written to every copy,
		 * makes them agree again before anything new is committed. */
		if ((rc = new_base(ck)) != 0)
			return rc;
	}
	return atomic_load(&ck->lease.fenced) ? NPMU_E_FENCED : 0;
}

/* take_over -- after the lease was granted: become the primary; on failure (a unit away, say)
 * give the lease back, so that a later attempt takes it afresh. */
static int take_over(struct npmu_ckpt *ck)
{
	int rc = become_primary(ck);
	if (rc != 0 && rc != NPMU_E_FENCED) {
		npmu__lease_release(&ck->lease);
		ck->role = ROLE_BACKUP;
	}
	return rc;
}

/* npmu_ckpt_open_primary -- take the lease (fencing any earlier writer) and load the state. */
int npmu_ckpt_open_primary(struct npmu_conn *conn, const char *name,
			   const struct npmu_ckpt_opts *opts, struct npmu_ckpt **ck_ptr)
{
	struct npmu_ckpt *ck;
	int rc = ckpt_new(conn, name, opts, &ck);
	if (rc != 0)
		return rc;
	if ((rc = npmu__lease_take(&ck->lease, conn, 0)) == 0)
		rc = take_over(ck);
	if (rc != 0) {
		npmu_ckpt_close(&ck);
		return rc;
	}
	*ck_ptr = ck;
	return 0;
}

/* npmu_ckpt_open_backup -- follow a stream read-only. */
int npmu_ckpt_open_backup(struct npmu_conn *conn, const char *name,
			  const struct npmu_ckpt_opts *opts, struct npmu_ckpt **ck_ptr)
{
	return ckpt_new(conn, name, opts, ck_ptr);
}

/* npmu_ckpt_takeover -- wait for the primary's lease to lapse, take it, catch up, write. */
int npmu_ckpt_takeover(struct npmu_ckpt *ck, int wait_ms)
{
	if (!ck || ck->role != ROLE_BACKUP)
		return NPMU_E_INVAL;
	uint64_t deadline = npmu__now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
	unsigned backoff_ms = 10;
	for (;;) {
		int rc = npmu__lease_take(&ck->lease, ck->conn, 0);
		if (rc == 0)
			return take_over(ck);
		if ((rc != NPMU_E_LEASE && rc != NPMU_E_MANAGER) || npmu__now_ms() >= deadline)
			return rc;
		(void)npmu_ckpt_follow(ck); /* keep up while waiting */
		if (rc == NPMU_E_MANAGER) { /* ask again, less often while it stays silent */
			usleep(backoff_ms * 1000);
			backoff_ms = backoff_ms * 2 > 500 ? 500 : backoff_ms * 2;
		} else {
			usleep(10 * 1000);
			backoff_ms = 10;
		}
	}
}

/* npmu_ckpt_state -- the local copy of the state. */
const void *npmu_ckpt_state(const struct npmu_ckpt *ck, uint64_t *len, uint64_t *seq)
{
	if (!ck)
		return NULL;
	if (len)
		*len = ck->state_len;
	if (seq)
		*seq = ck->seq;
	return ck->state;
}

/* npmu_ckpt_sets -- every kept, valid checkpoint of an overwrite stream, newest first. */
int npmu_ckpt_sets(struct npmu_ckpt *ck, struct npmu_ckpt_set **sets, size_t *count)
{
	if (!ck || !sets || !count)
		return NPMU_E_INVAL;
	if (ck->hdr.mode != NPMU_CKPT_OVERWRITE)
		return NPMU_E_INVAL;
	uint8_t page[NPMU_CKPT_HDR];
	int rc = read_hdr(ck, page);
	if (rc != 0)
		return rc;
	struct npmu_ckpt_set *out = calloc(ck->hdr.nslots, sizeof(*out));
	if (!out)
		return NPMU_E_NOMEM;
	size_t n = 0;
	for (uint32_t i = 0; i < ck->hdr.nslots && rc == 0; i++) {
		struct npmu__ckpt_rec r;
		if (npmu__ckpt_rec_decode(page + NPMU_CKPT_REC_OFF + i * NPMU_CKPT_REC, &r) != 0 ||
		    r.seq % ck->hdr.nslots != i || r.length > ck->hdr.state_size ||
		    r.epoch > ck->hdr.epoch)
			continue;
		void *data = malloc(r.length ? r.length : 1);
		if (!data) {
			rc = NPMU_E_NOMEM;
			break;
		}
		rc = npmu_region_read(ck->data, npmu__ckpt_slot_off(&ck->hdr, i), data, r.length);
		if (rc != 0 || npmu__csum(data, r.length) != r.data_csum) {
			free(data); /* torn, corrupt, or being rewritten: not a checkpoint */
			continue;
		}
		out[n++] = (struct npmu_ckpt_set){r.seq, r.epoch, r.length, data};
	}
	if (rc != 0) {
		npmu_ckpt_sets_free(out, n);
		return rc;
	}
	for (size_t a = 0; a < n; a++) /* newest first */
		for (size_t b = a + 1; b < n; b++)
			if (out[b].seq > out[a].seq) {
				struct npmu_ckpt_set t = out[a];
				out[a] = out[b];
				out[b] = t;
			}
	*sets = out;
	*count = n;
	return 0;
}

/* npmu_ckpt_sets_free -- free what npmu_ckpt_sets returned. */
void npmu_ckpt_sets_free(struct npmu_ckpt_set *sets, size_t count)
{
	for (size_t i = 0; sets && i < count; i++)
		free(sets[i].data);
	free(sets);
}

/* npmu_ckpt_stat -- what the stream and this handle know. */
int npmu_ckpt_stat(struct npmu_ckpt *ck, struct npmu_ckpt_info *info)
{
	if (!ck || !info)
		return NPMU_E_INVAL;
	uint8_t page[NPMU_CKPT_HDR];
	int rc = read_hdr(ck, page);
	if (rc != 0)
		return rc;
	memset(info, 0, sizeof(*info));
	info->mode = (enum npmu_ckpt_mode)ck->hdr.mode;
	info->epoch = ck->hdr.epoch;
	info->seq = ck->seq;
	info->state_size = ck->hdr.state_size;
	info->state_len = ck->state_len;
	info->log_size = ck->hdr.log_size;
	info->latest_start = ck->latest_start;
	info->latest_end = ck->latest_end;
	if (ck->hdr.mode == NPMU_CKPT_APPEND) {
		uint64_t c = ck->role != ROLE_BACKUP ? read_cursor(ck) : ck->tail;
		info->unread = c && c <= ck->tail ? ck->tail - c : ck->tail - ck->base_lpos;
	}
	struct npmu__request req = {.ttl_ms = 1000, .lease_op = 2};
	snprintf(req.name, sizeof(req.name), "%s", ck->name);
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&ck->conn->rpc.lock);
	rc = npmu__conn_call(ck->conn, NPMU_MSG_LEASE, &req, &body, &blen);
	if (rc == 0) {
		struct npmu__lease_reply lr;
		if ((rc = npmu__reply_lease(body, blen, true, &lr)) == 0) {
			info->lease_state = (enum npmu_lease_state)lr.state; /* (checked: 0..2) */
			info->lease_left_ms = lr.left_ms;
			snprintf(info->lease_holder, sizeof(info->lease_holder), "%s", lr.holder);
		}
	}
	pthread_mutex_unlock(&ck->conn->rpc.lock);
	return rc;
}

/* npmu_ckpt_close -- release the lease, close the rights, free. */
int npmu_ckpt_close(struct npmu_ckpt **ck_ptr)
{
	if (!ck_ptr || !*ck_ptr)
		return NPMU_E_INVAL;
	struct npmu_ckpt *ck = *ck_ptr;
	if (ck->role == ROLE_PRIMARY)
		npmu__lease_release(&ck->lease);
	if (ck->data)
		npmu_region_close(&ck->data);
	if (ck->cursor)
		npmu_region_close(&ck->cursor);
	npmu__lease_fini(&ck->lease);
	free(ck->state);
	free(ck->io);
	free(ck);
	*ck_ptr = NULL;
	return 0;
}
