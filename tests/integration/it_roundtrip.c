/* it_roundtrip.c -- one-sided writes and reads against a real npmud: sizes, offsets, extents, rights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "harness.h"

static struct unit_proc unit;
static struct npmu_conn *conn;

static int setup(void **state)
{
	(void)state;
	if (unit_start(&unit, "64M") != 0)
		return -1;
	conn = unit_connect(&unit);
	return conn ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	npmu_conn_delete(&conn);
	unit_stop(&unit, false);
	unit_cleanup(&unit);
	return 0;
}

/* data__many_sizes_and_offsets: writes of 1 B to 1 MiB at offsets crossing the page and extent
 * boundaries of a region made discontiguous by growth read back byte for byte. */
static void data__many_sizes_and_offsets(void **state)
{
	(void)state;
	struct npmu_region_info info;
	assert_int_equal(npmu_region_create(conn, "a", 64 << 10, &info), 0);
	assert_int_equal(npmu_region_create(conn, "b", 64 << 10, &info), 0);
	assert_int_equal(npmu_region_resize(conn, "a", 2 << 20, &info), 0);
	assert_true(info.extents >= 2); /* "b" stands between the old and the new pages of "a" */
	struct npmu_region *a, *b;
	assert_int_equal(npmu_region_open(conn, "a", NPMU_ACCESS_READ_WRITE, &a), 0);
	assert_int_equal(npmu_region_open(conn, "b", NPMU_ACCESS_READ_WRITE, &b), 0);
	assert_int_equal(npmu_region_size(a), 2 << 20);
	uint8_t *bb = malloc(64 << 10);
	fill_pattern(bb, 64 << 10, 99, 0);
	assert_int_equal(npmu_region_write(b, 0, bb, 64 << 10), 0);

	const size_t sizes[] = {1, 7, 64, 4095, 4096, 4097, 65549, 1 << 20};
	const uint64_t offs[] = {0, 1, 4095, (64 << 10) - 3, (64 << 10) + 4093, (1 << 20) - 1};
	uint8_t *w = malloc(1 << 20), *r = malloc(1 << 20);
	uint64_t seed = 1;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]); j++, seed++) {
			fill_pattern(w, sizes[i], seed, offs[j]);
			assert_int_equal(npmu_region_write(a, offs[j], w, sizes[i]), 0);
			memset(r, 0, sizes[i]);
			assert_int_equal(npmu_region_read(a, offs[j], r, sizes[i]), 0);
			assert_true(check_pattern(r, sizes[i], seed, offs[j]));
		}
	/* the whole region, then region "b" untouched by all of it */
	uint8_t *all = malloc(2 << 20), *back = malloc(2 << 20);
	fill_pattern(all, 2 << 20, 7, 0);
	assert_int_equal(npmu_region_write(a, 0, all, 2 << 20), 0);
	assert_int_equal(npmu_region_persist(a, 0, 2 << 20, NPMU_PERSISTENT), 0);
	assert_int_equal(npmu_region_read(a, 0, back, 2 << 20), 0);
	assert_memory_equal(all, back, 2 << 20);
	assert_int_equal(npmu_region_read(b, 0, r, 64 << 10), 0);
	assert_true(check_pattern(r, 64 << 10, 99, 0));

	/* growing keeps the data, and the open right covers the new size after a refresh */
	assert_int_equal(npmu_region_resize(conn, "a", 3 << 20, &info), 0);
	assert_int_equal(npmu_region_refresh(a), 0);
	assert_int_equal(npmu_region_size(a), 3 << 20);
	assert_int_equal(npmu_region_read(a, 0, back, 2 << 20), 0);
	assert_memory_equal(all, back, 2 << 20);
	assert_int_equal(npmu_region_read(a, (3 << 20) - 4096, r, 4096), 0);
	for (int k = 0; k < 4096; k++)
		assert_int_equal(r[k], 0);
	assert_int_equal(npmu_region_write(a, (3 << 20) - 10, "0123456789", 10), 0);
	assert_int_equal(npmu_region_read(a, (3 << 20) - 10, r, 10), 0);
	assert_memory_equal(r, "0123456789", 10);
	free(w);
	free(r);
	free(all);
	free(back);
	free(bb);
	assert_int_equal(npmu_region_close(&a), 0);
	assert_null(a);
	assert_int_equal(npmu_region_close(&b), 0);
}

/* data__batched_writes_one_persist: several writes in flight, then one persist. */
static void data__batched_writes_one_persist(void **state)
{
	(void)state;
	assert_int_equal(npmu_region_create(conn, "batch", 1 << 20, NULL), 0);
	struct npmu_region *r;
	assert_int_equal(npmu_region_open(conn, "batch", NPMU_ACCESS_READ_WRITE, &r), 0);
	static uint8_t bufs[8][20000];
	struct npmu_iov iov[8];
	for (int i = 0; i < 8; i++) {
		fill_pattern(bufs[i], sizeof(bufs[i]), 500 + (uint64_t)i, 0);
		iov[i] = (struct npmu_iov){(uint64_t)i * 100000 + 11, bufs[i], sizeof(bufs[i])};
	}
	assert_int_equal(npmu_region_writev(r, iov, 8), 0);
	assert_int_equal(npmu_region_persist(r, 0, 1 << 20, NPMU_PERSISTENT), 0);
	assert_int_equal(npmu_region_persist(r, 0, 1 << 20, NPMU_PLACED), 0);
	uint8_t back[20000];
	for (int i = 0; i < 8; i++) {
		assert_int_equal(npmu_region_read(r, iov[i].offset, back, sizeof(back)), 0);
		assert_true(check_pattern(back, sizeof(back), 500 + (uint64_t)i, 0));
	}
	assert_int_equal(npmu_region_close(&r), 0);
}

/* rights__checked_before_the_wire: read-only rights, ranges and arguments fail locally and clearly. */
static void rights__checked_before_the_wire(void **state)
{
	(void)state;
	assert_int_equal(npmu_region_create(conn, "ro", 8192, NULL), 0);
	struct npmu_region *r;
	assert_int_equal(npmu_region_open(conn, "ro", NPMU_ACCESS_READ, &r), 0);
	char buf[16] = {0};
	assert_int_equal(npmu_region_write(r, 0, buf, 16), NPMU_E_ACCESS);
	assert_int_equal(npmu_region_persist(r, 0, 16, NPMU_PERSISTENT), NPMU_E_ACCESS);
	assert_int_equal(npmu_region_read(r, 8191, buf, 2), NPMU_E_RANGE);
	assert_int_equal(npmu_region_read(r, 8193, buf, 0), NPMU_E_RANGE);
	assert_int_equal(npmu_region_read(r, UINT64_MAX, buf, 2), NPMU_E_RANGE);
	assert_int_equal(npmu_region_read(r, 8190, buf, 2), 0);
	assert_int_equal(npmu_region_open(conn, "ro", 2, &(struct npmu_region *){NULL}), NPMU_E_INVAL);
	assert_int_equal(npmu_region_open(conn, "nope", NPMU_ACCESS_READ, &(struct npmu_region *){NULL}),
			 NPMU_E_NOENT);
	struct npmu_region_info info;
	assert_int_equal(npmu_region_stat(conn, "ro", &info), 0);
	assert_int_equal(info.rights, 1);
	assert_int_equal(npmu_region_close(&r), 0);
	assert_int_equal(npmu_region_stat(conn, "ro", &info), 0);
	assert_int_equal(info.rights, 0);
}

/* list__pages_through_many_regions: a list longer than one reply page comes back whole. */
static void list__pages_through_many_regions(void **state)
{
	(void)state;
	char name[32];
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "many.%03d", i);
		assert_int_equal(npmu_region_create(conn, name, 4096, NULL), 0);
	}
	struct npmu_region_info *list;
	size_t n;
	assert_int_equal(npmu_region_list(conn, &list, &n), 0);
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found += strncmp(list[i].name, "many.", 5) == 0;
	assert_int_equal(found, 100);
	free(list);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "many.%03d", i);
		assert_int_equal(npmu_region_delete(conn, name), 0);
	}
}

/* data__put_pieces: npmu_region_put writes every piece and persists them at once, across
 * extents, with more pieces than one PERSIST names (the covering range), or placed; a bad
 * piece or level writes nothing; a reader cannot put. */
static void data__put_pieces(void **state)
{
	(void)state;
	struct npmu_region_info info;
	assert_int_equal(npmu_region_create(conn, "put", 64 << 10, &info), 0);
	assert_int_equal(npmu_region_create(conn, "put.gap", 64 << 10, &info), 0);
	assert_int_equal(npmu_region_resize(conn, "put", 1 << 20, &info), 0);
	assert_true(info.extents >= 2);
	struct npmu_region *r, *ro;
	assert_int_equal(npmu_region_open(conn, "put", NPMU_ACCESS_READ_WRITE, &r), 0);
	static uint8_t w[12][8192], got[8192];
	struct npmu_iov iov[12];
	for (int i = 0; i < 12; i++) { /* pieces on both sides of the extent boundary */
		iov[i] = (struct npmu_iov){(uint64_t)i * 81920 + 1, w[i], sizeof(w[i]) - (size_t)i};
		fill_pattern(w[i], sizeof(w[i]), 500 + (uint64_t)i, iov[i].offset);
	}
	assert_int_equal(npmu_region_put(r, iov, 3, NPMU_PERSISTENT), 0);
	assert_int_equal(npmu_region_put(r, iov + 3, 9, NPMU_PERSISTENT), 0); /* > 8 ranges */
	assert_int_equal(npmu_region_put(r, iov, 0, NPMU_PERSISTENT), 0);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(npmu_region_read(r, iov[i].offset, got, iov[i].len), 0);
		assert_true(check_pattern(got, iov[i].len, 500 + (uint64_t)i, iov[i].offset));
	}
	fill_pattern(w[0], sizeof(w[0]), 77, iov[0].offset);
	assert_int_equal(npmu_region_put(r, iov, 1, NPMU_PLACED), 0);
	assert_int_equal(npmu_region_read(r, iov[0].offset, got, iov[0].len), 0);
	assert_true(check_pattern(got, iov[0].len, 77, iov[0].offset));
	/* refused before anything moves */
	struct npmu_iov bad[2] = {{0, w[1], 16}, {(1 << 20) - 8, w[1], 16}};
	assert_int_equal(npmu_region_put(r, bad, 2, NPMU_PERSISTENT), NPMU_E_RANGE);
	assert_int_equal(npmu_region_read(r, 0, got, 16), 0);
	assert_false(memcmp(got, w[1], 16) == 0);
	assert_int_equal(npmu_region_put(r, NULL, 1, NPMU_PERSISTENT), NPMU_E_INVAL);
	assert_int_equal(npmu_region_put(r, iov, 1, (enum npmu_durability)7), NPMU_E_INVAL);
	assert_int_equal(npmu_region_open(conn, "put", NPMU_ACCESS_READ, &ro), 0);
	assert_int_equal(npmu_region_put(ro, iov, 1, NPMU_PERSISTENT), NPMU_E_ACCESS);
	npmu_region_close(&ro);
	npmu_region_close(&r);
	assert_int_equal(npmu_region_delete(conn, "put"), 0);
	assert_int_equal(npmu_region_delete(conn, "put.gap"), 0);
}

#define COMMITTERS 8
#define PUTS 300

/* One committer of persist__concurrent_puts_share_flushes. */
struct committer {
	const char *addr;
	int idx;
	int rc;
};

/* committer_main -- PUTS persistent puts of a record and a block into a region of its own. */
static void *committer_main(void *arg)
{
	struct committer *c = arg;
	struct npmu_conn_cfg cfg = {.server = c->addr};
	struct npmu_conn *cn;
	struct npmu_region *r;
	char name[32];
	snprintf(name, sizeof(name), "committer.%d", c->idx);
	if ((c->rc = npmu_conn_new(&cfg, &cn)) != 0)
		return NULL;
	if ((c->rc = npmu_region_create(cn, name, 1 << 20, NULL)) == 0)
		c->rc = npmu_region_open(cn, name, NPMU_ACCESS_READ_WRITE, &r);
	uint8_t rec[64], block[4096];
	for (int i = 0; c->rc == 0 && i < PUTS; i++) {
		uint64_t off = 4096 + (uint64_t)(i % 200) * 4096;
		fill_pattern(block, sizeof(block), (uint64_t)c->idx * 1000 + (uint64_t)i, off);
		fill_pattern(rec, sizeof(rec), (uint64_t)i, 0);
		struct npmu_iov iov[2] = {{off, block, sizeof(block)}, {0, rec, sizeof(rec)}};
		c->rc = npmu_region_put(r, iov, 2, NPMU_PERSISTENT);
	}
	for (int i = PUTS - 200; c->rc == 0 && i < PUTS; i++) { /* the last of each block */
		uint64_t off = 4096 + (uint64_t)(i % 200) * 4096;
		if ((c->rc = npmu_region_read(r, off, block, sizeof(block))) == 0 &&
		    !check_pattern(block, sizeof(block), (uint64_t)c->idx * 1000 + (uint64_t)i, off))
			c->rc = NPMU_E_CORRUPT;
	}
	if (c->rc == 0 && (c->rc = npmu_region_read(r, 0, rec, sizeof(rec))) == 0 &&
	    !check_pattern(rec, sizeof(rec), PUTS - 1, 0))
		c->rc = NPMU_E_CORRUPT;
	npmu_region_close(&r);
	npmu_conn_delete(&cn);
	return NULL;
}

/* persist__concurrent_puts_share_flushes: 8 connections putting persistently at once all
 * succeed with the right bytes, and the unit (which says at exit how many persist requests its
 * flushes served) made them durable with fewer flushes than requests: group commit. */
static void persist__concurrent_puts_share_flushes(void **state)
{
	(void)state;
	struct unit_proc u;
	assert_int_equal(unit_start(&u, "64M"), 0);
	struct committer c[COMMITTERS];
	pthread_t th[COMMITTERS];
	for (int i = 0; i < COMMITTERS; i++) {
		c[i] = (struct committer){.addr = u.addr, .idx = i};
		assert_int_equal(pthread_create(&th[i], NULL, committer_main, &c[i]), 0);
	}
	for (int i = 0; i < COMMITTERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].rc, 0);
	}
	assert_int_equal(unit_stop(&u, false), 0);
	FILE *f = fopen(u.log, "r");
	assert_non_null(f);
	char line[512];
	unsigned long long reqs = 0, flushes = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "unit: ");
		if (p && strstr(p, "persist requests made durable by"))
			assert_int_equal(sscanf(p, "unit: %llu persist requests made durable by %llu",
						&reqs, &flushes), 2);
	}
	fclose(f);
	unit_cleanup(&u);
	printf("group commit: %llu persist requests, %llu flushes\n", reqs, flushes);
	assert_true(reqs >= COMMITTERS * PUTS);
	assert_true(flushes > 0 && flushes < reqs);
}

/* shm_connect -- a connection to u over the shm provider. */
static struct npmu_conn *shm_connect(const struct unit_proc *u)
{
	struct npmu_conn_cfg cfg = {.server = u->addr, .provider = "shm", .timeout_ms = 5000};
	struct npmu_conn *c = NULL;
	assert_int_equal(npmu_conn_new(&cfg, &c), 0);
	return c;
}

/* shm__same_host_unit: a unit served over libfabric's shm provider (named, on this host, no
 * credentials needed) takes writes of every size, a persistent put and a stream's commits; a
 * unit killed with SIGKILL restarts on the same name (its stale shared memory region removed)
 * with everything persisted still there. */
static void shm__same_host_unit(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "npmu-it-%d", (int)getpid());
	const char *extra[] = {"--provider", "shm", "--listen", name, NULL};
	struct unit_proc u;
	assert_int_equal(unit_start_args(&u, NULL, "64M", extra), 0);
	assert_non_null(strstr(u.addr, name)); /* NAME:PORT, which clients use as is */
	struct npmu_conn *c = shm_connect(&u);
	struct npmu_region *r;
	assert_int_equal(npmu_region_create(c, "s", 4 << 20, NULL), 0);
	assert_int_equal(npmu_region_open(c, "s", NPMU_ACCESS_READ_WRITE, &r), 0);
	uint8_t *w = malloc(1 << 20), *g = malloc(1 << 20);
	const size_t sizes[] = {1, 64, 4096, 65549, 1 << 20};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t off = 4096 * i + i;
		fill_pattern(w, sizes[i], 900 + i, off);
		struct npmu_iov iov = {off, w, sizes[i]};
		assert_int_equal(npmu_region_put(r, &iov, 1, NPMU_PERSISTENT), 0);
		memset(g, 0, sizes[i]);
		assert_int_equal(npmu_region_read(r, off, g, sizes[i]), 0);
		assert_true(check_pattern(g, sizes[i], 900 + i, off));
	}
	struct npmu_ckpt_cfg cc = {.mode = NPMU_CKPT_OVERWRITE, .state_size = 8192};
	struct npmu_ckpt *p;
	assert_int_equal(npmu_ckpt_create(c, "s.stream", &cc), 0);
	assert_int_equal(npmu_ckpt_open_primary(c, "s.stream", NULL, &p), 0);
	for (int i = 0; i < 20; i++) {
		fill_pattern(w, 8192, 1000 + (uint64_t)i, 0);
		assert_int_equal(npmu_ckpt_commit(p, w, 8192), 0);
	}
	npmu_ckpt_close(&p);
	npmu_region_close(&r);
	npmu_conn_delete(&c);
	assert_int_equal(unit_stop(&u, true), -SIGKILL);
	assert_int_equal(unit_restart(&u), 0);
	assert_int_equal(unit_log_count(&u, "left by a unit that stopped without closing it"), 1);
	c = shm_connect(&u);
	assert_int_equal(npmu_region_open(c, "s", NPMU_ACCESS_READ, &r), 0);
	assert_int_equal(npmu_region_read(r, 4096 * 4 + 4, g, 1 << 20), 0);
	assert_true(check_pattern(g, 1 << 20, 904, 4096 * 4 + 4));
	npmu_region_close(&r);
	struct npmu_ckpt *b;
	uint64_t len, seq;
	assert_int_equal(npmu_ckpt_open_backup(c, "s.stream", NULL, &b), 0);
	assert_true(npmu_ckpt_follow(b) > 0);
	const void *st = npmu_ckpt_state(b, &len, &seq);
	assert_int_equal(len, 8192);
	assert_int_equal(seq, 20);
	assert_true(check_pattern(st, 8192, 1019, 0));
	npmu_ckpt_close(&b);
	npmu_conn_delete(&c);
	free(w);
	free(g);
	assert_int_equal(unit_stop(&u, false), 0);
	unit_cleanup(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(data__many_sizes_and_offsets),
		cmocka_unit_test(data__batched_writes_one_persist),
		cmocka_unit_test(rights__checked_before_the_wire),
		cmocka_unit_test(list__pages_through_many_regions),
		cmocka_unit_test(data__put_pieces),
		cmocka_unit_test(persist__concurrent_puts_share_flushes),
		cmocka_unit_test(shm__same_host_unit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
