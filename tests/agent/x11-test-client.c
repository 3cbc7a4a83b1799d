/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small X client for the agent's tests: a main window with a UTF-8
 * title (holding a bidi override the host must strip), WM_CLASS, two icon
 * sizes, a minimum size and WM_DELETE_WINDOW; a transient dialog; an
 * override-redirect tooltip; then it asks for attention. Each window is
 * one solid colour. Exits when asked to close its main window. */
#include <stdlib.h>
#include <string.h>
#include <xcb/xcb.h>

static xcb_connection_t *c;

static xcb_atom_t atom(const char *name) {
  xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(
      c, xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
  xcb_atom_t a = r ? r->atom : XCB_NONE;
  free(r);
  return a;
}

static void prop(xcb_window_t w, const char *name, xcb_atom_t type,
                 uint8_t format, uint32_t n, const void *data) {
  xcb_change_property(c, XCB_PROP_MODE_REPLACE, w, atom(name), type, format,
                      n, data);
}

static xcb_window_t make(xcb_screen_t *s, int16_t x, int16_t y, uint16_t w,
                         uint16_t h, uint32_t colour, int override) {
  xcb_window_t win = xcb_generate_id(c);
  uint32_t v[3] = {colour, (uint32_t)override, XCB_EVENT_MASK_EXPOSURE};
  xcb_create_window(c, XCB_COPY_FROM_PARENT, win, s->root, x, y, w, h, 0,
                    XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual,
                    XCB_CW_BACK_PIXEL | XCB_CW_OVERRIDE_REDIRECT |
                        XCB_CW_EVENT_MASK,
                    v);
  return win;
}

int main(void) {
  c = xcb_connect(NULL, NULL);
  if (xcb_connection_has_error(c))
    return 1;
  xcb_screen_t *s = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
  xcb_atom_t utf8 = atom("UTF8_STRING"), wm_protocols = atom("WM_PROTOCOLS");
  xcb_atom_t wm_delete = atom("WM_DELETE_WINDOW");

  xcb_window_t main_w = make(s, 0, 0, 300, 200, 0x3366cc, 0);
  const char title[] = "Main \xe2\x80\xae" "evil title"; /* U+202E */
  prop(main_w, "_NET_WM_NAME", utf8, 8, sizeof(title) - 1, title);
  const char klass[] = "tclient\0TClient";
  prop(main_w, "WM_CLASS", XCB_ATOM_STRING, 8, sizeof(klass), klass);
  static uint32_t icon[2 + 16 * 16 + 2 + 64 * 64];
  icon[0] = icon[1] = 16;
  icon[2 + 256] = icon[2 + 256 + 1] = 64;
  for (int i = 0; i < 64 * 64; i++)
    icon[2 + 256 + 2 + i] = 0xff00ff00u;
  prop(main_w, "_NET_WM_ICON", XCB_ATOM_CARDINAL, 32,
       sizeof(icon) / sizeof(icon[0]), icon);
  uint32_t hints[18] = {1u << 4, 0, 0, 0, 0, 200, 100};
  prop(main_w, "WM_NORMAL_HINTS", XCB_ATOM_WM_SIZE_HINTS, 32, 18, hints);
  prop(main_w, "WM_PROTOCOLS", XCB_ATOM_ATOM, 32, 1, &wm_delete);
  xcb_map_window(c, main_w);

  xcb_window_t dialog = make(s, 0, 0, 120, 80, 0xcc3333, 0);
  const char dtitle[] = "Dialog";
  prop(dialog, "_NET_WM_NAME", utf8, 8, sizeof(dtitle) - 1, dtitle);
  prop(dialog, "WM_TRANSIENT_FOR", XCB_ATOM_WINDOW, 32, 1, &main_w);
  xcb_atom_t type_dialog = atom("_NET_WM_WINDOW_TYPE_DIALOG");
  prop(dialog, "_NET_WM_WINDOW_TYPE", XCB_ATOM_ATOM, 32, 1, &type_dialog);
  xcb_map_window(c, dialog);

  xcb_window_t tip = make(s, 40, 220, 90, 20, 0xffffcc, 1);
  xcb_atom_t type_tip = atom("_NET_WM_WINDOW_TYPE_TOOLTIP");
  prop(tip, "_NET_WM_WINDOW_TYPE", XCB_ATOM_ATOM, 32, 1, &type_tip);
  xcb_map_window(c, tip);

  /* "Look at me": it may ask, it must not get host focus by asking. */
  xcb_client_message_event_t ev = {.response_type = XCB_CLIENT_MESSAGE,
                                   .format = 32, .window = main_w,
                                   .type = atom("_NET_ACTIVE_WINDOW")};
  ev.data.data32[0] = 1;
  xcb_send_event(c, 0, s->root,
                 XCB_EVENT_MASK_SUBSTRUCTURE_REDIRECT |
                     XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY,
                 (const char *)&ev);
  xcb_flush(c);

  xcb_generic_event_t *e;
  while ((e = xcb_wait_for_event(c))) {
    if ((e->response_type & 0x7f) == XCB_CLIENT_MESSAGE) {
      xcb_client_message_event_t *cm = (xcb_client_message_event_t *)e;
      if (cm->type == wm_protocols && cm->data.data32[0] == wm_delete) {
        free(e);
        break;
      }
    }
    free(e);
  }
  xcb_disconnect(c);
  return 0;
}
