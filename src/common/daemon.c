/* daemon.c -- start-up helpers shared by npmud and pmmd. */
#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>

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
