/* Unit tests for ratelimit on a made-up clock: the burst, the steady rate,
 * the byte bound, refilling, episodes of slowing, and the promise behind
 * the default byte budget (a 1 MB/s reader's queue stays far from 1 MiB
 * whatever one flooder sends). */
#include <check.h>
#include <stdint.h>

#include "check_main.h"
#include "tcpchat/ratelimit.h"

#define MS 1000000LL
#define S 1000000000LL

START_TEST(test_rate_0_is_off)
{
	struct tc_rate b;

	tc_rate_init(&b, 0, 200, 1000, 1000, 0);
	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(tc_rate_take(&b, 1, 1 << 20, 0), 0);
	ck_assert(!tc_rate_new_episode(&b));
}
END_TEST

START_TEST(test_burst_passes_at_once_then_one_line_per_period)
{
	struct tc_rate b;

	tc_rate_init(&b, 20, 200, 0, 0, 5 * S);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(tc_rate_take(&b, 1, 10, 5 * S), 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 10, 5 * S), 50 * MS);
	/* The caller slept 50 ms; the next line waits one more period. */
	ck_assert_int_eq(tc_rate_take(&b, 1, 10, 5 * S + 50 * MS), 50 * MS);
	ck_assert_int_eq(tc_rate_take(&b, 1, 10, 5 * S + 60 * MS), 90 * MS);
}
END_TEST

START_TEST(test_sender_that_always_waits_gets_burst_plus_rate)
{
	struct tc_rate b;
	int64_t now = 0;
	long lines = 0;

	tc_rate_init(&b, 20, 200, 0, 0, now);
	while (now < 10 * S) {
		int64_t wait = tc_rate_take(&b, 1, 0, now);

		now += wait;
		if (now <= 10 * S)
			lines++;
	}
	ck_assert_int_eq(lines, 200 + 20 * 10);
}
END_TEST

START_TEST(test_idle_refills_up_to_the_burst_and_no_more)
{
	struct tc_rate b;
	int64_t now = 0;
	int passed = 0;

	tc_rate_init(&b, 20, 200, 0, 0, now);
	for (int i = 0; i < 200; i++)
		tc_rate_take(&b, 1, 0, now);
	/* 5 s at 20 a second: 100 lines back. */
	now += 5 * S;
	while (tc_rate_take(&b, 1, 0, now) == 0)
		passed++;
	ck_assert_int_eq(passed, 100);
	/* An hour of silence gives back the burst, not 72,000 lines. */
	now += 3600 * S;
	passed = 0;
	while (tc_rate_take(&b, 1, 0, now) == 0)
		passed++;
	ck_assert_int_eq(passed, 200);
}
END_TEST

START_TEST(test_byte_bound_slows_big_lines)
{
	struct tc_rate b;

	tc_rate_init(&b, 1000, 1000, 10000, 20000, 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 20000, 0), 0);
	/* 5,000 bytes past the burst at 10,000 a second: 500 ms. */
	ck_assert_int_eq(tc_rate_take(&b, 1, 5000, 0), 500 * MS);
	/* A line bigger than the whole burst is still taken, and paid. */
	tc_rate_init(&b, 1000, 1000, 10000, 20000, 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 50000, 0), 3 * S);
}
END_TEST

START_TEST(test_byte_rate_0_leaves_only_the_line_bound)
{
	struct tc_rate b;

	tc_rate_init(&b, 20, 2, 0, 0, 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 1 << 30, 0), 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 1 << 30, 0), 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 0, 0), 50 * MS);
}
END_TEST

START_TEST(test_the_longer_of_the_two_waits_counts)
{
	struct tc_rate b;

	tc_rate_init(&b, 10, 1, 1000, 1000, 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 1000, 0), 0);
	/* Lines: 100 ms; bytes: 2,000 past at 1,000/s: 2 s. */
	ck_assert_int_eq(tc_rate_take(&b, 1, 2000, 0), 2 * S);
}
END_TEST

START_TEST(test_waits_round_up_so_the_rate_is_never_exceeded)
{
	struct tc_rate b;

	tc_rate_init(&b, 3, 1, 0, 0, 0);
	tc_rate_take(&b, 1, 0, 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 0, 0), 333333334);
}
END_TEST

START_TEST(test_default_byte_budget)
{
	struct tc_rate b;

	tc_rate_init_lines(&b, 20, 200, 0);
	/* A paste of 200 lines of 300 characters goes out unslowed. */
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(tc_rate_take(&b, 1, 300, 0), 0);
	ck_assert_int_gt(tc_rate_take(&b, 1, 300, 0), 0);
	tc_rate_init_lines(&b, 20, 200, 0);
	ck_assert_int_eq(tc_rate_take(&b, 1, 64000, 0), 0);
	/* 61,440 bytes a second: one more byte costs 16,277 ns, rounded up. */
	ck_assert_int_eq(tc_rate_take(&b, 0, 1, 0), 16277);
}
END_TEST

/* One flooder at the defaults, sending as fast as the server reads it,
 * pieces of piece_len bytes of junk that escaping makes four times larger,
 * against a reader that takes 1 MB/s: the biggest its queue ever gets. */
static double
worst_queue(size_t piece_len, int64_t seconds)
{
	const double drain_per_ns = 1e6 / 1e9, name_and_lf = 66;
	struct tc_rate b;
	int64_t now = 0;
	double queue = 0, worst = 0;

	tc_rate_init_lines(&b, 20, 200, 0);
	while (now < seconds * S) {
		int64_t wait = tc_rate_take(&b, 1, piece_len, now);

		if (wait > 0) {
			queue -= (double)wait * drain_per_ns;
			if (queue < 0)
				queue = 0;
			now += wait;
		}
		queue += 4.0 * (double)piece_len + name_and_lf;
		if (queue > worst)
			worst = queue;
	}
	return worst;
}

START_TEST(test_no_flood_gets_a_1mbps_reader_near_1mib)
{
	/* A 10 MiB line without LF arrives as --max-line pieces. */
	ck_assert_double_lt(worst_queue(4096, 120), 300000);
	/* Binary junk in small lines, and empty-ish lines. */
	ck_assert_double_lt(worst_queue(1000, 60), 300000);
	ck_assert_double_lt(worst_queue(1, 60), 300000);
	/* And a --max-line of 16M: one piece may be far bigger. */
	ck_assert_double_lt(worst_queue(64000, 60), 300000);
}
END_TEST

START_TEST(test_an_episode_is_told_once)
{
	struct tc_rate b;
	int64_t now = 0;

	tc_rate_init(&b, 20, 200, 0, 0, now);
	for (int i = 0; i < 200; i++)
		tc_rate_take(&b, 1, 0, now);
	ck_assert(!tc_rate_new_episode(&b));
	now += tc_rate_take(&b, 1, 0, now);
	ck_assert(tc_rate_new_episode(&b));
	ck_assert(!tc_rate_new_episode(&b));
	for (int i = 0; i < 100; i++)
		now += tc_rate_take(&b, 1, 0, now);
	ck_assert(!tc_rate_new_episode(&b));
	/* A pause of 2 s is not enough to make it whole: same episode. */
	now += 2 * S;
	for (int i = 0; i < 100; i++)
		now += tc_rate_take(&b, 1, 0, now);
	ck_assert(!tc_rate_new_episode(&b));
}
END_TEST

START_TEST(test_a_new_episode_after_the_budget_is_whole_again)
{
	struct tc_rate b;
	int64_t now = 0;

	tc_rate_init(&b, 20, 200, 0, 0, now);
	for (int i = 0; i < 201; i++)
		now += tc_rate_take(&b, 1, 0, now);
	ck_assert(tc_rate_new_episode(&b));
	/* 200 lines at 20 a second: whole after 10 s of quiet. */
	now += 10 * S + 50 * MS;
	for (int i = 0; i < 201; i++)
		now += tc_rate_take(&b, 1, 0, now);
	ck_assert(tc_rate_new_episode(&b));
}
END_TEST

START_TEST(test_huge_values_do_not_overflow)
{
	struct tc_rate b;
	int64_t now = INT64_MAX / 4, wait;

	tc_rate_init(&b, 4000000000u, 4000000000u, UINT64_MAX, UINT64_MAX, now);
	ck_assert_int_eq(tc_rate_take(&b, 1, 1, now), 0);
	tc_rate_init(&b, 1, 1, 1, 1, now);
	wait = tc_rate_take(&b, SIZE_MAX, SIZE_MAX, now);
	ck_assert_int_gt(wait, 0);
	ck_assert_int_le(wait, 366LL * 24 * 3600 * S);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc;

	tc = tcase_create("bucket");
	tcase_add_test(tc, test_rate_0_is_off);
	tcase_add_test(tc, test_burst_passes_at_once_then_one_line_per_period);
	tcase_add_test(tc, test_sender_that_always_waits_gets_burst_plus_rate);
	tcase_add_test(tc, test_idle_refills_up_to_the_burst_and_no_more);
	tcase_add_test(tc, test_byte_bound_slows_big_lines);
	tcase_add_test(tc, test_byte_rate_0_leaves_only_the_line_bound);
	tcase_add_test(tc, test_the_longer_of_the_two_waits_counts);
	tcase_add_test(tc, test_waits_round_up_so_the_rate_is_never_exceeded);
	tcase_add_test(tc, test_default_byte_budget);
	tcase_add_test(tc, test_no_flood_gets_a_1mbps_reader_near_1mib);
	tcase_add_test(tc, test_huge_values_do_not_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("episodes");
	tcase_add_test(tc, test_an_episode_is_told_once);
	tcase_add_test(tc, test_a_new_episode_after_the_budget_is_whole_again);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return ratelimit_suite();
}
