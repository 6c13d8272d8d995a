/* session_reader: the reader thread of one server connection. It frames
 * what the peer sends, paces a flooder (flood control), hands each line to
 * the room, and on "exit" or FIN starts the half-close: it drains to the
 * peer's FIN before shutdown(SHUT_RD), so that our close is never a
 * reset (docs/PROTOCOL.md). It never sends on the socket. */
#include "session_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tcpchat/clock.h"
#include "tcpchat/console.h"
#include "tcpchat/net.h"
#include "tcpchat/peercount.h"
#include "tcpchat/progress.h"
#include "tcpchat/refuser.h"

#define RECV_CHUNK 8192
/* Without an eventfd to wait on (out of descriptors), a paced reader
 * looks at its phase this often. */
#define PACE_SLICE_NS (20 * 1000000LL)

/* ---- flood control ---- */

/* The eventfd that wakes a paced reader when its phase leaves OPEN, made
 * on first need: a connection that never floods costs no descriptor.
 * Returns it, or -1 (out of descriptors: the caller waits in slices). */
static int
pace_waker(struct tc_session *s)
{
	if (s->wake_fd == -1) {
		s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->wake_fd != -1)
			tc_conn_set_waker(s->m.conn, s->wake_fd);
	}
	return s->wake_fd;
}

/* Sleeps until until_ns without reading, so that TCP's flow control
 * slows the sender down; wakes early when the phase leaves OPEN (/kick,
 * /ban, shutdown, abort) or the socket breaks. The socket is polled for
 * nothing but POLLHUP and POLLERR: a peer's FIN alone raises neither
 * (POLLRDHUP would, and would spin), while a reset or our own
 * shutdown(SHUT_RDWR) does. */
static void
pace_wait(struct tc_session *s, int64_t until_ns)
{
	struct pollfd pfd[2] = {
	    {.fd = s->fd, .events = 0},
	    {.fd = pace_waker(s), .events = POLLIN},
	};
	struct timespec ts;
	int64_t left;

	while (session_phase(s) == TC_PHASE_OPEN &&
	       (left = until_ns - tc_clock_now_ns()) > 0) {
		if (pfd[1].fd == -1 && left > PACE_SLICE_NS)
			left = PACE_SLICE_NS;
		ts.tv_sec = (time_t)(left / 1000000000);
		ts.tv_nsec = (long)(left % 1000000000);
		if (ppoll(pfd, pfd[1].fd == -1 ? 1 : 2, &ts, NULL) > 0 &&
		    (pfd[0].revents != 0 || pfd[1].revents != 0))
			return;
	}
}

/* Flood control: charges one message of len bytes to the budget and, when
 * that overdraws it, relays what came before and waits until it is paid
 * for, without reading. The console hears once per episode. */
static void
pace(struct tc_session *s, size_t len)
{
	int64_t now = tc_clock_now_ns();
	int64_t wait_ns = tc_rate_take(&s->rate, 1, len, now);

	if (wait_ns <= 0)
		return;
	if (tc_rate_new_episode(&s->rate))
		tc_console_printf(stdout,
		                  "* %s is sending too fast; slowing it down",
		                  tc_conn_name(s->m.conn));
	tc_room_flush(s->room, &s->m);
	pace_wait(s, now + wait_ns);
}

/* ---- the reader ---- */

/* After a /nick the trace names the connection by its name in the table:
 * the new one if the rename was taken, else the one it had. The room did
 * the rename; this reader is the only thread that renames the entry, so it
 * may read the name without the table's lock. */
static void
trace_rename(struct tc_session *s, const struct tc_cmd *cmd)
{
	const char *name;

	if (cmd->kind != TC_CMD_NICK || !tc_trace_enabled())
		return;
	name = tc_conn_name(s->m.conn);
	if (strlen(name) == cmd->arg_len &&
	    memcmp(name, cmd->arg, cmd->arg_len) == 0)
		tc_trace_set_name(&s->trace, name);
}

/* Handles one framed message. Returns true when it was "exit". */
static bool
handle_line(struct tc_session *s, const char *line, size_t len)
{
	struct tc_cmd cmd = {.kind = TC_CMD_TEXT, .arg = line, .arg_len = len};

	tc_conn_count_in(s->m.conn, len, 1);
	/* Lines of a connection being closed are read, never acted on:
	 * no budget for them. */
	if (session_phase(s) == TC_PHASE_OPEN)
		pace(s, len);
	/* The rest of a line split at --max-line is text, never a command. */
	if (!tc_linebuf_continues(&s->lb))
		tc_proto_parse(line, len, &cmd);
	if (cmd.kind == TC_CMD_EXIT) {
		tc_room_flush(s->room, &s->m); /* what came before goes first */
		return true;
	}
	/* Being closed by the server (/kick, shutdown): read, never act. */
	if (session_phase(s) == TC_PHASE_OPEN) {
		tc_room_hear(s->room, &s->m, &cmd);
		trace_rename(s, &cmd);
	}
	return false;
}

/* Feeds received bytes through the framer. Returns true on "exit". */
static bool
take_lines(struct tc_session *s, const char *buf, size_t n, bool at_eof)
{
	const char *line;
	ssize_t len;

	if (n > 0 && tc_linebuf_feed(&s->lb, buf, n) == -1) {
		session_record_error(s, errno);
		return false;
	}
	while ((len = tc_linebuf_next(&s->lb, &line)) >= 0)
		if (handle_line(s, line, (size_t)len))
			return true;
	/* At the peer's FIN, bytes after the last LF are a last message. */
	while (at_eof && (len = tc_linebuf_flush(&s->lb, &line)) >= 0)
		if (handle_line(s, line, (size_t)len))
			return true;
	tc_room_flush(s->room, &s->m);
	return false;
}

/* The peer is done sending: move to HALF_CLOSED, which wakes the writer at
 * once, and tell the others, unless the server is closing it already. */
static void
begin_half_close(struct tc_session *s, const char *why)
{
	struct tc_room *room = s->room;

	tc_trace_step(&s->trace,
	              strcmp(why, "exit") == 0 ? TC_TRACE_EXIT_RECEIVED
	                                       : TC_TRACE_FIN_RECEIVED,
	              "received %s", why);
	s->half_closed_ns = tc_clock_now_ns();
	if (!tc_conn_move(s->m.conn, TC_PHASE_HALF_CLOSED, NULL))
		return; /* /kick or shutdown got there first: theirs the close
		         */
	/* What is queued after the --linger window is not sent. */
	tc_outq_close_at(s->m.q, s->half_closed_ns + room->linger_ns);
	tc_trace(&s->trace, "marked half-closed in the table, waking the "
	                    "writer");
	tc_room_left(room, &s->m, NULL, false);
}

/* Lines that came after "exit", or after our FIN: the trace tells each
 * recv() of them (they are read, and after "exit" discarded). */
static void
trace_late_input(struct tc_session *s, const char *buf, size_t n)
{
	if (tc_trace_enabled())
		tc_trace_halfclosed_io(&s->trace, TC_TRACE_IN, n,
		                       session_count_lines(buf, n));
}

/* How reading to the peer's FIN ended. */
enum drain_end {
	DRAIN_FIN,     /* the FIN came */
	DRAIN_WAITING, /* the deadline passed first */
	DRAIN_BROKEN,  /* an error, or the connection was aborted */
};

/* Reads and discards until the peer's FIN or deadline_ns (now or past:
 * only what has arrived already), so that no unread byte turns our close
 * into a reset. Reads before it polls: the FIN is often there already. */
static enum drain_end
drain_to_fin(struct tc_session *s, char *buf, size_t len, int64_t deadline_ns)
{
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	int64_t left;
	ssize_t n;

	for (;;) {
		n = recv(s->fd, buf, len, MSG_DONTWAIT);
		if (n == 0)
			return session_phase(s) != TC_PHASE_ABORTED
			           ? DRAIN_FIN
			           : DRAIN_BROKEN;
		if (n > 0) {
			tc_conn_count_in(s->m.conn, (size_t)n, 0);
			trace_late_input(s, buf, (size_t)n);
		} else if (errno != EINTR && errno != EAGAIN) {
			session_record_error(s, errno);
			return DRAIN_BROKEN;
		}
		/* After data too: a peer that never stops sending must not
		 * hold the reader past the deadline. */
		left = deadline_ns - tc_clock_now_ns();
		if (left <= 0)
			return DRAIN_WAITING;
		if (n < 0)
			(void)tc_trace_poll(&s->trace, &pfd, 1,
			                    (int)(left / 1000000) + 1);
	}
}

/* The connection broke (reset, error, or cut off for overflow): abort it,
 * and tell the others if it broke while open (a half-close was told
 * already; a close by the server is the server's to tell). */
static void
end_abnormally(struct tc_session *s)
{
	char why[128];

	tc_conn_move(s->m.conn, TC_PHASE_ABORTED, NULL);
	if (tc_conn_left_open_for(s->m.conn) != TC_PHASE_ABORTED)
		return;
	session_describe_end(s, why, sizeof(why));
	tc_room_left(s->room, &s->m, why,
	             tc_outq_status(s->m.q) & TC_OUTQ_OVERFLOW);
}

/* recv() returned 0: the peer's FIN, unless our own side shut the socket
 * under the reader. Returns true for an orderly end. */
static bool
end_of_input(struct tc_session *s)
{
	if (session_phase(s) == TC_PHASE_ABORTED)
		return false; /* overflow or abort: shutdown(SHUT_RDWR) */
	if (atomic_load(&s->read_shut)) {
		tc_trace(&s->trace, "read side shut by the writer: no FIN");
		return true;
	}
	take_lines(s, NULL, 0, true);
	begin_half_close(s, "FIN");
	return true;
}

/* "exit" came: half-close, then read to the peer's FIN. A FIN that came
 * with the "exit" is taken first, so that the writer, woken by the
 * half-close, finds the reader done too, instead of sleeping again until
 * it is. */
static bool
end_on_exit(struct tc_session *s, char *buf, size_t len)
{
	enum drain_end end = drain_to_fin(s, buf, len, 0);

	begin_half_close(s, "exit");
	if (end == DRAIN_WAITING)
		end = drain_to_fin(s, buf, len,
		                   tc_clock_now_ns() + s->room->drain_ns);
	if (end == DRAIN_FIN)
		tc_trace_step(&s->trace, TC_TRACE_FIN_RECEIVED, "received FIN");
	else
		tc_trace(&s->trace, "no FIN from the peer in time");
	return true;
}

/* Receives until exit, FIN or an error. Returns true for an orderly end
 * (exit or FIN), false when the connection broke. */
static bool
receive_until_end(struct tc_session *s)
{
	char buf[RECV_CHUNK];
	ssize_t n;

	for (;;) {
		n = recv(s->fd, buf, sizeof(buf), 0);
		if (n > 0 && atomic_load(&s->fin_sent))
			trace_late_input(s, buf, (size_t)n);
		if (n > 0) {
			if (take_lines(s, buf, (size_t)n, false))
				return end_on_exit(s, buf, sizeof(buf));
		} else if (n == 0) {
			return end_of_input(s);
		} else if (errno != EINTR) {
			session_record_error(s, errno);
			take_lines(s, NULL, 0, true);
			return false;
		}
	}
}

void *
session_reader_main(void *arg)
{
	struct tc_session *s = arg;

	if (receive_until_end(s)) {
		/* SHUT_RD only now, after the FIN: on Linux data reaching a
		 * read-shut socket is answered with a reset. */
		shutdown(s->fd, SHUT_RD);
		tc_trace(&s->trace, "shutdown(SHUT_RD), reader done");
	} else {
		end_abnormally(s);
	}
	atomic_store(&s->reader_done, true);
	tc_outq_notify(s->m.q, EV_READER_DONE);
	session_unref(s);
	return NULL;
}
