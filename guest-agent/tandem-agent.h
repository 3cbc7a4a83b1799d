/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-agent's session with the host, independent of the guest's
 * windowing system: handshake, heartbeats, the application catalog (and
 * its changes), launching applications, reconnecting with full state.
 * Windows, pixels, input and focus belong to a display backend
 * (tandem-display.h; X11 today). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TANDEM_TYPE_AGENT (tandem_agent_get_type())
G_DECLARE_FINAL_TYPE(TandemAgent, tandem_agent, TANDEM, AGENT, GObject)

/* @address: see tandem_agent_channel_new(). @data_dirs: where applications
 * are looked for (NULL: the session's XDG data dirs). */
TandemAgent *tandem_agent_new(const char *address,
                              const char *const *data_dirs);

/* The X display to serve (default: $DISPLAY; without one the agent offers
 * its catalog only). Call before tandem_agent_start(). */
void tandem_agent_set_display(TandemAgent *self, const char *display_name);

/* The memory shared with the host for pixels: a file (loopback), "none",
 * or NULL for the VM's ivshmem device when there is one (the default;
 * in loopback, none). Call before tandem_agent_start(). */
void tandem_agent_set_pixel_memory(TandemAgent *self, const char *path);

/* Opens the display, then connects now, and again whenever the host goes
 * away, backing off from 200 ms to 2 s between tries. FALSE if the
 * display cannot be used (@error says why).
 *
 * Signal "display-lost" (const char *reason): the X server went away; the
 * agent has nothing left to do but exit. */
gboolean tandem_agent_start(TandemAgent *self, GError **error);

G_END_DECLS
