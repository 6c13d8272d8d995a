/* Unit tests for threadpool: a finished thread takes the next job, the
 * last parked first; the bound on parked threads; idle threads leaving;
 * a cache of 0; a failed pthread_create; pairs of jobs, both or neither;
 * and free ending every thread. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "harness_counters.h"
#include "tcpchat/threadpool.h"

#include "tcpchat/clock.h"

#define MS 1000000LL
#define STACK (256 * 1024)
#define LONG_IDLE (60 * 1000 * MS) /* never reached in a test */
#define WAIT_MS 5000

/* One job: records the thread it ran on, then returns at once or, when
 * held, only after the test releases it. Workers record, the test
 * asserts. */
struct job {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* ran and released change */
	bool held;
	bool ran;
	bool released;
	pthread_t tid;
};

static void
job_init(struct job *j, bool held)
{
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->held = held;
	j->ran = j->released = false;
}

static void
job_fini(struct job *j)
{
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
}

static void *
job_main(void *arg)
{
	struct job *j = arg;

	pthread_mutex_lock(&j->lock);
	j->tid = pthread_self();
	j->ran = true;
	pthread_cond_broadcast(&j->cond);
	while (j->held && !j->released)
		pthread_cond_wait(&j->cond, &j->lock);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* Waits until the job has run (started, for a held one); its thread. */
static pthread_t
job_wait(struct job *j)
{
	pthread_t tid;

	pthread_mutex_lock(&j->lock);
	while (!j->ran)
		pthread_cond_wait(&j->cond, &j->lock);
	tid = j->tid;
	pthread_mutex_unlock(&j->lock);
	return tid;
}

static void
job_release(struct job *j)
{
	pthread_mutex_lock(&j->lock);
	j->released = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

static void
pause_1ms(void)
{
	struct timespec ts = {0, 1000000L};

	nanosleep(&ts, NULL);
}

/* The pool says nothing when a thread parks or leaves: polled, with a
 * deadline. True once it has parked threads and the process has threads
 * threads (-1: any number). */
static bool
wait_for(struct tc_pool *pool, unsigned parked, int threads)
{
	int64_t deadline = tc_clock_now_ns() + WAIT_MS * MS;

	while (tc_pool_parked(pool) != parked ||
	       (threads >= 0 && h_count_threads(getpid()) != threads)) {
		if (tc_clock_now_ns() >= deadline)
			return false;
		pause_1ms();
	}
	return true;
}

/* Runs a job that returns at once, waits for it to park, and returns its
 * thread. */
static pthread_t
run_and_park(struct tc_pool *pool, unsigned parked_after)
{
	struct job j;
	pthread_t tid;

	job_init(&j, false);
	ck_assert_int_eq(tc_pool_run(pool, job_main, &j), 0);
	tid = job_wait(&j);
	ck_assert(wait_for(pool, parked_after, -1));
	job_fini(&j);
	return tid;
}

static void *
do_nothing(void *arg)
{
	return arg;
}

/* The process's threads now, with a sanitizer's own helper thread already
 * running: ThreadSanitizer starts one at the first pthread_create, which
 * would otherwise be counted as one of the pool's. */
static int
baseline_threads(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, do_nothing, NULL) == 0)
		pthread_join(t, NULL);
	return h_count_threads(getpid());
}

START_TEST(test_a_parked_thread_takes_the_next_job)
{
	struct tc_pool *pool = tc_pool_new(4, STACK, LONG_IDLE);
	pthread_t first, second;

	ck_assert_ptr_nonnull(pool);
	first = run_and_park(pool, 1);
	second = run_and_park(pool, 1);
	ck_assert(pthread_equal(first, second));
	tc_pool_free(pool);
}
END_TEST

START_TEST(test_the_thread_parked_last_is_handed_the_next_job)
{
	struct tc_pool *pool = tc_pool_new(4, STACK, LONG_IDLE);
	struct job a, b;
	pthread_t last;

	ck_assert_ptr_nonnull(pool);
	job_init(&a, true);
	job_init(&b, true);
	ck_assert_int_eq(tc_pool_run(pool, job_main, &a), 0);
	ck_assert_int_eq(tc_pool_run(pool, job_main, &b), 0);
	job_wait(&a);
	job_wait(&b);
	job_release(&a);
	ck_assert(wait_for(pool, 1, -1));
	job_release(&b);
	ck_assert(wait_for(pool, 2, -1));
	last = run_and_park(pool, 2);
	ck_assert(pthread_equal(last, b.tid));
	tc_pool_free(pool);
	job_fini(&a);
	job_fini(&b);
}
END_TEST

START_TEST(test_a_job_with_no_parked_thread_gets_a_new_one)
{
	struct tc_pool *pool = tc_pool_new(4, STACK, LONG_IDLE);
	pthread_t parked;
	struct job a, b;

	ck_assert_ptr_nonnull(pool);
	parked = run_and_park(pool, 1);
	job_init(&a, true);
	job_init(&b, true);
	ck_assert_int_eq(tc_pool_run(pool, job_main, &a), 0);
	ck_assert_int_eq(tc_pool_run(pool, job_main, &b), 0);
	ck_assert(pthread_equal(job_wait(&a), parked));
	ck_assert(!pthread_equal(job_wait(&b), parked));
	ck_assert_uint_eq(tc_pool_parked(pool), 0);
	job_release(&a);
	job_release(&b);
	ck_assert(wait_for(pool, 2, -1));
	tc_pool_free(pool);
	job_fini(&a);
	job_fini(&b);
}
END_TEST

START_TEST(test_at_most_max_parked_threads_park)
{
	enum { JOBS = 5, MAX = 2 };
	struct tc_pool *pool = tc_pool_new(MAX, STACK, LONG_IDLE);
	int base = baseline_threads();
	struct job j[JOBS];

	ck_assert_ptr_nonnull(pool);
	for (int i = 0; i < JOBS; i++) {
		job_init(&j[i], true);
		ck_assert_int_eq(tc_pool_run(pool, job_main, &j[i]), 0);
	}
	for (int i = 0; i < JOBS; i++)
		job_wait(&j[i]);
	ck_assert_int_eq(h_count_threads(getpid()), base + JOBS);
	for (int i = 0; i < JOBS; i++)
		job_release(&j[i]);
	/* The others left when they found the cache full. */
	ck_assert(wait_for(pool, MAX, base + MAX));
	tc_pool_free(pool);
	for (int i = 0; i < JOBS; i++)
		job_fini(&j[i]);
}
END_TEST

START_TEST(test_a_thread_idle_past_its_time_leaves)
{
	struct tc_pool *pool = tc_pool_new(4, STACK, 20 * MS);
	int base = baseline_threads();
	struct job j;

	ck_assert_ptr_nonnull(pool);
	job_init(&j, false);
	ck_assert_int_eq(tc_pool_run(pool, job_main, &j), 0);
	job_wait(&j);
	ck_assert(wait_for(pool, 0, base));
	/* And the pool still serves. */
	run_and_park(pool, 1);
	tc_pool_free(pool);
	job_fini(&j);
}
END_TEST

START_TEST(test_a_cache_of_zero_parks_nothing)
{
	struct tc_pool *pool = tc_pool_new(0, STACK, LONG_IDLE);
	int base = baseline_threads();
	struct job j;

	ck_assert_ptr_nonnull(pool);
	job_init(&j, false);
	ck_assert_int_eq(tc_pool_run(pool, job_main, &j), 0);
	job_wait(&j);
	ck_assert(wait_for(pool, 0, base));
	tc_pool_free(pool);
	job_fini(&j);
}
END_TEST

START_TEST(test_a_thread_that_cannot_be_created_is_reported)
{
	/* A stack larger than the address space: pthread_create fails. */
	struct tc_pool *pool = tc_pool_new(4, (size_t)1 << 48, LONG_IDLE);
	int base = baseline_threads();
	struct job j;
	int rc;

	ck_assert_ptr_nonnull(pool);
	job_init(&j, false);
	rc = tc_pool_run(pool, job_main, &j);
	/* EAGAIN from glibc; valgrind's own threads say EINVAL. */
	ck_assert_msg(rc == EAGAIN || rc == ENOMEM || rc == EINVAL,
	              "tc_pool_run: %d", rc);
	ck_assert(!j.ran);
	ck_assert_uint_eq(tc_pool_parked(pool), 0);
	ck_assert_int_eq(h_count_threads(getpid()), base);
	tc_pool_free(pool);
	job_fini(&j);
}
END_TEST

START_TEST(test_a_pair_runs_on_two_threads_of_its_own)
{
	struct tc_pool *pool = tc_pool_new(4, STACK, LONG_IDLE);
	struct job a, b;

	ck_assert_ptr_nonnull(pool);
	job_init(&a, true);
	job_init(&b, true);
	ck_assert_int_eq(tc_pool_run_pair(pool, job_main, &a, job_main, &b), 0);
	ck_assert(!pthread_equal(job_wait(&a), job_wait(&b)));
	job_release(&a);
	job_release(&b);
	ck_assert(wait_for(pool, 2, -1));
	tc_pool_free(pool);
	job_fini(&a);
	job_fini(&b);
}
END_TEST

START_TEST(test_a_pair_that_cannot_have_its_threads_runs_neither)
{
	struct tc_pool *pool = tc_pool_new(4, (size_t)1 << 48, LONG_IDLE);
	int base = baseline_threads();
	struct job a, b;

	ck_assert_ptr_nonnull(pool);
	job_init(&a, false);
	job_init(&b, false);
	ck_assert_int_ne(tc_pool_run_pair(pool, job_main, &a, job_main, &b), 0);
	ck_assert(!a.ran && !b.ran);
	ck_assert_int_eq(h_count_threads(getpid()), base);
	tc_pool_free(pool);
	job_fini(&a);
	job_fini(&b);
}
END_TEST

START_TEST(test_a_stack_below_the_minimum_is_refused)
{
	errno = 0;
	ck_assert_ptr_null(tc_pool_new(4, 1, LONG_IDLE));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_free_ends_and_joins_every_parked_thread)
{
	enum { JOBS = 3 };
	struct tc_pool *pool = tc_pool_new(JOBS, STACK, LONG_IDLE);
	int base = baseline_threads();
	struct job j[JOBS];

	ck_assert_ptr_nonnull(pool);
	for (int i = 0; i < JOBS; i++) {
		job_init(&j[i], true);
		ck_assert_int_eq(tc_pool_run(pool, job_main, &j[i]), 0);
		job_wait(&j[i]);
	}
	for (int i = 0; i < JOBS; i++)
		job_release(&j[i]);
	ck_assert(wait_for(pool, JOBS, base + JOBS));
	tc_pool_free(pool);
	/* Joined: gone already, not on their way out. */
	ck_assert_int_eq(h_count_threads(getpid()), base);
	for (int i = 0; i < JOBS; i++)
		job_fini(&j[i]);
}
END_TEST

/* Frees a pool on a thread of its own; `freed` is set once it returned. */
struct freer {
	struct tc_pool *pool;
	atomic_bool freed;
};

static void *
freer_main(void *arg)
{
	struct freer *f = arg;

	tc_pool_free(f->pool);
	atomic_store(&f->freed, true);
	return NULL;
}

START_TEST(test_free_waits_for_a_running_job)
{
	struct freer f = {.pool = tc_pool_new(4, STACK, LONG_IDLE)};
	int base = baseline_threads();
	pthread_t t;
	struct job j;

	ck_assert_ptr_nonnull(f.pool);
	atomic_init(&f.freed, false);
	job_init(&j, true);
	ck_assert_int_eq(tc_pool_run(f.pool, job_main, &j), 0);
	job_wait(&j);
	ck_assert_int_eq(pthread_create(&t, NULL, freer_main, &f), 0);
	/* The freer is either still starting or blocked in free: not done
	 * while the job runs. */
	for (int i = 0; i < 20; i++)
		pause_1ms();
	ck_assert(!atomic_load(&f.freed));
	job_release(&j);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(atomic_load(&f.freed));
	ck_assert_int_eq(h_count_threads(getpid()), base);
	job_fini(&j);
}
END_TEST

Suite *
tc_test_suite(void)
{
	Suite *s = suite_create("threadpool");
	TCase *tc;

	tc = tcase_create("reuse");
	tcase_add_test(tc, test_a_parked_thread_takes_the_next_job);
	tcase_add_test(tc, test_the_thread_parked_last_is_handed_the_next_job);
	tcase_add_test(tc, test_a_job_with_no_parked_thread_gets_a_new_one);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_test(tc, test_at_most_max_parked_threads_park);
	tcase_add_test(tc, test_a_thread_idle_past_its_time_leaves);
	tcase_add_test(tc, test_a_cache_of_zero_parks_nothing);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);

	tc = tcase_create("failure and end");
	tcase_add_test(tc, test_a_thread_that_cannot_be_created_is_reported);
	tcase_add_test(tc, test_a_pair_runs_on_two_threads_of_its_own);
	tcase_add_test(tc,
	               test_a_pair_that_cannot_have_its_threads_runs_neither);
	tcase_add_test(tc, test_a_stack_below_the_minimum_is_refused);
	tcase_add_test(tc, test_free_ends_and_joins_every_parked_thread);
	tcase_add_test(tc, test_free_waits_for_a_running_job);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);
	return s;
}
