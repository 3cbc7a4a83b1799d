/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-pixels: results, shared with bench-proxy. */
#include "bench-pixels.h"

#include <string.h>

#include "bench-util.h"

void px_result_clear(PxResult *r) {
  g_free(r->system);
  g_free(r->transport);
  g_free(r->note);
  memset(r, 0, sizeof(*r));
}

void px_stats(const PxConfig *cfg, GArray *frames, guint32 window,
              gint64 t0, gint64 offset_ns, PxResult *r) {
  gint64 t1 = t0 + (gint64)(cfg->measure_s * 1e9);
  g_autoptr(GArray) lat = g_array_new(FALSE, FALSE, sizeof(double));
  const PxFrame *first = NULL, *last = NULL, *before = NULL;
  for (guint i = 0; i < frames->len; i++) {
    const PxFrame *f = &g_array_index(frames, PxFrame, i);
    if (window && f->window != window)
      continue;
    if (f->recv_ns < t0) {
      before = f;
      continue;
    }
    if (f->recv_ns >= t1)
      break;
    if (!first)
      first = f;
    last = f;
    double ms = (double)(f->recv_ns - (f->draw_ns - offset_ns)) / 1e6;
    g_array_append_val(lat, ms);
  }
  r->frames = (int)lat->len;
  r->fps = lat->len / cfg->measure_s;
  r->done = TRUE;
  if (!lat->len)
    return;
  /* Bytes since the frame before the window, so every frame counted
   * brings its own bytes. */
  if (before)
    r->bytes_per_frame = (double)(last->bytes - before->bytes) / lat->len;
  else if (lat->len > 1)
    r->bytes_per_frame = (double)(last->bytes - first->bytes) / (lat->len - 1);
  if (last->draw_ns > first->draw_ns)
    r->drawn_fps = (last->counter - first->counter) /
                   ((double)(last->draw_ns - first->draw_ns) / 1e9);
  r->p50_ms = bench_percentile((double *)(void *)lat->data, (int)lat->len, 0.5);
  r->p99_ms = bench_percentile((double *)(void *)lat->data, (int)lat->len, 0.99);
}

void px_app_result_init(PxAppResult *r, const char *system,
                        const char *transport, const char *app) {
  memset(r, 0, sizeof(*r));
  r->system = g_strdup(system);
  r->transport = g_strdup(transport);
  r->app = app;
  r->sent = -1;
  r->bytes_per_frame = r->damage_bytes_per_frame = -1;
  r->unshown_pct = -1;
  r->cpu_guest_ms = r->cpu_host_ms = -1;
}

void px_app_result_clear(PxAppResult *r) {
  g_free(r->system);
  g_free(r->transport);
  g_free(r->note);
  memset(r, 0, sizeof(*r));
}
