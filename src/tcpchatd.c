/* tcpchatd: the chat server's main. Parses options, listens, and runs the
 * accept loop, which hands every connection to a session; turns SIGINT,
 * SIGTERM, SIGHUP and the console's /quit into the graceful shutdown
 * (docs/PROTOCOL.md). The only server code that decides the exit status. */
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

#include "tcpchat/cidr.h"
#include "tcpchat/clock.h"
#include "tcpchat/console.h"
#include "tcpchat/net.h"
#include "tcpchat/operator.h"
#include "tcpchat/options.h"
#include "tcpchat/peercount.h"
#include "tcpchat/proto.h"
#include "tcpchat/refuser.h"
#include "tcpchat/session.h"
#include "tcpchat/trace.h"

#define LISTEN_BACKLOG 65535 /* the kernel caps it at somaxconn */
#define DRAIN_NS (5 * 1000000000LL)
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define SWEEP_MS 1000           /* how often stuck closes are looked for */
#define STUCK_NS (2 * DRAIN_NS) /* closing longer than linger + this */
#define CONSOLE_MAX_PENDING (1024 * 1024) /* console output queued, bytes */
#define STALL_NS DRAIN_NS /* shutdown: a client acknowledging nothing, cut */
#define SHUTDOWN_TICK_NS (200 * 1000000LL) /* how often it looks */
/* Ctrl-C on an empty console line asks; another this soon shuts down. */
#define CTRL_C_AGAIN_NS (3 * 1000000000LL)
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
	int console_fd; /* SIGWINCH, SIGTSTP, and SIGINT with readline */
};

static struct tc_room room;
static struct server_events events;
/* Console thread only: when Ctrl-C on an empty line last asked whether
 * to shut down (tc_clock_now_ns), 0 when that question is not open. */
static int64_t ctrl_c_asked_ns;

static void
trace_to_console(const char *line)
{
	tc_console_printf(stderr, "%s", line);
}

/* Wakes the accept loop to shut down, as SIGTERM does. Console thread. */
static void
request_quit(void)
{
	uint64_t one = 1;

	(void)write(events.quit_fd, &one, sizeof(one));
}

static void
console_line(void *ctx, const char *line, size_t len)
{
	ctrl_c_asked_ns = 0; /* a line typed in between: ask again */
	if (tc_operator_line(&room, line, len) == TC_OPERATOR_QUIT)
		request_quit();
}

/* Ctrl-C typed at the console, as in a shell: it clears a half-typed
 * line; on an empty one it says how to leave, and a second one within
 * CTRL_C_AGAIN_NS shuts down. A Ctrl-C that cleared a line is no answer
 * to the question, so it closes it. */
static void
console_ctrl_c(void)
{
	int64_t now = tc_clock_now_ns();

	if (!tc_console_line_is_empty()) {
		tc_console_cancel_line();
		ctrl_c_asked_ns = 0;
		return;
	}
	if (ctrl_c_asked_ns != 0 && now - ctrl_c_asked_ns <= CTRL_C_AGAIN_NS) {
		request_quit();
		return;
	}
	ctrl_c_asked_ns = now;
	tc_console_printf(stderr, "tcpchatd: press Ctrl-C again within 3 s, "
	                          "or type /quit, to shut down");
}

/* Ctrl-D on an empty line: a server's console does not end by a key. */
static void
console_eof_key(void *ctx)
{
	tc_console_printf(stderr, "tcpchatd: Ctrl-D does not shut the server "
	                          "down: type /quit (or Ctrl-C twice)");
}

/* Window size, Ctrl-Z and, with readline, SIGINT, read on the console
 * thread (readline's own signal handlers are off: only that thread may
 * touch readline). A SIGINT the terminal sent (SI_KERNEL) is the Ctrl-C
 * key; one from kill(2) (SI_USER, with a sender's pid) shuts down at
 * once, as SIGTERM does. */
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
	else if (si.ssi_signo == SIGINT && si.ssi_code == SI_KERNEL)
		console_ctrl_c();
	else if (si.ssi_signo == SIGINT)
		request_quit();
}

static void
console_eof(void *ctx)
{
	/* End of stdin ends the console's input, not the server, nor its
	 * output: the console thread goes on printing until shutdown, so
	 * that no session thread writes to stdout. */
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

/* The signals that shut down, read by the accept loop; SIGINT among them
 * unless the console reads it. */
static void
shutdown_signals(sigset_t *set, bool with_sigint)
{
	sigemptyset(set);
	if (with_sigint)
		sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	/* Ctrl-\ too: a core dump would leave the console's tty raw. */
	sigaddset(set, SIGQUIT);
}

/* The console thread's signals; SIGINT too when Ctrl-C is its key. */
static void
console_signals(sigset_t *set, bool with_sigint)
{
	sigemptyset(set);
	sigaddset(set, SIGWINCH);
	sigaddset(set, SIGTSTP);
	if (with_sigint)
		sigaddset(set, SIGINT);
}

/* With readline on the terminal, Ctrl-C is a console key: SIGINT moves
 * from the accept loop's signalfd to the console thread's (signalfd()
 * on an existing fd changes its mask). Before the console thread. */
static int
give_sigint_to_console(void)
{
	sigset_t set;

	shutdown_signals(&set, false);
	if (signalfd(events.signal_fd, &set, 0) == -1)
		return -1;
	console_signals(&set, true);
	return signalfd(events.console_fd, &set, 0) == -1 ? -1 : 0;
}

/* Signals become events of the accept loop; none interrupts a thread. */
static int
setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	shutdown_signals(&set, true);
	if (block_signals(&set) == -1)
		return -1;
	events.signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (events.signal_fd == -1)
		return -1;
	console_signals(&set, false);
	if (block_signals(&set) == -1)
		return -1;
	events.console_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (events.console_fd == -1)
		return -1;
	events.quit_fd = eventfd(0, EFD_CLOEXEC);
	return events.quit_fd == -1 ? -1 : 0;
}

static void
parse_options(int argc, char **argv, struct tc_server_opts *o)
{
	char err[TC_ERR_MAX];

	tc_options_act(tc_server_opts_parse(argc, argv, o, err, sizeof(err)),
	               "tcpchatd", tc_server_usage, err);
	if (!tc_proto_nick_valid(o->name, strlen(o->name)))
		tc_options_usage_exit("tcpchatd",
		                      "--name: 1-32 of A-Za-z0-9._- expected");
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

/* The access rules in command-line order: --allow and --deny as rules of
 * the command line, the files loaded. A rule given twice is one rule. A
 * file that cannot be read or has a bad line is bad usage: exit 2. */
static void
load_rules(const struct tc_server_opts *o)
{
	char err[TC_ERR_MAX];
	size_t i;

	room.rules = tc_cidr_set_new();
	if (room.rules == NULL) {
		fprintf(stderr, "tcpchatd: access rules: %s\n",
		        strerror(errno));
		exit(1);
	}
	for (i = 0; i < o->n_access; i++) {
		const struct tc_access_opt *a = &o->access[i];

		if (a->file == NULL) {
			if (tc_cidr_set_add(room.rules, a->kind, &a->net,
			                    TC_CIDR_FROM_COMMAND_LINE) == -1 &&
			    errno != EEXIST) {
				fprintf(stderr, "tcpchatd: %s: %s\n", a->text,
				        strerror(errno));
				exit(1);
			}
		} else if (tc_cidr_set_load_file(room.rules, a->kind, a->file,
		                                 err, sizeof(err)) == -1) {
			fprintf(stderr, "tcpchatd: %s\n", err);
			exit(2);
		}
	}
}

/* Who may join, how many from one address, how fast, and the refuser. */
static void
setup_access(const struct tc_server_opts *o)
{
	load_rules(o);
	room.rate = o->rate;
	room.burst = o->burst;
	room.peers = tc_peercount_new(o->max_per_ip);
	if (room.peers == NULL) {
		fprintf(stderr, "tcpchatd: --max-per-ip: %s\n",
		        strerror(errno));
		exit(1);
	}
	room.refuser = tc_refuser_new();
	if (room.refuser == NULL) {
		fprintf(stderr, "tcpchatd: refuser: %s\n", strerror(errno));
		exit(1);
	}
}

static void
free_access(void)
{
	tc_refuser_free(room.refuser);
	tc_peercount_free(room.peers);
	tc_cidr_set_free(room.rules);
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
	/* A server runs long and its console's lines are /kick, /ban and
	 * private /msg text: history lives as long as the process, in
	 * memory, never in a file. */
	static char prompt[64];
	bool background = in_background();
	struct tc_console_opts co = {
	    .prompt = prompt,
	    .use_history = true,
	    .history_path = NULL,
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
	    .on_eof_key = console_eof_key,
	};
	int rc;

	snprintf(prompt, sizeof(prompt), "%s> ", room.name);
	if (tc_console_init(&co) == -1)
		return -1;
	if (co.interactive && tc_console_has_readline() &&
	    give_sigint_to_console() == -1)
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

/* Whether the rules let peer join; when not, fd is refused. */
static bool
admitted(int fd, const struct sockaddr *peer)
{
	char net[TC_CIDR_STR_MAX], detail[TC_CIDR_STR_MAX + 16];
	struct tc_cidr why;

	switch (tc_cidr_set_match(room.rules, peer, &why)) {
	case TC_CIDR_ALLOWED:
		break;
	case TC_CIDR_DENIED:
		snprintf(detail, sizeof(detail), "denied by %s",
		         tc_cidr_format(&why, net));
		tc_refuser_refuse(room.refuser, fd, peer, TC_REFUSE_NOT_ALLOWED,
		                  detail);
		return false;
	case TC_CIDR_NOT_ALLOWED:
		tc_refuser_refuse(room.refuser, fd, peer, TC_REFUSE_NOT_ALLOWED,
		                  "no allow rule matches");
		return false;
	}
	if (tc_peercount_acquire(room.peers, peer) == -1) {
		/* ENOMEM counted nothing either: refuse rather than let the
		 * session give back a slot it never had. */
		tc_refuser_refuse(room.refuser, fd, peer,
		                  errno == EUSERS ? TC_REFUSE_TOO_MANY
		                                  : TC_REFUSE_NO_MEMORY,
		                  NULL);
		return false;
	}
	return true;
}

/* Accepts one connection. Returns 0, or -1 when descriptors or memory ran
 * short and the loop should back off. */
static int
accept_one(int lfd)
{
	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof(peer);
	int fd, one = 1;

	fd = accept4(lfd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
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
	if (!admitted(fd, (struct sockaddr *)&peer))
		return 0;
	/* A refusal is told to the peer and logged by the session. */
	(void)tc_session_start(&room, fd, (struct sockaddr *)&peer, peer_len);
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

/* Reads a pending SIGINT, SIGTERM or /quit, so that the next one is seen
 * as new. True when there was one. */
static bool
take_stop_request(void)
{
	struct pollfd pfd[2] = {
	    {.fd = events.signal_fd, .events = POLLIN},
	    {.fd = events.quit_fd, .events = POLLIN},
	};
	char buf[sizeof(struct signalfd_siginfo)];

	if (poll(pfd, 2, 0) <= 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (pfd[i].revents & POLLIN)
			(void)read(pfd[i].fd, buf, sizeof(buf));
	return true;
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
		if (pfd[0].revents || pfd[1].revents) {
			(void)take_stop_request();
			return;
		}
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

/* The graceful shutdown: the notice behind what each client has queued,
 * flush, our FIN, and wait for as long as clients make progress; a client
 * owed bytes that acknowledges nothing for STALL_NS, or everyone on a
 * second signal, is cut. Returns what could not be delivered. */
static struct tc_lost
shut_down(void)
{
	struct tc_msg *bye = tc_proto_notice("server shutting down");
	struct tc_lost lost = {0};

	tc_conntab_close(room.tab, 0, bye);
	tc_msg_unref(bye);
	while (tc_room_wait_empty(&room, tc_clock_now_ns() + SHUTDOWN_TICK_NS) >
	       0) {
		if (take_stop_request()) {
			tc_console_printf(stderr, "tcpchatd: asked again: "
			                          "cutting every connection");
			tc_conntab_abort_all(room.tab, &lost);
			break;
		}
		tc_conntab_abort_stalled(room.tab, STALL_NS, &lost);
	}
	return lost;
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

/* The last line on stderr when the shutdown could not deliver everything;
 * threads still running (stuck) count as clients not served either. */
static int
report_lost(struct tc_lost lost, size_t stuck)
{
	if (lost.clients == 0 && stuck == 0)
		return 0;
	fprintf(stderr,
	        "tcpchatd: %zu client%s left with %llu bytes undelivered%s\n",
	        lost.clients + stuck, lost.clients + stuck == 1 ? "" : "s",
	        (unsigned long long)lost.bytes,
	        stuck > 0 ? " (some did not close)" : "");
	return 1;
}

/* After the accept loop: the graceful shutdown, then the console, then
 * the table. Returns the exit status. */
static int
finish(pthread_t console_tid)
{
	struct tc_lost lost;
	size_t stuck;

	tc_console_printf(stderr, "tcpchatd: shutting down");
	lost = shut_down();
	/* The cut ones end at once: their sockets are shut down. */
	stuck = tc_room_wait_empty(&room, tc_clock_now_ns() + DRAIN_NS);
	tc_console_stop();
	if (!join_console(console_tid)) {
		/* What the console holds can never be written. */
		_exit(report_lost(lost, stuck));
	}
	tc_console_fini();
	if (stuck > 0) /* their threads hold the table and the pool: exit() */
		return report_lost(lost, stuck);
	/* Every session has ended: its threads park or are leaving. */
	tc_pool_free(room.pool);
	tc_conntab_free(room.tab);
	tc_room_fini(&room);
	free_access();
	close(events.signal_fd);
	close(events.quit_fd);
	close(events.console_fd);
	return report_lost(lost, 0);
}

int
main(int argc, char **argv)
{
	struct tc_server_opts opts;
	char bound[TC_ADDR_STR_MAX];
	pthread_t console_tid;
	int console_on, lfd, rc;

	parse_options(argc, argv, &opts);
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_fd_limit();
	if (setup_signals() == -1) {
		fprintf(stderr, "tcpchatd: signals: %s\n", strerror(errno));
		return 1;
	}
	setup_access(&opts); /* a bad rules file: before listening */
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
	tc_net_join_hints(lfd, "tcpchatd: ", trace_to_console);
	if (console_on == 0)
		tc_console_printf(stderr,
		                  "tcpchatd: console input off: running "
		                  "in the background");
	accept_loop(lfd);
	close(lfd); /* stop accepting before anything else */
	rc = finish(console_tid);
	tc_server_opts_fini(&opts);
	return rc;
}
