/* test_cli.c -- the npmu command's option parser (tools/npmu/options.c) and JSON output
 * (tools/npmu/output.c), compiled in: strict numbers, sizes, errors that name the option, and
 * escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"
#include "output.h"
#include "size.h"

enum { T_K, T_VERSION, T_SEG, T_MIRROR, T_MIRROR_UNIT, T_UNIT };
static const struct opt_spec t_opts[] = {
	[T_K] = {"k", 'k', OPT_UINT, 0, UINT32_MAX},
	[T_VERSION] = {"version", 'v', OPT_UINT},
	[T_SEG] = {"seg", 's', OPT_SIZE},
	[T_MIRROR] = {"mirror", 'M', OPT_FLAG},
	[T_MIRROR_UNIT] = {"mirror-unit", 'U', OPT_STRING},
	[T_UNIT] = {"unit", 'u', OPT_STRING, 1, 0},
	{NULL},
};
static const struct opt_spec t_args[] = {{"NAME", 0, OPT_STRING}, {"SIZE", 0, OPT_SIZE, 1, 0},
					 {NULL}};
static const struct opt_cmd t_cmd = {"npmu test", "Usage: npmu test\n", t_opts, t_args};

static char err[512];

/* parse -- parse the NULL-terminated words against cmd into r; the status. */
static enum opt_status parse(const struct opt_cmd *cmd, struct opt_result *r, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, r);
	for (char *w; argc < 31 && (w = va_arg(ap, char *)) != NULL;)
		argv[argc++] = w;
	va_end(ap);
	argv[argc] = NULL;
	return opt_parse(cmd, argc, argv, r, err, sizeof(err));
}

/* uint__strict: plain decimal only; anything else is refused with the option named. */
static void uint__strict(void **state)
{
	(void)state;
	struct opt_result r;
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--version", "1K", NULL), OPT_INVALID);
	assert_string_equal(err, "npmu test: --version: expected a whole number, got '1K'");
	const char *bad[] = {"", "1.5", "+5", "-1", "010", "00", " 5", "5 ", "0x10", "1e3", "5k",
			     "four"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--version", bad[i], NULL),
				 OPT_INVALID);
		assert_non_null(strstr(err, "expected a whole number"));
	}
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--version", "18446744073709551615", NULL),
			 OPT_OK);
	assert_true(r.opt[T_VERSION].num == UINT64_MAX);
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "-v", "18446744073709551616", NULL),
			 OPT_INVALID);
	assert_string_equal(err, "npmu test: --version: expected a whole number from 0 to "
				 "18446744073709551615, got '18446744073709551616'");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--k=4294967295", NULL), OPT_OK);
	assert_int_equal(r.opt[T_K].num, 4294967295u);
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--k", "4294967296", NULL), OPT_INVALID);
	assert_non_null(strstr(err, "--k: expected a whole number from 0 to 4294967295"));
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--version", "0", NULL), OPT_OK);
	assert_true(r.opt[T_VERSION].seen);
	assert_int_equal(r.opt[T_VERSION].num, 0);
	uint64_t v = 7;
	assert_int_equal(opt_parse_uint("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(opt_parse_uint("42x", &v), -1);
	assert_int_equal(opt_parse_uint(NULL, &v), -1);
	assert_int_equal(v, 42);
}

/* size__values: options and arguments of kind size go through npmu__size_parse, with a range. */
static void size__values(void **state)
{
	(void)state;
	struct opt_result r;
	assert_int_equal(parse(&t_cmd, &r, "n", "16M", "--seg", "64K", NULL), OPT_OK);
	assert_int_equal(r.opt[T_SEG].num, 65536);
	assert_int_equal(r.arg[1].num, 16u << 20);
	assert_string_equal(r.arg[0].text, "n");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--seg=1.5M", NULL), OPT_OK);
	assert_int_equal(r.opt[T_SEG].num, 1572864);
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "-s12Q", NULL), OPT_INVALID);
	assert_string_equal(err, "npmu test: --seg: invalid size '12Q' (examples: 4096, 64K, 16M, "
				 "4G)");
	assert_int_equal(parse(&t_cmd, &r, "n", "0", NULL), OPT_INVALID); /* SIZE is at least 1 */
	assert_string_equal(err,
			    "npmu test: SIZE: invalid size '0' (examples: 4096, 64K, 16M, 4G)");
	assert_int_equal(parse(&t_cmd, &r, "n", "010", NULL), OPT_INVALID);
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--seg", "0", NULL), OPT_OK);
	assert_true(r.opt[T_SEG].seen);
}

/* errors__usage: unknown options, missing values, flags with values, ambiguous prefixes. */
static void errors__usage(void **state)
{
	(void)state;
	struct opt_result r;
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--frob", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu test: unknown option '--frob'");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "-x", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu test: unknown option '-x'");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--version", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu test: --version: needs a value");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "-v", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu test: --version: needs a value");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--mirror=yes", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu test: --mirror: takes no value");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--mir", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu test: ambiguous option '--mir'");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--mirror-u", "a", "--vers", "3", NULL),
			 OPT_OK); /* a prefix naming one option is that option */
	assert_string_equal(r.opt[T_MIRROR_UNIT].text, "a");
	assert_int_equal(r.opt[T_VERSION].num, 3);
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--unit", "", NULL), OPT_OK);
	assert_string_equal(r.opt[T_UNIT].text, "");
	assert_int_equal(parse(&t_cmd, &r, "n", "1M", "--help", NULL), OPT_HELP);
	assert_int_equal(parse(&t_cmd, &r, "-h", NULL), OPT_HELP);
}

/* args__count: positional arguments anywhere among the options, their count checked. */
static void args__count(void **state)
{
	(void)state;
	struct opt_result r;
	assert_int_equal(parse(&t_cmd, &r, "n", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu test: wrong arguments (1 given; expected NAME SIZE)");
	assert_int_equal(parse(&t_cmd, &r, "a", "1M", "c", "d", "e", "f", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu test: wrong arguments (6 given; expected NAME SIZE)");
	assert_int_equal(parse(&t_cmd, &r, "-Mk4", "n", "--seg", "8K", "2M", "-M", NULL), OPT_OK);
	assert_int_equal(r.opt[T_MIRROR].num, 2);
	assert_int_equal(r.opt[T_K].num, 4);
	assert_string_equal(r.arg[0].text, "n");
	assert_int_equal(r.arg[1].num, 2u << 20);
	assert_int_equal(parse(&t_cmd, &r, "-k", "5", "-k", "6", "--", "-n", "1M", NULL), OPT_OK);
	assert_int_equal(r.opt[T_K].num, 6); /* the last one given counts */
	assert_string_equal(r.arg[0].text, "-n");
	assert_int_equal(parse(&t_cmd, &r, "-", "1M", NULL), OPT_OK);
	assert_string_equal(r.arg[0].text, "-");
	static const struct opt_cmd none = {"npmu none", "", NULL, NULL};
	assert_int_equal(parse(&none, &r, "x", NULL), OPT_USAGE);
	assert_string_equal(err, "npmu none: wrong arguments (1 given; expected none)");
	assert_int_equal(parse(&none, &r, NULL), OPT_OK);
}

/* stop__at_arg: the global options end at the verb, whose words are left as they are. */
static void stop__at_arg(void **state)
{
	(void)state;
	static const struct opt_spec g[] = {{"server", 's', OPT_STRING}, {"json", 'j', OPT_FLAG},
					    {NULL}};
	static const struct opt_cmd global = {"npmu", "", g, NULL, true};
	struct opt_result r;
	assert_int_equal(parse(&global, &r, "-j", "--server", "h:1", "region", "--x", NULL),
			 OPT_OK);
	assert_int_equal(r.next, 3);
	assert_true(r.opt[1].seen);
	assert_string_equal(r.opt[0].text, "h:1");
	assert_int_equal(parse(&global, &r, "-sh:2", "--", "-j", NULL), OPT_OK);
	assert_int_equal(r.next, 2);
	assert_string_equal(r.opt[0].text, "h:2");
	assert_false(r.opt[1].seen);
	assert_int_equal(parse(&global, &r, "-j", NULL), OPT_OK);
	assert_int_equal(r.next, 1);
}

/* json_of -- what out_json_string writes for s, in a buffer to free. */
static char *json_of(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	out_json_string(f, s);
	fclose(f);
	return buf;
}

/* escape__strings: quotes, backslashes, control characters, and bytes that are not UTF-8. */
static void escape__strings(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"plain", "\"plain\""},
		{"a\"b\\c", "\"a\\\"b\\\\c\""},
		{"\n\t\x01\x1f", "\"\\u000a\\u0009\\u0001\\u001f\""},
		{"x\x7fy/", "\"x\x7fy/\""},
		{"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e", /* U+00E9 U+20AC U+1D11E */
		 "\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\""},
		{"\xff", "\"\\ufffd\""},
		{"\xc0\xaf", "\"\\ufffd\\ufffd\""},	    /* an overlong '/' */
		{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
		{"a\xe2\x82", "\"a\\ufffd\\ufffd\""},	    /* cut short */
		{"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* above U+10FFFF */
		{"", "\"\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = json_of(cases[i][0]);
		assert_string_equal(got, cases[i][1]);
		free(got);
	}
	char *got = json_of(NULL);
	assert_string_equal(got, "\"\"");
	free(got);
}

/* json__writer: members separated by commas, nested containers, keys escaped, one line. */
static void json__writer(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct out_json j = out_json_start(f);
	out_json_object(&j, NULL);
	out_json_str(&j, "name", "r\"1");
	out_json_u64(&j, "size", UINT64_MAX);
	out_json_int(&j, "code", -1006);
	out_json_array(&j, "copies");
	out_json_object(&j, NULL);
	out_json_bool(&j, "up", true);
	out_json_end(&j);
	out_json_object(&j, NULL);
	out_json_bool(&j, "up", false);
	out_json_end(&j);
	out_json_end(&j);
	out_json_array(&j, "none");
	out_json_end(&j);
	out_json_fixed(&j, "seconds", 1.5, 3);
	out_json_end(&j);
	fclose(f);
	assert_string_equal(buf, "{\"name\":\"r\\\"1\",\"size\":18446744073709551615,"
				 "\"code\":-1006,\"copies\":[{\"up\":true},{\"up\":false}],"
				 "\"none\":[],\"seconds\":1.500}\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uint__strict),	 cmocka_unit_test(size__values),
		cmocka_unit_test(errors__usage),	 cmocka_unit_test(args__count),
		cmocka_unit_test(stop__at_arg),	 cmocka_unit_test(escape__strings),
		cmocka_unit_test(json__writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
