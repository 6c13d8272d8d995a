/* outq: one connection's outbound FIFO, the handoff between every producer
 * (other sessions' readers, the console, the acceptor) and that
 * connection's writer thread (STYLE section 4).
 *
 * Holds reference-counted immutable messages, so a broadcast formats a line
 * once and every queue shares it. Has a byte limit (--max-queue): a push
 * past it fails and marks the queue TC_OUTQ_OVERFLOW. Every reason to wake
 * the writer, a message or a mark, goes through the queue's futex word or
 * its group's doorbell: the writer never polls. */
#ifndef TCPCHAT_OUTQ_H
#define TCPCHAT_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An immutable message; freed when its last reference goes. */
struct tc_msg;

/* New message holding a copy of data, with one reference for the caller.
 * Returns NULL with errno ENOMEM. Any thread. */
struct tc_msg *tc_msg_new(const void *data, size_t len);

/* New message from a printf format; NULL with errno set on failure. */
struct tc_msg *tc_msg_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Takes another reference; returns m. Any thread; lock-free. */
struct tc_msg *tc_msg_ref(struct tc_msg *m);

/* Drops a reference (NULL is ignored); frees m at the last one. */
void tc_msg_unref(struct tc_msg *m);

const char *tc_msg_data(const struct tc_msg *m);
size_t tc_msg_len(const struct tc_msg *m);

/* Marks: events the writer waits for, set once and never cleared. */
enum tc_outq_mark {
	TC_OUTQ_CLOSED = 1u << 0,       /* no push accepted any more */
	TC_OUTQ_OVERFLOW = 1u << 1,     /* a push passed the byte limit */
	TC_OUTQ_HALF_CLOSED = 1u << 2,  /* reader saw the peer's exit/FIN */
	TC_OUTQ_SERVER_CLOSE = 1u << 3, /* /kick or shutdown: close from here */
	TC_OUTQ_READER_DONE = 1u << 4,  /* reader finished with the socket */
	TC_OUTQ_ABORT = 1u << 5,   /* tear down now, nothing more to send */
	TC_OUTQ_RD_SHUT = 1u << 6, /* writer shut the read side: no FIN came */
};

struct tc_outq;

/* A doorbell shared by a group of queues (a server's connections): the
 * writers of the group sleep on it as well as on their own queue, so one
 * ring wakes all that sleep, with one system call. */
struct tc_outq_bell;

/* New doorbell; NULL with errno ENOMEM. Free it after its queues. */
struct tc_outq_bell *tc_outq_bell_new(void);
void tc_outq_bell_free(struct tc_outq_bell *b);

/* Wakes every writer sleeping on b. Any thread. */
void tc_outq_bell_ring(struct tc_outq_bell *b);

/* New empty queue holding at most max_bytes of message bytes, in the
 * group of bell (NULL: none); NULL with errno ENOMEM. The caller owns it;
 * free with tc_outq_free(). */
struct tc_outq *tc_outq_new(size_t max_bytes, struct tc_outq_bell *bell);

/* Frees q and the messages still queued. */
void tc_outq_free(struct tc_outq *q);

/* As tc_outq_push(), but for one of many pushes in a row (a broadcast):
 * where the writer must be woken through q's bell, sets *ring to true and
 * leaves it to the caller's one tc_outq_bell_ring() after the last push;
 * otherwise wakes the writer itself, as tc_outq_push() does. */
int tc_outq_push_later(struct tc_outq *q, struct tc_msg *m, bool *ring);

/* Queues a new reference to m. Any thread; never blocks on I/O. Returns 0;
 * -1 with errno EPIPE if q is closed, or ENOBUFS if m would take q past
 * its byte limit, which also marks q TC_OUTQ_OVERFLOW (cut that peer). */
int tc_outq_push(struct tc_outq *q, struct tc_msg *m);

/* As tc_outq_push(), but past the byte limit too: for the one notice a
 * server-side close queues, which must not cost the peer everything queued
 * before it (SPEC section 3). -1 with errno EPIPE if q is closed. */
int tc_outq_push_notice(struct tc_outq *q, struct tc_msg *m);

/* Sets marks (bits of enum tc_outq_mark) and wakes the writer. Setting
 * TC_OUTQ_CLOSED stops further pushes; queued messages stay. Any thread. */
void tc_outq_mark(struct tc_outq *q, unsigned marks);

/* From CLOCK_MONOTONIC when_ns on, q takes no push (as if marked
 * TC_OUTQ_CLOSED): the end of the --linger window, exact to the push, not
 * to when the writer gets round to it. Any thread. */
void tc_outq_close_at(struct tc_outq *q, int64_t when_ns);

/* Current marks. Any thread. */
unsigned tc_outq_marks(struct tc_outq *q);

/* Writer: blocks until a message is queued, a mark in wake_on is set, or
 * CLOCK_MONOTONIC reaches deadline_ns (0: no deadline). Moves up to max
 * messages to out (the caller owns those references) and returns how
 * many; 0 on a mark or the deadline. *marks gets the marks. */
size_t tc_outq_take(struct tc_outq *q, struct tc_msg **out, size_t max,
                    unsigned wake_on, int64_t deadline_ns, unsigned *marks);

/* Message bytes queued and not yet taken. Any thread. */
size_t tc_outq_bytes(struct tc_outq *q);

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t tc_now_ns(void);

#endif
