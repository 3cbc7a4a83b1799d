/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-proxy-manager.h"

#include "tandem-focus.h"

struct _TandemProxyManager {
  GObject parent_instance;
  TandemGuestLink *link;
  GHashTable *by_id;   /* guest id -> TandemProxyWindow (ref) */
  GPtrArray *order;    /* creation order, borrowed from by_id */
  TandemFocus *focus;
  guint timer_id;
  TandemProxyClassFunc class_func;
  gpointer class_data;
  gsize window_memory; /* the budget for all windows' pixels */
  guint cut_id;        /* the link is cut from here: over budget */
  /* Showing and closing windows costs the host a paint or an X round
   * each: a guest that maps or drops hundreds at once gets them shown and
   * closed a few per frame, so the shell stays responsive. */
  GQueue pending_maps; /* guest ids whose MAP waits for the next frame */
  guint64 shown_this_frame; /* pixels of the windows shown in it */
  guint maps_this_frame;    /* and how many */
  gint64 spent_this_frame;  /* µs spent showing them */
  guint map_id;
  GPtrArray *doomed;   /* proxies to destroy, a few per main-loop turn */
  guint doom_id;
};

/* New windows shown per frame: at most a full-HD window's pixels, 8
 * windows (an application's window and its dialogs at once) and 4 ms of
 * the shell's time (showing a window waits on the X server, which a storm
 * of windows keeps busy); at least one. Windows destroyed together: 16 or
 * 4 ms per main-loop turn. */
#define MAP_PIXELS_PER_FRAME (1920u * 1080u)
#define MAPS_PER_FRAME 8
#define FRAME_MS 16
#define DESTROYS_PER_TURN 16
#define WORK_PER_TURN_US 4000

G_DEFINE_TYPE(TandemProxyManager, tandem_proxy_manager, G_TYPE_OBJECT)

enum { SIG_SHOWN, SIG_CHANGED, SIG_REMOVED, SIG_FOCUS, N_SIGNALS };
static guint signals[N_SIGNALS];

static uint64_t now_ms(void) {
  return (uint64_t)(g_get_monotonic_time() / 1000);
}

/* --- The focus machine's actions ------------------------------------------ */

static gboolean on_timer(gpointer data) {
  TandemProxyManager *self = data;
  self->timer_id = 0;
  tandem_focus_timeout(self->focus, now_ms());
  return G_SOURCE_REMOVE;
}

static void act(const TfAction *a, void *data) {
  TandemProxyManager *self = data;
  TandemProxyWindow *w = a->window ? tandem_proxy_manager_find(self, a->window)
                                   : NULL;
  switch (a->type) {
  case TF_ACTION_SET_GUEST_FOCUS: {
    TpMessage m = {.type = TP_MSG_FOCUS_SET, .window = a->window};
    m.u.focus_set.seq = a->seq;
    tandem_guest_link_send(self->link, &m);
    break;
  }
  case TF_ACTION_SEND_KEY_STATE:
    if (w)
      tandem_proxy_window_send_key_state(w);
    break;
  case TF_ACTION_ACTIVATE_PROXY:
    if (w)
      gtk_window_present_with_time(GTK_WINDOW(w), GDK_CURRENT_TIME);
    break;
  case TF_ACTION_REQUEST_ATTENTION:
    if (w)
      gtk_window_set_urgency_hint(GTK_WINDOW(w), TRUE);
    break;
  case TF_ACTION_ARM_TIMER:
    if (self->timer_id)
      g_source_remove(self->timer_id);
    self->timer_id = g_timeout_add(a->ms, on_timer, self);
    break;
  case TF_ACTION_CANCEL_TIMER:
    if (self->timer_id)
      g_source_remove(self->timer_id);
    self->timer_id = 0;
    break;
  }
  g_signal_emit(self, signals[SIG_FOCUS], 0);
}

/* --- Hooks of each proxy --------------------------------------------------- */

static void hook_send(TandemProxyWindow *w, TpMessage *m, gpointer data) {
  TandemProxyManager *self = data;
  tandem_guest_link_send(self->link, m);
}

static gboolean hook_may_type(TandemProxyWindow *w, gpointer data) {
  TandemProxyManager *self = data;
  return tandem_focus_may_deliver_keys(self->focus,
                                       tandem_proxy_window_get_guest_id(w));
}

static void hook_focus(TandemProxyWindow *w, gboolean in, gpointer data) {
  TandemProxyManager *self = data;
  uint32_t id = tandem_proxy_window_get_guest_id(w);
  if (in)
    tandem_focus_host_in(self->focus, id, now_ms());
  else
    tandem_focus_host_out(self->focus, id, now_ms());
  g_signal_emit(self, signals[SIG_FOCUS], 0);
}

static gboolean cut_link(gpointer data) {
  TandemProxyManager *self = data;
  self->cut_id = 0;
  g_autofree char *budget = g_format_size(self->window_memory);
  g_autofree char *why = g_strdup_printf(
      "its windows need more than their memory budget (%s; WindowMemory in "
      "the VM's [Limits])", budget);
  tandem_guest_link_close(self->link, why);
  return G_SOURCE_REMOVE;
}

static gboolean hook_reserve(TandemProxyWindow *w, gsize bytes,
                             gpointer data) {
  TandemProxyManager *self = data;
  /* Summed afresh: at most TP_MAX_WINDOWS, and only on a reallocation. */
  gsize total = bytes;
  for (guint i = 0; i < self->order->len; i++)
    if (self->order->pdata[i] != w)
      total += tandem_proxy_window_get_surface_bytes(self->order->pdata[i]);
  if (total <= self->window_memory)
    return TRUE;
  /* Not from inside the window's own handler: it is destroyed with it. */
  if (!self->cut_id)
    self->cut_id = g_idle_add(cut_link, self);
  return FALSE;
}

static gboolean hook_may_ask(TandemProxyWindow *w, gpointer data) {
  TandemProxyManager *self = data;
  for (guint i = 0; i < self->order->len; i++)
    if (self->order->pdata[i] != w &&
        tandem_proxy_window_is_asking(self->order->pdata[i]))
      return FALSE;
  return TRUE;
}

/* --- Guest window messages -------------------------------------------------- */

static gboolean destroy_some(gpointer data) {
  TandemProxyManager *self = data;
  gint64 end = g_get_monotonic_time() + WORK_PER_TURN_US;
  for (guint n = 0; self->doomed->len && n < DESTROYS_PER_TURN &&
                    (n == 0 || g_get_monotonic_time() < end);
       n++) {
    TandemProxyWindow *w = g_ptr_array_steal_index(self->doomed,
                                                   self->doomed->len - 1);
    gtk_widget_destroy(GTK_WIDGET(w));
    g_object_unref(w);
  }
  if (self->doomed->len)
    return G_SOURCE_CONTINUE;
  self->doom_id = 0;
  return G_SOURCE_REMOVE;
}

/* Out of the tables at once (its id is free again); off the screen now
 * when it is one, a few per turn when many go together. */
static void remove_proxy(TandemProxyManager *self, uint32_t id,
                         gboolean now) {
  TandemProxyWindow *w = tandem_proxy_manager_find(self, id);
  if (!w)
    return;
  g_queue_remove(&self->pending_maps, GUINT_TO_POINTER(id));
  g_ptr_array_remove(self->order, w);
  g_hash_table_steal(self->by_id, GUINT_TO_POINTER(id));
  if (now) {
    gtk_widget_destroy(GTK_WIDGET(w));
    g_object_unref(w);
  } else {
    g_ptr_array_add(self->doomed, w);
    if (!self->doom_id)
      self->doom_id = g_idle_add(destroy_some, self);
  }
  g_signal_emit(self, signals[SIG_REMOVED], 0, (guint)id);
}

static void show_proxy(TandemProxyManager *self, TandemProxyWindow *w,
                       const TpMessage *m) {
  gint64 start = g_get_monotonic_time();
  gboolean first = !tandem_proxy_window_is_shown(w);
  tandem_proxy_window_handle(w, m);
  tandem_focus_window_mapped(self->focus, m->window, now_ms());
  if (first)
    g_signal_emit(self, signals[SIG_SHOWN], 0, w);
  self->spent_this_frame += g_get_monotonic_time() - start;
}

/* May @w be shown in this frame? Counts it if so. */
static gboolean frame_has_room(TandemProxyManager *self,
                               TandemProxyWindow *w) {
  int32_t x, y;
  uint32_t gw, gh;
  tandem_proxy_window_get_guest_geometry(w, &x, &y, &gw, &gh);
  guint64 px = MIN((guint64)gw * gh, (guint64)MAP_PIXELS_PER_FRAME);
  if (self->maps_this_frame &&
      (self->maps_this_frame == MAPS_PER_FRAME ||
       self->spent_this_frame >= WORK_PER_TURN_US ||
       self->shown_this_frame + px > MAP_PIXELS_PER_FRAME))
    return FALSE;
  self->shown_this_frame += px;
  self->maps_this_frame++;
  return TRUE;
}

static gboolean next_frame(gpointer data) {
  TandemProxyManager *self = data;
  self->shown_this_frame = 0;
  self->maps_this_frame = 0;
  self->spent_this_frame = 0;
  while (!g_queue_is_empty(&self->pending_maps)) {
    uint32_t id = GPOINTER_TO_UINT(g_queue_peek_head(&self->pending_maps));
    TandemProxyWindow *w = tandem_proxy_manager_find(self, id);
    if (w && !frame_has_room(self, w))
      break;
    g_queue_pop_head(&self->pending_maps);
    if (!w)
      continue;
    TpMessage m = {.type = TP_MSG_WINDOW_MAP, .window = id};
    show_proxy(self, w, &m);
  }
  if (self->maps_this_frame)
    return G_SOURCE_CONTINUE; /* counting this frame's */
  self->map_id = 0;
  return G_SOURCE_REMOVE;
}

static void on_window_message(TandemGuestLink *link, const TpMessage *m,
                              gpointer data) {
  TandemProxyManager *self = data;
  TandemProxyWindow *w = tandem_proxy_manager_find(self, m->window);
  switch (m->type) {
  case TP_MSG_WINDOW_CREATE: {
    /* The link refuses an id reused within a session; an old proxy left
     * under it would be lost to the table but not to the screen. */
    g_return_if_fail(w == NULL);
    TandemProxyWindow *parent =
        tandem_proxy_manager_find(self, m->u.create.transient_for);
    TandemProxyHooks hooks = {hook_send,    hook_may_type, hook_focus,
                              hook_reserve, hook_may_ask,  self};
    w = tandem_proxy_window_new(tandem_guest_link_get_vm_name(link),
                                m->window, &m->u.create, parent, &hooks);
    g_object_ref_sink(w);
    tandem_proxy_window_set_pixel_region(
        w, tandem_guest_link_get_pixel_region(link));
    g_hash_table_insert(self->by_id, GUINT_TO_POINTER(m->window), w);
    g_ptr_array_add(self->order, w);
    /* Popups inherit their parent's application (and class). */
    if (parent && *tandem_proxy_window_get_app_id(parent))
      tandem_proxy_window_set_app(w, tandem_proxy_window_get_app_id(parent),
                                  NULL);
    tandem_focus_window_created(self->focus, m->window,
                                m->u.create.transient_for,
                                m->u.create.override_redirect, now_ms());
    break;
  }
  case TP_MSG_WINDOW_CLASS:
    if (w && self->class_func) {
      char *app = NULL, *wm_class = NULL;
      GBytes *icon = NULL;
      self->class_func(m->u.wclass.res_name, m->u.wclass.res_class, &app,
                       &wm_class, &icon, self->class_data);
      tandem_proxy_window_set_app(w, app, wm_class);
      if (icon)
        tandem_proxy_window_set_app_icon(w, icon);
      g_free(app);
      g_free(wm_class);
      g_clear_pointer(&icon, g_bytes_unref);
    }
    break;
  case TP_MSG_WINDOW_MAP:
    if (!w)
      break;
    if (!self->map_id)
      self->map_id = g_timeout_add(FRAME_MS, next_frame, self);
    if (g_queue_is_empty(&self->pending_maps) && frame_has_room(self, w)) {
      show_proxy(self, w, m);
    } else if (!g_queue_find(&self->pending_maps,
                             GUINT_TO_POINTER(m->window))) {
      g_queue_push_tail(&self->pending_maps, GUINT_TO_POINTER(m->window));
    }
    break;
  case TP_MSG_WINDOW_UNMAP:
    g_queue_remove(&self->pending_maps, GUINT_TO_POINTER(m->window));
    if (w)
      tandem_proxy_window_handle(w, m);
    tandem_focus_window_unmapped(self->focus, m->window, now_ms());
    break;
  case TP_MSG_WINDOW_DESTROY:
    tandem_focus_window_destroyed(self->focus, m->window, now_ms());
    remove_proxy(self, m->window, TRUE);
    break;
  case TP_MSG_WINDOW_TITLE:
    if (w) {
      tandem_proxy_window_handle(w, m);
      g_signal_emit(self, signals[SIG_CHANGED], 0, w);
    }
    break;
  case TP_MSG_WINDOW_STATE:
    if (w)
      tandem_proxy_window_handle(w, m);
    if (m->u.state.states & TP_STATE_DEMANDS_ATTENTION)
      tandem_focus_guest_attention(self->focus, m->window, now_ms());
    break;
  default:
    if (w)
      tandem_proxy_window_handle(w, m);
    break;
  }
}

static void on_focus_report(TandemGuestLink *link, guint seq, guint kind,
                            guint window, gpointer data) {
  TandemProxyManager *self = data;
  tandem_focus_guest_report(self->focus, seq, (TfGuestKind)kind, window,
                            now_ms());
  g_signal_emit(self, signals[SIG_FOCUS], 0);
}

static void drop_all(TandemProxyManager *self) {
  while (self->order->len) {
    TandemProxyWindow *w = self->order->pdata[self->order->len - 1];
    uint32_t id = tandem_proxy_window_get_guest_id(w);
    tandem_focus_window_destroyed(self->focus, id, now_ms());
    remove_proxy(self, id, self->order->len < DESTROYS_PER_TURN);
  }
}

static void on_link_state(TandemGuestLink *link, gpointer data) {
  TandemProxyManager *self = data;
  switch (tandem_guest_link_get_state(link)) {
  case TANDEM_GUEST_LINK_READY:
    /* A (re)connected agent announces all its windows again. */
    drop_all(self);
    tandem_focus_connected(self->focus, now_ms());
    break;
  case TANDEM_GUEST_LINK_DISCONNECTED:
    tandem_focus_disconnected(self->focus, now_ms());
    drop_all(self);
    break;
  default:
    break;
  }
}

/* --- Public ------------------------------------------------------------------ */

TandemProxyWindow *tandem_proxy_manager_find(TandemProxyManager *self,
                                             uint32_t guest_id) {
  return guest_id ? g_hash_table_lookup(self->by_id,
                                        GUINT_TO_POINTER(guest_id))
                  : NULL;
}

GPtrArray *tandem_proxy_manager_get_windows(TandemProxyManager *self) {
  return self->order;
}

uint32_t tandem_proxy_manager_get_host_focus(TandemProxyManager *self) {
  return tandem_focus_host_window(self->focus);
}

uint32_t tandem_proxy_manager_get_guest_focus(TandemProxyManager *self,
                                              guint *kind) {
  TfGuestKind k = TF_GUEST_NONE;
  uint32_t w = tandem_focus_guest_window(self->focus, &k);
  if (kind)
    *kind = k;
  return w;
}

void tandem_proxy_manager_set_window_memory(TandemProxyManager *self,
                                            gsize bytes) {
  self->window_memory = bytes;
}

gsize tandem_proxy_manager_get_window_memory_used(TandemProxyManager *self) {
  gsize total = 0;
  for (guint i = 0; i < self->order->len; i++)
    total += tandem_proxy_window_get_surface_bytes(self->order->pdata[i]);
  return total;
}

void tandem_proxy_manager_set_class_func(TandemProxyManager *self,
                                         TandemProxyClassFunc func,
                                         gpointer data) {
  self->class_func = func;
  self->class_data = data;
}

TandemProxyManager *tandem_proxy_manager_new(TandemGuestLink *link) {
  TandemProxyManager *self = g_object_new(TANDEM_TYPE_PROXY_MANAGER, NULL);
  self->link = g_object_ref(link);
  g_signal_connect(link, "window-message", G_CALLBACK(on_window_message),
                   self);
  g_signal_connect(link, "focus-report", G_CALLBACK(on_focus_report), self);
  g_signal_connect(link, "state-changed", G_CALLBACK(on_link_state), self);
  if (tandem_guest_link_get_state(link) == TANDEM_GUEST_LINK_READY)
    tandem_focus_connected(self->focus, now_ms());
  return self;
}

static void tandem_proxy_manager_dispose(GObject *object) {
  TandemProxyManager *self = TANDEM_PROXY_MANAGER(object);
  if (self->link) {
    g_signal_handlers_disconnect_by_data(self->link, self);
    g_clear_object(&self->link);
  }
  if (self->timer_id)
    g_source_remove(self->timer_id);
  self->timer_id = 0;
  g_clear_handle_id(&self->cut_id, g_source_remove);
  g_clear_handle_id(&self->map_id, g_source_remove);
  g_queue_clear(&self->pending_maps);
  if (self->order)
    while (self->order->len) {
      TandemProxyWindow *w = self->order->pdata[self->order->len - 1];
      remove_proxy(self, tandem_proxy_window_get_guest_id(w), TRUE);
    }
  g_clear_handle_id(&self->doom_id, g_source_remove);
  if (self->doomed)
    while (destroy_some(self) == G_SOURCE_CONTINUE)
      ;
  G_OBJECT_CLASS(tandem_proxy_manager_parent_class)->dispose(object);
}

static void tandem_proxy_manager_finalize(GObject *object) {
  TandemProxyManager *self = TANDEM_PROXY_MANAGER(object);
  tandem_focus_free(self->focus);
  g_hash_table_unref(self->by_id);
  g_ptr_array_unref(self->order);
  g_ptr_array_unref(self->doomed);
  G_OBJECT_CLASS(tandem_proxy_manager_parent_class)->finalize(object);
}

static void tandem_proxy_manager_class_init(TandemProxyManagerClass *klass) {
  G_OBJECT_CLASS(klass)->dispose = tandem_proxy_manager_dispose;
  G_OBJECT_CLASS(klass)->finalize = tandem_proxy_manager_finalize;
  signals[SIG_SHOWN] = g_signal_new("window-shown", G_TYPE_FROM_CLASS(klass),
                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                    G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIG_CHANGED] = g_signal_new(
      "window-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIG_REMOVED] = g_signal_new(
      "window-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[SIG_FOCUS] = g_signal_new("focus-changed", G_TYPE_FROM_CLASS(klass),
                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                    G_TYPE_NONE, 0);
}

static void tandem_proxy_manager_init(TandemProxyManager *self) {
  self->by_id = g_hash_table_new_full(NULL, NULL, NULL, g_object_unref);
  self->order = g_ptr_array_new();
  self->doomed = g_ptr_array_new();
  g_queue_init(&self->pending_maps);
  self->focus = tandem_focus_new(act, self);
  self->window_memory = TANDEM_PROXY_DEFAULT_WINDOW_MEMORY;
}
