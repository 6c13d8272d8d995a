/* Unit tests for sanitize: which bytes are escaped as \xNN (C0 but TAB,
 * DEL, C1, every byte of invalid UTF-8), which pass (printable ASCII,
 * backslash, valid UTF-8 text), the fast path's verdict and the bound. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "tcpchat/sanitize.h"

/* Sanitizes len bytes of src and checks the result is exactly want, that
 * the returned length matches, and that is_clean agrees. */
static void
expect_len(const char *src, size_t len, const char *want)
{
	char *dst = malloc(TC_SANITIZE_BOUND(len));
	size_t n;

	ck_assert_ptr_nonnull(dst);
	n = tc_sanitize(dst, src, len);
	ck_assert_uint_eq(n, strlen(dst));
	ck_assert_str_eq(dst, want);
	ck_assert_int_eq(tc_sanitize_is_clean(src, len),
	                 len == strlen(want) && memcmp(src, want, len) == 0);
	free(dst);
}

static void
expect(const char *src, const char *want)
{
	expect_len(src, strlen(src), want);
}

/* --- what passes unchanged --- */

START_TEST(test_printable_ascii_passes)
{
	expect("Hello, world! ~{}[]()", "Hello, world! ~{}[]()");
	ck_assert(tc_sanitize_is_clean("a plain line of chat, long enough "
	                               "for the word-wise path",
	                               56));
}
END_TEST

START_TEST(test_every_printable_ascii_byte_passes)
{
	char in[95];
	int c;

	for (c = 0x20; c < 0x7f; c++)
		in[c - 0x20] = (char)c;
	ck_assert(tc_sanitize_is_clean(in, sizeof(in)));
}
END_TEST

START_TEST(test_tab_passes)
{
	expect("a\tb", "a\tb");
}
END_TEST

START_TEST(test_backslash_passes)
{
	expect("C:\\dir\\x41", "C:\\dir\\x41");
}
END_TEST

START_TEST(test_chinese_passes)
{
	expect("\xe4\xbd\xa0\xe5\xa5\xbd, \xe4\xb8\x96\xe7\x95\x8c",
	       "\xe4\xbd\xa0\xe5\xa5\xbd, \xe4\xb8\x96\xe7\x95\x8c");
}
END_TEST

START_TEST(test_emoji_passes)
{
	expect("ok \xf0\x9f\x98\x80\xf0\x9f\x91\x8d",
	       "ok \xf0\x9f\x98\x80\xf0\x9f\x91\x8d");
}
END_TEST

START_TEST(test_accented_letters_pass)
{
	expect("caf\xc3\xa9 na\xc3\xafve \xc2\xa0nbsp",
	       "caf\xc3\xa9 na\xc3\xafve \xc2\xa0nbsp");
}
END_TEST

START_TEST(test_utf8_range_edges_pass)
{
	expect("\xc2\xa0", "\xc2\xa0");         /* U+00A0, first after C1 */
	expect("\xe0\xa0\x80", "\xe0\xa0\x80"); /* U+0800 */
	expect("\xed\x9f\xbf", "\xed\x9f\xbf"); /* U+D7FF */
	expect("\xee\x80\x80", "\xee\x80\x80"); /* U+E000 */
	expect("\xf0\x90\x80\x80", "\xf0\x90\x80\x80"); /* U+10000 */
	expect("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
}
END_TEST

START_TEST(test_empty_input_gives_empty_string)
{
	char dst[TC_SANITIZE_BOUND(0)] = {'x'};

	ck_assert_uint_eq(tc_sanitize(dst, "", 0), 0);
	ck_assert_str_eq(dst, "");
	ck_assert(tc_sanitize_is_clean("", 0));
}
END_TEST

/* --- controls --- */

START_TEST(test_every_c0_byte_but_tab_is_escaped)
{
	char in[3], want[16];
	int c;

	for (c = 0; c < 0x20; c++) {
		if (c == '\t')
			continue;
		in[0] = 'a';
		in[1] = (char)c;
		in[2] = 'b';
		snprintf(want, sizeof(want), "a\\x%02xb", c);
		expect_len(in, 3, want);
	}
}
END_TEST

START_TEST(test_cr_and_lf_are_escaped)
{
	expect("a\r\nb", "a\\x0d\\x0ab");
}
END_TEST

START_TEST(test_nul_is_escaped)
{
	expect_len("a\0b", 3, "a\\x00b");
}
END_TEST

START_TEST(test_del_is_escaped)
{
	expect("a\x7f"
	       "b",
	       "a\\x7fb");
}
END_TEST

START_TEST(test_escape_sequence_is_defused)
{
	expect("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
	expect("\x1b]0;title\x07", "\\x1b]0;title\\x07");
}
END_TEST

START_TEST(test_every_c1_code_point_is_escaped_byte_by_byte)
{
	char in[2], want[16];
	int c;

	for (c = 0x80; c <= 0x9f; c++) {
		in[0] = (char)0xc2;
		in[1] = (char)c;
		snprintf(want, sizeof(want), "\\xc2\\x%02x", c);
		expect_len(in, 2, want);
	}
	expect("\xc2\x9b"
	       "31m",
	       "\\xc2\\x9b31m"); /* CSI */
}
END_TEST

START_TEST(test_unsafe_byte_in_long_ascii_run_is_found)
{
	/* Each byte at each position of the 8-byte words of the fast path. */
	static const unsigned char bad[] = {0x00, 0x01, 0x0a, 0x1b, 0x1f,
	                                    0x7f, 0x80, 0x9b, 0xc2, 0xff};
	char in[24], want[64];
	size_t b, pos;

	for (b = 0; b < sizeof(bad); b++) {
		for (pos = 0; pos < sizeof(in); pos++) {
			memset(in, 'a', sizeof(in));
			in[pos] = (char)bad[b];
			memset(want, 'a', sizeof(want));
			snprintf(want + pos, 5, "\\x%02x", bad[b]);
			want[pos + 4] = 'a';
			want[sizeof(in) + 3] = '\0';
			expect_len(in, sizeof(in), want);
		}
	}
}
END_TEST

/* --- invalid UTF-8 --- */

START_TEST(test_lone_continuation_bytes_are_escaped)
{
	expect("a\x80"
	       "b\xbf",
	       "a\\x80b\\xbf");
}
END_TEST

START_TEST(test_overlong_leads_c0_c1_are_escaped)
{
	expect("\xc0\xaf", "\\xc0\\xaf"); /* overlong '/' */
	expect("\xc1\xbf", "\\xc1\\xbf");
}
END_TEST

START_TEST(test_leads_f5_to_ff_are_escaped)
{
	char in[4], want[32];
	int c;

	for (c = 0xf5; c <= 0xff; c++) {
		in[0] = (char)c;
		in[1] = (char)0x80;
		in[2] = (char)0x80;
		in[3] = (char)0x80;
		snprintf(want, sizeof(want), "\\x%02x\\x80\\x80\\x80", c);
		expect_len(in, 4, want);
	}
}
END_TEST

START_TEST(test_truncated_sequences_are_escaped)
{
	expect("\xe4\xb8", "\\xe4\\xb8");          /* at the end */
	expect("\xe4\xb8x", "\\xe4\\xb8x");        /* cut by ASCII */
	expect("\xf0\x9f\x98", "\\xf0\\x9f\\x98"); /* 4-byte, 3 present */
	expect("\xc3", "\\xc3");
	/* The next valid sequence after a broken one is kept. */
	expect("\xe4\xe4\xb8\xad", "\\xe4\xe4\xb8\xad");
}
END_TEST

START_TEST(test_overlong_forms_are_escaped)
{
	expect("\xe0\x80\xaf", "\\xe0\\x80\\xaf");          /* 3-byte '/' */
	expect("\xe0\x9f\xbf", "\\xe0\\x9f\\xbf");          /* U+07FF long */
	expect("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"); /* 4-byte '/' */
	expect("\xf0\x8f\xbf\xbf", "\\xf0\\x8f\\xbf\\xbf"); /* U+FFFF long */
}
END_TEST

START_TEST(test_surrogates_are_escaped)
{
	expect("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* U+D800 */
	expect("\xed\xbf\xbf", "\\xed\\xbf\\xbf"); /* U+DFFF */
}
END_TEST

START_TEST(test_code_points_past_10ffff_are_escaped)
{
	expect("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* U+110000 */
}
END_TEST

START_TEST(test_safe_len_reports_sequence_length)
{
	const unsigned char *u = (const unsigned char *)"a\xc3\xa9\xe4\xb8\xad"
	                                                "\xf0\x9f\x98\x80";

	ck_assert_uint_eq(tc_sanitize_utf8_safe_len(u, 10), 1);
	ck_assert_uint_eq(tc_sanitize_utf8_safe_len(u + 1, 9), 2);
	ck_assert_uint_eq(tc_sanitize_utf8_safe_len(u + 3, 7), 3);
	ck_assert_uint_eq(tc_sanitize_utf8_safe_len(u + 6, 4), 4);
	ck_assert_uint_eq(tc_sanitize_utf8_safe_len(u + 6, 3),
	                  0); /* n too short */
	ck_assert_uint_eq(tc_sanitize_utf8_safe_len(u, 0), 0);
}
END_TEST

/* --- bound --- */

START_TEST(test_worst_case_fits_the_bound)
{
	enum { LEN = 128 * 3 };
	char in[LEN], *dst;
	size_t i, n;

	for (i = 0; i < LEN; i++)
		in[i] = (char)(0x80 + i % 128);
	/* One more byte than the bound, poisoned, to catch an overrun. */
	dst = malloc(TC_SANITIZE_BOUND(LEN) + 1);
	ck_assert_ptr_nonnull(dst);
	dst[TC_SANITIZE_BOUND(LEN)] = 'Z';
	n = tc_sanitize(dst, in, LEN);
	ck_assert_uint_eq(n, LEN * 4);
	ck_assert_uint_eq(n + 1, TC_SANITIZE_BOUND(LEN));
	ck_assert_int_eq(dst[TC_SANITIZE_BOUND(LEN)], 'Z');
	ck_assert_int_eq(dst[n], '\0');
	ck_assert_mem_eq(dst, "\\x80\\x81", 8);
	ck_assert_mem_eq(dst + n - 4, "\\xff", 4);
	free(dst);
}
END_TEST

static Suite *
sanitize_suite(void)
{
	Suite *s = suite_create("sanitize");
	TCase *tc;

	tc = tcase_create("passes");
	tcase_add_test(tc, test_printable_ascii_passes);
	tcase_add_test(tc, test_every_printable_ascii_byte_passes);
	tcase_add_test(tc, test_tab_passes);
	tcase_add_test(tc, test_backslash_passes);
	tcase_add_test(tc, test_chinese_passes);
	tcase_add_test(tc, test_emoji_passes);
	tcase_add_test(tc, test_accented_letters_pass);
	tcase_add_test(tc, test_utf8_range_edges_pass);
	tcase_add_test(tc, test_empty_input_gives_empty_string);
	suite_add_tcase(s, tc);

	tc = tcase_create("controls");
	tcase_add_test(tc, test_every_c0_byte_but_tab_is_escaped);
	tcase_add_test(tc, test_cr_and_lf_are_escaped);
	tcase_add_test(tc, test_nul_is_escaped);
	tcase_add_test(tc, test_del_is_escaped);
	tcase_add_test(tc, test_escape_sequence_is_defused);
	tcase_add_test(tc, test_every_c1_code_point_is_escaped_byte_by_byte);
	tcase_add_test(tc, test_unsafe_byte_in_long_ascii_run_is_found);
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid_utf8");
	tcase_add_test(tc, test_lone_continuation_bytes_are_escaped);
	tcase_add_test(tc, test_overlong_leads_c0_c1_are_escaped);
	tcase_add_test(tc, test_leads_f5_to_ff_are_escaped);
	tcase_add_test(tc, test_truncated_sequences_are_escaped);
	tcase_add_test(tc, test_overlong_forms_are_escaped);
	tcase_add_test(tc, test_surrogates_are_escaped);
	tcase_add_test(tc, test_code_points_past_10ffff_are_escaped);
	tcase_add_test(tc, test_safe_len_reports_sequence_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("bound");
	tcase_add_test(tc, test_worst_case_fits_the_bound);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return sanitize_suite();
}
