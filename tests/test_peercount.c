/* Unit tests for peercount: the --max-per-ip limit per address, IPv4 and
 * mapped IPv6 counted as one, release, no limit, and a table that grows
 * and shrinks through many addresses without losing count. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "check_main.h"
#include "tcpchat/peercount.h"

static struct sockaddr_storage
peer(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	}
	return ss;
}

#define SA(ss) ((struct sockaddr *)&(ss))

START_TEST(test_limit_per_address)
{
	struct tc_peercount *pc = tc_peercount_new(2);
	struct sockaddr_storage a1 = peer("192.0.2.1", 1000),
	                        a2 = peer("192.0.2.1", 1001),
	                        a3 = peer("192.0.2.1", 1002),
	                        b = peer("192.0.2.2", 1000);

	ck_assert_int_eq(tc_peercount_acquire(pc, SA(a1)), 0);
	ck_assert_int_eq(tc_peercount_acquire(pc, SA(a2)), 0);
	errno = 0;
	ck_assert_int_eq(tc_peercount_acquire(pc, SA(a3)), -1);
	ck_assert_int_eq(errno, EUSERS);
	ck_assert_uint_eq(tc_peercount_get(pc, SA(a3)), 2);
	ck_assert_int_eq(tc_peercount_acquire(pc, SA(b)), 0);
	tc_peercount_release(pc, SA(a1));
	ck_assert_int_eq(tc_peercount_acquire(pc, SA(a3)), 0);
	tc_peercount_free(pc);
}
END_TEST

START_TEST(test_mapped_ipv6_counts_as_its_ipv4_address)
{
	struct tc_peercount *pc = tc_peercount_new(1);
	struct sockaddr_storage v4 = peer("198.51.100.7", 1),
	                        mapped = peer("::ffff:198.51.100.7", 2),
	                        v6 = peer("2001:db8::7", 3);

	ck_assert_int_eq(tc_peercount_acquire(pc, SA(v4)), 0);
	ck_assert_int_eq(tc_peercount_acquire(pc, SA(mapped)), -1);
	ck_assert_int_eq(tc_peercount_acquire(pc, SA(v6)), 0);
	tc_peercount_release(pc, SA(mapped));
	ck_assert_uint_eq(tc_peercount_get(pc, SA(v4)), 0);
	tc_peercount_free(pc);
}
END_TEST

START_TEST(test_no_limit_counts_nothing)
{
	struct tc_peercount *pc = tc_peercount_new(0);
	struct sockaddr_storage a = peer("192.0.2.1", 1);

	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(tc_peercount_acquire(pc, SA(a)), 0);
	ck_assert_uint_eq(tc_peercount_get(pc, SA(a)), 0);
	tc_peercount_free(pc);
}
END_TEST

START_TEST(test_non_ip_peers_are_not_counted)
{
	struct tc_peercount *pc = tc_peercount_new(1);
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	ck_assert_int_eq(tc_peercount_acquire(pc, SA(un)), 0);
	ck_assert_int_eq(tc_peercount_acquire(pc, SA(un)), 0);
	tc_peercount_release(pc, SA(un));
	tc_peercount_free(pc);
}
END_TEST

START_TEST(test_release_of_an_unknown_address_is_harmless)
{
	struct tc_peercount *pc = tc_peercount_new(1);
	struct sockaddr_storage a = peer("192.0.2.1", 1),
	                        b = peer("192.0.2.9", 1);

	ck_assert_int_eq(tc_peercount_acquire(pc, SA(a)), 0);
	tc_peercount_release(pc, SA(b));
	ck_assert_uint_eq(tc_peercount_get(pc, SA(a)), 1);
	tc_peercount_free(pc);
}
END_TEST

/* Thousands of addresses in and out in a scrambled order: the table grows
 * past its first size, deletions shift entries back, and every count
 * stays right. */
START_TEST(test_many_addresses_grow_and_shrink)
{
	enum { N = 5000 };
	struct tc_peercount *pc = tc_peercount_new(3);
	char ip[64];

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < N; i++) {
			struct sockaddr_storage a;

			snprintf(ip, sizeof(ip), "2001:db8::%x:%x", i, i * 7);
			a = peer(ip, 1);
			ck_assert_int_eq(tc_peercount_acquire(pc, SA(a)), 0);
		}
	for (int i = 0; i < N; i += 2) {
		struct sockaddr_storage a;

		snprintf(ip, sizeof(ip), "2001:db8::%x:%x", i, i * 7);
		a = peer(ip, 1);
		tc_peercount_release(pc, SA(a));
		tc_peercount_release(pc, SA(a));
	}
	for (int i = 0; i < N; i++) {
		struct sockaddr_storage a;

		snprintf(ip, sizeof(ip), "2001:db8::%x:%x", i, i * 7);
		a = peer(ip, 1);
		ck_assert_uint_eq(tc_peercount_get(pc, SA(a)),
		                  i % 2 == 0 ? 0 : 2);
	}
	tc_peercount_free(pc);
}
END_TEST

static Suite *
peercount_suite(void)
{
	Suite *s = suite_create("peercount");
	TCase *tc = tcase_create("count");

	tcase_add_test(tc, test_limit_per_address);
	tcase_add_test(tc, test_mapped_ipv6_counts_as_its_ipv4_address);
	tcase_add_test(tc, test_no_limit_counts_nothing);
	tcase_add_test(tc, test_non_ip_peers_are_not_counted);
	tcase_add_test(tc, test_release_of_an_unknown_address_is_harmless);
	tcase_add_test(tc, test_many_addresses_grow_and_shrink);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return peercount_suite();
}
