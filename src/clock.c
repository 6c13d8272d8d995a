/* clock: the one time source of the deadlines and windows of both
 * programs (CLOCK_MONOTONIC: immune to changes of the wall clock). */
#include "tcpchat/clock.h"

#include <time.h>

int64_t
tc_clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
