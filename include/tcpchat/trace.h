/* trace: the --trace lines of the half-close (SPEC section 4).
 *
 * One line per step on the trace sink (stderr unless set), each carrying
 * the socket's TCP state read from TCP_INFO right after the step; it shows
 * what the kernel reports at that moment and never invents a state. */
#ifndef TCPCHAT_TRACE_H
#define TCPCHAT_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Receives each finished trace line (no newline). */
typedef void tc_trace_sink_fn(const char *line);

/* Turns tracing on or off and sets where lines go (NULL: stderr). Call
 * before any thread starts. */
void tc_trace_setup(bool enabled, tc_trace_sink_fn *sink);

bool tc_trace_enabled(void);

/* One traced connection: its socket and its 4-tuple. The tuple is kept
 * because the kernel forgets the peer once the socket is CLOSED, while the
 * connection may live on in TIME_WAIT, which only the kernel's connection
 * table (sock_diag, what `ss` reads) still shows. */
struct tc_trace_conn {
	int fd;
	unsigned id; /* connection id shown in lines; 0: none */
	bool known;  /* tuple recorded */
	struct sockaddr_storage local, peer;
};

/* Records fd's tuple when tracing is on (cheap no-op otherwise). Call while
 * the connection is established. */
void tc_trace_conn_init(struct tc_trace_conn *tc, int fd, unsigned id);

/* If tracing, emits "trace: [+SSS.ssssss] conn ID: WHAT (tcp STATE)" for the
 * connection, STATE read right now: from TCP_INFO on the socket and, when
 * that says CLOSED (or the fd is gone: tc->fd == -1), from the kernel's
 * table for the tuple, shown as "CLOSED; kernel: TIME_WAIT". */
void tc_trace(const struct tc_trace_conn *tc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The TCP state name of fd from TCP_INFO ("ESTABLISHED", "FIN_WAIT2",
 * ...), or "unknown: REASON" when getsockopt fails. Returns buf. */
const char *tc_tcp_state(int fd, char *buf, size_t len);

/* The state of the connection local<->peer in the kernel's table (sock_diag,
 * works for TIME_WAIT too). Returns buf, or NULL when it has none. */
const char *tc_tcp_tuple_state(const struct sockaddr_storage *local,
                               const struct sockaddr_storage *peer, char *buf,
                               size_t len);

#endif
