/* dataset_tool.c -- drives the dataset calls of npmu.h one at a time for dataset.sh:
 *   dataset_tool SERVER NAME PARTS put VERSION PART FILE [placed | staged [UNIT]]
 *                            (staged: npmu_dataset_stage first, its staging on UNIT)
 *   dataset_tool SERVER NAME PARTS wait VERSION MS  until VERSION is protected
 *   dataset_tool SERVER NAME PARTS commit VERSION LABEL
 *   dataset_tool SERVER NAME PARTS latest          prints "version V label L parts N bytes B"
 *   dataset_tool SERVER NAME PARTS read VERSION PART OFFSET LENGTH FILE
 *   dataset_tool SERVER NAME PARTS pin|unpin VERSION
 *   dataset_tool SERVER NAME PARTS open K M        (open asking for shape k+m)
 *   dataset_tool SERVER NAME PARTS reread PART OUT1 OUT2 GO
 *       part PART of the newest complete version into OUT1; once file GO exists, that of
 *       the newest then into OUT2, through the same handle (the part kept open between)
 *   dataset_tool SERVER NAME 0 hold SET FILE MS    a plain stripe put of FILE into SET that
 *                            sleeps MS after its first group, holding SET's lease ("holding")
 * PARTS is cfg.parts at open (0: reading only). Exit status 0, or 1 after printing the error
 * code's name on stdout ("error -1003 ..."), so the script can check which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "npmu.h"

/* slurp -- the whole of path into a new buffer. */
static char *slurp(const char *path, uint64_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (uint64_t)n;
	return buf;
}

/* read_latest -- part `part` of the newest complete version, whole, into file out. */
static int read_latest(struct npmu_dataset *ds, uint32_t part, const char *out)
{
	struct npmu_dataset_version v;
	uint64_t len = 0;
	int rc = npmu_dataset_latest(ds, &v);
	if (rc == 0)
		rc = npmu_dataset_part_size(ds, v.version, part, &len);
	char *buf = rc == 0 ? malloc(len ? len : 1) : NULL;
	if (rc == 0 && !buf)
		rc = NPMU_E_NOMEM;
	if (rc == 0)
		rc = npmu_dataset_read(ds, v.version, part, 0, buf, len);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.part", out); /* the script sees out only once whole */
	FILE *f = rc == 0 ? fopen(tmp, "wb") : NULL;
	if (rc == 0 && (!f || fwrite(buf, 1, len, f) != len))
		rc = NPMU_E_IO;
	if (f && fclose(f) != 0)
		rc = NPMU_E_IO;
	if (rc == 0 && rename(tmp, out) != 0)
		rc = NPMU_E_IO;
	free(buf);
	return rc;
}

/* nap -- a progress callback: sleep *arg ms once, after the first group, lease held. */
static void nap(uint64_t done, uint64_t total, void *arg)
{
	long *ms = arg;
	if (!*ms || done >= total)
		return;
	printf("holding\n");
	fflush(stdout);
	nanosleep(&(struct timespec){*ms / 1000, *ms % 1000 * 1000000}, NULL);
	*ms = 0;
}

/* hold -- the hold verb: a put into set argv[1] that keeps its lease a while. */
static int hold(struct npmu_conn *conn, int argc, char **argv)
{
	uint64_t len;
	char *buf = argc >= 4 ? slurp(argv[2], &len) : NULL;
	long ms = argc >= 4 ? atol(argv[3]) : 0;
	int rc = buf ? npmu_stripe_put(conn, argv[1], buf, len, NULL, nap, &ms, NULL)
		     : NPMU_E_INVAL;
	free(buf);
	return rc;
}

/* run -- one verb on an open dataset; an npmu error code, or 0. */
static int run(struct npmu_dataset *ds, int argc, char **argv)
{
	const char *verb = argv[0];
	if (!strcmp(verb, "put") && argc >= 4) {
		uint64_t len;
		char *buf = slurp(argv[3], &len);
		if (!buf)
			return NPMU_E_INVAL;
		int rc = npmu_dataset_put(ds, strtoull(argv[1], NULL, 0),
					  (uint32_t)strtoul(argv[2], NULL, 0), buf, len);
		free(buf);
		return rc;
	}
	if (!strcmp(verb, "commit") && argc >= 3)
		return npmu_dataset_commit(ds, strtoull(argv[1], NULL, 0), strtoull(argv[2], NULL, 0));
	if (!strcmp(verb, "latest")) {
		struct npmu_dataset_version v;
		int rc = npmu_dataset_latest(ds, &v);
		if (rc == 0)
			printf("version %llu label %llu parts %u bytes %llu\n",
			       (unsigned long long)v.version, (unsigned long long)v.label, v.parts,
			       (unsigned long long)v.bytes);
		return rc;
	}
	if (!strcmp(verb, "read") && argc >= 6) {
		uint64_t len = strtoull(argv[4], NULL, 0);
		char *buf = malloc(len ? len : 1);
		if (!buf)
			return NPMU_E_NOMEM;
		int rc = npmu_dataset_read(ds, strtoull(argv[1], NULL, 0),
					   (uint32_t)strtoul(argv[2], NULL, 0),
					   strtoull(argv[3], NULL, 0), buf, len);
		FILE *f = rc == 0 ? fopen(argv[5], "wb") : NULL;
		if (rc == 0 && (!f || fwrite(buf, 1, len, f) != len))
			rc = NPMU_E_IO;
		if (f)
			fclose(f);
		free(buf);
		return rc;
	}
	if (!strcmp(verb, "wait") && argc >= 3)
		return npmu_dataset_wait(ds, strtoull(argv[1], NULL, 0), atoi(argv[2]));
	if ((!strcmp(verb, "pin") || !strcmp(verb, "unpin")) && argc >= 2)
		return npmu_dataset_pin(ds, strtoull(argv[1], NULL, 0), !strcmp(verb, "pin"));
	if (!strcmp(verb, "open"))
		return 0;
	if (!strcmp(verb, "reread") && argc >= 5) {
		uint32_t part = (uint32_t)strtoul(argv[1], NULL, 0);
		int rc = read_latest(ds, part, argv[2]);
		while (rc == 0 && access(argv[4], F_OK) != 0)
			usleep(10000);
		return rc ? rc : read_latest(ds, part, argv[3]);
	}
	return NPMU_E_INVAL;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: dataset_tool SERVER NAME PARTS VERB ARGS...\n");
		return 2;
	}
	struct npmu_conn_cfg cc = {.server = argv[1]};
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cc, &conn);
	struct npmu_dataset_cfg cfg = {.parts = (uint32_t)strtoul(argv[3], NULL, 0)};
	if (!strcmp(argv[4], "put") && argc > 8 && !strcmp(argv[8], "placed"))
		cfg.durability = NPMU_PLACED;
	if (!strcmp(argv[4], "open") && argc > 6) {
		cfg.k = (uint32_t)strtoul(argv[5], NULL, 0);
		cfg.m = (uint32_t)strtoul(argv[6], NULL, 0);
	}
	struct npmu_dataset *ds = NULL;
	if (rc == 0 && !strcmp(argv[4], "hold"))
		rc = hold(conn, argc - 4, argv + 4);
	else if (rc == 0)
		rc = npmu_dataset_open(conn, argv[2], cfg.parts || cfg.k ? &cfg : NULL, &ds);
	if (rc == 0 && ds && !strcmp(argv[4], "put") && argc > 8 && !strcmp(argv[8], "staged"))
		rc = npmu_dataset_stage(ds, &(struct npmu_stage_cfg){.unit = argc > 9 ? argv[9] : NULL});
	if (rc == 0 && ds)
		rc = run(ds, argc - 4, argv + 4);
	npmu_dataset_close(&ds);
	if (conn)
		npmu_conn_delete(&conn);
	if (rc != 0) {
		printf("error %d %s\n", rc, npmu_strerror(rc));
		return 1;
	}
	return 0;
}
