/*
 * tc-loadgen: the load generator behind bench/run.sh. One thread drives every
 * client socket through one epoll (non-blocking, CLOCK_MONOTONIC) against a
 * line-based chat relay, tcpchatd or ncat --chat. It knows its own messages
 * by a token inside the text and ignores every other line, so it needs to
 * know neither server's prefixes nor notices. Every scenario is bounded in
 * count and in wall-clock time; it never starts or stops a server.
 *
 * This file: the options, and main picking the scenario (loadgen.h).
 */
#include "loadgen.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define SAFETY_S 30 /* SIGALRM past the cap: the generator always ends */

static void
usage(void)
{
	fprintf(stderr,
	        "usage: tc-loadgen latency|fanout|hold|churn|wait|port -p PORT "
	        "[options]\n"
	        "  -H ADDR     server address (127.0.0.1)\n"
	        "  -p PORT     server port\n"
	        "  -n N        latency messages (20000) | churn cycles (5000)\n"
	        "  -w N        latency warm-up messages (1000)\n"
	        "  -b N        latency: idle bystanders that read all (0)\n"
	        "  -c N        fanout clients (50) | hold idle clients (1000)\n"
	        "  -m N        fanout messages per client (1000)\n"
	        "  -s BYTES    message text length (80)\n"
	        "  -j N        churn cycles in flight (16)\n"
	        "  -W N        fanout window: unacked messages per sender "
	        "(64, 0 none)\n"
	        "  -i N        connects in flight before the greeting (8)\n"
	        "  -t SECONDS  hard cap on the whole run (60)\n"
	        "  -P PID      the server's pid: read its RSS, threads, fds\n"
	        "  -k N        churn: threads the server may keep parked for\n"
	        "              its next clients, part of its baseline (0)\n"
	        "  -S          fanout: add a client that never reads\n"
	        "  -L LABEL    copied into the RESULT line\n");
	exit(2);
}

static unsigned long
opt_num(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "tc-loadgen: bad number '%s' (%lu-%lu)\n", s,
		        lo, hi);
		exit(2);
	}
	return v;
}

/* Sets the numeric option ch, if it is one. Returns 0 when it is not. */
static int
opt_set_num(struct opts *o, int ch, const char *arg)
{
	const struct {
		int ch;
		unsigned long *v;
		unsigned long lo, hi;
	} tab[] = {
	    {'n', &o->count, 1, 100000000},    {'w', &o->warmup, 0, 100000000},
	    {'b', &o->bystanders, 0, 100000},  {'c', &o->clients, 2, 100000},
	    {'m', &o->messages, 1, 100000000}, {'s', &o->size, 1, MAX_MSG},
	    {'j', &o->jobs, 1, 10000},         {'W', &o->window, 0, 100000000},
	    {'i', &o->inflight, 1, 100000},    {'t', &o->max_time_s, 1, 3600},
	    {'P', &o->pid, 1, 1UL << 30},      {'k', &o->keep, 0, 1000000},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].ch == ch) {
			*tab[i].v = opt_num(arg, tab[i].lo, tab[i].hi);
			return 1;
		}
	return 0;
}

static void
opts_parse(struct opts *o, int argc, char **argv, const char *scen)
{
	int ch;

	*o = (struct opts){.host = "127.0.0.1",
	                   .label = "-",
	                   .warmup = 1000,
	                   .size = 80,
	                   .jobs = 16,
	                   .window = 64,
	                   .inflight = 8,
	                   .max_time_s = 60,
	                   .messages = 1000};
	o->count = strcmp(scen, "churn") == 0 ? 5000 : 20000;
	o->clients = strcmp(scen, "hold") == 0 ? 1000 : 50;
	while ((ch = getopt(argc, argv, "H:p:n:w:b:c:m:s:j:W:i:t:P:k:SL:")) !=
	       -1) {
		if (ch == 'H')
			o->host = optarg;
		else if (ch == 'p')
			o->port = optarg;
		else if (ch == 'S')
			o->slow = 1;
		else if (ch == 'L')
			o->label = optarg;
		else if (!opt_set_num(o, ch, optarg))
			usage();
	}
	if (optind != argc || (o->port == NULL && strcmp(scen, "port") != 0))
		usage();
}

/* Holds thousands of sockets: take all the descriptors we may. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			fprintf(stderr, "tc-loadgen: setrlimit: %s\n",
			        strerror(errno));
	}
}

static int
run(struct lg *lg, const char *scen)
{
	static const struct {
		const char *name;
		int (*fn)(struct lg *);
	} tab[] = {{"latency", run_latency}, {"fanout", run_fanout},
	           {"hold", run_hold},       {"churn", run_churn},
	           {"wait", run_wait},       {"port", run_port}};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(scen, tab[i].name) == 0)
			return tab[i].fn(lg);
	usage();
	return 2;
}

int
main(int argc, char **argv)
{
	static struct lg lg;
	const char *scen;
	int rc;

	if (argc < 2)
		usage();
	scen = argv[1];
	opts_parse(&lg.o, argc - 1, argv + 1, scen);
	raise_nofile();
	lg_init(&lg);
	/* The last resort if a phase ever fails to end: the run is capped. */
	alarm((unsigned)(lg.o.max_time_s + SAFETY_S));
	rc = run(&lg, scen);
	lg_free(&lg);
	return rc;
}
