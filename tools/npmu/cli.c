/* cli.c -- what the npmu command's verbs share: the connection, errors, files, sub-commands. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

struct npmu_conn_cfg cli_cfg = {.timeout_ms = 5000};

/* cli_die -- report a failed request and exit 1. */
_Noreturn void cli_die(const char *what, int rc)
{
	out_error(what, rc);
	exit(1);
}

/* cli_refuse -- rc about `what` in JSON, the command's own sentence for people; exit 1. */
_Noreturn void cli_refuse(const char *what, int rc, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	out_error_json(what, rc);
	out_warn("%s", line);
	exit(1);
}

/* cli_connect -- connect to the configured manager, or say why not and exit 1. */
struct npmu_conn *cli_connect(void)
{
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cli_cfg, &conn);
	if (rc == 0)
		return conn;
	const char *env = getenv("NPMU_SERVER");
	const char *server = cli_cfg.server ? cli_cfg.server : env && *env ? env : "127.0.0.1:7411";
	char what[300];
	if (rc == NPMU_E_CONFIG)
		cli_die("credentials ($NPMU_CREDENTIALS)", rc); /* the library said which line */
	if (rc == NPMU_E_MANAGER) {
		snprintf(what, sizeof(what), "nothing answers at %s", server);
		out_error_json(what, rc);
		out_warn("nothing answers at %s: is npmud (or pmmd) running and listening there? "
			 "(--server or NPMU_SERVER)", server);
		exit(1);
	}
	snprintf(what, sizeof(what), "cannot reach %s", server);
	cli_die(what, rc);
}

/* cli_file_error -- "npmu: PATH: what errno says"; returns the exit status 1. */
int cli_file_error(const char *path)
{
	out_warn("%s: %s", path, strerror(errno));
	return 1;
}

/* cli_now -- monotonic seconds. */
double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* cli_read_full -- read up to len bytes, looping over short reads; bytes read, or -1. */
ssize_t cli_read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* cli_write_full -- write all of buf, looping over short writes; 0, or -1. */
int cli_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* cli_open_in -- open path ("-": standard input) for reading and stat it; the fd, or -1. */
int cli_open_in(const char *path, struct stat *st)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY) : STDIN_FILENO;
	if (fd >= 0 && fstat(fd, st) != 0) {
		int e = errno;
		if (fd != STDIN_FILENO)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* cli_open_out -- create or truncate path ("-": standard output) for writing; the fd, or -1. */
int cli_open_out(const char *path)
{
	return strcmp(path, "-") ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : STDOUT_FILENO;
}

/* cli_dispatch -- run the sub-command argv[1] of group argv[0]; returns the exit status. */
int cli_dispatch(const char *usage, const struct cli_sub *subs, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const struct cli_sub *s = subs;
	while (s->name && strcmp(s->name, argv[1]) != 0)
		s++;
	if (!s->name) {
		out_warn("unknown %s command '%s'", argv[0], argv[1]);
		fputs(usage, stderr);
		return 2;
	}
	struct opt_result r;
	int status = opt_command(s->cmd, argc - 2, argv + 2, &r);
	return status >= 0 ? status : s->run(&r);
}
