/* End-to-end: tcpchatd under shortage. Its limits are lowered from outside
 * with prlimit(2) while it runs: out of descriptors it backs off and
 * recovers; when a thread cannot be created (its pids cgroup is full),
 * that one connection is refused with a notice and everyone else goes on. */
#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"

static const char *const no_args[] = {NULL};

/* Sets pid's soft limit, keeping the hard one. */
static int
set_soft_limit(pid_t pid, int resource, rlim_t soft)
{
	struct rlimit rl;

	if (prlimit(pid, resource, NULL, &rl) == -1)
		return -1;
	rl.rlim_cur = soft;
	return prlimit(pid, resource, &rl, NULL);
}

#define PIDS_ROOT "/sys/fs/cgroup/pids"

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (f == NULL)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static long
read_number(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* Moves pid into a pids cgroup of its own (cgroup v1); dir gets its path.
 * Returns 0, or -1 when this machine has no writable pids controller. */
static int
pids_cgroup_enter(pid_t pid, char *dir, size_t len)
{
	char path[256], text[32];

	snprintf(dir, len, PIDS_ROOT "/tcpchat-test-%d", (int)getpid());
	if (mkdir(dir, 0755) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(text, sizeof(text), "%d", (int)pid);
	if (write_file(path, text) == -1) {
		rmdir(dir);
		return -1;
	}
	return 0;
}

/* Caps the cgroup's tasks at what it has now (0) or lifts the cap. */
static int
pids_cgroup_freeze_count(const char *dir, bool cap)
{
	char path[256], text[32];
	long now;

	snprintf(path, sizeof(path), "%s/pids.current", dir);
	now = read_number(path);
	if (now <= 0)
		return -1;
	snprintf(text, sizeof(text), "%ld", now);
	snprintf(path, sizeof(path), "%s/pids.max", dir);
	return write_file(path, cap ? text : "max");
}

/* Reads lines until one contains needle; 0, or what h_read_line failed
 * with. */
static int
read_until(int fd, const char *needle)
{
	char line[512];
	ssize_t n;

	while ((n = h_read_line(fd, line, sizeof(line), H_TIMEOUT_MS)) >= 0)
		if (strstr(line, needle) != NULL)
			return 0;
	return (int)n;
}

/* Connects and reads the welcome; returns the fd or -1. */
static int
join(int port)
{
	char line[512];
	int fd = h_connect("127.0.0.1", port);

	if (fd < 0)
		return -1;
	if (h_read_line(fd, line, sizeof(line), H_TIMEOUT_MS) < 0 ||
	    strncmp(line, "* welcome", 9) != 0) {
		h_close(fd);
		return -1;
	}
	return fd;
}

/* Asks /list until its summary line says want ("1 connection; 2 threads
 * parked") or H_TIMEOUT_MS pass: a connection's threads park only after
 * its close (which may free megabytes of its queue first), and the
 * server says nothing when they do. 0, or -1 on timeout. */
static int
wait_list_summary(struct h_proc *srv, const char *want)
{
	static const char *const summary[] = {" connection", " parked", NULL};
	struct timespec pause = {0, 2 * 1000000L};
	size_t from = srv->out_len, at;

	for (int tries = 0; tries < H_TIMEOUT_MS / 2; tries++) {
		at = from;
		if (h_write(srv, "/list\n") == -1 ||
		    h_wait_output_line(srv, 1, summary, &from, H_TIMEOUT_MS) ==
		        -1)
			return -1;
		if (memmem(srv->out + at, from - at, want, strlen(want)) !=
		    NULL)
			return 0;
		nanosleep(&pause, NULL); /* nothing to wait on: polled */
	}
	return -1;
}

START_TEST(test_out_of_descriptors_backs_off_and_recovers)
{
	enum { EXTRA = 6 };
	struct h_proc srv;
	size_t from = 0;
	int base, held[EXTRA], waiting[EXTRA], i;

	ck_assert_int_eq(h_server_start(&srv, no_args), 0);
	base = h_count_fds(srv.pid);
	ck_assert_int_gt(base, 0);
	/* Room for exactly EXTRA client sockets. */
	ck_assert_int_eq(
	    set_soft_limit(srv.pid, RLIMIT_NOFILE, (rlim_t)(base + EXTRA)), 0);
	for (i = 0; i < EXTRA; i++) {
		held[i] = join(srv.port);
		ck_assert_int_ge(held[i], 0);
	}
	/* These complete in the backlog, but accept() gets EMFILE. */
	for (i = 0; i < EXTRA; i++) {
		waiting[i] = h_connect("127.0.0.1", srv.port);
		ck_assert_int_ge(waiting[i], 0);
	}
	ck_assert_int_eq(
	    h_wait_output(&srv, 2, "backing off", &from, H_TIMEOUT_MS), 0);
	/* Still serving the ones it has. */
	ck_assert_int_eq(h_send(held[0], "still here\n"), 0);
	ck_assert_int_eq(read_until(held[1], ": still here"), 0);
	/* Free the descriptors: the waiting ones are served. */
	for (i = 0; i < EXTRA; i++)
		h_close(held[i]);
	for (i = 0; i < EXTRA; i++)
		ck_assert_int_eq(read_until(waiting[i], "* welcome"), 0);
	ck_assert_int_eq(
	    h_wait_output(&srv, 2, "accepting again", &from, H_TIMEOUT_MS), 0);
	/* One line per episode: it logged, then waited, never spun. */
	ck_assert_ptr_null(
	    strstr(strstr(srv.err, "backing off") + 1, "backing off"));
	for (i = 0; i < EXTRA; i++)
		h_close(waiting[i]);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&srv, H_TIMEOUT_MS), 0);
}
END_TEST

START_TEST(test_thread_failure_refuses_only_that_connection)
{
	struct h_proc srv;
	size_t from = 0;
	int a, b, refused, late, fds, threads;
	char dir[128];

	ck_assert_int_eq(h_server_start(&srv, no_args), 0);
	if (pids_cgroup_enter(srv.pid, dir, sizeof(dir)) == -1) {
		fprintf(stderr, "e2e_limits: no writable pids cgroup here; "
		                "thread-failure test not run\n");
		h_kill(&srv, SIGTERM);
		h_wait_exit(&srv, H_TIMEOUT_MS);
		return;
	}
	fds = h_count_fds(srv.pid);
	threads = h_count_threads(srv.pid);
	a = join(srv.port);
	b = join(srv.port);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	/* The welcome comes from the writer: wait for both readers too. */
	ck_assert_int_eq(
	    h_wait_counts(srv.pid, fds + 2, threads + 4, H_TIMEOUT_MS), 0);
	/* None parked: the next connection needs new threads. */
	ck_assert_int_eq(wait_list_summary(&srv, "2 connections; 0 threads"),
	                 0);
	/* No new thread can be created in the server from now on. */
	ck_assert_int_eq(pids_cgroup_freeze_count(dir, true), 0);
	refused = h_connect("127.0.0.1", srv.port);
	ck_assert_int_ge(refused, 0);
	ck_assert_int_eq(read_until(refused, "* error: server busy"), 0);
	ck_assert_int_eq(h_wait_eof(refused, H_TIMEOUT_MS), 0);
	ck_assert_int_eq(
	    h_wait_output(&srv, 2, "pthread_create", &from, H_TIMEOUT_MS), 0);
	/* The others never noticed. */
	ck_assert_int_eq(h_send(a, "unharmed\n"), 0);
	ck_assert_int_eq(read_until(b, ": unharmed"), 0);
	/* Room again: new connections are served. */
	ck_assert_int_eq(pids_cgroup_freeze_count(dir, false), 0);
	late = join(srv.port);
	ck_assert_int_ge(late, 0);
	h_close(refused);
	h_close(late);
	h_close(a);
	h_close(b);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&srv, H_TIMEOUT_MS), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_kicked_peer_that_never_reads_is_closed_after_the_grace)
{
	/* 16 MB from one sender: no flood control, which would pace it. */
	static const char *const big_queue[] = {"--max-queue", "256M", "--rate",
	                                        "0", NULL};
	char line[128];
	struct h_proc srv;
	int stuck, talker, fds, threads, i;

	ck_assert_int_eq(h_server_start(&srv, big_queue), 0);
	fds = h_count_fds(srv.pid);
	threads = h_count_threads(srv.pid);
	/* Connection 1 reads its welcome, then nothing: its window fills. */
	stuck = h_connect_opt("127.0.0.1", srv.port, 4096);
	ck_assert_int_ge(stuck, 0);
	ck_assert_int_eq(read_until(stuck, "* welcome"), 0);
	talker = join(srv.port);
	ck_assert_int_ge(talker, 0);
	memset(line, 'x', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	/* 16 MB: more than the kernel buffers between server and stuck. */
	for (i = 0; i < 16 * 1024 * 1024 / 126; i++)
		ck_assert_int_eq(h_send(talker, line), 0);
	/* Its writer is blocked in send(); /kick must still end it. */
	ck_assert_int_eq(h_write(&srv, "/kick 1\n"), 0);
	/* Its two threads parked: the talker's and those two are left. */
	ck_assert_int_eq(
	    h_wait_counts(srv.pid, fds + 1, threads + 4, H_TIMEOUT_MS * 2), 0);
	ck_assert_int_eq(wait_list_summary(&srv, "1 connection; 2 threads"), 0);
	h_close(stuck);
	h_close(talker);
	h_kill(&srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&srv, H_TIMEOUT_MS), 0);
}
END_TEST

Suite *
tc_test_suite(void)
{
	Suite *s = suite_create("e2e_limits");
	TCase *tc = tcase_create("shortage");

	tcase_add_test(tc, test_out_of_descriptors_backs_off_and_recovers);
	tcase_add_test(tc, test_thread_failure_refuses_only_that_connection);
	tcase_add_test(
	    tc, test_kicked_peer_that_never_reads_is_closed_after_the_grace);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
