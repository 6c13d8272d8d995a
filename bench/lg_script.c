/* lg_script: what bench/run.sh asks of tc-loadgen besides scenarios:
 * wait until a server it just started accepts, and a free loopback port. */
#include "loadgen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int
wait_done(struct lg *lg)
{
	return lg->conns[0].state != C_CONNECTING;
}

/* Until the server accepts a connection (it has just been started). */
int
run_wait(struct lg *lg)
{
	struct timespec ts = {0, 50 * 1000000L};

	lg_alloc_conns(lg, 1);
	for (;;) {
		if (conn_start(lg, &lg->conns[0]) == 0) {
			phase_set(lg, NULL, wait_done);
			loop_run(lg, lg->deadline);
			if (lg->conns[0].state == C_OPEN)
				break;
			conn_close(lg, &lg->conns[0]);
		}
		if (now_ns() >= lg->deadline) {
			printf("RESULT wait status=partial\n");
			return 1;
		}
		nanosleep(&ts, NULL); /* nothing listens yet: nothing to poll */
	}
	phase_teardown(lg);
	printf("RESULT wait status=ok\n");
	return 0;
}

/* Prints a free loopback port (for ncat, which cannot be given port 0). */
int
run_port(struct lg *lg)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char port[16];
	int fd = socket(lg->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(&ss, &lg->addr, lg->addrlen);
	((struct sockaddr_in *)&ss)->sin_port = 0; /* same offset in v6 */
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, lg->addrlen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, NULL, 0, port,
	                sizeof(port), NI_NUMERICSERV) != 0) {
		fprintf(stderr, "tc-loadgen: port: %s\n", strerror(errno));
		return 3;
	}
	close(fd);
	printf("%s\n", port);
	return 0;
}
