/* e2e_trace: --trace on both programs, watched through a whole close.
 *
 * A real tcpchatd and tcpchat, both tracing, close the way a class
 * watches it: the client says exit, the server keeps sending for
 * --linger, then sends its FIN. Both traces must carry wall-clock stamps
 * in order, tell every step and every line that crossed the half-closed
 * connection with the TCP state the kernel reported, and end with that
 * side's ladder. /list must show each connection's TCP state beside its
 * phase, within 100 columns.
 *
 * With E2E_TRACE_SLOW=1 the binary runs only the slowed-loopback test: in
 * a network namespace of its own whose lo delays every packet (netem, or
 * a slow token bucket where the kernel lacks netem), the server's FIN
 * waits long enough for its trace to show LAST_ACK. That run exits 77
 * (skipped) where such a namespace cannot be made. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define T H_TIMEOUT_MS
#define PIPES false
#define TCASE_TIMEOUT_S 120

/* ---- reading a trace ---- */

/* A trace line of p's stderr holding every string of subs, after *from
 * (moved past it); fails the test, showing the trace, when none comes. */
#define EXPECT_TRACE(p, from, ...)                                             \
	expect_trace((p), (from), __LINE__,                                    \
	             (const char *const[]){" trace: ", __VA_ARGS__, NULL})
static void
expect_trace(struct h_proc *p, size_t *from, int line, const char *const *subs)
{
	if (h_wait_output_line(p, 2, subs, from, T) == 0)
		return;
	ck_abort_msg(
	    "line %d: no trace line with '%s' after offset %zu in:\n%s", line,
	    subs[1], *from, p->err ? p->err : "");
}

/* Microseconds since midnight of "HH:MM:SS.ffffff" at s, or -1. */
static long long
stamp_us(const char *s)
{
	unsigned h, m, sec, us;
	int len = 0;

	if (sscanf(s, "%2u:%2u:%2u.%6u%n", &h, &m, &sec, &us, &len) != 4 ||
	    len != 15 || h > 23 || m > 59 || sec > 60)
		return -1;
	return (((long long)h * 60 + m) * 60 + sec) * 1000000 + us;
}

/* Now, in local time, as microseconds since midnight. */
static long long
local_now_us(void)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	return (((long long)tm.tm_hour * 60 + tm.tm_min) * 60 + tm.tm_sec) *
	           1000000 +
	       ts.tv_nsec / 1000;
}

/* Every " trace: " line of text starts with a stamp, the stamps never go
 * back, and they lie between before and after (local clock, µs since
 * midnight; a run across midnight is not checked). Then the ladder: its
 * heading is the last trace line, and its rows' stamps are in order too,
 * none after the heading. */
static void
ck_stamps_and_ladder(const char *who, const char *text, long long before,
                     long long after)
{
	const char *line = text, *nl, *heading = NULL;
	long long last = -1, t;
	bool in_ladder = false, midnight = after < before;

	for (; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		if (strstr(line, " trace: ") != NULL &&
		    strstr(line, " trace: ") < nl) {
			ck_assert_msg(!in_ladder,
			              "%s: a trace line after the ladder: %.*s",
			              who, (int)(nl - line), line);
			t = stamp_us(line);
			ck_assert_msg(t >= 0, "%s: no stamp: %.*s", who,
			              (int)(nl - line), line);
			ck_assert_msg(midnight || t >= last,
			              "%s: stamp goes back: %.*s", who,
			              (int)(nl - line), line);
			ck_assert_msg(midnight || (t >= before - 1000000 &&
			                           t <= after + 1000000),
			              "%s: not the wall clock's time: %.*s",
			              who, (int)(nl - line), line);
			last = t;
			if (strstr(line, "the close, as the ") != NULL &&
			    strstr(line, "the close, as the ") < nl) {
				heading = line;
				in_ladder = true;
				last = -1;
			}
		} else if (in_ladder && (t = stamp_us(line + 2)) >= 0) {
			/* A row: "  HH:MM:SS.ffffff  STATE  |...|" */
			ck_assert_msg(midnight || t >= last,
			              "%s: ladder row goes back: %.*s", who,
			              (int)(nl - line), line);
			ck_assert_msg(midnight ||
			                  t <= stamp_us(heading) + 1000000,
			              "%s: ladder row after its heading", who);
			last = t;
		}
		if (*nl == '\0')
			break;
	}
	ck_assert_msg(heading != NULL, "%s: no ladder:\n%s", who, text);
}

/* How many rows of the ladder (after its heading) hold every string. */
static int
ladder_rows_with(const char *text, const char *a, const char *b)
{
	const char *line = strstr(text, "the close, as the "), *nl;
	int n = 0;

	for (; line != NULL && *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		if (memmem(line, (size_t)(nl - line), a, strlen(a)) &&
		    memmem(line, (size_t)(nl - line), b, strlen(b)))
			n++;
		if (*nl == '\0')
			break;
	}
	return n;
}

/* ---- the close, traced on both sides ---- */

/* The client's own address, from its "connected to ... from ADDR" line. */
static void
client_address(struct h_proc *cl, size_t *from, char *buf, size_t len)
{
	const char *at;
	size_t n;

	EXPECT_TRACE(cl, from, "connected to 127.0.0.1:");
	at = strstr(cl->err, " from 127.0.0.1:");
	ck_assert_ptr_nonnull(at);
	at += strlen(" from ");
	n = strcspn(at, " ");
	ck_assert_uint_lt(n, len);
	memcpy(buf, at, n);
	buf[n] = '\0';
}

START_TEST(test_linger_close_is_traced_by_both_programs)
{
	static const char *const srv_args[] = {"--trace", "--linger", "2",
	                                       NULL};
	const char *cl_args[] = {"--trace", "127.0.0.1", NULL, NULL};
	struct h_proc srv, cl;
	size_t sf = 0, cf = 0, out = 0;
	char port[16], addr[64];
	long long before = local_now_us(), after;

	ck_assert_int_eq(h_server_start(&srv, srv_args), 0);
	snprintf(port, sizeof(port), "%d", srv.port);
	cl_args[2] = port;
	ck_assert_int_eq(h_client_start(&cl, PIPES, cl_args), 0);
	client_address(&cl, &cf, addr, sizeof(addr));
	/* The accept line names the peer, and both ends. */
	EXPECT_TRACE(&srv, &sf, h_fmt("accepted from %s on 127.0.0.1:", addr),
	             "(tcp ESTABLISHED)");
	/* Read before the close, the welcome is no line after our FIN. */
	ck_assert_int_eq(h_wait_output(&cl, 1, "* welcome", &out, T), 0);
	ck_assert_int_eq(h_write(&cl, "exit\n"), 0);
	EXPECT_TRACE(&srv, &sf, "received exit");
	/* The client's FIN is out, and the server's writer knows the peer is
	 * done: what it sends from now on crosses the half-closed connection.
	 * Two console lines in the --linger window, the second once the
	 * client has shown the first: two sends, two receives. */
	EXPECT_TRACE(&cl, &(size_t){cf}, "shutdown(SHUT_WR) (tcp ");
	EXPECT_TRACE(&srv, &(size_t){sf}, "writer flushing");
	ck_assert_int_eq(h_write(&srv, "one in the window\n"), 0);
	ck_assert_int_eq(
	    h_wait_output(&cl, 1, "server: one in the window", &out, T), 0);
	ck_assert_int_eq(h_write(&srv, "two in the window\n"), 0);
	ck_assert_int_eq(
	    h_wait_output(&cl, 1, "server: two in the window", &out, T), 0);

	/* The client: its FIN acknowledged, both lines after it, the
	 * server's FIN, close(), the ladder. */
	EXPECT_TRACE(&cl, &cf, "sent exit (tcp ");
	EXPECT_TRACE(&cl, &cf, "shutdown(SHUT_WR) (tcp ");
	EXPECT_TRACE(&cl, &cf, "(tcp FIN_WAIT2)");
	EXPECT_TRACE(&cl, &cf, "received 1 line, 26 bytes after our FIN",
	             "(tcp FIN_WAIT2)");
	EXPECT_TRACE(&cl, &cf, "received 1 line, 26 bytes after our FIN",
	             "(tcp FIN_WAIT2)");
	EXPECT_TRACE(&cl, &cf, "received FIN (EOF) (tcp ");
	EXPECT_TRACE(&cl, &cf, "close() (tcp ");
	EXPECT_TRACE(&cl, &cf, "the close, as the client saw it:");
	ck_assert_int_eq(h_wait_stream_eof(&cl, 2, T), 0);

	/* The server: both lines sent in CLOSE_WAIT, then its FIN. */
	EXPECT_TRACE(&srv, &sf, "sent 1 line, 26 bytes over the half-closed",
	             "(tcp CLOSE_WAIT)");
	EXPECT_TRACE(&srv, &sf, "sent 1 line, 26 bytes over the half-closed",
	             "(tcp CLOSE_WAIT)");
	EXPECT_TRACE(&srv, &sf, "shutdown(SHUT_WR), FIN sent (tcp ");
	EXPECT_TRACE(&srv, &sf, "close() (tcp ");
	EXPECT_TRACE(&srv, &sf, "the close, as the server saw it:");
	/* The ladder is one block: its last row, close(), is there too. */
	ck_assert_int_eq(h_wait_output(&srv, 2, "close()", &sf, T), 0);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_stream_eof(&srv, 2, T), 0);
	after = local_now_us();

	ck_stamps_and_ladder("client", cl.err, before, after);
	ck_stamps_and_ladder("server", srv.err, before, after);
	/* What each side saw, drawn: the client's FIN out and the
	 * server's in, the two lines each way, a FIN back. */
	ck_assert_int_eq(ladder_rows_with(cl.err, "|-", " FIN "), 1);
	ck_assert_int_eq(ladder_rows_with(cl.err, "|<-", "1 line, 26 bytes"),
	                 2);
	ck_assert_int_eq(ladder_rows_with(cl.err, "|<-", " FIN "), 1);
	ck_assert_int_eq(ladder_rows_with(srv.err, "|<-", " exit "), 1);
	ck_assert_int_eq(ladder_rows_with(srv.err, "CLOSE_WAIT", "1 line, 26"),
	                 2);
	ck_assert_int_eq(ladder_rows_with(srv.err, "|-", " FIN "), 1);
	ck_assert_int_eq(h_wait_exit(&cl, T), 0);
	ck_assert_int_eq(h_wait_exit(&srv, T), 0);
}
END_TEST

/* ---- /list ---- */

/* The /list row of the connection whose peer port is port, in p's stdout
 * after *from. */
static const char *
list_row(struct h_proc *p, size_t *from, int port)
{
	const char *subs[] = {h_fmt(" 127.0.0.1:%d ", port), NULL};
	size_t at = *from;
	const char *row;

	ck_assert_int_eq(h_wait_output_line(p, 1, subs, &at, T), 0);
	row = p->out + at - 1; /* the LF */
	while (row > p->out && row[-1] != '\n')
		row--;
	return row;
}

START_TEST(test_list_shows_the_tcp_state_beside_the_phase)
{
	static const char *const args[] = {"--linger", "30", NULL};
	const char *open_row, *half_row, *l, *nl;
	struct h_proc srv;
	size_t from, head = 0;
	int open_fd, half_fd;
	char line[256];

	ck_assert_int_eq(h_server_start(&srv, args), 0);
	open_fd = h_connect("127.0.0.1", srv.port);
	half_fd = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(open_fd, 0);
	ck_assert_int_ge(half_fd, 0);
	ck_assert_int_gt(h_read_line(open_fd, line, sizeof(line), T), 0);
	ck_assert_int_gt(h_read_line(half_fd, line, sizeof(line), T), 0);
	/* exit and FIN: the server half-closes and lingers 30 s. */
	ck_assert_int_eq(h_send(half_fd, "exit\n"), 0);
	ck_assert_int_eq(shutdown(half_fd, SHUT_WR), 0);
	ck_assert_int_eq(
	    h_expect_line(open_fd,
	                  h_fmt("* 127.0.0.1:%d left", h_local_port(half_fd)),
	                  T),
	    0);
	ck_assert_int_eq(h_write(&srv, "/list\n"), 0);
	ck_assert_int_eq(h_wait_output_line(
	                     &srv, 1,
	                     (const char *const[]){"ID", "PHASE", "TCP", NULL},
	                     &head, T),
	                 0);
	/* The rows come after the heading; the join lines before it. */
	from = head;
	open_row = list_row(&srv, &from, h_local_port(open_fd));
	ck_assert_msg(strstr(open_row, " open ") &&
	                  strstr(open_row, " ESTABLISHED "),
	              "%.100s", open_row);
	half_row = list_row(&srv, &from, h_local_port(half_fd));
	ck_assert_msg(strstr(half_row, " half-closed ") &&
	                  strstr(half_row, " CLOSE_WAIT "),
	              "%.100s", half_row);
	/* Every line of the table fits 100 columns. */
	for (l = strstr(srv.out, "connection"); l && *l; l = nl + 1) {
		nl = strchr(l, '\n');
		if (nl == NULL)
			break;
		ck_assert_msg(nl - l <= 100, "%d columns: %.*s", (int)(nl - l),
		              (int)(nl - l), l);
	}
	h_close(open_fd);
	h_close(half_fd);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&srv, T), 0);
}
END_TEST

/* ---- LAST_ACK on a slowed loopback ---- */

static int
set_lo_mtu(int mtu)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ifr.ifr_mtu = mtu;
	rc = ioctl(fd, SIOCSIFMTU, &ifr);
	close(fd);
	return rc;
}

/* Runs a tc(8) command line quietly; true when it succeeded. */
static bool
run_tc(const char *args)
{
	char cmd[256];
	int st;

	snprintf(cmd, sizeof(cmd), "tc %s >/dev/null 2>&1", args);
	st = system(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Moves this (single-threaded) process into a network namespace whose lo
 * is slow: netem delays each packet by 25 ms, a round trip of 50 ms, far
 * longer than a sample's 5 ms. Where the kernel has no netem, a token
 * bucket of 1000 bytes/s holding one packet of the 100-byte MTU spaces
 * every packet by about 0.1 s instead. 0, or -1 with the step that failed
 * in *step. */
static int
enter_slow_loopback(const char **step)
{
	if (h_enter_loopback_only(step) == -1)
		return -1;
	if (run_tc("qdisc add dev lo root netem delay 25ms"))
		return 0;
	*step = "set lo's MTU to 100";
	if (set_lo_mtu(100) == -1)
		return -1;
	*step = "tc qdisc add dev lo root netem (or tbf)";
	errno = EOPNOTSUPP;
	return run_tc("qdisc add dev lo root tbf rate 8kbit burst 120 "
	              "latency 10s")
	           ? 0
	           : -1;
}

START_TEST(test_server_trace_shows_last_ack_on_a_slow_loopback)
{
	/* A second's linger: the client's FIN, slow behind its "exit", is
	 * in before the server's, which then waits in LAST_ACK (without it
	 * the two FINs may cross: CLOSING). */
	static const char *const args[] = {"--trace", "--linger", "1", NULL};
	struct h_proc srv;
	const char *step;
	size_t from = 0;
	char line[256];
	int fd;

	ck_assert_msg(enter_slow_loopback(&step) == 0, "%s: %s", step,
	              strerror(errno));
	ck_assert_int_eq(h_server_start(&srv, args), 0);
	fd = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(h_read_line(fd, line, sizeof(line), T), 0);
	/* The client's close: exit and its FIN; the server answers with its
	 * FIN, whose ACK is a slow round trip away. */
	ck_assert_int_eq(h_send(fd, "exit\n"), 0);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_wait_eof(fd, T), 0);
	EXPECT_TRACE(&srv, &from, "shutdown(SHUT_WR), FIN sent",
	             "(tcp LAST_ACK)");
	EXPECT_TRACE(&srv, &from, "the peer acknowledged our FIN");
	EXPECT_TRACE(&srv, &from, "the close, as the server saw it:");
	ck_assert_int_eq(h_wait_output(&srv, 2, "close()", &from, T), 0);
	ck_assert_int_eq(ladder_rows_with(srv.err, "LAST_ACK", " FIN "), 1);
	ck_assert_int_eq(ladder_rows_with(srv.err, "|<-", " ACK "), 1);
	h_close(fd);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&srv, T), 0);
}
END_TEST

/* Whether this machine lets us make the slowed namespace, tried in a
 * child so that we stay where we are. */
static bool
slow_loopback_permitted(void)
{
	const char *step;
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		if (enter_slow_loopback(&step) == 0)
			_exit(0);
		fprintf(stderr,
		        "e2e_trace: skipped: no namespace with a slowed "
		        "loopback here (%s: %s)\n",
		        step, strerror(errno));
		_exit(1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

static Suite *
slow_suite(void)
{
	Suite *s = suite_create("e2e_trace_slow");
	TCase *tc = tcase_create("last_ack");

	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_server_trace_shows_last_ack_on_a_slow_loopback);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	const char *slow = getenv("E2E_TRACE_SLOW");
	Suite *s;
	TCase *tc;

	if (slow != NULL && strcmp(slow, "1") == 0) {
		if (!slow_loopback_permitted())
			return NULL;
		/* Each test enters its namespace in its own process. */
		if (getenv("CK_FORK") != NULL &&
		    strcmp(getenv("CK_FORK"), "no") == 0) {
			fprintf(stderr, "e2e_trace: skipped: needs CK_FORK\n");
			return NULL;
		}
		return slow_suite();
	}
	s = suite_create("e2e_trace");
	tc = tcase_create("close");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_linger_close_is_traced_by_both_programs);
	suite_add_tcase(s, tc);
	tc = tcase_create("list");
	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_list_shows_the_tcp_state_beside_the_phase);
	suite_add_tcase(s, tc);
	return s;
}
