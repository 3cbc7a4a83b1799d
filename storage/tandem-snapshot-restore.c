/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Restoring a snapshot (tandem-snapshot-manager.h).
 *
 *   checking   the memory file read whole in a thread: its header names
 *              this VM, every record decompresses with its checksum, the
 *              trailer and the manifest agree; the disk images of that
 *              instant exist. Until here nothing has changed.
 *   stopping   the VM, if it runs (its session is replaced);
 *   disks      a fresh overlay on each disk image of the snapshot, and the
 *              snapshot's configuration, naming them, becomes the VM's;
 *   loading    QEMU started with -incoming defer; a thread streams the
 *              file, decompressed and checked again record by record,
 *              into a pipe QEMU reads (migrate-incoming "fd:");
 *   running    on MIGRATION completed, cont: the guest goes on from that
 *              instant; its agent connects again and its windows come back
 *              as proxies like after any reconnection. */
#include "tandem-snapshot-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  TandemSnapshotManager *mgr;
  TandemVm *vm;
  TandemQmpClient *qmp;
  char *vm_name, *id, *dir, *path;
  TandemSnapshotInfo *info;
  GPtrArray *overlays;       /* new overlay paths, as info->disks */
  guint next;
  int to_qemu;               /* the pipe's read end, ours until getfd */
  int stream_fd;             /* its write end, until the streamer's */
  int streamer_fd;           /* the streamer's: it closes it */
  GThread *streamer;
  gboolean stream_done, stream_ok, migration_done;
  GError *stream_error;
  gulong event_id;
} Restore;

static void restore_free(Restore *r) {
  if (r->event_id)
    g_signal_handler_disconnect(r->qmp, r->event_id);
  if (r->streamer)
    g_thread_join(r->streamer);
  if (r->to_qemu >= 0)
    close(r->to_qemu);
  if (r->stream_fd >= 0)
    close(r->stream_fd); /* never handed to a streamer */
  g_clear_error(&r->stream_error);
  g_clear_object(&r->qmp);
  g_clear_object(&r->vm);
  g_clear_pointer(&r->info, tandem_snapshot_info_free);
  g_clear_pointer(&r->overlays, g_ptr_array_unref);
  g_free(r->vm_name);
  g_free(r->id);
  g_free(r->dir);
  g_free(r->path);
  g_free(r);
}

static Restore *restore_of(GTask *task) { return g_task_get_task_data(task); }

static void progress(GTask *task, TandemSnapshotPhase phase) {
  Restore *r = restore_of(task);
  TandemSnapshotProgress p = {
      r->vm_name, r->id, phase, r->info ? r->info->method : 0, 0,
      r->info ? r->info->raw_bytes : 0, 0, 0, 0};
  tsm_emit_progress(r->mgr, &p);
}

static void fail(GTask *task, GError *error) {
  Restore *r = restore_of(task);
  progress(task, TANDEM_SNAPSHOT_PHASE_FAILED);
  tsm_release(r->mgr, r->vm_name);
  g_prefix_error(&error, "Snapshot %s of “%s” was not restored: ", r->id,
                 r->vm_name);
  g_task_return_error(task, error);
  g_object_unref(task);
}

/* A failure once the old session is gone: the half-started QEMU goes. */
static void on_abandoned(GObject *source, GAsyncResult *result,
                         gpointer data) {
  tandem_vm_stop_finish(TANDEM_VM(source), result, NULL);
}

static void fail_loading(GTask *task, GError *error) {
  Restore *r = restore_of(task);
  tandem_vm_stop_async(r->vm, TRUE, NULL, on_abandoned, NULL);
  fail(task, error);
}

/* --- Running --------------------------------------------------------------- */

static void on_cont(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  GError *error = NULL;
  if (!tandem_vm_command_finish(r->vm, result, &error)) {
    fail_loading(task, error);
    return;
  }
  progress(task, TANDEM_SNAPSHOT_PHASE_DONE);
  tsm_release(r->mgr, r->vm_name);
  g_task_return_boolean(task, TRUE);
  g_object_unref(task);
}

/* Both ends done: the stream all sent and checked, QEMU has loaded it. */
static gboolean maybe_run(gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  if (!r->migration_done || !r->stream_done)
    return G_SOURCE_REMOVE;
  if (!r->stream_ok) {
    fail_loading(task, g_steal_pointer(&r->stream_error));
    return G_SOURCE_REMOVE;
  }
  tandem_vm_resume_async(r->vm, NULL, on_cont, task);
  return G_SOURCE_REMOVE;
}

static gpointer stream_main(gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  /* QEMU dying mid-load makes our writes fail with EPIPE, not kill us. */
  sigset_t pipe_sig;
  sigemptyset(&pipe_sig);
  sigaddset(&pipe_sig, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
  r->stream_ok = tandem_snapshot_file_stream(r->path, r->streamer_fd, NULL,
                                             NULL, &r->stream_error);
  r->stream_done = TRUE;
  g_main_context_invoke(g_task_get_context(task), maybe_run, task);
  return NULL;
}

static void on_event(TandemQmpClient *qmp, const char *name,
                     JsonObject *data, gint64 us, gpointer user) {
  GTask *task = user;
  Restore *r = restore_of(task);
  TandemQmpMigrationStatus status;
  if (!g_str_equal(name, "MIGRATION") ||
      !tandem_qmp_migration_event_parse(data, &status, NULL) ||
      !tandem_qmp_migration_status_is_finished(status))
    return;
  g_signal_handler_disconnect(r->qmp, r->event_id);
  r->event_id = 0;
  if (status != TANDEM_QMP_MIGRATION_STATUS_COMPLETED) {
    fail_loading(task, g_error_new(TANDEM_SNAPSHOT_ERROR,
                                   TANDEM_SNAPSHOT_ERROR_CORRUPT,
                                   "QEMU could not load its memory"));
    return;
  }
  r->migration_done = TRUE;
  maybe_run(task);
}

/* --- Loading ----------------------------------------------------------------- */

static void on_incoming(GObject *source, GAsyncResult *result,
                        gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  GError *error = NULL;
  if (!tandem_qmp_migrate_incoming_finish(r->qmp, result, &error)) {
    fail_loading(task, error);
    return;
  }
  /* QEMU reads now: the stream goes in. The thread owns the write end. */
  r->streamer_fd = r->stream_fd;
  r->stream_fd = -1;
  r->streamer = g_thread_new("snapshot-restore", stream_main, task);
}

static void on_getfd(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  GError *error = NULL;
  gboolean ok = tandem_qmp_getfd_finish(r->qmp, result, &error);
  close(r->to_qemu); /* QEMU has its own copy */
  r->to_qemu = -1;
  if (!ok) {
    fail_loading(task, error);
    return;
  }
  tandem_qmp_migrate_incoming_async(r->qmp, "fd:" TSM_LOAD_FD, NULL,
                                    on_incoming, task);
}

static void on_caps(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  GError *error = NULL;
  if (!tandem_qmp_migrate_set_capabilities_finish(r->qmp, result, &error)) {
    fail_loading(task, error);
    return;
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    int e = errno;
    fail_loading(task, g_error_new(G_IO_ERROR, g_io_error_from_errno(e),
                                   "No pipe: %s", g_strerror(e)));
    return;
  }
  fcntl(p[1], F_SETPIPE_SZ, TANDEM_SNAPSHOT_CHUNK);
  r->to_qemu = p[0];
  r->stream_fd = p[1];
  r->event_id = g_signal_connect(r->qmp, "event", G_CALLBACK(on_event),
                                 task);
  progress(task, TANDEM_SNAPSHOT_PHASE_LOADING);
  tandem_qmp_getfd_async(r->qmp, TSM_LOAD_FD, r->to_qemu, NULL, on_getfd,
                         task);
}

static void set_caps(GTask *task) {
  Restore *r = restore_of(task);
  /* As it was taken (the stream's layout depends on it). */
  TandemQmpMigrationCapabilityState caps[] = {
      {TANDEM_QMP_MIGRATION_CAP_EVENTS, TRUE},
      {TANDEM_QMP_MIGRATION_CAP_X_IGNORE_SHARED, r->info->ignore_shared}};
  tandem_qmp_migrate_set_capabilities_async(r->qmp, caps, G_N_ELEMENTS(caps),
                                            NULL, on_caps, task);
}

/* The network disks the guest had are back where its memory has them. */
static void on_plugged(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  GError *error = NULL;
  if (!r->mgr->plug_finish(result, &error, r->mgr->plug_data)) {
    fail_loading(task, error);
    return;
  }
  set_caps(task);
}

static void on_started(GObject *source, GAsyncResult *result,
                       gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  GError *error = NULL;
  if (!tandem_vm_start_finish(r->vm, result, &error)) {
    fail(task, error);
    return;
  }
  r->qmp = g_object_ref(tandem_vm_get_qmp(r->vm));
  if (r->mgr->plug) {
    r->mgr->plug(r->vm, NULL, on_plugged, task, r->mgr->plug_data);
    return;
  }
  set_caps(task);
}

/* --- Disks and configuration ------------------------------------------------- */

static void start_incoming(GTask *task) {
  Restore *r = restore_of(task);
  GError *error = NULL;
  /* The configuration of that instant, its disks on the new overlays. */
  g_autofree char *base = tandem_vm_data_dir(r->vm_name);
  g_autoptr(TandemVmConfig) c =
      tandem_vm_config_parse(r->vm_name, r->info->config, base, &error);
  if (!c) {
    fail(task, error);
    return;
  }
  TandemVmConfig *config = g_steal_pointer(&c);
  if (!tandem_vm_set_config(r->vm, config, &error)) {
    fail(task, error);
    return;
  }
  for (guint k = 0; k < r->info->disks->len; k++) {
    const TandemSnapshotDisk *d = r->info->disks->pdata[k];
    tandem_vm_set_disk_path(r->vm, d->name, r->overlays->pdata[k]);
  }
  if (!tsm_save_config(r->mgr, r->vm, &error)) {
    fail(task, error);
    return;
  }
  tandem_vm_set_incoming(r->vm, TRUE);
  tandem_vm_start_async(r->vm, NULL, on_started, task);
}

static void make_next_overlay(GTask *task);

static void on_overlay_made(GObject *source, GAsyncResult *result,
                            gpointer data) {
  GTask *task = data;
  GError *error = NULL;
  if (!tsm_qemu_img_finish(result, &error)) {
    fail(task, error);
    return;
  }
  restore_of(task)->next++;
  make_next_overlay(task);
}

static void make_next_overlay(GTask *task) {
  Restore *r = restore_of(task);
  if (r->next >= r->info->disks->len) {
    start_incoming(task);
    return;
  }
  const TandemSnapshotDisk *d = r->info->disks->pdata[r->next];
  g_autofree char *disks = g_build_filename(r->dir, "disks", NULL);
  g_mkdir_with_parents(disks, 0700);
  g_autofree char *file = g_strdup_printf(
      "%s-%s-r%" G_GINT64_FORMAT ".qcow2", *d->name ? d->name : "boot",
      r->id, g_get_real_time() / 1000);
  char *path = g_build_filename(disks, file, NULL);
  g_ptr_array_add(r->overlays, path);
  const char *argv[] = {"create", "-q", "-f", "qcow2", "-F", d->format,
                        "-b", d->image, path, NULL};
  tsm_qemu_img_async(argv, NULL, on_overlay_made, task);
}

static void on_stopped(GObject *source, GAsyncResult *result,
                       gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  GError *error = NULL;
  if (!tandem_vm_stop_finish(r->vm, result, &error)) {
    fail(task, error);
    return;
  }
  make_next_overlay(task);
}

/* --- Checking ---------------------------------------------------------------- */

static void verify_in_thread(GTask *task, gpointer source, gpointer data,
                             GCancellable *cancellable) {
  Restore *r = data;
  GError *error = NULL;
  TandemSnapshotFileInfo info = {0};
  gboolean ok = tandem_snapshot_file_verify(r->path, r->vm_name, &info,
                                            cancellable, &error);
  if (ok && (info.crc != r->info->crc ||
             info.raw_bytes != r->info->raw_bytes ||
             g_strcmp0(info.header.id, r->info->id) != 0)) {
    ok = FALSE;
    error = g_error_new(TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                        "its memory file %s is not the one it was saved as",
                        r->path);
  }
  for (guint k = 0; ok && k < r->info->disks->len; k++) {
    const TandemSnapshotDisk *d = r->info->disks->pdata[k];
    if (!g_file_test(d->image, G_FILE_TEST_IS_REGULAR)) {
      ok = FALSE;
      error = g_error_new(TANDEM_SNAPSHOT_ERROR,
                          TANDEM_SNAPSHOT_ERROR_CORRUPT,
                          "the image of its disk “%s”, %s, is missing",
                          d->name, d->image);
    }
  }
  tandem_snapshot_file_info_clear(&info);
  if (ok)
    g_task_return_boolean(task, TRUE);
  else
    g_task_return_error(task, error);
}

static void on_verified(GObject *source, GAsyncResult *result,
                        gpointer data) {
  GTask *task = data;
  Restore *r = restore_of(task);
  GError *error = NULL;
  if (!g_task_propagate_boolean(G_TASK(result), &error)) {
    fail(task, error); /* nothing was touched */
    return;
  }
  TandemVmState state = tandem_vm_get_state(r->vm);
  if (state == TANDEM_VM_RUNNING || state == TANDEM_VM_PAUSED ||
      state == TANDEM_VM_STARTING) {
    tandem_vm_stop_async(r->vm, TRUE, NULL, on_stopped, task);
    return;
  }
  make_next_overlay(task);
}

static void restore_again(TandemSnapshotManager *self, const char *vm,
                          const char *id, guint flags,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data) {
  tsm_restore_async(self, vm, id, cancellable, callback, user_data);
}

void tsm_restore_async(TandemSnapshotManager *self, const char *vm_name,
                       const char *id, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data) {
  /* Images being merged: restored once they are. */
  if (tsm_wait_gc(self, vm_name, restore_again, id, 0, cancellable,
                  callback, user_data))
    return;
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_snapshot_manager_restore_async);
  GError *error = NULL;
  TandemVm *vm = tsm_lookup(self, vm_name, &error);
  if (vm && !tandem_snapshot_id_is_valid(id))
    error = g_error_new(TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_INVALID,
                        "“%s” is not a snapshot id (tandemctl snapshot list "
                        "shows them)",
                        id ? id : "");
  g_autofree char *dir = vm ? tandem_snapshot_dir(vm_name) : NULL;
  g_autoptr(TandemSnapshotManifest) m =
      vm && !error ? tandem_snapshot_manifest_load(dir, vm_name, &error)
                   : NULL;
  TandemSnapshotInfo *info = m ? tandem_snapshot_manifest_find(m, id) : NULL;
  if (m && !info)
    error = g_error_new(TANDEM_SNAPSHOT_ERROR,
                        TANDEM_SNAPSHOT_ERROR_NOT_FOUND,
                        "“%s” has no snapshot %s", vm_name, id);
  if (error || !tsm_claim(self, vm_name, &error)) {
    g_task_return_error(task, error);
    g_object_unref(task);
    return;
  }
  Restore *r = g_new0(Restore, 1);
  g_task_set_task_data(task, r, (GDestroyNotify)restore_free);
  r->mgr = self;
  r->vm = g_object_ref(vm);
  r->vm_name = g_strdup(vm_name);
  r->id = g_strdup(id);
  r->dir = g_steal_pointer(&dir);
  r->info = tandem_snapshot_info_copy(info);
  r->path = g_build_filename(r->dir, info->memory_file, NULL);
  r->overlays = g_ptr_array_new_with_free_func(g_free);
  r->to_qemu = r->stream_fd = r->streamer_fd = -1;
  progress(task, TANDEM_SNAPSHOT_PHASE_CHECKING);
  GTask *check = g_task_new(NULL, cancellable, on_verified, task);
  g_task_set_task_data(check, r, NULL);
  g_task_run_in_thread(check, verify_in_thread);
  g_object_unref(check);
}
