/* log.h -- leveled one-line logging for npmu daemons and the library. */
#ifndef NPMU_LOG_H
#define NPMU_LOG_H

#include "npmu.h" /* enum npmu_log_level, npmu_log_fn */

extern _Atomic int npmu__log_threshold;

/* npmu__log_init -- set the threshold and the program name printed on each line ($NPMU_LOG overrides). */
void npmu__log_init(const char *prog, enum npmu_log_level level);

/* npmu__log_env -- (the library) apply $NPMU_LOG=error|warn|info|debug once, unless the
 * application set a level (npmu_log_set_level). */
void npmu__log_env(void);

/* npmu__log_write -- format one line and hand it to the application's sink, else print it to
 * stderr with the time and the program name (use the LOG_* macros). */
void npmu__log_write(enum npmu_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define NPMU_LOG(level, ...)                                                                       \
	do {                                                                                       \
		if ((int)(level) <= npmu__log_threshold)                                           \
			npmu__log_write((level), __VA_ARGS__);                                     \
	} while (0)
#define LOG_ERR(...) NPMU_LOG(NPMU_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) NPMU_LOG(NPMU_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) NPMU_LOG(NPMU_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) NPMU_LOG(NPMU_LOG_DEBUG, __VA_ARGS__)

#endif
