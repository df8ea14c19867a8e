/* it_load.c -- leases under load: pairs committing large states through pmmd on this machine's
 * two cores, with backups ready to take over, are never fenced while their primaries live; nor
 * are mirrored pairs when one unit is killed under them (pmmd then waits on a dead unit). */
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
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "session.h"

#define PAIRS 4

/* every child started, killed when a test ends, however it ends */
static pid_t children[4 * PAIRS];
static int nchildren;

/* kill_children -- the teardown of every test. */
static int kill_children(void **state)
{
	(void)state;
	for (int i = 0; i < nchildren; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	nchildren = 0;
	return 0;
}

/* primary_child -- commit whole states of `size` bytes as fast as it can (persistent), then
 * report on fd each committed seq; exits 10 when fenced, 5 on another error. */
static void primary_child(const char *server, const char *name, uint64_t size, int fd)
{
	struct npmu_conn_cfg cfg = {.server = server};
	struct npmu_conn *c;
	if (npmu_conn_new(&cfg, &c) != 0)
		_exit(3);
	struct npmu_ckpt *p;
	int rc = npmu_ckpt_open_primary(c, name, NULL, &p);
	if (rc != 0) {
		fprintf(stderr, "%s: primary: open: %s\n", name, npmu_strerror(rc));
		_exit(4);
	}
	uint8_t *st = malloc(size);
	for (uint64_t i = 1;; i++) {
		memset(st, (int)i, size);
		rc = npmu_ckpt_commit(p, st, size);
		if (rc != 0) {
			fprintf(stderr, "%s: primary: commit %llu: %s\n", name, (unsigned long long)i,
				npmu_strerror(rc));
			_exit(rc == NPMU_E_FENCED ? 10 : 5);
		}
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(6);
	}
}

/* backup_child -- follow every 50 ms and try to take over at once (as a pair's backup does);
 * a takeover exits 9: it must not happen while the primary lives. */
static void backup_child(const char *server, const char *name)
{
	struct npmu_conn_cfg cfg = {.server = server};
	struct npmu_conn *c;
	if (npmu_conn_new(&cfg, &c) != 0)
		_exit(3);
	struct npmu_ckpt *b;
	if (npmu_ckpt_open_backup(c, name, NULL, &b) != 0)
		_exit(4);
	for (;;) {
		(void)npmu_ckpt_follow(b);
		int rc = npmu_ckpt_takeover(b, 0);
		if (rc == 0) {
			fprintf(stderr, "%s: backup: took over from a live primary\n", name);
			_exit(9);
		}
		if (rc != NPMU_E_LEASE && rc != NPMU_E_MANAGER) {
			fprintf(stderr, "%s: backup: takeover: %s\n", name, npmu_strerror(rc));
			_exit(7);
		}
		usleep(50 * 1000);
	}
}

/* count -- acknowledgements readable on fd now. */
static uint64_t count(int fd)
{
	uint64_t v, n = 0;
	while (read(fd, &v, sizeof(v)) == sizeof(v))
		n++;
	return n;
}

/*
 * pairs -- PAIRS primary/backup pairs on streams of `size` bytes (mirrored or not) run for
 * `seconds`; with kill_unit, units[1] is killed a second in. Every primary must commit all
 * along and none may be fenced or taken over.
 */
static void pairs(struct unit_proc *units, struct unit_proc *pm, uint64_t size, bool mirror,
		  bool kill_unit, int seconds)
{
	pid_t pri[PAIRS], bak[PAIRS];
	int fd[PAIRS];
	char name[PAIRS][32];
	struct npmu_conn_cfg cfg = {.server = pm->addr};
	struct npmu_conn *c;
	assert_int_equal(npmu_conn_new(&cfg, &c), 0);
	for (int i = 0; i < PAIRS; i++) {
		snprintf(name[i], sizeof(name[i]), "load%s.%d", mirror ? "m" : "", i);
		struct npmu_ckpt_cfg sc = {.mode = NPMU_CKPT_OVERWRITE, .state_size = size,
					   .mirror = mirror};
		assert_int_equal(npmu_ckpt_create(c, name[i], &sc), 0);
		int p[2];
		assert_int_equal(pipe(p), 0);
		if ((pri[i] = fork()) == 0) {
			close(p[0]);
			primary_child(pm->addr, name[i], size, p[1]);
		}
		close(p[1]);
		children[nchildren++] = pri[i];
		uint64_t first; /* the primary holds the lease before its backup starts */
		assert_int_equal(read(p[0], &first, sizeof(first)), sizeof(first));
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		fd[i] = p[0];
		if ((bak[i] = fork()) == 0)
			backup_child(pm->addr, name[i]);
		children[nchildren++] = bak[i];
	}
	npmu_conn_delete(&c);
	uint64_t commits[PAIRS] = {0};
	int quiet[PAIRS] = {0}; /* seconds in a row without a commit */
	for (int s = 0; s < seconds; s++) {
		sleep(1);
		if (s == 0 && kill_unit)
			unit_stop(&units[1], true);
		for (int i = 0; i < PAIRS; i++) {
			uint64_t n = count(fd[i]);
			commits[i] += n;
			quiet[i] = n ? 0 : quiet[i] + 1;
			int status;
			if (waitpid(pri[i], &status, WNOHANG) == pri[i] ||
			    waitpid(bak[i], &status, WNOHANG) == bak[i])
				fail_msg("%s: a process ended (exit %d) at second %d", name[i],
					 WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), s);
			assert_true(quiet[i] < 10); /* still committing */
		}
	}
	for (int i = 0; i < PAIRS; i++) {
		printf("# %s: %llu commits of %llu MiB in %d s, never fenced nor taken over%s\n",
		       name[i], (unsigned long long)commits[i], (unsigned long long)(size >> 20),
		       seconds, kill_unit ? " (a unit killed under it)" : "");
		assert_true(commits[i] > 0);
		kill(bak[i], SIGKILL);
		kill(pri[i], SIGKILL);
		waitpid(bak[i], NULL, 0);
		waitpid(pri[i], NULL, 0);
		close(fd[i]);
	}
}

/* heavy__large_states: four pairs committing 32 MiB states, persistent, on two cores. */
static void heavy__large_states(void **state)
{
	(void)state;
	struct unit_proc units[2], pm;
	assert_int_equal(cluster_start(units, &pm, "400M", NULL), 0);
	pairs(units, &pm, 32 << 20, false, false, 15);
	unit_stop(&pm, false);
	for (int i = 0; i < 2; i++)
		unit_stop(&units[i], false);
	unit_cleanup(&pm);
	for (int i = 0; i < 2; i++)
		unit_cleanup(&units[i]);
}

/* unit_killed__mirrored: four mirrored pairs; one unit killed under them. */
static void unit_killed__mirrored(void **state)
{
	(void)state;
	struct unit_proc units[2], pm;
	assert_int_equal(cluster_start(units, &pm, "128M", NULL), 0);
	pairs(units, &pm, 4 << 20, true, true, 12);
	unit_stop(&pm, false);
	unit_stop(&units[0], false);
	unit_cleanup(&pm);
	for (int i = 0; i < 2; i++)
		unit_cleanup(&units[i]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(heavy__large_states, kill_children),
		cmocka_unit_test_teardown(unit_killed__mirrored, kill_children),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
