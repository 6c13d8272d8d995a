/* refuselog: a fixed, 4-way set-associative table of (address, reason) ->
 * when it was last said and how many went unsaid since. A pair hashes to
 * one set of four slots; a new pair takes a free slot or the one said
 * longest ago. O(1) per refusal and no allocation after creation, so a
 * storm of refusals from many addresses costs no more than one. */
#include "tcpchat/refuselog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "tcpchat/cidr.h"

#define WAYS 4
#define SETS (TC_REFUSELOG_SLOTS / WAYS)

struct slot {
	struct tc_cidr addr;
	unsigned reason;
	bool used;
	int64_t said_ns;      /* when it was last said */
	unsigned long unsaid; /* refusals kept quiet since */
};

struct tc_refuselog {
	int64_t window_ns;
	uint64_t seed;
	/* lock guards slots. */
	pthread_mutex_t lock;
	struct slot slots[SETS][WAYS];
};

struct tc_refuselog *
tc_refuselog_new(int64_t window_ns)
{
	struct tc_refuselog *rl = calloc(1, sizeof(*rl));
	struct timespec ts;
	int rc;

	if (rl == NULL)
		return NULL;
	rl->window_ns = window_ns;
	if (getrandom(&rl->seed, sizeof(rl->seed), GRND_NONBLOCK) !=
	    sizeof(rl->seed)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		rl->seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30;
	}
	rc = pthread_mutex_init(&rl->lock, NULL);
	if (rc != 0) {
		free(rl);
		errno = rc;
		return NULL;
	}
	return rl;
}

void
tc_refuselog_free(struct tc_refuselog *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* The slot for (a, reason) in its set: its own, a free one, or the one
 * said longest ago (*fresh: not a's own). Lock held. */
static struct slot *
pick_slot(struct tc_refuselog *rl, const struct tc_cidr *a, unsigned reason,
          bool *fresh)
{
	uint64_t h = tc_cidr_hash(a, rl->seed ^ reason);
	struct slot *set = rl->slots[h % SETS], *victim = &set[0];

	for (int w = 0; w < WAYS; w++) {
		struct slot *s = &set[w];

		if (s->used && s->reason == reason &&
		    tc_cidr_equal(&s->addr, a)) {
			*fresh = false;
			return s;
		}
		if (!s->used)
			victim = s;
		else if (victim->used && s->said_ns < victim->said_ns)
			victim = s;
	}
	*fresh = true;
	return victim;
}

bool
tc_refuselog_should_say(struct tc_refuselog *rl, const struct sockaddr *peer,
                        unsigned reason, int64_t now_ns, unsigned long *unsaid)
{
	struct tc_cidr a;
	struct slot *s;
	bool fresh, say = true;
	unsigned long quiet = 0;

	if (tc_cidr_from_sockaddr(peer, &a) < 0)
		memset(&a, 0, sizeof(a)); /* not IP: all such peers are one */
	pthread_mutex_lock(&rl->lock);
	s = pick_slot(rl, &a, reason, &fresh);
	if (fresh) {
		*s = (struct slot){.addr = a,
		                   .reason = reason,
		                   .used = true,
		                   .said_ns = now_ns};
	} else if (now_ns - s->said_ns >= rl->window_ns) {
		quiet = s->unsaid;
		s->unsaid = 0;
		s->said_ns = now_ns;
	} else {
		s->unsaid++;
		say = false;
	}
	pthread_mutex_unlock(&rl->lock);
	if (say && unsaid != NULL)
		*unsaid = quiet;
	return say;
}
