/* lg_loop: tc-loadgen's one thread and its epoll.
 *
 * Every client socket is a struct conn driven from here: non-blocking
 * connects paced by the connector (at most -i between connect() and the
 * server's first byte, failed ones retried with a back-off), sends queued
 * behind what the socket did not take, lines cut at LF and handed to the
 * running phase. The phases every scenario shares (connect, sync barrier,
 * teardown) are here too. */
#include "loadgen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_CARRY 65536 /* a longer line is counted and dropped */
#define SYNC_EVERY_NS (50 * NS_PER_MS)
#define GREET_NS (2 * NS_PER_S) /* a server that never greets still joins */
#define MAX_ATTEMPTS 20
#define TEARDOWN_NS (3 * NS_PER_S)

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL) {
		fprintf(stderr, "tc-loadgen: out of memory\n");
		exit(3);
	}
	return q;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL) {
		fprintf(stderr, "tc-loadgen: out of memory\n");
		exit(3);
	}
	return p;
}

static void conn_lost(struct lg *lg, struct conn *c, int err);

void
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

int
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

void
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

void
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

void
conn_exit(struct lg *lg, struct conn *c)
{
	c->shut_after_flush = 1;
	conn_send(lg, c, "exit\n", 5);
}

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

int
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

void
phase_set(struct lg *lg, void (*tick)(struct lg *), int (*done)(struct lg *))
{
	lg->tick = tick;
	lg->done = done;
}

int
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

uint64_t
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

size_t
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

void
lg_alloc_conns(struct lg *lg, size_t n)
{
	lg->conns = xcalloc(n, sizeof(*lg->conns));
	lg->n_conns = n;
	for (size_t i = 0; i < n; i++) {
		lg->conns[i].fd = -1;
		lg->conns[i].idx = (uint32_t)i;
	}
}

void
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

void
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
