/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-guest-hub.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>

#include "tandem-i18n.h"
#include "tandem-menu-exporter.h"
#include "tandem-qemu-argv.h"
#include "tandem-vmm-error.h"

#define CONNECT_RETRY_MS 200
#define CONNECT_TRIES 300 /* a minute: QEMU made the socket before the boot */
#define AGENT_WAIT_S 300  /* a cold boot under TCG is slow */

typedef struct {
  TandemGuestHub *hub;
  char *name;
  TandemVm *vm; /* NULL: a loopback guest */
  TandemPixelRegion *pixels; /* a loopback guest's (a VM has its own) */
  TandemGuestLink *link;
  int listen_fd;
  guint listen_id;
  guint connect_id, connect_tries;
  guint catalog_id;       /* a menu update due */
  gint64 last_sync_us;    /* the last one */
  TandemWindowsSource source;
  gpointer owner;
  GHashTable *startup_ids; /* app id -> startup id of a launch in progress */
} Guest;

struct _TandemGuestHub {
  GObject parent_instance;
  TandemVmManager *manager;
  TandemSnapshotManager *snapshots; /* NULL: VMs always boot */
  GHashTable *guests; /* name -> Guest */
  TandemMenuExporter *exporter; /* NULL: no host menu */
};

G_DEFINE_TYPE(TandemGuestHub, tandem_guest_hub, G_TYPE_OBJECT)

enum {
  SIG_LINK_ADDED,
  SIG_LINK_REMOVED,
  SIG_APPS_CHANGED,
  SIG_WINDOWS_CHANGED,
  SIG_FOCUS_CHANGED,
  SIG_LAUNCH_PROGRESS,
  SIG_STARTUP_ENDED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

void tandem_window_info_clear(TandemWindowInfo *info) {
  g_clear_pointer(&info->title, g_free);
  g_clear_pointer(&info->app_id, g_free);
}

const char *tandem_launch_stage_to_string(TandemLaunchStage stage) {
  switch (stage) {
  case TANDEM_LAUNCH_STARTING_VM:
    return "starting-vm";
  case TANDEM_LAUNCH_WAITING_FOR_AGENT:
    return "waiting-for-agent";
  case TANDEM_LAUNCH_STARTING_APP:
    return "starting-app";
  case TANDEM_LAUNCH_STARTED:
    return "started";
  }
  return "unknown";
}

/* --- Links --------------------------------------------------------------- */

/* The host menu shows exactly the guest's catalog. */
static void sync_menu(Guest *g) {
  if (!g->hub->exporter)
    return;
  GPtrArray *apps = tandem_guest_link_get_apps(g->link);
  g_autofree TandemMenuApp *menu = g_new0(TandemMenuApp, apps->len + 1);
  for (guint i = 0; i < apps->len; i++) {
    TandemGuestApp *a = apps->pdata[i];
    menu[i] = (TandemMenuApp){a->id, a->name, a->generic_name, a->comment,
                              a->startup_wm_class, a->terminal,
                              (const char *const *)a->categories,
                              (const char *const *)a->mime_types,
                              (const char *const *)a->keywords, a->icon_png};
  }
  g_autoptr(GError) error = NULL;
  if (!tandem_menu_exporter_sync(g->hub->exporter, g->name, menu, apps->len,
                                 &error))
    g_warning("%s: the host menu could not be updated: %s", g->name,
              error->message);
}

/* A catalog that changes all the time (a guest sending entry after entry)
 * costs at most this many menu updates a second: the changes in between
 * are taken together. */
#define CATALOG_SYNCS_PER_S 5

static gboolean sync_due(gpointer data) {
  Guest *g = data;
  g->catalog_id = 0;
  g->last_sync_us = g_get_monotonic_time();
  /* Gone meanwhile: the host menu keeps what it had. */
  if (tandem_guest_link_has_catalog(g->link))
    sync_menu(g);
  g_signal_emit(g->hub, signals[SIG_APPS_CHANGED], 0, g->name);
  return G_SOURCE_REMOVE;
}

static void on_catalog_changed(TandemGuestLink *link, gpointer data) {
  Guest *g = data;
  if (g->catalog_id)
    return;
  gint64 wait_us = g->last_sync_us + G_USEC_PER_SEC / CATALOG_SYNCS_PER_S -
                   g_get_monotonic_time();
  g->catalog_id = g_timeout_add((guint)(MAX(wait_us, 0) / 1000), sync_due, g);
}

static void on_link_state(TandemGuestLink *link, gpointer data) {
  Guest *g = data;
  /* Waiting launches look at the state again. */
  g_signal_emit(g->hub, signals[SIG_APPS_CHANGED], 0, g->name);
}

static void add_link(Guest *g) {
  if (g->link)
    return;
  g->link = tandem_guest_link_new(g->name);
  tandem_guest_link_set_pixel_region(
      g->link, g->vm ? tandem_vm_get_pixel_region(g->vm) : g->pixels);
  const TandemVmConfig *c = g->vm ? tandem_vm_get_config(g->vm) : NULL;
  if (c)
    tandem_guest_link_set_limits(
        g->link,
        c->limit_catalog_memory ? c->limit_catalog_memory
                                : TANDEM_GUEST_LINK_DEFAULT_CATALOG_MEMORY,
        c->limit_output_queue ? c->limit_output_queue
                              : TANDEM_GUEST_LINK_DEFAULT_MAX_QUEUED);
  g_signal_connect(g->link, "catalog-changed", G_CALLBACK(on_catalog_changed),
                   g);
  g_signal_connect(g->link, "state-changed", G_CALLBACK(on_link_state), g);
  g_signal_emit(g->hub, signals[SIG_LINK_ADDED], 0, g->name, g->link);
}

static void remove_link(Guest *g) {
  if (g->connect_id)
    g_source_remove(g->connect_id);
  g->connect_id = 0;
  g_clear_handle_id(&g->catalog_id, g_source_remove);
  if (!g->link)
    return;
  g_signal_handlers_disconnect_by_data(g->link, g);
  tandem_guest_link_close(g->link, "the VM stopped");
  g_signal_emit(g->hub, signals[SIG_LINK_REMOVED], 0, g->name);
  g_clear_object(&g->link);
}

static gboolean try_connect(gpointer data) {
  Guest *g = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename(tandem_vm_get_runtime_dir(g->vm),
                                           TANDEM_RUNTIME_AGENT, NULL);
  if (tandem_guest_link_connect(g->link, path, &error)) {
    g->connect_id = 0;
    return G_SOURCE_REMOVE;
  }
  if (++g->connect_tries >= CONNECT_TRIES) {
    g_warning("%s: %s", g->name, error->message);
    g->connect_id = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void guest_free(Guest *g) {
  remove_link(g);
  if (g->listen_id)
    g_source_remove(g->listen_id);
  if (g->listen_fd >= 0)
    close(g->listen_fd);
  g_clear_object(&g->vm);
  g_clear_pointer(&g->pixels, tandem_pixel_region_unref);
  g_hash_table_unref(g->startup_ids);
  g_free(g->name);
  g_free(g);
}

static Guest *guest_new(TandemGuestHub *self, const char *name, TandemVm *vm) {
  Guest *g = g_new0(Guest, 1);
  g->hub = self;
  g->name = g_strdup(name);
  g->vm = vm ? g_object_ref(vm) : NULL;
  g->listen_fd = -1;
  g->startup_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_free);
  g_hash_table_replace(self->guests, g->name, g);
  return g;
}

static void on_vm_state(TandemVmManager *m, TandemVm *vm, TandemVmState old,
                        TandemVmState now, gpointer data) {
  TandemGuestHub *self = data;
  const char *name = tandem_vm_get_name(vm);
  Guest *g = g_hash_table_lookup(self->guests, name);
  if (!g)
    g = guest_new(self, name, vm);
  if (now == TANDEM_VM_RUNNING && !g->link) {
    /* QEMU made the agent's socket before the guest's first instruction:
     * the link connects at once and the agent says HELLO when it runs. */
    add_link(g);
    g->connect_tries = 0;
    if (try_connect(g))
      g->connect_id = g_timeout_add(CONNECT_RETRY_MS, try_connect, g);
  } else if (now == TANDEM_VM_STOPPED || now == TANDEM_VM_CRASHED) {
    remove_link(g);
  }
}

static void on_vm_removed(TandemVmManager *m, TandemVm *vm, gpointer data) {
  TandemGuestHub *self = data;
  const char *name = tandem_vm_get_name(vm);
  g_autoptr(GError) error = NULL;
  /* A deleted VM leaves nothing in the host's menu. */
  if (self->exporter &&
      !tandem_menu_exporter_remove_vm(self->exporter, name, &error))
    g_warning("%s: %s", name, error->message);
  g_hash_table_remove(self->guests, name);
}

/* --- Loopback guests ------------------------------------------------------- */

static gboolean on_accept(int fd, GIOCondition cond, gpointer data) {
  Guest *g = data;
  int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
  if (c >= 0)
    tandem_guest_link_attach_fd(g->link, c);
  return G_SOURCE_CONTINUE;
}

gboolean tandem_guest_hub_add_loopback(TandemGuestHub *self, const char *name,
                                       const char *socket_path,
                                       GError **error) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof(sa.sun_path)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                _("Socket path too long: %s"), socket_path);
    return FALSE;
  }
  strcpy(sa.sun_path, socket_path);
  unlink(socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(fd, 4) != 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                _("Cannot listen on %s: %s"), socket_path, g_strerror(e));
    return FALSE;
  }
  Guest *g = guest_new(self, name, NULL);
  g->listen_fd = fd;
  g->listen_id = g_unix_fd_add(fd, G_IO_IN, on_accept, g);
  /* Pixels shared as with a VM: an agent started with
   * --pixel-memory SOCKET.pixels uses it. */
  g_autoptr(GError) local = NULL;
  g_autofree char *pixels = g_strconcat(socket_path, ".pixels", NULL);
  g->pixels = tandem_pixel_region_create(
      pixels, TANDEM_VM_DEFAULT_PIXEL_MEMORY, &local);
  if (!g->pixels)
    g_warning("%s: %s", name, local->message);
  add_link(g);
  return TRUE;
}

/* --- Queries ---------------------------------------------------------------- */

GStrv tandem_guest_hub_list_guests(TandemGuestHub *self) {
  GStrvBuilder *b = g_strv_builder_new();
  GPtrArray *vms = tandem_vm_manager_get_vms(self->manager);
  for (guint i = 0; vms && i < vms->len; i++)
    g_strv_builder_add(b, tandem_vm_get_name(vms->pdata[i]));
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, self->guests);
  while (g_hash_table_iter_next(&it, NULL, &v))
    if (!((Guest *)v)->vm)
      g_strv_builder_add(b, ((Guest *)v)->name);
  GStrv out = g_strv_builder_end(b);
  g_strv_builder_unref(b);
  return out;
}

TandemGuestLink *tandem_guest_hub_get_link(TandemGuestHub *self,
                                           const char *name) {
  Guest *g = g_hash_table_lookup(self->guests, name);
  return g ? g->link : NULL;
}

void tandem_guest_hub_set_windows(TandemGuestHub *self, const char *guest,
                                  const TandemWindowsSource *source,
                                  gpointer owner) {
  Guest *g = g_hash_table_lookup(self->guests, guest);
  if (!g)
    return;
  g->source = source ? *source : (TandemWindowsSource){0};
  g->owner = owner;
}

GArray *tandem_guest_hub_list_windows(TandemGuestHub *self,
                                      const char *guest) {
  Guest *g = g_hash_table_lookup(self->guests, guest);
  return g && g->source.list ? g->source.list(g->owner) : NULL;
}

gboolean tandem_guest_hub_get_focus(TandemGuestHub *self, const char *guest,
                                    guint32 *host_window,
                                    guint32 *guest_window, guint *guest_kind) {
  Guest *g = g_hash_table_lookup(self->guests, guest);
  *host_window = *guest_window = 0;
  *guest_kind = TP_FOCUS_NONE;
  if (!g || !g->source.focus)
    return FALSE;
  g->source.focus(g->owner, host_window, guest_window, guest_kind);
  return TRUE;
}

char *tandem_guest_hub_take_startup_id(TandemGuestHub *self,
                                       const char *guest,
                                       const char *app_id) {
  Guest *g = g_hash_table_lookup(self->guests, guest);
  gpointer key = NULL, value = NULL;
  if (!g || !app_id ||
      !g_hash_table_steal_extended(g->startup_ids, app_id, &key, &value))
    return NULL;
  g_free(key);
  return value;
}

void tandem_guest_hub_windows_changed(TandemGuestHub *self,
                                      const char *guest) {
  g_signal_emit(self, signals[SIG_WINDOWS_CHANGED], 0, guest);
}

void tandem_guest_hub_focus_changed(TandemGuestHub *self, const char *guest) {
  g_signal_emit(self, signals[SIG_FOCUS_CHANGED], 0, guest);
}

void tandem_guest_hub_set_menu(TandemGuestHub *self, const char *data_home,
                               const char *tandemctl) {
  g_clear_pointer(&self->exporter, tandem_menu_exporter_free);
  self->exporter = tandem_menu_exporter_new(data_home,
                                            tandemctl ? tandemctl
                                                      : "tandemctl");
}

/* --- Launching ---------------------------------------------------------------- */

typedef struct {
  char *guest, *app_id, *startup_id;
  GStrv args;
  gulong handler;
  guint timeout_id;
  gboolean launching;
} Launch;

static void launch_free(Launch *l) {
  g_free(l->guest);
  g_free(l->app_id);
  g_free(l->startup_id);
  g_strfreev(l->args);
  g_free(l);
}

static void progress(GTask *task, TandemLaunchStage stage) {
  Launch *l = g_task_get_task_data(task);
  g_signal_emit(g_task_get_source_object(task),
                signals[SIG_LAUNCH_PROGRESS], 0, l->guest, l->app_id,
                (guint)stage);
}

static void stop_waiting(TandemGuestHub *self, Launch *l) {
  if (l->handler)
    g_signal_handler_disconnect(self, l->handler);
  l->handler = 0;
  if (l->timeout_id)
    g_source_remove(l->timeout_id);
  l->timeout_id = 0;
}

/* A launch that fails: the error to the caller, and the end of the host's
 * startup notification (the busy cursor would otherwise wait for its
 * timeout). */
static void fail(GTask *task, GError *error) {
  TandemGuestHub *self = g_task_get_source_object(task);
  Launch *l = g_task_get_task_data(task);
  if (l->startup_id && *l->startup_id) {
    g_free(tandem_guest_hub_take_startup_id(self, l->guest, l->app_id));
    g_signal_emit(self, signals[SIG_STARTUP_ENDED], 0, l->startup_id);
  }
  g_task_return_error(task, error);
  g_object_unref(task);
}

static void launched(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  GError *error = NULL;
  guint32 pid = tandem_guest_link_launch_finish(TANDEM_GUEST_LINK(source),
                                                res, &error);
  if (error) {
    fail(task, error);
    return;
  }
  progress(task, TANDEM_LAUNCH_STARTED);
  g_task_return_int(task, pid);
  g_object_unref(task);
}

/* The agent is there with its catalog: launch, or say what is wrong. */
static gboolean try_launch(GTask *task) {
  TandemGuestHub *self = g_task_get_source_object(task);
  Launch *l = g_task_get_task_data(task);
  Guest *g = g_hash_table_lookup(self->guests, l->guest);
  if (l->launching || !g || !g->link ||
      tandem_guest_link_get_state(g->link) != TANDEM_GUEST_LINK_READY ||
      !tandem_guest_link_has_catalog(g->link))
    return FALSE;
  stop_waiting(self, l);
  l->launching = TRUE;
  if (!tandem_guest_link_find_app(g->link, l->app_id)) {
    fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("“%s” has no application “%s”. “tandemctl apps "
                             "%s” lists what it offers."),
                           l->guest, l->app_id, l->guest));
    return TRUE;
  }
  progress(task, TANDEM_LAUNCH_STARTING_APP);
  if (l->startup_id && *l->startup_id) /* for the app's first window */
    g_hash_table_replace(g->startup_ids, g_strdup(l->app_id),
                         g_strdup(l->startup_id));
  tandem_guest_link_launch_async(g->link, l->app_id,
                                 (const char *const *)l->args, l->startup_id,
                                 g_task_get_cancellable(task), launched, task);
  return TRUE;
}

static void on_apps_changed_for_launch(TandemGuestHub *self,
                                       const char *guest, gpointer data) {
  GTask *task = data;
  Launch *l = g_task_get_task_data(task);
  if (g_str_equal(guest, l->guest))
    try_launch(task);
}

static gboolean launch_timed_out(gpointer data) {
  GTask *task = data;
  TandemGuestHub *self = g_task_get_source_object(task);
  Launch *l = g_task_get_task_data(task);
  l->timeout_id = 0;
  stop_waiting(self, l);
  fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                         _("The agent in “%s” did not answer within %d s. "
                           "Is tandem-agent installed and started with the "
                           "guest's session?"),
                         l->guest, AGENT_WAIT_S));
  return G_SOURCE_REMOVE;
}

static void wait_for_agent(GTask *task) {
  TandemGuestHub *self = g_task_get_source_object(task);
  Launch *l = g_task_get_task_data(task);
  if (try_launch(task))
    return;
  progress(task, TANDEM_LAUNCH_WAITING_FOR_AGENT);
  l->handler = g_signal_connect(self, "apps-changed",
                                G_CALLBACK(on_apps_changed_for_launch), task);
  l->timeout_id = g_timeout_add_seconds(AGENT_WAIT_S, launch_timed_out, task);
}

static void vm_resumed(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  GError *error = NULL;
  if (!tandem_vm_command_finish(TANDEM_VM(source), res, &error)) {
    fail(task, error);
    return;
  }
  wait_for_agent(task);
}

static void vm_started(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  GError *error = NULL;
  gboolean started =
      TANDEM_IS_SNAPSHOT_MANAGER(source)
          ? tandem_snapshot_manager_start_finish(
                TANDEM_SNAPSHOT_MANAGER(source), res, NULL, &error)
          : tandem_vm_start_finish(TANDEM_VM(source), res, &error);
  if (!started &&
      !g_error_matches(error, TANDEM_VMM_ERROR,
                       TANDEM_VMM_ERROR_ALREADY_RUNNING) &&
      !g_error_matches(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_BUSY)) {
    fail(task, error);
    return;
  }
  g_clear_error(&error);
  wait_for_agent(task);
}

void tandem_guest_hub_launch_async(TandemGuestHub *self, const char *guest,
                                   const char *app_id,
                                   const char *const *args,
                                   const char *startup_id,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data) {
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  Launch *l = g_new0(Launch, 1);
  l->guest = g_strdup(guest);
  l->app_id = g_strdup(app_id);
  l->startup_id = g_strdup(startup_id);
  l->args = g_strdupv((GStrv)args);
  g_task_set_task_data(task, l, (GDestroyNotify)launch_free);
  Guest *g = g_hash_table_lookup(self->guests, guest);
  TandemVm *vm = tandem_vm_manager_lookup(self->manager, guest);
  if (!g && !vm) {
    fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("There is no VM called “%s”."), guest));
    return;
  }
  if (vm) {
    TandemVmState s = tandem_vm_get_state(vm);
    if (s == TANDEM_VM_STOPPED || s == TANDEM_VM_CRASHED) {
      progress(task, TANDEM_LAUNCH_STARTING_VM);
      if (self->snapshots) /* stopped with its session saved: resume it */
        tandem_snapshot_manager_start_async(self->snapshots, guest,
                                            cancellable, vm_started, task);
      else
        tandem_vm_start_async(vm, cancellable, vm_started, task);
      return;
    }
    if (s == TANDEM_VM_PAUSED) { /* a paused guest cannot start anything */
      tandem_vm_resume_async(vm, cancellable, vm_resumed, task);
      return;
    }
  }
  wait_for_agent(task);
}

guint32 tandem_guest_hub_launch_finish(TandemGuestHub *self,
                                       GAsyncResult *result, GError **error) {
  gssize pid = g_task_propagate_int(G_TASK(result), error);
  return pid < 0 ? 0 : (guint32)pid;
}

/* --- Life ------------------------------------------------------------------- */

void tandem_guest_hub_set_snapshot_manager(TandemGuestHub *self,
                                           TandemSnapshotManager *snapshots) {
  g_set_object(&self->snapshots, snapshots);
}

TandemGuestHub *tandem_guest_hub_new(TandemVmManager *manager) {
  TandemGuestHub *self = g_object_new(TANDEM_TYPE_GUEST_HUB, NULL);
  self->manager = g_object_ref(manager);
  g_signal_connect(manager, "vm-state-changed", G_CALLBACK(on_vm_state),
                   self);
  g_signal_connect(manager, "vm-removed", G_CALLBACK(on_vm_removed), self);
  GPtrArray *vms = tandem_vm_manager_get_vms(manager);
  for (guint i = 0; vms && i < vms->len; i++) {
    TandemVm *vm = vms->pdata[i];
    if (tandem_vm_get_state(vm) == TANDEM_VM_RUNNING)
      on_vm_state(manager, vm, TANDEM_VM_STOPPED, TANDEM_VM_RUNNING, self);
  }
  return self;
}

static void tandem_guest_hub_dispose(GObject *object) {
  TandemGuestHub *self = TANDEM_GUEST_HUB(object);
  if (self->manager) {
    g_signal_handlers_disconnect_by_data(self->manager, self);
    g_clear_object(&self->manager);
  }
  if (self->guests)
    g_hash_table_remove_all(self->guests);
  g_clear_object(&self->snapshots);
  G_OBJECT_CLASS(tandem_guest_hub_parent_class)->dispose(object);
}

static void tandem_guest_hub_finalize(GObject *object) {
  TandemGuestHub *self = TANDEM_GUEST_HUB(object);
  g_hash_table_unref(self->guests);
  g_clear_pointer(&self->exporter, tandem_menu_exporter_free);
  G_OBJECT_CLASS(tandem_guest_hub_parent_class)->finalize(object);
}

static void tandem_guest_hub_class_init(TandemGuestHubClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  oc->dispose = tandem_guest_hub_dispose;
  oc->finalize = tandem_guest_hub_finalize;
  GType t = G_TYPE_FROM_CLASS(klass);
  signals[SIG_LINK_ADDED] = g_signal_new(
      "link-added", t, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
      G_TYPE_STRING, TANDEM_TYPE_GUEST_LINK);
  signals[SIG_LINK_REMOVED] = g_signal_new(
      "link-removed", t, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
      1, G_TYPE_STRING);
  signals[SIG_APPS_CHANGED] = g_signal_new(
      "apps-changed", t, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
      1, G_TYPE_STRING);
  signals[SIG_WINDOWS_CHANGED] = g_signal_new(
      "windows-changed", t, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIG_FOCUS_CHANGED] = g_signal_new(
      "focus-changed", t, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
      1, G_TYPE_STRING);
  signals[SIG_LAUNCH_PROGRESS] = g_signal_new(
      "launch-progress", t, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT);
  signals[SIG_STARTUP_ENDED] = g_signal_new(
      "startup-ended", t, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
      1, G_TYPE_STRING);
}

static void tandem_guest_hub_init(TandemGuestHub *self) {
  self->guests = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify)guest_free);
}
