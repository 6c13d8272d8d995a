/* fuzz_options: both programs' command lines (options) from arbitrary
 * bytes.
 *
 * The first input byte picks the program (tcpchatd or tcpchat) and the
 * size of the error buffer; the rest, split at NUL bytes, is argv. Each
 * argument is its own malloc'd string of exactly its size, and the error
 * buffer too, so AddressSanitizer catches a read or write past them.
 * Checked: a usage error is one non-empty line that fits the buffer (more
 * only when it quotes an argument holding an LF); an accepted command line
 * has every value in its documented range and every string pointing into
 * argv or at a default; a second parse of a fresh copy gives the same
 * answer (getopt's state is reset). The size and port parsers are checked
 * against a plain model on the first argument. */
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "tcpchat/options.h"

#define MAX_ARGS 24
#define KIB 1024ULL

struct argv_copy {
	int argc;
	char *argv[MAX_ARGS + 2];
};

/* argv[0] is the program; the arguments are data split at NUL bytes. */
static void
argv_build(struct argv_copy *a, const char *prog, const uint8_t *data,
           size_t size)
{
	size_t i = 0;

	a->argc = 0;
	a->argv[a->argc++] = strdup(prog);
	while (i < size && a->argc <= MAX_ARGS) {
		const uint8_t *nul = memchr(data + i, '\0', size - i);
		size_t n = nul != NULL ? (size_t)(nul - data) - i : size - i;
		char *s = malloc(n + 1);

		FUZZ_CHECK(s != NULL);
		memcpy(s, data + i, n);
		s[n] = '\0';
		a->argv[a->argc++] = s;
		i += n + 1;
	}
	a->argv[a->argc] = NULL;
	for (int k = 0; k < a->argc; k++)
		FUZZ_CHECK(a->argv[k] != NULL);
}

static void
argv_free(struct argv_copy *a)
{
	for (int k = 0; k < a->argc; k++)
		free(a->argv[k]);
}

/* p is NULL, the default def (a string literal of another file, so
 * compared by value), or points into one of a's strings (getopt permutes
 * the pointers, so search them all). */
static bool
from_argv_or(const struct argv_copy *a, const char *p, const char *def)
{
	if (p == NULL || (def != NULL && strcmp(p, def) == 0))
		return true;
	for (int k = 0; k < a->argc; k++)
		if (p >= a->argv[k] && p <= a->argv[k] + strlen(a->argv[k]))
			return true;
	return false;
}

/* The size grammar: digits, then at most one of KMG in either case. */
static int
model_size(const char *s, uint64_t max, uint64_t *out)
{
	unsigned shift = 0;
	uint64_t v = 0;
	size_t i = 0;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	for (; s[i] >= '0' && s[i] <= '9'; i++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return -1;
	if (s[i] != '\0') {
		const char *sfx = strchr("KkMmGg", s[i]);

		if (sfx == NULL || s[i + 1] != '\0')
			return -1;
		shift = 10 * (unsigned)(1 + (sfx - "KkMmGg") / 2);
	}
	if (v > (max >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static void
check_value_parsers(const char *s, uint8_t knob)
{
	uint64_t max = knob & 1 ? UINT64_MAX : (uint64_t)knob << 20;
	uint64_t got = 0, want = 0;
	int r = tc_options_parse_size(s, max, true, &got);
	size_t n = strlen(s);

	FUZZ_CHECK(r == model_size(s, max, &want));
	FUZZ_CHECK(r != 0 || got == want);
	r = tc_options_parse_port(s);
	if (n == 0 || strspn(s, "0123456789") != n) {
		FUZZ_CHECK(r == -1);
	} else if (model_size(s, 65535, &want) == 0) {
		FUZZ_CHECK(r == (int)want);
	} else {
		FUZZ_CHECK(r == -1);
	}
}

/* The size and port parsers on the first argument, as it came. */
static void
check_first_argument(const uint8_t *data, size_t size, uint8_t knob)
{
	struct argv_copy a;

	argv_build(&a, "x", data, size);
	if (a.argc > 1)
		check_value_parsers(a.argv[1], knob);
	argv_free(&a);
}

static bool
any_arg_has_lf(const struct argv_copy *a)
{
	for (int k = 0; k < a->argc; k++)
		if (strchr(a->argv[k], '\n') != NULL)
			return true;
	return false;
}

/* A usage error is one line unless an argument it quotes holds an LF. */
static void
check_err(const struct argv_copy *a, enum tc_opts_result r, const char *err,
          size_t errlen)
{
	size_t n = strnlen(err, errlen);

	FUZZ_CHECK(r >= TC_OPTS_RUN && r <= TC_OPTS_USAGE);
	FUZZ_CHECK(n < errlen);
	if (r != TC_OPTS_USAGE)
		FUZZ_CHECK(n == 0);
	else if (errlen > 1)
		FUZZ_CHECK(n > 0 &&
		           (memchr(err, '\n', n) == NULL || any_arg_has_lf(a)));
}

static void
check_server(const struct argv_copy *a, const struct tc_server_opts *o)
{
	FUZZ_CHECK(o->max_clients >= 1 && o->max_clients <= 1000000);
	FUZZ_CHECK(o->max_queue >= 1 && o->max_queue <= 64 * KIB * KIB * KIB);
	FUZZ_CHECK(o->max_line >= 4 && o->max_line <= 16 * KIB * KIB);
	FUZZ_CHECK(o->linger_s <= 86400);
	FUZZ_CHECK(o->port != NULL && tc_options_parse_port(o->port) >= 0);
	FUZZ_CHECK(o->name != NULL && from_argv_or(a, o->name, "server"));
	FUZZ_CHECK(from_argv_or(a, o->addr, NULL));
	FUZZ_CHECK(from_argv_or(a, o->port, TC_DEFAULT_PORT));
}

static void
check_client(const struct argv_copy *a, const struct tc_client_opts *o)
{
	FUZZ_CHECK(o->host != NULL && o->host[0] != '\0');
	FUZZ_CHECK(o->port != NULL && tc_options_parse_port(o->port) >= 0);
	FUZZ_CHECK(o->family == AF_UNSPEC || o->family == AF_INET ||
	           o->family == AF_INET6);
	FUZZ_CHECK(o->history_path == NULL || !o->no_history);
	FUZZ_CHECK(from_argv_or(a, o->host, NULL));
	FUZZ_CHECK(from_argv_or(a, o->port, TC_DEFAULT_PORT));
	FUZZ_CHECK(from_argv_or(a, o->name, NULL));
	FUZZ_CHECK(from_argv_or(a, o->history_path, NULL));
}

/* One parse of a fresh argv; returns the result and fills err, and the
 * fields that a second parse must reproduce. */
static enum tc_opts_result
parse_once(bool is_server, const uint8_t *data, size_t size, char *err,
           size_t errlen, uint64_t summary[4])
{
	struct tc_server_opts so;
	struct tc_client_opts co;
	struct argv_copy a;
	enum tc_opts_result r;

	argv_build(&a, is_server ? "tcpchatd" : "tcpchat", data, size);
	memset(summary, 0, 4 * sizeof(summary[0]));
	if (is_server) {
		r = tc_server_opts_parse(a.argc, a.argv, &so, err, errlen);
		if (r == TC_OPTS_RUN) {
			check_server(&a, &so);
			summary[0] = so.max_queue;
			summary[1] = so.max_line;
			summary[2] = so.max_clients;
			summary[3] = (uint64_t)tc_options_parse_port(so.port);
		}
	} else {
		r = tc_client_opts_parse(a.argc, a.argv, &co, err, errlen);
		if (r == TC_OPTS_RUN) {
			check_client(&a, &co);
			summary[0] = (uint64_t)co.family;
			summary[1] = co.no_history;
			summary[2] = strlen(co.host);
			summary[3] = (uint64_t)tc_options_parse_port(co.port);
		}
	}
	check_err(&a, r, err, errlen);
	argv_free(&a);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errlens[] = {256, 1, 9, 64};
	uint64_t first[4], second[4];
	enum tc_opts_result r1, r2;
	bool is_server;
	size_t errlen;
	char *err1, *err2;

	if (size < 1)
		return 0;
	is_server = data[0] & 1;
	errlen = errlens[(data[0] >> 1) % 4];
	err1 = malloc(errlen);
	err2 = malloc(errlen);
	FUZZ_CHECK(err1 != NULL && err2 != NULL);
	r1 = parse_once(is_server, data + 1, size - 1, err1, errlen, first);
	r2 = parse_once(is_server, data + 1, size - 1, err2, errlen, second);
	FUZZ_CHECK(r1 == r2 && strcmp(err1, err2) == 0);
	FUZZ_CHECK(memcmp(first, second, sizeof(first)) == 0);
	check_first_argument(data + 1, size - 1, data[0]);
	free(err2);
	free(err1);
	return 0;
}
