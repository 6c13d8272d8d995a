/* console: the terminal of both programs (see console.h).
 *
 * With readline, only the console thread touches the terminal: other
 * threads queue their lines and wake it through a pipe; it clears the
 * input line, prints them and redraws prompt, text and cursor. Without
 * readline (not a TTY, or not built with it) lines are written at once
 * under a mutex and input is read as plain lines. No networking here. */
#include "tcpchat/console.h"

#include "tcpchat/linebuf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#ifdef HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

/* Plain input: one message may be this long before linebuf splits it. */
#define PLAIN_MAX_LINE (64 * 1024)
/* History entries kept in memory and in the file. */
#define HISTORY_MAX 1000

/* A line waiting for the console thread; text ends in '\n'. */
struct pending {
	struct pending *next;
	FILE *stream;
	size_t len; /* of text */
	char text[];
};

static struct {
	struct tc_console_opts o;
	int wake[2]; /* pipe: printf and stop -> console thread */
	atomic_bool stop;
	/* lock guards deferred, head, tailp, pending_bytes and dropped, and
	 * serialises every direct write to stdout/stderr by this module, so
	 * lines never interleave. */
	pthread_mutex_t lock;
	/* true: lines queue for the console thread (readline owns the
	 * screen, or o.max_pending asks that no thread wait for output). */
	bool deferred;
	struct pending *head, **tailp;
	size_t pending_bytes;  /* queued: lines and their headers */
	unsigned long dropped; /* lines refused past o.max_pending */
	/* Console thread only from here on. */
	bool input_on;
	bool drop_keys;       /* input off: read the keyboard and drop it */
	bool flush_keys;      /* flush the keyboard's unread keys at the end */
	struct tc_linebuf lb; /* plain input */
	char *line;           /* plain input: the line handed to on_line */
	bool rl_active;       /* set up, not yet torn down */
	bool rl_handler;      /* callback handler installed */
	bool in_handler;      /* inside rl_line_cb */
	bool rl_eof;          /* readline delivered end of input */
	bool keep_raw;        /* refuse readline's deprep (see deprep_cb) */
	int n_new_history;    /* lines added since the history was loaded */
} con = {
    .wake = {-1, -1},
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .tailp = &con.head,
};

static void
write_one(const struct pending *p)
{
	/* stdout first: on one terminal, earlier lines must come first. */
	if (p->stream != stdout)
		fflush(stdout);
	fputs(p->text, p->stream);
	fflush(p->stream);
}

static struct pending *format_line(FILE *stream, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Takes every queued line, and a last one saying how many were dropped
 * since the last take: they all came after the queued ones, as the queue
 * takes nothing more after a drop until it has been emptied. Lock held. */
static struct pending *
take_queue(void)
{
	struct pending *list, *note;

	if (con.dropped > 0) {
		note =
		    format_line(stdout,
		                "* %lu lines not shown: the console's output "
		                "could not keep up",
		                con.dropped);
		if (note != NULL) {
			*con.tailp = note;
			con.dropped = 0;
		}
	}
	list = con.head;
	con.head = NULL;
	con.tailp = &con.head;
	con.pending_bytes = 0;
	return list;
}

static void
write_list(struct pending *list)
{
	struct pending *next;

	for (; list != NULL; list = next) {
		next = list->next;
		write_one(list);
		free(list);
	}
}

static void
set_deferred(bool on)
{
	pthread_mutex_lock(&con.lock);
	con.deferred = on;
	pthread_mutex_unlock(&con.lock);
}

/* The console thread is done: print what is queued and write directly
 * from now on. */
static void
go_direct(void)
{
	pthread_mutex_lock(&con.lock);
	con.deferred = false;
	write_list(take_queue());
	pthread_mutex_unlock(&con.lock);
}

static void
wake_console(void)
{
	int saved = errno;
	ssize_t r = 0;

	/* A full pipe already holds a wake-up: EAGAIN is fine. */
	if (con.wake[1] >= 0)
		r = write(con.wake[1], "", 1);
	(void)r;
	errno = saved;
}

static struct pending *vformat_line(FILE *stream, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static struct pending *
vformat_line(FILE *stream, const char *fmt, va_list ap)
{
	struct pending *p;
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	p = malloc(sizeof(*p) + (size_t)n + 2);
	if (p == NULL)
		return NULL;
	vsnprintf(p->text, (size_t)n + 1, fmt, ap);
	p->text[n] = '\n';
	p->text[n + 1] = '\0';
	p->len = (size_t)n + 1;
	p->stream = stream;
	p->next = NULL;
	return p;
}

static struct pending *
format_line(FILE *stream, const char *fmt, ...)
{
	struct pending *p;
	va_list ap;

	va_start(ap, fmt);
	p = vformat_line(stream, fmt, ap);
	va_end(ap);
	return p;
}

/* Queues p for the console thread, or drops it past o.max_pending (an
 * empty queue takes any line; after a drop nothing until it is emptied,
 * so that the count's notice comes in order). Returns whether the console
 * thread needs waking: not after a drop, the queue has lines then. Lock
 * held. */
static bool
queue_line(struct pending *p)
{
	size_t cost = sizeof(*p) + p->len;

	if (con.o.max_pending != 0 && con.head != NULL &&
	    (con.dropped > 0 || con.pending_bytes + cost > con.o.max_pending)) {
		con.dropped++;
		free(p);
		return false;
	}
	*con.tailp = p;
	con.tailp = &p->next;
	con.pending_bytes += cost;
	return true;
}

void
tc_console_printf(FILE *stream, const char *fmt, ...)
{
	struct pending *p;
	va_list ap, ap2;
	bool wake = false;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	p = vformat_line(stream, fmt, ap);
	pthread_mutex_lock(&con.lock);
	if (p == NULL) {
		/* Out of memory: better a garbled prompt (and a long line
		 * cut) than a lost line. */
		char small[512];

		vsnprintf(small, sizeof(small), fmt, ap2);
		fputs(small, stream);
		fputc('\n', stream);
		fflush(stream);
	} else if (con.deferred) {
		wake = queue_line(p);
	} else {
		write_one(p);
		free(p);
	}
	pthread_mutex_unlock(&con.lock);
	va_end(ap2);
	va_end(ap);
	if (wake)
		wake_console();
}

static void
drain_wake(void)
{
	char buf[256];

	while (read(con.wake[0], buf, sizeof(buf)) > 0)
		continue;
}

/* At end of input: on_eof may switch input off to keep the console
 * printing until tc_console_stop(); otherwise tc_console_run() ends. */
static int
end_of_input(void)
{
	if (con.o.on_eof != NULL)
		con.o.on_eof(con.o.ctx);
	if (!con.input_on)
		return 0;
	con.input_on = false;
	return 1;
}

/* on_line gets a NUL-terminated copy, as readline's lines are. */
static void
plain_line(const char *line, ssize_t len)
{
	memcpy(con.line, line, (size_t)len);
	con.line[len] = '\0';
	con.o.on_line(con.o.ctx, con.line, (size_t)len);
}

static void
plain_deliver(bool at_eof)
{
	const char *line;
	ssize_t len;

	/* on_line may stop the console: then the rest is not delivered. */
	while (con.input_on && !atomic_load(&con.stop) &&
	       (len = tc_linebuf_next(&con.lb, &line)) >= 0)
		plain_line(line, len);
	while (at_eof && con.input_on && !atomic_load(&con.stop) &&
	       (len = tc_linebuf_flush(&con.lb, &line)) >= 0)
		plain_line(line, len);
}

/* Plain lines from stdin; 0 to go on, else what tc_console_run returns. */
static int
plain_input(void)
{
	static char buf[16384];
	ssize_t n;

	n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0) {
		plain_deliver(true);
		return end_of_input();
	}
	if (tc_linebuf_feed(&con.lb, buf, (size_t)n) < 0)
		return -1;
	plain_deliver(false);
	return 0;
}

/* mkdir -p with mode 0700 for what it creates. 0, or -1 with errno. */
static int
make_dirs(char *path)
{
	char *p, saved;

	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		saved = *p;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			*p = saved;
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

/* buf = the history file's path, or -1 when there is no home or no room. */
static int
format_history_path(const char *app, char *buf, size_t len)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	int n;

	/* The XDG spec says to ignore a relative path. */
	if (state != NULL && state[0] == '/')
		n = snprintf(buf, len, "%s/%s/history", state, app);
	else {
		if ((home == NULL || home[0] == '\0') &&
		    (pw = getpwuid(getuid())) != NULL)
			home = pw->pw_dir;
		if (home == NULL || home[0] == '\0')
			return -1;
		n = snprintf(buf, len, "%s/.local/state/%s/history", home, app);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

const char *
tc_console_history_path(const char *app, char *buf, size_t len)
{
	char *slash;

	if (format_history_path(app, buf, len) == -1)
		return NULL;
	slash = strrchr(buf, '/');
	*slash = '\0';
	if (make_dirs(buf) == -1) {
		fprintf(stderr, "%s: history: mkdir %s: %s\n",
		        program_invocation_short_name, buf, strerror(errno));
		return NULL;
	}
	*slash = '/';
	return buf;
}

#ifdef HAVE_READLINE
static void
history_add(const char *line)
{
	HIST_ENTRY *last = NULL;

	if (!con.o.use_history || line[0] == '\0')
		return;
	if (history_length > 0)
		last = history_get(history_base + history_length - 1);
	/* Like HISTCONTROL=ignoredups: Up should not step through copies. */
	if (last != NULL && strcmp(last->line, line) == 0)
		return;
	add_history(line);
	con.n_new_history++;
}

static void
history_load(void)
{
	int e;

	using_history();
	stifle_history(HISTORY_MAX);
	con.n_new_history = 0;
	if (!con.o.use_history || con.o.history_path == NULL)
		return;
	e = read_history(con.o.history_path);
	if (e != 0 && e != ENOENT)
		tc_console_printf(stderr, "%s: history %s: %s",
		                  program_invocation_short_name,
		                  con.o.history_path, strerror(e));
}

/* Appends only this session's lines, so that two clients running at once
 * do not overwrite each other's; write_history() creates the file (0600)
 * because append_history() will not. */
static void
history_save(void)
{
	const char *path = con.o.history_path;
	int n = con.n_new_history, e;

	if (!con.o.use_history || path == NULL || n == 0)
		return;
	if (n > history_length)
		n = history_length;
	if (access(path, F_OK) != 0 && errno == ENOENT)
		e = write_history(path);
	else
		e = append_history(n, path);
	if (e == 0)
		e = history_truncate_file(path, HISTORY_MAX);
	if (e != 0)
		tc_console_printf(stderr, "%s: history %s: %s",
		                  program_invocation_short_name, path,
		                  strerror(e));
	con.n_new_history = 0;
}

/* Readline restores the terminal on removal only outside the line
 * callback; within it, its own restore came before the callback and
 * deprep_cb refused it. So restore here, in every case (idempotent). */
static void
remove_handler(void)
{
	con.keep_raw = false;
	rl_callback_handler_remove();
	rl_deprep_terminal();
	con.rl_handler = false;
}

/* Ctrl-D on an empty line, when the owner asked to hear of it instead of
 * an end of input: readline prompts again once this callback returns.
 * False for a real end (the terminal gone: rl_getc_cb saw it). */
static bool
eof_is_only_a_key(void)
{
	if (con.o.on_eof_key == NULL || con.rl_eof)
		return false;
	/* The prompt goes; readline draws a fresh one after the owner's
	 * notice, so the key leaves only that line behind. */
	rl_clear_visible_line();
	fflush(rl_outstream);
	con.o.on_eof_key(con.o.ctx);
	return true;
}

static void
rl_line_cb(char *line)
{
	if (line == NULL && eof_is_only_a_key())
		return;
	con.in_handler = true;
	if (line == NULL) {
		/* Readline leaves the cursor after the prompt. */
		remove_handler();
		fputc('\n', rl_outstream);
		fflush(rl_outstream);
		con.rl_eof = true;
	} else {
		if (!con.o.caller_history)
			history_add(line);
		con.o.on_line(con.o.ctx, line, strlen(line));
		free(line);
	}
	con.in_handler = false;
}

/* Reads with read(2) so that an error (EIO once a pty is gone) becomes
 * end of input instead of a spin on a stdin that polls readable forever. */
static int
rl_getc_cb(FILE *in)
{
	unsigned char c;
	ssize_t n;

	do
		n = read(fileno(in), &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return c;
	con.rl_eof = true;
	return EOF;
}

/* Readline restores the terminal before each accepted line goes to the
 * handler and sets it up again after: keys typed in between would meet a
 * cooked tty (echoed twice, a Ctrl-D taken as the tty's EOF and lost).
 * So the terminal stays raw while readline reads; it is restored when the
 * handler is really removed. */
static void
deprep_cb(void)
{
	if (!con.keep_raw)
		rl_deprep_terminal();
}

static void
rl_setup(void)
{
	rl_readline_name = "tcpchat";
	rl_instream = stdin;
	rl_outstream = stdout;
	/* Signals are the caller's (signalfd); readline must not install
	 * handlers in a threaded program, nor setenv LINES/COLUMNS. */
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_change_environment = 0;
	rl_getc_function = rl_getc_cb;
	rl_deprep_term_function = deprep_cb;
	history_load();
	/* Queue before the prompt appears: a line written directly after
	 * it would land on the prompt line behind readline's back. */
	set_deferred(true);
	con.rl_active = true;
	con.rl_eof = false;
	rl_callback_handler_install(con.o.prompt, rl_line_cb);
	con.rl_handler = true;
	/* A chat has nothing to complete: TAB is text. */
	rl_bind_key('\t', rl_insert);
}

static void
rl_teardown(void)
{
	if (!con.rl_active)
		return;
	con.rl_active = false;
	if (con.rl_handler) {
		/* Not in the line callback: the cursor is on the input line.
		 * Drop an empty prompt; keep typed text and end its line. */
		if (!con.in_handler && rl_end == 0) {
			rl_clear_visible_line();
		} else if (!con.in_handler) {
			rl_point = rl_end;
			rl_redisplay();
			rl_crlf();
		}
		fflush(rl_outstream);
		remove_handler();
	}
	history_save();
	/* Input is off, output goes on: without readline in the way lines
	 * may be written at once, unless no thread may wait for output. */
	if (con.o.max_pending == 0)
		go_direct();
}

/* The markers a terminal puts around a bracketed paste. */
static size_t
paste_marker_len(const char *p, size_t left)
{
	static const char *const markers[] = {"\x1b[200~", "\x1b[201~"};

	for (size_t i = 0; i < 2; i++)
		if (left >= 6 && memcmp(p, markers[i], 6) == 0)
			return 6;
	return 0;
}

/* Counts the lines of keys in buf; *open carries, from one piece of the
 * keys to the next, whether a line has begun and not yet ended, and
 * *after_cr whether the last key was a CR (a CR LF ends one line). */
static size_t
count_key_lines(const char *buf, size_t len, bool *open, bool *after_cr)
{
	size_t n = 0, skip;

	for (size_t i = 0; i < len; i++) {
		skip = paste_marker_len(buf + i, len - i);
		if (skip > 0) {
			i += skip - 1;
			continue;
		}
		if (buf[i] == '\n' && *after_cr) {
			*after_cr = false;
			continue;
		}
		*after_cr = buf[i] == '\r';
		if (buf[i] == '\r' || buf[i] == '\n') {
			n++;
			*open = false;
		} else {
			*open = true;
		}
	}
	return n;
}

size_t
tc_console_drop_typeahead(void)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	bool open = false, after_cr = false;
	char buf[4096];
	size_t n = 0;
	ssize_t got;

	if (!con.rl_active)
		return 0;
	/* The terminal is still raw (or back to cooked after Ctrl-D):
	 * whenever poll says readable, read() returns at once. */
	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0) {
		got = read(STDIN_FILENO, buf, sizeof(buf));
		if (got <= 0)
			break;
		n += count_key_lines(buf, (size_t)got, &open, &after_cr);
	}
	return n + (open ? 1 : 0);
}

/* Clears prompt and text, prints list above, redraws them with the
 * cursor where it was: rl_line_buffer and rl_point are untouched. */
static void
rl_print_above(struct pending *list)
{
	rl_clear_visible_line();
	fflush(rl_outstream);
	write_list(list);
	rl_on_new_line();
	rl_redisplay();
}

static int
rl_input(void)
{
	con.keep_raw = true;
	rl_callback_read_char();
	con.keep_raw = false;
	if (con.rl_eof) {
		con.rl_eof = false;
		return end_of_input();
	}
	return 0;
}
#endif /* HAVE_READLINE */

static void
print_pending(void)
{
	struct pending *list;

	pthread_mutex_lock(&con.lock);
	list = take_queue();
	pthread_mutex_unlock(&con.lock);
	if (list == NULL)
		return;
#ifdef HAVE_READLINE
	if (con.rl_handler) {
		rl_print_above(list);
		return;
	}
#endif
	write_list(list);
}

/* Reads and drops what the keyboard has; never blocks (input() may have
 * read what poll saw). */
static void
drop_keys(void)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	char buf[256];
	ssize_t n = 0;

	if (poll(&pfd, 1, 0) != 1)
		return;
	if ((pfd.revents & POLLIN) != 0)
		n = read(STDIN_FILENO, buf, sizeof(buf));
	/* A terminal that hung up polls readable for ever: stop watching
	 * it. (A Ctrl-D reads as 0 bytes, once.) */
	if ((pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 ||
	    (n < 0 && errno != EINTR && errno != EAGAIN))
		con.drop_keys = false;
}

/* The keys typed while input was off must not reach the next reader. */
static void
flush_keys(void)
{
	if (con.flush_keys)
		tcflush(STDIN_FILENO, TCIFLUSH);
}

static int
run_loop(int (*input)(void))
{
	struct pollfd pfd[3];
	int r;

	for (;;) {
		if (atomic_load(&con.stop))
			return 0;
		pfd[0] = (struct pollfd){.fd = con.wake[0], .events = POLLIN};
		/* poll() skips negative fds: input off, or no extra fd. */
		pfd[1] = (struct pollfd){
		    .fd = con.input_on || con.drop_keys ? STDIN_FILENO : -1,
		    .events = POLLIN};
		pfd[2] =
		    (struct pollfd){.fd = con.o.extra_fd, .events = POLLIN};
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[0].revents != 0) {
			drain_wake();
			print_pending();
		}
		if (pfd[2].revents != 0 && con.o.on_extra != NULL)
			con.o.on_extra(con.o.ctx);
		if (pfd[1].revents != 0 && con.input_on &&
		    !atomic_load(&con.stop) && (r = input()) != 0)
			return r;
		if (pfd[1].revents != 0 && !con.input_on && con.drop_keys)
			drop_keys();
	}
}

int
tc_console_init(const struct tc_console_opts *opts)
{
	con.line = malloc(PLAIN_MAX_LINE + 1);
	if (con.line == NULL)
		return -1;
	if (pipe2(con.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(con.line);
		con.line = NULL;
		return -1;
	}
	con.o = *opts;
	if (con.o.prompt == NULL)
		con.o.prompt = "";
	atomic_store(&con.stop, false);
	con.input_on = true;
	/* From now on, not from when the console thread gets to run: a line
	 * written directly before that could block on a stalled stdout
	 * under the lock, and the console thread could then never take it. */
	con.deferred = con.o.max_pending != 0;
	tc_linebuf_init(&con.lb, PLAIN_MAX_LINE);
	return 0;
}

bool
tc_console_has_readline(void)
{
#ifdef HAVE_READLINE
	return con.o.interactive;
#else
	return false;
#endif
}

int
tc_console_run(void)
{
	int rc, saved;

	if (atomic_load(&con.stop))
		return 0;
#ifdef HAVE_READLINE
	if (con.o.interactive) {
		rl_setup();
		rc = run_loop(rl_input);
		saved = errno;
		rl_teardown();
		flush_keys();
		go_direct();
		errno = saved;
		return rc;
	}
#endif
	rc = run_loop(plain_input);
	saved = errno;
	flush_keys();
	go_direct();
	errno = saved;
	return rc;
}

void
tc_console_stop(void)
{
	atomic_store(&con.stop, true);
	wake_console();
}

void
tc_console_input_off(void)
{
	con.input_on = false;
#ifdef HAVE_READLINE
	rl_teardown();
#endif
}

#ifndef HAVE_READLINE
size_t
tc_console_drop_typeahead(void)
{
	return 0;
}
#endif

void
tc_console_history_add(const char *line, size_t len)
{
#ifdef HAVE_READLINE
	char *copy;

	if (!con.rl_active)
		return;
	copy = strndup(line, len);
	if (copy == NULL)
		return;
	history_add(copy);
	free(copy);
#else
	(void)line;
	(void)len;
#endif
}

void
tc_console_input_discard(void)
{
	if (isatty(STDIN_FILENO))
		con.drop_keys = con.flush_keys = true;
	tc_console_input_off();
}

void
tc_console_cancel_line(void)
{
#ifdef HAVE_READLINE
	if (!con.rl_handler || con.in_handler)
		return;
	/* Leave i-search or a half-typed key sequence first. */
	rl_callback_sigcleanup();
	rl_point = rl_end;
	rl_redisplay();
	fputs("^C", rl_outstream);
	rl_crlf();
	rl_on_new_line();
	rl_replace_line("", 0);
	rl_free_line_state();
	/* Up starts again from the newest entry, as in a shell. */
	using_history();
	rl_redisplay();
#endif
}

bool
tc_console_line_is_empty(void)
{
#ifdef HAVE_READLINE
	if (con.rl_handler && !con.in_handler)
		return rl_end == 0 &&
		       !RL_ISSTATE(RL_STATE_ISEARCH | RL_STATE_NSEARCH |
		                   RL_STATE_NUMERICARG | RL_STATE_MULTIKEY);
#endif
	return true;
}

void
tc_console_resize(void)
{
#ifdef HAVE_READLINE
	if (con.rl_handler)
		rl_resize_terminal();
#endif
}

void
tc_console_suspend(void)
{
#ifdef HAVE_READLINE
	/* Inside on_line (a send that waits for the server) there is no
	 * input line to redraw, but the terminal is still raw: keep_raw. */
	bool rl = con.rl_handler, redraw = rl && !con.in_handler;

	if (redraw) {
		fputs("^Z", rl_outstream);
		rl_crlf();
		fflush(rl_outstream);
	}
	if (rl)
		rl_deprep_terminal();
#endif
	/* SIGSTOP, not SIGTSTP: the caller blocks SIGTSTP to get here. */
	kill(getpid(), SIGSTOP);
#ifdef HAVE_READLINE
	if (rl)
		rl_prep_terminal(1);
	if (redraw) {
		rl_on_new_line();
		rl_redisplay();
	}
#endif
}

void
tc_console_fini(void)
{
	struct pending *list;

	pthread_mutex_lock(&con.lock);
	con.deferred = false;
	list = take_queue();
	pthread_mutex_unlock(&con.lock);
	write_list(list);
	flush_keys();
	con.drop_keys = con.flush_keys = false;
	tc_linebuf_fini(&con.lb);
	free(con.line);
	con.line = NULL;
	if (con.wake[0] >= 0)
		close(con.wake[0]);
	if (con.wake[1] >= 0)
		close(con.wake[1]);
	con.wake[0] = con.wake[1] = -1;
}
