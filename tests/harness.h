/* harness: drives real tcpchat processes for the end-to-end tests.
 *
 * Starts tcpchatd (-p 0, port read from its first stderr line) and tcpchat
 * (through a pseudo-terminal or pipes), connects raw sockets the way nc
 * would, and waits for every event with a deadline: no sleeps. Any helper
 * that times out returns failure; tests assert on that in their own thread.
 * While any helper waits, every live child's output is drained into its
 * buffer, so out/err are current after each call. A struct h_proc must
 * stay in scope until h_wait_exit; children are killed when the test's
 * process ends. The process ignores SIGPIPE.
 *
 * Built from harness_proc.c (children), harness_sock.c (raw sockets),
 * harness_counters.c (/proc counts, shared with bench/) and
 * harness_util.c (clock, buffers, writes); this is the only header a test
 * includes. */
#ifndef TCPCHAT_TEST_HARNESS_H
#define TCPCHAT_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness_counters.h" /* h_count_fds, h_count_threads */

#define H_TIMEOUT_MS 10000 /* default deadline for one expected event */

/* A child process with its stdio connected to us. */
struct h_proc {
	pid_t pid;
	int in_fd;  /* its stdin (pipe, or the pty master), -1 if closed */
	int out_fd; /* its stdout (pipe, or the pty master) */
	int err_fd; /* its stderr (pipe) */
	char *out;  /* everything read from out_fd so far, NUL-terminated */
	size_t out_len, out_cap;
	char *err; /* everything read from err_fd so far */
	size_t err_len, err_cap;
	int port; /* tcpchatd: the port it listens on */
	bool pty; /* in_fd == out_fd is a pty master */
};

/* Starts tcpchatd from $TCPCHATD with "-p 0" and the NULL-terminated extra
 * args, stdin a pipe we hold; waits for the listening line and parses the
 * port. Returns 0 or -1. */
int h_server_start(struct h_proc *p, const char *const *args);

/* Starts $TCPCHAT with args; with pty, stdin/stdout are a pseudo-terminal
 * of 80x24 (stderr a pipe), else pipes. On the pty NO_COLOR=1 is set, so
 * what the client prints is plain text, and TERM is xterm unless the
 * test's own environment names one. Returns 0 or -1. */
int h_client_start(struct h_proc *p, bool pty, const char *const *args);

/* As h_client_start, then env changes the child's environment: each
 * "NAME=VALUE" is set, each bare "NAME" unset ("NO_COLOR" for colours).
 * env may be NULL. */
int h_client_start_env(struct h_proc *p, bool pty, const char *const *env,
                       const char *const *args);

/* Starts any program (argv[0] looked up in PATH) with stdio pipes. */
int h_spawn(struct h_proc *p, const char *const *argv);

/* Reads whatever the process printed until `needle` appears in its stdout
 * (stream 1) or stderr (stream 2) after byte offset *from, or the timeout
 * passes. On success returns 0 and sets *from past the match (for the next
 * wait). -1 on timeout or EOF before the match. */
int h_wait_output(struct h_proc *p, int stream, const char *needle,
                  size_t *from, int timeout_ms);

/* Like h_wait_output, but waits for a whole line (LF-terminated) of the
 * stream that contains every string of the NULL-terminated subs; *from is
 * set past that line. 0, or -1 on timeout or EOF. */
int h_wait_output_line(struct h_proc *p, int stream, const char *const *subs,
                       size_t *from, int timeout_ms);

/* Waits until the stream (1 stdout, 2 stderr) reached EOF, so p->out or
 * p->err holds all of it. 0, or -1 on timeout. */
int h_wait_stream_eof(struct h_proc *p, int stream, int timeout_ms);

/* True while the process has not exited (does not reap it). */
bool h_running(struct h_proc *p);

/* Writes s to the process's stdin. 0 or -1. */
int h_write(struct h_proc *p, const char *s);

/* Ends its input: closes the stdin pipe, or with a pty types the
 * terminal's EOF character (Ctrl-D), as the master is also its stdout. */
void h_close_stdin(struct h_proc *p);

/* Sends sig to the process. */
void h_kill(struct h_proc *p, int sig);

/* Waits for the process to exit; returns its exit status (0..255), 128+N
 * if killed by signal N, or -1 on timeout (the process is then SIGKILLed
 * and reaped). Frees its buffers and closes its fds. */
int h_wait_exit(struct h_proc *p, int timeout_ms);

/* Connects a TCP socket to host:port (host "127.0.0.1" or "::1"), within
 * H_TIMEOUT_MS. The fd is blocking and close-on-exec. Returns it, or -1. */
int h_connect(const char *host, int port);

/* h_connect with SO_RCVBUF set to rcvbuf first (0: the default), for a
 * peer that should fill up quickly. */
int h_connect_opt(const char *host, int port, int rcvbuf);

/* The local port of a socket (its name at the server is 127.0.0.1:PORT). */
int h_local_port(int fd);

/* Reads one line (without LF) from fd into buf within timeout; per-fd
 * buffering is kept internally, so lines may be read one by one. Returns
 * the line's length (buf holds at most len-1 bytes of it, NUL-terminated),
 * -1 on timeout, -2 on EOF, -3 on a reset/error (errno set). Bytes after
 * the last LF at EOF are not a line. */
ssize_t h_read_line(int fd, char *buf, size_t len, int timeout_ms);

/* Reads lines until one equals `line` (lines before it are skipped and
 * named on stderr); 0 on success, else what h_read_line failed with. */
int h_expect_line(int fd, const char *line, int timeout_ms);

/* Waits for EOF: 0 on a clean FIN (after discarding data), -3 on reset,
 * -1 on timeout. */
int h_wait_eof(int fd, int timeout_ms);

/* Closes fd and forgets its line buffer. */
void h_close(int fd);

/* Closes fd with a reset (SO_LINGER 0), forgetting its line buffer. */
int h_reset(int fd);

/* Sends all of s on fd within H_TIMEOUT_MS (never SIGPIPE). 0 or -1. */
int h_send(int fd, const char *s);

/* Sends len bytes of buf within timeout_ms. 0 or -1 (errno ETIMEDOUT). */
int h_send_buf(int fd, const void *buf, size_t len, int timeout_ms);

/* "a line", "timeout", "EOF" or "reset/error" for an h_read_line result. */
const char *h_result_str(ssize_t r);

/* Waits until pid has exactly fds descriptors and threads threads (looks
 * every few ms; /proc cannot be polled). 0, or -1 on timeout. */
int h_wait_counts(pid_t pid, int fds, int threads, int timeout_ms);

/* Moves this process (single-threaded: a test's fork) into a network
 * namespace of its own with only lo, up. A user namespace comes with it
 * where that is needed to be allowed; root may make the network one
 * alone. 0, or -1 with errno and the step that failed in *step. */
int h_enter_loopback_only(const char **step);

/* Writes text to an existing file (a /proc or /sys knob). 0 or -1. */
int h_write_file(const char *path, const char *text);

/* True when ::1 can be bound (IPv6 loopback present). */
bool h_have_ipv6(void);

/* True when an executable `name` is on $PATH. */
bool h_have_program(const char *name);

/* printf into one of 8 rotating buffers: expected lines built inline. */
const char *h_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Asserts (Check, in the test's thread) that the next line on fd is
 * exactly want; line is the caller's, for the message. */
void h_expect_next(int fd, const char *want, int line);
#define H_EXPECT_NEXT(fd, want) h_expect_next((fd), (want), __LINE__)

#endif
