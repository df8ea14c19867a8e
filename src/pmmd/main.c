/* main.c -- pmmd, the persistent memory manager of several units. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "credentials.h"
#include "daemon.h"
#include "log.h"
#include "metrics_http.h"
#include "mirrors.h"
#include "pmmd_serve.h"
#include "remote_ops.h"
#include "service.h"
#include "sessions.h"
#include "units.h"

#define PMMD_DEFAULT_PORT 7410
#define PROBE_MS 250 /* units that are away are asked again this often (when idle) */

static const char usage[] =
	"Usage: pmmd --cluster-key FILE --unit HOST:PORT [--unit ...] [options]\n"
	"\n"
	"Manage regions on several npmud units: clients create, open, list and delete regions\n"
	"by name here; pmmd places them, programs the unit's translation and protection table\n"
	"over a session authenticated with the cluster key, and sends the client to the unit\n"
	"for one-sided access. pmmd keeps no state: it rebuilds its directory from the units.\n"
	"\n"
	"  -k, --cluster-key FILE the key shared with the units (`npmu keygen FILE`; units run\n"
	"                         `npmud --no-manager --cluster-key FILE`)\n"
	"  -u, --unit HOST:PORT[@DOMAIN]\n"
	"                         a unit to manage (repeat for each), in fault domain DOMAIN\n"
	"                         (a mirrored region's two copies never share a unit, nor a\n"
	"                         domain; a unit without one is a domain of its own)\n"
	"  -t, --unit-timeout MS  how long a unit may take to answer (default 1000)\n"
	"  -g, --lease-grace MS   after a start, how long writers' leases from before it may be\n"
	"                         renewed before any lease is granted anew (default %u; keep it\n"
	"                         above clients' renewal period, a third of their lease)\n"
	"  -c, --credentials FILE principals, keys and rights of clients (required unless\n"
	"                         listening on loopback, or --insecure)\n"
	"  -l, --listen HOST:PORT address for clients (default 127.0.0.1:%d)\n"
	"  -P, --provider NAME    libfabric provider (default $NPMU_PROVIDER or \"tcp\")\n"
	"      --addr-file PATH   write the address served on to PATH once ready\n"
	"      --insecure         serve without credentials on a non-loopback address\n"
	"      --max-sessions N   authenticated clients (endpoints) at once, 1..%d (default\n"
	"                         %d; memory is taken as they come, about 0.5 KiB each)\n"
	"      --metrics HOST:PORT\n"
	"                         serve Prometheus metrics at http://HOST:PORT/metrics (port 0\n"
	"                         picks one); a loopback address only, as they are not\n"
	"                         authenticated, unless --metrics-insecure\n"
	"      --metrics-insecure serve --metrics on a non-loopback address too\n"
	"      --metrics-addr-file PATH\n"
	"                         write the metrics' HOST:PORT to PATH once ready\n"
	"  -v, --verbose          debug logging\n"
	"  -f, --config FILE      settings from FILE, `key = value` lines whose keys are these\n"
	"                         options' long names, `unit = HOST:PORT[@DOMAIN]` once per unit\n"
	"                         (default " NPMU_CONFIG_DIR "/pmmd.conf, read if it exists); the\n"
	"                         command line overrides the file (its --unit replace the file's)\n"
	"      --check-config     check the settings (and the files they name), say what is\n"
	"                         wrong, and exit: 0 when they are good, 1 when not\n"
	"  -h, --help             this text\n"
	"\n"
	"Stops cleanly on SIGINT or SIGTERM (requests in progress answered). Under systemd\n"
	"(Type=notify) it says when it is ready and stopping, and shows its watchdog the request\n"
	"loop is alive.\n";

_Static_assert(NPMU_PMMD_UNITS_MAX == 64, "unit_problem says 64");

/* unit_problem -- what is wrong with a unit given on the command line or in the config. */
static const char *unit_problem(int rc)
{
	switch (rc) {
	case NPMU_E_EXIST: return "given twice";
	case NPMU_E_NAME: return "a bad fault domain name (1-63 of A-Z a-z 0-9 . _ -)";
	case NPMU_E_LIMIT: return "too many units (at most 64)";
	default: return "not HOST:PORT[@DOMAIN] (an empty or too long address)";
	}
}

/* The options that have no short form. */
enum {
	O_ADDR_FILE = 256, O_INSECURE, O_CHECK_CONFIG, O_METRICS, O_METRICS_INSECURE,
	O_METRICS_ADDR_FILE, O_MAX_SESSIONS
};

static const struct option long_opts[] = {
	{"cluster-key", required_argument, NULL, 'k'},
	{"unit", required_argument, NULL, 'u'},
	{"unit-timeout", required_argument, NULL, 't'},
	{"lease-grace", required_argument, NULL, 'g'},
	{"credentials", required_argument, NULL, 'c'},
	{"listen", required_argument, NULL, 'l'},
	{"provider", required_argument, NULL, 'P'},
	{"addr-file", required_argument, NULL, O_ADDR_FILE},
	{"insecure", no_argument, NULL, O_INSECURE},
	{"max-sessions", required_argument, NULL, O_MAX_SESSIONS},
	{"metrics", required_argument, NULL, O_METRICS},
	{"metrics-insecure", no_argument, NULL, O_METRICS_INSECURE},
	{"metrics-addr-file", required_argument, NULL, O_METRICS_ADDR_FILE},
	{"verbose", no_argument, NULL, 'v'},
	{"config", required_argument, NULL, 'f'},
	{"check-config", no_argument, NULL, O_CHECK_CONFIG},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}};

static const char *const repeatable[] = {"unit", NULL};
static const char *const command_only[] = {"config", "check-config", "help", NULL};
static const struct npmu__config_spec spec = {long_opts, "k:u:f:c:l:P:t:g:vh", repeatable,
					      command_only};

/* What pmmd was asked to do, and what it runs. */
struct pmmd {
	/* the settings (their strings belong to cfg) */
	struct npmu__config cfg;
	const char *key_path, *cred_path, *listen, *addr_file, *provider;
	const char *metrics, *metrics_addr_file;
	int insecure, verbose, unit_timeout, check, metrics_insecure;
	long grace, max_sessions;
	char host[256], port[16];
	/* what serves */
	struct npmu__units units;
	struct npmu__credentials creds;
	struct npmu__sessions sessions;
	struct npmu__pmm pmm;
	struct npmu__pmmd_service handlers;
	struct npmu__fabric *fab;
	struct npmu__service *svc;
	struct npmu__metrics_server *metrics_srv;
	bool watchdog;
};

/* number -- a whole number in [lo, hi] (of `unit`) into *out; prints the problem at `where`
 * otherwise. */
static bool number(const char *where, const char *v, long lo, long hi, const char *unit,
		   long *out)
{
	char *end;
	*out = strtol(v, &end, 10);
	if (*end || end == v || *out < lo || *out > hi) {
		fprintf(stderr, "pmmd: %s '%s': expected %ld..%ld%s\n", where, v, lo, hi, unit);
		return false;
	}
	return true;
}

/* apply -- one setting into p; -1 to go on, else the exit status. */
static int apply(struct pmmd *p, const struct npmu__config_entry *e)
{
	char where[512];
	const char *v = e->value;
	npmu__config_where(&p->cfg, e, where, sizeof(where));
	long n;
	switch (e->opt) {
	case 'k': p->key_path = v; break;
	case 'u': {
		int arc = npmu__units_add(&p->units, v);
		if (arc != 0) {
			fprintf(stderr, "pmmd: %s %s: %s\n", where, v, unit_problem(arc));
			return 2;
		}
		break;
	}
	case 't':
		if (!number(where, v, 10, 600000, " ms", &n))
			return 2;
		p->unit_timeout = (int)n;
		break;
	case 'g':
		if (!number(where, v, 0, 600000, " ms", &p->grace))
			return 2;
		break;
	case 'c': p->cred_path = v; break;
	case 'l':
		if (npmu__split_hostport(v, p->host, sizeof(p->host), p->port, sizeof(p->port),
					 PMMD_DEFAULT_PORT) != 0) {
			fprintf(stderr, "pmmd: %s '%s': invalid address (expected HOST:PORT)\n", where, v);
			return 2;
		}
		p->listen = v;
		break;
	case 'P': p->provider = v; break;
	case O_ADDR_FILE: p->addr_file = v; break;
	case O_INSECURE: p->insecure = 1; break;
	case O_MAX_SESSIONS:
		if (!number(where, v, 1, NPMU_SESSIONS_LIMIT, "", &p->max_sessions))
			return 2;
		break;
	case O_METRICS: p->metrics = v; break;
	case O_METRICS_INSECURE: p->metrics_insecure = 1; break;
	case O_METRICS_ADDR_FILE: p->metrics_addr_file = v; break;
	case 'v': p->verbose = 1; break;
	case O_CHECK_CONFIG: p->check = 1; break;
	case 'f': break; /* (read before) */
	default: return 2;
	}
	return -1;
}

/* read_settings -- the command line, and the configuration file it names (or the default one,
 * if it exists), merged into p->cfg; -1 to go on, else the exit status. */
static int read_settings(int argc, char **argv, struct pmmd *p)
{
	struct npmu__config args;
	if (npmu__config_args(argc, argv, &spec, &args) != 0) {
		fprintf(stderr, usage, NPMU_LEASE_GRACE_MS, PMMD_DEFAULT_PORT, NPMU_SESSIONS_LIMIT, NPMU_SESSIONS_MAX);
		return 2;
	}
	int status = -1;
	const struct npmu__config_entry *conf = npmu__config_find(&args, 'f');
	if (npmu__config_find(&args, 'h')) {
		printf(usage, NPMU_LEASE_GRACE_MS, PMMD_DEFAULT_PORT, NPMU_SESSIONS_LIMIT, NPMU_SESSIONS_MAX);
		status = 0;
	} else if (optind != argc) {
		fprintf(stderr, "pmmd: unexpected argument '%s'\n\n", argv[optind]);
		fprintf(stderr, usage, NPMU_LEASE_GRACE_MS, PMMD_DEFAULT_PORT, NPMU_SESSIONS_LIMIT, NPMU_SESSIONS_MAX);
		status = 2;
	} else {
		status = npmu__config_load("pmmd", conf ? conf->value : NPMU_CONFIG_DIR "/pmmd.conf",
					   conf != NULL, &spec, &args, &p->cfg);
	}
	if (npmu__config_find(&args, O_CHECK_CONFIG))
		p->check = 1;
	npmu__config_free(&args);
	return status;
}

/* parse_args -- the settings from the command line and the configuration file into p; -1 to go
 * on, else the exit status. */
static int parse_args(int argc, char **argv, struct pmmd *p)
{
	p->listen = "127.0.0.1";
	npmu__split_hostport(p->listen, p->host, sizeof(p->host), p->port, sizeof(p->port),
			     PMMD_DEFAULT_PORT);
	p->provider = getenv("NPMU_PROVIDER");
	p->unit_timeout = 1000;
	p->grace = NPMU_LEASE_GRACE_MS;
	int rc = read_settings(argc, argv, p);
	for (size_t i = 0; rc < 0 && i < p->cfg.n; i++)
		rc = apply(p, &p->cfg.e[i]);
	if (rc >= 0)
		return rc;
	if (!p->key_path || p->units.n == 0) {
		fprintf(stderr, "pmmd: %s\n\n", !p->key_path ? "--cluster-key is required"
							    : "at least one --unit is required");
		if (!p->check)
			fprintf(stderr, usage, NPMU_LEASE_GRACE_MS, PMMD_DEFAULT_PORT, NPMU_SESSIONS_LIMIT, NPMU_SESSIONS_MAX);
		return 2;
	}
	if (!p->provider)
		p->provider = NPMU_DEFAULT_PROVIDER;
	return -1;
}

/* load_secrets -- the cluster key and the credentials; -1 to go on, else the exit status. */
static int load_secrets(struct pmmd *p)
{
	if (sodium_init() < 0)
		return 1;
	int rc = npmu__key_read(p->key_path, p->units.key);
	if (rc != 0) {
		fprintf(stderr, "pmmd: cluster key %s: %s\n", p->key_path, npmu__key_problem(rc));
		return 2;
	}
	if (p->cred_path) {
		char err[256];
		if (npmu__credentials_load(p->cred_path, &p->creds, err, sizeof(err)) != 0) {
			fprintf(stderr, "pmmd: credentials %s: %s\n", p->cred_path, err);
			return 2;
		}
	}
	return -1;
}

/* start -- the manager over the units, the endpoint, sessions and the service; then the units
 * are asked for their regions. */
static int start(struct pmmd *p)
{
	p->units.provider = p->provider;
	p->units.timeout_ms = p->unit_timeout;
	p->units.unit_back = npmu__mirrors_unit_back;
	npmu__pmm_init(&p->pmm, &npmu__remote_unit_ops, &p->units, p->cred_path ? &p->creds : NULL,
		       (uint32_t)p->grace);
	p->units.holders = &p->pmm.holders;
	int rc = npmu__fabric_open(p->provider, p->host, p->port, true, &p->fab);
	if (rc != 0) {
		fprintf(stderr, "pmmd: cannot listen on %s: %s\n", p->listen, npmu_strerror(rc));
		return rc;
	}
	p->pmm.holders.probe = npmu__fabric_tcp(p->fab); /* a gone client's port refuses (holders.h) */
	if (!p->cred_path && !p->insecure && !npmu__fabric_is_loopback(p->fab)) {
		fprintf(stderr, "pmmd: refusing to serve %s without --credentials; give --credentials "
				"FILE, or --insecure\n", p->listen);
		return NPMU_E_ACCESS;
	}
	if ((rc = npmu__sessions_init(&p->sessions, p->pmm.creds, NULL, "pmmd",
				      (uint32_t)p->max_sessions)) != 0)
		return rc;
	p->sessions.probe = npmu__fabric_tcp(p->fab); /* likewise (sessions.h) */
	struct npmu__service_ops ops;
	npmu__pmmd_service_init(&p->handlers, &p->pmm, &p->units, PROBE_MS, &ops);
	if ((rc = npmu__service_new(p->fab, &ops, p->cred_path ? &p->sessions : NULL, &p->svc)) != 0)
		return rc;
	npmu__units_refresh(&p->units);
	return 0;
}

/* render -- (the metrics thread) the service's, the manager's and the process's metrics. */
static void render(void *arg, struct npmu__prom *out)
{
	struct pmmd *p = arg;
	npmu__service_render(npmu__service_counters(p->svc), out);
	npmu__pmmd_service_render(&p->handlers, out);
	npmu__prom_process(out);
}

/* on_tick -- (the receiving thread) publish the leases' gauges; show the watchdog we are alive. */
static void on_tick(void *arg)
{
	struct pmmd *p = arg;
	npmu__pmm_publish(&p->pmm);
	if (p->watchdog)
		npmu__daemon_watchdog();
}

/* announce -- log what serves where, publish the address, and tell systemd we are ready. */
static int announce(struct pmmd *p)
{
	uint32_t up = 0;
	for (uint32_t i = 0; i < p->units.n; i++)
		up += p->units.u[i].up;
	char addr[128];
	npmu__fabric_addr_str(p->fab, p->fab->name, addr, sizeof(addr));
	LOG_INFO("managing %u unit(s) (%u up, %u regions) for clients on %s%s", p->units.n, up,
		 p->units.ndir, addr, p->cred_path ? ", authenticated sessions" : ", no authentication");
	if (p->addr_file && npmu__daemon_write_addr(p->addr_file, addr) != 0) {
		fprintf(stderr, "pmmd: cannot write %s\n", p->addr_file);
		return NPMU_E_IO;
	}
	unsigned watchdog_ms = npmu__daemon_watchdog_ms();
	p->watchdog = watchdog_ms != 0;
	npmu__service_set_tick(p->svc, on_tick, p, watchdog_ms);
	npmu__daemon_ready("managing %u unit(s), %u up, for clients on %s", p->units.n, up, addr);
	return 0;
}

/* check_config -- --check-config: the settings and the files they name; 0 or 1. */
static int check_config(struct pmmd *p, int rc)
{
	if (rc < 0)
		rc = load_secrets(p);
	if (rc < 0)
		printf("pmmd: the configuration is good (%s)\n",
		       p->cfg.path ? p->cfg.path : "the command line alone");
	npmu__credentials_free(&p->creds);
	npmu__units_fini(&p->units);
	npmu__config_free(&p->cfg);
	return rc < 0 || rc == 0 ? 0 : 1;
}

/* stop -- free what start made, in reverse. */
static void stop(struct pmmd *p)
{
	npmu__metrics_stop(&p->metrics_srv);
	npmu__service_delete(&p->svc);
	npmu__fabric_close(&p->fab);
	npmu__units_fini(&p->units);
	if (p->pmm.ops)
		npmu__pmm_fini(&p->pmm);
	npmu__sessions_fini(&p->sessions);
	npmu__credentials_free(&p->creds);
	npmu__config_free(&p->cfg);
}

int main(int argc, char **argv)
{
	static struct pmmd p; /* (large: the unit and session tables) */
	npmu__log_init("pmmd", NPMU_LOG_INFO);
	int rc = parse_args(argc, argv, &p);
	if (p.check)
		return check_config(&p, rc);
	if (rc >= 0) {
		npmu__units_fini(&p.units);
		npmu__config_free(&p.cfg);
		return rc;
	}
	npmu__log_init("pmmd", p.verbose ? NPMU_LOG_DEBUG : NPMU_LOG_INFO);
	if ((rc = load_secrets(&p)) >= 0) {
		stop(&p);
		return rc;
	}
	npmu__daemon_raise_fd_limit();
	int stop_fd = npmu__daemon_stop_fd();
	if ((rc = start(&p)) == 0 &&
	    (!p.metrics ||
	     (rc = npmu__daemon_serve_metrics("pmmd", p.metrics, p.metrics_insecure,
					      p.metrics_addr_file, render, &p, &p.metrics_srv)) == 0) &&
	    (rc = announce(&p)) == 0) {
		/* from here on only the slow thread touches the units */
		rc = npmu__service_run(p.svc, stop_fd, 200);
		npmu__daemon_stopping("stopping");
		LOG_INFO("stopping");
	}
	stop(&p);
	return rc == 0 ? 0 : 1;
}
