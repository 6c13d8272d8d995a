/* peercount: how many connections each address has, for --max-per-ip.
 *
 * Keyed by the peer's address without its port; an IPv4-mapped IPv6
 * address counts as the IPv4 address it carries. The acceptor acquires a
 * slot before it starts a session; whoever frees the session releases it.
 * Safe from any thread (one mutex). */
#ifndef TCPCHAT_PEERCOUNT_H
#define TCPCHAT_PEERCOUNT_H

#include <sys/socket.h>

struct tc_peercount;

/* A counter that lets each address hold at most max_per_ip connections;
 * 0: no limit (it then counts nothing). NULL with errno ENOMEM. */
struct tc_peercount *tc_peercount_new(unsigned max_per_ip);
void tc_peercount_free(struct tc_peercount *pc);

/* Counts one more connection from peer. Returns 0; -1 with errno EUSERS
 * when peer already has max_per_ip (nothing counted: refuse it with "too
 * many connections from your address"), or ENOMEM. A peer that is not IPv4
 * or IPv6 is not counted and always gets 0. Never blocks but on the lock. */
int tc_peercount_acquire(struct tc_peercount *pc, const struct sockaddr *peer);

/* Gives back what tc_peercount_acquire() counted for peer (call it exactly
 * once for each acquire that returned 0). */
void tc_peercount_release(struct tc_peercount *pc, const struct sockaddr *peer);

/* How many connections peer's address holds now (0 without a limit:
 * nothing is counted then). */
unsigned tc_peercount_get(struct tc_peercount *pc, const struct sockaddr *peer);

#endif
