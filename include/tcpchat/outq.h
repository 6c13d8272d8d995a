/* outq: a FIFO of messages between any number of producers and one taker
 * that sleeps until there is something to take.
 *
 * Holds references to shared messages (msg.h). Has a byte limit: a push
 * past it fails and sets TC_OUTQ_OVERFLOW. Every reason to wake the taker,
 * a message, closing, or an event of its owner, goes through the queue's
 * futex word or its group's doorbell: the taker never polls. */
#ifndef TCPCHAT_OUTQ_H
#define TCPCHAT_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpchat/msg.h"

/* What a queue says of itself: set once, never cleared. */
enum tc_outq_status {
	TC_OUTQ_CLOSED = 1u << 0,   /* no push accepted any more */
	TC_OUTQ_OVERFLOW = 1u << 1, /* a push passed the byte limit */
};

/* Events for the taker, bits whose meaning the queue's owner defines
 * (n from 0 to 23). Unlike the status, an event is pending only until a
 * take returns it: it says "look again", never what happened. */
#define TC_OUTQ_EVENT(n) (1u << (8 + (n)))

struct tc_outq;

/* A doorbell shared by a group of queues (a server's connections): the
 * takers of the group sleep on it as well as on their own queue, so one
 * ring wakes all that sleep, with one system call. */
struct tc_outq_bell;

/* New doorbell; NULL with errno ENOMEM. Free it after its queues. */
struct tc_outq_bell *tc_outq_bell_new(void);
void tc_outq_bell_free(struct tc_outq_bell *b);

/* Wakes every taker sleeping on b. Any thread. */
void tc_outq_bell_ring(struct tc_outq_bell *b);

/* New empty queue holding at most max_bytes of message bytes, in the
 * group of bell (NULL: none); NULL with errno ENOMEM. The caller owns it;
 * free with tc_outq_free(). */
struct tc_outq *tc_outq_new(size_t max_bytes, struct tc_outq_bell *bell);

/* Frees q and the messages still queued. */
void tc_outq_free(struct tc_outq *q);

/* As tc_outq_push(), but for one of many pushes in a row (a broadcast):
 * where the taker must be woken through q's bell, sets *ring to true and
 * leaves it to the caller's one tc_outq_bell_ring() after the last push;
 * otherwise wakes the taker itself, as tc_outq_push() does. */
int tc_outq_push_later(struct tc_outq *q, struct tc_msg *m, bool *ring);

/* Queues a new reference to m. Any thread; never blocks on I/O. Returns 0;
 * -1 with errno EPIPE if q is closed, ENOMEM, or ENOBUFS if m would take q
 * past its byte limit, which also sets TC_OUTQ_OVERFLOW. */
int tc_outq_push(struct tc_outq *q, struct tc_msg *m);

/* As tc_outq_push(), but past the byte limit too: for a last message that
 * must not cost the taker everything queued before it. -1 with errno EPIPE
 * if q is closed. */
int tc_outq_push_past_limit(struct tc_outq *q, struct tc_msg *m);

/* Closes q: no push is accepted any more; what is queued stays, to be
 * taken. Any thread. */
void tc_outq_close(struct tc_outq *q);

/* From CLOCK_MONOTONIC when_ns on, q takes no push (as if closed), exact to
 * the push, not to when the taker gets round to it. Any thread. */
void tc_outq_close_at(struct tc_outq *q, int64_t when_ns);

/* Makes events (TC_OUTQ_EVENT bits) pending and wakes the taker. Any
 * thread. */
void tc_outq_notify(struct tc_outq *q, unsigned events);

/* Current status (enum tc_outq_status bits). Any thread. */
unsigned tc_outq_status(struct tc_outq *q);

/* The taker: blocks until a message is queued, a status bit or a pending
 * event in wake_on is set, or CLOCK_MONOTONIC reaches deadline_ns (0: no
 * deadline). Moves up to max messages to out (the caller owns those
 * references) and returns how many. *got (may be NULL) gets the status and
 * the pending events of wake_on, which stop being pending. */
size_t tc_outq_take(struct tc_outq *q, struct tc_msg **out, size_t max,
                    unsigned wake_on, int64_t deadline_ns, unsigned *got);

/* Message bytes queued and not yet taken. Any thread. */
size_t tc_outq_bytes(struct tc_outq *q);

#endif
