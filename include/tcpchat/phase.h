/* phase: where one server connection is in its life, and the only moves
 * between phases there are.
 *
 *            peer's "exit" or FIN
 *   OPEN ---------------------------> HALF_CLOSED
 *    |  \                                  |  \
 *    |   \ /kick, /ban, shutdown,          |   \ shutdown during the
 *    |    \ refusal                        |    \ --linger window
 *    |     v                               |     v
 *    |    CLOSING <------------------------+-----'
 *    |     |                               |
 *    |     | reset, send error, overflow,  | reset, send error,
 *    |     | stuck closing, end of grace   | stuck closing
 *    v     v                               v
 *   ABORTED <------------------------------'
 *     ^
 *     '-- from OPEN: reset, error, overflow (cut as too slow)
 *
 * OPEN: both directions carry chat. HALF_CLOSED: the peer is done sending;
 * we flush, keep delivering for --linger, then send our FIN. CLOSING: the
 * server ends it: a notice behind what is queued, our FIN, then the peer's
 * FIN (or 5 s). ABORTED: the connection is broken or cut off; both
 * directions are shut and nothing more is sent. Every phase but OPEN ends
 * with the writer closing the socket once the reader is done; ABORTED is
 * final. */
#ifndef TCPCHAT_PHASE_H
#define TCPCHAT_PHASE_H

#include <stdatomic.h>
#include <stdbool.h>

enum tc_phase {
	TC_PHASE_OPEN,
	TC_PHASE_HALF_CLOSED,
	TC_PHASE_CLOSING,
	TC_PHASE_ABORTED,
};

/* Whether the diagram above has an arrow from `from` to `to`. */
bool tc_phase_legal(enum tc_phase from, enum tc_phase to);

/* Moves *phase to `to` if that is legal from where it is now, atomically
 * (any thread; several may race, one wins each move). Returns true when it
 * moved; *was (may be NULL) gets the phase it found. */
bool tc_phase_move(_Atomic int *phase, enum tc_phase to, enum tc_phase *was);

/* "open", "half-closed", "closing", "aborted". */
const char *tc_phase_name(enum tc_phase phase);

#endif
