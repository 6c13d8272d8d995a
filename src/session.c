/* session: one client connection of tcpchatd, from accept to close.
 *
 * The reader thread frames what the peer sends, relays it and answers its
 * commands; on "exit" or FIN it starts the half-close (SPEC section 4). The
 * writer thread owns the socket's output: it drains the connection's outq
 * with writev, and performs the close, once, after the reader is done.
 * Server-initiated closes (/kick, shutdown) arrive as outq marks. */
#include "tcpchat/session.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpchat/console.h"
#include "tcpchat/linebuf.h"
#include "tcpchat/net.h"
#include "tcpchat/outq.h"
#include "tcpchat/proto.h"
#include "tcpchat/sanitize.h"
#include "tcpchat/trace.h"

#define RECV_CHUNK 8192
#define WRITE_BATCH 64    /* messages per writev */
#define RELAY_BATCH 16384 /* chat bytes per broadcast message, at most */
#define TC_CROWD 100      /* joins and leaves are announced up to this many */

struct tc_session {
	struct tc_server *srv;
	struct tc_conn *conn; /* our table entry; removed by the writer */
	struct tc_outq *q;
	int fd;                     /* owned: closed by the writer, once */
	unsigned id;                /* tc_conn_id(conn), for messages */
	struct tc_trace_conn trace; /* set before the threads start */
	/* Written by the reader before it marks TC_OUTQ_HALF_CLOSED; the
	 * writer reads it after seeing that mark (the outq lock orders it). */
	int64_t half_closed_ns;
	/* The first error that ended the connection (0: none yet): first
	 * error wins, whichever thread saw it. */
	atomic_int first_errno;
	atomic_int refs;      /* reader and writer: the last one frees */
	struct tc_linebuf lb; /* reader only */
	/* Reader only: chat lines formatted and not yet broadcast. */
	char *relay;
	size_t relay_len, relay_cap;
	/* Reader only: our name as in the table, which only this thread
	 * changes (/nick); saves taking the table lock for every line. */
	char name[TC_NAME_MAX];
};

int
tc_server_init(struct tc_server *srv)
{
	pthread_condattr_t attr;
	int rc;

	srv->n_live = 0;
	rc = pthread_mutex_init(&srv->live_lock, NULL);
	if (rc != 0)
		goto out;
	pthread_condattr_init(&attr);
	/* Monotonic, so that deadlines ignore changes to the wall clock. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&srv->live_cond, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		pthread_mutex_destroy(&srv->live_lock);
out:
	errno = rc;
	return rc == 0 ? 0 : -1;
}

void
tc_server_fini(struct tc_server *srv)
{
	pthread_cond_destroy(&srv->live_cond);
	pthread_mutex_destroy(&srv->live_lock);
}

size_t
tc_server_wait_sessions(struct tc_server *srv, int64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = deadline_ns / 1000000000,
	                      .tv_nsec = deadline_ns % 1000000000};
	size_t left;
	int rc = 0;

	pthread_mutex_lock(&srv->live_lock);
	while (srv->n_live > 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&srv->live_cond, &srv->live_lock,
		                            &ts);
	left = srv->n_live;
	pthread_mutex_unlock(&srv->live_lock);
	return left;
}

static void
live_add(struct tc_server *srv, int delta)
{
	pthread_mutex_lock(&srv->live_lock);
	if (delta > 0)
		srv->n_live++;
	else if (--srv->n_live == 0)
		pthread_cond_broadcast(&srv->live_cond);
	pthread_mutex_unlock(&srv->live_lock);
}

static void
session_unref(struct tc_session *s)
{
	struct tc_server *srv = s->srv;

	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	tc_linebuf_fini(&s->lb);
	free(s->relay);
	tc_outq_free(s->q);
	free(s);
	live_add(srv, -1);
}

static void
record_error(struct tc_session *s, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&s->first_errno, &none, err);
}

/* Queues m (NULL is ignored) for this client only and drops the caller's
 * reference; a queue over its limit cuts this client off. */
static void
send_self(struct tc_session *s, struct tc_msg *m)
{
	if (m == NULL)
		return;
	if (tc_outq_push(s->q, m) == -1 && errno == ENOBUFS)
		tc_conntab_abort(s->srv->tab, s->conn);
	tc_msg_unref(m);
}

/* Queues a printf-formatted notice "* TEXT" for this client only. */
static void notice_self(struct tc_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
notice_self(struct tc_session *s, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	send_self(s, tc_msg_printf("* %s\n", text));
}

/* What kind of notice: decides who sees it. */
enum notice_kind {
	NOTICE_CHAT,     /* chat traffic: off the console with -q */
	NOTICE_PRESENCE, /* a join or a leave: chat, and not told to a crowd */
	NOTICE_ALERT,    /* always on the console */
};

/* Sends "* TEXT" to every other client and shows it on the console.
 * Joins and leaves reach the clients only while at most TC_CROWD are
 * connected: past that, N joins would cost N^2 messages (IRC clients hide
 * them in large channels for the same reason). */
static void notice_others(struct tc_session *s, enum notice_kind kind,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
notice_others(struct tc_session *s, enum notice_kind kind, const char *fmt, ...)
{
	char text[512];
	struct tc_msg *m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (kind == NOTICE_ALERT || !s->srv->quiet)
		tc_console_printf(stdout, "* %s", text);
	if (kind == NOTICE_PRESENCE && tc_conntab_count(s->srv->tab) > TC_CROWD)
		return;
	m = tc_msg_printf("* %s\n", text);
	if (m == NULL)
		return;
	tc_conntab_broadcast(s->srv->tab, s->conn, m);
	tc_msg_unref(m);
}

/* Escapes untrusted bytes for a notice; returns buf. */
static const char *
escape(const char *src, size_t len, char *buf, size_t cap)
{
	if (TC_SANITIZE_BOUND(len) > cap)
		len = (cap - 1) / 4;
	tc_sanitize(buf, src, len);
	return buf;
}

/* ---- the reader ---- */

static int
grow_relay(struct tc_session *s, size_t need)
{
	char *p;

	if (need <= s->relay_cap)
		return 0;
	p = realloc(s->relay, need);
	if (p == NULL)
		return -1;
	s->relay = p;
	s->relay_cap = need;
	return 0;
}

/* Broadcasts the pending chat lines as one message: one push and one
 * wake-up per peer for a whole recv() worth of lines, not one per line. */
static void
flush_relay(struct tc_session *s)
{
	struct tc_msg *m;

	if (s->relay_len == 0)
		return;
	m = tc_msg_new(s->relay, s->relay_len);
	s->relay_len = 0;
	if (m == NULL)
		return;
	tc_conntab_broadcast(s->srv->tab, s->conn, m);
	tc_msg_unref(m);
}

/* Formats one chat line (escaped) into the pending batch, which goes out at
 * the end of the received chunk, before any command, or when it is big. */
static void
relay_text(struct tc_session *s, const char *text, size_t len)
{
	size_t name_len = strlen(s->name), n;
	char *line;

	if (len == 0)
		return; /* an empty line says nothing: not relayed */
	if (grow_relay(s, s->relay_len + tc_proto_msg_bound(name_len, len)) ==
	    -1)
		return;
	line = s->relay + s->relay_len;
	n = tc_proto_format_msg(line, s->name, name_len, text, len);
	if (!s->srv->quiet)
		tc_console_printf(stdout, "%.*s", (int)(n - 1), line);
	s->relay_len += n;
	if (s->relay_len >= RELAY_BATCH)
		flush_relay(s);
}

static void
do_nick(struct tc_session *s, const char *arg, size_t len)
{
	char name[TC_NAME_MAX], old[TC_NAME_MAX], shown[TC_NAME_MAX * 4 + 1];

	if (!tc_proto_nick_valid(arg, len)) {
		notice_self(s,
		            "error: invalid nick '%s' (1-32 of "
		            "A-Za-z0-9._-)",
		            escape(arg, len, shown, sizeof(shown)));
		return;
	}
	memcpy(name, arg, len);
	name[len] = '\0';
	if (tc_conntab_rename(s->srv->tab, s->conn, name, old) == -1) {
		notice_self(s, "error: nick '%s' is in use", name);
		return;
	}
	memcpy(s->name, name, sizeof(s->name));
	notice_self(s, "you are now %s", name);
	notice_others(s, NOTICE_CHAT, "%s is now %s", old, name);
}

static void
do_who(struct tc_session *s)
{
	struct tc_conn_info *all;
	size_t n, i, cap, used;
	char *list;

	all = tc_conntab_snapshot(s->srv->tab, &n);
	if (all == NULL)
		return;
	/* Every name is shorter than TC_NAME_MAX: the list fits in cap. */
	cap = 32 + strlen(s->srv->name) + n * (TC_NAME_MAX + 2);
	list = malloc(cap);
	if (list != NULL) {
		used = (size_t)snprintf(list, cap, "* %zu online: %s", n + 1,
		                        s->srv->name);
		for (i = 0; i < n; i++)
			used += (size_t)snprintf(list + used, cap - used,
			                         ", %s", all[i].name);
		list[used++] = '\n';
		send_self(s, tc_msg_new(list, used));
		free(list);
	}
	free(all);
}

static void
do_help(struct tc_session *s)
{
	size_t i;

	for (i = 0; tc_proto_client_help[i] != NULL; i++)
		notice_self(s, "%s", tc_proto_client_help[i]);
}

/* Handles one framed message. Returns true when it was "exit". */
static bool
handle_line(struct tc_session *s, const char *line, size_t len)
{
	char shown[256];
	struct tc_cmd cmd = {.kind = TC_CMD_TEXT, .arg = line, .arg_len = len};

	tc_conn_count_in(s->conn, len, 1);
	/* The rest of a line split at --max-line is text, never a command. */
	if (!tc_linebuf_continues(&s->lb))
		tc_proto_parse(line, len, &cmd);
	if (cmd.kind != TC_CMD_TEXT)
		flush_relay(s); /* what was said before a command goes first */
	if (cmd.kind == TC_CMD_EXIT)
		return true;
	/* Being closed by the server (/kick, shutdown): read, never act. The
	 * queue's mark says so without taking the table's lock per line. */
	if (tc_outq_marks(s->q) & TC_OUTQ_SERVER_CLOSE)
		return false;
	switch (cmd.kind) {
	case TC_CMD_TEXT:
		relay_text(s, cmd.arg, cmd.arg_len);
		break;
	case TC_CMD_NICK:
		do_nick(s, cmd.arg, cmd.arg_len);
		break;
	case TC_CMD_WHO:
		do_who(s);
		break;
	case TC_CMD_HELP:
		do_help(s);
		break;
	case TC_CMD_UNKNOWN:
	case TC_CMD_EXIT:
		notice_self(s, "error: unknown command '%s' (try /help)",
		            escape(cmd.arg, cmd.arg_len, shown, sizeof(shown)));
		break;
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
	flush_relay(s);
	return false;
}

/* SPEC section 4 step 2: mark the table, wake the writer at once, and tell
 * the others, unless the server is already closing this connection. */
static void
begin_half_close(struct tc_session *s, const char *why)
{
	enum tc_conn_state was;

	tc_trace(&s->trace, "received %s", why);
	was = tc_conntab_set_state(s->srv->tab, s->conn, TC_CONN_HALF_CLOSED);
	if (was != TC_CONN_OPEN) {
		/* /kick or shutdown got there first: theirs is the close. */
		tc_conntab_set_state(s->srv->tab, s->conn, was);
		return;
	}
	s->half_closed_ns = tc_now_ns();
	/* SPEC section 4: what is queued after the window is not sent. */
	tc_outq_close_at(s->q, s->half_closed_ns + s->srv->linger_ns);
	tc_trace(&s->trace, "marked half-closed in the table, waking the "
	                    "writer");
	tc_outq_mark(s->q, TC_OUTQ_HALF_CLOSED);
	notice_others(s, NOTICE_PRESENCE, "%s left", s->name);
}

/* Reads and discards until the peer's FIN or the drain deadline, so that
 * no unread byte turns our close into a reset. Returns true on FIN. */
static bool
drain_to_fin(struct tc_session *s, char *buf, size_t len)
{
	int64_t deadline = tc_now_ns() + s->srv->drain_ns, left;
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	ssize_t n;

	for (;;) {
		left = deadline - tc_now_ns();
		if (left <= 0)
			return false;
		if (poll(&pfd, 1, (int)(left / 1000000) + 1) <= 0)
			continue;
		n = recv(s->fd, buf, len, 0);
		if (n == 0)
			return !(tc_outq_marks(s->q) & TC_OUTQ_ABORT);
		if (n > 0) {
			tc_conn_count_in(s->conn, (size_t)n, 0);
		} else if (errno != EINTR && errno != EAGAIN) {
			record_error(s, errno);
			return false;
		}
	}
}

/* Why the connection ended, for "left" notices and the console. */
static void
describe_end(struct tc_session *s, char *buf, size_t len)
{
	unsigned marks = tc_outq_marks(s->q);
	int err = atomic_load(&s->first_errno);

	if (marks & TC_OUTQ_OVERFLOW)
		snprintf(buf, len, "too slow: over %zu bytes queued",
		         s->srv->max_queue);
	else if (err != 0)
		snprintf(buf, len, "%s", strerror(err));
	else
		snprintf(buf, len, "closed");
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* The connection broke (reset, error, or cut off for overflow). */
static void
announce_abnormal_end(struct tc_session *s)
{
	char why[128];

	if (tc_conntab_set_state(s->srv->tab, s->conn, TC_CONN_CLOSING) !=
	    TC_CONN_OPEN)
		return;
	describe_end(s, why, sizeof(why));
	notice_others(s,
	              tc_outq_marks(s->q) & TC_OUTQ_OVERFLOW ? NOTICE_ALERT
	                                                     : NOTICE_PRESENCE,
	              "%s left (%s)", s->name, why);
}

/* recv() returned 0: the peer's FIN, unless our own side shut the socket
 * under the reader. Returns true for an orderly end. */
static bool
end_of_input(struct tc_session *s)
{
	unsigned marks = tc_outq_marks(s->q);

	if (marks & TC_OUTQ_ABORT)
		return false; /* overflow or abort: shutdown(SHUT_RDWR) */
	if (marks & TC_OUTQ_RD_SHUT) {
		tc_trace(&s->trace, "read side shut by the writer: no FIN");
		return true;
	}
	take_lines(s, NULL, 0, true);
	begin_half_close(s, "FIN");
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
			if (take_lines(s, buf, (size_t)n, false)) {
				begin_half_close(s, "exit");
				if (drain_to_fin(s, buf, sizeof(buf)))
					tc_trace(&s->trace, "received FIN");
				else
					tc_trace(
					    &s->trace,
					    "no FIN from the peer in time");
				return true;
			}
		} else if (n == 0) {
			return end_of_input(s);
		} else if (errno != EINTR) {
			record_error(s, errno);
			take_lines(s, NULL, 0, true);
			return false;
		}
	}
}

static void
greet(struct tc_session *s)
{
	notice_others(s, NOTICE_PRESENCE, "%s joined", s->name);
}

static void *
reader_main(void *arg)
{
	struct tc_session *s = arg;

	if (receive_until_end(s)) {
		/* SHUT_RD only now, after the FIN: see SPEC section 4. */
		shutdown(s->fd, SHUT_RD);
		tc_trace(&s->trace, "shutdown(SHUT_RD), reader done");
	} else {
		announce_abnormal_end(s);
		tc_outq_mark(s->q, TC_OUTQ_ABORT);
	}
	tc_outq_mark(s->q, TC_OUTQ_READER_DONE);
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
		tc_conn_count_out(s->conn, bytes, lines);
	for (i = 0; i < n; i++)
		tc_msg_unref(batch[i]);
	return rc;
}

/* Sends whatever is queued until the queue is empty with a mark of `stop`
 * set, or deadline_ns passes (0: none). Returns the marks, or -1 after a
 * send error or an abort. */
static int
pump(struct tc_session *s, unsigned stop, int64_t deadline_ns)
{
	const unsigned fatal = TC_OUTQ_ABORT | TC_OUTQ_OVERFLOW;
	struct tc_msg *batch[WRITE_BATCH];
	unsigned marks;
	size_t n;

	for (;;) {
		n = tc_outq_take(s->q, batch, WRITE_BATCH, stop | fatal,
		                 deadline_ns, &marks);
		if (marks & fatal) {
			while (n > 0)
				tc_msg_unref(batch[--n]);
			return -1;
		}
		if (n > 0 && send_batch(s, batch, n) == -1)
			return -1;
		if (n == 0)
			return (int)marks;
	}
}

/* Waits for the reader to finish with the socket, at most until
 * deadline_ns (0: no limit). Returns true once it has. */
static bool
wait_reader(struct tc_session *s, int64_t deadline_ns)
{
	struct tc_msg *batch[WRITE_BATCH];
	unsigned marks;
	size_t n;

	for (;;) {
		/* Anything still queued now can no longer be sent. */
		n = tc_outq_take(s->q, batch, WRITE_BATCH, TC_OUTQ_READER_DONE,
		                 deadline_ns, &marks);
		while (n > 0)
			tc_msg_unref(batch[--n]);
		if (marks & TC_OUTQ_READER_DONE)
			return true;
		if (deadline_ns != 0 && tc_now_ns() >= deadline_ns)
			return false;
	}
}

/* SPEC section 4 step 3: flush, keep delivering for --linger, then stop
 * taking messages and flush what was queued before the window closed. */
static int
linger_after_half_close(struct tc_session *s)
{
	int marks;

	tc_trace(&s->trace, "writer flushing %zu queued bytes",
	         tc_outq_bytes(s->q));
	marks = pump(s, TC_OUTQ_SERVER_CLOSE,
	             s->half_closed_ns + s->srv->linger_ns);
	if (marks == -1)
		return -1;
	tc_outq_mark(s->q, TC_OUTQ_CLOSED);
	return pump(s, TC_OUTQ_CLOSED, 0);
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
	if (!wait_reader(s, tc_now_ns() + s->srv->drain_ns)) {
		tc_trace(&s->trace, "no FIN from the peer in time");
		/* Mark first, so the reader does not take this for a FIN. */
		tc_outq_mark(s->q, TC_OUTQ_RD_SHUT);
		shutdown(s->fd, SHUT_RD);
		wait_reader(s, 0);
	}
}

static void
log_closed(struct tc_session *s)
{
	char why[128];

	if (!s->srv->verbose)
		return;
	describe_end(s, why, sizeof(why));
	tc_console_printf(stdout, "* connection %u closed (%s)", s->id, why);
}

static void *
writer_main(void *arg)
{
	struct tc_session *s = arg;
	int marks;

	marks = pump(s, TC_OUTQ_HALF_CLOSED | TC_OUTQ_SERVER_CLOSE, 0);
	if (marks != -1 && !(marks & TC_OUTQ_SERVER_CLOSE))
		marks = linger_after_half_close(s);
	else if (marks != -1)
		marks = pump(s, TC_OUTQ_CLOSED, 0);
	if (marks == -1) {
		/* Broken or cut off: stop both directions, then close. ABORT
		 * first, so the reader takes the shutdown for what it is. */
		tc_outq_mark(s->q, TC_OUTQ_ABORT);
		shutdown(s->fd, SHUT_RDWR);
		wait_reader(s, 0);
	} else if (marks & TC_OUTQ_SERVER_CLOSE) {
		close_from_server(s);
	} else {
		wait_reader(s, 0);
		send_fin(s, "");
	}
	log_closed(s);
	tc_conntab_remove(s->srv->tab, s->conn);
	close(s->fd);
	s->trace.fd = -1; /* what the kernel still holds for the tuple */
	tc_trace(&s->trace, "close()");
	session_unref(s);
	return NULL;
}

/* ---- start ---- */

/* The welcome goes in before the connection joins the table, so that it is
 * the first line the client gets, before anyone else's. */
static void
welcome(struct tc_session *s, const char *peer)
{
	struct tc_msg *m;

	m = tc_msg_printf("* welcome, you are %s (%zu online); /help lists "
	                  "commands\n",
	                  peer, tc_conntab_count(s->srv->tab) + 2);
	if (m != NULL)
		tc_outq_push(s->q, m);
	tc_msg_unref(m);
}

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

static int
start_threads(struct tc_session *s, bool *writer_runs)
{
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	*writer_runs = false;
	rc = pthread_attr_init(&attr);
	if (rc != 0)
		return rc;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Small stacks on purpose: two threads per connection. */
	pthread_attr_setstacksize(&attr, s->srv->stack_size);
	rc = pthread_create(&tid, &attr, writer_main, s);
	if (rc == 0) {
		*writer_runs = true;
		rc = pthread_create(&tid, &attr, reader_main, s);
	}
	pthread_attr_destroy(&attr);
	return rc;
}

static struct tc_session *
session_new(struct tc_server *srv, int fd)
{
	struct tc_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->q = tc_outq_new(srv->max_queue, tc_conntab_bell(srv->tab));
	if (s->q == NULL) {
		free(s);
		return NULL;
	}
	s->srv = srv;
	s->fd = fd;
	atomic_init(&s->refs, 2);
	atomic_init(&s->first_errno, 0);
	tc_linebuf_init(&s->lb, srv->max_line);
	return s;
}

/* The threads could not start: this one connection is refused, the rest
 * go on. */
static void
abandon(struct tc_session *s, int err, bool writer_runs)
{
	static const char busy[] = "* error: server busy, try again later\n";
	struct tc_msg *m;

	record_error(s, err);
	announce_abnormal_end(s); /* its join was announced already */
	if (writer_runs) {
		/* The writer sends the notice, closes, and frees. */
		m = tc_msg_new(busy, sizeof(busy) - 1);
		if (m != NULL)
			tc_outq_push(s->q, m);
		tc_msg_unref(m);
		tc_outq_mark(s->q, TC_OUTQ_SERVER_CLOSE | TC_OUTQ_CLOSED |
		                       TC_OUTQ_READER_DONE);
		session_unref(s); /* the reader's reference */
		return;
	}
	tc_conntab_remove(s->srv->tab, s->conn);
	refuse(s->fd, busy);
	atomic_store(&s->refs, 1);
	session_unref(s);
}

int
tc_session_start(struct tc_server *srv, int fd)
{
	char peer[TC_ADDR_STR_MAX];
	struct tc_session *s;
	bool writer_runs;
	int rc;

	tc_net_peer_str(fd, peer);
	s = session_new(srv, fd);
	if (s == NULL) {
		refuse(fd, "* error: server out of memory\n");
		tc_console_printf(stderr, "tcpchatd: refused %s: %s", peer,
		                  strerror(ENOMEM));
		errno = ENOMEM;
		return -1;
	}
	welcome(s, peer);
	s->conn = tc_conntab_add(srv->tab, fd, peer, s->q);
	if (s->conn == NULL) {
		rc = errno;
		refuse(fd, "* error: server full\n");
		if (srv->verbose)
			tc_console_printf(stdout, "* refused %s: server full",
			                  peer);
		tc_linebuf_fini(&s->lb);
		tc_outq_free(s->q);
		free(s);
		errno = rc;
		return -1;
	}
	s->id = tc_conn_id(s->conn);
	snprintf(s->name, sizeof(s->name), "%s", peer);
	tc_trace_conn_init(&s->trace, fd, s->id);
	/* Announced here, on the acceptor thread, so that nobody who joins
	 * after us (and was counted in our welcome) hears it. */
	greet(s);
	if (srv->verbose)
		tc_console_printf(stdout, "* connection %u from %s", s->id,
		                  peer);
	live_add(srv, 1);
	rc = start_threads(s, &writer_runs);
	if (rc == 0)
		return 0;
	tc_console_printf(stderr, "tcpchatd: refused %s: pthread_create: %s",
	                  peer, strerror(rc));
	abandon(s, rc, writer_runs);
	errno = rc;
	return -1;
}
