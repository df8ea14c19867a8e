/* npmu.c -- the npmu command: region administration and file transfers to and from a unit. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "npmu.h"
#include "session.h"

#define CHUNK (8u << 20) /* bytes moved per call by put/get */

static const char usage_main[] =
	"Usage: npmu [--server HOST:PORT] [--provider NAME] [--json] COMMAND ...\n"
	"\n"
	"Commands:\n"
	"  region create NAME SIZE [--unit HOST:PORT] [--mirror [--mirror-unit HOST:PORT]]\n"
	"                            create a region (SIZE: bytes or 64K, 16M, 4G), on the given\n"
	"                            unit when a manager has several; --mirror keeps a second\n"
	"                            copy on another unit, in another fault domain\n"
	"  region grow NAME SIZE     grow a region to SIZE, keeping its data\n"
	"  region ls                 list regions\n"
	"  region stat NAME          describe a region (and each copy of a mirrored one)\n"
	"  region resync NAME        bring a mirrored region's stale copy up to date now\n"
	"  region rm NAME            delete a region (revokes every open right)\n"
	"  region revoke NAME        revoke every open right to a region (its keys die at once)\n"
	"  put REGION FILE           write FILE into REGION and make it persistent\n"
	"  get REGION FILE           read REGION into FILE ('-' for standard output)\n"
	"  unit ls                   the manager's units, their state and capacity\n"
	"  ckpt stat STREAM          a checkpoint stream: mode, epoch, sequence, latest update, unread\n"
	"  ckpt dump STREAM FILE     the stream's latest state into FILE ('-' for standard output)\n"
	"  stripe put NAME FILE [--k 4] [--m 2] [--n N] [--seg 1M] [--keep 2] [--capacity SIZE]\n"
	"                            FILE as the next version of striped set NAME: k data and m\n"
	"                            parity sub-segments per group over n units (--mirror: copies)\n"
	"  stripe get NAME FILE [--version V]\n"
	"                            restore a version (default: the newest) from any k of each group\n"
	"  stripe stat NAME          layout, versions, and each member's health\n"
	"  stripe rebuild NAME       regenerate lost or corrupt sub-segments (after a unit is replaced)\n"
	"  keygen FILE               write a new random key to FILE (mode 0600)\n"
	"\n"
	"Options:\n"
	"  -s, --server HOST:PORT    the unit's manager (default $NPMU_SERVER or 127.0.0.1:%d)\n"
	"  -P, --provider NAME       libfabric provider (default $NPMU_PROVIDER or \"tcp\")\n"
	"  -j, --json                machine-readable output\n"
	"Credentials come from the file named by $NPMU_CREDENTIALS (never from arguments):\n"
	"  principal NAME\n  key HEX | key-file PATH\n"
	"  -h, --help                this text; 'npmu COMMAND --help' for one command\n";

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
static const char usage_region[] =
	"Usage: npmu region create NAME SIZE [--unit HOST:PORT] [--mirror [--mirror-unit HOST:PORT]]\n"
	"       npmu region grow NAME SIZE | ls | stat NAME | rm NAME | revoke NAME | resync NAME\n"
	"Region names are 1-63 characters of A-Z a-z 0-9 . _ -; sizes take K, M, G, T suffixes.\n"
	"A mirrored region (--mirror, needs pmmd with two units) has a primary copy and a mirror\n"
	"copy on units of distinct fault domains: writes go to both; reads fall back from one to\n"
	"the other; a copy that missed writes is resynced by the writer once its unit is back\n"
	"(`region resync` does it now, and takes the region's write right from any other writer).\n";

static struct npmu_conn_cfg cfg = {.timeout_ms = 5000};
static double now_s(void);
static void progress(const char *what, uint64_t done, uint64_t total, double start, bool final);
static bool json;

/* die -- print an error for the user and exit 1. */
static void die(const char *what, int rc)
{
	if (json)
		printf("{\"error\":\"%s\",\"code\":%d,\"context\":\"%s\"}\n", npmu_strerror(rc), rc, what);
	fprintf(stderr, "npmu: %s: %s\n", what, npmu_strerror(rc));
	exit(1);
}

/* connect_or_die -- connect to the configured manager. */
static struct npmu_conn *connect_or_die(void)
{
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc != 0) {
		char what[300];
		const char *env = getenv("NPMU_SERVER");
		const char *server = cfg.server ? cfg.server : env && *env ? env : "127.0.0.1:7411";
		if (rc == NPMU_E_CONFIG)
			die("credentials ($NPMU_CREDENTIALS)", rc); /* the library said which line */
		if (rc == NPMU_E_MANAGER) {
			if (json)
				printf("{\"error\":\"%s\",\"code\":%d,\"context\":\"nothing answers "
				       "at %s\"}\n", npmu_strerror(rc), rc, server);
			fprintf(stderr, "npmu: nothing answers at %s: is npmud (or pmmd) running and "
					"listening there? (--server or NPMU_SERVER)\n", server);
			exit(1);
		}
		snprintf(what, sizeof(what), "cannot reach %s", server);
		die(what, rc);
	}
	return conn;
}

/* print_info_open -- one region, as a table row or a JSON object left open (no closing brace). */
static void print_info_open(const struct npmu_region_info *i, bool header)
{
	char sz[32];
	if (json) {
		printf("{\"name\":\"%s\",\"id\":%llu,\"size\":%llu,\"extents\":%u,\"rights\":%u,"
		       "\"copies\":%u",
		       i->name, (unsigned long long)i->id, (unsigned long long)i->size, i->extents,
		       i->rights, i->copies);
		return;
	}
	if (header)
		printf("%-32s %6s %12s %8s %7s %6s\n", "NAME", "ID", "SIZE", "EXTENTS", "RIGHTS",
		       "COPIES");
	printf("%-32s %6llu %12s %8u %7u %6u\n", i->name, (unsigned long long)i->id,
	       npmu_format_size(i->size, sz, sizeof(sz)), i->extents, i->rights, i->copies);
}

/* print_info -- one region, as a table row or a JSON object. */
static void print_info(const struct npmu_region_info *i, bool header)
{
	print_info_open(i, header);
	if (json)
		printf("}");
}

/* parse_size_or_die -- a size argument. */
static uint64_t parse_size_or_die(const char *text)
{
	uint64_t v;
	if (npmu_parse_size(text, &v) != 0 || v == 0) {
		fprintf(stderr, "npmu: invalid size '%s' (examples: 4096, 64K, 16M, 4G)\n", text);
		exit(2);
	}
	return v;
}

/* print_mirror -- a mirrored region's copies, as table rows or a JSON array. */
static void print_mirror(const struct npmu_mirror_info *m)
{
	static const char *const role[2] = {"primary", "mirror"};
	if (json) {
		printf(",\"mirror\":{\"generation\":%llu,\"repaired\":%s,\"copies\":[",
		       (unsigned long long)m->generation, m->repaired ? "true" : "false");
		for (uint32_t c = 0; c < m->ncopies && c < 2; c++)
			printf("%s{\"role\":\"%s\",\"unit\":\"%s\",\"state\":\"%s\","
			       "\"reachable\":%s,\"resync_done\":%llu}",
			       c ? "," : "", role[c], m->copy[c].unit,
			       m->copy[c].state == NPMU_COPY_IN_SYNC	? "in-sync"
			       : m->copy[c].state == NPMU_COPY_STALE ? "stale"
								    : "resyncing",
			       m->copy[c].reachable ? "true" : "false",
			       (unsigned long long)m->copy[c].resync_done);
		printf("]}");
		return;
	}
	printf("mirrored, metadata generation %llu%s\n", (unsigned long long)m->generation,
	       m->repaired ? " (the copies' metadata disagreed: the newer was written back)" : "");
	for (uint32_t c = 0; c < m->ncopies && c < 2; c++) {
		char a[32], b[32];
		printf("  %-8s %-24s %s", role[c], m->copy[c].unit,
		       m->copy[c].state == NPMU_COPY_IN_SYNC ? "in sync"
		       : m->copy[c].state == NPMU_COPY_STALE ? "stale (degraded: missed writes)"
							     : "resyncing");
		if (m->copy[c].state == NPMU_COPY_RESYNCING)
			printf(" %llu%% (%s of %s)",
			       (unsigned long long)(m->size ? m->copy[c].resync_done * 100 / m->size : 0),
			       npmu_format_size(m->copy[c].resync_done, a, sizeof(a)),
			       npmu_format_size(m->size, b, sizeof(b)));
		printf("%s\n", m->copy[c].reachable ? "" : ", unit unreachable");
	}
}

/* resync_progress -- the progress bar of `region resync`. */
static void resync_progress(uint64_t done, uint64_t total, void *arg)
{
	progress("resync", done, total, *(double *)arg, done == total);
}

/* cmd_region -- region create|grow|ls|stat|rm|revoke|resync. */
static int cmd_region(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_region, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *verb = argv[1];
	static const struct option o[] = {{"unit", required_argument, NULL, 'u'},
					  {"mirror", no_argument, NULL, 'm'},
					  {"mirror-unit", required_argument, NULL, 'M'},
					  {"help", no_argument, NULL, 'h'},
					  {NULL, 0, NULL, 0}};
	struct npmu_region_opts ro = {0};
	int c;
	optind = 0; /* a fresh scan from the verb on: options may follow the arguments */
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "u:mM:h", o, NULL)) != -1) {
		if (c == 'u')
			ro.unit = optarg;
		else if (c == 'm')
			ro.mirror = 1;
		else if (c == 'M')
			ro.mirror_unit = optarg;
		else {
			fputs(usage_region, c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	int args = argc - optind; /* positional arguments after the verb */
	int want = !strcmp(verb, "create") || !strcmp(verb, "grow") ? 2
		   : !strcmp(verb, "ls")				? 0
		   : !strcmp(verb, "stat") || !strcmp(verb, "rm") || !strcmp(verb, "revoke") ||
				   !strcmp(verb, "resync")
			   ? 1
			   : -1;
	bool opts_ok = (!ro.unit && !ro.mirror && !ro.mirror_unit) ||
		       (!strcmp(verb, "create") && (ro.mirror || !ro.mirror_unit));
	if (want < 0 || args != want || !opts_ok) {
		fprintf(stderr, "npmu: %s\n%s",
			want < 0 ? "unknown region command"
			: !opts_ok ? "--unit and --mirror go with create; --mirror-unit needs --mirror"
				   : "wrong arguments",
			usage_region);
		return 2;
	}
	const char *name = want > 0 ? argv[optind] : NULL;
	uint64_t size = want == 2 ? parse_size_or_die(argv[optind + 1]) : 0;
	struct npmu_conn *conn = connect_or_die();
	struct npmu_region_info info;
	int rc = 0;
	if (!strcmp(verb, "create") || !strcmp(verb, "grow")) {
		rc = verb[0] == 'c' ? npmu_region_create_ex(conn, name, size, &ro, &info)
				    : npmu_region_resize(conn, name, size, &info);
		if (rc == NPMU_E_NOUNIT && ro.mirror && !ro.unit && !ro.mirror_unit)
			fprintf(stderr, "npmu: a mirrored region needs a manager of two units or more "
					"(pmmd --unit A --unit B)\n");
		if (rc != 0)
			die(name, rc);
		print_info(&info, true);
		if (json)
			printf("\n");
	} else if (!strcmp(verb, "stat")) {
		if ((rc = npmu_region_stat(conn, name, &info)) != 0)
			die(name, rc);
		struct npmu_mirror_info mi;
		bool mirrored = info.copies > 1;
		if (mirrored && (rc = npmu_region_mirror_stat(conn, name, &mi)) != 0)
			die(name, rc);
		if (json) {
			print_info_open(&info, true);
			if (mirrored)
				print_mirror(&mi);
			printf("}\n");
		} else {
			print_info(&info, true);
			if (mirrored)
				print_mirror(&mi);
		}
	} else if (!strcmp(verb, "resync")) {
		struct npmu_region *r;
		if ((rc = npmu_region_open(conn, name, NPMU_ACCESS_READ_WRITE, &r)) != 0)
			die(name, rc);
		double start = now_s();
		rc = npmu_region_resync(r, resync_progress, &start);
		if (rc != 0)
			die(name, rc);
		struct npmu_mirror_info mi;
		npmu_region_mirror(r, &mi);
		npmu_region_close(&r);
		if (json)
			printf("{\"region\":\"%s\",\"in_sync\":true,\"seconds\":%.3f}\n", name,
			       now_s() - start);
		else
			printf("%s: every copy in sync (%.3f s)\n", name, now_s() - start);
	} else if (!strcmp(verb, "revoke")) {
		if ((rc = npmu_region_revoke(conn, name)) < 0)
			die(name, rc);
		if (json)
			printf("{\"region\":\"%s\",\"revoked\":%d}\n", name, rc);
		else
			printf("%s: %d right(s) revoked\n", name, rc);
	} else if (!strcmp(verb, "rm")) {
		if ((rc = npmu_region_delete(conn, name)) != 0)
			die(name, rc);
		if (json)
			printf("{\"deleted\":\"%s\"}\n", name);
	} else {
		struct npmu_region_info *list;
		size_t n;
		if ((rc = npmu_region_list(conn, &list, &n)) != 0)
			die("list", rc);
		if (json)
			printf("[");
		for (size_t i = 0; i < n; i++) {
			if (json && i)
				printf(",");
			print_info(&list[i], i == 0);
		}
		if (json)
			printf("]\n");
		else if (n == 0)
			printf("no regions\n");
		free(list);
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* now_s -- monotonic seconds. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* progress -- a progress bar on a terminal, once a transfer has run for over a second. */
static void progress(const char *what, uint64_t done, uint64_t total, double start, bool final)
{
	double el = now_s() - start;
	if (json || !isatty(STDERR_FILENO) || el < 1.0)
		return;
	char a[32], b[32];
	int pct = total ? (int)(done * 100 / total) : 100;
	int bars = pct / 5;
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s / %s  %.0f MiB/s", what, bars,
		"####################", 20 - bars, "", pct, npmu_format_size(done, a, sizeof(a)),
		npmu_format_size(total, b, sizeof(b)), (double)done / (1 << 20) / el);
	if (final)
		fputc('\n', stderr);
}

/* read_full -- read up to len bytes, looping over short reads; returns bytes read or -1. */
static ssize_t read_full(int fd, char *buf, size_t len)
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

/* cmd_put -- copy a file into a region and make it persistent. */
static int cmd_put(int argc, char **argv)
{
	static const struct option o[] = {{"offset", required_argument, NULL, 'o'},
					  {"create", no_argument, NULL, 'c'},
					  {"help", no_argument, NULL, 'h'},
					  {NULL, 0, NULL, 0}};
	uint64_t offset = 0;
	bool create = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:ch", o, NULL)) != -1) {
		if (c == 'o')
			offset = parse_size_or_die(optarg[0] == '0' && !optarg[1] ? "0" : optarg);
		else if (c == 'c')
			create = true;
		else {
			fputs(usage_put, c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != 2) {
		fputs(usage_put, stderr);
		return 2;
	}
	const char *name = argv[optind], *path = argv[optind + 1];
	int fd = strcmp(path, "-") ? open(path, O_RDONLY) : STDIN_FILENO;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "npmu: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct npmu_conn *conn = connect_or_die();
	uint64_t total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	struct npmu_region_info info;
	int rc = npmu_region_stat(conn, name, &info);
	if (rc == NPMU_E_NOENT && create)
		rc = npmu_region_create(conn, name, offset + (total ? total : 1), &info);
	if (rc != 0)
		die(name, rc);
	if (total && offset + total > info.size) {
		char a[32], b[32];
		fprintf(stderr, "npmu: %s (%s) does not fit in region %s (%s) at offset %llu\n", path,
			npmu_format_size(total, a, sizeof(a)), name,
			npmu_format_size(info.size, b, sizeof(b)), (unsigned long long)offset);
		return 1;
	}
	struct npmu_region *r;
	if ((rc = npmu_region_open(conn, name, NPMU_ACCESS_READ_WRITE, &r)) != 0)
		die(name, rc);
	char *buf = malloc(CHUNK);
	if (!buf)
		die("put", NPMU_E_NOMEM);
	double start = now_s();
	uint64_t done = 0;
	for (;;) {
		ssize_t n = read_full(fd, buf, CHUNK);
		if (n < 0) {
			fprintf(stderr, "npmu: %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		if ((rc = npmu_region_write(r, offset + done, buf, (size_t)n)) != 0)
			die("write", rc);
		done += (uint64_t)n;
		progress("put", done, total ? total : done, start, false);
	}
	if ((rc = npmu_region_persist(r, offset, done, NPMU_PERSISTENT)) != 0)
		die("persist", rc);
	progress("put", done, total ? total : done, start, true);
	double el = now_s() - start;
	if (json)
		printf("{\"region\":\"%s\",\"offset\":%llu,\"bytes\":%llu,\"seconds\":%.6f}\n", name,
		       (unsigned long long)offset, (unsigned long long)done, el);
	else {
		char a[32];
		printf("put %s into %s at offset %llu: %s, persistent, %.3f s\n", path, name,
		       (unsigned long long)offset, npmu_format_size(done, a, sizeof(a)), el);
	}
	free(buf);
	npmu_region_close(&r);
	npmu_conn_delete(&conn);
	if (fd != STDIN_FILENO)
		close(fd);
	return 0;
}

/* write_full -- write all of buf, looping over short writes. */
static int write_full(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* cmd_get -- copy (part of) a region into a file. */
static int cmd_get(int argc, char **argv)
{
	static const struct option o[] = {{"offset", required_argument, NULL, 'o'},
					  {"length", required_argument, NULL, 'l'},
					  {"copy", required_argument, NULL, 'C'},
					  {"help", no_argument, NULL, 'h'},
					  {NULL, 0, NULL, 0}};
	uint64_t offset = 0, length = 0;
	bool have_len = false;
	enum npmu_copy from = NPMU_COPY_NEAREST;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:l:C:h", o, NULL)) != -1) {
		if (c == 'C') {
			if (!strcmp(optarg, "primary"))
				from = NPMU_COPY_PRIMARY;
			else if (!strcmp(optarg, "mirror"))
				from = NPMU_COPY_MIRROR;
			else if (strcmp(optarg, "nearest") != 0) {
				fprintf(stderr, "npmu: --copy %s: expected primary, mirror or nearest\n",
					optarg);
				return 2;
			}
		} else if (c == 'o' || c == 'l') {
			uint64_t v;
			if (npmu_parse_size(optarg, &v) != 0) {
				fprintf(stderr, "npmu: invalid number '%s'\n", optarg);
				return 2;
			}
			if (c == 'o')
				offset = v;
			else {
				length = v;
				have_len = true;
			}
		} else {
			fputs(usage_get, c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != 2) {
		fputs(usage_get, stderr);
		return 2;
	}
	const char *name = argv[optind], *path = argv[optind + 1];
	struct npmu_conn *conn = connect_or_die();
	struct npmu_region *r;
	int rc = npmu_region_open_copy(conn, name, NPMU_ACCESS_READ, from, &r);
	if (rc != 0)
		die(name, rc);
	uint64_t size = npmu_region_size(r);
	if (offset > size || (have_len && length > size - offset))
		die("get", NPMU_E_RANGE);
	if (!have_len)
		length = size - offset;
	int fd = strcmp(path, "-") ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : STDOUT_FILENO;
	if (fd < 0) {
		fprintf(stderr, "npmu: %s: %s\n", path, strerror(errno));
		return 1;
	}
	char *buf = malloc(CHUNK);
	if (!buf)
		die("get", NPMU_E_NOMEM);
	double start = now_s();
	for (uint64_t done = 0; done < length;) {
		size_t n = length - done < CHUNK ? (size_t)(length - done) : CHUNK;
		if ((rc = npmu_region_read(r, offset + done, buf, n)) != 0)
			die("read", rc);
		if (write_full(fd, buf, n) != 0) {
			fprintf(stderr, "npmu: %s: %s\n", path, strerror(errno));
			return 1;
		}
		done += n;
		progress("get", done, length, start, done == length);
	}
	if (fd != STDOUT_FILENO && close(fd) != 0) {
		fprintf(stderr, "npmu: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct npmu_mirror_info mi;
	char copy[160] = "";
	if (npmu_region_mirror(r, &mi) == 0 && mi.reads_from >= 0)
		snprintf(copy, sizeof(copy), "%s", mi.copy[mi.reads_from].unit);
	if (fd != STDOUT_FILENO) {
		char a[32];
		if (json)
			printf("{\"region\":\"%s\",\"offset\":%llu,\"bytes\":%llu,\"seconds\":%.6f,"
			       "\"copy\":\"%s\"}\n",
			       name, (unsigned long long)offset, (unsigned long long)length,
			       now_s() - start, copy);
		else
			printf("got %s from %s%s%s%s at offset %llu into %s, %.3f s\n",
			       npmu_format_size(length, a, sizeof(a)), name,
			       copy[0] ? " (copy on " : "", copy[0] ? copy : "", copy[0] ? ")" : "",
			       (unsigned long long)offset, path, now_s() - start);
	}
	free(buf);
	npmu_region_close(&r);
	npmu_conn_delete(&conn);
	return 0;
}

/* cmd_unit -- unit ls. */
static int cmd_unit(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "ls") != 0) {
		bool help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
		fputs("Usage: npmu unit ls\nList the manager's units: address, state, capacity, free "
		      "space and regions.\n", help ? stdout : stderr);
		return help ? 0 : 2;
	}
	struct npmu_conn *conn = connect_or_die();
	struct npmu_unit_info *list;
	size_t n;
	int rc = npmu_unit_list(conn, &list, &n);
	if (rc != 0)
		die("unit ls", rc);
	char a[32], b[32];
	if (json)
		printf("[");
	else
		printf("%-24s %-5s %12s %12s %8s  %s\n", "UNIT", "STATE", "SIZE", "FREE", "REGIONS",
		       "DOMAIN");
	for (size_t i = 0; i < n; i++) {
		if (json)
			printf("%s{\"unit\":\"%s\",\"up\":%s,\"bytes\":%llu,\"free\":%llu,"
			       "\"regions\":%u,\"domain\":\"%s\"}", i ? "," : "", list[i].addr,
			       list[i].up ? "true" : "false", (unsigned long long)list[i].bytes,
			       (unsigned long long)list[i].free, list[i].regions, list[i].domain);
		else
			printf("%-24s %-5s %12s %12s %8u  %s\n", list[i].addr, list[i].up ? "up" : "DOWN",
			       list[i].up ? npmu_format_size(list[i].bytes, a, sizeof(a)) : "-",
			       list[i].up ? npmu_format_size(list[i].free, b, sizeof(b)) : "-",
			       list[i].regions, list[i].domain[0] ? list[i].domain : "-");
	}
	if (json)
		printf("]\n");
	free(list);
	npmu_conn_delete(&conn);
	return 0;
}

static const char usage_stripe[] =
	"Usage: npmu stripe put NAME FILE [--k K] [--m M] [--n N] [--seg SIZE] [--keep V]\n"
	"                       [--capacity SIZE] [--mirror]\n"
	"       npmu stripe get NAME FILE [--version V]\n"
	"       npmu stripe stat NAME | rebuild NAME\n"
	"A striped set is n member regions NAME.s0.. on n distinct units. Each version of the\n"
	"checkpoint is cut into sub-segments of --seg bytes (default 1M), grouped k at a time\n"
	"(default 4) with m parity sub-segments (default 2; 1: XOR parity), parity rotating over\n"
	"the units; any k of each group restore it. --mirror keeps n full copies instead. The\n"
	"set's shape and capacity (default: the first checkpoint's size) are fixed by its first\n"
	"put; the last --keep versions (default 2) stay restorable.\n";

/* stripe_progress -- the progress bar of stripe put/get/rebuild. */
static void stripe_progress(uint64_t done, uint64_t total, void *arg)
{
	const char *what = ((const char **)arg)[0];
	double start = *(const double *)((const char **)arg)[1];
	progress(what, done, total, start, done == total);
}

/* print_report -- what a restore or a rebuild found. */
static void print_report(const char *verb, const char *name, const struct npmu_stripe_report *r,
			 int rc)
{
	if (json) {
		printf("{\"set\":\"%s\",\"%s\":%s,\"version\":%llu,\"newest\":%llu,"
		       "\"older_ok\":%llu,\"lost\":%u,\"bad\":%u,\"repaired\":%u,\"which\":\"%s\"}\n",
		       name, verb, rc == 0 ? "true" : "false", (unsigned long long)r->version,
		       (unsigned long long)r->newest, (unsigned long long)r->older_ok, r->lost, r->bad,
		       r->repaired, r->which);
		return;
	}
	if (r->lost || r->bad || r->which[0])
		fprintf(rc ? stderr : stdout, "%s: %u member(s) lost, %u sub-segment(s) failed their "
			"checksum%s%s\n", name, r->lost, r->bad, r->which[0] ? ": " : "", r->which);
	if (rc == NPMU_E_LOST && r->older_ok)
		fprintf(stderr, "npmu: version %llu of %s can still be restored: npmu stripe get "
			"--version %llu %s FILE\n", (unsigned long long)r->older_ok, name,
			(unsigned long long)r->older_ok, name);
}

/* cmd_stripe -- stripe put|get|stat|rebuild. */
static int cmd_stripe(int argc, char **argv)
{
	static const struct option o[] = {
		{"k", required_argument, NULL, 'k'},     {"m", required_argument, NULL, 'm'},
		{"n", required_argument, NULL, 'n'},     {"seg", required_argument, NULL, 's'},
		{"keep", required_argument, NULL, 'K'},  {"capacity", required_argument, NULL, 'c'},
		{"mirror", no_argument, NULL, 'M'},      {"version", required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_stripe, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *verb = argv[1];
	struct npmu_stripe_cfg sc = {0};
	uint64_t version = 0;
	int c;
	optind = 0;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "k:m:n:s:K:c:Mv:h", o, NULL)) != -1) {
		uint64_t v = 0;
		if (c == 'h') {
			fputs(usage_stripe, stdout);
			return 0;
		}
		if (c == '?' || (c != 'M' && npmu_parse_size(optarg, &v) != 0)) {
			fputs(usage_stripe, stderr);
			return 2;
		}
		if (v == 0 && c != 'M') { /* 0 would mean "the default" to the library */
			fprintf(stderr, "npmu: --%s 0: invalid argument\n", o[c == 'k' ? 0 : c == 'm' ? 1
						: c == 'n' ? 2 : c == 's' ? 3 : c == 'K' ? 4 : c == 'c' ? 5 : 7].name);
			return 1;
		}
		switch (c) {
		case 'k': sc.k = (uint32_t)v; break;
		case 'm': sc.m = (uint32_t)v; break;
		case 'n': sc.n = (uint32_t)v; break;
		case 's': sc.seg_size = v; break;
		case 'K': sc.keep = (uint32_t)v; break;
		case 'c': sc.capacity = v; break;
		case 'M': sc.mirror = 1; break;
		case 'v': version = v; break;
		}
	}
	int args = argc - optind;
	int want = !strcmp(verb, "put") || !strcmp(verb, "get") ? 2
		   : !strcmp(verb, "stat") || !strcmp(verb, "rebuild") ? 1 : -1;
	if (want < 0 || args != want) {
		fprintf(stderr, "npmu: %s\n%s", want < 0 ? "unknown stripe command" : "wrong arguments",
			usage_stripe);
		return 2;
	}
	const char *name = argv[optind], *path = want == 2 ? argv[optind + 1] : NULL;
	struct npmu_conn *conn = connect_or_die();
	double start = now_s();
	const char *parg[2] = {verb, (const char *)&start};
	struct npmu_stripe_report rep;
	int rc = 0;
	if (!strcmp(verb, "put")) {
		int fd = strcmp(path, "-") ? open(path, O_RDONLY) : STDIN_FILENO;
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0) {
			fprintf(stderr, "npmu: %s: %s\n", path, strerror(errno));
			return 1;
		}
		uint64_t len = 0, cap = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 1 << 20;
		char *buf = malloc(cap ? cap : 1);
		for (ssize_t n; buf && (n = read_full(fd, buf + len, cap - len)) > 0;) {
			len += (uint64_t)n;
			if (len == cap) {
				char *p = realloc(buf, cap * 2);
				if (!p)
					break;
				buf = p;
				cap *= 2;
			}
		}
		if (!buf)
			die("put", NPMU_E_NOMEM);
		uint64_t v = 0;
		rc = npmu_stripe_put(conn, name, buf, len, &sc, stripe_progress, parg, &v);
		free(buf);
		if (rc == NPMU_E_NOUNIT)
			fprintf(stderr, "npmu: the set needs more units than the manager has up "
					"(npmu unit ls)\n");
		if (rc != 0)
			die(name, rc);
		char a[32];
		if (json)
			printf("{\"set\":\"%s\",\"version\":%llu,\"bytes\":%llu,\"seconds\":%.3f}\n",
			       name, (unsigned long long)v, (unsigned long long)len, now_s() - start);
		else
			printf("put %s into %s: version %llu, %s, committed on every unit, %.3f s\n", path,
			       name, (unsigned long long)v, npmu_format_size(len, a, sizeof(a)),
			       now_s() - start);
	} else if (!strcmp(verb, "get")) {
		void *data = NULL;
		uint64_t len = 0;
		rc = npmu_stripe_get(conn, name, version, &data, &len, stripe_progress, parg, &rep);
		print_report("restored", name, &rep, rc);
		if (rc != 0)
			die(name, rc);
		int fd = strcmp(path, "-") ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)
					   : STDOUT_FILENO;
		if (fd < 0 || write_full(fd, data, len) != 0 || (fd != STDOUT_FILENO && close(fd))) {
			fprintf(stderr, "npmu: %s: %s\n", path, strerror(errno));
			return 1;
		}
		free(data);
		char a[32];
		if (!json && fd != STDOUT_FILENO && rep.version < rep.newest && !version)
			printf("the newest version, %llu, cannot be restored (%s): restored the newest "
			       "that can be\n", (unsigned long long)rep.newest, rep.which);
		if (!json && fd != STDOUT_FILENO)
			printf("got version %llu of %s (%s%s) into %s, %.3f s\n",
			       (unsigned long long)rep.version, name, npmu_format_size(len, a, sizeof(a)),
			       rep.repaired ? ", rebuilt from parity" : "", path, now_s() - start);
	} else if (!strcmp(verb, "rebuild")) {
		rc = npmu_stripe_rebuild(conn, name, stripe_progress, parg, &rep);
		print_report("rebuilt", name, &rep, rc);
		if (rc != 0)
			die(name, rc);
		if (!json)
			printf("%s: %u sub-segment(s) written back; every member healthy\n", name,
			       rep.repaired);
	} else {
		struct npmu_stripe_info si;
		if ((rc = npmu_stripe_stat(conn, name, &si)) != 0)
			die(name, rc);
		char a[32], b[32];
		if (json) {
			printf("{\"set\":\"%s\",\"k\":%u,\"m\":%u,\"n\":%u,\"seg_size\":%llu,"
			       "\"keep\":%u,\"capacity\":%llu,\"data_offset\":%llu,\"versions\":[", name,
			       si.k, si.m, si.n, (unsigned long long)si.seg_size, si.keep,
			       (unsigned long long)si.capacity, (unsigned long long)si.newest_data_off);
			for (uint32_t i = 0; i < si.nversions; i++)
				printf("%s{\"version\":%llu,\"length\":%llu,\"members\":%u}", i ? "," : "",
				       (unsigned long long)si.versions[i].version,
				       (unsigned long long)si.versions[i].length, si.versions[i].members);
			printf("],\"members\":[");
			for (uint32_t i = 0; i < si.n; i++)
				printf("%s{\"region\":\"%s\",\"unit\":\"%s\",\"state\":\"%s\","
				       "\"manifests\":%u}", i ? "," : "", si.member[i].region,
				       si.member[i].unit,
				       si.member[i].state == 0 ? "ok" : si.member[i].state == 1 ? "lost"
												 : "corrupt",
				       si.member[i].manifests);
			printf("]}\n");
		} else {
			printf("%s: %u+%u over %u units (%s), sub-segments of %s, capacity %s, %u "
			       "version(s) kept\n", name, si.k, si.m, si.n,
			       si.k == 1 ? "mirrored copies" : si.m == 1 ? "XOR parity" : "Reed-Solomon",
			       npmu_format_size(si.seg_size, a, sizeof(a)),
			       npmu_format_size(si.capacity, b, sizeof(b)), si.keep);
			for (uint32_t i = 0; i < si.nversions; i++)
				printf("  version %llu: %s, manifest on %u of %u members\n",
				       (unsigned long long)si.versions[i].version,
				       npmu_format_size(si.versions[i].length, a, sizeof(a)),
				       si.versions[i].members, si.n);
			for (uint32_t i = 0; i < si.n; i++)
				printf("  %-24s %-24s %s\n", si.member[i].region, si.member[i].unit,
				       si.member[i].state == 0 ? "ok"
				       : si.member[i].state == 1 ? "LOST (unreachable or missing)"
								 : "CORRUPT header");
		}
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* cmd_ckpt -- ckpt stat STREAM | ckpt dump STREAM FILE, looking without leaving marks. */
static int cmd_ckpt(int argc, char **argv)
{
	bool stat = argc == 3 && !strcmp(argv[1], "stat"), dump = argc == 4 && !strcmp(argv[1], "dump");
	if (!stat && !dump) {
		bool help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
		fputs("Usage: npmu ckpt stat STREAM | ckpt dump STREAM FILE\n"
		      "Describe a checkpoint stream, or write its latest state to FILE ('-': standard\n"
		      "output). Both only read: no consumed marks are left, no lease is taken.\n",
		      help ? stdout : stderr);
		return help ? 0 : 2;
	}
	struct npmu_conn *conn = connect_or_die();
	struct npmu_ckpt *ck;
	struct npmu_ckpt_opts opts = {.observe = 1};
	int rc = npmu_ckpt_open_backup(conn, argv[2], &opts, &ck);
	if (rc != 0)
		die(argv[2], rc);
	if ((rc = npmu_ckpt_follow(ck)) < 0)
		die(argv[2], rc);
	struct npmu_ckpt_info info;
	if ((rc = npmu_ckpt_stat(ck, &info)) != 0)
		die(argv[2], rc);
	uint64_t len, seq;
	const void *state = npmu_ckpt_state(ck, &len, &seq);
	if (stat) {
		const char *mode = info.mode == NPMU_CKPT_APPEND ? "append" : "overwrite";
		char a[32], b[32], c[32];
		if (json)
			printf("{\"stream\":\"%s\",\"mode\":\"%s\",\"epoch\":%llu,\"seq\":%llu,"
			       "\"state_size\":%llu,\"state_len\":%llu,\"log_size\":%llu,"
			       "\"latest_start\":%llu,\"latest_end\":%llu,\"unread\":%llu,"
			       "\"lease\":\"%s\",\"lease_holder\":\"%s\",\"lease_left_ms\":%u}\n",
			       argv[2], mode, (unsigned long long)info.epoch, (unsigned long long)info.seq,
			       (unsigned long long)info.state_size, (unsigned long long)info.state_len,
			       (unsigned long long)info.log_size, (unsigned long long)info.latest_start,
			       (unsigned long long)info.latest_end, (unsigned long long)info.unread,
			       info.lease_state == 1 ? "held" : info.lease_state == 2 ? "lapsed" : "none",
			       info.lease_holder, info.lease_left_ms);
		else {
			printf("stream      %s (%s mode)\nepoch       %llu\nsequence    %llu\n", argv[2],
			       mode, (unsigned long long)info.epoch, (unsigned long long)info.seq);
			printf("state       %s of %s\n", npmu_format_size(info.state_len, a, sizeof(a)),
			       npmu_format_size(info.state_size, b, sizeof(b)));
			if (info.mode == NPMU_CKPT_APPEND)
				printf("log         %s; latest update at %llu..%llu; unread by the "
				       "backup %s\n", npmu_format_size(info.log_size, c, sizeof(c)),
				       (unsigned long long)info.latest_start,
				       (unsigned long long)info.latest_end,
				       npmu_format_size(info.unread, a, sizeof(a)));
			if (info.lease_state == 1)
				printf("lease       held by %s, %u ms left\n",
				       info.lease_holder[0] ? info.lease_holder : "(unauthenticated)",
				       info.lease_left_ms);
			else
				printf("lease       %s\n", info.lease_state == 2
							      ? "lapsed: the last writer was fenced"
							      : "none: no writer yet");
		}
	} else {
		int fd = strcmp(argv[3], "-") ? open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644)
					      : STDOUT_FILENO;
		if (fd < 0 || write_full(fd, state, len) != 0) {
			fprintf(stderr, "npmu: %s: %s\n", argv[3], strerror(errno));
			return 1;
		}
		if (fd != STDOUT_FILENO) {
			close(fd);
			printf("dumped %llu bytes of %s (sequence %llu) into %s\n", (unsigned long long)len,
			       argv[2], (unsigned long long)seq, argv[3]);
		}
	}
	npmu_ckpt_close(&ck);
	npmu_conn_delete(&conn);
	return 0;
}

/* cmd_keygen -- write a fresh key file for a principal or for the cluster. */
static int cmd_keygen(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs("Usage: npmu keygen FILE\nWrite a new random 256-bit key, in hex, to FILE (created "
		      "with mode 0600;\nan existing file is never overwritten).\n",
		      argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : 2;
	}
	int rc = npmu__key_write(argv[1]);
	if (rc == NPMU_E_EXIST) {
		fprintf(stderr, "npmu: %s exists; a key file is never overwritten\n", argv[1]);
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "npmu: cannot write %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (json)
		printf("{\"key_file\":\"%s\"}\n", argv[1]);
	else
		printf("wrote a new key to %s (mode 0600)\n", argv[1]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option o[] = {{"server", required_argument, NULL, 's'},
					  {"provider", required_argument, NULL, 'P'},
					  {"json", no_argument, NULL, 'j'},
					  {"help", no_argument, NULL, 'h'},
					  {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "+s:P:jh", o, NULL)) != -1) {
		switch (c) {
		case 's': cfg.server = *optarg ? optarg : NULL; break; /* "": the default */
		case 'P': cfg.provider = optarg; break;
		case 'j': json = true; break;
		case 'h': printf(usage_main, NPMU_DEFAULT_PORT); return 0;
		default: fprintf(stderr, usage_main, NPMU_DEFAULT_PORT); return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, usage_main, NPMU_DEFAULT_PORT);
		return 2;
	}
	char **av = argv + optind;
	int ac = argc - optind;
	if (!strcmp(av[0], "region"))
		return cmd_region(ac, av);
	if (!strcmp(av[0], "put"))
		return cmd_put(ac, av);
	if (!strcmp(av[0], "get"))
		return cmd_get(ac, av);
	if (!strcmp(av[0], "keygen"))
		return cmd_keygen(ac, av);
	if (!strcmp(av[0], "unit"))
		return cmd_unit(ac, av);
	if (!strcmp(av[0], "ckpt"))
		return cmd_ckpt(ac, av);
	if (!strcmp(av[0], "stripe"))
		return cmd_stripe(ac, av);
	fprintf(stderr, "npmu: unknown command '%s'\n", av[0]);
	fprintf(stderr, usage_main, NPMU_DEFAULT_PORT);
	return 2;
}
