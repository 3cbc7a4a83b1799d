/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console view against a real QEMU (TCG) booting the tiny test guest
 * with a VGA and SPICE on its UNIX socket, on a real X display (run under
 * tests/with-session). One boot: connect before the socket exists, see the
 * guest's screen, stop the VM, see the view say so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "tandem-console-view.h"
#include "tandem-qemu-argv.h"
#include "tandem-runtime-dir.h"
#include "vm-test-util.h"

#define VM_NAME "console"

#if defined(__SANITIZE_ADDRESS__)
/* Full stacks for LeakSanitizer: the frame-pointer unwinder stops inside
 * GLib, and tests/lsan.supp can only match GLib's dropped quark table
 * (more than 2048 quarks exist once spice-gtk is loaded) by the library
 * constructor that allocated it. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "fast_unwind_on_malloc=0";
}
#endif

static void on_flag_notify(GObject *obj, GParamSpec *pspec, gpointer data) {
  gboolean *flag = data;
  TandemConsoleView *view = TANDEM_CONSOLE_VIEW(obj);
  if (g_str_equal(pspec->name, "display-ready"))
    *flag = tandem_console_view_is_display_ready(view);
  else
    *flag = tandem_console_view_get_state(view) ==
            TANDEM_CONSOLE_DISCONNECTED;
}

/* Lets the view's dropped SPICE sessions go (they are released from an
 * idle), so the leak checkers see them freed. */
static void drain_main_loop(void) {
  while (g_main_context_iteration(NULL, FALSE))
    ;
}

/* The view as drawn right now, at its allocated size. */
static cairo_surface_t *snapshot(GtkWidget *widget) {
  /* A new guest display size queues a resize that the frame clock would
   * only lay out at its next frame: done now, so the view is drawn at its
   * size (drawing it before is a GTK critical). */
  GtkWidget *top = gtk_widget_get_toplevel(widget);
  if (GTK_IS_CONTAINER(top))
    gtk_container_check_resize(GTK_CONTAINER(top));
  int w = gtk_widget_get_allocated_width(widget);
  int h = gtk_widget_get_allocated_height(widget);
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create(s);
  gtk_widget_draw(widget, cr);
  cairo_destroy(cr);
  cairo_surface_flush(s);
  return s;
}

/* Pixels unlike the first one: 0 for a flat picture. */
static guint count_differing_pixels(cairo_surface_t *s) {
  const guint8 *data = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s);
  int w = cairo_image_surface_get_width(s);
  int h = cairo_image_surface_get_height(s);
  guint32 first = *(const guint32 *)data & 0xffffff;
  guint n = 0;
  for (int y = 0; y < h; y++) {
    const guint32 *row = (const guint32 *)(data + (gsize)y * stride);
    for (int x = 0; x < w; x++)
      n += (row[x] & 0xffffff) != first;
  }
  return n;
}

static void test_shows_guest_display_and_notices_stop(void **state) {
  (void)state;
  TandemVmConfig *config = vm_test_config(VM_NAME, TANDEM_ACCEL_TCG);
  config->display = TANDEM_DISPLAY_SPICE; /* SPICE socket and a VGA */
  g_autoptr(TandemVm) vm = tandem_vm_new(config);

  GtkWidget *window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
  gtk_window_set_default_size(GTK_WINDOW(window), 800, 600);
  TandemConsoleView *view = tandem_console_view_new();
  gtk_container_add(GTK_CONTAINER(window), GTK_WIDGET(view));
  gtk_widget_show_all(window);
  assert_int_equal(tandem_console_view_get_state(view),
                   TANDEM_CONSOLE_DISCONNECTED);

  /* Before QEMU exists: the view keeps trying until the socket answers. */
  g_autofree char *rundir = tandem_runtime_dir_path_for(VM_NAME);
  g_autofree char *socket = g_build_filename(rundir, TANDEM_RUNTIME_SPICE,
                                             NULL);
  tandem_console_view_connect(view, socket);
  assert_int_equal(tandem_console_view_get_state(view),
                   TANDEM_CONSOLE_CONNECTING);
  assert_string_equal(tandem_console_view_get_status_text(view),
                      "Connecting to the VM's display…");
  assert_false(tandem_console_view_get_display_size(view, NULL, NULL));

  gboolean ready = FALSE;
  gulong id = g_signal_connect(view, "notify::display-ready",
                               G_CALLBACK(on_flag_notify), &ready);
  gint64 t0 = g_get_monotonic_time();
  vm_test_start_ready(vm);
  /* Looked at once the guest is up, so the picture is the guest's own
   * (SeaBIOS's text on the VGA; the kernel writes to ttyS0), not QEMU's
   * "not initialized" placeholder. */
  assert_true(tandem_test_wait(&ready, 30));
  g_signal_handler_disconnect(view, id);
  g_message("# guest ready and its display shown %.1f s after start",
            (g_get_monotonic_time() - t0) / 1e6);
  assert_int_equal(tandem_console_view_get_state(view),
                   TANDEM_CONSOLE_CONNECTED);
  assert_null(tandem_console_view_get_status_text(view));
  int width = 0, height = 0;
  assert_true(tandem_console_view_get_display_size(view, &width, &height));
  assert_true(width >= 320 && height >= 200);

  cairo_surface_t *shot = snapshot(GTK_WIDGET(view));
  const char *save = g_getenv("TANDEM_CONSOLE_SNAPSHOT");
  if (save && *save)
    cairo_surface_write_to_png(shot, save);
  guint differing = count_differing_pixels(shot);
  cairo_surface_destroy(shot);
  g_message("# guest display %dx%d, %u pixels unlike the first", width,
            height, differing);
  assert_true(differing > 100);

  /* The VM goes away: the view says so and offers no stale picture. */
  gboolean disconnected = FALSE;
  id = g_signal_connect(view, "notify::state", G_CALLBACK(on_flag_notify),
                        &disconnected);
  g_autoptr(GError) error = NULL;
  assert_true(vm_test_stop(vm, TRUE, &error));
  assert_true(tandem_test_wait(&disconnected, 10));
  g_signal_handler_disconnect(view, id);
  assert_int_equal(tandem_console_view_get_disconnect_reason(view),
                   TANDEM_CONSOLE_REASON_CLOSED);
  assert_false(tandem_console_view_is_display_ready(view));
  assert_false(tandem_console_view_get_display_size(view, NULL, NULL));
  assert_string_equal(tandem_console_view_get_status_text(view),
                      "The VM's display closed. Start the VM to see it "
                      "again.");

  gtk_widget_destroy(window);
  drain_main_loop();
}

/* Nothing ever listens: a bounded wait, then "did not answer". */
static void test_gives_up_on_a_missing_socket(void **state) {
  (void)state;
  g_autofree char *dir = g_dir_make_tmp("tandem-console-XXXXXX", NULL);
  g_autofree char *socket = g_build_filename(dir, "spice.sock", NULL);
  TandemConsoleView *view = tandem_console_view_new();
  g_object_ref_sink(view);
  tandem_console_view_set_connect_timeout(view, 300);
  gboolean disconnected = FALSE;
  g_signal_connect(view, "notify::state", G_CALLBACK(on_flag_notify),
                   &disconnected);
  tandem_console_view_connect(view, socket);
  assert_true(tandem_test_wait(&disconnected, 5));
  assert_int_equal(tandem_console_view_get_disconnect_reason(view),
                   TANDEM_CONSOLE_REASON_UNREACHABLE);
  assert_non_null(tandem_console_view_get_status_text(view));
  gtk_widget_destroy(GTK_WIDGET(view));
  g_object_unref(view);
  drain_main_loop();
  g_rmdir(dir);
}

int main(int argc, char **argv) {
  gtk_init(&argc, &argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gives_up_on_a_missing_socket),
      cmocka_unit_test(test_shows_guest_display_and_notices_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
