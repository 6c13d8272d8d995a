/* ratelimit: a client's flood budget, in lines and in bytes at once.
 *
 * A token bucket kept as the time its budget will be whole again (GCRA):
 * no timer, no thread, integer nanoseconds. The clock is the caller's
 * (CLOCK_MONOTONIC in the server, any numbers in tests). A bucket has one
 * owner, the connection's reader thread: it has no lock. */
#ifndef TCPCHAT_RATELIMIT_H
#define TCPCHAT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TC_RATE_MAX 1000000          /* lines a second, and burst lines */
#define TC_RATE_BYTES_MAX 1000000000 /* bytes a second, and burst bytes */

/* The byte budget that goes with --rate and --burst (tc_rate_init_lines):
 * 3 KiB a second for every line a second, 320 bytes for every line of
 * burst; at the defaults (20 lines/s, 200 lines) 60 KiB/s and 62.5 KiB.
 *
 * Why so: another client receives each line as "NAME: " + the text
 * escaped + LF, and escaping turns a junk byte into four ("\xNN"). With a
 * name of at most 63 bytes, one flooder at the defaults can put at most
 *   burst:  4 * 64000 + 200 * 66  = 269 KB at once, and
 *   rate:   4 * 61440 +  20 * 66  = 247 KB every second after
 * into a reader's queue (a message that would overdraw the budget waits
 * until it is paid for). A reader that takes 1 MB/s drains that faster
 * than it comes, so its queue never passes 26% of the default 1 MiB
 * --max-queue: even three flooders at once (807 KB, then 741 KB/s) cannot
 * get it cut off. People typing stay far below; a paste of 200 lines of
 * 300 characters goes out unslowed. */
#define TC_RATE_BYTES_PER_LINE 3072
#define TC_RATE_BURST_BYTES_PER_LINE 320

/* Plain value type; fields are private to ratelimit.c. */
struct tc_rate {
	uint64_t rate, byte_rate;    /* per second; 0: that bound is off */
	int64_t tau_ns, byte_tau_ns; /* how far ahead of now tat may run */
	int64_t tat_ns, byte_tat_ns; /* when the budget is whole again */
	bool slowing;                /* in an episode of being slowed */
	bool episode_unseen;         /* it began; not yet told */
};

/* A full bucket at now_ns: burst lines at once, then rate a second, and
 * likewise for bytes. rate 0 turns the whole bucket off (tc_rate_take()
 * always returns 0); byte_rate 0 turns off the byte bound only. Values
 * above TC_RATE_MAX and TC_RATE_BYTES_MAX are cut to them. */
void tc_rate_init(struct tc_rate *b, unsigned rate, unsigned burst,
                  uint64_t byte_rate, uint64_t byte_burst, int64_t now_ns);

/* tc_rate_init() with the byte budget above derived from rate and burst:
 * the server's bucket for --rate and --burst. */
void tc_rate_init_lines(struct tc_rate *b, unsigned rate, unsigned burst,
                        int64_t now_ns);

/* Charges lines and bytes that have arrived (always: what was received is
 * never refused) and returns how many nanoseconds the caller must wait
 * before acting on them: 0 while within the budget. The reader calls it
 * for each framed message, and before relaying it sleeps that long,
 * without reading: TCP's flow control then slows the sender down. With
 * lines and bytes 0 it only says how long the budget is still in debt. */
int64_t tc_rate_take(struct tc_rate *b, size_t lines, size_t bytes,
                     int64_t now_ns);

/* True once for each episode of slowing: the first call after a
 * tc_rate_take() that made a client with a whole budget (or one back to
 * whole since its last episode) wait. For "NAME is sending too fast". */
bool tc_rate_new_episode(struct tc_rate *b);

#endif
