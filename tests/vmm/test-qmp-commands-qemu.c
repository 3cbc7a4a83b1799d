/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The typed QMP commands against a real qemu-system-x86_64 (q35, TCG, no
 * guest code needed: the VM starts paused with -S) holding one qcow2 disk
 * on a virtio-blk-pci device and two empty pcie-root-ports for hot-plug.
 * Each test gets its own QEMU. Skips the whole program when QEMU or
 * qemu-img is not installed, and the network disk test without qemu-nbd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tandem-qemu-argv.h"
#include "tandem-qmp-commands.h"
#include "test-wait.h"

#define DISK_SIZE (64 * 1024 * 1024)
#define QMP_FD 3 /* where QEMU finds the listening socket */

typedef struct Vm Vm;
struct Vm {
  char *dir;
  GSubprocess *qemu;
  TandemQmpClient *qmp;
  Vm *peer; /* a second QEMU the test started, stopped with this one */
  GPid nbd_pid; /* a qemu-nbd the test started (--fork: not our child) */
};

typedef struct {
  gboolean done;
  GAsyncResult *result;
} Wait;

static void on_done(GObject *source, GAsyncResult *result, gpointer data) {
  Wait *w = data;
  w->result = g_object_ref(result);
  w->done = TRUE;
}

static GAsyncResult *wait_for(Wait *w, double seconds) {
  if (!tandem_test_wait(&w->done, seconds))
    fail_msg("timed out after %.0f s", seconds);
  return w->result;
}

static char *vm_path(Vm *vm, const char *name) {
  return g_build_filename(vm->dir, name, NULL);
}

static void run_checked(const char *const *argv) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_newv(
      argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  if (!p)
    fail_msg("%s: %s", argv[0], error->message);
  Wait w = {0};
  g_subprocess_wait_check_async(p, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 30);
  if (!g_subprocess_wait_check_finish(p, res, &error))
    fail_msg("%s: %s", argv[0], error->message);
}

/* A listening socket at @path. Handing it to QEMU ready-made means the
 * client can connect at once: the kernel queues the connection until QEMU
 * accepts it, so nothing has to poll for QEMU's socket to appear. */
static int listen_at(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_true(strlen(path) < sizeof(sa.sun_path));
  g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(fd, 1), 0);
  return fd;
}

/* Starts a QEMU in a fresh directory and connects to it; with @incoming
 * it waits for migrate-incoming (-incoming defer). @vm is allocated by the
 * caller first, so that the fixture can stop whatever was started even if
 * an assertion fails half-way. */
static void vm_start(Vm *vm, gboolean incoming) {
  g_autoptr(GError) error = NULL;
  vm->dir = g_dir_make_tmp("qmp-qemu-XXXXXX", &error);
  assert_non_null(vm->dir);

  g_autofree char *base = vm_path(vm, "base.qcow2");
  g_autofree char *size = g_strdup_printf("%d", DISK_SIZE);
  const char *const img[] = {"qemu-img", "create", "-q", "-f", "qcow2",
                             base, size, NULL};
  run_checked(img);
  /* Data for a merge to copy: 4 MiB, enough to take a second at the
   * speed test_block_stream_cancel caps the merge at. */
  const char *const fill[] = {"qemu-io", "-f", "qcow2", "-c",
                              "write -q -P 0x5a 0 4M", base, NULL};
  run_checked(fill);

  g_autofree char *sock = vm_path(vm, "qmp.sock");
  g_autofree char *file = g_strdup_printf(
      "driver=file,filename=%s,node-name=disk-home-file", base);
  g_autofree char *chardev = g_strdup_printf(
      "socket,id=qmp,fd=%d,server=on,wait=off", QMP_FD);
  const char *const argv[] = {
      "qemu-system-x86_64", "-sandbox", TANDEM_QEMU_SANDBOX, /* as Tandem's */
      "-machine", "q35", "-accel", "tcg", "-nodefaults", "-display", "none", "-S", "-m", "64",
      "-chardev", chardev, "-mon", "chardev=qmp,mode=control",
      "-blockdev", file,
      "-blockdev", "driver=qcow2,file=disk-home-file,node-name=disk-home",
      "-device", "virtio-blk-pci,drive=disk-home,id=disk-home-dev",
      "-device", "pcie-root-port,id=tandem-hp0,chassis=1",
      "-device", "pcie-root-port,id=tandem-hp1,chassis=2",
      incoming ? "-incoming" : NULL, "defer", NULL};
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_fd(launcher, listen_at(sock), QMP_FD);
  /* QEMU prints "Formatting ..." for every image it creates: keep that out
   * of the TAP stream on stdout. */
  g_subprocess_launcher_take_stdout_fd(launcher, dup(STDERR_FILENO));
  vm->qemu = g_subprocess_launcher_spawnv(launcher, argv, &error);
  if (!vm->qemu)
    fail_msg("qemu-system-x86_64: %s", error->message);

  Wait w = {0};
  tandem_qmp_client_connect_async(sock, 10000, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  vm->qmp = tandem_qmp_client_connect_finish(res, &error);
  if (!vm->qmp)
    fail_msg("connect: %s", error->message);
}

static void vm_stop(Vm *vm) {
  if (vm->peer)
    vm_stop(vm->peer);
  if (vm->qmp) {
    tandem_qmp_client_close(vm->qmp);
    g_clear_object(&vm->qmp);
  }
  if (vm->qemu) {
    g_subprocess_send_signal(vm->qemu, SIGTERM);
    Wait w = {0};
    g_subprocess_wait_async(vm->qemu, NULL, on_done, &w);
    if (!tandem_test_wait(&w.done, 10))
      g_subprocess_force_exit(vm->qemu);
    g_clear_object(&w.result);
    g_clear_object(&vm->qemu);
  }
  if (vm->nbd_pid > 0)
    kill(vm->nbd_pid, SIGTERM);
  const char *names[] = {"qmp.sock", "base.qcow2", "overlay.qcow2",
                         "overlay-2.qcow2", "memory.bin", "export.raw",
                         "nbd.sock", "nbd.pid"};
  for (gsize i = 0; vm->dir && i < G_N_ELEMENTS(names); i++) {
    g_autofree char *path = vm_path(vm, names[i]);
    g_unlink(path);
  }
  if (vm->dir)
    g_rmdir(vm->dir);
  g_free(vm->dir);
  g_free(vm);
}

static int vm_setup(void **state) {
  Vm *vm = g_new0(Vm, 1);
  *state = vm;
  vm_start(vm, FALSE);
  return 0;
}

static int vm_teardown(void **state) {
  vm_stop(*state);
  return 0;
}

static TandemQmpStatusInfo *query_status(Vm *vm) {
  g_autoptr(GError) error = NULL;
  Wait w = {0};
  tandem_qmp_query_status_async(vm->qmp, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  TandemQmpStatusInfo *info =
      tandem_qmp_query_status_finish(vm->qmp, res, &error);
  if (!info)
    fail_msg("query-status: %s", error->message);
  return info;
}

static GPtrArray *query_block(Vm *vm) {
  g_autoptr(GError) error = NULL;
  Wait w = {0};
  tandem_qmp_query_block_async(vm->qmp, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  GPtrArray *disks = tandem_qmp_query_block_finish(vm->qmp, res, &error);
  if (!disks)
    fail_msg("query-block: %s", error->message);
  return disks;
}

/* Runs a void command; its error (or NULL) goes to @error. */
#define RUN(vm, error, name, ...)                                            \
  ({                                                                         \
    Wait w_ = {0};                                                           \
    tandem_qmp_##name##_async((vm)->qmp, ##__VA_ARGS__, NULL, on_done, &w_); \
    g_autoptr(GAsyncResult) r_ = wait_for(&w_, 15);                          \
    tandem_qmp_##name##_finish((vm)->qmp, r_, error);                        \
  })
#define RUN0(vm, error, name)                                                \
  ({                                                                         \
    Wait w_ = {0};                                                           \
    tandem_qmp_##name##_async((vm)->qmp, NULL, on_done, &w_);                \
    g_autoptr(GAsyncResult) r_ = wait_for(&w_, 15);                          \
    tandem_qmp_##name##_finish((vm)->qmp, r_, error);                        \
  })

static void assert_ok(gboolean ok, GError **error, const char *what) {
  if (!ok)
    fail_msg("%s: %s", what, *error ? (*error)->message : "no error");
}

static void test_status_and_block(void **state) {
  Vm *vm = *state;
  g_autoptr(TandemQmpStatusInfo) status = query_status(vm);
  assert_false(status->running);
  assert_string_equal(status->status, "prelaunch"); /* -S */

  g_autoptr(GPtrArray) disks = query_block(vm);
  assert_int_equal(disks->len, 1);
  TandemQmpBlockDevice *d = disks->pdata[0];
  g_autofree char *base = vm_path(vm, "base.qcow2");
  g_autofree char *id = tandem_qmp_qdev_to_device_id(d->qdev);
  assert_string_equal(d->qdev,
                      "/machine/peripheral/disk-home-dev/virtio-backend");
  assert_string_equal(id, "disk-home-dev");
  assert_string_equal(d->node_name, "disk-home");
  assert_string_equal(d->file, base);
  assert_string_equal(d->format, "qcow2");
  assert_false(d->read_only);
  assert_int_equal(d->virtual_size, DISK_SIZE);
  assert_null(d->backing_file);
}

static void test_snapshot_transaction(void **state) {
  Vm *vm = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = vm_path(vm, "base.qcow2");
  g_autofree char *overlay = vm_path(vm, "overlay.qcow2");
  g_autofree char *overlay2 = vm_path(vm, "overlay-2.qcow2");

  assert_ok(RUN0(vm, &error, stop), &error, "stop");
  const TandemQmpSnapshotAction snap[] = {
      {"disk-home", overlay, "disk-home-1", "qcow2", FALSE}};
  assert_ok(RUN(vm, &error, blockdev_snapshot_transaction, snap, 1), &error,
            "transaction");
  assert_true(g_file_test(overlay, G_FILE_TEST_IS_REGULAR));

  g_autoptr(GPtrArray) disks = query_block(vm);
  assert_int_equal(disks->len, 1);
  TandemQmpBlockDevice *d = disks->pdata[0];
  assert_string_equal(d->node_name, "disk-home-1");
  assert_string_equal(d->file, overlay);
  assert_string_equal(d->backing_file, base);
  assert_int_equal(d->virtual_size, DISK_SIZE);

  /* All or nothing: one bad action, and no disk moves to a new overlay. */
  const TandemQmpSnapshotAction bad[] = {
      {"disk-home-1", overlay2, "disk-home-2", NULL, FALSE},
      {"no-such-node", overlay2, "x", NULL, FALSE}};
  assert_false(RUN(vm, &error, blockdev_snapshot_transaction, bad, 2));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  /* The overlay file the good action created stays behind, though: QEMU
   * rolls back the block graph, not the files. */
  assert_true(g_file_test(overlay2, G_FILE_TEST_IS_REGULAR));
  g_autoptr(GPtrArray) after = query_block(vm);
  assert_string_equal(((TandemQmpBlockDevice *)after->pdata[0])->node_name,
                      "disk-home-1");
}

/* Polls query-jobs (for at most 30 s) until job @id has @status; returns
 * its info. */
static TandemQmpJobInfo *wait_job(Vm *vm, const char *id,
                                  const char *status) {
  for (int i = 0; i < 600; i++) {
    g_autoptr(GError) error = NULL;
    Wait w = {0};
    tandem_qmp_query_jobs_async(vm->qmp, NULL, on_done, &w);
    g_autoptr(GAsyncResult) res = wait_for(&w, 15);
    g_autoptr(GPtrArray) jobs =
        tandem_qmp_query_jobs_finish(vm->qmp, res, &error);
    assert_ok(jobs != NULL, &error, "query-jobs");
    const TandemQmpJobInfo *job = tandem_qmp_job_list_find(jobs, id);
    assert_non_null(job);
    guint at;
    if (g_str_equal(job->status, status) &&
        g_ptr_array_find(jobs, job, &at))
      return g_ptr_array_steal_index(jobs, at); /* the rest are freed */
    g_usleep(50000);
  }
  fail_msg("job %s never became %s", id, status);
  return NULL;
}

/* Merging a frozen image into the one above it while the VM runs, as a
 * snapshot's deletion does: base <- overlay <- overlay-2 (active); stream
 * overlay into overlay-2; then overlay-2 sits on base and overlay has left
 * QEMU's graph. */
static void test_block_stream_merge(void **state) {
  Vm *vm = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = vm_path(vm, "base.qcow2");
  g_autofree char *overlay = vm_path(vm, "overlay.qcow2");
  g_autofree char *overlay2 = vm_path(vm, "overlay-2.qcow2");

  const TandemQmpSnapshotAction one[] = {
      {"disk-home", overlay, "disk-home-1", "qcow2", FALSE}};
  const TandemQmpSnapshotAction two[] = {
      {"disk-home-1", overlay2, "disk-home-2", "qcow2", FALSE}};
  assert_ok(RUN(vm, &error, blockdev_snapshot_transaction, one, 1), &error,
            "transaction");
  assert_ok(RUN(vm, &error, blockdev_snapshot_transaction, two, 1), &error,
            "transaction");

  Wait w = {0};
  tandem_qmp_query_named_block_nodes_async(vm->qmp, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  g_autoptr(GPtrArray) nodes =
      tandem_qmp_query_named_block_nodes_finish(vm->qmp, res, &error);
  assert_ok(nodes != NULL, &error, "query-named-block-nodes");
  const TandemQmpBlockNode *mid =
      tandem_qmp_block_node_find(nodes, overlay, "qcow2");
  const TandemQmpBlockNode *top =
      tandem_qmp_block_node_find(nodes, overlay2, "qcow2");
  assert_non_null(mid);
  assert_non_null(top);
  assert_string_equal(mid->node_name, "disk-home-1");
  assert_string_equal(top->node_name, "disk-home-2");
  assert_non_null(tandem_qmp_block_node_find(nodes, base, "qcow2"));
  assert_null(tandem_qmp_block_node_find(nodes, overlay, "raw"));

  assert_ok(RUN0(vm, &error, cont), &error, "cont");
  assert_ok(RUN(vm, &error, block_stream, "merge0", "disk-home-2",
                "disk-home-1", 0),
            &error, "block-stream");
  /* The job stays listed once concluded: auto-dismiss is off. */
  g_autoptr(TandemQmpJobInfo) job = wait_job(vm, "merge0", "concluded");
  assert_null(job->error);
  assert_ok(RUN(vm, &error, job_dismiss, "merge0"), &error, "job-dismiss");

  g_autoptr(GPtrArray) disks = query_block(vm);
  TandemQmpBlockDevice *d = disks->pdata[0];
  assert_string_equal(d->file, overlay2);
  assert_string_equal(d->backing_file, base);
  /* A node that is not there is an error, not a crash. */
  assert_false(RUN(vm, &error, block_stream, "merge1", "disk-home-2",
                   "disk-home-1", 0));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
}

/* A merge stopped early (job-cancel, as the snapshot tidying does when a
 * snapshot is waiting) ends in an error and leaves the image it copied
 * into whole on its old backing file; started again, it finishes. */
static void test_block_stream_cancel(void **state) {
  Vm *vm = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *base = vm_path(vm, "base.qcow2");
  g_autofree char *overlay = vm_path(vm, "overlay.qcow2");
  const TandemQmpSnapshotAction one[] = {
      {"disk-home", overlay, "disk-home-1", "qcow2", FALSE}};
  assert_ok(RUN(vm, &error, blockdev_snapshot_transaction, one, 1), &error,
            "transaction");
  assert_ok(RUN0(vm, &error, cont), &error, "cont");

  /* base's 4 MiB at 1 MiB/s: still running when cancelled. */
  assert_ok(RUN(vm, &error, block_stream, "slow", "disk-home-1", "disk-home",
                1 << 20),
            &error, "block-stream");
  g_autoptr(TandemQmpJobInfo) running = wait_job(vm, "slow", "running");
  assert_ok(RUN(vm, &error, job_cancel, "slow"), &error, "job-cancel");
  g_autoptr(TandemQmpJobInfo) cancelled = wait_job(vm, "slow", "concluded");
  assert_non_null(cancelled->error);
  assert_ok(RUN(vm, &error, job_dismiss, "slow"), &error, "job-dismiss");
  g_autoptr(GPtrArray) disks = query_block(vm);
  TandemQmpBlockDevice *d = disks->pdata[0];
  assert_string_equal(d->file, overlay);
  assert_string_equal(d->backing_file, base);

  assert_ok(RUN(vm, &error, block_stream, "again", "disk-home-1",
                "disk-home", 0),
            &error, "block-stream");
  g_autoptr(TandemQmpJobInfo) done = wait_job(vm, "again", "concluded");
  assert_null(done->error);
  assert_ok(RUN(vm, &error, job_dismiss, "again"), &error, "job-dismiss");
  g_autoptr(GPtrArray) merged = query_block(vm);
  d = merged->pdata[0];
  assert_string_equal(d->file, overlay);
  assert_null(d->backing_file);
}

typedef struct {
  TandemQmpMigrationStatus last;
  gboolean finished;
  gboolean pre_switchover;
  int malformed;
} Migration;

static void on_migration(TandemQmpClient *c, const char *name,
                         JsonObject *data, gint64 us, gpointer user_data) {
  Migration *m = user_data;
  if (!tandem_qmp_migration_event_parse(data, &m->last, NULL)) {
    m->malformed++;
    return;
  }
  m->pre_switchover |= m->last == TANDEM_QMP_MIGRATION_STATUS_PRE_SWITCHOVER;
  m->finished = tandem_qmp_migration_status_is_finished(m->last);
}

static void wait_migration_completed(Migration *m) {
  if (!tandem_test_wait(&m->finished, 60))
    fail_msg("no final MIGRATION event (last: %s)",
             tandem_qmp_migration_status_to_string(m->last));
  assert_int_equal(m->last, TANDEM_QMP_MIGRATION_STATUS_COMPLETED);
  assert_int_equal(m->malformed, 0);
}

static TandemQmpMigrationInfo *query_migrate(Vm *vm) {
  g_autoptr(GError) error = NULL;
  Wait w = {0};
  tandem_qmp_query_migrate_async(vm->qmp, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  TandemQmpMigrationInfo *info =
      tandem_qmp_query_migrate_finish(vm->qmp, res, &error);
  if (!info)
    fail_msg("query-migrate: %s", error->message);
  return info;
}

/* Hands QEMU @path opened with @flags as descriptor @name. */
static void pass_file(Vm *vm, const char *name, const char *path, int flags) {
  g_autoptr(GError) error = NULL;
  int fd = open(path, flags | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  gboolean sent = RUN(vm, &error, getfd, name, fd);
  close(fd);
  assert_ok(sent, &error, "getfd");
}

/* Memory and disks at one instant, as Tandem saves them: stop, overlays,
 * background-snapshot migration to an fd, the guest running again. */
static void test_background_snapshot(void **state) {
  Vm *vm = *state;
  g_autoptr(GError) error = NULL;
  Migration m = {0};
  g_signal_connect(vm->qmp, "event::MIGRATION", G_CALLBACK(on_migration), &m);

  const TandemQmpMigrationCapabilityState caps[] = {
      {TANDEM_QMP_MIGRATION_CAP_EVENTS, TRUE},
      {TANDEM_QMP_MIGRATION_CAP_BACKGROUND_SNAPSHOT, TRUE}};
  if (!RUN(vm, &error, migrate_set_capabilities, caps, 2)) {
    /* Needs userfaultfd write-protect, which an unprivileged QEMU 7.2
     * cannot use on Linux 5.11+: nothing to test here then. */
    printf("# background-snapshot unavailable: %s\n", error->message);
    return;
  }
  const TandemQmpMigrationParameters params = {
      TANDEM_QMP_MIGRATION_PARAM_MAX_BANDWIDTH |
          TANDEM_QMP_MIGRATION_PARAM_DOWNTIME_LIMIT,
      G_GUINT64_CONSTANT(1) << 30, 300};
  assert_ok(RUN(vm, &error, migrate_set_parameters, &params), &error,
            "migrate-set-parameters");
  g_autoptr(TandemQmpMigrationInfo) before = query_migrate(vm);
  assert_int_equal(before->status, TANDEM_QMP_MIGRATION_STATUS_NONE);

  assert_ok(RUN0(vm, &error, cont), &error, "cont");
  assert_ok(RUN0(vm, &error, stop), &error, "stop");
  g_autofree char *overlay = vm_path(vm, "overlay.qcow2");
  const TandemQmpSnapshotAction snap[] = {
      {"disk-home", overlay, "disk-home-1", NULL, FALSE}};
  assert_ok(RUN(vm, &error, blockdev_snapshot_transaction, snap, 1), &error,
            "transaction");

  g_autofree char *memory = vm_path(vm, "memory.bin");
  pass_file(vm, "snap", memory, O_WRONLY | O_CREAT | O_TRUNC);
  assert_ok(RUN(vm, &error, migrate, "fd:snap"), &error, "migrate");
  wait_migration_completed(&m);

  g_autoptr(TandemQmpMigrationInfo) info = query_migrate(vm);
  assert_int_equal(info->status, TANDEM_QMP_MIGRATION_STATUS_COMPLETED);
  assert_true(info->ram_total >= 64 * 1024 * 1024);
  assert_true(info->ram_transferred > 0);
  assert_int_equal(info->ram_remaining, 0);
  assert_null(info->error_desc);
  printf("# background snapshot: total %" G_GUINT64_FORMAT " ms, downtime %"
         G_GUINT64_FORMAT " ms, %" G_GUINT64_FORMAT " bytes\n",
         info->total_time_ms, info->downtime_ms, info->ram_transferred);

  /* QEMU 7.2 resumes the guest itself at the end of setup. */
  g_autoptr(TandemQmpStatusInfo) status = query_status(vm);
  assert_true(status->running);
  /* migrate consumed the named descriptor. */
  assert_false(RUN(vm, &error, closefd, "snap"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  GStatBuf st;
  assert_int_equal(g_stat(memory, &st), 0);
  assert_true(st.st_size > 0);
  g_signal_handlers_disconnect_by_data(vm->qmp, &m);
}

/* A stopped guest saved with pause-before-switchover (the run Tandem
 * falls back to without background-snapshot), then loaded into a second
 * QEMU started with -incoming defer. */
static void test_save_and_restore(void **state) {
  Vm *vm = *state;
  g_autoptr(GError) error = NULL;
  Migration saved = {0};
  g_signal_connect(vm->qmp, "event::MIGRATION", G_CALLBACK(on_migration),
                   &saved);

  const TandemQmpMigrationCapabilityState caps[] = {
      {TANDEM_QMP_MIGRATION_CAP_EVENTS, TRUE},
      {TANDEM_QMP_MIGRATION_CAP_PAUSE_BEFORE_SWITCHOVER, TRUE}};
  assert_ok(RUN(vm, &error, migrate_set_capabilities, caps, 2), &error,
            "migrate-set-capabilities");
  /* Started, then stopped: the stream carries the run state, and a guest
   * saved while still "prelaunch" would come back "prelaunch". */
  assert_ok(RUN0(vm, &error, cont), &error, "cont");
  assert_ok(RUN0(vm, &error, stop), &error, "stop");
  g_autofree char *memory = vm_path(vm, "memory.bin");
  pass_file(vm, "save", memory, O_WRONLY | O_CREAT | O_TRUNC);
  assert_ok(RUN(vm, &error, migrate, "fd:save"), &error, "migrate");
  if (!tandem_test_wait(&saved.pre_switchover, 60))
    fail_msg("no pre-switchover (last: %s)",
             tandem_qmp_migration_status_to_string(saved.last));
  assert_ok(RUN0(vm, &error, migrate_continue), &error, "migrate-continue");
  wait_migration_completed(&saved);
  g_autoptr(TandemQmpStatusInfo) source = query_status(vm);
  assert_false(source->running);
  printf("# source after the save: %s\n", source->status);
  g_signal_handlers_disconnect_by_data(vm->qmp, &saved);

  vm->peer = g_new0(Vm, 1);
  Vm *target = vm->peer;
  vm_start(target, TRUE);
  g_autoptr(TandemQmpStatusInfo) waiting = query_status(target);
  assert_string_equal(waiting->status, "inmigrate");
  Migration loaded = {0};
  g_signal_connect(target->qmp, "event::MIGRATION", G_CALLBACK(on_migration),
                   &loaded);
  assert_ok(RUN(target, &error, migrate_set_capabilities, caps, 1), &error,
            "migrate-set-capabilities");
  pass_file(target, "load", memory, O_RDONLY);
  assert_ok(RUN(target, &error, migrate_incoming, "fd:load"), &error,
            "migrate-incoming");
  wait_migration_completed(&loaded);
  g_signal_handlers_disconnect_by_data(target->qmp, &loaded);

  /* The restored guest waits for cont. */
  g_autoptr(TandemQmpStatusInfo) restored = query_status(target);
  assert_false(restored->running);
  assert_string_equal(restored->status, "paused");
  assert_ok(RUN0(target, &error, cont), &error, "cont");
  g_autoptr(TandemQmpStatusInfo) running = query_status(target);
  assert_true(running->running);
  /* migrate-incoming consumed the named descriptor too. */
  assert_false(RUN(target, &error, closefd, "load"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
}

/* --- Network disks ------------------------------------------------------ */

#define EXPORT_SIZE (4 * 1024 * 1024)

static GPtrArray *query_nodes(Vm *vm) {
  g_autoptr(GError) error = NULL;
  Wait w = {0};
  tandem_qmp_query_named_block_nodes_async(vm->qmp, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  GPtrArray *nodes =
      tandem_qmp_query_named_block_nodes_finish(vm->qmp, res, &error);
  if (!nodes)
    fail_msg("query-named-block-nodes: %s", error->message);
  return nodes;
}

static const TandemQmpBlockNode *node_named(GPtrArray *nodes,
                                            const char *name) {
  for (guint i = 0; i < nodes->len; i++) {
    const TandemQmpBlockNode *n = nodes->pdata[i];
    if (g_str_equal(n->node_name, name))
      return n;
  }
  return NULL;
}

static const TandemQmpBlockDevice *disk_on(GPtrArray *disks,
                                           const char *node_name) {
  for (guint i = 0; i < disks->len; i++) {
    const TandemQmpBlockDevice *d = disks->pdata[i];
    if (g_str_equal(d->node_name, node_name))
      return d;
  }
  return NULL;
}

static gboolean add_nbd(Vm *vm, const TandemQmpNbdBlockdev *nbd,
                        GError **error) {
  Wait w = {0};
  gint64 start = g_get_monotonic_time();
  tandem_qmp_blockdev_add_nbd_async(vm->qmp, nbd, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  gboolean ok = tandem_qmp_blockdev_add_finish(vm->qmp, res, error);
  printf("# blockdev-add %s: %.1f ms\n", nbd->node_name,
         (double)(g_get_monotonic_time() - start) / 1000);
  return ok;
}

static gboolean add_disk(Vm *vm, const TandemQmpDiskDevice *disk,
                         GError **error) {
  Wait w = {0};
  gint64 start = g_get_monotonic_time();
  tandem_qmp_device_add_disk_async(vm->qmp, disk, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  gboolean ok = tandem_qmp_device_add_finish(vm->qmp, res, error);
  printf("# device_add %s: %.1f ms\n", disk->id,
         (double)(g_get_monotonic_time() - start) / 1000);
  return ok;
}

/* Starts qemu-nbd serving a raw file as export "tandem-exp" on nbd.sock;
 * returns the socket's path. --fork returns once the server listens, so
 * nothing polls; --shared: QEMU opens one connection per node, and a
 * server at its limit of clients (qemu-nbd's default is one) leaves
 * blockdev-add hanging with QMP blocked. */
static char *start_nbd(Vm *vm) {
  g_autofree char *file = vm_path(vm, "export.raw");
  g_autofree char *size = g_strdup_printf("%d", EXPORT_SIZE);
  const char *const img[] = {"qemu-img", "create", "-q", "-f", "raw",
                             file, size, NULL};
  run_checked(img);
  char *sock = vm_path(vm, "nbd.sock");
  g_autofree char *pid_file = vm_path(vm, "nbd.pid");
  g_autofree char *pid_arg = g_strdup_printf("--pid-file=%s", pid_file);
  const char *const nbd[] = {"qemu-nbd", "--fork", pid_arg, "--persistent",
                             "--shared=4", "-k", sock, "-f", "raw",
                             "-x", "tandem-exp", file, NULL};
  run_checked(nbd);
  g_autofree char *pid = NULL;
  assert_true(g_file_get_contents(pid_file, &pid, NULL, NULL));
  vm->nbd_pid = (GPid)g_ascii_strtoll(pid, NULL, 10);
  assert_true(vm->nbd_pid > 0);
  return sock;
}

/* An NBD export attached as a local disk, as storage/ does: blockdev-add
 * over the UNIX socket, then device_add on a free pcie-root-port (nvme
 * read-write, virtio-blk-pci read-only); a missing export is refused and
 * leaves the block graph as it was. Removal needs a guest that releases
 * the device: without one, waiting for DEVICE_DELETED times out. */
static void test_nbd_disk(void **state) {
  Vm *vm = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = start_nbd(vm);

  const TandemQmpNbdBlockdev rw = {.node_name = "net0", .unix_path = sock,
                                   .export_name = "tandem-exp",
                                   .reconnect_delay = 5};
  assert_ok(add_nbd(vm, &rw, &error), &error, "blockdev-add");
  g_autoptr(GPtrArray) before = query_nodes(vm);
  const TandemQmpBlockNode *n = node_named(before, "net0");
  if (!n)
    fail_msg("node net0 not in query-named-block-nodes");
  else
    assert_string_equal(n->format, "nbd");

  /* A missing export: GenericError, and nothing added. */
  const TandemQmpNbdBlockdev bad = {.node_name = "net-bad",
                                    .unix_path = sock,
                                    .export_name = "no-such-export"};
  assert_false(add_nbd(vm, &bad, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  printf("# %s\n", error->message);
  g_clear_error(&error);
  g_autoptr(GPtrArray) after = query_nodes(vm);
  assert_int_equal(after->len, before->len);
  assert_null(node_named(after, "net-bad"));

  const TandemQmpNbdBlockdev ro = {.node_name = "net1", .unix_path = sock,
                                   .export_name = "tandem-exp",
                                   .read_only = TRUE};
  assert_ok(add_nbd(vm, &ro, &error), &error, "blockdev-add read-only");

  const TandemQmpDiskDevice nvme = {TANDEM_QMP_DISK_NVME, "disk-net0",
                                    "tandem-hp0", "net0", "TANDEM-NET0"};
  assert_ok(add_disk(vm, &nvme, &error), &error, "device_add nvme");
  const TandemQmpDiskDevice virtio = {TANDEM_QMP_DISK_VIRTIO, "disk-net1",
                                      "tandem-hp1", "net1", "TANDEM-NET1"};
  assert_ok(add_disk(vm, &virtio, &error), &error, "device_add virtio");
  /* q35's root bus has no hot-plug. */
  const TandemQmpDiskDevice root = {TANDEM_QMP_DISK_VIRTIO, "disk-net2",
                                    "pcie.0", "net1", NULL};
  assert_false(add_disk(vm, &root, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_clear_error(&error);

  g_autoptr(GPtrArray) disks = query_block(vm);
  assert_int_equal(disks->len, 3);
  const TandemQmpBlockDevice *d0 = disk_on(disks, "net0");
  const TandemQmpBlockDevice *d1 = disk_on(disks, "net1");
  if (!d0 || !d1) {
    fail_msg("net0 or net1 not in query-block");
    return;
  }
  g_autofree char *id0 = tandem_qmp_qdev_to_device_id(d0->qdev);
  assert_string_equal(id0, "disk-net0");
  assert_string_equal(d0->format, "nbd");
  assert_false(d0->read_only);
  assert_int_equal(d0->virtual_size, EXPORT_SIZE);
  assert_true(g_str_has_prefix(d0->file, "nbd+unix://"));
  printf("# nvme disk: qdev %s, file %s\n", d0->qdev, d0->file);
  g_autofree char *id1 = tandem_qmp_qdev_to_device_id(d1->qdev);
  assert_string_equal(id1, "disk-net1");
  assert_true(d1->read_only);

  /* In use: not removable. */
  assert_false(RUN(vm, &error, blockdev_del, "net0"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_clear_error(&error);

  /* No guest to release it: device_del is accepted, the event never
   * comes, and the request stays pending. */
  Wait w = {0};
  tandem_qmp_device_del_wait_async(vm->qmp, "disk-net0", 500, NULL, on_done,
                                   &w);
  g_autoptr(GAsyncResult) res = wait_for(&w, 15);
  assert_false(tandem_qmp_device_del_wait_finish(vm->qmp, res, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  g_clear_error(&error);
  assert_false(RUN(vm, &error, device_del, "disk-net0"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_clear_error(&error);
  assert_false(RUN(vm, &error, device_del, "no-such-device"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DEVICE_NOT_FOUND));
  g_clear_error(&error);

  /* A node no device uses goes. */
  const TandemQmpNbdBlockdev spare = {.node_name = "net2",
                                      .unix_path = sock,
                                      .export_name = "tandem-exp",
                                      .read_only = TRUE};
  assert_ok(add_nbd(vm, &spare, &error), &error, "blockdev-add spare");
  assert_ok(RUN(vm, &error, blockdev_del, "net2"), &error, "blockdev-del");
  g_autoptr(GPtrArray) last = query_nodes(vm);
  assert_null(node_named(last, "net2"));
  assert_false(RUN(vm, &error, blockdev_del, "net2"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
}

int main(void) {
  g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
  g_autofree char *img = g_find_program_in_path("qemu-img");
  if (!qemu || !img) {
    /* A plan of 0 tests is TAP's whole-file skip; meson counts it as
     * skipped, where a cmocka skip would count as a failure. */
    printf("1..0 # SKIP qemu-system-x86_64 or qemu-img not installed\n");
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_status_and_block, vm_setup,
                                      vm_teardown),
      cmocka_unit_test_setup_teardown(test_snapshot_transaction, vm_setup,
                                      vm_teardown),
      cmocka_unit_test_setup_teardown(test_block_stream_merge, vm_setup,
                                      vm_teardown),
      cmocka_unit_test_setup_teardown(test_block_stream_cancel, vm_setup,
                                      vm_teardown),
      cmocka_unit_test_setup_teardown(test_background_snapshot, vm_setup,
                                      vm_teardown),
      cmocka_unit_test_setup_teardown(test_save_and_restore, vm_setup,
                                      vm_teardown),
      /* Last: left out without qemu-nbd. */
      cmocka_unit_test_setup_teardown(test_nbd_disk, vm_setup, vm_teardown),
  };
  size_t n = G_N_ELEMENTS(tests);
  g_autofree char *nbd = g_find_program_in_path("qemu-nbd");
  if (!nbd) {
    /* Not a cmocka skip, which cmocka 1.1 reports as "not ok" and meson
     * counts as a failure. */
    printf("# qemu-nbd not installed: test_nbd_disk left out\n");
    n--;
  }
  return _cmocka_run_group_tests("qmp-commands-qemu", tests, n, NULL, NULL);
}
