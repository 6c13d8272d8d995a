/* sanitize: make untrusted bytes safe to show on a terminal (docs/PROTOCOL.md).
 *
 * C0 controls except TAB, DEL, C1 controls (U+0080..U+009F, as UTF-8) and
 * every byte of invalid UTF-8 (bad lead, truncated, overlong, surrogate,
 * beyond U+10FFFF) become \xNN in lower-case hex; an ESC is escaped, so no
 * escape sequence survives. Valid UTF-8 text, TAB and backslash pass as
 * they are. Locale-free and thread-safe (pure functions). */
#ifndef TCPCHAT_SANITIZE_H
#define TCPCHAT_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

/* Size dst needs for tc_sanitize() of len bytes, NUL included. */
#define TC_SANITIZE_BOUND(len) ((len)*4 + 1)

/* Writes the escaped form of src[0..len) to dst, which must hold
 * TC_SANITIZE_BOUND(len) bytes, and NUL-terminates it. Returns the length
 * written, NUL excluded. */
size_t tc_sanitize(char *dst, const char *src, size_t len);

/* True when tc_sanitize() would return src unchanged (fast path). */
bool tc_sanitize_is_clean(const char *src, size_t len);

/* Length of the valid, printable UTF-8 sequence at s (1 to 4), or 0 when
 * the byte at s must be escaped. n is the bytes available from s. */
size_t tc_sanitize_utf8_safe_len(const unsigned char *s, size_t n);

#endif
