/* e2e_offline: tcpchat on a machine whose only network is loopback.
 *
 * Each test moves its own (forked) process into a new network namespace
 * with nothing but `lo`, so that the server and clients it starts see no
 * other interface, no route and no resolver: numeric addresses must still
 * work, a missing address family must be named as such, and a connect
 * that gets no answer must end after -w. Skips (exit 77) where the
 * machine does not permit network namespaces. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

#define T H_TIMEOUT_MS
#define PIPES false

static void
ck_enter_offline(void)
{
	const char *step;

	ck_assert_msg(h_enter_loopback_only(&step) == 0,
	              "offline namespace: %s: %s", step, strerror(errno));
}

/* The namespace holds lo and nothing else: what the test claims. */
static void
ck_only_loopback(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	ck_assert_ptr_nonnull(ifs);
	for (i = ifs; i->if_index != 0; i++)
		ck_assert_msg(strcmp(i->if_name, "lo") == 0,
		              "interface %s in the namespace", i->if_name);
	if_freenameindex(ifs);
}

/* Starts tcpchat with args, waits until it exits, and checks it said
 * exactly want on stderr (one line) and exited with status. */
static void
ck_client_fails(const char *const *args, const char *want, int status)
{
	struct h_proc p;

	ck_assert_int_eq(h_client_start(&p, PIPES, args), 0);
	ck_assert_int_eq(h_wait_stream_eof(&p, 2, T), 0);
	ck_assert_str_eq(p.err, want);
	ck_assert_int_eq(h_wait_exit(&p, T), status);
}

/* A client on host (with -4 or -6) joins a tcpchatd in the namespace,
 * says one line that the server shows, and leaves cleanly. */
static void
ck_chat_over(const char *family_opt, const char *host, const char *shown)
{
	struct h_proc srv, cli;
	char port[8];
	const char *args[] = {family_opt, host, port, NULL};
	size_t from = 0;

	ck_assert_int_eq(h_server_start(&srv, NULL), 0);
	snprintf(port, sizeof(port), "%d", srv.port);
	ck_assert_int_eq(h_client_start(&cli, PIPES, args), 0);
	ck_assert_msg(h_wait_output(&cli, 2, shown, &from, T) == 0,
	              "client said: %s", cli.err);
	ck_assert_int_eq(h_write(&cli, "with loopback only\n"), 0);
	from = 0;
	ck_assert_int_eq(
	    h_wait_output(&srv, 1, ": with loopback only", &from, T), 0);
	h_close_stdin(&cli);
	ck_assert_int_eq(h_wait_exit(&cli, T), 0);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&srv, T), 0);
}

START_TEST(test_ipv4_loopback_address_needs_no_network)
{
	ck_enter_offline();
	ck_only_loopback();
	ck_chat_over("-4", "127.0.0.1", "connected to 127.0.0.1:");
}
END_TEST

START_TEST(test_ipv6_loopback_address_needs_no_network)
{
	ck_enter_offline();
	ck_only_loopback();
	ck_chat_over("-6", "::1", "connected to [::1]:");
}
END_TEST

START_TEST(test_ipv6_address_with_dash_4_names_the_families)
{
	static const char *const args[] = {"-4", "::1", NULL};

	ck_enter_offline();
	ck_client_fails(
	    args,
	    "tcpchat: resolve ::1: an IPv6 address, but -4 asks for IPv4\n", 1);
}
END_TEST

/* Turns IPv6 off in this namespace only; a kernel without IPv6 has it
 * off already. */
static void
disable_ipv6(void)
{
	if (access("/proc/sys/net/ipv6", F_OK) != 0)
		return;
	ck_assert_int_eq(
	    h_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1"), 0);
	ck_assert_int_eq(
	    h_write_file("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "1"), 0);
	ck_assert(!h_have_ipv6());
}

START_TEST(test_ipv6_address_without_ipv6_says_it_is_not_available)
{
	static const char *const dash6[] = {"-6", "::1", NULL};
	static const char *const plain[] = {"::1", NULL};
	static const char *const want = "tcpchat: connect [::1]:9999: IPv6 not "
	                                "available here: ";
	struct h_proc p;

	ck_enter_offline();
	disable_ipv6();
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(
		    h_client_start(&p, PIPES, i == 0 ? dash6 : plain), 0);
		ck_assert_int_eq(h_wait_stream_eof(&p, 2, T), 0);
		ck_assert_msg(strncmp(p.err, want, strlen(want)) == 0 &&
		                  strchr(p.err, '\n') == p.err + p.err_len - 1,
		              "client said: %s", p.err);
		ck_assert_int_eq(h_wait_exit(&p, T), 1);
	}
}
END_TEST

/* A listening socket with backlog 0 and one unaccepted connection has a
 * full accept queue: the kernel drops every further SYN, as a host
 * behind a dropping firewall would, so a connect to it gets no answer. */
static int
listen_dropping_syns(int *port, int *filler)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1 || bind(fd, (void *)&sa, len) == -1 ||
	    listen(fd, 0) == -1 || getsockname(fd, (void *)&sa, &len) == -1)
		return -1;
	*port = ntohs(sa.sin_port);
	*filler = h_connect("127.0.0.1", *port);
	return *filler == -1 ? -1 : fd;
}

START_TEST(test_connect_that_gets_no_answer_gives_up_after_w)
{
	char port[8];
	const char *args[] = {"-w", "1", "127.0.0.1", port, NULL};
	int lfd, filler, port_n;

	ck_enter_offline();
	lfd = listen_dropping_syns(&port_n, &filler);
	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", port_n);
	ck_client_fails(args,
	                h_fmt("tcpchat: connect 127.0.0.1:%d: timed out after "
	                      "1 s\n",
	                      port_n),
	                1);
	h_close(filler);
	close(lfd);
}
END_TEST

static Suite *
offline_suite(bool ipv6)
{
	Suite *s = suite_create("offline");
	TCase *tc = tcase_create("loopback_only");

	tcase_add_test(tc, test_ipv4_loopback_address_needs_no_network);
	if (ipv6)
		tcase_add_test(tc, test_ipv6_loopback_address_needs_no_network);
	else
		fprintf(stderr, "e2e_offline: no IPv6 here: ::1 test left "
		                "out\n");
	tcase_add_test(tc, test_ipv6_address_with_dash_4_names_the_families);
	tcase_add_test(tc,
	               test_ipv6_address_without_ipv6_says_it_is_not_available);
	tcase_add_test(tc, test_connect_that_gets_no_answer_gives_up_after_w);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

/* Whether this machine lets us make the namespace, tried in a child so
 * that we stay where we are. */
static bool
offline_permitted(void)
{
	const char *step;
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		if (h_enter_loopback_only(&step) == 0)
			_exit(0);
		fprintf(stderr,
		        "e2e_offline: skipped: no network namespace with only "
		        "lo here (%s: %s)\n",
		        step, strerror(errno));
		_exit(1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

Suite *
tc_test_suite(void)
{
	if (!offline_permitted())
		return NULL;
	/* Each test enters its namespace in its own process. */
	if (getenv("CK_FORK") != NULL && strcmp(getenv("CK_FORK"), "no") == 0) {
		fprintf(stderr, "e2e_offline: skipped: needs CK_FORK=yes\n");
		return NULL;
	}
	return offline_suite(h_have_ipv6());
}
