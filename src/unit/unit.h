/* unit.h -- the NPMU: a pool, its regions' windows, and the TPT of registrations programmed by a PMM. */
#ifndef NPMU_UNIT_H
#define NPMU_UNIT_H

#include "fabric.h"
#include "pool.h"
#include "window.h"
#include "wire.h"

/* The runtime half of a TPT entry: a region's window and one registration per open right. */
struct npmu__tpt_entry {
	uint64_t region_id;
	struct npmu__window *win;
	bool fresh; /* made by this process and no right closed since: its pages are the zeros
		     * npmu__pool_zero left, so an open reads nothing ahead (prefetch.h) */
	uint32_t nmr;
	struct {
		uint64_t key;
		uint32_t access;
		struct fid_mr *mr;
	} mr[NPMU_RIGHTS_MAX];
};

struct npmu__unit {
	struct npmu__pool *pool;
	struct npmu__fabric *fab;
	uint32_t nentries;
	struct npmu__tpt_entry *entries; /* one per region, same count as pool->meta */
	struct npmu__flush flush;        /* PERSISTs answered once it runs (group commit) */
	struct npmu__prefetch prefetch;  /* regions opened, read ahead in the background */
	_Atomic uint64_t fences;         /* fence operations (metrics.h) */
	_Atomic uint64_t fenced_rights;  /* read-write rights they closed */
};

/*
 * npmu__unit_new -- serve pool over fab: map every region and re-register every right that
 * the pool records, so keys handed out before a restart keep working.
 */
int npmu__unit_new(struct npmu__pool *pool, struct npmu__fabric *fab, struct npmu__unit **unit_ptr);

/* npmu__unit_delete -- close every registration and window (the pool stays open); NULLs *unit_ptr. */
void npmu__unit_delete(struct npmu__unit **unit_ptr);

/*
 * The operations a PMM programs a unit with. Each validates its arguments, changes the pool's
 * metadata with one crash-consistent commit, and changes nothing when it fails.
 */
/* (rec: the mirror record of a mirrored region's copy, rec_len 0 for a plain region) */
int npmu__unit_create(struct npmu__unit *unit, const char *name, const char *owner, uint64_t size,
		      const uint8_t *rec, size_t rec_len, struct npmu_region_info *info);
int npmu__unit_remove(struct npmu__unit *unit, const char *name);
int npmu__unit_resize(struct npmu__unit *unit, const char *name, uint64_t size,
		      struct npmu_region_info *info);
int npmu__unit_stat(struct npmu__unit *unit, const char *name, struct npmu_region_info *info);
/* npmu__unit_list -- info of regions [start, start+max) in table order; returns the count copied. */
int npmu__unit_list(struct npmu__unit *unit, uint32_t start, struct npmu_region_info *out,
		    uint32_t max, uint32_t *total);
/* npmu__unit_grant -- open a right for holder: register the window under a new random key and
 * record both. NPMU_E_LIMIT when the region has NPMU_RIGHTS_MAX rights, NPMU_RIGHTS_READ_MAX
 * read ones (for a read right) or NPMU_RIGHTS_PER_HOLDER of holder's (wire.h). */
int npmu__unit_grant(struct npmu__unit *unit, const char *name, uint32_t access, uint64_t holder,
		     struct npmu_region_info *info, struct npmu__access_info *ai);

/* npmu__unit_rights_count -- region name's rights: in all, read ones, and holder's (none for
 * holder 0). NPMU_E_NOENT without such a region. */
int npmu__unit_rights_count(struct npmu__unit *unit, const char *name, uint64_t holder,
			    uint32_t *all, uint32_t *reads, uint32_t *held);

/* npmu__unit_reclaim -- close every right to region name whose holder `live` says is dead;
 * returns how many (one pool commit for all). */
int npmu__unit_reclaim(struct npmu__unit *unit, const char *name,
		       bool (*live)(void *arg, uint64_t holder), void *arg);

/* npmu__unit_key_live -- whether key is a live read-write right to region name. */
bool npmu__unit_key_live(struct npmu__unit *unit, const char *name, uint64_t key);
/* npmu__unit_revoke -- close a right: deregister (the key is dead at once) and forget it. */
int npmu__unit_revoke(struct npmu__unit *unit, uint64_t region_id, uint64_t key);
/*
 * npmu__unit_fence -- fence a region's writers: close every read-write right to it (their keys
 * die at once) and, when raise is set, raise the epoch word of its stream header (an aligned
 * 8-byte store, persisted) to one more than it was, or to *epoch if that is more (the copies of
 * a mirrored stream are raised to one epoch); *epoch gets it (0 without raise). NPMU_E_INVAL if
 * raise and it is no stream.
 */
int npmu__unit_fence(struct npmu__unit *unit, const char *name, bool raise, uint64_t *epoch);

/*
 * npmu__unit_mirror_rec -- append a region's mirror record (u16 length + bytes) to reply;
 * with set, first replace it by rec, which must be valid, of the region's size and of a higher
 * generation (NPMU_E_EXIST otherwise), and, when key is not 0, be asked for by the holder of a
 * live read-write right (NPMU_E_FENCED otherwise).
 */
struct npmu__cursor;
int npmu__unit_mirror_rec(struct npmu__unit *unit, const char *name, bool set, uint64_t key,
			  const uint8_t *rec, size_t rec_len, struct npmu__cursor *reply);

/* npmu__key_draw -- one access key candidate from the CSPRNG (new_key rejects 0 and keys in use). */
uint64_t npmu__key_draw(void);

/* npmu__unit_revoke_all -- close every right to a region at once; returns how many. */
int npmu__unit_revoke_all(struct npmu__unit *unit, const char *name);

/* npmu__unit_persist -- queue the ranges of PERSIST req in unit->flush, for a holder of a
 * read-write key (every range checked first); they are durable once npmu__flush_run returns. */
int npmu__unit_persist(struct npmu__unit *unit, const struct npmu__request *req);

#endif
