/* trace: the --trace lines that let a class follow TCP's four-way close.
 * Each line names a step and the TCP state the kernel reports for the
 * socket right after it (getsockopt TCP_INFO). It reports, never guesses:
 * a state that lasted microseconds may already be gone when it asks. */
#include "tcpchat/trace.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Set once by tc_trace_setup() before any thread starts; read-only after. */
static bool trace_on;
static tc_trace_sink_fn *trace_sink;
static struct timespec trace_epoch;

void
tc_trace_setup(bool enabled, tc_trace_sink_fn *sink)
{
	trace_on = enabled;
	trace_sink = sink;
	clock_gettime(CLOCK_MONOTONIC, &trace_epoch);
}

bool
tc_trace_enabled(void)
{
	return trace_on;
}

static const char *
state_name(unsigned state)
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

	if (state < sizeof(names) / sizeof(names[0]) && names[state])
		return names[state];
	return "UNKNOWN";
}

const char *
tc_tcp_state(int fd, char *buf, size_t len)
{
	struct tcp_info ti;
	socklen_t ti_len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &ti_len) == -1) {
		snprintf(buf, len, "unknown: %s", strerror(errno));
		return buf;
	}
	snprintf(buf, len, "%s", state_name(ti.tcpi_state));
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
tc_tcp_tuple_state(const struct sockaddr_storage *local,
                   const struct sockaddr_storage *peer, char *buf, size_t len)
{
	int state = diag_lookup(local, peer);

	if (state < 0)
		return NULL;
	snprintf(buf, len, "%s", state_name((unsigned)state));
	return buf;
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
	if (getsockname(fd, (struct sockaddr *)&tc->local, &len) == -1)
		return;
	len = sizeof(tc->peer);
	if (getpeername(fd, (struct sockaddr *)&tc->peer, &len) == -1)
		return;
	tc->known = true;
}

/* The state for a trace line: the socket's own, and where the socket says
 * CLOSED or is gone, what the kernel's table still holds for the tuple. */
static void
describe_state(const struct tc_trace_conn *tc, char *buf, size_t len)
{
	char own[64], table[32];

	if (tc->fd >= 0)
		tc_tcp_state(tc->fd, own, sizeof(own));
	else
		snprintf(own, sizeof(own), "socket closed");
	if ((tc->fd < 0 || strcmp(own, "CLOSED") == 0) && tc->known &&
	    tc_tcp_tuple_state(&tc->local, &tc->peer, table, sizeof(table)))
		snprintf(buf, len, "%s; kernel: %s", own, table);
	else
		snprintf(buf, len, "%s", own);
}

void
tc_trace(const struct tc_trace_conn *tc, const char *fmt, ...)
{
	char what[256], state[128], line[512], conn[24] = "";
	struct timespec now;
	double elapsed;
	va_list ap;
	int saved = errno;

	if (!trace_on)
		return;
	/* Read the state first: it is what the step left behind. */
	describe_state(tc, state, sizeof(state));
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed = (double)(now.tv_sec - trace_epoch.tv_sec) +
	          (double)(now.tv_nsec - trace_epoch.tv_nsec) / 1e9;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (tc->id != 0)
		snprintf(conn, sizeof(conn), "conn %u: ", tc->id);
	snprintf(line, sizeof(line), "trace: [+%.6f] %s%s (tcp %s)", elapsed,
	         conn, what, state);
	if (trace_sink)
		trace_sink(line);
	else
		fprintf(stderr, "%s\n", line);
	errno = saved;
}
