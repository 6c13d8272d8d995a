/* threadpool: the thread cache of threadpool.h.
 *
 * Parked threads sit on a stack, newest on top, behind the pool's one
 * lock. Each sleeps on a futex word of its own that the hand-off sets, so
 * a job wakes exactly the thread it is given, with one FUTEX_WAKE: none is
 * woken only to find the job taken, and the oldest stay asleep until their
 * idle time is over. The threads are joinable: those that leave on their
 * own (bound, idle) detach themselves, those ended by tc_pool_free() are
 * joined by it, so nothing of theirs outlives the pool. */
#include "tcpchat/threadpool.h"

#include "tcpchat/clock.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct worker {
	struct tc_pool *pool; /* immutable */
	pthread_t tid;        /* its own: set when it starts, for free() */
	/* The hand-off word: 0 while the thread waits for a job, 1 once one
	 * (or the end: fn NULL) was handed over. Set by whoever took the
	 * thread (off the stack, or new), which alone may then; reset by the
	 * thread itself when it parks. */
	atomic_uint go;
	void *(*fn)(void *); /* the job, written before go is set */
	void *arg;
	/* Under pool->lock: on the parked stack, and its links there (down
	 * also links the ended list). */
	bool parked;
	struct worker *up, *down;
};

struct tc_pool {
	/* Guards the stack of parked threads, the counts, stopping and the
	 * ended list. Held only to link, unlink and count: never across a
	 * job, a wake-up or pthread_create. */
	pthread_mutex_t lock;
	pthread_cond_t all_out; /* free() waits on it for n_live to be 0 */
	pthread_attr_t attr;    /* immutable: joinable, the stack size */
	unsigned max_parked;    /* immutable */
	int64_t idle_ns;        /* immutable */
	struct worker *top;     /* the parked thread parked last */
	unsigned n_parked;
	unsigned n_live;      /* threads started that have not left yet */
	bool stopping;        /* free() has begun: nothing parks any more */
	struct worker *ended; /* left on free()'s word: to join (via down) */
};

/* How a thread stops taking jobs. */
enum leave {
	STAY,       /* parked, or got a job */
	ON_ITS_OWN, /* the bound was reached, or it idled out: detach */
	TO_JOIN,    /* the pool is being freed: tc_pool_free() joins it */
};

/* ---- futexes ---- */

static void
futex_wake_one(atomic_uint *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleeps while *word is 0, at most until deadline_ns (CLOCK_MONOTONIC;
 * 0: none); may return early: the caller looks again. */
static void
futex_wait_zero(atomic_uint *word, int64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000),
	                      .tv_nsec = (long)(deadline_ns % 1000000000)};

	syscall(SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, 0,
	        deadline_ns != 0 ? &ts : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* ---- the stack of parked threads, under the lock ---- */

static void
push_parked(struct tc_pool *pool, struct worker *w)
{
	w->parked = true;
	w->up = NULL;
	w->down = pool->top;
	if (pool->top != NULL)
		pool->top->up = w;
	pool->top = w;
	pool->n_parked++;
}

static void
unlink_parked(struct tc_pool *pool, struct worker *w)
{
	if (w->up != NULL)
		w->up->down = w->down;
	else
		pool->top = w->down;
	if (w->down != NULL)
		w->down->up = w->up;
	w->parked = false;
	w->up = w->down = NULL;
	pool->n_parked--;
}

/* Hands fn(arg) (NULL: the end) to w, which is off the stack and waits
 * for go, and wakes it. Without the lock: once go is set, w may run, and
 * even leave and free itself, before the wake is made. That wake of a
 * private futex touches no memory; at worst it wakes a waiter on a word
 * reused at that address, and every futex waiter takes a wake-up for a
 * maybe. */
static void
hand_over(struct worker *w, void *(*fn)(void *), void *arg)
{
	w->fn = fn;
	w->arg = arg;
	atomic_store(&w->go, 1);
	futex_wake_one(&w->go);
}

/* The job of a thread taken for a pair whose other half could not be
 * had: nothing, then park again. */
static void *
no_job(void *arg)
{
	return arg;
}

/* w stops taking jobs; how was decided under the lock, held here. */
static void
leave_locked(struct tc_pool *pool, struct worker *w, enum leave how)
{
	if (how == TO_JOIN) {
		w->down = pool->ended;
		pool->ended = w;
	}
	if (--pool->n_live == 0 && pool->stopping)
		pthread_cond_signal(&pool->all_out);
}

/* ---- a thread's life ---- */

/* After a job: parks w, or decides that it leaves. */
static enum leave
park(struct tc_pool *pool, struct worker *w)
{
	enum leave how = STAY;

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping)
		how = TO_JOIN;
	else if (pool->n_parked >= pool->max_parked)
		how = ON_ITS_OWN;
	if (how == STAY) {
		atomic_store(&w->go, 0);
		push_parked(pool, w);
	} else {
		leave_locked(pool, w, how);
	}
	pthread_mutex_unlock(&pool->lock);
	return how;
}

/* Parked past the idle time: leaves, unless it was taken off the stack
 * in the meantime (its job is on its way then). */
static enum leave
idle_out(struct tc_pool *pool, struct worker *w)
{
	enum leave how = STAY;

	pthread_mutex_lock(&pool->lock);
	if (w->parked) {
		unlink_parked(pool, w);
		how = ON_ITS_OWN;
		leave_locked(pool, w, how);
	}
	pthread_mutex_unlock(&pool->lock);
	return how;
}

/* Waits for a job or the end: parked, for at most the idle time; new,
 * or taken off the stack, for as long as it takes. */
static enum leave
await_job(struct tc_pool *pool, struct worker *w, bool parked)
{
	int64_t deadline = parked ? tc_clock_now_ns() + pool->idle_ns : 0;

	while (atomic_load(&w->go) == 0) {
		futex_wait_zero(&w->go, deadline);
		if (deadline == 0 || atomic_load(&w->go) != 0 ||
		    tc_clock_now_ns() < deadline)
			continue;
		if (idle_out(pool, w) != STAY)
			return ON_ITS_OWN;
		deadline = 0;
	}
	if (w->fn != NULL)
		return STAY;
	pthread_mutex_lock(&pool->lock);
	leave_locked(pool, w, TO_JOIN);
	pthread_mutex_unlock(&pool->lock);
	return TO_JOIN;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct tc_pool *pool = w->pool;
	enum leave how;

	w->tid = pthread_self();
	how = await_job(pool, w, false); /* its first job comes after it */
	while (how == STAY) {
		(void)w->fn(w->arg);
		how = park(pool, w);
		if (how == STAY)
			how = await_job(pool, w, true);
	}
	if (how == ON_ITS_OWN) {
		/* Nobody will join it: what is left of it is the system's. */
		pthread_detach(pthread_self());
		free(w);
	}
	return NULL;
}

/* ---- the pool ---- */

struct tc_pool *
tc_pool_new(unsigned max_parked, size_t stack_size, int64_t idle_ns)
{
	struct tc_pool *pool = calloc(1, sizeof(*pool));
	int rc;

	if (pool == NULL)
		return NULL;
	pool->max_parked = max_parked;
	pool->idle_ns = idle_ns;
	rc = pthread_attr_init(&pool->attr);
	if (rc != 0)
		goto fail;
	if (stack_size != 0 &&
	    (rc = pthread_attr_setstacksize(&pool->attr, stack_size)) != 0)
		goto fail_attr;
	if ((rc = pthread_mutex_init(&pool->lock, NULL)) != 0)
		goto fail_attr;
	if ((rc = pthread_cond_init(&pool->all_out, NULL)) != 0)
		goto fail_lock;
	return pool;
fail_lock:
	pthread_mutex_destroy(&pool->lock);
fail_attr:
	pthread_attr_destroy(&pool->attr);
fail:
	free(pool);
	errno = rc;
	return NULL;
}

/* No thread is parked: starts one that waits for its first job. */
static int
start_thread(struct tc_pool *pool, struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	pthread_t tid;
	int rc;

	if (w == NULL)
		return ENOMEM;
	w->pool = pool;
	atomic_init(&w->go, 0);
	pthread_mutex_lock(&pool->lock);
	pool->n_live++;
	pthread_mutex_unlock(&pool->lock);
	rc = pthread_create(&tid, &pool->attr, worker_main, w);
	if (rc != 0) {
		pthread_mutex_lock(&pool->lock);
		pool->n_live--;
		pthread_mutex_unlock(&pool->lock);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* Takes a thread for one job: the one parked last, or a new one. It
 * waits, off the stack, until hand_over(). 0 or pthread_create's error. */
static int
take_thread(struct tc_pool *pool, struct worker **out)
{
	struct worker *w;

	pthread_mutex_lock(&pool->lock);
	w = pool->top;
	if (w != NULL)
		unlink_parked(pool, w);
	pthread_mutex_unlock(&pool->lock);
	if (w == NULL)
		return start_thread(pool, out);
	*out = w;
	return 0;
}

int
tc_pool_run(struct tc_pool *pool, void *(*fn)(void *), void *arg)
{
	struct worker *w;
	int rc = take_thread(pool, &w);

	if (rc == 0)
		hand_over(w, fn, arg);
	return rc;
}

int
tc_pool_run_pair(struct tc_pool *pool, void *(*first)(void *), void *first_arg,
                 void *(*second)(void *), void *second_arg)
{
	struct worker *w1, *w2;
	int rc;

	if ((rc = take_thread(pool, &w1)) != 0)
		return rc;
	if ((rc = take_thread(pool, &w2)) != 0) {
		hand_over(w1, no_job, NULL);
		return rc;
	}
	hand_over(w1, first, first_arg);
	hand_over(w2, second, second_arg);
	return 0;
}

unsigned
tc_pool_parked(struct tc_pool *pool)
{
	unsigned n;

	pthread_mutex_lock(&pool->lock);
	n = pool->n_parked;
	pthread_mutex_unlock(&pool->lock);
	return n;
}

void
tc_pool_free(struct tc_pool *pool)
{
	struct worker *w;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	/* Ended under the lock: they wait for it, and then free() joins
	 * them. */
	while ((w = pool->top) != NULL) {
		unlink_parked(pool, w);
		hand_over(w, NULL, NULL);
	}
	/* The jobs still running park no more: they end on their own. */
	while (pool->n_live > 0)
		pthread_cond_wait(&pool->all_out, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	while ((w = pool->ended) != NULL) {
		pool->ended = w->down;
		pthread_join(w->tid, NULL);
		free(w);
	}
	pthread_cond_destroy(&pool->all_out);
	pthread_mutex_destroy(&pool->lock);
	pthread_attr_destroy(&pool->attr);
	free(pool);
}
