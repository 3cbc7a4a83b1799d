/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input from the host, injected with XTest at the window the host says.
 *
 * Checking that the window has focus and injecting are one step: both
 * happen with the X server grabbed, and XTest delivers the event while
 * the request is processed, so no other client can move focus, close the
 * window or take its place in between. A key whose window does not hold
 * focus then (and cannot be given it) is dropped and counted, never typed
 * elsewhere; a button whose window is not under the pointer likewise.
 *
 * Keys are mapped by keysym when the guest's keymap differs; KEY_STATE
 * releases what the host no longer holds and presses the modifiers it
 * holds, into the window it names. */
#include "tandem-x11-private.h"

#include <stdlib.h>
#include <string.h>

#define DROP_LOG_INTERVAL_US G_USEC_PER_SEC

static void load_keymap(TandemX11 *x) {
  const xcb_setup_t *setup = xcb_get_setup(x->c);
  uint8_t min = setup->min_keycode, max = setup->max_keycode;
  xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
      x->c, xcb_get_keyboard_mapping(x->c, min, (uint8_t)(max - min + 1)),
      NULL);
  g_clear_pointer(&x->keysyms, g_free);
  x->keymap = (TxKeymap){0};
  if (!r)
    return;
  int n = xcb_get_keyboard_mapping_keysyms_length(r);
  if (r->keysyms_per_keycode &&
      n == (max - min + 1) * r->keysyms_per_keycode) {
    x->keysyms = g_memdup2(xcb_get_keyboard_mapping_keysyms(r),
                           (size_t)n * sizeof(uint32_t));
    x->keymap = (TxKeymap){x->keysyms, min, max, r->keysyms_per_keycode};
  }
  free(r);
}

/* The modifier mapping, and which of its keys may be pressed for the
 * host. */
static void load_modifiers(TandemX11 *x) {
  xcb_get_modifier_mapping_reply_t *r = xcb_get_modifier_mapping_reply(
      x->c, xcb_get_modifier_mapping(x->c), NULL);
  uint32_t per = r ? r->keycodes_per_modifier : 0;
  gboolean ok = r && xcb_get_modifier_mapping_keycodes_length(r) ==
                         (int)(8 * per);
  g_clear_pointer(&x->modmap, g_free);
  x->mod_per = ok ? per : 0;
  if (ok)
    x->modmap = g_memdup2(xcb_get_modifier_mapping_keycodes(r), 8 * per);
  tx_held_modifiers(&x->keymap, x->modmap, x->mod_per, x->held_mods);
  free(r);
}

void tx_input_init(TandemX11 *x) {
  load_keymap(x);
  load_modifiers(x);
}

void tx_input_fini(TandemX11 *x) {
  g_clear_pointer(&x->keysyms, g_free);
  g_clear_pointer(&x->modmap, g_free);
}

void tx_input_keymap_changed(TandemX11 *x) {
  load_keymap(x);
  load_modifiers(x);
}

/* An event not injected because its window lacked focus (or was not
 * under the pointer): counted, logged at most once a second. */
static void dropped(TandemX11 *x, TxWindow *w, const char *what) {
  x->input_dropped++;
  gint64 now = g_get_monotonic_time();
  if (now - x->drop_log_us < DROP_LOG_INTERVAL_US)
    return;
  x->drop_log_us = now;
  g_message("x11: dropped a %s for window %u (0x%x): %s; %" G_GUINT64_FORMAT
            " input events dropped so far",
            what, w->id, w->xid,
            w->mapped ? "it does not hold the guest's focus"
                      : "it is not mapped",
            x->input_dropped);
}

static void fake(TandemX11 *x, uint8_t type, uint8_t detail, int16_t rx,
                 int16_t ry) {
  xcb_test_fake_input(x->c, type, detail, XCB_CURRENT_TIME,
                      type == XCB_MOTION_NOTIFY ? x->root : XCB_NONE, rx, ry,
                      0);
}

/* A keycode producing @keysym: an unused keycode is given it (the guest's
 * keymap has no key for it, e.g. a host layout's special character). */
static uint32_t borrow(TandemX11 *x, uint32_t keysym) {
  uint32_t kc = tx_keymap_spare(&x->keymap);
  if (!kc && x->borrowed_kc)
    kc = x->borrowed_kc; /* reuse the last one borrowed */
  if (!kc)
    return 0;
  uint32_t per = x->keymap.per;
  uint32_t *syms = g_new(uint32_t, per);
  for (uint32_t i = 0; i < per; i++)
    syms[i] = i < 2 ? keysym : 0; /* same with or without Shift */
  xcb_change_keyboard_mapping(x->c, 1, (xcb_keycode_t)kc, (uint8_t)per, syms);
  memcpy(x->keysyms + (size_t)(kc - x->keymap.min_kc) * per, syms,
         per * sizeof(uint32_t));
  g_free(syms);
  x->borrowed_kc = kc;
  return kc;
}

/* The server is grabbed and focus is on @w's application: its modifiers
 * are made the host's (@mods, from the event being injected), so a key
 * typed with Shift arrives with Shift, and one typed without Alt never
 * arrives with an Alt the guest still had down. */
static void sync_modifiers(TandemX11 *x, uint32_t mods) {
  xcb_query_pointer_reply_t *r =
      xcb_query_pointer_reply(x->c, xcb_query_pointer(x->c, x->root), NULL);
  if (!r)
    return;
  uint8_t press[32], release[32];
  tx_modifier_sync(mods, r->mask & 0xffu, x->modmap, x->mod_per,
                   x->held_mods, press, release);
  free(r);
  for (uint32_t kc = TP_MIN_KEYCODE; kc <= TP_MAX_KEYCODE; kc++) {
    if (release[kc / 8] & (1u << (kc % 8))) {
      fake(x, XCB_KEY_RELEASE, (uint8_t)kc, 0, 0); /* ignored if up */
      x->host_to_guest[kc] = 0;
    }
    if (press[kc / 8] & (1u << (kc % 8))) {
      /* Let go when the host's key with this code comes up, or at the
       * next event without the modifier. */
      x->host_to_guest[kc] = (uint8_t)kc;
      fake(x, XCB_KEY_PRESS, (uint8_t)kc, 0, 0);
    }
  }
}

/* The server is grabbed. */
static void key(TandemX11 *x, TxWindow *w, const TpKey *k) {
  uint32_t hk = k->keycode;
  if (k->pressed) {
    uint32_t gk = tx_keymap_find(&x->keymap, hk, k->keysym);
    if (!gk)
      gk = borrow(x, k->keysym);
    if (!gk) {
      g_debug("x11: no key for keysym 0x%x", k->keysym);
      return;
    }
    if (!tx_focus_hold(x, w)) {
      dropped(x, w, "key");
      return;
    }
    sync_modifiers(x, k->modifiers);
    x->host_to_guest[hk] = (uint8_t)gk;
    fake(x, XCB_KEY_PRESS, (uint8_t)gk, 0, 0);
    return;
  }
  /* Release exactly what the press pressed; nothing if it was dropped. */
  uint32_t gk = x->host_to_guest[hk];
  x->host_to_guest[hk] = 0;
  if (!gk)
    return;
  if (!tx_focus_hold(x, w))
    tx_focus_to_stub(x); /* the key must come up: nowhere, not elsewhere */
  fake(x, XCB_KEY_RELEASE, (uint8_t)gk, 0, 0);
}

/* The server is grabbed. Releases every key the guest holds that the host
 * does not (where focus is: the window that got the presses), then presses
 * the modifiers the host holds and the guest does not, in @w only. */
static void key_state(TandemX11 *x, TxWindow *w, const TpKeyState *s) {
  uint8_t want[32] = {0};
  for (uint32_t kc = TP_MIN_KEYCODE; kc <= TP_MAX_KEYCODE; kc++) {
    if (s->keys[kc / 8] & (1u << (kc % 8))) {
      uint32_t gk = x->host_to_guest[kc] ? x->host_to_guest[kc] : kc;
      want[gk / 8] |= (uint8_t)(1u << (gk % 8));
    } else {
      x->host_to_guest[kc] = 0;
    }
  }
  xcb_query_keymap_reply_t *r =
      xcb_query_keymap_reply(x->c, xcb_query_keymap(x->c), NULL);
  if (!r)
    return;
  uint8_t release[32], press[32];
  tx_key_state_plan(want, r->keys, x->held_mods, release, press);
  free(r);
  gboolean any_press = FALSE;
  for (uint32_t kc = TP_MIN_KEYCODE; kc <= TP_MAX_KEYCODE; kc++) {
    if (release[kc / 8] & (1u << (kc % 8)))
      fake(x, XCB_KEY_RELEASE, (uint8_t)kc, 0, 0);
    /* Only a modifier pressed on the host under its own keycode (one
     * mapped through a keysym is down already). */
    if ((press[kc / 8] & (1u << (kc % 8))) && !x->host_to_guest[kc])
      any_press = TRUE;
  }
  if (!any_press)
    return;
  if (!tx_focus_hold(x, w)) {
    dropped(x, w, "held modifier");
    return;
  }
  for (uint32_t kc = TP_MIN_KEYCODE; kc <= TP_MAX_KEYCODE; kc++)
    if ((press[kc / 8] & (1u << (kc % 8))) && !x->host_to_guest[kc]) {
      x->host_to_guest[kc] = (uint8_t)kc;
      fake(x, XCB_KEY_PRESS, (uint8_t)kc, 0, 0);
    }
}

static void pointer_to(TandemX11 *x, TxWindow *w, int32_t px, int32_t py) {
  int32_t rx = w->x + (int32_t)w->border + px;
  int32_t ry = w->y + (int32_t)w->border + py;
  rx = CLAMP(rx, 0, (int32_t)x->screen->width_in_pixels - 1);
  ry = CLAMP(ry, 0, (int32_t)x->screen->height_in_pixels - 1);
  fake(x, XCB_MOTION_NOTIFY, 0, (int16_t)rx, (int16_t)ry);
}

/* Whether a button pressed now goes to @w's application: the pointer is
 * on its root child (its frame), or on a popup of the same X client. */
static gboolean pointer_on(TandemX11 *x, TxWindow *w) {
  xcb_query_pointer_reply_t *r =
      xcb_query_pointer_reply(x->c, xcb_query_pointer(x->c, x->root), NULL);
  xcb_window_t child = r && r->same_screen ? r->child : XCB_NONE;
  free(r);
  if (child == XCB_NONE)
    return FALSE;
  if (child == w->frame)
    return TRUE;
  TxWindow *o = g_hash_table_lookup(x->by_frame, GUINT_TO_POINTER(child));
  return o && o->override_redirect && tx_same_client(x, o->xid, w->xid);
}

/* The server is grabbed. */
static void button(TandemX11 *x, TxWindow *w, const TpButton *b) {
  uint32_t bit = 1u << ((b->button - 1) & 31);
  if (w->mapped)
    pointer_to(x, w, b->x, b->y);
  if (!b->pressed) {
    /* The press's implicit grab takes the release where the press went. */
    if (x->buttons_down & bit)
      fake(x, XCB_BUTTON_RELEASE, (uint8_t)b->button, 0, 0);
    x->buttons_down &= ~bit;
    return;
  }
  if (!w->mapped)
    return;
  tx_window_raise(x, w);
  /* A window that takes no focus still takes clicks, without modifiers. */
  gboolean focused = tx_focus_hold(x, w);
  if (!pointer_on(x, w)) {
    dropped(x, w, "button");
    return;
  }
  if (focused)
    sync_modifiers(x, b->modifiers); /* Shift-click, Ctrl-click */
  x->buttons_down |= bit;
  fake(x, XCB_BUTTON_PRESS, (uint8_t)b->button, 0, 0);
}

static void click(TandemX11 *x, uint8_t button, int32_t times) {
  for (int32_t i = 0; i < times; i++) {
    fake(x, XCB_BUTTON_PRESS, button, 0, 0);
    fake(x, XCB_BUTTON_RELEASE, button, 0, 0);
  }
}

/* The server is grabbed. */
static void scroll(TandemX11 *x, TxWindow *w, const TpScroll *s) {
  int32_t dx = s->discrete_x, dy = s->discrete_y;
  pointer_to(x, w, s->x, s->y);
  if (!pointer_on(x, w)) {
    dropped(x, w, "scroll");
    return;
  }
  if (tx_focus_is_on(x, w)) /* scrolling never moves focus */
    sync_modifiers(x, s->modifiers); /* Ctrl-scroll zooms */
  if (!dx && s->smooth_x)
    dx = tx_scroll_clicks(&x->scroll_acc_x, s->smooth_x);
  if (!dy && s->smooth_y)
    dy = tx_scroll_clicks(&x->scroll_acc_y, s->smooth_y);
  dx = CLAMP(dx, -64, 64);
  dy = CLAMP(dy, -64, 64);
  /* Buttons 4/5 scroll up/down, 6/7 left/right (the core protocol's way,
   * which every X toolkit understands). */
  click(x, dy < 0 ? 4 : 5, ABS(dy));
  click(x, dx < 0 ? 6 : 7, ABS(dx));
}

void tx_input_handle(TandemX11 *x, TxWindow *w, const TpMessage *m) {
  switch (m->type) {
  case TP_MSG_MOTION:
    if (w->mapped)
      pointer_to(x, w, m->u.motion.x, m->u.motion.y);
    return;
  case TP_MSG_CROSSING:
    if (w->mapped && m->u.crossing.enter)
      pointer_to(x, w, m->u.crossing.x, m->u.crossing.y);
    return;
  case TP_MSG_KEY:
  case TP_MSG_KEY_STATE:
  case TP_MSG_BUTTON:
  case TP_MSG_SCROLL:
    break;
  default:
    return;
  }
  /* Check and inject as one step: no other client runs in between. */
  xcb_grab_server(x->c);
  switch (m->type) {
  case TP_MSG_KEY:
    key(x, w, &m->u.key);
    break;
  case TP_MSG_KEY_STATE:
    key_state(x, w, &m->u.key_state);
    break;
  case TP_MSG_BUTTON:
    button(x, w, &m->u.button);
    break;
  case TP_MSG_SCROLL:
    if (w->mapped)
      scroll(x, w, &m->u.scroll);
    break;
  default:
    break;
  }
  xcb_ungrab_server(x->c);
}

void tx_input_key_for_gone(TandemX11 *x, const TpKey *k) {
  uint32_t gk = x->host_to_guest[k->keycode];
  if (k->pressed || !gk)
    return;
  /* Its window is gone: the key comes up, with focus nowhere. */
  x->host_to_guest[k->keycode] = 0;
  xcb_grab_server(x->c);
  tx_focus_to_stub(x);
  fake(x, XCB_KEY_RELEASE, (uint8_t)gk, 0, 0);
  xcb_ungrab_server(x->c);
}
