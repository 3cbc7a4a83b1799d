/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host menu exporter: desktop entries and icons from a guest catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include "tandem-menu-exporter.h"

/* --- Fixtures ------------------------------------------------------------- */

typedef struct {
  char *home; /* a private XDG data home */
  TandemMenuExporter *exporter;
} Fixture;

static int setup(void **state) {
  Fixture *f = g_new0(Fixture, 1);
  f->home = g_dir_make_tmp("tandem-menu-XXXXXX", NULL);
  assert_non_null(f->home);
  f->exporter = tandem_menu_exporter_new(f->home, "tandemctl");
  *state = f;
  return 0;
}

static void remove_tree(const char *path) {
  g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name(d));) {
    g_autofree char *child = g_build_filename(path, name, NULL);
    if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
        !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
      remove_tree(child);
    else
      g_unlink(child);
  }
  g_rmdir(path);
}

static int teardown(void **state) {
  Fixture *f = *state;
  tandem_menu_exporter_free(f->exporter);
  remove_tree(f->home);
  g_free(f->home);
  g_free(f);
  return 0;
}

static char *entry_path(Fixture *f, const char *vm, const char *app_id) {
  g_autofree char *id = tandem_menu_desktop_id(vm, app_id);
  g_autofree char *file = g_strconcat(id, ".desktop", NULL);
  return g_build_filename(f->home, "applications", file, NULL);
}

static char *icon_path(Fixture *f, guint size, const char *vm,
                       const char *app_id) {
  g_autofree char *id = tandem_menu_desktop_id(vm, app_id);
  g_autofree char *dir = g_strdup_printf("%ux%u", size, size);
  g_autofree char *file = g_strconcat(id, ".png", NULL);
  return g_build_filename(f->home, "icons", "hicolor", dir, "apps", file,
                          NULL);
}

static GKeyFile *load_entry(Fixture *f, const char *vm, const char *app_id) {
  g_autofree char *path = entry_path(f, vm, app_id);
  GKeyFile *kf = g_key_file_new();
  g_autoptr(GError) error = NULL;
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error))
    fail_msg("%s: %s", path, error->message);
  return kf;
}

static char *entry_string(GKeyFile *kf, const char *key) {
  return g_key_file_get_string(kf, "Desktop Entry", key, NULL);
}

static void sync_ok(Fixture *f, const char *vm, const TandemMenuApp *apps,
                    guint n) {
  g_autoptr(GError) error = NULL;
  if (!tandem_menu_exporter_sync(f->exporter, vm, apps, n, &error))
    fail_msg("sync %s: %s", vm, error->message);
}

static guint count_files(const char *dir, const char *suffix) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  guint count = 0;
  for (const char *name; d && (name = g_dir_read_name(d));)
    count += g_str_has_suffix(name, suffix);
  return count;
}

static guint count_entries(Fixture *f) {
  g_autofree char *dir = g_build_filename(f->home, "applications", NULL);
  return count_files(dir, ".desktop");
}

static guint count_icons(Fixture *f) {
  g_autofree char *hicolor = g_build_filename(f->home, "icons", "hicolor",
                                              NULL);
  g_autoptr(GDir) d = g_dir_open(hicolor, 0, NULL);
  guint count = 0;
  for (const char *name; d && (name = g_dir_read_name(d));) {
    g_autofree char *apps = g_build_filename(hicolor, name, "apps", NULL);
    count += count_files(apps, ".png");
  }
  return count;
}

/* --- PNGs ----------------------------------------------------------------- */

static guint32 crc32_of(const guint8 *p, gsize len) {
  guint32 crc = 0xffffffffu;
  for (gsize i = 0; i < len; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

static void put_be32(GByteArray *a, guint32 v) {
  guint8 b[4] = {v >> 24, v >> 16, v >> 8, v};
  g_byte_array_append(a, b, 4);
}

static void put_chunk(GByteArray *png, const char *type, const guint8 *data,
                      guint32 len) {
  put_be32(png, len);
  guint start = png->len;
  g_byte_array_append(png, (const guint8 *)type, 4);
  if (len)
    g_byte_array_append(png, data, len);
  put_be32(png, crc32_of(png->data + start, len + 4));
}

/* A real RGBA PNG of @w x @h (zlib stored blocks, so no compressor), with
 * a tEXt chunk when @text is set. */
static GBytes *make_png(guint32 w, guint32 h, const char *text) {
  GByteArray *png = g_byte_array_new();
  static const guint8 sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  g_byte_array_append(png, sig, 8);
  guint8 ihdr[13] = {w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16,
                     h >> 8,  h,       8,       6, 0,       0,       0};
  put_chunk(png, "IHDR", ihdr, 13);
  if (text)
    put_chunk(png, "tEXt", (const guint8 *)text, strlen(text));

  gsize raw_len = (gsize)h * (1 + (gsize)w * 4);
  g_autofree guint8 *raw = g_malloc(raw_len);
  for (gsize i = 0; i < raw_len; i++)
    raw[i] = i % (1 + w * 4) == 0 ? 0 : (guint8)(i * 7);
  g_autoptr(GByteArray) z = g_byte_array_new();
  g_byte_array_append(z, (const guint8 *)"\x78\x01", 2);
  for (gsize off = 0; off < raw_len;) {
    guint16 n = (guint16)MIN(raw_len - off, 65535);
    guint8 head[5] = {off + n == raw_len, n & 0xff, n >> 8, ~n & 0xff,
                      (~n >> 8) & 0xff};
    g_byte_array_append(z, head, 5);
    g_byte_array_append(z, raw + off, n);
    off += n;
  }
  guint32 a = 1, b = 0;
  for (gsize i = 0; i < raw_len; i++) {
    a = (a + raw[i]) % 65521;
    b = (b + a) % 65521;
  }
  put_be32(z, b << 16 | a);
  put_chunk(png, "IDAT", z->data, z->len);
  put_chunk(png, "IEND", NULL, 0);
  return g_byte_array_free_to_bytes(png);
}

/* --- desktop-file-validate ------------------------------------------------ */

/* Every entry in the data home passes desktop-file-validate with neither
 * an error (even a "future" one, which still exits 0) nor a warning. */
static void assert_all_valid(Fixture *f) {
  static gboolean said_missing;
  g_autofree char *validator = g_find_program_in_path("desktop-file-validate");
  if (!validator) {
    if (!said_missing)
      print_message("# desktop-file-validate is not installed: entries "
                    "are not validated\n");
    said_missing = TRUE;
    return;
  }
  g_autofree char *dir = g_build_filename(f->home, "applications", NULL);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name(d));) {
    if (!g_str_has_suffix(name, ".desktop"))
      continue;
    g_autofree char *path = g_build_filename(dir, name, NULL);
    const char *argv[] = {validator, path, NULL};
    g_autofree char *out = NULL, *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
                             NULL, &out, &err, &status, &error));
    if (!g_spawn_check_wait_status(status, NULL) || strstr(out, "error") ||
        strstr(out, "warning") || *err) {
      g_autofree char *text = NULL;
      g_file_get_contents(path, &text, NULL, NULL);
      fail_msg("%s does not validate:\n%s%s\n%s", name, out, err, text);
    }
  }
}

/* Splits an Exec value the way the Desktop Entry Specification says (not
 * the shell's way), turning %% back into %. */
static GStrv split_exec(const char *exec) {
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  g_autoptr(GString) arg = NULL;
  for (const char *p = exec;; p++) {
    if (!*p || *p == ' ') {
      if (arg) {
        g_strv_builder_add(b, arg->str);
        g_string_free(g_steal_pointer(&arg), TRUE);
      }
      if (!*p)
        break;
      continue;
    }
    if (!arg)
      arg = g_string_new(NULL);
    if (*p == '"') {
      for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1] && strchr("\"`$\\", p[1]))
          p++;
        if (*p == '%' && p[1] == '%')
          p++;
        g_string_append_c(arg, *p);
      }
      assert_int_equal(*p, '"');
      continue;
    }
    if (*p == '%' && p[1] == '%')
      p++;
    g_string_append_c(arg, *p);
  }
  return g_strv_builder_end(b);
}

/* --- Writing -------------------------------------------------------------- */

static const char *const editor_categories[] = {"Utility", "TextEditor",
                                                NULL};
static const char *const editor_mime[] = {"text/plain", NULL};
static const char *const editor_keywords[] = {"text", "editor", NULL};

/* AudioVideo once, though named after what requires it. */
static const char *const player_categories[] = {"Video", "AudioVideo",
                                                "Player", "Video", NULL};

static void test_sync_writes_files(void **state) {
  Fixture *f = *state;
  g_autoptr(GBytes) png = make_png(64, 64, NULL);
  TandemMenuApp apps[] = {
      {.id = "org.xfce.mousepad",
       .name = "Mousepad",
       .generic_name = "Text Editor",
       .comment = "Simple text editor",
       .startup_wm_class = "Mousepad",
       .categories = editor_categories,
       .mime_types = editor_mime,
       .keywords = editor_keywords,
       .icon_png = png},
      {.id = "debian-xterm", .name = "XTerm", .terminal = TRUE},
      {.id = "org.example.Player", .name = "Player",
       .categories = player_categories},
  };
  sync_ok(f, "debian", apps, G_N_ELEMENTS(apps));
  assert_int_equal(count_entries(f), 3);
  assert_int_equal(count_icons(f), 1);

  g_autoptr(GKeyFile) kf = load_entry(f, "debian", "org.xfce.mousepad");
  g_autofree char *start = g_key_file_get_start_group(kf);
  assert_string_equal(start, "Desktop Entry");
  g_autofree char *type = entry_string(kf, "Type");
  g_autofree char *name = entry_string(kf, "Name");
  g_autofree char *generic = entry_string(kf, "GenericName");
  g_autofree char *comment = entry_string(kf, "Comment");
  g_autofree char *icon = entry_string(kf, "Icon");
  g_autofree char *wm_class = entry_string(kf, "StartupWMClass");
  g_autofree char *expected_class =
      tandem_menu_wm_class("debian", "org.xfce.mousepad");
  g_autofree char *vm = entry_string(kf, "X-Tandem-VM");
  g_autofree char *app = entry_string(kf, "X-Tandem-App");
  assert_string_equal(type, "Application");
  assert_string_equal(name, "Mousepad");
  assert_string_equal(generic, "Text Editor");
  assert_non_null(strstr(comment, "Simple text editor"));
  assert_non_null(strstr(comment, "debian"));
  assert_string_equal(icon, "tandem.debian.org.xfce.mousepad");
  assert_string_equal(wm_class, expected_class);
  assert_string_equal(vm, "debian");
  assert_string_equal(app, "org.xfce.mousepad");
  assert_true(g_key_file_get_boolean(kf, "Desktop Entry", "StartupNotify",
                                     NULL));
  assert_false(g_key_file_get_boolean(kf, "Desktop Entry", "Terminal", NULL));
  assert_false(g_key_file_has_key(kf, "Desktop Entry", "TryExec", NULL));
  g_auto(GStrv) categories = g_key_file_get_string_list(
      kf, "Desktop Entry", "Categories", NULL, NULL);
  g_auto(GStrv) mime = g_key_file_get_string_list(kf, "Desktop Entry",
                                                  "MimeType", NULL, NULL);
  g_auto(GStrv) keywords = g_key_file_get_string_list(kf, "Desktop Entry",
                                                      "Keywords", NULL, NULL);
  assert_true(g_strv_equal((const char *const *)categories,
                           editor_categories));
  assert_true(g_strv_equal((const char *const *)mime, editor_mime));
  assert_true(g_strv_equal((const char *const *)keywords, editor_keywords));

  /* The icon is the guest's PNG, at its size. */
  g_autofree char *ipath = icon_path(f, 64, "debian", "org.xfce.mousepad");
  g_autofree char *data = NULL;
  gsize len = 0;
  assert_true(g_file_get_contents(ipath, &data, &len, NULL));
  assert_int_equal(len, g_bytes_get_size(png));
  assert_memory_equal(data, g_bytes_get_data(png, NULL), len);

  /* No icon, no MIME types: Tandem's icon, no %U, no empty keys. */
  g_autoptr(GKeyFile) xterm = load_entry(f, "debian", "debian-xterm");
  g_autofree char *xicon = entry_string(xterm, "Icon");
  g_autofree char *xcomment = entry_string(xterm, "Comment");
  assert_string_equal(xicon, TANDEM_MENU_FALLBACK_ICON);
  assert_non_null(strstr(xcomment, "“debian”"));
  assert_false(g_key_file_has_key(xterm, "Desktop Entry", "GenericName",
                                  NULL));
  assert_false(g_key_file_has_key(xterm, "Desktop Entry", "Categories",
                                  NULL));
  assert_false(g_key_file_has_key(xterm, "Desktop Entry", "MimeType", NULL));
  assert_false(g_key_file_has_key(xterm, "Desktop Entry", "Keywords", NULL));
  assert_false(g_key_file_get_boolean(xterm, "Desktop Entry", "Terminal",
                                      NULL));

  g_autoptr(GKeyFile) player = load_entry(f, "debian", "org.example.Player");
  g_auto(GStrv) pcat = g_key_file_get_string_list(player, "Desktop Entry",
                                                  "Categories", NULL, NULL);
  const char *expected_pcat[] = {"Video", "AudioVideo", "Player", NULL};
  assert_true(g_strv_equal((const char *const *)pcat, expected_pcat));
  assert_all_valid(f);
}

static void test_exec_line(void **state) {
  Fixture *f = *state;
  TandemMenuApp apps[] = {
      {.id = "org.xfce.mousepad", .name = "Mousepad",
       .mime_types = editor_mime},
      {.id = "debian-xterm", .name = "XTerm"},
      {.id = "org.example.c++@1", .name = "Odd but valid id"},
  };
  sync_ok(f, "debian", apps, G_N_ELEMENTS(apps));
  g_autoptr(GKeyFile) kf = load_entry(f, "debian", "org.xfce.mousepad");
  g_autofree char *exec = entry_string(kf, "Exec");
  assert_string_equal(exec, "tandemctl launch debian org.xfce.mousepad %U");
  g_autoptr(GKeyFile) xterm = load_entry(f, "debian", "debian-xterm");
  g_autofree char *xexec = entry_string(xterm, "Exec");
  assert_string_equal(xexec, "tandemctl launch debian debian-xterm");
  g_autoptr(GKeyFile) odd = load_entry(f, "debian", "org.example.c++@1");
  g_autofree char *oexec = entry_string(odd, "Exec");
  assert_string_equal(oexec, "tandemctl launch debian org.example.c++@1");
  assert_all_valid(f);

  /* An absolute tandemctl with every character that needs quoting. */
  const char *tool = "/opt/my tools/50% \"q\" $HOME `x` \\ 'a';b/tandemctl";
  tandem_menu_exporter_free(f->exporter);
  f->exporter = tandem_menu_exporter_new(f->home, tool);
  sync_ok(f, "debian", apps, 1);
  g_autoptr(GKeyFile) kf2 = load_entry(f, "debian", "org.xfce.mousepad");
  g_autofree char *exec2 = entry_string(kf2, "Exec");
  g_autofree char *try_exec = entry_string(kf2, "TryExec");
  assert_string_equal(try_exec, tool);
  g_auto(GStrv) argv = split_exec(exec2);
  const char *expected[] = {tool, "launch", "debian", "org.xfce.mousepad",
                            "%U", NULL};
  if (!g_strv_equal((const char *const *)argv, expected))
    fail_msg("Exec=%s", exec2);
  assert_all_valid(f);
}

/* The guest controls every string: none of them may add a key, a group, a
 * field code or an argument, or hide what the entry is. */
static void test_hostile_text(void **state) {
  Fixture *f = *state;
  g_autoptr(GString) huge = g_string_new(NULL);
  for (int i = 0; i < 10 * 1024; i++)
    g_string_append_c(huge, "abc;%\"\\\n"[i % 8]);
  const char *names[] = {
      "Evil\nExec=rm -rf ~\n[Desktop Entry]\nName=Evil",
      "semi;colon %f %U %% \"quoted\" 'single' back\\slash",
      "ctrl\x01\x02\x1b[31m\x7f\xc2\x85 \r\n\t tabs",
      "bidi \xe2\x80\xae" "exe.txt\xe2\x81\xa6" "x\xe2\x81\xa9 \xe2\x80\xa8"
      "line",
      "bad utf8 \xff\xfe\xc0\xaf end",
      " \\s leading space",
      "\n\t\r",
      huge->str,
  };
  static const char *const hostile_categories[] = {
      "Utility;Exec=evil", "Screensaver", "X-Foo", "Audio", "Audio",
      "Game\nExec=x", "", NULL};
  static const char *const hostile_mime[] = {
      "text/plain;x", "foo/bar", "Text/Plain", "text/plain",
      "inode/directory", "x-content/unix-software", "text/%u",
      "image/png\n", "x-scheme-handler/ssh", NULL};
  static const char *const hostile_keywords[] = {
      "a;b", "back\\slash", "line\nbreak", "  ", "dup", "DUP", NULL};
  TandemMenuApp apps[G_N_ELEMENTS(names)];
  char ids[G_N_ELEMENTS(names)][16];
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    g_snprintf(ids[i], sizeof ids[i], "app%u", i);
    apps[i] = (TandemMenuApp){.id = ids[i],
                              .name = names[i],
                              .generic_name = names[(i + 1) % 8],
                              .comment = names[(i + 2) % 8],
                              .startup_wm_class = names[i],
                              .categories = hostile_categories,
                              .mime_types = hostile_mime,
                              .keywords = hostile_keywords};
  }
  sync_ok(f, "debian", apps, G_N_ELEMENTS(apps));
  assert_int_equal(count_entries(f), G_N_ELEMENTS(apps));
  assert_all_valid(f);

  static const char *const allowed_keys[] = {
      "Type", "Name", "GenericName", "Comment", "Icon", "Exec", "Terminal",
      "StartupNotify", "StartupWMClass", "Categories", "MimeType",
      "Keywords", "X-Tandem-VM", "X-Tandem-App", NULL};
  for (guint i = 0; i < G_N_ELEMENTS(apps); i++) {
    g_autoptr(GKeyFile) kf = load_entry(f, "debian", ids[i]);
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    assert_int_equal(g_strv_length(groups), 1);
    g_auto(GStrv) keys = g_key_file_get_keys(kf, "Desktop Entry", NULL, NULL);
    for (guint k = 0; keys[k]; k++)
      if (!g_strv_contains(allowed_keys, keys[k]))
        fail_msg("app%u has key %s", i, keys[k]);

    g_autofree char *name = entry_string(kf, "Name");
    g_autofree char *comment = entry_string(kf, "Comment");
    g_autofree char *exec = entry_string(kf, "Exec");
    g_autofree char *expected_exec =
        g_strdup_printf("tandemctl launch debian %s %%U", ids[i]);
    g_autofree char *wm = entry_string(kf, "StartupWMClass");
    g_autofree char *expected_wm = tandem_menu_wm_class("debian", ids[i]);
    assert_string_equal(exec, expected_exec);
    assert_string_equal(wm, expected_wm);
    assert_true(*name);
    assert_true(strlen(name) <= 256);
    assert_true(strlen(comment) <= 1024);
    const char *texts[] = {name, comment};
    for (guint t = 0; t < G_N_ELEMENTS(texts); t++) {
      const char *text = texts[t];
      assert_true(g_utf8_validate(text, -1, NULL));
      for (const char *p = text; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f) ||
            (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
            c == 0x2028)
          fail_msg("app%u keeps U+%04X in \"%s\"", i, c, text);
      }
    }

    g_auto(GStrv) categories = g_key_file_get_string_list(
        kf, "Desktop Entry", "Categories", NULL, NULL);
    const char *expected_categories[] = {"AudioVideo", "Audio", NULL};
    assert_true(g_strv_equal((const char *const *)categories,
                             expected_categories));
    g_auto(GStrv) mime = g_key_file_get_string_list(kf, "Desktop Entry",
                                                    "MimeType", NULL, NULL);
    const char *expected_mime[] = {"text/Plain", "x-scheme-handler/ssh",
                                   NULL};
    if (!g_strv_equal((const char *const *)mime, expected_mime)) {
      g_autofree char *got = g_strjoinv(";", mime);
      fail_msg("MimeType %s", got);
    }
    g_auto(GStrv) keywords = g_key_file_get_string_list(
        kf, "Desktop Entry", "Keywords", NULL, NULL);
    const char *expected_keywords[] = {"a;b", "back\\slash", "line break",
                                       "dup", NULL};
    if (!g_strv_equal((const char *const *)keywords, expected_keywords)) {
      g_autofree char *got = g_strjoinv("|", keywords);
      fail_msg("Keywords %s", got);
    }
  }

  /* What the cleaning keeps, exactly. */
  g_autoptr(GKeyFile) k0 = load_entry(f, "debian", "app0");
  g_autoptr(GKeyFile) k1 = load_entry(f, "debian", "app1");
  g_autoptr(GKeyFile) k3 = load_entry(f, "debian", "app3");
  g_autoptr(GKeyFile) k4 = load_entry(f, "debian", "app4");
  g_autoptr(GKeyFile) k5 = load_entry(f, "debian", "app5");
  g_autoptr(GKeyFile) k6 = load_entry(f, "debian", "app6");
  g_autofree char *n0 = entry_string(k0, "Name");
  g_autofree char *n1 = entry_string(k1, "Name");
  g_autofree char *n3 = entry_string(k3, "Name");
  g_autofree char *n4 = entry_string(k4, "Name");
  g_autofree char *n5 = entry_string(k5, "Name");
  g_autofree char *n6 = entry_string(k6, "Name");
  assert_string_equal(n0, "Evil Exec=rm -rf ~ [Desktop Entry] Name=Evil");
  assert_string_equal(n1, names[1]);
  assert_string_equal(n3, "bidi exe.txtx line");
  assert_string_equal(n4, "bad utf8 end");
  assert_string_equal(n5, "\\s leading space");
  assert_string_equal(n6, "app6"); /* nothing left: the id */
}

static gboolean same_inode(const char *path, const GStatBuf *before) {
  GStatBuf now;
  return g_stat(path, &now) == 0 && now.st_ino == before->st_ino &&
         now.st_mtime == before->st_mtime;
}

static void test_resync_removes_stale(void **state) {
  Fixture *f = *state;
  g_autoptr(GBytes) png64 = make_png(64, 64, NULL);
  g_autoptr(GBytes) png128 = make_png(128, 128, NULL);
  TandemMenuApp apps[] = {
      {.id = "one", .name = "One", .icon_png = png64},
      {.id = "two", .name = "Two", .icon_png = png64},
      {.id = "three", .name = "Three", .icon_png = png128},
  };
  sync_ok(f, "debian", apps, 3);
  assert_int_equal(count_entries(f), 3);
  assert_int_equal(count_icons(f), 3);
  g_autofree char *one = entry_path(f, "debian", "one");
  g_autofree char *one_icon = icon_path(f, 64, "debian", "one");
  GStatBuf entry_st, icon_st;
  assert_int_equal(g_stat(one, &entry_st), 0);
  assert_int_equal(g_stat(one_icon, &icon_st), 0);

  /* The same catalog again: nothing is rewritten. */
  sync_ok(f, "debian", apps, 3);
  assert_true(same_inode(one, &entry_st));
  assert_true(same_inode(one_icon, &icon_st));

  /* Fewer apps: the others go, with their icons. */
  sync_ok(f, "debian", apps, 1);
  assert_int_equal(count_entries(f), 1);
  assert_int_equal(count_icons(f), 1);
  assert_true(same_inode(one, &entry_st));
  g_autofree char *two = entry_path(f, "debian", "two");
  g_autofree char *three_icon = icon_path(f, 128, "debian", "three");
  assert_false(g_file_test(two, G_FILE_TEST_EXISTS));
  assert_false(g_file_test(three_icon, G_FILE_TEST_EXISTS));

  /* A new size moves the icon; a lost icon removes it. */
  apps[0].icon_png = png128;
  sync_ok(f, "debian", apps, 1);
  g_autofree char *one_icon128 = icon_path(f, 128, "debian", "one");
  assert_false(g_file_test(one_icon, G_FILE_TEST_EXISTS));
  assert_true(g_file_test(one_icon128, G_FILE_TEST_EXISTS));
  apps[0].icon_png = NULL;
  sync_ok(f, "debian", apps, 1);
  assert_int_equal(count_icons(f), 0);
  g_autoptr(GKeyFile) kf = load_entry(f, "debian", "one");
  g_autofree char *icon = entry_string(kf, "Icon");
  assert_string_equal(icon, TANDEM_MENU_FALLBACK_ICON);
  assert_all_valid(f);
}

/* Icon caches rescan when the theme directory's mtime moves. */
static void test_touches_icon_theme(void **state) {
  Fixture *f = *state;
  g_autoptr(GBytes) png = make_png(48, 48, NULL);
  TandemMenuApp app = {.id = "one", .name = "One", .icon_png = png};
  sync_ok(f, "debian", &app, 1);
  g_autofree char *hicolor = g_build_filename(f->home, "icons", "hicolor",
                                              NULL);
  struct utimbuf old = {.actime = 1000, .modtime = 1000};
  assert_int_equal(g_utime(hicolor, &old), 0);
  sync_ok(f, "debian", &app, 1); /* unchanged: left alone */
  GStatBuf st;
  assert_int_equal(g_stat(hicolor, &st), 0);
  assert_int_equal(st.st_mtime, 1000);
  sync_ok(f, "debian", NULL, 0); /* icon removed: touched */
  assert_int_equal(g_stat(hicolor, &st), 0);
  assert_true(st.st_mtime > 1000);
}

static char *write_file(Fixture *f, const char *rel, const char *text) {
  g_autofree char *path = g_build_filename(f->home, rel, NULL);
  g_autofree char *dir = g_path_get_dirname(path);
  assert_int_equal(g_mkdir_with_parents(dir, 0700), 0);
  assert_true(g_file_set_contents(path, text, -1, NULL));
  return g_steal_pointer(&path);
}

static void assert_file_holds(const char *path, const char *text) {
  g_autofree char *now = NULL;
  if (!g_file_get_contents(path, &now, NULL, NULL))
    fail_msg("%s is gone", path);
  assert_string_equal(now, text);
}

static void test_leaves_others_alone(void **state) {
  Fixture *f = *state;
  g_autoptr(GBytes) png = make_png(32, 32, NULL);
  TandemMenuApp apps[] = {
      {.id = "one", .name = "One", .icon_png = png},
      {.id = "two", .name = "Two", .icon_png = png},
  };
  /* "debian-old" shares a prefix with "debian" in the usual naming. */
  sync_ok(f, "work", apps, 2);
  sync_ok(f, "debian-old", apps, 2);
  sync_ok(f, "debian", apps, 2);
  const char *firefox = "[Desktop Entry]\nType=Application\nName=Firefox\n"
                        "Exec=firefox %u\n";
  const char *lookalike = "[Desktop Entry]\nType=Application\nName=Mine\n"
                          "Exec=mine\n";
  const char *broken = "this is not a key file\n";
  g_autofree char *user = write_file(f, "applications/firefox.desktop",
                                     firefox);
  g_autofree char *fake = write_file(
      f, "applications/tandem.debian.mine.desktop", lookalike);
  g_autofree char *bad = write_file(
      f, "applications/tandem.debian.broken.desktop", broken);
  g_autofree char *other_icon =
      write_file(f, "icons/hicolor/32x32/apps/firefox.png", "png");

  g_autofree char *work_one = entry_path(f, "work", "one");
  g_autofree char *work_text = NULL;
  assert_true(g_file_get_contents(work_one, &work_text, NULL, NULL));

  sync_ok(f, "debian", apps, 1);
  assert_int_equal(count_entries(f), 1 + 2 + 2 + 3);
  g_autoptr(GError) error = NULL;
  assert_true(tandem_menu_exporter_remove_vm(f->exporter, "debian", &error));
  assert_int_equal(count_entries(f), 2 + 2 + 3);
  assert_int_equal(count_icons(f), 2 + 2 + 1);

  assert_file_holds(user, firefox);
  assert_file_holds(fake, lookalike);
  assert_file_holds(bad, broken);
  assert_file_holds(other_icon, "png");
  assert_file_holds(work_one, work_text);
  const char *vms[] = {"work", "debian-old"};
  for (guint v = 0; v < G_N_ELEMENTS(vms); v++) {
    for (guint i = 0; i < G_N_ELEMENTS(apps); i++) {
      g_autofree char *e = entry_path(f, vms[v], apps[i].id);
      g_autofree char *ic = icon_path(f, 32, vms[v], apps[i].id);
      assert_true(g_file_test(e, G_FILE_TEST_IS_REGULAR));
      assert_true(g_file_test(ic, G_FILE_TEST_IS_REGULAR));
    }
  }
}

static void test_remove_vm(void **state) {
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  /* Nothing there yet: fine, and no directories appear. */
  assert_true(tandem_menu_exporter_remove_vm(f->exporter, "debian", &error));
  g_autofree char *apps_dir = g_build_filename(f->home, "applications", NULL);
  assert_false(g_file_test(apps_dir, G_FILE_TEST_EXISTS));

  g_autoptr(GBytes) png = make_png(16, 16, NULL);
  TandemMenuApp apps[] = {
      {.id = "one", .name = "One", .icon_png = png},
      {.id = "two", .name = "Two"},
  };
  sync_ok(f, "debian", apps, 2);
  sync_ok(f, "work", apps, 2);
  assert_true(tandem_menu_exporter_remove_vm(f->exporter, "debian", &error));
  assert_int_equal(count_entries(f), 2);
  assert_int_equal(count_icons(f), 1);
  g_autofree char *gone = entry_path(f, "debian", "one");
  g_autofree char *kept = entry_path(f, "work", "one");
  assert_false(g_file_test(gone, G_FILE_TEST_EXISTS));
  assert_true(g_file_test(kept, G_FILE_TEST_EXISTS));
}

static void test_invalid_vm(void **state) {
  Fixture *f = *state;
  TandemMenuApp app = {.id = "one", .name = "One"};
  const char *bad[] = {"", "-x", "a.b", "a/b", "with space", "../x",
                       "ünïcode"};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    assert_false(tandem_menu_exporter_sync(f->exporter, bad[i], &app, 1,
                                           &error));
    assert_true(g_error_matches(error, G_IO_ERROR,
                                G_IO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&error);
    assert_false(tandem_menu_exporter_remove_vm(f->exporter, bad[i],
                                                &error));
    assert_true(g_error_matches(error, G_IO_ERROR,
                                G_IO_ERROR_INVALID_ARGUMENT));
  }
  assert_int_equal(count_entries(f), 0);
}

/* Ids tandemctl could not take are skipped; repeats count once. */
static void test_skips_bad_ids(void **state) {
  Fixture *f = *state;
  g_autofree char *long_id = g_strnfill(256, 'a');
  TandemMenuApp apps[] = {
      {.id = NULL, .name = "No id"},
      {.id = "", .name = "Empty"},
      {.id = "-rf", .name = "Option"},
      {.id = "has space", .name = "Space"},
      {.id = "semi;colon", .name = "Semicolon"},
      {.id = "new\nline", .name = "Newline"},
      {.id = "../escape", .name = "Path"},
      {.id = long_id, .name = "Long"},
      {.id = "good", .name = "First"},
      {.id = "good", .name = "Second"},
  };
  sync_ok(f, "debian", apps, G_N_ELEMENTS(apps));
  assert_int_equal(count_entries(f), 1);
  g_autoptr(GKeyFile) kf = load_entry(f, "debian", "good");
  g_autofree char *name = entry_string(kf, "Name");
  assert_string_equal(name, "First");
}

/* --- Icons ---------------------------------------------------------------- */

static GBytes *corrupt(GBytes *png, gsize at) {
  gsize len = 0;
  const guint8 *p = g_bytes_get_data(png, &len);
  guint8 *copy = g_memdup2(p, len);
  copy[at] ^= 0x40;
  return g_bytes_new_take(copy, len);
}

static GBytes *truncated(GBytes *png, gsize len) {
  return g_bytes_new(g_bytes_get_data(png, NULL), len);
}

static GBytes *with_trailer(GBytes *png) {
  GByteArray *a = g_byte_array_new();
  g_byte_array_append(a, g_bytes_get_data(png, NULL), g_bytes_get_size(png));
  g_byte_array_append(a, (const guint8 *)"junk", 4);
  return g_byte_array_free_to_bytes(a);
}

static void test_bad_icons_fall_back(void **state) {
  Fixture *f = *state;
  g_autoptr(GBytes) good = make_png(64, 64, NULL);
  gsize good_len = g_bytes_get_size(good);
  GBytes *bad[] = {
      g_bytes_new_static("", 0),
      g_bytes_new_static("GIF89a not a png at all", 23),
      truncated(good, 8),                /* signature only */
      truncated(good, 30),               /* inside IHDR */
      truncated(good, good_len - 12),    /* no IEND */
      corrupt(good, 20),                 /* IHDR CRC */
      corrupt(good, good_len - 20),      /* IDAT CRC */
      with_trailer(good),
      make_png(100, 100, NULL),          /* no hicolor directory for it */
      make_png(2048, 2048, NULL),        /* too large */
      make_png(64, 16, NULL),            /* far from square */
      make_png(0, 0, NULL),
  };
  TandemMenuApp apps[G_N_ELEMENTS(bad)];
  char ids[G_N_ELEMENTS(bad)][16];
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_snprintf(ids[i], sizeof ids[i], "bad%u", i);
    apps[i] = (TandemMenuApp){.id = ids[i], .name = ids[i],
                              .icon_png = bad[i]};
  }
  sync_ok(f, "debian", apps, G_N_ELEMENTS(apps));
  assert_int_equal(count_icons(f), 0);
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GKeyFile) kf = load_entry(f, "debian", ids[i]);
    g_autofree char *icon = entry_string(kf, "Icon");
    if (!g_str_equal(icon, TANDEM_MENU_FALLBACK_ICON))
      fail_msg("bad%u got Icon=%s", i, icon);
    g_bytes_unref(bad[i]);
  }
  assert_all_valid(f);
}

/* Metadata chunks are dropped; the image chunks arrive byte for byte. */
static void test_icon_stripped_to_image(void **state) {
  Fixture *f = *state;
  g_autoptr(GBytes) plain = make_png(48, 40, NULL);
  g_autoptr(GBytes) tagged = make_png(48, 40, "Comment\0from the guest");
  TandemMenuApp app = {.id = "one", .name = "One", .icon_png = tagged};
  sync_ok(f, "debian", &app, 1);
  g_autofree char *path = icon_path(f, 48, "debian", "one");
  g_autofree char *data = NULL;
  gsize len = 0;
  assert_true(g_file_get_contents(path, &data, &len, NULL));
  assert_int_equal(len, g_bytes_get_size(plain));
  assert_memory_equal(data, g_bytes_get_data(plain, NULL), len);
  g_autoptr(GKeyFile) kf = load_entry(f, "debian", "one");
  g_autofree char *icon = entry_string(kf, "Icon");
  g_autofree char *id = tandem_menu_desktop_id("debian", "one");
  assert_string_equal(icon, id);
}

/* --- Names and matching --------------------------------------------------- */

static gboolean is_clean_id(const char *s) {
  for (; *s; s++)
    if (!g_ascii_isalnum(*s) && !strchr("._-", *s))
      return FALSE;
  return TRUE;
}

static void test_ids(void **state) {
  (void)state;
  g_autofree char *plain =
      tandem_menu_desktop_id("debian", "org.xfce.mousepad");
  g_autofree char *wm = tandem_menu_wm_class("debian", "org.xfce.mousepad");
  assert_string_equal(plain, "tandem.debian.org.xfce.mousepad");
  assert_string_equal(wm, plain);

  /* VM names may hold '-', never '.': the split is unambiguous. */
  g_autofree char *a = tandem_menu_desktop_id("a-b", "c");
  g_autofree char *b = tandem_menu_desktop_id("a", "b-c");
  assert_string_not_equal(a, b);

  /* Cleaned ids keep apart and stay within [A-Za-z0-9._-]. */
  const char *odd[] = {"a+b", "a@b", "a_b", "a b", "a/b", "icon.png",
                       "x.SVG", ""};
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                     g_free, NULL);
  for (guint i = 0; i < G_N_ELEMENTS(odd); i++) {
    char *id = tandem_menu_desktop_id("vm", odd[i]);
    assert_true(g_str_has_prefix(id, "tandem.vm."));
    assert_true(is_clean_id(id));
    assert_false(g_str_has_suffix(id, ".png"));
    assert_false(g_str_has_suffix(id, ".SVG"));
    assert_false(g_hash_table_contains(seen, id));
    g_hash_table_add(seen, id);
  }
  g_autofree char *again = tandem_menu_desktop_id("vm", "a+b");
  assert_true(g_hash_table_contains(seen, again));

  /* Long ids: the file name (and a temporary name next to it) must fit. */
  g_autofree char *long_vm = g_strnfill(64, 'v');
  g_autofree char *long_app = g_strnfill(255, 'x');
  g_autofree char *longest = tandem_menu_desktop_id(long_vm, long_app);
  assert_true(strlen(longest) + strlen(".desktop.XXXXXX") <= 255);
  long_app[254] = 'y';
  g_autofree char *other = tandem_menu_desktop_id(long_vm, long_app);
  assert_string_not_equal(longest, other);
}

static void test_match_app(void **state) {
  (void)state;
  const TandemMenuApp apps[] = {
      {.id = "org.xfce.mousepad", .name = "Mousepad"},
      {.id = "debian-xterm", .name = "XTerm"},
      {.id = "firefox-esr", .name = "Firefox",
       .startup_wm_class = "Firefox-esr"},
      {.id = "org.gnome.Calculator", .name = "Calculator",
       .startup_wm_class = "gnome-calculator"},
      {.id = "xclock", .name = "Clock"},
      {.id = "chrome-app", .name = "Web app",
       .startup_wm_class = "crx_abcdef"},
      {.id = "chrome", .name = "Chrome", .startup_wm_class = "Google-chrome"},
      {.id = NULL, .name = "Broken"},
  };
  const guint n = G_N_ELEMENTS(apps);
  struct {
    const char *res_name, *res_class, *expected;
  } cases[] = {
      {"mousepad", "Mousepad", "org.xfce.mousepad"},
      {"xterm", "XTerm", "debian-xterm"},
      {"Navigator", "Firefox-esr", "firefox-esr"},
      {"gnome-calculator", "Gnome-calculator", "org.gnome.Calculator"},
      {"xclock", "XClock", "xclock"},
      {NULL, "XCLOCK", "xclock"},
      {"calculator", NULL, "org.gnome.Calculator"},
      /* The instance is more specific than the class. */
      {"crx_abcdef", "Google-chrome", "chrome-app"},
      {"google-chrome", "Google-chrome", "chrome"},
      {"gimp", "Gimp", NULL},
      {"", "", NULL},
      {NULL, NULL, NULL},
      {"esr", NULL, "firefox-esr"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    const char *got = tandem_menu_match_app(apps, n, cases[i].res_name,
                                            cases[i].res_class);
    if (g_strcmp0(got, cases[i].expected))
      fail_msg("case %u (%s, %s): got %s, expected %s", i,
               cases[i].res_name, cases[i].res_class, got,
               cases[i].expected);
  }
  assert_null(tandem_menu_match_app(NULL, 0, "xterm", "XTerm"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sync_writes_files, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_exec_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resync_removes_stale, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_touches_icon_theme, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_leaves_others_alone, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_remove_vm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invalid_vm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_skips_bad_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_icons_fall_back, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_icon_stripped_to_image, setup,
                                      teardown),
      cmocka_unit_test(test_ids),
      cmocka_unit_test(test_match_app),
  };
  return cmocka_run_group_tests_name("menu-exporter", tests, NULL, NULL);
}
