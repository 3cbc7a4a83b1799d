/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The typed QMP calls of mirrored network disks (tandem-qmp-mirror.h)
 * against the scripted fake QMP server: the exact JSON each sends, QEMU
 * 7.2's refusals, and the events' untrusted data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "qmp-test-calls.h"
#include "tandem-qmp-commands.h"
#include "tandem-qmp-mirror.h"
#include "test-wait.h"

#define GENERIC_ERROR(desc) "{\"error\": {\"class\": \"GenericError\", " \
  "\"desc\": \"" desc "\"}, \"id\": %lld}"

static gboolean add_quorum(TandemQmpClient *c, const char *node,
                           const char *const *children, gboolean ro,
                           GError **error) {
  Wait w = {0};
  tandem_qmp_blockdev_add_quorum_async(c, node, children, ro, NULL, on_done,
                                       &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_blockdev_add_finish(c, res, error);
}

static void test_mirror_calls(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {EXPECT, "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": "
               "\"quorum\", \"node-name\": \"q\", \"children\": [\"q-0\", "
               "\"q-1\"], \"vote-threshold\": 1, \"read-pattern\": "
               "\"fifo\", \"read-only\": false}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"x-blockdev-change\", \"arguments\": "
               "{\"parent\": \"q\", \"child\": \"children.1\"}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"x-blockdev-change\", \"arguments\": "
               "{\"parent\": \"q\", \"child\": \"children.0\"}}",
       /* QEMU 7.2, the last child above the threshold */
       GENERIC_ERROR("The number of children cannot be lower than the vote "
                     "threshold 1"), 0},
      {EXPECT, "{\"execute\": \"blockdev-mirror\", \"arguments\": "
               "{\"job-id\": \"q-sync\", \"device\": \"q\", \"target\": "
               "\"q-1\", \"sync\": \"full\", \"copy-mode\": "
               "\"write-blocking\"}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"block-job-cancel\", \"arguments\": "
               "{\"device\": \"q-sync\"}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"x-blockdev-change\", \"arguments\": "
               "{\"parent\": \"q\", \"node\": \"q-1\"}}",
       OK, 0},
      {EXPECT, "{\"execute\": \"block-job-cancel\", \"arguments\": "
               "{\"device\": \"gone\"}}",
       "{\"error\": {\"class\": \"DeviceNotActive\", \"desc\": \"Block job "
       "'gone' not found\"}, \"id\": %lld}", 0},
      CLOSE_SCRIPT};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_to(f);
  g_autoptr(GError) error = NULL;

  const char *const children[] = {"q-0", "q-1", NULL};
  assert_true(add_quorum(c, "q", children, FALSE, &error));
  assert_true(RUN_VOID(c, &error, blockdev_change, "q", "children.1", NULL));
  assert_false(RUN_VOID(c, &error, blockdev_change, "q", "children.0", NULL));
  assert_true(g_error_matches(error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  assert_non_null(strstr(error->message, "vote threshold"));
  g_clear_error(&error);
  assert_true(RUN_VOID(c, &error, blockdev_mirror, "q-sync", "q", "q-1"));
  assert_true(RUN_VOID(c, &error, block_job_cancel, "q-sync"));
  assert_true(RUN_VOID(c, &error, blockdev_change, "q", NULL, "q-1"));
  assert_false(RUN_VOID(c, &error, block_job_cancel, "gone"));
  assert_non_null(error);

  g_object_unref(c);
  fake_finish(f);
}

static void test_quorum_report_bad_parse(void **state) {
  (void)state;
  static const struct {
    const char *data;
    gboolean ok, io_error;
    const char *node;
  } cases[] = {
      /* QEMU 7.2 when a child fails a write */
      {"{\"type\": \"write\", \"node-name\": \"q-1\", \"sectors-count\": 8, "
       "\"sector\": 2048, \"error\": \"Input/output error\"}",
       TRUE, TRUE, "q-1"},
      /* a read that lost the vote */
      {"{\"type\": \"read\", \"node-name\": \"q-0\", \"sectors-count\": 8, "
       "\"sector\": 0}", TRUE, FALSE, "q-0"},
      {"{\"node-name\": 7, \"error\": \"x\"}", FALSE, FALSE, NULL},
      {"{\"node-name\": [\"q-1\"], \"error\": \"x\"}", FALSE, FALSE, NULL},
      {"{\"node-name\": null}", FALSE, FALSE, NULL},
      {"{\"error\": \"x\"}", FALSE, FALSE, NULL},
      {"{}", FALSE, FALSE, NULL},
      {NULL, FALSE, FALSE, NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(JsonObject) data =
        cases[i].data ? json_object_from(cases[i].data) : NULL;
    const char *node = NULL;
    gboolean io_error = FALSE;
    gboolean ok = tandem_qmp_quorum_report_bad_parse(data, &node, &io_error);
    if (ok != cases[i].ok || (ok && (io_error != cases[i].io_error ||
                                     g_strcmp0(node, cases[i].node))))
      fail_msg("case %zu: %s", i, cases[i].data ? cases[i].data : "NULL");
  }
}

static void test_block_job_event_is(void **state) {
  (void)state;
  static const struct {
    const char *data;
    gboolean is;
    const char *error;
  } cases[] = {
      {"{\"type\": \"mirror\", \"device\": \"q-sync\", \"len\": 67108864, "
       "\"offset\": 67108864, \"speed\": 0}", TRUE, NULL},
      {"{\"type\": \"mirror\", \"device\": \"q-sync\", \"len\": 1, "
       "\"offset\": 0, \"speed\": 0, \"error\": \"No space left\"}",
       TRUE, "No space left"},
      {"{\"device\": \"q-sync\", \"error\": 5}", TRUE, NULL},
      {"{\"device\": \"q-sync2\"}", FALSE, NULL},
      {"{\"device\": \"q\"}", FALSE, NULL},
      {"{\"device\": null}", FALSE, NULL},
      {"{\"device\": {\"id\": \"q-sync\"}}", FALSE, NULL},
      {"{}", FALSE, NULL},
      {NULL, FALSE, NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(JsonObject) data =
        cases[i].data ? json_object_from(cases[i].data) : NULL;
    const char *error = "unset";
    gboolean is = tandem_qmp_block_job_event_is(data, "q-sync", &error);
    if (is != cases[i].is || (is && g_strcmp0(error, cases[i].error)))
      fail_msg("case %zu: %s", i, cases[i].data ? cases[i].data : "NULL");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mirror_calls),
      cmocka_unit_test(test_quorum_report_bad_parse),
      cmocka_unit_test(test_block_job_event_is),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
