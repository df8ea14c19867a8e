/* it_unit_faults.c -- smaller unit faults through pmmd: a stream's cursor lives on its stream's
 * unit (or units), so a stream depends on one unit (or one pair); a unit killed and restarted
 * serves through pmmd at once; a mirrored region deleted while one copy's unit is dead is
 * deleted, and that copy goes when its unit is back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "harness.h"

static struct unit_proc units[2], pm;

static int setup(void **state)
{
	(void)state;
	return mirror_cluster_start(units, &pm);
}

static int teardown(void **state)
{
	(void)state;
	unit_stop(&pm, false);
	unit_cleanup(&pm);
	for (int i = 0; i < 2; i++) {
		unit_stop(&units[i], false);
		unit_cleanup(&units[i]);
	}
	return 0;
}

/* now_ms -- monotonic milliseconds. */
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* units_of -- the unit(s) a region's data is on, as opening it tells: "u" or "u0,u1". */
static void units_of(struct npmu_conn *c, const char *name, char *out, size_t len)
{
	struct npmu_region *r;
	assert_int_equal(npmu_region_open(c, name, NPMU_ACCESS_READ, &r), 0);
	if (r->mirrored)
		snprintf(out, len, "%s,%s", r->m.copy[0].unit, r->m.copy[1].unit);
	else
		snprintf(out, len, "%s", r->ai.unit);
	npmu_region_close(&r);
}

/* placement__cursor_beside_stream: eight streams (and two mirrored ones) placed by pmmd on two
 * units: each one's cursor is on its stream's unit(s). */
static void placement__cursor_beside_stream(void **state)
{
	(void)state;
	struct npmu_conn *c = unit_connect(&pm);
	assert_non_null(c);
	int spread[2] = {0, 0};
	for (int i = 0; i < 10; i++) {
		char name[32], cname[40], a[300], b[300];
		snprintf(name, sizeof(name), "place.%d", i);
		snprintf(cname, sizeof(cname), "%s.cursor", name);
		struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = 4096 << (i % 3),
					    .mirror = i >= 8};
		assert_int_equal(npmu_ckpt_create(c, name, &cfg), 0);
		units_of(c, name, a, sizeof(a));
		units_of(c, cname, b, sizeof(b));
		assert_string_equal(a, b);
		if (i < 8)
			spread[strcmp(a, units[0].addr) == 0 ? 0 : 1]++;
	}
	printf("# streams on unit 0: %d, on unit 1: %d; every cursor beside its stream\n", spread[0],
	       spread[1]);
	assert_true(spread[0] > 0 && spread[1] > 0); /* placed on both: the check meant something */
	npmu_conn_delete(&c);
}

/* restart__served_at_once: a unit killed and restarted on its address serves a region through
 * pmmd on the first attempt, without waiting for a retry. */
static void restart__served_at_once(void **state)
{
	(void)state;
	struct npmu_conn *c = unit_connect(&pm);
	assert_non_null(c);
	assert_int_equal(npmu_region_create_ex(c, "back", 1 << 20, &(struct npmu_region_opts){.unit = units[0].addr},
					       NULL), 0);
	struct npmu_region *r;
	assert_int_equal(npmu_region_open(c, "back", NPMU_ACCESS_READ_WRITE, &r), 0);
	assert_int_equal(npmu_region_write(r, 0, "restarted", 9), 0);
	assert_int_equal(npmu_region_persist(r, 0, 9, NPMU_PERSISTENT), 0);
	npmu_region_close(&r);
	for (int round = 0; round < 3; round++) {
		unit_stop(&units[0], true);
		if (round == 1) { /* pmmd notices it down in between, once */
			struct npmu_unit_info *list;
			size_t n;
			assert_int_equal(npmu_unit_list(c, &list, &n), 0);
			free(list);
		}
		assert_int_equal(unit_restart(&units[0]), 0);
		uint64_t t0 = now_ms();
		assert_int_equal(npmu_region_open(c, "back", NPMU_ACCESS_READ, &r), 0);
		char buf[9];
		assert_int_equal(npmu_region_read(r, 0, buf, 9), 0);
		assert_memory_equal(buf, "restarted", 9);
		uint64_t took = now_ms() - t0;
		npmu_region_close(&r);
		printf("# round %d: served %llu ms after the restart\n", round, (unsigned long long)took);
		assert_true(took < 1000);
	}
	npmu_conn_delete(&c);
}

/* delete__copy_away: a mirrored region deleted while one copy's unit is dead is deleted; the dead
 * copy goes when its unit is back, and the name can be used again. */
static void delete__copy_away(void **state)
{
	(void)state;
	struct npmu_conn *c = unit_connect(&pm);
	assert_non_null(c);
	struct npmu_region_opts ro = {.mirror = 1};
	assert_int_equal(npmu_region_create_ex(c, "gone", 1 << 20, &ro, NULL), 0);
	unit_stop(&units[1], true);
	assert_int_equal(npmu_region_delete(c, "gone"), 0);
	struct npmu_region_info info;
	assert_int_equal(npmu_region_stat(c, "gone", &info), NPMU_E_NOENT);
	assert_int_equal(unit_restart(&units[1]), 0);
	bool dropped = false;
	for (int i = 0; i < 50 && !dropped; i++) { /* pmmd looks at a unit that came back */
		usleep(100 * 1000);
		dropped = unit_log_count(&units[1], "region gone: deleted") > 0;
	}
	assert_true(dropped);
	assert_int_equal(npmu_region_stat(c, "gone", &info), NPMU_E_NOENT);
	struct npmu_region_info *list;
	size_t n;
	assert_int_equal(npmu_region_list(c, &list, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(list[i].name, "gone");
	free(list);
	assert_int_equal(npmu_region_create_ex(c, "gone", 1 << 20, &ro, NULL), 0); /* a new one */
	assert_int_equal(pm.pid > 0, 1);
	assert_true(unit_log_count(&pm, "deleted while its copy on") > 0);
	npmu_conn_delete(&c);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(placement__cursor_beside_stream),
		cmocka_unit_test(restart__served_at_once),
		cmocka_unit_test(delete__copy_away),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
