/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Taking a snapshot of a running VM (tandem-snapshot-manager.h).
 *
 * The steps, each the callback of the one before:
 *   overlays    qemu-img makes an empty qcow2 overlay on each writable
 *               disk's current image, and the VM's configuration names
 *               them (before QEMU switches: a crash in between leaves an
 *               empty overlay on the same data, never lost writes);
 *   settings    MIGRATION events, background-snapshot (or, refused, the
 *               paused save), no bandwidth limit;
 *   queue       a pipe, its read end to the copy-on-write queue writing
 *               ID.tsnap.part, its write end to QEMU (getfd);
 *   instant     stop, one transaction switching every disk to its
 *               overlay, migrate to the pipe. Background: QEMU 7.2 lets
 *               the guest run again once write-tracking is on (RESUME).
 *               Paused: the guest waits until its memory is in the queue
 *               (the migration completed), then runs on. Live (pre-copy,
 *               the fallback): migrate while the guest runs; QEMU pauses
 *               it for the last pages (a small downtime limit, auto-
 *               converge), and in that pause, before it runs on, the
 *               transaction switches the disks: memory and disks of the
 *               same instant;
 *   saving      progress from query-migrate and the queue, until the
 *               MIGRATION event says completed;
 *   finishing   the file whole and fsynced, renamed, listed.
 * Whatever fails, the VM runs on: a migration is cancelled, a guest this
 * code stopped is let run, the partial file removed. */
#include "tandem-snapshot-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *disk;    /* the VM's name for it ("" the boot image) */
  char *node;    /* QEMU's active node */
  char *current; /* its image now: frozen by the snapshot */
  char *format;
  char *overlay; /* the new active image */
  char *overlay_node; /* its node name (at most 31 characters) */
  guint64 size;
} Overlay;

typedef struct {
  TandemSnapshotManager *mgr;
  TandemVm *vm;
  TandemQmpClient *qmp;
  GCancellable *cancellable;
  TandemSnapshotOptions opts;
  char *vm_name, *label, *id, *dir, *part_path, *final_path;
  TandemSnapshotManifest *manifest;
  GPtrArray *overlays;      /* Overlay */
  guint next;               /* the overlay being made */
  TandemSnapshotMethod method;
  char *method_reason;
  TandemSnapshotWriter *writer;
  int pipe_w;               /* ours until QEMU has a copy */
  gboolean was_running, stopped, switched, migrating;
  gboolean migration_done, writer_done;
  gboolean awaiting;        /* only QEMU's events move things on now */
  gboolean refused;         /* QEMU refused background-snapshot */
  gboolean suspend;         /* save, then stop: the next start resumes */
  gboolean scheduled;       /* the schedule's */
  guint settle_tries;
  guint cancel_tries;
  GError *error;            /* why it failed, while QEMU cancels */
  gulong event_id, gone_id;
  guint progress_id;
  guint64 last_bytes;
  gint64 last_us, t0;
} Take;

static void overlay_free(Overlay *o) {
  g_free(o->disk);
  g_free(o->node);
  g_free(o->current);
  g_free(o->format);
  g_free(o->overlay);
  g_free(o->overlay_node);
  g_free(o);
}

static void take_free(Take *t) {
  if (t->event_id)
    g_signal_handler_disconnect(t->qmp, t->event_id);
  if (t->gone_id)
    g_signal_handler_disconnect(t->qmp, t->gone_id);
  if (t->progress_id)
    g_source_remove(t->progress_id);
  tandem_snapshot_writer_free(t->writer);
  if (t->pipe_w >= 0)
    close(t->pipe_w);
  if (t->part_path)
    g_unlink(t->part_path); /* gone once renamed: harmless */
  g_clear_object(&t->qmp);
  g_clear_object(&t->vm);
  g_clear_object(&t->cancellable);
  g_clear_error(&t->error);
  g_clear_pointer(&t->manifest, tandem_snapshot_manifest_free);
  g_clear_pointer(&t->overlays, g_ptr_array_unref);
  g_free(t->vm_name);
  g_free(t->label);
  g_free(t->id);
  g_free(t->dir);
  g_free(t->part_path);
  g_free(t->final_path);
  g_free(t->method_reason);
  g_free(t);
}

static Take *take_of(GTask *task) { return g_task_get_task_data(task); }

static void progress(GTask *task, TandemSnapshotPhase phase, guint64 done,
                     guint64 total) {
  Take *t = take_of(task);
  TandemSnapshotWriterStats st = {0};
  if (t->writer)
    tandem_snapshot_writer_get_stats(t->writer, &st);
  gint64 now = g_get_monotonic_time();
  double rate = 0;
  if (t->last_us && now > t->last_us && done >= t->last_bytes)
    rate = (double)(done - t->last_bytes) * 1e6 / (double)(now - t->last_us);
  t->last_us = now;
  t->last_bytes = done;
  TandemSnapshotProgress p = {t->vm_name, t->id,        phase,
                              t->method,  done,         total,
                              st.file_bytes, st.queued_bytes, rate};
  tsm_emit_progress(t->mgr, &p);
}

/* --- Failing: the VM runs on ---------------------------------------------- */

static void on_cleanup_done(GObject *source, GAsyncResult *result,
                            gpointer data) {
  g_autoptr(GError) ignored = NULL;
  JsonNode *n = tandem_qmp_client_execute_finish(TANDEM_QMP_CLIENT(source),
                                                 result, &ignored);
  if (n)
    json_node_unref(n);
}

/* After a failure QEMU may still be saving (the queue discards what it
 * is sent) or cancelling: the next snapshot would be refused ("a
 * migration is in progress"), so the VM is let go only once QEMU has
 * ended its migration, asking every CANCEL_MS for at most CANCEL_TRIES. */
#define CANCEL_TRIES 300
#define CANCEL_MS 50

static void fail_now(GTask *task) {
  Take *t = take_of(task);
  GError *error = g_steal_pointer(&t->error);
  if (t->qmp && tandem_qmp_client_is_connected(t->qmp) && t->stopped &&
      t->was_running)
    tandem_qmp_client_execute_async(t->qmp, "cont", NULL, -1, 0, NULL,
                                    on_cleanup_done, NULL);
  progress(task, TANDEM_SNAPSHOT_PHASE_FAILED, 0, 0);
  tsm_release(t->mgr, t->vm_name);
  if (strstr(error->message, "non-migratable device")) {
    /* QEMU says which in words only. Its NVMe controller is one: what the
     * user can do about it is Tandem's to say. */
    GError *e = g_error_new(
        error->domain, error->code,
        "a device of the VM cannot be saved in a snapshot (QEMU: %s). A "
        "network disk attached as NVMe is such a device: detach it, or "
        "attach it again with --as virtio",
        error->message);
    g_error_free(error);
    error = e;
  }
  g_prefix_error(&error, "The snapshot of “%s” failed: ", t->vm_name);
  g_task_return_error(task, error);
  g_object_unref(task);
}

static void poll_cancelled(GTask *task);

static gboolean cancel_poll_again(gpointer data) {
  poll_cancelled(data);
  return G_SOURCE_REMOVE;
}

static void on_cancel_status(GObject *source, GAsyncResult *result,
                             gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  g_autoptr(TandemQmpMigrationInfo) info =
      tandem_qmp_query_migrate_finish(t->qmp, result, NULL);
  gboolean over = !info || info->status == TANDEM_QMP_MIGRATION_STATUS_NONE ||
                  info->status == TANDEM_QMP_MIGRATION_STATUS_CANCELLED ||
                  info->status == TANDEM_QMP_MIGRATION_STATUS_FAILED ||
                  info->status == TANDEM_QMP_MIGRATION_STATUS_COMPLETED;
  if (!over && ++t->cancel_tries < CANCEL_TRIES) {
    g_timeout_add(CANCEL_MS, cancel_poll_again, task);
    return;
  }
  if (!over)
    g_warning("VM %s: QEMU's migration is still %s %d ms after the "
              "snapshot failed",
              t->vm_name, tandem_qmp_migration_status_to_string(info->status),
              CANCEL_TRIES * CANCEL_MS);
  fail_now(task);
}

static void poll_cancelled(GTask *task) {
  Take *t = take_of(task);
  if (!tandem_qmp_client_is_connected(t->qmp)) {
    fail_now(task);
    return;
  }
  tandem_qmp_query_migrate_async(t->qmp, NULL, on_cancel_status, task);
}

static void fail(GTask *task, GError *error) {
  Take *t = take_of(task);
  if (t->progress_id)
    g_source_remove(t->progress_id);
  t->progress_id = 0;
  g_clear_error(&t->error);
  t->error = error;
  gboolean migrating = t->migrating;
  t->migrating = FALSE; /* its events are no longer this task's */
  t->awaiting = FALSE;
  if (migrating && t->qmp && tandem_qmp_client_is_connected(t->qmp)) {
    tandem_qmp_client_execute_async(t->qmp, "migrate_cancel", NULL, -1, 0,
                                    NULL, on_cleanup_done, NULL);
    poll_cancelled(task);
    return;
  }
  fail_now(task);
}

/* --- Finishing ------------------------------------------------------------------ */

static void done(GTask *task) {
  Take *t = take_of(task);
  TandemSnapshotInfo *i = tandem_snapshot_manifest_find(t->manifest, t->id);
  progress(task, TANDEM_SNAPSHOT_PHASE_DONE, i->raw_bytes, i->raw_bytes);
  tsm_release(t->mgr, t->vm_name);
  tsm_emit_changed(t->mgr, t->vm_name);
  g_task_return_pointer(task, tandem_snapshot_info_copy(i),
                        (GDestroyNotify)tandem_snapshot_info_free);
  g_object_unref(task);
}

static void on_suspended(GObject *source, GAsyncResult *result,
                         gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  g_clear_signal_handler(&t->event_id, t->qmp);
  g_clear_signal_handler(&t->gone_id, t->qmp);
  tandem_vm_stop_finish(TANDEM_VM(source), result, NULL);
  done(task);
}

static void finish(GTask *task) {
  Take *t = take_of(task);
  if (!t->migration_done || !t->writer_done)
    return;
  if (t->progress_id)
    g_source_remove(t->progress_id);
  t->progress_id = 0;
  progress(task, TANDEM_SNAPSHOT_PHASE_FINISHING, 0, 0);
  GError *error = NULL;
  TandemSnapshotWriterStats st;
  tandem_snapshot_writer_get_stats(t->writer, &st);
  if (g_rename(t->part_path, t->final_path) != 0) {
    int e = errno;
    fail(task, g_error_new(G_IO_ERROR, g_io_error_from_errno(e),
                           "Cannot rename %s: %s", t->part_path,
                           g_strerror(e)));
    return;
  }
  g_clear_pointer(&t->part_path, g_free);
  TandemSnapshotInfo *i = tandem_snapshot_info_new();
  i->id = g_strdup(t->id);
  i->name = g_strdup(t->label);
  i->created = g_get_real_time() / G_USEC_PER_SEC;
  i->method = t->method;
  i->method_reason = g_strdup(t->method_reason ? t->method_reason : "");
  i->memory_file = g_path_get_basename(t->final_path);
  i->file_bytes = st.file_bytes;
  i->crc = st.crc;
  i->raw_bytes = st.read_bytes;
  i->memory = tandem_vm_get_config(t->vm)->memory;
  i->duration_ms = (g_get_monotonic_time() - t->t0) / 1000;
  i->scheduled = t->scheduled;
  i->ignore_shared = TRUE;
  for (guint k = 0; k < t->overlays->len; k++) {
    const Overlay *o = t->overlays->pdata[k];
    TandemSnapshotDisk *d = g_new0(TandemSnapshotDisk, 1);
    d->name = g_strdup(o->disk);
    d->image = g_strdup(o->current);
    d->format = g_strdup(o->format);
    g_ptr_array_add(i->disks, d);
  }
  /* The configuration (memory, kernel, ...): a restore puts each disk on
   * a new overlay of its image listed below. */
  i->config = tandem_vm_config_to_data(tandem_vm_get_config(t->vm));
  tandem_snapshot_manifest_add(t->manifest, i);
  if (t->suspend) {
    g_free(t->manifest->resume);
    t->manifest->resume = g_strdup(t->id);
  }
  if (!tandem_snapshot_manifest_save(t->manifest, t->dir, &error)) {
    g_unlink(t->final_path);
    fail(task, error);
    return;
  }
  if (t->refused) /* QEMU's doing, not the user's: say so, once */
    tsm_fallback_used(t->mgr, t->vm_name, t->dir, t->method,
                      t->method_reason);
  if (t->suspend) { /* saved: now the VM goes */
    tandem_vm_stop_async(t->vm, TRUE, NULL, on_suspended, task);
    return;
  }
  done(task);
}

static void on_writer_done(GObject *source, GAsyncResult *result,
                           gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  if (!tandem_snapshot_writer_wait_finish(t->writer, result, &error)) {
    fail(task, error);
    return;
  }
  t->writer_done = TRUE;
  finish(task);
}

/* After a paused save QEMU leaves the guest in "postmigrate", as if
 * another QEMU had taken over: this one goes on. */
static void on_resumed_after(GObject *source, GAsyncResult *result,
                             gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  if (!tandem_qmp_cont_finish(t->qmp, result, &error)) {
    fail(task, error);
    return;
  }
  t->stopped = FALSE;
  t->migration_done = TRUE;
  tandem_snapshot_writer_wait_async(t->writer, NULL, on_writer_done, task);
}

/* Right after "completed" QEMU may still be in "finish-migrate", where it
 * refuses cont: ask again until it has settled in "postmigrate". */
#define SETTLE_TRIES 100
#define SETTLE_MS 10

static void check_settled(GTask *task);
static void switch_disks(GTask *task);

static gboolean settle_again(gpointer data) {
  check_settled(data);
  return G_SOURCE_REMOVE;
}

static void on_settle_status(GObject *source, GAsyncResult *result,
                             gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  g_autoptr(TandemQmpStatusInfo) s =
      tandem_qmp_query_status_finish(t->qmp, result, &error);
  if (!s) {
    fail(task, error);
    return;
  }
  if (g_str_equal(s->status, "finish-migrate") && ++t->settle_tries <
                                                      SETTLE_TRIES) {
    g_timeout_add(SETTLE_MS, settle_again, task);
    return;
  }
  if (!t->switched) { /* live: the disks at the instant the memory ends */
    switch_disks(task);
    return;
  }
  tandem_qmp_cont_async(t->qmp, NULL, on_resumed_after, task);
}

static void check_settled(GTask *task) {
  Take *t = take_of(task);
  tandem_qmp_query_status_async(t->qmp, NULL, on_settle_status, task);
}

static void migration_completed(GTask *task) {
  Take *t = take_of(task);
  t->migrating = FALSE;
  t->awaiting = FALSE;
  if (t->method == TANDEM_SNAPSHOT_METHOD_PRECOPY && !t->switched)
    t->stopped = TRUE; /* by QEMU, for the last pages: a failure lets go */
  if ((t->method == TANDEM_SNAPSHOT_METHOD_STOPPED ||
       t->method == TANDEM_SNAPSHOT_METHOD_PRECOPY) &&
      t->was_running && !t->suspend) {
    check_settled(task);
    return;
  }
  t->migration_done = TRUE;
  tandem_snapshot_writer_wait_async(t->writer, NULL, on_writer_done, task);
}

static void on_event(TandemQmpClient *qmp, const char *name,
                     JsonObject *data, gint64 us, gpointer user) {
  GTask *task = user;
  Take *t = take_of(task);
  if (g_str_equal(name, "RESUME") && t->stopped) {
    t->stopped = FALSE; /* QEMU let the guest run: write-tracking is on */
    if (!t->was_running) /* QEMU 7.2 resumes even a guest paused before */
      tandem_qmp_client_execute_async(t->qmp, "stop", NULL, -1, 0, NULL,
                                      on_cleanup_done, NULL);
    return;
  }
  TandemQmpMigrationStatus status;
  if (!g_str_equal(name, "MIGRATION") || !t->migrating ||
      !tandem_qmp_migration_event_parse(data, &status, NULL))
    return;
  g_debug("VM %s: snapshot %s: migration %s", t->vm_name, t->id,
          tandem_qmp_migration_status_to_string(status));
  if (status == TANDEM_QMP_MIGRATION_STATUS_COMPLETED) {
    g_signal_handler_disconnect(t->qmp, t->event_id);
    t->event_id = 0;
    migration_completed(task);
  } else if (status == TANDEM_QMP_MIGRATION_STATUS_FAILED ||
             status == TANDEM_QMP_MIGRATION_STATUS_CANCELLED) {
    g_signal_handler_disconnect(t->qmp, t->event_id);
    t->event_id = 0;
    t->migrating = FALSE;
    t->awaiting = FALSE;
    fail(task, g_error_new(TANDEM_SNAPSHOT_ERROR,
                           TANDEM_SNAPSHOT_ERROR_FAILED,
                           "QEMU could not save the memory (migration %s)",
                           tandem_qmp_migration_status_to_string(status)));
  }
}

/* --- Saving: progress --------------------------------------------------------- */

static void on_query_migrate(GObject *source, GAsyncResult *result,
                             gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  g_autoptr(TandemQmpMigrationInfo) info =
      tandem_qmp_query_migrate_finish(t->qmp, result, NULL);
  /* Saved = what is no longer to send: zero pages cost no bytes on the
   * wire, so the bytes transferred would stop far short of the total. */
  if (info && t->progress_id && info->ram_total >= info->ram_remaining)
    progress(task, TANDEM_SNAPSHOT_PHASE_SAVING,
             info->ram_total - info->ram_remaining, info->ram_total);
  g_object_unref(task);
}

static gboolean on_progress_tick(gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  tandem_qmp_query_migrate_async(t->qmp, NULL, on_query_migrate,
                                 g_object_ref(task));
  return G_SOURCE_CONTINUE;
}

/* --- The instant: stop, switch the disks, start the save --------------------- */

static void on_migrate(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  if (!tandem_qmp_migrate_finish(t->qmp, result, &error)) {
    t->migrating = FALSE;
    fail(task, error);
    return;
  }
  t->awaiting = TRUE;
  t->progress_id = g_timeout_add(TSM_PROGRESS_MS, on_progress_tick, task);
}

/* QEMU went away (killed, crashed) while the save ran: no event will come.
 * (A QMP call of ours pending then fails by itself and ends the task.) */
static void on_qmp_gone(TandemQmpClient *qmp, const GError *reason,
                        gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  if (!t->awaiting)
    return;
  t->awaiting = FALSE;
  t->migrating = FALSE;
  fail(task, g_error_new(TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_FAILED,
                         "QEMU exited while the memory was being saved; "
                         "the snapshots taken before are intact"));
}

static void start_migration(GTask *task) {
  Take *t = take_of(task);
  t->migrating = TRUE;
  tandem_qmp_migrate_async(t->qmp, "fd:" TSM_SAVE_FD, NULL, on_migrate,
                           task);
}

static void on_switched(GObject *source, GAsyncResult *result,
                        gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  if (!tandem_qmp_blockdev_snapshot_transaction_finish(t->qmp, result,
                                                       &error)) {
    fail(task, error);
    return;
  }
  t->switched = TRUE;
  if (!t->migrating && t->method == TANDEM_SNAPSHOT_METHOD_PRECOPY &&
      t->was_running) { /* the live save is over: the guest runs on */
    tandem_qmp_cont_async(t->qmp, NULL, on_resumed_after, task);
    return;
  }
  start_migration(task);
}

static void switch_disks(GTask *task) {
  Take *t = take_of(task);
  g_autofree TandemQmpSnapshotAction *acts =
      g_new0(TandemQmpSnapshotAction, t->overlays->len ? t->overlays->len : 1);
  for (guint k = 0; k < t->overlays->len; k++) {
    const Overlay *o = t->overlays->pdata[k];
    acts[k] = (TandemQmpSnapshotAction){o->node, o->overlay,
                                        o->overlay_node, "qcow2", TRUE};
  }
  tandem_qmp_blockdev_snapshot_transaction_async(
      t->qmp, acts, t->overlays->len, NULL, on_switched, task);
}

static void on_stopped(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  if (!tandem_qmp_stop_finish(t->qmp, result, &error)) {
    fail(task, error);
    return;
  }
  t->stopped = TRUE;
  switch_disks(task);
}

static void on_status(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  g_autoptr(TandemQmpStatusInfo) s =
      tandem_qmp_query_status_finish(t->qmp, result, &error);
  if (!s) {
    fail(task, error);
    return;
  }
  t->was_running = s->running;
  progress(task, TANDEM_SNAPSHOT_PHASE_SAVING, 0,
           tandem_vm_get_config(t->vm)->memory);
  if (s->running && t->method == TANDEM_SNAPSHOT_METHOD_PRECOPY)
    start_migration(task); /* the disks switch in QEMU's last pause */
  else if (s->running)
    tandem_qmp_stop_async(t->qmp, NULL, on_stopped, task);
  else
    switch_disks(task); /* paused already: it stays so */
}

/* --- The queue ------------------------------------------------------------------ */

static void on_getfd(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  gboolean ok = tandem_qmp_getfd_finish(t->qmp, result, &error);
  close(t->pipe_w); /* QEMU has its own copy: its close is the end */
  t->pipe_w = -1;
  if (!ok) {
    fail(task, error);
    return;
  }
  t->event_id = g_signal_connect(t->qmp, "event", G_CALLBACK(on_event),
                                 task);
  t->gone_id = g_signal_connect(t->qmp, "disconnected",
                                G_CALLBACK(on_qmp_gone), task);
  tandem_qmp_query_status_async(t->qmp, NULL, on_status, task);
}

static void open_queue(GTask *task) {
  Take *t = take_of(task);
  GError *error = NULL;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    int e = errno;
    fail(task, g_error_new(G_IO_ERROR, g_io_error_from_errno(e),
                           "No pipe: %s", g_strerror(e)));
    return;
  }
  int out = open(t->part_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    fail(task, g_error_new(G_IO_ERROR, g_io_error_from_errno(e),
                           "Cannot create %s: %s", t->part_path,
                           g_strerror(e)));
    return;
  }
  TandemSnapshotHeader h = {t->vm_name, t->id,
                            g_get_real_time() / G_USEC_PER_SEC, t->method,
                            tandem_vm_get_config(t->vm)->memory, NULL};
  JsonObject *greeting = tandem_qmp_client_get_greeting(t->qmp);
  g_autofree char *qemu = NULL;
  JsonObject *v = greeting && json_object_has_member(greeting, "version")
                      ? json_object_get_object_member(greeting, "version")
                      : NULL;
  JsonObject *q = v && json_object_has_member(v, "qemu")
                      ? json_object_get_object_member(v, "qemu")
                      : NULL;
  if (q)
    qemu = g_strdup_printf("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT
                           ".%" G_GINT64_FORMAT,
                           json_object_get_int_member(q, "major"),
                           json_object_get_int_member(q, "minor"),
                           json_object_get_int_member(q, "micro"));
  h.qemu = qemu ? qemu : (char *)"";
  t->writer = tandem_snapshot_writer_new(p[0], out, &h, &t->opts.writer,
                                         &error);
  if (!t->writer) {
    close(p[1]);
    fail(task, error);
    return;
  }
  t->pipe_w = p[1];
  tandem_qmp_getfd_async(t->qmp, TSM_SAVE_FD, t->pipe_w, NULL, on_getfd,
                         task);
}

/* --- QEMU's settings ----------------------------------------------------------- */

static void on_parameters(GObject *source, GAsyncResult *result,
                          gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  if (!tandem_qmp_migrate_set_parameters_finish(t->qmp, result, &error)) {
    fail(task, error);
    return;
  }
  open_queue(task);
}

static void set_parameters(GTask *task) {
  Take *t = take_of(task);
  TandemQmpMigrationParameters p = {
      TANDEM_QMP_MIGRATION_PARAM_MAX_BANDWIDTH |
          TANDEM_QMP_MIGRATION_PARAM_DOWNTIME_LIMIT,
      TSM_MAX_BANDWIDTH, TSM_PRECOPY_DOWNTIME_MS};
  tandem_qmp_migrate_set_parameters_async(t->qmp, &p, NULL, on_parameters,
                                          task);
}

static void set_capabilities(GTask *task);

/* The live pre-copy, except under TCG: there QEMU 7.2 corrupted the
 * guest's kernel memory when the guest ran on after a live migration
 * (lists and timer trees, seen every time with the default guest and 2
 * vCPUs), so the guest is paused instead, and the reason set. */
static TandemSnapshotMethod live_or_paused(Take *t) {
  if (tandem_vm_get_accel(t->vm) != TANDEM_ACCEL_TCG)
    return TANDEM_SNAPSHOT_METHOD_PRECOPY;
  g_free(t->method_reason);
  t->method_reason =
      g_strdup("a live pre-copy is not safe under TCG (QEMU 7.2 corrupts the "
               "guest's memory), so the guest was paused");
  return TANDEM_SNAPSHOT_METHOD_STOPPED;
}

static void on_capabilities(GObject *source, GAsyncResult *result,
                            gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  if (tandem_qmp_migrate_set_capabilities_finish(t->qmp, result, &error)) {
    set_parameters(task);
    return;
  }
  if (t->method != TANDEM_SNAPSHOT_METHOD_BACKGROUND) {
    fail(task, error);
    return;
  }
  /* No userfaultfd write-protect here (kernel, permissions, a device):
   * the live pre-copy instead (the paused save under TCG), and the
   * snapshot says why. */
  t->method = live_or_paused(t);
  t->refused = TRUE;
  g_autofree char *why = t->method_reason;
  t->method_reason = g_strdup_printf(
      "QEMU refused background-snapshot: %s%s%s", error->message,
      why ? "; " : "", why ? why : "");
  g_message("VM %s: %s; %s instead", t->vm_name, t->method_reason,
            t->method == TANDEM_SNAPSHOT_METHOD_PRECOPY
                ? "copying its memory while the guest runs (live pre-copy)"
                : "pausing the guest while its memory is copied");
  g_error_free(error);
  set_capabilities(task);
}

static void set_capabilities(GTask *task) {
  Take *t = take_of(task);
  TandemQmpMigrationCapabilityState caps[] = {
      {TANDEM_QMP_MIGRATION_CAP_EVENTS, TRUE},
      {TANDEM_QMP_MIGRATION_CAP_BACKGROUND_SNAPSHOT,
       t->method == TANDEM_SNAPSHOT_METHOD_BACKGROUND},
      /* A guest that writes faster than QEMU copies is slowed down until
       * the last pages fit in the downtime limit. */
      {TANDEM_QMP_MIGRATION_CAP_AUTO_CONVERGE,
       t->method == TANDEM_SNAPSHOT_METHOD_PRECOPY},
  };
  tandem_qmp_migrate_set_capabilities_async(t->qmp, caps, G_N_ELEMENTS(caps),
                                            NULL, on_capabilities, task);
}

static void on_ignore_shared(GObject *source, GAsyncResult *result,
                             gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  if (!tandem_qmp_migrate_set_capabilities_finish(t->qmp, result, &error)) {
    fail(task, error);
    return;
  }
  set_capabilities(task);
}

/* Memory shared with the host (the window pixels) stays out: the agent
 * sends its windows again after a restore, and QEMU 7.2 cannot
 * write-protect shared memory for a background snapshot. A call of its
 * own, first: QEMU checks background-snapshot against the capabilities
 * already set, not those set with it. */
static void ignore_shared(GTask *task) {
  Take *t = take_of(task);
  TandemQmpMigrationCapabilityState caps[] = {
      {TANDEM_QMP_MIGRATION_CAP_X_IGNORE_SHARED, TRUE}};
  tandem_qmp_migrate_set_capabilities_async(t->qmp, caps, 1, NULL,
                                            on_ignore_shared, task);
}

/* --- The overlays --------------------------------------------------------------- */

static void make_next_overlay(GTask *task);

/* Is there an overlay of @id in @dir/disks ("DISK-ID.qcow2")? */
static gboolean id_used_on_disk(const char *dir, const char *id) {
  g_autofree char *disks = g_build_filename(dir, "disks", NULL);
  g_autofree char *tail = g_strdup_printf("-%s.qcow2", id);
  g_autoptr(GDir) d = g_dir_open(disks, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d)))
    if (g_str_has_suffix(name, tail))
      return TRUE;
  return FALSE;
}

static void on_overlay_made(GObject *source, GAsyncResult *result,
                            gpointer data) {
  GTask *task = data;
  GError *error = NULL;
  if (!tsm_qemu_img_finish(result, &error)) {
    fail(task, error);
    return;
  }
  take_of(task)->next++;
  make_next_overlay(task);
}

static void make_next_overlay(GTask *task) {
  Take *t = take_of(task);
  GError *error = NULL;
  if (t->next < t->overlays->len) {
    const Overlay *o = t->overlays->pdata[t->next];
    g_autofree char *size = g_strdup_printf("%" G_GUINT64_FORMAT, o->size);
    /* -u: the image is open in QEMU, its size is known already. */
    const char *argv[] = {"create", "-q", "-f", "qcow2", "-F", o->format,
                          "-b", o->current, "-u", o->overlay, size, NULL};
    tsm_qemu_img_async(argv, NULL, on_overlay_made, task);
    return;
  }
  /* The configuration names the overlays before QEMU uses them. */
  for (guint k = 0; k < t->overlays->len; k++) {
    const Overlay *o = t->overlays->pdata[k];
    tandem_vm_set_disk_path(t->vm, o->disk, o->overlay);
  }
  if (!tsm_save_config(t->mgr, t->vm, &error)) {
    for (guint k = 0; k < t->overlays->len; k++) {
      const Overlay *o = t->overlays->pdata[k];
      tandem_vm_set_disk_path(t->vm, o->disk, o->current);
    }
    fail(task, error);
    return;
  }
  ignore_shared(task);
}

static void on_block(GObject *source, GAsyncResult *result, gpointer data) {
  GTask *task = data;
  Take *t = take_of(task);
  GError *error = NULL;
  g_autoptr(GPtrArray) devices =
      tandem_qmp_query_block_finish(t->qmp, result, &error);
  if (!devices) {
    fail(task, error);
    return;
  }
  g_autofree char *disks = g_build_filename(t->dir, "disks", NULL);
  g_mkdir_with_parents(disks, 0700);
  for (guint k = 0; k < devices->len; k++) {
    const TandemQmpBlockDevice *d = devices->pdata[k];
    g_autofree char *disk = tsm_disk_of_device(d);
    if (!disk || d->read_only || !d->file || !d->node_name || !d->format)
      continue;
    Overlay *o = g_new0(Overlay, 1);
    o->disk = g_steal_pointer(&disk);
    o->node = g_strdup(d->node_name);
    o->current = g_strdup(d->file);
    o->format = g_strdup(d->format);
    o->size = d->virtual_size;
    g_autofree char *file = g_strdup_printf(
        "%s-%s.qcow2", *o->disk ? o->disk : "boot", t->id);
    o->overlay = g_build_filename(disks, file, NULL);
    /* Node names are short: "ov" and the id's digits, and which disk. */
    g_autoptr(GString) node = g_string_new("ov");
    for (const char *c = t->id; *c && node->len < 24; c++)
      if (g_ascii_isalnum(*c))
        g_string_append_c(node, *c);
    g_string_append_printf(node, "d%u", t->overlays->len);
    o->overlay_node = g_string_free(g_steal_pointer(&node), FALSE);
    g_ptr_array_add(t->overlays, o);
  }
  progress(task, TANDEM_SNAPSHOT_PHASE_PREPARING, 0, 0);
  make_next_overlay(task);
}

static void take_again(TandemSnapshotManager *self, const char *vm,
                       const char *name, guint flags,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data) {
  tsm_take_async(self, vm, name, (TsmTakeFlags)flags, cancellable, callback,
                 user_data);
}

void tsm_take_async(TandemSnapshotManager *self, const char *vm_name,
                    const char *name, TsmTakeFlags flags,
                    GCancellable *cancellable, GAsyncReadyCallback callback,
                    gpointer user_data) {
  /* Images being merged: the snapshot is taken once they are. */
  if (tsm_wait_gc(self, vm_name, take_again, name, flags, cancellable,
                  callback, user_data))
    return;
  gboolean suspend = (flags & TSM_TAKE_SUSPEND) != 0;
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_snapshot_manager_create_async);
  GError *error = NULL;
  TandemVm *vm = tsm_lookup(self, vm_name, &error);
  if (vm && !tandem_snapshot_name_is_valid(name ? name : ""))
    error = g_error_new(TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_INVALID,
                        "A snapshot's name is at most %d characters on one "
                        "line",
                        TANDEM_SNAPSHOT_MAX_NAME);
  TandemVmState state = vm ? tandem_vm_get_state(vm) : TANDEM_VM_STOPPED;
  if (vm && !error && state != TANDEM_VM_RUNNING && state != TANDEM_VM_PAUSED)
    error = g_error_new(TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_INVALID,
                        "“%s” is %s: start it to take a snapshot", vm_name,
                        tandem_vm_state_to_string(state));
  if (error || !tsm_claim(self, vm_name, &error)) {
    g_task_return_error(task, error);
    g_object_unref(task);
    return;
  }
  Take *t = g_new0(Take, 1);
  g_task_set_task_data(task, t, (GDestroyNotify)take_free);
  t->mgr = self;
  t->vm = g_object_ref(vm);
  t->qmp = g_object_ref(tandem_vm_get_qmp(vm));
  t->opts = self->options;
  /* The VM's own queue size and compression, if its configuration says. */
  const TandemVmConfig *vc = tandem_vm_get_config(vm);
  if (vc->snapshot_queue)
    t->opts.writer.queue_max = vc->snapshot_queue;
  if (vc->snapshot_compression_set)
    t->opts.writer.level = vc->snapshot_compression;
  t->pipe_w = -1;
  t->t0 = g_get_monotonic_time();
  t->vm_name = g_strdup(vm_name);
  t->label = g_strdup(name ? name : "");
  t->suspend = suspend;
  t->scheduled = (flags & TSM_TAKE_SCHEDULED) != 0;
  TandemSnapshotHow how = tandem_vm_get_config(vm)->snapshot_how;
  gboolean paused = t->opts.force == TANDEM_SNAPSHOT_FORCE_STOPPED ||
                    how == TANDEM_SNAPSHOT_HOW_PAUSED;
  gboolean live = t->opts.force == TANDEM_SNAPSHOT_FORCE_PRECOPY ||
                  how == TANDEM_SNAPSHOT_HOW_LIVE;
  t->method = suspend || paused ? TANDEM_SNAPSHOT_METHOD_STOPPED
              : live            ? TANDEM_SNAPSHOT_METHOD_PRECOPY
                                : TANDEM_SNAPSHOT_METHOD_BACKGROUND;
  if (suspend) /* the guest stops anyway: the quickest save */
    t->method_reason = g_strdup("saved to stop the VM");
  else if (paused)
    t->method_reason = g_strdup("the paused save chosen in the settings");
  else if (live) {
    t->method = live_or_paused(t);
    g_autofree char *why = t->method_reason;
    t->method_reason = g_strdup_printf(
        "the live pre-copy chosen in the settings%s%s", why ? ", but " : "",
        why ? why : "");
  }
  t->overlays = g_ptr_array_new_with_free_func((GDestroyNotify)overlay_free);
  t->dir = tandem_snapshot_dir(vm_name);
  if (g_mkdir_with_parents(t->dir, 0700) != 0) {
    int e = errno;
    fail(task, g_error_new(G_IO_ERROR, g_io_error_from_errno(e),
                           "Cannot create %s: %s", t->dir, g_strerror(e)));
    return;
  }
  tsm_remove_partial(t->dir);
  t->manifest = tandem_snapshot_manifest_load(t->dir, vm_name, &error);
  if (!t->manifest) {
    fail(task, error);
    return;
  }
  if (t->manifest->snapshots->len >= TANDEM_SNAPSHOT_MAX_SNAPSHOTS) {
    fail(task, g_error_new(TANDEM_SNAPSHOT_ERROR,
                           TANDEM_SNAPSHOT_ERROR_INVALID,
                           "“%s” has %u snapshots, the most it may keep: "
                           "delete some first",
                           vm_name, TANDEM_SNAPSHOT_MAX_SNAPSHOTS));
    return;
  }
  t->id = tandem_snapshot_manifest_new_id(t->manifest,
                                          g_get_real_time() / G_USEC_PER_SEC);
  /* A snapshot that failed in the same second is not in the list but its
   * overlays are on disk (the guest writes to them now). */
  g_autofree char *base = g_strdup(t->id);
  for (int n = 2; id_used_on_disk(t->dir, t->id); n++) {
    g_free(t->id);
    t->id = g_strdup_printf("%s-%d", base, n);
  }
  g_autofree char *file = g_strconcat(t->id, ".tsnap", NULL);
  g_autofree char *part = g_strconcat(t->id, ".tsnap.part", NULL);
  t->final_path = g_build_filename(t->dir, file, NULL);
  t->part_path = g_build_filename(t->dir, part, NULL);
  tandem_qmp_query_block_async(t->qmp, NULL, on_block, task);
}
