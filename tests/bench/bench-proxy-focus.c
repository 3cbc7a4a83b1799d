/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-proxy: focus, through the proxy code and the real agent.
 *
 * The guest runs tandem-bench-keys: three windows that print every key
 * press they receive (and, for the hazards, a fourth that closes on a
 * key). The host has their proxies and a native window of its own (a
 * plain GtkWindow). The benchmark plays the user with a connection of its
 * own to the host display: XSetInputFocus on a window (there is no window
 * manager; that is the request one would make), XTest for keys. Nothing
 * sleeps: every wait is on an event, with a bound.
 *
 * Latency: XSetInputFocus on a window -> the agent's FOCUS_REPORT of the
 * guest focus that follows handled on the host (the proxy manager's
 * "focus-changed" with its guest focus on that proxy's window, or on the
 * stub for the native window). Switches to the native window include the
 * focus machine's debounce (TF_DEBOUNCE_MS) by design. Beside it, the
 * host's own part: XSetInputFocus -> GTK's focus-in-event on the window,
 * which is all a switch between native windows costs.
 *
 * Misrouting (loopback, where the recorders' output can be read): a
 * seeded random run of steps, each moving host focus (to a proxy or the
 * native window), typing a key, pressing or releasing Shift, or several
 * of these, with the guest-side hazards on:
 *   - "victim-N", a window that closes on its Nth key, gets bursts that
 *     run past that key, while the guest pointer rests over keys-1 (the
 *     keys after the closing one must go nowhere: not to keys-1);
 *   - "thief-1", a second application, takes the guest's focus every few
 *     ms (it must get no key typed on another proxy);
 *   - Shift pressed over one window is held across focus switches (keys
 *     must arrive with exactly the Shift they were typed with).
 * Every typed key gets the next of 26 letter keycodes in turn, so the
 * reports (which come in the order of typing: one channel, and the
 * recorders' clients see the X server's order) are matched to the keys
 * typed. A key counts against the host's focus before and after it was
 * typed (the same window, else it is left out); a report from a window
 * other than that one, or matching no key typed, is misrouted. A key typed
 * on a proxy is waited for (bounded), except in a burst into the closing
 * window; a key typed on the native window is not waited for, it must
 * never arrive. */
#include "bench-proxy.h"

#include <gdk/gdkx.h>
#include <stdio.h>
#include <string.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

#include "keys-recorder.h"

#define N_PROXIES 3
#define NATIVE N_PROXIES
#define KEY_WAIT_S 5.0
#define VICTIM_WAIT_S 10.0
#define KC_SHIFT 50

static const guint8 keycodes[] = {24, 25, 26, 27, 28, 29, 30, 31, 32,
                                  33, 38, 39, 40, 41, 42, 43, 44, 45,
                                  46, 52, 53, 54, 55, 56, 57, 58};

/* Where the hazard run moves host focus to. */
enum { T_KEYS = 0, T_VICTIM = N_PROXIES, T_THIEF, T_NATIVE, N_TARGETS };

typedef struct {
  guint64 id;
  char *window;      /* the guest window it must reach; NULL: none */
  gboolean excluded; /* host focus moved while it was typed */
  gboolean shift;    /* typed with Shift held */
  guint8 keycode;
} Typed;

typedef struct {
  BpGuest *g;
  xcb_connection_t *x;
  GtkWidget *native;
  BpWindow native_state; /* its viewable flag and focus-in time */
  guint32 ids[N_PROXIES];
  xcb_window_t xids[N_PROXIES + 1];
  /* One switch */
  int want;
  gint64 t0, confirmed_ns;
  /* The recorders (loopback) */
  KeysRecorder *keys, *thief;
  GQueue typed; /* Typed, oldest first */
  guint64 next_id, resolved;
  BpMisrouteResult *m;
  char *unexpected; /* the first misrouted report, for the note */
  /* The hazards */
  guint victim_no;  /* the closing window now: victim-N */
  int victim_typed; /* keys typed into it so far */
  gboolean shift;   /* the user holds Shift */
} Focus;

static void typed_free(Typed *t) {
  g_free(t->window);
  g_free(t);
}

static BpWindow *target_state(Focus *f, int target) {
  return target == NATIVE
             ? &f->native_state
             : g_hash_table_lookup(f->g->windows,
                                   GUINT_TO_POINTER(f->ids[target]));
}

/* --- The recorders' reports -------------------------------------------------- */

static void misrouted(Focus *f, const KeysReport *r, const char *typed) {
  f->m->misrouted++;
  if (!f->unexpected)
    f->unexpected = g_strdup_printf("%s got keycode %u, typed %s", r->name,
                                    r->keycode, typed);
}

static void on_report(const KeysReport *r, gpointer data) {
  Focus *f = data;
  if (!f->m || r->keycode == KC_SHIFT)
    return; /* Shift itself: pressed by the user or made the host's */
  f->m->delivered++;
  Typed *hit = NULL;
  for (GList *l = f->typed.head; l && !hit; l = l->next)
    if (((Typed *)l->data)->keycode == r->keycode)
      hit = l->data;
  if (!hit)
    misrouted(f, r, "nowhere recently");
  else if (!hit->excluded && !hit->window)
    misrouted(f, r, "on the native window");
  else if (!hit->excluded && !g_str_equal(hit->window, r->name))
    misrouted(f, r, "on another proxy");
  else if (!hit->excluded && ((r->state & 1) != 0) != hit->shift)
    f->m->wrong_shift++;
  if (!hit)
    return;
  /* Everything typed before it has had its chance: reports come in
   * order. */
  Typed *t;
  while ((t = g_queue_pop_head(&f->typed)) != hit)
    typed_free(t);
  f->resolved = hit->id;
  typed_free(hit);
}

/* --- Setting up -------------------------------------------------------------- */

static gboolean windows_ready(gpointer data) {
  Focus *f = data;
  for (int i = 0; i < N_PROXIES; i++) {
    g_autofree char *title = g_strdup_printf("keys-%d", i + 1);
    BpWindow *w = bp_guest_find_title(f->g, title);
    if (!w || !w->proxy || !w->viewable)
      return FALSE;
    f->ids[i] = w->id;
    f->xids[i] = (xcb_window_t)gdk_x11_window_get_xid(
        gtk_widget_get_window(GTK_WIDGET(w->proxy)));
  }
  return f->native_state.viewable &&
         (f->g->is_vm || keys_recorder_ready(f->keys));
}

static gboolean on_native_map(GtkWidget *widget, GdkEvent *ev, gpointer data) {
  ((BpWindow *)data)->viewable = TRUE;
  return FALSE;
}

static gboolean on_native_focus(GtkWidget *widget, GdkEvent *ev,
                                gpointer data) {
  ((BpWindow *)data)->focus_in_ns = px_now_ns();
  return FALSE;
}

static gboolean start(Focus *f, const BpConfig *cfg, GError **error) {
  BpGuest *g = f->g;
  const char *dpy = gdk_display_get_name(gdk_display_get_default());
  f->x = xcb_connect(dpy, NULL);
  if (xcb_connection_has_error(f->x)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot open %s", dpy);
    return FALSE;
  }
  f->native = gtk_window_new(GTK_WINDOW_TOPLEVEL);
  gtk_window_set_title(GTK_WINDOW(f->native), "A native host window");
  gtk_window_set_default_size(GTK_WINDOW(f->native), 300, 200);
  gtk_window_move(GTK_WINDOW(f->native), 1500, 800);
  g_signal_connect(f->native, "map-event", G_CALLBACK(on_native_map),
                   &f->native_state);
  g_signal_connect(f->native, "focus-in-event", G_CALLBACK(on_native_focus),
                   &f->native_state);
  gtk_widget_show(f->native);
  f->xids[NATIVE] = (xcb_window_t)gdk_x11_window_get_xid(
      gtk_widget_get_window(f->native));
  if (g->is_vm) {
    g_autoptr(GError) e = NULL;
    if (!bp_launch_finish(bp_launch(g, "tandem-bench-keys"), 30, NULL, NULL,
                          &e)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                  "launching tandem-bench-keys in the guest: %s", e->message);
      return FALSE;
    }
  } else {
    /* With the closing window of the hazard run, below the three. */
    g_autofree char *victim = g_strdup_printf("%d", cfg->victim_keys);
    f->keys = keys_recorder_spawn(g->display, cfg->keys, on_report, f, error,
                                  "--windows", "3", "--victim", victim,
                                  NULL);
    if (!f->keys)
      return FALSE;
    f->victim_no = 1;
  }
  if (!bp_wait(windows_ready, f, g->is_vm ? 60 : 15)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "the three windows of tandem-bench-keys did not all get a "
                "mapped proxy within %d s", g->is_vm ? 60 : 15);
    return FALSE;
  }
  return TRUE;
}

static void stop(Focus *f) {
  g_clear_pointer(&f->thief, keys_recorder_free);
  if (f->keys) {
    g_clear_pointer(&f->keys, keys_recorder_free);
  } else if (f->g->link) {
    for (int i = 0; i < N_PROXIES; i++)
      if (f->ids[i])
        bp_guest_close(f->g, f->ids[i], 10);
  }
  if (f->native)
    gtk_widget_destroy(f->native);
  f->native = NULL;
  if (f->x)
    xcb_disconnect(f->x);
  f->x = NULL;
  g_queue_clear_full(&f->typed, (GDestroyNotify)typed_free);
  g_clear_pointer(&f->unexpected, g_free);
}

/* --- Switching ------------------------------------------------------------------ */

static void set_focus(Focus *f, int target) {
  xcb_set_input_focus(f->x, XCB_INPUT_FOCUS_PARENT, f->xids[target],
                      XCB_CURRENT_TIME);
  xcb_flush(f->x);
}

static gboolean guest_has(Focus *f, int target) {
  guint kind;
  guint32 w = tandem_proxy_manager_get_guest_focus(f->g->pm, &kind);
  return target == NATIVE ? kind == TP_FOCUS_STUB
                          : kind == TP_FOCUS_WINDOW && w == f->ids[target];
}

static void on_focus_changed(TandemProxyManager *pm, gpointer data) {
  Focus *f = data;
  if (f->t0 && !f->confirmed_ns && guest_has(f, f->want))
    f->confirmed_ns = px_now_ns();
}

static gboolean switched(gpointer data) {
  Focus *f = data;
  BpWindow *w = target_state(f, f->want);
  /* The guest may have been there already (the first switch): nothing
   * changes, nothing is signalled. */
  if (!f->confirmed_ns && guest_has(f, f->want))
    f->confirmed_ns = px_now_ns();
  return f->confirmed_ns && w && w->focus_in_ns >= f->t0;
}

/* Moves host focus to @target and waits for the guest to confirm. */
static gboolean switch_to(Focus *f, int target, double *total_ms,
                          double *host_ms) {
  f->want = target;
  f->confirmed_ns = 0;
  f->t0 = px_now_ns();
  set_focus(f, target);
  gboolean ok = bp_wait(switched, f, f->g->is_vm ? 10 : 5);
  if (ok) {
    *total_ms = (double)(f->confirmed_ns - f->t0) / 1e6;
    *host_ms = (double)(target_state(f, target)->focus_in_ns - f->t0) / 1e6;
  }
  f->t0 = 0;
  return ok;
}

static void run_switches(Focus *f, GRand *rand, int switches,
                         BpFocusResult *r) {
  int current = NATIVE;
  double total, host;
  /* Start from the native window, guest focus on the stub. */
  switch_to(f, NATIVE, &total, &host);
  for (int i = 0; i < switches; i++) {
    int target;
    do
      target = g_rand_int_range(rand, 0, N_PROXIES + 1);
    while (target == current);
    if (!switch_to(f, target, &total, &host)) {
      r->timeouts++;
      current = target;
      continue;
    }
    GArray *a = target == NATIVE    ? r->to_native
                : current == NATIVE ? r->to_proxy_from_native
                                    : r->to_proxy_from_proxy;
    g_array_append_val(a, total);
    g_array_append_val(r->host_focus_in, host);
    r->switches++;
    current = target;
  }
}

/* --- Typing ------------------------------------------------------------------------ */

static void fake_key(Focus *f, guint8 type, guint8 kc) {
  xcb_test_fake_input(f->x, type, kc, XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
}

static xcb_window_t host_focus(Focus *f) {
  xcb_get_input_focus_reply_t *r =
      xcb_get_input_focus_reply(f->x, xcb_get_input_focus(f->x), NULL);
  xcb_window_t w = r ? r->focus : XCB_NONE;
  free(r);
  return w;
}

/* Types one key on @host_window, which must take it to the guest window
 * @window (NULL: to none); the key counts against the host's focus before
 * and after it. Returns its id. */
static guint64 type_one(Focus *f, xcb_window_t host_window,
                        const char *window) {
  BpMisrouteResult *m = f->m;
  Typed *t = g_new0(Typed, 1);
  t->id = ++f->next_id;
  t->window = g_strdup(window);
  t->shift = f->shift;
  t->keycode = keycodes[m->typed % G_N_ELEMENTS(keycodes)];
  gboolean before = host_focus(f) == host_window;
  g_queue_push_tail(&f->typed, t);
  fake_key(f, XCB_KEY_PRESS, t->keycode);
  fake_key(f, XCB_KEY_RELEASE, t->keycode);
  t->excluded = !before || host_focus(f) != host_window;
  m->excluded += t->excluded;
  m->typed++;
  m->typed_shifted += t->shift;
  m->typed_to_proxies += window != NULL;
  return t->id;
}

typedef struct {
  Focus *f;
  guint64 id;
} Awaited;

static gboolean resolved(gpointer data) {
  Awaited *a = data;
  return a->f->resolved >= a->id;
}

/* Waits for the report of key @id: everything typed before it has had its
 * chance then. */
static void await_key(Focus *f, guint64 id) {
  Awaited a = {f, id};
  if (bp_wait(resolved, &a, KEY_WAIT_S))
    return;
  f->m->lost++;
  Typed *old; /* forget it and whatever came before */
  while ((old = g_queue_peek_head(&f->typed)) && old->id <= id)
    typed_free(g_queue_pop_head(&f->typed));
  f->resolved = id;
}

static void press_shift(Focus *f, gboolean down) {
  f->shift = down;
  fake_key(f, down ? XCB_KEY_PRESS : XCB_KEY_RELEASE, KC_SHIFT);
  xcb_flush(f->x);
}

/* The window a target stands for now: its proxy's X window, and the
 * guest window's name (NULL for the native window). */
static xcb_window_t target_window(Focus *f, int target, char **name) {
  *name = target == T_VICTIM  ? g_strdup_printf("victim-%u", f->victim_no)
          : target == T_THIEF ? g_strdup("thief-1")
          : target < N_PROXIES ? g_strdup_printf("keys-%d", target + 1)
                               : NULL;
  if (target == T_NATIVE)
    return f->xids[NATIVE];
  return bp_window_xid(bp_guest_find_title(f->g, *name));
}

/* The newest closing window with a proxy: victim-N, N the largest. */
static guint newest_victim(Focus *f) {
  guint newest = 0;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init(&it, f->g->windows);
  while (g_hash_table_iter_next(&it, NULL, &v)) {
    BpWindow *w = v;
    guint n;
    if (w->title && sscanf(w->title, "victim-%u", &n) == 1 && n > newest &&
        bp_window_xid(w))
      newest = n;
  }
  return newest;
}

static gboolean victim_back(gpointer data) {
  Focus *f = data;
  return newest_victim(f) > f->victim_no;
}

/* A burst into the closing window, most of the time past its closing
 * key; then its successor. */
static void type_into_victim(Focus *f, GRand *rand, xcb_window_t host_window,
                             const char *name, int victim_keys) {
  int left = victim_keys - f->victim_typed;
  int n = g_rand_boolean(rand) ? left + g_rand_int_range(rand, 0, 7)
                               : g_rand_int_range(rand, 1, left + 1);
  for (int i = 0; i < n; i++)
    type_one(f, host_window, name);
  xcb_flush(f->x);
  f->victim_typed += n;
  if (f->victim_typed < victim_keys)
    return;
  f->m->victims_closed++;
  f->m->typed_into_closing += f->victim_typed - victim_keys;
  if (!bp_wait(victim_back, f, VICTIM_WAIT_S))
    f->m->lost++;
  f->victim_no = MAX(f->victim_no + 1, newest_victim(f));
  f->victim_typed = 0;
}

static gboolean thief_ready(gpointer data) {
  Focus *f = data;
  return keys_recorder_ready(f->thief) &&
         bp_window_xid(bp_guest_find_title(f->g, "thief-1")) != XCB_NONE;
}

/* The guest pointer over keys-1: the host pointer over its proxy. */
static void pointer_over_keys1(Focus *f) {
  BpWindow *w = bp_guest_find_title(f->g, "keys-1");
  GdkWindow *gw = gtk_widget_get_window(GTK_WIDGET(w->proxy));
  int x, y;
  gdk_window_get_origin(gw, &x, &y);
  xcb_test_fake_input(f->x, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME,
                      xcb_setup_roots_iterator(xcb_get_setup(f->x)).data->root,
                      (int16_t)(x + 40), (int16_t)(y + 40), 0);
  xcb_flush(f->x);
}

static int random_target(GRand *rand) {
  int r = g_rand_int_range(rand, 0, 100);
  return r < 60   ? r % N_PROXIES
         : r < 78 ? T_VICTIM
         : r < 96 ? T_NATIVE
                  : T_THIEF;
}

static void run_misroute(Focus *f, const BpConfig *cfg, GRand *rand,
                         BpMisrouteResult *m) {
  f->m = m;
  g_autoptr(GError) error = NULL;
  g_autofree char *steal = g_strdup_printf("%d", cfg->steal_ms);
  /* An application that takes focus every few ms, beside the others. */
  f->thief = keys_recorder_spawn(f->g->display, cfg->keys, on_report, f,
                                 &error, "--name", "thief", "--windows", "1",
                                 "--at", "20,500", "--steal", steal, NULL);
  if (!f->thief || !bp_wait(thief_ready, f, 15)) {
    m->note = g_strdup_printf("the focus-taking application did not start: "
                              "%s", error ? error->message : "no proxy");
    f->m = NULL;
    return;
  }
  pointer_over_keys1(f);
  int current = T_NATIVE;
  gint64 t0 = px_now_ns();
  set_focus(f, NATIVE);
  for (int step = 0; step <= m->steps; step++) {
    /* The last step settles the run: a key on keys-1, waited for, after
     * which every stray report would have come. */
    gboolean last = step == m->steps;
    if (!last && g_rand_int_range(rand, 0, 100) < 8) {
      press_shift(f, !f->shift); /* wherever focus is */
      continue;
    }
    int action = last ? 2 : g_rand_int_range(rand, 0, 3); /* move, type, both */
    g_autofree char *name = NULL;
    xcb_window_t host_window;
    if (action != 1) {
      current = last ? 0 : random_target(rand);
      host_window = target_window(f, current, &name);
      if (!host_window)
        continue; /* between two closing windows */
      xcb_set_input_focus(f->x, XCB_INPUT_FOCUS_PARENT, host_window,
                          XCB_CURRENT_TIME);
      m->focus_moves++;
      m->shift_switches += f->shift;
    } else {
      host_window = target_window(f, current, &name);
    }
    if (action == 0 || !host_window)
      continue;
    if (current == T_VICTIM) {
      type_into_victim(f, rand, host_window, name, cfg->victim_keys);
      current = T_NATIVE; /* its proxy is gone: focus is nowhere known */
      set_focus(f, NATIVE);
      continue;
    }
    guint64 id = type_one(f, host_window, name);
    xcb_flush(f->x);
    if (current != T_NATIVE)
      await_key(f, id);
  }
  if (f->shift)
    press_shift(f, FALSE);
  m->seconds = (double)(px_now_ns() - t0) / 1e9;
  m->done = TRUE;
  if (f->unexpected)
    m->note = g_strdup_printf("first misrouted: %s", f->unexpected);
  f->m = NULL;
}

/* --- The case ------------------------------------------------------------------- */

void bp_focus_result_clear(BpFocusResult *r) {
  g_clear_pointer(&r->to_proxy_from_proxy, g_array_unref);
  g_clear_pointer(&r->to_proxy_from_native, g_array_unref);
  g_clear_pointer(&r->to_native, g_array_unref);
  g_clear_pointer(&r->host_focus_in, g_array_unref);
  g_clear_pointer(&r->note, g_free);
}

gboolean bp_run_focus(BpGuest *g, const BpConfig *cfg, int switches,
                      BpFocusResult *r, BpMisrouteResult *m, GError **error) {
  r->to_proxy_from_proxy = g_array_new(FALSE, FALSE, sizeof(double));
  r->to_proxy_from_native = g_array_new(FALSE, FALSE, sizeof(double));
  r->to_native = g_array_new(FALSE, FALSE, sizeof(double));
  r->host_focus_in = g_array_new(FALSE, FALSE, sizeof(double));
  Focus f = {.g = g};
  g_queue_init(&f.typed);
  f.victim_no = 1;
  gulong h = g_signal_connect(g->pm, "focus-changed",
                              G_CALLBACK(on_focus_changed), &f);
  gboolean ok = start(&f, cfg, error);
  if (ok) {
    g_autoptr(GRand) rand = g_rand_new_with_seed(cfg->seed);
    bp_progress("%s: focus: windows ready, switching", g->name);
    run_switches(&f, rand, switches, r);
    r->done = TRUE;
    if (m) {
      g_autoptr(GRand) rand2 = g_rand_new_with_seed(cfg->seed);
      m->seed = cfg->seed;
      bp_progress("%s: focus: typing, with the hazards", g->name);
      run_misroute(&f, cfg, rand2, m);
    }
  }
  bp_progress("%s: focus: closing", g->name);
  g_signal_handler_disconnect(g->pm, h);
  stop(&f);
  return ok;
}
