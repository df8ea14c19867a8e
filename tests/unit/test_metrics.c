/* test_metrics.c -- the Prometheus text writer and histograms (metrics.h) and the endpoint
 * (metrics_http.h): exact text, escaped labels, cumulative buckets, loopback only by default,
 * /metrics served and other paths and methods refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"
#include "metrics_http.h"
#include "npmu.h"

/* prom__text: families and samples as the exposition format has them, label values escaped. */
static void prom__text(void **state)
{
	(void)state;
	struct npmu__prom p = {0};
	npmu__prom_family(&p, "npmu_x_total", "counter", "Things.");
	npmu__prom_u64(&p, "npmu_x_total", 7, NULL);
	npmu__prom_u64(&p, "npmu_x_total", 18446744073709551615ull, "a", "q\"b\\c\nd", "b", "",
		       NULL);
	assert_false(p.failed);
	assert_string_equal(p.text, "# HELP npmu_x_total Things.\n# TYPE npmu_x_total counter\n"
				    "npmu_x_total 7\n"
				    "npmu_x_total{a=\"q\\\"b\\\\c\\nd\",b=\"\"} 18446744073709551615\n");
	npmu__prom_free(&p);
	assert_null(p.text);
}

/* prom__histogram: buckets are cumulative, in seconds, +Inf equals the count, the sum exact. */
static void prom__histogram(void **state)
{
	(void)state;
	static struct npmu__histogram h;
	npmu__histogram_observe(&h, 5000);	   /* <= 10 us */
	npmu__histogram_observe(&h, 10000);	   /* <= 10 us: bounds are inclusive */
	npmu__histogram_observe(&h, 3000000);	   /* <= 5 ms */
	npmu__histogram_observe(&h, 5000000000ull); /* +Inf */
	struct npmu__prom p = {0};
	npmu__prom_histogram(&p, "npmu_f_seconds", "F.", &h);
	assert_non_null(strstr(p.text, "# TYPE npmu_f_seconds histogram\n"));
	assert_non_null(strstr(p.text, "npmu_f_seconds_bucket{le=\"1e-05\"} 2\n"));
	assert_non_null(strstr(p.text, "npmu_f_seconds_bucket{le=\"0.0025\"} 2\n"));
	assert_non_null(strstr(p.text, "npmu_f_seconds_bucket{le=\"0.005\"} 3\n"));
	assert_non_null(strstr(p.text, "npmu_f_seconds_bucket{le=\"1\"} 3\n"));
	assert_non_null(strstr(p.text, "npmu_f_seconds_bucket{le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(p.text, "npmu_f_seconds_sum 5.003015000\n"));
	assert_non_null(strstr(p.text, "npmu_f_seconds_count 4\n"));
	npmu__prom_free(&p);
}

/* render -- a small exposition counting the scrapes. */
static void render(void *arg, struct npmu__prom *out)
{
	int *scrapes = arg;
	npmu__prom_family(out, "npmu_scrapes_total", "counter", "Scrapes.");
	npmu__prom_u64(out, "npmu_scrapes_total", (uint64_t)++*scrapes, NULL);
}

/* get -- send request to addr "127.0.0.1:PORT" and read the whole answer into buf. */
static void get(const char *addr, const char *request, char *buf, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(
							    strrchr(addr, ':') + 1))};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	size_t n = 0;
	ssize_t r;
	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
}

/* http__serves_metrics: GET /metrics answers the exposition with its content type; another
 * path is 404, another method 405; a non-loopback address is refused, a bad one named. */
static void http__serves_metrics(void **state)
{
	(void)state;
	int scrapes = 0;
	struct npmu__metrics_server *s = NULL;
	char err[256], buf[4096];
	assert_int_equal(npmu__metrics_start("192.0.2.1:0", false, render, &scrapes, &s, err,
					     sizeof(err)),
			 NPMU_E_ACCESS);
	assert_non_null(strstr(err, "not a loopback address"));
	assert_int_equal(npmu__metrics_start("127.0.0.1", false, render, &scrapes, &s, err,
					     sizeof(err)),
			 NPMU_E_INVAL);
	assert_int_equal(npmu__metrics_start("127.0.0.1:99999", false, render, &scrapes, &s, err,
					     sizeof(err)),
			 NPMU_E_INVAL);
	assert_null(s);
	assert_int_equal(npmu__metrics_start("127.0.0.1:0", false, render, &scrapes, &s, err,
					     sizeof(err)),
			 0);
	const char *addr = npmu__metrics_addr(s);
	assert_int_equal(strncmp(addr, "127.0.0.1:", 10), 0);
	assert_true(atoi(addr + 10) > 0);
	get(addr, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "HTTP/1.", 7), 0);
	assert_non_null(strstr(buf, " 200 OK\r\n"));
	assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
	assert_non_null(strstr(buf, "\r\n\r\n# HELP npmu_scrapes_total Scrapes.\n"));
	assert_non_null(strstr(buf, "npmu_scrapes_total 1\n"));
	get(addr, "GET /other HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 404 "));
	get(addr, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 405 "));
	assert_int_equal(scrapes, 1);
	npmu__metrics_stop(&s);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prom__text),
		cmocka_unit_test(prom__histogram),
		cmocka_unit_test(http__serves_metrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
