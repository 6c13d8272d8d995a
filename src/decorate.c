/* decorate: labels of escaped incoming lines, the client's own SGR around
 * them, and the nicks they teach (the user's and everyone else's).
 *
 * It trusts nothing in the line: labels are read from the escaped text,
 * every escape sequence in the output is written here, and a control byte
 * that slipped through unescaped is shown as '?', never passed on. It
 * never prints, reads the clock or the terminal: the caller does. */
#include "tcpchat/decorate.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NICK_LEN 32 /* the server's nick rule: 1-32 of A-Za-z0-9._- */

#define SGR_RESET "\033[0m"
#define SGR_DIM "\033[2m"
#define SGR_BOLD "\033[1m"
#define SGR_ERROR "\033[1;31m"
#define SGR_MENTION "\033[7m" /* reverse video reads on any background */
#define SGR_FG_DEFAULT "\033[39m"
#define BELL "\a"

/* 256-colour indexes of relative luminance 0.14 to 0.23, near 0.18 where
 * contrast against black and against white is the same (about 4.5:1): a
 * name reads on dark and light backgrounds alike. Not the basic colours,
 * which terminal themes remap, nor black, white or greys. */
static const unsigned char palette[] = {
    160, /* #d70000 red */
    28,  /* #008700 green */
    166, /* #d75f00 orange */
    32,  /* #0087d7 blue */
    163, /* #d700af magenta */
    30,  /* #008787 teal */
    98,  /* #875fd7 violet */
    130, /* #af5f00 brown */
};

struct nick {
	char name[NICK_LEN + 1];
	unsigned long seen; /* d->tick when last seen: oldest goes first */
};

struct tc_deco {
	struct tc_deco_opts o; /* read-only after tc_deco_new() */
	/* Guards self, nicks, n_nicks and tick: the reader thread learns,
	 * the console thread completes. Held only for compares and copies. */
	pthread_mutex_t lock;
	char self[TC_DECO_NAME_MAX + 1];
	struct nick nicks[TC_DECO_NICKS_MAX];
	size_t n_nicks;
	unsigned long tick;
};

enum line_kind {
	LINE_PLAIN,        /* no label we know: shown as it is */
	LINE_MESSAGE,      /* NAME: TEXT */
	LINE_PRIVATE,      /* NAME (private): TEXT */
	LINE_PRIVATE_SENT, /* * to NAME (private): TEXT */
	LINE_NOTICE,       /* * TEXT */
	LINE_ERROR,        /* * error: TEXT */
};

/* A line's label: name and text point into the line. */
struct label {
	enum line_kind kind;
	const char *name;
	size_t name_len;
	const char *text; /* after "NAME: " or "NAME (private): " */
	size_t text_len;
};

/* ---- bytes ---- */

static unsigned char
fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* ASCII case-insensitive equality of a[0..n) and b[0..n). */
static bool
fold_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
			return false;
	return true;
}

static bool
is_nick_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool
is_nick(const char *s, size_t len)
{
	if (len == 0 || len > NICK_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_nick_char((unsigned char)s[i]))
			return false;
	return true;
}

static bool
starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

/* Offset of the first occurrence of pat in s[0..len), or len. */
static size_t
find(const char *s, size_t len, const char *pat)
{
	size_t n = strlen(pat);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(s + i, pat, n) == 0)
			return i;
	return len;
}

/* Length of the run of s[0..len) up to the first space. */
static size_t
word_len(const char *s, size_t len)
{
	const char *sp = memchr(s, ' ', len);

	return sp == NULL ? len : (size_t)(sp - s);
}

/* ---- reading the labels ---- */

/* "NAME: TEXT" or "NAME (private): TEXT", NAME without spaces. */
static void
parse_message(const char *line, size_t len, struct label *l)
{
	static const char priv[] = " (private)";
	size_t colon = find(line, len, ": ");
	size_t name_len = colon;

	if (colon == 0 || colon == len)
		return;
	l->kind = LINE_MESSAGE;
	if (colon > sizeof(priv) - 1 &&
	    memcmp(line + colon - (sizeof(priv) - 1), priv, sizeof(priv) - 1) ==
	        0) {
		l->kind = LINE_PRIVATE;
		name_len = colon - (sizeof(priv) - 1);
	}
	if (word_len(line, name_len) != name_len) {
		l->kind = LINE_PLAIN;
		return;
	}
	l->name = line;
	l->name_len = name_len;
	l->text = line + colon + 2;
	l->text_len = len - colon - 2;
}

/* "* to NICK (private): TEXT", what the server confirms to a sender. */
static bool
parse_private_sent(const char *line, size_t len, struct label *l)
{
	static const char to[] = "* to ", priv[] = " (private): ";
	size_t name_len;

	if (!starts_with(line, len, to))
		return false;
	name_len = word_len(line + 5, len - 5);
	if (name_len == 0 ||
	    !starts_with(line + 5 + name_len, len - 5 - name_len, priv))
		return false;
	l->kind = LINE_PRIVATE_SENT;
	l->name = line + 5;
	l->name_len = name_len;
	l->text = l->name + name_len + sizeof(priv) - 1;
	l->text_len = (size_t)(line + len - l->text);
	return true;
}

static void
parse_label(const char *line, size_t len, struct label *l)
{
	memset(l, 0, sizeof(*l));
	l->kind = LINE_PLAIN;
	if (starts_with(line, len, "* ")) {
		if (parse_private_sent(line, len, l))
			return;
		l->kind = starts_with(line, len, "* error: ") ? LINE_ERROR
		                                              : LINE_NOTICE;
		return;
	}
	parse_message(line, len, l);
}

/* ---- the nicks (d->lock held) ---- */

static struct nick *
nick_find(struct tc_deco *d, const char *name, size_t len)
{
	for (size_t i = 0; i < d->n_nicks; i++) {
		struct nick *k = &d->nicks[i];

		if (strlen(k->name) == len && fold_eq(k->name, name, len))
			return k;
	}
	return NULL;
}

/* Remembers a valid nick, or refreshes it (taking its latest case);
 * when full, forgets the one seen longest ago. */
static void
nick_add(struct tc_deco *d, const char *name, size_t len)
{
	struct nick *k;

	if (!is_nick(name, len))
		return;
	k = nick_find(d, name, len);
	if (k == NULL && d->n_nicks < TC_DECO_NICKS_MAX)
		k = &d->nicks[d->n_nicks++];
	if (k == NULL) {
		k = &d->nicks[0];
		for (size_t i = 1; i < d->n_nicks; i++)
			if (d->nicks[i].seen < k->seen)
				k = &d->nicks[i];
	}
	memcpy(k->name, name, len);
	k->name[len] = '\0';
	k->seen = ++d->tick;
}

static void
nick_remove(struct tc_deco *d, const char *name, size_t len)
{
	struct nick *k = nick_find(d, name, len);

	if (k != NULL)
		*k = d->nicks[--d->n_nicks];
}

static void
set_self(struct tc_deco *d, const char *name, size_t len)
{
	if (len > TC_DECO_NAME_MAX)
		len = TC_DECO_NAME_MAX;
	memcpy(d->self, name, len);
	d->self[len] = '\0';
}

/* "N online: a, b, c": the whole room, so it replaces what we knew. */
static bool
learn_who(struct tc_deco *d, const char *s, size_t len)
{
	size_t digits = 0, i, n;

	while (digits < len && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (digits == 0 || !starts_with(s + digits, len - digits, " online: "))
		return false;
	d->n_nicks = 0;
	for (i = digits + 9; i < len; i += n + 2) {
		n = find(s + i, len - i, ", ");
		nick_add(d, s + i, n);
	}
	return true;
}

/* "NAME joined", "NAME left[ (REASON)]", "NAME was kicked",
 * "OLD is now NEW". */
static void
learn_comings_and_goings(struct tc_deco *d, const char *s, size_t len)
{
	size_t n = word_len(s, len);
	const char *rest = s + n;
	size_t rest_len = len - n;

	if (rest_len == 7 && memcmp(rest, " joined", 7) == 0)
		nick_add(d, s, n);
	else if ((rest_len == 5 && memcmp(rest, " left", 5) == 0) ||
	         starts_with(rest, rest_len, " left (") ||
	         (rest_len == 11 && memcmp(rest, " was kicked", 11) == 0))
		nick_remove(d, s, n);
	else if (starts_with(rest, rest_len, " is now ")) {
		nick_remove(d, s, n);
		nick_add(d, rest + 8, rest_len - 8);
	}
}

/* What a notice says about who we are and who is here. */
static void
learn_notice(struct tc_deco *d, const char *line, size_t len)
{
	static const char welcome[] = "* welcome, you are ";
	static const char renamed[] = "* you are now ";
	const char *s;

	if (starts_with(line, len, welcome)) {
		s = line + sizeof(welcome) - 1;
		set_self(d, s, word_len(s, (size_t)(line + len - s)));
	} else if (starts_with(line, len, renamed)) {
		s = line + sizeof(renamed) - 1;
		set_self(d, s, (size_t)(line + len - s));
	} else if (!learn_who(d, line + 2, len - 2)) {
		learn_comings_and_goings(d, line + 2, len - 2);
	}
}

static void
learn(struct tc_deco *d, const char *line, size_t len, const struct label *l)
{
	switch (l->kind) {
	case LINE_MESSAGE:
	case LINE_PRIVATE:
	case LINE_PRIVATE_SENT:
		nick_add(d, l->name, l->name_len);
		break;
	case LINE_NOTICE:
		learn_notice(d, line, len);
		break;
	case LINE_ERROR:
	case LINE_PLAIN:
		break;
	}
}

/* ---- mentions ---- */

/* True when text mentions nick as a word, ASCII case ignored. The bytes
 * around the match must not be nick characters (A-Za-z0-9._-), except
 * that dots right after it may end a sentence: "bob." and "bob..." name
 * bob, "bob.smith", "bob_" and "xbob" do not. */
static bool
mentions(const char *text, size_t len, const char *nick, size_t nick_len)
{
	size_t i, end;

	if (nick_len == 0)
		return false;
	for (i = 0; i + nick_len <= len; i++) {
		if (!fold_eq(text + i, nick, nick_len))
			continue;
		if (i > 0 && is_nick_char((unsigned char)text[i - 1]))
			continue;
		end = i + nick_len;
		while (end < len && text[end] == '.')
			end++;
		if (end == len || !is_nick_char((unsigned char)text[end]))
			return true;
	}
	return false;
}

/* ---- writing ---- */

struct out {
	char *p;
	size_t len;
	size_t cap; /* TC_DECO_BOUND of the input: room for our additions */
};

static void
put(struct out *o, const char *s, size_t n)
{
	assert(o->len + n < o->cap);
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Copies text from the line. It is escaped already; should a C0 control,
 * DEL or a C1 control (U+0080-U+009F in UTF-8) be there anyway, each of
 * its bytes becomes '?': only this file's sequences reach the terminal. */
static void
put_text(struct out *o, const char *s, size_t n)
{
	assert(o->len + n < o->cap);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool c1 = c == 0xc2 && i + 1 < n &&
		          (unsigned char)s[i + 1] >= 0x80 &&
		          (unsigned char)s[i + 1] <= 0x9f;

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			o->p[o->len++] = '?';
		} else if (c1) {
			o->p[o->len++] = '?';
			o->p[o->len++] = '?';
			i++;
		} else {
			o->p[o->len++] = (char)c;
		}
	}
}

static void
put_color(struct out *o, const char *attrs, const char *name, size_t len)
{
	char sgr[32];
	int n;

	n = snprintf(sgr, sizeof(sgr), "\033[%s38;5;%dm", attrs,
	             tc_deco_name_color(name, len));
	put(o, sgr, (size_t)n);
}

static void
put_timestamp(struct out *o, const struct tm *now, bool color)
{
	char ts[8];
	int n;

	assert(now != NULL);
	n = snprintf(ts, sizeof(ts), "%02d:%02d", now->tm_hour % 100,
	             now->tm_min % 100);
	if (color)
		put_str(o, SGR_DIM);
	put(o, ts, (size_t)n);
	if (color)
		put_str(o, SGR_RESET);
	put_str(o, " ");
}

/* NAME: TEXT and NAME (private): TEXT; a mention reverses the text. */
static void
put_message(struct out *o, const char *line, const struct label *l,
            bool mention)
{
	bool priv = l->kind == LINE_PRIVATE;
	size_t label_end = (size_t)(l->text - line);

	put_color(o, priv ? "1;" : "", l->name, l->name_len);
	put_text(o, l->name, l->name_len);
	put_str(o, SGR_FG_DEFAULT);
	put_text(o, line + l->name_len, label_end - l->name_len);
	if (mention)
		put_str(o, SGR_MENTION);
	put_text(o, l->text, l->text_len);
	if (priv || mention)
		put_str(o, SGR_RESET);
}

/* * to NICK (private): TEXT, bold as a received one, NICK in colour. */
static void
put_private_sent(struct out *o, const char *line, size_t len,
                 const struct label *l)
{
	size_t after = (size_t)(l->name + l->name_len - line);

	put_str(o, SGR_BOLD);
	put_text(o, line, (size_t)(l->name - line));
	put_color(o, "", l->name, l->name_len);
	put_text(o, l->name, l->name_len);
	put_str(o, SGR_FG_DEFAULT);
	put_text(o, line + after, len - after);
	put_str(o, SGR_RESET);
}

static void
put_whole(struct out *o, const char *sgr, const char *line, size_t len)
{
	put_str(o, sgr);
	put_text(o, line, len);
	put_str(o, SGR_RESET);
}

/* ---- the interface ---- */

bool
tc_deco_color_wanted(bool no_color_opt, int out_fd)
{
	const char *term = getenv("TERM");

	if (no_color_opt || getenv("NO_COLOR") != NULL)
		return false;
	if (term == NULL || term[0] == '\0' || strcmp(term, "dumb") == 0)
		return false;
	return isatty(out_fd) == 1;
}

struct tc_deco *
tc_deco_new(const struct tc_deco_opts *opts)
{
	struct tc_deco *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL)
		return NULL;
	d->o = *opts;
	d->o.bell = opts->bell && opts->color;
	rc = pthread_mutex_init(&d->lock, NULL);
	if (rc != 0) {
		free(d);
		errno = rc;
		return NULL;
	}
	return d;
}

void
tc_deco_free(struct tc_deco *d)
{
	if (d == NULL)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int
tc_deco_name_color(const char *name, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a, 32 bits */

	for (size_t i = 0; i < len; i++) {
		h ^= fold((unsigned char)name[i]);
		h *= 16777619u;
	}
	return palette[h % sizeof(palette)];
}

/* The lines that carry a name: highlighted and rung when they come from
 * someone else and name the user; a private one always rings. */
static void
put_named(struct tc_deco *d, struct out *o, const char *line,
          const struct label *l, const char *self)
{
	size_t self_len = strlen(self);
	bool from_self =
	    l->name_len == self_len && fold_eq(l->name, self, self_len);
	bool mention =
	    !from_self && mentions(l->text, l->text_len, self, self_len);

	put_message(o, line, l, mention);
	if (d->o.bell && !from_self && (mention || l->kind == LINE_PRIVATE))
		put_str(o, BELL);
}

size_t
tc_deco_line(struct tc_deco *d, const char *line, size_t len,
             const struct tm *now, char *dst)
{
	struct out o = {dst, 0, TC_DECO_BOUND(len)};
	char self[TC_DECO_NAME_MAX + 1];
	struct label l;

	parse_label(line, len, &l);
	pthread_mutex_lock(&d->lock);
	learn(d, line, len, &l);
	memcpy(self, d->self, sizeof(self));
	pthread_mutex_unlock(&d->lock);

	if (d->o.timestamps)
		put_timestamp(&o, now, d->o.color);
	if (!d->o.color)
		l.kind = LINE_PLAIN;
	switch (l.kind) {
	case LINE_MESSAGE:
	case LINE_PRIVATE:
		put_named(d, &o, line, &l, self);
		break;
	case LINE_PRIVATE_SENT:
		put_private_sent(&o, line, len, &l);
		break;
	case LINE_NOTICE:
		put_whole(&o, SGR_DIM, line, len);
		break;
	case LINE_ERROR:
		put_whole(&o, SGR_ERROR, line, len);
		break;
	case LINE_PLAIN:
		put_text(&o, line, len);
		break;
	}
	dst[o.len] = '\0';
	return o.len;
}

size_t
tc_deco_rest(struct tc_deco *d, const char *line, size_t len,
             const struct tm *now, char *dst)
{
	struct out o = {dst, 0, TC_DECO_BOUND(len)};

	if (d->o.timestamps)
		put_timestamp(&o, now, d->o.color);
	put_text(&o, line, len);
	dst[o.len] = '\0';
	return o.len;
}

void
tc_deco_self(struct tc_deco *d, char *buf)
{
	pthread_mutex_lock(&d->lock);
	memcpy(buf, d->self, sizeof(d->self));
	pthread_mutex_unlock(&d->lock);
}

bool
tc_deco_knows(struct tc_deco *d, const char *nick)
{
	bool known;

	pthread_mutex_lock(&d->lock);
	known = nick_find(d, nick, strlen(nick)) != NULL;
	pthread_mutex_unlock(&d->lock);
	return known;
}

/* ---- completion ---- */

/* Those that take an argument are followed by a space. */
static const struct {
	const char *word;
	const char *suffix;
} commands[] = {
    {"/nick", " "}, {"/who", ""}, {"/msg", " "}, {"/help", ""}, {"//", ""},
};

/* Appends word[0..word_len) + suffix to m (room for it is there). */
static int
match_add(struct tc_deco_matches *m, const char *word, size_t word_len,
          const char *suffix)
{
	size_t suffix_len = strlen(suffix);
	char *text = malloc(word_len + suffix_len + 1);

	if (text == NULL)
		return -1;
	memcpy(text, word, word_len);
	memcpy(text + word_len, suffix, suffix_len + 1);
	m->v[m->n].text = text;
	m->v[m->n].word_len = word_len;
	m->n++;
	return 0;
}

static int
match_cmp(const void *a, const void *b)
{
	const struct tc_deco_match *x = a, *y = b;

	for (size_t i = 0;; i++) {
		unsigned char cx = fold((unsigned char)x->text[i]);
		unsigned char cy = fold((unsigned char)y->text[i]);

		if (cx != cy || cx == '\0')
			return (int)cx - (int)cy;
	}
}

static int
complete_commands(const char *word, size_t len, struct tc_deco_matches *m)
{
	size_t n = sizeof(commands) / sizeof(commands[0]);

	m->v = calloc(n, sizeof(*m->v));
	if (m->v == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strncmp(commands[i].word, word, len) == 0 &&
		    match_add(m, commands[i].word, strlen(commands[i].word),
		              commands[i].suffix) < 0)
			return -1;
	return 0;
}

/* Nicks beginning with word, but the user's own; d->lock held. */
static int
complete_nicks(struct tc_deco *d, const char *word, size_t len,
               const char *suffix, struct tc_deco_matches *m)
{
	size_t self_len = strlen(d->self);

	m->v = calloc(d->n_nicks + 1, sizeof(*m->v));
	if (m->v == NULL)
		return -1;
	for (size_t i = 0; i < d->n_nicks; i++) {
		const char *name = d->nicks[i].name;
		size_t name_len = strlen(name);

		if (name_len < len || !fold_eq(name, word, len))
			continue;
		if (name_len == self_len && fold_eq(name, d->self, self_len))
			continue;
		if (match_add(m, name, name_len, suffix) < 0)
			return -1;
	}
	return 0;
}

int
tc_deco_complete(struct tc_deco *d, const char *line, size_t word_start,
                 size_t cursor, struct tc_deco_matches *m)
{
	const char *word = line + word_start;
	size_t len = cursor - word_start;
	bool at_start = true;
	int rc;

	assert(word_start <= cursor);
	m->n = 0;
	m->v = NULL;
	for (size_t i = 0; i < word_start; i++)
		if (line[i] != ' ' && line[i] != '\t')
			at_start = false;
	if (at_start && len > 0 && word[0] == '/') {
		rc = complete_commands(word, len, m);
	} else {
		pthread_mutex_lock(&d->lock);
		rc = complete_nicks(d, word, len, at_start ? ": " : " ", m);
		pthread_mutex_unlock(&d->lock);
	}
	if (rc < 0) {
		tc_deco_matches_free(m);
		errno = ENOMEM;
		return -1;
	}
	qsort(m->v, m->n, sizeof(*m->v), match_cmp);
	return 0;
}

void
tc_deco_matches_free(struct tc_deco_matches *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].text);
	free(m->v);
	m->n = 0;
	m->v = NULL;
}
