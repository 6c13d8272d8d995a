/* proto: the wire grammar of tcpchat v1 in one place (docs/PROTOCOL.md).
 *
 * Parses what a client sends (commands beginning with '/', the 'exit'
 * line, '//' escapes) and formats what the server sends ("NAME: TEXT"
 * messages and "* TEXT" notices, escaped for terminals). Pure functions. */
#ifndef TCPCHAT_PROTO_H
#define TCPCHAT_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "tcpchat/msg.h"

#define TC_NICK_MAX 32

enum tc_cmd_kind {
	TC_CMD_TEXT,    /* a chat message: arg is the text */
	TC_CMD_EXIT,    /* exactly "exit": start the half-close */
	TC_CMD_NICK,    /* "/nick ARG": arg not yet validated */
	TC_CMD_WHO,     /* "/who" */
	TC_CMD_HELP,    /* "/help" */
	TC_CMD_MSG,     /* "/msg NICK TEXT": arg NICK, text TEXT */
	TC_CMD_UNKNOWN, /* any other "/word" (or "/"): arg is that word */
};

struct tc_cmd {
	enum tc_cmd_kind kind;
	const char *arg; /* points into the parsed line; not NUL-terminated */
	size_t arg_len;
	const char *text; /* /msg only: the message, as arg */
	size_t text_len;
};

/* Classifies one received message (CR/LF already removed by linebuf).
 * "//text" is TC_CMD_TEXT "/text". The command word runs to the first
 * space; "/nick"'s arg is the rest without leading or trailing spaces
 * (arg_len 0 when absent); "/msg"'s arg is the nick after the spaces and
 * its text all after the spaces that follow (either may be empty); "/who"
 * and "/help" ignore what follows. Never fails. */
void tc_proto_parse(const char *line, size_t len, struct tc_cmd *cmd);

/* True when name is 1..TC_NICK_MAX bytes of A-Za-z0-9 '.' '_' '-'. */
bool tc_proto_nick_valid(const char *name, size_t len);

/* IRC-like: nicks differing only in ASCII case are the same person. Not
 * strcasecmp(), whose folding depends on the locale. */
bool tc_proto_nick_eq(const char *a, const char *b);

/* Bytes that tc_proto_format_msg() may write for these lengths. */
size_t tc_proto_msg_bound(size_t name_len, size_t text_len);

/* Formats "NAME: TEXT\n" with TEXT escaped (sanitize) into dst, which must
 * hold tc_proto_msg_bound() bytes. NAME is copied as it is: callers pass a
 * valid nick, an address or the operator's --name. Returns the length (no NUL
 * counted; dst is NUL-terminated). */
size_t tc_proto_format_msg(char *dst, const char *name, size_t name_len,
                           const char *text, size_t text_len);

/* Bytes that tc_proto_format_notice() may write for this length. */
size_t tc_proto_notice_bound(size_t text_len);

/* Formats "* TEXT\n" with TEXT escaped (sanitize) into dst, which must hold
 * tc_proto_notice_bound() bytes. Returns the length (no NUL counted; dst is
 * NUL-terminated). */
size_t tc_proto_format_notice(char *dst, const char *text, size_t text_len);

/* A new message "* TEXT\n", TEXT from a printf format and escaped as by
 * tc_proto_format_notice(): every notice the server sends is made here.
 * NULL with errno on failure. */
struct tc_msg *tc_proto_notice(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* A new message "FROM (private): TEXT\n", TEXT escaped: what the one
 * recipient of a private message gets. NULL with errno on failure. */
struct tc_msg *tc_proto_private(const char *from, const char *text,
                                size_t text_len);

/* The help text a client gets for "/help", one notice per line;
 * NULL-terminated. */
extern const char *const tc_proto_client_help[];

#endif
