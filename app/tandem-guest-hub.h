/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shell's guests: one agent link per running VM (and per loopback
 * guest, an agent connecting to a socket without a VM, for tests and
 * development), launching applications (starting the VM first when
 * needed, with progress), the host menu kept in step with each catalog,
 * and the window and focus facts that the D-Bus service reports. No GTK:
 * the proxy windows (proxy/) hang off the links this hub announces. */
#pragma once

#include <gio/gio.h>

#include "tandem-guest-link.h"
#include "tandem-snapshot-manager.h"
#include "tandem-vm-manager.h"

G_BEGIN_DECLS

/* One proxy window, as the D-Bus service lists it. */
typedef struct {
  guint32 id;
  char *title;
  char *app_id;
  gboolean shown;
  gint32 x, y;
  guint32 width, height;
} TandemWindowInfo;

void tandem_window_info_clear(TandemWindowInfo *info);

/* What the GTK side tells the hub about a guest's windows. */
typedef struct {
  /* TandemWindowInfo array (with tandem_window_info_clear as clear func) */
  GArray *(*list)(gpointer owner);
  void (*focus)(gpointer owner, guint32 *host_window, guint32 *guest_window,
                guint *guest_kind);
} TandemWindowsSource;

/* Launch stages, as "launch-progress" reports them. */
typedef enum {
  TANDEM_LAUNCH_STARTING_VM,
  TANDEM_LAUNCH_WAITING_FOR_AGENT,
  TANDEM_LAUNCH_STARTING_APP,
  TANDEM_LAUNCH_STARTED,
} TandemLaunchStage;

const char *tandem_launch_stage_to_string(TandemLaunchStage stage);

#define TANDEM_TYPE_GUEST_HUB (tandem_guest_hub_get_type())
G_DECLARE_FINAL_TYPE(TandemGuestHub, tandem_guest_hub, TANDEM, GUEST_HUB,
                     GObject)

TandemGuestHub *tandem_guest_hub_new(TandemVmManager *manager);
/* Launching into a stopped VM starts it through @snapshots: a VM stopped
 * with its session saved resumes instead of booting. */
void tandem_guest_hub_set_snapshot_manager(TandemGuestHub *self,
                                           TandemSnapshotManager *snapshots);

/* Where the host menu goes (NULL: no menu export). @tandemctl: the
 * command its entries run. */
void tandem_guest_hub_set_menu(TandemGuestHub *self, const char *data_home,
                               const char *tandemctl);

/* A guest without a VM: its agent connects to @socket_path (listened on
 * here). */
gboolean tandem_guest_hub_add_loopback(TandemGuestHub *self, const char *name,
                                       const char *socket_path,
                                       GError **error);

/* The guests known (VMs and loopback guests), and their links. */
GStrv tandem_guest_hub_list_guests(TandemGuestHub *self);
TandemGuestLink *tandem_guest_hub_get_link(TandemGuestHub *self,
                                           const char *name);

/* Starts the VM if needed, waits for its agent and catalog, launches
 * @app_id with @args; completes with the guest pid. Errors:
 * G_IO_ERROR_NOT_FOUND (no such guest or application), G_IO_ERROR_TIMED_OUT
 * (the agent did not come), the VM's start error, the agent's refusal. */
void tandem_guest_hub_launch_async(TandemGuestHub *self, const char *guest,
                                   const char *app_id,
                                   const char *const *args,
                                   const char *startup_id,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
guint32 tandem_guest_hub_launch_finish(TandemGuestHub *self,
                                       GAsyncResult *result, GError **error);

/* The GTK side registers its windows for a guest (NULL source: gone). */
void tandem_guest_hub_set_windows(TandemGuestHub *self, const char *guest,
                                  const TandemWindowsSource *source,
                                  gpointer owner);
/* NULL when the guest has no windows source. */
GArray *tandem_guest_hub_list_windows(TandemGuestHub *self,
                                      const char *guest);
gboolean tandem_guest_hub_get_focus(TandemGuestHub *self, const char *guest,
                                    guint32 *host_window,
                                    guint32 *guest_window, guint *guest_kind);
/* The host's startup-notification id of the launch that is waiting for
 * @app_id's first window (taken: returned once), or NULL. */
char *tandem_guest_hub_take_startup_id(TandemGuestHub *self,
                                       const char *guest,
                                       const char *app_id);

void tandem_guest_hub_windows_changed(TandemGuestHub *self,
                                      const char *guest);
void tandem_guest_hub_focus_changed(TandemGuestHub *self, const char *guest);

/* Signals (guest names are strings):
 *   "link-added"      (const char *guest, TandemGuestLink *link)
 *   "link-removed"    (const char *guest)
 *   "apps-changed"    (const char *guest)
 *   "windows-changed" (const char *guest)
 *   "focus-changed"   (const char *guest)
 *   "launch-progress" (const char *guest, const char *app_id, guint stage)
 *   "startup-ended"   (const char *startup_id) a launch carrying this
 *                     startup-notification id failed: end it on the host
 */

G_END_DECLS
