/* session: one server connection, its reader and writer threads, the
 * relay and the half-close (SPEC sections 3 and 4 live here only).
 *
 * The acceptor hands a connected fd to tc_session_start() and never touches
 * it again. The reader only recv()s and may shutdown(SHUT_RD); the writer
 * alone sends, shutdown(SHUT_WR)s and closes, once, after the reader is
 * done. The last of the two threads to finish frees the session. */
#ifndef TCPCHAT_SESSION_H
#define TCPCHAT_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpchat/conntab.h"

/* What every session of one server shares; set up by main, read-only while
 * sessions run (but for the live counter, which has its own lock). Console
 * output goes through tc_console_printf(). */
struct tc_server {
	struct tc_conntab *tab;
	const char *name;  /* the server's own participant (--name) */
	size_t max_line;   /* --max-line */
	size_t max_queue;  /* --max-queue */
	int64_t linger_ns; /* --linger */
	int64_t drain_ns;  /* how long to wait for a peer's FIN (5 s) */
	bool quiet;        /* -q: no chat traffic on the console */
	bool verbose;      /* -v: a line per connection event */
	size_t stack_size; /* per-thread stack */
	/* live_lock guards n_live, the sessions not yet freed; live_cond
	 * tells tc_server_wait_sessions() that one ended. */
	pthread_mutex_t live_lock;
	pthread_cond_t live_cond;
	size_t n_live;
};

/* Prepares the live-session counter of srv. Before any session. */
int tc_server_init(struct tc_server *srv);
void tc_server_fini(struct tc_server *srv);

/* Starts a session on fd: adds it to the table (or refuses it with
 * "* error: server full"), then starts its reader and writer. Returns 0,
 * or -1 with errno (EMFILE: table full, or pthread_create's error) after
 * refusing and closing fd. Called by the acceptor only. */
int tc_session_start(struct tc_server *srv, int fd);

/* Blocks until every session has ended or deadline_ns (CLOCK_MONOTONIC);
 * returns how many are still alive. */
size_t tc_server_wait_sessions(struct tc_server *srv, int64_t deadline_ns);

#endif
