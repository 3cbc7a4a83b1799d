/* The main window on a real X display (run under tests/with-session). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "tandem-window.h"

static char *make_config_dir(const char *const *vms) {
  char *dir = g_dir_make_tmp("tandem-window-XXXXXX", NULL);
  assert_non_null(dir);
  for (; vms && *vms; vms++) {
    g_autofree char *p = g_strdup_printf("%s/%s.conf", dir, *vms);
    assert_true(g_file_set_contents(p, "[vm]\n", -1, NULL));
  }
  return dir;
}

static void drain_events(void) {
  while (gtk_events_pending())
    gtk_main_iteration();
}

static void test_empty_state(void **state) {
  (void)state;
  g_autofree char *dir = make_config_dir(NULL);
  TandemWindow *w = tandem_window_new(NULL, dir);
  gtk_widget_show(GTK_WIDGET(w));
  drain_events();
  assert_true(gtk_widget_get_mapped(GTK_WIDGET(w)));
  assert_true(tandem_window_is_empty_state(w));
  assert_int_equal(tandem_window_get_vm_count(w), 0);
  gtk_widget_destroy(GTK_WIDGET(w));
  g_rmdir(dir);
}

static void test_lists_vms_and_reloads(void **state) {
  (void)state;
  const char *vms[] = {"debian", "work", NULL};
  g_autofree char *dir = make_config_dir(vms);
  TandemWindow *w = tandem_window_new(NULL, dir);
  gtk_widget_show(GTK_WIDGET(w));
  drain_events();
  assert_false(tandem_window_is_empty_state(w));
  assert_int_equal(tandem_window_get_vm_count(w), 2);

  g_autofree char *third = g_build_filename(dir, "third.conf", NULL);
  assert_true(g_file_set_contents(third, "", 0, NULL));
  tandem_window_reload(w);
  assert_int_equal(tandem_window_get_vm_count(w), 3);
  gtk_widget_destroy(GTK_WIDGET(w));

  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *e; (e = g_dir_read_name(d));) {
    g_autofree char *p = g_build_filename(dir, e, NULL);
    g_remove(p);
  }
  g_rmdir(dir);
}

static void test_unreadable_config_shows_error(void **state) {
  (void)state;
  g_autofree char *dir = make_config_dir(NULL);
  g_autofree char *file = g_build_filename(dir, "vms", NULL);
  assert_true(g_file_set_contents(file, "", 0, NULL));
  TandemWindow *w = tandem_window_new(NULL, file);
  assert_false(tandem_window_is_empty_state(w));
  assert_int_equal(tandem_window_get_vm_count(w), 0);
  gtk_widget_destroy(GTK_WIDGET(w));
  g_remove(file);
  g_rmdir(dir);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_state),
      cmocka_unit_test(test_lists_vms_and_reloads),
      cmocka_unit_test(test_unreadable_config_shows_error),
  };
  if (!gtk_init_check(&argc, &argv)) {
    fprintf(stderr, "no X display: run under tests/with-session\n");
    return 1;
  }
  return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
