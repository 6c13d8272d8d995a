/* trace: the --trace lines of a connection's life, the half-close above
 * all, and the ladder diagram of its close.
 *
 * One line per event on the trace sink (stderr unless set), each starting
 * with a wall-clock time in tcpdump's format (HH:MM:SS.ffffff, local time)
 * so that both programs' traces and a capture can be laid side by side,
 * and carrying the socket's TCP state read right after the event. From the
 * first FIN in either direction until the socket is gone the state is also
 * sampled, and each change is a line of its own. The trace shows what the
 * kernel reports when asked, and never invents a state or an arrow.
 *
 * With tracing off, every call returns at once and nothing is allocated. */
#ifndef TCPCHAT_TRACE_H
#define TCPCHAT_TRACE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#define TC_TRACE_TIME_MAX 16 /* "HH:MM:SS.ffffff" and NUL */
/* While a connection closes, its state is read every this many ms: the
 * sampling interval stays well under 10 ms even with a late wake-up. */
#define TC_TRACE_SAMPLE_MS 5
#define TC_TRACE_AFTER_CLOSE_MS 200 /* sampling after close(), at most */

/* Receives each finished trace line (no newline). A ladder arrives as one
 * call whose lines are separated by '\n', so that it is never interleaved
 * with another connection's lines. */
typedef void tc_trace_sink_fn(const char *line);

/* Turns tracing on or off and sets where lines go (NULL: stderr). Call
 * before any thread starts. */
void tc_trace_setup(bool enabled, tc_trace_sink_fn *sink);

bool tc_trace_enabled(void);

/* The mutable part of a traced connection (its events, the last state seen,
 * its name), with its own lock; allocated only while tracing. */
struct tc_trace_live;

/* One traced connection: its socket and its 4-tuple. The tuple is kept
 * because the kernel forgets the peer once the socket is CLOSED, while the
 * connection may live on in TIME_WAIT, which only the kernel's connection
 * table (sock_diag, what `ss` reads) still shows.
 *
 * Threads: any thread may call the tc_trace_* functions on one conn at the
 * same time (a server's reader and writer do); the fields below are set by
 * tc_trace_conn_init() and, for fd, by whoever closes the socket, after
 * which no other thread may use the fd. */
struct tc_trace_conn {
	int fd;
	unsigned id; /* connection id shown in lines; 0: none */
	bool known;  /* tuple recorded */
	struct sockaddr_storage local, peer;
	struct tc_trace_live *live; /* NULL: tracing off (or out of memory) */
};

/* Records fd's tuple and the state it starts in when tracing is on (cheap
 * no-op otherwise). Call while the connection is established, before the
 * threads that trace it start. Pair with tc_trace_conn_fini(). */
void tc_trace_conn_init(struct tc_trace_conn *tc, int fd, unsigned id);

/* Frees what tracing held for tc. Call once, after the last tc_trace_*
 * call on it, when no other thread uses it. */
void tc_trace_conn_fini(struct tc_trace_conn *tc);

/* The first line of a connection, naming both ends and the side this
 * program is on (which names the ladder's rails):
 *   "accepted from 10.0.0.7:51234 on 10.0.0.1:9999"   (server)
 *   "connected to 10.0.0.1:9999 from 10.0.0.7:51234"  (client) */
void tc_trace_accepted(struct tc_trace_conn *tc);
void tc_trace_connected(struct tc_trace_conn *tc);

/* Sets the name shown after the peer in every later line of a connection
 * with an id: "conn 3 [10.0.0.7:51234 alice]: ..." (cut to 31 bytes).
 * NULL or "" shows the address alone. */
void tc_trace_set_name(struct tc_trace_conn *tc, const char *name);

/* If tracing, emits "HH:MM:SS.ffffff trace: conn ID [PEER NAME]: WHAT
 * (tcp STATE)" for the connection, STATE read right now: from TCP_INFO on
 * the socket and, when that says CLOSED (or the fd is gone: tc->fd == -1),
 * from the kernel's table for the tuple, shown as "CLOSED; kernel:
 * TIME_WAIT". A narration only: it draws nothing on the ladder. */
void tc_trace(const struct tc_trace_conn *tc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The steps of the close that the ladder draws. */
enum tc_trace_step {
	TC_TRACE_EXIT_SENT,     /* "exit" went out: an arrow out */
	TC_TRACE_EXIT_RECEIVED, /* the peer's "exit" was read: an arrow in */
	TC_TRACE_FIN_SENT,      /* shutdown(SHUT_WR) returned 0: FIN out */
	TC_TRACE_FIN_RECEIVED,  /* recv() returned 0: the peer's FIN */
};

/* As tc_trace(), and records the step for the ladder with the state it
 * left behind; from here on the state is sampled. Where the same reading
 * shows more than the step did (the ACK of our FIN came too), that change
 * is told and drawn as well. A FIN already drawn from a sampled change is
 * not drawn twice. Any thread; never blocks. */
void tc_trace_step(struct tc_trace_conn *tc, enum tc_trace_step step,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

enum tc_trace_dir { TC_TRACE_OUT, TC_TRACE_IN };

/* Lines that crossed the connection while it is half-closed (after
 * "exit", or after a FIN either way): one line and one ladder arrow per
 * call, e.g. "sent 2 lines, 58 bytes over the half-closed connection (tcp
 * CLOSE_WAIT)", "received 1 line, 29 bytes after our FIN (tcp FIN_WAIT2)".
 * A state change the same reading shows is told too. Long runs fold on
 * the ladder. Call after the send or recv; any thread; never blocks. */
void tc_trace_halfclosed_io(struct tc_trace_conn *tc, enum tc_trace_dir dir,
                            size_t n_bytes, size_t n_lines);

/* Reads the connection's state now (TCP_INFO, or the kernel's table once
 * the socket says CLOSED or is closed) and, when it differs from the last
 * state read, emits a line that says what the change means ("our FIN was
 * acknowledged (tcp FIN_WAIT2)") and records it for the ladder. Returns
 * whether it changed. Any thread; never blocks. */
bool tc_trace_sample(struct tc_trace_conn *tc);

/* poll(2) that keeps the trace sampling while the caller waits: with
 * tracing on it wakes at least every TC_TRACE_SAMPLE_MS. Before the close
 * it samples tc when poll has news (a first FIN); once the close has
 * begun, on each wake-up without news: news is then left to the caller,
 * whose step or half-closed line reads the state after its recv(), so
 * lines are told before the FIN that followed them. Same arguments,
 * results and errno as poll(); plain poll() when tracing is off. */
int tc_trace_poll(struct tc_trace_conn *tc, struct pollfd *fds, nfds_t nfds,
                  int timeout_ms);

/* For waits that are not a poll (a condition variable): the timeout to use
 * instead of timeout_ms (-1: none) so the caller can call
 * tc_trace_sample() on time; timeout_ms itself when nothing is sampled. */
int tc_trace_wait_ms(const struct tc_trace_conn *tc, int timeout_ms);

/* Call right after close(tc->fd). Sets tc->fd to -1, emits "close()" with
 * what the kernel still holds for the tuple, samples the kernel's table
 * until the connection is gone or in TIME_WAIT (at most
 * TC_TRACE_AFTER_CLOSE_MS: blocks that long when tracing, never when not),
 * then emits the ladder of the close as this side saw it, if the close was
 * recorded. */
void tc_trace_closed(struct tc_trace_conn *tc);

/* Formats ts (CLOCK_REALTIME) as tcpdump does by default: local time,
 * "HH:MM:SS.ffffff". Returns buf. */
char *tc_trace_format_time(const struct timespec *ts,
                           char buf[TC_TRACE_TIME_MAX]);

/* The TCP state name of fd from TCP_INFO ("ESTABLISHED", "FIN_WAIT2",
 * ...), or "unknown: REASON" when getsockopt fails. Returns buf. */
const char *tc_trace_tcp_state(int fd, char *buf, size_t len);

/* The state of the connection local<->peer in the kernel's table (sock_diag,
 * works for TIME_WAIT too). Returns buf, or NULL when it has none. */
const char *tc_trace_tuple_state(const struct sockaddr_storage *local,
                                 const struct sockaddr_storage *peer, char *buf,
                                 size_t len);

#endif
