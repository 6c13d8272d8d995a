/*
 * tc-loadgen: the load generator behind bench/run.sh. One thread drives every
 * client socket through one epoll (non-blocking, CLOCK_MONOTONIC) against a
 * line-based chat relay, tcpchatd or ncat --chat. It knows its own messages
 * by a token inside the text and ignores every other line, so it needs to
 * know neither server's prefixes nor notices. Every scenario is bounded in
 * count and in wall-clock time; it never starts or stops a server.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL
#define RBUF_LEN 65536
#define MAX_CARRY 65536 /* a longer line is counted and dropped */
#define MAX_MSG 4000    /* under tcpchatd's default --max-line 4096 */
#define BATCH_LEN 32768 /* bytes a fan-out sender writes per send() */
#define SYNC_EVERY_NS (50 * NS_PER_MS)
#define GREET_NS (2 * NS_PER_S) /* a server that never greets still joins */
#define RETRY_NS (20 * NS_PER_MS)
#define MAX_ATTEMPTS 20
#define MSG_TIMEOUT_NS NS_PER_S /* latency: a relay later than this is lost */
#define IDLE_NS (3 * NS_PER_S)  /* fan-out: no delivery this long ends it */
#define CYCLE_TIMEOUT_NS (5 * NS_PER_S) /* churn: one cycle at most */
#define TEARDOWN_NS (3 * NS_PER_S)
#define SAFETY_S 30 /* SIGALRM past the cap: the generator always ends */

enum conn_state { C_IDLE, C_CONNECTING, C_OPEN, C_CLOSED };

/* One client socket. Only the loop thread touches it, except bystanders
 * while the drain thread owns their fds (latency, between the handoffs). */
struct conn {
	int fd;
	enum conn_state state;
	uint32_t idx;
	uint32_t gen;    /* bumped per socket: stale epoll events are dropped */
	uint32_t events; /* epoll interest now registered */
	unsigned registered : 1;
	unsigned reading : 1; /* wants EPOLLIN; 0 for the slow client */
	unsigned greeted : 1; /* first byte from the server arrived */
	unsigned pending : 1; /* in the connector's in-flight set */
	unsigned sync_member : 1;
	unsigned synced : 1;
	unsigned discard : 1; /* count bytes, parse no lines */
	unsigned shut_after_flush : 1;
	unsigned wr_shut : 1;
	unsigned overlong : 1;
	unsigned got : 1; /* hold: the final line arrived */
	unsigned hup : 1; /* a non-reading socket reported ERR/HUP */
	int err;
	int rcvbuf; /* SO_RCVBUF before connect, 0 = the kernel's */
	uint32_t attempts;
	size_t pend_pos;
	uint64_t t_start;
	uint64_t retry_at;
	uint64_t cycle;
	uint64_t rx_bytes;
	char *carry;
	size_t carry_len, carry_cap;
	char *out;
	size_t out_off, out_len, out_cap;
};

struct opts {
	const char *host, *port, *label;
	unsigned long count, warmup, bystanders, clients, messages, size;
	unsigned long jobs, window, inflight, max_time_s;
	unsigned long pid; /* 0: none */
	int slow;
};

struct samples {
	uint32_t *v; /* units of 100 ns, clamped to ~429 s */
	size_t n, cap;
};

/* Paces connects: at most `limit` sockets between connect() and the
 * server's first byte, so a short listen backlog (ncat: 10) never drops
 * SYNs; failed connects retry with a linear back-off. */
struct connector {
	size_t next, hi, joined, failed, nogreet, limit;
	struct conn **pend;
	size_t n_pend;
	struct conn **retry;
	size_t n_retry;
};

struct lg {
	struct opts o;
	int epfd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int family;
	struct conn *conns;
	size_t n_conns, n_open;
	char *rbuf;
	uint64_t deadline; /* the hard cap of the whole run */
	uint64_t t_last_rx;
	uint64_t dropped, connect_errors, overlong;
	int last_connect_err;
	int tearing_down;
	struct connector cn;
	/* sync barrier */
	struct conn *sync_from;
	const char *sync_line;
	size_t n_synced, n_sync_want;
	uint64_t next_sync;
	/* the running phase */
	void (*on_line)(struct lg *, struct conn *, char *, size_t);
	void (*on_open)(struct lg *, struct conn *);
	void (*on_eof)(struct lg *, struct conn *, int);
	void (*on_fail)(struct lg *, struct conn *, int);
	void (*tick)(struct lg *);
	int (*done)(struct lg *);
	void *scen;
};

struct tok {
	uint32_t sender, seq;
	uint64_t ns;
};

struct procsnap {
	long rss_kib, threads, fds;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL) {
		fprintf(stderr, "tc-loadgen: out of memory\n");
		exit(3);
	}
	return q;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL) {
		fprintf(stderr, "tc-loadgen: out of memory\n");
		exit(3);
	}
	return p;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- results ---------------------------------------------------------- */

static void
samples_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 65536;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	ns /= 100;
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile in microseconds; s must be sorted. */
static double
samples_pct_us(const struct samples *s, double q)
{
	size_t rank;

	if (s->n == 0)
		return -1;
	rank = (size_t)(q * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1] / 10.0;
}

static double
samples_mean_us(const struct samples *s)
{
	double sum = 0;

	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	return s->n ? sum / (double)s->n / 10.0 : -1;
}

/* Appends " key=value" pairs to the one RESULT line a scenario prints. */
__attribute__((format(printf, 1, 2))) static void
kv(const char *fmt, ...)
{
	va_list ap;

	putchar(' ');
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void
kv_latency(struct samples *s)
{
	if (s->n > 0)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	kv("samples=%zu", s->n);
	kv("p50_us=%.1f", samples_pct_us(s, 0.50));
	kv("p99_us=%.1f", samples_pct_us(s, 0.99));
	kv("p999_us=%.1f", samples_pct_us(s, 0.999));
	kv("max_us=%.1f", samples_pct_us(s, 1.0));
	kv("mean_us=%.1f", samples_mean_us(s));
}

static void
result_begin(struct lg *lg, const char *scen)
{
	printf("RESULT %s label=%s", scen, lg->o.label);
}

static int
result_end(struct lg *lg, int complete)
{
	kv("dropped=%" PRIu64, lg->dropped);
	kv("connect_errors=%" PRIu64, lg->connect_errors);
	kv("status=%s", complete ? "ok" : "partial");
	putchar('\n');
	fflush(stdout);
	return complete ? 0 : 1;
}

/* ---- the server's process, read from /proc ----------------------------- */

static long
count_fds(unsigned long pid)
{
	char path[64];
	struct dirent *de;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%lu/fd", pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
proc_snap(unsigned long pid, struct procsnap *s)
{
	char path[64], line[256];
	FILE *f;

	s->rss_kib = s->threads = s->fds = -1;
	if (pid == 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%lu/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			s->rss_kib = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "Threads:", 8) == 0)
			s->threads = strtol(line + 8, NULL, 10);
	}
	fclose(f);
	s->fds = count_fds(pid);
	return 0;
}

/* ---- message tokens ---------------------------------------------------- */

static uint32_t
tok_chk(uint32_t sender, uint32_t seq, uint64_t ns)
{
	uint64_t h = 1469598103934665603ULL;

	h = (h ^ sender) * 1099511628211ULL;
	h = (h ^ seq) * 1099511628211ULL;
	h = (h ^ ns) * 1099511628211ULL;
	return (uint32_t)(h ^ (h >> 32));
}

/* Writes "#Tsender.seq.ns.chk#" padded with 'x' to size bytes, then LF,
 * into buf (at least MAX_MSG + 64 bytes). Returns the bytes written. */
static size_t
tok_format(char *buf, uint32_t sender, uint32_t seq, uint64_t ns, size_t size)
{
	int n = snprintf(buf, MAX_MSG + 64,
	                 "#T%" PRIu32 ".%" PRIu32 ".%" PRIu64 ".%08" PRIx32 "#",
	                 sender, seq, ns, tok_chk(sender, seq, ns));
	size_t len = (size_t)n;

	if (len < size) {
		memset(buf + len, 'x', size - len);
		len = size;
	}
	buf[len++] = '\n';
	return len;
}

static const char *
parse_u64(const char *p, const char *end, int base, uint64_t *v)
{
	const char *start = p;

	*v = 0;
	for (; p < end; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			break;
		*v = *v * (uint64_t)base + (uint64_t)d;
	}
	return p > start && p - start <= 20 ? p : NULL;
}

/* Parses the token fields after "#T" up to and including the closing '#'.
 * Returns the end of the token or NULL. */
static const char *
tok_fields(const char *p, const char *end, struct tok *t)
{
	uint64_t s, q, ns, chk;

	if ((p = parse_u64(p, end, 10, &s)) == NULL || p >= end || *p++ != '.')
		return NULL;
	if ((p = parse_u64(p, end, 10, &q)) == NULL || p >= end || *p++ != '.')
		return NULL;
	if ((p = parse_u64(p, end, 10, &ns)) == NULL || p >= end || *p++ != '.')
		return NULL;
	if ((p = parse_u64(p, end, 16, &chk)) == NULL || p >= end ||
	    *p++ != '#')
		return NULL;
	if (s > UINT32_MAX || q > UINT32_MAX ||
	    chk != tok_chk((uint32_t)s, (uint32_t)q, ns))
		return NULL;
	t->sender = (uint32_t)s;
	t->seq = (uint32_t)q;
	t->ns = ns;
	return p;
}

/* Classifies a line. TOK_OK: one intact message of ours after the
 * server's prefix (which ends in a space); TOK_BARE: exactly our text with
 * no prefix at all, so no reader can tell who sent it (ncat --chat prefixes
 * only the first line of each read); TOK_NONE: not ours; TOK_TORN:
 * anything else holding "#T", a message cut or spliced with another. */
enum tok_kind { TOK_NONE, TOK_OK, TOK_BARE, TOK_TORN };

static enum tok_kind
tok_parse(const char *line, size_t len, size_t size, struct tok *t)
{
	const char *end = line + len, *p, *q;
	size_t want;

	p = memmem(line, len, "#T", 2);
	if (p == NULL)
		return TOK_NONE;
	if ((p != line && p[-1] != ' ') ||
	    memmem(p + 2, (size_t)(end - p - 2), "#T", 2) != NULL)
		return TOK_TORN;
	q = tok_fields(p + 2, end, t);
	if (q == NULL)
		return TOK_TORN;
	want = (size_t)(q - p) < size ? size : (size_t)(q - p);
	if ((size_t)(end - p) != want)
		return TOK_TORN;
	for (; q < end; q++)
		if (*q != 'x')
			return TOK_TORN;
	return p == line ? TOK_BARE : TOK_OK;
}

/* ---- sockets and the loop ---------------------------------------------- */

static void conn_lost(struct lg *lg, struct conn *c, int err);

static void
conn_interest(struct lg *lg, struct conn *c)
{
	struct epoll_event ev = {0};
	uint32_t want = 0;

	if (c->state == C_CONNECTING)
		want = EPOLLOUT;
	else if (c->state == C_OPEN) {
		if (c->reading)
			want |= EPOLLIN;
		if (c->out_off < c->out_len)
			want |= EPOLLOUT;
	}
	if (c->registered && want == c->events)
		return;
	ev.events = want;
	ev.data.u64 = (uint64_t)c->gen << 32 | c->idx;
	if (epoll_ctl(lg->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	              c->fd, &ev) < 0) {
		fprintf(stderr, "tc-loadgen: epoll_ctl: %s\n", strerror(errno));
		exit(3);
	}
	c->registered = 1;
	c->events = want;
}

static void
conn_reset_state(struct conn *c)
{
	c->registered = c->greeted = c->pending = c->synced = 0;
	c->discard = c->shut_after_flush = c->wr_shut = c->overlong = 0;
	c->hup = 0;
	c->reading = 1;
	c->events = 0;
	c->carry_len = c->out_off = c->out_len = 0;
	c->err = 0;
}

/* Starts a non-blocking connect; the loop finishes it on EPOLLOUT.
 * Returns -1 with errno when connect() fails at once. */
static int
conn_start(struct lg *lg, struct conn *c)
{
	int one = 1, fd, e;

	fd = socket(lg->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Latency is the point: never let Nagle hold a line back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf,
		           sizeof(c->rcvbuf));
	if (connect(fd, (struct sockaddr *)&lg->addr, lg->addrlen) < 0 &&
	    errno != EINPROGRESS) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	conn_reset_state(c);
	c->fd = fd;
	c->gen++;
	c->state = C_CONNECTING;
	c->t_start = now_ns();
	lg->n_open++;
	conn_interest(lg, c);
	return 0;
}

static void
conn_close(struct lg *lg, struct conn *c)
{
	if (c->state == C_CONNECTING || c->state == C_OPEN) {
		close(c->fd);
		lg->n_open--;
	}
	c->fd = -1;
	c->state = C_CLOSED;
	c->registered = 0;
	c->gen++;
}

static void
conn_flush(struct lg *lg, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
		                 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_interest(lg, c);
			return;
		} else {
			conn_lost(lg, c, errno);
			return;
		}
	}
	c->out_off = c->out_len = 0;
	if (c->shut_after_flush && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = 1;
	}
	conn_interest(lg, c);
}

/* Queues len bytes behind whatever c still has to send and sends what the
 * socket takes now. */
static void
conn_send(struct lg *lg, struct conn *c, const char *buf, size_t len)
{
	if (c->state != C_OPEN)
		return;
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		c->out_cap = (c->out_len + len) * 2;
		c->out = xrealloc(c->out, c->out_cap);
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	conn_flush(lg, c);
}

/* Sends "exit\n" then the FIN once it is out, as the clients do. */
static void
conn_exit(struct lg *lg, struct conn *c)
{
	c->shut_after_flush = 1;
	conn_send(lg, c, "exit\n", 5);
}

/* ---- the connector ----------------------------------------------------- */

static void
pend_remove(struct lg *lg, struct conn *c)
{
	struct connector *cn = &lg->cn;
	struct conn *last = cn->pend[--cn->n_pend];

	last->pend_pos = c->pend_pos;
	cn->pend[c->pend_pos] = last;
	c->pending = 0;
}

static void
cn_retry_later(struct lg *lg, struct conn *c, int err)
{
	struct connector *cn = &lg->cn;

	lg->connect_errors++;
	lg->last_connect_err = err;
	if (c->attempts >= MAX_ATTEMPTS) {
		cn->failed++;
		return;
	}
	c->retry_at = now_ns() + RETRY_NS * c->attempts;
	cn->retry[cn->n_retry++] = c;
}

static void
cn_start_one(struct lg *lg, struct conn *c)
{
	struct connector *cn = &lg->cn;

	c->attempts++;
	if (conn_start(lg, c) < 0) {
		cn_retry_later(lg, c, errno);
		return;
	}
	c->pending = 1;
	c->pend_pos = cn->n_pend;
	cn->pend[cn->n_pend++] = c;
}

static void
cn_joined(struct lg *lg, struct conn *c)
{
	pend_remove(lg, c);
	lg->cn.joined++;
}

static void
cn_tick(struct lg *lg)
{
	struct connector *cn = &lg->cn;
	uint64_t now = now_ns();

	for (size_t i = 0; i < cn->n_pend;) {
		struct conn *c = cn->pend[i];

		if (c->state == C_OPEN && now - c->t_start > GREET_NS) {
			cn->nogreet++;
			cn_joined(lg, c); /* moves another into slot i */
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < cn->n_retry && cn->n_pend < cn->limit;) {
		struct conn *c = cn->retry[i];

		if (c->retry_at > now) {
			i++;
			continue;
		}
		cn->retry[i] = cn->retry[--cn->n_retry];
		cn_start_one(lg, c);
	}
	while (cn->n_pend < cn->limit && cn->next < cn->hi)
		cn_start_one(lg, &lg->conns[cn->next++]);
}

static int
cn_done(struct lg *lg)
{
	return lg->cn.next >= lg->cn.hi && lg->cn.n_pend == 0 &&
	       lg->cn.n_retry == 0;
}

/* ---- reading ----------------------------------------------------------- */

static void
line_dispatch(struct lg *lg, struct conn *c, char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	if (lg->sync_line != NULL && strstr(line, lg->sync_line) != NULL) {
		if (c->sync_member && !c->synced && c != lg->sync_from) {
			c->synced = 1;
			lg->n_synced++;
		}
		return;
	}
	if (lg->on_line != NULL)
		lg->on_line(lg, c, line, len);
}

/* Keeps the start of a line the next read completes; room for a NUL. */
static void
carry_append(struct lg *lg, struct conn *c, const char *p, size_t n)
{
	if (c->overlong || c->carry_len + n + 1 > MAX_CARRY) {
		c->overlong = 1;
		return;
	}
	if (c->carry_len + n + 1 > c->carry_cap) {
		c->carry_cap = (c->carry_len + n + 1) * 2;
		c->carry = xrealloc(c->carry, c->carry_cap);
	}
	memcpy(c->carry + c->carry_len, p, n);
	c->carry_len += n;
}

static void
lines_feed(struct lg *lg, struct conn *c, char *buf, size_t len)
{
	char *p = buf, *end = buf + len;
	uint32_t gen = c->gen;

	while (p < end && c->gen == gen) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL) {
			carry_append(lg, c, p, (size_t)(end - p));
			return;
		}
		if (c->carry_len > 0 || c->overlong)
			carry_append(lg, c, p, (size_t)(nl - p));
		if (c->overlong) {
			lg->overlong++;
			c->overlong = 0;
			c->carry_len = 0;
		} else if (c->carry_len > 0) {
			size_t n = c->carry_len;

			c->carry_len = 0;
			line_dispatch(lg, c, c->carry, n);
		} else {
			line_dispatch(lg, c, p, (size_t)(nl - p));
		}
		p = nl + 1;
	}
}

static void
conn_lost(struct lg *lg, struct conn *c, int err)
{
	if (c->pending) {
		pend_remove(lg, c);
		lg->cn.failed++;
	}
	conn_close(lg, c);
	c->err = err;
	if (lg->on_eof != NULL)
		lg->on_eof(lg, c, err);
	else if (!lg->tearing_down)
		lg->dropped++;
}

static void
conn_read(struct lg *lg, struct conn *c)
{
	uint32_t gen = c->gen;

	for (int i = 0; i < 16 && c->gen == gen; i++) {
		ssize_t n = recv(c->fd, lg->rbuf, RBUF_LEN, 0);

		if (n > 0) {
			c->rx_bytes += (uint64_t)n;
			lg->t_last_rx = now_ns();
			if (!c->greeted) {
				c->greeted = 1;
				if (c->pending)
					cn_joined(lg, c);
			}
			if (!c->discard)
				lines_feed(lg, c, lg->rbuf, (size_t)n);
			if (n < RBUF_LEN)
				return;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else {
			conn_lost(lg, c, n == 0 ? 0 : errno);
			return;
		}
	}
}

static void
conn_connected(struct lg *lg, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		conn_close(lg, c);
		c->state = C_IDLE;
		c->err = err;
		if (c->pending) {
			pend_remove(lg, c);
			cn_retry_later(lg, c, err);
		} else if (lg->on_fail != NULL) {
			lg->on_fail(lg, c, err);
		} else {
			lg->connect_errors++;
		}
		return;
	}
	c->state = C_OPEN;
	conn_interest(lg, c);
	if (lg->on_open != NULL)
		lg->on_open(lg, c);
}

static void
conn_event(struct lg *lg, struct conn *c, uint32_t ev)
{
	uint32_t gen = c->gen;

	if (c->state == C_CONNECTING) {
		conn_connected(lg, c);
		return;
	}
	if (c->state != C_OPEN)
		return;
	if (!c->reading && (ev & (EPOLLERR | EPOLLHUP))) {
		/* The slow client: note it, read nothing, stop the reports. */
		c->hup = 1;
		epoll_ctl(lg->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->registered = 0;
		return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_read(lg, c);
	if (c->gen == gen && c->state == C_OPEN && (ev & EPOLLOUT))
		conn_flush(lg, c);
}

/* Runs the loop until lg->done() or the deadline (never past the hard cap
 * unless the caller allows it: teardown). Returns 1 when done. */
static int
loop_run(struct lg *lg, uint64_t deadline)
{
	struct epoll_event evs[512];

	for (;;) {
		uint64_t now;
		int n, timeout_ms;

		if (lg->tick != NULL)
			lg->tick(lg);
		if (lg->done(lg))
			return 1;
		now = now_ns();
		if (now >= deadline)
			return 0;
		timeout_ms = (int)min_u64((deadline - now) / NS_PER_MS + 1, 10);
		n = epoll_wait(lg->epfd, evs, 512, timeout_ms);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "tc-loadgen: epoll_wait: %s\n",
			        strerror(errno));
			exit(3);
		}
		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			struct conn *c = &lg->conns[(uint32_t)d];

			if ((uint32_t)(d >> 32) == c->gen)
				conn_event(lg, c, evs[i].events);
		}
	}
}

static void
phase_set(struct lg *lg, void (*tick)(struct lg *), int (*done)(struct lg *))
{
	lg->tick = tick;
	lg->done = done;
}

/* ---- phases every scenario shares -------------------------------------- */

/* Connects conns[lo, hi) with paced connects; 1 when all joined. */
static int
phase_connect(struct lg *lg, size_t lo, size_t hi, uint64_t deadline)
{
	struct connector *cn = &lg->cn;

	free(cn->pend);
	free(cn->retry);
	memset(cn, 0, sizeof(*cn));
	cn->next = lo;
	cn->hi = hi;
	cn->limit = lg->o.inflight;
	cn->pend = xcalloc(cn->limit, sizeof(*cn->pend));
	cn->retry = xcalloc(hi - lo, sizeof(*cn->retry));
	phase_set(lg, cn_tick, cn_done);
	loop_run(lg, deadline);
	return cn->joined == hi - lo;
}

static void
sync_tick(struct lg *lg)
{
	uint64_t now = now_ns();
	char line[32];

	if (now < lg->next_sync)
		return;
	snprintf(line, sizeof(line), "%s\n", lg->sync_line);
	conn_send(lg, lg->sync_from, line, strlen(line));
	lg->next_sync = now + SYNC_EVERY_NS;
}

static int
sync_done(struct lg *lg)
{
	return lg->n_synced >= lg->n_sync_want;
}

/* A barrier: from sends `mark` until every other conn in [lo, hi) saw it,
 * so the server has registered them all before anything is measured.
 * Returns the time it took in ns, or 0 on timeout. */
static uint64_t
phase_sync(struct lg *lg, struct conn *from, size_t lo, size_t hi,
           const char *mark, uint64_t deadline)
{
	uint64_t t0 = now_ns();
	int ok;

	lg->n_synced = lg->n_sync_want = 0;
	for (size_t i = lo; i < hi; i++) {
		struct conn *c = &lg->conns[i];

		c->synced = 0;
		c->sync_member = c != from;
		lg->n_sync_want += c->sync_member;
	}
	lg->sync_from = from;
	lg->sync_line = mark;
	lg->next_sync = 0;
	phase_set(lg, sync_tick, sync_done);
	ok = loop_run(lg, deadline);
	for (size_t i = lo; i < hi; i++)
		lg->conns[i].sync_member = 0;
	return ok ? now_ns() - t0 + 1 : 0;
}

static int
open_done(struct lg *lg)
{
	return lg->n_open == 0;
}

/* Every open client sends "exit", its FIN, and reads to the server's FIN;
 * what is still open after TEARDOWN_NS is closed. Returns those left. */
static size_t
phase_teardown(struct lg *lg)
{
	size_t left = 0;

	lg->tearing_down = 1;
	lg->on_line = NULL;
	lg->on_eof = NULL;
	lg->on_open = NULL;
	lg->on_fail = NULL;
	for (size_t i = 0; i < lg->n_conns; i++) {
		struct conn *c = &lg->conns[i];

		if (c->state == C_CONNECTING) {
			conn_close(lg, c);
		} else if (c->state == C_OPEN) {
			c->discard = 1;
			c->reading = 1;
			conn_exit(lg, c);
		}
	}
	phase_set(lg, NULL, open_done);
	loop_run(lg, now_ns() + TEARDOWN_NS);
	for (size_t i = 0; i < lg->n_conns; i++)
		if (lg->conns[i].state == C_OPEN) {
			conn_close(lg, &lg->conns[i]);
			left++;
		}
	return left;
}

static void
lg_alloc_conns(struct lg *lg, size_t n)
{
	lg->conns = xcalloc(n, sizeof(*lg->conns));
	lg->n_conns = n;
	for (size_t i = 0; i < n; i++) {
		lg->conns[i].fd = -1;
		lg->conns[i].idx = (uint32_t)i;
	}
}

/* ---- latency: one sender, one receiver, ping-pong ---------------------- */

/* Reads and discards for the bystanders, beside the loop thread, so their
 * draining does not sit in the measured path of the ping-pong. */
struct drain {
	int epfd, evfd;
	pthread_t th;
	uint64_t bytes, eofs;
};

static void *
drain_main(void *arg)
{
	static char buf[RBUF_LEN];
	struct drain *d = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(d->epfd, evs, 64, 1000);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == d->evfd)
				return NULL;
			for (int k = 0; k < 16; k++) {
				ssize_t r = recv(fd, buf, sizeof(buf), 0);

				if (r > 0) {
					d->bytes += (uint64_t)r;
					continue;
				}
				if (r == 0 ||
				    (errno != EAGAIN && errno != EINTR)) {
					d->eofs++;
					epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd,
					          NULL);
				}
				break;
			}
		}
	}
}

static int
drain_start(struct lg *lg, struct drain *d, size_t lo, size_t hi)
{
	struct epoll_event ev = {.events = EPOLLIN};

	memset(d, 0, sizeof(*d));
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->evfd = eventfd(0, EFD_CLOEXEC);
	if (d->epfd < 0 || d->evfd < 0)
		return -1;
	ev.data.fd = d->evfd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->evfd, &ev);
	for (size_t i = lo; i < hi; i++) {
		struct conn *c = &lg->conns[i];

		if (c->state != C_OPEN)
			continue;
		epoll_ctl(lg->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->registered = 0;
		c->discard = 1;
		ev.data.fd = c->fd;
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, c->fd, &ev);
	}
	errno = pthread_create(&d->th, NULL, drain_main, d);
	return errno ? -1 : 0;
}

static void
drain_stop(struct lg *lg, struct drain *d, size_t lo, size_t hi)
{
	uint64_t one = 1;

	if (write(d->evfd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "tc-loadgen: eventfd: %s\n", strerror(errno));
	pthread_join(d->th, NULL);
	for (size_t i = lo; i < hi; i++)
		if (lg->conns[i].state == C_OPEN)
			conn_interest(lg, &lg->conns[i]);
	close(d->evfd);
	close(d->epfd);
}

struct lat {
	uint32_t seq, total;
	uint64_t sent_at, lost, late, garbled;
	struct samples s;
};

static void
lat_send(struct lg *lg, struct lat *l)
{
	char buf[MAX_MSG + 64];
	uint64_t now = now_ns();
	size_t n = tok_format(buf, 0, l->seq, now, lg->o.size);

	l->sent_at = now;
	conn_send(lg, &lg->conns[0], buf, n);
}

static void
lat_on_line(struct lg *lg, struct conn *c, char *line, size_t len)
{
	struct lat *l = lg->scen;
	struct tok t;
	enum tok_kind r;

	if (c->idx != 1)
		return;
	r = tok_parse(line, len, lg->o.size, &t);
	if (r == TOK_NONE)
		return;
	if (r != TOK_OK) {
		l->garbled++;
		return;
	}
	if (t.sender != 0 || t.seq != l->seq) {
		l->late++;
		return;
	}
	if (t.seq >= lg->o.warmup)
		samples_add(&l->s, now_ns() - t.ns);
	if (++l->seq < l->total)
		lat_send(lg, l);
}

static void
lat_tick(struct lg *lg)
{
	struct lat *l = lg->scen;

	if (l->seq < l->total && now_ns() - l->sent_at > MSG_TIMEOUT_NS) {
		l->lost++;
		if (++l->seq < l->total)
			lat_send(lg, l);
	}
}

static int
lat_done(struct lg *lg)
{
	struct lat *l = lg->scen;

	return l->seq >= l->total || lg->conns[0].state != C_OPEN ||
	       lg->conns[1].state != C_OPEN;
}

static int
run_latency(struct lg *lg)
{
	size_t n = 2 + lg->o.bystanders;
	struct lat l = {.total = (uint32_t)(lg->o.count + lg->o.warmup)};
	struct drain d;
	int ok, ran = 0;
	uint64_t t0 = 0;

	lg_alloc_conns(lg, n);
	lg->scen = &l;
	ok = phase_connect(lg, 0, n, lg->deadline) &&
	     phase_sync(lg, &lg->conns[0], 0, n, "#S#", lg->deadline);
	if (ok && (ok = drain_start(lg, &d, 2, n) == 0) != 0) {
		lg->on_line = lat_on_line;
		phase_set(lg, lat_tick, lat_done);
		t0 = now_ns();
		lat_send(lg, &l);
		ran = loop_run(lg, lg->deadline);
		t0 = now_ns() - t0;
		drain_stop(lg, &d, 2, n);
	}
	ok = ok && ran && l.lost == 0;
	result_begin(lg, "latency");
	kv("bystanders=%lu", lg->o.bystanders);
	kv("size=%lu", lg->o.size);
	kv("sent=%" PRIu32, l.seq);
	kv("lost=%" PRIu64, l.lost);
	kv("late=%" PRIu64, l.late);
	kv("garbled=%" PRIu64, l.garbled);
	kv_latency(&l.s);
	kv("elapsed_s=%.3f", (double)t0 / 1e9);
	kv("left_open=%zu", phase_teardown(lg));
	free(l.s.v);
	return result_end(lg, ok);
}

/* ---- fan-out: N clients all sending, all reading ------------------------ */

struct fan {
	size_t n;       /* senders, who all read too */
	uint32_t m;     /* messages per sender */
	uint32_t *sent; /* [sender] */
	uint64_t *acc;  /* [sender]: seqs accounted by all receivers */
	uint32_t *next; /* [receiver * n + sender]: next seq expected */
	uint64_t sent_total, delivered, bare, torn, dup, echo;
	uint64_t t0, t_last;
	struct samples lat;
	struct conn *slow;
};

static void
fan_on_line(struct lg *lg, struct conn *c, char *line, size_t len)
{
	struct fan *f = lg->scen;
	struct tok t;
	uint32_t *next;
	uint64_t now;
	enum tok_kind r;

	if (c->idx >= f->n)
		return;
	r = tok_parse(line, len, lg->o.size, &t);
	if (r == TOK_NONE)
		return;
	if (r == TOK_TORN) {
		if (f->torn++ < 3) /* evidence, for the record */
			fprintf(stderr,
			        "tc-loadgen: torn line at client %u: %.300s\n",
			        c->idx, line);
		return;
	}
	if (t.sender >= f->n || t.sender == c->idx) {
		f->echo++; /* the server sent it back, or it is not ours */
		return;
	}
	next = &f->next[(size_t)c->idx * f->n + t.sender];
	if (t.seq < *next) {
		f->dup++;
		return;
	}
	/* A jump means the ones skipped are lost here; account them so the
	 * sender's window does not close on losses. */
	f->acc[t.sender] += t.seq + 1 - *next;
	*next = t.seq + 1;
	if (r == TOK_OK)
		f->delivered++;
	else if (f->bare++ == 0)
		fprintf(stderr,
		        "tc-loadgen: unattributed line at client %u: %s\n",
		        c->idx, line);
	now = now_ns();
	f->t_last = now;
	samples_add(&f->lat, now - t.ns);
}

static int
fan_window_open(struct lg *lg, struct fan *f, size_t s)
{
	uint64_t acked = f->acc[s] / (f->n - 1);

	return lg->o.window == 0 || f->sent[s] - acked < lg->o.window;
}

/* Sends as fast as the socket takes it, within the window, in batches. */
static void
fan_fill(struct lg *lg, struct fan *f, struct conn *c)
{
	static char batch[BATCH_LEN + MAX_MSG + 64];
	size_t s = c->idx;

	for (int round = 0; round < 8; round++) {
		size_t len = 0;
		uint64_t now = now_ns();

		if (c->state != C_OPEN || c->out_off < c->out_len)
			return;
		while (len < BATCH_LEN && f->sent[s] < f->m &&
		       fan_window_open(lg, f, s)) {
			len += tok_format(batch + len, (uint32_t)s, f->sent[s],
			                  now, lg->o.size);
			f->sent[s]++;
			f->sent_total++;
		}
		if (len == 0)
			return;
		conn_send(lg, c, batch, len);
	}
}

static void
fan_tick(struct lg *lg)
{
	struct fan *f = lg->scen;

	for (size_t i = 0; i < f->n; i++)
		fan_fill(lg, f, &lg->conns[i]);
}

static int
fan_done(struct lg *lg)
{
	struct fan *f = lg->scen;
	uint64_t last = f->t_last > f->t0 ? f->t_last : f->t0;

	if (f->sent_total == (uint64_t)f->n * f->m &&
	    f->delivered + f->bare == f->sent_total * (f->n - 1))
		return 1;
	return now_ns() - last > IDLE_NS;
}

/* With the slow client still connected and unread: does a fresh client's
 * line still reach another fresh client? Returns ms, or -1. */
static double
phase_alive(struct lg *lg, size_t a)
{
	uint64_t deadline = now_ns() + 5 * NS_PER_S, took;

	lg->on_line = NULL;
	if (!phase_connect(lg, a, a + 2, deadline))
		return -1;
	took = phase_sync(lg, &lg->conns[a], a, a + 2, "#P#", deadline);
	return took ? (double)took / 1e6 : -1;
}

/* What became of the client that never read, now that it reads what was
 * sent to it: "dropped" when the server cut it off (FIN or RST) by the end,
 * "kept" when data stops for 500 ms and the socket is still open. */
static const char *
slow_fate(struct lg *lg, struct conn *c, uint64_t *bytes)
{
	uint64_t deadline = now_ns() + 3 * NS_PER_S;

	*bytes = 0;
	if (c->state != C_OPEN)
		return "dropped";
	while (now_ns() < deadline) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, 500) == 0)
			return c->hup ? "dropped" : "kept";
		n = recv(c->fd, lg->rbuf, RBUF_LEN, MSG_DONTWAIT);
		if (n > 0) {
			*bytes += (uint64_t)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			conn_close(lg, c);
			return "dropped";
		}
	}
	return "kept";
}

static void
fan_report(struct lg *lg, struct fan *f, int complete)
{
	uint64_t expected = f->sent_total * (f->n - 1);
	uint64_t span = f->t_last > f->t0 ? f->t_last - f->t0 : 1;

	kv("clients=%zu", f->n);
	kv("per_client=%" PRIu32, f->m);
	kv("size=%lu", lg->o.size);
	kv("window=%lu", lg->o.window);
	kv("planned=%" PRIu64, (uint64_t)f->n * f->m * (f->n - 1));
	kv("sent=%" PRIu64, f->sent_total);
	kv("expected=%" PRIu64, expected);
	kv("delivered=%" PRIu64, f->delivered);
	kv("unattributed=%" PRIu64, f->bare);
	kv("texts=%" PRIu64, f->delivered + f->bare);
	kv("lost=%" PRIu64, expected - f->delivered - f->bare);
	kv("torn_lines=%" PRIu64, f->torn);
	kv("dup=%" PRIu64, f->dup);
	kv("echo=%" PRIu64, f->echo);
	kv("msgs_per_s=%.0f",
	   (double)(f->delivered + f->bare) * 1e9 / (double)span);
	kv("elapsed_s=%.3f", (double)span / 1e9);
	kv("complete=%d", complete);
	/* Senders could not send all: deliveries stopped, the window shut. */
	kv("stalled=%d", f->sent_total < (uint64_t)f->n * f->m);
	kv_latency(&f->lat);
}

static void
fan_alloc(struct lg *lg, struct fan *f)
{
	f->n = lg->o.clients;
	f->m = (uint32_t)lg->o.messages;
	f->sent = xcalloc(f->n, sizeof(*f->sent));
	f->acc = xcalloc(f->n, sizeof(*f->acc));
	f->next = xcalloc(f->n * f->n, sizeof(*f->next));
	/* n clients, the slow one, two fresh ones for the liveness check */
	lg_alloc_conns(lg, f->n + 3);
}

static int
run_fanout(struct lg *lg)
{
	struct fan f = {0};
	size_t n_setup;
	int ok, done = 0;
	double alive_ms = -2;
	const char *fate = "none";
	uint64_t slow_bytes = 0;

	fan_alloc(lg, &f);
	lg->scen = &f;
	n_setup = f.n + (lg->o.slow ? 1 : 0);
	/* A small window, as over a slow link: its backlog piles up in the
	 * server rather than in the kernel's buffers. */
	lg->conns[f.n].rcvbuf = 4096;
	ok = phase_connect(lg, 0, n_setup, lg->deadline) &&
	     phase_sync(lg, &lg->conns[0], 0, n_setup, "#S#", lg->deadline);
	if (ok) {
		if (lg->o.slow) {
			/* From here on it never reads: the server's problem. */
			f.slow = &lg->conns[f.n];
			f.slow->reading = 0;
			conn_interest(lg, f.slow);
		}
		lg->on_line = fan_on_line;
		f.t0 = now_ns();
		phase_set(lg, fan_tick, fan_done);
		loop_run(lg, lg->deadline);
		done = f.delivered + f.bare == f.sent_total * (f.n - 1) &&
		       f.sent_total == (uint64_t)f.n * f.m;
	}
	if (ok && lg->o.slow) {
		alive_ms = phase_alive(lg, f.n + 1);
		fate = slow_fate(lg, f.slow, &slow_bytes);
	}
	result_begin(lg, lg->o.slow ? "slow" : "fanout");
	fan_report(lg, &f, done);
	kv("alive_ms=%.1f", alive_ms);
	kv("slow_client=%s", fate);
	kv("slow_rx_bytes=%" PRIu64, slow_bytes);
	kv("left_open=%zu", phase_teardown(lg));
	free(f.lat.v);
	free(f.sent);
	free(f.acc);
	free(f.next);
	return result_end(lg, ok && done);
}

/* ---- hold: many idle clients, then one line to all ---------------------- */

struct hold {
	size_t n_idle, got;
	uint64_t t_send;
	struct samples lat;
};

static void
hold_on_line(struct lg *lg, struct conn *c, char *line, size_t len)
{
	struct hold *h = lg->scen;

	if (c->idx == 0 || c->got || strstr(line, "#F#") == NULL)
		return;
	c->got = 1;
	h->got++;
	samples_add(&h->lat, now_ns() - h->t_send);
}

static int
hold_quiet(struct lg *lg)
{
	return now_ns() - lg->t_last_rx > 500 * NS_PER_MS;
}

static int
hold_all_got(struct lg *lg)
{
	struct hold *h = lg->scen;
	size_t open = 0;

	for (size_t i = 1; i < lg->n_conns; i++)
		open += lg->conns[i].state == C_OPEN && !lg->conns[i].got;
	return open == 0 || h->got >= h->n_idle;
}

static void
hold_report(struct lg *lg, struct hold *h, struct procsnap *before,
            struct procsnap *after, uint64_t connect_ns, uint64_t settle_ns)
{
	size_t joined = lg->cn.joined ? lg->cn.joined - 1 : 0;

	kv("clients=%zu", h->n_idle);
	kv("joined=%zu", joined);
	kv("nogreet=%zu", lg->cn.nogreet);
	kv("connect_s=%.3f", (double)connect_ns / 1e9);
	kv("settle_s=%.3f", (double)settle_ns / 1e9);
	kv("got=%zu", h->got);
	if (h->lat.n > 0)
		qsort(h->lat.v, h->lat.n, sizeof(*h->lat.v), cmp_u32);
	kv("first_ms=%.2f", samples_pct_us(&h->lat, 0) / 1e3);
	kv("p50_ms=%.2f", samples_pct_us(&h->lat, 0.5) / 1e3);
	kv("last_ms=%.2f", samples_pct_us(&h->lat, 1.0) / 1e3);
	kv("rss_before_kib=%ld", before->rss_kib);
	kv("rss_after_kib=%ld", after->rss_kib);
	kv("kib_per_conn=%.1f",
	   joined ? (double)(after->rss_kib - before->rss_kib) / (double)joined
	          : -1.0);
	kv("threads_before=%ld", before->threads);
	kv("threads_after=%ld", after->threads);
	kv("fds_after=%ld", after->fds);
}

static int
run_hold(struct lg *lg)
{
	struct hold h = {.n_idle = lg->o.clients};
	struct procsnap before, after;
	uint64_t t0, connect_ns, settle_ns = 0;
	int ok;

	lg_alloc_conns(lg, h.n_idle + 1); /* [0] speaks, the rest listen */
	lg->scen = &h;
	for (size_t i = 0; i < lg->n_conns; i++)
		lg->conns[i].discard = 1;
	proc_snap(lg->o.pid, &before);
	t0 = now_ns();
	ok = phase_connect(lg, 0, lg->n_conns, lg->deadline);
	connect_ns = now_ns() - t0;
	if (ok) {
		/* Join notices go to everyone: wait until the storm is over. */
		phase_set(lg, NULL, hold_quiet);
		ok = loop_run(lg, lg->deadline);
		settle_ns = now_ns() - t0 - connect_ns;
	}
	proc_snap(lg->o.pid, &after);
	if (ok) {
		for (size_t i = 0; i < lg->n_conns; i++) {
			lg->conns[i].discard = 0;
			lg->conns[i].carry_len = 0;
		}
		lg->on_line = hold_on_line;
		h.t_send = now_ns();
		conn_send(lg, &lg->conns[0], "#F#\n", 4);
		phase_set(lg, NULL, hold_all_got);
		ok = loop_run(lg, lg->deadline) && h.got == h.n_idle;
	}
	result_begin(lg, "hold");
	hold_report(lg, &h, &before, &after, connect_ns, settle_ns);
	kv("left_open=%zu", phase_teardown(lg));
	free(h.lat.v);
	return result_end(lg, ok);
}

/* ---- churn: connect, one line, exit, FIN, read to EOF, close ----------- */

struct churn {
	uint64_t target, started, ok, failed, refused, reset, timeout;
	uint64_t relayed;
};

static void churn_next(struct lg *lg, struct conn *c);

static void
churn_on_open(struct lg *lg, struct conn *c)
{
	char line[64];
	int n;

	if (c->idx == 0)
		return;
	c->discard = 1;
	n = snprintf(line, sizeof(line), "#C%" PRIu64 "#\n", c->cycle);
	conn_send(lg, c, line, (size_t)n);
	conn_exit(lg, c);
}

static void
churn_on_line(struct lg *lg, struct conn *c, char *line, size_t len)
{
	struct churn *ch = lg->scen;

	if (c->idx == 0 && strstr(line, "#C") != NULL)
		ch->relayed++;
}

static void
churn_on_eof(struct lg *lg, struct conn *c, int err)
{
	struct churn *ch = lg->scen;

	if (c->idx == 0) {
		lg->dropped++;
		return;
	}
	if (err == 0) {
		ch->ok++;
	} else {
		ch->failed++;
		ch->reset++;
	}
	churn_next(lg, c);
}

static void
churn_on_fail(struct lg *lg, struct conn *c, int err)
{
	struct churn *ch = lg->scen;

	ch->failed++;
	ch->refused++;
	lg->connect_errors++;
	lg->last_connect_err = err;
	c->retry_at = now_ns() + RETRY_NS;
}

static void
churn_next(struct lg *lg, struct conn *c)
{
	struct churn *ch = lg->scen;

	c->state = C_IDLE;
	if (ch->started >= ch->target)
		return;
	c->cycle = ++ch->started;
	if (conn_start(lg, c) < 0) {
		churn_on_fail(lg, c, errno);
		c->state = C_IDLE;
	}
}

static void
churn_tick(struct lg *lg)
{
	struct churn *ch = lg->scen;
	uint64_t now = now_ns();

	for (size_t i = 1; i < lg->n_conns; i++) {
		struct conn *c = &lg->conns[i];

		if ((c->state == C_OPEN || c->state == C_CONNECTING) &&
		    now - c->t_start > CYCLE_TIMEOUT_NS) {
			conn_close(lg, c);
			ch->failed++;
			ch->timeout++;
			churn_next(lg, c);
		} else if (c->state == C_IDLE && c->retry_at <= now) {
			churn_next(lg, c);
		}
	}
}

static int
churn_done(struct lg *lg)
{
	struct churn *ch = lg->scen;

	return ch->ok + ch->failed >= ch->target;
}

static int
churn_observed(struct lg *lg)
{
	struct churn *ch = lg->scen;

	return ch->relayed >= ch->ok || now_ns() - lg->t_last_rx > NS_PER_S;
}

/* Polls the server until its fds and threads are back to what they were
 * before the run (a server frees a session a little after its FIN). */
static int
proc_back_to(unsigned long pid, const struct procsnap *base,
             struct procsnap *now)
{
	uint64_t deadline = now_ns() + 5 * NS_PER_S;
	struct timespec ts = {0, 20 * 1000000L};

	for (;;) {
		if (proc_snap(pid, now) < 0)
			return 0;
		if (now->fds <= base->fds && now->threads <= base->threads)
			return 1;
		if (now_ns() >= deadline)
			return 0;
		nanosleep(&ts, NULL); /* polling /proc: nothing to wait on */
	}
}

static void
churn_report(struct lg *lg, struct churn *ch, uint64_t span,
             const struct procsnap *before, const struct procsnap *after,
             int baseline)
{
	kv("cycles=%" PRIu64, ch->target);
	kv("jobs=%lu", lg->o.jobs);
	kv("ok=%" PRIu64, ch->ok);
	kv("failed=%" PRIu64, ch->failed);
	kv("refused=%" PRIu64, ch->refused);
	kv("reset=%" PRIu64, ch->reset);
	kv("timeout=%" PRIu64, ch->timeout);
	kv("relayed=%" PRIu64, ch->relayed);
	kv("cycles_per_s=%.0f", (double)ch->ok * 1e9 / (double)span);
	kv("elapsed_s=%.3f", (double)span / 1e9);
	kv("fds_before=%ld", before->fds);
	kv("fds_after=%ld", after->fds);
	kv("threads_before=%ld", before->threads);
	kv("threads_after=%ld", after->threads);
	kv("baseline=%s", lg->o.pid == 0 ? "unknown" : baseline ? "yes" : "no");
}

static int
run_churn(struct lg *lg)
{
	struct churn ch = {.target = lg->o.count};
	struct procsnap before, after;
	uint64_t t0, span = 1;
	int ok, baseline = 0;

	lg_alloc_conns(lg, lg->o.jobs + 1); /* [0] observes the relays */
	lg->scen = &ch;
	proc_snap(lg->o.pid, &before);
	ok = phase_connect(lg, 0, 1, lg->deadline);
	if (ok) {
		lg->on_open = churn_on_open;
		lg->on_line = churn_on_line;
		lg->on_eof = churn_on_eof;
		lg->on_fail = churn_on_fail;
		t0 = now_ns();
		for (size_t i = 1; i < lg->n_conns; i++)
			churn_next(lg, &lg->conns[i]);
		phase_set(lg, churn_tick, churn_done);
		ok = loop_run(lg, lg->deadline);
		span = now_ns() - t0;
		phase_set(lg, NULL, churn_observed);
		loop_run(lg, min_u64(lg->deadline, now_ns() + 3 * NS_PER_S));
	}
	result_begin(lg, "churn");
	phase_teardown(lg);
	if (lg->o.pid != 0)
		baseline = proc_back_to(lg->o.pid, &before, &after);
	else
		after = before;
	churn_report(lg, &ch, span, &before, &after, baseline);
	return result_end(lg, ok && ch.failed == 0);
}

/* ---- helpers for the script -------------------------------------------- */

static int
wait_done(struct lg *lg)
{
	return lg->conns[0].state != C_CONNECTING;
}

/* Until the server accepts a connection (it has just been started). */
static int
run_wait(struct lg *lg)
{
	struct timespec ts = {0, 50 * 1000000L};

	lg_alloc_conns(lg, 1);
	for (;;) {
		if (conn_start(lg, &lg->conns[0]) == 0) {
			phase_set(lg, NULL, wait_done);
			loop_run(lg, lg->deadline);
			if (lg->conns[0].state == C_OPEN)
				break;
			conn_close(lg, &lg->conns[0]);
		}
		if (now_ns() >= lg->deadline) {
			printf("RESULT wait status=partial\n");
			return 1;
		}
		nanosleep(&ts, NULL); /* nothing listens yet: nothing to poll */
	}
	phase_teardown(lg);
	printf("RESULT wait status=ok\n");
	return 0;
}

/* Prints a free loopback port (for ncat, which cannot be given port 0). */
static int
run_port(struct lg *lg)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char port[16];
	int fd = socket(lg->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(&ss, &lg->addr, lg->addrlen);
	((struct sockaddr_in *)&ss)->sin_port = 0; /* same offset in v6 */
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, lg->addrlen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, NULL, 0, port,
	                sizeof(port), NI_NUMERICSERV) != 0) {
		fprintf(stderr, "tc-loadgen: port: %s\n", strerror(errno));
		return 3;
	}
	close(fd);
	printf("%s\n", port);
	return 0;
}

/* ---- options and main -------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr,
	        "usage: tc-loadgen latency|fanout|hold|churn|wait|port -p PORT "
	        "[options]\n"
	        "  -H ADDR     server address (127.0.0.1)\n"
	        "  -p PORT     server port\n"
	        "  -n N        latency messages (20000) | churn cycles (5000)\n"
	        "  -w N        latency warm-up messages (1000)\n"
	        "  -b N        latency: idle bystanders that read all (0)\n"
	        "  -c N        fanout clients (50) | hold idle clients (1000)\n"
	        "  -m N        fanout messages per client (1000)\n"
	        "  -s BYTES    message text length (80)\n"
	        "  -j N        churn cycles in flight (16)\n"
	        "  -W N        fanout window: unacked messages per sender "
	        "(64, 0 none)\n"
	        "  -i N        connects in flight before the greeting (8)\n"
	        "  -t SECONDS  hard cap on the whole run (60)\n"
	        "  -P PID      the server's pid: read its RSS, threads, fds\n"
	        "  -S          fanout: add a client that never reads\n"
	        "  -L LABEL    copied into the RESULT line\n");
	exit(2);
}

static unsigned long
opt_num(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "tc-loadgen: bad number '%s' (%lu-%lu)\n", s,
		        lo, hi);
		exit(2);
	}
	return v;
}

/* Sets the numeric option ch, if it is one. Returns 0 when it is not. */
static int
opt_set_num(struct opts *o, int ch, const char *arg)
{
	const struct {
		int ch;
		unsigned long *v;
		unsigned long lo, hi;
	} tab[] = {
	    {'n', &o->count, 1, 100000000},    {'w', &o->warmup, 0, 100000000},
	    {'b', &o->bystanders, 0, 100000},  {'c', &o->clients, 2, 100000},
	    {'m', &o->messages, 1, 100000000}, {'s', &o->size, 1, MAX_MSG},
	    {'j', &o->jobs, 1, 10000},         {'W', &o->window, 0, 100000000},
	    {'i', &o->inflight, 1, 100000},    {'t', &o->max_time_s, 1, 3600},
	    {'P', &o->pid, 1, 1UL << 30},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].ch == ch) {
			*tab[i].v = opt_num(arg, tab[i].lo, tab[i].hi);
			return 1;
		}
	return 0;
}

static void
opts_parse(struct opts *o, int argc, char **argv, const char *scen)
{
	int ch;

	*o = (struct opts){.host = "127.0.0.1",
	                   .label = "-",
	                   .warmup = 1000,
	                   .size = 80,
	                   .jobs = 16,
	                   .window = 64,
	                   .inflight = 8,
	                   .max_time_s = 60,
	                   .messages = 1000};
	o->count = strcmp(scen, "churn") == 0 ? 5000 : 20000;
	o->clients = strcmp(scen, "hold") == 0 ? 1000 : 50;
	while ((ch = getopt(argc, argv, "H:p:n:w:b:c:m:s:j:W:i:t:P:SL:")) !=
	       -1) {
		if (ch == 'H')
			o->host = optarg;
		else if (ch == 'p')
			o->port = optarg;
		else if (ch == 'S')
			o->slow = 1;
		else if (ch == 'L')
			o->label = optarg;
		else if (!opt_set_num(o, ch, optarg))
			usage();
	}
	if (optind != argc || (o->port == NULL && strcmp(scen, "port") != 0))
		usage();
}

/* Holds thousands of sockets: take all the descriptors we may. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			fprintf(stderr, "tc-loadgen: setrlimit: %s\n",
			        strerror(errno));
	}
}

static void
lg_init(struct lg *lg)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
	                *res;
	int e = getaddrinfo(lg->o.host, lg->o.port ? lg->o.port : "0", &hints,
	                    &res);

	if (e != 0) {
		fprintf(stderr, "tc-loadgen: %s: %s\n", lg->o.host,
		        gai_strerror(e));
		exit(2);
	}
	memcpy(&lg->addr, res->ai_addr, res->ai_addrlen);
	lg->addrlen = res->ai_addrlen;
	lg->family = res->ai_family;
	freeaddrinfo(res);
	lg->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lg->epfd < 0) {
		fprintf(stderr, "tc-loadgen: epoll_create1: %s\n",
		        strerror(errno));
		exit(3);
	}
	lg->rbuf = xcalloc(1, RBUF_LEN + 1);
	lg->t_last_rx = now_ns();
	lg->deadline = now_ns() + lg->o.max_time_s * NS_PER_S;
}

static void
lg_free(struct lg *lg)
{
	for (size_t i = 0; i < lg->n_conns; i++) {
		conn_close(lg, &lg->conns[i]);
		free(lg->conns[i].carry);
		free(lg->conns[i].out);
	}
	free(lg->conns);
	free(lg->cn.pend);
	free(lg->cn.retry);
	free(lg->rbuf);
	close(lg->epfd);
}

static int
run(struct lg *lg, const char *scen)
{
	static const struct {
		const char *name;
		int (*fn)(struct lg *);
	} tab[] = {{"latency", run_latency}, {"fanout", run_fanout},
	           {"hold", run_hold},       {"churn", run_churn},
	           {"wait", run_wait},       {"port", run_port}};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(scen, tab[i].name) == 0)
			return tab[i].fn(lg);
	usage();
	return 2;
}

int
main(int argc, char **argv)
{
	static struct lg lg;
	const char *scen;
	int rc;

	if (argc < 2)
		usage();
	scen = argv[1];
	opts_parse(&lg.o, argc - 1, argv + 1, scen);
	raise_nofile();
	lg_init(&lg);
	/* The last resort if a phase ever fails to end: the run is capped. */
	alarm((unsigned)(lg.o.max_time_s + SAFETY_S));
	rc = run(&lg, scen);
	lg_free(&lg);
	return rc;
}
