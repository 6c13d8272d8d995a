/* fuzz_linebuf: the framing of a received byte stream (linebuf).
 *
 * The first input byte picks the line limit (4 to 67, or 4096), the second
 * how the rest is chopped into feeds, as recv() would chop it. Every piece
 * is replayed against the input: no piece longer than the limit or holding
 * an LF; piece plus its LF (or CR LF) is exactly the next input bytes, so no
 * byte is lost, added or reordered; a piece cut without its LF never ends
 * inside a UTF-8 sequence; the continues flag follows the cuts; and a
 * complete line is never held back. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "tcpchat/linebuf.h"

struct replay {
	const uint8_t *in; /* the whole stream */
	size_t len;        /* its length */
	size_t fed;        /* bytes given to the linebuf so far */
	size_t off;        /* bytes accounted for by pieces so far */
	size_t max_line;
	bool last_cut; /* the previous piece ended without its LF */
};

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0. */
static size_t
utf8_len(const uint8_t *s, size_t n)
{
	uint32_t cp, min;
	size_t len, i;

	if (s[0] >= 0xc0 && s[0] <= 0xdf) {
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf7) {
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* True when a well-formed sequence of the stream starts before cut and
 * ends after it. */
static bool
cut_inside_sequence(const struct replay *r, size_t cut)
{
	size_t i = cut >= 3 ? cut - 3 : 0;

	for (; i < cut; i++)
		if (i + utf8_len(r->in + i, r->len - i) > cut)
			return true;
	return false;
}

/* Checks one piece against the input and accounts for it. */
static void
check_piece(struct replay *r, const char *line, size_t n, bool cut)
{
	const uint8_t *at = r->in + r->off;
	size_t rest = r->len - r->off, skip = 0;

	FUZZ_CHECK(n <= r->max_line && n <= rest);
	FUZZ_CHECK(memcmp(line, at, n) == 0);
	FUZZ_CHECK(memchr(line, '\n', n) == NULL);
	if (!cut) {
		/* Its LF follows, with the CR before it dropped. */
		if (n < rest && at[n] == '\n')
			skip = 1;
		else if (n + 1 < rest && at[n] == '\r' && at[n + 1] == '\n')
			skip = 2;
		FUZZ_CHECK(skip > 0);
		FUZZ_CHECK(skip == 2 || n == 0 || line[n - 1] != '\r');
	} else {
		/* Cut at the limit, a little earlier to keep a character
		 * whole, or at the end of the stream; never just before an
		 * LF, which would make an empty line of it. */
		FUZZ_CHECK(n > 0);
		FUZZ_CHECK(n == rest || n == r->max_line ||
		           (n + 3 >= r->max_line && at[n] >= 0xc0));
		FUZZ_CHECK(n == rest || at[n] != '\n');
		FUZZ_CHECK(n + 1 >= rest || at[n] != '\r' || at[n + 1] != '\n');
		FUZZ_CHECK(!cut_inside_sequence(r, r->off + n));
	}
	r->off += n + skip;
	r->last_cut = cut;
}

/* What is left after tc_linebuf_next() said "nothing yet" cannot hold a
 * line: no LF, and no more than the limit (plus a CR that may yet turn out
 * to precede an LF). */
static void
check_held_back(const struct replay *r)
{
	size_t pending = r->fed - r->off;

	FUZZ_CHECK(memchr(r->in + r->off, '\n', pending) == NULL);
	FUZZ_CHECK(pending <= r->max_line ||
	           (pending == r->max_line + 1 && r->in[r->fed - 1] == '\r'));
}

/* Takes every piece the linebuf has; at_end: flush, the peer's FIN. */
static void
drain(struct tc_linebuf *lb, struct replay *r, bool at_end)
{
	const char *line;
	ssize_t n;

	while ((n = at_end ? tc_linebuf_flush(lb, &line)
	                   : tc_linebuf_next(lb, &line)) >= 0) {
		FUZZ_CHECK(tc_linebuf_continues(lb) == r->last_cut);
		check_piece(r, line, (size_t)n, lb->cut);
		FUZZ_CHECK(tc_linebuf_pending(lb) == r->fed - r->off);
	}
	if (!at_end)
		check_held_back(r);
}

/* A small deterministic generator for the feed sizes. */
static size_t
next_chunk(uint32_t *state, size_t span)
{
	*state = *state * 1103515245u + 12345u;
	return 1 + (*state >> 16) % span;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tc_linebuf lb;
	struct replay r;
	uint32_t state;
	size_t span;

	if (size < 2)
		return 0;
	memset(&r, 0, sizeof(r));
	r.max_line = data[0] == 0xff ? 4096 : 4 + data[0] % 64;
	span = 1 + data[1];
	state = data[1];
	r.in = data + 2;
	r.len = size - 2;
	tc_linebuf_init(&lb, r.max_line);
	while (r.fed < r.len) {
		size_t n = next_chunk(&state, span);

		if (n > r.len - r.fed)
			n = r.len - r.fed;
		FUZZ_CHECK(tc_linebuf_feed(&lb, r.in + r.fed, n) == 0);
		r.fed += n;
		drain(&lb, &r, false);
	}
	drain(&lb, &r, true);
	FUZZ_CHECK(r.off == r.len);
	FUZZ_CHECK(tc_linebuf_pending(&lb) == 0);
	tc_linebuf_fini(&lb);
	return 0;
}
