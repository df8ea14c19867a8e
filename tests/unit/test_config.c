/* test_config.c -- configuration files and command lines (config.h): good files read in order,
 * every kind of bad line refused with its file and line, the command line overriding the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "npmu.h"

static const struct option opts[] = {
	{"pool", required_argument, NULL, 'p'},	 {"unit", required_argument, NULL, 'u'},
	{"verbose", no_argument, NULL, 'v'},	 {"insecure", no_argument, NULL, 'I'},
	{"config", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0}};
static const char *const repeatable[] = {"unit", NULL};
static const char *const command_only[] = {"config", "help", NULL};
static const struct npmu__config_spec spec = {opts, "p:u:vf:h", repeatable, command_only};

static char path[64];

/* write_file -- text (len bytes: it may hold NULs) into a fresh temporary file at path. */
static void write_file(const char *text, size_t len)
{
	snprintf(path, sizeof(path), "/tmp/npmu-test-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* read_text -- read a file of text; returns the status, err filled on NPMU_E_CONFIG. */
static int read_text(const char *text, struct npmu__config *cfg, char *err, size_t errlen)
{
	write_file(text, strlen(text));
	err[0] = '\0';
	int rc = npmu__config_read(path, &spec, cfg, err, errlen);
	unlink(path);
	return rc;
}

/* refused -- text is refused, with path, "line N" and why in the message. */
static void refused(const char *text, unsigned line, const char *why)
{
	struct npmu__config cfg;
	char err[512], want[64];
	assert_int_equal(read_text(text, &cfg, err, sizeof(err)), NPMU_E_CONFIG);
	assert_int_equal(cfg.n, 0);
	assert_non_null(strstr(err, path));
	snprintf(want, sizeof(want), "line %u: ", line);
	if (!strstr(err, want) || !strstr(err, why))
		fail_msg("for %s: got '%s', wanted '%s' and '%s'", text, err, want, why);
}

/* read__good: comments, blanks, tabs, CRLF ends and flags; entries in order with their lines;
 * a value is the rest of the line ('#' and '=' included); `no` is kept but marked off. */
static void read__good(void **state)
{
	(void)state;
	struct npmu__config cfg;
	char err[512];
	assert_int_equal(read_text("# a comment\n\n  pool =  /var/lib/p #1 = x \r\n"
				   "\tunit=a:1@r1\nunit = b:2\nverbose = yes\ninsecure = No\n",
				   &cfg, err, sizeof(err)),
			 0);
	assert_int_equal(cfg.n, 5);
	assert_int_equal(cfg.e[0].opt, 'p');
	assert_string_equal(cfg.e[0].value, "/var/lib/p #1 = x");
	assert_int_equal(cfg.e[0].line, 3);
	assert_string_equal(cfg.e[1].value, "a:1@r1");
	assert_int_equal(cfg.e[2].line, 5);
	assert_int_equal(cfg.e[3].opt, 'v');
	assert_null(cfg.e[3].value);
	assert_false(cfg.e[3].off);
	assert_int_equal(cfg.e[4].opt, 'I');
	assert_true(cfg.e[4].off);
	char where[128];
	assert_string_equal(npmu__config_where(&cfg, &cfg.e[2], where, sizeof(where)) + strlen(path),
			    " line 5: unit");
	npmu__config_free(&cfg);
	assert_null(cfg.e);
	assert_int_equal(read_text("", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n, 0);
	npmu__config_free(&cfg);
}

/* read__bad_lines: each kind of bad line is refused, naming its line and what is wrong. */
static void read__bad_lines(void **state)
{
	(void)state;
	refused("pool = a\nbogus = 1\n", 2, "unknown key 'bogus'");
	refused("config = other.conf\n", 1, "only on the command line");
	refused("# fine\npool /var/lib/p\n", 2, "no '='");
	refused("= x\n", 1, "no key");
	refused("pool =\n", 1, "'pool' has no value");
	refused("verbose = sometimes\n", 1, "takes yes or no");
	refused("pool = a\n\npool = b\n", 3, "'pool' given again (first on line 1)");
	refused("verbose = no\nverbose = yes\n", 2, "given again");
	refused("pool = a\x01" "b\n", 1, "control character");
	refused("--pool = x\n", 1, "unknown key '--pool'");
}

/* read__nul_and_long: a NUL byte is refused; so is a line over the limit, while one at the limit
 * is read whole. */
static void read__nul_and_long(void **state)
{
	(void)state;
	struct npmu__config cfg;
	char err[512];
	write_file("pool = a\0b\n", 11);
	assert_int_equal(npmu__config_read(path, &spec, &cfg, err, sizeof(err)), NPMU_E_CONFIG);
	assert_non_null(strstr(err, "line 1: a control character"));
	unlink(path);

	char line[NPMU_CONFIG_LINE_MAX + 8];
	memset(line, 'x', sizeof(line));
	memcpy(line, "pool = ", 7);
	line[NPMU_CONFIG_LINE_MAX] = '\n';
	line[NPMU_CONFIG_LINE_MAX + 1] = '\0';
	assert_int_equal(read_text(line, &cfg, err, sizeof(err)), 0);
	assert_int_equal(strlen(cfg.e[0].value), NPMU_CONFIG_LINE_MAX - 7);
	npmu__config_free(&cfg);
	line[NPMU_CONFIG_LINE_MAX] = 'x';
	line[NPMU_CONFIG_LINE_MAX + 1] = '\n';
	line[NPMU_CONFIG_LINE_MAX + 2] = '\0';
	char text[sizeof(line) + 32];
	snprintf(text, sizeof(text), "verbose = yes\n%sunit = after:1\n", line);
	refused(text, 2, "longer than 1024 bytes");
}

/* read__not_a_file: a missing file is NPMU_E_NOENT (the default one is optional); a directory
 * is refused by name. */
static void read__not_a_file(void **state)
{
	(void)state;
	struct npmu__config cfg;
	char err[512];
	assert_int_equal(npmu__config_read("/nonexistent/npmud.conf", &spec, &cfg, err, sizeof(err)),
			 NPMU_E_NOENT);
	assert_int_equal(npmu__config_read("/tmp", &spec, &cfg, err, sizeof(err)), NPMU_E_CONFIG);
	assert_string_equal(err, "/tmp: not a regular file");
}

/* merge__command_line_overrides: the command line's value wins, its repeatable options replace
 * the file's, a flag the file set to no stays off, and the rest of the file stays. */
static void merge__command_line_overrides(void **state)
{
	(void)state;
	struct npmu__config file, args, out;
	char err[512];
	assert_int_equal(read_text("pool = from-file\nunit = f1:1\nunit = f2:2\ninsecure = no\n"
				   "verbose = yes\n",
				   &file, err, sizeof(err)),
			 0);
	char *argv[] = {"prog", "--unit", "c1:1", "-p", "from-args", "left", NULL};
	assert_int_equal(npmu__config_args(6, argv, &spec, &args), 0);
	assert_int_equal(optind, 5);
	assert_int_equal(args.n, 2);
	assert_int_equal(npmu__config_merge(&file, &args, &spec, &out), 0);
	assert_int_equal(out.n, 3);
	assert_int_equal(out.e[0].opt, 'v');
	assert_int_equal(out.e[0].line, 5);
	assert_string_equal(out.e[1].value, "c1:1");
	assert_int_equal(out.e[1].line, 0);
	assert_string_equal(npmu__config_find(&out, 'p')->value, "from-args");
	assert_null(npmu__config_find(&out, 'I'));
	char where[128];
	assert_string_equal(npmu__config_where(&out, &out.e[2], where, sizeof(where)), "--pool");
	npmu__config_free(&file);
	npmu__config_free(&args);
	npmu__config_free(&out);
}

/* args__unknown_option: getopt's refusal is NPMU_E_CONFIG, with nothing kept. */
static void args__unknown_option(void **state)
{
	(void)state;
	struct npmu__config args;
	char *argv[] = {"prog", "--pool", "x", "--bogus", NULL};
	opterr = 0;
	assert_int_equal(npmu__config_args(4, argv, &spec, &args), NPMU_E_CONFIG);
	assert_int_equal(args.n, 0);
	assert_null(args.e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read__good),
		cmocka_unit_test(read__bad_lines),
		cmocka_unit_test(read__nul_and_long),
		cmocka_unit_test(read__not_a_file),
		cmocka_unit_test(merge__command_line_overrides),
		cmocka_unit_test(args__unknown_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
