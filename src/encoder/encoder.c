/* encoder.c -- npmu-encoder's loop: staging regions found through the manager, watched with
 * one-sided reads, and their sets protected (seed 004 claims 11-12: parity formed by a backup
 * server or a separate computer, not by the checkpointing process). */
#include "encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "stage_format.h"

#define SETS_MAX 1024
#define RETRY_MAX_MS 30000
#define RECS_LEN (NPMU_STAGE_SLOTS_MAX * NPMU_STAGE_REC_LEN)

/* One set being watched. */
struct watched {
	char name[NPMU_NAME_MAX + 1];
	struct npmu_region *stg;     /* its staging region, read-only (NULL: opened at need) */
	uint8_t recs[RECS_LEN];      /* its slot records as last protected */
	bool dirty;                  /* records changed, or work left undone */
	int last_rc;                 /* the last error said (said once) */
	uint64_t retry_ms;           /* after an error: not before then */
	uint32_t failures;           /* errors in a row (each doubles the wait, up to RETRY_MAX_MS) */
	uint32_t quarter;            /* progress logged so far of the version in hand (quarters) */
	bool seen;                   /* found by the latest scan */
};

struct encoder {
	struct npmu_conn *conn;
	const struct npmu__encoder_cfg *cfg;
	struct npmu__encoder_stats *stats;
	struct watched *w;
	size_t n;
};

/* wanted -- whether cfg limits the encoder to some sets, and set is not one of them. */
static bool wanted(const struct npmu__encoder_cfg *cfg, const char *set)
{
	if (!cfg->sets)
		return true;
	for (int i = 0; i < cfg->nsets; i++)
		if (strcmp(cfg->sets[i], set) == 0)
			return true;
	return false;
}

/* find -- the watched entry of set, or NULL. */
static struct watched *find(struct encoder *e, const char *set)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->w[i].name, set) == 0)
			return &e->w[i];
	return NULL;
}

/* forget -- stop watching entry i (its set, or its staging region, is gone). */
static void forget(struct encoder *e, size_t i)
{
	npmu_region_close(&e->w[i].stg);
	e->w[i] = e->w[--e->n];
}

/* scan -- the staging regions the manager shows: new ones watched, vanished ones forgotten. */
static void scan(struct encoder *e)
{
	struct npmu_region_info *list;
	size_t count;
	int rc = npmu_region_list(e->conn, &list, &count);
	e->stats->scans++;
	if (rc != 0) {
		LOG_WARN("encoder: the manager's list of regions: %s", npmu_strerror(rc));
		return;
	}
	for (size_t i = 0; i < e->n; i++)
		e->w[i].seen = false;
	size_t sl = strlen(NPMU_STAGE_SUFFIX);
	for (size_t i = 0; i < count; i++) {
		size_t nl = strnlen(list[i].name, sizeof(list[i].name));
		if (nl <= sl || strcmp(list[i].name + nl - sl, NPMU_STAGE_SUFFIX) != 0)
			continue;
		char set[NPMU_NAME_MAX + 1];
		snprintf(set, sizeof(set), "%.*s", (int)(nl - sl), list[i].name);
		if (!wanted(e->cfg, set))
			continue;
		struct watched *w = find(e, set);
		if (!w && e->n < SETS_MAX) {
			w = &e->w[e->n++];
			memset(w, 0, sizeof(*w));
			snprintf(w->name, sizeof(w->name), "%s", set);
			w->dirty = true;
			LOG_INFO("encoder: watching set %s (staging region %s)", set, list[i].name);
		}
		if (w)
			w->seen = true;
	}
	free(list);
	for (size_t i = e->n; i-- > 0;)
		if (!e->w[i].seen) {
			LOG_INFO("encoder: set %s has no staging region any more", e->w[i].name);
			forget(e, i);
		}
}

/* look -- read w's slot records; a change since the last protect marks it dirty. False when
 * its staging region is gone (deleted): the caller stops watching it until a scan finds it. */
static bool look(struct encoder *e, struct watched *w)
{
	char region[NPMU_NAME_MAX + sizeof(NPMU_STAGE_SUFFIX)]; /* (scan made name short enough) */
	snprintf(region, sizeof(region), "%s%s", w->name, NPMU_STAGE_SUFFIX);
	uint8_t recs[RECS_LEN];
	int rc = w->stg ? 0 : npmu_region_open(e->conn, region, NPMU_ACCESS_READ, &w->stg);
	if (rc == NPMU_E_NOENT)
		return false;
	if (rc != 0)
		return true; /* its unit may be down: the next scan or look tries again */
	if ((rc = npmu_region_read(w->stg, NPMU_STAGE_REC_OFF, recs, sizeof(recs))) != 0) {
		npmu_region_close(&w->stg); /* opened again next time */
		return true;
	}
	if (memcmp(recs, w->recs, sizeof(recs)) != 0)
		w->dirty = true;
	memcpy(w->recs, recs, sizeof(recs));
	return true;
}

/* progress -- each quarter of a version's put, in the debug log (arg: its struct watched). */
static void progress(uint64_t done, uint64_t total, void *arg)
{
	struct watched *w = arg;
	uint32_t q = total ? (uint32_t)(done * 4 / total) : 4;
	for (; w->quarter < q; w->quarter++)
		LOG_DEBUG("encoder: set %s: version in hand %u%% written", w->name,
			  (w->quarter + 1) * 25);
	if (done == total)
		w->quarter = 0;
}

/* protect -- do w's set's work: what is staged, protected; said once per outcome. */
static void protect(struct encoder *e, struct watched *w)
{
	uint64_t now = npmu__now_ms();
	if (now < w->retry_ms)
		return;
	w->quarter = 0;
	int rc = npmu_stripe_protect(e->conn, w->name, progress, w);
	if (rc >= 0) {
		e->stats->protected_versions += (uint64_t)rc;
		w->dirty = false;
		w->last_rc = 0;
		w->failures = 0;
		return;
	}
	if (rc == NPMU_E_BUSY) { /* another encoder (or a writer) holds it: again next time */
		e->stats->busy++;
		return;
	}
	e->stats->errors++;
	uint64_t wait = (uint64_t)e->cfg->scan_ms << (w->failures < 16 ? w->failures : 16);
	wait = wait < RETRY_MAX_MS ? wait : RETRY_MAX_MS;
	if (rc != w->last_rc)
		LOG_WARN("encoder: set %s: %s (tried again in %llu ms, then less often)", w->name,
			 npmu_strerror(rc), (unsigned long long)wait);
	w->last_rc = rc;
	w->failures++;
	w->retry_ms = now + wait;
}

/* nap -- sleep ms, unless told to stop. */
static void nap(int ms, volatile sig_atomic_t *stop)
{
	for (int left = ms; left > 0 && !*stop; left -= 10) {
		struct timespec ts = {0, (long)(left < 10 ? left : 10) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* npmu__encoder_run -- the loop (see encoder.h). */
int npmu__encoder_run(struct npmu_conn *conn, const struct npmu__encoder_cfg *cfg,
		      volatile sig_atomic_t *stop, struct npmu__encoder_stats *stats)
{
	struct encoder e = {.conn = conn, .cfg = cfg, .stats = stats};
	if (!(e.w = calloc(SETS_MAX, sizeof(*e.w))))
		return NPMU_E_NOMEM;
	uint64_t next_scan = 0;
	while (!*stop) {
		if (npmu__now_ms() >= next_scan) {
			scan(&e);
			next_scan = npmu__now_ms() + (uint64_t)cfg->scan_ms;
		}
		bool left = false;
		for (size_t i = 0; i < e.n && !*stop;) {
			if (!look(&e, &e.w[i])) { /* (not asked for again every interval) */
				LOG_INFO("encoder: set %s: its staging region was deleted",
					 e.w[i].name);
				forget(&e, i);
				continue;
			}
			if (e.w[i].dirty)
				protect(&e, &e.w[i]);
			left |= e.w[i].dirty;
			i++;
		}
		if (cfg->once && !left)
			break;
		nap(cfg->interval_ms, stop);
	}
	while (e.n)
		forget(&e, e.n - 1);
	free(e.w);
	return 0;
}
