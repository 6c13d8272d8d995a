/* tcpchatd: the chat server's main. Parses options, listens, and runs the
 * accept loop, which hands every connection to a session; turns SIGINT,
 * SIGTERM, SIGHUP and the console's /quit into the graceful shutdown of
 * SPEC section 3. The only server code that decides the exit status. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpchat/clock.h"
#include "tcpchat/console.h"
#include "tcpchat/net.h"
#include "tcpchat/operator.h"
#include "tcpchat/options.h"
#include "tcpchat/proto.h"
#include "tcpchat/session.h"
#include "tcpchat/trace.h"

#define LISTEN_BACKLOG 65535 /* the kernel caps it at somaxconn */
#define DRAIN_NS (5 * 1000000000LL)
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define SWEEP_MS 1000           /* how often stuck closes are looked for */
#define STUCK_NS (2 * DRAIN_NS) /* closing longer than linger + this */
#define CONSOLE_MAX_PENDING (1024 * 1024) /* console output queued, bytes */
/* A parked session thread idle this long leaves: a burst of connections
 * does not keep its threads for the server's life. */
#define THREAD_IDLE_NS (30 * 1000000000LL)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SESSION_STACK (512 * 1024) /* sanitizers need far bigger frames */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SESSION_STACK (512 * 1024)
#endif
#endif
#ifndef SESSION_STACK
#define SESSION_STACK (64 * 1024) /* 10,000 connections: 20,000 stacks */
#endif

/* The accept loop's wake-ups: signals, and /quit from the console. */
struct server_events {
	int signal_fd;  /* SIGINT, SIGTERM, SIGHUP: shut down */
	int quit_fd;    /* eventfd the console thread writes on /quit */
	int console_fd; /* SIGWINCH, SIGTSTP: the console thread's */
};

static struct tc_room room;
static struct server_events events;

static void
trace_to_console(const char *line)
{
	tc_console_printf(stderr, "%s", line);
}

static void
console_line(void *ctx, const char *line, size_t len)
{
	uint64_t one = 1;

	if (tc_operator_line(&room, line, len) == TC_OPERATOR_QUIT)
		(void)write(events.quit_fd, &one, sizeof(one));
}

/* Window size and Ctrl-Z, read on the console thread (readline's own
 * signal handlers are off: only that thread may touch readline). */
static void
console_signal(void *ctx)
{
	struct signalfd_siginfo si;

	if (read(events.console_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH)
		tc_console_resize();
	else if (si.ssi_signo == SIGTSTP)
		tc_console_suspend();
}

static void
console_eof(void *ctx)
{
	/* End of stdin ends the console's input, not the server (SPEC
	 * section 3), nor its output: the console thread goes on printing
	 * until shutdown, so that no session thread writes to stdout. */
	tc_console_input_off();
}

static void *
console_main(void *arg)
{
	if (tc_console_run() == -1)
		tc_console_printf(stderr, "tcpchatd: console: %s",
		                  strerror(errno));
	return NULL;
}

/* Raise the soft limit on descriptors to the hard one: one per client. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			fprintf(stderr, "tcpchatd: setrlimit NOFILE: %s\n",
			        strerror(errno));
	}
}

/* Blocks set in this thread (and those it starts): 0, or -1 with errno,
 * which pthread_sigmask() returns instead of setting. */
static int
block_signals(const sigset_t *set)
{
	int rc = pthread_sigmask(SIG_BLOCK, set, NULL);

	errno = rc;
	return rc == 0 ? 0 : -1;
}

/* Signals become events of the accept loop; none interrupts a thread. */
static int
setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Ctrl-\ too: a core dump would leave the console's tty raw. */
	sigaddset(&set, SIGQUIT);
	if (block_signals(&set) == -1)
		return -1;
	events.signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (events.signal_fd == -1)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGTSTP);
	if (block_signals(&set) == -1)
		return -1;
	events.console_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (events.console_fd == -1)
		return -1;
	events.quit_fd = eventfd(0, EFD_CLOEXEC);
	return events.quit_fd == -1 ? -1 : 0;
}

static void
usage_error(const char *why)
{
	fprintf(stderr, "tcpchatd: %s (see tcpchatd -h)\n", why);
	exit(2);
}

static void
parse_options(int argc, char **argv, struct tc_server_opts *o)
{
	char err[TC_ERR_MAX];

	switch (tc_server_opts_parse(argc, argv, o, err, sizeof(err))) {
	case TC_OPTS_HELP:
		fputs(tc_server_usage, stdout);
		exit(0);
	case TC_OPTS_VERSION:
		printf("tcpchatd %s\n", TC_VERSION);
		exit(0);
	case TC_OPTS_USAGE:
		usage_error(err);
		break;
	case TC_OPTS_RUN:
		break;
	}
	if (!tc_proto_nick_valid(o->name, strlen(o->name)))
		usage_error("--name: 1-32 of A-Za-z0-9._- expected");
}

static void
setup_server(const struct tc_server_opts *o)
{
	room.name = o->name;
	room.max_line = o->max_line;
	room.max_queue = o->max_queue;
	room.linger_ns = (int64_t)o->linger_s * 1000000000LL;
	room.drain_ns = DRAIN_NS;
	room.quiet = o->quiet;
	room.verbose = o->verbose;
	room.tab = tc_conntab_new(o->max_clients);
	if (room.tab == NULL || tc_room_init(&room) == -1) {
		fprintf(stderr, "tcpchatd: state table: %s\n", strerror(errno));
		exit(1);
	}
	room.pool = tc_pool_new(o->thread_cache, SESSION_STACK, THREAD_IDLE_NS);
	if (room.pool == NULL) {
		fprintf(stderr, "tcpchatd: thread cache: %s\n",
		        strerror(errno));
		exit(1);
	}
	tc_conntab_reserve_name(room.tab, o->name);
}

/* `tcpchatd &` from a shell: reading the terminal would stop the whole
 * server with SIGTTIN, so a background server has no console. */
static bool
in_background(void)
{
	pid_t fg = tcgetpgrp(STDIN_FILENO);

	return fg != -1 && fg != getpgrp();
}

/* Starts the console thread. Returns 1; 0 when it only prints (in the
 * background: no reading the terminal, no readline); -1 with errno. */
static int
start_console(pthread_t *tid)
{
	bool background = in_background();
	struct tc_console_opts co = {
	    .prompt = "",
	    .use_history = true,
	    .interactive =
	        !background && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO),
	    .on_line = console_line,
	    .on_eof = console_eof,
	    .extra_fd = events.console_fd,
	    .on_extra = console_signal,
	    /* A stalled stdout (a pipe nobody reads, Ctrl-S) must not stall
	     * the sessions that print chat lines: past this, lines are
	     * dropped and counted. */
	    .max_pending = CONSOLE_MAX_PENDING,
	};
	int rc;

	if (tc_console_init(&co) == -1)
		return -1;
	if (background)
		tc_console_input_off(); /* before the thread: no race */
	rc = pthread_create(tid, NULL, console_main, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return background ? 0 : 1;
}

/* Joins the console thread, for at most DRAIN_NS: false when it is still
 * stuck writing to a stdout that nobody reads. */
static bool
join_console(pthread_t tid)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += DRAIN_NS / 1000000000;
	return pthread_timedjoin_np(tid, NULL, &deadline) == 0;
}

/* Accepts one connection. Returns 0, or -1 when descriptors or memory ran
 * short and the loop should back off. */
static int
accept_one(int lfd)
{
	int fd, one = 1;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd == -1) {
		switch (errno) {
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			return -1;
		default: /* EAGAIN, ECONNABORTED, EINTR, EPROTO... */
			return 0;
		}
	}
	/* Chat lines are small and latency matters; writev batches them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A refusal is told to the peer and logged by the session. */
	(void)tc_session_start(&room, fd);
	return 0;
}

/* A connection that stays closing (kicked, or half-closed past its
 * --linger) more than STUCK_NS has a peer that stopped reading: its writer
 * is stuck in send(). Cut it, at most once a SWEEP_MS. */
static void
sweep_stuck_closes(void)
{
	static int64_t next_ns;
	int64_t now = tc_clock_now_ns();
	size_t cut;

	if (now < next_ns)
		return;
	next_ns = now + SWEEP_MS * 1000000LL;
	cut = tc_conntab_abort_stale(room.tab, now - room.linger_ns - STUCK_NS);
	if (cut > 0)
		tc_console_printf(stderr,
		                  "tcpchatd: cut %zu connection%s whose peer "
		                  "stopped reading while closing",
		                  cut, cut == 1 ? "" : "s");
}

/* Runs until a signal or /quit. Shortage of descriptors or memory is
 * logged once per episode and backed off, never spun on. */
static void
accept_loop(int lfd)
{
	struct pollfd pfd[3] = {
	    {.fd = events.signal_fd, .events = POLLIN},
	    {.fd = events.quit_fd, .events = POLLIN},
	    {.fd = lfd, .events = POLLIN},
	};
	int backoff_ms = 0, n;

	for (;;) {
		/* While backing off, leave the listening socket unpolled. */
		n = poll(pfd, backoff_ms ? 2 : 3,
		         backoff_ms ? backoff_ms : SWEEP_MS);
		sweep_stuck_closes();
		if (n == -1) {
			if (errno == EINTR)
				continue;
			tc_console_printf(stderr, "tcpchatd: poll: %s",
			                  strerror(errno));
			return;
		}
		if (pfd[0].revents || pfd[1].revents)
			return;
		if (n == 0 && backoff_ms == 0)
			continue; /* only the sweep's tick */
		/* The listening socket is readable, or the back-off is over. */
		if (accept_one(lfd) == 0) {
			if (backoff_ms)
				tc_console_printf(stderr,
				                  "tcpchatd: accepting again");
			backoff_ms = 0;
		} else if (backoff_ms == 0) {
			tc_console_printf(stderr,
			                  "tcpchatd: accept: %s; backing off",
			                  strerror(errno));
			backoff_ms = BACKOFF_MIN_MS;
		} else if (backoff_ms < BACKOFF_MAX_MS) {
			backoff_ms *= 2;
		}
	}
}

/* SPEC section 3: the notice behind what each client has queued, flush,
 * FIN, at most 5 s for the clients' FIN, then whatever is left is cut. */
static size_t
shut_down(void)
{
	struct tc_msg *bye = tc_proto_notice("server shutting down");
	int64_t deadline = tc_clock_now_ns() + DRAIN_NS + DRAIN_NS / 5;

	tc_conntab_close(room.tab, 0, bye);
	tc_msg_unref(bye);
	if (tc_room_wait_empty(&room, deadline) == 0)
		return 0;
	tc_conntab_abort_all(room.tab);
	return tc_room_wait_empty(&room, tc_clock_now_ns() + DRAIN_NS);
}

/* Listens where the options say, non-blocking; exits 1 when it cannot. */
static int
listen_or_exit(const struct tc_server_opts *o, char bound[TC_ADDR_STR_MAX])
{
	char err[TC_ERR_MAX];
	int lfd;

	lfd = tc_net_listen(o->addr, o->port, LISTEN_BACKLOG, bound, err,
	                    sizeof(err));
	if (lfd == -1) {
		fprintf(stderr, "tcpchatd: %s\n", err);
		exit(1);
	}
	/* Non-blocking: after a back-off, accept() is tried without poll(),
	 * and must never block the loop that also serves signals. */
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	return lfd;
}

/* After the accept loop: the graceful shutdown, then the console, then
 * the table. Returns the exit status. */
static int
finish(pthread_t console_tid)
{
	size_t stuck;

	tc_console_printf(stderr, "tcpchatd: shutting down");
	stuck = shut_down();
	tc_console_stop();
	if (!join_console(console_tid))
		_exit(0); /* what the console holds can never be written */
	tc_console_fini();
	if (stuck > 0) {
		/* Their threads still hold the table and the pool: leave
		 * them to exit(). */
		fprintf(stderr, "tcpchatd: %zu connections did not close\n",
		        stuck);
		return 0;
	}
	/* Every session has ended: its threads park or are leaving. */
	tc_pool_free(room.pool);
	tc_conntab_free(room.tab);
	tc_room_fini(&room);
	close(events.signal_fd);
	close(events.quit_fd);
	close(events.console_fd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct tc_server_opts opts;
	char bound[TC_ADDR_STR_MAX];
	pthread_t console_tid;
	int console_on, lfd;

	parse_options(argc, argv, &opts);
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_fd_limit();
	if (setup_signals() == -1) {
		fprintf(stderr, "tcpchatd: signals: %s\n", strerror(errno));
		return 1;
	}
	lfd = listen_or_exit(&opts, bound);
	setup_server(&opts);
	tc_trace_setup(opts.trace, trace_to_console);
	console_on = start_console(&console_tid);
	if (console_on == -1) {
		fprintf(stderr, "tcpchatd: console: %s\n", strerror(errno));
		return 1;
	}
	/* Last, so that whoever waits for this line finds us ready. */
	tc_console_printf(stderr, "tcpchatd: listening on %s", bound);
	if (console_on == 0)
		tc_console_printf(stderr,
		                  "tcpchatd: console input off: running "
		                  "in the background");
	accept_loop(lfd);
	close(lfd); /* stop accepting before anything else */
	return finish(console_tid);
}
