/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-snapshot: what a guest notices of a snapshot, for each way of
 * taking one, side by side in one run.
 *
 * The default guest under TCG (1 GiB, 2 vCPUs) runs tandem-memprobe: it
 * writes memory without pause, one byte per page over its hot set, and
 * prints a heartbeat with its write counter every 20 ms; the host
 * timestamps each line as it arrives on the serial console (the guest's
 * own clock stops while the VM is stopped, so a guest-side timer would
 * hide a freeze). Two workloads: the worst case sweeping 512 MiB, and a
 * realistic 64 MiB hot set (512 MiB allocated). For each, in turn on the
 * same running guest:
 *
 *   tandem       Tandem's snapshot: background-snapshot into the RAM queue,
 *                compressed behind it (storage/)
 *   qemu-bg      QEMU's background-snapshot writing straight to a file
 *   stop-save    stop, migrate to a file, cont
 *   snapshot-save QEMU's snapshot-save job (internal, into the qcow2 disk)
 *
 * and for each: the guest's longest and p99 gap between heartbeats during
 * the snapshot (its stall, plus the 20 ms beat), its write rate then as a
 * share of its rate in the 3 s before, the total time and the bytes on
 * disk. Then Tandem's restore of its snapshot, request to running, beside
 * a cold boot to the session's start.
 *
 *   bench-snapshot [--short] [--json FILE]
 *
 * The short mode (CI) runs a smaller guest workload (128 MiB, 32 MiB hot)
 * once. BENCH_SNAPSHOT_TRACE=1 prints the probe's write rate each second
 * (under TCG it switches between two levels some 20x apart, which makes
 * the work-rate column noisy: it is taken against the 3 s just before). Needs the default guest (tools/dev.sh test builds it); without it,
 * it says so and exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench-pixels.h"
#include "bench-util.h"
#include "tandem-qmp-commands.h"
#include "tandem-snapshot-manager.h"

#define BEAT_MS 20
#define BEFORE_S 3.0
#define SETTLE_S 2.0

typedef struct {
  gint64 at_us;
  guint64 writes;
} Beat;

typedef struct {
  const char *method;
  gboolean done;
  double longest_ms, p99_ms, p50_ms, rate_share, seconds;
  double paused_ms;   /* QEMU's STOP to RESUME, the longest */
  double rate_before; /* page writes per s before it */
  guint64 disk_bytes;
  char *note;
} Row;

typedef struct {
  const char *name; /* "worst", "realistic": the VM is "snap-NAME" */
  guint mib, hot;
  double boot_s, restore_s;
  gboolean restored;
  Row rows[4];
} Workload;

typedef struct {
  char *tmp;
  TandemVmManager *vms;
  TandemVm *vm;
  TandemQmpClient *qmp;
  TandemSnapshotManager *snaps;
  GArray *beats; /* Beat */
} Bench;

static Bench B;

/* QEMU's own account of the guest's pauses: STOP and RESUME events, with
 * QEMU's timestamps. */
static gint64 stop_us;
static double longest_pause_ms;

static void on_run_event(TandemQmpClient *q, const char *name,
                         JsonObject *data, gint64 us, gpointer user) {
  if (g_str_equal(name, "STOP"))
    stop_us = us;
  else if (g_str_equal(name, "RESUME") && stop_us) {
    longest_pause_ms = MAX(longest_pause_ms, (double)(us - stop_us) / 1000.0);
    stop_us = 0;
  }
}

/* --- Heartbeats ------------------------------------------------------------ */

static void on_console(TandemVm *vm, const char *line, gpointer data) {
  const char *p = strstr(line, "TANDEM-PROBE beat=");
  Beat b = {g_get_monotonic_time(), 0};
  if (p && sscanf(p, "TANDEM-PROBE beat=%*u writes=%" G_GUINT64_FORMAT,
                  &b.writes) == 1)
    g_array_append_val(B.beats, b);
}

/* The write rate (per s) over [@from, @to] (monotonic µs). */
static double rate_between(gint64 from, gint64 to) {
  const Beat *first = NULL, *last = NULL;
  for (guint i = 0; i < B.beats->len; i++) {
    const Beat *b = &g_array_index(B.beats, Beat, i);
    if (b->at_us < from || b->at_us > to)
      continue;
    if (!first)
      first = b;
    last = b;
  }
  if (!first || last == first)
    return 0;
  return (double)(last->writes - first->writes) * 1e6 /
         (double)(last->at_us - first->at_us);
}

/* Gaps between heartbeats that end in [@from, @to + a beat]. */
static void gaps(gint64 from, gint64 to, Row *r) {
  g_autoptr(GArray) g = g_array_new(FALSE, FALSE, sizeof(double));
  for (guint i = 1; i < B.beats->len; i++) {
    const Beat *b = &g_array_index(B.beats, Beat, i);
    if (b->at_us < from || b->at_us > to + 1000 * BEAT_MS * 5)
      continue;
    double ms = (double)(b->at_us -
                         g_array_index(B.beats, Beat, i - 1).at_us) / 1000.0;
    g_array_append_val(g, ms);
  }
  if (!g->len)
    return;
  double *v = (double *)(void *)g->data;
  r->p50_ms = bench_percentile(v, (int)g->len, 0.5);
  r->p99_ms = bench_percentile(v, (int)g->len, 0.99);
  r->longest_ms = bench_percentile(v, (int)g->len, 1.0);
}

/* --- Waiting ------------------------------------------------------------------ */

typedef struct {
  gboolean done;
  gpointer result;
  GError *error;
} Call;

static void on_call(GObject *src, GAsyncResult *res, gpointer data) {
  Call *c = data;
  c->result = g_object_ref(res);
  c->done = TRUE;
}

/* Runs one async call to its end (bounded); the result to finish. */
static GAsyncResult *wait_call(Call *c, double seconds) {
  return tandem_test_wait(&c->done, seconds) ? c->result : NULL;
}

static void sleep_s(double s) {
  gboolean never = FALSE;
  tandem_test_wait(&never, s);
}

typedef struct {
  gboolean done;
  TandemQmpMigrationStatus status;
} MigWait;

static void on_migration(TandemQmpClient *q, const char *name,
                         JsonObject *data, gint64 us, gpointer user) {
  MigWait *w = user;
  TandemQmpMigrationStatus s;
  if (g_str_equal(name, "MIGRATION") &&
      tandem_qmp_migration_event_parse(data, &s, NULL) &&
      tandem_qmp_migration_status_is_finished(s)) {
    w->status = s;
    w->done = TRUE;
  }
}

#define QMP_DO(call_expr, finish_expr)                                       \
  ({                                                                         \
    Call c_ = {0};                                                           \
    call_expr;                                                               \
    GAsyncResult *res_ = wait_call(&c_, 600);                                \
    gboolean ok_ = res_ && (finish_expr);                                    \
    g_clear_object(&c_.result);                                              \
    ok_;                                                                     \
  })

/* --- The methods --------------------------------------------------------------- */

static guint64 file_size(const char *path) {
  GStatBuf st;
  return g_stat(path, &st) == 0 ? (guint64)st.st_size : 0;
}

static gboolean m_tandem(Row *r) {
  Call c = {0};
  tandem_snapshot_manager_create_async(B.snaps, tandem_vm_get_name(B.vm),
                                       "bench", NULL, on_call, &c);
  GAsyncResult *res = wait_call(&c, 600);
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotInfo) info =
      res ? tandem_snapshot_manager_create_finish(B.snaps, res, &error)
          : NULL;
  g_clear_object(&c.result);
  if (!info) {
    r->note = g_strdup(error ? error->message : "timeout");
    return FALSE;
  }
  r->disk_bytes = info->file_bytes;
  if (info->method != TANDEM_SNAPSHOT_METHOD_BACKGROUND)
    r->note = g_strdup_printf("method %s: %s",
                              tandem_snapshot_method_to_string(info->method),
                              info->method_reason);
  return TRUE;
}

/* Migrates to a new file; @background: QEMU's background-snapshot, else
 * with the guest stopped around it. */
static gboolean m_migrate_to_file(Row *r, gboolean background,
                                  const char *name) {
  g_autofree char *path = g_build_filename(B.tmp, name, NULL);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return FALSE;
  TandemQmpMigrationCapabilityState caps[] = {
      {TANDEM_QMP_MIGRATION_CAP_EVENTS, TRUE},
      {TANDEM_QMP_MIGRATION_CAP_BACKGROUND_SNAPSHOT, background}};
  TandemQmpMigrationParameters p = {TANDEM_QMP_MIGRATION_PARAM_MAX_BANDWIDTH,
                                    64ull << 30, 0};
  MigWait w = {0};
  gulong h = g_signal_connect(B.qmp, "event", G_CALLBACK(on_migration), &w);
  /* The first step that fails says so in the row. */
  g_autoptr(GError) e = NULL;
  const char *step = "migrate-set-capabilities";
  gboolean ok =
      QMP_DO(tandem_qmp_migrate_set_capabilities_async(B.qmp, caps, 2, NULL,
                                                       on_call, &c_),
             tandem_qmp_migrate_set_capabilities_finish(B.qmp, res_, &e)) &&
      (step = "migrate-set-parameters",
       QMP_DO(tandem_qmp_migrate_set_parameters_async(B.qmp, &p, NULL,
                                                      on_call, &c_),
              tandem_qmp_migrate_set_parameters_finish(B.qmp, res_, &e))) &&
      (step = "getfd",
       QMP_DO(tandem_qmp_getfd_async(B.qmp, "bench", fd, NULL, on_call, &c_),
              tandem_qmp_getfd_finish(B.qmp, res_, &e)));
  close(fd);
  if (ok && !background)
    ok = (step = "stop",
          QMP_DO(tandem_qmp_stop_async(B.qmp, NULL, on_call, &c_),
                 tandem_qmp_stop_finish(B.qmp, res_, &e)));
  ok = ok && (step = "migrate",
              QMP_DO(tandem_qmp_migrate_async(B.qmp, "fd:bench", NULL,
                                              on_call, &c_),
                     tandem_qmp_migrate_finish(B.qmp, res_, &e)));
  ok = ok && (step = "the MIGRATION event",
              tandem_test_wait(&w.done, 600) &&
                  w.status == TANDEM_QMP_MIGRATION_STATUS_COMPLETED);
  if (!ok && !r->note)
    r->note = g_strdup_printf(
        "%s: %s", step,
        e ? e->message
          : w.done ? tandem_qmp_migration_status_to_string(w.status)
                   : "no answer");
  g_clear_error(&e);
  g_signal_handler_disconnect(B.qmp, h);
  if (!background) /* postmigrate or paused: the guest goes on */
    ok = QMP_DO(tandem_qmp_cont_async(B.qmp, NULL, on_call, &c_),
                tandem_qmp_cont_finish(B.qmp, res_, NULL)) && ok;
  r->disk_bytes = file_size(path);
  g_unlink(path);
  return ok;
}

static gboolean m_qemu_bg(Row *r) {
  return m_migrate_to_file(r, TRUE, "qemu-bg.stream");
}

static gboolean m_stop_save(Row *r) {
  return m_migrate_to_file(r, FALSE, "stop-save.stream");
}

static gboolean job_concluded(gpointer data) {
  g_autoptr(GPtrArray) jobs = NULL;
  Call c = {0};
  tandem_qmp_query_jobs_async(B.qmp, NULL, on_call, &c);
  GAsyncResult *res = wait_call(&c, 10);
  if (res)
    jobs = tandem_qmp_query_jobs_finish(B.qmp, res, NULL);
  g_clear_object(&c.result);
  const TandemQmpJobInfo *j = jobs ? tandem_qmp_job_list_find(jobs, "bench")
                                   : NULL;
  return !j || g_str_equal(j->status, "concluded");
}

static gboolean m_snapshot_save(Row *r) {
  /* The home disk's active node and file (Tandem's snapshots moved it to
   * an overlay): the job saves into it. */
  g_autoptr(GPtrArray) devs = NULL;
  Call c = {0};
  tandem_qmp_query_block_async(B.qmp, NULL, on_call, &c);
  GAsyncResult *res = wait_call(&c, 10);
  if (res)
    devs = tandem_qmp_query_block_finish(B.qmp, res, NULL);
  g_clear_object(&c.result);
  const TandemQmpBlockDevice *home = NULL;
  for (guint i = 0; devs && i < devs->len; i++) {
    const TandemQmpBlockDevice *d = devs->pdata[i];
    if (!d->read_only && d->format && g_str_equal(d->format, "qcow2"))
      home = d;
  }
  if (!home) {
    r->note = g_strdup("no qcow2 disk to save into");
    return FALSE;
  }
  guint64 before = file_size(home->file);
  const char *devices[] = {home->node_name, NULL};
  gboolean ok = QMP_DO(
      tandem_qmp_snapshot_save_async(B.qmp, "bench", "bench", home->node_name,
                                     devices, NULL, on_call, &c_),
      tandem_qmp_snapshot_save_finish(B.qmp, res_, NULL));
  for (int i = 0; ok && i < 6000 && !job_concluded(NULL); i++)
    sleep_s(0.05); /* QEMU's job, polled: no event for it here */
  ok = ok && QMP_DO(tandem_qmp_job_dismiss_async(B.qmp, "bench", NULL,
                                                 on_call, &c_),
                    tandem_qmp_job_dismiss_finish(B.qmp, res_, NULL));
  r->disk_bytes = file_size(home->file) - before;
  return ok;
}

/* --- One workload ------------------------------------------------------------------ */

/* Waits (at most a minute) until the probe's write rate is steady,
 * within 15 % over three 1 s windows in a row, and returns that rate.
 * Under TCG the guest is busy for seconds after its session starts (the
 * kernel's entropy gathering, X and the agent) and after a snapshot (the
 * host's cores were shared with the save). */
static double wait_steady(void) {
  double last = 0;
  int steady = 0;
  for (int i = 0; i < 60 && steady < 3; i++) {
    sleep_s(1);
    gint64 now = g_get_monotonic_time();
    double rate = rate_between(now - G_USEC_PER_SEC, now);
    if (g_getenv("BENCH_SNAPSHOT_TRACE"))
      fprintf(stderr, "rate %.0f\n", rate);
    steady = last > 0 && rate > 0.85 * last && rate < 1.15 * last
                 ? steady + 1
                 : 0;
    last = rate;
  }
  return last;
}

static void measure(Row *r, const char *method, gboolean (*run)(Row *)) {
  r->method = method;
  sleep_s(SETTLE_S);
  wait_steady();
  gint64 t0 = g_get_monotonic_time();
  double before = rate_between(t0 - (gint64)(BEFORE_S * 1e6), t0);
  if (g_getenv("BENCH_SNAPSHOT_TRACE"))
    fprintf(stderr, "before %.0f over %u beats\n", before, B.beats->len);
  fprintf(stderr, "bench-snapshot: %s\n", method);
  longest_pause_ms = 0;
  stop_us = 0;
  gulong h = g_signal_connect(B.qmp, "event", G_CALLBACK(on_run_event), NULL);
  r->done = run(r);
  gint64 t1 = g_get_monotonic_time();
  g_signal_handler_disconnect(B.qmp, h);
  r->paused_ms = longest_pause_ms;
  r->rate_before = before;
  r->seconds = (double)(t1 - t0) / 1e6;
  sleep_s(0.5); /* the last beats of the period arrive */
  gaps(t0, t1, r);
  double during = rate_between(t0, t1);
  r->rate_share = before > 0 ? during / before : 0;
}

static gboolean start_vm(Workload *w, GError **error) {
  g_autofree char *guest = px_guest_dir();
  g_autofree char *dir = g_build_filename(B.tmp, w->name, NULL);
  g_mkdir_with_parents(dir, 0700);
  const PxOverlayFile files[] = {{BENCH_MEMPROBE_PATH,
                                  "usr/bin/tandem-memprobe"},
                                 {NULL, NULL}};
  const PxOverlayApp apps[] = {{NULL, NULL}};
  g_autofree char *initrd = px_guest_initrd(guest, dir, files, apps, error);
  if (!initrd)
    return FALSE;
  g_autofree char *home = px_guest_home(guest, dir);
  g_autofree char *extra = g_strdup_printf(
      "tandem.autostart=tandem-memprobe+--mib+%u+--hot+%u+--beat+%d", w->mib,
      w->hot, BEAT_MS);
  g_autofree char *conf = px_guest_config(guest, initrd, home, extra);
  g_autofree char *vms = g_build_filename(B.tmp, "vms", NULL);
  g_mkdir_with_parents(vms, 0700);
  g_autofree char *vm_name = g_strconcat("snap-", w->name, NULL);
  g_autofree char *conf_name = g_strconcat(vm_name, ".conf", NULL);
  g_autofree char *conf_path = g_build_filename(vms, conf_name, NULL);
  if (!g_file_set_contents(conf_path, conf, -1, error))
    return FALSE;
  tandem_vm_manager_reload(B.vms);
  B.vm = tandem_vm_manager_lookup(B.vms, vm_name);
  if (!B.vm) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "no VM config");
    return FALSE;
  }
  g_signal_connect(B.vm, "console-line", G_CALLBACK(on_console), NULL);
  if (!px_guest_boot(B.vm, &w->boot_s, error))
    return FALSE;
  B.qmp = tandem_vm_get_qmp(B.vm);
  /* The probe beats. */
  for (int i = 0; i < 600 && B.beats->len < 20; i++)
    sleep_s(0.1);
  return B.beats->len >= 20;
}

static void run_workload(Workload *w) {
  g_autoptr(GError) error = NULL;
  g_array_set_size(B.beats, 0);
  if (!start_vm(w, &error)) {
    w->rows[0].method = "tandem";
    w->rows[0].note = g_strdup_printf(
        "the guest did not start with its probe beating: %s",
        error ? error->message : "no heartbeats");
    return;
  }
  measure(&w->rows[0], "tandem", m_tandem);
  measure(&w->rows[1], "qemu-bg", m_qemu_bg);
  measure(&w->rows[2], "stop-save", m_stop_save);
  measure(&w->rows[3], "snapshot-save", m_snapshot_save);
  /* Restore Tandem's snapshot: request to running. */
  const char *vm_name = tandem_vm_get_name(B.vm);
  g_autoptr(GPtrArray) list = tandem_snapshot_manager_list(B.snaps, vm_name,
                                                          NULL);
  if (list && list->len) {
    const TandemSnapshotInfo *i = list->pdata[0];
    Call c = {0};
    gint64 t0 = g_get_monotonic_time();
    tandem_snapshot_manager_restore_async(B.snaps, vm_name, i->id, NULL,
                                          on_call, &c);
    GAsyncResult *res = wait_call(&c, 600);
    w->restored = res && tandem_snapshot_manager_restore_finish(
                             B.snaps, res, NULL);
    w->restore_s = (double)(g_get_monotonic_time() - t0) / 1e6;
    g_clear_object(&c.result);
  }
  px_guest_stop(B.vm);
  g_signal_handlers_disconnect_by_data(B.vm, NULL);
  B.vm = NULL;
}

/* --- Output ------------------------------------------------------------------------ */

static void print_workload(const Workload *w) {
  printf("\n%s: the probe sweeps %u MiB of %u MiB, a heartbeat every %d "
         "ms\n",
         w->name, w->hot, w->mib, BEAT_MS);
  printf("%-14s %10s %10s %10s %9s %10s %8s %12s\n", "method",
         "longest ms", "p99 ms", "p50 ms", "paused ms", "work rate",
         "total s", "bytes on disk");
  for (int i = 0; i < 4; i++) {
    const Row *r = &w->rows[i];
    if (!r->method)
      continue;
    if (!r->done) {
      printf("%-14s failed: %s\n", r->method, r->note ? r->note : "?");
      continue;
    }
    printf("%-14s %10.1f %10.1f %10.1f %9.1f %9.0f%% %8.2f %12" G_GUINT64_FORMAT
           "\n",
           r->method, r->longest_ms, r->p99_ms, r->p50_ms, r->paused_ms,
           r->rate_share * 100, r->seconds, r->disk_bytes);
    if (r->note)
      printf("%-14s (%s)\n", "", r->note);
  }
  printf("restore of Tandem's snapshot, request to running: %.2f s%s; cold "
         "boot to the session: %.2f s\n",
         w->restore_s, w->restored ? "" : " (FAILED)", w->boot_s);
}

static void json_workload(GString *j, const Workload *w) {
  g_string_append_printf(j, "\"%s\":{\"mib\":%u,\"hot_mib\":%u,\"beat_ms\":%d,"
                            "\"boot_s\":%.2f,\"restore_s\":%.2f,"
                            "\"restored\":%s,\"methods\":{",
                         w->name, w->mib, w->hot, BEAT_MS, w->boot_s,
                         w->restore_s, w->restored ? "true" : "false");
  gboolean first = TRUE;
  for (int i = 0; i < 4; i++) {
    const Row *r = &w->rows[i];
    if (!r->method)
      continue;
    g_string_append_printf(
        j, "%s\"%s\":{\"done\":%s,\"longest_gap_ms\":%.1f,\"p99_gap_ms\":%.1f,"
           "\"p50_gap_ms\":%.1f,\"paused_ms\":%.1f,\"work_rate_share\":%.3f,"
           "\"writes_per_s_before\":%.0f,\"seconds\":%.2f,"
           "\"disk_bytes\":%" G_GUINT64_FORMAT "}",
        first ? "" : ",", r->method, r->done ? "true" : "false",
        r->longest_ms, r->p99_ms, r->p50_ms, r->paused_ms, r->rate_share,
        r->rate_before, r->seconds, r->disk_bytes);
    first = FALSE;
  }
  g_string_append(j, "}}");
}

int main(int argc, char **argv) {
  gboolean is_short;
  const char *json_path;
  if (!bench_parse_args(argc, argv, &is_short, &json_path))
    return 2;
  g_autofree char *guest = px_guest_dir();
  g_autofree char *kernel = g_build_filename(guest, "vmlinuz", NULL);
  if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
    printf("bench-snapshot: not measured: no default guest in %s "
           "(tools/dev.sh test builds it)\n", guest);
    return 0;
  }
  B.tmp = g_dir_make_tmp("bench-snapshot-XXXXXX", NULL);
  g_autofree char *vms = g_build_filename(B.tmp, "vms", NULL);
  g_mkdir_with_parents(vms, 0700);
  B.vms = tandem_vm_manager_new(vms);
  B.snaps = tandem_snapshot_manager_new(B.vms);
  B.beats = g_array_new(FALSE, FALSE, sizeof(Beat));
  Workload loads[2] = {{"worst", 512, 512}, {"realistic", 512, 64}};
  Workload short_load = {"short", 128, 32};
  Workload *run = is_short ? &short_load : loads;
  int n = is_short ? 1 : 2;
  for (int i = 0; i < n; i++)
    run_workload(&run[i]);

  printf("bench-snapshot, %s mode: the default guest under TCG, 1 GiB, 2 "
         "vCPUs; heartbeats timestamped on the host\n",
         is_short ? "short" : "full");
  printf("gap: time between two heartbeats on the host during the snapshot "
         "(the guest's stall plus the beat); work rate: page writes per s "
         "during it / in the %.0f s before\n", BEFORE_S);
  for (int i = 0; i < n; i++)
    print_workload(&run[i]);
  if (json_path) {
    GString *j = g_string_new("{\"benchmark\":\"bench-snapshot\",");
    g_string_append_printf(j, "\"mode\":\"%s\",\"workloads\":{",
                           is_short ? "short" : "full");
    for (int i = 0; i < n; i++) {
      if (i)
        g_string_append(j, ",");
      json_workload(j, &run[i]);
    }
    g_string_append(j, "}}\n");
    g_file_set_contents(json_path, j->str, -1, NULL);
    g_string_free(j, TRUE);
  }
  int status = 0;
  for (int i = 0; i < n; i++)
    status |= !run[i].rows[0].done || !run[i].restored;
  g_object_unref(B.snaps);
  g_object_unref(B.vms);
  const char *rm[] = {"rm", "-rf", "--", B.tmp, NULL};
  g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
               NULL, NULL, NULL);
  g_free(B.tmp);
  g_array_unref(B.beats);
  return status;
}
