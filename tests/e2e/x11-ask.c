/* SPDX-License-Identifier: GPL-2.0-or-later */
/* x11-ask close|fullscreen WINDOW: asks a window (or, for fullscreen, the
 * window manager about it) what a user's click would, for tests on an X
 * display without a window manager: ICCCM WM_DELETE_WINDOW to close it,
 * an EWMH _NET_WM_STATE request as its application would send to go full
 * screen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xcb/xcb.h>

static xcb_atom_t atom(xcb_connection_t *c, const char *name) {
  xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(
      c, xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
  xcb_atom_t a = r ? r->atom : XCB_NONE;
  free(r);
  return a;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "close") && strcmp(argv[1], "fullscreen"))) {
    fprintf(stderr, "usage: x11-ask close|fullscreen WINDOW-ID\n");
    return 2;
  }
  xcb_connection_t *c = xcb_connect(NULL, NULL);
  if (xcb_connection_has_error(c)) {
    fprintf(stderr, "x11-ask: cannot open the display\n");
    return 1;
  }
  xcb_screen_t *s = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
  xcb_window_t w = (xcb_window_t)strtoul(argv[2], NULL, 0);
  xcb_client_message_event_t ev = {.response_type = XCB_CLIENT_MESSAGE,
                                   .format = 32, .window = w};
  if (!strcmp(argv[1], "close")) {
    ev.type = atom(c, "WM_PROTOCOLS");
    ev.data.data32[0] = atom(c, "WM_DELETE_WINDOW");
    ev.data.data32[1] = XCB_CURRENT_TIME;
    xcb_send_event(c, 0, w, XCB_EVENT_MASK_NO_EVENT, (const char *)&ev);
  } else {
    ev.type = atom(c, "_NET_WM_STATE");
    ev.data.data32[0] = 1; /* add */
    ev.data.data32[1] = atom(c, "_NET_WM_STATE_FULLSCREEN");
    ev.data.data32[3] = 1; /* a normal application */
    xcb_send_event(c, 0, s->root,
                   XCB_EVENT_MASK_SUBSTRUCTURE_REDIRECT |
                       XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY,
                   (const char *)&ev);
  }
  /* A round trip: the message has reached the server. */
  free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
  xcb_disconnect(c);
  return 0;
}
