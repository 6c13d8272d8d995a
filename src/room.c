/* room: what a line said in tcpchatd does, and the notices of who comes
 * and goes. Runs on the speaker's reader thread (and the acceptor's, for
 * joins); formats through proto and queues through conntab. */
#include "tcpchat/room.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcpchat/console.h"
#include "tcpchat/sanitize.h"

#define RELAY_BATCH 16384 /* chat bytes per broadcast message, at most */
#define TC_CROWD 100      /* joins and leaves are announced up to this many */

int
tc_room_init(struct tc_room *room)
{
	pthread_condattr_t attr;
	int rc;

	room->n_live = 0;
	rc = pthread_mutex_init(&room->live_lock, NULL);
	if (rc != 0)
		goto out;
	rc = pthread_condattr_init(&attr);
	if (rc == 0) {
		/* Monotonic, so that deadlines ignore the wall clock. */
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		rc = pthread_cond_init(&room->live_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (rc != 0)
		pthread_mutex_destroy(&room->live_lock);
out:
	errno = rc;
	return rc == 0 ? 0 : -1;
}

void
tc_room_fini(struct tc_room *room)
{
	pthread_cond_destroy(&room->live_cond);
	pthread_mutex_destroy(&room->live_lock);
}

void
tc_room_enter(struct tc_room *room)
{
	pthread_mutex_lock(&room->live_lock);
	room->n_live++;
	pthread_mutex_unlock(&room->live_lock);
}

void
tc_room_exit(struct tc_room *room)
{
	pthread_mutex_lock(&room->live_lock);
	if (--room->n_live == 0)
		pthread_cond_broadcast(&room->live_cond);
	pthread_mutex_unlock(&room->live_lock);
}

size_t
tc_room_wait_empty(struct tc_room *room, int64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = deadline_ns / 1000000000,
	                      .tv_nsec = deadline_ns % 1000000000};
	size_t left;
	int rc = 0;

	pthread_mutex_lock(&room->live_lock);
	while (room->n_live > 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&room->live_cond, &room->live_lock,
		                            &ts);
	left = room->n_live;
	pthread_mutex_unlock(&room->live_lock);
	return left;
}

/* Queues m (NULL is ignored) for this member only and drops the caller's
 * reference; a queue over its limit cuts the member off. */
static void
tell(struct tc_member *mb, struct tc_msg *m)
{
	if (m == NULL)
		return;
	if (tc_outq_push(mb->q, m) == -1 && errno == ENOBUFS)
		tc_conn_move(mb->conn, TC_PHASE_ABORTED, NULL);
	tc_msg_unref(m);
}

/* What kind of notice: decides who sees it. */
enum notice_kind {
	NOTICE_CHAT,     /* chat traffic: off the console with -q */
	NOTICE_PRESENCE, /* a join or a leave: chat, and not told to a crowd */
	NOTICE_ALERT,    /* always on the console */
};

/* Sends "* TEXT" to every other member and shows it on the console.
 * Joins and leaves reach the clients only while at most TC_CROWD are
 * connected: past that, N joins would cost N^2 messages (IRC clients hide
 * them in large channels for the same reason). */
static void notice_others(struct tc_room *room, struct tc_member *mb,
                          enum notice_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
notice_others(struct tc_room *room, struct tc_member *mb, enum notice_kind kind,
              const char *fmt, ...)
{
	char text[512];
	struct tc_msg *m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (kind == NOTICE_ALERT || !room->quiet)
		tc_console_printf(stdout, "* %s", text);
	if (kind == NOTICE_PRESENCE && tc_conntab_count(room->tab) > TC_CROWD)
		return;
	m = tc_proto_notice("%s", text);
	if (m == NULL)
		return;
	tc_conntab_broadcast(room->tab, mb->conn, m);
	tc_msg_unref(m);
}

/* Escapes untrusted bytes for a notice; returns buf. */
static const char *
escape(const char *src, size_t len, char *buf, size_t cap)
{
	if (TC_SANITIZE_BOUND(len) > cap)
		len = (cap - 1) / 4;
	tc_sanitize(buf, src, len);
	return buf;
}

void
tc_room_welcome(struct tc_room *room, struct tc_outq *q, const char *peer)
{
	struct tc_msg *m;

	m = tc_proto_notice("welcome, you are %s (%zu online); /help lists "
	                    "commands",
	                    peer, tc_conntab_count(room->tab) + 2);
	if (m != NULL)
		tc_outq_push(q, m);
	tc_msg_unref(m);
}

void
tc_room_joined(struct tc_room *room, struct tc_member *m)
{
	notice_others(room, m, NOTICE_PRESENCE, "%s joined",
	              tc_conn_name(m->conn));
}

void
tc_room_left(struct tc_room *room, struct tc_member *m, const char *why,
             bool alert)
{
	const char *name = tc_conn_name(m->conn);

	if (why == NULL)
		notice_others(room, m, NOTICE_PRESENCE, "%s left", name);
	else
		notice_others(room, m, alert ? NOTICE_ALERT : NOTICE_PRESENCE,
		              "%s left (%s)", name, why);
}

/* ---- chat lines ---- */

static int
grow_relay(struct tc_member *m, size_t need)
{
	char *p;

	if (need <= m->relay_cap)
		return 0;
	p = realloc(m->relay, need);
	if (p == NULL)
		return -1;
	m->relay = p;
	m->relay_cap = need;
	return 0;
}

void
tc_room_flush(struct tc_room *room, struct tc_member *m)
{
	struct tc_msg *msg;

	if (m->relay_len == 0)
		return;
	msg = tc_msg_new(m->relay, m->relay_len);
	m->relay_len = 0;
	if (msg == NULL)
		return;
	tc_conntab_broadcast(room->tab, m->conn, msg);
	tc_msg_unref(msg);
}

/* Formats one chat line (escaped) into the pending batch, which goes out at
 * the end of the received chunk, before any command, or when it is big. */
static void
relay_text(struct tc_room *room, struct tc_member *m, const char *text,
           size_t len)
{
	const char *name = tc_conn_name(m->conn);
	size_t name_len = strlen(name), n;
	char *line;

	if (len == 0)
		return; /* an empty line says nothing: not relayed */
	if (grow_relay(m, m->relay_len + tc_proto_msg_bound(name_len, len)) ==
	    -1)
		return;
	line = m->relay + m->relay_len;
	n = tc_proto_format_msg(line, name, name_len, text, len);
	if (!room->quiet)
		tc_console_printf(stdout, "%.*s", (int)(n - 1), line);
	m->relay_len += n;
	if (m->relay_len >= RELAY_BATCH)
		tc_room_flush(room, m);
}

/* ---- commands ---- */

static void
do_nick(struct tc_room *room, struct tc_member *m, const char *arg, size_t len)
{
	char name[TC_NAME_MAX], old[TC_NAME_MAX], shown[TC_NAME_MAX * 4 + 1];

	if (!tc_proto_nick_valid(arg, len)) {
		tell(m,
		     tc_proto_notice("error: invalid nick '%s' (1-32 of "
		                     "A-Za-z0-9._-)",
		                     escape(arg, len, shown, sizeof(shown))));
		return;
	}
	memcpy(name, arg, len);
	name[len] = '\0';
	if (tc_conntab_rename(room->tab, m->conn, name, old) == -1) {
		tell(m, tc_proto_notice("error: nick '%s' is in use", name));
		return;
	}
	tell(m, tc_proto_notice("you are now %s", name));
	notice_others(room, m, NOTICE_CHAT, "%s is now %s", old, name);
}

/* "* N online: server, a, b": who is in the room. Someone half-closed or
 * being closed has been told to the others as gone, so is not listed. */
static void
do_who(struct tc_room *room, struct tc_member *m)
{
	struct tc_conn_info *all;
	size_t n, i, cap, used, online = 1;
	char *list;

	all = tc_conntab_snapshot(room->tab, &n);
	if (all == NULL)
		return;
	/* Every name is shorter than TC_NAME_MAX: the list fits in cap. */
	cap = 32 + strlen(room->name) + n * (TC_NAME_MAX + 2);
	list = malloc(cap);
	if (list != NULL) {
		used = (size_t)snprintf(list, cap, "%s", room->name);
		for (i = 0; i < n; i++) {
			if (all[i].phase != TC_PHASE_OPEN)
				continue;
			used += (size_t)snprintf(list + used, cap - used,
			                         ", %s", all[i].name);
			online++;
		}
		tell(m, tc_proto_notice("%zu online: %s", online, list));
		free(list);
	}
	free(all);
}

/* Delivers a private message to nick: the server's own participant (its
 * console), or an open connection. False when there is no such nick. */
static bool
deliver_private(struct tc_room *room, const char *nick, struct tc_msg *msg)
{
	unsigned id;

	if (tc_proto_nick_eq(nick, room->name)) {
		tc_console_printf(stdout, "%.*s", (int)tc_msg_len(msg) - 1,
		                  tc_msg_data(msg));
		return true;
	}
	id = tc_conntab_find_name(room->tab, nick);
	/* A connection closing or cut meanwhile is no longer there. */
	return id != 0 && tc_conntab_send_to(room->tab, id, msg) == 0;
}

/* "/msg NICK TEXT": TEXT to NICK alone, confirmed to the sender. Private
 * lines between clients are not shown on the console. */
static void
do_msg(struct tc_room *room, struct tc_member *m, const struct tc_cmd *cmd)
{
	char nick[TC_NICK_MAX * 4 + 1];
	struct tc_msg *msg;
	bool sent = false;

	if (cmd->arg_len == 0 || cmd->text_len == 0) {
		tell(m, tc_proto_notice("error: usage: /msg NICK TEXT"));
		return;
	}
	escape(cmd->arg, cmd->arg_len, nick, sizeof(nick));
	if (tc_proto_nick_valid(cmd->arg, cmd->arg_len)) {
		msg = tc_proto_private(tc_conn_name(m->conn), cmd->text,
		                       cmd->text_len);
		sent = msg != NULL && deliver_private(room, nick, msg);
		tc_msg_unref(msg);
	}
	tell(m, sent ? tc_proto_notice("to %s (private): %.*s", nick,
	                               (int)cmd->text_len, cmd->text)
	             : tc_proto_notice("error: no such nick '%s'", nick));
}

static void
do_help(struct tc_member *m)
{
	for (size_t i = 0; tc_proto_client_help[i] != NULL; i++)
		tell(m, tc_proto_notice("%s", tc_proto_client_help[i]));
}

void
tc_room_hear(struct tc_room *room, struct tc_member *m,
             const struct tc_cmd *cmd)
{
	char shown[256];

	if (cmd->kind == TC_CMD_TEXT) {
		relay_text(room, m, cmd->arg, cmd->arg_len);
		return;
	}
	tc_room_flush(room, m); /* what was said before a command goes first */
	switch (cmd->kind) {
	case TC_CMD_NICK:
		do_nick(room, m, cmd->arg, cmd->arg_len);
		break;
	case TC_CMD_WHO:
		do_who(room, m);
		break;
	case TC_CMD_HELP:
		do_help(m);
		break;
	case TC_CMD_MSG:
		do_msg(room, m, cmd);
		break;
	case TC_CMD_TEXT:
	case TC_CMD_EXIT:
	case TC_CMD_UNKNOWN:
		tell(m,
		     tc_proto_notice(
		         "error: unknown command '%s' (try /help)",
		         escape(cmd->arg, cmd->arg_len, shown, sizeof(shown))));
		break;
	}
}

void
tc_room_member_fini(struct tc_member *m)
{
	free(m->relay);
	m->relay = NULL;
	m->relay_len = m->relay_cap = 0;
}
