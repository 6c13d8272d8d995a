/* Unit tests for trace: TCP states read from TCP_INFO on real loopback
 * sockets at each step of a close, and the format of trace lines. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "tcpchat/ladder.h"
#include "tcpchat/net.h"
#include "tcpchat/trace.h"

struct conn {
	int lfd, client, server;
};

static void
connect_pair(struct conn *c)
{
	char bound[TC_ADDR_STR_MAX], err[TC_ERR_MAX];
	const char *port;

	c->lfd = tc_net_listen("127.0.0.1", "0", 4, bound, err, sizeof(err));
	ck_assert_msg(c->lfd >= 0, "listen: %s", err);
	port = strrchr(bound, ':') + 1;
	c->client =
	    tc_net_connect("127.0.0.1", port, AF_INET, err, sizeof(err));
	ck_assert_msg(c->client >= 0, "connect: %s", err);
	c->server = accept(c->lfd, NULL, NULL);
	ck_assert_int_ge(c->server, 0);
}

static void
close_pair(struct conn *c)
{
	close(c->client);
	close(c->server);
	close(c->lfd);
}

/* Polls fd's state until it is `want` or 5 s pass; returns the last seen.
 * (A deadline-bounded wait on the kernel, not a sleep.) */
static const char *
wait_state(int fd, const char *want, char *buf, size_t len)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (strcmp(tc_trace_tcp_state(fd, buf, len), want) == 0)
			return buf;
		poll(NULL, 0, 1);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < 5);
	return buf;
}

/* Blocks until fd reads EOF; returns true if it did. */
static bool
read_eof(int fd)
{
	char buf[64];

	return read(fd, buf, sizeof(buf)) == 0;
}

START_TEST(test_listening_and_connected_states)
{
	struct conn c;
	char st[64];

	connect_pair(&c);
	ck_assert_str_eq(tc_trace_tcp_state(c.lfd, st, sizeof(st)), "LISTEN");
	ck_assert_str_eq(tc_trace_tcp_state(c.client, st, sizeof(st)),
	                 "ESTABLISHED");
	ck_assert_str_eq(tc_trace_tcp_state(c.server, st, sizeof(st)),
	                 "ESTABLISHED");
	close_pair(&c);
}
END_TEST

START_TEST(test_half_close_states_of_both_sides)
{
	struct conn c;
	char st[64];

	connect_pair(&c);
	/* Client sends FIN: server CLOSE_WAIT once it is in. */
	shutdown(c.client, SHUT_WR);
	ck_assert(read_eof(c.server));
	ck_assert_str_eq(tc_trace_tcp_state(c.server, st, sizeof(st)),
	                 "CLOSE_WAIT");
	/* Our FIN was ACKed: the client waits in FIN_WAIT2. */
	ck_assert_str_eq(wait_state(c.client, "FIN_WAIT2", st, sizeof(st)),
	                 "FIN_WAIT2");
	/* Server's FIN: server LAST_ACK, CLOSED once ACKed. The client's
	 * socket says CLOSED: Linux keeps TIME_WAIT in a separate mini
	 * socket (see the kernel-table test below). */
	shutdown(c.server, SHUT_WR);
	ck_assert(read_eof(c.client));
	ck_assert_str_eq(tc_trace_tcp_state(c.client, st, sizeof(st)),
	                 "CLOSED");
	ck_assert_str_eq(wait_state(c.server, "CLOSED", st, sizeof(st)),
	                 "CLOSED");
	close_pair(&c);
}
END_TEST

START_TEST(test_state_of_non_socket_is_unknown_with_reason)
{
	int fds[2];
	char st[128];

	ck_assert_int_eq(pipe(fds), 0);
	tc_trace_tcp_state(fds[0], st, sizeof(st));
	ck_assert_int_eq(strncmp(st, "unknown: ", 9), 0);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* What the sink received: lines, and ladders as one block each. */
#define N_CAPTURED 320
static char captured[N_CAPTURED][TC_LADDER_TEXT_MAX + 1024];
static int n_captured;

/* Two threads may trace at once (the threaded test). */
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;

static void
capture(const char *line)
{
	pthread_mutex_lock(&capture_lock);
	if (n_captured < N_CAPTURED)
		snprintf(captured[n_captured++], sizeof(captured[0]), "%s",
		         line);
	pthread_mutex_unlock(&capture_lock);
}

/* The first captured entry holding needle, or NULL. */
static const char *
find_captured(const char *needle)
{
	int i;

	for (i = 0; i < n_captured; i++)
		if (strstr(captured[i], needle) != NULL)
			return captured[i];
	return NULL;
}

START_TEST(test_time_wait_is_read_from_the_kernel_table)
{
	struct tc_trace_conn tc;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.client, 0);
	shutdown(c.client, SHUT_WR);
	ck_assert(read_eof(c.server));
	shutdown(c.server, SHUT_WR);
	ck_assert(read_eof(c.client));
	/* The socket says CLOSED; the connection lives on in TIME_WAIT. */
	tc_trace(&tc, "received FIN");
	close(c.client);
	tc.fd = -1;
	tc_trace(&tc, "closed");
	ck_assert_int_eq(n_captured, 2);
	ck_assert_ptr_nonnull(
	    strstr(captured[0], "(tcp CLOSED; kernel: TIME_WAIT)"));
	ck_assert_ptr_nonnull(
	    strstr(captured[1], "(tcp socket closed; kernel: TIME_WAIT)"));
	tc_trace_conn_fini(&tc);
	close(c.server);
	close(c.lfd);
}
END_TEST

START_TEST(test_connection_gone_from_kernel_table_shows_no_kernel_state)
{
	struct tc_trace_conn tc;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	/* The passive closer: after the last ACK nothing of it remains. */
	tc_trace_conn_init(&tc, c.server, 0);
	shutdown(c.client, SHUT_WR);
	ck_assert(read_eof(c.server));
	shutdown(c.server, SHUT_WR);
	ck_assert(read_eof(c.client));
	close(c.server);
	tc.fd = -1;
	tc_trace(&tc, "closed");
	ck_assert_int_eq(n_captured, 1);
	ck_assert_ptr_nonnull(strstr(captured[0], "(tcp socket closed"));
	tc_trace_conn_fini(&tc);
	close(c.client);
	close(c.lfd);
}
END_TEST

START_TEST(test_trace_line_names_step_and_state)
{
	struct tc_trace_conn tc;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.server, 7);
	tc_trace(&tc, "received %s", "exit");
	ck_assert_int_eq(n_captured, 1);
	ck_assert_int_eq(strncmp(captured[0] + 15, " trace: conn 7 [", 16), 0);
	ck_assert_ptr_nonnull(
	    strstr(captured[0], "]: received exit (tcp ESTABLISHED)"));
	tc_trace_conn_fini(&tc);
	close_pair(&c);
}
END_TEST

START_TEST(test_trace_off_emits_nothing)
{
	struct tc_trace_conn tc;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(false, capture);
	tc_trace_conn_init(&tc, c.server, 1);
	tc_trace(&tc, "anything");
	ck_assert_int_eq(n_captured, 0);
	ck_assert(!tc_trace_enabled());
	tc_trace_conn_fini(&tc);
	close_pair(&c);
}
END_TEST

/* ---- timestamps ---- */

START_TEST(test_time_is_formatted_like_tcpdump)
{
	struct timespec ts = {.tv_sec = 13 * 3600 + 62, .tv_nsec = 123456789};
	char buf[TC_TRACE_TIME_MAX];

	setenv("TZ", "UTC0", 1);
	tzset();
	ck_assert_str_eq(tc_trace_format_time(&ts, buf), "13:01:02.123456");
	ts.tv_nsec = 5999;
	ck_assert_str_eq(tc_trace_format_time(&ts, buf), "13:01:02.000005");
}
END_TEST

START_TEST(test_time_is_local_time_as_tcpdump_prints_it)
{
	struct timespec ts = {.tv_sec = 13 * 3600 + 62, .tv_nsec = 0};
	char buf[TC_TRACE_TIME_MAX];

	/* POSIX TZ: two hours west of UTC, no zone database needed. */
	setenv("TZ", "XYZ+2", 1);
	tzset();
	ck_assert_str_eq(tc_trace_format_time(&ts, buf), "11:01:02.000000");
	unsetenv("TZ");
	tzset();
}
END_TEST

START_TEST(test_line_starts_with_the_wall_clock_time)
{
	char before[TC_TRACE_TIME_MAX], after[TC_TRACE_TIME_MAX];
	struct tc_trace_conn tc;
	struct timespec ts;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.client, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	tc_trace_format_time(&ts, before);
	tc_trace(&tc, "sent exit");
	clock_gettime(CLOCK_REALTIME, &ts);
	tc_trace_format_time(&ts, after);
	ck_assert_int_eq(n_captured, 1);
	ck_assert_int_eq(
	    strncmp(captured[0] + 15, " trace: sent exit (tcp ", 23), 0);
	/* Same day: the stamp lies between the two readings (a midnight in
	 * between would reorder them; then only the shape is checked). */
	if (strcmp(before, after) <= 0) {
		ck_assert_int_le(strncmp(before, captured[0], 15), 0);
		ck_assert_int_le(strncmp(captured[0], after, 15), 0);
	}
	ck_assert(captured[0][2] == ':' && captured[0][5] == ':' &&
	          captured[0][8] == '.');
	tc_trace_conn_fini(&tc);
	close_pair(&c);
}
END_TEST

/* ---- naming the connection ---- */

START_TEST(test_server_lines_name_the_peer_and_then_its_nick)
{
	char peer[TC_ADDR_STR_MAX], want[128];
	struct tc_trace_conn tc;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.server, 3);
	tc_net_local_str(c.client, peer);
	tc_trace(&tc, "one");
	tc_trace_set_name(&tc, "alice");
	tc_trace(&tc, "two");
	ck_assert_int_eq(n_captured, 2);
	snprintf(want, sizeof(want), " trace: conn 3 [%s]: one (tcp ", peer);
	ck_assert_ptr_nonnull(strstr(captured[0], want));
	snprintf(want, sizeof(want), " trace: conn 3 [%s alice]: two (tcp ",
	         peer);
	ck_assert_ptr_nonnull(strstr(captured[1], want));
	tc_trace_conn_fini(&tc);
	close_pair(&c);
}
END_TEST

START_TEST(test_accepted_and_connected_name_both_ends)
{
	char srv_end[TC_ADDR_STR_MAX], cli_end[TC_ADDR_STR_MAX], want[192];
	struct tc_trace_conn server, client;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&server, c.server, 1);
	tc_trace_conn_init(&client, c.client, 0);
	tc_net_local_str(c.server, srv_end);
	tc_net_local_str(c.client, cli_end);
	tc_trace_accepted(&server);
	tc_trace_connected(&client);
	ck_assert_int_eq(n_captured, 2);
	snprintf(want, sizeof(want), "accepted from %s on %s (tcp ESTABLISHED)",
	         cli_end, srv_end);
	ck_assert_ptr_nonnull(strstr(captured[0], want));
	snprintf(want, sizeof(want),
	         " trace: connected to %s from %s (tcp ESTABLISHED)", srv_end,
	         cli_end);
	ck_assert_ptr_nonnull(strstr(captured[1], want));
	tc_trace_conn_fini(&server);
	tc_trace_conn_fini(&client);
	close_pair(&c);
}
END_TEST

/* ---- sampling ---- */

/* Samples tc until a captured line holds needle or 5 s pass, waiting in
 * tc_trace_poll() on fd for events. True if the line came. */
static bool
sample_until(struct tc_trace_conn *tc, int fd, short events, const char *needle)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (tc_trace_poll(tc, &pfd, 1, 20) < 0)
			return false;
		if (find_captured(needle) != NULL)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < 5);
	return false;
}

/* Calls tc_trace_sample() until a captured line holds needle or 5 s
 * pass. True if the line came. */
static bool
sample_directly_until(struct tc_trace_conn *tc, const char *needle)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (!tc_trace_sample(tc))
			poll(NULL, 0, 1);
		if (find_captured(needle) != NULL)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < 5);
	return false;
}

START_TEST(test_sampler_reports_the_peers_fin_as_close_wait)
{
	struct tc_trace_conn tc;
	struct timespec start, now;
	struct conn c;
	bool changed = false;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.server, 1);
	ck_assert(!tc_trace_sample(&tc));
	ck_assert_int_eq(n_captured, 0);
	shutdown(c.client, SHUT_WR);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		changed = tc_trace_sample(&tc);
		if (!changed)
			poll(NULL, 0, 1);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (!changed && now.tv_sec - start.tv_sec < 5);
	ck_assert(changed);
	ck_assert_int_eq(n_captured, 1);
	ck_assert_ptr_nonnull(strstr(captured[0], "the peer's FIN arrived"));
	ck_assert_ptr_nonnull(strstr(captured[0], "(tcp CLOSE_WAIT)"));
	/* Told once: the next sample has nothing new. */
	ck_assert(!tc_trace_sample(&tc));
	ck_assert_int_eq(n_captured, 1);
	tc_trace_conn_fini(&tc);
	close_pair(&c);
}
END_TEST

START_TEST(test_sampler_sees_our_fin_acknowledged)
{
	struct tc_trace_conn tc;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.client, 0);
	shutdown(c.client, SHUT_WR);
	ck_assert(sample_directly_until(&tc, "(tcp FIN_WAIT2)"));
	ck_assert_ptr_nonnull(
	    strstr(find_captured("(tcp FIN_WAIT2)"), "our FIN w"));
	ck_assert_ptr_nonnull(
	    strstr(find_captured("(tcp FIN_WAIT2)"), "acknowledged"));
	tc_trace_conn_fini(&tc);
	close_pair(&c);
}
END_TEST

START_TEST(test_poll_keeps_sampling_while_it_waits_on_another_fd)
{
	struct tc_trace_conn tc;
	struct pollfd pfd;
	int idle[2];
	struct conn c;
	bool seen = false;
	int i;

	connect_pair(&c);
	ck_assert_int_eq(pipe(idle), 0);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.client, 0);
	shutdown(c.client, SHUT_WR);
	tc_trace_step(&tc, TC_TRACE_FIN_SENT, "shutdown(SHUT_WR)");
	ck_assert(read_eof(c.server));
	shutdown(c.server, SHUT_WR);
	/* The client's socket is never polled, only a silent pipe: the
	 * peer's FIN is found by sampling alone. */
	pfd = (struct pollfd){.fd = idle[0], .events = POLLIN};
	for (i = 0; i < 250 && !seen; i++) {
		ck_assert_int_eq(tc_trace_poll(&tc, &pfd, 1, 20), 0);
		seen = find_captured("kernel: TIME_WAIT)") != NULL;
	}
	ck_assert(seen);
	/* From FIN_WAIT2, or from FIN_WAIT1 if the ACK came with the FIN. */
	ck_assert_msg(find_captured("the peer's FIN arrived and we ack") ||
	                  find_captured("the peer acknowledged our FIN and "
	                                "sent its own"),
	              "%s", find_captured("kernel: TIME_WAIT)"));
	tc_trace_conn_fini(&tc);
	close(idle[0]);
	close(idle[1]);
	close_pair(&c);
}
END_TEST

START_TEST(test_poll_returns_what_poll_returns)
{
	struct tc_trace_conn tc;
	struct pollfd pfd;
	int p[2];
	struct conn c;

	connect_pair(&c);
	ck_assert_int_eq(pipe(p), 0);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.client, 0);
	pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
	ck_assert_int_eq(tc_trace_poll(&tc, &pfd, 1, 0), 0);
	ck_assert_int_eq(tc_trace_poll(&tc, &pfd, 1, 12), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(tc_trace_poll(&tc, &pfd, 1, -1), 1);
	ck_assert(pfd.revents & POLLIN);
	ck_assert_int_eq(n_captured, 0);
	tc_trace_conn_fini(&tc);
	close(p[0]);
	close(p[1]);
	close_pair(&c);
}
END_TEST

START_TEST(test_wait_is_shortened_only_while_closing)
{
	struct tc_trace_conn tc;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.server, 1);
	ck_assert_int_eq(tc_trace_wait_ms(&tc, -1), -1);
	ck_assert_int_eq(tc_trace_wait_ms(&tc, 5000), 5000);
	tc_trace_step(&tc, TC_TRACE_EXIT_RECEIVED, "received exit");
	ck_assert_int_eq(tc_trace_wait_ms(&tc, -1), TC_TRACE_SAMPLE_MS);
	ck_assert_int_eq(tc_trace_wait_ms(&tc, 5000), TC_TRACE_SAMPLE_MS);
	ck_assert_int_eq(tc_trace_wait_ms(&tc, 1), 1);
	tc_trace_conn_fini(&tc);
	close_pair(&c);
}
END_TEST

START_TEST(test_trace_off_allocates_nothing_and_polls_plainly)
{
	struct tc_trace_conn tc;
	struct pollfd pfd;
	int p[2];
	struct conn c;

	connect_pair(&c);
	ck_assert_int_eq(pipe(p), 0);
	n_captured = 0;
	tc_trace_setup(false, capture);
	tc_trace_conn_init(&tc, c.client, 0);
	ck_assert_ptr_null(tc.live);
	ck_assert(!tc.known);
	shutdown(c.client, SHUT_WR);
	tc_trace_step(&tc, TC_TRACE_FIN_SENT, "shutdown(SHUT_WR)");
	tc_trace_halfclosed_io(&tc, TC_TRACE_IN, 29, 1);
	ck_assert(!tc_trace_sample(&tc));
	ck_assert_int_eq(tc_trace_wait_ms(&tc, -1), -1);
	pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(tc_trace_poll(&tc, &pfd, 1, -1), 1);
	close(c.client);
	tc_trace_closed(&tc);
	ck_assert_int_eq(tc.fd, -1);
	ck_assert_int_eq(n_captured, 0);
	tc_trace_conn_fini(&tc);
	close(p[0]);
	close(p[1]);
	close(c.server);
	close(c.lfd);
}
END_TEST

/* ---- half-closed traffic ---- */

START_TEST(test_halfclosed_io_says_direction_size_and_state)
{
	struct tc_trace_conn server, client;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&server, c.server, 1);
	tc_trace_conn_init(&client, c.client, 0);
	shutdown(c.client, SHUT_WR);
	tc_trace_step(&client, TC_TRACE_FIN_SENT, "shutdown(SHUT_WR)");
	ck_assert(read_eof(c.server));
	tc_trace_halfclosed_io(&server, TC_TRACE_OUT, 58, 2);
	tc_trace_halfclosed_io(&client, TC_TRACE_IN, 29, 1);
	ck_assert_ptr_nonnull(
	    find_captured("]: sent 2 lines, 58 bytes over the half-closed "
	                  "connection (tcp CLOSE_WAIT)"));
	ck_assert_ptr_nonnull(find_captured(
	    " trace: received 1 line, 29 bytes after our FIN (tcp FIN_WAIT"));
	tc_trace_conn_fini(&server);
	tc_trace_conn_fini(&client);
	close_pair(&c);
}
END_TEST

/* ---- the ladder at the end ---- */

/* The captured ladder: the one entry with lines after its first. */
static const char *
captured_ladder(void)
{
	const char *l = find_captured("the close, as the ");

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(strchr(l, '\n'));
	return l;
}

/* The row after `from` holding both needles; NULL if none. */
static const char *
row_with(const char *from, const char *a, const char *b)
{
	const char *row = from, *end;

	while (row != NULL && *row != '\0') {
		end = strchr(row, '\n');
		if (end == NULL)
			end = row + strlen(row);
		const char *hit_a = strstr(row, a), *hit_b = strstr(row, b);

		if (hit_a != NULL && hit_a < end && hit_b != NULL &&
		    hit_b < end)
			return row;
		row = *end == '\n' ? end + 1 : NULL;
	}
	return NULL;
}

static void
assert_fits_80_columns(const char *text)
{
	const char *end;

	for (; text != NULL; text = end != NULL ? end + 1 : NULL) {
		end = strchr(text, '\n');
		ck_assert_int_le(
		    end != NULL ? (size_t)(end - text) : strlen(text), 80);
	}
}

START_TEST(test_client_ladder_shows_its_close_in_order)
{
	struct tc_trace_conn tc;
	const char *l, *row;
	struct conn c;
	char buf[64];

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.client, 0);
	tc_trace_connected(&tc);
	ck_assert_int_eq(write(c.client, "exit\n", 5), 5);
	tc_trace_step(&tc, TC_TRACE_EXIT_SENT, "sent exit");
	shutdown(c.client, SHUT_WR);
	tc_trace_step(&tc, TC_TRACE_FIN_SENT, "shutdown(SHUT_WR)");
	ck_assert_int_eq(read(c.server, buf, 5), 5);
	ck_assert(read_eof(c.server));
	ck_assert_int_eq(write(c.server, "bye\n", 4), 4);
	ck_assert_int_eq(read(c.client, buf, 4), 4);
	tc_trace_halfclosed_io(&tc, TC_TRACE_IN, 4, 1);
	shutdown(c.server, SHUT_WR);
	ck_assert(read_eof(c.client));
	tc_trace_step(&tc, TC_TRACE_FIN_RECEIVED, "received FIN (EOF)");
	close(c.client);
	tc_trace_closed(&tc);
	/* The client's lines carry no connection tag. */
	ck_assert_ptr_nonnull(find_captured(" trace: close() (tcp "));
	l = captured_ladder();
	ck_assert_ptr_nonnull(strstr(l, "the close, as the client saw it:"));
	ck_assert(strstr(l, "client") < strstr(l, "server"));
	row = row_with(l, " exit ", "->|");
	ck_assert_ptr_nonnull(row);
	row = row_with(row, " FIN ", "->|");
	ck_assert_ptr_nonnull(row);
	row = row_with(row, " 1 line, 4 bytes ", "|<-");
	ck_assert_ptr_nonnull(row);
	row = row_with(row, " FIN ", "|<-");
	ck_assert_ptr_nonnull(row);
	ck_assert_ptr_nonnull(row_with(row, "TIME_WAIT", "FIN"));
	row = row_with(row, " close() ", "TIME_WAIT");
	ck_assert_ptr_nonnull(row);
	assert_fits_80_columns(strchr(l, '\n') + 1);
	tc_trace_conn_fini(&tc);
	close(c.server);
	close(c.lfd);
}
END_TEST

/* Counts the rows of the ladder with both needles. */
static int
rows_with(const char *l, const char *a, const char *b)
{
	int n = 0;

	while ((l = row_with(l, a, b)) != NULL) {
		n++;
		l = strchr(l, '\n');
		if (l == NULL)
			break;
		l++;
	}
	return n;
}

START_TEST(test_server_ladder_draws_only_what_it_saw)
{
	struct tc_trace_conn tc;
	const char *l;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.server, 4);
	tc_trace_accepted(&tc);
	shutdown(c.client, SHUT_WR);
	/* The sampler finds the FIN first; the EOF must not draw it again. */
	ck_assert(sample_until(&tc, c.server, POLLIN, "(tcp CLOSE_WAIT)"));
	ck_assert(read_eof(c.server));
	tc_trace_step(&tc, TC_TRACE_FIN_RECEIVED, "received FIN");
	shutdown(c.server, SHUT_WR);
	tc_trace_step(&tc, TC_TRACE_FIN_SENT, "shutdown(SHUT_WR), FIN sent");
	close(c.server);
	tc_trace_closed(&tc);
	l = captured_ladder();
	ck_assert_ptr_nonnull(strstr(l, "the close, as the server saw it:"));
	ck_assert(strstr(l, "server") < strstr(l, "client"));
	ck_assert_int_eq(rows_with(l, " FIN ", "|<-"), 1);
	ck_assert_int_eq(rows_with(l, " FIN ", "->|"), 1);
	ck_assert_int_eq(rows_with(l, " exit ", "|"), 0);
	/* An ACK arrow only where the trace told of one. */
	ck_assert_int_eq(rows_with(l, " ACK ", "|<-"),
	                 find_captured("the peer acknowledged our FIN") ? 1
	                                                                : 0);
	ck_assert_int_eq(rows_with(l, " close() ", "CLOSED"), 1);
	assert_fits_80_columns(strchr(l, '\n') + 1);
	tc_trace_conn_fini(&tc);
	close(c.client);
	close(c.lfd);
}
END_TEST

START_TEST(test_close_without_shutdown_draws_the_fin_close_sent)
{
	struct tc_trace_conn tc;
	const char *l;
	struct conn c;

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.server, 5);
	close(c.server);
	tc_trace_closed(&tc);
	ck_assert_ptr_nonnull(find_captured("]: close() (tcp "));
	/* close() sent the FIN: the sampler saw the state it left. */
	ck_assert_ptr_nonnull(find_captured("our FIN"));
	l = captured_ladder();
	ck_assert_int_eq(rows_with(l, " close() ", "|"), 1);
	ck_assert_int_eq(rows_with(l, " FIN ", "->|"), 1);
	ck_assert_int_eq(rows_with(l, " FIN ", "|<-"), 0);
	tc_trace_conn_fini(&tc);
	close(c.client);
	close(c.lfd);
}
END_TEST

/* A writer thread's lines while the reader thread samples the same
 * connection: what one reads and records, the other sees in order. */
struct writer_arg {
	struct tc_trace_conn *tc;
	int fd;
};

static void *
writer_main(void *arg)
{
	struct writer_arg *w = arg;
	int i;

	for (i = 0; i < 200; i++) {
		if (write(w->fd, "hi\n", 3) != 3)
			break;
		tc_trace_halfclosed_io(w->tc, TC_TRACE_OUT, 3, 1);
	}
	shutdown(w->fd, SHUT_WR);
	tc_trace_step(w->tc, TC_TRACE_FIN_SENT, "shutdown(SHUT_WR)");
	return NULL;
}

START_TEST(test_two_threads_trace_one_connection_in_order)
{
	struct tc_trace_conn tc;
	struct writer_arg w;
	struct pollfd pfd;
	pthread_t writer;
	const char *l, *row, *prev = NULL;
	struct conn c;
	char buf[4096];

	connect_pair(&c);
	n_captured = 0;
	tc_trace_setup(true, capture);
	tc_trace_conn_init(&tc, c.server, 9);
	shutdown(c.client, SHUT_WR);
	ck_assert(read_eof(c.server));
	tc_trace_step(&tc, TC_TRACE_FIN_RECEIVED, "received FIN");
	w = (struct writer_arg){.tc = &tc, .fd = c.server};
	ck_assert_int_eq(pthread_create(&writer, NULL, writer_main, &w), 0);
	/* The client reads everything, so the writer never blocks; this
	 * thread keeps sampling the server's socket meanwhile. */
	pfd = (struct pollfd){.fd = c.client, .events = POLLIN};
	while (tc_trace_poll(&tc, &pfd, 1, 5000) > 0 &&
	       read(c.client, buf, sizeof(buf)) > 0)
		;
	ck_assert_int_eq(pthread_join(writer, NULL), 0);
	close(c.server);
	tc_trace_closed(&tc);
	l = captured_ladder();
	ck_assert_int_eq(rows_with(l, " FIN ", "->|"), 1);
	ck_assert_int_eq(rows_with(l, " FIN ", "|<-"), 1);
	ck_assert_int_eq(rows_with(l, "more lines", ">|"), 1);
	/* Rows are stamped under the connection's lock: times never go
	 * back, whichever thread recorded them. */
	for (row = strstr(l, "\n  "); row != NULL;
	     row = strstr(row + 1, "\n  ")) {
		if (row[3] < '0' || row[3] > '9')
			continue;
		if (prev != NULL)
			ck_assert_int_le(strncmp(prev, row + 3, 15), 0);
		prev = row + 3;
	}
	tc_trace_conn_fini(&tc);
	close(c.client);
	close(c.lfd);
}
END_TEST

static Suite *
trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *states = tcase_create("states");
	TCase *lines = tcase_create("lines");
	TCase *times = tcase_create("times");
	TCase *names = tcase_create("names");
	TCase *sampler = tcase_create("sampler");
	TCase *ladder = tcase_create("ladder");

	tcase_add_test(states, test_listening_and_connected_states);
	tcase_add_test(states, test_half_close_states_of_both_sides);
	tcase_add_test(states, test_state_of_non_socket_is_unknown_with_reason);
	tcase_set_timeout(states, 20);
	suite_add_tcase(s, states);
	tcase_add_test(lines, test_trace_line_names_step_and_state);
	tcase_add_test(lines, test_trace_off_emits_nothing);
	tcase_add_test(lines, test_time_wait_is_read_from_the_kernel_table);
	tcase_add_test(
	    lines,
	    test_connection_gone_from_kernel_table_shows_no_kernel_state);
	suite_add_tcase(s, lines);
	tcase_add_test(times, test_time_is_formatted_like_tcpdump);
	tcase_add_test(times, test_time_is_local_time_as_tcpdump_prints_it);
	tcase_add_test(times, test_line_starts_with_the_wall_clock_time);
	suite_add_tcase(s, times);
	tcase_add_test(names,
	               test_server_lines_name_the_peer_and_then_its_nick);
	tcase_add_test(names, test_accepted_and_connected_name_both_ends);
	tcase_add_test(names, test_halfclosed_io_says_direction_size_and_state);
	suite_add_tcase(s, names);
	tcase_add_test(sampler,
	               test_sampler_reports_the_peers_fin_as_close_wait);
	tcase_add_test(sampler, test_sampler_sees_our_fin_acknowledged);
	tcase_add_test(sampler,
	               test_poll_keeps_sampling_while_it_waits_on_another_fd);
	tcase_add_test(sampler, test_poll_returns_what_poll_returns);
	tcase_add_test(sampler, test_wait_is_shortened_only_while_closing);
	tcase_add_test(sampler,
	               test_trace_off_allocates_nothing_and_polls_plainly);
	tcase_set_timeout(sampler, 20);
	suite_add_tcase(s, sampler);
	tcase_add_test(ladder, test_client_ladder_shows_its_close_in_order);
	tcase_add_test(ladder, test_server_ladder_draws_only_what_it_saw);
	tcase_add_test(ladder,
	               test_close_without_shutdown_draws_the_fin_close_sent);
	tcase_add_test(ladder, test_two_threads_trace_one_connection_in_order);
	tcase_set_timeout(ladder, 20);
	suite_add_tcase(s, ladder);
	return s;
}

Suite *
tc_test_suite(void)
{
	return trace_suite();
}
