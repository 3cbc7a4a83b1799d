#include "config.h"

#include "tandem-application.h"

#include "tandem-dbus-service.h"
#include "tandem-i18n.h"
#include "tandem-window.h"

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

static void on_connection_lost(TandemDbusService *service,
                               TandemApplication *self) {
  /* The session is ending (the bus daemon went away): nothing could reach
   * us any more, and a second start would become a second instance. */
  g_application_quit(G_APPLICATION(self));
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

/* The primary instance's VMs, offered on the bus if there is one. */
static gboolean tandem_application_serve(TandemApplication *self,
                                         GError **error) {
  self->manager = tandem_vm_manager_new(NULL);
  g_signal_connect(self->manager, "vm-state-changed",
                   G_CALLBACK(on_vm_state_changed), self);
  if (!self->service)
    return TRUE;
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
  if (!window)
    window = GTK_WINDOW(
        tandem_window_new_for_manager(GTK_APPLICATION(app), self->manager));
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

  /* The service first: its handlers use the manager. */
  g_clear_object(&self->service);
  if (self->manager) {
    g_signal_handlers_disconnect_by_data(self->manager, self);
    g_clear_object(&self->manager);
  }
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
      {NULL},
  };

  self->holding_vms =
      g_hash_table_new_full(g_direct_hash, g_direct_equal, g_object_unref,
                            NULL);
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
