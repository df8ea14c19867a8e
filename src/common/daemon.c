/* daemon.c -- start-up helpers shared by npmud and pmmd, and their notifications to systemd. */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#ifdef NPMU_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "npmu.h"

/* npmu__daemon_stop_fd -- a signalfd for SIGINT and SIGTERM; SIGPIPE ignored. */
int npmu__daemon_stop_fd(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

#define FDS_ENOUGH 65536u /* more than one host can hold open to one port */

/* nr_open -- the kernel's ceiling on a process's descriptors (fs.nr_open), or `fallback`. */
static rlim_t nr_open(rlim_t fallback)
{
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	unsigned long long v = 0;
	bool got = f && fscanf(f, "%llu", &v) == 1;
	if (f)
		fclose(f);
	return got && v ? (rlim_t)v : fallback;
}

/* npmu__daemon_raise_fd_limit -- soft limit up to the hard one, the hard one up if permitted. */
void npmu__daemon_raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < NPMU_DAEMON_FDS) {
		rlim_t want = nr_open(NPMU_DAEMON_FDS);
		struct rlimit up = {.rlim_cur = rl.rlim_cur,
				    .rlim_max = want < NPMU_DAEMON_FDS ? want : NPMU_DAEMON_FDS};
		if (up.rlim_max > rl.rlim_max && setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_max = up.rlim_max; /* (permitted: privileged, CAP_SYS_RESOURCE) */
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < FDS_ENOUGH)
		LOG_WARN("open descriptors limited to %llu: a host opening that many idle "
			 "connections would lock clients out (raise the limit: LimitNOFILE=, "
			 "ulimit -n), and limit connections per source at the firewall",
			 (unsigned long long)rl.rlim_cur);
}

/* npmu__daemon_set_nice -- the nice value asked for, or a warning (daemon.h). */
void npmu__daemon_set_nice(int nice)
{
	errno = 0;
	int now = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && now == nice)
		return;
	if (setpriority(PRIO_PROCESS, 0, nice) == 0) {
		LOG_INFO("running at nice %d (--nice)", nice);
		return;
	}
	LOG_WARN("cannot run at nice %d (%s): staying at %d; clients on this host may take the "
		 "CPU it needs (run it as root, with CAP_SYS_NICE, or under systemd with Nice=)",
		 nice, strerror(errno), now);
}

/* npmu__daemon_write_addr -- write a temporary file, then rename it into place. */
int npmu__daemon_write_addr(const char *path, const char *addr)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", addr);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

#ifdef NPMU_HAVE_SYSTEMD
/* notify -- one notification: state ("READY=1") and a STATUS= line from fmt. */
static void notify(const char *state, const char *fmt, va_list ap)
{
	char status[512];
	vsnprintf(status, sizeof(status), fmt, ap);
	sd_notifyf(0, "%s\nSTATUS=%s", state, status);
}

/* npmu__daemon_ready -- READY=1 and the status. */
void npmu__daemon_ready(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	notify("READY=1", fmt, ap);
	va_end(ap);
}

/* npmu__daemon_stopping -- STOPPING=1 and the status. */
void npmu__daemon_stopping(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	notify("STOPPING=1", fmt, ap);
	va_end(ap);
}

/* npmu__daemon_watchdog_ms -- half of $WATCHDOG_USEC, when it is meant for this process. */
unsigned npmu__daemon_watchdog_ms(void)
{
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	uint64_t ms = usec / 2000;
	return ms ? (unsigned)ms : 1;
}

/* npmu__daemon_watchdog -- WATCHDOG=1. */
void npmu__daemon_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}
#else
/* npmu__daemon_ready -- (built without libsystemd) nothing. */
void npmu__daemon_ready(const char *fmt, ...)
{
	(void)fmt;
}

/* npmu__daemon_stopping -- (built without libsystemd) nothing. */
void npmu__daemon_stopping(const char *fmt, ...)
{
	(void)fmt;
}

/* npmu__daemon_watchdog_ms -- (built without libsystemd) no watchdog. */
unsigned npmu__daemon_watchdog_ms(void)
{
	return 0;
}

/* npmu__daemon_watchdog -- (built without libsystemd) nothing. */
void npmu__daemon_watchdog(void)
{
}
#endif

/* npmu__daemon_serve_metrics -- the metrics endpoint on hostport, and the address it serves on
 * written to addr_file (daemon.h). */
int npmu__daemon_serve_metrics(const char *prog, const char *hostport, bool any_address,
			       const char *addr_file, npmu__metrics_render render, void *arg,
			       struct npmu__metrics_server **srv)
{
	char err[512];
	int rc = npmu__metrics_start(hostport, any_address, render, arg, srv, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "%s: --metrics %s\n", prog, err);
		return rc;
	}
	const char *addr = npmu__metrics_addr(*srv);
	LOG_INFO("metrics on http://%s/metrics", addr);
	if (addr_file && npmu__daemon_write_addr(addr_file, addr) != 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, addr_file, strerror(errno));
		return NPMU_E_IO;
	}
	return 0;
}
