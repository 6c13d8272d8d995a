/* tcpchat: the client's main.
 *
 * Parses the options, connects, and wires the connection (client.c) to
 * the terminal (console.c) and the display (decorate.c, complete_rl.c);
 * the connection's life, its threads and its exit status are the client
 * module's. */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpchat/client.h"
#include "tcpchat/complete_rl.h"
#include "tcpchat/console.h"
#include "tcpchat/decorate.h"
#include "tcpchat/net.h"
#include "tcpchat/options.h"
#include "tcpchat/proto.h"
#include "tcpchat/trace.h"

#define EXIT_CONNECT 1

#define PATH_LEN 4096

static void
trace_sink(const char *line)
{
	tc_console_printf(stderr, "%s", line);
}

static void
parse_options(int argc, char **argv, struct tc_client_opts *o)
{
	char err[TC_ERR_MAX];

	tc_options_act(tc_client_opts_parse(argc, argv, o, err, sizeof(err)),
	               "tcpchat", tc_client_usage, err);
	if (o->name != NULL && !tc_proto_nick_valid(o->name, strlen(o->name)))
		tc_options_usage_exit("tcpchat",
		                      "--name: 1-32 of A-Za-z0-9._- expected");
}

static void
init_console(struct tc_client *c, const struct tc_client_opts *o, bool tty)
{
	static char path[PATH_LEN];
	struct tc_console_opts co = {
	    .prompt = "> ",
	    .use_history = !o->no_history,
	    .interactive = tty,
	};

	tc_client_console_opts(c, &co);
	if (tty && !o->no_history)
		co.history_path = o->history_path != NULL
		                      ? o->history_path
		                      : tc_console_history_path("tcpchat", path,
		                                                sizeof(path));
	if (tc_console_init(&co) == -1) {
		fprintf(stderr, "tcpchat: console: %s\n", strerror(errno));
		exit(TC_CLIENT_EXIT_LOST);
	}
}

/* How incoming lines are shown, and Tab completion from what they teach.
 * Colour only when both ends are the user's terminal: a piped input is a
 * script, its output plain. Reads the environment: before threads. */
static struct tc_deco *
init_display(const struct tc_client_opts *o, bool tty)
{
	struct tc_deco_opts d = {
	    .color = tty && tc_deco_color_wanted(o->no_color, STDOUT_FILENO),
	    .bell = !o->no_bell,
	    .timestamps = o->timestamps,
	};
	struct tc_deco *deco = tc_deco_new(&d);

	if (deco == NULL) {
		fprintf(stderr, "tcpchat: display: %s\n", strerror(errno));
		exit(TC_CLIENT_EXIT_LOST);
	}
	if (tty)
		tc_complete_rl_install(deco);
	return deco;
}

int
main(int argc, char **argv)
{
	struct tc_client_opts o;
	struct tc_client *c;
	struct tc_deco *deco;
	char err[TC_ERR_MAX];
	bool tty;
	int fd, rc;

	/* Readline needs the locale to edit UTF-8; nothing else uses it. */
	setlocale(LC_CTYPE, "");
	parse_options(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	/* Connect before blocking signals: Ctrl-C ends a slow connect. */
	fd = tc_net_connect_within(o.host, o.port, o.family,
	                           (int)o.connect_wait_s * 1000, err,
	                           sizeof(err));
	if (fd == -1) {
		fprintf(stderr, "tcpchat: %s\n", err);
		return EXIT_CONNECT;
	}
	tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	tc_trace_setup(o.trace, trace_sink);
	deco = init_display(&o, tty);
	c = tc_client_new(fd, tty, deco);
	if (c == NULL) {
		fprintf(stderr, "tcpchat: signals: %s\n", strerror(errno));
		tc_deco_free(deco);
		return TC_CLIENT_EXIT_LOST;
	}
	init_console(c, &o, tty);
	rc = tc_client_run(c, o.name);
	tc_console_fini();
	tc_client_free(c);
	tc_deco_free(deco);
	return rc;
}
