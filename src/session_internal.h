/* session_internal.h: what the files of one server connection share
 * (session.c: its life and its start; session_reader.c: the reader
 * thread; session_writer.c: the writer thread). Not an interface: nothing
 * outside them includes it. */
#ifndef TCPCHAT_SESSION_INTERNAL_H
#define TCPCHAT_SESSION_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tcpchat/linebuf.h"
#include "tcpchat/ratelimit.h"
#include "tcpchat/session.h"
#include "tcpchat/trace.h"

/* The event the reader posts to the writer's queue when it is done with
 * the socket (TC_CONN_EV_PHASE is event 0). */
#define EV_READER_DONE TC_OUTQ_EVENT(1)

struct tc_session {
	struct tc_room *room;
	struct tc_member m;         /* entry, queue, relay batch */
	int fd;                     /* owned: closed by the writer, once */
	unsigned id;                /* tc_conn_id(m.conn), for messages */
	struct tc_trace_conn trace; /* set before the threads start */
	/* The peer's address, for --max-per-ip: its slot is given back when
	 * the session is freed. Immutable. */
	struct sockaddr_storage addr;
	/* Flood control, the reader's: its budget, and the eventfd it waits
	 * on while held back (-1 until first needed; closed at free). */
	struct tc_rate rate;
	int wake_fd;
	/* Written by the reader before it moves the phase to HALF_CLOSED;
	 * the writer reads it after seeing that phase (the move orders it). */
	int64_t half_closed_ns;
	/* The first error that ended the connection (0: none yet): first
	 * error wins, whichever thread saw it. */
	atomic_int first_errno;
	atomic_int refs;         /* reader and writer: the last one frees */
	atomic_bool reader_done; /* the reader's: it is finished with fd */
	atomic_bool read_shut;   /* the writer's: it shut the read side */
	/* The writer's: our FIN is out, so what the reader gets from now on
	 * crossed a half-closed connection (the trace tells it). */
	atomic_bool fin_sent;
	struct tc_linebuf lb; /* reader only */
};

/* Drops a thread's reference; the last one frees the session. */
void session_unref(struct tc_session *s);

/* The first error that ended the connection wins. */
void session_record_error(struct tc_session *s, int err);

enum tc_phase session_phase(const struct tc_session *s);

/* Why the connection ended, for "left" notices and the console. */
void session_describe_end(struct tc_session *s, char *buf, size_t len);

/* The lines in len bytes: a relay batch holds many. */
size_t session_count_lines(const char *p, size_t len);

/* The two threads' bodies; arg is the session. */
void *session_reader_main(void *arg);
void *session_writer_main(void *arg);

#endif
