/* complete_rl: readline's attempted-completion hook on top of
 * tc_deco_complete(). A single candidate is inserted whole, suffix and
 * all ("alice: "); several are listed bare and their common prefix is
 * inserted. Runs on the console thread only, as readline does. */
#include "tcpchat/complete_rl.h"

#ifdef HAVE_READLINE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

/* Console thread only, like every readline call. */
static struct tc_deco *deco;
static struct tc_deco_matches found; /* of the completion in progress */
static size_t next_match;

/* readline's generator: hands out found's candidates, one per call. */
static char *
generate(const char *text, int state)
{
	const struct tc_deco_match *m;

	(void)text;
	if (state == 0)
		next_match = 0;
	if (next_match >= found.n)
		return NULL;
	m = &found.v[next_match++];
	if (found.n == 1)
		return strdup(m->text);
	return strndup(m->text, m->word_len);
}

static char **
attempt(const char *text, int start, int end)
{
	char **matches;

	rl_attempted_completion_over = 1; /* never fall back to file names */
	rl_completion_append_character = '\0'; /* candidates bring their own */
	if (start < 0 || end < start ||
	    tc_deco_complete(deco, rl_line_buffer, (size_t)start, (size_t)end,
	                     &found) < 0)
		return NULL;
	matches = rl_completion_matches(text, generate);
	tc_deco_matches_free(&found);
	return matches;
}

void
tc_complete_rl_install(struct tc_deco *d)
{
	deco = d;
	rl_attempted_completion_function = attempt;
	rl_variable_bind("completion-ignore-case", "on");
}

#else

void
tc_complete_rl_install(struct tc_deco *d)
{
	(void)d;
}

#endif
