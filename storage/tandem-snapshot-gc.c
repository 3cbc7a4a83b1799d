/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tidying a VM's snapshot disk images (tandem-snapshot-chain.h): after a
 * snapshot is deleted or restored, images nothing needs any more are
 * removed, and one with a single image on it is merged into that one, so
 * chains never grow without end.
 *
 * A merge copies the frozen image's data into the image on it and points
 * that one at the image below: with QMP block-stream while the VM runs
 * and has that image open (the guest goes on meanwhile), with qemu-img
 * rebase otherwise. Either way the image merged into shows the guest the
 * same disk at every moment, an interruption leaves it whole on its old
 * backing file, and the merged image is deleted only once nothing points
 * at it. Taking, restoring and starting wait until the tidying is done,
 * but not long: a merge still running GC_YIELD_MS after one of them began
 * to wait is stopped (what it copied stays), and the next tidying, which
 * the snapshot's end starts, takes it up again. A user's snapshot never
 * waits for minutes behind a large merge. */
#include "tandem-snapshot-private.h"

#include "tandem-qcow2.h"
#include "tandem-snapshot-chain.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

/* More files than this in disks/ is not Tandem's doing: leave them. */
#define GC_MAX_IMAGES 4096
#define GC_POLL_MS 100
#define GC_JOB "tandem-merge"
#define GC_YIELD_MS 2000

typedef struct {
  TsmRetry retry;
  char *arg;
  guint flags;
  GCancellable *cancellable;
  GAsyncReadyCallback callback;
  gpointer user_data;
} Waiter;

static void waiter_clear(gpointer data) {
  Waiter *w = data;
  g_free(w->arg);
  g_clear_object(&w->cancellable);
}

typedef struct {
  TandemSnapshotManager *self; /* a reference */
  char *vm;
  gboolean again;   /* asked for once more while running */
  gboolean failed;  /* the merge job ended in an error */
  gboolean yield;   /* waited for too long: stop at the next chance */
  gboolean cancelled; /* job-cancel sent for that */
  guint yield_id;
  guint steps;      /* done in this run */
  GArray *waiters;  /* Waiter */
  /* The merge under way */
  char *image, *into, *backing, *backing_format;
  TandemQmpClient *qmp;
  guint poll_id;
} Gc;

/* The images of one plan, owning their strings. */
typedef struct {
  GArray *images;     /* TandemChainImage */
  GPtrArray *strings; /* what the images point to */
  GPtrArray *refs;    /* NULL-terminated */
  GHashTable *formats;/* image -> its backing file's recorded format */
} Plan;

static void plan_clear(Plan *p) {
  g_clear_pointer(&p->images, g_array_unref);
  g_clear_pointer(&p->strings, g_ptr_array_unref);
  g_clear_pointer(&p->refs, g_ptr_array_unref);
  g_clear_pointer(&p->formats, g_hash_table_unref);
}

static void gc_free(Gc *gc) {
  g_clear_handle_id(&gc->poll_id, g_source_remove);
  g_clear_handle_id(&gc->yield_id, g_source_remove);
  g_clear_object(&gc->qmp);
  g_free(gc->image);
  g_free(gc->into);
  g_free(gc->backing);
  g_free(gc->backing_format);
  g_array_unref(gc->waiters);
  g_free(gc->vm);
  g_object_unref(gc->self);
  g_free(gc);
}

static void run(Gc *gc);

static void finish(Gc *gc) {
  g_clear_object(&gc->qmp);
  g_clear_pointer(&gc->image, g_free);
  g_clear_pointer(&gc->into, g_free);
  g_clear_pointer(&gc->backing, g_free);
  g_clear_pointer(&gc->backing_format, g_free);
  /* Stopped for a waiter: the waiter's end starts the tidying again. */
  if (gc->again && !gc->yield) {
    gc->again = FALSE;
    gc->steps = 0;
    run(gc);
    return;
  }
  /* Out of the table first: a waiter may take a snapshot at once. */
  g_hash_table_steal(gc->self->gc, gc->vm);
  for (guint i = 0; i < gc->waiters->len; i++) {
    Waiter *w = &g_array_index(gc->waiters, Waiter, i);
    w->retry(gc->self, gc->vm, w->arg, w->flags, w->cancellable, w->callback,
             w->user_data);
  }
  gc_free(gc);
}

static void add_image(Plan *p, const char *path, gboolean owned) {
  for (guint i = 0; i < p->images->len; i++)
    if (g_str_equal(g_array_index(p->images, TandemChainImage, i).path,
                    path))
      return;
  g_autoptr(GError) error = NULL;
  char *backing = NULL, *format = NULL;
  TandemChainImage im = {NULL, NULL, owned, FALSE};
  if (!tandem_qcow2_read_backing(path, &backing, &format, &error) &&
      !g_error_matches(error, TANDEM_QCOW2_ERROR,
                       TANDEM_QCOW2_ERROR_NOT_QCOW2)) {
    g_warning("Snapshot disks: %s", error->message);
    im.unreadable = TRUE;
  } else if (owned && error) {
    g_warning("Snapshot disks: %s is not a qcow2 image", path);
    im.unreadable = TRUE;
  }
  char *copy = g_strdup(path);
  g_ptr_array_add(p->strings, copy);
  im.path = copy;
  if (backing) {
    g_ptr_array_add(p->strings, backing);
    im.backing = backing;
    if (format)
      g_hash_table_insert(p->formats, copy, format);
    else
      g_free(format);
  }
  g_array_append_val(p->images, im);
}

static void add_ref(Plan *p, const char *path) {
  char *c = g_canonicalize_filename(path, NULL);
  g_ptr_array_add(p->strings, c);
  g_ptr_array_add(p->refs, c);
}

/* The VM's images now: those in disks/ and those referred to. FALSE when
 * there is nothing to look at or too much. */
static gboolean plan_load(Gc *gc, TandemVm *vm, Plan *p) {
  g_autofree char *snaps = tandem_snapshot_dir(gc->vm);
  g_autofree char *disks = g_build_filename(snaps, "disks", NULL);
  g_autofree char *canon = g_canonicalize_filename(disks, NULL);
  g_autoptr(GDir) dir = g_dir_open(canon, 0, NULL);
  if (!dir)
    return FALSE;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotManifest) m =
      tandem_snapshot_manifest_load(snaps, gc->vm, &error);
  if (!m) {
    g_warning("VM %s: snapshot disks left as they are: %s", gc->vm,
              error->message);
    return FALSE;
  }
  p->images = g_array_new(FALSE, FALSE, sizeof(TandemChainImage));
  p->strings = g_ptr_array_new_with_free_func(g_free);
  p->refs = g_ptr_array_new();
  p->formats = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  for (guint i = 0; i < m->snapshots->len; i++) {
    const TandemSnapshotInfo *info = m->snapshots->pdata[i];
    for (guint k = 0; k < info->disks->len; k++)
      add_ref(p, ((TandemSnapshotDisk *)info->disks->pdata[k])->image);
  }
  const TandemVmConfig *c = tandem_vm_get_config(vm);
  if (c->image)
    add_ref(p, c->image);
  for (guint k = 0; k < c->disks->len; k++)
    add_ref(p, ((TandemVmDisk *)c->disks->pdata[k])->path);
  g_ptr_array_add(p->refs, NULL);

  const char *name;
  guint n = 0;
  while ((name = g_dir_read_name(dir))) {
    if (!g_str_has_suffix(name, ".qcow2"))
      continue;
    if (++n > GC_MAX_IMAGES) {
      g_warning("VM %s: more than %d images in %s: left as they are",
                gc->vm, GC_MAX_IMAGES, canon);
      return FALSE;
    }
    g_autofree char *path = g_build_filename(canon, name, NULL);
    add_image(p, path, TRUE);
  }
  /* Images referred to from elsewhere: they may sit on Tandem's. */
  for (guint i = 0; p->refs->pdata[i]; i++)
    add_image(p, p->refs->pdata[i], FALSE);
  return TRUE;
}

static const char *backing_of(Plan *p, const char *path) {
  for (guint i = 0; i < p->images->len; i++) {
    TandemChainImage *im = &g_array_index(p->images, TandemChainImage, i);
    if (g_str_equal(im->path, path))
      return im->backing;
  }
  return NULL;
}

/* The format of @path itself, from its first bytes. */
static const char *probe_format(const char *path) {
  g_autoptr(GError) error = NULL;
  g_autofree char *b = NULL, *f = NULL;
  if (tandem_qcow2_read_backing(path, &b, &f, &error))
    return "qcow2";
  return g_error_matches(error, TANDEM_QCOW2_ERROR,
                         TANDEM_QCOW2_ERROR_NOT_QCOW2)
             ? "raw"
             : NULL;
}

static void merged(Gc *gc) {
  /* Deleted only once the image merged into no longer points at it. */
  g_autoptr(GError) error = NULL;
  g_autofree char *b = NULL, *f = NULL;
  if (!tandem_qcow2_read_backing(gc->into, &b, &f, &error) ||
      g_strcmp0(b, gc->image) == 0) {
    g_warning("VM %s: %s still needs %s: kept", gc->vm, gc->into,
              gc->image);
    finish(gc);
    return;
  }
  if (g_unlink(gc->image) != 0)
    g_warning("VM %s: cannot delete %s: %s", gc->vm, gc->image,
              g_strerror(errno));
  else
    g_info("VM %s: merged %s into %s", gc->vm, gc->image, gc->into);
  g_clear_pointer(&gc->image, g_free);
  g_clear_pointer(&gc->into, g_free);
  g_clear_pointer(&gc->backing, g_free);
  g_clear_pointer(&gc->backing_format, g_free);
  run(gc);
}

static void merge_failed(Gc *gc, const GError *error) {
  g_warning("VM %s: %s not merged into %s (both kept): %s", gc->vm,
            gc->image, gc->into, error->message);
  finish(gc);
}

/* --- Offline: qemu-img rebase ----------------------------------------------- */

static void on_rebased(GObject *source, GAsyncResult *result,
                       gpointer data) {
  Gc *gc = data;
  g_autoptr(GError) error = NULL;
  if (!tsm_qemu_img_finish(result, &error))
    merge_failed(gc, error);
  else
    merged(gc);
}

static void rebase(Gc *gc) {
  /* Safe mode: qemu-img copies into the image every cluster that reads
   * differently through the new backing file, then rewrites its header.
   * No backing file below: the image gets all the data and stands alone. */
  const char *with_backing[] = {"rebase", "-q", "-f", "qcow2", "-b",
                                gc->backing, "-F", gc->backing_format,
                                gc->into, NULL};
  const char *alone[] = {"rebase", "-q", "-f", "qcow2", "-b", "",
                         gc->into, NULL};
  tsm_qemu_img_async(gc->backing ? with_backing : alone, NULL, on_rebased,
                     gc);
}

/* --- Online: block-stream ----------------------------------------------------- */

static void on_dismissed(GObject *source, GAsyncResult *result,
                         gpointer data) {
  Gc *gc = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_job_dismiss_finish(gc->qmp, result, &error))
    g_warning("VM %s: job-dismiss: %s", gc->vm, error->message);
  if (gc->failed)
    finish(gc);
  else
    merged(gc);
}

static gboolean poll_job(gpointer data);

static void on_cancel(GObject *source, GAsyncResult *result, gpointer data) {
  Gc *gc = data;
  g_autoptr(GError) error = NULL;
  /* Refused when the job has just ended by itself: the poll sees that. */
  if (!tandem_qmp_job_cancel_finish(gc->qmp, result, &error))
    g_debug("VM %s: job-cancel: %s", gc->vm, error->message);
  gc->poll_id = g_timeout_add(GC_POLL_MS, poll_job, gc);
}

static void on_jobs(GObject *source, GAsyncResult *result, gpointer data) {
  Gc *gc = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) jobs =
      tandem_qmp_query_jobs_finish(gc->qmp, result, &error);
  const TandemQmpJobInfo *job =
      jobs ? tandem_qmp_job_list_find(jobs, GC_JOB) : NULL;
  if (!jobs || !job) {
    if (!error)
      error = g_error_new_literal(TANDEM_SNAPSHOT_ERROR,
                                  TANDEM_SNAPSHOT_ERROR_FAILED,
                                  "QEMU lost the merge job");
    merge_failed(gc, error);
    return;
  }
  g_debug("VM %s: merge job %s", gc->vm, job->status);
  if (!g_str_equal(job->status, "concluded")) {
    if (gc->yield && !gc->cancelled) {
      gc->cancelled = TRUE;
      g_message("VM %s: merging %s into %s paused for a snapshot; it goes "
                "on after it", gc->vm, gc->image, gc->into);
      tandem_qmp_job_cancel_async(gc->qmp, GC_JOB, NULL, on_cancel, gc);
      return;
    }
    gc->poll_id = g_timeout_add(GC_POLL_MS, poll_job, gc);
    return;
  }
  gc->failed = job->error != NULL;
  if (gc->failed && !gc->cancelled)
    g_warning("VM %s: %s not merged into %s (both kept): %s", gc->vm,
              gc->image, gc->into, job->error);
  tandem_qmp_job_dismiss_async(gc->qmp, GC_JOB, NULL, on_dismissed, gc);
}

static gboolean poll_job(gpointer data) {
  Gc *gc = data;
  gc->poll_id = 0;
  tandem_qmp_query_jobs_async(gc->qmp, NULL, on_jobs, gc);
  return G_SOURCE_REMOVE;
}

static void on_streaming(GObject *source, GAsyncResult *result,
                         gpointer data) {
  Gc *gc = data;
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_block_stream_finish(gc->qmp, result, &error))
    merge_failed(gc, error);
  else
    poll_job(gc);
}

/* TANDEM_SNAPSHOT_MERGE_SPEED (bytes per second) slows merges down, for
 * tests of what happens while one runs; unset, they go at full speed. */
static guint64 merge_speed(void) {
  const char *v = g_getenv("TANDEM_SNAPSHOT_MERGE_SPEED");
  guint64 speed = 0;
  if (v && !g_ascii_string_to_unsigned(v, 10, 0, G_MAXINT64, &speed, NULL))
    g_warning("TANDEM_SNAPSHOT_MERGE_SPEED=%s is not a number: ignored", v);
  return speed;
}

static void on_nodes(GObject *source, GAsyncResult *result, gpointer data) {
  Gc *gc = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) nodes =
      tandem_qmp_query_named_block_nodes_finish(gc->qmp, result, &error);
  if (!nodes) {
    merge_failed(gc, error);
    return;
  }
  if (gc->yield) {
    finish(gc);
    return;
  }
  const TandemQmpBlockNode *into =
      tandem_qmp_block_node_find(nodes, gc->into, "qcow2");
  const TandemQmpBlockNode *image =
      tandem_qmp_block_node_find(nodes, gc->image, "qcow2");
  if (!into) { /* not QEMU's: on a branch the VM no longer runs on */
    g_message("VM %s: QEMU does not have %s open (%u images): merging "
              "with qemu-img", gc->vm, gc->into, nodes->len);
    for (guint i = 0; i < nodes->len; i++) {
      const TandemQmpBlockNode *n = nodes->pdata[i];
      g_message("  %s %s %s", n->node_name, n->format, n->file);
    }
    rebase(gc);
    return;
  }
  if (!image) {
    g_autoptr(GError) e = g_error_new_literal(
        TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_FAILED,
        "QEMU has the image open but not the one under it");
    merge_failed(gc, e);
    return;
  }
  tandem_qmp_block_stream_async(gc->qmp, GC_JOB, into->node_name,
                                image->node_name, merge_speed(), NULL,
                                on_streaming, gc);
}

/* --- The loop ------------------------------------------------------------------ */

static void run(Gc *gc) {
  TandemVm *vm = tandem_vm_manager_lookup(gc->self->vms, gc->vm);
  TandemVmState state = vm ? tandem_vm_get_state(vm) : TANDEM_VM_STOPPED;
  gboolean online = state == TANDEM_VM_RUNNING || state == TANDEM_VM_PAUSED;
  Plan p = {0};

  /* Starting or stopping: QEMU's images are in flux; tidy another time.
   * Waited for too long: after the waiter. */
  if (gc->yield || !vm || !(online || state == TANDEM_VM_STOPPED ||
               state == TANDEM_VM_CRASHED) ||
      gc->steps > 2 * GC_MAX_IMAGES || !plan_load(gc, vm, &p)) {
    plan_clear(&p);
    finish(gc);
    return;
  }
  TandemChainStep step = tandem_snapshot_chain_next(
      (const TandemChainImage *)(gpointer)p.images->data, p.images->len,
      (const char *const *)p.refs->pdata);
  gc->steps++;
  g_debug("VM %s: tidying, step %u: %s %s%s%s (%s)", gc->vm, gc->steps,
          step.action == TANDEM_CHAIN_REMOVE  ? "delete"
          : step.action == TANDEM_CHAIN_MERGE ? "merge"
                                              : "nothing",
          step.image ? step.image : "", step.into ? " into " : "",
          step.into ? step.into : "", online ? "running" : "stopped");
  if (step.action == TANDEM_CHAIN_REMOVE) {
    if (g_unlink(step.image) != 0)
      g_warning("VM %s: cannot delete %s: %s", gc->vm, step.image,
                g_strerror(errno));
    else
      g_info("VM %s: deleted %s, no longer needed", gc->vm, step.image);
    plan_clear(&p);
    /* One file per main-loop turn. */
    g_idle_add_once((GSourceOnceFunc)run, gc);
    return;
  }
  if (step.action == TANDEM_CHAIN_NOTHING) {
    plan_clear(&p);
    finish(gc);
    return;
  }
  gc->image = g_strdup(step.image);
  gc->into = g_strdup(step.into);
  gc->backing = g_strdup(backing_of(&p, step.image));
  gc->backing_format = g_strdup(g_hash_table_lookup(p.formats, step.image));
  plan_clear(&p);
  if (gc->backing && !gc->backing_format)
    gc->backing_format = g_strdup(probe_format(gc->backing));
  if (gc->backing && !gc->backing_format) {
    g_autoptr(GError) e = g_error_new(TANDEM_SNAPSHOT_ERROR,
                                      TANDEM_SNAPSHOT_ERROR_FAILED,
                                      "cannot read %s", gc->backing);
    merge_failed(gc, e);
    return;
  }
  if (!online) {
    rebase(gc);
    return;
  }
  gc->qmp = g_object_ref(tandem_vm_get_qmp(vm));
  tandem_qmp_query_named_block_nodes_async(gc->qmp, NULL, on_nodes, gc);
}

/* --- Private API ------------------------------------------------------------- */

gboolean tsm_gc_running(TandemSnapshotManager *self, const char *vm) {
  return g_hash_table_contains(self->gc, vm);
}

void tsm_gc_kick(TandemSnapshotManager *self, const char *vm) {
  Gc *gc = g_hash_table_lookup(self->gc, vm);
  if (gc) {
    gc->again = TRUE;
    return;
  }
  /* A snapshot being taken or restored: its end kicks again. */
  if (g_hash_table_contains(self->busy, vm))
    return;
  gc = g_new0(Gc, 1);
  gc->self = g_object_ref(self);
  gc->vm = g_strdup(vm);
  gc->waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
  g_array_set_clear_func(gc->waiters, waiter_clear);
  g_hash_table_insert(self->gc, gc->vm, gc);
  run(gc);
}

/* Only a merge QEMU runs is stopped early: a qemu-img rebase (the VM is
 * stopped, nothing else runs) is left to end, and the steps between
 * merges are short. */
static gboolean yield_soon(gpointer data) {
  Gc *gc = data;
  gc->yield_id = 0;
  gc->yield = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean tsm_wait_gc(TandemSnapshotManager *self, const char *vm,
                     TsmRetry retry, const char *arg, guint flags,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data) {
  Gc *gc = vm ? g_hash_table_lookup(self->gc, vm) : NULL;
  if (!gc)
    return FALSE;
  Waiter w = {retry, g_strdup(arg), flags,
              cancellable ? g_object_ref(cancellable) : NULL, callback,
              user_data};
  g_array_append_val(gc->waiters, w);
  if (!gc->yield_id && !gc->yield)
    gc->yield_id = g_timeout_add(GC_YIELD_MS, yield_soon, gc);
  return TRUE;
}
