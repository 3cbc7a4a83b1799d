/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-disk-manager.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "tandem-qmp-commands.h"
#include "tandem-qemu-argv.h"

#include "tandem-disk-private.h"

G_DEFINE_TYPE(TandemDiskManager, tandem_disk_manager, G_TYPE_OBJECT)

enum { SIG_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* --- Names ----------------------------------------------------------------- */

const char *tandem_disk_bus_to_string(TandemDiskBus bus) {
  return bus == TANDEM_DISK_BUS_VIRTIO ? "virtio" : "nvme";
}

gboolean tandem_disk_bus_from_string(const char *text, TandemDiskBus *bus) {
  if (!g_strcmp0(text, "nvme"))
    *bus = TANDEM_DISK_BUS_NVME;
  else if (!g_strcmp0(text, "virtio"))
    *bus = TANDEM_DISK_BUS_VIRTIO;
  else
    return FALSE;
  return TRUE;
}

const char *tandem_disk_state_to_string(TandemDiskState state) {
  static const char *const names[] = {"attaching", "attached", "detaching",
                                      "failed", "degraded", "reconnecting"};
  return state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

const char *tandem_disk_mount_to_string(TandemDiskMount mount) {
  static const char *const names[] = {"none", "mounted", "no-filesystem",
                                      "failed", "no-agent"};
  return mount < G_N_ELEMENTS(names) ? names[mount] : "unknown";
}

gboolean tandem_disk_name_is_valid(const char *name) {
  return tandem_vm_attachment_name_is_valid(name);
}

static void info_clear(TandemDiskInfo *i) {
  g_free(i->vm);
  g_free(i->name);
  g_free(i->uri);
  g_free(i->mirror);
  g_free(i->serial);
  g_free(i->port);
  g_free(i->mountpoint);
  g_free(i->fs_type);
  g_free(i->message);
}

void tandem_disk_info_free(TandemDiskInfo *info) {
  if (!info)
    return;
  info_clear(info);
  g_free(info);
}

TandemDiskInfo *tandem_disk_info_copy(const TandemDiskInfo *info) {
  TandemDiskInfo *c = g_new(TandemDiskInfo, 1);
  *c = *info;
  c->vm = g_strdup(info->vm);
  c->name = g_strdup(info->name);
  c->uri = g_strdup(info->uri);
  c->mirror = g_strdup(info->mirror);
  c->serial = g_strdup(info->serial);
  c->port = g_strdup(info->port);
  c->mountpoint = g_strdup(info->mountpoint);
  c->fs_type = g_strdup(info->fs_type);
  c->message = g_strdup(info->message ? info->message : "");
  return c;
}

static void attachment_free(gpointer data) {
  Attachment *a = data;
  tdm_mirror_free(a->mirror);
  g_free(a->saved_message);
  info_clear(&a->info);
  g_free(a->node);
  g_free(a->device);
  g_free(a);
}

static void tdm_set_message(Attachment *a, const char *message) {
  g_free(a->info.message);
  a->info.message = g_strdup(message ? message : "");
}

void tdm_set_unmounted(Attachment *a) {
  a->info.mount = TANDEM_DISK_MOUNT_NONE;
  g_clear_pointer(&a->info.mountpoint, g_free);
  g_clear_pointer(&a->info.fs_type, g_free);
  a->info.total_bytes = a->info.free_bytes = 0;
}

/* --- Plugging in ------------------------------------------------------- */

Attachment *tdm_attachment_new(const char *vm, const char *name,
                               const char *uri, const char *mirror,
                               TandemDiskBus bus, gboolean read_only,
                               guint32 tag, const char *port) {
  Attachment *a = g_new0(Attachment, 1);
  a->node = g_strdup_printf("tandem-ext-%08x", tag);
  a->device = g_strdup_printf("tandem-ext-%08x-dev", tag);
  a->info.vm = g_strdup(vm);
  a->info.name = g_strdup(name);
  a->info.uri = g_strdup(uri);
  a->info.bus = bus;
  a->info.read_only = read_only;
  a->info.state = TANDEM_DISK_ATTACHING;
  a->info.serial = g_strdup_printf("tdm-%08x", tag); /* NVMe: <= 20 */
  a->info.port = g_strdup(port);
  a->info.message = g_strdup("");
  if (mirror) {
    a->info.mirror = g_strdup(mirror);
    a->mirror = tdm_mirror_new(a);
  }
  return a;
}

void tdm_add_one_node(TandemQmpClient *qmp, const char *node,
                      const TandemStorageUri *u, gboolean read_only,
                      guint open_timeout, GAsyncReadyCallback callback,
                      gpointer data) {
  if (u->protocol == TANDEM_STORAGE_NBD) {
    TandemQmpNbdBlockdev o = {
        .node_name = node,
        .unix_path = u->socket_path,
        .host = u->host,
        .port = u->port,
        .export_name = u->export_name,
        .read_only = read_only,
        .reconnect_delay = TANDEM_DISK_RECONNECT_DELAY,
        .open_timeout = open_timeout,
    };
    tandem_qmp_blockdev_add_nbd_async(qmp, &o, NULL, callback, data);
  } else {
    TandemQmpIscsiBlockdev o = {
        .node_name = node,
        .host = u->host,
        .port = u->port,
        .target = u->target,
        .lun = u->lun,
        .read_only = read_only,
    };
    tandem_qmp_blockdev_add_iscsi_async(qmp, &o, NULL, callback, data);
  }
}

static void on_one_node(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  GError *error = NULL;
  if (tandem_qmp_blockdev_add_finish(TANDEM_QMP_CLIENT(source), res, &error))
    g_task_return_boolean(task, TRUE);
  else
    g_task_return_error(task, error);
  g_object_unref(task);
}

void tdm_add_node(TandemQmpClient *qmp, Attachment *a, gboolean read_only,
                  GAsyncReadyCallback callback, gpointer data) {
  GTask *task = g_task_new(qmp, NULL, callback, data);
  g_task_set_source_tag(task, tdm_add_node);
  if (a->mirror) {
    tdm_mirror_add_nodes(a->mirror, qmp, read_only, task);
    return;
  }
  g_autoptr(TandemStorageUri) u = tandem_storage_uri_parse(a->info.uri, NULL);
  if (!u) {
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            _("“%s” is not an address of a network disk"),
                            a->info.uri);
    g_object_unref(task);
    return;
  }
  /* A server that accepts and never answers would hold QEMU's monitor:
   * bounded, at the cost of a refusal taking that long. */
  tdm_add_one_node(qmp, a->node, u, read_only, OPEN_TIMEOUT_S, on_one_node,
                   task);
}

gboolean tdm_add_node_finish(GAsyncResult *result, GError **error) {
  g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tdm_add_node,
                       FALSE);
  return g_task_propagate_boolean(G_TASK(result), error);
}

void tdm_plug(TandemQmpClient *qmp, const Attachment *a,
              GAsyncReadyCallback callback, gpointer data) {
  TandemQmpDiskDevice dev = {
      .driver = a->info.bus == TANDEM_DISK_BUS_VIRTIO ? TANDEM_QMP_DISK_VIRTIO
                                                      : TANDEM_QMP_DISK_NVME,
      .id = a->device,
      .bus = a->info.port,
      .drive = a->node,
      .serial = a->info.serial,
      .nvme_mdts = NVME_MDTS,
  };
  tandem_qmp_device_add_disk_async(qmp, &dev, NULL, callback, data);
}

/* --- The table ---------------------------------------------------------- */

GPtrArray *tdm_attachments_of(TandemDiskManager *self, const char *vm,
                                 gboolean create) {
  GPtrArray *list = g_hash_table_lookup(self->by_vm, vm);
  if (!list && create) {
    list = g_ptr_array_new_with_free_func(attachment_free);
    g_hash_table_insert(self->by_vm, g_strdup(vm), list);
  }
  return list;
}

Attachment *tdm_find(TandemDiskManager *self, const char *vm,
                        const char *name) {
  GPtrArray *list = tdm_attachments_of(self, vm, FALSE);
  for (guint i = 0; list && i < list->len; i++) {
    Attachment *a = list->pdata[i];
    if (!strcmp(a->info.name, name))
      return a;
  }
  return NULL;
}

void tdm_changed(TandemDiskManager *self, const char *vm) {
  tdm_watch_update(self);
  g_signal_emit(self, signals[SIG_CHANGED], 0, vm);
}

/* The VM's configuration follows what the user attached and detached, so
 * that the next start attaches it again. */
void tdm_remember(TandemDiskManager *self, const TandemDiskInfo *info,
                     gboolean keep) {
  TandemVm *vm = tandem_vm_manager_lookup(self->vms, info->vm);
  if (!vm)
    return;
  TandemVmConfig *c = (TandemVmConfig *)tandem_vm_get_config(vm);
  TandemVmAttachment *old = tandem_vm_config_find_attachment(c, info->name);
  if (!keep) {
    if (!old)
      return;
    g_ptr_array_remove(c->attachments, old);
  } else if (old) { /* in its place: the order is the user's */
    if (!g_strcmp0(old->serial, info->serial) &&
        !g_strcmp0(old->port, info->port))
      return;
    g_free(old->serial);
    old->serial = g_strdup(info->serial);
    g_free(old->port);
    old->port = g_strdup(info->port);
  } else {
    TandemVmAttachment *a = tandem_vm_attachment_new(
        info->name, info->uri, tandem_disk_bus_to_string(info->bus),
        info->read_only);
    a->mirror = g_strdup(info->mirror);
    a->serial = g_strdup(info->serial);
    a->port = g_strdup(info->port);
    g_ptr_array_add(c->attachments, a);
  }
  g_autoptr(GError) error = NULL;
  if (!tandem_vm_config_save(c, tandem_vm_manager_get_config_dir(self->vms),
                             &error))
    g_warning("VM %s: could not record network disk %s in its "
              "configuration: %s", info->vm, info->name, error->message);
}

/* A configured attachment that is not plugged in: its port is no longer
 * the guest's, so a snapshot taken now must not put it back there. */
static void tdm_remember_unplugged(TandemDiskManager *self, const char *vm_name,
                               const char *name) {
  TandemVm *vm = tandem_vm_manager_lookup(self->vms, vm_name);
  TandemVmConfig *c = vm ? (TandemVmConfig *)tandem_vm_get_config(vm) : NULL;
  TandemVmAttachment *at = c ? tandem_vm_config_find_attachment(c, name)
                             : NULL;
  if (!at || !at->port)
    return;
  g_clear_pointer(&at->port, g_free);
  g_autoptr(GError) error = NULL;
  if (!tandem_vm_config_save(c, tandem_vm_manager_get_config_dir(self->vms),
                             &error))
    g_warning("VM %s: could not record network disk %s in its "
              "configuration: %s", vm_name, name, error->message);
}

void tdm_forget(TandemDiskManager *self, Attachment *a) {
  g_autofree char *vm = g_strdup(a->info.vm);
  GPtrArray *list = tdm_attachments_of(self, vm, FALSE);
  if (list)
    g_ptr_array_remove(list, a);
  tdm_changed(self, vm);
}

gboolean tdm_port_is_free(TandemDiskManager *self, TandemVm *vm,
                             const char *port) {
  const TandemVmConfig *c = tandem_vm_get_config(vm);
  guint64 n;
  if (!port || !g_str_has_prefix(port, TANDEM_HOTPLUG_PORT_PREFIX) ||
      !g_ascii_string_to_unsigned(port + strlen(TANDEM_HOTPLUG_PORT_PREFIX),
                                  10, 0, c->hotplug_ports ? c->hotplug_ports - 1
                                                          : 0,
                                  &n, NULL) ||
      n >= c->hotplug_ports)
    return FALSE;
  GPtrArray *list = tdm_attachments_of(self, tandem_vm_get_name(vm), FALSE);
  for (guint i = 0; list && i < list->len; i++)
    if (!g_strcmp0(((Attachment *)list->pdata[i])->info.port, port))
      return FALSE;
  return TRUE;
}

/* A free PCIe root port of @vm, @wanted if it is one, or NULL. */
static char *free_port(TandemDiskManager *self, TandemVm *vm,
                       const char *wanted) {
  if (tdm_port_is_free(self, vm, wanted))
    return g_strdup(wanted);
  const TandemVmConfig *c = tandem_vm_get_config(vm);
  for (guint p = 0; p < c->hotplug_ports; p++) {
    g_autofree char *port =
        g_strdup_printf(TANDEM_HOTPLUG_PORT_PREFIX "%u", p);
    if (tdm_port_is_free(self, vm, port))
      return g_steal_pointer(&port);
  }
  return NULL;
}

static void attach_configured(TandemDiskManager *self, TandemVm *vm);

/* A QEMU that stopped took its devices with it; a start attaches what the
 * configuration lists. */
static void on_vm_state_changed(TandemVmManager *vms, TandemVm *vm,
                                int old_state, int new_state, gpointer data) {
  TandemDiskManager *self = data;
  /* The first time it runs after a start (a restore passes through
   * paused on the way). */
  if (new_state == TANDEM_VM_STARTING) {
    g_hash_table_add(self->starting, g_strdup(tandem_vm_get_name(vm)));
    return;
  }
  if (new_state == TANDEM_VM_RUNNING &&
      g_hash_table_remove(self->starting, tandem_vm_get_name(vm))) {
    attach_configured(self, vm);
    return;
  }
  if (new_state == TANDEM_VM_RUNNING || new_state == TANDEM_VM_PAUSED)
    return;
  const char *name = tandem_vm_get_name(vm);
  GPtrArray *list = tdm_attachments_of(self, name, FALSE);
  if (!list || !list->len)
    return;
  /* Attachments under way fail on their own (QMP disconnects). */
  for (guint i = list->len; i-- > 0;) {
    Attachment *a = list->pdata[i];
    if (a->info.state == TANDEM_DISK_ATTACHED ||
        a->info.state == TANDEM_DISK_FAILED ||
        a->info.state == TANDEM_DISK_DEGRADED ||
        a->info.state == TANDEM_DISK_RECONNECTING)
      g_ptr_array_remove_index(list, i);
  }
  tdm_changed(self, name);
}

/* --- Attach ----------------------------------------------------------------- */

typedef struct {
  TandemDiskManager *self;
  Attachment *a; /* in the table from the start: the name is taken */
  TandemStorageUri *uri;
  TandemQmpClient *qmp;
  gint64 mount_deadline;
  guint retry_id;
  gboolean from_config; /* attached again at a start */
  gboolean probing;     /* asking again read-only, after a refusal */
  GError *first_error;  /* the refusal */
} AttachData;

static void attach_data_free(gpointer data) {
  AttachData *d = data;
  if (d->retry_id)
    g_source_remove(d->retry_id);
  tandem_storage_uri_free(d->uri);
  g_clear_error(&d->first_error);
  g_clear_object(&d->qmp);
  g_free(d);
}

TandemGuestLink *tdm_link_of(TandemDiskManager *self, const char *vm) {
  TandemGuestLink *link =
      self->link_func ? self->link_func(vm, self->link_data) : NULL;
  if (!link || tandem_guest_link_get_state(link) != TANDEM_GUEST_LINK_READY ||
      !(tandem_guest_link_get_caps(link) & TP_CAP_MOUNT))
    return NULL;
  return link;
}

gboolean tdm_vm_runs(TandemDiskManager *self, const char *vm) {
  TandemVm *v = tandem_vm_manager_lookup(self->vms, vm);
  return v && tandem_vm_get_state(v) == TANDEM_VM_RUNNING;
}

static void attach_fail(GTask *task, GError *error);

static void attach_done(GTask *task) {
  AttachData *d = g_task_get_task_data(task);
  if (!tdm_vm_runs(d->self, d->a->info.vm)) {
    attach_fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_CLOSED,
                                  _("VM “%s” stopped while the disk was "
                                    "being attached"), d->a->info.vm));
    return;
  }
  d->a->info.state = tdm_mirror_settle(d->a->mirror);
  tdm_remember(d->self, &d->a->info, TRUE); /* with where it is plugged in */
  tdm_changed(d->self, d->a->info.vm);
  g_task_return_pointer(task, tandem_disk_info_copy(&d->a->info),
                        (GDestroyNotify)tandem_disk_info_free);
  g_object_unref(task);
}

static void mount_disk(GTask *task);

static gboolean mount_retry(gpointer data) {
  GTask *task = data;
  AttachData *d = g_task_get_task_data(task);
  d->retry_id = 0;
  mount_disk(task);
  return G_SOURCE_REMOVE;
}

/* Records the agent's answer in @a; FALSE when the guest has not seen
 * the disk yet and it is worth asking again. */
static gboolean apply_mount(Attachment *a, TandemGuestMount *m,
                            const GError *error, gint64 deadline) {
  if (m) {
    a->info.mount = TANDEM_DISK_MOUNT_MOUNTED;
    g_free(a->info.mountpoint);
    a->info.mountpoint = g_strdup(m->mountpoint);
    g_free(a->info.fs_type);
    a->info.fs_type = g_strdup(m->fs_type);
    a->info.total_bytes = m->total_bytes;
    a->info.free_bytes = m->free_bytes;
    tdm_set_message(a, "");
  } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) &&
             g_get_monotonic_time() < deadline) {
    return FALSE; /* the guest has not seen the new disk yet */
  } else if (g_error_matches(error, G_IO_ERROR,
                             G_IO_ERROR_NOT_MOUNTABLE_FILE)) {
    a->info.mount = TANDEM_DISK_MOUNT_NO_FILESYSTEM;
    tdm_set_message(a, _("The disk has no file system the guest can mount; "
                     "nothing was formatted."));
  } else {
    a->info.mount = TANDEM_DISK_MOUNT_FAILED;
    g_autofree char *msg = g_strdup_printf(
        _("The guest could not mount the disk: %s"), error->message);
    tdm_set_message(a, msg);
  }
  return TRUE;
}

static void on_mounted(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  AttachData *d = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemGuestMount) m = tandem_guest_link_mount_finish(
      TANDEM_GUEST_LINK(source), res, &error);
  if (!apply_mount(d->a, m, error, d->mount_deadline)) {
    d->retry_id = g_timeout_add(MOUNT_RETRY_MS, mount_retry, task);
    return;
  }
  attach_done(task);
}

/* --- Mounting when the agent comes (after a start) ------------------------ */

/* The guest has the disk and can read it: attached, or a mirror on one of
 * its servers. */
static gboolean tdm_usable(const Attachment *a) {
  return a->info.state == TANDEM_DISK_ATTACHED ||
         a->info.state == TANDEM_DISK_DEGRADED;
}

typedef struct {
  TandemDiskManager *self;
  char *vm, *name;
} Remount;

static void remount_free(Remount *r) {
  g_object_unref(r->self);
  g_free(r->vm);
  g_free(r->name);
  g_free(r);
}

static void on_remounted(GObject *source, GAsyncResult *res, gpointer data) {
  Remount *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemGuestMount) m = tandem_guest_link_mount_finish(
      TANDEM_GUEST_LINK(source), res, &error);
  Attachment *a = tdm_find(r->self, r->vm, r->name);
  /* Detached or gone meanwhile: nothing to record. The disk is there
   * since the start, so an unknown one is an answer, not a wait. */
  if (a && tdm_usable(a)) {
    apply_mount(a, m, error, 0);
    tdm_changed(r->self, r->vm);
  }
  remount_free(r);
}

static void mount_when_ready(TandemGuestLink *link, gpointer data) {
  TandemDiskManager *self = data;
  if (tandem_guest_link_get_state(link) != TANDEM_GUEST_LINK_READY ||
      !(tandem_guest_link_get_caps(link) & TP_CAP_MOUNT))
    return;
  const char *vm = tandem_guest_link_get_vm_name(link);
  GPtrArray *list = tdm_attachments_of(self, vm, FALSE);
  for (guint i = 0; list && i < list->len; i++) {
    Attachment *a = list->pdata[i];
    if (!tdm_usable(a) || a->info.mount != TANDEM_DISK_MOUNT_NO_AGENT)
      continue;
    Remount *r = g_new0(Remount, 1);
    r->self = g_object_ref(self);
    r->vm = g_strdup(vm);
    r->name = g_strdup(a->info.name);
    tandem_guest_link_mount_async(link, a->info.serial, a->info.name,
                                  a->info.read_only, NULL, on_remounted, r);
  }
}

void tandem_disk_manager_watch_link(TandemDiskManager *self,
                                    TandemGuestLink *link) {
  g_signal_connect_object(link, "state-changed", G_CALLBACK(mount_when_ready),
                          self, 0);
  mount_when_ready(link, self);
}

static void mount_disk(GTask *task) {
  AttachData *d = g_task_get_task_data(task);
  TandemGuestLink *link = tdm_link_of(d->self, d->a->info.vm);
  if (!link) {
    d->a->info.mount = TANDEM_DISK_MOUNT_NO_AGENT;
    tdm_set_message(d->a, _("The guest has no agent that mounts disks: the disk "
                        "is attached but not mounted."));
    attach_done(task);
    return;
  }
  tandem_guest_link_mount_async(link, d->a->info.serial, d->a->info.name,
                                d->a->info.read_only, NULL, on_mounted, task);
}

static void attach_fail(GTask *task, GError *error) {
  AttachData *d = g_task_get_task_data(task);
  if (d->from_config && tdm_vm_runs(d->self, d->a->info.vm)) {
    /* Listed, so that the user sees why, and can detach it for good. */
    tdm_remember_unplugged(d->self, d->a->info.vm, d->a->info.name);
    d->a->info.state = TANDEM_DISK_FAILED;
    tdm_set_message(d->a, error->message);
    tdm_changed(d->self, d->a->info.vm);
  } else {
    tdm_forget(d->self, d->a);
  }
  d->a = NULL;
  g_task_return_error(task, error);
  g_object_unref(task);
}

static void on_node_removed(GObject *source, GAsyncResult *res,
                            gpointer data) {
  GTask *task = data;
  g_autoptr(GError) ignored = NULL;
  tandem_qmp_blockdev_del_finish(TANDEM_QMP_CLIENT(source), res, &ignored);
  if (ignored)
    g_warning("could not remove a block node after a failed attach: %s",
              ignored->message);
  GError *error = g_object_steal_data(G_OBJECT(task), "error");
  attach_fail(task, error);
}

static void on_device_added(GObject *source, GAsyncResult *res,
                            gpointer data) {
  GTask *task = data;
  AttachData *d = g_task_get_task_data(task);
  GError *error = NULL;
  if (!tandem_qmp_device_add_finish(TANDEM_QMP_CLIENT(source), res, &error)) {
    /* Back to where we were: the node goes too. */
    GError *e = g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED,
                            _("QEMU could not plug the disk in: %s"),
                            error->message);
    g_error_free(error);
    g_object_set_data(G_OBJECT(task), "error", e);
    tandem_qmp_blockdev_del_async(d->qmp, d->a->node, NULL, on_node_removed,
                                  task);
    return;
  }
  d->a->info.plugged = TRUE;
  if (d->a->mirror)
    tdm_mirror_watch(d->a->mirror, d->self, d->qmp);
  d->mount_deadline = g_get_monotonic_time() + MOUNT_WAIT_MS * 1000;
  mount_disk(task);
}

/* Why blockdev-add failed, for the user. QEMU says it only in words (its
 * error class is always GenericError), so the words choose the advice;
 * QEMU's own message is always kept. */
GError *tdm_explain_add_error(const TandemStorageUri *u,
                              const GError *qemu) {
  const char *desc = qemu->message;
  g_autofree char *where = tandem_storage_uri_to_string(u);
  if (u->protocol == TANDEM_STORAGE_ISCSI && strstr(desc, "nknown driver"))
    return g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       _("This QEMU has no iSCSI driver: install the "
                         "qemu-block-extra package, then restart the VM "
                         "(QEMU: %s)"), desc);
  if (strstr(desc, "export") || strstr(desc, "Export"))
    return g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       _("The server has no export “%s”: check the name "
                         "(QEMU: %s)"), u->export_name ? u->export_name : "",
                       desc);
  if (strstr(desc, "onnect") || strstr(desc, "refused") ||
      strstr(desc, "No such file"))
    return g_error_new(G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE,
                       _("Cannot reach the server of %s: check that it runs "
                         "and the address is right (QEMU: %s)"), where, desc);
  return g_error_new(G_IO_ERROR, G_IO_ERROR_FAILED,
                     _("QEMU could not open %s: %s"), where, desc);
}

static void add_node(GTask *task, gboolean read_only);

/* The probe found the export read-only: say so, and take the probe's node
 * away again. */
static void on_probe_removed(GObject *source, GAsyncResult *res,
                             gpointer data) {
  GTask *task = data;
  AttachData *d = g_task_get_task_data(task);
  g_autoptr(GError) ignored = NULL;
  tandem_qmp_blockdev_del_finish(TANDEM_QMP_CLIENT(source), res, &ignored);
  g_autofree char *where = tandem_storage_uri_to_string(d->uri);
  attach_fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_READ_ONLY,
                                _("The export %s is read-only: attach it "
                                  "with --read-only"), where));
}

static void on_node_added(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  AttachData *d = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  gboolean added = tdm_add_node_finish(res, &error);
  if (d->probing) {
    /* Did it fail only because it was asked for writing? */
    d->probing = FALSE;
    if (added) {
      tandem_qmp_blockdev_del_async(d->qmp, d->a->node, NULL,
                                    on_probe_removed, task);
      return;
    }
    error = g_steal_pointer(&d->first_error);
  } else if (!added && !d->a->info.read_only && !d->a->mirror &&
             g_error_matches(error, TANDEM_QMP_ERROR,
                             TANDEM_QMP_ERROR_GENERIC) &&
             !strstr(error->message, "onnect")) {
    /* QEMU says a read-only export refused writing only in words
     * ("Permission denied"): ask again read-only to know. (Not after a
     * failed connection: that would only fail again, as slowly.) */
    d->probing = TRUE;
    d->first_error = g_steal_pointer(&error);
    add_node(task, TRUE);
    return;
  }
  if (!added) {
    /* A mirror's are explained already, naming the address that failed. */
    attach_fail(task, d->a->mirror ? g_steal_pointer(&error)
                                   : tdm_explain_add_error(d->uri, error));
    return;
  }
  tdm_plug(d->qmp, d->a, on_device_added, task);
}

static void add_node(GTask *task, gboolean read_only) {
  AttachData *d = g_task_get_task_data(task);
  tdm_add_node(d->qmp, d->a, read_only, on_node_added, task);
}

static gboolean check_attach(TandemDiskManager *self, TandemVm *vm,
                             const char *vm_name, const char *name,
                             GError **error) {
  if (!vm) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                _("There is no VM named “%s” (tandemctl vm list shows them)"),
                vm_name);
    return FALSE;
  }
  if (tandem_vm_get_state(vm) != TANDEM_VM_RUNNING || !tandem_vm_get_qmp(vm)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                _("VM “%s” is not running: start it first (tandemctl vm start "
                  "%s)"), vm_name, vm_name);
    return FALSE;
  }
  if (!tandem_disk_name_is_valid(name)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                _("“%s” cannot name a disk: use 1 to %d letters, digits, "
                  "dots, dashes or underscores"), name, TANDEM_DISK_MAX_NAME);
    return FALSE;
  }
  if (tdm_find(self, vm_name, name)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                _("VM “%s” already has a disk named “%s”: choose another "
                  "with --name"), vm_name, name);
    return FALSE;
  }
  return TRUE;
}

/* A configured attachment that cannot even start: listed as failed. */
static void list_failed(TandemDiskManager *self, const char *vm,
                        const char *name, const char *uri,
                        const char *mirror, TandemDiskBus bus,
                        gboolean read_only, const char *why) {
  Attachment *a = g_new0(Attachment, 1);
  a->info.vm = g_strdup(vm);
  a->info.name = g_strdup(name);
  a->info.uri = g_strdup(uri);
  a->info.mirror = g_strdup(mirror);
  a->info.bus = bus;
  a->info.read_only = read_only;
  a->info.state = TANDEM_DISK_FAILED;
  a->info.message = g_strdup(why);
  tdm_remember_unplugged(self, vm, name);
  g_ptr_array_add(tdm_attachments_of(self, vm, TRUE), a);
  tdm_changed(self, vm);
}

/* @at: the configuration's entry when attaching again at a start (its
 * serial and port kept when they still can be), else NULL. */
static void attach_start(TandemDiskManager *self, GTask *task, const char *vm,
                         const char *uri, const char *mirror,
                         TandemDiskBus bus, const char *name,
                         gboolean read_only, const TandemVmAttachment *at) {
  gboolean from_config = at != NULL;
  GError *error = NULL;
  TandemVm *v = tandem_vm_manager_lookup(self->vms, vm);
  g_autoptr(TandemStorageUri) u = tandem_storage_uri_parse(uri, &error);
  g_autoptr(TandemStorageUri) m =
      u && mirror ? tandem_storage_uri_parse(mirror, &error) : NULL;
  if (m) {
    g_autofree char *a = tandem_storage_uri_to_string(u);
    g_autofree char *b = tandem_storage_uri_to_string(m);
    if (g_str_equal(a, b))
      error = g_error_new(G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                          _("A disk cannot mirror itself: give the address "
                            "of a second export with --mirror"));
  }
  if (error)
    g_clear_pointer(&u, tandem_storage_uri_free);
  g_autofree char *derived =
      u && !(name && *name) ? tandem_storage_uri_default_name(u) : NULL;
  const char *n = derived ? derived : name;
  g_autofree char *port = NULL;
  if (u && check_attach(self, v, vm, n, &error) &&
      !(port = free_port(self, v, at ? at->port : NULL)))
    error = g_error_new(
        G_IO_ERROR, G_IO_ERROR_NO_SPACE,
        _("VM “%s” has no free hot-plug port (it has %u): detach a disk, or "
          "raise HotplugPorts in its configuration and restart it"),
        vm, tandem_vm_get_config(v)->hotplug_ports);
  if (error) {
    if (from_config && v && !tdm_find(self, vm, name))
      list_failed(self, vm, name, uri, mirror, bus, read_only,
                  error->message);
    g_task_return_error(task, error);
    g_object_unref(task);
    return;
  }
  guint32 tag = g_random_int();
  if (at && tandem_vm_attachment_serial_is_valid(at->serial))
    tag = (guint32)g_ascii_strtoull(at->serial + 4, NULL, 16);
  /* A configured one keeps the user's words: they are its key there. */
  g_autofree char *canonical =
      from_config ? g_strdup(uri) : tandem_storage_uri_to_string(u);
  g_autofree char *canonical_mirror =
      !m ? NULL : from_config ? g_strdup(mirror)
                              : tandem_storage_uri_to_string(m);
  Attachment *a = tdm_attachment_new(vm, n, canonical, canonical_mirror, bus,
                                     read_only, tag, port);
  g_ptr_array_add(tdm_attachments_of(self, vm, TRUE), a);
  tdm_changed(self, vm);

  AttachData *d = g_new0(AttachData, 1);
  d->self = self;
  d->a = a;
  d->uri = g_steal_pointer(&u);
  d->qmp = g_object_ref(tandem_vm_get_qmp(v));
  d->from_config = from_config;
  if (from_config && a->mirror)
    tdm_mirror_allow_degraded(a->mirror);
  g_task_set_task_data(task, d, attach_data_free);
  add_node(task, read_only);
}

void tandem_disk_manager_attach_async(TandemDiskManager *self, const char *vm,
                                      const char *uri, const char *mirror,
                                      TandemDiskBus bus,
                                      const char *name, gboolean read_only,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data) {
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_disk_manager_attach_async);
  attach_start(self, task, vm, uri, mirror, bus, name, read_only, NULL);
}

static void on_configured_attached(GObject *source, GAsyncResult *res,
                                   gpointer data) {
  g_autofree char *vm = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemDiskInfo) info = tandem_disk_manager_attach_finish(
      TANDEM_DISK_MANAGER(source), res, &error);
  if (info)
    g_message("VM %s: network disk %s attached again (%s)", vm, info->name,
              tandem_disk_mount_to_string(info->mount));
  else
    g_warning("VM %s: a network disk of its configuration could not be "
              "attached: %s", vm, error->message);
}

static void attach_configured(TandemDiskManager *self, TandemVm *vm) {
  const TandemVmConfig *c = tandem_vm_get_config(vm);
  const char *name = tandem_vm_get_name(vm);
  for (guint i = 0; i < c->attachments->len; i++) {
    const TandemVmAttachment *at = c->attachments->pdata[i];
    if (tdm_find(self, name, at->name))
      continue;
    TandemDiskBus bus = TANDEM_DISK_BUS_NVME;
    tandem_disk_bus_from_string(at->bus, &bus);
    GTask *task = g_task_new(self, NULL, on_configured_attached,
                             g_strdup(name));
    g_task_set_source_tag(task, tandem_disk_manager_attach_async);
    attach_start(self, task, name, at->uri, at->mirror, bus, at->name,
                 at->read_only, at);
  }
}

/* --- List ------------------------------------------------------------------- */

GPtrArray *tandem_disk_manager_list(TandemDiskManager *self, const char *vm,
                                    GError **error) {
  if (!tandem_vm_manager_lookup(self->vms, vm)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                _("There is no VM named “%s”"), vm);
    return NULL;
  }
  GPtrArray *out =
      g_ptr_array_new_with_free_func((GDestroyNotify)tandem_disk_info_free);
  GPtrArray *list = tdm_attachments_of(self, vm, FALSE);
  for (guint i = 0; list && i < list->len; i++)
    g_ptr_array_add(out, tandem_disk_info_copy(
                             &((Attachment *)list->pdata[i])->info));
  return out;
}

/* --- Object ----------------------------------------------------------------- */

TandemDiskManager *tandem_disk_manager_new(TandemVmManager *vms,
                                           TandemDiskLinkFunc link_func,
                                           gpointer link_data) {
  TandemDiskManager *self = g_object_new(TANDEM_TYPE_DISK_MANAGER, NULL);
  self->vms = g_object_ref(vms);
  self->link_func = link_func;
  self->link_data = link_data;
  g_signal_connect_object(vms, "vm-state-changed",
                          G_CALLBACK(on_vm_state_changed), self, 0);
  return self;
}

static void tandem_disk_manager_finalize(GObject *object) {
  TandemDiskManager *self = TANDEM_DISK_MANAGER(object);
  g_clear_handle_id(&self->watch_id, g_source_remove);
  g_hash_table_unref(self->by_vm);
  g_hash_table_unref(self->starting);
  g_clear_object(&self->vms);
  G_OBJECT_CLASS(tandem_disk_manager_parent_class)->finalize(object);
}

static void tandem_disk_manager_init(TandemDiskManager *self) {
  self->by_vm = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)g_ptr_array_unref);
  self->starting = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         NULL);
}

static void tandem_disk_manager_class_init(TandemDiskManagerClass *klass) {
  G_OBJECT_CLASS(klass)->finalize = tandem_disk_manager_finalize;
  signals[SIG_CHANGED] =
      g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                   NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}
