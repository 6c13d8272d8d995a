/* net: listen, connect, write-all and address strings over the BSD socket
 * calls. Retries EINTR and partial writes here so that no caller has to;
 * reports failures as -1 with errno, or as a one-line reason in err where
 * errno cannot carry it (getaddrinfo). Knows nothing of chat or threads. */
#include "tcpchat/net.h"
#include "tcpchat/options.h" /* TC_DEFAULT_PORT */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *
tc_net_addr_str(const struct sockaddr *sa, char buf[TC_ADDR_STR_MAX])
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, TC_ADDR_STR_MAX, "%s:%u", host,
		         ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			/* A dual-stack socket's IPv4 peer: show it as IPv4. */
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host,
			          sizeof(host));
			snprintf(buf, TC_ADDR_STR_MAX, "%s:%u", host,
			         ntohs(in6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, host,
			          sizeof(host));
			snprintf(buf, TC_ADDR_STR_MAX, "[%s]:%u", host,
			         ntohs(in6->sin6_port));
		}
	} else {
		snprintf(buf, TC_ADDR_STR_MAX, "?");
	}
	return buf;
}

char *
tc_net_peer_str(int fd, char buf[TC_ADDR_STR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(buf, TC_ADDR_STR_MAX, "?");
		return buf;
	}
	return tc_net_addr_str((struct sockaddr *)&ss, buf);
}

char *
tc_net_local_str(int fd, char buf[TC_ADDR_STR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(buf, TC_ADDR_STR_MAX, "?");
		return buf;
	}
	return tc_net_addr_str((struct sockaddr *)&ss, buf);
}

/* Binds and listens on one address; -1 with errno, *step names the call. */
static int
listen_on(const struct addrinfo *ai, int backlog, const char **step)
{
	int fd, one = 1, zero = 0, saved;

	*step = "socket";
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	            ai->ai_protocol);
	if (fd == -1)
		return -1;
	/* SO_REUSEADDR: restart while old connections sit in TIME_WAIT. */
	*step = "setsockopt SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	/* Dual stack: one IPv6 socket takes IPv4 peers too. */
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		                 sizeof(zero));
	*step = "bind";
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		goto fail;
	*step = "listen";
	if (listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
resolve(const char *host, const char *port, int family, int flags,
        struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags;
	rc = getaddrinfo(host, port, &hints, res);
	if (rc != 0)
		snprintf(err, errlen, "resolve %s port %s: %s",
		         host ? host : "*", port,
		         rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	return rc;
}

int
tc_net_listen(const char *addr, const char *port, int backlog,
              char bound[TC_ADDR_STR_MAX], char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	const char *host = addr, *step = "bind";
	char where[TC_ADDR_STR_MAX] = "?";
	int fd = -1, family = AF_UNSPEC, saved = 0;

	if (addr == NULL) {
		/* Every interface: IPv6 dual-stack first, IPv4 without it. */
		host = "::";
		family = AF_INET6;
	}
	if (resolve(host, port, family, AI_PASSIVE | AI_NUMERICSERV, &res, err,
	            errlen) != 0) {
		if (addr != NULL)
			return -1;
		family = AF_INET;
		if (resolve("0.0.0.0", port, family, AI_PASSIVE, &res, err,
		            errlen) != 0)
			return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		fd = listen_on(ai, backlog, &step);
		if (fd == -1) {
			saved = errno;
			tc_net_addr_str(ai->ai_addr, where);
		}
	}
	if (fd == -1 && addr == NULL && family == AF_INET6 &&
	    (saved == EAFNOSUPPORT || saved == EADDRNOTAVAIL)) {
		freeaddrinfo(res);
		return tc_net_listen("0.0.0.0", port, backlog, bound, err,
		                     errlen);
	}
	freeaddrinfo(res);
	if (fd == -1) {
		snprintf(err, errlen, "%s %s: %s", step, where,
		         strerror(saved));
		errno = saved;
		return -1;
	}
	tc_net_local_str(fd, bound);
	return fd;
}

static const char *
family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* A numeric host is parsed without the network, and never with
 * AI_ADDRCONFIG: on a machine with loopback only that flag refuses even
 * 127.0.0.1 ("Name or service not known"). Returns 1 when host is not a
 * numeric address, 0 with *res set, -1 with a reason in err: a numeric
 * address of the family that -4 or -6 excludes. */
static int
resolve_numeric(const char *host, const char *port, int family,
                struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints, *ai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return 1; /* a name, or a bad port: the full lookup says */
	if (family != AF_UNSPEC && ai->ai_family != family) {
		snprintf(err, errlen,
		         "resolve %s: an %s address, but -%c asks "
		         "for %s",
		         host, family_name(ai->ai_family),
		         family == AF_INET ? '4' : '6', family_name(family));
		freeaddrinfo(ai);
		return -1;
	}
	*res = ai;
	return 0;
}

/* Names: AI_ADDRCONFIG keeps IPv6 answers away from an IPv4-only host,
 * but it does not count loopback, so offline it may refuse "localhost"
 * too; when it left no address, the lookup is made once more without it
 * (not after a resolver failure: that would only wait twice). */
static int
resolve_connect(const char *host, const char *port, int family,
                struct addrinfo **res, char *err, size_t errlen)
{
	int rc = resolve_numeric(host, port, family, res, err, errlen);

	if (rc != 1)
		return rc;
	rc = resolve(host, port, family, AI_ADDRCONFIG, res, err, errlen);
	if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY || rc == EAI_NODATA)
		rc = resolve(host, port, family, 0, res, err, errlen);
	return rc == 0 ? 0 : -1;
}

/* Whether any interface has an address of family, loopback included. */
static bool
family_configured(int family)
{
	struct ifaddrs *all, *i;
	bool found = false;

	if (getifaddrs(&all) == -1)
		return true; /* cannot tell: do not claim it is missing */
	for (i = all; i != NULL && !found; i = i->ifa_next)
		found = i->ifa_addr != NULL && i->ifa_addr->sa_family == family;
	freeifaddrs(all);
	return found;
}

/* Milliseconds of CLOCK_MONOTONIC, for the connect deadline. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for a non-blocking connect on fd to finish, until deadline_ms (-1:
 * no deadline). 0 once connected; -1 with errno: the connect's own error
 * (SO_ERROR), ETIMEDOUT at the deadline, or poll's. */
static int
wait_connected(int fd, long long deadline_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int n, soerr = 0, wait_ms = -1;

	do {
		if (deadline_ms >= 0) {
			long long left = deadline_ms - now_ms();

			wait_ms = left > 0
			              ? (int)(left < INT_MAX ? left : INT_MAX)
			              : 0;
		}
		n = poll(&pfd, 1, wait_ms);
	} while ((n == -1 && errno == EINTR) ||
	         (n == 0 && deadline_ms >= 0 && now_ms() < deadline_ms));
	if (n == -1)
		return -1;
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return -1;
	errno = soerr;
	return soerr == 0 ? 0 : -1;
}

/* One address: a non-blocking connect, bounded by timeout_ms (-1: the
 * kernel's own retries), then the fd goes back to blocking. Returns the
 * fd, or -1 with errno. */
static int
connect_one(const struct addrinfo *ai, int timeout_ms)
{
	long long deadline_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int fd, saved;

	fd = socket(ai->ai_family,
	            ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	            ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
	    ((errno == EINPROGRESS || errno == EINTR) &&
	     wait_connected(fd, deadline_ms) == 0)) {
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0)
			return fd;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* The reason for the last address that failed, in one line. */
static void
connect_error(const struct addrinfo *ai, int saved, int timeout_ms, char *err,
              size_t errlen)
{
	char where[TC_ADDR_STR_MAX];

	tc_net_addr_str(ai->ai_addr, where);
	if (saved == ETIMEDOUT && timeout_ms >= 0)
		snprintf(err, errlen, "connect %s: timed out after %d s", where,
		         (timeout_ms + 999) / 1000);
	else if (saved == EAFNOSUPPORT ||
	         (saved == EADDRNOTAVAIL && !family_configured(ai->ai_family)))
		/* No socket of that family, or no address of it to send
		 * from: the machine has no IPv6 (or no IPv4) at all. Else
		 * EADDRNOTAVAIL is the usual text (out of local ports). */
		snprintf(err, errlen, "connect %s: %s not available here: %s",
		         where, family_name(ai->ai_family), strerror(saved));
	else
		snprintf(err, errlen, "connect %s: %s", where, strerror(saved));
}

int
tc_net_connect_within(const char *host, const char *port, int family,
                      int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo *res, *ai, *last = NULL;
	int fd = -1, saved = 0;

	if (resolve_connect(host, port, family, &res, err, errlen) == -1)
		return -1;
	/* Each address has the whole timeout: a dead first address (an
	 * IPv6 route that drops everything) must not use up the time of a
	 * second one that answers. */
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		fd = connect_one(ai, timeout_ms);
		if (fd == -1) {
			saved = errno;
			last = ai;
		}
	}
	if (fd == -1) {
		if (last != NULL)
			connect_error(last, saved, timeout_ms, err, errlen);
		else
			snprintf(err, errlen, "resolve %s port %s: no address",
			         host, port);
		errno = saved;
	}
	freeaddrinfo(res);
	return fd;
}

int
tc_net_connect(const char *host, const char *port, int family, char *err,
               size_t errlen)
{
	return tc_net_connect_within(host, port, family, -1, err, errlen);
}

int
tc_net_write_all(int fd, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return tc_net_writev_all(fd, &iov, 1);
}

/* Marks the first `sent` bytes of iov[0..n) as gone: lengths go to 0. */
static void
consume(struct iovec *iov, size_t n, size_t sent)
{
	for (size_t i = 0; i < n && sent > 0; i++) {
		size_t k = sent < iov[i].iov_len ? sent : iov[i].iov_len;

		iov[i].iov_base = (char *)iov[i].iov_base + k;
		iov[i].iov_len -= k;
		sent -= k;
	}
}

/* Waits until fd has room (or an error to report) or stop_fd is readable:
 * 0, or -1 with errno (ECANCELED: stop_fd). */
static int
wait_room(int fd, int stop_fd)
{
	struct pollfd pfd[2] = {
	    {.fd = fd, .events = POLLOUT},
	    {.fd = stop_fd, .events = POLLIN},
	};

	while (poll(pfd, 2, -1) == -1)
		if (errno != EINTR)
			return -1;
	if (pfd[1].revents != 0) {
		errno = ECANCELED;
		return -1;
	}
	return 0;
}

int
tc_net_writev_until(int fd, struct iovec *iov, size_t n, int stop_fd)
{
	/* MSG_NOSIGNAL: a vanished peer is EPIPE here, not SIGPIPE. */
	int flags = MSG_NOSIGNAL | (stop_fd >= 0 ? MSG_DONTWAIT : 0);
	struct msghdr mh;
	ssize_t sent;

	for (;;) {
		while (n > 0 && iov->iov_len == 0) {
			iov++;
			n--;
		}
		if (n == 0)
			return 0;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = n > IOV_MAX ? IOV_MAX : n;
		sent = sendmsg(fd, &mh, flags);
		if (sent >= 0) /* a partial write is not an error */
			consume(iov, n, (size_t)sent);
		else if (errno == EAGAIN && stop_fd >= 0) {
			if (wait_room(fd, stop_fd) == -1)
				return -1;
		} else if (errno != EINTR)
			return -1;
	}
}

int
tc_net_writev_all(int fd, struct iovec *iov, size_t n)
{
	return tc_net_writev_until(fd, iov, n, -1);
}

/* Whether a peer elsewhere can reach sa, with no scope id: not loopback,
 * unspecified, multicast or IPv6 link-local. */
static bool
is_global(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		in_addr_t a =
		    ntohl(((const struct sockaddr_in *)(const void *)sa)
		              ->sin_addr.s_addr);

		return a != INADDR_ANY && (a >> 24) != IN_LOOPBACKNET &&
		       !IN_MULTICAST(a);
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		return !IN6_IS_ADDR_UNSPECIFIED(a) &&
		       !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_LINKLOCAL(a) &&
		       !IN6_IS_ADDR_MULTICAST(a) && !IN6_IS_ADDR_V4MAPPED(a);
	}
	return false;
}

/* The port and, through the out parameters, which families a socket bound
 * to bound takes: false when it listens on one address only. */
static bool
listens_everywhere(const struct sockaddr *bound, int v6only, bool *v4, bool *v6,
                   unsigned *port)
{
	if (bound->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)bound;

		*v4 = true;
		*v6 = false;
		*port = ntohs(in->sin_port);
		return in->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	if (bound->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)bound;

		*v4 = !v6only;
		*v6 = true;
		*port = ntohs(in6->sin6_port);
		return IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
	}
	return false;
}

int
tc_net_join_hints_from(const struct ifaddrs *ifs, const struct sockaddr *bound,
                       int v6only, const char *prefix,
                       void (*say)(const char *line))
{
	char host[INET6_ADDRSTRLEN], port_str[16] = "", line[256];
	bool v4, v6;
	unsigned port;
	int n = 0;

	if (!listens_everywhere(bound, v6only, &v4, &v6, &port))
		return 0;
	snprintf(line, sizeof(line), "%u", port);
	if (strcmp(line, TC_DEFAULT_PORT) != 0)
		snprintf(port_str, sizeof(port_str), " %u", port);
	for (const struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;
		const void *a;

		if (sa == NULL || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK) || !is_global(sa))
			continue;
		if (sa->sa_family == AF_INET && v4)
			a = &((const struct sockaddr_in *)(const void *)sa)
			         ->sin_addr;
		else if (sa->sa_family == AF_INET6 && v6)
			a = &((const struct sockaddr_in6 *)(const void *)sa)
			         ->sin6_addr;
		else
			continue;
		inet_ntop(sa->sa_family, a, host, sizeof(host));
		snprintf(line, sizeof(line), "%sjoin with: tcpchat %s%s",
		         prefix, host, port_str);
		say(line);
		n++;
	}
	if (n == 0) {
		snprintf(line, sizeof(line),
		         "%sonly this machine can join (no interface is up "
		         "with a global address): tcpchat %s%s",
		         prefix, v4 ? "127.0.0.1" : "::1", port_str);
		say(line);
		n++;
	}
	return n;
}

int
tc_net_join_hints(int lfd, const char *prefix, void (*say)(const char *line))
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), optlen = sizeof(int);
	struct ifaddrs *ifs;
	char line[256];
	int v6only = 0, n;

	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(line, sizeof(line), "%sjoin hints: getsockname: %s",
		         prefix, strerror(errno));
		say(line);
		return 1;
	}
	if (ss.ss_family == AF_INET6 &&
	    getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &optlen) == -1)
		v6only = 0;
	if (getifaddrs(&ifs) == -1) {
		snprintf(line, sizeof(line),
		         "%scannot list the network interfaces: getifaddrs: %s",
		         prefix, strerror(errno));
		say(line);
		return 1;
	}
	n = tc_net_join_hints_from(ifs, (struct sockaddr *)&ss, v6only, prefix,
	                           say);
	freeifaddrs(ifs);
	return n;
}
