/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The typed QMP commands that attach network disks (blockdev-add for NBD
 * and iSCSI, blockdev-del, device_add, device_del and its DEVICE_DELETED
 * wait) against the scripted fake QMP server: the exact JSON each sends,
 * QEMU 7.2's errors, and the event racing the reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "qmp-test-calls.h"
#include "tandem-qmp-commands.h"
#include "test-wait.h"

#define GENERIC_ERROR(desc) "{\"error\": {\"class\": \"GenericError\", " \
  "\"desc\": \"" desc "\"}, \"id\": %lld}"

static gboolean add_nbd(TandemQmpClient *c, const TandemQmpNbdBlockdev *nbd,
                        GError **error) {
  Wait w = {0};
  tandem_qmp_blockdev_add_nbd_async(c, nbd, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_blockdev_add_finish(c, res, error);
}

static void test_blockdev_add_nbd(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
               "\"nbd\", \"node-name\": \"net-home\", \"server\": {\"type\": "
               "\"unix\", \"path\": \"/run/nbd/home.sock\"}, \"export\": "
               "\"home\", \"read-only\": false, \"reconnect-delay\": 5}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
               "\"nbd\", \"node-name\": \"net-media\", \"server\": {\"type\": "
               "\"inet\", \"host\": \"nas.example\", \"port\": \"10809\"}, "
               "\"read-only\": true, \"reconnect-delay\": 0, "
               "\"open-timeout\": 3}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
               "\"nbd\", \"node-name\": \"net-x\", \"server\": {\"type\": "
               "\"inet\", \"host\": \"::1\", \"port\": \"65535\"}, "
               "\"export\": \"nope\", \"read-only\": false, "
               "\"reconnect-delay\": 2}}",
       /* QEMU 7.2's answer for an export the server does not have */
       GENERIC_ERROR("Requested export not available"), 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  const TandemQmpNbdBlockdev home = {
      .node_name = "net-home", .unix_path = "/run/nbd/home.sock",
      .host = "ignored", .port = 7, .export_name = "home",
      .reconnect_delay = 5};
  assert_true(add_nbd(c, &home, &error));
  const TandemQmpNbdBlockdev media = {
      .node_name = "net-media", .host = "nas.example", .read_only = TRUE,
      .open_timeout = 3};
  assert_true(add_nbd(c, &media, &error));
  const TandemQmpNbdBlockdev nope = {
      .node_name = "net-x", .host = "::1", .port = 65535,
      .export_name = "nope", .reconnect_delay = 2};
  assert_false(add_nbd(c, &nope, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_object_unref(c);
  fake_finish(f);
}

static gboolean add_iscsi(TandemQmpClient *c,
                          const TandemQmpIscsiBlockdev *iscsi,
                          GError **error) {
  Wait w = {0};
  tandem_qmp_blockdev_add_iscsi_async(c, iscsi, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_blockdev_add_finish(c, res, error);
}

static void test_blockdev_add_iscsi(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
               "\"iscsi\", \"node-name\": \"san0\", \"transport\": \"tcp\", "
               "\"portal\": \"192.0.2.7:3260\", \"target\": "
               "\"iqn.2004-04.com.example:disk\", \"lun\": 2, "
               "\"read-only\": true}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
               "\"iscsi\", \"node-name\": \"san1\", \"transport\": \"tcp\", "
               "\"portal\": \"[fd00::7]:3261\", \"target\": "
               "\"iqn.2004-04.com.example:t\", \"lun\": 0, "
               "\"initiator-name\": \"iqn.2024-01.org.tandem:vm\", "
               "\"read-only\": false}}",
       GENERIC_ERROR("iSCSI: Failed to connect to LUN : iscsi_service "
                     "failed with : iscsi_service_reconnect_if_loggedin. "
                     "Can not reconnect right now.\\n"), 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  const TandemQmpIscsiBlockdev ro = {
      .node_name = "san0", .host = "192.0.2.7",
      .target = "iqn.2004-04.com.example:disk", .lun = 2,
      .read_only = TRUE};
  assert_true(add_iscsi(c, &ro, &error));

  const TandemQmpIscsiBlockdev v6 = {
      .node_name = "san1", .host = "fd00::7", .port = 3261,
      .target = "iqn.2004-04.com.example:t",
      .initiator_name = "iqn.2024-01.org.tandem:vm"};
  assert_false(add_iscsi(c, &v6, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_object_unref(c);
  fake_finish(f);
}

static gboolean add_disk(TandemQmpClient *c, const TandemQmpDiskDevice *disk,
                         GError **error) {
  Wait w = {0};
  tandem_qmp_device_add_disk_async(c, disk, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_device_add_finish(c, res, error);
}

static void test_disk_devices(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
               "\"nvme\", \"id\": \"disk-net0\", \"bus\": \"tandem-hp0\", "
               "\"drive\": \"net-home\", \"serial\": \"TANDEM-0001\", "
               "\"mdts\": 9}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
               "\"virtio-blk-pci\", \"id\": \"disk-net1\", \"bus\": "
               "\"tandem-hp1\", \"drive\": \"net-media\", \"serial\": "
               "\"TANDEM-0002\"}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
               "\"virtio-blk-pci\", \"id\": \"disk-net2\", \"bus\": "
               "\"pcie.0\", \"drive\": \"net-media\"}}",
       GENERIC_ERROR("Bus 'pcie.0' does not support hotplugging"), 0},
      {EXPECT, "{\"execute\": \"blockdev-del\", \"arguments\": "
               "{\"node-name\": \"net-home\"}}",
       GENERIC_ERROR("Node net-home is in use"), 0},
      {EXPECT, "{\"execute\": \"device_del\", \"arguments\": {\"id\": "
               "\"disk-net0\"}}", OK, 0},
      {EXPECT, "{\"execute\": \"device_del\", \"arguments\": {\"id\": "
               "\"gone\"}}",
       "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device "
       "'gone' not found\"}, \"id\": %lld}", 0},
      {EXPECT, "{\"execute\": \"blockdev-del\", \"arguments\": "
               "{\"node-name\": \"net-media\"}}", OK, 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  const TandemQmpDiskDevice nvme = {TANDEM_QMP_DISK_NVME, "disk-net0",
                                    "tandem-hp0", "net-home", "TANDEM-0001",
                                    9};
  /* mdts is NVMe's alone: not sent for virtio. */
  const TandemQmpDiskDevice virtio = {TANDEM_QMP_DISK_VIRTIO, "disk-net1",
                                      "tandem-hp1", "net-media",
                                      "TANDEM-0002", 9};
  const TandemQmpDiskDevice root_bus = {TANDEM_QMP_DISK_VIRTIO, "disk-net2",
                                        "pcie.0", "net-media", NULL};
  assert_true(add_disk(c, &nvme, &error));
  assert_true(add_disk(c, &virtio, &error));
  assert_false(add_disk(c, &root_bus, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_clear_error(&error);

  assert_false(RUN_VOID(c, &error, blockdev_del, "net-home"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_clear_error(&error);
  assert_true(RUN_VOID(c, &error, device_del, "disk-net0"));
  assert_false(RUN_VOID(c, &error, device_del, "gone"));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DEVICE_NOT_FOUND));
  g_clear_error(&error);
  assert_true(RUN_VOID(c, &error, blockdev_del, "net-media"));
  g_object_unref(c);
  fake_finish(f);
}

#define DEL_NET0 "{\"execute\": \"device_del\", \"arguments\": {\"id\": " \
  "\"disk-net0\"}}"
#define DELETED(data) "{\"event\": \"DEVICE_DELETED\", \"data\": " data \
  ", \"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 1}}"
#define NET0_DELETED DELETED("{\"device\": \"disk-net0\", \"path\": " \
  "\"/machine/peripheral/disk-net0\"}")

/* tandem_qmp_device_del_wait on @id; its error goes to @error. With
 * @cancel_after_ms, @cancellable is cancelled that long after the call
 * (which must not have completed by then). */
static gboolean del_wait_id(TandemQmpClient *c, const char *id,
                            guint timeout_ms, GCancellable *cancellable,
                            guint cancel_after_ms, GError **error) {
  Wait w = {0};
  tandem_qmp_device_del_wait_async(c, id, timeout_ms, cancellable, on_done,
                                   &w);
  if (cancellable) {
    gboolean never = FALSE;
    if (cancel_after_ms)
      tandem_test_wait(&never, cancel_after_ms / 1000.0);
    assert_false(w.done);
    g_cancellable_cancel(cancellable);
  }
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_device_del_wait_finish(c, res, error);
}

static gboolean del_wait(TandemQmpClient *c, guint timeout_ms,
                         GError **error) {
  return del_wait_id(c, "disk-net0", timeout_ms, NULL, 0, error);
}

static void test_device_del_wait(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      /* 1: the event after the reply, behind others that do not count. */
      {EXPECT, DEL_NET0, OK, 0},
      {SEND, NULL, DELETED("{\"path\": \"/machine/peripheral/disk-net0/"
                           "virtio-backend\"}"), 0},
      {SEND, NULL, DELETED("{\"device\": \"disk-net1\", \"path\": "
                           "\"/machine/peripheral/disk-net1\"}"), 0},
      {SEND, NULL, DELETED("{\"device\": 7, \"path\": \"x\"}"), 0},
      {SEND, NULL, "{\"event\": \"DEVICE_DELETED\"}", 0},
      {SEND, NULL, NET0_DELETED, 0},
      /* 2: the event before the reply. */
      {READ, "device_del", NULL, 0},
      {SEND, NULL, NET0_DELETED, 0},
      {SEND_ID, NULL, OK, 0},
      /* 3: an error, even with the event before it. */
      {READ, "device_del", NULL, 0},
      {SEND, NULL, NET0_DELETED, 0},
      {SEND_ID, NULL, "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                      "\"Device disk-net0 is already in the process of "
                      "unplug\"}, \"id\": %lld}", 1},
      /* 4: no event: timed out; the event that comes late is ignored. */
      {EXPECT, DEL_NET0, OK, 0},
      {READ, "query-status", NULL, 0},
      {SEND, NULL, NET0_DELETED, 0},
      {SEND_ID, NULL, "{\"return\": {\"status\": \"running\", \"running\": "
                      "true}, \"id\": %lld}", 2},
      /* 5: no reply and no event: timed out too. */
      {READ, "device_del", NULL, 0},
      /* 6: an unknown device. */
      {EXPECT, "{\"execute\": \"device_del\", \"arguments\": {\"id\": "
               "\"gone\"}}",
       "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device "
       "'gone' not found\"}, \"id\": %lld}", 0},
      /* 7: replied, then the connection ends. */
      {EXPECT, DEL_NET0, OK, 0},
      {CLOSE, NULL, NULL, 0},
      {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  assert_true(del_wait(c, 2000, &error));
  assert_null(error);
  assert_true(del_wait(c, 2000, &error));
  assert_null(error);
  assert_false(del_wait(c, 2000, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  g_clear_error(&error);

  gint64 start = g_get_monotonic_time();
  assert_false(del_wait(c, 200, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  assert_true(g_get_monotonic_time() - start >= 190 * 1000);
  g_clear_error(&error);
  g_autoptr(TandemQmpStatusInfo) status = query_status(c, &error);
  assert_non_null(status);

  assert_false(del_wait(c, 200, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  g_clear_error(&error);

  assert_false(del_wait_id(c, "gone", 2000, NULL, 0, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DEVICE_NOT_FOUND));
  g_clear_error(&error);

  assert_false(del_wait(c, 2000, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DISCONNECTED));
  g_clear_error(&error);
  /* Closed already: fails at once. */
  assert_false(del_wait(c, 2000, &error));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DISCONNECTED));
  g_object_unref(c);
  fake_finish(f);
}

/* Cancelled before the reply, and while waiting for the event. */
static void test_device_del_wait_cancel(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {READ, "device_del", NULL, 0},
      {EXPECT, DEL_NET0, OK, 0},
      /* The first call's reply, too late for anyone. */
      {SEND_ID, NULL, OK, 0},
      {EXPECT, "{\"execute\": \"query-status\"}",
       "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": "
       "%lld}", 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  g_autoptr(GCancellable) early = g_cancellable_new();
  assert_false(del_wait_id(c, "disk-net0", 2000, early, 0, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error(&error);

  /* Cancelled once the reply is in, waiting for the event. */
  g_autoptr(GCancellable) late = g_cancellable_new();
  assert_false(del_wait_id(c, "disk-net0", 2000, late, 200, &error));
  assert_true(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error(&error);

  g_autoptr(TandemQmpStatusInfo) status = query_status(c, &error);
  assert_non_null(status);
  g_object_unref(c);
  fake_finish(f);
}

static void test_device_deleted_event_is(void **state) {
  (void)state;
  static const struct {
    const char *data;
    gboolean is;
  } cases[] = {
      {"{\"device\": \"disk-net0\", \"path\": "
       "\"/machine/peripheral/disk-net0\"}", TRUE},
      {"{\"device\": \"disk-net0\"}", TRUE},
      {"{\"path\": \"/machine/peripheral/disk-net0/virtio-backend\"}", FALSE},
      {"{\"device\": \"disk-net01\"}", FALSE},
      {"{\"device\": \"disk-net\"}", FALSE},
      {"{\"device\": \"\"}", FALSE},
      {"{\"device\": null}", FALSE},
      {"{\"device\": [\"disk-net0\"]}", FALSE},
      {"{\"device\": {\"id\": \"disk-net0\"}}", FALSE},
      {"{}", FALSE},
      {NULL, FALSE},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(JsonObject) data =
        cases[i].data ? json_object_from(cases[i].data) : NULL;
    if (tandem_qmp_device_deleted_event_is(data, "disk-net0") != cases[i].is)
      fail_msg("case %zu: %s", i, cases[i].data ? cases[i].data : "NULL");
  }
}

/* --- Hostile replies ---------------------------------------------------- */



int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blockdev_add_nbd),
      cmocka_unit_test(test_blockdev_add_iscsi),
      cmocka_unit_test(test_disk_devices),
      cmocka_unit_test(test_device_del_wait),
      cmocka_unit_test(test_device_del_wait_cancel),
      cmocka_unit_test(test_device_deleted_event_is),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
