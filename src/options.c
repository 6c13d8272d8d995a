/* options: argv to an options struct for tcpchatd and tcpchat, with
 * getopt_long; and the -h texts.
 *
 * It checks syntax and ranges only: names, addresses and hosts are for the
 * mains to validate or resolve. It never prints or exits; a usage error
 * comes back as one line in err, without the program name. */
#include "tcpchat/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tcpchat/ratelimit.h"

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
	OPT_WAIT,
	OPT_TIMESTAMPS,
	OPT_NO_COLOR,
	OPT_NO_BELL,
	OPT_THREAD_CACHE,
};

/* Who may join, how many and how fast: the server's access options. */
enum {
	OPT_ACCESS_FIRST = 512,
	OPT_ALLOW = OPT_ACCESS_FIRST,
	OPT_DENY,
	OPT_ALLOW_FILE,
	OPT_DENY_FILE,
	OPT_MAX_PER_IP,
	OPT_RATE,
	OPT_BURST,
};

/* A section of its own at the end of the server's help. */
#define ACCESS_USAGE                                                           \
	"Who may join, how many and how fast:\n"                               \
	"  [--allow CIDR]... [--deny CIDR]...\n"                               \
	"  [--allow-file FILE] [--deny-file FILE]\n"                           \
	"  [--max-per-ip N] [--rate LINES] [--burst LINES]\n"                  \
	"      --allow CIDR         let only these in (each repeatable)\n"     \
	"      --deny CIDR          keep these out, over any --allow\n"        \
	"      --allow-file FILE    --allow each CIDR in FILE\n"               \
	"      --deny-file FILE     --deny each CIDR in FILE\n"                \
	"      --max-per-ip N       connections from one address (0: any)\n"   \
	"      --rate LINES         lines a second per client (20; 0: off)\n"  \
	"      --burst LINES        lines at once, then --rate (200)\n"        \
	"CIDR is ADDR or ADDR/LEN, IPv4 or IPv6; FILE has one a line,\n"       \
	"with # comments.\n"

#define ACCESS_LONGOPTS                                                        \
	{"allow", required_argument, NULL, OPT_ALLOW},                         \
	    {"deny", required_argument, NULL, OPT_DENY},                       \
	    {"allow-file", required_argument, NULL, OPT_ALLOW_FILE},           \
	    {"deny-file", required_argument, NULL, OPT_DENY_FILE},             \
	    {"max-per-ip", required_argument, NULL, OPT_MAX_PER_IP},           \
	    {"rate", required_argument, NULL, OPT_RATE},                       \
	    {"burst", required_argument, NULL, OPT_BURST},

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
    "BYTES may end in K, M or G, in either case (powers of "
    "1024).\n" ACCESS_USAGE "Console commands (lines typed to the server):\n"
    "  TEXT                     send TEXT to every client as NAME: TEXT\n"
    "  /list                    show every connection and its TCP state\n"
    "  /msg ID|NICK TEXT        send TEXT to that connection only\n"
    "  /kick ID|NICK            close that connection from the server side\n"
    "  /ban ID|NICK|CIDR        kick, and refuse that address from now on\n"
    "  /unban CIDR              remove a ban\n"
    "  /bans                    show the access rules\n"
    "  /quit                    shut down gracefully (as SIGINT, SIGTERM)\n"
    "  /help                    list the console commands\n"
    "  //TEXT                   send a line beginning with '/'\n";

const char tc_client_usage[] =
    "usage: tcpchat [-p PORT] [--name NAME] [--history FILE | --no-history]\n"
    "               [--timestamps] [--no-color] [--no-bell]\n"
    "               [--trace] [-w SECONDS] [-4|-6] [-h] [-V] HOST [PORT]\n"
    "  -p, --port PORT          connect to PORT (default " TC_DEFAULT_PORT ")\n"
    "      --name NAME          set this nick after connecting\n"
    "      --history FILE       keep input history in FILE (default:\n"
    "                           $XDG_STATE_HOME/tcpchat/history)\n"
    "      --no-history         keep no input history\n"
    "      --trace              show each step of the TCP close\n"
    "  -w, --wait SECONDS       give up a connect after SECONDS (10)\n"
    "      --timestamps         show HH:MM before each incoming line\n"
    "      --no-color           no colours or highlights (also NO_COLOR)\n"
    "      --no-bell            no bell when a line mentions your nick\n"
    "  -4, -6                   IPv4 only, IPv6 only\n"
    "  -h, --help               print this help and exit\n"
    "  -V, --version            print the version and exit\n"
    "Chat commands (lines typed once connected):\n"
    "  TEXT                     send TEXT to everyone else\n"
    "  /nick NAME               take the name NAME (1-32 of A-Za-z0-9._-)\n"
    "  /who                     list who is there\n"
    "  /help                    list the server's commands\n"
    "  //TEXT                   send a line beginning with '/'\n"
    "  exit, Ctrl-D             leave: the client half-closes, and still\n"
    "                           shows what the server sends until it closes\n";

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
    ACCESS_LONGOPTS{NULL, 0, NULL, 0},
};

static const struct option client_longopts[] = {
    {"port", required_argument, NULL, OPT_PORT},
    {"name", required_argument, NULL, OPT_NAME},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"no-history", no_argument, NULL, OPT_NO_HISTORY},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"timestamps", no_argument, NULL, OPT_TIMESTAMPS},
    {"no-color", no_argument, NULL, OPT_NO_COLOR},
    {"no-bell", no_argument, NULL, OPT_NO_BELL},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Leading ':' makes a missing value ':' rather than '?'. */
#define SERVER_SHORTOPTS ":l:p:qvhV"
#define CLIENT_SHORTOPTS ":p:w:46hV"

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
tc_options_parse_size(const char *s, uint64_t max_value, bool allow_zero,
                      uint64_t *out)
{
	unsigned shift = 0;
	uint64_t v;

	if (s == NULL || parse_digits(&s, UINT64_MAX, &v) < 0)
		return -1;
	/* Lower case too, as dd, head and most tools take it: "1m" is as
	 * plain as "1M", and nothing else could be meant by it. */
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
tc_options_parse_port(const char *s)
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
	o->rate = 20;
	o->burst = 200;
	o->thread_cache = TC_DEFAULT_THREAD_CACHE;
}

/* optarg as a whole number from lo to hi into *v; else the usage error
 * "NAME: invalid WHAT 'VALUE' (LO to HI)". */
static enum tc_opts_result
count_value(const char *name, const char *what, uint64_t lo, uint64_t hi,
            uint64_t *v, char *err, size_t errlen)
{
	if (parse_count(optarg, lo, hi, v) < 0)
		return usage_error(err, errlen,
		                   "%s: invalid %s '%s' (%llu to %llu)", name,
		                   what, optarg, (unsigned long long)lo,
		                   (unsigned long long)hi);
	return TC_OPTS_RUN;
}

/* Parses one numeric server option's value. */
static enum tc_opts_result
server_number(int c, char **argv, struct tc_server_opts *o, char *err,
              size_t errlen)
{
	/* 64G, or what size_t holds on a 32-bit machine. */
	uint64_t max_queue = SIZE_MAX < 64 * GIB ? SIZE_MAX : 64 * GIB;
	enum tc_opts_result r = TC_OPTS_RUN;
	char name[64];
	uint64_t v = 0;

	typed_name(argv, c, name, sizeof(name));
	switch (c) {
	case OPT_MAX_CLIENTS:
		if ((r = count_value(name, "number", 1, 1000000, &v, err,
		                     errlen)) == TC_OPTS_RUN)
			o->max_clients = (unsigned)v;
		break;
	case OPT_MAX_QUEUE:
		if (tc_options_parse_size(optarg, max_queue, false, &v) < 0)
			return usage_error(err, errlen,
			                   "%s: invalid size '%s' (1 to 64G)",
			                   name, optarg);
		o->max_queue = (size_t)v;
		break;
	case OPT_MAX_LINE:
		/* Below 4 bytes a UTF-8 sequence could not fit a piece. */
		if (tc_options_parse_size(optarg, 16 * KIB * KIB, false, &v) <
		        0 ||
		    v < 4)
			return usage_error(err, errlen,
			                   "%s: invalid size '%s' (4 to 16M)",
			                   name, optarg);
		o->max_line = (size_t)v;
		break;
	case OPT_LINGER:
		if ((r = count_value(name, "seconds", 0, 86400, &v, err,
		                     errlen)) == TC_OPTS_RUN)
			o->linger_s = (unsigned)v;
		break;
	case OPT_THREAD_CACHE:
		/* 0 turns the cache off: a thread per connection end to end. */
		if ((r = count_value(name, "number", 0, 1000000, &v, err,
		                     errlen)) == TC_OPTS_RUN)
			o->thread_cache = (unsigned)v;
		break;
	}
	return r;
}

/* ---- who may join, how many and how fast ---- */

static enum tc_opts_result
access_push(struct tc_server_opts *o, const struct tc_access_opt *a, char *err,
            size_t errlen)
{
	struct tc_access_opt *p =
	    realloc(o->access, (o->n_access + 1) * sizeof(*p));

	if (p == NULL)
		return usage_error(err, errlen, "%s", strerror(ENOMEM));
	o->access = p;
	o->access[o->n_access++] = *a;
	return TC_OPTS_RUN;
}

/* --allow, --deny: the CIDR is checked here, so a typo is a usage error. */
static enum tc_opts_result
access_rule(int c, const char *name, struct tc_server_opts *o, char *err,
            size_t errlen)
{
	struct tc_access_opt a = {
	    .kind = c == OPT_ALLOW || c == OPT_ALLOW_FILE ? TC_CIDR_ALLOW
	                                                  : TC_CIDR_DENY,
	};
	char why[256];

	if (c == OPT_ALLOW_FILE || c == OPT_DENY_FILE) {
		if (optarg[0] == '\0')
			return usage_error(err, errlen, "%s: empty FILE", name);
		a.file = optarg;
	} else {
		if (tc_cidr_parse(optarg, &a.net, why, sizeof(why)) < 0)
			return usage_error(err, errlen, "%s: %s", name, why);
		a.text = optarg;
	}
	return access_push(o, &a, err, errlen);
}

/* Applies one of the access options. */
static enum tc_opts_result
access_option(int c, char **argv, struct tc_server_opts *o, char *err,
              size_t errlen)
{
	char name[64];
	uint64_t v;

	typed_name(argv, c, name, sizeof(name));
	switch (c) {
	case OPT_MAX_PER_IP:
		if (parse_count(optarg, 0, 1000000, &v) < 0)
			return usage_error(err, errlen,
			                   "%s: invalid number '%s' (0 to "
			                   "1000000)",
			                   name, optarg);
		o->max_per_ip = (unsigned)v;
		break;
	case OPT_RATE:
	case OPT_BURST:
		if (parse_count(optarg, c == OPT_RATE ? 0 : 1, TC_RATE_MAX,
		                &v) < 0)
			return usage_error(err, errlen,
			                   "%s: invalid number of lines '%s' "
			                   "(%d to %d)",
			                   name, optarg, c == OPT_RATE ? 0 : 1,
			                   TC_RATE_MAX);
		*(c == OPT_RATE ? &o->rate : &o->burst) = (unsigned)v;
		break;
	default:
		return access_rule(c, name, o, err, errlen);
	}
	return TC_OPTS_RUN;
}

void
tc_server_opts_fini(struct tc_server_opts *o)
{
	free(o->access);
	o->access = NULL;
	o->n_access = 0;
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
		if (tc_options_parse_port(optarg) < 0)
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
		if (c >= OPT_ACCESS_FIRST)
			return access_option(c, argv, o, err, errlen);
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

/* -w SECONDS: how long one connect may take before the client gives up. */
static enum tc_opts_result
client_wait(char **argv, int c, struct tc_client_opts *o, char *err,
            size_t errlen)
{
	char name[64];
	uint64_t v;

	typed_name(argv, c, name, sizeof(name));
	if (parse_count(optarg, 1, TC_CONNECT_WAIT_MAX_S, &v) < 0)
		return usage_error(err, errlen,
		                   "%s: invalid seconds '%s' (1 to %d)", name,
		                   optarg, TC_CONNECT_WAIT_MAX_S);
	o->connect_wait_s = (unsigned)v;
	return TC_OPTS_RUN;
}

/* The client's options that only set a field; true when c was one. */
static bool
client_setting(int c, struct tc_client_opts *o)
{
	switch (c) {
	case OPT_NAME:
		o->name = optarg;
		return true;
	case OPT_HISTORY:
		o->history_path = optarg;
		return true;
	case OPT_NO_HISTORY:
		o->no_history = true;
		return true;
	case OPT_TRACE:
		o->trace = true;
		return true;
	case OPT_TIMESTAMPS:
		o->timestamps = true;
		return true;
	case OPT_NO_COLOR:
		o->no_color = true;
		return true;
	case OPT_NO_BELL:
		o->no_bell = true;
		return true;
	}
	return false;
}

/* Applies one client option getopt returned; *port_set records -p. */
static enum tc_opts_result
client_option(int c, char **argv, struct tc_client_opts *o, bool *port_set,
              char *err, size_t errlen)
{
	char name[64];

	if (client_setting(c, o))
		return TC_OPTS_RUN;
	switch (c) {
	case 'p':
	case OPT_PORT:
		typed_name(argv, c, name, sizeof(name));
		if (tc_options_parse_port(optarg) < 0)
			return usage_error(err, errlen, "%s: invalid port '%s'",
			                   name, optarg);
		o->port = optarg;
		*port_set = true;
		break;
	case 'w':
	case OPT_WAIT:
		return client_wait(argv, c, o, err, errlen);
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
		if (tc_options_parse_port(argv[optind + 1]) < 0)
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
	o->connect_wait_s = TC_CONNECT_WAIT_DEFAULT_S;
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

void
tc_options_usage_exit(const char *prog, const char *why)
{
	fprintf(stderr, "%s: %s (see %s -h)\n", prog, why, prog);
	exit(2);
}

void
tc_options_act(enum tc_opts_result r, const char *prog, const char *usage,
               const char *err)
{
	switch (r) {
	case TC_OPTS_HELP:
		fputs(usage, stdout);
		exit(0);
	case TC_OPTS_VERSION:
		printf("%s %s\n", prog, TC_VERSION);
		exit(0);
	case TC_OPTS_USAGE:
		tc_options_usage_exit(prog, err);
	case TC_OPTS_RUN:
		break;
	}
}
