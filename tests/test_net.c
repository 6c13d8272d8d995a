/* Unit tests for net: listen, connect, write-all (and until a stop fd),
 * address strings, over real loopback sockets and socketpairs; and the
 * join hints, over hand-made interface lists and the machine's own. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "tcpchat/net.h"

static int
port_of(const char *bound)
{
	const char *colon = strrchr(bound, ':');

	return colon ? atoi(colon + 1) : -1;
}

static bool
have_ipv6(void)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
	                          .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd != -1 && bind(fd, (void *)&sa, sizeof(sa)) == 0;

	if (fd != -1)
		close(fd);
	return ok;
}

START_TEST(test_ipv4_address_is_ip_colon_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons(9999)};
	char buf[TC_ADDR_STR_MAX];

	inet_pton(AF_INET, "192.0.2.7", &sa.sin_addr);
	ck_assert_str_eq(tc_net_addr_str((void *)&sa, buf), "192.0.2.7:9999");
}
END_TEST

START_TEST(test_ipv6_address_is_bracketed)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
	                          .sin6_port = htons(80)};
	char buf[TC_ADDR_STR_MAX];

	inet_pton(AF_INET6, "2001:db8::1", &sa.sin6_addr);
	ck_assert_str_eq(tc_net_addr_str((void *)&sa, buf), "[2001:db8::1]:80");
}
END_TEST

START_TEST(test_ipv4_mapped_address_is_shown_as_ipv4)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
	                          .sin6_port = htons(5555)};
	char buf[TC_ADDR_STR_MAX];

	inet_pton(AF_INET6, "::ffff:10.1.2.3", &sa.sin6_addr);
	ck_assert_str_eq(tc_net_addr_str((void *)&sa, buf), "10.1.2.3:5555");
}
END_TEST

START_TEST(test_listen_port_zero_reports_real_port_and_accepts)
{
	char bound[TC_ADDR_STR_MAX], err[TC_ERR_MAX], port[16];
	char local[TC_ADDR_STR_MAX], peer[TC_ADDR_STR_MAX];
	int lfd, cfd, afd;

	lfd = tc_net_listen("127.0.0.1", "0", 16, bound, err, sizeof(err));
	ck_assert_msg(lfd >= 0, "listen: %s", err);
	ck_assert_int_eq(strncmp(bound, "127.0.0.1:", 10), 0);
	ck_assert_int_gt(port_of(bound), 0);
	snprintf(port, sizeof(port), "%d", port_of(bound));
	cfd = tc_net_connect("127.0.0.1", port, AF_UNSPEC, err, sizeof(err));
	ck_assert_msg(cfd >= 0, "connect: %s", err);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	ck_assert_str_eq(tc_net_peer_str(afd, peer),
	                 tc_net_local_str(cfd, local));
	close(afd);
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(test_port_in_use_names_address_and_reason)
{
	char bound[TC_ADDR_STR_MAX], err[TC_ERR_MAX], port[16], want[128];
	int lfd, second;

	lfd = tc_net_listen("127.0.0.1", "0", 16, bound, err, sizeof(err));
	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", port_of(bound));
	second = tc_net_listen("127.0.0.1", port, 16, bound, err, sizeof(err));
	ck_assert_int_eq(second, -1);
	ck_assert_int_eq(errno, EADDRINUSE);
	snprintf(want, sizeof(want), "bind 127.0.0.1:%s: %s", port,
	         strerror(EADDRINUSE));
	ck_assert_str_eq(err, want);
	close(lfd);
}
END_TEST

START_TEST(test_every_interface_is_dual_stack)
{
	char bound[TC_ADDR_STR_MAX], err[TC_ERR_MAX], port[16];
	char peer[TC_ADDR_STR_MAX];
	int lfd, cfd, afd;

	if (!have_ipv6())
		return; /* IPv4 only here: nothing dual to check */
	lfd = tc_net_listen(NULL, "0", 16, bound, err, sizeof(err));
	ck_assert_msg(lfd >= 0, "listen: %s", err);
	ck_assert_int_eq(strncmp(bound, "[::]:", 5), 0);
	snprintf(port, sizeof(port), "%d", port_of(bound));
	cfd = tc_net_connect("127.0.0.1", port, AF_INET, err, sizeof(err));
	ck_assert_msg(cfd >= 0, "connect: %s", err);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	/* The IPv4 peer of an IPv6 socket is shown as plain IPv4. */
	ck_assert_int_eq(strncmp(tc_net_peer_str(afd, peer), "127.0.0.1:", 10),
	                 0);
	close(afd);
	close(cfd);
	close(lfd);
}
END_TEST

START_TEST(test_refused_connect_names_address_and_reason)
{
	char bound[TC_ADDR_STR_MAX], err[TC_ERR_MAX], port[16], want[128];
	int lfd;

	/* A port that was just free: bind, learn it, close. */
	lfd = tc_net_listen("127.0.0.1", "0", 1, bound, err, sizeof(err));
	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", port_of(bound));
	close(lfd);
	ck_assert_int_eq(
	    tc_net_connect("127.0.0.1", port, AF_UNSPEC, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%s: %s", port,
	         strerror(ECONNREFUSED));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_numeric_address_of_the_other_family_says_so)
{
	char err[TC_ERR_MAX];

	ck_assert_int_eq(
	    tc_net_connect("::1", "9999", AF_INET, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	                 "resolve ::1: an IPv6 address, but -4 asks for IPv4");
	ck_assert_int_eq(
	    tc_net_connect("127.0.0.1", "9999", AF_INET6, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(
	    err, "resolve 127.0.0.1: an IPv4 address, but -6 asks for IPv6");
}
END_TEST

/* A listener with backlog 0 whose one queued connection is never accepted
 * has a full accept queue: the kernel drops further SYNs, as a host
 * behind a dropping firewall does, and a connect to it hangs. */
START_TEST(test_connect_that_gets_no_answer_times_out)
{
	char bound[TC_ADDR_STR_MAX], err[TC_ERR_MAX], port[16], want[128];
	int lfd, filler;

	lfd = tc_net_listen("127.0.0.1", "0", 0, bound, err, sizeof(err));
	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", port_of(bound));
	filler = tc_net_connect("127.0.0.1", port, AF_INET, err, sizeof(err));
	ck_assert_msg(filler >= 0, "connect: %s", err);
	ck_assert_int_eq(tc_net_connect_within("127.0.0.1", port, AF_INET, 200,
	                                       err, sizeof(err)),
	                 -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	snprintf(want, sizeof(want),
	         "connect 127.0.0.1:%s: timed out after 1 s", port);
	ck_assert_str_eq(err, want);
	close(filler);
	close(lfd);
}
END_TEST

START_TEST(test_connect_within_a_bound_gives_a_blocking_fd)
{
	char bound[TC_ADDR_STR_MAX], err[TC_ERR_MAX], port[16];
	int lfd, cfd;

	lfd = tc_net_listen("127.0.0.1", "0", 4, bound, err, sizeof(err));
	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", port_of(bound));
	cfd = tc_net_connect_within("127.0.0.1", port, AF_UNSPEC, 5000, err,
	                            sizeof(err));
	ck_assert_msg(cfd >= 0, "connect: %s", err);
	ck_assert_int_eq(fcntl(cfd, F_GETFL) & O_NONBLOCK, 0);
	close(cfd);
	close(lfd);
}
END_TEST

struct sink {
	int fd;
	size_t got;
	unsigned long sum; /* position-weighted, to catch reordering */
};

static void *
sink_main(void *arg)
{
	struct sink *s = arg;
	unsigned char buf[65536];
	ssize_t n, i;

	while ((n = read(s->fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++, s->got++)
			s->sum += (unsigned long)buf[i] * (s->got % 251 + 1);
	return NULL;
}

enum { PARTS = 300, PART_LEN = 10000 };
static unsigned char data[PARTS][PART_LEN];

/* Fills data and points iov at it; returns the sum a sink must find. */
static unsigned long
fill_parts(struct iovec *iov)
{
	unsigned long want = 0;
	size_t i, j, pos = 0;

	for (i = 0; i < PARTS; i++) {
		for (j = 0; j < PART_LEN; j++, pos++) {
			data[i][j] = (unsigned char)(i * 7 + j * 13);
			want += (unsigned long)data[i][j] * (pos % 251 + 1);
		}
		iov[i].iov_base = data[i];
		iov[i].iov_len = PART_LEN;
	}
	return want;
}

START_TEST(test_writev_all_sends_everything_in_order)
{
	struct iovec iov[PARTS];
	struct sink s = {0};
	unsigned long want = fill_parts(iov);
	pthread_t tid;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.fd = sv[1];
	pthread_create(&tid, NULL, sink_main, &s);
	/* 3 MB through a small socket buffer: many partial writes. */
	ck_assert_int_eq(tc_net_writev_all(sv[0], iov, PARTS), 0);
	close(sv[0]);
	pthread_join(tid, NULL);
	close(sv[1]);
	ck_assert_uint_eq(s.got, (size_t)PARTS * PART_LEN);
	ck_assert_uint_eq(s.sum, want);
}
END_TEST

START_TEST(test_writev_until_stops_for_stop_fd_and_resumes)
{
	struct iovec iov[PARTS];
	struct sink s = {0};
	unsigned long want = fill_parts(iov);
	size_t left = 0;
	pthread_t tid;
	int sv[2], stop[2];
	char c;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_eq(write(stop[1], "x", 1), 1);
	/* Nobody reads yet: it fills the socket, then sees stop_fd. */
	ck_assert_int_eq(tc_net_writev_until(sv[0], iov, PARTS, stop[0]), -1);
	ck_assert_int_eq(errno, ECANCELED);
	for (size_t i = 0; i < PARTS; i++)
		left += iov[i].iov_len;
	ck_assert_uint_gt(left, 0);
	ck_assert_uint_lt(left, (size_t)PARTS * PART_LEN);
	/* The same call again sends the rest, in order. */
	ck_assert_int_eq(read(stop[0], &c, 1), 1);
	s.fd = sv[1];
	pthread_create(&tid, NULL, sink_main, &s);
	ck_assert_int_eq(tc_net_writev_until(sv[0], iov, PARTS, stop[0]), 0);
	close(sv[0]);
	pthread_join(tid, NULL);
	close(sv[1]);
	close(stop[0]);
	close(stop[1]);
	ck_assert_uint_eq(s.got, (size_t)PARTS * PART_LEN);
	ck_assert_uint_eq(s.sum, want);
}
END_TEST

START_TEST(test_write_to_vanished_peer_is_epipe_not_sigpipe)
{
	int sv[2];

	signal(SIGPIPE, SIG_DFL); /* SIGPIPE would kill this test */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	ck_assert_int_eq(tc_net_write_all(sv[0], "hi\n", 3), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
}
END_TEST

/* The lines the join hints said, one after another. */
static char said[8][256];
static int n_said;

static void
collect(const char *line)
{
	ck_assert_int_lt(n_said, 8);
	snprintf(said[n_said++], sizeof(said[0]), "%s", line);
}

/* An interface list node holding one address (storage given by the
 * caller), linked before next. */
static struct ifaddrs *
iface(struct ifaddrs *node, struct sockaddr_storage *ss, const char *name,
      unsigned flags, const char *addr, struct ifaddrs *next)
{
	memset(node, 0, sizeof(*node));
	memset(ss, 0, sizeof(*ss));
	node->ifa_name = (char *)name;
	node->ifa_flags = flags;
	node->ifa_next = next;
	if (addr == NULL)
		return node; /* an interface with no address (AF_PACKET) */
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *in6 = (void *)ss;

		in6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (void *)ss;

		in->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	}
	node->ifa_addr = (struct sockaddr *)ss;
	return node;
}

/* What a server bound to addr:port says about the interfaces in
 * names/flags/addrs; returns the number of lines. */
static int
hints_for(const char *addr, unsigned port, int v6only, size_t n,
          const unsigned *flags, const char *const *addrs)
{
	struct ifaddrs nodes[8], *head = NULL;
	struct sockaddr_storage store[8], bound;
	struct ifaddrs bound_node;

	ck_assert_uint_le(n, 8);
	for (size_t i = n; i-- > 0;)
		head = iface(&nodes[i], &store[i], "eth", flags[i], addrs[i],
		             head);
	iface(&bound_node, &bound, "bound", 0, addr, NULL);
	if (bound.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&bound)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&bound)->sin_port = htons(port);
	n_said = 0;
	return tc_net_join_hints_from(head, (struct sockaddr *)&bound, v6only,
	                              "tcpchatd: ", collect);
}

#define UP (IFF_UP | IFF_RUNNING)

START_TEST(test_join_hints_name_each_global_address_bare)
{
	const unsigned flags[] = {
	    UP | IFF_LOOPBACK, UP | IFF_LOOPBACK, UP, UP, UP, UP};
	const char *const addrs[] = {"127.0.0.1",    "::1",     NULL,
	                             "192.168.1.20", "fe80::1", "2001:db8::7"};

	ck_assert_int_eq(hints_for("::", 9999, 0, 6, flags, addrs), 2);
	ck_assert_str_eq(said[0], "tcpchatd: join with: tcpchat 192.168.1.20");
	ck_assert_str_eq(said[1], "tcpchatd: join with: tcpchat 2001:db8::7");
}
END_TEST

START_TEST(test_join_hints_add_a_port_that_is_not_the_default)
{
	const unsigned flags[] = {UP};
	const char *const addrs[] = {"10.0.0.5"};

	ck_assert_int_eq(hints_for("::", 4000, 0, 1, flags, addrs), 1);
	ck_assert_str_eq(said[0], "tcpchatd: join with: tcpchat 10.0.0.5 4000");
}
END_TEST

START_TEST(test_join_hints_skip_interfaces_that_are_down)
{
	const unsigned flags[] = {IFF_RUNNING, UP};
	const char *const addrs[] = {"10.0.0.5", "10.0.0.6"};

	ck_assert_int_eq(hints_for("::", 9999, 0, 2, flags, addrs), 1);
	ck_assert_str_eq(said[0], "tcpchatd: join with: tcpchat 10.0.0.6");
}
END_TEST

START_TEST(test_join_hints_follow_the_families_the_socket_takes)
{
	const unsigned flags[] = {UP, UP};
	const char *const addrs[] = {"10.0.0.5", "2001:db8::7"};

	/* IPv4 only (no IPv6 on the machine): no IPv6 address helps. */
	ck_assert_int_eq(hints_for("0.0.0.0", 9999, 0, 2, flags, addrs), 1);
	ck_assert_str_eq(said[0], "tcpchatd: join with: tcpchat 10.0.0.5");
	/* An IPv6 socket that refused dual-stack takes no IPv4 peer. */
	ck_assert_int_eq(hints_for("::", 9999, 1, 2, flags, addrs), 1);
	ck_assert_str_eq(said[0], "tcpchatd: join with: tcpchat 2001:db8::7");
}
END_TEST

START_TEST(test_join_hints_without_a_global_address_say_only_loopback)
{
	const unsigned flags[] = {UP | IFF_LOOPBACK, UP, IFF_RUNNING};
	const char *const addrs[] = {"127.0.0.1", "fe80::1", "10.0.0.5"};

	ck_assert_int_eq(hints_for("::", 9999, 0, 3, flags, addrs), 1);
	ck_assert_str_eq(said[0], "tcpchatd: only this machine can join (no "
	                          "interface is up with a global address): "
	                          "tcpchat 127.0.0.1");
	ck_assert_int_eq(hints_for("::", 9000, 0, 0, flags, addrs), 1);
	ck_assert_str_eq(said[0], "tcpchatd: only this machine can join (no "
	                          "interface is up with a global address): "
	                          "tcpchat 127.0.0.1 9000");
}
END_TEST

START_TEST(test_join_hints_say_nothing_for_one_listening_address)
{
	const unsigned flags[] = {UP};
	const char *const addrs[] = {"10.0.0.5"};

	ck_assert_int_eq(hints_for("127.0.0.1", 9999, 0, 1, flags, addrs), 0);
	ck_assert_int_eq(hints_for("10.0.0.5", 9999, 0, 1, flags, addrs), 0);
	ck_assert_int_eq(n_said, 0);
}
END_TEST

/* The machine's own interfaces: every line names a global address of an
 * interface that is up, or it is the single loopback line. */
START_TEST(test_join_hints_for_a_real_socket_match_getifaddrs)
{
	char bound[TC_ADDR_STR_MAX], err[TC_ERR_MAX];
	struct ifaddrs *ifs;
	int lfd, n;

	lfd = tc_net_listen(NULL, "0", 16, bound, err, sizeof(err));
	ck_assert_msg(lfd >= 0, "listen: %s", err);
	n_said = 0;
	n = tc_net_join_hints(lfd, "x: ", collect);
	ck_assert_int_ge(n, 1);
	ck_assert_int_eq(n, n_said);
	ck_assert_int_eq(getifaddrs(&ifs), 0);
	for (int i = 0; i < n; i++) {
		char *addr = said[i] + strlen("x: join with: tcpchat ");
		char *space = strchr(addr, ' ');
		bool seen = false;

		if (strncmp(said[i], "x: only this machine", 20) == 0) {
			ck_assert_int_eq(n, 1);
			break;
		}
		ck_assert_msg(strncmp(said[i], "x: join with: tcpchat ", 22) ==
		                  0,
		              "%s", said[i]);
		ck_assert_ptr_nonnull(space); /* the port is not 9999 */
		ck_assert_int_eq(atoi(space + 1), port_of(bound));
		*space = '\0';
		for (struct ifaddrs *f = ifs; f != NULL && !seen;
		     f = f->ifa_next) {
			char host[INET6_ADDRSTRLEN] = "";

			if (f->ifa_addr == NULL || !(f->ifa_flags & IFF_UP) ||
			    (f->ifa_flags & IFF_LOOPBACK))
				continue;
			if (f->ifa_addr->sa_family == AF_INET)
				inet_ntop(AF_INET,
				          &((struct sockaddr_in *)f->ifa_addr)
				               ->sin_addr,
				          host, sizeof(host));
			else if (f->ifa_addr->sa_family == AF_INET6)
				inet_ntop(AF_INET6,
				          &((struct sockaddr_in6 *)f->ifa_addr)
				               ->sin6_addr,
				          host, sizeof(host));
			seen = strcmp(host, addr) == 0;
		}
		ck_assert_msg(
		    seen, "%s is no address of an interface that is up", addr);
	}
	freeifaddrs(ifs);
	close(lfd);
}
END_TEST

static Suite *
net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *addr = tcase_create("addresses");
	TCase *sock = tcase_create("sockets");
	TCase *join = tcase_create("join hints");

	tcase_add_test(addr, test_ipv4_address_is_ip_colon_port);
	tcase_add_test(addr, test_ipv6_address_is_bracketed);
	tcase_add_test(addr, test_ipv4_mapped_address_is_shown_as_ipv4);
	suite_add_tcase(s, addr);
	tcase_add_test(sock,
	               test_listen_port_zero_reports_real_port_and_accepts);
	tcase_add_test(sock, test_port_in_use_names_address_and_reason);
	tcase_add_test(sock, test_every_interface_is_dual_stack);
	tcase_add_test(sock, test_refused_connect_names_address_and_reason);
	tcase_add_test(sock, test_numeric_address_of_the_other_family_says_so);
	tcase_add_test(sock, test_connect_that_gets_no_answer_times_out);
	tcase_add_test(sock, test_connect_within_a_bound_gives_a_blocking_fd);
	tcase_add_test(sock, test_writev_all_sends_everything_in_order);
	tcase_add_test(sock, test_writev_until_stops_for_stop_fd_and_resumes);
	tcase_add_test(sock, test_write_to_vanished_peer_is_epipe_not_sigpipe);
	tcase_set_timeout(sock, 20);
	suite_add_tcase(s, sock);
	tcase_add_test(join, test_join_hints_name_each_global_address_bare);
	tcase_add_test(join,
	               test_join_hints_add_a_port_that_is_not_the_default);
	tcase_add_test(join, test_join_hints_skip_interfaces_that_are_down);
	tcase_add_test(join,
	               test_join_hints_follow_the_families_the_socket_takes);
	tcase_add_test(
	    join, test_join_hints_without_a_global_address_say_only_loopback);
	tcase_add_test(join,
	               test_join_hints_say_nothing_for_one_listening_address);
	tcase_add_test(join,
	               test_join_hints_for_a_real_socket_match_getifaddrs);
	suite_add_tcase(s, join);
	return s;
}

Suite *
tc_test_suite(void)
{
	return net_suite();
}
