/* e2e_console: the server console's keys, driven through a pseudo-terminal
 * as an operator's terminal drives them.
 *
 * tcpchatd runs on a pty: the prompt, Ctrl-C on a half-typed and on an
 * empty line, Ctrl-C twice, Ctrl-D, history, and a SIGINT sent with
 * kill(2) rather than typed. A raw client in the room checks what the
 * console's lines do. Left out when tcpchatd is built without readline. */
#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define T H_TIMEOUT_MS
#define CTRL_C "\003"
#define UP "\033[A"
#define HINT "press Ctrl-C again within 3 s, or type /quit, to shut down"

/* The server on its terminal, and one client in its room. */
struct console {
	struct h_proc srv;
	int port;
	int cfd;
	size_t out_at, err_at; /* how far srv's stdout/stderr were read */
};

/* Takes PORT from the "tcpchatd: listening on ADDR:PORT" line. */
static int
listening_port(struct h_proc *p)
{
	static const char prefix[] = "tcpchatd: listening on ";
	size_t from = 0, at;
	const char *colon;

	if (h_wait_output(p, 2, prefix, &from, T) < 0)
		return -1;
	at = from;
	if (h_wait_output(p, 2, "\n", &from, T) < 0)
		return -1;
	colon = memrchr(p->err + at, ':', from - at);
	return colon == NULL ? -1 : atoi(colon + 1);
}

/* The harness puts $TCPCHAT on a pseudo-terminal of its own; pointed at
 * tcpchatd for this one start, that gives the server the terminal an
 * operator has (its controlling tty: Ctrl-C there is the kernel's
 * SIGINT). */
static int
server_on_pty(struct h_proc *p, const char *const *extra)
{
	const char *argv[16] = {"-p", "0"};
	char *client = strdup(getenv("TCPCHAT"));
	size_t n = 2;
	int rc;

	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	setenv("TCPCHAT", getenv("TCPCHATD"), 1);
	rc = h_client_start(p, true, argv);
	setenv("TCPCHAT", client, 1);
	free(client);
	return rc;
}

/* Reads lines on fd until the welcome: from then on the client is in the
 * room and gets every broadcast. */
static int
wait_welcome(int fd)
{
	char line[512];
	ssize_t r;

	while ((r = h_read_line(fd, line, sizeof(line), T)) >= 0)
		if (strncmp(line, "* welcome", 9) == 0)
			return 0;
	return -1;
}

static void
console_start(struct console *c, const char *const *extra, const char *prompt)
{
	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(server_on_pty(&c->srv, extra), 0);
	c->port = listening_port(&c->srv);
	ck_assert_int_gt(c->port, 0);
	ck_assert_msg(h_wait_output(&c->srv, 1, prompt, &c->out_at, T) == 0,
	              "no prompt '%s' on the terminal: %s", prompt, c->srv.out);
	c->cfd = h_connect("127.0.0.1", c->port);
	ck_assert_int_ge(c->cfd, 0);
	ck_assert_int_eq(wait_welcome(c->cfd), 0);
}

/* The server says hint on stderr (after what was read of it before). */
static void
ck_said(struct console *c, const char *hint)
{
	ck_assert_msg(h_wait_output(&c->srv, 2, hint, &c->err_at, T) == 0,
	              "server did not say '%s'; stderr:\n%s", hint, c->srv.err);
}

/* The server shuts down gracefully: the client hears so, exit 0. */
static void
ck_shuts_down_rest(struct console *c)
{
	ck_assert_int_eq(h_wait_eof(c->cfd, T), 0);
	h_close(c->cfd);
	ck_assert_int_eq(h_wait_exit(&c->srv, T), 0);
}

static void
ck_shuts_down(struct console *c)
{
	ck_assert_int_eq(h_expect_line(c->cfd, "* server shutting down", T), 0);
	ck_shuts_down_rest(c);
}

/* Types text and Enter; the client must receive it as the server's. */
static void
ck_broadcast(struct console *c, const char *typed, const char *want)
{
	ck_assert_int_eq(h_write(&c->srv, typed), 0);
	ck_assert_int_eq(h_write(&c->srv, "\r"), 0);
	H_EXPECT_NEXT(c->cfd, want);
}

START_TEST(test_prompt_is_the_server_name)
{
	static const char *const args[] = {"--name", "ops", NULL};
	struct console c;

	console_start(&c, args, "ops> ");
	ck_broadcast(&c, "hello", "ops: hello");
	ck_assert_int_eq(h_write(&c.srv, "/quit\r"), 0);
	ck_shuts_down(&c);
}
END_TEST

START_TEST(test_ctrl_c_clears_a_half_typed_line)
{
	struct console c;

	console_start(&c, NULL, "server> ");
	ck_assert_int_eq(h_write(&c.srv, "half typed"), 0);
	ck_assert_int_eq(h_wait_output(&c.srv, 1, "half typed", &c.out_at, T),
	                 0);
	ck_assert_int_eq(h_write(&c.srv, CTRL_C), 0);
	ck_assert_int_eq(h_wait_output(&c.srv, 1, "server> ", &c.out_at, T), 0);
	/* Only what was typed after Ctrl-C is sent: the line was cleared. */
	ck_broadcast(&c, "whole", "server: whole");
	ck_assert(strstr(c.srv.err, HINT) == NULL);
	ck_assert(h_running(&c.srv));
	ck_assert_int_eq(h_write(&c.srv, "/quit\r"), 0);
	ck_shuts_down(&c);
}
END_TEST

START_TEST(test_ctrl_c_twice_on_an_empty_line_shuts_down)
{
	struct console c;

	console_start(&c, NULL, "server> ");
	ck_assert_int_eq(h_write(&c.srv, CTRL_C), 0);
	ck_said(&c, HINT);
	/* The first one only asked: the room goes on. */
	ck_broadcast(&c, "still open", "server: still open");
	/* A line came in between: the next one asks again. */
	ck_assert_int_eq(h_write(&c.srv, CTRL_C), 0);
	ck_said(&c, HINT);
	ck_assert_int_eq(h_write(&c.srv, CTRL_C), 0);
	ck_shuts_down(&c);
}
END_TEST

START_TEST(test_ctrl_c_that_cleared_a_line_does_not_count)
{
	struct console c;

	console_start(&c, NULL, "server> ");
	ck_assert_int_eq(h_write(&c.srv, "abc"), 0);
	ck_assert_int_eq(h_wait_output(&c.srv, 1, "abc", &c.out_at, T), 0);
	ck_assert_int_eq(h_write(&c.srv, CTRL_C), 0);
	ck_assert_int_eq(h_wait_output(&c.srv, 1, "server> ", &c.out_at, T), 0);
	/* Now the line is empty: this one asks, it does not shut down. */
	ck_assert_int_eq(h_write(&c.srv, CTRL_C), 0);
	ck_said(&c, HINT);
	ck_broadcast(&c, "not gone", "server: not gone");
	ck_assert_int_eq(h_write(&c.srv, "/quit\r"), 0);
	ck_shuts_down(&c);
}
END_TEST

START_TEST(test_ctrl_d_on_an_empty_line_keeps_the_console)
{
	struct console c;

	console_start(&c, NULL, "server> ");
	h_close_stdin(&c.srv); /* on a pty: types the EOF key, Ctrl-D */
	ck_said(&c, "type /quit");
	ck_broadcast(&c, "after ctrl-d", "server: after ctrl-d");
	h_close_stdin(&c.srv);
	ck_said(&c, "type /quit");
	ck_assert_int_eq(h_write(&c.srv, "/quit\r"), 0);
	ck_shuts_down(&c);
}
END_TEST

START_TEST(test_up_recalls_the_last_console_line)
{
	struct console c;

	console_start(&c, NULL, "server> ");
	ck_broadcast(&c, "say it twice", "server: say it twice");
	ck_broadcast(&c, UP, "server: say it twice");
	ck_assert_int_eq(h_write(&c.srv, "/quit\r"), 0);
	ck_shuts_down(&c);
}
END_TEST

START_TEST(test_sigint_from_kill_shuts_down_at_once)
{
	struct console c;

	console_start(&c, NULL, "server> ");
	/* Not the terminal's Ctrl-C: no question, the shutdown starts. */
	h_kill(&c.srv, SIGINT);
	ck_assert_int_eq(h_expect_line(c.cfd, "* server shutting down", T), 0);
	ck_assert(strstr(c.srv.err, HINT) == NULL);
	ck_shuts_down_rest(&c);
}
END_TEST

static Suite *
console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("keys");

	tcase_add_test(tc, test_prompt_is_the_server_name);
	tcase_add_test(tc, test_ctrl_c_clears_a_half_typed_line);
	tcase_add_test(tc, test_ctrl_c_twice_on_an_empty_line_shuts_down);
	tcase_add_test(tc, test_ctrl_c_that_cleared_a_line_does_not_count);
	tcase_add_test(tc, test_ctrl_d_on_an_empty_line_keeps_the_console);
	tcase_add_test(tc, test_up_recalls_the_last_console_line);
	tcase_add_test(tc, test_sigint_from_kill_shuts_down_at_once);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	if (getenv("TC_HAVE_READLINE") == NULL ||
	    strcmp(getenv("TC_HAVE_READLINE"), "1") != 0) {
		fprintf(stderr, "e2e_console: skipped: tcpchatd is built "
		                "without readline\n");
		return NULL;
	}
	return console_suite();
}
