/* data.c -- npmu put and npmu get: files into and out of a region with one-sided RDMA. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "verbs.h"
#include "size.h"

static const char usage_put[] =
	"Usage: npmu put [--offset N] [--create] REGION FILE\n"
	"Write FILE ('-' for standard input) into REGION at offset N (default 0) with one-sided\n"
	"RDMA writes, then make it persistent. --create creates REGION of FILE's size if missing.\n";
static const char usage_get[] =
	"Usage: npmu get [--offset N] [--length N] [--copy primary|mirror|nearest] REGION FILE\n"
	"Read LENGTH bytes (default: to the region's end) from REGION at offset N into FILE\n"
	"('-' for standard output) with one-sided RDMA reads. A mirrored region is read from the\n"
	"copy asked for (default: the nearest in sync), falling back to the other; the copy that\n"
	"served the read is named in the report.\n";

static const struct opt_spec region_file_args[] = {
	{"REGION", 0, OPT_STRING}, {"FILE", 0, OPT_STRING}, {NULL}};

enum { PUT_OFFSET, PUT_CREATE };
static const struct opt_spec put_opts[] = {
	[PUT_OFFSET] = {"offset", 'o', OPT_SIZE},
	[PUT_CREATE] = {"create", 'c', OPT_FLAG},
	{NULL},
};
static const struct opt_cmd put_cmd = {"npmu put", usage_put, put_opts, region_file_args};

enum { GET_OFFSET, GET_LENGTH, GET_COPY };
static const struct opt_spec get_opts[] = {
	[GET_OFFSET] = {"offset", 'o', OPT_SIZE},
	[GET_LENGTH] = {"length", 'l', OPT_SIZE},
	[GET_COPY] = {"copy", 'C', OPT_STRING},
	{NULL},
};
static const struct opt_cmd get_cmd = {"npmu get", usage_get, get_opts, region_file_args};

/* put_region -- the region to write total bytes into at offset (created if asked and missing),
 * open for writing; NULL if they do not fit (said). */
static struct npmu_region *put_region(struct npmu_conn *conn, const char *name, const char *path,
				      uint64_t offset, uint64_t total, bool create)
{
	struct npmu_region_info info;
	int rc = npmu_region_stat(conn, name, &info);
	if (rc == NPMU_E_NOENT && create)
		rc = npmu_region_create(conn, name, offset + (total ? total : 1), &info);
	if (rc != 0)
		cli_die(name, rc);
	if (total && offset + total > info.size) {
		char a[32], b[32];
		out_warn("%s (%s) does not fit in region %s (%s) at offset %llu", path,
			 npmu__size_format(total, a, sizeof(a)), name,
			 npmu__size_format(info.size, b, sizeof(b)), (unsigned long long)offset);
		return NULL;
	}
	struct npmu_region *r;
	if ((rc = npmu_region_open(conn, name, NPMU_ACCESS_READ_WRITE, &r)) != 0)
		cli_die(name, rc);
	return r;
}

/* put_stream -- copy fd to the end into r at offset and make it persistent; *done: bytes. */
static int put_stream(struct npmu_region *r, int fd, const char *path, uint64_t offset,
		      uint64_t total, double start, uint64_t *done)
{
	char *buf = malloc(CLI_CHUNK);
	if (!buf)
		cli_die("put", NPMU_E_NOMEM);
	int rc;
	*done = 0;
	for (;;) {
		ssize_t n = cli_read_full(fd, buf, CLI_CHUNK);
		if (n < 0)
			return cli_file_error(path);
		if (n == 0)
			break;
		if ((rc = npmu_region_write(r, offset + *done, buf, (size_t)n)) != 0)
			cli_die("write", rc);
		*done += (uint64_t)n;
		out_progress("put", *done, total ? total : *done, cli_now() - start, false);
	}
	free(buf);
	if ((rc = npmu_region_persist(r, offset, *done, NPMU_PERSISTENT)) != 0)
		cli_die("persist", rc);
	out_progress("put", *done, total ? total : *done, cli_now() - start, true);
	return 0;
}

/* cmd_put -- copy a file into a region and make it persistent. */
int cmd_put(int argc, char **argv)
{
	struct opt_result o;
	int status = opt_command(&put_cmd, argc - 1, argv + 1, &o);
	if (status >= 0)
		return status;
	const char *name = o.arg[0].text, *path = o.arg[1].text;
	uint64_t offset = o.opt[PUT_OFFSET].num, done;
	struct stat st;
	int fd = cli_open_in(path, &st);
	if (fd < 0)
		return cli_file_error(path);
	struct npmu_conn *conn = cli_connect();
	uint64_t total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	struct npmu_region *r = put_region(conn, name, path, offset, total,
					   o.opt[PUT_CREATE].seen);
	if (!r)
		return 1;
	double start = cli_now();
	if (put_stream(r, fd, path, offset, total, start, &done) != 0)
		return 1;
	double el = cli_now() - start;
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "region", name);
		out_json_u64(&j, "offset", offset);
		out_json_u64(&j, "bytes", done);
		out_json_fixed(&j, "seconds", el, 6);
		out_json_end(&j);
	} else {
		char a[32];
		out_line("put %s into %s at offset %llu: %s, persistent, %.3f s", path, name,
			 (unsigned long long)offset, npmu__size_format(done, a, sizeof(a)), el);
	}
	npmu_region_close(&r);
	npmu_conn_delete(&conn);
	if (fd != STDIN_FILENO)
		close(fd);
	return 0;
}

/* get_stream -- copy length bytes of r from offset into fd. */
static int get_stream(struct npmu_region *r, int fd, const char *path, uint64_t offset,
		      uint64_t length, double start)
{
	char *buf = malloc(CLI_CHUNK);
	if (!buf)
		cli_die("get", NPMU_E_NOMEM);
	for (uint64_t done = 0; done < length;) {
		size_t n = length - done < CLI_CHUNK ? (size_t)(length - done) : CLI_CHUNK;
		int rc = npmu_region_read(r, offset + done, buf, n);
		if (rc != 0)
			cli_die("read", rc);
		if (cli_write_full(fd, buf, n) != 0)
			return cli_file_error(path);
		done += n;
		out_progress("get", done, length, cli_now() - start, done == length);
	}
	free(buf);
	if (fd != STDOUT_FILENO && close(fd) != 0)
		return cli_file_error(path);
	return 0;
}

/* get_report -- what get did, unless the data went to standard output. */
static void get_report(struct npmu_region *r, const char *name, const char *path, uint64_t offset,
		       uint64_t length, double start)
{
	struct npmu_mirror_info mi;
	char copy[160] = "", a[32];
	if (npmu_region_mirror(r, &mi) == 0 && mi.reads_from >= 0)
		snprintf(copy, sizeof(copy), "%s", mi.copy[mi.reads_from].unit);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "region", name);
		out_json_u64(&j, "offset", offset);
		out_json_u64(&j, "bytes", length);
		out_json_fixed(&j, "seconds", cli_now() - start, 6);
		out_json_str(&j, "copy", copy);
		out_json_end(&j);
	} else {
		out_line("got %s from %s%s%s%s at offset %llu into %s, %.3f s",
			 npmu__size_format(length, a, sizeof(a)), name, copy[0] ? " (copy on " : "",
			 copy, copy[0] ? ")" : "", (unsigned long long)offset, path,
			 cli_now() - start);
	}
}

/* parse_copy -- --copy primary|mirror|nearest; -1 if it is none of them. */
static int parse_copy(const char *text, enum npmu_copy *from)
{
	*from = NPMU_COPY_NEAREST;
	if (!text || !strcmp(text, "nearest"))
		return 0;
	if (!strcmp(text, "primary"))
		*from = NPMU_COPY_PRIMARY;
	else if (!strcmp(text, "mirror"))
		*from = NPMU_COPY_MIRROR;
	else
		return -1;
	return 0;
}

/* cmd_get -- copy (part of) a region into a file. */
int cmd_get(int argc, char **argv)
{
	struct opt_result o;
	enum npmu_copy from;
	int status = opt_command(&get_cmd, argc - 1, argv + 1, &o);
	if (status >= 0)
		return status;
	if (parse_copy(o.opt[GET_COPY].text, &from) != 0) {
		fprintf(stderr, "npmu get: --copy: expected primary, mirror or nearest, got '%s'\n",
			o.opt[GET_COPY].text);
		return 2;
	}
	const char *name = o.arg[0].text, *path = o.arg[1].text;
	uint64_t offset = o.opt[GET_OFFSET].num, length = o.opt[GET_LENGTH].num;
	struct npmu_conn *conn = cli_connect();
	struct npmu_region *r;
	int rc = npmu_region_open_copy(conn, name, NPMU_ACCESS_READ, from, &r);
	if (rc != 0)
		cli_die(name, rc);
	uint64_t size = npmu_region_size(r);
	if (offset > size || (o.opt[GET_LENGTH].seen && length > size - offset))
		cli_die("get", NPMU_E_RANGE);
	if (!o.opt[GET_LENGTH].seen)
		length = size - offset;
	int fd = cli_open_out(path);
	if (fd < 0)
		return cli_file_error(path);
	double start = cli_now();
	if (get_stream(r, fd, path, offset, length, start) != 0)
		return 1;
	if (fd != STDOUT_FILENO)
		get_report(r, name, path, offset, length, start);
	npmu_region_close(&r);
	npmu_conn_delete(&conn);
	return 0;
}
