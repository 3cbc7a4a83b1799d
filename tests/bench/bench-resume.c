/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-resume: launch to window, from a stopped VM, with and without its
 * session saved, side by side in one run.
 *
 * The default guest under TCG (2 vCPUs, 1 GiB) with the shell's own host
 * code (hub, link, proxy manager on GTK, on an Xvfb of our own) and the
 * snapshot manager the shell uses. Each round, in turn:
 *
 *   cold    the VM stopped with nothing saved; launch xclock through the
 *           hub (what a click in the host menu ends in): the VM boots,
 *           the agent connects, xclock starts; until its proxy has painted
 *   resume  xclock open, the VM stopped with its session saved
 *           (Snapshots.Suspend, `tandemctl vm stop --save`); launch xclock
 *           again: the hub resumes the session instead of booting. Timed
 *           until the xclock open at the stop is back as a painted proxy
 *           ("first window"), and until the one just launched is ("the
 *           launched window")
 *
 * all from the launch request, host wall-clock time. Target: the launched
 * window after instant resume in under a third of the cold boot's time.
 *
 *   bench-resume [--short] [--json FILE]
 *
 * The short mode (CI) runs one round; the full one three. Needs the
 * default guest (tools/dev.sh test builds it); without it, it says so and
 * exits 0. */
#include <stdio.h>
#include <string.h>

#include "bench-proxy.h"
#include "bench-util.h"
#include "tandem-snapshot-manager.h"

#define WAIT_S 180
#define SETTLE_S 2.0

static BpGuest G;
static TandemSnapshotManager *snaps;

typedef struct {
  gint64 after_ns;
  guint want;
} Painted;

/* xclock windows created at or after @after_ns that have painted. */
static guint painted_xclocks(gint64 after_ns, gint64 *last_paint_ns) {
  GHashTableIter it;
  gpointer value;
  guint n = 0;
  g_hash_table_iter_init(&it, G.windows);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    const BpWindow *w = value;
    if (w->res_name && g_str_equal(w->res_name, "xclock") &&
        w->create_ns >= after_ns && w->first_paint_ns > 0) {
      n++;
      if (last_paint_ns && w->first_paint_ns > *last_paint_ns)
        *last_paint_ns = w->first_paint_ns;
    }
  }
  return n;
}

static gboolean enough_painted(gpointer data) {
  const Painted *p = data;
  return painted_xclocks(p->after_ns, NULL) >= p->want;
}

/* ms from @t0 until @want xclocks created since then have painted; -1 on
 * a timeout. */
static double wait_painted(gint64 t0, guint want) {
  Painted p = {t0, want};
  if (!bp_wait(enough_painted, &p, WAIT_S))
    return -1;
  gint64 last = 0;
  painted_xclocks(t0, &last);
  return (double)(last - t0) / 1e6;
}

typedef struct {
  gboolean done;
  GError *error;
} Call;

static gboolean call_done(gpointer data) { return ((Call *)data)->done; }

static void on_suspended(GObject *source, GAsyncResult *res, gpointer data) {
  Call *c = data;
  g_autoptr(TandemSnapshotInfo) info = tandem_snapshot_manager_suspend_finish(
      TANDEM_SNAPSHOT_MANAGER(source), res, &c->error);
  c->done = TRUE;
}

static gboolean launch_and_time(double *first_ms, double *launched_ms,
                                guint want, GError **error) {
  gint64 t0 = px_now_ns();
  BpLaunch *l = bp_launch(&G, "xclock");
  *first_ms = wait_painted(t0, 1);
  *launched_ms = want > 1 ? wait_painted(t0, want) : *first_ms;
  if (!bp_launch_finish(l, WAIT_S, NULL, NULL, error))
    return FALSE;
  if (*first_ms < 0 || *launched_ms < 0) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "no painted xclock proxy within %d s of the launch", WAIT_S);
    return FALSE;
  }
  return TRUE;
}

static gboolean cold_round(double *ms, GError **error) {
  double first;
  px_guest_stop(G.vm); /* nothing saved */
  return launch_and_time(&first, ms, 1, error);
}

static gboolean resume_round(double *first_ms, double *launched_ms,
                             GError **error) {
  /* The xclock of the cold round is open: the session to save. */
  bp_run_for(SETTLE_S);
  Call c = {0};
  tandem_snapshot_manager_suspend_async(snaps, G.name, NULL, on_suspended,
                                        &c);
  if (!bp_wait(call_done, &c, WAIT_S)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "the suspend did not end within %d s", WAIT_S);
    return FALSE;
  }
  if (c.error) {
    g_propagate_error(error, c.error);
    return FALSE;
  }
  return launch_and_time(first_ms, launched_ms, 2, error);
}

/* The median of @a's values (a sorted copy: @a keeps the rounds' order). */
static double median(GArray *a) {
  if (!a->len)
    return -1;
  g_autofree double *v = g_memdup2(a->data, a->len * sizeof(double));
  return bench_percentile(v, (int)a->len, 0.5);
}

static void print_row(const char *what, GArray *a) {
  printf("%-38s", what);
  for (guint i = 0; i < a->len; i++)
    printf(" %8.2f", g_array_index(a, double, i) / 1000.0);
  printf("   median %6.2f s\n", median(a) / 1000.0);
}

static void json_list(GString *j, const char *name, GArray *a) {
  g_string_append_printf(j, "\"%s\":{\"median_s\":%.3f,\"runs_s\":[", name,
                         median(a) / 1000.0);
  for (guint i = 0; i < a->len; i++)
    g_string_append_printf(j, "%s%.3f", i ? "," : "",
                           g_array_index(a, double, i) / 1000.0);
  g_string_append(j, "]}");
}

int main(int argc, char **argv) {
  gboolean is_short;
  const char *json_path;
  if (!bench_parse_args(argc, argv, &is_short, &json_path))
    return 2;
  BpConfig cfg = {.px = {is_short, 1, 1, 60}};
  cfg.px.agent = bp_locate("TANDEM_GUEST_AGENT", BENCH_AGENT_PATH);
  cfg.px.anim = bp_locate("TANDEM_BENCH_ANIM", BENCH_ANIM_PATH);
  cfg.keys = bp_locate("TANDEM_BENCH_KEYS", BENCH_KEYS_PATH);
  cfg.px.tmp = g_dir_make_tmp("bench-resume-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  GSubprocess *host = bp_host_display_start(cfg.px.tmp, &error);
  if (!host) {
    fprintf(stderr, "bench-resume: %s\n", error->message);
    return 1;
  }
  gboolean skipped = FALSE;
  g_autofree char *why = NULL;
  bp_progress("booting the default guest");
  if (!bp_guest_start_vm(&G, &cfg, &skipped, &why, &error)) {
    int status = skipped ? 0 : 1;
    if (skipped)
      printf("bench-resume: skipped: %s\n", why ? why : "no default guest");
    else
      fprintf(stderr, "bench-resume: %s\n", error->message);
    bp_guest_stop(&G);
    bp_host_display_stop(host);
    bp_config_clear(&cfg, TRUE);
    return status;
  }
  double first_boot_s = G.boot_s;
  snaps = tandem_snapshot_manager_new(G.vms);
  tandem_guest_hub_set_snapshot_manager(G.hub, snaps);

  int rounds = is_short ? 1 : 3;
  GArray *cold = g_array_new(FALSE, FALSE, sizeof(double));
  GArray *first = g_array_new(FALSE, FALSE, sizeof(double));
  GArray *launched = g_array_new(FALSE, FALSE, sizeof(double));
  gboolean ok = TRUE;
  for (int r = 0; ok && r < rounds; r++) {
    double c_ms, f_ms, l_ms;
    bp_progress("round %d: cold boot", r + 1);
    ok = cold_round(&c_ms, &error);
    if (ok)
      g_array_append_val(cold, c_ms);
    bp_progress("round %d: instant resume", r + 1);
    ok = ok && resume_round(&f_ms, &l_ms, &error);
    if (ok) {
      g_array_append_val(first, f_ms);
      g_array_append_val(launched, l_ms);
    }
  }
  bp_progress("stopping");
  g_clear_object(&snaps);
  bp_guest_stop(&G);
  bp_host_display_stop(host);
  if (!ok) {
    fprintf(stderr, "bench-resume: %s\n(files kept in %s)\n",
            error->message, cfg.px.tmp);
    return 1;
  }
  bp_config_clear(&cfg, TRUE);

  double ratio = median(launched) / median(cold);
  printf("bench-resume, %s mode: launch of xclock from the host side "
         "(tandem_guest_hub_launch_async) with the VM stopped, to its proxy's "
         "first paint; default guest under TCG, 2 vCPUs, 1 GiB (the first "
         "boot to the session took %.1f s)\n\n",
         is_short ? "short" : "full", first_boot_s);
  printf("%-38s %s\n", "seconds, per round", "");
  print_row("cold boot: the launched window", cold);
  print_row("instant resume: first window back", first);
  print_row("instant resume: the launched window", launched);
  printf("\ninstant resume / cold boot (launched window): %.2f  (target: "
         "under 0.33) %s\n",
         ratio, ratio < 1.0 / 3 ? "met" : "NOT met");
  if (json_path) {
    GString *j = g_string_new("{\"bench\":\"resume\",");
    g_string_append_printf(j, "\"short\":%s,\"rounds\":%d,",
                           is_short ? "true" : "false", rounds);
    json_list(j, "cold_launch_to_window", cold);
    g_string_append_c(j, ',');
    json_list(j, "resume_first_window", first);
    g_string_append_c(j, ',');
    json_list(j, "resume_launch_to_window", launched);
    g_string_append_printf(j, ",\"ratio\":%.3f,\"target_met\":%s}\n", ratio,
                           ratio < 1.0 / 3 ? "true" : "false");
    g_file_set_contents(json_path, j->str, -1, NULL);
    g_string_free(j, TRUE);
  }
  g_array_unref(cold);
  g_array_unref(first);
  g_array_unref(launched);
  return 0;
}
