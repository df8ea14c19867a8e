/* scrape.h -- a daemon's metrics read from its endpoint (--metrics HOST:PORT) for `npmu unit
 * stat` and `npmu top`: fetched with libcurl, the text exposition parsed into samples. */
#ifndef NPMU_TOOL_SCRAPE_H
#define NPMU_TOOL_SCRAPE_H

#include <stddef.h>

/* One sample: "name{labels} value". */
struct scrape_sample {
	char name[128];
	char labels[512]; /* as written between the braces ("" without), escapes kept */
	double value;
};

/* A scrape: its samples, in the order served. */
struct scrape {
	struct scrape_sample *s;
	size_t n, cap;
};

/* scrape_fetch -- GET http://addr/metrics (addr "HOST:PORT") and parse it into *out. 0, or -1
 * with the reason (the address, the HTTP status, or the line that does not parse) in err. */
int scrape_fetch(const char *addr, struct scrape *out, char *err, size_t errlen);

/* scrape_parse -- parse text (len bytes of the exposition format) into *out; 0, or -1 with
 * the line at fault in err. */
int scrape_parse(const char *text, size_t len, struct scrape *out, char *err, size_t errlen);

/* scrape_value -- the value of the sample name{labels} ("" for none), or def when absent. */
double scrape_value(const struct scrape *sc, const char *name, const char *labels, double def);

/* scrape_free -- free the samples. */
void scrape_free(struct scrape *sc);

#endif
