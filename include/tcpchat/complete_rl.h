/* complete_rl: Tab completion of commands and nicks for readline.
 *
 * Glue between readline's completion hooks and tc_deco_complete(): the
 * candidates come from the display state, readline shows and inserts
 * them. Without readline it does nothing. */
#ifndef TCPCHAT_COMPLETE_RL_H
#define TCPCHAT_COMPLETE_RL_H

#include "tcpchat/decorate.h"

/* Makes readline's completion offer d's commands and nicks (never file
 * names), ASCII case ignored. Tab must be bound to rl_complete for it to
 * run. d must outlive readline's use. Console thread, or before threads. */
void tc_complete_rl_install(struct tc_deco *d);

#endif
