/* options: argv to an options struct for tcpchatd and tcpchat (SPEC
 * sections 3 and 5), with getopt_long.
 *
 * It checks syntax and ranges only: names, addresses and hosts are for the
 * mains to validate or resolve. It never prints or exits; a usage error
 * comes back as one line in err, without the program name. */
#include "tcpchat/options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define KIB 1024ULL
#define GIB (KIB * KIB * KIB)

/* Long-only options, and long names of short ones, get values past any
 * char, so getopt's optopt tells a long option's error from a short one. */
enum {
	OPT_LONG = 256,
	OPT_LISTEN,
	OPT_PORT,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_VERSION,
	OPT_NAME,
	OPT_MAX_CLIENTS,
	OPT_MAX_QUEUE,
	OPT_MAX_LINE,
	OPT_LINGER,
	OPT_TRACE,
	OPT_HISTORY,
	OPT_NO_HISTORY,
	OPT_THREAD_CACHE,
};

const char tc_server_usage[] =
    "usage: tcpchatd [-l ADDR] [-p PORT] [--name NAME] [--max-clients N]\n"
    "                [--max-queue BYTES] [--max-line BYTES]\n"
    "                [--linger SECONDS] [--thread-cache N] [--trace] [-q]\n"
    "                [-v] [-h] [-V]\n"
    "  -l, --listen ADDR        listen on ADDR only (default: all)\n"
    "  -p, --port PORT          listen on PORT (default " TC_DEFAULT_PORT
    ", 0: any free)\n"
    "      --name NAME          the server's name in the chat (server)\n"
    "      --max-clients N      clients at once (1024)\n"
    "      --max-queue BYTES    cut a client with more queued (1M)\n"
    "      --max-line BYTES     split longer messages (4096)\n"
    "      --linger SECONDS     send to a half-closed client so long (0)\n"
    "      --thread-cache N     keep up to N idle threads for new clients "
    "(64)\n"
    "      --trace              show each step of the TCP close\n"
    "  -q, --quiet              keep chat traffic off the console\n"
    "  -v, --verbose            a line for every connection event\n"
    "  -h, --help               print this help and exit\n"
    "  -V, --version            print the version and exit\n"
    "BYTES may end in K, M or G (powers of 1024).\n";

const char tc_client_usage[] =
    "usage: tcpchat [-p PORT] [--name NAME] [--history FILE | --no-history]\n"
    "               [--trace] [-4|-6] [-h] [-V] HOST [PORT]\n"
    "  -p, --port PORT          connect to PORT (default " TC_DEFAULT_PORT ")\n"
    "      --name NAME          set this nick after connecting\n"
    "      --history FILE       keep input history in FILE (default:\n"
    "                           $XDG_STATE_HOME/tcpchat/history)\n"
    "      --no-history         keep no input history\n"
    "      --trace              show each step of the TCP close\n"
    "  -4, -6                   IPv4 only, IPv6 only\n"
    "  -h, --help               print this help and exit\n"
    "  -V, --version            print the version and exit\n";

static const struct option server_longopts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"port", required_argument, NULL, OPT_PORT},
    {"name", required_argument, NULL, OPT_NAME},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"linger", required_argument, NULL, OPT_LINGER},
    {"thread-cache", required_argument, NULL, OPT_THREAD_CACHE},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const struct option client_longopts[] = {
    {"port", required_argument, NULL, OPT_PORT},
    {"name", required_argument, NULL, OPT_NAME},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"no-history", no_argument, NULL, OPT_NO_HISTORY},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Leading ':' makes a missing value ':' rather than '?'. */
#define SERVER_SHORTOPTS ":l:p:qvhV"
#define CLIENT_SHORTOPTS ":p:46hV"

__attribute__((format(printf, 3, 4))) static enum tc_opts_result
usage_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return TC_OPTS_USAGE;
}

/* Digits only into *out, refusing overflow past max. */
static int
parse_digits(const char **sp, uint64_t max, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

int
tc_parse_size(const char *s, uint64_t max_value, bool allow_zero, uint64_t *out)
{
	unsigned shift = 0;
	uint64_t v;

	if (s == NULL || parse_digits(&s, UINT64_MAX, &v) < 0)
		return -1;
	switch (*s) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (shift != 0 && *++s != '\0')
		return -1;
	if (v > (max_value >> shift))
		return -1;
	v <<= shift;
	if (v == 0 && !allow_zero)
		return -1;
	*out = v;
	return 0;
}

int
tc_parse_port(const char *s)
{
	uint64_t v;

	if (s == NULL || parse_digits(&s, 65535, &v) < 0 || *s != '\0')
		return -1;
	return (int)v;
}

/* A plain decimal count in [min, max], no suffix. */
static int
parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (parse_digits(&s, max, out) < 0 || *s != '\0' || *out < min)
		return -1;
	return 0;
}

/* The option as the user typed it, for messages: "--port" or "-p" (a long
 * name may be abbreviated; "=value" is cut off). getopt has just returned
 * c, with its value, if any, in optarg. */
static void
typed_name(char **argv, int c, char *buf, size_t len)
{
	const char *a = optind > 0 ? argv[optind - 1] : "";

	if (optarg != NULL && a == optarg && optind >= 2)
		a = argv[optind - 2]; /* "--port 80": the value was separate */
	if (strncmp(a, "--", 2) == 0)
		snprintf(buf, len, "%.*s", (int)strcspn(a, "="), a);
	else
		snprintf(buf, len, "-%c", c);
}

/* Turns getopt's '?' or ':' into a message; returns TC_OPTS_USAGE. For a
 * long option getopt has stepped past it, so argv[optind - 1] names it;
 * optopt is 0 for an unknown one and OPT_* (> OPT_LONG) for a known one. */
static enum tc_opts_result
getopt_error(int c, char **argv, char *err, size_t errlen)
{
	char name[64];

	if (optopt == 0 || optopt > OPT_LONG) {
		const char *a = optind > 0 ? argv[optind - 1] : "";

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(a, "="), a);
	} else {
		snprintf(name, sizeof(name), "-%c", optopt);
	}
	if (c == ':')
		return usage_error(err, errlen, "option '%s' needs a value",
		                   name);
	if (optopt > OPT_LONG) /* "--trace=1" */
		return usage_error(err, errlen, "option '%s' takes no value",
		                   name);
	return usage_error(err, errlen, "unknown option '%s'", name);
}

/* Rewinds getopt for a fresh argv: GNU getopt reinitialises fully (and
 * forgets a half-parsed "-qv" group) only when optind is 0. */
static void
getopt_reset(void)
{
	optind = 0;
	opterr = 0;
	optarg = NULL;
}

static void
server_defaults(struct tc_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->addr = NULL;
	o->port = TC_DEFAULT_PORT;
	o->name = "server";
	o->max_clients = 1024;
	o->max_queue = 1024 * 1024;
	o->max_line = 4096;
	o->linger_s = 0;
	o->thread_cache = TC_DEFAULT_THREAD_CACHE;
}

/* Parses one numeric server option's value. */
static enum tc_opts_result
server_number(int c, char **argv, struct tc_server_opts *o, char *err,
              size_t errlen)
{
	/* 64G, or what size_t holds on a 32-bit machine. */
	uint64_t max_queue = SIZE_MAX < 64 * GIB ? SIZE_MAX : 64 * GIB;
	char name[64];
	uint64_t v;

	typed_name(argv, c, name, sizeof(name));
	switch (c) {
	case OPT_MAX_CLIENTS:
		if (parse_count(optarg, 1, 1000000, &v) < 0)
			return usage_error(err, errlen,
			                   "%s: invalid number '%s' (1 to "
			                   "1000000)",
			                   name, optarg);
		o->max_clients = (unsigned)v;
		break;
	case OPT_MAX_QUEUE:
		if (tc_parse_size(optarg, max_queue, false, &v) < 0)
			return usage_error(err, errlen,
			                   "%s: invalid size '%s' (1 to 64G)",
			                   name, optarg);
		o->max_queue = (size_t)v;
		break;
	case OPT_MAX_LINE:
		/* Below 4 bytes a UTF-8 sequence could not fit a piece. */
		if (tc_parse_size(optarg, 16 * KIB * KIB, false, &v) < 0 ||
		    v < 4)
			return usage_error(err, errlen,
			                   "%s: invalid size '%s' (4 to 16M)",
			                   name, optarg);
		o->max_line = (size_t)v;
		break;
	case OPT_LINGER:
		if (parse_count(optarg, 0, 86400, &v) < 0)
			return usage_error(err, errlen,
			                   "%s: invalid seconds '%s' (0 to "
			                   "86400)",
			                   name, optarg);
		o->linger_s = (unsigned)v;
		break;
	case OPT_THREAD_CACHE:
		/* 0 turns the cache off: a thread per connection end to end. */
		if (parse_count(optarg, 0, 1000000, &v) < 0)
			return usage_error(err, errlen,
			                   "%s: invalid number '%s' (0 to "
			                   "1000000)",
			                   name, optarg);
		o->thread_cache = (unsigned)v;
		break;
	}
	return TC_OPTS_RUN;
}

/* Applies one server option getopt returned. */
static enum tc_opts_result
server_option(int c, char **argv, struct tc_server_opts *o, char *err,
              size_t errlen)
{
	char name[64];

	switch (c) {
	case 'l':
	case OPT_LISTEN:
		o->addr = optarg;
		return TC_OPTS_RUN;
	case 'p':
	case OPT_PORT:
		typed_name(argv, c, name, sizeof(name));
		if (tc_parse_port(optarg) < 0)
			return usage_error(err, errlen, "%s: invalid port '%s'",
			                   name, optarg);
		o->port = optarg;
		return TC_OPTS_RUN;
	case OPT_NAME:
		o->name = optarg; /* main checks the nick rules */
		return TC_OPTS_RUN;
	case OPT_TRACE:
		o->trace = true;
		return TC_OPTS_RUN;
	case 'q':
	case OPT_QUIET:
		o->quiet = true;
		return TC_OPTS_RUN;
	case 'v':
	case OPT_VERBOSE:
		o->verbose = true;
		return TC_OPTS_RUN;
	case 'h':
	case OPT_HELP:
		return TC_OPTS_HELP;
	case 'V':
	case OPT_VERSION:
		return TC_OPTS_VERSION;
	default:
		return server_number(c, argv, o, err, errlen);
	}
}

enum tc_opts_result
tc_server_opts_parse(int argc, char **argv, struct tc_server_opts *o, char *err,
                     size_t errlen)
{
	enum tc_opts_result r;
	int c;

	server_defaults(o);
	if (errlen > 0)
		err[0] = '\0';
	getopt_reset();
	while ((c = getopt_long(argc, argv, SERVER_SHORTOPTS, server_longopts,
	                        NULL)) != -1) {
		if (c == '?' || c == ':')
			return getopt_error(c, argv, err, errlen);
		r = server_option(c, argv, o, err, errlen);
		if (r != TC_OPTS_RUN)
			return r;
	}
	if (optind < argc)
		return usage_error(err, errlen, "unexpected argument '%s'",
		                   argv[optind]);
	return TC_OPTS_RUN;
}

/* Applies one client option getopt returned; *port_set records -p. */
static enum tc_opts_result
client_option(int c, char **argv, struct tc_client_opts *o, bool *port_set,
              char *err, size_t errlen)
{
	char name[64];

	switch (c) {
	case 'p':
	case OPT_PORT:
		typed_name(argv, c, name, sizeof(name));
		if (tc_parse_port(optarg) < 0)
			return usage_error(err, errlen, "%s: invalid port '%s'",
			                   name, optarg);
		o->port = optarg;
		*port_set = true;
		break;
	case OPT_NAME:
		o->name = optarg;
		break;
	case OPT_HISTORY:
		o->history_path = optarg;
		break;
	case OPT_NO_HISTORY:
		o->no_history = true;
		break;
	case OPT_TRACE:
		o->trace = true;
		break;
	case '4':
	case '6':
		if (o->family != AF_UNSPEC &&
		    o->family != (c == '4' ? AF_INET : AF_INET6))
			return usage_error(err, errlen,
			                   "-4 and -6 exclude each other");
		o->family = c == '4' ? AF_INET : AF_INET6;
		break;
	case 'h':
	case OPT_HELP:
		return TC_OPTS_HELP;
	case 'V':
	case OPT_VERSION:
		return TC_OPTS_VERSION;
	}
	return TC_OPTS_RUN;
}

/* HOST [PORT], once every option is in. */
static enum tc_opts_result
client_operands(int argc, char **argv, struct tc_client_opts *o, bool port_set,
                char *err, size_t errlen)
{
	int n = argc - optind;

	if (n < 1)
		return usage_error(err, errlen, "missing HOST");
	if (n > 2)
		return usage_error(err, errlen, "unexpected argument '%s'",
		                   argv[optind + 2]);
	o->host = argv[optind];
	if (o->host[0] == '\0')
		return usage_error(err, errlen, "empty HOST");
	if (n == 2) {
		if (port_set)
			return usage_error(err, errlen,
			                   "-p and a PORT argument exclude "
			                   "each other");
		if (tc_parse_port(argv[optind + 1]) < 0)
			return usage_error(err, errlen, "invalid port '%s'",
			                   argv[optind + 1]);
		o->port = argv[optind + 1];
	}
	return TC_OPTS_RUN;
}

enum tc_opts_result
tc_client_opts_parse(int argc, char **argv, struct tc_client_opts *o, char *err,
                     size_t errlen)
{
	enum tc_opts_result r;
	bool port_set = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->port = TC_DEFAULT_PORT;
	o->family = AF_UNSPEC;
	if (errlen > 0)
		err[0] = '\0';
	getopt_reset();
	while ((c = getopt_long(argc, argv, CLIENT_SHORTOPTS, client_longopts,
	                        NULL)) != -1) {
		if (c == '?' || c == ':')
			return getopt_error(c, argv, err, errlen);
		r = client_option(c, argv, o, &port_set, err, errlen);
		if (r != TC_OPTS_RUN)
			return r;
	}
	if (o->history_path != NULL && o->no_history)
		return usage_error(err, errlen,
		                   "--history and --no-history exclude each "
		                   "other");
	return client_operands(argc, argv, o, port_set, err, errlen);
}
