/* ratelimit: the flood budget as a generic cell rate algorithm. Each bound
 * keeps tat, the theoretical time at which everything charged so far would
 * have been paid for at the steady rate; the burst lets tat run up to tau
 * ahead of now. A charge moves tat on by its cost; the wait is how far tat
 * is past now + tau. No clock of its own, no lock: one owner. */
#include "tcpchat/ratelimit.h"

#define NS_PER_S 1000000000ULL

static uint64_t
clamp(uint64_t v, uint64_t max)
{
	return v > max ? max : v;
}

/* The time n units take at per_s a second, rounded up; a year at most, so
 * sums of costs stay far from overflow. */
static int64_t
cost_ns(uint64_t n, uint64_t per_s)
{
	const uint64_t year_s = 366ULL * 24 * 3600;
	uint64_t whole = n / per_s, part = n % per_s;

	if (whole >= year_s)
		return (int64_t)(year_s * NS_PER_S);
	/* part < per_s <= 1e9: part * 1e9 < 2^64. */
	return (int64_t)(whole * NS_PER_S +
	                 (part * NS_PER_S + per_s - 1) / per_s);
}

void
tc_rate_init(struct tc_rate *b, unsigned rate, unsigned burst,
             uint64_t byte_rate, uint64_t byte_burst, int64_t now_ns)
{
	b->rate = clamp(rate, TC_RATE_MAX);
	b->byte_rate = clamp(byte_rate, TC_RATE_BYTES_MAX);
	b->tau_ns =
	    b->rate != 0 ? cost_ns(clamp(burst, TC_RATE_MAX), b->rate) : 0;
	b->byte_tau_ns =
	    b->byte_rate != 0
	        ? cost_ns(clamp(byte_burst, TC_RATE_BYTES_MAX), b->byte_rate)
	        : 0;
	b->tat_ns = now_ns;
	b->byte_tat_ns = now_ns;
	b->slowing = false;
	b->episode_unseen = false;
}

void
tc_rate_init_lines(struct tc_rate *b, unsigned rate, unsigned burst,
                   int64_t now_ns)
{
	tc_rate_init(b, rate, burst, (uint64_t)rate * TC_RATE_BYTES_PER_LINE,
	             (uint64_t)burst * TC_RATE_BURST_BYTES_PER_LINE, now_ns);
}

/* Charges n at per_s against *tat; returns the wait, 0 within tau. */
static int64_t
charge(int64_t *tat, int64_t tau, uint64_t n, uint64_t per_s, int64_t now)
{
	int64_t wait;

	if (*tat < now)
		*tat = now; /* an idle bucket fills up to whole, no more */
	*tat += cost_ns(n, per_s);
	wait = *tat - tau - now;
	return wait > 0 ? wait : 0;
}

int64_t
tc_rate_take(struct tc_rate *b, size_t lines, size_t bytes, int64_t now_ns)
{
	int64_t wait, byte_wait = 0;

	if (b->rate == 0)
		return 0;
	/* Whole again (paid up and idle long enough): the episode is over. */
	if (b->tat_ns <= now_ns && b->byte_tat_ns <= now_ns)
		b->slowing = false;
	wait = charge(&b->tat_ns, b->tau_ns, lines, b->rate, now_ns);
	if (b->byte_rate != 0)
		byte_wait = charge(&b->byte_tat_ns, b->byte_tau_ns, bytes,
		                   b->byte_rate, now_ns);
	if (byte_wait > wait)
		wait = byte_wait;
	if (wait > 0 && !b->slowing) {
		b->slowing = true;
		b->episode_unseen = true;
	}
	return wait;
}

bool
tc_rate_new_episode(struct tc_rate *b)
{
	bool was = b->episode_unseen;

	b->episode_unseen = false;
	return was;
}
