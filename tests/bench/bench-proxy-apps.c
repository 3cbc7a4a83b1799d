/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-proxy: real applications, measured as they are.
 *
 * Besides tandem-bench-anim's full-window animation, three programs a
 * user runs, none of which stamps its frames:
 *   xterm     100x40, `seq 1 1000000000` scrolling through it (it never
 *             ends within a run): text that moves up every frame
 *   mousepad  paging through a large text file (BP_TEXT_LINES lines) with
 *             Page_Down typed BP_KEY_HZ times a second, as a held key
 *             repeats
 *   xclock    -update 1: an idle window but for its second hand, what a
 *             window that barely changes costs
 * each launched in the guest through the hub (its catalog entry, as the
 * menu would), measured over a fixed time after a warm-up, then closed
 * (WINDOW_CLOSE; in loopback killed if it stays). Counted on the host,
 * per window, through public API:
 *   painted   the proxy's "frame-painted" (GTK drew a new frame, acked)
 *   sent      the window's DAMAGE messages with FRAME_END (captured by the
 *             agent, sent, copied into the proxy's surface)
 *   bytes     every message from the guest on the channel (TandemChannel's
 *             "message", at its encoded size), less the answers to the
 *             benchmark's own heartbeats
 *   CPU       the guest's side (loopback: the agent and its X server; a
 *             VM: all of QEMU, the app and its kernel too) and the host's
 *             (this process, where the shell's code runs, and the host's X
 *             server), with per-thread schedstat for the precision an idle
 *             window needs (px_cpu_ms_between)
 * Keys are typed as the user would: XTEST on the host display, host focus
 * on the proxy (set with XSetInputFocus, the guest's focus confirmed),
 * forwarded by the proxy code to the agent.
 *
 * Xpra runs the same programs (the host's) on its server's display, one
 * server and one client for the three (px_run_xpra_apps). Its client
 * (xpra-client.py --all-frames) has no mmap and no keyboard: keys are
 * typed with XTEST on the server's display. */
#include "bench-proxy.h"

#include <gdk/gdkx.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BP_KEY_HZ 30.0
#define BP_TEXT_LINES 30000
#define BP_TEXT_NAME "tandem-bench-text.txt"
#define KEYSYM_PAGE_DOWN 0xff56u

typedef struct {
  const char *name;     /* the table's "app" */
  const char *id;       /* catalog id */
  const char *res_name; /* WM_CLASS res_name of its window */
  const char *program;
  const char *args;     /* after the program (NULL: the text file) */
  gboolean keys;        /* Page_Down while measured */
  gboolean clock;       /* cfg->clock_measure_s instead of app_measure_s */
} AppCase;

static const AppCase cases[BP_N_APPS] = {
    [BP_APP_XTERM] = {"xterm", "tandem-bench-xterm", "xterm", "xterm",
                      "-geometry 100x40 -e seq 1 1000000000", FALSE, FALSE},
    [BP_APP_MOUSEPAD] = {"mousepad", "tandem-bench-mousepad", "mousepad",
                         "mousepad", NULL, TRUE, FALSE},
    [BP_APP_XCLOCK] = {"xclock", "tandem-bench-xclock", "xclock", "xclock",
                       "-update 1", FALSE, TRUE},
};

const char *bp_app_id(int i) { return cases[i].id; }

static double measure_s(const BpConfig *cfg, int i) {
  return cases[i].clock ? cfg->clock_measure_s : cfg->app_measure_s;
}

/* The app's command line: @program (a path or a name) and its arguments.
 * mousepad goes through env: no session bus (two instances would be one
 * application), settings in memory, and none of the tests' fatal
 * criticals (loopback; a VM has neither). */
static GPtrArray *app_argv(int i, const char *program, const char *text,
                           gboolean in_vm) {
  GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
  if (i == BP_APP_MOUSEPAD) {
    g_ptr_array_add(a, g_strdup("env"));
    if (!in_vm) {
      g_ptr_array_add(a, g_strdup("-u"));
      g_ptr_array_add(a, g_strdup("DBUS_SESSION_BUS_ADDRESS"));
      g_ptr_array_add(a, g_strdup("G_DEBUG="));
    }
    g_ptr_array_add(a, g_strdup("GSETTINGS_BACKEND=memory"));
  }
  g_ptr_array_add(a, g_strdup(program));
  if (cases[i].args) {
    g_auto(GStrv) args = g_strsplit(cases[i].args, " ", -1);
    for (char **p = args; *p; p++)
      g_ptr_array_add(a, g_strdup(*p));
  } else {
    g_ptr_array_add(a, g_strdup(text));
  }
  g_ptr_array_add(a, NULL);
  return a;
}

char *bp_app_desktop(int i, const BpConfig *cfg, gboolean in_vm) {
  g_autofree char *program = in_vm ? g_strdup(cases[i].program)
                                   : g_find_program_in_path(cases[i].program);
  if (!program || !cfg->text)
    return NULL;
  g_autofree char *text = in_vm ? g_strdup("/" BP_APP_TEXT_IN_VM)
                                : g_strdup(cfg->text);
  g_autoptr(GPtrArray) argv = app_argv(i, program, text, in_vm);
  g_autoptr(GString) exec = g_string_new("");
  for (guint k = 0; k + 1 < argv->len; k++) {
    g_autofree char *q = g_shell_quote(argv->pdata[k]);
    g_string_append_printf(exec, "%s%s", k ? " " : "", q);
  }
  /* The guest's catalog leaves it out when the program is missing. */
  return g_strdup_printf("[Desktop Entry]\nType=Application\n"
                         "Name=Bench %s\nExec=%s\nTryExec=%s\n",
                         cases[i].name, exec->str, program);
}

gboolean bp_apps_prepare(BpConfig *cfg, GError **error) {
  cfg->app_warmup_s = cfg->px.warmup_s;
  cfg->app_measure_s = cfg->px.measure_s;
  /* About one frame a second: long enough for a few. */
  cfg->clock_measure_s = cfg->px.is_short ? 4 : 15;
  static const char *const words[] = {
      "The quick brown fox jumps over the lazy dog.",
      "Pack my box with five dozen liquor jugs,",
      "while sphinx of black quartz judges my vow;",
      "how vexingly quick daft zebras jump!",
      "int main(void) { return printf(\"%d\\n\", 42) < 0; }",
      "    Lorem ipsum dolor sit amet, consectetur adipiscing elit",
      ""};
  g_autoptr(GString) t = g_string_sized_new(BP_TEXT_LINES * 80);
  for (int i = 1; i <= BP_TEXT_LINES; i++) {
    g_string_append_printf(t, "%6d  ", i);
    for (int k = 0; k < 1 + i % 3; k++)
      g_string_append_printf(t, "%s ", words[(i * 7 + k) % G_N_ELEMENTS(words)]);
    g_string_append_c(t, '\n');
  }
  g_autofree char *path = g_build_filename(cfg->px.tmp, BP_TEXT_NAME, NULL);
  if (!g_file_set_contents(path, t->str, (gssize)t->len, error))
    return FALSE;
  g_free(cfg->text);
  cfg->text = g_steal_pointer(&path);
  return TRUE;
}

/* --- Tandem --------------------------------------------------------------------- */

typedef struct {
  BpGuest *g;
  const char *res_name, *title;
  gint64 after_ns;
  guint32 id;
} Waited;

static BpWindow *lookup(BpGuest *g, guint32 id) {
  return g->windows ? g_hash_table_lookup(g->windows, GUINT_TO_POINTER(id))
                    : NULL;
}

static gboolean app_shown(gpointer data) {
  Waited *w = data;
  BpWindow *win = bp_guest_find(w->g, w->res_name, w->after_ns, TRUE);
  if (win)
    w->id = win->id;
  return w->id != 0;
}

static gboolean titled(gpointer data) {
  Waited *w = data;
  BpWindow *win = lookup(w->g, w->id);
  return !win || (win->title && strstr(win->title, w->title));
}

static gboolean proxy_viewable(gpointer data) {
  Waited *w = data;
  return bp_window_xid(lookup(w->g, w->id)) != 0;
}

static gboolean guest_focused(gpointer data) {
  Waited *w = data;
  guint kind = 0;
  guint32 id = w->g->pm ? tandem_proxy_manager_get_guest_focus(w->g->pm,
                                                               &kind)
                        : 0;
  return kind == TP_FOCUS_WINDOW && id == w->id;
}

static gboolean window_gone(gpointer data) {
  Waited *w = data;
  return lookup(w->g, w->id) == NULL;
}

static gboolean tap(gpointer data) {
  px_keys_tap(data);
  return G_SOURCE_CONTINUE;
}

/* A page of mousepad's 640x480 window is most of it; its cursor, a few
 * dozen pixels; its status bar, a few thousand. */
#define PAGE_PX (200u * 200u)

typedef struct {
  Waited *w;
  guint64 from;
} Paged;

static gboolean paged(gpointer data) {
  Paged *p = data;
  BpWindow *win = lookup(p->w->g, p->w->id);
  return !win || win->damage_px - p->from >= PAGE_PX;
}

/* One Page_Down at a time until three in a row each repaint a page: a
 * file still loading takes keys without paging (under TCG, for seconds
 * after its name is in the title), and shows its text once, all at once,
 * whatever the keys. */
static gboolean page_ready(BpGuest *g, Waited *w, PxKeys *k, double bound) {
  gint64 end = px_now_ns() + (gint64)(bound * 1e9);
  int in_a_row = 0;
  while (in_a_row < 3 && px_now_ns() < end) {
    BpWindow *win = lookup(g, w->id);
    if (!win)
      return FALSE;
    Paged p = {w, win->damage_px};
    px_keys_tap(k);
    in_a_row = bp_wait(paged, &p, g->is_vm ? 3 : 1) ? in_a_row + 1 : 0;
  }
  return in_a_row == 3 && lookup(g, w->id) != NULL;
}

typedef struct {
  guint64 sent, painted, damage, channel;
  PxCpu guest, host;
  guint keys;
} Sample;

static gboolean take(BpGuest *g, guint32 id, PxKeys *k, Sample *s) {
  BpWindow *w = lookup(g, id);
  if (!w)
    return FALSE;
  memset(s, 0, sizeof(*s));
  s->sent = w->frames_sent;
  s->painted = w->frames_painted;
  s->damage = w->damage_bytes;
  s->channel = g->channel_bytes;
  s->keys = px_keys_count(k);
  if (g->is_vm) {
    px_cpu_add(&s->guest, tandem_vm_get_pid(g->vm));
  } else {
    px_cpu_add(&s->guest, px_pid(g->agent));
    px_cpu_add(&s->guest, px_pid(g->xvfb));
  }
  px_cpu_add(&s->host, getpid());
  px_cpu_add(&s->host, bp_host_display_pid());
  return TRUE;
}

static void add_note(PxAppResult *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void add_note(PxAppResult *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  char *old = r->note;
  r->note = old ? g_strdup_printf("%s; %s", old, text) : g_strdup(text);
  g_free(old);
}

/* Measures app @i in @g; FALSE only when the harness fails. */
static gboolean run_one(BpGuest *g, const BpConfig *cfg, int i,
                        PxAppResult *r, GError **error) {
  const AppCase *a = &cases[i];
  px_app_result_init(r, "Tandem", g->transport, a->name);
  if (!g->link || !tandem_guest_link_find_app(g->link, a->id)) {
    if (g->is_vm)
      add_note(r, "not run: %s is not in the guest's catalog (not "
                  "installed in the guest?)", a->id);
    else
      add_note(r, "not run: %s is not installed on this machine",
               a->program);
    return TRUE;
  }
  double bound = g->is_vm ? 120 : 20;
  gint64 t_launch = px_now_ns();
  Waited w = {g, a->res_name, "tandem-bench-text", t_launch, 0};
  guint32 pid = 0;
  g_autoptr(GError) e = NULL;
  if (!bp_launch_finish(bp_launch(g, a->id), 30, NULL, &pid, &e)) {
    add_note(r, "not run: launch of %s: %s", a->id, e->message);
    return TRUE;
  }
  if (!bp_wait(app_shown, &w, bound)) {
    add_note(r, "not run: no window of %s painted within %.0f s of its "
                "launch", a->name, bound);
    if (!g->is_vm && pid)
      kill((pid_t)pid, SIGKILL);
    return TRUE;
  }
  PxKeys *k = NULL;
  guint timer = 0;
  if (a->keys) {
    /* The file's name in the title, the proxy on screen with the host's
     * focus, the guest's focus following it, and the app paging. */
    BpWindow *shown = lookup(g, w.id);
    double shown_s = shown ? (double)(shown->first_paint_ns - t_launch) / 1e9
                           : 0;
    if (!bp_wait(titled, &w, bound))
      add_note(r, "the file's name not in its title within %.0f s",
               bound);
    if (!bp_wait(proxy_viewable, &w, 10)) {
      add_note(r, "not run: its proxy was not viewable within 10 s");
      goto close;
    }
    const char *dpy = gdk_display_get_name(gdk_display_get_default());
    k = px_keys_new(dpy, KEYSYM_PAGE_DOWN, &e);
    if (!k) {
      add_note(r, "not run: keys: %s", e->message);
      goto close;
    }
    px_keys_focus(k, bp_window_xid(lookup(g, w.id)));
    if (!bp_wait(guest_focused, &w, g->is_vm ? 15 : 5))
      add_note(r, "the guest's focus did not follow the host's to the "
                  "window: keys typed anyway");
    if (page_ready(g, &w, k, bound))
      add_note(r, "painted %.1f s after the launch, paging from %.1f s",
               shown_s, (double)(px_now_ns() - t_launch) / 1e9);
    else
      add_note(r, "it did not page on Page_Down within %.0f s: keys typed "
                  "anyway", bound);
    timer = g_timeout_add((guint)(1000 / BP_KEY_HZ), tap, k);
  }
  bp_run_for(cfg->app_warmup_s);
  Sample s0, s1;
  gint64 t0 = px_now_ns();
  gboolean ok = take(g, w.id, k, &s0);
  bp_run_for(measure_s(cfg, i));
  gint64 t1 = px_now_ns();
  ok = ok && take(g, w.id, k, &s1);
  if (timer)
    g_source_remove(timer);
  if (!ok) {
    add_note(r, "not run: its window went away while measured");
    goto close;
  }
  r->done = TRUE;
  r->seconds = (double)(t1 - t0) / 1e9;
  r->painted = (int)(s1.painted - s0.painted);
  r->sent = (int)(s1.sent - s0.sent);
  r->keys = (int)(s1.keys - s0.keys);
  r->fps = r->painted / r->seconds;
  r->sent_fps = r->sent / r->seconds;
  if (r->sent > 0)
    r->unshown_pct = 100.0 * MAX(0, r->sent - r->painted) / r->sent;
  if (r->painted > 0) {
    r->bytes_per_frame = (double)(s1.channel - s0.channel) / r->painted;
    r->damage_bytes_per_frame = (double)(s1.damage - s0.damage) / r->painted;
    r->cpu_guest_ms = px_cpu_ms_between(&s0.guest, &s1.guest) / r->painted;
    r->cpu_host_ms = px_cpu_ms_between(&s0.host, &s1.host) / r->painted;
  } else {
    add_note(r, "no frame painted in %.1f s", r->seconds);
  }
close:
  px_keys_free(k);
  if (lookup(g, w.id) && !bp_guest_close(g, w.id, g->is_vm ? 20 : 10)) {
    if (!g->is_vm && pid) {
      kill((pid_t)pid, SIGKILL); /* loopback: the guest's pid is ours */
      add_note(r, "its window did not close on WINDOW_CLOSE: killed");
      bp_wait(window_gone, &w, 5);
    } else {
      add_note(r, "its window did not close within 20 s of WINDOW_CLOSE "
                  "(the app may still run in the VM)");
    }
  }
  return TRUE;
}

gboolean bp_run_apps(BpGuest *g, const BpConfig *cfg, PxAppResult *out,
                     GError **error) {
  /* No latency here: no heartbeats of the benchmark's own either (20 a
   * second would be most of what an idle window costs). */
  bp_guest_set_pinging(g, FALSE);
  gboolean ok = TRUE;
  for (int i = 0; ok && i < BP_N_APPS; i++) {
    bp_progress("%s: %s", g->name, cases[i].name);
    ok = run_one(g, cfg, i, &out[i], error);
  }
  bp_guest_set_pinging(g, TRUE);
  return ok;
}

/* --- Xpra ------------------------------------------------------------------------- */

gboolean bp_run_xpra_apps(const BpConfig *cfg, PxAppResult *out, char **info,
                          gboolean *skipped, GError **error) {
  PxApp apps[BP_N_APPS];
  GPtrArray *argvs[BP_N_APPS] = {NULL};
  for (int i = 0; i < BP_N_APPS; i++) {
    g_autofree char *program = g_find_program_in_path(cases[i].program);
    if (program)
      argvs[i] = app_argv(i, program, cfg->text, FALSE);
    apps[i] = (PxApp){
        .name = cases[i].name,
        .argv = argvs[i] ? (const char *const *)argvs[i]->pdata : NULL,
        .keysym = cases[i].keys ? KEYSYM_PAGE_DOWN : 0,
        .key_hz = BP_KEY_HZ,
        .title = cases[i].keys ? "tandem-bench-text" : NULL,
        .warmup_s = cfg->app_warmup_s,
        .measure_s = measure_s(cfg, i),
    };
  }
  bp_progress("Xpra: xterm, mousepad, xclock");
  gboolean ok = px_run_xpra_apps(&cfg->px, apps, BP_N_APPS, out, info,
                                 skipped, error);
  for (int i = 0; i < BP_N_APPS; i++)
    if (argvs[i])
      g_ptr_array_unref(argvs[i]);
  return ok;
}

/* --- Output ------------------------------------------------------------------------ */

static void print_row(const PxAppResult *r) {
  if (!r->system)
    return;
  if (!r->done) {
    printf("%-14s %-16s %-8s  %s\n", r->system, r->transport, r->app,
           r->note ? r->note : "not run");
    return;
  }
  char sent[32] = "-", bytes[32] = "-", unshown[32] = "-", cpu_g[32] = "-",
       cpu_h[32] = "-";
  if (r->sent >= 0)
    g_snprintf(sent, sizeof(sent), "%.1f", r->sent_fps);
  if (r->bytes_per_frame >= 0)
    g_snprintf(bytes, sizeof(bytes), "%.0f", r->bytes_per_frame);
  if (r->unshown_pct >= 0)
    g_snprintf(unshown, sizeof(unshown), "%.1f", r->unshown_pct);
  if (r->cpu_guest_ms >= 0)
    g_snprintf(cpu_g, sizeof(cpu_g), "%.2f", r->cpu_guest_ms);
  if (r->cpu_host_ms >= 0)
    g_snprintf(cpu_h, sizeof(cpu_h), "%.2f", r->cpu_host_ms);
  printf("%-14s %-16s %-8s %6.1f %6s %8s %8s %10s %7s %7s %7s\n", r->system,
         r->transport, r->app, r->fps, sent, "-", "-", bytes, unshown, cpu_g,
         cpu_h);
}

static gboolean measured(const PxAppResult *r) {
  return r->system && r->done && r->painted > 0;
}

static double cpu_total(const PxAppResult *r) {
  return r->cpu_guest_ms + r->cpu_host_ms;
}

/* One comparison with Xpra: what is compared, the values, the verdict. */
typedef struct {
  const char *app, *what, *transport;
  double tandem, xpra, limit;
  gboolean met;
} Verdict;

/* The targets, for every Tandem result that has a counterpart. */
static GArray *verdicts(const BpAppSet *sets, guint n) {
  GArray *v = g_array_new(FALSE, FALSE, sizeof(Verdict));
  const PxAppResult *xpra = NULL;
  for (guint s = 0; s < n; s++)
    if (sets[s].xpra)
      xpra = sets[s].r;
  if (!xpra)
    return v;
  for (int i = 0; i < BP_N_APPS; i++) {
    const PxAppResult *x = &xpra[i];
    if (!measured(x))
      continue;
    for (guint s = 0; s < n; s++) {
      const PxAppResult *t = &sets[s].r[i];
      if (sets[s].xpra || !measured(t))
        continue;
      if (sets[s].channel && i != BP_APP_XCLOCK && t->bytes_per_frame >= 0 &&
          x->bytes_per_frame >= 0) {
        Verdict b = {cases[i].name, "bytes", t->transport,
                     t->bytes_per_frame, x->bytes_per_frame,
                     x->bytes_per_frame, FALSE};
        b.met = b.tandem <= b.limit;
        g_array_append_val(v, b);
      }
      if (sets[s].loopback && t->cpu_guest_ms >= 0 && x->cpu_guest_ms >= 0) {
        Verdict c = {cases[i].name, "cpu", t->transport, cpu_total(t),
                     cpu_total(x), cpu_total(x) / 2, FALSE};
        c.met = c.tandem <= c.limit;
        g_array_append_val(v, c);
      }
    }
  }
  return v;
}

void bp_apps_print(const BpConfig *cfg, const BpAppSet *sets, guint n,
                   const char *xpra_info) {
  printf("\n2. Real applications, without frame stamps (no latency: \"-\"); "
         "%.0f s warm-up, %.0f s measured per case (xclock %.0f s)\n",
         cfg->app_warmup_s, cfg->app_measure_s, cfg->clock_measure_s);
  printf("   xterm:    100x40, `seq 1 1000000000` scrolling through it\n");
  printf("   mousepad: paging through a text file of %d lines, Page_Down "
         "typed %.0f times a second (a held key), from when it pages (Tandem: "
         "three single Page_Downs in a row each repainted a page; Xpra: the "
         "file's name in its title)\n", BP_TEXT_LINES, BP_KEY_HZ);
  printf("   xclock:   -update 1, idle but for its second hand\n");
  printf("   Tandem:   launched through the hub; fps = the proxy's "
         "\"frame-painted\" per second, sent = frames whose DAMAGE reached "
         "the proxy per second; keys typed on the host display into the "
         "proxy (XTEST), forwarded to the agent\n");
  printf("   Xpra:     the same program on its server's display; fps = "
         "batches of draw packets ending with flush 0, painted into memory "
         "and acked, per second; keys typed on the server's display (its "
         "client has no keyboard)\n");
  printf("   B/frame:  every byte read from the guest per painted frame: "
         "Tandem's channel (all messages, less the benchmark's own "
         "heartbeats; +shm: pixels in shared memory), Xpra's socket "
         "(without mmap)\n");
  printf("   unshown, CPU g / h: as in 1 (a VM's guest side is all of QEMU: "
         "the app's own work and drawing too)\n\n");
  printf("%-14s %-16s %-8s %6s %6s %8s %8s %10s %7s %7s %7s\n", "system",
         "transport", "app", "fps", "sent", "p50 ms", "p99 ms", "B/frame",
         "unshown", "CPU g", "CPU h");
  for (int i = 0; i < BP_N_APPS; i++)
    for (guint s = 0; s < n; s++)
      print_row(&sets[s].r[i]);
  for (guint s = 0; s < n; s++)
    for (int i = 0; i < BP_N_APPS; i++) {
      const PxAppResult *r = &sets[s].r[i];
      if (r->system && r->done && r->note)
        printf("%s %s %s: %s\n", r->system, r->transport, r->app, r->note);
    }
  if (xpra_info)
    printf("Xpra: %s\n", xpra_info);

  printf("\nTargets (the issue's): channel bytes per painted frame for xterm "
         "and mousepad no more than Xpra's without mmap; CPU per painted "
         "frame (guest + host side) at most half of Xpra's\n");
  g_autoptr(GArray) v = verdicts(sets, n);
  for (guint k = 0; k < v->len; k++) {
    const Verdict *x = &g_array_index(v, Verdict, k);
    if (g_str_equal(x->what, "bytes"))
      printf("  %-8s bytes  Tandem %-16s %10.0f vs Xpra %10.0f B/frame: "
             "%s\n", x->app, x->transport, x->tandem, x->xpra,
             x->met ? "met" : "NOT met");
    else
      printf("  %-8s CPU    Tandem %-16s %10.2f vs Xpra %10.2f ms/frame "
             "(at most %.2f): %s\n", x->app, x->transport, x->tandem,
             x->xpra, x->limit, x->met ? "met" : "NOT met");
  }
  if (!v->len)
    printf("  not checked: nothing to compare (Xpra or Tandem not "
           "measured)\n");
  else
    printf("  (bytes: the rows with pixels on the channel; CPU: this "
           "machine's rows, a VM's CPU being all of QEMU's)\n");
}

static void json_row(GString *j, const PxAppResult *r) {
  g_string_append_printf(j, "{\"system\":\"%s\",\"transport\":\"%s\","
                            "\"app\":\"%s\",\"measured\":%s",
                         r->system, r->transport, r->app,
                         r->done ? "true" : "false");
  if (r->done) {
    g_string_append_printf(j, ",\"seconds\":%.2f,\"frames_painted\":%d,"
                              "\"fps\":%.2f,\"latency_ms\":null",
                           r->seconds, r->painted, r->fps);
    if (r->sent >= 0)
      g_string_append_printf(j, ",\"frames_sent\":%d,\"sent_fps\":%.2f",
                             r->sent, r->sent_fps);
    if (r->bytes_per_frame >= 0)
      g_string_append_printf(j, ",\"channel_bytes_per_frame\":%.0f",
                             r->bytes_per_frame);
    if (r->damage_bytes_per_frame >= 0)
      g_string_append_printf(j, ",\"damage_bytes_per_frame\":%.0f",
                             r->damage_bytes_per_frame);
    if (r->unshown_pct >= 0)
      g_string_append_printf(j, ",\"unshown_pct\":%.2f", r->unshown_pct);
    if (r->cpu_guest_ms >= 0)
      g_string_append_printf(j, ",\"cpu_ms_per_frame\":{\"guest_side\":%.3f,"
                                "\"host_side\":%.3f}",
                             r->cpu_guest_ms, r->cpu_host_ms);
    g_string_append_printf(j, ",\"keys\":%d", r->keys);
  }
  if (r->note) {
    g_autofree char *esc = g_strescape(r->note, NULL);
    g_string_append_printf(j, ",\"note\":\"%s\"", esc);
  }
  g_string_append(j, "}");
}

void bp_apps_json(GString *j, const BpConfig *cfg, const BpAppSet *sets,
                  guint n) {
  g_string_append_printf(
      j, ",\"apps\":{\"xterm\":\"100x40, seq 1 1000000000\","
         "\"mousepad\":{\"text_lines\":%d,\"page_down_hz\":%.0f},"
         "\"xclock\":\"-update 1\",\"warmup_s\":%.0f,\"measure_s\":%.0f,"
         "\"xclock_measure_s\":%.0f,\"cases\":[",
      BP_TEXT_LINES, BP_KEY_HZ, cfg->app_warmup_s, cfg->app_measure_s,
      cfg->clock_measure_s);
  gboolean first = TRUE;
  for (guint s = 0; s < n; s++)
    for (int i = 0; i < BP_N_APPS; i++) {
      if (!sets[s].r[i].system)
        continue;
      g_string_append(j, first ? "" : ",");
      json_row(j, &sets[s].r[i]);
      first = FALSE;
    }
  g_string_append(j, "],\"targets\":[");
  g_autoptr(GArray) v = verdicts(sets, n);
  for (guint k = 0; k < v->len; k++) {
    const Verdict *x = &g_array_index(v, Verdict, k);
    gboolean bytes = g_str_equal(x->what, "bytes");
    g_string_append_printf(
        j, "%s{\"app\":\"%s\",\"target\":\"%s\",\"tandem_transport\":\"%s\","
           "\"tandem\":%.3f,\"xpra\":%.3f,\"limit\":%.3f,\"met\":%s}",
        k ? "," : "", x->app,
        bytes ? "channel_bytes_per_frame <= xpra_without_mmap"
              : "cpu_ms_per_frame <= xpra / 2",
        x->transport, x->tandem, x->xpra, x->limit,
        x->met ? "true" : "false");
  }
  g_string_append(j, "]}");
}
