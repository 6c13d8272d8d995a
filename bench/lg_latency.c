/* lg_latency: one sender, one receiver, ping-pong: send, wait for the
 * relay, send the next. Idle bystanders (-b) read everything on a second
 * thread, outside the measured path. */
#include "loadgen.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MSG_TIMEOUT_NS NS_PER_S /* a relay later than this is lost */

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

int
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
