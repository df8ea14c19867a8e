/* daemon.h -- what npmud and pmmd share at start-up: the stop signal and the address file. */
#ifndef NPMU_DAEMON_H
#define NPMU_DAEMON_H

/* npmu__daemon_stop_fd -- block SIGINT and SIGTERM and return a signalfd that becomes readable
 * when one arrives (the event loop polls it); SIGPIPE is ignored. */
int npmu__daemon_stop_fd(void);

/* npmu__daemon_write_addr -- publish the address served on, atomically (temporary file, then
 * rename), for scripts and tests waiting on it. 0 or -1 with errno. */
int npmu__daemon_write_addr(const char *path, const char *addr);

#endif
