/* tandem-bench-keys: guest windows that record the keys they receive, for
 * bench-proxy's focus runs.
 *
 *   tandem-bench-keys [--windows N] [--name PREFIX] [--out FILE]
 *
 * Opens N (default 3, at most 16) top-level windows of 240x160, titled
 * and named PREFIX-1 .. PREFIX-N (default "keys"), WM_CLASS
 * "tandem-bench-keys", "TandemBenchKeys", no WM_HINTS (so they take focus
 * the ICCCM "passive" way: SetInputFocus). Once all are mapped it writes
 * "ready", then one line per key press a window receives:
 *     NAME KEYCODE
 * to standard output (or FILE), flushed line by line. One client holds all
 * the windows so that the lines come out in the order the X server
 * delivered the keys.
 *
 * Runs until killed (every line is already written) or until every
 * window was closed (WM_DELETE_WINDOW). Plain C, libxcb only: it also runs inside the
 * guest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xcb/xcb.h>

#define MAX_WINDOWS 16
#define WIDTH 240
#define HEIGHT 160

static void die(const char *what) {
  fprintf(stderr, "tandem-bench-keys: %s\n", what);
  exit(1);
}

static xcb_atom_t atom(xcb_connection_t *c, const char *name) {
  xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(
      c, xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
  xcb_atom_t a = r ? r->atom : XCB_ATOM_NONE;
  free(r);
  return a;
}

static void usage(void) {
  fprintf(stderr, "usage: tandem-bench-keys [--windows N] [--name PREFIX] "
                  "[--out FILE]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int n = 3;
  const char *prefix = "keys", *out_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc)
      usage();
    if (!strcmp(argv[i], "--windows"))
      n = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--name"))
      prefix = argv[i + 1];
    else if (!strcmp(argv[i], "--out"))
      out_path = argv[i + 1];
    else
      usage();
    i++;
  }
  if (n < 1 || n > MAX_WINDOWS || strlen(prefix) > 64)
    usage();
  FILE *out = out_path ? fopen(out_path, "a") : stdout;
  if (!out)
    die("cannot open the output file");
  setvbuf(out, NULL, _IOLBF, 0);

  int screen_no;
  xcb_connection_t *c = xcb_connect(NULL, &screen_no);
  if (xcb_connection_has_error(c))
    die("cannot open the display");
  xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(c));
  for (int i = 0; i < screen_no; i++)
    xcb_screen_next(&it);
  xcb_screen_t *screen = it.data;
  xcb_atom_t wm_protocols = atom(c, "WM_PROTOCOLS");
  xcb_atom_t wm_delete = atom(c, "WM_DELETE_WINDOW");
  xcb_atom_t net_wm_name = atom(c, "_NET_WM_NAME");
  xcb_atom_t utf8 = atom(c, "UTF8_STRING");

  xcb_window_t win[MAX_WINDOWS];
  char names[MAX_WINDOWS][80];
  int mapped = 0, open_windows = n;
  static const char wm_class[] = "tandem-bench-keys\0TandemBenchKeys";
  static const uint32_t colours[] = {0xd04040, 0x40a040, 0x4060d0, 0xc0a020};
  for (int i = 0; i < n; i++) {
    snprintf(names[i], sizeof(names[i]), "%s-%d", prefix, i + 1);
    win[i] = xcb_generate_id(c);
    uint32_t values[] = {colours[i % 4],
                         XCB_EVENT_MASK_KEY_PRESS |
                             XCB_EVENT_MASK_STRUCTURE_NOTIFY};
    xcb_create_window(c, XCB_COPY_FROM_PARENT, win[i], screen->root,
                      (int16_t)(20 + i * (WIDTH + 20)), 40, WIDTH, HEIGHT, 0,
                      XCB_WINDOW_CLASS_INPUT_OUTPUT, screen->root_visual,
                      XCB_CW_BACK_PIXEL | XCB_CW_EVENT_MASK, values);
    uint32_t len = (uint32_t)strlen(names[i]);
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, win[i], XCB_ATOM_WM_NAME,
                        XCB_ATOM_STRING, 8, len, names[i]);
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, win[i], net_wm_name, utf8,
                        8, len, names[i]);
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, win[i], XCB_ATOM_WM_CLASS,
                        XCB_ATOM_STRING, 8, sizeof(wm_class), wm_class);
    xcb_change_property(c, XCB_PROP_MODE_REPLACE, win[i], wm_protocols,
                        XCB_ATOM_ATOM, 32, 1, &wm_delete);
    xcb_map_window(c, win[i]);
  }
  xcb_flush(c);

  xcb_generic_event_t *ev;
  while (open_windows > 0 && (ev = xcb_wait_for_event(c))) {
    switch (ev->response_type & 0x7f) {
    case XCB_MAP_NOTIFY:
      if (++mapped == n)
        fprintf(out, "ready\n");
      break;
    case XCB_KEY_PRESS: {
      xcb_key_press_event_t *k = (xcb_key_press_event_t *)ev;
      for (int i = 0; i < n; i++)
        if (k->event == win[i])
          fprintf(out, "%s %u\n", names[i], k->detail);
      break;
    }
    case XCB_CLIENT_MESSAGE: {
      xcb_client_message_event_t *m = (xcb_client_message_event_t *)ev;
      if (m->type == wm_protocols && m->data.data32[0] == wm_delete) {
        xcb_destroy_window(c, m->window);
        xcb_flush(c);
        open_windows--;
      }
      break;
    }
    default:
      break;
    }
    free(ev);
  }
  xcb_disconnect(c);
  if (out != stdout)
    fclose(out);
  return 0;
}
