/* SPDX-License-Identifier: GPL-2.0-or-later */
/* All of the user's VMs: their configurations on disk and their
 * supervisors. What the shell and its D-Bus service drive. */
#pragma once

#include "tandem-vm.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_VM_MANAGER (tandem_vm_manager_get_type())
G_DECLARE_FINAL_TYPE(TandemVmManager, tandem_vm_manager, TANDEM, VM_MANAGER,
                     GObject)

/* @config_dir: where NAME.conf files live (NULL: the user's,
 * $XDG_CONFIG_HOME/tandem/vms). */
TandemVmManager *tandem_vm_manager_new(const char *config_dir);

const char *tandem_vm_manager_get_config_dir(TandemVmManager *self);

/* Re-reads the configuration directory: adds new VMs, drops stopped VMs
 * whose file is gone, refreshes stopped VMs' configurations. Files that
 * do not parse are skipped; their errors are kept for
 * tandem_vm_manager_get_problems(). */
void tandem_vm_manager_reload(TandemVmManager *self);

/* The VMs, sorted by name (container owned by the manager). */
GPtrArray *tandem_vm_manager_get_vms(TandemVmManager *self);
TandemVm *tandem_vm_manager_lookup(TandemVmManager *self, const char *name);

/* Configuration files that could not be read: "NAME.conf: why" lines,
 * NULL-terminated, owned by the manager. */
const char *const *tandem_vm_manager_get_problems(TandemVmManager *self);

/* Writes @config (taken) as a new VM; fails with EXISTS or CONFIG. The VM
 * returned belongs to the manager (transfer none). */
TandemVm *tandem_vm_manager_create(TandemVmManager *self,
                                   TandemVmConfig *config, GError **error);

/* Signals:
 *   "vm-added":   void (TandemVmManager *, TandemVm *)
 *   "vm-removed": void (TandemVmManager *, TandemVm *)
 *   "vm-state-changed": void (TandemVmManager *, TandemVm *,
 *                             TandemVmState old, TandemVmState new)
 */

G_END_DECLS
