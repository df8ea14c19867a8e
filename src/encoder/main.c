/* main.c -- npmu-encoder: protects staged checkpoint versions in the background, on a unit's host
 * or on any other machine (seed 004 claims 11-12). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "log.h"
#include "npmu.h"

#define SETS_ARG_MAX 64

static const char usage[] =
	"Usage: npmu-encoder [--server HOST:PORT] [--credentials FILE] [options]\n"
	"\n"
	"Protect staged checkpoint versions in the background. A writer that stages a version\n"
	"(npmu_stage_put, `npmu stripe put --staged`) writes it once, plain, to its set's staging\n"
	"region and goes on; this process finds staging regions through the manager, reads\n"
	"staged versions there with one-sided reads, cuts and encodes them with the set's k+m\n"
	"(ISA-L), writes the members and commits each version's manifests. Run it on a unit's\n"
	"host or on any other machine; run several for throughput and availability: each version\n"
	"is encoded once, under the set's lease, and one killed midway is finished by another once\n"
	"its lease lapses. It needs rights to read the staging regions and to create and write\n"
	"the sets' members (a principal of its own in pmmd's credentials).\n"
	"\n"
	"  -s, --server HOST:PORT  the manager (default $NPMU_SERVER, else 127.0.0.1:7411)\n"
	"  -P, --provider NAME     libfabric provider (default $NPMU_PROVIDER or \"tcp\")\n"
	"  -c, --credentials FILE  this encoder's principal and key (default $NPMU_CREDENTIALS)\n"
	"  -S, --set NAME          protect only set NAME (repeat for several; default: every set\n"
	"                          whose staging region the manager shows this principal)\n"
	"  -i, --interval MS       how often each staging region is looked at (default 20)\n"
	"  -r, --rescan MS         how often the manager is asked for new staging regions\n"
	"                          (default 1000)\n"
	"  -1, --once              protect what is staged now, then exit\n"
	"  -v, --verbose           debug logging\n"
	"  -q, --quiet             warnings and errors only\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 on SIGINT or SIGTERM (the version being encoded is finished first) and\n"
	"after --once; 1 when the manager cannot be reached at start; 2 for a usage error.\n";

static volatile sig_atomic_t stop_now;

/* on_stop -- SIGINT, SIGTERM: stop once the version in hand is protected. */
static void on_stop(int sig)
{
	(void)sig;
	stop_now = 1;
}

/* number -- a whole number of milliseconds in [1, 3600000], or -1. */
static int number(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return *s && !*end && v >= 1 && v <= 3600000 ? (int)v : -1;
}

/* bad_usage -- a usage error said on standard error; exit status 2. */
static int bad_usage(const char *what)
{
	fprintf(stderr, "npmu-encoder: %s\nTry 'npmu-encoder --help'.\n", what);
	return 2;
}

/* main -- options, the manager's connection, then the encoder's loop until a signal. */
int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"server", required_argument, NULL, 's'},   {"provider", required_argument, NULL, 'P'},
		{"credentials", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 'S'},
		{"interval", required_argument, NULL, 'i'}, {"rescan", required_argument, NULL, 'r'},
		{"once", no_argument, NULL, '1'},           {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},          {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct npmu_conn_cfg cc = {0};
	struct npmu__encoder_cfg cfg = {.interval_ms = 20, .scan_ms = 1000};
	const char *sets[SETS_ARG_MAX];
	enum npmu_log_level level = NPMU_LOG_INFO;
	int c;
	while ((c = getopt_long(argc, argv, "s:P:c:S:i:r:1vqh", longs, NULL)) != -1) {
		switch (c) {
		case 's': cc.server = optarg; break;
		case 'P': cc.provider = optarg; break;
		case 'c': cc.credentials = optarg; break;
		case 'S':
			if (cfg.nsets == SETS_ARG_MAX)
				return bad_usage("--set: at most 64");
			sets[cfg.nsets++] = optarg;
			cfg.sets = sets;
			break;
		case 'i':
			if ((cfg.interval_ms = number(optarg)) < 0)
				return bad_usage("--interval: expected milliseconds, 1 to 3600000");
			break;
		case 'r':
			if ((cfg.scan_ms = number(optarg)) < 0)
				return bad_usage("--rescan: expected milliseconds, 1 to 3600000");
			break;
		case '1': cfg.once = true; break;
		case 'v': level = NPMU_LOG_DEBUG; break;
		case 'q': level = NPMU_LOG_WARN; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return bad_usage("unknown option");
		}
	}
	if (optind != argc)
		return bad_usage("unexpected argument");
	npmu__log_init("npmu-encoder", level);
	npmu_log_set_level(level);
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct npmu_conn *conn;
	int rc = npmu_conn_new(&cc, &conn);
	if (rc != 0) {
		LOG_ERR("cannot reach the manager: %s", npmu_strerror(rc));
		return 1;
	}
	LOG_INFO("protecting staged versions of %s, looking every %d ms", cfg.sets ? "the sets named"
		 : "every set it may see", cfg.interval_ms);
	struct npmu__encoder_stats st = {0};
	rc = npmu__encoder_run(conn, &cfg, &stop_now, &st);
	LOG_INFO("stopping: %llu version(s) protected, %llu time(s) another encoder held a set, "
		 "%llu error(s)", (unsigned long long)st.protected_versions,
		 (unsigned long long)st.busy, (unsigned long long)st.errors);
	npmu_conn_delete(&conn);
	return rc == 0 ? 0 : 1;
}
