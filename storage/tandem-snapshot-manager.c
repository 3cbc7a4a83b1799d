/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Snapshots of running VMs (tandem-snapshot-manager.h): the object, its
 * bookkeeping and what taking and restoring share. */
#include "tandem-snapshot-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

G_DEFINE_TYPE(TandemSnapshotManager, tandem_snapshot_manager, G_TYPE_OBJECT)

enum { SIG_PROGRESS, SIG_CHANGED, SIG_FALLBACK, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *const phase_names[] = {
    "preparing", "saving", "finishing", "checking", "loading", "done",
    "failed"};

const char *tandem_snapshot_phase_to_string(TandemSnapshotPhase phase) {
  return (unsigned)phase < G_N_ELEMENTS(phase_names) ? phase_names[phase]
                                                     : "unknown";
}

TandemSnapshotProgress *tandem_snapshot_progress_copy(
    const TandemSnapshotProgress *p) {
  TandemSnapshotProgress *c = g_memdup2(p, sizeof(*p));
  c->vm = g_strdup(p->vm);
  c->id = g_strdup(p->id);
  return c;
}

void tandem_snapshot_progress_free(TandemSnapshotProgress *p) {
  if (!p)
    return;
  g_free(p->vm);
  g_free(p->id);
  g_free(p);
}

G_DEFINE_BOXED_TYPE(TandemSnapshotProgress, tandem_snapshot_progress,
                    tandem_snapshot_progress_copy,
                    tandem_snapshot_progress_free)

void tandem_snapshot_options_init(TandemSnapshotOptions *o) {
  *o = (TandemSnapshotOptions){
      {TANDEM_SNAPSHOT_DEFAULT_QUEUE, TANDEM_SNAPSHOT_DEFAULT_LEVEL},
      TANDEM_SNAPSHOT_FORCE_NONE};
}

char *tandem_snapshot_dir(const char *vm) {
  g_autofree char *data = tandem_vm_data_dir(vm);
  return g_build_filename(data, "snapshots", NULL);
}

/* --- Shared with take and restore ---------------------------------------- */

gboolean tsm_claim(TandemSnapshotManager *self, const char *vm,
                   GError **error) {
  if (g_hash_table_contains(self->busy, vm)) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_BUSY,
                "A snapshot of “%s” is being taken or restored: wait until "
                "it is done",
                vm);
    return FALSE;
  }
  g_hash_table_add(self->busy, g_strdup(vm));
  return TRUE;
}

void tsm_release(TandemSnapshotManager *self, const char *vm) {
  g_hash_table_remove(self->busy, vm);
  /* A snapshot taken, restored or deleted may leave images unneeded. */
  tsm_gc_kick(self, vm);
}

void tsm_emit_progress(TandemSnapshotManager *self,
                       const TandemSnapshotProgress *p) {
  g_signal_emit(self, signals[SIG_PROGRESS], 0, p);
}

void tsm_emit_changed(TandemSnapshotManager *self, const char *vm) {
  g_signal_emit(self, signals[SIG_CHANGED], 0, vm);
}

gboolean tsm_first_fallback(const char *dir, const char *reason) {
  g_autofree char *path = g_build_filename(dir, TSM_FALLBACK_TOLD, NULL);
  if (g_file_test(path, G_FILE_TEST_EXISTS))
    return FALSE;
  /* Told or not, a file that cannot be written is not worth a failure. */
  g_file_set_contents(path, reason, -1, NULL);
  return TRUE;
}

void tsm_fallback_used(TandemSnapshotManager *self, const char *vm,
                       const char *dir, TandemSnapshotMethod method,
                       const char *reason) {
  if (tsm_first_fallback(dir, reason))
    g_signal_emit(self, signals[SIG_FALLBACK], 0, vm,
                  tandem_snapshot_method_to_string(method), reason);
}

TandemVm *tsm_lookup(TandemSnapshotManager *self, const char *name,
                     GError **error) {
  TandemVm *vm = name && tandem_vm_name_is_valid(name)
                     ? tandem_vm_manager_lookup(self->vms, name)
                     : NULL;
  if (!vm)
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_NOT_FOUND,
                "There is no VM called “%s”", name ? name : "");
  return vm;
}

gboolean tsm_save_config(TandemSnapshotManager *self, TandemVm *vm,
                         GError **error) {
  return tandem_vm_config_save(tandem_vm_get_config(vm),
                               tandem_vm_manager_get_config_dir(self->vms),
                               error);
}

static void on_qemu_img(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(GTask) task = data;
  g_autofree char *err = NULL;
  GError *error = NULL;
  GSubprocess *p = G_SUBPROCESS(source);
  if (!g_subprocess_communicate_utf8_finish(p, result, NULL, &err, &error)) {
    g_task_return_error(task, error);
    return;
  }
  if (!g_subprocess_get_if_exited(p) || g_subprocess_get_exit_status(p)) {
    g_task_return_new_error(task, TANDEM_SNAPSHOT_ERROR,
                            TANDEM_SNAPSHOT_ERROR_FAILED, "qemu-img: %s",
                            err ? g_strstrip(err) : "failed");
    return;
  }
  g_task_return_boolean(task, TRUE);
}

void tsm_qemu_img_async(const char *const *argv, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data) {
  GTask *task = g_task_new(NULL, cancellable, callback, user_data);
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  g_ptr_array_add(args, (gpointer) "qemu-img");
  for (const char *const *a = argv; *a; a++)
    g_ptr_array_add(args, (gpointer)*a);
  g_ptr_array_add(args, NULL);
  GError *error = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_newv(
      (const char *const *)args->pdata,
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
      &error);
  if (!p) {
    g_task_return_error(task, error);
    g_object_unref(task);
    return;
  }
  g_subprocess_communicate_utf8_async(p, NULL, cancellable, on_qemu_img,
                                      task);
}

gboolean tsm_qemu_img_finish(GAsyncResult *result, GError **error) {
  return g_task_propagate_boolean(G_TASK(result), error);
}

void tsm_remove_partial(const char *dir) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d)))
    if (g_str_has_suffix(name, ".part")) {
      g_autofree char *path = g_build_filename(dir, name, NULL);
      g_unlink(path);
    }
}

char *tsm_disk_of_device(const TandemQmpBlockDevice *device) {
  g_autofree char *id = device->qdev
                            ? tandem_qmp_qdev_to_device_id(device->qdev)
                            : NULL;
  if (!id)
    return NULL;
  if (g_str_equal(id, "boot-dev"))
    return g_strdup("");
  if (g_str_has_prefix(id, "disk-") && g_str_has_suffix(id, "-dev") &&
      strlen(id) > 9)
    return g_strndup(id + 5, strlen(id) - 9);
  return NULL;
}

/* --- Public ------------------------------------------------------------------ */

void tandem_snapshot_manager_set_plug_hook(TandemSnapshotManager *self,
                                           TandemSnapshotPlugFunc plug,
                                           TandemSnapshotPlugFinish finish,
                                           gpointer data) {
  self->plug = plug;
  self->plug_finish = finish;
  self->plug_data = data;
}

TandemSnapshotManager *tandem_snapshot_manager_new(TandemVmManager *vms) {
  TandemSnapshotManager *self =
      g_object_new(TANDEM_TYPE_SNAPSHOT_MANAGER, NULL);
  self->vms = g_object_ref(vms);
  tsm_schedule_init(self);
  /* What a Tandem killed mid-snapshot left: the partial memory file (never
   * listed) and disk images nothing needs. Only the primary instance makes
   * a manager, and it alone takes snapshots. */
  GPtrArray *all = tandem_vm_manager_get_vms(vms);
  for (guint i = 0; all && i < all->len; i++) {
    const char *name = tandem_vm_get_name(all->pdata[i]);
    g_autofree char *dir = tandem_snapshot_dir(name);
    tsm_remove_partial(dir);
    tsm_gc_kick(self, name);
  }
  return self;
}

void tandem_snapshot_manager_set_options(TandemSnapshotManager *self,
                                         const TandemSnapshotOptions *o) {
  self->options = *o;
}

void tandem_snapshot_manager_get_options(TandemSnapshotManager *self,
                                         TandemSnapshotOptions *out) {
  *out = self->options;
}

gboolean tandem_snapshot_manager_is_busy(TandemSnapshotManager *self,
                                         const char *vm) {
  /* Not while images are merged: a snapshot asked for then waits a
   * moment, and the merge steps aside (tandem-snapshot-gc.c). */
  return g_hash_table_contains(self->busy, vm);
}

gboolean tandem_snapshot_manager_is_tidying(TandemSnapshotManager *self,
                                            const char *vm) {
  return tsm_gc_running(self, vm);
}

void tandem_snapshot_manager_create_async(TandemSnapshotManager *self,
                                          const char *vm, const char *name,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data) {
  tsm_take_async(self, vm, name, 0, cancellable, callback, user_data);
}

TandemSnapshotInfo *tandem_snapshot_manager_create_finish(
    TandemSnapshotManager *self, GAsyncResult *result, GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}

GPtrArray *tandem_snapshot_manager_list(TandemSnapshotManager *self,
                                        const char *vm, GError **error) {
  if (!tsm_lookup(self, vm, error))
    return NULL;
  g_autofree char *dir = tandem_snapshot_dir(vm);
  g_autoptr(TandemSnapshotManifest) m =
      tandem_snapshot_manifest_load(dir, vm, error);
  if (!m)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func(
      (GDestroyNotify)tandem_snapshot_info_free);
  for (guint i = 0; i < m->snapshots->len; i++)
    g_ptr_array_add(out, tandem_snapshot_info_copy(m->snapshots->pdata[i]));
  return out;
}

void tandem_snapshot_manager_restore_async(TandemSnapshotManager *self,
                                           const char *vm, const char *id,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data) {
  tsm_restore_async(self, vm, id, cancellable, callback, user_data);
}

gboolean tandem_snapshot_manager_restore_finish(TandemSnapshotManager *self,
                                                GAsyncResult *result,
                                                GError **error) {
  return g_task_propagate_boolean(G_TASK(result), error);
}

gboolean tandem_snapshot_manager_delete(TandemSnapshotManager *self,
                                        const char *vm, const char *id,
                                        GError **error) {
  if (!tsm_lookup(self, vm, error))
    return FALSE;
  if (!tandem_snapshot_id_is_valid(id)) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_INVALID,
                "“%s” is not a snapshot id (tandemctl snapshot list shows "
                "them)",
                id ? id : "");
    return FALSE;
  }
  if (!tsm_claim(self, vm, error))
    return FALSE;
  g_autofree char *dir = tandem_snapshot_dir(vm);
  g_autoptr(TandemSnapshotManifest) m =
      tandem_snapshot_manifest_load(dir, vm, error);
  TandemSnapshotInfo *info = m ? tandem_snapshot_manifest_find(m, id) : NULL;
  if (m && !info)
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_NOT_FOUND,
                "“%s” has no snapshot %s", vm, id);
  g_autofree char *file =
      info ? g_build_filename(dir, info->memory_file, NULL) : NULL;
  gboolean ok = info && tandem_snapshot_manifest_remove(m, id) &&
                tandem_snapshot_manifest_save(m, dir, error);
  if (ok)
    g_unlink(file); /* unlisted first: a crash leaves a stray file only */
  tsm_release(self, vm);
  if (ok)
    tsm_emit_changed(self, vm);
  return ok;
}

void tandem_snapshot_manager_suspend_async(TandemSnapshotManager *self,
                                           const char *vm,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data) {
  tsm_take_async(self, vm, "Suspended", TSM_TAKE_SUSPEND, cancellable,
                 callback, user_data);
}

TandemSnapshotInfo *tandem_snapshot_manager_suspend_finish(
    TandemSnapshotManager *self, GAsyncResult *result, GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}

char *tandem_snapshot_manager_get_resume(TandemSnapshotManager *self,
                                         const char *vm) {
  g_autofree char *dir = tandem_snapshot_dir(vm);
  g_autoptr(TandemSnapshotManifest) m =
      tandem_snapshot_manifest_load(dir, vm, NULL);
  return m ? g_strdup(m->resume) : NULL;
}

/* start_async's result: TRUE when resumed; FALSE when booted. */
typedef struct {
  char *vm, *id;
} Start;

static void start_free(Start *s) {
  g_free(s->vm);
  g_free(s->id);
  g_free(s);
}

static void on_resumed(GObject *source, GAsyncResult *result,
                       gpointer data) {
  g_autoptr(GTask) task = data;
  TandemSnapshotManager *self = g_task_get_source_object(task);
  Start *s = g_task_get_task_data(task);
  GError *error = NULL;
  if (!tandem_snapshot_manager_restore_finish(self, result, &error)) {
    g_task_return_new_error(
        task, error->domain, error->code,
        "%s. Its saved session is kept: to boot “%s” without it, delete "
        "snapshot %s (tandemctl snapshot delete %s %s)",
        error->message, s->vm, s->id, s->vm, s->id);
    g_error_free(error);
    return;
  }
  /* Used up: the guest has gone on from it. */
  g_autoptr(GError) ignored = NULL;
  tandem_snapshot_manager_delete(self, s->vm, s->id, &ignored);
  g_task_return_int(task, 1);
}

static void on_booted(GObject *source, GAsyncResult *result, gpointer data) {
  g_autoptr(GTask) task = data;
  GError *error = NULL;
  if (!tandem_vm_start_finish(TANDEM_VM(source), result, &error))
    g_task_return_error(task, error);
  else
    g_task_return_int(task, 0);
}

static void start_again(TandemSnapshotManager *self, const char *vm,
                        const char *arg, guint flags,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data) {
  tandem_snapshot_manager_start_async(self, vm, cancellable, callback,
                                      user_data);
}

void tandem_snapshot_manager_start_async(TandemSnapshotManager *self,
                                         const char *vm_name,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data) {
  /* qemu-img may be merging the VM's images: QEMU could not open them. */
  if (tsm_wait_gc(self, vm_name, start_again, NULL, 0, cancellable,
                  callback, user_data))
    return;
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_snapshot_manager_start_async);
  GError *error = NULL;
  TandemVm *vm = tsm_lookup(self, vm_name, &error);
  if (!vm) {
    g_task_return_error(task, error);
    g_object_unref(task);
    return;
  }
  char *resume = tandem_snapshot_manager_get_resume(self, vm_name);
  if (!resume) {
    tandem_vm_start_async(vm, cancellable, on_booted, task);
    return;
  }
  Start *s = g_new0(Start, 1);
  s->vm = g_strdup(vm_name);
  s->id = resume;
  g_task_set_task_data(task, s, (GDestroyNotify)start_free);
  tsm_restore_async(self, vm_name, resume, cancellable, on_resumed, task);
}

gboolean tandem_snapshot_manager_start_finish(TandemSnapshotManager *self,
                                              GAsyncResult *result,
                                              gboolean *resumed,
                                              GError **error) {
  GError *e = NULL;
  gssize r = g_task_propagate_int(G_TASK(result), &e);
  if (e) {
    g_propagate_error(error, e);
    return FALSE;
  }
  if (resumed)
    *resumed = r == 1;
  return TRUE;
}

static void tandem_snapshot_manager_finalize(GObject *object) {
  TandemSnapshotManager *self = TANDEM_SNAPSHOT_MANAGER(object);
  tsm_schedule_fini(self);
  g_clear_object(&self->vms);
  g_hash_table_unref(self->busy);
  g_hash_table_unref(self->timers);
  g_hash_table_unref(self->gc);
  G_OBJECT_CLASS(tandem_snapshot_manager_parent_class)->finalize(object);
}

static void tandem_snapshot_manager_class_init(
    TandemSnapshotManagerClass *klass) {
  G_OBJECT_CLASS(klass)->finalize = tandem_snapshot_manager_finalize;
  signals[SIG_PROGRESS] = g_signal_new(
      "progress", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, TANDEM_TYPE_SNAPSHOT_PROGRESS);
  signals[SIG_CHANGED] = g_signal_new(
      "changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIG_FALLBACK] = g_signal_new(
      "fallback", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void tandem_snapshot_manager_init(TandemSnapshotManager *self) {
  self->busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  self->timers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  self->gc = g_hash_table_new(g_str_hash, g_str_equal);
  tandem_snapshot_options_init(&self->options);
}
