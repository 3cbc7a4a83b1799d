/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.tandem.Tandem1.Guests: the applications, windows and focus of the
 * guests a TandemGuestHub serves, Launch, and the hub's signals passed on
 * as the interface's. Part of TandemDbusService (tandem-dbus-private.h). */
#include "config.h"

#include "tandem-dbus-private.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "tandem-bus-source.h"
#include "tandem-guest-hub.h"
#include "tandem-i18n.h"

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
    r = sd_bus_reply_method_errorf(pending->call,
                                   tandem_dbus_error_name_for(error), "%s",
                                   error->message);
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

int tandem_dbus_service_export_guests(TandemDbusService *self) {
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
