/* Unit tests for outq: FIFO order, the byte limit, marks, blocking take,
 * deadlines, the doorbell, shared message references and concurrent
 * producers. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "tcpchat/outq.h"

#include "tcpchat/clock.h"

#define MS 1000000LL

/* A one-shot signal from the test thread to a worker, so the worker acts
 * after a known point without sleeping. */
struct go {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;
};

static void
go_init(struct go *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->go = false;
}

static void
go_fini(struct go *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

static void
go_signal(struct go *g)
{
	pthread_mutex_lock(&g->lock);
	g->go = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void
go_wait(struct go *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->go)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

/* Pushes a new message holding s and drops the caller's reference. */
static int
push_str(struct tc_outq *q, const char *s)
{
	struct tc_msg *m = tc_msg_new(s, strlen(s));
	int rc, saved;

	ck_assert_ptr_nonnull(m);
	rc = tc_outq_push(q, m);
	saved = errno;
	tc_msg_unref(m);
	errno = saved;
	return rc;
}

/* Takes one message without waiting and returns a copy of its text in
 * buf, or "" when the queue is empty. */
static const char *
take_str(struct tc_outq *q, char *buf, size_t len)
{
	struct tc_msg *m;
	unsigned marks;

	buf[0] = '\0';
	if (tc_outq_take(q, &m, 1, ~0u, tc_clock_now_ns(), &marks) == 1) {
		snprintf(buf, len, "%s", tc_msg_data(m));
		tc_msg_unref(m);
	}
	return buf;
}

/* Two events of the queue's owner: their meaning is the test's. */
#define EV_A TC_OUTQ_EVENT(0)
#define EV_B TC_OUTQ_EVENT(1)

START_TEST(test_messages_come_out_in_push_order)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	char buf[16];

	ck_assert_int_eq(push_str(q, "one"), 0);
	ck_assert_int_eq(push_str(q, "two"), 0);
	ck_assert_int_eq(push_str(q, "three"), 0);
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "one");
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "two");
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "three");
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "");
	tc_outq_free(q);
}
END_TEST

START_TEST(test_order_survives_ring_wrap_and_growth)
{
	struct tc_outq *q = tc_outq_new(1 << 20, NULL);
	char buf[16], want[16];
	int next_in = 0, next_out = 0;

	/* Interleave pushes and takes so the ring wraps, then grows while
	 * wrapped, then drains. */
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < round % 7 + 2; i++) {
			snprintf(buf, sizeof(buf), "%d", next_in++);
			ck_assert_int_eq(push_str(q, buf), 0);
		}
		for (int i = 0; i < round % 3 + 1; i++) {
			snprintf(want, sizeof(want), "%d", next_out++);
			ck_assert_str_eq(take_str(q, buf, sizeof(buf)), want);
		}
	}
	while (next_out < next_in) {
		snprintf(want, sizeof(want), "%d", next_out++);
		ck_assert_str_eq(take_str(q, buf, sizeof(buf)), want);
	}
	ck_assert_uint_eq(tc_outq_bytes(q), 0);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_take_moves_at_most_max_in_one_batch)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct tc_msg *out[8];
	unsigned marks;
	char s[2] = "a";

	for (int i = 0; i < 5; i++, s[0]++)
		ck_assert_int_eq(push_str(q, s), 0);
	ck_assert_uint_eq(tc_outq_take(q, out, 3, 0, 0, &marks), 3);
	ck_assert_str_eq(tc_msg_data(out[0]), "a");
	ck_assert_str_eq(tc_msg_data(out[2]), "c");
	for (int i = 0; i < 3; i++)
		tc_msg_unref(out[i]);
	ck_assert_uint_eq(tc_outq_take(q, out, 8, 0, 0, &marks), 2);
	ck_assert_str_eq(tc_msg_data(out[0]), "d");
	ck_assert_str_eq(tc_msg_data(out[1]), "e");
	for (int i = 0; i < 2; i++)
		tc_msg_unref(out[i]);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_bytes_count_what_is_queued)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	char buf[16];

	ck_assert_uint_eq(tc_outq_bytes(q), 0);
	push_str(q, "hello");
	push_str(q, "hi");
	ck_assert_uint_eq(tc_outq_bytes(q), 7);
	take_str(q, buf, sizeof(buf));
	ck_assert_uint_eq(tc_outq_bytes(q), 2);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_printf_message_holds_formatted_text)
{
	struct tc_msg *m = tc_msg_printf("%s: %d%%", "bob", 42);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(tc_msg_len(m), strlen("bob: 42%"));
	ck_assert_str_eq(tc_msg_data(m), "bob: 42%");
	tc_msg_unref(m);
}
END_TEST

START_TEST(test_message_copies_bytes_including_nul)
{
	struct tc_msg *m = tc_msg_new("a\0b", 3);

	ck_assert_uint_eq(tc_msg_len(m), 3);
	ck_assert_mem_eq(tc_msg_data(m), "a\0b", 4);
	tc_msg_unref(m);
	tc_msg_unref(NULL);
}
END_TEST

START_TEST(test_push_up_to_the_byte_limit_is_accepted)
{
	struct tc_outq *q = tc_outq_new(10, NULL);

	ck_assert_int_eq(push_str(q, "12345"), 0);
	ck_assert_int_eq(push_str(q, "67890"), 0);
	ck_assert_uint_eq(tc_outq_bytes(q), 10);
	ck_assert_uint_eq(tc_outq_status(q) & TC_OUTQ_OVERFLOW, 0);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_push_past_the_byte_limit_fails_and_marks_overflow)
{
	struct tc_outq *q = tc_outq_new(10, NULL);
	char buf[16];

	ck_assert_int_eq(push_str(q, "12345"), 0);
	errno = 0;
	ck_assert_int_eq(push_str(q, "678901"), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_ne(tc_outq_status(q) & TC_OUTQ_OVERFLOW, 0);
	ck_assert_uint_eq(tc_outq_bytes(q), 5);
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "12345");
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "");
	tc_outq_free(q);
}
END_TEST

START_TEST(test_notice_goes_past_the_byte_limit_without_overflow)
{
	struct tc_outq *q = tc_outq_new(10, NULL);
	struct tc_msg *bye = tc_msg_new("* bye\n", 6);
	char buf[16];

	ck_assert_int_eq(push_str(q, "1234567890"), 0);
	ck_assert_int_eq(tc_outq_push_past_limit(q, bye), 0);
	ck_assert_uint_eq(tc_outq_status(q) & TC_OUTQ_OVERFLOW, 0);
	ck_assert_uint_eq(tc_outq_bytes(q), 16);
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "1234567890");
	tc_outq_close(q);
	errno = 0;
	ck_assert_int_eq(tc_outq_push_past_limit(q, bye), -1);
	ck_assert_int_eq(errno, EPIPE);
	tc_msg_unref(bye);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_close_at_refuses_pushes_from_that_moment_on)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	char buf[16];

	tc_outq_close_at(q, tc_clock_now_ns() + 3600 * 1000000000LL);
	ck_assert_int_eq(push_str(q, "before"), 0);
	tc_outq_close_at(q, tc_clock_now_ns());
	errno = 0;
	ck_assert_int_eq(push_str(q, "after"), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_ne(tc_outq_status(q) & TC_OUTQ_CLOSED, 0);
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "before");
	tc_outq_free(q);
}
END_TEST

START_TEST(test_closed_queue_refuses_push_but_keeps_what_it_has)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	char buf[16];

	ck_assert_int_eq(push_str(q, "before"), 0);
	tc_outq_close(q);
	errno = 0;
	ck_assert_int_eq(push_str(q, "after"), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "before");
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "");
	tc_outq_free(q);
}
END_TEST

START_TEST(test_events_accumulate_until_taken)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct tc_msg *m = NULL;
	unsigned got = 0;

	ck_assert_uint_eq(tc_outq_status(q), 0);
	tc_outq_notify(q, EV_A);
	tc_outq_notify(q, EV_B);
	ck_assert_uint_eq(tc_outq_take(q, &m, 1, EV_A | EV_B, 0, &got), 0);
	ck_assert_uint_eq(got, EV_A | EV_B);
	/* Taken: no longer pending, so this take sleeps to its deadline. */
	ck_assert_uint_eq(tc_outq_take(q, &m, 1, EV_A | EV_B,
	                               tc_clock_now_ns() + 10 * MS, &got),
	                  0);
	ck_assert_uint_eq(got, 0);
	/* Events are not status: they never close the queue. */
	ck_assert_uint_eq(tc_outq_status(q), 0);
	tc_outq_free(q);
}
END_TEST

/* A worker that acts on q once the test says go. */
struct actor {
	struct tc_outq *q;
	struct go go;
	unsigned mark; /* events to notify; 0: push "late" instead */
	int rc;
};

static void *
actor_main(void *arg)
{
	struct actor *a = arg;

	go_wait(&a->go);
	if (a->mark != 0) {
		tc_outq_notify(a->q, a->mark);
		a->rc = 0;
	} else {
		struct tc_msg *m = tc_msg_new("late", 4);
		a->rc = tc_outq_push(a->q, m);
		tc_msg_unref(m);
	}
	return NULL;
}

static void
actor_start(struct actor *a, pthread_t *t, struct tc_outq *q, unsigned mark)
{
	a->q = q;
	a->mark = mark;
	a->rc = -1;
	go_init(&a->go);
	ck_assert_int_eq(pthread_create(t, NULL, actor_main, a), 0);
}

START_TEST(test_take_blocks_until_another_thread_pushes)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct actor a;
	struct tc_msg *m = NULL;
	pthread_t t;
	unsigned marks;
	size_t n;

	actor_start(&a, &t, q, 0);
	go_signal(&a.go);
	/* No deadline and no wake_on: only the push can end this take. */
	n = tc_outq_take(q, &m, 1, 0, 0, &marks);
	pthread_join(t, NULL);
	ck_assert_int_eq(a.rc, 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(tc_msg_data(m), "late");
	tc_msg_unref(m);
	go_fini(&a.go);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_event_from_another_thread_wakes_take)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct actor a;
	struct tc_msg *m;
	pthread_t t;
	unsigned marks = 0;
	size_t n;

	actor_start(&a, &t, q, EV_A);
	go_signal(&a.go);
	n = tc_outq_take(q, &m, 1, EV_A, 0, &marks);
	pthread_join(t, NULL);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(marks, EV_A);
	go_fini(&a.go);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_take_returns_at_once_on_an_event_in_wake_on)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct tc_msg *m;
	unsigned marks = 0;

	tc_outq_notify(q, EV_A);
	/* No deadline: this would hang (tcase timeout) if the event did not
	 * end the wait. */
	ck_assert_uint_eq(tc_outq_take(q, &m, 1, EV_A | EV_B, 0, &marks), 0);
	ck_assert_uint_eq(marks, EV_A);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_take_waits_past_an_event_outside_wake_on)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct tc_msg *m = NULL;
	unsigned marks = 0;
	int64_t deadline;

	tc_outq_notify(q, EV_A);
	deadline = tc_clock_now_ns() + 20 * MS;
	ck_assert_uint_eq(tc_outq_take(q, &m, 1, EV_B, deadline, &marks), 0);
	/* It returned because of the deadline, not the event. */
	ck_assert_int_ge(tc_clock_now_ns(), deadline);
	ck_assert_ptr_null(m);
	/* EV_A was not asked for: not reported, still pending. */
	ck_assert_uint_eq(marks, 0);
	ck_assert_uint_eq(tc_outq_take(q, &m, 1, EV_A, 0, &marks), 0);
	ck_assert_uint_eq(marks, EV_A);
	tc_outq_free(q);
}
END_TEST

/* CPU time this thread has used, in nanoseconds. */
static int64_t
thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Looped: _i 0 without a doorbell (one futex), 1 with one (two). The
 * take must sleep to its deadline: a futex timeout on the wrong clock
 * would return at once and spin, burning the whole wait in CPU. */
START_TEST(test_take_returns_nothing_at_the_deadline)
{
	struct tc_outq_bell *bell = _i ? tc_outq_bell_new() : NULL;
	struct tc_outq *q = tc_outq_new(1024, bell);
	struct tc_msg *m = NULL;
	unsigned marks = ~0u;
	int64_t cpu = thread_cpu_ns();
	int64_t deadline = tc_clock_now_ns() + 50 * MS;

	ck_assert_uint_eq(tc_outq_take(q, &m, 1, ~0u, deadline, &marks), 0);
	ck_assert_int_ge(tc_clock_now_ns(), deadline);
	ck_assert_int_lt(thread_cpu_ns() - cpu, 25 * MS);
	ck_assert_ptr_null(m);
	ck_assert_uint_eq(marks, 0);
	tc_outq_free(q);
	tc_outq_bell_free(bell);
}
END_TEST

START_TEST(test_take_with_a_past_deadline_does_not_wait)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct tc_msg *m = NULL;
	unsigned marks;

	/* 1 ns after the clock's epoch: long past. Would hang otherwise. */
	ck_assert_uint_eq(tc_outq_take(q, &m, 1, 0, 1, &marks), 0);
	ck_assert_ptr_null(m);
	tc_outq_free(q);
}
END_TEST

START_TEST(test_overflow_wakes_a_writer_waiting_for_it)
{
	struct tc_outq *q = tc_outq_new(2, NULL);
	struct tc_msg *m = NULL;
	unsigned marks = 0;

	ck_assert_int_eq(push_str(q, "too long"), -1);
	ck_assert_uint_eq(tc_outq_take(q, &m, 1, TC_OUTQ_OVERFLOW, 0, &marks),
	                  0);
	ck_assert_uint_eq(marks, TC_OUTQ_OVERFLOW);
	tc_outq_free(q);
}
END_TEST

/* A writer thread blocked in take on its queue, until one message. */
struct taker {
	struct tc_outq *q;
	pthread_t t;
	atomic_int tid;
	char got[16];
};

static void *
taker_main(void *arg)
{
	struct taker *k = arg;
	struct tc_msg *m = NULL;
	unsigned marks;

	atomic_store(&k->tid, (int)gettid());
	if (tc_outq_take(k->q, &m, 1, 0, 0, &marks) == 1) {
		snprintf(k->got, sizeof(k->got), "%s", tc_msg_data(m));
		tc_msg_unref(m);
	}
	return NULL;
}

/* The thread's scheduler state from /proc: 'S' while it sleeps. */
static char
thread_state(int tid)
{
	char path[64], buf[256], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')'); /* the name may hold spaces */
	ck_assert_ptr_nonnull(paren);
	return paren[2];
}

/* Starts a taker on q and returns once it sleeps, inside take: nothing
 * else in it blocks while the test holds no lock of q. */
static void
taker_start_asleep(struct taker *k, struct tc_outq *q)
{
	const struct timespec pause = {0, 1000000};
	int64_t deadline = tc_clock_now_ns() + 5000 * MS;

	k->q = q;
	k->got[0] = '\0';
	atomic_init(&k->tid, 0);
	ck_assert_int_eq(pthread_create(&k->t, NULL, taker_main, k), 0);
	while (atomic_load(&k->tid) == 0 || thread_state(k->tid) != 'S') {
		ck_assert_int_lt(tc_clock_now_ns(), deadline);
		nanosleep(&pause, NULL);
	}
}

/* Joins the taker and returns what it got. */
static const char *
taker_join(struct taker *k)
{
	ck_assert_int_eq(pthread_join(k->t, NULL), 0);
	return k->got;
}

/* push_later, then a ring if it asks for one, as a broadcast does. */
static bool
push_later_str(struct tc_outq *q, const char *s)
{
	struct tc_msg *m = tc_msg_new(s, strlen(s));
	bool ring = false;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(tc_outq_push_later(q, m, &ring), 0);
	tc_msg_unref(m);
	return ring;
}

START_TEST(test_one_ring_wakes_every_sleeping_writer_of_the_bell)
{
	struct tc_outq_bell *bell = tc_outq_bell_new();
	struct tc_outq *q[3];
	struct taker k[3];
	bool ring = false;

	ck_assert_ptr_nonnull(bell);
	for (int i = 0; i < 3; i++) {
		q[i] = tc_outq_new(1024, bell);
		taker_start_asleep(&k[i], q[i]);
	}
	for (int i = 0; i < 3; i++)
		ring |= push_later_str(q[i], "hello");
	/* Without futex_waitv (valgrind) each push woke its writer. */
	if (ring)
		tc_outq_bell_ring(bell);
	for (int i = 0; i < 3; i++) {
		ck_assert_str_eq(taker_join(&k[i]), "hello");
		tc_outq_free(q[i]);
	}
	tc_outq_bell_free(bell);
}
END_TEST

START_TEST(test_push_later_wakes_a_writer_without_a_bell_itself)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct taker k;

	taker_start_asleep(&k, q);
	ck_assert(!push_later_str(q, "direct"));
	ck_assert_str_eq(taker_join(&k), "direct");
	tc_outq_free(q);
}
END_TEST

START_TEST(test_push_later_asks_no_ring_when_no_writer_sleeps)
{
	struct tc_outq_bell *bell = tc_outq_bell_new();
	struct tc_outq *q = tc_outq_new(1024, bell);
	char buf[16];

	ck_assert(!push_later_str(q, "queued"));
	ck_assert_str_eq(take_str(q, buf, sizeof(buf)), "queued");
	tc_outq_free(q);
	tc_outq_bell_free(bell);
}
END_TEST

START_TEST(test_shared_message_lives_until_its_last_reference)
{
	struct tc_outq *q[3];
	struct tc_msg *m = tc_msg_printf("shared %d", 3);
	struct tc_msg *got[3];
	unsigned marks;

	for (int i = 0; i < 3; i++) {
		q[i] = tc_outq_new(1024, NULL);
		ck_assert_int_eq(tc_outq_push(q[i], m), 0);
	}
	tc_msg_unref(m); /* the creator's reference */
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(tc_outq_take(q[i], &got[i], 1, 0, 0, &marks),
		                  1);
		ck_assert_ptr_eq(got[i], m);
	}
	/* Each reader may still use it after the others let go; ASan or
	 * valgrind flag a use after free, a double free or a leak. */
	for (int i = 0; i < 3; i++) {
		ck_assert_str_eq(tc_msg_data(got[i]), "shared 3");
		tc_msg_unref(got[i]);
	}
	for (int i = 0; i < 3; i++)
		tc_outq_free(q[i]);
}
END_TEST

START_TEST(test_free_drops_queued_references_only)
{
	struct tc_outq *q = tc_outq_new(1024, NULL);
	struct tc_msg *m = tc_msg_new("kept", 4);

	ck_assert_int_eq(tc_outq_push(q, m), 0);
	ck_assert_int_eq(tc_outq_push(q, m), 0);
	tc_outq_free(q);
	/* The caller's reference is still good (ASan checks the rest). */
	ck_assert_str_eq(tc_msg_data(m), "kept");
	tc_msg_unref(m);
}
END_TEST

#define N_PRODUCERS 4
#define N_PUSHES 10000

struct producer {
	struct tc_outq *q;
	int id;
	int failures;
};

static void *
producer_main(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < N_PUSHES; i++) {
		struct tc_msg *m = tc_msg_printf("%d %d", p->id, i);

		if (m == NULL || tc_outq_push(p->q, m) < 0)
			p->failures++;
		tc_msg_unref(m);
	}
	return NULL;
}

/* Consumes every message, checking each producer's sequence; returns the
 * number of messages out of order. */
static int
consume_all(struct tc_outq *q, int next[N_PRODUCERS], int64_t deadline)
{
	struct tc_msg *batch[64];
	unsigned marks;
	int total = 0, bad = 0;

	while (total < N_PRODUCERS * N_PUSHES && tc_clock_now_ns() < deadline) {
		size_t n = tc_outq_take(q, batch, 64, 0, deadline, &marks);

		for (size_t i = 0; i < n; i++) {
			int id = -1, seq = -1;

			if (sscanf(tc_msg_data(batch[i]), "%d %d", &id, &seq) !=
			        2 ||
			    id < 0 || id >= N_PRODUCERS || seq != next[id])
				bad++;
			else
				next[id]++;
			tc_msg_unref(batch[i]);
		}
		total += (int)n;
	}
	return bad;
}

START_TEST(test_concurrent_producers_keep_order_and_lose_nothing)
{
	struct tc_outq *q = tc_outq_new((size_t)1 << 30, NULL);
	struct producer p[N_PRODUCERS];
	pthread_t t[N_PRODUCERS];
	int next[N_PRODUCERS] = {0};
	int bad;

	for (int i = 0; i < N_PRODUCERS; i++) {
		p[i] = (struct producer){.q = q, .id = i};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, producer_main, &p[i]), 0);
	}
	bad = consume_all(q, next, tc_clock_now_ns() + 20000 * MS);
	for (int i = 0; i < N_PRODUCERS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(bad, 0);
	for (int i = 0; i < N_PRODUCERS; i++) {
		ck_assert_int_eq(p[i].failures, 0);
		ck_assert_int_eq(next[i], N_PUSHES);
	}
	ck_assert_uint_eq(tc_outq_bytes(q), 0);
	tc_outq_free(q);
}
END_TEST

static Suite *
outq_suite(void)
{
	Suite *s = suite_create("outq");
	TCase *tc;

	tc = tcase_create("fifo");
	tcase_add_test(tc, test_messages_come_out_in_push_order);
	tcase_add_test(tc, test_order_survives_ring_wrap_and_growth);
	tcase_add_test(tc, test_take_moves_at_most_max_in_one_batch);
	tcase_add_test(tc, test_bytes_count_what_is_queued);
	tcase_add_test(tc, test_printf_message_holds_formatted_text);
	tcase_add_test(tc, test_message_copies_bytes_including_nul);
	suite_add_tcase(s, tc);

	tc = tcase_create("limit_and_marks");
	tcase_add_test(tc, test_push_up_to_the_byte_limit_is_accepted);
	tcase_add_test(tc, test_close_at_refuses_pushes_from_that_moment_on);
	tcase_add_test(tc,
	               test_notice_goes_past_the_byte_limit_without_overflow);
	tcase_add_test(tc,
	               test_push_past_the_byte_limit_fails_and_marks_overflow);
	tcase_add_test(tc,
	               test_closed_queue_refuses_push_but_keeps_what_it_has);
	tcase_add_test(tc, test_events_accumulate_until_taken);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_take_blocks_until_another_thread_pushes);
	tcase_add_test(tc, test_event_from_another_thread_wakes_take);
	tcase_add_test(tc, test_take_returns_at_once_on_an_event_in_wake_on);
	tcase_add_test(tc, test_take_waits_past_an_event_outside_wake_on);
	tcase_add_loop_test(tc, test_take_returns_nothing_at_the_deadline, 0,
	                    2);
	tcase_add_test(tc, test_take_with_a_past_deadline_does_not_wait);
	tcase_add_test(tc, test_overflow_wakes_a_writer_waiting_for_it);
	suite_add_tcase(s, tc);

	tc = tcase_create("bell");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc,
	               test_one_ring_wakes_every_sleeping_writer_of_the_bell);
	tcase_add_test(tc,
	               test_push_later_wakes_a_writer_without_a_bell_itself);
	tcase_add_test(tc, test_push_later_asks_no_ring_when_no_writer_sleeps);
	suite_add_tcase(s, tc);

	tc = tcase_create("refs");
	tcase_add_test(tc, test_shared_message_lives_until_its_last_reference);
	tcase_add_test(tc, test_free_drops_queued_references_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc,
	               test_concurrent_producers_keep_order_and_lose_nothing);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return outq_suite();
}
