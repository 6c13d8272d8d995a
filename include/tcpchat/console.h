/* console: the terminal, for both programs; the only file that includes
 * readline (docs/DESIGN.md: readline has one thread).
 *
 * One thread, the console thread, runs tc_console_run(): on a TTY with
 * readline it drives readline's callback interface from poll() over stdin
 * and a wake-up pipe; otherwise it reads plain lines. Any other thread
 * prints with tc_console_printf(), which hands the text to the console
 * thread, so incoming lines appear above the prompt without garbling what
 * is being typed. There is one console per process. */
#ifndef TCPCHAT_CONSOLE_H
#define TCPCHAT_CONSOLE_H

#include <stdbool.h>
#include <stdio.h>

struct tc_console_opts {
	const char *prompt;       /* readline prompt ("" for none) */
	const char *history_path; /* persist history here; NULL: memory only */
	bool use_history;         /* false: keep no history at all */
	bool interactive; /* readline on; false: plain lines, no prompt */
	/* Called on the console thread with each line typed: NUL-terminated,
	 * without its newline. */
	void (*on_line)(void *ctx, const char *line, size_t len);
	/* Called on the console thread at end of input (Ctrl-D, EOF). */
	void (*on_eof)(void *ctx);
	/* Optional: an fd to poll beside stdin, and its handler (console
	 * thread), e.g. a signalfd. -1 for none. */
	int extra_fd;
	void (*on_extra)(void *ctx);
	void *ctx;
	/* 0: a thread that prints may wait for the terminal (backpressure:
	 * the client's reader stops reading). Else no thread but the console
	 * thread ever waits for output: while tc_console_run() runs, lines
	 * queue for it, at most this many bytes besides those it is writing;
	 * past that they are dropped and counted, and it says how many
	 * ("* N lines not shown: ...") once it catches up. */
	size_t max_pending;
	/* false: each line typed goes into the history as it is accepted.
	 * true: only what the caller adds with tc_console_history_add(). */
	bool caller_history;
	/* Optional, with readline: Ctrl-D on an empty line calls this (on
	 * the console thread) instead of ending input, and the console goes
	 * on with a fresh prompt; for a console that must not end by a slip
	 * of the finger. The terminal going away still ends input. */
	void (*on_eof_key)(void *ctx);
};

/* The default history file of program app: $XDG_STATE_HOME/APP/history,
 * else ~/.local/state/APP/history, written into buf, its directories made
 * (mode 0700). NULL, history then kept in memory only, when there is no
 * home, the path does not fit len, or a directory cannot be made (said on
 * stderr). Any thread, before tc_console_init(). */
const char *tc_console_history_path(const char *app, char *buf, size_t len);

/* Sets the console up; -1 with errno on failure (pipe, memory). Before
 * threads. */
int tc_console_init(const struct tc_console_opts *opts);

/* True when readline drives the terminal (built with it, and interactive). */
bool tc_console_has_readline(void);

/* Console thread: runs until tc_console_stop() or end of input (after
 * on_eof), then restores the terminal and saves history. If on_eof (or
 * on_line) called tc_console_input_off(), it goes on printing and calling
 * on_extra until tc_console_stop(). Returns 0 after a stop, 1 when it
 * ended at end of input, -1 on a read error of stdin (errno set). */
int tc_console_run(void);

/* Ends tc_console_run() soon; any thread, async-signal-safe. */
void tc_console_stop(void);

/* Stops reading input but keeps printing until tc_console_stop(): after
 * the user's "exit", while the peer may still talk. With readline, the
 * prompt goes and the terminal is restored (and history saved) at once.
 * Console thread (on_line, on_eof and on_extra run there). */
void tc_console_input_off(void);

/* Input is over but the terminal is still the console's until
 * tc_console_run() ends (a client waiting for its peer to close): as
 * tc_console_input_off(), and on a TTY the keys typed from now on are read
 * and dropped, and what is left unread when the console ends is flushed,
 * so that nothing typed meanwhile reaches the program that reads the
 * terminal next (the shell). Console thread. */
void tc_console_input_discard(void);

/* Adds len bytes of line to the history (saved with it when the console
 * ends), unless it is empty or the same as the last entry. A no-op when
 * there is no history. Console thread. */
void tc_console_history_add(const char *line, size_t len);

/* Reads and drops the keys already waiting to be read, the rest of a
 * paste once one of its lines ended the input, and returns how many lines
 * they held (a last one without its newline counts; the markers of a
 * bracketed paste do not). Never blocks. 0 without readline. Console
 * thread, before tc_console_input_off(). */
size_t tc_console_drop_typeahead(void);

/* Clears the line being edited, as Ctrl-C does in a shell. Console thread. */
void tc_console_cancel_line(void);

/* True when there is nothing to clear: no text being edited, no search or
 * half-typed key sequence; always true without readline. Console
 * thread. */
bool tc_console_line_is_empty(void);

/* Tells readline the terminal size changed (after SIGWINCH, which the
 * caller blocks and reads, e.g. from its signalfd). Console thread. */
void tc_console_resize(void);

/* Ctrl-Z with SIGTSTP blocked: restores the terminal, stops the process
 * (SIGSTOP) and, once continued, takes the terminal back and redraws the
 * line. Console thread. */
void tc_console_suspend(void);

/* Prints one line (a newline is added) to stream (stdout or stderr) above
 * the prompt, with one fputs. Any thread, also before tc_console_init()
 * and after tc_console_run() returned (then it writes at once, under a
 * mutex); never blocks on the console thread. With max_pending set it
 * never waits for the terminal while the console thread runs (see
 * there). */
void tc_console_printf(FILE *stream, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Frees what tc_console_init() made; after tc_console_run() returned or
 * was never called. */
void tc_console_fini(void);

#endif
