/* Unit tests for options: size and port parsing, the server's and the
 * client's command lines, their defaults and every class of usage error;
 * the -h texts: what they list exists, and they fit a terminal. */
#include <check.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "check_main.h"
#include "tcpchat/options.h"

#define MAXARGS 16

/* A writable argv (getopt permutes it) built from a NULL-ended list. */
struct args {
	int argc;
	char *argv[MAXARGS + 1];
	char buf[MAXARGS][64];
};

static void
args_vset(struct args *a, const char *first, va_list ap)
{
	const char *s = first;

	a->argc = 0;
	while (s != NULL && a->argc < MAXARGS) {
		strncpy(a->buf[a->argc], s, sizeof(a->buf[0]) - 1);
		a->buf[a->argc][sizeof(a->buf[0]) - 1] = '\0';
		a->argv[a->argc] = a->buf[a->argc];
		a->argc++;
		s = va_arg(ap, const char *);
	}
	a->argv[a->argc] = NULL;
}

static struct args A;
static char err[256];

static enum tc_opts_result
server(struct tc_server_opts *o, ...)
{
	va_list ap;

	va_start(ap, o);
	args_vset(&A, "tcpchatd", ap);
	va_end(ap);
	memset(err, 'X', sizeof(err));
	return tc_server_opts_parse(A.argc, A.argv, o, err, sizeof(err));
}

static enum tc_opts_result
client(struct tc_client_opts *o, ...)
{
	va_list ap;

	va_start(ap, o);
	args_vset(&A, "tcpchat", ap);
	va_end(ap);
	memset(err, 'X', sizeof(err));
	return tc_client_opts_parse(A.argc, A.argv, o, err, sizeof(err));
}

/* The expected one-line reason for a usage error. */
#define ck_usage(r, want)                                                      \
	do {                                                                   \
		ck_assert_int_eq((r), TC_OPTS_USAGE);                          \
		ck_assert_str_eq(err, (want));                                 \
	} while (0)

/* ---- sizes and ports ---- */

START_TEST(test_size_plain_digits)
{
	uint64_t v = 0;

	ck_assert_int_eq(tc_options_parse_size("123", 1000, false, &v), 0);
	ck_assert_uint_eq(v, 123);
}
END_TEST

START_TEST(test_size_suffixes_are_powers_of_1024_in_either_case)
{
	uint64_t v = 0;
	uint64_t max = UINT64_MAX;

	ck_assert_int_eq(tc_options_parse_size("64K", max, false, &v), 0);
	ck_assert_uint_eq(v, 64 * 1024);
	ck_assert_int_eq(tc_options_parse_size("64k", max, false, &v), 0);
	ck_assert_uint_eq(v, 64 * 1024);
	ck_assert_int_eq(tc_options_parse_size("1M", max, false, &v), 0);
	ck_assert_uint_eq(v, 1024 * 1024);
	ck_assert_int_eq(tc_options_parse_size("3m", max, false, &v), 0);
	ck_assert_uint_eq(v, 3 * 1024 * 1024);
	ck_assert_int_eq(tc_options_parse_size("2G", max, false, &v), 0);
	ck_assert_uint_eq(v, 2ULL << 30);
	ck_assert_int_eq(tc_options_parse_size("1g", max, false, &v), 0);
	ck_assert_uint_eq(v, 1ULL << 30);
}
END_TEST

START_TEST(test_size_rejects_malformed_text)
{
	static const char *const bad[] = {
	    "",   "K",   "-1", "+1",  " 1",   "1 ",  "1KB",
	    "1T", "1.5", "x1", "1kk", "0x10", "1K ", "\xef\xbc\x91",
	};
	uint64_t v = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(
		    tc_options_parse_size(bad[i], UINT64_MAX, true, &v) == -1,
		    "accepted '%s'", bad[i]);
		ck_assert_uint_eq(v, 77);
	}
	ck_assert_int_eq(tc_options_parse_size(NULL, UINT64_MAX, true, &v), -1);
}
END_TEST

START_TEST(test_size_rejects_values_past_the_maximum)
{
	uint64_t v = 0;

	ck_assert_int_eq(tc_options_parse_size("1024", 1024, false, &v), 0);
	ck_assert_int_eq(tc_options_parse_size("1K", 1024, false, &v), 0);
	ck_assert_uint_eq(v, 1024);
	ck_assert_int_eq(tc_options_parse_size("1025", 1024, false, &v), -1);
	ck_assert_int_eq(tc_options_parse_size("2K", 1024, false, &v), -1);
	/* Past 64 bits, before and after the suffix. */
	ck_assert_int_eq(tc_options_parse_size("18446744073709551615",
	                                       UINT64_MAX, false, &v),
	                 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(tc_options_parse_size("18446744073709551616",
	                                       UINT64_MAX, false, &v),
	                 -1);
	ck_assert_int_eq(
	    tc_options_parse_size("17179869184G", UINT64_MAX, false, &v), -1);
}
END_TEST

START_TEST(test_size_zero_only_when_allowed)
{
	uint64_t v = 9;

	ck_assert_int_eq(tc_options_parse_size("0", 100, false, &v), -1);
	ck_assert_int_eq(tc_options_parse_size("0K", 100, false, &v), -1);
	ck_assert_int_eq(tc_options_parse_size("0", 100, true, &v), 0);
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(test_port_accepts_0_to_65535)
{
	ck_assert_int_eq(tc_options_parse_port("0"), 0);
	ck_assert_int_eq(tc_options_parse_port("9999"), 9999);
	ck_assert_int_eq(tc_options_parse_port("65535"), 65535);
}
END_TEST

START_TEST(test_port_rejects_anything_else)
{
	static const char *const bad[] = {
	    "",     "65536", "99999999999999999999",
	    "-1",   "+80",   "80 ",
	    " 80",  "http",  "8o",
	    "0x50",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(tc_options_parse_port(bad[i]) == -1,
		              "accepted '%s'", bad[i]);
	ck_assert_int_eq(tc_options_parse_port(NULL), -1);
}
END_TEST

/* ---- server ---- */

START_TEST(test_server_defaults)
{
	struct tc_server_opts o;

	ck_assert_int_eq(server(&o, NULL), TC_OPTS_RUN);
	ck_assert_ptr_null(o.addr);
	ck_assert_str_eq(o.port, TC_DEFAULT_PORT);
	ck_assert_str_eq(o.name, "server");
	ck_assert_uint_eq(o.max_clients, 1024);
	ck_assert_uint_eq(o.max_queue, 1024 * 1024);
	ck_assert_uint_eq(o.max_line, 4096);
	ck_assert_uint_eq(o.linger_s, 0);
	ck_assert(!o.trace && !o.quiet && !o.verbose);
}
END_TEST

START_TEST(test_server_short_options)
{
	struct tc_server_opts o;

	ck_assert_int_eq(server(&o, "-l", "::1", "-p", "0", "-qv", NULL),
	                 TC_OPTS_RUN);
	ck_assert_str_eq(o.addr, "::1");
	ck_assert_str_eq(o.port, "0");
	ck_assert(o.quiet && o.verbose);
	ck_assert_int_eq(server(&o, "-l127.0.0.1", "-p1234", NULL),
	                 TC_OPTS_RUN);
	ck_assert_str_eq(o.addr, "127.0.0.1");
	ck_assert_str_eq(o.port, "1234");
}
END_TEST

START_TEST(test_server_long_options)
{
	struct tc_server_opts o;

	ck_assert_int_eq(
	    server(&o, "--listen", "0.0.0.0", "--port=7000", "--name", "hub",
	           "--max-clients", "10", "--max-queue", "64K", "--max-line=4",
	           "--linger", "30", "--trace", "--quiet", "--verbose", NULL),
	    TC_OPTS_RUN);
	ck_assert_str_eq(o.addr, "0.0.0.0");
	ck_assert_str_eq(o.port, "7000");
	ck_assert_str_eq(o.name, "hub");
	ck_assert_uint_eq(o.max_clients, 10);
	ck_assert_uint_eq(o.max_queue, 64 * 1024);
	ck_assert_uint_eq(o.max_line, 4);
	ck_assert_uint_eq(o.linger_s, 30);
	ck_assert(o.trace && o.quiet && o.verbose);
}
END_TEST

START_TEST(test_server_range_limits_are_accepted)
{
	struct tc_server_opts o;

	ck_assert_int_eq(server(&o, "--max-clients", "1000000", "--max-queue",
	                        "64G", "--max-line", "16M", "--linger", "86400",
	                        NULL),
	                 TC_OPTS_RUN);
	ck_assert_uint_eq(o.max_clients, 1000000);
	ck_assert_uint_eq(o.max_line, 16 * 1024 * 1024);
	ck_assert_uint_eq(o.linger_s, 86400);
	ck_assert_int_eq(
	    server(&o, "--max-clients", "1", "--max-queue", "1", NULL),
	    TC_OPTS_RUN);
	ck_assert_uint_eq(o.max_queue, 1);
}
END_TEST

START_TEST(test_server_help_and_version)
{
	struct tc_server_opts o;

	ck_assert_int_eq(server(&o, "-h", NULL), TC_OPTS_HELP);
	ck_assert_int_eq(server(&o, "--help", NULL), TC_OPTS_HELP);
	ck_assert_int_eq(server(&o, "-V", NULL), TC_OPTS_VERSION);
	ck_assert_int_eq(server(&o, "--version", NULL), TC_OPTS_VERSION);
}
END_TEST

/* Every line of a usage text fits 80 columns. */
static void
ck_fits_80_columns(const char *usage)
{
	for (const char *l = usage; *l != '\0';) {
		size_t len = strcspn(l, "\n");

		ck_assert_msg(len < 80, "too long: %.*s", (int)len, l);
		l += len + (l[len] == '\n');
	}
}

/* Every "--name" the usage text shows is an option parse() knows: with no
 * value it may miss one, but it is never unknown. */
static void
ck_long_options_exist(const char *usage,
                      enum tc_opts_result (*parse)(const char *opt))
{
	int seen = 0;

	for (const char *p = strstr(usage, "--"); p != NULL;
	     p = strstr(p + 2, "--")) {
		char opt[32];
		size_t len = 2;

		while (islower((unsigned char)p[len]) || p[len] == '-')
			len++;
		ck_assert_uint_lt(len, sizeof(opt));
		memcpy(opt, p, len);
		opt[len] = '\0';
		parse(opt);
		ck_assert_msg(strncmp(err, "unknown option", 14) != 0,
		              "usage shows %s: %s", opt, err);
		seen++;
	}
	ck_assert_int_gt(seen, 5);
}

static enum tc_opts_result
server_with(const char *opt)
{
	struct tc_server_opts o;

	return server(&o, opt, NULL);
}

static enum tc_opts_result
client_with(const char *opt)
{
	struct tc_client_opts o;

	return client(&o, opt, "host", NULL);
}

START_TEST(test_server_usage_lists_options_then_console_commands)
{
	const char *commands = strstr(tc_server_usage, "\nConsole commands");
	const char *const listed[] = {"/list",         "/msg ID|NICK TEXT",
	                              "/kick ID|NICK", "/ban ID|NICK|CIDR",
	                              "/unban CIDR",   "/bans",
	                              "/quit",         "/help",
	                              "//TEXT"};

	ck_assert_ptr_nonnull(commands);
	ck_assert_ptr_nonnull(strstr(tc_server_usage, "--max-queue"));
	ck_assert(strstr(tc_server_usage, "--version") < commands);
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
		ck_assert_msg(strstr(commands, listed[i]) != NULL, "no %s",
		              listed[i]);
	ck_fits_80_columns(tc_server_usage);
	ck_long_options_exist(tc_server_usage, server_with);
}
END_TEST

START_TEST(test_client_usage_lists_options_then_chat_commands)
{
	const char *commands = strstr(tc_client_usage, "\nChat commands");
	const char *const listed[] = {"/nick NAME", "/who", "/help", "//TEXT",
	                              "exit"};

	ck_assert_ptr_nonnull(commands);
	ck_assert(strstr(tc_client_usage, "--version") < commands);
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
		ck_assert_msg(strstr(commands, listed[i]) != NULL, "no %s",
		              listed[i]);
	ck_fits_80_columns(tc_client_usage);
	ck_long_options_exist(tc_client_usage, client_with);
}
END_TEST

START_TEST(test_server_unknown_options)
{
	struct tc_server_opts o;

	ck_usage(server(&o, "--frob", NULL), "unknown option '--frob'");
	ck_usage(server(&o, "--frob=1", NULL), "unknown option '--frob'");
	ck_usage(server(&o, "-x", NULL), "unknown option '-x'");
	ck_usage(server(&o, "-qx", NULL), "unknown option '-x'");
	ck_usage(server(&o, "-4", NULL), "unknown option '-4'");
	ck_usage(server(&o, "--trace=1", NULL),
	         "option '--trace' takes no value");
}
END_TEST

START_TEST(test_server_missing_values)
{
	struct tc_server_opts o;

	ck_usage(server(&o, "-p", NULL), "option '-p' needs a value");
	ck_usage(server(&o, "-q", "-l", NULL), "option '-l' needs a value");
	ck_usage(server(&o, "--name", NULL), "option '--name' needs a value");
	ck_usage(server(&o, "--max-queue", NULL),
	         "option '--max-queue' needs a value");
}
END_TEST

START_TEST(test_server_bad_values)
{
	struct tc_server_opts o;

	ck_usage(server(&o, "-p", "70000", NULL), "-p: invalid port '70000'");
	ck_usage(server(&o, "--port", "x", NULL), "--port: invalid port 'x'");
	ck_usage(server(&o, "--max-queue", "x1", NULL),
	         "--max-queue: invalid size 'x1' (1 to 64G)");
	ck_usage(server(&o, "--max-queue", "0", NULL),
	         "--max-queue: invalid size '0' (1 to 64G)");
	ck_usage(server(&o, "--max-queue=65G", NULL),
	         "--max-queue: invalid size '65G' (1 to 64G)");
	ck_usage(server(&o, "--max-line", "3", NULL),
	         "--max-line: invalid size '3' (4 to 16M)");
	ck_usage(server(&o, "--max-line", "17M", NULL),
	         "--max-line: invalid size '17M' (4 to 16M)");
	ck_usage(server(&o, "--max-clients", "0", NULL),
	         "--max-clients: invalid number '0' (1 to 1000000)");
	ck_usage(server(&o, "--max-clients", "1000001", NULL),
	         "--max-clients: invalid number '1000001' (1 to 1000000)");
	ck_usage(server(&o, "--max-clients", "1K", NULL),
	         "--max-clients: invalid number '1K' (1 to 1000000)");
	ck_usage(server(&o, "--linger", "86401", NULL),
	         "--linger: invalid seconds '86401' (0 to 86400)");
	ck_usage(server(&o, "--linger", "5s", NULL),
	         "--linger: invalid seconds '5s' (0 to 86400)");
	ck_usage(server(&o, "--linger", "-1", NULL),
	         "--linger: invalid seconds '-1' (0 to 86400)");
}
END_TEST

/* The usage text, the parser and its errors agree: K, M or G in either
 * case, nothing else. */
START_TEST(test_server_size_suffixes_in_either_case_and_no_other)
{
	static const char *const bad[] = {"1T",  "1t", "1KB", "1kb",
	                                  "1Ki", "1b", "1 M", "1MM"};
	struct tc_server_opts o;

	ck_assert_ptr_nonnull(strstr(tc_server_usage, "K, M or G, in either "
	                                              "case"));
	ck_assert_int_eq(
	    server(&o, "--max-queue", "1m", "--max-line", "8k", NULL),
	    TC_OPTS_RUN);
	ck_assert_uint_eq(o.max_queue, 1024 * 1024);
	ck_assert_uint_eq(o.max_line, 8 * 1024);
	ck_assert_int_eq(server(&o, "--max-queue=2g", NULL), TC_OPTS_RUN);
	ck_assert_uint_eq(o.max_queue, 2ULL << 30);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[128];

		snprintf(want, sizeof(want),
		         "--max-queue: invalid size '%s' (1 to 64G)", bad[i]);
		ck_usage(server(&o, "--max-queue", bad[i], NULL), want);
	}
}
END_TEST

START_TEST(test_server_positional_argument_is_a_usage_error)
{
	struct tc_server_opts o;

	ck_usage(server(&o, "-q", "extra", NULL),
	         "unexpected argument 'extra'");
}
END_TEST

START_TEST(test_server_parse_can_run_again_after_an_error)
{
	struct tc_server_opts o;

	/* Stops inside the "-qx" group; the next parse must start afresh. */
	ck_assert_int_eq(server(&o, "-qxv", NULL), TC_OPTS_USAGE);
	ck_assert_int_eq(server(&o, "-v", NULL), TC_OPTS_RUN);
	ck_assert(o.verbose && !o.quiet);
}
END_TEST

/* ---- client ---- */

START_TEST(test_client_defaults)
{
	struct tc_client_opts o;

	ck_assert_int_eq(client(&o, "example.org", NULL), TC_OPTS_RUN);
	ck_assert_str_eq(o.host, "example.org");
	ck_assert_str_eq(o.port, TC_DEFAULT_PORT);
	ck_assert_ptr_null(o.name);
	ck_assert_ptr_null(o.history_path);
	ck_assert(!o.no_history && !o.trace);
	ck_assert_int_eq(o.family, AF_UNSPEC);
	ck_assert(!o.timestamps && !o.no_color && !o.no_bell);
}
END_TEST

START_TEST(test_client_every_option)
{
	struct tc_client_opts o;

	ck_assert_int_eq(client(&o, "-p", "8000", "--name", "ann", "--history",
	                        "/tmp/h", "--trace", "-6", "::1", NULL),
	                 TC_OPTS_RUN);
	ck_assert_str_eq(o.port, "8000");
	ck_assert_str_eq(o.name, "ann");
	ck_assert_str_eq(o.history_path, "/tmp/h");
	ck_assert(o.trace);
	ck_assert_int_eq(o.family, AF_INET6);
	ck_assert_str_eq(o.host, "::1");
	ck_assert_int_eq(
	    client(&o, "--no-history", "-4", "--port=1", "h", NULL),
	    TC_OPTS_RUN);
	ck_assert(o.no_history);
	ck_assert_int_eq(o.family, AF_INET);
	ck_assert_str_eq(o.port, "1");
}
END_TEST

START_TEST(test_client_display_options)
{
	struct tc_client_opts o;

	ck_assert_int_eq(
	    client(&o, "--timestamps", "h", "--no-color", "--no-bell", NULL),
	    TC_OPTS_RUN);
	ck_assert(o.timestamps && o.no_color && o.no_bell);
	ck_assert_str_eq(o.host, "h");
	ck_assert_int_eq(client(&o, "--no-bell", "h", NULL), TC_OPTS_RUN);
	ck_assert(o.no_bell && !o.no_color && !o.timestamps);
	/* An unambiguous abbreviation, as for every long option. */
	ck_assert_int_eq(client(&o, "--time", "h", NULL), TC_OPTS_RUN);
	ck_assert(o.timestamps);
	ck_usage(client(&o, "--no-color=yes", "h", NULL),
	         "option '--no-color' takes no value");
	ck_usage(client(&o, "--colour", "h", NULL),
	         "unknown option '--colour'");
	ck_assert(strstr(tc_client_usage, "[--timestamps] [--no-color] "
	                                  "[--no-bell]") != NULL);
	ck_assert(strstr(tc_client_usage, "\n      --no-bell ") != NULL);
}
END_TEST

START_TEST(test_client_positional_port)
{
	struct tc_client_opts o;

	ck_assert_int_eq(client(&o, "localhost", "4000", NULL), TC_OPTS_RUN);
	ck_assert_str_eq(o.host, "localhost");
	ck_assert_str_eq(o.port, "4000");
}
END_TEST

START_TEST(test_client_options_may_follow_the_host)
{
	struct tc_client_opts o;

	ck_assert_int_eq(
	    client(&o, "localhost", "--name", "bo", "4000", "--trace", NULL),
	    TC_OPTS_RUN);
	ck_assert_str_eq(o.host, "localhost");
	ck_assert_str_eq(o.port, "4000");
	ck_assert_str_eq(o.name, "bo");
	ck_assert(o.trace);
}
END_TEST

START_TEST(test_client_help_and_version_need_no_host)
{
	struct tc_client_opts o;

	ck_assert_int_eq(client(&o, "-h", NULL), TC_OPTS_HELP);
	ck_assert_int_eq(client(&o, "--help", NULL), TC_OPTS_HELP);
	ck_assert_int_eq(client(&o, "-V", NULL), TC_OPTS_VERSION);
	ck_assert_int_eq(client(&o, "--version", NULL), TC_OPTS_VERSION);
}
END_TEST

START_TEST(test_client_history_and_no_history_exclude_each_other)
{
	struct tc_client_opts o;

	ck_usage(client(&o, "--no-history", "--history", "f", "h", NULL),
	         "--history and --no-history exclude each other");
	ck_usage(client(&o, "--history=f", "h", "--no-history", NULL),
	         "--history and --no-history exclude each other");
}
END_TEST

START_TEST(test_client_4_and_6_exclude_each_other)
{
	struct tc_client_opts o;

	ck_usage(client(&o, "-4", "-6", "h", NULL),
	         "-4 and -6 exclude each other");
	ck_usage(client(&o, "-64", "h", NULL), "-4 and -6 exclude each other");
	ck_assert_int_eq(client(&o, "-4", "-4", "h", NULL), TC_OPTS_RUN);
}
END_TEST

START_TEST(test_client_needs_a_host)
{
	struct tc_client_opts o;

	ck_usage(client(&o, NULL), "missing HOST");
	ck_usage(client(&o, "--trace", NULL), "missing HOST");
	ck_usage(client(&o, "", NULL), "empty HOST");
}
END_TEST

START_TEST(test_client_takes_at_most_host_and_port)
{
	struct tc_client_opts o;

	ck_usage(client(&o, "h", "1", "2", NULL), "unexpected argument '2'");
}
END_TEST

START_TEST(test_client_port_given_twice_is_an_error)
{
	struct tc_client_opts o;

	ck_usage(client(&o, "-p", "1", "h", "2", NULL),
	         "-p and a PORT argument exclude each other");
	ck_usage(client(&o, "h", "2", "--port", "1", NULL),
	         "-p and a PORT argument exclude each other");
}
END_TEST

START_TEST(test_client_bad_ports)
{
	struct tc_client_opts o;

	ck_usage(client(&o, "h", "http", NULL), "invalid port 'http'");
	ck_usage(client(&o, "-p", "65536", "h", NULL),
	         "-p: invalid port '65536'");
	ck_usage(client(&o, "h", "-p", NULL), "option '-p' needs a value");
}
END_TEST

START_TEST(test_client_unknown_options)
{
	struct tc_client_opts o;

	ck_usage(client(&o, "-l", "x", "h", NULL), "unknown option '-l'");
	ck_usage(client(&o, "h", "--max-line=5", NULL),
	         "unknown option '--max-line'");
	ck_usage(client(&o, "--no-history=yes", "h", NULL),
	         "option '--no-history' takes no value");
}
END_TEST

START_TEST(test_client_wait_defaults_to_10_seconds)
{
	struct tc_client_opts o;

	ck_assert_int_eq(client(&o, "h", NULL), TC_OPTS_RUN);
	ck_assert_uint_eq(o.connect_wait_s, 10);
}
END_TEST

START_TEST(test_client_wait_takes_seconds_short_and_long)
{
	struct tc_client_opts o;

	ck_assert_int_eq(client(&o, "-w", "3", "h", NULL), TC_OPTS_RUN);
	ck_assert_uint_eq(o.connect_wait_s, 3);
	ck_assert_int_eq(client(&o, "-w1", "h", NULL), TC_OPTS_RUN);
	ck_assert_uint_eq(o.connect_wait_s, 1);
	ck_assert_int_eq(client(&o, "h", "--wait=86400", NULL), TC_OPTS_RUN);
	ck_assert_uint_eq(o.connect_wait_s, 86400);
}
END_TEST

START_TEST(test_client_bad_wait_is_a_usage_error)
{
	struct tc_client_opts o;

	ck_usage(client(&o, "-w", "0", "h", NULL),
	         "-w: invalid seconds '0' (1 to 86400)");
	ck_usage(client(&o, "-w", "1.5", "h", NULL),
	         "-w: invalid seconds '1.5' (1 to 86400)");
	ck_usage(client(&o, "--wait", "86401", "h", NULL),
	         "--wait: invalid seconds '86401' (1 to 86400)");
	ck_usage(client(&o, "-w", "-1", "h", NULL),
	         "-w: invalid seconds '-1' (1 to 86400)");
	ck_usage(client(&o, "h", "-w", NULL), "option '-w' needs a value");
}
END_TEST

START_TEST(test_usage_texts_name_every_option)
{
	static const char *const srv[] = {
	    "usage: tcpchatd", "--listen",    "--port",     "--name",
	    "--max-clients",   "--max-queue", "--max-line", "--linger",
	    "--trace",         "--quiet",     "--verbose",  "--help",
	    "--version",
	};
	static const char *const cli[] = {
	    "usage: tcpchat", "--port",    "--name", "--history",
	    "--no-history",   "--trace",   "-4",     "-6",
	    "--help",         "--version", "--wait",
	};

	for (size_t i = 0; i < sizeof(srv) / sizeof(srv[0]); i++)
		ck_assert_msg(strstr(tc_server_usage, srv[i]) != NULL,
		              "server usage lacks %s", srv[i]);
	for (size_t i = 0; i < sizeof(cli) / sizeof(cli[0]); i++)
		ck_assert_msg(strstr(tc_client_usage, cli[i]) != NULL,
		              "client usage lacks %s", cli[i]);
}
END_TEST

/* ---- server: who may join, how many and how fast ---- */

START_TEST(test_access_defaults)
{
	struct tc_server_opts o;

	ck_assert_int_eq(server(&o, NULL), TC_OPTS_RUN);
	ck_assert_ptr_null(o.access);
	ck_assert_uint_eq(o.n_access, 0);
	ck_assert_uint_eq(o.max_per_ip, 0);
	ck_assert_uint_eq(o.rate, 20);
	ck_assert_uint_eq(o.burst, 200);
	tc_server_opts_fini(&o);
}
END_TEST

START_TEST(test_access_rules_and_files_keep_their_order)
{
	struct tc_server_opts o;
	struct tc_cidr want;
	char e[128];

	ck_assert_int_eq(server(&o, "--allow", "10.0.0.0/8", "--deny-file",
	                        "bad.txt", "--deny=10.6.6.6", "--allow-file",
	                        "lab.txt", "--allow", "2001:db8::/32", NULL),
	                 TC_OPTS_RUN);
	ck_assert_uint_eq(o.n_access, 5);
	ck_assert_int_eq(o.access[0].kind, TC_CIDR_ALLOW);
	ck_assert_ptr_null(o.access[0].file);
	ck_assert_str_eq(o.access[0].text, "10.0.0.0/8");
	ck_assert_int_eq(tc_cidr_parse("10.0.0.0/8", &want, e, sizeof(e)), 0);
	ck_assert(tc_cidr_equal(&o.access[0].net, &want));
	ck_assert_int_eq(o.access[1].kind, TC_CIDR_DENY);
	ck_assert_str_eq(o.access[1].file, "bad.txt");
	ck_assert_int_eq(o.access[2].kind, TC_CIDR_DENY);
	ck_assert_str_eq(o.access[2].text, "10.6.6.6");
	ck_assert_int_eq(o.access[3].kind, TC_CIDR_ALLOW);
	ck_assert_str_eq(o.access[3].file, "lab.txt");
	ck_assert_int_eq(o.access[4].net.family, AF_INET6);
	tc_server_opts_fini(&o);
	ck_assert_ptr_null(o.access);
}
END_TEST

START_TEST(test_access_numbers)
{
	struct tc_server_opts o;

	ck_assert_int_eq(
	    server(&o, "--max-per-ip", "3", "--rate", "0", "--burst=1", NULL),
	    TC_OPTS_RUN);
	ck_assert_uint_eq(o.max_per_ip, 3);
	ck_assert_uint_eq(o.rate, 0);
	ck_assert_uint_eq(o.burst, 1);
	ck_assert_int_eq(server(&o, "--max-per-ip", "1000000", "--rate",
	                        "1000000", "--burst", "1000000", NULL),
	                 TC_OPTS_RUN);
	ck_assert_uint_eq(o.max_per_ip, 1000000);
	ck_assert_uint_eq(o.rate, 1000000);
	ck_assert_uint_eq(o.burst, 1000000);
	tc_server_opts_fini(&o);
}
END_TEST

START_TEST(test_access_bad_values)
{
	struct tc_server_opts o;

	ck_usage(server(&o, "--allow", "10.1.2.3/8", NULL),
	         "--allow: bad CIDR '10.1.2.3/8': host bits set (the network "
	         "is 10.0.0.0/8)");
	tc_server_opts_fini(&o);
	ck_usage(server(&o, "--deny", "10.0.0.0/8", "--deny", "nope", NULL),
	         "--deny: bad CIDR 'nope': not an IPv4 or IPv6 address");
	tc_server_opts_fini(&o);
	ck_usage(server(&o, "--deny=::/129", NULL),
	         "--deny: bad CIDR '::/129': the prefix length must be 0 to "
	         "128");
	ck_usage(server(&o, "--allow-file", "", NULL),
	         "--allow-file: empty FILE");
	ck_usage(server(&o, "--deny-file=", NULL), "--deny-file: empty FILE");
	ck_usage(server(&o, "--max-per-ip", "-1", NULL),
	         "--max-per-ip: invalid number '-1' (0 to 1000000)");
	ck_usage(server(&o, "--max-per-ip", "1000001", NULL),
	         "--max-per-ip: invalid number '1000001' (0 to 1000000)");
	ck_usage(server(&o, "--rate", "fast", NULL),
	         "--rate: invalid number of lines 'fast' (0 to 1000000)");
	ck_usage(server(&o, "--rate", "1000001", NULL),
	         "--rate: invalid number of lines '1000001' (0 to 1000000)");
	ck_usage(server(&o, "--burst", "0", NULL),
	         "--burst: invalid number of lines '0' (1 to 1000000)");
	ck_usage(server(&o, "--burst", "2K", NULL),
	         "--burst: invalid number of lines '2K' (1 to 1000000)");
	ck_usage(server(&o, "--allow", NULL), "option '--allow' needs a value");
}
END_TEST

START_TEST(test_access_options_are_server_only)
{
	struct tc_client_opts o;

	ck_usage(client(&o, "--rate", "5", "h", NULL),
	         "unknown option '--rate'");
	ck_usage(client(&o, "h", "--allow=10.0.0.0/8", NULL),
	         "unknown option '--allow'");
}
END_TEST

START_TEST(test_usage_names_every_access_option)
{
	static const char *const opts[] = {
	    "--allow CIDR",     "--deny CIDR",    "--allow-file FILE",
	    "--deny-file FILE", "--max-per-ip N", "--rate LINES",
	    "--burst LINES",
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		ck_assert_msg(strstr(tc_server_usage, opts[i]) != NULL,
		              "server usage lacks %s", opts[i]);
	ck_assert_ptr_null(strstr(tc_client_usage, "--rate"));
}
END_TEST

/* --thread-cache: finished threads kept for reuse; 0 keeps none. */
START_TEST(test_server_thread_cache)
{
	struct tc_server_opts o;

	ck_assert_int_eq(server(&o, NULL), TC_OPTS_RUN);
	ck_assert_uint_eq(o.thread_cache, TC_DEFAULT_THREAD_CACHE);
	ck_assert_int_eq(server(&o, "--thread-cache", "0", NULL), TC_OPTS_RUN);
	ck_assert_uint_eq(o.thread_cache, 0);
	ck_assert_int_eq(server(&o, "--thread-cache=1000000", NULL),
	                 TC_OPTS_RUN);
	ck_assert_uint_eq(o.thread_cache, 1000000);
	ck_usage(server(&o, "--thread-cache", "1000001", NULL),
	         "--thread-cache: invalid number '1000001' (0 to 1000000)");
	ck_usage(server(&o, "--thread-cache", "-1", NULL),
	         "--thread-cache: invalid number '-1' (0 to 1000000)");
	ck_usage(server(&o, "--thread-cache", "8K", NULL),
	         "--thread-cache: invalid number '8K' (0 to 1000000)");
	ck_usage(server(&o, "--thread-cache", NULL),
	         "option '--thread-cache' needs a value");
	ck_assert_ptr_nonnull(strstr(tc_server_usage, "--thread-cache N"));
}
END_TEST

static Suite *
options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc;

	tc = tcase_create("values");
	tcase_add_test(tc, test_size_plain_digits);
	tcase_add_test(tc,
	               test_size_suffixes_are_powers_of_1024_in_either_case);
	tcase_add_test(tc, test_size_rejects_malformed_text);
	tcase_add_test(tc, test_size_rejects_values_past_the_maximum);
	tcase_add_test(tc, test_size_zero_only_when_allowed);
	tcase_add_test(tc, test_port_accepts_0_to_65535);
	tcase_add_test(tc, test_port_rejects_anything_else);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_add_test(tc, test_server_defaults);
	tcase_add_test(tc, test_server_short_options);
	tcase_add_test(tc, test_server_long_options);
	tcase_add_test(tc, test_server_range_limits_are_accepted);
	tcase_add_test(tc, test_server_help_and_version);
	tcase_add_test(tc,
	               test_server_usage_lists_options_then_console_commands);
	tcase_add_test(tc, test_server_unknown_options);
	tcase_add_test(tc, test_server_missing_values);
	tcase_add_test(tc, test_server_bad_values);
	tcase_add_test(tc,
	               test_server_size_suffixes_in_either_case_and_no_other);
	tcase_add_test(tc, test_server_positional_argument_is_a_usage_error);
	tcase_add_test(tc, test_server_parse_can_run_again_after_an_error);
	tcase_add_test(tc, test_server_thread_cache);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_add_test(tc, test_client_defaults);
	tcase_add_test(tc, test_client_every_option);
	tcase_add_test(tc, test_client_display_options);
	tcase_add_test(tc, test_client_positional_port);
	tcase_add_test(tc, test_client_options_may_follow_the_host);
	tcase_add_test(tc, test_client_help_and_version_need_no_host);
	tcase_add_test(tc, test_client_usage_lists_options_then_chat_commands);
	tcase_add_test(tc,
	               test_client_history_and_no_history_exclude_each_other);
	tcase_add_test(tc, test_client_4_and_6_exclude_each_other);
	tcase_add_test(tc, test_client_needs_a_host);
	tcase_add_test(tc, test_client_takes_at_most_host_and_port);
	tcase_add_test(tc, test_client_port_given_twice_is_an_error);
	tcase_add_test(tc, test_client_bad_ports);
	tcase_add_test(tc, test_client_unknown_options);
	tcase_add_test(tc, test_client_wait_defaults_to_10_seconds);
	tcase_add_test(tc, test_client_wait_takes_seconds_short_and_long);
	tcase_add_test(tc, test_client_bad_wait_is_a_usage_error);
	tcase_add_test(tc, test_usage_texts_name_every_option);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_test(tc, test_access_defaults);
	tcase_add_test(tc, test_access_rules_and_files_keep_their_order);
	tcase_add_test(tc, test_access_numbers);
	tcase_add_test(tc, test_access_bad_values);
	tcase_add_test(tc, test_access_options_are_server_only);
	tcase_add_test(tc, test_usage_names_every_access_option);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
tc_test_suite(void)
{
	return options_suite();
}
