/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl storage attach, detach and list: a client of
 * org.tandem.Tandem1.Storage (tandemctl-bus.c).
 *
 * attach and detach wait for the shell's answer, which comes once the
 * guest has the disk (mounted if it could be) or has let it go; a line on
 * standard error says so meanwhile. The result goes to standard output. */
#include "config.h"

#include "tandemctl-storage.h"

#include <stdio.h>

#include "tandem-dbus-service.h"
#include "tandem-i18n.h"
#include "tandemctl-bus.h"
#include "tandemctl-cli.h"
#include "tandemctl-vm.h"

/* Attaching waits for QEMU, a server that may be slow to answer and the
 * guest's agent; detaching for the guest to unmount and release the
 * device. Anything else answers at once unless the shell is stuck. */
#define OPERATION_TIMEOUT_USEC (5 * 60 * G_USEC_PER_SEC)
#define QUERY_TIMEOUT_USEC (30 * G_USEC_PER_SEC)

/* --- The command line -------------------------------------------------- */

/* Parses "storage COMMAND VM [ARG]" (@argv[0] is COMMAND): the VM, and
 * when @second_missing is given a second argument, missing with that
 * message. */
static gboolean parse_command(const char *command, const char *parameter,
                              const char *summary,
                              const GOptionEntry *entries,
                              const char *second_missing, int *argc,
                              char ***argv) {
  g_autofree char *full = g_strdup_printf("storage %s", command);
  const char *missing[] = {_("the name of a virtual machine is missing"),
                           second_missing, NULL};

  return tandemctl_parse_command(full, parameter, summary, entries, missing,
                                 FALSE, argc, argv);
}

/* --- Words for people -------------------------------------------------- */

/* The buses, states and mount states as the interface names them, in the
 * user's language; unknown ones (a newer shell) as they come. */
static const char *bus_label(const char *bus) {
  if (g_str_equal(bus, "nvme"))
    return "NVMe";
  if (g_str_equal(bus, "virtio"))
    return "virtio";
  return bus;
}

static const char *state_label(const char *state) {
  if (g_str_equal(state, "attaching"))
    /* TRANSLATORS: a disk's state in "tandemctl storage list". */
    return C_("disk state", "attaching");
  if (g_str_equal(state, "attached"))
    return C_("disk state", "attached");
  if (g_str_equal(state, "detaching"))
    return C_("disk state", "detaching");
  if (g_str_equal(state, "failed"))
    return C_("disk state", "failed");
  if (g_str_equal(state, "degraded"))
    return C_("disk state", "degraded");
  if (g_str_equal(state, "reconnecting"))
    return C_("disk state", "reconnecting");
  return state;
}

static const char *mount_label(const char *mount) {
  if (g_str_equal(mount, "none"))
    /* TRANSLATORS: whether a disk is mounted in the guest, in "tandemctl
     * storage list". */
    return C_("disk mount", "not mounted");
  if (g_str_equal(mount, "no-filesystem"))
    return C_("disk mount", "no file system");
  if (g_str_equal(mount, "failed"))
    return C_("disk mount", "mount failed");
  if (g_str_equal(mount, "no-agent"))
    return C_("disk mount", "no agent");
  return mount;
}

static const char *member_string(JsonObject *object, const char *member) {
  return json_object_get_string_member_with_default(object, member, "");
}

static guint64 member_size(JsonObject *object, const char *member) {
  return (guint64)MAX(
      json_object_get_int_member_with_default(object, member, 0), 0);
}

static gboolean is_mounted(JsonObject *disk) {
  return g_str_equal(member_string(disk, "mount"), "mounted");
}

/* "attached as NVMe", "attached read-only as virtio". */
static char *describe_attachment(JsonObject *disk) {
  const char *bus = bus_label(member_string(disk, "bus"));

  if (json_object_get_boolean_member_with_default(disk, "read-only", FALSE))
    /* TRANSLATORS: %s is a bus: "NVMe" or "virtio". */
    return g_strdup_printf(_("attached read-only as %s"), bus);
  /* TRANSLATORS: %s is a bus: "NVMe" or "virtio". */
  return g_strdup_printf(_("attached as %s"), bus);
}

/* Attach's answer in a line: where the guest mounted the disk, or why it
 * did not (the shell's message says why when it is not one of ours). */
static void print_attached(JsonObject *disk) {
  const char *name = member_string(disk, "name");
  const char *mount = member_string(disk, "mount");
  const char *message = member_string(disk, "message");
  g_autofree char *how = describe_attachment(disk);

  if (is_mounted(disk)) {
    g_autofree char *free_text = g_format_size(member_size(disk, "free-bytes"));
    const char *fs = member_string(disk, "fs-type");
    if (*fs)
      /* TRANSLATORS: a disk's name, how it is attached ("attached as
       * NVMe"), where the guest mounted it, its file system ("ext4"), its
       * free space ("1.2 GB"). */
      g_print(_("%s: %s, mounted at %s (%s, %s free)\n"), name, how,
              member_string(disk, "mountpoint"), fs, free_text);
    else
      /* TRANSLATORS: as above, without the file system. */
      g_print(_("%s: %s, mounted at %s (%s free)\n"), name, how,
              member_string(disk, "mountpoint"), free_text);
  } else if (g_str_equal(mount, "no-filesystem")) {
    /* TRANSLATORS: a disk's name, how it is attached ("attached as
     * NVMe"). */
    g_print(_("%s: %s; the disk has no file system, nothing was "
              "formatted\n"),
            name, how);
  } else if (g_str_equal(mount, "no-agent")) {
    /* TRANSLATORS: a disk's name, how it is attached ("attached as
     * NVMe"). */
    g_print(_("%s: %s; it was not mounted: the virtual machine has no "
              "agent that can mount it\n"),
            name, how);
  } else if (*message) {
    /* TRANSLATORS: a disk's name, how it is attached ("attached as
     * NVMe"), why it is not mounted. */
    g_print(_("%s: %s, not mounted: %s\n"), name, how, message);
  } else if (g_str_equal(mount, "failed")) {
    /* TRANSLATORS: a disk's name, how it is attached ("attached as
     * NVMe"). */
    g_print(_("%s: %s; the guest could not mount it\n"), name, how);
  } else {
    /* TRANSLATORS: a disk's name, how it is attached ("attached as
     * NVMe"). */
    g_print(_("%s: %s, not mounted\n"), name, how);
  }
}

static void print_disks(const char *vm, JsonArray *disks) {
  const char *headers[] = {
      /* TRANSLATORS: column headers of "tandemctl storage list". */
      _("NAME"), _("STATE"), _("BUS"), _("MOUNT"), _("FS"), _("FREE"),
      _("URI"),
  };
  guint n = json_array_get_length(disks);
  g_autofree const char **cells = g_new0(const char *, 7 * (gsize)n);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);

  if (n == 0) {
    /* TRANSLATORS: both %s are a VM's name; keep the command as it is. */
    g_print(_("“%s” has no disks attached. Attach one with “tandemctl "
              "storage attach %s URI”.\n"),
            vm, vm);
    return;
  }
  for (guint i = 0; i < n; i++) {
    JsonObject *disk = json_array_get_object_element(disks, i);
    gboolean mounted = is_mounted(disk);
    const char *fs = member_string(disk, "fs-type");
    char *free_text = mounted ? g_format_size(member_size(disk, "free-bytes"))
                              : g_strdup("-");
    const char *bus_text = bus_label(member_string(disk, "bus"));
    char *bus =
        json_object_get_boolean_member_with_default(disk, "read-only", FALSE)
            /* TRANSLATORS: a bus ("NVMe") of a disk attached read-only, in
             * "tandemctl storage list". */
            ? g_strdup_printf(_("%s, read-only"), bus_text)
            : g_strdup(bus_text);

    g_ptr_array_add(texts, free_text);
    g_ptr_array_add(texts, bus);
    cells[7 * i] = member_string(disk, "name");
    cells[7 * i + 1] = state_label(member_string(disk, "state"));
    cells[7 * i + 2] = bus;
    cells[7 * i + 3] = mounted ? member_string(disk, "mountpoint")
                               : mount_label(member_string(disk, "mount"));
    cells[7 * i + 4] = mounted && *fs ? fs : "-";
    cells[7 * i + 5] = free_text;
    const char *mirror = member_string(disk, "mirror");
    if (*mirror) {
      /* TRANSLATORS: the two addresses of a mirrored disk. */
      char *both = g_strdup_printf(_("%s + %s"), member_string(disk, "uri"),
                                   mirror);
      g_ptr_array_add(texts, both);
      cells[7 * i + 6] = both;
    } else {
      cells[7 * i + 6] = member_string(disk, "uri");
    }
  }
  tandemctl_print_table(headers, 7, cells, n);
}

static void print_json_object(JsonObject *object) {
  g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), object);
  tandemctl_print_json(node);
}

/* --- Calls ------------------------------------------------------------- */

/* List's aa{sv} as an array of objects with the interface's keys, or NULL
 * after printing why not. */
static JsonArray *list_disks(sd_bus *bus, const char *vm) {
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(JsonArray) disks = json_array_new();
  int r = tandemctl_new_call(bus, TANDEM_DBUS_STORAGE_INTERFACE, "List",
                             &call);

  if (r >= 0)
    r = sd_bus_message_append(call, "s", vm);
  if (r < 0) {
    tandemctl_report_errno(r);
    return NULL;
  }
  if (!(reply = tandemctl_call(bus, call, QUERY_TIMEOUT_USEC)))
    return NULL;
  r = sd_bus_message_enter_container(reply, 'a', "a{sv}");
  while (r >= 0 && (r = sd_bus_message_at_end(reply, 0)) == 0) {
    JsonObject *disk = json_object_new();
    r = tandemctl_read_properties(reply, disk);
    json_array_add_object_element(disks, disk);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container(reply);
  if (r < 0) {
    tandemctl_report_errno(r);
    return NULL;
  }
  return g_steal_pointer(&disks);
}

/* --- The commands ------------------------------------------------------ */

static int storage_attach(int argc, char **argv) {
  g_autofree char *as = NULL, *name = NULL, *mirror = NULL;
  gboolean read_only = FALSE, json = FALSE;
  const GOptionEntry entries[] = {
      {"mirror", 0, 0, G_OPTION_ARG_STRING, &mirror,
       N_("A second export of the same size that mirrors the first: the "
          "guest sees one disk, which goes on working when either server "
          "is lost"),
       N_("URI")},
      {"as", 0, 0, G_OPTION_ARG_STRING, &as,
       N_("How the guest sees the disk: nvme (the default) or virtio"),
       N_("BUS")},
      {"name", 0, 0, G_OPTION_ARG_STRING, &name,
       N_("The disk's name, and its mount point's: up to 32 letters, "
          "digits, ., _ and - (default: from the address)"),
       N_("NAME")},
      {"read-only", 0, 0, G_OPTION_ARG_NONE, &read_only,
       N_("Attach it read-only: the guest cannot write to it"), NULL},
      TANDEMCTL_JSON_OPTION(json),
      {NULL},
  };
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(JsonObject) disk = json_object_new();
  int r;

  if (!parse_command(
          "attach",
          /* TRANSLATORS: attach's arguments in its --help. */
          _("VM URI"),
          _("Attaches a disk that a server exports over the network to a "
            "running virtual machine, as a local disk of its own. URI is "
            "nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH or "
            "iscsi://HOST[:PORT]/TARGET/LUN. The guest mounts its file "
            "system under /media/tandem/NAME; nothing is ever formatted. "
            "Waits until the guest has the disk."),
          entries,
          /* TRANSLATORS: keep the example as it is. */
          _("the disk's address is missing, like nbd://server/export"), &argc,
          &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (as && !g_str_equal(as, "nvme") && !g_str_equal(as, "virtio")) {
    g_autofree char *message =
        /* TRANSLATORS: %s is what was given; keep nvme and virtio. */
        g_strdup_printf(_("--as takes nvme or virtio, not “%s”"), as);
    return tandemctl_usage_error("storage attach", message);
  }
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  r = tandemctl_new_call(bus, TANDEM_DBUS_STORAGE_INTERFACE,
                         mirror ? "AttachMirrored" : "Attach", &call);
  if (r >= 0 && mirror)
    r = sd_bus_message_append(call, "sssssb", argv[1], argv[2], mirror,
                              as ? as : "", name ? name : "", read_only);
  else if (r >= 0)
    r = sd_bus_message_append(call, "ssssb", argv[1], argv[2],
                              as ? as : "", name ? name : "", read_only);
  if (r < 0)
    return tandemctl_report_errno(r);
  /* TRANSLATORS: shown while tandemctl waits; a disk's address, a VM's
   * name. */
  g_printerr(_("Attaching “%s” to “%s”…\n"), argv[2], argv[1]);
  if (!(reply = tandemctl_call(bus, call, OPERATION_TIMEOUT_USEC)))
    return TANDEMCTL_EXIT_FAILED;
  r = tandemctl_read_properties(reply, disk);
  if (r < 0)
    return tandemctl_report_errno(r);
  if (json)
    print_json_object(disk);
  else
    print_attached(disk);
  return TANDEMCTL_EXIT_OK;
}

static int storage_detach(int argc, char **argv) {
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
      {"force", 0, 0, G_OPTION_ARG_NONE, &force,
       N_("Detach it even while programs in the guest have files open on "
          "it (what they have not written is lost)"),
       NULL},
      {NULL},
  };
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r;

  if (!parse_command(
          "detach",
          /* TRANSLATORS: detach's arguments in its --help. */
          _("VM NAME"),
          _("Detaches a disk from a virtual machine: the guest writes out "
            "what it holds and unmounts it, then the device goes. A disk "
            "that programs in the guest have files open on is refused "
            "(they are named) unless --force is given. Waits until the "
            "disk is gone."),
          entries,
          /* TRANSLATORS: keep the command as it is. */
          _("the disk's name is missing; “tandemctl storage list VM” shows "
            "them"),
          &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  r = tandemctl_new_call(bus, TANDEM_DBUS_STORAGE_INTERFACE, "Detach",
                         &call);
  if (r >= 0)
    r = sd_bus_message_append(call, "ssb", argv[1], argv[2], force);
  if (r < 0)
    return tandemctl_report_errno(r);
  /* TRANSLATORS: shown while tandemctl waits; a disk's name, a VM's
   * name. */
  g_printerr(_("Detaching “%s” from “%s”…\n"), argv[2], argv[1]);
  if (!(reply = tandemctl_call(bus, call, OPERATION_TIMEOUT_USEC)))
    return TANDEMCTL_EXIT_FAILED;
  /* TRANSLATORS: a disk's name, a VM's name. */
  g_print(_("Detached “%s” from “%s”.\n"), argv[2], argv[1]);
  return TANDEMCTL_EXIT_OK;
}

static int storage_list(int argc, char **argv) {
  gboolean json = FALSE;
  const GOptionEntry entries[] = {TANDEMCTL_JSON_OPTION(json), {NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(JsonArray) disks = NULL;

  if (!parse_command("list", _("VM"),
                     _("Lists the disks attached to a virtual machine, in "
                       "the order they were attached: their state, bus, "
                       "where the guest mounted them, their file system, "
                       "free space and address."),
                     entries, NULL, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  if (!(disks = list_disks(bus, argv[1])))
    return TANDEMCTL_EXIT_FAILED;
  if (json) {
    g_autoptr(JsonNode) node = json_node_init_array(json_node_alloc(), disks);
    tandemctl_print_json(node);
  } else {
    print_disks(argv[1], disks);
  }
  return TANDEMCTL_EXIT_OK;
}

/* --- tandemctl storage ------------------------------------------------- */

static void print_storage_help(FILE *stream) {
  g_autofree char *text = g_strdup_printf(
      "%s\n  tandemctl storage %s\n\n%s\n", _("Usage:"),
      _("COMMAND [ARGUMENTS…]"),
      /* TRANSLATORS: keep the command names and options as they are. */
      _("Commands:\n"
        "  attach VM URI [--mirror URI] [--as nvme|virtio] [--name NAME]\n"
        "         [--read-only]\n"
        "                       Attach a network disk (NBD, iSCSI) to a "
        "running virtual machine\n"
        "  detach VM NAME [--force]\n"
        "                       Detach a disk from a virtual machine\n"
        "  list VM              List the disks attached to a virtual "
        "machine\n"
        "\n"
        "URI is nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH or "
        "iscsi://HOST[:PORT]/TARGET/LUN.\n"
        "Every command takes --help; attach and list take --json for "
        "scripts."));
  if (stream == stdout)
    g_print("%s", text);
  else
    g_printerr("%s", text);
}

int tandemctl_storage_main(int argc, char **argv) {
  static const TandemctlCommand commands[] = {
      {"attach", storage_attach},
      {"detach", storage_detach},
      {"list", storage_list},
  };
  /* TRANSLATORS: %s is the command the user typed after "storage". */
  return tandemctl_run_group(
      commands, G_N_ELEMENTS(commands), print_storage_help,
      _("tandemctl: unknown command “storage %s”.\n"
        "Run “tandemctl storage --help” to see the commands.\n"),
      argc, argv);
}
