/* harness_sock: raw TCP clients for the end-to-end tests, the way nc
 * would be one.
 *
 * Connects, sends and reads lines with a deadline on every call, through
 * the pump so that the children's output keeps flowing meanwhile. Each fd
 * has a line buffer of its own, so lines can be read one at a time. Also
 * h_fmt for the expected lines, and h_expect_next, the one Check
 * assertion of the harness (in the test's thread). */
#include "harness.h"
#include "harness_internal.h"

#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#define H_MAX_LINEBUFS 256

/* Per-fd line buffers; st_ino tells a reused fd number from the old one.
 * Only the test's thread touches them. */
struct h_linebuf {
	int fd; /* -1: free slot */
	ino_t ino;
	char *buf;
	size_t len, cap;
	int end; /* 0 open, -2 EOF seen, -3 error seen */
	int err;
};

static struct h_linebuf linebufs[H_MAX_LINEBUFS];

/* Before main: every slot starts free. */
__attribute__((constructor)) static void
linebufs_init(void)
{
	for (int i = 0; i < H_MAX_LINEBUFS; i++)
		linebufs[i].fd = -1;
}

/* The line buffer of fd, reset when fd now names another file. */
static struct h_linebuf *
linebuf_of(int fd)
{
	struct h_linebuf *free_slot = NULL;
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return NULL;
	for (int i = 0; i < H_MAX_LINEBUFS; i++) {
		struct h_linebuf *lb = &linebufs[i];

		if (lb->fd == fd) {
			if (lb->ino != sb.st_ino) {
				lb->len = 0;
				lb->end = 0;
				lb->ino = sb.st_ino;
			}
			return lb;
		}
		if (lb->fd < 0 && free_slot == NULL)
			free_slot = lb;
	}
	if (free_slot == NULL)
		return NULL;
	free_slot->fd = fd;
	free_slot->ino = sb.st_ino;
	free_slot->len = 0;
	free_slot->end = 0;
	return free_slot;
}

static void
linebuf_forget(int fd)
{
	for (int i = 0; i < H_MAX_LINEBUFS; i++) {
		if (linebufs[i].fd == fd) {
			free(linebufs[i].buf);
			memset(&linebufs[i], 0, sizeof(linebufs[i]));
			linebufs[i].fd = -1;
		}
	}
}

/* One non-blocking read into lb after poll said fd is ready. */
static void
linebuf_fill(struct h_linebuf *lb)
{
	char tmp[65536];
	ssize_t n = recv(lb->fd, tmp, sizeof(tmp), MSG_DONTWAIT);

	if (n < 0 && errno == ENOTSOCK)
		n = read(lb->fd, tmp, sizeof(tmp));
	if (n > 0) {
		h_buf_append(&lb->buf, &lb->len, &lb->cap, tmp, (size_t)n);
	} else if (n == 0) {
		lb->end = -2;
	} else if (errno != EAGAIN && errno != EINTR) {
		lb->end = -3;
		lb->err = errno;
	}
}

/* Polls fd (draining children meanwhile) and reads once. -1 with errno
 * ETIMEDOUT at the deadline. */
static int
linebuf_wait(struct h_linebuf *lb, int64_t deadline)
{
	struct pollfd pfd = {lb->fd, POLLIN, 0};
	int r = h_pump(&pfd, 1, deadline);

	if (r < 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (r > 0)
		linebuf_fill(lb);
	return 0;
}

ssize_t
h_read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	struct h_linebuf *lb = linebuf_of(fd);

	if (lb == NULL)
		return -3;
	for (;;) {
		char *nl = lb->len ? memchr(lb->buf, '\n', lb->len) : NULL;

		if (nl != NULL) {
			size_t n = (size_t)(nl - lb->buf);
			size_t c = n < len - 1 ? n : len - 1;

			memcpy(buf, lb->buf, c);
			buf[c] = '\0';
			lb->len -= n + 1;
			memmove(lb->buf, nl + 1, lb->len);
			return (ssize_t)n;
		}
		if (lb->end != 0) {
			errno = lb->err;
			return lb->end;
		}
		if (linebuf_wait(lb, deadline) < 0)
			return -1;
	}
}

const char *
h_result_str(ssize_t r)
{
	if (r >= 0)
		return "a line";
	if (r == -1)
		return "timeout";
	if (r == -2)
		return "EOF";
	return "reset/error";
}

int
h_expect_line(int fd, const char *line, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	char buf[8192];
	ssize_t r;

	for (;;) {
		r = h_read_line(fd, buf, sizeof(buf), h_ms_left(deadline));
		if (r < 0)
			break;
		if (strcmp(buf, line) == 0)
			return 0;
		fprintf(stderr,
		        "harness: fd %d: skipped '%s' waiting for '%s'\n", fd,
		        buf, line);
	}
	fprintf(stderr, "harness: fd %d: %s waiting for '%s'\n", fd,
	        h_result_str(r), line);
	return (int)r;
}

int
h_wait_eof(int fd, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	struct h_linebuf *lb = linebuf_of(fd);

	if (lb == NULL)
		return -3;
	for (;;) {
		lb->len = 0; /* data before the end is not the question */
		if (lb->end == -2)
			return 0;
		if (lb->end == -3) {
			errno = lb->err;
			return -3;
		}
		if (linebuf_wait(lb, deadline) < 0)
			return -1;
	}
}

void
h_close(int fd)
{
	if (fd < 0)
		return;
	linebuf_forget(fd);
	close(fd);
}

int
h_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		return -1;
	h_close(fd);
	return 0;
}

int
h_send_buf(int fd, const void *buf, size_t len, int timeout_ms)
{
	return h_write_by_deadline(fd, buf, len, timeout_ms, true);
}

int
h_send(int fd, const char *s)
{
	return h_send_buf(fd, s, strlen(s), H_TIMEOUT_MS);
}

static int
fill_addr(const char *host, int port, struct sockaddr_storage *ss,
          socklen_t *sl)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*in6);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

/* Completes a non-blocking connect within the deadline. */
static int
connect_wait(int fd, int64_t deadline)
{
	struct pollfd pfd = {fd, POLLOUT, 0};
	int err = 0;
	socklen_t el = sizeof(err);

	while (h_pump(&pfd, 1, deadline) == 0)
		pfd.revents = 0;
	if (pfd.revents == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
h_connect_opt(const char *host, int port, int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, fl, saved;

	if (fill_addr(host, port, &ss, &sl) < 0)
		return -1;
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 &&
	    (errno != EINPROGRESS ||
	     connect_wait(fd, h_now_ms() + H_TIMEOUT_MS) < 0))
		goto fail;
	/* Blocking again: tests may use plain recv()/send() on it. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		goto fail;
	linebuf_forget(fd);
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
h_connect(const char *host, int port)
{
	return h_connect_opt(host, port, 0);
}

int
h_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

bool
h_have_ipv6(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	a.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

const char *
h_fmt(const char *fmt, ...)
{
	static char bufs[8][8192];
	static int next;
	char *b = bufs[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

void
h_expect_next(int fd, const char *want, int line)
{
	static char buf[8192];
	ssize_t r = h_read_line(fd, buf, sizeof(buf), H_TIMEOUT_MS);

	ck_assert_msg(r >= 0, "line %d: expected '%.300s', got %s", line, want,
	              h_result_str(r));
	ck_assert_msg(strcmp(buf, want) == 0,
	              "line %d: expected '%.300s', got '%.300s'", line, want,
	              buf);
}
