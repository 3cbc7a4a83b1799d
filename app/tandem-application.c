#include "config.h"

#include "tandem-application.h"

#include "tandem-i18n.h"
#include "tandem-window.h"

struct _TandemApplication {
  GtkApplication parent_instance;
};

G_DEFINE_TYPE(TandemApplication, tandem_application, GTK_TYPE_APPLICATION)

static void tandem_application_activate(GApplication *app) {
  GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(app));

  if (!window)
    window = GTK_WINDOW(tandem_window_new(GTK_APPLICATION(app), NULL));
  gtk_window_present(window);
}

static int tandem_application_handle_local_options(GApplication *app,
                                                   GVariantDict *options) {
  if (g_variant_dict_contains(options, "version")) {
    g_print("tandem %s\n", PACKAGE_VERSION);
    return 0;
  }
  return -1; /* go on: register, activate */
}

static void tandem_application_class_init(TandemApplicationClass *klass) {
  GApplicationClass *app_class = G_APPLICATION_CLASS(klass);

  app_class->activate = tandem_application_activate;
  app_class->handle_local_options = tandem_application_handle_local_options;
}

static void tandem_application_init(TandemApplication *self) {
  static const GOptionEntry entries[] = {
      {"version", 0, 0, G_OPTION_ARG_NONE, NULL,
       N_("Print the version and exit"), NULL},
      {NULL},
  };

  g_application_add_main_option_entries(G_APPLICATION(self), entries);
  g_application_set_option_context_summary(
      G_APPLICATION(self),
      _("Runs a second operating system in a virtual machine and puts its "
        "applications on your desktop."));
}

TandemApplication *tandem_application_new(void) {
  return g_object_new(TANDEM_TYPE_APPLICATION, "application-id",
                      TANDEM_APP_ID, "flags", G_APPLICATION_DEFAULT_FLAGS,
                      NULL);
}
