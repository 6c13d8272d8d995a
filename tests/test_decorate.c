/* Unit tests for decorate: a colour per name, set-apart notices and
 * private messages, mentions (word bounds, case, nicks with . - _), the
 * bell, timestamps, what a peer cannot forge, when colour is wanted (real
 * ptys and pipes), the nicks learnt from the server and Tab completion. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "check_main.h"
#include "tcpchat/decorate.h"
#include "tcpchat/sanitize.h"

#define ESC "\033"
#define WELCOME_BOB "* welcome, you are bob (3 online); /help lists commands"

static const struct tc_deco_opts color_bell = {true, true, false};
static const struct tc_deco_opts plain = {false, true, false};

static struct tc_deco *
deco_new(const struct tc_deco_opts *o)
{
	struct tc_deco *d = tc_deco_new(o);

	ck_assert_ptr_nonnull(d);
	return d;
}

/* Decorates a NUL-terminated line at 09:05; the result lives until the
 * next call. */
static const char *
deco(struct tc_deco *d, const char *line)
{
	static char out[TC_DECO_BOUND(4096)];
	struct tm now = {.tm_hour = 9, .tm_min = 5};
	size_t len = strlen(line);
	size_t n;

	ck_assert_uint_le(len, 4096);
	n = tc_deco_line(d, line, len, &now, out);
	ck_assert_uint_eq(n, strlen(out));
	return out;
}

/* A colour-and-bell decorator that knows it is bob. */
static struct tc_deco *
bob(void)
{
	struct tc_deco *d = deco_new(&color_bell);

	deco(d, WELCOME_BOB);
	return d;
}

static bool
rings(const char *out)
{
	return strchr(out, '\a') != NULL;
}

static bool
highlighted(const char *out)
{
	return strstr(out, ESC "[7m") != NULL;
}

/* ---- colour per name ---- */

START_TEST(test_known_names_map_to_known_colours)
{
	ck_assert_int_eq(tc_deco_name_color("alice", 5), 130);
	ck_assert_int_eq(tc_deco_name_color("bob", 3), 163);
	ck_assert_int_eq(tc_deco_name_color("carol", 5), 166);
	ck_assert_int_eq(tc_deco_name_color("ann", 3), 160);
	ck_assert_int_eq(tc_deco_name_color("bo", 2), 98);
}
END_TEST

START_TEST(test_same_name_same_colour_whatever_its_case)
{
	struct tc_deco *d = deco_new(&color_bell);
	char want[64];

	snprintf(want, sizeof(want), ESC "[38;5;%dmcarol" ESC "[39m: hi",
	         tc_deco_name_color("carol", 5));
	ck_assert_str_eq(deco(d, "carol: hi"), want);
	ck_assert_str_eq(deco(d, "carol: hi"), want);
	ck_assert_int_eq(tc_deco_name_color("CaRoL", 5),
	                 tc_deco_name_color("carol", 5));
	tc_deco_free(d);
}
END_TEST

/* No black, white, grey or basic colour a theme may remap or use as the
 * background: only the 6x6x6 cube, and not its corners (16, 231). */
START_TEST(test_colours_avoid_background_and_grey)
{
	char name[16];
	bool seen[256] = {false};
	int distinct = 0;

	for (int i = 0; i < 2000; i++) {
		int c;

		snprintf(name, sizeof(name), "user%d", i);
		c = tc_deco_name_color(name, strlen(name));
		ck_assert_int_gt(c, 16);
		ck_assert_int_lt(c, 231);
		if (!seen[c])
			distinct++;
		seen[c] = true;
	}
	ck_assert_int_ge(distinct, 6);
}
END_TEST

START_TEST(test_notices_dimmed_errors_bold_red)
{
	struct tc_deco *d = deco_new(&color_bell);

	ck_assert_str_eq(deco(d, "* alice joined"),
	                 ESC "[2m* alice joined" ESC "[0m");
	ck_assert_str_eq(deco(d, "* error: no such nick 'zed'"),
	                 ESC "[1;31m* error: no such nick 'zed'" ESC "[0m");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_private_messages_are_bold_both_ways)
{
	struct tc_deco *d = deco_new(&color_bell);

	ck_assert_str_eq(deco(d, "alice (private): psst"),
	                 ESC "[1;38;5;130malice" ESC "[39m (private): psst" ESC
	                     "[0m\a");
	ck_assert_str_eq(deco(d, "* to alice (private): psst"),
	                 ESC "[1m* to " ESC "[38;5;130malice" ESC
	                     "[39m (private): psst" ESC "[0m");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_unlabelled_lines_pass_unchanged)
{
	struct tc_deco *d = deco_new(&color_bell);

	/* What a plain "nc -l" peer may type. */
	ck_assert_str_eq(deco(d, "hello there"), "hello there");
	ck_assert_str_eq(deco(d, "two words: no label"), "two words: no label");
	ck_assert_str_eq(deco(d, ": empty name"), ": empty name");
	ck_assert_str_eq(deco(d, ""), "");
	tc_deco_free(d);
}
END_TEST

/* ---- mentions ---- */

START_TEST(test_mention_highlights_and_rings_once)
{
	struct tc_deco *d = bob();
	const char *out = deco(d, "alice: hi bob, lunch?");

	ck_assert_str_eq(out, ESC "[38;5;130malice" ESC "[39m: " ESC
	                          "[7mhi bob, lunch?" ESC "[0m\a");
	ck_assert_int_eq(strchr(out, '\a') - out, (long)strlen(out) - 1);
	out = deco(d, "alice: bob bob BOB");
	ck_assert_ptr_eq(strchr(out, '\a'), strrchr(out, '\a'));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_mention_ignores_ascii_case)
{
	struct tc_deco *d = bob();

	ck_assert(rings(deco(d, "alice: BOB!")));
	ck_assert(rings(deco(d, "alice: Bob?")));
	deco(d, "* you are now Bob.Smith");
	ck_assert(rings(deco(d, "alice: ask bob.smith")));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_mention_needs_word_bounds)
{
	static const char *const yes[] = {
	    "alice: bob",        "alice: bob: look",   "alice: @bob",
	    "alice: (bob)",      "alice: thanks bob.", "alice: bob...",
	    "alice: bob's turn", "alice: x,bob,y",     "alice: \xc3\xa9 bob",
	    "alice: hey\tbob",
	};
	static const char *const no[] = {
	    "alice: bobby",     "alice: jimbob",  "alice: bob_", "alice: bob-2",
	    "alice: bob.smith", "alice: x.bob",   "alice: _bob", "alice: bo b",
	    "alice: b0b",       "alice: nothing",
	};
	struct tc_deco *d = bob();

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(rings(deco(d, yes[i])), "missed '%s'", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		const char *out = deco(d, no[i]);

		ck_assert_msg(!rings(out) && !highlighted(out), "took '%s'",
		              no[i]);
	}
	tc_deco_free(d);
}
END_TEST

START_TEST(test_nicks_with_dot_dash_underscore_are_matched_whole)
{
	struct tc_deco *d = deco_new(&color_bell);

	deco(d, "* welcome, you are j.doe-2_x (2 online); /help lists "
	        "commands");
	ck_assert(rings(deco(d, "alice: J.Doe-2_X: hi")));
	ck_assert(rings(deco(d, "alice: ask j.doe-2_x.")));
	ck_assert(!rings(deco(d, "alice: j.doe-2")));
	ck_assert(!rings(deco(d, "alice: j.doe-2_xy")));
	ck_assert(!rings(deco(d, "alice: aj.doe-2_x")));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_own_lines_never_ring)
{
	struct tc_deco *d = bob();
	const char *out;

	out = deco(d, "bob: I am bob");
	ck_assert(!rings(out) && !highlighted(out));
	out = deco(d, "BOB (private): note to bob");
	ck_assert(!rings(out) && !highlighted(out));
	ck_assert(!rings(deco(d, "* to alice (private): bob here")));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_nick_is_never_guessed_before_the_welcome)
{
	struct tc_deco *d = deco_new(&color_bell);
	char self[TC_DECO_NAME_MAX + 1];

	tc_deco_self(d, self);
	ck_assert_str_eq(self, "");
	ck_assert(!rings(deco(d, "alice: bob")));
	ck_assert(!rings(deco(d, "alice: ")));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_private_from_someone_else_rings)
{
	struct tc_deco *d = bob();

	ck_assert(rings(deco(d, "alice (private): psst")));
	ck_assert(highlighted(deco(d, "alice (private): psst, bob")));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_no_bell_keeps_the_highlight)
{
	struct tc_deco_opts o = {true, false, false};
	struct tc_deco *d = deco_new(&o);
	const char *out;

	deco(d, WELCOME_BOB);
	out = deco(d, "alice: hi bob");
	ck_assert(highlighted(out));
	ck_assert(!rings(out));
	ck_assert(!rings(deco(d, "alice (private): psst")));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_a_new_nick_is_the_one_mentioned)
{
	struct tc_deco *d = bob();

	deco(d, "* you are now robert");
	ck_assert(!rings(deco(d, "alice: bob?")));
	ck_assert(rings(deco(d, "alice: robert?")));
	tc_deco_free(d);
}
END_TEST

/* ---- what a peer cannot do ---- */

/* Every ESC in out starts one of the decorator's own SGR sequences. */
static void
assert_only_own_escapes(const char *out)
{
	static const char *const own[] = {
	    ESC "[0m",  ESC "[1m",    ESC "[2m",    ESC "[7m",
	    ESC "[39m", ESC "[1;31m", ESC "[38;5;", ESC "[1;38;5;",
	};

	for (const char *p = out; (p = strchr(p, '\033')) != NULL; p++) {
		bool ok = false;

		for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
			ok = ok || strncmp(p, own[i], strlen(own[i])) == 0;
		ck_assert_msg(ok, "foreign escape at '%s'", p + 1);
	}
	for (const char *p = out; *p != '\0'; p++)
		ck_assert_msg((unsigned char)*p >= 0x20 || *p == '\033' ||
		                  *p == '\t' || (*p == '\a' && p[1] == '\0'),
		              "control byte 0x%02x", (unsigned char)*p);
}

START_TEST(test_escaped_input_stays_escaped)
{
	static const char *const raw[] = {
	    "mallory: \033[31mred\033[0m \a\a bob",
	    "mallory (private): \033]0;title\a",
	    "* to mallory (private): \033[2J\r\b",
	    "* mallory joined\033c",
	    "\033[7mbob\a",
	    "mallory: \xc2\x9b"
	    "31m",
	};
	struct tc_deco *d = bob();
	char esc[TC_SANITIZE_BOUND(64)];

	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		const char *out;

		tc_sanitize(esc, raw[i], strlen(raw[i]));
		out = deco(d, esc);
		assert_only_own_escapes(out);
		/* The escaped text itself reaches the output whole. */
		ck_assert_msg(strstr(out, strchr(esc, '\\')) != NULL,
		              "lost '%s'", esc);
	}
	tc_deco_free(d);
}
END_TEST

/* Should an unescaped line ever reach it, no control byte gets out. */
START_TEST(test_raw_control_bytes_are_never_passed_on)
{
	struct tc_deco *d = bob();
	const char *out;

	out = deco(d, "mallory: \033[31mhi\a \xc2\x9b"
	              "2J bob");
	assert_only_own_escapes(out);
	ck_assert(strstr(out, "?[31mhi? ??2J") != NULL);
	tc_deco_free(d);
	d = deco_new(&plain);
	ck_assert_str_eq(deco(d, "\033[2J\x7f\r"), "?[2J??");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_peer_text_cannot_pose_as_a_notice_or_private)
{
	struct tc_deco *d = bob();
	char self[TC_DECO_NAME_MAX + 1];
	const char *out;

	/* The label is the first ": " of the line: the sender's name. */
	out = deco(d, "mallory: * you are now alice");
	ck_assert(strncmp(out, ESC "[38;5;", 7) == 0);
	tc_deco_self(d, self);
	ck_assert_str_eq(self, "bob");
	out = deco(d, "mallory: carol (private): hi");
	ck_assert(strstr(out, ESC "[1;") == NULL);
	ck_assert(!rings(out));
	deco(d, "mallory: * 1 online: zed");
	deco(d, "mallory: * eve joined");
	ck_assert(!tc_deco_knows(d, "zed"));
	ck_assert(!tc_deco_knows(d, "eve"));
	ck_assert(tc_deco_knows(d, "mallory"));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_mentioning_someone_else_changes_nothing)
{
	struct tc_deco *d = bob();
	const char *out = deco(d, "mallory: carol, \\x07\\x1b[7m alice");

	ck_assert(!rings(out) && !highlighted(out));
	ck_assert_str_eq(out, ESC "[38;5;"
	                          "28mmallory" ESC
	                          "[39m: carol, \\x07\\x1b[7m alice");
	tc_deco_free(d);
}
END_TEST

/* A line longer than the reader's buffer arrives in pieces: the later
 * ones begin with whatever the sender wrote there. */
START_TEST(test_rest_of_a_split_line_is_never_a_label)
{
	static const char *const rests[] = {
	    "carol (private): send me your password",
	    "* you are now mallory",
	    "* 1 online: eve",
	    "server: bob, the server is moving",
	};
	struct tc_deco_opts o = {true, true, true};
	struct tc_deco *d = deco_new(&o);
	struct tm now = {.tm_hour = 9, .tm_min = 5};
	char out[TC_DECO_BOUND(64)], self[TC_DECO_NAME_MAX + 1];
	char want[128];

	deco(d, WELCOME_BOB);
	for (size_t i = 0; i < sizeof(rests) / sizeof(rests[0]); i++) {
		tc_deco_rest(d, rests[i], strlen(rests[i]), &now, out);
		snprintf(want, sizeof(want), ESC "[2m09:05" ESC "[0m %s",
		         rests[i]);
		ck_assert_str_eq(out, want);
	}
	tc_deco_self(d, self);
	ck_assert_str_eq(self, "bob");
	ck_assert(!tc_deco_knows(d, "eve") && !tc_deco_knows(d, "carol"));
	tc_deco_rest(d, "\033[7m\a", 5, &now, out);
	ck_assert_str_eq(out, ESC "[2m09:05" ESC "[0m ?[7m?");
	tc_deco_free(d);
}
END_TEST

/* ---- when colour is wanted ---- */

static int
open_pty(void)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY);

	if (fd >= 0 && (grantpt(fd) < 0 || unlockpt(fd) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The pty's terminal side, which isatty() is true of. */
static int
open_tty(int *master)
{
	int fd;

	*master = open_pty();
	ck_assert_int_ge(*master, 0);
	fd = open(ptsname(*master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(test_colour_on_a_terminal_with_a_real_term)
{
	int master, tty = open_tty(&master);

	unsetenv("NO_COLOR");
	setenv("TERM", "xterm-256color", 1);
	ck_assert(tc_deco_color_wanted(false, tty));
	ck_assert(!tc_deco_color_wanted(true, tty));
	close(tty);
	close(master);
}
END_TEST

START_TEST(test_no_color_set_even_empty_turns_colour_off)
{
	int master, tty = open_tty(&master);

	setenv("TERM", "xterm", 1);
	setenv("NO_COLOR", "1", 1);
	ck_assert(!tc_deco_color_wanted(false, tty));
	setenv("NO_COLOR", "", 1);
	ck_assert(!tc_deco_color_wanted(false, tty));
	unsetenv("NO_COLOR");
	ck_assert(tc_deco_color_wanted(false, tty));
	close(tty);
	close(master);
}
END_TEST

START_TEST(test_dumb_or_missing_term_turns_colour_off)
{
	int master, tty = open_tty(&master);

	unsetenv("NO_COLOR");
	setenv("TERM", "dumb", 1);
	ck_assert(!tc_deco_color_wanted(false, tty));
	setenv("TERM", "", 1);
	ck_assert(!tc_deco_color_wanted(false, tty));
	unsetenv("TERM");
	ck_assert(!tc_deco_color_wanted(false, tty));
	close(tty);
	close(master);
}
END_TEST

START_TEST(test_not_a_terminal_turns_colour_off)
{
	int p[2];

	unsetenv("NO_COLOR");
	setenv("TERM", "xterm", 1);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(!tc_deco_color_wanted(false, p[1]));
	ck_assert(!tc_deco_color_wanted(false, -1));
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_without_colour_every_line_is_its_plain_self)
{
	static const char *const lines[] = {
	    WELCOME_BOB,
	    "alice: hi bob",
	    "alice (private): psst bob",
	    "* to alice (private): ok",
	    "* error: unknown command '/x' (try /help)",
	    "* alice is now al",
	    "mallory: \\x1b[31m",
	    "just text",
	};
	struct tc_deco *d = deco_new(&plain);

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		ck_assert_str_eq(deco(d, lines[i]), lines[i]);
	tc_deco_free(d);
}
END_TEST

START_TEST(test_bell_needs_colour)
{
	struct tc_deco *d = deco_new(&plain); /* bell asked, no colour */

	deco(d, WELCOME_BOB);
	ck_assert_str_eq(deco(d, "alice: bob!"), "alice: bob!");
	tc_deco_free(d);
}
END_TEST

/* ---- timestamps ---- */

START_TEST(test_timestamps_prefix_every_line)
{
	struct tc_deco_opts o = {false, false, true};
	struct tc_deco *d = deco_new(&o);
	struct tm late = {.tm_hour = 23, .tm_min = 59};
	char out[TC_DECO_BOUND(16)];

	ck_assert_str_eq(deco(d, "alice: hi"), "09:05 alice: hi");
	ck_assert_str_eq(deco(d, "* bob joined"), "09:05 * bob joined");
	ck_assert_str_eq(deco(d, ""), "09:05 ");
	tc_deco_line(d, "x", 1, &late, out);
	ck_assert_str_eq(out, "23:59 x");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_timestamps_are_dimmed_in_colour)
{
	struct tc_deco_opts o = {true, true, true};
	struct tc_deco *d = deco_new(&o);

	ck_assert_str_eq(deco(d, "just text"),
	                 ESC "[2m09:05" ESC "[0m just text");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_worst_case_fits_the_bound)
{
	struct tc_deco_opts o = {true, true, true};
	struct tc_deco *d = deco_new(&o);
	char line[TC_DECO_NAME_MAX + 64];
	char out[TC_DECO_BOUND(sizeof(line))];
	char nick[33], sender[33];
	size_t n;

	memset(nick, 'n', 32);
	nick[32] = '\0';
	memset(sender, 'm', 32);
	sender[32] = '\0';
	snprintf(line, sizeof(line), "* you are now %s", nick);
	deco(d, line);
	n = (size_t)snprintf(line, sizeof(line), "%s (private): %s", sender,
	                     nick);
	ck_assert_uint_le(tc_deco_line(d, line, n, &(struct tm){0}, out),
	                  n + TC_DECO_OVERHEAD);
	ck_assert(rings(out) && highlighted(out));
	tc_deco_free(d);
}
END_TEST

/* ---- nicks learnt ---- */

START_TEST(test_self_from_welcome_and_rename)
{
	struct tc_deco *d = deco_new(&plain);
	char self[TC_DECO_NAME_MAX + 1];

	deco(d, "* welcome, you are 127.0.0.1:40000 (2 online); /help lists "
	        "commands");
	tc_deco_self(d, self);
	ck_assert_str_eq(self, "127.0.0.1:40000");
	deco(d, "* you are now ann");
	tc_deco_self(d, self);
	ck_assert_str_eq(self, "ann");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_nicks_from_messages_joins_renames_and_leaves)
{
	struct tc_deco *d = deco_new(&plain);

	deco(d, "alice: hi");
	deco(d, "carol (private): psst");
	deco(d, "* to dave (private): yo");
	deco(d, "* erin joined");
	deco(d, "* frank joined");
	deco(d, "* gina joined");
	ck_assert(tc_deco_knows(d, "alice") && tc_deco_knows(d, "carol"));
	ck_assert(tc_deco_knows(d, "dave") && tc_deco_knows(d, "ERIN"));
	deco(d, "* erin is now erin2");
	ck_assert(!tc_deco_knows(d, "erin") && tc_deco_knows(d, "erin2"));
	deco(d, "* frank left");
	deco(d, "* gina left (connection reset by peer)");
	deco(d, "* alice was kicked");
	ck_assert(!tc_deco_knows(d, "frank"));
	ck_assert(!tc_deco_knows(d, "gina"));
	ck_assert(!tc_deco_knows(d, "alice"));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_who_reply_is_the_whole_room)
{
	struct tc_deco *d = deco_new(&plain);

	deco(d, "old: hi");
	deco(d, "* 4 online: server, alice, [::1]:5000, b.o-b_");
	ck_assert(tc_deco_knows(d, "server") && tc_deco_knows(d, "alice"));
	ck_assert(tc_deco_knows(d, "b.o-b_"));
	ck_assert(!tc_deco_knows(d, "old"));
	/* An address cannot be typed as a nick: not offered. */
	ck_assert(!tc_deco_knows(d, "[::1]:5000"));
	tc_deco_free(d);
}
END_TEST

START_TEST(test_nicks_remembered_are_bounded_oldest_forgotten)
{
	struct tc_deco *d = deco_new(&plain);
	char line[64];

	for (int i = 0; i < TC_DECO_NICKS_MAX + 10; i++) {
		snprintf(line, sizeof(line), "* n%d joined", i);
		deco(d, line);
		/* Seen again just before the set fills up: kept. */
		if (i == TC_DECO_NICKS_MAX - 1)
			deco(d, "n0: still here");
	}
	/* Ten had to go: the ten seen longest ago, n1 to n10. */
	ck_assert(tc_deco_knows(d, "n0"));
	ck_assert(!tc_deco_knows(d, "n1"));
	ck_assert(!tc_deco_knows(d, "n10"));
	ck_assert(tc_deco_knows(d, "n11"));
	snprintf(line, sizeof(line), "n%d", TC_DECO_NICKS_MAX + 9);
	ck_assert(tc_deco_knows(d, line));
	tc_deco_free(d);
}
END_TEST

/* ---- completion ---- */

/* Completes the word that ends at the end of line and starts after its
 * last space; returns the candidates joined by '|'. */
static const char *
complete(struct tc_deco *d, const char *line)
{
	static char out[1024];
	struct tc_deco_matches m;
	const char *sp = strrchr(line, ' ');
	size_t start = sp == NULL ? 0 : (size_t)(sp + 1 - line);

	ck_assert_int_eq(tc_deco_complete(d, line, start, strlen(line), &m), 0);
	out[0] = '\0';
	for (size_t i = 0; i < m.n; i++) {
		ck_assert_uint_le(m.v[i].word_len, strlen(m.v[i].text));
		if (i > 0)
			strcat(out, "|");
		strcat(out, m.v[i].text);
	}
	tc_deco_matches_free(&m);
	ck_assert_ptr_null(m.v);
	return out;
}

static struct tc_deco *
room(void)
{
	struct tc_deco *d = deco_new(&plain);

	deco(d, "* welcome, you are ann (5 online); /help lists commands");
	deco(d, "* 5 online: server, alice, Albert, bob, ann");
	return d;
}

START_TEST(test_commands_complete_at_line_start)
{
	struct tc_deco *d = room();

	ck_assert_str_eq(complete(d, "/"), "//|/help|/msg |/nick |/who");
	ck_assert_str_eq(complete(d, "/m"), "/msg ");
	ck_assert_str_eq(complete(d, "/n"), "/nick ");
	ck_assert_str_eq(complete(d, "/wh"), "/who");
	ck_assert_str_eq(complete(d, "//"), "//");
	ck_assert_str_eq(complete(d, "/x"), "");
	ck_assert_str_eq(complete(d, "hi /"), "");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_nicks_complete_with_colon_at_line_start)
{
	struct tc_deco *d = room();

	ck_assert_str_eq(complete(d, "al"), "Albert: |alice: ");
	ck_assert_str_eq(complete(d, "ALI"), "alice: ");
	ck_assert_str_eq(complete(d, "b"), "bob: ");
	ck_assert_str_eq(complete(d, "  b"), "bob: ");
	ck_assert_str_eq(complete(d, "zed"), "");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_nicks_complete_with_space_elsewhere)
{
	struct tc_deco *d = room();

	ck_assert_str_eq(complete(d, "ask bo"), "bob ");
	ck_assert_str_eq(complete(d, "/msg al"), "Albert |alice ");
	ck_assert_str_eq(complete(d, "hi "), "Albert |alice |bob |server ");
	tc_deco_free(d);
}
END_TEST

START_TEST(test_own_nick_is_not_offered)
{
	struct tc_deco *d = room();
	struct tc_deco_matches m;

	ck_assert_str_eq(complete(d, "an"), "");
	ck_assert_int_eq(tc_deco_complete(d, "alice: ", 7, 7, &m), 0);
	ck_assert_uint_eq(m.n, 4);
	ck_assert_str_eq(m.v[0].text, "Albert ");
	ck_assert_uint_eq(m.v[0].word_len, 6);
	tc_deco_matches_free(&m);
	tc_deco_free(d);
}
END_TEST

/* The reader thread learns while the console thread completes. */
struct churn {
	struct tc_deco *d;
	atomic_bool done;
};

__attribute__((format(printf, 2, 3))) static void
learn_line(struct tc_deco *d, const char *fmt, ...)
{
	char line[64], out[TC_DECO_BOUND(sizeof(line))];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	tc_deco_line(d, line, (size_t)n, NULL, out);
}

static void *
churn_main(void *arg)
{
	struct churn *ch = arg;

	for (int i = 0; i < 20000; i++) {
		learn_line(ch->d, "* al%d joined", i % 50);
		learn_line(ch->d, "* al%d is now bo%d", i % 50, i % 50);
		learn_line(ch->d, "* bo%d left", i % 50);
	}
	atomic_store(&ch->done, true);
	return NULL;
}

START_TEST(test_completion_while_the_reader_learns)
{
	struct churn ch = {.d = room()};
	struct tc_deco_matches m;
	pthread_t t;
	bool last = false;

	ck_assert_int_eq(pthread_create(&t, NULL, churn_main, &ch), 0);
	while (!last) {
		last = atomic_load(&ch.done);
		ck_assert_int_eq(tc_deco_complete(ch.d, "al", 0, 2, &m), 0);
		/* alice and Albert stay; each al%d comes and goes whole. */
		ck_assert_uint_ge(m.n, 2);
		for (size_t i = 0; i < m.n; i++) {
			const char *text = m.v[i].text;

			ck_assert(strncasecmp(text, "al", 2) == 0);
			ck_assert_str_eq(text + m.v[i].word_len, ": ");
		}
		tc_deco_matches_free(&m);
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(!tc_deco_knows(ch.d, "al7") && !tc_deco_knows(ch.d, "bo7"));
	ck_assert(tc_deco_knows(ch.d, "alice"));
	tc_deco_free(ch.d);
}
END_TEST

static Suite *
decorate_suite(void)
{
	Suite *s = suite_create("decorate");
	TCase *tc;

	tc = tcase_create("colour");
	tcase_add_test(tc, test_known_names_map_to_known_colours);
	tcase_add_test(tc, test_same_name_same_colour_whatever_its_case);
	tcase_add_test(tc, test_colours_avoid_background_and_grey);
	tcase_add_test(tc, test_notices_dimmed_errors_bold_red);
	tcase_add_test(tc, test_private_messages_are_bold_both_ways);
	tcase_add_test(tc, test_unlabelled_lines_pass_unchanged);
	suite_add_tcase(s, tc);

	tc = tcase_create("mentions");
	tcase_add_test(tc, test_mention_highlights_and_rings_once);
	tcase_add_test(tc, test_mention_ignores_ascii_case);
	tcase_add_test(tc, test_mention_needs_word_bounds);
	tcase_add_test(tc,
	               test_nicks_with_dot_dash_underscore_are_matched_whole);
	tcase_add_test(tc, test_own_lines_never_ring);
	tcase_add_test(tc, test_nick_is_never_guessed_before_the_welcome);
	tcase_add_test(tc, test_private_from_someone_else_rings);
	tcase_add_test(tc, test_no_bell_keeps_the_highlight);
	tcase_add_test(tc, test_a_new_nick_is_the_one_mentioned);
	suite_add_tcase(s, tc);

	tc = tcase_create("safety");
	tcase_add_test(tc, test_escaped_input_stays_escaped);
	tcase_add_test(tc, test_raw_control_bytes_are_never_passed_on);
	tcase_add_test(tc, test_peer_text_cannot_pose_as_a_notice_or_private);
	tcase_add_test(tc, test_mentioning_someone_else_changes_nothing);
	tcase_add_test(tc, test_rest_of_a_split_line_is_never_a_label);
	suite_add_tcase(s, tc);

	tc = tcase_create("plain");
	tcase_add_test(tc, test_not_a_terminal_turns_colour_off);
	tcase_add_test(tc, test_without_colour_every_line_is_its_plain_self);
	tcase_add_test(tc, test_bell_needs_colour);
	tcase_add_test(tc, test_timestamps_prefix_every_line);
	tcase_add_test(tc, test_timestamps_are_dimmed_in_colour);
	tcase_add_test(tc, test_worst_case_fits_the_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("nicks");
	tcase_add_test(tc, test_self_from_welcome_and_rename);
	tcase_add_test(tc, test_nicks_from_messages_joins_renames_and_leaves);
	tcase_add_test(tc, test_who_reply_is_the_whole_room);
	tcase_add_test(tc, test_nicks_remembered_are_bounded_oldest_forgotten);
	suite_add_tcase(s, tc);

	tc = tcase_create("completion");
	tcase_add_test(tc, test_commands_complete_at_line_start);
	tcase_add_test(tc, test_nicks_complete_with_colon_at_line_start);
	tcase_add_test(tc, test_nicks_complete_with_space_elsewhere);
	tcase_add_test(tc, test_own_nick_is_not_offered);
	tcase_add_test(tc, test_completion_while_the_reader_learns);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

/* The environment tests need a pty; a machine without one skips them. */
static void
add_tty_tests(Suite *s)
{
	int fd = open_pty();
	TCase *tc;

	if (fd < 0) {
		fprintf(stderr, "test_decorate: no pty: terminal tests left "
		                "out\n");
		return;
	}
	close(fd);
	tc = tcase_create("terminal");
	tcase_add_test(tc, test_colour_on_a_terminal_with_a_real_term);
	tcase_add_test(tc, test_no_color_set_even_empty_turns_colour_off);
	tcase_add_test(tc, test_dumb_or_missing_term_turns_colour_off);
	suite_add_tcase(s, tc);
}

Suite *
tc_test_suite(void)
{
	Suite *s = decorate_suite();

	add_tty_tests(s);
	return s;
}
