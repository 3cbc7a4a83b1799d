/* x11-delete-window WINDOW: asks a window to close the ICCCM way (the
 * WM_DELETE_WINDOW message a window manager's close button sends), for
 * tests on an X display without a window manager. */
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
  if (argc != 2) {
    fprintf(stderr, "usage: x11-delete-window WINDOW-ID\n");
    return 2;
  }
  xcb_connection_t *c = xcb_connect(NULL, NULL);
  if (xcb_connection_has_error(c)) {
    fprintf(stderr, "x11-delete-window: cannot open the display\n");
    return 1;
  }
  xcb_window_t w = (xcb_window_t)strtoul(argv[1], NULL, 0);
  xcb_client_message_event_t ev = {.response_type = XCB_CLIENT_MESSAGE,
                                   .format = 32, .window = w,
                                   .type = atom(c, "WM_PROTOCOLS")};
  ev.data.data32[0] = atom(c, "WM_DELETE_WINDOW");
  ev.data.data32[1] = XCB_CURRENT_TIME;
  xcb_send_event(c, 0, w, XCB_EVENT_MASK_NO_EVENT, (const char *)&ev);
  /* A round trip: the message has reached the server. */
  free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
  xcb_disconnect(c);
  return 0;
}
