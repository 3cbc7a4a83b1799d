/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tandem.Tandem1.Snapshots: a VM's snapshots, from the service's
 * TandemSnapshotManager: Create and Restore (answered when they are done,
 * which under TCG can take minutes), List and Delete, and the manager's
 * progress and changes passed on as the interface's signals. Part of
 * TandemDbusService (tandem-dbus-private.h).
 *
 * The usual mistakes (an unknown VM or snapshot, an id or name that breaks
 * the rules, a VM that is not running or is busy) are caught here before
 * the manager sees them, so that they are explained in the user's
 * language; what the manager itself reports is passed on as it comes. */
#include "config.h"

#include "tandem-dbus-private.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>

#include "tandem-bus-source.h"
#include "tandem-i18n.h"
#include "tandem-snapshot-manager.h"

/* --- Checks ------------------------------------------------------------ */

static int set_bus_error(sd_bus_error *ret_error, const GError *error) {
  return sd_bus_error_set(ret_error, tandem_dbus_error_name_for(error),
                          error->message);
}

/* An id is a file name part; anything else (a path, a typo) is explained
 * without echoing control characters back to a terminal. */
static int check_id(const char *vm, const char *id,
                    sd_bus_error *ret_error) {
  g_autofree char *shown = NULL;

  if (tandem_snapshot_id_is_valid(id))
    return 0;
  shown = g_strescape(id, NULL);
  return sd_bus_error_setf(
      ret_error, TANDEM_DBUS_ERROR_INVALID,
      /* TRANSLATORS: the first %s is what was given as a snapshot's id,
       * the second a VM's name; keep the command as it is. */
      _("“%s” is not a snapshot id: ids are made of letters, digits, - "
        "and _, like “20261203-054512”. “tandemctl snapshot list %s” "
        "shows them."),
      shown, vm);
}

/* Whether @vm has the snapshot @id (a valid id); NotFound says what to do
 * if not. */
static int check_listed(TandemDbusService *self, const char *vm,
                        const char *id, sd_bus_error *ret_error) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list =
      tandem_snapshot_manager_list(self->snapshots, vm, &error);

  if (!list)
    return set_bus_error(ret_error, error);
  for (guint i = 0; i < list->len; i++) {
    const TandemSnapshotInfo *info = g_ptr_array_index(list, i);
    if (g_str_equal(info->id, id))
      return 0;
  }
  return sd_bus_error_setf(
      ret_error, TANDEM_DBUS_ERROR_NOT_FOUND,
      /* TRANSLATORS: a VM's name, a snapshot's id, the VM's name again;
       * keep the command as it is. */
      _("“%s” has no snapshot “%s”. “tandemctl snapshot list %s” shows "
        "the ones it has."),
      vm, id, vm);
}

/* One snapshot operation at a time per VM (the manager's rule). */
static int check_no_snapshot_busy(TandemDbusService *self, const char *vm,
                                  sd_bus_error *ret_error) {
  if (!tandem_snapshot_manager_is_busy(self->snapshots, vm))
    return 0;
  return sd_bus_error_setf(
      ret_error, TANDEM_DBUS_ERROR_BUSY,
      /* TRANSLATORS: %s is a VM's name. */
      _("A snapshot of “%s” is being taken or restored: wait until it is "
        "done, then try again."),
      vm);
}

/* Taking or restoring a snapshot of a VM between two states would race
 * its start or stop (a restore stops and starts it itself). */
static int check_vm_settled(TandemVm *vm, sd_bus_error *ret_error) {
  TandemVmState state = tandem_vm_get_state(vm);

  if (state != TANDEM_VM_STARTING && state != TANDEM_VM_STOPPING)
    return 0;
  return sd_bus_error_setf(
      ret_error, TANDEM_DBUS_ERROR_BUSY,
      /* TRANSLATORS: %s is a VM's name. */
      _("“%s” is starting or shutting down: wait until it is done, then "
        "try again."),
      tandem_vm_get_name(vm));
}

/* --- Create and Restore: answered when done ---------------------------- */

/* A Create or Restore waiting for the manager: seconds to minutes. It
 * holds the application like a VM operation does, so that the shell does
 * not quit with the caller still waiting. */
static void reply_error(TandemDbusPending *pending, const GError *error) {
  int r = sd_bus_reply_method_errorf(pending->call,
                                     tandem_dbus_error_name_for(error), "%s",
                                     error->message);
  /* The caller may be gone, or the bus with it at shutdown. */
  if (r < 0)
    g_debug("No reply to %s: %s", sd_bus_message_get_member(pending->call),
            g_strerror(-r));
}

/* Create's and Suspend's answer: the new snapshot's id, or the error. */
static void reply_id(TandemDbusPending *pending, const TandemSnapshotInfo *info,
                     const GError *error) {
  int r;

  if (!info) {
    reply_error(pending, error);
    return;
  }
  r = sd_bus_reply_method_return(pending->call, "s", info->id);
  if (r < 0)
    g_debug("No reply to %s: %s", sd_bus_message_get_member(pending->call),
            g_strerror(-r));
}

static void create_done(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(TandemDbusPending) pending = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotInfo) info = tandem_snapshot_manager_create_finish(
      TANDEM_SNAPSHOT_MANAGER(source), result, &error);
  reply_id(pending, info, error);
}

static int snapshots_create(sd_bus_message *call, void *userdata,
                            sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  const char *name, *label;
  TandemVmState state;
  TandemVm *vm;
  int r;

  r = sd_bus_message_read(call, "ss", &name, &label);
  if (r < 0)
    return r;
  vm = tandem_dbus_service_lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;
  if (!tandem_snapshot_name_is_valid(label))
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_INVALID,
        /* TRANSLATORS: %d is the most characters a name may have. */
        _("A snapshot's name must be a single line of at most %d "
          "characters."),
        TANDEM_SNAPSHOT_MAX_NAME);
  r = check_no_snapshot_busy(self, name, ret_error);
  if (r >= 0)
    r = check_vm_settled(vm, ret_error);
  if (r < 0)
    return r;
  state = tandem_vm_get_state(vm);
  if (state != TANDEM_VM_RUNNING && state != TANDEM_VM_PAUSED)
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_NOT_RUNNING,
        /* TRANSLATORS: both %s are a VM's name; keep the command as it
         * is. */
        _("“%s” is not running: a snapshot is taken of a running VM. "
          "Start it with “tandemctl vm start %s”."),
        name, name);

  tandem_snapshot_manager_create_async(
      self->snapshots, name, label, self->cancellable, create_done,
      tandem_dbus_pending_new(call, self->app));
  return 1; /* answered later, by create_done() */
}

static void suspend_done(GObject *source, GAsyncResult *result,
                         gpointer data) {
  g_autoptr(TandemDbusPending) pending = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotInfo) info = tandem_snapshot_manager_suspend_finish(
      TANDEM_SNAPSHOT_MANAGER(source), result, &error);
  reply_id(pending, info, error);
}

/* Suspend(s vm) -> (s id): saves the session and stops the VM; its next
 * start (Manager.Start, a launch, the window) resumes it. */
static int snapshots_suspend(sd_bus_message *call, void *userdata,
                             sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  const char *name;
  TandemVmState state;
  TandemVm *vm;
  int r;

  r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  vm = tandem_dbus_service_lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;
  r = check_no_snapshot_busy(self, name, ret_error);
  if (r >= 0)
    r = check_vm_settled(vm, ret_error);
  if (r < 0)
    return r;
  state = tandem_vm_get_state(vm);
  if (state != TANDEM_VM_RUNNING && state != TANDEM_VM_PAUSED)
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_NOT_RUNNING,
        /* TRANSLATORS: %s is a VM's name. */
        _("“%s” is not running: there is no session to save."), name);
  tandem_snapshot_manager_suspend_async(self->snapshots, name,
                                        self->cancellable, suspend_done,
                                        tandem_dbus_pending_new(call, self->app));
  return 1; /* answered later, by suspend_done() */
}

static void restore_done(GObject *source, GAsyncResult *result,
                         gpointer data) {
  g_autoptr(TandemDbusPending) pending = data;
  g_autoptr(GError) error = NULL;
  int r;

  if (!tandem_snapshot_manager_restore_finish(
          TANDEM_SNAPSHOT_MANAGER(source), result, &error)) {
    reply_error(pending, error);
    return;
  }
  r = sd_bus_reply_method_return(pending->call, "");
  if (r < 0)
    g_debug("No reply to Restore: %s", g_strerror(-r));
}

static int snapshots_restore(sd_bus_message *call, void *userdata,
                             sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  const char *name, *id;
  TandemVm *vm;
  int r;

  r = sd_bus_message_read(call, "ss", &name, &id);
  if (r < 0)
    return r;
  vm = tandem_dbus_service_lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;
  r = check_id(name, id, ret_error);
  if (r >= 0)
    r = check_listed(self, name, id, ret_error);
  if (r >= 0)
    r = check_no_snapshot_busy(self, name, ret_error);
  if (r >= 0)
    r = check_vm_settled(vm, ret_error);
  if (r < 0)
    return r;

  /* A running, paused or stopped VM is restored (a stopped one starts). */
  tandem_snapshot_manager_restore_async(
      self->snapshots, name, id, self->cancellable, restore_done,
      tandem_dbus_pending_new(call, self->app));
  return 1; /* answered later, by restore_done() */
}

/* --- List and Delete --------------------------------------------------- */

static int append_snapshot(sd_bus_message *reply, gconstpointer item) {
  const TandemSnapshotInfo *info = item;
  return sd_bus_message_append(
      reply, "(ssxsstttt)", info->id, or_empty(info->name),
      (int64_t)info->created, tandem_snapshot_method_to_string(info->method),
      or_empty(info->method_reason), (uint64_t)info->file_bytes,
      (uint64_t)info->raw_bytes, (uint64_t)info->memory,
      (uint64_t)MAX(info->duration_ms, 0));
}

static int snapshots_list(sd_bus_message *call, void *userdata,
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
  list = tandem_snapshot_manager_list(self->snapshots, name, &error);
  if (!list)
    return set_bus_error(ret_error, error);
  return tandem_dbus_reply_array(call, "(ssxsstttt)", list,
                                 append_snapshot);
}

static int snapshots_delete(sd_bus_message *call, void *userdata,
                            sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  g_autoptr(GError) error = NULL;
  const char *name, *id;
  int r;

  r = sd_bus_message_read(call, "ss", &name, &id);
  if (r < 0)
    return r;
  if (!tandem_dbus_service_lookup_vm(self, name, ret_error))
    return -ENOENT;
  r = check_id(name, id, ret_error);
  if (r >= 0)
    r = check_listed(self, name, id, ret_error);
  /* The VM itself is not touched: whatever it does, it may go on. */
  if (r >= 0)
    r = check_no_snapshot_busy(self, name, ret_error);
  if (r < 0)
    return r;
  if (!tandem_snapshot_manager_delete(self->snapshots, name, id, &error))
    return set_bus_error(ret_error, error);
  return sd_bus_reply_method_return(call, "");
}

/* --- The schedule ------------------------------------------------------ */

static int snapshots_get_schedule(sd_bus_message *call, void *userdata,
                                  sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  const TandemVmConfig *config;
  const char *name;
  TandemVm *vm;
  int r;

  r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  vm = tandem_dbus_service_lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;
  config = tandem_vm_get_config(vm);
  return sd_bus_reply_method_return(call, "tut",
                                    (uint64_t)config->snapshot_every,
                                    (uint32_t)config->snapshot_keep,
                                    (uint64_t)config->snapshot_max_age);
}

static int snapshots_set_schedule(sd_bus_message *call, void *userdata,
                                  sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  g_autoptr(GError) error = NULL;
  uint64_t every, max_age;
  uint32_t keep;
  const char *name;
  int r;

  r = sd_bus_message_read(call, "stut", &name, &every, &keep, &max_age);
  if (r < 0)
    return r;
  if (!tandem_dbus_service_lookup_vm(self, name, ret_error))
    return -ENOENT;
  if (every && (every < TANDEM_VM_MIN_SNAPSHOT_EVERY ||
                every > TANDEM_MAX_DURATION))
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_INVALID,
        /* TRANSLATORS: %d is a number of seconds. */
        _("Snapshots are taken every %d seconds at the most often and "
          "every ten years at the least; 0 turns the schedule off."),
        TANDEM_VM_MIN_SNAPSHOT_EVERY);
  if (keep < 1 || keep > TANDEM_VM_MAX_SNAPSHOT_KEEP)
    return sd_bus_error_setf(
        ret_error, TANDEM_DBUS_ERROR_INVALID,
        /* TRANSLATORS: %d is the largest number of snapshots kept. */
        _("A schedule keeps from 1 to %d of its snapshots."),
        TANDEM_VM_MAX_SNAPSHOT_KEEP);
  if (max_age > TANDEM_MAX_DURATION)
    return sd_bus_error_set(
        ret_error, TANDEM_DBUS_ERROR_INVALID,
        _("Scheduled snapshots are kept ten years at the most; 0 keeps "
          "them however old they are."));
  if (!tandem_snapshot_manager_set_schedule(self->snapshots, name, every,
                                            keep, max_age, &error))
    return set_bus_error(ret_error, error);
  return sd_bus_reply_method_return(call, "");
}

static const sd_bus_vtable snapshots_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("Create", SD_BUS_ARGS("s", vm, "s", name),
                            SD_BUS_RESULT("s", id), snapshots_create,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_ARGS("s", vm),
                            SD_BUS_RESULT("a(ssxsstttt)", snapshots),
                            snapshots_list, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Restore", SD_BUS_ARGS("s", vm, "s", id),
                            SD_BUS_NO_RESULT, snapshots_restore,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Suspend", SD_BUS_ARGS("s", vm),
                            SD_BUS_RESULT("s", id), snapshots_suspend,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_ARGS("s", vm, "s", id),
                            SD_BUS_NO_RESULT, snapshots_delete,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetSchedule", SD_BUS_ARGS("s", vm),
                            SD_BUS_RESULT("t", every, "u", keep, "t",
                                          max_age),
                            snapshots_get_schedule,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("SetSchedule",
                            SD_BUS_ARGS("s", vm, "t", every, "u", keep, "t",
                                        max_age),
                            SD_BUS_NO_RESULT, snapshots_set_schedule,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("Progress",
                            SD_BUS_ARGS("s", vm, "s", id, "s", phase, "s",
                                        method, "t", done, "t", total, "t",
                                        file_bytes, "d", rate),
                            0),
    SD_BUS_SIGNAL_WITH_ARGS("Changed", SD_BUS_ARGS("s", vm), 0),
    SD_BUS_VTABLE_END,
};

/* --- The manager's signals, passed on ---------------------------------- */

/* Nothing is sent once the bus is closed. */
static void emit_snapshots_signal(TandemDbusService *self, const char *member,
                                  const char *types, ...) {
  va_list args;
  int r;

  if (!self->bus || !self->snapshots_slot)
    return;
  va_start(args, types);
  r = sd_bus_emit_signalv(self->bus, TANDEM_DBUS_PATH,
                          TANDEM_DBUS_SNAPSHOTS_INTERFACE, member, types,
                          args);
  va_end(args);
  if (r < 0)
    g_debug("%s not sent: %s", member, g_strerror(-r));
}

/* The manager reports every 250 ms while memory moves and at each change
 * of phase: few enough to pass on as they come. */
static void on_progress(TandemSnapshotManager *snapshots,
                        const TandemSnapshotProgress *progress,
                        TandemDbusService *self) {
  double rate = isfinite(progress->rate) && progress->rate > 0
                    ? progress->rate
                    : 0;

  /* A take that failed before it had an id reports none. */
  emit_snapshots_signal(
      self, "Progress", "sssstttd", or_empty(progress->vm),
      or_empty(progress->id), tandem_snapshot_phase_to_string(progress->phase),
      tandem_snapshot_method_to_string(progress->method),
      (uint64_t)progress->done_bytes, (uint64_t)progress->total_bytes,
      (uint64_t)progress->file_bytes, rate);
}

static void on_changed(TandemSnapshotManager *snapshots, const char *vm,
                       TandemDbusService *self) {
  emit_snapshots_signal(self, "Changed", "s", vm);
}

int tandem_dbus_service_export_snapshots(TandemDbusService *self) {
  int r = sd_bus_add_object_vtable(self->bus, &self->snapshots_slot,
                                   TANDEM_DBUS_PATH,
                                   TANDEM_DBUS_SNAPSHOTS_INTERFACE,
                                   snapshots_vtable, self);
  if (r < 0)
    return r;
  g_signal_connect(self->snapshots, "progress", G_CALLBACK(on_progress),
                   self);
  g_signal_connect(self->snapshots, "changed", G_CALLBACK(on_changed), self);
  return r;
}
