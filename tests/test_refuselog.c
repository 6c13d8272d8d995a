/* Unit tests for refuselog on a made-up clock: once per address and
 * reason per window, the count of what went unsaid, ports and mapped
 * addresses, and a storm of distinct addresses in fixed memory. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "tcpchat/refuselog.h"

#define S 1000000000LL

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

enum { NOT_ALLOWED, PER_IP, FULL };

START_TEST(test_once_per_address_and_reason_per_window)
{
	struct tc_refuselog *rl = tc_refuselog_new(60 * S);
	struct sockaddr_storage a = peer("192.0.2.1", 1000);
	unsigned long unsaid = 99;

	ck_assert(tc_refuselog_should_say(rl, SA(a), NOT_ALLOWED, 0, &unsaid));
	ck_assert_uint_eq(unsaid, 0);
	for (int i = 1; i <= 500; i++)
		ck_assert(!tc_refuselog_should_say(rl, SA(a), NOT_ALLOWED,
		                                   i * (S / 10), NULL));
	/* Another reason for the same address is news. */
	ck_assert(tc_refuselog_should_say(rl, SA(a), FULL, 51 * S, NULL));
	ck_assert(
	    !tc_refuselog_should_say(rl, SA(a), NOT_ALLOWED, 60 * S - 1, NULL));
	ck_assert(
	    tc_refuselog_should_say(rl, SA(a), NOT_ALLOWED, 60 * S, &unsaid));
	ck_assert_uint_eq(unsaid, 501);
	ck_assert(
	    !tc_refuselog_should_say(rl, SA(a), NOT_ALLOWED, 61 * S, &unsaid));
	tc_refuselog_free(rl);
}
END_TEST

START_TEST(test_port_does_not_matter_and_mapped_is_ipv4)
{
	struct tc_refuselog *rl = tc_refuselog_new(60 * S);
	struct sockaddr_storage a = peer("192.0.2.1", 1000),
	                        b = peer("192.0.2.1", 2000),
	                        m = peer("::ffff:192.0.2.1", 3000),
	                        other = peer("192.0.2.2", 1000);

	ck_assert(tc_refuselog_should_say(rl, SA(a), PER_IP, 0, NULL));
	ck_assert(!tc_refuselog_should_say(rl, SA(b), PER_IP, S, NULL));
	ck_assert(!tc_refuselog_should_say(rl, SA(m), PER_IP, S, NULL));
	ck_assert(tc_refuselog_should_say(rl, SA(other), PER_IP, S, NULL));
	tc_refuselog_free(rl);
}
END_TEST

/* Far more addresses than slots: memory stays fixed, every new address is
 * said, and a recent one is still remembered. */
START_TEST(test_a_storm_of_addresses_in_fixed_memory)
{
	struct tc_refuselog *rl = tc_refuselog_new(60 * S);
	struct sockaddr_storage loop = peer("203.0.113.5", 1);
	char ip[64];
	int said = 0;

	for (int i = 0; i < 10 * TC_REFUSELOG_SLOTS; i++) {
		struct sockaddr_storage a;

		snprintf(ip, sizeof(ip), "2001:db8::%x", i);
		a = peer(ip, 1);
		said += tc_refuselog_should_say(rl, SA(a), NOT_ALLOWED,
		                                i * 1000LL, NULL);
	}
	ck_assert_int_eq(said, 10 * TC_REFUSELOG_SLOTS);
	ck_assert(tc_refuselog_should_say(rl, SA(loop), NOT_ALLOWED, S, NULL));
	for (int i = 0; i < 1000; i++)
		ck_assert(!tc_refuselog_should_say(rl, SA(loop), NOT_ALLOWED,
		                                   S + i, NULL));
	tc_refuselog_free(rl);
}
END_TEST

static Suite *
refuselog_suite(void)
{
	Suite *s = suite_create("refuselog");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, test_once_per_address_and_reason_per_window);
	tcase_add_test(tc, test_port_does_not_matter_and_mapped_is_ipv4);
	tcase_add_test(tc, test_a_storm_of_addresses_in_fixed_memory);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return refuselog_suite();
}
