/* clock: monotonic time for deadlines, timeouts and the --linger window. */
#ifndef TCPCHAT_CLOCK_H
#define TCPCHAT_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC now, in nanoseconds. Any thread. */
int64_t tc_clock_now_ns(void);

#endif
