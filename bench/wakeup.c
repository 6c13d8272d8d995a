/*
 * tc-wakeup: what waking N sleeping threads costs on this machine, the way
 * a tcpchatd broadcast wakes its writers. N threads each sleep on a futex
 * word of their own (as on an outq) and on one shared word (the doorbell);
 * the main thread wakes them all, round after round, either with one
 * FUTEX_WAKE per thread or with one FUTEX_WAKE on the shared word, and
 * waits until every thread has run before the next round. Prints the wall
 * time per round and the process's CPU time per woken thread for both.
 *
 *   tc-wakeup [-n THREADS] [-r ROUNDS]      (defaults: 50 threads, 5000)
 *
 * Bounded: ROUNDS rounds, and at most 60 s for each way.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 1000
#define TIME_LIMIT_S 60.0

struct sleeper {
	_Alignas(64) atomic_uint word; /* its own futex word */
	pthread_t t;
};

static struct sleeper sleepers[MAX_THREADS];
static atomic_uint bell; /* the shared word */
static atomic_uint round_no;
static atomic_uint ran; /* sleepers done with the current round */
static atomic_bool stop;

static void
futex_wake(atomic_uint *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Sleeps on its own word and the bell at once, as an outq writer does. */
static void *
sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	unsigned seen = 0;

	while (!atomic_load(&stop)) {
		struct futex_waitv w[2];

		memset(w, 0, sizeof(w));
		w[0].val = atomic_load(&s->word);
		w[0].uaddr = (uintptr_t)&s->word;
		w[0].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
		w[1].val = atomic_load(&bell);
		w[1].uaddr = (uintptr_t)&bell;
		w[1].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
		if (atomic_load(&round_no) == seen)
			syscall(SYS_futex_waitv, w, 2, 0, NULL,
			        CLOCK_MONOTONIC);
		if (atomic_load(&round_no) != seen) {
			seen = atomic_load(&round_no);
			atomic_fetch_add(&ran, 1);
			futex_wake(&ran);
		}
	}
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Waits until all n sleepers have run this round. */
static void
wait_all_ran(unsigned n)
{
	unsigned r;

	while ((r = atomic_load(&ran)) < n)
		syscall(SYS_futex, &ran, FUTEX_WAIT_PRIVATE, r, NULL, NULL, 0);
}

static void
run(const char *how, bool one_wake, unsigned n, unsigned rounds)
{
	double t0 = now_s(), c0 = cpu_s(), t;
	unsigned done = 0;

	while (done < rounds && now_s() - t0 < TIME_LIMIT_S) {
		atomic_store(&ran, 0);
		atomic_fetch_add(&round_no, 1);
		if (one_wake) {
			atomic_fetch_add(&bell, 1);
			futex_wake(&bell);
		} else {
			for (unsigned i = 0; i < n; i++) {
				atomic_fetch_add(&sleepers[i].word, 1);
				futex_wake(&sleepers[i].word);
			}
		}
		wait_all_ran(n);
		done++;
	}
	t = now_s() - t0;
	printf("%-28s %u rounds: %8.1f us per round, %6.2f us CPU per woken "
	       "thread\n",
	       how, done, t / done * 1e6, (cpu_s() - c0) / done / n * 1e6);
}

int
main(int argc, char **argv)
{
	unsigned long n = 50, rounds = 5000;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		if (opt == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (opt == 'r')
			rounds = strtoul(optarg, NULL, 10);
		else
			goto usage;
	}
	if (n == 0 || n > MAX_THREADS || rounds == 0)
		goto usage;
	if (syscall(SYS_futex_waitv, NULL, 0, 0, NULL, 0) == -1 &&
	    errno != EINVAL) {
		fprintf(stderr, "tc-wakeup: futex_waitv: %s\n",
		        strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		errno = pthread_create(&sleepers[i].t, NULL, sleeper_main,
		                       &sleepers[i]);
		if (errno != 0) {
			fprintf(stderr, "tc-wakeup: pthread_create: %s\n",
			        strerror(errno));
			return 1;
		}
	}
	printf("%lu sleeping threads, %ld CPUs online\n", n,
	       sysconf(_SC_NPROCESSORS_ONLN));
	run("one FUTEX_WAKE per thread", false, (unsigned)n, (unsigned)rounds);
	run("one FUTEX_WAKE for all", true, (unsigned)n, (unsigned)rounds);
	atomic_store(&stop, true);
	atomic_fetch_add(&round_no, 1);
	atomic_fetch_add(&bell, 1);
	futex_wake(&bell);
	for (unsigned i = 0; i < n; i++)
		pthread_join(sleepers[i].t, NULL);
	return 0;
usage:
	fprintf(stderr, "usage: tc-wakeup [-n THREADS (1-%d)] [-r ROUNDS]\n",
	        MAX_THREADS);
	return 2;
}
