/* client: the tcpchat client's connection (see client.h).
 *
 * Its life is one phase (enum tc_client_phase below), changed only by
 * enter(), which refuses any step the diagram does not draw: the reader
 * thread and the console thread both move it, and whichever ends the
 * connection first decides how it ends. The socket is the console
 * thread's: the reader only recv()s. */
#include "tcpchat/client.h"

#include <errno.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tcpchat/console.h"
#include "tcpchat/linebuf.h"
#include "tcpchat/net.h"
#include "tcpchat/proto.h"
#include "tcpchat/sanitize.h"
#include "tcpchat/trace.h"

/* Incoming messages: the server's "NAME: TEXT" lines may be longer than
 * --max-line once escaped; split only what no line of it can reach. */
#define READ_MAX_LINE (64 * 1024)

/* The connection's life. Arrows are the only steps enter() allows; who
 * takes each is in brackets (C the console thread, R the reader).
 *
 *                exit, Ctrl-D, end of input, SIGTERM, SIGHUP [C]
 *        OPEN ------------------------------------> HALF_CLOSING
 *         |                                          |        |
 *         | server's FIN [R]          "exit" and     |        | server's
 *         v                        SHUT_WR sent [C]  v        | FIN [R]
 *    SERVER_CLOSED                            HALF_CLOSED     |
 *                                                    |        |
 *                                   server's FIN [R] v        v
 *                                                   DONE <----+
 *
 *   LOST     [C, R] a reset or socket error: from all of the above
 *   ABORTED  [C] a signal ends it (SIGQUIT, or a second interrupt while
 *            waiting for the server's FIN): from OPEN and HALF_CLOSED
 *   GAVE_UP  [C] a send stuck on a server that reads nothing is given
 *            up: from OPEN, HALF_CLOSING and SERVER_CLOSED
 *
 * SERVER_CLOSED, DONE, LOST, ABORTED and GAVE_UP end the connection: the
 * console stops and the console thread closes the socket. LOST, ABORTED
 * and GAVE_UP are final; a write error can still turn SERVER_CLOSED or
 * DONE into LOST, and giving up a stuck send SERVER_CLOSED into GAVE_UP.
 * The reader, woken by the close after one of the final three, finds its
 * step refused and so knows that EOF was not the server's FIN. */
enum tc_client_phase {
	TC_CLIENT_OPEN,          /* input on; typed lines go out */
	TC_CLIENT_HALF_CLOSING,  /* input off; sending "exit", then SHUT_WR */
	TC_CLIENT_HALF_CLOSED,   /* our FIN is out; printing until theirs */
	TC_CLIENT_SERVER_CLOSED, /* the server's FIN came first: exit 0 */
	TC_CLIENT_DONE,          /* both FINs: exit 0 */
	TC_CLIENT_LOST,          /* exit 3, end_err says why */
	TC_CLIENT_ABORTED,       /* exit 128 + end_sig, closed with a FIN */
	TC_CLIENT_GAVE_UP,       /* exit 128 + end_sig, closed with a reset */
};

#define PHASE_BIT(p) (1u << (p))

/* For each phase, the phases enter() may move it to. */
static const unsigned legal_next[] = {
    [TC_CLIENT_OPEN] =
        PHASE_BIT(TC_CLIENT_HALF_CLOSING) | PHASE_BIT(TC_CLIENT_SERVER_CLOSED) |
        PHASE_BIT(TC_CLIENT_LOST) | PHASE_BIT(TC_CLIENT_ABORTED) |
        PHASE_BIT(TC_CLIENT_GAVE_UP),
    [TC_CLIENT_HALF_CLOSING] =
        PHASE_BIT(TC_CLIENT_HALF_CLOSED) | PHASE_BIT(TC_CLIENT_DONE) |
        PHASE_BIT(TC_CLIENT_LOST) | PHASE_BIT(TC_CLIENT_GAVE_UP),
    [TC_CLIENT_HALF_CLOSED] = PHASE_BIT(TC_CLIENT_DONE) |
                              PHASE_BIT(TC_CLIENT_LOST) |
                              PHASE_BIT(TC_CLIENT_ABORTED),
    [TC_CLIENT_SERVER_CLOSED] =
        PHASE_BIT(TC_CLIENT_LOST) | PHASE_BIT(TC_CLIENT_GAVE_UP),
    [TC_CLIENT_DONE] = PHASE_BIT(TC_CLIENT_LOST),
    [TC_CLIENT_LOST] = 0,
    [TC_CLIENT_ABORTED] = 0,
    [TC_CLIENT_GAVE_UP] = 0,
};

struct tc_client {
	int fd;
	int sig_fd;
	bool tty;
	/* Read-only while the reader runs; finish() clears .fd after
	 * close(). */
	struct tc_trace_conn tr;
	/* lock guards phase, end_err and end_sig: the reader and the
	 * console thread both move the phase, through enter() only. */
	pthread_mutex_t lock;
	enum tc_client_phase phase;
	int end_err; /* LOST: the errno */
	int end_sig; /* ABORTED, GAVE_UP: the signal */
	/* Console thread only: a signal that came while a send waited for
	 * room, acted on once that send is over; 0: none. */
	int held_sig;
};

/* The enum lists the phases that end the connection last. */
static bool
phase_ends(enum tc_client_phase p)
{
	return p >= TC_CLIENT_SERVER_CLOSED;
}

/* The one place the phase changes. why is the errno for LOST, the signal
 * for ABORTED and GAVE_UP, else 0. Returns false, changing nothing, when
 * the diagram has no such step from the current phase. Any thread. */
static bool
enter(struct tc_client *c, enum tc_client_phase to, int why)
{
	bool ok;

	pthread_mutex_lock(&c->lock);
	ok = (legal_next[c->phase] & PHASE_BIT(to)) != 0;
	if (ok) {
		c->phase = to;
		if (to == TC_CLIENT_LOST)
			c->end_err = why;
		else if (to == TC_CLIENT_ABORTED || to == TC_CLIENT_GAVE_UP)
			c->end_sig = why;
	}
	pthread_mutex_unlock(&c->lock);
	if (ok && phase_ends(to))
		tc_console_stop();
	return ok;
}

static enum tc_client_phase
phase_of(struct tc_client *c)
{
	enum tc_client_phase p;

	pthread_mutex_lock(&c->lock);
	p = c->phase;
	pthread_mutex_unlock(&c->lock);
	return p;
}

/* ---- the reader thread ---- */

/* Each message escaped (the server relays whatever its clients send). */
static void
print_message(const char *line, size_t len, char *scratch)
{
	if (tc_sanitize_is_clean(line, len)) {
		tc_console_printf(stdout, "%.*s", (int)len, line);
		return;
	}
	tc_sanitize(scratch, line, len);
	tc_console_printf(stdout, "%s", scratch);
}

static void
print_messages(struct tc_linebuf *lb, bool at_eof, char *scratch)
{
	const char *line;
	ssize_t len;

	while ((len = tc_linebuf_next(lb, &line)) >= 0)
		print_message(line, (size_t)len, scratch);
	while (at_eof && (len = tc_linebuf_flush(lb, &line)) >= 0)
		print_message(line, (size_t)len, scratch);
}

/* Returns 0 at EOF, else the errno that ended the reading. Either way
 * the last bytes, a line cut short by the FIN or a reset, are shown. */
static int
receive_all(struct tc_client *c, struct tc_linebuf *lb, char *scratch)
{
	char buf[16384];
	ssize_t n;
	int err = 0;

	while (err == 0) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR)
			err = errno;
		else if (n > 0 && tc_linebuf_feed(lb, buf, (size_t)n) == -1)
			err = errno;
		else
			print_messages(lb, false, scratch);
	}
	print_messages(lb, true, scratch);
	return err;
}

/* An EOF is the server's FIN unless the console thread shut the socket to
 * wake the reader: it does that only in a final phase, which refuses. */
static void
reader_ended(struct tc_client *c, int err)
{
	if (err != 0)
		enter(c, TC_CLIENT_LOST, err);
	else if (enter(c, TC_CLIENT_SERVER_CLOSED, 0) ||
	         enter(c, TC_CLIENT_DONE, 0))
		tc_trace(&c->tr, "received FIN (EOF)");
}

/* Only recv()s: the socket's output and its close belong to the console
 * thread. */
static void *
reader_main(void *arg)
{
	struct tc_client *c = arg;
	struct tc_linebuf lb;
	char *scratch;
	int err;

	scratch = malloc(TC_SANITIZE_BOUND(READ_MAX_LINE));
	tc_linebuf_init(&lb, READ_MAX_LINE);
	err = scratch == NULL ? ENOMEM : receive_all(c, &lb, scratch);
	tc_linebuf_fini(&lb);
	free(scratch);
	reader_ended(c, err);
	return NULL;
}

/* ---- sending (console thread) ---- */

/* The terminal's own signals, whatever the phase. True when sig was one. */
static bool
terminal_signal(int sig)
{
	if (sig == SIGWINCH)
		tc_console_resize();
	else if (sig == SIGTSTP)
		tc_console_suspend();
	else
		return false;
	return true;
}

static void
say_held(const struct tc_client *c, int sig)
{
	bool ctrl_c = sig == SIGINT && c->tty;

	tc_console_printf(stderr,
	                  "tcpchat: the server is not reading; "
	                  "%s%s again gives up",
	                  ctrl_c ? "Ctrl-" : "SIG",
	                  ctrl_c ? "C" : sigabbrev_np(sig));
}

static void
give_up_send(struct tc_client *c, size_t unsent, int sig)
{
	int queued = 0;

	/* Its send queue goes with the reset: count it as not sent. */
	if (ioctl(c->fd, SIOCOUTQ, &queued) == -1 || queued < 0)
		queued = 0;
	tc_console_printf(stderr,
	                  "tcpchat: gave up sending, the server reads "
	                  "nothing: %zu bytes not sent (%s)",
	                  unsent + (size_t)queued, strsignal(sig));
	enter(c, TC_CLIENT_GAVE_UP, sig);
}

/* Signals that arrive while a send waits for the server to read:
 * resizing and Ctrl-Z as ever; the first that would end or interrupt is
 * held until the line is out (the server may just be slow), with a hint;
 * a second one, or SIGQUIT, gives the send up: the client then ends with
 * 128 + the signal and resets the connection. True when given up. */
static bool
gives_up_send(struct tc_client *c, size_t unsent)
{
	struct signalfd_siginfo si;
	int sig;

	while (read(c->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		sig = (int)si.ssi_signo;
		if (terminal_signal(sig))
			continue;
		if (c->held_sig == 0 && sig != SIGQUIT) {
			c->held_sig = sig;
			say_held(c, sig);
			continue;
		}
		give_up_send(c, unsent, sig);
		return true;
	}
	return false;
}

/* Sends line and its LF, however long the server takes to read, unless a
 * signal gives it up. 0, or -1 when it was not sent (the phase says why).
 * A signal held meanwhile is left in held_sig for the caller. */
static int
send_line(struct tc_client *c, const char *line, size_t len)
{
	struct iovec iov[2] = {
	    {.iov_base = (void *)line, .iov_len = len},
	    {.iov_base = "\n", .iov_len = 1},
	};
	enum tc_client_phase p = phase_of(c);

	if (p == TC_CLIENT_LOST || p == TC_CLIENT_ABORTED ||
	    p == TC_CLIENT_GAVE_UP)
		return -1;
	while (tc_net_writev_until(c->fd, iov, 2, c->sig_fd) == -1) {
		if (errno != ECANCELED) {
			enter(c, TC_CLIENT_LOST, errno);
			return -1;
		}
		if (gives_up_send(c, iov[0].iov_len + iov[1].iov_len))
			return -1;
	}
	return 0;
}

/* "exit", then SHUT_WR, never close: the server may still send, and the
 * reader goes on printing until its FIN. Input is off already. */
static void
send_exit(struct tc_client *c)
{
	if (send_line(c, "exit", 4) == -1)
		return;
	tc_trace(&c->tr, "sent exit");
	if (shutdown(c->fd, SHUT_WR) == -1) {
		enter(c, TC_CLIENT_LOST, errno);
		return;
	}
	tc_trace(&c->tr, "shutdown(SHUT_WR)");
	enter(c, TC_CLIENT_HALF_CLOSED, 0);
}

/* No more input. On a terminal the prompt goes, keys typed from now on
 * are dropped (and none is left for the shell), and the user learns what
 * the client is waiting for and how to stop it. */
static void
end_input(struct tc_client *c)
{
	if (!c->tty) {
		tc_console_input_off();
		return;
	}
	tc_console_input_discard();
	tc_console_printf(stderr, "tcpchat: waiting for the server to close "
	                          "(Ctrl-C leaves now)");
}

/* Input ends: Ctrl-D, the end of piped input, a signal. */
static void
start_half_close(struct tc_client *c)
{
	if (!enter(c, TC_CLIENT_HALF_CLOSING, 0))
		return;
	end_input(c);
	send_exit(c);
}

/* The user's "exit", typed or pasted: what came after it in the same
 * paste (lines_after in the line the console handed over, and any keys
 * still waiting) is not sent, and the user is told. */
static void
exit_line(struct tc_client *c, size_t lines_after)
{
	size_t n;

	if (!enter(c, TC_CLIENT_HALF_CLOSING, 0))
		return;
	n = lines_after + tc_console_drop_typeahead();
	if (n > 0)
		tc_console_printf(stderr,
		                  "tcpchat: %zu pasted lines after exit were "
		                  "not sent",
		                  n);
	end_input(c);
	send_exit(c);
}

/* ---- signals (console thread) ---- */

static void
handle_signal(struct tc_client *c, int sig)
{
	enum tc_client_phase p = phase_of(c);

	if (terminal_signal(sig))
		return;
	switch (sig) {
	case SIGINT:
		/* At a prompt Ctrl-C clears the line, as in a shell; piped,
		 * there is no line, so it ends the input. Waiting for the
		 * server's FIN, it stops waiting. */
		if (p == TC_CLIENT_HALF_CLOSED)
			enter(c, TC_CLIENT_ABORTED, sig);
		else if (c->tty)
			tc_console_cancel_line();
		else
			start_half_close(c);
		break;
	case SIGTERM:
	case SIGHUP:
		if (p == TC_CLIENT_HALF_CLOSED)
			enter(c, TC_CLIENT_ABORTED, sig);
		else
			start_half_close(c);
		break;
	default:
		enter(c, TC_CLIENT_ABORTED, sig);
		break;
	}
}

/* After each send: a signal held while it waited acts now, unless the
 * send failed or was given up, which ended the connection anyway. Acting
 * may send again ("exit") and hold another: hence the loop. */
static void
act_on_held_signal(struct tc_client *c)
{
	int sig;

	while ((sig = c->held_sig) != 0) {
		c->held_sig = 0;
		if (!phase_ends(phase_of(c)))
			handle_signal(c, sig);
	}
}

/* ---- the console's callbacks (console thread) ---- */

/* The lines of text from p to end: one per LF, and a last one without. */
static size_t
count_lines(const char *p, const char *end)
{
	size_t n = 0;

	if (p == end)
		return 0;
	for (const char *q = p; q < end; q++)
		n += *q == '\n';
	return n + (end[-1] != '\n' ? 1 : 0);
}

/* One line as the user meant it: "exit" starts the half-close, anything
 * else is a message, remembered in the history once it is sent.
 * rest..end is what follows it in a paste. */
static void
typed_line(struct tc_client *c, const char *line, size_t len, const char *rest,
           const char *end)
{
	if (len == 4 && memcmp(line, "exit", 4) == 0)
		exit_line(c, count_lines(rest, end));
	else if (send_line(c, line, len) == 0)
		tc_console_history_add(line, len);
	act_on_held_signal(c);
}

/* A paste (bracketed, which readline hands over at Enter as one line with
 * its newlines in it) is as many lines typed one after the other; a last
 * newline only ends the last of them. */
static void
on_line(void *ctx, const char *line, size_t len)
{
	struct tc_client *c = ctx;
	const char *end = line + len, *p = line, *nl;

	while (phase_of(c) == TC_CLIENT_OPEN) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			typed_line(c, p, (size_t)(end - p), end, end);
			return;
		}
		typed_line(c, p, (size_t)(nl - p), nl + 1, end);
		p = nl + 1;
		if (p == end)
			return;
	}
}

static void
on_eof(void *ctx)
{
	struct tc_client *c = ctx;

	start_half_close(c);
	act_on_held_signal(c);
}

static void
on_signals(void *ctx)
{
	struct tc_client *c = ctx;
	struct signalfd_siginfo si;

	while (read(c->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		handle_signal(c, (int)si.ssi_signo);
		act_on_held_signal(c);
	}
}

void
tc_client_console_opts(struct tc_client *c, struct tc_console_opts *co)
{
	/* Only what was sent goes into the history: not "exit", not a
	 * line a paste's "exit" kept back, not a whole paste as one entry. */
	co->caller_history = true;
	co->on_line = on_line;
	co->on_eof = on_eof;
	co->extra_fd = c->sig_fd;
	co->on_extra = on_signals;
	co->ctx = c;
}

/* ---- setting up and ending ---- */

/* Signals become console events: blocked in every thread (the reader
 * inherits the mask), read from a signalfd by the console thread. */
static int
setup_signals(struct tc_client *c)
{
	sigset_t set;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (c->tty) {
		sigaddset(&set, SIGWINCH);
		/* Ctrl-Z: restore the terminal before stopping. */
		sigaddset(&set, SIGTSTP);
	}
	rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	c->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return c->sig_fd == -1 ? -1 : 0;
}

struct tc_client *
tc_client_new(int fd, bool tty)
{
	struct tc_client *c = calloc(1, sizeof(*c));
	int saved;

	if (c == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	c->fd = fd;
	c->sig_fd = -1;
	c->tty = tty;
	c->phase = TC_CLIENT_OPEN;
	pthread_mutex_init(&c->lock, NULL);
	if (setup_signals(c) == -1) {
		saved = errno;
		tc_client_free(c);
		errno = saved;
		return NULL;
	}
	tc_trace_conn_init(&c->tr, fd, 0);
	return c;
}

/* close() then resets the connection and drops what is still queued. */
static void
set_linger_zero(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* The exit status of a connection that has ended, said once. */
static int
exit_status(struct tc_client *c)
{
	switch (phase_of(c)) {
	case TC_CLIENT_ABORTED:
	case TC_CLIENT_GAVE_UP:
		return 128 + c->end_sig;
	case TC_CLIENT_LOST:
		tc_console_printf(stderr, "tcpchat: connection lost: %s",
		                  strerror(c->end_err));
		return TC_CLIENT_EXIT_LOST;
	case TC_CLIENT_SERVER_CLOSED:
		tc_console_printf(stderr,
		                  "tcpchat: connection closed by the server");
		return 0;
	default:
		return 0;
	}
}

/* After the console has ended: make sure the reader ends too, join it,
 * close (the console thread's job alone) and say how it ended. */
static int
finish(struct tc_client *c, pthread_t reader)
{
	bool gave_up = phase_of(c) == TC_CLIENT_GAVE_UP;

	/* shutdown, not close: the reader may still be in recv(). A send
	 * given up must not end in a FIN (the server would take the cut
	 * line as a last message): SHUT_RD only, then a reset. */
	shutdown(c->fd, gave_up ? SHUT_RD : SHUT_RDWR);
	pthread_join(reader, NULL);
	if (gave_up)
		set_linger_zero(c->fd);
	close(c->fd);
	c->fd = -1;
	/* The fd is gone: trace reads the state from the kernel's table. */
	c->tr.fd = -1;
	tc_trace(&c->tr, "close()");
	return exit_status(c);
}

static void
send_nick(struct tc_client *c, const char *nick)
{
	char line[TC_NICK_MAX + 8];
	int n = snprintf(line, sizeof(line), "/nick %s", nick);

	send_line(c, line, (size_t)n);
	act_on_held_signal(c);
}

int
tc_client_run(struct tc_client *c, const char *nick)
{
	char addr[TC_ADDR_STR_MAX];
	pthread_t reader;
	int rc;

	tc_console_printf(stderr, "tcpchat: connected to %s",
	                  tc_net_peer_str(c->fd, addr));
	tc_trace(&c->tr, "connected");
	if (nick != NULL)
		send_nick(c, nick);
	rc = pthread_create(&reader, NULL, reader_main, c);
	if (rc != 0) {
		tc_console_printf(stderr, "tcpchat: pthread_create: %s",
		                  strerror(rc));
		close(c->fd);
		c->fd = -1;
		return TC_CLIENT_EXIT_LOST;
	}
	/* A read error on stdin ends the connection like a socket error. */
	if (tc_console_run() == -1) {
		rc = errno;
		enter(c, TC_CLIENT_LOST, rc);
	}
	return finish(c, reader);
}

void
tc_client_free(struct tc_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->sig_fd >= 0)
		close(c->sig_fd);
	tc_trace_conn_fini(&c->tr);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
