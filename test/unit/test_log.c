/*
 * test_log: the log's rate limit for repeated lines and its JSON form, on a log file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "test/util.h"

/* A log file in a fresh folder; returns its path (static). */
static const char *
log_file(void)
{
	static char dir[256], path[300];
	char *cause = NULL;

	assert_int_equal(util_mkdtemp(dir, sizeof(dir), NULL, "kmipd-test-log"), 0);
	snprintf(path, sizeof(path), "%s/kmipd.log", dir);
	log_init(LOG_LEVEL_INFO, false, 0);
	if (log_open_file(path, &cause) != 0)
		fail_msg("log_open_file: %s", cause);
	return path;
}

/* Past LOG_LIMIT_BURST lines in a window, the rest go to debug; the next window's first line counts them. */
static void
test_limit(void **state)
{
	const char *path = log_file();
	struct log_limit l = { 0 };
	unsigned warn = 0, debug = 0;
	char *text;

	(void)state;
	for (int i = 0; i < LOG_LIMIT_BURST + 5; i++) {
		if (log_limit_level(&l, LOG_LEVEL_WARN, "failed handshakes") == LOG_LEVEL_WARN)
			warn++;
		else
			debug++;
	}
	assert_int_equal(warn, LOG_LIMIT_BURST);
	assert_int_equal(debug, 5);
	l.window_ms -= LOG_LIMIT_WINDOW_MS + 1;
	assert_int_equal(log_limit_level(&l, LOG_LEVEL_WARN, "failed handshakes"), LOG_LEVEL_WARN);
	text = util_read_file(path, NULL);
	assert_non_null(text);
	if (strstr(text, "warn: 5 more failed handshakes in the last 10 s were logged at debug level only") == NULL)
		fail_msg("no count of the lines sent to debug: %s", text);
	free(text);
	assert_int_equal(log_open_file(NULL, &text), 0);
}

/* log.format = json: one object per line, a client's bytes escaped. */
static void
test_json(void **state)
{
	const char *path = log_file();
	char *text;

	(void)state;
	log_set_json(true);
	log_info("a \"quoted\" \x01 line");
	log_set_json(false);
	text = util_read_file(path, NULL);
	assert_non_null(text);
	if (strstr(text, "\"level\":\"info\",\"msg\":\"a \\\"quoted\\\" \\u0001 line\"}\n") == NULL)
		fail_msg("not the JSON line expected: %s", text);
	free(text);
	assert_int_equal(log_open_file(NULL, &text), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_json),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
