/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Detaching network disks, and putting a restored snapshot's back
 * (tandem-disk-manager.h). */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "tandem-disk-private.h"

/* --- A snapshot restored: its disks back where the guest had them ------- */

typedef struct {
  TandemDiskManager *self;
  TandemVm *vm;
  TandemQmpClient *qmp;
  guint next;      /* the configuration's next attachment */
  Attachment *a;   /* being plugged */
} Plug;

static void plug_free(gpointer data) {
  Plug *p = data;
  g_clear_object(&p->qmp);
  g_clear_object(&p->vm);
  g_free(p);
}

static void plug_next(GTask *task);

static void plug_fail(GTask *task, const char *what, GError *error) {
  Plug *p = g_task_get_task_data(task);
  g_autofree char *name = g_strdup(p->a->info.name);
  tdm_forget(p->self, p->a);
  p->a = NULL;
  g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED,
                          _("The snapshot had network disk “%s” attached, "
                            "and it cannot be put back (%s: %s): bring its "
                            "server back, then restore again"),
                          name, what, error->message);
  g_object_unref(task);
}

static void on_plug_device(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  Plug *p = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_device_add_finish(TANDEM_QMP_CLIENT(source), res, &error)) {
    plug_fail(task, "device_add", error);
    return;
  }
  /* Mounted or not as the guest's memory has it; the agent tells which
   * once it is back (mount_when_ready). */
  p->a->info.state = tdm_mirror_settle(p->a->mirror);
  p->a->info.plugged = TRUE;
  p->a->info.mount = TANDEM_DISK_MOUNT_NO_AGENT;
  tdm_changed(p->self, p->a->info.vm);
  p->a = NULL;
  plug_next(task);
}

static void on_plug_node(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  Plug *p = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  if (!tdm_add_node_finish(res, &error)) {
    plug_fail(task, "blockdev-add", error);
    return;
  }
  if (p->a->mirror)
    tdm_mirror_watch(p->a->mirror, p->self, p->qmp);
  tdm_plug(p->qmp, p->a, on_plug_device, task);
}

static void plug_next(GTask *task) {
  Plug *p = g_task_get_task_data(task);
  const TandemVmConfig *c = tandem_vm_get_config(p->vm);
  const char *vm = tandem_vm_get_name(p->vm);
  while (p->next < c->attachments->len) {
    const TandemVmAttachment *at = c->attachments->pdata[p->next++];
    g_autoptr(TandemStorageUri) u = tandem_storage_uri_parse(at->uri, NULL);
    /* Only what was plugged in: a disk that never was is not in the
     * guest's memory either. */
    if (!u || !tandem_vm_attachment_serial_is_valid(at->serial) ||
        !tdm_port_is_free(p->self, p->vm, at->port) ||
        tdm_find(p->self, vm, at->name))
      continue;
    guint32 tag = (guint32)g_ascii_strtoull(at->serial + 4, NULL, 16);
    TandemDiskBus bus = TANDEM_DISK_BUS_NVME;
    tandem_disk_bus_from_string(at->bus, &bus);
    Attachment *a = tdm_attachment_new(vm, at->name, at->uri, at->mirror,
                                       bus, at->read_only, tag, at->port);
    if (a->mirror)
      tdm_mirror_allow_degraded(a->mirror);
    g_ptr_array_add(tdm_attachments_of(p->self, vm, TRUE), a);
    tdm_changed(p->self, vm);
    p->a = a;
    tdm_add_node(p->qmp, a, at->read_only, on_plug_node, task);
    return;
  }
  g_task_return_boolean(task, TRUE);
  g_object_unref(task);
}

void tandem_disk_manager_plug_restored_async(TandemDiskManager *self,
                                             TandemVm *vm,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data) {
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_disk_manager_plug_restored_async);
  TandemQmpClient *qmp = tandem_vm_get_qmp(vm);
  if (!qmp) {
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                            "VM %s has no QMP connection",
                            tandem_vm_get_name(vm));
    g_object_unref(task);
    return;
  }
  Plug *p = g_new0(Plug, 1);
  p->self = self;
  p->vm = g_object_ref(vm);
  p->qmp = g_object_ref(qmp);
  g_task_set_task_data(task, p, plug_free);
  plug_next(task);
}

gboolean tandem_disk_manager_plug_restored_finish(TandemDiskManager *self,
                                                  GAsyncResult *result,
                                                  GError **error) {
  return g_task_propagate_boolean(G_TASK(result), error);
}

TandemDiskInfo *tandem_disk_manager_attach_finish(TandemDiskManager *self,
                                                  GAsyncResult *result,
                                                  GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}

/* --- Detach ----------------------------------------------------------------- */

typedef struct {
  TandemDiskManager *self;
  Attachment *a;
  TandemQmpClient *qmp;
  gboolean force;
  guint busy_tries;  /* unmounts refused as busy so far */
  guint retry_id;
  TandemDiskState was; /* given back when the detach fails */
} DetachData;

static void detach_data_free(gpointer data) {
  DetachData *d = data;
  if (d->retry_id)
    g_source_remove(d->retry_id);
  g_clear_object(&d->qmp);
  g_free(d);
}

/* The detach stopped: the disk stays attached, as it is now. */
static void detach_fail(GTask *task, GError *error) {
  DetachData *d = g_task_get_task_data(task);
  if (tdm_vm_runs(d->self, d->a->info.vm)) {
    d->a->info.state = d->was;
    tdm_mirror_hold(d->a->mirror, FALSE);
    tdm_changed(d->self, d->a->info.vm);
  } else {
    tdm_forget(d->self, d->a); /* QEMU is gone, and the disk with it */
  }
  g_task_return_error(task, error);
  g_object_unref(task);
}

static void on_detached_node(GObject *source, GAsyncResult *res,
                             gpointer data) {
  GTask *task = data;
  DetachData *d = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  if (!tandem_qmp_blockdev_del_finish(TANDEM_QMP_CLIENT(source), res, &error))
    /* The guest has no disk any more; QEMU keeps an unused node until it
     * stops. Nothing the user can do about it. */
    g_warning("VM %s: the block node of disk %s stays until the VM stops: "
              "%s", d->a->info.vm, d->a->info.name, error->message);
  d->a->info.plugged = FALSE;
  tdm_mirror_remove_children(d->a->mirror, d->qmp);
  tdm_remember(d->self, &d->a->info, FALSE);
  tdm_forget(d->self, d->a);
  g_task_return_boolean(task, TRUE);
  g_object_unref(task);
}

static void on_unplugged(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  DetachData *d = g_task_get_task_data(task);
  GError *error = NULL;
  if (!tandem_qmp_device_del_wait_finish(TANDEM_QMP_CLIENT(source), res,
                                         &error)) {
    GError *e = g_error_new(
        G_IO_ERROR,
        error->domain == G_IO_ERROR ? error->code : G_IO_ERROR_FAILED,
        _("The guest did not release disk “%s”: it stays attached (%s)"),
        d->a->info.name, error->message);
    g_error_free(error);
    detach_fail(task, e);
    return;
  }
  tandem_qmp_blockdev_del_async(d->qmp, d->a->node, NULL, on_detached_node,
                                task);
}

static void unplug(GTask *task) {
  DetachData *d = g_task_get_task_data(task);
  tandem_qmp_device_del_wait_async(d->qmp, d->a->device, UNPLUG_WAIT_MS, NULL,
                                   on_unplugged, task);
}

static void unmount(GTask *task);

static gboolean unmount_again(gpointer data) {
  GTask *task = data;
  DetachData *d = g_task_get_task_data(task);
  d->retry_id = 0;
  unmount(task);
  return G_SOURCE_REMOVE;
}

static void on_unmounted(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  DetachData *d = g_task_get_task_data(task);
  GError *error = NULL;
  if (!tandem_guest_link_unmount_finish(TANDEM_GUEST_LINK(source), res,
                                        &error) &&
      !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY) &&
        ++d->busy_tries < UNMOUNT_TRIES) {
      /* A program that only passes by (a file manager listing it, a
       * backup reading a file) is gone in a moment: ask again. */
      g_error_free(error);
      d->retry_id = g_timeout_add(UNMOUNT_RETRY_MS, unmount_again, task);
      return;
    }
    GError *e;
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BUSY))
      e = g_error_new(G_IO_ERROR, G_IO_ERROR_BUSY,
                      _("Disk “%s” is in use in the guest (%s): close those "
                        "programs, or detach with --force"),
                      d->a->info.name, error->message);
    else
      e = g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED,
                      _("The guest could not unmount disk “%s”: %s"),
                      d->a->info.name, error->message);
    g_error_free(error);
    detach_fail(task, e);
    return;
  }
  g_clear_error(&error);
  tdm_set_unmounted(d->a);
  tdm_changed(d->self, d->a->info.vm);
  unplug(task);
}

static void unmount(GTask *task) {
  DetachData *d = g_task_get_task_data(task);
  TandemGuestLink *link = tdm_link_of(d->self, d->a->info.vm);
  if (!link) {
    detach_fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                  _("The guest's agent went away while disk "
                                    "“%s” was being unmounted"),
                                  d->a->info.name));
    return;
  }
  tandem_guest_link_unmount_async(link, d->a->info.serial, d->force, NULL,
                                  on_unmounted, task);
}

void tandem_disk_manager_detach_async(TandemDiskManager *self, const char *vm,
                                      const char *name, gboolean force,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data) {
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_disk_manager_detach_async);
  TandemVm *v = tandem_vm_manager_lookup(self->vms, vm);
  Attachment *a = v ? tdm_find(self, vm, name) : NULL;
  if (!a) {
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                            v ? _("VM “%s” has no disk named “%s” (tandemctl "
                                  "storage list %s shows them)")
                              : _("There is no VM named “%s”"),
                            vm, name, vm);
    g_object_unref(task);
    return;
  }
  if (a->info.state == TANDEM_DISK_FAILED && !a->info.plugged) {
    /* Nothing is plugged in: it leaves the list and the configuration. */
    tdm_remember(self, &a->info, FALSE);
    tdm_forget(self, a);
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
    return;
  }
  if (tdm_mirror_busy(a->mirror)) {
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_PENDING,
                            _("Disk “%s” is being brought up to date from its "
                              "mirror: try again when that is done"), name);
    g_object_unref(task);
    return;
  }
  if (a->info.state == TANDEM_DISK_ATTACHING ||
      a->info.state == TANDEM_DISK_DETACHING || !tandem_vm_get_qmp(v)) {
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_PENDING,
                            _("Disk “%s” is being %s: try again when that is "
                              "done"), name,
                            a->info.state == TANDEM_DISK_ATTACHING
                                ? _("attached")
                                : _("detached"));
    g_object_unref(task);
    return;
  }
  TandemGuestLink *link = tdm_link_of(self, vm);
  if (a->info.mount == TANDEM_DISK_MOUNT_MOUNTED && !link && !force) {
    g_task_return_new_error(
        task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
        _("The guest's agent is not connected, so disk “%s” cannot be "
          "unmounted safely: wait for the agent, or detach with --force"),
        name);
    g_object_unref(task);
    return;
  }
  DetachData *d = g_new0(DetachData, 1);
  d->self = self;
  d->a = a;
  d->qmp = g_object_ref(tandem_vm_get_qmp(v));
  d->force = force;
  d->was = a->info.state;
  tdm_mirror_hold(a->mirror, TRUE);
  g_task_set_task_data(task, d, detach_data_free);
  a->info.state = TANDEM_DISK_DETACHING;
  tdm_changed(self, vm);
  if (link && a->info.mount == TANDEM_DISK_MOUNT_MOUNTED)
    unmount(task);
  else
    unplug(task);
}

gboolean tandem_disk_manager_detach_finish(TandemDiskManager *self,
                                           GAsyncResult *result,
                                           GError **error) {
  return g_task_propagate_boolean(G_TASK(result), error);
}

