/* operator: what the person at the server's console can do:
 * talk to every client, and /list /msg /kick /quit /help.
 *
 * Runs on the console thread; prints through tc_console_printf(). */
#ifndef TCPCHAT_OPERATOR_H
#define TCPCHAT_OPERATOR_H

#include <stddef.h>

#include "tcpchat/room.h"

enum tc_operator_result {
	TC_OPERATOR_DONE, /* handled */
	TC_OPERATOR_QUIT, /* /quit: the caller starts the shutdown */
};

/* Handles one line typed on the server console (no newline). */
enum tc_operator_result tc_operator_line(struct tc_room *room, const char *line,
                                         size_t len);

#endif
