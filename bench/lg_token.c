/* lg_token: how tc-loadgen knows its own messages among a relay's lines:
 * "#Tsender.seq.send_ns.checksum#" padded with 'x', after whatever prefix
 * the server puts before the text. */
#include "loadgen.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static uint32_t
tok_chk(uint32_t sender, uint32_t seq, uint64_t ns)
{
	uint64_t h = 1469598103934665603ULL;

	h = (h ^ sender) * 1099511628211ULL;
	h = (h ^ seq) * 1099511628211ULL;
	h = (h ^ ns) * 1099511628211ULL;
	return (uint32_t)(h ^ (h >> 32));
}

size_t
tok_format(char *buf, uint32_t sender, uint32_t seq, uint64_t ns, size_t size)
{
	int n = snprintf(buf, MAX_MSG + 64,
	                 "#T%" PRIu32 ".%" PRIu32 ".%" PRIu64 ".%08" PRIx32 "#",
	                 sender, seq, ns, tok_chk(sender, seq, ns));
	size_t len = (size_t)n;

	if (len < size) {
		memset(buf + len, 'x', size - len);
		len = size;
	}
	buf[len++] = '\n';
	return len;
}

static const char *
parse_u64(const char *p, const char *end, int base, uint64_t *v)
{
	const char *start = p;

	*v = 0;
	for (; p < end; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			break;
		*v = *v * (uint64_t)base + (uint64_t)d;
	}
	return p > start && p - start <= 20 ? p : NULL;
}

/* Parses the token fields after "#T" up to and including the closing '#'.
 * Returns the end of the token or NULL. */
static const char *
tok_fields(const char *p, const char *end, struct tok *t)
{
	uint64_t s, q, ns, chk;

	if ((p = parse_u64(p, end, 10, &s)) == NULL || p >= end || *p++ != '.')
		return NULL;
	if ((p = parse_u64(p, end, 10, &q)) == NULL || p >= end || *p++ != '.')
		return NULL;
	if ((p = parse_u64(p, end, 10, &ns)) == NULL || p >= end || *p++ != '.')
		return NULL;
	if ((p = parse_u64(p, end, 16, &chk)) == NULL || p >= end ||
	    *p++ != '#')
		return NULL;
	if (s > UINT32_MAX || q > UINT32_MAX ||
	    chk != tok_chk((uint32_t)s, (uint32_t)q, ns))
		return NULL;
	t->sender = (uint32_t)s;
	t->seq = (uint32_t)q;
	t->ns = ns;
	return p;
}

enum tok_kind
tok_parse(const char *line, size_t len, size_t size, struct tok *t)
{
	const char *end = line + len, *p, *q;
	size_t want;

	p = memmem(line, len, "#T", 2);
	if (p == NULL)
		return TOK_NONE;
	if ((p != line && p[-1] != ' ') ||
	    memmem(p + 2, (size_t)(end - p - 2), "#T", 2) != NULL)
		return TOK_TORN;
	q = tok_fields(p + 2, end, t);
	if (q == NULL)
		return TOK_TORN;
	want = (size_t)(q - p) < size ? size : (size_t)(q - p);
	if ((size_t)(end - p) != want)
		return TOK_TORN;
	for (; q < end; q++)
		if (*q != 'x')
			return TOK_TORN;
	return p == line ? TOK_BARE : TOK_OK;
}
