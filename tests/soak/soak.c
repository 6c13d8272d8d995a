/* Soak: one tcpchatd under a bounded hostile mix for about a minute while
 * two honest clients exchange numbered lines the whole time.
 *
 * The attacks come from this test's own thread, one kind after another in
 * rounds: binary junk, a line of several MiB without LF, resets mid-line
 * and mid-UTF-8, "exit" then more data, slowloris, /nick abuse, random-FIN
 * churn, and clients that never read (cut at --max-queue). Two worker
 * threads, one per honest client, send and read with plain syscalls (the
 * harness is for this thread only) and record what they saw; the test
 * asserts once they are joined: every line of the other, in order, and no
 * raw control byte; the server still runs, and its descriptors and threads
 * come back to where they were before the attacks.
 * TC_SOAK_SECONDS (default 60) sets how long the attacks last. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "harness.h"
#include "safe_char.h"

#define T H_TIMEOUT_MS
#define MAX_QUEUE "512K"
#define HONEST_INTERVAL_MS 2  /* one line per client every 2 ms */
#define DRAIN_MS 60000        /* for the last lines after the attacks */
#define HUGE_LINE (4 << 20)   /* bytes, without LF */
#define HUGE_CHUNK (32 << 10) /* sent every HUGE_PACE_MS: 3.2 MB/s */
#define HUGE_PACE_MS 10
#define MAX_HUGE 4         /* huge-line attacks per soak */
#define NONREADERS 3       /* clients that never read, per huge line */
#define SLOWLORIS 24       /* connections trickling bytes at once */
#define RX_CAP (64 * 1024) /* longest line an honest client expects */
#define MAX_ROUNDS 300     /* of attacks, spread over the soak */

/* One honest client. Its worker thread alone touches fd and the results
 * until it is joined; stop and the two atomics are how the threads talk. */
struct honest {
	const char *name;
	int fd;
	struct honest *peer;
	atomic_bool stop;         /* main: stop sending now */
	atomic_bool done_sending; /* worker: sent is final */
	atomic_long sent;         /* lines sent */
	/* Results, read by the main thread after the join. */
	long got;           /* lines from the peer, each the one expected */
	long other_lines;   /* notices and the attackers' relayed lines */
	long unsafe_lines;  /* lines holding a raw control byte */
	uint64_t bytes_in;  /* bytes received */
	char first_bad[96]; /* why it stopped early, or the first bad line */
	bool failed;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* True when no byte of the line could drive a terminal. */
static bool
terminal_safe(const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t i = 0, k;

	while (i < len) {
		k = safe_char_len(s + i, len - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* The text of honest line number seq: UTF-8 and a TAB, which must arrive
 * byte for byte. */
static int
honest_text(char *buf, size_t len, const char *name, long seq)
{
	return snprintf(buf, len,
	                "%s %ld h\xc3\xa9llo\tw\xc3\xb6rld \xe2\x82\xac", name,
	                seq);
}

static void
honest_fail(struct honest *h, const char *why, const char *line, size_t len)
{
	if (h->failed)
		return;
	h->failed = true;
	snprintf(h->first_bad, sizeof(h->first_bad), "%s: %.*s", why,
	         (int)(len < 48 ? len : 48), line);
}

/* One received line (LF removed). */
static void
honest_line(struct honest *h, const char *line, size_t len)
{
	char want[160], prefix[40];
	int plen, wlen;

	if (!terminal_safe(line, len)) {
		if (h->unsafe_lines++ == 0)
			honest_fail(h, "raw control byte", line, len);
		return;
	}
	plen = snprintf(prefix, sizeof(prefix), "%s: ", h->peer->name);
	if (len < (size_t)plen || memcmp(line, prefix, (size_t)plen) != 0) {
		h->other_lines++;
		return;
	}
	wlen = snprintf(want, sizeof(want), "%s", prefix);
	wlen += honest_text(want + wlen, sizeof(want) - (size_t)wlen,
	                    h->peer->name, h->got);
	if (len != (size_t)wlen || memcmp(line, want, len) != 0) {
		honest_fail(h, "out of order or altered", line, len);
		return;
	}
	h->got++;
}

/* Reads what is there and hands out complete lines; false on EOF/error. */
static bool
honest_read(struct honest *h, char *rx, size_t *rx_len)
{
	ssize_t n = recv(h->fd, rx + *rx_len, RX_CAP - *rx_len, MSG_DONTWAIT);
	char *start = rx, *lf;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		honest_fail(h, n == 0 ? "EOF" : strerror(errno), "", 0);
		return false;
	}
	if (n < 0)
		return true;
	h->bytes_in += (uint64_t)n;
	*rx_len += (size_t)n;
	while ((lf = memchr(start, '\n', *rx_len - (size_t)(start - rx)))) {
		honest_line(h, start, (size_t)(lf - start));
		start = lf + 1;
	}
	*rx_len -= (size_t)(start - rx);
	memmove(rx, start, *rx_len);
	if (*rx_len == RX_CAP) {
		honest_fail(h, "line over 64 KiB", rx, 32);
		return false;
	}
	return true;
}

static bool
honest_send(struct honest *h)
{
	char line[128];
	long seq = atomic_load(&h->sent);
	int n = honest_text(line, sizeof(line) - 1, h->name, seq);

	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w =
		    send(h->fd, line + off, (size_t)(n - off), MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			honest_fail(h, strerror(errno), "", 0);
			return false;
		}
		off += (int)w;
	}
	atomic_store(&h->sent, seq + 1);
	return true;
}

/* Sends a line every HONEST_INTERVAL_MS until told to stop, reading all
 * along; then reads until every line the peer sent has come, or DRAIN_MS. */
static void *
honest_main(void *arg)
{
	struct honest *h = arg;
	char *rx = malloc(RX_CAP);
	int64_t next = now_ms(), deadline = 0, now;
	struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
	size_t rx_len = 0;
	bool sending = true;

	while (rx != NULL) {
		now = now_ms();
		if (sending && atomic_load(&h->stop)) {
			sending = false;
			atomic_store(&h->done_sending, true);
			deadline = now + DRAIN_MS;
		}
		if (!sending && atomic_load(&h->peer->done_sending) &&
		    h->got == atomic_load(&h->peer->sent))
			break;
		if (!sending && now >= deadline) {
			honest_fail(h, "timed out waiting for the last lines",
			            "", 0);
			break;
		}
		if (sending && now >= next) {
			if (!honest_send(h))
				break;
			/* After a long read, catch up without a burst. */
			next = next + HONEST_INTERVAL_MS > now
			           ? next + HONEST_INTERVAL_MS
			           : now + HONEST_INTERVAL_MS;
		}
		if (poll(&pfd, 1,
		         sending && next > now ? (int)(next - now) : 100) < 0 &&
		    errno != EINTR) {
			honest_fail(h, strerror(errno), "", 0);
			break;
		}
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !honest_read(h, rx, &rx_len))
			break;
	}
	if (rx == NULL)
		honest_fail(h, "out of memory", "", 0);
	atomic_store(&h->done_sending, true);
	free(rx);
	return NULL;
}

/* ---- the attacks, from the test's thread ----------------------------- */

struct soak {
	struct h_proc srv;
	size_t srv_from; /* where the next console line is looked for */
	uint64_t rng;
	/* What was done, for the report. */
	long junk, huge, resets, exits, slow_conns, nick_cmds, churns;
	long nonreaders_cut;
	uint64_t bytes_sent;
};

static uint64_t
rnd(struct soak *s)
{
	/* xorshift64: reproducible from the fixed seed. */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static int
attacker(struct soak *s)
{
	int fd = h_connect("127.0.0.1", s->srv.port);

	ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
	return fd;
}

static void
send_all(struct soak *s, int fd, const void *buf, size_t len)
{
	ck_assert_msg(h_send_buf(fd, buf, len, 3 * T) == 0, "send: %s",
	              strerror(errno));
	s->bytes_sent += len;
}

/* FIN, then read to the server's FIN: a close() with unread input would
 * be a reset, and the server would lose what it has not read yet. */
static void
end_with_fin(int fd)
{
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_msg(h_wait_eof(fd, 6 * T) == 0,
	              "no clean FIN from the server");
	h_close(fd);
}

/* 32 KiB of random bytes, NUL, ESC, C1 and broken UTF-8 included. */
static void
attack_junk(struct soak *s)
{
	unsigned char buf[32 * 1024];
	int fd = attacker(s);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rnd(s);
	send_all(s, fd, buf, sizeof(buf));
	end_with_fin(fd);
	s->junk++;
}

/* A reset with half a line, and one in the middle of a character. */
static void
attack_resets(struct soak *s)
{
	static const char *const halves[] = {"half a line, no LF",
	                                     "cut in \xe2\x82"};

	for (int i = 0; i < 2; i++) {
		int fd = attacker(s);

		send_all(s, fd, halves[i], strlen(halves[i]));
		ck_assert_int_eq(h_reset(fd), 0);
		s->resets++;
	}
}

/* "exit", then more: the server must discard it and still close with a
 * FIN, never a reset. Without our FIN the server waits its 5 s for it,
 * so only a few rounds leave it out. */
static void
attack_exit_then_data(struct soak *s, bool then_fin)
{
	static const char more[] = "said exit, still talking\n";
	int fd = attacker(s);

	send_all(s, fd, "exit\n", 5);
	for (int i = 0; i < 200; i++)
		send_all(s, fd, more, sizeof(more) - 1);
	if (then_fin)
		ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_msg(h_wait_eof(fd, 3 * T) == 0,
	              "no clean FIN after exit and more data");
	h_close(fd);
	s->exits++;
}

/* Many connections, one byte on each in turn; then half of them end in
 * the middle of a line, some with a reset. */
static void
attack_slowloris(struct soak *s)
{
	static const char line[] = "slow and steady\n";
	const struct timespec pace = {0, 1000000}; /* the trickle's pace */
	int fds[SLOWLORIS];

	for (int i = 0; i < SLOWLORIS; i++)
		fds[i] = attacker(s);
	for (size_t b = 0; b < sizeof(line) - 1; b++) {
		for (int i = 0; i < SLOWLORIS; i++)
			if (i % 2 == 0 || b < 7)
				send_all(s, fds[i], line + b, 1);
		nanosleep(&pace, NULL);
	}
	for (int i = 0; i < SLOWLORIS; i++) {
		if (i % 4 == 3)
			ck_assert_int_eq(h_reset(fds[i]), 0);
		else
			h_close(fds[i]);
	}
	s->slow_conns += SLOWLORIS;
}

/* Bad and taken nicks: each must get its own error, and /who must still
 * show the honest clients under their names. */
static void
attack_nicks(struct soak *s)
{
	static const char *const bad[] = {
	    "/nick\n",
	    "/nick two words\n",
	    "/nick al\x1b[2Jice\n",
	    "/nick \xc2\x9b\x31m\n",
	    "/nick 0123456789012345678901234567890123\n",
	    "/nick bell\x07\n",
	    "/nick alice\n",
	    "/nick bob\n",
	};
	char buf[8192];
	int fd = attacker(s), errors = 0;
	size_t n = sizeof(bad) / sizeof(bad[0]);
	ssize_t r;

	for (size_t i = 0; i < n; i++)
		send_all(s, fd, bad[i], strlen(bad[i]));
	send_all(s, fd, "/who\n", 5);
	s->nick_cmds += (long)n;
	for (;;) {
		r = h_read_line(fd, buf, sizeof(buf), T);
		ck_assert_msg(r >= 0, "/nick attack: %s", h_result_str(r));
		ck_assert_msg(terminal_safe(buf, (size_t)r),
		              "raw control byte in a reply: %s", buf);
		errors += strncmp(buf, "* error: ", 9) == 0;
		if (strstr(buf, " online: ") != NULL)
			break;
	}
	ck_assert_int_eq(errors, (int)n);
	ck_assert_msg(strstr(buf, ", alice") && strstr(buf, ", bob"),
	              "/who lost an honest client: %s", buf);
	h_close(fd);
}

/* Connections that end at random moments, always with a FIN. */
static void
attack_churn(struct soak *s)
{
	for (int i = 0; i < 8; i++) {
		int fd = attacker(s);

		s->churns++;
		switch (rnd(s) % 4) {
		case 0: /* connect and go */
			break;
		case 1: /* a line, then FIN, and read to the end */
			send_all(s, fd, "passing by\n", 11);
			end_with_fin(fd);
			continue;
		case 2: /* a last line without LF at the FIN */
			send_all(s, fd, "no newline", 10);
			shutdown(fd, SHUT_WR);
			break;
		default: /* a final "exit" without LF */
			send_all(s, fd, "exit", 4);
			end_with_fin(fd);
			continue;
		}
		h_close(fd);
	}
}

/* A line of several MiB without LF, while NONREADERS clients never read:
 * the server splits and relays it, and cuts each of them at --max-queue.
 * Most of it is control bytes, so escaping makes it 2.6 times larger:
 * past the 4 MiB the kernel may buffer toward each of them. It is sent
 * at a pace the honest clients can read: with no flood control (none yet,
 * or --rate 0) a burst faster than a reader reads cuts that reader too. */
static void
attack_huge_line(struct soak *s)
{
	static const char text[] = "ab\xe2\x82\xac\x01\x02\x03\x1b\x9b\x7f";
	const struct timespec pace = {0, HUGE_PACE_MS * 1000000L};
	char *buf = malloc(HUGE_LINE);
	int quiet[NONREADERS], fd;

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < HUGE_LINE; i++)
		buf[i] = text[i % (sizeof(text) - 1)];
	for (int i = 0; i < NONREADERS; i++) {
		quiet[i] = h_connect_opt("127.0.0.1", s->srv.port, 4096);
		ck_assert_int_ge(quiet[i], 0);
	}
	fd = attacker(s);
	for (size_t off = 0; off < HUGE_LINE; off += HUGE_CHUNK) {
		send_all(s, fd, buf + off, HUGE_CHUNK);
		nanosleep(&pace, NULL);
	}
	free(buf);
	end_with_fin(fd);
	for (int i = 0; i < NONREADERS; i++) {
		ck_assert_msg(h_wait_output(&s->srv, 1, "(too slow: over ",
		                            &s->srv_from, 6 * T) == 0,
		              "a client that never reads was not cut off");
		s->nonreaders_cut++;
	}
	for (int i = 0; i < NONREADERS; i++)
		h_close(quiet[i]);
	s->huge++;
}

static void
attack_round(struct soak *s, int round)
{
	attack_junk(s);
	attack_resets(s);
	attack_exit_then_data(s, round % 150 != 1);
	attack_churn(s);
	if (round % 4 == 1)
		attack_slowloris(s);
	if (round % 4 == 3)
		attack_nicks(s);
	if (round % (MAX_ROUNDS / MAX_HUGE) == 2)
		attack_huge_line(s);
}

/* Rounds spread over the soak's time, MAX_ROUNDS at most: a few thousand
 * connections a minute, well within the ports that TIME_WAIT holds. */
static int
attack_rounds(struct soak *s, long secs)
{
	int64_t start = now_ms(), end = start + secs * 1000, next;
	int round;

	for (round = 0; round < MAX_ROUNDS && now_ms() < end; round++) {
		attack_round(s, round);
		next = start + (round + 1) * secs * 1000 / MAX_ROUNDS;
		if (next > now_ms()) {
			int64_t ms = next - now_ms();
			struct timespec pace = {ms / 1000,
			                        (long)(ms % 1000) * 1000000L};

			nanosleep(&pace, NULL);
		}
	}
	return round;
}

/* ---- set-up and the test itself ------------------------------------- */

/* --rate 0 where the server has flood control: the honest clients send
 * faster than people type. */
static bool
server_has_rate_option(void)
{
	const char *argv[] = {getenv("TCPCHATD"), "--help", NULL};
	struct h_proc p;
	bool has;

	ck_assert_ptr_nonnull(argv[0]);
	ck_assert_int_eq(h_spawn(&p, argv), 0);
	ck_assert_int_eq(h_wait_stream_eof(&p, 1, T), 0);
	has = strstr(p.out, "--rate") != NULL;
	ck_assert_int_eq(h_wait_exit(&p, T), 0);
	return has;
}

static void
honest_join(struct honest *h, const char *name, int port)
{
	char cmd[64];

	memset(h, 0, sizeof(*h));
	h->name = name;
	h->fd = h_connect("127.0.0.1", port);
	ck_assert_int_ge(h->fd, 0);
	snprintf(cmd, sizeof(cmd), "/nick %s\n", name);
	ck_assert_int_eq(h_send(h->fd, cmd), 0);
	ck_assert_int_eq(
	    h_expect_line(h->fd, h_fmt("* you are now %s", name), T), 0);
}

static long
soak_seconds(void)
{
	const char *env = getenv("TC_SOAK_SECONDS");
	long v = env != NULL ? strtol(env, NULL, 10) : 0;

	return v > 0 ? v : 60;
}

static void
report(const struct soak *s, const struct honest *h, long secs, int rounds,
       int fds, int threads)
{
	fprintf(stderr,
	        "soak: %lds, %d rounds; alice sent %ld and got %ld of bob's, "
	        "bob sent %ld and got %ld of alice's (%llu + %llu bytes "
	        "in)\n",
	        secs, rounds, atomic_load(&h[0].sent), h[1].got,
	        atomic_load(&h[1].sent), h[0].got,
	        (unsigned long long)h[0].bytes_in,
	        (unsigned long long)h[1].bytes_in);
	fprintf(stderr,
	        "soak: attacks: %ld junk, %ld huge lines, %ld resets, %ld "
	        "exit+data, %ld slowloris conns, %ld /nick, %ld churn, %ld "
	        "non-readers cut; %llu bytes sent\n",
	        s->junk, s->huge, s->resets, s->exits, s->slow_conns,
	        s->nick_cmds, s->churns, s->nonreaders_cut,
	        (unsigned long long)s->bytes_sent);
	for (const char *l = s->srv.out; l != NULL && *l != '\0';) {
		const char *lf = strchr(l, '\n');
		int n = lf != NULL ? (int)(lf - l) : (int)strlen(l);

		if (memmem(l, (size_t)n, "left (", 6) != NULL)
			fprintf(stderr, "soak: console: %.*s\n", n, l);
		l = lf != NULL ? lf + 1 : NULL;
	}
	fprintf(stderr, "soak: server fds %d -> %d, threads %d -> %d\n", fds,
	        h_count_fds(s->srv.pid), threads, h_count_threads(s->srv.pid));
}

START_TEST(test_soak_honest_clients_lose_nothing_under_attack)
{
	const char *args[] = {"-q", "--max-queue", MAX_QUEUE, NULL, NULL, NULL};
	struct soak s;
	struct honest h[2];
	pthread_t tid[2];
	int fds, threads, rounds;
	bool back;
	long secs = soak_seconds();

	memset(&s, 0, sizeof(s));
	s.rng = 0x9e3779b97f4a7c15ULL;
	if (server_has_rate_option()) {
		args[3] = "--rate";
		args[4] = "0";
	}
	ck_assert_int_eq(h_server_start(&s.srv, args), 0);
	honest_join(&h[0], "alice", s.srv.port);
	honest_join(&h[1], "bob", s.srv.port);
	h[0].peer = &h[1];
	h[1].peer = &h[0];
	/* The console line makes the console's thread exist before we count,
	 * and is the last line either client gets before its worker starts. */
	ck_assert_int_eq(h_write(&s.srv, "sync\n"), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(h_expect_line(h[i].fd, "server: sync", T), 0);
	fds = h_count_fds(s.srv.pid);
	threads = h_count_threads(s.srv.pid);
	ck_assert_int_gt(fds, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(
		    pthread_create(&tid[i], NULL, honest_main, &h[i]), 0);

	rounds = attack_rounds(&s, secs);
	ck_assert_msg(h_running(&s.srv), "tcpchatd died under attack");

	for (int i = 0; i < 2; i++)
		atomic_store(&h[i].stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	/* Every attacker has gone: the server's connections wind down. */
	back = h_wait_counts(s.srv.pid, fds, threads, 6 * T) == 0;
	report(&s, h, secs, rounds, fds, threads);

	for (int i = 0; i < 2; i++) {
		ck_assert_msg(!h[i].failed, "%s: %s", h[i].name,
		              h[i].first_bad);
		ck_assert_int_eq(h[i].unsafe_lines, 0);
		ck_assert_int_eq(h[i].got, atomic_load(&h[i].peer->sent));
		ck_assert_int_gt(h[i].got, 0);
	}
	ck_assert_int_eq(s.nonreaders_cut, s.huge * NONREADERS);
	ck_assert_int_gt(s.huge, 0);
	ck_assert_msg(back, "fds or threads of tcpchatd not back to %d, %d",
	              fds, threads);
	ck_assert_msg(strstr(s.srv.out, "alice left") == NULL &&
	                  strstr(s.srv.out, "bob left") == NULL,
	              "an honest client was cut off");

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(h_send(h[i].fd, "exit\n"), 0);
		ck_assert_int_eq(h_wait_eof(h[i].fd, 3 * T), 0);
		h_close(h[i].fd);
	}
	h_kill(&s.srv, SIGTERM);
	ck_assert_int_eq(h_wait_exit(&s.srv, 3 * T), 0);
}
END_TEST

Suite *
tc_test_suite(void)
{
	Suite *s = suite_create("soak");
	TCase *tc = tcase_create("soak");

	/* The attacks last TC_SOAK_SECONDS; the rest is set-up and drain. */
	tcase_set_timeout(tc, (double)soak_seconds() + 240);
	tcase_add_test(tc, test_soak_honest_clients_lose_nothing_under_attack);
	suite_add_tcase(s, tc);
	return s;
}
