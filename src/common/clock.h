/* clock.h -- the monotonic clock, in the units npmu counts in. */
#ifndef NPMU_CLOCK_H
#define NPMU_CLOCK_H

#include <stdint.h>
#include <time.h>

/* npmu__now_ns -- monotonic nanoseconds. */
static inline uint64_t npmu__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* npmu__now_ms -- monotonic milliseconds. */
static inline uint64_t npmu__now_ms(void)
{
	return npmu__now_ns() / 1000000;
}

#endif
