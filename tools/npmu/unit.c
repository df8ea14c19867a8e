/* unit.c -- npmu unit ls: the manager's units, their state and capacity; npmu unit stat: a
 * daemon's counters, read from its metrics endpoint. */
#include <math.h>
#include <stdlib.h>

#include "cli.h"
#include "output.h"
#include "scrape.h"
#include "verbs.h"
#include "size.h"

static const char usage_unit[] =
	"Usage: npmu unit ls | stat METRICS\n"
	"  ls            the manager's units: address, state, capacity, free space and regions\n"
	"  stat METRICS  a daemon's counters and gauges (npmud's or pmmd's), read from the metrics\n"
	"                endpoint it serves with --metrics HOST:PORT: METRICS is that HOST:PORT.\n"
	"                They are its Prometheus metrics (README: Operating), one per line.\n";

static const struct opt_cmd ls_cmd = {"npmu unit ls", usage_unit, NULL, NULL};
static const struct opt_spec stat_args[] = {{"METRICS", 0, OPT_STRING}, {NULL}};
static const struct opt_cmd stat_cmd = {"npmu unit stat", usage_unit, NULL, stat_args};

static const struct out_col stat_cols[] = {{"METRIC", -40, 0}, {"LABELS", -40, 1}, {"VALUE", 0, 1}};

/* number -- a sample's value as text: whole numbers exactly, others as %g. */
static const char *number(double v, char *buf, size_t len)
{
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%g", v);
	return buf;
}

/* unit_stat -- unit stat METRICS: every sample, as a table or a JSON array. */
static int unit_stat(const struct opt_result *r)
{
	struct scrape sc;
	char err[512], num[64];
	if (scrape_fetch(r->arg[0].text, &sc, err, sizeof(err)) != 0) {
		out_warn("unit stat: %s", err);
		return 1;
	}
	struct out_json j = out_json_start(stdout);
	if (out_json_mode())
		out_json_array(&j, NULL);
	else
		out_table_row(stat_cols, 3, NULL);
	for (size_t i = 0; i < sc.n; i++) {
		const struct scrape_sample *s = &sc.s[i];
		if (out_json_mode()) {
			out_json_object(&j, NULL);
			out_json_str(&j, "metric", s->name);
			out_json_str(&j, "labels", s->labels);
			out_json_str(&j, "value", number(s->value, num, sizeof(num)));
			out_json_end(&j);
		} else {
			const char *cells[] = {s->name, s->labels, number(s->value, num, sizeof(num))};
			out_table_row(stat_cols, 3, cells);
		}
	}
	if (out_json_mode())
		out_json_end(&j);
	scrape_free(&sc);
	return 0;
}

static const struct out_col unit_cols[] = {
	{"UNIT", -24, 0}, {"STATE", -5, 1},   {"SIZE", 12, 1},
	{"FREE", 12, 1},  {"REGIONS", 8, 1}, {"DOMAIN", 0, 2},
};

/* unit_json -- one unit, as an object of the open JSON array. */
static void unit_json(struct out_json *j, const struct npmu_unit_info *u)
{
	out_json_object(j, NULL);
	out_json_str(j, "unit", u->addr);
	out_json_bool(j, "up", u->up);
	out_json_u64(j, "bytes", u->bytes);
	out_json_u64(j, "free", u->free);
	out_json_u64(j, "regions", u->regions);
	out_json_str(j, "domain", u->domain);
	out_json_end(j);
}

/* unit_row -- one unit, as a table row. */
static void unit_row(const struct npmu_unit_info *u)
{
	char a[32], b[32], regions[16];
	snprintf(regions, sizeof(regions), "%u", u->regions);
	const char *cells[] = {u->addr,
			       u->up ? "up" : "DOWN",
			       u->up ? npmu__size_format(u->bytes, a, sizeof(a)) : "-",
			       u->up ? npmu__size_format(u->free, b, sizeof(b)) : "-",
			       regions,
			       u->domain[0] ? u->domain : "-"};
	out_table_row(unit_cols, 6, cells);
}

/* unit_ls -- unit ls: a table, or a JSON array. */
static int unit_ls(const struct opt_result *r)
{
	(void)r;
	struct npmu_conn *conn = cli_connect();
	struct npmu_unit_info *list;
	size_t n;
	int rc = npmu_unit_list(conn, &list, &n);
	if (rc != 0)
		cli_die("unit ls", rc);
	struct out_json j = out_json_start(stdout);
	if (out_json_mode())
		out_json_array(&j, NULL);
	else
		out_table_row(unit_cols, 6, NULL);
	for (size_t i = 0; i < n; i++) {
		if (out_json_mode())
			unit_json(&j, &list[i]);
		else
			unit_row(&list[i]);
	}
	if (out_json_mode())
		out_json_end(&j);
	free(list);
	npmu_conn_delete(&conn);
	return 0;
}

/* cmd_unit -- unit ls | stat. */
int cmd_unit(int argc, char **argv)
{
	static const struct cli_sub subs[] = {{"ls", &ls_cmd, unit_ls},
					      {"stat", &stat_cmd, unit_stat}, {NULL}};
	return cli_dispatch(usage_unit, subs, argc, argv);
}
