/* tandem: the desktop shell. Everything but this lives in libtandem-app. */
#include "config.h"

#include "tandem-application.h"
#include "tandem-i18n.h"

int main(int argc, char **argv) {
  g_autoptr(TandemApplication) app = NULL;

  tandem_i18n_init();
  g_set_application_name(_("Tandem"));
  app = tandem_application_new();
  return g_application_run(G_APPLICATION(app), argc, argv);
}
