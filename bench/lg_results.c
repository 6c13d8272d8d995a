/* lg_results: the figures of a run and the one RESULT line that reports
 * them: latency samples in units of 100 ns, nearest-rank percentiles, and
 * " key=value" pairs on stdout. */
#include "loadgen.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
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

void
samples_sort(struct samples *s)
{
	if (s->n > 0)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
}

double
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

__attribute__((format(printf, 1, 2))) void
kv(const char *fmt, ...)
{
	va_list ap;

	putchar(' ');
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void
kv_latency(struct samples *s)
{
	samples_sort(s);
	kv("samples=%zu", s->n);
	kv("p50_us=%.1f", samples_pct_us(s, 0.50));
	kv("p99_us=%.1f", samples_pct_us(s, 0.99));
	kv("p999_us=%.1f", samples_pct_us(s, 0.999));
	kv("max_us=%.1f", samples_pct_us(s, 1.0));
	kv("mean_us=%.1f", samples_mean_us(s));
}

void
result_begin(struct lg *lg, const char *scen)
{
	printf("RESULT %s label=%s", scen, lg->o.label);
}

int
result_end(struct lg *lg, int complete)
{
	kv("dropped=%" PRIu64, lg->dropped);
	kv("connect_errors=%" PRIu64, lg->connect_errors);
	kv("status=%s", complete ? "ok" : "partial");
	putchar('\n');
	fflush(stdout);
	return complete ? 0 : 1;
}
