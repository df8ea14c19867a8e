/* cli.h -- what the npmu command's verbs share: the connection, errors, files, sub-commands. */
#ifndef NPMU_TOOL_CLI_H
#define NPMU_TOOL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "npmu.h"
#include "options.h"

#define CLI_CHUNK (8u << 20) /* bytes moved per call by put and get */

/* cli_cfg -- the connection's settings: --server and --provider (main.c sets them). */
extern struct npmu_conn_cfg cli_cfg;

/* cli_connect -- connect to the configured manager, or say why not and exit 1. */
struct npmu_conn *cli_connect(void);

/* cli_die -- report a failed request (out_error) and exit 1. */
_Noreturn void cli_die(const char *what, int rc);

/* cli_refuse -- a failure said in the command's own words: rc's JSON error about `what` (under
 * --json), the formatted line for people, and exit 1. */
_Noreturn void cli_refuse(const char *what, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* cli_file_error -- "npmu: PATH: what errno says" on standard error; returns 1, the exit status. */
int cli_file_error(const char *path);

/* cli_now -- monotonic seconds. */
double cli_now(void);

/* cli_read_full -- read up to len bytes, looping over short reads; bytes read, or -1. */
ssize_t cli_read_full(int fd, char *buf, size_t len);

/* cli_write_full -- write all of buf, looping over short writes; 0, or -1. */
int cli_write_full(int fd, const void *buf, size_t len);

/* cli_open_in -- open path ("-": standard input) for reading and stat it; the fd, or -1. */
int cli_open_in(const char *path, struct stat *st);

/* cli_open_out -- create or truncate path ("-": standard output) for writing; the fd, or -1. */
int cli_open_out(const char *path);

/* cli_sub -- one sub-command of a verb ("region create"): its table and what runs it. */
struct cli_sub {
	const char *name;
	const struct opt_cmd *cmd;
	int (*run)(const struct opt_result *r);
};

/* cli_dispatch -- run the sub-command argv[1] of group argv[0] (subs ends with a NULL name):
 * usage on --help or none, then its options and arguments parsed; returns the exit status. */
int cli_dispatch(const char *usage, const struct cli_sub *subs, int argc, char **argv);

#endif
