/* fabric.c -- open a libfabric RDM endpoint for npmu and translate what it says about memory registration. */
#include "fabric.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "errors.h"
#include "log.h"

#define NPMU_FI_VERSION FI_VERSION(1, 17)

/* npmu__split_hostport -- split "host:port" or "[v6]:port" (port optional). */
int npmu__split_hostport(const char *text, char *host, size_t hostlen, char *port, size_t portlen,
			 int default_port)
{
	if (!text || !*text)
		return NPMU_E_INVAL;
	const char *colon;
	size_t hl;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close)
			return NPMU_E_INVAL;
		hl = (size_t)(close - text - 1);
		text++;
		colon = close[1] == ':' ? close + 1 : NULL;
		if (!colon && close[1] != '\0')
			return NPMU_E_INVAL;
	} else {
		colon = strrchr(text, ':');
		hl = colon ? (size_t)(colon - text) : strlen(text);
	}
	if (hl == 0 || hl >= hostlen)
		return NPMU_E_INVAL;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end != '\0' || colon[1] == '\0' || p < 0 || p > 65535)
			return NPMU_E_INVAL;
		snprintf(port, portlen, "%ld", p);
	} else {
		snprintf(port, portlen, "%d", default_port);
	}
	return 0;
}

/* npmu__fabric_close -- close everything; NULLs *fab_ptr. */
void npmu__fabric_close(struct npmu__fabric **fab_ptr)
{
	struct npmu__fabric *fab = *fab_ptr;
	if (!fab)
		return;
	if (fab->ep)
		fi_close(&fab->ep->fid);
	if (fab->av)
		fi_close(&fab->av->fid);
	if (fab->cq)
		fi_close(&fab->cq->fid);
	if (fab->domain)
		fi_close(&fab->domain->fid);
	if (fab->fabric)
		fi_close(&fab->fabric->fid);
	if (fab->info)
		fi_freeinfo(fab->info);
	free(fab);
	*fab_ptr = NULL;
}

/* Endpoints given up with transfers in flight (npmu__fabric_abandon), kept reachable. */
static struct {
	pthread_mutex_t lock;
	struct npmu__fabric **fab;
	size_t n, cap;
} abandoned = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* npmu__fabric_abandoned -- the count of endpoints abandoned. */
size_t npmu__fabric_abandoned(void)
{
	pthread_mutex_lock(&abandoned.lock);
	size_t n = abandoned.n;
	pthread_mutex_unlock(&abandoned.lock);
	return n;
}

/* npmu__fabric_abandon -- keep an endpoint with transfers in flight, unclosed (see fabric.h). */
void npmu__fabric_abandon(struct npmu__fabric **fab_ptr)
{
	struct npmu__fabric *fab = *fab_ptr;
	if (!fab)
		return;
	*fab_ptr = NULL;
	pthread_mutex_lock(&abandoned.lock);
	if (abandoned.n == abandoned.cap) {
		size_t cap = abandoned.cap ? 2 * abandoned.cap : 8;
		void *p = realloc(abandoned.fab, cap * sizeof(*abandoned.fab));
		if (p) {
			abandoned.fab = p;
			abandoned.cap = cap;
		}
	}
	if (abandoned.n < abandoned.cap)
		abandoned.fab[abandoned.n] = fab;
	size_t total = ++abandoned.n;
	pthread_mutex_unlock(&abandoned.lock);
	LOG_WARN("fabric: an endpoint whose peer stopped answering mid-transfer is kept open, "
		 "unused, until the process exits (%zu so far)", total);
}

/* fail -- log a libfabric failure and translate it; the same failure again within 10 s (a
 * client retrying while its link is down) is counted, not logged again. */
static int fail(const char *what, int rc)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static const char *last_what;
	static int last_rc;
	static uint64_t last_ns, repeats;
	uint64_t now = npmu__now_ns();
	pthread_mutex_lock(&lock);
	bool again = what == last_what && rc == last_rc && now - last_ns < 10000000000ull;
	uint64_t n = repeats;
	if (again) {
		repeats++;
	} else {
		last_what = what;
		last_rc = rc;
		last_ns = now;
		repeats = 0;
	}
	pthread_mutex_unlock(&lock);
	if (!again && n)
		LOG_ERR("fabric: %s: %s (%llu repeats of the failure before not logged)", what,
			fi_strerror(-rc), (unsigned long long)n);
	else if (!again)
		LOG_ERR("fabric: %s: %s", what, fi_strerror(-rc));
	return npmu__from_fi(rc);
}

/*
 * Provider settings that libfabric 1.17 takes only from the environment, read when it first
 * initializes (fi_getinfo; the eager limit at each endpoint's start): tcp;ofi_rxm sizes its
 * buffer pools from them, not from any
 * attribute. They are set before npmu's first fi_getinfo unless the user set them (theirs win);
 * a process whose host initialized libfabric first keeps the defaults (each endpoint then costs
 * about 36 MiB, and stays compatible: see the eager limit). Per endpoint, measured on loopback
 * (RSS of a client greeting a unit, N endpoints; bench/memory.c reports it in make bench):
 *
 *  - FI_OFI_RXM_BUFFER_SIZE=256 (default 16384): rxm's bounce buffers. Its receive and transmit
 *    pools each allocate (and zero) 1024 buffers at once, whatever the queue sizes: 2 x 17 MiB
 *    at 16384, 2 x 0.5 MiB at 256. On tcp nothing npmu sends needs them: a message goes out
 *    from the caller's buffer (direct send) and lands in the posted receive, or in a buffer of
 *    its own size when none is posted (dynamic receive buffers); the bounce buffers carry only
 *    rxm's own control packets and unexpected messages up to their size. (Over verbs, which
 *    has neither, messages above 256 bytes would take rxm's segmented or rendezvous protocol:
 *    slower, still correct.)
 *  - FI_OFI_RXM_EAGER_LIMIT=16384: rxm's default eager limit, kept. rxm refuses a connection
 *    whose two ends have different eager limits, and the limit would otherwise follow the
 *    buffer size; so a process with these settings and one without (an older npmu, or a host
 *    that initialized libfabric first) still connect, and every npmu message (at most
 *    NPMU_WIRE_MAX bytes) goes eagerly, in one packet.
 *  - FI_OFI_RXM_MSG_RX_SIZE=32 (default 4096): receives rxm keeps posted on its shared receive
 *    context, taken from the receive pool: at 4096 with 16 KiB buffers four pools' worth, 87
 *    MiB. npmu sends one control message at a time per connection and moves data one-sided; a
 *    unit's messages beyond 32 at once wait in their sockets (the many-clients tests).
 *  - FI_UNIVERSE_SIZE=16 (default 1024): rxm sizes the CQ of its connections at 32 + 128 x this
 *    many completions, a ring whose pages are touched as it wraps: up to 12 MiB per endpoint
 *    after about 130,000 operations (RSS growing over a run), 0.2 MiB at 16. Completions beyond
 *    the ring are queued apart (libfabric's CQ overflow list), so a unit with hundreds of
 *    clients loses none; npmu has at most a few hundred in flight per endpoint. npmu's own AVs
 *    give their size (NPMU_FABRIC_*_PEERS), so it sizes nothing else of npmu's.
 *
 * What attributes can say is said there: queue depths (fi_getinfo hints), CQ and AV sizes,
 * by role (fabric.h); rxm keeps a receive entry per unit of receive depth (its default 2048:
 * 1 MiB per endpoint). Altogether a client's endpoint costs 2.3 MiB instead of 35 MiB, an idle
 * npmud 8.8 MiB instead of 26 MiB, and neither grows over a run.
 */
static const struct {
	const char *name, *value;
} provider_settings[] = {
	{"FI_OFI_RXM_BUFFER_SIZE", "256"},
	{"FI_OFI_RXM_EAGER_LIMIT", "16384"},
	{"FI_OFI_RXM_MSG_RX_SIZE", "32"},
	{"FI_UNIVERSE_SIZE", "16"},
};

/* provider_defaults -- the settings above, before libfabric first reads its environment (a
 * value the user set wins). */
static void provider_defaults(void)
{
	for (size_t i = 0; i < sizeof(provider_settings) / sizeof(provider_settings[0]); i++)
		setenv(provider_settings[i].name, provider_settings[i].value, 0);
}

/* get_info -- what provider offers for an RDM endpoint with messages and RMA, delivery
 * complete: sends ordered after writes (FI_ORDER_SAW) if it can, requested keys and offset
 * addressing if it can, else its own modes. */
static int get_info(const char *provider, const char *node, const char *service, bool listen,
		    struct fi_info **info)
{
	struct fi_info *hints = fi_allocinfo();
	if (!hints)
		return NPMU_E_NOMEM;
	hints->ep_attr->type = FI_EP_RDM;
	hints->caps = FI_MSG | FI_RMA | FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE;
	hints->tx_attr->op_flags = FI_DELIVERY_COMPLETE;
	hints->domain_attr->threading = FI_THREAD_SAFE;
	hints->tx_attr->size = listen ? NPMU_FABRIC_SERVER_TX : NPMU_FABRIC_CLIENT_TX;
	hints->rx_attr->size = listen ? NPMU_FABRIC_SERVER_RX : NPMU_FABRIC_CLIENT_RX;
	hints->fabric_attr->prov_name = strdup(provider);
	/* Prefer ordered sends, then requested keys and offset addressing: ask with the order and
	 * without those modes first. */
	const uint64_t all_modes = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY |
				   FI_MR_ENDPOINT;
	const uint64_t modes[2] = {0, all_modes}, orders[2] = {FI_ORDER_SAW, 0};
	int rc = -FI_ENODATA;
	for (int i = 0; i < 4 && rc != 0; i++) {
		hints->tx_attr->msg_order = orders[i / 2];
		hints->domain_attr->mr_mode = (int)modes[i % 2];
		rc = fi_getinfo(NPMU_FI_VERSION, node, service, listen ? FI_SOURCE : 0, hints, info);
	}
	fi_freeinfo(hints);
	if (rc != 0) {
		LOG_ERR("fabric: no provider '%s' for %s:%s: %s", provider, node ? node : "*",
			service ? service : "*", fi_strerror(-rc));
		return rc == -FI_ENODATA ? NPMU_E_UNREACHABLE : npmu__from_fi(rc);
	}
	return 0;
}

/* open_cq -- the completion queue, room for everything the role keeps in flight, with a wait
 * fd to sleep on where the provider has one. */
static int open_cq(struct npmu__fabric *fab, bool listen)
{
	size_t size = listen ? NPMU_FABRIC_SERVER_TX + NPMU_FABRIC_SERVER_RX
			     : NPMU_FABRIC_CLIENT_TX + NPMU_FABRIC_CLIENT_RX;
	struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_MSG, .wait_obj = FI_WAIT_FD, .size = size};
	int rc = fi_cq_open(fab->domain, &cq_attr, &fab->cq, NULL);
	if (rc != 0) {
		cq_attr.wait_obj = FI_WAIT_NONE;
		if ((rc = fi_cq_open(fab->domain, &cq_attr, &fab->cq, NULL)) != 0)
			return fail("fi_cq_open", rc);
	} else if (fi_control(&fab->cq->fid, FI_GETWAIT, &fab->wait_fd) != 0) {
		fab->wait_fd = -1;
	}
	return 0;
}

/* open_endpoint -- the address vector and the endpoint bound to it and the CQ, enabled, with
 * its own address in fab->name. */
static int open_endpoint(struct npmu__fabric *fab, bool listen)
{
	struct fi_av_attr av_attr = {
		.type = FI_AV_TABLE,
		.count = listen ? NPMU_FABRIC_SERVER_PEERS : NPMU_FABRIC_CLIENT_PEERS};
	int rc = fi_av_open(fab->domain, &av_attr, &fab->av, NULL);
	if (rc != 0 && av_attr.count > 256) { /* (shm holds 256 peers at most) */
		av_attr.count = 256;
		rc = fi_av_open(fab->domain, &av_attr, &fab->av, NULL);
	}
	if (rc != 0)
		return fail("fi_av_open", rc);
	fab->av_count = av_attr.count;
	if ((rc = fi_endpoint(fab->domain, fab->info, &fab->ep, NULL)) != 0)
		return fail(listen ? "fi_endpoint (address in use?)" : "fi_endpoint", rc);
	if ((rc = fi_ep_bind(fab->ep, &fab->av->fid, 0)) != 0 ||
	    (rc = fi_ep_bind(fab->ep, &fab->cq->fid, FI_TRANSMIT | FI_RECV)) != 0 ||
	    (rc = fi_enable(fab->ep)) != 0)
		return fail("endpoint setup", rc);
	fab->name_len = sizeof(fab->name);
	if ((rc = fi_getname(&fab->ep->fid, fab->name, &fab->name_len)) != 0)
		return fail("fi_getname", rc);
	return 0;
}

/* shm_mapped -- whether any process maps path (a line of some /proc/PID/maps names it). */
static bool shm_mapped(const char *path)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return true; /* cannot tell: assume so */
	bool found = false;
	struct dirent *d;
	char maps[64], line[4096];
	while (!found && (d = readdir(proc)) != NULL) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(maps, sizeof(maps), "/proc/%.20s/maps", d->d_name);
		FILE *f = fopen(maps, "r");
		while (f && !found && fgets(line, sizeof(line), f)) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			size_t n = strlen(line), m = strlen(path);
			found = n >= m && strcmp(line + n - m, path) == 0 &&
				(n == m || line[n - m - 1] == ' ');
		}
		if (f)
			fclose(f);
	}
	closedir(proc);
	return found;
}

/*
 * shm_clear_stale -- (a unit about to listen on shm as node:service) remove the shared memory
 * region of that name that a unit killed before it could close left behind, so a restart is
 * not refused as busy; one that a live process maps is left alone (the listen then fails).
 */
static void shm_clear_stale(const char *node, const char *service)
{
	char path[512];
	snprintf(path, sizeof(path), "/dev/shm/%s:%s", node, service ? service : "0");
	if (strchr(path + 9, '/') || access(path, F_OK) != 0 || shm_mapped(path))
		return;
	if (unlink(path) == 0)
		LOG_WARN("fabric: removed %s, left by a unit that stopped without closing it", path);
}

/* npmu__fabric_open -- open provider `provider` and an enabled RDM endpoint. */
int npmu__fabric_open(const char *provider, const char *node, const char *service, bool listen,
		      struct npmu__fabric **fab_ptr)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, provider_defaults);
	struct npmu__fabric *fab = calloc(1, sizeof(*fab));
	if (!fab)
		return NPMU_E_NOMEM;
	fab->wait_fd = -1;
	if (listen && node && strcmp(provider, "shm") == 0)
		shm_clear_stale(node, service);
	int rc = get_info(provider, node, service, listen, &fab->info);
	if (rc != 0) {
		free(fab);
		return rc;
	}
	int mode = fab->info->domain_attr->mr_mode;
	fab->virt_addr = mode & FI_MR_VIRT_ADDR;
	fab->prov_key = mode & FI_MR_PROV_KEY;
	fab->local_mr = mode & FI_MR_LOCAL;
	fab->mr_endpoint = mode & FI_MR_ENDPOINT;
	fab->max_rma = fab->info->ep_attr->max_msg_size;
	fab->send_after_write = fab->info->tx_attr->msg_order & FI_ORDER_SAW;
	if ((rc = fi_fabric(fab->info->fabric_attr, &fab->fabric, NULL)) != 0)
		rc = fail("fi_fabric", rc);
	else if ((rc = fi_domain(fab->fabric, fab->info, &fab->domain, NULL)) != 0)
		rc = fail("fi_domain", rc);
	else if ((rc = open_cq(fab, listen)) == 0)
		rc = open_endpoint(fab, listen);
	if (rc != 0) {
		npmu__fabric_close(&fab);
		return rc;
	}
	*fab_ptr = fab;
	return 0;
}

/* npmu__fabric_cq_read -- fi_cq_read with errno cleared first (see fabric.h). */
ssize_t npmu__fabric_cq_read(struct npmu__fabric *fab, void *buf, size_t count)
{
	errno = 0;
	return fi_cq_read(fab->cq, buf, count);
}

/* npmu__fabric_wait -- sleep on the endpoints' CQ wait fds until one may have work. */
bool npmu__fabric_wait(struct npmu__fabric *const *fabs, int n, int timeout_ms)
{
	struct pollfd p[64];
	if (n < 1 || n > 64)
		return false;
	for (int i = 0; i < n; i++) {
		if (!fabs[i] || fabs[i]->wait_fd < 0)
			return false;
		struct fid *cq = &fabs[i]->cq->fid;
		errno = 0; /* (a progress call: see npmu__fabric_cq_read) */
		if (fi_trywait(fabs[i]->fabric, &cq, 1) != FI_SUCCESS)
			return true; /* something is there (or progress is due): look now */
		p[i] = (struct pollfd){.fd = fabs[i]->wait_fd, .events = POLLIN};
	}
	(void)poll(p, (nfds_t)n, timeout_ms);
	return true;
}

/* npmu__fabric_addr_str -- "host:port" of a socket-style fabric address. */
int npmu__fabric_addr_str(const struct npmu__fabric *fab, const void *addr, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	switch (fab->info->addr_format) {
	case FI_SOCKADDR_IN: {
		const struct sockaddr_in *sin = addr;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
		return 0;
	}
	case FI_SOCKADDR_IN6: {
		const struct sockaddr_in6 *sin6 = addr;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
		return 0;
	}
	default: {
		/* a string address: shm prints a named endpoint as fi_ns://NAME:SERVICE, which
		 * clients reach as NAME:SERVICE */
		size_t l = len;
		fi_av_straddr(fab->av, addr, buf, &l);
		if (strncmp(buf, "fi_ns://", 8) == 0)
			memmove(buf, buf + 8, strlen(buf + 8) + 1);
		return 0;
	}
	}
}

/* npmu__fabric_tcp -- whether fab's addresses are TCP ports (tcp or sockets provider). */
bool npmu__fabric_tcp(const struct npmu__fabric *fab)
{
	const char *prov = fab->info->fabric_attr->prov_name; /* "tcp;ofi_rxm" */
	return prov && (strncmp(prov, "tcp", 3) == 0 || strncmp(prov, "sockets", 7) == 0) &&
	       (fab->info->addr_format == FI_SOCKADDR_IN || fab->info->addr_format == FI_SOCKADDR_IN6);
}

/* probe -- whether a socket address refuses TCP connections (100 ms at most); with no_route,
 * also when there is no route to it (a definitive answer too, for now). */
static bool probe(const void *addr, size_t addr_len, bool no_route)
{
	const struct sockaddr *sa = addr;
	socklen_t len;
	if (addr_len >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (addr_len >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		return false;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool refused;
	int err = connect(fd, sa, len) == 0 ? 0 : errno;
	if (err == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		socklen_t el = sizeof(err);
		if (poll(&p, 1, 100) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
			err = 0;
	}
	refused = err == ECONNREFUSED ||
		  (no_route && (err == EHOSTUNREACH || err == ENETUNREACH || err == EACCES));
	close(fd);
	return refused;
}

/* npmu__addr_refused -- whether a socket address refuses TCP connections (100 ms at most). */
bool npmu__addr_refused(const void *addr, size_t addr_len)
{
	return probe(addr, addr_len, false);
}

/* npmu__fabric_refused -- whether a peer of fab cannot be reached now: nothing listens there, or
 * there is no route to it. */
bool npmu__fabric_refused(const struct npmu__fabric *fab, const void *addr)
{
	return addr && npmu__fabric_tcp(fab) &&
	       probe(addr, fab->info->dest_addrlen ? fab->info->dest_addrlen
						   : sizeof(struct sockaddr_in6), true);
}

/* npmu__fabric_is_loopback -- whether our own address is 127.0.0.0/8 or ::1, or the provider
 * reaches only this host (shm). */
bool npmu__fabric_is_loopback(const struct npmu__fabric *fab)
{
	const char *prov = fab->info->fabric_attr->prov_name;
	if (prov && strcmp(prov, "shm") == 0)
		return true;
	if (fab->info->addr_format == FI_SOCKADDR_IN) {
		const struct sockaddr_in *sin = (const void *)fab->name;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (fab->info->addr_format == FI_SOCKADDR_IN6) {
		const struct sockaddr_in6 *sin6 = (const void *)fab->name;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	return false;
}

/* npmu__fabric_mr_reg -- register memory for remote access under a requested (or provider) key. */
int npmu__fabric_mr_reg(struct npmu__fabric *fab, void *buf, size_t len, uint64_t access,
			uint64_t requested, struct fid_mr **mr, uint64_t *key)
{
	int rc = fi_mr_reg(fab->domain, buf, len, access, 0, fab->prov_key ? 0 : requested, 0, mr,
			   NULL);
	if (rc != 0)
		return fail("fi_mr_reg", rc);
	if (fab->mr_endpoint) {
		if ((rc = fi_mr_bind(*mr, &fab->ep->fid, 0)) != 0 ||
		    (rc = fi_mr_enable(*mr)) != 0) {
			fi_close(&(*mr)->fid);
			*mr = NULL;
			return fail("fi_mr_bind", rc);
		}
	}
	*key = fab->prov_key ? fi_mr_key(*mr) : requested;
	return 0;
}
