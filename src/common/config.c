/* config.c -- configuration files and command lines read into one list of settings (config.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "npmu.h"

/* in_list -- whether key is one of the NULL-ended list. */
static bool in_list(const char *const *list, const char *key)
{
	for (; list && *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

/* add -- append a setting (value copied); 0 or NPMU_E_NOMEM. */
static int add(struct npmu__config *cfg, const struct option *o, const char *value, unsigned line)
{
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? 2 * cfg->cap : 16;
		void *p = realloc(cfg->e, cap * sizeof(*cfg->e));
		if (!p)
			return NPMU_E_NOMEM;
		cfg->e = p;
		cfg->cap = cap;
	}
	char *v = value ? strdup(value) : NULL;
	if (value && !v)
		return NPMU_E_NOMEM;
	cfg->e[cfg->n++] = (struct npmu__config_entry){o->val, o->name, v, line, false};
	return 0;
}

/* npmu__config_free -- free every entry and the path. */
void npmu__config_free(struct npmu__config *cfg)
{
	for (size_t i = 0; i < cfg->n; i++)
		free(cfg->e[i].value);
	free(cfg->e);
	free(cfg->path);
	*cfg = (struct npmu__config){0};
}

/* problem -- "PATH line N: ..." into err; returns NPMU_E_CONFIG. */
static int problem(char *err, size_t errlen, const char *path, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int problem(char *err, size_t errlen, const char *path, unsigned line, const char *fmt, ...)
{
	int n = line ? snprintf(err, errlen, "%s line %u: ", path, line)
		     : snprintf(err, errlen, "%s: ", path);
	if (n >= 0 && (size_t)n < errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return NPMU_E_CONFIG;
}

/* Why read_line stopped. */
enum line_end { LINE_OK, LINE_EOF, LINE_LONG, LINE_CONTROL };

/* read_line -- one line of f, without its end, into buf (of NPMU_CONFIG_LINE_MAX + 1): a line
 * too long or with a control character (tab aside) is read to its end and refused. */
static enum line_end read_line(FILE *f, char *buf)
{
	size_t n = 0;
	bool control = false;
	int ch;
	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\r') {
			int next = getc(f);
			if (next == '\n')
				break; /* a CRLF line end */
			if (next != EOF)
				ungetc(next, f);
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			control = true;
		if (n < NPMU_CONFIG_LINE_MAX)
			buf[n] = (char)ch;
		n++;
	}
	if (ch == EOF && n == 0)
		return LINE_EOF;
	buf[n < NPMU_CONFIG_LINE_MAX ? n : NPMU_CONFIG_LINE_MAX] = '\0';
	return n > NPMU_CONFIG_LINE_MAX ? LINE_LONG : control ? LINE_CONTROL : LINE_OK;
}

/* trim -- s without the blanks around it (in place). */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* flag_value -- 1 (yes), 0 (no) or -1 (neither) for a flag's value. */
static int flag_value(const char *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false",
										  "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* find_option -- the option named key, or NULL. */
static const struct option *find_option(const struct option *opts, const char *key)
{
	for (; opts->name; opts++)
		if (strcmp(opts->name, key) == 0)
			return opts;
	return NULL;
}

/* parse_line -- one non-blank, non-comment line of the file into cfg. */
static int parse_line(char *text, unsigned line, const struct npmu__config_spec *spec,
		      struct npmu__config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->path;
	char *eq = strchr(text, '=');
	if (!eq)
		return problem(err, errlen, path, line, "expected `key = value`, found no '='");
	*eq = '\0';
	char *key = trim(text), *value = trim(eq + 1);
	if (!*key)
		return problem(err, errlen, path, line, "no key before '='");
	const struct option *o = find_option(spec->opts, key);
	if (!o || in_list(spec->command_only, key))
		return problem(err, errlen, path, line, "unknown key '%s'%s", key,
			       o ? " (only on the command line)" : "");
	if (!in_list(spec->repeatable, key))
		for (size_t i = 0; i < cfg->n; i++)
			if (cfg->e[i].opt == o->val)
				return problem(err, errlen, path, line,
					       "'%s' given again (first on line %u)", key,
					       cfg->e[i].line);
	if (!*value)
		return problem(err, errlen, path, line, "'%s' has no value", key);
	if (o->has_arg == no_argument) {
		int yes = flag_value(value);
		if (yes < 0)
			return problem(err, errlen, path, line,
				       "'%s' takes yes or no, not '%s'", key, value);
		value = NULL;
		if (!yes) {
			if (add(cfg, o, NULL, line) != 0)
				return problem(err, errlen, path, line, "out of memory");
			cfg->e[cfg->n - 1].off = true;
			return 0;
		}
	}
	return add(cfg, o, value, line) == 0 ? 0 : problem(err, errlen, path, line, "out of memory");
}

/* npmu__config_read -- the settings of the file at path. */
int npmu__config_read(const char *path, const struct npmu__config_spec *spec,
		      struct npmu__config *cfg, char *err, size_t errlen)
{
	*cfg = (struct npmu__config){0};
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return NPMU_E_NOENT;
		return problem(err, errlen, path, 0, "%s", strerror(errno));
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return problem(err, errlen, path, 0, "not a regular file");
	}
	cfg->path = strdup(path);
	int rc = cfg->path ? 0 : problem(err, errlen, path, 0, "out of memory");
	char buf[NPMU_CONFIG_LINE_MAX + 1];
	enum line_end end = LINE_OK;
	for (unsigned line = 1; rc == 0 && (end = read_line(f, buf)) != LINE_EOF; line++) {
		char *text = trim(buf);
		if (end == LINE_LONG)
			rc = problem(err, errlen, path, line, "longer than %d bytes",
				     NPMU_CONFIG_LINE_MAX);
		else if (end == LINE_CONTROL)
			rc = problem(err, errlen, path, line, "a control character");
		else if (*text && *text != '#')
			rc = parse_line(text, line, spec, cfg, err, errlen);
	}
	if (rc == 0 && ferror(f))
		rc = problem(err, errlen, path, 0, "read error");
	fclose(f);
	if (rc != 0)
		npmu__config_free(cfg);
	return rc;
}

/* npmu__config_args -- the command line's options, in order. */
int npmu__config_args(int argc, char **argv, const struct npmu__config_spec *spec,
		      struct npmu__config *cfg)
{
	*cfg = (struct npmu__config){0};
	int c, index;
	optind = 0; /* (glibc: a fresh scan) */
	while ((c = getopt_long(argc, argv, spec->shortopts, spec->opts, &index)) != -1) {
		const struct option *o = NULL;
		for (const struct option *p = spec->opts; p->name && !o; p++)
			if (p->val == c)
				o = p;
		if (c == '?' || !o) {
			npmu__config_free(cfg);
			return NPMU_E_CONFIG;
		}
		if (add(cfg, o, o->has_arg == no_argument ? NULL : optarg, 0) != 0) {
			npmu__config_free(cfg);
			fprintf(stderr, "%s: out of memory\n", argv[0]);
			return NPMU_E_CONFIG;
		}
	}
	return 0;
}

/* npmu__config_find -- the last entry of option opt. */
const struct npmu__config_entry *npmu__config_find(const struct npmu__config *cfg, int opt)
{
	for (size_t i = cfg->n; i-- > 0;)
		if (cfg->e[i].opt == opt)
			return &cfg->e[i];
	return NULL;
}

/* npmu__config_merge -- the file's settings the command line leaves, then the command line's. */
int npmu__config_merge(const struct npmu__config *file, const struct npmu__config *args,
		       const struct npmu__config_spec *spec, struct npmu__config *out)
{
	*out = (struct npmu__config){0};
	if (file->path && !(out->path = strdup(file->path)))
		return NPMU_E_NOMEM;
	const struct npmu__config *from[2] = {file, args};
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < from[k]->n; i++) {
			const struct npmu__config_entry *e = &from[k]->e[i];
			if (e->off || (k == 0 && npmu__config_find(args, e->opt)))
				continue; /* a flag set to no, or overridden */
			const struct option *o = find_option(spec->opts, e->key);
			if (add(out, o, e->value, e->line) != 0) {
				npmu__config_free(out);
				return NPMU_E_NOMEM;
			}
		}
	}
	return 0;
}

/* npmu__config_where -- "--KEY" or "PATH line N: KEY". */
const char *npmu__config_where(const struct npmu__config *cfg, const struct npmu__config_entry *e,
			       char *buf, size_t buflen)
{
	if (e->line == 0 || !cfg->path)
		snprintf(buf, buflen, "--%s", e->key);
	else
		snprintf(buf, buflen, "%s line %u: %s", cfg->path, e->line, e->key);
	return buf;
}

/* npmu__config_load -- the configuration file merged with the command line (config.h). */
int npmu__config_load(const char *prog, const char *path, bool named,
		      const struct npmu__config_spec *spec, const struct npmu__config *args,
		      struct npmu__config *out)
{
	struct npmu__config file = {0};
	char err[512];
	int status = -1;
	int rc = npmu__config_read(path, spec, &file, err, sizeof(err));
	if (rc == NPMU_E_NOENT && named) {
		fprintf(stderr, "%s: --config %s: no such file\n", prog, path);
		status = 2;
	} else if (rc != 0 && rc != NPMU_E_NOENT) {
		fprintf(stderr, "%s: %s\n", prog, err);
		status = 2;
	}
	if (status < 0 && npmu__config_merge(&file, args, spec, out) != 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		status = 1;
	}
	npmu__config_free(&file);
	return status;
}
