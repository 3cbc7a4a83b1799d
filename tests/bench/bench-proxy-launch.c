/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-proxy: warm launches, and the same program started directly.
 *
 * Warm: the guest runs and its agent is connected with its catalog. Each
 * run asks the hub to launch the app (tandem_guest_hub_launch_async, what
 * `tandemctl launch` ends in) and times, from that call:
 *   result  the launch's completion (the agent's LAUNCH_RESULT handled)
 *   map     the app's WINDOW_MAP handled by the proxy code on the host
 *   paint   the proxy's first "frame-painted"
 * and map -> paint, Tandem's own part once the guest has the window: its
 * pixels captured, sent, copied into the proxy and drawn by GTK. The
 * window is then closed (WINDOW_CLOSE) before the next run; the windows
 * that did not close within 2 s are counted (in loopback the app is then
 * killed).
 *
 * Baseline: the same program spawned on a local Xvfb, from the spawn to
 * the MapNotify of its top-level window (seen through SubstructureNotify
 * on the root), which is how long the app itself takes to show up; its
 * runs take turns with the loopback's, so both see the same load. */
#include "bench-proxy.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <xcb/xcb.h>

typedef struct {
  BpGuest *g;
  const char *res_name;
  gint64 after_ns;
} Shown;

static gboolean first_frame(gpointer data) {
  Shown *s = data;
  return bp_guest_find(s->g, s->res_name, s->after_ns, TRUE) != NULL;
}

static void add(GArray *a, gint64 from, gint64 to) {
  double ms = (double)(to - from) / 1e6;
  g_array_append_val(a, ms);
}

void bp_launch_result_clear(BpLaunchResult *r) {
  g_clear_pointer(&r->to_result, g_array_unref);
  g_clear_pointer(&r->to_map, g_array_unref);
  g_clear_pointer(&r->to_paint, g_array_unref);
  g_clear_pointer(&r->map_to_paint, g_array_unref);
  g_clear_pointer(&r->note, g_free);
}

void bp_baseline_result_clear(BpBaselineResult *r) {
  g_clear_pointer(&r->to_map, g_array_unref);
  g_clear_pointer(&r->note, g_free);
}

gboolean bp_run_launch(BpGuest *g, const BpConfig *cfg, const char *app_id,
                       const char *res_name, BpLaunchResult *r,
                       BpBaseline *base, BpBaselineResult *base_r,
                       GError **error) {
  r->to_result = g_array_new(FALSE, FALSE, sizeof(double));
  r->to_map = g_array_new(FALSE, FALSE, sizeof(double));
  r->to_paint = g_array_new(FALSE, FALSE, sizeof(double));
  r->map_to_paint = g_array_new(FALSE, FALSE, sizeof(double));
  r->done = TRUE;
  double wait_s = g->is_vm ? 60 : 15;
  for (int i = 0; i < cfg->launches; i++) {
    /* Turn about with the baseline: both under the same load. */
    if (base && !bp_baseline_run(base, base_r, error))
      return FALSE;
    Shown s = {g, res_name, px_now_ns()};
    gint64 t0 = s.after_ns, result_ns = 0;
    guint32 pid = 0;
    g_autoptr(GError) e = NULL;
    if (!bp_launch_finish(bp_launch(g, app_id), 30, &result_ns, &pid, &e)) {
      r->failures++;
      if (!r->note)
        r->note = g_strdup_printf("launch of %s: %s", app_id, e->message);
      continue;
    }
    if (!bp_wait(first_frame, &s, wait_s)) {
      r->failures++;
      if (!r->note)
        r->note = g_strdup_printf("no frame of %s painted within %.0f s",
                                  app_id, wait_s);
      continue;
    }
    BpWindow *w = bp_guest_find(g, res_name, t0, TRUE);
    add(r->to_result, t0, result_ns);
    add(r->to_map, t0, w->map_ns);
    add(r->to_paint, t0, w->first_paint_ns);
    add(r->map_to_paint, w->map_ns, w->first_paint_ns);
    r->runs++;
    /* Closed as the user would; an app that stays open does not change
     * the next launch's figures (the VM keeps it). */
    if (!bp_guest_close(g, w->id, 2)) {
      r->unclosed++;
      if (!g->is_vm && pid)
        kill((pid_t)pid, SIGKILL); /* loopback: the guest's pid is ours */
    }
  }
  return TRUE;
}

/* --- The baseline ------------------------------------------------------------- */

/* Waits for the MapNotify of a top-level window on @c (root's
 * SubstructureNotify selected); its time, or 0 after @seconds. */
static gint64 wait_map(xcb_connection_t *c, xcb_window_t root,
                       double seconds) {
  gint64 end = px_now_ns() + (gint64)(seconds * 1e9);
  for (;;) {
    xcb_generic_event_t *ev;
    while ((ev = xcb_poll_for_event(c))) {
      gboolean top = (ev->response_type & 0x7f) == XCB_MAP_NOTIFY &&
                     ((xcb_map_notify_event_t *)ev)->event == root &&
                     !((xcb_map_notify_event_t *)ev)->override_redirect;
      free(ev);
      if (top)
        return px_now_ns();
    }
    gint64 left = end - px_now_ns();
    if (left <= 0 || xcb_connection_has_error(c))
      return 0;
    struct pollfd p = {xcb_get_file_descriptor(c), POLLIN, 0};
    poll(&p, 1, (int)(left / 1000000) + 1);
  }
}

struct BpBaseline {
  char *program;
  GSubprocess *xvfb;
  char *display;
  xcb_connection_t *c;
  xcb_window_t root;
};

void bp_baseline_free(BpBaseline *b) {
  if (!b)
    return;
  if (b->c)
    xcb_disconnect(b->c);
  px_stop(b->xvfb, 5);
  g_free(b->display);
  g_free(b->program);
  g_free(b);
}

BpBaseline *bp_baseline_new(const BpConfig *cfg, const char *program,
                            GError **error) {
  BpBaseline *b = g_new0(BpBaseline, 1);
  b->program = g_strdup(program);
  g_autofree char *dir = g_build_filename(cfg->px.tmp, "baseline", NULL);
  g_mkdir_with_parents(dir, 0700);
  b->xvfb = px_xvfb_start(dir, &b->display, error);
  if (!b->xvfb) {
    bp_baseline_free(b);
    return NULL;
  }
  b->c = xcb_connect(b->display, NULL);
  if (xcb_connection_has_error(b->c)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot open %s",
                b->display);
    bp_baseline_free(b);
    return NULL;
  }
  b->root = xcb_setup_roots_iterator(xcb_get_setup(b->c)).data->root;
  uint32_t mask = XCB_EVENT_MASK_SUBSTRUCTURE_NOTIFY;
  free(xcb_request_check(b->c, xcb_change_window_attributes_checked(
                                   b->c, b->root, XCB_CW_EVENT_MASK, &mask)));
  return b;
}

gboolean bp_baseline_run(BpBaseline *b, BpBaselineResult *r,
                         GError **error) {
  if (!r->to_map)
    r->to_map = g_array_new(FALSE, FALSE, sizeof(double));
  r->done = TRUE;
  xcb_generic_event_t *stale; /* the last run's unmap and destroy */
  while ((stale = xcb_poll_for_event(b->c)))
    free(stale);
  gint64 t0 = px_now_ns();
  GSubprocess *app = px_spawn(b->display, NULL, NULL, error, b->program,
                              NULL);
  if (!app)
    return FALSE;
  gint64 mapped = wait_map(b->c, b->root, 15);
  if (mapped)
    add(r->to_map, t0, mapped);
  else if (!r->note)
    r->note = g_strdup_printf("%s mapped no window within 15 s", b->program);
  px_stop(app, 5);
  r->runs += mapped != 0;
  return TRUE;
}
