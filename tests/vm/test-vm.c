/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM supervisor against real QEMU under TCG, booting the tiny test
 * guest: start, QMP, events, pause/resume, graceful and forced stops, the
 * escalation from power-down to quit, crash detection, the runtime lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "tandem-qemu-argv.h"
#include "vm-test-util.h"

typedef struct {
  gboolean done;
  JsonNode *node;
  GError *error;
} Call;

static void on_call(GObject *src, GAsyncResult *res, gpointer data) {
  Call *c = data;
  c->node = tandem_qmp_client_execute_finish(TANDEM_QMP_CLIENT(src), res,
                                             &c->error);
  c->done = TRUE;
}

static void qmp_call(TandemVm *vm, const char *cmd, JsonObject *args,
                     Call *c) {
  memset(c, 0, sizeof(*c));
  tandem_qmp_client_execute_async(tandem_vm_get_qmp(vm), cmd, args, -1, 5000,
                                  NULL, on_call, c);
  assert_true(tandem_test_wait(&c->done, 10));
}

static void call_clear(Call *c) {
  g_clear_pointer(&c->node, json_node_unref);
  g_clear_error(&c->error);
}

typedef struct {
  gboolean done;
  GError *error;
} StartResult;

static void on_start_result(GObject *s, GAsyncResult *r, gpointer d) {
  StartResult *sr = d;
  tandem_vm_start_finish(TANDEM_VM(s), r, &sr->error);
  sr->done = TRUE;
}

typedef struct {
  int stops, resumes;
  gboolean paused_seen;
} Events;

static void on_event(TandemQmpClient *q, const char *name, JsonObject *data,
                     gint64 us, gpointer user) {
  Events *e = user;
  if (g_str_equal(name, "STOP"))
    e->stops++, e->paused_seen = TRUE;
  if (g_str_equal(name, "RESUME"))
    e->resumes++;
}

/* One boot for everything a running guest can show. */
static void test_run_pause_resume_and_graceful_stop(void **state) {
  (void)state;
  g_autoptr(TandemVm) vm = tandem_vm_new(vm_test_config("t-life",
                                                        TANDEM_ACCEL_TCG));
  vm_test_start_ready(vm);
  assert_int_equal(tandem_vm_get_accel(vm), TANDEM_ACCEL_TCG);
  assert_true(tandem_vm_get_pid(vm) > 0);
  TandemVmTimings t;
  tandem_vm_get_timings(vm, &t);
  assert_true(t.spawned > 0 && t.qmp_ready >= t.spawned &&
              t.running >= t.qmp_ready && t.first_console >= t.running);

  /* QMP works, and its error classes come through from real QEMU. */
  Call c;
  qmp_call(vm, "query-status", NULL, &c);
  assert_null(c.error);
  assert_string_equal(
      json_object_get_string_member(json_node_get_object(c.node), "status"),
      "running");
  call_clear(&c);
  qmp_call(vm, "no-such-command", NULL, &c);
  assert_true(g_error_matches(c.error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_COMMAND_NOT_FOUND));
  call_clear(&c);
  g_autoptr(JsonObject) bad = json_object_new();
  json_object_set_string_member(bad, "no-such-argument", "x");
  qmp_call(vm, "query-status", bad, &c);
  assert_true(g_error_matches(c.error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_GENERIC));
  call_clear(&c);

  /* The runtime lock refuses a second QEMU for the same VM. */
  g_autoptr(TandemVm) twin = tandem_vm_new(vm_test_config("t-life",
                                                          TANDEM_ACCEL_TCG));
  g_autoptr(GError) error = NULL;
  StartResult sr = {0};
  tandem_vm_start_async(twin, NULL, on_start_result, &sr);
  assert_true(tandem_test_wait(&sr.done, 10));
  assert_true(g_error_matches(sr.error, TANDEM_VMM_ERROR,
                              TANDEM_VMM_ERROR_ALREADY_RUNNING));
  assert_non_null(strstr(sr.error->message, "already running"));
  g_clear_error(&sr.error);
  assert_int_equal(tandem_vm_get_state(twin), TANDEM_VM_STOPPED);

  /* Pause and resume, seen as QMP events and as states. */
  Events e = {0};
  g_signal_connect(tandem_vm_get_qmp(vm), "event", G_CALLBACK(on_event), &e);
  assert_true(vm_test_pause(vm, &error));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_PAUSED);
  assert_true(tandem_test_wait(&e.paused_seen, 5));
  /* A paused guest prints nothing: no tick for 1.5 s. */
  assert_false(vm_test_wait_console(vm, "tick", 1.5));
  assert_true(vm_test_resume(vm, &error));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_RUNNING);
  assert_true(vm_test_wait_console(vm, "tick", 5));
  assert_int_equal(e.stops, 1);
  assert_true(e.resumes >= 1);

  /* Reset reboots the guest: it comes up and says so again. */
  assert_true(vm_test_reset(vm, &error));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_RUNNING);
  assert_true(vm_test_wait_console(vm, "TANDEM-TEST-GUEST: ready", 60));

  /* Graceful stop: the guest hears the power button and powers off. */
  assert_true(vm_test_stop(vm, FALSE, &error));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_STOPPED);
  assert_null(tandem_vm_get_crash_report(vm));
  assert_int_equal(tandem_vm_get_pid(vm), 0);

  /* Its sockets are gone; the lock is free for the next start. */
  g_autofree char *dir = g_build_filename(g_get_user_runtime_dir(), "tandem",
                                          "t-life", TANDEM_RUNTIME_QMP, NULL);
  assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
  assert_false(vm_test_stop(vm, FALSE, &error));
  assert_true(g_error_matches(error, TANDEM_VMM_ERROR,
                              TANDEM_VMM_ERROR_NOT_RUNNING));
}

/* A guest that cannot power down (paused) gets "quit" after the timeout. */
static void test_stop_escalates_to_quit(void **state) {
  (void)state;
  TandemVmConfig *config = vm_test_config("t-esc", TANDEM_ACCEL_TCG);
  config->display = TANDEM_DISPLAY_SPICE;
  g_autoptr(TandemVm) vm = tandem_vm_new(config);
  g_autoptr(GError) error = NULL;
  tandem_vm_set_timeouts(vm, 0, 500, 3000);

  /* A VM that died left its sockets behind: the next start clears them. */
  g_autofree char *rundir = g_build_filename(g_get_user_runtime_dir(),
                                             "tandem", "t-esc", NULL);
  g_autofree char *stale = g_build_filename(rundir, TANDEM_RUNTIME_QMP, NULL);
  assert_int_equal(g_mkdir_with_parents(rundir, 0700), 0);
  assert_true(g_file_set_contents(stale, "stale", -1, NULL));
  vm_test_start_ready(vm);

  /* SPICE listens on its UNIX socket, for the console view. */
  g_autofree char *spice = g_build_filename(rundir, TANDEM_RUNTIME_SPICE,
                                            NULL);
  assert_true(g_file_test(spice, G_FILE_TEST_EXISTS));
  Call c;
  qmp_call(vm, "query-spice", NULL, &c);
  assert_null(c.error);
  assert_true(json_object_get_boolean_member(json_node_get_object(c.node),
                                             "enabled"));
  call_clear(&c);
  assert_true(vm_test_pause(vm, &error));
  gint64 t0 = g_get_monotonic_time();
  assert_true(vm_test_stop(vm, FALSE, &error));
  gint64 ms = (g_get_monotonic_time() - t0) / 1000;
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_STOPPED);
  assert_true(ms >= 450 && ms < 3000); /* after the power-down timeout */

  /* And a forced stop of a running guest is quick. */
  vm_test_start_ready(vm);
  t0 = g_get_monotonic_time();
  assert_true(vm_test_stop(vm, TRUE, &error));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_STOPPED);
  assert_true((g_get_monotonic_time() - t0) / 1000 < 2000);
}

typedef struct {
  gboolean crashed;
  gint64 at;
} CrashWatch;

static void on_state(TandemVm *vm, int old, int state, gpointer data) {
  CrashWatch *w = data;
  if (state == TANDEM_VM_CRASHED) {
    w->crashed = TRUE;
    w->at = g_get_monotonic_time();
  }
}

/* kill -9: pending QMP calls fail at once, the VM is "crashed" within a
 * second, and the report says how QEMU ended. */
static void test_sigkill_is_a_crash(void **state) {
  (void)state;
  g_autoptr(TandemVm) vm = tandem_vm_new(vm_test_config("t-crash",
                                                        TANDEM_ACCEL_TCG));
  vm_test_start_ready(vm);
  CrashWatch w = {0};
  g_signal_connect(vm, "state-changed", G_CALLBACK(on_state), &w);
  Call pending = {0};
  /* A call QEMU will never answer: it is gone before it reads it. */
  tandem_qmp_client_execute_async(tandem_vm_get_qmp(vm), "query-status", NULL,
                                  -1, 60000, NULL, on_call, &pending);
  gint64 t0 = g_get_monotonic_time();
  assert_int_equal(kill(tandem_vm_get_pid(vm), SIGKILL), 0);
  assert_true(tandem_test_wait(&w.crashed, 1.0));
  assert_true(w.at - t0 < G_USEC_PER_SEC);
  assert_true(tandem_test_wait(&pending.done, 1.0));
  /* Either QEMU answered before dying or the call failed as disconnected;
   * it never hangs. */
  if (pending.error)
    assert_true(g_error_matches(pending.error, TANDEM_QMP_ERROR,
                                TANDEM_QMP_ERROR_DISCONNECTED));
  call_clear(&pending);
  const char *report = tandem_vm_get_crash_report(vm);
  assert_non_null(report);
  assert_non_null(strstr(report, "killed by signal 9"));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_CRASHED);

  /* A crashed VM starts again. */
  vm_test_start_ready(vm);
  g_autoptr(GError) error = NULL;
  assert_true(vm_test_stop(vm, TRUE, &error));
}

/* QEMU that cannot start: the error says why, in QEMU's own words. */
static void test_qemu_refusing_to_start_is_reported(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  const char *dir = vm_test_guest_dir();
  /* The initramfs is no qcow2 image: QEMU stops while opening it. */
  g_autofree char *data = g_strdup_printf(
      "[VM]\nMemory=128M\nAccelerator=tcg\nDisplay=none\n"
      "[Boot]\nImage=%s/initramfs.img\nImageFormat=qcow2\n", dir);
  TandemVmConfig *c = tandem_vm_config_parse("t-bad", data, dir, &error);
  assert_non_null(c);
  g_autoptr(TandemVm) vm = tandem_vm_new(c);
  StartResult sr = {0};
  tandem_vm_start_async(vm, NULL, on_start_result, &sr);
  assert_true(tandem_test_wait(&sr.done, 30));
  assert_true(g_error_matches(sr.error, TANDEM_VMM_ERROR,
                              TANDEM_VMM_ERROR_CRASHED));
  assert_non_null(strstr(sr.error->message, "could not start"));
  assert_non_null(strstr(sr.error->message, "qcow2"));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_CRASHED);
  assert_non_null(strstr(tandem_vm_get_crash_report(vm), "exited with status"));
  g_clear_error(&sr.error);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_pause_resume_and_graceful_stop),
      cmocka_unit_test(test_stop_escalates_to_quit),
      cmocka_unit_test(test_sigkill_is_a_crash),
      cmocka_unit_test(test_qemu_refusing_to_start_is_reported),
  };
  return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
