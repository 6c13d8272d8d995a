/* e2e_display: how tcpchat shows the chat, seen from its terminal.
 *
 * Runs the real client on a pseudo-terminal (or pipes) against a listening
 * socket of the test, which sends the server's lines byte for byte, and
 * once through tcpchatd: the colour of a name, a mention's highlight and
 * its one bell, --timestamps, Tab completion of a nick seen in the room
 * (and a Tab in a bracketed paste kept as text), the rest of a line over
 * 64 KiB shown plain, and no escape sequence at all where colour is off
 * (a pipe, NO_COLOR, TERM=dumb, --no-color). Also that the server's
 * console keeps Tab as text. Every wait has a deadline. Left out without
 * readline. */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
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

#define T_MS H_TIMEOUT_MS
#define PTY true
#define PIPES false

/* The environment in which the client may colour: a terminal type that
 * has colours, and no NO_COLOR (which the harness sets by default). */
static const char *const colour_env[] = {"NO_COLOR", "TERM=xterm", NULL};

/* The test is the server: one listening socket and the accepted client. */
struct fixture {
	int lfd, cfd;
	char port[8];
	struct h_proc p;
	size_t from; /* how far the client's stdout was read */
};

static int
listen_loopback(char *port, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sa_len = sizeof(sa);
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sa_len) < 0) {
		close(fd);
		return -1;
	}
	snprintf(port, len, "%d", ntohs(sa.sin_port));
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

/* Listens, starts the client (env, then opts and "127.0.0.1 PORT"),
 * accepts it, and on a pty waits for the prompt: readline is then
 * ready for keys. */
static void
fx_start(struct fixture *f, bool pty, const char *const *env,
         const char *const *opts)
{
	const char *args[16] = {"--no-history"};
	size_t n = 1, err_from = 0;

	memset(f, 0, sizeof(*f));
	f->lfd = listen_loopback(f->port, sizeof(f->port));
	ck_assert_int_ge(f->lfd, 0);
	for (size_t i = 0; opts != NULL && opts[i] != NULL && n < 13; i++)
		args[n++] = opts[i];
	args[n++] = "127.0.0.1";
	args[n++] = f->port;
	args[n] = NULL;
	ck_assert_int_eq(h_client_start_env(&f->p, pty, env, args), 0);
	f->cfd = accept_within(f->lfd, T_MS);
	ck_assert_int_ge(f->cfd, 0);
	ck_assert_int_eq(
	    h_wait_output(&f->p, 2, "tcpchat: connected to ", &err_from, T_MS),
	    0);
	if (pty)
		ck_assert_int_eq(h_wait_output(&f->p, 1, "> ", &f->from, T_MS),
		                 0);
}

/* The server sends line (its LF added) and the client shows its end. */
static void
fx_says(struct fixture *f, const char *line, const char *shown_end)
{
	ck_assert_int_eq(h_send(f->cfd, h_fmt("%s\n", line)), 0);
	ck_assert_msg(h_wait_output(&f->p, 1, shown_end, &f->from, T_MS) == 0,
	              "'%s' not shown; stdout:\n%s", shown_end, f->p.out);
}

/* The server closes first: the client exits 0. */
static void
fx_close(struct fixture *f)
{
	h_close(f->cfd);
	ck_assert_int_eq(h_wait_exit(&f->p, T_MS), 0);
	close(f->lfd);
}

static size_t
count_byte(const char *s, size_t len, char c)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

/* An SGR sequence: ESC [, digits and semicolons, m. */
static bool
has_sgr(const char *s, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++) {
		size_t j = i + 2;

		if (s[i] != '\033' || s[i + 1] != '[')
			continue;
		while (j < len && (s[j] == ';' || (s[j] >= '0' && s[j] <= '9')))
			j++;
		if (j < len && s[j] == 'm')
			return true;
	}
	return false;
}

/* The colour sequence right before the name at name_at, as
 * "\033[38;5;Nm" with N a 256-colour index; "" when there is none. */
static const char *
colour_before(const char *out, size_t name_at)
{
	static char sgr[32];
	const char *start = NULL;

	for (size_t i = name_at; i-- > 0 && name_at - i < sizeof(sgr);)
		if (out[i] == '\033') {
			start = out + i;
			break;
		}
	if (start == NULL || strncmp(start, "\033[38;5;", 7) != 0 ||
	    out[name_at - 1] != 'm')
		return "";
	snprintf(sgr, sizeof(sgr), "%.*s", (int)(out + name_at - start), start);
	return sgr;
}

/* ---- colours and the bell ---- */

START_TEST(test_each_name_is_shown_in_a_colour_of_its_own)
{
	struct fixture f;
	const char *hit;
	char first[32];

	fx_start(&f, PTY, colour_env, NULL);
	fx_says(&f, "bob: one", "one");
	hit = strstr(f.p.out, "bob\033[39m: one");
	ck_assert_ptr_nonnull(hit);
	snprintf(first, sizeof(first), "%s",
	         colour_before(f.p.out, (size_t)(hit - f.p.out)));
	ck_assert_msg(first[0] != '\0', "no colour before the name: %s",
	              f.p.out);
	/* The colour comes from the name: the same on the next line. */
	fx_says(&f, "bob: two", "two");
	hit = strstr(f.p.out, "bob\033[39m: two");
	ck_assert_ptr_nonnull(hit);
	ck_assert_str_eq(colour_before(f.p.out, (size_t)(hit - f.p.out)),
	                 first);
	fx_close(&f);
}
END_TEST

/* Through tcpchatd: the client learns its nick from the server's reply
 * to --name, and a peer who names it twice rings the bell once. */
START_TEST(test_a_mention_is_highlighted_and_rings_the_bell_once)
{
	static const char *const sargs[] = {"--name", "srv", NULL};
	struct h_proc srv, cl;
	char port[8];
	const char *args[] = {"--no-history", "--name", "ann",
	                      "127.0.0.1",    port,     NULL};
	size_t from = 0;
	int bob;

	ck_assert_int_eq(h_server_start(&srv, sargs), 0);
	snprintf(port, sizeof(port), "%d", srv.port);
	ck_assert_int_eq(h_client_start_env(&cl, PTY, colour_env, args), 0);
	ck_assert_int_eq(h_wait_output(&cl, 1, "you are now ann", &from, T_MS),
	                 0);
	bob = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(bob, 0);
	ck_assert_int_eq(h_send(bob, "/nick bob\nhey ann, ann!\n"), 0);
	ck_assert_int_eq(
	    h_wait_output(&cl, 1, "\033[7mhey ann, ann!", &from, T_MS), 0);
	/* A line that does not name ann comes after: nothing more rings. */
	ck_assert_int_eq(h_send(bob, "and bye\n"), 0);
	ck_assert_int_eq(h_wait_output(&cl, 1, "and bye", &from, T_MS), 0);
	ck_assert_uint_eq(count_byte(cl.out, cl.out_len, '\a'), 1);
	ck_assert_int_eq(h_write(&cl, "exit\r"), 0);
	ck_assert_int_eq(h_wait_exit(&cl, T_MS), 0);
	h_close(bob);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&srv, T_MS), 0);
}
END_TEST

START_TEST(test_no_bell_keeps_the_highlight_and_rings_nothing)
{
	static const char *const opts[] = {"--no-bell", NULL};
	struct fixture f;

	fx_start(&f, PTY, colour_env, opts);
	fx_says(&f, "* welcome, you are ann (2 online)", "online)");
	fx_says(&f, "bob: ann?", "\033[7mann?");
	fx_says(&f, "bob (private): psst", "psst");
	ck_assert_ptr_null(memchr(f.p.out, '\a', f.p.out_len));
	fx_close(&f);
}
END_TEST

/* ---- timestamps ---- */

static void
hh_mm(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	snprintf(buf, len, "%02d:%02d ", tm.tm_hour, tm.tm_min);
}

/* The line shown ends at end (exclusive) in out and began with text of
 * text_len bytes: true when one of the two stamps comes right before. */
static bool
stamped(const char *out, const char *end, size_t text_len, const char *before,
        const char *after)
{
	const char *text = end - text_len;

	if (text - out < 6)
		return false;
	return strncmp(text - 6, before, 6) == 0 ||
	       strncmp(text - 6, after, 6) == 0;
}

START_TEST(test_timestamps_put_hh_mm_before_every_line)
{
	static const char *const opts[] = {"--timestamps", NULL};
	struct fixture f;
	char before[8], after[8];

	hh_mm(before, sizeof(before));
	fx_start(&f, PTY, NULL, opts);
	fx_says(&f, "* welcome, you are ann (1 online)", "online)\r\n");
	fx_says(&f, "bob: stamped", "bob: stamped\r\n");
	hh_mm(after, sizeof(after));
	ck_assert_msg(stamped(f.p.out, f.p.out + f.from - 2, 12, before, after),
	              "no %s or %s before the message: %s", before, after,
	              f.p.out);
	/* Notices too: the welcome line has its stamp. */
	ck_assert(strstr(f.p.out, h_fmt("%s* welcome", before)) != NULL ||
	          strstr(f.p.out, h_fmt("%s* welcome", after)) != NULL);
	fx_close(&f);
}
END_TEST

/* ---- Tab completion ---- */

START_TEST(test_tab_completes_a_nick_seen_in_a_message)
{
	struct fixture f;

	fx_start(&f, PTY, NULL, NULL);
	fx_says(&f, "bob: hello", "bob: hello");
	/* At the start of a line the nick comes with ": ". */
	ck_assert_int_eq(h_write(&f.p, "bo\thi\r"), 0);
	H_EXPECT_NEXT(f.cfd, "bob: hi");
	fx_close(&f);
}
END_TEST

START_TEST(test_tab_does_not_complete_a_nick_never_seen)
{
	struct fixture f;

	fx_start(&f, PTY, NULL, NULL);
	fx_says(&f, "bob: hello", "bob: hello");
	/* No nick starts with "ca": Tab adds nothing, not even itself. */
	ck_assert_int_eq(h_write(&f.p, "ca\tt\r"), 0);
	H_EXPECT_NEXT(f.cfd, "cat");
	fx_close(&f);
}
END_TEST

/* ---- no colour ---- */

/* What a test server sends: every kind of line the display knows, a
 * mention and private message of the user's, and controls of a peer's. */
static const char *const room_lines[] = {
    "* welcome, you are ann (3 online)",
    "bob: hi ann",
    "* carol joined",
    "bob (private): psst",
    "* to bob (private): ok",
    "* error: no such nick",
    "carol: \033[31mred\a",
    NULL,
};

/* The same, as a client that does not colour prints them. */
static const char room_plain[] = "* welcome, you are ann (3 online)\n"
                                 "bob: hi ann\n"
                                 "* carol joined\n"
                                 "bob (private): psst\n"
                                 "* to bob (private): ok\n"
                                 "* error: no such nick\n"
                                 "carol: \\x1b[31mred\\x07\n";

static void
say_room_lines(struct fixture *f)
{
	for (size_t i = 0; room_lines[i] != NULL; i++)
		ck_assert_int_eq(h_send(f->cfd, h_fmt("%s\n", room_lines[i])),
		                 0);
}

START_TEST(test_a_pipe_gets_the_lines_byte_for_byte_plain)
{
	struct fixture f;

	fx_start(&f, PIPES, colour_env, NULL);
	say_room_lines(&f);
	h_close(f.cfd);
	ck_assert_int_eq(h_wait_stream_eof(&f.p, 1, T_MS), 0);
	ck_assert_str_eq(f.p.out, room_plain);
	ck_assert_int_eq(h_wait_exit(&f.p, T_MS), 0);
	close(f.lfd);
}
END_TEST

/* Terminals on which the client must not colour: NO_COLOR set even
 * empty, TERM=dumb, --no-color. */
static const struct {
	const char *env[3];
	const char *opt;
} plain_terminals[] = {
    {{"NO_COLOR=", "TERM=xterm", NULL}, NULL},
    {{"NO_COLOR", "TERM=dumb", NULL}, NULL},
    {{"NO_COLOR", "TERM=xterm", NULL}, "--no-color"},
};

START_TEST(test_no_color_dumb_term_and_option_show_no_sgr_or_bell)
{
	const char *opts[] = {plain_terminals[_i].opt, NULL};
	struct fixture f;

	fx_start(&f, PTY, plain_terminals[_i].env, opts);
	say_room_lines(&f);
	ck_assert_int_eq(h_wait_output(&f.p, 1, "carol: \\x1b[31mred\\x07\r\n",
	                               &f.from, T_MS),
	                 0);
	ck_assert_ptr_nonnull(strstr(f.p.out, "bob: hi ann\r\n"));
	ck_assert_msg(!has_sgr(f.p.out, f.p.out_len), "SGR in: %s", f.p.out);
	ck_assert_ptr_null(memchr(f.p.out, '\a', f.p.out_len));
	fx_close(&f);
}
END_TEST

/* The control of the test above: the same lines, with colour. */
START_TEST(test_the_same_lines_on_a_colour_terminal_have_sgr)
{
	struct fixture f;

	fx_start(&f, PTY, colour_env, NULL);
	say_room_lines(&f);
	ck_assert_int_eq(
	    h_wait_output(&f.p, 1, "\\x1b[31mred\\x07", &f.from, T_MS), 0);
	ck_assert(has_sgr(f.p.out, f.p.out_len));
	/* The private message rings; the peer's own \a was escaped. */
	ck_assert_uint_eq(count_byte(f.p.out, f.p.out_len, '\a'), 2);
	fx_close(&f);
}
END_TEST

/* A terminal that brackets pastes marks where one begins and ends (the
 * client asks it to): a Tab inside is part of the text. */
START_TEST(test_a_tab_in_a_bracketed_paste_is_text)
{
	struct fixture f;

	fx_start(&f, PTY, NULL, NULL);
	fx_says(&f, "bob: hello", "bob: hello");
	ck_assert_int_eq(h_write(&f.p, "\033[200~bo\tb\033[201~\r"), 0);
	H_EXPECT_NEXT(f.cfd, "bo\tb");
	fx_close(&f);
}
END_TEST

/* ---- a line too long to read in one piece ---- */

/* The client reads a line in pieces of 64 KiB; what follows the first is
 * the sender's text, even when it looks like another sender's label. */
START_TEST(test_the_rest_of_a_line_over_64_kib_is_shown_plain)
{
	const size_t piece = 64 * 1024;
	struct fixture f;
	char *line;
	const char *rest;

	fx_start(&f, PTY, colour_env, NULL);
	fx_says(&f, "* welcome, you are ann (2 online)", "online)");
	line = malloc(piece + 32);
	ck_assert_ptr_nonnull(line);
	memcpy(line, "bob: ", 5);
	memset(line + 5, 'z', piece - 5);
	strcpy(line + piece, "carol: hey ann\n");
	ck_assert_int_eq(h_send(f.cfd, line), 0);
	free(line);
	ck_assert_int_eq(
	    h_wait_output(&f.p, 1, "carol: hey ann\r\n", &f.from, T_MS), 0);
	rest = f.p.out + f.from - strlen("carol: hey ann\r\n");
	/* The first piece has bob's colour; the rest has none, nor a bell. */
	ck_assert_ptr_nonnull(strstr(f.p.out, "bob\033[39m: zzz"));
	ck_assert_msg(!has_sgr(rest, strlen(rest)), "SGR in the rest: %s",
	              rest);
	ck_assert_int_ne(rest[-1], 'm');
	ck_assert_ptr_null(memchr(f.p.out, '\a', f.p.out_len));
	fx_close(&f);
}
END_TEST

/* ---- the server's console ---- */

/* tcpchatd on the harness's pty (pointed at it for this start), as an
 * operator's terminal. */
static int
server_on_pty(struct h_proc *p, const char *const *args)
{
	char *client = strdup(getenv("TCPCHAT"));
	int rc;

	setenv("TCPCHAT", getenv("TCPCHATD"), 1);
	rc = h_client_start(p, PTY, args);
	setenv("TCPCHAT", client, 1);
	free(client);
	return rc;
}

static int
listening_port(struct h_proc *p)
{
	static const char prefix[] = "tcpchatd: listening on ";
	size_t from = 0, at;
	const char *colon;

	if (h_wait_output(p, 2, prefix, &from, T_MS) < 0)
		return -1;
	at = from;
	if (h_wait_output(p, 2, "\n", &from, T_MS) < 0)
		return -1;
	colon = memrchr(p->err + at, ':', from - at);
	return colon == NULL ? -1 : atoi(colon + 1);
}

START_TEST(test_the_server_console_keeps_tab_as_text)
{
	static const char *const args[] = {"-p", "0", "--name", "ops", NULL};
	struct h_proc srv;
	size_t from = 0;
	char line[256];
	int port, cfd;

	ck_assert_int_eq(server_on_pty(&srv, args), 0);
	port = listening_port(&srv);
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(h_wait_output(&srv, 1, "ops> ", &from, T_MS), 0);
	cfd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(cfd, 0);
	do
		ck_assert_int_ge(h_read_line(cfd, line, sizeof(line), T_MS), 0);
	while (strncmp(line, "* welcome", 9) != 0);
	ck_assert_int_eq(h_write(&srv, "a\tb\r"), 0);
	H_EXPECT_NEXT(cfd, "ops: a\tb");
	ck_assert_int_eq(h_write(&srv, "/quit\r"), 0);
	ck_assert_int_eq(h_wait_eof(cfd, T_MS), 0);
	h_close(cfd);
	ck_assert_int_eq(h_wait_exit(&srv, T_MS), 0);
}
END_TEST

Suite *
tc_test_suite(void)
{
	const char *rl = getenv("TC_HAVE_READLINE");
	Suite *s;
	TCase *tc;

	/* Every test but one is about a terminal that readline drives. */
	if (rl != NULL && strcmp(rl, "0") == 0) {
		fprintf(stderr, "skipped: tcpchat has no readline\n");
		return NULL;
	}
	s = suite_create("e2e_display");

	tc = tcase_create("colour");
	tcase_add_test(tc, test_each_name_is_shown_in_a_colour_of_its_own);
	tcase_add_test(tc,
	               test_a_mention_is_highlighted_and_rings_the_bell_once);
	tcase_add_test(tc, test_no_bell_keeps_the_highlight_and_rings_nothing);
	tcase_add_test(tc, test_the_same_lines_on_a_colour_terminal_have_sgr);
	tcase_add_test(tc, test_the_rest_of_a_line_over_64_kib_is_shown_plain);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("no_colour");
	tcase_add_test(tc, test_a_pipe_gets_the_lines_byte_for_byte_plain);
	tcase_add_loop_test(
	    tc, test_no_color_dumb_term_and_option_show_no_sgr_or_bell, 0,
	    (int)(sizeof(plain_terminals) / sizeof(plain_terminals[0])));
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("timestamps");
	tcase_add_test(tc, test_timestamps_put_hh_mm_before_every_line);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("completion");
	tcase_add_test(tc, test_tab_completes_a_nick_seen_in_a_message);
	tcase_add_test(tc, test_tab_does_not_complete_a_nick_never_seen);
	tcase_add_test(tc, test_a_tab_in_a_bracketed_paste_is_text);
	tcase_add_test(tc, test_the_server_console_keeps_tab_as_text);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
