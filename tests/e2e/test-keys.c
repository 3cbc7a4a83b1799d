/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Keys never reach the wrong guest application: the host is this process,
 * the shell's own proxy code (hub, link, proxy manager on GTK) on the
 * session's Xvfb under a real window manager (Openbox), a native GTK
 * window beside the proxies; the guest is the real agent, on a second
 * Xvfb (loopback) or in the default guest under TCG (TANDEM_KEYS_GUEST=vm).
 * The user is played with XTest and EWMH activation on the host display,
 * as xdotool's key and windowactivate do. The guest's windows are
 * tandem-bench-keys': keys-1 and keys-2, and victim-N, which closes on its
 * fifth key and is replaced by victim-N+1; each counts its keys in its
 * title, which is all a host sees of a guest.
 *
 *   - A window closed while keys are typed into it, the guest pointer
 *     over keys-1: the keys after the closing one go nowhere, none to
 *     keys-1 (loopback and VM).
 *   - A guest application that takes focus every 5 ms while keys are typed
 *     into another proxy: it gets none of them, the other all; it gets the
 *     host's attention, not its focus (loopback).
 *   - Shift held from a native window into a proxy: capitals; released:
 *     small letters again (loopback).
 *   - Alt-Tab away from a proxy with Openbox: the window left behind gets
 *     no key typed afterwards, and the next key typed into it has no Alt
 *     (loopback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gdk/gdkx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

#include "bench-proxy.h"
#include "keys-recorder.h"

#define VICTIM_KEYS 5
#define KC_SHIFT 50
#define KC_ALT 64
#define KC_TAB 23
#define KC_A 38
#define KC_B 56
#define KC_C 54
#define KC_D 40
#define MOD_SHIFT 1u
#define MOD_ALT 8u

static BpGuest G;
static BpConfig cfg;
static gboolean vm;
static double wait_s; /* a bound on what waits on the guest */
static GSubprocess *openbox;
static xcb_connection_t *xc; /* the host display, as the user */
static xcb_window_t root;
static xcb_atom_t net_active_window;
static GtkWidget *native;
static BpWindow native_state;
static KeysRecorder *recorder; /* loopback: the reports */
static GPtrArray *reports;     /* "NAME KEYCODE STATE" of the keys seen */

/* --- The guest's windows, as the host sees them -------------------------- */

/* The mapped window titled "NAME: N" (tandem-bench-keys --titles); *count
 * gets N. */
static BpWindow *find(const char *name, int *count) {
  GHashTableIter it;
  gpointer v;
  size_t len = strlen(name);
  g_hash_table_iter_init(&it, G.windows);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    BpWindow *w = v;
    if (w->title && w->map_ns && !strncmp(w->title, name, len) &&
        w->title[len] == ':') {
      if (count)
        *count = atoi(w->title + len + 1);
      return w;
    }
  }
  return NULL;
}

static int count_of(const char *name) {
  int n = -1;
  find(name, &n);
  return n;
}

static gboolean shown(gpointer name) {
  return bp_window_xid(find(name, NULL)) != XCB_NONE;
}

typedef struct {
  const char *name;
  int count;
} Count;

static gboolean count_reached(gpointer data) {
  Count *c = data;
  return count_of(c->name) >= c->count;
}

/* --- The user -------------------------------------------------------------- */

static void fake(uint8_t type, uint8_t detail) {
  xcb_test_fake_input(xc, type, detail, XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
}

static void tap(uint8_t kc) {
  fake(XCB_KEY_PRESS, kc);
  fake(XCB_KEY_RELEASE, kc);
}

/* A host window, and the guest window whose proxy it is (0: none, a
 * native window: the guest is then on the stub). */
typedef struct {
  GtkWidget *window;
  guint32 guest;
} Target;

static Target proxy_target(const char *name) {
  BpWindow *w = find(name, NULL);
  assert_non_null(w);
  assert_non_null(w->proxy);
  return (Target){GTK_WIDGET(w->proxy), w->id};
}

static Target native_target(void) { return (Target){native, 0}; }

/* Host focus on the window (GTK's view: it got the focus-in), and the
 * guest's focus where it must be for that. */
static gboolean focused(gpointer data) {
  Target *t = data;
  guint kind;
  guint32 w = tandem_proxy_manager_get_guest_focus(G.pm, &kind);
  return gtk_window_is_active(GTK_WINDOW(t->window)) &&
         (t->guest ? kind == TP_FOCUS_WINDOW && w == t->guest
                   : kind == TP_FOCUS_STUB);
}

/* What xdotool windowactivate does: asks the window manager (EWMH), then
 * waits until host focus is there and the guest's follows. */
static void activate(Target t) {
  xcb_window_t xid = (xcb_window_t)gdk_x11_window_get_xid(
      gtk_widget_get_window(t.window));
  xcb_client_message_event_t ev = {.response_type = XCB_CLIENT_MESSAGE,
                                   .format = 32, .window = xid,
                                   .type = net_active_window};
  ev.data.data32[0] = 2; /* from a pager: the user's own request */
  ev.data.data32[1] = XCB_CURRENT_TIME;
  xcb_send_event(xc, 0, root,
                 XCB_EVENT_MASK_SUBSTRUCTURE_REDIRECT |
                     XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY,
                 (const char *)&ev);
  xcb_flush(xc);
  assert_true(bp_wait(focused, &t, wait_s));
}

static void activate_proxy(const char *name) { activate(proxy_target(name)); }

/* The host pointer over @name's proxy: the guest pointer follows it. */
static void pointer_over(const char *name) {
  BpWindow *w = find(name, NULL);
  assert_non_null(w);
  int x, y;
  gdk_window_get_origin(gtk_widget_get_window(GTK_WIDGET(w->proxy)), &x,
                        &y);
  xcb_test_fake_input(xc, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME, root,
                      (int16_t)(x + 60), (int16_t)(y + 60), 0);
  xcb_flush(xc);
}

/* Types one key into keys-2 and waits for it: every key typed before has
 * been handled by the agent then (one channel, in order). */
static void settle(void) {
  int before = count_of("keys-2");
  activate_proxy("keys-2");
  tap(KC_D);
  xcb_flush(xc);
  Count c = {"keys-2", before + 1};
  assert_true(bp_wait(count_reached, &c, wait_s));
}

/* --- The reports (loopback) --------------------------------------------- */

static void on_report(const KeysReport *r, gpointer data) {
  g_ptr_array_add(reports, g_strdup_printf("%s %u %u", r->name, r->keycode,
                                           r->state));
}

/* How many reports from @report on are of @name and @keycode with all of
 * @state_set and none of @state_clear. */
static int reports_of(guint from, const char *name, guint keycode,
                      guint state_set, guint state_clear) {
  int n = 0;
  for (guint i = from; i < reports->len; i++) {
    char who[80];
    guint kc, state;
    if (sscanf(reports->pdata[i], "%79s %u %u", who, &kc, &state) == 3 &&
        g_str_equal(who, name) && kc == keycode &&
        (state & state_set) == state_set && !(state & state_clear))
      n++;
  }
  return n;
}

/* --- The cases ------------------------------------------------------------- */

static void test_closing_window_keys_go_nowhere(void **state) {
  (void)state;
  int cycles = vm ? 6 : 40, past = 0;
  pointer_over("keys-1");
  GRand *rand = g_rand_new_with_seed(20261203);
  for (int c = 1; c <= cycles; c++) {
    g_autofree char *name = g_strdup_printf("victim-%d", c);
    g_autofree char *next = g_strdup_printf("victim-%d", c + 1);
    assert_true(bp_wait(shown, name, wait_s));
    activate_proxy(name);
    /* Its fifth key closes it; the rest are typed before the host can
     * know, as a fast typist's would be. */
    int extra = g_rand_int_range(rand, 1, 12);
    for (int k = 0; k < VICTIM_KEYS + extra; k++)
      tap(KC_A);
    xcb_flush(xc);
    past += extra;
    assert_true(bp_wait(shown, next, wait_s));
  }
  g_rand_free(rand);
  settle();
  printf("# %d windows closed on a key, %d keys typed past the closing "
         "one, keys-1 under the guest pointer got %d\n",
         cycles, past, count_of("keys-1"));
  assert_int_equal(count_of("keys-1"), 0);
}

static gboolean thief_ready(gpointer data) {
  return keys_recorder_ready(data) && shown((gpointer) "thief-1");
}

static gboolean urgent(gpointer window) {
  return gtk_window_get_urgency_hint(window);
}

static void test_focus_taking_app_gets_no_keys(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  KeysRecorder *thief = keys_recorder_spawn(
      G.display, cfg.keys, on_report, NULL, &error, "--name", "thief",
      "--windows", "1", "--at", "560,40", "--steal", "5", "--titles", NULL);
  assert_non_null(thief);
  assert_true(bp_wait(thief_ready, thief, wait_s));
  activate_proxy("keys-1");
  int before = count_of("keys-1");
  const int keys = 300;
  for (int burst = 0; burst < keys / 20; burst++) {
    for (int k = 0; k < 20; k++)
      tap(KC_A);
    xcb_flush(xc);
    Count c = {"keys-1", before + (burst + 1) * 20};
    assert_true(bp_wait(count_reached, &c, wait_s));
  }
  /* It keeps taking focus: after five corrections a second the host
   * stops putting it back and asks for attention instead. */
  BpWindow *t = find("thief-1", NULL);
  gboolean attention = bp_wait(urgent, t->proxy, wait_s);
  Target keys1 = proxy_target("keys-1");
  printf("# %d keys typed into keys-1 while thief-1 took focus every 5 ms: "
         "keys-1 got %d, thief-1 %d; thief-1 asks for attention: %s\n",
         keys, count_of("keys-1") - before, count_of("thief-1"),
         attention ? "yes" : "no");
  assert_int_equal(count_of("thief-1"), 0);
  assert_int_equal(count_of("keys-1") - before, keys);
  assert_true(attention); /* it wanted focus: the host shows that */
  assert_true(gtk_window_is_active(GTK_WINDOW(keys1.window))); /* only */
  keys_recorder_free(thief);
}

static void test_shift_held_from_a_native_window(void **state) {
  (void)state;
  activate(native_target());
  guint from = reports->len;
  fake(XCB_KEY_PRESS, KC_SHIFT);
  xcb_flush(xc);
  activate_proxy("keys-1");
  for (int i = 0; i < 3; i++)
    tap(KC_A);
  fake(XCB_KEY_RELEASE, KC_SHIFT);
  tap(KC_A);
  xcb_flush(xc);
  settle();
  printf("# keys-1: %d capitals, %d small letters\n",
         reports_of(from, "keys-1", KC_A, MOD_SHIFT, 0),
         reports_of(from, "keys-1", KC_A, 0, MOD_SHIFT));
  assert_int_equal(reports_of(from, "keys-1", KC_A, MOD_SHIFT, 0), 3);
  assert_int_equal(reports_of(from, "keys-1", KC_A, 0, MOD_SHIFT), 1);
}

/* Openbox shows its window list: it is cycling, with the keyboard. */
static gboolean cycling(gpointer data) {
  xcb_query_tree_reply_t *t =
      xcb_query_tree_reply(xc, xcb_query_tree(xc, root), NULL);
  gboolean found = FALSE;
  xcb_window_t *kids = t ? xcb_query_tree_children(t) : NULL;
  for (int i = 0; t && i < xcb_query_tree_children_length(t) && !found;
       i++) {
    xcb_get_window_attributes_reply_t *a = xcb_get_window_attributes_reply(
        xc, xcb_get_window_attributes(xc, kids[i]), NULL);
    xcb_get_property_reply_t *p = xcb_get_property_reply(
        xc, xcb_get_property(xc, 0, kids[i], XCB_ATOM_WM_CLASS,
                             XCB_ATOM_STRING, 0, 16), NULL);
    found = a && a->map_state == XCB_MAP_STATE_VIEWABLE && p &&
            xcb_get_property_value_length(p) >= 25 &&
            !memcmp(xcb_get_property_value(p), "OPENBOX_FOCUS_CYCLE_POPUP",
                    25);
    free(a);
    free(p);
  }
  free(t);
  return found;
}

/* Alt-Tab on the host: Openbox cycles to the window focused before, once
 * Alt is let go. */
static void alt_tab(Target to) {
  fake(XCB_KEY_PRESS, KC_ALT);
  fake(XCB_KEY_PRESS, KC_TAB);
  xcb_flush(xc);
  assert_true(bp_wait(cycling, NULL, wait_s));
  fake(XCB_KEY_RELEASE, KC_TAB);
  fake(XCB_KEY_RELEASE, KC_ALT);
  xcb_flush(xc);
  assert_true(bp_wait(focused, &to, wait_s));
}

static void test_alt_tab_leaves_nothing_behind(void **state) {
  (void)state;
  /* From keys-1 back to keys-2, then type there. */
  activate_proxy("keys-2");
  activate_proxy("keys-1");
  guint from = reports->len;
  alt_tab(proxy_target("keys-2"));
  tap(KC_B);
  xcb_flush(xc);
  /* From keys-1 to the native window, type there, back into keys-1. */
  activate(native_target());
  activate_proxy("keys-1");
  alt_tab(native_target());
  tap(KC_C);
  activate_proxy("keys-1");
  tap(KC_D);
  xcb_flush(xc);
  settle();
  printf("# after Alt-Tab: keys-2 got b %d time(s) without Alt; keys-1 got "
         "b %d, c %d time(s), d %d time(s) without Alt\n",
         reports_of(from, "keys-2", KC_B, 0, MOD_ALT),
         reports_of(from, "keys-1", KC_B, 0, 0),
         reports_of(from, "keys-1", KC_C, 0, 0),
         reports_of(from, "keys-1", KC_D, 0, MOD_ALT));
  assert_int_equal(reports_of(from, "keys-2", KC_B, 0, MOD_ALT), 1);
  assert_int_equal(reports_of(from, "keys-1", KC_B, 0, 0), 0);
  assert_int_equal(reports_of(from, "keys-1", KC_C, 0, 0), 0);
  assert_int_equal(reports_of(from, "keys-2", KC_C, 0, 0), 0);
  assert_int_equal(reports_of(from, "keys-1", KC_D, 0, MOD_ALT), 1);
}

/* --- Setting up ------------------------------------------------------------ */

static gboolean on_native_map(GtkWidget *widget, GdkEvent *ev, gpointer d) {
  native_state.viewable = TRUE;
  return FALSE;
}

static gboolean native_shown(gpointer data) { return native_state.viewable; }

static gboolean wm_running(gpointer data) {
  xcb_intern_atom_reply_t *a = xcb_intern_atom_reply(
      xc, xcb_intern_atom(xc, 0, 24, "_NET_SUPPORTING_WM_CHECK"), NULL);
  xcb_atom_t check = a ? a->atom : XCB_NONE;
  free(a);
  xcb_get_property_reply_t *r = xcb_get_property_reply(
      xc, xcb_get_property(xc, 0, root, check, XCB_ATOM_WINDOW, 0, 1), NULL);
  gboolean up = r && xcb_get_property_value_length(r) == 4;
  free(r);
  return up;
}

static gboolean windows_ready(gpointer data) {
  return shown((gpointer) "keys-1") && shown((gpointer) "keys-2") &&
         shown((gpointer) "victim-1") &&
         (vm || keys_recorder_ready(recorder));
}

static char *build_path(const char *rel) {
  return g_build_filename(g_getenv("TANDEM_BUILD_ROOT"), rel, NULL);
}

static int setup(void **state) {
  (void)state;
  vm = g_strcmp0(g_getenv("TANDEM_KEYS_GUEST"), "vm") == 0;
  wait_s = vm ? 60 : 10;
  if (!g_getenv("DISPLAY") || !g_getenv("TANDEM_BUILD_ROOT") ||
      !gtk_init_check(NULL, NULL))
    return -1;
  xc = xcb_connect(NULL, NULL);
  if (xcb_connection_has_error(xc))
    return -1;
  root = xcb_setup_roots_iterator(xcb_get_setup(xc)).data->root;
  xcb_intern_atom_reply_t *a = xcb_intern_atom_reply(
      xc, xcb_intern_atom(xc, 0, 18, "_NET_ACTIVE_WINDOW"), NULL);
  net_active_window = a ? a->atom : XCB_NONE;
  free(a);
  /* The window manager of the host desktop. */
  openbox = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                 G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                             NULL, "openbox", "--sm-disable", NULL);
  if (!openbox || !bp_wait(wm_running, NULL, 10))
    return -1;

  cfg.px.tmp = g_dir_make_tmp("test-keys-XXXXXX", NULL);
  cfg.px.agent = g_strdup(g_getenv("TANDEM_GUEST_AGENT"));
  cfg.px.anim = build_path("tests/bench/tandem-bench-anim");
  cfg.px.fps = 60;
  cfg.keys = build_path("tests/bench/tandem-bench-keys");
  g_autoptr(GError) error = NULL;
  if (vm) {
    gboolean skipped = FALSE;
    g_autofree char *why = NULL;
    if (!bp_guest_start_vm(&G, &cfg, &skipped, &why, &error)) {
      fprintf(stderr, "%s\n", why ? why : error->message);
      return -1;
    }
  } else if (!bp_guest_start_loopback(&G, &cfg, &error)) {
    fprintf(stderr, "%s\n", error->message);
    return -1;
  }

  native = gtk_window_new(GTK_WINDOW_TOPLEVEL);
  gtk_window_set_title(GTK_WINDOW(native), "A native host window");
  gtk_window_set_default_size(GTK_WINDOW(native), 300, 200);
  gtk_window_move(GTK_WINDOW(native), 900, 500);
  g_signal_connect(native, "map-event", G_CALLBACK(on_native_map), NULL);
  gtk_widget_show(native);

  reports = g_ptr_array_new_with_free_func(g_free);
  if (vm) {
    if (!bp_launch_finish(bp_launch(&G, "tandem-keys-victim"), wait_s, NULL,
                          NULL, &error)) {
      fprintf(stderr, "launching in the guest: %s\n", error->message);
      return -1;
    }
  } else {
    g_autofree char *victim = g_strdup_printf("%d", VICTIM_KEYS);
    recorder = keys_recorder_spawn(G.display, cfg.keys, on_report, NULL,
                                   &error, "--windows", "2", "--victim",
                                   victim, "--titles", NULL);
    if (!recorder)
      return -1;
  }
  if (!bp_wait(native_shown, NULL, wait_s) ||
      !bp_wait(windows_ready, NULL, wait_s)) {
    fprintf(stderr, "the guest's windows did not all get a proxy\n");
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  keys_recorder_free(recorder);
  if (G.name)
    bp_guest_stop(&G);
  if (native)
    gtk_widget_destroy(native);
  px_stop(openbox, 5);
  if (xc)
    xcb_disconnect(xc);
  if (reports)
    g_ptr_array_unref(reports);
  bp_config_clear(&cfg, TRUE);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_closing_window_keys_go_nowhere),
      cmocka_unit_test(test_focus_taking_app_gets_no_keys),
      cmocka_unit_test(test_shift_held_from_a_native_window),
      cmocka_unit_test(test_alt_tab_leaves_nothing_behind),
  };
  /* The default guest under TCG: the closing window only (a boot costs
   * tens of seconds; the rest does not depend on the transport). */
  if (g_strcmp0(g_getenv("TANDEM_KEYS_GUEST"), "vm") == 0)
    return _cmocka_run_group_tests("keys-vm", tests, 1, setup, teardown);
  return cmocka_run_group_tests_name("keys", tests, setup, teardown);
}
