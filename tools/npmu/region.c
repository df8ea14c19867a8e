/* region.c -- npmu region create|grow|ls|stat|rm|revoke|resync: region administration. */
#include <stdlib.h>

#include "cli.h"
#include "output.h"
#include "verbs.h"
#include "size.h"

static const char usage_region[] =
	"Usage: npmu region create NAME SIZE [--unit HOST:PORT] [--mirror [--mirror-unit HOST:PORT]]\n"
	"       npmu region grow NAME SIZE | ls | stat NAME | rm NAME | revoke NAME | resync NAME\n"
	"Region names are 1-63 characters of A-Z a-z 0-9 . _ -; sizes take K, M, G, T suffixes.\n"
	"A mirrored region (--mirror, needs pmmd with two units) has a primary copy and a mirror\n"
	"copy on units of distinct fault domains: writes go to both; reads fall back from one to\n"
	"the other; a copy that missed writes is resynced by the writer once its unit is back\n"
	"(`region resync` does it now, and takes the region's write right from any other writer).\n";

enum { CREATE_UNIT, CREATE_MIRROR, CREATE_MIRROR_UNIT };
static const struct opt_spec create_opts[] = {
	[CREATE_UNIT] = {"unit", 'u', OPT_STRING},
	[CREATE_MIRROR] = {"mirror", 'm', OPT_FLAG},
	[CREATE_MIRROR_UNIT] = {"mirror-unit", 'M', OPT_STRING},
	{NULL},
};
static const struct opt_spec name_size_args[] = {
	{"NAME", 0, OPT_STRING}, {"SIZE", 0, OPT_SIZE, 1, 0}, {NULL}};
static const struct opt_spec name_args[] = {{"NAME", 0, OPT_STRING}, {NULL}};

static const struct opt_cmd create_cmd = {"npmu region create", usage_region, create_opts,
					  name_size_args};
static const struct opt_cmd grow_cmd = {"npmu region grow", usage_region, NULL, name_size_args};
static const struct opt_cmd ls_cmd = {"npmu region ls", usage_region, NULL, NULL};
static const struct opt_cmd stat_cmd = {"npmu region stat", usage_region, NULL, name_args};
static const struct opt_cmd rm_cmd = {"npmu region rm", usage_region, NULL, name_args};
static const struct opt_cmd revoke_cmd = {"npmu region revoke", usage_region, NULL, name_args};
static const struct opt_cmd resync_cmd = {"npmu region resync", usage_region, NULL, name_args};

static const struct out_col info_cols[] = {
	{"NAME", -32, 0},   {"ID", 6, 1},     {"SIZE", 12, 1},
	{"EXTENTS", 8, 1}, {"RIGHTS", 7, 1}, {"COPIES", 6, 1}, {"UNITS", 0, 2},
};

/* where -- the units holding region name into *place; count 0 when the manager cannot say
 * (one from before WHERE) or the region went meanwhile. */
static void where(struct npmu_conn *conn, const char *name, struct npmu_region_place *place)
{
	if (npmu_region_where(conn, name, place) != 0)
		place->count = 0;
}

/* info_json -- a region's members, in the open JSON object (its units, when known). */
static void info_json(struct out_json *j, const struct npmu_region_info *i,
		      const struct npmu_region_place *place)
{
	out_json_str(j, "name", i->name);
	out_json_u64(j, "id", i->id);
	out_json_u64(j, "size", i->size);
	out_json_u64(j, "extents", i->extents);
	out_json_u64(j, "rights", i->rights);
	out_json_u64(j, "copies", i->copies);
	if (!place->count)
		return;
	out_json_array(j, "units");
	for (uint32_t k = 0; k < place->count; k++)
		out_json_str(j, NULL, place->unit[k]);
	out_json_end(j);
}

/* info_row -- a region as a table row, after the titles if header; "?" for units unknown. */
static void info_row(const struct npmu_region_info *i, const struct npmu_region_place *place,
		     bool header)
{
	char id[24], sz[32], ext[16], rights[16], copies[16], units[2 * 128 + 2] = "?";
	snprintf(id, sizeof(id), "%llu", (unsigned long long)i->id);
	snprintf(ext, sizeof(ext), "%u", i->extents);
	snprintf(rights, sizeof(rights), "%u", i->rights);
	snprintf(copies, sizeof(copies), "%u", i->copies);
	if (place->count == 1)
		snprintf(units, sizeof(units), "%s", place->unit[0]);
	else if (place->count == 2)
		snprintf(units, sizeof(units), "%s,%s", place->unit[0], place->unit[1]);
	const char *cells[] = {i->name, id, npmu__size_format(i->size, sz, sizeof(sz)), ext, rights,
			       copies, units};
	if (header)
		out_table_row(info_cols, 7, NULL);
	out_table_row(info_cols, 7, cells);
}

/* print_info -- one region and where it is, as a table or a JSON object. */
static void print_info(struct npmu_conn *conn, const struct npmu_region_info *i)
{
	struct npmu_region_place place;
	where(conn, i->name, &place);
	if (!out_json_mode()) {
		info_row(i, &place, true);
		return;
	}
	struct out_json j = out_json_start(stdout);
	out_json_object(&j, NULL);
	info_json(&j, i, &place);
	out_json_end(&j);
}

/* copy_state -- a copy's state, for JSON (short) or for people. */
static const char *copy_state(enum npmu_copy_state s, bool people)
{
	if (s == NPMU_COPY_IN_SYNC)
		return people ? "in sync" : "in-sync";
	if (s == NPMU_COPY_STALE)
		return people ? "stale (degraded: missed writes)" : "stale";
	return "resyncing";
}

static const char *const copy_role[2] = {"primary", "mirror"};

/* mirror_json -- a mirrored region's copies, as the member "mirror" of the open object. */
static void mirror_json(struct out_json *j, const struct npmu_mirror_info *m)
{
	out_json_object(j, "mirror");
	out_json_u64(j, "generation", m->generation);
	out_json_bool(j, "repaired", m->repaired);
	out_json_array(j, "copies");
	for (uint32_t c = 0; c < m->ncopies && c < 2; c++) {
		out_json_object(j, NULL);
		out_json_str(j, "role", copy_role[c]);
		out_json_str(j, "unit", m->copy[c].unit);
		out_json_str(j, "state", copy_state(m->copy[c].state, false));
		out_json_bool(j, "reachable", m->copy[c].reachable);
		out_json_u64(j, "resync_done", m->copy[c].resync_done);
		out_json_end(j);
	}
	out_json_end(j);
	out_json_end(j);
}

/* mirror_lines -- a mirrored region's copies, one line each, for people. */
static void mirror_lines(const struct npmu_mirror_info *m)
{
	out_line("mirrored, metadata generation %llu%s", (unsigned long long)m->generation,
		 m->repaired ? " (the copies' metadata disagreed: the newer was written back)"
			     : "");
	for (uint32_t c = 0; c < m->ncopies && c < 2; c++) {
		char a[32], b[32], progress[96] = "";
		uint64_t done = m->copy[c].resync_done;
		if (m->copy[c].state == NPMU_COPY_RESYNCING)
			snprintf(progress, sizeof(progress), " %llu%% (%s of %s)",
				 (unsigned long long)(m->size ? done * 100 / m->size : 0),
				 npmu__size_format(done, a, sizeof(a)),
				 npmu__size_format(m->size, b, sizeof(b)));
		out_line("  %-8s %-24s %s%s%s", copy_role[c], m->copy[c].unit,
			 copy_state(m->copy[c].state, true), progress,
			 m->copy[c].reachable ? "" : ", unit unreachable");
	}
}

/* make -- region create, or region grow (which has none of create's options). */
static int make(const struct opt_result *r, bool create)
{
	struct npmu_region_opts ro = {
		.unit = r->opt[CREATE_UNIT].text,
		.mirror = r->opt[CREATE_MIRROR].seen,
		.mirror_unit = r->opt[CREATE_MIRROR_UNIT].text,
	};
	if (ro.mirror_unit && !ro.mirror) {
		out_warn("region create: --mirror-unit needs --mirror");
		fputs(usage_region, stderr);
		return 2;
	}
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	struct npmu_region_info info;
	int rc = create ? npmu_region_create_ex(conn, name, r->arg[1].num, &ro, &info)
			: npmu_region_resize(conn, name, r->arg[1].num, &info);
	if (rc == NPMU_E_NOUNIT && ro.mirror && !ro.unit && !ro.mirror_unit)
		out_warn("a mirrored region needs a manager of two units or more "
			 "(pmmd --unit A --unit B)");
	if (rc != 0)
		cli_die(name, rc);
	print_info(conn, &info);
	npmu_conn_delete(&conn);
	return 0;
}

/* region_create -- region create NAME SIZE [--unit U] [--mirror [--mirror-unit U]]. */
static int region_create(const struct opt_result *r)
{
	return make(r, true);
}

/* region_grow -- region grow NAME SIZE. */
static int region_grow(const struct opt_result *r)
{
	return make(r, false); /* (grow has no options: r's are all unset) */
}

/* region_stat -- region stat NAME: the region, and each copy of a mirrored one. */
static int region_stat(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	struct npmu_region_info info;
	struct npmu_mirror_info mi;
	int rc = npmu_region_stat(conn, name, &info);
	if (rc != 0)
		cli_die(name, rc);
	bool mirrored = info.copies > 1;
	if (mirrored && (rc = npmu_region_mirror_stat(conn, name, &mi)) != 0)
		cli_die(name, rc);
	struct npmu_region_place place;
	where(conn, name, &place);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		info_json(&j, &info, &place);
		if (mirrored)
			mirror_json(&j, &mi);
		out_json_end(&j);
	} else {
		info_row(&info, &place, true);
		if (mirrored)
			mirror_lines(&mi);
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* resync_progress -- the progress bar of region resync (arg: its start time). */
static void resync_progress(uint64_t done, uint64_t total, void *arg)
{
	out_progress("resync", done, total, cli_now() - *(double *)arg, done == total);
}

/* region_resync -- region resync NAME: bring a mirrored region's stale copy up to date now. */
static int region_resync(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	struct npmu_region *reg;
	int rc = npmu_region_open(conn, name, NPMU_ACCESS_READ_WRITE, &reg);
	if (rc != 0)
		cli_die(name, rc);
	double start = cli_now();
	if ((rc = npmu_region_resync(reg, resync_progress, &start)) != 0)
		cli_die(name, rc);
	npmu_region_close(&reg);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "region", name);
		out_json_bool(&j, "in_sync", true);
		out_json_fixed(&j, "seconds", cli_now() - start, 3);
		out_json_end(&j);
	} else {
		out_line("%s: every copy in sync (%.3f s)", name, cli_now() - start);
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* region_revoke -- region revoke NAME: every open right to it dies at once. */
static int region_revoke(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	int rc = npmu_region_revoke(conn, name);
	if (rc < 0)
		cli_die(name, rc);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "region", name);
		out_json_int(&j, "revoked", rc);
		out_json_end(&j);
	} else {
		out_line("%s: %d right(s) revoked", name, rc);
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* region_rm -- region rm NAME. */
static int region_rm(const struct opt_result *r)
{
	const char *name = r->arg[0].text;
	struct npmu_conn *conn = cli_connect();
	int rc = npmu_region_delete(conn, name);
	if (rc != 0)
		cli_die(name, rc);
	if (out_json_mode()) {
		struct out_json j = out_json_start(stdout);
		out_json_object(&j, NULL);
		out_json_str(&j, "deleted", name);
		out_json_end(&j);
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* region_ls -- region ls: a table, or a JSON array. */
static int region_ls(const struct opt_result *r)
{
	(void)r;
	struct npmu_conn *conn = cli_connect();
	struct npmu_region_info *list;
	size_t n;
	int rc = npmu_region_list(conn, &list, &n);
	if (rc != 0)
		cli_die("list", rc);
	struct out_json j = out_json_start(stdout);
	if (out_json_mode())
		out_json_array(&j, NULL);
	for (size_t i = 0; i < n; i++) {
		struct npmu_region_place place;
		where(conn, list[i].name, &place);
		if (!out_json_mode()) {
			info_row(&list[i], &place, i == 0);
			continue;
		}
		out_json_object(&j, NULL);
		info_json(&j, &list[i], &place);
		out_json_end(&j);
	}
	if (out_json_mode())
		out_json_end(&j);
	else if (n == 0)
		out_line("no regions");
	free(list);
	npmu_conn_delete(&conn);
	return 0;
}

/* cmd_region -- region create|grow|ls|stat|rm|revoke|resync. */
int cmd_region(int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{"create", &create_cmd, region_create}, {"grow", &grow_cmd, region_grow},
		{"ls", &ls_cmd, region_ls},		{"stat", &stat_cmd, region_stat},
		{"rm", &rm_cmd, region_rm},		{"revoke", &revoke_cmd, region_revoke},
		{"resync", &resync_cmd, region_resync}, {NULL},
	};
	return cli_dispatch(usage_region, subs, argc, argv);
}
