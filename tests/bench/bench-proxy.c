/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-proxy: the host's proxy windows measured end to end, through the
 * real code: an in-process host (TandemGuestHub, TandemGuestLink and
 * TandemProxyManager, GTK on an Xvfb of its own) and the real agent, in
 * loopback on a second Xvfb and in the default guest under TCG (one boot
 * for all of the VM's cases).
 *
 *   1. guest damage -> host paint (bench-proxy-pixels.c): latency p50/p99
 *      and frames per second of tandem-bench-anim's 1280x720 animation,
 *      all of the window and a small square, beside Xpra 3.1 on the same
 *      app (bench-pixels' server setup and client) in the same run;
 *   2. real applications (bench-proxy-apps.c): xterm scrolling `seq`,
 *      mousepad paging through a large file with Page_Down held, an idle
 *      xclock; painted frames per second, channel bytes and CPU per
 *      painted frame, frames sent but never shown, beside Xpra 3.1 on
 *      the same programs, and the targets against it (cases 1
 *      and 2 run with the pixels in shared memory and on the channel);
 *   3. focus (bench-proxy-focus.c): host focus set -> guest focus
 *      confirmed, between three proxies and a native window; misrouted
 *      keys in a seeded random focus-and-type run (must be 0);
 *   4. warm launch (bench-proxy-launch.c): launch request -> first frame
 *      painted on the host, and Tandem's part of it (WINDOW_MAP -> first
 *      frame), beside the same program started on a local X display.
 *
 *   bench-proxy [--short] [--json FILE]
 *
 * $TANDEM_BENCH_SEED overrides the random run's seed (printed);
 * $TANDEM_BENCH_KEEP keeps the scratch directory (logs). Exits 1
 * when the harness fails or a key was misrouted; a slow case is a result,
 * not a failure. Without xpra or the default guest it says so and
 * reports the rest. */
#include "bench-proxy.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench-util.h"
#include "tandem-focus.h"

#define DEFAULT_SEED 20261121u

/* --- Output ------------------------------------------------------------------- */

typedef struct {
  double p50, p99;
  int n;
} Pct;

static Pct pct(GArray *a) {
  Pct p = {0, 0, a ? (int)a->len : 0};
  if (p.n) {
    p.p50 = bench_percentile((double *)(void *)a->data, p.n, 0.5);
    p.p99 = bench_percentile((double *)(void *)a->data, p.n, 0.99);
  }
  return p;
}

static void print_px(const PxResult *r) {
  if (!r->system)
    return;
  if (!r->done || !r->frames) {
    printf("%-14s %-16s %-5s  %s\n", r->system, r->transport, r->mode,
           r->note ? r->note : "not run");
    return;
  }
  char bytes[32] = "-", unshown[32] = "-", cpu_g[32] = "-", cpu_h[32] = "-";
  if (r->bytes_per_frame > 0)
    g_snprintf(bytes, sizeof(bytes), "%.0f", r->bytes_per_frame);
  if (r->unshown_pct >= 0)
    g_snprintf(unshown, sizeof(unshown), "%.1f", r->unshown_pct);
  if (r->cpu_guest_ms >= 0)
    g_snprintf(cpu_g, sizeof(cpu_g), "%.2f", r->cpu_guest_ms);
  if (r->cpu_host_ms >= 0)
    g_snprintf(cpu_h, sizeof(cpu_h), "%.2f", r->cpu_host_ms);
  printf("%-14s %-16s %-5s %6.1f %6.1f %8.2f %8.2f %10s %7s %7s %7s\n",
         r->system, r->transport, r->mode, r->fps, r->drawn_fps, r->p50_ms,
         r->p99_ms, bytes, unshown, cpu_g, cpu_h);
}

static void json_px(GString *j, const PxResult *r, const char *at) {
  g_string_append_printf(
      j, "{\"system\":\"%s\",\"transport\":\"%s\",\"mode\":\"%s\","
         "\"latency_to\":\"%s\",\"measured\":%s",
      r->system, r->transport, r->mode, at,
      r->done && r->frames ? "true" : "false");
  if (r->done && r->frames)
    g_string_append_printf(j, ",\"frames\":%d,\"fps\":%.1f,\"drawn_fps\":%.1f,"
                              "\"latency_ms\":{\"p50\":%.2f,\"p99\":%.2f}",
                           r->frames, r->fps, r->drawn_fps, r->p50_ms,
                           r->p99_ms);
  if (r->app_fps >= 0)
    g_string_append_printf(j, ",\"app_fps\":%.1f", r->app_fps);
  if (r->done && r->frames && r->bytes_per_frame > 0)
    g_string_append_printf(j, ",\"channel_bytes_per_frame\":%.0f",
                           r->bytes_per_frame);
  if (r->done && r->frames && r->unshown_pct >= 0)
    g_string_append_printf(j, ",\"unshown_pct\":%.2f", r->unshown_pct);
  if (r->done && r->frames && r->cpu_guest_ms >= 0)
    g_string_append_printf(j, ",\"cpu_ms_per_frame\":{\"guest_side\":%.3f,"
                              "\"host_side\":%.3f}",
                           r->cpu_guest_ms, r->cpu_host_ms);
  if (r->note) {
    g_autofree char *esc = g_strescape(r->note, NULL);
    g_string_append_printf(j, ",\"note\":\"%s\"", esc);
  }
  g_string_append(j, "}");
}

static void print_pct(const char *who, const char *what, GArray *a) {
  Pct p = pct(a);
  if (p.n)
    printf("%-10s %-44s %5d %8.2f %8.2f\n", who, what, p.n, p.p50, p.p99);
  else
    printf("%-10s %-44s %5d %8s %8s\n", who, what, 0, "-", "-");
}

static void json_pct(GString *j, const char *key, GArray *a, gboolean comma) {
  Pct p = pct(a);
  g_string_append_printf(j, "%s\"%s\":{\"n\":%d", comma ? "," : "", key, p.n);
  if (p.n)
    g_string_append_printf(j, ",\"p50_ms\":%.2f,\"p99_ms\":%.2f", p.p50,
                           p.p99);
  g_string_append(j, "}");
}

static void json_note(GString *j, const char *note) {
  if (!note)
    return;
  g_autofree char *esc = g_strescape(note, NULL);
  g_string_append_printf(j, ",\"note\":\"%s\"", esc);
}

/* --- One guest's cases --------------------------------------------------------- */

typedef struct {
  const char *name;
  gboolean started, skipped;
  char *why;            /* skipped or failed: why */
  char *info;
  PxResult recv[2], paint[2];
  BpFocusResult focus;
  BpMisrouteResult misroute;
  gboolean misroute_run;
  BpLaunchResult launch;
  PxAppResult apps[BP_N_APPS]; /* the real applications */
} GuestResults;

static const char *const modes[] = {"full", "small"};

/* The real applications, where they are measured (a VM: with
 * cfg->vm_apps). */
static gboolean run_apps(BpGuest *g, const BpConfig *cfg, GuestResults *out,
                         GError **error) {
  if (g->is_vm && !cfg->vm_apps)
    return TRUE;
  return bp_run_apps(g, cfg, out->apps, error);
}

static gboolean run_guest(BpGuest *g, const BpConfig *cfg, GuestResults *out,
                          BpBaseline *base, BpBaselineResult *base_r,
                          GError **error) {
  for (int i = 0; i < 2; i++) {
    bp_progress("%s: pixels, %s", g->name, modes[i]);
    if (!bp_run_pixels(g, cfg, modes[i], &out->recv[i], &out->paint[i],
                       error))
      return FALSE;
  }
  BpConfig c = *cfg;
  int switches = g->is_vm ? MAX(10, cfg->focus_switches / 4)
                          : cfg->focus_switches;
  out->misroute.steps = cfg->misroute_steps;
  out->misroute_run = !g->is_vm;
  bp_progress("%s: focus", g->name);
  if (!bp_run_focus(g, cfg, switches, &out->focus,
                    g->is_vm ? NULL : &out->misroute, error))
    return FALSE;
  if (g->is_vm)
    c.launches = MAX(2, cfg->launches / 2);
  const char *app = g->is_vm || cfg->xclock ? "xclock" : NULL;
  bp_progress("%s: warm launches", g->name);
  if (app && !bp_run_launch(g, &c, app, "xclock", &out->launch, base,
                            base_r, error))
    return FALSE;
  if (!app)
    out->launch.note = g_strdup("not measured: xclock is not installed "
                                "(Debian package x11-apps)");
  return run_apps(g, cfg, out, error);
}

/* The pixel cases alone, the guest's pixels through its channel (no shared
 * memory): the baseline of the shared-memory path, in the same run. */
static gboolean run_channel_pixels(const BpConfig *cfg, gboolean vm,
                                   GuestResults *out, GError **error) {
  BpConfig c = *cfg;
  c.channel_pixels = TRUE;
  BpGuest g = {0};
  gboolean ok;
  if (vm) {
    bp_progress("vm (channel): booting");
    ok = bp_guest_start_vm(&g, &c, &out->skipped, &out->why, error);
    if (!ok && out->skipped) {
      bp_guest_stop(&g);
      return TRUE;
    }
  } else {
    bp_progress("loopback (channel): starting");
    ok = bp_guest_start_loopback(&g, &c, error);
  }
  for (int i = 0; ok && i < 2; i++) {
    bp_progress("%s (channel): pixels, %s", g.name, modes[i]);
    ok = bp_run_pixels(&g, &c, modes[i], &out->recv[i], &out->paint[i],
                       error);
  }
  ok = ok && run_apps(&g, &c, out, error);
  out->started = ok;
  bp_guest_stop(&g);
  return ok;
}

static void guest_results_clear(GuestResults *r) {
  for (int i = 0; i < 2; i++) {
    px_result_clear(&r->recv[i]);
    px_result_clear(&r->paint[i]);
  }
  bp_focus_result_clear(&r->focus);
  g_clear_pointer(&r->misroute.note, g_free);
  bp_launch_result_clear(&r->launch);
  for (int i = 0; i < BP_N_APPS; i++)
    px_app_result_clear(&r->apps[i]);
  g_clear_pointer(&r->why, g_free);
  g_clear_pointer(&r->info, g_free);
}

static void print_focus(const GuestResults *r) {
  if (!r->started)
    return;
  const BpFocusResult *f = &r->focus;
  if (!f->done) {
    printf("%-10s not run\n", r->name);
    return;
  }
  print_pct(r->name, "proxy -> another proxy", f->to_proxy_from_proxy);
  print_pct(r->name, "native window -> proxy", f->to_proxy_from_native);
  print_pct(r->name, "proxy -> native window (guest on the stub)",
            f->to_native);
  print_pct(r->name, "host alone: XSetInputFocus -> GTK focus-in",
            f->host_focus_in);
  if (f->timeouts)
    printf("%-10s %d switches not confirmed within the bound\n", r->name,
           f->timeouts);
}

static void print_launch(const GuestResults *r) {
  if (!r->started)
    return;
  const BpLaunchResult *l = &r->launch;
  if (!l->done) {
    printf("%-10s %s\n", r->name, l->note ? l->note : "not run");
    return;
  }
  print_pct(r->name, "request -> LAUNCH_RESULT", l->to_result);
  print_pct(r->name, "request -> WINDOW_MAP on the host", l->to_map);
  print_pct(r->name, "request -> first frame painted (total)", l->to_paint);
  print_pct(r->name, "WINDOW_MAP -> first frame painted (Tandem)",
            l->map_to_paint);
  if (l->failures)
    printf("%-10s %d launches failed: %s\n", r->name, l->failures,
           l->note ? l->note : "");
  if (l->unclosed)
    printf("%-10s %d of %d windows still open 2 s after WINDOW_CLOSE\n",
           r->name, l->unclosed, l->runs);
}

static void json_guest(GString *j, const GuestResults *r) {
  g_string_append_printf(j, "\"%s\":{\"measured\":%s", r->name,
                         r->started ? "true" : "false");
  json_note(j, r->why);
  if (r->info) {
    g_autofree char *esc = g_strescape(r->info, NULL);
    g_string_append_printf(j, ",\"setup\":\"%s\"", esc);
  }
  if (!r->started) {
    g_string_append(j, "}");
    return;
  }
  const BpFocusResult *f = &r->focus;
  g_string_append_printf(j, ",\"focus\":{\"switches\":%d,\"timeouts\":%d",
                         f->switches, f->timeouts);
  json_pct(j, "proxy_to_proxy", f->to_proxy_from_proxy, TRUE);
  json_pct(j, "native_to_proxy", f->to_proxy_from_native, TRUE);
  json_pct(j, "proxy_to_native_stub", f->to_native, TRUE);
  json_pct(j, "host_focus_in", f->host_focus_in, TRUE);
  g_string_append(j, "}");
  if (r->misroute_run) {
    const BpMisrouteResult *m = &r->misroute;
    g_string_append_printf(
        j, ",\"misroute\":{\"done\":%s,\"seed\":%u,\"steps\":%d,"
           "\"focus_moves\":%d,\"keys_typed\":%d,\"typed_on_proxies\":%d,"
           "\"keys_delivered\":%d,\"lost\":%d,\"misrouted\":%d,"
           "\"wrong_shift\":%d,\"typed_shifted\":%d,"
           "\"focus_moves_with_shift\":%d,\"windows_closed\":%d,"
           "\"typed_past_closing_key\":%d,\"excluded\":%d,"
           "\"seconds\":%.1f",
        m->done ? "true" : "false", m->seed, m->steps, m->focus_moves,
        m->typed, m->typed_to_proxies, m->delivered, m->lost, m->misrouted,
        m->wrong_shift, m->typed_shifted, m->shift_switches,
        m->victims_closed, m->typed_into_closing, m->excluded, m->seconds);
    json_note(j, m->note);
    g_string_append(j, "}");
  }
  const BpLaunchResult *l = &r->launch;
  g_string_append_printf(j, ",\"warm_launch\":{\"app\":\"xclock\","
                            "\"runs\":%d,\"failures\":%d,"
                            "\"not_closed_by_window_close\":%d",
                         l->runs, l->failures, l->unclosed);
  json_pct(j, "request_to_result", l->to_result, TRUE);
  json_pct(j, "request_to_map", l->to_map, TRUE);
  json_pct(j, "request_to_first_paint", l->to_paint, TRUE);
  json_pct(j, "map_to_first_paint", l->map_to_paint, TRUE);
  json_note(j, l->note);
  g_string_append(j, "}}");
}

int main(int argc, char **argv) {
  gboolean is_short;
  const char *json_path;
  if (!bench_parse_args(argc, argv, &is_short, &json_path))
    return 2;
  BpConfig cfg = {
      .px = {is_short, is_short ? 1 : 2, is_short ? 2 : 10, 60},
      .focus_switches = is_short ? 40 : 200,
      /* About six keys for every seven steps: over 20,000 keys. */
      .misroute_steps = is_short ? 1500 : 30000,
      .victim_keys = 4,
      .steal_ms = 5,
      .launches = is_short ? 3 : 20,
      .seed = DEFAULT_SEED,
  };
  const char *seed = g_getenv("TANDEM_BENCH_SEED");
  if (seed && *seed)
    cfg.seed = (guint32)strtoul(seed, NULL, 0);
  cfg.px.agent = bp_locate("TANDEM_GUEST_AGENT", BENCH_AGENT_PATH);
  cfg.px.anim = bp_locate("TANDEM_BENCH_ANIM", BENCH_ANIM_PATH);
  cfg.keys = bp_locate("TANDEM_BENCH_KEYS", BENCH_KEYS_PATH);
  cfg.xclock = g_find_program_in_path("xclock");
  const char *need[] = {cfg.px.agent, cfg.px.anim, cfg.keys};
  for (guint i = 0; i < G_N_ELEMENTS(need); i++)
    if (!g_file_test(need[i], G_FILE_TEST_IS_EXECUTABLE)) {
      fprintf(stderr, "bench-proxy: %s is missing (build first)\n", need[i]);
      return 1;
    }
  cfg.px.tmp = g_dir_make_tmp("bench-proxy-XXXXXX", NULL);
  /* The real applications in the VM too: xterm, mousepad and xclock add
   * about 17 s to each of its two boots under TCG (short mode). */
  cfg.vm_apps = TRUE;
  g_autoptr(GError) error = NULL;
  gint64 t_start = px_now_ns();
  GuestResults loop = {.name = "loopback"}, vm = {.name = "vm"};
  GuestResults loop_ch = {.name = "loopback"}, vm_ch = {.name = "vm"};
  PxResult xpra[2] = {0}, xpra_paint[2] = {0};
  PxAppResult xpra_apps[BP_N_APPS] = {{0}};
  BpBaselineResult base = {0};
  g_autofree char *xpra_info = NULL, *xpra_apps_info = NULL;
  gboolean xpra_skipped = FALSE, xpra_apps_skipped = FALSE, ok = TRUE;
  double vm_s = 0;

  GSubprocess *host = bp_host_display_start(cfg.px.tmp, &error);
  ok = host != NULL && bp_apps_prepare(&cfg, &error);

  /* Loopback: the agent on a second Xvfb; the baseline of launching on a
   * third. */
  bp_progress("loopback: starting");
  if (ok) {
    BpGuest g = {0};
    BpBaseline *b = NULL;
    if (cfg.xclock)
      ok = (b = bp_baseline_new(&cfg, cfg.xclock, &error)) != NULL;
    ok = ok && bp_guest_start_loopback(&g, &cfg, &error) &&
         run_guest(&g, &cfg, &loop, b, &base, &error);
    bp_baseline_free(b);
    loop.started = ok;
    if (ok)
      loop.info = g_strdup_printf(
          "%s on its own Xvfb, connected to the hub's loopback socket",
          tandem_guest_link_get_agent_software(g.link));
    bp_progress("loopback: stopping");
    bp_guest_stop(&g);
  }
  if (ok)
    ok = run_channel_pixels(&cfg, FALSE, &loop_ch, &error);
  /* The baselines: Xpra on the same app, the program without Tandem. */
  for (int i = 0; ok && i < 2 && !xpra_skipped; i++) {
    bp_progress("Xpra: %s", modes[i]);
    g_clear_pointer(&xpra_info, g_free);
    ok = px_run_xpra(&cfg.px, modes[i], &xpra[i], &xpra_paint[i], &xpra_info,
                     &xpra_skipped, &error) || xpra_skipped;
    xpra[i].unshown_pct = xpra_paint[i].unshown_pct = -1;
    xpra[i].cpu_guest_ms = xpra[i].cpu_host_ms = -1;
    if (ok && !xpra_skipped) {
      g_free(xpra[i].system);
      xpra[i].system = g_strdup("Xpra recv");
      g_free(xpra_paint[i].system);
      xpra_paint[i].system = g_strdup("Xpra paint");
    }
  }
  /* The real applications under Xpra (without it: "not run" rows). */
  if (ok)
    ok = bp_run_xpra_apps(&cfg, xpra_apps, &xpra_apps_info,
                          &xpra_apps_skipped, &error) ||
         xpra_apps_skipped;
  /* The VM: one boot for its cases. */
  if (ok) {
    BpGuest g = {0};
    gint64 t_vm = px_now_ns();
    bp_progress("vm: booting");
    if (bp_guest_start_vm(&g, &cfg, &vm.skipped, &vm.why, &error)) {
      vm.info = g_strdup_printf(
          "default guest under TCG (2 vCPUs, 1 GiB), session ready %.1f s "
          "after the start, agent with its catalog at %.1f s; %s",
          g.boot_s, g.catalog_s, tandem_guest_link_get_agent_software(g.link));
      ok = run_guest(&g, &cfg, &vm, NULL, NULL, &error);
      vm.started = ok;
    } else {
      ok = vm.skipped;
    }
    bp_progress("vm: stopping");
    bp_guest_stop(&g);
    if (ok && vm.started)
      ok = run_channel_pixels(&cfg, TRUE, &vm_ch, &error);
    vm_s = (double)(px_now_ns() - t_vm) / 1e9;
  }
  if (!ok) {
    fprintf(stderr, "bench-proxy: %s\n(files kept in %s)\n",
            error ? error->message : "failed", cfg.px.tmp);
    if (host)
      bp_host_display_stop(host);
    return 1;
  }
  bp_progress("done");

  /* 1. Pixels */
  printf("bench-proxy, %s mode\n\n", is_short ? "short" : "full");
  printf("1. Guest damage -> host paint: tandem-bench-anim, 1280x720 at %.0f "
         "fps (noise, every frame new); %.0f s warm-up, %.0f s measured per "
         "case\n",
         cfg.px.fps, cfg.px.warmup_s, cfg.px.measure_s);
  printf("   latency = the moment below minus the app's draw time (stamped "
         "in the frame)\n");
  printf("   Tandem recv:  the frame's last DAMAGE handled by the proxy "
         "code (in the proxy's surface, not drawn)\n");
  printf("   Tandem paint: the proxy's \"frame-painted\" (GTK drew it to the "
         "window on the host Xvfb; acked)\n");
  printf("   Xpra recv:    its client got the frame's last update, before "
         "decoding\n");
  printf("   Xpra paint:   its client decoded it and painted it into a numpy "
         "buffer (no window, no screen), acked\n\n");
  printf("   B/frame:      bytes of DAMAGE on the channel per frame "
         "(+shm: the pixels are in shared memory, not on the channel)\n");
  printf("   unshown:      %% of frames the proxy received that a newer one "
         "overtook before GTK drew (captured and sent for nothing)\n");
  printf("   CPU g / h:    CPU ms per painted frame over the measured time: "
         "guest side (agent + the app's X server; Xpra: server + the app's X "
         "server; a VM: all of QEMU, the app too) / host side (the shell's "
         "process + host X server; Xpra: its client, which paints into "
         "memory)\n\n");
  printf("%-14s %-16s %-5s %6s %6s %8s %8s %10s %7s %7s %7s\n", "system",
         "transport", "mode", "fps", "drawn", "p50 ms", "p99 ms", "B/frame",
         "unshown", "CPU g", "CPU h");
  for (int i = 0; i < 2; i++) {
    if (loop.started) {
      print_px(&loop.recv[i]);
      print_px(&loop.paint[i]);
    }
    if (loop_ch.started) {
      print_px(&loop_ch.recv[i]);
      print_px(&loop_ch.paint[i]);
    }
    if (!xpra_skipped) {
      print_px(&xpra[i]);
      print_px(&xpra_paint[i]);
    }
  }
  for (int i = 0; i < 2 && vm.started; i++) {
    print_px(&vm.recv[i]);
    print_px(&vm.paint[i]);
    if (vm_ch.started) {
      print_px(&vm_ch.recv[i]);
      print_px(&vm_ch.paint[i]);
    }
  }
  for (int i = 0; i < 2; i++) {
    if (loop.paint[i].note)
      printf("loopback %s: %s\n", modes[i], loop.paint[i].note);
    if (vm.paint[i].note)
      printf("vm %s: %s\n", modes[i], vm.paint[i].note);
  }
  if (xpra_skipped)
    printf("Xpra: %s\n", xpra[0].note ? xpra[0].note : "skipped");
  else if (xpra_info)
    printf("Xpra: %s\n", xpra_info);

  /* 2. Real applications */
  BpAppSet sets[] = {{loop.apps, FALSE, TRUE, FALSE},
                     {loop_ch.apps, TRUE, TRUE, FALSE},
                     {xpra_apps, FALSE, FALSE, TRUE},
                     {vm.apps, FALSE, FALSE, FALSE},
                     {vm_ch.apps, TRUE, FALSE, FALSE}};
  bp_apps_print(&cfg, sets, G_N_ELEMENTS(sets), xpra_apps_info);

  /* 3. Focus */
  printf("\n3. Focus: XSetInputFocus on a host window -> the guest's focus "
         "report of it handled on the host\n");
  printf("   (three proxies of tandem-bench-keys and a native GtkWindow; a "
         "switch to the native window includes the %u ms debounce)\n\n",
         TF_DEBOUNCE_MS);
  printf("%-10s %-44s %5s %8s %8s\n", "guest", "switch", "n", "p50 ms",
         "p99 ms");
  print_focus(&loop);
  print_focus(&vm);
  if (loop.misroute_run) {
    const BpMisrouteResult *m = &loop.misroute;
    printf("\nMisrouted keys (loopback, seed %u), with the guest-side hazards "
           "on:\n", m->seed);
    printf("  %d steps, %d focus moves (%d with Shift held), %.1f s\n",
           m->steps, m->focus_moves, m->shift_switches, m->seconds);
    printf("  %d keys typed: %d on proxies, %d with Shift held; %d into "
           "windows closing on a key (%d closed), %d past the closing key\n",
           m->typed, m->typed_to_proxies, m->typed_shifted,
           m->victims_closed * cfg.victim_keys + m->typed_into_closing,
           m->victims_closed, m->typed_into_closing);
    printf("  a guest app taking focus every %d ms; the guest pointer over "
           "keys-1 throughout\n", cfg.steal_ms);
    printf("  %d delivered, %d lost, %d left out (host focus moved while "
           "typing)\n", m->delivered, m->lost, m->excluded);
    printf("  %d MISROUTED, %d with the wrong Shift (both must be 0)\n",
           m->misrouted, m->wrong_shift);
    if (m->note)
      printf("  %s\n", m->note);
  }

  /* 4. Launch */
  printf("\n4. Warm launch of xclock (guest running, agent connected), from "
         "tandem_guest_hub_launch_async\n\n");
  printf("%-10s %-44s %5s %8s %8s\n", "guest", "from -> to", "n", "p50 ms",
         "p99 ms");
  print_launch(&loop);
  print_launch(&vm);
  if (base.done)
    print_pct("local", "xclock alone: spawn -> MapNotify (baseline)",
              base.to_map);
  if (base.done)
    printf("           (the baseline's runs took turns with the loopback's)"
           "\n");
  else if (!cfg.xclock)
    printf("local      baseline not measured: no xclock on the host\n");
  if (base.note)
    printf("local: %s\n", base.note);

  printf("\n");
  if (loop.info)
    printf("loopback: %s\n", loop.info);
  if (vm.info)
    printf("vm: %s (%.0f s for the VM's cases, boot included)\n", vm.info,
           vm_s);
  else if (vm.why)
    printf("vm: %s\n", vm.why);
  printf("(%.0f s in all)\n", (double)(px_now_ns() - t_start) / 1e9);

  if (json_path) {
    GString *j = g_string_new("");
    g_string_append_printf(
        j, "{\"benchmark\":\"proxy\",\"mode\":\"%s\",\"seed\":%u,"
           "\"pixels\":{\"app\":{\"width\":1280,\"height\":720,"
           "\"target_fps\":%.0f,\"content\":\"noise\"},\"warmup_s\":%.0f,"
           "\"measure_s\":%.0f,\"cases\":[",
        is_short ? "short" : "full", cfg.seed, cfg.px.fps, cfg.px.warmup_s,
        cfg.px.measure_s);
    gboolean first = TRUE;
    struct {
      const PxResult *r;
      const char *at;
    } all[] = {{&loop.recv[0], "received"}, {&loop.paint[0], "painted"},
               {&loop.recv[1], "received"}, {&loop.paint[1], "painted"},
               {&xpra[0], "received"},      {&xpra_paint[0], "painted"},
               {&xpra[1], "received"},      {&xpra_paint[1], "painted"},
               {&vm.recv[0], "received"},   {&vm.paint[0], "painted"},
               {&vm.recv[1], "received"},   {&vm.paint[1], "painted"},
               {&loop_ch.recv[0], "received"}, {&loop_ch.paint[0], "painted"},
               {&loop_ch.recv[1], "received"}, {&loop_ch.paint[1], "painted"},
               {&vm_ch.recv[0], "received"},   {&vm_ch.paint[0], "painted"},
               {&vm_ch.recv[1], "received"},   {&vm_ch.paint[1], "painted"}};
    for (guint i = 0; i < G_N_ELEMENTS(all); i++) {
      if (!all[i].r->system || !all[i].r->transport)
        continue;
      g_string_append(j, first ? "" : ",");
      json_px(j, all[i].r, all[i].at);
      first = FALSE;
    }
    g_string_append(j, "]");
    if (xpra_info) {
      g_autofree char *esc = g_strescape(xpra_info, NULL);
      g_string_append_printf(j, ",\"xpra\":\"%s\"", esc);
    }
    g_string_append(j, "}");
    bp_apps_json(j, &cfg, sets, G_N_ELEMENTS(sets));
    g_string_append(j, ",");
    json_guest(j, &loop);
    g_string_append(j, ",");
    json_guest(j, &vm);
    g_string_append_printf(j, ",\"local_baseline\":{\"app\":\"xclock\","
                              "\"measured\":%s",
                           base.done ? "true" : "false");
    if (base.done)
      json_pct(j, "spawn_to_map", base.to_map, TRUE);
    json_note(j, base.note);
    g_string_append_printf(j, "},\"seconds\":%.0f}\n",
                           (double)(px_now_ns() - t_start) / 1e9);
    if (!g_file_set_contents(json_path, j->str, -1, NULL)) {
      fprintf(stderr, "bench-proxy: cannot write %s\n", json_path);
      return 1;
    }
    g_string_free(j, TRUE);
  }

  int status = 0;
  if (loop.misroute_run &&
      (loop.misroute.misrouted || loop.misroute.wrong_shift)) {
    fprintf(stderr, "bench-proxy: %d keys misrouted, %d with the wrong "
            "Shift\n", loop.misroute.misrouted, loop.misroute.wrong_shift);
    status = 1;
  }
  guest_results_clear(&loop);
  guest_results_clear(&vm);
  guest_results_clear(&loop_ch);
  guest_results_clear(&vm_ch);
  for (int i = 0; i < 2; i++) {
    px_result_clear(&xpra[i]);
    px_result_clear(&xpra_paint[i]);
  }
  for (int i = 0; i < BP_N_APPS; i++)
    px_app_result_clear(&xpra_apps[i]);
  bp_baseline_result_clear(&base);
  bp_host_display_stop(host);
  bp_config_clear(&cfg, status == 0 && !g_getenv("TANDEM_BENCH_KEEP"));
  return status;
}
