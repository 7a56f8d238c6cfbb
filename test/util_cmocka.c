/*
 * Helpers the cmocka test binaries share: the start of main() and reading a file. An object of its own in
 * libtestutil.a, so that programs without cmocka can use the rest.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test/util.h"

/* Ignores SIGPIPE and takes argv[1], when given, as the filter on the names of the tests to run. */
void
util_test_start(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
}

/* True under make test-vectors (KMIPD_TEST_VECTORS=1). */
int
util_vector_run(void)
{
	const char *v = getenv("KMIPD_TEST_VECTORS");

	return v != NULL && v[0] == '1';
}

/* Reads a whole file into a malloc'd, NUL-terminated buffer; NULL when it cannot be opened. */
char *
util_read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}
