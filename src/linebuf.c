/* linebuf: frames a byte stream into messages (docs/PROTOCOL.md, "Lines").
 *
 * Finds the LF, drops the CR before it, splits what is longer than max_line
 * at a UTF-8 boundary, and never drops a byte. It does no I/O and no
 * escaping; the scan resumes where it stopped (lb->scanned), so bytes that
 * arrive one at a time cost O(1) each, not a rescan of everything pending. */
#include "tcpchat/linebuf.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* First allocation: a typical chat line fits without a regrow. */
#define LB_MIN_CAP 256
/* An empty buffer larger than this is freed, so a connection that once
 * received a flood does not keep the memory while it idles. */
#define LB_KEEP_CAP (64 * 1024)
/* Smallest limit: one whole UTF-8 sequence must fit in a piece. */
#define LB_MIN_LINE 4

void
tc_linebuf_init(struct tc_linebuf *lb, size_t max_line)
{
	memset(lb, 0, sizeof(*lb));
	if (max_line < LB_MIN_LINE)
		max_line = LB_MIN_LINE;
	/* Lengths are returned as ssize_t and max_line + 2 must not wrap. */
	if (max_line > SSIZE_MAX / 2)
		max_line = SSIZE_MAX / 2;
	lb->max_line = max_line;
}

void
tc_linebuf_fini(struct tc_linebuf *lb)
{
	free(lb->buf);
	lb->buf = NULL;
	lb->start = lb->len = lb->cap = lb->scanned = 0;
}

/* Makes room for n more bytes after the pending ones. Compacts when the
 * result stays at most half full (so every memmove is paid for by at least
 * as many fed bytes), otherwise grows by doubling. */
static int
linebuf_reserve(struct tc_linebuf *lb, size_t n)
{
	size_t need, cap;
	char *p;

	if (n <= lb->cap - lb->start - lb->len)
		return 0;
	if (n > SIZE_MAX - lb->len) {
		errno = ENOMEM;
		return -1;
	}
	need = lb->len + n;
	if (lb->start > 0) {
		memmove(lb->buf, lb->buf + lb->start, lb->len);
		lb->start = 0;
	}
	if (need <= lb->cap / 2)
		return 0;
	/* At most half full after growing, for the same reason. */
	cap = lb->cap > 0 ? lb->cap : LB_MIN_CAP;
	while (cap / 2 < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = realloc(lb->buf, cap);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	lb->buf = p;
	lb->cap = cap;
	return 0;
}

int
tc_linebuf_feed(struct tc_linebuf *lb, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (lb->len == 0)
		lb->start = 0;
	if (linebuf_reserve(lb, len) == -1)
		return -1;
	memcpy(lb->buf + lb->start + lb->len, data, len);
	lb->len += len;
	return 0;
}

/* Length of the UTF-8 sequence a lead byte announces; 0 for a byte that
 * cannot start one (continuation, C0, C1, F5..FF). */
static size_t
utf8_seq_len(unsigned char b)
{
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b >= 0xe0 && b <= 0xef)
		return 3;
	if (b >= 0xf0 && b <= 0xf4)
		return 4;
	return 0;
}

static int
is_cont(unsigned char b)
{
	return (b & 0xc0) == 0x80;
}

/* Where to cut s (avail >= 1 bytes) so the piece holds at most max bytes:
 * max, or earlier when a well-formed sequence would straddle that cut. */
static size_t
linebuf_cut(const char *s, size_t avail, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t back, seq, i;

	if (avail <= max || !is_cont(u[max]))
		return max < avail ? max : avail;
	for (back = 1; back <= 3; back++) {
		if (is_cont(u[max - back]))
			continue;
		seq = utf8_seq_len(u[max - back]);
		if (seq <= back)
			return max; /* stray continuation at the cut */
		/* The bytes present past the cut must continue it, too. */
		for (i = max + 1; i < max - back + seq && i < avail; i++)
			if (!is_cont(u[i]))
				return max;
		return max - back;
	}
	return max;
}

/* Hands out the first n pending bytes and drops skip more (the LF). */
static ssize_t
linebuf_take(struct tc_linebuf *lb, size_t n, size_t skip, const char **line)
{
	*line = lb->buf + lb->start;
	lb->start += n + skip;
	lb->len -= n + skip;
	lb->scanned = lb->scanned > n + skip ? lb->scanned - n - skip : 0;
	/* A piece cut without its LF (skip 0) leaves the next mid-line. */
	lb->continues = lb->cut;
	lb->cut = skip == 0;
	return (ssize_t)n;
}

/* An empty buffer starts over at offset 0; a big one is given back. The
 * previous message's bytes may be released: its pointer has expired. */
static void
linebuf_settle(struct tc_linebuf *lb)
{
	if (lb->len != 0)
		return;
	lb->start = 0;
	lb->scanned = 0;
	if (lb->cap > LB_KEEP_CAP) {
		free(lb->buf);
		lb->buf = NULL;
		lb->cap = 0;
	}
}

ssize_t
tc_linebuf_next(struct tc_linebuf *lb, const char **line)
{
	size_t max = lb->max_line, window, content;
	const char *p, *lf;

	linebuf_settle(lb);
	if (lb->len == 0)
		return -1;
	/* An LF past max + 1 cannot end the first piece: look no further. */
	window = lb->len < max + 2 ? lb->len : max + 2;
	p = lb->buf + lb->start;
	lf = NULL;
	if (lb->scanned < window)
		lf = memchr(p + lb->scanned, '\n', window - lb->scanned);
	if (lf != NULL) {
		lb->scanned = (size_t)(lf - p);
		content = lb->scanned;
		if (content > 0 && p[content - 1] == '\r')
			content--;
		if (content <= max)
			return linebuf_take(lb, content,
			                    lb->scanned + 1 - content, line);
	} else {
		lb->scanned = window;
		/* A CR at max could still be followed by the LF that drops
		 * it, making a message of exactly max bytes: wait. */
		if (lb->len < max + 1 || (lb->len == max + 1 && p[max] == '\r'))
			return -1;
	}
	return linebuf_take(lb, linebuf_cut(p, lb->len, max), 0, line);
}

ssize_t
tc_linebuf_flush(struct tc_linebuf *lb, const char **line)
{
	ssize_t n;

	n = tc_linebuf_next(lb, line);
	if (n >= 0 || lb->len == 0)
		return n;
	/* No LF will come: the rest, trailing CR included, is a message. */
	return linebuf_take(
	    lb, linebuf_cut(lb->buf + lb->start, lb->len, lb->max_line), 0,
	    line);
}

bool
tc_linebuf_continues(const struct tc_linebuf *lb)
{
	return lb->continues;
}

size_t
tc_linebuf_pending(const struct tc_linebuf *lb)
{
	return lb->len;
}
