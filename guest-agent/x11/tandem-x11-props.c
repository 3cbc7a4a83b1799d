/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Window properties: what a guest window says about itself (title,
 * class, icon, size hints, protocols, states, type, transient parent),
 * read with bounds and sent to the host once the window is announced. */
#include "tandem-x11-private.h"

#include <stdlib.h>
#include <string.h>

enum { ICCCM_INPUT_HINT = 1u << 0, ICCCM_URGENCY = 1u << 8 };

static char *read_title(TandemX11 *x, TxWindow *w) {
  uint32_t n;
  g_autofree char *t = tx_property(x, w->xid, x->atom.net_wm_name,
                                   x->atom.utf8_string, TP_MAX_TITLE_LEN,
                                   &n, NULL);
  if (t)
    return tandem_fit_text(t, n, TP_MAX_TITLE_LEN);
  g_autofree char *legacy = tx_property(x, w->xid, XCB_ATOM_WM_NAME,
                                        XCB_GET_PROPERTY_TYPE_ANY,
                                        TP_MAX_TITLE_LEN, &n, NULL);
  if (!legacy)
    return g_strdup("");
  /* STRING is Latin-1; COMPOUND_TEXT is close enough for titles. */
  g_autofree char *utf8 = g_convert(legacy, n, "UTF-8", "ISO-8859-1", NULL,
                                    NULL, NULL);
  return tandem_fit_text(utf8 ? utf8 : legacy, -1, TP_MAX_TITLE_LEN);
}

void tx_send_title(TandemX11 *x, TxWindow *w) {
  if (!w->announced) /* the host hears of a window first from CREATE */
    return;
  g_autofree char *title = read_title(x, w);
  TpMessage m = {.type = TP_MSG_WINDOW_TITLE, .window = w->id};
  m.u.title.title = title;
  tx_send(x, &m);
}

void tx_send_class(TandemX11 *x, TxWindow *w) {
  if (!w->announced) /* the host hears of a window first from CREATE */
    return;
  uint32_t n;
  g_autofree char *v = tx_property(x, w->xid, XCB_ATOM_WM_CLASS,
                                   XCB_ATOM_STRING, 2 * TP_MAX_NAME_LEN / 4,
                                   &n, NULL);
  if (!v)
    return;
  /* "res_name\0res_class\0", either part possibly missing. */
  const char *name = v;
  size_t name_len = strnlen(v, n);
  const char *klass = name_len < n ? v + name_len + 1 : "";
  size_t class_len = name_len < n ? strnlen(klass, n - name_len - 1) : 0;
  g_autofree char *res_name = tandem_fit_text(name, (gssize)name_len,
                                              TP_MAX_NAME_LEN);
  g_autofree char *res_class = tandem_fit_text(klass, (gssize)class_len,
                                               TP_MAX_NAME_LEN);
  TpMessage m = {.type = TP_MSG_WINDOW_CLASS, .window = w->id};
  m.u.wclass = (TpWindowClass){res_name, res_class};
  tx_send(x, &m);
}

void tx_send_icon(TandemX11 *x, TxWindow *w) {
  if (!w->announced) /* the host hears of a window first from CREATE */
    return;
  uint32_t n, width = 0, height = 0;
  /* Up to 1 MiB of icons: enough for every size up to 256 px. */
  g_autofree uint32_t *v = tx_property(x, w->xid, x->atom.net_wm_icon,
                                       XCB_ATOM_CARDINAL, 256u * 1024u, &n,
                                       NULL);
  if (!v)
    return;
  long at = tx_pick_icon(v, n, TX_ICON_WANT, TP_MAX_WINDOW_ICON_DIM, &width,
                         &height);
  if (at < 0)
    return;
  TpMessage m = {.type = TP_MSG_WINDOW_ICON, .window = w->id};
  m.u.icon = (TpWindowIcon){width, height,
                            {(const uint8_t *)(v + at), width * height * 4}};
  tx_send(x, &m);
}

void tx_send_hints(TandemX11 *x, TxWindow *w) {
  if (!w->announced) /* the host hears of a window first from CREATE */
    return;
  uint32_t n;
  g_autofree uint32_t *v = tx_property(x, w->xid, XCB_ATOM_WM_NORMAL_HINTS,
                                       XCB_ATOM_WM_SIZE_HINTS, 18, &n, NULL);
  TpMessage m = {.type = TP_MSG_WINDOW_HINTS, .window = w->id};
  tx_parse_size_hints(v, v ? n : 0, &m.u.hints);
  tx_send(x, &m);
}

void tx_read_protocols(TandemX11 *x, TxWindow *w) {
  uint32_t n;
  g_autofree xcb_atom_t *a = tx_property(x, w->xid, x->atom.wm_protocols,
                                         XCB_ATOM_ATOM, 32, &n, NULL);
  w->take_focus = w->delete_window = FALSE;
  for (uint32_t i = 0; a && i < n; i++) {
    if (a[i] == x->atom.wm_take_focus)
      w->take_focus = TRUE;
    else if (a[i] == x->atom.wm_delete_window)
      w->delete_window = TRUE;
  }
}

/* WM_HINTS: the input hint (TRUE when absent, as ICCCM says) and urgency. */
static gboolean read_wm_hints(TandemX11 *x, TxWindow *w) {
  uint32_t n;
  g_autofree uint32_t *v = tx_property(x, w->xid, XCB_ATOM_WM_HINTS,
                                       XCB_ATOM_WM_HINTS, 9, &n, NULL);
  w->input_hint = !(v && n >= 2 && (v[0] & ICCCM_INPUT_HINT) && !v[1]);
  return v && n >= 1 && (v[0] & ICCCM_URGENCY);
}

static const struct {
  size_t atom_offset;
  uint32_t bit;
} state_atoms[] = {
#define S(field, bit) {G_STRUCT_OFFSET(TandemX11, atom.field), bit}
    S(st_max_horz, TP_STATE_MAXIMIZED_HORZ), S(st_max_vert,
                                               TP_STATE_MAXIMIZED_VERT),
    S(st_fullscreen, TP_STATE_FULLSCREEN), S(st_hidden, TP_STATE_HIDDEN),
    S(st_attention, TP_STATE_DEMANDS_ATTENTION), S(st_modal, TP_STATE_MODAL),
    S(st_above, TP_STATE_ABOVE), S(st_below, TP_STATE_BELOW),
    S(st_sticky, TP_STATE_STICKY), S(st_skip_taskbar, TP_STATE_SKIP_TASKBAR),
#undef S
};

static xcb_atom_t atom_at(TandemX11 *x, size_t offset) {
  return G_STRUCT_MEMBER(xcb_atom_t, x, offset);
}

xcb_atom_t tx_state_atom(TandemX11 *x, uint32_t bit) {
  for (size_t k = 0; k < G_N_ELEMENTS(state_atoms); k++)
    if (state_atoms[k].bit == bit)
      return atom_at(x, state_atoms[k].atom_offset);
  return XCB_NONE;
}

uint32_t tx_state_bit(TandemX11 *x, xcb_atom_t atom) {
  for (size_t k = 0; atom != XCB_NONE && k < G_N_ELEMENTS(state_atoms); k++)
    if (atom == atom_at(x, state_atoms[k].atom_offset))
      return state_atoms[k].bit;
  return 0;
}

static uint32_t net_states(TandemX11 *x, TxWindow *w) {
  uint32_t n, bits = 0;
  g_autofree xcb_atom_t *a = tx_property(x, w->xid, x->atom.net_wm_state,
                                         XCB_ATOM_ATOM, 64, &n, NULL);
  for (uint32_t i = 0; a && i < n; i++)
    for (size_t k = 0; k < G_N_ELEMENTS(state_atoms); k++)
      if (a[i] == atom_at(x, state_atoms[k].atom_offset))
        bits |= state_atoms[k].bit;
  return bits;
}

void tx_write_net_states(TandemX11 *x, TxWindow *w, uint32_t bits) {
  xcb_atom_t list[G_N_ELEMENTS(state_atoms)];
  uint32_t n = 0;
  for (size_t k = 0; k < G_N_ELEMENTS(state_atoms); k++)
    if (bits & state_atoms[k].bit)
      list[n++] = atom_at(x, state_atoms[k].atom_offset);
  xcb_change_property(x->c, XCB_PROP_MODE_REPLACE, w->xid,
                      x->atom.net_wm_state, XCB_ATOM_ATOM, 32, n, list);
}

uint32_t tx_window_states(TandemX11 *x, TxWindow *w) {
  gboolean urgent = read_wm_hints(x, w);
  uint32_t bits = net_states(x, w) & ~(uint32_t)TP_STATE_HIDDEN;
  if (urgent)
    bits |= TP_STATE_DEMANDS_ATTENTION;
  if (w->iconic)
    bits |= TP_STATE_HIDDEN;
  return bits;
}

void tx_send_states(TandemX11 *x, TxWindow *w, gboolean always) {
  uint32_t bits = tx_window_states(x, w);
  if (bits == w->states && !always)
    return;
  w->states = bits;
  if (!w->announced) /* CREATE will be followed by the states */
    return;
  TpMessage m = {.type = TP_MSG_WINDOW_STATE, .window = w->id};
  m.u.state.states = bits;
  tx_send(x, &m);
}

uint8_t tx_read_type(TandemX11 *x, TxWindow *w) {
  const struct {
    xcb_atom_t atom;
    uint8_t type;
  } types[] = {
      {x->atom.t_normal, TP_WINDOW_TYPE_NORMAL},
      {x->atom.t_dialog, TP_WINDOW_TYPE_DIALOG},
      {x->atom.t_utility, TP_WINDOW_TYPE_UTILITY},
      {x->atom.t_toolbar, TP_WINDOW_TYPE_TOOLBAR},
      {x->atom.t_splash, TP_WINDOW_TYPE_SPLASH},
      {x->atom.t_menu, TP_WINDOW_TYPE_MENU},
      {x->atom.t_dropdown, TP_WINDOW_TYPE_DROPDOWN_MENU},
      {x->atom.t_popup, TP_WINDOW_TYPE_POPUP_MENU},
      {x->atom.t_tooltip, TP_WINDOW_TYPE_TOOLTIP},
      {x->atom.t_notification, TP_WINDOW_TYPE_NOTIFICATION},
      {x->atom.t_combo, TP_WINDOW_TYPE_COMBO},
      {x->atom.t_dnd, TP_WINDOW_TYPE_DND},
  };
  uint32_t n;
  g_autofree xcb_atom_t *a = tx_property(x, w->xid, x->atom.net_wm_window_type,
                                         XCB_ATOM_ATOM, 16, &n, NULL);
  for (uint32_t i = 0; a && i < n; i++) /* the first one we know wins */
    for (size_t k = 0; k < G_N_ELEMENTS(types); k++)
      if (a[i] == types[k].atom)
        return types[k].type;
  if (w->transient_for != XCB_NONE)
    return TP_WINDOW_TYPE_DIALOG;
  return TP_WINDOW_TYPE_NORMAL;
}

void tx_read_transient(TandemX11 *x, TxWindow *w) {
  uint32_t n;
  g_autofree xcb_window_t *t = tx_property(x, w->xid, x->atom.wm_transient_for,
                                           XCB_ATOM_WINDOW, 1, &n, NULL);
  w->transient_for = t && n == 1 && t[0] != w->xid ? t[0] : XCB_NONE;
}

