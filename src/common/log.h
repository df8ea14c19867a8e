/* log.h -- leveled one-line logging for npmu daemons and the library. */
#ifndef NPMU_LOG_H
#define NPMU_LOG_H

enum npmu__log_level { NPMU_LOG_ERROR, NPMU_LOG_WARN, NPMU_LOG_INFO, NPMU_LOG_DEBUG };

extern int npmu__log_threshold;

/* npmu__log_init -- set the threshold and the program name printed on each line ($NPMU_LOG overrides). */
void npmu__log_init(const char *prog, enum npmu__log_level level);

/* npmu__log_env -- apply $NPMU_LOG=error|warn|info|debug, keeping the program name. */
void npmu__log_env(void);

/* npmu__log_write -- format and print one line to stderr (use the LOG_* macros). */
void npmu__log_write(enum npmu__log_level level, const char *fmt, ...)
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
