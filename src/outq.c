/* outq: a FIFO of shared messages between many producers and one taker.
 *
 * A queue is a ring of message pointers behind one mutex. Its taker sleeps
 * on a futex word of the queue, bumped by every push and event made while it
 * sleeps, and on its group's doorbell, so that a broadcast wakes every
 * sleeping taker of the group with one system call. It does no I/O: the
 * taker takes messages out and sends them unlocked. An idle queue costs
 * its struct only: the ring is allocated on the first push and released
 * again when a large one drains (10,000 idle peers). */
#include "tcpchat/outq.h"

#include "tcpchat/clock.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* First ring: a chat peer rarely has more than a few lines waiting. */
#define OUTQ_MIN_SLOTS 4
/* A drained ring larger than this is freed, so one burst does not pin
 * memory on every connection for its lifetime. */
#define OUTQ_KEEP_SLOTS 64

/* Why a doorbell: waking the 50 takers of a broadcast one FUTEX_WAKE at a
 * time cost 8.2 us of CPU per thread on a 2-vCPU VM, one FUTEX_WAKE for
 * all of them 4.7 us (docs/BENCHMARKS.md). */
struct tc_outq_bell {
	atomic_uint rings; /* a futex word: bumped by every ring */
};

struct tc_outq {
	/* Guards every field below but wake_seq; held only to move pointers
	 * and count, never across I/O or a message's allocation or free. */
	pthread_mutex_t lock;
	/* The taker's futex word: bumped, under lock, by every push and
	 * event made while the taker sleeps, so no wake-up is ever lost. */
	atomic_uint wake_seq;
	struct tc_outq_bell *bell; /* immutable; NULL: none */
	struct tc_msg **ring;      /* NULL until the first push */
	size_t cap;                /* slots in ring: 0 or a power of two */
	size_t head;               /* index of the oldest message */
	size_t n;                  /* messages queued */
	size_t bytes;              /* their message bytes, <= max_bytes */
	size_t max_bytes;
	unsigned status;      /* enum tc_outq_status bits */
	unsigned events;      /* TC_OUTQ_EVENT bits pending for the taker */
	unsigned waiters;     /* the taker sleeps: a push bumps wake_seq */
	int64_t closes_at_ns; /* pushes refused from then on; 0: never */
};

/* ---- futexes ---- */

/* Whether the kernel has futex_waitv (Linux 5.16), which lets a taker
 * sleep on its queue and on the bell at once. Without it (or under
 * valgrind, which does not know it) every push wakes its own taker at
 * once, a broadcast's too, under the table's lock: slower, still right. */
static bool
bell_works(void)
{
	static atomic_int works = -1; /* -1: not asked yet */
	int w = atomic_load_explicit(&works, memory_order_relaxed);

	if (w < 0) {
		/* No futexes at all is invalid: EINVAL, unless unknown. */
		w = syscall(SYS_futex_waitv, NULL, 0, 0, NULL, 0) == -1 &&
		    errno == EINVAL;
		atomic_store_explicit(&works, w, memory_order_relaxed);
	}
	return w == 1;
}

static void
futex_wake_all(atomic_uint *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void
waiter_init(struct futex_waitv *w, atomic_uint *word)
{
	memset(w, 0, sizeof(*w));
	w->val = atomic_load(word);
	w->uaddr = (uintptr_t)word;
	w->flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
}

/* Sleeps until a push or event bumps q's word or the bell rings, or until
 * deadline (NULL: none); may return early: the caller checks again.
 * Called and returns with the lock held; the words are read under it, so a
 * change made after it is released makes the kernel return at once. */
static void
outq_sleep(struct tc_outq *q, const struct timespec *deadline)
{
	struct futex_waitv w[2];
	bool both = q->bell != NULL && bell_works();

	waiter_init(&w[0], &q->wake_seq);
	if (both)
		waiter_init(&w[1], &q->bell->rings);
	q->waiters++;
	pthread_mutex_unlock(&q->lock);
	if (both)
		syscall(SYS_futex_waitv, w, 2, 0, deadline, CLOCK_MONOTONIC);
	else
		syscall(SYS_futex, &q->wake_seq, FUTEX_WAIT_BITSET_PRIVATE,
		        (unsigned)w[0].val, deadline, NULL,
		        FUTEX_BITSET_MATCH_ANY);
	pthread_mutex_lock(&q->lock);
	q->waiters--;
}

/* Out of line: inlined into tc_outq_mark(), gcc 12 with
 * -fsanitize=undefined takes the path after its null check of q for real
 * and warns (-Wstringop-overflow) that the atomic writes to address 8. */
static __attribute__((noinline)) void
word_bump(atomic_uint *word)
{
	atomic_fetch_add(word, 1);
}

/* After a change the taker waits for, with the lock held: whether the
 * taker sleeps and needs waking once the lock is released. */
static bool
outq_changed(struct tc_outq *q)
{
	if (q->waiters == 0)
		return false;
	word_bump(&q->wake_seq);
	return true;
}

struct tc_outq_bell *
tc_outq_bell_new(void)
{
	struct tc_outq_bell *b = calloc(1, sizeof(*b));

	if (b != NULL)
		atomic_init(&b->rings, 0);
	return b;
}

void
tc_outq_bell_free(struct tc_outq_bell *b)
{
	free(b);
}

void
tc_outq_bell_ring(struct tc_outq_bell *b)
{
	atomic_fetch_add(&b->rings, 1);
	futex_wake_all(&b->rings);
}

/* ---- queues ---- */

struct tc_outq *
tc_outq_new(size_t max_bytes, struct tc_outq_bell *bell)
{
	struct tc_outq *q;
	int rc;

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->max_bytes = max_bytes;
	q->bell = bell;
	atomic_init(&q->wake_seq, 0);
	if ((rc = pthread_mutex_init(&q->lock, NULL)) != 0) {
		free(q);
		errno = rc;
		return NULL;
	}
	return q;
}

void
tc_outq_free(struct tc_outq *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n; i++)
		tc_msg_unref(q->ring[(q->head + i) & (q->cap - 1)]);
	free(q->ring);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Makes room for one more message; called with the lock held. realloc
 * cannot simply grow a ring that wraps, so the live part is copied in
 * order to the start of the new one. */
static int
outq_grow(struct tc_outq *q)
{
	size_t cap = q->cap == 0 ? OUTQ_MIN_SLOTS : q->cap * 2;
	struct tc_msg **ring;

	if (cap > SIZE_MAX / sizeof(*ring))
		return -1;
	ring = malloc(cap * sizeof(*ring));
	if (ring == NULL)
		return -1;
	for (size_t i = 0; i < q->n; i++)
		ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = ring;
	q->cap = cap;
	q->head = 0;
	return 0;
}

void
tc_outq_close_at(struct tc_outq *q, int64_t when_ns)
{
	pthread_mutex_lock(&q->lock);
	q->closes_at_ns = when_ns;
	pthread_mutex_unlock(&q->lock);
}

/* Queues m; past the byte limit only when over_limit_ok. With ring
 * non-NULL, a taker that waits on a working bell is left to the caller's
 * ring: *ring is set true then. */
static int
outq_push(struct tc_outq *q, struct tc_msg *m, bool over_limit_ok, bool *ring)
{
	size_t len = tc_msg_len(m);
	bool wake = false;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	if (q->closes_at_ns != 0 && !(q->status & TC_OUTQ_CLOSED) &&
	    tc_clock_now_ns() >= q->closes_at_ns)
		q->status |= TC_OUTQ_CLOSED; /* the window is over: close now */
	if (q->status & TC_OUTQ_CLOSED) {
		err = EPIPE;
	} else if (!over_limit_ok && len > q->max_bytes - q->bytes) {
		/* The taker may be asleep with nothing queued: wake it so it
		 * sees the overflow at once. */
		q->status |= TC_OUTQ_OVERFLOW;
		wake = outq_changed(q);
		ring = NULL;
		err = ENOBUFS;
	} else if (q->n == q->cap && outq_grow(q) < 0) {
		err = ENOMEM;
	} else {
		q->ring[(q->head + q->n) & (q->cap - 1)] = tc_msg_ref(m);
		q->n++;
		q->bytes += len;
		wake = outq_changed(q);
	}
	pthread_mutex_unlock(&q->lock);
	/* Wake after unlocking, so the woken taker does not go straight
	 * back to sleep on the mutex we hold. q stays alive: its taker
	 * unhooks it from the table (whose lock broadcasters hold) first. */
	if (wake && ring != NULL && q->bell != NULL && bell_works())
		*ring = true;
	else if (wake)
		futex_wake_all(&q->wake_seq);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
tc_outq_push(struct tc_outq *q, struct tc_msg *m)
{
	return outq_push(q, m, false, NULL);
}

int
tc_outq_push_later(struct tc_outq *q, struct tc_msg *m, bool *ring)
{
	return outq_push(q, m, false, ring);
}

int
tc_outq_push_past_limit(struct tc_outq *q, struct tc_msg *m)
{
	return outq_push(q, m, true, NULL);
}

/* Sets status and events bits and wakes the taker. */
static void
outq_set(struct tc_outq *q, unsigned status, unsigned events)
{
	bool wake;

	pthread_mutex_lock(&q->lock);
	q->status |= status;
	q->events |= events;
	wake = outq_changed(q);
	pthread_mutex_unlock(&q->lock);
	if (wake)
		futex_wake_all(&q->wake_seq);
}

void
tc_outq_close(struct tc_outq *q)
{
	outq_set(q, TC_OUTQ_CLOSED, 0);
}

void
tc_outq_notify(struct tc_outq *q, unsigned events)
{
	outq_set(q, 0, events);
}

unsigned
tc_outq_status(struct tc_outq *q)
{
	unsigned status;

	pthread_mutex_lock(&q->lock);
	status = q->status;
	pthread_mutex_unlock(&q->lock);
	return status;
}

size_t
tc_outq_bytes(struct tc_outq *q)
{
	size_t bytes;

	pthread_mutex_lock(&q->lock);
	bytes = q->bytes;
	pthread_mutex_unlock(&q->lock);
	return bytes;
}

/* Sleeps until there is something for the taker or the deadline
 * passes; called and returns with the lock held. */
static void
outq_wait(struct tc_outq *q, unsigned wake_on, int64_t deadline_ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(deadline_ns / 1000000000);
	ts.tv_nsec = (long)(deadline_ns % 1000000000);
	while (q->n == 0 && !((q->status | q->events) & wake_on)) {
		if (deadline_ns != 0 && tc_clock_now_ns() >= deadline_ns)
			break;
		outq_sleep(q, deadline_ns != 0 ? &ts : NULL);
	}
}

size_t
tc_outq_take(struct tc_outq *q, struct tc_msg **out, size_t max,
             unsigned wake_on, int64_t deadline_ns, unsigned *got)
{
	struct tc_msg **drained = NULL;
	size_t k;

	pthread_mutex_lock(&q->lock);
	outq_wait(q, wake_on, deadline_ns);
	for (k = 0; k < max && q->n > 0; k++) {
		out[k] = q->ring[q->head];
		q->head = (q->head + 1) & (q->cap - 1);
		q->n--;
		q->bytes -= tc_msg_len(out[k]);
	}
	if (q->n == 0) {
		q->head = 0;
		if (q->cap > OUTQ_KEEP_SLOTS) {
			drained = q->ring;
			q->ring = NULL;
			q->cap = 0;
		}
	}
	if (got != NULL)
		*got = q->status | (q->events & wake_on);
	q->events &= ~wake_on;
	pthread_mutex_unlock(&q->lock);
	free(drained);
	return k;
}
