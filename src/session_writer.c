/* session_writer: the writer thread of one server connection. It owns the
 * socket's output: it drains the connection's queue with writev, follows
 * the phase (phase.h) through the linger and the close, sends our FIN and
 * closes the socket, once, after the reader is done. */
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

#define WRITE_BATCH 64 /* messages per writev */

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
		lines += session_count_lines(iov[i].iov_base, iov[i].iov_len);
	}
	rc = tc_net_writev_all(s->fd, iov, n);
	if (rc == -1)
		session_record_error(s, errno);
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
	if (session_phase(s) == TC_PHASE_ABORTED) {
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

	while (session_phase(s) == stay) {
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
	if (rc == 0 && session_phase(s) == TC_PHASE_HALF_CLOSED)
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
	session_record_error(s, errno);
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
	session_describe_end(s, why, sizeof(why));
	tc_console_printf(stdout, "* connection %u closed (%s)", s->id, why);
}

/* Sends until the connection leaves OPEN, then closes it the way its
 * phase says. Returns 0, or -1 when it broke on the way. */
static int
serve(struct tc_session *s)
{
	int rc = deliver(s, TC_PHASE_OPEN, 0);

	if (rc == 0 && session_phase(s) == TC_PHASE_HALF_CLOSED)
		rc = linger_after_half_close(s);
	if (rc == 0)
		rc = drain(s);
	if (rc == -1)
		return -1;
	if (session_phase(s) == TC_PHASE_CLOSING) {
		close_from_server(s);
	} else {
		/* Our FIN at once: a peer that said "exit" but sends no FIN
		 * (plain nc) must not wait for the reader's drain to end. */
		send_fin(s, "");
		wait_reader(s, 0);
	}
	return 0;
}

void *
session_writer_main(void *arg)
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
