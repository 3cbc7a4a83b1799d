/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The main window on a real X display (run under tests/with-session). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <string.h>

#include "tandem-window.h"

static char *make_config_dir(const char *const *vms) {
  char *dir = g_dir_make_tmp("tandem-window-XXXXXX", NULL);
  assert_non_null(dir);
  for (; vms && *vms; vms++) {
    g_autofree char *p = g_strdup_printf("%s/%s.conf", dir, *vms);
    assert_true(g_file_set_contents(p, "[Boot]\nKernel=/boot/vmlinuz\n", -1,
                                    NULL));
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
  assert_true(g_file_set_contents(third, "[Boot]\nImage=/vm.img\n", -1, NULL));
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

static void remove_tree(const char *dir) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *e; d && (e = g_dir_read_name(d));) {
    g_autofree char *p = g_build_filename(dir, e, NULL);
    g_remove(p);
  }
  g_rmdir(dir);
}

/* A configuration with a mistake is not silently dropped: its message is
 * what the window shows when it is the only one. */
static void test_invalid_config_is_reported(void **state) {
  (void)state;
  g_autofree char *dir = make_config_dir(NULL);
  g_autofree char *bad = g_build_filename(dir, "broken.conf", NULL);
  assert_true(g_file_set_contents(bad, "[VM]\nMemory=lots\n[Boot]\n"
                                  "Kernel=/k\n", -1, NULL));
  TandemWindow *w = tandem_window_new(NULL, dir);
  assert_false(tandem_window_is_empty_state(w));
  assert_int_equal(tandem_window_get_vm_count(w), 0);
  gtk_widget_destroy(GTK_WIDGET(w));
  remove_tree(dir);
}

static gboolean on_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates until the row of @vm says @text, within @seconds. */
static gboolean wait_state(TandemWindow *w, const char *vm, const char *text,
                           double seconds) {
  gboolean expired = FALSE;
  guint id = g_timeout_add((guint)(seconds * 1000), on_deadline, &expired);
  while (g_strcmp0(tandem_window_get_state_text(w, vm), text) != 0 && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return g_strcmp0(tandem_window_get_state_text(w, vm), text) == 0;
}

static const char *test_guest(void) {
  const char *env = g_getenv("TANDEM_TEST_GUEST");
  static char *dir;
  if (!dir)
    dir = env && *env ? g_strdup(env)
                      : g_build_filename(g_getenv("TANDEM_SOURCE_ROOT"),
                                         "build", "test-guest", NULL);
  g_autofree char *k = g_build_filename(dir, "vmlinuz", NULL);
  if (!g_file_test(k, G_FILE_TEST_EXISTS))
    fail_msg("no test guest in %s (tools/dev.sh test builds it)", dir);
  return dir;
}

static void on_console_line(TandemVm *vm, const char *line, gpointer data) {
  if (strstr(line, "TANDEM-TEST-GUEST: ready"))
    *(gboolean *)data = TRUE;
}

/* What a user does: click Start, watch it boot, click Stop. */
static void test_start_and_stop_from_the_window(void **state) {
  (void)state;
  g_autofree char *dir = make_config_dir(NULL);
  g_autofree char *conf = g_build_filename(dir, "guest.conf", NULL);
  g_autofree char *text = g_strdup_printf(
      "[VM]\nMemory=256M\nCPUs=1\nAccelerator=tcg\nDisplay=none\n"
      "[Boot]\nKernel=%s/vmlinuz\nInitrd=%s/initramfs.img\n"
      "CommandLine=console=ttyS0 quiet\n",
      test_guest(), test_guest());
  assert_true(g_file_set_contents(conf, text, -1, NULL));
  g_autoptr(TandemVmManager) m = tandem_vm_manager_new(dir);
  TandemWindow *w = tandem_window_new_for_manager(NULL, m);
  gtk_widget_show(GTK_WIDGET(w));
  assert_string_equal(tandem_window_get_state_text(w, "guest"), "Stopped");
  gboolean ready = FALSE;
  g_signal_connect(tandem_vm_manager_lookup(m, "guest"), "console-line",
                   G_CALLBACK(on_console_line), &ready);

  assert_true(tandem_window_click_action(w, "guest"));
  assert_string_equal(tandem_window_get_state_text(w, "guest"), "Starting…");
  assert_false(tandem_window_click_action(w, "guest")); /* busy: disabled */
  assert_true(wait_state(w, "guest", "Running", 60));
  /* The guest hears the power button once it says it is ready. */
  gboolean expired = FALSE;
  guint id = g_timeout_add(60000, on_deadline, &expired);
  while (!ready && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  assert_true(ready);
  assert_true(tandem_window_click_action(w, "guest"));
  assert_true(wait_state(w, "guest", "Stopped", 60));
  assert_null(tandem_window_get_error_text(w));
  gtk_widget_destroy(GTK_WIDGET(w));
  remove_tree(dir);
}

/* A failure is shown with its reason, not swallowed. */
static void test_failed_start_shows_why(void **state) {
  (void)state;
  g_autofree char *dir = make_config_dir(NULL);
  g_autofree char *conf = g_build_filename(dir, "gone.conf", NULL);
  assert_true(g_file_set_contents(conf, "[Boot]\nKernel=/nonexistent/vmlinuz\n",
                                  -1, NULL));
  TandemWindow *w = tandem_window_new(NULL, dir);
  gtk_widget_show(GTK_WIDGET(w));
  assert_true(tandem_window_click_action(w, "gone"));
  const char *error = tandem_window_get_error_text(w);
  gboolean expired = FALSE;
  guint id = g_timeout_add(5000, on_deadline, &expired);
  while (!(error = tandem_window_get_error_text(w)) && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  assert_non_null(error);
  assert_non_null(strstr(error, "/nonexistent/vmlinuz does not exist"));
  assert_string_equal(tandem_window_get_state_text(w, "gone"), "Stopped");
  gtk_widget_destroy(GTK_WIDGET(w));
  remove_tree(dir);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_state),
      cmocka_unit_test(test_lists_vms_and_reloads),
      cmocka_unit_test(test_unreadable_config_shows_error),
      cmocka_unit_test(test_invalid_config_is_reported),
      cmocka_unit_test(test_failed_start_shows_why),
      cmocka_unit_test(test_start_and_stop_from_the_window),
  };
  if (!gtk_init_check(&argc, &argv)) {
    fprintf(stderr, "no X display: run under tests/with-session\n");
    return 1;
  }
  return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
