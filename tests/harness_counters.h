/* harness_counters: what a running process holds, read from /proc.
 *
 * No Check and no other harness state: the end-to-end tests (through
 * harness.h) and the load generator in bench/ both count with these. */
#ifndef TCPCHAT_TEST_HARNESS_COUNTERS_H
#define TCPCHAT_TEST_HARNESS_COUNTERS_H

#include <sys/types.h>

/* Counts /proc/PID/fd entries and the Threads: line of /proc/PID/status.
 * -1 when the process is gone or /proc cannot be read. */
int h_count_fds(pid_t pid);
int h_count_threads(pid_t pid);

/* The number on the "key:" line of /proc/PID/status (e.g. "VmRSS", in
 * kB), or -1 when there is no such line or no such process. */
long h_status_field(pid_t pid, const char *key);

#endif
