/* log.c -- leveled one-line logging: to the application's sink, or to stderr with a timestamp
 * and the program name, or, when stderr is the journal's stream, with its priority alone. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

_Atomic int npmu__log_threshold = NPMU_LOG_WARN;
static char prog_name[32] = "npmu";
static atomic_bool level_set; /* by the application: $NPMU_LOG no longer applies */
/* the application's sink (sink_lock: the function and its argument change together) */
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static npmu_log_fn sink_fn;
static void *sink_arg;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char syslog_priority[] = {'3', '4', '6', '7'}; /* err, warning, info, debug */
static atomic_bool to_journal; /* stderr is the journal's stream: "<N>message" lines */

/* stderr_is_journal -- whether $JOURNAL_STREAM ("DEVICE:INODE", set by systemd) names the file
 * that stderr is (not one that a child of the service inherited elsewhere). */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	return env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* npmu__log_init -- set the threshold and program name; $NPMU_LOG=error|warn|info|debug overrides. */
void npmu__log_init(const char *prog, enum npmu_log_level level)
{
	if (prog)
		snprintf(prog_name, sizeof(prog_name), "%s", prog);
	atomic_store(&to_journal, stderr_is_journal());
	npmu__log_threshold = level;
	const char *env = getenv("NPMU_LOG");
	if (!env)
		return;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(env, level_names[i]) == 0)
			npmu__log_threshold = i;
}

/* apply_env -- $NPMU_LOG, unless the application set a level. */
static void apply_env(void)
{
	if (!atomic_load(&level_set))
		npmu__log_init(NULL, (enum npmu_log_level)npmu__log_threshold);
}

/* npmu__log_env -- apply $NPMU_LOG once (for the library, which has no program to set a level). */
void npmu__log_env(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, apply_env);
}

/* npmu_log_set_level -- the application's threshold, from now on. */
void npmu_log_set_level(enum npmu_log_level level)
{
	if (level < NPMU_LOG_ERROR || level > NPMU_LOG_DEBUG)
		return;
	atomic_store(&level_set, true);
	npmu__log_threshold = level;
}

/* npmu_log_set_function -- the application's sink (NULL: stderr). */
void npmu_log_set_function(npmu_log_fn fn, void *arg)
{
	pthread_mutex_lock(&sink_lock);
	sink_fn = fn;
	sink_arg = arg;
	pthread_mutex_unlock(&sink_lock);
}

/* prefix -- what goes before a message on stderr: "TIME prog level: ", or "<N>" (the syslog
 * priority, sd-daemon.h style) for the journal, which keeps the time and the program itself. */
static int prefix(char *line, size_t size, enum npmu_log_level level)
{
	if (atomic_load(&to_journal))
		return snprintf(line, size, "<%c>", syslog_priority[level]);
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	return snprintf(line, size, "%02d:%02d:%02d.%03ld %s %s: ", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, prog_name, level_names[level]);
}

/* npmu__log_write -- one line to the application's sink, or with its prefix as one write to
 * stderr. */
void npmu__log_write(enum npmu_log_level level, const char *fmt, ...)
{
	char line[1024];
	int n = prefix(line, sizeof(line), level);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	pthread_mutex_lock(&sink_lock);
	if (sink_fn) {
		line[len] = '\0';
		sink_fn(level, line + n, sink_arg); /* the message alone: the sink adds what it wants */
		pthread_mutex_unlock(&sink_lock);
		return;
	}
	pthread_mutex_unlock(&sink_lock);
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}
