/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The set of VMs: what the configuration directory holds, what is wrong
 * with it, creating VMs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "tandem-vm-manager.h"

#define GOOD "[Boot]\nKernel=/boot/vmlinuz\n"

static char *make_dir(void) {
  char *dir = g_dir_make_tmp("vm-manager-XXXXXX", NULL);
  assert_non_null(dir);
  return dir;
}

static void write_file(const char *dir, const char *name, const char *text) {
  g_autofree char *p = g_build_filename(dir, name, NULL);
  assert_true(g_file_set_contents(p, text, -1, NULL));
}

static void remove_tree(const char *dir) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *e; d && (e = g_dir_read_name(d));) {
    g_autofree char *p = g_build_filename(dir, e, NULL);
    g_remove(p);
  }
  g_rmdir(dir);
}

static const char *name_at(TandemVmManager *m, guint i) {
  return tandem_vm_get_name(tandem_vm_manager_get_vms(m)->pdata[i]);
}

static void test_names(void **state) {
  (void)state;
  assert_true(tandem_vm_name_is_valid("debian"));
  assert_true(tandem_vm_name_is_valid("work_vm-2"));
  assert_false(tandem_vm_name_is_valid(""));
  assert_false(tandem_vm_name_is_valid(NULL));
  assert_false(tandem_vm_name_is_valid("-rf"));
  assert_false(tandem_vm_name_is_valid("../etc"));
  assert_false(tandem_vm_name_is_valid("with space"));
  assert_false(tandem_vm_name_is_valid("ünïcode"));
  char long_name[66];
  memset(long_name, 'a', 65);
  long_name[65] = '\0';
  assert_false(tandem_vm_name_is_valid(long_name));
  long_name[64] = '\0';
  assert_true(tandem_vm_name_is_valid(long_name));
}

static void test_lists_sorted_valid_configs(void **state) {
  (void)state;
  g_autofree char *dir = make_dir();
  write_file(dir, "zeta.conf", GOOD);
  write_file(dir, "alpha.conf", GOOD);
  write_file(dir, "notes.txt", "not a config");
  write_file(dir, "-bad.conf", GOOD);     /* not a valid name: ignored */
  write_file(dir, "alpha.conf~", GOOD);   /* an editor's backup */
  write_file(dir, "broken.conf", "[VM]\nCPUs=many\n" GOOD);
  g_autoptr(TandemVmManager) m = tandem_vm_manager_new(dir);
  assert_int_equal(tandem_vm_manager_get_vms(m)->len, 2);
  assert_string_equal(name_at(m, 0), "alpha");
  assert_string_equal(name_at(m, 1), "zeta");
  assert_non_null(tandem_vm_manager_lookup(m, "zeta"));
  assert_null(tandem_vm_manager_lookup(m, "broken"));
  /* The broken file is not silently ignored. */
  const char *const *problems = tandem_vm_manager_get_problems(m);
  assert_non_null(problems[0]);
  assert_non_null(strstr(problems[0], "broken.conf: CPUs “many”"));
  assert_null(problems[1]);
  remove_tree(dir);
}

static void test_missing_dir_is_empty_and_fine(void **state) {
  (void)state;
  g_autoptr(TandemVmManager) m =
      tandem_vm_manager_new("/nonexistent/tandem/vms");
  assert_int_equal(tandem_vm_manager_get_vms(m)->len, 0);
  assert_null(tandem_vm_manager_get_problems(m)[0]);
}

static void test_unreadable_dir_is_a_problem(void **state) {
  (void)state;
  g_autofree char *dir = make_dir();
  write_file(dir, "vms", ""); /* a file where the directory should be */
  g_autofree char *vms = g_build_filename(dir, "vms", NULL);
  g_autoptr(TandemVmManager) m = tandem_vm_manager_new(vms);
  assert_int_equal(tandem_vm_manager_get_vms(m)->len, 0);
  assert_non_null(strstr(tandem_vm_manager_get_problems(m)[0],
                         "Cannot read the VM configurations"));
  remove_tree(dir);
}

static void count(gpointer manager, TandemVm *vm, gpointer data) {
  (*(int *)data)++;
}

static void test_create_and_reload(void **state) {
  (void)state;
  g_autofree char *dir = make_dir();
  g_autoptr(TandemVmManager) m = tandem_vm_manager_new(dir);
  int added = 0, removed = 0;
  g_signal_connect(m, "vm-added", G_CALLBACK(count), &added);
  g_signal_connect(m, "vm-removed", G_CALLBACK(count), &removed);

  g_autoptr(GError) error = NULL;
  TandemVmConfig *c = tandem_vm_config_new("fresh");
  c->kernel = g_strdup("/boot/vmlinuz");
  TandemVm *vm = tandem_vm_manager_create(m, c, &error);
  assert_non_null(vm);
  assert_int_equal(added, 1);
  g_autofree char *file = g_build_filename(dir, "fresh.conf", NULL);
  assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));
  g_autofree char *data_dir = tandem_vm_data_dir("fresh");
  assert_true(g_file_test(data_dir, G_FILE_TEST_IS_DIR));

  TandemVmConfig *again = tandem_vm_config_new("fresh");
  again->kernel = g_strdup("/boot/vmlinuz");
  assert_null(tandem_vm_manager_create(m, again, &error));
  assert_true(g_error_matches(error, TANDEM_VMM_ERROR,
                              TANDEM_VMM_ERROR_EXISTS));
  g_clear_error(&error);

  /* A file added by hand appears; a file removed by hand disappears. */
  write_file(dir, "byhand.conf", GOOD);
  tandem_vm_manager_reload(m);
  assert_int_equal(added, 2);
  assert_int_equal(tandem_vm_manager_get_vms(m)->len, 2);
  g_unlink(file);
  tandem_vm_manager_reload(m);
  assert_int_equal(removed, 1);
  assert_null(tandem_vm_manager_lookup(m, "fresh"));
  g_rmdir(data_dir);
  remove_tree(dir);
}

int main(void) {
  /* VM data directories go to a private place, not the user's. */
  g_autofree char *data = g_dir_make_tmp("vm-manager-data-XXXXXX", NULL);
  g_setenv("XDG_DATA_HOME", data, TRUE);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_lists_sorted_valid_configs),
      cmocka_unit_test(test_missing_dir_is_empty_and_fine),
      cmocka_unit_test(test_unreadable_dir_is_a_problem),
      cmocka_unit_test(test_create_and_reload),
  };
  int failed = cmocka_run_group_tests_name("vm-manager", tests, NULL, NULL);
  g_autofree char *tandem = g_build_filename(data, "tandem", NULL);
  g_autofree char *vms = g_build_filename(tandem, "vms", NULL);
  g_rmdir(vms);
  g_rmdir(tandem);
  g_rmdir(data);
  return failed;
}
