/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Top-level windows: tracking, the minimal window manager (when the guest
 * runs none), properties, and the host's window requests. */
#include "tandem-x11-private.h"

#include <stdlib.h>
#include <string.h>

enum { WM_STATE_WITHDRAWN = 0, WM_STATE_NORMAL = 1, WM_STATE_ICONIC = 3 };
enum { NET_STATE_REMOVE = 0, NET_STATE_ADD = 1, NET_STATE_TOGGLE = 2 };

/* --- The stacking order (root children, bottom to top) ------------------ */

static void stack_remove(TandemX11 *x, xcb_window_t xid) {
  for (guint i = 0; i < x->stack->len; i++)
    if (g_array_index(x->stack, xcb_window_t, i) == xid) {
      g_array_remove_index(x->stack, i);
      return;
    }
}

/* Puts @xid directly above @sibling (XCB_NONE: at the bottom). */
static void stack_place(TandemX11 *x, xcb_window_t xid, xcb_window_t sibling) {
  stack_remove(x, xid);
  guint at = 0;
  if (sibling != XCB_NONE) {
    at = x->stack->len; /* unknown sibling: on top */
    for (guint i = 0; i < x->stack->len; i++)
      if (g_array_index(x->stack, xcb_window_t, i) == sibling) {
        at = i + 1;
        break;
      }
  }
  g_array_insert_val(x->stack, at, xid);
}

static TxWindow *by_xid(TandemX11 *x, xcb_window_t xid) {
  return g_hash_table_lookup(x->by_xid, GUINT_TO_POINTER(xid));
}

/* The window whose root child (its own, or another window manager's
 * frame around it) is @frame. */
static TxWindow *by_frame(TandemX11 *x, xcb_window_t frame) {
  return g_hash_table_lookup(x->by_frame, GUINT_TO_POINTER(frame));
}

/* Sends an EWMH request to the window manager (source 2: a pager or
 * similar tool acting for the user, which WMs obey). */
static void ask_wm(TandemX11 *x, xcb_window_t w, xcb_atom_t type,
                   uint32_t d0, uint32_t d1, uint32_t d2, uint32_t d3,
                   uint32_t d4) {
  xcb_client_message_event_t ev = {.response_type = XCB_CLIENT_MESSAGE,
                                   .format = 32, .window = w, .type = type};
  uint32_t d[5] = {d0, d1, d2, d3, d4};
  memcpy(ev.data.data32, d, sizeof(d));
  xcb_send_event(x->c, 0, x->root,
                 XCB_EVENT_MASK_SUBSTRUCTURE_REDIRECT |
                     XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY,
                 (const char *)&ev);
}

/* Under another window manager: the client's place on the screen (inside
 * the frame) and its size, asked of the server. */
static void coop_geometry(TandemX11 *x, TxWindow *w) {
  xcb_translate_coordinates_cookie_t tc =
      xcb_translate_coordinates(x->c, w->xid, x->root, 0, 0);
  xcb_get_geometry_cookie_t gc = xcb_get_geometry(x->c, w->xid);
  xcb_translate_coordinates_reply_t *t =
      xcb_translate_coordinates_reply(x->c, tc, NULL);
  xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(x->c, gc, NULL);
  if (t && g) {
    w->x = t->dst_x;
    w->y = t->dst_y;
    w->width = g->width;
    w->height = g->height;
    w->border = 0; /* x, y are the contents' own */
  }
  free(t);
  free(g);
}

static void stack_place_top(TandemX11 *x, xcb_window_t xid) {
  stack_place(x, xid, x->stack->len ? g_array_index(x->stack, xcb_window_t,
                                                    x->stack->len - 1)
                                    : XCB_NONE);
}

/* The nearest window below @w that the host knows, as a protocol id. */
static uint32_t announced_below(TandemX11 *x, TxWindow *w) {
  uint32_t below = 0;
  for (guint i = 0; i < x->stack->len; i++) {
    xcb_window_t xid = g_array_index(x->stack, xcb_window_t, i);
    if (xid == w->frame)
      return below;
    TxWindow *o = by_frame(x, xid);
    if (o && o->announced)
      below = o->id;
  }
  return 0;
}

/* --- Telling the host --------------------------------------------------- */

static uint32_t dim(uint32_t v) {
  return v < 1 ? 1 : v > TP_MAX_WINDOW_DIM ? TP_MAX_WINDOW_DIM : v;
}

static int32_t coord(int32_t v) {
  return v < TP_MIN_COORD ? TP_MIN_COORD : v > TP_MAX_COORD ? TP_MAX_COORD : v;
}

static guint count_announced(TandemX11 *x) {
  guint n = 0;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, x->by_xid);
  while (g_hash_table_iter_next(&it, NULL, &value))
    n += ((TxWindow *)value)->announced;
  return n;
}

/* Positions on the wire are of the contents, inside any X border. */
static int32_t inner_x(TxWindow *w) { return coord(w->x + (int32_t)w->border); }
static int32_t inner_y(TxWindow *w) { return coord(w->y + (int32_t)w->border); }

static void send_configure(TandemX11 *x, TxWindow *w) {
  if (!w->announced) /* the host hears of a window first from CREATE */
    return;
  TpMessage m = {.type = TP_MSG_WINDOW_CONFIGURE, .window = w->id};
  m.u.configure = (TpWindowConfigure){inner_x(w), inner_y(w), dim(w->width),
                                      dim(w->height), announced_below(x, w)};
  tx_send(x, &m);
}

/* WINDOW_CREATE and everything the host needs to show the window. */
static void announce(TandemX11 *x, TxWindow *w) {
  if (w->announced || !x->host_ready || !w->input_output)
    return;
  if (count_announced(x) >= TP_MAX_WINDOWS) {
    g_warning("x11: more than %u windows; 0x%x is not shown on the host",
              TP_MAX_WINDOWS, w->xid);
    return;
  }
  tx_read_transient(x, w);
  w->type = tx_read_type(x, w);
  TxWindow *parent = w->transient_for
                         ? by_xid(x, w->transient_for)
                         : NULL;
  TpMessage m = {.type = TP_MSG_WINDOW_CREATE, .window = w->id};
  m.u.create = (TpWindowCreate){inner_x(w), inner_y(w), dim(w->width),
                                dim(w->height), 0,
                                parent && parent->announced ? parent->id : 0,
                                (uint8_t)w->override_redirect, w->type};
  if (!tx_send(x, &m))
    return;
  w->announced = TRUE;
  tx_read_protocols(x, w);
  tx_send_title(x, w);
  tx_send_class(x, w);
  tx_send_icon(x, w);
  tx_send_hints(x, w);
  tx_send_states(x, w, TRUE);
  send_configure(x, w);
}

static void show(TandemX11 *x, TxWindow *w) {
  announce(x, w);
  if (!w->announced || w->shown)
    return;
  TpMessage m = {.type = TP_MSG_WINDOW_MAP, .window = w->id};
  if (tx_send(x, &m)) {
    w->shown = TRUE;
    tx_pixels_full(x, w);
  }
}

void tx_windows_announce_all(TandemX11 *x) {
  /* Bottom to top, so that every CONFIGURE names a sibling already known. */
  for (guint i = 0; i < x->stack->len; i++) {
    xcb_window_t xid = g_array_index(x->stack, xcb_window_t, i);
    TxWindow *w = by_frame(x, xid);
    if (w && (w->mapped || w->iconic))
      w->iconic ? announce(x, w) : show(x, w);
  }
}

/* --- Tracking ----------------------------------------------------------- */

static TxWindow *track_in(TandemX11 *x, xcb_window_t xid, xcb_window_t frame) {
  if (xid == x->stub || xid == x->wm_window)
    return NULL;
  TxWindow *w = by_xid(x, xid);
  if (w)
    return w;
  xcb_get_window_attributes_cookie_t ac = xcb_get_window_attributes(x->c, xid);
  xcb_get_geometry_cookie_t gc = xcb_get_geometry(x->c, xid);
  xcb_get_window_attributes_reply_t *a =
      xcb_get_window_attributes_reply(x->c, ac, NULL);
  xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(x->c, gc, NULL);
  if (a && g) {
    w = g_new0(TxWindow, 1);
    w->xid = xid;
    w->frame = frame;
    w->id = x->next_id++;
    w->x = g->x;
    w->y = g->y;
    w->width = g->width;
    w->height = g->height;
    w->border = g->border_width;
    w->depth = g->depth;
    w->override_redirect = a->override_redirect;
    w->input_output = a->_class == XCB_WINDOW_CLASS_INPUT_OUTPUT;
    w->mapped = a->map_state != XCB_MAP_STATE_UNMAPPED;
    w->input_hint = TRUE;
    g_hash_table_insert(x->by_xid, GUINT_TO_POINTER(xid), w);
    g_hash_table_insert(x->by_id, GUINT_TO_POINTER(w->id), w);
    g_hash_table_insert(x->by_frame, GUINT_TO_POINTER(frame), w);
    uint32_t mask = XCB_EVENT_MASK_PROPERTY_CHANGE |
                    XCB_EVENT_MASK_FOCUS_CHANGE;
    if (frame != xid) { /* inside a frame: its own size and fate */
      mask |= XCB_EVENT_MASK_STRUCTURE_NOTIFY;
      w->mapped = TRUE;
    }
    xcb_change_window_attributes(x->c, xid, XCB_CW_EVENT_MASK, &mask);
    if (w->input_output)
      tx_pixels_track(x, w);
  }
  free(a);
  free(g);
  if (w && frame != xid)
    coop_geometry(x, w);
  return w;
}

static TxWindow *track(TandemX11 *x, xcb_window_t xid) {
  return track_in(x, xid, xid);
}

/* The client window inside another window manager's frame: the one with
 * WM_STATE (ICCCM 4.1.3.1), at most a few levels down. */
static xcb_window_t find_client(TandemX11 *x, xcb_window_t w, int depth) {
  uint32_t n;
  g_autofree void *state = tx_property(x, w, x->atom.wm_state,
                                       x->atom.wm_state, 2, &n, NULL);
  if (state)
    return w;
  if (depth >= 3)
    return XCB_NONE;
  xcb_query_tree_reply_t *t =
      xcb_query_tree_reply(x->c, xcb_query_tree(x->c, w), NULL);
  xcb_window_t found = XCB_NONE;
  if (t) {
    xcb_window_t *kids = xcb_query_tree_children(t);
    for (int i = xcb_query_tree_children_length(t) - 1; i >= 0 && !found; i--)
      found = find_client(x, kids[i], depth + 1);
    free(t);
  }
  return found;
}

/* A root child that got mapped under another window manager: a frame
 * (track the client in it) or an override-redirect window (itself). */
static TxWindow *track_root_child(TandemX11 *x, xcb_window_t child,
                                  gboolean override_redirect) {
  if (x->wm || override_redirect)
    return track(x, child);
  /* No client yet (the WM maps its frame first): _NET_CLIENT_LIST will
   * name it. */
  xcb_window_t client = find_client(x, child, 0);
  return client ? track_in(x, client, child) : NULL;
}

static void show(TandemX11 *x, TxWindow *w);

/* The other window manager's list of the windows it manages: every client
 * in it is tracked (with its frame), as soon as it is listed. */
static void sync_client_list(TandemX11 *x) {
  uint32_t n;
  g_autofree xcb_window_t *list = tx_property(
      x, x->root, x->atom.net_client_list, XCB_ATOM_WINDOW, TP_MAX_WINDOWS,
      &n, NULL);
  for (uint32_t i = 0; list && i < n; i++) {
    if (by_xid(x, list[i]))
      continue;
    xcb_window_t frame = tx_root_child(x, list[i], FALSE);
    if (!frame)
      continue;
    xcb_get_window_attributes_reply_t *a = xcb_get_window_attributes_reply(
        x->c, xcb_get_window_attributes(x->c, frame), NULL);
    gboolean viewable = a && a->map_state == XCB_MAP_STATE_VIEWABLE;
    free(a);
    TxWindow *w = track_in(x, list[i], frame);
    if (w)
      w->mapped = viewable;
    if (w && w->mapped)
      show(x, w);
  }
}

static void forget(TandemX11 *x, xcb_window_t xid) {
  TxWindow *w = by_xid(x, xid);
  stack_remove(x, xid);
  if (!w)
    return;
  g_hash_table_remove(x->by_frame, GUINT_TO_POINTER(w->frame));
  if (w->announced) {
    /* Ids are never reused, so the host's DESTROY_ACK needs no waiting. */
    TpMessage m = {.type = TP_MSG_WINDOW_DESTROY, .window = w->id};
    tx_send(x, &m);
  }
  tx_pixels_untrack(x, w);
  g_hash_table_remove(x->by_id, GUINT_TO_POINTER(w->id));
  g_hash_table_remove(x->by_xid, GUINT_TO_POINTER(xid));
  tx_focus_changed(x);
}

static void set_wm_state(TandemX11 *x, TxWindow *w, uint32_t state) {
  if (state == WM_STATE_WITHDRAWN) {
    xcb_delete_property(x->c, w->xid, x->atom.wm_state);
    return;
  }
  uint32_t v[2] = {state, XCB_NONE};
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, w->xid, x->atom.wm_state,
                      x->atom.wm_state, 32, 2, v);
}

static void update_client_list(TandemX11 *x) {
  if (!x->wm)
    return;
  GArray *list = g_array_new(FALSE, FALSE, sizeof(xcb_window_t));
  for (guint i = 0; i < x->stack->len; i++) {
    xcb_window_t xid = g_array_index(x->stack, xcb_window_t, i);
    TxWindow *w = by_xid(x, xid);
    if (w && w->managed)
      g_array_append_val(list, xid);
  }
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, x->root,
                      x->atom.net_client_list, XCB_ATOM_WINDOW, 32, list->len,
                      list->data);
  g_array_unref(list);
}

/* --- Window manager ----------------------------------------------------- */

static void clamp_to_screen(TandemX11 *x, int32_t *px, int32_t *py,
                            uint32_t w, uint32_t h) {
  int32_t sw = x->screen->width_in_pixels, sh = x->screen->height_in_pixels;
  /* As much of the window as fits stays on the guest's screen, where the
   * pointer can reach it. */
  *px = (int32_t)w >= sw ? 0 : CLAMP(*px, 0, sw - (int32_t)w);
  *py = (int32_t)h >= sh ? 0 : CLAMP(*py, 0, sh - (int32_t)h);
}

static void place_new(TandemX11 *x, TxWindow *w) {
  uint32_t n;
  g_autofree uint32_t *hints = tx_property(x, w->xid, XCB_ATOM_WM_NORMAL_HINTS,
                                           XCB_ATOM_WM_SIZE_HINTS, 18, &n,
                                           NULL);
  gboolean positioned = hints && n >= 1 && (hints[0] & (1u | 4u));
  int32_t px = w->x, py = w->y;
  tx_read_transient(x, w);
  TxWindow *parent = w->transient_for
                         ? by_xid(x, w->transient_for)
                         : NULL;
  if (parent && !positioned) { /* dialogs centred over their parent */
    px = parent->x + ((int32_t)parent->width - (int32_t)w->width) / 2;
    py = parent->y + ((int32_t)parent->height - (int32_t)w->height) / 2;
  } else if (!positioned && px == 0 && py == 0) {
    px = ((int32_t)x->screen->width_in_pixels - (int32_t)w->width) / 2;
    py = ((int32_t)x->screen->height_in_pixels - (int32_t)w->height) / 3;
  }
  clamp_to_screen(x, &px, &py, w->width, w->height);
  if (px != w->x || py != w->y) {
    uint32_t v[2] = {(uint32_t)px, (uint32_t)py};
    xcb_configure_window(x->c, w->xid,
                         XCB_CONFIG_WINDOW_X | XCB_CONFIG_WINDOW_Y, v);
    /* Known now, for a dialog mapped before the ConfigureNotify comes. */
    w->x = px;
    w->y = py;
  }
  uint32_t zero[4] = {0, 0, 0, 0};
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, w->xid,
                      x->atom.net_frame_extents, XCB_ATOM_CARDINAL, 32, 4,
                      zero);
}

static void manage(TandemX11 *x, TxWindow *w) {
  if (!x->wm || w->override_redirect || w->managed)
    return;
  w->managed = TRUE;
  if (w->border) { /* no decorations, and no X border either */
    uint32_t zero = 0;
    xcb_configure_window(x->c, w->xid, XCB_CONFIG_WINDOW_BORDER_WIDTH, &zero);
  }
  set_wm_state(x, w, WM_STATE_NORMAL);
  update_client_list(x);
}

static void on_map_request(TandemX11 *x, xcb_map_request_event_t *ev) {
  TxWindow *w = track(x, ev->window);
  if (w) {
    place_new(x, w);
    w->iconic = FALSE;
    manage(x, w);
  }
  xcb_map_window(x->c, ev->window);
}

static void on_configure_request(TandemX11 *x,
                                 xcb_configure_request_event_t *ev) {
  /* Without decorations the application gets the geometry it asks for;
   * the host's proxy follows (and the host may answer with a move). */
  uint32_t v[7], n = 0;
  TxWindow *w = by_xid(x, ev->window);
  uint16_t mask = ev->value_mask &
                  (XCB_CONFIG_WINDOW_X | XCB_CONFIG_WINDOW_Y |
                   XCB_CONFIG_WINDOW_WIDTH | XCB_CONFIG_WINDOW_HEIGHT |
                   XCB_CONFIG_WINDOW_BORDER_WIDTH | XCB_CONFIG_WINDOW_SIBLING |
                   XCB_CONFIG_WINDOW_STACK_MODE);
  if (w && w->managed) /* managed windows keep no border */
    mask &= (uint16_t)~XCB_CONFIG_WINDOW_BORDER_WIDTH;
  if (mask & XCB_CONFIG_WINDOW_X)
    v[n++] = (uint32_t)(int32_t)ev->x;
  if (mask & XCB_CONFIG_WINDOW_Y)
    v[n++] = (uint32_t)(int32_t)ev->y;
  if (mask & XCB_CONFIG_WINDOW_WIDTH)
    v[n++] = ev->width;
  if (mask & XCB_CONFIG_WINDOW_HEIGHT)
    v[n++] = ev->height;
  if (mask & XCB_CONFIG_WINDOW_BORDER_WIDTH)
    v[n++] = ev->border_width;
  if (mask & XCB_CONFIG_WINDOW_SIBLING) {
    /* A sibling we don't know (or gone) would fail the whole request. */
    if (!g_hash_table_contains(x->by_xid, GUINT_TO_POINTER(ev->sibling)))
      mask &= (uint16_t)~XCB_CONFIG_WINDOW_SIBLING;
  }
  if (mask & XCB_CONFIG_WINDOW_SIBLING)
    v[n++] = ev->sibling;
  if (mask & XCB_CONFIG_WINDOW_STACK_MODE)
    v[n++] = ev->stack_mode;
  xcb_configure_window(x->c, ev->window, mask, v);
}

static void move_resize(TandemX11 *x, TxWindow *w, int32_t px, int32_t py,
                        uint32_t width, uint32_t height, uint32_t flags) {
  uint32_t v[4], n = 0;
  uint16_t mask = 0;
  /* w keeps the size the server last reported (and the host was told)
   * until ConfigureNotify says otherwise: captures use it. */
  uint32_t new_w = (flags & TP_RESIZE) ? width : w->width;
  uint32_t new_h = (flags & TP_RESIZE) ? height : w->height;
  if (flags & TP_MOVE) {
    px -= (int32_t)w->border; /* the host speaks of the contents */
    py -= (int32_t)w->border;
    clamp_to_screen(x, &px, &py, new_w, new_h);
    mask |= XCB_CONFIG_WINDOW_X | XCB_CONFIG_WINDOW_Y;
    v[n++] = (uint32_t)px;
    v[n++] = (uint32_t)py;
  }
  if (flags & TP_RESIZE) {
    mask |= XCB_CONFIG_WINDOW_WIDTH | XCB_CONFIG_WINDOW_HEIGHT;
    v[n++] = width;
    v[n++] = height;
  }
  if (!x->wm && !w->override_redirect) {
    /* Another window manager places windows: ask it, in the client's own
     * coordinates (static gravity). */
    uint32_t f = 10u | (2u << 12) | ((flags & TP_MOVE) ? 3u << 8 : 0) |
                 ((flags & TP_RESIZE) ? 3u << 10 : 0);
    ask_wm(x, w->xid, x->atom.net_moveresize_window, f,
           (flags & TP_MOVE) ? v[0] : 0, (flags & TP_MOVE) ? v[1] : 0,
           width, height);
    return;
  }
  xcb_configure_window(x->c, w->xid, mask, v);
}

static void set_iconic(TandemX11 *x, TxWindow *w, gboolean iconic) {
  if (w->override_redirect || w->iconic == iconic)
    return;
  w->iconic = iconic;
  if (!x->wm) { /* ICCCM 4.1.4: the window manager does it */
    if (iconic) {
      ask_wm(x, w->xid, x->atom.wm_change_state, WM_STATE_ICONIC, 0, 0, 0,
             0);
    } else { /* ICCCM: map it again; EWMH: activating restores it */
      xcb_map_window(x->c, w->xid);
      ask_wm(x, w->xid, x->atom.net_active_window, 2, x->last_time, 0, 0, 0);
    }
    return;
  }
  if (iconic) {
    set_wm_state(x, w, WM_STATE_ICONIC);
    xcb_unmap_window(x->c, w->xid);
  } else {
    set_wm_state(x, w, WM_STATE_NORMAL);
    xcb_map_window(x->c, w->xid);
  }
}

/* Applies state bits: geometry for maximize/fullscreen, mapping for
 * hidden, and _NET_WM_STATE so the application knows. */
static void apply_states(TandemX11 *x, TxWindow *w, uint32_t mask,
                         uint32_t value, gboolean from_guest) {
  uint32_t old = tx_window_states(x, w);
  uint32_t now = (old & ~mask) | (value & mask);
  if (!x->wm) {
    for (uint32_t bit = 1; bit & TP_STATES_KNOWN; bit <<= 1) {
      if (!(mask & bit) || bit == TP_STATE_HIDDEN || ((old ^ now) & bit) == 0)
        continue;
      ask_wm(x, w->xid, x->atom.net_wm_state,
             (now & bit) ? NET_STATE_ADD : NET_STATE_REMOVE,
             tx_state_atom(x, bit), 0, 2, 0);
    }
    if (mask & TP_STATE_HIDDEN)
      set_iconic(x, w, (now & TP_STATE_HIDDEN) != 0);
    return; /* the new states come back as property changes */
  }
  uint32_t big = TP_STATE_FULLSCREEN | TP_STATE_MAXIMIZED_HORZ |
                 TP_STATE_MAXIMIZED_VERT;
  /* An application asking for full screen gets the state (so the host can
   * ask the user) but not the size: the host sends that if it agrees. */
  if (from_guest && ((now & ~old) & TP_STATE_FULLSCREEN))
    big &= ~(uint32_t)TP_STATE_FULLSCREEN;
  if (!(old & big) && (now & big)) {
    w->saved_x = w->x;
    w->saved_y = w->y;
    w->saved_w = w->width;
    w->saved_h = w->height;
    move_resize(x, w, 0, 0, x->screen->width_in_pixels,
                x->screen->height_in_pixels, TP_MOVE | TP_RESIZE);
  } else if ((old & big) && !(now & big) && w->saved_w) {
    move_resize(x, w, w->saved_x, w->saved_y, w->saved_w, w->saved_h,
                TP_MOVE | TP_RESIZE);
  }
  if (mask & TP_STATE_HIDDEN)
    set_iconic(x, w, (now & TP_STATE_HIDDEN) != 0);
  /* EWMH: _NET_WM_STATE_HIDDEN exactly while iconic. */
  tx_write_net_states(x, w, w->iconic ? now | TP_STATE_HIDDEN
                                   : now & ~(uint32_t)TP_STATE_HIDDEN);
  tx_send_states(x, w, FALSE);
}

static void on_client_message(TandemX11 *x, xcb_client_message_event_t *ev) {
  TxWindow *w = by_xid(x, ev->window);
  /* Requests to the window manager; another WM answers its own (and we
   * would otherwise see, and answer, our own requests to it). */
  if (!w || ev->format != 32 || !x->wm)
    return;
  const uint32_t *d = ev->data.data32;
  if (ev->type == x->atom.net_wm_state) {
    uint32_t bits = 0;
    for (int i = 1; i <= 2; i++)
      bits |= tx_state_bit(x, d[i]);
    uint32_t cur = tx_window_states(x, w);
    uint32_t value = d[0] == NET_STATE_ADD      ? bits
                     : d[0] == NET_STATE_TOGGLE ? ~cur & bits
                                                : 0;
    /* The guest cannot take the host's screen by itself: fullscreen is
     * passed on as a state the host asks the user about. */
    apply_states(x, w, bits, value, TRUE);
  } else if (ev->type == x->atom.wm_change_state && d[0] == WM_STATE_ICONIC) {
    apply_states(x, w, TP_STATE_HIDDEN, TP_STATE_HIDDEN, TRUE);
  } else if (ev->type == x->atom.net_active_window) {
    /* An application asking to be activated gets attention, not focus:
     * only the host moves focus. */
    if (!(w->states & TP_STATE_DEMANDS_ATTENTION))
      apply_states(x, w, TP_STATE_DEMANDS_ATTENTION,
                   TP_STATE_DEMANDS_ATTENTION, TRUE);
  } else if (ev->type == x->atom.net_close_window) {
    TpMessage m = {.type = TP_MSG_WINDOW_CLOSE, .window = w->id};
    tx_window_handle(x, w, &m);
  } else if (ev->type == x->atom.net_moveresize_window) {
    uint32_t f = d[0] >> 8;
    uint32_t flags = ((f & 3u) ? TP_MOVE : 0) | ((f & 12u) ? TP_RESIZE : 0);
    if (flags)
      move_resize(x, w, (f & 1u) ? (int32_t)d[1] : w->x,
                  (f & 2u) ? (int32_t)d[2] : w->y,
                  (f & 4u) ? d[3] : w->width, (f & 8u) ? d[4] : w->height,
                  flags);
  }
}

/* --- Events ------------------------------------------------------------- */

static void on_property(TandemX11 *x, xcb_property_notify_event_t *ev) {
  if (ev->window == x->root) {
    if (!x->wm && ev->atom == x->atom.net_client_list)
      sync_client_list(x);
    return;
  }
  TxWindow *w = by_xid(x, ev->window);
  if (w && ev->atom == x->atom.wm_protocols)
    tx_read_protocols(x, w); /* set right after mapping by some (xclock) */
  if (!w || !w->announced)
    return;
  xcb_atom_t a = ev->atom;
  if (a == x->atom.net_wm_name || a == XCB_ATOM_WM_NAME)
    tx_send_title(x, w);
  else if (a == XCB_ATOM_WM_CLASS)
    tx_send_class(x, w);
  else if (a == x->atom.net_wm_icon)
    tx_send_icon(x, w);
  else if (a == XCB_ATOM_WM_NORMAL_HINTS)
    tx_send_hints(x, w);
  else if (a == x->atom.net_wm_state || a == XCB_ATOM_WM_HINTS)
    tx_send_states(x, w, FALSE);
  else if (a == x->atom.wm_protocols)
    tx_read_protocols(x, w);
}

static void on_configure(TandemX11 *x, xcb_configure_notify_event_t *ev) {
  TxWindow *w;
  uint32_t old_w, old_h;
  if (ev->event == x->root) {
    stack_place(x, ev->window, ev->above_sibling);
    w = by_frame(x, ev->window);
  } else { /* a client inside a frame changed size */
    w = by_xid(x, ev->window);
    if (w && w->frame == w->xid)
      w = NULL;
  }
  if (!w)
    return;
  old_w = w->width;
  old_h = w->height;
  if (w->frame != w->xid) {
    coop_geometry(x, w);
  } else {
    w->x = ev->x;
    w->y = ev->y;
    w->width = ev->width;
    w->height = ev->height;
    w->border = ev->border_width;
    w->override_redirect = ev->override_redirect;
  }
  gboolean resized = w->width != old_w || w->height != old_h;
  if (!w->announced)
    return;
  send_configure(x, w);
  if (resized)
    tx_pixels_full(x, w);
}

void tx_windows_event(TandemX11 *x, xcb_generic_event_t *ev, uint8_t type) {
  switch (type) {
  case XCB_CREATE_NOTIFY: {
    xcb_create_notify_event_t *e = (xcb_create_notify_event_t *)ev;
    if (e->parent == x->root) {
      stack_place_top(x, e->window);
      /* Under another WM a new root child may be a frame: wait for its
       * map to see what is inside. */
      if (x->wm || e->override_redirect)
        track(x, e->window);
    }
    break;
  }
  case XCB_DESTROY_NOTIFY: {
    xcb_destroy_notify_event_t *e = (xcb_destroy_notify_event_t *)ev;
    TxWindow *w = e->event == x->root ? by_frame(x, e->window)
                                      : by_xid(x, e->window);
    stack_remove(x, e->window);
    if (w && (e->event == x->root || w->xid == e->window))
      forget(x, w->xid);
    break;
  }
  case XCB_MAP_REQUEST:
    on_map_request(x, (xcb_map_request_event_t *)ev);
    break;
  case XCB_MAP_NOTIFY: {
    xcb_map_notify_event_t *e = (xcb_map_notify_event_t *)ev;
    if (e->event != x->root)
      break;
    TxWindow *w = by_frame(x, e->window);
    if (!w && !x->wm)
      w = track_root_child(x, e->window, e->override_redirect);
    if (!w)
      break;
    w->mapped = TRUE;
    if (w->frame == w->xid)
      w->override_redirect = e->override_redirect;
    else
      coop_geometry(x, w);
    if (w->iconic) {
      w->iconic = FALSE;
      tx_send_states(x, w, FALSE);
    }
    manage(x, w);
    show(x, w);
    break;
  }
  case XCB_UNMAP_NOTIFY: {
    xcb_unmap_notify_event_t *e = (xcb_unmap_notify_event_t *)ev;
    TxWindow *w = e->event == x->root ? by_frame(x, e->window) : NULL;
    if (!w)
      break;
    w->mapped = FALSE;
    if (w->frame != w->xid) {
      /* Another WM iconifies by unmapping the frame, WM_STATE Iconic. */
      uint32_t n;
      g_autofree uint32_t *st = tx_property(x, w->xid, x->atom.wm_state,
                                            x->atom.wm_state, 2, &n, NULL);
      w->iconic = st && n >= 1 && st[0] == WM_STATE_ICONIC;
    }
    if (w->iconic) { /* minimized: the host keeps a minimized proxy */
      tx_send_states(x, w, FALSE);
      break;
    }
    if (w->managed) { /* withdrawn by the application */
      w->managed = FALSE;
      set_wm_state(x, w, WM_STATE_WITHDRAWN);
      update_client_list(x);
    }
    if (w->shown) {
      TpMessage m = {.type = TP_MSG_WINDOW_UNMAP, .window = w->id};
      tx_send(x, &m);
      w->shown = FALSE;
    }
    tx_focus_changed(x);
    break;
  }
  case XCB_CONFIGURE_REQUEST:
    on_configure_request(x, (xcb_configure_request_event_t *)ev);
    break;
  case XCB_CONFIGURE_NOTIFY:
    on_configure(x, (xcb_configure_notify_event_t *)ev);
    break;
  case XCB_CIRCULATE_REQUEST: {
    xcb_circulate_request_event_t *e = (xcb_circulate_request_event_t *)ev;
    xcb_circulate_window(x->c, e->place == XCB_PLACE_ON_TOP
                                   ? XCB_CIRCULATE_RAISE_LOWEST
                                   : XCB_CIRCULATE_LOWER_HIGHEST,
                         x->root);
    break;
  }
  case XCB_CIRCULATE_NOTIFY: {
    xcb_circulate_notify_event_t *e = (xcb_circulate_notify_event_t *)ev;
    if (e->place == XCB_PLACE_ON_TOP)
      stack_place_top(x, e->window);
    else
      stack_place(x, e->window, XCB_NONE);
    TxWindow *w = by_frame(x, e->window);
    if (w && w->announced)
      send_configure(x, w);
    break;
  }
  case XCB_REPARENT_NOTIFY: {
    xcb_reparent_notify_event_t *e = (xcb_reparent_notify_event_t *)ev;
    if (e->event != x->root)
      break;
    if (e->parent == x->root) {
      stack_place_top(x, e->window);
      if (x->wm || e->override_redirect)
        track(x, e->window);
    } else {
      /* A root window goes into a frame: tracked again when it shows. */
      stack_remove(x, e->window);
      if (by_frame(x, e->window))
        forget(x, e->window);
    }
    break;
  }
  case XCB_PROPERTY_NOTIFY:
    on_property(x, (xcb_property_notify_event_t *)ev);
    break;
  case XCB_CLIENT_MESSAGE:
    on_client_message(x, (xcb_client_message_event_t *)ev);
    break;
  default:
    break;
  }
}

/* --- The host's requests ------------------------------------------------ */

void tx_window_raise(TandemX11 *x, TxWindow *w) {
  if (!x->wm && !w->override_redirect) {
    ask_wm(x, w->xid, x->atom.net_active_window, 2, x->last_time, 0, 0, 0);
    return;
  }
  uint32_t v = XCB_STACK_MODE_ABOVE;
  xcb_configure_window(x->c, w->xid, XCB_CONFIG_WINDOW_STACK_MODE, &v);
}

void tx_window_handle(TandemX11 *x, TxWindow *w, const TpMessage *m) {
  switch (m->type) {
  case TP_MSG_WINDOW_CLOSE:
    tx_read_protocols(x, w); /* as it is now, not as it was at announce */
    if (w->delete_window) {
      xcb_client_message_event_t ev = {
          .response_type = XCB_CLIENT_MESSAGE, .format = 32,
          .window = w->xid, .type = x->atom.wm_protocols};
      ev.data.data32[0] = x->atom.wm_delete_window;
      ev.data.data32[1] = x->last_time;
      xcb_send_event(x->c, 0, w->xid, XCB_EVENT_MASK_NO_EVENT,
                     (const char *)&ev);
    } else {
      /* Asked politely or not at all: never killed. */
      g_message("x11: window 0x%x does not support WM_DELETE_WINDOW; "
                "not closing it", w->xid);
    }
    break;
  case TP_MSG_WINDOW_MOVE_RESIZE: {
    const TpMoveResize *r = &m->u.move_resize;
    move_resize(x, w, r->x, r->y, r->width, r->height, r->flags);
    break;
  }
  case TP_MSG_WINDOW_RESTACK: {
    const TpRestack *r = &m->u.restack;
    TxWindow *sib = r->sibling ? tx_window_by_id(x, r->sibling) : NULL;
    uint32_t v[2];
    uint16_t mask = XCB_CONFIG_WINDOW_STACK_MODE;
    int n = 0;
    if (sib && sib != w) {
      mask |= XCB_CONFIG_WINDOW_SIBLING;
      v[n++] = sib->xid;
    }
    v[n++] = r->below ? XCB_STACK_MODE_BELOW : XCB_STACK_MODE_ABOVE;
    if (!x->wm && !w->override_redirect)
      ask_wm(x, w->xid, x->atom.net_restack_window, 2,
             sib && sib != w ? sib->xid : XCB_NONE, v[n - 1], 0, 0);
    else
      xcb_configure_window(x->c, w->xid, mask, v);
    break;
  }
  case TP_MSG_WINDOW_SET_STATE:
    apply_states(x, w, m->u.set_state.mask, m->u.set_state.value, FALSE);
    break;
  case TP_MSG_WINDOW_DESTROY_ACK:
  default:
    break;
  }
}

/* --- Start-up ----------------------------------------------------------- */

static void become_wm(TandemX11 *x) {
  /* Focus changes on the root: focus given up to PointerRoot or None by
   * an application (the agent then puts it on the stub). */
  uint32_t mask = XCB_EVENT_MASK_SUBSTRUCTURE_REDIRECT |
                  XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY |
                  XCB_EVENT_MASK_PROPERTY_CHANGE |
                  XCB_EVENT_MASK_FOCUS_CHANGE;
  xcb_generic_error_t *err = xcb_request_check(
      x->c, xcb_change_window_attributes_checked(x->c, x->root,
                                                 XCB_CW_EVENT_MASK, &mask));
  x->wm = err == NULL;
  free(err);
  if (!x->wm) {
    /* Another window manager runs: cooperate through EWMH. */
    mask = XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY |
           XCB_EVENT_MASK_PROPERTY_CHANGE | XCB_EVENT_MASK_FOCUS_CHANGE;
    xcb_change_window_attributes(x->c, x->root, XCB_CW_EVENT_MASK, &mask);
    g_message("x11: a window manager is running; cooperating with it");
    return;
  }
  x->wm_window = xcb_generate_id(x->c);
  uint32_t or = 1;
  xcb_create_window(x->c, XCB_COPY_FROM_PARENT, x->wm_window, x->root, -100,
                    -100, 1, 1, 0, XCB_WINDOW_CLASS_INPUT_ONLY,
                    XCB_COPY_FROM_PARENT, XCB_CW_OVERRIDE_REDIRECT, &or);
  const char name[] = "tandem-agent";
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, x->wm_window,
                      x->atom.net_wm_name, x->atom.utf8_string, 8,
                      sizeof(name) - 1, name);
  xcb_window_t check = x->wm_window;
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, x->wm_window,
                      x->atom.net_supporting_wm_check, XCB_ATOM_WINDOW, 32, 1,
                      &check);
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, x->root,
                      x->atom.net_supporting_wm_check, XCB_ATOM_WINDOW, 32, 1,
                      &check);
  /* Not _NET_WM_STATE_FOCUSED: GTK would then draw every window as
   * unfocused unless told otherwise; plain focus events are enough. */
  xcb_atom_t supported[] = {
      x->atom.net_supported, x->atom.net_supporting_wm_check,
      x->atom.net_wm_name, x->atom.net_wm_state, x->atom.net_wm_window_type,
      x->atom.net_client_list, x->atom.net_active_window,
      x->atom.net_close_window, x->atom.net_frame_extents,
      x->atom.net_request_frame_extents, x->atom.net_moveresize_window,
      x->atom.net_wm_icon, x->atom.st_max_horz, x->atom.st_max_vert,
      x->atom.st_fullscreen, x->atom.st_hidden, x->atom.st_attention,
      x->atom.st_modal, x->atom.st_above, x->atom.st_below,
      x->atom.st_sticky, x->atom.st_skip_taskbar,
  };
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, x->root,
                      x->atom.net_supported, XCB_ATOM_ATOM, 32,
                      G_N_ELEMENTS(supported), supported);
}

void tx_windows_init(TandemX11 *x) {
  become_wm(x);
  xcb_query_tree_reply_t *t =
      xcb_query_tree_reply(x->c, xcb_query_tree(x->c, x->root), NULL);
  if (!t)
    return;
  xcb_window_t *kids = xcb_query_tree_children(t);
  int n = xcb_query_tree_children_length(t);
  for (int i = 0; i < n; i++) { /* bottom to top */
    g_array_append_val(x->stack, kids[i]);
    TxWindow *w = NULL;
    if (x->wm) {
      w = track(x, kids[i]);
    } else {
      xcb_get_window_attributes_reply_t *a = xcb_get_window_attributes_reply(
          x->c, xcb_get_window_attributes(x->c, kids[i]), NULL);
      if (a && a->map_state == XCB_MAP_STATE_VIEWABLE)
        w = track_root_child(x, kids[i], a->override_redirect);
      free(a);
    }
    if (w && w->mapped)
      manage(x, w);
  }
  free(t);
  if (!x->wm)
    sync_client_list(x);
}
