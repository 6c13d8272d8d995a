/* ladder: one side's view of a TCP close, drawn as a ladder diagram.
 *
 * The trace records what this program saw during the close, in order: a
 * segment it sent, one whose effect it observed (an EOF, a state the kernel
 * reported), lines that crossed the half-closed connection. The renderer
 * turns that record into plain ASCII that fits 80 columns: this side's rail
 * on the left, the peer's on the right, one row per event with its time and
 * the state this side was left in. Nothing is drawn that was not recorded.
 *
 * A ladder is a plain value with no lock: its owner serialises access. */
#ifndef TCPCHAT_LADDER_H
#define TCPCHAT_LADDER_H

#include <stdbool.h>
#include <stddef.h>

#define TC_LADDER_MAX 32       /* rows a ladder holds */
#define TC_LADDER_TIME_MAX 16  /* "HH:MM:SS.ffffff" and NUL */
#define TC_LADDER_LABEL_MAX 36 /* longest label drawn on an arrow, NUL too */
#define TC_LADDER_STATE_MAX 16 /* "ESTABLISHED" and room */
#define TC_LADDER_COLUMNS 80   /* no rendered line is wider */
/* Room for any rendering: heading, rails, every row, the dropped note. */
#define TC_LADDER_TEXT_MAX ((TC_LADDER_MAX + 4) * (TC_LADDER_COLUMNS + 1))

enum tc_ladder_kind {
	TC_LADDER_OUT,  /* an arrow from this side to the peer */
	TC_LADDER_IN,   /* an arrow from the peer to this side */
	TC_LADDER_NOTE, /* something this side did or became, no segment */
};

struct tc_ladder_row {
	enum tc_ladder_kind kind;
	/* Lines sent or received: a run of these in one direction folds
	 * into first, summary, last, so that a flood stays three rows. */
	bool data;
	size_t n_lines, n_bytes;
	size_t n_folded; /* > 0: a summary of this many data rows */
	char time[TC_LADDER_TIME_MAX];
	char label[TC_LADDER_LABEL_MAX];
	char state[TC_LADDER_STATE_MAX]; /* "" when none was read */
};

struct tc_ladder {
	char self[16], peer[16]; /* the rails' names: "client", "server" */
	struct tc_ladder_row rows[TC_LADDER_MAX];
	size_t n_rows;
	size_t n_dropped; /* events that found the ladder full */
};

/* Empties l and names its two rails (cut to 15 bytes). */
void tc_ladder_init(struct tc_ladder *l, const char *self, const char *peer);

/* Appends an arrow or a note: time and state as the trace printed them,
 * label what crossed ("FIN", "ACK", "exit") or happened ("close()"). Long
 * strings are cut. When the ladder is full the event is only counted. */
void tc_ladder_add(struct tc_ladder *l, enum tc_ladder_kind kind,
                   const char *time, const char *label, const char *state);

/* Appends lines that crossed (kind IN or OUT), folding a run of more than
 * three in one direction into its first, a summary, and its last. A few
 * rows are kept free for the close's own events: data that finds only
 * those left is counted as dropped. */
void tc_ladder_add_data(struct tc_ladder *l, enum tc_ladder_kind kind,
                        const char *time, size_t n_lines, size_t n_bytes,
                        const char *state);

/* Draws l into buf: lines separated by '\n', no newline after the last,
 * none wider than TC_LADDER_COLUMNS. Pure; any thread. Returns the length
 * the whole drawing needs, like snprintf (TC_LADDER_TEXT_MAX is always
 * enough); buf is cut, NUL-terminated, when len is smaller. */
size_t tc_ladder_render(const struct tc_ladder *l, char *buf, size_t len);

#endif
