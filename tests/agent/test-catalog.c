/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The agent's application catalog against fixture application directories,
 * one rule of the Desktop Entry Specification at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tandem-agent-catalog.h"

static char *root, *user_dir, *sys_dir;

static void put(const char *dir, const char *rel, const char *text) {
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_mkdir_with_parents(parent, 0700);
  assert_true(g_file_set_contents(path, text, -1, NULL));
}

#define APP(name, extra) \
  "[Desktop Entry]\nType=Application\nName=" name "\nExec=" name "\n" extra

static int setup(void **state) {
  root = g_dir_make_tmp("catalog-XXXXXX", NULL);
  user_dir = g_build_filename(root, "user", NULL);
  sys_dir = g_build_filename(root, "sys", NULL);
  put(sys_dir, "applications/xterm.desktop",
      "[Desktop Entry]\nType=Application\nName=XTerm\nName[de]=XTerm-Terminal\n"
      "GenericName=Terminal\nGenericName[de_DE]=Terminal (DE)\n"
      "Comment=standard terminal emulator\nExec=xterm\nIcon=test-icon\n"
      "Terminal=false\nCategories=System;TerminalEmulator;\n"
      "Keywords=shell;prompt;\nKeywords[de]=Shell;Eingabe;\n"
      "StartupWMClass=XTerm\n");
  put(sys_dir, "applications/mousepad.desktop",
      APP("mousepad", "MimeType=text/plain;text/x-csrc;\nExec=mousepad %F\n"));
  put(sys_dir, "applications/override.desktop", APP("System version", ""));
  put(user_dir, "applications/override.desktop", APP("User version", ""));
  put(sys_dir, "applications/removed.desktop", APP("removed", ""));
  put(user_dir, "applications/removed.desktop",
      "[Desktop Entry]\nType=Application\nName=removed\nExec=x\nHidden=true\n");
  put(sys_dir, "applications/nodisplay.desktop", APP("nd", "NoDisplay=true\n"));
  put(sys_dir, "applications/kde-only.desktop", APP("ko", "OnlyShowIn=KDE;\n"));
  put(sys_dir, "applications/not-tandem.desktop",
      APP("nt", "NotShowIn=Tandem;\n"));
  put(sys_dir, "applications/tryexec-missing.desktop",
      APP("tm", "TryExec=/nonexistent/program\n"));
  put(sys_dir, "applications/tryexec-ok.desktop", APP("to", "TryExec=sh\n"));
  put(sys_dir, "applications/link.desktop",
      "[Desktop Entry]\nType=Link\nName=web\nURL=https://example.org\n");
  put(sys_dir, "applications/term-app.desktop", APP("htop", "Terminal=true\n"));
  put(sys_dir, "applications/kde/konsole.desktop", APP("konsole", ""));
  put(sys_dir, "applications/garbage.desktop", "this is not a key file\n[[[");
  put(sys_dir, "applications/noname.desktop",
      "[Desktop Entry]\nType=Application\nExec=x\n");
  put(sys_dir, "applications/weird id!.desktop", APP("weird", ""));
  put(sys_dir, "applications/notes.txt", "not a desktop file");
  /* A host's Tandem entry for a guest's app (loopback sharing the shell's
   * data directory): offering it back would loop. */
  put(user_dir, "applications/tandem.demo.xterm.desktop",
      APP("xterm — demo", "X-Tandem-VM=demo\nX-Tandem-App=xterm\n"));
  return 0;
}

static void remove_tree(const char *path) {
  if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    for (const char *e; d && (e = g_dir_read_name(d));) {
      g_autofree char *p = g_build_filename(path, e, NULL);
      remove_tree(p);
    }
    g_rmdir(path);
  } else {
    g_unlink(path);
  }
}

static int teardown(void **state) {
  remove_tree(root);
  g_free(root);
  g_free(user_dir);
  g_free(sys_dir);
  return 0;
}

static GPtrArray *scan(const char *locale, const char *desktop) {
  const char *dirs[] = {user_dir, sys_dir, NULL};
  const char *desktops[] = {desktop, NULL};
  return tandem_catalog_scan(dirs, locale, desktop ? desktops : NULL);
}

static TandemAppEntry *find(GPtrArray *c, const char *id) {
  for (guint i = 0; i < c->len; i++)
    if (g_str_equal(((TandemAppEntry *)c->pdata[i])->id, id))
      return c->pdata[i];
  return NULL;
}

/* find() for entries that must be there. */
static TandemAppEntry *get(GPtrArray *c, const char *id) {
  TandemAppEntry *e = find(c, id);
  if (!e) {
    fail_msg("%s is not in the catalog", id);
    g_assert_not_reached();
  }
  return e;
}

static void test_what_is_listed(void **state) {
  (void)state;
  g_autoptr(GPtrArray) c = scan(NULL, "Tandem");
  const char *want[] = {"kde-konsole", "mousepad", "override", "term-app",
                        "tryexec-ok", "xterm"};
  assert_int_equal(c->len, G_N_ELEMENTS(want));
  for (guint i = 0; i < c->len; i++) /* sorted by id */
    assert_string_equal(((TandemAppEntry *)c->pdata[i])->id, want[i]);
}

static void test_user_dir_wins(void **state) {
  (void)state;
  g_autoptr(GPtrArray) c = scan(NULL, "Tandem");
  assert_string_equal(get(c, "override")->name, "User version");
  /* Hidden=true in the user's dir removes the system's entry. */
  assert_null(find(c, "removed"));
}

static void test_show_in_follows_the_desktop(void **state) {
  (void)state;
  g_autoptr(GPtrArray) tandem = scan(NULL, "Tandem");
  assert_null(find(tandem, "kde-only"));
  assert_null(find(tandem, "not-tandem"));
  g_autoptr(GPtrArray) kde = scan(NULL, "KDE");
  assert_non_null(find(kde, "kde-only"));
  assert_non_null(find(kde, "not-tandem"));
  g_autoptr(GPtrArray) none = scan(NULL, NULL);
  assert_null(find(none, "kde-only")); /* OnlyShowIn needs a match */
  assert_non_null(find(none, "not-tandem"));
}

static void test_fields_and_locale(void **state) {
  (void)state;
  g_autoptr(GPtrArray) en = scan(NULL, "Tandem");
  TandemAppEntry *x = get(en, "xterm");
  assert_string_equal(x->name, "XTerm");
  assert_string_equal(x->generic_name, "Terminal");
  assert_string_equal(x->comment, "standard terminal emulator");
  assert_string_equal(x->startup_wm_class, "XTerm");
  assert_string_equal(x->categories[1], "TerminalEmulator");
  assert_string_equal(x->keywords[0], "shell");
  assert_false(x->terminal);
  assert_true(get(en, "term-app")->terminal);
  assert_string_equal(get(en, "mousepad")->mime_types[1], "text/x-csrc");

  /* The host's locale, with its codeset, picks the translations. */
  g_autoptr(GPtrArray) de = scan("de_DE.UTF-8", "Tandem");
  x = get(de, "xterm");
  assert_string_equal(x->name, "XTerm-Terminal");
  assert_string_equal(x->generic_name, "Terminal (DE)");
  assert_string_equal(x->keywords[1], "Eingabe");
  assert_string_equal(x->comment, "standard terminal emulator");
}

static GStrv expand(const char *exec, const char *const *args) {
  TandemAppEntry e = {.id = (char *)"app", .path = (char *)"/apps/app.desktop",
                      .name = (char *)"My App", .icon = (char *)"app-icon",
                      .exec = (char *)exec};
  g_autoptr(GError) error = NULL;
  GStrv argv = tandem_catalog_expand_exec(&e, args, &error);
  if (!argv && error)
    print_message("# %s\n", error->message);
  return argv;
}

static void assert_argv(GStrv argv, const char *const *want) {
  assert_non_null(argv);
  guint n = g_strv_length(argv);
  assert_int_equal(n, g_strv_length((GStrv)want));
  for (guint i = 0; i < n; i++)
    assert_string_equal(argv[i], want[i]);
  g_strfreev(argv);
}

static void test_field_codes(void **state) {
  (void)state;
  const char *two[] = {"/tmp/a.txt", "file:///tmp/b%20c.txt", NULL};
  assert_argv(expand("mousepad %F", two),
              (const char *[]){"mousepad", "/tmp/a.txt", "/tmp/b c.txt", NULL});
  assert_argv(expand("viewer %f", two),
              (const char *[]){"viewer", "/tmp/a.txt", NULL});
  assert_argv(expand("browser %U", two),
              (const char *[]){"browser", "/tmp/a.txt",
                               "file:///tmp/b%20c.txt", NULL});
  assert_argv(expand("browser %u", NULL), (const char *[]){"browser", NULL});
  assert_argv(expand("app %i --title=%c --from %k", NULL),
              (const char *[]){"app", "--icon", "app-icon", "--title=My App",
                               "--from", "/apps/app.desktop", NULL});
  assert_argv(expand("app \"quoted arg\" 100%% %d %N", NULL),
              (const char *[]){"app", "quoted arg", "100%", NULL});
  assert_argv(expand("app --file=%f", two),
              (const char *[]){"app", "--file=/tmp/a.txt", NULL});
}

/* What the host sends is data, never code: no shell sees it. */
static void test_no_shell(void **state) {
  (void)state;
  const char *evil[] = {"x; rm -rf ~", "$(reboot)", "`id`", NULL};
  assert_argv(expand("echo %F", evil),
              (const char *[]){"echo", "x; rm -rf ~", "$(reboot)", "`id`",
                               NULL});
  assert_null(expand("app \"unterminated", NULL));
  assert_null(expand("%f", NULL)); /* nothing left to run */
}

static void write_png(const char *dir, const char *rel, int size) {
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_mkdir_with_parents(parent, 0700);
  g_autoptr(GdkPixbuf) pb = gdk_pixbuf_new(GDK_COLORSPACE_RGB, TRUE, 8, size,
                                           size);
  gdk_pixbuf_fill(pb, 0xff8800ff);
  assert_true(gdk_pixbuf_save(pb, path, "png", NULL, NULL));
}

static int png_size(GBytes *png) {
  g_autoptr(GdkPixbufLoader) l = gdk_pixbuf_loader_new_with_type("png", NULL);
  gsize len;
  const guchar *d = g_bytes_get_data(png, &len);
  assert_true(gdk_pixbuf_loader_write(l, d, len, NULL));
  assert_true(gdk_pixbuf_loader_close(l, NULL));
  return gdk_pixbuf_get_width(gdk_pixbuf_loader_get_pixbuf(l));
}

static void test_icons(void **state) {
  (void)state;
  const char *dirs[] = {user_dir, sys_dir, NULL};
  write_png(sys_dir, "icons/hicolor/48x48/apps/test-icon.png", 48);
  write_png(sys_dir, "pixmaps/old-style.png", 32);
  put(sys_dir, "icons/hicolor/scalable/apps/vector.svg",
      "<svg xmlns='http://www.w3.org/2000/svg' width='16' height='16'>"
      "<rect width='16' height='16' fill='#08f'/></svg>");
  TandemAppEntry e = {.id = (char *)"x", .icon = (char *)"test-icon"};

  g_autoptr(GBytes) a = tandem_catalog_load_icon(&e, dirs, NULL, 32, 1 << 20);
  assert_non_null(a);
  assert_int_equal(png_size(a), 32); /* scaled to what the host asked */
  e.icon = (char *)"old-style.png";  /* legacy: an extension, in pixmaps */
  g_autoptr(GBytes) b = tandem_catalog_load_icon(&e, dirs, NULL, 64, 1 << 20);
  assert_non_null(b);
  assert_int_equal(png_size(b), 64);
  e.icon = (char *)"vector";         /* SVG rendered to PNG */
  g_autoptr(GBytes) c = tandem_catalog_load_icon(&e, dirs, NULL, 96, 1 << 20);
  assert_non_null(c);
  assert_int_equal(png_size(c), 96);
  e.icon = (char *)"no-such-icon";
  assert_null(tandem_catalog_load_icon(&e, dirs, NULL, 48, 1 << 20));
  e.icon = (char *)"test-icon"; /* over the size budget: refused */
  assert_null(tandem_catalog_load_icon(&e, dirs, NULL, 48, 16));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_what_is_listed),
      cmocka_unit_test(test_user_dir_wins),
      cmocka_unit_test(test_show_in_follows_the_desktop),
      cmocka_unit_test(test_fields_and_locale),
      cmocka_unit_test(test_field_codes),
      cmocka_unit_test(test_no_shell),
      cmocka_unit_test(test_icons),
  };
  return cmocka_run_group_tests_name("catalog", tests, setup, teardown);
}
