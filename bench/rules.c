/*
 * tc-rules: what matching a peer against the access rules costs, the way
 * tcpchatd's accept path does it (tc_cidr_set_match on the peer's
 * sockaddr, read lock included). It builds N mixed IPv4/IPv6 deny rules
 * (default 10,000), half of each family, and prints one line per figure:
 * loading them as a rules file, then ns per match for a peer that hits a
 * rule and one that misses, for IPv4, IPv6 and IPv4-mapped IPv6 peers.
 *
 *   tc-rules [-n RULES] [-r ROUNDS]     (defaults: 10000 rules, 2000000)
 *
 * Two rule sets: "few lengths" (IPv4 /16 /24 /32, IPv6 /48 /56 /64 /128,
 * as real block lists are) and "every length" (IPv4 /16../32 and IPv6
 * /48../128 at random, 98 lengths: the bad case of one search per length
 * in use). Peers that miss are drawn from the same address space as the
 * rules (and checked to miss), so that they search as deep as hits do.
 * Bounded: each figure stops after 5 s whatever ROUNDS says.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tcpchat/cidr.h"

#define PROBES 4096 /* distinct peers per figure, cycled */
#define FIGURE_LIMIT_S 5.0

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

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

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const unsigned few_v4[] = {16, 24, 32, 32};
static const unsigned few_v6[] = {48, 56, 64, 128};

/* A rule as text for a rules file: IPv4 with a first byte of 1 to 126,
 * IPv6 inside 2001:db8::/32. */
static void
rule_text(bool v6, bool every_length, char *buf, size_t len)
{
	unsigned char b[16] = {0};
	struct tc_cidr c;
	char err[256];
	unsigned bits;

	if (!v6) {
		uint32_t a = (uint32_t)(1 + rng() % 126) << 24 |
		             (uint32_t)(rng() & 0xffffff);

		bits = every_length ? 16 + (unsigned)(rng() % 17)
		                    : few_v4[rng() % 4];
		a &= bits == 0 ? 0 : ~0u << (32 - bits);
		snprintf(buf, len, "%u.%u.%u.%u/%u", a >> 24, a >> 16 & 255,
		         a >> 8 & 255, a & 255, bits);
	} else {
		uint64_t hi = 0x20010db800000000ULL | (rng() & 0xffffffffULL),
		         lo = rng();

		bits = every_length ? 48 + (unsigned)(rng() % 81)
		                    : few_v6[rng() % 4];
		for (int i = 0; i < 8; i++) {
			b[i] = (unsigned char)(hi >> (56 - 8 * i));
			b[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
		}
		for (unsigned i = bits; i < 128; i++)
			b[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
		inet_ntop(AF_INET6, b, buf, (socklen_t)len);
		snprintf(buf + strlen(buf), len - strlen(buf), "/%u", bits);
	}
	if (tc_cidr_parse(buf, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "tc-rules: %s\n", err);
		exit(1);
	}
}

static struct sockaddr_storage
peer_v4(uint32_t a, bool mapped)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (mapped) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr.s6_addr[10] = 0xff;
		in6->sin6_addr.s6_addr[11] = 0xff;
		a = htonl(a);
		memcpy(&in6->sin6_addr.s6_addr[12], &a, 4);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(a);
	}
	return ss;
}

static struct sockaddr_storage
peer_v6(uint64_t hi, uint64_t lo)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	for (int i = 0; i < 8; i++) {
		in6->sin6_addr.s6_addr[i] = (unsigned char)(hi >> (56 - 8 * i));
		in6->sin6_addr.s6_addr[8 + i] =
		    (unsigned char)(lo >> (56 - 8 * i));
	}
	return ss;
}

/* A peer inside rule r (random host bits), as accept() would give it. */
static struct sockaddr_storage
peer_in(const struct tc_cidr_rule *r, bool mapped)
{
	if (r->net.family == AF_INET) {
		uint32_t a = (uint32_t)(r->net.hi >> 32),
		         host = (uint32_t)rng();

		if (r->net.len < 32)
			a |= host & (~0u >> r->net.len);
		return peer_v4(a, mapped);
	}
	uint64_t hi = r->net.hi, lo = r->net.lo, h = rng(), l = rng();

	if (r->net.len < 64) {
		hi |= h & (~0ULL >> r->net.len);
		lo = l;
	} else if (r->net.len < 128) {
		lo |= l & (~0ULL >> (r->net.len - 64));
	}
	return peer_v6(hi, lo);
}

/* ns per tc_cidr_set_match() over probes, expecting verdict want. */
static double
time_matches(struct tc_cidr_set *set, const struct sockaddr_storage *probes,
             long rounds, enum tc_cidr_verdict want)
{
	double start = now_s(), end;
	long done = 0, wrong = 0;

	while (done < rounds) {
		for (int i = 0; i < PROBES; i++)
			wrong += tc_cidr_set_match(
			             set, (const struct sockaddr *)&probes[i],
			             NULL) != want;
		done += PROBES;
		if (now_s() - start > FIGURE_LIMIT_S)
			break;
	}
	end = now_s();
	if (wrong != 0) {
		fprintf(stderr, "tc-rules: %ld matches gave the wrong answer\n",
		        wrong);
		exit(1);
	}
	return (end - start) * 1e9 / (double)done;
}

static struct tc_cidr_set *
load_rules(int n, bool every_length, double *load_ms)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	size_t cap = (size_t)n * (TC_CIDR_STR_MAX + 1) + 1, used = 0;
	char *text = malloc(cap), err[512], rule[64];
	double start;
	FILE *f;

	if (set == NULL || text == NULL) {
		fprintf(stderr, "tc-rules: out of memory\n");
		exit(1);
	}
	/* Distinct rules only, so that the set holds exactly n. */
	for (int i = 0; i < n;) {
		struct tc_cidr c;

		rule_text(i % 2 == 1, every_length, rule, sizeof(rule));
		tc_cidr_parse(rule, &c, err, sizeof(err));
		if (tc_cidr_set_add(set, TC_CIDR_DENY, &c, TC_CIDR_FROM_FILE) <
		    0)
			continue;
		used += (size_t)snprintf(text + used, cap - used, "%s\n", rule);
		i++;
	}
	tc_cidr_set_free(set);
	set = tc_cidr_set_new();
	f = fmemopen(text, used, "r");
	start = now_s();
	if (f == NULL || tc_cidr_set_load_stream(set, TC_CIDR_DENY, f, "bench",
	                                         err, sizeof(err)) < 0) {
		fprintf(stderr, "tc-rules: load: %s\n", err);
		exit(1);
	}
	*load_ms = (now_s() - start) * 1e3;
	fclose(f);
	free(text);
	return set;
}

static void
run_set(int n, long rounds, bool every_length)
{
	static struct sockaddr_storage probes[PROBES];
	const char *name = every_length ? "every length" : "few lengths";
	struct tc_cidr_rule *rules;
	struct tc_cidr_set *set;
	size_t n_rules, v4 = 0;
	double load_ms;

	set = load_rules(n, every_length, &load_ms);
	rules = tc_cidr_set_snapshot(set, &n_rules);
	for (size_t i = 0; i < n_rules; i++)
		v4 += rules[i].net.family == AF_INET;
	printf("%s: %zu rules (%zu IPv4, %zu IPv6): loaded in %.2f ms\n", name,
	       n_rules, v4, n_rules - v4, load_ms);

	/* Rules alternate family in the file; pick by family. */
	for (int kind = 0; kind < 3; kind++) {
		static const char *const label[] = {"IPv4", "IPv6",
		                                    "IPv4-mapped IPv6"};
		int i = 0;

		while (i < PROBES) {
			const struct tc_cidr_rule *r = &rules[rng() % n_rules];

			if ((r->net.family == AF_INET6) != (kind == 1))
				continue;
			probes[i++] = peer_in(r, kind == 2);
		}
		printf("%s: %s peer, hit: %.0f ns/match\n", name, label[kind],
		       time_matches(set, probes, rounds, TC_CIDR_DENIED));
		for (i = 0; i < PROBES;) {
			struct tc_cidr_rule any = rules[rng() % n_rules];

			if ((any.net.family == AF_INET6) != (kind == 1))
				continue;
			/* A random peer near the rules that no rule holds. */
			any.net.len = any.net.family == AF_INET ? 8 : 32;
			any.net.hi &= any.net.family == AF_INET
			                  ? 0xff00000000000000ULL
			                  : 0xffffffff00000000ULL;
			any.net.lo = 0;
			probes[i] = peer_in(&any, kind == 2);
			if (tc_cidr_set_match(
			        set, (const struct sockaddr *)&probes[i],
			        NULL) == TC_CIDR_ALLOWED)
				i++;
		}
		printf("%s: %s peer, miss: %.0f ns/match\n", name, label[kind],
		       time_matches(set, probes, rounds, TC_CIDR_ALLOWED));
	}
	free(rules);
	tc_cidr_set_free(set);
}

int
main(int argc, char **argv)
{
	long rounds = 2000000;
	int n = 10000, c;

	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		switch (c) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'r':
			rounds = atol(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: tc-rules [-n RULES] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (n < 2 || rounds < 1) {
		fprintf(stderr, "tc-rules: -n needs 2 or more, -r 1 or more\n");
		return 2;
	}
	run_set(n, rounds, false);
	run_set(n, rounds, true);
	return 0;
}
