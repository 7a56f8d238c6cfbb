/*
 * The monotonic clock, for deadlines, rates and durations (never for dates): one definition for every
 * module of the program. clock_gettime(CLOCK_MONOTONIC) is a vDSO call on Linux, no system call.
 */
#ifndef KMIPD_CLOCK_H
#define KMIPD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds on the monotonic clock. */
static inline int64_t
clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds on the monotonic clock. */
static inline int64_t
clock_ms(void)
{
	return clock_us() / 1000;
}

#endif
