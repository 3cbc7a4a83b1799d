/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vm-test-util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

const char *vm_test_guest_dir(void) {
  static char *dir;
  if (!dir) {
    const char *env = g_getenv("TANDEM_TEST_GUEST");
    const char *src = g_getenv("TANDEM_SOURCE_ROOT");
    dir = env && *env ? g_strdup(env)
                      : g_build_filename(src ? src : ".", "build", "test-guest",
                                         NULL);
  }
  g_autofree char *k = g_build_filename(dir, "vmlinuz", NULL);
  if (!g_file_test(k, G_FILE_TEST_EXISTS))
    fail_msg("no test guest in %s: run tests/vm/make-test-guest.sh %s "
             "(tools/dev.sh test does)",
             dir, dir);
  return dir;
}

TandemVmConfig *vm_test_config(const char *name, TandemAccel accel) {
  const char *dir = vm_test_guest_dir();
  g_autofree char *data = g_strdup_printf(
      "[VM]\nMemory=256M\nCPUs=1\nAccelerator=%s\nDisplay=none\n"
      "[Boot]\nKernel=%s/vmlinuz\nInitrd=%s/initramfs.img\n"
      "CommandLine=console=ttyS0 quiet\n",
      tandem_accel_to_string(accel), dir, dir);
  g_autoptr(GError) error = NULL;
  TandemVmConfig *c = tandem_vm_config_parse(name, data, dir, &error);
  if (!c)
    fail_msg("test config: %s", error->message);
  return c;
}

typedef struct {
  gboolean done, ok;
  GError *error;
} Op;

static void on_op(GObject *src, GAsyncResult *res, gpointer data) {
  Op *op = data;
  GTask *task = G_TASK(res);
  if (g_task_get_source_tag(task) == tandem_vm_start_async)
    op->ok = tandem_vm_start_finish(TANDEM_VM(src), res, &op->error);
  else if (g_task_get_source_tag(task) == tandem_vm_stop_async)
    op->ok = tandem_vm_stop_finish(TANDEM_VM(src), res, &op->error);
  else
    op->ok = tandem_vm_command_finish(TANDEM_VM(src), res, &op->error);
  op->done = TRUE;
}

static gboolean finish(Op *op, double seconds, GError **error) {
  if (!tandem_test_wait(&op->done, seconds))
    fail_msg("VM operation did not finish within %.0f s", seconds);
  if (op->error)
    g_propagate_error(error, op->error);
  return op->ok;
}

typedef struct {
  const char *text;
  gboolean seen;
} Watch;

static void on_line(TandemVm *vm, const char *line, gpointer data) {
  Watch *w = data;
  if (strstr(line, w->text))
    w->seen = TRUE;
}

gboolean vm_test_wait_console(TandemVm *vm, const char *text, double seconds) {
  Watch w = {text, FALSE};
  gulong id = g_signal_connect(vm, "console-line", G_CALLBACK(on_line), &w);
  gboolean ok = tandem_test_wait(&w.seen, seconds);
  g_signal_handler_disconnect(vm, id);
  return ok;
}

void vm_test_start_ready_marker(TandemVm *vm, const char *marker,
                                double seconds) {
  Watch w = {marker, FALSE};
  gulong id = g_signal_connect(vm, "console-line", G_CALLBACK(on_line), &w);
  Op op = {0};
  g_autoptr(GError) error = NULL;
  tandem_vm_start_async(vm, NULL, on_op, &op);
  if (!finish(&op, 60, &error))
    fail_msg("start: %s", error->message);
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_RUNNING);
  if (!tandem_test_wait(&w.seen, seconds))
    fail_msg("the guest never printed “%s”", marker);
  g_signal_handler_disconnect(vm, id);
}

void vm_test_start_ready(TandemVm *vm) {
  vm_test_start_ready_marker(vm, "TANDEM-TEST-GUEST: ready", 60);
}

gboolean vm_test_stop(TandemVm *vm, gboolean force, GError **error) {
  Op op = {0};
  tandem_vm_stop_async(vm, force, NULL, on_op, &op);
  return finish(&op, 60, error);
}

gboolean vm_test_pause(TandemVm *vm, GError **error) {
  Op op = {0};
  tandem_vm_pause_async(vm, NULL, on_op, &op);
  return finish(&op, 10, error);
}

gboolean vm_test_reset(TandemVm *vm, GError **error) {
  Op op = {0};
  tandem_vm_reset_async(vm, NULL, on_op, &op);
  return finish(&op, 10, error);
}

gboolean vm_test_resume(TandemVm *vm, GError **error) {
  Op op = {0};
  tandem_vm_resume_async(vm, NULL, on_op, &op);
  return finish(&op, 10, error);
}
