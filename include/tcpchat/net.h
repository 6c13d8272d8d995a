/* net: the socket system calls, so that EINTR, partial writes and address
 * families stay out of the logic; and the join hints (getifaddrs).
 *
 * Functions that fail return -1 with errno from the failing call; where
 * errno cannot say it (getaddrinfo), they write a one-line reason to the
 * caller's err buffer. Thread-safe. */
#ifndef TCPCHAT_NET_H
#define TCPCHAT_NET_H

#include <ifaddrs.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#define TC_ADDR_STR_MAX 64 /* "[ipv6%scope]:65535" and NUL */
#define TC_ERR_MAX 256

/* Listens on addr (NULL: every interface, IPv6 dual-stack, IPv4 where IPv6
 * is absent) and port, with SO_REUSEADDR, close-on-exec. Returns the fd and
 * writes the bound address (with the real port, for port 0) to bound;
 * -1 with a reason "bind [::]:9999: Address already in use" in err. */
int tc_net_listen(const char *addr, const char *port, int backlog,
                  char bound[TC_ADDR_STR_MAX], char *err, size_t errlen);

/* Connects to host:port, trying every address getaddrinfo gives (family:
 * AF_UNSPEC, AF_INET or AF_INET6) in turn, each for at most timeout_ms
 * (-1: as long as the kernel retries). A numeric host is never looked up
 * on the network, so 127.0.0.1 and ::1 work with loopback only. Blocks.
 * Returns a blocking fd, or -1 with errno and a reason in err ("connect
 * 127.0.0.1:9: Connection refused", "connect 10.0.0.2:9999: timed out
 * after 10 s", "resolve ::1: an IPv6 address, but -4 asks for IPv4"). */
int tc_net_connect_within(const char *host, const char *port, int family,
                          int timeout_ms, char *err, size_t errlen);

/* tc_net_connect_within() with no time bound of its own. */
int tc_net_connect(const char *host, const char *port, int family, char *err,
                   size_t errlen);

/* Sends all len bytes (MSG_NOSIGNAL, EINTR retried). 0, or -1 with errno. */
int tc_net_write_all(int fd, const void *buf, size_t len);

/* Sends all of iov[0..n) (sendmsg, MSG_NOSIGNAL); iov is modified. 0, or
 * -1 with errno. */
int tc_net_writev_all(int fd, struct iovec *iov, size_t n);

/* As tc_net_writev_all(), but while fd has no room it waits for room or
 * for stop_fd to become readable (a signalfd: a user who wants out while
 * the peer reads nothing): then -1 with errno ECANCELED. What went out
 * has its iov_len set to 0, so the same call again sends the rest.
 * stop_fd -1: none, sendmsg blocks. */
int tc_net_writev_until(int fd, struct iovec *iov, size_t n, int stop_fd);

/* Formats sa as "IP:PORT", "[IPv6]:PORT"; an IPv4-mapped IPv6 address is
 * shown as plain IPv4. Returns buf. */
char *tc_net_addr_str(const struct sockaddr *sa, char buf[TC_ADDR_STR_MAX]);

/* The peer's or the local address of fd, as tc_net_addr_str(); "?" when
 * the kernel cannot say. */
char *tc_net_peer_str(int fd, char buf[TC_ADDR_STR_MAX]);
char *tc_net_local_str(int fd, char buf[TC_ADDR_STR_MAX]);

/* How others can join a server that listens on every interface: for each
 * interface in ifs that is up and not loopback, each of its global
 * addresses the listening address bound ("[::]:PORT" dual-stack, or
 * "0.0.0.0:PORT") serves gives one line to say(): "PREFIXjoin with:
 * tcpchat ADDR", plus " PORT" when the port is not the default one; ADDR
 * bare, as tcpchat takes it (an IPv6 link-local address is not global).
 * With none, one line says that only this machine can join. Listening on
 * one address: no line. Returns the number of lines. */
int tc_net_join_hints_from(const struct ifaddrs *ifs,
                           const struct sockaddr *bound, int v6only,
                           const char *prefix, void (*say)(const char *line));

/* tc_net_join_hints_from() for the listening socket lfd and the machine's
 * interfaces (getifaddrs); when the kernel cannot list them, one line to
 * say() names what failed. Returns the number of lines. */
int tc_net_join_hints(int lfd, const char *prefix,
                      void (*say)(const char *line));

#endif
