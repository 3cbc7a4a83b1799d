/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem: the desktop shell. Everything but this lives in libtandem-app. */
#include "config.h"

#include "tandem-application.h"
#include "tandem-i18n.h"

int main(int argc, char **argv) {
  g_autoptr(TandemApplication) app = NULL;

  tandem_i18n_init();
  /* WM_CLASS becomes the application id, so docks and task bars match our
   * windows to org.tandem.Tandem.desktop (StartupWMClass there). */
  g_set_prgname(TANDEM_APP_ID);
  g_set_application_name(_("Tandem"));
  app = tandem_application_new();
  return g_application_run(G_APPLICATION(app), argc, argv);
}
