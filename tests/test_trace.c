/* Unit tests for trace: TCP states read from TCP_INFO on real loopback
 * sockets at each step of a close, and the format of trace lines. */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
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
		if (strcmp(tc_tcp_state(fd, buf, len), want) == 0)
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
	ck_assert_str_eq(tc_tcp_state(c.lfd, st, sizeof(st)), "LISTEN");
	ck_assert_str_eq(tc_tcp_state(c.client, st, sizeof(st)), "ESTABLISHED");
	ck_assert_str_eq(tc_tcp_state(c.server, st, sizeof(st)), "ESTABLISHED");
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
	ck_assert_str_eq(tc_tcp_state(c.server, st, sizeof(st)), "CLOSE_WAIT");
	/* Our FIN was ACKed: the client waits in FIN_WAIT2. */
	ck_assert_str_eq(wait_state(c.client, "FIN_WAIT2", st, sizeof(st)),
	                 "FIN_WAIT2");
	/* Server's FIN: server LAST_ACK, CLOSED once ACKed. The client's
	 * socket says CLOSED: Linux keeps TIME_WAIT in a separate mini
	 * socket (see the kernel-table test below). */
	shutdown(c.server, SHUT_WR);
	ck_assert(read_eof(c.client));
	ck_assert_str_eq(tc_tcp_state(c.client, st, sizeof(st)), "CLOSED");
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
	tc_tcp_state(fds[0], st, sizeof(st));
	ck_assert_int_eq(strncmp(st, "unknown: ", 9), 0);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static char captured[8][512];
static int n_captured;

static void
capture(const char *line)
{
	if (n_captured < 8)
		snprintf(captured[n_captured++], sizeof(captured[0]), "%s",
		         line);
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
	ck_assert_int_eq(strncmp(captured[0], "trace: [+", 9), 0);
	ck_assert_ptr_nonnull(
	    strstr(captured[0], "] conn 7: received exit (tcp ESTABLISHED)"));
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
	close_pair(&c);
}
END_TEST

static Suite *
trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *states = tcase_create("states");
	TCase *lines = tcase_create("lines");

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
	return s;
}

Suite *
tc_test_suite(void)
{
	return trace_suite();
}
