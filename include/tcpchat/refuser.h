/* refuser: ends the connections the server will not take.
 *
 * Each refusal is one notice ("* error: server full"), our FIN, then
 * reading and discarding whatever the peer still sends until its FIN (at
 * most TC_REFUSER_DRAIN_NS), then close. Closing at once would be wrong:
 * a socket closed with unread input answers with a reset, and the reset
 * destroys the notice before the peer has read it. The caller never
 * waits: the notice goes out at once (a new socket's send buffer has room
 * for it), and the refuser's one thread polls every refused socket until
 * it may be closed. It holds at most TC_REFUSER_MAX sockets; past that a
 * refusal is closed as soon as what has arrived is read.
 *
 * The console is told who was refused and why, once per address and
 * reason a minute (refuselog): a peer that reconnects in a loop must not
 * flood it. Safe from any thread. */
#ifndef TCPCHAT_REFUSER_H
#define TCPCHAT_REFUSER_H

#include <stdint.h>
#include <sys/socket.h>

#define TC_REFUSER_DRAIN_NS (2 * 1000000000LL)
#define TC_REFUSER_MAX 512

/* Why a connection is refused: each has its notice (refuser.c). */
enum tc_refusal {
	TC_REFUSE_NOT_ALLOWED, /* the access rules say no */
	TC_REFUSE_TOO_MANY,    /* --max-per-ip */
	TC_REFUSE_FULL,        /* --max-clients */
	TC_REFUSE_BUSY,        /* its threads could not be started */
	TC_REFUSE_NO_MEMORY,
};

struct tc_refuser;

/* A refuser with its thread running. NULL with errno. */
struct tc_refuser *tc_refuser_new(void);

/* Stops the thread and closes every socket it still holds. */
void tc_refuser_free(struct tc_refuser *r);

/* Refuses fd (the refuser owns it from now on): peer (may be NULL) names
 * it on the console, detail (may be NULL) adds why, "denied by
 * 10.0.0.0/8". Never blocks but on the refuser's lock. */
void tc_refuser_refuse(struct tc_refuser *r, int fd,
                       const struct sockaddr *peer, enum tc_refusal why,
                       const char *detail);

/* The notice a refused peer gets, "* error: not allowed\n". */
const char *tc_refusal_notice(enum tc_refusal why);

#endif
