/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-agent.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "tandem-agent-catalog.h"
#include "tandem-agent-mount.h"
#include "tandem-channel.h"
#include "tandem-display.h"
#include "tandem-protocol.h"

#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 2000
#define RESCAN_DELAY_MS 300
#define DEFAULT_ICON_SIZE 64

struct _TandemAgent {
  GObject parent_instance;
  char *address;
  TandemChannel *channel; /* the current connection (may be closed) */
  GStrv data_dirs;
  guint retry_ms;
  guint retry_id;

  /* Per connection: set by the host's HELLO. */
  gboolean greeted;
  char *locale;
  int icon_size;

  GPtrArray *catalog; /* TandemAppEntry, sorted by id */
  guint32 generation;
  GPtrArray *monitors; /* GFileMonitor on the applications dirs */
  guint rescan_id;

  TandemMounter *mounter; /* attached disks, through the mount helper */
  char *display_name;
  char *pixel_memory;     /* path, "none", NULL: the VM's device if any */
  TandemDisplay *display; /* windows, pixels, input, focus; NULL: none */
};

enum { SIGNAL_DISPLAY_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE(TandemAgent, tandem_agent, G_TYPE_OBJECT)

static guint64 now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (guint64)ts.tv_sec * 1000000000u + (guint64)ts.tv_nsec;
}

static void send_error(TandemAgent *self, TpError code, uint16_t related,
                       const char *text) {
  TpMessage m = {.type = TP_MSG_ERROR};
  m.u.error = (TpErrorMsg){code, related, text};
  tandem_channel_send(self->channel, &m);
}

/* --- The catalog -------------------------------------------------------- */

/* Keeps the items the protocol accepts for this list, at most @max. */
static GPtrArray *fit_list(GStrv items, size_t max_len, guint max,
                           gboolean (*ok)(const char *)) {
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  for (char **i = items; i && *i && out->len < max; i++) {
    if (!**i || strlen(*i) > max_len || (ok && !ok(*i)))
      continue;
    g_ptr_array_add(out, g_utf8_make_valid(*i, -1));
  }
  g_ptr_array_add(out, NULL);
  return out;
}

static gboolean id_chars(const char *s) {
  for (; *s; s++)
    if (!g_ascii_isalnum(*s) && !strchr("._+@-", *s))
      return FALSE;
  return TRUE;
}

static gboolean mime_chars(const char *s) {
  for (; *s; s++)
    if (!g_ascii_isalnum(*s) && !strchr("._+/-", *s))
      return FALSE;
  return TRUE;
}

static void send_entry(TandemAgent *self, const TandemAppEntry *e) {
  g_autofree char *name = tandem_fit_text(e->name, -1, TP_MAX_NAME_LEN);
  g_autofree char *generic =
      tandem_fit_text(e->generic_name, -1, TP_MAX_NAME_LEN);
  g_autofree char *comment =
      tandem_fit_text(e->comment, -1, TP_MAX_COMMENT_LEN);
  g_autofree char *wmclass =
      tandem_fit_text(e->startup_wm_class, -1, TP_MAX_NAME_LEN);
  g_autoptr(GPtrArray) cats = fit_list(e->categories, TP_MAX_ID_LEN,
                                       TP_MAX_CATEGORIES, id_chars);
  g_autoptr(GPtrArray) mimes = fit_list(e->mime_types, TP_MAX_MIME_LEN,
                                        TP_MAX_MIME_TYPES, mime_chars);
  g_autoptr(GPtrArray) words = fit_list(e->keywords, TP_MAX_KEYWORD_LEN,
                                        TP_MAX_KEYWORDS, NULL);
  g_autoptr(GBytes) icon = tandem_catalog_load_icon(
      e, (const char *const *)self->data_dirs, NULL, self->icon_size,
      TP_MAX_APP_ICON_BYTES);
  gsize icon_len = 0;
  const uint8_t *icon_data = icon ? g_bytes_get_data(icon, &icon_len) : NULL;

  TpMessage m = {.type = TP_MSG_APP_ENTRY};
  m.u.app = (TpAppEntry){
      e->id, name, generic, comment, wmclass,
      e->terminal ? TP_APP_TERMINAL : 0u,
      {cats->len - 1, (const char *const *)cats->pdata},
      {mimes->len - 1, (const char *const *)mimes->pdata},
      {words->len - 1, (const char *const *)words->pdata},
      {icon_data, (uint32_t)icon_len}};
  if (!*name) /* nothing printable left of the name: not worth a menu entry */
    return;
  tandem_channel_send(self->channel, &m);
}

static GPtrArray *scan(TandemAgent *self) {
  g_auto(GStrv) desktops = NULL;
  const char *current = g_getenv("XDG_CURRENT_DESKTOP");
  desktops = g_strsplit(current && *current ? current : "Tandem", ":", -1);
  return tandem_catalog_scan((const char *const *)self->data_dirs,
                             self->locale, (const char *const *)desktops);
}

static void send_catalog(TandemAgent *self) {
  g_clear_pointer(&self->catalog, g_ptr_array_unref);
  self->catalog = scan(self);
  guint count = MIN(self->catalog->len, TP_MAX_CATALOG_APPS);
  TpMessage m = {.type = TP_MSG_APP_LIST_BEGIN};
  m.u.app_list_begin = (TpAppListBegin){++self->generation, count};
  tandem_channel_send(self->channel, &m);
  for (guint i = 0; i < count; i++)
    send_entry(self, self->catalog->pdata[i]);
  m = (TpMessage){.type = TP_MSG_APP_LIST_END};
  m.u.app_list_end.generation = self->generation;
  tandem_channel_send(self->channel, &m);
}

static gboolean lists_equal(GStrv a, GStrv b) {
  if (!a || !b)
    return (!a || !*a) && (!b || !*b);
  return g_strv_equal((const char *const *)a, (const char *const *)b);
}

static gboolean same_entry(const TandemAppEntry *a, const TandemAppEntry *b) {
  return !g_strcmp0(a->name, b->name) &&
         !g_strcmp0(a->generic_name, b->generic_name) &&
         !g_strcmp0(a->comment, b->comment) && !g_strcmp0(a->exec, b->exec) &&
         !g_strcmp0(a->icon, b->icon) &&
         !g_strcmp0(a->startup_wm_class, b->startup_wm_class) &&
         a->terminal == b->terminal &&
         lists_equal(a->mime_types, b->mime_types) &&
         lists_equal(a->categories, b->categories) &&
         lists_equal(a->keywords, b->keywords);
}

static TandemAppEntry *lookup(GPtrArray *catalog, const char *id) {
  for (guint i = 0; catalog && i < catalog->len; i++)
    if (g_str_equal(((TandemAppEntry *)catalog->pdata[i])->id, id))
      return catalog->pdata[i];
  return NULL;
}

/* The directories changed: tell the host only what differs. */
static gboolean rescan(gpointer data) {
  TandemAgent *self = data;
  self->rescan_id = 0;
  if (!self->greeted || !self->catalog)
    return G_SOURCE_REMOVE;
  g_autoptr(GPtrArray) old = g_steal_pointer(&self->catalog);
  self->catalog = scan(self);
  for (guint i = 0; i < self->catalog->len; i++) {
    TandemAppEntry *e = self->catalog->pdata[i];
    TandemAppEntry *was = lookup(old, e->id);
    if (!was || !same_entry(was, e))
      send_entry(self, e);
  }
  for (guint i = 0; i < old->len; i++) {
    TandemAppEntry *e = old->pdata[i];
    if (!lookup(self->catalog, e->id)) {
      TpMessage m = {.type = TP_MSG_APP_REMOVE};
      m.u.app_remove.id = e->id;
      tandem_channel_send(self->channel, &m);
    }
  }
  return G_SOURCE_REMOVE;
}

static void on_apps_changed(GFileMonitor *mon, GFile *file, GFile *other,
                            GFileMonitorEvent event, gpointer data) {
  TandemAgent *self = data;
  /* Installers write several files at once: wait for them to settle. */
  if (self->rescan_id)
    g_source_remove(self->rescan_id);
  self->rescan_id = g_timeout_add(RESCAN_DELAY_MS, rescan, self);
}

static void watch_dirs(TandemAgent *self) {
  for (char **d = self->data_dirs; *d; d++) {
    g_autofree char *path = g_build_filename(*d, "applications", NULL);
    g_autoptr(GFile) dir = g_file_new_for_path(path);
    GFileMonitor *m = g_file_monitor_directory(dir, G_FILE_MONITOR_NONE, NULL,
                                               NULL);
    if (m) {
      g_signal_connect(m, "changed", G_CALLBACK(on_apps_changed), self);
      g_ptr_array_add(self->monitors, m);
    }
  }
}

/* --- Launching ---------------------------------------------------------- */

static void on_child_exit(GPid pid, int status, gpointer data) {
  g_spawn_close_pid(pid); /* reaped: no zombies */
}

static void launch_result(TandemAgent *self, const TpLaunch *l,
                          TpLaunchStatus status, GPid pid, const char *text) {
  TpMessage m = {.type = TP_MSG_LAUNCH_RESULT};
  g_autofree char *msg = tandem_fit_text(text, -1, TP_MAX_MESSAGE_LEN);
  m.u.launch_result = (TpLaunchResult){l->request_id, status, (uint32_t)pid,
                                       msg};
  tandem_channel_send(self->channel, &m);
}

static void handle_launch(TandemAgent *self, const TpLaunch *l) {
  TandemAppEntry *e = lookup(self->catalog, l->app_id);
  g_autoptr(GError) error = NULL;
  if (!e) {
    /* Only what the catalog offers can be started: the host is not
     * trusted to name programs. */
    g_autofree char *text = g_strdup_printf("No application “%s” in the "
                                            "guest's catalog", l->app_id);
    launch_result(self, l, TP_LAUNCH_NOT_FOUND, 0, text);
    return;
  }
  g_auto(GStrv) argv = tandem_catalog_expand_exec(e, l->args.items, &error);
  if (!argv) {
    launch_result(self, l, TP_LAUNCH_EXEC_FAILED, 0, error->message);
    return;
  }
  if (e->terminal) {
    GStrv wrapped = g_new0(char *, g_strv_length(argv) + 3);
    wrapped[0] = g_strdup("xterm");
    wrapped[1] = g_strdup("-e");
    for (guint i = 0; argv[i]; i++)
      wrapped[i + 2] = g_strdup(argv[i]);
    g_strfreev(argv);
    argv = wrapped;
  }
  g_auto(GStrv) env = g_get_environ();
  if (l->startup_id && *l->startup_id)
    env = g_environ_setenv(env, "DESKTOP_STARTUP_ID", l->startup_id, TRUE);
  GPid pid = 0;
  if (!g_spawn_async(NULL, argv, env,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                         G_SPAWN_STDIN_FROM_DEV_NULL,
                     NULL, NULL, &pid, &error)) {
    launch_result(self, l, TP_LAUNCH_EXEC_FAILED, 0, error->message);
    return;
  }
  g_child_watch_add(pid, on_child_exit, NULL);
  launch_result(self, l, TP_LAUNCH_STARTED, pid, "started");
}

/* --- The session -------------------------------------------------------- */

static char *os_name(void) {
  g_autofree char *name = g_get_os_info(G_OS_INFO_KEY_PRETTY_NAME);
  return tandem_fit_text(name ? name : "Linux", -1, TP_MAX_IDENTITY_LEN);
}

static uint64_t our_caps(TandemAgent *self) {
  uint64_t caps = TP_CAP_SVG_ICONS | TP_CAP_MOUNT;
  if (self->display)
    caps |= self->display->ops->caps(self->display);
  return caps;
}

static void send_hello(TandemAgent *self) {
  g_autofree char *os = os_name();
  uint32_t width = 0, height = 0;
  if (self->display)
    self->display->ops->screen(self->display, &width, &height);
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION,
                        TP_PROTOCOL_MIN_VERSION, our_caps(self), 0, 0, MIN(width, TP_MAX_SCREEN_DIM),
                        MIN(height, TP_MAX_SCREEN_DIM), 100, 0,
                        os, "tandem-agent " PACKAGE_VERSION, ""};
  tandem_channel_send(self->channel, &m);
}

static void handle_hello(TandemAgent *self, const TpHello *peer) {
  TpHello ours = {.magic = TP_MAGIC, .version = TP_PROTOCOL_VERSION,
                  .min_version = TP_PROTOCOL_MIN_VERSION,
                  .caps = our_caps(self)};
  uint16_t version;
  uint64_t caps;
  TpError err = tp_hello_negotiate(&ours, peer, &version, &caps);
  if (err) {
    send_error(self, err, TP_MSG_HELLO, tp_error_to_string(err));
    tandem_channel_close(self->channel);
    return;
  }
  if (self->greeted) {
    /* A HELLO on a live session: a new host at the other end without the
     * connection dropping in between (a VM restored from a snapshot, whose
     * memory still holds the old session). It gets our HELLO and then
     * everything, as after a reconnection. */
    g_message("a new host on the same connection: starting over");
    if (self->display)
      self->display->ops->host_gone(self->display);
    send_hello(self);
  }
  g_free(self->locale);
  self->locale = g_strdup(peer->locale);
  self->icon_size = peer->icon_size ? peer->icon_size : DEFAULT_ICON_SIZE;
  self->greeted = TRUE;
  g_message("host %s, protocol %u, locale %s", peer->software, version,
            *peer->locale ? peer->locale : "C");
  send_catalog(self);
  if (self->display)
    self->display->ops->host_ready(self->display, peer);
}

static void on_mount_result(const TpMountResult *r, gpointer data) {
  TandemAgent *self = data;
  TpMessage m = {.type = TP_MSG_MOUNT_RESULT, .u.mount_result = *r};
  if (self->greeted) /* the host may have gone meanwhile */
    tandem_channel_send(self->channel, &m);
}

static void on_message(TandemChannel *ch, const TpMessage *m,
                       gpointer data) {
  TandemAgent *self = data;
  if (!self->greeted && m->type != TP_MSG_HELLO) {
    send_error(self, TP_ERR_BAD_VALUE, m->type, "HELLO must come first");
    tandem_channel_close(ch);
    return;
  }
  switch ((TpMessageType)m->type) {
  case TP_MSG_HELLO:
    handle_hello(self, &m->u.hello);
    break;
  case TP_MSG_HEARTBEAT:
    if (!m->u.heartbeat.reply) {
      TpMessage pong = {.type = TP_MSG_HEARTBEAT};
      pong.u.heartbeat = (TpHeartbeat){m->u.heartbeat.seq, 1, now_ns(),
                                       m->u.heartbeat.sent_ns};
      tandem_channel_send(ch, &pong);
    }
    break;
  case TP_MSG_LAUNCH:
    handle_launch(self, &m->u.launch);
    break;
  case TP_MSG_ERROR:
    g_warning("host reports: %s", m->u.error.message);
    break;
  case TP_MSG_MOUNT:
    tandem_mounter_mount(self->mounter, &m->u.mount, on_mount_result, self);
    break;
  case TP_MSG_UNMOUNT:
    tandem_mounter_unmount(self->mounter, &m->u.unmount, on_mount_result,
                           self);
    break;
  default:
    if (tandem_display_handles(m->type) && self->display)
      self->display->ops->handle(self->display, m);
    else
      g_debug("agent: %s not handled", tp_message_type_name(m->type));
    break;
  }
}

static gboolean try_connect(gpointer data);

static void schedule_retry(TandemAgent *self) {
  if (!self->retry_id)
    self->retry_id = g_timeout_add(self->retry_ms, try_connect, self);
  self->retry_ms = MIN(self->retry_ms * 2, RETRY_MAX_MS);
}

static void on_closed(TandemChannel *ch, const char *reason,
                      gpointer data) {
  TandemAgent *self = data;
  g_message("connection closed: %s; reconnecting", reason);
  self->greeted = FALSE;
  if (self->display)
    self->display->ops->host_gone(self->display);
  self->retry_ms = RETRY_MIN_MS;
  schedule_retry(self);
}

/* The virtio-serial port's device node, found by the port's name. */
static char *find_virtio_port(const char *name) {
  g_autofree char *link = g_build_filename("/dev/virtio-ports", name, NULL);
  if (g_file_test(link, G_FILE_TEST_EXISTS))
    return g_steal_pointer(&link);
  g_autoptr(GDir) d = g_dir_open("/sys/class/virtio-ports", 0, NULL);
  for (const char *port; d && (port = g_dir_read_name(d));) {
    g_autofree char *file = g_build_filename("/sys/class/virtio-ports", port,
                                             "name", NULL);
    g_autofree char *text = NULL;
    if (g_file_get_contents(file, &text, NULL, NULL) &&
        g_str_equal(g_strstrip(text), name))
      return g_build_filename("/dev", port, NULL);
  }
  return NULL;
}

static int open_address(const char *address, GError **error) {
  if (g_str_has_prefix(address, "unix:")) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = address + 5;
    if (strlen(path) >= sizeof(sa.sun_path)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                  "Socket path too long: %s", path);
      return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
      return fd;
    int e = errno;
    if (fd >= 0)
      close(fd);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "Cannot connect to %s: %s", path, g_strerror(e));
    return -1;
  }
  if (g_str_has_prefix(address, "virtio:")) {
    g_autofree char *dev = find_virtio_port(address + 7);
    if (!dev) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                  "No virtio-serial port named %s", address + 7);
      return -1;
    }
    int fd = open(dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
      g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                  "Cannot open %s: %s", dev, g_strerror(errno));
    return fd;
  }
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
              "Unknown channel address “%s”: use unix:PATH or virtio:NAME",
              address);
  return -1;
}

static void drop_channel(TandemAgent *self) {
  if (!self->channel)
    return;
  g_signal_handlers_disconnect_by_data(self->channel, self);
  tandem_channel_close(self->channel);
  g_clear_object(&self->channel);
}

static gboolean try_connect(gpointer data) {
  TandemAgent *self = data;
  g_autoptr(GError) error = NULL;
  self->retry_id = 0;
  int fd = open_address(self->address, &error);
  if (fd < 0) {
    g_debug("agent: %s", error->message);
    schedule_retry(self);
    return G_SOURCE_REMOVE;
  }
  drop_channel(self); /* the last one, closed: safe to let go of now */
  self->channel = tandem_channel_new(fd, TP_ROLE_AGENT);
  g_signal_connect(self->channel, "message", G_CALLBACK(on_message), self);
  g_signal_connect(self->channel, "closed", G_CALLBACK(on_closed), self);
  self->retry_ms = RETRY_MIN_MS;
  send_hello(self);
  return G_SOURCE_REMOVE;
}

static gboolean display_send(const TpMessage *m, gpointer data) {
  TandemAgent *self = data;
  return self->greeted && tandem_channel_send(self->channel, m);
}

static void display_lost(const char *reason, gpointer data) {
  TandemAgent *self = data;
  g_warning("%s", reason);
  g_signal_emit(self, signals[SIGNAL_DISPLAY_LOST], 0, reason);
}

/* The memory shared with the host for pixels: the one asked for, or in a
 * VM its ivshmem device; NULL (pixels through the channel) otherwise. */
static TandemPixelMemory *open_pixel_memory(TandemAgent *self) {
  if (g_strcmp0(self->pixel_memory, "none") == 0 ||
      (!self->pixel_memory && g_str_has_prefix(self->address, "unix:")))
    return NULL;
  g_autoptr(GError) error = NULL;
  TandemPixelMemory *pm = tandem_pixel_memory_open(self->pixel_memory, NULL,
                                                   &error);
  if (pm)
    g_message("pixels through shared memory (%s, %" G_GUINT64_FORMAT
              " MiB)", tandem_pixel_memory_get_path(pm),
              tandem_pixel_memory_get_size(pm) >> 20);
  else
    g_message("pixels through the channel: %s", error->message);
  return pm;
}

gboolean tandem_agent_start(TandemAgent *self, GError **error) {
  const char *name = self->display_name ? self->display_name
                                        : g_getenv("DISPLAY");
  if (name && *name) {
    TandemDisplaySink sink = {display_send, display_lost, self};
    self->display = tandem_display_x11_new(name, &sink,
                                           open_pixel_memory(self), error);
    if (!self->display)
      return FALSE;
  } else {
    g_message("no display: offering the application catalog only");
  }
  watch_dirs(self);
  try_connect(self);
  return TRUE;
}

void tandem_agent_set_pixel_memory(TandemAgent *self, const char *path) {
  g_free(self->pixel_memory);
  self->pixel_memory = g_strdup(path);
}

void tandem_agent_set_display(TandemAgent *self, const char *display_name) {
  g_free(self->display_name);
  self->display_name = g_strdup(display_name);
}

TandemAgent *tandem_agent_new(const char *address,
                              const char *const *data_dirs) {
  TandemAgent *self = g_object_new(TANDEM_TYPE_AGENT, NULL);
  self->address = g_strdup(address);
  self->data_dirs = data_dirs ? g_strdupv((GStrv)data_dirs)
                              : tandem_catalog_default_data_dirs();
  return self;
}

static void tandem_agent_finalize(GObject *object) {
  TandemAgent *self = TANDEM_AGENT(object);
  g_free(self->pixel_memory);
  if (self->retry_id)
    g_source_remove(self->retry_id);
  if (self->rescan_id)
    g_source_remove(self->rescan_id);
  drop_channel(self);
  g_clear_object(&self->mounter);
  g_free(self->address);
  tandem_display_free(self->display);
  g_free(self->display_name);
  g_ptr_array_unref(self->monitors);
  g_clear_pointer(&self->catalog, g_ptr_array_unref);
  g_strfreev(self->data_dirs);
  g_free(self->locale);
  G_OBJECT_CLASS(tandem_agent_parent_class)->finalize(object);
}

static void tandem_agent_class_init(TandemAgentClass *klass) {
  G_OBJECT_CLASS(klass)->finalize = tandem_agent_finalize;
  signals[SIGNAL_DISPLAY_LOST] = g_signal_new(
      "display-lost", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void tandem_agent_init(TandemAgent *self) {
  self->retry_ms = RETRY_MIN_MS;
  self->icon_size = DEFAULT_ICON_SIZE;
  self->monitors = g_ptr_array_new_with_free_func(g_object_unref);
  self->mounter = tandem_mounter_new();
}
