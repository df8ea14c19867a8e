/* test_log.c -- the library's log hook (npmu_log_set_function, npmu_log_set_level): lines go to
 * the application's sink and not to stderr, at the level asked for, and back to stderr after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "npmu.h"

static char got[16][1024];
static enum npmu_log_level got_level[16];
static int ngot;

/* sink -- keep each line. */
static void sink(enum npmu_log_level level, const char *line, void *arg)
{
	(void)arg;
	if (ngot < 16) {
		snprintf(got[ngot], sizeof(got[ngot]), "%s", line);
		got_level[ngot++] = level;
	}
}

/* stderr_bytes -- how many bytes were written to fd 2 since it was pointed at path. */
static long stderr_bytes(const char *path)
{
	fflush(stderr);
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* hook__sink_level_and_back: a bad credentials file is logged to the sink (naming the file),
 * and nothing reaches stderr; with the sink removed, the next error goes to stderr again. */
static void hook__sink_level_and_back(void **state)
{
	(void)state;
	char path[] = "/tmp/npmu-test-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(2);
	assert_int_equal(dup2(fd, 2), 2);
	struct npmu_conn *c = NULL;
	struct npmu_conn_cfg cfg = {.server = "127.0.0.1:1", .credentials = "/nonexistent/app.cred"};

	npmu_log_set_function(sink, NULL);
	npmu_log_set_level(NPMU_LOG_WARN);
	assert_int_equal(npmu_conn_new(&cfg, &c), NPMU_E_CONFIG);
	assert_null(c);
	assert_true(ngot >= 1);
	assert_int_equal(got_level[0], NPMU_LOG_ERROR);
	assert_non_null(strstr(got[0], "/nonexistent/app.cred"));
	assert_null(strchr(got[0], '\n'));
	assert_int_equal(stderr_bytes(path), 0);

	npmu_log_set_level(NPMU_LOG_ERROR);
	npmu_log_set_function(NULL, NULL); /* back to stderr */
	ngot = 0;
	assert_int_equal(npmu_conn_new(&cfg, &c), NPMU_E_CONFIG);
	assert_int_equal(ngot, 0);
	assert_true(stderr_bytes(path) > 0);

	dup2(saved, 2);
	close(saved);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hook__sink_level_and_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
