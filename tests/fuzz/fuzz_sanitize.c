/* fuzz_sanitize: escaping of untrusted bytes for terminals (sanitize).
 *
 * The output is compared with a second, deliberately plain model of the
 * rules, one code point at a time: valid printable UTF-8 (TAB and
 * backslash included) is kept byte for byte, every other byte becomes
 * \xNN in lower-case hex. Then the output itself is checked: no C0 but
 * TAB, no DEL, no C1, only valid UTF-8, and escaping it again changes
 * nothing. The output buffer is exactly TC_SANITIZE_BOUND() bytes from
 * malloc, so AddressSanitizer catches a write past it. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "safe_char.h"
#include "tcpchat/sanitize.h"

/* The model's output for src; returns its length. */
static size_t
model_escape(char *dst, const uint8_t *src, size_t len)
{
	size_t i = 0, o = 0, k;

	while (i < len) {
		k = safe_char_len(src + i, len - i);
		if (k > 0) {
			memcpy(dst + o, src + i, k);
			o += k;
			i += k;
		} else {
			snprintf(dst + o, 5, "\\x%02x", src[i]);
			o += 4;
			i++;
		}
	}
	return o;
}

/* Nothing in out[0..n) could drive a terminal. */
static void
check_terminal_safe(const char *out, size_t n)
{
	const uint8_t *s = (const uint8_t *)out;
	size_t i = 0, k;

	while (i < n) {
		k = safe_char_len(s + i, n - i);
		FUZZ_CHECK(k > 0);
		i += k;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src = (const char *)data;
	char *out = malloc(TC_SANITIZE_BOUND(size));
	char *want = malloc(TC_SANITIZE_BOUND(size));
	size_t n, want_n;

	FUZZ_CHECK(out != NULL && want != NULL);
	n = tc_sanitize(out, src, size);
	want_n = model_escape(want, data, size);
	FUZZ_CHECK(n < TC_SANITIZE_BOUND(size));
	FUZZ_CHECK(out[n] == '\0');
	FUZZ_CHECK(n == want_n && memcmp(out, want, n) == 0);
	check_terminal_safe(out, n);
	FUZZ_CHECK(tc_sanitize_is_clean(out, n));
	FUZZ_CHECK(tc_sanitize_is_clean(src, size) ==
	           (n == size && memcmp(out, src, size) == 0));
	if (size > 0)
		FUZZ_CHECK(tc_sanitize_utf8_safe_len(data, size) ==
		           safe_char_len(data, size));
	free(want);
	free(out);
	return 0;
}
