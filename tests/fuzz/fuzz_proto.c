/* fuzz_proto: the wire grammar (proto) on untrusted messages.
 *
 * The whole input is parsed as one received message and its class checked
 * against the grammar: "exit", "//" escapes, the command word up to the
 * first space, /nick's trimmed argument, arguments inside the message. The
 * nick rules are checked against their definition. Then the input is split
 * into a name and a text and formatted as a message and as a notice, each
 * into a malloc'd buffer of exactly the size the bound functions give, so
 * AddressSanitizer catches any overrun; the lines must be NAME ": " or
 * "* ", the escaped text, and one LF. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "tcpchat/proto.h"
#include "tcpchat/sanitize.h"

static bool
starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

static bool
model_nick_valid(const char *s, size_t len)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                         "abcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t i;

	if (len < 1 || len > 32)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(ok, s[i]) == NULL)
			return false;
	return true;
}

/* "/msg NICK TEXT": the nick runs from after the spaces to the next
 * space, the text from after the spaces that follow to the end. */
static void
check_msg(const char *line, size_t len, const struct tc_cmd *cmd)
{
	size_t a, b, t;

	FUZZ_CHECK(cmd->kind == TC_CMD_MSG);
	for (a = 4; a < len && line[a] == ' '; a++)
		;
	for (b = a; b < len && line[b] != ' '; b++)
		;
	for (t = b; t < len && line[t] == ' '; t++)
		;
	FUZZ_CHECK(cmd->arg == line + a && cmd->arg_len == b - a);
	FUZZ_CHECK(cmd->text == line + t && cmd->text_len == len - t);
}

/* A command's class and argument, against the grammar. */
static void
check_command(const char *line, size_t len, const struct tc_cmd *cmd)
{
	const char *sp = memchr(line, ' ', len);
	size_t word = sp != NULL ? (size_t)(sp - line) : len;
	size_t a, b;

	if (word == 5 && memcmp(line, "/nick", 5) == 0) {
		FUZZ_CHECK(cmd->kind == TC_CMD_NICK);
		for (a = word; a < len && line[a] == ' '; a++)
			;
		for (b = len; b > a && line[b - 1] == ' '; b--)
			;
		FUZZ_CHECK(cmd->arg == line + a && cmd->arg_len == b - a);
	} else if (word == 4 && memcmp(line, "/msg", 4) == 0) {
		check_msg(line, len, cmd);
	} else if (word == 4 && memcmp(line, "/who", 4) == 0) {
		FUZZ_CHECK(cmd->kind == TC_CMD_WHO && cmd->arg_len == 0);
	} else if (word == 5 && memcmp(line, "/help", 5) == 0) {
		FUZZ_CHECK(cmd->kind == TC_CMD_HELP && cmd->arg_len == 0);
	} else {
		FUZZ_CHECK(cmd->kind == TC_CMD_UNKNOWN);
		FUZZ_CHECK(cmd->arg == line && cmd->arg_len == word);
	}
}

static void
check_parse(const char *line, size_t len)
{
	struct tc_cmd cmd;

	memset(&cmd, 0xa5, sizeof(cmd));
	tc_proto_parse(line, len, &cmd);
	FUZZ_CHECK(cmd.arg >= line && cmd.arg_len <= len &&
	           (size_t)(cmd.arg - line) <= len - cmd.arg_len);
	if (len == 4 && memcmp(line, "exit", 4) == 0) {
		FUZZ_CHECK(cmd.kind == TC_CMD_EXIT && cmd.arg_len == 0);
	} else if (starts_with(line, len, "//")) {
		FUZZ_CHECK(cmd.kind == TC_CMD_TEXT);
		FUZZ_CHECK(cmd.arg == line + 1 && cmd.arg_len == len - 1);
	} else if (starts_with(line, len, "/")) {
		check_command(line, len, &cmd);
	} else {
		FUZZ_CHECK(cmd.kind == TC_CMD_TEXT);
		FUZZ_CHECK(cmd.arg == line && cmd.arg_len == len);
	}
	if (cmd.kind == TC_CMD_NICK)
		FUZZ_CHECK(tc_proto_nick_valid(cmd.arg, cmd.arg_len) ==
		           model_nick_valid(cmd.arg, cmd.arg_len));
}

/* The escaped text, with its length, for comparing formatted lines. */
static char *
escaped(const char *text, size_t len, size_t *out_len)
{
	char *s = malloc(TC_SANITIZE_BOUND(len));

	FUZZ_CHECK(s != NULL);
	*out_len = tc_sanitize(s, text, len);
	return s;
}

/* dst[0..n] is head, the escaped text, "\n" and a NUL. */
static void
check_line(const char *dst, size_t n, size_t bound, const char *head,
           size_t head_len, const char *text, size_t text_len)
{
	size_t esc_len;
	char *esc = escaped(text, text_len, &esc_len);

	FUZZ_CHECK(n < bound);
	FUZZ_CHECK(n == head_len + esc_len + 1);
	FUZZ_CHECK(memcmp(dst, head, head_len) == 0);
	FUZZ_CHECK(memcmp(dst + head_len, esc, esc_len) == 0);
	FUZZ_CHECK(memchr(dst + head_len, '\n', esc_len) == NULL);
	FUZZ_CHECK(dst[n - 1] == '\n' && dst[n] == '\0');
	free(esc);
}

static void
check_format_msg(const char *name, size_t name_len, const char *text,
                 size_t text_len)
{
	size_t bound = tc_proto_msg_bound(name_len, text_len);
	char *dst = malloc(bound), *head = malloc(name_len + 2);
	size_t n;

	FUZZ_CHECK(dst != NULL && head != NULL);
	memcpy(head, name, name_len);
	memcpy(head + name_len, ": ", 2);
	n = tc_proto_format_msg(dst, name, name_len, text, text_len);
	check_line(dst, n, bound, head, name_len + 2, text, text_len);
	free(head);
	free(dst);
}

static void
check_format_notice(const char *text, size_t text_len)
{
	size_t bound = tc_proto_notice_bound(text_len);
	char *dst = malloc(bound);
	size_t n;

	FUZZ_CHECK(dst != NULL);
	n = tc_proto_format_notice(dst, text, text_len);
	check_line(dst, n, bound, "* ", 2, text, text_len);
	free(dst);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t name_len;

	check_parse(s, size);
	FUZZ_CHECK(tc_proto_nick_valid(s, size) == model_nick_valid(s, size));
	/* The first byte says how many of the rest are the name. */
	name_len = size > 0 ? data[0] % 40 : 0;
	if (name_len > size - (size > 0))
		name_len = size - (size > 0);
	s += size > 0;
	size -= size > 0;
	check_format_msg(s, name_len, s + name_len, size - name_len);
	check_format_notice(s, size);
	return 0;
}
