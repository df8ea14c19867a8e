/* test_pool.c -- pool files: creation, recovery from damage, and real SIGKILLs at every commit step. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

static char dir[] = "/tmp/npmu-test-pool-XXXXXX";
static char path[256];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/p.pool", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

/* check_consistent -- every page is owned once: free + owned == data pages. */
static void check_consistent(struct npmu__pool *p)
{
	uint64_t owned = 0;
	for (uint32_t i = 0; i < p->meta.nregions; i++)
		for (uint32_t e = 0; e < p->meta.regions[i].nextents; e++)
			owned += p->meta.regions[i].extents[e].npages;
	assert_int_equal(p->alloc.nfree + owned, p->sb.npages - p->sb.data_start);
}

/* create__reopen_keeps_regions: regions and their data survive close and reopen. */
static void create__reopen_keeps_regions(void **state)
{
	(void)state;
	unlink(path);
	struct npmu__pool *p;
	struct npmu__unit *u;
	assert_int_equal(npmu__pool_create(path, 8 << 20, &p), 0);
	assert_int_equal(npmu__pool_create(path, 8 << 20, &(struct npmu__pool *){NULL}), NPMU_E_EXIST);
	assert_int_equal(npmu__unit_new(p, NULL, &u), 0);
	struct npmu_region_info info;
	assert_int_equal(npmu__unit_create(u, "a", "", 10000, NULL, 0, &info), 0);
	assert_int_equal(npmu__unit_create(u, "b", "", 4096, NULL, 0, &info), 0);
	assert_int_equal(npmu__unit_create(u, "a", "", 4096, NULL, 0, &info), NPMU_E_EXIST);
	assert_int_equal(npmu__unit_create(u, "huge", "", 9 << 20, NULL, 0, &info), NPMU_E_NOSPC);
	assert_int_equal(npmu__unit_resize(u, "a", 20000, &info), 0);
	assert_int_equal(info.extents, 2); /* "b" sits right behind "a" */
	assert_int_equal(npmu__unit_resize(u, "a", 100, &info), NPMU_E_SHRINK);
	memset(u->entries[0].win->addr, 0x5a, 20000); /* the unit's own view of region "a" */
	npmu__window_persist(u->entries[0].win, 0, 20000);
	assert_int_equal(npmu__unit_remove(u, "b"), 0);
	assert_int_equal(npmu__unit_remove(u, "b"), NPMU_E_NOENT);
	npmu__unit_delete(&u);
	npmu__pool_close(&p);

	assert_int_equal(npmu__pool_open(path, &p), 0);
	assert_int_equal(p->meta.nregions, 1);
	check_consistent(p);
	assert_int_equal(npmu__unit_new(p, NULL, &u), 0);
	const uint8_t *d = u->entries[0].win->addr;
	for (int i = 0; i < 20000; i++)
		assert_int_equal(d[i], 0x5a);
	/* a region created in the freed pages reads zero */
	assert_int_equal(npmu__unit_create(u, "c", "", 4096, NULL, 0, &info), 0);
	const uint8_t *z = u->entries[1].win->addr;
	for (int i = 0; i < 4096; i++)
		assert_int_equal(z[i], 0);
	npmu__unit_delete(&u);
	npmu__pool_close(&p);
}

/* damage -- overwrite len bytes at off in the pool file. */
static void damage(off_t off, const void *bytes, size_t len)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, off), (ssize_t)len);
	close(fd);
}

/* open__recovers_and_rejects: a torn newest superblock falls back; both gone, or a truncated
 * file, or a foreign file, is corruption; a future version is named as such. */
static void open__recovers_and_rejects(void **state)
{
	(void)state;
	unlink(path);
	struct npmu__pool *p;
	struct npmu__unit *u;
	struct npmu_region_info info;
	assert_int_equal(npmu__pool_create(path, 4 << 20, &p), 0);
	assert_int_equal(npmu__unit_new(p, NULL, &u), 0);
	assert_int_equal(npmu__unit_create(u, "a", "", 4096, NULL, 0, &info), 0);
	uint64_t gen = p->sb.generation;
	npmu__unit_delete(&u);
	npmu__pool_close(&p);

	damage((off_t)((gen % 2) * NPMU_PAGE_SIZE + 50), "XX", 2);
	assert_int_equal(npmu__pool_open(path, &p), 0);
	assert_int_equal(p->sb.generation, gen - 1);
	assert_int_equal(p->meta.nregions, 0); /* the state before "a" was created */
	npmu__pool_close(&p);

	damage((off_t)(((gen - 1) % 2) * NPMU_PAGE_SIZE + 50), "XX", 2);
	assert_int_equal(npmu__pool_open(path, &p), NPMU_E_CORRUPT);

	unlink(path);
	assert_int_equal(npmu__pool_create(path, 4 << 20, &p), 0);
	npmu__pool_close(&p);
	assert_int_equal(truncate(path, 2 << 20), 0);
	assert_int_equal(npmu__pool_open(path, &p), NPMU_E_CORRUPT);

	unlink(path);
	int fd = open(path, O_CREAT | O_RDWR, 0600);
	assert_int_equal(ftruncate(fd, 4 << 20), 0);
	close(fd);
	assert_int_equal(npmu__pool_open(path, &p), NPMU_E_CORRUPT);

	unlink(path);
	assert_int_equal(npmu__pool_create(path, 4 << 20, &p), 0);
	struct npmu__superblock sb = p->sb;
	npmu__pool_close(&p);
	sb.version = 99;
	uint8_t raw[NPMU_SB_LEN];
	npmu__sb_encode(&sb, raw);
	damage((off_t)((sb.generation % 2) * NPMU_PAGE_SIZE), raw, sizeof(raw));
	assert_int_equal(npmu__pool_open(path, &p), NPMU_E_VERSION);
	assert_int_equal(npmu__pool_open("/nonexistent/x.pool", &p), NPMU_E_NOENT);
}

enum op { OP_CREATE, OP_GROW, OP_DELETE };

/* run_op_and_crash -- in a child, run op killed after its k-th metadata persist; returns whether
 * it was killed. */
static bool run_op_and_crash(enum op op, int k)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		npmu__pool_crash_after(k);
		struct npmu__pool *p;
		struct npmu__unit *u;
		struct npmu_region_info info;
		if (npmu__pool_open(path, &p) != 0 || npmu__unit_new(p, NULL, &u) != 0)
			_exit(3);
		int rc = op == OP_CREATE ? npmu__unit_create(u, "new", "", 3 * 4096 + 1, NULL, 0, &info)
			 : op == OP_GROW ? npmu__unit_resize(u, "base", 64 * 4096, &info)
					 : npmu__unit_remove(u, "victim");
		_exit(rc == 0 ? 0 : 4);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGKILL);
		return true;
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	return false;
}

/* crash__every_commit_step: SIGKILL after each persist of create, grow and delete leaves the old
 * or the new state, never a mix, with no page leaked or owned twice and data intact. */
static void crash__every_commit_step(void **state)
{
	(void)state;
	for (enum op op = OP_CREATE; op <= OP_DELETE; op++) {
		for (int k = 1;; k++) {
			unlink(path);
			struct npmu__pool *p;
			struct npmu__unit *u;
			struct npmu_region_info info;
			assert_int_equal(npmu__pool_create(path, 4 << 20, &p), 0);
			assert_int_equal(npmu__unit_new(p, NULL, &u), 0);
			assert_int_equal(npmu__unit_create(u, "base", "", 8 * 4096, NULL, 0, &info), 0);
			assert_int_equal(npmu__unit_create(u, "victim", "", 4096, NULL, 0, &info), 0);
			memset(u->entries[0].win->addr, 0xc3, 8 * 4096);
			npmu__window_persist(u->entries[0].win, 0, 8 * 4096);
			uint64_t gen = p->sb.generation;
			npmu__unit_delete(&u);
			npmu__pool_close(&p);

			bool killed = run_op_and_crash(op, k);
			assert_int_equal(npmu__pool_open(path, &p), 0);
			check_consistent(p);
			bool new_state = p->sb.generation == gen + 1;
			assert_true(new_state || p->sb.generation == gen);
			struct npmu__region_meta *b = npmu__meta_find(&p->meta, "base");
			assert_non_null(b);
			switch (op) {
			case OP_CREATE:
				assert_int_equal(npmu__meta_find(&p->meta, "new") != NULL, new_state);
				break;
			case OP_GROW:
				assert_int_equal(b->size, new_state ? 64 * 4096 : 8 * 4096);
				break;
			case OP_DELETE:
				assert_int_equal(npmu__meta_find(&p->meta, "victim") == NULL, new_state);
				break;
			}
			assert_int_equal(npmu__unit_new(p, NULL, &u), 0);
			const uint8_t *d = u->entries[0].win->addr;
			for (int i = 0; i < 8 * 4096; i++)
				assert_int_equal(d[i], 0xc3);
			npmu__unit_delete(&u);
			npmu__pool_close(&p);
			if (!killed) {
				assert_true(k > 2); /* a commit is two persists */
				break;
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(create__reopen_keeps_regions),
		cmocka_unit_test(open__recovers_and_rejects),
		cmocka_unit_test(crash__every_commit_step),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
