/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Snapshots of running VMs, taken without disturbing the guest, listed,
 * restored and deleted.
 *
 * Taking one (tandem-snapshot-take.c): every writable disk gets a new
 * qcow2 overlay and QEMU's background-snapshot migration starts, both
 * while the VM is stopped for a few ms, so memory and disks describe the
 * same instant; the migration stream goes through the copy-on-write queue
 * (tandem-snapshot-writer.h) into a file, which is listed in the manifest
 * (tandem-snapshot-manifest.h) only once whole and on disk. Where the
 * kernel or QEMU refuse background-snapshot (an unprivileged QEMU 7.2
 * cannot use userfaultfd), a live pre-copy into the same RAM queue: the
 * guest runs while QEMU copies its memory and pauses it for the last
 * pages; the disks are switched in that pause. The snapshot says which
 * method and why. A VM's [Snapshots] Method (or the options) can choose
 * the live or the paused save.
 *
 * Restoring one (tandem-snapshot-restore.c): the file is checked whole
 * first (nothing is touched if it is damaged or another VM's); then the VM
 * is stopped, a fresh overlay is put on each disk's image of that instant,
 * and a new QEMU receives the memory (-incoming defer, migrate-incoming
 * from a thread decompressing the file) and runs on.
 *
 * A VM's configuration follows its disks: after a snapshot each disk's
 * Path names its newest overlay (the images below stay unchanged, for the
 * snapshots that need them). */
#pragma once

#include <gio/gio.h>

#include "tandem-snapshot-file.h"
#include "tandem-snapshot-manifest.h"
#include "tandem-snapshot-writer.h"
#include "tandem-vm-manager.h"

G_BEGIN_DECLS

typedef enum {
  TANDEM_SNAPSHOT_FORCE_NONE,      /* background-snapshot where possible */
  TANDEM_SNAPSHOT_FORCE_STOPPED,   /* always the paused save */
  TANDEM_SNAPSHOT_FORCE_PRECOPY,   /* always the live pre-copy */
} TandemSnapshotForce;

typedef struct {
  TandemSnapshotWriterOptions writer; /* queue size, compression level */
  TandemSnapshotForce force;
} TandemSnapshotOptions;

/* Defaults: a 256 MiB queue, zstd level 1, background-snapshot. */
void tandem_snapshot_options_init(TandemSnapshotOptions *options);

typedef enum {
  TANDEM_SNAPSHOT_PHASE_PREPARING, /* overlays, the file, QEMU's settings */
  TANDEM_SNAPSHOT_PHASE_SAVING,    /* memory going to the file */
  TANDEM_SNAPSHOT_PHASE_FINISHING, /* the file on disk, the manifest */
  TANDEM_SNAPSHOT_PHASE_CHECKING,  /* restore: the file checked whole */
  TANDEM_SNAPSHOT_PHASE_LOADING,   /* restore: memory going to QEMU */
  TANDEM_SNAPSHOT_PHASE_DONE,
  TANDEM_SNAPSHOT_PHASE_FAILED,
} TandemSnapshotPhase;

const char *tandem_snapshot_phase_to_string(TandemSnapshotPhase phase);

/* What the "progress" signal carries (boxed). */
typedef struct {
  char *vm, *id;
  TandemSnapshotPhase phase;
  TandemSnapshotMethod method;
  guint64 done_bytes;   /* guest RAM saved (QEMU's count) */
  guint64 total_bytes;  /* guest RAM */
  guint64 file_bytes;   /* written to the file so far */
  guint64 queue_bytes;  /* in the copy-on-write queue now */
  double rate;          /* bytes per second over the last period */
} TandemSnapshotProgress;

#define TANDEM_TYPE_SNAPSHOT_PROGRESS (tandem_snapshot_progress_get_type())
GType tandem_snapshot_progress_get_type(void);
TandemSnapshotProgress *tandem_snapshot_progress_copy(
    const TandemSnapshotProgress *p);
void tandem_snapshot_progress_free(TandemSnapshotProgress *p);

#define TANDEM_TYPE_SNAPSHOT_MANAGER (tandem_snapshot_manager_get_type())
G_DECLARE_FINAL_TYPE(TandemSnapshotManager, tandem_snapshot_manager, TANDEM,
                     SNAPSHOT_MANAGER, GObject)

TandemSnapshotManager *tandem_snapshot_manager_new(TandemVmManager *vms);

/* What a restore needs from whoever hot-plugs devices into VMs (network
 * disks, tandem-disk-manager.h): the devices the guest's memory has, put
 * back into the new QEMU (started for the incoming memory, not running
 * yet) as the VM's restored configuration lists them. A failure fails the
 * restore with that error. */
typedef void (*TandemSnapshotPlugFunc)(TandemVm *vm, GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data, gpointer data);
typedef gboolean (*TandemSnapshotPlugFinish)(GAsyncResult *result,
                                             GError **error, gpointer data);
void tandem_snapshot_manager_set_plug_hook(TandemSnapshotManager *self,
                                           TandemSnapshotPlugFunc plug,
                                           TandemSnapshotPlugFinish finish,
                                           gpointer data);

void tandem_snapshot_manager_set_options(TandemSnapshotManager *self,
                                         const TandemSnapshotOptions *opts);
void tandem_snapshot_manager_get_options(TandemSnapshotManager *self,
                                         TandemSnapshotOptions *out);

/* $XDG_DATA_HOME/tandem/vms/NAME/snapshots. */
char *tandem_snapshot_dir(const char *vm);

/* Takes a snapshot of running (or paused) @vm labelled @name (may be
 * empty). Fails with NOT_FOUND, BUSY (one at a time per VM), INVALID (the
 * label), NO_SPACE, or QMP/VMM errors; the VM keeps running whatever
 * happens. */
void tandem_snapshot_manager_create_async(TandemSnapshotManager *self,
                                          const char *vm, const char *name,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
/* Transfer full. */
TandemSnapshotInfo *tandem_snapshot_manager_create_finish(
    TandemSnapshotManager *self, GAsyncResult *result, GError **error);

/* @vm's snapshots, oldest first (TandemSnapshotInfo copies). */
GPtrArray *tandem_snapshot_manager_list(TandemSnapshotManager *self,
                                        const char *vm, GError **error);

/* Restores snapshot @id of @vm: the VM runs on from that instant. */
void tandem_snapshot_manager_restore_async(TandemSnapshotManager *self,
                                           const char *vm, const char *id,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
gboolean tandem_snapshot_manager_restore_finish(TandemSnapshotManager *self,
                                                GAsyncResult *result,
                                                GError **error);

/* Deletes snapshot @id of @vm: it leaves the list first (atomically),
 * then its memory file goes. Its disk images stay while the VM's disks or
 * other snapshots are layered on them (merging the chain is not done
 * yet). Fails with NOT_FOUND, INVALID (the id) or BUSY. */
gboolean tandem_snapshot_manager_delete(TandemSnapshotManager *self,
                                        const char *vm, const char *id,
                                        GError **error);

/* Instant resume. Saves running (or paused) @vm's state, the guest paused
 * for the save, and stops the VM: the snapshot ("Suspended") becomes its
 * resume point. */
void tandem_snapshot_manager_suspend_async(TandemSnapshotManager *self,
                                           const char *vm,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
TandemSnapshotInfo *tandem_snapshot_manager_suspend_finish(
    TandemSnapshotManager *self, GAsyncResult *result, GError **error);

/* Starts stopped @vm: from its resume point if it has one (the point is
 * then used up: its snapshot deleted), else by booting. *resumed says
 * which. A resume point that cannot be restored is an error (the VM stays
 * stopped, its saved session not thrown away): the message says how to
 * boot without it. */
void tandem_snapshot_manager_start_async(TandemSnapshotManager *self,
                                         const char *vm,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean tandem_snapshot_manager_start_finish(TandemSnapshotManager *self,
                                              GAsyncResult *result,
                                              gboolean *resumed,
                                              GError **error);

/* The id of @vm's resume point, or NULL (transfer full). */
char *tandem_snapshot_manager_get_resume(TandemSnapshotManager *self,
                                         const char *vm);

/* Scheduled snapshots follow each VM's [Snapshots] configuration (Every,
 * Keep, MaxAge: tandem-vm-config.h): taken every Every while the VM runs
 * (skipped while it is paused or another snapshot runs), then the
 * schedule's own snapshots beyond the newest Keep, or older than MaxAge,
 * deleted (a user's snapshots are never touched). Call after changing a
 * running VM's schedule. */
void tandem_snapshot_manager_reschedule(TandemSnapshotManager *self,
                                        const char *vm);

/* Sets @vm's schedule (@every 0: off; at least
 * TANDEM_VM_MIN_SNAPSHOT_EVERY s otherwise; @keep 1 ..
 * TANDEM_VM_MAX_SNAPSHOT_KEEP; @max_age 0: no limit), saves its
 * configuration and applies it at once. INVALID for values out of range. */
gboolean tandem_snapshot_manager_set_schedule(TandemSnapshotManager *self,
                                              const char *vm, guint64 every,
                                              guint keep, guint64 max_age,
                                              GError **error);

/* Whether @vm has a snapshot being taken or restored (a merge of its
 * images does not count: a snapshot waits for it only briefly). */
gboolean tandem_snapshot_manager_is_busy(TandemSnapshotManager *self,
                                         const char *vm);
/* Whether @vm's disk images are being merged or deleted (after a snapshot
 * was deleted or restored). */
gboolean tandem_snapshot_manager_is_tidying(TandemSnapshotManager *self,
                                            const char *vm);

/* Signals:
 *   "progress": void (TandemSnapshotManager *, TandemSnapshotProgress *)
 *   "changed":  void (TandemSnapshotManager *, const char *vm)  -- the list
 *   "fallback": void (TandemSnapshotManager *, const char *vm,
 *                     const char *method, const char *reason)
 *               -- a snapshot of @vm could not be taken in the background
 *               (QEMU refused it) and @method was used instead; emitted
 *               once per VM, ever (remembered in its snapshots directory),
 *               for the shell to tell the user once
 */

G_END_DECLS
