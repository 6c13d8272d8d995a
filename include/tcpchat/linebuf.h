/* linebuf: bytes in, messages out (docs/PROTOCOL.md, "Lines").
 *
 * A message ends at LF; a CR right before that LF is dropped. A message
 * longer than max_line bytes is split into pieces of at most max_line
 * bytes, never inside a UTF-8 sequence, so nothing is ever dropped. At the
 * peer's FIN, tc_linebuf_flush() hands out what is left as a last message.
 * Not thread-safe: a linebuf belongs to the one thread that feeds it. */
#ifndef TCPCHAT_LINEBUF_H
#define TCPCHAT_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tc_linebuf {
	char *buf;       /* heap storage, grown on demand */
	size_t start;    /* offset of the first unconsumed byte */
	size_t len;      /* unconsumed bytes from start */
	size_t cap;      /* allocated size of buf */
	size_t scanned;  /* bytes from start known to hold no LF */
	size_t max_line; /* longest message, without the LF */
	bool cut;        /* the last piece returned ended without its LF */
	bool continues;  /* the last piece returned did not start a line */
};

/* Prepares lb for messages of at most max_line bytes (max_line >= 4, so a
 * UTF-8 sequence always fits). Allocates nothing until the first feed. */
void tc_linebuf_init(struct tc_linebuf *lb, size_t max_line);

/* Frees lb's storage; lb may be initialised again afterwards. */
void tc_linebuf_fini(struct tc_linebuf *lb);

/* Appends len bytes. Returns 0, or -1 with errno ENOMEM (nothing added). */
int tc_linebuf_feed(struct tc_linebuf *lb, const void *data, size_t len);

/* Takes the next complete message. Returns its length and points *line at
 * its bytes (not NUL-terminated; valid until the next call on lb), or -1
 * when no complete message is buffered yet. */
ssize_t tc_linebuf_next(struct tc_linebuf *lb, const char **line);

/* At end of input: takes what remains (a last message without LF), as
 * tc_linebuf_next() does, splitting at max_line too; -1 when empty. A CR
 * at the very end is kept: it did not come before an LF. */
ssize_t tc_linebuf_flush(struct tc_linebuf *lb, const char **line);

/* True when the message last returned is the rest of a line split at
 * max_line, not the start of a line: it is text, never a command. */
bool tc_linebuf_continues(const struct tc_linebuf *lb);

/* Bytes buffered that are not yet part of a returned message. */
size_t tc_linebuf_pending(const struct tc_linebuf *lb);

#endif
