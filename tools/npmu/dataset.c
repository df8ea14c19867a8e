/* dataset.c -- npmu dataset ls|stat|get|rm|pin|wait: checkpoints of jobs of many processes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "verbs.h"
#include "size.h"
#include "stage.h"

static const char usage_dataset[] =
	"Usage: npmu dataset ls\n"
	"       npmu dataset stat NAME\n"
	"       npmu dataset get NAME PART FILE [--version V] [--offset BYTES] [--length BYTES]\n"
	"       npmu dataset rm NAME\n"
	"       npmu dataset pin NAME VERSION [--unpin]\n"
	"       npmu dataset wait NAME [--version V] [--timeout MS]\n"
	"A dataset is the checkpoint of a job of many processes: each version has one part per\n"
	"process, each part striped with parity over units (as `npmu stripe`), and a label (the\n"
	"iteration). A version is complete once every part was put and the job committed it;\n"
	"only complete versions are listed and restored. Jobs write datasets through the library\n"
	"(npmu_dataset_put and npmu_dataset_commit in npmu.h); this command looks at them.\n"
	"  ls     every dataset: its newest complete version, label, parts and bytes\n"
	"  stat   its kept versions (labels, parts, pins) and the health of each part's units\n"
	"  get    part PART of the newest complete version (or --version V) into FILE ('-':\n"
	"         standard output); --offset and --length pick a byte range of the part\n"
	"  rm     delete a dataset (refused while a process commits or puts)\n"
	"  pin    keep VERSION whatever is committed after it; --unpin lets it go\n"
	"  wait   until version V (default: the newest complete) is protected: a job that stages its\n"
	"         checkpoints (npmu_dataset_stage) commits versions an encoder protects later;\n"
	"         exits 1 after --timeout (default 60000; 0: look once) saying whether it is\n"
	"         still staged or lost\n"
	"A complete version is protected (every part in its units), staged (some parts only in\n"
	"their staging regions, waiting for npmu-encoder; readable), partial (being protected) or\n"
	"lost (a part's staging unit died before it was protected: restores pass over it).\n";

enum { GET_VERSION, GET_OFFSET, GET_LENGTH };
static const struct opt_spec get_opts[] = {
	[GET_VERSION] = {"version", 'v', OPT_UINT},
	[GET_OFFSET] = {"offset", 'o', OPT_SIZE},
	[GET_LENGTH] = {"length", 'l', OPT_SIZE},
	{NULL},
};
enum { PIN_UNPIN };
static const struct opt_spec pin_opts[] = {[PIN_UNPIN] = {"unpin", 'u', OPT_FLAG}, {NULL}};
static const struct opt_spec get_args[] = {
	{"NAME", 0, OPT_STRING}, {"PART", 0, OPT_UINT, 0, NPMU_DATASET_PARTS_MAX - 1},
	{"FILE", 0, OPT_STRING}, {NULL}};
static const struct opt_spec pin_args[] = {
	{"NAME", 0, OPT_STRING}, {"VERSION", 0, OPT_UINT, 1, UINT64_MAX}, {NULL}};
static const struct opt_spec name_args[] = {{"NAME", 0, OPT_STRING}, {NULL}};
enum { WAIT_TIMEOUT, WAIT_VERSION };
static const struct opt_spec wait_opts[] = {
	[WAIT_TIMEOUT] = {"timeout", 't', OPT_UINT, 0, INT32_MAX},
	[WAIT_VERSION] = {"version", 'v', OPT_UINT, 1, UINT64_MAX}, {NULL}};

static const struct opt_cmd ls_cmd = {"npmu dataset ls", usage_dataset, NULL, NULL};
static const struct opt_cmd stat_cmd = {"npmu dataset stat", usage_dataset, NULL, name_args};
static const struct opt_cmd get_cmd = {"npmu dataset get", usage_dataset, get_opts, get_args};
static const struct opt_cmd rm_cmd = {"npmu dataset rm", usage_dataset, NULL, name_args};
static const struct opt_cmd pin_cmd = {"npmu dataset pin", usage_dataset, pin_opts, pin_args};
static const struct opt_cmd wait_cmd = {"npmu dataset wait", usage_dataset, wait_opts, name_args};

/* ds_die -- a failed dataset request: "no such region" would mislead, so a missing dataset or
 * version is said as such; exit 1. */
static _Noreturn void ds_die(const char *name, int rc)
{
	if (rc != NPMU_E_NOENT && rc != NPMU_E_NAME)
		cli_die(name, rc);
	char what[NPMU_NAME_MAX + 128];
	if (rc == NPMU_E_NAME)
		snprintf(what, sizeof(what), "%.80s: dataset names are 1 to %d characters of A-Z a-z "
			 "0-9 . _ -", name, NPMU_DATASET_NAME_MAX);
	else
		snprintf(what, sizeof(what), "%s: no such dataset, or no such complete version", name);
	cli_refuse(what, rc, "%s", what);
}

/* open_ds -- dataset NAME opened for reading, or the command dies saying why. */
static struct npmu_dataset *open_ds(struct npmu_conn *conn, const char *name)
{
	struct npmu_dataset *ds;
	int rc = npmu_dataset_open(conn, name, NULL, &ds);
	if (rc == NPMU_E_NOENT)
		out_warn("%s: no such dataset (npmu dataset ls)", name);
	if (rc != 0)
		ds_die(name, rc);
	return ds;
}

/* dataset_of -- NAME when region is a dataset's catalog member 0 ("NAME.ds.s0"). */
static bool dataset_of(const char *region, char out[NPMU_NAME_MAX + 1])
{
	size_t n = strlen(region);
	if (n <= 6 || strcmp(region + n - 6, ".ds.s0") != 0)
		return false;
	memcpy(out, region, n - 6);
	out[n - 6] = '\0';
	return true;
}

/* ls_one -- one dataset's line (or JSON object). */
static void ls_one(struct npmu_conn *conn, const char *name, struct out_json *j)
{
	struct npmu_dataset *ds;
	struct npmu_dataset_version v = {0};
	int rc = npmu_dataset_open(conn, name, NULL, &ds);
	int lrc = rc == 0 ? npmu_dataset_latest(ds, &v) : rc;
	if (rc == 0)
		npmu_dataset_close(&ds);
	char a[32];
	if (j) {
		out_json_object(j, NULL);
		out_json_str(j, "dataset", name);
		out_json_str(j, "state", lrc == 0 ? "ok" : lrc == NPMU_E_NOENT ? "empty"
								 : npmu_strerror(lrc));
		out_json_u64(j, "version", v.version);
		out_json_u64(j, "label", v.label);
		out_json_u64(j, "parts", v.parts);
		out_json_u64(j, "bytes", v.bytes);
		out_json_end(j);
	} else if (lrc == 0) {
		out_line("%-32s %10llu %12llu %6u %10s", name, (unsigned long long)v.version,
			 (unsigned long long)v.label, v.parts, npmu__size_format(v.bytes, a, sizeof(a)));
	} else {
		out_line("%-32s %10s %12s %6s %10s  (%s)", name, "-", "-", "-", "-",
			 lrc == NPMU_E_NOENT ? "no complete version" : npmu_strerror(lrc));
	}
}

/* dataset_ls -- dataset ls: every dataset the manager's regions hold. */
static int dataset_ls(const struct opt_result *r)
{
	(void)r;
	struct npmu_conn *conn = cli_connect();
	struct npmu_region_info *list = NULL;
	size_t count = 0;
	int rc = npmu_region_list(conn, &list, &count);
	if (rc != 0)
		cli_die("dataset ls", rc);
	struct out_json j;
	if (out_json_mode()) {
		j = out_json_start(stdout);
		out_json_array(&j, NULL);
	} else {
		out_line("%-32s %10s %12s %6s %10s", "DATASET", "VERSION", "LABEL", "PARTS", "BYTES");
	}
	for (size_t i = 0; i < count; i++) {
		char name[NPMU_NAME_MAX + 1];
		if (dataset_of(list[i].name, name))
			ls_one(conn, name, out_json_mode() ? &j : NULL);
	}
	if (out_json_mode())
		out_json_end(&j);
	free(list);
	npmu_conn_delete(&conn);
	return 0;
}

/* Health of one part of the newest version, from its set's manifests. */
struct part_health {
	uint32_t members, ok, holding; /* members, healthy ones, ones holding the version */
	int rc;
};

/* part_health -- how many of part p's members are healthy and hold version v. */
static struct part_health part_health(struct npmu_conn *conn, const char *name, uint32_t p,
				      uint64_t v)
{
	char set[NPMU_NAME_MAX + 16];
	snprintf(set, sizeof(set), "%s.p%u", name, p);
	struct part_health h = {0};
	struct npmu_stripe_info *si = calloc(1, sizeof(*si));
	h.rc = si ? npmu_stripe_stat(conn, set, si) : NPMU_E_NOMEM;
	if (h.rc == 0) {
		h.members = si->n;
		for (uint32_t i = 0; i < si->n; i++)
			h.ok += si->member[i].state == NPMU_MEMBER_OK;
		for (uint32_t i = 0; i < si->nversions && i < 8; i++)
			if (si->versions[i].version == v)
				h.holding = si->versions[i].members;
	}
	free(si);
	return h;
}

/* stat_versions -- the kept versions, newest first, with their states. */
static void stat_versions(struct npmu_dataset *ds, const struct npmu_dataset_version *vs,
			  size_t count, struct out_json *j)
{
	char a[32];
	if (j)
		out_json_array(j, "versions");
	for (size_t i = 0; i < count; i++) {
		enum npmu_version_state st;
		int rc = npmu_dataset_state(ds, vs[i].version, &st);
		const char *state = rc == 0 ? stage_state_name(st) : npmu_strerror(rc);
		if (j) {
			out_json_object(j, NULL);
			out_json_u64(j, "version", vs[i].version);
			out_json_str(j, "state", state);
			out_json_u64(j, "label", vs[i].label);
			out_json_u64(j, "parts", vs[i].parts);
			out_json_u64(j, "bytes", vs[i].bytes);
			out_json_bool(j, "pinned", vs[i].pinned);
			out_json_end(j);
		} else {
			out_line("  version %llu: label %llu, %u part(s), %s, complete, %s%s%s",
				 (unsigned long long)vs[i].version, (unsigned long long)vs[i].label,
				 vs[i].parts, npmu__size_format(vs[i].bytes, a, sizeof(a)), state,
				 rc == 0 && st == NPMU_VERSION_STAGED ? " (waiting for an encoder)"
				 : rc == 0 && st == NPMU_VERSION_LOST
					 ? " (a part's staging copy is gone: restores pass over it)"
					 : "",
				 vs[i].pinned ? ", pinned" : "");
		}
	}
	if (j)
		out_json_end(j);
}

/* stat_parts -- each part of the newest version: its members' health; returns how many are
 * degraded (a member lost, or not holding the version). */
static uint32_t stat_parts(struct npmu_conn *conn, struct npmu_dataset *ds, const char *name,
			   const struct npmu_dataset_version *v, struct out_json *j)
{
	uint32_t degraded = 0;
	enum npmu_version_state st = NPMU_VERSION_PROTECTED;
	bool staged = v && npmu_dataset_state(ds, v->version, &st) == 0 &&
		      st != NPMU_VERSION_PROTECTED && st != NPMU_VERSION_LOST;
	if (j)
		out_json_array(j, "parts");
	for (uint32_t p = 0; v && p < v->parts; p++) {
		struct part_health h = part_health(conn, name, p, v->version);
		bool waiting = staged && h.rc == NPMU_E_NOENT; /* staged, its set not made yet */
		bool bad = !waiting && (h.rc != 0 || h.ok < h.members || h.holding < h.members);
		degraded += bad;
		if (j) {
			out_json_object(j, NULL);
			out_json_u64(j, "part", p);
			out_json_u64(j, "members", h.members);
			out_json_u64(j, "healthy", h.ok);
			out_json_u64(j, "holding_newest", h.holding);
			out_json_str(j, "state", waiting ? "staged"
						 : h.rc  ? npmu_strerror(h.rc)
						 : bad   ? "degraded"
							 : "ok");
			out_json_end(j);
		} else if (waiting) {
			out_line("  part %u: staged only, not yet in its units (waiting for an encoder)",
				 p);
		} else if (h.rc == NPMU_E_NOENT) {
			out_line("  part %u: %s.p%u is missing (deleted, or lost with its units)  "
				 "DEGRADED", p, name, p);
		} else if (h.rc != 0) {
			out_line("  part %u: %s", p, npmu_strerror(h.rc));
		} else {
			if (bad)
				out_line("  part %u: %u of %u members healthy, %u hold version %llu  "
					 "DEGRADED (npmu stripe rebuild %s.p%u)", p, h.ok, h.members,
					 h.holding, (unsigned long long)v->version, name, p);
			else
				out_line("  part %u: %u of %u members healthy, %u hold version %llu", p,
					 h.ok, h.members, h.holding, (unsigned long long)v->version);
		}
	}
	if (j)
		out_json_end(j);
	return degraded;
}

/* dataset_stat -- dataset stat NAME: kept versions and each part's health. */
static int dataset_stat(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	struct npmu_dataset *ds = open_ds(conn, name);
	struct npmu_dataset_version *vs = NULL;
	size_t count = 0;
	int rc = npmu_dataset_versions(ds, &vs, &count);
	if (rc != 0)
		ds_die(name, rc);
	struct out_json j;
	struct out_json *jp = NULL;
	if (out_json_mode()) {
		j = out_json_start(stdout);
		jp = &j;
		out_json_object(jp, NULL);
		out_json_str(jp, "dataset", name);
	} else {
		out_line("%s: %zu complete version(s) kept%s", name, count,
			 count ? "; parts below are the newest's" : "");
	}
	stat_versions(ds, vs, count, jp);
	uint32_t degraded = stat_parts(conn, ds, name, count ? &vs[0] : NULL, jp);
	if (jp) {
		out_json_u64(jp, "degraded_parts", degraded);
		out_json_end(jp);
	}
	free(vs);
	npmu_dataset_close(&ds);
	npmu_conn_delete(&conn);
	return 0;
}

/* dataset_get -- dataset get NAME PART FILE: a part (or a byte range of it) into FILE. */
static int dataset_get(const struct opt_result *r)
{
	const char *name = r->arg[0].text, *path = r->arg[2].text;
	uint32_t part = (uint32_t)r->arg[1].num;
	struct npmu_conn *conn = cli_connect();
	struct npmu_dataset *ds = open_ds(conn, name);
	struct npmu_dataset_version v = {.version = r->opt[GET_VERSION].num};
	int rc = v.version ? 0 : npmu_dataset_latest(ds, &v);
	uint64_t size = 0;
	if (rc == 0)
		rc = npmu_dataset_part_size(ds, v.version, part, &size);
	if (rc == NPMU_E_RANGE)
		out_warn("%s: version %llu has no part %u", name, (unsigned long long)v.version, part);
	if (rc != 0)
		ds_die(name, rc);
	uint64_t off = r->opt[GET_OFFSET].num;
	uint64_t len = r->opt[GET_LENGTH].seen ? r->opt[GET_LENGTH].num
					       : size > off ? size - off : 0;
	if (off > size || len > size - off) {
		out_warn("%s: bytes %llu..+%llu are outside part %u of version %llu (%llu bytes)", name,
			 (unsigned long long)off, (unsigned long long)len, part,
			 (unsigned long long)v.version, (unsigned long long)size);
		ds_die(name, NPMU_E_RANGE);
	}
	char *buf = malloc(len ? len : 1);
	if (!buf) {
		out_warn("%s: part %u of version %llu is %llu bytes: more than this process can hold",
			 name, part, (unsigned long long)v.version, (unsigned long long)len);
		cli_die(name, NPMU_E_NOMEM);
	}
	double t = cli_now();
	if ((rc = npmu_dataset_read(ds, v.version, part, off, buf, len)) != 0)
		ds_die(name, rc);
	int fd = cli_open_out(path);
	if (fd < 0 || cli_write_full(fd, buf, len) != 0 || (fd != STDOUT_FILENO && close(fd)))
		return cli_file_error(path);
	free(buf);
	char a[32];
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "dataset", name);
		out_json_u64(&j, "version", v.version);
		out_json_u64(&j, "part", part);
		out_json_u64(&j, "offset", off);
		out_json_u64(&j, "bytes", len);
		out_json_end(&j);
	} else if (fd != STDOUT_FILENO) {
		enum npmu_version_state st = NPMU_VERSION_PROTECTED;
		bool staged = npmu_dataset_state(ds, v.version, &st) == 0 &&
			      st != NPMU_VERSION_PROTECTED;
		out_line("got part %u of version %llu of %s (%s at offset %llu) into %s, %.3f s%s", part,
			 (unsigned long long)v.version, name, npmu__size_format(len, a, sizeof(a)),
			 (unsigned long long)off, path, cli_now() - t,
			 staged ? " (staged, not yet protected: parts waiting for an encoder are read "
				  "from their staging copies)"
				: "");
	}
	npmu_dataset_close(&ds);
	npmu_conn_delete(&conn);
	return 0;
}

/* dataset_rm -- dataset rm NAME: every part and the catalog. */
static int dataset_rm(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	int rc = npmu_dataset_delete(conn, name);
	if (rc == NPMU_E_BUSY)
		out_warn("%s is in use: a process is putting, committing or pinning", name);
	else if (rc == NPMU_E_NOENT)
		out_warn("%s: no such dataset (npmu dataset ls)", name);
	if (rc != 0)
		ds_die(name, rc);
	if (!out_json_mode())
		out_line("deleted dataset %s", name);
	npmu_conn_delete(&conn);
	return 0;
}

/* dataset_pin -- dataset pin NAME VERSION [--unpin]. */
static int dataset_pin(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	uint64_t version = r->arg[1].num;
	int on = !r->opt[PIN_UNPIN].seen;
	struct npmu_conn *conn = cli_connect();
	struct npmu_dataset *ds = open_ds(conn, name);
	int rc = npmu_dataset_pin(ds, version, on);
	if (rc == NPMU_E_NOENT)
		out_warn("%s: version %llu is not a kept complete version (npmu dataset stat %s)",
			 name, (unsigned long long)version, name);
	else if (rc == NPMU_E_LIMIT)
		out_warn("%s: as many versions are pinned as it allows: unpin one first", name);
	if (rc != 0)
		ds_die(name, rc);
	if (!out_json_mode())
		out_line("%s version %llu of %s", on ? "pinned" : "unpinned",
			 (unsigned long long)version, name);
	npmu_dataset_close(&ds);
	npmu_conn_delete(&conn);
	return 0;
}

/* dataset_wait -- dataset wait NAME [VERSION] [--timeout MS]. */
static int dataset_wait(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	int timeout = r->opt[WAIT_TIMEOUT].seen ? (int)r->opt[WAIT_TIMEOUT].num : 60000;
	struct npmu_conn *conn = cli_connect();
	struct npmu_dataset *ds = open_ds(conn, name);
	struct npmu_dataset_version v = {.version = r->opt[WAIT_VERSION].num};
	int rc = v.version ? 0 : npmu_dataset_latest(ds, &v);
	double t0 = cli_now();
	if (rc == 0)
		rc = npmu_dataset_wait(ds, v.version, timeout);
	if (rc == NPMU_E_TIMEDOUT)
		cli_refuse(name, rc, "%s: version %llu is still staged, not protected, after %d ms "
			   "(is npmu-encoder running?)", name, (unsigned long long)v.version, timeout);
	if (rc == NPMU_E_LOST)
		cli_refuse(name, rc, "%s: version %llu is lost: a part's staging copy cannot be read "
			   "and it was never protected (npmu dataset stat %s)", name,
			   (unsigned long long)v.version, name);
	if (rc != 0)
		ds_die(name, rc);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "dataset", name);
		out_json_u64(&j, "version", v.version);
		out_json_str(&j, "state", "protected");
		out_json_fixed(&j, "seconds", cli_now() - t0, 3);
		out_json_end(&j);
	} else {
		out_line("%s: version %llu protected (waited %.3f s)", name,
			 (unsigned long long)v.version, cli_now() - t0);
	}
	npmu_dataset_close(&ds);
	npmu_conn_delete(&conn);
	return 0;
}

/* cmd_dataset -- dataset ls|stat|get|rm|pin|wait. */
int cmd_dataset(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{"ls", &ls_cmd, dataset_ls},	 {"stat", &stat_cmd, dataset_stat},
		{"get", &get_cmd, dataset_get}, {"rm", &rm_cmd, dataset_rm},
		{"pin", &pin_cmd, dataset_pin}, {"wait", &wait_cmd, dataset_wait}, {NULL},
	};
	return cli_dispatch(usage_dataset, subs, argc, argv);
}
