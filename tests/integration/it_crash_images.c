/*
 * it_crash_images.c -- persistence ordering of checkpoint commits against a real npmud: after
 * each checked commit the stream region's bytes before and after are compared word by word, and
 * the images a power loss during the commit could leave are built from the earlier bytes: at
 * each of the commit's flushes, the stores flushed before it whole and any subset of the 8-byte
 * words stored since (none, all, each alone, all but each, prefixes, random subsets -- the
 * order within a flush is free). Each image is written
 * into a scratch stream and a cold backup recovers from it: it must hold exactly the state of
 * the commit before or of this one, never anything else. Prints how many images were checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_format.h"
#include "harness.h"

#define SUBSETS_RANDOM 24
#define SUBSETS_EACH 40

static struct unit_proc unit;
static struct npmu_conn *conn;
static unsigned long checked;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static int setup(void **state)
{
	(void)state;
	if (unit_start(&unit, "64M") != 0)
		return -1;
	conn = unit_connect(&unit);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	npmu_conn_delete(&conn);
	unit_stop(&unit, false);
	unit_cleanup(&unit);
	return 0;
}

/* next_rand -- xorshift64: the same images on every run. */
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A stream under test and its scratch twin, where images are recovered from. */
struct pair {
	const char *name, *scratch;
	struct npmu_region *raw, *scratch_raw; /* the regions, for reading and writing images */
	uint64_t size;
	uint8_t *before, *after, *img, *in_scratch;
};

/* read_all -- the whole region's bytes. */
static void read_all(struct npmu_region *r, uint8_t *buf, uint64_t size)
{
	for (uint64_t off = 0; off < size; off += 1 << 20) {
		uint64_t n = size - off < (1 << 20) ? size - off : 1 << 20;
		assert_int_equal(npmu_region_read(r, off, buf + off, (size_t)n), 0);
	}
}

/* recover -- write img into the scratch stream (the pages that differ) and load it as a cold
 * backup; the state and its sequence number. */
static void recover(struct pair *p, uint8_t *state, uint64_t *len, uint64_t *seq)
{
	for (uint64_t off = 0; off < p->size; off += 4096) {
		uint64_t n = p->size - off < 4096 ? p->size - off : 4096;
		if (memcmp(p->img + off, p->in_scratch + off, (size_t)n) != 0) {
			assert_int_equal(npmu_region_write(p->scratch_raw, off, p->img + off, (size_t)n), 0);
			memcpy(p->in_scratch + off, p->img + off, (size_t)n);
		}
	}
	struct npmu_ckpt *b;
	assert_int_equal(npmu_ckpt_open_backup(conn, p->scratch, NULL, &b), 0);
	int rc = npmu_ckpt_follow(b);
	assert_true(rc >= 0);
	const void *st = npmu_ckpt_state(b, len, seq);
	memcpy(state, st, (size_t)*len);
	npmu_ckpt_close(&b);
}

/* phase_of -- the order in which a commit's stores are flushed: each put() of the library is
 * persisted before the next begins; a commit puts the state slot (or a new base's state) and
 * the header page's record at once (one flush, in any order within it), then the log (update
 * and skip records, again at once). */
static int phase_of(uint64_t off, uint64_t log_off)
{
	return off < log_off ? 0 : 1;
}

/*
 * check_commit -- every image between p->before and p->after recovers to (old_seq, old) or
 * (new_seq, new). For each flush phase in order: the phases before it whole, and of its own
 * words none, all, each alone, all but each, prefixes and random subsets.
 */
static void check_commit(struct pair *p, uint64_t old_seq, const uint8_t *old, uint64_t old_len,
			 uint64_t new_seq, const uint8_t *new, uint64_t new_len, uint64_t state_size)
{
	struct npmu__ckpt_hdr h;
	assert_int_equal(npmu__ckpt_hdr_decode(p->after, &h), 0);
	uint64_t log_off = h.mode == NPMU_CKPT_APPEND ? npmu__ckpt_log_off(&h) : p->size;
	size_t nw = (size_t)(p->size / 8);
	uint32_t *pending = malloc(nw * sizeof(uint32_t));
	uint8_t *got = malloc(state_size);
	assert_non_null(pending);
	assert_non_null(got);
	size_t total = 0;
	for (int phase = 0; phase < 2; phase++) {
		size_t np = 0;
		for (size_t w = 0; w < nw; w++)
			if (phase_of(w * 8, log_off) == phase &&
			    memcmp(p->before + w * 8, p->after + w * 8, 8) != 0)
				pending[np++] = (uint32_t)w;
		total += np;
		if (np == 0)
			continue;
		size_t e = np < SUBSETS_EACH ? np : SUBSETS_EACH;
		int kinds = 2 + 2 * (int)e + 15 + SUBSETS_RANDOM;
		for (int k = 0; k < kinds; k++) {
			/* the earlier phases were flushed: whole */
			memcpy(p->img, p->before, (size_t)p->size);
			for (size_t w = 0; w < nw; w++)
				if (phase_of(w * 8, log_off) < phase)
					memcpy(p->img + w * 8, p->after + w * 8, 8);
			for (size_t i = 0; i < np; i++) {
				bool apply;
				if (k == 0)
					apply = false;
				else if (k == 1)
					apply = true;
				else if (k < 2 + (int)e)
					apply = i == (size_t)(k - 2);
				else if (k < 2 + 2 * (int)e)
					apply = i != (size_t)(k - 2 - (int)e);
				else if (k < 2 + 2 * (int)e + 15)
					apply = i < np * (size_t)(k - 1 - 2 * (int)e) / 16;
				else
					apply = next_rand() & 1;
				if (apply)
					memcpy(p->img + pending[i] * 8, p->after + pending[i] * 8, 8);
			}
			uint64_t len, seq;
			recover(p, got, &len, &seq);
			bool is_old = seq == old_seq && len == old_len && !memcmp(got, old, (size_t)len);
			bool is_new = seq == new_seq && len == new_len && !memcmp(got, new, (size_t)len);
			if (!is_old && !is_new)
				fail_msg("%s: phase %d image %d of commit %llu recovered seq %llu (%llu "
					 "bytes): neither the state before nor after", p->name, phase, k,
					 (unsigned long long)new_seq, (unsigned long long)seq,
					 (unsigned long long)len);
			checked++;
		}
	}
	assert_true(total > 0);
	free(pending);
	free(got);
}

/* pair_open -- create a stream and its scratch twin with cfg, open the regions. */
static void pair_open(struct pair *p, const char *name, const char *scratch,
		      const struct npmu_ckpt_cfg *cfg)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->scratch = scratch;
	assert_int_equal(npmu_ckpt_create(conn, name, cfg), 0);
	assert_int_equal(npmu_ckpt_create(conn, scratch, cfg), 0);
	assert_int_equal(npmu_region_open(conn, name, NPMU_ACCESS_READ, &p->raw), 0);
	assert_int_equal(npmu_region_open(conn, scratch, NPMU_ACCESS_READ_WRITE, &p->scratch_raw), 0);
	struct npmu_region_info info;
	assert_int_equal(npmu_region_stat(conn, name, &info), 0);
	p->size = info.size;
	p->before = malloc(p->size);
	p->after = malloc(p->size);
	p->img = malloc(p->size);
	p->in_scratch = malloc(p->size);
	assert_true(p->before && p->after && p->img && p->in_scratch);
	read_all(p->scratch_raw, p->in_scratch, p->size);
	read_all(p->raw, p->after, p->size);
}

/* pair_close -- free and delete both. */
static void pair_close(struct pair *p)
{
	npmu_region_close(&p->raw);
	npmu_region_close(&p->scratch_raw);
	free(p->before);
	free(p->after);
	free(p->img);
	free(p->in_scratch);
}

/* images__overwrite_commits: 20 commits of states of changing length (keep 2). */
static void images__overwrite_commits(void **state)
{
	(void)state;
	const uint64_t S = 4096;
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_OVERWRITE, .state_size = S};
	struct pair p;
	pair_open(&p, "img.over", "img.over.scratch", &cfg);
	struct npmu_ckpt *ck;
	struct npmu_ckpt_opts opts = {.lease_ms = 60000}; /* checking images takes a while */
	assert_int_equal(npmu_ckpt_open_primary(conn, "img.over", &opts, &ck), 0);
	uint8_t old[4096] = {0}, new[4096];
	uint64_t old_len = 0;
	unsigned long before = checked;
	for (uint64_t c = 1; c <= 20; c++) {
		uint64_t len = S - (c * 97) % 1024;
		fill_pattern(new, len, c, 0);
		memcpy(p.before, p.after, (size_t)p.size);
		assert_int_equal(npmu_ckpt_commit(ck, new, len), 0);
		read_all(p.raw, p.after, p.size);
		check_commit(&p, c - 1, old, old_len, c, new, len, S);
		memcpy(old, new, (size_t)len);
		old_len = len;
	}
	npmu_ckpt_close(&ck);
	pair_close(&p);
	printf("crash images: %lu overwrite-commit images checked\n", checked - before);
}

/* images__append_updates: 16 KiB updates into a 1 MiB log (new bases as it fills): the first
 * ones, every seventh, and every one that wrote the header page (a new base) are checked. */
static void images__append_updates(void **state)
{
	(void)state;
	const uint64_t S = 64 << 10, U = 16 << 10;
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = S, .log_size = 1 << 20};
	struct pair p;
	pair_open(&p, "img.app", "img.app.scratch", &cfg);
	struct npmu_ckpt *ck;
	struct npmu_ckpt_opts opts = {.lease_ms = 60000}; /* checking images takes a while */
	assert_int_equal(npmu_ckpt_open_primary(conn, "img.app", &opts, &ck), 0);
	uint8_t *old = calloc(1, S), *new = calloc(1, S), *upd = malloc(U);
	assert_true(old && new && upd);
	unsigned long before = checked;
	int bases = 0;
	uint64_t old_hi = 0, hi = 0; /* the state's length: the furthest byte updated */
	for (uint64_t c = 1; c <= 160; c++) {
		uint64_t off = (c * 5 * 4096) % (S - U + 1);
		fill_pattern(upd, U, c, 0);
		memcpy(new + off, upd, U);
		hi = off + U > hi ? off + U : hi;
		memcpy(p.before, p.after, (size_t)p.size);
		assert_int_equal(npmu_ckpt_update(ck, off, upd, (uint32_t)U), 0);
		read_all(p.raw, p.after, p.size);
		bool base = memcmp(p.before + 512, p.after + 512, 4096 - 512) != 0;
		bases += base;
		if (c <= 3 || c % 7 == 0 || base)
			check_commit(&p, c - 1, old, old_hi, c, new, hi, S);
		memcpy(old, new, S);
		old_hi = hi;
	}
	assert_true(bases >= 2); /* the log filled and was folded into new bases */
	npmu_ckpt_close(&ck);
	pair_close(&p);
	free(old);
	free(new);
	free(upd);
	printf("crash images: %lu append-update images checked (%d new bases among them)\n",
	       checked - before, bases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(images__overwrite_commits),
		cmocka_unit_test(images__append_updates),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	printf("crash images: %lu stream images checked in all\n", checked);
	return rc;
}
