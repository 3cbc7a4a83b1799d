/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The typed QMP commands against the scripted fake QMP server (qmp-fake.h):
 * the exact JSON each call sends, typed parsing of replies shaped as QEMU
 * 7.2 sends them (captured from qemu-system-x86_64 7.2.22), and hostile
 * replies (wrong types, missing members, huge lists) turned into errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "qmp-fake.h"
#include "qmp-test-calls.h"
#include "tandem-qmp-commands.h"
#include "test-wait.h"

static void assert_malformed(const GError *error) {
  if (!g_error_matches(error, TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_PROTOCOL))
    fail_msg("wanted a PROTOCOL error, got %s",
             error ? error->message : "success");
  assert_non_null(strstr(error->message, "is malformed"));
}

/* Runs one void command through its async/finish pair. */
static GPtrArray *query_block(TandemQmpClient *c, GError **error) {
  Wait w = {0};
  tandem_qmp_query_block_async(c, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_query_block_finish(c, res, error);
}

static TandemQmpMigrationInfo *query_migrate(TandemQmpClient *c,
                                             GError **error) {
  Wait w = {0};
  tandem_qmp_query_migrate_async(c, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_query_migrate_finish(c, res, error);
}

static GPtrArray *query_jobs(TandemQmpClient *c, GError **error) {
  Wait w = {0};
  tandem_qmp_query_jobs_async(c, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_query_jobs_finish(c, res, error);
}

static GPtrArray *query_nodes(TandemQmpClient *c, GError **error) {
  Wait w = {0};
  tandem_qmp_query_named_block_nodes_async(c, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_query_named_block_nodes_finish(c, res, error);
}

/* --- Run state ---------------------------------------------------------- */

static void test_run_state(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"stop\"}", OK, 0},
      {EXPECT, "{\"execute\": \"query-status\"}",
       "{\"return\": {\"status\": \"paused\", \"singlestep\": false, "
       "\"running\": false}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"cont\"}", OK, 0},
      {EXPECT, "{\"execute\": \"query-status\"}",
       "{\"return\": {\"status\": \"running\", \"singlestep\": false, "
       "\"running\": true}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"cont\"}",
       "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Migration is "
       "not currently possible\"}, \"id\": %lld}", 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  assert_true(RUN_VOID0(c, &error, stop));
  g_autoptr(TandemQmpStatusInfo) paused = query_status(c, &error);
  assert_non_null(paused);
  assert_false(paused->running);
  assert_string_equal(paused->status, "paused");
  assert_true(RUN_VOID0(c, &error, cont));
  g_autoptr(TandemQmpStatusInfo) running = query_status(c, &error);
  assert_true(running->running);
  assert_string_equal(running->status, "running");

  assert_false(RUN_VOID0(c, &error, cont));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_object_unref(c);
  fake_finish(f);
}

/* --- Disks -------------------------------------------------------------- */

/* query-block from QEMU 7.2 after a snapshot transaction onto "ov1", plus
 * an empty CD drive, an nvme disk and a read-only disk on a device without
 * an id (image members trimmed only where the lines got too long). */
static const char block_reply[] =
    "{\"return\": ["
    "{\"io-status\": \"ok\", \"device\": \"\", \"locked\": false, "
    "\"removable\": false, \"inserted\": {\"iops_rd\": 0, \"detect_zeroes\": "
    "\"off\", \"image\": {\"backing-image\": {\"virtual-size\": 67108864, "
    "\"filename\": \"/tmp/qx/disk.qcow2\", \"cluster-size\": 65536, "
    "\"format\": \"qcow2\", \"actual-size\": 200704, \"format-specific\": "
    "{\"type\": \"qcow2\", \"data\": {\"compat\": \"1.1\", "
    "\"compression-type\": \"zlib\", \"lazy-refcounts\": false, "
    "\"refcount-bits\": 16, \"corrupt\": false, \"extended-l2\": false}}, "
    "\"dirty-flag\": false}, \"backing-filename-format\": \"qcow2\", "
    "\"virtual-size\": 67108864, \"filename\": \"/tmp/qx/ov1.qcow2\", "
    "\"cluster-size\": 65536, \"format\": \"qcow2\", \"actual-size\": "
    "200704, \"format-specific\": {\"type\": \"qcow2\", \"data\": "
    "{\"compat\": \"1.1\", \"compression-type\": \"zlib\", "
    "\"lazy-refcounts\": false, \"refcount-bits\": 16, \"corrupt\": false, "
    "\"extended-l2\": false}}, \"full-backing-filename\": "
    "\"/tmp/qx/disk.qcow2\", \"backing-filename\": \"/tmp/qx/disk.qcow2\", "
    "\"dirty-flag\": false}, \"iops_wr\": 0, \"ro\": false, \"node-name\": "
    "\"ov1\", \"backing_file_depth\": 1, \"drv\": \"qcow2\", \"iops\": 0, "
    "\"bps_wr\": 0, \"write_threshold\": 0, \"backing_file\": "
    "\"/tmp/qx/disk.qcow2\", \"encrypted\": false, \"bps\": 0, \"bps_rd\": "
    "0, \"cache\": {\"no-flush\": false, \"direct\": false, \"writeback\": "
    "true}, \"file\": \"/tmp/qx/ov1.qcow2\"}, \"qdev\": "
    "\"/machine/peripheral/disk-home-dev/virtio-backend\", \"type\": "
    "\"unknown\"},"
    "{\"io-status\": \"ok\", \"device\": \"\", \"locked\": false, "
    "\"removable\": true, \"qdev\": \"cd0\", \"tray_open\": false, "
    "\"type\": \"unknown\"},"
    "{\"device\": \"\", \"locked\": false, \"removable\": false, "
    "\"inserted\": {\"iops_rd\": 0, \"detect_zeroes\": \"off\", \"image\": "
    "{\"virtual-size\": 67108864, \"filename\": \"/tmp/qx/disk.qcow2\", "
    "\"cluster-size\": 65536, \"format\": \"qcow2\", \"actual-size\": "
    "1323008, \"dirty-flag\": false}, \"iops_wr\": 0, \"ro\": false, "
    "\"node-name\": \"nv\", \"backing_file_depth\": 0, \"drv\": \"qcow2\", "
    "\"iops\": 0, \"bps_wr\": 0, \"write_threshold\": 0, \"encrypted\": "
    "false, \"bps\": 0, \"bps_rd\": 0, \"cache\": {\"no-flush\": false, "
    "\"direct\": false, \"writeback\": true}, \"file\": "
    "\"/tmp/qx/disk.qcow2\"}, \"qdev\": \"nvme0\", \"type\": \"unknown\"},"
    "{\"io-status\": \"ok\", \"device\": \"\", \"locked\": false, "
    "\"removable\": false, \"inserted\": {\"iops_rd\": 0, \"detect_zeroes\": "
    "\"off\", \"image\": {\"virtual-size\": 33554432, \"filename\": "
    "\"/tmp/qx/d2.qcow2\", \"cluster-size\": 65536, \"format\": \"qcow2\", "
    "\"actual-size\": 200704, \"dirty-flag\": false}, \"iops_wr\": 0, "
    "\"ro\": true, \"node-name\": \"anon-disk\", \"backing_file_depth\": 0, "
    "\"drv\": \"qcow2\", \"iops\": 0, \"bps_wr\": 0, \"write_threshold\": 0, "
    "\"encrypted\": false, \"bps\": 0, \"bps_rd\": 0, \"cache\": "
    "{\"no-flush\": false, \"direct\": false, \"writeback\": true}, "
    "\"file\": \"/tmp/qx/d2.qcow2\"}, \"qdev\": "
    "\"/machine/peripheral-anon/device[0]/virtio-backend\", \"type\": "
    "\"unknown\"}"
    "], \"id\": %lld}";

static void test_query_block(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE, {EXPECT, "{\"execute\": \"query-block\"}", block_reply, 0},
      {EXPECT, "{\"execute\": \"query-block\"}",
       "{\"return\": [], \"id\": %lld}", 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  g_autoptr(GPtrArray) disks = query_block(c, &error);
  assert_null(error);
  assert_int_equal(disks->len, 3); /* the empty CD drive is left out */
  TandemQmpBlockDevice *home = disks->pdata[0];
  assert_string_equal(home->qdev,
                      "/machine/peripheral/disk-home-dev/virtio-backend");
  assert_string_equal(home->node_name, "ov1");
  assert_string_equal(home->file, "/tmp/qx/ov1.qcow2");
  assert_string_equal(home->format, "qcow2");
  assert_false(home->read_only);
  assert_int_equal(home->virtual_size, 67108864);
  assert_string_equal(home->backing_file, "/tmp/qx/disk.qcow2");
  g_autofree char *home_id = tandem_qmp_qdev_to_device_id(home->qdev);
  assert_string_equal(home_id, "disk-home-dev");

  TandemQmpBlockDevice *nvme = disks->pdata[1];
  assert_string_equal(nvme->node_name, "nv");
  assert_null(nvme->backing_file);
  g_autofree char *nvme_id = tandem_qmp_qdev_to_device_id(nvme->qdev);
  assert_string_equal(nvme_id, "nvme0");

  TandemQmpBlockDevice *anon = disks->pdata[2];
  assert_true(anon->read_only);
  assert_int_equal(anon->virtual_size, 33554432);
  assert_null(tandem_qmp_qdev_to_device_id(anon->qdev));

  g_autoptr(GPtrArray) none = query_block(c, &error);
  assert_non_null(none);
  assert_int_equal(none->len, 0);
  g_object_unref(c);
  fake_finish(f);
}

static void test_qdev_to_device_id(void **state) {
  (void)state;
  static const struct {
    const char *qdev, *id;
  } cases[] = {
      {"/machine/peripheral/disk-home-dev/virtio-backend", "disk-home-dev"},
      {"/machine/peripheral/scsi0", "scsi0"},
      {"/machine/peripheral/", NULL},
      {"/machine/peripheral//virtio-backend", NULL},
      {"/machine/peripheral-anon/device[0]/virtio-backend", NULL},
      {"/machine/unattached/device[23]", NULL},
      {"nvme0", "nvme0"},
      {"", NULL},
      {NULL, NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *id = tandem_qmp_qdev_to_device_id(cases[i].qdev);
    assert_string_equal(id ? id : "(null)",
                        cases[i].id ? cases[i].id : "(null)");
  }
}

static void test_snapshot_transaction(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT,
       "{\"execute\": \"transaction\", \"arguments\": {\"actions\": ["
       "{\"type\": \"blockdev-snapshot-sync\", \"data\": {\"node-name\": "
       "\"disk-home\", \"snapshot-file\": \"/s/home-1.qcow2\", "
       "\"snapshot-node-name\": \"disk-home-1\", \"format\": \"qcow2\", "
       "\"mode\": \"absolute-paths\"}},"
       "{\"type\": \"blockdev-snapshot-sync\", \"data\": {\"node-name\": "
       "\"disk-root\", \"snapshot-file\": \"/s/root-1.qcow2\", "
       "\"mode\": \"existing\"}}]}}",
       OK, 0},
      {EXPECT,
       "{\"execute\": \"transaction\", \"arguments\": {\"actions\": ["
       "{\"type\": \"blockdev-snapshot-sync\", \"data\": {\"node-name\": "
       "\"gone\", \"snapshot-file\": \"/s/x.qcow2\", \"mode\": "
       "\"absolute-paths\"}}]}}",
       "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Cannot find "
       "device='' nor node-name='gone'\"}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"transaction\", \"arguments\": "
               "{\"actions\": []}}", OK, 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  const TandemQmpSnapshotAction both[] = {
      {"disk-home", "/s/home-1.qcow2", "disk-home-1", "qcow2", FALSE},
      {"disk-root", "/s/root-1.qcow2", NULL, NULL, TRUE},
  };
  assert_true(RUN_VOID(c, &error, blockdev_snapshot_transaction, both, 2));
  const TandemQmpSnapshotAction gone[] = {
      {"gone", "/s/x.qcow2", NULL, NULL, FALSE}};
  assert_false(RUN_VOID(c, &error, blockdev_snapshot_transaction, gone, 1));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_clear_error(&error);
  assert_true(RUN_VOID(c, &error, blockdev_snapshot_transaction, NULL, 0));
  g_object_unref(c);
  fake_finish(f);
}

/* --- File descriptors --------------------------------------------------- */

static void test_getfd_closefd(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {RECV_FD, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
                "\"snap\"}}", NULL, 0},
      {EXPECT, "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": "
               "\"snap\"}}", OK, 0},
      {EXPECT, "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": "
               "\"snap\"}}",
       "{\"error\": {\"class\": \"GenericError\", \"desc\": \"File "
       "descriptor named 'snap' not found\"}, \"id\": %lld}", 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;
  int p[2];

  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], "state", 5), 5);
  close(p[1]);
  assert_true(RUN_VOID(c, &error, getfd, "snap", p[0]));
  close(p[0]); /* not taken by the call */
  assert_true(RUN_VOID(c, &error, closefd, "snap"));
  assert_false(RUN_VOID(c, &error, closefd, "snap"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_object_unref(c);
  char data[64];
  fake_finish_with_data(f, data);
  assert_string_equal(data, "state");
}

/* --- Migration ---------------------------------------------------------- */

static void test_migration_setup_commands(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
               "{\"capabilities\": [{\"capability\": \"events\", \"state\": "
               "true}, {\"capability\": \"background-snapshot\", \"state\": "
               "true}, {\"capability\": \"auto-converge\", \"state\": "
               "false}]}}", OK, 0},
      {EXPECT, "{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
               "{\"capabilities\": [{\"capability\": \"postcopy-ram\", "
               "\"state\": true}]}}",
       "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Postcopy is "
       "not compatible with background snapshot\"}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
               "{\"max-bandwidth\": 4294967296, \"downtime-limit\": 500}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
               "{\"downtime-limit\": 0}}", OK, 0},
      {EXPECT, "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
               "{}}", OK, 0},
      {EXPECT, "{\"execute\": \"migrate\", \"arguments\": {\"uri\": "
               "\"fd:snap\"}}", OK, 0},
      {EXPECT, "{\"execute\": \"migrate-incoming\", \"arguments\": "
               "{\"uri\": \"fd:restore\"}}",
       "{\"error\": {\"class\": \"GenericError\", \"desc\": \"'-incoming' "
       "was not specified on the command line\"}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"migrate_cancel\"}", OK, 0},
      {EXPECT, "{\"execute\": \"migrate-continue\", \"arguments\": "
               "{\"state\": \"pre-switchover\"}}", OK, 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  const TandemQmpMigrationCapabilityState caps[] = {
      {TANDEM_QMP_MIGRATION_CAP_EVENTS, TRUE},
      {TANDEM_QMP_MIGRATION_CAP_BACKGROUND_SNAPSHOT, TRUE},
      {TANDEM_QMP_MIGRATION_CAP_AUTO_CONVERGE, FALSE},
  };
  assert_true(RUN_VOID(c, &error, migrate_set_capabilities, caps, 3));
  const TandemQmpMigrationCapabilityState postcopy[] = {
      {TANDEM_QMP_MIGRATION_CAP_POSTCOPY_RAM, TRUE}};
  assert_false(RUN_VOID(c, &error, migrate_set_capabilities, postcopy, 1));
  g_clear_error(&error);

  const TandemQmpMigrationParameters both = {
      TANDEM_QMP_MIGRATION_PARAM_MAX_BANDWIDTH |
          TANDEM_QMP_MIGRATION_PARAM_DOWNTIME_LIMIT,
      G_GUINT64_CONSTANT(4) << 30, 500};
  const TandemQmpMigrationParameters downtime = {
      TANDEM_QMP_MIGRATION_PARAM_DOWNTIME_LIMIT, 12345, 0};
  const TandemQmpMigrationParameters nothing = {0, 1, 2};
  assert_true(RUN_VOID(c, &error, migrate_set_parameters, &both));
  assert_true(RUN_VOID(c, &error, migrate_set_parameters, &downtime));
  assert_true(RUN_VOID(c, &error, migrate_set_parameters, &nothing));

  assert_true(RUN_VOID(c, &error, migrate, "fd:snap"));
  assert_false(RUN_VOID(c, &error, migrate_incoming, "fd:restore"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_clear_error(&error);
  assert_true(RUN_VOID0(c, &error, migrate_cancel));
  assert_true(RUN_VOID0(c, &error, migrate_continue));
  g_object_unref(c);
  fake_finish(f);
}

static void test_capability_names(void **state) {
  (void)state;
  assert_string_equal(tandem_qmp_migration_capability_to_string(
                          TANDEM_QMP_MIGRATION_CAP_BACKGROUND_SNAPSHOT),
                      "background-snapshot");
  assert_string_equal(tandem_qmp_migration_capability_to_string(
                          TANDEM_QMP_MIGRATION_CAP_VALIDATE_UUID),
                      "validate-uuid");
  /* Every value up to the last has a name (no hole in the table). */
  for (int i = 0; i <= TANDEM_QMP_MIGRATION_CAP_VALIDATE_UUID; i++)
    assert_non_null(tandem_qmp_migration_capability_to_string(i));
  assert_null(tandem_qmp_migration_capability_to_string(
      TANDEM_QMP_MIGRATION_CAP_VALIDATE_UUID + 1));
  assert_null(tandem_qmp_migration_capability_to_string(-1));
}

/* query-migrate replies from QEMU 7.2 through a background snapshot to an
 * fd, and after a failed migrate. */
static void test_query_migrate(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"query-migrate\"}", OK, 0},
      {EXPECT, "{\"execute\": \"query-migrate\"}",
       "{\"return\": {\"status\": \"setup\"}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"query-migrate\"}",
       "{\"return\": {\"expected-downtime\": 500, \"status\": \"active\", "
       "\"setup-time\": 5, \"total-time\": 58, \"ram\": {\"total\": "
       "134750208, \"postcopy-requests\": 0, \"dirty-sync-count\": 0, "
       "\"multifd-bytes\": 0, \"pages-per-second\": 0, \"downtime-bytes\": "
       "4192, \"page-size\": 4096, \"remaining\": 88121344, "
       "\"postcopy-bytes\": 0, \"mbps\": 0, \"transferred\": 315495, "
       "\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 311303, "
       "\"duplicate\": 11332, \"dirty-pages-rate\": 0, \"skipped\": 0, "
       "\"normal-bytes\": 212992, \"normal\": 52}}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"query-migrate\"}",
       "{\"return\": {\"status\": \"completed\", \"setup-time\": 5, "
       "\"downtime\": 2, \"total-time\": 132, \"ram\": {\"total\": "
       "134750208, \"postcopy-requests\": 0, \"dirty-sync-count\": 0, "
       "\"multifd-bytes\": 0, \"pages-per-second\": 238403, "
       "\"downtime-bytes\": 4192, \"page-size\": 4096, \"remaining\": 0, "
       "\"postcopy-bytes\": 0, \"mbps\": 39.75766929133859, \"transferred\": "
       "509137, \"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": "
       "504945, \"duplicate\": 32846, \"dirty-pages-rate\": 0, \"skipped\": "
       "0, \"normal-bytes\": 212992, \"normal\": 52}}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"query-migrate\"}",
       "{\"return\": {\"status\": \"failed\", \"error-desc\": \"File "
       "descriptor named 'nonexist' has not been found\"}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"query-migrate\"}",
       "{\"return\": {\"status\": \"postcopy-teleport\", \"new-member\": "
       "[1]}, \"id\": %lld}", 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  g_autoptr(TandemQmpMigrationInfo) none = query_migrate(c, &error);
  assert_int_equal(none->status, TANDEM_QMP_MIGRATION_STATUS_NONE);
  assert_int_equal(none->total_time_ms, 0);
  assert_null(none->error_desc);
  g_autoptr(TandemQmpMigrationInfo) setup = query_migrate(c, &error);
  assert_int_equal(setup->status, TANDEM_QMP_MIGRATION_STATUS_SETUP);
  assert_int_equal(setup->ram_total, 0);

  g_autoptr(TandemQmpMigrationInfo) active = query_migrate(c, &error);
  assert_int_equal(active->status, TANDEM_QMP_MIGRATION_STATUS_ACTIVE);
  assert_int_equal(active->setup_time_ms, 5);
  assert_int_equal(active->total_time_ms, 58);
  assert_int_equal(active->downtime_ms, 0);
  assert_int_equal(active->ram_total, 134750208);
  assert_int_equal(active->ram_remaining, 88121344);
  assert_int_equal(active->ram_transferred, 315495);

  g_autoptr(TandemQmpMigrationInfo) done = query_migrate(c, &error);
  assert_int_equal(done->status, TANDEM_QMP_MIGRATION_STATUS_COMPLETED);
  assert_int_equal(done->downtime_ms, 2);
  assert_int_equal(done->total_time_ms, 132);
  assert_int_equal(done->ram_remaining, 0);
  assert_int_equal(done->ram_transferred, 509137);

  g_autoptr(TandemQmpMigrationInfo) failed = query_migrate(c, &error);
  assert_int_equal(failed->status, TANDEM_QMP_MIGRATION_STATUS_FAILED);
  assert_string_equal(failed->error_desc,
                      "File descriptor named 'nonexist' has not been found");

  /* A later QEMU's new status is not an error. */
  g_autoptr(TandemQmpMigrationInfo) future = query_migrate(c, &error);
  assert_null(error);
  assert_int_equal(future->status, TANDEM_QMP_MIGRATION_STATUS_UNKNOWN);
  g_object_unref(c);
  fake_finish(f);
}

static void test_migration_status_names(void **state) {
  (void)state;
  static const char *const names[] = {
      "none", "setup", "cancelling", "cancelled", "active",
      "postcopy-active", "postcopy-paused", "postcopy-recover", "completed",
      "failed", "colo", "pre-switchover", "device", "wait-unplug"};
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    TandemQmpMigrationStatus s =
        tandem_qmp_migration_status_from_string(names[i]);
    assert_int_not_equal(s, TANDEM_QMP_MIGRATION_STATUS_UNKNOWN);
    assert_string_equal(tandem_qmp_migration_status_to_string(s), names[i]);
  }
  assert_int_equal(tandem_qmp_migration_status_from_string("pre-switchover"),
                   TANDEM_QMP_MIGRATION_STATUS_PRE_SWITCHOVER);
  assert_int_equal(tandem_qmp_migration_status_from_string("wait-unplug"),
                   TANDEM_QMP_MIGRATION_STATUS_WAIT_UNPLUG);
  const char *unknown[] = {NULL, "", "unknown", "Completed", "completed "};
  for (gsize i = 0; i < G_N_ELEMENTS(unknown); i++)
    assert_int_equal(tandem_qmp_migration_status_from_string(unknown[i]),
                     TANDEM_QMP_MIGRATION_STATUS_UNKNOWN);
  assert_string_equal(tandem_qmp_migration_status_to_string(999), "unknown");
  assert_true(tandem_qmp_migration_status_is_finished(
      TANDEM_QMP_MIGRATION_STATUS_COMPLETED));
  assert_true(tandem_qmp_migration_status_is_finished(
      TANDEM_QMP_MIGRATION_STATUS_CANCELLED));
  assert_false(tandem_qmp_migration_status_is_finished(
      TANDEM_QMP_MIGRATION_STATUS_CANCELLING));
  assert_false(tandem_qmp_migration_status_is_finished(
      TANDEM_QMP_MIGRATION_STATUS_NONE));
}

static void test_migration_event(void **state) {
  (void)state;
  static const struct {
    const char *data; /* NULL: the event had none */
    gboolean ok;
    TandemQmpMigrationStatus status;
  } cases[] = {
      {"{\"status\": \"setup\"}", TRUE, TANDEM_QMP_MIGRATION_STATUS_SETUP},
      {"{\"status\": \"completed\"}", TRUE,
       TANDEM_QMP_MIGRATION_STATUS_COMPLETED},
      {"{\"status\": \"warp\"}", TRUE, TANDEM_QMP_MIGRATION_STATUS_UNKNOWN},
      {"{\"status\": \"failed\", \"extra\": {}}", TRUE,
       TANDEM_QMP_MIGRATION_STATUS_FAILED},
      {NULL, FALSE, TANDEM_QMP_MIGRATION_STATUS_UNKNOWN},
      {"{}", FALSE, TANDEM_QMP_MIGRATION_STATUS_UNKNOWN},
      {"{\"status\": 3}", FALSE, TANDEM_QMP_MIGRATION_STATUS_UNKNOWN},
      {"{\"status\": null}", FALSE, TANDEM_QMP_MIGRATION_STATUS_UNKNOWN},
      {"{\"status\": [\"active\"]}", FALSE,
       TANDEM_QMP_MIGRATION_STATUS_UNKNOWN},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(JsonObject) data =
        cases[i].data ? json_object_from(cases[i].data) : NULL;
    g_autoptr(GError) error = NULL;
    TandemQmpMigrationStatus status = TANDEM_QMP_MIGRATION_STATUS_ACTIVE;
    gboolean ok = tandem_qmp_migration_event_parse(data, &status, &error);
    assert_int_equal(ok, cases[i].ok);
    assert_int_equal(status, cases[i].status);
    if (!ok)
      assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                                  TANDEM_QMP_ERROR_PROTOCOL));
  }
}

/* --- Jobs --------------------------------------------------------------- */

static void test_snapshot_save_job(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"snapshot-save\", \"arguments\": {\"job-id\": "
               "\"save0\", \"tag\": \"t1\", \"vmstate\": \"disk-home\", "
               "\"devices\": [\"disk-home\", \"disk-root\"]}}", OK, 0},
      {EXPECT, "{\"execute\": \"query-jobs\"}",
       "{\"return\": [{\"current-progress\": 1, \"status\": \"concluded\", "
       "\"total-progress\": 1, \"type\": \"snapshot-save\", \"id\": "
       "\"save0\"}, {\"current-progress\": 1, \"status\": \"concluded\", "
       "\"total-progress\": 1, \"type\": \"snapshot-save\", \"id\": "
       "\"save1\", \"error\": \"Snapshot 't1' already exists in one or more "
       "devices\"}], \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"job-dismiss\", \"arguments\": {\"id\": "
               "\"save0\"}}", OK, 0},
      {EXPECT, "{\"execute\": \"query-jobs\"}", "{\"return\": [], \"id\": "
                                                "%lld}", 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  const char *const devices[] = {"disk-home", "disk-root", NULL};
  assert_true(RUN_VOID(c, &error, snapshot_save, "save0", "t1", "disk-home",
                       devices));
  g_autoptr(GPtrArray) jobs = query_jobs(c, &error);
  assert_int_equal(jobs->len, 2);
  const TandemQmpJobInfo *save0 = tandem_qmp_job_list_find(jobs, "save0");
  assert_string_equal(save0->type, "snapshot-save");
  assert_string_equal(save0->status, "concluded");
  assert_null(save0->error);
  const TandemQmpJobInfo *save1 = tandem_qmp_job_list_find(jobs, "save1");
  assert_string_equal(save1->error,
                      "Snapshot 't1' already exists in one or more devices");
  assert_null(tandem_qmp_job_list_find(jobs, "save2"));
  assert_true(RUN_VOID(c, &error, job_dismiss, "save0"));
  g_autoptr(GPtrArray) empty = query_jobs(c, &error);
  assert_int_equal(empty->len, 0);
  g_object_unref(c);
  fake_finish(f);
}

static void test_block_stream_and_nodes(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"query-named-block-nodes\", \"arguments\": "
               "{\"flat\": true}}",
       "{\"return\": [{\"iops_rd\": 0, \"detect_zeroes\": \"off\", "
       "\"image\": {\"virtual-size\": 67108864, \"filename\": "
       "\"/d/o.qcow2\", \"format\": \"qcow2\"}, \"node-name\": "
       "\"d1\", \"drv\": \"qcow2\", \"ro\": false, \"encrypted\": "
       "false, \"file\": \"/d/o.qcow2\", \"backing_file\": "
       "\"/d/b.qcow2\"}, {\"node-name\": \"#block123\", \"drv\": "
       "\"file\", \"ro\": false, \"file\": \"/d/o.qcow2\"}], "
       "\"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"block-stream\", \"arguments\": "
               "{\"job-id\": \"m0\", \"device\": \"d2\", \"bottom\": "
               "\"d1\", \"auto-dismiss\": false}}", OK, 0},
      {EXPECT, "{\"execute\": \"block-stream\", \"arguments\": "
               "{\"job-id\": \"m1\", \"device\": \"d2\", \"bottom\": "
               "\"d1\", \"speed\": 1048576, \"auto-dismiss\": false}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"job-cancel\", \"arguments\": {\"id\": "
               "\"m1\"}}", OK, 0},
      {EXPECT, "{\"execute\": \"query-named-block-nodes\", \"arguments\": "
               "{\"flat\": true}}",
       "{\"return\": [{\"node-name\": \"d1\", \"drv\": 7, \"file\": "
       "\"/x\"}], \"id\": %lld}", 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  g_autoptr(GPtrArray) nodes = query_nodes(c, &error);
  assert_non_null(nodes);
  assert_int_equal(nodes->len, 2);
  const TandemQmpBlockNode *n =
      tandem_qmp_block_node_find(nodes, "/d/o.qcow2", "qcow2");
  assert_string_equal(n->node_name, "d1");
  n = tandem_qmp_block_node_find(nodes, "/d/o.qcow2", "file");
  assert_string_equal(n->node_name, "#block123");
  assert_null(tandem_qmp_block_node_find(nodes, "/d/b.qcow2", "qcow2"));

  assert_true(RUN_VOID(c, &error, block_stream, "m0", "d2", "d1", 0));
  assert_true(RUN_VOID(c, &error, block_stream, "m1", "d2", "d1", 1 << 20));
  assert_true(RUN_VOID(c, &error, job_cancel, "m1"));

  assert_null(query_nodes(c, &error));
  assert_malformed(error);
  g_object_unref(c);
  fake_finish(f);
}

/* --- Network disks ------------------------------------------------------ */

typedef enum { Q_STATUS, Q_BLOCK, Q_MIGRATE, Q_JOBS } Query;

static const char *const query_commands[] = {
    [Q_STATUS] = "{\"execute\": \"query-status\"}",
    [Q_BLOCK] = "{\"execute\": \"query-block\"}",
    [Q_MIGRATE] = "{\"execute\": \"query-migrate\"}",
    [Q_JOBS] = "{\"execute\": \"query-jobs\"}",
};

/* Runs @q; TRUE if it gave a result (freed here). */
static gboolean run_query(TandemQmpClient *c, Query q, GError **error) {
  switch (q) {
  case Q_STATUS: {
    g_autoptr(TandemQmpStatusInfo) r = query_status(c, error);
    return r != NULL;
  }
  case Q_BLOCK: {
    g_autoptr(GPtrArray) r = query_block(c, error);
    return r != NULL;
  }
  case Q_MIGRATE: {
    g_autoptr(TandemQmpMigrationInfo) r = query_migrate(c, error);
    return r != NULL;
  }
  case Q_JOBS: {
    g_autoptr(GPtrArray) r = query_jobs(c, error);
    return r != NULL;
  }
  }
  return FALSE;
}

#define DISK(inserted) "{\"device\": \"\", \"qdev\": \"x\", \"inserted\": " \
  inserted "}"
#define GOOD_INSERTED "{\"node-name\": \"n\", \"file\": \"/f\", \"drv\": " \
  "\"qcow2\", \"ro\": false, \"image\": {\"virtual-size\": 1}}"

static const struct {
  Query query;
  const char *ret; /* the "return" value */
} hostile[] = {
    {Q_STATUS, "[]"},
    {Q_STATUS, "\"running\""},
    {Q_STATUS, "null"},
    {Q_STATUS, "{\"status\": \"running\"}"},
    {Q_STATUS, "{\"status\": \"running\", \"running\": \"yes\"}"},
    {Q_STATUS, "{\"status\": 1, \"running\": true}"},
    {Q_STATUS, "{\"status\": null, \"running\": true}"},
    {Q_BLOCK, "{}"},
    {Q_BLOCK, "[1]"},
    {Q_BLOCK, "[[]]"},
    {Q_BLOCK, "[{\"inserted\": \"yes\"}]"},
    {Q_BLOCK, "[" DISK("{\"file\": \"/f\", \"drv\": \"qcow2\", \"ro\": "
                       "false, \"image\": {\"virtual-size\": 1}}") "]"},
    {Q_BLOCK, "[" DISK("{\"node-name\": \"\", \"file\": \"/f\", \"drv\": "
                       "\"qcow2\", \"ro\": false, \"image\": "
                       "{\"virtual-size\": 1}}") "]"},
    {Q_BLOCK, "[" DISK("{\"node-name\": \"n\", \"file\": \"/f\", \"drv\": "
                       "\"qcow2\", \"ro\": false}") "]"},
    {Q_BLOCK, "[" DISK("{\"node-name\": \"n\", \"file\": \"/f\", \"drv\": "
                       "\"qcow2\", \"ro\": \"no\", \"image\": "
                       "{\"virtual-size\": 1}}") "]"},
    {Q_BLOCK, "[" DISK("{\"node-name\": \"n\", \"file\": \"/f\", \"drv\": "
                       "\"qcow2\", \"ro\": false, \"image\": "
                       "{\"virtual-size\": -1}}") "]"},
    {Q_BLOCK, "[" DISK("{\"node-name\": \"n\", \"file\": \"/f\", \"drv\": "
                       "\"qcow2\", \"ro\": false, \"image\": "
                       "{\"virtual-size\": 1.5}}") "]"},
    /* Above G_MAXINT64: json-glib wraps it to a negative number. */
    {Q_BLOCK, "[" DISK("{\"node-name\": \"n\", \"file\": \"/f\", \"drv\": "
                       "\"qcow2\", \"ro\": false, \"image\": "
                       "{\"virtual-size\": 18446744073709551615}}") "]"},
    {Q_BLOCK, "[" DISK("{\"node-name\": \"n\", \"file\": \"/f\", \"drv\": "
                       "\"qcow2\", \"ro\": false, \"image\": "
                       "{\"virtual-size\": 1, \"backing-filename\": 7}}") "]"},
    {Q_BLOCK, "[" DISK(GOOD_INSERTED) ", " DISK("[]") "]"},
    {Q_BLOCK, "[{\"qdev\": {}, \"inserted\": " GOOD_INSERTED "}]"},
    {Q_MIGRATE, "[]"},
    {Q_MIGRATE, "{\"status\": 4}"},
    {Q_MIGRATE, "{\"status\": \"active\", \"total-time\": \"long\"}"},
    {Q_MIGRATE, "{\"status\": \"active\", \"setup-time\": -5}"},
    {Q_MIGRATE, "{\"status\": \"active\", \"ram\": []}"},
    {Q_MIGRATE, "{\"status\": \"active\", \"ram\": {\"total\": true}}"},
    {Q_MIGRATE, "{\"status\": \"failed\", \"error-desc\": {}}"},
    {Q_JOBS, "{}"},
    {Q_JOBS, "[{\"type\": \"mirror\", \"status\": \"running\"}]"},
    {Q_JOBS, "[{\"id\": \"j\", \"type\": \"mirror\", \"status\": 1}]"},
    {Q_JOBS, "[{\"id\": \"j\", \"type\": \"mirror\", \"status\": "
             "\"concluded\", \"error\": false}]"},
};

/* Each hostile reply fails its call with PROTOCOL and leaves the
 * connection usable for the next. */
static void test_hostile_replies(void **state) {
  (void)state;
  const gsize n = G_N_ELEMENTS(hostile);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
  Step *script = g_new0(Step, n + 5);
  Step *s = script;
  *s++ = (Step){SEND, NULL, GREETING, 0};
  *s++ = (Step){REPLY, "qmp_capabilities", OK, 0};
  for (gsize i = 0; i < n; i++) {
    char *text = g_strdup_printf("{\"return\": %s, \"id\": %%lld}",
                                 hostile[i].ret);
    g_ptr_array_add(texts, text);
    *s++ = (Step){EXPECT, query_commands[hostile[i].query], text, 0};
  }
  *s++ = (Step){EXPECT, query_commands[Q_STATUS],
                "{\"return\": {\"status\": \"running\", \"running\": true}, "
                "\"id\": %lld}", 0};
  *s++ = (Step){WAIT_EOF, NULL, NULL, 0};
  *s = (Step){END, NULL, NULL, 0};

  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  for (gsize i = 0; i < n; i++) {
    g_autoptr(GError) error = NULL;
    if (run_query(c, hostile[i].query, &error))
      fail_msg("case %zu (%s) was accepted", i, hostile[i].ret);
    assert_malformed(error);
  }
  g_autoptr(GError) error = NULL;
  assert_true(run_query(c, Q_STATUS, &error));
  assert_true(tandem_qmp_client_is_connected(c));
  g_object_unref(c);
  fake_finish(f);
  g_free(script);
}

/* A "return" array of @n copies of @element. */
static char *repeat_reply(const char *element, guint n) {
  GString *s = g_string_new("{\"return\": [");
  for (guint i = 0; i < n; i++)
    g_string_append_printf(s, "%s%s", i ? ", " : "", element);
  g_string_append(s, "], \"id\": %lld}");
  return g_string_free(s, FALSE);
}

/* Lists are taken up to 256 entries and refused beyond, however long. */
static void test_list_limits(void **state) {
  (void)state;
  g_autofree char *disks_256 = repeat_reply(DISK(GOOD_INSERTED), 256);
  g_autofree char *disks_257 = repeat_reply(DISK(GOOD_INSERTED), 257);
  g_autofree char *numbers = repeat_reply("0", 200000);
  g_autofree char *jobs = repeat_reply(
      "{\"id\": \"j\", \"type\": \"mirror\", \"status\": \"running\"}", 1000);
  const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"query-block\"}", disks_256, 0},
      {EXPECT, "{\"execute\": \"query-block\"}", disks_257, 0},
      {EXPECT, "{\"execute\": \"query-block\"}", numbers, 0},
      {EXPECT, "{\"execute\": \"query-jobs\"}", jobs, 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  g_autoptr(GPtrArray) all = query_block(c, &error);
  assert_non_null(all);
  assert_int_equal(all->len, 256);
  assert_null(query_block(c, &error));
  assert_malformed(error);
  assert_non_null(strstr(error->message, "257"));
  g_clear_error(&error);
  assert_null(query_block(c, &error));
  assert_malformed(error);
  g_clear_error(&error);
  assert_null(query_jobs(c, &error));
  assert_malformed(error);
  g_object_unref(c);
  fake_finish(f);
}

/* --- Cancellation and lost connections ---------------------------------- */

static void test_cancel_and_disconnect(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE, {READ, "query-block", NULL, 0},
      {READ, "query-migrate", NULL, 0}, {CLOSE, NULL, NULL, 0},
      {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GCancellable) cancel = g_cancellable_new();
  g_autoptr(GError) error = NULL;

  Wait w = {0};
  tandem_qmp_query_block_async(c, cancel, on_done, &w);
  g_cancellable_cancel(cancel);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  assert_null(tandem_qmp_query_block_finish(c, res, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error(&error);

  /* The server hangs up instead of answering. */
  assert_null(query_migrate(c, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DISCONNECTED));
  g_clear_error(&error);
  assert_false(RUN_VOID0(c, &error, stop));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DISCONNECTED));
  g_object_unref(c);
  fake_finish(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_state),
      cmocka_unit_test(test_query_block),
      cmocka_unit_test(test_qdev_to_device_id),
      cmocka_unit_test(test_snapshot_transaction),
      cmocka_unit_test(test_getfd_closefd),
      cmocka_unit_test(test_migration_setup_commands),
      cmocka_unit_test(test_capability_names),
      cmocka_unit_test(test_query_migrate),
      cmocka_unit_test(test_migration_status_names),
      cmocka_unit_test(test_migration_event),
      cmocka_unit_test(test_snapshot_save_job),
      cmocka_unit_test(test_block_stream_and_nodes),
      cmocka_unit_test(test_hostile_replies),
      cmocka_unit_test(test_list_limits),
      cmocka_unit_test(test_cancel_and_disconnect),
  };
  return cmocka_run_group_tests_name("qmp-commands", tests, NULL, NULL);
}
