/* conntab: the shared state table of every connection (SPEC section 3).
 *
 * One lock guards the table and each entry's metadata (name, state); the
 * traffic counters are atomics, so readers and writers count without it.
 * Each entry points at its connection's outq, which it does not own. The
 * lock order is conntab, then outq; nothing blocking runs under the lock. */
#ifndef TCPCHAT_CONNTAB_H
#define TCPCHAT_CONNTAB_H

#include <stddef.h>
#include <stdint.h>

#include "tcpchat/outq.h"

#define TC_PEER_MAX 64 /* "[ipv6%scope]:port" and NUL fit */
#define TC_NAME_MAX 64 /* a nick (32) or a peer address, and NUL */

/*   OPEN --peer exit/FIN--> HALF_CLOSED --writer closes--> (removed)
 *     \--kick/shutdown--> CLOSING --peer FIN or 5 s-----> (removed) */
enum tc_conn_state {
	TC_CONN_OPEN,
	TC_CONN_HALF_CLOSED, /* peer sent exit or FIN; we may still send */
	TC_CONN_CLOSING,     /* we are closing: notice queued, then FIN */
};

struct tc_conntab;
struct tc_conn; /* one entry: lives from tc_conntab_add to _remove */

/* A copy of one entry, for /list and /who. */
struct tc_conn_info {
	unsigned id;
	char peer[TC_PEER_MAX];
	char name[TC_NAME_MAX];
	enum tc_conn_state state;
	uint64_t bytes_in, msgs_in, bytes_out, msgs_out;
	size_t queued; /* bytes waiting in its outq */
};

/* New table for at most max_conns connections; NULL with errno ENOMEM. */
struct tc_conntab *tc_conntab_new(unsigned max_conns);

/* The doorbell for the queues of tab's entries: give it to
 * tc_outq_new(), and one broadcast wakes all their writers at once. */
struct tc_outq_bell *tc_conntab_bell(struct tc_conntab *tab);

/* Frees tab; it must be empty. */
void tc_conntab_free(struct tc_conntab *tab);

/* Adds a connection named by its peer address. fd is recorded only so that
 * tc_conntab_abort() can shut it down; the caller keeps owning it. Returns
 * the entry, or NULL with errno EMFILE when the table is full (or ENOMEM).
 * The entry's id is unique for the table's life. */
struct tc_conn *tc_conntab_add(struct tc_conntab *tab, int fd, const char *peer,
                               struct tc_outq *q);

/* Removes c (freeing it) and forgets its fd: call before closing the fd. */
void tc_conntab_remove(struct tc_conntab *tab, struct tc_conn *c);

unsigned tc_conn_id(const struct tc_conn *c);
struct tc_outq *tc_conn_outq(const struct tc_conn *c);

/* Copies c's current name (NUL-terminated) into buf of TC_NAME_MAX. */
void tc_conntab_name(struct tc_conntab *tab, const struct tc_conn *c,
                     char *buf);

/* Renames c. Returns 0, or -1 with errno EEXIST when another connection
 * (or reserved, e.g. the server's own name) has that name. old gets the
 * previous name (TC_NAME_MAX bytes). */
int tc_conntab_rename(struct tc_conntab *tab, struct tc_conn *c,
                      const char *name, char *old);

/* A name nobody may take (the server's own participant). */
void tc_conntab_reserve_name(struct tc_conntab *tab, const char *name);

enum tc_conn_state tc_conntab_state(struct tc_conntab *tab,
                                    const struct tc_conn *c);

/* Moves c to state; returns the state it had. */
enum tc_conn_state tc_conntab_set_state(struct tc_conntab *tab,
                                        struct tc_conn *c,
                                        enum tc_conn_state state);

/* Counts traffic; any thread, lock-free. */
void tc_conn_count_in(struct tc_conn *c, size_t bytes, size_t msgs);
void tc_conn_count_out(struct tc_conn *c, size_t bytes, size_t msgs);

/* Queues m to every connection except `except` (may be NULL) whose queue
 * still takes messages. A connection whose queue overflows is aborted
 * (tc_conntab_abort), never waited for. Returns how many queues took m. */
size_t tc_conntab_broadcast(struct tc_conntab *tab,
                            const struct tc_conn *except, struct tc_msg *m);

/* Queues m to connection id. Returns 0; -1 with errno ESRCH (no such id),
 * EPIPE (closing) or ENOBUFS (overflowed: aborted). */
int tc_conntab_send_to(struct tc_conntab *tab, unsigned id, struct tc_msg *m);

/* Server-initiated close of connection id (0: every connection): queues
 * notice (may be NULL) behind what it has, closes its queue, moves it to
 * CLOSING and wakes its writer. Returns how many connections it closed;
 * 0 with id != 0 means no such open connection. */
size_t tc_conntab_close(struct tc_conntab *tab, unsigned id,
                        struct tc_msg *notice);

/* Shuts both directions of c's socket (never closes it), so a writer
 * blocked in send() or a reader in recv() returns at once, and marks its
 * queue TC_OUTQ_ABORT. For a peer that cannot be served any more. */
void tc_conntab_abort(struct tc_conntab *tab, struct tc_conn *c);

/* tc_conntab_abort() on every connection that left OPEN (half-closed or
 * closing) before before_ns (CLOCK_MONOTONIC) and is still here: a peer
 * that stopped reading while closing must not hold its writer in send()
 * forever. Returns how many it aborted. */
size_t tc_conntab_abort_stale(struct tc_conntab *tab, int64_t before_ns);

/* tc_conntab_abort() on every connection (end of the shutdown grace). */
void tc_conntab_abort_all(struct tc_conntab *tab);

/* Number of connections in the table. */
size_t tc_conntab_count(struct tc_conntab *tab);

/* Copies every entry, in id order, into a new array (the caller frees it)
 * and sets *n to how many. NULL with errno ENOMEM. */
struct tc_conn_info *tc_conntab_snapshot(struct tc_conntab *tab, size_t *n);

#endif
