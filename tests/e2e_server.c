/* End-to-end tests of tcpchatd: a real server process on loopback, raw
 * sockets as clients (the way nc talks to it), its console on a pipe.
 * Each test starts its own server and checks one behaviour of
 * docs/PROTOCOL.md, waiting for every event with a
 * deadline; at the end the server must exit 0 on SIGTERM without a
 * sanitizer report. IPv6, nc and socat tests, which a machine may lack, are
 * in e2e_server_interop.c. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define T H_TIMEOUT_MS
#define BUF 16384
#define MAX_CLIENTS 8
/* Per test: far above what a test takes (each wait has its own deadline),
 * so that only a hang trips it. */
#define TCASE_TIMEOUT_S 120

/* A client as the tests see it: its socket and the name the server gives
 * it (its address until it sets a nick). */
struct cl {
	int fd;
	char name[80];
	bool deaf; /* never reads: room_join leaves its stream alone */
};

/* One server with the clients the test joined, in join order. */
struct room {
	struct h_proc srv;
	struct cl c[MAX_CLIENTS];
	int n;
};

#define S h_fmt

#define EXPECT_NEXT H_EXPECT_NEXT

/* Some later line on fd must be exactly want (others are skipped). */
#define EXPECT_LINE(fd, want) expect_line((fd), (want), __LINE__)
static void
expect_line(int fd, const char *want, int line)
{
	int r = h_expect_line(fd, want, T);

	ck_assert_msg(r == 0, "line %d: '%.300s' never came (%s)", line, want,
	              h_result_str(r));
}

/* fd must see the server's FIN (not a reset, not a timeout). */
#define EXPECT_FIN(fd) expect_fin((fd), __LINE__)
static void
expect_fin(int fd, int line)
{
	int r = h_wait_eof(fd, T);

	ck_assert_msg(r == 0, "line %d: expected a clean EOF (FIN), got %s%s%s",
	              line, h_result_str(r), r == -3 ? ": " : "",
	              r == -3 ? strerror(errno) : "");
}

/* The server's stdout (stream 1) gets a line containing every string. */
#define EXPECT_CONSOLE(p, from, ...)                                           \
	expect_console((p), (from), __LINE__,                                  \
	               (const char *const[]){__VA_ARGS__, NULL})
static void
expect_console(struct h_proc *p, size_t *from, int line,
               const char *const *subs)
{
	size_t at = from ? *from : 0;

	if (h_wait_output_line(p, 1, subs, &at, T) < 0) {
		fprintf(stderr, "server stdout:\n%s\nserver stderr:\n%s\n",
		        p->out ? p->out : "", p->err ? p->err : "");
		ck_abort_msg("line %d: no console line with '%s'%s%s", line,
		             subs[0], subs[1] ? " and '" : "",
		             subs[1] ? subs[1] : "");
	}
	if (from)
		*from = at;
}

/* A line with both strings on stdout or stderr: the operator sees both. */
static void
expect_console_either(struct h_proc *p, const char *a, const char *b)
{
	const char *const subs[] = {a, b, NULL};
	size_t f1 = 0, f2 = 0;

	for (int i = 0; i < T / 50; i++)
		if (h_wait_output_line(p, 2, subs, &f2, 0) == 0 ||
		    h_wait_output_line(p, 1, subs, &f1, 50) == 0)
			return;
	ck_abort_msg("no console line with '%s' and '%s'", a, b);
}

static void
room_start(struct room *r, const char *const *args)
{
	static const char *const none[] = {NULL};

	memset(r, 0, sizeof(*r));
	ck_assert_msg(h_server_start(&r->srv, args ? args : none) == 0,
	              "tcpchatd did not start");
}

/* Welcome: "* welcome, you are NAME (N online); /help lists commands". N
 * counts the participants: the server and every client, the newcomer
 * included. */
static const char *
welcome(const char *name, int online)
{
	return S("* welcome, you are %s (%d online); /help lists commands",
	         name, online + 1);
}

/* Connects a client from host, checks its welcome, and has every client
 * already in the room read the "joined" notice, so that each stream is
 * clean for the test. Returns the new client's index. */
static int
room_join(struct room *r, const char *host)
{
	struct cl *c = &r->c[r->n];
	bool v6 = strchr(host, ':') != NULL;
	int online = 1;
	bool gone = false;
	char buf[BUF];
	ssize_t n;

	for (int i = 0; i < r->n; i++) {
		online += r->c[i].fd >= 0;
		gone = gone || r->c[i].fd < 0;
	}
	ck_assert_int_lt(r->n, MAX_CLIENTS);
	c->fd = h_connect(host, r->srv.port);
	ck_assert_msg(c->fd >= 0, "connect: %s", strerror(errno));
	snprintf(c->name, sizeof(c->name), v6 ? "[%s]:%d" : "%s:%d", host,
	         h_local_port(c->fd));
	if (!gone) {
		EXPECT_NEXT(c->fd, welcome(c->name, online));
	} else {
		/* One that left may still be counted while its writer
		 * finishes: check everything but N. */
		n = h_read_line(c->fd, buf, sizeof(buf), T);
		ck_assert_msg(n >= 0, "welcome: %s", h_result_str(n));
		const char *pre = S("* welcome, you are %s (", c->name);

		ck_assert_msg(strncmp(buf, pre, strlen(pre)) == 0 &&
		                  strstr(buf, " online); /help lists "
		                              "commands") != NULL,
		              "welcome '%.300s'", buf);
	}
	for (int i = 0; i < r->n; i++)
		if (r->c[i].fd >= 0 && !r->c[i].deaf)
			EXPECT_NEXT(r->c[i].fd, S("* %s joined", c->name));
	return r->n++;
}

/* The usual setup: a server with args and two IPv4 clients in it. */
static void
room_of_two(struct room *r, const char *const *args)
{
	room_start(r, args);
	room_join(r, "127.0.0.1");
	room_join(r, "127.0.0.1");
}

/* The first client, with a 4 KiB receive buffer (so little of what the
 * server sends fits in flight). Returns its index. */
static int
join_small_window(struct room *r)
{
	struct cl *c = &r->c[r->n];

	ck_assert_int_eq(r->n, 0);
	c->fd = h_connect_opt("127.0.0.1", r->srv.port, 4096);
	ck_assert_msg(c->fd >= 0, "connect: %s", strerror(errno));
	snprintf(c->name, sizeof(c->name), "127.0.0.1:%d", h_local_port(c->fd));
	EXPECT_NEXT(c->fd, welcome(c->name, 1));
	return r->n++;
}

/* Ends a test: the clients close, the server gets SIGTERM and must exit
 * 0 with no sanitizer report on its stderr (builds with -Db_sanitize). */
static void
room_end(struct room *r)
{
	bool report;
	int st;

	for (int i = 0; i < r->n; i++)
		h_close(r->c[i].fd);
	r->n = 0;
	if (r->srv.pid <= 0)
		return;
	h_kill(&r->srv, SIGTERM);
	h_wait_stream_eof(&r->srv, 2, T);
	report = r->srv.err && (strstr(r->srv.err, "Sanitizer") ||
	                        strstr(r->srv.err, "runtime error:"));
	if (report)
		fprintf(stderr, "tcpchatd stderr:\n%s\n", r->srv.err);
	st = h_wait_exit(&r->srv, T);
	ck_assert_msg(!report, "tcpchatd printed a sanitizer report");
	ck_assert_msg(st == 0, "tcpchatd exit status %d after SIGTERM", st);
}

/* Sends s on client i. */
static void
say(struct room *r, int i, const char *s)
{
	ck_assert_msg(h_send(r->c[i].fd, s) == 0, "send: %s", strerror(errno));
}

static void
console(struct room *r, const char *s)
{
	ck_assert_msg(h_write(&r->srv, s) == 0, "console write: %s",
	              strerror(errno));
}

/* The connection id of `name`, from the -v line "* connection ID from
 * PEER" on the console. */
static unsigned
conn_id(struct room *r, const char *name)
{
	size_t from = 0;
	unsigned id;
	char peer[80];

	for (;;) {
		size_t at;

		EXPECT_CONSOLE(&r->srv, &from, "* connection ", " from ", name);
		at = from - 1;
		while (at > 0 && r->srv.out[at - 1] != '\n')
			at--;
		if (sscanf(r->srv.out + at, "* connection %u from %79s", &id,
		           peer) == 2 &&
		    strcmp(peer, name) == 0)
			return id;
	}
}

/* Client i half-closes the way tcpchat does: "exit", then SHUT_WR. */
static void
client_exit(struct room *r, int i)
{
	say(r, i, "exit\n");
	ck_assert_int_eq(shutdown(r->c[i].fd, SHUT_WR), 0);
}

/* ---- relay ---------------------------------------------------------- */

START_TEST(test_welcome_names_client_by_address_and_counts_online)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1"); /* asserts the exact welcome */
	room_join(&r, "127.0.0.1");
	room_end(&r);
}
END_TEST

START_TEST(test_later_client_never_gets_an_earlier_join_notice)
{
	/* The notice about the first client must be queued before the
	 * second can be in the table. A fresh server each time: its first
	 * connection is the slowest to start. */
	for (int i = 0; i < 30; i++) {
		struct room r;

		room_start(&r, NULL);
		room_join(&r, "127.0.0.1");
		room_join(&r, "127.0.0.1");
		say(&r, 0, "marker\n");
		EXPECT_NEXT(r.c[1].fd, S("%s: marker", r.c[0].name));
		room_end(&r);
	}
}
END_TEST

START_TEST(test_others_see_joined_notice)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1"); /* asserts both earlier ones see it */
	room_end(&r);
}
END_TEST

START_TEST(test_line_from_a_reaches_b_as_name_colon_text)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "hello there\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: hello there", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_line_reaches_every_other_client)
{
	struct room r;

	room_start(&r, NULL);
	for (int i = 0; i < 4; i++)
		room_join(&r, "127.0.0.1");
	say(&r, 2, "to all\n");
	for (int i = 0; i < 4; i++)
		if (i != 2)
			EXPECT_NEXT(r.c[i].fd, S("%s: to all", r.c[2].name));
	room_end(&r);
}
END_TEST

START_TEST(test_sender_does_not_get_its_own_line_back)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "mine\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: mine", r.c[0].name));
	say(&r, 1, "marker\n");
	EXPECT_NEXT(r.c[0].fd, S("%s: marker", r.c[1].name));
	room_end(&r);
}
END_TEST

START_TEST(test_client_line_is_shown_on_server_console)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	say(&r, 0, "for the console\n");
	EXPECT_CONSOLE(&r.srv, NULL, S("%s: for the console", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_crlf_is_relayed_without_cr)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "windows line\r\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: windows line", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_lines_arrive_in_the_order_sent)
{
	struct room r;
	char batch[64 * 16];
	size_t len = 0;

	room_of_two(&r, NULL);
	for (int i = 0; i < 64; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len,
		                        "n%03d\n", i);
	say(&r, 0, batch); /* one write: the server must split it */
	for (int i = 0; i < 64; i++)
		EXPECT_NEXT(r.c[1].fd, S("%s: n%03d", r.c[0].name, i));
	room_end(&r);
}
END_TEST

/* ---- console -------------------------------------------------------- */

START_TEST(test_console_line_reaches_every_client_as_server_text)
{
	struct room r;

	room_of_two(&r, NULL);
	console(&r, "hello from the console\n");
	EXPECT_NEXT(r.c[0].fd, "server: hello from the console");
	EXPECT_NEXT(r.c[1].fd, "server: hello from the console");
	room_end(&r);
}
END_TEST

START_TEST(test_name_option_renames_server_participant)
{
	static const char *const args[] = {"--name", "boss", NULL};
	struct room r;

	room_start(&r, args);
	room_join(&r, "127.0.0.1");
	console(&r, "listen up\n");
	EXPECT_NEXT(r.c[0].fd, "boss: listen up");
	room_end(&r);
}
END_TEST

START_TEST(test_console_msg_reaches_only_that_client)
{
	static const char *const args[] = {"-v", NULL};
	struct room r;
	unsigned id;

	room_of_two(&r, args);
	id = conn_id(&r, r.c[1].name);
	console(&r, S("/msg %u just for you\n", id));
	console(&r, "for everyone\n");
	EXPECT_NEXT(r.c[1].fd, "server (private): just for you");
	EXPECT_NEXT(r.c[1].fd, "server: for everyone");
	/* The console handles lines in order: the private one would come
	 * first if it had leaked. */
	EXPECT_NEXT(r.c[0].fd, "server: for everyone");
	room_end(&r);
}
END_TEST

START_TEST(test_console_list_shows_every_client)
{
	struct room r;
	size_t from = 0;

	room_of_two(&r, NULL);
	say(&r, 1, "/nick listed-nick\n");
	EXPECT_NEXT(r.c[1].fd, "* you are now listed-nick");
	/* Skip the console's join and nick lines, so the names found next
	 * can only come from /list. */
	EXPECT_CONSOLE(&r.srv, &from,
	               S("* %s is now listed-nick", r.c[1].name));
	console(&r, "/list\n");
	{
		size_t f0 = from, f1 = from;

		EXPECT_CONSOLE(&r.srv, &f0, r.c[0].name);
		EXPECT_CONSOLE(&r.srv, &f1, "listed-nick");
	}
	room_end(&r);
}
END_TEST

START_TEST(test_console_help_lists_console_commands)
{
	struct room r;

	room_start(&r, NULL);
	console(&r, "/help\n");
	{
		size_t f[4] = {0, 0, 0, 0};

		EXPECT_CONSOLE(&r.srv, &f[0], "/list");
		EXPECT_CONSOLE(&r.srv, &f[1], "/msg");
		EXPECT_CONSOLE(&r.srv, &f[2], "/kick");
		EXPECT_CONSOLE(&r.srv, &f[3], "/quit");
	}
	room_end(&r);
}
END_TEST

START_TEST(test_console_quit_shuts_down_gracefully)
{
	struct room r;

	room_of_two(&r, NULL);
	console(&r, "/quit\n");
	for (int i = 0; i < 2; i++) {
		EXPECT_NEXT(r.c[i].fd, "* server shutting down");
		EXPECT_FIN(r.c[i].fd);
		h_close(r.c[i].fd);
		r.c[i].fd = -1;
	}
	ck_assert_int_eq(h_wait_exit(&r.srv, T), 0);
	room_end(&r);
}
END_TEST

START_TEST(test_console_eof_does_not_stop_server)
{
	struct room r;

	room_start(&r, NULL);
	h_close_stdin(&r.srv);
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	say(&r, 0, "still here\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: still here", r.c[0].name));
	say(&r, 1, "me too\n");
	EXPECT_NEXT(r.c[0].fd, S("%s: me too", r.c[1].name));
	ck_assert(h_running(&r.srv));
	room_end(&r);
}
END_TEST

/* The console's stdout is a pipe nobody reads for a while: 4 MB of chat
 * must still flow between the clients (a slow console, like a slow
 * client, never slows the others), and once the console is read again it
 * says how many lines it dropped. Looped: _i 1 with the console's stdin
 * closed first (its input over, its output goes on). */
START_TEST(test_stalled_console_output_does_not_stall_the_chat)
{
	/* 4 MB from one sender: no flood control, this is about the
	 * console. */
	static const char *const args[] = {"--rate", "0", NULL};
	enum { LINES = 4000, TEXT = 1000 };
	static char line[TEXT + 2];
	struct room r;
	size_t from = 0;
	int held;

	memset(line, 'x', TEXT);
	line[TEXT] = '\n';
	room_start(&r, args);
	if (_i == 1)
		h_close_stdin(&r.srv);
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	/* Hide the server's stdout from the harness, which drains every
	 * child's output while it waits: now nobody reads it. */
	held = r.srv.out_fd;
	r.srv.out_fd = -1;
	line[TEXT] = '\0';
	for (int i = 0; i < LINES; i++) {
		say(&r, 0, S("%d %s\n", i, line));
		EXPECT_NEXT(r.c[1].fd, S("%s: %d %s", r.c[0].name, i, line));
	}
	r.srv.out_fd = held;
	ck_assert_int_eq(h_wait_output(&r.srv, 1,
	                               " lines not shown: the console's "
	                               "output could not keep up\n",
	                               &from, T),
	                 0);
	room_end(&r);
}
END_TEST

/* ---- client commands ------------------------------------------------ */

START_TEST(test_nick_tells_client_and_others)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "/nick alice\n");
	EXPECT_NEXT(r.c[0].fd, "* you are now alice");
	EXPECT_NEXT(r.c[1].fd, S("* %s is now alice", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_lines_after_nick_carry_new_name)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "/nick alice\nhi as alice\n");
	EXPECT_NEXT(r.c[1].fd, S("* %s is now alice", r.c[0].name));
	EXPECT_NEXT(r.c[1].fd, "alice: hi as alice");
	room_end(&r);
}
END_TEST

START_TEST(test_lines_and_commands_in_one_write_keep_their_order)
{
	struct room r;
	char *old;

	room_of_two(&r, NULL);
	old = strdup(r.c[0].name);
	/* Chat lines of one read are relayed as one batch: a command in
	 * between must still come between them. */
	say(&r, 0, "one\ntwo\n/nick carol\nthree\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: one", old));
	EXPECT_NEXT(r.c[1].fd, S("%s: two", old));
	EXPECT_NEXT(r.c[1].fd, S("* %s is now carol", old));
	EXPECT_NEXT(r.c[1].fd, "carol: three");
	free(old);
	room_end(&r);
}
END_TEST

START_TEST(test_who_lists_server_first_then_clients_by_id)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	say(&r, 2, "/nick zed\n");
	EXPECT_NEXT(r.c[2].fd, "* you are now zed");
	EXPECT_NEXT(r.c[0].fd, S("* %s is now zed", r.c[2].name));
	say(&r, 0, "/who\n");
	EXPECT_NEXT(r.c[0].fd, S("* 4 online: server, %s, %s, zed", r.c[0].name,
	                         r.c[1].name));
	room_end(&r);
}
END_TEST

START_TEST(test_msg_reaches_only_that_nick_and_is_confirmed)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	say(&r, 1, "/nick bob\n");
	EXPECT_NEXT(r.c[1].fd, "* you are now bob");
	EXPECT_NEXT(r.c[0].fd, S("* %s is now bob", r.c[1].name));
	EXPECT_NEXT(r.c[2].fd, S("* %s is now bob", r.c[1].name));
	say(&r, 0, "/msg BOB psst, a secret\n");
	EXPECT_NEXT(r.c[1].fd, S("%s (private): psst, a secret", r.c[0].name));
	EXPECT_NEXT(r.c[0].fd, "* to BOB (private): psst, a secret");
	/* The third client hears nothing of it: its next line is this. */
	say(&r, 0, "public\n");
	EXPECT_NEXT(r.c[2].fd, S("%s: public", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_msg_to_unknown_nick_or_without_text_is_an_error)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	say(&r, 0, "/msg nobody hello\n");
	EXPECT_NEXT(r.c[0].fd, "* error: no such nick 'nobody'");
	say(&r, 0, "/msg nobody\n");
	EXPECT_NEXT(r.c[0].fd, "* error: usage: /msg NICK TEXT");
	say(&r, 0, "/msg bad\x1bnick hi\n");
	EXPECT_NEXT(r.c[0].fd, "* error: no such nick 'bad\\x1bnick'");
	room_end(&r);
}
END_TEST

START_TEST(test_msg_to_the_server_shows_on_its_console)
{
	struct room r;
	size_t from = 0;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	say(&r, 0, "/msg server hello, operator\n");
	EXPECT_NEXT(r.c[0].fd, "* to server (private): hello, operator");
	EXPECT_CONSOLE(&r.srv, &from,
	               S("%s (private): hello, operator", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_help_answers_only_the_asker)
{
	struct room r;
	char buf[BUF];
	ssize_t n;
	int lines = 0;
	bool nick = false;

	room_of_two(&r, NULL);
	/* One reader handles both lines in order: the nick answer marks the
	 * end of the help. */
	say(&r, 0, "/help\n/nick helpdone\n");
	while ((n = h_read_line(r.c[0].fd, buf, sizeof(buf), T)) >= 0) {
		if (strcmp(buf, "* you are now helpdone") == 0)
			break;
		ck_assert_msg(strncmp(buf, "* ", 2) == 0, "help line '%.300s'",
		              buf);
		nick = nick || strstr(buf, "/nick") != NULL;
		lines++;
	}
	ck_assert_msg(n >= 0, "help: %s", h_result_str(n));
	ck_assert_int_gt(lines, 0);
	ck_assert_msg(nick, "/help does not mention /nick");
	/* Had the help gone to the other client, it would come first. */
	EXPECT_NEXT(r.c[1].fd, S("* %s is now helpdone", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_double_slash_sends_text_with_one_slash)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "//nick is a command\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: /nick is a command", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_unknown_command_gets_error_and_is_not_relayed)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "/foo bar\nmarker\n");
	EXPECT_NEXT(r.c[0].fd, "* error: unknown command '/foo' (try /help)");
	EXPECT_NEXT(r.c[1].fd, S("%s: marker", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_invalid_nick_gets_error)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "/nick bad!nick\nmarker\n");
	EXPECT_NEXT(r.c[0].fd,
	            "* error: invalid nick 'bad!nick' (1-32 of A-Za-z0-9._-)");
	/* Still under the old name. */
	EXPECT_NEXT(r.c[1].fd, S("%s: marker", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_nick_of_33_chars_is_invalid_and_32_is_fine)
{
	static const char n32[] = "abcdefghijklmnopqrstuvwxyz.-_0123";
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	say(&r, 0, S("/nick %s\n", n32));
	EXPECT_NEXT(
	    r.c[0].fd,
	    S("* error: invalid nick '%s' (1-32 of A-Za-z0-9._-)", n32));
	say(&r, 0, S("/nick %.32s\n", n32));
	EXPECT_NEXT(r.c[0].fd, S("* you are now %.32s", n32));
	room_end(&r);
}
END_TEST

START_TEST(test_nick_in_use_gets_error)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "/nick alice\n");
	EXPECT_NEXT(r.c[0].fd, "* you are now alice");
	EXPECT_NEXT(r.c[1].fd, S("* %s is now alice", r.c[0].name));
	say(&r, 1, "/nick alice\n");
	EXPECT_NEXT(r.c[1].fd, "* error: nick 'alice' is in use");
	room_end(&r);
}
END_TEST

START_TEST(test_nick_of_server_name_is_in_use)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	say(&r, 0, "/nick server\n");
	EXPECT_NEXT(r.c[0].fd, "* error: nick 'server' is in use");
	room_end(&r);
}
END_TEST

/* ---- terminal safety ------------------------------------------------ */

/* Client 0 sends `raw`; client 1 must receive "NAME: want". */
static void
relay_check(const char *raw, const char *want)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, raw);
	EXPECT_NEXT(r.c[1].fd, S("%s: %s", r.c[0].name, want));
	room_end(&r);
}

START_TEST(test_escape_sequence_is_relayed_as_hex_text)
{
	relay_check("\x1b[31mred\x1b[0m\n", "\\x1b[31mred\\x1b[0m");
}
END_TEST

START_TEST(test_c0_controls_and_del_are_escaped_but_tab_is_kept)
{
	relay_check("a\x01-b\x07-c\x7f-\td\n", "a\\x01-b\\x07-c\\x7f-\td");
}
END_TEST

START_TEST(test_c1_control_is_escaped_bytewise)
{
	relay_check("csi\xc2\x9b"
	            "2J\n",
	            "csi\\xc2\\x9b2J");
}
END_TEST

START_TEST(test_invalid_utf8_is_escaped)
{
	relay_check("bad \xff-\xc3(-\xe4\xbd\n", "bad \\xff-\\xc3(-\\xe4\\xbd");
}
END_TEST

START_TEST(test_chinese_and_emoji_pass_unchanged)
{
	relay_check("你好，世界 😀👍\n", "你好，世界 😀👍");
}
END_TEST

START_TEST(test_backslash_is_left_as_is)
{
	relay_check("c:\\path \\x41\n", "c:\\path \\x41");
}
END_TEST

START_TEST(test_console_shows_escaped_text)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	say(&r, 0, "\x1b]0;title\x07\n");
	EXPECT_CONSOLE(&r.srv, NULL, S("%s: \\x1b]0;title\\x07", r.c[0].name));
	ck_assert_ptr_null(memchr(r.srv.out, '\x1b', r.srv.out_len));
	room_end(&r);
}
END_TEST

/* ---- long lines ------------------------------------------------------ */

static const char *const max10[] = {"--max-line", "10", NULL};

START_TEST(test_long_line_is_split_at_max_line)
{
	struct room r;
	const char *a;

	room_of_two(&r, max10);
	a = r.c[0].name;
	say(&r, 0, "abcdefghijKLMNOPQRSTuvwxy\n"); /* 25 bytes */
	EXPECT_NEXT(r.c[1].fd, S("%s: abcdefghij", a));
	EXPECT_NEXT(r.c[1].fd, S("%s: KLMNOPQRST", a));
	EXPECT_NEXT(r.c[1].fd, S("%s: uvwxy", a));
	room_end(&r);
}
END_TEST

START_TEST(test_piece_of_a_split_line_is_never_a_command)
{
	struct room r;
	const char *a;

	room_of_two(&r, max10);
	a = r.c[0].name;
	/* The tails read "exit" and "/who": text, not commands. */
	say(&r, 0, "abcdefghijexit\n0123456789/who\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: abcdefghij", a));
	EXPECT_NEXT(r.c[1].fd, S("%s: exit", a));
	EXPECT_NEXT(r.c[1].fd, S("%s: 0123456789", a));
	EXPECT_NEXT(r.c[1].fd, S("%s: /who", a));
	/* Still connected and heard. */
	say(&r, 0, "still here\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: still here", a));
	room_end(&r);
}
END_TEST

START_TEST(test_line_of_exactly_max_line_is_one_message)
{
	struct room r;

	room_of_two(&r, max10);
	say(&r, 0, "0123456789\nend\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: 0123456789", r.c[0].name));
	EXPECT_NEXT(r.c[1].fd, S("%s: end", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_split_never_cuts_a_utf8_sequence)
{
	struct room r;
	const char *a;

	room_of_two(&r, max10);
	a = r.c[0].name;
	/* 2+3+3 = 8 bytes fit, the next character would make 11. */
	say(&r, 0, "ab你好世界\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: ab你好", a));
	EXPECT_NEXT(r.c[1].fd, S("%s: 世界", a));
	say(&r, 0, "abcdefghi你\n"); /* 9 + 3 */
	EXPECT_NEXT(r.c[1].fd, S("%s: abcdefghi", a));
	EXPECT_NEXT(r.c[1].fd, S("%s: 你", a));
	say(&r, 0, "😀😀😀\n"); /* 3 x 4 */
	EXPECT_NEXT(r.c[1].fd, S("%s: 😀😀", a));
	EXPECT_NEXT(r.c[1].fd, S("%s: 😀", a));
	room_end(&r);
}
END_TEST

START_TEST(test_max_line_counts_bytes_before_escaping)
{
	struct room r;

	room_of_two(&r, max10);
	say(&r, 0, "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\n");
	EXPECT_NEXT(r.c[1].fd,
	            S("%s: \\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x0b\\x0c",
	              r.c[0].name));
	EXPECT_NEXT(r.c[1].fd, S("%s: \\x0e\\x0f", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_default_max_line_is_4096_bytes)
{
	struct room r;
	static char line[10002], want[3][4200];

	room_of_two(&r, NULL);
	for (int i = 0; i < 10000; i++)
		line[i] = (char)('a' + i % 26);
	line[10000] = '\n';
	snprintf(want[0], sizeof(want[0]), "%s: %.4096s", r.c[0].name, line);
	snprintf(want[1], sizeof(want[1]), "%s: %.4096s", r.c[0].name,
	         line + 4096);
	snprintf(want[2], sizeof(want[2]), "%s: %.1808s", r.c[0].name,
	         line + 8192);
	say(&r, 0, line);
	for (int i = 0; i < 3; i++)
		EXPECT_NEXT(r.c[1].fd, want[i]);
	room_end(&r);
}
END_TEST

/* ---- client-initiated half-close ------------------------------------ */

START_TEST(test_exit_then_fin_gets_clean_eof_without_console_input)
{
	struct room r;

	room_of_two(&r, NULL);
	client_exit(&r, 0);
	/* Nothing is typed on the console: the writer must wake by itself. */
	EXPECT_FIN(r.c[0].fd);
	room_end(&r);
}
END_TEST

START_TEST(test_exit_tells_others_left_and_is_not_relayed)
{
	struct room r;

	room_of_two(&r, NULL);
	client_exit(&r, 0);
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	room_end(&r);
}
END_TEST

START_TEST(test_exit_with_crlf_counts_as_exit)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "exit\r\n");
	ck_assert_int_eq(shutdown(r.c[0].fd, SHUT_WR), 0);
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	EXPECT_FIN(r.c[0].fd);
	room_end(&r);
}
END_TEST

/* A peer that says "exit" and then never stops sending, without a FIN:
 * the server reads and drops it for its 5 s, then closes all the same. */
START_TEST(test_exit_then_endless_data_is_closed_after_the_drain)
{
	static char junk[4096];
	struct room r;
	struct pollfd pfd;
	ssize_t n = 1;
	char buf[BUF];
	struct timespec now;
	time_t deadline;

	room_of_two(&r, NULL);
	say(&r, 0, "exit\n"); /* and no FIN */
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	memset(junk, 'x', sizeof(junk));
	pfd = (struct pollfd){.fd = r.c[0].fd, .events = POLLIN | POLLOUT};
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = now.tv_sec + 4 * T / 1000; /* the drain is 5 s */
	while (n != 0 && now.tv_sec < deadline) {
		ck_assert_int_ge(poll(&pfd, 1, 100), 0);
		if (pfd.revents & POLLOUT)
			(void)send(r.c[0].fd, junk, sizeof(junk),
			           MSG_DONTWAIT | MSG_NOSIGNAL);
		n = recv(r.c[0].fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN)
			n = 0; /* a reset ends it too */
		clock_gettime(CLOCK_MONOTONIC, &now);
	}
	ck_assert_msg(n == 0, "the server never closed a peer that kept "
	                      "sending after exit");
	room_end(&r);
}
END_TEST

START_TEST(test_linger_sends_console_and_peer_lines_after_exit)
{
	static const char *const args[] = {"--linger", "3", NULL};
	struct room r;
	char buf[BUF];
	bool got_console = false, got_peer = false;
	ssize_t n;

	room_of_two(&r, args);
	client_exit(&r, 0);
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	/* Both sent after the server handled the exit. */
	console(&r, "typed after exit\n");
	say(&r, 1, "said after exit\n");
	while ((n = h_read_line(r.c[0].fd, buf, sizeof(buf), T)) >= 0) {
		got_console |= strcmp(buf, "server: typed after exit") == 0;
		got_peer |=
		    strcmp(buf, S("%s: said after exit", r.c[1].name)) == 0;
	}
	ck_assert_msg(n == -2, "half-closed client: %s, not EOF",
	              h_result_str(n));
	ck_assert_msg(got_console, "console line did not reach it");
	ck_assert_msg(got_peer, "other client's line did not reach it");
	room_end(&r);
}
END_TEST

START_TEST(test_without_linger_lines_after_exit_are_not_sent)
{
	struct room r;
	char buf[BUF];
	ssize_t n;

	room_of_two(&r, NULL);
	client_exit(&r, 0);
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	console(&r, "too late\n");
	EXPECT_NEXT(r.c[1].fd, "server: too late");
	while ((n = h_read_line(r.c[0].fd, buf, sizeof(buf), T)) >= 0)
		ck_assert_msg(strcmp(buf, "server: too late") != 0,
		              "a line queued after exit was sent (linger 0)");
	ck_assert_msg(n == -2, "expected EOF, got %s", h_result_str(n));
	room_end(&r);
}
END_TEST

START_TEST(test_lines_queued_before_exit_all_arrive_before_eof)
{
	/* 2000 lines at once: no flood control, which would pace them. */
	static const char *const args[] = {"--rate", "0", NULL};
	struct room r;
	const int lines = 2000;
	static char batch[2000 * 80];
	size_t len = 0;

	room_start(&r, args);
	/* A small receive window keeps most of it in the server's queue. */
	join_small_window(&r);
	room_join(&r, "127.0.0.1");
	for (int i = 0; i < lines; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len,
		                        "queued line %04d %s\n", i,
		                        "................................");
	say(&r, 1, batch);
	/* Its reader answers /who only after queueing every line. */
	say(&r, 1, "/who\n");
	EXPECT_NEXT(r.c[1].fd,
	            S("* 3 online: server, %s, %s", r.c[0].name, r.c[1].name));
	client_exit(&r, 0);
	for (int i = 0; i < lines; i++)
		EXPECT_NEXT(r.c[0].fd,
		            S("%s: queued line %04d %s", r.c[1].name, i,
		              "................................"));
	EXPECT_FIN(r.c[0].fd);
	room_end(&r);
}
END_TEST

START_TEST(test_data_after_exit_is_discarded_without_reset)
{
	struct room r;
	static char junk[256 * 1024];

	room_of_two(&r, NULL);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (i % 64 == 63) ? '\n' : 'j';
	say(&r, 0, "exit\n");
	ck_assert_int_eq(h_send_buf(r.c[0].fd, junk, sizeof(junk), T), 0);
	ck_assert_int_eq(shutdown(r.c[0].fd, SHUT_WR), 0);
	EXPECT_FIN(r.c[0].fd); /* a reset would be -3 here */
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	/* Any relayed junk would have been queued before the EOF. */
	console(&r, "marker\n");
	EXPECT_NEXT(r.c[1].fd, "server: marker");
	room_end(&r);
}
END_TEST

START_TEST(test_fin_without_exit_is_a_clean_leave)
{
	struct room r;

	room_of_two(&r, NULL);
	ck_assert_int_eq(shutdown(r.c[0].fd, SHUT_WR), 0);
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	EXPECT_FIN(r.c[0].fd);
	room_end(&r);
}
END_TEST

START_TEST(test_final_exit_without_lf_before_fin_counts)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "exit");
	ck_assert_int_eq(shutdown(r.c[0].fd, SHUT_WR), 0);
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	EXPECT_FIN(r.c[0].fd);
	room_end(&r);
}
END_TEST

START_TEST(test_bytes_after_last_lf_at_fin_are_a_last_message)
{
	struct room r;

	room_of_two(&r, NULL);
	say(&r, 0, "first\nno newline at the end");
	ck_assert_int_eq(shutdown(r.c[0].fd, SHUT_WR), 0);
	EXPECT_NEXT(r.c[1].fd, S("%s: first", r.c[0].name));
	EXPECT_NEXT(r.c[1].fd, S("%s: no newline at the end", r.c[0].name));
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	EXPECT_FIN(r.c[0].fd);
	room_end(&r);
}
END_TEST

/* ---- --trace ---------------------------------------------------------- */

#define EXPECT_TRACE(p, from, ...)                                             \
	expect_trace(                                                          \
	    (p), (from), __LINE__,                                             \
	    (const char *const[]){"trace: ", "(tcp ", __VA_ARGS__, NULL})
static void
expect_trace(struct h_proc *p, size_t *from, int line, const char *const *subs)
{
	if (h_wait_output_line(p, 2, subs, from, T) < 0) {
		fprintf(stderr, "server stderr:\n%s\n", p->err ? p->err : "");
		ck_abort_msg("line %d: no trace line with '%s' after offset "
		             "%zu",
		             line, subs[2], *from);
	}
}

START_TEST(test_trace_shows_exit_shut_rd_and_close_in_order)
{
	static const char *const args[] = {"--trace", NULL};
	struct room r;
	size_t from = 0;

	room_start(&r, args);
	room_join(&r, "127.0.0.1");
	client_exit(&r, 0);
	EXPECT_FIN(r.c[0].fd);
	EXPECT_TRACE(&r.srv, &from, "exit");
	EXPECT_TRACE(&r.srv, &from, "SHUT_RD");
	EXPECT_TRACE(&r.srv, &from, "close");
	room_end(&r);
}
END_TEST

START_TEST(test_trace_state_after_peer_fin_is_close_wait)
{
	static const char *const args[] = {"--trace", NULL};
	struct room r;
	size_t from = 0;

	room_start(&r, args);
	room_join(&r, "127.0.0.1");
	ck_assert_int_eq(shutdown(r.c[0].fd, SHUT_WR), 0);
	EXPECT_FIN(r.c[0].fd);
	/* The reader saw the FIN; the server has not sent its own yet. */
	EXPECT_TRACE(&r.srv, &from, "FIN", "(tcp CLOSE_WAIT)");
	EXPECT_TRACE(&r.srv, &from, "SHUT_RD");
	room_end(&r);
}
END_TEST

/* Plain nc, where the user types "exit": no FIN follows. The server's FIN
 * must come once the queue is flushed, not after the 5 s drain. */
START_TEST(test_exit_without_fin_gets_the_servers_fin_at_once)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	say(&r, 0, "exit\n");
	ck_assert_int_eq(h_wait_eof(r.c[0].fd, 1000), 0);
	room_end(&r);
}
END_TEST

START_TEST(test_trace_is_off_by_default)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	client_exit(&r, 0);
	EXPECT_FIN(r.c[0].fd);
	h_kill(&r.srv, SIGTERM);
	ck_assert_int_eq(h_wait_stream_eof(&r.srv, 2, T), 0);
	ck_assert_ptr_null(strstr(r.srv.err, "trace: "));
	room_end(&r);
}
END_TEST

/* ---- /kick ------------------------------------------------------------ */

START_TEST(test_kicked_client_gets_notice_then_clean_eof)
{
	static const char *const args[] = {"-v", NULL};
	struct room r;

	room_of_two(&r, args);
	console(&r, S("/kick %u\n", conn_id(&r, r.c[0].name)));
	EXPECT_NEXT(r.c[0].fd, "* you were kicked by server");
	EXPECT_FIN(r.c[0].fd);
	room_end(&r);
}
END_TEST

START_TEST(test_others_see_client_was_kicked)
{
	static const char *const args[] = {"-v", NULL};
	struct room r;

	room_of_two(&r, args);
	console(&r, S("/kick %u\n", conn_id(&r, r.c[0].name)));
	EXPECT_NEXT(r.c[1].fd, S("* %s was kicked", r.c[0].name));
	room_end(&r);
}
END_TEST

/* ---- shutdown --------------------------------------------------------- */

START_TEST(test_sigterm_flushes_queued_lines_then_notice_then_eof)
{
	/* 500 lines at once: no flood control, which would pace them. */
	static const char *const args[] = {"--rate", "0", NULL};
	struct room r;
	const int lines = 500;
	static char batch[500 * 32];
	size_t len = 0;

	room_of_two(&r, args);
	for (int i = 0; i < lines; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len,
		                        "before signal %03d\n", i);
	say(&r, 0, batch);
	/* Client 1 reads nothing yet. Client 0's reader answers /who only
	 * after queueing every line for client 1. */
	say(&r, 0, "/who\n");
	EXPECT_NEXT(r.c[0].fd,
	            S("* 3 online: server, %s, %s", r.c[0].name, r.c[1].name));
	h_kill(&r.srv, SIGTERM);
	for (int i = 0; i < lines; i++)
		EXPECT_NEXT(r.c[1].fd,
		            S("%s: before signal %03d", r.c[0].name, i));
	EXPECT_NEXT(r.c[1].fd, "* server shutting down");
	EXPECT_FIN(r.c[1].fd);
	EXPECT_NEXT(r.c[0].fd, "* server shutting down");
	EXPECT_FIN(r.c[0].fd);
	room_end(&r);
}
END_TEST

START_TEST(test_sigterm_exits_0_before_grace_when_clients_close)
{
	struct room r;

	room_of_two(&r, NULL);
	h_kill(&r.srv, SIGTERM);
	for (int i = 0; i < 2; i++) {
		EXPECT_NEXT(r.c[i].fd, "* server shutting down");
		EXPECT_FIN(r.c[i].fd);
		h_close(r.c[i].fd);
		r.c[i].fd = -1;
	}
	/* Every FIN is in: the server must not sit out its 5 s grace. */
	ck_assert_int_eq(h_wait_exit(&r.srv, 4000), 0);
	room_end(&r);
}
END_TEST

START_TEST(test_sigterm_exits_0_after_grace_when_clients_stay)
{
	struct room r;

	room_of_two(&r, NULL);
	h_kill(&r.srv, SIGTERM);
	for (int i = 0; i < 2; i++) {
		EXPECT_NEXT(r.c[i].fd, "* server shutting down");
		EXPECT_FIN(r.c[i].fd); /* and then never close */
	}
	ck_assert_int_eq(h_wait_exit(&r.srv, 5000 + T), 0);
	room_end(&r);
}
END_TEST

START_TEST(test_sigint_shuts_down_gracefully)
{
	struct room r;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	h_kill(&r.srv, SIGINT);
	EXPECT_NEXT(r.c[0].fd, "* server shutting down");
	EXPECT_FIN(r.c[0].fd);
	h_close(r.c[0].fd);
	r.c[0].fd = -1;
	ck_assert_int_eq(h_wait_exit(&r.srv, T), 0);
	room_end(&r);
}
END_TEST

START_TEST(test_server_stops_accepting_at_shutdown)
{
	struct room r;
	int fd;

	room_start(&r, NULL);
	room_join(&r, "127.0.0.1");
	h_kill(&r.srv, SIGTERM);
	EXPECT_NEXT(r.c[0].fd, "* server shutting down");
	/* The first client stays, so the server is in its grace period. A
	 * newcomer is refused, closed or ignored, never welcomed; a server
	 * that still accepts would welcome it at once, so one second is
	 * plenty to see that. */
	fd = h_connect("127.0.0.1", r.srv.port);
	if (fd >= 0) {
		char buf[BUF];
		ssize_t n = h_read_line(fd, buf, sizeof(buf), 1000);

		ck_assert_msg(n < 0 || strncmp(buf, "* welcome", 9) != 0,
		              "welcomed after shutdown: %s", buf);
		h_close(fd);
	}
	room_end(&r);
}
END_TEST

/* ---- limits and hostile peers ----------------------------------------- */

/* Flood line i from the flooder: exactly 100 bytes with its LF. */
static const char *
flood_line(int i)
{
	return S("flood %05d %087d\n", i, 0);
}

/* Reads n flooded lines from `reader` in order; a cut-off notice for
 * `slow` may come between them and is recorded in *cut. */
static void
read_flood(int reader, const char *from, int first, int n, const char *slow,
           bool *cut)
{
	char buf[BUF], want[256], notice[128];

	snprintf(notice, sizeof(notice), "* %s left (too slow: over ", slow);
	for (int i = first; i < first + n;) {
		ssize_t r = h_read_line(reader, buf, sizeof(buf), T);

		ck_assert_msg(r >= 0, "flood line %d: %s", i, h_result_str(r));
		if (strncmp(buf, notice, strlen(notice)) == 0) {
			ck_assert_msg(strstr(buf, " bytes queued)") != NULL,
			              "notice '%.300s'", buf);
			*cut = true;
			continue;
		}
		snprintf(want, sizeof(want), "%s: %.*s", from, 99,
		         flood_line(i));
		ck_assert_msg(strcmp(buf, want) == 0,
		              "flood line %d: got '%.60s...'", i, buf);
		i++;
	}
}

START_TEST(test_slow_consumer_is_cut_off_and_others_get_every_line)
{
	/* Up to 10 MB from one sender: no flood control, which would pace
	 * it, since this is about the slow reader. */
	static const char *const args[] = {"--max-queue", "64K", "--rate", "0",
	                                   NULL};
	static char batch[100 * 100 + 1];
	struct room r;
	bool cut = false;
	/* The kernel's send buffer to the slow one grows to tcp_wmem's max
	 * (4 MiB by default) before the server's queue fills: flood until
	 * the cut-off, at most 10 MB, and then some more. */
	const int max_total = 100000, per = 100, after_cut = 2000;
	int slow, total = max_total;

	room_start(&r, args);
	/* The slow one: a tiny window, and it never reads after joining. */
	slow = join_small_window(&r);
	r.c[slow].deaf = true;
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	for (int b = 0; b < total / per; b++) {
		if (cut && total == max_total)
			total = (b + after_cut / per) * per;
		size_t len = 0;

		for (int i = 0; i < per; i++) {
			memcpy(batch + len, flood_line(b * per + i), 100);
			len += 100;
		}
		ck_assert_int_eq(h_send_buf(r.c[1].fd, batch, len, T), 0);
		read_flood(r.c[2].fd, r.c[1].name, b * per, per, r.c[slow].name,
		           &cut);
	}
	if (!cut)
		EXPECT_LINE(r.c[2].fd,
		            S("* %s left (too slow: over 65536 bytes queued)",
		              r.c[slow].name));
	expect_console_either(&r.srv, r.c[slow].name, "queued");
	room_end(&r);
}
END_TEST

START_TEST(test_server_full_refuses_newcomer_with_notice)
{
	static const char *const args[] = {"--max-clients", "2", NULL};
	struct room r;
	int fd;

	room_of_two(&r, args);
	fd = h_connect("127.0.0.1", r.srv.port);
	ck_assert_int_ge(fd, 0);
	EXPECT_NEXT(fd, "* error: server full");
	EXPECT_FIN(fd);
	h_close(fd);
	room_end(&r);
}
END_TEST

START_TEST(test_first_clients_keep_working_when_full)
{
	static const char *const args[] = {"--max-clients", "2", NULL};
	struct room r;
	int fd;

	room_of_two(&r, args);
	fd = h_connect("127.0.0.1", r.srv.port);
	ck_assert_int_ge(fd, 0);
	EXPECT_NEXT(fd, "* error: server full");
	h_close(fd);
	say(&r, 0, "still chatting\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: still chatting", r.c[0].name));
	say(&r, 1, "me too\n");
	EXPECT_NEXT(r.c[0].fd, S("%s: me too", r.c[1].name));
	room_end(&r);
}
END_TEST

START_TEST(test_slot_is_free_again_after_a_client_leaves)
{
	static const char *const args[] = {"--max-clients", "2", NULL};
	struct room r;

	room_of_two(&r, args);
	client_exit(&r, 0);
	EXPECT_FIN(r.c[0].fd);
	EXPECT_NEXT(r.c[1].fd, S("* %s left", r.c[0].name));
	h_close(r.c[0].fd);
	r.c[0].fd = -1;
	/* The writer may still be closing the old one: allow a retry or
	 * two, each an event with its own deadline. */
	for (int tries = 0;; tries++) {
		char buf[BUF];
		int fd = h_connect("127.0.0.1", r.srv.port);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_ge(h_read_line(fd, buf, sizeof(buf), T), 0);
		h_close(fd);
		if (strncmp(buf, "* welcome, you are ", 19) == 0)
			break;
		ck_assert_msg(tries < 50, "still full: '%.300s'", buf);
	}
	room_end(&r);
}
END_TEST

START_TEST(test_reset_mid_line_tells_others_and_server_survives)
{
	struct room r;
	int c;

	room_of_two(&r, NULL);
	say(&r, 0, "half a li");
	ck_assert_int_eq(h_reset(r.c[0].fd), 0);
	r.c[0].fd = -1;
	EXPECT_LINE(r.c[1].fd,
	            S("* %s left (connection reset by peer)", r.c[0].name));
	c = room_join(&r, "127.0.0.1");
	say(&r, c, "after the reset\n");
	EXPECT_NEXT(r.c[1].fd, S("%s: after the reset", r.c[c].name));
	say(&r, 1, "reply\n");
	EXPECT_NEXT(r.c[c].fd, S("%s: reply", r.c[1].name));
	room_end(&r);
}
END_TEST

/* True when s holds a C0 control other than TAB, DEL, or a UTF-8 C1. */
static bool
has_raw_control(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++) {
		if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f)
			return true;
		if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 &&
		    u[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

START_TEST(test_binary_junk_does_not_hurt_the_server)
{
	struct room r;
	static unsigned char junk[65536];
	unsigned x = 12345;

	room_of_two(&r, NULL);
	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (unsigned char)(x >> 16);
		if (junk[i] == '/') /* no commands: they could rename it */
			junk[i] = '?';
	}
	ck_assert_int_eq(h_send_buf(r.c[0].fd, junk, sizeof(junk), T), 0);
	say(&r, 0, "\nafter junk\n");
	for (;;) {
		char buf[BUF];
		ssize_t n = h_read_line(r.c[1].fd, buf, sizeof(buf), T);

		ck_assert_msg(n >= 0, "after junk: %s", h_result_str(n));
		if (strcmp(buf, S("%s: after junk", r.c[0].name)) == 0)
			break;
		ck_assert_msg(!has_raw_control(buf, (size_t)n),
		              "raw control bytes relayed: '%.300s'", buf);
	}
	say(&r, 1, "ok\n");
	EXPECT_NEXT(r.c[0].fd, S("%s: ok", r.c[1].name));
	room_end(&r);
}
END_TEST

/* One connect / line / close cycle; odd ones end with a reset. */
static void
churn_once(int port, int i)
{
	char buf[BUF];
	int fd = h_connect("127.0.0.1", port);
	ssize_t n;

	ck_assert_msg(fd >= 0, "cycle %d: connect: %s", i, strerror(errno));
	n = h_read_line(fd, buf, sizeof(buf), T);
	ck_assert_msg(n > 0 && strncmp(buf, "* welcome", 9) == 0,
	              "cycle %d: %s", i, n >= 0 ? buf : h_result_str(n));
	if (i % 2 == 0) {
		ck_assert_int_eq(h_send(fd, "a line\nexit\n"), 0);
		ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
		ck_assert_msg(h_wait_eof(fd, T) == 0, "cycle %d: no FIN", i);
		h_close(fd);
	} else {
		ck_assert_int_eq(h_send(fd, "a line\nhalf"), 0);
		ck_assert_int_eq(h_reset(fd), 0);
	}
}

/* The N of "; N threads parked" in the summary line of /list: session
 * threads the server keeps for its next connections. -1 on timeout. */
static int
parked_threads(struct room *r)
{
	static const char *const summary[] = {" connection", " parked", NULL};
	size_t from = r->srv.out_len, at = from;
	const char *line;
	unsigned n;

	console(r, "/list\n");
	if (h_wait_output_line(&r->srv, 1, summary, &from, T) == -1)
		return -1;
	/* from is past the summary's LF: find where that line begins. */
	for (line = r->srv.out + from - 1;
	     line > r->srv.out + at && line[-1] != '\n'; line--)
		;
	line = strstr(line, "; ");
	if (line == NULL || sscanf(line, "; %u thread", &n) != 1)
		return -1;
	return (int)n;
}

/* Waits until pid is back to fds descriptors and to threads threads, of
 * which parked_before were parked: a thread that parked since is part of
 * the baseline now, one still busy is not. 0, or -1 on timeout. */
static int
wait_baseline(struct room *r, int fds, int threads, int parked_before)
{
	int parked, tries;

	for (tries = 0; tries < T / 50; tries++) {
		parked = parked_threads(r);
		if (parked < 0)
			return -1;
		if (h_wait_counts(r->srv.pid, fds,
		                  threads - parked_before + parked, 50) == 0)
			return 0;
	}
	return -1;
}

START_TEST(test_connect_close_cycles_leave_no_fds_or_threads)
{
	struct room r;
	int fds, threads, parked;
	pid_t pid;

	room_start(&r, NULL);
	pid = r.srv.pid;
	/* Count with one idle client in: every thread the server starts
	 * lazily (the console's included) exists, and nothing is closing. */
	room_join(&r, "127.0.0.1");
	console(&r, "sync\n");
	EXPECT_NEXT(r.c[0].fd, "server: sync");
	say(&r, 0, "/nick watcher\n"); /* its reader runs too */
	EXPECT_NEXT(r.c[0].fd, "* you are now watcher");
	fds = h_count_fds(pid);
	threads = h_count_threads(pid);
	parked = parked_threads(&r);
	ck_assert_int_gt(fds, 0);
	ck_assert_int_ge(parked, 0);
	r.c[0].deaf = true; /* it gets every join and leave from now on */
	for (int i = 0; i < 300; i++)
		churn_once(r.srv.port, i);
	if (wait_baseline(&r, fds, threads, parked) < 0)
		ck_abort_msg("fds %d -> %d, threads %d (%d parked) -> %d (%d "
		             "parked)",
		             fds, h_count_fds(pid), threads, parked,
		             h_count_threads(pid), parked_threads(&r));
	room_join(&r, "127.0.0.1");
	room_join(&r, "127.0.0.1");
	say(&r, 1, "alive\n");
	EXPECT_NEXT(r.c[2].fd, S("%s: alive", r.c[1].name));
	room_end(&r);
}
END_TEST

/* ---- usage ------------------------------------------------------------ */

static int
count_lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* Runs tcpchatd with args and returns its exit status, its stderr copied
 * into err. */
static int
run_server(const char *const *args, char *err, size_t errlen)
{
	const char *argv[16] = {getenv("TCPCHATD")};
	struct h_proc p;
	int st;

	ck_assert_ptr_nonnull(argv[0]);
	for (int i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	ck_assert_int_eq(h_spawn(&p, argv), 0);
	h_close_stdin(&p);
	ck_assert_msg(h_wait_stream_eof(&p, 2, T) == 0,
	              "tcpchatd did not exit; stderr: %s", p.err ? p.err : "");
	snprintf(err, errlen, "%s", p.err ? p.err : "");
	st = h_wait_exit(&p, T);
	return st;
}

START_TEST(test_unknown_option_exits_2_with_one_line)
{
	static const char *const args[] = {"--no-such-option", NULL};
	char err[4096];

	ck_assert_int_eq(run_server(args, err, sizeof(err)), 2);
	ck_assert_msg(count_lines(err) == 1, "stderr: '%.500s'", err);
}
END_TEST

START_TEST(test_bad_value_exits_2_with_one_line)
{
	static const char *const args[] = {"--max-line", "lots", NULL};
	char err[4096];

	ck_assert_int_eq(run_server(args, err, sizeof(err)), 2);
	ck_assert_msg(count_lines(err) == 1, "stderr: '%.500s'", err);
}
END_TEST

START_TEST(test_port_in_use_exits_1_naming_the_address)
{
	struct room r;
	char err[4096], port[16];
	const char *args[] = {"-p", port, NULL};

	room_start(&r, NULL);
	snprintf(port, sizeof(port), "%d", r.srv.port);
	ck_assert_int_eq(run_server(args, err, sizeof(err)), 1);
	ck_assert_msg(count_lines(err) == 1, "stderr: '%.500s'", err);
	ck_assert_msg(strstr(err, S(":%d", r.srv.port)) != NULL,
	              "stderr does not name the address: '%.500s'", err);
	room_end(&r);
}
END_TEST

static Suite *
server_suite(void)
{
	Suite *s = suite_create("e2e_server");
	TCase *tc;

	tc = tcase_create("relay");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc,
	               test_welcome_names_client_by_address_and_counts_online);
	tcase_add_test(tc, test_others_see_joined_notice);
	tcase_add_test(tc, test_later_client_never_gets_an_earlier_join_notice);
	tcase_add_test(tc, test_line_from_a_reaches_b_as_name_colon_text);
	tcase_add_test(tc, test_line_reaches_every_other_client);
	tcase_add_test(tc, test_sender_does_not_get_its_own_line_back);
	tcase_add_test(tc, test_client_line_is_shown_on_server_console);
	tcase_add_test(tc, test_crlf_is_relayed_without_cr);
	tcase_add_test(tc, test_lines_arrive_in_the_order_sent);
	suite_add_tcase(s, tc);

	tc = tcase_create("console");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc,
	               test_console_line_reaches_every_client_as_server_text);
	tcase_add_test(tc, test_name_option_renames_server_participant);
	tcase_add_test(tc, test_console_msg_reaches_only_that_client);
	tcase_add_test(tc, test_console_list_shows_every_client);
	tcase_add_test(tc, test_console_help_lists_console_commands);
	tcase_add_test(tc, test_console_quit_shuts_down_gracefully);
	tcase_add_test(tc, test_console_eof_does_not_stop_server);
	tcase_add_loop_test(
	    tc, test_stalled_console_output_does_not_stall_the_chat, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("commands");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_nick_tells_client_and_others);
	tcase_add_test(tc, test_lines_after_nick_carry_new_name);
	tcase_add_test(tc,
	               test_lines_and_commands_in_one_write_keep_their_order);
	tcase_add_test(tc, test_who_lists_server_first_then_clients_by_id);
	tcase_add_test(tc, test_msg_reaches_only_that_nick_and_is_confirmed);
	tcase_add_test(tc,
	               test_msg_to_unknown_nick_or_without_text_is_an_error);
	tcase_add_test(tc, test_msg_to_the_server_shows_on_its_console);
	tcase_add_test(tc, test_help_answers_only_the_asker);
	tcase_add_test(tc, test_double_slash_sends_text_with_one_slash);
	tcase_add_test(tc, test_unknown_command_gets_error_and_is_not_relayed);
	tcase_add_test(tc, test_invalid_nick_gets_error);
	tcase_add_test(tc, test_nick_of_33_chars_is_invalid_and_32_is_fine);
	tcase_add_test(tc, test_nick_in_use_gets_error);
	tcase_add_test(tc, test_nick_of_server_name_is_in_use);
	suite_add_tcase(s, tc);

	tc = tcase_create("terminal_safety");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_escape_sequence_is_relayed_as_hex_text);
	tcase_add_test(tc,
	               test_c0_controls_and_del_are_escaped_but_tab_is_kept);
	tcase_add_test(tc, test_c1_control_is_escaped_bytewise);
	tcase_add_test(tc, test_invalid_utf8_is_escaped);
	tcase_add_test(tc, test_chinese_and_emoji_pass_unchanged);
	tcase_add_test(tc, test_backslash_is_left_as_is);
	tcase_add_test(tc, test_console_shows_escaped_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("long_lines");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_long_line_is_split_at_max_line);
	tcase_add_test(tc, test_piece_of_a_split_line_is_never_a_command);
	tcase_add_test(tc, test_line_of_exactly_max_line_is_one_message);
	tcase_add_test(tc, test_split_never_cuts_a_utf8_sequence);
	tcase_add_test(tc, test_max_line_counts_bytes_before_escaping);
	tcase_add_test(tc, test_default_max_line_is_4096_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("half_close");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc,
	               test_exit_then_fin_gets_clean_eof_without_console_input);
	tcase_add_test(tc, test_exit_tells_others_left_and_is_not_relayed);
	tcase_add_test(tc, test_exit_with_crlf_counts_as_exit);
	tcase_add_test(tc,
	               test_exit_then_endless_data_is_closed_after_the_drain);
	tcase_add_test(tc, test_linger_sends_console_and_peer_lines_after_exit);
	tcase_add_test(tc, test_without_linger_lines_after_exit_are_not_sent);
	tcase_add_test(tc, test_lines_queued_before_exit_all_arrive_before_eof);
	tcase_add_test(tc, test_data_after_exit_is_discarded_without_reset);
	tcase_add_test(tc, test_fin_without_exit_is_a_clean_leave);
	tcase_add_test(tc, test_final_exit_without_lf_before_fin_counts);
	tcase_add_test(tc, test_bytes_after_last_lf_at_fin_are_a_last_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("trace");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_trace_shows_exit_shut_rd_and_close_in_order);
	tcase_add_test(tc, test_trace_state_after_peer_fin_is_close_wait);
	tcase_add_test(tc, test_trace_is_off_by_default);
	tcase_add_test(tc, test_exit_without_fin_gets_the_servers_fin_at_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("kick");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_kicked_client_gets_notice_then_clean_eof);
	tcase_add_test(tc, test_others_see_client_was_kicked);
	suite_add_tcase(s, tc);

	tc = tcase_create("shutdown");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc,
	               test_sigterm_flushes_queued_lines_then_notice_then_eof);
	tcase_add_test(tc,
	               test_sigterm_exits_0_before_grace_when_clients_close);
	tcase_add_test(tc, test_sigterm_exits_0_after_grace_when_clients_stay);
	tcase_add_test(tc, test_sigint_shuts_down_gracefully);
	tcase_add_test(tc, test_server_stops_accepting_at_shutdown);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc,
	               test_slow_consumer_is_cut_off_and_others_get_every_line);
	tcase_add_test(tc, test_server_full_refuses_newcomer_with_notice);
	tcase_add_test(tc, test_first_clients_keep_working_when_full);
	tcase_add_test(tc, test_slot_is_free_again_after_a_client_leaves);
	tcase_add_test(tc,
	               test_reset_mid_line_tells_others_and_server_survives);
	tcase_add_test(tc, test_binary_junk_does_not_hurt_the_server);
	tcase_add_test(tc, test_connect_close_cycles_leave_no_fds_or_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("usage");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_unknown_option_exits_2_with_one_line);
	tcase_add_test(tc, test_bad_value_exits_2_with_one_line);
	tcase_add_test(tc, test_port_in_use_exits_1_naming_the_address);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return server_suite();
}
