/* harness_util: what the other harness files share: the deadline clock,
 * growing buffers, and the one deadline-bounded write for pipes, ptys and
 * sockets. */
#include "harness_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
h_ms_left(int64_t deadline)
{
	int64_t left = deadline - h_now_ms();

	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int
h_buf_append(char **buf, size_t *len, size_t *cap, const char *src, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap : 4096;
		char *nb;

		while (*len + n + 1 > ncap)
			ncap *= 2;
		nb = realloc(*buf, ncap);
		if (nb == NULL)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, src, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* Writes all of buf by the deadline, waiting for POLLOUT in between (the
 * children's output is drained meanwhile). Sockets use send() without
 * blocking and without SIGPIPE; pipes and ptys, which are non-blocking,
 * use write(). 0, or -1 with errno (ETIMEDOUT at the deadline). */
int
h_write_by_deadline(int fd, const void *buf, size_t len, int timeout_ms,
                    bool socket)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	const char *s = buf;

	while (len > 0) {
		struct pollfd pfd = {fd, POLLOUT, 0};
		ssize_t n = socket
		                ? send(fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT)
		                : write(fd, s, len);

		if (n > 0) {
			s += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (h_pump(&pfd, 1, deadline) < 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}
