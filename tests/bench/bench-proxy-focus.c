/* bench-proxy: focus, through the proxy code and the real agent.
 *
 * The guest runs tandem-bench-keys: three windows that print every key
 * press they receive. The host has their three proxies and a native
 * window of its own (a plain GtkWindow). The benchmark plays the user
 * with a connection of its own to the host display: XSetInputFocus on a
 * window (there is no window manager; that is the request one would
 * make), XTest for keys. Nothing sleeps: every wait is on an event, with
 * a bound.
 *
 * Latency: XSetInputFocus on a window -> the agent's FOCUS_REPORT of the
 * guest focus that follows handled on the host (the proxy manager's
 * "focus-changed" with its guest focus on that proxy's window, or on the
 * stub for the native window). Switches to the native window include the
 * focus machine's debounce (TF_DEBOUNCE_MS) by design. Beside it, the
 * host's own part: XSetInputFocus -> GTK's focus-in-event on the window,
 * which is all a switch between native windows costs.
 *
 * Misrouting (loopback, where the recorder's output can be read): a
 * seeded random run of steps, each moving host focus (to a proxy or the
 * native window), typing a key, or both. A key typed on a proxy is waited
 * for until some window reports it (bounded); a key typed on the native
 * window is not waited for, it must never arrive. Every typed key gets
 * the next of 26 letter keycodes in turn, so the reports (which come in
 * the order of typing: one channel, one recorder client) are matched to
 * the keys typed; a key reported by a window whose proxy did not have host
 * focus when it was typed, or a report matching no key typed, is
 * misrouted. */
#include "bench-proxy.h"

#include <gdk/gdkx.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

#define N_PROXIES 3
#define NATIVE N_PROXIES
#define KEY_WAIT_S 5.0

static const guint8 keycodes[] = {24, 25, 26, 27, 28, 29, 30, 31, 32,
                                  33, 38, 39, 40, 41, 42, 43, 44, 45,
                                  46, 52, 53, 54, 55, 56, 57, 58};

typedef struct {
  guint64 id;
  int target; /* 0..N_PROXIES-1, or NATIVE */
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
  /* The recorder (loopback) */
  GSubprocess *keys;
  guint watch;
  GString *buf;
  gboolean ready;
  GQueue typed; /* Typed, oldest first */
  guint64 next_id, resolved;
  BpMisrouteResult *m;
  char *unexpected; /* the first misrouted report, for the note */
} Focus;

static BpWindow *target_state(Focus *f, int target) {
  return target == NATIVE
             ? &f->native_state
             : g_hash_table_lookup(f->g->windows,
                                   GUINT_TO_POINTER(f->ids[target]));
}

/* --- The recorder's reports ---------------------------------------------- */

static void on_report(Focus *f, const char *line) {
  if (g_str_equal(line, "ready")) {
    f->ready = TRUE;
    return;
  }
  char name[80];
  unsigned kc;
  if (!f->m || sscanf(line, "%79s %u", name, &kc) != 2)
    return;
  f->m->delivered++;
  int window = -1;
  for (int i = 0; i < N_PROXIES; i++) {
    g_autofree char *n = g_strdup_printf("keys-%d", i + 1);
    if (g_str_equal(n, name))
      window = i;
  }
  Typed *hit = NULL;
  for (GList *l = f->typed.head; l && !hit; l = l->next)
    if (((Typed *)l->data)->keycode == kc)
      hit = l->data;
  if (!hit || hit->target != window) {
    f->m->misrouted++;
    if (!f->unexpected)
      f->unexpected = g_strdup_printf(
          "%s got keycode %u, typed %s", name, kc,
          !hit ? "nowhere recently"
               : hit->target == NATIVE ? "on the native window"
                                       : "on another proxy");
  }
  if (!hit)
    return;
  /* Everything typed before it has had its chance: reports come in
   * order. */
  Typed *t;
  while ((t = g_queue_pop_head(&f->typed)) != hit)
    g_free(t);
  f->resolved = hit->id;
  g_free(hit);
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer data) {
  Focus *f = data;
  char chunk[4096];
  ssize_t n = read(fd, chunk, sizeof(chunk));
  if (n <= 0) {
    f->watch = 0;
    return G_SOURCE_REMOVE;
  }
  g_string_append_len(f->buf, chunk, n);
  char *nl;
  while ((nl = memchr(f->buf->str, '\n', f->buf->len))) {
    *nl = '\0';
    on_report(f, f->buf->str);
    g_string_erase(f->buf, 0, nl - f->buf->str + 1);
  }
  return G_SOURCE_CONTINUE;
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
  return f->native_state.viewable && (f->g->is_vm || f->ready);
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
  f->buf = g_string_new("");
  if (g->is_vm) {
    g_autoptr(GError) e = NULL;
    if (!bp_launch_finish(bp_launch(g, "tandem-bench-keys"), 30, NULL, NULL,
                          &e)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                  "launching tandem-bench-keys in the guest: %s", e->message);
      return FALSE;
    }
  } else {
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    g_subprocess_launcher_setenv(l, "DISPLAY", g->display, TRUE);
    f->keys = g_subprocess_launcher_spawn(l, error, cfg->keys, "--windows",
                                          "3", NULL);
    if (!f->keys)
      return FALSE;
    int fd = g_unix_input_stream_get_fd(
        G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(f->keys)));
    f->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP, on_readable, f);
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
  if (f->watch)
    g_source_remove(f->watch);
  f->watch = 0;
  if (f->keys) {
    px_stop(f->keys, 5);
    f->keys = NULL;
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
  g_queue_clear_full(&f->typed, g_free);
  if (f->buf)
    g_string_free(f->buf, TRUE);
  f->buf = NULL;
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

static void type_key(Focus *f, guint8 kc) {
  xcb_test_fake_input(f->x, XCB_KEY_PRESS, kc, XCB_CURRENT_TIME, XCB_NONE, 0,
                      0, 0);
  xcb_test_fake_input(f->x, XCB_KEY_RELEASE, kc, XCB_CURRENT_TIME, XCB_NONE,
                      0, 0, 0);
  xcb_flush(f->x);
}

typedef struct {
  Focus *f;
  guint64 id;
} Awaited;

static gboolean resolved(gpointer data) {
  Awaited *a = data;
  return a->f->resolved >= a->id;
}

static void run_misroute(Focus *f, GRand *rand, BpMisrouteResult *m) {
  f->m = m;
  int current = NATIVE;
  gint64 t0 = px_now_ns();
  set_focus(f, NATIVE);
  for (int step = 0; step <= m->steps; step++) {
    /* The last step settles the run: a key on a proxy, waited for, after
     * which every stray report would have come. */
    gboolean last = step == m->steps;
    int action = last ? 2 : g_rand_int_range(rand, 0, 3); /* move, type, both */
    if (action != 1) {
      current = last ? 0 : g_rand_int_range(rand, 0, N_PROXIES + 1);
      set_focus(f, current);
      m->focus_moves++;
    }
    if (action == 0)
      continue;
    Typed *t = g_new(Typed, 1);
    t->id = ++f->next_id;
    t->target = current;
    t->keycode = keycodes[m->typed % G_N_ELEMENTS(keycodes)];
    g_queue_push_tail(&f->typed, t);
    type_key(f, t->keycode);
    m->typed++;
    if (current == NATIVE)
      continue;
    m->typed_to_proxies++;
    Awaited a = {f, t->id};
    if (!bp_wait(resolved, &a, KEY_WAIT_S)) {
      m->lost++;
      Typed *old; /* forget it and whatever came before */
      while ((old = g_queue_peek_head(&f->typed)) && old->id <= a.id)
        g_free(g_queue_pop_head(&f->typed));
      f->resolved = a.id;
    }
  }
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
      bp_progress("%s: focus: typing", g->name);
      run_misroute(&f, rand2, m);
    }
  }
  bp_progress("%s: focus: closing", g->name);
  g_signal_handler_disconnect(g->pm, h);
  stop(&f);
  return ok;
}
