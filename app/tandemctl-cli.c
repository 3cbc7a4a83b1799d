/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandemctl-cli.h"

#include "tandem-i18n.h"
#include "tandemctl-vm.h"

int tandemctl_usage_error(const char *command, const char *message) {
  /* TRANSLATORS: the first %s is an error, the second a command ("launch")
   * whose help the user should read. */
  g_printerr(_("tandemctl: %s\nRun “tandemctl %s --help” to see how to use "
               "it.\n"),
             message, command);
  return TANDEMCTL_EXIT_USAGE;
}

gboolean tandemctl_parse_command(const char *command, const char *parameter,
                                 const char *summary,
                                 const GOptionEntry *entries,
                                 const char *const *missing,
                                 gboolean more_allowed, int *argc,
                                 char ***argv) {
  g_autofree char *usage = g_strdup_printf("%s %s", command, parameter);
  g_autoptr(GOptionContext) context = g_option_context_new(usage);
  g_autoptr(GError) error = NULL;
  int wanted = (int)g_strv_length((GStrv)missing);

  g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary(context, summary);
  if (!g_option_context_parse(context, argc, argv, &error)) {
    tandemctl_usage_error(command, error->message);
    return FALSE;
  }
  if (*argc - 1 < wanted) {
    tandemctl_usage_error(command, missing[*argc - 1]);
    return FALSE;
  }
  if (*argc - 1 > wanted && !more_allowed) {
    g_autofree char *message =
        /* TRANSLATORS: %s is an argument the command does not take. */
        g_strdup_printf(_("unexpected argument “%s”"), (*argv)[wanted + 1]);
    tandemctl_usage_error(command, message);
    return FALSE;
  }
  return TRUE;
}

int tandemctl_run_group(const TandemctlCommand *commands, gsize n_commands,
                        void (*print_help)(FILE *stream),
                        const char *unknown, int argc, char **argv) {
  const char *command = argc > 1 ? argv[1] : NULL;
  if (!command) {
    print_help(stderr);
    return TANDEMCTL_EXIT_USAGE;
  }
  if (g_str_equal(command, "--help") || g_str_equal(command, "-h") ||
      g_str_equal(command, "help")) {
    print_help(stdout);
    return TANDEMCTL_EXIT_OK;
  }
  /* From here on argv[0] is the command, as GOption expects. */
  for (gsize i = 0; i < n_commands; i++)
    if (g_str_equal(command, commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  /* @unknown is each caller's literal, translated (one %s). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  g_printerr(unknown, command);
#pragma GCC diagnostic pop
  return TANDEMCTL_EXIT_USAGE;
}
