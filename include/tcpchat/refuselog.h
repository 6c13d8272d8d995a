/* refuselog: which refusals the console reports. A peer that reconnects
 * in a loop must not flood the console: a refusal is reported once per
 * address and reason per window (a minute in the server), and the next
 * report says how many were left unsaid in between.
 *
 * Memory is fixed: a table of TC_REFUSELOG_SLOTS recent (address, reason)
 * pairs; when many addresses are refused at once, the one said longest
 * ago may be forgotten and said again early. Safe from any thread. */
#ifndef TCPCHAT_REFUSELOG_H
#define TCPCHAT_REFUSELOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define TC_REFUSELOG_SLOTS 4096
#define TC_REFUSELOG_WINDOW_NS (60 * 1000000000LL)

struct tc_refuselog;

/* A log with the given window. NULL with errno ENOMEM. */
struct tc_refuselog *tc_refuselog_new(int64_t window_ns);
void tc_refuselog_free(struct tc_refuselog *rl);

/* Records that peer was refused for reason (any small number: the
 * caller's own enum) at now_ns. Returns true when the console should say
 * so: the first time, or once window_ns has passed since it last said it
 * for this address and reason; *unsaid (may be NULL) then gets how many
 * refusals were kept quiet since. Returns false to keep quiet. The port
 * is no part of the key; a mapped IPv6 address is its IPv4 address. */
bool tc_refuselog_should_say(struct tc_refuselog *rl,
                             const struct sockaddr *peer, unsigned reason,
                             int64_t now_ns, unsigned long *unsaid);

#endif
