/* harness_proc: the children of the end-to-end tests.
 *
 * Starts tcpchatd, tcpchat and other programs with their stdio connected
 * to us (pipes, or a pseudo-terminal), keeps every live child in one
 * registry so that the pump can drain its output during any wait of the
 * harness, writes to them, signals and reaps them. Children die with the
 * test (PR_SET_PDEATHSIG, plus an atexit sweep). No Check calls here. */
#include "harness.h"
#include "harness_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define H_MAX_PROCS 32

/* Live children: the pointer for draining (valid while the test holds the
 * struct), the pid apart so the exit sweep never touches a dead frame.
 * Only the test's thread touches them. */
static struct h_proc *procs[H_MAX_PROCS];
static pid_t proc_pids[H_MAX_PROCS];

static void
h_sweep(void)
{
	for (int i = 0; i < H_MAX_PROCS; i++) {
		if (proc_pids[i] <= 0)
			continue;
		kill(proc_pids[i], SIGKILL);
		waitpid(proc_pids[i], NULL, 0);
		proc_pids[i] = 0;
		procs[i] = NULL;
	}
}

/* Before main: a child closing on us must be an error return, not death. */
__attribute__((constructor)) static void
h_proc_init(void)
{
	signal(SIGPIPE, SIG_IGN);
	atexit(h_sweep);
}

/* Reads what is there from one of p's output fds without blocking; closes
 * it at EOF (a pty master reports the child's end as EIO). */
static void
drain_fd(struct h_proc *p, int stream)
{
	int *fdp = stream == 1 ? &p->out_fd : &p->err_fd;
	char tmp[65536];
	ssize_t n;

	for (int i = 0; i < 64 && *fdp >= 0; i++) {
		n = read(*fdp, tmp, sizeof(tmp));
		if (n > 0) {
			if (stream == 1)
				h_buf_append(&p->out, &p->out_len, &p->out_cap,
				             tmp, (size_t)n);
			else
				h_buf_append(&p->err, &p->err_len, &p->err_cap,
				             tmp, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EOF or error: this stream is finished. */
		if (p->pty && stream == 1)
			p->in_fd = -1;
		close(*fdp);
		*fdp = -1;
		return;
	}
}

/* The pump (see harness_internal.h): the caller's fds first, then every
 * live child's stdout and stderr. */
int
h_pump(struct pollfd *extra, nfds_t n_extra, int64_t deadline)
{
	struct pollfd pfd[4 + 2 * H_MAX_PROCS];
	struct h_proc *owner[4 + 2 * H_MAX_PROCS];
	nfds_t n = 0;
	int r;

	for (nfds_t i = 0; i < n_extra && i < 4; i++) {
		pfd[n] = extra[i];
		pfd[n].revents = 0;
		owner[n++] = NULL;
	}
	for (int i = 0; i < H_MAX_PROCS; i++) {
		if (procs[i] == NULL)
			continue;
		if (procs[i]->out_fd >= 0) {
			pfd[n] = (struct pollfd){procs[i]->out_fd, POLLIN, 0};
			owner[n++] = procs[i];
		}
		if (procs[i]->err_fd >= 0) {
			pfd[n] = (struct pollfd){procs[i]->err_fd, POLLIN, 0};
			owner[n++] = procs[i];
		}
	}
	r = poll(pfd, n, h_ms_left(deadline));
	if (r < 0 && errno != EINTR)
		return -1;
	if (r <= 0)
		return h_now_ms() >= deadline ? -1 : 0;
	r = 0;
	for (nfds_t i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (owner[i] == NULL) {
			extra[i].revents = pfd[i].revents;
			r = 1;
		} else {
			drain_fd(owner[i],
			         pfd[i].fd == owner[i]->out_fd ? 1 : 2);
		}
	}
	return r;
}

static int
proc_register(struct h_proc *p)
{
	for (int i = 0; i < H_MAX_PROCS; i++) {
		if (procs[i] == NULL && proc_pids[i] <= 0) {
			procs[i] = p;
			proc_pids[i] = p->pid;
			return 0;
		}
	}
	return -1;
}

static void
proc_unregister(struct h_proc *p)
{
	for (int i = 0; i < H_MAX_PROCS; i++) {
		if (procs[i] == p) {
			procs[i] = NULL;
			proc_pids[i] = 0;
		}
	}
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* In the child: each "NAME=VALUE" of env set, each bare "NAME" unset. */
static void
apply_env(const char *const *env)
{
	const char *eq;
	char name[256];

	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		eq = strchr(env[i], '=');
		if (eq == NULL) {
			unsetenv(env[i]);
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]),
		         env[i]);
		setenv(name, eq + 1, 1);
	}
}

/* In the child: die with the test, default signals, exec. Never returns. */
static void
child_exec(pid_t parent, const char *path, const char *const *argv, bool search)
{
	sigset_t all;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	/* An ignored SIGPIPE would survive exec and change nc's behaviour. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (search)
		execvp(path, (char *const *)argv);
	else
		execv(path, (char *const *)argv);
	dprintf(2, "harness: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

static void
proc_reset(struct h_proc *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->in_fd = p->out_fd = p->err_fd = -1;
}

static void
close_pipes(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Starts path with stdio pipes (in[0],out[1],err[1] go to the child). */
static int
spawn_pipes(struct h_proc *p, const char *path, const char *const *argv,
            bool search, const char *const *env)
{
	int fds[6] = {-1, -1, -1, -1, -1, -1}; /* in, out, err pairs */
	pid_t parent = getpid();

	proc_reset(p);
	if (pipe2(fds, O_CLOEXEC) < 0 || pipe2(fds + 2, O_CLOEXEC) < 0 ||
	    pipe2(fds + 4, O_CLOEXEC) < 0)
		goto fail;
	p->pid = fork();
	if (p->pid < 0)
		goto fail;
	if (p->pid == 0) {
		if (dup2(fds[0], 0) < 0 || dup2(fds[3], 1) < 0 ||
		    dup2(fds[5], 2) < 0)
			_exit(127);
		apply_env(env);
		child_exec(parent, path, argv, search);
	}
	p->in_fd = fds[1];
	p->out_fd = fds[2];
	p->err_fd = fds[4];
	fds[1] = fds[2] = fds[4] = -1;
	close_pipes(fds, 6);
	set_nonblock(p->in_fd);
	set_nonblock(p->out_fd);
	set_nonblock(p->err_fd);
	return proc_register(p);
fail:
	close_pipes(fds, 6);
	p->pid = -1;
	return -1;
}

/* Starts path on a new 80x24 pseudo-terminal, stderr a pipe. */
static int
spawn_pty(struct h_proc *p, const char *path, const char *const *argv,
          const char *const *env)
{
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	int errp[2], master = -1;
	pid_t parent = getpid();

	proc_reset(p);
	if (pipe2(errp, O_CLOEXEC) < 0)
		return -1;
	p->pid = forkpty(&master, NULL, NULL, &ws);
	if (p->pid < 0) {
		close_pipes(errp, 2);
		return -1;
	}
	if (p->pid == 0) {
		if (dup2(errp[1], 2) < 0)
			_exit(127);
		/* readline needs some terminal type; keep the caller's. */
		setenv("TERM", "xterm", 0);
		/* Transcripts compare plain text: the client's colours and
		 * bell are for the tests that ask for them (env). */
		setenv("NO_COLOR", "1", 1);
		apply_env(env);
		child_exec(parent, path, argv, false);
	}
	close(errp[1]);
	p->pty = true;
	p->in_fd = p->out_fd = master;
	p->err_fd = errp[0];
	set_nonblock(master);
	set_nonblock(p->err_fd);
	return proc_register(p);
}

static const char *
env_path(const char *var)
{
	const char *s = getenv(var);

	if (s == NULL || *s == '\0') {
		fprintf(stderr,
		        "harness: $%s is not set (run via meson test)\n", var);
		return NULL;
	}
	return s;
}

/* Builds {path, pre..., args..., NULL} into out (at most max entries). */
static int
build_argv(const char **out, size_t max, const char *path,
           const char *const *pre, const char *const *args)
{
	size_t n = 0;

	out[n++] = path;
	for (size_t i = 0; pre && pre[i]; i++) {
		if (n + 1 >= max)
			return -1;
		out[n++] = pre[i];
	}
	for (size_t i = 0; args && args[i]; i++) {
		if (n + 1 >= max)
			return -1;
		out[n++] = args[i];
	}
	out[n] = NULL;
	return 0;
}

/* Parses PORT from "...:PORT\n" at the end of the listening line. */
static int
parse_listen_port(const char *line)
{
	const char *nl = strchr(line, '\n');
	const char *colon = NULL;
	long port;
	char *end;

	for (const char *c = line; c < nl; c++)
		if (*c == ':')
			colon = c;
	if (nl == NULL || colon == NULL)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (end != nl || port <= 0 || port > 65535)
		return -1;
	return (int)port;
}

int
h_server_start(struct h_proc *p, const char *const *args)
{
	static const char *const pre[] = {"-p", "0", NULL};
	static const char prefix[] = "tcpchatd: listening on ";
	const char *argv[64];
	const char *path = env_path("TCPCHATD");
	size_t from = 0, line_at;

	if (path == NULL || build_argv(argv, 64, path, pre, args) < 0)
		return -1;
	if (spawn_pipes(p, path, argv, false, NULL) < 0)
		return -1;
	if (h_wait_output(p, 2, prefix, &from, H_TIMEOUT_MS) < 0)
		goto fail;
	line_at = from - strlen(prefix);
	if (h_wait_output(p, 2, "\n", &from, H_TIMEOUT_MS) < 0)
		goto fail;
	p->port = parse_listen_port(p->err + line_at);
	if (p->port < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "harness: tcpchatd did not start; its stderr:\n%s\n",
	        p->err ? p->err : "");
	h_wait_exit(p, 0);
	return -1;
}

int
h_client_start(struct h_proc *p, bool pty, const char *const *args)
{
	return h_client_start_env(p, pty, NULL, args);
}

int
h_client_start_env(struct h_proc *p, bool pty, const char *const *env,
                   const char *const *args)
{
	const char *argv[64];
	const char *path = env_path("TCPCHAT");

	if (path == NULL || build_argv(argv, 64, path, NULL, args) < 0)
		return -1;
	if (pty)
		return spawn_pty(p, path, argv, env);
	return spawn_pipes(p, path, argv, false, env);
}

int
h_spawn(struct h_proc *p, const char *const *argv)
{
	return spawn_pipes(p, argv[0], argv, true, NULL);
}

/* What has been read of one of p's output streams (1 stdout, 2 stderr)
 * so far, and its fd (-1 once it reached EOF). */
struct stream_view {
	const char *buf;
	size_t len;
	int fd;
};

static struct stream_view
stream_of(const struct h_proc *p, int stream)
{
	if (stream == 1)
		return (struct stream_view){p->out, p->out_len, p->out_fd};
	return (struct stream_view){p->err, p->err_len, p->err_fd};
}

int
h_wait_output(struct h_proc *p, int stream, const char *needle, size_t *from,
              int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	size_t start = from ? *from : 0;

	for (;;) {
		struct stream_view v = stream_of(p, stream);
		const char *hit = NULL;

		if (v.buf != NULL && start <= v.len)
			hit = strstr(v.buf + start, needle);
		if (hit != NULL) {
			if (from)
				*from = (size_t)(hit - v.buf) + strlen(needle);
			return 0;
		}
		if (v.fd < 0 || h_pump(NULL, 0, deadline) < 0)
			return -1;
	}
}

/* True when the line [line, end) contains every string of subs. */
static bool
line_has_all(const char *line, const char *end, const char *const *subs)
{
	for (size_t i = 0; subs[i]; i++) {
		const char *hit = memmem(line, (size_t)(end - line), subs[i],
		                         strlen(subs[i]));

		if (hit == NULL)
			return false;
	}
	return true;
}

int
h_wait_output_line(struct h_proc *p, int stream, const char *const *subs,
                   size_t *from, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	size_t at = from ? *from : 0;

	for (;;) {
		struct stream_view v = stream_of(p, stream);
		const char *nl;

		while (v.buf != NULL && at < v.len &&
		       (nl = memchr(v.buf + at, '\n', v.len - at)) != NULL) {
			if (line_has_all(v.buf + at, nl, subs)) {
				if (from)
					*from = (size_t)(nl - v.buf) + 1;
				return 0;
			}
			at = (size_t)(nl - v.buf) + 1;
		}
		if (v.fd < 0 || h_pump(NULL, 0, deadline) < 0)
			return -1;
	}
}

int
h_wait_stream_eof(struct h_proc *p, int stream, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;

	while (stream_of(p, stream).fd >= 0)
		if (h_pump(NULL, 0, deadline) < 0)
			return -1;
	return 0;
}

int
h_write(struct h_proc *p, const char *s)
{
	if (p->in_fd < 0) {
		errno = EBADF;
		return -1;
	}
	return h_write_by_deadline(p->in_fd, s, strlen(s), H_TIMEOUT_MS, false);
}

void
h_close_stdin(struct h_proc *p)
{
	if (p->in_fd < 0)
		return;
	if (p->pty) {
		/* The master is also its stdout: end input the way a user
		 * does, with the terminal's EOF character. */
		(void)h_write_by_deadline(p->in_fd, "\x04", 1, H_TIMEOUT_MS,
		                          false);
		return;
	}
	close(p->in_fd);
	p->in_fd = -1;
}

void
h_kill(struct h_proc *p, int sig)
{
	if (p->pid > 0)
		kill(p->pid, sig);
}

static int
status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* Waits for p's exit within deadline; the pidfd makes it a poll. Returns
 * the raw status in *st, or -1 at the deadline. */
static int
reap_until(struct h_proc *p, int64_t deadline, int *st)
{
	int pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	int ret = -1;

	for (;;) {
		struct pollfd pfd = {pidfd, POLLIN, 0};
		pid_t r = waitpid(p->pid, st, WNOHANG);

		if (r == p->pid || (r < 0 && errno == ECHILD)) {
			ret = r == p->pid ? 0 : -1;
			break;
		}
		if (h_now_ms() >= deadline)
			break;
		if (pidfd >= 0) {
			h_pump(&pfd, 1, deadline);
		} else {
			/* No pidfd (old kernel): a short bounded poll. */
			int64_t step = h_now_ms() + 5;

			h_pump(NULL, 0, step < deadline ? step : deadline);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

static void
proc_release(struct h_proc *p)
{
	drain_fd(p, 1);
	drain_fd(p, 2);
	proc_unregister(p);
	if (p->in_fd >= 0 && p->in_fd != p->out_fd)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	free(p->out);
	free(p->err);
	proc_reset(p);
}

int
h_wait_exit(struct h_proc *p, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int st = 0, code;

	if (p->pid <= 0)
		return -1;
	if (reap_until(p, deadline, &st) == 0) {
		code = status_code(st);
	} else {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		code = -1;
	}
	proc_release(p);
	return code;
}

bool
h_running(struct h_proc *p)
{
	siginfo_t si;

	if (p->pid <= 0)
		return false;
	memset(&si, 0, sizeof(si));
	/* WNOWAIT: look without reaping, so h_wait_exit still sees it. */
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return false;
	return si.si_pid == 0;
}

/* Here rather than in harness_counters.c: it drains the children while
 * it waits, which only this file can do. */
int
h_wait_counts(pid_t pid, int fds, int threads, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms, step;

	for (;;) {
		if (h_count_fds(pid) == fds && h_count_threads(pid) == threads)
			return 0;
		if (h_now_ms() >= deadline)
			return -1;
		/* /proc cannot be polled: look again in a few ms, draining
		 * the children meanwhile; bounded by the deadline. */
		step = h_now_ms() + 5;
		h_pump(NULL, 0, step < deadline ? step : deadline);
	}
}

bool
h_have_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
		if (access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}
