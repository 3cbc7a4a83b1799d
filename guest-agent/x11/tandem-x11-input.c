/* Input from the host, injected with XTest at the window the host says.
 * Focus is put on that window first; keys are mapped by keysym when the
 * guest's keymap differs; KEY_STATE releases what the host no longer
 * holds. */
#include "tandem-x11-private.h"

#include <stdlib.h>
#include <string.h>

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

void tx_input_init(TandemX11 *x) { load_keymap(x); }

void tx_input_fini(TandemX11 *x) { g_clear_pointer(&x->keysyms, g_free); }

void tx_input_keymap_changed(TandemX11 *x) { load_keymap(x); }

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

static void key(TandemX11 *x, const TpKey *k) {
  uint32_t hk = k->keycode;
  uint32_t gk;
  if (k->pressed) {
    gk = tx_keymap_find(&x->keymap, hk, k->keysym);
    if (!gk)
      gk = borrow(x, k->keysym);
    if (!gk) {
      g_debug("x11: no key for keysym 0x%x", k->keysym);
      return;
    }
    x->host_to_guest[hk] = (uint8_t)gk;
    fake(x, XCB_KEY_PRESS, (uint8_t)gk, 0, 0);
  } else {
    /* Release exactly what the press pressed. */
    gk = x->host_to_guest[hk] ? x->host_to_guest[hk] : hk;
    x->host_to_guest[hk] = 0;
    fake(x, XCB_KEY_RELEASE, (uint8_t)gk, 0, 0);
  }
}

/* Releases every key the guest holds that the host does not. */
static void key_state(TandemX11 *x, const TpKeyState *s) {
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
  for (uint32_t kc = TP_MIN_KEYCODE; kc <= TP_MAX_KEYCODE; kc++) {
    gboolean down = r->keys[kc / 8] & (1u << (kc % 8));
    if (down && !(want[kc / 8] & (1u << (kc % 8))))
      fake(x, XCB_KEY_RELEASE, (uint8_t)kc, 0, 0);
  }
  free(r);
}

static void pointer_to(TandemX11 *x, TxWindow *w, int32_t px, int32_t py) {
  int32_t rx = w->x + (int32_t)w->border + px;
  int32_t ry = w->y + (int32_t)w->border + py;
  rx = CLAMP(rx, 0, (int32_t)x->screen->width_in_pixels - 1);
  ry = CLAMP(ry, 0, (int32_t)x->screen->height_in_pixels - 1);
  fake(x, XCB_MOTION_NOTIFY, 0, (int16_t)rx, (int16_t)ry);
}

static void click(TandemX11 *x, uint8_t button, int32_t times) {
  for (int32_t i = 0; i < times; i++) {
    fake(x, XCB_BUTTON_PRESS, button, 0, 0);
    fake(x, XCB_BUTTON_RELEASE, button, 0, 0);
  }
}

static void scroll(TandemX11 *x, TxWindow *w, const TpScroll *s) {
  int32_t dx = s->discrete_x, dy = s->discrete_y;
  pointer_to(x, w, s->x, s->y);
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
  if (!w->mapped) /* nothing to type into (or a stale message) */
    return;
  switch (m->type) {
  case TP_MSG_KEY:
    if (tx_focus_ensure(x, w))
      key(x, &m->u.key);
    break;
  case TP_MSG_KEY_STATE:
    key_state(x, &m->u.key_state);
    break;
  case TP_MSG_BUTTON:
    if (m->u.button.pressed) {
      tx_window_raise(x, w);
      tx_focus_ensure(x, w);
    }
    pointer_to(x, w, m->u.button.x, m->u.button.y);
    fake(x, m->u.button.pressed ? XCB_BUTTON_PRESS : XCB_BUTTON_RELEASE,
         (uint8_t)m->u.button.button, 0, 0);
    break;
  case TP_MSG_MOTION:
    pointer_to(x, w, m->u.motion.x, m->u.motion.y);
    break;
  case TP_MSG_SCROLL:
    scroll(x, w, &m->u.scroll);
    break;
  case TP_MSG_CROSSING:
    if (m->u.crossing.enter)
      pointer_to(x, w, m->u.crossing.x, m->u.crossing.y);
    break;
  default:
    break;
  }
}
