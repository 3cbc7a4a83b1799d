/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl snapshot create, list, restore, delete and schedule: a client of
 * org.tandem.Tandem1.Snapshots (tandemctl-bus.c).
 *
 * create and restore are the ones that wait: under TCG they take seconds
 * to minutes. Meanwhile the shell's Progress signals are shown on standard
 * error: as a bar redrawn in place when that is a terminal, as a line per
 * step (and per tenth of the memory saved) otherwise, so that logs stay
 * readable. The result goes to standard output. */
#include "config.h"

#include "tandemctl-snapshot.h"

#include <stdio.h>
#include <unistd.h>

#include "tandem-dbus-service.h"
#include "tandem-i18n.h"
#include "tandem-vm-config.h"
#include "tandemctl-bus.h"
#include "tandemctl-cli.h"
#include "tandemctl-vm.h"

/* Taking or restoring a snapshot copies the guest's memory, which under
 * TCG with a big guest can take minutes; anything else answers at once
 * unless the shell is stuck. */
#define OPERATION_TIMEOUT_USEC (30 * 60 * G_USEC_PER_SEC)
#define QUERY_TIMEOUT_USEC (30 * G_USEC_PER_SEC)

/* The progress bar's width in characters. */
#define BAR_WIDTH 24

/* --- The command line -------------------------------------------------- */

/* Parses "snapshot COMMAND VM [ID]" (@argv[0] is COMMAND): the VM, and
 * with @wants_id the snapshot's id. */
static gboolean parse_command(const char *command, const char *parameter,
                              const char *summary,
                              const GOptionEntry *entries, gboolean wants_id,
                              int *argc, char ***argv) {
  g_autofree char *full = g_strdup_printf("snapshot %s", command);
  const char *missing[] = {
      _("the name of a virtual machine is missing"),
      /* TRANSLATORS: keep the command as it is. */
      _("the snapshot's id is missing; “tandemctl snapshot list VM” shows "
        "them"),
      NULL};

  if (!wants_id)
    missing[1] = NULL;
  return tandemctl_parse_command(full, parameter, summary, entries, missing,
                                 FALSE, argc, argv);
}

/* --- Words for people -------------------------------------------------- */

/* The methods and phases as the interface names them, in the user's
 * language; unknown ones (a newer shell) as they come. */
static const char *method_label(const char *method) {
  if (g_str_equal(method, "background"))
    /* TRANSLATORS: how a snapshot was taken: while the guest ran on. */
    return C_("snapshot method", "background");
  if (g_str_equal(method, "stopped"))
    /* TRANSLATORS: how a snapshot was taken: with the guest paused while
     * its memory was copied. */
    return C_("snapshot method", "stopped");
  if (g_str_equal(method, "live"))
    /* TRANSLATORS: how a snapshot was taken: a live pre-copy, the guest
     * running while its memory was copied and paused for the last pages. */
    return C_("snapshot method", "live");
  return method;
}

/* NULL for the phases the result tells ("done", "failed"). */
static const char *phase_label(const char *phase) {
  if (g_str_equal(phase, "preparing"))
    /* TRANSLATORS: what a snapshot being taken or restored is doing. */
    return _("Preparing");
  if (g_str_equal(phase, "saving"))
    return _("Saving memory");
  if (g_str_equal(phase, "finishing"))
    return _("Writing the snapshot to disk");
  if (g_str_equal(phase, "checking"))
    return _("Checking the snapshot");
  if (g_str_equal(phase, "loading"))
    return _("Loading memory");
  if (g_str_equal(phase, "done") || g_str_equal(phase, "failed"))
    return NULL;
  return phase;
}

/* --- Progress ---------------------------------------------------------- */

/* A Create or Restore under way: its progress is shown as it comes, the
 * reply ends the wait. */
typedef struct {
  const char *vm;
  gboolean bar;       /* standard error is a terminal: one line, redrawn */
  gboolean bar_shown; /* the bar's line is on screen */
  char *phase;        /* the last phase shown */
  int tenths;         /* lines: the tenths of the memory told so far */
  gboolean done;
  sd_bus_error error;
  int r;
  char *id; /* Create's answer */
} Operation;

static void operation_clear(Operation *operation) {
  g_free(operation->phase);
  g_free(operation->id);
  sd_bus_error_free(&operation->error);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Operation, operation_clear)

/* "Saving memory  [#######-----]  48 %  12.3 MB/s  background" */
static void draw_bar(Operation *operation, const char *label,
                     const char *method, guint64 done, guint64 total,
                     double rate) {
  g_autoptr(GString) line = g_string_new("\r");

  g_string_append(line, label);
  if (total > 0) {
    guint percent = (guint)MIN(done * 100 / total, 100);
    guint filled = percent * BAR_WIDTH / 100;
    g_string_append(line, "  [");
    for (guint i = 0; i < BAR_WIDTH; i++)
      g_string_append_c(line, i < filled ? '#' : '-');
    g_string_append_printf(line, "] %3u %%", percent);
  } else {
    g_string_append(line, "…");
  }
  if (rate > 0) {
    g_autofree char *size = g_format_size((guint64)rate);
    g_string_append(line, "  ");
    /* TRANSLATORS: a transfer rate; %s is a size like "12.3 MB". */
    g_string_append_printf(line, _("%s/s"), size);
  }
  if (*method) {
    g_string_append(line, "  ");
    g_string_append(line, method_label(method));
  }
  g_string_append(line, "\033[K"); /* the rest of a longer line before */
  g_printerr("%s", line->str);
  operation->bar_shown = TRUE;
}

/* A line per phase, and while memory moves one per tenth of it. */
static void print_line(Operation *operation, const char *label,
                       gboolean new_phase, const char *method, guint64 done,
                       guint64 total, double rate) {
  int tenths = total > 0 ? (int)MIN(done * 10 / total, 10) : 0;
  g_autofree char *size = NULL;

  if (new_phase) {
    operation->tenths = 0;
    g_printerr("%s…\n", label);
  }
  if (total == 0 || tenths <= operation->tenths)
    return;
  operation->tenths = tenths;
  size = g_format_size((guint64)MAX(rate, 0));
  /* TRANSLATORS: progress without a terminal: a phase ("Saving memory"),
   * a percentage, a rate like "12.3 MB", how the snapshot is taken. */
  g_printerr(_("%s: %d %% (%s/s, %s)\n"), label, tenths * 10, size,
             method_label(method));
}

static void end_bar(Operation *operation) {
  if (operation->bar_shown)
    g_printerr("\r\033[K");
  operation->bar_shown = FALSE;
}

static int on_progress(sd_bus_message *signal, void *data,
                       sd_bus_error *ret_error) {
  Operation *operation = data;
  const char *vm, *id, *phase, *method, *label;
  uint64_t done, total, file_bytes;
  double rate;
  gboolean new_phase;

  /* One snapshot operation at a time per VM: the VM says whose it is. */
  if (sd_bus_message_read(signal, "sssstttd", &vm, &id, &phase, &method,
                          &done, &total, &file_bytes, &rate) < 0 ||
      !g_str_equal(vm, operation->vm))
    return 0;
  label = phase_label(phase);
  if (!label)
    return 0;
  new_phase = g_strcmp0(phase, operation->phase) != 0;
  if (new_phase) {
    g_free(operation->phase);
    operation->phase = g_strdup(phase);
  }
  /* Restoring reports the size to load but not how far it got. */
  if (done == 0 && !g_str_equal(phase, "saving"))
    total = 0;
  if (operation->bar)
    draw_bar(operation, label, method, done, total, rate);
  else
    print_line(operation, label, new_phase, method, done, total, rate);
  return 0;
}

static int on_reply(sd_bus_message *reply, void *data,
                    sd_bus_error *ret_error) {
  Operation *operation = data;
  const sd_bus_error *error = sd_bus_message_get_error(reply);
  const char *id = NULL;

  operation->done = TRUE;
  if (error) {
    (void)sd_bus_error_copy(&operation->error, error);
  } else if (g_str_equal(sd_bus_message_get_signature(reply, TRUE), "s")) {
    operation->r = sd_bus_message_read(reply, "s", &id);
    operation->id = g_strdup(id);
  }
  return 0;
}

/* Sends @call and serves the connection, showing progress, until its
 * reply (or sd-bus's timeout, which comes as an error reply). FALSE after
 * printing why it failed. */
static gboolean run_operation(sd_bus *bus, sd_bus_message *call,
                              Operation *operation) {
  g_autoptr(sd_bus_slot) progress_slot = NULL;
  g_autoptr(sd_bus_slot) reply_slot = NULL;
  /* Any sender: the reply may come from a shell this call activates. */
  int r = sd_bus_match_signal(bus, &progress_slot, NULL, TANDEM_DBUS_PATH,
                              TANDEM_DBUS_SNAPSHOTS_INTERFACE, "Progress",
                              on_progress, operation);

  operation->bar = isatty(STDERR_FILENO);
  if (r >= 0)
    r = sd_bus_call_async(bus, &reply_slot, call, on_reply, operation,
                          OPERATION_TIMEOUT_USEC);
  while (r >= 0 && !operation->done) {
    r = sd_bus_process(bus, NULL);
    if (r == 0)
      r = sd_bus_wait(bus, UINT64_MAX);
  }
  end_bar(operation);
  if (sd_bus_error_is_set(&operation->error)) {
    tandemctl_print_call_error(-sd_bus_error_get_errno(&operation->error),
                               &operation->error, OPERATION_TIMEOUT_USEC);
    return FALSE;
  }
  if (r >= 0)
    r = operation->r;
  if (r < 0) {
    tandemctl_report_errno(r);
    return FALSE;
  }
  return TRUE;
}

/* --- Listing ----------------------------------------------------------- */

/* List's a(ssxsstttt) into objects with "id", "name", "created",
 * "method", "method-reason", "file-bytes", "raw-bytes", "memory" and
 * "duration-ms". */
static int read_snapshots(sd_bus_message *reply, JsonArray *snapshots) {
  int r = sd_bus_message_enter_container(reply, 'a', "(ssxsstttt)");
  const char *id, *name, *method, *reason;
  uint64_t file_bytes, raw_bytes, memory, duration_ms;
  int64_t created;

  while (r >= 0 &&
         (r = sd_bus_message_read(reply, "(ssxsstttt)", &id, &name, &created,
                                  &method, &reason, &file_bytes, &raw_bytes,
                                  &memory, &duration_ms)) > 0) {
    JsonObject *snapshot = json_object_new();
    json_object_set_string_member(snapshot, "id", id);
    json_object_set_string_member(snapshot, "name", name);
    json_object_set_int_member(snapshot, "created", created);
    json_object_set_string_member(snapshot, "method", method);
    json_object_set_string_member(snapshot, "method-reason", reason);
    json_object_set_int_member(snapshot, "file-bytes",
                               (gint64)MIN(file_bytes, G_MAXINT64));
    json_object_set_int_member(snapshot, "raw-bytes",
                               (gint64)MIN(raw_bytes, G_MAXINT64));
    json_object_set_int_member(snapshot, "memory",
                               (gint64)MIN(memory, G_MAXINT64));
    json_object_set_int_member(snapshot, "duration-ms",
                               (gint64)MIN(duration_ms, G_MAXINT64));
    json_array_add_object_element(snapshots, snapshot);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container(reply);
  return r;
}

/* List as JSON objects; NULL after printing why not. */
static JsonArray *list_snapshots(sd_bus *bus, const char *vm) {
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(JsonArray) snapshots = json_array_new();
  int r = tandemctl_new_call(bus, TANDEM_DBUS_SNAPSHOTS_INTERFACE, "List",
                             &call);

  if (r >= 0)
    r = sd_bus_message_append(call, "s", vm);
  if (r < 0) {
    tandemctl_report_errno(r);
    return NULL;
  }
  if (!(reply = tandemctl_call(bus, call, QUERY_TIMEOUT_USEC)))
    return NULL;
  r = read_snapshots(reply, snapshots);
  if (r < 0) {
    tandemctl_report_errno(r);
    return NULL;
  }
  return g_steal_pointer(&snapshots);
}

static JsonObject *find_snapshot(JsonArray *snapshots, const char *id) {
  guint n = snapshots && id ? json_array_get_length(snapshots) : 0;

  for (guint i = 0; i < n; i++) {
    JsonObject *snapshot = json_array_get_object_element(snapshots, i);
    if (g_str_equal(json_object_get_string_member(snapshot, "id"), id))
      return snapshot;
  }
  return NULL;
}

static char *format_date(gint64 unix_time) {
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local(unix_time);

  /* TRANSLATORS: a snapshot's date in "tandemctl snapshot list", in
   * g_date_time_format()'s notation. */
  return time ? g_date_time_format(time, _("%Y-%m-%d %H:%M:%S"))
              : g_strdup("?");
}

static void print_snapshots(const char *vm, JsonArray *snapshots) {
  const char *headers[] = {
      /* TRANSLATORS: column headers of "tandemctl snapshot list". */
      _("ID"), _("NAME"), _("DATE"), _("METHOD"), _("SIZE"),
  };
  guint n = json_array_get_length(snapshots);
  g_autofree const char **cells = g_new0(const char *, 5 * (gsize)n);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);

  if (n == 0) {
    /* TRANSLATORS: both %s are a VM's name; keep the command as it is. */
    g_print(_("“%s” has no snapshots. Take one with “tandemctl snapshot "
              "create %s”.\n"),
            vm, vm);
    return;
  }
  for (guint i = 0; i < n; i++) {
    JsonObject *snapshot = json_array_get_object_element(snapshots, i);
    char *date = format_date(json_object_get_int_member(snapshot, "created"));
    char *size = g_format_size(
        (guint64)json_object_get_int_member(snapshot, "file-bytes"));

    g_ptr_array_add(texts, date);
    g_ptr_array_add(texts, size);
    cells[5 * i] = json_object_get_string_member(snapshot, "id");
    cells[5 * i + 1] = json_object_get_string_member(snapshot, "name");
    cells[5 * i + 2] = date;
    cells[5 * i + 3] =
        method_label(json_object_get_string_member(snapshot, "method"));
    cells[5 * i + 4] = size;
  }
  tandemctl_print_table(headers, 5, cells, n);
}

static void print_json_object(JsonObject *object) {
  g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), object);
  tandemctl_print_json(node);
}

/* --- The commands ------------------------------------------------------ */

static int snapshot_create(int argc, char **argv) {
  g_autofree char *name = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
      {"name", 0, 0, G_OPTION_ARG_STRING, &name,
       N_("A name for the snapshot: one line, up to 64 characters"),
       N_("NAME")},
      TANDEMCTL_JSON_OPTION(json),
      {NULL},
  };
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(JsonArray) snapshots = NULL;
  g_auto(Operation) operation = {.error = SD_BUS_ERROR_NULL};
  JsonObject *snapshot;
  int r;

  if (!parse_command("create", _("VM"),
                     _("Takes a snapshot of a running virtual machine: its "
                       "memory and disks at one instant, to come back to "
                       "with “tandemctl snapshot restore”. The guest runs on "
                       "meanwhile where the host allows it. Waits until the "
                       "snapshot is on disk."),
                     entries, FALSE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  operation.vm = argv[1];
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  r = tandemctl_new_call(bus, TANDEM_DBUS_SNAPSHOTS_INTERFACE, "Create",
                         &call);
  if (r >= 0)
    r = sd_bus_message_append(call, "ss", argv[1], name ? name : "");
  if (r < 0)
    return tandemctl_report_errno(r);
  /* TRANSLATORS: shown while tandemctl waits; %s is a VM's name. */
  g_printerr(_("Taking a snapshot of “%s”…\n"), argv[1]);
  if (!run_operation(bus, call, &operation))
    return TANDEMCTL_EXIT_FAILED;

  /* What was taken, for the result: how and how big. */
  snapshots = list_snapshots(bus, argv[1]);
  snapshot = find_snapshot(snapshots, operation.id);
  if (json && snapshot) {
    print_json_object(snapshot);
  } else if (json) {
    g_autoptr(JsonObject) bare = json_object_new();
    json_object_set_string_member(bare, "id", operation.id);
    print_json_object(bare);
  } else if (snapshot) {
    g_autofree char *size = g_format_size(
        (guint64)json_object_get_int_member(snapshot, "file-bytes"));
    /* TRANSLATORS: a snapshot's id, a VM's name, how it was taken
     * ("background"), the size of its file. */
    g_print(_("Took snapshot %s of “%s” (%s, %s).\n"), operation.id, argv[1],
            method_label(json_object_get_string_member(snapshot, "method")),
            size);
  } else {
    /* TRANSLATORS: a snapshot's id, a VM's name. */
    g_print(_("Took snapshot %s of “%s”.\n"), operation.id, argv[1]);
  }
  return TANDEMCTL_EXIT_OK;
}

static int snapshot_list(int argc, char **argv) {
  gboolean json = FALSE;
  const GOptionEntry entries[] = {TANDEMCTL_JSON_OPTION(json), {NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(JsonArray) snapshots = NULL;

  if (!parse_command("list", _("VM"),
                     _("Lists a virtual machine's snapshots, oldest first."),
                     entries, FALSE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  if (!(snapshots = list_snapshots(bus, argv[1])))
    return TANDEMCTL_EXIT_FAILED;
  if (json) {
    g_autoptr(JsonNode) node =
        json_node_init_array(json_node_alloc(), snapshots);
    tandemctl_print_json(node);
  } else {
    print_snapshots(argv[1], snapshots);
  }
  return TANDEMCTL_EXIT_OK;
}

static int snapshot_restore(int argc, char **argv) {
  const GOptionEntry entries[] = {{NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_auto(Operation) operation = {.error = SD_BUS_ERROR_NULL};
  int r;

  if (!parse_command("restore",
                     /* TRANSLATORS: restore's and delete's arguments in
                      * their --help. */
                     _("VM ID"),
                     _("Brings a virtual machine back to a snapshot: what "
                       "runs now is ended, and the guest runs on from the "
                       "snapshot's instant, with its disks as they were "
                       "then. Waits until it runs."),
                     entries, TRUE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  operation.vm = argv[1];
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  r = tandemctl_new_call(bus, TANDEM_DBUS_SNAPSHOTS_INTERFACE, "Restore",
                         &call);
  if (r >= 0)
    r = sd_bus_message_append(call, "ss", argv[1], argv[2]);
  if (r < 0)
    return tandemctl_report_errno(r);
  /* TRANSLATORS: shown while tandemctl waits; a VM's name, a snapshot's
   * id. */
  g_printerr(_("Restoring “%s” to snapshot %s…\n"), argv[1], argv[2]);
  if (!run_operation(bus, call, &operation))
    return TANDEMCTL_EXIT_FAILED;
  /* TRANSLATORS: a VM's name, a snapshot's id. */
  g_print(_("“%s” runs on from snapshot %s.\n"), argv[1], argv[2]);
  return TANDEMCTL_EXIT_OK;
}

static int snapshot_delete(int argc, char **argv) {
  const GOptionEntry entries[] = {{NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r;

  if (!parse_command("delete", _("VM ID"),
                     _("Deletes a snapshot of a virtual machine. The "
                       "virtual machine itself is not touched."),
                     entries, TRUE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  r = tandemctl_new_call(bus, TANDEM_DBUS_SNAPSHOTS_INTERFACE, "Delete",
                         &call);
  if (r >= 0)
    r = sd_bus_message_append(call, "ss", argv[1], argv[2]);
  if (r < 0)
    return tandemctl_report_errno(r);
  if (!(reply = tandemctl_call(bus, call, QUERY_TIMEOUT_USEC)))
    return TANDEMCTL_EXIT_FAILED;
  /* TRANSLATORS: a snapshot's id, a VM's name. */
  g_print(_("Deleted snapshot %s of “%s”.\n"), argv[2], argv[1]);
  return TANDEMCTL_EXIT_OK;
}

/* --- The schedule ------------------------------------------------------ */

typedef struct {
  guint64 every, max_age; /* seconds; 0: off, no limit */
  guint32 keep;
} Schedule;

static gboolean get_schedule(sd_bus *bus, const char *vm, Schedule *out) {
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  uint64_t every, max_age;
  uint32_t keep;
  int r = tandemctl_new_call(bus, TANDEM_DBUS_SNAPSHOTS_INTERFACE,
                             "GetSchedule", &call);

  if (r >= 0)
    r = sd_bus_message_append(call, "s", vm);
  if (r < 0) {
    tandemctl_report_errno(r);
    return FALSE;
  }
  if (!(reply = tandemctl_call(bus, call, QUERY_TIMEOUT_USEC)))
    return FALSE;
  r = sd_bus_message_read(reply, "tut", &every, &keep, &max_age);
  if (r < 0) {
    tandemctl_report_errno(r);
    return FALSE;
  }
  *out = (Schedule){.every = every, .keep = keep, .max_age = max_age};
  return TRUE;
}

static gboolean set_schedule(sd_bus *bus, const char *vm,
                             const Schedule *schedule) {
  g_autoptr(sd_bus_message) call = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  int r = tandemctl_new_call(bus, TANDEM_DBUS_SNAPSHOTS_INTERFACE,
                             "SetSchedule", &call);

  if (r >= 0)
    r = sd_bus_message_append(call, "stut", vm, (uint64_t)schedule->every,
                              (uint32_t)schedule->keep,
                              (uint64_t)schedule->max_age);
  if (r < 0) {
    tandemctl_report_errno(r);
    return FALSE;
  }
  return (reply = tandemctl_call(bus, call, QUERY_TIMEOUT_USEC)) != NULL;
}

/* A duration option: "30s", "5m", "2h", "7d" or seconds. */
static gboolean read_duration(const char *option, const char *text,
                              guint64 *seconds) {
  if (tandem_parse_duration(text, seconds))
    return TRUE;
  /* TRANSLATORS: an option's name, what was given; keep the examples. */
  g_printerr(_("tandemctl: %s wants a duration like 90s, 30m, 2h or 7d, "
               "not “%s”.\n"),
             option, text);
  return FALSE;
}

static void print_schedule(const char *vm, const Schedule *schedule,
                           gboolean json) {
  g_autofree char *every = tandem_format_duration(schedule->every);
  g_autofree char *age = tandem_format_duration(schedule->max_age);

  if (json) {
    g_autoptr(JsonObject) object = json_object_new();
    json_object_set_int_member(object, "every", (gint64)schedule->every);
    json_object_set_int_member(object, "keep", schedule->keep);
    json_object_set_int_member(object, "max-age", (gint64)schedule->max_age);
    print_json_object(object);
  } else if (!schedule->every) {
    /* TRANSLATORS: both %s are a VM's name; keep the command as it is. */
    g_print(_("“%s” takes no scheduled snapshots. “tandemctl snapshot "
              "schedule %s --every 30m” takes one every half hour.\n"),
            vm, vm);
  } else if (schedule->max_age) {
    /* TRANSLATORS: a VM's name, a duration like "30m", a number of
     * snapshots, a duration like "7d". */
    g_print(_("“%s” takes a snapshot every %s while it runs, keeping the "
              "newest %u that are no older than %s.\n"),
            vm, every, schedule->keep, age);
  } else {
    /* TRANSLATORS: a VM's name, a duration like "30m", a number of
     * snapshots. */
    g_print(_("“%s” takes a snapshot every %s while it runs, keeping the "
              "newest %u.\n"),
            vm, every, schedule->keep);
  }
}

static int snapshot_schedule(int argc, char **argv) {
  g_autofree char *every = NULL, *max_age = NULL;
  gboolean off = FALSE, json = FALSE;
  int keep = -1;
  const GOptionEntry entries[] = {
      {"every", 0, 0, G_OPTION_ARG_STRING, &every,
       N_("Take a snapshot this often while the VM runs (90s, 30m, 2h, 1d)"),
       N_("DURATION")},
      {"keep", 0, 0, G_OPTION_ARG_INT, &keep,
       N_("Keep the newest N scheduled snapshots (default 10)"), N_("N")},
      {"max-age", 0, 0, G_OPTION_ARG_STRING, &max_age,
       N_("Delete scheduled snapshots older than this (0: never)"),
       N_("DURATION")},
      {"off", 0, 0, G_OPTION_ARG_NONE, &off,
       N_("Take no more scheduled snapshots (the ones taken stay)"), NULL},
      TANDEMCTL_JSON_OPTION(json),
      {NULL},
  };
  g_autoptr(sd_bus) bus = NULL;
  Schedule schedule;
  guint64 seconds;

  if (!parse_command("schedule", _("VM"),
                     _("Shows or sets when a virtual machine's snapshots "
                       "are taken by themselves: every so often while it "
                       "runs (not while it is paused), the oldest deleted "
                       "once there are more than --keep of them or they "
                       "are older than --max-age. Snapshots taken by hand "
                       "are never deleted."),
                     entries, FALSE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (off && every) {
    g_printerr(_("tandemctl: --off and --every contradict each other.\n"));
    return TANDEMCTL_EXIT_USAGE;
  }
  if (!(bus = tandemctl_connect_session_bus()) ||
      !get_schedule(bus, argv[1], &schedule))
    return TANDEMCTL_EXIT_FAILED;
  if (every || max_age || off || keep != -1) {
    if (every && !read_duration("--every", every, &schedule.every))
      return TANDEMCTL_EXIT_USAGE;
    if (max_age && !read_duration("--max-age", max_age, &seconds))
      return TANDEMCTL_EXIT_USAGE;
    if (max_age)
      schedule.max_age = seconds;
    if (off)
      schedule.every = 0;
    /* Out of range is the shell's to explain. */
    if (keep != -1)
      schedule.keep = keep < 0 ? 0 : (guint32)keep;
    if (!set_schedule(bus, argv[1], &schedule))
      return TANDEMCTL_EXIT_FAILED;
  }
  print_schedule(argv[1], &schedule, json);
  return TANDEMCTL_EXIT_OK;
}

/* --- tandemctl snapshot ------------------------------------------------ */

static void print_snapshot_help(FILE *stream) {
  g_autofree char *text = g_strdup_printf(
      "%s\n  tandemctl snapshot %s\n\n%s\n", _("Usage:"),
      _("COMMAND [ARGUMENTS…]"),
      /* TRANSLATORS: keep the command names and options as they are. */
      _("Commands:\n"
        "  create VM [--name NAME]   Take a snapshot of a running virtual "
        "machine\n"
        "  list VM                   List a virtual machine's snapshots\n"
        "  restore VM ID             Bring a virtual machine back to a "
        "snapshot\n"
        "  delete VM ID              Delete a snapshot\n"
        "  schedule VM [--every D]   Show or set when snapshots are taken "
        "by themselves\n"
        "\n"
        "Every command takes --help; create, list and schedule take --json "
        "for scripts."));
  if (stream == stdout)
    g_print("%s", text);
  else
    g_printerr("%s", text);
}

int tandemctl_snapshot_main(int argc, char **argv) {
  static const TandemctlCommand commands[] = {
      {"create", snapshot_create},
      {"list", snapshot_list},
      {"restore", snapshot_restore},
      {"delete", snapshot_delete},
      {"schedule", snapshot_schedule},
  };
  /* TRANSLATORS: %s is the command the user typed after "snapshot". */
  return tandemctl_run_group(
      commands, G_N_ELEMENTS(commands), print_snapshot_help,
      _("tandemctl: unknown command “snapshot %s”.\n"
        "Run “tandemctl snapshot --help” to see the commands.\n"),
      argc, argv);
}
