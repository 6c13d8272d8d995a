/* Unit tests for ladder: what a recorded close draws, what it leaves out,
 * how runs of lines fold, and that every line fits 80 columns. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "tcpchat/ladder.h"

#define T1 "12:00:01.000100"
#define T2 "12:00:01.000130"
#define T3 "12:00:01.000180"
#define T4 "12:00:01.002000"

static char text[TC_LADDER_TEXT_MAX];

/* Line i (0: the heading) of text, copied into line; false past the end. */
static bool
nth_line(size_t i, char *line, size_t len)
{
	const char *p = text, *end;

	while (i-- > 0) {
		p = strchr(p, '\n');
		if (p == NULL)
			return false;
		p++;
	}
	end = strchr(p, '\n');
	if (end == NULL)
		end = p + strlen(p);
	snprintf(line, len, "%.*s", (int)(end - p), p);
	return true;
}

static size_t
count_lines(void)
{
	char line[256];
	size_t n = 0;

	while (nth_line(n, line, sizeof(line)))
		n++;
	return n;
}

static size_t
count_of(const char *needle)
{
	const char *p = text;
	size_t n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static void
render(const struct tc_ladder *l)
{
	size_t need = tc_ladder_render(l, text, sizeof(text));

	ck_assert_uint_eq(need, strlen(text));
}

/* The client's close on loopback: exit, FIN, ACK, a line, the FIN. */
static void
client_close(struct tc_ladder *l)
{
	tc_ladder_init(l, "client", "server");
	tc_ladder_add(l, TC_LADDER_OUT, T1, "exit", "ESTABLISHED");
	tc_ladder_add(l, TC_LADDER_OUT, T2, "FIN", "FIN_WAIT1");
	tc_ladder_add(l, TC_LADDER_IN, T3, "ACK", "FIN_WAIT2");
	tc_ladder_add_data(l, TC_LADDER_IN, T3, 1, 29, "FIN_WAIT2");
	tc_ladder_add(l, TC_LADDER_IN, T4, "FIN", "TIME_WAIT");
}

START_TEST(test_heading_puts_this_side_left_and_the_peer_right)
{
	struct tc_ladder l;
	char line[256];

	client_close(&l);
	render(&l);
	ck_assert(nth_line(0, line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "time"));
	ck_assert_ptr_nonnull(strstr(line, "state"));
	ck_assert(strstr(line, "client") < strstr(line, "server"));
	/* The rails alone under the names, each name over its rail. */
	ck_assert(nth_line(1, line, sizeof(line)));
	ck_assert_uint_eq(strspn(strchr(line, '|') + 1, " "),
	                  (size_t)(strrchr(line, '|') - strchr(line, '|') - 1));
	ck_assert_int_eq(strchr(line, '|') - line,
	                 strstr(text, "client") - text);
}
END_TEST

START_TEST(test_arrows_point_from_sender_to_receiver)
{
	struct tc_ladder l;
	char line[256];

	client_close(&l);
	render(&l);
	ck_assert(nth_line(3, line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, " FIN "));
	ck_assert_ptr_nonnull(strstr(line, "|---"));
	ck_assert_ptr_nonnull(strstr(line, "->|"));
	ck_assert(nth_line(4, line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, " ACK "));
	ck_assert_ptr_nonnull(strstr(line, "|<--"));
	ck_assert_ptr_nonnull(strstr(line, "--|"));
	ck_assert_ptr_null(strstr(line, ">"));
}
END_TEST

START_TEST(test_each_row_has_its_time_and_the_state_it_left)
{
	struct tc_ladder l;
	char line[256];

	client_close(&l);
	render(&l);
	ck_assert(nth_line(2, line, sizeof(line)));
	ck_assert_int_eq(strncmp(line, "  " T1 "  ESTABLISHED |", 32), 0);
	ck_assert(nth_line(6, line, sizeof(line)));
	ck_assert_int_eq(strncmp(line, "  " T4 "  TIME_WAIT", 28), 0);
	ck_assert_ptr_nonnull(strstr(line, " FIN "));
}
END_TEST

START_TEST(test_rows_are_drawn_in_the_order_recorded)
{
	static const char *const order[] = {" exit ", " FIN ", " ACK ",
	                                    " 1 line, 29 bytes ", " FIN "};
	struct tc_ladder l;
	char line[256];
	size_t i;

	client_close(&l);
	render(&l);
	ck_assert_uint_eq(count_lines(), 2 + 5);
	for (i = 0; i < 5; i++) {
		ck_assert(nth_line(2 + i, line, sizeof(line)));
		ck_assert_msg(strstr(line, order[i]) != NULL,
		              "row %zu is '%s', wanted '%s'", i, line,
		              order[i]);
	}
}
END_TEST

START_TEST(test_what_was_not_recorded_is_not_drawn)
{
	struct tc_ladder l;

	/* A server that never saw its FIN acknowledged, nor a LAST_ACK. */
	tc_ladder_init(&l, "server", "client");
	tc_ladder_add(&l, TC_LADDER_IN, T1, "exit", "ESTABLISHED");
	tc_ladder_add(&l, TC_LADDER_IN, T2, "FIN", "CLOSE_WAIT");
	tc_ladder_add(&l, TC_LADDER_OUT, T3, "FIN", "CLOSED");
	render(&l);
	ck_assert_uint_eq(count_lines(), 2 + 3);
	ck_assert_uint_eq(count_of("ACK"), 0);
	ck_assert_uint_eq(count_of("LAST_ACK"), 0);
	ck_assert_uint_eq(count_of("|<"), 2);
	ck_assert_uint_eq(count_of(">|"), 1);
}
END_TEST

START_TEST(test_note_has_no_arrowhead)
{
	struct tc_ladder l;
	char line[256];

	tc_ladder_init(&l, "client", "server");
	tc_ladder_add(&l, TC_LADDER_NOTE, T4, "close()", "TIME_WAIT");
	render(&l);
	ck_assert(nth_line(2, line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, " close() "));
	ck_assert_ptr_null(strchr(line, '<'));
	ck_assert_ptr_null(strchr(line, '>'));
	ck_assert_ptr_null(strchr(line, '-'));
}
END_TEST

START_TEST(test_three_lines_in_a_row_are_all_drawn)
{
	struct tc_ladder l;
	int i;

	tc_ladder_init(&l, "client", "server");
	for (i = 0; i < 3; i++)
		tc_ladder_add_data(&l, TC_LADDER_IN, T3, 1, 29, "FIN_WAIT2");
	render(&l);
	ck_assert_uint_eq(count_of(" 1 line, 29 bytes "), 3);
	ck_assert_uint_eq(count_of("more"), 0);
}
END_TEST

START_TEST(test_a_long_run_folds_into_first_summary_and_last)
{
	struct tc_ladder l;
	char line[256];
	int i;

	tc_ladder_init(&l, "server", "client");
	tc_ladder_add_data(&l, TC_LADDER_OUT, T1, 1, 10, "CLOSE_WAIT");
	for (i = 0; i < 1000; i++)
		tc_ladder_add_data(&l, TC_LADDER_OUT, T2, 2, 20, "CLOSE_WAIT");
	tc_ladder_add_data(&l, TC_LADDER_OUT, T3, 3, 30, "CLOSE_WAIT");
	render(&l);
	ck_assert_uint_eq(count_lines(), 2 + 3);
	ck_assert(nth_line(2, line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, T1));
	ck_assert_ptr_nonnull(strstr(line, " 1 line, 10 bytes "));
	/* The summary: the 1000 in between, dotted, with no time. */
	ck_assert(nth_line(3, line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, " 2000 more lines, 20000 bytes "));
	ck_assert_ptr_nonnull(strstr(line, ". .>|"));
	ck_assert_ptr_null(strchr(line, ':'));
	ck_assert(nth_line(4, line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, T3));
	ck_assert_ptr_nonnull(strstr(line, " 3 lines, 30 bytes "));
}
END_TEST

START_TEST(test_runs_in_opposite_directions_fold_apart)
{
	struct tc_ladder l;
	int i;

	tc_ladder_init(&l, "server", "client");
	for (i = 0; i < 5; i++)
		tc_ladder_add_data(&l, TC_LADDER_IN, T1, 1, 1, "FIN_WAIT2");
	for (i = 0; i < 5; i++)
		tc_ladder_add_data(&l, TC_LADDER_OUT, T2, 1, 1, "FIN_WAIT2");
	render(&l);
	ck_assert_uint_eq(count_lines(), 2 + 6);
	ck_assert_uint_eq(count_of(" 3 more lines, 3 bytes "), 2);
	ck_assert_uint_eq(count_of(" 1 line, 1 byte "), 4);
}
END_TEST

START_TEST(test_a_full_ladder_still_draws_the_close_and_counts_the_rest)
{
	struct tc_ladder l;
	int i;

	/* Alternating directions never fold: the worst case for room. */
	tc_ladder_init(&l, "client", "server");
	for (i = 0; i < 100; i++)
		tc_ladder_add_data(&l, i % 2 ? TC_LADDER_IN : TC_LADDER_OUT, T1,
		                   1, 5, "ESTABLISHED");
	tc_ladder_add(&l, TC_LADDER_OUT, T2, "FIN", "FIN_WAIT1");
	tc_ladder_add(&l, TC_LADDER_IN, T3, "ACK", "FIN_WAIT2");
	tc_ladder_add(&l, TC_LADDER_IN, T4, "FIN", "TIME_WAIT");
	tc_ladder_add(&l, TC_LADDER_NOTE, T4, "close()", "TIME_WAIT");
	ck_assert_uint_eq(l.n_rows, TC_LADDER_MAX);
	render(&l);
	ck_assert_uint_eq(count_of(" FIN "), 2);
	ck_assert_uint_eq(count_of(" ACK "), 1);
	ck_assert_uint_eq(count_of(" close() "), 1);
	ck_assert_uint_eq(count_of("(72 more not kept)"), 1);
	ck_assert_uint_eq(count_lines(), 2 + TC_LADDER_MAX + 1);
}
END_TEST

START_TEST(test_no_line_is_wider_than_80_columns)
{
	char label[128], line[256];
	struct tc_ladder l;
	size_t i;
	int k;

	memset(label, 'W', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	tc_ladder_init(&l, "a-side-with-a-long-name",
	               "a-peer-with-a-long-name");
	tc_ladder_add(&l, TC_LADDER_OUT, "99:99:99.999999999", label,
	              "A_STATE_NAME_TOO_LONG");
	tc_ladder_add(&l, TC_LADDER_IN, T1, label, "ESTABLISHED");
	tc_ladder_add(&l, TC_LADDER_NOTE, T1, label, "ESTABLISHED");
	for (k = 0; k < 6; k++)
		tc_ladder_add_data(&l, TC_LADDER_IN, T2, (size_t)-1, (size_t)-1,
		                   "FIN_WAIT2");
	for (k = 0; k < 40; k++)
		tc_ladder_add(&l, TC_LADDER_NOTE, T3, label, "X");
	render(&l);
	for (i = 0; nth_line(i, line, sizeof(line)); i++)
		ck_assert_msg(strlen(line) <= TC_LADDER_COLUMNS,
		              "line %zu is %zu wide: '%s'", i, strlen(line),
		              line);
	ck_assert_uint_gt(i, TC_LADDER_MAX);
}
END_TEST

START_TEST(test_a_small_buffer_is_cut_and_told_the_length_needed)
{
	struct tc_ladder l;
	char small[40];
	size_t need;

	client_close(&l);
	render(&l);
	need = tc_ladder_render(&l, small, sizeof(small));
	ck_assert_uint_eq(need, strlen(text));
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_int_eq(strncmp(small, text, sizeof(small) - 1), 0);
}
END_TEST

static Suite *
ladder_suite(void)
{
	Suite *s = suite_create("ladder");
	TCase *draw = tcase_create("draw");
	TCase *room = tcase_create("room");

	tcase_add_test(draw,
	               test_heading_puts_this_side_left_and_the_peer_right);
	tcase_add_test(draw, test_arrows_point_from_sender_to_receiver);
	tcase_add_test(draw, test_each_row_has_its_time_and_the_state_it_left);
	tcase_add_test(draw, test_rows_are_drawn_in_the_order_recorded);
	tcase_add_test(draw, test_what_was_not_recorded_is_not_drawn);
	tcase_add_test(draw, test_note_has_no_arrowhead);
	suite_add_tcase(s, draw);
	tcase_add_test(room, test_three_lines_in_a_row_are_all_drawn);
	tcase_add_test(room, test_a_long_run_folds_into_first_summary_and_last);
	tcase_add_test(room, test_runs_in_opposite_directions_fold_apart);
	tcase_add_test(
	    room, test_a_full_ladder_still_draws_the_close_and_counts_the_rest);
	tcase_add_test(room, test_no_line_is_wider_than_80_columns);
	tcase_add_test(room,
	               test_a_small_buffer_is_cut_and_told_the_length_needed);
	suite_add_tcase(s, room);
	return s;
}

Suite *
tc_test_suite(void)
{
	return ladder_suite();
}
