/* End-to-end: who may join tcpchatd and how fast. Allow and deny rules
 * from options and files, --max-per-ip, the console's /ban, /unban and
 * /bans, refusals that end with the notice and a FIN (never a reset, even
 * when the peer already sent data), and flood control: a flooder is paced,
 * loses nothing, and slows nobody else down. Real server, real sockets. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define T H_TIMEOUT_MS

static void
server(struct h_proc *srv, const char *const *args)
{
	ck_assert_int_eq(h_server_start(srv, args), 0);
}

static void
server_end(struct h_proc *srv)
{
	h_kill(srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(srv, T), 0);
}

/* Connects to the server from host: "::1", or any 127.0.0.0/8 address,
 * bound as the source (the harness connects to, not from, an address).
 * Returns a blocking fd, or -1. */
static int
connect_from(const char *host, int port)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = src;
	int fd;

	if (strchr(host, ':') != NULL)
		return h_connect(host, port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	inet_pton(AF_INET, host, &src.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	dst.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Skips lines until want; asserts it came. */
#define EXPECT_LINE(fd, want)                                                  \
	ck_assert_msg(h_expect_line((fd), (want), T) == 0, "line %d: no '%s'", \
	              __LINE__, (want))

/* Connects from host and expects the welcome; returns the fd. */
static int
join_from(const char *host, int port)
{
	char line[512];
	int fd = connect_from(host, port);
	ssize_t n;

	ck_assert_msg(fd >= 0, "connect from %s: %s", host, strerror(errno));
	n = h_read_line(fd, line, sizeof(line), T);
	ck_assert_msg(n >= 0, "welcome: %s", h_result_str(n));
	ck_assert_msg(strncmp(line, "* welcome", 9) == 0, "not welcomed: %s",
	              line);
	return fd;
}

/* Connects from host and expects exactly the refusal notice, then a clean
 * FIN (h_wait_eof says -3 for a reset). */
static void
expect_refused(const char *host, int port, const char *notice)
{
	int fd = connect_from(host, port);

	ck_assert_msg(fd >= 0, "connect from %s: %s", host, strerror(errno));
	H_EXPECT_NEXT(fd, notice);
	ck_assert_int_eq(h_wait_eof(fd, T), 0);
	h_close(fd);
}

/* Ends a client the orderly way, so that it is gone from the server. */
static void
leave(int fd)
{
	ck_assert_int_eq(h_send(fd, "exit\n"), 0);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_wait_eof(fd, T), 0);
	h_close(fd);
}

/* A rules file in /tmp with text; path gets its name. */
static void
rules_file(char path[64], const char *text)
{
	int fd;

	snprintf(path, 64, "/tmp/tcpchat-rules-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
console(struct h_proc *srv, const char *line)
{
	ck_assert_int_eq(h_write(srv, line), 0);
}

/* ---- rules ---------------------------------------------------------- */

START_TEST(test_deny_option_refuses_ipv4_and_lets_ipv6_join)
{
	static const char *const args[] = {"--deny", "127.0.0.0/8", NULL};
	struct h_proc srv;
	size_t from = 0;

	server(&srv, args);
	expect_refused("127.0.0.1", srv.port, "* error: not allowed");
	ck_assert_int_eq(h_wait_output(&srv, 2, "refused 127.0.0.1:", &from, T),
	                 0);
	ck_assert_int_eq(h_wait_output(&srv, 2,
	                               "not allowed (denied by "
	                               "127.0.0.0/8)",
	                               &from, T),
	                 0);
	if (h_have_ipv6())
		leave(join_from("::1", srv.port));
	server_end(&srv);
}
END_TEST

START_TEST(test_allow_option_lets_only_that_address_join)
{
	static const char *const args[] = {"--allow", "::1", NULL};
	struct h_proc srv;

	if (!h_have_ipv6())
		return;
	server(&srv, args);
	expect_refused("127.0.0.1", srv.port, "* error: not allowed");
	leave(join_from("::1", srv.port));
	server_end(&srv);
}
END_TEST

START_TEST(test_rule_files_allow_and_deny)
{
	char allow[64], deny[64];
	const char *args[] = {"--allow-file", allow, "--deny-file", deny, NULL};
	struct h_proc srv;

	rules_file(allow, "# the loopback networks\n127.0.0.0/8\n\n::1\n");
	rules_file(deny, "127.0.0.2   # one address of them\n");
	server(&srv, args);
	leave(join_from("127.0.0.1", srv.port));
	expect_refused("127.0.0.2", srv.port, "* error: not allowed");
	if (h_have_ipv6())
		leave(join_from("::1", srv.port));
	server_end(&srv);
	unlink(allow);
	unlink(deny);
}
END_TEST

START_TEST(test_bad_rules_file_is_a_usage_error)
{
	char bad[64];
	const char *args[] = {"-p", "0", "--deny-file", bad, NULL};
	const char *argv[] = {
	    getenv("TCPCHATD"), args[0], args[1], args[2], args[3], NULL};
	struct h_proc p;

	rules_file(bad, "10.0.0.0/8\nnot-an-address\n");
	ck_assert_int_eq(h_spawn(&p, argv), 0);
	ck_assert_int_eq(h_wait_stream_eof(&p, 2, T), 0);
	ck_assert_msg(strstr(p.err, ":2: bad CIDR 'not-an-address'") != NULL,
	              "no line number in: %s", p.err);
	ck_assert_int_eq(h_wait_exit(&p, T), 2);
	unlink(bad);
}
END_TEST

/* Each address and reason is told on the console once a minute. */
START_TEST(test_refusals_are_told_once_per_address)
{
	static const char *const args[] = {"--deny", "127.0.0.0/8", NULL};
	struct h_proc srv;
	size_t from = 0;
	const char *p;
	int told = 0;

	server(&srv, args);
	expect_refused("127.0.0.1", srv.port, "* error: not allowed");
	expect_refused("127.0.0.1", srv.port, "* error: not allowed");
	expect_refused("127.0.0.3", srv.port, "* error: not allowed");
	/* Told in the order refused: once this one shows, the others have. */
	ck_assert_int_eq(h_wait_output(&srv, 2, "refused 127.0.0.3:", &from, T),
	                 0);
	for (p = srv.err; (p = strstr(p, "refused 127.0.0.1:")) != NULL; p++)
		told++;
	ck_assert_int_eq(told, 1);
	server_end(&srv);
}
END_TEST

/* The peer's data is still arriving when it is refused: the server reads
 * it to the peer's FIN, so the notice survives and the end is a FIN. A
 * close with the data unread would answer with a reset. */
START_TEST(test_denied_client_that_sent_data_gets_notice_and_fin)
{
	static const char *const args[] = {"--deny", "127.0.0.1", NULL};
	static char data[1024 * 1024];
	struct h_proc srv;
	int fd;

	memset(data, 'd', sizeof(data));
	for (size_t i = 63; i < sizeof(data); i += 64)
		data[i] = '\n';
	server(&srv, args);
	fd = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(h_send_buf(fd, data, sizeof(data), T), 0);
	H_EXPECT_NEXT(fd, "* error: not allowed");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_wait_eof(fd, T), 0);
	h_close(fd);
	server_end(&srv);
}
END_TEST

/* A piped tcpchat that is refused shows the notice and ends as after any
 * close by the server: exit 0, no "connection lost". */
START_TEST(test_piped_client_refused_as_full_exits_0_with_notice)
{
	static const char *const args[] = {"--max-clients", "1", NULL};
	struct h_proc srv, cli;
	char port[16];
	const char *cargs[] = {"127.0.0.1", port, NULL};
	size_t from = 0;
	int first;

	server(&srv, args);
	first = join_from("127.0.0.1", srv.port);
	snprintf(port, sizeof(port), "%d", srv.port);
	ck_assert_int_eq(h_client_start(&cli, false, cargs), 0);
	ck_assert_int_eq(h_write(&cli, "hello\nsecond line\n"), 0);
	h_close_stdin(&cli);
	ck_assert_int_eq(
	    h_wait_output(&cli, 1, "* error: server full", &from, T), 0);
	ck_assert_int_eq(h_wait_stream_eof(&cli, 2, T), 0);
	ck_assert_msg(strstr(cli.err, "connection lost") == NULL, "%s",
	              cli.err);
	ck_assert_int_eq(h_wait_exit(&cli, T), 0);
	leave(first);
	server_end(&srv);
}
END_TEST

START_TEST(test_max_per_ip_refuses_the_third_and_frees_a_slot)
{
	static const char *const args[] = {"--max-per-ip", "2", NULL};
	struct h_proc srv;
	int a, b;

	server(&srv, args);
	a = join_from("127.0.0.1", srv.port);
	b = join_from("127.0.0.1", srv.port);
	expect_refused("127.0.0.1", srv.port,
	               "* error: too many connections from your address");
	/* Another address has slots of its own. */
	leave(join_from("127.0.0.2", srv.port));
	leave(a);
	/* a's slot is given back when its session ends: poll for it. */
	for (int tries = 0;; tries++) {
		char line[256];
		int fd = h_connect("127.0.0.1", srv.port);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_ge(h_read_line(fd, line, sizeof(line), T), 0);
		if (strncmp(line, "* welcome", 9) == 0) {
			leave(fd);
			break;
		}
		ck_assert_str_eq(line, "* error: too many connections from "
		                       "your address");
		h_close(fd);
		ck_assert_int_lt(tries, 100);
	}
	leave(b);
	server_end(&srv);
}
END_TEST

/* ---- /ban, /unban, /bans -------------------------------------------- */

START_TEST(test_ban_by_nick_kicks_and_refuses_until_unban)
{
	struct h_proc srv;
	size_t from = 0;
	int fd;

	server(&srv, NULL);
	fd = join_from("127.0.0.1", srv.port);
	ck_assert_int_eq(h_send(fd, "/nick mallory\n"), 0);
	EXPECT_LINE(fd, "* you are now mallory");
	console(&srv, "/ban MALLORY\n");
	EXPECT_LINE(fd, "* you were banned by server");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_wait_eof(fd, T), 0);
	h_close(fd);
	ck_assert_int_eq(h_wait_output(&srv, 1, "* banned 127.0.0.1", &from, T),
	                 0);
	expect_refused("127.0.0.1", srv.port, "* error: not allowed");
	console(&srv, "/bans\n");
	{
		const char *const row[] = {"deny", "127.0.0.1", "console",
		                           NULL};

		ck_assert_int_eq(h_wait_output_line(&srv, 1, row, &from, T), 0);
	}
	console(&srv, "/unban 127.0.0.1\n");
	ck_assert_int_eq(
	    h_wait_output(&srv, 1, "* unbanned 127.0.0.1", &from, T), 0);
	leave(join_from("127.0.0.1", srv.port));
	console(&srv, "/unban 127.0.0.1\n");
	from = 0;
	ck_assert_int_eq(
	    h_wait_output(&srv, 2, "/unban 127.0.0.1: no such ban", &from, T),
	    0);
	server_end(&srv);
}
END_TEST

START_TEST(test_ban_cidr_closes_everyone_it_covers)
{
	static const char *const args[] = {"--deny", "10.0.0.0/8", NULL};
	struct h_proc srv;
	size_t from = 0;
	int a, b, other;

	server(&srv, args);
	a = join_from("127.0.0.5", srv.port);
	b = join_from("127.0.0.6", srv.port);
	other = join_from("127.0.0.1", srv.port);
	console(&srv, "/ban 127.0.0.4/31\n"); /* .4 and .5 */
	EXPECT_LINE(a, "* you were banned by server");
	ck_assert_int_eq(
	    h_wait_output(&srv, 1, "* banned 127.0.0.4/31: 1 connection closed",
	                  &from, T),
	    0);
	console(&srv, "/bans\n");
	{
		const char *const cl[] = {"deny", "10.0.0.0/8", "command line",
		                          NULL};
		const char *const co[] = {"deny", "127.0.0.4/31", "console",
		                          NULL};

		ck_assert_int_eq(h_wait_output_line(&srv, 1, cl, &from, T), 0);
		ck_assert_int_eq(h_wait_output_line(&srv, 1, co, &from, T), 0);
	}
	/* The others are still there. */
	ck_assert_int_eq(h_send(b, "still here\n"), 0);
	{
		char line[256];
		ssize_t n;

		while ((n = h_read_line(other, line, sizeof(line), T)) >= 0 &&
		       strstr(line, "still here") == NULL)
			;
		ck_assert_int_ge(n, 0);
	}
	h_close(a);
	leave(b);
	leave(other);
	server_end(&srv);
}
END_TEST

START_TEST(test_console_msg_and_kick_by_nick)
{
	struct h_proc srv;
	size_t from = 0;
	int fd;

	server(&srv, NULL);
	fd = join_from("127.0.0.1", srv.port);
	ck_assert_int_eq(h_send(fd, "/nick alice\n"), 0);
	EXPECT_LINE(fd, "* you are now alice");
	console(&srv, "/msg alice just you\n");
	EXPECT_LINE(fd, "server (private): just you");
	ck_assert_int_eq(h_wait_output(&srv, 1,
	                               "* to alice (private): just "
	                               "you",
	                               &from, T),
	                 0);
	console(&srv, "/kick alice\n");
	EXPECT_LINE(fd, "* you were kicked by server");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_wait_eof(fd, T), 0);
	h_close(fd);
	server_end(&srv);
}
END_TEST

/* ---- flood control -------------------------------------------------- */

/* The messages of /list's IN column for name, read from the console after
 * *from; -1 when no such row came in time. */
static long
msgs_in_of(struct h_proc *srv, const char *name, size_t *from)
{
	const char *const row[] = {" open ", name, NULL};
	unsigned id;
	char peer[64], nick[64], phase[32], tcp[32];
	unsigned long long bytes_in, msgs_in;
	size_t start;
	const char *line;

	console(srv, "/list\n");
	if (h_wait_output_line(srv, 1, row, from, T) != 0)
		return -1;
	/* The line ends at *from - 1; find where it begins. */
	start = *from - 1;
	while (start > 0 && srv->out[start - 1] != '\n')
		start--;
	line = srv->out + start;
	/* ID PEER NAME PHASE TCP IN OUT QUEUED, IN as bytes/messages. */
	if (sscanf(line, "%u %63s %63s %31s %31s %llu/%llu", &id, peer, nick,
	           phase, tcp, &bytes_in, &msgs_in) != 7)
		return -1;
	return (long)msgs_in;
}

/* 60 lines at once against --rate 5 --burst 10: all arrive, in order,
 * paced (the server has not taken them all while they trickle out, and
 * says once that it slows the sender down), and a third client's line
 * overtakes the flood's tail. */
START_TEST(test_paced_flood_arrives_whole_in_order_and_others_flow)
{
	static const char *const args[] = {"--rate", "5", "--burst", "10",
	                                   NULL};
	static char batch[60 * 16];
	struct h_proc srv;
	size_t len = 0, from = 0;
	char line[256];
	int flooder, reader, third, i;
	bool overtaken = false;
	long seen;

	server(&srv, args);
	flooder = join_from("127.0.0.1", srv.port);
	reader = join_from("127.0.0.1", srv.port);
	third = join_from("127.0.0.1", srv.port);
	ck_assert_int_eq(h_send(flooder, "/nick flooder\n"), 0);
	EXPECT_LINE(flooder, "* you are now flooder");
	ck_assert_int_eq(h_send(third, "/nick third\n"), 0);
	EXPECT_LINE(third, "* you are now third");
	for (i = 0; i < 60; i++)
		len += (size_t)snprintf(batch + len, sizeof(batch) - len,
		                        "line %02d\n", i);
	ck_assert_int_eq(h_send(flooder, batch), 0);
	for (i = 0; i < 60;) {
		ssize_t n = h_read_line(reader, line, sizeof(line), T);

		ck_assert_msg(n >= 0, "flood line %d: %s", i, h_result_str(n));
		if (strcmp(line, "third: between") == 0) {
			overtaken = true;
			continue;
		}
		if (strncmp(line, "flooder: ", 9) != 0)
			continue; /* joins and nicks */
		ck_assert_str_eq(line, h_fmt("flooder: line %02d", i));
		if (++i == 15) {
			/* Paced: the server has not read the rest yet. */
			seen = msgs_in_of(&srv, "flooder", &from);
			ck_assert_int_ge(seen, 15);
			ck_assert_int_lt(seen, 60);
			ck_assert_int_eq(h_send(third, "between\n"), 0);
		}
	}
	ck_assert_msg(overtaken, "the third client's line waited for the "
	                         "flood");
	from = 0;
	ck_assert_int_eq(h_wait_output(&srv, 1,
	                               "* flooder is sending too "
	                               "fast; slowing it down",
	                               &from, T),
	                 0);
	ck_assert_ptr_null(strstr(srv.out + from, "sending too fast"));
	leave(flooder);
	leave(reader);
	leave(third);
	server_end(&srv);
}
END_TEST

/* /kick reaches a client that flood control holds back: it gets the
 * notice, and what it had sent and the server had not read yet is read
 * and dropped to its FIN, never answered with a reset. */
START_TEST(test_kick_ends_a_paced_client_with_notice_and_fin)
{
	static const char *const args[] = {"--rate", "1", "--burst", "1", NULL};
	static char batch[64 * 1024];
	struct h_proc srv;
	size_t from = 0;
	int fd;

	memset(batch, 'p', sizeof(batch));
	for (size_t i = 99; i < sizeof(batch); i += 100)
		batch[i] = '\n';
	server(&srv, args);
	fd = join_from("127.0.0.1", srv.port);
	ck_assert_int_eq(h_send(fd, "/nick paced\n"), 0);
	EXPECT_LINE(fd, "* you are now paced");
	/* At a line a second, 655 lines would take 11 minutes. */
	ck_assert_int_eq(h_send_buf(fd, batch, sizeof(batch), T), 0);
	ck_assert_int_eq(
	    h_wait_output(&srv, 1, "* paced is sending too fast", &from, T), 0);
	console(&srv, "/kick paced\n");
	EXPECT_LINE(fd, "* you were kicked by server");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_wait_eof(fd, T), 0);
	h_close(fd);
	server_end(&srv);
}
END_TEST

/* An honest client that reads at about 1 MB/s and counts what its peer
 * sends it, in order. */
struct honest {
	int fd;
	const char *peer; /* "NAME: " of the other honest client */
	int want, got;
	bool out_of_order, ended;
	char bad[128];
};

#define HONEST_RATE (1000 * 1000) /* bytes a second */
#define HONEST_MSGS 30

static void
pace_bytes(size_t n)
{
	struct timespec ts = {0, (long)(n * 1000000000ULL / HONEST_RATE)};

	nanosleep(&ts, NULL); /* the reader's own speed, not a wait */
}

static void
honest_line(struct honest *h, const char *line)
{
	size_t plen = strlen(h->peer);
	int k;

	if (strncmp(line, h->peer, plen) != 0 ||
	    sscanf(line + plen, "msg %d", &k) != 1)
		return;
	if (k != h->got) {
		h->out_of_order = true;
		snprintf(h->bad, sizeof(h->bad), "%.120s", line);
	}
	h->got++;
}

static void *
honest_reader(void *arg)
{
	struct honest *h = arg;
	enum { BUF = 256 * 1024 };
	char *buf = malloc(BUF), *lf;
	size_t have = 0;
	ssize_t n;

	while (buf != NULL && h->got < h->want) {
		if (have == BUF)
			have = 0; /* a flood line longer than this: not ours */
		n = recv(h->fd, buf + have,
		         BUF - have > 16384 ? 16384 : BUF - have, 0);
		if (n <= 0) {
			h->ended = true;
			break;
		}
		have += (size_t)n;
		while ((lf = memchr(buf, '\n', have)) != NULL) {
			*lf = '\0';
			honest_line(h, buf);
			have -= (size_t)(lf + 1 - buf);
			memmove(buf, lf + 1, have);
		}
		pace_bytes((size_t)n);
	}
	free(buf);
	return NULL;
}

static char junk[4 * 1024 * 1024], no_lf[10 * 1024 * 1024];

/* Sends len bytes with plain send(): the harness's helpers also drain
 * the children's output, which only the test's main thread may do. */
static bool
send_plain(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void *
flood(void *arg)
{
	int fd = *(int *)arg;

	/* Blocked by flow control long before it is all sent: it ends when
	 * the test shuts the socket down. */
	if (send_plain(fd, junk, sizeof(junk)))
		(void)send_plain(fd, no_lf, sizeof(no_lf));
	return NULL;
}

/* Defaults on: a flooder sends 4 MiB of binary junk (four times larger
 * once escaped) and a 10 MiB line without LF, while two honest clients
 * that read at about 1 MB/s talk: neither is cut off, and each gets every
 * message of the other, in order. */
START_TEST(test_defaults_keep_honest_readers_whole_under_a_flood)
{
	struct h_proc srv;
	struct honest h[2] = {{.peer = "honest1: "}, {.peer = "honest0: "}};
	pthread_t readers[2], flooder_tid;
	size_t from = 0;
	unsigned x = 1;
	int flooder;

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (char)(x >> 16);
		if (junk[i] == '/') /* no commands */
			junk[i] = '?';
	}
	memset(no_lf, 'A', sizeof(no_lf));
	server(&srv, NULL);
	for (int i = 0; i < 2; i++) {
		h[i].fd = join_from("127.0.0.1", srv.port);
		h[i].want = HONEST_MSGS;
		ck_assert_int_eq(h_send(h[i].fd, h_fmt("/nick honest%d\n", i)),
		                 0);
		EXPECT_LINE(h[i].fd, h_fmt("* you are now honest%d", i));
	}
	flooder = join_from("127.0.0.1", srv.port);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(
		    pthread_create(&readers[i], NULL, honest_reader, &h[i]), 0);
	ck_assert_int_eq(pthread_create(&flooder_tid, NULL, flood, &flooder),
	                 0);
	for (int k = 0; k < HONEST_MSGS; k++) {
		struct timespec tick = {0, 100 * 1000000L}; /* people's pace */

		for (int i = 0; i < 2; i++)
			ck_assert_int_eq(h_send(h[i].fd, h_fmt("msg %d\n", k)),
			                 0);
		nanosleep(&tick, NULL);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(readers[i], NULL);
		ck_assert_msg(!h[i].ended, "honest%d was cut off after %d", i,
		              h[i].got);
		ck_assert_msg(!h[i].out_of_order, "honest%d: out of order: %s",
		              i, h[i].bad);
		ck_assert_int_eq(h[i].got, HONEST_MSGS);
	}
	ck_assert_int_eq(
	    h_wait_output(&srv, 1, "is sending too fast", &from, T), 0);
	ck_assert_ptr_null(strstr(srv.out, "too slow"));
	/* Wakes the flooder's send(); the fd is closed once it is out. */
	shutdown(flooder, SHUT_RDWR);
	pthread_join(flooder_tid, NULL);
	h_reset(flooder);
	for (int i = 0; i < 2; i++)
		h_close(h[i].fd);
	h_kill(&srv, SIGKILL); /* what the honest ones did not read is moot */
	h_wait_exit(&srv, T);
}
END_TEST

Suite *
tc_test_suite(void)
{
	Suite *s = suite_create("e2e_access");
	TCase *tc = tcase_create("rules");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_deny_option_refuses_ipv4_and_lets_ipv6_join);
	tcase_add_test(tc, test_allow_option_lets_only_that_address_join);
	tcase_add_test(tc, test_rule_files_allow_and_deny);
	tcase_add_test(tc, test_bad_rules_file_is_a_usage_error);
	tcase_add_test(tc, test_refusals_are_told_once_per_address);
	tcase_add_test(tc,
	               test_denied_client_that_sent_data_gets_notice_and_fin);
	tcase_add_test(tc,
	               test_piped_client_refused_as_full_exits_0_with_notice);
	tcase_add_test(tc, test_max_per_ip_refuses_the_third_and_frees_a_slot);
	suite_add_tcase(s, tc);

	tc = tcase_create("console");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ban_by_nick_kicks_and_refuses_until_unban);
	tcase_add_test(tc, test_ban_cidr_closes_everyone_it_covers);
	tcase_add_test(tc, test_console_msg_and_kick_by_nick);
	suite_add_tcase(s, tc);

	tc = tcase_create("flood");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc,
	               test_paced_flood_arrives_whole_in_order_and_others_flow);
	tcase_add_test(tc, test_kick_ends_a_paced_client_with_notice_and_fin);
	tcase_add_test(tc,
	               test_defaults_keep_honest_readers_whole_under_a_flood);
	suite_add_tcase(s, tc);
	return s;
}
