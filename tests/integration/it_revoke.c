/* it_revoke.c -- closing a right or deleting a region kills its key at the unit at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "harness.h"

/* revoke__close_and_delete: a copy of a closed right's key fails with NPMU_E_KEY on the next
 * access; a second right keeps working until the region is deleted, then fails the same way. */
static void revoke__close_and_delete(void **state)
{
	(void)state;
	struct unit_proc u;
	assert_int_equal(unit_start(&u, "16M"), 0);
	struct npmu_conn *c1 = unit_connect(&u), *c2 = unit_connect(&u), *c3 = unit_connect(&u);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_non_null(c3);
	assert_int_equal(npmu_region_create(c1, "r", 65536, NULL), 0);
	struct npmu_region *r1, *r2;
	assert_int_equal(npmu_region_open(c1, "r", NPMU_ACCESS_READ_WRITE, &r1), 0);
	assert_int_equal(npmu_region_open(c2, "r", NPMU_ACCESS_READ_WRITE, &r2), 0);
	assert_int_not_equal(r1->ai.key, r2->ai.key);
	char buf[64] = "checkpoint";
	assert_int_equal(npmu_region_write(r1, 0, buf, sizeof(buf)), 0);

	/* keep r1's access information, as a client that ignores the close would */
	struct npmu_region stale = *r1;
	stale.conn = stale.data = c3;
	assert_int_equal(npmu_region_read(&stale, 0, buf, sizeof(buf)), 0);
	assert_int_equal(npmu_region_close(&r1), 0);
	assert_int_equal(npmu_region_write(&stale, 0, buf, sizeof(buf)), NPMU_E_KEY);
	assert_int_equal(npmu_region_read(&stale, 0, buf, sizeof(buf)), NPMU_E_KEY);

	/* the other right is untouched */
	assert_int_equal(npmu_region_write(r2, 64, buf, sizeof(buf)), 0);
	assert_int_equal(npmu_region_read(r2, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "checkpoint");

	/* the owner's explicit revoke kills every key to the region */
	struct npmu_region *r3;
	assert_int_equal(npmu_region_open(c3, "r", NPMU_ACCESS_READ, &r3), 0);
	assert_int_equal(npmu_region_read(r3, 0, buf, sizeof(buf)), 0);
	assert_int_equal(npmu_region_revoke(c1, "r"), 2);
	assert_int_equal(npmu_region_read(r3, 0, buf, sizeof(buf)), NPMU_E_KEY);
	assert_int_equal(npmu_region_write(r2, 0, buf, sizeof(buf)), NPMU_E_KEY);
	assert_int_equal(npmu_region_close(&r3), NPMU_E_KEY); /* already revoked; handle freed */
	assert_int_equal(npmu_region_close(&r2), NPMU_E_KEY);
	assert_int_equal(npmu_region_open(c2, "r", NPMU_ACCESS_READ_WRITE, &r2), 0); /* reopen */
	assert_int_equal(npmu_region_write(r2, 64, buf, sizeof(buf)), 0);

	assert_int_equal(npmu_region_delete(c1, "r"), 0);
	assert_int_equal(npmu_region_write(r2, 0, buf, sizeof(buf)), NPMU_E_KEY);
	assert_int_equal(npmu_region_persist(r2, 0, 1, NPMU_PERSISTENT), NPMU_E_KEY);
	/* a new region of the same name does not revive the old key */
	assert_int_equal(npmu_region_create(c1, "r", 65536, NULL), 0);
	assert_int_equal(npmu_region_read(r2, 0, buf, sizeof(buf)), NPMU_E_KEY);
	assert_int_equal(npmu_region_close(&r2), NPMU_E_NOENT);
	npmu_conn_delete(&c1);
	npmu_conn_delete(&c2);
	npmu_conn_delete(&c3);
	unit_stop(&u, false);
	unit_cleanup(&u);
}

/* rights__enforced_by_the_unit: a client that forges write access on a read-only right (skipping
 * the library's check) is refused by the unit's registration, and the data is unchanged. */
static void rights__enforced_by_the_unit(void **state)
{
	(void)state;
	struct unit_proc u;
	assert_int_equal(unit_start(&u, "8M"), 0);
	struct npmu_conn *c1 = unit_connect(&u), *c2 = unit_connect(&u);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_int_equal(npmu_region_create(c1, "ro", 4096, NULL), 0);
	struct npmu_region *rw, *ro;
	assert_int_equal(npmu_region_open(c1, "ro", NPMU_ACCESS_READ_WRITE, &rw), 0);
	assert_int_equal(npmu_region_write(rw, 0, "original", 9), 0);
	assert_int_equal(npmu_region_open(c2, "ro", NPMU_ACCESS_READ, &ro), 0);
	assert_int_equal(npmu_region_write(ro, 0, "forged!!", 9), NPMU_E_ACCESS); /* library */
	ro->ai.access = NPMU_ACCESS_READ_WRITE;                                 /* forge */
	assert_int_equal(npmu_region_write(ro, 0, "forged!!", 9), NPMU_E_ACCESS); /* unit */
	char buf[9];
	assert_int_equal(npmu_region_read(rw, 0, buf, 9), 0);
	assert_string_equal(buf, "original");
	assert_int_equal(npmu_region_read(ro, 0, buf, 9), 0); /* reading is still allowed */
	assert_string_equal(buf, "original");
	/* a guessed key on the live region is refused, and changes nothing */
	struct npmu_region guess = *rw;
	guess.conn = guess.data = c2;
	for (int i = 0; i < 3; i++) {
		randombytes_buf(&guess.ai.key, sizeof(guess.ai.key));
		assert_int_equal(npmu_region_write(&guess, 0, "guessed!", 9), NPMU_E_KEY);
		assert_int_equal(npmu_region_read(&guess, 0, buf, 9), NPMU_E_KEY);
	}
	assert_int_equal(npmu_region_read(rw, 0, buf, 9), 0);
	assert_string_equal(buf, "original");
	npmu_region_close(&ro);
	npmu_region_close(&rw);
	npmu_conn_delete(&c1);
	npmu_conn_delete(&c2);
	unit_stop(&u, false);
	unit_cleanup(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(revoke__close_and_delete),
		cmocka_unit_test(rights__enforced_by_the_unit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
