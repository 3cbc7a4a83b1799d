#include "config.h"

#include "tandem-dbus-service.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "tandem-bus-source.h"
#include "tandem-guest-hub.h"
#include "tandem-i18n.h"

/* How long a second instance waits for the first to answer Activate. */
#define ACTIVATE_OWNER_TIMEOUT_USEC (10 * G_USEC_PER_SEC)

struct _TandemDbusService {
  GObject parent_instance;

  GApplication *app; /* not a reference: the application owns us */
  TandemVmManager *manager;
  TandemGuestHub *hub; /* NULL: no Guests interface */
  sd_bus *bus;
  sd_bus_slot *application_slot;
  sd_bus_slot *manager_slot;
  sd_bus_slot *guests_slot;
  GSource *bus_source;
  /* Cancelled at close(): VM operations and launches still in flight
   * then. Their calls get no reply; the caller sees the connection go
   * (NoReply). */
  GCancellable *cancellable;
};

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
  default:
    return TANDEM_DBUS_ERROR_FAILED;
  }
}

static const char *dbus_error_name_for(const GError *error) {
  if (error->domain == G_IO_ERROR)
    return dbus_error_name_for_io(error);
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
  return sd_bus_error_set(ret_error, dbus_error_name_for(error),
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

static const char *or_empty(const char *text) { return text ? text : ""; }

/* The manager is re-read before every look-up so that files written by
 * hand (or deleted) count at once; the directory holds a few small files. */
static TandemVm *lookup_vm(TandemDbusService *self, const char *name,
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
  vm = lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;
  config = tandem_vm_get_config(vm);
  return sd_bus_reply_method_return(
      call, "a{sv}", 9,
      "name", "s", tandem_vm_get_name(vm),
      "state", "s", tandem_vm_state_to_string(tandem_vm_get_state(vm)),
      "accelerator", "s", vm_accelerator(vm),
      "accelerator-reason", "s", or_empty(tandem_vm_get_accel_reason(vm)),
      "memory", "t", (uint64_t)config->memory,
      "cpus", "u", (uint32_t)config->cpus,
      "pid", "u", (uint32_t)MAX(tandem_vm_get_pid(vm), 0),
      "runtime-dir", "s", or_empty(tandem_vm_get_runtime_dir(vm)),
      "crash-report", "s", or_empty(tandem_vm_get_crash_report(vm)));
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
  case VM_OPERATION_START:
    ok = tandem_vm_start_finish(pending->vm, result, &error);
    break;
  case VM_OPERATION_STOP:
    ok = tandem_vm_stop_finish(pending->vm, result, &error);
    break;
  default:
    ok = tandem_vm_command_finish(pending->vm, result, &error);
    break;
  }
  if (ok)
    r = sd_bus_reply_method_return(pending->call, "");
  else
    r = sd_bus_reply_method_errorf(pending->call, dbus_error_name_for(error),
                                   "%s", error->message);
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
  vm = lookup_vm(self, name, ret_error);
  if (!vm)
    return -ENOENT;

  pending = pending_call_new(operation, call, vm, self->app);
  switch (operation) {
  case VM_OPERATION_START:
    tandem_vm_start_async(vm, self->cancellable, vm_operation_done, pending);
    break;
  case VM_OPERATION_STOP:
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

/* --- org.tandem.Tandem1.Guests: reading -------------------------------- */

/* A guest is a VM (whether it runs or not) or a loopback guest. VMs are
 * re-read first, as for the Manager. */
static gboolean lookup_guest(TandemDbusService *self, const char *name,
                             sd_bus_error *ret_error) {
  g_auto(GStrv) guests = NULL;

  tandem_vm_manager_reload(self->manager);
  guests = tandem_guest_hub_list_guests(self->hub);
  if (g_strv_contains((const char *const *)guests, name))
    return TRUE;
  sd_bus_error_setf(ret_error, TANDEM_DBUS_ERROR_NOT_FOUND,
                    _("There is no VM called “%s”."), name);
  return FALSE;
}

/* The guest's link once its agent has sent a whole catalog; else NULL with
 * NotRunning saying what to do about it. */
static TandemGuestLink *lookup_ready_link(TandemDbusService *self,
                                          const char *name,
                                          sd_bus_error *ret_error) {
  TandemGuestLink *link;
  TandemVm *vm;

  if (!lookup_guest(self, name, ret_error))
    return NULL;
  link = tandem_guest_hub_get_link(self->hub, name);
  if (link && tandem_guest_link_get_state(link) == TANDEM_GUEST_LINK_READY &&
      tandem_guest_link_has_catalog(link))
    return link;

  vm = tandem_vm_manager_lookup(self->manager, name);
  if (!vm)
    sd_bus_error_setf(ret_error, TANDEM_DBUS_ERROR_NOT_RUNNING,
                      /* TRANSLATORS: a guest without a VM (tests): its
                       * agent connects to a socket of the shell. */
                      _("No agent is connected to “%s”."), name);
  else if (tandem_vm_get_state(vm) == TANDEM_VM_STOPPED ||
           tandem_vm_get_state(vm) == TANDEM_VM_CRASHED)
    sd_bus_error_setf(ret_error, TANDEM_DBUS_ERROR_NOT_RUNNING,
                      /* TRANSLATORS: both %s are a VM's name; keep the
                       * command as it is. */
                      _("“%s” is not running: start the VM first: "
                        "tandemctl vm start %s"),
                      name, name);
  else
    sd_bus_error_setf(ret_error, TANDEM_DBUS_ERROR_NOT_RUNNING,
                      _("The agent in “%s” has not sent its applications "
                        "yet. If the VM has just started, try again in a "
                        "moment; otherwise check that tandem-agent runs in "
                        "the guest's session."),
                      name);
  return NULL;
}

static int guests_list_apps(sd_bus_message *call, void *userdata,
                            sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  g_autoptr(sd_bus_message) reply = NULL;
  TandemGuestLink *link;
  GPtrArray *apps;
  const char *name;
  int r;

  r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  link = lookup_ready_link(self, name, ret_error);
  if (!link)
    return -EAGAIN;
  apps = tandem_guest_link_get_apps(link);
  r = sd_bus_message_new_method_return(call, &reply);
  if (r >= 0)
    r = sd_bus_message_open_container(reply, 'a', "(sssbasas)");
  for (guint i = 0; r >= 0 && i < apps->len; i++) {
    const TandemGuestApp *app = g_ptr_array_index(apps, i);
    r = sd_bus_message_open_container(reply, 'r', "sssbasas");
    if (r >= 0)
      r = sd_bus_message_append(reply, "sssb", app->id, or_empty(app->name),
                                or_empty(app->comment), app->terminal);
    if (r >= 0)
      r = sd_bus_message_append_strv(reply, app->mime_types);
    if (r >= 0)
      r = sd_bus_message_append_strv(reply, app->categories);
    if (r >= 0)
      r = sd_bus_message_close_container(reply);
  }
  if (r >= 0)
    r = sd_bus_message_close_container(reply);
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}

static int guests_list_windows(sd_bus_message *call, void *userdata,
                               sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(GArray) windows = NULL;
  const char *name;
  int r;

  r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  if (!lookup_guest(self, name, ret_error))
    return -ENOENT;
  /* NULL while the guest has no proxies (its agent is not connected). */
  windows = tandem_guest_hub_list_windows(self->hub, name);
  r = sd_bus_message_new_method_return(call, &reply);
  if (r >= 0)
    r = sd_bus_message_open_container(reply, 'a', "(ussbiiuu)");
  for (guint i = 0; r >= 0 && windows && i < windows->len; i++) {
    const TandemWindowInfo *info =
        &g_array_index(windows, TandemWindowInfo, i);
    r = sd_bus_message_append(reply, "(ussbiiuu)", info->id,
                              or_empty(info->title), or_empty(info->app_id),
                              info->shown, info->x, info->y, info->width,
                              info->height);
  }
  if (r >= 0)
    r = sd_bus_message_close_container(reply);
  if (r < 0)
    return r;
  return sd_bus_send(NULL, reply, NULL);
}

/* The guest's focus as the agent reported it (protocol FOCUS_REPORT). */
static const char *guest_focus_kind_to_string(guint kind) {
  switch (kind) {
  case TP_FOCUS_WINDOW:
    return "window";
  case TP_FOCUS_STUB:
    return "stub";
  case TP_FOCUS_NONE:
    return "none";
  default:
    return "other";
  }
}

static int guests_get_focus(sd_bus_message *call, void *userdata,
                            sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  guint32 host_window, guest_window;
  guint kind;
  const char *name;
  int r;

  r = sd_bus_message_read(call, "s", &name);
  if (r < 0)
    return r;
  if (!lookup_guest(self, name, ret_error))
    return -ENOENT;
  /* A guest without proxies answers (0, 0, "none"). */
  tandem_guest_hub_get_focus(self->hub, name, &host_window, &guest_window,
                             &kind);
  return sd_bus_reply_method_return(call, "uus", host_window, guest_window,
                                    guest_focus_kind_to_string(kind));
}

/* --- org.tandem.Tandem1.Guests: Launch --------------------------------- */

/* The protocol's "id" (application and startup ids): never a path. */
static gboolean is_protocol_id(const char *text, gsize max_len) {
  gsize len = strlen(text);

  if (len > max_len)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isalnum(*p) && !strchr("._+@-", *p))
      return FALSE;
  return TRUE;
}

/* sd-bus has checked that it is UTF-8; the protocol wants no control
 * characters in a path or URI either, and rejects rather than alters. */
static gboolean is_protocol_path(const char *text) {
  gsize len = strlen(text);

  if (len == 0 || len > TP_MAX_PATH_LEN)
    return FALSE;
  for (const char *p = text; *p; p = g_utf8_next_char(p))
    if (g_unichar_iscntrl(g_utf8_get_char(p)))
      return FALSE;
  return TRUE;
}

/* Launch's arguments are checked here, so that a wrong one is explained to
 * the caller rather than refused by the link as an unsendable message. */
static int check_launch_arguments(const char *app_id, char **args,
                                  const char *startup_id,
                                  sd_bus_error *ret_error) {
  if (!*app_id || !is_protocol_id(app_id, TP_MAX_ID_LEN))
    return sd_bus_error_setf(
        ret_error, SD_BUS_ERROR_INVALID_ARGS,
        /* TRANSLATORS: %s is what was given as an application's id. */
        _("“%s” is not an application id: ids are made of letters, digits "
          "and . _ + @ -, like “org.gnome.gedit”."),
        app_id);
  if (g_strv_length(args) > TP_MAX_LAUNCH_ARGS)
    return sd_bus_error_setf(ret_error, SD_BUS_ERROR_INVALID_ARGS,
                             _("At most %u files can be opened at once."),
                             TP_MAX_LAUNCH_ARGS);
  for (char **arg = args; *arg; arg++)
    if (!is_protocol_path(*arg))
      return sd_bus_error_setf(
          ret_error, SD_BUS_ERROR_INVALID_ARGS,
          /* TRANSLATORS: %s is a file name or URI given to open. */
          _("“%s” cannot be given to a guest application: a file or URI "
            "must be 1 to 4096 bytes long, without control characters."),
          *arg);
  if (!is_protocol_id(startup_id, TP_MAX_STARTUP_ID_LEN))
    return sd_bus_error_setf(
        ret_error, SD_BUS_ERROR_INVALID_ARGS,
        _("“%s” is not a startup notification id: it may have up to 255 "
          "letters, digits and . _ + @ -."),
        startup_id);
  return 0;
}

/* A Launch call waiting for the hub, which may start the VM and wait for
 * its agent first: minutes. It holds the application like a VM operation
 * does. */
typedef struct {
  sd_bus_message *call; /* a reference */
  GApplication *app;    /* a reference and a hold */
} PendingLaunch;

static void pending_launch_free(PendingLaunch *pending) {
  sd_bus_message_unref(pending->call);
  g_application_release(pending->app);
  g_object_unref(pending->app);
  g_free(pending);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PendingLaunch, pending_launch_free)

static void launch_done(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(PendingLaunch) pending = data;
  g_autoptr(GError) error = NULL;
  guint32 pid;
  int r;

  pid = tandem_guest_hub_launch_finish(TANDEM_GUEST_HUB(source), result,
                                       &error);
  if (error)
    r = sd_bus_reply_method_errorf(pending->call, dbus_error_name_for(error),
                                   "%s", error->message);
  else
    r = sd_bus_reply_method_return(pending->call, "u", pid);
  if (r < 0)
    g_debug("No reply to Launch: %s", g_strerror(-r));
}

static int guests_launch(sd_bus_message *call, void *userdata,
                         sd_bus_error *ret_error) {
  TandemDbusService *self = userdata;
  g_auto(GStrv) args = NULL;
  const char *guest, *app_id, *startup_id;
  PendingLaunch *pending;
  int r;

  r = sd_bus_message_read(call, "ss", &guest, &app_id);
  if (r >= 0)
    r = sd_bus_message_read_strv(call, &args);
  if (r >= 0)
    r = sd_bus_message_read(call, "s", &startup_id);
  if (r < 0)
    return r;
  if (!args)
    args = g_new0(char *, 1); /* an empty array reads as NULL */
  r = check_launch_arguments(app_id, args, startup_id, ret_error);
  if (r < 0)
    return r;
  if (!lookup_guest(self, guest, ret_error))
    return -ENOENT;

  pending = g_new0(PendingLaunch, 1);
  pending->call = sd_bus_message_ref(call);
  pending->app = g_object_ref(self->app);
  g_application_hold(self->app);
  tandem_guest_hub_launch_async(self->hub, guest, app_id,
                                (const char *const *)args,
                                *startup_id ? startup_id : NULL,
                                self->cancellable, launch_done, pending);
  return 1; /* answered later, by launch_done() */
}

static const sd_bus_vtable guests_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("ListApps", SD_BUS_ARGS("s", guest),
                            SD_BUS_RESULT("a(sssbasas)", apps),
                            guests_list_apps, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Launch",
                            SD_BUS_ARGS("s", guest, "s", app, "as", args, "s",
                                        startup_id),
                            SD_BUS_RESULT("u", pid), guests_launch,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ListWindows", SD_BUS_ARGS("s", guest),
                            SD_BUS_RESULT("a(ussbiiuu)", windows),
                            guests_list_windows, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetFocus", SD_BUS_ARGS("s", guest),
                            SD_BUS_RESULT("u", host_window, "u", guest_window,
                                          "s", guest_kind),
                            guests_get_focus, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("AppsChanged", SD_BUS_ARGS("s", guest), 0),
    SD_BUS_SIGNAL_WITH_ARGS("WindowsChanged", SD_BUS_ARGS("s", guest), 0),
    SD_BUS_SIGNAL_WITH_ARGS("FocusChanged",
                            SD_BUS_ARGS("s", guest, "u", host_window, "u",
                                        guest_window, "s", guest_kind),
                            0),
    SD_BUS_SIGNAL_WITH_ARGS("LaunchProgress",
                            SD_BUS_ARGS("s", guest, "s", app, "s", stage), 0),
    SD_BUS_VTABLE_END,
};

/* The hub's signals, passed on. Nothing is sent once the bus is closed. */
static void emit_guests_signal(TandemDbusService *self, const char *member,
                               const char *types, ...) {
  va_list args;
  int r;

  if (!self->bus || !self->guests_slot)
    return;
  va_start(args, types);
  r = sd_bus_emit_signalv(self->bus, TANDEM_DBUS_PATH,
                          TANDEM_DBUS_GUESTS_INTERFACE, member, types, args);
  va_end(args);
  if (r < 0)
    g_debug("%s not sent: %s", member, g_strerror(-r));
}

static void on_apps_changed(TandemGuestHub *hub, const char *guest,
                            TandemDbusService *self) {
  emit_guests_signal(self, "AppsChanged", "s", guest);
}

static void on_windows_changed(TandemGuestHub *hub, const char *guest,
                               TandemDbusService *self) {
  emit_guests_signal(self, "WindowsChanged", "s", guest);
}

static void on_focus_changed(TandemGuestHub *hub, const char *guest,
                             TandemDbusService *self) {
  guint32 host_window, guest_window;
  guint kind;

  tandem_guest_hub_get_focus(hub, guest, &host_window, &guest_window, &kind);
  emit_guests_signal(self, "FocusChanged", "suus", guest, host_window,
                     guest_window, guest_focus_kind_to_string(kind));
}

static void on_launch_progress(TandemGuestHub *hub, const char *guest,
                               const char *app_id, guint stage,
                               TandemDbusService *self) {
  emit_guests_signal(self, "LaunchProgress", "sss", guest, app_id,
                     tandem_launch_stage_to_string(stage));
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

static int export_guests(TandemDbusService *self) {
  int r = sd_bus_add_object_vtable(self->bus, &self->guests_slot,
                                   TANDEM_DBUS_PATH,
                                   TANDEM_DBUS_GUESTS_INTERFACE,
                                   guests_vtable, self);
  if (r < 0)
    return r;
  g_signal_connect(self->hub, "apps-changed", G_CALLBACK(on_apps_changed),
                   self);
  g_signal_connect(self->hub, "windows-changed",
                   G_CALLBACK(on_windows_changed), self);
  g_signal_connect(self->hub, "focus-changed", G_CALLBACK(on_focus_changed),
                   self);
  g_signal_connect(self->hub, "launch-progress",
                   G_CALLBACK(on_launch_progress), self);
  return r;
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
    r = export_guests(self);
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
