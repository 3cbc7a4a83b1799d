/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The agent's window-system backend interface.
 *
 * The session (tandem-agent.c) knows the channel, the handshake and the
 * catalog; everything about the guest's windows, pixels, input and focus
 * lives behind this interface so that another guest OS (Wayland, Windows)
 * can be added as another backend. tandem-x11.c is the X11 one.
 *
 * A backend sends protocol messages through its sink and receives the
 * host's window, input and focus messages through handle(). It never sends
 * anything while the host is not ready (between host_gone and host_ready).
 */
#pragma once

#include <glib.h>

#include "tandem-pixel-memory.h"
#include "tandem-protocol.h"

G_BEGIN_DECLS

typedef struct _TandemDisplay TandemDisplay;

typedef struct {
  /* Queues one message to the host; FALSE if the channel is closed. */
  gboolean (*send)(const TpMessage *msg, gpointer user_data);
  /* The display is gone for good (the X server exited): the agent ends. */
  void (*lost)(const char *reason, gpointer user_data);
  gpointer user_data;
} TandemDisplaySink;

typedef struct {
  const char *name;
  /* The host said HELLO: announce every window with its pixels, then the
   * current focus, as if the host had never seen any of it. */
  void (*host_ready)(TandemDisplay *self, const TpHello *host);
  /* The channel closed: forget what the host knew, keep the windows. */
  void (*host_gone)(TandemDisplay *self);
  /* A window, input, focus or frame message from the host. */
  void (*handle)(TandemDisplay *self, const TpMessage *msg);
  /* TP_CAP_* bits the backend adds (TP_CAP_WM when it manages windows). */
  uint64_t (*caps)(TandemDisplay *self);
  void (*screen)(TandemDisplay *self, uint32_t *width, uint32_t *height);
  void (*free)(TandemDisplay *self);
} TandemDisplayOps;

struct _TandemDisplay {
  const TandemDisplayOps *ops;
  TandemDisplaySink sink;
};

/* True for the message types a backend handles. */
gboolean tandem_display_handles(uint16_t type);

/* @s (@len bytes, -1: NUL-terminated; NULL: "") made valid UTF-8 and cut
 * to at most @max bytes at a character boundary, for a text field. */
char *tandem_fit_text(const char *s, gssize len, size_t max);

/* The X11 backend on @display_name (NULL: $DISPLAY). It takes
 * @pixel_memory (NULL: none), and offers TP_CAP_SHM when its X server can
 * use it. */
TandemDisplay *tandem_display_x11_new(const char *display_name,
                                      const TandemDisplaySink *sink,
                                      TandemPixelMemory *pixel_memory,
                                      GError **error);

static inline void tandem_display_free(TandemDisplay *self) {
  if (self)
    self->ops->free(self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemDisplay, tandem_display_free)

G_END_DECLS
