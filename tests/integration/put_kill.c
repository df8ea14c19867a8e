/* put_kill.c -- put FILE as the next version of striped set SET and SIGKILL process PID (a
 * unit) once the put's first group is written, so the unit dies in the middle of the put:
 *   put_kill SERVER SET FILE PID
 * Prints "killed mid-put" when the kill landed with groups still to write, then the put's
 * result; exit status 0 when the put succeeded. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npmu.h"

/* A progress callback's state. */
struct killer {
	pid_t pid;
	int done;
};

/* dead -- whether pid is gone or a zombie. */
static int dead(pid_t pid)
{
	char path[64], stat[256] = "";
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	const char *p = strrchr(stat, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

/* progress -- after the first group: kill the unit and wait until it is gone. */
static void progress(uint64_t done, uint64_t total, void *arg)
{
	struct killer *k = arg;
	if (k->done || done >= total)
		return;
	k->done = 1;
	kill(k->pid, SIGKILL);
	for (int i = 0; i < 500 && !dead(k->pid); i++)
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	printf("killed mid-put after %llu of %llu bytes\n", (unsigned long long)done,
	       (unsigned long long)total);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: put_kill SERVER SET FILE PID\n");
		return 2;
	}
	FILE *f = fopen(argv[3], "rb");
	if (!f)
		return 2;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc(len > 0 ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		return 2;
	fclose(f);
	struct npmu_conn_cfg cc = {.server = argv[1]};
	struct npmu_conn *conn;
	struct killer k = {.pid = (pid_t)atoi(argv[4])};
	uint64_t v = 0;
	int rc = npmu_conn_new(&cc, &conn);
	if (rc == 0)
		rc = npmu_stripe_put(conn, argv[2], buf, (uint64_t)len, NULL, progress, &k, &v);
	if (rc == 0)
		printf("put version %llu\n", (unsigned long long)v);
	else
		printf("put failed: %s\n", npmu_strerror(rc));
	if (conn)
		npmu_conn_delete(&conn);
	free(buf);
	return rc == 0 ? 0 : 1;
}
