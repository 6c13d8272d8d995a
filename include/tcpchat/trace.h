/* trace: the --trace lines of the half-close (SPEC section 4).
 *
 * One line per step on the trace sink (stderr unless set), each carrying
 * the socket's TCP state read from TCP_INFO right after the step; it shows
 * what the kernel reports at that moment and never invents a state. */
#ifndef TCPCHAT_TRACE_H
#define TCPCHAT_TRACE_H

#include <stdbool.h>
#include <stddef.h>

/* Receives each finished trace line (no newline). */
typedef void tc_trace_sink_fn(const char *line);

/* Turns tracing on or off and sets where lines go (NULL: stderr). Call
 * before any thread starts. */
void tc_trace_setup(bool enabled, tc_trace_sink_fn *sink);

bool tc_trace_enabled(void);

/* If tracing, emits "trace: [+SSS.ssssss] WHAT (tcp STATE)" for fd. */
void tc_trace(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The TCP state name of fd from TCP_INFO ("ESTABLISHED", "FIN_WAIT2",
 * ...), or "unknown: REASON" when getsockopt fails. Returns buf. */
const char *tc_tcp_state(int fd, char *buf, size_t len);

#endif
