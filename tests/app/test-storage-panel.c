/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The window's Storage page on a real X display (run under
 * tests/with-session, whose XDG directories are private), driven through
 * its widgets' accessible names as a user (or a screen reader) finds
 * them: a stopped VM lists nothing and cannot attach; a malformed address
 * or name is pointed out as it is typed; the manager's refusal shows
 * inline; the page sits in the window's guest panel and follows its
 * guest.
 *
 * With the test guest built (build/test-guest, TANDEM_TEST_GUEST) and
 * qemu-nbd installed, it also boots the guest under TCG and attaches a
 * blank 16 MiB export on a UNIX socket: a row, attached, not mounted (the
 * test guest has no agent), then Detach removes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tandem-guest-panel.h"
#include "tandem-storage-panel.h"
#include "tandem-window.h"
#include "test-wait.h"
#include "vm-test-util.h"

typedef struct {
  char *config_dir;
  TandemVmManager *vms;
  TandemDiskManager *disks;
  GtkWidget *window;
  TandemStoragePanel *panel;
  char *tmp;          /* the export's image and socket */
  GSubprocess *nbd;   /* qemu-nbd serving it */
} Fixture;

static const char *test_guest(void) {
  const char *env = g_getenv("TANDEM_TEST_GUEST");
  const char *src = g_getenv("TANDEM_SOURCE_ROOT");
  static char *dir;

  if (!dir)
    dir = env && *env ? g_strdup(env)
                      : g_build_filename(src ? src : ".", "build",
                                         "test-guest", NULL);
  return dir;
}

/* The VM "demo" (stopped): the test guest, one hot-plug port. */
static int setup(void **state) {
  Fixture *f = g_new0(Fixture, 1);
  g_autofree char *conf = NULL;
  g_autofree char *text = g_strdup_printf(
      "[VM]\nMemory=256M\nCPUs=1\nAccelerator=tcg\nDisplay=none\n"
      "HotplugPorts=1\n"
      "[Boot]\nKernel=%s/vmlinuz\nInitrd=%s/initramfs.img\n"
      "CommandLine=console=ttyS0 quiet\n",
      test_guest(), test_guest());

  f->config_dir = g_dir_make_tmp("tandem-storage-panel-XXXXXX", NULL);
  conf = g_build_filename(f->config_dir, "demo.conf", NULL);
  assert_true(g_file_set_contents(conf, text, -1, NULL));
  f->vms = tandem_vm_manager_new(f->config_dir);
  f->disks = tandem_disk_manager_new(f->vms, NULL, NULL);
  f->panel =
      TANDEM_STORAGE_PANEL(tandem_storage_panel_new(f->disks, f->vms));
  f->window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
  gtk_window_set_default_size(GTK_WINDOW(f->window), 640, 400);
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
  TandemVm *vm = tandem_vm_manager_lookup(f->vms, "demo");

  if (vm && tandem_vm_get_state(vm) != TANDEM_VM_STOPPED &&
      tandem_vm_get_state(vm) != TANDEM_VM_CRASHED)
    vm_test_stop(vm, TRUE, NULL);
  if (f->nbd) {
    g_subprocess_force_exit(f->nbd);
    g_subprocess_wait(f->nbd, NULL, NULL);
    g_clear_object(&f->nbd);
  }
  if (f->tmp) {
    remove_tree(f->tmp);
    g_free(f->tmp);
  }
  gtk_widget_destroy(f->window);
  g_object_unref(f->disks);
  g_object_unref(f->vms);
  remove_tree(f->config_dir);
  remove_tree(data);
  g_free(f->config_dir);
  g_free(f);
  return 0;
}

/* --- Finding widgets as a user would --------------------------------------- */

static GtkWidget *find_named(GtkWidget *widget, const char *name) {
  g_autoptr(GList) children = NULL;

  if (g_strcmp0(atk_object_get_name(gtk_widget_get_accessible(widget)),
                name) == 0)
    return widget;
  if (!GTK_IS_CONTAINER(widget))
    return NULL;
  children = gtk_container_get_children(GTK_CONTAINER(widget));
  for (GList *l = children; l; l = l->next) {
    GtkWidget *found = find_named(l->data, name);
    if (found)
      return found;
  }
  return NULL;
}

static GtkWidget *widget_named(Fixture *f, const char *name) {
  GtkWidget *w = find_named(GTK_WIDGET(f->panel), name);

  if (!w)
    fail_msg("no widget named “%s”", name);
  return w;
}

static void type_into(Fixture *f, const char *name, const char *text) {
  gtk_entry_set_text(GTK_ENTRY(widget_named(f, name)), text);
}

static void click(Fixture *f, const char *name) {
  gtk_button_clicked(GTK_BUTTON(widget_named(f, name)));
}

static gboolean sensitive(Fixture *f, const char *name) {
  return gtk_widget_is_sensitive(widget_named(f, name));
}

static const char *status(Fixture *f) {
  GtkWidget *label = widget_named(f, "Storage status");
  return gtk_widget_get_visible(gtk_widget_get_parent(label))
             ? gtk_label_get_text(GTK_LABEL(label))
             : "";
}

static gboolean on_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main loop until the status line has @text. */
static gboolean wait_status(Fixture *f, const char *text, double seconds) {
  gboolean expired = FALSE;
  guint id = g_timeout_add((guint)(seconds * 1000), on_deadline, &expired);

  while (!strstr(status(f), text) && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return strstr(status(f), text) != NULL;
}

static void iterate(void) {
  while (g_main_context_iteration(NULL, FALSE))
    ;
}

static guint n_rows(Fixture *f) {
  g_auto(GStrv) names = tandem_storage_panel_get_names(f->panel);
  return g_strv_length(names);
}

/* --- Without a VM running ------------------------------------------------------ */

static void test_stopped_vm_lists_nothing(void **state) {
  Fixture *f = *state;

  assert_non_null(strstr(tandem_storage_panel_get_empty_text(f->panel),
                         "No VM chosen"));
  assert_false(sensitive(f, "Disk address"));
  tandem_storage_panel_set_vm(f->panel, "demo");
  assert_int_equal(n_rows(f), 0);
  assert_non_null(strstr(tandem_storage_panel_get_empty_text(f->panel),
                         "Nothing attached"));
  assert_non_null(strstr(tandem_storage_panel_get_empty_text(f->panel),
                         "Start the VM"));
  assert_string_equal(status(f), "");
  /* A guest without a VM. */
  tandem_storage_panel_set_vm(f->panel, "nosuch");
  assert_non_null(strstr(tandem_storage_panel_get_empty_text(f->panel),
                         "without a VM"));
}

static void test_attach_needs_a_running_vm(void **state) {
  Fixture *f = *state;
  GtkWidget *attach;
  g_autofree char *tooltip = NULL;

  tandem_storage_panel_set_vm(f->panel, "demo");
  attach = widget_named(f, "Attach");
  assert_false(gtk_widget_is_sensitive(attach));
  type_into(f, "Disk address", "nbd://nas.local/photos");
  assert_false(gtk_widget_is_sensitive(attach));
  assert_false(tandem_storage_panel_can_attach(f->panel));
  tooltip = gtk_widget_get_tooltip_text(attach);
  assert_string_equal(tooltip ? tooltip : "",
                      "Start the VM to attach a disk.");
  /* The defaults: NVMe, writable. */
  assert_string_equal(
      gtk_combo_box_get_active_id(GTK_COMBO_BOX(widget_named(f, "Bus"))),
      "nvme");
  assert_false(gtk_toggle_button_get_active(
      GTK_TOGGLE_BUTTON(widget_named(f, "Read-only"))));
  /* Asked anyway (Enter, tandemctl's way): the manager's refusal is shown
   * as it says it, and nothing is listed. */
  tandem_storage_panel_attach(f->panel);
  assert_true(wait_status(f, "is not running: start it first", 10));
  assert_int_equal(n_rows(f), 0);
  assert_true(sensitive(f, "Disk address"));
}

static void test_malformed_address_is_pointed_out(void **state) {
  Fixture *f = *state;
  GtkEntry *address;

  tandem_storage_panel_set_vm(f->panel, "demo");
  address = GTK_ENTRY(widget_named(f, "Disk address"));
  assert_non_null(strstr(gtk_entry_get_placeholder_text(address),
                         "nbd://host/export"));
  assert_string_equal(tandem_storage_panel_get_address_problem(f->panel),
                      "");
  type_into(f, "Disk address", "nbd:///photos"); /* no host */
  assert_string_not_equal(
      tandem_storage_panel_get_address_problem(f->panel), "");
  assert_true(gtk_widget_get_visible(widget_named(f, "Address problem")));
  assert_non_null(
      gtk_entry_get_icon_name(address, GTK_ENTRY_ICON_SECONDARY));
  assert_false(sensitive(f, "Attach"));
  /* Attaching it anyway says what is wrong, without asking the manager. */
  tandem_storage_panel_attach(f->panel);
  assert_string_equal(status(f),
                      tandem_storage_panel_get_address_problem(f->panel));
  type_into(f, "Disk address", "nbd+unix:///disk?socket=/run/nbd.sock");
  assert_string_equal(tandem_storage_panel_get_address_problem(f->panel),
                      "");
  assert_null(gtk_entry_get_icon_name(address, GTK_ENTRY_ICON_SECONDARY));
  /* A name that cannot be one. */
  type_into(f, "Disk name", "-photos");
  assert_non_null(strstr(tandem_storage_panel_get_address_problem(f->panel),
                         "name"));
  type_into(f, "Disk name", "photos");
  assert_string_equal(tandem_storage_panel_get_address_problem(f->panel),
                      "");
}

/* In the window, beside the guest panel's other pages, for its guest. */
static void test_window_page(void **state) {
  Fixture *f = *state;
  g_autoptr(TandemGuestHub) hub = tandem_guest_hub_new(f->vms);
  TandemWindow *w = tandem_window_new_for_manager(NULL, f->vms);
  GtkWidget *panel;
  GtkWidget *stack;

  tandem_window_set_guest_hub(w, hub);
  assert_null(tandem_window_get_storage_panel(w));
  tandem_window_set_disk_manager(w, f->disks);
  panel = tandem_window_get_storage_panel(w);
  assert_non_null(panel);
  stack = gtk_widget_get_parent(panel);
  assert_true(GTK_IS_STACK(stack));
  assert_ptr_equal(gtk_stack_get_child_by_name(GTK_STACK(stack), "storage"),
                   panel);
  gtk_widget_show(GTK_WIDGET(w));
  iterate();
  /* The guest panel chose "demo", its only guest. */
  assert_string_equal(tandem_guest_panel_get_selected(TANDEM_GUEST_PANEL(
                          tandem_window_get_guest_panel(w))),
                      "demo");
  assert_non_null(strstr(
      tandem_storage_panel_get_empty_text(TANDEM_STORAGE_PANEL(panel)),
      "Nothing attached"));
  tandem_guest_panel_select(
      TANDEM_GUEST_PANEL(tandem_window_get_guest_panel(w)), "other");
  assert_non_null(strstr(
      tandem_storage_panel_get_empty_text(TANDEM_STORAGE_PANEL(panel)),
      "without a VM"));
  if (g_getenv("TANDEM_STORAGE_SCREENSHOT")) {
    /* For a look at it: the Storage page of "demo", until the window is
     * closed or TANDEM_STORAGE_SCREENSHOT seconds pass. */
    gboolean expired = FALSE;
    tandem_guest_panel_select(
        TANDEM_GUEST_PANEL(tandem_window_get_guest_panel(w)), "demo");
    gtk_stack_set_visible_child_name(GTK_STACK(stack), "storage");
    tandem_storage_panel_set_address(TANDEM_STORAGE_PANEL(panel),
                                     "nbd://nas.local:port/photos");
    g_timeout_add_seconds(atoi(g_getenv("TANDEM_STORAGE_SCREENSHOT")),
                          on_deadline, &expired);
    while (!expired)
      g_main_context_iteration(NULL, TRUE);
  }
  gtk_widget_destroy(GTK_WIDGET(w));
}

/* --- With the test guest running ------------------------------------------------ */

static gboolean can_boot(void) {
  g_autofree char *kernel = g_build_filename(test_guest(), "vmlinuz", NULL);
  g_autofree char *nbd = g_find_program_in_path("qemu-nbd");

  return nbd && g_file_test(kernel, G_FILE_TEST_EXISTS) &&
         !g_getenv("TANDEM_SKIP_VM_TESTS");
}

static gboolean wait_rows(Fixture *f, guint n, double seconds) {
  gboolean expired = FALSE;
  guint id = g_timeout_add((guint)(seconds * 1000), on_deadline, &expired);

  while (n_rows(f) != n && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return n_rows(f) == n;
}

static gboolean row_has(Fixture *f, const char *name, const char *text) {
  g_autofree char *row = tandem_storage_panel_get_row_text(f->panel, name);
  return row && strstr(row, text);
}

static gboolean wait_row_has(Fixture *f, const char *name, const char *text,
                             double seconds) {
  gboolean expired = FALSE;
  guint id = g_timeout_add((guint)(seconds * 1000), on_deadline, &expired);

  while (!row_has(f, name, text) && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return row_has(f, name, text);
}

static void test_attach_and_detach(void **state) {
  Fixture *f = *state;
  g_autofree char *image = NULL;
  g_autofree char *sock = NULL;
  g_autofree char *uri = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *row = NULL;
  TandemVm *vm = tandem_vm_manager_lookup(f->vms, "demo");
  gint64 t0;

  if (!can_boot()) {
    skip();
    return;
  }
  f->tmp = g_dir_make_tmp("tandem-storage-nbd-XXXXXX", NULL);
  image = g_build_filename(f->tmp, "blank.img", NULL);
  sock = g_build_filename(f->tmp, "blank.sock", NULL);
  {
    int fd = g_open(image, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 16 << 20), 0);
    close(fd);
  }
  f->nbd = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                            "qemu-nbd", "-t", "-k", sock, "-x", "blank",
                            "-f", "raw", image, NULL);
  if (!f->nbd)
    fail_msg("qemu-nbd: %s", error->message);
  uri = g_strdup_printf("nbd+unix:///blank?socket=%s", sock);
  for (int i = 0; i < 100 && !g_file_test(sock, G_FILE_TEST_EXISTS); i++)
    g_usleep(50000);
  assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));

  tandem_storage_panel_set_vm(f->panel, "demo");
  t0 = g_get_monotonic_time();
  vm_test_start_ready(vm);
  g_print("# booted in %.1f s\n",
          (g_get_monotonic_time() - t0) / 1e6);
  assert_non_null(strstr(tandem_storage_panel_get_empty_text(f->panel),
                         "Type the address"));

  type_into(f, "Disk address", uri);
  assert_true(sensitive(f, "Attach"));
  t0 = g_get_monotonic_time();
  click(f, "Attach");
  /* Under way: a spinner, Attach insensitive, the row attaching. */
  assert_false(sensitive(f, "Attach"));
  assert_non_null(strstr(status(f), "Attaching “blank”"));
  assert_int_equal(n_rows(f), 1);
  assert_true(row_has(f, "blank", "Attaching"));
  assert_true(wait_row_has(f, "blank", "Attached", 30));
  iterate();
  g_print("# attached in %.1f s\n", (g_get_monotonic_time() - t0) / 1e6);
  row = tandem_storage_panel_get_row_text(f->panel, "blank");
  g_print("# row: %s\n", row);
  assert_non_null(strstr(row, "NVMe"));
  assert_non_null(strstr(row, "no agent"));
  assert_string_equal(status(f), "");
  assert_string_equal(
      gtk_entry_get_text(GTK_ENTRY(widget_named(f, "Disk address"))), "");
  assert_non_null(find_named(GTK_WIDGET(f->panel), "blank"));

  /* The same name again: the manager's refusal, inline. */
  type_into(f, "Disk address", uri);
  click(f, "Attach");
  assert_true(wait_status(f, "already has a disk named", 10));
  assert_int_equal(n_rows(f), 1);

  t0 = g_get_monotonic_time();
  click(f, "Detach blank");
  assert_non_null(strstr(status(f), "Detaching “blank”"));
  assert_true(wait_rows(f, 0, 30));
  g_print("# detached in %.1f s\n", (g_get_monotonic_time() - t0) / 1e6);
  iterate();
  assert_string_equal(status(f), "");
  assert_non_null(strstr(tandem_storage_panel_get_empty_text(f->panel),
                         "Nothing attached"));

  assert_true(vm_test_stop(vm, TRUE, NULL));
  assert_false(sensitive(f, "Attach"));
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stopped_vm_lists_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_attach_needs_a_running_vm, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_malformed_address_is_pointed_out,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_window_page, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attach_and_detach, setup,
                                      teardown),
  };
  if (!gtk_init_check(&argc, &argv)) {
    fprintf(stderr, "no X display: run under tests/with-session\n");
    return 1;
  }
  return cmocka_run_group_tests_name("storage-panel", tests, NULL, NULL);
}
