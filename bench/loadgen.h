/* loadgen: what the files of tc-loadgen share.
 *
 * The framework: one epoll loop that drives every client socket and the
 * phases every scenario shares (lg_loop.c), the RESULT line and its
 * latency figures (lg_results.c), the message tokens (lg_token.c) and the
 * server's /proc counters (lg_server.c). Each scenario is a run_* function
 * in a file of its own; loadgen.c parses the options and picks one. */
#ifndef TCPCHAT_BENCH_LOADGEN_H
#define TCPCHAT_BENCH_LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL
#define RBUF_LEN 65536
#define MAX_MSG 4000 /* under tcpchatd's default --max-line 4096 */
#define RETRY_NS (20 * NS_PER_MS)

enum conn_state { C_IDLE, C_CONNECTING, C_OPEN, C_CLOSED };

/* One client socket. Only the loop thread touches it, except bystanders
 * while the drain thread owns their fds (latency, between the handoffs). */
struct conn {
	int fd;
	enum conn_state state;
	uint32_t idx;
	uint32_t gen;    /* bumped per socket: stale epoll events are dropped */
	uint32_t events; /* epoll interest now registered */
	unsigned registered : 1;
	unsigned reading : 1; /* wants EPOLLIN; 0 for the slow client */
	unsigned greeted : 1; /* first byte from the server arrived */
	unsigned pending : 1; /* in the connector's in-flight set */
	unsigned sync_member : 1;
	unsigned synced : 1;
	unsigned discard : 1; /* count bytes, parse no lines */
	unsigned shut_after_flush : 1;
	unsigned wr_shut : 1;
	unsigned overlong : 1;
	unsigned got : 1; /* hold: the final line arrived */
	unsigned hup : 1; /* a non-reading socket reported ERR/HUP */
	int err;
	int rcvbuf; /* SO_RCVBUF before connect, 0 = the kernel's */
	uint32_t attempts;
	size_t pend_pos;
	uint64_t t_start;
	uint64_t retry_at;
	uint64_t cycle;
	uint64_t rx_bytes;
	char *carry;
	size_t carry_len, carry_cap;
	char *out;
	size_t out_off, out_len, out_cap;
};

struct opts {
	const char *host, *port, *label;
	unsigned long count, warmup, bystanders, clients, messages, size;
	unsigned long jobs, window, inflight, max_time_s;
	unsigned long pid;  /* 0: none */
	unsigned long keep; /* threads the server may keep parked (-k) */
	int slow;
};

struct samples {
	uint32_t *v; /* units of 100 ns, clamped to ~429 s */
	size_t n, cap;
};

/* Paces connects: at most `limit` sockets between connect() and the
 * server's first byte, so a short listen backlog (ncat: 10) never drops
 * SYNs; failed connects retry with a linear back-off. */
struct connector {
	size_t next, hi, joined, failed, nogreet, limit;
	struct conn **pend;
	size_t n_pend;
	struct conn **retry;
	size_t n_retry;
};

struct lg {
	struct opts o;
	int epfd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int family;
	struct conn *conns;
	size_t n_conns, n_open;
	char *rbuf;
	uint64_t deadline; /* the hard cap of the whole run */
	uint64_t t_last_rx;
	uint64_t dropped, connect_errors, overlong;
	int last_connect_err;
	int tearing_down;
	struct connector cn;
	/* sync barrier */
	struct conn *sync_from;
	const char *sync_line;
	size_t n_synced, n_sync_want;
	uint64_t next_sync;
	/* the running phase */
	void (*on_line)(struct lg *, struct conn *, char *, size_t);
	void (*on_open)(struct lg *, struct conn *);
	void (*on_eof)(struct lg *, struct conn *, int);
	void (*on_fail)(struct lg *, struct conn *, int);
	void (*tick)(struct lg *);
	int (*done)(struct lg *);
	void *scen;
};

/* ---- the loop and its connections (lg_loop.c) -------------------------- */

uint64_t now_ns(void);
void *xrealloc(void *p, size_t n); /* exit 3 when out of memory */
void *xcalloc(size_t n, size_t size);

static inline uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Resolves -H/-p, creates the epoll and sets the run's hard cap. */
void lg_init(struct lg *lg);
void lg_free(struct lg *lg);
/* conns[0, n), all idle. */
void lg_alloc_conns(struct lg *lg, size_t n);

/* Starts a non-blocking connect; the loop finishes it on EPOLLOUT.
 * Returns -1 with errno when connect() fails at once. */
int conn_start(struct lg *lg, struct conn *c);
void conn_close(struct lg *lg, struct conn *c);
/* Registers the epoll interest that c's state and queue call for. */
void conn_interest(struct lg *lg, struct conn *c);
/* Queues len bytes behind whatever c still has to send and sends what the
 * socket takes now. */
void conn_send(struct lg *lg, struct conn *c, const char *buf, size_t len);
/* Sends "exit\n" then the FIN once it is out, as the clients do. */
void conn_exit(struct lg *lg, struct conn *c);

/* The running phase: tick before every wait, done ends loop_run. */
void phase_set(struct lg *lg, void (*tick)(struct lg *),
               int (*done)(struct lg *));
/* Runs the loop until lg->done() or the deadline (never past the hard cap
 * unless the caller allows it: teardown). Returns 1 when done. */
int loop_run(struct lg *lg, uint64_t deadline);

/* Connects conns[lo, hi) with paced connects; 1 when all joined. */
int phase_connect(struct lg *lg, size_t lo, size_t hi, uint64_t deadline);
/* A barrier: from sends `mark` until every other conn in [lo, hi) saw it,
 * so the server has registered them all before anything is measured.
 * Returns the time it took in ns, or 0 on timeout. */
uint64_t phase_sync(struct lg *lg, struct conn *from, size_t lo, size_t hi,
                    const char *mark, uint64_t deadline);
/* Every open client sends "exit", its FIN, and reads to the server's FIN;
 * what is still open a few seconds later is closed. Returns those left. */
size_t phase_teardown(struct lg *lg);

/* ---- results (lg_results.c) --------------------------------------------- */

void samples_add(struct samples *s, uint64_t ns);
void samples_sort(struct samples *s);
/* Nearest-rank percentile in microseconds (-1 when empty); s sorted. */
double samples_pct_us(const struct samples *s, double q);

/* The one RESULT line of a scenario: begin, " key=value" pairs, end.
 * result_end returns the exit status: 0 complete, 1 partial. */
void result_begin(struct lg *lg, const char *scen);
__attribute__((format(printf, 1, 2))) void kv(const char *fmt, ...);
/* samples, p50, p99, p99.9, max and mean (sorts s). */
void kv_latency(struct samples *s);
int result_end(struct lg *lg, int complete);

/* ---- message tokens (lg_token.c) ---------------------------------------- */

struct tok {
	uint32_t sender, seq;
	uint64_t ns;
};

/* Writes "#Tsender.seq.ns.chk#" padded with 'x' to size bytes, then LF,
 * into buf (at least MAX_MSG + 64 bytes). Returns the bytes written. */
size_t tok_format(char *buf, uint32_t sender, uint32_t seq, uint64_t ns,
                  size_t size);

/* Classifies a line. TOK_OK: one intact message of ours after the
 * server's prefix (which ends in a space); TOK_BARE: exactly our text with
 * no prefix at all, so no reader can tell who sent it (ncat --chat prefixes
 * only the first line of each read); TOK_NONE: not ours; TOK_TORN:
 * anything else holding "#T", a message cut or spliced with another. */
enum tok_kind { TOK_NONE, TOK_OK, TOK_BARE, TOK_TORN };
enum tok_kind tok_parse(const char *line, size_t len, size_t size,
                        struct tok *t);

/* ---- the server's process, read from /proc (lg_server.c) ---------------- */

struct procsnap {
	long rss_kib, threads, fds;
};

/* The server's VmRSS (KiB), threads and fds; all -1, and -1 returned,
 * when pid is 0 or gone. */
int proc_snap(unsigned long pid, struct procsnap *s);
/* Polls the server until its fds are back to base and its threads to at
 * most base plus keep (threads a thread cache keeps parked for the next
 * clients), for up to 5 s: a server frees a session a little after its
 * FIN. 1 when they are; the last figures in *now either way. */
int proc_back_to(unsigned long pid, const struct procsnap *base, long keep,
                 struct procsnap *now);

/* ---- the scenarios: each prints its RESULT line, returns the status ---- */

int run_latency(struct lg *lg); /* lg_latency.c */
int run_fanout(struct lg *lg);  /* lg_fanout.c; "slow" with -S */
int run_hold(struct lg *lg);    /* lg_hold.c */
int run_churn(struct lg *lg);   /* lg_churn.c */
int run_wait(struct lg *lg);    /* lg_script.c: helpers for run.sh */
int run_port(struct lg *lg);

#endif
