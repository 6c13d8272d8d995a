/* refuser: a notice, our FIN, a drain to the peer's FIN, close, for each
 * connection the server turns away; see refuser.h for why in that order.
 *
 * The caller sends the notice and the FIN itself (neither blocks on a new
 * socket) and hands the socket over; the refuser's thread then polls the
 * sockets it holds, reads and discards, and closes each at its peer's FIN,
 * an error, or its deadline. */
#include "tcpchat/refuser.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tcpchat/clock.h"
#include "tcpchat/console.h"
#include "tcpchat/net.h"
#include "tcpchat/refuselog.h"

/* What one pass reads from one socket at most: a peer that floods its
 * refused socket must not keep the thread from the others. */
#define DRAIN_PER_PASS (64 * 1024)

struct held {
	int fd;
	int64_t deadline_ns;
};

struct tc_refuser {
	pthread_t tid;
	int wake_fd; /* eventfd: a socket was handed over, or stop */
	struct tc_refuselog *log;
	/* lock guards incoming, n_incoming, n_total and stopping: what the
	 * callers hand to the thread. */
	pthread_mutex_t lock;
	struct held incoming[TC_REFUSER_MAX];
	size_t n_incoming;
	size_t n_total; /* incoming and held: the bound */
	bool stopping;
	/* The thread's own, no lock: the sockets it drains. */
	struct held held[TC_REFUSER_MAX];
	size_t n_held;
};

static const char *const notices[] = {
    [TC_REFUSE_NOT_ALLOWED] = "* error: not allowed\n",
    [TC_REFUSE_TOO_MANY] = "* error: too many connections from your address\n",
    [TC_REFUSE_FULL] = "* error: server full\n",
    [TC_REFUSE_BUSY] = "* error: server busy, try again later\n",
    [TC_REFUSE_NO_MEMORY] = "* error: server out of memory\n",
};

const char *
tc_refusal_notice(enum tc_refusal why)
{
	return notices[why];
}

/* The reason as the console says it: the notice without "* error: ". */
static void
console_reason(enum tc_refusal why, char *buf, size_t len)
{
	const char *text = notices[why] + strlen("* error: ");

	snprintf(buf, len, "%.*s", (int)(strlen(text) - 1), text);
}

/* Reads what fd holds without blocking, at most DRAIN_PER_PASS. True when
 * it is done with: the peer's FIN, or an error (a reset). */
static bool
drain_some(int fd)
{
	char junk[4096];
	size_t total = 0;
	ssize_t n;

	while (total < DRAIN_PER_PASS) {
		n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EINTR;
		total += (size_t)n;
	}
	return false;
}

static void
release_slot(struct tc_refuser *r)
{
	pthread_mutex_lock(&r->lock);
	r->n_total--;
	pthread_mutex_unlock(&r->lock);
}

/* Takes what callers handed over. Returns false when asked to stop. */
static bool
take_incoming(struct tc_refuser *r)
{
	uint64_t count;
	bool stopping;

	(void)read(r->wake_fd, &count, sizeof(count));
	pthread_mutex_lock(&r->lock);
	memcpy(&r->held[r->n_held], r->incoming,
	       r->n_incoming * sizeof(r->incoming[0]));
	r->n_held += r->n_incoming;
	r->n_incoming = 0;
	stopping = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return !stopping;
}

/* How long poll() may sleep: until the earliest deadline held. */
static int
poll_timeout_ms(const struct tc_refuser *r, int64_t now)
{
	int64_t first = INT64_MAX;

	for (size_t i = 0; i < r->n_held; i++)
		if (r->held[i].deadline_ns < first)
			first = r->held[i].deadline_ns;
	if (first == INT64_MAX)
		return -1;
	return first <= now ? 0 : (int)((first - now) / 1000000) + 1;
}

/* Closes held socket i (its last one takes its place). */
static void
close_held(struct tc_refuser *r, size_t i)
{
	close(r->held[i].fd);
	r->held[i] = r->held[--r->n_held];
	release_slot(r);
}

/* One pass over the held sockets after poll() said which are readable. */
static void
serve_held(struct tc_refuser *r, const struct pollfd *pfd, int64_t now)
{
	/* Backwards: close_held() moves the last entry into slot i. */
	for (size_t i = r->n_held; i-- > 0;) {
		bool done = false;

		if (pfd[i + 1].revents != 0)
			done = drain_some(r->held[i].fd);
		if (done || now >= r->held[i].deadline_ns)
			close_held(r, i);
	}
}

static void *
refuser_main(void *arg)
{
	struct tc_refuser *r = arg;
	struct pollfd pfd[TC_REFUSER_MAX + 1];

	pfd[0].fd = r->wake_fd;
	pfd[0].events = POLLIN;
	for (;;) {
		for (size_t i = 0; i < r->n_held; i++) {
			pfd[i + 1].fd = r->held[i].fd;
			pfd[i + 1].events = POLLIN;
			pfd[i + 1].revents = 0;
		}
		if (poll(pfd, r->n_held + 1,
		         poll_timeout_ms(r, tc_clock_now_ns())) == -1 &&
		    errno != EINTR)
			tc_console_printf(stderr, "tcpchatd: refuser: poll: %s",
			                  strerror(errno));
		serve_held(r, pfd, tc_clock_now_ns());
		if ((pfd[0].revents & POLLIN) && !take_incoming(r))
			break;
	}
	while (r->n_held > 0)
		close_held(r, r->n_held - 1);
	return NULL;
}

struct tc_refuser *
tc_refuser_new(void)
{
	struct tc_refuser *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return NULL;
	r->log = tc_refuselog_new(TC_REFUSELOG_WINDOW_NS);
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->log == NULL || r->wake_fd == -1)
		goto fail;
	rc = pthread_mutex_init(&r->lock, NULL);
	if (rc == 0) {
		rc = pthread_create(&r->tid, NULL, refuser_main, r);
		if (rc != 0)
			pthread_mutex_destroy(&r->lock);
	}
	if (rc == 0)
		return r;
	errno = rc;
fail:
	rc = errno;
	if (r->wake_fd != -1)
		close(r->wake_fd);
	tc_refuselog_free(r->log);
	free(r);
	errno = rc;
	return NULL;
}

static void
wake(struct tc_refuser *r)
{
	uint64_t one = 1;

	(void)write(r->wake_fd, &one, sizeof(one));
}

void
tc_refuser_free(struct tc_refuser *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_mutex_unlock(&r->lock);
	wake(r);
	pthread_join(r->tid, NULL);
	/* Handed over after the thread's last look: closed here. */
	for (size_t i = 0; i < r->n_incoming; i++)
		close(r->incoming[i].fd);
	pthread_mutex_destroy(&r->lock);
	close(r->wake_fd);
	tc_refuselog_free(r->log);
	free(r);
}

/* The console line, unless this address was told for this reason within
 * the last minute. */
static void
report(struct tc_refuser *r, const struct sockaddr *peer, enum tc_refusal why,
       const char *detail)
{
	char addr[TC_ADDR_STR_MAX], reason[64], more[48] = "";
	unsigned long unsaid = 0;

	if (peer != NULL && !tc_refuselog_should_say(
	                        r->log, peer, why, tc_clock_now_ns(), &unsaid))
		return;
	if (unsaid > 0)
		snprintf(more, sizeof(more), "; %lu more refused since",
		         unsaid);
	console_reason(why, reason, sizeof(reason));
	tc_console_printf(stderr, "tcpchatd: refused %s: %s%s%s%s%s",
	                  peer != NULL ? tc_net_addr_str(peer, addr) : "?",
	                  reason, detail != NULL ? " (" : "",
	                  detail != NULL ? detail : "",
	                  detail != NULL ? ")" : "", more);
}

/* Hands fd to the thread; false when it holds TC_REFUSER_MAX already. */
static bool
hand_over(struct tc_refuser *r, int fd)
{
	bool taken = false;

	pthread_mutex_lock(&r->lock);
	if (r->n_total < TC_REFUSER_MAX && !r->stopping) {
		r->incoming[r->n_incoming].fd = fd;
		r->incoming[r->n_incoming].deadline_ns =
		    tc_clock_now_ns() + TC_REFUSER_DRAIN_NS;
		r->n_incoming++;
		r->n_total++;
		taken = true;
	}
	pthread_mutex_unlock(&r->lock);
	if (taken)
		wake(r);
	return taken;
}

void
tc_refuser_refuse(struct tc_refuser *r, int fd, const struct sockaddr *peer,
                  enum tc_refusal why, const char *detail)
{
	const char *notice = notices[why];

	report(r, peer, why, detail);
	(void)send(fd, notice, strlen(notice), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)shutdown(fd, SHUT_WR);
	if (hand_over(r, fd))
		return;
	/* Too many refusals at once: read what has come and close. */
	(void)drain_some(fd);
	close(fd);
}
