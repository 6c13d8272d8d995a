/* harness_internal: what the harness's own files share, not the tests.
 *
 * The deadline clock, the growing output buffers, the one deadline-bounded
 * write, and the pump: the one poll() every harness wait goes through
 * (harness_proc.c), which drains the output of every live child while it
 * waits for the caller's fds. */
#ifndef TCPCHAT_TEST_HARNESS_INTERNAL_H
#define TCPCHAT_TEST_HARNESS_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in ms, and what is left of a deadline on it (>= 0). */
int64_t h_now_ms(void);
int h_ms_left(int64_t deadline);

/* Appends n bytes to a growing NUL-terminated buffer. 0, or -1 when out
 * of memory (the buffer is kept as it was). */
int h_buf_append(char **buf, size_t *len, size_t *cap, const char *src,
                 size_t n);

/* Waits until one of extra[] (at most 4) is ready or the deadline,
 * draining every live child's output meanwhile. Returns 1 when extra[]
 * has events (in its revents), 0 when only child output arrived, -1 at
 * the deadline. */
int h_pump(struct pollfd *extra, nfds_t n_extra, int64_t deadline);

/* Writes all of buf within timeout_ms, pumping while the fd is full:
 * send() for a socket (never SIGPIPE), write() for a non-blocking pipe or
 * pty. 0, or -1 with errno (ETIMEDOUT at the deadline). */
int h_write_by_deadline(int fd, const void *buf, size_t len, int timeout_ms,
                        bool socket);

#endif
