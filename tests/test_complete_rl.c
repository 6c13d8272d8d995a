/* Unit tests for complete_rl: readline, reading keys from a real pty,
 * completes nicks and commands through tc_deco_complete() when Tab is
 * pressed, with the suffix a single candidate brings. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/readline.h>

#include "check_main.h"
#include "tcpchat/complete_rl.h"
#include "tcpchat/decorate.h"

/* The pty: the test types on master, readline reads the terminal side. */
static int master = -1;
static FILE *tty;
static struct tc_deco *deco;
static char *got; /* the line readline delivered; NULL until then */
static bool eof;

static void
on_line(char *line)
{
	if (line == NULL)
		eof = true;
	got = line;
	rl_callback_handler_remove();
}

/* Throws away what readline echoes, so the pty never fills up. */
static void
drain_echo(void)
{
	char buf[512];

	while (read(master, buf, sizeof(buf)) > 0)
		continue;
}

/* Types keys on the terminal and runs readline until it hands over the
 * line (at most 5 s); returns it, owned by the test. */
static char *
type(const char *keys)
{
	int fd = fileno(tty);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	got = NULL;
	eof = false;
	rl_callback_handler_install("", on_line);
	ck_assert_int_eq(write(master, keys, strlen(keys)),
	                 (ssize_t)strlen(keys));
	while (got == NULL && !eof) {
		int n = poll(&p, 1, 5000);

		ck_assert_msg(n > 0, "readline got no key: %s",
		              n == 0 ? "timed out" : strerror(errno));
		rl_callback_read_char();
		drain_echo();
	}
	ck_assert_ptr_nonnull(got);
	return got;
}

static void
setup(void)
{
	struct tc_deco_opts o = {false, false, false};
	static const char *const lines[] = {
	    "* welcome, you are ann (4 online); /help lists commands",
	    "* 4 online: server, alice, Albert, bob",
	};
	char out[TC_DECO_BOUND(64)];
	int fd;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	fd = open(ptsname(master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(fd, 0);
	tty = fdopen(fd, "r+");
	ck_assert_ptr_nonnull(tty);

	deco = tc_deco_new(&o);
	ck_assert_ptr_nonnull(deco);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		tc_deco_line(deco, lines[i], strlen(lines[i]), NULL, out);

	/* No user settings, no terminal capabilities in the way. */
	setenv("INPUTRC", "/dev/null", 1);
	setenv("TERM", "dumb", 1);
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_instream = tty;
	rl_outstream = tty;
	tc_complete_rl_install(deco);
}

static void
teardown(void)
{
	fclose(tty);
	close(master);
	tc_deco_free(deco);
}

static void
expect(const char *keys, const char *want)
{
	char *line = type(keys);

	ck_assert_str_eq(line, want);
	free(line);
}

START_TEST(test_tab_completes_a_nick_with_colon_at_line_start)
{
	expect("ali\t\r", "alice: ");
	expect("b\thi\r", "bob: hi");
}
END_TEST

START_TEST(test_tab_completes_a_nick_with_space_elsewhere)
{
	expect("ask bo\tnow\r", "ask bob now");
	expect("/msg alb\thi\r", "/msg Albert hi");
}
END_TEST

START_TEST(test_tab_ignores_ascii_case)
{
	expect("ALI\t\r", "alice: ");
}
END_TEST

START_TEST(test_several_candidates_insert_their_common_prefix)
{
	expect("a\t\r", "al");
}
END_TEST

START_TEST(test_tab_completes_commands)
{
	expect("/m\t\r", "/msg ");
	expect("/wh\t\r", "/who");
}
END_TEST

START_TEST(test_no_candidate_leaves_the_word_and_never_a_file_name)
{
	char dir[] = "/tmp/test_complete_rl.XXXXXX";
	char old[4096], file[64];
	FILE *f;

	ck_assert_ptr_nonnull(getcwd(old, sizeof(old)));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/notes.txt", dir);
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(chdir(dir), 0);

	expect("zed\t\r", "zed");
	/* Readline's own fallback would make this "notes.txt ". */
	expect("not\t\r", "not");
	expect("an\t\r", "an"); /* the user's own nick is not offered */

	ck_assert_int_eq(chdir(old), 0);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
complete_rl_suite(void)
{
	Suite *s = suite_create("complete_rl");
	TCase *tc = tcase_create("readline");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tab_completes_a_nick_with_colon_at_line_start);
	tcase_add_test(tc, test_tab_completes_a_nick_with_space_elsewhere);
	tcase_add_test(tc, test_tab_ignores_ascii_case);
	tcase_add_test(tc, test_several_candidates_insert_their_common_prefix);
	tcase_add_test(tc, test_tab_completes_commands);
	tcase_add_test(tc,
	               test_no_candidate_leaves_the_word_and_never_a_file_name);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY);

	if (fd < 0) {
		fprintf(stderr, "test_complete_rl: no pty: %s\n",
		        strerror(errno));
		return NULL;
	}
	close(fd);
	return complete_rl_suite();
}
