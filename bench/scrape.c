/* scrape.c -- does a Prometheus scrape loop slow the data path? A placed 4 KiB write's and a
 * persistent 4 KiB put's latency on the unit with a thread scraping its metrics endpoint every
 * NPMU_BENCH_SCRAPE_MS (default 10: a hundred times what a Prometheus server asks; 0: back to
 * back, a worst case that measures the CPU the scrapes take on a small machine), next to the
 * same without, blocks alternating. */
#include <time.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BLOCKS 4
#define REGION (1u << 20)

/* The scrape loop: GETs until told to stop, counting them. */
struct scraper {
	char url[300];
	long interval_ms;
	atomic_bool stop;
	atomic_ulong scrapes, failures;
	pthread_t thread;
};

/* discard -- libcurl's write callback: the body is not looked at. */
static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* scrape_loop -- GET the metrics back to back until stop. */
static void *scrape_loop(void *arg)
{
	struct scraper *s = arg;
	CURL *curl = curl_easy_init();
	if (!curl)
		return NULL;
	curl_easy_setopt(curl, CURLOPT_URL, s->url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 5L);
	while (!atomic_load(&s->stop)) {
		long status = 0;
		if (curl_easy_perform(curl) == CURLE_OK &&
		    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200)
			atomic_fetch_add(&s->scrapes, 1);
		else
			atomic_fetch_add(&s->failures, 1);
		const struct timespec nap = {s->interval_ms / 1000, (s->interval_ms % 1000) * 1000000};
		if (s->interval_ms)
			nanosleep(&nap, NULL);
	}
	curl_easy_cleanup(curl);
	return NULL;
}

/* put_latency -- n persistent puts of len bytes (write and flush, one round trip), in us. */
static void put_latency(struct npmu_region *r, size_t len, int n, struct samples *lat)
{
	static char buf[4096];
	struct npmu_iov iov = {.offset = 0, .buf = buf, .len = len};
	for (int i = 0; i < n; i++) {
		buf[0] = (char)i;
		uint64_t t0 = now_ns();
		int rc = npmu_region_put(r, &iov, 1, NPMU_PERSISTENT);
		if (rc != 0)
			bail("put", rc);
		samples_add(lat, (double)(now_ns() - t0) / 1000.0);
	}
}

/* bench_scrape -- writes and puts with and without the scrape loop. */
void bench_scrape(const struct bench_env *env)
{
	struct npmu_conn_cfg cfg = {.server = env->unit};
	struct npmu_conn *conn;
	struct npmu_region *r;
	int rc = npmu_conn_new(&cfg, &conn);
	if (rc == 0 && (rc = npmu_region_create(conn, "bench.scrape", REGION, NULL)) == NPMU_E_EXIST)
		rc = 0;
	if (rc == 0)
		rc = npmu_region_open(conn, "bench.scrape", NPMU_ACCESS_READ_WRITE, &r);
	if (rc != 0)
		bail("scrape", rc);
	const char *n_env = getenv("NPMU_BENCH_SCRAPE_N"); /* a smoke run: a few hundred */
	int n = n_env ? atoi(n_env) : env->quick ? 300 : 3000;
	if (n < 10)
		n = 10;
	struct samples w0 = {0}, w1 = {0}, p0 = {0}, p1 = {0};
	struct scraper s = {0};
	snprintf(s.url, sizeof(s.url), "http://%s/metrics", env->unit_metrics);
	const char *ms_env = getenv("NPMU_BENCH_SCRAPE_MS");
	s.interval_ms = ms_env ? atol(ms_env) : 10;
	if (s.interval_ms < 0)
		s.interval_ms = 0;
	uint64_t scraping_ns = 0;
	for (int b = 0; b < BLOCKS; b++) {
		region_latency(r, 1, 4096, n, &w0);
		put_latency(r, 4096, n, &p0);
		atomic_store(&s.stop, false);
		if (pthread_create(&s.thread, NULL, scrape_loop, &s) != 0)
			bail("scrape thread", NPMU_E_NOMEM);
		uint64_t t0 = now_ns();
		region_latency(r, 1, 4096, n, &w1);
		put_latency(r, 4096, n, &p1);
		scraping_ns += now_ns() - t0;
		atomic_store(&s.stop, true);
		pthread_join(s.thread, NULL);
	}
	if (atomic_load(&s.scrapes) == 0)
		bail("scrape: no scrape answered (npmud --metrics?)", NPMU_E_UNREACHABLE);
	report_section("metrics: the data path while a scrape loop runs", NULL);
	report_figure("placed write 4 KiB p50, scraped", "us", stat_pct(&w1, 50, BLOCKS));
	report_baseline("not scraped", stat_pct(&w0, 50, BLOCKS), GOAL_AT_MOST, 1.1);
	report_figure("placed write 4 KiB p99, scraped", "us", stat_pct(&w1, 99, BLOCKS));
	report_baseline("not scraped", stat_pct(&w0, 99, BLOCKS), GOAL_NONE, 0);
	report_figure("persistent put 4 KiB p50, scraped", "us", stat_pct(&p1, 50, BLOCKS));
	report_baseline("not scraped", stat_pct(&p0, 50, BLOCKS), GOAL_AT_MOST, 1.1);
	report_note("%d blocks of %d placed writes and %d persistent puts of 4 KiB to a region of "
		    "the npmud, alternating without and with a thread scraping its metrics endpoint "
		    "every %ld ms (%lu scrapes, %.0f a second, %lu failed); a scrape reads atomics on "
		    "the unit's HTTP thread and takes none of its locks", BLOCKS, n, n, s.interval_ms,
		    atomic_load(&s.scrapes),
		    (double)atomic_load(&s.scrapes) / ((double)scraping_ns / 1e9),
		    atomic_load(&s.failures));
	samples_free(&w0);
	samples_free(&w1);
	samples_free(&p0);
	samples_free(&p1);
	npmu_region_close(&r);
	npmu_region_delete(conn, "bench.scrape");
	npmu_conn_delete(&conn);
}
