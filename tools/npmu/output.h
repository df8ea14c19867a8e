/* output.h -- the npmu command's one output module: lines, tables, JSON, errors and progress. */
#ifndef NPMU_TOOL_OUTPUT_H
#define NPMU_TOOL_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* out_set_json -- choose machine-readable output (--json) or lines for people. */
void out_set_json(bool on);

/* out_json_mode -- whether --json was given. */
bool out_json_mode(void);

/* out_line -- one line for people on standard output (the newline is added). */
void out_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* out_note -- one line for people on standard error (the newline is added). */
void out_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* out_warn -- "npmu: MESSAGE" on standard error (the newline is added). */
void out_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* out_error -- a failed request: {"error","code","context"} on standard output under --json,
 * and "npmu: WHAT: ERROR" on standard error. */
void out_error(const char *what, int rc);

/* out_error_json -- the JSON part of out_error alone (nothing without --json). */
void out_error_json(const char *context, int rc);

/* out_progress -- a progress bar on a terminal (standard error) once a transfer has run for over
 * a second; never under --json. */
void out_progress(const char *what, uint64_t done, uint64_t total, double elapsed, bool final);

/* out_col -- one column of a table: its title, width (negative: left-aligned, 0: as wide as its
 * text) and the spaces before it. */
struct out_col {
	const char *title;
	int width;
	int gap;
};

/* out_table_row -- one row of a table of n columns (cells NULL: the titles). */
void out_table_row(const struct out_col *cols, int n, const char *const *cells);

/* out_json_string -- s as a JSON string literal: quotes, backslashes and control characters
 * escaped, bytes that are not UTF-8 written as U+FFFD. */
void out_json_string(FILE *f, const char *s);

#define OUT_JSON_DEPTH 8

/* out_json -- a JSON value being written, compact, one container at a time; closing the
 * outermost ends the line. */
struct out_json {
	FILE *f;
	int depth;
	char close[OUT_JSON_DEPTH]; /* '}' or ']' for each open container */
	bool more[OUT_JSON_DEPTH];  /* whether the container already has a member */
};

/* out_json_start -- a JSON value on f (stdout, unless a test says otherwise). */
struct out_json out_json_start(FILE *f);

/* The members: key is the member's name in an object, NULL in an array or at the top. */
void out_json_object(struct out_json *j, const char *key);
void out_json_array(struct out_json *j, const char *key);
void out_json_end(struct out_json *j); /* closes the innermost container */
void out_json_str(struct out_json *j, const char *key, const char *value);
void out_json_u64(struct out_json *j, const char *key, uint64_t value);
void out_json_int(struct out_json *j, const char *key, long long value);
void out_json_bool(struct out_json *j, const char *key, bool value);
void out_json_fixed(struct out_json *j, const char *key, double value, int decimals);

#endif
