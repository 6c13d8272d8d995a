/* session: one server connection, its reader and writer threads, and its
 * half-close (docs/PROTOCOL.md, docs/DESIGN.md).
 *
 * The acceptor hands a connected fd to tc_session_start() and never touches
 * it again. The reader only recv()s and may shutdown(SHUT_RD); the writer
 * alone sends, shutdown(SHUT_WR)s and closes, once, after the reader is
 * done. The last of the two threads to finish frees the session. */
#ifndef TCPCHAT_SESSION_H
#define TCPCHAT_SESSION_H

#include <sys/socket.h>

#include "tcpchat/room.h"

/* Starts a session on fd, from peer, in room: adds it to the table (or
 * refuses it with "* error: server full"), then starts its reader and
 * writer. The session takes over peer's slot in room->peers (acquired by
 * the caller) and gives it back when it ends, or at once when it cannot
 * start. Returns 0, or -1 with errno (EMFILE: table full, or
 * pthread_create's error) after handing fd to room->refuser. Called by
 * the acceptor only. */
int tc_session_start(struct tc_room *room, int fd, const struct sockaddr *peer,
                     socklen_t peer_len);

#endif
