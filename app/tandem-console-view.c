/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-console-view.h"

#include <spice-client-gtk.h>

#include "tandem-i18n.h"

/* Retrying a socket that is missing or refuses: 50 ms, doubling to 1 s. */
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 1000
#define DEFAULT_CONNECT_TIMEOUT_MS 30000

G_DEFINE_ENUM_TYPE(TandemConsoleState, tandem_console_state,
  G_DEFINE_ENUM_VALUE(TANDEM_CONSOLE_DISCONNECTED, "disconnected"),
  G_DEFINE_ENUM_VALUE(TANDEM_CONSOLE_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE(TANDEM_CONSOLE_CONNECTED, "connected"))

G_DEFINE_ENUM_TYPE(TandemConsoleDisconnectReason,
  tandem_console_disconnect_reason,
  G_DEFINE_ENUM_VALUE(TANDEM_CONSOLE_REASON_NONE, "none"),
  G_DEFINE_ENUM_VALUE(TANDEM_CONSOLE_REASON_CLOSED, "closed"),
  G_DEFINE_ENUM_VALUE(TANDEM_CONSOLE_REASON_UNREACHABLE, "unreachable"),
  G_DEFINE_ENUM_VALUE(TANDEM_CONSOLE_REASON_FAILED, "failed"))

struct _TandemConsoleView {
  GtkBin parent_instance;

  GtkWidget *screen;       /* holds the SpiceDisplay while there is one */
  GtkWidget *status_box;   /* the overlay: spinner and label */
  GtkWidget *spinner;
  GtkLabel *status_label;

  char *socket_path;
  guint connect_timeout_ms;
  gint64 connect_deadline; /* monotonic, µs */
  guint retry_delay_ms;
  guint retry_id;

  /* One SPICE session per connection attempt; a failed one is thrown away
   * whole, so nothing of an old attempt can report into a new one. The
   * channels belong to the session, the display to self->screen. */
  SpiceSession *session;
  SpiceChannel *main_channel;
  SpiceChannel *display_channel;
  SpiceDisplay *display;
  gboolean has_primary;
  int primary_width, primary_height;
  gboolean display_ready;
  gboolean shown_once; /* the guest's picture showed in this session */

  TandemConsoleState state;
  TandemConsoleDisconnectReason reason;
  char *error_detail;  /* for REASON_FAILED, from spice-gtk */
  char *status_text;
};

G_DEFINE_TYPE(TandemConsoleView, tandem_console_view, GTK_TYPE_BIN)

enum {
  PROP_0,
  PROP_STATE,
  PROP_DISCONNECT_REASON,
  PROP_SOCKET_PATH,
  PROP_STATUS_TEXT,
  PROP_DISPLAY_READY,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void start_attempt(TandemConsoleView *self);

/* --- What the user sees ------------------------------------------------ */

static const char *compute_status_text(TandemConsoleView *self,
                                       gboolean *busy) {
  *busy = FALSE;
  switch (self->state) {
  case TANDEM_CONSOLE_CONNECTING:
    *busy = TRUE;
    return _("Connecting to the VM's display…");
  case TANDEM_CONSOLE_CONNECTED:
    /* Connected but no picture yet: the display channel is still coming. */
    if (self->shown_once)
      return NULL;
    *busy = TRUE;
    return _("Connecting to the VM's display…");
  case TANDEM_CONSOLE_DISCONNECTED:
    break;
  }
  switch (self->reason) {
  case TANDEM_CONSOLE_REASON_NONE:
    return _("Not connected to the VM's display.");
  case TANDEM_CONSOLE_REASON_CLOSED:
    return _("The VM's display closed. Start the VM to see it again.");
  case TANDEM_CONSOLE_REASON_UNREACHABLE:
    return _("The VM's display did not answer. Start the VM to see it.");
  case TANDEM_CONSOLE_REASON_FAILED:
    break;
  }
  return NULL; /* FAILED: formatted by the caller */
}

static void update_status(TandemConsoleView *self) {
  gboolean busy;
  const char *fixed = compute_status_text(self, &busy);
  g_autofree char *text = NULL;

  if (self->state == TANDEM_CONSOLE_DISCONNECTED &&
      self->reason == TANDEM_CONSOLE_REASON_FAILED)
    /* TRANSLATORS: %s is spice-gtk's reason, e.g. "Authentication failed". */
    text = g_strdup_printf(_("The VM's display could not be shown: %s"),
                           self->error_detail ? self->error_detail
                                              : _("unknown error"));
  else
    text = g_strdup(fixed);

  if (busy)
    gtk_spinner_start(GTK_SPINNER(self->spinner));
  else
    gtk_spinner_stop(GTK_SPINNER(self->spinner));
  gtk_widget_set_visible(self->spinner, busy);
  gtk_label_set_text(self->status_label, text ? text : "");
  gtk_widget_set_visible(self->status_box, text != NULL);

  if (g_strcmp0(text, self->status_text) != 0) {
    g_free(self->status_text);
    self->status_text = g_steal_pointer(&text);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_STATUS_TEXT]);
  }
}

static void set_state(TandemConsoleView *self, TandemConsoleState state,
                      TandemConsoleDisconnectReason reason,
                      const char *error_detail) {
  g_object_freeze_notify(G_OBJECT(self));
  if (g_strcmp0(self->error_detail, error_detail) != 0) {
    g_free(self->error_detail);
    self->error_detail = g_strdup(error_detail);
  }
  if (self->reason != reason) {
    self->reason = reason;
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_DISCONNECT_REASON]);
  }
  if (self->state != state) {
    self->state = state;
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_STATE]);
  }
  update_status(self);
  g_object_thaw_notify(G_OBJECT(self));
}

static void sync_display_ready(TandemConsoleView *self) {
  gboolean spice_ready = FALSE;
  if (self->display)
    g_object_get(self->display, "ready", &spice_ready, NULL);
  gboolean ready = self->has_primary && spice_ready;
  if (ready)
    self->shown_once = TRUE;
  if (ready != self->display_ready) {
    self->display_ready = ready;
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_DISPLAY_READY]);
  }
  update_status(self);
}

/* --- The SPICE session ------------------------------------------------- */

static gboolean release_session(gpointer data) {
  SpiceSession *session = data;
  spice_session_disconnect(session);
  g_object_unref(session);
  return G_SOURCE_REMOVE;
}

/* Forgets the current session: no signal of it reaches us any more, its
 * widget goes at once, the session itself on the next idle (we are often
 * inside one of its channels' signal emissions here). */
static void end_session(TandemConsoleView *self) {
  if (!self->session)
    return;
  SpiceSession *session = g_steal_pointer(&self->session);
  GList *channels = spice_session_get_channels(session);
  for (GList *l = channels; l; l = l->next)
    g_signal_handlers_disconnect_by_data(l->data, self);
  g_list_free(channels);
  g_signal_handlers_disconnect_by_data(session, self);
  self->main_channel = NULL;
  self->display_channel = NULL;
  if (self->display) {
    g_signal_handlers_disconnect_by_data(self->display, self);
    gtk_widget_destroy(GTK_WIDGET(self->display));
    self->display = NULL;
  }
  self->has_primary = FALSE;
  self->primary_width = self->primary_height = 0;
  self->shown_once = FALSE;
  sync_display_ready(self);
  g_idle_add(release_session, session);
}

static void cancel_retry(TandemConsoleView *self) {
  if (self->retry_id) {
    g_source_remove(self->retry_id);
    self->retry_id = 0;
  }
}

static gboolean on_retry(gpointer data) {
  TandemConsoleView *self = data;
  self->retry_id = 0;
  start_attempt(self);
  return G_SOURCE_REMOVE;
}

/* The socket is not there yet, or nobody listens on it yet (QEMU is still
 * starting): try again a little later, until the deadline. */
static void retry_or_give_up(TandemConsoleView *self) {
  end_session(self);
  gint64 left_ms = (self->connect_deadline - g_get_monotonic_time()) / 1000;
  if (left_ms <= 0) {
    set_state(self, TANDEM_CONSOLE_DISCONNECTED,
              TANDEM_CONSOLE_REASON_UNREACHABLE, NULL);
    return;
  }
  guint delay = (guint)MIN((gint64)self->retry_delay_ms, left_ms);
  self->retry_delay_ms = MIN(self->retry_delay_ms * 2, RETRY_MAX_MS);
  self->retry_id = g_timeout_add(delay, on_retry, self);
}

static void on_main_channel_event(SpiceChannel *channel,
                                  SpiceChannelEvent event, gpointer data) {
  TandemConsoleView *self = data;
  const GError *error = spice_channel_get_error(channel);
  g_autofree char *detail = g_strdup(error ? error->message : NULL);

  switch (event) {
  case SPICE_CHANNEL_OPENED:
    set_state(self, TANDEM_CONSOLE_CONNECTED, TANDEM_CONSOLE_REASON_NONE,
              NULL);
    break;
  case SPICE_CHANNEL_CLOSED:
    end_session(self);
    set_state(self, TANDEM_CONSOLE_DISCONNECTED, TANDEM_CONSOLE_REASON_CLOSED,
              NULL);
    break;
  case SPICE_CHANNEL_ERROR_CONNECT:
  case SPICE_CHANNEL_ERROR_LINK:
  case SPICE_CHANNEL_ERROR_IO:
    if (self->state == TANDEM_CONSOLE_CONNECTING) {
      retry_or_give_up(self);
    } else {
      /* A link that breaks rather than closes: QEMU was killed or
       * crashed. For the user it is the same as a stop. */
      end_session(self);
      set_state(self, TANDEM_CONSOLE_DISCONNECTED,
                TANDEM_CONSOLE_REASON_CLOSED, NULL);
    }
    break;
  case SPICE_CHANNEL_ERROR_TLS:
  case SPICE_CHANNEL_ERROR_AUTH:
    /* Our QEMU disables tickets: something else listens there. */
    end_session(self);
    set_state(self, TANDEM_CONSOLE_DISCONNECTED, TANDEM_CONSOLE_REASON_FAILED,
              detail);
    break;
  default: /* NONE, SWITCHING (migration): nothing to do */
    break;
  }
}

static void on_primary_create(SpiceChannel *channel, gint format, gint width,
                              gint height, gint stride, gint shmid,
                              gpointer imgdata, gpointer data) {
  TandemConsoleView *self = data;
  self->has_primary = TRUE;
  self->primary_width = width;
  self->primary_height = height;
  sync_display_ready(self);
}

static void on_primary_destroy(SpiceChannel *channel, gpointer data) {
  TandemConsoleView *self = data;
  self->has_primary = FALSE;
  self->primary_width = self->primary_height = 0;
  sync_display_ready(self);
}

static void on_display_ready(GObject *display, GParamSpec *pspec,
                             gpointer data) {
  sync_display_ready(data);
}

static void add_display(TandemConsoleView *self, SpiceChannel *channel) {
  self->display_channel = channel;
  g_signal_connect(channel, "display-primary-create",
                   G_CALLBACK(on_primary_create), self);
  g_signal_connect(channel, "display-primary-destroy",
                   G_CALLBACK(on_primary_destroy), self);

  /* Scaled to the widget, keeping the aspect ratio; the guest's
   * resolution is its own business. */
  self->display = spice_display_new(self->session, 0);
  g_object_set(self->display, "scaling", TRUE, "resize-guest", FALSE,
               "grab-keyboard", TRUE, "grab-mouse", TRUE, NULL);
  gtk_widget_set_hexpand(GTK_WIDGET(self->display), TRUE);
  gtk_widget_set_vexpand(GTK_WIDGET(self->display), TRUE);
  g_signal_connect(self->display, "notify::ready",
                   G_CALLBACK(on_display_ready), self);
  gtk_container_add(GTK_CONTAINER(self->screen), GTK_WIDGET(self->display));
  gtk_widget_show(GTK_WIDGET(self->display));
}

static void on_channel_new(SpiceSession *session, SpiceChannel *channel,
                           gpointer data) {
  TandemConsoleView *self = data;
  int id = 0;
  g_object_get(channel, "channel-id", &id, NULL);

  if (SPICE_IS_MAIN_CHANNEL(channel)) {
    self->main_channel = channel;
    g_signal_connect(channel, "channel-event",
                     G_CALLBACK(on_main_channel_event), self);
  } else if (SPICE_IS_DISPLAY_CHANNEL(channel) && id == 0 &&
             !self->display_channel) {
    add_display(self, channel);
  }
}

static void on_channel_destroy(SpiceSession *session, SpiceChannel *channel,
                               gpointer data) {
  TandemConsoleView *self = data;
  g_signal_handlers_disconnect_by_data(channel, self);
  if (channel == self->main_channel) {
    self->main_channel = NULL;
  } else if (channel == self->display_channel) {
    self->display_channel = NULL;
    self->has_primary = FALSE;
    sync_display_ready(self);
  }
}

/* Every channel is gone without the main channel telling why (spice-gtk
 * tore the session down itself): the same as the server closing. */
static void on_session_disconnected(SpiceSession *session, gpointer data) {
  TandemConsoleView *self = data;
  if (self->state == TANDEM_CONSOLE_CONNECTING) {
    retry_or_give_up(self);
    return;
  }
  end_session(self);
  set_state(self, TANDEM_CONSOLE_DISCONNECTED, TANDEM_CONSOLE_REASON_CLOSED,
            NULL);
}

static void start_attempt(TandemConsoleView *self) {
  g_return_if_fail(self->session == NULL);
  self->session = spice_session_new();
  g_object_set(self->session,
               "unix-path", self->socket_path,
               "enable-audio", FALSE,
               "enable-usbredir", FALSE,
               "enable-smartcard", FALSE,
               NULL);
  g_signal_connect(self->session, "channel-new", G_CALLBACK(on_channel_new),
                   self);
  g_signal_connect(self->session, "channel-destroy",
                   G_CALLBACK(on_channel_destroy), self);
  g_signal_connect(self->session, "disconnected",
                   G_CALLBACK(on_session_disconnected), self);
  if (!spice_session_connect(self->session))
    retry_or_give_up(self);
}

/* --- Public API -------------------------------------------------------- */

void tandem_console_view_connect(TandemConsoleView *self,
                                 const char *spice_socket_path) {
  g_return_if_fail(TANDEM_IS_CONSOLE_VIEW(self));
  g_return_if_fail(spice_socket_path != NULL);

  cancel_retry(self);
  end_session(self);
  if (g_strcmp0(self->socket_path, spice_socket_path) != 0) {
    g_free(self->socket_path);
    self->socket_path = g_strdup(spice_socket_path);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_SOCKET_PATH]);
  }
  self->connect_deadline =
      g_get_monotonic_time() + (gint64)self->connect_timeout_ms * 1000;
  self->retry_delay_ms = RETRY_FIRST_MS;
  set_state(self, TANDEM_CONSOLE_CONNECTING, TANDEM_CONSOLE_REASON_NONE,
            NULL);
  start_attempt(self);
}

void tandem_console_view_disconnect(TandemConsoleView *self) {
  g_return_if_fail(TANDEM_IS_CONSOLE_VIEW(self));
  cancel_retry(self);
  end_session(self);
  set_state(self, TANDEM_CONSOLE_DISCONNECTED, TANDEM_CONSOLE_REASON_NONE,
            NULL);
}

void tandem_console_view_set_connect_timeout(TandemConsoleView *self,
                                             guint timeout_ms) {
  g_return_if_fail(TANDEM_IS_CONSOLE_VIEW(self));
  self->connect_timeout_ms = timeout_ms;
}

TandemConsoleState tandem_console_view_get_state(TandemConsoleView *self) {
  g_return_val_if_fail(TANDEM_IS_CONSOLE_VIEW(self),
                       TANDEM_CONSOLE_DISCONNECTED);
  return self->state;
}

TandemConsoleDisconnectReason
tandem_console_view_get_disconnect_reason(TandemConsoleView *self) {
  g_return_val_if_fail(TANDEM_IS_CONSOLE_VIEW(self),
                       TANDEM_CONSOLE_REASON_NONE);
  return self->reason;
}

const char *tandem_console_view_get_socket_path(TandemConsoleView *self) {
  g_return_val_if_fail(TANDEM_IS_CONSOLE_VIEW(self), NULL);
  return self->socket_path;
}

const char *tandem_console_view_get_status_text(TandemConsoleView *self) {
  g_return_val_if_fail(TANDEM_IS_CONSOLE_VIEW(self), NULL);
  return self->status_text;
}

gboolean tandem_console_view_get_display_size(TandemConsoleView *self,
                                              int *width, int *height) {
  g_return_val_if_fail(TANDEM_IS_CONSOLE_VIEW(self), FALSE);
  if (width)
    *width = self->primary_width;
  if (height)
    *height = self->primary_height;
  return self->has_primary;
}

gboolean tandem_console_view_is_display_ready(TandemConsoleView *self) {
  g_return_val_if_fail(TANDEM_IS_CONSOLE_VIEW(self), FALSE);
  return self->display_ready;
}

/* --- GObject ----------------------------------------------------------- */

/* Black behind the guest's picture (letterboxing, and while there is
 * none), like a monitor that is switched on. */
static gboolean tandem_console_view_draw(GtkWidget *widget, cairo_t *cr) {
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_paint(cr);
  return GTK_WIDGET_CLASS(tandem_console_view_parent_class)->draw(widget, cr);
}

static void tandem_console_view_dispose(GObject *object) {
  TandemConsoleView *self = TANDEM_CONSOLE_VIEW(object);
  cancel_retry(self);
  /* Before chaining up: the child widgets still exist. */
  end_session(self);
  G_OBJECT_CLASS(tandem_console_view_parent_class)->dispose(object);
}

static void tandem_console_view_finalize(GObject *object) {
  TandemConsoleView *self = TANDEM_CONSOLE_VIEW(object);
  g_free(self->socket_path);
  g_free(self->error_detail);
  g_free(self->status_text);
  G_OBJECT_CLASS(tandem_console_view_parent_class)->finalize(object);
}

static void tandem_console_view_get_property(GObject *object, guint prop_id,
                                             GValue *value,
                                             GParamSpec *pspec) {
  TandemConsoleView *self = TANDEM_CONSOLE_VIEW(object);
  switch (prop_id) {
  case PROP_STATE:
    g_value_set_enum(value, self->state);
    break;
  case PROP_DISCONNECT_REASON:
    g_value_set_enum(value, self->reason);
    break;
  case PROP_SOCKET_PATH:
    g_value_set_string(value, self->socket_path);
    break;
  case PROP_STATUS_TEXT:
    g_value_set_string(value, self->status_text);
    break;
  case PROP_DISPLAY_READY:
    g_value_set_boolean(value, self->display_ready);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void tandem_console_view_class_init(TandemConsoleViewClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

  object_class->dispose = tandem_console_view_dispose;
  object_class->finalize = tandem_console_view_finalize;
  object_class->get_property = tandem_console_view_get_property;
  widget_class->draw = tandem_console_view_draw;

  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  props[PROP_STATE] = g_param_spec_enum(
      "state", "State", "Connection to the VM's display",
      TANDEM_TYPE_CONSOLE_STATE, TANDEM_CONSOLE_DISCONNECTED, ro);
  props[PROP_DISCONNECT_REASON] = g_param_spec_enum(
      "disconnect-reason", "Disconnect reason", "Why it is disconnected",
      TANDEM_TYPE_CONSOLE_DISCONNECT_REASON, TANDEM_CONSOLE_REASON_NONE, ro);
  props[PROP_SOCKET_PATH] = g_param_spec_string(
      "socket-path", "Socket path", "The SPICE server's UNIX socket", NULL,
      ro);
  props[PROP_STATUS_TEXT] = g_param_spec_string(
      "status-text", "Status text", "What the status overlay says", NULL, ro);
  props[PROP_DISPLAY_READY] = g_param_spec_boolean(
      "display-ready", "Display ready", "The guest's picture is shown", FALSE,
      ro);
  g_object_class_install_properties(object_class, N_PROPS, props);

  gtk_widget_class_set_css_name(widget_class, "tandem-console-view");
}

static void tandem_console_view_init(TandemConsoleView *self) {
  self->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  self->state = TANDEM_CONSOLE_DISCONNECTED;
  self->reason = TANDEM_CONSOLE_REASON_NONE;

  GtkWidget *overlay = gtk_overlay_new();
  self->screen = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
  gtk_container_add(GTK_CONTAINER(overlay), self->screen);

  /* The theme's on-screen-display look (light text on a dark, translucent
   * plate), with room around the text. */
  self->status_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
  GtkStyleContext *style = gtk_widget_get_style_context(self->status_box);
  gtk_style_context_add_class(style, "osd");
  g_autoptr(GtkCssProvider) css = gtk_css_provider_new();
  gtk_css_provider_load_from_data(
      css, "box { padding: 12px 18px; border-radius: 6px; }", -1, NULL);
  gtk_style_context_add_provider(style, GTK_STYLE_PROVIDER(css),
                                 GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  gtk_widget_set_halign(self->status_box, GTK_ALIGN_CENTER);
  gtk_widget_set_valign(self->status_box, GTK_ALIGN_CENTER);
  gtk_widget_set_margin_start(self->status_box, 24);
  gtk_widget_set_margin_end(self->status_box, 24);
  self->spinner = gtk_spinner_new();
  gtk_container_add(GTK_CONTAINER(self->status_box), self->spinner);
  self->status_label = GTK_LABEL(gtk_label_new(NULL));
  gtk_label_set_line_wrap(self->status_label, TRUE);
  gtk_label_set_max_width_chars(self->status_label, 48);
  gtk_label_set_justify(self->status_label, GTK_JUSTIFY_CENTER);
  gtk_container_add(GTK_CONTAINER(self->status_box),
                    GTK_WIDGET(self->status_label));
  gtk_widget_show(GTK_WIDGET(self->status_label));
  gtk_overlay_add_overlay(GTK_OVERLAY(overlay), self->status_box);

  gtk_widget_show(self->screen);
  gtk_widget_show(overlay);
  gtk_container_add(GTK_CONTAINER(self), overlay);
  update_status(self);
}

TandemConsoleView *tandem_console_view_new(void) {
  return g_object_new(TANDEM_TYPE_CONSOLE_VIEW, NULL);
}
