/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl: drive Tandem from scripts and the host's menu entries. Global
 * options here; the commands in their own files (tandemctl-vm.c,
 * tandemctl-guest.c, tandemctl-snapshot.c, tandemctl-storage.c). */
#include "config.h"

#include "tandem-i18n.h"
#include "tandemctl-guest.h"
#include "tandemctl-snapshot.h"
#include "tandemctl-storage.h"
#include "tandemctl-vm.h"

/* Each command gets the arguments from its own name on. */
static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
} commands[] = {
    {"vm", tandemctl_vm_main},
    {"apps", tandemctl_apps_main},
    {"launch", tandemctl_launch_main},
    {"windows", tandemctl_windows_main},
    {"focus", tandemctl_focus_main},
    {"snapshot", tandemctl_snapshot_main},
    {"storage", tandemctl_storage_main},
};

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
  /* Options after the command are the command's own. */
  g_option_context_set_strict_posix(context, TRUE);
  g_option_context_set_summary(
      context, _("Controls Tandem: its virtual machines and their "
                 "applications."));
  g_option_context_set_description(
      context,
      /* TRANSLATORS: keep the command names and options as they are. */
      _("Commands:\n"
        "  vm list                 List the virtual machines\n"
        "  vm create NAME …        Create a virtual machine\n"
        "  vm start NAME           Start a virtual machine\n"
        "  vm stop NAME            Shut a virtual machine down\n"
        "  vm pause NAME           Pause a virtual machine\n"
        "  vm resume NAME          Let a paused virtual machine go on\n"
        "  vm reset NAME           Reset a virtual machine\n"
        "  vm status NAME          Show what a virtual machine is doing\n"
        "  apps VM                 List a virtual machine's applications\n"
        "  launch VM APP [FILE…]   Start one of them, with files to open\n"
        "  windows VM              List its windows on the host\n"
        "  focus VM                Show which of its windows has the focus\n"
        "  snapshot create VM      Take a snapshot of a running virtual "
        "machine\n"
        "  snapshot list VM        List its snapshots\n"
        "  snapshot restore VM ID  Bring it back to a snapshot\n"
        "  snapshot delete VM ID   Delete a snapshot\n"
        "  storage attach VM URI   Attach a network disk (NBD, iSCSI) to a "
        "running virtual machine\n"
        "  storage list VM         List the disks attached to it\n"
        "  storage detach VM NAME  Detach one\n"
        "\n"
        "Run “tandemctl COMMAND --help” (“tandemctl vm COMMAND --help”, "
        "“tandemctl snapshot COMMAND --help”, “tandemctl storage COMMAND "
        "--help”) for a command's options; see tandemctl(1).\n"
        "tandemctl starts Tandem if it is not running."));

  if (!g_option_context_parse(context, &argc, &argv, &error)) {
    /* TRANSLATORS: %s is an error message from the option parser. */
    g_printerr(_("tandemctl: %s\nRun “tandemctl --help” to see the options.\n"),
               error->message);
    return TANDEMCTL_EXIT_USAGE;
  }
  if (version) {
    g_print("tandemctl %s\n", PACKAGE_VERSION);
    return TANDEMCTL_EXIT_OK;
  }
  if (argc < 2) {
    g_autofree char *help = g_option_context_get_help(context, TRUE, NULL);
    g_printerr("%s", help);
    return TANDEMCTL_EXIT_USAGE;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    if (g_str_equal(argv[1], commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  /* TRANSLATORS: %s is the command the user typed. */
  g_printerr(_("tandemctl: unknown command “%s”.\n"
               "Run “tandemctl --help” to see the commands.\n"),
             argv[1]);
  return TANDEMCTL_EXIT_USAGE;
}
