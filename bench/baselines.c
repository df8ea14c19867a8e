/* baselines.c -- what users would otherwise do with a checkpoint record: write it to a local
 * file and fdatasync, or SET it in Redis with an append-only file (appendfsync always or
 * everysec). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench.h"

/* file_fdatasync -- n pwrite + fdatasync of len bytes to a file in dir (64 slots in turn),
 * microseconds appended to lat. */
void file_fdatasync(const char *dir, size_t len, int n, struct samples *lat)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/fdatasync.bin", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *buf = malloc(len);
	if (fd < 0 || !buf)
		bail("file baseline", NPMU_E_IO);
	memset(buf, 7, len);
	for (int i = 0; i < n + 10; i++) {
		uint64_t s = now_ns();
		if (pwrite(fd, buf, len, (off_t)((i % 64) * len)) != (ssize_t)len || fdatasync(fd) != 0)
			bail("file baseline", NPMU_E_IO);
		if (i >= 10)
			samples_add(lat, (double)(now_ns() - s) / 1000.0);
	}
	close(fd);
	unlink(path);
	free(buf);
}

/* command_ok -- run one command, true on a non-error reply. */
static bool command_ok(redisContext *c, const char *fmt, const char *arg)
{
	redisReply *r = redisCommand(c, fmt, arg);
	bool ok = r && r->type != REDIS_REPLY_ERROR;
	if (r && !ok)
		fprintf(stderr, "npmu_bench: redis: %s\n", r->str);
	freeReplyObject(r);
	return ok;
}

/* redis_set -- n SETs of len bytes (16 keys in turn) with appendfsync at `fsync`, microseconds
 * appended to lat; false when no redis is at hand. */
bool redis_set(const char *hostport, const char *fsync, size_t len, int n, struct samples *lat)
{
	if (!hostport)
		return false;
	char host[64];
	const char *colon = strrchr(hostport, ':');
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return false;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	redisContext *c = redisConnect(host, atoi(colon + 1));
	if (!c || c->err) {
		fprintf(stderr, "npmu_bench: redis at %s: %s\n", hostport, c ? c->errstr : "no memory");
		redisFree(c);
		return false;
	}
	char *buf = malloc(len);
	bool ok = buf && command_ok(c, "CONFIG SET appendfsync %s", fsync);
	if (buf)
		memset(buf, 7, len);
	for (int i = 0; ok && i < n + 10; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i % 16);
		uint64_t s = now_ns();
		redisReply *r = redisCommand(c, "SET %s %b", key, buf, len);
		ok = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (ok && i >= 10)
			samples_add(lat, (double)(now_ns() - s) / 1000.0);
	}
	free(buf);
	redisFree(c);
	return ok;
}
