/*
 * Helpers the test programs share that need nothing but libc: temporary folders, clocks, option values.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "test/util.h"

/* Makes a new private folder named name.XXXXXX under parent (NULL: /tmp); returns 0 or -1 with errno. */
int
util_mkdtemp(char *dir, size_t size, const char *parent, const char *name)
{
	int n = snprintf(dir, size, "%s/%s.XXXXXX", parent != NULL ? parent : "/tmp", name);

	if (n < 0 || (size_t)n >= size) {
		dir[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	return 0;
}

/* nftw callback of util_rmtree: removes one file or (empty by now) folder. */
static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it, depth first and without following links; returns 0 or -1. */
int
util_rmtree(const char *dir)
{
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* Returns nanoseconds on a monotonic clock. */
uint64_t
util_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Returns seconds on a monotonic clock. */
double
util_now(void)
{
	return (double)util_now_ns() / 1e9;
}

/* Returns milliseconds on a monotonic clock. */
int64_t
util_now_ms(void)
{
	return (int64_t)(util_now_ns() / 1000000);
}

/* Reads a whole decimal number from min to max; returns 0, or -1 for anything else. */
int
util_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* qsort comparison of two doubles. */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts n doubles in increasing order. */
void
util_sort_doubles(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
}
