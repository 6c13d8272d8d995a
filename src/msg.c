/* msg: immutable, reference-counted messages: a line formatted once and
 * shared by every queue it goes to, freed by whoever drops the last
 * reference. */
#include "tcpchat/msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tc_msg {
	atomic_uint refs;
	size_t len;
	char data[]; /* len bytes and a NUL, for printing and tests */
};

struct tc_msg *
tc_msg_new(const void *data, size_t len)
{
	struct tc_msg *m;

	if (len > SIZE_MAX - sizeof(*m) - 1) {
		errno = ENOMEM;
		return NULL;
	}
	m = malloc(sizeof(*m) + len + 1);
	if (m == NULL)
		return NULL;
	atomic_init(&m->refs, 1);
	m->len = len;
	if (len > 0)
		memcpy(m->data, data, len);
	m->data[len] = '\0';
	return m;
}

struct tc_msg *
tc_msg_printf(const char *fmt, ...)
{
	struct tc_msg *m;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL; /* errno from vsnprintf (EOVERFLOW, EILSEQ) */
	m = malloc(sizeof(*m) + (size_t)n + 1);
	if (m == NULL)
		return NULL;
	atomic_init(&m->refs, 1);
	m->len = (size_t)n;
	va_start(ap, fmt);
	(void)vsnprintf(m->data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return m;
}

struct tc_msg *
tc_msg_ref(struct tc_msg *m)
{
	/* Relaxed: the caller already holds a reference, so m is alive. */
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void
tc_msg_unref(struct tc_msg *m)
{
	if (m == NULL)
		return;
	/* acq_rel, not release plus a fence: ThreadSanitizer does not model
	 * standalone fences, and this is off the hot path of a send(). */
	if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		free(m);
}

const char *
tc_msg_data(const struct tc_msg *m)
{
	return m->data;
}

size_t
tc_msg_len(const struct tc_msg *m)
{
	return m->len;
}
