/* output.c -- the npmu command's one output module: lines, tables, JSON, errors and progress. */
#include "output.h"

#include <stdarg.h>
#include <unistd.h>

#include "npmu.h"
#include "size.h"

static bool json;

/* out_set_json -- choose machine-readable output or lines for people. */
void out_set_json(bool on)
{
	json = on;
}

/* out_json_mode -- whether --json was given. */
bool out_json_mode(void)
{
	return json;
}

/* out_line -- one line for people on standard output. */
void out_line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* out_note -- one line for people on standard error. */
void out_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* out_warn -- "npmu: MESSAGE" on standard error. */
void out_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("npmu: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* out_error_json -- {"error":..., "code":..., "context":...} under --json. */
void out_error_json(const char *context, int rc)
{
	if (!json)
		return;
	struct out_json j = out_json_start(stdout);
	out_json_object(&j, NULL);
	out_json_str(&j, "error", npmu_strerror(rc));
	out_json_int(&j, "code", rc);
	out_json_str(&j, "context", context);
	out_json_end(&j);
}

/* out_error -- a failed request, for scripts (under --json) and for people. */
void out_error(const char *what, int rc)
{
	out_error_json(what, rc);
	out_warn("%s: %s", what, npmu_strerror(rc));
}

/* out_progress -- a progress bar on a terminal, once a transfer has run for over a second. */
void out_progress(const char *what, uint64_t done, uint64_t total, double elapsed, bool final)
{
	if (json || !isatty(STDERR_FILENO) || elapsed < 1.0)
		return;
	char a[32], b[32];
	int pct = total ? (int)(done * 100 / total) : 100;
	int bars = pct / 5;
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s / %s  %.0f MiB/s", what, bars,
		"####################", 20 - bars, "", pct, npmu__size_format(done, a, sizeof(a)),
		npmu__size_format(total, b, sizeof(b)), (double)done / (1 << 20) / elapsed);
	if (final)
		fputc('\n', stderr);
}

/* out_table_row -- one row of a table (cells NULL: the titles). */
void out_table_row(const struct out_col *cols, int n, const char *const *cells)
{
	for (int c = 0; c < n; c++)
		printf("%*s%*s", cols[c].gap, "", cols[c].width, cells ? cells[c] : cols[c].title);
	putchar('\n');
}

/* utf8_len -- the length of the well-formed UTF-8 sequence at s (2 to 4), or 0. */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf; /* the range of the second byte */
	if (c < 0xc2 || c > 0xf4)
		return 0;
	int n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xe0)
		lo = 0xa0; /* no overlong forms */
	else if (c == 0xed)
		hi = 0x9f; /* no surrogates */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f; /* nothing above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* out_json_string -- s as a JSON string literal, escaped. */
void out_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	fputc('"', f);
	while (*p) {
		int n;
		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p++, f);
		} else if (*p < 0x20) {
			fprintf(f, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, f);
		} else if ((n = utf8_len(p)) > 0) {
			fwrite(p, 1, (size_t)n, f);
			p += n;
		} else {
			fputs("\\ufffd", f);
			p++;
		}
	}
	fputc('"', f);
}

/* out_json_start -- a JSON value on f. */
struct out_json out_json_start(FILE *f)
{
	struct out_json j = {.f = f};
	return j;
}

/* member -- the separator and the key before a member of the innermost container. */
static void member(struct out_json *j, const char *key)
{
	int d = j->depth < OUT_JSON_DEPTH ? j->depth : OUT_JSON_DEPTH; /* (deeper: not tracked) */
	if (d > 0) {
		if (j->more[d - 1])
			fputc(',', j->f);
		j->more[d - 1] = true;
	}
	if (key) {
		out_json_string(j->f, key);
		fputc(':', j->f);
	}
}

/* open_container -- '{' or '[' as a member, with close its closing bracket. */
static void open_container(struct out_json *j, const char *key, char open, char close)
{
	member(j, key);
	fputc(open, j->f);
	if (j->depth < OUT_JSON_DEPTH) {
		j->close[j->depth] = close;
		j->more[j->depth] = false;
	}
	j->depth++;
}

/* out_json_object -- open an object. */
void out_json_object(struct out_json *j, const char *key)
{
	open_container(j, key, '{', '}');
}

/* out_json_array -- open an array. */
void out_json_array(struct out_json *j, const char *key)
{
	open_container(j, key, '[', ']');
}

/* out_json_end -- close the innermost container; the outermost ends the line. */
void out_json_end(struct out_json *j)
{
	if (j->depth == 0)
		return;
	j->depth--;
	fputc(j->depth < OUT_JSON_DEPTH ? j->close[j->depth] : '}', j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

/* out_json_str -- a string member. */
void out_json_str(struct out_json *j, const char *key, const char *value)
{
	member(j, key);
	out_json_string(j->f, value);
}

/* out_json_u64 -- an unsigned number member. */
void out_json_u64(struct out_json *j, const char *key, uint64_t value)
{
	member(j, key);
	fprintf(j->f, "%llu", (unsigned long long)value);
}

/* out_json_int -- a signed number member. */
void out_json_int(struct out_json *j, const char *key, long long value)
{
	member(j, key);
	fprintf(j->f, "%lld", value);
}

/* out_json_bool -- a true or false member. */
void out_json_bool(struct out_json *j, const char *key, bool value)
{
	member(j, key);
	fputs(value ? "true" : "false", j->f);
}

/* out_json_fixed -- a number member with a fixed number of decimals (seconds). */
void out_json_fixed(struct out_json *j, const char *key, double value, int decimals)
{
	member(j, key);
	fprintf(j->f, "%.*f", decimals, value);
}
