/* conntab: the shared state table of every connection: what /list and
 * /who show, and the routes of messages into each connection's queue.
 *
 * One lock guards the table and each entry's name; the phase (phase.h) and
 * the traffic counters are atomics, so the connection's threads move and
 * count without it. Each entry points at its connection's outq, which it
 * does not own. The lock order is conntab, then outq; nothing blocking
 * runs under the lock. */
#ifndef TCPCHAT_CONNTAB_H
#define TCPCHAT_CONNTAB_H

#include <stddef.h>
#include <stdint.h>

#include "tcpchat/outq.h"
#include "tcpchat/phase.h"

#define TC_PEER_MAX 64    /* "[ipv6%scope]:port" and NUL fit */
#define TC_NAME_MAX 64    /* a nick (32) or a peer address, and NUL */
#define TC_FD_INFO_MAX 32 /* "ESTABLISHED", or why it is unknown */

/* The event every move of an entry's phase posts to its queue: its taker
 * (the connection's writer) then reads the phase again. */
#define TC_CONN_EV_PHASE TC_OUTQ_EVENT(0)

struct tc_conntab;
struct tc_conn; /* one entry: lives from tc_conntab_add to _remove */

/* A copy of one entry, for /list and /who. */
struct tc_conn_info {
	unsigned id;
	char peer[TC_PEER_MAX];
	char name[TC_NAME_MAX];
	enum tc_phase phase;
	uint64_t bytes_in, msgs_in, bytes_out, msgs_out;
	size_t queued; /* bytes waiting in its outq */
	/* What tc_conntab_snapshot_fd()'s reader said of its socket (the
	 * TCP state, for /list); "" from tc_conntab_snapshot(). */
	char fd_info[TC_FD_INFO_MAX];
};

/* Reads something about a connection's socket into buf (len bytes, cut,
 * NUL-terminated), e.g. its TCP state. Called under the table's lock,
 * while the fd surely is that connection's: it must not block. */
typedef const char *tc_conntab_fd_reader(int fd, char *buf, size_t len);

/* New table for at most max_conns connections; NULL with errno ENOMEM. */
struct tc_conntab *tc_conntab_new(unsigned max_conns);

/* The doorbell for the queues of tab's entries: give it to
 * tc_outq_new(), and one broadcast wakes all their writers at once. */
struct tc_outq_bell *tc_conntab_bell(struct tc_conntab *tab);

/* Frees tab; it must be empty. */
void tc_conntab_free(struct tc_conntab *tab);

/* Adds a connection named by its peer address. fd is recorded only so that
 * an abort can shut it down; the caller keeps owning it. Returns
 * the entry, or NULL with errno EMFILE when the table is full (or ENOMEM).
 * The entry's id is unique for the table's life. */
struct tc_conn *tc_conntab_add(struct tc_conntab *tab, int fd, const char *peer,
                               struct tc_outq *q);

/* Removes c (freeing it) and forgets its fd: call before closing the fd. */
void tc_conntab_remove(struct tc_conntab *tab, struct tc_conn *c);

unsigned tc_conn_id(const struct tc_conn *c);

/* c's name. Only for the thread that renames c (its reader): others read
 * names through tc_conntab_snapshot(), under the lock. */
const char *tc_conn_name(const struct tc_conn *c);

/* Renames c. Returns 0, or -1 with errno EEXIST when another connection
 * (or reserved, e.g. the server's own name) has that name. old gets the
 * previous name (TC_NAME_MAX bytes). */
int tc_conntab_rename(struct tc_conntab *tab, struct tc_conn *c,
                      const char *name, char *old);

/* A name nobody may take (the server's own participant). */
void tc_conntab_reserve_name(struct tc_conntab *tab, const char *name);

/* The one way an entry's phase changes: moves c to `to` if phase.h allows
 * it from where c is (*was, may be NULL, gets that), then wakes its writer
 * (TC_CONN_EV_PHASE). Entering ABORTED also closes c's queue and shuts
 * both directions of its socket (never closes it), so a writer blocked in
 * send() or a reader in recv() returns at once. Any thread that holds c:
 * its own threads, or the table's under the lock. */
bool tc_conn_move(struct tc_conn *c, enum tc_phase to, enum tc_phase *was);

enum tc_phase tc_conn_phase(const struct tc_conn *c);

/* Registers fd (an eventfd) that tc_conn_move() writes when c leaves
 * OPEN, so that c's reader, waiting out its flood budget, stops waiting
 * at /kick, shutdown or an abort. c's reader only, once; the reader keeps
 * owning fd and closes it after the entry is removed. */
void tc_conn_set_waker(struct tc_conn *c, int fd);

/* The phase c first moved to when it left OPEN (OPEN while it has not):
 * HALF_CLOSED, the peer ended it; CLOSING, the server; ABORTED, it broke. */
enum tc_phase tc_conn_left_open_for(const struct tc_conn *c);

/* Counts traffic; any thread, lock-free. */
void tc_conn_count_in(struct tc_conn *c, size_t bytes, size_t msgs);
void tc_conn_count_out(struct tc_conn *c, size_t bytes, size_t msgs);

/* Queues m to every connection except `except` (may be NULL) whose queue
 * still takes messages. A connection whose queue overflows is aborted
 * (tc_conn_move to ABORTED), never waited for. Returns how many queues
 * took m. */
size_t tc_conntab_broadcast(struct tc_conntab *tab,
                            const struct tc_conn *except, struct tc_msg *m);

/* The id of the open connection named name (ASCII case ignored, as for
 * renames); 0 when there is none. */
unsigned tc_conntab_find_name(struct tc_conntab *tab, const char *name);

/* Queues m to connection id. Returns 0; -1 with errno ESRCH (no such id),
 * EPIPE (closing) or ENOBUFS (overflowed: aborted). */
int tc_conntab_send_to(struct tc_conntab *tab, unsigned id, struct tc_msg *m);

/* Server-initiated close of connection id (0: every connection): moves it
 * to CLOSING, queues notice (may be NULL) behind what it has, even past
 * the byte limit, and closes its queue. Returns how many connections it
 * closed; 0 with id != 0 means no such connection still open or
 * half-closed. */
size_t tc_conntab_close(struct tc_conntab *tab, unsigned id,
                        struct tc_msg *notice);

/* Aborts every connection that left OPEN (half-closed or closing) before
 * before_ns (CLOCK_MONOTONIC) and is still here: a peer that stopped
 * reading while closing must not hold its writer in send() forever.
 * Returns how many it aborted. */
size_t tc_conntab_abort_stale(struct tc_conntab *tab, int64_t before_ns);

/* What a shutdown could not deliver: clients aborted while they were still
 * owed bytes (queued, or unacknowledged in the kernel), and those bytes. */
struct tc_lost {
	size_t clients;
	uint64_t bytes;
};

/* Aborts every connection (a second signal during the shutdown), adding
 * those still owed bytes to *lost. */
void tc_conntab_abort_all(struct tc_conntab *tab, struct tc_lost *lost);

/* Aborts every connection that is owed bytes and whose peer acknowledged
 * nothing for stall_ns, adding them to *lost; call it every so often
 * while waiting (the first call starts every clock). A peer still
 * reading, however slowly, is never aborted. */
void tc_conntab_abort_stalled(struct tc_conntab *tab, int64_t stall_ns,
                              struct tc_lost *lost);

/* Number of connections in the table. */
size_t tc_conntab_count(struct tc_conntab *tab);

/* Copies every entry, in id order, into a new array (the caller frees it)
 * and sets *n to how many. NULL with errno ENOMEM. */
struct tc_conn_info *tc_conntab_snapshot(struct tc_conntab *tab, size_t *n);

/* As tc_conntab_snapshot(), and fills each copy's fd_info with what
 * read() says of its socket. */
struct tc_conn_info *tc_conntab_snapshot_fd(struct tc_conntab *tab, size_t *n,
                                            tc_conntab_fd_reader *read);

#endif
