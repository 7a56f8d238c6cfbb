/*
 * Helpers the test programs share: unit and integration tests, benchmarks. Linked as $(BUILD)/libtestutil.a,
 * so that a program takes only the objects it uses: the cmocka helpers (util_test_start, util_read_file)
 * live in an object of their own, and a benchmark that never calls them does not need libcmocka.
 *
 * Symbol prefix: util_.
 */
#ifndef KMIPD_TEST_UTIL_H
#define KMIPD_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * What every cmocka test binary does before running its groups: ignores SIGPIPE, so that a peer that closes
 * fails a test instead of killing the binary, and takes argv[1], when given, as a filter on the tests' names.
 */
void util_test_start(int argc, char **argv);
/*
 * Reads a whole file into a malloc'd buffer with a NUL after the contents; *len (when len is not NULL) gets
 * its size. Returns NULL when the file cannot be opened (errno set); fails the test when it cannot be read.
 */
char *util_read_file(const char *path, size_t *len);

/*
 * Makes a new private folder named name.XXXXXX under parent (NULL: /tmp) into dir. Returns 0, or -1 with
 * errno set (dir then holds "").
 */
int util_mkdtemp(char *dir, size_t size, const char *parent, const char *name);
/* Removes dir and everything below it, without following links. Returns 0, or -1 when something stayed. */
int util_rmtree(const char *dir);

/* Seconds on a monotonic clock. */
double util_now(void);
/* Milliseconds on a monotonic clock. */
int64_t util_now_ms(void);
/* Sorts n doubles in increasing order (latency samples, rates). */
void util_sort_doubles(double *v, size_t n);

#endif
