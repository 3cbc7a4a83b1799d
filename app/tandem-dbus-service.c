/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-dbus-private.h"

#include <errno.h>

#include "tandem-bus-source.h"
#include "tandem-disk-manager.h"
#include "tandem-guest-hub.h"
#include "tandem-i18n.h"
#include "tandem-snapshot-manager.h"

/* How long a second instance waits for the first to answer Activate. */
#define ACTIVATE_OWNER_TIMEOUT_USEC (10 * G_USEC_PER_SEC)

G_DEFINE_TYPE(TandemDbusService, tandem_dbus_service, G_TYPE_OBJECT)

enum { SIGNAL_CONNECTION_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

/* --- Errors ------------------------------------------------------------ */

/* The hub's and the agent link's errors (launching) are GIO's. */
static const char *dbus_error_name_for_io(const GError *error) {
  switch ((GIOErrorEnum)error->code) {
  case G_IO_ERROR_NOT_FOUND:
    return TANDEM_DBUS_ERROR_NOT_FOUND;
  case G_IO_ERROR_NOT_CONNECTED:
  case G_IO_ERROR_CLOSED:
    return TANDEM_DBUS_ERROR_NOT_RUNNING; /* the agent went away */
  case G_IO_ERROR_INVALID_ARGUMENT:
    return SD_BUS_ERROR_INVALID_ARGS;
  case G_IO_ERROR_NO_SPACE:
    return TANDEM_DBUS_ERROR_NO_SPACE; /* a snapshot's file or overlay */
  default:
    return TANDEM_DBUS_ERROR_FAILED;
  }
}

static const char *dbus_error_name_for_snapshot(const GError *error) {
  switch ((TandemSnapshotError)error->code) {
  case TANDEM_SNAPSHOT_ERROR_NOT_FOUND:
    return TANDEM_DBUS_ERROR_NOT_FOUND;
  case TANDEM_SNAPSHOT_ERROR_BUSY:
    return TANDEM_DBUS_ERROR_BUSY;
  case TANDEM_SNAPSHOT_ERROR_INVALID:
    return TANDEM_DBUS_ERROR_INVALID;
  case TANDEM_SNAPSHOT_ERROR_CORRUPT:
  case TANDEM_SNAPSHOT_ERROR_TRUNCATED:
  case TANDEM_SNAPSHOT_ERROR_WRONG_VM:
    return TANDEM_DBUS_ERROR_CORRUPT;
  case TANDEM_SNAPSHOT_ERROR_NO_SPACE:
    return TANDEM_DBUS_ERROR_NO_SPACE;
  default:
    return TANDEM_DBUS_ERROR_FAILED;
  }
}

const char *tandem_dbus_error_name_for(const GError *error) {
  if (error->domain == G_IO_ERROR)
    return dbus_error_name_for_io(error);
  if (error->domain == TANDEM_SNAPSHOT_ERROR)
    return dbus_error_name_for_snapshot(error);
  if (error->domain != TANDEM_VMM_ERROR)
    return TANDEM_DBUS_ERROR_FAILED;
  switch ((TandemVmmError)error->code) {
  case TANDEM_VMM_ERROR_NOT_FOUND:
    return TANDEM_DBUS_ERROR_NOT_FOUND;
  case TANDEM_VMM_ERROR_EXISTS:
    return TANDEM_DBUS_ERROR_EXISTS;
  case TANDEM_VMM_ERROR_ALREADY_RUNNING:
    return TANDEM_DBUS_ERROR_ALREADY_RUNNING;
  case TANDEM_VMM_ERROR_NOT_RUNNING:
    return TANDEM_DBUS_ERROR_NOT_RUNNING;
  case TANDEM_VMM_ERROR_BUSY:
    return TANDEM_DBUS_ERROR_BUSY;
  case TANDEM_VMM_ERROR_CONFIG:
    return TANDEM_DBUS_ERROR_CONFIG;
  default:
    return TANDEM_DBUS_ERROR_FAILED;
  }
}

/* For a handler's return: sd-bus sends @ret_error as the reply. */
static int set_bus_error(sd_bus_error *ret_error, const GError *error) {
  return sd_bus_error_set(ret_error, tandem_dbus_error_name_for(error),
                          error->message);
}

static gboolean set_errno_error(GError **error, int negative_errno,
                                const char *what) {
  g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-negative_errno),
              "%s: %s", what, g_strerror(-negative_errno));
  return FALSE;
}

/* --- org.freedesktop.Application ---------------------------------------- */

/* Open and ActivateAction come here too: the shell opens no files and its
 * window is where every action starts from. Platform data (startup ids)
 * is ignored. */
static int application_activate(sd_bus_message *call, void *userdata,
                                sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;

  g_application_activate(self->app);
  return sd_bus_reply_method_return(call, "");
}

static const sd_bus_vtable application_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("Activate",
                            SD_BUS_ARGS("a{sv}", platform_data),
                            SD_BUS_NO_RESULT, application_activate,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Open",
                            SD_BUS_ARGS("as", uris, "s", hint, "a{sv}",
                                        platform_data),
                            SD_BUS_NO_RESULT, application_activate,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ActivateAction",
                            SD_BUS_ARGS("s", action_name, "av", parameter,
                                        "a{sv}", platform_data),
                            SD_BUS_NO_RESULT, application_activate,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

/* --- org.tandem.Tandem1.Manager: reading ------------------------------- */

/* The accelerator QEMU runs (or last ran) with; before the first start,
 * the configured one, so "tcg" shows as such from the beginning. */
static const char *vm_accelerator(TandemVm *vm) {
  TandemAccel accel = tandem_vm_get_accel(vm);

  if (accel == TANDEM_ACCEL_AUTO)
    accel = tandem_vm_get_config(vm)->accel;
  return tandem_accel_to_string(accel);
}

/* The manager is re-read before every look-up so that files written by
 * hand (or deleted) count at once; the directory holds a few small files. */
TandemVm *tandem_dbus_service_lookup_vm(TandemDbusService *self,
                                        const char *name,
                                        sd_bus_error *ret_error) {
  TandemVm *vm;

  tandem_vm_manager_reload(self->manager);
  vm = tandem_vm_manager_lookup(self->manager, name);
  if (!vm)
    /* TRANSLATORS: a D-Bus error shown by tandemctl; %s is a VM name. */
    sd_bus_error_setf(ret_error, TANDEM_DBUS_ERROR_NOT_FOUND,
                      _("There is no VM called “%s”."), name);
  return vm;
}

static int manager_list_vms(sd_bus_message *call, void *userdata,
                            sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  g_autoptr(sd_bus_message) reply = NULL;
  GPtrArray *vms;
  int r;

  tandem_vm_manager_reload(self->manager);
  vms = tandem_vm_manager_get_vms(self->manager);
  r = sd_bus_message_new_method_return(call, &reply);
  if (r < 0)
    return r;
  r = sd_bus_message_open_container(reply, 'a', "(sss)");
  if (r < 0)
    return r;
  for (guint i = 0; i < vms->len; i++) {
    TandemVm *vm = g_ptr_array_index(vms, i);
    r = sd_bus_message_append(
        reply, "(sss)", tandem_vm_get_name(vm),
        tandem_vm_state_to_string(tandem_vm_get_state(vm)),
        vm_accelerator(vm));
    if (r < 0)
      return r;
  }
  r = sd_bus_message_close_container(reply);
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}

/* How the guest's windows reach the host: "shared-memory", "channel", or
 * "" while no agent is connected. */
static const char *pixel_path(TandemDbusService *self, TandemVm *vm) {
  TandemGuestLink *link =
      self->hub ? tandem_guest_hub_get_link(self->hub, tandem_vm_get_name(vm))
                : NULL;
  if (!link || tandem_guest_link_get_state(link) != TANDEM_GUEST_LINK_READY)
    return "";
  return tandem_guest_link_get_pixel_region(link) ? "shared-memory"
                                                  : "channel";
}

static int manager_get_vm(sd_bus_message *call, void *userdata,
                          sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  const char *name;
  TandemVm *vm;
  const TandemVmConfig *config;
  int r;

  r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  vm = tandem_dbus_service_lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;
  config = tandem_vm_get_config(vm);
  /* The agent, while it is connected. */
  TandemGuestLink *link =
      self->hub ? tandem_guest_hub_get_link(self->hub, tandem_vm_get_name(vm))
                : NULL;
  if (link && tandem_guest_link_get_state(link) != TANDEM_GUEST_LINK_READY)
    link = NULL;
  return sd_bus_reply_method_return(
      call, "a{sv}", 14,
      "name", "s", tandem_vm_get_name(vm),
      "state", "s", tandem_vm_state_to_string(tandem_vm_get_state(vm)),
      "accelerator", "s", vm_accelerator(vm),
      "accelerator-reason", "s", or_empty(tandem_vm_get_accel_reason(vm)),
      "memory", "t", (uint64_t)config->memory,
      "cpus", "u", (uint32_t)config->cpus,
      "pid", "u", (uint32_t)MAX(tandem_vm_get_pid(vm), 0),
      "runtime-dir", "s", or_empty(tandem_vm_get_runtime_dir(vm)),
      "crash-report", "s", or_empty(tandem_vm_get_crash_report(vm)),
      "pixels", "s", pixel_path(self, vm),
      "agent", "s", or_empty(link ? tandem_guest_link_get_agent_software(link)
                                  : NULL),
      "agent-os", "s", or_empty(link ? tandem_guest_link_get_agent_os(link)
                                     : NULL),
      "agent-protocol", "u",
      (uint32_t)(link ? tandem_guest_link_get_agent_protocol(link) : 0),
      "sandbox", "s",
      tandem_vm_get_pid(vm) > 0
          ? (tandem_vm_is_sandboxed(vm) ? "seccomp" : "none")
          : "");
}

/* --- org.tandem.Tandem1.Manager: CreateVM ------------------------------ */

/* CreateVM's options become the keys of a configuration file, so that a VM
 * made over D-Bus is checked, and explained, exactly like one written by
 * hand. */
typedef struct {
  const char *option;
  const char *type; /* "s" or "u" */
  const char *group;
  const char *key;
} CreateOption;

static const CreateOption create_options[] = {
    {"memory", "s", "VM", "Memory"},
    {"cpus", "u", "VM", "CPUs"},
    {"accelerator", "s", "VM", "Accelerator"},
    {"display", "s", "VM", "Display"},
    {"kernel", "s", "Boot", "Kernel"},
    {"initrd", "s", "Boot", "Initrd"},
    {"cmdline", "s", "Boot", "CommandLine"},
    {"image", "s", "Boot", "Image"},
    {"image-format", "s", "Boot", "ImageFormat"},
};

static const CreateOption *find_create_option(const char *option) {
  for (gsize i = 0; i < G_N_ELEMENTS(create_options); i++)
    if (g_str_equal(create_options[i].option, option))
      return &create_options[i];
  return NULL;
}

static int unknown_create_option(sd_bus_error *ret_error,
                                 const char *option) {
  g_autoptr(GString) known = g_string_new(NULL);

  for (gsize i = 0; i < G_N_ELEMENTS(create_options); i++)
    g_string_append_printf(known, "%s%s", i ? ", " : "",
                           create_options[i].option);
  /* TRANSLATORS: a D-Bus error; the second %s lists the option names. */
  return sd_bus_error_setf(ret_error, SD_BUS_ERROR_INVALID_ARGS,
                           _("Unknown option “%s”; the options are %s."),
                           option, known->str);
}

/* Reads one {sv} entry (already entered) into @keys. */
static int read_create_option(sd_bus_message *call, GKeyFile *keys,
                              sd_bus_error *ret_error) {
  const char *option, *contents = NULL;
  const CreateOption *known;
  int r;

  r = sd_bus_message_read(call, "s", &option);
  if (r < 0)
    return r;
  known = find_create_option(option);
  if (!known)
    return unknown_create_option(ret_error, option);
  r = sd_bus_message_peek_type(call, NULL, &contents);
  if (r < 0)
    return r;
  if (g_strcmp0(contents, known->type) != 0)
    /* TRANSLATORS: a D-Bus error: option name, wanted and given type. */
    return sd_bus_error_setf(ret_error, SD_BUS_ERROR_INVALID_ARGS,
                             _("Option “%s” must be of type “%s”, not “%s”."),
                             option, known->type, or_empty(contents));
  if (known->type[0] == 'u') {
    uint32_t number;
    r = sd_bus_message_read(call, "v", "u", &number);
    if (r >= 0)
      g_key_file_set_uint64(keys, known->group, known->key, number);
  } else {
    const char *text;
    r = sd_bus_message_read(call, "v", "s", &text);
    if (r >= 0)
      g_key_file_set_string(keys, known->group, known->key, text);
  }
  return r;
}

static int read_create_options(sd_bus_message *call, GKeyFile *keys,
                               sd_bus_error *ret_error) {
  int r = sd_bus_message_enter_container(call, 'a', "{sv}");

  if (r < 0)
    return r;
  while ((r = sd_bus_message_enter_container(call, 'e', "sv")) > 0) {
    r = read_create_option(call, keys, ret_error);
    if (r < 0)
      return r;
    r = sd_bus_message_exit_container(call);
    if (r < 0)
      return r;
  }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container(call);
}

static int manager_create_vm(sd_bus_message *call, void *userdata,
                             sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  g_autoptr(GKeyFile) keys = g_key_file_new();
  g_autoptr(TandemVmConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  g_autofree char *base_dir = NULL;
  const char *name;
  int r;

  r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  r = read_create_options(call, keys, ret_error);
  if (r < 0)
    return r;

  data = g_key_file_to_data(keys, NULL, NULL);
  base_dir = tandem_vm_data_dir(name);
  config = tandem_vm_config_parse(name, data, base_dir, &error);
  if (!config || !tandem_vm_config_check_files(config, &error))
    return set_bus_error(ret_error, error);
  /* A file written by hand since the last look counts as existing. */
  tandem_vm_manager_reload(self->manager);
  if (!tandem_vm_manager_create(self->manager, g_steal_pointer(&config),
                                &error))
    return set_bus_error(ret_error, error);
  return sd_bus_reply_method_return(call, "");
}

/* --- org.tandem.Tandem1.Manager: operations ---------------------------- */

typedef enum {
  VM_OPERATION_START,
  VM_OPERATION_STOP,
  VM_OPERATION_PAUSE,
  VM_OPERATION_RESUME,
  VM_OPERATION_RESET,
} VmOperation;

/* A method call waiting for its VM operation: the reply goes out when the
 * operation completes, which for a start under TCG can be minutes. It
 * holds the application meanwhile, so that the shell does not quit (the
 * last window closed, the last VM stopped) with the caller still waiting. */
typedef struct {
  VmOperation operation;
  sd_bus_message *call; /* a reference */
  TandemVm *vm;         /* a reference */
  GApplication *app;    /* a reference and a hold */
} PendingCall;

static PendingCall *pending_call_new(VmOperation operation,
                                     sd_bus_message *call, TandemVm *vm,
                                     GApplication *app) {
  PendingCall *pending = g_new0(PendingCall, 1);

  pending->operation = operation;
  pending->call = sd_bus_message_ref(call);
  pending->vm = g_object_ref(vm);
  pending->app = g_object_ref(app);
  g_application_hold(app);
  return pending;
}

static void pending_call_free(PendingCall *pending) {
  sd_bus_message_unref(pending->call);
  g_object_unref(pending->vm);
  g_application_release(pending->app);
  g_object_unref(pending->app);
  g_free(pending);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PendingCall, pending_call_free)

static void vm_operation_done(GObject *source, GAsyncResult *result,
                              gpointer data) {
  g_autoptr(PendingCall) pending = data;
  g_autoptr(GError) error = NULL;
  gboolean ok;
  int r;

  switch (pending->operation) {
  case VM_OPERATION_START: /* resumed from a saved session, or booted */
    ok = TANDEM_IS_SNAPSHOT_MANAGER(source)
             ? tandem_snapshot_manager_start_finish(
                   TANDEM_SNAPSHOT_MANAGER(source), result, NULL, &error)
             : tandem_vm_start_finish(pending->vm, result, &error);
    break;
  case VM_OPERATION_STOP: { /* SaveOnStop: its session saved first */
    g_autoptr(TandemSnapshotInfo) saved = NULL;
    if (TANDEM_IS_SNAPSHOT_MANAGER(source))
      ok = (saved = tandem_snapshot_manager_suspend_finish(
                TANDEM_SNAPSHOT_MANAGER(source), result, &error)) != NULL;
    else
      ok = tandem_vm_stop_finish(pending->vm, result, &error);
    break;
  }
  default:
    ok = tandem_vm_command_finish(pending->vm, result, &error);
    break;
  }
  if (ok)
    r = sd_bus_reply_method_return(pending->call, "");
  else
    r = sd_bus_reply_method_errorf(pending->call,
                                   tandem_dbus_error_name_for(error), "%s",
                                   error->message);
  /* The caller may be gone, or the bus with it at shutdown: nothing to
   * tell anyone then. */
  if (r < 0)
    g_debug("No reply to %s: %s", sd_bus_message_get_member(pending->call),
            g_strerror(-r));
}

static int begin_vm_operation(TandemDbusService *self, sd_bus_message *call,
                              VmOperation operation,
                              sd_bus_error *ret_error) {
  const char *name;
  int force = FALSE;
  TandemVm *vm;
  PendingCall *pending;
  int r;

  if (operation == VM_OPERATION_STOP)
    r = sd_bus_message_read(call, "sb", &name, &force);
  else
    r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  vm = tandem_dbus_service_lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;

  pending = pending_call_new(operation, call, vm, self->app);
  switch (operation) {
  case VM_OPERATION_START:
    if (self->snapshots) /* a VM stopped with its session saved resumes */
      tandem_snapshot_manager_start_async(self->snapshots, name,
                                          self->cancellable,
                                          vm_operation_done, pending);
    else
      tandem_vm_start_async(vm, self->cancellable, vm_operation_done,
                            pending);
    break;
  case VM_OPERATION_STOP:
    if (!force && self->snapshots &&
        tandem_vm_get_config(vm)->save_on_stop &&
        (tandem_vm_get_state(vm) == TANDEM_VM_RUNNING ||
         tandem_vm_get_state(vm) == TANDEM_VM_PAUSED))
      tandem_snapshot_manager_suspend_async(self->snapshots, name,
                                            self->cancellable,
                                            vm_operation_done, pending);
    else
      tandem_vm_stop_async(vm, force, self->cancellable, vm_operation_done,
                           pending);
    break;
  case VM_OPERATION_PAUSE:
    tandem_vm_pause_async(vm, self->cancellable, vm_operation_done, pending);
    break;
  case VM_OPERATION_RESUME:
    tandem_vm_resume_async(vm, self->cancellable, vm_operation_done, pending);
    break;
  case VM_OPERATION_RESET:
    tandem_vm_reset_async(vm, self->cancellable, vm_operation_done, pending);
    break;
  }
  return 1; /* answered later, by vm_operation_done() */
}

static int manager_start_vm(sd_bus_message *call, void *userdata,
                            sd_bus_error *ret_error) {
  return begin_vm_operation(userdata, call, VM_OPERATION_START, ret_error);
}

static int manager_stop_vm(sd_bus_message *call, void *userdata,
                           sd_bus_error *ret_error) {
  return begin_vm_operation(userdata, call, VM_OPERATION_STOP, ret_error);
}

static int manager_pause_vm(sd_bus_message *call, void *userdata,
                            sd_bus_error *ret_error) {
  return begin_vm_operation(userdata, call, VM_OPERATION_PAUSE, ret_error);
}

static int manager_resume_vm(sd_bus_message *call, void *userdata,
                             sd_bus_error *ret_error) {
  return begin_vm_operation(userdata, call, VM_OPERATION_RESUME, ret_error);
}

static int manager_reset_vm(sd_bus_message *call, void *userdata,
                            sd_bus_error *ret_error) {
  return begin_vm_operation(userdata, call, VM_OPERATION_RESET, ret_error);
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("ListVMs", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("a(sss)", vms), manager_list_vms,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetVM", SD_BUS_ARGS("s", name),
                            SD_BUS_RESULT("a{sv}", properties),
                            manager_get_vm, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("CreateVM",
                            SD_BUS_ARGS("s", name, "a{sv}", options),
                            SD_BUS_NO_RESULT, manager_create_vm,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("StartVM", SD_BUS_ARGS("s", name),
                            SD_BUS_NO_RESULT, manager_start_vm,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("StopVM", SD_BUS_ARGS("s", name, "b", force),
                            SD_BUS_NO_RESULT, manager_stop_vm,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("PauseVM", SD_BUS_ARGS("s", name),
                            SD_BUS_NO_RESULT, manager_pause_vm,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ResumeVM", SD_BUS_ARGS("s", name),
                            SD_BUS_NO_RESULT, manager_resume_vm,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ResetVM", SD_BUS_ARGS("s", name),
                            SD_BUS_NO_RESULT, manager_reset_vm,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("VMStateChanged",
                            SD_BUS_ARGS("s", name, "s", old_state, "s",
                                        new_state),
                            0),
    SD_BUS_VTABLE_END,
};

static void on_vm_state_changed(TandemVmManager *manager, TandemVm *vm,
                                TandemVmState old_state,
                                TandemVmState new_state,
                                TandemDbusService *self) {
  int r = sd_bus_emit_signal(self->bus, TANDEM_DBUS_PATH,
                             TANDEM_DBUS_MANAGER_INTERFACE, "VMStateChanged",
                             "sss", tandem_vm_get_name(vm),
                             tandem_vm_state_to_string(old_state),
                             tandem_vm_state_to_string(new_state));
  if (r < 0)
    g_debug("VMStateChanged not sent: %s", g_strerror(-r));
}

/* --- The connection ---------------------------------------------------- */

static gboolean on_connection_lost(gpointer data) {
  TandemDbusService *self = data;

  g_clear_pointer(&self->bus_source, g_source_unref);
  g_signal_emit(self, signals[SIGNAL_CONNECTION_LOST], 0);
  return G_SOURCE_REMOVE;
}

gboolean tandem_dbus_service_own_name(TandemDbusService *self,
                                      GError **error) {
  int r;

  g_return_val_if_fail(TANDEM_IS_DBUS_SERVICE(self), FALSE);
  g_return_val_if_fail(self->bus == NULL, FALSE);

  r = sd_bus_open_user(&self->bus);
  if (r < 0) {
    self->bus = NULL;
    return set_errno_error(error, r,
                           _("Could not connect to the session bus"));
  }
  (void)sd_bus_set_description(self->bus, "tandem");
  r = sd_bus_request_name(self->bus, TANDEM_DBUS_NAME, 0);
  if (r == -EEXIST) {
    /* The connection stays, for activate_owner(). */
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                "%s is owned by another process", TANDEM_DBUS_NAME);
    return FALSE;
  }
  if (r < 0) {
    g_clear_pointer(&self->bus, sd_bus_unref);
    return set_errno_error(error, r, _("Could not connect to the session bus"));
  }
  return TRUE;
}

gboolean tandem_dbus_service_activate_owner(TandemDbusService *self,
                                            GError **error) {
  g_auto(sd_bus_error) bus_error = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r;

  g_return_val_if_fail(TANDEM_IS_DBUS_SERVICE(self), FALSE);
  g_return_val_if_fail(self->bus != NULL, FALSE);

  r = sd_bus_message_new_method_call(self->bus, &call, TANDEM_DBUS_NAME,
                                     TANDEM_DBUS_PATH,
                                     TANDEM_DBUS_APPLICATION_INTERFACE,
                                     "Activate");
  if (r >= 0)
    r = sd_bus_message_append(call, "a{sv}", 0);
  if (r < 0)
    return set_errno_error(error, r, "Activate");
  r = sd_bus_call(self->bus, call, ACTIVATE_OWNER_TIMEOUT_USEC, &bus_error,
                  &reply);
  if (r < 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                _("The running Tandem did not answer: %s"),
                bus_error.message ? bus_error.message : g_strerror(-r));
    return FALSE;
  }
  return TRUE;
}

void tandem_dbus_service_set_guest_hub(TandemDbusService *self,
                                       TandemGuestHub *hub) {
  g_return_if_fail(TANDEM_IS_DBUS_SERVICE(self));
  g_return_if_fail(hub == NULL || TANDEM_IS_GUEST_HUB(hub));
  g_return_if_fail(self->manager == NULL); /* not exported yet */

  g_set_object(&self->hub, hub);
}

void tandem_dbus_service_set_snapshot_manager(
    TandemDbusService *self, TandemSnapshotManager *snapshots) {
  g_return_if_fail(TANDEM_IS_DBUS_SERVICE(self));
  g_return_if_fail(snapshots == NULL ||
                   TANDEM_IS_SNAPSHOT_MANAGER(snapshots));
  g_return_if_fail(self->manager == NULL); /* not exported yet */

  g_set_object(&self->snapshots, snapshots);
}

void tandem_dbus_service_set_disk_manager(TandemDbusService *self,
                                          TandemDiskManager *disks) {
  g_return_if_fail(TANDEM_IS_DBUS_SERVICE(self));
  g_return_if_fail(disks == NULL || TANDEM_IS_DISK_MANAGER(disks));
  g_return_if_fail(self->manager == NULL); /* not exported yet */

  g_set_object(&self->disks, disks);
}

gboolean tandem_dbus_service_export(TandemDbusService *self,
                                   TandemVmManager *manager, GError **error) {
  int r;

  g_return_val_if_fail(TANDEM_IS_DBUS_SERVICE(self), FALSE);
  g_return_val_if_fail(TANDEM_IS_VM_MANAGER(manager), FALSE);
  g_return_val_if_fail(self->bus != NULL && self->manager == NULL, FALSE);

  self->manager = g_object_ref(manager);
  r = sd_bus_add_object_vtable(self->bus, &self->application_slot,
                               TANDEM_DBUS_PATH,
                               TANDEM_DBUS_APPLICATION_INTERFACE,
                               application_vtable, self);
  if (r >= 0)
    r = sd_bus_add_object_vtable(self->bus, &self->manager_slot,
                                 TANDEM_DBUS_PATH,
                                 TANDEM_DBUS_MANAGER_INTERFACE,
                                 manager_vtable, self);
  if (r >= 0 && self->hub)
    r = tandem_dbus_service_export_guests(self);
  if (r >= 0 && self->snapshots)
    r = tandem_dbus_service_export_snapshots(self);
  if (r >= 0 && self->disks)
    r = tandem_dbus_service_export_storage(self);
  if (r < 0)
    return set_errno_error(error, r, _("Could not export the D-Bus objects"));
  g_signal_connect(manager, "vm-state-changed",
                   G_CALLBACK(on_vm_state_changed), self);

  self->bus_source = tandem_bus_source_new(self->bus);
  g_source_set_callback(self->bus_source, on_connection_lost, self, NULL);
  g_source_attach(self->bus_source, g_main_context_get_thread_default());
  return TRUE;
}

void tandem_dbus_service_close(TandemDbusService *self) {
  g_return_if_fail(TANDEM_IS_DBUS_SERVICE(self));

  if (!self->bus)
    return;
  if (self->bus_source) {
    g_source_destroy(self->bus_source);
    g_clear_pointer(&self->bus_source, g_source_unref);
  }
  /* Once the daemon has confirmed the release, it routes nothing more to
   * us: calls made from then on start a new instance. The calls it routed
   * before are queued by then (a connection keeps its order), so they are
   * answered here rather than left to fail with NoReply. */
  if (self->manager_slot &&
      sd_bus_release_name(self->bus, TANDEM_DBUS_NAME) >= 0)
    while (sd_bus_process(self->bus, NULL) > 0)
      ;
  g_cancellable_cancel(self->cancellable);
  g_clear_pointer(&self->storage_slot, sd_bus_slot_unref);
  g_clear_pointer(&self->snapshots_slot, sd_bus_slot_unref);
  g_clear_pointer(&self->guests_slot, sd_bus_slot_unref);
  g_clear_pointer(&self->manager_slot, sd_bus_slot_unref);
  g_clear_pointer(&self->application_slot, sd_bus_slot_unref);
  /* Flush: the last replies and signals still go out. */
  g_clear_pointer(&self->bus, sd_bus_flush_close_unref);
}

/* --- GObject ----------------------------------------------------------- */

static void tandem_dbus_service_dispose(GObject *object) {
  TandemDbusService *self = TANDEM_DBUS_SERVICE(object);

  tandem_dbus_service_close(self);
  if (self->manager) {
    g_signal_handlers_disconnect_by_data(self->manager, self);
    g_clear_object(&self->manager);
  }
  if (self->hub) {
    g_signal_handlers_disconnect_by_data(self->hub, self);
    g_clear_object(&self->hub);
  }
  if (self->snapshots) {
    g_signal_handlers_disconnect_by_data(self->snapshots, self);
    g_clear_object(&self->snapshots);
  }
  if (self->disks) {
    g_signal_handlers_disconnect_by_data(self->disks, self);
    g_clear_object(&self->disks);
  }
  G_OBJECT_CLASS(tandem_dbus_service_parent_class)->dispose(object);
}

static void tandem_dbus_service_finalize(GObject *object) {
  TandemDbusService *self = TANDEM_DBUS_SERVICE(object);

  g_object_unref(self->cancellable);
  G_OBJECT_CLASS(tandem_dbus_service_parent_class)->finalize(object);
}

static void tandem_dbus_service_class_init(TandemDbusServiceClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);

  object_class->dispose = tandem_dbus_service_dispose;
  object_class->finalize = tandem_dbus_service_finalize;

  signals[SIGNAL_CONNECTION_LOST] =
      g_signal_new("connection-lost", G_TYPE_FROM_CLASS(klass),
                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void tandem_dbus_service_init(TandemDbusService *self) {
  self->cancellable = g_cancellable_new();
}

TandemDbusService *tandem_dbus_service_new(GApplication *app) {
  TandemDbusService *self;

  g_return_val_if_fail(G_IS_APPLICATION(app), NULL);
  self = g_object_new(TANDEM_TYPE_DBUS_SERVICE, NULL);
  self->app = app;
  return self;
}

int tandem_dbus_reply_array(sd_bus_message *call, const char *signature,
                            GPtrArray *items,
                            int (*append)(sd_bus_message *reply,
                                          gconstpointer item)) {
  g_autoptr(sd_bus_message) reply = NULL;
  int r = sd_bus_message_new_method_return(call, &reply);
  if (r >= 0)
    r = sd_bus_message_open_container(reply, 'a', signature);
  for (guint i = 0; r >= 0 && i < items->len; i++)
    r = append(reply, g_ptr_array_index(items, i));
  if (r >= 0)
    r = sd_bus_message_close_container(reply);
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}

TandemDbusPending *tandem_dbus_pending_new(sd_bus_message *call,
                                           GApplication *app) {
  TandemDbusPending *pending = g_new0(TandemDbusPending, 1);
  pending->call = sd_bus_message_ref(call);
  pending->app = g_object_ref(app);
  g_application_hold(app);
  return pending;
}

void tandem_dbus_pending_free(TandemDbusPending *pending) {
  sd_bus_message_unref(pending->call);
  g_application_release(pending->app);
  g_object_unref(pending->app);
  g_free(pending);
}
