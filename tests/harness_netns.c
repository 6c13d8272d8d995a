/* harness_netns: a network namespace of a test's own, with only lo, for
 * tests of a machine without a network (harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

int
h_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n, len = (ssize_t)strlen(text);

	if (fd == -1)
		return -1;
	n = write(fd, text, (size_t)len);
	close(fd);
	return n == len ? 0 : -1;
}

/* Maps our uid and gid to root in the new user namespace, so that the
 * namespace's own /proc/sys/net files are ours to write. */
static int
map_ids(uid_t uid, gid_t gid)
{
	char map[64];

	if (h_write_file("/proc/self/setgroups", "deny") == -1 &&
	    errno != ENOENT)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (h_write_file("/proc/self/uid_map", map) == -1)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	return h_write_file("/proc/self/gid_map", map);
}

/* A new network namespace starts with lo down. */
static int
bring_lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

int
h_enter_loopback_only(const char **step)
{
	uid_t uid = getuid();
	gid_t gid = getgid();

	*step = "unshare";
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
		*step = "uid_map";
		if (map_ids(uid, gid) == -1)
			return -1;
	} else if (unshare(CLONE_NEWNET) == -1) {
		return -1;
	}
	*step = "bring lo up";
	return bring_lo_up();
}
