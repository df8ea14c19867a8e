/* daemon.h -- what npmud and pmmd share at start-up and while they run: the stop signal, the
 * address file, and what they tell systemd. */
#ifndef NPMU_DAEMON_H
#define NPMU_DAEMON_H

#include <stdbool.h>

#include "metrics_http.h"

/* npmu__daemon_stop_fd -- block SIGINT and SIGTERM and return a signalfd that becomes readable
 * when one arrives (the event loop polls it); SIGPIPE is ignored. */
int npmu__daemon_stop_fd(void);

/* npmu__daemon_raise_fd_limit -- raise the soft limit on open descriptors to the hard one
 * (and the hard one, where permitted, to NPMU_DAEMON_FDS): every TCP connection a peer opens
 * holds one of the daemon's descriptors until it sends its first message, so a low limit lets
 * one host that opens idle connections lock every client out (a host cannot hold more than
 * about 64k connections to one port). A limit left below that is said in the log. */
#define NPMU_DAEMON_FDS (1u << 20)
void npmu__daemon_raise_fd_limit(void);

/* npmu__daemon_set_nice -- run at nice value `nice` (the calling thread and the threads it
 * starts after: call it before any). Where that is not permitted (lowering it needs root or
 * CAP_SYS_NICE) the log says so once and the priority stays as it was. */
void npmu__daemon_set_nice(int nice);

/* npmu__daemon_write_addr -- publish the address served on, atomically (temporary file, then
 * rename), for scripts and tests waiting on it. 0 or -1 with errno. */
int npmu__daemon_write_addr(const char *path, const char *addr);

/* npmu__daemon_serve_metrics -- serve the metrics endpoint on hostport (any_address: beyond
 * loopback) rendered by render(arg), and write the address it serves on to addr_file (may be
 * NULL); what failed is told on stderr as prog's. */
int npmu__daemon_serve_metrics(const char *prog, const char *hostport, bool any_address,
			       const char *addr_file, npmu__metrics_render render, void *arg,
			       struct npmu__metrics_server **srv);

/*
 * Under systemd (Type=notify, $NOTIFY_SOCKET set) the daemons say when they are ready, what
 * they are doing and when they stop, and, with WatchdogSec= ($WATCHDOG_USEC), show they are
 * alive from their request loop. Without $NOTIFY_SOCKET, or in a build without libsystemd,
 * these do nothing.
 */
/* npmu__daemon_ready -- READY=1 with a STATUS= line (printf-style). */
void npmu__daemon_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* npmu__daemon_stopping -- STOPPING=1 with a STATUS= line. */
void npmu__daemon_stopping(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* npmu__daemon_watchdog_ms -- how often the loop must call npmu__daemon_watchdog (half the
 * watchdog timeout systemd set for this process); 0 without a watchdog. */
unsigned npmu__daemon_watchdog_ms(void);

/* npmu__daemon_watchdog -- WATCHDOG=1: the request loop is alive. */
void npmu__daemon_watchdog(void);

#endif
