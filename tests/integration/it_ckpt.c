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

#include "internal.h"
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

	/* the kept sets, read back at once: 10, 9 and 8 */
	struct npmu_ckpt_set *sets;
	size_t n;
	assert_int_equal(npmu_ckpt_sets(b, &sets, &n), 0);
	assert_int_equal(n, 3);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(sets[k].seq, 10 - (uint64_t)k);
		assert_int_equal(sets[k].len, STATE - (10 - (uint64_t)k));
		assert_true(check_pattern(sets[k].data, sets[k].len, 1000 + 10 - (uint64_t)k, 0));
	}
	npmu_ckpt_sets_free(sets, n);

	/* while the primary's lease is live, nobody else may open the stream read-write */
	struct npmu_region *raw;
	assert_int_equal(npmu_region_open(c, "s.over", NPMU_ACCESS_READ_WRITE, &raw), NPMU_E_LEASE);
	assert_int_equal(npmu_region_open(c, "s.over", NPMU_ACCESS_READ, &raw), 0);
	npmu_region_close(&raw);
	npmu_ckpt_close(&p); /* lease released */

	/* a corrupt newest checkpoint is detected by its checksum and the one before is used */
	assert_int_equal(npmu_region_open(c, "s.over", NPMU_ACCESS_READ_WRITE, &raw), 0);
	uint64_t slot10 = 4096 + (10 % 3) * (uint64_t)STATE;
	assert_int_equal(npmu_region_write(raw, slot10 + 100, "garbage", 7), 0);
	npmu_region_close(&raw);
	struct npmu_ckpt *b2;
	assert_int_equal(npmu_ckpt_open_backup(c, "s.over", NULL, &b2), 0);
	assert_int_equal(npmu_ckpt_follow(b2), 1);
	got = npmu_ckpt_state(b2, &len, &seq);
	assert_int_equal(seq, 9);
	assert_true(check_pattern(got, len, 1009, 0));
	assert_int_equal(npmu_ckpt_sets(b2, &sets, &n), 0);
	assert_int_equal(n, 2); /* 9 and 8 */
	npmu_ckpt_sets_free(sets, n);
	npmu_ckpt_close(&b2);
	free(st);
	npmu_ckpt_close(&b);
	npmu_conn_delete(&c);
}

/* over_len -- the length of overwrite checkpoint number n (varies, at most STATE). */
static uint64_t over_len(uint64_t n)
{
	return STATE / 2 + (n * 977) % (STATE / 2);
}

/* primary_child -- a primary that goes on with the workload from where the stream is and reports
 * each committed seq on fd (append: one update; overwrite: a whole state per commit). */
static void primary_child(const char *name, int fd, int stop_after, int lease_ms)
{
	struct npmu_conn_cfg cfg = {.server = unit.addr};
	struct npmu_conn *c;
	if (npmu_conn_new(&cfg, &c) != 0)
		_exit(3);
	struct npmu_ckpt *p;
	struct npmu_ckpt_opts opts = {.lease_ms = lease_ms};
	if (npmu_ckpt_open_primary(c, name, &opts, &p) != 0)
		_exit(4);
	struct npmu_ckpt_info info;
	if (npmu_ckpt_stat(p, &info) != 0)
		_exit(7);
	uint8_t *buf = malloc(STATE);
	uint64_t seq;
	npmu_ckpt_state(p, NULL, &seq); /* go on with the workload where the stream is */
	for (uint64_t i = seq + 1;; i++) {
		uint64_t off;
		int rc;
		if (info.mode == NPMU_CKPT_APPEND) {
			make_update(i, &off, buf);
			rc = npmu_ckpt_update(p, off, buf, REC);
		} else {
			fill_pattern(buf, over_len(i), i, 0);
			rc = npmu_ckpt_commit(p, buf, over_len(i));
		}
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

/* state_ok -- the handle's state is exactly what the workload committed as its seq. */
static bool state_ok(struct npmu_ckpt *ck, enum npmu_ckpt_mode mode, uint64_t *seq)
{
	if (mode == NPMU_CKPT_APPEND)
		return state_exact(ck, seq);
	uint64_t len;
	const uint8_t *st = npmu_ckpt_state(ck, &len, seq);
	return *seq == 0 ? len == 0 : len == over_len(*seq) && check_pattern(st, len, *seq, 0);
}

/* kills -- rounds of: a primary child runs, is SIGKILLed at a random moment mid-commit, a
 * backup takes over; count commits lost (acknowledged to the primary, missing after takeover)
 * and torn states (anything but exactly one committed checkpoint). A round is effective when
 * the primary was killed by the SIGKILL after committing something new in it; every round must
 * be (a primary that could not open, or died by itself, proved nothing). */
static void kills(const char *name, enum npmu_ckpt_mode mode, int rounds)
{
	struct npmu_conn *c = connect_unit();
	struct npmu_ckpt_cfg cfg = {.mode = mode, .state_size = STATE, .log_size = 1 << 20};
	assert_int_equal(npmu_ckpt_create(c, name, &cfg), 0);
	int lost = 0, torn = 0, effective = 0;
	uint64_t worst = 0, before = 0; /* the stream's seq when the round began */
	for (int round = 0; round < rounds; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			primary_child(name, pfd[1], 0, 100);
		}
		close(pfd[1]);
		struct npmu_ckpt *b;
		assert_int_equal(npmu_ckpt_open_backup(c, name, NULL, &b), 0);
		uint64_t first = 0; /* the kill falls among its commits, not before the first */
		if (read(pfd[0], &first, sizeof(first)) != sizeof(first))
			first = 0;
		usleep((useconds_t)(rand() % 120000));
		(void)npmu_ckpt_follow(b);
		usleep((useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		uint64_t acked = last_acked(pfd[0]);
		if (acked < first)
			acked = first;
		close(pfd[0]);
		bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		if (killed && acked > before)
			effective++;
		else
			printf("# round %d proved nothing: the primary %s, %llu acknowledged (stream at "
			       "%llu)\n", round, killed ? "was killed" : "exited by itself",
			       (unsigned long long)acked, (unsigned long long)before);
		uint64_t t0 = npmu__now_ms();
		assert_int_equal(npmu_ckpt_takeover(b, 5000), 0);
		uint64_t took = npmu__now_ms() - t0, seq;
		worst = took > worst ? took : worst;
		if (!state_ok(b, mode, &seq))
			torn++;
		if (seq < acked)
			lost++;
		before = seq;
		npmu_ckpt_close(&b); /* releases the lease for the next round's primary */
	}
	printf("# %s: %d kills during commits, %d effective, %d lost commits, %d torn states, "
	       "takeover <= %llu ms\n", mode == NPMU_CKPT_APPEND ? "append" : "overwrite", rounds,
	       effective, lost, torn, (unsigned long long)worst);
	assert_int_equal(effective, rounds);
	assert_int_equal(lost, 0);
	assert_int_equal(torn, 0);
	/* NPMU_TEST_TIME_SCALE stretches time bounds in slow builds (ThreadSanitizer: 10) */
	const char *scale = getenv("NPMU_TEST_TIME_SCALE");
	assert_true(worst < 1500 * (uint64_t)(scale && atoi(scale) > 0 ? atoi(scale) : 1));
	npmu_conn_delete(&c);
}

/* kill_rounds -- kills per mode: $NPMU_CKPT_KILLS, default 100. */
static int kill_rounds(void)
{
	const char *e = getenv("NPMU_CKPT_KILLS");
	return e ? atoi(e) : 100;
}

/* takeover__sigkill_append / _overwrite: see kills(). */
static void takeover__sigkill_append(void **state)
{
	(void)state;
	kills("s.kill.append", NPMU_CKPT_APPEND, kill_rounds());
}

static void takeover__sigkill_overwrite(void **state)
{
	(void)state;
	kills("s.kill.over", NPMU_CKPT_OVERWRITE, kill_rounds());
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
		primary_child("s.stop", pfd[1], 200, 300);
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
		cmocka_unit_test(takeover__sigkill_append),
		cmocka_unit_test(takeover__sigkill_overwrite),
		cmocka_unit_test(fencing__paused_primary),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
