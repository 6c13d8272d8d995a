/* End-to-end tests of tcpchatd with what a machine may lack: IPv6 on
 * loopback, and the real netcat-openbsd and socat as clients (plain nc
 * and socat are valid clients: docs/PROTOCOL.md). A test whose tool is missing
 * is not run and is named on stderr; with none runnable the binary exits 77,
 * which Meson reports as a skip. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define T H_TIMEOUT_MS
#define BUF 8192
#define TCASE_TIMEOUT_S 120

#define S h_fmt

#define EXPECT_NEXT H_EXPECT_NEXT

static void
server_start(struct h_proc *srv)
{
	static const char *const none[] = {NULL};

	ck_assert_msg(h_server_start(srv, none) == 0, "tcpchatd did not start");
}

/* Connects from host and reads the welcome; *name gets the address the
 * server names it by. */
static int
join(struct h_proc *srv, const char *host, char *name, size_t len, int online)
{
	int fd = h_connect(host, srv->port);

	ck_assert_msg(fd >= 0, "connect %s: %s", host, strerror(errno));
	snprintf(name, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host,
	         h_local_port(fd));
	EXPECT_NEXT(fd, S("* welcome, you are %s (%d online); /help lists "
	                  "commands",
	                  name, online));
	return fd;
}

START_TEST(test_ipv6_client_is_named_by_bracketed_address)
{
	struct h_proc srv;
	char v4[64], v6[80];
	int a, b;

	server_start(&srv);
	a = join(&srv, "127.0.0.1", v4, sizeof(v4), 2);
	b = join(&srv, "::1", v6, sizeof(v6), 3);
	EXPECT_NEXT(a, S("* %s joined", v6));
	ck_assert_int_eq(h_send(b, "hello over six\n"), 0);
	EXPECT_NEXT(a, S("%s: hello over six", v6));
	ck_assert_int_eq(h_send(a, "hello over four\n"), 0);
	EXPECT_NEXT(b, S("%s: hello over four", v4));
	h_close(a);
	h_close(b);
	h_wait_exit(&srv, 0);
}
END_TEST

/* Runs nc or socat as a client: it sends "hello from TOOL" and its input
 * ends; a raw client must get the line, and the tool must print the
 * welcome and exit 0 once the server's FIN arrives. */
static void
tool_client(const char *tool)
{
	struct h_proc srv, cli;
	char me[64], buf[BUF], who[80], port[16], target[64];
	size_t from = 0;
	int raw;
	/* nc -N: SHUT_WR at end of input, then read to EOF. socat -t 30:
	 * after its input ends, wait up to 30 s for the peer's EOF, longer
	 * than our deadline, so only the server's FIN can end it in time. */
	const char *nc[] = {"nc", "-N", "127.0.0.1", port, NULL};
	const char *socat[] = {"socat", "-t", "30", "-", target, NULL};

	server_start(&srv);
	snprintf(port, sizeof(port), "%d", srv.port);
	snprintf(target, sizeof(target), "TCP:127.0.0.1:%d", srv.port);
	raw = join(&srv, "127.0.0.1", me, sizeof(me), 2);
	ck_assert_int_eq(h_spawn(&cli, strcmp(tool, "nc") ? socat : nc), 0);
	ck_assert_int_eq(h_write(&cli, S("hello from %s\n", tool)), 0);
	h_close_stdin(&cli);
	/* "* 127.0.0.1:PORT joined" gives the tool's name at the server. */
	ck_assert_int_gt(h_read_line(raw, buf, sizeof(buf), T), 0);
	ck_assert_msg(sscanf(buf, "* %79s joined", who) == 1 &&
	                  strncmp(who, "127.0.0.1:", 10) == 0,
	              "'%s'", buf);
	EXPECT_NEXT(raw, S("%s: hello from %s", who, tool));
	EXPECT_NEXT(raw, S("* %s left", who));
	ck_assert_msg(h_wait_output(&cli, 1, S("* welcome, you are %s", who),
	                            &from, T) == 0,
	              "%s did not print the welcome: '%s'", tool,
	              cli.out ? cli.out : "");
	ck_assert_int_eq(h_wait_exit(&cli, T), 0);
	h_close(raw);
	h_wait_exit(&srv, 0);
}

START_TEST(test_nc_line_reaches_raw_client_and_nc_exits_on_fin)
{
	tool_client("nc");
}
END_TEST

START_TEST(test_socat_line_reaches_raw_client_and_socat_exits_on_fin)
{
	tool_client("socat");
}
END_TEST

/* Each test needs something this machine may lack; with none of them,
 * the whole binary is skipped. */
Suite *
tc_test_suite(void)
{
	Suite *s = suite_create("e2e_server_interop");
	TCase *tc = tcase_create("interop");
	int n = 0;

	tcase_set_timeout(tc, TCASE_TIMEOUT_S);
	if (h_have_ipv6()) {
		tcase_add_test(tc,
		               test_ipv6_client_is_named_by_bracketed_address);
		n++;
	} else {
		fprintf(stderr, "skipped: IPv6 tests (no ::1)\n");
	}
	if (h_have_program("nc")) {
		tcase_add_test(
		    tc, test_nc_line_reaches_raw_client_and_nc_exits_on_fin);
		n++;
	} else {
		fprintf(stderr, "skipped: nc tests (no nc on PATH)\n");
	}
	if (h_have_program("socat")) {
		tcase_add_test(
		    tc,
		    test_socat_line_reaches_raw_client_and_socat_exits_on_fin);
		n++;
	} else {
		fprintf(stderr, "skipped: socat tests (no socat on PATH)\n");
	}
	if (n == 0)
		return NULL;
	suite_add_tcase(s, tc);
	return s;
}
