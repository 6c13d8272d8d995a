/* trace: the --trace lines that let a class follow TCP's four-way close.
 * Each line names a step and the TCP state the kernel reports for the
 * socket right after it (getsockopt TCP_INFO). It reports, never guesses:
 * a state that lasted microseconds may already be gone when it asks. */
#include "tcpchat/trace.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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

void
tc_trace(int fd, const char *fmt, ...)
{
	char what[256], state[64], line[400];
	struct timespec now;
	double elapsed;
	va_list ap;
	int saved = errno;

	if (!trace_on)
		return;
	/* Read the state first: it is what the step left behind. */
	tc_tcp_state(fd, state, sizeof(state));
	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed = (double)(now.tv_sec - trace_epoch.tv_sec) +
	          (double)(now.tv_nsec - trace_epoch.tv_nsec) / 1e9;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "trace: [+%.6f] %s (tcp %s)", elapsed,
	         what, state);
	if (trace_sink)
		trace_sink(line);
	else
		fprintf(stderr, "%s\n", line);
	errno = saved;
}
