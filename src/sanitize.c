/* sanitize: escapes what could drive a terminal (docs/PROTOCOL.md, "Terminal
 * safety").
 *
 * A strict UTF-8 decoder decides, sequence by sequence, whether bytes pass
 * as they are or become \xNN; nothing depends on the locale. Runs of
 * printable ASCII are recognised eight bytes at a time, the common case of
 * a chat line. It never allocates and never fails. */
#include "tcpchat/sanitize.h"

#include <stdint.h>
#include <string.h>

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static int
is_printable_ascii(unsigned char b)
{
	return (b >= 0x20 && b < 0x7f) || b == '\t';
}

/* True when all eight bytes of w are 0x20..0x7e. The "byte below 0x20"
 * test may misfire for a byte above a real hit (borrow), never miss one;
 * a misfire only sends us down the byte-wise path. */
static int
word_is_printable(uint64_t w)
{
	uint64_t below_space = (w - 0x20 * ONES) & ~w & HIGHS;
	uint64_t del = ((w ^ 0x7f * ONES) - ONES) & ~(w ^ 0x7f * ONES) & HIGHS;

	return ((w & HIGHS) | below_space | del) == 0;
}

/* Length of the run of printable ASCII (TAB included) at the start of s. */
static size_t
ascii_run(const unsigned char *s, size_t n)
{
	size_t i = 0;
	uint64_t w;

	while (n - i >= sizeof(w)) {
		memcpy(&w, s + i, sizeof(w));
		if (!word_is_printable(w))
			break;
		i += sizeof(w);
	}
	while (i < n && is_printable_ascii(s[i]))
		i++;
	return i;
}

static int
is_cont(unsigned char b)
{
	return (b & 0xc0) == 0x80;
}

/* Multi-byte sequences: the first continuation byte's range rules out
 * C1 controls, overlong forms, surrogates and code points past U+10FFFF. */
static size_t
utf8_multi_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] == 0xc2)
		lo = 0xa0; /* U+0080..U+009F are C1 controls */
	else if (s[0] == 0xe0)
		lo = 0xa0; /* overlong 3-byte form */
	else if (s[0] == 0xed)
		hi = 0x9f; /* U+D800..U+DFFF are surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong 4-byte form */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* beyond U+10FFFF */
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0; /* continuation, C0/C1 overlong lead, F5..FF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (!is_cont(s[i]))
			return 0;
	return len;
}

size_t
tc_sanitize_utf8_safe_len(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return is_printable_ascii(s[0]) ? 1 : 0;
	return utf8_multi_len(s, n);
}

bool
tc_sanitize_is_clean(const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, k;

	for (;;) {
		i += ascii_run(s + i, len - i);
		if (i == len)
			return true;
		k = tc_sanitize_utf8_safe_len(s + i, len - i);
		if (k == 0)
			return false;
		i += k;
	}
}

size_t
tc_sanitize(char *dst, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, k;

	while (i < len) {
		k = ascii_run(s + i, len - i);
		if (k == 0)
			k = tc_sanitize_utf8_safe_len(s + i, len - i);
		if (k > 0) {
			memcpy(dst + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		/* Escape one byte only and resume at the next: the rest of
		 * a broken sequence is judged on its own. */
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[s[i] >> 4];
		dst[o++] = hex[s[i] & 0x0f];
		i++;
	}
	dst[o] = '\0';
	return o;
}
