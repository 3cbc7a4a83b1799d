/* SPDX-License-Identifier: GPL-2.0-or-later */
/* All proxy windows of one VM: creates them as the guest announces its
 * windows, routes the guest's window messages to them, and runs the focus
 * state machine (focus/) between host focus events, the agent's focus
 * reports and the proxies' input. */
#pragma once

#include <gtk/gtk.h>

#include "tandem-guest-link.h"
#include "tandem-proxy-window.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_PROXY_MANAGER (tandem_proxy_manager_get_type())
G_DECLARE_FINAL_TYPE(TandemProxyManager, tandem_proxy_manager, TANDEM,
                     PROXY_MANAGER, GObject)

/* Which catalog application a guest window belongs to (from its WM_CLASS),
 * the WM_CLASS its proxy gets (both newly allocated, NULL if unknown) and
 * the application's icon (PNG, a new reference or NULL), shown while the
 * window has no icon of its own. */
typedef void (*TandemProxyClassFunc)(const char *res_name,
                                     const char *res_class, char **app_id,
                                     char **wm_class, GBytes **icon_png,
                                     gpointer data);

TandemProxyManager *tandem_proxy_manager_new(TandemGuestLink *link);

/* What all of one VM's windows' pixels may take on the host, by default
 * (a dozen full-screen windows on a 4K monitor). A guest that needs more
 * has its link cut, with a log line: never the host out of memory. */
#define TANDEM_PROXY_DEFAULT_WINDOW_MEMORY ((gsize)512 << 20)
void tandem_proxy_manager_set_window_memory(TandemProxyManager *self,
                                            gsize bytes);
/* What they take now. */
gsize tandem_proxy_manager_get_window_memory_used(TandemProxyManager *self);
void tandem_proxy_manager_set_class_func(TandemProxyManager *self,
                                         TandemProxyClassFunc func,
                                         gpointer data);

/* The proxies, in creation order (borrowed). */
GPtrArray *tandem_proxy_manager_get_windows(TandemProxyManager *self);
TandemProxyWindow *tandem_proxy_manager_find(TandemProxyManager *self,
                                             uint32_t guest_id);
/* Host focus (0: none of this VM) and the guest's confirmed focus. */
uint32_t tandem_proxy_manager_get_host_focus(TandemProxyManager *self);
uint32_t tandem_proxy_manager_get_guest_focus(TandemProxyManager *self,
                                              guint *kind);

/* Signals:
 *   "window-shown"   (TandemProxyWindow *) first map of a proxy
 *   "window-changed" (TandemProxyWindow *) its title changed
 *   "window-removed" (guint guest_id)
 *   "focus-changed"  ()  host or guest focus moved
 */

G_END_DECLS
