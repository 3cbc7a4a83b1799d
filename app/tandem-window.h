/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The main window: the user's VMs with their live state, a spinner while
 * one starts or stops, Start/Stop on each; an empty state explaining how to
 * add one; failures in an info bar, with what to do. */
#pragma once

#include <gtk/gtk.h>

#include "tandem-disk-manager.h"
#include "tandem-guest-hub.h"
#include "tandem-snapshot-manager.h"
#include "tandem-vm-manager.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_WINDOW (tandem_window_get_type())
G_DECLARE_FINAL_TYPE(TandemWindow, tandem_window, TANDEM, WINDOW,
                     GtkApplicationWindow)

/* Shows @manager's VMs (the application's, normally). */
TandemWindow *tandem_window_new_for_manager(GtkApplication *app,
                                            TandemVmManager *manager);
/* With a manager of its own over @config_dir (NULL: the user's). */
TandemWindow *tandem_window_new(GtkApplication *app, const char *config_dir);

/* Re-reads the VM configuration directory. */
void tandem_window_reload(TandemWindow *self);

/* For tests, reading what the user sees and clicking what the user clicks. */
guint tandem_window_get_vm_count(TandemWindow *self);
gboolean tandem_window_is_empty_state(TandemWindow *self);
const char *tandem_window_get_state_text(TandemWindow *self, const char *vm);
gboolean tandem_window_click_action(TandemWindow *self, const char *vm);
const char *tandem_window_get_error_text(TandemWindow *self);

/* Adds the guest panel (applications, screen) for @hub's guests. */
void tandem_window_set_guest_hub(TandemWindow *self, TandemGuestHub *hub);
GtkWidget *tandem_window_get_guest_panel(TandemWindow *self);

/* After set_guest_hub(): adds the guest panel's Snapshots page, for
 * @snapshots (made for the window's VM manager). */
void tandem_window_set_snapshot_manager(TandemWindow *self,
                                        TandemSnapshotManager *snapshots);

/* Adds the guest panel's Storage page (a VM's network disks: attach by
 * address, detach), for @disks (made for the window's VM manager); once.
 * Set before the guest hub, the page comes with the guest panel. */
void tandem_window_set_disk_manager(TandemWindow *self,
                                    TandemDiskManager *disks);
/* NULL until both a guest hub and a disk manager are set. */
GtkWidget *tandem_window_get_storage_panel(TandemWindow *self);

G_END_DECLS
