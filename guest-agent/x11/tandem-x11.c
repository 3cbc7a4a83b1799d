/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The X11 backend: the connection, its main-loop source and the routing of
 * X events and host messages to the parts that handle them. */
#include "tandem-x11-private.h"

#include <stdlib.h>
#include <string.h>

gboolean tx_send(TandemX11 *x, const TpMessage *m) {
  if (!x->host_ready)
    return FALSE;
  return x->base.sink.send(m, x->base.sink.user_data);
}

/* A property's value, at most @max_longs 32-bit units of it (the guest's
 * applications choose how large their properties are). NULL if missing
 * or of another type; g_free() the result. */
void *tx_property(TandemX11 *x, xcb_window_t w, xcb_atom_t prop,
                  xcb_atom_t type, uint32_t max_longs, uint32_t *n_items,
                  uint8_t *format) {
  xcb_get_property_reply_t *r = xcb_get_property_reply(
      x->c, xcb_get_property(x->c, 0, w, prop, type, 0, max_longs), NULL);
  *n_items = 0;
  if (!r)
    return NULL;
  void *out = NULL;
  int len = xcb_get_property_value_length(r);
  if (r->type != XCB_NONE && (type == XCB_GET_PROPERTY_TYPE_ANY ||
                              r->type == type) && len >= 0) {
    out = g_malloc((size_t)len + 1);
    memcpy(out, xcb_get_property_value(r), (size_t)len);
    ((char *)out)[len] = '\0';
    *n_items = r->format ? (uint32_t)len / (r->format / 8u) : 0;
    if (format)
      *format = r->format;
  }
  free(r);
  return out;
}

TxWindow *tx_window_by_id(TandemX11 *x, uint32_t id) {
  return g_hash_table_lookup(x->by_id, GUINT_TO_POINTER(id));
}

/* The root child that contains @w (the window itself if it is one); with
 * @tracked, the first tracked window on the way up instead, if any. */
xcb_window_t tx_root_child(TandemX11 *x, xcb_window_t w, gboolean tracked) {
  for (int depth = 0; w != XCB_NONE && w != x->root && depth < 64; depth++) {
    if (tracked && g_hash_table_contains(x->by_xid, GUINT_TO_POINTER(w)))
      return w;
    xcb_query_tree_reply_t *t =
        xcb_query_tree_reply(x->c, xcb_query_tree(x->c, w), NULL);
    if (!t)
      return XCB_NONE;
    xcb_window_t parent = t->parent;
    free(t);
    if (parent == x->root)
      return w;
    w = parent;
  }
  return XCB_NONE;
}

xcb_window_t tx_toplevel_of(TandemX11 *x, xcb_window_t w) {
  return tx_root_child(x, w, TRUE);
}

static void note_time(TandemX11 *x, xcb_generic_event_t *ev) {
  xcb_timestamp_t t = 0;
  switch (ev->response_type & 0x7f) {
  case XCB_PROPERTY_NOTIFY:
    t = ((xcb_property_notify_event_t *)ev)->time;
    break;
  case XCB_KEY_PRESS:
  case XCB_KEY_RELEASE:
  case XCB_BUTTON_PRESS:
  case XCB_BUTTON_RELEASE:
  case XCB_MOTION_NOTIFY:
    t = ((xcb_key_press_event_t *)ev)->time;
    break;
  default:
    break;
  }
  if (t)
    x->last_time = t;
}

static void dispatch_event(TandemX11 *x, xcb_generic_event_t *ev) {
  uint8_t type = ev->response_type & 0x7f;
  note_time(x, ev);
  if (type == 0) {
    xcb_generic_error_t *e = (xcb_generic_error_t *)ev;
    /* Windows vanish between an event and our request about them: that is
     * BadWindow/BadDrawable/BadMatch and harmless. */
    g_debug("x11: error %u on request %u.%u (resource 0x%x)", e->error_code,
            e->major_code, e->minor_code, e->resource_id);
    return;
  }
  if (x->have_damage && type == x->damage_event + XCB_DAMAGE_NOTIFY) {
    tx_pixels_damaged(x, (xcb_damage_notify_event_t *)ev);
    return;
  }
  if (type == XCB_MAPPING_NOTIFY) {
    tx_input_keymap_changed(x);
    return;
  }
  if (type == XCB_FOCUS_IN || type == XCB_FOCUS_OUT) {
    tx_focus_changed(x);
    return;
  }
  tx_windows_event(x, ev, type);
}

static gboolean drain(TandemX11 *x, xcb_generic_event_t *first) {
  xcb_generic_event_t *ev = first;
  if (!ev)
    ev = xcb_poll_for_event(x->c);
  while (ev) {
    dispatch_event(x, ev);
    free(ev);
    ev = xcb_poll_for_event(x->c);
  }
  xcb_flush(x->c);
  if (xcb_connection_has_error(x->c)) {
    x->base.sink.lost("the X server closed the connection",
                      x->base.sink.user_data);
    return FALSE;
  }
  return TRUE;
}

/* --- A GSource for the connection -------------------------------------- */

typedef struct {
  GSource source;
  TandemX11 *x;
  gpointer tag;
  xcb_generic_event_t *queued; /* read by xcb while waiting for a reply */
} XSource;

static gboolean xs_prepare(GSource *s, gint *timeout) {
  XSource *xs = (XSource *)s;
  *timeout = -1;
  xcb_flush(xs->x->c);
  if (!xs->queued)
    xs->queued = xcb_poll_for_queued_event(xs->x->c);
  return xs->queued != NULL || xcb_connection_has_error(xs->x->c);
}

static gboolean xs_check(GSource *s) {
  XSource *xs = (XSource *)s;
  return xs->queued != NULL ||
         (g_source_query_unix_fd(s, xs->tag) & (G_IO_IN | G_IO_HUP | G_IO_ERR));
}

static gboolean xs_dispatch(GSource *s, GSourceFunc cb, gpointer data) {
  XSource *xs = (XSource *)s;
  xcb_generic_event_t *first = xs->queued;
  xs->queued = NULL;
  return drain(xs->x, first) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void xs_finalize(GSource *s) {
  XSource *xs = (XSource *)s;
  free(xs->queued);
}

static GSourceFuncs xsource_funcs = {xs_prepare, xs_check, xs_dispatch,
                                     xs_finalize, NULL, NULL};

/* --- Atoms --------------------------------------------------------------- */

static void intern_atoms(TandemX11 *x) {
  static const char *const names[] = {
      "WM_PROTOCOLS", "WM_DELETE_WINDOW", "WM_TAKE_FOCUS", "WM_STATE",
      "WM_CHANGE_STATE", "WM_TRANSIENT_FOR", "WM_CLASS", "WM_NAME",
      "WM_HINTS", "WM_NORMAL_HINTS", "UTF8_STRING", "_NET_WM_NAME",
      "_NET_WM_ICON", "_NET_WM_STATE", "_NET_WM_WINDOW_TYPE",
      "_NET_SUPPORTED", "_NET_SUPPORTING_WM_CHECK", "_NET_ACTIVE_WINDOW",
      "_NET_CLIENT_LIST", "_NET_CLOSE_WINDOW", "_NET_FRAME_EXTENTS",
      "_NET_REQUEST_FRAME_EXTENTS", "_NET_WM_PID", "_NET_MOVERESIZE_WINDOW", "_NET_RESTACK_WINDOW",
      "_NET_WM_STATE_MAXIMIZED_HORZ", "_NET_WM_STATE_MAXIMIZED_VERT",
      "_NET_WM_STATE_FULLSCREEN", "_NET_WM_STATE_HIDDEN",
      "_NET_WM_STATE_DEMANDS_ATTENTION", "_NET_WM_STATE_MODAL",
      "_NET_WM_STATE_ABOVE", "_NET_WM_STATE_BELOW", "_NET_WM_STATE_STICKY",
      "_NET_WM_STATE_SKIP_TASKBAR", "_NET_WM_WINDOW_TYPE_NORMAL",
      "_NET_WM_WINDOW_TYPE_DIALOG", "_NET_WM_WINDOW_TYPE_UTILITY",
      "_NET_WM_WINDOW_TYPE_TOOLBAR", "_NET_WM_WINDOW_TYPE_SPLASH",
      "_NET_WM_WINDOW_TYPE_MENU", "_NET_WM_WINDOW_TYPE_DROPDOWN_MENU",
      "_NET_WM_WINDOW_TYPE_POPUP_MENU", "_NET_WM_WINDOW_TYPE_TOOLTIP",
      "_NET_WM_WINDOW_TYPE_NOTIFICATION", "_NET_WM_WINDOW_TYPE_COMBO",
      "_NET_WM_WINDOW_TYPE_DND",
  };
  G_STATIC_ASSERT(G_N_ELEMENTS(names) * sizeof(xcb_atom_t) ==
                  sizeof(x->atom));
  xcb_intern_atom_cookie_t cookies[G_N_ELEMENTS(names)];
  xcb_atom_t *out = (xcb_atom_t *)&x->atom;
  for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
    cookies[i] = xcb_intern_atom(x->c, 0, (uint16_t)strlen(names[i]),
                                 names[i]);
  for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
    xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(x->c, cookies[i], NULL);
    out[i] = r ? r->atom : XCB_NONE;
    free(r);
  }
}

/* --- Operations -------------------------------------------------------- */

static void op_host_ready(TandemDisplay *d, const TpHello *host) {
  TandemX11 *x = (TandemX11 *)d;
  x->host_ready = TRUE;
  x->reported_kind = -1;
  tx_pixels_host_ready(x, host);
  tx_windows_announce_all(x);
  tx_focus_report_now(x, 0);
  xcb_flush(x->c);
}

static void op_host_gone(TandemDisplay *d) {
  TandemX11 *x = (TandemX11 *)d;
  GHashTableIter it;
  gpointer value;
  x->host_ready = FALSE;
  x->focus_pending = FALSE;
  tx_pixels_host_ready(x, NULL);
  g_hash_table_iter_init(&it, x->by_xid);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    TxWindow *w = value;
    w->announced = w->shown = FALSE;
    w->acked_seq = w->frame_seq;
  }
}

static void op_handle(TandemDisplay *d, const TpMessage *m) {
  TandemX11 *x = (TandemX11 *)d;
  if (m->type == TP_MSG_FOCUS_SET) {
    tx_focus_set(x, m->window, m->u.focus_set.seq);
    xcb_flush(x->c);
    return;
  }
  TxWindow *w = tx_window_by_id(x, m->window);
  if (!w && m->type == TP_MSG_KEY) {
    tx_input_key_for_gone(x, &m->u.key);
    xcb_flush(x->c);
  }
  if (!w) {
    /* The window went away while the message was on its way. */
    g_debug("x11: %s for unknown window %u", tp_message_type_name(m->type),
            m->window);
    return;
  }
  switch (m->type) {
  case TP_MSG_FRAME_ACK:
    tx_pixels_ack(x, w, m->u.frame_ack.frame_seq);
    break;
  case TP_MSG_KEY:
  case TP_MSG_BUTTON:
  case TP_MSG_MOTION:
  case TP_MSG_SCROLL:
  case TP_MSG_CROSSING:
  case TP_MSG_KEY_STATE:
    tx_input_handle(x, w, m);
    break;
  default:
    tx_window_handle(x, w, m);
    break;
  }
  xcb_flush(x->c);
}

static uint64_t op_caps(TandemDisplay *d) {
  TandemX11 *x = (TandemX11 *)d;
  return (x->wm ? TP_CAP_WM : 0) | (x->pm ? TP_CAP_SHM : 0) |
         TP_CAP_LZ4 | TP_CAP_COPY | TP_CAP_BGR;
}

static void op_screen(TandemDisplay *d, uint32_t *w, uint32_t *h) {
  TandemX11 *x = (TandemX11 *)d;
  *w = x->screen->width_in_pixels;
  *h = x->screen->height_in_pixels;
}

static void op_free(TandemDisplay *d) {
  TandemX11 *x = (TandemX11 *)d;
  if (x->source) {
    g_source_destroy(x->source);
    g_source_unref(x->source);
  }
  tx_pixels_fini(x);
  tx_input_fini(x);
  tx_focus_fini(x);
  g_hash_table_destroy(x->by_id);
  g_hash_table_destroy(x->by_frame);
  g_hash_table_destroy(x->by_xid);
  g_array_unref(x->stack);
  if (x->c)
    xcb_disconnect(x->c);
  g_free(x);
}

static const TandemDisplayOps x11_ops = {
    "x11", op_host_ready, op_host_gone, op_handle, op_caps, op_screen, op_free,
};

static gboolean need_extension(TandemX11 *x, xcb_extension_t *ext,
                               const char *name, GError **error) {
  const xcb_query_extension_reply_t *r = xcb_get_extension_data(x->c, ext);
  if (r && r->present)
    return TRUE;
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
              "The X server has no %s extension, which Tandem needs", name);
  return FALSE;
}

TandemDisplay *tandem_display_x11_new(const char *display_name,
                                      const TandemDisplaySink *sink,
                                      TandemPixelMemory *pixel_memory,
                                      GError **error) {
  TandemX11 *x = g_new0(TandemX11, 1);
  x->base.ops = &x11_ops;
  x->pm = pixel_memory;
  x->base.sink = *sink;
  x->by_xid = g_hash_table_new_full(NULL, NULL, NULL, tx_window_free);
  x->by_id = g_hash_table_new(NULL, NULL);
  x->by_frame = g_hash_table_new(NULL, NULL);
  x->stack = g_array_new(FALSE, FALSE, sizeof(xcb_window_t));
  x->next_id = 1;
  x->reported_kind = -1;

  int screen_no = 0;
  x->c = xcb_connect(display_name, &screen_no);
  if (xcb_connection_has_error(x->c)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                "Cannot open X display “%s”",
                display_name ? display_name
                             : (g_getenv("DISPLAY") ? g_getenv("DISPLAY")
                                                    : "(DISPLAY unset)"));
    op_free(&x->base);
    return NULL;
  }
  xcb_screen_iterator_t si = xcb_setup_roots_iterator(xcb_get_setup(x->c));
  for (int i = 0; i < screen_no && si.rem; i++)
    xcb_screen_next(&si);
  x->screen = si.data;
  x->root = x->screen->root;

  xcb_prefetch_extension_data(x->c, &xcb_composite_id);
  xcb_prefetch_extension_data(x->c, &xcb_damage_id);
  xcb_prefetch_extension_data(x->c, &xcb_xfixes_id);
  xcb_prefetch_extension_data(x->c, &xcb_shm_id);
  xcb_prefetch_extension_data(x->c, &xcb_test_id);
  if (!need_extension(x, &xcb_composite_id, "Composite", error) ||
      !need_extension(x, &xcb_damage_id, "DAMAGE", error) ||
      !need_extension(x, &xcb_xfixes_id, "XFIXES", error) ||
      !need_extension(x, &xcb_test_id, "XTEST", error)) {
    op_free(&x->base);
    return NULL;
  }
  x->have_composite = x->have_damage = x->have_xtest = TRUE;
  x->damage_event = xcb_get_extension_data(x->c, &xcb_damage_id)->first_event;
  const xcb_query_extension_reply_t *shm =
      xcb_get_extension_data(x->c, &xcb_shm_id);
  x->have_shm = shm && shm->present;

  intern_atoms(x);
  if (!tx_pixels_init(x, error)) {
    op_free(&x->base);
    return NULL;
  }
  tx_input_init(x);
  tx_focus_init(x);
  tx_windows_init(x);
  xcb_flush(x->c);

  XSource *xs = (XSource *)g_source_new(&xsource_funcs, sizeof(XSource));
  xs->x = x;
  xs->tag = g_source_add_unix_fd(&xs->source, xcb_get_file_descriptor(x->c),
                                 G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_name(&xs->source, "tandem-x11");
  g_source_attach(&xs->source, NULL);
  x->source = &xs->source;
  return &x->base;
}
