/* main.c -- npmud, the network-attached persistent memory unit (with its embedded manager by default). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "pmm.h"
#include "config.h"
#include "credentials.h"
#include "daemon.h"
#include "metrics_http.h"
#include "unit_serve.h"
#include "service.h"
#include "sessions.h"
#include "unit_ops.h"
#include "size.h"

/* The default --nice: the unit ahead of the clients beside it (measured in bench/scale.c: 64
 * clients on two cores reach 50-70% of one client's bandwidth at 0, 92% at -10). */
#define NPMUD_NICE -10

static const char usage[] =
	"Usage: npmud --pool PATH [--size SIZE] [options]\n"
	"\n"
	"Serve a persistent memory pool to clients over libfabric: regions are read and written\n"
	"with one-sided RDMA; the embedded manager creates, opens and deletes them by name.\n"
	"\n"
	"  -p, --pool PATH        pool file (created when missing and --size is given)\n"
	"  -s, --size SIZE        size of a new pool: bytes or 64M, 4G, 1T (at least 1M)\n"
	"  -l, --listen HOST:PORT address to serve on (default 127.0.0.1:%d; port 0 picks one)\n"
	"  -P, --provider NAME    libfabric provider (default $NPMU_PROVIDER or \"tcp\"); with\n"
	"                         shm (clients on this host only) --listen is NAME[:N], a name\n"
	"                         clients give as NAME:N (the address file says it)\n"
	"  -c, --credentials FILE principals, keys and rights (see credentials.h); clients must\n"
	"                         authenticate and every manager request is sealed\n"
	"  -k, --cluster-key FILE accept region programming from a manager (pmmd) proving this\n"
	"                         key (written by `npmu keygen`)\n"
	"      --insecure         serve without credentials on a non-loopback address\n"
	"      --max-sessions N   authenticated clients (endpoints) at once, 1..%d (default\n"
	"                         %d; memory is taken as they come, about 0.5 KiB each)\n"
	"      --manager          run the embedded manager (the default)\n"
	"      --no-manager       do not run the embedded manager (units managed by pmmd)\n"
	"      --addr-file PATH   write the address served on to PATH once ready\n"
	"      --spin-us N        keep polling N microseconds after activity before sleeping\n"
	"                         (default 200; 0: sleep at once, lowest CPU, higher latency)\n"
	"      --nice N           run at scheduling priority N, -20..19 (default %d): the unit\n"
	"                         moves every client's bytes, and clients on its host would\n"
	"                         otherwise take its CPU; lowering it needs root or CAP_SYS_NICE\n"
	"                         (under systemd: Nice=), else a warning and the priority as is\n"
	"      --metrics HOST:PORT\n"
	"                         serve Prometheus metrics at http://HOST:PORT/metrics (port 0\n"
	"                         picks one); a loopback address only, as they are not\n"
	"                         authenticated, unless --metrics-insecure\n"
	"      --metrics-insecure serve --metrics on a non-loopback address too\n"
	"      --metrics-addr-file PATH\n"
	"                         write the metrics' HOST:PORT to PATH once ready\n"
	"  -v, --verbose          debug logging (default: one line per region operation and\n"
	"                         per rejected request; NPMU_LOG=error|warn|info|debug)\n"
	"  -f, --config FILE      settings from FILE, `key = value` lines whose keys are these\n"
	"                         options' long names (default " NPMU_CONFIG_DIR "/npmud.conf, read\n"
	"                         if it exists); the command line overrides the file\n"
	"      --check-config     check the settings (and the files they name), say what is\n"
	"                         wrong, and exit: 0 when they are good, 1 when not\n"
	"  -h, --help             this text\n"
	"\n"
	"Stops cleanly on SIGINT or SIGTERM (requests in progress answered, the pool closed).\n"
	"After any stop, clean or not, the next start rebuilds every region, its data and its\n"
	"open rights from the pool alone. Under systemd (Type=notify) it says when it is ready\n"
	"and stopping, and shows its watchdog the request loop is alive.\n";

/* The options that have no short form. */
enum {
	O_CHECK_CONFIG = 256,
	O_METRICS,
	O_METRICS_INSECURE,
	O_METRICS_ADDR_FILE,
	O_NICE,
	O_MAX_SESSIONS
};

static const struct option long_opts[] = {
	{"pool", required_argument, NULL, 'p'},
	{"size", required_argument, NULL, 's'},
	{"listen", required_argument, NULL, 'l'},
	{"provider", required_argument, NULL, 'P'},
	{"no-manager", no_argument, NULL, 'M'},
	{"manager", no_argument, NULL, 'm'},
	{"addr-file", required_argument, NULL, 'A'},
	{"spin-us", required_argument, NULL, 'S'},
	{"nice", required_argument, NULL, O_NICE},
	{"max-sessions", required_argument, NULL, O_MAX_SESSIONS},
	{"credentials", required_argument, NULL, 'c'},
	{"insecure", no_argument, NULL, 'I'},
	{"cluster-key", required_argument, NULL, 'k'},
	{"metrics", required_argument, NULL, O_METRICS},
	{"metrics-insecure", no_argument, NULL, O_METRICS_INSECURE},
	{"metrics-addr-file", required_argument, NULL, O_METRICS_ADDR_FILE},
	{"verbose", no_argument, NULL, 'v'},
	{"config", required_argument, NULL, 'f'},
	{"check-config", no_argument, NULL, O_CHECK_CONFIG},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}};

static const char *const command_only[] = {"config", "check-config", "help", NULL};
static const struct npmu__config_spec spec = {long_opts, "p:s:l:P:c:k:f:vh", NULL, command_only};

/* What npmud was asked to do, and what it runs. */
struct npmud {
	/* the settings (their strings belong to cfg) */
	struct npmu__config cfg;
	const char *pool_path, *listen, *provider, *addr_file, *cred_path, *key_path;
	const char *metrics, *metrics_addr_file;
	int insecure, manager, verbose, check, metrics_insecure;
	long spin_us, nice, max_sessions;
	char host[256], port[16];
	uint64_t size;
	/* what serves */
	uint8_t cluster_key[NPMU_KEY_LEN];
	struct npmu__credentials creds;
	struct npmu__sessions sessions;
	struct npmu__pool *pool;
	struct npmu__fabric *fab;
	struct npmu__unit *unit;
	struct npmu__pmm pmm;
	struct npmu__unit_service handlers;
	struct npmu__service *svc;
	struct npmu__metrics_server *metrics_srv;
	bool watchdog;
};

/* apply -- one setting into d; -1 to go on, else the exit status. */
static int apply(struct npmud *d, const struct npmu__config_entry *e)
{
	char where[512];
	const char *v = e->value;
	npmu__config_where(&d->cfg, e, where, sizeof(where));
	switch (e->opt) {
	case 'p': d->pool_path = v; break;
	case 's':
		if (npmu__size_parse(v, &d->size) != 0) {
			fprintf(stderr, "npmud: %s '%s': invalid size (examples: 1048576, 64M, 4G)\n",
				where, v);
			return 2;
		}
		break;
	case 'l':
		if (npmu__split_hostport(v, d->host, sizeof(d->host), d->port, sizeof(d->port),
					 NPMU_DEFAULT_PORT) != 0) {
			fprintf(stderr, "npmud: %s '%s': invalid address (expected HOST:PORT)\n", where, v);
			return 2;
		}
		d->listen = v;
		break;
	case 'P': d->provider = v; break;
	case 'M': d->manager = 0; break;
	case 'm': d->manager = 1; break;
	case 'c': d->cred_path = v; break;
	case 'I': d->insecure = 1; break;
	case 'k': d->key_path = v; break;
	case 'A': d->addr_file = v; break;
	case 'S': {
		char *end;
		d->spin_us = strtol(v, &end, 10);
		if (*end || end == v || d->spin_us < 0 || d->spin_us > 1000000) {
			fprintf(stderr, "npmud: %s '%s': expected 0..1000000\n", where, v);
			return 2;
		}
		break;
	}
	case O_NICE: {
		char *end;
		d->nice = strtol(v, &end, 10);
		if (*end || end == v || d->nice < -20 || d->nice > 19) {
			fprintf(stderr, "npmud: %s '%s': expected -20..19\n", where, v);
			return 2;
		}
		break;
	}
	case O_MAX_SESSIONS: {
		char *end;
		d->max_sessions = strtol(v, &end, 10);
		if (*end || end == v || d->max_sessions < 1 || d->max_sessions > NPMU_SESSIONS_LIMIT) {
			fprintf(stderr, "npmud: %s '%s': expected 1..%d\n", where, v,
				NPMU_SESSIONS_LIMIT);
			return 2;
		}
		break;
	}
	case O_METRICS: d->metrics = v; break;
	case O_METRICS_INSECURE: d->metrics_insecure = 1; break;
	case O_METRICS_ADDR_FILE: d->metrics_addr_file = v; break;
	case 'v': d->verbose = 1; break;
	case O_CHECK_CONFIG: d->check = 1; break;
	case 'f': break; /* (read before) */
	default: return 2;
	}
	return -1;
}

/* read_settings -- the command line, and the configuration file it names (or the default one,
 * if it exists), merged into d->cfg; -1 to go on, else the exit status. */
static int read_settings(int argc, char **argv, struct npmud *d)
{
	struct npmu__config args;
	if (npmu__config_args(argc, argv, &spec, &args) != 0) {
		fprintf(stderr, usage, NPMU_DEFAULT_PORT, NPMU_SESSIONS_LIMIT, NPMU_SESSIONS_MAX, NPMUD_NICE);
		return 2;
	}
	int status = -1;
	const struct npmu__config_entry *conf = npmu__config_find(&args, 'f');
	if (npmu__config_find(&args, 'h')) {
		printf(usage, NPMU_DEFAULT_PORT, NPMU_SESSIONS_LIMIT, NPMU_SESSIONS_MAX, NPMUD_NICE);
		status = 0;
	} else if (optind != argc) {
		fprintf(stderr, "npmud: unexpected argument '%s'\n\n", argv[optind]);
		fprintf(stderr, usage, NPMU_DEFAULT_PORT, NPMU_SESSIONS_LIMIT, NPMU_SESSIONS_MAX, NPMUD_NICE);
		status = 2;
	} else {
		status = npmu__config_load("npmud", conf ? conf->value : NPMU_CONFIG_DIR "/npmud.conf",
					   conf != NULL, &spec, &args, &d->cfg);
	}
	if (npmu__config_find(&args, O_CHECK_CONFIG))
		d->check = 1;
	npmu__config_free(&args);
	return status;
}

/* parse_args -- the settings from the command line and the configuration file into d; -1 to go
 * on, else the exit status. */
static int parse_args(int argc, char **argv, struct npmud *d)
{
	d->listen = "127.0.0.1";
	npmu__split_hostport(d->listen, d->host, sizeof(d->host), d->port, sizeof(d->port),
			     NPMU_DEFAULT_PORT);
	d->provider = getenv("NPMU_PROVIDER");
	d->manager = 1;
	d->spin_us = 200;
	d->nice = NPMUD_NICE;
	int rc = read_settings(argc, argv, d);
	for (size_t i = 0; rc < 0 && i < d->cfg.n; i++)
		rc = apply(d, &d->cfg.e[i]);
	if (rc >= 0)
		return rc;
	if (!d->provider)
		d->provider = NPMU_DEFAULT_PROVIDER;
	if (!d->pool_path) {
		fprintf(stderr, "npmud: --pool is required (or `pool = PATH` in the configuration)\n\n");
		if (!d->check)
			fprintf(stderr, usage, NPMU_DEFAULT_PORT, NPMU_SESSIONS_LIMIT, NPMU_SESSIONS_MAX, NPMUD_NICE);
		return 2;
	}
	return -1;
}

/* load_secrets -- the cluster key and the credentials named on the command line; -1 to go on,
 * else the exit status. */
static int load_secrets(struct npmud *d)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "npmud: libsodium failed to initialise\n");
		return 1;
	}
	if (d->key_path) {
		int krc = npmu__key_read(d->key_path, d->cluster_key);
		if (krc != 0) {
			fprintf(stderr, "npmud: cluster key %s: %s\n", d->key_path,
				npmu__key_problem(krc));
			return 2;
		}
	}
	if (d->cred_path) {
		char err[256];
		if (npmu__credentials_load(d->cred_path, &d->creds, err, sizeof(err)) != 0) {
			fprintf(stderr, "npmud: credentials %s: %s\n", d->cred_path, err);
			return 2;
		}
	}
	return -1;
}

/* open_pool -- open the pool, or create it when it is missing and a size was given. */
static int open_pool(struct npmud *d)
{
	struct stat st;
	int rc;
	if (stat(d->pool_path, &st) == 0) {
		rc = npmu__pool_open(d->pool_path, &d->pool);
		if (rc == 0 && d->size && d->size / NPMU_PAGE_SIZE != d->pool->sb.npages)
			LOG_WARN("pool %s exists with %llu bytes; --size ignored", d->pool_path,
				 (unsigned long long)d->pool->sb.pool_size);
	} else if (errno == ENOENT && d->size) {
		rc = npmu__pool_create(d->pool_path, d->size, &d->pool);
	} else if (errno == ENOENT) {
		fprintf(stderr, "npmud: pool %s does not exist; give --size to create it\n",
			d->pool_path);
		return NPMU_E_NOENT;
	} else {
		fprintf(stderr, "npmud: %s: %s\n", d->pool_path, strerror(errno));
		return NPMU_E_IO;
	}
	if (rc != 0)
		fprintf(stderr, "npmud: cannot use pool %s: %s\n", d->pool_path, npmu_strerror(rc));
	return rc;
}

/* start -- the endpoint, the TPT, the embedded manager, sessions and the service. */
static int start(struct npmud *d)
{
	int rc = npmu__fabric_open(d->provider, d->host, d->port, true, &d->fab);
	if (rc != 0) {
		fprintf(stderr, "npmud: cannot listen on %s with provider %s: %s\n", d->listen,
			d->provider, npmu_strerror(rc));
		return rc;
	}
	if ((rc = npmu__unit_new(d->pool, d->fab, &d->unit)) != 0) {
		fprintf(stderr, "npmud: cannot map the pool's regions: %s\n", npmu_strerror(rc));
		return rc;
	}
	if (!d->cred_path && !d->insecure && d->manager && !npmu__fabric_is_loopback(d->fab)) {
		fprintf(stderr, "npmud: refusing to serve %s without --credentials (access keys would be\n"
				"       handed to anyone who asks); give --credentials FILE, or --insecure\n",
			d->listen);
		return NPMU_E_ACCESS;
	}
	npmu__pmm_init(&d->pmm, &npmu__local_unit_ops, d->unit, d->cred_path ? &d->creds : NULL,
		       NPMU_LEASE_GRACE_MS);
	d->pmm.holders.probe = npmu__fabric_tcp(d->fab); /* a gone client's port refuses (holders.h) */
	if ((rc = npmu__sessions_init(&d->sessions, d->pmm.creds,
				      d->key_path ? d->cluster_key : NULL, "npmud",
				      (uint32_t)d->max_sessions)) != 0)
		return rc;
	d->sessions.probe = npmu__fabric_tcp(d->fab); /* likewise (sessions.h) */
	struct npmu__service_ops ops;
	npmu__unit_service_init(&d->handlers, d->unit, d->manager ? &d->pmm : NULL, &ops);
	return npmu__service_new(d->fab, &ops, d->cred_path || d->key_path ? &d->sessions : NULL,
				 &d->svc);
}

/* render -- (the metrics thread) the service's, the unit's and the process's metrics. */
static void render(void *arg, struct npmu__prom *out)
{
	struct npmud *d = arg;
	npmu__service_render(npmu__service_counters(d->svc), out);
	npmu__unit_service_render(&d->handlers, out);
	npmu__prom_process(out);
}

/* on_tick -- (the receiving thread) publish the gauges; show the watchdog we are alive. */
static void on_tick(void *arg)
{
	struct npmud *d = arg;
	npmu__unit_service_publish(&d->handlers);
	if (d->watchdog)
		npmu__daemon_watchdog();
}

/* announce -- log what serves where, publish the address, and tell systemd we are ready. */
static int announce(struct npmud *d)
{
	char addr[128];
	npmu__fabric_addr_str(d->fab, d->fab->name, addr, sizeof(addr));
	LOG_INFO("serving pool %s (%llu MiB, %u regions%s) on %s, provider %s%s%s%s", d->pool_path,
		 (unsigned long long)(d->pool->sb.pool_size >> 20), d->pool->meta.nregions,
		 d->pool->recovered_from ? ", recovered" : "", addr,
		 d->fab->info->fabric_attr->prov_name, d->manager ? ", embedded manager" : "",
		 d->cred_path ? ", authenticated sessions" : ", no authentication",
		 d->key_path ? ", programmable by a manager" : "");
	if (d->addr_file && npmu__daemon_write_addr(d->addr_file, addr) != 0) {
		fprintf(stderr, "npmud: cannot write %s: %s\n", d->addr_file, strerror(errno));
		return NPMU_E_IO;
	}
	unsigned watchdog_ms = npmu__daemon_watchdog_ms();
	d->watchdog = watchdog_ms != 0;
	npmu__service_set_tick(d->svc, on_tick, d, watchdog_ms);
	npmu__unit_service_publish(&d->handlers);
	npmu__daemon_ready("serving pool %s (%u regions) on %s", d->pool_path,
			   d->pool->meta.nregions, addr);
	return 0;
}

/* stop -- free everything start and open_pool made, in reverse. */
static void stop(struct npmud *d)
{
	npmu__metrics_stop(&d->metrics_srv);
	npmu__service_delete(&d->svc);
	npmu__unit_service_fini(&d->handlers);
	npmu__unit_delete(&d->unit);
	npmu__fabric_close(&d->fab);
	npmu__pool_close(&d->pool);
	if (d->pmm.ops)
		npmu__pmm_fini(&d->pmm);
	npmu__sessions_fini(&d->sessions);
	npmu__credentials_free(&d->creds);
	npmu__config_free(&d->cfg);
}

/* check_config -- --check-config: the settings and the files they name; 0 or 1. */
static int check_config(struct npmud *d, int rc)
{
	struct stat st;
	if (rc < 0 && stat(d->pool_path, &st) != 0 && (errno != ENOENT || !d->size)) {
		fprintf(stderr, "npmud: pool %s: %s\n", d->pool_path,
			errno == ENOENT ? "does not exist, and no size to create it with is given"
					: strerror(errno));
		rc = 1;
	}
	if (rc < 0)
		rc = load_secrets(d);
	if (rc < 0)
		printf("npmud: the configuration is good (%s)\n",
		       d->cfg.path ? d->cfg.path : "the command line alone");
	npmu__credentials_free(&d->creds);
	npmu__config_free(&d->cfg);
	return rc < 0 || rc == 0 ? 0 : 1;
}

/* stopped -- log and tell systemd what the service did. */
static void stopped(struct npmud *d)
{
	const struct npmu__service_counters *c = npmu__service_counters(d->svc);
	uint64_t answered = 0, failed = 0, refused = 0;
	for (int t = 0; t <= NPMU_MSG_TYPE_MAX; t++)
		for (int r = 0; r < NPMU__ERROR_NAMES; r++) {
			answered += npmu__metric_get(&c->answered[t][r]);
			failed += r ? npmu__metric_get(&c->answered[t][r]) : 0;
		}
	for (int r = 0; r < NPMU__REFUSALS; r++)
		refused += npmu__metric_get(&c->refused[r]);
	npmu__daemon_stopping("stopping: %llu requests answered", (unsigned long long)answered);
	LOG_INFO("stopping: %llu requests answered (%llu with an error), %llu messages refused",
		 (unsigned long long)answered, (unsigned long long)failed,
		 (unsigned long long)refused);
}

int main(int argc, char **argv)
{
	static struct npmud d; /* (large: the session tables) */
	npmu__log_init("npmud", NPMU_LOG_INFO);
	int rc = parse_args(argc, argv, &d);
	if (d.check)
		return check_config(&d, rc);
	if (rc >= 0) {
		npmu__config_free(&d.cfg);
		return rc;
	}
	npmu__log_init("npmud", d.verbose ? NPMU_LOG_DEBUG : NPMU_LOG_INFO);
	if ((rc = load_secrets(&d)) >= 0) {
		npmu__credentials_free(&d.creds);
		npmu__config_free(&d.cfg);
		return rc;
	}
	npmu__daemon_raise_fd_limit();
	npmu__daemon_set_nice((int)d.nice); /* (before any thread: they inherit it) */
	int stop_fd = npmu__daemon_stop_fd();
	if ((rc = open_pool(&d)) == 0 && (rc = start(&d)) == 0 &&
	    (!d.metrics ||
	     (rc = npmu__daemon_serve_metrics("npmud", d.metrics, d.metrics_insecure,
					      d.metrics_addr_file, render, &d, &d.metrics_srv)) == 0) &&
	    (rc = announce(&d)) == 0) {
		rc = npmu__service_run(d.svc, stop_fd, (unsigned)d.spin_us);
		stopped(&d);
	}
	stop(&d);
	return rc == 0 ? 0 : 1;
}
