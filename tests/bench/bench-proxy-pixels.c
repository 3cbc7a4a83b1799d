/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-proxy: guest damage to host paint, through the proxy code.
 *
 * tandem-bench-anim (1280x720, 60 frames per second, every frame stamped
 * with its number and draw time, bench-stamp.h) is launched in the guest
 * through the hub, as a menu entry would launch it. For each frame the
 * host reads the stamp back from the proxy's pixels
 * (tandem_proxy_window_get_surface) at two moments:
 *   received  the link's "window-message" for the frame's last DAMAGE,
 *             after the proxy manager's handler: the frame is in the
 *             proxy's surface, not drawn yet
 *   painted   the proxy's "frame-painted": GTK drew the window (the
 *             surface onto the window's buffer, in its frame clock's
 *             paint phase) and the frame was acknowledged
 * latency = that moment minus the draw time in the stamp (the guest's
 * clock brought to ours with the offset from our heartbeats in the VM;
 * the same clock in loopback). A frame counts once, at the first moment
 * its stamp (or a newer one) is seen; frames that were overtaken before
 * being painted are not counted as painted, so "fps" is frames shown per
 * second. */
#include "bench-proxy.h"

#include <glib/gstdio.h>
#include <unistd.h>

typedef struct {
  BpGuest *g;
  gint64 after_ns;
  guint32 id;
} FirstFrame;

static gboolean first_painted(gpointer data) {
  FirstFrame *ff = data;
  BpWindow *w = bp_guest_find(ff->g, "tandem-bench-anim", ff->after_ns, TRUE);
  if (w && w->paint_counter >= 0)
    ff->id = w->id;
  return ff->id != 0;
}

static void init_result(PxResult *r, BpGuest *g, const char *system,
                        const char *mode) {
  r->system = g_strdup(system);
  r->transport = g_strdup(g->transport);
  r->mode = mode;
  r->app_fps = -1;
  r->unshown_pct = -1;
  r->cpu_guest_ms = r->cpu_host_ms = -1;
}

/* CPU so far of the guest's side (the agent and its X server in loopback,
 * all of QEMU in a VM: the app's drawing too) and of the host's (this
 * process, where the shell's code runs, and the host's X server). */
static void sample_cpu(BpGuest *g, guint64 *guest, guint64 *host) {
  *guest = g->is_vm ? px_cpu_ns(tandem_vm_get_pid(g->vm))
                    : px_cpu_ns(px_pid(g->agent)) + px_cpu_ns(px_pid(g->xvfb));
  *host = px_cpu_ns(getpid()) + px_cpu_ns(bp_host_display_pid());
}

gboolean bp_run_pixels(BpGuest *g, const BpConfig *cfg, const char *mode,
                       PxResult *received, PxResult *painted,
                       GError **error) {
  init_result(received, g, "Tandem recv", mode);
  init_result(painted, g, "Tandem paint", mode);
  g_autofree char *app = g_strdup_printf("tandem-bench-anim-%s", mode);
  g_autofree char *log = g_strdup_printf("%s/anim-%s.log", g->dir, mode);
  g_unlink(log);
  g_array_set_size(g->received, 0);
  g_array_set_size(g->painted, 0);
  g->unstamped = 0;
  bp_guest_reset_clock(g);
  double wait_s = g->is_vm ? 60 : 15;
  g_autoptr(GError) launch_error = NULL;
  FirstFrame ff = {g, px_now_ns(), 0};
  if (!bp_launch_finish(bp_launch(g, app), 30, NULL, NULL, &launch_error)) {
    painted->note = g_strdup_printf("launch of %s: %s", app,
                                    launch_error->message);
    received->note = g_strdup(painted->note);
    return TRUE;
  }
  if (!bp_wait(first_painted, &ff, wait_s)) {
    painted->done = received->done = TRUE;
    painted->note = g_strdup_printf("no stamped frame painted within %.0f s "
                                    "of the launch", wait_s);
    received->note = g_strdup(painted->note);
    return TRUE;
  }
  gint64 t0 = 0;
  for (guint i = 0; !t0 && i < g->painted->len; i++)
    if (g_array_index(g->painted, PxFrame, i).window == ff.id)
      t0 = g_array_index(g->painted, PxFrame, i).recv_ns;
  t0 += (gint64)(cfg->px.warmup_s * 1e9);
  bp_run_for((double)(t0 - px_now_ns()) / 1e9);
  guint64 guest0, host0, guest1, host1;
  sample_cpu(g, &guest0, &host0);
  bp_run_for(cfg->px.measure_s);
  sample_cpu(g, &guest1, &host1);
  bp_run_for(0.1);
  /* Offset: the guest's clock minus ours; px_stats takes draw - offset. */
  gint64 offset = g->is_vm ? g->offset_ns : 0;
  px_stats(&cfg->px, g->received, ff.id, t0, offset, received);
  px_stats(&cfg->px, g->painted, ff.id, t0, offset, painted);
  /* Frames that reached the proxy and were overtaken by a newer one before
   * GTK drew: captured, copied and sent for nothing. */
  if (painted->frames > 0) {
    painted->cpu_guest_ms = (double)(guest1 - guest0) / 1e6 / painted->frames;
    painted->cpu_host_ms = (double)(host1 - host0) / 1e6 / painted->frames;
  }
  if (received->frames > 0)
    painted->unshown_pct = 100.0 * MAX(0, received->frames - painted->frames) /
                           received->frames;
  painted->bytes_per_frame = received->bytes_per_frame *
                             MAX(received->frames, 1) /
                             MAX(painted->frames, 1);
  g_autofree char *clock = NULL;
  if (g->offset_rtt_ns == G_MAXINT64)
    clock = g_strdup("no heartbeat answered");
  else
    clock = g_strdup_printf(
        "clock offset guest-host %+.3f ms by heartbeats, best rtt %.3f ms"
        "%s", (double)g->offset_ns / 1e6, (double)g->offset_rtt_ns / 1e6,
        g->is_vm ? " (latency error within half of it)"
                 : " (same clock, not applied: checks the method)");
  painted->note = g_strdup_printf("%s; %u painted frames without a readable "
                                  "stamp", clock, g->unstamped);
  if (!bp_guest_close(g, ff.id, 20)) {
    g_autofree char *old = painted->note;
    painted->note = g_strdup_printf("%s; the app's window did not close "
                                    "within 20 s of WINDOW_CLOSE", old);
  }
  if (!g->is_vm) {
    received->app_fps = px_anim_log_fps(log, NULL);
    painted->app_fps = received->app_fps;
  }
  return TRUE;
}
