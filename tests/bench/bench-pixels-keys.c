/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-pixels: the user's keys, through XTEST on an X display (the
 * host's, where Tandem's proxies are, or Xpra's, whose client here has no
 * keyboard), and the window titles there. */
#include "bench-pixels.h"

#include <stdlib.h>
#include <string.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

struct PxKeys {
  xcb_connection_t *c;
  xcb_window_t root;
  xcb_keycode_t keycode;
  guint taps;
};

void px_keys_free(PxKeys *k) {
  if (!k)
    return;
  if (k->c)
    xcb_disconnect(k->c);
  g_free(k);
}

/* The first keycode whose unshifted symbol is @keysym, 0: none. */
static xcb_keycode_t find_keycode(xcb_connection_t *c, guint32 keysym) {
  const xcb_setup_t *setup = xcb_get_setup(c);
  xcb_keycode_t min = setup->min_keycode, max = setup->max_keycode;
  xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
      c, xcb_get_keyboard_mapping(c, min, (uint8_t)(max - min + 1)), NULL);
  if (!r)
    return 0;
  const xcb_keysym_t *syms = xcb_get_keyboard_mapping_keysyms(r);
  int per = r->keysyms_per_keycode;
  xcb_keycode_t found = 0;
  for (int kc = min; per > 0 && kc <= max && !found; kc++)
    if (syms[(kc - min) * per] == keysym)
      found = (xcb_keycode_t)kc;
  free(r);
  return found;
}

PxKeys *px_keys_new(const char *display, guint32 keysym, GError **error) {
  PxKeys *k = g_new0(PxKeys, 1);
  k->c = xcb_connect(display, NULL);
  if (xcb_connection_has_error(k->c)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot open %s",
                display);
    px_keys_free(k);
    return NULL;
  }
  k->root = xcb_setup_roots_iterator(xcb_get_setup(k->c)).data->root;
  const xcb_query_extension_reply_t *ext =
      xcb_get_extension_data(k->c, &xcb_test_id);
  if (!ext || !ext->present) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "%s has no XTEST", display);
    px_keys_free(k);
    return NULL;
  }
  k->keycode = find_keycode(k->c, keysym);
  if (!k->keycode) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "no key of %s's keymap gives keysym 0x%x", display, keysym);
    px_keys_free(k);
    return NULL;
  }
  return k;
}

void px_keys_focus(PxKeys *k, guint32 window) {
  xcb_set_input_focus(k->c, XCB_INPUT_FOCUS_PARENT, window, XCB_CURRENT_TIME);
  xcb_flush(k->c);
}

void px_keys_tap(PxKeys *k) {
  xcb_test_fake_input(k->c, XCB_KEY_PRESS, k->keycode, XCB_CURRENT_TIME,
                      XCB_NONE, 0, 0, 0);
  xcb_test_fake_input(k->c, XCB_KEY_RELEASE, k->keycode, XCB_CURRENT_TIME,
                      XCB_NONE, 0, 0, 0);
  xcb_flush(k->c);
  k->taps++;
}

guint px_keys_count(const PxKeys *k) { return k ? k->taps : 0; }

/* A window under @w, @depth levels down at most, named with @text?
 * (Xpra's server keeps the windows it manages in frames of its own.) */
static gboolean named_below(PxKeys *k, xcb_window_t w, const char *text,
                            int depth) {
  xcb_query_tree_reply_t *tree =
      xcb_query_tree_reply(k->c, xcb_query_tree(k->c, w), NULL);
  if (!tree)
    return FALSE;
  const xcb_window_t *kids = xcb_query_tree_children(tree);
  int n = xcb_query_tree_children_length(tree);
  gboolean found = FALSE;
  for (int i = 0; i < n && !found; i++) {
    xcb_get_property_reply_t *p = xcb_get_property_reply(
        k->c, xcb_get_property(k->c, 0, kids[i], XCB_ATOM_WM_NAME,
                               XCB_GET_PROPERTY_TYPE_ANY, 0, 256),
        NULL);
    if (p && p->format == 8) {
      g_autofree char *name = g_strndup(xcb_get_property_value(p),
                                        xcb_get_property_value_length(p));
      found = strstr(name, text) != NULL;
    }
    free(p);
    if (!found && depth > 1)
      found = named_below(k, kids[i], text, depth - 1);
  }
  free(tree);
  return found;
}

gboolean px_keys_title_shown(PxKeys *k, const char *text) {
  return named_below(k, k->root, text, 3);
}
