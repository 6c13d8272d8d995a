/* session: one client connection of tcpchatd, from accept to close: its
 * life (this file), its reader thread (session_reader.c) and its writer
 * thread (session_writer.c).
 *
 * The reader thread frames what the peer sends and hands each line to the
 * room; on "exit" or FIN it starts the half-close (docs/PROTOCOL.md). The
 * writer thread owns the socket's output: it drains the connection's queue
 * with writev and performs the close, once, after the reader is done. What
 * the connection is doing is its phase (phase.h), kept in its table entry
 * and moved only through tc_conn_move(); every move wakes the writer. */
#include "session_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tcpchat/clock.h"
#include "tcpchat/console.h"
#include "tcpchat/net.h"
#include "tcpchat/peercount.h"
#include "tcpchat/progress.h"
#include "tcpchat/refuser.h"

/* ---- life and death ---- */

static struct tc_session *
session_new(struct tc_room *room, int fd, const struct sockaddr *peer,
            socklen_t peer_len)
{
	struct tc_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->m.q = tc_outq_new(room->max_queue, tc_conntab_bell(room->tab));
	if (s->m.q == NULL) {
		free(s);
		return NULL;
	}
	s->room = room;
	s->fd = fd;
	s->wake_fd = -1;
	if (peer_len > sizeof(s->addr))
		peer_len = sizeof(s->addr);
	memcpy(&s->addr, peer, peer_len);
	tc_rate_init_lines(&s->rate, room->rate, room->burst,
	                   tc_clock_now_ns());
	atomic_init(&s->refs, 2);
	atomic_init(&s->first_errno, 0);
	atomic_init(&s->reader_done, false);
	atomic_init(&s->read_shut, false);
	atomic_init(&s->fin_sent, false);
	tc_linebuf_init(&s->lb, room->max_line);
	return s;
}

/* Frees what session_new() made and gives back the address's slot; the
 * fd and the table entry are the writer's (or the refusal's) to end. */
static void
session_free(struct tc_session *s)
{
	tc_peercount_release(s->room->peers, (struct sockaddr *)&s->addr);
	if (s->wake_fd != -1)
		close(s->wake_fd);
	tc_linebuf_fini(&s->lb);
	tc_room_member_fini(&s->m);
	tc_trace_conn_fini(&s->trace);
	tc_outq_free(s->m.q);
	free(s);
}

void
session_unref(struct tc_session *s)
{
	struct tc_room *room = s->room;

	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	session_free(s);
	tc_room_exit(room);
}

void
session_record_error(struct tc_session *s, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&s->first_errno, &none, err);
}

enum tc_phase
session_phase(const struct tc_session *s)
{
	return tc_conn_phase(s->m.conn);
}

/* Why the connection ended, for "left" notices and the console. */
void
session_describe_end(struct tc_session *s, char *buf, size_t len)
{
	int err = atomic_load(&s->first_errno);

	if (tc_outq_status(s->m.q) & TC_OUTQ_OVERFLOW)
		snprintf(buf, len, "too slow: over %zu bytes queued",
		         s->room->max_queue);
	else if (err != 0)
		snprintf(buf, len, "%s", strerror(err));
	else
		snprintf(buf, len, "closed");
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* The lines in len bytes: a relay batch holds many. */
size_t
session_count_lines(const char *p, size_t len)
{
	const char *end = p + len;
	size_t lines = 0;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	return lines;
}

/* ---- start ---- */

/* Hands the reader and the writer to threads of the room's pool, parked
 * ones when there are, new ones otherwise: both or neither. The reader
 * first: what the peer sent is often there already, and the writer then
 * finds more done when it runs. Returns 0, or the error number of the
 * thread that could not be created. */
static int
start_threads(struct tc_session *s)
{
	return tc_pool_run_pair(s->room->pool, session_reader_main, s,
	                        session_writer_main, s);
}

/* The threads could not start: this one connection is refused, the rest
 * go on. Its join was announced already, so its leave is too. */
static void
abandon(struct tc_session *s, int err)
{
	struct tc_room *room = s->room;
	char why[128], detail[160];

	session_record_error(s, err);
	session_describe_end(s, why, sizeof(why));
	tc_room_left(room, &s->m, why, false);
	tc_conntab_remove(room->tab, s->m.conn);
	snprintf(detail, sizeof(detail), "pthread_create: %s", strerror(err));
	tc_refuser_refuse(room->refuser, s->fd, (struct sockaddr *)&s->addr,
	                  TC_REFUSE_BUSY, detail);
	session_free(s);
	tc_room_exit(room);
}

/* The table had no room: refuse and free, the table never saw it. */
static int
refuse_full(struct tc_session *s)
{
	int err = errno;

	tc_refuser_refuse(s->room->refuser, s->fd, (struct sockaddr *)&s->addr,
	                  err == EMFILE ? TC_REFUSE_FULL : TC_REFUSE_NO_MEMORY,
	                  NULL);
	session_free(s);
	errno = err;
	return -1;
}

int
tc_session_start(struct tc_room *room, int fd, const struct sockaddr *peer,
                 socklen_t peer_len)
{
	char name[TC_ADDR_STR_MAX];
	struct tc_session *s;
	int rc;

	tc_net_addr_str(peer, name);
	s = session_new(room, fd, peer, peer_len);
	if (s == NULL) {
		tc_peercount_release(room->peers, peer);
		tc_refuser_refuse(room->refuser, fd, peer, TC_REFUSE_NO_MEMORY,
		                  NULL);
		errno = ENOMEM;
		return -1;
	}
	tc_room_welcome(room, s->m.q, name);
	s->m.conn = tc_conntab_add(room->tab, fd, name, s->m.q);
	if (s->m.conn == NULL)
		return refuse_full(s);
	s->id = tc_conn_id(s->m.conn);
	tc_trace_conn_init(&s->trace, fd, s->id);
	tc_trace_accepted(&s->trace);
	/* Announced here, on the acceptor thread, so that nobody who joins
	 * after us (and was counted in our welcome) hears it. */
	tc_room_joined(room, &s->m);
	if (room->verbose)
		tc_console_printf(stdout, "* connection %u from %s", s->id,
		                  name);
	tc_room_enter(room);
	rc = start_threads(s);
	if (rc == 0)
		return 0;
	abandon(s, rc);
	errno = rc;
	return -1;
}
