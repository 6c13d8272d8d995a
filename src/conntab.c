/* conntab: the table of live connections behind one lock.
 *
 * Entries sit in a dense array of pointers; each remembers its slot, so add
 * and remove (swap with the last) are O(1) for 10,000 peers. The table
 * routes messages into each entry's outq and can shut a socket down, but it
 * never sends, receives or closes: the session's writer owns the fd. */
#include "tcpchat/conntab.h"

#include "tcpchat/clock.h"
#include "tcpchat/progress.h"
#include "tcpchat/proto.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* First array size; doubled up to max_conns as peers arrive. */
#define CONNTAB_MIN_SLOTS 16

struct tc_conn {
	unsigned id;                /* immutable */
	int fd;                     /* immutable; valid until removed */
	struct tc_outq *q;          /* immutable; not owned */
	size_t index;               /* slot in tab->conns; under tab->lock */
	_Atomic int phase;          /* enum tc_phase; only tc_conn_move() */
	_Atomic int64_t closing_ns; /* when it left OPEN; tc_conn_move() */
	_Atomic int left_open_for;  /* the phase it left OPEN for; ditto */
	/* An eventfd its reader waits on while flood control holds it back
	 * (-1: none yet): leaving OPEN writes it. Set once by the reader,
	 * which owns it; valid until the entry is removed. */
	_Atomic int waker_fd;
	/* The shutdown's watch for progress: the peer's acknowledged bytes
	 * when last seen moving, and when. Under tab->lock. */
	uint64_t acked_seen;
	int64_t progress_ns;
	char peer[TC_PEER_MAX]; /* immutable */
	char name[TC_NAME_MAX]; /* under tab->lock */
	/* Relaxed atomics: statistics, never used to order anything. */
	_Atomic uint64_t bytes_in, msgs_in, bytes_out, msgs_out;
};

struct tc_conntab {
	/* Guards the array, n, next_id, reserved, and every entry's index,
	 * name. Held only for memory work and non-blocking
	 * outq pushes and shutdown(); taken before any outq lock. */
	pthread_mutex_t lock;
	struct tc_conn **conns;
	size_t n, cap;
	unsigned max_conns;
	unsigned next_id;
	char reserved[TC_NAME_MAX]; /* "" when none */
	/* The doorbell of every entry's queue (tc_conntab_bell): immutable,
	 * owned, rung without the lock. */
	struct tc_outq_bell *bell;
};

/* Copies src into dst of size len, truncating. */
static void
copy_str(char *dst, const char *src, size_t len)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

struct tc_conntab *
tc_conntab_new(unsigned max_conns)
{
	struct tc_conntab *tab;
	int rc;

	tab = calloc(1, sizeof(*tab));
	if (tab == NULL)
		return NULL;
	tab->max_conns = max_conns;
	tab->next_id = 1;
	tab->bell = tc_outq_bell_new();
	if (tab->bell == NULL) {
		free(tab);
		return NULL;
	}
	if ((rc = pthread_mutex_init(&tab->lock, NULL)) != 0) {
		tc_outq_bell_free(tab->bell);
		free(tab);
		errno = rc;
		return NULL;
	}
	return tab;
}

void
tc_conntab_free(struct tc_conntab *tab)
{
	if (tab == NULL)
		return;
	assert(tab->n == 0);
	free(tab->conns);
	tc_outq_bell_free(tab->bell);
	pthread_mutex_destroy(&tab->lock);
	free(tab);
}

/* Makes room for one more entry; called with the lock held. */
static int
conntab_grow(struct tc_conntab *tab)
{
	size_t cap = tab->cap == 0 ? CONNTAB_MIN_SLOTS : tab->cap * 2;
	struct tc_conn **conns;

	if (cap > tab->max_conns)
		cap = tab->max_conns;
	conns = realloc(tab->conns, cap * sizeof(*conns));
	if (conns == NULL)
		return -1;
	tab->conns = conns;
	tab->cap = cap;
	return 0;
}

struct tc_conn *
tc_conntab_add(struct tc_conntab *tab, int fd, const char *peer,
               struct tc_outq *q)
{
	/* Allocated before locking: the acceptor must not stall readers
	 * that broadcast while malloc works. */
	struct tc_conn *c = calloc(1, sizeof(*c));
	int err = 0;

	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->q = q;
	atomic_init(&c->phase, TC_PHASE_OPEN);
	atomic_init(&c->closing_ns, 0);
	atomic_init(&c->left_open_for, TC_PHASE_OPEN);
	atomic_init(&c->waker_fd, -1);
	copy_str(c->peer, peer, sizeof(c->peer));
	copy_str(c->name, peer, sizeof(c->name));
	pthread_mutex_lock(&tab->lock);
	if (tab->n >= tab->max_conns)
		err = EMFILE;
	else if (tab->n == tab->cap && conntab_grow(tab) < 0)
		err = ENOMEM;
	if (err == 0) {
		c->id = tab->next_id++;
		c->index = tab->n;
		tab->conns[tab->n++] = c;
	}
	pthread_mutex_unlock(&tab->lock);
	if (err != 0) {
		free(c);
		errno = err;
		return NULL;
	}
	return c;
}

void
tc_conntab_remove(struct tc_conntab *tab, struct tc_conn *c)
{
	struct tc_conn *last;

	pthread_mutex_lock(&tab->lock);
	assert(c->index < tab->n && tab->conns[c->index] == c);
	last = tab->conns[--tab->n];
	tab->conns[c->index] = last;
	last->index = c->index;
	pthread_mutex_unlock(&tab->lock);
	free(c);
}

struct tc_outq_bell *
tc_conntab_bell(struct tc_conntab *tab)
{
	return tab->bell;
}

unsigned
tc_conn_id(const struct tc_conn *c)
{
	return c->id;
}

const char *
tc_conn_name(const struct tc_conn *c)
{
	return c->name;
}

/* Whether name is taken by the reserved name or by another entry than c;
 * called with the lock held. */
static bool
name_taken(struct tc_conntab *tab, const struct tc_conn *c, const char *name)
{
	if (tab->reserved[0] != '\0' && tc_proto_nick_eq(tab->reserved, name))
		return true;
	for (size_t i = 0; i < tab->n; i++)
		if (tab->conns[i] != c &&
		    tc_proto_nick_eq(tab->conns[i]->name, name))
			return true;
	return false;
}

int
tc_conntab_rename(struct tc_conntab *tab, struct tc_conn *c, const char *name,
                  char *old)
{
	int err = 0;

	if (strlen(name) >= TC_NAME_MAX) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&tab->lock);
	if (name_taken(tab, c, name)) {
		err = EEXIST;
	} else {
		if (old != NULL)
			memcpy(old, c->name, TC_NAME_MAX);
		copy_str(c->name, name, sizeof(c->name));
	}
	pthread_mutex_unlock(&tab->lock);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

void
tc_conntab_reserve_name(struct tc_conntab *tab, const char *name)
{
	pthread_mutex_lock(&tab->lock);
	copy_str(tab->reserved, name, sizeof(tab->reserved));
	pthread_mutex_unlock(&tab->lock);
}

/* A reader held back by flood control stops waiting when c leaves OPEN.
 * The phase moved before this load, and the reader stores its fd before
 * it reads the phase: one of the two sees the other. */
static void
wake_reader(struct tc_conn *c)
{
	int fd = atomic_load(&c->waker_fd);
	uint64_t one = 1;

	if (fd != -1)
		(void)write(fd, &one, sizeof(one));
}

void
tc_conn_set_waker(struct tc_conn *c, int fd)
{
	atomic_store(&c->waker_fd, fd);
}

bool
tc_conn_move(struct tc_conn *c, enum tc_phase to, enum tc_phase *was)
{
	enum tc_phase from;

	if (!tc_phase_move(&c->phase, to, &from)) {
		if (was != NULL)
			*was = from;
		return false;
	}
	if (was != NULL)
		*was = from;
	if (from == TC_PHASE_OPEN) {
		atomic_store(&c->closing_ns, tc_clock_now_ns());
		atomic_store(&c->left_open_for, (int)to);
		wake_reader(c);
	}
	if (to == TC_PHASE_ABORTED) {
		/* Shut down, never close: the writer may be in send() and the
		 * fd number must not be reused under it. */
		tc_outq_close(c->q);
		(void)shutdown(c->fd, SHUT_RDWR);
	}
	tc_outq_notify(c->q, TC_CONN_EV_PHASE);
	return true;
}

enum tc_phase
tc_conn_phase(const struct tc_conn *c)
{
	return (enum tc_phase)atomic_load(&c->phase);
}

enum tc_phase
tc_conn_left_open_for(const struct tc_conn *c)
{
	return (enum tc_phase)atomic_load(&c->left_open_for);
}

void
tc_conn_count_in(struct tc_conn *c, size_t bytes, size_t msgs)
{
	atomic_fetch_add_explicit(&c->bytes_in, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->msgs_in, msgs, memory_order_relaxed);
}

void
tc_conn_count_out(struct tc_conn *c, size_t bytes, size_t msgs)
{
	atomic_fetch_add_explicit(&c->bytes_out, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->msgs_out, msgs, memory_order_relaxed);
}

/* Pushes m to c; on overflow cuts c off (a slow peer never slows the
 * others), and so on ENOMEM: a peer that silently missed a
 * line would be worse off than one told it was cut. A closed queue (EPIPE)
 * is simply skipped. Called with the lock held. */
static int
conn_push_locked(struct tc_conn *c, struct tc_msg *m, bool *ring)
{
	int rc, err;

	rc = ring ? tc_outq_push_later(c->q, m, ring) : tc_outq_push(c->q, m);
	if (rc == 0)
		return 0;
	err = errno;
	if (err != EPIPE)
		tc_conn_move(c, TC_PHASE_ABORTED, NULL);
	errno = err;
	return -1;
}
size_t
tc_conntab_broadcast(struct tc_conntab *tab, const struct tc_conn *except,
                     struct tc_msg *m)
{
	size_t delivered = 0;
	bool ring = false;

	pthread_mutex_lock(&tab->lock);
	for (size_t i = 0; i < tab->n; i++) {
		struct tc_conn *c = tab->conns[i];

		if (c != except && conn_push_locked(c, m, &ring) == 0)
			delivered++;
	}
	pthread_mutex_unlock(&tab->lock);
	/* One ring for all the writers, after the lock: waking 200 of them
	 * one by one under it made every other broadcaster wait. */
	if (ring)
		tc_outq_bell_ring(tab->bell);
	return delivered;
}

/* The entry with that id, or NULL; called with the lock held. A scan is
 * enough: only /msg and /kick look entries up by id. */
static struct tc_conn *
find_locked(struct tc_conntab *tab, unsigned id)
{
	for (size_t i = 0; i < tab->n; i++)
		if (tab->conns[i]->id == id)
			return tab->conns[i];
	return NULL;
}

unsigned
tc_conntab_find_name(struct tc_conntab *tab, const char *name)
{
	unsigned id = 0;

	pthread_mutex_lock(&tab->lock);
	for (size_t i = 0; i < tab->n && id == 0; i++) {
		struct tc_conn *c = tab->conns[i];

		if (tc_conn_phase(c) == TC_PHASE_OPEN &&
		    tc_proto_nick_eq(c->name, name))
			id = c->id;
	}
	pthread_mutex_unlock(&tab->lock);
	return id;
}

int
tc_conntab_send_to(struct tc_conntab *tab, unsigned id, struct tc_msg *m)
{
	struct tc_conn *c;
	int rc = -1, err = ESRCH;

	pthread_mutex_lock(&tab->lock);
	c = find_locked(tab, id);
	if (c != NULL) {
		rc = conn_push_locked(c, m, NULL);
		err = errno;
	}
	pthread_mutex_unlock(&tab->lock);
	if (rc < 0)
		errno = err;
	return rc;
}

/* Closes one entry from the server side unless it is closing already;
 * called with the lock held. Returns whether it did. The move comes first:
 * its writer then flushes until the queue is closed, notice included. */
static bool
conn_close_locked(struct tc_conn *c, struct tc_msg *notice)
{
	/* Past its --linger window: nothing more is sent, not even this. */
	if (tc_outq_status(c->q) & TC_OUTQ_CLOSED)
		return false;
	if (!tc_conn_move(c, TC_PHASE_CLOSING, NULL))
		return false;
	/* Past the limit if need be: what was queued before the notice is
	 * still flushed, never lost to make room for it. */
	if (notice != NULL)
		(void)tc_outq_push_past_limit(c->q, notice);
	tc_outq_close(c->q);
	return true;
}

size_t
tc_conntab_close(struct tc_conntab *tab, unsigned id, struct tc_msg *notice)
{
	size_t closed = 0;

	pthread_mutex_lock(&tab->lock);
	for (size_t i = 0; i < tab->n; i++) {
		struct tc_conn *c = tab->conns[i];

		if ((id == 0 || c->id == id) && conn_close_locked(c, notice))
			closed++;
	}
	pthread_mutex_unlock(&tab->lock);
	return closed;
}

size_t
tc_conntab_abort_stale(struct tc_conntab *tab, int64_t before_ns)
{
	size_t aborted = 0;

	pthread_mutex_lock(&tab->lock);
	for (size_t i = 0; i < tab->n; i++) {
		struct tc_conn *c = tab->conns[i];

		if (tc_conn_phase(c) == TC_PHASE_OPEN ||
		    atomic_load(&c->closing_ns) >= before_ns)
			continue;
		if (tc_conn_move(c, TC_PHASE_ABORTED, NULL))
			aborted++;
	}
	pthread_mutex_unlock(&tab->lock);
	return aborted;
}

/* Bytes c still owes its peer: queued, or in the kernel unacknowledged.
 * Under the lock, so the fd is valid. */
static size_t
pending_locked(const struct tc_conn *c, struct tc_progress *p)
{
	/* Not TCP, or already shut: nothing in flight, nothing acknowledged. */
	if (tc_progress_read(c->fd, p) == -1)
		*p = (struct tc_progress){0};
	return tc_outq_bytes(c->q) + p->unacked;
}

/* Aborts c and adds what it still owed to *lost (one client, its bytes). */
static void
abort_owing_locked(struct tc_conn *c, size_t owed, struct tc_lost *lost)
{
	if (!tc_conn_move(c, TC_PHASE_ABORTED, NULL) || owed == 0)
		return;
	lost->clients++;
	lost->bytes += owed;
}

void
tc_conntab_abort_all(struct tc_conntab *tab, struct tc_lost *lost)
{
	struct tc_progress p;

	pthread_mutex_lock(&tab->lock);
	for (size_t i = 0; i < tab->n; i++) {
		struct tc_conn *c = tab->conns[i];

		abort_owing_locked(c, pending_locked(c, &p), lost);
	}
	pthread_mutex_unlock(&tab->lock);
}

void
tc_conntab_abort_stalled(struct tc_conntab *tab, int64_t stall_ns,
                         struct tc_lost *lost)
{
	int64_t now = tc_clock_now_ns();
	struct tc_progress p;
	size_t owed;

	pthread_mutex_lock(&tab->lock);
	for (size_t i = 0; i < tab->n; i++) {
		struct tc_conn *c = tab->conns[i];

		owed = pending_locked(c, &p);
		if (owed == 0 || p.acked != c->acked_seen ||
		    c->progress_ns == 0) {
			/* Delivering, or done and waiting for the FIN (its
			 * writer's to bound): not stalled. */
			c->acked_seen = p.acked;
			c->progress_ns = now;
		} else if (now - c->progress_ns >= stall_ns) {
			abort_owing_locked(c, owed, lost);
		}
	}
	pthread_mutex_unlock(&tab->lock);
}

size_t
tc_conntab_count(struct tc_conntab *tab)
{
	size_t n;

	pthread_mutex_lock(&tab->lock);
	n = tab->n;
	pthread_mutex_unlock(&tab->lock);
	return n;
}

static void
conn_info(const struct tc_conn *c, struct tc_conn_info *info)
{
	info->id = c->id;
	memcpy(info->peer, c->peer, sizeof(info->peer));
	memcpy(info->name, c->name, sizeof(info->name));
	info->phase = tc_conn_phase(c);
	info->bytes_in =
	    atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
	info->msgs_in = atomic_load_explicit(&c->msgs_in, memory_order_relaxed);
	info->bytes_out =
	    atomic_load_explicit(&c->bytes_out, memory_order_relaxed);
	info->msgs_out =
	    atomic_load_explicit(&c->msgs_out, memory_order_relaxed);
	info->queued = tc_outq_bytes(c->q);
}

static int
info_cmp(const void *a, const void *b)
{
	unsigned ia = ((const struct tc_conn_info *)a)->id;
	unsigned ib = ((const struct tc_conn_info *)b)->id;

	return (ia > ib) - (ia < ib);
}

struct tc_conn_info *
tc_conntab_snapshot(struct tc_conntab *tab, size_t *n)
{
	return tc_conntab_snapshot_fd(tab, n, NULL);
}

struct tc_conn_info *
tc_conntab_snapshot_fd(struct tc_conntab *tab, size_t *n,
                       tc_conntab_fd_reader *read)
{
	struct tc_conn_info *out;

	pthread_mutex_lock(&tab->lock);
	*n = tab->n;
	/* One more than needed: never malloc(0), whose NULL means nothing. */
	out = malloc((tab->n + 1) * sizeof(*out));
	for (size_t i = 0; out != NULL && i < tab->n; i++) {
		conn_info(tab->conns[i], &out[i]);
		out[i].fd_info[0] = '\0';
		/* Under the lock: an entry's fd is closed only after it is
		 * removed, so this one is still the connection's. */
		if (read != NULL)
			read(tab->conns[i]->fd, out[i].fd_info,
			     sizeof(out[i].fd_info));
	}
	pthread_mutex_unlock(&tab->lock);
	if (out == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (*n > 1)
		qsort(out, *n, sizeof(*out), info_cmp);
	return out;
}
