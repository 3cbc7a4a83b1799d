/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One VM's network disks in the shell's window: a list of its attachments
 * (name, state, bus, where the guest mounted it or why not, file system,
 * free space, address) with Detach on each, and a form to attach one: the
 * address (nbd://, nbd+unix://, iscsi://), the bus (NVMe or virtio-blk),
 * an optional name, read-only, and Attach. Everything goes through the
 * application's TandemDiskManager, so what tandemctl attaches shows here
 * too. */
#pragma once

#include <gtk/gtk.h>

#include "tandem-disk-manager.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_STORAGE_PANEL (tandem_storage_panel_get_type())
G_DECLARE_FINAL_TYPE(TandemStoragePanel, tandem_storage_panel, TANDEM,
                     STORAGE_PANEL, GtkBox)

/* References both; @disks must be made for @manager. */
GtkWidget *tandem_storage_panel_new(TandemDiskManager *disks,
                                    TandemVmManager *manager);

/* Shows the attachments of the VM @vm; NULL, or a guest without a VM,
 * shows none (and says why). */
void tandem_storage_panel_set_vm(TandemStoragePanel *self, const char *vm);

/* What the buttons do: attach what the form says; detach @name (@force:
 * even if the guest has files open on it). Progress and failures show in
 * the panel; neither waits. */
void tandem_storage_panel_attach(TandemStoragePanel *self);
void tandem_storage_panel_detach(TandemStoragePanel *self, const char *name,
                                 gboolean force);

/* For tests, reading what the user sees (the widgets also have
 * accessible names: "Disk address", "Bus", "Disk name", "Read-only",
 * "Attach", "Attached disks", "Detach NAME", "Detach anyway", "Storage
 * status"): the attachments' names, in the order they were made; one
 * row's second line (state, bus, mount, ...); the status line (progress
 * or the last failure, "" when idle); the address's problem ("" if none);
 * the sentence shown when nothing is listed ("" when hidden); whether
 * Attach and "Detach anyway" can be clicked. */
GStrv tandem_storage_panel_get_names(TandemStoragePanel *self);
char *tandem_storage_panel_get_row_text(TandemStoragePanel *self,
                                        const char *name);
const char *tandem_storage_panel_get_status(TandemStoragePanel *self);
const char *tandem_storage_panel_get_address_problem(
    TandemStoragePanel *self);
const char *tandem_storage_panel_get_empty_text(TandemStoragePanel *self);
gboolean tandem_storage_panel_can_attach(TandemStoragePanel *self);
gboolean tandem_storage_panel_can_force(TandemStoragePanel *self);
/* The form, as typing would fill it. */
void tandem_storage_panel_set_address(TandemStoragePanel *self,
                                      const char *uri);
void tandem_storage_panel_set_name(TandemStoragePanel *self,
                                   const char *name);
void tandem_storage_panel_set_bus(TandemStoragePanel *self,
                                  TandemDiskBus bus);
void tandem_storage_panel_set_read_only(TandemStoragePanel *self,
                                        gboolean read_only);

G_END_DECLS
