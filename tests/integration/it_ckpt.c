/* it_ckpt.c -- checkpoint streams against a real npmud: both modes followed by a backup, a log that
 * fills and is folded into new bases, SIGKILL of a primary and takeover with nothing committed
 * lost, and a SIGSTOPped primary fenced for good. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"

#define STATE (64 << 10)
#define REC 256

static struct unit_proc unit;

static int setup(void **state)
{
	(void)state;
	return unit_start(&unit, "64M");
}

static int teardown(void **state)
{
	(void)state;
	unit_stop(&unit, false);
	unit_cleanup(&unit);
	return 0;
}

/* apply_update -- update i of the deterministic workload: REC bytes at a place derived from i. */
static void make_update(uint64_t i, uint64_t *off, uint8_t buf[REC])
{
	*off = (i * 7919 * REC) % STATE;
	fill_pattern(buf, REC, i, 0);
}

/* expected -- the state after updates 1..n of the workload. */
static void expected(uint64_t n, uint8_t *st)
{
	memset(st, 0, STATE);
	uint8_t buf[REC];
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t off;
		make_update(i, &off, buf);
		memcpy(st + off, buf, REC);
	}
}

/* state_exact -- whether the handle's state is exactly the workload's after its seq updates. */
static bool state_exact(struct npmu_ckpt *ck, uint64_t *seq_out)
{
	uint64_t len, seq;
	const uint8_t *st = npmu_ckpt_state(ck, &len, &seq);
	uint8_t *want = malloc(STATE);
	expected(seq, want);
	bool ok = len <= STATE && memcmp(st, want, len) == 0;
	for (uint64_t b = len; ok && b < STATE; b++)
		ok = want[b] == 0;
	free(want);
	if (seq_out)
		*seq_out = seq;
	return ok;
}

/* check_state -- assert that the state is exact. */
static void check_state(struct npmu_ckpt *ck, uint64_t *seq_out)
{
	assert_true(state_exact(ck, seq_out));
}

static struct npmu_conn *connect_unit(void)
{
	struct npmu_conn *c = unit_connect(&unit);
	assert_non_null(c);
	return c;
}

/* append__follow_and_fold: a backup following an append stream sees exactly the primary's state,
 * also across many new bases when the log fills, and after falling far behind. */
static void append__follow_and_fold(void **state)
{
	(void)state;
	struct npmu_conn *c = connect_unit();
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = STATE, .log_size = 1 << 20};
	assert_int_equal(npmu_ckpt_create(c, "s.append", &cfg), 0);
	struct npmu_ckpt *p, *b;
	struct npmu_ckpt_opts opts = {.durability = NPMU_PLACED};
	assert_int_equal(npmu_ckpt_open_primary(c, "s.append", &opts, &p), 0);
	assert_int_equal(npmu_ckpt_open_primary(c, "s.append", &opts, &b), NPMU_E_LEASE);
	assert_int_equal(npmu_ckpt_open_backup(c, "s.append", &opts, &b), 0);
	uint8_t buf[REC];
	uint64_t i = 0, seq;
	for (int round = 0; round < 30; round++) {
		for (int k = 0; k < 500; k++) {
			uint64_t off;
			make_update(++i, &off, buf);
			assert_int_equal(npmu_ckpt_update(p, off, buf, REC), 0);
		}
		if (round % 10 != 9) /* and now and then, fall far behind */
			assert_true(npmu_ckpt_follow(b) >= 0);
	}
	assert_true(npmu_ckpt_follow(b) > 0);
	check_state(b, &seq);
	assert_int_equal(seq, i);
	struct npmu_ckpt_info info;
	assert_int_equal(npmu_ckpt_stat(p, &info), 0);
	assert_int_equal(info.mode, NPMU_CKPT_APPEND);
	assert_true(info.epoch >= 1);
	assert_int_equal(info.seq, i);
	assert_int_equal(npmu_ckpt_update(b, 0, buf, REC), NPMU_E_ACCESS); /* a backup cannot write */
	npmu_ckpt_close(&b);
	npmu_ckpt_close(&p);
	npmu_conn_delete(&c);
}

/* overwrite__keeps_last_sets: overwrite commits, the newest read by the backup. */
static void overwrite__keeps_last_sets(void **state)
{
	(void)state;
	struct npmu_conn *c = connect_unit();
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_OVERWRITE, .state_size = STATE, .keep = 3};
	assert_int_equal(npmu_ckpt_create(c, "s.over", &cfg), 0);
	struct npmu_ckpt *p, *b;
	assert_int_equal(npmu_ckpt_open_primary(c, "s.over", NULL, &p), 0);
	assert_int_equal(npmu_ckpt_open_backup(c, "s.over", NULL, &b), 0);
	assert_int_equal(npmu_ckpt_follow(b), 0); /* nothing committed yet */
	uint8_t *st = malloc(STATE);
	for (uint64_t n = 1; n <= 10; n++) {
		fill_pattern(st, STATE - n, 1000 + n, 0);
		assert_int_equal(npmu_ckpt_commit(p, st, STATE - n), 0);
	}
	assert_int_equal(npmu_ckpt_follow(b), 1);
	uint64_t len, seq;
	const uint8_t *got = npmu_ckpt_state(b, &len, &seq);
	assert_int_equal(seq, 10);
	assert_int_equal(len, STATE - 10);
	assert_true(check_pattern(got, len, 1010, 0));
	assert_int_equal(npmu_ckpt_commit(p, st, STATE + 1), NPMU_E_TOOBIG);
	free(st);
	npmu_ckpt_close(&b);
	npmu_ckpt_close(&p);
	npmu_conn_delete(&c);
}

/* primary_child -- a primary that applies the workload and reports each committed seq on fd. */
static void primary_child(const char *name, int fd, int stop_after)
{
	struct npmu_conn_cfg cfg = {.server = unit.addr};
	struct npmu_conn *c;
	if (npmu_conn_new(&cfg, &c) != 0)
		_exit(3);
	struct npmu_ckpt *p;
	struct npmu_ckpt_opts opts = {.lease_ms = 300};
	if (npmu_ckpt_open_primary(c, name, &opts, &p) != 0)
		_exit(4);
	uint8_t buf[REC];
	uint64_t seq;
	npmu_ckpt_state(p, NULL, &seq); /* go on with the workload where the stream is */
	for (uint64_t i = seq + 1;; i++) {
		uint64_t off;
		make_update(i, &off, buf);
		int rc = npmu_ckpt_update(p, off, buf, REC);
		if (rc == NPMU_E_FENCED)
			_exit(10); /* the only acceptable failure */
		if (rc != 0)
			_exit(5);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(6);
		if (stop_after && i == seq + (uint64_t)stop_after)
			raise(SIGSTOP);
	}
}

/* last_acked -- the last seq a child reported as committed. */
static uint64_t last_acked(int fd)
{
	uint64_t v, last = 0;
	while (read(fd, &v, sizeof(v)) == sizeof(v))
		last = v;
	return last;
}

/* takeover__after_sigkill: a primary killed mid-run; the backup takes over within a second and
 * has every update the primary was told committed, and nothing torn. Repeated. */
static void takeover__after_sigkill(void **state)
{
	(void)state;
	struct npmu_conn *c = connect_unit();
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = STATE, .log_size = 1 << 20};
	assert_int_equal(npmu_ckpt_create(c, "s.kill", &cfg), 0);
	int lost = 0, torn = 0, kills = 0;
	for (int round = 0; round < 8; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			primary_child("s.kill", pfd[1], 0);
		}
		close(pfd[1]);
		struct npmu_ckpt *b;
		assert_int_equal(npmu_ckpt_open_backup(c, "s.kill", NULL, &b), 0);
		usleep((useconds_t)(100000 + rand() % 200000));
		(void)npmu_ckpt_follow(b);
		usleep((useconds_t)(rand() % 50000));
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		kills++;
		uint64_t acked = last_acked(pfd[0]);
		close(pfd[0]);
		uint64_t t0 = npmu__now_ms();
		assert_int_equal(npmu_ckpt_takeover(b, 5000), 0);
		uint64_t took = npmu__now_ms() - t0;
		uint64_t seq;
		if (!state_exact(b, &seq)) /* anything but exactly the workload up to seq is torn */
			torn++;
		if (seq < acked)
			lost++;
		printf("# round %d: primary acked %llu, backup has %llu, takeover %llu ms\n", round,
		       (unsigned long long)acked, (unsigned long long)seq, (unsigned long long)took);
		assert_true(took < 1500);
		/* the new primary goes on from there (it is the workload's next update) */
		uint8_t buf[REC];
		uint64_t off;
		make_update(seq + 1, &off, buf);
		assert_int_equal(npmu_ckpt_update(b, off, buf, REC), 0);
		npmu_ckpt_close(&b);
	}
	printf("# %d kills, %d lost commits, %d torn states\n", kills, lost, torn);
	assert_int_equal(lost, 0);
	assert_int_equal(torn, 0);
	npmu_conn_delete(&c);
}

/* fencing__paused_primary: a primary stopped past its lease, then resumed, gets NPMU_E_FENCED on
 * its next write and the stream is unchanged by it. */
static void fencing__paused_primary(void **state)
{
	(void)state;
	struct npmu_conn *c = connect_unit();
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = STATE};
	assert_int_equal(npmu_ckpt_create(c, "s.stop", &cfg), 0);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		primary_child("s.stop", pfd[1], 200);
	}
	close(pfd[1]);
	int status;
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	struct npmu_ckpt *b;
	assert_int_equal(npmu_ckpt_open_backup(c, "s.stop", NULL, &b), 0);
	assert_int_equal(npmu_ckpt_takeover(b, 5000), 0);
	uint64_t seq;
	check_state(b, &seq);
	assert_int_equal(seq, 200);
	kill(pid, SIGCONT);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 10); /* its next write: NPMU_E_FENCED */
	assert_int_equal(last_acked(pfd[0]), 200);
	close(pfd[0]);
	struct npmu_ckpt *b2;
	assert_int_equal(npmu_ckpt_open_backup(c, "s.stop", NULL, &b2), 0);
	assert_true(npmu_ckpt_follow(b2) > 0);
	uint64_t seq2;
	check_state(b2, &seq2);
	assert_int_equal(seq2, 200); /* nothing of the fenced primary's landed */
	npmu_ckpt_close(&b2);
	npmu_ckpt_close(&b);
	npmu_conn_delete(&c);
}

int main(void)
{
	srand((unsigned)getpid());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append__follow_and_fold),
		cmocka_unit_test(overwrite__keeps_last_sets),
		cmocka_unit_test(takeover__after_sigkill),
		cmocka_unit_test(fencing__paused_primary),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
