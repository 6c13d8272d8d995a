/* phase: the legal moves of a server connection's life (see the diagram in
 * phase.h), checked and made with one compare-and-swap. */
#include "tcpchat/phase.h"

#include <stddef.h>

bool
tc_phase_legal(enum tc_phase from, enum tc_phase to)
{
	switch (from) {
	case TC_PHASE_OPEN:
		return to != TC_PHASE_OPEN;
	case TC_PHASE_HALF_CLOSED:
		return to == TC_PHASE_CLOSING || to == TC_PHASE_ABORTED;
	case TC_PHASE_CLOSING:
		return to == TC_PHASE_ABORTED;
	case TC_PHASE_ABORTED:
		return false;
	}
	return false;
}

bool
tc_phase_move(_Atomic int *phase, enum tc_phase to, enum tc_phase *was)
{
	int now = atomic_load(phase);

	do {
		if (was != NULL)
			*was = (enum tc_phase)now;
		if (!tc_phase_legal((enum tc_phase)now, to))
			return false;
	} while (!atomic_compare_exchange_weak(phase, &now, (int)to));
	return true;
}

const char *
tc_phase_name(enum tc_phase phase)
{
	switch (phase) {
	case TC_PHASE_OPEN:
		return "open";
	case TC_PHASE_HALF_CLOSED:
		return "half-closed";
	case TC_PHASE_CLOSING:
		return "closing";
	case TC_PHASE_ABORTED:
		return "aborted";
	}
	return "?";
}
