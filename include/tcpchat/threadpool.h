/* threadpool: a thread cache. A thread whose job has returned parks and
 * takes the next job instead of exiting, so that starting a job usually
 * costs a hand-off, not a pthread_create() and later an exit.
 *
 * It is not a work queue: every job gets a thread of its own at once,
 * parked or new, and runs to its end on it; nothing ever waits for a free
 * thread. At most max_parked threads park; one more leaves. A thread
 * parked longer than idle_ns leaves, so a burst does not pin its threads
 * for the process's life. The most recently parked thread is handed the
 * next job: the others stay idle, and so are the ones that time out. */
#ifndef TCPCHAT_THREADPOOL_H
#define TCPCHAT_THREADPOOL_H

#include <stddef.h>
#include <stdint.h>

struct tc_pool;

/* New pool whose threads have stacks of stack_size bytes (0: the
 * system's default), park at most max_parked of them (0: none, every job
 * gets a new thread that exits after it) and leave after idle_ns parked.
 * NULL with errno (EINVAL: stack_size too small, ENOMEM). */
struct tc_pool *tc_pool_new(unsigned max_parked, size_t stack_size,
                            int64_t idle_ns);

/* Runs fn(arg) on a parked thread, or on a new one when none is parked;
 * fn's return value is ignored. The thread keeps the creator's signal
 * mask. Returns 0, or pthread_create()'s error number when no thread was
 * parked and none could be created: fn did not run then, and the pool
 * goes on. Any thread; never blocks on another job. */
int tc_pool_run(struct tc_pool *pool, void *(*fn)(void *), void *arg);

/* Runs first(first_arg) and second(second_arg), each on a thread of its
 * own, as tc_pool_run() does, or neither: for two jobs that are no use
 * one without the other. first is handed over, and woken, first. Returns
 * 0, or the error number of the thread that could not be created: then
 * neither job ran. */
int tc_pool_run_pair(struct tc_pool *pool, void *(*first)(void *),
                     void *first_arg, void *(*second)(void *),
                     void *second_arg);

/* How many threads are parked now. Any thread. */
unsigned tc_pool_parked(struct tc_pool *pool);

/* Ends the parked threads and joins them, after waiting for the jobs
 * still running to return: call once nothing will start a job again and
 * every job is known to be about to end (blocks until they have). NULL is
 * a no-op. */
void tc_pool_free(struct tc_pool *pool);

#endif
