/* Unit tests for proto: classifying received lines (exit, commands, "//"
 * escapes, text), nick syntax, formatting of messages and notices with the
 * text escaped and within the bound, and the client help text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "tcpchat/proto.h"

static struct tc_cmd
parse(const char *line)
{
	struct tc_cmd cmd;

	memset(&cmd, 0xa5, sizeof(cmd)); /* stale fields must not survive */
	tc_proto_parse(line, strlen(line), &cmd);
	return cmd;
}

static void
expect_cmd(const char *line, enum tc_cmd_kind kind, const char *arg)
{
	struct tc_cmd cmd = parse(line);

	ck_assert_int_eq(cmd.kind, kind);
	ck_assert_uint_eq(cmd.arg_len, strlen(arg));
	if (cmd.arg_len > 0)
		ck_assert_mem_eq(cmd.arg, arg, cmd.arg_len);
}

/* --- parse --- */

START_TEST(test_exit_is_exit)
{
	expect_cmd("exit", TC_CMD_EXIT, "");
}
END_TEST

START_TEST(test_exit_variants_are_text)
{
	expect_cmd("exit ", TC_CMD_TEXT, "exit ");
	expect_cmd(" exit", TC_CMD_TEXT, " exit");
	expect_cmd("EXIT", TC_CMD_TEXT, "EXIT");
	expect_cmd("exit\r", TC_CMD_TEXT, "exit\r");
	expect_cmd("exi", TC_CMD_TEXT, "exi");
	expect_cmd("exits", TC_CMD_TEXT, "exits");
}
END_TEST

START_TEST(test_plain_line_is_text)
{
	expect_cmd("hello there", TC_CMD_TEXT, "hello there");
	expect_cmd("a/nick b", TC_CMD_TEXT, "a/nick b");
}
END_TEST

START_TEST(test_empty_line_is_empty_text)
{
	struct tc_cmd cmd;

	tc_proto_parse("", 0, &cmd);
	ck_assert_int_eq(cmd.kind, TC_CMD_TEXT);
	ck_assert_uint_eq(cmd.arg_len, 0);
}
END_TEST

START_TEST(test_double_slash_sends_text_with_one_slash)
{
	expect_cmd("//text", TC_CMD_TEXT, "/text");
	expect_cmd("//nick bob", TC_CMD_TEXT, "/nick bob");
	expect_cmd("//", TC_CMD_TEXT, "/");
}
END_TEST

START_TEST(test_nick_takes_its_argument)
{
	expect_cmd("/nick bob", TC_CMD_NICK, "bob");
}
END_TEST

START_TEST(test_nick_argument_loses_surrounding_spaces)
{
	expect_cmd("/nick   bob   ", TC_CMD_NICK, "bob");
}
END_TEST

START_TEST(test_nick_argument_keeps_inner_spaces)
{
	expect_cmd("/nick bob smith", TC_CMD_NICK, "bob smith");
}
END_TEST

START_TEST(test_nick_without_argument_has_empty_arg)
{
	expect_cmd("/nick", TC_CMD_NICK, "");
	expect_cmd("/nick    ", TC_CMD_NICK, "");
}
END_TEST

START_TEST(test_who_and_help_ignore_arguments)
{
	expect_cmd("/who", TC_CMD_WHO, "");
	expect_cmd("/who is here", TC_CMD_WHO, "");
	expect_cmd("/help", TC_CMD_HELP, "");
	expect_cmd("/help me", TC_CMD_HELP, "");
}
END_TEST

START_TEST(test_unknown_command_names_its_word)
{
	expect_cmd("/foo", TC_CMD_UNKNOWN, "/foo");
	expect_cmd("/foo bar baz", TC_CMD_UNKNOWN, "/foo");
	expect_cmd("/nickname x", TC_CMD_UNKNOWN, "/nickname");
	expect_cmd("/WHO", TC_CMD_UNKNOWN, "/WHO");
	expect_cmd("/wh", TC_CMD_UNKNOWN, "/wh");
}
END_TEST

START_TEST(test_slash_alone_is_unknown)
{
	expect_cmd("/", TC_CMD_UNKNOWN, "/");
	expect_cmd("/ x", TC_CMD_UNKNOWN, "/");
}
END_TEST

START_TEST(test_arg_points_into_the_line)
{
	static const char line[] = "/nick  bob";
	struct tc_cmd cmd;

	tc_proto_parse(line, sizeof(line) - 1, &cmd);
	ck_assert_ptr_eq(cmd.arg, line + 7);
}
END_TEST

/* --- nick rules --- */

/* "/msg NICK TEXT": the nick, then the text after the spaces. */
static void
expect_msg(const char *line, const char *nick, const char *text)
{
	struct tc_cmd cmd;

	tc_proto_parse(line, strlen(line), &cmd);
	ck_assert_int_eq(cmd.kind, TC_CMD_MSG);
	ck_assert_uint_eq(cmd.arg_len, strlen(nick));
	ck_assert_int_eq(memcmp(cmd.arg, nick, cmd.arg_len), 0);
	ck_assert_uint_eq(cmd.text_len, strlen(text));
	ck_assert_int_eq(memcmp(cmd.text, text, cmd.text_len), 0);
}

START_TEST(test_msg_takes_a_nick_and_the_rest_as_text)
{
	expect_msg("/msg bob hi there", "bob", "hi there");
	expect_msg("/msg   bob   hi  there ", "bob", "hi  there ");
	expect_msg("/msg bob", "bob", "");
	expect_msg("/msg", "", "");
	expect_cmd("//msg bob hi", TC_CMD_TEXT, "/msg bob hi");
}
END_TEST

START_TEST(test_private_line_names_the_sender_and_escapes_the_text)
{
	struct tc_msg *m = tc_proto_private("alice", "hi\x1b[2J", 6);

	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(tc_msg_data(m), "alice (private): hi\\x1b[2J\n");
	tc_msg_unref(m);
}
END_TEST

START_TEST(test_nicks_equal_ignoring_ascii_case_only)
{
	ck_assert(tc_proto_nick_eq("Bob", "bOB"));
	ck_assert(!tc_proto_nick_eq("bob", "bob2"));
	ck_assert(!tc_proto_nick_eq("bo", "bob"));
	/* Not folded: bytes past ASCII are compared as they are. */
	ck_assert(!tc_proto_nick_eq("\xc3\xa9", "\xc3\x89"));
}
END_TEST

START_TEST(test_nick_of_allowed_characters_is_valid)
{
	ck_assert(tc_proto_nick_valid("bob", 3));
	ck_assert(tc_proto_nick_valid("A-z_0.9", 7));
	ck_assert(tc_proto_nick_valid("x", 1));
	ck_assert(tc_proto_nick_valid("...", 3));
}
END_TEST

START_TEST(test_nick_of_32_bytes_is_valid_33_is_not)
{
	char name[TC_NICK_MAX + 1];

	memset(name, 'n', sizeof(name));
	ck_assert(tc_proto_nick_valid(name, TC_NICK_MAX));
	ck_assert(!tc_proto_nick_valid(name, TC_NICK_MAX + 1));
}
END_TEST

START_TEST(test_empty_nick_is_invalid)
{
	ck_assert(!tc_proto_nick_valid("", 0));
}
END_TEST

START_TEST(test_nick_with_other_bytes_is_invalid)
{
	static const char bad[] = " :/*@!\\\t\x1b\x7f,;'\"";
	char name[4] = "ab?";
	size_t i;

	for (i = 0; i < sizeof(bad) - 1; i++) {
		name[2] = bad[i];
		ck_assert_msg(!tc_proto_nick_valid(name, 3), "byte 0x%02x",
		              (unsigned char)bad[i]);
	}
	ck_assert(!tc_proto_nick_valid("caf\xc3\xa9", 5));
	ck_assert(!tc_proto_nick_valid("a\0b", 3));
}
END_TEST

/* --- formatting --- */

START_TEST(test_format_msg_is_name_colon_text_lf)
{
	char dst[64];
	size_t n;

	ck_assert_uint_le(tc_proto_msg_bound(5, 5), sizeof(dst));
	n = tc_proto_format_msg(dst, "alice", 5, "hello", 5);
	ck_assert_str_eq(dst, "alice: hello\n");
	ck_assert_uint_eq(n, strlen("alice: hello\n"));
}
END_TEST

START_TEST(test_format_msg_escapes_text)
{
	char dst[64];
	size_t n;

	n = tc_proto_format_msg(dst, "bob", 3, "\x1b[2Jhi\r", 7);
	ck_assert_str_eq(dst, "bob: \\x1b[2Jhi\\x0d\n");
	ck_assert_uint_eq(n, strlen(dst));
}
END_TEST

START_TEST(test_format_msg_keeps_utf8_text)
{
	char dst[64];

	tc_proto_format_msg(dst, "bob", 3, "\xe4\xbd\xa0\xe5\xa5\xbd", 6);
	ck_assert_str_eq(dst, "bob: \xe4\xbd\xa0\xe5\xa5\xbd\n");
}
END_TEST

START_TEST(test_format_msg_of_empty_text)
{
	char dst[16];

	ck_assert_uint_eq(tc_proto_format_msg(dst, "bob", 3, "", 0), 6);
	ck_assert_str_eq(dst, "bob: \n");
}
END_TEST

START_TEST(test_format_msg_worst_case_fits_the_bound)
{
	enum { TEXT_LEN = 300 };
	char text[TEXT_LEN], name[TC_NICK_MAX], *dst;
	size_t bound, n, i;

	for (i = 0; i < TEXT_LEN; i++)
		text[i] = (char)(0x80 + i % 128); /* all escaped, 4 each */
	memset(name, 'n', sizeof(name));
	bound = tc_proto_msg_bound(sizeof(name), TEXT_LEN);
	dst = malloc(bound + 1);
	ck_assert_ptr_nonnull(dst);
	dst[bound] = 'Z';
	n = tc_proto_format_msg(dst, name, sizeof(name), text, TEXT_LEN);
	ck_assert_uint_eq(n, sizeof(name) + 2 + TEXT_LEN * 4 + 1);
	ck_assert_uint_lt(n, bound); /* room for the NUL */
	ck_assert_int_eq(dst[n], '\0');
	ck_assert_int_eq(dst[n - 1], '\n');
	ck_assert_int_eq(dst[bound], 'Z');
	free(dst);
}
END_TEST

START_TEST(test_bound_saturates_instead_of_wrapping)
{
	ck_assert_uint_eq(tc_proto_msg_bound(10, (size_t)-1 / 2), (size_t)-1);
	ck_assert_uint_eq(tc_proto_msg_bound((size_t)-1, 10), (size_t)-1);
	ck_assert_uint_eq(tc_proto_notice_bound((size_t)-1 / 4), (size_t)-1);
}
END_TEST

START_TEST(test_format_notice_is_star_text_lf)
{
	char dst[64];
	size_t n;

	ck_assert_uint_le(tc_proto_notice_bound(9), sizeof(dst));
	n = tc_proto_format_notice(dst, "bob left", 8);
	ck_assert_str_eq(dst, "* bob left\n");
	ck_assert_uint_eq(n, strlen("* bob left\n"));
}
END_TEST

START_TEST(test_format_notice_escapes_text)
{
	char dst[64];

	tc_proto_format_notice(dst, "error: unknown /\x1b", 17);
	ck_assert_str_eq(dst, "* error: unknown /\\x1b\n");
}
END_TEST

START_TEST(test_format_notice_worst_case_fits_the_bound)
{
	enum { TEXT_LEN = 100 };
	char text[TEXT_LEN], *dst;
	size_t bound, n;

	memset(text, 0x1b, sizeof(text));
	bound = tc_proto_notice_bound(TEXT_LEN);
	dst = malloc(bound + 1);
	ck_assert_ptr_nonnull(dst);
	dst[bound] = 'Z';
	n = tc_proto_format_notice(dst, text, TEXT_LEN);
	ck_assert_uint_eq(n, 2 + TEXT_LEN * 4 + 1);
	ck_assert_uint_lt(n, bound);
	ck_assert_int_eq(dst[bound], 'Z');
	free(dst);
}
END_TEST

/* --- help --- */

START_TEST(test_client_help_is_short_safe_lines)
{
	size_t i;

	for (i = 0; tc_proto_client_help[i] != NULL; i++) {
		const char *l = tc_proto_client_help[i];

		ck_assert_uint_gt(strlen(l), 0);
		ck_assert_uint_le(strlen(l), 100);
		ck_assert_ptr_null(strchr(l, '\n'));
	}
	ck_assert_uint_ge(i, 3);
}
END_TEST

START_TEST(test_client_help_names_every_command)
{
	static const char *const words[] = {"/nick", "/who", "/help", "//",
	                                    "exit"};
	size_t w, i;

	for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		for (i = 0; tc_proto_client_help[i] != NULL; i++)
			if (strstr(tc_proto_client_help[i], words[w]))
				break;
		ck_assert_msg(tc_proto_client_help[i] != NULL,
		              "help does not mention %s", words[w]);
	}
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_exit_is_exit);
	tcase_add_test(tc, test_exit_variants_are_text);
	tcase_add_test(tc, test_plain_line_is_text);
	tcase_add_test(tc, test_empty_line_is_empty_text);
	tcase_add_test(tc, test_double_slash_sends_text_with_one_slash);
	tcase_add_test(tc, test_nick_takes_its_argument);
	tcase_add_test(tc, test_nick_argument_loses_surrounding_spaces);
	tcase_add_test(tc, test_nick_argument_keeps_inner_spaces);
	tcase_add_test(tc, test_nick_without_argument_has_empty_arg);
	tcase_add_test(tc, test_who_and_help_ignore_arguments);
	tcase_add_test(tc, test_unknown_command_names_its_word);
	tcase_add_test(tc, test_slash_alone_is_unknown);
	tcase_add_test(tc, test_arg_points_into_the_line);
	tcase_add_test(tc, test_msg_takes_a_nick_and_the_rest_as_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("nick");
	tcase_add_test(tc, test_nick_of_allowed_characters_is_valid);
	tcase_add_test(tc, test_nicks_equal_ignoring_ascii_case_only);
	tcase_add_test(tc,
	               test_private_line_names_the_sender_and_escapes_the_text);
	tcase_add_test(tc, test_nick_of_32_bytes_is_valid_33_is_not);
	tcase_add_test(tc, test_empty_nick_is_invalid);
	tcase_add_test(tc, test_nick_with_other_bytes_is_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_format_msg_is_name_colon_text_lf);
	tcase_add_test(tc, test_format_msg_escapes_text);
	tcase_add_test(tc, test_format_msg_keeps_utf8_text);
	tcase_add_test(tc, test_format_msg_of_empty_text);
	tcase_add_test(tc, test_format_msg_worst_case_fits_the_bound);
	tcase_add_test(tc, test_bound_saturates_instead_of_wrapping);
	tcase_add_test(tc, test_format_notice_is_star_text_lf);
	tcase_add_test(tc, test_format_notice_escapes_text);
	tcase_add_test(tc, test_format_notice_worst_case_fits_the_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("help");
	tcase_add_test(tc, test_client_help_is_short_safe_lines);
	tcase_add_test(tc, test_client_help_names_every_command);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return proto_suite();
}
