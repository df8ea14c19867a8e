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
#include "credentials.h"
#include "daemon.h"
#include "unit_serve.h"
#include "service.h"
#include "sessions.h"
#include "unit_ops.h"
#include "size.h"

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
	"      --manager          run the embedded manager (the default)\n"
	"      --no-manager       do not run the embedded manager (units managed by pmmd)\n"
	"      --addr-file PATH   write the address served on to PATH once ready\n"
	"      --spin-us N        keep polling N microseconds after activity before sleeping\n"
	"                         (default 200; 0: sleep at once, lowest CPU, higher latency)\n"
	"  -v, --verbose          debug logging (default: one line per region operation and\n"
	"                         per rejected request; NPMU_LOG=error|warn|info|debug)\n"
	"  -h, --help             this text\n"
	"\n"
	"Stops cleanly on SIGINT or SIGTERM. After any stop, clean or not, the next start\n"
	"rebuilds every region, its data and its open rights from the pool alone.\n";

/* What npmud was asked to do, and what it runs. */
struct npmud {
	/* the command line */
	const char *pool_path, *size_text, *listen, *provider, *addr_file, *cred_path, *key_path;
	int insecure, manager, verbose;
	long spin_us;
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
};

/* parse_args -- the command line into d; -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct npmud *d)
{
	static const struct option opts[] = {
		{"pool", required_argument, NULL, 'p'},   {"size", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'}, {"provider", required_argument, NULL, 'P'},
		{"no-manager", no_argument, NULL, 'M'},   {"manager", no_argument, NULL, 'm'},
		{"addr-file", required_argument, NULL, 'A'},
		{"spin-us", required_argument, NULL, 'S'},
		{"credentials", required_argument, NULL, 'c'},
		{"insecure", no_argument, NULL, 'I'},
		{"cluster-key", required_argument, NULL, 'k'},
		{"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	d->listen = "127.0.0.1";
	d->provider = getenv("NPMU_PROVIDER");
	d->manager = 1;
	d->spin_us = 200;
	int c;
	while ((c = getopt_long(argc, argv, "p:s:l:P:c:k:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': d->pool_path = optarg; break;
		case 's': d->size_text = optarg; break;
		case 'l': d->listen = optarg; break;
		case 'P': d->provider = optarg; break;
		case 'M': d->manager = 0; break;
		case 'm': d->manager = 1; break;
		case 'c': d->cred_path = optarg; break;
		case 'I': d->insecure = 1; break;
		case 'k': d->key_path = optarg; break;
		case 'A': d->addr_file = optarg; break;
		case 'S': {
			char *end;
			d->spin_us = strtol(optarg, &end, 10);
			if (*end || d->spin_us < 0 || d->spin_us > 1000000) {
				fprintf(stderr, "npmud: --spin-us takes 0..1000000\n");
				return 2;
			}
			break;
		}
		case 'v': d->verbose = 1; break;
		case 'h': printf(usage, NPMU_DEFAULT_PORT); return 0;
		default: fprintf(stderr, usage, NPMU_DEFAULT_PORT); return 2;
		}
	}
	if (!d->provider)
		d->provider = NPMU_DEFAULT_PROVIDER;
	if (!d->pool_path || optind != argc) {
		fprintf(stderr, "npmud: %s\n\n", d->pool_path ? "unexpected argument" : "--pool is required");
		fprintf(stderr, usage, NPMU_DEFAULT_PORT);
		return 2;
	}
	if (d->size_text && npmu__size_parse(d->size_text, &d->size) != 0) {
		fprintf(stderr, "npmud: invalid size '%s' (examples: 1048576, 64M, 4G)\n", d->size_text);
		return 2;
	}
	if (npmu__split_hostport(d->listen, d->host, sizeof(d->host), d->port, sizeof(d->port),
				 NPMU_DEFAULT_PORT) != 0) {
		fprintf(stderr, "npmud: invalid --listen '%s' (expected HOST:PORT)\n", d->listen);
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
	npmu__sessions_init(&d->sessions, d->pmm.creds, d->key_path ? d->cluster_key : NULL, "npmud");
	d->sessions.probe = npmu__fabric_tcp(d->fab); /* likewise (sessions.h) */
	struct npmu__service_ops ops;
	npmu__unit_service_init(&d->handlers, d->unit, d->manager ? &d->pmm : NULL, &ops);
	return npmu__service_new(d->fab, &ops, d->cred_path || d->key_path ? &d->sessions : NULL,
				 &d->svc);
}

/* announce -- log what serves where, and publish the address. */
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
	return 0;
}

/* stop -- free everything start and open_pool made, in reverse. */
static void stop(struct npmud *d)
{
	npmu__service_delete(&d->svc);
	npmu__unit_service_fini(&d->handlers);
	npmu__unit_delete(&d->unit);
	npmu__fabric_close(&d->fab);
	npmu__pool_close(&d->pool);
	if (d->pmm.ops)
		npmu__pmm_fini(&d->pmm);
	npmu__sessions_fini(&d->sessions);
	npmu__credentials_free(&d->creds);
}

int main(int argc, char **argv)
{
	static struct npmud d; /* (large: the session tables) */
	int rc = parse_args(argc, argv, &d);
	if (rc >= 0)
		return rc;
	npmu__log_init("npmud", d.verbose ? NPMU_LOG_DEBUG : NPMU_LOG_INFO);
	if ((rc = load_secrets(&d)) >= 0)
		return rc;
	int stop_fd = npmu__daemon_stop_fd();
	if ((rc = open_pool(&d)) == 0 && (rc = start(&d)) == 0 && (rc = announce(&d)) == 0) {
		rc = npmu__service_run(d.svc, stop_fd, (unsigned)d.spin_us);
		struct npmu__service_stats stats = npmu__service_stats(d.svc);
		LOG_INFO("stopping: %llu requests served, %llu rejected",
			 (unsigned long long)stats.requests, (unsigned long long)stats.rejected);
	}
	stop(&d);
	return rc == 0 ? 0 : 1;
}
