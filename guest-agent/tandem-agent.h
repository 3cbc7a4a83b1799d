/* tandem-agent's session with the host, independent of the guest's
 * windowing system: handshake, heartbeats, the application catalog (and
 * its changes), launching applications, reconnecting with full state.
 * The X11 backend (windows, pixels, input, focus) plugs in later behind
 * an interface of its own. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TANDEM_TYPE_AGENT (tandem_agent_get_type())
G_DECLARE_FINAL_TYPE(TandemAgent, tandem_agent, TANDEM, AGENT, GObject)

/* @address: see tandem_agent_channel_new(). @data_dirs: where applications
 * are looked for (NULL: the session's XDG data dirs). */
TandemAgent *tandem_agent_new(const char *address,
                              const char *const *data_dirs);

/* Connects now, and again whenever the host goes away, backing off from
 * 200 ms to 2 s between tries. */
void tandem_agent_start(TandemAgent *self);

G_END_DECLS
