/* fuzz_cidr: the access rules' parsers (cidr) from arbitrary bytes.
 *
 * The input is parsed twice: as one CIDR (up to its first NUL), and as a
 * whole rules file. Checked: a refused CIDR gets one non-empty line that
 * starts "bad CIDR '"; an accepted one has no bits set past its length,
 * prints back as text that parses to the same rule, contains its own
 * network address, and that address matches the rule as an allow and as
 * a deny rule. A rules file either adds every rule it holds, each of
 * which then matches its own network address, or adds nothing and says
 * why in one line naming the file. */
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "tcpchat/cidr.h"

#define MAX_TEXT 512

static void
check_one_line(const char *err, const char *prefix)
{
	FUZZ_CHECK(err[0] != '\0');
	FUZZ_CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
	FUZZ_CHECK(strchr(err, '\n') == NULL);
}

/* Every bit past len is clear (IPv4 lives in the top 32 bits of hi). */
static void
check_normalised(const struct tc_cidr *c)
{
	unsigned bits = c->family == AF_INET ? 32 : 128;
	uint64_t hi_mask, lo_mask;

	FUZZ_CHECK(c->family == AF_INET || c->family == AF_INET6);
	FUZZ_CHECK(c->len <= bits);
	if (c->family == AF_INET)
		FUZZ_CHECK(c->lo == 0 && (c->hi & 0xffffffffULL) == 0);
	hi_mask = c->len >= 64  ? ~0ULL
	          : c->len == 0 ? 0
	                        : ~0ULL << (64 - c->len);
	lo_mask = c->len <= 64    ? 0
	          : c->len == 128 ? ~0ULL
	                          : ~0ULL << (128 - c->len);
	FUZZ_CHECK((c->hi & ~hi_mask) == 0 && (c->lo & ~lo_mask) == 0);
}

/* The rule's own network address, as a peer's address. */
static struct tc_cidr
network_address(const struct tc_cidr *net)
{
	struct tc_cidr a = *net;

	a.len = net->family == AF_INET ? 32 : 128;
	return a;
}

static void
check_matches_itself(const struct tc_cidr *net)
{
	struct tc_cidr addr = network_address(net), why;
	struct tc_cidr_set *set = tc_cidr_set_new();

	FUZZ_CHECK(set != NULL);
	FUZZ_CHECK(tc_cidr_contains(net, &addr));
	FUZZ_CHECK(tc_cidr_set_add(set, TC_CIDR_ALLOW, net,
	                           TC_CIDR_FROM_CONSOLE) == 0);
	FUZZ_CHECK(tc_cidr_set_match_addr(set, &addr, NULL) == TC_CIDR_ALLOWED);
	FUZZ_CHECK(
	    tc_cidr_set_add(set, TC_CIDR_DENY, net, TC_CIDR_FROM_CONSOLE) == 0);
	FUZZ_CHECK(tc_cidr_set_match_addr(set, &addr, &why) == TC_CIDR_DENIED);
	FUZZ_CHECK(tc_cidr_equal(&why, net));
	FUZZ_CHECK(tc_cidr_set_remove(set, TC_CIDR_DENY, net, NULL) == 0);
	FUZZ_CHECK(tc_cidr_set_match_addr(set, &addr, NULL) == TC_CIDR_ALLOWED);
	tc_cidr_set_free(set);
}

static void
check_round_trip(const struct tc_cidr *c)
{
	char text[TC_CIDR_STR_MAX], err[256];
	struct tc_cidr again;

	tc_cidr_format(c, text);
	FUZZ_CHECK(tc_cidr_parse(text, &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(tc_cidr_equal(c, &again));
}

static void
fuzz_one_cidr(const uint8_t *data, size_t size)
{
	char text[MAX_TEXT + 1], err[512];
	size_t n = size < MAX_TEXT ? size : MAX_TEXT;
	struct tc_cidr c;

	memcpy(text, data, n);
	text[n] = '\0';
	if (tc_cidr_parse(text, &c, err, sizeof(err)) < 0) {
		check_one_line(err, "bad CIDR '");
		return;
	}
	check_normalised(&c);
	check_round_trip(&c);
	check_matches_itself(&c);
}

static void
fuzz_rules_file(const uint8_t *data, size_t size)
{
	struct tc_cidr_set *set = tc_cidr_set_new();
	struct tc_cidr_rule *rules;
	char err[1024];
	size_t n = 0;
	FILE *f;

	FUZZ_CHECK(set != NULL);
	if (size == 0) {
		tc_cidr_set_free(set);
		return;
	}
	f = fmemopen((void *)data, size, "r");
	FUZZ_CHECK(f != NULL);
	if (tc_cidr_set_load_stream(set, TC_CIDR_DENY, f, "fuzz.rules", err,
	                            sizeof(err)) < 0) {
		check_one_line(err, "fuzz.rules:");
		FUZZ_CHECK(tc_cidr_set_count(set, TC_CIDR_DENY) == 0);
	} else {
		rules = tc_cidr_set_snapshot(set, &n);
		FUZZ_CHECK(n == tc_cidr_set_count(set, TC_CIDR_DENY));
		for (size_t i = 0; i < n; i++) {
			struct tc_cidr addr = network_address(&rules[i].net);

			FUZZ_CHECK(rules[i].origin == TC_CIDR_FROM_FILE);
			FUZZ_CHECK(rules[i].line >= 1);
			check_normalised(&rules[i].net);
			check_round_trip(&rules[i].net);
			FUZZ_CHECK(tc_cidr_set_match_addr(set, &addr, NULL) ==
			           TC_CIDR_DENIED);
		}
		free(rules);
	}
	fclose(f);
	tc_cidr_set_free(set);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one_cidr(data, size);
	fuzz_rules_file(data, size);
	return 0;
}
