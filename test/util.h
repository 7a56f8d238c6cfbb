/*
 * Helpers the test programs share: unit and integration tests, benchmarks, the conformance runner. Linked as
 * $(BUILD)/libtestutil.a, so that a program takes only the objects it uses: the cmocka helpers
 * (util_test_start, util_read_file) and the store helper live in objects of their own, so that a benchmark
 * that never calls them needs neither libcmocka nor libstore.
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
 * Whether this is the run of the cases that read the OASIS files (`make test-vectors`, which sets
 * KMIPD_TEST_VECTORS=1): a binary with such cases runs them alone then, and the others otherwise, so that
 * `make test` passes in a source tree without ../shared/kmip-vectors (a package build).
 */
int util_vector_run(void);
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

struct store_object;
struct store_options;
struct store_kek;

/* Changes *obj (NULL when the object does not exist yet) in place or replaces it; returns 0, or -1 to give up. */
typedef int (*util_store_change_fn)(struct store_object **obj, void *arg);
/*
 * Writes to the store as another process would (LMDB must not open one environment twice in a process): a
 * child opens the store with o, reads the object uid, lets change() alter it, then puts it, commits and
 * group-commits. Returns the child's exit status: 0 when done, 1 when a store call failed, 2 when change()
 * gave up, 3 when it did not finish within 5 s (it was waiting for a writer lock).
 */
int util_store_write_elsewhere(const struct store_options *o, const char *uid, util_store_change_fn change,
    void *arg);
/*
 * A master key for test stores (made once per process in a temporary file, loaded, the file removed):
 * store options take it as o.master, so that tests run the store encrypted, as kmipd does.
 */
const struct store_kek *util_store_master_key(void);

/* Nanoseconds, seconds and milliseconds on a monotonic clock. */
uint64_t util_now_ns(void);
double util_now(void);
int64_t util_now_ms(void);
/* Reads s, a whole decimal number from min to max, into *out (an option's value). Returns 0, or -1. */
int util_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* Sorts n doubles in increasing order (latency samples, rates). */
void util_sort_doubles(double *v, size_t n);

#endif
