/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One VM's snapshots in the shell's window: a list (when, name, size, how
 * it was taken) with Restore and Delete on each, a field for a new one's
 * name and Take Snapshot, and a progress bar while one is being taken or
 * restored, whoever asked for it (the window or tandemctl: both use the
 * application's TandemSnapshotManager). */
#pragma once

#include <gtk/gtk.h>

#include "tandem-snapshot-manager.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_SNAPSHOT_PANEL (tandem_snapshot_panel_get_type())
G_DECLARE_FINAL_TYPE(TandemSnapshotPanel, tandem_snapshot_panel, TANDEM,
                     SNAPSHOT_PANEL, GtkBox)

/* References both; @snapshots must be made for @manager. */
GtkWidget *tandem_snapshot_panel_new(TandemSnapshotManager *snapshots,
                                     TandemVmManager *manager);

/* Shows the snapshots of the VM @vm; NULL, or a guest without a VM, shows
 * none (and says why). */
void tandem_snapshot_panel_set_vm(TandemSnapshotPanel *self, const char *vm);

/* What the buttons do once the user has confirmed: take one named as the
 * name field says, restore or delete @id. Failures show in the panel. */
void tandem_snapshot_panel_take(TandemSnapshotPanel *self);
void tandem_snapshot_panel_restore(TandemSnapshotPanel *self,
                                   const char *id);
void tandem_snapshot_panel_delete(TandemSnapshotPanel *self, const char *id);

/* For tests, reading what the user sees: the ids listed, newest first;
 * the status line (progress or the last failure, "" when idle); whether
 * Take Snapshot can be clicked; the name field. */
GStrv tandem_snapshot_panel_get_ids(TandemSnapshotPanel *self);
const char *tandem_snapshot_panel_get_status(TandemSnapshotPanel *self);
gboolean tandem_snapshot_panel_can_take(TandemSnapshotPanel *self);
/* The schedule's switch (one click: a snapshot every hour), as a click
 * would turn it, and the sentence beside it. */
gboolean tandem_snapshot_panel_get_scheduled(TandemSnapshotPanel *self);
void tandem_snapshot_panel_set_scheduled(TandemSnapshotPanel *self,
                                         gboolean on);
const char *tandem_snapshot_panel_get_schedule_text(
    TandemSnapshotPanel *self);
void tandem_snapshot_panel_set_name(TandemSnapshotPanel *self,
                                    const char *name);

G_END_DECLS
