/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whether QEMU gets -sandbox: the probe against the real QEMU (skipped
 * without one) and against stand-ins that refuse it, check how they are
 * asked, or never answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "tandem-qemu-argv.h"
#include "tandem-sandbox-probe.h"
#include "test-wait.h"

typedef struct {
  gboolean done;
  TandemSandboxVerdict *verdict;
  GError *error;
} Result;

static char *tmpdir;

static void on_probed(GObject *s, GAsyncResult *r, gpointer d) {
  Result *res = d;
  res->verdict = tandem_sandbox_probe_finish(r, &res->error);
  res->done = TRUE;
}

static TandemSandboxVerdict *probe(const char *qemu, guint timeout_ms) {
  Result r = {0};
  tandem_sandbox_probe_async(qemu, timeout_ms, NULL, on_probed, &r);
  assert_true(tandem_test_wait(&r.done, 20));
  if (!r.verdict)
    fail_msg("the probe failed: %s", r.error->message);
  printf("# %s: %s%s\n", qemu, r.verdict->reason,
         r.verdict->from_cache ? " (cached)" : "");
  return r.verdict;
}

/* A stand-in for QEMU: a shell script. */
static char *fake_qemu(const char *name, const char *script) {
  char *path = g_build_filename(tmpdir, name, NULL);
  g_autofree char *text = g_strconcat("#!/bin/sh\n", script, NULL);
  assert_true(g_file_set_contents(path, text, -1, NULL));
  assert_int_equal(g_chmod(path, 0755), 0);
  return path;
}

static int setup(void **state) {
  (void)state;
  tandem_sandbox_probe_forget();
  return 0;
}

static void test_real_qemu(void **state) {
  (void)state;
  g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
  if (!qemu)
    skip();
  g_autoptr(TandemSandboxVerdict) v = probe("qemu-system-x86_64", 10000);
  /* Debian's QEMU is built with libseccomp. */
  assert_true(v->sandboxed);
  assert_false(v->from_cache);
  g_autoptr(TandemSandboxVerdict) again = probe("qemu-system-x86_64", 10000);
  assert_true(again->sandboxed);
  assert_true(again->from_cache);
}

/* Exactly Tandem's options, and the monitor's "quit" on stdin. */
static void test_how_qemu_is_asked(void **state) {
  (void)state;
  g_autofree char *qemu = fake_qemu(
      "qemu-asked",
      "[ \"$1\" = -sandbox ] && [ \"$2\" = '" TANDEM_QEMU_SANDBOX "' ] || "
      "{ echo \"qemu: bad arguments: $*\"; exit 2; }\n"
      "case \" $* \" in *' -monitor stdio '*) ;; *) exit 3;; esac\n"
      "read -r line && [ \"$line\" = quit ] || exit 4\n"
      "exit 0\n");
  g_autoptr(TandemSandboxVerdict) v = probe(qemu, 10000);
  assert_true(v->sandboxed);
}

/* A QEMU built without libseccomp: not sandboxed, with its reason, and the
 * answer is kept. */
static void test_qemu_without_seccomp(void **state) {
  (void)state;
  g_autofree char *qemu = fake_qemu(
      "qemu-no-seccomp",
      "echo 'qemu-system-x86_64: -sandbox support is not enabled in this "
      "QEMU binary' >&2\nexit 1\n");
  g_autoptr(TandemSandboxVerdict) v = probe(qemu, 10000);
  assert_false(v->sandboxed);
  assert_false(v->from_cache);
  assert_non_null(strstr(v->reason, "-sandbox support is not enabled"));
  assert_non_null(strstr(v->reason, "exit status 1"));
  g_autoptr(TandemSandboxVerdict) again = probe(qemu, 10000);
  assert_false(again->sandboxed);
  assert_true(again->from_cache);
}

/* A failure that is not about the sandbox: not sandboxed this time, and
 * asked again next time. */
static void test_qemu_failing_otherwise(void **state) {
  (void)state;
  g_autofree char *qemu = fake_qemu(
      "qemu-fails",
      "echo 'qemu-system-x86_64: cannot allocate memory' >&2\nexit 1\n");
  g_autoptr(TandemSandboxVerdict) v = probe(qemu, 10000);
  assert_false(v->sandboxed);
  assert_non_null(strstr(v->reason, "cannot allocate memory"));
  g_autoptr(TandemSandboxVerdict) again = probe(qemu, 10000);
  assert_false(again->from_cache);
}

/* No answer: not sandboxed this time, and asked again next time. */
static void test_qemu_that_hangs(void **state) {
  (void)state;
  g_autofree char *qemu = fake_qemu("qemu-hangs", "exec sleep 30\n");
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(TandemSandboxVerdict) v = probe(qemu, 300);
  assert_true(g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC);
  assert_false(v->sandboxed);
  assert_non_null(strstr(v->reason, "did not answer"));
  g_autoptr(TandemSandboxVerdict) again = probe(qemu, 300);
  assert_false(again->from_cache);
}

static void test_no_qemu(void **state) {
  (void)state;
  g_autoptr(TandemSandboxVerdict) v = probe("/nonexistent/qemu", 10000);
  assert_false(v->sandboxed);
  assert_non_null(strstr(v->reason, "not installed"));
}

int main(void) {
  g_autoptr(GError) error = NULL;
  tmpdir = g_dir_make_tmp("test-sandbox-probe-XXXXXX", &error);
  g_assert_no_error(error);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_real_qemu, setup),
      cmocka_unit_test_setup(test_how_qemu_is_asked, setup),
      cmocka_unit_test_setup(test_qemu_without_seccomp, setup),
      cmocka_unit_test_setup(test_qemu_failing_otherwise, setup),
      cmocka_unit_test_setup(test_qemu_that_hangs, setup),
      cmocka_unit_test_setup(test_no_qemu, setup),
  };
  int failed = cmocka_run_group_tests_name("sandbox-probe", tests, NULL, NULL);
  const char *names[] = {"qemu-asked", "qemu-no-seccomp", "qemu-fails",
                         "qemu-hangs", NULL};
  for (int i = 0; names[i]; i++) {
    g_autofree char *path = g_build_filename(tmpdir, names[i], NULL);
    g_unlink(path);
  }
  g_rmdir(tmpdir);
  g_free(tmpdir);
  return failed;
}
