/* progress: how far a peer has got with what we sent it, as the kernel
 * counts it. A peer that reads, however slowly, keeps acknowledging; one
 * whose count stands still has stopped. */
#ifndef TCPCHAT_PROGRESS_H
#define TCPCHAT_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct tc_progress {
	uint64_t acked; /* bytes the peer acknowledged, ever */
	size_t unacked; /* bytes in our send buffer: unsent or unacked */
};

/* Reads fd's counts. 0, or -1 with errno (not a TCP socket, closed). */
int tc_progress_read(int fd, struct tc_progress *p);

#endif
