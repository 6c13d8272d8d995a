/* lg_server: the server's process as /proc shows it (-P PID): memory,
 * threads and descriptors, counted with the tests' harness_counters. */
#include "harness_counters.h"
#include "loadgen.h"

#include <time.h>

int
proc_snap(unsigned long pid, struct procsnap *s)
{
	s->rss_kib = s->threads = s->fds = -1;
	if (pid == 0)
		return -1;
	s->threads = h_count_threads((pid_t)pid);
	if (s->threads < 0)
		return -1;
	s->rss_kib = h_status_field((pid_t)pid, "VmRSS");
	s->fds = h_count_fds((pid_t)pid);
	return 0;
}

int
proc_back_to(unsigned long pid, const struct procsnap *base, long keep,
             struct procsnap *now)
{
	uint64_t deadline = now_ns() + 5 * NS_PER_S;
	struct timespec ts = {0, 20 * 1000000L};

	for (;;) {
		if (proc_snap(pid, now) < 0)
			return 0;
		if (now->fds <= base->fds &&
		    now->threads <= base->threads + keep)
			return 1;
		if (now_ns() >= deadline)
			return 0;
		nanosleep(&ts, NULL); /* polling /proc: nothing to wait on */
	}
}
