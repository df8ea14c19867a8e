/* metrics_http.h -- a daemon's metrics served over HTTP (libmicrohttpd) on a thread of its own. */
#ifndef NPMU_METRICS_HTTP_H
#define NPMU_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"

/*
 * GET /metrics answers the Prometheus text exposition (version 0.0.4) that `render` writes; any
 * other path is 404, any other method 405. libmicrohttpd serves on its own thread, at most
 * METRICS_CONNECTIONS connections at once, each closed after METRICS_TIMEOUT_S idle: render
 * runs there and reads atomics only, so a scrape never waits for, nor delays, a request.
 */
typedef void (*npmu__metrics_render)(void *arg, struct npmu__prom *out);

struct npmu__metrics_server;

/*
 * npmu__metrics_start -- serve on "HOST:PORT" or "[V6]:PORT" (a numeric address or a name;
 * port 0: the kernel picks one). A non-loopback address is refused unless any_address (the
 * metrics are not authenticated). Returns 0, or NPMU_E_INVAL / NPMU_E_ACCESS / NPMU_E_IO with
 * the reason in err.
 */
int npmu__metrics_start(const char *hostport, bool any_address, npmu__metrics_render render,
			void *arg, struct npmu__metrics_server **out, char *err, size_t errlen);

/* npmu__metrics_addr -- "HOST:PORT" served on (the port the kernel picked, if 0 was asked). */
const char *npmu__metrics_addr(const struct npmu__metrics_server *s);

/* npmu__metrics_stop -- stop serving (a scrape in progress is finished first); NULLs *s. */
void npmu__metrics_stop(struct npmu__metrics_server **s);

#endif
