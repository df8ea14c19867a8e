/* it_rights.c -- rights are tied to live clients: a crash loop of clients that die holding rights
 * never locks a region, a checkpoint stream or a pmmd-managed region out; one client holds at most
 * its share and readers leave room for a writer; the rights of a client that is alive are never
 * taken; a genuine limit is told as such. Real npmud and pmmd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "session.h"
#include "sessions.h"
#include "wire.h"

#define CRASHES 100 /* more than a region's 64 rights, several times over */

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

/* child_opens -- (a child) connect to server, open `n` rights to region name (read, or read-write
 * for a stream's primary when stream), report on fd how many it got, and wait to be killed. */
static void child_opens(const char *server, const char *name, int n, bool stream, int fd)
{
	struct npmu_conn_cfg cfg = {.server = server, .timeout_ms = 5000};
	struct npmu_conn *c;
	if (npmu_conn_new(&cfg, &c) != 0)
		_exit(3);
	int got = 0;
	if (stream) {
		struct npmu_ckpt *p;
		struct npmu_ckpt_opts opts = {.durability = NPMU_PLACED, .lease_ms = 100};
		int rc, tries = 0;
		while ((rc = npmu_ckpt_open_primary(c, name, &opts, &p)) == NPMU_E_LEASE &&
		       tries++ < 500)
			usleep(10 * 1000); /* the killed one's lease lapses first */
		if (rc == 0) {
			uint8_t rec[16] = {1};
			got = npmu_ckpt_update(p, 0, rec, sizeof(rec)) == 0; /* it really wrote */
		}
	} else {
		for (int i = 0; i < n; i++) {
			struct npmu_region *r;
			int rc = npmu_region_open(c, name, NPMU_ACCESS_READ, &r);
			if (rc != 0) {
				fprintf(stderr, "child: open %d of %s: %s\n", i, name, npmu_strerror(rc));
				break;
			}
			got++;
		}
	}
	if (write(fd, &got, sizeof(got)) != sizeof(got))
		_exit(4);
	for (;;)
		pause();
}

/* crash_round -- fork a child that opens n rights of name, wait for its report, SIGKILL it;
 * returns how many rights it had opened (-1: it died before reporting). */
static int crash_round(const char *server, const char *name, int n, bool stream)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		child_opens(server, name, n, stream, pfd[1]);
	}
	close(pfd[1]);
	int got = -1;
	if (read(pfd[0], &got, sizeof(got)) != sizeof(got))
		got = -1;
	close(pfd[0]);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* killed holding them */
	return got;
}

/* crash_loop -- CRASHES clients each open rights to name and are killed holding them; every
 * one must have got its rights (an effective round), and the region must open afterwards. */
static void crash_loop(const char *server, const char *name, int per_child, bool stream)
{
	int effective = 0;
	for (int i = 0; i < CRASHES; i++) {
		int got = crash_round(server, name, per_child, stream);
		if (got != (stream ? 1 : per_child))
			fprintf(stderr, "round %d: the client got %d of its %d right(s)\n", i, got,
				stream ? 1 : per_child);
		effective += got == (stream ? 1 : per_child);
	}
	printf("# %s: %d clients killed holding %s, %d effective rounds\n", name, CRASHES,
	       stream ? "a stream's lease and rights" : "rights", effective);
	assert_int_equal(effective, CRASHES);
	struct npmu_conn_cfg cfg = {.server = server, .timeout_ms = 5000};
	struct npmu_conn *c;
	assert_int_equal(npmu_conn_new(&cfg, &c), 0);
	struct npmu_region *r;
	assert_int_equal(npmu_region_open(c, name, NPMU_ACCESS_READ, &r), 0);
	struct npmu_region_info info;
	assert_int_equal(npmu_region_stat(c, name, &info), 0);
	assert_true(info.rights <= 64);
	npmu_region_close(&r);
	npmu_conn_delete(&c);
}

/* crash_loop__region: 150 clients killed each holding 3 rights to one region; all got them. */
static void crash_loop__region(void **state)
{
	(void)state;
	struct npmu_conn *c = unit_connect(&unit);
	assert_non_null(c);
	assert_int_equal(npmu_region_create(c, "crashy", 1 << 20, NULL), 0);
	npmu_conn_delete(&c);
	crash_loop(unit.addr, "crashy", 3, false);
	assert_true(unit_log_count(&unit, "right(s) of clients gone reclaimed") > 0);
}

/* crash_loop__stream: 150 primaries killed after a commit each (a read-write right on the
 * stream, which the next takeover fences, and one on its cursor, left behind): every one could
 * open the stream, and a backup still can. */
static void crash_loop__stream(void **state)
{
	(void)state;
	struct npmu_conn *c = unit_connect(&unit);
	assert_non_null(c);
	struct npmu_ckpt_cfg cfg = {.mode = NPMU_CKPT_APPEND, .state_size = 4096};
	assert_int_equal(npmu_ckpt_create(c, "crashy.stream", &cfg), 0);
	crash_loop(unit.addr, "crashy.stream", 1, true);
	struct npmu_ckpt *b;
	assert_int_equal(npmu_ckpt_open_backup(c, "crashy.stream", NULL, &b), 0);
	assert_int_equal(npmu_ckpt_takeover(b, 5000), 0);
	uint64_t seq;
	npmu_ckpt_state(b, NULL, &seq);
	assert_int_equal(seq, CRASHES); /* each killed primary's one commit is there */
	npmu_ckpt_close(&b);
	npmu_conn_delete(&c);
}

/* open_n -- open n read rights to region name through c into r[]; each must succeed. */
static void open_n(struct npmu_conn *c, const char *name, struct npmu_region **r, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(npmu_region_open(c, name, NPMU_ACCESS_READ, &r[i]), 0);
}

/* share__one_client_cannot_take_them_all: a client holds at most NPMU_RIGHTS_PER_HOLDER rights
 * to a region (before, one careless or hostile client could open all 64 and lock every other
 * out, the region's writer included), and readers at most NPMU_RIGHTS_READ_MAX: past them a
 * client is told the limit, the rights of live clients are never taken, and a writer still
 * opens beside readers holding every read right. */
static void share__one_client_cannot_take_them_all(void **state)
{
	(void)state;
	struct npmu_conn *c[4], *d = unit_connect(&unit);
	assert_non_null(d);
	for (int i = 0; i < 4; i++)
		assert_non_null(c[i] = unit_connect(&unit));
	assert_int_equal(npmu_region_create(d, "full", 1 << 20, NULL), 0);
	struct npmu_region *r[NPMU_RIGHTS_READ_MAX], *x;
	open_n(c[0], "full", r, NPMU_RIGHTS_PER_HOLDER);
	assert_int_equal(npmu_region_open(c[0], "full", NPMU_ACCESS_READ, &x), NPMU_E_LIMIT);
	assert_int_equal(npmu_region_open(c[0], "full", NPMU_ACCESS_READ_WRITE, &x), NPMU_E_LIMIT);
	assert_int_equal(npmu_region_open(d, "full", NPMU_ACCESS_READ, &x), 0); /* others still can */
	npmu_region_close(&x);
	assert_true(unit_log_count(&unit, "holds 16 rights to it already") > 0);
	_Static_assert(NPMU_RIGHTS_READ_MAX == 3 * NPMU_RIGHTS_PER_HOLDER + 8, "the shares below");
	open_n(c[1], "full", r + 16, 16);
	open_n(c[2], "full", r + 32, 16);
	open_n(c[3], "full", r + 48, 8);
	for (int i = 0; i < 2; i++) { /* every read right taken, across holder renewals */
		assert_int_equal(npmu_region_open(d, "full", NPMU_ACCESS_READ, &x), NPMU_E_LIMIT);
		usleep(NPMU_HOLDER_TTL_MS * 1000);
	}
	struct npmu_region *w; /* a writer still opens, and writes */
	assert_int_equal(npmu_region_open(d, "full", NPMU_ACCESS_READ_WRITE, &w), 0);
	uint8_t b[16] = {7};
	assert_int_equal(npmu_region_write(w, 0, b, sizeof(b)), 0);
	npmu_region_close(&w);
	for (int i = 0; i < NPMU_RIGHTS_READ_MAX; i++) /* and every reader still reads */
		assert_int_equal(npmu_region_read(r[i], 0, b, sizeof(b)), 0);
	assert_true(unit_log_count(&unit, "all 56 read rights are held by live clients") > 0);
	for (int i = 0; i < NPMU_RIGHTS_READ_MAX; i++)
		npmu_region_close(&r[i]);
	for (int i = 0; i < 4; i++)
		npmu_conn_delete(&c[i]);
	npmu_conn_delete(&d);
}

/* live__never_taken: the rights of live clients are kept: while readers hold every read right
 * the next one is told the limit; a client stopped (SIGSTOP) past the holder TTL while another
 * needs a right loses one. */
static void live__never_taken(void **state)
{
	(void)state;
	struct npmu_conn *c[3], *d = unit_connect(&unit);
	assert_non_null(d);
	for (int i = 0; i < 3; i++)
		assert_non_null(c[i] = unit_connect(&unit));
	struct npmu_region *r[40], *x;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) { /* stopped later, not dead: its port still takes connections */
		close(pfd[0]);
		child_opens(unit.addr, "full", NPMU_RIGHTS_PER_HOLDER, false, pfd[1]);
	}
	close(pfd[1]);
	int got = 0;
	assert_int_equal(read(pfd[0], &got, sizeof(got)), sizeof(got));
	assert_int_equal(got, NPMU_RIGHTS_PER_HOLDER);
	open_n(c[0], "full", r, 16); /* 16 + 40 = every read right */
	open_n(c[1], "full", r + 16, 16);
	open_n(c[2], "full", r + 32, 8);
	kill(pid, SIGSTOP);
	assert_int_equal(npmu_region_open(d, "full", NPMU_ACCESS_READ, &x), NPMU_E_LIMIT);
	usleep((NPMU_HOLDER_TTL_MS + 500) * 1000);
	assert_int_equal(npmu_region_open(d, "full", NPMU_ACCESS_READ, &x), 0);
	npmu_region_close(&x);
	uint8_t b[16];
	for (int i = 0; i < 40; i++) /* the live ones kept theirs */
		assert_int_equal(npmu_region_read(r[i], 0, b, sizeof(b)), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pfd[0]);
	for (int i = 0; i < 40; i++)
		npmu_region_close(&r[i]);
	for (int i = 0; i < 3; i++)
		npmu_conn_delete(&c[i]);
	npmu_conn_delete(&d);
}

/* crash_loop__pmmd: the same crash loop through pmmd managing a unit: the manager reclaims at the
 * remote unit. */
static void crash_loop__pmmd(void **state)
{
	(void)state;
	static char dir[64], key[96], unit_arg[160];
	static const char *unit_args[] = {"--no-manager", "--cluster-key", key, NULL};
	static const char *pmmd_args[] = {"--cluster-key", key, "--unit", unit_arg, NULL};
	snprintf(dir, sizeof(dir), "/tmp/npmu-it-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/cluster.key", dir);
	assert_int_equal(npmu__key_write(key), 0);
	struct unit_proc u, pm;
	assert_int_equal(unit_start_args(&u, NULL, "64M", unit_args), 0);
	snprintf(unit_arg, sizeof(unit_arg), "%s", u.addr);
	assert_int_equal(pmmd_start(&pm, pmmd_args), 0);
	struct npmu_conn *c = unit_connect(&pm);
	assert_non_null(c);
	assert_int_equal(npmu_region_create(c, "crashy.remote", 1 << 20, NULL), 0);
	npmu_conn_delete(&c);
	crash_loop(pm.addr, "crashy.remote", 3, false);
	/* one client's share holds through pmmd too: its next right is refused, not reclaimed */
	assert_non_null(c = unit_connect(&pm));
	struct npmu_region *r[NPMU_RIGHTS_PER_HOLDER], *x;
	open_n(c, "crashy.remote", r, NPMU_RIGHTS_PER_HOLDER);
	assert_int_equal(npmu_region_open(c, "crashy.remote", NPMU_ACCESS_READ, &x), NPMU_E_LIMIT);
	assert_true(unit_log_count(&pm, "holds 16 rights to it already") > 0);
	for (int i = 0; i < NPMU_RIGHTS_PER_HOLDER; i++)
		npmu_region_close(&r[i]);
	npmu_conn_delete(&c);
	unit_stop(&pm, false);
	unit_stop(&u, false);
	unit_cleanup(&pm);
	unit_cleanup(&u);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

#define SESSIONS_TABLE 256 /* the unit's --max-sessions here, so that 300 clients fill it */

/* crash_loop__sessions: with principals, 300 clients that authenticate and are killed leave no
 * session behind that keeps the next one out (the table holds 256): the last one connects. */
static void crash_loop__sessions(void **state)
{
	(void)state;
	static char dir[64], srv[96], cli[96];
	assert_int_equal(app_credentials(dir, srv, cli), 0);
	static const char *args[] = {"--credentials", srv, "--max-sessions", "256", NULL};
	_Static_assert(SESSIONS_TABLE == 256, "the argument above");
	struct unit_proc u;
	assert_int_equal(unit_start_args(&u, NULL, "16M", args), 0);
	setenv("NPMU_CREDENTIALS", cli, 1);
	int effective = 0, rounds = 300;
	uint64_t first_ms = 0; /* when the first client's session went idle */
	for (int i = 0; i < rounds; i++) {
		/* the table is full of gone clients' sessions; the unit makes room from those idle
		 * NPMU_SESSION_IDLE_MS (sessions.h), which clients this fast may not be yet */
		while (i == SESSIONS_TABLE && npmu__now_ms() < first_ms + NPMU_SESSION_IDLE_MS + 200)
			usleep(10000);
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			struct npmu_conn_cfg cfg = {.server = u.addr, .timeout_ms = 5000};
			struct npmu_conn *c;
			int ok = npmu_conn_new(&cfg, &c) == 0; /* authenticated: a session opened */
			if (write(pfd[1], &ok, sizeof(ok)) != sizeof(ok))
				_exit(4);
			for (;;)
				pause();
		}
		close(pfd[1]);
		int ok = 0;
		if (read(pfd[0], &ok, sizeof(ok)) != sizeof(ok))
			ok = 0;
		close(pfd[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		effective += ok;
		if (i == 0)
			first_ms = npmu__now_ms();
	}
	printf("# %d clients authenticated and killed, %d of them served\n", rounds, effective);
	assert_int_equal(effective, rounds);
	assert_true(unit_log_count(&u, "its client is gone: closed to make room") > 0);
	unsetenv("NPMU_CREDENTIALS");
	unit_stop(&u, false);
	unit_cleanup(&u);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crash_loop__region),
		cmocka_unit_test(crash_loop__stream),
		cmocka_unit_test(share__one_client_cannot_take_them_all),
		cmocka_unit_test(live__never_taken),
		cmocka_unit_test(crash_loop__pmmd),
		cmocka_unit_test(crash_loop__sessions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
