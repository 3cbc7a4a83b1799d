/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-bench-keys: guest windows that record the keys they receive, for
 * bench-proxy's focus runs and the key tests (tests/e2e/test-keys.c).
 *
 *   tandem-bench-keys [--windows N] [--name PREFIX] [--out FILE]
 *                     [--at X,Y] [--victim KEYS] [--steal MS] [--titles]
 *
 * Opens N (default 3, at most 16) top-level windows of 240x160 in a row
 * from X,Y (default 20,40), titled
 * and named PREFIX-1 .. PREFIX-N (default "keys"), WM_CLASS
 * "tandem-bench-keys", "TandemBenchKeys", no WM_HINTS (so they take focus
 * the ICCCM "passive" way: SetInputFocus). Once all are mapped it writes
 * "ready", then one line per key press a window receives:
 *     NAME KEYCODE STATE
 * (STATE: the event's modifier mask, in decimal) to standard output (or
 * FILE), flushed line by line. One client holds all the windows so that
 * the lines come out in the order the X server delivered the keys.
 *
 * The guest-side hazards of the key tests:
 *   --victim KEYS  one more window, "victim-1", below the others, which
 *                  destroys itself on its KEYS-th key press (modifier
 *                  keys not counted; an
 *                  application quitting on a key while more are coming)
 *                  and is replaced at once by "victim-2", and so on
 *   --steal MS     the first window takes the guest's focus (SetInputFocus)
 *                  every MS milliseconds, whoever has it
 *   --titles       each window's title counts its keys: "NAME: N" (what
 *                  a host sees of a guest it cannot read files of)
 *
 * Runs until killed (every line is already written) or until every
 * window was closed (WM_DELETE_WINDOW). Plain C, libxcb only: it also runs
 * inside the guest. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xcb/xcb.h>

#define MAX_WINDOWS 17 /* the windows and the victim */
#define WIDTH 240
#define HEIGHT 160

typedef struct {
  xcb_window_t id;
  char name[80];
  unsigned keys;
} Win;

typedef struct {
  xcb_connection_t *c;
  xcb_screen_t *screen;
  xcb_atom_t wm_protocols, wm_delete, net_wm_name, utf8;
  FILE *out;
  int titles;
  Win win[MAX_WINDOWS];
  int n;           /* windows in win[], the victim last if there is one */
  int victim;      /* its index, or -1 */
  unsigned victim_keys, victim_no;
  int x0, y0;
  unsigned char modifier[256]; /* keycodes bound to a modifier */
} Keys;

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
                  "[--out FILE] [--at X,Y] [--victim KEYS] [--steal MS] "
                  "[--titles]\n");
  exit(2);
}

static void set_title(Keys *k, Win *w) {
  char title[100];
  if (k->titles)
    snprintf(title, sizeof(title), "%s: %u", w->name, w->keys);
  else
    snprintf(title, sizeof(title), "%s", w->name);
  uint32_t len = (uint32_t)strlen(title);
  xcb_change_property(k->c, XCB_PROP_MODE_REPLACE, w->id, XCB_ATOM_WM_NAME,
                      XCB_ATOM_STRING, 8, len, title);
  xcb_change_property(k->c, XCB_PROP_MODE_REPLACE, w->id, k->net_wm_name,
                      k->utf8, 8, len, title);
}

static void open_window(Keys *k, Win *w, int x, int y, uint32_t colour) {
  static const char wm_class[] = "tandem-bench-keys\0TandemBenchKeys";
  w->id = xcb_generate_id(k->c);
  w->keys = 0;
  uint32_t values[] = {colour, XCB_EVENT_MASK_KEY_PRESS |
                                   XCB_EVENT_MASK_STRUCTURE_NOTIFY};
  xcb_create_window(k->c, XCB_COPY_FROM_PARENT, w->id, k->screen->root,
                    (int16_t)x, (int16_t)y, WIDTH, HEIGHT, 0,
                    XCB_WINDOW_CLASS_INPUT_OUTPUT, k->screen->root_visual,
                    XCB_CW_BACK_PIXEL | XCB_CW_EVENT_MASK, values);
  set_title(k, w);
  xcb_change_property(k->c, XCB_PROP_MODE_REPLACE, w->id, XCB_ATOM_WM_CLASS,
                      XCB_ATOM_STRING, 8, sizeof(wm_class), wm_class);
  xcb_change_property(k->c, XCB_PROP_MODE_REPLACE, w->id, k->wm_protocols,
                      XCB_ATOM_ATOM, 32, 1, &k->wm_delete);
  xcb_map_window(k->c, w->id);
}

static void open_victim(Keys *k) {
  Win *v = &k->win[k->victim];
  snprintf(v->name, sizeof(v->name), "victim-%u", ++k->victim_no);
  open_window(k, v, k->x0, k->y0 + HEIGHT + 40, 0x808080);
}

static void on_key(Keys *k, xcb_key_press_event_t *e) {
  for (int i = 0; i < k->n; i++) {
    Win *w = &k->win[i];
    if (e->event != w->id)
      continue;
    fprintf(k->out, "%s %u %u\n", w->name, e->detail, e->state);
    if (k->modifier[e->detail])
      return; /* Shift and the like are not what the user typed */
    w->keys++;
    if (i == k->victim && w->keys >= k->victim_keys) {
      xcb_destroy_window(k->c, w->id); /* more keys may be on their way */
      open_victim(k);
    } else if (k->titles) {
      set_title(k, w);
    }
    xcb_flush(k->c);
  }
}

static void load_modifiers(Keys *k) {
  xcb_get_modifier_mapping_reply_t *r = xcb_get_modifier_mapping_reply(
      k->c, xcb_get_modifier_mapping(k->c), NULL);
  if (!r)
    return;
  xcb_keycode_t *kc = xcb_get_modifier_mapping_keycodes(r);
  for (int i = 0; i < xcb_get_modifier_mapping_keycodes_length(r); i++)
    k->modifier[kc[i]] = 1;
  free(r);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  int n = 3, steal_ms = 0, x0 = 20, y0 = 40;
  long victim_keys = 0;
  const char *prefix = "keys", *out_path = NULL;
  Keys k = {.victim = -1};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--titles")) {
      k.titles = 1;
      continue;
    }
    if (i + 1 >= argc)
      usage();
    if (!strcmp(argv[i], "--windows"))
      n = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--name"))
      prefix = argv[i + 1];
    else if (!strcmp(argv[i], "--out"))
      out_path = argv[i + 1];
    else if (!strcmp(argv[i], "--at")) {
      if (sscanf(argv[i + 1], "%d,%d", &x0, &y0) != 2)
        usage();
    } else if (!strcmp(argv[i], "--victim"))
      victim_keys = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--steal"))
      steal_ms = atoi(argv[i + 1]);
    else
      usage();
    i++;
  }
  if (n < 1 || n > MAX_WINDOWS - 1 || strlen(prefix) > 64 ||
      victim_keys < 0 || victim_keys > 1000000 || steal_ms < 0 ||
      x0 < -4000 || x0 > 4000 || y0 < -4000 || y0 > 4000)
    usage();
  k.out = out_path ? fopen(out_path, "a") : stdout;
  if (!k.out)
    die("cannot open the output file");
  setvbuf(k.out, NULL, _IOLBF, 0);

  int screen_no;
  k.c = xcb_connect(NULL, &screen_no);
  if (xcb_connection_has_error(k.c))
    die("cannot open the display");
  xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(k.c));
  for (int i = 0; i < screen_no; i++)
    xcb_screen_next(&it);
  k.screen = it.data;
  k.wm_protocols = atom(k.c, "WM_PROTOCOLS");
  k.wm_delete = atom(k.c, "WM_DELETE_WINDOW");
  k.net_wm_name = atom(k.c, "_NET_WM_NAME");
  k.utf8 = atom(k.c, "UTF8_STRING");
  load_modifiers(&k);

  static const uint32_t colours[] = {0xd04040, 0x40a040, 0x4060d0, 0xc0a020};
  for (int i = 0; i < n; i++) {
    snprintf(k.win[i].name, sizeof(k.win[i].name), "%s-%d", prefix, i + 1);
    open_window(&k, &k.win[i], x0 + i * (WIDTH + 20), y0, colours[i % 4]);
  }
  k.n = n;
  k.x0 = x0;
  k.y0 = y0;
  if (victim_keys) {
    k.victim = k.n++;
    k.victim_keys = (unsigned)victim_keys;
    open_victim(&k);
  }
  xcb_flush(k.c);

  int mapped = 0, open_windows = n;
  int64_t next_steal = steal_ms ? now_ms() + steal_ms : 0;
  struct pollfd pfd = {xcb_get_file_descriptor(k.c), POLLIN, 0};
  while (open_windows > 0) {
    xcb_generic_event_t *ev = xcb_poll_for_event(k.c);
    if (!ev) {
      if (xcb_connection_has_error(k.c))
        break;
      int timeout = -1;
      if (steal_ms) {
        int64_t left = next_steal - now_ms();
        if (left <= 0) { /* an application that takes focus by itself */
          xcb_set_input_focus(k.c, XCB_INPUT_FOCUS_POINTER_ROOT,
                              k.win[0].id, XCB_CURRENT_TIME);
          xcb_flush(k.c);
          next_steal = now_ms() + steal_ms;
          left = steal_ms;
        }
        timeout = (int)left;
      }
      poll(&pfd, 1, timeout);
      continue;
    }
    switch (ev->response_type & 0x7f) {
    case XCB_MAP_NOTIFY:
      if (++mapped == k.n)
        fprintf(k.out, "ready\n");
      break;
    case XCB_KEY_PRESS:
      on_key(&k, (xcb_key_press_event_t *)ev);
      break;
    case XCB_CLIENT_MESSAGE: {
      xcb_client_message_event_t *m = (xcb_client_message_event_t *)ev;
      if (m->type == k.wm_protocols && m->data.data32[0] == k.wm_delete) {
        xcb_destroy_window(k.c, m->window);
        xcb_flush(k.c);
        if (k.victim < 0 || m->window != k.win[k.victim].id)
          open_windows--;
      }
      break;
    }
    default:
      break;
    }
    free(ev);
  }
  xcb_disconnect(k.c);
  if (k.out != stdout)
    fclose(k.out);
  return 0;
}
