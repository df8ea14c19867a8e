/* stripe.c -- npmu stripe put|get|stat|rebuild|rm: striped checkpoint sets over several units. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "verbs.h"
#include "size.h"
#include "stage.h"

static const char usage_stripe[] =
	"Usage: npmu stripe put NAME FILE [--k K] [--m M] [--n N] [--seg SIZE] [--keep V]\n"
	"                       [--capacity SIZE] [--mirror] [--placed]\n"
	"                       [--staged [--stage-unit HOST:PORT] [--stage-slots S]\n"
	"                                 [--stage-persistent] [--sync-when-full] [--wait MS]]\n"
	"       npmu stripe get NAME FILE [--version V]\n"
	"       npmu stripe stat NAME | rebuild NAME | rm NAME\n"
	"       npmu stripe wait NAME VERSION [--timeout MS] | protect NAME | versions NAME\n"
	"A striped set is n member regions NAME.s0.. on n distinct units. Each version of the\n"
	"checkpoint is cut into sub-segments of --seg bytes (default 1M), grouped k at a time\n"
	"(default 4) with m parity sub-segments (default 2; 1: XOR parity), parity rotating over\n"
	"the units; any k of each group restore it. --mirror keeps n full copies instead. The\n"
	"set's shape and capacity (default: the first checkpoint's size) are fixed by its first\n"
	"put; the last --keep versions (default 2) stay restorable.\n"
	"--placed leaves a version in the units' memory without flushing it: faster; it survives\n"
	"this process's and a unit process's death, and power loss of fewer units than m.\n"
	"With units down a put goes on over the members that remain while every group keeps k+1\n"
	"of its k+m sub-segments (k with --m 1: unprotected), and stat shows the version degraded;\n"
	"fewer: refused, naming the units. rebuild brings the set back to full redundancy, placing\n"
	"lost members on other units (with no spare unit, two members on one: reduced fault\n"
	"tolerance, logged). rm deletes every member; refused while a put or rebuild runs.\n"
	"--staged writes the version once, plain, to the set's staging region (NAME.stg, on\n"
	"--stage-unit or where the manager chooses; --stage-slots versions at once, default 2)\n"
	"and returns: staged, not yet protected. An encoder (npmu-encoder, or stripe protect)\n"
	"then encodes it into the members. Staging is placed unless --stage-persistent. With\n"
	"every slot waiting, the put waits --wait ms (default 60000) for an encoder, or with\n"
	"--sync-when-full puts synchronously. wait returns once a version is protected.\n";

enum { PUT_K, PUT_M, PUT_N, PUT_SEG, PUT_KEEP, PUT_CAPACITY, PUT_MIRROR, PUT_PLACED, PUT_STAGED,
       PUT_STAGE_UNIT, PUT_STAGE_SLOTS, PUT_STAGE_PERSISTENT, PUT_SYNC_WHEN_FULL, PUT_WAIT };
static const struct opt_spec put_opts[] = {
	[PUT_K] = {"k", 'k', OPT_UINT, 0, UINT32_MAX},
	[PUT_M] = {"m", 'm', OPT_UINT, 0, UINT32_MAX},
	[PUT_N] = {"n", 'n', OPT_UINT, 0, UINT32_MAX},
	[PUT_SEG] = {"seg", 's', OPT_SIZE},
	[PUT_KEEP] = {"keep", 'K', OPT_UINT, 0, UINT32_MAX},
	[PUT_CAPACITY] = {"capacity", 'c', OPT_SIZE},
	[PUT_MIRROR] = {"mirror", 'M', OPT_FLAG},
	[PUT_PLACED] = {"placed", 'p', OPT_FLAG},
	[PUT_STAGED] = {"staged", 'S', OPT_FLAG},
	[PUT_STAGE_UNIT] = {"stage-unit", 0, OPT_STRING},
	[PUT_STAGE_SLOTS] = {"stage-slots", 0, OPT_UINT, 1, 8},
	[PUT_STAGE_PERSISTENT] = {"stage-persistent", 0, OPT_FLAG},
	[PUT_SYNC_WHEN_FULL] = {"sync-when-full", 0, OPT_FLAG},
	[PUT_WAIT] = {"wait", 0, OPT_UINT, 1, INT32_MAX},
	{NULL},
};
enum { GET_VERSION };
static const struct opt_spec get_opts[] = {[GET_VERSION] = {"version", 'v', OPT_UINT}, {NULL}};
static const struct opt_spec name_file_args[] = {
	{"NAME", 0, OPT_STRING}, {"FILE", 0, OPT_STRING}, {NULL}};
static const struct opt_spec name_args[] = {{"NAME", 0, OPT_STRING}, {NULL}};

static const struct opt_cmd put_cmd = {"npmu stripe put", usage_stripe, put_opts, name_file_args};
static const struct opt_cmd get_cmd = {"npmu stripe get", usage_stripe, get_opts, name_file_args};
static const struct opt_cmd stat_cmd = {"npmu stripe stat", usage_stripe, NULL, name_args};
static const struct opt_cmd rebuild_cmd = {"npmu stripe rebuild", usage_stripe, NULL, name_args};
static const struct opt_cmd rm_cmd = {"npmu stripe rm", usage_stripe, NULL, name_args};

/* progress -- what a progress bar shows: the verb, and when it started. */
struct progress {
	const char *what;
	double start;
};

/* stripe_progress -- the progress bar of stripe put/get/rebuild (arg: a struct progress). */
static void stripe_progress(uint64_t done, uint64_t total, void *arg)
{
	const struct progress *p = arg;
	out_progress(p->what, done, total, cli_now() - p->start, done == total);
}

/* zero_given -- a number given as 0 (to the library, "the default"): said; exit status 1. */
static int zero_given(const struct opt_spec *opts, const struct opt_result *r)
{
	for (int i = 0; opts[i].name; i++)
		if ((opts[i].kind == OPT_UINT || opts[i].kind == OPT_SIZE) && r->opt[i].seen &&
		    r->opt[i].num == 0) {
			out_warn("--%s 0: invalid argument", opts[i].name);
			return 1;
		}
	return 0;
}

/* print_report -- what a restore or a rebuild found. */
static void print_report(const char *verb, const char *name, const struct npmu_stripe_report *r,
			 int rc)
{
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "set", name);
		out_json_bool(&j, verb, rc == 0);
		out_json_u64(&j, "version", r->version);
		out_json_u64(&j, "newest", r->newest);
		out_json_u64(&j, "older_ok", r->older_ok);
		out_json_u64(&j, "lost", r->lost);
		out_json_u64(&j, "bad", r->bad);
		out_json_u64(&j, "repaired", r->repaired);
		out_json_str(&j, "which", r->which);
		out_json_bool(&j, "staged", r->staged);
		out_json_end(&j);
		return;
	}
	if (r->staged)
		out_line("%s: %s", name, r->which);
	else if (r->lost || r->bad || r->which[0])
		(rc ? out_note : out_line)("%s: %u member(s) lost, %u sub-segment(s) failed their "
					   "checksum%s%s", name, r->lost, r->bad,
					   r->which[0] ? ": " : "", r->which);
	if (rc == NPMU_E_LOST && r->older_ok)
		out_warn("version %llu of %s can still be restored: npmu stripe get --version %llu "
			 "%s FILE", (unsigned long long)r->older_ok, name,
			 (unsigned long long)r->older_ok, name);
}

/* read_all -- the whole of fd (st: its stat) into a buffer to free; 0, or -1 (errno set). */
static int read_all(int fd, const struct stat *st, char **data, uint64_t *len)
{
	uint64_t cap = S_ISREG(st->st_mode) && st->st_size > 0 ? (uint64_t)st->st_size : 1 << 20;
	char *buf = malloc(cap);
	ssize_t n = 0;
	*len = 0;
	while (buf && (n = cli_read_full(fd, buf + *len, cap - *len)) > 0) {
		*len += (uint64_t)n;
		if (*len < cap)
			continue;
		char *p = realloc(buf, cap * 2);
		if (!p)
			break;
		buf = p;
		cap *= 2;
	}
	if (!buf)
		cli_die("put", NPMU_E_NOMEM);
	if (n < 0) {
		free(buf);
		return -1;
	}
	*data = buf;
	return 0;
}

/* What a put says it did. */
struct put_said {
	const char *path, *name;
	uint64_t version, bytes;
	double seconds;
	enum npmu_durability durability;
	uint32_t holders, n; /* members holding the version's manifest, of n (0, 0: unknown) */
};

/* put_holders -- how many members took the version just put (fewer than n: a degraded put). */
static void put_holders(struct npmu_conn *conn, struct put_said *ps)
{
	struct npmu_stripe_info *si = malloc(sizeof(*si));
	if (si && npmu_stripe_stat(conn, ps->name, si) == 0) {
		ps->n = si->n;
		for (uint32_t i = 0; i < si->nversions; i++)
			if (si->versions[i].version == ps->version)
				ps->holders = si->versions[i].members;
	}
	free(si);
}

/* print_put -- a put's outcome: where its version was committed, and how durably. */
static void print_put(const struct put_said *ps)
{
	const char *dur = ps->durability == NPMU_PLACED ? "placed" : "persistent";
	bool degraded = ps->n && ps->holders < ps->n;
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "set", ps->name);
		out_json_u64(&j, "version", ps->version);
		out_json_u64(&j, "bytes", ps->bytes);
		out_json_str(&j, "durability", dur);
		out_json_u64(&j, "members", ps->holders);
		out_json_u64(&j, "n", ps->n);
		out_json_bool(&j, "degraded", degraded);
		out_json_fixed(&j, "seconds", ps->seconds, 3);
		out_json_end(&j);
		return;
	}
	char a[32], where[64] = "every unit";
	if (degraded)
		snprintf(where, sizeof(where), "%u of %u units (DEGRADED)", ps->holders, ps->n);
	out_line("put %s into %s: version %llu, %s, committed on %s, %s, %.3f s", ps->path, ps->name,
		 (unsigned long long)ps->version, npmu__size_format(ps->bytes, a, sizeof(a)), where,
		 dur, ps->seconds);
	if (degraded)
		out_note("%s: run npmu stripe rebuild %s once the units are back (or to place the "
			 "missing members elsewhere)", ps->name, ps->name);
}

/* stripe_put -- stripe put NAME FILE [--k K] ...: FILE as the set's next version. */
static int stripe_put(const struct opt_result *r)
{
	const char *name = r->arg[0].text, *path = r->arg[1].text;
	if (zero_given(put_opts, r))
		return 1;
	struct npmu_stripe_cfg sc = {
		.k = (uint32_t)r->opt[PUT_K].num, .m = (uint32_t)r->opt[PUT_M].num,
		.n = (uint32_t)r->opt[PUT_N].num, .seg_size = r->opt[PUT_SEG].num,
		.keep = (uint32_t)r->opt[PUT_KEEP].num, .capacity = r->opt[PUT_CAPACITY].num,
		.mirror = r->opt[PUT_MIRROR].seen,
		.durability = r->opt[PUT_PLACED].seen ? NPMU_PLACED : NPMU_PERSISTENT,
	};
	struct npmu_conn *conn = cli_connect();
	struct stat st;
	char *buf;
	uint64_t len, v = 0;
	int fd = cli_open_in(path, &st);
	if (fd < 0 || read_all(fd, &st, &buf, &len) != 0)
		return cli_file_error(path);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r->opt[PUT_STAGED].seen) {
		struct npmu_stage_cfg stc = {
			.unit = r->opt[PUT_STAGE_UNIT].text,
			.slots = (uint32_t)r->opt[PUT_STAGE_SLOTS].num,
			.durability = r->opt[PUT_STAGE_PERSISTENT].seen ? NPMU_PERSISTENT : NPMU_PLACED,
			.full = r->opt[PUT_SYNC_WHEN_FULL].seen ? NPMU_STAGE_SYNC : NPMU_STAGE_WAIT,
			.wait_ms = (int)r->opt[PUT_WAIT].num};
		int status = stage_put(conn, name, path, buf, len, &sc, &stc);
		free(buf);
		npmu_conn_delete(&conn);
		return status;
	}
	if (r->opt[PUT_STAGE_UNIT].seen || r->opt[PUT_STAGE_SLOTS].seen ||
	    r->opt[PUT_STAGE_PERSISTENT].seen || r->opt[PUT_SYNC_WHEN_FULL].seen ||
	    r->opt[PUT_WAIT].seen) {
		out_warn("npmu stripe put: --stage-unit, --stage-slots, --stage-persistent, "
			 "--sync-when-full and --wait go with --staged");
		return 2;
	}
	struct progress p = {"put", cli_now()};
	int rc = npmu_stripe_put(conn, name, buf, len, &sc, stripe_progress, &p, &v);
	free(buf);
	if (rc == NPMU_E_NOUNIT)
		out_warn("the set needs more units than the manager has (npmu unit ls)");
	if (rc != 0)
		cli_die(name, rc);
	struct put_said said = {path, name, v, len, cli_now() - p.start, sc.durability, 0, 0};
	put_holders(conn, &said);
	print_put(&said);
	npmu_conn_delete(&conn);
	return 0;
}

/* stripe_get -- stripe get NAME FILE [--version V]: restore a version into FILE. */
static int stripe_get(const struct opt_result *r)
{
	const char *name = r->arg[0].text, *path = r->arg[1].text;
	uint64_t version = r->opt[GET_VERSION].num, len = 0;
	if (zero_given(get_opts, r))
		return 1;
	struct npmu_conn *conn = cli_connect();
	struct progress p = {"get", cli_now()};
	struct npmu_stripe_report rep;
	void *data = NULL;
	int rc = npmu_stripe_get(conn, name, version, &data, &len, stripe_progress, &p, &rep);
	print_report("restored", name, &rep, rc);
	if (rc != 0)
		cli_die(name, rc);
	int fd = cli_open_out(path);
	if (fd < 0 || cli_write_full(fd, data, len) != 0 || (fd != STDOUT_FILENO && close(fd)))
		return cli_file_error(path);
	free(data);
	char a[32];
	if (out_json_mode() || fd == STDOUT_FILENO) {
		npmu_conn_delete(&conn);
		return 0;
	}
	if (rep.version < rep.newest && !version)
		out_line("the newest version, %llu, cannot be restored (%s): restored the newest "
			 "that can be", (unsigned long long)rep.newest, rep.which);
	out_line("got version %llu of %s (%s%s) into %s, %.3f s", (unsigned long long)rep.version,
		 name, npmu__size_format(len, a, sizeof(a)),
		 rep.repaired ? ", rebuilt from parity" : "", path, cli_now() - p.start);
	npmu_conn_delete(&conn);
	return 0;
}

/* stripe_rebuild -- stripe rebuild NAME: regenerate lost or corrupt sub-segments. */
static int stripe_rebuild(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	struct progress p = {"rebuild", cli_now()};
	struct npmu_stripe_report rep;
	int rc = npmu_stripe_rebuild(conn, name, stripe_progress, &p, &rep);
	print_report("rebuilt", name, &rep, rc);
	if (rc != 0)
		cli_die(name, rc);
	if (!out_json_mode())
		out_line("%s: %u sub-segment(s) written back; every member healthy", name,
			 rep.repaired);
	npmu_conn_delete(&conn);
	return 0;
}

/* member_state -- a member's health, for JSON (short) or for people. */
static const char *member_state(enum npmu_member_state state, bool people)
{
	if (state == NPMU_MEMBER_OK)
		return "ok";
	if (state == NPMU_MEMBER_LOST)
		return people ? "LOST (unreachable or missing)" : "lost";
	return people ? "CORRUPT header" : "corrupt";
}

/* set_degraded -- whether a member is unhealthy or lacks the newest version. */
static bool set_degraded(const struct npmu_stripe_info *si)
{
	bool bad = si->nversions && si->versions[0].members < si->n;
	for (uint32_t i = 0; i < si->n; i++)
		bad |= si->member[i].state != NPMU_MEMBER_OK;
	return bad;
}

/* stat_json -- a set's layout, versions and members into the JSON object j (left open). */
static void stat_json(struct out_json *jp, const char *name, const struct npmu_stripe_info *si)
{
	struct out_json j = *jp;
	out_json_object(&j, NULL);
	out_json_str(&j, "set", name);
	out_json_u64(&j, "k", si->k);
	out_json_u64(&j, "m", si->m);
	out_json_u64(&j, "n", si->n);
	out_json_u64(&j, "seg_size", si->seg_size);
	out_json_u64(&j, "keep", si->keep);
	out_json_u64(&j, "capacity", si->capacity);
	out_json_u64(&j, "data_offset", si->newest_data_off);
	out_json_bool(&j, "degraded", set_degraded(si));
	out_json_array(&j, "versions");
	for (uint32_t i = 0; i < si->nversions; i++) {
		out_json_object(&j, NULL);
		out_json_u64(&j, "version", si->versions[i].version);
		out_json_u64(&j, "length", si->versions[i].length);
		out_json_u64(&j, "members", si->versions[i].members);
		out_json_bool(&j, "degraded", si->versions[i].members < si->n);
		out_json_end(&j);
	}
	out_json_end(&j);
	out_json_array(&j, "members");
	for (uint32_t i = 0; i < si->n; i++) {
		out_json_object(&j, NULL);
		out_json_str(&j, "region", si->member[i].region);
		out_json_str(&j, "unit", si->member[i].unit);
		out_json_str(&j, "state", member_state(si->member[i].state, false));
		out_json_u64(&j, "manifests", si->member[i].manifests);
		out_json_end(&j);
	}
	out_json_end(&j);
	*jp = j;
}

/* stat_lines -- a set's layout and the versions its members hold, for people. */
static void stat_lines(const char *name, const struct npmu_stripe_info *si)
{
	char a[32], b[32];
	out_line("%s: %u+%u over %u units (%s), sub-segments of %s, capacity %s, %u version(s) "
		 "kept", name, si->k, si->m, si->n,
		 si->k == 1 ? "mirrored copies" : si->m == 1 ? "XOR parity" : "Reed-Solomon",
		 npmu__size_format(si->seg_size, a, sizeof(a)),
		 npmu__size_format(si->capacity, b, sizeof(b)), si->keep);
	for (uint32_t i = 0; i < si->nversions; i++)
		out_line("  version %llu: %s, manifest on %u of %u members%s",
			 (unsigned long long)si->versions[i].version,
			 npmu__size_format(si->versions[i].length, a, sizeof(a)),
			 si->versions[i].members, si->n,
			 si->versions[i].members < si->n ? " (DEGRADED: rebuild the set)" : "");
}

/* stat_members -- each member of a set and its health, for people. */
static void stat_members(const struct npmu_stripe_info *si)
{
	for (uint32_t i = 0; i < si->n; i++)
		out_line("  %-24s %-24s %s", si->member[i].region, si->member[i].unit,
			 member_state(si->member[i].state, true));
}

/* stripe_stat -- stripe stat NAME: layout, versions (those the members hold, then those staged
 * and not protected), and each member's health; a set not made yet shows its staged ones. */
static int stripe_stat(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	struct npmu_stripe_info si;
	struct npmu_version_info *v = NULL;
	size_t nv = 0;
	int rc = npmu_stripe_stat(conn, name, &si);
	int vrc = npmu_stripe_versions(conn, name, &v, &nv);
	if (rc != 0 && (rc != NPMU_E_NOENT || vrc != 0))
		cli_die(name, rc);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		if (rc == 0)
			stat_json(&j, name, &si);
		else
			out_json_object(&j, NULL);
		stage_print_versions(v, nv, &j, "states");
		out_json_end(&j);
	} else {
		if (rc == 0)
			stat_lines(name, &si);
		else
			out_line("%s: no member yet; staged versions only:", name);
		size_t staged = 0; /* the versions not in the set: staged, superseded, lost */
		for (size_t i = 0; vrc == 0 && i < nv; i++)
			if (v[i].state != NPMU_VERSION_PROTECTED &&
			    v[i].state != NPMU_VERSION_PARTIAL)
				v[staged++] = v[i];
		stage_print_versions(v, staged, NULL, NULL);
		if (rc == 0)
			stat_members(&si);
	}
	free(v);
	npmu_conn_delete(&conn);
	return 0;
}

/* stripe_rm -- stripe rm NAME: delete every member (not while a put or rebuild runs). */
static int stripe_rm(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	int rc = npmu_stripe_delete(conn, name);
	if (rc == NPMU_E_BUSY)
		cli_refuse(name, rc, "%s: a put or a rebuild is writing the set: nothing deleted (try "
			   "again once it is done)", name);
	if (rc == NPMU_E_UNREACHABLE)
		cli_refuse(name, rc, "%s: members on units that do not answer were left (named "
			   "above): run npmu stripe rm %s again once they are back", name, name);
	if (rc != 0)
		cli_die(name, rc);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "deleted", name);
		out_json_end(&j);
	} else {
		out_line("deleted set %s", name);
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* cmd_stripe -- stripe put|get|stat|rebuild|rm. */
int cmd_stripe(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{"put", &put_cmd, stripe_put},	 {"get", &get_cmd, stripe_get},
		{"stat", &stat_cmd, stripe_stat}, {"rebuild", &rebuild_cmd, stripe_rebuild},
		{"rm", &rm_cmd, stripe_rm},
		{"wait", &stage_wait_cmd, stage_wait}, {"protect", &stage_protect_cmd, stage_protect},
		{"versions", &stage_versions_cmd, stage_versions}, {NULL},
	};
	return cli_dispatch(usage_stripe, subs, argc, argv);
}
