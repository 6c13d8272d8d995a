/* trace: the --trace lines that let a class follow TCP's four-way close.
 * Each line has a wall-clock time, names an event and the TCP state the
 * kernel reports right after it (TCP_INFO, or the kernel's connection
 * table once the socket is closed). While the connection closes, its state
 * is sampled and each change is told; the events are recorded and drawn
 * as a ladder at the end (ladder.c draws). It reports, never guesses: a
 * state that lasted microseconds may already be gone when it asks. */
#include "tcpchat/trace.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcpchat/ladder.h"
#include "tcpchat/net.h"

#define NAME_MAX_LEN 32
#define TAG_MAX (TC_ADDR_STR_MAX + NAME_MAX_LEN + 24)
#define LINE_MAX_LEN 640

/* Set once by tc_trace_setup() before any thread starts; read-only after. */
static bool trace_on;
static tc_trace_sink_fn *trace_sink;

struct tc_trace_live {
	/* Held across each call's reading, stamp and lines, so that two
	 * threads' lines leave in the order of their stamps. Taken before
	 * lock; held while a line is emitted. */
	pthread_mutex_t order;
	/* Guards everything below. Held while a state is read and recorded,
	 * so that two threads' readings are compared in the order they were
	 * made (getsockopt and a sock_diag query answer at once, they do not
	 * wait on the network); never held while a line is emitted. */
	pthread_mutex_t lock;
	/* The close has begun (a FIN either way, or "exit"): sample. Written
	 * under the lock; tc_trace_poll() reads it without. */
	atomic_bool closing;
	bool server;    /* set by tc_trace_accepted(): names the rails */
	int last_state; /* the state last recorded; -1: none yet */
	bool fin_out;   /* our FIN is on the ladder */
	bool fin_in;    /* the peer's FIN is on the ladder */
	char peer_str[TC_ADDR_STR_MAX];
	char tag[TAG_MAX]; /* "conn 3 [10.0.0.7:51234 alice]: ", or "" */
	struct tc_ladder ladder;
};

void
tc_trace_setup(bool enabled, tc_trace_sink_fn *sink)
{
	trace_on = enabled;
	trace_sink = sink;
	/* localtime_r() need not read TZ itself. */
	tzset();
}

bool
tc_trace_enabled(void)
{
	return trace_on;
}

char *
tc_trace_format_time(const struct timespec *ts, char buf[TC_TRACE_TIME_MAX])
{
	struct tm tm;
	time_t secs = ts->tv_sec;

	if (localtime_r(&secs, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, TC_TRACE_TIME_MAX, "%02u:%02u:%02u.%06lu",
	         (unsigned)tm.tm_hour % 24u, (unsigned)tm.tm_min % 60u,
	         (unsigned)tm.tm_sec % 61u,
	         (unsigned long)(ts->tv_nsec / 1000) % 1000000ul);
	return buf;
}

static void
now_str(char buf[TC_TRACE_TIME_MAX])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	tc_trace_format_time(&ts, buf);
}

static const char *
state_name(int state)
{
	/* Linux's numbering, include/net/tcp_states.h. */
	static const char *const names[] = {
	    [TCP_ESTABLISHED] = "ESTABLISHED",
	    [TCP_SYN_SENT] = "SYN_SENT",
	    [TCP_SYN_RECV] = "SYN_RECV",
	    [TCP_FIN_WAIT1] = "FIN_WAIT1",
	    [TCP_FIN_WAIT2] = "FIN_WAIT2",
	    [TCP_TIME_WAIT] = "TIME_WAIT",
	    [TCP_CLOSE] = "CLOSED",
	    [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	    [TCP_LAST_ACK] = "LAST_ACK",
	    [TCP_LISTEN] = "LISTEN",
	    [TCP_CLOSING] = "CLOSING",
	};

	if (state >= 0 && (size_t)state < sizeof(names) / sizeof(names[0]) &&
	    names[state])
		return names[state];
	return "UNKNOWN";
}

/* fd's tcpi_state, or -1 with errno. */
static int
socket_state(int fd)
{
	struct tcp_info ti;
	socklen_t ti_len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &ti_len) == -1)
		return -1;
	return ti.tcpi_state;
}

const char *
tc_trace_tcp_state(int fd, char *buf, size_t len)
{
	int state = socket_state(fd);

	if (state < 0)
		snprintf(buf, len, "unknown: %s", strerror(errno));
	else
		snprintf(buf, len, "%s", state_name(state));
	return buf;
}

/* Fills one side of a sock_diag id from an address; IPv4-mapped IPv6 is
 * looked up as IPv4, the way the kernel hashes it. Returns the family. */
static int
diag_side(const struct sockaddr_storage *ss, __be16 *port, __be32 addr[4])
{
	const struct sockaddr_in *in = (const void *)ss;
	const struct sockaddr_in6 *in6 = (const void *)ss;

	memset(addr, 0, 16);
	if (ss->ss_family == AF_INET) {
		*port = in->sin_port;
		memcpy(addr, &in->sin_addr, 4);
		return AF_INET;
	}
	*port = in6->sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		memcpy(addr, &in6->sin6_addr.s6_addr[12], 4);
		return AF_INET;
	}
	memcpy(addr, &in6->sin6_addr, 16);
	return AF_INET6;
}

/* Asks the kernel for one connection by its exact tuple; the state, or -1
 * when it has none (already gone) or cannot say. */
static int
diag_lookup(const struct sockaddr_storage *local,
            const struct sockaddr_storage *peer)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 req;
	} msg;
	union {
		struct nlmsghdr nh;
		char buf[1024];
	} reply;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int fd, state = -1;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.nh.nlmsg_len = sizeof(msg);
	msg.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nh.nlmsg_flags = NLM_F_REQUEST;
	msg.req.sdiag_family = (__u8)diag_side(local, &msg.req.id.idiag_sport,
	                                       msg.req.id.idiag_src);
	diag_side(peer, &msg.req.id.idiag_dport, msg.req.id.idiag_dst);
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0u;
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd == -1)
		return -1;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel,
	           sizeof(kernel)) == (ssize_t)sizeof(msg)) {
		n = recv(fd, &reply, sizeof(reply), 0);
		if (n >=
		        (ssize_t)(NLMSG_LENGTH(sizeof(struct inet_diag_msg))) &&
		    reply.nh.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
			struct inet_diag_msg *dm = NLMSG_DATA(&reply.nh);

			/* A lookup that misses falls back to the listening
			 * socket: only the exact tuple counts. */
			if (dm->id.idiag_dport == msg.req.id.idiag_dport &&
			    dm->id.idiag_sport == msg.req.id.idiag_sport)
				state = dm->idiag_state;
		}
	}
	close(fd);
	return state;
}

const char *
tc_trace_tuple_state(const struct sockaddr_storage *local,
                     const struct sockaddr_storage *peer, char *buf, size_t len)
{
	int state = diag_lookup(local, peer);

	if (state < 0)
		return NULL;
	snprintf(buf, len, "%s", state_name(state));
	return buf;
}

/* ---- reading the state ---- */

/* What the kernel said about the connection at one moment. */
struct reading {
	int own;   /* the socket's state; -1: fd closed; -2: unreadable */
	int err;   /* why own is -2 */
	int table; /* the tuple's state in the kernel's table; -1: none */
};

/* Asks the socket and, where it says CLOSED or is closed, the kernel's
 * table, which alone still holds a connection in TIME_WAIT. */
static void
read_state(const struct tc_trace_conn *tc, struct reading *r)
{
	r->own = -1;
	r->err = 0;
	r->table = -1;
	if (tc->fd >= 0) {
		r->own = socket_state(tc->fd);
		if (r->own < 0) {
			r->own = -2;
			r->err = errno;
		}
	}
	if ((r->own == -1 || r->own == TCP_CLOSE) && tc->known)
		r->table = diag_lookup(&tc->local, &tc->peer);
}

/* The one state the connection is in: the table's where it has one,
 * CLOSED once nothing is left; -1 when the socket cannot be asked. */
static int
effective_state(const struct reading *r)
{
	if (r->table >= 0)
		return r->table;
	if (r->own == -1)
		return TCP_CLOSE;
	return r->own >= 0 ? r->own : -1;
}

/* "ESTABLISHED", "CLOSED; kernel: TIME_WAIT", "socket closed", ... */
static void
describe_state(const struct reading *r, char *buf, size_t len)
{
	char own[64];

	if (r->own == -1)
		snprintf(own, sizeof(own), "socket closed");
	else if (r->own == -2)
		snprintf(own, sizeof(own), "unknown: %s", strerror(r->err));
	else
		snprintf(own, sizeof(own), "%s", state_name(r->own));
	if (r->table >= 0)
		snprintf(buf, len, "%s; kernel: %s", own, state_name(r->table));
	else
		snprintf(buf, len, "%s", own);
}

/* The state's name for the ladder's column ("" when unreadable). */
static const char *
ladder_state(const struct reading *r)
{
	int state = effective_state(r);

	return state < 0 ? "" : state_name(state);
}

/* ---- emitting lines ---- */

static void
emit(const char *text)
{
	if (trace_sink)
		trace_sink(text);
	else
		fprintf(stderr, "%s\n", text);
}

/* "TIME trace: TAG WHAT (tcp STATE)" */
static void
emit_line(const char *time, const char *tag, const char *what,
          const char *state)
{
	char line[LINE_MAX_LEN];

	snprintf(line, sizeof(line), "%s trace: %s%s (tcp %s)", time, tag, what,
	         state);
	emit(line);
}

/* The connection's tag for a line; only a conn with an id has one. */
static void
copy_tag(const struct tc_trace_conn *tc, char *buf, size_t len)
{
	if (tc->live != NULL) {
		pthread_mutex_lock(&tc->live->lock);
		snprintf(buf, len, "%s", tc->live->tag);
		pthread_mutex_unlock(&tc->live->lock);
	} else if (tc->id != 0) {
		snprintf(buf, len, "conn %u: ", tc->id);
	} else {
		buf[0] = '\0';
	}
}

/* Caller holds the lock. */
static void
build_tag(const struct tc_trace_conn *tc, const char *name)
{
	struct tc_trace_live *lv = tc->live;

	if (tc->id == 0)
		lv->tag[0] = '\0';
	else if (name != NULL && name[0] != '\0')
		snprintf(lv->tag, sizeof(lv->tag),
		         "conn %u [%s %.*s]: ", tc->id, lv->peer_str,
		         NAME_MAX_LEN - 1, name);
	else
		snprintf(lv->tag, sizeof(lv->tag), "conn %u [%s]: ", tc->id,
		         lv->peer_str);
}

/* Serialises tc's lines (see order); no-ops without tracing state. */
static void
order_lock(const struct tc_trace_conn *tc)
{
	if (tc->live != NULL)
		pthread_mutex_lock(&tc->live->order);
}

static void
order_unlock(const struct tc_trace_conn *tc)
{
	if (tc->live != NULL)
		pthread_mutex_unlock(&tc->live->order);
}

/* ---- the connection ---- */

static void
live_init(struct tc_trace_conn *tc)
{
	struct tc_trace_live *lv = calloc(1, sizeof(*lv));
	struct reading r;
	int rc;

	if (lv == NULL) {
		fprintf(stderr, "trace: conn %u: no sampling, no ladder: %s\n",
		        tc->id, strerror(errno));
		return;
	}
	rc = pthread_mutex_init(&lv->lock, NULL);
	if (rc == 0) {
		rc = pthread_mutex_init(&lv->order, NULL);
		if (rc != 0)
			pthread_mutex_destroy(&lv->lock);
	}
	if (rc != 0) {
		fprintf(stderr, "trace: conn %u: no sampling, no ladder: %s\n",
		        tc->id, strerror(rc));
		free(lv);
		return;
	}
	atomic_init(&lv->closing, false);
	tc->live = lv;
	if (tc->known)
		tc_net_addr_str((const struct sockaddr *)&tc->peer,
		                lv->peer_str);
	else
		snprintf(lv->peer_str, sizeof(lv->peer_str), "?");
	build_tag(tc, NULL);
	/* Only the server numbers its connections; accepted() and
	 * connected() say it for sure. */
	if (tc->id != 0)
		tc_ladder_init(&lv->ladder, "server", "client");
	else
		tc_ladder_init(&lv->ladder, "client", "server");
	read_state(tc, &r);
	lv->last_state = effective_state(&r);
}

void
tc_trace_conn_init(struct tc_trace_conn *tc, int fd, unsigned id)
{
	socklen_t len;

	memset(tc, 0, sizeof(*tc));
	tc->fd = fd;
	tc->id = id;
	if (!trace_on)
		return;
	len = sizeof(tc->local);
	if (getsockname(fd, (struct sockaddr *)&tc->local, &len) == 0) {
		len = sizeof(tc->peer);
		if (getpeername(fd, (struct sockaddr *)&tc->peer, &len) == 0)
			tc->known = true;
	}
	live_init(tc);
}

void
tc_trace_conn_fini(struct tc_trace_conn *tc)
{
	if (tc->live == NULL)
		return;
	pthread_mutex_destroy(&tc->live->order);
	pthread_mutex_destroy(&tc->live->lock);
	free(tc->live);
	tc->live = NULL;
}

void
tc_trace_set_name(struct tc_trace_conn *tc, const char *name)
{
	if (tc->live == NULL)
		return;
	pthread_mutex_lock(&tc->live->lock);
	build_tag(tc, name);
	pthread_mutex_unlock(&tc->live->lock);
}

/* The first line: both ends, this side named. */
static void
trace_start(struct tc_trace_conn *tc, bool server)
{
	char local[TC_ADDR_STR_MAX], peer[TC_ADDR_STR_MAX];

	if (!trace_on)
		return;
	if (tc->live != NULL) {
		pthread_mutex_lock(&tc->live->lock);
		tc_ladder_init(&tc->live->ladder, server ? "server" : "client",
		               server ? "client" : "server");
		pthread_mutex_unlock(&tc->live->lock);
	}
	if (tc->known) {
		tc_net_addr_str((const struct sockaddr *)&tc->local, local);
		tc_net_addr_str((const struct sockaddr *)&tc->peer, peer);
	} else {
		snprintf(local, sizeof(local), "?");
		snprintf(peer, sizeof(peer), "?");
	}
	if (server)
		tc_trace(tc, "accepted from %s on %s", peer, local);
	else
		tc_trace(tc, "connected to %s from %s", peer, local);
}

void
tc_trace_accepted(struct tc_trace_conn *tc)
{
	trace_start(tc, true);
}

void
tc_trace_connected(struct tc_trace_conn *tc)
{
	trace_start(tc, false);
}

void
tc_trace(const struct tc_trace_conn *tc, const char *fmt, ...)
{
	char what[256], state[128], tag[TAG_MAX], time[TC_TRACE_TIME_MAX];
	struct reading r;
	va_list ap;
	int saved = errno;

	if (!trace_on)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	order_lock(tc);
	/* Read the state first: it is what the step left behind. */
	read_state(tc, &r);
	now_str(time);
	describe_state(&r, state, sizeof(state));
	copy_tag(tc, tag, sizeof(tag));
	emit_line(time, tag, what, state);
	order_unlock(tc);
	errno = saved;
}

/* ---- the close: steps, samples, the ladder ---- */

/* What a change of state means, told in a line and drawn on the ladder.
 * Only the changes of a close are listed; any other is reported as it is.
 */
struct transition {
	int from, to;
	enum tc_ladder_kind kind;
	const char *label; /* on the arrow */
	const char *says;  /* the line */
	/* A change that took two segments: the second arrow, the other
	 * way (NULL: none). */
	const char *label2;
};

static const struct transition transitions[] = {
    {TCP_ESTABLISHED, TCP_FIN_WAIT1, TC_LADDER_OUT, "FIN",
     "our FIN is on its way, not yet acknowledged", NULL},
    {TCP_ESTABLISHED, TCP_CLOSE_WAIT, TC_LADDER_IN, "FIN",
     "the peer's FIN arrived: it sends no more, we still may", NULL},
    {TCP_ESTABLISHED, TCP_FIN_WAIT2, TC_LADDER_OUT, "FIN",
     "our FIN went out and was acknowledged: the peer may still send", "ACK"},
    {TCP_ESTABLISHED, TCP_LAST_ACK, TC_LADDER_IN, "FIN",
     "the peer's FIN arrived, and ours is on its way", "FIN"},
    {TCP_FIN_WAIT1, TCP_FIN_WAIT2, TC_LADDER_IN, "ACK",
     "our FIN was acknowledged: the peer may still send", NULL},
    {TCP_FIN_WAIT1, TCP_CLOSING, TC_LADDER_IN, "FIN",
     "the peer's FIN crossed ours: both sides close at once", NULL},
    {TCP_FIN_WAIT1, TCP_TIME_WAIT, TC_LADDER_IN, "ACK, FIN",
     "the peer acknowledged our FIN and sent its own", NULL},
    {TCP_FIN_WAIT2, TCP_TIME_WAIT, TC_LADDER_IN, "FIN",
     "the peer's FIN arrived and we acknowledged it; TIME_WAIT keeps "
     "the connection a minute for stray segments",
     NULL},
    {TCP_CLOSING, TCP_TIME_WAIT, TC_LADDER_IN, "ACK",
     "our FIN was acknowledged", NULL},
    {TCP_CLOSE_WAIT, TCP_LAST_ACK, TC_LADDER_OUT, "FIN",
     "our FIN is on its way: waiting for its acknowledgement", NULL},
    {TCP_LAST_ACK, TCP_CLOSE, TC_LADDER_IN, "ACK",
     "the peer acknowledged our FIN: the connection is over", NULL},
    {TCP_TIME_WAIT, TCP_CLOSE, TC_LADDER_NOTE, "TIME_WAIT over",
     "TIME_WAIT is over: the kernel has forgotten the connection", NULL},
};

/* Fills t for from -> to; says is written to buf when it must be built.
 * our_fin: our FIN went out before (what a CLOSE_WAIT -> CLOSED means). */
static void
explain(int from, int to, bool our_fin, struct transition *t, char *buf,
        size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
		if (transitions[i].from == from && transitions[i].to == to) {
			*t = transitions[i];
			return;
		}
	}
	memset(t, 0, sizeof(*t));
	t->from = from;
	t->to = to;
	t->kind = TC_LADDER_NOTE;
	if (to == TCP_CLOSE && from == TCP_CLOSE_WAIT && our_fin) {
		t->kind = TC_LADDER_IN;
		t->label = "ACK";
		t->says = "our FIN was acknowledged: the connection is over";
		return;
	}
	if (to == TCP_CLOSE && from == TCP_CLOSE_WAIT) {
		/* close() sends the FIN itself, or a reset if data was
		 * left unread: both are gone before the next reading. */
		t->label = "closed";
		t->says = "the connection is over: our FIN and its ACK, or a "
		          "reset, came and went between two readings";
		return;
	}
	if (to == TCP_CLOSE) {
		/* No orderly path leads here from these states. */
		t->label = "cut short";
		t->says = "the connection was cut short: a reset, or a "
		          "timeout";
		return;
	}
	snprintf(buf, len, "the kernel now reports %s (was %s)", state_name(to),
	         state_name(from));
	t->label = "";
	t->says = buf;
}

/* Draws an event on the ladder, a FIN once per direction: a sampled
 * change and the program's own step may both see the same FIN, and the
 * second becomes a plain row with the state. Caller holds the lock. */
static void
record(struct tc_trace_live *lv, enum tc_ladder_kind kind, const char *label,
       const char *time, const char *state)
{
	bool *drawn = kind == TC_LADDER_OUT ? &lv->fin_out : &lv->fin_in;

	if (kind != TC_LADDER_NOTE && strstr(label, "FIN") != NULL) {
		if (*drawn) {
			kind = TC_LADDER_NOTE;
			label = "";
		}
		*drawn = true;
	}
	tc_ladder_add(&lv->ladder, kind, time, label, state);
}

/* From the first FIN either way, or "exit", the state is sampled. */
static void
note_closing(struct tc_trace_live *lv, int state)
{
	if (state > 0 && state != TCP_ESTABLISHED && state != TCP_SYN_SENT &&
	    state != TCP_SYN_RECV)
		atomic_store(&lv->closing, true);
}

/* A change of state to tell: the line's words. */
struct change {
	bool seen;
	char says[128];
};

/* Compares the reading with the last state recorded and, on a change,
 * records what it means (one or two rows) and fills ch for the line. A
 * reading is taken once, after an event, so the change it shows may have
 * come before or with that event: the caller decides the rows' order.
 * Caller holds the lock. */
static void
catch_up(struct tc_trace_live *lv, const struct reading *r, const char *time,
         struct change *ch)
{
	char buf[96];
	struct transition t;
	int now = effective_state(r);

	ch->seen = false;
	if (now < 0 || now == lv->last_state)
		return;
	explain(lv->last_state, now, lv->fin_out, &t, buf, sizeof(buf));
	lv->last_state = now;
	note_closing(lv, now);
	record(lv, t.kind, t.label, time, state_name(now));
	if (t.label2 != NULL)
		record(lv,
		       t.kind == TC_LADDER_IN ? TC_LADDER_OUT : TC_LADDER_IN,
		       t.label2, time, state_name(now));
	ch->seen = true;
	snprintf(ch->says, sizeof(ch->says), "%s", t.says);
}

/* Whether the change since the last state brought the peer's FIN: then
 * it came after any data just read (TCP delivers in order). */
static bool
brings_peer_fin(const struct tc_trace_live *lv, const struct reading *r)
{
	struct transition t;
	char buf[96];
	int now = effective_state(r);

	if (now < 0 || now == lv->last_state)
		return false;
	explain(lv->last_state, now, lv->fin_out, &t, buf, sizeof(buf));
	return t.kind == TC_LADDER_IN && strstr(t.label, "FIN") != NULL;
}

/* Emits an event's line and, if the reading showed a change, the line
 * that tells it, in the order given. */
static void
emit_event(const char *time, const char *tag, const char *what,
           const struct reading *r, const struct change *ch, bool change_first)
{
	char state[128];

	describe_state(r, state, sizeof(state));
	if (ch->seen && change_first)
		emit_line(time, tag, ch->says, state);
	if (what != NULL)
		emit_line(time, tag, what, state);
	if (ch->seen && !change_first)
		emit_line(time, tag, ch->says, state);
}

bool
tc_trace_sample(struct tc_trace_conn *tc)
{
	struct tc_trace_live *lv = tc->live;
	char time[TC_TRACE_TIME_MAX], tag[TAG_MAX];
	struct change ch;
	struct reading r;
	int saved = errno;

	if (lv == NULL)
		return false;
	order_lock(tc);
	pthread_mutex_lock(&lv->lock);
	read_state(tc, &r);
	now_str(time);
	catch_up(lv, &r, time, &ch);
	snprintf(tag, sizeof(tag), "%s", lv->tag);
	pthread_mutex_unlock(&lv->lock);
	if (ch.seen)
		emit_event(time, tag, NULL, &r, &ch, true);
	order_unlock(tc);
	errno = saved;
	return ch.seen;
}

/* The arrow a step draws. */
static void
step_arrow(enum tc_trace_step step, enum tc_ladder_kind *kind,
           const char **label)
{
	switch (step) {
	case TC_TRACE_EXIT_SENT:
		*kind = TC_LADDER_OUT;
		*label = "exit";
		break;
	case TC_TRACE_EXIT_RECEIVED:
		*kind = TC_LADDER_IN;
		*label = "exit";
		break;
	case TC_TRACE_FIN_SENT:
		*kind = TC_LADDER_OUT;
		*label = "FIN";
		break;
	case TC_TRACE_FIN_RECEIVED:
	default:
		*kind = TC_LADDER_IN;
		*label = "FIN";
		break;
	}
}

/* The state a FIN step leads to by itself from `before`, or -1 where that
 * depends on what else arrived (FIN_WAIT1: was our FIN acknowledged?). */
static int
state_after_fin(enum tc_trace_step step, int before)
{
	if (step == TC_TRACE_FIN_SENT && before == TCP_ESTABLISHED)
		return TCP_FIN_WAIT1;
	if (step == TC_TRACE_FIN_SENT && before == TCP_CLOSE_WAIT)
		return TCP_LAST_ACK;
	if (step == TC_TRACE_FIN_RECEIVED && before == TCP_ESTABLISHED)
		return TCP_CLOSE_WAIT;
	if (step == TC_TRACE_FIN_RECEIVED && before == TCP_FIN_WAIT2)
		return TCP_TIME_WAIT;
	return -1;
}

/* A FIN step: its arrow, then whatever else the reading shows (the ACK
 * of our FIN came too: LAST_ACK -> CLOSED). Where the step alone cannot
 * say which state it led to, the change is explained first and the step
 * draws its FIN only if that did not. Caller holds the lock. */
static void
record_fin_step(struct tc_trace_live *lv, enum tc_trace_step step,
                const struct reading *r, const char *time, struct change *ch)
{
	enum tc_ladder_kind kind;
	const char *label;
	int via = state_after_fin(step, lv->last_state);
	bool *drawn;

	step_arrow(step, &kind, &label);
	drawn = kind == TC_LADDER_OUT ? &lv->fin_out : &lv->fin_in;
	if (*drawn || via < 0) {
		catch_up(lv, r, time, ch);
		if (!*drawn)
			record(lv, kind, label, time, ladder_state(r));
		return;
	}
	record(lv, kind, label, time, ladder_state(r));
	lv->last_state = via;
	catch_up(lv, r, time, ch);
}

void
tc_trace_step(struct tc_trace_conn *tc, enum tc_trace_step step,
              const char *fmt, ...)
{
	char what[256], tag[TAG_MAX], time[TC_TRACE_TIME_MAX];
	struct tc_trace_live *lv = tc->live;
	enum tc_ladder_kind kind;
	const char *label;
	bool change_first = true;
	struct change ch;
	struct reading r;
	va_list ap;
	int saved = errno;

	if (!trace_on)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (lv == NULL) {
		tc_trace(tc, "%s", what);
		return;
	}
	order_lock(tc);
	pthread_mutex_lock(&lv->lock);
	read_state(tc, &r);
	now_str(time);
	atomic_store(&lv->closing, true);
	if (step == TC_TRACE_FIN_SENT || step == TC_TRACE_FIN_RECEIVED) {
		record_fin_step(lv, step, &r, time, &ch);
		change_first = false;
	} else {
		/* "exit" read: a FIN in the same reading came after it. */
		step_arrow(step, &kind, &label);
		change_first =
		    !(kind == TC_LADDER_IN && brings_peer_fin(lv, &r));
		if (change_first)
			catch_up(lv, &r, time, &ch);
		record(lv, kind, label, time, ladder_state(&r));
		if (!change_first)
			catch_up(lv, &r, time, &ch);
	}
	snprintf(tag, sizeof(tag), "%s", lv->tag);
	pthread_mutex_unlock(&lv->lock);
	emit_event(time, tag, what, &r, &ch, change_first);
	order_unlock(tc);
	errno = saved;
}

/* "2 lines, 58 bytes" */
static void
count_words(char *buf, size_t len, size_t n_lines, size_t n_bytes)
{
	snprintf(buf, len, "%zu line%s, %zu byte%s", n_lines,
	         n_lines == 1 ? "" : "s", n_bytes, n_bytes == 1 ? "" : "s");
}

void
tc_trace_halfclosed_io(struct tc_trace_conn *tc, enum tc_trace_dir dir,
                       size_t n_bytes, size_t n_lines)
{
	struct tc_trace_live *lv = tc->live;
	char time[TC_TRACE_TIME_MAX], tag[TAG_MAX], what[128], counts[64];
	enum tc_ladder_kind kind =
	    dir == TC_TRACE_OUT ? TC_LADDER_OUT : TC_LADDER_IN;
	const char *where = "over the half-closed connection";
	bool change_first;
	struct change ch;
	struct reading r;
	int saved = errno;

	if (lv == NULL)
		return;
	order_lock(tc);
	pthread_mutex_lock(&lv->lock);
	read_state(tc, &r);
	now_str(time);
	atomic_store(&lv->closing, true);
	/* Lines read came before a FIN the same reading shows. */
	change_first = !(dir == TC_TRACE_IN && brings_peer_fin(lv, &r));
	if (change_first)
		catch_up(lv, &r, time, &ch);
	if (dir == TC_TRACE_IN && lv->fin_out)
		where = "after our FIN";
	tc_ladder_add_data(&lv->ladder, kind, time, n_lines, n_bytes,
	                   ladder_state(&r));
	if (!change_first)
		catch_up(lv, &r, time, &ch);
	snprintf(tag, sizeof(tag), "%s", lv->tag);
	pthread_mutex_unlock(&lv->lock);
	count_words(counts, sizeof(counts), n_lines, n_bytes);
	snprintf(what, sizeof(what), "%s %s %s",
	         dir == TC_TRACE_OUT ? "sent" : "received", counts, where);
	emit_event(time, tag, what, &r, &ch, change_first);
	order_unlock(tc);
	errno = saved;
}

/* ---- waiting while sampling ---- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
sampling(const struct tc_trace_conn *tc)
{
	return tc->live != NULL && atomic_load(&tc->live->closing);
}

int
tc_trace_poll(struct tc_trace_conn *tc, struct pollfd *fds, nfds_t nfds,
              int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms, left;
	int n, slice, saved;

	if (tc->live == NULL)
		return poll(fds, nfds, timeout_ms);
	for (;;) {
		/* Short slices even before the close: a FIN sent by another
		 * thread starts the sampling while this one waits. */
		slice = TC_TRACE_SAMPLE_MS;
		if (timeout_ms >= 0) {
			left = deadline - mono_ms();
			if (left < slice)
				slice = left > 0 ? (int)left : 0;
		}
		n = poll(fds, nfds, slice);
		saved = errno;
		/* Before the close, news may be the peer's first FIN: look.
		 * Once it has begun, quiet slices sample and news is left to
		 * the caller, whose step or half-closed line reads the state
		 * after its recv(): so the lines it reads are told before a
		 * FIN that came behind them in the same wake-up. */
		if (sampling(tc) ? n == 0 : n != 0)
			tc_trace_sample(tc);
		errno = saved;
		if (n != 0 || (timeout_ms >= 0 && slice == 0))
			return n;
		if (timeout_ms >= 0 && mono_ms() >= deadline)
			return 0;
	}
}

int
tc_trace_wait_ms(const struct tc_trace_conn *tc, int timeout_ms)
{
	if (!sampling(tc))
		return timeout_ms;
	if (timeout_ms < 0 || timeout_ms > TC_TRACE_SAMPLE_MS)
		return TC_TRACE_SAMPLE_MS;
	return timeout_ms;
}

/* ---- after close() ---- */

/* Whether the kernel holds nothing more that could change: the tuple is
 * gone, or in TIME_WAIT, which lasts a minute. */
static bool
settled(const struct tc_trace_conn *tc)
{
	int state;

	pthread_mutex_lock(&tc->live->lock);
	state = tc->live->last_state;
	pthread_mutex_unlock(&tc->live->lock);
	return state == TCP_CLOSE || state == TCP_TIME_WAIT || state < 0;
}

/* A close with no segment seen either way is no picture. */
static bool
has_arrow(const struct tc_ladder *l)
{
	size_t i;

	for (i = 0; i < l->n_rows; i++)
		if (l->rows[i].kind != TC_LADDER_NOTE)
			return true;
	return false;
}

/* The ladder as one block, under a line that says whose view it is. */
static void
emit_ladder(struct tc_trace_conn *tc)
{
	char time[TC_TRACE_TIME_MAX], tag[TAG_MAX], *text;
	struct tc_ladder *copy;
	size_t head;

	/* Drawn from a copy: the lock is not held while rendering. */
	copy = malloc(sizeof(*copy));
	text = malloc(LINE_MAX_LEN + TC_LADDER_TEXT_MAX);
	if (copy == NULL || text == NULL) {
		tc_trace(tc, "no ladder: %s", strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&tc->live->lock);
	*copy = tc->live->ladder;
	snprintf(tag, sizeof(tag), "%s", tc->live->tag);
	pthread_mutex_unlock(&tc->live->lock);
	if (!has_arrow(copy))
		goto out;
	order_lock(tc);
	now_str(time);
	head = (size_t)snprintf(text, LINE_MAX_LEN,
	                        "%s trace: %sthe close, as the %s saw it:\n",
	                        time, tag, copy->self);
	if (head >= LINE_MAX_LEN)
		head = LINE_MAX_LEN - 1;
	tc_ladder_render(copy, text + head, TC_LADDER_TEXT_MAX);
	emit(text);
	order_unlock(tc);
out:
	free(text);
	free(copy);
}

void
tc_trace_closed(struct tc_trace_conn *tc)
{
	char time[TC_TRACE_TIME_MAX], tag[TAG_MAX], state[128];
	struct tc_trace_live *lv = tc->live;
	struct reading r;
	int64_t deadline;

	tc->fd = -1;
	if (!trace_on)
		return;
	if (lv == NULL) {
		tc_trace(tc, "close()");
		return;
	}
	order_lock(tc);
	pthread_mutex_lock(&lv->lock);
	read_state(tc, &r);
	now_str(time);
	/* The state close() left is the sampler's to explain: a close()
	 * without a shutdown() sends the FIN itself. */
	record(lv, TC_LADDER_NOTE, "close()", time, ladder_state(&r));
	snprintf(tag, sizeof(tag), "%s", lv->tag);
	pthread_mutex_unlock(&lv->lock);
	describe_state(&r, state, sizeof(state));
	emit_line(time, tag, "close()", state);
	order_unlock(tc);
	tc_trace_sample(tc);
	deadline = mono_ms() + TC_TRACE_AFTER_CLOSE_MS;
	while (!settled(tc) && mono_ms() < deadline) {
		poll(NULL, 0, TC_TRACE_SAMPLE_MS);
		tc_trace_sample(tc);
	}
	emit_ladder(tc);
}
