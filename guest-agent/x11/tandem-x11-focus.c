/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest focus: set where the host's focus logic says (a window, or the
 * stub placeholder when nothing of this VM has host focus), and reported
 * back with the request's sequence number.
 *
 * Every SetInputFocus of the agent reverts to None: when the focused
 * window goes away, keys go nowhere until the agent notices and puts focus
 * on the stub, never to PointerRoot, which would hand them to whatever
 * window is under the pointer. Injection (tandem-x11-input.c) checks focus
 * and injects with the server grabbed, through tx_focus_hold(). */
#include "tandem-x11-private.h"

#include <stdlib.h>

#define TAKE_FOCUS_WAIT_MS 250

void tx_focus_init(TandemX11 *x) {
  x->client_mask = ~xcb_get_setup(x->c)->resource_id_mask;
  /* The stub: an input-only 1x1 window off the screen, never managed, never
   * shown to the host. Keys typed while it has focus go nowhere. */
  x->stub = xcb_generate_id(x->c);
  uint32_t values[2] = {1, XCB_EVENT_MASK_FOCUS_CHANGE};
  xcb_create_window(x->c, XCB_COPY_FROM_PARENT, x->stub, x->root, -10, -10, 1,
                    1, 0, XCB_WINDOW_CLASS_INPUT_ONLY, XCB_COPY_FROM_PARENT,
                    XCB_CW_OVERRIDE_REDIRECT | XCB_CW_EVENT_MASK, values);
  const char name[] = "Tandem focus placeholder";
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, x->stub,
                      x->atom.net_wm_name, x->atom.utf8_string, 8,
                      sizeof(name) - 1, name);
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, x->stub, XCB_ATOM_WM_NAME,
                      XCB_ATOM_STRING, 8, sizeof(name) - 1, name);
  xcb_map_window(x->c, x->stub);
}

void tx_focus_fini(TandemX11 *x) {
  if (x->focus_check_id)
    g_source_remove(x->focus_check_id);
  if (x->take_focus_id)
    g_source_remove(x->take_focus_id);
  x->focus_check_id = x->take_focus_id = 0;
}

gboolean tx_same_client(TandemX11 *x, xcb_window_t a, xcb_window_t b) {
  return (a & x->client_mask) == (b & x->client_mask);
}

static xcb_window_t focus_now(TandemX11 *x) {
  xcb_get_input_focus_reply_t *r =
      xcb_get_input_focus_reply(x->c, xcb_get_input_focus(x->c), NULL);
  xcb_window_t f = r ? r->focus : XCB_NONE;
  free(r);
  return f;
}

static gboolean is_nowhere(TandemX11 *x, xcb_window_t f) {
  return f == XCB_NONE || f == XCB_INPUT_FOCUS_POINTER_ROOT || f == x->root;
}

void tx_focus_to_stub(TandemX11 *x) {
  xcb_set_input_focus(x->c, XCB_INPUT_FOCUS_NONE, x->stub, XCB_CURRENT_TIME);
}

/* The guest's focus as the protocol says it. */
static TpFocusKind current(TandemX11 *x, uint32_t *window) {
  *window = 0;
  xcb_window_t f = focus_now(x);
  if (f == x->stub)
    return TP_FOCUS_STUB;
  if (is_nowhere(x, f))
    return TP_FOCUS_NONE;
  xcb_window_t top = tx_toplevel_of(x, f);
  if (top == x->stub)
    return TP_FOCUS_STUB;
  TxWindow *w = g_hash_table_lookup(x->by_xid, GUINT_TO_POINTER(top));
  if (w && w->announced) {
    *window = w->id;
    return TP_FOCUS_WINDOW;
  }
  return TP_FOCUS_OTHER;
}

static void report(TandemX11 *x, uint32_t seq, TpFocusKind kind,
                   uint32_t window) {
  TpMessage m = {.type = TP_MSG_FOCUS_REPORT, .window = window};
  m.u.focus_report = (TpFocusReport){seq, (uint8_t)kind};
  if (tx_send(x, &m)) {
    x->reported_kind = kind;
    x->reported_window = window;
  }
}

void tx_focus_report_now(TandemX11 *x, uint32_t seq) {
  uint32_t window;
  TpFocusKind kind = current(x, &window);
  report(x, seq, kind, window);
}

static gboolean matches_target(TandemX11 *x, TpFocusKind kind,
                               uint32_t window) {
  return x->focus_target ? kind == TP_FOCUS_WINDOW &&
                               window == x->focus_target
                         : kind == TP_FOCUS_STUB;
}

static gboolean check_focus(gpointer data) {
  TandemX11 *x = data;
  x->focus_check_id = 0;
  uint32_t window;
  TpFocusKind kind = current(x, &window);
  if (kind == TP_FOCUS_NONE && !x->focus_pending) {
    /* The focused window went away (or an application let go of focus):
     * the stub, not the window under the pointer. Not while a "globally
     * active" client is about to take focus: it would be refused, its
     * WM_TAKE_FOCUS time being older than ours. */
    tx_focus_to_stub(x);
    kind = current(x, &window);
  }
  if (x->focus_pending && matches_target(x, kind, window)) {
    x->focus_pending = FALSE;
    report(x, x->focus_seq, kind, window);
  } else if ((int)kind != x->reported_kind || window != x->reported_window) {
    /* Moved by the guest itself (a new window, a closed one). */
    report(x, 0, kind, window);
  }
  return G_SOURCE_REMOVE;
}

void tx_focus_changed(TandemX11 *x) {
  if (!x->focus_check_id && x->host_ready)
    x->focus_check_id = g_idle_add(check_focus, x);
}

static gboolean take_focus_timeout(gpointer data) {
  TandemX11 *x = data;
  x->take_focus_id = 0;
  if (x->focus_pending) { /* the application did not take it: say so */
    x->focus_pending = FALSE;
    tx_focus_report_now(x, x->focus_seq);
  }
  return G_SOURCE_REMOVE;
}

/* Gives @w focus the ICCCM way: SetInputFocus unless its input hint says
 * no, WM_TAKE_FOCUS if it takes part in the protocol. */
static void give_focus(TandemX11 *x, TxWindow *w) {
  tx_window_raise(x, w);
  if (w->input_hint)
    xcb_set_input_focus(x->c, XCB_INPUT_FOCUS_NONE, w->xid,
                        XCB_CURRENT_TIME);
  if (w->take_focus) {
    xcb_client_message_event_t ev = {.response_type = XCB_CLIENT_MESSAGE,
                                     .format = 32, .window = w->xid,
                                     .type = x->atom.wm_protocols};
    ev.data.data32[0] = x->atom.wm_take_focus;
    ev.data.data32[1] = x->last_time;
    xcb_send_event(x->c, 0, w->xid, XCB_EVENT_MASK_NO_EVENT,
                   (const char *)&ev);
  }
}

void tx_focus_set(TandemX11 *x, uint32_t window, uint32_t seq) {
  TxWindow *w = window ? tx_window_by_id(x, window) : NULL;
  x->focus_seq = seq;
  x->focus_target = window;
  x->focus_pending = FALSE;
  if (window && (!w || !w->mapped)) {
    tx_focus_report_now(x, seq); /* gone meanwhile: say where focus is */
    return;
  }
  if (w)
    give_focus(x, w);
  else
    tx_focus_to_stub(x);
  uint32_t now_window;
  TpFocusKind kind = current(x, &now_window); /* a round trip: applied */
  if (!matches_target(x, kind, now_window) && w && w->take_focus &&
      !w->input_hint) {
    /* A "globally active" client sets focus itself when it gets
     * WM_TAKE_FOCUS: wait for that, boundedly. */
    x->focus_pending = TRUE;
    if (x->take_focus_id)
      g_source_remove(x->take_focus_id);
    x->take_focus_id = g_timeout_add(TAKE_FOCUS_WAIT_MS, take_focus_timeout,
                                     x);
    return;
  }
  report(x, seq, kind, now_window);
}

gboolean tx_focus_is_on(TandemX11 *x, TxWindow *w) {
  xcb_window_t f = focus_now(x);
  if (f == w->xid)
    return TRUE;
  if (is_nowhere(x, f) || f == x->stub)
    return FALSE;
  xcb_window_t top = tx_toplevel_of(x, f);
  if (top == w->xid)
    return TRUE;
  TxWindow *o = g_hash_table_lookup(x->by_xid, GUINT_TO_POINTER(top));
  return o && o->override_redirect && tx_same_client(x, o->xid, w->xid);
}

gboolean tx_focus_hold(TandemX11 *x, TxWindow *w) {
  if (tx_focus_is_on(x, w))
    return TRUE;
  if (!w->mapped || !w->input_hint)
    return FALSE; /* it must take focus itself; never type elsewhere */
  give_focus(x, w);
  return tx_focus_is_on(x, w);
}
