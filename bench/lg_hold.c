/* lg_hold: many idle clients connect and stay; once the join notices are
 * over, one line to all of them, timed to the last; the server's memory,
 * threads and fds before and after. */
#include "loadgen.h"

#include <stdlib.h>
#include <string.h>

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
	samples_sort(&h->lat);
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

int
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
