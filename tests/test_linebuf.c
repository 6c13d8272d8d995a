/* Unit tests for linebuf: framing at LF with the CR rule, splitting past
 * max_line at UTF-8 boundaries without losing bytes, flush at EOF, and the
 * buffer's memory behaviour. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "tcpchat/linebuf.h"

/* Every message taken from a linebuf, copied out (the pointer a linebuf
 * hands out expires at its next call). */
struct pieces {
	char *bytes; /* all messages concatenated */
	size_t n_bytes, bytes_cap;
	size_t *lens;
	size_t n, cap;
};

static void
pieces_add(struct pieces *p, const char *line, size_t len)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->lens = realloc(p->lens, p->cap * sizeof(*p->lens));
		ck_assert_ptr_nonnull(p->lens);
	}
	if (p->n_bytes + len > p->bytes_cap) {
		/* Doubling: a megabyte of short lines must not copy it all
		 * once per line. */
		while (p->n_bytes + len > p->bytes_cap)
			p->bytes_cap = p->bytes_cap ? p->bytes_cap * 2 : 256;
		p->bytes = realloc(p->bytes, p->bytes_cap);
		ck_assert_ptr_nonnull(p->bytes);
	}
	memcpy(p->bytes + p->n_bytes, line, len);
	p->n_bytes += len;
	p->lens[p->n++] = len;
}

static void
pieces_free(struct pieces *p)
{
	free(p->bytes);
	free(p->lens);
	memset(p, 0, sizeof(*p));
}

/* Takes every complete message (and, with flush, the rest) into p. */
static void
drain(struct tc_linebuf *lb, struct pieces *p, int flush)
{
	const char *line;
	ssize_t n;

	while ((n = tc_linebuf_next(lb, &line)) >= 0)
		pieces_add(p, line, (size_t)n);
	if (!flush)
		return;
	while ((n = tc_linebuf_flush(lb, &line)) >= 0)
		pieces_add(p, line, (size_t)n);
}

static void
feed_str(struct tc_linebuf *lb, const char *s)
{
	ck_assert_int_eq(tc_linebuf_feed(lb, s, strlen(s)), 0);
}

/* The next message is exactly want. */
static void
expect_next(struct tc_linebuf *lb, const char *want)
{
	const char *line;
	ssize_t n = tc_linebuf_next(lb, &line);

	ck_assert_int_eq(n, (ssize_t)strlen(want));
	ck_assert_mem_eq(line, want, strlen(want));
}

static void
expect_flush(struct tc_linebuf *lb, const char *want)
{
	const char *line;
	ssize_t n = tc_linebuf_flush(lb, &line);

	ck_assert_int_eq(n, (ssize_t)strlen(want));
	ck_assert_mem_eq(line, want, strlen(want));
}

static void
expect_none(struct tc_linebuf *lb)
{
	const char *line;

	ck_assert_int_eq(tc_linebuf_next(lb, &line), -1);
}

/* --- framing --- */

START_TEST(test_lf_ends_message)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "hello\nworld\n");
	expect_next(&lb, "hello");
	expect_next(&lb, "world");
	expect_none(&lb);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_cr_before_lf_is_dropped)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "hi\r\n");
	expect_next(&lb, "hi");
	expect_none(&lb);
	ck_assert_uint_eq(tc_linebuf_pending(&lb), 0);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_lone_cr_mid_line_is_kept)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "a\rb\n\rc\r\n");
	expect_next(&lb, "a\rb");
	expect_next(&lb, "\rc");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_only_one_cr_before_lf_is_dropped)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "a\r\r\n");
	expect_next(&lb, "a\r");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_empty_lines_are_empty_messages)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "\n\r\n\n");
	expect_next(&lb, "");
	expect_next(&lb, "");
	expect_next(&lb, "");
	expect_none(&lb);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_message_without_lf_waits)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "abc");
	expect_none(&lb);
	ck_assert_uint_eq(tc_linebuf_pending(&lb), 3);
	feed_str(&lb, "def\n");
	expect_next(&lb, "abcdef");
	ck_assert_uint_eq(tc_linebuf_pending(&lb), 0);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_bytes_one_at_a_time_give_same_messages)
{
	static const char in[] = "first\r\nsecond\n\nthird\rx\r\n"
	                         "a longer line that gets split\n";
	static const char *const want[] = {
	    "first",     "second",    "",          "third\rx",
	    "a longer ", "line that", " gets spl", "it",
	};
	struct tc_linebuf lb;
	struct pieces p = {0};
	size_t i, off = 0;

	tc_linebuf_init(&lb, 9);
	for (i = 0; i < sizeof(in) - 1; i++) {
		ck_assert_int_eq(tc_linebuf_feed(&lb, in + i, 1), 0);
		drain(&lb, &p, 0);
	}
	ck_assert_uint_eq(p.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < p.n; i++) {
		ck_assert_uint_eq(p.lens[i], strlen(want[i]));
		ck_assert_mem_eq(p.bytes + off, want[i], p.lens[i]);
		off += p.lens[i];
	}
	ck_assert_uint_eq(tc_linebuf_pending(&lb), 0);
	pieces_free(&p);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_megabyte_of_lines_at_once)
{
	enum { N_LINES = 100000 };
	struct tc_linebuf lb;
	struct pieces p = {0};
	char *in, want[32];
	size_t len = 0, off = 0, i;

	in = malloc((size_t)N_LINES * 16);
	ck_assert_ptr_nonnull(in);
	for (i = 0; i < N_LINES; i++)
		len += (size_t)sprintf(in + len, "line %zu%s", i,
		                       i % 2 ? "\r\n" : "\n");
	ck_assert_uint_ge(len, 1000000);
	tc_linebuf_init(&lb, 4096);
	ck_assert_int_eq(tc_linebuf_feed(&lb, in, len), 0);
	drain(&lb, &p, 0);
	ck_assert_uint_eq(p.n, N_LINES);
	for (i = 0; i < N_LINES; i++) {
		int w = snprintf(want, sizeof(want), "line %zu", i);

		ck_assert_uint_eq(p.lens[i], (size_t)w);
		ck_assert_mem_eq(p.bytes + off, want, (size_t)w);
		off += p.lens[i];
	}
	ck_assert_uint_eq(tc_linebuf_pending(&lb), 0);
	free(in);
	pieces_free(&p);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_feed_of_zero_bytes_changes_nothing)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	ck_assert_int_eq(tc_linebuf_feed(&lb, "", 0), 0);
	ck_assert_uint_eq(tc_linebuf_pending(&lb), 0);
	expect_none(&lb);
	tc_linebuf_fini(&lb);
}
END_TEST

/* --- splitting at max_line --- */

START_TEST(test_crlf_after_max_line_bytes_is_one_message)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abcd\r\n");
	expect_next(&lb, "abcd");
	expect_none(&lb);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_line_one_past_max_is_split)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abcde\r\n");
	expect_next(&lb, "abcd");
	expect_next(&lb, "e");
	expect_none(&lb);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_only_the_first_piece_of_a_split_line_starts_a_line)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abcdexit\nexit\n");
	expect_next(&lb, "abcd");
	ck_assert(!tc_linebuf_continues(&lb));
	expect_next(&lb, "exit");
	ck_assert(tc_linebuf_continues(&lb)); /* the rest of a line */
	expect_next(&lb, "exit");
	ck_assert(!tc_linebuf_continues(&lb)); /* a line of its own */
	expect_none(&lb);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_lf_right_after_overlong_line_is_split)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abcde\n");
	expect_next(&lb, "abcd");
	expect_next(&lb, "e");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_cr_at_max_line_waits_for_lf)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abcd\r");
	expect_none(&lb);
	feed_str(&lb, "\n");
	expect_next(&lb, "abcd");
	expect_none(&lb);
	ck_assert_uint_eq(tc_linebuf_pending(&lb), 0);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_cr_at_max_line_not_followed_by_lf_is_kept)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abcd\r");
	expect_none(&lb);
	feed_str(&lb, "x");
	expect_next(&lb, "abcd");
	expect_none(&lb);
	feed_str(&lb, "\n");
	expect_next(&lb, "\rx");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_non_cr_past_max_line_splits_without_lf)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abcde");
	expect_next(&lb, "abcd");
	expect_none(&lb);
	ck_assert_uint_eq(tc_linebuf_pending(&lb), 1);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_megabyte_line_without_lf_splits_losing_nothing)
{
	enum { LEN = 1 << 20, MAX = 4096 };
	struct tc_linebuf lb;
	struct pieces p = {0};
	char *in;
	size_t i;

	in = malloc(LEN);
	ck_assert_ptr_nonnull(in);
	for (i = 0; i < LEN; i++)
		in[i] = (char)('a' + i % 26);
	tc_linebuf_init(&lb, MAX);
	ck_assert_int_eq(tc_linebuf_feed(&lb, in, LEN), 0);
	drain(&lb, &p, 0);
	ck_assert_uint_eq(p.n, LEN / MAX - 1); /* the last one may still grow */
	drain(&lb, &p, 1);
	ck_assert_uint_eq(p.n, LEN / MAX);
	for (i = 0; i < p.n; i++)
		ck_assert_uint_eq(p.lens[i], MAX);
	ck_assert_uint_eq(p.n_bytes, LEN);
	ck_assert_mem_eq(p.bytes, in, LEN);
	free(in);
	pieces_free(&p);
	tc_linebuf_fini(&lb);
}
END_TEST

/* True when s holds only whole, well-formed UTF-8 sequences. */
static int
whole_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, k, j;

	while (i < len) {
		if (s[i] < 0x80)
			k = 1;
		else if (s[i] >= 0xc2 && s[i] <= 0xdf)
			k = 2;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			k = 3;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			k = 4;
		else
			return 0;
		if (i + k > len)
			return 0;
		for (j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

/* A long line of one character, behind 0..3 ASCII bytes, for limits 4..11:
 * every piece holds whole characters, fits max_line and nothing is lost. */
static void
check_utf8_split(const char *ch)
{
	char in[512];
	size_t clen = strlen(ch), max, prefix, len, i, off;
	struct pieces p;
	struct tc_linebuf lb;

	for (max = 4; max <= 11; max++) {
		for (prefix = 0; prefix <= 3; prefix++) {
			memset(in, 'x', prefix);
			len = prefix;
			while (len + clen < 200) {
				memcpy(in + len, ch, clen);
				len += clen;
			}
			memset(&p, 0, sizeof(p));
			tc_linebuf_init(&lb, max);
			ck_assert_int_eq(tc_linebuf_feed(&lb, in, len), 0);
			ck_assert_int_eq(tc_linebuf_feed(&lb, "\n", 1), 0);
			drain(&lb, &p, 1);
			for (i = 0, off = 0; i < p.n; off += p.lens[i++]) {
				ck_assert_uint_le(p.lens[i], max);
				ck_assert_uint_gt(p.lens[i], 0);
				ck_assert(whole_utf8(
				    (unsigned char *)p.bytes + off, p.lens[i]));
			}
			ck_assert_uint_eq(p.n_bytes, len);
			ck_assert_mem_eq(p.bytes, in, len);
			pieces_free(&p);
			tc_linebuf_fini(&lb);
		}
	}
}

START_TEST(test_split_never_inside_two_byte_sequence)
{
	check_utf8_split("\xc3\xa9"); /* e acute */
}
END_TEST

START_TEST(test_split_never_inside_three_byte_sequence)
{
	check_utf8_split("\xe4\xb8\xad"); /* CJK "middle" */
}
END_TEST

START_TEST(test_split_never_inside_four_byte_sequence)
{
	check_utf8_split("\xf0\x9f\x98\x80"); /* grinning face emoji */
}
END_TEST

START_TEST(test_split_moves_back_to_sequence_start)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "ab\xe4\xb8\xad\n");
	expect_next(&lb, "ab");
	expect_next(&lb, "\xe4\xb8\xad");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_stray_continuation_bytes_cut_at_max_line)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "\x80\x80\x80\x80\x80\x80\n");
	expect_next(&lb, "\x80\x80\x80\x80");
	expect_next(&lb, "\x80\x80");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_broken_sequence_at_cut_is_cut_at_max_line)
{
	struct tc_linebuf lb;

	/* E4 announces three bytes, but 'x' follows the first continuation. */
	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "ab\xe4\x80xyz\n");
	expect_next(&lb, "ab\xe4\x80");
	expect_next(&lb, "xyz");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_invalid_lead_byte_at_cut_is_cut_at_max_line)
{
	struct tc_linebuf lb;

	/* 0xFF starts nothing: the continuation after it is not its own. */
	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abc\xff\x80\x80\n");
	expect_next(&lb, "abc\xff");
	expect_next(&lb, "\x80\x80");
	tc_linebuf_fini(&lb);
}
END_TEST

/* --- flush at end of input --- */

START_TEST(test_flush_returns_partial_last_message)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "abc\ndef");
	expect_next(&lb, "abc");
	expect_none(&lb);
	expect_flush(&lb, "def");
	ck_assert_int_eq(tc_linebuf_flush(&lb, &(const char *){NULL}), -1);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_flush_keeps_trailing_cr)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "exit\r");
	expect_none(&lb);
	expect_flush(&lb, "exit\r");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_flush_of_empty_buffer_returns_minus_one)
{
	struct tc_linebuf lb;
	const char *line;

	tc_linebuf_init(&lb, 4096);
	ck_assert_int_eq(tc_linebuf_flush(&lb, &line), -1);
	feed_str(&lb, "abc\n");
	expect_next(&lb, "abc");
	ck_assert_int_eq(tc_linebuf_flush(&lb, &line), -1);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_flush_takes_complete_messages_first)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "one\r\ntwo");
	expect_flush(&lb, "one");
	expect_flush(&lb, "two");
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_flush_splits_cr_at_max_line)
{
	struct tc_linebuf lb;
	const char *line;

	tc_linebuf_init(&lb, 4);
	feed_str(&lb, "abcd\r");
	expect_none(&lb);
	expect_flush(&lb, "abcd");
	expect_flush(&lb, "\r");
	ck_assert_int_eq(tc_linebuf_flush(&lb, &line), -1);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_flush_passes_truncated_utf8_as_is)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "ab\xe4\xb8");
	expect_flush(&lb, "ab\xe4\xb8");
	tc_linebuf_fini(&lb);
}
END_TEST

/* --- memory --- */

START_TEST(test_idle_linebuf_allocates_nothing)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	ck_assert_ptr_null(lb.buf);
	ck_assert_uint_eq(lb.cap, 0);
	expect_none(&lb);
	ck_assert_ptr_null(lb.buf);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_large_empty_buffer_is_released)
{
	enum { LEN = 200 * 1024 };
	struct tc_linebuf lb;
	const char *line;
	char *in;

	in = malloc(LEN);
	ck_assert_ptr_nonnull(in);
	memset(in, 'a', LEN - 1);
	in[LEN - 1] = '\n';
	tc_linebuf_init(&lb, LEN);
	ck_assert_int_eq(tc_linebuf_feed(&lb, in, LEN), 0);
	ck_assert_int_eq(tc_linebuf_next(&lb, &line), LEN - 1);
	ck_assert_int_eq(tc_linebuf_next(&lb, &line), -1);
	ck_assert_ptr_null(lb.buf);
	ck_assert_uint_eq(lb.cap, 0);
	free(in);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_steady_stream_keeps_buffer_small)
{
	struct tc_linebuf lb;
	struct pieces p = {0};
	size_t i;

	/* Each feed leaves a partial line behind, so the buffer never empties
	 * and only compaction keeps it from growing with the stream. */
	tc_linebuf_init(&lb, 4096);
	for (i = 0; i < 100000; i++) {
		feed_str(&lb, "tail\nhead of a line ");
		drain(&lb, &p, 0);
		pieces_free(&p);
	}
	ck_assert_uint_le(lb.cap, 1024);
	tc_linebuf_fini(&lb);
}
END_TEST

START_TEST(test_linebuf_can_be_initialised_again_after_fini)
{
	struct tc_linebuf lb;

	tc_linebuf_init(&lb, 4096);
	feed_str(&lb, "partial");
	tc_linebuf_fini(&lb);
	ck_assert_ptr_null(lb.buf);
	tc_linebuf_init(&lb, 8);
	feed_str(&lb, "x\n");
	expect_next(&lb, "x");
	tc_linebuf_fini(&lb);
}
END_TEST

static Suite *
linebuf_suite(void)
{
	Suite *s = suite_create("linebuf");
	TCase *tc;

	tc = tcase_create("framing");
	tcase_add_test(tc, test_lf_ends_message);
	tcase_add_test(tc, test_cr_before_lf_is_dropped);
	tcase_add_test(tc, test_lone_cr_mid_line_is_kept);
	tcase_add_test(tc, test_only_one_cr_before_lf_is_dropped);
	tcase_add_test(tc, test_empty_lines_are_empty_messages);
	tcase_add_test(tc, test_message_without_lf_waits);
	tcase_add_test(tc, test_bytes_one_at_a_time_give_same_messages);
	tcase_add_test(tc, test_megabyte_of_lines_at_once);
	tcase_add_test(tc, test_feed_of_zero_bytes_changes_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("split");
	tcase_add_test(tc, test_crlf_after_max_line_bytes_is_one_message);
	tcase_add_test(tc, test_line_one_past_max_is_split);
	tcase_add_test(tc,
	               test_only_the_first_piece_of_a_split_line_starts_a_line);
	tcase_add_test(tc, test_lf_right_after_overlong_line_is_split);
	tcase_add_test(tc, test_cr_at_max_line_waits_for_lf);
	tcase_add_test(tc, test_cr_at_max_line_not_followed_by_lf_is_kept);
	tcase_add_test(tc, test_non_cr_past_max_line_splits_without_lf);
	tcase_add_test(tc, test_megabyte_line_without_lf_splits_losing_nothing);
	tcase_add_test(tc, test_split_never_inside_two_byte_sequence);
	tcase_add_test(tc, test_split_never_inside_three_byte_sequence);
	tcase_add_test(tc, test_split_never_inside_four_byte_sequence);
	tcase_add_test(tc, test_split_moves_back_to_sequence_start);
	tcase_add_test(tc, test_stray_continuation_bytes_cut_at_max_line);
	tcase_add_test(tc, test_broken_sequence_at_cut_is_cut_at_max_line);
	tcase_add_test(tc, test_invalid_lead_byte_at_cut_is_cut_at_max_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("flush");
	tcase_add_test(tc, test_flush_returns_partial_last_message);
	tcase_add_test(tc, test_flush_keeps_trailing_cr);
	tcase_add_test(tc, test_flush_of_empty_buffer_returns_minus_one);
	tcase_add_test(tc, test_flush_takes_complete_messages_first);
	tcase_add_test(tc, test_flush_splits_cr_at_max_line);
	tcase_add_test(tc, test_flush_passes_truncated_utf8_as_is);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_add_test(tc, test_idle_linebuf_allocates_nothing);
	tcase_add_test(tc, test_large_empty_buffer_is_released);
	tcase_add_test(tc, test_steady_stream_keeps_buffer_small);
	tcase_add_test(tc, test_linebuf_can_be_initialised_again_after_fini);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return linebuf_suite();
}
