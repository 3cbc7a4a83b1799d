/* tandemctl: drive Tandem from scripts and the host's menu entries. */
#include "config.h"

#include "tandem-i18n.h"

#include <stdio.h>

int main(int argc, char **argv) {
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
      {"version", 0, 0, G_OPTION_ARG_NONE, &version,
       N_("Print the version and exit"), NULL},
      {NULL},
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;

  tandem_i18n_init();
  /* TRANSLATORS: the parameter of tandemctl in its --help output. */
  context = g_option_context_new(_("COMMAND [ARGUMENTS…]"));
  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary(
      context, _("Controls Tandem: its virtual machines and their "
                 "applications."));
  g_option_context_set_description(
      context, _("Commands are added as Tandem grows; see tandemctl(1)."));

  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    /* TRANSLATORS: %s is an error message from the option parser. */
    g_printerr(_("tandemctl: %s\nRun “tandemctl --help” to see the options.\n"),
               error->message);
    return 2;
  }
  if (version) {
    g_print("tandemctl %s\n", PACKAGE_VERSION);
    return 0;
  }
  if (argc < 2) {
    g_autofree char *help = g_option_context_get_help(context, TRUE, NULL);
    g_printerr("%s", help);
    return 2;
  }
  /* TRANSLATORS: %s is the command the user typed. */
  g_printerr(_("tandemctl: unknown command “%s”.\n"
               "Run “tandemctl --help” to see the commands.\n"),
             argv[1]);
  return 2;
}
