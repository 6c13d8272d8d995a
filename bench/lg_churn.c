/* lg_churn: connect, one line, exit, FIN, read to EOF, close, -j at once,
 * while an observer counts the relayed lines; the time of each cycle, from
 * connect() to the server's FIN; then whether the server's fds and
 * threads are back to where they were. */
#include "loadgen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CYCLE_TIMEOUT_NS (5 * NS_PER_S) /* one cycle at most */

struct churn {
	uint64_t target, started, ok, failed, refused, reset, timeout;
	uint64_t relayed;
	struct samples cycle; /* connect() to EOF, the cycles that ended well */
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
		samples_add(&ch->cycle, now_ns() - c->t_start);
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
	kv_latency(&ch->cycle);
	kv("fds_before=%ld", before->fds);
	kv("fds_after=%ld", after->fds);
	kv("threads_before=%ld", before->threads);
	kv("threads_after=%ld", after->threads);
	kv("baseline=%s", lg->o.pid == 0 ? "unknown" : baseline ? "yes" : "no");
}

int
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
		baseline =
		    proc_back_to(lg->o.pid, &before, (long)lg->o.keep, &after);
	else
		after = before;
	churn_report(lg, &ch, span, &before, &after, baseline);
	free(ch.cycle.v);
	return result_end(lg, ok && ch.failed == 0);
}
