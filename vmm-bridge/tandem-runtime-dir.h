/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A running VM's runtime directory, $XDG_RUNTIME_DIR/tandem/NAME (0700),
 * and the lock that says a QEMU runs for it. The lock's descriptor is also
 * given to QEMU, so it stays held for as long as that QEMU lives. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _TandemRuntimeDir TandemRuntimeDir;

/* Creates the directory, takes the lock and removes sockets a dead VM
 * left. Fails with TANDEM_VMM_ERROR_ALREADY_RUNNING while another QEMU
 * holds it, TANDEM_VMM_ERROR_RUNTIME_DIR if the directory is unusable. */
TandemRuntimeDir *tandem_runtime_dir_acquire(const char *vm_name,
                                             GError **error);
/* Removes the sockets and drops the lock. */
void tandem_runtime_dir_release(TandemRuntimeDir *dir);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemRuntimeDir, tandem_runtime_dir_release)

const char *tandem_runtime_dir_get_path(TandemRuntimeDir *dir);
int tandem_runtime_dir_get_lock_fd(TandemRuntimeDir *dir);
/* Records QEMU's pid in the lock file, for "already running" messages. */
void tandem_runtime_dir_set_pid(TandemRuntimeDir *dir, GPid pid);

/* $XDG_RUNTIME_DIR/tandem/NAME, whether it exists or not. */
char *tandem_runtime_dir_path_for(const char *vm_name);

G_END_DECLS
