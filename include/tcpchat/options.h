/* options: command-line parsing for both programs (SPEC sections 3, 5).
 *
 * Fills an options struct or says, in one line, which argument is wrong.
 * Never prints or exits: the mains decide that (exit status 2). */
#ifndef TCPCHAT_OPTIONS_H
#define TCPCHAT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TC_DEFAULT_PORT "9999"
/* --thread-cache: finished session threads kept for new connections. */
#define TC_DEFAULT_THREAD_CACHE 64

enum tc_opts_result {
	TC_OPTS_RUN,     /* go ahead */
	TC_OPTS_HELP,    /* -h: print usage, exit 0 */
	TC_OPTS_VERSION, /* -V: print version, exit 0 */
	TC_OPTS_USAGE,   /* bad usage: err says why, exit 2 */
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
};

struct tc_client_opts {
	const char *host;
	const char *port;
	const char *name;         /* --name: sent as /nick after connecting */
	const char *history_path; /* --history; NULL: the default path */
	bool no_history;
	bool trace;
	int family; /* AF_UNSPEC, AF_INET (-4) or AF_INET6 (-6) */
};

/* Parses "123", "64K", "1M", "2G" (powers of 1024) into *out; max_value
 * bounds it. Returns 0, or -1 for anything else (empty, sign, overflow,
 * other suffix, zero when !allow_zero). */
int tc_parse_size(const char *s, uint64_t max_value, bool allow_zero,
                  uint64_t *out);

/* Parses a port 0..65535 (decimal digits only). Returns it, or -1. */
int tc_parse_port(const char *s);

/* Parse argv. getopt state is reset first, so they may be called again
 * (tests). err gets a one-line reason for TC_OPTS_USAGE. */
enum tc_opts_result tc_server_opts_parse(int argc, char **argv,
                                         struct tc_server_opts *o, char *err,
                                         size_t errlen);
enum tc_opts_result tc_client_opts_parse(int argc, char **argv,
                                         struct tc_client_opts *o, char *err,
                                         size_t errlen);

extern const char tc_server_usage[];
extern const char tc_client_usage[];

#endif
