/* End-to-end: the graceful shutdown with clients that read slowly. Each
 * slow client has a small receive buffer and a large backlog queued at the
 * server when SIGTERM comes; it must get every line, then the shutdown
 * notice, then a FIN, however long that takes, and the server exits 0. A
 * client that stops reading altogether is cut once it has acknowledged
 * nothing for 5 s, and the server's last line says what it did not get. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define SLOW_RCVBUF 4096
#define LINE_PAD 200 /* bytes of text per numbered line */

/* A client that reads a chunk, then rests: about chunk * 1e6 / pace_us
 * bytes a second, like a slow link. */
struct slow_reader {
	int fd;
	int pace_us;
	pthread_t thread;
	/* Results, read after the join. */
	int lines; /* numbered lines, each the next number */
	bool out_of_order;
	bool notice_last; /* the shutdown notice came right after them */
	bool fin;         /* then a clean EOF */
};

/* Looks at one whole line (no LF). */
static void
reader_line(struct slow_reader *r, const char *line)
{
	const char *seq = strstr(line, ": seq ");

	if (r->notice_last) {
		r->out_of_order = true; /* nothing may follow the notice */
	} else if (seq != NULL) {
		if (atoi(seq + 6) != r->lines)
			r->out_of_order = true;
		r->lines++;
	} else if (strcmp(line, "* server shutting down") == 0) {
		r->notice_last = true;
	}
}

static void *
reader_main(void *arg)
{
	struct slow_reader *r = arg;
	static __thread char line[4096];
	struct timespec rest = {0, r->pace_us * 1000L};
	size_t used = 0;
	char buf[1024];
	ssize_t n;

	for (;;) {
		n = recv(r->fd, buf, sizeof(buf), 0);
		if (n <= 0) {
			r->fin = n == 0;
			return NULL;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (used < sizeof(line) - 1)
					line[used++] = buf[i];
				continue;
			}
			line[used] = '\0';
			reader_line(r, line);
			used = 0;
		}
		nanosleep(&rest, NULL);
	}
}

/* Sends `count` numbered lines from fd, then /who, and waits for its
 * answer: the server has then queued every line for everyone. */
static void
send_numbered(int fd, int count)
{
	char line[LINE_PAD + 32], pad[LINE_PAD + 1], got[512];
	ssize_t len;

	memset(pad, 'x', LINE_PAD);
	pad[LINE_PAD] = '\0';
	for (int i = 0; i < count; i++) {
		snprintf(line, sizeof(line), "seq %05d %s\n", i, pad);
		ck_assert_int_eq(h_send(fd, line), 0);
	}
	ck_assert_int_eq(h_send(fd, "/who\n"), 0);
	do
		len = h_read_line(fd, got, sizeof(got), H_TIMEOUT_MS);
	while (len >= 0 && strstr(got, " online: ") == NULL);
	ck_assert_int_ge(len, 0);
}

START_TEST(test_slow_readers_get_everything_then_the_notice_and_a_fin)
{
	/* 6 clients x 3,000 lines of ~230 bytes at ~85 KB/s each: about 8 s
	 * of delivery after the signal, longer than any fixed grace. */
	enum { SLOW = 6, LINES = 3000 };
	static const char *const args[] = {"-q", "--rate", "0", NULL};
	struct slow_reader r[SLOW];
	struct h_proc srv;
	int sender;

	ck_assert_int_eq(h_server_start(&srv, args), 0);
	for (int i = 0; i < SLOW; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].fd = h_connect_opt("127.0.0.1", srv.port, SLOW_RCVBUF);
		ck_assert_int_ge(r[i].fd, 0);
		r[i].pace_us = 12000; /* 1 KiB per 12 ms */
	}
	sender = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(sender, 0);
	send_numbered(sender, LINES);
	h_kill(&srv, SIGTERM);
	for (int i = 0; i < SLOW; i++)
		ck_assert_int_eq(
		    pthread_create(&r[i].thread, NULL, reader_main, &r[i]), 0);
	for (int i = 0; i < SLOW; i++) {
		pthread_join(r[i].thread, NULL);
		ck_assert_int_eq(r[i].lines, LINES);
		ck_assert(!r[i].out_of_order);
		ck_assert(r[i].notice_last);
		ck_assert(r[i].fin);
	}
	/* It waits for our FINs: a server that gave up on a deadline would
	 * be gone by now, and could not know that we got everything. */
	ck_assert(h_running(&srv));
	for (int i = 0; i < SLOW; i++)
		h_close(r[i].fd);
	ck_assert_int_eq(h_wait_eof(sender, H_TIMEOUT_MS), 0);
	h_close(sender);
	ck_assert_int_eq(h_wait_exit(&srv, H_TIMEOUT_MS), 0);
}
END_TEST

START_TEST(test_a_reader_that_stops_is_cut_and_the_loss_is_told)
{
	static const char *const args[] = {"-q", "--rate", "0", NULL};
	struct h_proc srv;
	size_t from = 0;
	int stuck, sender;

	ck_assert_int_eq(h_server_start(&srv, args), 0);
	stuck = h_connect_opt("127.0.0.1", srv.port, SLOW_RCVBUF);
	ck_assert_int_ge(stuck, 0);
	sender = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(sender, 0);
	send_numbered(sender, 400);
	h_kill(&srv, SIGTERM);
	/* The sender reads: it is served and closed as usual. */
	ck_assert_int_eq(h_wait_eof(sender, H_TIMEOUT_MS), 0);
	ck_assert_int_eq(h_wait_output(&srv, 2, "1 client left with ", &from,
	                               H_TIMEOUT_MS * 2),
	                 0);
	ck_assert_int_eq(
	    h_wait_output(&srv, 2, " bytes undelivered\n", &from, H_TIMEOUT_MS),
	    0);
	ck_assert_int_eq(h_wait_exit(&srv, H_TIMEOUT_MS), 1);
	h_close(stuck);
	h_close(sender);
}
END_TEST

START_TEST(test_a_second_signal_ends_the_wait_at_once)
{
	static const char *const args[] = {"-q", "--rate", "0", NULL};
	struct h_proc srv;
	size_t from = 0;
	int stuck, sender;

	ck_assert_int_eq(h_server_start(&srv, args), 0);
	stuck = h_connect_opt("127.0.0.1", srv.port, SLOW_RCVBUF);
	ck_assert_int_ge(stuck, 0);
	sender = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(sender, 0);
	send_numbered(sender, 400);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(
	    h_wait_output(&srv, 2, "shutting down", &from, H_TIMEOUT_MS), 0);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_output(&srv, 2, "cutting every connection",
	                               &from, H_TIMEOUT_MS),
	                 0);
	ck_assert_int_eq(
	    h_wait_output(&srv, 2, "bytes undelivered", &from, H_TIMEOUT_MS),
	    0);
	ck_assert_int_eq(h_wait_exit(&srv, H_TIMEOUT_MS), 1);
	h_close(stuck);
	h_close(sender);
}
END_TEST

Suite *
tc_test_suite(void)
{
	Suite *s = suite_create("e2e_shutdown");
	TCase *tc = tcase_create("shutdown");

	tcase_add_test(
	    tc, test_slow_readers_get_everything_then_the_notice_and_a_fin);
	tcase_add_test(tc,
	               test_a_reader_that_stops_is_cut_and_the_loss_is_told);
	tcase_add_test(tc, test_a_second_signal_ends_the_wait_at_once);
	tcase_set_timeout(tc, 90);
	suite_add_tcase(s, tc);
	return s;
}
