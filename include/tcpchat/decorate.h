/* decorate: how the client shows incoming chat lines on a terminal.
 *
 * Takes a line that has already been escaped (no ESC, BEL or other control
 * byte can be in it), recognises its labels (NAME: TEXT, notices, private
 * messages), and adds the client's own SGR sequences: a colour per name,
 * dimmed notices, bold private messages, a highlighted line and one bell
 * when it mentions the user's nick, an optional HH:MM prefix. It learns the
 * user's nick and the nicks in the room from what the server says, for Tab
 * completion. No I/O: the caller prints the result. */
#ifndef TCPCHAT_DECORATE_H
#define TCPCHAT_DECORATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Most nicks remembered for completion; past it the least recently seen
 * is forgotten. As many as a default server lets in at once. */
#define TC_DECO_NICKS_MAX 1024

/* Longest name remembered (the user's own may be a peer address). */
#define TC_DECO_NAME_MAX 63

/* Bytes of SGR, timestamp and bell that tc_deco_line() may add. */
#define TC_DECO_OVERHEAD 96

/* Size dst needs for tc_deco_line() of len bytes, NUL included. */
#define TC_DECO_BOUND(len) ((len) + TC_DECO_OVERHEAD + 1)

struct tc_deco_opts {
	bool color;      /* SGR colours and highlights: see color_wanted */
	bool bell;       /* ring once per mention; only together with color */
	bool timestamps; /* "HH:MM " before every line, colour or not */
};

/* The client's display state: options, the user's nick, nicks seen. One
 * lock inside guards the nicks, so the reader thread may decorate while
 * the console thread completes. */
struct tc_deco;

/* One completion candidate: text is what replaces the word, suffix and
 * all ("alice: ", "/msg "); word_len is the length without the suffix. */
struct tc_deco_match {
	char *text;
	size_t word_len;
};

struct tc_deco_matches {
	size_t n;
	struct tc_deco_match *v; /* sorted, case folded; n entries */
};

/* True when colour, highlights and bell may be used on out_fd: not
 * no_color_opt (--no-color), NO_COLOR not in the environment (with any
 * value, empty too), TERM set and not "dumb", and out_fd a terminal.
 * Reads the environment: call before threads start. */
bool tc_deco_color_wanted(bool no_color_opt, int out_fd);

/* A new display state with no nick known yet, or NULL with errno ENOMEM.
 * opts is copied; bell without color is ignored. Before threads. */
struct tc_deco *tc_deco_new(const struct tc_deco_opts *opts);

/* Frees d; after every thread that used it is done. NULL is allowed. */
void tc_deco_free(struct tc_deco *d);

/* Decorates one incoming line: line[0..len) is escaped text without its
 * newline. Writes the result, NUL-terminated, to dst, which must hold
 * TC_DECO_BOUND(len) bytes, and returns its length (NUL excluded). now is
 * the local time for the HH:MM prefix (unused, may be NULL, without
 * timestamps). Without color the result is the line itself, after the
 * timestamp if any. Learns nicks from the line. Any one thread (the
 * reader); never blocks but on d's lock, held for a few compares. */
size_t tc_deco_line(struct tc_deco *d, const char *line, size_t len,
                    const struct tm *now, char *dst);

/* As tc_deco_line(), for the rest of a line too long for the reader's
 * buffer, which it split (tc_linebuf_continues()): what starts it is the
 * sender's text, so it is never read for a label, a nick or a mention;
 * it comes out as it is, after the timestamp if any. */
size_t tc_deco_rest(struct tc_deco *d, const char *line, size_t len,
                    const struct tm *now, char *dst);

/* The user's nick as last learnt ("" before the welcome line), copied to
 * buf of TC_DECO_NAME_MAX + 1 bytes. Any thread. */
void tc_deco_self(struct tc_deco *d, char *buf);

/* True when the nick is among those remembered (ASCII case ignored). Any
 * thread. */
bool tc_deco_knows(struct tc_deco *d, const char *nick);

/* The 256-colour palette index the name is shown in: a hash of the name
 * with ASCII case folded (nicks that differ only in case are one person),
 * the same in every session and every client. */
int tc_deco_name_color(const char *name, size_t len);

/* Completion of the word line[word_start..cursor): at the start of the
 * line a word beginning with '/' completes to a command ("/nick ", "/who",
 * "/msg ", "/help", "//"); any other word to the nicks remembered (not the
 * user's own) that it begins, ASCII case ignored, followed by ": " at the
 * start of the line and by " " elsewhere. Fills *m (n may be 0); returns
 * 0, or -1 with errno ENOMEM and *m empty. Any thread (the console's). */
int tc_deco_complete(struct tc_deco *d, const char *line, size_t word_start,
                     size_t cursor, struct tc_deco_matches *m);

/* Frees what tc_deco_complete() filled in; *m is left empty. */
void tc_deco_matches_free(struct tc_deco_matches *m);

#endif
