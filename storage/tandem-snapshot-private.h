/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the snapshot manager's files share (private to storage/). */
#pragma once

#include "tandem-qmp-commands.h"
#include "tandem-snapshot-manager.h"

struct _TandemSnapshotManager {
  GObject parent_instance;
  TandemVmManager *vms;
  TandemSnapshotOptions options;
  GHashTable *busy;   /* VM names with a snapshot being taken or restored */
  GHashTable *timers; /* VM name -> its schedule's GSource id */
  GHashTable *gc;     /* VM name -> its disk images being tidied */
  /* Puts a restored VM's hot-plugged devices back before its memory comes
   * (tandem_snapshot_manager_set_plug_hook); NULL: none. */
  TandemSnapshotPlugFunc plug;
  TandemSnapshotPlugFinish plug_finish;
  gpointer plug_data;
};

/* The QMP descriptor names Tandem gives QEMU. */
#define TSM_SAVE_FD "tandem-snapshot"
#define TSM_LOAD_FD "tandem-restore"
/* How often progress is reported while memory moves. */
#define TSM_PROGRESS_MS 250
/* The live pre-copy's pause for the last pages, at most (QEMU's default
 * is 300 ms). */
#define TSM_PRECOPY_DOWNTIME_MS 30
/* A local save is never throttled: QEMU's default is 128 MiB/s. */
#define TSM_MAX_BANDWIDTH (64ull << 30)

/* One snapshot operation per VM: FALSE with BUSY if one runs. */
gboolean tsm_claim(TandemSnapshotManager *self, const char *vm,
                   GError **error);
void tsm_release(TandemSnapshotManager *self, const char *vm);

void tsm_emit_progress(TandemSnapshotManager *self,
                       const TandemSnapshotProgress *p);
void tsm_emit_changed(TandemSnapshotManager *self, const char *vm);

/* The file in a VM's snapshots directory that says the user was told its
 * snapshots cannot be taken in the background (it holds why). */
#define TSM_FALLBACK_TOLD "fallback-told"
/* TRUE the first time for the directory @dir (then never again: the file
 * above is written); the user is told once, not at every snapshot. */
gboolean tsm_first_fallback(const char *dir, const char *reason);
/* A snapshot of @vm had to use @method for @reason (not the user's
 * choice): "fallback" is emitted the first time. */
void tsm_fallback_used(TandemSnapshotManager *self, const char *vm,
                       const char *dir, TandemSnapshotMethod method,
                       const char *reason);

/* The VM @name, running or not; NOT_FOUND otherwise. */
TandemVm *tsm_lookup(TandemSnapshotManager *self, const char *name,
                     GError **error);

/* Writes @vm's configuration as it is now to its file, durably. */
gboolean tsm_save_config(TandemSnapshotManager *self, TandemVm *vm,
                         GError **error);

/* Runs qemu-img with @argv (NULL-terminated, without the program);
 * fails with its error output. */
void tsm_qemu_img_async(const char *const *argv, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data);
gboolean tsm_qemu_img_finish(GAsyncResult *result, GError **error);

/* Removes leftovers of snapshots that never finished (*.part files). */
void tsm_remove_partial(const char *dir);

/* The VM's disk behind a query-block device: "home" for a device with id
 * "disk-home-dev", "" for the boot disk ("boot-dev"), NULL otherwise.
 * Transfer full. */
char *tsm_disk_of_device(const TandemQmpBlockDevice *device);

/* tandem-snapshot-take.c. TSM_TAKE_SUSPEND: the paused method, the guest
 * left paused, the snapshot made the VM's resume point, the VM stopped.
 * TSM_TAKE_SCHEDULED: taken by the schedule (its retention applies). */
typedef enum {
  TSM_TAKE_SUSPEND = 1 << 0,
  TSM_TAKE_SCHEDULED = 1 << 1,
} TsmTakeFlags;

void tsm_take_async(TandemSnapshotManager *self, const char *vm,
                    const char *name, TsmTakeFlags flags,
                    GCancellable *cancellable, GAsyncReadyCallback callback,
                    gpointer user_data);

/* tandem-snapshot-schedule.c */
void tsm_schedule_init(TandemSnapshotManager *self);
void tsm_schedule_fini(TandemSnapshotManager *self);

/* tandem-snapshot-restore.c */
void tsm_restore_async(TandemSnapshotManager *self, const char *vm,
                       const char *id, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data);

/* tandem-snapshot-gc.c: tidies @vm's snapshot disk images (merges and
 * deletes those no snapshot and not the VM needs) in the background; again
 * later if it is doing so already, or once a snapshot being taken or
 * restored is done. */
void tsm_gc_kick(TandemSnapshotManager *self, const char *vm);
gboolean tsm_gc_running(TandemSnapshotManager *self, const char *vm);

/* An operation to start again once tidying is over. */
typedef void (*TsmRetry)(TandemSnapshotManager *self, const char *vm,
                         const char *arg, guint flags,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data);
/* TRUE, and @retry is called with the rest once @vm's images are tidy, if
 * they are being tidied; FALSE (nothing done) if not. */
gboolean tsm_wait_gc(TandemSnapshotManager *self, const char *vm,
                     TsmRetry retry, const char *arg, guint flags,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data);
