/* cidr: parsing, printing and matching of allow and deny networks.
 *
 * Each kind (allow, deny) of each family keeps one sorted array of network
 * values per prefix length, and the list of lengths in use. A match masks
 * the peer's address to each length in use and binary-searches that array:
 * at most 33 or 129 searches of log2(n) steps over contiguous memory, and
 * in practice a handful, since real rule sets use few lengths. A binary
 * trie would cost up to 128 dependent pointer loads per miss for the same
 * answer. Adding one rule moves the tail of one array; a rules file is
 * added in one batch and sorted once. It does no I/O but reading a rules
 * file, and never prints. */
#include "tcpchat/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define V4_BITS 32
#define V6_BITS 128
#define QUOTE_MAX 64 /* input shown in an error message, at most */

struct key {
	uint64_t hi, lo;
};

/* The networks of one kind, one family and one prefix length, sorted. */
struct table {
	struct key *keys;
	size_t n, cap;
};

/* All the networks of one kind and one family. lens lists the prefix
 * lengths whose table is not empty, longest first, so that a match finds
 * the most specific rule first. */
struct family_rules {
	struct table by_len[V6_BITS + 1];
	uint8_t lens[V6_BITS + 1];
	size_t n_lens;
	size_t n_rules;
};

/* One rule as /bans lists it; file indexes set->files. */
struct entry {
	struct tc_cidr net;
	uint8_t kind, origin;
	unsigned line, file;
};

struct tc_cidr_set {
	/* lock guards everything below: the accept thread (or any) matches
	 * under the read lock; the console adds and removes under the write
	 * lock. Nothing under it blocks or prints. */
	pthread_rwlock_t lock;
	struct family_rules rules[2][2]; /* [kind][0: IPv4, 1: IPv6] */
	struct entry *entries;           /* in the order they were added */
	size_t n_entries, cap_entries;
	char **files; /* rule files' names, for the origin of their rules */
	size_t n_files;
};

/* ---- single networks ---- */

static void
mask_bits(uint64_t *hi, uint64_t *lo, unsigned len)
{
	if (len == 0) {
		*hi = 0;
		*lo = 0;
	} else if (len <= 64) {
		*hi &= ~0ULL << (64 - len);
		*lo = 0;
	} else {
		*lo &= ~0ULL << (128 - len);
	}
}

static uint64_t
load_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
store_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* ::ffff:0:0/96, the IPv4-mapped block: its top 96 bits. */
static bool
is_mapped(uint64_t hi, uint64_t lo)
{
	return hi == 0 && lo >> 32 == 0xffffULL;
}

static void
set_v4(struct tc_cidr *c, uint32_t addr, unsigned len)
{
	c->family = AF_INET;
	c->hi = (uint64_t)addr << 32;
	c->lo = 0;
	c->len = (uint8_t)len;
}

/* An IPv6 value; a mapped one of /96 or longer becomes the IPv4 rule. */
static void
set_v6(struct tc_cidr *c, const unsigned char bytes[16], unsigned len)
{
	uint64_t hi = load_be64(bytes), lo = load_be64(bytes + 8);

	if (len >= 96 && is_mapped(hi, lo)) {
		set_v4(c, (uint32_t)lo, len - 96);
		return;
	}
	c->family = AF_INET6;
	c->hi = hi;
	c->lo = lo;
	c->len = (uint8_t)len;
}

static unsigned
family_bits(int family)
{
	return family == AF_INET ? V4_BITS : V6_BITS;
}

/* text, made safe to show: printable ASCII as is, other bytes as \xNN,
 * cut after QUOTE_MAX bytes of input. */
static const char *
quote(const char *text, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; text[i] != '\0' && i < QUOTE_MAX && o + 5 < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch >= 0x20 && ch < 0x7f) {
			buf[o++] = (char)ch;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	if (text[i] != '\0' && o + 4 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

__attribute__((format(printf, 4, 5))) static int
bad_cidr(const char *text, char *err, size_t errlen, const char *fmt, ...)
{
	char shown[QUOTE_MAX * 4 + 8];
	char why[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (errlen > 0)
		snprintf(err, errlen, "bad CIDR '%s': %s",
		         quote(text, shown, sizeof(shown)), why);
	return -1;
}

/* The length after '/': decimal digits only, at most max. */
static int
parse_len(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > max)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Fills out with the address in addr (no '/'), len bits of it. */
static int
parse_addr(const char *addr, unsigned *bits, unsigned char bytes[16])
{
	if (strchr(addr, ':') != NULL) {
		*bits = V6_BITS;
		return inet_pton(AF_INET6, addr, bytes) == 1 ? 0 : -1;
	}
	*bits = V4_BITS;
	return inet_pton(AF_INET, addr, bytes) == 1 ? 0 : -1;
}

/* The rule the parsed bytes mean, not yet masked. */
static void
set_parsed(struct tc_cidr *c, const unsigned char bytes[16], unsigned bits,
           unsigned len)
{
	if (bits == V4_BITS)
		set_v4(c,
		       (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 |
		           (uint32_t)bytes[2] << 8 | bytes[3],
		       len);
	else
		set_v6(c, bytes, len);
}

int
tc_cidr_parse(const char *text, struct tc_cidr *out, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN + 1], net[TC_CIDR_STR_MAX];
	unsigned char bytes[16] = {0};
	const char *slash = strchr(text, '/');
	size_t addr_len = slash != NULL ? (size_t)(slash - text) : strlen(text);
	unsigned bits, len;
	struct tc_cidr c, masked;

	if (text[0] == '\0')
		return bad_cidr(text, err, errlen, "empty");
	if (memchr(text, '%', addr_len) != NULL)
		return bad_cidr(text, err, errlen,
		                "a zone index (%%) is not allowed");
	if (addr_len >= sizeof(addr))
		return bad_cidr(text, err, errlen,
		                "not an IPv4 or IPv6 address");
	memcpy(addr, text, addr_len);
	addr[addr_len] = '\0';
	if (parse_addr(addr, &bits, bytes) < 0)
		return bad_cidr(text, err, errlen,
		                "not an IPv4 or IPv6 address");
	len = bits;
	if (slash != NULL && parse_len(slash + 1, bits, &len) < 0)
		return bad_cidr(text, err, errlen,
		                "the prefix length must be 0 to %u", bits);
	set_parsed(&c, bytes, bits, len);
	masked = c;
	mask_bits(&masked.hi, &masked.lo, masked.len);
	/* 10.1.2.3/8 is more likely a typo than a way to say 10.0.0.0/8. */
	if (masked.hi != c.hi || masked.lo != c.lo)
		return bad_cidr(text, err, errlen,
		                "host bits set (the network is %s)",
		                tc_cidr_format(&masked, net));
	*out = c;
	return 0;
}

char *
tc_cidr_format(const struct tc_cidr *c, char buf[TC_CIDR_STR_MAX])
{
	unsigned char bytes[16];
	size_t n;

	if (c->family == AF_INET) {
		uint32_t a = (uint32_t)(c->hi >> 32);

		bytes[0] = (unsigned char)(a >> 24);
		bytes[1] = (unsigned char)(a >> 16);
		bytes[2] = (unsigned char)(a >> 8);
		bytes[3] = (unsigned char)a;
	} else {
		store_be64(bytes, c->hi);
		store_be64(bytes + 8, c->lo);
	}
	if (inet_ntop(c->family, bytes, buf, TC_CIDR_STR_MAX) == NULL) {
		snprintf(buf, TC_CIDR_STR_MAX, "?");
		return buf;
	}
	if (c->len != family_bits(c->family)) {
		n = strlen(buf);
		snprintf(buf + n, TC_CIDR_STR_MAX - n, "/%u", c->len);
	}
	return buf;
}

int
tc_cidr_from_sockaddr(const struct sockaddr *sa, struct tc_cidr *out)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		set_v4(out, ntohl(in->sin_addr.s_addr), V4_BITS);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		set_v6(out, in6->sin6_addr.s6_addr, V6_BITS);
		return 0;
	}
	errno = EAFNOSUPPORT;
	return -1;
}

bool
tc_cidr_equal(const struct tc_cidr *a, const struct tc_cidr *b)
{
	return a->family == b->family && a->len == b->len && a->hi == b->hi &&
	       a->lo == b->lo;
}

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t
tc_cidr_hash(const struct tc_cidr *c, uint64_t seed)
{
	uint64_t h = mix64(seed ^ c->hi);

	h = mix64(h ^ c->lo);
	return mix64(h ^ ((uint64_t)c->family << 8 | c->len));
}

bool
tc_cidr_contains(const struct tc_cidr *net, const struct tc_cidr *addr)
{
	uint64_t hi = addr->hi, lo = addr->lo;

	if (net->family != addr->family || net->len > addr->len)
		return false;
	mask_bits(&hi, &lo, net->len);
	return hi == net->hi && lo == net->lo;
}

/* ---- the rule set ---- */

static int
key_cmp(const struct key *a, const struct key *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static int
key_qsort_cmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

/* Index of k in t, or of where it would go (*found false). */
static size_t
table_find(const struct table *t, const struct key *k, bool *found)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(&t->keys[mid], k);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int
table_reserve(struct table *t, size_t more)
{
	size_t cap = t->cap != 0 ? t->cap : 8;
	struct key *p;

	if (t->n + more <= t->cap)
		return 0;
	while (cap < t->n + more)
		cap *= 2;
	p = realloc(t->keys, cap * sizeof(*p));
	if (p == NULL)
		return -1;
	t->keys = p;
	t->cap = cap;
	return 0;
}

static struct family_rules *
rules_of(struct tc_cidr_set *set, enum tc_cidr_kind kind, int family)
{
	return &set->rules[kind == TC_CIDR_DENY][family == AF_INET6];
}

static struct table *
table_of(struct tc_cidr_set *set, enum tc_cidr_kind kind,
         const struct tc_cidr *net)
{
	return &rules_of(set, kind, net->family)->by_len[net->len];
}

/* Recomputes which prefix lengths are in use, longest first. */
static void
refresh_lens(struct family_rules *fr)
{
	fr->n_lens = 0;
	fr->n_rules = 0;
	for (int len = V6_BITS; len >= 0; len--) {
		if (fr->by_len[len].n == 0)
			continue;
		fr->lens[fr->n_lens++] = (uint8_t)len;
		fr->n_rules += fr->by_len[len].n;
	}
}

static int
entries_reserve(struct tc_cidr_set *set, size_t more)
{
	size_t cap = set->cap_entries != 0 ? set->cap_entries : 16;
	struct entry *p;

	if (set->n_entries + more <= set->cap_entries)
		return 0;
	while (cap < set->n_entries + more)
		cap *= 2;
	p = realloc(set->entries, cap * sizeof(*p));
	if (p == NULL)
		return -1;
	set->entries = p;
	set->cap_entries = cap;
	return 0;
}

struct tc_cidr_set *
tc_cidr_set_new(void)
{
	struct tc_cidr_set *set = calloc(1, sizeof(*set));
	int rc;

	if (set == NULL)
		return NULL;
	rc = pthread_rwlock_init(&set->lock, NULL);
	if (rc != 0) {
		free(set);
		errno = rc;
		return NULL;
	}
	return set;
}

void
tc_cidr_set_free(struct tc_cidr_set *set)
{
	if (set == NULL)
		return;
	for (int k = 0; k < 2; k++)
		for (int f = 0; f < 2; f++)
			for (int len = 0; len <= V6_BITS; len++)
				free(set->rules[k][f].by_len[len].keys);
	for (size_t i = 0; i < set->n_files; i++)
		free(set->files[i]);
	free(set->files);
	free(set->entries);
	pthread_rwlock_destroy(&set->lock);
	free(set);
}

static struct key
key_of(const struct tc_cidr *net)
{
	return (struct key){.hi = net->hi, .lo = net->lo};
}

/* Adds one rule; the write lock is held. */
static int
add_locked(struct tc_cidr_set *set, enum tc_cidr_kind kind,
           const struct entry *e)
{
	struct table *t = table_of(set, kind, &e->net);
	struct key k = key_of(&e->net);
	bool found;
	size_t at = table_find(t, &k, &found);

	if (found) {
		errno = EEXIST;
		return -1;
	}
	if (table_reserve(t, 1) < 0 || entries_reserve(set, 1) < 0) {
		errno = ENOMEM;
		return -1;
	}
	memmove(&t->keys[at + 1], &t->keys[at], (t->n - at) * sizeof(k));
	t->keys[at] = k;
	t->n++;
	set->entries[set->n_entries++] = *e;
	refresh_lens(rules_of(set, kind, e->net.family));
	return 0;
}

int
tc_cidr_set_add(struct tc_cidr_set *set, enum tc_cidr_kind kind,
                const struct tc_cidr *net, enum tc_cidr_origin origin)
{
	struct entry e = {
	    .net = *net, .kind = (uint8_t)kind, .origin = (uint8_t)origin};
	int rc;

	pthread_rwlock_wrlock(&set->lock);
	rc = add_locked(set, kind, &e);
	pthread_rwlock_unlock(&set->lock);
	return rc;
}

static void
forget_entry(struct tc_cidr_set *set, enum tc_cidr_kind kind,
             const struct tc_cidr *net, enum tc_cidr_origin *origin)
{
	for (size_t i = 0; i < set->n_entries; i++) {
		struct entry *e = &set->entries[i];

		if (e->kind != kind || !tc_cidr_equal(&e->net, net))
			continue;
		if (origin != NULL)
			*origin = (enum tc_cidr_origin)e->origin;
		memmove(e, e + 1, (set->n_entries - i - 1) * sizeof(*e));
		set->n_entries--;
		return;
	}
}

int
tc_cidr_set_remove(struct tc_cidr_set *set, enum tc_cidr_kind kind,
                   const struct tc_cidr *net, enum tc_cidr_origin *origin)
{
	struct table *t;
	struct key k = key_of(net);
	bool found;
	size_t at;

	pthread_rwlock_wrlock(&set->lock);
	t = table_of(set, kind, net);
	at = table_find(t, &k, &found);
	if (found) {
		memmove(&t->keys[at], &t->keys[at + 1],
		        (t->n - at - 1) * sizeof(k));
		t->n--;
		refresh_lens(rules_of(set, kind, net->family));
		forget_entry(set, kind, net, origin);
	}
	pthread_rwlock_unlock(&set->lock);
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* Whether addr lies in one of fr's networks; *why gets the most specific. */
static bool
family_match(const struct family_rules *fr, const struct tc_cidr *addr,
             struct tc_cidr *why)
{
	for (size_t i = 0; i < fr->n_lens; i++) {
		unsigned len = fr->lens[i];
		struct key k = {.hi = addr->hi, .lo = addr->lo};
		bool found;

		mask_bits(&k.hi, &k.lo, len);
		table_find(&fr->by_len[len], &k, &found);
		if (!found)
			continue;
		if (why != NULL)
			*why = (struct tc_cidr){.hi = k.hi,
			                        .lo = k.lo,
			                        .family = addr->family,
			                        .len = (uint8_t)len};
		return true;
	}
	return false;
}

enum tc_cidr_verdict
tc_cidr_set_match_addr(struct tc_cidr_set *set, const struct tc_cidr *addr,
                       struct tc_cidr *why)
{
	enum tc_cidr_verdict v = TC_CIDR_ALLOWED;
	const struct family_rules *allow;

	pthread_rwlock_rdlock(&set->lock);
	allow = rules_of(set, TC_CIDR_ALLOW, addr->family);
	if (family_match(rules_of(set, TC_CIDR_DENY, addr->family), addr, why))
		v = TC_CIDR_DENIED;
	/* Any allow rule, of either family, makes the set a list of who may
	 * join: an IPv6 peer is not allowed by IPv4 rules alone. */
	else if ((set->rules[0][0].n_rules != 0 ||
	          set->rules[0][1].n_rules != 0) &&
	         !family_match(allow, addr, NULL))
		v = TC_CIDR_NOT_ALLOWED;
	pthread_rwlock_unlock(&set->lock);
	return v;
}

enum tc_cidr_verdict
tc_cidr_set_match(struct tc_cidr_set *set, const struct sockaddr *peer,
                  struct tc_cidr *why)
{
	struct tc_cidr addr;

	if (tc_cidr_from_sockaddr(peer, &addr) < 0)
		return TC_CIDR_ALLOWED;
	return tc_cidr_set_match_addr(set, &addr, why);
}

size_t
tc_cidr_set_count(struct tc_cidr_set *set, enum tc_cidr_kind kind)
{
	size_t n;

	pthread_rwlock_rdlock(&set->lock);
	n = rules_of(set, kind, AF_INET)->n_rules +
	    rules_of(set, kind, AF_INET6)->n_rules;
	pthread_rwlock_unlock(&set->lock);
	return n;
}

struct tc_cidr_rule *
tc_cidr_set_snapshot(struct tc_cidr_set *set, size_t *n)
{
	struct tc_cidr_rule *out = NULL;

	pthread_rwlock_rdlock(&set->lock);
	*n = set->n_entries;
	errno = 0;
	if (*n != 0)
		out = calloc(*n, sizeof(*out));
	for (size_t i = 0; out != NULL && i < *n; i++) {
		const struct entry *e = &set->entries[i];

		out[i].net = e->net;
		out[i].kind = (enum tc_cidr_kind)e->kind;
		out[i].origin = (enum tc_cidr_origin)e->origin;
		out[i].line = e->line;
		if (e->origin == TC_CIDR_FROM_FILE)
			snprintf(out[i].file, sizeof(out[i].file), "%s",
			         set->files[e->file]);
	}
	if (*n != 0 && out == NULL) {
		*n = 0;
		errno = ENOMEM;
	}
	pthread_rwlock_unlock(&set->lock);
	return out;
}

char *
tc_cidr_rule_origin_str(const struct tc_cidr_rule *r, char *buf, size_t len)
{
	switch (r->origin) {
	case TC_CIDR_FROM_COMMAND_LINE:
		snprintf(buf, len, "command line");
		break;
	case TC_CIDR_FROM_FILE:
		snprintf(buf, len, "%s:%u", r->file, r->line);
		break;
	case TC_CIDR_FROM_CONSOLE:
		snprintf(buf, len, "console");
		break;
	}
	return buf;
}

/* ---- rules files ---- */

/* One parsed line of a rules file. */
struct item {
	struct tc_cidr net;
	unsigned line;
	bool skip; /* already in the set, or earlier in the same file */
};

struct items {
	struct item *v;
	size_t n, cap;
};

static int
item_push(struct items *it, const struct tc_cidr *net, unsigned line)
{
	if (it->n == it->cap) {
		size_t cap = it->cap != 0 ? it->cap * 2 : 64;
		struct item *p = realloc(it->v, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		it->v = p;
		it->cap = cap;
	}
	it->v[it->n++] = (struct item){.net = *net, .line = line};
	return 0;
}

/* Orders by table (family, length), then value, then line. */
static int
item_by_rule(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	struct key ka = key_of(&a->net), kb = key_of(&b->net);
	int c;

	if (a->net.family != b->net.family)
		return a->net.family < b->net.family ? -1 : 1;
	if (a->net.len != b->net.len)
		return a->net.len < b->net.len ? -1 : 1;
	c = key_cmp(&ka, &kb);
	if (c != 0)
		return c;
	return a->line < b->line ? -1 : a->line > b->line;
}

static int
item_by_line(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;

	return a->line < b->line ? -1 : a->line > b->line;
}

/* Marks the items that are already in the set or repeat an earlier line,
 * then puts them back in file order. Write lock held. */
static void
mark_repeats(struct tc_cidr_set *set, enum tc_cidr_kind kind, struct items *it)
{
	qsort(it->v, it->n, sizeof(*it->v), item_by_rule);
	for (size_t i = 0; i < it->n; i++) {
		struct key k = key_of(&it->v[i].net);
		bool found;

		if (i > 0 && tc_cidr_equal(&it->v[i].net, &it->v[i - 1].net)) {
			it->v[i].skip = true;
			continue;
		}
		table_find(table_of(set, kind, &it->v[i].net), &k, &found);
		it->v[i].skip = found;
	}
	qsort(it->v, it->n, sizeof(*it->v), item_by_line);
}

/* Room for every item that is not skipped, so that adding cannot fail. */
static int
reserve_for(struct tc_cidr_set *set, enum tc_cidr_kind kind,
            const struct items *it)
{
	size_t need[2][V6_BITS + 1] = {{0}};

	if (entries_reserve(set, it->n) < 0)
		return -1;
	for (size_t i = 0; i < it->n; i++)
		if (!it->v[i].skip)
			need[it->v[i].net.family == AF_INET6]
			    [it->v[i].net.len]++;
	for (int f = 0; f < 2; f++) {
		struct family_rules *fr =
		    rules_of(set, kind, f == 0 ? AF_INET : AF_INET6);

		for (int len = 0; len <= V6_BITS; len++)
			if (table_reserve(&fr->by_len[len], need[f][len]) < 0)
				return -1;
	}
	return 0;
}

static void
sort_tables(struct family_rules *fr)
{
	for (int len = 0; len <= V6_BITS; len++) {
		struct table *t = &fr->by_len[len];

		if (t->n > 1)
			qsort(t->keys, t->n, sizeof(*t->keys), key_qsort_cmp);
	}
	refresh_lens(fr);
}

/* Adds a whole file's rules, sorting each table once. */
static int
add_items(struct tc_cidr_set *set, enum tc_cidr_kind kind, const char *name,
          struct items *it)
{
	char *copy = strdup(name), **files;
	int rc = -1;

	pthread_rwlock_wrlock(&set->lock);
	files = realloc(set->files, (set->n_files + 1) * sizeof(*files));
	if (files != NULL)
		set->files = files;
	mark_repeats(set, kind, it);
	if (copy == NULL || files == NULL || reserve_for(set, kind, it) < 0)
		goto out;
	set->files[set->n_files] = copy;
	for (size_t i = 0; i < it->n; i++) {
		const struct item *x = &it->v[i];
		struct table *t = table_of(set, kind, &x->net);

		if (x->skip)
			continue;
		t->keys[t->n++] = key_of(&x->net);
		set->entries[set->n_entries++] =
		    (struct entry){.net = x->net,
		                   .kind = (uint8_t)kind,
		                   .origin = TC_CIDR_FROM_FILE,
		                   .line = x->line,
		                   .file = (unsigned)set->n_files};
	}
	set->n_files++;
	copy = NULL;
	sort_tables(rules_of(set, kind, AF_INET));
	sort_tables(rules_of(set, kind, AF_INET6));
	rc = 0;
out:
	pthread_rwlock_unlock(&set->lock);
	free(copy);
	if (rc < 0)
		errno = ENOMEM;
	return rc;
}

/* The rule on one line, without its comment and surrounding blanks; NULL
 * for a line with none. Modifies line. */
static char *
line_rule(char *line)
{
	char *end;

	line[strcspn(line, "#")] = '\0';
	line += strspn(line, " \t\r\n");
	end = line + strlen(line);
	while (end > line && strchr(" \t\r\n", end[-1]) != NULL)
		*--end = '\0';
	return line[0] != '\0' ? line : NULL;
}

/* Parses every line of f into it. */
static int
read_items(FILE *f, const char *name, struct items *it, char *err,
           size_t errlen)
{
	char *line = NULL, *rule, why[QUOTE_MAX * 4 + 160];
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t n;
	struct tc_cidr net;
	int rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (strlen(line) != (size_t)n) {
			snprintf(err, errlen, "%s:%u: a NUL byte in the line",
			         name, lineno);
			rc = -1;
		} else if ((rule = line_rule(line)) == NULL) {
			continue;
		} else if (tc_cidr_parse(rule, &net, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
			rc = -1;
		} else if (item_push(it, &net, lineno) < 0) {
			snprintf(err, errlen, "%s: %s", name, strerror(ENOMEM));
			rc = -1;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		rc = -1;
	}
	free(line);
	return rc;
}

int
tc_cidr_set_load_stream(struct tc_cidr_set *set, enum tc_cidr_kind kind,
                        FILE *f, const char *name, char *err, size_t errlen)
{
	struct items it = {0};
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	rc = read_items(f, name, &it, err, errlen);
	if (rc == 0 && it.n > 0 && add_items(set, kind, name, &it) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		rc = -1;
	}
	free(it.v);
	return rc;
}

int
tc_cidr_set_load_file(struct tc_cidr_set *set, enum tc_cidr_kind kind,
                      const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int rc;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = tc_cidr_set_load_stream(set, kind, f, path, err, errlen);
	fclose(f);
	return rc;
}
