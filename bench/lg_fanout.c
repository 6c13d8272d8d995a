/* lg_fanout: N clients all sending as fast as a window lets them, all
 * reading; with -S one more client that never reads, and afterwards a
 * check that the server still relays and whether it cut that client off. */
#include "loadgen.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define BATCH_LEN 32768        /* bytes a sender writes per send() */
#define IDLE_NS (3 * NS_PER_S) /* no delivery this long ends the run */

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

int
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
