/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One virtual machine: its QEMU process, supervised.
 *
 * Starts QEMU as a child (paused, so nothing the guest prints is missed),
 * connects QMP and the serial console, then lets the guest run. Notices an
 * exit at once (child watch) and tells a crash from a requested stop.
 */
#pragma once

#include <gio/gio.h>

#include "tandem-pixel-region.h"
#include "tandem-qmp-client.h"
#include "tandem-vm-config.h"

G_BEGIN_DECLS

typedef enum {
  TANDEM_VM_STOPPED,
  TANDEM_VM_STARTING,
  TANDEM_VM_RUNNING,
  TANDEM_VM_PAUSED,
  TANDEM_VM_STOPPING,
  TANDEM_VM_CRASHED,
} TandemVmState;

/* "stopped", "starting", "running", "paused", "stopping", "crashed". */
const char *tandem_vm_state_to_string(TandemVmState state);

/* Monotonic times (g_get_monotonic_time()) of the last start, 0 if unset. */
typedef struct {
  gint64 spawned;        /* QEMU process started */
  gint64 qmp_ready;      /* QMP capabilities negotiated */
  gint64 running;        /* guest let run ("cont" answered) */
  gint64 first_console;  /* first complete line on the serial console */
} TandemVmTimings;

#define TANDEM_TYPE_VM (tandem_vm_get_type())
G_DECLARE_FINAL_TYPE(TandemVm, tandem_vm, TANDEM, VM, GObject)

/* Takes @config. */
TandemVm *tandem_vm_new(TandemVmConfig *config);

const char *tandem_vm_get_name(TandemVm *self);
const TandemVmConfig *tandem_vm_get_config(TandemVm *self);
TandemVmState tandem_vm_get_state(TandemVm *self);
/* The accelerator of the running (or last) QEMU: KVM or TCG; AUTO before
 * the first start (show the configured one then). */
TandemAccel tandem_vm_get_accel(TandemVm *self);
/* Why that accelerator was chosen ("probe: KVM guest did not boot ..."). */
const char *tandem_vm_get_accel_reason(TandemVm *self);
/* After a crash: the last lines of QEMU's log and how it ended. */
const char *tandem_vm_get_crash_report(TandemVm *self);
/* While running: $XDG_RUNTIME_DIR/tandem/NAME, the QMP client. */
const char *tandem_vm_get_runtime_dir(TandemVm *self);
TandemQmpClient *tandem_vm_get_qmp(TandemVm *self);
/* While running: the memory shared with the guest for pixels (NULL when
 * the VM has none, PixelMemory=0). */
TandemPixelRegion *tandem_vm_get_pixel_region(TandemVm *self);
GPid tandem_vm_get_pid(TandemVm *self); /* 0 when not running */
/* Its QEMU runs under -sandbox (FALSE when it does not run). */
gboolean tandem_vm_is_sandboxed(TandemVm *self);
void tandem_vm_get_timings(TandemVm *self, TandemVmTimings *out);

/* Replaces the configuration (takes it); only while stopped or crashed. */
gboolean tandem_vm_set_config(TandemVm *self, TandemVmConfig *config,
                              GError **error);

/* With @incoming, the next start prepares QEMU to receive a saved state
 * instead of booting (-incoming defer): it completes with QMP up and the
 * VM PAUSED, for the caller to send the state (migrate-incoming) and
 * resume it. The flag is cleared by that start. */
void tandem_vm_set_incoming(TandemVm *self, gboolean incoming);

/* A disk's image moved (a snapshot put an overlay on it, a restore made a
 * new one): @path is where QEMU writes it now and where the next start
 * finds it; @name "" is the boot image. Any state. FALSE if the VM has no
 * such disk. */
gboolean tandem_vm_set_disk_path(TandemVm *self, const char *name,
                                 const char *path);

/* The VM's snapshot schedule ([Snapshots] in its configuration), changed
 * in any state; the caller saves the configuration. */
void tandem_vm_set_snapshot_schedule(TandemVm *self, guint64 every,
                                     guint keep, guint64 max_age);

/* Timeouts in ms (0 keeps the current): QMP socket ready after spawn
 * (default 10000), guest power-down before "quit" (30000), "quit" before
 * SIGKILL (5000). */
void tandem_vm_set_timeouts(TandemVm *self, guint qmp_ready_ms,
                            guint powerdown_ms, guint quit_ms);

/* Starting completes once the guest runs. Fails with ALREADY_RUNNING,
 * BUSY, CONFIG, SPAWN, ACCEL, TIMEOUT or CRASHED (QEMU exited; the message
 * carries its last log lines). */
void tandem_vm_start_async(TandemVm *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean tandem_vm_start_finish(TandemVm *self, GAsyncResult *result,
                                GError **error);

/* Cancelling a start or stop only stops waiting for it; the VM carries on
 * to a settled state (stop it to end a start).
 *
 * Graceful: ACPI power-down, then "quit", then SIGKILL, each after its
 * timeout. @force: "quit" at once. Completes when QEMU has exited. */
void tandem_vm_stop_async(TandemVm *self, gboolean force,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
gboolean tandem_vm_stop_finish(TandemVm *self, GAsyncResult *result,
                               GError **error);

/* Pause, resume, reset: complete when QEMU has answered. Pausing a paused
 * VM or resuming a running one succeeds and does nothing. */
void tandem_vm_pause_async(TandemVm *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
void tandem_vm_resume_async(TandemVm *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
void tandem_vm_reset_async(TandemVm *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
/* Finishes pause, resume and reset. */
gboolean tandem_vm_command_finish(TandemVm *self, GAsyncResult *result,
                                  GError **error);

/* Signals:
 *   "state-changed": void (TandemVm *, TandemVmState old, TandemVmState new)
 *   "console-line":  void (TandemVm *, const char *line)  -- serial console,
 *                    without the line end; lines over 4 KiB are cut
 * Properties: "name", "state" (notify::state fires with state-changed).
 */

G_END_DECLS
