/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shell's view of one guest at a time: its applications as a grid of
 * icons with a search field (a click launches, starting the VM first if
 * needed, with progress), its whole display (the console, over SPICE)
 * and, once a snapshot manager is set, its snapshots. */
#pragma once

#include <gtk/gtk.h>

#include "tandem-guest-hub.h"
#include "tandem-snapshot-panel.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_GUEST_PANEL (tandem_guest_panel_get_type())
G_DECLARE_FINAL_TYPE(TandemGuestPanel, tandem_guest_panel, TANDEM,
                     GUEST_PANEL, GtkBox)

GtkWidget *tandem_guest_panel_new(TandemGuestHub *hub,
                                  TandemVmManager *manager);

/* Shows @guest (a VM's name or a loopback guest's). */
void tandem_guest_panel_select(TandemGuestPanel *self, const char *guest);
const char *tandem_guest_panel_get_selected(TandemGuestPanel *self);

/* Adds the Snapshots page, for @snapshots (made for the panel's VM
 * manager); once. */
void tandem_guest_panel_set_snapshot_manager(TandemGuestPanel *self,
                                             TandemSnapshotManager *snapshots);
/* NULL until a snapshot manager is set. */
TandemSnapshotPanel *tandem_guest_panel_get_snapshot_panel(
    TandemGuestPanel *self);

/* For tests: the application ids shown (after the search filter), and a
 * click on one. */
GStrv tandem_guest_panel_get_visible_apps(TandemGuestPanel *self);
gboolean tandem_guest_panel_click_app(TandemGuestPanel *self,
                                      const char *app_id);
const char *tandem_guest_panel_get_status(TandemGuestPanel *self);
void tandem_guest_panel_set_search(TandemGuestPanel *self, const char *text);

G_END_DECLS
