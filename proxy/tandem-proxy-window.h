/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One host window for one guest window: its pixels, title, icon,
 * per-application WM_CLASS, geometry and states, and the user's input on
 * it turned back into protocol messages. It decides nothing about focus:
 * it reports host focus changes and asks, through the manager, whether
 * keys may go to the guest. */
#pragma once

#include <gtk/gtk.h>

#include "tandem-pixel-region.h"
#include "tandem-protocol.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_PROXY_WINDOW (tandem_proxy_window_get_type())
G_DECLARE_FINAL_TYPE(TandemProxyWindow, tandem_proxy_window, TANDEM,
                     PROXY_WINDOW, GtkWindow)

typedef struct {
  /* Sends a message about this window (the id is filled in). */
  void (*send)(TandemProxyWindow *w, TpMessage *m, gpointer data);
  /* May keyboard input for this window go to the guest now? */
  gboolean (*may_type)(TandemProxyWindow *w, gpointer data);
  /* Host focus came / went. */
  void (*focus)(TandemProxyWindow *w, gboolean in, gpointer data);
  /* May this window's pixels take @bytes (instead of what they take
   * now)? FALSE: over the VM's budget; the window shows nothing. */
  gboolean (*reserve)(TandemProxyWindow *w, gsize bytes, gpointer data);
  /* May this window ask the user for full screen now (no other window of
   * the VM is asking)? */
  gboolean (*may_ask)(TandemProxyWindow *w, gpointer data);
  /* The host's full key state (X keycodes), on focus-in. */
  gpointer data;
} TandemProxyHooks;

TandemProxyWindow *tandem_proxy_window_new(const char *vm_name,
                                           uint32_t guest_id,
                                           const TpWindowCreate *create,
                                           TandemProxyWindow *parent,
                                           const TandemProxyHooks *hooks);

uint32_t tandem_proxy_window_get_guest_id(TandemProxyWindow *self);
TandemProxyWindow *tandem_proxy_window_get_parent(TandemProxyWindow *self);
const char *tandem_proxy_window_get_title(TandemProxyWindow *self);
const char *tandem_proxy_window_get_app_id(TandemProxyWindow *self);
gboolean tandem_proxy_window_is_shown(TandemProxyWindow *self);
/* Guest geometry as last configured (guest pixels). */
void tandem_proxy_window_get_guest_geometry(TandemProxyWindow *self,
                                            int32_t *x, int32_t *y,
                                            uint32_t *w, uint32_t *h);
/* Frames painted so far, and the guest time of the last one's arrival. */
guint64 tandem_proxy_window_get_frames(TandemProxyWindow *self);
/* The memory shared with the guest that TP_ENCODING_SHM damage points
 * into (NULL: such damage is refused). */
void tandem_proxy_window_set_pixel_region(TandemProxyWindow *self,
                                          TandemPixelRegion *region);

/* The application this window belongs to, and the WM_CLASS it gets
 * (set before the window is first shown). */
void tandem_proxy_window_set_app(TandemProxyWindow *self, const char *app_id,
                                 const char *wm_class);

/* The application's icon (PNG from the catalog), used until the guest
 * window sends one of its own. */
void tandem_proxy_window_set_app_icon(TandemProxyWindow *self, GBytes *png);

/* Messages from the guest about this window. */
void tandem_proxy_window_handle(TandemProxyWindow *self, const TpMessage *m);

/* The guest pixels as last painted (RGB24; for tests and benchmarks),
 * or NULL before any arrived. */
cairo_surface_t *tandem_proxy_window_get_surface(TandemProxyWindow *self);
/* Host memory the guest pixels take. */
gsize tandem_proxy_window_get_surface_bytes(TandemProxyWindow *self);
/* Is the window asking the user for full screen? */
gboolean tandem_proxy_window_is_asking(TandemProxyWindow *self);

/* Signal "frame-painted" (guint frame_seq): a guest frame was drawn on the
 * host and acknowledged. */

/* Sends the host's key state (on focus-in, asked by the focus logic). */
void tandem_proxy_window_send_key_state(TandemProxyWindow *self);

G_END_DECLS
