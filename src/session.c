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
#include <sys/socket.h>
#include <unistd.h>

#include "tcpchat/clock.h"
#include "tcpchat/console.h"
#include "tcpchat/linebuf.h"
#include "tcpchat/net.h"
#include "tcpchat/trace.h"

#define RECV_CHUNK 8192
#define WRITE_BATCH 64 /* messages per writev */

/* The event the reader posts to the writer's queue when it is done with
 * the socket (TC_CONN_EV_PHASE is event 0). */
#define EV_READER_DONE TC_OUTQ_EVENT(1)

struct tc_session {
	struct tc_room *room;
	struct tc_member m;         /* entry, queue, relay batch */
	int fd;                     /* owned: closed by the writer, once */
	unsigned id;                /* tc_conn_id(m.conn), for messages */
	struct tc_trace_conn trace; /* set before the threads start */
	/* Written by the reader before it moves the phase to HALF_CLOSED;
	 * the writer reads it after seeing that phase (the move orders it). */
	int64_t half_closed_ns;
	/* The first error that ended the connection (0: none yet): first
	 * error wins, whichever thread saw it. */
	atomic_int first_errno;
	atomic_int refs;         /* reader and writer: the last one frees */
	atomic_bool reader_done; /* the reader's: it is finished with fd */
	atomic_bool read_shut;   /* the writer's: it shut the read side */
	struct tc_linebuf lb;    /* reader only */
};

/* ---- life and death ---- */

static struct tc_session *
session_new(struct tc_room *room, int fd)
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
	atomic_init(&s->refs, 2);
	atomic_init(&s->first_errno, 0);
	atomic_init(&s->reader_done, false);
	atomic_init(&s->read_shut, false);
	tc_linebuf_init(&s->lb, room->max_line);
	return s;
}

/* Frees what session_new() made; the fd and the table entry are the
 * writer's (or the refusal's) to end. */
static void
session_free(struct tc_session *s)
{
	tc_linebuf_fini(&s->lb);
	tc_room_member_fini(&s->m);
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

/* ---- the reader ---- */

/* Handles one framed message. Returns true when it was "exit". */
static bool
handle_line(struct tc_session *s, const char *line, size_t len)
{
	struct tc_cmd cmd = {.kind = TC_CMD_TEXT, .arg = line, .arg_len = len};

	tc_conn_count_in(s->m.conn, len, 1);
	/* The rest of a line split at --max-line is text, never a command. */
	if (!tc_linebuf_continues(&s->lb))
		tc_proto_parse(line, len, &cmd);
	if (cmd.kind == TC_CMD_EXIT) {
		tc_room_flush(s->room, &s->m); /* what came before goes first */
		return true;
	}
	/* Being closed by the server (/kick, shutdown): read, never act. */
	if (phase(s) == TC_PHASE_OPEN)
		tc_room_hear(s->room, &s->m, &cmd);
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

	tc_trace(&s->trace, "received %s", why);
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
			(void)poll(&pfd, 1, (int)(left / 1000000) + 1);
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
		tc_trace(&s->trace, "received FIN");
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

/* Messages in a queued message: a relay batch holds many lines. */
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

/* Waits for the reader to finish with the socket, at most until
 * deadline_ns (0: no limit). Returns true once it has. */
static bool
wait_reader(struct tc_session *s, int64_t deadline_ns)
{
	struct tc_msg *batch[WRITE_BATCH];

	while (!atomic_load(&s->reader_done)) {
		if (deadline_ns != 0 && tc_clock_now_ns() >= deadline_ns)
			return false;
		/* Anything still queued now can no longer be sent. */
		drop(batch, tc_outq_take(s->m.q, batch, WRITE_BATCH,
		                         EV_READER_DONE, deadline_ns, NULL));
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
		tc_trace(&s->trace, "%sshutdown(SHUT_WR), FIN sent", who);
		return;
	}
	record_error(s, errno);
	tc_trace(&s->trace, "%sshutdown(SHUT_WR) failed, no FIN: %s", who,
	         strerror(errno));
}

/* Sends our FIN and waits for the peer's, at most drain_ns; past that,
 * wakes the reader with SHUT_RD (never close: it may be in recv()). */
static void
close_from_server(struct tc_session *s)
{
	send_fin(s, "server closes: ");
	if (!wait_reader(s, tc_clock_now_ns() + s->room->drain_ns)) {
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
		wait_reader(s, 0);
		send_fin(s, "");
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
	s->trace.fd = -1; /* what the kernel still holds for the tuple */
	tc_trace(&s->trace, "close()");
	session_unref(s);
	return NULL;
}

/* ---- start ---- */

/* Refuses a connection without a thread: says why in one notice, then
 * SHUT_WR and a short drain first, so the notice is not destroyed by a
 * reset, then close. */
static void
refuse(int fd, const char *notice)
{
	char junk[512];

	(void)send(fd, notice, strlen(notice), MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

/* Every refusal is told on the console the same way, on stderr. */
static void
report_refusal(const char *peer, const char *why)
{
	tc_console_printf(stderr, "tcpchatd: refused %s: %s", peer, why);
}

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
	struct tc_msg *busy =
	    tc_proto_notice("error: server busy, try again later");
	struct tc_room *room = s->room;
	char why[128];

	record_error(s, err);
	describe_end(s, why, sizeof(why));
	tc_room_left(room, &s->m, why, false);
	tc_conntab_remove(room->tab, s->m.conn);
	refuse(s->fd, busy != NULL ? tc_msg_data(busy) : "");
	tc_msg_unref(busy);
	session_free(s);
	tc_room_exit(room);
}

/* The table had no room: refuse and free, the table never saw it. */
static int
refuse_full(struct tc_session *s, const char *peer)
{
	int err = errno;

	refuse(s->fd, "* error: server full\n");
	if (s->room->verbose)
		report_refusal(peer, "server full");
	session_free(s);
	errno = err;
	return -1;
}

int
tc_session_start(struct tc_room *room, int fd)
{
	char peer[TC_ADDR_STR_MAX], why[128];
	struct tc_session *s;
	int rc;

	tc_net_peer_str(fd, peer);
	s = session_new(room, fd);
	if (s == NULL) {
		refuse(fd, "* error: server out of memory\n");
		report_refusal(peer, strerror(ENOMEM));
		errno = ENOMEM;
		return -1;
	}
	tc_room_welcome(room, s->m.q, peer);
	s->m.conn = tc_conntab_add(room->tab, fd, peer, s->m.q);
	if (s->m.conn == NULL)
		return refuse_full(s, peer);
	s->id = tc_conn_id(s->m.conn);
	tc_trace_conn_init(&s->trace, fd, s->id);
	/* Announced here, on the acceptor thread, so that nobody who joins
	 * after us (and was counted in our welcome) hears it. */
	tc_room_joined(room, &s->m);
	if (room->verbose)
		tc_console_printf(stdout, "* connection %u from %s", s->id,
		                  peer);
	tc_room_enter(room);
	rc = start_threads(s);
	if (rc == 0)
		return 0;
	snprintf(why, sizeof(why), "pthread_create: %s", strerror(rc));
	report_refusal(peer, why);
	abandon(s, rc);
	errno = rc;
	return -1;
}
