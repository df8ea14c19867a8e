/* log.c -- leveled one-line logging to stderr with a timestamp and the program name. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int npmu__log_threshold = NPMU_LOG_WARN;
static char prog_name[32] = "npmu";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* npmu__log_init -- set the threshold and program name; $NPMU_LOG=error|warn|info|debug overrides. */
void npmu__log_init(const char *prog, enum npmu__log_level level)
{
	if (prog)
		snprintf(prog_name, sizeof(prog_name), "%s", prog);
	npmu__log_threshold = level;
	const char *env = getenv("NPMU_LOG");
	if (!env)
		return;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(env, level_names[i]) == 0)
			npmu__log_threshold = i;
}

/* npmu__log_env -- apply $NPMU_LOG alone (for the library, which has no program to set a level). */
void npmu__log_env(void)
{
	npmu__log_init(NULL, (enum npmu__log_level)npmu__log_threshold);
}

/* npmu__log_write -- print "TIME prog level: message" as one write to stderr. */
void npmu__log_write(enum npmu__log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s %s: ", tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, prog_name, level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}
