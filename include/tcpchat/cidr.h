/* cidr: who may join. Parses IPv4 and IPv6 networks ("ADDR" or
 * "ADDR/LEN"), keeps a set of allow and deny rules from the command line,
 * rule files and the console, and matches a peer's address against them.
 *
 * Deny wins; when there is any allow rule, only a peer that matches one may
 * join. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is an IPv4 peer: it
 * matches IPv4 rules and no IPv6 rule, and a rule written as a mapped
 * network of /96 or longer is kept as the IPv4 rule it means. Text formats
 * are locale-free. The set is safe to use from any thread. */
#ifndef TCPCHAT_CIDR_H
#define TCPCHAT_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" and NUL. */
#define TC_CIDR_STR_MAX 52

/* A network, or one address (len 32 or 128), always normalised: an IPv4
 * value sits in the top 32 bits of hi (lo is 0) and every bit past len is
 * zero. Plain value; compare with tc_cidr_equal(). */
struct tc_cidr {
	uint64_t hi, lo; /* the address bits, most significant first */
	uint8_t family;  /* AF_INET or AF_INET6 */
	uint8_t len;     /* prefix length: 0..32 or 0..128 */
};

enum tc_cidr_kind {
	TC_CIDR_ALLOW,
	TC_CIDR_DENY,
};

/* Where a rule came from, for /bans. */
enum tc_cidr_origin {
	TC_CIDR_FROM_COMMAND_LINE, /* --allow, --deny */
	TC_CIDR_FROM_FILE,         /* --allow-file, --deny-file */
	TC_CIDR_FROM_CONSOLE,      /* /ban */
};

enum tc_cidr_verdict {
	TC_CIDR_ALLOWED,
	TC_CIDR_DENIED,      /* matches a deny rule */
	TC_CIDR_NOT_ALLOWED, /* there are allow rules, and none matches */
};

/* Parses "ADDR" (one address) or "ADDR/LEN". A network with bits set past
 * LEN, a zone ("%eth0"), spaces or anything else is refused. Returns 0, or
 * -1 with a one-line reason in err: "bad CIDR '10.0.0.1/8': host bits set
 * (the network is 10.0.0.0/8)". Any thread. */
int tc_cidr_parse(const char *text, struct tc_cidr *out, char *err,
                  size_t errlen);

/* Formats c as tc_cidr_parse() reads it back: "10.0.0.0/8", "2001:db8::/32";
 * one address without its length ("10.0.0.5", "::1"). Returns buf. */
char *tc_cidr_format(const struct tc_cidr *c, char buf[TC_CIDR_STR_MAX]);

/* The one-address rule (/32 or /128) for sa, as /ban takes a connected
 * peer's address; an IPv4-mapped IPv6 address gives an IPv4 rule. Returns
 * 0, or -1 with errno EAFNOSUPPORT when sa is neither IPv4 nor IPv6. */
int tc_cidr_from_sockaddr(const struct sockaddr *sa, struct tc_cidr *out);

bool tc_cidr_equal(const struct tc_cidr *a, const struct tc_cidr *b);

/* A hash of c mixed with seed, for tables keyed by a peer's address (take
 * the seed from getrandom(), so peers cannot choose colliding keys). */
uint64_t tc_cidr_hash(const struct tc_cidr *c, uint64_t seed);

/* Whether the address addr (a /32 or /128) lies inside the network net. */
bool tc_cidr_contains(const struct tc_cidr *net, const struct tc_cidr *addr);

/* ---- the rule set ---- */

struct tc_cidr_set;

/* One rule, as tc_cidr_set_snapshot() copies it. */
struct tc_cidr_rule {
	struct tc_cidr net;
	enum tc_cidr_kind kind;
	enum tc_cidr_origin origin;
	unsigned line;  /* TC_CIDR_FROM_FILE: its line number */
	char file[256]; /* TC_CIDR_FROM_FILE: the file's name, cut */
};

/* An empty set: everyone is allowed. NULL with errno ENOMEM. */
struct tc_cidr_set *tc_cidr_set_new(void);
void tc_cidr_set_free(struct tc_cidr_set *set);

/* Adds a rule. Returns 0; -1 with errno EEXIST when the same rule of the
 * same kind is already there (the first one stays, with its origin), or
 * ENOMEM. Any thread; takes the set's write lock, never blocks otherwise. */
int tc_cidr_set_add(struct tc_cidr_set *set, enum tc_cidr_kind kind,
                    const struct tc_cidr *net, enum tc_cidr_origin origin);

/* Removes the rule of that kind for exactly net (not a wider or narrower
 * one), whatever its origin. Returns 0 and, when origin is not NULL, where
 * it came from; -1 with errno ENOENT when there is no such rule. */
int tc_cidr_set_remove(struct tc_cidr_set *set, enum tc_cidr_kind kind,
                       const struct tc_cidr *net, enum tc_cidr_origin *origin);

/* Adds the rules of a rules file: one CIDR or address a line; '#' starts a
 * comment; blank lines and spaces around a rule are fine; a rule already
 * in the set is skipped. Returns 0, or -1 with a one-line reason in err:
 * "FILE: No such file or directory", "FILE:LINE: bad CIDR 'x': ...". A
 * file with a bad line adds nothing. Reads the whole file before it takes
 * the write lock. */
int tc_cidr_set_load_file(struct tc_cidr_set *set, enum tc_cidr_kind kind,
                          const char *path, char *err, size_t errlen);

/* tc_cidr_set_load_file() on an open stream; name names it in rules and
 * messages. The caller keeps f. */
int tc_cidr_set_load_stream(struct tc_cidr_set *set, enum tc_cidr_kind kind,
                            FILE *f, const char *name, char *err,
                            size_t errlen);

/* Decides whether peer may join. On TC_CIDR_DENIED, *why (when not NULL)
 * gets the most specific deny rule that matched. A peer that is neither
 * IPv4 nor IPv6 (a Unix socket) is allowed: rules are about IP addresses.
 * Any thread; takes the read lock; never blocks otherwise, never allocates.
 * Costs a binary search per distinct prefix length in use. */
enum tc_cidr_verdict tc_cidr_set_match(struct tc_cidr_set *set,
                                       const struct sockaddr *peer,
                                       struct tc_cidr *why);

/* As tc_cidr_set_match(), for an address already parsed (a /32 or /128). */
enum tc_cidr_verdict tc_cidr_set_match_addr(struct tc_cidr_set *set,
                                            const struct tc_cidr *addr,
                                            struct tc_cidr *why);

/* How many rules of that kind the set holds. */
size_t tc_cidr_set_count(struct tc_cidr_set *set, enum tc_cidr_kind kind);

/* Copies every rule, in the order they were added, into a new array (the
 * caller frees it) and sets *n. NULL with errno ENOMEM (or with *n 0 and
 * errno 0 for an empty set). */
struct tc_cidr_rule *tc_cidr_set_snapshot(struct tc_cidr_set *set, size_t *n);

/* "command line", "FILE:LINE" or "console", for /bans. Returns buf. */
char *tc_cidr_rule_origin_str(const struct tc_cidr_rule *r, char *buf,
                              size_t len);

#endif
