/* operator: the server console's commands. A plain line goes to every
 * client as "SERVERNAME: TEXT"; /list shows the state table, /msg talks to
 * one client, /kick closes one from the server side, /ban closes one and
 * refuses its address (or a network) from then on, /unban and /bans look
 * after those rules, /quit asks for the graceful shutdown. It only queues
 * and prints: sessions do the I/O. */
#include "tcpchat/operator.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpchat/cidr.h"
#include "tcpchat/console.h"
#include "tcpchat/net.h"
#include "tcpchat/proto.h"
#include "tcpchat/trace.h"

/* /bans lists a rules file's rules one by one up to this many; more are
 * one line (a file of 10,000 addresses would bury the console). */
#define BANS_LIST_MAX 10

static const char *const operator_help[] = {
    "/list               show every connection",
    "/msg ID|NICK TEXT   send TEXT to that connection only",
    "/kick ID|NICK       close that connection from the server side",
    "/ban ID|NICK|CIDR   kick, and refuse that address (or network) from "
    "now on",
    "/unban CIDR         remove a ban (deny rule)",
    "/bans               show the access rules",
    "/quit               shut down gracefully (as SIGINT and SIGTERM do)",
    "//text              send a line beginning with '/'",
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

/* /list: one row per connection, 98 columns for an IPv4 peer. PHASE is
 * what the server is doing with it, TCP what the kernel says of its
 * socket; a name longer than its column is cut, marked with '~' (/who
 * shows it whole). */
static void
list_connections(struct tc_room *room)
{
	char name[17], in[32], out[32];
	struct tc_conn_info *all;
	unsigned parked;
	size_t n, i;

	all = tc_conntab_snapshot_fd(room->tab, &n, tc_trace_tcp_state);
	if (all == NULL) {
		tc_console_printf(stderr, "tcpchatd: /list: %s",
		                  strerror(errno));
		return;
	}
	parked = tc_pool_parked(room->pool);
	/* Parked threads serve no one: they wait for the next connections. */
	tc_console_printf(stdout, "%zu connection%s; %u thread%s parked", n,
	                  n == 1 ? "" : "s", parked, parked == 1 ? "" : "s");
	tc_console_printf(stdout, "%4s %-21s %-16s %-11s %-11s %11s %11s %6s",
	                  "ID", "PEER", "NAME", "PHASE", "TCP", "IN b/msg",
	                  "OUT b/msg", "QUEUED");
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s", all[i].name);
		if (strlen(all[i].name) >= sizeof(name))
			name[sizeof(name) - 2] = '~';
		snprintf(in, sizeof(in), "%llu/%llu",
		         (unsigned long long)all[i].bytes_in,
		         (unsigned long long)all[i].msgs_in);
		snprintf(out, sizeof(out), "%llu/%llu",
		         (unsigned long long)all[i].bytes_out,
		         (unsigned long long)all[i].msgs_out);
		tc_console_printf(
		    stdout, "%4u %-21s %-16s %-11s %-11.11s %11s %11s %6zu",
		    all[i].id, all[i].peer, name, tc_phase_name(all[i].phase),
		    all[i].fd_info, in, out, all[i].queued);
	}
	free(all);
}

/* Splits the first word off args into word (cut to len - 1 bytes);
 * *rest gets what follows it and the spaces after. */
static void
first_word(const char *args, char *word, size_t len, const char **rest)
{
	size_t n = strcspn(args, " ");

	snprintf(word, len, "%.*s", (int)n, args);
	args += n;
	while (*args == ' ')
		args++;
	*rest = args;
}

/* A connection id: decimal digits only, not 0. Returns it, or 0. */
static unsigned
parse_id(const char *s)
{
	unsigned long id;
	char *end;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	id = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || id > 0xffffffffUL)
		return 0;
	return (unsigned)id;
}

/* Names compare as the table compares them: ASCII case folded. */
static bool
same_name(const char *a, const char *b)
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

/* The connection the console means by ID or NICK (digits are an id), for
 * /msg, /kick and /ban. Returns 0 with a copy of its entry, or -1. */
static int
find_conn(struct tc_room *room, const char *who, struct tc_conn_info *out)
{
	unsigned id = parse_id(who);
	struct tc_conn_info *all;
	size_t n, i;
	int found = -1;

	all = tc_conntab_snapshot(room->tab, &n);
	for (i = 0; all != NULL && i < n && found == -1; i++)
		if (id != 0 ? all[i].id == id : same_name(all[i].name, who)) {
			*out = all[i];
			found = 0;
		}
	free(all);
	return found;
}

/* "tcpchatd: /kick bob: no such connection or nick". */
static void
no_such(const char *cmd, const char *who)
{
	tc_console_printf(stderr, "tcpchatd: %s %s: no such connection or nick",
	                  cmd, who);
}

/* The address of a table entry, from its peer name ("IP:PORT",
 * "[IPv6%scope]:PORT", as the session formatted the accepted address).
 * Returns 0, or -1 when the kernel could not tell it ("?"). */
static int
peer_net(const char *peer, struct tc_cidr *out)
{
	char host[TC_PEER_MAX], err[TC_CIDR_STR_MAX + 64];
	const char *colon = strrchr(peer, ':');
	size_t n;

	if (colon == NULL)
		return -1;
	n = (size_t)(colon - peer);
	if (peer[0] == '[' && n >= 2 && peer[n - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(n - 2), peer + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)n, peer);
	host[strcspn(host, "%")] = '\0'; /* a zone is no part of a rule */
	return tc_cidr_parse(host, out, err, sizeof(err));
}

static void
private_message(struct tc_room *room, const char *args)
{
	char who[TC_NAME_MAX];
	struct tc_conn_info c;
	const char *text;
	struct tc_msg *m;

	first_word(args, who, sizeof(who), &text);
	if (who[0] == '\0' || *text == '\0') {
		tc_console_printf(stderr, "tcpchatd: usage: /msg ID|NICK TEXT");
		return;
	}
	if (find_conn(room, who, &c) == -1) {
		no_such("/msg", who);
		return;
	}
	m = tc_proto_private(room->name, text, strlen(text));
	if (m == NULL) {
		tc_console_printf(stderr, "tcpchatd: /msg %s: %s", who,
		                  strerror(errno));
		return;
	}
	if (tc_conntab_send_to(room->tab, c.id, m) == -1)
		tc_console_printf(stderr, "tcpchatd: /msg %s: %s", who,
		                  errno == ESRCH   ? "no such connection"
		                  : errno == EPIPE ? "connection is closing"
		                                   : "queue full, cut off");
	else
		tc_console_printf(stdout, "* to %s (private): %s", c.name,
		                  text);
	tc_msg_unref(m);
}

/* Closes c from the server side with "* you were VERB by SERVER", and
 * tells the console and the others "* NAME was VERB". False when it was
 * closing already. */
static bool
close_conn(struct tc_room *room, const struct tc_conn_info *c, const char *verb)
{
	struct tc_msg *notice, *left;
	size_t closed;

	notice = tc_proto_notice("you were %s by %s", verb, room->name);
	closed = tc_conntab_close(room->tab, c->id, notice);
	tc_msg_unref(notice);
	if (closed == 0)
		return false;
	tc_console_printf(stdout, "* %s was %s", c->name, verb);
	left = tc_proto_notice("%s was %s", c->name, verb);
	if (left != NULL)
		tc_conntab_broadcast(room->tab, NULL, left);
	tc_msg_unref(left);
	return true;
}

static void
kick(struct tc_room *room, const char *args)
{
	char who[TC_NAME_MAX];
	struct tc_conn_info c;
	const char *rest;

	first_word(args, who, sizeof(who), &rest);
	if (who[0] == '\0' || *rest != '\0') {
		tc_console_printf(stderr, "tcpchatd: usage: /kick ID|NICK");
		return;
	}
	if (find_conn(room, who, &c) == -1)
		no_such("/kick", who);
	else if (!close_conn(room, &c, "kicked"))
		tc_console_printf(stderr, "tcpchatd: /kick %s: already closing",
		                  who);
}

/* Adds a deny rule from the console; an existing one is fine. */
static int
add_ban(struct tc_room *room, const struct tc_cidr *net)
{
	char text[TC_CIDR_STR_MAX];

	if (tc_cidr_set_add(room->rules, TC_CIDR_DENY, net,
	                    TC_CIDR_FROM_CONSOLE) == 0 ||
	    errno == EEXIST)
		return 0;
	tc_console_printf(stderr, "tcpchatd: /ban %s: %s",
	                  tc_cidr_format(net, text), strerror(errno));
	return -1;
}

/* /ban ID|NICK: that connection's address, then the kick. */
static void
ban_conn(struct tc_room *room, const struct tc_conn_info *c)
{
	char text[TC_CIDR_STR_MAX];
	struct tc_cidr net;

	if (peer_net(c->peer, &net) == -1) {
		tc_console_printf(stderr,
		                  "tcpchatd: /ban %u: its address is "
		                  "unknown",
		                  c->id);
		return;
	}
	if (add_ban(room, &net) == -1)
		return;
	tc_console_printf(stdout, "* banned %s", tc_cidr_format(&net, text));
	(void)close_conn(room, c, "banned");
}

/* /ban CIDR: the rule, then every connection it covers is closed. */
static void
ban_net(struct tc_room *room, const struct tc_cidr *net)
{
	char text[TC_CIDR_STR_MAX];
	struct tc_conn_info *all;
	struct tc_cidr addr;
	size_t n, i, closed = 0;

	if (add_ban(room, net) == -1)
		return;
	all = tc_conntab_snapshot(room->tab, &n);
	for (i = 0; all != NULL && i < n; i++)
		if (peer_net(all[i].peer, &addr) == 0 &&
		    tc_cidr_contains(net, &addr) &&
		    close_conn(room, &all[i], "banned"))
			closed++;
	free(all);
	tc_console_printf(stdout, "* banned %s: %zu connection%s closed",
	                  tc_cidr_format(net, text), closed,
	                  closed == 1 ? "" : "s");
}

/* Digits are an id; what parses as a network is one (so a nick that
 * looks like an address is banned by its id); else a nick. */
static void
ban(struct tc_room *room, const char *args)
{
	char who[TC_CIDR_STR_MAX + TC_NAME_MAX], err[TC_ERR_MAX];
	struct tc_conn_info c;
	struct tc_cidr net;
	const char *rest;

	first_word(args, who, sizeof(who), &rest);
	if (who[0] == '\0' || *rest != '\0') {
		tc_console_printf(stderr, "tcpchatd: usage: /ban ID|NICK|CIDR");
		return;
	}
	if (parse_id(who) == 0 &&
	    tc_cidr_parse(who, &net, err, sizeof(err)) == 0)
		ban_net(room, &net);
	else if (find_conn(room, who, &c) == 0)
		ban_conn(room, &c);
	else if (parse_id(who) != 0)
		no_such("/ban", who);
	else
		tc_console_printf(stderr,
		                  "tcpchatd: /ban %s: no such connection or "
		                  "nick, and %s",
		                  who, err);
}

/* /unban takes any deny rule away, also one from the command line or a
 * file: the console is in charge while the server runs. It says where
 * the rule came from, since such a rule is back at the next start. */
static void
unban(struct tc_room *room, const char *args)
{
	char err[TC_ERR_MAX], text[TC_CIDR_STR_MAX];
	enum tc_cidr_origin origin;
	struct tc_cidr net;

	if (*args == '\0' || strchr(args, ' ') != NULL) {
		tc_console_printf(stderr, "tcpchatd: usage: /unban CIDR");
		return;
	}
	if (tc_cidr_parse(args, &net, err, sizeof(err)) == -1) {
		tc_console_printf(stderr, "tcpchatd: /unban: %s", err);
		return;
	}
	tc_cidr_format(&net, text);
	if (tc_cidr_set_remove(room->rules, TC_CIDR_DENY, &net, &origin) ==
	    -1) {
		tc_console_printf(stderr, "tcpchatd: /unban %s: no such ban",
		                  text);
		return;
	}
	tc_console_printf(stdout, "* unbanned %s%s", text,
	                  origin == TC_CIDR_FROM_CONSOLE
	                      ? ""
	                      : " (a rule given at start: it is back at the "
	                        "next start)");
}

/* How many rules from r on came from the same file, of the same kind. */
static size_t
file_run(const struct tc_cidr_rule *r, size_t left)
{
	size_t n = 1;

	while (n < left && r[n].origin == TC_CIDR_FROM_FILE &&
	       r[n].kind == r->kind && strcmp(r[n].file, r->file) == 0)
		n++;
	return n;
}

static const char *
kind_name(enum tc_cidr_kind kind)
{
	return kind == TC_CIDR_DENY ? "deny" : "allow";
}

static void
show_rule(const struct tc_cidr_rule *r)
{
	char text[TC_CIDR_STR_MAX], from[300];

	tc_cidr_format(&r->net, text);
	tc_cidr_rule_origin_str(r, from, sizeof(from));
	tc_console_printf(stdout, "%-5s %-43s %s", kind_name(r->kind), text,
	                  from);
}

/* Every rule, in the order added; a long run from one file in one line. */
static void
show_bans(struct tc_room *room)
{
	struct tc_cidr_rule *all;
	size_t n, i, run;

	all = tc_cidr_set_snapshot(room->rules, &n);
	if (all == NULL && n == 0 && errno == 0) {
		tc_console_printf(stdout, "no access rules: anyone may join");
		return;
	}
	if (all == NULL) {
		tc_console_printf(stderr, "tcpchatd: /bans: %s",
		                  strerror(errno));
		return;
	}
	tc_console_printf(stdout,
	                  "%zu access rule%s (deny wins; with an allow "
	                  "rule, only allowed peers join)",
	                  n, n == 1 ? "" : "s");
	tc_console_printf(stdout, "%-5s %-43s %s", "KIND", "NETWORK", "FROM");
	for (i = 0; i < n; i += run) {
		run = all[i].origin == TC_CIDR_FROM_FILE
		          ? file_run(&all[i], n - i)
		          : 1;
		if (run > BANS_LIST_MAX) {
			char count[32];

			snprintf(count, sizeof(count), "%zu rules", run);
			tc_console_printf(stdout, "%-5s %-43s %s",
			                  kind_name(all[i].kind), count,
			                  all[i].file);
			continue;
		}
		for (size_t j = 0; j < run; j++)
			show_rule(&all[i + j]);
	}
	free(all);
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
	} else if (strncmp(line, "/ban ", 5) == 0) {
		ban(room, line + 5);
	} else if (strncmp(line, "/unban ", 7) == 0) {
		unban(room, line + 7);
	} else if (strcmp(line, "/bans") == 0) {
		show_bans(room);
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
