/* room: the chat room every connection of tcpchatd is in: who is there,
 * what each participant's lines do (relay, /nick, /who, /help), and the
 * notices everyone sees when someone joins or leaves.
 *
 * A participant's lines are handled on its own reader thread; the room
 * only formats (through proto) and queues, never does I/O. */
#ifndef TCPCHAT_ROOM_H
#define TCPCHAT_ROOM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpchat/conntab.h"
#include "tcpchat/proto.h"
#include "tcpchat/threadpool.h"

struct tc_cidr_set;
struct tc_peercount;
struct tc_refuser;

/* The room and the settings its sessions run with: set up by main,
 * read-only while sessions run (but for the live count, behind its lock).
 * Console output goes through tc_console_printf(). */
struct tc_room {
	struct tc_conntab *tab;
	const char *name;  /* the server's own participant (--name) */
	size_t max_line;   /* --max-line */
	size_t max_queue;  /* --max-queue */
	int64_t linger_ns; /* --linger */
	int64_t drain_ns;  /* how long to wait for a peer's FIN (5 s) */
	bool quiet;        /* -q: no chat traffic on the console */
	bool verbose;      /* -v: a line per connection event */
	/* The sessions' threads, parked ones reused (threadpool.h). */
	struct tc_pool *pool;
	/* Who may join and how fast; each object is safe from any thread. */
	struct tc_cidr_set *rules;  /* --allow, --deny, the files, /ban */
	struct tc_peercount *peers; /* --max-per-ip */
	struct tc_refuser *refuser; /* every refusal ends through it */
	unsigned rate, burst;       /* --rate, --burst: each reader's budget */
	/* live_lock guards n_live, the sessions not yet freed; live_cond
	 * tells tc_room_wait_empty() that one ended. */
	pthread_mutex_t live_lock;
	pthread_cond_t live_cond;
	size_t n_live;
};

/* One participant, as its reader thread sees it. */
struct tc_member {
	struct tc_conn *conn; /* its table entry */
	struct tc_outq *q;    /* its queue (the session owns it) */
	/* Chat lines formatted and not yet broadcast: one push per peer for
	 * a whole recv() worth of lines, not one per line. */
	char *relay;
	size_t relay_len, relay_cap;
};

/* Prepares the live count of room. Before any session; 0 or -1, errno. */
int tc_room_init(struct tc_room *room);
void tc_room_fini(struct tc_room *room);

/* A session began or ended (ended: it is freed). */
void tc_room_enter(struct tc_room *room);
void tc_room_exit(struct tc_room *room);

/* Blocks until every session has ended or deadline_ns (CLOCK_MONOTONIC);
 * returns how many are still alive. */
size_t tc_room_wait_empty(struct tc_room *room, int64_t deadline_ns);

/* Queues the welcome line into q: before the newcomer joins the table, so
 * that it is the first line the newcomer gets. */
void tc_room_welcome(struct tc_room *room, struct tc_outq *q, const char *peer);

/* Tells the others that m joined, or left (why: NULL for an orderly
 * leave, else the reason, and alert: shown on the console even with -q). */
void tc_room_joined(struct tc_room *room, struct tc_member *m);
void tc_room_left(struct tc_room *room, struct tc_member *m, const char *why,
                  bool alert);

/* Acts on one parsed line of m's (never TC_CMD_EXIT: that is the
 * session's). Text joins m's relay batch; a command flushes it first. */
void tc_room_hear(struct tc_room *room, struct tc_member *m,
                  const struct tc_cmd *cmd);

/* Broadcasts m's pending relay batch. */
void tc_room_flush(struct tc_room *room, struct tc_member *m);

void tc_room_member_fini(struct tc_member *m);

#endif
