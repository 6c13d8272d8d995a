/* safe_char: an independent model of what may reach a terminal raw, for
 * the tests that check the escaping from outside (the sanitize fuzz
 * target, the soak). Kept apart from src/sanitize.c on purpose: a test
 * that used the code under test as its model could not fail. */
#ifndef TCPCHAT_TEST_SAFE_CHAR_H
#define TCPCHAT_TEST_SAFE_CHAR_H

#include <stddef.h>
#include <stdint.h>

/* Length of the printable, well-formed UTF-8 character at s[0..n), or 0:
 * TAB and printable ASCII; no C0, DEL or C1; no overlong form, surrogate
 * or code point past U+10FFFF. */
static inline size_t
safe_char_len(const unsigned char *s, size_t n)
{
	uint32_t cp, min;
	size_t len, i;

	if (s[0] < 0x80)
		return s[0] == '\t' || (s[0] >= 0x20 && s[0] != 0x7f);
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

#endif
