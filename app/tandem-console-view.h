/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console view: a VM's whole guest display, shown with spice-gtk.
 *
 * Connects to QEMU's SPICE server on the VM's UNIX socket
 * ($XDG_RUNTIME_DIR/tandem/NAME/spice.sock, TANDEM_RUNTIME_SPICE), shows the
 * primary display scaled to the widget (the guest's resolution is left
 * alone) and forwards keyboard and mouse to the guest. No USB redirection,
 * no audio.
 *
 * Connecting may start before QEMU has made the socket: the view retries
 * with a growing delay until the connect timeout (30 s by default) runs
 * out. When the VM stops, the view says so and stays disconnected until
 * connect is called again. A status overlay tells the user what is going
 * on whenever no guest picture is shown.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum {
  TANDEM_CONSOLE_DISCONNECTED,
  TANDEM_CONSOLE_CONNECTING, /* until the SPICE session is up */
  TANDEM_CONSOLE_CONNECTED,
} TandemConsoleState;

/* Why the view is disconnected (NONE while connecting or connected). */
typedef enum {
  TANDEM_CONSOLE_REASON_NONE,        /* never connected, or disconnect() */
  TANDEM_CONSOLE_REASON_CLOSED,      /* the server went away: VM stopped */
  TANDEM_CONSOLE_REASON_UNREACHABLE, /* nothing answered before the timeout */
  TANDEM_CONSOLE_REASON_FAILED,      /* SPICE refused or broke the link */
} TandemConsoleDisconnectReason;

#define TANDEM_TYPE_CONSOLE_STATE (tandem_console_state_get_type())
GType tandem_console_state_get_type(void);
#define TANDEM_TYPE_CONSOLE_DISCONNECT_REASON \
  (tandem_console_disconnect_reason_get_type())
GType tandem_console_disconnect_reason_get_type(void);

#define TANDEM_TYPE_CONSOLE_VIEW (tandem_console_view_get_type())
G_DECLARE_FINAL_TYPE(TandemConsoleView, tandem_console_view, TANDEM,
                     CONSOLE_VIEW, GtkBin)

TandemConsoleView *tandem_console_view_new(void);

/* Starts (or restarts) connecting to the SPICE server listening on the UNIX
 * socket @spice_socket_path. Any current connection is dropped first. */
void tandem_console_view_connect(TandemConsoleView *self,
                                 const char *spice_socket_path);
/* Drops the connection (or stops trying); reason NONE. */
void tandem_console_view_disconnect(TandemConsoleView *self);

/* How long connect keeps retrying a socket that is missing or refuses, in
 * ms (default 30000). Applies from the next connect. */
void tandem_console_view_set_connect_timeout(TandemConsoleView *self,
                                             guint timeout_ms);

TandemConsoleState tandem_console_view_get_state(TandemConsoleView *self);
TandemConsoleDisconnectReason
tandem_console_view_get_disconnect_reason(TandemConsoleView *self);
/* The socket of the last connect, NULL before. */
const char *tandem_console_view_get_socket_path(TandemConsoleView *self);
/* What the status overlay says, NULL while the guest's picture shows. */
const char *tandem_console_view_get_status_text(TandemConsoleView *self);

/* TRUE once the guest's primary surface exists; its size in guest pixels.
 * @width and @height may be NULL. */
gboolean tandem_console_view_get_display_size(TandemConsoleView *self,
                                              int *width, int *height);
/* TRUE while the guest's picture is drawn: a primary surface exists and
 * the spice-gtk widget has received a complete frame for it. */
gboolean tandem_console_view_is_display_ready(TandemConsoleView *self);

/* Properties (read-only, each with notify):
 *   "state"             TandemConsoleState
 *   "disconnect-reason" TandemConsoleDisconnectReason
 *   "socket-path"       string
 *   "status-text"       string, NULL while the guest's picture shows
 *   "display-ready"     boolean
 */

G_END_DECLS
