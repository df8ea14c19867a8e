/* metrics_http.c -- the metrics endpoint: libmicrohttpd on its own thread (metrics_http.h). */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "npmu.h"

#define METRICS_CONNECTIONS 16 /* scrapers at once */
#define METRICS_TIMEOUT_S 10   /* an idle connection is closed after this */

struct npmu__metrics_server {
	struct MHD_Daemon *mhd;
	npmu__metrics_render render;
	void *arg;
	char addr[128];
};

/* respond -- queue a response of text (copied or taken, as mode says) with status. */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
			       const char *text, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* answer -- GET /metrics: the exposition; anything else: 404 or 405. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **state)
{
	(void)version;
	(void)upload_data;
	struct npmu__metrics_server *s = cls;
	static const char plain[] = "text/plain; charset=utf-8";
	if (*upload_size) { /* a body we do not want: let it go */
		*upload_size = 0;
		return MHD_YES;
	}
	if (!*state) { /* (called first with the headers alone) */
		*state = s;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, plain, "GET /metrics only\n",
			       18, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") != 0)
		return respond(conn, MHD_HTTP_NOT_FOUND, plain, "not found: try /metrics\n", 24,
			       MHD_RESPMEM_PERSISTENT);
	struct npmu__prom p = {0};
	s->render(s->arg, &p);
	if (p.failed) {
		npmu__prom_free(&p);
		return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, plain, "out of memory\n", 14,
			       MHD_RESPMEM_PERSISTENT);
	}
	return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		       p.text ? p.text : "", p.len, p.text ? MHD_RESPMEM_MUST_FREE
							 : MHD_RESPMEM_PERSISTENT);
}

/* is_loopback -- whether a socket address is 127.0.0.0/8 or ::1. */
static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* resolve -- "HOST:PORT" or "[V6]:PORT" to one socket address (*ai, freed with freeaddrinfo). */
static int resolve(const char *hostport, struct addrinfo **ai, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	const char *h = hostport;
	size_t hlen = colon ? (size_t)(colon - hostport) : 0;
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!colon || hlen == 0 || hlen >= sizeof(host) || !colon[1] || *end || port < 0 ||
	    port > 65535) {
		snprintf(err, errlen, "'%s' is not HOST:PORT", hostport);
		return NPMU_E_INVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				       .ai_flags = AI_NUMERICSERV};
	int g = getaddrinfo(host, colon + 1, &hints, ai);
	if (g != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(g));
		return NPMU_E_INVAL;
	}
	return 0;
}

/* npmu__metrics_start -- the endpoint on its own thread. */
int npmu__metrics_start(const char *hostport, bool any_address, npmu__metrics_render render,
			void *arg, struct npmu__metrics_server **out, char *err, size_t errlen)
{
	struct addrinfo *ai;
	int rc = resolve(hostport, &ai, err, errlen);
	if (rc != 0)
		return rc;
	if (!any_address && !is_loopback(ai->ai_addr)) {
		snprintf(err, errlen, "%s is not a loopback address: the metrics are not "
				      "authenticated (--metrics-insecure serves them there anyway)",
			 hostport);
		freeaddrinfo(ai);
		return NPMU_E_ACCESS;
	}
	struct npmu__metrics_server *s = calloc(1, sizeof(*s));
	if (!s) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NPMU_E_NOMEM;
	}
	s->render = render;
	s->arg = arg;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, answer, s, MHD_OPTION_SOCK_ADDR,
				  ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)METRICS_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)METRICS_TIMEOUT_S, MHD_OPTION_END);
	char host[INET6_ADDRSTRLEN] = "?";
	getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	bool v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	const union MHD_DaemonInfo *info =
		s->mhd ? MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!info) {
		snprintf(err, errlen, "cannot serve metrics on %s (in use, or not an address of "
				      "this host)", hostport);
		npmu__metrics_stop(&s);
		return NPMU_E_IO;
	}
	snprintf(s->addr, sizeof(s->addr), v6 ? "[%s]:%u" : "%s:%u", host, info->port);
	*out = s;
	return 0;
}

/* npmu__metrics_addr -- where it serves. */
const char *npmu__metrics_addr(const struct npmu__metrics_server *s)
{
	return s->addr;
}

/* npmu__metrics_stop -- stop the thread and free. */
void npmu__metrics_stop(struct npmu__metrics_server **sp)
{
	struct npmu__metrics_server *s = *sp;
	if (!s)
		return;
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	free(s);
	*sp = NULL;
}
