/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-application.h"

#include "tandem-dbus-service.h"
#include "tandem-disk-manager.h"
#include "tandem-guest-hub.h"
#include "tandem-i18n.h"
#include "tandem-menu-exporter.h"
#include "tandem-proxy-manager.h"
#include "tandem-snapshot-manager.h"
#include "tandem-window.h"

#include <glib-unix.h>
#include <signal.h>

/* On SIGTERM (the session ending, systemd stopping the user's services),
 * the VMs are stopped as a stop would (saved where SaveOnStop says so),
 * for at most this long, then the shell quits. */
#define QUIT_BOUND_S 60

struct _TandemApplication {
  GtkApplication parent_instance;

  /* Single instance: GApplication's own uniqueness (GDBus) is off; owning
   * org.tandem.Tandem with sd-bus is what makes an instance the first. */
  TandemDbusService *service;
  TandemVmManager *manager;
  /* --service: the first activation (the one g_application_run() makes)
   * shows no window; later ones, over D-Bus, do. */
  gboolean skip_first_window;
  /* VMs that are not stopped: each holds the application, so closing the
   * window does not take running guests down with it. */
  GHashTable *holding_vms; /* TandemVm * (a reference) -> itself */
  TandemGuestHub *hub;
  /* One for the shell: the D-Bus service and the window share it, so that
   * each sees the other's snapshots under way. */
  TandemSnapshotManager *snapshots;
  /* Network disks attached to running VMs; the hub lends it the agents. */
  TandemDiskManager *disks;
  GHashTable *proxies;     /* guest name -> TandemProxyManager */
  GStrv loopbacks;         /* --loopback NAME=PATH */
  guint signal_ids[3];     /* SIGTERM, SIGINT, SIGHUP */
  guint quitting;          /* VMs still stopping, once a signal came */
  gboolean signalled;
  guint quit_bound_id;
};

G_DEFINE_TYPE(TandemApplication, tandem_application, GTK_TYPE_APPLICATION)

static gboolean vm_state_is_active(TandemVmState state) {
  return state != TANDEM_VM_STOPPED && state != TANDEM_VM_CRASHED;
}

static void on_vm_state_changed(TandemVmManager *manager, TandemVm *vm,
                                TandemVmState old_state,
                                TandemVmState new_state,
                                TandemApplication *self) {
  gboolean held = g_hash_table_contains(self->holding_vms, vm);

  if (vm_state_is_active(new_state) && !held) {
    g_hash_table_add(self->holding_vms, g_object_ref(vm));
    g_application_hold(G_APPLICATION(self));
  } else if (!vm_state_is_active(new_state) && held) {
    g_hash_table_remove(self->holding_vms, vm);
    g_application_release(G_APPLICATION(self));
  }
}

static gboolean on_quit_signal(gpointer data);

static void on_connection_lost(TandemDbusService *service,
                               TandemApplication *self) {
  /* The session is ending (the bus daemon went away): nothing could reach
   * us any more, and a second start would become a second instance. The
   * VMs are stopped (or saved) first, as on SIGTERM. */
  if (!self->signalled)
    on_quit_signal(self);
}

/* Takes the bus name, or hands over to the instance that has it. Returns
 * -1 to go on as the primary instance, or an exit status. */
static int tandem_application_claim_instance(TandemApplication *self,
                                             gboolean service_mode) {
  g_autoptr(GError) error = NULL;

  self->service = tandem_dbus_service_new(G_APPLICATION(self));
  if (!tandem_dbus_service_own_name(self->service, &error)) {
    g_autoptr(TandemDbusService) service = g_steal_pointer(&self->service);

    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
      /* Another instance runs. Started by D-Bus activation we lost a race
       * and have nothing to do; started by the user, bring its window
       * up. */
      g_clear_error(&error);
      if (service_mode ||
          tandem_dbus_service_activate_owner(service, &error))
        return 0;
      g_printerr("tandem: %s\n", error->message);
      return 1;
    }
    /* Without a session bus a window is still useful: only tandemctl and
     * the single instance need one. */
    if (service_mode) {
      /* TRANSLATORS: %s says why the session bus cannot be used. */
      g_printerr(_("tandem: cannot offer the D-Bus service: %s\n"),
                 error->message);
      return 1;
    }
    /* TRANSLATORS: %s says why the session bus cannot be used. */
    g_printerr(_("tandem: running without the D-Bus service: %s\n"),
               error->message);
    return -1;
  }

  return -1;
}

/* --- Proxy windows for each guest's agent link -------------------------- */

typedef struct {
  TandemApplication *app;
  char *guest;
  TandemGuestLink *link;
} ClassData;

static void class_data_free(gpointer data) {
  ClassData *c = data;
  g_free(c->guest);
  g_free(c);
}

/* A guest window's application, from its WM_CLASS and the catalog; its
 * proxy then gets the WM_CLASS the host menu entry names. */
static void class_for_window(const char *res_name, const char *res_class,
                             char **app_id, char **wm_class, GBytes **icon,
                             gpointer data) {
  ClassData *c = data;
  GPtrArray *apps = tandem_guest_link_get_apps(c->link);
  g_autofree TandemMenuApp *menu = g_new0(TandemMenuApp, apps->len + 1);
  for (guint i = 0; i < apps->len; i++) {
    TandemGuestApp *a = apps->pdata[i];
    menu[i].id = a->id;
    menu[i].startup_wm_class = a->startup_wm_class;
  }
  const char *id = tandem_menu_match_app(menu, apps->len, res_name,
                                         res_class);
  /* Unknown windows still get a class of their own, per guest class. */
  *app_id = g_strdup(id ? id : "");
  const TandemGuestApp *app = id ? tandem_guest_link_find_app(c->link, id)
                                 : NULL;
  *icon = app && app->icon_png ? g_bytes_ref(app->icon_png) : NULL;
  *wm_class = tandem_menu_wm_class(c->guest, id ? id
                                               : (*res_class ? res_class
                                                             : "window"));
}

static GArray *list_windows(gpointer owner) {
  TandemProxyManager *pm = owner;
  GPtrArray *ws = tandem_proxy_manager_get_windows(pm);
  GArray *out = g_array_new(FALSE, TRUE, sizeof(TandemWindowInfo));
  g_array_set_clear_func(out, (GDestroyNotify)tandem_window_info_clear);
  for (guint i = 0; i < ws->len; i++) {
    TandemProxyWindow *w = ws->pdata[i];
    TandemWindowInfo info = {0};
    info.id = tandem_proxy_window_get_guest_id(w);
    info.title = g_strdup(tandem_proxy_window_get_title(w));
    info.app_id = g_strdup(tandem_proxy_window_get_app_id(w));
    info.shown = tandem_proxy_window_is_shown(w);
    tandem_proxy_window_get_guest_geometry(w, &info.x, &info.y, &info.width,
                                           &info.height);
    g_array_append_val(out, info);
  }
  return out;
}

static void get_focus(gpointer owner, guint32 *host, guint32 *guest,
                      guint *kind) {
  TandemProxyManager *pm = owner;
  *host = tandem_proxy_manager_get_host_focus(pm);
  *guest = tandem_proxy_manager_get_guest_focus(pm, kind);
}

static const TandemWindowsSource windows_source = {list_windows, get_focus};

static void on_proxy_windows(TandemProxyManager *pm, gpointer arg,
                             gpointer data) {
  ClassData *c = data;
  tandem_guest_hub_windows_changed(c->app->hub, c->guest);
}

/* The first window of a launched application ends the launcher's startup
 * notification (the busy cursor, the "starting" taskbar entry). */
static void on_proxy_shown(TandemProxyManager *pm, TandemProxyWindow *w,
                           gpointer data) {
  ClassData *c = data;
  g_autofree char *id = tandem_guest_hub_take_startup_id(
      c->app->hub, c->guest, tandem_proxy_window_get_app_id(w));
  if (id)
    gtk_window_set_startup_id(GTK_WINDOW(w), id);
  tandem_guest_hub_windows_changed(c->app->hub, c->guest);
}

static void on_proxy_focus(TandemProxyManager *pm, gpointer data) {
  ClassData *c = data;
  tandem_guest_hub_focus_changed(c->app->hub, c->guest);
}

static void on_link_added(TandemGuestHub *hub, const char *guest,
                          TandemGuestLink *link, TandemApplication *self) {
  TandemProxyManager *pm = tandem_proxy_manager_new(link);
  TandemVm *vm = self->manager ? tandem_vm_manager_lookup(self->manager, guest)
                               : NULL;
  if (vm && tandem_vm_get_config(vm)->limit_window_memory)
    tandem_proxy_manager_set_window_memory(
        pm, tandem_vm_get_config(vm)->limit_window_memory);
  ClassData *c = g_new0(ClassData, 1);
  c->app = self;
  c->guest = g_strdup(guest);
  c->link = link;
  g_object_set_data_full(G_OBJECT(pm), "tandem-class-data", c,
                         class_data_free);
  tandem_proxy_manager_set_class_func(pm, class_for_window, c);
  g_signal_connect(pm, "window-shown", G_CALLBACK(on_proxy_shown), c);
  g_signal_connect(pm, "window-changed", G_CALLBACK(on_proxy_windows), c);
  g_signal_connect(pm, "window-removed", G_CALLBACK(on_proxy_windows), c);
  g_signal_connect(pm, "focus-changed", G_CALLBACK(on_proxy_focus), c);
  g_hash_table_replace(self->proxies, g_strdup(guest), pm);
  tandem_guest_hub_set_windows(hub, guest, &windows_source, pm);
}

static void on_link_removed(TandemGuestHub *hub, const char *guest,
                            TandemApplication *self) {
  tandem_guest_hub_set_windows(hub, guest, NULL, NULL);
  g_hash_table_remove(self->proxies, guest);
}

/* The tandemctl that the host menu's entries run: the one next to this
 * program (a build tree or an install), else the one on $PATH. */
static char *find_tandemctl(void) {
  g_autofree char *self_exe = g_file_read_link("/proc/self/exe", NULL);
  if (self_exe) {
    g_autofree char *dir = g_path_get_dirname(self_exe);
    char *sibling = g_build_filename(dir, "tandemctl", NULL);
    if (g_file_test(sibling, G_FILE_TEST_IS_EXECUTABLE))
      return sibling;
    g_free(sibling);
  }
  char *found = g_find_program_in_path("tandemctl");
  return found ? found : g_strdup("tandemctl");
}

static void on_startup_ended(TandemGuestHub *hub, const char *startup_id,
                             TandemApplication *self) {
  gdk_notify_startup_complete_with_id(startup_id);
}

static gboolean start_guests(TandemApplication *self, GError **error) {
  g_autofree char *tandemctl = find_tandemctl();
  self->hub = tandem_guest_hub_new(self->manager);
  tandem_guest_hub_set_menu(self->hub, NULL, tandemctl);
  g_signal_connect(self->hub, "link-added", G_CALLBACK(on_link_added), self);
  g_signal_connect(self->hub, "link-removed", G_CALLBACK(on_link_removed),
                   self);
  g_signal_connect(self->hub, "startup-ended", G_CALLBACK(on_startup_ended),
                   self);
  for (char **l = self->loopbacks; l && *l; l++) {
    g_auto(GStrv) parts = g_strsplit(*l, "=", 2);
    if (!parts[0] || !parts[1] || !tandem_vm_name_is_valid(parts[0])) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                  _("--loopback wants NAME=SOCKET, with a name like a VM's: "
                    "“%s”"),
                  *l);
      return FALSE;
    }
    if (!tandem_guest_hub_add_loopback(self->hub, parts[0], parts[1], error))
      return FALSE;
  }
  return TRUE;
}

/* A VM's snapshots cannot be taken in the background (QEMU refused it):
 * the user hears it once, with what is done instead. */
static void on_snapshot_fallback(TandemSnapshotManager *snapshots,
                                 const char *vm, const char *method,
                                 const char *reason, gpointer data) {
  g_autofree char *title = g_strdup_printf(
      _("Snapshots of “%s” cannot be taken in the background"), vm);
  g_autofree char *body =
      g_str_equal(method, "live")
          ? g_strdup_printf(_("%s. They are taken live instead: the guest "
                              "pauses for a moment at the end of each."),
                            reason)
          : g_strdup_printf(_("%s. The guest pauses while each one is "
                              "saved instead."),
                            reason);
  g_autoptr(GNotification) n = g_notification_new(title);
  g_notification_set_body(n, body);
  g_application_send_notification(G_APPLICATION(data), "snapshot-fallback",
                                  n);
  g_message("%s: %s", title, body);
}

/* --- Quitting on a signal ------------------------------------------------ */

static void quit_now(TandemApplication *self) {
  g_clear_handle_id(&self->quit_bound_id, g_source_remove);
  g_application_quit(G_APPLICATION(self));
}

static gboolean quit_bound(gpointer data) {
  TandemApplication *self = data;
  self->quit_bound_id = 0;
  g_message("%u VMs did not stop within %d s: quitting anyway",
            self->quitting, QUIT_BOUND_S);
  quit_now(self);
  return G_SOURCE_REMOVE;
}

static void vm_stopped(TandemApplication *self, const GError *error) {
  if (error)
    g_message("Quitting: %s", error->message);
  if (--self->quitting == 0)
    quit_now(self);
}

static void on_suspended(GObject *source, GAsyncResult *result,
                         gpointer data) {
  TandemApplication *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotInfo) info = tandem_snapshot_manager_suspend_finish(
      TANDEM_SNAPSHOT_MANAGER(source), result, &error);
  vm_stopped(self, error);
}

static void on_stopped(GObject *source, GAsyncResult *result, gpointer data) {
  TandemApplication *self = data;
  g_autoptr(GError) error = NULL;
  tandem_vm_stop_finish(TANDEM_VM(source), result, &error);
  vm_stopped(self, error);
}

static gboolean on_quit_signal(gpointer data) {
  TandemApplication *self = data;
  if (self->signalled) { /* asked twice: no more waiting */
    g_message("Asked again to quit: quitting now");
    quit_now(self);
    return G_SOURCE_CONTINUE;
  }
  self->signalled = TRUE;
  GPtrArray *vms = self->manager ? tandem_vm_manager_get_vms(self->manager)
                                 : NULL;
  for (guint i = 0; vms && i < vms->len; i++) {
    TandemVm *vm = vms->pdata[i];
    TandemVmState state = tandem_vm_get_state(vm);
    if (!vm_state_is_active(state))
      continue;
    self->quitting++;
    if (tandem_vm_get_config(vm)->save_on_stop &&
        (state == TANDEM_VM_RUNNING || state == TANDEM_VM_PAUSED))
      tandem_snapshot_manager_suspend_async(self->snapshots,
                                            tandem_vm_get_name(vm), NULL,
                                            on_suspended, self);
    else
      tandem_vm_stop_async(vm, FALSE, NULL, on_stopped, self);
  }
  g_message("Quitting: stopping %u running VMs first", self->quitting);
  if (!self->quitting) {
    quit_now(self);
    return G_SOURCE_CONTINUE;
  }
  self->quit_bound_id = g_timeout_add_seconds(QUIT_BOUND_S, quit_bound, self);
  return G_SOURCE_CONTINUE;
}

static void watch_quit_signals(TandemApplication *self) {
  static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
  for (guint i = 0; i < G_N_ELEMENTS(sigs); i++)
    self->signal_ids[i] = g_unix_signal_add(sigs[i], on_quit_signal, self);
}

static void plug_disks(TandemVm *vm, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data,
                       gpointer data) {
  tandem_disk_manager_plug_restored_async(data, vm, cancellable, callback,
                                          user_data);
}

static gboolean plug_disks_finish(GAsyncResult *result, GError **error,
                                  gpointer data) {
  return tandem_disk_manager_plug_restored_finish(data, result, error);
}

static void on_disk_link_added(TandemGuestHub *hub, const char *vm,
                               TandemGuestLink *link, gpointer data) {
  tandem_disk_manager_watch_link(TANDEM_DISK_MANAGER(data), link);
}

/* The disk manager's way to a VM's agent: the hub's link, if it has one. */
static TandemGuestLink *link_for_vm(const char *vm, gpointer data) {
  return tandem_guest_hub_get_link(data, vm);
}

/* The primary instance's VMs, offered on the bus if there is one. */
static gboolean tandem_application_serve(TandemApplication *self,
                                         GError **error) {
  self->manager = tandem_vm_manager_new(NULL);
  g_signal_connect(self->manager, "vm-state-changed",
                   G_CALLBACK(on_vm_state_changed), self);
  if (!start_guests(self, error))
    return FALSE;
  self->snapshots = tandem_snapshot_manager_new(self->manager);
  self->disks = tandem_disk_manager_new(self->manager, link_for_vm, self->hub);
  /* A restored snapshot gets its network disks back before its memory. */
  tandem_snapshot_manager_set_plug_hook(self->snapshots, plug_disks,
                                        plug_disks_finish, self->disks);
  /* Disks attached at a start are mounted once the guest's agent is there. */
  g_signal_connect_object(self->hub, "link-added",
                          G_CALLBACK(on_disk_link_added), self->disks, 0);
  watch_quit_signals(self);
  g_signal_connect(self->snapshots, "fallback",
                   G_CALLBACK(on_snapshot_fallback), self);
  tandem_guest_hub_set_snapshot_manager(self->hub, self->snapshots);
  if (!self->service)
    return TRUE;
  tandem_dbus_service_set_guest_hub(self->service, self->hub);
  tandem_dbus_service_set_snapshot_manager(self->service, self->snapshots);
  tandem_dbus_service_set_disk_manager(self->service, self->disks);
  if (!tandem_dbus_service_export(self->service, self->manager, error))
    return FALSE;
  g_signal_connect(self->service, "connection-lost",
                   G_CALLBACK(on_connection_lost), self);
  return TRUE;
}

static void tandem_application_activate(GApplication *app) {
  TandemApplication *self = TANDEM_APPLICATION(app);
  GtkWindow *window;

  if (self->skip_first_window) {
    self->skip_first_window = FALSE;
    return;
  }
  window = gtk_application_get_active_window(GTK_APPLICATION(app));
  if (!window) {
    window = GTK_WINDOW(
        tandem_window_new_for_manager(GTK_APPLICATION(app), self->manager));
    tandem_window_set_guest_hub(TANDEM_WINDOW(window), self->hub);
    tandem_window_set_snapshot_manager(TANDEM_WINDOW(window),
                                       self->snapshots);
    tandem_window_set_disk_manager(TANDEM_WINDOW(window), self->disks);
  }
  gtk_window_present(window);
}

static int tandem_application_handle_local_options(GApplication *app,
                                                   GVariantDict *options) {
  TandemApplication *self = TANDEM_APPLICATION(app);
  gboolean service_mode = g_variant_dict_contains(options, "service");
  g_autoptr(GError) error = NULL;
  int status;

  if (g_variant_dict_contains(options, "version")) {
    g_print("tandem %s\n", PACKAGE_VERSION);
    return 0;
  }
  g_variant_dict_lookup(options, "loopback", "^as", &self->loopbacks);
  status = tandem_application_claim_instance(self, service_mode);
  if (status >= 0)
    return status;
  if (!tandem_application_serve(self, &error)) {
    g_printerr("tandem: %s\n", error->message);
    return 1;
  }
  if (service_mode) {
    /* Serve until the session ends, window or not. */
    self->skip_first_window = TRUE;
    g_application_hold(app);
  }
  return -1; /* go on: register, activate */
}

static void tandem_application_shutdown(GApplication *app) {
  TandemApplication *self = TANDEM_APPLICATION(app);

  if (self->service)
    tandem_dbus_service_close(self->service);
  G_APPLICATION_CLASS(tandem_application_parent_class)->shutdown(app);
}

static void tandem_application_dispose(GObject *object) {
  TandemApplication *self = TANDEM_APPLICATION(object);

  for (guint i = 0; i < G_N_ELEMENTS(self->signal_ids); i++)
    g_clear_handle_id(&self->signal_ids[i], g_source_remove);
  g_clear_handle_id(&self->quit_bound_id, g_source_remove);
  /* The service first: its handlers use the managers. */
  g_clear_object(&self->service);
  g_clear_object(&self->snapshots);
  /* Before the hub, whose links it borrows. */
  g_clear_object(&self->disks);
  if (self->manager) {
    g_signal_handlers_disconnect_by_data(self->manager, self);
    g_clear_object(&self->manager);
  }
  g_clear_pointer(&self->proxies, g_hash_table_unref);
  if (self->hub) {
    g_signal_handlers_disconnect_by_data(self->hub, self);
    g_clear_object(&self->hub);
  }
  g_clear_pointer(&self->loopbacks, g_strfreev);
  g_clear_pointer(&self->holding_vms, g_hash_table_unref);
  G_OBJECT_CLASS(tandem_application_parent_class)->dispose(object);
}

static void tandem_application_class_init(TandemApplicationClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS(klass);

  object_class->dispose = tandem_application_dispose;
  app_class->activate = tandem_application_activate;
  app_class->shutdown = tandem_application_shutdown;
  app_class->handle_local_options = tandem_application_handle_local_options;
}

static void tandem_application_init(TandemApplication *self) {
  static const GOptionEntry entries[] = {
      {"version", 0, 0, G_OPTION_ARG_NONE, NULL,
       N_("Print the version and exit"), NULL},
      {"service", 0, 0, G_OPTION_ARG_NONE, NULL,
       N_("Start without a window and serve D-Bus (for D-Bus activation)"),
       NULL},
      {"loopback", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL,
       N_("Also serve a guest without a VM, whose agent connects to SOCKET "
          "(for tests and development)"),
       N_("NAME=SOCKET")},
      {NULL},
  };

  self->holding_vms =
      g_hash_table_new_full(g_direct_hash, g_direct_equal, g_object_unref,
                            NULL);
  self->proxies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        g_object_unref);
  g_application_add_main_option_entries(G_APPLICATION(self), entries);
  g_application_set_option_context_summary(
      G_APPLICATION(self),
      _("Runs a second operating system in a virtual machine and puts its "
        "applications on your desktop."));
}

TandemApplication *tandem_application_new(void) {
  return g_object_new(TANDEM_TYPE_APPLICATION, "application-id",
                      TANDEM_APP_ID, "flags", G_APPLICATION_NON_UNIQUE,
                      NULL);
}
