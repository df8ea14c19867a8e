/* top.c -- npmu top: a live view of the manager's units, its regions (and where they are) and,
 * from the manager's metrics endpoint, its leases and request rate, refreshed every interval. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "scrape.h"
#include "size.h"
#include "verbs.h"

static const char usage_top[] =
	"Usage: npmu top [--interval SECONDS] [--count N] [--metrics HOST:PORT]\n"
	"A live view, refreshed every --interval seconds (default 2) until interrupted, or --count\n"
	"times: the manager's units (state, capacity, free), its regions (size, rights, copies and\n"
	"the units holding them) and, with --metrics (the manager's metrics endpoint, as given to\n"
	"its --metrics), writers' leases held and lapsed, takeovers, clients and requests a second.\n";

enum { TOP_INTERVAL, TOP_COUNT, TOP_METRICS };
static const struct opt_spec top_opts[] = {
	[TOP_INTERVAL] = {"interval", 'i', OPT_UINT, 1, 3600},
	[TOP_COUNT] = {"count", 'n', OPT_UINT, 1, 0},
	[TOP_METRICS] = {"metrics", 'm', OPT_STRING},
	{NULL},
};
static const struct opt_cmd top_cmd = {"npmu top", usage_top, top_opts, NULL};

static const struct out_col unit_cols[] = {
	{"UNIT", -24, 0}, {"STATE", -5, 1}, {"SIZE", 12, 1}, {"FREE", 12, 1}, {"REGIONS", 8, 1}};
static const struct out_col region_cols[] = {
	{"REGION", -32, 0}, {"SIZE", 12, 1}, {"RIGHTS", 7, 1}, {"COPIES", 6, 1}, {"UNITS", 0, 2}};

/* show_units -- the units table. */
static void show_units(struct npmu_conn *conn)
{
	struct npmu_unit_info *list;
	size_t n;
	int rc = npmu_unit_list(conn, &list, &n);
	if (rc != 0) {
		out_line("units: %s", npmu_strerror(rc));
		return;
	}
	out_table_row(unit_cols, 5, NULL);
	for (size_t i = 0; i < n; i++) {
		char a[32], b[32], regions[16];
		snprintf(regions, sizeof(regions), "%u", list[i].regions);
		const char *cells[] = {list[i].addr, list[i].up ? "up" : "DOWN",
				       list[i].up ? npmu__size_format(list[i].bytes, a, sizeof(a)) : "-",
				       list[i].up ? npmu__size_format(list[i].free, b, sizeof(b)) : "-",
				       regions};
		out_table_row(unit_cols, 5, cells);
	}
	free(list);
}

/* show_regions -- the regions table, each with the units holding it. */
static void show_regions(struct npmu_conn *conn)
{
	struct npmu_region_info *list;
	size_t n;
	int rc = npmu_region_list(conn, &list, &n);
	if (rc != 0) {
		out_line("regions: %s", npmu_strerror(rc));
		return;
	}
	out_table_row(region_cols, 5, NULL);
	for (size_t i = 0; i < n; i++) {
		char sz[32], rights[16], copies[16], units[260] = "?";
		struct npmu_region_place p;
		if (npmu_region_where(conn, list[i].name, &p) == 0)
			snprintf(units, sizeof(units), "%s%s%s", p.unit[0], p.count > 1 ? "," : "",
				 p.count > 1 ? p.unit[1] : "");
		snprintf(rights, sizeof(rights), "%u", list[i].rights);
		snprintf(copies, sizeof(copies), "%u", list[i].copies);
		const char *cells[] = {list[i].name, npmu__size_format(list[i].size, sz, sizeof(sz)),
				       rights, copies, units};
		out_table_row(region_cols, 5, cells);
	}
	free(list);
}

/* requests -- the manager's requests answered so far (every npmu_requests_total sample). */
static double requests(const struct scrape *sc)
{
	double sum = 0;
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].name, "npmu_requests_total") == 0)
			sum += sc->s[i].value;
	return sum;
}

/* show_leases -- leases, takeovers, clients and the request rate since the last refresh. */
static void show_leases(const char *addr, double *last_requests, double *last_at)
{
	struct scrape sc;
	char err[512];
	if (scrape_fetch(addr, &sc, err, sizeof(err)) != 0) {
		out_line("metrics: %s", err);
		return;
	}
	double now = cli_now(), total = requests(&sc);
	char rate[32] = "-";
	if (*last_at > 0 && now > *last_at)
		snprintf(rate, sizeof(rate), "%.1f", (total - *last_requests) / (now - *last_at));
	*last_requests = total;
	*last_at = now;
	out_line("leases: %.0f held, %.0f lapsed; %.0f takeovers; %.0f clients; %s requests/s",
		 scrape_value(&sc, "npmu_leases", "state=\"held\"", 0),
		 scrape_value(&sc, "npmu_leases", "state=\"lapsed\"", 0),
		 scrape_value(&sc, "npmu_lease_takeovers_total", "", 0),
		 scrape_value(&sc, "npmu_clients", "", 0), rate);
	scrape_free(&sc);
}

/* run_top -- refresh the view every interval, count times (0: until interrupted). */
static int run_top(const struct opt_result *r)
{
	unsigned interval = r->opt[TOP_INTERVAL].seen ? (unsigned)r->opt[TOP_INTERVAL].num : 2;
	uint64_t count = r->opt[TOP_COUNT].seen ? r->opt[TOP_COUNT].num : 0;
	const char *metrics = r->opt[TOP_METRICS].text;
	bool tty = isatty(1);
	double last_requests = 0, last_at = 0;
	struct npmu_conn *conn = cli_connect();
	for (uint64_t i = 0; count == 0 || i < count; i++) {
		if (i)
			sleep(interval);
		if (tty)
			fputs("\033[H\033[2J", stdout); /* home, clear */
		time_t t = time(NULL);
		char when[32];
		strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
		out_line("npmu top %s, every %u s", when, interval);
		show_units(conn);
		out_line("%s", "");
		show_regions(conn);
		if (metrics) {
			out_line("%s", "");
			show_leases(metrics, &last_requests, &last_at);
		}
		fflush(stdout);
	}
	npmu_conn_delete(&conn);
	return 0;
}

/* cmd_top -- top [options]. */
int cmd_top(int argc, char **argv)
{
	struct opt_result r;
	int status = opt_command(&top_cmd, argc - 1, argv + 1, &r);
	return status >= 0 ? status : run_top(&r);
}
