/* proto: the wire grammar of tcpchat v1 (docs/PROTOCOL.md).
 *
 * Classifies a received message as text, "exit" or a command, checks nick
 * syntax and formats the lines the server sends, escaping untrusted text
 * through sanitize. It keeps no state and knows nothing of connections. */
#include "tcpchat/proto.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpchat/sanitize.h"

const char *const tc_proto_client_help[] = {
    "commands: /nick NAME (1-32 of A-Za-z0-9._-), /who, /msg NICK TEXT "
    "(to NICK only), /help",
    "//text sends a line beginning with /",
    "exit (or end of input) leaves: the server still sends what it has, "
    "then closes",
    NULL,
};

static int
word_is(const char *word, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(word, name, len) == 0;
}

/* Skips the spaces at the start of [p, p + *len). */
static const char *
skip_spaces(const char *p, size_t *len)
{
	while (*len > 0 && *p == ' ') {
		p++;
		(*len)--;
	}
	return p;
}

/* "/nick": the argument after the separating spaces, trailing spaces off. */
static void
parse_nick_arg(const char *rest, size_t len, struct tc_cmd *cmd)
{
	rest = skip_spaces(rest, &len);
	while (len > 0 && rest[len - 1] == ' ')
		len--;
	cmd->arg = rest;
	cmd->arg_len = len;
}

/* "/msg": the nick up to the next space, the text after the spaces. */
static void
parse_msg_args(const char *rest, size_t len, struct tc_cmd *cmd)
{
	const char *sp;

	rest = skip_spaces(rest, &len);
	sp = memchr(rest, ' ', len);
	cmd->arg = rest;
	cmd->arg_len = sp != NULL ? (size_t)(sp - rest) : len;
	len -= cmd->arg_len;
	cmd->text = skip_spaces(rest + cmd->arg_len, &len);
	cmd->text_len = len;
}

static void
parse_command(const char *line, size_t len, struct tc_cmd *cmd)
{
	const char *sp = memchr(line, ' ', len);
	size_t word_len = sp != NULL ? (size_t)(sp - line) : len;

	if (word_is(line, word_len, "/nick")) {
		cmd->kind = TC_CMD_NICK;
		parse_nick_arg(line + word_len, len - word_len, cmd);
		return;
	}
	if (word_is(line, word_len, "/msg")) {
		cmd->kind = TC_CMD_MSG;
		parse_msg_args(line + word_len, len - word_len, cmd);
		return;
	}
	if (word_is(line, word_len, "/who"))
		cmd->kind = TC_CMD_WHO;
	else if (word_is(line, word_len, "/help"))
		cmd->kind = TC_CMD_HELP;
	else
		cmd->kind = TC_CMD_UNKNOWN;
	/* WHO and HELP ignore arguments; UNKNOWN names the word in its
	 * error notice. */
	cmd->arg = line;
	cmd->arg_len = cmd->kind == TC_CMD_UNKNOWN ? word_len : 0;
}

void
tc_proto_parse(const char *line, size_t len, struct tc_cmd *cmd)
{
	cmd->kind = TC_CMD_TEXT;
	cmd->arg = line;
	cmd->arg_len = len;
	cmd->text = NULL;
	cmd->text_len = 0;
	if (len == 4 && memcmp(line, "exit", 4) == 0) {
		cmd->kind = TC_CMD_EXIT;
		cmd->arg_len = 0;
	} else if (len >= 2 && line[0] == '/' && line[1] == '/') {
		cmd->arg = line + 1; /* "//text" is the text "/text" */
		cmd->arg_len = len - 1;
	} else if (len >= 1 && line[0] == '/') {
		parse_command(line, len, cmd);
	}
}

bool
tc_proto_nick_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

bool
tc_proto_nick_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > TC_NICK_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* a + b, or SIZE_MAX when that wraps: an impossible size makes the caller's
 * allocation fail instead of overflowing dst. */
static size_t
add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t
escaped_bound(size_t text_len)
{
	if (text_len > (SIZE_MAX - 1) / 4)
		return SIZE_MAX;
	return TC_SANITIZE_BOUND(text_len); /* NUL included */
}

size_t
tc_proto_msg_bound(size_t name_len, size_t text_len)
{
	/* name, ": ", escaped text with its NUL, "\n" */
	return add_sat(add_sat(name_len, 3), escaped_bound(text_len));
}

size_t
tc_proto_notice_bound(size_t text_len)
{
	/* "* ", escaped text with its NUL, "\n" */
	return add_sat(3, escaped_bound(text_len));
}

/* Appends the escaped text, "\n" and a NUL at dst + o; returns the length. */
static size_t
put_text_line(char *dst, size_t o, const char *text, size_t text_len)
{
	o += tc_sanitize(dst + o, text, text_len);
	dst[o++] = '\n';
	dst[o] = '\0';
	return o;
}

size_t
tc_proto_format_msg(char *dst, const char *name, size_t name_len,
                    const char *text, size_t text_len)
{
	if (name_len > 0)
		memcpy(dst, name, name_len);
	dst[name_len] = ':';
	dst[name_len + 1] = ' ';
	return put_text_line(dst, name_len + 2, text, text_len);
}

size_t
tc_proto_format_notice(char *dst, const char *text, size_t text_len)
{
	dst[0] = '*';
	dst[1] = ' ';
	return put_text_line(dst, 2, text, text_len);
}

struct tc_msg *
tc_proto_notice(const char *fmt, ...)
{
	struct tc_msg *m = NULL;
	char *text, *line;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	line = malloc(tc_proto_notice_bound((size_t)n));
	if (line != NULL)
		m = tc_msg_new(line,
		               tc_proto_format_notice(line, text, (size_t)n));
	free(line);
	free(text);
	return m;
}

struct tc_msg *
tc_proto_private(const char *from, const char *text, size_t text_len)
{
	static const char tag[] = " (private)";
	size_t from_len = strlen(from), n;
	struct tc_msg *m = NULL;
	char *name, *line;

	name = malloc(from_len + sizeof(tag));
	line = malloc(tc_proto_msg_bound(from_len + sizeof(tag), text_len));
	if (name != NULL && line != NULL) {
		memcpy(name, from, from_len);
		memcpy(name + from_len, tag, sizeof(tag));
		n = tc_proto_format_msg(line, name, from_len + sizeof(tag) - 1,
		                        text, text_len);
		m = tc_msg_new(line, n);
	}
	free(line);
	free(name);
	return m;
}
