/* it_restart.c -- data, regions and open rights survive a clean stop and a kill -9 of npmud. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "harness.h"

/* retry_read -- a read through a handle whose unit restarted: the first try may see the old
 * connection die; the library then reconnects. */
static int retry_read(struct npmu_region *r, uint64_t off, void *buf, size_t len)
{
	int rc = 0;
	for (int i = 0; i < 3; i++)
		if ((rc = npmu_region_read(r, off, buf, len)) == 0)
			break;
	return rc;
}

/* restart__clean_and_kill9: persistent data survives SIGTERM; placed data survives SIGKILL of the
 * unit (it is in the unit's memory, the pool file's pages); a key opened before both still works. */
static void restart__clean_and_kill9(void **state)
{
	(void)state;
	struct unit_proc u;
	assert_int_equal(unit_start(&u, "32M"), 0);
	struct npmu_conn *conn = unit_connect(&u);
	assert_non_null(conn);
	assert_int_equal(npmu_region_create(conn, "state", 1 << 20, NULL), 0);
	struct npmu_region *r;
	assert_int_equal(npmu_region_open(conn, "state", NPMU_ACCESS_READ_WRITE, &r), 0);
	uint8_t *w = malloc(1 << 20), *b = malloc(1 << 20);
	fill_pattern(w, 1 << 20, 11, 0);
	assert_int_equal(npmu_region_write(r, 0, w, 1 << 20), 0);
	assert_int_equal(npmu_region_persist(r, 0, 1 << 20, NPMU_PERSISTENT), 0);

	assert_int_equal(unit_stop(&u, false), 0);
	assert_int_equal(unit_restart(&u), 0);
	assert_int_equal(retry_read(r, 0, b, 1 << 20), 0);
	assert_memory_equal(w, b, 1 << 20);

	fill_pattern(w, 4096, 12, 0);
	assert_int_equal(npmu_region_write(r, 12345, w, 4096), 0); /* placed, not flushed */
	assert_int_equal(unit_stop(&u, true), -9);
	assert_int_equal(unit_restart(&u), 0);
	assert_int_equal(retry_read(r, 12345, b, 4096), 0);
	assert_memory_equal(w, b, 4096);

	/* a fresh client sees the same region and the still-open right */
	struct npmu_conn *c2 = unit_connect(&u);
	assert_non_null(c2);
	struct npmu_region_info info;
	assert_int_equal(npmu_region_stat(c2, "state", &info), 0);
	assert_int_equal(info.size, 1 << 20);
	assert_int_equal(info.rights, 1);
	assert_int_equal(unit_log_count(&u, "serving pool"), 3);
	npmu_region_close(&r);
	npmu_conn_delete(&c2);
	npmu_conn_delete(&conn);
	free(w);
	free(b);
	unit_stop(&u, false);
	unit_cleanup(&u);
}

/* idle__no_cpu: an idle unit sleeps in poll(): no CPU time over two seconds. */
static void idle__no_cpu(void **state)
{
	(void)state;
	struct unit_proc u;
	assert_int_equal(unit_start(&u, "8M"), 0);
	struct npmu_conn *conn = unit_connect(&u);
	assert_non_null(conn);
	assert_int_equal(npmu_region_create(conn, "x", 4096, NULL), 0); /* a client has been served */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)u.pid);
	unsigned long t[2];
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		unsigned long ut, st;
		assert_int_equal(fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
					&ut, &st), 2);
		fclose(f);
		t[i] = ut + st;
		if (i == 0)
			sleep(2);
	}
	assert_true(t[1] - t[0] <= 2); /* clock ticks (1/100 s): at most a little housekeeping */
	npmu_conn_delete(&conn);
	unit_stop(&u, false);
	unit_cleanup(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(restart__clean_and_kill9),
		cmocka_unit_test(idle__no_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
