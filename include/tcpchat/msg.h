/* msg: an immutable line of bytes with a reference count, so that a
 * broadcast formats a line once and every recipient's queue shares it. */
#ifndef TCPCHAT_MSG_H
#define TCPCHAT_MSG_H

#include <stddef.h>

/* An immutable message; freed when its last reference goes. */
struct tc_msg;

/* New message holding a copy of data, with one reference for the caller.
 * Returns NULL with errno ENOMEM. Any thread. */
struct tc_msg *tc_msg_new(const void *data, size_t len);

/* New message from a printf format; NULL with errno set on failure. */
struct tc_msg *tc_msg_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Takes another reference; returns m. Any thread; lock-free. */
struct tc_msg *tc_msg_ref(struct tc_msg *m);

/* Drops a reference (NULL is ignored); frees m at the last one. */
void tc_msg_unref(struct tc_msg *m);

const char *tc_msg_data(const struct tc_msg *m);
size_t tc_msg_len(const struct tc_msg *m);

#endif
