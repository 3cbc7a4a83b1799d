/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tandem.Tandem1.Storage: network block exports (NBD, iSCSI) attached
 * to running VMs as local disks, from the service's TandemDiskManager:
 * Attach and Detach (answered when the guest has the disk, or has let it
 * go), List, and the manager's changes passed on as the interface's
 * signal. Part of TandemDbusService (tandem-dbus-private.h).
 *
 * The usual mistakes (an unknown VM or attachment, an address, bus or name
 * that breaks the rules, a VM that is not running) are caught here before
 * the manager sees them, so that they are explained in the user's language
 * (an address's mistake in the parser's words); what the manager itself
 * reports is passed on as it comes. */
#include "config.h"

#include "tandem-dbus-private.h"

#include <errno.h>

#include "tandem-bus-source.h"
#include "tandem-disk-manager.h"
#include "tandem-i18n.h"

/* --- Errors ------------------------------------------------------------ */

/* The manager's errors are GIO's (tandem-disk-manager.h), with meanings of
 * their own here: BUSY is a guest holding files open (InUse), PENDING an
 * attach or detach under way (Busy, as for snapshots). */
static const char *storage_error_name_for(const GError *error) {
  if (error->domain != G_IO_ERROR)
    return tandem_dbus_error_name_for(error);
  switch ((GIOErrorEnum)error->code) {
  case G_IO_ERROR_NOT_FOUND:
    return TANDEM_DBUS_ERROR_NOT_FOUND;
  case G_IO_ERROR_NOT_CONNECTED:
  case G_IO_ERROR_CLOSED: /* the VM stopped meanwhile */
    return TANDEM_DBUS_ERROR_NOT_RUNNING;
  case G_IO_ERROR_INVALID_ARGUMENT:
    return TANDEM_DBUS_ERROR_INVALID;
  case G_IO_ERROR_EXISTS:
    return TANDEM_DBUS_ERROR_EXISTS;
  case G_IO_ERROR_NO_SPACE:
    return TANDEM_DBUS_ERROR_NO_SPACE;
  case G_IO_ERROR_HOST_UNREACHABLE:
    return TANDEM_DBUS_ERROR_UNREACHABLE;
  case G_IO_ERROR_NOT_SUPPORTED:
    return TANDEM_DBUS_ERROR_NOT_SUPPORTED;
  case G_IO_ERROR_READ_ONLY:
    return TANDEM_DBUS_ERROR_READ_ONLY;
  case G_IO_ERROR_BUSY:
    return TANDEM_DBUS_ERROR_IN_USE;
  case G_IO_ERROR_PENDING:
    return TANDEM_DBUS_ERROR_BUSY;
  case G_IO_ERROR_TIMED_OUT:
    return TANDEM_DBUS_ERROR_TIMED_OUT;
  default:
    return TANDEM_DBUS_ERROR_FAILED;
  }
}

static int set_bus_error(sd_bus_error *ret_error, const GError *error) {
  return sd_bus_error_set(ret_error, storage_error_name_for(error),
                          error->message);
}

/* --- Checks ------------------------------------------------------------ */

/* A name is part of the guest's mount point; anything else (a path, a
 * typo) is explained without echoing control characters back to a
 * terminal. */
static int check_name(const char *name, sd_bus_error *ret_error) {
  g_autofree char *shown = NULL;

  if (tandem_disk_name_is_valid(name))
    return 0;
  shown = g_strescape(name, NULL);
  return sd_bus_error_setf(
      ret_error, TANDEM_DBUS_ERROR_INVALID,
      /* TRANSLATORS: %s is what was given as a disk's name; %d the most
       * characters it may have. */
      _("“%s” is not a disk name: names are 1 to %d letters, digits, ., _ "
        "and -, not starting with . or -, like “data”."),
      shown, TANDEM_DISK_MAX_NAME);
}

/* Whether @vm has an attachment called @name (a valid name); NotFound says
 * what to do if not. */
static int check_attached(TandemDbusService *self, const char *vm,
                          const char *name, sd_bus_error *ret_error) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = tandem_disk_manager_list(self->disks, vm,
                                                       &error);

  if (!list)
    return set_bus_error(ret_error, error);
  for (guint i = 0; i < list->len; i++) {
    const TandemDiskInfo *info = g_ptr_array_index(list, i);
    if (g_str_equal(info->name, name))
      return 0;
  }
  return sd_bus_error_setf(
      ret_error, TANDEM_DBUS_ERROR_NOT_FOUND,
      /* TRANSLATORS: a VM's name, a disk's name, the VM's name again;
       * keep the command as it is. */
      _("“%s” has no disk “%s”. “tandemctl storage list %s” shows the ones "
        "attached to it."),
      vm, name, vm);
}

/* Disks are hot-plugged into a running VM only: a paused guest could not
 * take the disk in. */
static int check_running(TandemVm *vm, sd_bus_error *ret_error) {
  const char *name = tandem_vm_get_name(vm);

  switch (tandem_vm_get_state(vm)) {
  case TANDEM_VM_RUNNING:
    return 0;
  case TANDEM_VM_PAUSED:
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_NOT_RUNNING,
        /* TRANSLATORS: both %s are a VM's name; keep the command as it
         * is. */
        _("“%s” is paused: let it go on with “tandemctl vm resume %s”, then "
          "attach the disk."),
        name, name);
  case TANDEM_VM_STARTING:
  case TANDEM_VM_STOPPING:
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_BUSY,
        /* TRANSLATORS: %s is a VM's name. */
        _("“%s” is starting or shutting down: wait until it is done, then "
          "try again."),
        name);
  default:
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_NOT_RUNNING,
        /* TRANSLATORS: both %s are a VM's name; keep the command as it
         * is. */
        _("“%s” is not running: disks are attached to a running VM. Start "
          "it with “tandemctl vm start %s”."),
        name, name);
  }
}

/* --- Replies ----------------------------------------------------------- */

/* One attachment as a{sv}: the fields of TandemDiskInfo. */
static int append_disk(sd_bus_message *reply, gconstpointer item) {
  const TandemDiskInfo *info = item;
  return sd_bus_message_append(
      reply, "a{sv}", 15,
      "name", "s", or_empty(info->name),
      "uri", "s", or_empty(info->uri),
      "mirror", "s", or_empty(info->mirror),
      "bus", "s", tandem_disk_bus_to_string(info->bus),
      "read-only", "b", (int)!!info->read_only,
      "state", "s", tandem_disk_state_to_string(info->state),
      "serial", "s", or_empty(info->serial),
      "port", "s", or_empty(info->port),
      "mount", "s", tandem_disk_mount_to_string(info->mount),
      "mountpoint", "s", or_empty(info->mountpoint),
      "fs-type", "s", or_empty(info->fs_type),
      "total-bytes", "t", (uint64_t)info->total_bytes,
      "free-bytes", "t", (uint64_t)info->free_bytes,
      "message", "s", or_empty(info->message),
      "size-bytes", "t", (uint64_t)info->size_bytes);
}

/* --- Attach and Detach: answered when done ----------------------------- */

/* An Attach or Detach waiting for the manager (the guest, QEMU, a server
 * that may be slow to answer). It holds the application like a VM
 * operation does, so that the shell does not quit with the caller still
 * waiting. */
/* The caller may be gone, or the bus with it at shutdown. */
static void check_reply(TandemDbusPending *pending, int r) {
  if (r < 0)
    g_debug("No reply to %s: %s", sd_bus_message_get_member(pending->call),
            g_strerror(-r));
}

static void reply_error(TandemDbusPending *pending, const GError *error) {
  check_reply(pending, sd_bus_reply_method_errorf(
                           pending->call, storage_error_name_for(error), "%s",
                           error->message));
}

static void attach_done(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(TandemDbusPending) pending = data;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemDiskInfo) info = tandem_disk_manager_attach_finish(
      TANDEM_DISK_MANAGER(source), result, &error);
  int r;

  if (!info) {
    reply_error(pending, error);
    return;
  }
  r = sd_bus_message_new_method_return(pending->call, &reply);
  if (r >= 0)
    r = append_disk(reply, info);
  if (r >= 0)
    r = sd_bus_send(NULL, reply, NULL);
  check_reply(pending, r);
}

/* Attach and AttachMirrored (@mirror "" for Attach). */
static int attach(TandemDbusService *self, sd_bus_message *call,
                  const char *name, const char *uri, const char *mirror,
                  const char *bus_name, const char *disk, int read_only,
                  sd_bus_error *ret_error) {
  g_autoptr(TandemStorageUri) parsed = NULL;
  g_autoptr(TandemStorageUri) parsed_mirror = NULL;
  g_autoptr(GError) error = NULL;
  TandemDiskBus bus = TANDEM_DISK_BUS_NVME;
  TandemVm *vm;
  int r;

  vm = tandem_dbus_service_lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;
  /* The address's mistakes in the parser's words: it says what form was
   * expected. */
  parsed = tandem_storage_uri_parse(uri, &error);
  if (parsed && *mirror)
    parsed_mirror = tandem_storage_uri_parse(mirror, &error);
  if (!parsed || (*mirror && !parsed_mirror))
    return set_bus_error(ret_error, error);
  if (*bus_name && !tandem_disk_bus_from_string(bus_name, &bus)) {
    g_autofree char *shown = g_strescape(bus_name, NULL);
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_INVALID,
        /* TRANSLATORS: %s is what was given as a bus; keep “nvme” and
         * “virtio” as they are. */
        _("“%s” is not a bus a disk can be attached on: use “nvme” or "
          "“virtio”."),
        shown);
  }
  r = *disk ? check_name(disk, ret_error) : 0;
  if (r >= 0)
    r = check_running(vm, ret_error);
  if (r < 0)
    return r;

  tandem_disk_manager_attach_async(self->disks, name, uri,
                                   *mirror ? mirror : NULL, bus,
                                   *disk ? disk : NULL, read_only,
                                   self->cancellable, attach_done,
                                   tandem_dbus_pending_new(call, self->app));
  return 1; /* answered later, by attach_done() */
}

static int storage_attach(sd_bus_message *call, void *userdata,
                          sd_bus_error *ret_error) {
  const char *name, *uri, *bus_name, *disk;
  int read_only;
  int r = sd_bus_message_read(call, "ssssb", &name, &uri, &bus_name, &disk,
                              &read_only);
  if (r < 0)
    return r;
  return attach(userdata, call, name, uri, "", bus_name, disk, read_only,
                ret_error);
}

static int storage_attach_mirrored(sd_bus_message *call, void *userdata,
                                   sd_bus_error *ret_error) {
  const char *name, *uri, *mirror, *bus_name, *disk;
  int read_only;
  int r = sd_bus_message_read(call, "sssssb", &name, &uri, &mirror, &bus_name,
                              &disk, &read_only);
  if (r < 0)
    return r;
  if (!*mirror)
    return sd_bus_error_setf(ret_error, TANDEM_DBUS_ERROR_INVALID,
                             _("A mirrored disk needs the address of its "
                               "second export."));
  return attach(userdata, call, name, uri, mirror, bus_name, disk, read_only,
                ret_error);
}

static void detach_done(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(TandemDbusPending) pending = data;
  g_autoptr(GError) error = NULL;

  if (!tandem_disk_manager_detach_finish(TANDEM_DISK_MANAGER(source), result,
                                         &error)) {
    reply_error(pending, error);
    return;
  }
  check_reply(pending, sd_bus_reply_method_return(pending->call, ""));
}

static int storage_detach(sd_bus_message *call, void *userdata,
                          sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  const char *name, *disk;
  int force;
  int r;

  r = sd_bus_message_read(call, "ssb", &name, &disk, &force);
  if (r < 0)
    return r;
  if (!tandem_dbus_service_lookup_vm(self, name, ret_error))
    return -ENOENT;
  r = check_name(disk, ret_error);
  if (r >= 0)
    r = check_attached(self, name, disk, ret_error);
  if (r < 0)
    return r;

  /* Whatever the VM's state: the manager knows what is left to undo. */
  tandem_disk_manager_detach_async(self->disks, name, disk, force,
                                   self->cancellable, detach_done,
                                   tandem_dbus_pending_new(call, self->app));
  return 1; /* answered later, by detach_done() */
}

/* --- List -------------------------------------------------------------- */

static int storage_list(sd_bus_message *call, void *userdata,
                        sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  const char *name;
  int r;

  r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  if (!tandem_dbus_service_lookup_vm(self, name, ret_error))
    return -ENOENT;
  list = tandem_disk_manager_list(self->disks, name, &error);
  if (!list)
    return set_bus_error(ret_error, error);
  return tandem_dbus_reply_array(call, "a{sv}", list,
                                 append_disk);
}

static const sd_bus_vtable storage_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("Attach",
                            SD_BUS_ARGS("s", vm, "s", uri, "s", bus, "s",
                                        name, "b", read_only),
                            SD_BUS_RESULT("a{sv}", disk), storage_attach,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("AttachMirrored",
                            SD_BUS_ARGS("s", vm, "s", uri, "s", mirror, "s",
                                        bus, "s", name, "b", read_only),
                            SD_BUS_RESULT("a{sv}", disk),
                            storage_attach_mirrored,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Detach",
                            SD_BUS_ARGS("s", vm, "s", name, "b", force),
                            SD_BUS_NO_RESULT, storage_detach,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_ARGS("s", vm),
                            SD_BUS_RESULT("aa{sv}", disks), storage_list,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("Changed", SD_BUS_ARGS("s", vm), 0),
    SD_BUS_VTABLE_END,
};

/* --- The manager's signal, passed on ----------------------------------- */

/* Nothing is sent once the bus is closed. */
static void on_changed(TandemDiskManager *disks, const char *vm,
                       TandemDbusService *self) {
  int r;

  if (!self->bus || !self->storage_slot)
    return;
  r = sd_bus_emit_signal(self->bus, TANDEM_DBUS_PATH,
                         TANDEM_DBUS_STORAGE_INTERFACE, "Changed", "s",
                         or_empty(vm));
  if (r < 0)
    g_debug("Changed not sent: %s", g_strerror(-r));
}

int tandem_dbus_service_export_storage(TandemDbusService *self) {
  int r = sd_bus_add_object_vtable(self->bus, &self->storage_slot,
                                   TANDEM_DBUS_PATH,
                                   TANDEM_DBUS_STORAGE_INTERFACE,
                                   storage_vtable, self);
  if (r < 0)
    return r;
  g_signal_connect(self->disks, "changed", G_CALLBACK(on_changed), self);
  return r;
}
