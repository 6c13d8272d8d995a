/* progress: TCP_INFO's acknowledged-bytes counter and SIOCOUTQ. The
 * kernel's struct tcp_info is used rather than glibc's, which lacks
 * tcpi_bytes_acked (Linux 4.1). */
#include "tcpchat/progress.h"

#include <netinet/in.h>

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int
tc_progress_read(int fd, struct tc_progress *p)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int queued = 0;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    ioctl(fd, SIOCOUTQ, &queued) == -1)
		return -1;
	p->acked = ti.tcpi_bytes_acked;
	p->unacked = queued > 0 ? (size_t)queued : 0;
	return 0;
}
