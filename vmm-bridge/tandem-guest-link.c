/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-guest-link.h"

#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tandem-channel.h"

#define HEARTBEAT_MS 2000
#define HEARTBEAT_DEAD_MS 15000
#define LAUNCH_TIMEOUT_S 30
/* Log lines a guest can cause: at most LOG_BURST per LOG_PERIOD_US, then
 * one line saying how many were left out. */
#define LOG_BURST 20
#define LOG_PERIOD_US (10 * G_USEC_PER_SEC)

struct _TandemGuestLink {
  GObject parent_instance;
  char *vm_name;
  TandemChannel *channel;
  TandemGuestLinkState state;
  uint32_t host_w, host_h;
  uint16_t scale_percent, icon_size;
  char *locale;

  char *agent_software;
  char *agent_os;
  guint16 agent_protocol; /* the highest version the agent speaks */
  uint64_t caps;
  TandemPixelRegion *pixels;   /* offered to the agent, NULL: none */
  GPtrArray *apps;         /* TandemGuestApp, sorted by id */
  gboolean has_catalog;
  GPtrArray *incoming;     /* the list being received, or NULL */
  uint32_t incoming_count, incoming_generation;
  gsize apps_bytes, incoming_bytes; /* what they take, roughly */
  gsize catalog_memory;    /* the budget for both */
  gsize max_queued;        /* unread by the agent, at most */

  GHashTable *windows;     /* live guest window ids */
  GHashTable *launches;    /* request id -> GTask */
  uint32_t next_request;
  uint32_t hb_seq;
  guint before_hello;      /* messages dropped on this connection so far */
  guint hb_id;
  gint64 last_pong_us;
  gint64 last_beat_us;     /* when heartbeat() last ran */
  guint64 rtt_us;
  gint64 log_period_us;    /* start of the current log period */
  guint logged, log_dropped;
};

G_DEFINE_TYPE(TandemGuestLink, tandem_guest_link, G_TYPE_OBJECT)

enum {
  SIG_STATE_CHANGED,
  SIG_CATALOG_CHANGED,
  SIG_WINDOW_MESSAGE,
  SIG_FOCUS_REPORT,
  SIG_CLOSED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

void tandem_guest_app_free(TandemGuestApp *a) {
  if (!a)
    return;
  g_free(a->id);
  g_free(a->name);
  g_free(a->generic_name);
  g_free(a->comment);
  g_free(a->startup_wm_class);
  g_strfreev(a->categories);
  g_strfreev(a->mime_types);
  g_strfreev(a->keywords);
  g_clear_pointer(&a->icon_png, g_bytes_unref);
  g_free(a);
}

/* A log line the guest made happen, rate-limited. */
static void G_GNUC_PRINTF(3, 4)
    guest_log(TandemGuestLink *self, GLogLevelFlags level, const char *fmt,
              ...) {
  gint64 now = g_get_monotonic_time();
  if (now - self->log_period_us > LOG_PERIOD_US) {
    if (self->log_dropped)
      g_message("%s: %u more log lines caused by the guest were left out",
                self->vm_name, self->log_dropped);
    self->log_period_us = now;
    self->logged = self->log_dropped = 0;
  }
  if (self->logged >= LOG_BURST) {
    self->log_dropped++;
    return;
  }
  self->logged++;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_log(G_LOG_DOMAIN, level, "%s: %s", self->vm_name, text);
}

static guint64 mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (guint64)ts.tv_sec * 1000000000u + (guint64)ts.tv_nsec;
}

static void set_state(TandemGuestLink *self, TandemGuestLinkState state) {
  if (self->state == state)
    return;
  self->state = state;
  g_signal_emit(self, signals[SIG_STATE_CHANGED], 0);
}

static void fail_launches(TandemGuestLink *self, const char *reason) {
  GHashTableIter it;
  gpointer task;
  g_hash_table_iter_init(&it, self->launches);
  while (g_hash_table_iter_next(&it, NULL, &task)) {
    g_hash_table_iter_steal(&it);
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                            "The connection to the VM's agent closed: %s",
                            reason);
    g_object_unref(task);
  }
}

static void drop_channel(TandemGuestLink *self) {
  if (!self->channel)
    return;
  g_signal_handlers_disconnect_by_data(self->channel, self);
  tandem_channel_close(self->channel);
  g_clear_object(&self->channel);
}

void tandem_guest_link_close(TandemGuestLink *self, const char *reason) {
  if (!self->channel)
    return;
  guest_log(self, G_LOG_LEVEL_MESSAGE, "agent link closed: %s", reason);
  drop_channel(self);
  if (self->hb_id)
    g_source_remove(self->hb_id);
  self->hb_id = 0;
  g_hash_table_remove_all(self->windows);
  g_clear_pointer(&self->incoming, g_ptr_array_unref);
  /* What the guest sent goes with it (the host menu keeps its entries). */
  g_ptr_array_set_size(self->apps, 0);
  self->has_catalog = FALSE;
  self->apps_bytes = self->incoming_bytes = 0;
  fail_launches(self, reason);
  set_state(self, TANDEM_GUEST_LINK_DISCONNECTED);
  g_signal_emit(self, signals[SIG_CLOSED], 0, reason);
}

static void violation(TandemGuestLink *self, const char *what,
                      const TpMessage *m) {
  g_autofree char *reason = g_strdup_printf(
      "protocol violation: %s (%s, window %u)", what,
      tp_message_type_name(m->type), m->window);
  tandem_guest_link_close(self, reason);
}

/* --- The catalog -------------------------------------------------------- */

static GStrv copy_list(const TpStrList *l) {
  GStrv v = g_new0(char *, l->n + 1);
  for (uint32_t i = 0; i < l->n; i++)
    v[i] = g_strdup(l->items[i]);
  return v;
}

static TandemGuestApp *copy_app(const TpAppEntry *e) {
  TandemGuestApp *a = g_new0(TandemGuestApp, 1);
  a->id = g_strdup(e->id);
  a->name = g_strdup(e->name);
  a->generic_name = g_strdup(e->generic_name);
  a->comment = g_strdup(e->comment);
  a->startup_wm_class = g_strdup(e->startup_wm_class);
  a->terminal = (e->flags & TP_APP_TERMINAL) != 0;
  a->categories = copy_list(&e->categories);
  a->mime_types = copy_list(&e->mime_types);
  a->keywords = copy_list(&e->keywords);
  if (e->icon_png.len)
    a->icon_png = g_bytes_new(e->icon_png.data, e->icon_png.len);
  return a;
}

static gsize list_bytes(GStrv v) {
  gsize n = sizeof(char *);
  for (; v && *v; v++)
    n += sizeof(char *) + strlen(*v) + 1;
  return n;
}

/* Roughly what an entry takes on the host (its strings, lists and icon). */
static gsize app_bytes(const TandemGuestApp *a) {
  return sizeof(*a) + strlen(a->id) + strlen(a->name) +
         strlen(a->generic_name) + strlen(a->comment) +
         strlen(a->startup_wm_class) + 5 + list_bytes(a->categories) +
         list_bytes(a->mime_types) + list_bytes(a->keywords) +
         (a->icon_png ? g_bytes_get_size(a->icon_png) : 0);
}

static gint by_id(gconstpointer a, gconstpointer b) {
  return strcmp((*(TandemGuestApp *const *)a)->id,
                (*(TandemGuestApp *const *)b)->id);
}

static guint find_index(GPtrArray *apps, const char *id, gboolean *found) {
  *found = FALSE;
  for (guint i = 0; i < apps->len; i++)
    if (g_str_equal(((TandemGuestApp *)apps->pdata[i])->id, id)) {
      *found = TRUE;
      return i;
    }
  return 0;
}

/* Adds @a to @apps (or replaces the entry with its id), keeping @bytes. */
static void upsert(GPtrArray *apps, gsize *bytes, TandemGuestApp *a) {
  gboolean found;
  guint i = find_index(apps, a->id, &found);
  *bytes += app_bytes(a);
  if (found) {
    *bytes -= app_bytes(apps->pdata[i]);
    tandem_guest_app_free(apps->pdata[i]);
    apps->pdata[i] = a;
  } else {
    g_ptr_array_add(apps, a);
    g_ptr_array_sort(apps, by_id);
  }
}

static void on_catalog(TandemGuestLink *self, const TpMessage *m) {
  switch (m->type) {
  case TP_MSG_APP_LIST_BEGIN:
    if (self->incoming || m->u.app_list_begin.count > TP_MAX_CATALOG_APPS) {
      violation(self, "catalog list not well formed", m);
      return;
    }
    self->incoming = g_ptr_array_new_with_free_func(
        (GDestroyNotify)tandem_guest_app_free);
    self->incoming_count = m->u.app_list_begin.count;
    self->incoming_generation = m->u.app_list_begin.generation;
    self->incoming_bytes = 0;
    break;
  case TP_MSG_APP_ENTRY:
    if (self->incoming) {
      if (self->incoming->len >= self->incoming_count) {
        violation(self, "more catalog entries than announced", m);
        return;
      }
      upsert(self->incoming, &self->incoming_bytes, copy_app(&m->u.app));
    } else if (self->has_catalog) {
      if (self->apps->len >= TP_MAX_CATALOG_APPS) {
        violation(self, "catalog too large", m);
        return;
      }
      upsert(self->apps, &self->apps_bytes, copy_app(&m->u.app));
      g_signal_emit(self, signals[SIG_CATALOG_CHANGED], 0);
    }
    if (self->apps_bytes + self->incoming_bytes > self->catalog_memory) {
      g_autofree char *budget = g_format_size(self->catalog_memory);
      g_autofree char *what = g_strdup_printf(
          "its applications need more than their memory budget (%s; "
          "CatalogMemory in the VM's [Limits])", budget);
      violation(self, what, m);
      return;
    }
    break;
  case TP_MSG_APP_REMOVE: {
    gboolean found;
    guint i = find_index(self->apps, m->u.app_remove.id, &found);
    if (found && !self->incoming) {
      self->apps_bytes -= app_bytes(self->apps->pdata[i]);
      g_ptr_array_remove_index(self->apps, i);
      g_signal_emit(self, signals[SIG_CATALOG_CHANGED], 0);
    }
    break;
  }
  case TP_MSG_APP_LIST_END:
    if (!self->incoming ||
        m->u.app_list_end.generation != self->incoming_generation) {
      violation(self, "catalog list not well formed", m);
      return;
    }
    g_ptr_array_unref(self->apps);
    self->apps = g_steal_pointer(&self->incoming);
    self->apps_bytes = self->incoming_bytes;
    self->incoming_bytes = 0;
    self->has_catalog = TRUE;
    g_signal_emit(self, signals[SIG_CATALOG_CHANGED], 0);
    break;
  default:
    break;
  }
}

/* --- Windows ------------------------------------------------------------ */

/* Pixels in an encoding this session uses, and in shared memory only
 * where they lie within it. */
static gboolean damage_ok(TandemGuestLink *self, const TpMessage *m) {
  const TpDamage *d = &m->u.damage;
  if (d->encoding == TP_ENCODING_RAW ||
      (d->encoding == TP_ENCODING_LZ4 && (self->caps & TP_CAP_LZ4)) ||
      (d->encoding == TP_ENCODING_COPY && (self->caps & TP_CAP_COPY)) ||
      (d->encoding == TP_ENCODING_LZ4_BGR && (self->caps & TP_CAP_BGR)))
    return TRUE;
  TandemPixelRegion *region = tandem_guest_link_get_pixel_region(self);
  if (d->encoding != TP_ENCODING_SHM || !region) {
    violation(self, "pixels in an encoding that was not offered", m);
    return FALSE;
  }
  for (guint i = 0; i < d->n_rects; i++) {
    TpShmRef ref;
    TpError err = tp_shm_ref_read(&d->rects[i],
                                  tandem_pixel_region_get_size(region), &ref);
    if (err) {
      g_autofree char *what = g_strdup_printf(
          "the pixels of a %ux%u rectangle at %u,%u said to be outside the "
          "%" G_GUINT64_FORMAT " bytes of shared memory (%s)",
          d->rects[i].width, d->rects[i].height, d->rects[i].x,
          d->rects[i].y, tandem_pixel_region_get_size(region),
          tp_error_to_string(err));
      violation(self, what, m);
      return FALSE;
    }
  }
  return TRUE;
}

static void on_window(TandemGuestLink *self, const TpMessage *m) {
  gpointer key = GUINT_TO_POINTER(m->window);
  gboolean live = g_hash_table_contains(self->windows, key);
  if (m->type == TP_MSG_WINDOW_CREATE) {
    if (live) {
      violation(self, "window created twice", m);
      return;
    }
    if (g_hash_table_size(self->windows) >= TP_MAX_WINDOWS) {
      violation(self, "too many windows", m);
      return;
    }
    uint32_t t = m->u.create.transient_for;
    if (t && !g_hash_table_contains(self->windows, GUINT_TO_POINTER(t))) {
      violation(self, "transient for an unknown window", m);
      return;
    }
    g_hash_table_add(self->windows, key);
  } else if (!live) {
    violation(self, "unknown window", m);
    return;
  } else if (m->type == TP_MSG_DAMAGE && !damage_ok(self, m)) {
    return;
  }
  g_object_ref(self);
  g_signal_emit(self, signals[SIG_WINDOW_MESSAGE], 0, m);
  if (m->type == TP_MSG_WINDOW_DESTROY && self->channel) {
    g_hash_table_remove(self->windows, key);
    TpMessage ack = {.type = TP_MSG_WINDOW_DESTROY_ACK, .window = m->window};
    tandem_channel_send(self->channel, &ack);
  }
  g_object_unref(self);
}

/* --- Messages ----------------------------------------------------------- */

static uint64_t our_caps(TandemGuestLink *self) {
  return TP_CAP_SVG_ICONS | TP_CAP_WM | TP_CAP_MOUNT | TP_CAP_LZ4 |
         TP_CAP_COPY | TP_CAP_BGR |
         (self->pixels ? TP_CAP_SHM : 0);
}

static void send_hello(TandemGuestLink *self) {
  const char *locale = self->locale ? self->locale
                                    : setlocale(LC_MESSAGES, NULL);
  if (!locale || strlen(locale) > TP_MAX_LOCALE_LEN)
    locale = "C";
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION,
                        our_caps(self),
                        0, 0, MIN(self->host_w, TP_MAX_SCREEN_DIM),
                        MIN(self->host_h, TP_MAX_SCREEN_DIM),
                        self->scale_percent, self->icon_size,
                        "Linux", "tandem " PACKAGE_VERSION, locale};
  tandem_channel_send(self->channel, &m);
}

static gboolean heartbeat(gpointer data) {
  TandemGuestLink *self = data;
  gint64 now = g_get_monotonic_time();
  /* Late because the shell itself was busy: that time is not the
   * guest's to answer for. */
  gint64 late = now - self->last_beat_us - (gint64)HEARTBEAT_MS * 1000;
  if (self->last_beat_us && late > (gint64)HEARTBEAT_MS * 1000)
    self->last_pong_us += late;
  self->last_beat_us = now;
  if (now - self->last_pong_us > (gint64)HEARTBEAT_DEAD_MS * 1000) {
    self->hb_id = 0;
    tandem_guest_link_close(self, "the agent stopped answering heartbeats");
    return G_SOURCE_REMOVE;
  }
  TpMessage m = {.type = TP_MSG_HEARTBEAT};
  m.u.heartbeat = (TpHeartbeat){++self->hb_seq, 0, mono_ns(), 0};
  tandem_channel_send(self->channel, &m);
  return G_SOURCE_CONTINUE;
}

static void on_hello(TandemGuestLink *self, const TpMessage *m) {
  TpHello ours = {.magic = TP_MAGIC, .version = TP_PROTOCOL_VERSION,
                  .min_version = TP_PROTOCOL_MIN_VERSION,
                  .caps = our_caps(self)};
  uint16_t version;
  uint64_t caps;
  TpError err = tp_hello_negotiate(&ours, &m->u.hello, &version, &caps);
  if (err == TP_ERR_VERSION) {
    /* Say which side to update, and how. */
    g_autofree char *why = g_strdup_printf(
        "the guest's agent (%s) speaks protocol %u to %u and this Tandem "
        "%u to %u: %s",
        m->u.hello.software && *m->u.hello.software ? m->u.hello.software
                                                    : "tandem-agent",
        m->u.hello.min_version, m->u.hello.version, TP_PROTOCOL_MIN_VERSION,
        TP_PROTOCOL_VERSION,
        m->u.hello.version < TP_PROTOCOL_MIN_VERSION
            ? "install this Tandem's tandem-agent package in the guest"
            : "update Tandem on the host");
    violation(self, why, m);
    return;
  }
  if (err) {
    violation(self, tp_error_to_string(err), m);
    return;
  }
  /* A restarted agent says HELLO again on the same connection (a virtio
   * port outlives its reader) and announces everything afresh: the
   * session starts over, and everything of the old one goes, its windows'
   * proxies with it (through the state passing HANDSHAKE again). */
  if (self->state == TANDEM_GUEST_LINK_READY) {
    guest_log(self, G_LOG_LEVEL_MESSAGE,
              "the agent started again: its windows are announced afresh");
    g_clear_pointer(&self->incoming, g_ptr_array_unref);
    fail_launches(self, "the agent started again");
    set_state(self, TANDEM_GUEST_LINK_HANDSHAKE);
    /* The new agent waits for ours, as on a new connection. (It answers a
     * host HELLO with its own only when it had one already: no ping-pong.) */
    send_hello(self);
  }
  g_hash_table_remove_all(self->windows);
  g_free(self->agent_software);
  self->agent_software = g_strdup(m->u.hello.software);
  g_free(self->agent_os);
  self->agent_os = g_strdup(m->u.hello.os);
  self->agent_protocol = m->u.hello.version;
  if (m->u.hello.version < TP_PROTOCOL_VERSION)
    guest_log(self, G_LOG_LEVEL_MESSAGE,
              "the guest's agent (%s) speaks protocol %u, older than this "
              "Tandem's %u: it works, without what is newer; install this "
              "Tandem's tandem-agent package in the guest",
              self->agent_software ? self->agent_software : "?",
              m->u.hello.version, TP_PROTOCOL_VERSION);
  self->caps = caps;
  self->last_pong_us = g_get_monotonic_time();
  self->last_beat_us = 0;
  if (!self->hb_id)
    self->hb_id = g_timeout_add(HEARTBEAT_MS, heartbeat, self);
  set_state(self, TANDEM_GUEST_LINK_READY);
}

static void on_mount_result(TandemGuestLink *self, const TpMountResult *r);

static void on_launch_result(TandemGuestLink *self, const TpLaunchResult *r) {
  GTask *task = g_hash_table_lookup(self->launches,
                                    GUINT_TO_POINTER(r->request_id));
  if (!task || g_task_get_source_tag(task) != tandem_guest_link_launch_async)
    return; /* timed out or never asked: ignore */
  g_hash_table_steal(self->launches, GUINT_TO_POINTER(r->request_id));
  static const int codes[] = {0, G_IO_ERROR_NOT_FOUND, G_IO_ERROR_FAILED,
                              G_IO_ERROR_INVALID_ARGUMENT,
                              G_IO_ERROR_PERMISSION_DENIED};
  if (r->status == TP_LAUNCH_STARTED)
    g_task_return_int(task, r->pid);
  else
    g_task_return_new_error(task, G_IO_ERROR, codes[r->status],
                            "The guest could not start it: %s", r->message);
  g_object_unref(task);
}

static void on_message(TandemChannel *ch, const TpMessage *m, gpointer data) {
  TandemGuestLink *self = data;
  if (self->state != TANDEM_GUEST_LINK_READY && m->type != TP_MSG_HELLO &&
      m->type != TP_MSG_ERROR) {
    /* A guest restored from a snapshot still talks to the host it had
     * (heartbeats, its windows' pixels) until our HELLO reaches it and it
     * starts over: dropped, up to a bound. */
    if (++self->before_hello > TANDEM_GUEST_LINK_MAX_BEFORE_HELLO)
      violation(self, "too many messages before HELLO", m);
    return;
  }
  switch ((TpMessageType)m->type) {
  case TP_MSG_HELLO:
    on_hello(self, m);
    break;
  case TP_MSG_HEARTBEAT:
    if (m->u.heartbeat.reply) {
      self->last_pong_us = g_get_monotonic_time();
      guint64 now = mono_ns();
      if (m->u.heartbeat.echo_ns && m->u.heartbeat.echo_ns <= now)
        self->rtt_us = (now - m->u.heartbeat.echo_ns) / 1000;
    } else {
      TpMessage pong = {.type = TP_MSG_HEARTBEAT};
      pong.u.heartbeat = (TpHeartbeat){m->u.heartbeat.seq, 1, mono_ns(),
                                       m->u.heartbeat.sent_ns};
      tandem_channel_send(ch, &pong);
    }
    break;
  case TP_MSG_ERROR:
    guest_log(self, G_LOG_LEVEL_WARNING, "the agent reports: %s",
              m->u.error.message);
    break;
  case TP_MSG_APP_LIST_BEGIN:
  case TP_MSG_APP_ENTRY:
  case TP_MSG_APP_REMOVE:
  case TP_MSG_APP_LIST_END:
    on_catalog(self, m);
    break;
  case TP_MSG_LAUNCH_RESULT:
    on_launch_result(self, &m->u.launch_result);
    break;
  case TP_MSG_FOCUS_REPORT:
    if (m->window &&
        !g_hash_table_contains(self->windows, GUINT_TO_POINTER(m->window))) {
      violation(self, "focus on an unknown window", m);
      return;
    }
    g_signal_emit(self, signals[SIG_FOCUS_REPORT], 0,
                  (guint)m->u.focus_report.seq, (guint)m->u.focus_report.kind,
                  (guint)m->window);
    break;
  case TP_MSG_MOUNT_RESULT:
    on_mount_result(self, &m->u.mount_result);
    break;
  default:
    on_window(self, m);
    break;
  }
}

static void on_closed(TandemChannel *ch, const char *reason, gpointer data) {
  TandemGuestLink *self = data;
  g_autofree char *why = g_strdup(reason);
  tandem_guest_link_close(self, why);
}

/* --- Public ------------------------------------------------------------- */

void tandem_guest_link_attach_fd(TandemGuestLink *self, int fd) {
  if (self->channel)
    tandem_guest_link_close(self, "replaced by a new connection");
  self->has_catalog = FALSE;
  self->before_hello = 0;
  self->channel = tandem_channel_new(fd, TP_ROLE_HOST);
  tandem_channel_set_max_queued(self->channel, self->max_queued);
  g_signal_connect(self->channel, "message", G_CALLBACK(on_message), self);
  g_signal_connect(self->channel, "closed", G_CALLBACK(on_closed), self);
  set_state(self, TANDEM_GUEST_LINK_HANDSHAKE);
  send_hello(self);
}

gboolean tandem_guest_link_connect(TandemGuestLink *self, const char *path,
                                   GError **error) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(sa.sun_path)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "Socket path too long: %s", path);
    return FALSE;
  }
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "Cannot connect to the VM's agent channel %s: %s", path,
                g_strerror(e));
    return FALSE;
  }
  tandem_guest_link_attach_fd(self, fd);
  return TRUE;
}

gboolean tandem_guest_link_send(TandemGuestLink *self, const TpMessage *msg) {
  return self->channel && self->state == TANDEM_GUEST_LINK_READY &&
         tandem_channel_send(self->channel, msg);
}

static gboolean launch_timeout(gpointer data) {
  GTask *task = data;
  TandemGuestLink *self = g_task_get_source_object(task);
  guint id = GPOINTER_TO_UINT(g_task_get_task_data(task));
  if (g_hash_table_steal(self->launches, GUINT_TO_POINTER(id))) {
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                            "The guest did not answer the %s request "
                            "within %d s",
                            g_task_get_source_tag(task) ==
                                    tandem_guest_link_launch_async
                                ? "launch"
                                : "mount",
                            LAUNCH_TIMEOUT_S);
    g_object_unref(task);
  }
  return G_SOURCE_REMOVE;
}

/* Sends @m (its request id @id) and waits for the answer, bounded. */
static void send_request(TandemGuestLink *self, GTask *task, guint id,
                         const TpMessage *m, const char *what) {
  if (!tandem_guest_link_send(self, m)) {
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                            "The VM's agent is not connected, or “%s” is "
                            "not a valid request", what);
    g_object_unref(task);
    return;
  }
  g_task_set_task_data(task, GUINT_TO_POINTER(id), NULL);
  g_hash_table_insert(self->launches, GUINT_TO_POINTER(id), task);
  GSource *t = g_timeout_source_new_seconds(LAUNCH_TIMEOUT_S);
  g_task_attach_source(task, t, launch_timeout);
  g_source_unref(t);
}

void tandem_guest_link_launch_async(TandemGuestLink *self, const char *app_id,
                                    const char *const *args,
                                    const char *startup_id,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data) {
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_guest_link_launch_async);
  guint n = args ? g_strv_length((GStrv)args) : 0;
  if (n > TP_MAX_LAUNCH_ARGS) {
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "At most %u files can be opened at once",
                            TP_MAX_LAUNCH_ARGS);
    g_object_unref(task);
    return;
  }
  guint id = ++self->next_request;
  TpMessage m = {.type = TP_MSG_LAUNCH};
  m.u.launch = (TpLaunch){id, app_id, startup_id ? startup_id : "",
                          {n, args}};
  send_request(self, task, id, &m, app_id);
}

guint32 tandem_guest_link_launch_finish(TandemGuestLink *self,
                                        GAsyncResult *result, GError **error) {
  gssize pid = g_task_propagate_int(G_TASK(result), error);
  return pid < 0 ? 0 : (guint32)pid;
}

/* --- Mounting attached disks ---------------------------------------------- */

void tandem_guest_mount_free(TandemGuestMount *mount) {
  if (!mount)
    return;
  g_free(mount->mountpoint);
  g_free(mount->fs_type);
  g_free(mount->message);
  g_free(mount);
}

static void on_mount_result(TandemGuestLink *self, const TpMountResult *r) {
  GTask *task = g_hash_table_lookup(self->launches,
                                    GUINT_TO_POINTER(r->request_id));
  if (!task || (g_task_get_source_tag(task) != tandem_guest_link_mount_async &&
                g_task_get_source_tag(task) !=
                    tandem_guest_link_unmount_async))
    return; /* timed out or never asked: ignore */
  g_hash_table_steal(self->launches, GUINT_TO_POINTER(r->request_id));
  /* The decoder checked the strings (UTF-8, bounded) and the status. */
  static const int codes[] = {0, G_IO_ERROR_NOT_FOUND, G_IO_ERROR_FAILED,
                              G_IO_ERROR_BUSY, G_IO_ERROR_NOT_MOUNTABLE_FILE};
  G_STATIC_ASSERT(G_N_ELEMENTS(codes) == TP_MOUNT_LAST + 1);
  if (r->status == TP_MOUNT_OK) {
    TandemGuestMount *mount = g_new0(TandemGuestMount, 1);
    mount->mountpoint = g_strdup(r->mountpoint);
    mount->fs_type = g_strdup(r->fs_type);
    mount->message = g_strdup(r->message);
    mount->total_bytes = r->total_bytes;
    mount->free_bytes = MIN(r->free_bytes, r->total_bytes);
    g_task_return_pointer(task, mount,
                          (GDestroyNotify)tandem_guest_mount_free);
  } else {
    g_task_return_new_error(task, G_IO_ERROR, codes[r->status], "%s",
                            *r->message ? r->message
                                        : "the guest gave no reason");
  }
  g_object_unref(task);
}

void tandem_guest_link_mount_async(TandemGuestLink *self, const char *serial,
                                   const char *label, gboolean read_only,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data) {
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_guest_link_mount_async);
  guint id = ++self->next_request;
  TpMessage m = {.type = TP_MSG_MOUNT};
  m.u.mount = (TpMount){id, serial, label, read_only ? 1 : 0};
  send_request(self, task, id, &m, serial);
}

TandemGuestMount *tandem_guest_link_mount_finish(TandemGuestLink *self,
                                                 GAsyncResult *result,
                                                 GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}

void tandem_guest_link_unmount_async(TandemGuestLink *self,
                                     const char *serial, gboolean force,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data) {
  GTask *task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_guest_link_unmount_async);
  guint id = ++self->next_request;
  TpMessage m = {.type = TP_MSG_UNMOUNT};
  m.u.unmount = (TpUnmount){id, serial, force ? 1 : 0};
  send_request(self, task, id, &m, serial);
}

gboolean tandem_guest_link_unmount_finish(TandemGuestLink *self,
                                          GAsyncResult *result,
                                          GError **error) {
  g_autoptr(TandemGuestMount) mount =
      g_task_propagate_pointer(G_TASK(result), error);
  return mount != NULL;
}

void tandem_guest_link_set_host(TandemGuestLink *self, uint32_t width,
                                uint32_t height, uint16_t scale_percent,
                                uint16_t icon_size, const char *locale) {
  self->host_w = width;
  self->host_h = height;
  self->scale_percent = scale_percent ? scale_percent : 100;
  self->icon_size = icon_size;
  g_free(self->locale);
  self->locale = g_strdup(locale);
}

const char *tandem_guest_link_get_vm_name(TandemGuestLink *self) {
  return self->vm_name;
}
TandemGuestLinkState tandem_guest_link_get_state(TandemGuestLink *self) {
  return self->state;
}
const char *tandem_guest_link_get_agent_software(TandemGuestLink *self) {
  return self->agent_software;
}

const char *tandem_guest_link_get_agent_os(TandemGuestLink *self) {
  return self->agent_os;
}

guint tandem_guest_link_get_agent_protocol(TandemGuestLink *self) {
  return self->agent_protocol;
}
uint64_t tandem_guest_link_get_caps(TandemGuestLink *self) {
  return self->caps;
}

void tandem_guest_link_set_pixel_region(TandemGuestLink *self,
                                        TandemPixelRegion *region) {
  if (region)
    tandem_pixel_region_ref(region);
  g_clear_pointer(&self->pixels, tandem_pixel_region_unref);
  self->pixels = region;
}

TandemPixelRegion *tandem_guest_link_get_pixel_region(TandemGuestLink *self) {
  return (self->caps & TP_CAP_SHM) ? self->pixels : NULL;
}
GPtrArray *tandem_guest_link_get_apps(TandemGuestLink *self) {
  return self->apps;
}
gboolean tandem_guest_link_has_catalog(TandemGuestLink *self) {
  return self->has_catalog;
}
guint64 tandem_guest_link_get_rtt_us(TandemGuestLink *self) {
  return self->rtt_us;
}

const TandemGuestApp *tandem_guest_link_find_app(TandemGuestLink *self,
                                                 const char *id) {
  gboolean found;
  guint i = find_index(self->apps, id, &found);
  return found ? self->apps->pdata[i] : NULL;
}

TandemGuestLink *tandem_guest_link_new(const char *vm_name) {
  TandemGuestLink *self = g_object_new(TANDEM_TYPE_GUEST_LINK, NULL);
  self->vm_name = g_strdup(vm_name);
  return self;
}

static void tandem_guest_link_dispose(GObject *object) {
  TandemGuestLink *self = TANDEM_GUEST_LINK(object);
  drop_channel(self);
  if (self->hb_id)
    g_source_remove(self->hb_id);
  self->hb_id = 0;
  if (self->launches)
    fail_launches(self, "Tandem is shutting down");
  G_OBJECT_CLASS(tandem_guest_link_parent_class)->dispose(object);
}

static void tandem_guest_link_finalize(GObject *object) {
  TandemGuestLink *self = TANDEM_GUEST_LINK(object);
  g_clear_pointer(&self->pixels, tandem_pixel_region_unref);
  g_free(self->vm_name);
  g_free(self->locale);
  g_free(self->agent_software);
  g_free(self->agent_os);
  g_ptr_array_unref(self->apps);
  g_clear_pointer(&self->incoming, g_ptr_array_unref);
  g_hash_table_unref(self->windows);
  g_hash_table_unref(self->launches);
  G_OBJECT_CLASS(tandem_guest_link_parent_class)->finalize(object);
}

static void tandem_guest_link_class_init(TandemGuestLinkClass *klass) {
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  oc->dispose = tandem_guest_link_dispose;
  oc->finalize = tandem_guest_link_finalize;
  signals[SIG_STATE_CHANGED] = g_signal_new(
      "state-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 0);
  signals[SIG_CATALOG_CHANGED] = g_signal_new(
      "catalog-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 0);
  signals[SIG_WINDOW_MESSAGE] = g_signal_new(
      "window-message", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIG_FOCUS_REPORT] = g_signal_new(
      "focus-report", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_UINT);
  signals[SIG_CLOSED] = g_signal_new(
      "closed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void tandem_guest_link_init(TandemGuestLink *self) {
  self->apps = g_ptr_array_new_with_free_func(
      (GDestroyNotify)tandem_guest_app_free);
  self->windows = g_hash_table_new(NULL, NULL);
  self->launches = g_hash_table_new(NULL, NULL);
  self->scale_percent = 100;
  self->icon_size = 64;
  self->catalog_memory = TANDEM_GUEST_LINK_DEFAULT_CATALOG_MEMORY;
  self->max_queued = TANDEM_GUEST_LINK_DEFAULT_MAX_QUEUED;
}

void tandem_guest_link_set_limits(TandemGuestLink *self, gsize catalog_memory,
                                  gsize max_queued) {
  self->catalog_memory = catalog_memory;
  self->max_queued = max_queued;
  if (self->channel)
    tandem_channel_set_max_queued(self->channel, max_queued);
}
