/* operator: the server console's commands. A plain line goes to every
 * client as "SERVERNAME: TEXT"; /list shows the state table, /msg talks to
 * one client, /kick closes one from the server side, /quit asks for the
 * graceful shutdown. It only queues and prints: sessions do the I/O. */
#include "tcpchat/operator.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpchat/console.h"
#include "tcpchat/proto.h"

static const char *const operator_help[] = {
    "/list          show every connection",
    "/msg ID TEXT   send TEXT to connection ID only",
    "/kick ID       close connection ID from the server side",
    "/quit          shut down gracefully (as SIGINT and SIGTERM do)",
    "//text         send a line beginning with '/'",
    NULL,
};

/* The server's own participant says text (escaped, like any message). */
static struct tc_msg *
server_message(struct tc_room *room, const char *text, size_t len)
{
	size_t name_len = strlen(room->name), n;
	struct tc_msg *m;
	char *buf;

	buf = malloc(tc_proto_msg_bound(name_len, len));
	if (buf == NULL)
		return NULL;
	n = tc_proto_format_msg(buf, room->name, name_len, text, len);
	m = tc_msg_new(buf, n);
	free(buf);
	return m;
}

static void
list_connections(struct tc_room *room)
{
	struct tc_conn_info *all;
	unsigned parked;
	size_t n, i;

	all = tc_conntab_snapshot(room->tab, &n);
	if (all == NULL) {
		tc_console_printf(stderr, "tcpchatd: /list: %s",
		                  strerror(errno));
		return;
	}
	parked = tc_pool_parked(room->pool);
	/* Parked threads serve no one: they wait for the next connections. */
	tc_console_printf(stdout, "%zu connection%s; %u thread%s parked", n,
	                  n == 1 ? "" : "s", parked, parked == 1 ? "" : "s");
	tc_console_printf(stdout, "%5s %-24s %-20s %-11s %10s %7s %10s %7s %8s",
	                  "ID", "PEER", "NAME", "STATE", "BYTES_IN", "MSG_IN",
	                  "BYTES_OUT", "MSG_OUT", "QUEUED");
	for (i = 0; i < n; i++)
		tc_console_printf(
		    stdout,
		    "%5u %-24s %-20s %-11s %10llu %7llu %10llu %7llu %8zu",
		    all[i].id, all[i].peer, all[i].name,
		    tc_phase_name(all[i].phase),
		    (unsigned long long)all[i].bytes_in,
		    (unsigned long long)all[i].msgs_in,
		    (unsigned long long)all[i].bytes_out,
		    (unsigned long long)all[i].msgs_out, all[i].queued);
	free(all);
}

/* Parses a connection id at the start of s; returns 0 when there is none,
 * and points *rest past it and one space. */
static unsigned
parse_id(const char *s, const char **rest)
{
	char *end;
	unsigned long id;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	id = strtoul(s, &end, 10);
	if (errno != 0 || id == 0 || id > 0xffffffffUL ||
	    (*end != ' ' && *end != '\0'))
		return 0;
	*rest = *end == ' ' ? end + 1 : end;
	return (unsigned)id;
}

static void
private_message(struct tc_room *room, const char *args)
{
	const char *text = NULL;
	unsigned id = parse_id(args, &text);
	struct tc_msg *m;

	if (id == 0 || *text == '\0') {
		tc_console_printf(stderr, "tcpchatd: usage: /msg ID TEXT");
		return;
	}
	m = server_message(room, text, strlen(text));
	if (m == NULL)
		return;
	if (tc_conntab_send_to(room->tab, id, m) == -1)
		tc_console_printf(stderr, "tcpchatd: /msg %u: %s", id,
		                  errno == ESRCH   ? "no such connection"
		                  : errno == EPIPE ? "connection is closing"
		                                   : "queue full, cut off");
	tc_msg_unref(m);
}

/* The name connection id has now, for the notice to the others. */
static int
name_of(struct tc_room *room, unsigned id, char name[TC_NAME_MAX])
{
	struct tc_conn_info *all;
	size_t n, i;
	int found = -1;

	all = tc_conntab_snapshot(room->tab, &n);
	for (i = 0; all != NULL && i < n && found == -1; i++)
		if (all[i].id == id) {
			memcpy(name, all[i].name, TC_NAME_MAX);
			found = 0;
		}
	free(all);
	return found;
}

static void
kick(struct tc_room *room, const char *args)
{
	const char *rest = NULL;
	unsigned id = parse_id(args, &rest);
	char name[TC_NAME_MAX];
	struct tc_msg *notice, *left;

	if (id == 0) {
		tc_console_printf(stderr, "tcpchatd: usage: /kick ID");
		return;
	}
	if (name_of(room, id, name) == -1) {
		tc_console_printf(stderr,
		                  "tcpchatd: /kick %u: no such "
		                  "connection",
		                  id);
		return;
	}
	notice = tc_proto_notice("you were kicked by %s", room->name);
	if (tc_conntab_close(room->tab, id, notice) == 0) {
		tc_console_printf(stderr, "tcpchatd: /kick %u: already closing",
		                  id);
	} else {
		tc_console_printf(stdout, "* %s was kicked", name);
		left = tc_proto_notice("%s was kicked", name);
		if (left != NULL)
			tc_conntab_broadcast(room->tab, NULL, left);
		tc_msg_unref(left);
	}
	tc_msg_unref(notice);
}

static void
show_help(struct tc_room *room)
{
	size_t i;

	tc_console_printf(stdout,
	                  "a line without '/' goes to every client as "
	                  "'%s: TEXT'",
	                  room->name);
	for (i = 0; operator_help[i] != NULL; i++)
		tc_console_printf(stdout, "%s", operator_help[i]);
}

static void
say_to_all(struct tc_room *room, const char *text, size_t len)
{
	struct tc_msg *m;

	if (len == 0)
		return;
	m = server_message(room, text, len);
	if (m == NULL)
		return;
	tc_conntab_broadcast(room->tab, NULL, m);
	tc_msg_unref(m);
}

enum tc_operator_result
tc_operator_line(struct tc_room *room, const char *line, size_t len)
{
	if (len == 0 || line[0] != '/' || (len > 1 && line[1] == '/')) {
		/* "//text" says "/text". */
		if (len > 1 && line[0] == '/')
			say_to_all(room, line + 1, len - 1);
		else
			say_to_all(room, line, len);
	} else if (strcmp(line, "/list") == 0) {
		list_connections(room);
	} else if (strncmp(line, "/msg ", 5) == 0) {
		private_message(room, line + 5);
	} else if (strncmp(line, "/kick ", 6) == 0) {
		kick(room, line + 6);
	} else if (strcmp(line, "/quit") == 0) {
		return TC_OPERATOR_QUIT;
	} else if (strcmp(line, "/help") == 0) {
		show_help(room);
	} else {
		tc_console_printf(stderr,
		                  "tcpchatd: unknown command '%.40s' (try "
		                  "/help)",
		                  line);
	}
	return TC_OPERATOR_DONE;
}
