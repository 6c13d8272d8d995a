/* Unit tests for cidr: parsing and printing networks, IPv4-mapped peers,
 * allow and deny matching (prefix lengths 0 and 32/128, overlaps), rules
 * files, the listing for /bans, a brute-force cross-check on 10,000 rules
 * and matching while another thread changes the rules. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_main.h"
#include "tcpchat/cidr.h"

static char err[512];

static struct tc_cidr
cidr(const char *text)
{
	struct tc_cidr c;

	ck_assert_msg(tc_cidr_parse(text, &c, err, sizeof(err)) == 0,
	              "parse '%s': %s", text, err);
	return c;
}

/* Whether c is the rule text parses to. */
static bool
same(const struct tc_cidr *c, const char *text)
{
	struct tc_cidr want = cidr(text);

	return tc_cidr_equal(c, &want);
}

/* A peer address as accept() gives it (port 4242). */
static struct sockaddr_storage
peer(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(4242);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(4242);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	}
	return ss;
}

static enum tc_cidr_verdict
match(struct tc_cidr_set *set, const char *ip)
{
	struct sockaddr_storage ss = peer(ip);

	return tc_cidr_set_match(set, (struct sockaddr *)&ss, NULL);
}

static void
add(struct tc_cidr_set *set, enum tc_cidr_kind kind, const char *text)
{
	struct tc_cidr c = cidr(text);

	ck_assert_int_eq(
	    tc_cidr_set_add(set, kind, &c, TC_CIDR_FROM_COMMAND_LINE), 0);
}

/* Parses text and prints it back. */
static const char *
round_trip(const char *text)
{
	static char buf[TC_CIDR_STR_MAX];
	struct tc_cidr c = cidr(text);

	return tc_cidr_format(&c, buf);
}

#define ck_bad(text, want)                                                     \
	do {                                                                   \
		struct tc_cidr c_;                                             \
		ck_assert_int_eq(tc_cidr_parse((text), &c_, err, sizeof(err)), \
		                 -1);                                          \
		ck_assert_str_eq(err, (want));                                 \
	} while (0)

/* ---- parsing and printing ---- */

START_TEST(test_parse_ipv4_address_and_network)
{
	struct tc_cidr c = cidr("192.168.1.7");

	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.len, 32);
	ck_assert_uint_eq(c.hi, (uint64_t)0xc0a80107 << 32);
	ck_assert_uint_eq(c.lo, 0);
	c = cidr("10.0.0.0/8");
	ck_assert_uint_eq(c.len, 8);
	ck_assert_uint_eq(c.hi, (uint64_t)0x0a000000 << 32);
}
END_TEST

START_TEST(test_parse_ipv6_address_and_network)
{
	struct tc_cidr c = cidr("2001:db8::1");

	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_uint_eq(c.len, 128);
	ck_assert_uint_eq(c.hi, 0x20010db800000000ULL);
	ck_assert_uint_eq(c.lo, 1);
	c = cidr("2001:db8:0:1::/64");
	ck_assert_uint_eq(c.len, 64);
	ck_assert_uint_eq(c.hi, 0x20010db800000001ULL);
	ck_assert_uint_eq(c.lo, 0);
	c = cidr("2001:db8::8000:0:0:0/65");
	ck_assert_uint_eq(c.len, 65);
	ck_assert_uint_eq(c.lo, 0x8000000000000000ULL);
}
END_TEST

START_TEST(test_parse_prefix_lengths_0_and_full)
{
	ck_assert_str_eq(round_trip("0.0.0.0/0"), "0.0.0.0/0");
	ck_assert_str_eq(round_trip("::/0"), "::/0");
	ck_assert_str_eq(round_trip("10.1.2.3/32"), "10.1.2.3");
	ck_assert_str_eq(round_trip("::1/128"), "::1");
	ck_assert_str_eq(round_trip("255.255.255.255"), "255.255.255.255");
}
END_TEST

START_TEST(test_parse_mapped_network_is_the_ipv4_rule)
{
	struct tc_cidr c = cidr("::ffff:10.0.0.0/104");

	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.len, 8);
	ck_assert(same(&c, "10.0.0.0/8"));
	ck_assert_str_eq(round_trip("::ffff:192.0.2.1"), "192.0.2.1");
	ck_assert_str_eq(round_trip("::ffff:0:0/96"), "0.0.0.0/0");
	/* Shorter than the mapped block: an IPv6 rule as written. */
	ck_assert_str_eq(round_trip("::/95"), "::/95");
	ck_assert_int_eq(cidr("::/95").family, AF_INET6);
}
END_TEST

START_TEST(test_format_is_canonical_and_reparses)
{
	static const char *const in[] = {
	    "2001:0db8:0000:0000::/64",
	    "2001:DB8::/32",
	    "10.0.0.0/08",
	    "fe80::/10",
	    "::/1",
	    "8000::/1",
	};
	static const char *const out[] = {
	    "2001:db8::/64", "2001:db8::/32", "10.0.0.0/8",
	    "fe80::/10",     "::/1",          "8000::/1",
	};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char buf[TC_CIDR_STR_MAX];
		struct tc_cidr a = cidr(in[i]), b;

		ck_assert_str_eq(tc_cidr_format(&a, buf), out[i]);
		b = cidr(buf);
		ck_assert(tc_cidr_equal(&a, &b));
	}
}
END_TEST

START_TEST(test_parse_errors_say_what_is_wrong)
{
	ck_bad("", "bad CIDR '': empty");
	ck_bad("10.0.0", "bad CIDR '10.0.0': not an IPv4 or IPv6 address");
	ck_bad("example.org",
	       "bad CIDR 'example.org': not an IPv4 or IPv6 address");
	ck_bad("1.2.3.4 ", "bad CIDR '1.2.3.4 ': not an IPv4 or IPv6 address");
	ck_bad("010.0.0.1",
	       "bad CIDR '010.0.0.1': not an IPv4 or IPv6 address");
	ck_bad("10.0.0.0/33",
	       "bad CIDR '10.0.0.0/33': the prefix length must be 0 to 32");
	ck_bad("::/129", "bad CIDR '::/129': the prefix length must be 0 to "
	                 "128");
	ck_bad("10.0.0.0/", "bad CIDR '10.0.0.0/': the prefix length must be "
	                    "0 to 32");
	ck_bad("10.0.0.0/-1", "bad CIDR '10.0.0.0/-1': the prefix length "
	                      "must be 0 to 32");
	ck_bad("10.0.0.0/8/8", "bad CIDR '10.0.0.0/8/8': the prefix length "
	                       "must be 0 to 32");
	ck_bad("10.1.2.3/8", "bad CIDR '10.1.2.3/8': host bits set (the "
	                     "network is 10.0.0.0/8)");
	ck_bad("2001:db8::1/32", "bad CIDR '2001:db8::1/32': host bits set "
	                         "(the network is 2001:db8::/32)");
	ck_bad("fe80::1%eth0",
	       "bad CIDR 'fe80::1%eth0': a zone index (%) is not allowed");
}
END_TEST

START_TEST(test_parse_error_quotes_input_safely)
{
	char long_text[300];

	ck_bad("\x1b[2J", "bad CIDR '\\x1b[2J': not an IPv4 or IPv6 address");
	memset(long_text, '9', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	ck_assert_int_eq(
	    tc_cidr_parse(long_text, &(struct tc_cidr){0}, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "...'"));
	ck_assert_uint_lt(strlen(err), 140);
}
END_TEST

START_TEST(test_from_sockaddr_maps_ipv4_mapped_to_ipv4)
{
	struct sockaddr_storage ss = peer("::ffff:192.0.2.9");
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct tc_cidr c, want = cidr("192.0.2.9");

	ck_assert_int_eq(tc_cidr_from_sockaddr((struct sockaddr *)&ss, &c), 0);
	ck_assert(tc_cidr_equal(&c, &want));
	ss = peer("2001:db8::9");
	ck_assert_int_eq(tc_cidr_from_sockaddr((struct sockaddr *)&ss, &c), 0);
	want = cidr("2001:db8::9");
	ck_assert(tc_cidr_equal(&c, &want));
	errno = 0;
	ck_assert_int_eq(tc_cidr_from_sockaddr((struct sockaddr *)&un, &c), -1);
	ck_assert_int_eq(errno, EAFNOSUPPORT);
}
END_TEST

START_TEST(test_contains)
{
	struct tc_cidr net = cidr("10.0.0.0/8"), in = cidr("10.255.0.1"),
	               out = cidr("11.0.0.1"), v6 = cidr("::a00:1");

	ck_assert(tc_cidr_contains(&net, &in));
	ck_assert(!tc_cidr_contains(&net, &out));
	ck_assert(!tc_cidr_contains(&net, &v6));
	ck_assert(!tc_cidr_contains(&in, &net));
}
END_TEST

/* ---- matching ---- */

START_TEST(test_empty_set_allows_everyone)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	ck_assert_int_eq(match(set, "192.0.2.1"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(match(set, "2001:db8::1"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(tc_cidr_set_match(set, (struct sockaddr *)&un, NULL),
	                 TC_CIDR_ALLOWED);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_deny_one_address)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct sockaddr_storage ss = peer("192.0.2.7");
	struct tc_cidr why;

	add(set, TC_CIDR_DENY, "192.0.2.7");
	ck_assert_int_eq(tc_cidr_set_match(set, (struct sockaddr *)&ss, &why),
	                 TC_CIDR_DENIED);
	ck_assert(same(&why, "192.0.2.7"));
	ck_assert_int_eq(match(set, "192.0.2.6"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(match(set, "192.0.2.8"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(match(set, "::ffff:192.0.2.7"), TC_CIDR_DENIED);
	/* The same 32 bits as an IPv6 address are another address. */
	ck_assert_int_eq(match(set, "::c000:207"), TC_CIDR_ALLOWED);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_deny_prefix_0_covers_one_family_only)
{
	struct tc_cidr_set *set = tc_cidr_set_new();

	add(set, TC_CIDR_DENY, "0.0.0.0/0");
	ck_assert_int_eq(match(set, "0.0.0.0"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "255.255.255.255"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "::ffff:1.2.3.4"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "2001:db8::1"), TC_CIDR_ALLOWED);
	add(set, TC_CIDR_DENY, "::/0");
	ck_assert_int_eq(match(set, "2001:db8::1"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "::"), TC_CIDR_DENIED);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_deny_ipv6_address_and_network)
{
	struct tc_cidr_set *set = tc_cidr_set_new();

	add(set, TC_CIDR_DENY, "2001:db8::1");
	add(set, TC_CIDR_DENY, "2001:db8:1::/48");
	ck_assert_int_eq(match(set, "2001:db8::1"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "2001:db8::2"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(match(set, "2001:db8:1:ffff:ffff:ffff:ffff:ffff"),
	                 TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "2001:db8:2::"), TC_CIDR_ALLOWED);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_allow_rules_let_only_their_peers_in)
{
	struct tc_cidr_set *set = tc_cidr_set_new();

	add(set, TC_CIDR_ALLOW, "192.168.0.0/16");
	ck_assert_int_eq(match(set, "192.168.44.1"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(match(set, "::ffff:192.168.44.1"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(match(set, "192.169.0.1"), TC_CIDR_NOT_ALLOWED);
	/* An IPv4 allow list says nothing good about IPv6 peers. */
	ck_assert_int_eq(match(set, "2001:db8::1"), TC_CIDR_NOT_ALLOWED);
	add(set, TC_CIDR_ALLOW, "::1");
	ck_assert_int_eq(match(set, "::1"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(match(set, "::2"), TC_CIDR_NOT_ALLOWED);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_deny_wins_over_allow)
{
	struct tc_cidr_set *set = tc_cidr_set_new();

	add(set, TC_CIDR_ALLOW, "10.0.0.0/8");
	add(set, TC_CIDR_DENY, "10.1.0.0/16");
	add(set, TC_CIDR_ALLOW, "10.1.2.3");
	ck_assert_int_eq(match(set, "10.2.0.1"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(match(set, "10.1.9.9"), TC_CIDR_DENIED);
	/* A narrower allow does not undo a wider deny. */
	ck_assert_int_eq(match(set, "10.1.2.3"), TC_CIDR_DENIED);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_overlapping_denies_report_the_most_specific)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct sockaddr_storage ss = peer("10.1.2.3");
	struct tc_cidr why;

	add(set, TC_CIDR_DENY, "10.0.0.0/8");
	add(set, TC_CIDR_DENY, "10.1.0.0/16");
	add(set, TC_CIDR_DENY, "10.1.2.0/24");
	ck_assert_int_eq(tc_cidr_set_match(set, (struct sockaddr *)&ss, &why),
	                 TC_CIDR_DENIED);
	ck_assert(same(&why, "10.1.2.0/24"));
	/* Removing one overlapping rule leaves the others in force. */
	struct tc_cidr mid = cidr("10.1.2.0/24");
	ck_assert_int_eq(tc_cidr_set_remove(set, TC_CIDR_DENY, &mid, NULL), 0);
	ck_assert_int_eq(tc_cidr_set_match(set, (struct sockaddr *)&ss, &why),
	                 TC_CIDR_DENIED);
	ck_assert(same(&why, "10.1.0.0/16"));
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_add_twice_is_eexist_and_keeps_the_first)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct tc_cidr c = cidr("10.0.0.1");
	struct tc_cidr_rule *r;
	size_t n;

	ck_assert_int_eq(
	    tc_cidr_set_add(set, TC_CIDR_DENY, &c, TC_CIDR_FROM_COMMAND_LINE),
	    0);
	errno = 0;
	ck_assert_int_eq(
	    tc_cidr_set_add(set, TC_CIDR_DENY, &c, TC_CIDR_FROM_CONSOLE), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* The same network may be both allowed and denied (deny wins). */
	ck_assert_int_eq(
	    tc_cidr_set_add(set, TC_CIDR_ALLOW, &c, TC_CIDR_FROM_CONSOLE), 0);
	r = tc_cidr_set_snapshot(set, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(r[0].origin, TC_CIDR_FROM_COMMAND_LINE);
	ck_assert_int_eq(r[0].kind, TC_CIDR_DENY);
	ck_assert_int_eq(r[1].kind, TC_CIDR_ALLOW);
	free(r);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_remove_takes_the_exact_rule_only)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct tc_cidr wide = cidr("10.0.0.0/8"), narrow = cidr("10.0.0.0/16");
	enum tc_cidr_origin origin = TC_CIDR_FROM_FILE;

	ck_assert_int_eq(
	    tc_cidr_set_add(set, TC_CIDR_DENY, &wide, TC_CIDR_FROM_CONSOLE), 0);
	errno = 0;
	ck_assert_int_eq(tc_cidr_set_remove(set, TC_CIDR_DENY, &narrow, NULL),
	                 -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(tc_cidr_set_remove(set, TC_CIDR_ALLOW, &wide, NULL),
	                 -1);
	ck_assert_int_eq(match(set, "10.9.9.9"), TC_CIDR_DENIED);
	ck_assert_int_eq(tc_cidr_set_remove(set, TC_CIDR_DENY, &wide, &origin),
	                 0);
	ck_assert_int_eq(origin, TC_CIDR_FROM_CONSOLE);
	ck_assert_int_eq(match(set, "10.9.9.9"), TC_CIDR_ALLOWED);
	ck_assert_uint_eq(tc_cidr_set_count(set, TC_CIDR_DENY), 0);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_snapshot_lists_rules_in_order_with_origins)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct tc_cidr a = cidr("10.0.0.0/8"), b = cidr("2001:db8::/32"),
	               c = cidr("192.0.2.1");
	struct tc_cidr_rule *r;
	char buf[300], net[TC_CIDR_STR_MAX];
	size_t n;

	tc_cidr_set_add(set, TC_CIDR_ALLOW, &a, TC_CIDR_FROM_COMMAND_LINE);
	tc_cidr_set_add(set, TC_CIDR_DENY, &b, TC_CIDR_FROM_CONSOLE);
	tc_cidr_set_add(set, TC_CIDR_DENY, &c, TC_CIDR_FROM_CONSOLE);
	tc_cidr_set_remove(set, TC_CIDR_DENY, &b, NULL);
	r = tc_cidr_set_snapshot(set, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(tc_cidr_format(&r[0].net, net), "10.0.0.0/8");
	ck_assert_str_eq(tc_cidr_rule_origin_str(&r[0], buf, sizeof(buf)),
	                 "command line");
	ck_assert_str_eq(tc_cidr_format(&r[1].net, net), "192.0.2.1");
	ck_assert_str_eq(tc_cidr_rule_origin_str(&r[1], buf, sizeof(buf)),
	                 "console");
	free(r);
	tc_cidr_set_free(set);
	set = tc_cidr_set_new();
	errno = 7;
	ck_assert_ptr_null(tc_cidr_set_snapshot(set, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(errno, 0);
	tc_cidr_set_free(set);
}
END_TEST

/* ---- rules files ---- */

static int
load_text(struct tc_cidr_set *set, enum tc_cidr_kind kind, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	ck_assert_ptr_nonnull(f);
	rc = tc_cidr_set_load_stream(set, kind, f, "lab.rules", err,
	                             sizeof(err));
	fclose(f);
	return rc;
}

START_TEST(test_file_comments_blanks_and_spaces)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct tc_cidr_rule *r;
	char buf[300];
	size_t n;

	ck_assert_int_eq(load_text(set, TC_CIDR_DENY,
	                           "# the lab's troublemakers\n"
	                           "\n"
	                           "   \t\n"
	                           "  10.0.0.5   # bob\n"
	                           "2001:db8::/32\r\n"
	                           "192.0.2.0/24#no space before the comment\n"
	                           "198.51.100.1"),
	                 0);
	ck_assert_uint_eq(tc_cidr_set_count(set, TC_CIDR_DENY), 4);
	ck_assert_int_eq(match(set, "10.0.0.5"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "2001:db8:9::1"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "192.0.2.200"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "198.51.100.1"), TC_CIDR_DENIED);
	ck_assert_int_eq(match(set, "10.0.0.6"), TC_CIDR_ALLOWED);
	r = tc_cidr_set_snapshot(set, &n);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(tc_cidr_rule_origin_str(&r[0], buf, sizeof(buf)),
	                 "lab.rules:4");
	ck_assert_str_eq(tc_cidr_rule_origin_str(&r[3], buf, sizeof(buf)),
	                 "lab.rules:7");
	free(r);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_file_bad_line_names_file_and_line_and_adds_nothing)
{
	struct tc_cidr_set *set = tc_cidr_set_new();

	ck_assert_int_eq(load_text(set, TC_CIDR_ALLOW,
	                           "10.0.0.0/8\n# fine so far\n10.0.0.0/33\n"
	                           "192.0.2.1\n"),
	                 -1);
	ck_assert_str_eq(err, "lab.rules:3: bad CIDR '10.0.0.0/33': the "
	                      "prefix length must be 0 to 32");
	ck_assert_uint_eq(tc_cidr_set_count(set, TC_CIDR_ALLOW), 0);
	ck_assert_int_eq(match(set, "11.0.0.1"), TC_CIDR_ALLOWED);
	ck_assert_int_eq(load_text(set, TC_CIDR_ALLOW, "1.2.3.4 5.6.7.8\n"),
	                 -1);
	ck_assert_str_eq(err, "lab.rules:1: bad CIDR '1.2.3.4 5.6.7.8': not "
	                      "an IPv4 or IPv6 address");
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_file_with_a_nul_byte_is_refused)
{
	static const char text[] = "10.0.0.1\n10.0\0.0.2\n";
	struct tc_cidr_set *set = tc_cidr_set_new();
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");

	ck_assert_int_eq(tc_cidr_set_load_stream(set, TC_CIDR_DENY, f, "x", err,
	                                         sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "x:2: a NUL byte in the line");
	fclose(f);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_file_repeats_are_skipped_and_the_first_origin_stays)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct tc_cidr_rule *r;
	size_t n;

	add(set, TC_CIDR_DENY, "10.0.0.1");
	ck_assert_int_eq(load_text(set, TC_CIDR_DENY,
	                           "10.0.0.2\n10.0.0.1\n10.0.0.2\n10.0.0.3\n"),
	                 0);
	r = tc_cidr_set_snapshot(set, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(r[0].origin, TC_CIDR_FROM_COMMAND_LINE);
	ck_assert_uint_eq(r[1].line, 1);
	ck_assert_uint_eq(r[2].line, 4);
	free(r);
	ck_assert_uint_eq(tc_cidr_set_count(set, TC_CIDR_DENY), 3);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_missing_file_is_a_one_line_error)
{
	struct tc_cidr_set *set = tc_cidr_set_new();

	ck_assert_int_eq(tc_cidr_set_load_file(set, TC_CIDR_DENY,
	                                       "/nonexistent/deny.rules", err,
	                                       sizeof(err)),
	                 -1);
	ck_assert_str_eq(err,
	                 "/nonexistent/deny.rules: No such file or directory");
	tc_cidr_set_free(set);
}
END_TEST

/* ---- many rules ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* A random rule; values from a small space, so that overlaps are many. */
static struct tc_cidr
random_rule(void)
{
	struct tc_cidr c = {0};
	uint64_t r = rng();

	if (r & 1) {
		c.family = AF_INET;
		c.len = (uint8_t)(8 + (r >> 1) % 25); /* 8..32 */
		c.hi = (uint64_t)(0x0a000000u | (uint32_t)(rng() & 0xffffff))
		       << 32;
	} else {
		c.family = AF_INET6;
		c.len = (uint8_t)(16 + (r >> 1) % 113); /* 16..128 */
		c.hi = 0x20010db800000000ULL | (rng() & 0xffff00ffULL);
		c.lo = rng() & 0xff;
	}
	/* Clear what lies past len. */
	if (c.len <= 64) {
		c.hi &= ~0ULL << (64 - c.len);
		c.lo = 0;
	} else {
		c.lo &= ~0ULL << (128 - c.len);
	}
	return c;
}

static struct tc_cidr
random_addr(const struct tc_cidr *near)
{
	struct tc_cidr a = *near;

	a.len = a.family == AF_INET ? 32 : 128;
	if (a.family == AF_INET)
		a.hi |= (rng() & 0xff) << 32;
	else
		a.lo |= rng() & 0x3;
	return a;
}

START_TEST(test_ten_thousand_rules_agree_with_a_linear_scan)
{
	enum { N = 10000, PROBES = 5000 };
	struct tc_cidr *deny = malloc(N * sizeof(*deny));
	struct tc_cidr_set *set = tc_cidr_set_new();
	size_t n = 0;

	for (size_t i = 0; i < N; i++) {
		struct tc_cidr c = random_rule();

		if (tc_cidr_set_add(set, TC_CIDR_DENY, &c, TC_CIDR_FROM_FILE) ==
		    0)
			deny[n++] = c;
	}
	ck_assert_uint_eq(tc_cidr_set_count(set, TC_CIDR_DENY), n);
	for (size_t p = 0; p < PROBES; p++) {
		struct tc_cidr a = random_addr(&deny[rng() % n]);
		bool want = false;

		for (size_t i = 0; i < n && !want; i++)
			want = tc_cidr_contains(&deny[i], &a);
		ck_assert_int_eq(tc_cidr_set_match_addr(set, &a, NULL),
		                 want ? TC_CIDR_DENIED : TC_CIDR_ALLOWED);
	}
	free(deny);
	tc_cidr_set_free(set);
}
END_TEST

START_TEST(test_a_file_of_many_rules_matches_like_one_by_one)
{
	enum { N = 3000 };
	struct tc_cidr_set *one = tc_cidr_set_new(), *file = tc_cidr_set_new();
	size_t cap = N * (TC_CIDR_STR_MAX + 1) + 1, used = 0;
	char *text = malloc(cap), buf[TC_CIDR_STR_MAX];

	for (size_t i = 0; i < N; i++) {
		struct tc_cidr c = random_rule();

		tc_cidr_set_add(one, TC_CIDR_ALLOW, &c, TC_CIDR_FROM_FILE);
		used += (size_t)snprintf(text + used, cap - used, "%s\n",
		                         tc_cidr_format(&c, buf));
	}
	ck_assert_int_eq(load_text(file, TC_CIDR_ALLOW, text), 0);
	ck_assert_uint_eq(tc_cidr_set_count(file, TC_CIDR_ALLOW),
	                  tc_cidr_set_count(one, TC_CIDR_ALLOW));
	for (size_t p = 0; p < 5000; p++) {
		struct tc_cidr r = random_rule(), a = random_addr(&r);

		ck_assert_int_eq(tc_cidr_set_match_addr(file, &a, NULL),
		                 tc_cidr_set_match_addr(one, &a, NULL));
	}
	free(text);
	tc_cidr_set_free(one);
	tc_cidr_set_free(file);
}
END_TEST

/* ---- a real accept() ---- */

/* Accepts one loopback connection from IPv4 on a dual-stack IPv6 socket,
 * so the peer arrives as ::ffff:127.0.0.1; the IPv4 rule must see it.
 * Returns false when the machine has no IPv6 (nothing to check). */
static bool
accept_mapped_peer(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 any6 = {.sin6_family = AF_INET6,
	                            .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(any6);
	int off = 0, lfd, cfd, afd;

	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return false;
	ck_assert_int_eq(
	    setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&any6, sizeof(any6)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&any6, &len), 0);
	to.sin_port = any6.sin6_port;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&to, sizeof(to)), 0);
	len = sizeof(*ss);
	afd = accept(lfd, (struct sockaddr *)ss, &len);
	ck_assert_int_ge(afd, 0);
	close(afd);
	close(cfd);
	close(lfd);
	return true;
}

START_TEST(test_accepted_mapped_peer_matches_ipv4_rules)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct sockaddr_storage ss;
	struct tc_cidr why;

	if (!accept_mapped_peer(&ss)) {
		tc_cidr_set_free(set);
		return; /* no IPv6 here: no mapped peers either */
	}
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	add(set, TC_CIDR_DENY, "127.0.0.0/8");
	ck_assert_int_eq(tc_cidr_set_match(set, (struct sockaddr *)&ss, &why),
	                 TC_CIDR_DENIED);
	ck_assert(same(&why, "127.0.0.0/8"));
	tc_cidr_set_free(set);
	set = tc_cidr_set_new();
	add(set, TC_CIDR_ALLOW, "127.0.0.1");
	ck_assert_int_eq(tc_cidr_set_match(set, (struct sockaddr *)&ss, NULL),
	                 TC_CIDR_ALLOWED);
	tc_cidr_set_free(set);
}
END_TEST

/* ---- threads ---- */

struct matcher {
	struct tc_cidr_set *set;
	atomic_bool stop;
	unsigned long wrong, rounds;
};

/* Matches a peer that a fixed rule denies while the rules change. */
static void *
matcher_main(void *arg)
{
	struct matcher *m = arg;
	struct sockaddr_storage ss = peer("192.0.2.66");

	while (!atomic_load(&m->stop)) {
		if (tc_cidr_set_match(m->set, (struct sockaddr *)&ss, NULL) !=
		    TC_CIDR_DENIED)
			m->wrong++;
		m->rounds++;
	}
	return NULL;
}

START_TEST(test_matching_while_the_console_bans_and_unbans)
{
	struct matcher m = {.set = tc_cidr_set_new()};
	pthread_t t;

	add(m.set, TC_CIDR_DENY, "192.0.2.66");
	ck_assert_int_eq(pthread_create(&t, NULL, matcher_main, &m), 0);
	for (int i = 0; i < 20000; i++) {
		struct tc_cidr c = random_rule();

		tc_cidr_set_add(m.set, TC_CIDR_DENY, &c, TC_CIDR_FROM_CONSOLE);
		if (i % 2 == 0)
			tc_cidr_set_remove(m.set, TC_CIDR_DENY, &c, NULL);
	}
	atomic_store(&m.stop, true);
	pthread_join(t, NULL);
	ck_assert_uint_eq(m.wrong, 0);
	ck_assert_uint_gt(m.rounds, 0);
	tc_cidr_set_free(m.set);
}
END_TEST

static Suite *
cidr_suite(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_ipv4_address_and_network);
	tcase_add_test(tc, test_parse_ipv6_address_and_network);
	tcase_add_test(tc, test_parse_prefix_lengths_0_and_full);
	tcase_add_test(tc, test_parse_mapped_network_is_the_ipv4_rule);
	tcase_add_test(tc, test_format_is_canonical_and_reparses);
	tcase_add_test(tc, test_parse_errors_say_what_is_wrong);
	tcase_add_test(tc, test_parse_error_quotes_input_safely);
	tcase_add_test(tc, test_from_sockaddr_maps_ipv4_mapped_to_ipv4);
	tcase_add_test(tc, test_contains);
	tcase_add_test(tc, test_accepted_mapped_peer_matches_ipv4_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_test(tc, test_empty_set_allows_everyone);
	tcase_add_test(tc, test_deny_one_address);
	tcase_add_test(tc, test_deny_prefix_0_covers_one_family_only);
	tcase_add_test(tc, test_deny_ipv6_address_and_network);
	tcase_add_test(tc, test_allow_rules_let_only_their_peers_in);
	tcase_add_test(tc, test_deny_wins_over_allow);
	tcase_add_test(tc, test_overlapping_denies_report_the_most_specific);
	tcase_add_test(tc, test_add_twice_is_eexist_and_keeps_the_first);
	tcase_add_test(tc, test_remove_takes_the_exact_rule_only);
	tcase_add_test(tc, test_snapshot_lists_rules_in_order_with_origins);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_file_comments_blanks_and_spaces);
	tcase_add_test(tc,
	               test_file_bad_line_names_file_and_line_and_adds_nothing);
	tcase_add_test(tc, test_file_with_a_nul_byte_is_refused);
	tcase_add_test(
	    tc, test_file_repeats_are_skipped_and_the_first_origin_stays);
	tcase_add_test(tc, test_missing_file_is_a_one_line_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ten_thousand_rules_agree_with_a_linear_scan);
	tcase_add_test(tc, test_a_file_of_many_rules_matches_like_one_by_one);
	tcase_add_test(tc, test_matching_while_the_console_bans_and_unbans);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return cidr_suite();
}
