/* client: the tcpchat client's connection, from the connected socket to
 * the exit status.
 *
 * Two threads share it. The reader thread only receives: it frames,
 * escapes, decorates and prints what the server sends, until the server's FIN
 * or an error. The calling thread is the console thread: it sends each line the
 * console hands over, runs the half-close ("exit", then shutdown(SHUT_WR),
 * then reading on until the server's FIN), handles the signals through a
 * signalfd the console polls, and alone closes the socket, after joining
 * the reader. */
#ifndef TCPCHAT_CLIENT_H
#define TCPCHAT_CLIENT_H

#include <stdbool.h>

#include "tcpchat/console.h"
#include "tcpchat/decorate.h"

/* The connection was lost: a reset or another socket error. */
#define TC_CLIENT_EXIT_LOST 3

struct tc_client;

/* Takes the connected fd, which it owns from now on. Blocks the signals
 * the client handles in the calling thread (so call it before any other
 * thread starts: they inherit the mask) and opens the signalfd they are
 * read from; tty turns on the terminal's keys (Ctrl-C clears the line,
 * Ctrl-Z, resizing). Every incoming line is shown through deco, which
 * stays the caller's and must outlive tc_client_run(). Returns NULL with
 * errno on failure, fd then closed. */
struct tc_client *tc_client_new(int fd, bool tty, struct tc_deco *deco);

/* Fills on_line, on_eof, extra_fd, on_extra, ctx and caller_history of
 * co, so that the console's input and the signals go to c, and only the
 * lines c sends go into the history. Before tc_console_init(co). */
void tc_client_console_opts(struct tc_client *c, struct tc_console_opts *co);

/* Runs the connection on the console thread until it has ended: says it is
 * connected, sends "/nick NICK" when nick is not NULL, starts the reader,
 * runs tc_console_run(), then joins the reader and closes the socket.
 * Returns the exit status: 0 after a clean close from either side,
 * TC_CLIENT_EXIT_LOST, or 128 + the signal that ended it. Once only, after
 * tc_console_init(); blocks. */
int tc_client_run(struct tc_client *c, const char *nick);

/* Frees c and closes its signalfd (and its socket, if tc_client_run() was
 * never called). After tc_client_run() returned, or instead of it. */
void tc_client_free(struct tc_client *c);

#endif
