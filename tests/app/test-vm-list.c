/* The list of configured VMs the shell shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tandem-vm-list.h"

static char *make_dir(void) {
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("tandem-vms-XXXXXX", &error);
  assert_non_null(dir);
  return dir;
}

static void touch(const char *dir, const char *name) {
  g_autofree char *path = g_build_filename(dir, name, NULL);
  assert_true(g_file_set_contents(path, "", 0, NULL));
}

static void remove_dir(const char *dir) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *e; d && (e = g_dir_read_name(d));) {
    g_autofree char *p = g_build_filename(dir, e, NULL);
    g_remove(p);
  }
  g_rmdir(dir);
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
  touch(dir, "zeta.conf");
  touch(dir, "alpha.conf");
  touch(dir, "notes.txt");     /* not a config */
  touch(dir, "-bad.conf");     /* not a valid name */
  touch(dir, "alpha.conf~");   /* editor backup */
  g_auto(GStrv) names = tandem_vm_list_names(dir, NULL);
  assert_non_null(names);
  assert_int_equal(g_strv_length(names), 2);
  assert_string_equal(names[0], "alpha");
  assert_string_equal(names[1], "zeta");
  remove_dir(dir);
}

static void test_missing_dir_is_empty(void **state) {
  (void)state;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names =
      tandem_vm_list_names("/nonexistent/tandem/vms", &error);
  assert_non_null(names);
  assert_null(names[0]);
  assert_null(error);
}

static void test_unreadable_dir_is_an_error(void **state) {
  (void)state;
  g_autofree char *dir = make_dir();
  g_autofree char *file = g_build_filename(dir, "vms", NULL);
  touch(dir, "vms"); /* a file where the directory should be */
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = tandem_vm_list_names(file, &error);
  assert_null(names);
  assert_non_null(error);
  remove_dir(dir);
}

static void test_config_dir_follows_xdg(void **state) {
  (void)state;
  g_autofree char *dir = tandem_vm_config_dir();
  assert_true(g_str_has_prefix(dir, g_get_user_config_dir()));
  assert_true(g_str_has_suffix(dir, "/tandem/vms"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_lists_sorted_valid_configs),
      cmocka_unit_test(test_missing_dir_is_empty),
      cmocka_unit_test(test_unreadable_dir_is_an_error),
      cmocka_unit_test(test_config_dir_follows_xdg),
  };
  return cmocka_run_group_tests_name("vm-list", tests, NULL, NULL);
}
