/* options: command-line parsing for both programs (man/tcpchatd.1,
 * man/tcpchat.1).
 *
 * Fills an options struct or says, in one line, which argument is wrong.
 * Never prints or exits: the mains decide that (exit status 2). */
#ifndef TCPCHAT_OPTIONS_H
#define TCPCHAT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpchat/cidr.h"

#define TC_DEFAULT_PORT "9999"
#define TC_CONNECT_WAIT_DEFAULT_S 10 /* -w */
#define TC_CONNECT_WAIT_MAX_S 86400
/* --thread-cache: finished session threads kept for new connections. */
#define TC_DEFAULT_THREAD_CACHE 64

enum tc_opts_result {
	TC_OPTS_RUN,     /* go ahead */
	TC_OPTS_HELP,    /* -h: print usage, exit 0 */
	TC_OPTS_VERSION, /* -V: print version, exit 0 */
	TC_OPTS_USAGE,   /* bad usage: err says why, exit 2 */
};

/* One --allow, --deny, --allow-file or --deny-file, in command-line order:
 * the main adds net (origin: command line) or loads file into its rule
 * set. text and file point into argv. */
struct tc_access_opt {
	enum tc_cidr_kind kind;
	const char *file; /* --allow-file, --deny-file; NULL: net */
	const char *text; /* --allow, --deny as typed */
	struct tc_cidr net;
};

struct tc_server_opts {
	const char *addr; /* -l; NULL: every interface */
	const char *port; /* -p */
	const char *name; /* --name */
	unsigned max_clients;
	size_t max_queue;
	size_t max_line;
	unsigned linger_s;
	unsigned thread_cache; /* --thread-cache; 0: none */
	bool trace, quiet, verbose;
	/* Who may join, how many and how fast. access is allocated: free it
	 * with tc_server_opts_fini(). */
	struct tc_access_opt *access;
	size_t n_access;
	unsigned max_per_ip; /* --max-per-ip; 0: no limit */
	unsigned rate;       /* --rate, lines a second; 0: no flood control */
	unsigned burst;      /* --burst, lines */
};

struct tc_client_opts {
	const char *host;
	const char *port;
	const char *name;         /* --name: sent as /nick after connecting */
	const char *history_path; /* --history; NULL: the default path */
	bool no_history;
	bool trace;
	int family;              /* AF_UNSPEC, AF_INET (-4) or AF_INET6 (-6) */
	unsigned connect_wait_s; /* -w: bound on each connect attempt */
	/* How incoming lines are shown (decorate). */
	bool timestamps; /* --timestamps: HH:MM before each line */
	bool no_color;   /* --no-color: no colour, highlight or bell */
	bool no_bell;    /* --no-bell: no bell on a mention */
};

/* Parses decimal digits with an optional K, M or G suffix, in either case
 * ("123", "64K", "64k", "1M", "2g"; powers of 1024) into *out; max_value
 * bounds it. Returns 0, or -1 for anything else (empty, sign, space,
 * overflow, any other suffix such as "1T" or "1KB", zero when !allow_zero). */
int tc_options_parse_size(const char *s, uint64_t max_value, bool allow_zero,
                          uint64_t *out);

/* Parses a port 0..65535 (decimal digits only). Returns it, or -1. */
int tc_options_parse_port(const char *s);

/* Parse argv. getopt state is reset first, so they may be called again
 * (tests). err gets a one-line reason for TC_OPTS_USAGE. Whatever the
 * server's parse returns, free its options with tc_server_opts_fini(). */
enum tc_opts_result tc_server_opts_parse(int argc, char **argv,
                                         struct tc_server_opts *o, char *err,
                                         size_t errlen);
enum tc_opts_result tc_client_opts_parse(int argc, char **argv,
                                         struct tc_client_opts *o, char *err,
                                         size_t errlen);

/* Frees what tc_server_opts_parse() allocated; o may then be parsed into
 * again. */
void tc_server_opts_fini(struct tc_server_opts *o);

extern const char tc_server_usage[];
extern const char tc_client_usage[];

/* Says "PROG: WHY (see PROG -h)" on stderr and exits 2: bad usage. */
_Noreturn void tc_options_usage_exit(const char *prog, const char *why);

/* What a main does with a parse result: -h prints usage and exits 0, -V
 * the version and exits 0, bad usage exits 2 through
 * tc_options_usage_exit(); TC_OPTS_RUN returns. */
void tc_options_act(enum tc_opts_result r, const char *prog, const char *usage,
                    const char *err);

#endif
