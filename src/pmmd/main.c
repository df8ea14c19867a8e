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

#include "credentials.h"
#include "daemon.h"
#include "log.h"
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
	"  -f, --config FILE      more units, one `unit HOST:PORT [DOMAIN]` per line\n"
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
	"  -v, --verbose          debug logging\n"
	"  -h, --help             this text\n";

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

/* read_config -- add the units of a config file; returns 0 or prints the problem. */
static int read_config(const char *path, struct npmu__units *us)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "pmmd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[512], word[32], addr[256], domain[128], spec[400];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		int n = sscanf(line, "%31s %255s %127s", word, addr, domain);
		if (n <= 0 || word[0] == '#')
			continue;
		snprintf(spec, sizeof(spec), "%s%s%s", addr, n == 3 ? "@" : "", n == 3 ? domain : "");
		int arc = n < 2 || strcmp(word, "unit") != 0 || strchr(addr, '@')
				  ? NPMU_E_INVAL : npmu__units_add(us, spec);
		if (arc != 0) {
			fprintf(stderr, "pmmd: %s line %d: %s (expected `unit HOST:PORT [DOMAIN]`)\n",
				path, lineno, unit_problem(arc));
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

/* What pmmd was asked to do, and what it runs. */
struct pmmd {
	/* the command line */
	const char *key_path, *cred_path, *listen, *addr_file, *provider;
	int insecure, verbose, unit_timeout;
	long grace;
	char host[256], port[16];
	/* what serves */
	struct npmu__units units;
	struct npmu__credentials creds;
	struct npmu__sessions sessions;
	struct npmu__pmm pmm;
	struct npmu__pmmd_service handlers;
	struct npmu__fabric *fab;
	struct npmu__service *svc;
};

/* parse_option -- one option c (with optarg) into p; -1 to go on, else the exit status. */
static int parse_option(int c, struct pmmd *p)
{
	char *end;
	switch (c) {
	case 'k': p->key_path = optarg; break;
	case 'u': {
		int arc = npmu__units_add(&p->units, optarg);
		if (arc != 0) {
			fprintf(stderr, "pmmd: --unit %s: %s\n", optarg, unit_problem(arc));
			return 2;
		}
		break;
	}
	case 'f':
		if (read_config(optarg, &p->units) != 0)
			return 2;
		break;
	case 't':
		p->unit_timeout = (int)strtol(optarg, &end, 10);
		if (*end || end == optarg || p->unit_timeout < 10 || p->unit_timeout > 600000) {
			fprintf(stderr, "pmmd: --unit-timeout %s: expected 10..600000 ms\n", optarg);
			return 2;
		}
		break;
	case 'g':
		p->grace = strtol(optarg, &end, 10);
		if (*end || end == optarg || p->grace < 0 || p->grace > 600000) {
			fprintf(stderr, "pmmd: --lease-grace %s: expected 0..600000 ms\n", optarg);
			return 2;
		}
		break;
	case 'c': p->cred_path = optarg; break;
	case 'l': p->listen = optarg; break;
	case 'P': p->provider = optarg; break;
	case 'A': p->addr_file = optarg; break;
	case 'I': p->insecure = 1; break;
	case 'v': p->verbose = 1; break;
	case 'h': printf(usage, NPMU_LEASE_GRACE_MS, PMMD_DEFAULT_PORT); return 0;
	default: fprintf(stderr, usage, NPMU_LEASE_GRACE_MS, PMMD_DEFAULT_PORT); return 2;
	}
	return -1;
}

/* parse_args -- the command line into p; -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct pmmd *p)
{
	static const struct option opts[] = {
		{"cluster-key", required_argument, NULL, 'k'}, {"unit", required_argument, NULL, 'u'},
		{"config", required_argument, NULL, 'f'},      {"credentials", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},      {"provider", required_argument, NULL, 'P'},
		{"addr-file", required_argument, NULL, 'A'},   {"insecure", no_argument, NULL, 'I'},
		{"verbose", no_argument, NULL, 'v'},           {"help", no_argument, NULL, 'h'},
		{"unit-timeout", required_argument, NULL, 't'},
		{"lease-grace", required_argument, NULL, 'g'},
		{NULL, 0, NULL, 0}};
	p->listen = "127.0.0.1";
	p->provider = getenv("NPMU_PROVIDER");
	p->unit_timeout = 1000;
	p->grace = NPMU_LEASE_GRACE_MS;
	int c, rc;
	while ((c = getopt_long(argc, argv, "k:u:f:c:l:P:t:g:vh", opts, NULL)) != -1)
		if ((rc = parse_option(c, p)) >= 0)
			return rc;
	if (!p->key_path || p->units.n == 0 || optind != argc) {
		fprintf(stderr, "pmmd: %s\n\n", !p->key_path ? "--cluster-key is required"
					       : p->units.n == 0 ? "at least one --unit is required"
								 : "unexpected argument");
		fprintf(stderr, usage, NPMU_LEASE_GRACE_MS, PMMD_DEFAULT_PORT);
		return 2;
	}
	if (!p->provider)
		p->provider = NPMU_DEFAULT_PROVIDER;
	if (npmu__split_hostport(p->listen, p->host, sizeof(p->host), p->port, sizeof(p->port),
				 PMMD_DEFAULT_PORT) != 0) {
		fprintf(stderr, "pmmd: invalid --listen '%s' (expected HOST:PORT)\n", p->listen);
		return 2;
	}
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
 * are asked for their regions and the address is published. */
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
	npmu__sessions_init(&p->sessions, p->pmm.creds, NULL, "pmmd");
	p->sessions.probe = npmu__fabric_tcp(p->fab); /* likewise (sessions.h) */
	struct npmu__service_ops ops;
	npmu__pmmd_service_init(&p->handlers, &p->pmm, &p->units, PROBE_MS, &ops);
	if ((rc = npmu__service_new(p->fab, &ops, p->cred_path ? &p->sessions : NULL, &p->svc)) != 0)
		return rc;
	npmu__units_refresh(&p->units);
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
	return 0;
}

/* stop -- free what start made, in reverse. */
static void stop(struct pmmd *p)
{
	npmu__service_delete(&p->svc);
	npmu__fabric_close(&p->fab);
	npmu__units_fini(&p->units);
	if (p->pmm.ops)
		npmu__pmm_fini(&p->pmm);
	npmu__sessions_fini(&p->sessions);
	npmu__credentials_free(&p->creds);
}

int main(int argc, char **argv)
{
	static struct pmmd p; /* (large: the unit and session tables) */
	npmu__log_init("pmmd", NPMU_LOG_INFO);
	int rc = parse_args(argc, argv, &p);
	if (rc >= 0)
		return rc;
	npmu__log_init("pmmd", p.verbose ? NPMU_LOG_DEBUG : NPMU_LOG_INFO);
	if ((rc = load_secrets(&p)) >= 0)
		return rc;
	int stop_fd = npmu__daemon_stop_fd();
	if ((rc = start(&p)) == 0) {
		/* from here on only the slow thread touches the units */
		rc = npmu__service_run(p.svc, stop_fd, 200);
		LOG_INFO("stopping");
	}
	stop(&p);
	return rc == 0 ? 0 : 1;
}
