/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The real tandem-agent on a real X server (the test session's Xvfb), in
 * loopback mode against a host written here: launching xterm gives
 * create/map/title/class/damage; the pixels received equal what the X
 * server shows; typed keys reach the program; focus goes to the window and
 * to the stub as the X server itself reports; stuck keys are released;
 * frames stay within the flow-control window; an override-redirect menu is
 * tracked; move, minimize and close work; a new host gets everything
 * again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xcb/xcb.h>

#include <lz4.h>

#include "agent-host.h"
#include "tandem-protocol.h"

#define WAIT_MS 15000

/* Keycodes of the X server's default (us) keymap, and their keysyms. */
enum { KC_SHIFT_L = 50, KC_CONTROL_L = 37, KC_RETURN = 36 };

typedef struct {
  uint32_t id;
  int32_t x, y;
  uint32_t w, h;
  gboolean override_redirect, mapped, destroyed;
  uint32_t states, icon_w, transient_for, min_w;
  uint8_t type;
  char *title, *res_name, *res_class;
  uint8_t *fb; /* BGRA, w*h*4, as the host would paint it */
  uint32_t last_frame, frames, acked;
} Win;

static char *root, *sock_path, *out_path;
static int listen_fd = -1;
static GSubprocess *agent;
static AgentHost host;
static GHashTable *wins; /* id -> Win* */
static gboolean auto_ack = TRUE;
static TpFocusReport last_focus;
static uint32_t last_focus_window;
static guint focus_reports;
static Win *term; /* the xterm's window */
static xcb_connection_t *xc;
/* TANDEM_TEST_WM: another window manager runs first (the agent then
 * cooperates with it through EWMH instead of managing windows). */
static GSubprocess *wm;
static gboolean foreign_wm;
/* TANDEM_TEST_SHM: the host shares a pixel region with the agent (as a
 * VM's ivshmem device) and reads every frame from there. */
#define SHM_SIZE (32u << 20)
static uint8_t *shm;
static guint shm_rects;
/* The plain run (no other WM, no shared memory) offers LZ4 too. */
static gboolean lz4;
static guint lz4_rects;
static guint copy_rects; /* scrolls, in the run that offers TP_CAP_COPY */

static void win_free(Win *w) {
  g_free(w->title);
  g_free(w->res_name);
  g_free(w->res_class);
  g_free(w->fb);
  g_free(w);
}

static void resize_fb(Win *w, uint32_t width, uint32_t height) {
  if (w->fb && w->w == width && w->h == height)
    return;
  uint8_t *fb = g_malloc0((size_t)width * height * 4);
  for (uint32_t y = 0; w->fb && y < MIN(height, w->h); y++)
    memcpy(fb + (size_t)y * width * 4, w->fb + (size_t)y * w->w * 4,
           (size_t)MIN(width, w->w) * 4);
  g_free(w->fb);
  w->fb = fb;
  w->w = width;
  w->h = height;
}

static Win *win(uint32_t id) {
  Win *w = g_hash_table_lookup(wins, GUINT_TO_POINTER(id));
  if (!w)
    fail_msg("the agent talks about window %u before WINDOW_CREATE", id);
  return w;
}

static void ack(Win *w) {
  TpMessage a = {.type = TP_MSG_FRAME_ACK, .window = w->id};
  a.u.frame_ack = (TpFrameAck){w->last_frame, 100};
  agent_host_send(&host, &a);
  w->acked = w->last_frame;
}

/* What a host does with each message: keep the windows and their pixels. */
static void process(const TpMessage *m) {
  Win *w;
  switch (m->type) {
  case TP_MSG_WINDOW_CREATE:
    w = g_new0(Win, 1);
    w->id = m->window;
    w->x = m->u.create.x;
    w->y = m->u.create.y;
    w->override_redirect = m->u.create.override_redirect;
    w->transient_for = m->u.create.transient_for;
    w->type = m->u.create.window_type;
    resize_fb(w, m->u.create.width, m->u.create.height);
    g_hash_table_replace(wins, GUINT_TO_POINTER(w->id), w);
    break;
  case TP_MSG_WINDOW_MAP:
    win(m->window)->mapped = TRUE;
    break;
  case TP_MSG_WINDOW_UNMAP:
    win(m->window)->mapped = FALSE;
    break;
  case TP_MSG_WINDOW_DESTROY: {
    w = win(m->window);
    w->destroyed = TRUE;
    w->mapped = FALSE;
    TpMessage a = {.type = TP_MSG_WINDOW_DESTROY_ACK, .window = m->window};
    agent_host_send(&host, &a);
    break;
  }
  case TP_MSG_WINDOW_CONFIGURE:
    w = win(m->window);
    w->x = m->u.configure.x;
    w->y = m->u.configure.y;
    resize_fb(w, m->u.configure.width, m->u.configure.height);
    break;
  case TP_MSG_WINDOW_TITLE:
    w = win(m->window);
    g_free(w->title);
    w->title = g_strdup(m->u.title.title);
    break;
  case TP_MSG_WINDOW_CLASS:
    w = win(m->window);
    g_free(w->res_name);
    g_free(w->res_class);
    w->res_name = g_strdup(m->u.wclass.res_name);
    w->res_class = g_strdup(m->u.wclass.res_class);
    break;
  case TP_MSG_WINDOW_ICON:
    win(m->window)->icon_w = m->u.icon.width;
    break;
  case TP_MSG_WINDOW_HINTS:
    win(m->window)->min_w = (m->u.hints.flags & TP_HINT_MIN_SIZE)
                                ? m->u.hints.min_width
                                : 0;
    break;
  case TP_MSG_WINDOW_STATE:
    win(m->window)->states = m->u.state.states;
    break;
  case TP_MSG_DAMAGE: {
    w = win(m->window);
    assert_true(w->mapped); /* never pixels of a window not shown */
    const TpDamage *d = &m->u.damage;
    /* With shared memory every frame fits there: none through the
     * channel. */
    if (shm)
      assert_int_equal(d->encoding, TP_ENCODING_SHM);
    else if (!lz4)
      assert_int_equal(d->encoding, TP_ENCODING_RAW);
    else
      assert_true(d->encoding == TP_ENCODING_RAW ||
                  d->encoding == TP_ENCODING_LZ4_BGR ||
                  d->encoding == TP_ENCODING_COPY);
    for (uint16_t i = 0; i < d->n_rects; i++) {
      const TpRect *r = &d->rects[i];
      assert_true(r->x + r->width <= w->w && r->y + r->height <= w->h);
      if (d->encoding == TP_ENCODING_COPY) {
        /* A scroll: the window's own pixels move, as the shell does it. */
        TpCopyRef ref;
        assert_int_equal(tp_copy_ref_read(r, &ref), TP_OK);
        assert_true(ref.src_x + r->width <= w->w &&
                    ref.src_y + r->height <= w->h);
        for (uint32_t k = 0; k < r->height; k++) {
          uint32_t y = r->y > ref.src_y ? r->height - 1 - k : k;
          memmove(w->fb + ((size_t)(r->y + y) * w->w + r->x) * 4,
                  w->fb + ((size_t)(ref.src_y + y) * w->w + ref.src_x) * 4,
                  (size_t)r->width * 4);
        }
        copy_rects++;
        continue;
      }
      const uint8_t *src = r->data;
      size_t stride = (size_t)r->width * 4;
      if (shm) {
        TpShmRef ref;
        assert_int_equal(tp_shm_ref_read(r, SHM_SIZE, &ref), TP_OK);
        src = shm + ref.offset;
        stride = ref.stride;
        shm_rects++;
      } else if (d->encoding == TP_ENCODING_LZ4_BGR) {
        /* 3 bytes a pixel: expanded as the shell does, opaque. */
        size_t raw = (size_t)r->width * r->height * 3;
        uint8_t *out = g_malloc(raw);
        assert_int_equal(LZ4_decompress_safe((const char *)r->data,
                                             (char *)out, (int)r->len,
                                             (int)raw),
                         (int)raw);
        for (uint32_t y = 0; y < r->height; y++)
          for (uint32_t x = 0; x < r->width; x++) {
            uint8_t *o = w->fb + ((size_t)(r->y + y) * w->w + r->x + x) * 4;
            const uint8_t *s = out + ((size_t)y * r->width + x) * 3;
            o[0] = s[0];
            o[1] = s[1];
            o[2] = s[2];
            o[3] = 0xff;
          }
        g_free(out);
        lz4_rects++;
        continue;
      }
      for (uint32_t y = 0; y < r->height; y++)
        memcpy(w->fb + ((size_t)(r->y + y) * w->w + r->x) * 4,
               src + (size_t)y * stride, (size_t)r->width * 4);
    }
    if (d->flags & TP_DAMAGE_FRAME_END) {
      if (!w->frames) /* sequence numbers go on across connections */
        w->acked = d->frame_seq - 1;
      w->last_frame = d->frame_seq;
      w->frames++;
      /* Flow control: never more than 3 frames unacknowledged. */
      assert_true(w->last_frame - w->acked <= TP_MAX_FRAMES_IN_FLIGHT);
      if (auto_ack)
        ack(w);
    }
    break;
  }
  case TP_MSG_FOCUS_REPORT:
    last_focus = m->u.focus_report;
    last_focus_window = m->window;
    focus_reports++;
    break;
  default:
    break;
  }
}

/* Reads and processes messages until @done says so, within @ms. */
static gboolean pump_until(gboolean (*done)(gpointer), gpointer data, int ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (!done(data)) {
    int left = (int)((end - g_get_monotonic_time()) / 1000);
    TpMessage m;
    if (left <= 0 || !agent_host_next(&host, &m, left))
      return done(data);
    process(&m);
  }
  return TRUE;
}

/* Processes messages until none comes for @quiet_ms (the window is still). */
static void pump_quiet(int quiet_ms, int max_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)max_ms * 1000;
  TpMessage m;
  while (g_get_monotonic_time() < end &&
         agent_host_next(&host, &m, quiet_ms))
    process(&m);
}

static gboolean term_ready(gpointer data) {
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, wins);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    Win *w = v;
    if (!w->destroyed && w->mapped && w->frames > 0 && w->title &&
        g_str_equal(w->title, "TandemTerm")) {
      term = w;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean focus_seq_is(gpointer seq) {
  return last_focus.seq == GPOINTER_TO_UINT(seq);
}

static void set_focus(uint32_t window, uint32_t seq) {
  TpMessage m = {.type = TP_MSG_FOCUS_SET, .window = window};
  m.u.focus_set.seq = seq;
  agent_host_send(&host, &m);
  assert_true(pump_until(focus_seq_is, GUINT_TO_POINTER(seq), WAIT_MS));
}

/* @mods: the X modifier state the host reports with the key. */
static void key_mods(uint32_t keycode, uint32_t keysym, gboolean pressed,
                     uint32_t mods) {
  TpMessage m = {.type = TP_MSG_KEY, .window = term->id};
  m.u.key = (TpKey){keycode, keysym, mods, (uint8_t)pressed, 0};
  agent_host_send(&host, &m);
}

static void key(uint32_t keycode, uint32_t keysym, gboolean pressed) {
  key_mods(keycode, keysym, pressed, 0);
}

/* Types ASCII letters and Return by keysym; the keycodes sent are the
 * host's, which here match the guest's keymap only by keysym lookup. */
static void type_text(const char *text) {
  static const struct {
    char c;
    uint32_t kc;
  } us[] = {{'a', 38}, {'h', 43}, {'i', 31}, {'x', 53}, {'\n', KC_RETURN}};
  for (const char *p = text; *p; p++) {
    uint32_t kc = 0, sym = *p == '\n' ? 0xff0d : (uint32_t)*p;
    for (size_t i = 0; i < G_N_ELEMENTS(us); i++)
      if (us[i].c == *p)
        kc = us[i].kc;
    assert_true(kc != 0);
    key(kc, sym, TRUE);
    key(kc, sym, FALSE);
  }
}

/* --- What the X server says, asked directly ------------------------------ */

static char *x_name_of(xcb_window_t w) {
  for (int depth = 0; w && depth < 16; depth++) {
    xcb_get_property_reply_t *r = xcb_get_property_reply(
        xc, xcb_get_property(xc, 0, w, XCB_ATOM_WM_NAME,
                             XCB_GET_PROPERTY_TYPE_ANY, 0, 256), NULL);
    if (r && xcb_get_property_value_length(r) > 0) {
      char *name = g_strndup(xcb_get_property_value(r),
                             (gsize)xcb_get_property_value_length(r));
      free(r);
      return name;
    }
    free(r);
    xcb_query_tree_reply_t *t =
        xcb_query_tree_reply(xc, xcb_query_tree(xc, w), NULL);
    if (!t)
      return NULL;
    w = t->parent == t->root ? XCB_NONE : t->parent;
    free(t);
  }
  return NULL;
}

static char *x_focus_name(void) {
  xcb_get_input_focus_reply_t *r =
      xcb_get_input_focus_reply(xc, xcb_get_input_focus(xc), NULL);
  xcb_window_t f = r ? r->focus : XCB_NONE;
  free(r);
  return x_name_of(f);
}

static gboolean x_key_down(uint8_t kc) {
  xcb_query_keymap_reply_t *r =
      xcb_query_keymap_reply(xc, xcb_query_keymap(xc), NULL);
  gboolean down = r && (r->keys[kc / 8] & (1u << (kc % 8)));
  free(r);
  return down;
}

/* Waits (polling the X server, bounded) for a key to go up or down. */
static gboolean x_wait_key(uint8_t kc, gboolean down) {
  for (int i = 0; i < 500; i++) {
    if (x_key_down(kc) == down)
      return TRUE;
    g_usleep(10000);
  }
  return FALSE;
}

/* The window's pixels as the X server shows them on the screen. */
static void assert_pixels_match_screen(Win *w) {
  xcb_screen_t *s = xcb_setup_roots_iterator(xcb_get_setup(xc)).data;
  xcb_get_image_reply_t *img = xcb_get_image_reply(
      xc, xcb_get_image(xc, XCB_IMAGE_FORMAT_Z_PIXMAP, s->root,
                        (int16_t)w->x, (int16_t)w->y, (uint16_t)w->w,
                        (uint16_t)w->h, ~0u), NULL);
  assert_non_null(img);
  const uint8_t *px = xcb_get_image_data(img);
  assert_int_equal(xcb_get_image_data_length(img), (int)(w->w * w->h * 4));
  size_t differ = 0;
  for (size_t i = 0; i < (size_t)w->w * w->h; i++)
    if (memcmp(px + i * 4, w->fb + i * 4, 3) != 0) /* B, G, R */
      differ++;
  if (differ && g_getenv("TANDEM_TEST_DUMP")) {
    FILE *a = fopen("/tmp/screen.ppm", "w"), *b = fopen("/tmp/host.ppm", "w");
    fprintf(a, "P6 %u %u 255\n", w->w, w->h);
    fprintf(b, "P6 %u %u 255\n", w->w, w->h);
    for (size_t i = 0; i < (size_t)w->w * w->h; i++) {
      fputc(px[i * 4 + 2], a), fputc(px[i * 4 + 1], a), fputc(px[i * 4], a);
      fputc(w->fb[i * 4 + 2], b), fputc(w->fb[i * 4 + 1], b);
      fputc(w->fb[i * 4], b);
    }
    fclose(a);
    fclose(b);
  }
  free(img);
  if (differ)
    fail_msg("%zu of %u pixels differ from the screen", differ, w->w * w->h);
}

static gboolean file_has(const char *expected) {
  for (int i = 0; i < 1000; i++) { /* another process's file: bounded poll */
    g_autofree char *text = NULL;
    if (g_file_get_contents(out_path, &text, NULL, NULL) &&
        g_str_equal(text, expected))
      return TRUE;
    g_usleep(10000);
  }
  return FALSE;
}

/* --- The tests ------------------------------------------------------------ */

static void handshake(void) {
  host = agent_host_accept(listen_fd, WAIT_MS);
  TpMessage m;
  agent_host_expect(&host, &m, TP_MSG_HELLO, WAIT_MS);
  /* The agent manages windows only when no other window manager does. */
  assert_int_equal((m.u.hello.caps & TP_CAP_WM) != 0, !foreign_wm);
  assert_true(m.u.hello.screen_width > 0 && m.u.hello.screen_height > 0);
  assert_int_equal((m.u.hello.caps & TP_CAP_SHM) != 0, shm != NULL);
  assert_true(m.u.hello.caps & TP_CAP_LZ4);
  assert_true(m.u.hello.caps & TP_CAP_COPY);
  agent_host_say_hello_caps(&host, (shm ? TP_CAP_SHM : 0) |
                                       (lz4 ? TP_CAP_LZ4 | TP_CAP_COPY |
                                                  TP_CAP_BGR
                                            : 0));
  g_autoptr(GPtrArray) catalog = agent_host_read_catalog(&host, WAIT_MS);
  assert_non_null(agent_host_find(catalog, "tandem-term"));
}

static void test_launch_xterm_gives_a_window(void **state) {
  (void)state;
  handshake();
  TpMessage m = {.type = TP_MSG_LAUNCH};
  m.u.launch = (TpLaunch){1, "tandem-term", "", {0, NULL}};
  agent_host_send(&host, &m);
  assert_true(pump_until(term_ready, NULL, WAIT_MS));
  assert_string_equal(term->res_name, "xterm");
  assert_string_equal(term->res_class, "XTerm");
  assert_false(term->override_redirect);
  assert_true(term->w > 100 && term->h > 50);
}

static void test_pixels_equal_the_screen(void **state) {
  (void)state;
  pump_quiet(400, WAIT_MS);
  assert_pixels_match_screen(term);
  if (shm)
    assert_true(shm_rects > 0);
  if (lz4) /* a terminal's text compresses */
    assert_true(lz4_rects > 0);
}

static void test_focus_window_and_stub(void **state) {
  (void)state;
  set_focus(term->id, 10);
  assert_int_equal(last_focus.kind, TP_FOCUS_WINDOW);
  assert_int_equal(last_focus_window, term->id);
  g_autofree char *name = x_focus_name();
  assert_string_equal(name, "TandemTerm");

  set_focus(0, 11);
  assert_int_equal(last_focus.kind, TP_FOCUS_STUB);
  assert_int_equal(last_focus_window, 0);
  if (foreign_wm) /* another WM may take focus back afterwards: then the */
    return;       /* agent reports that, and the host's logic decides */
  g_autofree char *stub = x_focus_name();
  assert_non_null(stub);
  assert_string_equal(stub, "Tandem focus placeholder");
}

static void test_flow_control_holds_frames(void **state) {
  (void)state;
  pump_quiet(200, WAIT_MS);
  auto_ack = FALSE;
  uint32_t before = term->frames;
  /* Every key echoes and so damages the window; without acks the agent
   * must stop at three frames and keep the rest. */
  for (int i = 0; i < 20; i++) {
    type_text("a");
    pump_quiet(30, 1000);
  }
  type_text("\n");
  pump_quiet(300, WAIT_MS);
  assert_int_equal(term->frames - before, TP_MAX_FRAMES_IN_FLIGHT);
  auto_ack = TRUE;
  uint32_t held = term->frames;
  ack(term);
  pump_quiet(400, WAIT_MS);
  assert_true(term->frames > held); /* the merged rest comes after the ack */
  assert_pixels_match_screen(term);
}

static void test_typed_keys_reach_the_program(void **state) {
  (void)state;
  /* Focus is on the stub from the focus test: the agent must move it to
   * the window before typing into it. */
  type_text("hi\n");
  assert_true(file_has("aaaaaaaaaaaaaaaaaaaa|hi"));
}

/* Lines that scroll the terminal one by one: each is sent as a copy of
 * what the host has plus the new line (where the host takes copies), and
 * the host's pixels stay the screen's. */
static void test_scroll_goes_as_a_copy(void **state) {
  (void)state;
  char line[40];
  for (int i = 1; i <= 30; i++) { /* rows that differ from one another */
    memset(line, 'a', (size_t)i);
    line[i] = '\n';
    line[i + 1] = '\0';
    type_text(line);
    pump_quiet(30, 1000);
  }
  pump_quiet(300, WAIT_MS);
  if (lz4)
    assert_true(copy_rects > 0);
  else
    assert_int_equal(copy_rects, 0);
  assert_pixels_match_screen(term);
}

static void test_key_state_releases_stuck_keys(void **state) {
  (void)state;
  key(KC_SHIFT_L, 0xffe1, TRUE); /* Shift down, then focus "lost" */
  assert_true(x_wait_key(KC_SHIFT_L, TRUE));
  TpMessage m = {.type = TP_MSG_KEY_STATE, .window = term->id};
  memset(&m.u.key_state, 0, sizeof(m.u.key_state)); /* the host: all up */
  agent_host_send(&host, &m);
  assert_true(x_wait_key(KC_SHIFT_L, FALSE));
}

static void test_key_state_presses_held_modifiers(void **state) {
  (void)state;
  /* Shift held on the host since before the focus-in (pressed over a
   * native window): the agent presses it, in the window. */
  set_focus(0, 20);
  TpMessage m = {.type = TP_MSG_KEY_STATE, .window = term->id};
  memset(&m.u.key_state, 0, sizeof(m.u.key_state));
  m.u.key_state.keys[KC_SHIFT_L / 8] = 1u << (KC_SHIFT_L % 8);
  m.u.key_state.modifiers = XCB_MOD_MASK_SHIFT;
  agent_host_send(&host, &m);
  assert_true(x_wait_key(KC_SHIFT_L, TRUE));
  g_autofree char *name = x_focus_name();
  assert_string_equal(name, "TandemTerm"); /* pressed there, not elsewhere */
  memset(&m.u.key_state, 0, sizeof(m.u.key_state));
  agent_host_send(&host, &m);
  assert_true(x_wait_key(KC_SHIFT_L, FALSE));
}

static void test_keys_carry_their_modifiers(void **state) {
  (void)state;
  /* A key typed with Shift: Shift goes down first, whatever the guest
   * believed; the next key typed without it: Shift comes up first. */
  key_mods(53, 'X', TRUE, XCB_MOD_MASK_SHIFT);
  key_mods(53, 'X', FALSE, XCB_MOD_MASK_SHIFT);
  assert_true(x_wait_key(KC_SHIFT_L, TRUE));
  key_mods(53, 'x', TRUE, 0);
  key_mods(53, 'x', FALSE, 0);
  assert_true(x_wait_key(KC_SHIFT_L, FALSE));
}

static gboolean menu_shown(gpointer data) {
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, wins);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    Win *w = v;
    if (w->override_redirect && w->mapped && w->frames > 0) {
      *(Win **)data = w;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean win_unmapped(gpointer data) { return !((Win *)data)->mapped; }

/* @mods: the X modifier state the host reports with the event (the
 * agent makes the guest's the same before it injects). */
static void button(uint32_t b, gboolean pressed, int32_t x, int32_t y,
                   uint32_t mods) {
  TpMessage m = {.type = TP_MSG_BUTTON, .window = term->id};
  m.u.button = (TpButton){b, (uint8_t)pressed, x, y, mods, 0};
  agent_host_send(&host, &m);
}

static void test_override_redirect_menu(void **state) {
  (void)state;
  /* Ctrl + left button opens xterm's main menu, an override-redirect
   * popup: it must arrive as a window of its own, with pixels. */
  Win *menu = NULL;
  key(KC_CONTROL_L, 0xffe3, TRUE);
  button(1, TRUE, 30, 30, XCB_MOD_MASK_CONTROL);
  assert_true(pump_until(menu_shown, &menu, WAIT_MS));
  assert_true(menu->w > 20 && menu->h > 20);
  button(1, FALSE, 30, 30, XCB_MOD_MASK_CONTROL);
  key(KC_CONTROL_L, 0xffe3, FALSE);
  assert_true(pump_until(win_unmapped, menu, WAIT_MS));
}

static gboolean geometry_is(gpointer data) {
  const int32_t *g = data;
  return term->x == g[0] && term->y == g[1] && term->w == (uint32_t)g[2] &&
         term->h == (uint32_t)g[3];
}

static gboolean geometry_near(gpointer data) {
  const int32_t *g = data;
  return ABS(term->x - g[0]) <= 8 && ABS(term->y - g[1]) <= 8 &&
         ABS((int32_t)term->w - g[2]) <= 16 &&
         ABS((int32_t)term->h - g[3]) <= 24;
}

static void test_move_and_resize(void **state) {
  (void)state;
  TpMessage m = {.type = TP_MSG_WINDOW_MOVE_RESIZE, .window = term->id};
  m.u.move_resize = (TpMoveResize){40, 30, 420, 240, TP_MOVE | TP_RESIZE};
  agent_host_send(&host, &m);
  int32_t want[4] = {40, 30, 420, 240};
  if (foreign_wm) { /* it applies xterm's resize increments */
    assert_true(pump_until(geometry_near, want, WAIT_MS));
    pump_quiet(400, WAIT_MS);
    assert_pixels_match_screen(term);
    return;
  }
  assert_true(pump_until(geometry_is, want, WAIT_MS));
  pump_quiet(400, WAIT_MS);
  assert_pixels_match_screen(term);

  /* Far off the guest's screen: kept where the pointer can reach it. */
  m.u.move_resize = (TpMoveResize){30000, -5000, 1, 1, TP_MOVE};
  agent_host_send(&host, &m);
  xcb_screen_t *s = xcb_setup_roots_iterator(xcb_get_setup(xc)).data;
  int32_t edge[4] = {s->width_in_pixels - 420, 0, 420, 240};
  assert_true(pump_until(geometry_is, edge, WAIT_MS));
}

static gboolean states_are(gpointer data) {
  return term->states == GPOINTER_TO_UINT(data);
}

static void test_minimize_and_restore(void **state) {
  (void)state;
  TpMessage m = {.type = TP_MSG_WINDOW_SET_STATE, .window = term->id};
  m.u.set_state = (TpSetState){TP_STATE_HIDDEN, TP_STATE_HIDDEN};
  agent_host_send(&host, &m);
  assert_true(pump_until(states_are, GUINT_TO_POINTER(TP_STATE_HIDDEN),
                         WAIT_MS));
  assert_true(term->mapped); /* minimized, not withdrawn */
  m.u.set_state = (TpSetState){TP_STATE_HIDDEN, 0};
  agent_host_send(&host, &m);
  assert_true(pump_until(states_are, GUINT_TO_POINTER(0), WAIT_MS));
}

static void test_new_host_gets_everything_again(void **state) {
  (void)state;
  uint32_t id = term->id;
  agent_host_close(&host);
  g_hash_table_remove_all(wins);
  term = NULL;
  focus_reports = 0;
  handshake();
  assert_true(pump_until(term_ready, NULL, WAIT_MS));
  assert_int_equal(term->id, id);
  assert_string_equal(term->res_class, "XTerm");
  pump_quiet(400, WAIT_MS);
  assert_true(focus_reports >= 1);
  assert_pixels_match_screen(term); /* a full frame came with the window */
}

static Win *find_titled(const char *title) {
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, wins);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    Win *w = v;
    if (!w->destroyed && w->title && g_str_equal(w->title, title))
      return w;
  }
  return NULL;
}

static gboolean client_windows_shown(gpointer data) {
  Win *main_w = find_titled("Main evil title"); /* U+202E stripped */
  Win *dialog = find_titled("Dialog");
  GHashTableIter it;
  gpointer v;
  gboolean tip = FALSE;
  g_hash_table_iter_init(&it, wins);
  while (g_hash_table_iter_next(&it, NULL, &v))
    tip |= ((Win *)v)->type == TP_WINDOW_TYPE_TOOLTIP &&
           ((Win *)v)->frames > 0;
  /* Asking for activation: attention from the agent as WM; another WM
   * decides for itself. */
  return main_w && dialog && tip && main_w->frames && dialog->frames &&
         (foreign_wm || (main_w->states & TP_STATE_DEMANDS_ATTENTION));
}

static void test_dialog_tooltip_icon_hints(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  g_autofree char *bin = g_build_filename(g_getenv("TANDEM_BUILD_ROOT"),
                                          "tests", "agent", "x11-test-client",
                                          NULL);
  g_autoptr(GSubprocess) client = g_subprocess_new(G_SUBPROCESS_FLAGS_NONE,
                                                   &error, bin, NULL);
  assert_non_null(client);
  assert_true(pump_until(client_windows_shown, NULL, WAIT_MS));
  Win *main_w = find_titled("Main evil title");
  Win *dialog = find_titled("Dialog");
  assert_string_equal(main_w->res_class, "TClient");
  assert_int_equal(main_w->icon_w, 64); /* the size nearest the wish */
  assert_int_equal(main_w->min_w, 200);
  assert_int_equal(dialog->type, TP_WINDOW_TYPE_DIALOG);
  assert_int_equal(dialog->transient_for, main_w->id);
  if (!foreign_wm) { /* centred over its parent by the agent as WM */
    assert_int_equal(dialog->x, main_w->x + (300 - 120) / 2);
    assert_int_equal(dialog->y, main_w->y + (200 - 80) / 2);
  }
  pump_quiet(300, WAIT_MS);
  /* Asking for activation got attention, not focus. */
  assert_false(!foreign_wm && last_focus.kind == TP_FOCUS_WINDOW &&
               (last_focus_window == main_w->id ||
                last_focus_window == dialog->id));
  assert_pixels_match_screen(dialog);
  const uint8_t *px = dialog->fb;
  assert_int_equal(px[0] | px[1] << 8 | px[2] << 16, 0xcc3333);

  TpMessage m = {.type = TP_MSG_WINDOW_CLOSE, .window = main_w->id};
  agent_host_send(&host, &m);
  g_subprocess_wait(client, NULL, NULL);
  assert_true(g_subprocess_get_if_exited(client));
  assert_int_equal(g_subprocess_get_exit_status(client), 0);
}

static gboolean term_gone(gpointer data) { return term->destroyed; }

static gboolean x_focus_is_stub(void) {
  for (int i = 0; i < 500; i++) { /* another process: bounded poll */
    g_autofree char *name = x_focus_name();
    if (name && g_str_equal(name, "Tandem focus placeholder"))
      return TRUE;
    g_usleep(10000);
  }
  return FALSE;
}

static void test_close_asks_politely(void **state) {
  (void)state;
  assert_non_null(term);
  set_focus(term->id, 30);
  TpMessage m = {.type = TP_MSG_WINDOW_CLOSE, .window = term->id};
  agent_host_send(&host, &m);
  assert_true(pump_until(term_gone, NULL, WAIT_MS));
  /* Its focus went to the stub, not to the window under the pointer
   * (another WM chooses for itself). */
  if (!foreign_wm)
    assert_true(x_focus_is_stub());
}

/* The window manager is up once it announces itself (EWMH). */
static gboolean wait_for_wm(void) {
  xcb_screen_t *s = xcb_setup_roots_iterator(xcb_get_setup(xc)).data;
  xcb_intern_atom_reply_t *a = xcb_intern_atom_reply(
      xc, xcb_intern_atom(xc, 0, 24, "_NET_SUPPORTING_WM_CHECK"), NULL);
  xcb_atom_t check = a ? a->atom : XCB_NONE;
  free(a);
  for (int i = 0; i < 1000; i++) { /* another process: bounded poll */
    xcb_get_property_reply_t *r = xcb_get_property_reply(
        xc, xcb_get_property(xc, 0, s->root, check, XCB_ATOM_WINDOW, 0, 1),
        NULL);
    gboolean up = r && xcb_get_property_value_length(r) == 4;
    free(r);
    if (up)
      return TRUE;
    g_usleep(10000);
  }
  return FALSE;
}

static int setup(void **state) {
  (void)state;
  if (!g_getenv("DISPLAY"))
    return -1;
  root = g_dir_make_tmp("agent-x11-XXXXXX", NULL);
  sock_path = g_build_filename(root, "agent.sock", NULL);
  out_path = g_build_filename(root, "typed.txt", NULL);
  g_autofree char *script = g_build_filename(root, "typed.sh", NULL);
  g_autofree char *body = g_strdup_printf(
      "#!/bin/sh\nread a\nread b\nprintf '%%s|%%s' \"$a\" \"$b\" > %s\n"
      "exec sleep 600\n", out_path);
  g_file_set_contents(script, body, -1, NULL);
  g_chmod(script, 0755);
  g_autofree char *apps = g_build_filename(root, "data", "applications",
                                           NULL);
  g_mkdir_with_parents(apps, 0700);
  g_autofree char *entry = g_strdup_printf(
      "[Desktop Entry]\nType=Application\nName=Term\n"
      "Exec=xterm -title TandemTerm -geometry 50x8+0+0 -e %s\n", script);
  g_autofree char *entry_path = g_build_filename(apps, "tandem-term.desktop",
                                                 NULL);
  g_file_set_contents(entry_path, entry, -1, NULL);

  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(listen_fd, 2) != 0)
    return -1;
  xc = xcb_connect(NULL, NULL);
  if (xcb_connection_has_error(xc))
    return -1;
  wins = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)win_free);
  const char *wm_cmd = g_getenv("TANDEM_TEST_WM");
  if (wm_cmd && *wm_cmd) {
    g_auto(GStrv) argv = g_strsplit(wm_cmd, " ", -1);
    /* Its chatter on stdout would not be TAP. */
    wm = g_subprocess_newv((const char *const *)argv,
                           G_SUBPROCESS_FLAGS_STDOUT_SILENCE, NULL);
    if (!wm)
      return -1;
    foreign_wm = TRUE;
    if (!wait_for_wm())
      return -1;
  }

  g_autoptr(GSubprocessLauncher) l =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *data = g_build_filename(root, "data", NULL);
  g_subprocess_launcher_setenv(l, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv(l, "XDG_DATA_DIRS", data, TRUE);
  g_autofree char *addr = g_strconcat("unix:", sock_path, NULL);
  g_autofree char *pixels = g_build_filename(root, "pixels", NULL);
  lz4 = !g_getenv("TANDEM_TEST_WM") && !g_getenv("TANDEM_TEST_SHM");
  if (g_getenv("TANDEM_TEST_SHM")) {
    /* As the shell makes it: the header, then room for frames. */
    int fd = open(pixels, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, SHM_SIZE) != 0)
      return -1;
    shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (shm == MAP_FAILED)
      return -1;
    tp_shm_header_write(shm, SHM_SIZE);
  }
  agent = g_subprocess_launcher_spawn(l, NULL, g_getenv("TANDEM_GUEST_AGENT"),
                                      "--connect", addr, "--pixel-memory",
                                      shm ? pixels : "none", NULL);
  return agent ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  if (agent) {
    g_subprocess_send_signal(agent, SIGTERM);
    g_subprocess_wait(agent, NULL, NULL);
    g_clear_object(&agent);
  }
  if (host.reader)
    agent_host_close(&host);
  if (wm) {
    g_subprocess_send_signal(wm, SIGTERM);
    g_subprocess_wait(wm, NULL, NULL);
    g_clear_object(&wm);
  }
  if (xc)
    xcb_disconnect(xc);
  g_clear_pointer(&wins, g_hash_table_destroy);
  if (shm)
    munmap(shm, SHM_SIZE);
  close(listen_fd);
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", root);
  if (system(cmd) != 0)
    g_warning("could not remove %s", root);
  g_free(root);
  g_free(sock_path);
  g_free(out_path);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_launch_xterm_gives_a_window),
      cmocka_unit_test(test_pixels_equal_the_screen),
      cmocka_unit_test(test_focus_window_and_stub),
      cmocka_unit_test(test_flow_control_holds_frames),
      cmocka_unit_test(test_typed_keys_reach_the_program),
      cmocka_unit_test(test_scroll_goes_as_a_copy),
      cmocka_unit_test(test_key_state_releases_stuck_keys),
      cmocka_unit_test(test_key_state_presses_held_modifiers),
      cmocka_unit_test(test_keys_carry_their_modifiers),
      cmocka_unit_test(test_override_redirect_menu),
      cmocka_unit_test(test_move_and_resize),
      cmocka_unit_test(test_minimize_and_restore),
      cmocka_unit_test(test_dialog_tooltip_icon_hints),
      cmocka_unit_test(test_new_host_gets_everything_again),
      cmocka_unit_test(test_close_asks_politely),
  };
  return cmocka_run_group_tests_name(
      g_getenv("TANDEM_TEST_WM")    ? "agent-x11-under-a-wm"
      : g_getenv("TANDEM_TEST_SHM") ? "agent-x11-shared-memory"
                                    : "agent-x11",
      tests, setup, teardown);
}
