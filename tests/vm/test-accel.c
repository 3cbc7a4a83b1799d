/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The accelerator choice on this machine and its overrides. /dev/kvm is
 * present here but a KVM guest hangs: "auto" must end up with TCG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "tandem-accel-probe.h"
#include "tandem-vmm-error.h"
#include "vm-test-util.h"

typedef struct {
  gboolean done, booted;
  TandemAccelVerdict *verdict;
  GError *error;
} Result;

static void on_choice(GObject *s, GAsyncResult *r, gpointer d) {
  Result *res = d;
  res->verdict = tandem_accel_choose_finish(r, &res->error);
  res->done = TRUE;
}

static void on_probe(GObject *s, GAsyncResult *r, gpointer d) {
  Result *res = d;
  res->booted = tandem_accel_probe_finish(r, NULL, &res->error);
  res->done = TRUE;
}

static char *kernel(void) {
  return g_build_filename(vm_test_guest_dir(), "vmlinuz", NULL);
}

static void choose(TandemAccel configured, const char *device, Result *r) {
  g_autofree char *k = kernel();
  memset(r, 0, sizeof(*r));
  tandem_accel_choose_async(configured, "qemu-system-x86_64", k, device, NULL,
                            on_choice, r);
  assert_true(tandem_test_wait(&r->done, 30));
}

static void result_clear(Result *r) {
  g_clear_pointer(&r->verdict, tandem_accel_verdict_free);
  g_clear_error(&r->error);
}

static void test_environment_overrides(void **state) {
  (void)state;
  Result r;
  g_setenv("TANDEM_ACCEL", "kvm", TRUE);
  choose(TANDEM_ACCEL_TCG, "/dev/kvm", &r);
  assert_int_equal(r.verdict->accel, TANDEM_ACCEL_KVM);
  assert_non_null(strstr(r.verdict->reason, "TANDEM_ACCEL"));
  result_clear(&r);
  g_setenv("TANDEM_ACCEL", "TCG", TRUE);
  choose(TANDEM_ACCEL_KVM, "/dev/kvm", &r);
  assert_int_equal(r.verdict->accel, TANDEM_ACCEL_TCG);
  result_clear(&r);
  g_setenv("TANDEM_ACCEL", "hvf", TRUE);
  choose(TANDEM_ACCEL_AUTO, "/dev/kvm", &r);
  assert_true(g_error_matches(r.error, TANDEM_VMM_ERROR,
                              TANDEM_VMM_ERROR_ACCEL));
  result_clear(&r);
  g_unsetenv("TANDEM_ACCEL");
}

static void test_config_overrides(void **state) {
  (void)state;
  Result r;
  choose(TANDEM_ACCEL_TCG, "/dev/kvm", &r);
  assert_int_equal(r.verdict->accel, TANDEM_ACCEL_TCG);
  assert_non_null(strstr(r.verdict->reason, "configuration"));
  result_clear(&r);
  choose(TANDEM_ACCEL_KVM, "/dev/kvm", &r); /* the user insisted */
  assert_int_equal(r.verdict->accel, TANDEM_ACCEL_KVM);
  result_clear(&r);
}

static void test_no_kvm_device(void **state) {
  (void)state;
  Result r;
  choose(TANDEM_ACCEL_AUTO, "/nonexistent/kvm", &r);
  assert_int_equal(r.verdict->accel, TANDEM_ACCEL_TCG);
  assert_non_null(strstr(r.verdict->reason, "not usable"));
  result_clear(&r);
}

/* The probe's own machinery: a kernel that boots is recognised. */
static void test_probe_sees_a_booting_kernel(void **state) {
  (void)state;
  g_autofree char *k = kernel();
  Result r = {0};
  gint64 t0 = g_get_monotonic_time();
  tandem_accel_probe_async("qemu-system-x86_64", TANDEM_ACCEL_TCG, k, 20000,
                           NULL, on_probe, &r);
  assert_true(tandem_test_wait(&r.done, 30));
  assert_null(r.error);
  assert_true(r.booted);
  print_message("# TCG probe boot to first kernel line: %.2f s\n",
                (double)(g_get_monotonic_time() - t0) / 1e6);
}

/* On these machines: /dev/kvm opens, a KVM guest hangs, so TCG — within
 * the probe's bound — and the verdict is cached for the next start. */
static void test_auto_picks_tcg_here_and_caches(void **state) {
  (void)state;
  g_autofree char *cache = tandem_accel_cache_path();
  g_unlink(cache);
  if (!g_file_test("/dev/kvm", G_FILE_TEST_EXISTS))
    print_message("# no /dev/kvm on this machine: the probe is not needed\n");
  Result r;
  gint64 t0 = g_get_monotonic_time();
  choose(TANDEM_ACCEL_AUTO, "/dev/kvm", &r);
  double s = (double)(g_get_monotonic_time() - t0) / 1e6;
  print_message("# auto: %s in %.2f s (%s)\n",
                tandem_accel_to_string(r.verdict->accel), s, r.verdict->reason);
  assert_int_equal(r.verdict->accel, TANDEM_ACCEL_TCG);
  assert_false(r.verdict->from_cache);
  assert_true(s < TANDEM_ACCEL_PROBE_TIMEOUT_MS / 1000.0 + 3);
  result_clear(&r);

  if (g_file_test(cache, G_FILE_TEST_EXISTS)) {
    t0 = g_get_monotonic_time();
    choose(TANDEM_ACCEL_AUTO, "/dev/kvm", &r);
    assert_int_equal(r.verdict->accel, TANDEM_ACCEL_TCG);
    assert_true(r.verdict->from_cache);
    assert_true(g_get_monotonic_time() - t0 < G_USEC_PER_SEC / 2);
    result_clear(&r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_environment_overrides),
      cmocka_unit_test(test_config_overrides),
      cmocka_unit_test(test_no_kvm_device),
      cmocka_unit_test(test_probe_sees_a_booting_kernel),
      cmocka_unit_test(test_auto_picks_tcg_here_and_caches),
  };
  g_unsetenv("TANDEM_ACCEL");
  return cmocka_run_group_tests_name("accel", tests, NULL, NULL);
}
