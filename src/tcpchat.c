/* tcpchat: the client's main (SPEC sections 4 and 5).
 *
 * Connects, then runs two threads: the reader receives, frames, escapes and
 * prints; the main thread is the console and writer thread: it sends what
 * is typed, runs the half-close, handles signals through a signalfd, and
 * alone closes the socket, after joining the reader. Decides exit status. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <locale.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tcpchat/console.h"
#include "tcpchat/linebuf.h"
#include "tcpchat/net.h"
#include "tcpchat/options.h"
#include "tcpchat/proto.h"
#include "tcpchat/sanitize.h"
#include "tcpchat/trace.h"

#define EXIT_CONNECT 1
#define EXIT_USAGE 2
#define EXIT_LOST 3

/* Incoming messages: the server's "NAME: TEXT" lines may be longer than
 * --max-line once escaped; split only what no line of it can reach. */
#define READ_MAX_LINE (64 * 1024)
#define PATH_LEN 4096

struct client {
	int fd;
	int sig_fd;
	bool tty;
	/* Read-only while the reader runs; main clears .fd after close(). */
	struct tc_trace_conn tr;
	/* Console thread only. */
	bool half_closed; /* "exit" sent or tried, input off */
	int write_err;    /* first send error; 0: none */
	int abort_sig;    /* the signal that ended the wait; 0: none */
	int held_sig;     /* came while a send waited for room; 0: none */
	bool gave_up;     /* a send was given up: nothing more is sent */
	/* Set by the reader; main reads them after pthread_join(). */
	int read_err; /* 0: the server's FIN; else errno */
	atomic_bool reader_done;
	/* Set by main before it shuts the socket to wake the reader, so
	 * that the reader does not take that EOF for the server's FIN. */
	atomic_bool closing;
};

static void
trace_sink(const char *line)
{
	tc_console_printf(stderr, "%s", line);
}

/* The reader's output: each message escaped (SPEC section 2). */
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

/* Returns 0 at the server's FIN, else the errno that ended the reading. */
static int
receive_all(struct client *c, struct tc_linebuf *lb, char *scratch)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			if (tc_linebuf_feed(lb, buf, (size_t)n) == -1)
				return errno;
			print_messages(lb, false, scratch);
		} else if (n == 0) {
			print_messages(lb, true, scratch);
			if (!atomic_load(&c->closing))
				tc_trace(&c->tr, "received FIN (EOF)");
			return 0;
		} else if (errno != EINTR) {
			return errno;
		}
	}
}

/* Only recv()s: the socket's output and its close belong to main. */
static void *
reader_main(void *arg)
{
	struct client *c = arg;
	struct tc_linebuf lb;
	char *scratch;

	scratch = malloc(TC_SANITIZE_BOUND(READ_MAX_LINE));
	tc_linebuf_init(&lb, READ_MAX_LINE);
	c->read_err = scratch == NULL ? ENOMEM : receive_all(c, &lb, scratch);
	tc_linebuf_fini(&lb);
	free(scratch);
	atomic_store(&c->reader_done, true);
	tc_console_stop();
	return NULL;
}

/* First error wins; the console stops and main reports it. */
static void
write_failed(struct client *c, int err)
{
	if (c->write_err == 0)
		c->write_err = err;
	tc_console_stop();
}

static void handle_signal(struct client *c, int sig);

/* Signals that arrive while a send waits for the server to read:
 * resizing and Ctrl-Z as ever; the first that would end or interrupt is
 * held until the line is out (the server may just be slow), with a hint;
 * a second one, or SIGQUIT, gives the send up: the client then ends with
 * 128 + the signal and resets the connection. True when given up. */
static bool
gives_up_send(struct client *c, size_t unsent)
{
	struct signalfd_siginfo si;
	int sig, queued = 0;

	while (read(c->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		sig = (int)si.ssi_signo;
		if (sig == SIGWINCH || sig == SIGTSTP) {
			handle_signal(c, sig);
			continue;
		}
		if (c->held_sig == 0 && sig != SIGQUIT) {
			c->held_sig = sig;
			tc_console_printf(
			    stderr,
			    "tcpchat: the server is not reading; "
			    "%s%s again gives up",
			    sig == SIGINT && c->tty ? "Ctrl-" : "SIG",
			    sig == SIGINT && c->tty ? "C" : sigabbrev_np(sig));
			continue;
		}
		/* Its send queue goes with the reset: count it as not sent. */
		if (ioctl(c->fd, SIOCOUTQ, &queued) == -1 || queued < 0)
			queued = 0;
		tc_console_printf(stderr,
		                  "tcpchat: gave up sending, the server reads "
		                  "nothing: %zu bytes not sent (%s)",
		                  unsent + (size_t)queued, strsignal(sig));
		c->abort_sig = sig;
		c->gave_up = true;
		tc_console_stop();
		return true;
	}
	return false;
}

static int
send_line(struct client *c, const char *line, size_t len)
{
	struct iovec iov[2] = {
	    {.iov_base = (void *)line, .iov_len = len},
	    {.iov_base = "\n", .iov_len = 1},
	};
	int sig;

	if (c->gave_up)
		return -1;
	while (tc_net_writev_until(c->fd, iov, 2, c->sig_fd) == -1) {
		if (errno != ECANCELED) {
			write_failed(c, errno);
			return -1;
		}
		if (gives_up_send(c, iov[0].iov_len + iov[1].iov_len))
			return -1;
	}
	if (c->held_sig != 0) {
		/* The line is out: now what the signal asked for. */
		sig = c->held_sig;
		c->held_sig = 0;
		handle_signal(c, sig);
	}
	return 0;
}

/* SPEC section 4 step 1: "exit", then SHUT_WR, never close: the server
 * may still send, and the reader goes on printing until its FIN. */
static void
start_half_close(struct client *c)
{
	if (c->half_closed)
		return;
	c->half_closed = true;
	tc_console_input_off();
	if (send_line(c, "exit", 4) == -1)
		return;
	tc_trace(&c->tr, "sent exit");
	if (shutdown(c->fd, SHUT_WR) == -1) {
		write_failed(c, errno);
		return;
	}
	tc_trace(&c->tr, "shutdown(SHUT_WR)");
}

static void
on_line(void *ctx, const char *line, size_t len)
{
	struct client *c = ctx;

	if (c->half_closed)
		return;
	if (len == 4 && memcmp(line, "exit", 4) == 0)
		start_half_close(c);
	else
		send_line(c, line, len);
}

static void
on_eof(void *ctx)
{
	start_half_close(ctx);
}

/* A second interrupt (or SIGQUIT) while waiting for the server's FIN:
 * stop waiting; main closes at once. */
static void
abort_wait(struct client *c, int sig)
{
	c->abort_sig = sig;
	tc_console_stop();
}

static void
handle_signal(struct client *c, int sig)
{
	switch (sig) {
	case SIGWINCH:
		tc_console_resize();
		break;
	case SIGTSTP:
		tc_console_suspend();
		break;
	case SIGINT:
		/* At a prompt Ctrl-C clears the line, as in a shell; piped,
		 * there is no line, so it ends the input. */
		if (c->half_closed)
			abort_wait(c, sig);
		else if (c->tty)
			tc_console_cancel_line();
		else
			start_half_close(c);
		break;
	case SIGTERM:
	case SIGHUP:
		if (c->half_closed)
			abort_wait(c, sig);
		else
			start_half_close(c);
		break;
	default:
		abort_wait(c, sig);
		break;
	}
}

static void
on_signals(void *ctx)
{
	struct client *c = ctx;
	struct signalfd_siginfo si;

	while (read(c->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		handle_signal(c, (int)si.ssi_signo);
}

/* Signals become console events: blocked in every thread (the reader
 * inherits the mask), read from a signalfd by the console thread. */
static int
setup_signals(struct client *c)
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

/* mkdir -p with mode 0700 for what it creates. 0, or -1 with errno. */
static int
make_dirs(char *path)
{
	char *p, saved;

	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		saved = *p;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			*p = saved;
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

/* $XDG_STATE_HOME/tcpchat/history, else ~/.local/state/tcpchat/history,
 * with its directory created. NULL (history in memory only) when there is
 * no home or the directory cannot be made. */
static const char *
default_history(char *buf, size_t len)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	char *slash;
	int n;

	/* The XDG spec says to ignore a relative path. */
	if (state != NULL && state[0] == '/')
		n = snprintf(buf, len, "%s/tcpchat/history", state);
	else {
		if ((home == NULL || home[0] == '\0') &&
		    (pw = getpwuid(getuid())) != NULL)
			home = pw->pw_dir;
		if (home == NULL || home[0] == '\0')
			return NULL;
		n = snprintf(buf, len, "%s/.local/state/tcpchat/history", home);
	}
	if (n < 0 || (size_t)n >= len)
		return NULL;
	slash = strrchr(buf, '/');
	*slash = '\0';
	if (make_dirs(buf) == -1) {
		fprintf(stderr, "tcpchat: history: mkdir %s: %s\n", buf,
		        strerror(errno));
		return NULL;
	}
	*slash = '/';
	return buf;
}

static void
usage_error(const char *why)
{
	fprintf(stderr, "tcpchat: %s (see tcpchat -h)\n", why);
	exit(EXIT_USAGE);
}

static void
parse_options(int argc, char **argv, struct tc_client_opts *o)
{
	char err[TC_ERR_MAX];

	switch (tc_client_opts_parse(argc, argv, o, err, sizeof(err))) {
	case TC_OPTS_HELP:
		fputs(tc_client_usage, stdout);
		exit(0);
	case TC_OPTS_VERSION:
		printf("tcpchat %s\n", TC_VERSION);
		exit(0);
	case TC_OPTS_USAGE:
		usage_error(err);
		break;
	case TC_OPTS_RUN:
		break;
	}
	if (o->name != NULL && !tc_proto_nick_valid(o->name, strlen(o->name)))
		usage_error("--name: 1-32 of A-Za-z0-9._- expected");
}

static void
init_console(struct client *c, const struct tc_client_opts *o)
{
	static char path[PATH_LEN];
	struct tc_console_opts co = {
	    .prompt = "> ",
	    .use_history = !o->no_history,
	    .interactive = c->tty,
	    .on_line = on_line,
	    .on_eof = on_eof,
	    .extra_fd = c->sig_fd,
	    .on_extra = on_signals,
	    .ctx = c,
	};

	if (c->tty && !o->no_history)
		co.history_path = o->history_path != NULL
		                      ? o->history_path
		                      : default_history(path, sizeof(path));
	if (tc_console_init(&co) == -1) {
		fprintf(stderr, "tcpchat: console: %s\n", strerror(errno));
		exit(EXIT_LOST);
	}
}

/* close() then resets the connection and drops what is still queued. */
static void
set_linger_zero(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* After the console has ended: make sure the reader ends too, join it,
 * close (the writer's job, STYLE section 4) and say how it ended. */
static int
finish(struct client *c, pthread_t reader)
{
	if (!atomic_load(&c->reader_done)) {
		/* shutdown, not close: the reader may still be in recv(). A
		 * send given up must not end in a FIN (the server would take
		 * the cut line as a last message): SHUT_RD only, then a reset.
		 */
		atomic_store(&c->closing, true);
		shutdown(c->fd, c->gave_up ? SHUT_RD : SHUT_RDWR);
	}
	pthread_join(reader, NULL);
	if (c->gave_up)
		set_linger_zero(c->fd);
	close(c->fd);
	/* The fd is gone: trace reads the state from the kernel's table. */
	c->tr.fd = -1;
	tc_trace(&c->tr, "close()");
	if (c->abort_sig != 0)
		return 128 + c->abort_sig;
	if (c->read_err != 0 || c->write_err != 0) {
		tc_console_printf(
		    stderr, "tcpchat: connection lost: %s",
		    strerror(c->read_err != 0 ? c->read_err : c->write_err));
		return EXIT_LOST;
	}
	if (!c->half_closed)
		tc_console_printf(stderr,
		                  "tcpchat: connection closed by the server");
	return 0;
}

static int
run_client(struct client *c, const struct tc_client_opts *o)
{
	char addr[TC_ADDR_STR_MAX];
	pthread_t reader;
	int rc;

	tc_console_printf(stderr, "tcpchat: connected to %s",
	                  tc_net_peer_str(c->fd, addr));
	tc_trace(&c->tr, "connected");
	if (o->name != NULL) {
		char nick[TC_NICK_MAX + 8];
		int n = snprintf(nick, sizeof(nick), "/nick %s", o->name);

		send_line(c, nick, (size_t)n);
	}
	rc = pthread_create(&reader, NULL, reader_main, c);
	if (rc != 0) {
		tc_console_printf(stderr, "tcpchat: pthread_create: %s",
		                  strerror(rc));
		close(c->fd);
		return EXIT_LOST;
	}
	if (tc_console_run() == -1 && c->write_err == 0)
		write_failed(c, errno);
	return finish(c, reader);
}

int
main(int argc, char **argv)
{
	struct tc_client_opts o;
	struct client c = {.fd = -1, .sig_fd = -1};
	char err[TC_ERR_MAX];
	int rc;

	/* Readline needs the locale to edit UTF-8; nothing else uses it. */
	setlocale(LC_CTYPE, "");
	parse_options(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	/* Connect before blocking signals: Ctrl-C ends a slow connect. */
	c.fd = tc_net_connect_within(o.host, o.port, o.family,
	                             (int)o.connect_wait_s * 1000, err,
	                             sizeof(err));
	if (c.fd == -1) {
		fprintf(stderr, "tcpchat: %s\n", err);
		return EXIT_CONNECT;
	}
	c.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (setup_signals(&c) == -1) {
		fprintf(stderr, "tcpchat: signals: %s\n", strerror(errno));
		return EXIT_LOST;
	}
	tc_trace_setup(o.trace, trace_sink);
	tc_trace_conn_init(&c.tr, c.fd, 0);
	init_console(&c, &o);
	rc = run_client(&c, &o);
	tc_console_fini();
	close(c.sig_fd);
	return rc;
}
