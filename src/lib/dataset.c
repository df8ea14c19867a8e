/* dataset.c -- datasets: checkpoints of N parts committed together, read back by any process
 * at any byte range. Layout and invariants: src/proto/dataset_format.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "clock.h"
#include "dataset_format.h"
#include "stage_format.h"
#include "internal.h"
#include "log.h"
#include "stage_ops.h"
#include "stripe_format.h"
#include "stripe_ops.h"

#define SUFFIX_MAX 10                   /* ".p1023.s63": a part's member region */
#define NAME_MAX_DS NPMU_DATASET_NAME_MAX
_Static_assert(NAME_MAX_DS + SUFFIX_MAX == NPMU_NAME_MAX, "a part's member names are regions'");
#define CATALOG_SEG (128u << 10)        /* one sub-segment holds the largest catalog */
_Static_assert(NPMU_DS_CATALOG_MAX <= CATALOG_SEG, "a catalog is one sub-segment");
#define KEEP_DEFAULT 2
#define PINS_DEFAULT 1

struct npmu_dataset {
	struct npmu_conn *conn;
	char name[NAME_MAX_DS + 1];
	uint32_t parts;                   /* this process's N; 0: reading only */
	enum npmu_durability durability;  /* of its puts */
	struct npmu__ds_catalog cat;      /* as last read */
	struct npmu__stripe_reader **readers; /* parts kept open for reading, by part */
	uint32_t nreaders;
	struct npmu__stripe_writer **writers; /* parts this process puts, lease held, by part */
	uint32_t nwriters;
	struct npmu__stripe_reader *catalog;  /* the catalog, kept open: read at every put */
	bool staging;                     /* npmu_dataset_stage: puts are staged */
	struct npmu_stage_cfg stage;      /* how (its unit in stage_unit) */
	char stage_unit[128];
	struct npmu_stage **stagers;      /* parts this process stages, by part */
	uint32_t nstagers;
};

/* A handle of a job of up to this many processes keeps the catalog open between its reads
 * (each copy of the catalog has NPMU_RIGHTS_READ_MAX = 56 read rights, one per reader that
 * holds it open: every process of a larger job keeping one would leave none for the rest). */
#define CATALOG_KEPT_PARTS_MAX 32u

/* catalog_via -- the reader through which ds reads its catalog: its own, kept open, for a
 * job of up to CATALOG_KEPT_PARTS_MAX processes that puts; NULL (opened for each read) for a
 * larger job, or a handle that only reads. */
static struct npmu__stripe_reader **catalog_via(struct npmu_dataset *ds)
{
	return ds->parts && ds->parts <= CATALOG_KEPT_PARTS_MAX ? &ds->catalog : NULL;
}

/* slot_of -- the slot of entry p in *arr of *n (grown as needed), or NULL without memory. */
static void **slot_of(void ***arr, uint32_t *n, uint32_t p)
{
	if (p >= *n) {
		uint32_t want = p + 1 > 2 * *n ? p + 1 : 2 * *n;
		void **grown = realloc(*arr, want * sizeof(**arr));
		if (!grown)
			return NULL;
		memset(grown + *n, 0, (want - *n) * sizeof(*grown));
		*arr = grown;
		*n = want;
	}
	return &(*arr)[p];
}

/* reader_of -- part p's reader slot, or NULL without memory. */
static struct npmu__stripe_reader **reader_of(struct npmu_dataset *ds, uint32_t p)
{
	return (struct npmu__stripe_reader **)slot_of((void ***)&ds->readers, &ds->nreaders, p);
}

/* writer_of -- part p's writer slot, or NULL without memory. */
static struct npmu__stripe_writer **writer_of(struct npmu_dataset *ds, uint32_t p)
{
	return (struct npmu__stripe_writer **)slot_of((void ***)&ds->writers, &ds->nwriters, p);
}

/* catalog_cfg -- the catalog's set: as many full copies as a part survives losses, plus one. */
static struct npmu_stripe_cfg catalog_cfg(const struct npmu__ds_catalog *cat)
{
	return (struct npmu_stripe_cfg){.mirror = 1, .n = cat->mirror ? cat->n : cat->m + 1,
					.seg_size = CATALOG_SEG, .keep = 2,
					.capacity = NPMU_DS_CATALOG_MAX};
}

/* stager_of -- part p's staging writer slot, or NULL without memory. */
static struct npmu_stage **stager_of(struct npmu_dataset *ds, uint32_t p)
{
	return (struct npmu_stage **)slot_of((void ***)&ds->stagers, &ds->nstagers, p);
}

/* part_cfg -- a part's set: the dataset's protection, keep + pins + 2 slots (D2). */
static struct npmu_stripe_cfg part_cfg(const struct npmu__ds_catalog *cat, uint64_t len)
{
	return (struct npmu_stripe_cfg){.k = cat->k, .m = cat->m, .n = cat->n,
					.seg_size = cat->seg_size, .mirror = cat->mirror,
					.keep = cat->keep + cat->pins + 2,
					.capacity = cat->capacity ? cat->capacity : len};
}

/* shape_of -- the catalog a new dataset gets from cfg (defaults filled); NPMU_E_INVAL when a
 * field is out of range. */
static int shape_of(const char *name, const struct npmu_dataset_cfg *cfg,
		    struct npmu__ds_catalog *cat)
{
	memset(cat, 0, sizeof(*cat));
	cat->mirror = cfg->mirror != 0;
	cat->n = cfg->n ? cfg->n : cat->mirror ? 2 : 0;
	cat->k = cat->mirror ? 1 : cfg->k ? cfg->k : 4;
	cat->m = cat->mirror ? cat->n - 1 : cfg->m ? cfg->m : 2;
	cat->n = cat->n ? cat->n : cat->k + cat->m;
	cat->seg_size = cfg->seg_size ? cfg->seg_size : 1u << 20;
	cat->capacity = cfg->capacity;
	cat->keep = cfg->keep ? cfg->keep : KEEP_DEFAULT;
	cat->pins = cfg->pins ? cfg->pins : PINS_DEFAULT;
	if (cat->keep > NPMU_DS_KEEP_MAX || cat->pins > NPMU_DS_PINS_MAX || cat->m < 1 ||
	    cat->n < (uint64_t)cat->k + cat->m || cat->n > NPMU_STRIPE_UNITS_MAX ||
	    cat->seg_size % 4096 != 0) {
		LOG_WARN("dataset %s: a shape out of range: k %u, m %u, n %u, seg %llu, keep %u "
			 "(1..%d), pins %u (up to %d)", name, cat->k, cat->m, cat->n,
			 (unsigned long long)cat->seg_size, cat->keep, NPMU_DS_KEEP_MAX, cat->pins,
			 NPMU_DS_PINS_MAX);
		return NPMU_E_INVAL;
	}
	return 0;
}

/* shape_differs -- the first field cfg asks for that the dataset does not have, or NULL. */
static const char *shape_differs(const struct npmu__ds_catalog *cat,
				 const struct npmu_dataset_cfg *cfg)
{
	if (cfg->mirror && !cat->mirror)
		return "mirror";
	if (!cat->mirror && cfg->k && cfg->k != cat->k)
		return "k";
	if (!cat->mirror && cfg->m && cfg->m != cat->m)
		return "m";
	if (cfg->n && cfg->n != cat->n)
		return "n";
	if (cfg->seg_size && cfg->seg_size != cat->seg_size)
		return "seg_size";
	if (cfg->capacity && cfg->capacity != cat->capacity)
		return "capacity";
	if (cfg->keep && cfg->keep != cat->keep)
		return "keep";
	if (cfg->pins && cfg->pins != cat->pins)
		return "pins";
	return NULL;
}

/* create_fn -- (under the catalog's lease) the new catalog, unless another process made one
 * first (then nothing changes). */
static int create_fn(const void *cur, uint64_t cur_len, void **out, uint64_t *out_len, void *arg)
{
	(void)cur_len;
	if (cur)
		return 1;
	return npmu__ds_encode(arg, out, out_len);
}

/* npmu_dataset_open -- open dataset NAME, creating it from cfg when it does not exist. */
int npmu_dataset_open(struct npmu_conn *conn, const char *name,
		      const struct npmu_dataset_cfg *cfg, struct npmu_dataset **ds_ptr)
{
	if (!conn || !name || !ds_ptr || (cfg && cfg->parts > NPMU_DATASET_PARTS_MAX) ||
	    (cfg && cfg->durability && cfg->durability != NPMU_PLACED &&
	     cfg->durability != NPMU_PERSISTENT))
		return NPMU_E_INVAL;
	if (!name[0] || strlen(name) > NAME_MAX_DS) {
		LOG_WARN("dataset %.80s: names are 1 to %d bytes", name, NAME_MAX_DS);
		return NPMU_E_NAME;
	}
	struct npmu_dataset *ds = calloc(1, sizeof(*ds));
	if (!ds)
		return NPMU_E_NOMEM;
	ds->conn = conn;
	snprintf(ds->name, sizeof(ds->name), "%s", name);
	ds->parts = cfg ? cfg->parts : 0;
	ds->durability = cfg && cfg->durability ? cfg->durability : NPMU_PERSISTENT;
	int rc = npmu__ds_read_catalog(conn, name, &ds->cat, catalog_via(ds));
	if (rc == NPMU_E_NOENT && ds->cat.flags == 0 && ds->parts) {
		struct npmu__ds_catalog want;
		char cname[NPMU_NAME_MAX + 1];
		npmu__ds_catalog_name(name, cname);
		if ((rc = shape_of(name, cfg, &want)) == 0) {
			struct npmu_stripe_cfg cc = catalog_cfg(&want);
			rc = npmu__stripe_update(conn, cname, &cc, -1, create_fn, &want);
		}
		if (rc == 0)
			rc = npmu__ds_read_catalog(conn, name, &ds->cat, catalog_via(ds));
		if (rc == 0)
			LOG_INFO("dataset %s: %u+%u over %u units, keeping %u versions", name,
				 ds->cat.k, ds->cat.m, ds->cat.n, ds->cat.keep);
	}
	const char *field = rc == 0 && cfg ? shape_differs(&ds->cat, cfg) : NULL;
	if (field) {
		LOG_WARN("dataset %s: cfg.%s differs from the dataset's own (a dataset's shape is fixed "
			 "when it is made)", name, field);
		rc = NPMU_E_INVAL;
	}
	if (rc != 0) {
		npmu_dataset_close(&ds);
		return rc;
	}
	*ds_ptr = ds;
	return 0;
}

/* What a part's put learns from the catalog under the part's lease. */
struct put_arg {
	struct npmu_dataset *ds;
	uint64_t keep[NPMU_DS_VERSIONS_MAX];
};

/* put_check -- (under the part's lease) the catalog read: the dataset not being deleted, the
 * version above every complete one; o keeps every listed version, and the one being committed
 * (the newest the part holds above them: D2). */
static int put_check(struct npmu__stripe_put_opts *o, void *arg)
{
	struct put_arg *a = arg;
	struct npmu_dataset *ds = a->ds;
	int rc = npmu__ds_read_catalog(ds->conn, ds->name, &ds->cat, catalog_via(ds));
	if (rc != 0)
		return rc;
	const struct npmu__ds_catalog *cat = &ds->cat;
	uint64_t newest = cat->nversions ? cat->v[0].version : 0;
	if (o->version <= newest) {
		LOG_WARN("dataset %s: version %llu is not above the newest complete one, %llu: "
			 "versions only grow", ds->name, (unsigned long long)o->version,
			 (unsigned long long)newest);
		return NPMU_E_INVAL;
	}
	npmu__ds_keep_listed(cat, o, a->keep);
	return 0;
}

/* put_staged -- part `part` of `version` staged (D3): 0; NPMU_E_EXIST when the part holds
 * this version or a newer one (a restarted job), NPMU_E_LIMIT when its staging is full and the
 * handle asked for NPMU_STAGE_SYNC, or another error of the staging (its unit down): put
 * synchronously then; or an error that stops the put (*fatal set). */
static int put_staged(struct npmu_dataset *ds, uint64_t version, uint32_t part, const char *pname,
		      const struct npmu_stripe_cfg *pc, const void *data, uint64_t len,
		      bool *fatal)
{
	*fatal = true;
	int rc = npmu__ds_read_catalog(ds->conn, ds->name, &ds->cat, catalog_via(ds));
	uint64_t newest = rc == 0 && ds->cat.nversions ? ds->cat.v[0].version : 0;
	if (rc == 0 && version <= newest) {
		LOG_WARN("dataset %s: version %llu is not above the newest complete one, %llu: "
			 "versions only grow", ds->name, (unsigned long long)version,
			 (unsigned long long)newest);
		return NPMU_E_INVAL;
	}
	struct npmu_stage **st = stager_of(ds, part);
	if (rc != 0 || !st)
		return rc ? rc : NPMU_E_NOMEM;
	if (!*st) {
		struct npmu_stripe_cfg set = *pc;
		set.durability = ds->durability;
		rc = npmu__stage_open_part(ds->conn, pname, &set, &ds->stage, st);
	}
	if (rc == 0)
		rc = npmu__stage_put_as(*st, version, data, len);
	*fatal = rc == NPMU_E_TIMEDOUT || rc == NPMU_E_TOOBIG || rc == NPMU_E_INVAL ||
		 rc == NPMU_E_NOMEM;
	if (rc != 0 && rc != NPMU_E_TIMEDOUT && *st)
		npmu_stage_close(st); /* opened again at the next put: its unit may be back */
	return rc;
}

/* npmu_dataset_put -- part `part` of version `version`, in a slot no kept version uses; the
 * catalog is read under the part's lease, so a deletion either waits for it or stops it.
 * Staged (npmu_dataset_stage): written to the part's staging instead; put synchronously when
 * the part holds this version or a newer one, when its staging is full and the handle asked
 * for that, or when its staging cannot be written (its unit down) (D3). */
int npmu_dataset_put(struct npmu_dataset *ds, uint64_t version, uint32_t part, const void *data,
		     uint64_t len)
{
	if (!ds || version == 0 || (len && !data))
		return NPMU_E_INVAL;
	if (part >= ds->parts) {
		LOG_WARN("dataset %s: part %u of a job of %u part(s) (cfg.parts at open)", ds->name,
			 part, ds->parts);
		return NPMU_E_INVAL;
	}
	const struct npmu__ds_catalog *cat = &ds->cat; /* its shape: fixed when it was made */
	if (cat->capacity && len > cat->capacity) {
		LOG_WARN("dataset %s: part %u is %llu bytes, over the dataset's capacity of %llu",
			 ds->name, part, (unsigned long long)len, (unsigned long long)cat->capacity);
		return NPMU_E_TOOBIG;
	}
	char pname[NPMU_NAME_MAX + 1];
	npmu__ds_part_name(ds->name, part, pname);
	struct npmu_stripe_cfg pc = part_cfg(cat, len);
	int rc;
	if (ds->staging) {
		bool fatal;
		rc = put_staged(ds, version, part, pname, &pc, data, len, &fatal);
		if (rc == 0 || fatal) {
			if (rc != 0)
				LOG_WARN("dataset %s: part %u of version %llu not staged: %s",
					 ds->name, part, (unsigned long long)version,
					 npmu_strerror(rc));
			return rc;
		}
		if (rc == NPMU_E_EXIST)
			LOG_INFO("dataset %s: part %u holds version %llu or a newer one already (a "
				 "restarted job): put synchronously", ds->name, part,
				 (unsigned long long)version);
		else if (rc == NPMU_E_LIMIT)
			LOG_INFO("dataset %s: part %u: staging full: version %llu put synchronously",
				 ds->name, part, (unsigned long long)version);
		else
			LOG_WARN("dataset %s: part %u: its staging cannot be written (%s): version "
				 "%llu put synchronously", ds->name, part, npmu_strerror(rc),
				 (unsigned long long)version);
	}
	struct put_arg a = {.ds = ds};
	struct npmu__stripe_put_opts o = {.version = version, .keep_pending = true,
					  .durability = ds->durability,
					  .under_lease = put_check, .arg = &a};
	struct npmu__stripe_writer **w = writer_of(ds, part);
	rc = w ? npmu__stripe_writer_put(w, ds->conn, pname, data, len, &pc, &o, NULL, NULL, NULL)
	       : NPMU_E_NOMEM;
	if (w && ds->staging) /* the lease back: the encoder protects this part's staged versions */
		npmu__stripe_writer_close(w);
	if (rc != 0)
		LOG_WARN("dataset %s: part %u of version %llu not put: %s", ds->name, part,
			 (unsigned long long)version, npmu_strerror(rc));
	return rc;
}

/* npmu_dataset_stage -- this handle's puts from now on are staged (see npmu.h). */
int npmu_dataset_stage(struct npmu_dataset *ds, const struct npmu_stage_cfg *cfg)
{
	struct npmu_stage_cfg c = cfg ? *cfg : (struct npmu_stage_cfg){0};
	if (!ds || c.slots > NPMU_STAGE_SLOTS_MAX || c.slot_size % 4096 != 0 ||
	    (c.durability && c.durability != NPMU_PLACED && c.durability != NPMU_PERSISTENT) ||
	    (c.unit && strlen(c.unit) >= sizeof(ds->stage_unit)))
		return NPMU_E_INVAL;
	if (c.full != NPMU_STAGE_WAIT && c.full != NPMU_STAGE_SYNC)
		return NPMU_E_INVAL;
	if (!ds->parts) {
		LOG_WARN("dataset %s: staging is for a handle that puts (cfg.parts at open)", ds->name);
		return NPMU_E_INVAL;
	}
	snprintf(ds->stage_unit, sizeof(ds->stage_unit), "%s", c.unit ? c.unit : "");
	c.unit = ds->stage_unit[0] ? ds->stage_unit : NULL;
	c.wait_ms = c.wait_ms ? c.wait_ms : 60000;
	ds->stage = c;
	ds->staging = true;
	return 0;
}

/* What a commit changes. */
struct commit_arg {
	struct npmu_dataset *ds;
	uint64_t version, label;
};

/* gather_parts -- every part's length and checksum of `version` from its manifests (D1);
 * NPMU_E_NOENT naming the first part that does not hold it. */
static int gather_parts(const struct commit_arg *a, struct npmu__ds_version *v)
{
	v->length = calloc(v->parts, sizeof(uint64_t));
	v->csum = calloc(v->parts, sizeof(uint64_t));
	if (!v->length || !v->csum)
		return NPMU_E_NOMEM;
	for (uint32_t p = 0; p < v->parts; p++) {
		char pname[NPMU_NAME_MAX + 1];
		npmu__ds_part_name(a->ds->name, p, pname);
		struct npmu__stripe_version sv;
		struct npmu__stripe_reader **r = reader_of(a->ds, p);
		int rc = r ? npmu__stripe_reader_find(r, a->ds->conn, true, pname, a->version, &sv)
			   : NPMU_E_NOMEM;
		if (rc == NPMU_E_NOENT) { /* staged, not yet protected (D3)? */
			rc = npmu__stage_lookup(a->ds->conn, pname, a->version, &sv.length,
						&sv.length_csum);
			v->staged |= rc == 0;
		}
		if (rc == NPMU_E_NOENT) /* neither: once more, the set opened again from pmmd */
			rc = npmu__stripe_reader_find(r, a->ds->conn, false, pname, a->version, &sv);
		if (rc == NPMU_E_NOENT)
			LOG_WARN("dataset %s: part %u (%s) holds no version %llu: not committed",
				 a->ds->name, p, pname, (unsigned long long)a->version);
		if (rc != 0)
			return rc;
		v->staged |= a->ds->staging; /* (its encoder may be putting it: some members only) */
		v->length[p] = sv.length;
		v->csum[p] = sv.length_csum;
	}
	return 0;
}

/* commit_fn -- (under the catalog's lease) list the version as complete. */
static int commit_fn(const void *cur, uint64_t cur_len, void **out, uint64_t *out_len, void *arg)
{
	struct commit_arg *a = arg;
	struct npmu__ds_catalog cat;
	int rc = cur ? npmu__ds_decode(cur, cur_len, &cat) : NPMU_E_NOENT;
	if (rc != 0)
		return rc;
	const struct npmu__ds_version *have = npmu__ds_find(&cat, a->version);
	if (cat.flags & NPMU_DS_FLAG_DELETING)
		rc = NPMU_E_NOENT;
	else if (have && have->label == a->label)
		rc = 1; /* committed already: a retry */
	else if (have) {
		LOG_WARN("dataset %s: version %llu is complete already, with label %llu (not %llu)",
			 a->ds->name, (unsigned long long)a->version, (unsigned long long)have->label,
			 (unsigned long long)a->label);
		rc = NPMU_E_INVAL;
	} else if (cat.nversions && a->version < cat.v[0].version) {
		LOG_WARN("dataset %s: version %llu is not above the newest complete one, %llu",
			 a->ds->name, (unsigned long long)a->version,
			 (unsigned long long)cat.v[0].version);
		rc = NPMU_E_INVAL;
	}
	struct npmu__ds_version v = {.version = a->version, .label = a->label,
				     .parts = a->ds->parts};
	if (rc == 0 && (rc = gather_parts(a, &v)) == 0 && (rc = npmu__ds_add(&cat, &v)) == 0)
		rc = npmu__ds_encode(&cat, out, out_len);
	else {
		free(v.length);
		free(v.csum);
	}
	npmu__ds_free(&cat);
	return rc;
}

/* npmu_dataset_commit -- make `version` complete with `label` (D1). */
int npmu_dataset_commit(struct npmu_dataset *ds, uint64_t version, uint64_t label)
{
	if (!ds || version == 0)
		return NPMU_E_INVAL;
	if (!ds->parts) {
		LOG_WARN("dataset %s: a commit needs the number of parts (cfg.parts at open)",
			 ds->name);
		return NPMU_E_INVAL;
	}
	char cname[NPMU_NAME_MAX + 1];
	npmu__ds_catalog_name(ds->name, cname);
	struct npmu_stripe_cfg cc = catalog_cfg(&ds->cat);
	struct commit_arg a = {ds, version, label};
	int rc = npmu__stripe_update(ds->conn, cname, &cc, -1, commit_fn, &a);
	if (rc == 0)
		LOG_INFO("dataset %s: version %llu complete (label %llu, %u parts)", ds->name,
			 (unsigned long long)version, (unsigned long long)label, ds->parts);
	return rc;
}

/* describe -- the public view of a listed version. */
static void describe(const struct npmu__ds_version *v, struct npmu_dataset_version *out)
{
	*out = (struct npmu_dataset_version){.version = v->version, .label = v->label,
					     .parts = v->parts, .pinned = v->pinned};
	for (uint32_t p = 0; p < v->parts; p++)
		out->bytes += v->length[p];
}

/* listed -- complete version `version` (the catalog read again if this handle has not seen
 * it), or NULL with *rc saying why. */
static const struct npmu__ds_version *listed(struct npmu_dataset *ds, uint64_t version, int *rc)
{
	const struct npmu__ds_version *v = npmu__ds_find(&ds->cat, version);
	if (!v && (*rc = npmu__ds_read_catalog(ds->conn, ds->name, &ds->cat, catalog_via(ds))) != 0)
		return NULL;
	if (!(v = npmu__ds_find(&ds->cat, version))) {
		LOG_WARN("dataset %s: version %llu is not complete, or no longer kept", ds->name,
			 (unsigned long long)version);
		*rc = NPMU_E_NOENT;
	}
	return v;
}

/* version_state -- listed version v as its parts show it (D3): PROTECTED when every part is
 * (a version put synchronously is, unlooked-at), LOST when some part is neither protected nor
 * readable from its staging, PARTIAL when some part is on some members only, else STAGED. */
static int version_state(struct npmu_dataset *ds, const struct npmu__ds_version *v,
			 enum npmu_version_state *state, uint32_t *lost_part)
{
	*state = NPMU_VERSION_PROTECTED;
	for (uint32_t p = 0; v->staged && p < v->parts; p++) {
		char pname[NPMU_NAME_MAX + 1];
		npmu__ds_part_name(ds->name, p, pname);
		struct npmu__stripe_reader **r = reader_of(ds, p);
		enum npmu_version_state ps;
		int rc = r ? npmu__stage_part_state(ds->conn, pname, v->version, v->csum[p], r, &ps)
			   : NPMU_E_NOMEM;
		if (rc != 0)
			return rc;
		if (ps == NPMU_VERSION_LOST) {
			*state = ps;
			*lost_part = p;
			return 0;
		}
		if (ps == NPMU_VERSION_PARTIAL || (ps == NPMU_VERSION_STAGED &&
						   *state == NPMU_VERSION_PROTECTED))
			*state = ps; /* the worst: PARTIAL, then STAGED, then PROTECTED */
	}
	return 0;
}

/* drop_fn -- (under the catalog's lease) unlist a version found lost (D3). */
static int drop_fn(const void *cur, uint64_t cur_len, void **out, uint64_t *out_len, void *arg)
{
	const uint64_t *version = arg;
	struct npmu__ds_catalog cat;
	int rc = cur ? npmu__ds_decode(cur, cur_len, &cat) : NPMU_E_NOENT;
	if (rc != 0)
		return rc;
	if (cat.flags & NPMU_DS_FLAG_DELETING)
		rc = NPMU_E_NOENT;
	else if (!npmu__ds_drop(&cat, *version))
		rc = 1; /* dropped already */
	else
		rc = npmu__ds_encode(&cat, out, out_len);
	npmu__ds_free(&cat);
	return rc;
}

/* npmu_dataset_latest -- the newest complete version that can be read: one staged and lost
 * (D3) is passed over, and unlisted by a handle that puts, so its job's next version follows
 * the one it resumes from. */
int npmu_dataset_latest(struct npmu_dataset *ds, struct npmu_dataset_version *out)
{
	if (!ds || !out)
		return NPMU_E_INVAL;
	int rc = npmu__ds_read_catalog(ds->conn, ds->name, &ds->cat, catalog_via(ds));
	for (uint32_t i = 0; rc == 0 && i < ds->cat.nversions; i++) {
		const struct npmu__ds_version *v = &ds->cat.v[i];
		enum npmu_version_state state;
		uint32_t lost = 0;
		if ((rc = version_state(ds, v, &state, &lost)) != 0)
			return rc;
		if (state != NPMU_VERSION_LOST) {
			describe(v, out);
			if (state != NPMU_VERSION_PROTECTED)
				LOG_INFO("dataset %s: version %llu is staged, not yet protected: its "
					 "staged parts are read from their staging copies", ds->name,
					 (unsigned long long)v->version);
			return 0;
		}
		uint64_t gone = v->version;
		LOG_WARN("dataset %s: complete version %llu is lost: part %u was staged and its "
			 "staging copy cannot be read (its unit down before an encoder protected "
			 "it)%s", ds->name, (unsigned long long)gone, lost,
			 ds->parts ? ": unlisted, the version before is the newest" : "");
		if (!ds->parts)
			continue;
		char cname[NPMU_NAME_MAX + 1];
		npmu__ds_catalog_name(ds->name, cname);
		struct npmu_stripe_cfg cc = catalog_cfg(&ds->cat);
		rc = npmu__stripe_update(ds->conn, cname, &cc, -1, drop_fn, &gone);
		if (rc == 0)
			rc = npmu__ds_read_catalog(ds->conn, ds->name, &ds->cat, catalog_via(ds));
		i = (uint32_t)-1; /* the catalog read again: from its newest */
	}
	return rc != 0 ? rc : NPMU_E_NOENT;
}

/* npmu_dataset_state -- a complete version's state (see npmu.h). */
int npmu_dataset_state(struct npmu_dataset *ds, uint64_t version, enum npmu_version_state *state)
{
	if (!ds || !state)
		return NPMU_E_INVAL;
	int rc = 0;
	const struct npmu__ds_version *v = listed(ds, version, &rc);
	uint32_t lost;
	return v ? version_state(ds, v, state, &lost) : rc;
}

/* npmu_dataset_wait -- wait until a complete version is protected (see npmu.h). */
int npmu_dataset_wait(struct npmu_dataset *ds, uint64_t version, int timeout_ms)
{
	if (!ds)
		return NPMU_E_INVAL;
	uint64_t start = npmu__now_ms();
	for (;;) {
		enum npmu_version_state state;
		int rc = npmu_dataset_state(ds, version, &state);
		if (rc == 0 && state == NPMU_VERSION_PROTECTED)
			return 0;
		if (rc == 0 && state == NPMU_VERSION_LOST)
			return NPMU_E_LOST;
		if (rc != 0)
			return rc;
		if (timeout_ms >= 0 && npmu__now_ms() - start >= (uint64_t)timeout_ms)
			return NPMU_E_TIMEDOUT;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* npmu_dataset_versions -- every kept complete version, newest first. */
int npmu_dataset_versions(struct npmu_dataset *ds, struct npmu_dataset_version **list,
			  size_t *count)
{
	if (!ds || !list || !count)
		return NPMU_E_INVAL;
	int rc = npmu__ds_read_catalog(ds->conn, ds->name, &ds->cat, catalog_via(ds));
	if (rc != 0)
		return rc;
	*list = calloc(ds->cat.nversions ? ds->cat.nversions : 1, sizeof(**list));
	if (!*list)
		return NPMU_E_NOMEM;
	for (uint32_t i = 0; i < ds->cat.nversions; i++)
		describe(&ds->cat.v[i], &(*list)[i]);
	*count = ds->cat.nversions;
	return 0;
}

/* npmu_dataset_part_size -- the bytes of one part of a complete version. */
int npmu_dataset_part_size(struct npmu_dataset *ds, uint64_t version, uint32_t part,
			   uint64_t *len)
{
	if (!ds || !len)
		return NPMU_E_INVAL;
	int rc = 0;
	const struct npmu__ds_version *v = listed(ds, version, &rc);
	if (!v)
		return rc;
	if (part >= v->parts)
		return NPMU_E_RANGE;
	*len = v->length[part];
	return 0;
}

/* part_gone -- part `part` (pname) holds no listed version `version`: NPMU_E_NOENT when the
 * catalog, read again, no longer keeps it; else NPMU_E_LOST naming the part. */
static int part_gone(struct npmu_dataset *ds, uint64_t version, uint32_t part, const char *pname)
{
	int rc = npmu__ds_read_catalog(ds->conn, ds->name, &ds->cat, catalog_via(ds));
	if (rc != 0)
		return rc;
	if (!npmu__ds_find(&ds->cat, version)) {
		LOG_WARN("dataset %s: version %llu is no longer kept", ds->name,
			 (unsigned long long)version);
		return NPMU_E_NOENT;
	}
	LOG_WARN("dataset %s: part %u (%s) does not hold complete version %llu: deleted by hand, or "
		 "lost with its units", ds->name, part, pname, (unsigned long long)version);
	return NPMU_E_LOST;
}

/* npmu_dataset_read -- a byte range of one part of a complete version. */
int npmu_dataset_read(struct npmu_dataset *ds, uint64_t version, uint32_t part, uint64_t offset,
		      void *buf, uint64_t len)
{
	if (!ds || (len && !buf))
		return NPMU_E_INVAL;
	int rc = 0;
	const struct npmu__ds_version *v = listed(ds, version, &rc);
	if (!v)
		return rc;
	if (part >= v->parts || offset > v->length[part] || len > v->length[part] - offset) {
		LOG_WARN("dataset %s: version %llu has %u part(s); bytes %llu..+%llu of part %u are "
			 "outside it", ds->name, (unsigned long long)version, v->parts,
			 (unsigned long long)offset, (unsigned long long)len, part);
		return NPMU_E_RANGE;
	}
	if (len == 0)
		return 0;
	char pname[NPMU_NAME_MAX + 1];
	npmu__ds_part_name(ds->name, part, pname);
	struct npmu_stripe_report rep;
	struct npmu__stripe_reader **r = reader_of(ds, part);
	rc = r ? npmu__stripe_reader_read(r, ds->conn, pname, version, v->csum[part], offset, buf,
					  len, &rep)
	       : NPMU_E_NOMEM;
	if (!r)
		rep.which[0] = '\0';
	if (rc != 0 && rc != NPMU_E_NOMEM && v->staged) { /* staged, not (all) protected yet: D3 */
		int src = npmu__stage_read_part(ds->conn, pname, version, v->csum[part], offset, buf,
						len);
		if (src == 0)
			return 0;
		if (src != NPMU_E_NOENT)
			LOG_WARN("dataset %s: part %u of version %llu: its staging copy cannot be read "
				 "either: %s", ds->name, part, (unsigned long long)version,
				 npmu_strerror(src));
	}
	if (rc == NPMU_E_NOENT)
		return part_gone(ds, version, part, pname);
	if (rc != 0)
		LOG_WARN("dataset %s: part %u of version %llu: %s%s%s", ds->name, part,
			 (unsigned long long)version, npmu_strerror(rc), rep.which[0] ? ": " : "",
			 rep.which);
	return rc;
}

/* What a pin changes. */
struct pin_arg {
	const char *name;
	uint64_t version;
	int pinned;
};

/* pin_fn -- (under the catalog's lease) set or clear a version's pin. */
static int pin_fn(const void *cur, uint64_t cur_len, void **out, uint64_t *out_len, void *arg)
{
	struct pin_arg *a = arg;
	struct npmu__ds_catalog cat;
	int rc = cur ? npmu__ds_decode(cur, cur_len, &cat) : NPMU_E_NOENT;
	if (rc != 0)
		return rc;
	struct npmu__ds_version *v = (struct npmu__ds_version *)npmu__ds_find(&cat, a->version);
	uint32_t pinned = 0;
	for (uint32_t i = 0; i < cat.nversions; i++)
		pinned += cat.v[i].pinned;
	if (!v || (cat.flags & NPMU_DS_FLAG_DELETING)) {
		LOG_WARN("dataset %s: version %llu is not kept", a->name,
			 (unsigned long long)a->version);
		rc = NPMU_E_NOENT;
	} else if (v->pinned == (a->pinned != 0)) {
		rc = 1;
	} else if (a->pinned && pinned >= cat.pins) {
		LOG_WARN("dataset %s: %u version(s) pinned already, the most it allows (unpin one)",
			 a->name, pinned);
		rc = NPMU_E_LIMIT;
	} else {
		v->pinned = a->pinned != 0;
		npmu__ds_prune(&cat);
		rc = npmu__ds_encode(&cat, out, out_len);
	}
	npmu__ds_free(&cat);
	return rc;
}

/* npmu_dataset_pin -- keep a complete version whatever comes after it, or let it go. */
int npmu_dataset_pin(struct npmu_dataset *ds, uint64_t version, int pinned)
{
	if (!ds)
		return NPMU_E_INVAL;
	char cname[NPMU_NAME_MAX + 1];
	npmu__ds_catalog_name(ds->name, cname);
	struct npmu_stripe_cfg cc = catalog_cfg(&ds->cat);
	struct pin_arg a = {ds->name, version, pinned};
	int rc = npmu__stripe_update(ds->conn, cname, &cc, -1, pin_fn, &a);
	return rc == 0 ? npmu__ds_read_catalog(ds->conn, ds->name, &ds->cat, catalog_via(ds)) : rc;
}

/* npmu_dataset_close -- free the handle. */
int npmu_dataset_close(struct npmu_dataset **ds_ptr)
{
	if (!ds_ptr || !*ds_ptr)
		return 0;
	for (uint32_t p = 0; p < (*ds_ptr)->nreaders; p++)
		npmu__stripe_reader_close(&(*ds_ptr)->readers[p]);
	free((*ds_ptr)->readers);
	for (uint32_t p = 0; p < (*ds_ptr)->nwriters; p++)
		npmu__stripe_writer_close(&(*ds_ptr)->writers[p]);
	free((*ds_ptr)->writers);
	for (uint32_t p = 0; p < (*ds_ptr)->nstagers; p++)
		if ((*ds_ptr)->stagers[p])
			npmu_stage_close(&(*ds_ptr)->stagers[p]);
	free((*ds_ptr)->stagers);
	npmu__stripe_reader_close(&(*ds_ptr)->catalog);
	npmu__ds_free(&(*ds_ptr)->cat);
	free(*ds_ptr);
	*ds_ptr = NULL;
	return 0;
}

/* deleting_fn -- (under the catalog's lease, taken without waiting) mark it being deleted, so
 * no put or commit starts. */
static int deleting_fn(const void *cur, uint64_t cur_len, void **out, uint64_t *out_len,
		       void *arg)
{
	(void)arg;
	struct npmu__ds_catalog cat;
	int rc = cur ? npmu__ds_decode(cur, cur_len, &cat) : NPMU_E_NOENT;
	if (rc != 0)
		return rc;
	cat.flags |= NPMU_DS_FLAG_DELETING;
	rc = npmu__ds_encode(&cat, out, out_len);
	npmu__ds_free(&cat);
	return rc;
}

/* part_of -- P when region `region` is member 0 of part P of dataset NAME ("NAME.pP.s0"), or
 * its staging region ("NAME.pP.stg": a part staged and never protected has no member). */
static bool part_of(const char *name, const char *region, uint32_t *p)
{
	size_t n = strlen(name);
	if (strncmp(region, name, n) != 0 || strncmp(region + n, ".p", 2) != 0)
		return false;
	char *end;
	unsigned long v = strtoul(region + n + 2, &end, 10);
	if (end == region + n + 2 || (strcmp(end, ".s0") != 0 && strcmp(end, ".stg") != 0) ||
	    v >= NPMU_DATASET_PARTS_MAX)
		return false;
	*p = (uint32_t)v;
	return true;
}

/* delete_parts -- every part set of dataset NAME that exists, found by its member 0. */
static int delete_parts(struct npmu_conn *conn, const char *name)
{
	struct npmu_region_info *list = NULL;
	size_t count = 0;
	int rc = npmu_region_list(conn, &list, &count);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		uint32_t p;
		char pname[NPMU_NAME_MAX + 1];
		if (!part_of(name, list[i].name, &p))
			continue;
		npmu__ds_part_name(name, p, pname);
		rc = npmu_stripe_delete(conn, pname);
		if (rc == NPMU_E_NOENT)
			rc = 0;
		if (rc != 0)
			LOG_WARN("dataset %s: part %u (%s) not deleted: %s", name, p, pname,
				 npmu_strerror(rc));
	}
	free(list);
	return rc;
}

/* mark_deleting -- flag dataset NAME's catalog as being deleted, so no put or commit starts
 * (NPMU_E_BUSY while one holds it); *exists: whether it has a catalog. One that cannot be read
 * is left as it is: the dataset is deleted whole all the same. */
static int mark_deleting(struct npmu_conn *conn, const char *name, bool *exists)
{
	struct npmu__ds_catalog cat;
	memset(&cat, 0, sizeof(cat));
	int rc = npmu__ds_read_catalog(conn, name, &cat, NULL);
	bool unreadable = rc == NPMU_E_LOST || rc == NPMU_E_CORRUPT;
	*exists = rc == 0 || cat.flags || unreadable; /* a deletion that stopped half-way goes on */
	if (rc == 0) {
		char cname[NPMU_NAME_MAX + 1];
		npmu__ds_catalog_name(name, cname);
		struct npmu_stripe_cfg cc = catalog_cfg(&cat);
		rc = npmu__stripe_update(conn, cname, &cc, 0, deleting_fn, NULL);
		if (rc == NPMU_E_BUSY)
			LOG_WARN("dataset %s is in use (a commit or pin holds it): not deleted", name);
	} else if (rc == NPMU_E_NOENT || unreadable) {
		if (unreadable)
			LOG_WARN("dataset %s: deleted with its catalog unread", name);
		rc = 0;
	}
	npmu__ds_free(&cat);
	return rc;
}

/* npmu_dataset_delete -- mark the catalog, delete every part, then the catalog. */
int npmu_dataset_delete(struct npmu_conn *conn, const char *name)
{
	if (!conn || !name)
		return NPMU_E_INVAL;
	if (!name[0] || strlen(name) > NAME_MAX_DS) {
		LOG_WARN("dataset %.80s: names are 1 to %d bytes", name, NAME_MAX_DS);
		return NPMU_E_NAME;
	}
	char cname[NPMU_NAME_MAX + 1];
	npmu__ds_catalog_name(name, cname);
	bool exists = false;
	int rc = mark_deleting(conn, name, &exists);
	if (rc == 0)
		rc = delete_parts(conn, name);
	if (rc == 0 && exists)
		rc = npmu_stripe_delete(conn, cname);
	else if (rc == 0)
		rc = NPMU_E_NOENT;
	if (rc == 0)
		LOG_INFO("dataset %s deleted", name);
	return rc;
}
