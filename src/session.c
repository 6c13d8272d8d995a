/* session: one client connection of tcpchatd, from accept to close.
 *
 * The reader thread frames what the peer sends and hands each line to the
 * room; on "exit" or FIN it starts the half-close (docs/PROTOCOL.md). The
 * writer thread owns the socket's output: it drains the connection's queue
 * with writev and performs the close, once, after the reader is done. What
 * the connection is doing is its phase (phase.h), kept in its table entry
 * and moved only through tc_conn_move(); every move wakes the writer. */
#include "tcpchat/session.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcpchat/clock.h"
#include "tcpchat/console.h"
#include "tcpchat/linebuf.h"
#include "tcpchat/net.h"
#include "tcpchat/peercount.h"
#include "tcpchat/progress.h"
#include "tcpchat/ratelimit.h"
#include "tcpchat/refuser.h"
#include "tcpchat/trace.h"

#define RECV_CHUNK 8192
#define WRITE_BATCH 64 /* messages per writev */
/* Without an eventfd to wait on (out of descriptors), a paced reader
 * looks at its phase this often. */
#define PACE_SLICE_NS (20 * 1000000LL)

/* The event the reader posts to the writer's queue when it is done with
 * the socket (TC_CONN_EV_PHASE is event 0). */
#define EV_READER_DONE TC_OUTQ_EVENT(1)

struct tc_session {
	struct tc_room *room;
	struct tc_member m;         /* entry, queue, relay batch */
	int fd;                     /* owned: closed by the writer, once */
	unsigned id;                /* tc_conn_id(m.conn), for messages */
	struct tc_trace_conn trace; /* set before the threads start */
	/* The peer's address, for --max-per-ip: its slot is given back when
	 * the session is freed. Immutable. */
	struct sockaddr_storage addr;
	/* Flood control, the reader's: its budget, and the eventfd it waits
	 * on while held back (-1 until first needed; closed at free). */
	struct tc_rate rate;
	int wake_fd;
	/* Written by the reader before it moves the phase to HALF_CLOSED;
	 * the writer reads it after seeing that phase (the move orders it). */
	int64_t half_closed_ns;
	/* The first error that ended the connection (0: none yet): first
	 * error wins, whichever thread saw it. */
	atomic_int first_errno;
	atomic_int refs;         /* reader and writer: the last one frees */
	atomic_bool reader_done; /* the reader's: it is finished with fd */
	atomic_bool read_shut;   /* the writer's: it shut the read side */
	/* The writer's: our FIN is out, so what the reader gets from now on
	 * crossed a half-closed connection (the trace tells it). */
	atomic_bool fin_sent;
	struct tc_linebuf lb; /* reader only */
};

/* ---- life and death ---- */

static struct tc_session *
session_new(struct tc_room *room, int fd, const struct sockaddr *peer,
            socklen_t peer_len)
{
	struct tc_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->m.q = tc_outq_new(room->max_queue, tc_conntab_bell(room->tab));
	if (s->m.q == NULL) {
		free(s);
		return NULL;
	}
	s->room = room;
	s->fd = fd;
	s->wake_fd = -1;
	if (peer_len > sizeof(s->addr))
		peer_len = sizeof(s->addr);
	memcpy(&s->addr, peer, peer_len);
	tc_rate_init_lines(&s->rate, room->rate, room->burst,
	                   tc_clock_now_ns());
	atomic_init(&s->refs, 2);
	atomic_init(&s->first_errno, 0);
	atomic_init(&s->reader_done, false);
	atomic_init(&s->read_shut, false);
	atomic_init(&s->fin_sent, false);
	tc_linebuf_init(&s->lb, room->max_line);
	return s;
}

/* Frees what session_new() made and gives back the address's slot; the
 * fd and the table entry are the writer's (or the refusal's) to end. */
static void
session_free(struct tc_session *s)
{
	tc_peercount_release(s->room->peers, (struct sockaddr *)&s->addr);
	if (s->wake_fd != -1)
		close(s->wake_fd);
	tc_linebuf_fini(&s->lb);
	tc_room_member_fini(&s->m);
	tc_trace_conn_fini(&s->trace);
	tc_outq_free(s->m.q);
	free(s);
}

static void
session_unref(struct tc_session *s)
{
	struct tc_room *room = s->room;

	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	session_free(s);
	tc_room_exit(room);
}

static void
record_error(struct tc_session *s, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&s->first_errno, &none, err);
}

static enum tc_phase
phase(const struct tc_session *s)
{
	return tc_conn_phase(s->m.conn);
}

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

	while (phase(s) == TC_PHASE_OPEN &&
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
	if (phase(s) == TC_PHASE_OPEN)
		pace(s, len);
	/* The rest of a line split at --max-line is text, never a command. */
	if (!tc_linebuf_continues(&s->lb))
		tc_proto_parse(line, len, &cmd);
	if (cmd.kind == TC_CMD_EXIT) {
		tc_room_flush(s->room, &s->m); /* what came before goes first */
		return true;
	}
	/* Being closed by the server (/kick, shutdown): read, never act. */
	if (phase(s) == TC_PHASE_OPEN) {
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
		record_error(s, errno);
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

/* The lines in len bytes: a relay batch holds many. */
static size_t
count_lines(const char *p, size_t len)
{
	const char *end = p + len;
	size_t lines = 0;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	return lines;
}

/* Lines that came after "exit", or after our FIN: the trace tells each
 * recv() of them (they are read, and after "exit" discarded). */
static void
trace_late_input(struct tc_session *s, const char *buf, size_t n)
{
	if (tc_trace_enabled())
		tc_trace_halfclosed_io(&s->trace, TC_TRACE_IN, n,
		                       count_lines(buf, n));
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
			return phase(s) != TC_PHASE_ABORTED ? DRAIN_FIN
			                                    : DRAIN_BROKEN;
		if (n > 0) {
			tc_conn_count_in(s->m.conn, (size_t)n, 0);
			trace_late_input(s, buf, (size_t)n);
		} else if (errno != EINTR && errno != EAGAIN) {
			record_error(s, errno);
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

/* Why the connection ended, for "left" notices and the console. */
static void
describe_end(struct tc_session *s, char *buf, size_t len)
{
	int err = atomic_load(&s->first_errno);

	if (tc_outq_status(s->m.q) & TC_OUTQ_OVERFLOW)
		snprintf(buf, len, "too slow: over %zu bytes queued",
		         s->room->max_queue);
	else if (err != 0)
		snprintf(buf, len, "%s", strerror(err));
	else
		snprintf(buf, len, "closed");
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
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
	describe_end(s, why, sizeof(why));
	tc_room_left(s->room, &s->m, why,
	             tc_outq_status(s->m.q) & TC_OUTQ_OVERFLOW);
}

/* recv() returned 0: the peer's FIN, unless our own side shut the socket
 * under the reader. Returns true for an orderly end. */
static bool
end_of_input(struct tc_session *s)
{
	if (phase(s) == TC_PHASE_ABORTED)
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
			record_error(s, errno);
			take_lines(s, NULL, 0, true);
			return false;
		}
	}
}

static void *
reader_main(void *arg)
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

/* ---- the writer ---- */

static void
drop(struct tc_msg **batch, size_t n)
{
	while (n > 0)
		tc_msg_unref(batch[--n]);
}

/* Sends a batch with one writev; drops the references. 0 or -1. */
static int
send_batch(struct tc_session *s, struct tc_msg **batch, size_t n)
{
	struct iovec iov[WRITE_BATCH];
	size_t i, bytes = 0, lines = 0;
	int rc;

	for (i = 0; i < n; i++) {
		iov[i].iov_base = (void *)tc_msg_data(batch[i]);
		iov[i].iov_len = tc_msg_len(batch[i]);
		bytes += iov[i].iov_len;
		lines += count_lines(iov[i].iov_base, iov[i].iov_len);
	}
	rc = tc_net_writev_all(s->fd, iov, n);
	if (rc == -1)
		record_error(s, errno);
	else
		tc_conn_count_out(s->m.conn, bytes, lines);
	/* After the peer's "exit" or FIN, each send crosses a half-closed
	 * connection: the class watches the --linger window's lines go. */
	if (rc == 0 && tc_trace_enabled() &&
	    tc_conn_left_open_for(s->m.conn) == TC_PHASE_HALF_CLOSED)
		tc_trace_halfclosed_io(&s->trace, TC_TRACE_OUT, bytes, lines);
	drop(batch, n);
	return rc;
}

/* Takes what is queued, waiting for it until deadline_ns (0: none), and
 * sends it. Returns how many messages, or -1 after a send error or an
 * abort. *got gets the queue's status and events (outq.h). */
static ssize_t
send_some(struct tc_session *s, int64_t deadline_ns, unsigned *got)
{
	struct tc_msg *batch[WRITE_BATCH];
	size_t n;

	n = tc_outq_take(s->m.q, batch, WRITE_BATCH,
	                 TC_OUTQ_CLOSED | TC_CONN_EV_PHASE, deadline_ns, got);
	if (phase(s) == TC_PHASE_ABORTED) {
		drop(batch, n);
		return -1;
	}
	if (n > 0 && send_batch(s, batch, n) == -1)
		return -1;
	return (ssize_t)n;
}

/* Sends what comes while the phase stays `stay`, until deadline_ns (0:
 * none). 0, or -1 after a send error or an abort. */
static int
deliver(struct tc_session *s, enum tc_phase stay, int64_t deadline_ns)
{
	unsigned got;
	ssize_t n;

	while (phase(s) == stay) {
		n = send_some(s, deadline_ns, &got);
		if (n < 0)
			return -1;
		if (n == 0 && deadline_ns != 0 &&
		    tc_clock_now_ns() >= deadline_ns)
			break;
	}
	return 0;
}

/* Sends everything queued until the queue is closed and empty. */
static int
drain(struct tc_session *s)
{
	unsigned got;
	ssize_t n;

	do {
		n = send_some(s, 0, &got);
		if (n < 0)
			return -1;
	} while (n > 0 || !(got & TC_OUTQ_CLOSED));
	return 0;
}

/* How long one wait of wait_reader() may last: until deadline_ns (0:
 * none), or less while the trace samples the closing connection. */
static int64_t
wait_slice_end(const struct tc_session *s, int64_t now, int64_t deadline_ns)
{
	int64_t left_ms = -1;
	int ms;

	if (deadline_ns != 0) {
		left_ms = (deadline_ns - now) / 1000000 + 1;
		if (left_ms > 1000000)
			left_ms = 1000000;
	}
	ms = tc_trace_wait_ms(&s->trace, (int)left_ms);
	if (ms < 0 || ms == left_ms)
		return deadline_ns;
	return now + (int64_t)ms * 1000000;
}

/* Waits for the reader to finish with the socket, at most until
 * deadline_ns (0: no limit). Returns true once it has. While tracing it
 * wakes often enough to sample the state: the peer's FIN may take a
 * while, and our FIN_WAIT2 lasts until it comes. */
static bool
wait_reader(struct tc_session *s, int64_t deadline_ns)
{
	struct tc_msg *batch[WRITE_BATCH];
	int64_t now;

	while (!atomic_load(&s->reader_done)) {
		now = tc_clock_now_ns();
		if (deadline_ns != 0 && now >= deadline_ns)
			return false;
		/* Anything still queued now can no longer be sent. */
		drop(batch,
		     tc_outq_take(s->m.q, batch, WRITE_BATCH, EV_READER_DONE,
		                  wait_slice_end(s, now, deadline_ns), NULL));
		tc_trace_sample(&s->trace);
	}
	return true;
}

/* The peer half-closed: flush, keep delivering for --linger, then stop
 * taking messages; the caller flushes what was queued before that. */
static int
linger_after_half_close(struct tc_session *s)
{
	int rc;

	tc_trace(&s->trace, "writer flushing %zu queued bytes",
	         tc_outq_bytes(s->m.q));
	rc = deliver(s, TC_PHASE_HALF_CLOSED,
	             s->half_closed_ns + s->room->linger_ns);
	if (rc == 0 && phase(s) == TC_PHASE_HALF_CLOSED)
		tc_outq_close(s->m.q);
	return rc;
}

/* shutdown(SHUT_WR): our FIN, unless the connection is already gone (a
 * reset): then say so, the trace must not claim a FIN that never left. */
static void
send_fin(struct tc_session *s, const char *who)
{
	if (shutdown(s->fd, SHUT_WR) == 0) {
		atomic_store(&s->fin_sent, true);
		tc_trace_step(&s->trace, TC_TRACE_FIN_SENT,
		              "%sshutdown(SHUT_WR), FIN sent", who);
		return;
	}
	record_error(s, errno);
	tc_trace(&s->trace, "%sshutdown(SHUT_WR) failed, no FIN: %s", who,
	         strerror(errno));
}

/* How often a writer that waits for the peer's FIN looks at its progress. */
#define FIN_WAIT_TICK_NS (250 * 1000000LL)

/* Waits for the reader (the peer's FIN) while the peer makes progress: it
 * still owes acknowledgements for what we sent, or acknowledged some
 * lately. Gives up after drain_ns without either. True if the reader
 * finished. */
static bool
wait_fin_while_progress(struct tc_session *s)
{
	struct tc_progress p = {0}, seen = {0};
	int64_t now, last = tc_clock_now_ns();

	(void)tc_progress_read(s->fd, &seen);
	while (!wait_reader(s, tc_clock_now_ns() + FIN_WAIT_TICK_NS)) {
		now = tc_clock_now_ns();
		if (tc_progress_read(s->fd, &p) == 0 &&
		    (p.unacked > 0 || p.acked != seen.acked)) {
			seen = p;
			last = now;
		} else if (now - last >= s->room->drain_ns) {
			return false;
		}
	}
	return true;
}

/* Sends our FIN and waits for the peer's; when it stops coming, wakes the
 * reader with SHUT_RD (never close: it may be in recv()). A peer owed
 * bytes that stops reading is cut by the table's stall checks instead. */
static void
close_from_server(struct tc_session *s)
{
	send_fin(s, "server closes: ");
	if (!wait_fin_while_progress(s)) {
		tc_trace(&s->trace, "no FIN from the peer in time");
		/* First, so the reader does not take this for a FIN. */
		atomic_store(&s->read_shut, true);
		shutdown(s->fd, SHUT_RD);
		wait_reader(s, 0);
	}
}

static void
log_closed(struct tc_session *s)
{
	char why[128];

	if (!s->room->verbose)
		return;
	describe_end(s, why, sizeof(why));
	tc_console_printf(stdout, "* connection %u closed (%s)", s->id, why);
}

/* Sends until the connection leaves OPEN, then closes it the way its
 * phase says. Returns 0, or -1 when it broke on the way. */
static int
serve(struct tc_session *s)
{
	int rc = deliver(s, TC_PHASE_OPEN, 0);

	if (rc == 0 && phase(s) == TC_PHASE_HALF_CLOSED)
		rc = linger_after_half_close(s);
	if (rc == 0)
		rc = drain(s);
	if (rc == -1)
		return -1;
	if (phase(s) == TC_PHASE_CLOSING) {
		close_from_server(s);
	} else {
		/* Our FIN at once: a peer that said "exit" but sends no FIN
		 * (plain nc) must not wait for the reader's drain to end. */
		send_fin(s, "");
		wait_reader(s, 0);
	}
	return 0;
}

static void *
writer_main(void *arg)
{
	struct tc_session *s = arg;

	if (serve(s) == -1) {
		/* Broken or cut off: both directions stop (the move shuts
		 * the socket down), then close once the reader is done. */
		tc_conn_move(s->m.conn, TC_PHASE_ABORTED, NULL);
		wait_reader(s, 0);
	}
	log_closed(s);
	tc_conntab_remove(s->room->tab, s->m.conn);
	close(s->fd);
	/* Tells what the kernel still holds for the tuple, and the ladder. */
	tc_trace_closed(&s->trace);
	session_unref(s);
	return NULL;
}

/* ---- start ---- */

/* Hands the reader and the writer to threads of the room's pool, parked
 * ones when there are, new ones otherwise: both or neither. The reader
 * first: what the peer sent is often there already, and the writer then
 * finds more done when it runs. Returns 0, or the error number of the
 * thread that could not be created. */
static int
start_threads(struct tc_session *s)
{
	return tc_pool_run_pair(s->room->pool, reader_main, s, writer_main, s);
}

/* The threads could not start: this one connection is refused, the rest
 * go on. Its join was announced already, so its leave is too. */
static void
abandon(struct tc_session *s, int err)
{
	struct tc_room *room = s->room;
	char why[128], detail[160];

	record_error(s, err);
	describe_end(s, why, sizeof(why));
	tc_room_left(room, &s->m, why, false);
	tc_conntab_remove(room->tab, s->m.conn);
	snprintf(detail, sizeof(detail), "pthread_create: %s", strerror(err));
	tc_refuser_refuse(room->refuser, s->fd, (struct sockaddr *)&s->addr,
	                  TC_REFUSE_BUSY, detail);
	session_free(s);
	tc_room_exit(room);
}

/* The table had no room: refuse and free, the table never saw it. */
static int
refuse_full(struct tc_session *s)
{
	int err = errno;

	tc_refuser_refuse(s->room->refuser, s->fd, (struct sockaddr *)&s->addr,
	                  err == EMFILE ? TC_REFUSE_FULL : TC_REFUSE_NO_MEMORY,
	                  NULL);
	session_free(s);
	errno = err;
	return -1;
}

int
tc_session_start(struct tc_room *room, int fd, const struct sockaddr *peer,
                 socklen_t peer_len)
{
	char name[TC_ADDR_STR_MAX];
	struct tc_session *s;
	int rc;

	tc_net_addr_str(peer, name);
	s = session_new(room, fd, peer, peer_len);
	if (s == NULL) {
		tc_peercount_release(room->peers, peer);
		tc_refuser_refuse(room->refuser, fd, peer, TC_REFUSE_NO_MEMORY,
		                  NULL);
		errno = ENOMEM;
		return -1;
	}
	tc_room_welcome(room, s->m.q, name);
	s->m.conn = tc_conntab_add(room->tab, fd, name, s->m.q);
	if (s->m.conn == NULL)
		return refuse_full(s);
	s->id = tc_conn_id(s->m.conn);
	tc_trace_conn_init(&s->trace, fd, s->id);
	tc_trace_accepted(&s->trace);
	/* Announced here, on the acceptor thread, so that nobody who joins
	 * after us (and was counted in our welcome) hears it. */
	tc_room_joined(room, &s->m);
	if (room->verbose)
		tc_console_printf(stdout, "* connection %u from %s", s->id,
		                  name);
	tc_room_enter(room);
	rc = start_threads(s);
	if (rc == 0)
		return 0;
	abandon(s, rc);
	errno = rc;
	return -1;
}
