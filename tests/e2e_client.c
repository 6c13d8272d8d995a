/* e2e_client: the tcpchat client as a user meets it (docs/PROTOCOL.md).
 *
 * Runs the real binary ($TCPCHAT) through a pseudo-terminal where the TTY
 * matters, or pipes, against a listening socket of the test itself (so
 * every byte and the FIN can be checked), against nc/ncat, and once
 * against tcpchatd. Every wait has a deadline; nothing sleeps. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define T_MS H_TIMEOUT_MS
#define PTY true
#define PIPES false

/* The test's own server: one listening socket and the accepted peer. */
struct fixture {
	int lfd, cfd, port;
	int tty_fd; /* our own fd of the client's pty slave, or -1 */
	char port_str[8];
	struct h_proc p;
};

static char tmp_root[] = "/tmp/e2e_client.XXXXXX";

static int
listen_any(const char *host, int family, int *port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, one = 1;

	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	(void)host;
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port =
	    ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                             : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int
accept_within(int lfd, int timeout_ms)
{
	struct pollfd pfd = {.fd = lfd, .events = POLLIN};

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static int
open_slave(struct fixture *f)
{
	char name[64];

	if (ptsname_r(f->p.in_fd, name, sizeof(name)) != 0)
		return -1;
	f->tty_fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	return f->tty_fd;
}

/* Listens, starts the client with opts then "HOST PORT", accepts it and
 * waits for its "connected to" line. 0 or -1. */
static int
fx_start_on(struct fixture *f, bool pty, const char *host, int family,
            const char *const *opts)
{
	const char *args[32];
	size_t n = 0;
	size_t from = 0;

	f->cfd = f->tty_fd = -1;
	f->lfd = listen_any(host, family, &f->port);
	if (f->lfd < 0)
		return -1;
	snprintf(f->port_str, sizeof(f->port_str), "%d", f->port);
	for (; opts != NULL && opts[n] != NULL && n < 28; n++)
		args[n] = opts[n];
	args[n++] = host;
	args[n++] = f->port_str;
	args[n] = NULL;
	if (h_client_start(&f->p, pty, args) < 0)
		return -1;
	if (pty && open_slave(f) < 0)
		return -1;
	f->cfd = accept_within(f->lfd, T_MS);
	if (f->cfd < 0)
		return -1;
	return h_wait_output(&f->p, 2, "tcpchat: connected to ", &from, T_MS);
}

static int
fx_start(struct fixture *f, bool pty, const char *const *opts)
{
	return fx_start_on(f, pty, "127.0.0.1", AF_INET, opts);
}

static void
fx_release(struct fixture *f)
{
	if (f->cfd >= 0)
		h_close(f->cfd);
	if (f->lfd >= 0)
		close(f->lfd);
	if (f->tty_fd >= 0)
		close(f->tty_fd);
}

/* The server side of the half-close: "exit" arrives, then the FIN. */
static void
expect_exit_then_fin(struct fixture *f)
{
	ck_assert_int_eq(h_expect_line(f->cfd, "exit", T_MS), 0);
	ck_assert_int_eq(h_wait_eof(f->cfd, T_MS), 0);
}

/* After the client half-closed: the server still talks, the client still
 * prints, then the server's FIN ends the client with status 0. */
static void
server_talks_then_closes(struct fixture *f, size_t *from)
{
	ck_assert_int_eq(h_send(f->cfd, "still here\n"), 0);
	ck_assert_int_eq(h_wait_output(&f->p, 1, "still here", from, T_MS), 0);
	h_close(f->cfd);
	f->cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f->p, T_MS), 0);
}

/* Waits until the pty shows the prompt (readline is ready). */
static void
wait_prompt(struct fixture *f, size_t *from)
{
	ck_assert_int_eq(h_wait_output(&f->p, 1, "> ", from, T_MS), 0);
}

static const char *const no_hist[] = {"--no-history", NULL};

/* The pty's line discipline as the client left it: readline turns ICANON
 * and ECHO off; a client that is done with input must turn them back on.
 * Read through our own fd of the slave, which outlives the client. */
static bool
tty_cooked(struct fixture *f)
{
	struct termios t;

	if (tcgetattr(f->tty_fd, &t) != 0)
		return false;
	return (t.c_lflag & (ICANON | ECHO)) == (ICANON | ECHO);
}

/* ---- typing while messages arrive (TTY) ---- */

START_TEST(test_incoming_line_appears_above_half_typed_text)
{
	struct fixture f;
	size_t from = 0, at;
	char line[128];
	const char *out;

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, "hello wor"), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "hello wor", &from, T_MS), 0);
	at = from;
	ck_assert_int_eq(h_send(f.cfd, "incoming message\n"), 0);
	/* The line starts on a line of its own, then prompt and text come
	 * back, in that order. */
	ck_assert_int_eq(
	    h_wait_output(&f.p, 1, "incoming message\r\n", &from, T_MS), 0);
	out = f.p.out + from - strlen("incoming message\r\n");
	ck_assert_msg(out > f.p.out + at && (out[-1] == '\r' || out[-1] == 'K'),
	              "incoming line not at column 0: %s", f.p.out + at);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "> hello wor", &from, T_MS), 0);
	ck_assert_int_eq(h_write(&f.p, "ld\r"), 0);
	ck_assert_int_gt(h_read_line(f.cfd, line, sizeof(line), T_MS), 0);
	ck_assert_str_eq(line, "hello world");
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_cursor_position_is_kept_when_a_line_arrives)
{
	struct fixture f;
	size_t from = 0;
	char line[128];

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	/* "ac", cursor left onto 'c': a line arrives, then 'b' must still
	 * go between them. */
	ck_assert_int_eq(h_write(&f.p, "ac\x1b[D"), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "ac", &from, T_MS), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "\b", &from, T_MS), 0);
	ck_assert_int_eq(h_send(f.cfd, "ping\n"), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "ping\r\n", &from, T_MS), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "> ac", &from, T_MS), 0);
	ck_assert_int_eq(h_write(&f.p, "b\r"), 0);
	ck_assert_int_gt(h_read_line(f.cfd, line, sizeof(line), T_MS), 0);
	ck_assert_str_eq(line, "abc");
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_ctrl_c_clears_the_half_typed_line)
{
	struct fixture f;
	size_t from = 0;
	char line[128];

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, "abc"), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "abc", &from, T_MS), 0);
	ck_assert_int_eq(h_write(&f.p, "\x03"), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "^C", &from, T_MS), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, "xyz\r"), 0);
	ck_assert_int_gt(h_read_line(f.cfd, line, sizeof(line), T_MS), 0);
	ck_assert_str_eq(line, "xyz");
	ck_assert(h_running(&f.p));
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

/* ---- the half-close from the client ---- */

START_TEST(test_typed_exit_half_closes_and_keeps_printing)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert(!tty_cooked(&f));
	ck_assert_int_eq(h_write(&f.p, "exit\r"), 0);
	expect_exit_then_fin(&f);
	/* Input is over: the terminal is the user's again, at once. */
	ck_assert(tty_cooked(&f));
	server_talks_then_closes(&f, &from);
	fx_release(&f);
}
END_TEST

/* The terminal settings of a new pty: what the client's pty had before
 * the client took it (the harness leaves them as the kernel made them). */
static struct termios
fresh_pty_termios(void)
{
	struct termios t;
	int m, s;

	ck_assert_int_eq(openpty(&m, &s, NULL, NULL, NULL), 0);
	ck_assert_int_eq(tcgetattr(s, &t), 0);
	close(s);
	close(m);
	return t;
}

/* What a shell that reads the terminal next would get at once: the
 * slave switched to non-canonical mode shows half-typed lines too. */
static ssize_t
unread_keys(struct fixture *f, char *buf, size_t len)
{
	struct termios t;

	ck_assert_int_eq(tcgetattr(f->tty_fd, &t), 0);
	t.c_lflag &= ~(tcflag_t)ICANON;
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	ck_assert_int_eq(tcsetattr(f->tty_fd, TCSANOW, &t), 0);
	return read(f->tty_fd, buf, len);
}

/* After "exit" the client says what it waits for; what is typed then (a
 * whole line and half of one) never reaches the shell that runs next,
 * and the terminal is handed back as it was found. */
START_TEST(test_keys_typed_while_waiting_are_not_left_for_the_shell)
{
	struct termios found = fresh_pty_termios(), left;
	struct fixture f;
	size_t from = 0, err_from = 0;
	char buf[256];
	ssize_t n;

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, "exit\r"), 0);
	expect_exit_then_fin(&f);
	ck_assert_int_eq(h_wait_output(&f.p, 2,
	                               "tcpchat: waiting for the server to "
	                               "close (Ctrl-C leaves now)\n",
	                               &err_from, T_MS),
	                 0);
	ck_assert_int_eq(h_write(&f.p, "echo typed\rhalf a li"), 0);
	/* Echoed: the keys are in the terminal's input buffer now. */
	ck_assert_int_eq(h_wait_output(&f.p, 1, "half a li", &from, T_MS), 0);
	h_close(f.cfd);
	f.cfd = -1;
	/* Its stderr ends as it exits: look at the terminal before the
	 * harness reaps it and closes the pty. */
	ck_assert_int_eq(h_wait_stream_eof(&f.p, 2, T_MS), 0);
	ck_assert_int_eq(tcgetattr(f.tty_fd, &left), 0);
	ck_assert_uint_eq(left.c_lflag, found.c_lflag);
	ck_assert_uint_eq(left.c_iflag, found.c_iflag);
	ck_assert_uint_eq(left.c_oflag, found.c_oflag);
	ck_assert_uint_eq(left.c_cflag, found.c_cflag);
	ck_assert_mem_eq(left.c_cc, found.c_cc, sizeof(left.c_cc));
	n = unread_keys(&f, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ck_assert_msg(n == 0, "left for the shell: '%s'", buf);
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_ctrl_c_while_waiting_for_the_fin_stops_waiting)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, "exit\r"), 0);
	expect_exit_then_fin(&f);
	/* The server never closes: a second interrupt ends the wait, as
	 * for any program interrupted (128 + SIGINT). */
	ck_assert_int_eq(h_write(&f.p, "\x03"), 0);
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 128 + SIGINT);
	fx_release(&f);
}
END_TEST

START_TEST(test_ctrl_d_half_closes_and_keeps_printing)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, "\x04"), 0);
	expect_exit_then_fin(&f);
	ck_assert(tty_cooked(&f));
	server_talks_then_closes(&f, &from);
	fx_release(&f);
}
END_TEST

START_TEST(test_sigterm_half_closes)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	h_kill(&f.p, SIGTERM);
	expect_exit_then_fin(&f);
	ck_assert(tty_cooked(&f));
	server_talks_then_closes(&f, &from);
	fx_release(&f);
}
END_TEST

START_TEST(test_piped_input_is_sent_then_half_closed)
{
	struct fixture f;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	ck_assert_int_eq(h_write(&f.p, "hi\nexit\n"), 0);
	ck_assert_int_eq(h_expect_line(f.cfd, "hi", T_MS), 0);
	expect_exit_then_fin(&f);
	ck_assert_int_eq(h_send(f.cfd, "bye\n"), 0);
	h_close(f.cfd);
	f.cfd = -1;
	/* Exactly the line: no prompt, no escape codes without a TTY. */
	ck_assert_int_eq(h_wait_stream_eof(&f.p, 1, T_MS), 0);
	ck_assert_str_eq(f.p.out, "bye\n");
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_end_of_piped_input_sends_exit_and_fin)
{
	struct fixture f;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	/* A last line without LF still goes out, then the half-close. */
	ck_assert_int_eq(h_write(&f.p, "one\ntwo"), 0);
	h_close_stdin(&f.p);
	ck_assert_int_eq(h_expect_line(f.cfd, "one", T_MS), 0);
	ck_assert_int_eq(h_expect_line(f.cfd, "two", T_MS), 0);
	expect_exit_then_fin(&f);
	server_talks_then_closes(&f, &(size_t){0});
	fx_release(&f);
}
END_TEST

START_TEST(test_sigint_half_closes_piped_client)
{
	struct fixture f;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	h_kill(&f.p, SIGINT);
	expect_exit_then_fin(&f);
	server_talks_then_closes(&f, &(size_t){0});
	fx_release(&f);
}
END_TEST

/* Writes text without a newline to the client's stdin until it takes no
 * more: the server reads nothing, so the client's socket fills, then the
 * pipe. Returns once no byte has gone in for a second: the client is stuck
 * sending one of the 64 KiB pieces it cuts the text into, which the
 * trickle a full receive window still lets through cannot finish soon. */
static void
feed_until_stuck(struct fixture *f)
{
	static char chunk[4000];
	struct pollfd pfd = {.fd = f->p.in_fd, .events = POLLOUT};
	size_t total = 0;
	ssize_t n;

	memset(chunk, 'x', sizeof(chunk));
	ck_assert_int_ne(fcntl(f->p.in_fd, F_SETFL, O_NONBLOCK), -1);
	for (;;) {
		n = write(f->p.in_fd, chunk, sizeof(chunk));
		if (n > 0) {
			total += (size_t)n;
			/* Far past any socket buffer: it never got stuck. */
			ck_assert_uint_lt(total, 64u << 20);
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		if (poll(&pfd, 1, 1000) == 0)
			return;
	}
}

/* SIGQUIT while the client is stuck sending to a server that reads
 * nothing: it gives up at once, says how much was not sent, exits 131,
 * and resets the connection: a FIN would pass the cut line off as a last
 * message. */
START_TEST(test_sigquit_gives_up_a_send_the_server_does_not_read)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	feed_until_stuck(&f);
	h_kill(&f.p, SIGQUIT);
	ck_assert_int_eq(h_wait_output(&f.p, 2,
	                               "tcpchat: gave up sending, the server "
	                               "reads nothing: ",
	                               &from, T_MS),
	                 0);
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 128 + SIGQUIT);
	ck_assert_int_eq(h_wait_eof(f.cfd, T_MS), -3);
	fx_release(&f);
}
END_TEST

/* Looped over SIGTERM and SIGINT, twice each, while the client is stuck
 * sending. The first waits for the line to go out (the server may just be
 * slow) and says so; the second ends the client (128 + signal). What it
 * ends depends on a race the kernel decides: the rest of the line may
 * still fit in the little room a full window leaves (then "exit" and the
 * FIN follow, and the second signal ends the wait for the server's FIN),
 * or not (then it gives up, with a reset). Either way, consistently. */
START_TEST(test_second_signal_ends_a_client_stuck_sending)
{
	static const int sigs[] = {SIGTERM, SIGINT};
	struct fixture f;
	size_t from = 0;
	bool gave_up;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	feed_until_stuck(&f);
	h_kill(&f.p, sigs[_i]);
	ck_assert_int_eq(h_wait_output(&f.p, 2,
	                               "tcpchat: the server is not reading; ",
	                               &from, T_MS),
	                 0);
	h_kill(&f.p, sigs[_i]);
	ck_assert_int_eq(h_wait_stream_eof(&f.p, 2, T_MS), 0);
	gave_up = strstr(f.p.err, "tcpchat: gave up sending") != NULL;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 128 + sigs[_i]);
	ck_assert_int_eq(h_wait_eof(f.cfd, T_MS), gave_up ? -3 : 0);
	fx_release(&f);
}
END_TEST

/* One SIGTERM while stuck, then the server reads after all: the line
 * goes out, then the half-close the signal asked for, and exit 0. */
START_TEST(test_signal_during_a_slow_send_half_closes_after_it)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	feed_until_stuck(&f);
	h_kill(&f.p, SIGTERM);
	ck_assert_int_eq(h_wait_output(&f.p, 2,
	                               "tcpchat: the server is not reading; "
	                               "SIGTERM again gives up",
	                               &from, T_MS),
	                 0);
	/* Reads all it was sent, up to the FIN that follows "exit". */
	ck_assert_int_eq(h_wait_eof(f.cfd, T_MS), 0);
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_stream_eof(&f.p, 2, T_MS), 0);
	ck_assert_ptr_null(strstr(f.p.err, "gave up"));
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_trace_shows_each_step_of_the_close)
{
	static const char *const opts[] = {"--trace", NULL};
	static const char *const steps[] = {
	    "sent exit (tcp ", "shutdown(SHUT_WR) (tcp ",
	    "received FIN (EOF) (tcp ", "close() (tcp "};
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PIPES, opts), 0);
	h_close_stdin(&f.p);
	expect_exit_then_fin(&f);
	/* The FIN only after the client traced its shutdown: the steps of
	 * two threads then come in the order the test makes them happen. */
	ck_assert_int_eq(h_wait_output(&f.p, 2, steps[1], &(size_t){0}, T_MS),
	                 0);
	h_close(f.cfd);
	f.cfd = -1;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		ck_assert_msg(
		    h_wait_output(&f.p, 2, steps[i], &from, T_MS) == 0,
		    "missing trace step '%s' in order: %s", steps[i], f.p.err);
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

/* ---- pasting (TTY) ---- */

/* Four lines with "exit" third, as a terminal pastes them: bracketed
 * (readline asks the terminal for it) and then Enter, or as plain keys,
 * each line ending in CR, or in LF. */
static const char *const four_line_pastes[] = {
    "\x1b[200~one\rtwo\rexit\rfour\r\x1b[201~\r",
    "one\rtwo\rexit\rfour\r",
    "one\ntwo\nexit\nfour",
};

START_TEST(test_pasted_lines_go_one_by_one_and_stop_at_exit)
{
	struct fixture f;
	size_t from = 0, err_from = 0;
	char line[64];

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, four_line_pastes[_i]), 0);
	H_EXPECT_NEXT(f.cfd, "one");
	H_EXPECT_NEXT(f.cfd, "two");
	H_EXPECT_NEXT(f.cfd, "exit");
	/* Nothing after "exit" but the FIN. */
	ck_assert_int_eq(h_read_line(f.cfd, line, sizeof(line), T_MS), -2);
	ck_assert_int_eq(h_wait_output(&f.p, 2,
	                               "tcpchat: 1 pasted lines after exit "
	                               "were not sent\n",
	                               &err_from, T_MS),
	                 0);
	server_talks_then_closes(&f, &from);
	fx_release(&f);
}
END_TEST

/* ---- the server ends it ---- */

START_TEST(test_server_closing_first_exits_0_with_a_notice)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	ck_assert_int_eq(h_send(f.cfd, "bye\n"), 0);
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_output(&f.p, 1, "bye\n", &(size_t){0}, T_MS),
	                 0);
	ck_assert_int_eq(h_wait_output(&f.p, 2,
	                               "tcpchat: connection closed by the "
	                               "server\n",
	                               &from, T_MS),
	                 0);
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_server_closing_first_restores_tty_and_exits_0)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, "half"), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "half", &from, T_MS), 0);
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_output(&f.p, 2,
	                               "tcpchat: connection closed by the "
	                               "server\n",
	                               &(size_t){0}, T_MS),
	                 0);
	ck_assert(tty_cooked(&f));
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_reset_by_the_server_exits_3)
{
	struct fixture f;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	ck_assert_int_eq(h_reset(f.cfd), 0);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_output(&f.p, 2,
	                               "tcpchat: connection lost: Connection "
	                               "reset by peer\n",
	                               &(size_t){0}, T_MS),
	                 0);
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 3);
	fx_release(&f);
}
END_TEST

/* A reset drops what its sender has not sent yet: waits (looking every
 * millisecond; the kernel has no event for it) until fd has sent all. */
static int
wait_all_sent(int fd)
{
	int unsent;

	for (int ms = 0; ms < T_MS; ms++) {
		if (ioctl(fd, SIOCOUTQNSD, &unsent) == -1)
			return -1;
		if (unsent == 0)
			return 0;
		poll(NULL, 0, 1);
	}
	return -1;
}

/* What arrived before a reset is shown: the last line, cut short,
 * escaped, comes before the message that the connection was lost. */
START_TEST(test_reset_shows_the_line_that_arrived_before_it)
{
	struct fixture f;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	ck_assert_int_eq(h_send(f.cfd, "whole\ncut \x1b[1m sho"), 0);
	ck_assert_int_eq(wait_all_sent(f.cfd), 0);
	ck_assert_int_eq(h_reset(f.cfd), 0);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_stream_eof(&f.p, 2, T_MS), 0);
	ck_assert_int_eq(h_wait_stream_eof(&f.p, 1, T_MS), 0);
	ck_assert_str_eq(f.p.out, "whole\ncut \\x1b[1m sho\n");
	ck_assert_str_eq(f.p.err, h_fmt("tcpchat: connected to 127.0.0.1:%d\n"
	                                "tcpchat: connection lost: Connection "
	                                "reset by peer\n",
	                                f.port));
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 3);
	fx_release(&f);
}
END_TEST

/* ---- what the client prints ---- */

START_TEST(test_terminal_controls_from_the_server_are_escaped)
{
	struct fixture f;

	ck_assert_int_eq(fx_start(&f, PIPES, NULL), 0);
	ck_assert_int_eq(h_send(f.cfd, "\x1b[2Jcls \xff\xfe end\n"), 0);
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_stream_eof(&f.p, 1, T_MS), 0);
	ck_assert_str_eq(f.p.out, "\\x1b[2Jcls \\xff\\xfe end\n");
	ck_assert_ptr_null(memchr(f.p.out, 0x1b, f.p.out_len));
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_terminal_controls_are_escaped_on_a_tty)
{
	struct fixture f;
	size_t from = 0;

	ck_assert_int_eq(fx_start(&f, PTY, no_hist), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_send(f.cfd, "\x1b]0;pwned\x07 ok\n"), 0);
	ck_assert_int_eq(
	    h_wait_output(&f.p, 1, "\\x1b]0;pwned\\x07 ok\r\n", &from, T_MS),
	    0);
	ck_assert_ptr_null(strstr(f.p.out, "\x1b]0;"));
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_name_sends_nick_first)
{
	static const char *const opts[] = {"--name", "alice", NULL};
	struct fixture f;
	char line[64];

	ck_assert_int_eq(fx_start(&f, PIPES, opts), 0);
	ck_assert_int_gt(h_read_line(f.cfd, line, sizeof(line), T_MS), 0);
	ck_assert_str_eq(line, "/nick alice");
	h_close_stdin(&f.p);
	expect_exit_then_fin(&f);
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

/* ---- connecting and usage ---- */

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_refused_connection_exits_1_with_one_line)
{
	struct h_proc p;
	char port[8], want[64];
	const char *args[] = {"127.0.0.1", port, NULL};
	int port_n, fd;

	/* A port nobody listens on: bound, then closed. */
	fd = listen_any("127.0.0.1", AF_INET, &port_n);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(port, sizeof(port), "%d", port_n);
	ck_assert_int_eq(h_client_start(&p, PIPES, args), 0);
	snprintf(want, sizeof(want),
	         "tcpchat: connect 127.0.0.1:%d: Connection refused\n", port_n);
	ck_assert_int_eq(h_wait_stream_eof(&p, 2, T_MS), 0);
	ck_assert_str_eq(p.err, want);
	ck_assert_int_eq(h_wait_exit(&p, T_MS), 1);
}
END_TEST

START_TEST(test_history_with_no_history_is_usage_error)
{
	struct h_proc p;
	const char *args[] = {"--history", "/tmp/x", "--no-history",
	                      "127.0.0.1", NULL};

	ck_assert_int_eq(h_client_start(&p, PIPES, args), 0);
	ck_assert_int_eq(h_wait_stream_eof(&p, 2, T_MS), 0);
	ck_assert_msg(strncmp(p.err, "tcpchat: ", 9) == 0 &&
	                  count_lines(p.err) == 1,
	              "not one error line: %s", p.err);
	ck_assert_int_eq(h_wait_exit(&p, T_MS), 2);
}
END_TEST

START_TEST(test_invalid_name_is_usage_error)
{
	struct h_proc p;
	const char *args[] = {"--name", "no spaces", "127.0.0.1", NULL};

	ck_assert_int_eq(h_client_start(&p, PIPES, args), 0);
	ck_assert_int_eq(h_wait_exit(&p, T_MS), 2);
}
END_TEST

START_TEST(test_connects_over_ipv6)
{
	static const char *const opts[] = {"-6", NULL};
	struct fixture f;

	ck_assert_int_eq(fx_start_on(&f, PIPES, "::1", AF_INET6, opts), 0);
	ck_assert_int_eq(h_write(&f.p, "v6\n"), 0);
	ck_assert_int_eq(h_expect_line(f.cfd, "v6", T_MS), 0);
	ck_assert_ptr_nonnull(strstr(f.p.err, "connected to [::1]:"));
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

START_TEST(test_connects_to_a_host_name)
{
	static const char *const opts[] = {"-4", NULL};
	struct fixture f;

	ck_assert_int_eq(fx_start_on(&f, PIPES, "localhost", AF_INET, opts), 0);
	ck_assert_ptr_nonnull(strstr(f.p.err, "connected to 127.0.0.1:"));
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

/* ---- history (TTY) ---- */

static void
tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%d-%s", tmp_root, (int)getpid(), name);
}

/* One session: types each line, then Ctrl-D; the server checks them. */
static void
type_session(const char *const *opts, const char *const *lines)
{
	struct fixture f;
	size_t from = 0;
	char buf[256];

	ck_assert_int_eq(fx_start(&f, PTY, opts), 0);
	wait_prompt(&f, &from);
	for (size_t i = 0; lines[i] != NULL; i++) {
		snprintf(buf, sizeof(buf), "%s\r", lines[i]);
		ck_assert_int_eq(h_write(&f.p, buf), 0);
		ck_assert_int_eq(h_expect_line(f.cfd, lines[i], T_MS), 0);
	}
	ck_assert_int_eq(h_write(&f.p, "\x04"), 0);
	expect_exit_then_fin(&f);
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}

static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

START_TEST(test_history_file_is_private_and_recalled_by_up_arrow)
{
	static const char *const lines[] = {"first line", "second", NULL};
	char path[256];
	const char *opts[] = {"--history", path, NULL};
	struct fixture f;
	struct stat st;
	size_t from = 0;
	char *text;

	tmp_path(path, sizeof(path), "history");
	type_session(opts, lines);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	text = slurp(path);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "first line\n"));
	ck_assert_ptr_nonnull(strstr(text, "second\n"));

	ck_assert_int_eq(fx_start(&f, PTY, opts), 0);
	wait_prompt(&f, &from);
	ck_assert_int_eq(h_write(&f.p, "\x1b[A\x1b[A"), 0);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "first line", &from, T_MS), 0);
	ck_assert_int_eq(h_write(&f.p, "\r"), 0);
	ck_assert_int_eq(h_expect_line(f.cfd, "first line", T_MS), 0);
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
}
END_TEST

/* History holds what was sent, each line once in a row: a repeat, the
 * "exit" and a pasted line after it that was never sent are not in it. */
START_TEST(test_history_holds_each_line_sent_and_never_exit)
{
	static const char *const typed[] = {"one", "one", "two", NULL};
	char path[256], line[64];
	const char *opts[] = {"--history", path, NULL};
	struct fixture f;
	size_t from = 0;
	char *text;

	tmp_path(path, sizeof(path), "history-sent");
	ck_assert_int_eq(fx_start(&f, PTY, opts), 0);
	wait_prompt(&f, &from);
	for (size_t i = 0; typed[i] != NULL; i++) {
		ck_assert_int_eq(h_write(&f.p, h_fmt("%s\r", typed[i])), 0);
		H_EXPECT_NEXT(f.cfd, typed[i]);
	}
	ck_assert_int_eq(
	    h_write(&f.p, "\x1b[200~three\rexit\rfour\r\x1b[201~\r"), 0);
	H_EXPECT_NEXT(f.cfd, "three");
	H_EXPECT_NEXT(f.cfd, "exit");
	ck_assert_int_eq(h_read_line(f.cfd, line, sizeof(line), T_MS), -2);
	h_close(f.cfd);
	f.cfd = -1;
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	fx_release(&f);
	text = slurp(path);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "one\ntwo\nthree\n");
}
END_TEST

START_TEST(test_default_history_goes_under_xdg_state_home)
{
	static const char *const lines[] = {"remember me", NULL};
	char state[256], dir[300], file[320];
	struct stat st;
	char *text;

	tmp_path(state, sizeof(state), "state");
	snprintf(dir, sizeof(dir), "%s/tcpchat", state);
	snprintf(file, sizeof(file), "%s/history", dir);
	setenv("XDG_STATE_HOME", state, 1);
	type_session(NULL, lines);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	text = slurp(file);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "remember me\n"));
}
END_TEST

START_TEST(test_no_history_writes_nothing)
{
	static const char *const lines[] = {"forget me", NULL};
	char state[256], dir[300];
	struct stat st;

	tmp_path(state, sizeof(state), "nostate");
	snprintf(dir, sizeof(dir), "%s/tcpchat", state);
	setenv("XDG_STATE_HOME", state, 1);
	type_session(no_hist, lines);
	ck_assert_int_eq(stat(dir, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* ---- interop with other line programs ---- */

/* Runs a listener whose argv has "%d" for the port in some argument and
 * which writes `ready` on stderr once it listens; a line goes each way,
 * then both ends close and the client exits 0. */
static void
chat_with_listener(const char *const *argv_fmt, const char *ready)
{
	struct h_proc nc, cl;
	char port[8], expanded[8][64];
	const char *argv[8], *args[] = {"127.0.0.1", port, NULL};
	size_t n;
	int port_n, fd;

	fd = listen_any("127.0.0.1", AF_INET, &port_n);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(port, sizeof(port), "%d", port_n);
	for (n = 0; argv_fmt[n] != NULL && n < 7; n++) {
		const char *at = strstr(argv_fmt[n], "%d");

		if (at == NULL)
			snprintf(expanded[n], sizeof(expanded[n]), "%s",
			         argv_fmt[n]);
		else
			snprintf(expanded[n], sizeof(expanded[n]), "%.*s%s%s",
			         (int)(at - argv_fmt[n]), argv_fmt[n], port,
			         at + 2);
		argv[n] = expanded[n];
	}
	argv[n] = NULL;
	ck_assert_int_eq(h_spawn(&nc, argv), 0);
	ck_assert_int_eq(h_wait_output(&nc, 2, ready, &(size_t){0}, T_MS), 0);
	ck_assert_int_eq(h_client_start(&cl, PIPES, args), 0);
	ck_assert_int_eq(h_write(&cl, "hello listener\n"), 0);
	ck_assert_int_eq(
	    h_wait_output(&nc, 1, "hello listener\n", &(size_t){0}, T_MS), 0);
	ck_assert_int_eq(h_write(&nc, "hello client\n"), 0);
	ck_assert_int_eq(
	    h_wait_output(&cl, 1, "hello client\n", &(size_t){0}, T_MS), 0);
	h_close_stdin(&cl);
	h_close_stdin(&nc);
	ck_assert_int_eq(h_wait_exit(&cl, T_MS), 0);
	h_kill(&nc, SIGTERM);
	h_wait_exit(&nc, T_MS);
}

START_TEST(test_talks_to_openbsd_nc)
{
	static const char *const argv[] = {"nc",        "-v", "-l",
	                                   "127.0.0.1", "%d", NULL};

	chat_with_listener(argv, "Listening on");
}
END_TEST

START_TEST(test_talks_to_ncat)
{
	static const char *const argv[] = {"ncat",      "-v", "-l",
	                                   "127.0.0.1", "%d", NULL};

	chat_with_listener(argv, "Listening on");
}
END_TEST

START_TEST(test_talks_to_socat)
{
	static const char *const argv[] = {
	    "socat", "-d", "-d", "TCP-LISTEN:%d,bind=127.0.0.1", "STDIO", NULL};

	chat_with_listener(argv, "listening on");
}
END_TEST

/* ---- against tcpchatd ---- */

START_TEST(test_chat_through_tcpchatd_while_typing)
{
	static const char *const sargs[] = {"--name", "srv", NULL};
	struct h_proc srv, cl;
	char port[8];
	const char *args[] = {"--no-history", "--name", "ann",
	                      "127.0.0.1",    port,     NULL};
	size_t from = 0;
	int raw;

	ck_assert_int_eq(h_server_start(&srv, sargs), 0);
	snprintf(port, sizeof(port), "%d", srv.port);
	ck_assert_int_eq(h_client_start(&cl, PTY, args), 0);
	ck_assert_int_eq(h_wait_output(&cl, 1, "> ", &from, T_MS), 0);
	raw = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(raw, 0);
	ck_assert_int_eq(h_send(raw, "/nick bob\n"), 0);
	ck_assert_int_eq(h_write(&cl, "hi b"), 0);
	ck_assert_int_eq(h_wait_output(&cl, 1, "hi b", &from, T_MS), 0);
	ck_assert_int_eq(h_send(raw, "hello ann\n"), 0);
	ck_assert_int_eq(
	    h_wait_output(&cl, 1, "bob: hello ann\r\n", &from, T_MS), 0);
	ck_assert_int_eq(h_wait_output(&cl, 1, "> hi b", &from, T_MS), 0);
	ck_assert_int_eq(h_write(&cl, "ob\r"), 0);
	ck_assert_int_eq(h_expect_line(raw, "ann: hi bob", T_MS), 0);
	ck_assert_int_eq(h_write(&cl, "exit\r"), 0);
	ck_assert_int_eq(h_wait_exit(&cl, T_MS), 0);
	ck_assert_int_eq(h_expect_line(raw, "* ann left", T_MS), 0);
	h_close(raw);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&srv, T_MS), 0);
}
END_TEST

/* The pty tests drive readline (prompt, editing, history): a build
 * without it (meson -Dreadline=disabled) leaves them out. */
static void
add_tty_loop_test(TCase *tc, const TTest *t, int n_loops)
{
	static bool told;
	const char *rl = getenv("TC_HAVE_READLINE");

	if (rl == NULL || strcmp(rl, "0") != 0) {
		tcase_add_loop_test(tc, t, 0, n_loops);
		return;
	}
	if (!told)
		fprintf(stderr, "skipped: tcpchat has no readline, no pty "
		                "tests\n");
	told = true;
}

static void
add_tty_test(TCase *tc, const TTest *t)
{
	add_tty_loop_test(tc, t, 1);
}

static Suite *
client_suite(void)
{
	Suite *s = suite_create("e2e_client");
	TCase *tc;

	tc = tcase_create("typing");
	add_tty_test(tc, test_incoming_line_appears_above_half_typed_text);
	add_tty_test(tc, test_cursor_position_is_kept_when_a_line_arrives);
	add_tty_test(tc, test_ctrl_c_clears_the_half_typed_line);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("half_close");
	add_tty_test(tc, test_typed_exit_half_closes_and_keeps_printing);
	add_tty_test(tc, test_ctrl_d_half_closes_and_keeps_printing);
	add_tty_test(tc, test_sigterm_half_closes);
	add_tty_test(tc, test_ctrl_c_while_waiting_for_the_fin_stops_waiting);
	add_tty_test(tc,
	             test_keys_typed_while_waiting_are_not_left_for_the_shell);
	tcase_add_test(tc, test_piped_input_is_sent_then_half_closed);
	tcase_add_test(tc, test_end_of_piped_input_sends_exit_and_fin);
	tcase_add_test(tc, test_sigint_half_closes_piped_client);
	tcase_add_test(tc,
	               test_sigquit_gives_up_a_send_the_server_does_not_read);
	tcase_add_loop_test(tc, test_second_signal_ends_a_client_stuck_sending,
	                    0, 2);
	tcase_add_test(tc, test_signal_during_a_slow_send_half_closes_after_it);
	tcase_add_test(tc, test_trace_shows_each_step_of_the_close);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("paste");
	add_tty_loop_test(tc, test_pasted_lines_go_one_by_one_and_stop_at_exit,
	                  3);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("server_ends");
	tcase_add_test(tc, test_server_closing_first_exits_0_with_a_notice);
	add_tty_test(tc, test_server_closing_first_restores_tty_and_exits_0);
	tcase_add_test(tc, test_reset_by_the_server_exits_3);
	tcase_add_test(tc, test_reset_shows_the_line_that_arrived_before_it);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_test(tc, test_terminal_controls_from_the_server_are_escaped);
	add_tty_test(tc, test_terminal_controls_are_escaped_on_a_tty);
	tcase_add_test(tc, test_name_sends_nick_first);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("connect_and_usage");
	tcase_add_test(tc, test_refused_connection_exits_1_with_one_line);
	tcase_add_test(tc, test_history_with_no_history_is_usage_error);
	tcase_add_test(tc, test_invalid_name_is_usage_error);
	if (h_have_ipv6())
		tcase_add_test(tc, test_connects_over_ipv6);
	else
		fprintf(stderr, "skipped: no ::1, no IPv6 test\n");
	tcase_add_test(tc, test_connects_to_a_host_name);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("history");
	add_tty_test(tc, test_history_file_is_private_and_recalled_by_up_arrow);
	add_tty_test(tc, test_history_holds_each_line_sent_and_never_exit);
	add_tty_test(tc, test_default_history_goes_under_xdg_state_home);
	add_tty_test(tc, test_no_history_writes_nothing);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("interop");
	/* Check counts a test's exit(77) as an error: leave out instead. */
	if (h_have_program("nc"))
		tcase_add_test(tc, test_talks_to_openbsd_nc);
	else
		fprintf(stderr, "skipped: no nc on PATH\n");
	if (h_have_program("ncat"))
		tcase_add_test(tc, test_talks_to_ncat);
	else
		fprintf(stderr, "skipped: no ncat on PATH\n");
	if (h_have_program("socat"))
		tcase_add_test(tc, test_talks_to_socat);
	else
		fprintf(stderr, "skipped: no socat on PATH\n");
	add_tty_test(tc, test_chat_through_tcpchatd_while_typing);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* After the suite: the scratch directory goes, with all in it. */
static void
remove_tmp_root(void)
{
	nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

Suite *
tc_test_suite(void)
{
	char state[300];

	if (mkdtemp(tmp_root) == NULL) {
		fprintf(stderr, "e2e_client: mkdtemp %s: %s\n", tmp_root,
		        strerror(errno));
		exit(1);
	}
	tc_test_after_run(remove_tmp_root);
	/* No test may touch the real ~/.local/state/tcpchat/history. */
	snprintf(state, sizeof(state), "%s/default-state", tmp_root);
	setenv("XDG_STATE_HOME", state, 1);
	return client_suite();
}
