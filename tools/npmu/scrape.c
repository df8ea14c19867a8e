/* scrape.c -- a daemon's metrics fetched (libcurl) and parsed (scrape.h). */
#include "scrape.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRAPE_MAX (16u << 20) /* a larger answer is no daemon's metrics */
#define SCRAPE_TIMEOUT_S 5

/* A response being received. */
struct body {
	char *text;
	size_t len;
	bool too_big;
};

/* receive -- libcurl's write callback: append to the body, up to SCRAPE_MAX. */
static size_t receive(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	if (b->len + len > SCRAPE_MAX) {
		b->too_big = true;
		return 0;
	}
	char *t = realloc(b->text, b->len + len + 1);
	if (!t)
		return 0;
	memcpy(t + b->len, data, len);
	b->text = t;
	b->len += len;
	t[b->len] = '\0';
	return len;
}

/* scrape_fetch -- GET the exposition and parse it. */
int scrape_fetch(const char *addr, struct scrape *out, char *err, size_t errlen)
{
	*out = (struct scrape){0};
	char url[300];
	if (snprintf(url, sizeof(url), "http://%s/metrics", addr) >= (int)sizeof(url)) {
		snprintf(err, errlen, "%s: too long for an address", addr);
		return -1;
	}
	CURL *curl = curl_easy_init();
	if (!curl) {
		snprintf(err, errlen, "libcurl failed to start");
		return -1;
	}
	struct body b = {0};
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)SCRAPE_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, receive);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	CURLcode rc = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	int ret = -1;
	if (rc != CURLE_OK)
		snprintf(err, errlen, "%s: %s", url, b.too_big ? "answer over 16 MiB"
							      : curl_easy_strerror(rc));
	else if (status != 200)
		snprintf(err, errlen, "%s: HTTP status %ld", url, status);
	else
		ret = scrape_parse(b.text ? b.text : "", b.len, out, err, errlen);
	free(b.text);
	return ret;
}

/* add -- append a sample; false when out of memory. */
static bool add(struct scrape *sc, const struct scrape_sample *s)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 64;
		void *p = realloc(sc->s, cap * sizeof(*sc->s));
		if (!p)
			return false;
		sc->s = p;
		sc->cap = cap;
	}
	sc->s[sc->n++] = *s;
	return true;
}

/* parse_sample -- one sample line ("name{labels} value"); false when it is not one. */
static bool parse_sample(const char *line, size_t len, struct scrape_sample *s)
{
	size_t i = 0;
	while (i < len && (line[i] == '_' || line[i] == ':' || (line[i] >= 'a' && line[i] <= 'z') ||
			   (line[i] >= 'A' && line[i] <= 'Z') || (i && line[i] >= '0' && line[i] <= '9')))
		i++;
	if (i == 0 || i >= sizeof(s->name))
		return false;
	memcpy(s->name, line, i);
	s->name[i] = '\0';
	s->labels[0] = '\0';
	if (i < len && line[i] == '{') {
		size_t start = ++i;
		bool quoted = false;
		for (; i < len && (quoted || line[i] != '}'); i++) {
			if (quoted && line[i] == '\\')
				i++;
			else if (line[i] == '"')
				quoted = !quoted;
		}
		if (i >= len || i - start >= sizeof(s->labels))
			return false;
		memcpy(s->labels, line + start, i - start);
		s->labels[i - start] = '\0';
		i++;
	}
	if (i >= len || line[i] != ' ')
		return false;
	char num[64];
	size_t n = len - i - 1;
	const char *sp = memchr(line + i + 1, ' ', n); /* (a timestamp may follow) */
	if (sp)
		n = (size_t)(sp - (line + i + 1));
	if (n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, line + i + 1, n);
	num[n] = '\0';
	char *end;
	s->value = strtod(num, &end);
	return *end == '\0';
}

/* scrape_parse -- every sample line; comments and blank lines skipped. */
int scrape_parse(const char *text, size_t len, struct scrape *out, char *err, size_t errlen)
{
	*out = (struct scrape){0};
	unsigned lineno = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *line = text + pos;
		size_t n = end - pos;
		lineno++;
		pos = end + 1;
		if (n == 0 || line[0] == '#')
			continue;
		struct scrape_sample s;
		if (!parse_sample(line, n, &s)) {
			snprintf(err, errlen, "line %u is no sample: %.*s", lineno, (int)(n < 80 ? n : 80),
				 line);
			scrape_free(out);
			return -1;
		}
		if (!add(out, &s)) {
			snprintf(err, errlen, "out of memory");
			scrape_free(out);
			return -1;
		}
	}
	return 0;
}

/* scrape_value -- one sample's value, or def. */
double scrape_value(const struct scrape *sc, const char *name, const char *labels, double def)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].name, name) == 0 && strcmp(sc->s[i].labels, labels) == 0)
			return sc->s[i].value;
	return def;
}

/* scrape_free -- free the samples. */
void scrape_free(struct scrape *sc)
{
	free(sc->s);
	*sc = (struct scrape){0};
}
