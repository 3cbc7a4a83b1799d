/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Background snapshots of the default guest under TCG, through the
 * snapshot manager the shell uses, with the shell's own proxy code as the
 * host (the bench-proxy harness: hub, link, proxy manager on GTK).
 *
 * In the guest, tandem-memprobe (autostarted) writes memory without pause
 * and, every 200 ms, creates a file on the home disk and prints a
 * heartbeat: its beat number, whether its memory holds what it wrote and
 * whether the home disk holds exactly the files it created. xclock is open
 * in a proxy.
 *
 *   - A snapshot taken while it writes: background-snapshot, the file on
 *     disk and listed, the guest kept beating, progress reported.
 *   - Restored after the guest ran on: the probe goes on from a beat of the
 *     snapshot's instant, its memory and its disk consistent (files written
 *     after the snapshot are gone), and xclock's window is back as a proxy
 *     with its pixels.
 *   - A damaged snapshot file, a bad id, an unknown id, a bad label: each
 *     refused with its message, the running guest untouched.
 *   - The fallback (the guest paused while QEMU copies its memory into
 *     the RAM queue) forced by the settings: recorded as such, the guest
 *     beats on after it, and it restores to a consistent instant too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench-proxy.h"
#include "tandem-snapshot-manager.h"

#define PROBE_ARGS \
  "tandem-memprobe+--mib+32+--beat+200+--check+--files+/home/user/probe"

typedef struct {
  guint beat;
  gboolean good;  /* mem=ok files=ok */
  gint64 at_us;   /* host time */
  guint run;      /* which start of the VM printed it */
} Beat;

static BpGuest G;
static BpConfig cfg;
static TandemSnapshotManager *snaps;
static GArray *beats;       /* Beat, as they come */
static guint progress_saving;
static guint run;           /* starts of the VM so far */

static void on_state(GObject *vm, GParamSpec *pspec, gpointer data) {
  if (tandem_vm_get_state(TANDEM_VM(vm)) == TANDEM_VM_STARTING)
    run++;
}
static char *first_id;      /* the background snapshot */

/* cmocka's TAP output drops fail_msg's text: say it as a comment. */
static void fail_with(const GError *error) {
  printf("# %s\n", error ? error->message : "failed without a reason");
  fflush(stdout);
  fail();
}

static void on_console(TandemVm *vm, const char *line, gpointer data) {
  const char *p = strstr(line, "TANDEM-PROBE beat=");
  if (!p) { /* the guest's other news: kept in the test's log */
    printf("# console: %s\n", line);
    return;
  }
  Beat b = {0, FALSE, g_get_monotonic_time(), run};
  char mem[8] = "", files[8] = "";
  if (sscanf(p, "TANDEM-PROBE beat=%u writes=%*u mem=%7s files=%7s", &b.beat,
             mem, files) != 3)
    return;
  b.good = g_str_equal(mem, "ok") && g_str_equal(files, "ok");
  g_array_append_val(beats, b);
}

static void on_progress(TandemSnapshotManager *m, TandemSnapshotProgress *p,
                        gpointer data) {
  if (p->phase == TANDEM_SNAPSHOT_PHASE_SAVING)
    progress_saving++;
}

/* The newest heartbeat's number (0 before any). */
static guint last_beat(void) {
  return beats->len ? g_array_index(beats, Beat, beats->len - 1).beat : 0;
}

static gboolean beats_reached(gpointer data) {
  return beats->len >= GPOINTER_TO_UINT(data);
}

/* Waits for @n more heartbeats. */
static void wait_beats(guint n) {
  assert_true(bp_wait(beats_reached, GUINT_TO_POINTER(beats->len + n), 60));
}

typedef struct {
  gboolean done;
  gpointer result;
  GError *error;
} Call;

static void on_created(GObject *source, GAsyncResult *res, gpointer data) {
  Call *c = data;
  c->result = tandem_snapshot_manager_create_finish(
      TANDEM_SNAPSHOT_MANAGER(source), res, &c->error);
  c->done = TRUE;
}

static void on_restored(GObject *source, GAsyncResult *res, gpointer data) {
  Call *c = data;
  c->result = GINT_TO_POINTER(tandem_snapshot_manager_restore_finish(
      TANDEM_SNAPSHOT_MANAGER(source), res, &c->error));
  c->done = TRUE;
}

static gboolean call_done(gpointer data) { return ((Call *)data)->done; }

static TandemSnapshotInfo *create(const char *label, GError **error) {
  Call c = {0};
  tandem_snapshot_manager_create_async(snaps, G.name, label, NULL,
                                       on_created, &c);
  assert_true(bp_wait(call_done, &c, 300));
  if (c.error)
    g_propagate_error(error, c.error);
  return c.result;
}

static gboolean restore(const char *id, GError **error) {
  Call c = {0};
  tandem_snapshot_manager_restore_async(snaps, G.name, id, NULL, on_restored,
                                        &c);
  assert_true(bp_wait(call_done, &c, 300));
  if (c.error)
    g_propagate_error(error, c.error);
  return GPOINTER_TO_INT(c.result);
}

/* The longest gap between heartbeats from @from on, in ms. */
static double longest_gap(guint from) {
  gint64 gap = 0;
  for (guint i = from + 1; i < beats->len; i++)
    gap = MAX(gap, g_array_index(beats, Beat, i).at_us -
                       g_array_index(beats, Beat, i - 1).at_us);
  return (double)gap / 1000.0;
}

static void assert_all_good(guint from) {
  for (guint i = from; i < beats->len; i++)
    if (!g_array_index(beats, Beat, i).good)
      fail_msg("beat %u: the probe found its memory or disk not as it left "
               "them", g_array_index(beats, Beat, i).beat);
}

static void test_snapshot_while_writing(void **state) {
  (void)state;
  wait_beats(5);
  guint from = beats->len;
  guint before = last_beat();
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotInfo) info = create("while writing", &error);
  if (!info)
    fail_with(error);
  double seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
  guint after = last_beat();
  wait_beats(2);
  printf("# snapshot %s: %s, %.1f s, %" G_GUINT64_FORMAT " bytes of "
         "%" G_GUINT64_FORMAT " in the file; beats %u..%u meanwhile, "
         "longest gap %.0f ms (200 ms between beats)\n",
         info->id, tandem_snapshot_method_to_string(info->method), seconds,
         info->file_bytes, info->raw_bytes, before, after,
         longest_gap(from > 0 ? from - 1 : 0));
  assert_int_equal(info->method, TANDEM_SNAPSHOT_METHOD_BACKGROUND);
  assert_true(after > before); /* the guest went on while it was taken */
  assert_true(progress_saving > 0);
  assert_true(info->file_bytes < info->raw_bytes);
  assert_all_good(0);
  g_autoptr(GPtrArray) list = tandem_snapshot_manager_list(snaps, G.name,
                                                          &error);
  assert_non_null(list);
  assert_int_equal(list->len, 1);
  g_autofree char *dir = tandem_snapshot_dir(G.name);
  g_autofree char *file = g_build_filename(dir, info->memory_file, NULL);
  TandemSnapshotFileInfo fi = {0};
  assert_true(tandem_snapshot_file_verify(file, G.name, &fi, NULL, &error));
  tandem_snapshot_file_info_clear(&fi);
  first_id = g_strdup(info->id);
  /* The instant's beat is in [before, after]: remembered for the restore. */
  g_object_set_data(G_OBJECT(snaps), "before", GUINT_TO_POINTER(before));
  g_object_set_data(G_OBJECT(snaps), "after", GUINT_TO_POINTER(after));
}

static gboolean xclock_back(gpointer data) {
  return bp_guest_find(&G, "xclock", *(gint64 *)data, TRUE) != NULL;
}

/* Restores @id and checks the probe goes on from [@before, @after + 1]. */
static void restore_and_check(const char *id, guint before, guint after) {
  wait_beats(5); /* the guest runs on well past the snapshot */
  guint last = last_beat();
  assert_true(last > after + 3);
  guint from = beats->len;
  gint64 t0 = g_get_monotonic_time();
  gint64 t0_ns = px_now_ns();
  g_autoptr(GError) error = NULL;
  if (!restore(id, &error))
    fail_with(error);
  double seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
  wait_beats(3);
  /* The first beat of the restored guest (the old one may have beaten
   * while the file was checked). */
  while (from < beats->len && g_array_index(beats, Beat, from).run != run)
    from++;
  assert_true(from < beats->len);
  guint resumed = g_array_index(beats, Beat, from).beat;
  printf("# restored %s in %.1f s: the probe was at beat %u, goes on from "
         "beat %u (the snapshot's instant was between beats %u and %u)\n",
         id, seconds, last, resumed, before, after);
  assert_true(resumed >= before && resumed <= after + 1);
  assert_all_good(from);
  /* Its windows come back as proxies, with pixels. */
  assert_true(bp_wait(xclock_back, &t0_ns, 60));
}

/* Restores @id into a VM that is not running: the probe beats again, its
 * memory and disk consistent. */
static void restore_and_check_from_stopped(const char *id) {
  guint from = beats->len;
  g_autoptr(GError) error = NULL;
  if (!restore(id, &error))
    fail_with(error);
  wait_beats(3);
  while (from < beats->len && g_array_index(beats, Beat, from).run != run)
    from++;
  assert_true(from < beats->len);
  assert_all_good(from);
}

static void test_restore_goes_back(void **state) {
  (void)state;
  assert_non_null(first_id);
  restore_and_check(first_id,
                    GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(snaps),
                                                       "before")),
                    GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(snaps),
                                                       "after")));
}

static void expect_refused(const char *id, int code, const char *words) {
  guint count = beats->len;
  g_autoptr(GError) error = NULL;
  assert_false(restore(id, &error));
  if (!g_error_matches(error, TANDEM_SNAPSHOT_ERROR, code) ||
      !strstr(error->message, words))
    fail_msg("restore %s: “%s”", id, error->message);
  printf("# restore %s refused: %s\n", id, error->message);
  /* The guest was not touched: it beats on. */
  assert_int_equal(tandem_vm_get_state(G.vm), TANDEM_VM_RUNNING);
  assert_true(bp_wait(beats_reached, GUINT_TO_POINTER(count + 2), 30));
}

static void test_bad_input_changes_nothing(void **state) {
  (void)state;
  expect_refused("../../etc", TANDEM_SNAPSHOT_ERROR_INVALID,
                 "not a snapshot id");
  expect_refused("19990101-000000", TANDEM_SNAPSHOT_ERROR_NOT_FOUND,
                 "has no snapshot");
  /* A damaged memory file: a byte flipped in the middle. */
  g_autofree char *dir = tandem_snapshot_dir(G.name);
  g_autofree char *name = g_strconcat(first_id, ".tsnap", NULL);
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autofree char *data = NULL;
  gsize len;
  assert_true(g_file_get_contents(path, &data, &len, NULL));
  data[len / 2] ^= 0x20;
  assert_true(g_file_set_contents(path, data, (gssize)len, NULL));
  expect_refused(first_id, TANDEM_SNAPSHOT_ERROR_CORRUPT, "not usable");
  data[len / 2] ^= 0x20;
  assert_true(g_file_set_contents(path, data, (gssize)len, NULL));
  /* A label on two lines. */
  g_autoptr(GError) error = NULL;
  assert_null(create("two\nlines", &error));
  assert_true(g_error_matches(error, TANDEM_SNAPSHOT_ERROR,
                              TANDEM_SNAPSHOT_ERROR_INVALID));
}

static gboolean saving_started(gpointer data) {
  return progress_saving > GPOINTER_TO_UINT(data);
}

static void on_kill_created(GObject *source, GAsyncResult *res,
                            gpointer data) {
  on_created(source, res, data);
}

/* QEMU killed while a snapshot is being taken: the snapshot fails with a
 * message, nothing half-written is listed or left, and the earlier
 * snapshot still restores. */
static void test_qemu_killed_midway(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) before = tandem_snapshot_manager_list(snaps, G.name,
                                                            &error);
  assert_non_null(before);
  guint saving = progress_saving;
  Call c = {0};
  tandem_snapshot_manager_create_async(snaps, G.name, "killed", NULL,
                                       on_kill_created, &c);
  assert_true(bp_wait(saving_started, GUINT_TO_POINTER(saving), 60));
  GPid pid = tandem_vm_get_pid(G.vm);
  assert_true(pid > 0);
  kill(pid, SIGKILL);
  assert_true(bp_wait(call_done, &c, 60));
  assert_null(c.result);
  assert_non_null(c.error);
  printf("# QEMU killed during a snapshot: %s\n", c.error->message);
  g_clear_error(&c.error);
  g_autoptr(GPtrArray) after = tandem_snapshot_manager_list(snaps, G.name,
                                                           &error);
  assert_int_equal(after->len, before->len);
  g_autofree char *dir = tandem_snapshot_dir(G.name);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *n; d && (n = g_dir_read_name(d));)
    assert_false(g_str_has_suffix(n, ".part"));
  /* The guest is gone; the snapshot before brings it back. */
  restore_and_check_from_stopped(first_id);
}

static void on_suspended(GObject *source, GAsyncResult *res, gpointer data) {
  Call *c = data;
  c->result = tandem_snapshot_manager_suspend_finish(
      TANDEM_SNAPSHOT_MANAGER(source), res, &c->error);
  c->done = TRUE;
}

typedef struct {
  gboolean done, ok, resumed;
  GError *error;
} StartCall;

static void on_start(GObject *source, GAsyncResult *res, gpointer data) {
  StartCall *c = data;
  c->ok = tandem_snapshot_manager_start_finish(
      TANDEM_SNAPSHOT_MANAGER(source), res, &c->resumed, &c->error);
  c->done = TRUE;
}

static gboolean start_done(gpointer data) { return ((StartCall *)data)->done; }

/* Instant resume: the VM stopped with its state saved starts from it, the
 * probe going on where it was, in a fraction of a boot. */
static void test_suspend_and_resume(void **state) {
  (void)state;
  wait_beats(3);
  Call c = {0};
  gint64 t0 = g_get_monotonic_time();
  tandem_snapshot_manager_suspend_async(snaps, G.name, NULL, on_suspended,
                                        &c);
  assert_true(bp_wait(call_done, &c, 300));
  if (c.error)
    fail_with(c.error);
  double suspend_s = (double)(g_get_monotonic_time() - t0) / 1e6;
  g_autoptr(TandemSnapshotInfo) info = c.result;
  guint last = last_beat();
  assert_int_equal(tandem_vm_get_state(G.vm), TANDEM_VM_STOPPED);
  g_autofree char *resume = tandem_snapshot_manager_get_resume(snaps, G.name);
  assert_string_equal(resume, info->id);

  guint from = beats->len;
  StartCall s = {0};
  t0 = g_get_monotonic_time();
  tandem_snapshot_manager_start_async(snaps, G.name, NULL, on_start, &s);
  assert_true(bp_wait(start_done, &s, 300));
  if (!s.ok)
    fail_with(s.error);
  double running_s = (double)(g_get_monotonic_time() - t0) / 1e6;
  assert_true(s.resumed);
  wait_beats(1);
  while (from < beats->len && g_array_index(beats, Beat, from).run != run)
    from++;
  assert_true(from < beats->len);
  double beat_s =
      (double)(g_array_index(beats, Beat, from).at_us - t0) / 1e6;
  guint resumed = g_array_index(beats, Beat, from).beat;
  printf("# suspended in %.1f s at beat %u; started again in %.2f s, the "
         "probe beating again after %.2f s from beat %u (a cold boot to the "
         "session took %.1f s)\n",
         suspend_s, last, running_s, beat_s, resumed, G.boot_s);
  assert_true(resumed >= last && resumed <= last + 1);
  wait_beats(2);
  assert_all_good(from);
  /* The resume point is used up. */
  g_autofree char *after = tandem_snapshot_manager_get_resume(snaps, G.name);
  assert_null(after);
  assert_true(beat_s < G.boot_s / 3);
}

/* A snapshot taken with @force in the settings, while the probe beats: the
 * beats just before and after it, and the gaps printed. */
static TandemSnapshotInfo *create_forced(TandemSnapshotForce force,
                                         const char *label, guint *before,
                                         guint *after) {
  TandemSnapshotOptions o;
  tandem_snapshot_manager_get_options(snaps, &o);
  o.force = force;
  tandem_snapshot_manager_set_options(snaps, &o);
  wait_beats(2);
  *before = last_beat();
  guint from = beats->len;
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time();
  TandemSnapshotInfo *info = create(label, &error);
  double seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
  o.force = TANDEM_SNAPSHOT_FORCE_NONE;
  tandem_snapshot_manager_set_options(snaps, &o);
  if (!info)
    fail_with(error);
  *after = last_beat();
  wait_beats(2);
  printf("# %s snapshot %s: %s (%s) in %.1f s, beats %u..%u meanwhile, "
         "longest gap between beats %.0f ms\n",
         label, info->id, tandem_snapshot_method_to_string(info->method),
         info->method_reason, seconds, *before, *after,
         longest_gap(from > 0 ? from - 1 : 0));
  assert_all_good(from);
  return info;
}

static void test_paused_fallback(void **state) {
  (void)state;
  guint before, after;
  g_autoptr(TandemSnapshotInfo) info =
      create_forced(TANDEM_SNAPSHOT_FORCE_STOPPED, "paused", &before, &after);
  assert_int_equal(info->method, TANDEM_SNAPSHOT_METHOD_STOPPED);
  assert_non_null(strstr(info->method_reason, "settings"));
  restore_and_check(info->id, before, after);
}

/* The live pre-copy (the fallback where background-snapshot is refused)
 * chosen in the settings: under KVM, recorded as such, the guest running
 * while it is taken; under TCG (these machines), where QEMU 7.2 corrupts
 * the guest after a live migration, the paused save, saying why. Either
 * way it restores to a consistent instant (memory and disk). */
static void test_live_fallback(void **state) {
  (void)state;
  guint before, after;
  g_autoptr(TandemSnapshotInfo) info =
      create_forced(TANDEM_SNAPSHOT_FORCE_PRECOPY, "live", &before, &after);
  assert_non_null(strstr(info->method_reason, "live pre-copy chosen in the "
                                               "settings"));
  if (tandem_vm_get_accel(G.vm) == TANDEM_ACCEL_TCG) {
    assert_int_equal(info->method, TANDEM_SNAPSHOT_METHOD_STOPPED);
    assert_non_null(strstr(info->method_reason, "not safe under TCG"));
  } else {
    assert_int_equal(info->method, TANDEM_SNAPSHOT_METHOD_PRECOPY);
    assert_true(after > before); /* the guest went on while it was taken */
  }
  restore_and_check(info->id, before, after);
}

/* --- Deleting merges images ------------------------------------------------ */

static gboolean tidy(gpointer data) {
  return !tandem_snapshot_manager_is_busy(snaps, G.name) &&
         !tandem_snapshot_manager_is_tidying(snaps, G.name);
}

/* The qcow2 images in the snapshots' disks/ directory. */
static guint count_images(void) {
  g_autofree char *dir = tandem_snapshot_dir(G.name);
  g_autofree char *disks = g_build_filename(dir, "disks", NULL);
  g_autoptr(GDir) d = g_dir_open(disks, 0, NULL);
  guint n = 0;
  const char *name;
  while (d && (name = g_dir_read_name(d)))
    n += g_str_has_suffix(name, ".qcow2");
  return n;
}

/* Images of @info that are Tandem's (in disks/), not the user's. */
static GPtrArray *own_images(const TandemSnapshotInfo *info) {
  g_autofree char *dir = tandem_snapshot_dir(G.name);
  g_autofree char *disks = g_build_filename(dir, "disks", "", NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  for (guint k = 0; k < info->disks->len; k++) {
    const TandemSnapshotDisk *d = info->disks->pdata[k];
    if (g_str_has_prefix(d->image, disks))
      g_ptr_array_add(out, g_strdup(d->image));
  }
  return out;
}

static void delete_and_tidy(const TandemSnapshotInfo *info) {
  g_autoptr(GError) error = NULL;
  if (!tandem_snapshot_manager_delete(snaps, G.name, info->id, &error))
    fail_with(error);
  assert_true(bp_wait(tidy, NULL, 120));
}

/* Snapshots A, B, C taken in turn while the probe writes; deleting B
 * merges the image B was taken on into C's while the guest runs (it beats
 * on, its disk as it left it), and both A and C restore to their instants.
 * Then, stopped: P and Q taken, the VM suspended, Q deleted (merged by
 * qemu-img), and the start resumes with a consistent disk. */
static void test_delete_merges(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  wait_beats(2);
  guint a0 = last_beat();
  g_autoptr(TandemSnapshotInfo) a = create("A", &error);
  guint a1 = last_beat();
  wait_beats(3);
  g_autoptr(TandemSnapshotInfo) b = create("B", &error);
  wait_beats(3);
  guint c0 = last_beat();
  g_autoptr(TandemSnapshotInfo) c = create("C", &error);
  guint c1 = last_beat();
  if (!a || !b || !c)
    fail_with(error);
  assert_true(bp_wait(tidy, NULL, 120));
  g_autoptr(GPtrArray) merged = own_images(b);
  assert_true(merged->len > 0);
  guint images = count_images();
  guint from = beats->len;
  gint64 t0 = g_get_monotonic_time();
  delete_and_tidy(b);
  printf("# deleting B merged %u image(s) while the guest ran in %.2f s; "
         "%u images in disks/ before, %u after\n",
         merged->len, (double)(g_get_monotonic_time() - t0) / 1e6, images,
         count_images());
  for (guint i = 0; i < merged->len; i++)
    if (g_file_test(merged->pdata[i], G_FILE_TEST_EXISTS))
      fail_msg("%s was not merged", (char *)merged->pdata[i]);
  assert_true(count_images() <= images - merged->len);
  wait_beats(3);
  assert_all_good(from);
  restore_and_check(c->id, c0, c1);
  restore_and_check(a->id, a0, a1);

  /* Stopped: qemu-img merges. */
  wait_beats(3);
  g_autoptr(TandemSnapshotInfo) p = create("P", &error);
  wait_beats(3);
  g_autoptr(TandemSnapshotInfo) q = create("Q", &error);
  if (!p || !q)
    fail_with(error);
  wait_beats(3);
  Call sc = {0};
  tandem_snapshot_manager_suspend_async(snaps, G.name, NULL, on_suspended,
                                        &sc);
  assert_true(bp_wait(call_done, &sc, 300));
  if (sc.error)
    fail_with(sc.error);
  g_autoptr(TandemSnapshotInfo) suspended = sc.result;
  guint last = last_beat();
  assert_true(bp_wait(tidy, NULL, 120));
  g_autoptr(GPtrArray) merged_q = own_images(q);
  assert_true(merged_q->len > 0);
  images = count_images();
  t0 = g_get_monotonic_time();
  delete_and_tidy(q);
  printf("# deleting Q merged %u image(s) while the VM was stopped in "
         "%.2f s; %u images in disks/ before, %u after\n",
         merged_q->len, (double)(g_get_monotonic_time() - t0) / 1e6, images,
         count_images());
  for (guint i = 0; i < merged_q->len; i++)
    assert_false(g_file_test(merged_q->pdata[i], G_FILE_TEST_EXISTS));
  from = beats->len;
  StartCall st = {0};
  tandem_snapshot_manager_start_async(snaps, G.name, NULL, on_start, &st);
  assert_true(bp_wait(start_done, &st, 300));
  if (!st.ok)
    fail_with(st.error);
  assert_true(st.resumed);
  wait_beats(3);
  while (from < beats->len && g_array_index(beats, Beat, from).run != run)
    from++;
  assert_true(from < beats->len);
  guint resumed = g_array_index(beats, Beat, from).beat;
  assert_true(resumed >= last && resumed <= last + 1);
  assert_all_good(from);
  /* P, taken before the merge, still restores to a consistent disk. */
  restore_and_check_from_stopped(p->id);
}

/* --- Setting up ------------------------------------------------------------ */

static char *build_path(const char *rel) {
  return g_build_filename(g_getenv("TANDEM_BUILD_ROOT"), rel, NULL);
}

static gboolean probe_beating(gpointer data) { return beats->len >= 3; }

static int setup(void **state) {
  (void)state;
  if (!g_getenv("DISPLAY") || !g_getenv("TANDEM_BUILD_ROOT") ||
      !gtk_init_check(NULL, NULL))
    return -1;
  beats = g_array_new(FALSE, FALSE, sizeof(Beat));
  cfg.px.tmp = g_dir_make_tmp("test-snapshot-vm-XXXXXX", NULL);
  cfg.px.agent = g_strdup(g_getenv("TANDEM_GUEST_AGENT"));
  cfg.px.anim = build_path("tests/bench/tandem-bench-anim");
  cfg.px.fps = 60;
  cfg.keys = build_path("tests/bench/tandem-bench-keys");
  cfg.memprobe = build_path("tests/bench/tandem-memprobe");
  cfg.cmdline = "tandem.autostart=" PROBE_ARGS;
  gboolean skipped = FALSE;
  g_autofree char *why = NULL;
  g_autoptr(GError) error = NULL;
  if (!bp_guest_start_vm(&G, &cfg, &skipped, &why, &error)) {
    fprintf(stderr, "%s\n", why ? why : error->message);
    return -1;
  }
  g_signal_connect(G.vm, "console-line", G_CALLBACK(on_console), NULL);
  g_signal_connect(G.vm, "notify::state", G_CALLBACK(on_state), NULL);
  snaps = tandem_snapshot_manager_new(G.vms);
  g_signal_connect(snaps, "progress", G_CALLBACK(on_progress), NULL);
  if (!bp_launch_finish(bp_launch(&G, "xclock"), 60, NULL, NULL, &error)) {
    fprintf(stderr, "xclock: %s\n", error->message);
    return -1;
  }
  gint64 zero = 0;
  if (!bp_wait(xclock_back, &zero, 60) || !bp_wait(probe_beating, NULL, 60)) {
    fprintf(stderr, "no xclock proxy, or the probe does not beat\n");
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  g_clear_object(&snaps);
  if (G.name)
    bp_guest_stop(&G);
  bp_config_clear(&cfg, TRUE);
  g_clear_pointer(&beats, g_array_unref);
  g_clear_pointer(&first_id, g_free);
  return 0;
}

int main(void) {
  const char *dir = g_getenv("TANDEM_DEFAULT_GUEST");
  g_autofree char *guest = px_guest_dir();
  g_autofree char *kernel = g_build_filename(guest, "vmlinuz", NULL);
  if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
    printf("1..0 # SKIP no default guest (%s)\n", dir ? dir : guest);
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snapshot_while_writing),
      cmocka_unit_test(test_restore_goes_back),
      cmocka_unit_test(test_bad_input_changes_nothing),
      cmocka_unit_test(test_qemu_killed_midway),
      cmocka_unit_test(test_suspend_and_resume),
      cmocka_unit_test(test_paused_fallback),
      cmocka_unit_test(test_live_fallback),
      cmocka_unit_test(test_delete_merges),
  };
  return cmocka_run_group_tests_name("snapshot-vm", tests, setup, teardown);
}
