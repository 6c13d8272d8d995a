/* peercount: an open-addressing hash table (linear probing, kept at most
 * half full, backward-shift deletion: no tombstones) from a normalised
 * address to its number of connections. An address leaves the table when
 * its last connection ends, so the table never holds more entries than
 * there are connections. The hash is seeded from getrandom(). */
#include "tcpchat/peercount.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "tcpchat/cidr.h"

struct slot {
	struct tc_cidr addr;
	unsigned n; /* 0: the slot is free */
};

struct tc_peercount {
	unsigned max_per_ip;
	uint64_t seed;
	/* lock guards slots, cap and used. */
	pthread_mutex_t lock;
	struct slot *slots;
	size_t cap; /* a power of two */
	size_t used;
};

static uint64_t
random_seed(void)
{
	uint64_t seed;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed))
		return seed;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct tc_peercount *
tc_peercount_new(unsigned max_per_ip)
{
	struct tc_peercount *pc = calloc(1, sizeof(*pc));
	int rc;

	if (pc == NULL)
		return NULL;
	pc->max_per_ip = max_per_ip;
	pc->seed = random_seed();
	pc->cap = 64;
	pc->slots = calloc(pc->cap, sizeof(*pc->slots));
	if (pc->slots == NULL) {
		free(pc);
		errno = ENOMEM;
		return NULL;
	}
	rc = pthread_mutex_init(&pc->lock, NULL);
	if (rc != 0) {
		free(pc->slots);
		free(pc);
		errno = rc;
		return NULL;
	}
	return pc;
}

void
tc_peercount_free(struct tc_peercount *pc)
{
	if (pc == NULL)
		return;
	pthread_mutex_destroy(&pc->lock);
	free(pc->slots);
	free(pc);
}

static size_t
home_of(const struct tc_peercount *pc, const struct tc_cidr *a)
{
	return (size_t)tc_cidr_hash(a, pc->seed) & (pc->cap - 1);
}

/* The slot holding a, or the free slot where it would go. Lock held. */
static struct slot *
find_slot(struct tc_peercount *pc, const struct tc_cidr *a)
{
	size_t i = home_of(pc, a);

	while (pc->slots[i].n != 0 && !tc_cidr_equal(&pc->slots[i].addr, a))
		i = (i + 1) & (pc->cap - 1);
	return &pc->slots[i];
}

/* Doubles the table when it would pass half full. Lock held. */
static int
grow_if_needed(struct tc_peercount *pc)
{
	struct slot *old = pc->slots;
	size_t old_cap = pc->cap;

	if ((pc->used + 1) * 2 <= pc->cap)
		return 0;
	pc->slots = calloc(old_cap * 2, sizeof(*pc->slots));
	if (pc->slots == NULL) {
		pc->slots = old;
		return -1;
	}
	pc->cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].n != 0)
			*find_slot(pc, &old[i].addr) = old[i];
	free(old);
	return 0;
}

/* Empties slot i, then moves back each later entry of the same run that
 * may no longer be found past the hole. Lock held. */
static void
delete_slot(struct tc_peercount *pc, size_t i)
{
	size_t mask = pc->cap - 1, j = i;

	pc->slots[i].n = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (pc->slots[j].n == 0)
			return;
		home = home_of(pc, &pc->slots[j].addr);
		/* Entry j may stay only if its home lies cyclically in
		 * (i, j]; otherwise the hole at i cuts it off. */
		if (((j - home) & mask) < ((j - i) & mask))
			continue;
		pc->slots[i] = pc->slots[j];
		pc->slots[j].n = 0;
		i = j;
	}
}

int
tc_peercount_acquire(struct tc_peercount *pc, const struct sockaddr *peer)
{
	struct tc_cidr a;
	struct slot *s;
	int rc = 0;

	if (pc->max_per_ip == 0 || tc_cidr_from_sockaddr(peer, &a) < 0)
		return 0;
	pthread_mutex_lock(&pc->lock);
	s = find_slot(pc, &a);
	if (s->n >= pc->max_per_ip) {
		rc = EUSERS;
	} else if (s->n == 0) {
		if (grow_if_needed(pc) < 0) {
			rc = ENOMEM;
		} else {
			s = find_slot(pc, &a);
			s->addr = a;
			s->n = 1;
			pc->used++;
		}
	} else {
		s->n++;
	}
	pthread_mutex_unlock(&pc->lock);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

void
tc_peercount_release(struct tc_peercount *pc, const struct sockaddr *peer)
{
	struct tc_cidr a;
	struct slot *s;

	if (pc->max_per_ip == 0 || tc_cidr_from_sockaddr(peer, &a) < 0)
		return;
	pthread_mutex_lock(&pc->lock);
	s = find_slot(pc, &a);
	if (s->n > 1) {
		s->n--;
	} else if (s->n == 1) {
		delete_slot(pc, (size_t)(s - pc->slots));
		pc->used--;
	}
	pthread_mutex_unlock(&pc->lock);
}

unsigned
tc_peercount_get(struct tc_peercount *pc, const struct sockaddr *peer)
{
	struct tc_cidr a;
	unsigned n;

	if (pc->max_per_ip == 0 || tc_cidr_from_sockaddr(peer, &a) < 0)
		return 0;
	pthread_mutex_lock(&pc->lock);
	n = find_slot(pc, &a)->n;
	pthread_mutex_unlock(&pc->lock);
	return n;
}
