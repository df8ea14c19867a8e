/* it_manager_restart.c -- a manager that restarts is invisible to a healthy primary/backup pair:
 * pmmd killed and back on its address after 1 s and after 5 s, and npmud with its embedded
 * manager likewise. The primary goes on committing (never fenced, nothing lost), the backup goes
 * on following and never takes over, neither process ends, and the primary does not spin while
 * the manager is away. Then the primary is killed and the backup takes over with every
 * acknowledged commit. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "session.h"

#define STATE 4096

/* now_ms -- monotonic milliseconds. */
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* cpu_ticks -- user + system clock ticks of process pid so far. */
static uint64_t cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	return ut + st;
}

/* primary_child -- commit an update every millisecond, reporting each committed seq on fd;
 * exits 10 when fenced, 5 on any other error. */
static void primary_child(const char *server, const char *name, int fd)
{
	struct npmu_conn_cfg cfg = {.server = server};
	struct npmu_conn *c;
	if (npmu_conn_new(&cfg, &c) != 0)
		_exit(3);
	struct npmu_ckpt *p;
	struct npmu_ckpt_opts opts = {.durability = NPMU_PLACED};
	int rc = npmu_ckpt_open_primary(c, name, &opts, &p);
	if (rc != 0) {
		fprintf(stderr, "primary: open: %s\n", npmu_strerror(rc));
		_exit(4);
	}
	uint64_t seq;
	npmu_ckpt_state(p, NULL, &seq);
	for (uint64_t i = seq + 1;; i++) {
		uint8_t rec[16];
		memcpy(rec, &i, 8);
		memcpy(rec + 8, &i, 8);
		rc = npmu_ckpt_update(p, (i * 16) % STATE, rec, sizeof(rec));
		if (rc != 0) {
			fprintf(stderr, "primary: commit %llu: %s\n", (unsigned long long)i,
				npmu_strerror(rc));
			_exit(rc == NPMU_E_FENCED ? 10 : 5);
		}
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(6);
		usleep(1000);
	}
}

/* backup_child -- follow every 20 ms and try to take over; a takeover exits 9 (it must not happen
 * while the primary lives); a manager or unit away is waited out. */
static void backup_child(const char *server, const char *name)
{
	struct npmu_conn_cfg cfg = {.server = server};
	struct npmu_conn *c;
	if (npmu_conn_new(&cfg, &c) != 0)
		_exit(3);
	struct npmu_ckpt *b;
	int rc = npmu_ckpt_open_backup(c, name, NULL, &b);
	if (rc != 0)
		_exit(4);
	for (;;) {
		rc = npmu_ckpt_follow(b);
		if (rc < 0 && rc != NPMU_E_UNREACHABLE && rc != NPMU_E_TIMEDOUT &&
		    rc != NPMU_E_MANAGER) {
			fprintf(stderr, "backup: follow: %s\n", npmu_strerror(rc));
			_exit(5);
		}
		rc = npmu_ckpt_takeover(b, 0);
		if (rc == 0) {
			fprintf(stderr, "backup: took over from a live primary\n");
			_exit(9);
		}
		if (rc != NPMU_E_LEASE && rc != NPMU_E_MANAGER) {
			fprintf(stderr, "backup: takeover: %s\n", npmu_strerror(rc));
			_exit(7);
		}
		usleep(20 * 1000);
	}
}

/* acks -- read what the primary acknowledged so far (non-blocking); the last, or last. */
static uint64_t acks(int fd, uint64_t last)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) == sizeof(v))
		last = v;
	return last;
}

/* alive -- whether child pid still runs (reaped and reported if not). */
static bool alive(pid_t pid, const char *who)
{
	int status;
	if (waitpid(pid, &status, WNOHANG) != pid)
		return true;
	fprintf(stderr, "%s ended: %s %d\n", who, WIFEXITED(status) ? "exit" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return false;
}

/*
 * restarts -- with a stream NAME served through `server`, whose manager is `mgr` (restarted
 * with unit_restart), run a primary and a backup, and restart the manager twice (after 1 s
 * and after 5 s away); check both live on and go on, then that a takeover loses nothing.
 */
static void restarts(struct unit_proc *mgr, const char *name)
{
	const char *server = mgr->addr;
	struct npmu_conn_cfg cfg = {.server = server};
	struct npmu_conn *c;
	assert_int_equal(npmu_conn_new(&cfg, &c), 0);
	struct npmu_ckpt_cfg sc = {.mode = NPMU_CKPT_APPEND, .state_size = STATE};
	assert_int_equal(npmu_ckpt_create(c, name, &sc), 0);
	npmu_conn_delete(&c);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t primary = fork();
	if (primary == 0) {
		close(pfd[0]);
		primary_child(server, name, pfd[1]);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	usleep(500 * 1000);
	pid_t backup = fork();
	if (backup == 0)
		backup_child(server, name);
	usleep(500 * 1000);
	uint64_t acked = acks(pfd[0], 0);
	assert_true(acked > 0);
	const int outages[2] = {1000, 5000};
	for (int k = 0; k < 2; k++) {
		uint64_t before = acks(pfd[0], acked);
		uint64_t t0 = cpu_ticks(primary);
		assert_true(unit_stop(mgr, true) == -SIGKILL);
		usleep((useconds_t)outages[k] * 1000);
		double cpu = (double)(cpu_ticks(primary) - t0) / (double)sysconf(_SC_CLK_TCK) /
			     (outages[k] / 1000.0);
		assert_int_equal(unit_restart(mgr), 0);
		uint64_t back = now_ms();
		/* the pair goes on: new commits acknowledged, both processes alive, no takeover */
		while (acks(pfd[0], acked) <= before + 100 && now_ms() - back < 20000)
			usleep(50 * 1000);
		usleep(1000 * 1000);
		acked = acks(pfd[0], acked);
		printf("# %s: manager away %d ms: primary at %.2f of a core meanwhile, committing again "
		       "%llu ms after the restart (%llu acknowledged)\n", name, outages[k], cpu,
		       (unsigned long long)(now_ms() - back - 1000), (unsigned long long)acked);
		assert_true(alive(primary, "the primary"));
		assert_true(alive(backup, "the backup"));
		assert_true(acked > before + 100);
		const char *scale = getenv("NPMU_TEST_TIME_SCALE"); /* (slow sanitizer builds) */
		assert_true(cpu < 0.5 * (scale && atoi(scale) > 0 ? atoi(scale) : 1)); /* no spinning */
		/* the restarted manager took the lease over from the primary's renewal (L4) */
		assert_int_equal(unit_log_count(mgr, "lease from before this manager's start renewed"),
				 k + 1);
	}
	/* the primary dies: the backup takes over with every acknowledged commit */
	kill(backup, SIGKILL);
	waitpid(backup, NULL, 0);
	kill(primary, SIGKILL);
	waitpid(primary, NULL, 0);
	acked = acks(pfd[0], acked);
	close(pfd[0]);
	assert_int_equal(npmu_conn_new(&cfg, &c), 0);
	struct npmu_ckpt *b;
	assert_int_equal(npmu_ckpt_open_backup(c, name, NULL, &b), 0);
	assert_int_equal(npmu_ckpt_takeover(b, 10000), 0);
	uint64_t seq;
	npmu_ckpt_state(b, NULL, &seq);
	printf("# %s: took over at %llu, %llu acknowledged\n", name, (unsigned long long)seq,
	       (unsigned long long)acked);
	assert_true(seq >= acked);
	npmu_ckpt_close(&b);
	npmu_conn_delete(&c);
}

/* pmmd__restarted: pmmd killed and restarted under a pair on a unit it manages. */
static void pmmd__restarted(void **state)
{
	(void)state;
	struct unit_proc units[2], pm;
	assert_int_equal(mirror_cluster_start(units, &pm), 0);
	restarts(&pm, "mr.stream");
	unit_stop(&pm, false);
	for (int i = 0; i < 2; i++) {
		unit_stop(&units[i], false);
		unit_cleanup(&units[i]);
	}
	unit_cleanup(&pm);
}

/* embedded__restarted: npmud with its embedded manager killed and restarted under a pair. */
static void embedded__restarted(void **state)
{
	(void)state;
	struct unit_proc u;
	assert_int_equal(unit_start(&u, "64M"), 0);
	restarts(&u, "er.stream");
	unit_stop(&u, false);
	unit_cleanup(&u);
}

/* embedded__restarted_authenticated: the same with principals: the pair's sealed sessions die
 * with npmud, and the clients authenticate again by themselves. */
static void embedded__restarted_authenticated(void **state)
{
	(void)state;
	static char dir[64], srv[96], cli[96];
	assert_int_equal(app_credentials(dir, srv, cli), 0);
	setenv("NPMU_CREDENTIALS", cli, 1);
	static const char *args[] = {"--credentials", srv, NULL};
	struct unit_proc u;
	assert_int_equal(unit_start_args(&u, NULL, "64M", args), 0);
	restarts(&u, "ea.stream");
	unit_stop(&u, false);
	unit_cleanup(&u);
	unsetenv("NPMU_CREDENTIALS");
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pmmd__restarted),
		cmocka_unit_test(embedded__restarted),
		cmocka_unit_test(embedded__restarted_authenticated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
