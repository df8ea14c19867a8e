/* it_mirror_takeover.c -- a mirrored append stream whose primary died with its last update on
 * one copy only (pmmd and two units on loopback). The update is written to that copy alone
 * through the library's own per-copy transfer; a backup reading that copy adopts it, takes
 * over and commits more; then a fresh backup that can reach only the other copy must recover
 * exactly the new primary's state. (Before the takeover wrote a new base to every copy, the other copy's
 * update chain broke at the missing record and every later commit was out of its reach.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_format.h"
#include "internal.h"
#include "harness.h"

#define STATE (64u << 10)
#define UPD 64u    /* bytes per update */
#define BEFORE 20  /* updates the old primary commits on both copies */
#define AFTER 10   /* updates the new primary commits */

static struct unit_proc units[2], pm;
static struct npmu_conn *conn;

static int setup(void **state)
{
	(void)state;
	if (mirror_cluster_start(units, &pm) != 0)
		return -1;
	struct npmu_conn_cfg cfg = {.server = pm.addr, .timeout_ms = 10000, .io_timeout_ms = 500};
	return npmu_conn_new(&cfg, &conn);
}

static int teardown(void **state)
{
	(void)state;
	npmu_conn_delete(&conn);
	unit_cleanup(&pm);
	unit_cleanup(&units[0]);
	unit_cleanup(&units[1]);
	return 0;
}

/* update -- commit update i of the workload (UPD bytes of pattern i at a place from i). */
static void update(struct npmu_ckpt *ck, uint32_t i)
{
	uint8_t b[UPD];
	fill_pattern(b, sizeof(b), i, 0);
	assert_int_equal(npmu_ckpt_update(ck, (uint64_t)(i * 97 % (STATE / UPD)) * UPD, b, UPD), 0);
}

/* write_one_copy -- append update record seq at log position lpos of stream `name`, on copy c
 * only: what a primary killed between its writes to the two copies leaves behind. */
static void write_one_copy(const char *name, int c, uint64_t seq, uint64_t epoch, uint64_t lpos)
{
	struct npmu_region *r;
	assert_int_equal(npmu_region_open(conn, name, NPMU_ACCESS_READ_WRITE, &r), 0);
	assert_true(r->mirrored && r->copy[c].granted);
	uint8_t page[NPMU_CKPT_HDR];
	assert_int_equal(npmu_region_read(r, 0, page, sizeof(page)), 0);
	struct npmu__ckpt_hdr h;
	assert_int_equal(npmu__ckpt_hdr_decode(page, &h), 0);
	uint8_t payload[UPD], rec[256];
	fill_pattern(payload, sizeof(payload), 0xdead, 0);
	struct npmu__ckpt_upd u = {.len = UPD, .seq = seq, .epoch = epoch, .offset = 0, .lpos = lpos};
	size_t need = (size_t)npmu__ckpt_upd_size(UPD);
	assert_true(need <= sizeof(rec));
	npmu__ckpt_upd_encode(&u, payload, rec);
	struct npmu_iov iov = {npmu__ckpt_log_off(&h) + lpos % h.log_size, rec, need};
	struct npmu__xfer_target t = {.data = r->copy[c].data,
				      .ai = &r->copy[c].ai,
				      .region_id = r->copy[c].region_id};
	assert_int_equal(npmu__transfer(&t, 1, 1, &iov, 1, 5000), 0);
	assert_int_equal(npmu_region_close(&r), 0);
}

/* one_round -- the scenario with the last update on copy c, the backup reading copy c. */
static void one_round(int c)
{
	char name[32];
	snprintf(name, sizeof(name), "take%d", c);
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = STATE,
				    .log_size = 1 << 20, .mirror = 1};
	assert_int_equal(npmu_ckpt_create(conn, name, &cfg), 0);
	struct npmu_ckpt_opts opts = {.lease_ms = 1000};
	struct npmu_ckpt *old;
	assert_int_equal(npmu_ckpt_open_primary(conn, name, &opts, &old), 0);
	for (uint32_t i = 1; i <= BEFORE; i++)
		update(old, i);
	struct npmu_ckpt_info info;
	assert_int_equal(npmu_ckpt_stat(old, &info), 0);
	assert_int_equal(info.seq, BEFORE);
	assert_int_equal(npmu_ckpt_close(&old), 0); /* it "dies" (its lease given back) ... */
	write_one_copy(name, c, BEFORE + 1, info.epoch, info.latest_end); /* ... mid-write */

	opts.read_from = c == 0 ? NPMU_COPY_PRIMARY : NPMU_COPY_MIRROR;
	struct npmu_ckpt *bak;
	assert_int_equal(npmu_ckpt_open_backup(conn, name, &opts, &bak), 0);
	assert_int_equal(npmu_ckpt_takeover(bak, 5000), 0);
	uint64_t seq, len;
	(void)npmu_ckpt_state(bak, &len, &seq);
	assert_int_equal(seq, BEFORE + 1); /* it read copy c, and adopted the update */
	for (uint32_t i = 100; i < 100 + AFTER; i++)
		update(bak, i);
	uint8_t *want = malloc(STATE);
	assert_non_null(want);
	const void *st = npmu_ckpt_state(bak, &len, &seq);
	memcpy(want, st, len);
	uint64_t want_len = len, want_seq = seq;

	/* only the other copy answers now: a fresh backup must recover the same state */
	struct unit_proc *u = &units[c];
	assert_int_equal(kill(u->pid, SIGSTOP), 0);
	struct npmu_ckpt_opts look = {.observe = 1};
	struct npmu_ckpt *fresh = NULL;
	int rc = npmu_ckpt_open_backup(conn, name, &look, &fresh);
	if (rc == 0)
		rc = npmu_ckpt_follow(fresh);
	kill(u->pid, SIGCONT);
	assert_true(rc >= 0);
	st = npmu_ckpt_state(fresh, &len, &seq);
	print_message("copy %d held the dead primary's last update alone; the other copy recovers "
		      "seq %llu (the new primary's: %llu)\n",
		      c, (unsigned long long)seq, (unsigned long long)want_seq);
	if (seq != want_seq || len != want_len || memcmp(st, want, len) != 0)
		fail_msg("later commits are out of the other copy's reach");
	npmu_ckpt_close(&fresh);
	free(want);
	assert_int_equal(npmu_ckpt_close(&bak), 0);
	char cursor[64];
	snprintf(cursor, sizeof(cursor), "%s.cursor", name);
	npmu_region_delete(conn, name);
	npmu_region_delete(conn, cursor);
}

/* takeover__one_copy_ahead -- the last update on copy 0, then on copy 1. */
static void takeover__one_copy_ahead(void **state)
{
	(void)state;
	one_round(0);
	one_round(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(takeover__one_copy_ahead),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
