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

static const char usage[] =
	"Usage: npmud --pool PATH [--size SIZE] [options]\n"
	"\n"
	"Serve a persistent memory pool to clients over libfabric: regions are read and written\n"
	"with one-sided RDMA; the embedded manager creates, opens and deletes them by name.\n"
	"\n"
	"  -p, --pool PATH        pool file (created when missing and --size is given)\n"
	"  -s, --size SIZE        size of a new pool: bytes or 64M, 4G, 1T (at least 1M)\n"
	"  -l, --listen HOST:PORT address to serve on (default 127.0.0.1:%d; port 0 picks one)\n"
	"  -P, --provider NAME    libfabric provider (default $NPMU_PROVIDER or \"tcp\")\n"
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

static struct npmu__sessions sessions;

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pool", required_argument, NULL, 'p'},   {"size", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'}, {"provider", required_argument, NULL, 'P'},
		{"no-manager", no_argument, NULL, 'M'},   {"manager", no_argument, NULL, 'm'},   {"addr-file", required_argument, NULL, 'A'},
		{"spin-us", required_argument, NULL, 'S'},
		{"credentials", required_argument, NULL, 'c'},
		{"insecure", no_argument, NULL, 'I'},
		{"cluster-key", required_argument, NULL, 'k'},
		{"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *pool_path = NULL, *size_text = NULL, *listen = "127.0.0.1";
	const char *provider = getenv("NPMU_PROVIDER"), *addr_file = NULL, *cred_path = NULL,
		   *key_path = NULL;
	static uint8_t cluster_key[NPMU_KEY_LEN];
	int insecure = 0;
	int manager = 1, verbose = 0, c;
	long spin_us = 200;
	while ((c = getopt_long(argc, argv, "p:s:l:P:c:k:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': pool_path = optarg; break;
		case 's': size_text = optarg; break;
		case 'l': listen = optarg; break;
		case 'P': provider = optarg; break;
		case 'M': manager = 0; break;
		case 'm': manager = 1; break;
		case 'c': cred_path = optarg; break;
		case 'I': insecure = 1; break;
		case 'k': key_path = optarg; break;
		case 'A': addr_file = optarg; break;
		case 'S': {
			char *end;
			spin_us = strtol(optarg, &end, 10);
			if (*end || spin_us < 0 || spin_us > 1000000) {
				fprintf(stderr, "npmud: --spin-us takes 0..1000000\n");
				return 2;
			}
			break;
		}
		case 'v': verbose = 1; break;
		case 'h': printf(usage, NPMU_DEFAULT_PORT); return 0;
		default: fprintf(stderr, usage, NPMU_DEFAULT_PORT); return 2;
		}
	}
	if (!provider)
		provider = NPMU_DEFAULT_PROVIDER;
	npmu__log_init("npmud", verbose ? NPMU_LOG_DEBUG : NPMU_LOG_INFO);
	if (!pool_path || optind != argc) {
		fprintf(stderr, "npmud: %s\n\n", pool_path ? "unexpected argument" : "--pool is required");
		fprintf(stderr, usage, NPMU_DEFAULT_PORT);
		return 2;
	}
	uint64_t size = 0;
	if (size_text && npmu_parse_size(size_text, &size) != 0) {
		fprintf(stderr, "npmud: invalid size '%s' (examples: 1048576, 64M, 4G)\n", size_text);
		return 2;
	}
	char host[256], port[16];
	if (npmu__split_hostport(listen, host, sizeof(host), port, sizeof(port), NPMU_DEFAULT_PORT) != 0) {
		fprintf(stderr, "npmud: invalid --listen '%s' (expected HOST:PORT)\n", listen);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "npmud: libsodium failed to initialise\n");
		return 1;
	}
	if (key_path) {
		int krc = npmu__key_read(key_path, cluster_key);
		if (krc != 0) {
			fprintf(stderr, "npmud: cluster key %s: %s\n", key_path, npmu__key_problem(krc));
			return 2;
		}
	}
	struct npmu__credentials creds = {0};
	if (cred_path) {
		char err[256];
		int crc = npmu__credentials_load(cred_path, &creds, err, sizeof(err));
		if (crc != 0) {
			fprintf(stderr, "npmud: credentials %s: %s\n", cred_path, err);
			return 2;
		}
	}

	int stop_fd = npmu__daemon_stop_fd();

	struct npmu__pool *pool = NULL;
	struct stat st;
	int rc;
	if (stat(pool_path, &st) == 0) {
		rc = npmu__pool_open(pool_path, &pool);
		if (rc == 0 && size && size / NPMU_PAGE_SIZE != pool->sb.npages)
			LOG_WARN("pool %s exists with %llu bytes; --size ignored", pool_path,
				 (unsigned long long)pool->sb.pool_size);
	} else if (errno == ENOENT && size) {
		rc = npmu__pool_create(pool_path, size, &pool);
	} else if (errno == ENOENT) {
		fprintf(stderr, "npmud: pool %s does not exist; give --size to create it\n", pool_path);
		return 1;
	} else {
		fprintf(stderr, "npmud: %s: %s\n", pool_path, strerror(errno));
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "npmud: cannot use pool %s: %s\n", pool_path, npmu_strerror(rc));
		return 1;
	}

	struct npmu__fabric *fab = NULL;
	struct npmu__unit *unit = NULL;
	struct npmu__service *svc = NULL;
	static struct npmu__pmm pmm;
	static struct npmu__unit_service handlers;
	struct npmu__service_ops ops;
	if ((rc = npmu__fabric_open(provider, host, port, true, &fab)) != 0) {
		fprintf(stderr, "npmud: cannot listen on %s with provider %s: %s\n", listen, provider,
			npmu_strerror(rc));
		goto out;
	}
	if ((rc = npmu__unit_new(pool, fab, &unit)) != 0) {
		fprintf(stderr, "npmud: cannot map the pool's regions: %s\n", npmu_strerror(rc));
		goto out;
	}
	if (!cred_path && !insecure && manager && !npmu__fabric_is_loopback(fab)) {
		fprintf(stderr, "npmud: refusing to serve %s without --credentials (access keys would be\n"
				"       handed to anyone who asks); give --credentials FILE, or --insecure\n",
			listen);
		rc = NPMU_E_ACCESS;
		goto out;
	}
	npmu__pmm_init(&pmm, &npmu__local_unit_ops, unit, cred_path ? &creds : NULL,
		       NPMU_LEASE_GRACE_MS);
	pmm.holders.probe = npmu__fabric_tcp(fab); /* a gone client's port refuses (holders.h) */
	npmu__sessions_init(&sessions, pmm.creds, key_path ? cluster_key : NULL, "npmud");
	sessions.probe = npmu__fabric_tcp(fab); /* likewise (sessions.h) */
	npmu__unit_service_init(&handlers, unit, manager ? &pmm : NULL, &ops);
	if ((rc = npmu__service_new(fab, &ops, cred_path || key_path ? &sessions : NULL, &svc)) != 0)
		goto out;
	char addr[128];
	npmu__fabric_addr_str(fab, fab->name, addr, sizeof(addr));
	LOG_INFO("serving pool %s (%llu MiB, %u regions%s) on %s, provider %s%s%s%s", pool_path,
		 (unsigned long long)(pool->sb.pool_size >> 20), pool->meta.nregions,
		 pool->recovered_from ? ", recovered" : "", addr, fab->info->fabric_attr->prov_name,
		 manager ? ", embedded manager" : "",
		 cred_path ? ", authenticated sessions" : ", no authentication",
		 key_path ? ", programmable by a manager" : "");
	if (addr_file && npmu__daemon_write_addr(addr_file, addr) != 0) {
		fprintf(stderr, "npmud: cannot write %s: %s\n", addr_file, strerror(errno));
		rc = NPMU_E_IO;
		goto out;
	}
	rc = npmu__service_run(svc, stop_fd, (unsigned)spin_us);
	struct npmu__service_stats stats = npmu__service_stats(svc);
	LOG_INFO("stopping: %llu requests served, %llu rejected", (unsigned long long)stats.requests,
		 (unsigned long long)stats.rejected);
out:
	npmu__service_delete(&svc);
	npmu__unit_service_fini(&handlers);
	npmu__unit_delete(&unit);
	npmu__fabric_close(&fab);
	npmu__pool_close(&pool);
	if (pmm.ops)
		npmu__pmm_fini(&pmm);
	npmu__sessions_fini(&sessions);
	npmu__credentials_free(&creds);
	return rc == 0 ? 0 : 1;
}
