/*
 * test_crash_images.c -- persistence ordering of the pool's metadata, the way PMDK's pmreorder
 * and SQLite's crash-simulating file work: the pool's persist function is replaced by one that,
 * at every flush, keeps the image a power loss at that moment could leave -- the last durable
 * image plus any subset of the 8-byte words stored since (unflushed stores dropped, applied, or
 * torn at 8-byte granularity) -- and flushes. After each operation every image is opened as a
 * pool: it must open, be consistent, and hold exactly the table before or after the operation.
 * Prints how many images were checked.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "csum.h"
#include "mirror_format.h"
#include "unit.h"

#define SUBSETS_RANDOM 24 /* random subsets of the pending words per flush */
#define SUBSETS_EACH 48   /* "only word i" and "all but word i" for the first words */

static char dir[] = "/tmp/npmu-test-images-XXXXXX";
static char path[256], check_path[256];

/* The simulator's state: the pool under test, its durable image, the images kept. */
static struct npmu__pool *sim;
static pmem2_persist_fn real_persist;
static uint8_t *durable;
static size_t head_len;
static uint8_t **images;
static size_t nimages, cap_images;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned long checked;

/* next_rand -- xorshift64: the subsets are the same on every run. */
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* keep -- keep the durable image with the pending words chosen by pick(i) applied. */
static void keep(const uint32_t *pending, size_t np, int mode, size_t arg)
{
	uint8_t *img = malloc(head_len);
	assert_non_null(img);
	memcpy(img, durable, head_len);
	for (size_t i = 0; i < np; i++) {
		bool apply = mode == 0   ? false               /* none */
			     : mode == 1 ? true                /* all */
			     : mode == 2 ? i == arg            /* only word arg */
			     : mode == 3 ? i != arg            /* all but word arg */
			     : mode == 4 ? i < arg             /* a prefix, in address order */
					 : (next_rand() & 1); /* a random subset */
		if (apply)
			memcpy(img + (size_t)pending[i] * 8, sim->head + (size_t)pending[i] * 8, 8);
	}
	if (nimages == cap_images) {
		cap_images = cap_images ? 2 * cap_images : 256;
		images = realloc(images, cap_images * sizeof(*images));
		assert_non_null(images);
	}
	images[nimages++] = img;
}

/* sim_persist -- the pool's persist function under test: keep the crash images, then flush. */
static void sim_persist(const void *ptr, size_t len)
{
	const uint8_t *p = ptr;
	if (p >= sim->head && p + len <= sim->head + head_len) {
		uint32_t *pending = malloc(head_len / 8 * sizeof(uint32_t));
		assert_non_null(pending);
		size_t np = 0;
		for (size_t w = 0; w < head_len / 8; w++)
			if (memcmp(sim->head + w * 8, durable + w * 8, 8) != 0)
				pending[np++] = (uint32_t)w;
		keep(pending, np, 0, 0);
		keep(pending, np, 1, 0);
		for (size_t i = 0; i < np && i < SUBSETS_EACH; i++) {
			keep(pending, np, 2, i);
			keep(pending, np, 3, i);
		}
		for (size_t k = 1; k < 16 && np > 1; k++)
			keep(pending, np, 4, np * k / 16);
		for (int r = 0; r < SUBSETS_RANDOM; r++)
			keep(pending, np, 5, 0);
		free(pending);
		/* the flush: whole cache lines of the range become durable */
		size_t from = (size_t)(p - sim->head) & ~(size_t)63;
		size_t to = ((size_t)(p - sim->head) + len + 63) & ~(size_t)63;
		memcpy(durable + from, sim->head + from, (to < head_len ? to : head_len) - from);
	}
	real_persist(ptr, len);
}

/* fingerprint -- a checksum of the region table's encoding (generation included). */
static uint64_t fingerprint(const struct npmu__meta *meta)
{
	size_t len = npmu__meta_encoded_len(meta);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(npmu__meta_encode(meta, buf, len), (int64_t)len);
	uint64_t fp = npmu__csum(buf, len);
	free(buf);
	return fp;
}

/* check_images -- open every kept image as a pool: consistent, and the old or the new table. */
static void check_images(uint64_t old_fp, uint64_t new_fp)
{
	for (size_t i = 0; i < nimages; i++) {
		int fd = open(check_path, O_WRONLY);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, images[i], head_len, 0), (ssize_t)head_len);
		close(fd);
		struct npmu__pool *p;
		assert_int_equal(npmu__pool_open(check_path, &p), 0);
		uint64_t owned = 0;
		for (uint32_t r = 0; r < p->meta.nregions; r++)
			for (uint32_t e = 0; e < p->meta.regions[r].nextents; e++)
				owned += p->meta.regions[r].extents[e].npages;
		assert_int_equal(p->alloc.nfree + owned, p->sb.npages - p->sb.data_start);
		uint64_t fp = fingerprint(&p->meta);
		if (fp != old_fp && fp != new_fp)
			fail_msg("image %zu of %zu holds neither the old nor the new table", i, nimages);
		npmu__pool_close(&p);
		free(images[i]);
		checked++;
	}
	nimages = 0;
}

enum op { OP_CREATE, OP_CREATE_MIRRORED, OP_GROW, OP_REMOVE, OP_MIRROR_REC };

/* run -- one operation under the simulator, then every image it left checked. */
static void run(struct npmu__unit *u, enum op op, const char *name, uint64_t size, uint64_t gen)
{
	uint64_t old_fp = fingerprint(&sim->meta);
	struct npmu_region_info info;
	uint8_t rec[NPMU_MIRROR_REC_MAX], reply[NPMU_MIRROR_REC_MAX + 16];
	struct npmu__mirror m = {.generation = gen, .size = size, .ncopies = 2};
	strcpy(m.copy[0].unit, "198.18.0.1:7411");
	strcpy(m.copy[1].unit, "198.18.0.2:7411");
	int rl = npmu__mirror_encode(&m, rec, sizeof(rec));
	assert_true(rl > 0);
	struct npmu__cursor c;
	npmu__cursor_init(&c, reply, sizeof(reply));
	int rc = op == OP_CREATE	    ? npmu__unit_create(u, name, "alice", size, NULL, 0, &info)
		 : op == OP_CREATE_MIRRORED ? npmu__unit_create(u, name, "", size, rec, (size_t)rl, &info)
		 : op == OP_GROW	    ? npmu__unit_resize(u, name, size, &info)
		 : op == OP_REMOVE	    ? npmu__unit_remove(u, name)
					    : npmu__unit_mirror_rec(u, name, true, 0, rec, (size_t)rl, &c);
	assert_int_equal(rc, 0);
	assert_true(nimages > 0); /* every operation flushed something */
	check_images(old_fp, fingerprint(&sim->meta));
}

/* images__every_flush_of_every_operation: create, create mirrored, grow (a new extent),
 * replace a mirror record and remove, twice over (both metadata areas in turn). */
static void images__every_flush_of_every_operation(void **state)
{
	(void)state;
	struct npmu__unit *u;
	assert_int_equal(npmu__pool_create(path, 4 << 20, &sim), 0);
	assert_int_equal(npmu__unit_new(sim, NULL, &u), 0);
	head_len = (size_t)sim->sb.data_start * NPMU_PAGE_SIZE;
	durable = malloc(head_len);
	assert_non_null(durable);
	memcpy(durable, sim->head, head_len); /* created and flushed: durable */
	real_persist = sim->persist;
	sim->persist = sim_persist;
	/* the file the images are opened from: a copy of the pool (data pages do not matter) */
	int in = open(path, O_RDONLY), out = open(check_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(in >= 0 && out >= 0);
	static uint8_t buf[1 << 16];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	for (int round = 0; round < 2; round++) {
		run(u, OP_CREATE, "a", 10000, 0);
		run(u, OP_CREATE_MIRRORED, "m", 8192, 1);
		run(u, OP_CREATE, "b", 4096, 0);
		run(u, OP_GROW, "a", 30000, 0);
		run(u, OP_MIRROR_REC, "m", 8192, 2);
		run(u, OP_REMOVE, "b", 0, 0);
		run(u, OP_REMOVE, "a", 0, 0);
		run(u, OP_REMOVE, "m", 0, 0);
	}
	sim->persist = real_persist;
	npmu__unit_delete(&u);
	npmu__pool_close(&sim);
	free(durable);
	free(images);
	printf("crash images: %lu pool images checked, every one the old or the new table\n",
	       checked);
	assert_true(checked > 1000);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/p.pool", dir);
	snprintf(check_path, sizeof(check_path), "%s/check.pool", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	unlink(check_path);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(images__every_flush_of_every_operation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
