/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What tandemctl's vm commands print: JSON for scripts, sentences and a
 * table for people, from the objects tandemctl-vm.c made of the Manager's
 * replies; and the JSON and tables of the other commands. */
#include "config.h"

#include "tandem-i18n.h"
#include "tandem-protocol.h"
#include "tandemctl-vm.h"

void tandemctl_print_json(JsonNode *node) {
  g_autoptr(JsonGenerator) generator = json_generator_new();
  g_autofree char *text = NULL;

  json_generator_set_pretty(generator, TRUE);
  json_generator_set_indent(generator, 2);
  json_generator_set_root(generator, node);
  text = json_generator_to_data(generator, NULL);
  g_print("%s\n", text);
}

/* States and accelerators as the Manager names them, in the user's
 * language for people; unknown ones (a newer service) as they come. */
static const char *state_label(const char *state) {
  if (g_str_equal(state, "stopped"))
    return C_("VM state", "stopped");
  if (g_str_equal(state, "starting"))
    return C_("VM state", "starting");
  if (g_str_equal(state, "running"))
    return C_("VM state", "running");
  if (g_str_equal(state, "paused"))
    return C_("VM state", "paused");
  if (g_str_equal(state, "stopping"))
    return C_("VM state", "stopping");
  if (g_str_equal(state, "crashed"))
    return C_("VM state", "crashed");
  return state;
}

static const char *accelerator_label(const char *accelerator) {
  if (g_str_equal(accelerator, "kvm"))
    return "KVM";
  if (g_str_equal(accelerator, "tcg"))
    return "TCG";
  if (g_str_equal(accelerator, "auto"))
    /* TRANSLATORS: the accelerator is chosen when the VM starts. */
    return C_("accelerator", "auto");
  return accelerator;
}

static const char *member_string(JsonObject *object, const char *member) {
  return json_object_get_string_member_with_default(object, member, "");
}

/* Pads @text to @width characters (not bytes: names may be any UTF-8). */
static void print_cell(const char *text, glong width, gboolean last) {
  if (last) {
    g_print("%s\n", text);
    return;
  }
  g_print("%s%*s", text, (int)MAX(width - g_utf8_strlen(text, -1), 0) + 2,
          "");
}

void tandemctl_print_table(const char *const *headers, guint n_columns,
                           const char *const *cells, guint n_rows) {
  g_autofree glong *widths = g_new0(glong, n_columns);

  for (guint row = 0; row <= n_rows; row++)
    for (guint column = 0; column < n_columns; column++) {
      const char *text = row ? cells[(row - 1) * n_columns + column]
                             : headers[column];
      widths[column] = MAX(widths[column], g_utf8_strlen(text, -1));
    }
  for (guint row = 0; row <= n_rows; row++)
    for (guint column = 0; column < n_columns; column++) {
      const char *text = row ? cells[(row - 1) * n_columns + column]
                             : headers[column];
      print_cell(text, widths[column], column + 1 == n_columns);
    }
}

void tandemctl_print_vm_table(JsonArray *vms) {
  const char *headers[] = {
      /* TRANSLATORS: column headers of "tandemctl vm list". */
      _("NAME"), _("STATE"), _("ACCELERATOR"),
  };
  guint n = json_array_get_length(vms);
  g_autofree const char **cells = g_new0(const char *, 3 * (gsize)n);
  glong widths[3];

  if (n == 0) {
    g_print(_("There are no virtual machines yet. Create one with "
              "“tandemctl vm create”.\n"));
    return;
  }
  for (int column = 0; column < 3; column++)
    widths[column] = g_utf8_strlen(headers[column], -1);
  for (guint i = 0; i < n; i++) {
    JsonObject *vm = json_array_get_object_element(vms, i);
    cells[3 * i] = member_string(vm, "name");
    cells[3 * i + 1] = state_label(member_string(vm, "state"));
    cells[3 * i + 2] = accelerator_label(member_string(vm, "accelerator"));
    for (int column = 0; column < 3; column++)
      widths[column] =
          MAX(widths[column], g_utf8_strlen(cells[3 * i + column], -1));
  }
  for (int column = 0; column < 3; column++)
    print_cell(headers[column], widths[column], column == 2);
  for (guint i = 0; i < n; i++)
    for (int column = 0; column < 3; column++)
      print_cell(cells[3 * i + column], widths[column], column == 2);
}

static void print_state_sentence(const char *name, const char *state,
                                 const char *accelerator) {
  const char *accel = accelerator_label(accelerator);

  /* TRANSLATORS: in the sentences below, the first %s is a VM's name and
   * the second its accelerator, "KVM" or "TCG". */
  if (g_str_equal(state, "running"))
    g_print(_("“%s” is running (%s).\n"), name, accel);
  else if (g_str_equal(state, "paused"))
    g_print(_("“%s” is paused (%s).\n"), name, accel);
  else if (g_str_equal(state, "stopped"))
    g_print(_("“%s” is stopped.\n"), name);
  else if (g_str_equal(state, "starting"))
    g_print(_("“%s” is starting.\n"), name);
  else if (g_str_equal(state, "stopping"))
    g_print(_("“%s” is shutting down.\n"), name);
  else if (g_str_equal(state, "crashed"))
    g_print(_("“%s” has crashed.\n"), name);
  else
    /* TRANSLATORS: a VM's name and a state this tandemctl does not know. */
    g_print(_("“%s” is %s.\n"), name, state);
}

/* Multi-line text (a crash report), indented under its label. */
static void print_indented(const char *text) {
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

  for (char **line = lines; *line; line++)
    if (**line)
      g_print("    %s\n", *line);
}

void tandemctl_print_vm_status(JsonObject *vm, gboolean details) {
  const char *state = member_string(vm, "state");
  const char *reason = member_string(vm, "accelerator-reason");
  const char *runtime_dir = member_string(vm, "runtime-dir");
  const char *crash_report = member_string(vm, "crash-report");
  gint64 pid = json_object_get_int_member_with_default(vm, "pid", 0);
  g_autofree char *memory = NULL;

  print_state_sentence(member_string(vm, "name"), state,
                       member_string(vm, "accelerator"));
  if (!details)
    return;
  memory = g_format_size_full(
      (guint64)json_object_get_int_member_with_default(vm, "memory", 0),
      G_FORMAT_SIZE_IEC_UNITS);
  /* TRANSLATORS: the details "tandemctl vm status" shows; keep the two
   * leading spaces. */
  g_print(_("  Memory: %s\n"), memory);
  g_print(_("  CPUs: %u\n"),
          (unsigned)json_object_get_int_member_with_default(vm, "cpus", 0));
  if (*reason)
    g_print(_("  Accelerator: %s (%s)\n"),
            accelerator_label(member_string(vm, "accelerator")), reason);
  else
    g_print(_("  Accelerator: %s\n"),
            accelerator_label(member_string(vm, "accelerator")));
  if (pid > 0)
    g_print(_("  QEMU process: %u\n"), (unsigned)pid);
  if (*runtime_dir)
    g_print(_("  Runtime directory: %s\n"), runtime_dir);
  const char *pixels = member_string(vm, "pixels");
  if (g_str_equal(pixels, "shared-memory"))
    g_print(_("  Window pixels: in memory shared with the guest\n"));
  else if (g_str_equal(pixels, "channel"))
    g_print(_("  Window pixels: through the agent's channel (no shared "
              "memory)\n"));
  const char *agent = member_string(vm, "agent");
  guint agent_protocol =
      (guint)json_object_get_int_member_with_default(vm, "agent-protocol", 0);
  if (*agent) {
    const char *os = member_string(vm, "agent-os");
    if (*os)
      g_print(_("  Agent: %s on %s (protocol %u)\n"), agent, os,
              agent_protocol);
    else
      g_print(_("  Agent: %s (protocol %u)\n"), agent, agent_protocol);
    if (agent_protocol < TP_PROTOCOL_VERSION)
      g_print(_("  The agent is older than this Tandem (protocol %u): "
                "install this Tandem's tandem-agent package in the guest\n"),
              TP_PROTOCOL_VERSION);
  }
  const char *sandbox = member_string(vm, "sandbox");
  if (g_str_equal(sandbox, "seccomp"))
    g_print(_("  Sandbox: QEMU's seccomp filter (no new programs, no "
              "privilege changes)\n"));
  else if (g_str_equal(sandbox, "none"))
    g_print(_("  Sandbox: none (this QEMU refuses -sandbox; its log says "
              "why)\n"));
  if (*crash_report) {
    g_print(_("  Crash report:\n"));
    print_indented(crash_report);
  }
}
