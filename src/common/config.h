/* config.h -- a daemon's settings from its configuration file and its command line, merged. */
#ifndef NPMU_CONFIG_H
#define NPMU_CONFIG_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The configuration file of npmud (/etc/npmu/npmud.conf) and of pmmd (/etc/npmu/pmmd.conf):
 *
 *   # a comment: a line whose first non-blank character is '#'
 *   pool = /var/lib/npmu/pool
 *   listen = 0.0.0.0:7411
 *   verbose = yes
 *
 * One setting per line, `key = value`. A key is the long name of a command-line option (without
 * "--"); the value is the rest of the line after '=', blanks around it removed, taken as it is
 * (no quoting, no escapes; '#' after a value is part of it). An option without an argument
 * takes yes|no (true|false, on|off, 1|0 too); `no` leaves it unset. Blank lines are ignored.
 *
 * Refused, with the file and the line named: a line over NPMU_CONFIG_LINE_MAX bytes, a NUL or
 * other control character, a line without '=', a key that is no option of the daemon (or one
 * only the command line takes: config, check-config, help), an empty value, a flag's value
 * other than the above, and a key given twice unless the daemon allows it (pmmd's `unit`).
 *
 * The command line overrides the file: an option given on both is taken from the command line;
 * a repeatable one given on the command line replaces every value the file gave it.
 */
#define NPMU_CONFIG_LINE_MAX 1024
#define NPMU_CONFIG_DIR "/etc/npmu" /* npmud.conf and pmmd.conf, read by default if present */

/* One setting: from the file (line > 0) or from the command line (line 0). */
struct npmu__config_entry {
	int opt;         /* the option's getopt value (struct option.val) */
	const char *key; /* its long name (the option table's) */
	char *value;     /* its argument (owned); NULL for a flag */
	unsigned line;   /* the file's line; 0: the command line */
	bool off;        /* a flag the file set to no: kept to find it given twice, never merged */
};

/* A list of settings, in the order they were given. */
struct npmu__config {
	char *path; /* the file read (owned); NULL for the command line */
	struct npmu__config_entry *e;
	size_t n, cap;
};

/* What a daemon's options are, for reading them. */
struct npmu__config_spec {
	const struct option *opts;       /* getopt_long's table, each with a distinct val */
	const char *shortopts;           /* getopt_long's short options */
	const char *const *repeatable;   /* keys that may be given more than once (NULL-ended) */
	const char *const *command_only; /* keys a file may not set (NULL-ended) */
};

/*
 * npmu__config_read -- the settings of file path into *cfg (emptied first). Returns 0,
 * NPMU_E_NOENT when the file does not exist, or NPMU_E_CONFIG with err holding "PATH line N:
 * what is wrong" (or "PATH: why it cannot be read"); *cfg is empty on failure.
 */
int npmu__config_read(const char *path, const struct npmu__config_spec *spec,
		      struct npmu__config *cfg, char *err, size_t errlen);

/*
 * npmu__config_args -- the command line's options into *cfg (emptied first), in order; the
 * words left over from optind on are not options. Returns 0, or NPMU_E_CONFIG after getopt has
 * printed the problem.
 */
int npmu__config_args(int argc, char **argv, const struct npmu__config_spec *spec,
		      struct npmu__config *cfg);

/* npmu__config_find -- the last entry of option opt in cfg (one set to no too), or NULL. */
const struct npmu__config_entry *npmu__config_find(const struct npmu__config *cfg, int opt);

/*
 * npmu__config_merge -- the settings in force into *out (emptied first): the file's, less those
 * the command line overrides (see above), then the command line's. 0 or NPMU_E_NOMEM.
 */
int npmu__config_merge(const struct npmu__config *file, const struct npmu__config *args,
		       const struct npmu__config_spec *spec, struct npmu__config *out);

/*
 * npmu__config_load -- the configuration file at path (named: given with --config, so it must
 * exist; else the default one, skipped when it does not exist) merged with the command line's
 * args into *out. -1 to go on, else the exit status, what is wrong told on stderr as prog's.
 */
int npmu__config_load(const char *prog, const char *path, bool named,
		      const struct npmu__config_spec *spec, const struct npmu__config *args,
		      struct npmu__config *out);

/* npmu__config_where -- where an entry of cfg came from, for messages: "--KEY" or
 * "PATH line N: KEY"; returns buf. */
const char *npmu__config_where(const struct npmu__config *cfg, const struct npmu__config_entry *e,
			       char *buf, size_t buflen);

/* npmu__config_free -- free every entry and the path; *cfg is empty after. */
void npmu__config_free(struct npmu__config *cfg);

#endif
