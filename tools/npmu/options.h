/* options.h -- the npmu command's one option parser: per command, a table of its options. */
#ifndef NPMU_TOOL_OPTIONS_H
#define NPMU_TOOL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What an option takes: nothing, any text, a size ("64K", via npmu__size_parse), or a whole
 * number in plain decimal (no suffix, no sign, no leading zero, nothing after it). */
enum opt_kind { OPT_FLAG, OPT_STRING, OPT_SIZE, OPT_UINT };

/* opt_spec -- one option (--name, -short) or one positional argument (name: its placeholder, as
 * "SIZE"). Sizes and numbers must lie in min..max (max 0: no upper limit). */
struct opt_spec {
	const char *name;
	char short_name; /* 0: none */
	enum opt_kind kind;
	uint64_t min, max;
};

#define OPT_MAX 16     /* options in one command's table, at most */
#define OPT_MAX_ARGS 4 /* positional arguments of one command, at most */

/* opt_cmd -- one command: its options, its positional arguments (every one required), and the
 * text --help prints. --help and -h are understood by every command. */
struct opt_cmd {
	const char *name;	     /* "npmu stripe get": the start of every error message */
	const char *usage;	     /* printed for --help (stdout), after a usage error (stderr) */
	const struct opt_spec *opts; /* ends with a NULL name; may be NULL */
	const struct opt_spec *args; /* ends with a NULL name; may be NULL */
	bool stop_at_arg; /* options end at the first positional argument (the global options) */
};

/* opt_value -- what was given for one option or argument. */
struct opt_value {
	bool seen;	  /* given at least once (the last one given counts) */
	const char *text; /* the text given (NULL for a flag) */
	uint64_t num;	  /* a size or a number; a flag: how many times it was given */
};

/* opt_result -- a parsed command line, in the order of the command's tables. */
struct opt_result {
	struct opt_value opt[OPT_MAX];
	struct opt_value arg[OPT_MAX_ARGS];
	int next; /* stop_at_arg: the index of the first argument not parsed (argc: none left) */
};

/* What opt_parse found. */
enum opt_status {
	OPT_OK = 0,	 /* parsed */
	OPT_HELP = 1,	 /* --help or -h was given */
	OPT_USAGE = 2,	 /* an unknown option, a missing value, or the wrong number of arguments */
	OPT_INVALID = 3, /* a value that is not of the option's kind or outside its range */
};

/* opt_parse -- parse argv[0..argc) against cmd into r; on an error, err holds the message
 * ("npmu stripe get: --version: expected a whole number, got '1K'"). Options may come before,
 * between and after the arguments (unless cmd->stop_at_arg); "--" ends them. */
enum opt_status opt_parse(const struct opt_cmd *cmd, int argc, char **argv, struct opt_result *r,
			  char *err, size_t errlen);

/* opt_command -- opt_parse, printing what a user needs: the usage on --help, the error (and the
 * usage after a usage error) otherwise. Returns -1 to go on, else the exit status (0 or 2). */
int opt_command(const struct opt_cmd *cmd, int argc, char **argv, struct opt_result *r);

/* opt_parse_uint -- a whole number in plain decimal; 0, or -1 if text is anything else. */
int opt_parse_uint(const char *text, uint64_t *value);

#endif
