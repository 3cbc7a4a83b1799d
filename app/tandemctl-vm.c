/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl vm COMMAND: each command parses its own options, makes one or
 * two calls to org.tandem.Tandem1.Manager (tandemctl-bus.c) and prints the
 * answer. */
#include "config.h"

#include "tandemctl-vm.h"

#include <stdio.h>

#include "tandem-dbus-service.h"
#include "tandem-i18n.h"
#include "tandemctl-bus.h"
#include "tandemctl-cli.h"

/* Starting a VM under TCG, or a guest taking its time to power down, can
 * take minutes; anything else answers at once unless the shell is stuck. */
#define OPERATION_TIMEOUT_USEC (10 * 60 * G_USEC_PER_SEC)
#define QUERY_TIMEOUT_USEC (30 * G_USEC_PER_SEC)

/* --- The command line -------------------------------------------------- */

static int usage_error(const char *command, const char *message) {
  g_autofree char *full = g_strdup_printf("vm %s", command);
  return tandemctl_usage_error(full, message);
}

/* Parses "vm COMMAND ..." (@argv[0] is COMMAND); @n_args (0 or 1): whether
 * the VM's name is wanted. */
static gboolean parse_command(const char *command, const char *summary,
                              const GOptionEntry *entries, int n_args,
                              int *argc, char ***argv) {
  g_autofree char *full = g_strdup_printf("vm %s", command);
  const char *missing[] = {_("the name of a virtual machine is missing"),
                           NULL};
  if (!n_args)
    missing[0] = NULL;
  return tandemctl_parse_command(full,
                                 /* TRANSLATORS: a vm command's argument in
                                  * its --help output. */
                                 n_args ? _("NAME") : "", summary, entries,
                                 missing, FALSE, argc, argv);
}

/* --- Calls ------------------------------------------------------------- */

static int new_manager_call(sd_bus *bus, const char *method,
                            sd_bus_message **call) {
  return tandemctl_new_call(bus, TANDEM_DBUS_MANAGER_INTERFACE, method, call);
}

/* GetVM as a JSON object, or NULL after printing why not. */
static JsonObject *get_vm(sd_bus *bus, const char *name) {
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(JsonObject) vm = json_object_new();
  int r = new_manager_call(bus, "GetVM", &call);

  if (r >= 0)
    r = sd_bus_message_append(call, "s", name);
  if (r < 0) {
    tandemctl_report_errno(r);
    return NULL;
  }
  reply = tandemctl_call(bus, call, QUERY_TIMEOUT_USEC);
  if (!reply)
    return NULL;
  r = tandemctl_read_properties(reply, vm);
  if (r < 0) {
    tandemctl_report_errno(r);
    return NULL;
  }
  return g_steal_pointer(&vm);
}

static int print_vm(sd_bus *bus, const char *name, gboolean json,
                    gboolean details) {
  g_autoptr(JsonObject) vm = get_vm(bus, name);
  g_autoptr(JsonNode) node = NULL;

  if (!vm)
    return TANDEMCTL_EXIT_FAILED;
  if (!json) {
    tandemctl_print_vm_status(vm, details);
    return TANDEMCTL_EXIT_OK;
  }
  node = json_node_init_object(json_node_alloc(), vm);
  tandemctl_print_json(node);
  return TANDEMCTL_EXIT_OK;
}

/* --- The commands ------------------------------------------------------ */

static int vm_list(int argc, char **argv) {
  gboolean json = FALSE;
  const GOptionEntry entries[] = {TANDEMCTL_JSON_OPTION(json), {NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(JsonArray) vms = json_array_new();
  const char *name, *state, *accelerator;
  int r;

  if (!parse_command("list", _("Lists the virtual machines."), entries, 0,
                     &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  r = new_manager_call(bus, "ListVMs", &call);
  if (r < 0)
    return tandemctl_report_errno(r);
  if (!(reply = tandemctl_call(bus, call, QUERY_TIMEOUT_USEC)))
    return TANDEMCTL_EXIT_FAILED;

  r = sd_bus_message_enter_container(reply, 'a', "(sss)");
  while (r >= 0 && (r = sd_bus_message_read(reply, "(sss)", &name, &state,
                                            &accelerator)) > 0) {
    JsonObject *vm = json_object_new();
    json_object_set_string_member(vm, "name", name);
    json_object_set_string_member(vm, "state", state);
    json_object_set_string_member(vm, "accelerator", accelerator);
    json_array_add_object_element(vms, vm);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container(reply);
  if (r < 0)
    return tandemctl_report_errno(r);

  if (json) {
    g_autoptr(JsonNode) node = json_node_init_array(json_node_alloc(), vms);
    tandemctl_print_json(node);
  } else {
    tandemctl_print_vm_table(vms);
  }
  return TANDEMCTL_EXIT_OK;
}

static int vm_status(int argc, char **argv) {
  gboolean json = FALSE;
  const GOptionEntry entries[] = {TANDEMCTL_JSON_OPTION(json), {NULL}};
  g_autoptr(sd_bus) bus = NULL;

  if (!parse_command("status", _("Shows what a virtual machine is doing."),
                     entries, 1, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  return print_vm(bus, argv[1], json, TRUE);
}

/* Options of "vm create", all as typed; NULL when not given. */
typedef struct {
  char *memory, *cpus, *accelerator, *display;
  char *kernel, *initrd, *cmdline, *image, *image_format;
} CreateOptions;

static void create_options_clear(CreateOptions *options) {
  g_free(options->memory);
  g_free(options->cpus);
  g_free(options->accelerator);
  g_free(options->display);
  g_free(options->kernel);
  g_free(options->initrd);
  g_free(options->cmdline);
  g_free(options->image);
  g_free(options->image_format);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CreateOptions, create_options_clear)

/* Appends {@key: <@value>} unless @value is NULL. Paths are made absolute
 * here: the service would resolve them against the VM's data directory,
 * not where the user stands. */
static int append_option(sd_bus_message *call, const char *key,
                         const char *value, gboolean is_path) {
  g_autofree char *absolute = NULL;

  if (!value)
    return 0;
  if (is_path)
    value = absolute = g_canonicalize_filename(value, NULL);
  return sd_bus_message_append(call, "{sv}", key, "s", value);
}

static int append_create_options(sd_bus_message *call,
                                 const CreateOptions *options,
                                 guint64 cpus) {
  int r = sd_bus_message_open_container(call, 'a', "{sv}");

  if (r >= 0)
    r = append_option(call, "memory", options->memory, FALSE);
  if (r >= 0 && options->cpus)
    r = sd_bus_message_append(call, "{sv}", "cpus", "u", (uint32_t)cpus);
  if (r >= 0)
    r = append_option(call, "accelerator", options->accelerator, FALSE);
  if (r >= 0)
    r = append_option(call, "display", options->display, FALSE);
  if (r >= 0)
    r = append_option(call, "kernel", options->kernel, TRUE);
  if (r >= 0)
    r = append_option(call, "initrd", options->initrd, TRUE);
  if (r >= 0)
    r = append_option(call, "cmdline", options->cmdline, FALSE);
  if (r >= 0)
    r = append_option(call, "image", options->image, TRUE);
  if (r >= 0)
    r = append_option(call, "image-format", options->image_format, FALSE);
  if (r >= 0)
    r = sd_bus_message_close_container(call);
  return r;
}

static int vm_create(int argc, char **argv) {
  g_auto(CreateOptions) options = {NULL};
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
      {"memory", 0, 0, G_OPTION_ARG_STRING, &options.memory,
       N_("Memory, like 512M or 2G (default: 1G)"), N_("SIZE")},
      {"cpus", 0, 0, G_OPTION_ARG_STRING, &options.cpus,
       N_("Number of virtual CPUs (default: 2)"), N_("N")},
      {"accelerator", 0, 0, G_OPTION_ARG_STRING, &options.accelerator,
       N_("auto, kvm or tcg (default: auto)"), N_("ACCELERATOR")},
      {"display", 0, 0, G_OPTION_ARG_STRING, &options.display,
       N_("spice or none (default: spice)"), N_("DISPLAY")},
      {"kernel", 0, 0, G_OPTION_ARG_FILENAME, &options.kernel,
       N_("Boot this Linux kernel"), N_("FILE")},
      {"initrd", 0, 0, G_OPTION_ARG_FILENAME, &options.initrd,
       N_("… with this initial RAM disk"), N_("FILE")},
      {"cmdline", 0, 0, G_OPTION_ARG_STRING, &options.cmdline,
       N_("… and this kernel command line"), N_("TEXT")},
      {"image", 0, 0, G_OPTION_ARG_FILENAME, &options.image,
       N_("Or boot this disk image"), N_("FILE")},
      {"image-format", 0, 0, G_OPTION_ARG_STRING, &options.image_format,
       N_("qcow2 or raw (default: qcow2)"), N_("FORMAT")},
      TANDEMCTL_JSON_OPTION(json),
      {NULL},
  };
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  guint64 cpus = 0;
  int r;

  if (!parse_command("create",
                     _("Creates a virtual machine that boots a Linux kernel "
                       "or a disk image."),
                     entries, 1, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (options.cpus &&
      !g_ascii_string_to_unsigned(options.cpus, 10, 0, G_MAXUINT32, &cpus,
                                  NULL)) {
    g_autofree char *message =
        /* TRANSLATORS: %s is what the user gave for --cpus. */
        g_strdup_printf(_("--cpus “%s” is not a whole number"), options.cpus);
    return usage_error("create", message);
  }
  if (!options.kernel == !options.image)
    return usage_error("create",
                       options.kernel
                           ? _("give --kernel or --image, not both")
                           : _("say what to boot with --kernel or --image"));

  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  r = new_manager_call(bus, "CreateVM", &call);
  if (r >= 0)
    r = sd_bus_message_append(call, "s", argv[1]);
  if (r >= 0)
    r = append_create_options(call, &options, cpus);
  if (r < 0)
    return tandemctl_report_errno(r);
  if (!(reply = tandemctl_call(bus, call, QUERY_TIMEOUT_USEC)))
    return TANDEMCTL_EXIT_FAILED;
  if (json)
    return print_vm(bus, argv[1], TRUE, TRUE);
  /* TRANSLATORS: both %s are the new VM's name. */
  g_print(_("Created “%s”. Start it with “tandemctl vm start %s”.\n"),
          argv[1], argv[1]);
  return TANDEMCTL_EXIT_OK;
}

/* start, stop, pause, resume, reset: one call that answers when it is
 * done, then the VM's new state. */
typedef struct {
  const char *command;
  const char *method;
  const char *summary;
} VmOperation;

static const VmOperation vm_operations[] = {
    {"start", "StartVM", N_("Starts a virtual machine; waits until it runs.")},
    {"stop", "StopVM",
     N_("Shuts a virtual machine down: asks the guest to power off, and "
        "ends QEMU if it does not. Waits until QEMU has exited. With "
        "--save, saves the guest's session instead, and the next start "
        "resumes it where it was.")},
    {"pause", "PauseVM", N_("Pauses a virtual machine.")},
    {"resume", "ResumeVM", N_("Lets a paused virtual machine go on.")},
    {"reset", "ResetVM",
     N_("Resets a virtual machine, like its reset button would.")},
};

static void print_progress(const VmOperation *operation, const char *name) {
  /* TRANSLATORS: shown while tandemctl waits; %s is a VM's name. */
  if (g_str_equal(operation->command, "start"))
    g_printerr(_("Starting “%s”…\n"), name);
  else if (g_str_equal(operation->command, "stop"))
    g_printerr(_("Stopping “%s”…\n"), name);
}

static int vm_operation(const VmOperation *operation, int argc, char **argv) {
  gboolean json = FALSE, force = FALSE, save = FALSE;
  gboolean is_stop = g_str_equal(operation->method, "StopVM");
  GOptionEntry entries[] = {
      TANDEMCTL_JSON_OPTION(json),
      {"force", 0, 0, G_OPTION_ARG_NONE, &force,
       N_("Do not wait for the guest: end QEMU at once"), NULL},
      {"save", 0, 0, G_OPTION_ARG_NONE, &save,
       N_("Save the guest's session; the next start resumes it"), NULL},
      {NULL},
  };
  gboolean long_running = is_stop || g_str_equal(operation->method, "StartVM");
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r;

  if (!is_stop)
    entries[1] = entries[3]; /* --force and --save are stop's alone */
  if (!parse_command(operation->command, _(operation->summary), entries, 1,
                     &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (save && force) {
    g_printerr(_("tandemctl: --save and --force do not go together: a "
                 "session is saved from a running guest.\n"));
    return TANDEMCTL_EXIT_USAGE;
  }
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  if (save) /* the session saved, then QEMU ended */
    r = tandemctl_new_call(bus, TANDEM_DBUS_SNAPSHOTS_INTERFACE, "Suspend",
                           &call);
  else
    r = new_manager_call(bus, operation->method, &call);
  if (r >= 0)
    r = is_stop && !save ? sd_bus_message_append(call, "sb", argv[1], force)
                         : sd_bus_message_append(call, "s", argv[1]);
  if (r < 0)
    return tandemctl_report_errno(r);
  print_progress(operation, argv[1]);
  reply = tandemctl_call(bus, call, long_running ? OPERATION_TIMEOUT_USEC
                                               : QUERY_TIMEOUT_USEC);
  if (!reply)
    return TANDEMCTL_EXIT_FAILED;
  return print_vm(bus, argv[1], json, FALSE);
}

/* --- tandemctl vm ------------------------------------------------------ */

static void print_vm_help(FILE *stream) {
  g_autofree char *text = g_strdup_printf(
      "%s\n  tandemctl vm %s\n\n%s\n",
      /* TRANSLATORS: the start of "tandemctl vm"'s help, like GLib's. */
      _("Usage:"), _("COMMAND [ARGUMENTS…]"),
      /* TRANSLATORS: keep the command names as they are. */
      _("Commands:\n"
        "  list                List the virtual machines\n"
        "  create NAME …       Create a virtual machine\n"
        "  start NAME          Start a virtual machine\n"
        "  stop NAME           Shut a virtual machine down\n"
        "  pause NAME          Pause a virtual machine\n"
        "  resume NAME         Let a paused virtual machine go on\n"
        "  reset NAME          Reset a virtual machine\n"
        "  status NAME         Show what a virtual machine is doing\n"
        "\n"
        "Every command takes --help, and --json for output to scripts."));
  if (stream == stdout)
    g_print("%s", text);
  else
    g_printerr("%s", text);
}

int tandemctl_vm_main(int argc, char **argv) {
  const char *command = argc > 1 ? argv[1] : NULL;

  if (!command) {
    print_vm_help(stderr);
    return TANDEMCTL_EXIT_USAGE;
  }
  if (g_str_equal(command, "--help") || g_str_equal(command, "-h") ||
      g_str_equal(command, "help")) {
    print_vm_help(stdout);
    return TANDEMCTL_EXIT_OK;
  }
  /* From here on argv[0] is the command, as GOption expects. */
  if (g_str_equal(command, "list"))
    return vm_list(argc - 1, argv + 1);
  if (g_str_equal(command, "create"))
    return vm_create(argc - 1, argv + 1);
  if (g_str_equal(command, "status"))
    return vm_status(argc - 1, argv + 1);
  for (gsize i = 0; i < G_N_ELEMENTS(vm_operations); i++)
    if (g_str_equal(command, vm_operations[i].command))
      return vm_operation(&vm_operations[i], argc - 1, argv + 1);
  /* TRANSLATORS: %s is the command the user typed after "vm". */
  g_printerr(_("tandemctl: unknown command “vm %s”.\n"
               "Run “tandemctl vm --help” to see the commands.\n"),
             command);
  return TANDEMCTL_EXIT_USAGE;
}
