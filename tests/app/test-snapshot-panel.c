/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The window's Snapshots page on a real X display (run under
 * tests/with-session, whose XDG directories are private): a VM's list as
 * the manager keeps it, newest first; Delete and a Restore that fails
 * shown; a name that cannot be one refused; Take only for a running VM.
 * No VM boots here: tests/app/test-snapshots.sh takes and restores real
 * snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <string.h>

#include "tandem-snapshot-panel.h"

#define OLDER "20261201-100000"
#define NEWER "20261202-100000"

typedef struct {
  char *config_dir;
  TandemVmManager *vms;
  TandemSnapshotManager *snapshots;
  GtkWidget *window;
  TandemSnapshotPanel *panel;
} Fixture;

static TandemSnapshotInfo *info_new(const char *id, const char *name,
                                    TandemSnapshotMethod method,
                                    gint64 created) {
  TandemSnapshotInfo *info = tandem_snapshot_info_new();

  info->id = g_strdup(id);
  info->name = g_strdup(name);
  info->created = created;
  info->method = method;
  info->method_reason = g_strdup("");
  /* Never written: restoring it fails its check, before the VM is
   * touched. */
  info->memory_file = g_strconcat(id, ".tsnap", NULL);
  info->file_bytes = 22 << 20;
  info->raw_bytes = 40 << 20;
  info->memory = 256 << 20;
  info->duration_ms = 1500;
  info->config = g_strdup("[Boot]\nKernel=/boot/vmlinuz\n");
  return info;
}

/* The VM "demo" (stopped) with two snapshots in its manifest. */
static int setup(void **state) {
  Fixture *f = g_new0(Fixture, 1);
  g_autofree char *conf = NULL;
  g_autofree char *dir = tandem_snapshot_dir("demo");
  g_autoptr(GError) error = NULL;
  g_autofree char *vm = g_strdup("demo");
  TandemSnapshotManifest manifest = {
      vm, g_ptr_array_new_with_free_func(
              (GDestroyNotify)tandem_snapshot_info_free)};

  f->config_dir = g_dir_make_tmp("tandem-snapshot-panel-XXXXXX", NULL);
  conf = g_build_filename(f->config_dir, "demo.conf", NULL);
  assert_true(g_file_set_contents(conf, "[Boot]\nKernel=/boot/vmlinuz\n", -1,
                                  NULL));
  g_ptr_array_add(manifest.snapshots,
                  info_new(OLDER, "first one",
                           TANDEM_SNAPSHOT_METHOD_BACKGROUND, 1796119200));
  g_ptr_array_add(manifest.snapshots,
                  info_new(NEWER, "", TANDEM_SNAPSHOT_METHOD_STOPPED,
                           1796205600));
  assert_int_equal(g_mkdir_with_parents(dir, 0700), 0);
  if (!tandem_snapshot_manifest_save(&manifest, dir, &error))
    fail_msg("%s", error->message);
  g_ptr_array_unref(manifest.snapshots);

  f->vms = tandem_vm_manager_new(f->config_dir);
  f->snapshots = tandem_snapshot_manager_new(f->vms);
  f->panel =
      TANDEM_SNAPSHOT_PANEL(tandem_snapshot_panel_new(f->snapshots, f->vms));
  f->window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
  gtk_container_add(GTK_CONTAINER(f->window), GTK_WIDGET(f->panel));
  gtk_widget_show(f->window);
  *state = f;
  return 0;
}

static void remove_tree(const char *path) {
  g_autoptr(GDir) d = g_dir_open(path, 0, NULL);

  for (const char *e; d && (e = g_dir_read_name(d));) {
    g_autofree char *child = g_build_filename(path, e, NULL);
    if (g_file_test(child, G_FILE_TEST_IS_DIR))
      remove_tree(child);
    else
      g_remove(child);
  }
  g_rmdir(path);
}

static int teardown(void **state) {
  Fixture *f = *state;
  g_autofree char *data = tandem_vm_data_dir("demo");

  gtk_widget_destroy(f->window);
  g_object_unref(f->snapshots);
  g_object_unref(f->vms);
  remove_tree(f->config_dir);
  remove_tree(data);
  g_free(f->config_dir);
  g_free(f);
  return 0;
}

static void assert_ids(TandemSnapshotPanel *panel, const char *const *want) {
  g_auto(GStrv) ids = tandem_snapshot_panel_get_ids(panel);
  g_autofree char *got = g_strjoinv(" ", ids);
  g_autofree char *wanted = g_strjoinv(" ", (char **)want);

  assert_string_equal(got, wanted);
}

static gboolean on_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates until the status line has @text, within @seconds. */
static gboolean wait_status(TandemSnapshotPanel *panel, const char *text,
                            double seconds) {
  gboolean expired = FALSE;
  guint id = g_timeout_add((guint)(seconds * 1000), on_deadline, &expired);

  while (!strstr(tandem_snapshot_panel_get_status(panel), text) && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return strstr(tandem_snapshot_panel_get_status(panel), text) != NULL;
}

static void test_lists_newest_first(void **state) {
  Fixture *f = *state;
  const char *none[] = {NULL};
  const char *both[] = {NEWER, OLDER, NULL};

  assert_ids(f->panel, none); /* no VM chosen yet */
  tandem_snapshot_panel_set_vm(f->panel, "demo");
  assert_ids(f->panel, both);
  assert_string_equal(tandem_snapshot_panel_get_status(f->panel), "");
  tandem_snapshot_panel_set_vm(f->panel, "nosuch"); /* a guest, no VM */
  assert_ids(f->panel, none);
}

static void test_take_needs_a_running_vm(void **state) {
  Fixture *f = *state;

  tandem_snapshot_panel_set_vm(f->panel, "demo");
  assert_false(tandem_snapshot_panel_can_take(f->panel));
}

static void test_bad_name_is_refused(void **state) {
  Fixture *f = *state;
  const char *both[] = {NEWER, OLDER, NULL};

  tandem_snapshot_panel_set_vm(f->panel, "demo");
  tandem_snapshot_panel_set_name(f->panel, "two\nlines");
  tandem_snapshot_panel_take(f->panel);
  assert_non_null(strstr(tandem_snapshot_panel_get_status(f->panel),
                         "must be a single line of at most 64 characters"));
  assert_ids(f->panel, both);
}

static void test_delete_updates_the_list(void **state) {
  Fixture *f = *state;
  const char *newer[] = {NEWER, NULL};
  g_autoptr(GPtrArray) left = NULL;

  tandem_snapshot_panel_set_vm(f->panel, "demo");
  tandem_snapshot_panel_delete(f->panel, OLDER);
  assert_ids(f->panel, newer);
  left = tandem_snapshot_manager_list(f->snapshots, "demo", NULL);
  assert_int_equal(left->len, 1);
  /* Deleting it again says why not. */
  tandem_snapshot_panel_delete(f->panel, OLDER);
  assert_non_null(strstr(tandem_snapshot_panel_get_status(f->panel),
                         "has no snapshot " OLDER));
}

/* Its memory file is missing: the check before anything is touched says
 * so, and the VM stays as it was. */
static void test_failed_restore_is_shown(void **state) {
  Fixture *f = *state;
  TandemVm *vm = tandem_vm_manager_lookup(f->vms, "demo");

  tandem_snapshot_panel_set_vm(f->panel, "demo");
  tandem_snapshot_panel_restore(f->panel, NEWER);
  assert_true(wait_status(f->panel, "was not restored", 10));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_STOPPED);
  assert_false(tandem_snapshot_manager_is_busy(f->snapshots, "demo"));
}

/* One click turns scheduled snapshots on (every hour, kept in the VM's
 * configuration file), another turns them off; the sentence says which. */
static void test_schedule_one_click(void **state) {
  Fixture *f = *state;
  g_autofree char *conf = g_build_filename(f->config_dir, "demo.conf", NULL);
  g_autofree char *text = NULL;
  TandemVm *vm = tandem_vm_manager_lookup(f->vms, "demo");

  tandem_snapshot_panel_set_vm(f->panel, "demo");
  assert_false(tandem_snapshot_panel_get_scheduled(f->panel));
  assert_non_null(strstr(tandem_snapshot_panel_get_schedule_text(f->panel),
                         "are off"));
  tandem_snapshot_panel_set_scheduled(f->panel, TRUE);
  assert_true(tandem_snapshot_panel_get_scheduled(f->panel));
  assert_int_equal(tandem_vm_get_config(vm)->snapshot_every, 3600);
  assert_int_equal(tandem_vm_get_config(vm)->snapshot_keep, 10);
  assert_true(g_file_get_contents(conf, &text, NULL, NULL));
  assert_non_null(strstr(text, "Every=1h"));
  assert_non_null(strstr(tandem_snapshot_panel_get_schedule_text(f->panel),
                         "every 1h while the VM runs, keeping the newest "
                         "10"));
  g_clear_pointer(&text, g_free);
  tandem_snapshot_panel_set_scheduled(f->panel, FALSE);
  assert_int_equal(tandem_vm_get_config(vm)->snapshot_every, 0);
  assert_true(g_file_get_contents(conf, &text, NULL, NULL));
  assert_null(strstr(text, "Every=1h"));
  assert_non_null(strstr(tandem_snapshot_panel_get_schedule_text(f->panel),
                         "are off"));
  /* No VM chosen: nothing to switch. */
  tandem_snapshot_panel_set_vm(f->panel, NULL);
  assert_false(gtk_widget_get_sensitive(
      GTK_WIDGET(g_object_get_data(G_OBJECT(f->panel), "schedule-switch"))));
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lists_newest_first, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_take_needs_a_running_vm, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bad_name_is_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_delete_updates_the_list, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_schedule_one_click, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_failed_restore_is_shown, setup,
                                      teardown),
  };
  if (!gtk_init_check(&argc, &argv)) {
    fprintf(stderr, "no X display: run under tests/with-session\n");
    return 1;
  }
  return cmocka_run_group_tests_name("snapshot-panel", tests, NULL, NULL);
}
