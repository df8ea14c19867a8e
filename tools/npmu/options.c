/* options.c -- the npmu command's one option parser: options, values and arguments, by table. */
#include "options.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "npmu.h"
#include "size.h"

static const struct opt_spec help_spec = {"help", 'h', OPT_FLAG, 0, 0};

/* fail -- write "CMD: MESSAGE" into err; returns status. */
static enum opt_status fail(const struct opt_cmd *cmd, char *err, size_t errlen,
			    enum opt_status status, const char *fmt, ...)
{
	int n = snprintf(err, errlen, "%s: ", cmd->name);
	if (n < 0 || (size_t)n >= errlen)
		return status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return status;
}

/* opt_parse_uint -- a whole number in plain decimal: digits only, no leading zero, no overflow. */
int opt_parse_uint(const char *text, uint64_t *value)
{
	if (!text || text[0] < '0' || text[0] > '9' || (text[0] == '0' && text[1]))
		return -1;
	uint64_t v = 0;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value = v;
	return 0;
}

/* number_out_of_range -- text is a whole number (the digits alone), only too large for 64 bits. */
static bool number_out_of_range(const char *text)
{
	if (text[0] < '1' || text[0] > '9')
		return false;
	return strspn(text, "0123456789") == strlen(text);
}

/* take_number -- check text against a size or number option's kind and range into *v. */
static enum opt_status take_number(const struct opt_cmd *cmd, const struct opt_spec *s,
				   const char *label, const char *text, uint64_t *v, char *err,
				   size_t errlen)
{
	uint64_t max = s->max ? s->max : UINT64_MAX;
	if (s->kind == OPT_SIZE) {
		if (npmu__size_parse(text, v) != 0 || *v < s->min || *v > max)
			return fail(cmd, err, errlen, OPT_INVALID,
				    "%s: invalid size '%s' (examples: 4096, 64K, 16M, 4G)", label,
				    text);
		return OPT_OK;
	}
	bool parsed = opt_parse_uint(text, v) == 0;
	if (!parsed && !number_out_of_range(text))
		return fail(cmd, err, errlen, OPT_INVALID, "%s: expected a whole number, got '%s'",
			    label, text);
	if (!parsed || *v < s->min || *v > max)
		return fail(cmd, err, errlen, OPT_INVALID, "%s: expected a whole number from %llu "
			    "to %llu, got '%s'", label, (unsigned long long)s->min,
			    (unsigned long long)max, text);
	return OPT_OK;
}

/* take_value -- record one option or argument with its text (NULL for a flag). */
static enum opt_status take_value(const struct opt_cmd *cmd, const struct opt_spec *s,
				  bool positional, const char *text, struct opt_value *out,
				  char *err, size_t errlen)
{
	char label[80];
	snprintf(label, sizeof(label), "%s%s", positional ? "" : "--", s->name);
	uint64_t v = 0;
	if (s->kind == OPT_SIZE || s->kind == OPT_UINT) {
		enum opt_status st = take_number(cmd, s, label, text, &v, err, errlen);
		if (st != OPT_OK)
			return st;
	}
	out->num = s->kind == OPT_FLAG ? out->num + 1 : v;
	out->text = text;
	out->seen = true;
	return OPT_OK;
}

/* count_specs -- the entries of a table ending with a NULL name. */
static int count_specs(const struct opt_spec *t)
{
	int n = 0;
	while (t && t[n].name)
		n++;
	return n;
}

/* find_long -- the option named (or the one option a prefix names), n for --help, or -1 with err
 * set. */
static int find_long(const struct opt_cmd *cmd, const char *name, size_t len, char *err,
		     size_t errlen)
{
	int n = count_specs(cmd->opts), found = -1, matches = 0;
	for (int i = 0; i <= n; i++) {
		const char *o = i < n ? cmd->opts[i].name : help_spec.name;
		if (strncmp(o, name, len) != 0)
			continue;
		if (o[len] == '\0')
			return i; /* an exact name wins over prefixes */
		found = i;
		matches++;
	}
	if (matches == 1)
		return found;
	fail(cmd, err, errlen, OPT_USAGE, "%s option '--%.*s'", matches ? "ambiguous" : "unknown",
	     (int)len, name);
	return -1;
}

/* find_short -- the option -c names, n for -h, or -1. */
static int find_short(const struct opt_cmd *cmd, char c)
{
	int n = count_specs(cmd->opts);
	for (int i = 0; i < n; i++)
		if (cmd->opts[i].short_name == c)
			return i;
	return c == help_spec.short_name ? n : -1;
}

/* parse_long -- "--name", "--name=value" or "--name value" at argv[*i]; moves *i past it. */
static enum opt_status parse_long(const struct opt_cmd *cmd, int argc, char **argv, int *i,
				  struct opt_result *r, char *err, size_t errlen)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	int k = find_long(cmd, name, len, err, errlen), n = count_specs(cmd->opts);
	if (k < 0)
		return OPT_USAGE;
	const struct opt_spec *s = k < n ? &cmd->opts[k] : &help_spec;
	const char *value = eq ? eq + 1 : NULL;
	if (s->kind == OPT_FLAG && value)
		return fail(cmd, err, errlen, OPT_USAGE, "--%s: takes no value", s->name);
	if (s->kind != OPT_FLAG && !value) {
		if (*i + 1 >= argc)
			return fail(cmd, err, errlen, OPT_USAGE, "--%s: needs a value", s->name);
		value = argv[++*i];
	}
	(*i)++;
	if (k == n)
		return OPT_HELP;
	return take_value(cmd, s, false, value, &r->opt[k], err, errlen);
}

/* parse_short -- "-x", "-xyz" (flags), "-xVALUE" or "-x VALUE" at argv[*i]; moves *i past it. */
static enum opt_status parse_short(const struct opt_cmd *cmd, int argc, char **argv, int *i,
				   struct opt_result *r, char *err, size_t errlen)
{
	const char *p = argv[*i] + 1;
	int n = count_specs(cmd->opts);
	(*i)++;
	for (; *p; p++) {
		int k = find_short(cmd, *p);
		if (k < 0)
			return fail(cmd, err, errlen, OPT_USAGE, "unknown option '-%c'", *p);
		if (k == n)
			return OPT_HELP;
		const struct opt_spec *s = &cmd->opts[k];
		if (s->kind == OPT_FLAG) {
			take_value(cmd, s, false, NULL, &r->opt[k], err, errlen);
			continue;
		}
		const char *value = p[1] ? p + 1 : NULL;
		if (!value) {
			if (*i >= argc)
				return fail(cmd, err, errlen, OPT_USAGE, "--%s: needs a value",
					    s->name);
			value = argv[(*i)++];
		}
		return take_value(cmd, s, false, value, &r->opt[k], err, errlen);
	}
	return OPT_OK;
}

/* take_args -- check the positional arguments' count, then each one's kind and range (args holds
 * the first OPT_MAX_ARGS of nargs). */
static enum opt_status take_args(const struct opt_cmd *cmd, char **args, int nargs,
				 struct opt_result *r, char *err, size_t errlen)
{
	int want = count_specs(cmd->args);
	if (nargs != want) {
		char names[160] = "";
		for (int a = 0; a < want; a++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 a ? " " : "", cmd->args[a].name);
		return fail(cmd, err, errlen, OPT_USAGE, "wrong arguments (%d given; expected %s)",
			    nargs, want ? names : "none");
	}
	for (int a = 0; a < nargs; a++) {
		enum opt_status st = take_value(cmd, &cmd->args[a], true, args[a], &r->arg[a], err,
						errlen);
		if (st != OPT_OK)
			return st;
	}
	return OPT_OK;
}

/* opt_parse -- parse argv[0..argc) against cmd into r (see options.h). */
enum opt_status opt_parse(const struct opt_cmd *cmd, int argc, char **argv, struct opt_result *r,
			  char *err, size_t errlen)
{
	char *args[OPT_MAX_ARGS];
	int nargs = 0, i = 0;
	bool options = true;
	memset(r, 0, sizeof(*r));
	if (errlen)
		err[0] = '\0';
	while (i < argc) {
		const char *a = argv[i];
		enum opt_status st = OPT_OK;
		if (options && !strcmp(a, "--")) {
			options = false;
			i++;
			if (cmd->stop_at_arg)
				break;
		} else if (options && a[0] == '-' && a[1] == '-') {
			st = parse_long(cmd, argc, argv, &i, r, err, errlen);
		} else if (options && a[0] == '-' && a[1]) {
			st = parse_short(cmd, argc, argv, &i, r, err, errlen);
		} else if (cmd->stop_at_arg) {
			break;
		} else {
			if (nargs < OPT_MAX_ARGS)
				args[nargs] = argv[i];
			nargs++;
			i++;
		}
		if (st != OPT_OK)
			return st;
	}
	r->next = i;
	if (cmd->stop_at_arg)
		return OPT_OK;
	return take_args(cmd, args, nargs, r, err, errlen);
}

/* opt_command -- opt_parse, telling the user: usage on --help, the error otherwise. */
int opt_command(const struct opt_cmd *cmd, int argc, char **argv, struct opt_result *r)
{
	char err[512];
	switch (opt_parse(cmd, argc, argv, r, err, sizeof(err))) {
	case OPT_OK:
		return -1;
	case OPT_HELP:
		fputs(cmd->usage, stdout);
		return 0;
	case OPT_USAGE:
		fprintf(stderr, "%s\n%s", err, cmd->usage);
		return 2;
	default:
		fprintf(stderr, "%s\n", err);
		return 2;
	}
}
