/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl apps, launch, windows and focus: what runs in a VM, on the
 * host's desktop. Each command parses its own options, calls
 * org.tandem.Tandem1.Guests (tandemctl-bus.c) and prints the answer, for
 * people or as JSON.
 *
 * launch is the one that waits: the shell may start the VM and wait for
 * its agent first, which under TCG takes minutes, and says how far it got
 * with LaunchProgress signals, printed here as they come. */
#include "config.h"

#include "tandemctl-guest.h"

#include <errno.h>
#include <string.h>

#include "tandem-dbus-service.h"
#include "tandem-i18n.h"
#include "tandemctl-bus.h"
#include "tandemctl-cli.h"
#include "tandemctl-vm.h"

/* A launch may start the VM (minutes under TCG) and then wait up to five
 * minutes for its agent; queries answer at once unless the shell is stuck. */
#define LAUNCH_TIMEOUT_USEC (15 * 60 * G_USEC_PER_SEC)
#define QUERY_TIMEOUT_USEC (30 * G_USEC_PER_SEC)

/* The protocol's limit on a startup notification id (TP_MAX_STARTUP_ID_LEN;
 * tandemctl does not link the protocol). */
#define STARTUP_ID_MAX_LEN 255

/* --- The command line -------------------------------------------------- */

/* Parses "COMMAND VM …": the VM, for launch (@n_args 2) the application,
 * then (if @more_allowed) any number of files. */
static gboolean parse_command(const char *command, const char *parameter,
                              const char *summary,
                              const GOptionEntry *entries, int n_args,
                              gboolean more_allowed, int *argc,
                              char ***argv) {
  const char *missing[] = {_("the name of a virtual machine is missing"),
                           _("the application to start is missing; "
                             "“tandemctl apps VM” lists them"),
                           NULL};
  missing[n_args] = NULL;
  return tandemctl_parse_command(command, parameter, summary, entries,
                                 missing, more_allowed, argc, argv);
}

/* --- Calls and replies ------------------------------------------------- */

/* @method(@vm) on the Guests interface; NULL after printing why not. */
static sd_bus_message *call_guests(sd_bus *bus, const char *method,
                                   const char *vm) {
  g_autoptr(sd_bus_message) call = NULL;
  int r = tandemctl_new_call(bus, TANDEM_DBUS_GUESTS_INTERFACE, method, &call);

  if (r >= 0)
    r = sd_bus_message_append(call, "s", vm);
  if (r < 0) {
    tandemctl_report_errno(r);
    return NULL;
  }
  return tandemctl_call(bus, call, QUERY_TIMEOUT_USEC);
}

static int read_strv_member(sd_bus_message *reply, JsonObject *object,
                            const char *member) {
  g_auto(GStrv) strv = NULL;
  JsonArray *array;
  int r = sd_bus_message_read_strv(reply, &strv);

  if (r < 0)
    return r;
  array = json_array_new();
  for (char **s = strv; s && *s; s++)
    json_array_add_string_element(array, *s);
  json_object_set_array_member(object, member, array);
  return r;
}

/* ListApps' a(sssbasas) into objects with "id", "name", "comment",
 * "terminal", "mime-types" and "categories". */
static int read_apps(sd_bus_message *reply, JsonArray *apps) {
  int r = sd_bus_message_enter_container(reply, 'a', "(sssbasas)");

  while (r >= 0 &&
         (r = sd_bus_message_enter_container(reply, 'r', "sssbasas")) > 0) {
    JsonObject *app = json_object_new();
    const char *id, *name, *comment;
    int terminal;

    json_array_add_object_element(apps, app);
    r = sd_bus_message_read(reply, "sssb", &id, &name, &comment, &terminal);
    if (r >= 0) {
      json_object_set_string_member(app, "id", id);
      json_object_set_string_member(app, "name", name);
      json_object_set_string_member(app, "comment", comment);
      json_object_set_boolean_member(app, "terminal", terminal);
      r = read_strv_member(reply, app, "mime-types");
    }
    if (r >= 0)
      r = read_strv_member(reply, app, "categories");
    if (r >= 0)
      r = sd_bus_message_exit_container(reply);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container(reply);
  return r;
}

/* ListWindows' a(ussbiiuu) into objects with "id", "title", "app-id",
 * "shown", "x", "y", "width" and "height". */
static int read_windows(sd_bus_message *reply, JsonArray *windows) {
  int r = sd_bus_message_enter_container(reply, 'a', "(ussbiiuu)");
  uint32_t id, width, height;
  const char *title, *app_id;
  int shown;
  int32_t x, y;

  while (r >= 0 && (r = sd_bus_message_read(reply, "(ussbiiuu)", &id, &title,
                                            &app_id, &shown, &x, &y, &width,
                                            &height)) > 0) {
    JsonObject *window = json_object_new();
    json_object_set_int_member(window, "id", id);
    json_object_set_string_member(window, "title", title);
    json_object_set_string_member(window, "app-id", app_id);
    json_object_set_boolean_member(window, "shown", shown);
    json_object_set_int_member(window, "x", x);
    json_object_set_int_member(window, "y", y);
    json_object_set_int_member(window, "width", width);
    json_object_set_int_member(window, "height", height);
    json_array_add_object_element(windows, window);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container(reply);
  return r;
}

/* ListWindows as JSON objects; NULL after printing why not. */
static JsonArray *list_windows(sd_bus *bus, const char *vm) {
  g_autoptr(sd_bus_message) reply = call_guests(bus, "ListWindows", vm);
  g_autoptr(JsonArray) windows = json_array_new();
  int r;

  if (!reply)
    return NULL;
  r = read_windows(reply, windows);
  if (r < 0) {
    tandemctl_report_errno(r);
    return NULL;
  }
  return g_steal_pointer(&windows);
}

static void print_json_array(JsonArray *array) {
  g_autoptr(JsonNode) node =
      json_node_init_array(json_node_alloc(), array);
  tandemctl_print_json(node);
}

static void print_json_object(JsonObject *object) {
  g_autoptr(JsonNode) node =
      json_node_init_object(json_node_alloc(), object);
  tandemctl_print_json(node);
}

/* --- Output for people ------------------------------------------------- */

static const char *member_string(JsonObject *object, const char *member) {
  return json_object_get_string_member_with_default(object, member, "");
}

static void print_apps(const char *vm, JsonArray *apps) {
  const char *headers[] = {
      /* TRANSLATORS: column headers of "tandemctl apps". */
      _("ID"), _("NAME"), _("DESCRIPTION"),
  };
  guint n = json_array_get_length(apps);
  g_autofree const char **cells = g_new0(const char *, 3 * (gsize)n);

  if (n == 0) {
    /* TRANSLATORS: %s is a VM's name. */
    g_print(_("“%s” offers no applications.\n"), vm);
    return;
  }
  for (guint i = 0; i < n; i++) {
    JsonObject *app = json_array_get_object_element(apps, i);
    cells[3 * i] = member_string(app, "id");
    cells[3 * i + 1] = member_string(app, "name");
    cells[3 * i + 2] = member_string(app, "comment");
  }
  tandemctl_print_table(headers, 3, cells, n);
}

static void print_windows(const char *vm, JsonArray *windows) {
  const char *headers[] = {
      /* TRANSLATORS: column headers of "tandemctl windows". */
      _("ID"), _("APPLICATION"), _("SHOWN"), _("GEOMETRY"), _("TITLE"),
  };
  guint n = json_array_get_length(windows);
  g_autofree const char **cells = g_new0(const char *, 5 * (gsize)n);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);

  if (n == 0) {
    /* TRANSLATORS: %s is a VM's name. */
    g_print(_("“%s” has no windows.\n"), vm);
    return;
  }
  for (guint i = 0; i < n; i++) {
    JsonObject *window = json_array_get_object_element(windows, i);
    char *id = g_strdup_printf(
        "%" G_GINT64_FORMAT, json_object_get_int_member(window, "id"));
    char *geometry = g_strdup_printf(
        "%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "%+" G_GINT64_FORMAT
        "%+" G_GINT64_FORMAT,
        json_object_get_int_member(window, "width"),
        json_object_get_int_member(window, "height"),
        json_object_get_int_member(window, "x"),
        json_object_get_int_member(window, "y"));

    g_ptr_array_add(texts, id);
    g_ptr_array_add(texts, geometry);
    cells[5 * i] = id;
    cells[5 * i + 1] = member_string(window, "app-id");
    cells[5 * i + 2] = json_object_get_boolean_member(window, "shown")
                           /* TRANSLATORS: whether a window is shown. */
                           ? C_("window shown", "yes")
                           : C_("window shown", "no");
    cells[5 * i + 3] = geometry;
    cells[5 * i + 4] = member_string(window, "title");
  }
  tandemctl_print_table(headers, 5, cells, n);
}

/* A window's title from ListWindows' answer, or NULL. */
static const char *window_title(JsonArray *windows, gint64 id) {
  guint n = windows ? json_array_get_length(windows) : 0;

  for (guint i = 0; i < n; i++) {
    JsonObject *window = json_array_get_object_element(windows, i);
    if (json_object_get_int_member(window, "id") == id)
      return member_string(window, "title");
  }
  return NULL;
}

static void print_focus(const char *vm, JsonObject *focus,
                        JsonArray *windows) {
  gint64 host = json_object_get_int_member(focus, "host-window");
  gint64 guest = json_object_get_int_member(focus, "guest-window");
  const char *kind = member_string(focus, "guest-kind");
  const char *host_title = window_title(windows, host);
  const char *guest_title = window_title(windows, guest);

  /* TRANSLATORS: "tandemctl focus", the host's side. %u is a guest
   * window's id, the last %s its title, the other %s a VM's name. */
  if (host == 0)
    g_print(_("On the host: none of “%s”'s windows has the focus.\n"), vm);
  else
    g_print(_("On the host: window %u (“%s”) has the focus.\n"),
            (unsigned)host, host_title ? host_title : "");

  /* TRANSLATORS: "tandemctl focus", the guest's side: what the guest's
   * keyboard focus is on. */
  if (g_str_equal(kind, "window"))
    g_print(_("In the guest: window %u (“%s”) has the focus.\n"),
            (unsigned)guest, guest_title ? guest_title : "");
  else if (g_str_equal(kind, "stub"))
    g_print(_("In the guest: the agent's placeholder window has the focus, "
              "so no application gets keys.\n"));
  else if (g_str_equal(kind, "none"))
    g_print(_("In the guest: nothing has the focus.\n"));
  else
    g_print(_("In the guest: a window the host does not show has the "
              "focus.\n"));
}

/* --- apps, windows, focus ---------------------------------------------- */

int tandemctl_apps_main(int argc, char **argv) {
  gboolean json = FALSE;
  const GOptionEntry entries[] = {TANDEMCTL_JSON_OPTION(json), {NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(JsonArray) apps = json_array_new();
  int r;

  if (!parse_command("apps", _("VM"),
                     _("Lists the applications a virtual machine offers."),
                     entries, 1, FALSE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  if (!(reply = call_guests(bus, "ListApps", argv[1])))
    return TANDEMCTL_EXIT_FAILED;
  r = read_apps(reply, apps);
  if (r < 0)
    return tandemctl_report_errno(r);
  if (json)
    print_json_array(apps);
  else
    print_apps(argv[1], apps);
  return TANDEMCTL_EXIT_OK;
}

int tandemctl_windows_main(int argc, char **argv) {
  gboolean json = FALSE;
  const GOptionEntry entries[] = {TANDEMCTL_JSON_OPTION(json), {NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(JsonArray) windows = NULL;

  if (!parse_command("windows", _("VM"),
                     _("Lists the windows of a virtual machine's "
                       "applications on the host."),
                     entries, 1, FALSE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  if (!(windows = list_windows(bus, argv[1])))
    return TANDEMCTL_EXIT_FAILED;
  if (json)
    print_json_array(windows);
  else
    print_windows(argv[1], windows);
  return TANDEMCTL_EXIT_OK;
}

int tandemctl_focus_main(int argc, char **argv) {
  gboolean json = FALSE;
  const GOptionEntry entries[] = {TANDEMCTL_JSON_OPTION(json), {NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  g_autoptr(JsonObject) focus = json_object_new();
  g_autoptr(JsonArray) windows = NULL;
  uint32_t host, guest;
  const char *kind;
  int r;

  if (!parse_command("focus", _("VM"),
                     _("Shows which of a virtual machine's windows has the "
                       "keyboard focus, on the host and in the guest."),
                     entries, 1, FALSE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  if (!(reply = call_guests(bus, "GetFocus", argv[1])))
    return TANDEMCTL_EXIT_FAILED;
  r = sd_bus_message_read(reply, "uus", &host, &guest, &kind);
  if (r < 0)
    return tandemctl_report_errno(r);
  json_object_set_int_member(focus, "host-window", host);
  json_object_set_int_member(focus, "guest-window", guest);
  json_object_set_string_member(focus, "guest-kind", kind);
  if (json) {
    print_json_object(focus);
    return TANDEMCTL_EXIT_OK;
  }
  /* For the titles only: without them the ids still say it all. */
  if (host || guest)
    windows = list_windows(bus, argv[1]);
  print_focus(argv[1], focus, windows);
  return TANDEMCTL_EXIT_OK;
}

/* --- launch ------------------------------------------------------------ */

static gboolean has_control_characters(const char *text) {
  for (const char *p = text; *p; p = g_utf8_next_char(p))
    if (g_unichar_iscntrl(g_utf8_get_char(p)))
      return TRUE;
  return FALSE;
}

/* A FILE or URI of the command line as the guest gets it: a URI as it is;
 * a file as an absolute path (a relative one is taken from the current
 * directory), or as a file:// URI if the path cannot travel as text. A
 * name that looks like a URI ("notes:1") but is a file here is a file. */
static char *launch_argument(const char *arg) {
  g_autofree char *path = NULL;

  if (!g_path_is_absolute(arg) && g_uri_peek_scheme(arg) &&
      !g_file_test(arg, G_FILE_TEST_EXISTS))
    return g_strdup(arg);
  path = g_canonicalize_filename(arg, NULL);
  if (g_utf8_validate(path, -1, NULL) && !has_control_characters(path))
    return g_steal_pointer(&path);
  return g_filename_to_uri(path, NULL, NULL);
}

/* DESKTOP_STARTUP_ID, set by the desktop that ran a host menu entry, goes
 * on to the guest application. One the protocol cannot carry is dropped:
 * starting the application matters more than the launch feedback. */
static const char *startup_id_from_environment(void) {
  const char *id = g_getenv("DESKTOP_STARTUP_ID");

  if (!id || strlen(id) > STARTUP_ID_MAX_LEN)
    return "";
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum(*p) && !strchr("._+@-", *p))
      return "";
  return id;
}

/* One launch under way: its progress is printed as it comes, the reply
 * ends the wait. */
typedef struct {
  const char *vm, *app;
  gboolean done;
  sd_bus_error error;
  int r;
  uint32_t pid;
} Launch;

static int on_launch_progress(sd_bus_message *signal, void *data,
                              sd_bus_error *ret_error) {
  Launch *launch = data;
  const char *vm, *app, *stage;

  if (sd_bus_message_read(signal, "sss", &vm, &app, &stage) < 0 ||
      !g_str_equal(vm, launch->vm) || !g_str_equal(app, launch->app))
    return 0;
  /* TRANSLATORS: printed while "tandemctl launch" waits; %s is a VM's
   * name, then an application's id. "started" is told by the result. */
  if (g_str_equal(stage, "starting-vm"))
    g_printerr(_("Starting VM “%s”…\n"), vm);
  else if (g_str_equal(stage, "waiting-for-agent"))
    g_printerr(_("Waiting for the guest's agent…\n"));
  else if (g_str_equal(stage, "starting-app"))
    g_printerr(_("Starting “%s”…\n"), app);
  return 0;
}

static int on_launch_reply(sd_bus_message *reply, void *data,
                           sd_bus_error *ret_error) {
  Launch *launch = data;
  const sd_bus_error *error = sd_bus_message_get_error(reply);

  launch->done = TRUE;
  if (error)
    (void)sd_bus_error_copy(&launch->error, error);
  else
    launch->r = sd_bus_message_read(reply, "u", &launch->pid);
  return 0;
}

/* Sends @call and serves the connection until its reply (or sd-bus's
 * timeout, which comes as an error reply). */
static int run_launch(sd_bus *bus, sd_bus_message *call, Launch *launch) {
  g_autoptr(sd_bus_slot) progress_slot = NULL;
  g_autoptr(sd_bus_slot) reply_slot = NULL;
  /* Any sender: the reply may come from a shell this call activates. */
  int r = sd_bus_match_signal(bus, &progress_slot, NULL, TANDEM_DBUS_PATH,
                              TANDEM_DBUS_GUESTS_INTERFACE, "LaunchProgress",
                              on_launch_progress, launch);

  if (r >= 0)
    r = sd_bus_call_async(bus, &reply_slot, call, on_launch_reply, launch,
                          LAUNCH_TIMEOUT_USEC);
  while (r >= 0 && !launch->done) {
    r = sd_bus_process(bus, NULL);
    if (r == 0)
      r = sd_bus_wait(bus, UINT64_MAX);
  }
  return r < 0 ? r : 0;
}

static int append_launch_arguments(sd_bus_message *call, char **files) {
  int r = sd_bus_message_open_container(call, 'a', "s");

  for (char **file = files; r >= 0 && *file; file++) {
    g_autofree char *arg = launch_argument(*file);
    r = arg ? sd_bus_message_append(call, "s", arg) : -EINVAL;
  }
  if (r >= 0)
    r = sd_bus_message_close_container(call);
  return r;
}

int tandemctl_launch_main(int argc, char **argv) {
  gboolean json = FALSE;
  const GOptionEntry entries[] = {TANDEMCTL_JSON_OPTION(json), {NULL}};
  g_autoptr(sd_bus) bus = NULL;
  g_autoptr(sd_bus_message) call = NULL;
  Launch launch = {.error = SD_BUS_ERROR_NULL};
  int r;

  if (!parse_command("launch",
                     /* TRANSLATORS: launch's arguments in its --help. */
                     _("VM APP [FILE|URI…]"),
                     _("Starts an application of a virtual machine, with the "
                       "files or URIs given to open, and waits until it has "
                       "started. Starts the virtual machine first if it is "
                       "not running."),
                     entries, 2, TRUE, &argc, &argv))
    return TANDEMCTL_EXIT_USAGE;
  launch.vm = argv[1];
  launch.app = argv[2];
  if (!(bus = tandemctl_connect_session_bus()))
    return TANDEMCTL_EXIT_FAILED;
  r = tandemctl_new_call(bus, TANDEM_DBUS_GUESTS_INTERFACE, "Launch", &call);
  if (r >= 0)
    r = sd_bus_message_append(call, "ss", launch.vm, launch.app);
  if (r >= 0)
    r = append_launch_arguments(call, argv + 3);
  if (r >= 0)
    r = sd_bus_message_append(call, "s", startup_id_from_environment());
  if (r >= 0)
    r = run_launch(bus, call, &launch);
  if (r >= 0)
    r = launch.r;
  if (sd_bus_error_is_set(&launch.error)) {
    tandemctl_print_call_error(-sd_bus_error_get_errno(&launch.error),
                               &launch.error, LAUNCH_TIMEOUT_USEC);
    sd_bus_error_free(&launch.error);
    return TANDEMCTL_EXIT_FAILED;
  }
  if (r < 0)
    return tandemctl_report_errno(r);

  if (json) {
    g_autoptr(JsonObject) result = json_object_new();
    json_object_set_string_member(result, "vm", launch.vm);
    json_object_set_string_member(result, "app", launch.app);
    json_object_set_int_member(result, "pid", launch.pid);
    print_json_object(result);
  } else {
    /* TRANSLATORS: an application's id, a VM's name, a process id. */
    g_print(_("Started “%s” in “%s” (guest pid %u).\n"), launch.app,
            launch.vm, (unsigned)launch.pid);
  }
  return TANDEMCTL_EXIT_OK;
}
