/* ladder: records the events of one side's close and draws them as a
 * ladder diagram in plain ASCII. It knows nothing of sockets or clocks:
 * times, states and labels arrive as the trace printed them, so the
 * picture and the trace lines agree to the microsecond. */
#include "tcpchat/ladder.h"

#include <stdio.h>
#include <string.h>

/* Columns of a row, left to right:
 *   2 indent | 15 time | 2 gap | 12 state | rail | 40 arrow | rail
 * 73 columns in all: room under 80 for a projector's large font. */
#define INDENT 2
#define TIME_W 15
#define GAP 2
#define STATE_W 12
#define LEFT_RAIL (INDENT + TIME_W + GAP + STATE_W)
#define ARROW_W 40
#define RIGHT_RAIL (LEFT_RAIL + 1 + ARROW_W)
#define ROW_W (RIGHT_RAIL + 1)
#define LABEL_ROOM (ARROW_W - 6) /* "<-- " and " -->" at least */

/* Rows kept free for the close's own events (FIN, ACK, close()) so that
 * a flood of data cannot push them out of the picture. */
#define RESERVED_ROWS 4

_Static_assert(ROW_W <= TC_LADDER_COLUMNS, "a ladder row must fit");

static void
copy_cut(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

void
tc_ladder_init(struct tc_ladder *l, const char *self, const char *peer)
{
	memset(l, 0, sizeof(*l));
	copy_cut(l->self, sizeof(l->self), self);
	copy_cut(l->peer, sizeof(l->peer), peer);
}

static struct tc_ladder_row *
new_row(struct tc_ladder *l, enum tc_ladder_kind kind, const char *time,
        const char *state)
{
	struct tc_ladder_row *r = &l->rows[l->n_rows++];

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	copy_cut(r->time, sizeof(r->time), time);
	copy_cut(r->state, sizeof(r->state), state);
	return r;
}

void
tc_ladder_add(struct tc_ladder *l, enum tc_ladder_kind kind, const char *time,
              const char *label, const char *state)
{
	struct tc_ladder_row *r;

	if (l->n_rows >= TC_LADDER_MAX) {
		l->n_dropped++;
		return;
	}
	r = new_row(l, kind, time, state);
	copy_cut(r->label, sizeof(r->label), label);
}

/* Whether rows[i] is a data row going the way of kind. */
static bool
data_row_of(const struct tc_ladder *l, size_t i, enum tc_ladder_kind kind)
{
	return l->rows[i].data && l->rows[i].kind == kind;
}

/* The run's last three rows are data of this kind: the middle one becomes
 * (or already is) the summary and swallows the last, making room for the
 * new last without a new row. */
static bool
fold_into_run(struct tc_ladder *l, enum tc_ladder_kind kind)
{
	struct tc_ladder_row *sum, *last;
	size_t n = l->n_rows;

	if (n < 3 || !data_row_of(l, n - 1, kind) ||
	    !data_row_of(l, n - 2, kind) || !data_row_of(l, n - 3, kind))
		return false;
	sum = &l->rows[n - 2];
	last = &l->rows[n - 1];
	if (sum->n_folded == 0) {
		sum->n_folded = 1;
		sum->time[0] = '\0';
		sum->state[0] = '\0';
	}
	sum->n_folded++;
	sum->n_lines += last->n_lines;
	sum->n_bytes += last->n_bytes;
	l->n_rows--;
	return true;
}

void
tc_ladder_add_data(struct tc_ladder *l, enum tc_ladder_kind kind,
                   const char *time, size_t n_lines, size_t n_bytes,
                   const char *state)
{
	struct tc_ladder_row *r;

	if (!fold_into_run(l, kind) &&
	    l->n_rows >= TC_LADDER_MAX - RESERVED_ROWS) {
		l->n_dropped++;
		return;
	}
	r = new_row(l, kind, time, state);
	r->data = true;
	r->n_lines = n_lines;
	r->n_bytes = n_bytes;
}

/* ---- drawing ---- */

/* Appends to a buffer that may be too small, counting what it needs. */
struct out {
	char *buf;
	size_t len, need;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->need < o->len) {
		size_t room = o->len - 1 - o->need;

		memcpy(o->buf + o->need, s, n < room ? n : room);
	}
	o->need += n;
	if (o->len > 0)
		o->buf[o->need < o->len ? o->need : o->len - 1] = '\0';
}

/* Ends a row: trailing blanks go, a newline separates it from the last. */
static void
put_row(struct out *o, char row[ROW_W + 1])
{
	size_t n = ROW_W;

	while (n > 0 && row[n - 1] == ' ')
		n--;
	if (o->need > 0)
		put(o, "\n", 1);
	put(o, row, n);
}

static void
blank_row(char row[ROW_W + 1], bool rails)
{
	memset(row, ' ', ROW_W);
	row[ROW_W] = '\0';
	if (rails) {
		row[LEFT_RAIL] = '|';
		row[RIGHT_RAIL] = '|';
	}
}

static void
place(char *at, size_t room, const char *s)
{
	size_t n = strlen(s);

	memcpy(at, s, n < room ? n : room);
}

/* "29 bytes", "120 kB": sizes stay short enough for an arrow. */
static void
describe_bytes(char *buf, size_t len, size_t n_bytes)
{
	if (n_bytes < 100000)
		snprintf(buf, len, "%zu byte%s", n_bytes,
		         n_bytes == 1 ? "" : "s");
	else if (n_bytes < 100000000)
		snprintf(buf, len, "%zu kB", n_bytes / 1000);
	else
		snprintf(buf, len, "%zu MB", n_bytes / 1000000);
}

/* "1 line, 29 bytes": what crossed in one row. */
static void
describe_data(char *buf, size_t len, size_t n_lines, size_t n_bytes)
{
	char bytes[32];

	describe_bytes(bytes, sizeof(bytes), n_bytes);
	snprintf(buf, len, "%zu line%s, %s", n_lines, n_lines == 1 ? "" : "s",
	         bytes);
}

static void
row_label(const struct tc_ladder_row *r, char *buf, size_t len)
{
	char bytes[32];

	if (!r->data) {
		snprintf(buf, len, "%s", r->label);
		return;
	}
	if (r->n_folded == 0) {
		describe_data(buf, len, r->n_lines, r->n_bytes);
		return;
	}
	describe_bytes(bytes, sizeof(bytes), r->n_bytes);
	snprintf(buf, len, "%zu more line%s, %s", r->n_lines,
	         r->n_lines == 1 ? "" : "s", bytes);
}

/* Fills the space between the rails: a shaft of `fill` with its head at
 * the receiving rail (none for a note), the label centred on it. */
static void
draw_arrow(char *inner, enum tc_ladder_kind kind, char fill, const char *label)
{
	size_t n = strlen(label), at;
	size_t i;

	if (n > LABEL_ROOM)
		n = LABEL_ROOM;
	for (i = 0; i < ARROW_W; i++) {
		/* A dotted shaft counts from its head: "<. . ." and ". .>" */
		size_t from_head = kind == TC_LADDER_OUT ? ARROW_W - 1 - i : i;

		if (kind == TC_LADDER_NOTE)
			inner[i] = ' ';
		else if (fill == '.')
			inner[i] = from_head % 2 ? '.' : ' ';
		else
			inner[i] = fill;
	}
	if (kind == TC_LADDER_OUT)
		inner[ARROW_W - 1] = '>';
	else if (kind == TC_LADDER_IN)
		inner[0] = '<';
	if (n == 0)
		return;
	at = (ARROW_W - n - 2) / 2;
	inner[at] = ' ';
	memcpy(inner + at + 1, label, n);
	inner[at + 1 + n] = ' ';
}

static void
draw_row(struct out *o, const struct tc_ladder_row *r)
{
	char row[ROW_W + 1], label[64];

	blank_row(row, true);
	place(row + INDENT, TIME_W, r->time);
	place(row + INDENT + TIME_W + GAP, STATE_W - 1, r->state);
	row_label(r, label, sizeof(label));
	draw_arrow(row + LEFT_RAIL + 1, r->kind, r->n_folded > 0 ? '.' : '-',
	           label);
	put_row(o, row);
}

/* The names over the rails, then the rails alone: where the eye starts. */
static void
draw_heading(struct out *o, const struct tc_ladder *l)
{
	char row[ROW_W + 1];
	size_t n = strlen(l->peer);

	blank_row(row, false);
	place(row + INDENT, TIME_W, "time");
	place(row + INDENT + TIME_W + GAP, STATE_W - 1, "state");
	place(row + LEFT_RAIL, ARROW_W / 2, l->self);
	if (n > ARROW_W / 2)
		n = ARROW_W / 2;
	memcpy(row + RIGHT_RAIL + 1 - n, l->peer, n);
	put_row(o, row);
	blank_row(row, true);
	put_row(o, row);
}

static void
draw_dropped(struct out *o, size_t n_dropped)
{
	struct tc_ladder_row note = {.kind = TC_LADDER_NOTE};

	/* Counts past 65535 say no more than 65535 would. */
	snprintf(note.label, sizeof(note.label), "(%u%s more not kept)",
	         n_dropped > 65535 ? 65535u : (unsigned)n_dropped,
	         n_dropped > 65535 ? "+" : "");
	draw_row(o, &note);
}

size_t
tc_ladder_render(const struct tc_ladder *l, char *buf, size_t len)
{
	struct out o = {.buf = buf, .len = len};
	size_t i;

	if (len > 0)
		buf[0] = '\0';
	draw_heading(&o, l);
	for (i = 0; i < l->n_rows; i++)
		draw_row(&o, &l->rows[i]);
	if (l->n_dropped > 0)
		draw_dropped(&o, l->n_dropped);
	return o.need;
}
