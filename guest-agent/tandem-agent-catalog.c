/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-agent-catalog.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>
#include <string.h>

#define GROUP "Desktop Entry"

void tandem_app_entry_free(TandemAppEntry *e) {
  if (!e)
    return;
  g_free(e->id);
  g_free(e->path);
  g_free(e->name);
  g_free(e->generic_name);
  g_free(e->comment);
  g_free(e->startup_wm_class);
  g_free(e->exec);
  g_free(e->icon);
  g_strfreev(e->categories);
  g_strfreev(e->mime_types);
  g_strfreev(e->keywords);
  g_free(e);
}

GStrv tandem_catalog_default_data_dirs(void) {
  GPtrArray *dirs = g_ptr_array_new();
  g_ptr_array_add(dirs, g_strdup(g_get_user_data_dir()));
  for (const char *const *d = g_get_system_data_dirs(); *d; d++)
    g_ptr_array_add(dirs, g_strdup(*d));
  g_ptr_array_add(dirs, NULL);
  return (GStrv)g_ptr_array_free(dirs, FALSE);
}

/* The protocol's id charset; desktop ids outside it are rare and skipped. */
static gboolean id_is_valid(const char *id) {
  if (!*id || strlen(id) > 255)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum(*p) && !strchr("._+@-", *p))
      return FALSE;
  return TRUE;
}

static gboolean list_meets(GStrv list, const char *const *desktops) {
  for (char **l = list; l && *l; l++)
    for (const char *const *d = desktops; d && *d; d++)
      if (g_ascii_strcasecmp(*l, *d) == 0)
        return TRUE;
  return FALSE;
}

static gboolean try_exec_ok(const char *try_exec) {
  if (g_path_is_absolute(try_exec))
    return g_file_test(try_exec, G_FILE_TEST_IS_EXECUTABLE);
  g_autofree char *found = g_find_program_in_path(try_exec);
  return found != NULL;
}

/* Why an entry is not in the catalog, for debug logs; NULL if it is. */
static const char *exclusion(GKeyFile *kf, const char *const *desktops) {
  g_autofree char *type = g_key_file_get_string(kf, GROUP, "Type", NULL);
  g_auto(GStrv) only = g_key_file_get_string_list(kf, GROUP, "OnlyShowIn",
                                                  NULL, NULL);
  g_auto(GStrv) not = g_key_file_get_string_list(kf, GROUP, "NotShowIn",
                                                 NULL, NULL);
  g_autofree char *try_exec = g_key_file_get_string(kf, GROUP, "TryExec",
                                                    NULL);
  g_autofree char *exec = g_key_file_get_string(kf, GROUP, "Exec", NULL);

  if (g_strcmp0(type, "Application") != 0)
    return "not an application";
  /* A host's Tandem menu entry for a guest application (X-Tandem-VM): a
   * guest running its own Tandem, or loopback with the shell's data
   * directory, would otherwise offer the host's copies back, and again. */
  if (g_key_file_has_key(kf, GROUP, "X-Tandem-VM", NULL))
    return "a Tandem menu entry for another system's application";
  if (g_key_file_get_boolean(kf, GROUP, "Hidden", NULL))
    return "Hidden";
  if (g_key_file_get_boolean(kf, GROUP, "NoDisplay", NULL))
    return "NoDisplay";
  if (only && !list_meets(only, desktops))
    return "OnlyShowIn";
  if (not && list_meets(not, desktops))
    return "NotShowIn";
  if (try_exec && !try_exec_ok(try_exec))
    return "TryExec not installed";
  if (!exec || !*exec)
    return "no Exec";
  return NULL;
}

static char *localized(GKeyFile *kf, const char *key, const char *locale) {
  char *v = g_key_file_get_locale_string(kf, GROUP, key, locale, NULL);
  if (v && !*v)
    g_clear_pointer(&v, g_free);
  return v;
}

static TandemAppEntry *parse_entry(const char *path, const char *id,
                                   const char *locale,
                                   const char *const *desktops,
                                   gboolean *hidden) {
  g_autoptr(GKeyFile) kf = g_key_file_new();
  g_autoptr(GError) error = NULL;
  const char *loc = locale && *locale ? locale : "C";

  *hidden = FALSE;
  /* Translations for a locale other than our own must be kept. */
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_TRANSLATIONS,
                                 &error) ||
      !g_key_file_has_group(kf, GROUP)) {
    g_debug("catalog: skipping %s: %s", path,
            error ? error->message : "no [Desktop Entry]");
    return NULL;
  }
  const char *why = exclusion(kf, desktops);
  if (why) {
    *hidden = g_str_equal(why, "Hidden");
    g_debug("catalog: %s not shown: %s", id, why);
    return NULL;
  }
  TandemAppEntry *e = g_new0(TandemAppEntry, 1);
  e->id = g_strdup(id);
  e->path = g_strdup(path);
  e->name = localized(kf, "Name", loc);
  e->generic_name = localized(kf, "GenericName", loc);
  e->comment = localized(kf, "Comment", loc);
  e->keywords = g_key_file_get_locale_string_list(kf, GROUP, "Keywords", loc,
                                                  NULL, NULL);
  e->categories = g_key_file_get_string_list(kf, GROUP, "Categories", NULL,
                                             NULL);
  e->mime_types = g_key_file_get_string_list(kf, GROUP, "MimeType", NULL,
                                             NULL);
  e->startup_wm_class = g_key_file_get_string(kf, GROUP, "StartupWMClass",
                                              NULL);
  e->exec = g_key_file_get_string(kf, GROUP, "Exec", NULL);
  e->icon = g_key_file_get_string(kf, GROUP, "Icon", NULL);
  e->terminal = g_key_file_get_boolean(kf, GROUP, "Terminal", NULL);
  if (!e->name) {
    g_debug("catalog: %s has no Name", id);
    g_clear_pointer(&e, tandem_app_entry_free);
  }
  return e;
}

typedef struct {
  const char *locale;
  const char *const *desktops;
  GHashTable *seen; /* desktop ids already decided, by a higher dir */
  GPtrArray *entries;
} Scan;

/* Walks one applications directory; @prefix builds ids of subdirectories
 * ("kde/konsole.desktop" is "kde-konsole"). */
static void scan_dir(Scan *s, const char *dir, const char *prefix,
                     int depth) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  if (!d || depth > 8)
    return;
  for (const char *n; (n = g_dir_read_name(d));)
    g_ptr_array_add(names, g_strdup(n));
  g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
  for (guint i = 0; i < names->len; i++) {
    const char *n = names->pdata[i];
    g_autofree char *path = g_build_filename(dir, n, NULL);
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
      g_autofree char *sub = g_strconcat(prefix, n, "-", NULL);
      scan_dir(s, path, sub, depth + 1);
      continue;
    }
    if (!g_str_has_suffix(n, ".desktop"))
      continue;
    g_autofree char *id = g_strconcat(prefix, n, NULL);
    id[strlen(id) - strlen(".desktop")] = '\0';
    if (g_hash_table_contains(s->seen, id))
      continue; /* the user's (or an earlier dir's) decides, even hidden */
    g_hash_table_add(s->seen, g_strdup(id));
    if (!id_is_valid(id)) {
      g_debug("catalog: skipping %s: its id has unusual characters", path);
      continue;
    }
    gboolean hidden;
    TandemAppEntry *e = parse_entry(path, id, s->locale, s->desktops,
                                    &hidden);
    if (e)
      g_ptr_array_add(s->entries, e);
  }
}

static int compare_ids(gconstpointer a, gconstpointer b) {
  return g_strcmp0((*(TandemAppEntry *const *)a)->id,
                   (*(TandemAppEntry *const *)b)->id);
}

GPtrArray *tandem_catalog_scan(const char *const *data_dirs,
                               const char *locale,
                               const char *const *desktops) {
  Scan s = {locale, desktops,
            g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
            g_ptr_array_new_with_free_func(
                (GDestroyNotify)tandem_app_entry_free)};
  for (const char *const *d = data_dirs; d && *d; d++) {
    g_autofree char *apps = g_build_filename(*d, "applications", NULL);
    scan_dir(&s, apps, "", 0);
  }
  g_hash_table_unref(s.seen);
  g_ptr_array_sort(s.entries, compare_ids);
  return s.entries;
}

/* --- Exec ------------------------------------------------------------- */

/* %f and %F want local paths; a file:// URI becomes one. */
static char *as_path(const char *arg) {
  if (g_str_has_prefix(arg, "file://")) {
    char *p = g_filename_from_uri(arg, NULL, NULL);
    if (p)
      return p;
  }
  return g_strdup(arg);
}

/* Codes inside a longer argument ("--file=%f"): substituted in place. */
static char *expand_token(const char *token, const TandemAppEntry *e,
                          const char *const *args) {
  GString *out = g_string_new(NULL);
  for (const char *p = token; *p; p++) {
    if (*p != '%' || !p[1]) {
      g_string_append_c(out, *p);
      continue;
    }
    switch (*++p) {
    case '%': g_string_append_c(out, '%'); break;
    case 'c': g_string_append(out, e->name); break;
    case 'k': g_string_append(out, e->path); break;
    case 'f':
    case 'F':
      if (args && args[0]) {
        g_autofree char *path = as_path(args[0]);
        g_string_append(out, path);
      }
      break;
    case 'u':
    case 'U':
      if (args && args[0])
        g_string_append(out, args[0]);
      break;
    default: break; /* deprecated (%d %D %n %N %v %m) or unknown: dropped */
    }
  }
  return g_string_free(out, FALSE);
}

GStrv tandem_catalog_expand_exec(const TandemAppEntry *e,
                                 const char *const *args, GError **error) {
  g_auto(GStrv) tokens = NULL;
  if (!g_shell_parse_argv(e->exec, NULL, &tokens, error))
    return NULL;
  GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
  for (char **t = tokens; *t; t++) {
    if (g_str_equal(*t, "%F") || g_str_equal(*t, "%U")) {
      gboolean paths = (*t)[1] == 'F';
      for (const char *const *a = args; a && *a; a++)
        g_ptr_array_add(argv, paths ? as_path(*a) : g_strdup(*a));
    } else if (g_str_equal(*t, "%f") || g_str_equal(*t, "%u")) {
      if (args && args[0])
        g_ptr_array_add(argv, (*t)[1] == 'f' ? as_path(args[0])
                                             : g_strdup(args[0]));
    } else if (g_str_equal(*t, "%i")) {
      if (e->icon && *e->icon) {
        g_ptr_array_add(argv, g_strdup("--icon"));
        g_ptr_array_add(argv, g_strdup(e->icon));
      }
    } else {
      char *x = expand_token(*t, e, args);
      if (*x || !strchr(*t, '%'))
        g_ptr_array_add(argv, x); /* a code that expanded to nothing goes */
      else
        g_free(x);
    }
  }
  if (argv->len == 0) {
    g_ptr_array_unref(argv);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "The Exec line of %s names no program", e->id);
    return NULL;
  }
  g_ptr_array_set_free_func(argv, NULL);
  g_ptr_array_add(argv, NULL);
  return (GStrv)g_ptr_array_free(argv, FALSE);
}

/* --- Icons ------------------------------------------------------------ */

static const int sizes[] = {512, 256, 192, 128, 96, 72, 64, 48, 36, 32, 24,
                            22, 16};

static char *find_in_theme(const char *data_dir, const char *theme,
                           const char *name, int size) {
  g_autofree char *exact = g_strdup_printf("%dx%d", size, size);
  const char *first[] = {exact, "scalable", NULL};
  for (int i = 0; first[i]; i++) {
    g_autofree char *file = g_strconcat(
        name, g_str_equal(first[i], "scalable") ? ".svg" : ".png", NULL);
    char *p = g_build_filename(data_dir, "icons", theme, first[i], "apps",
                               file, NULL);
    if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
      return p;
    g_free(p);
  }
  /* Else the nearest size, larger first (scaling down looks better). */
  for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
    g_autofree char *dir = g_strdup_printf("%dx%d", sizes[i], sizes[i]);
    g_autofree char *file = g_strconcat(name, ".png", NULL);
    char *p = g_build_filename(data_dir, "icons", theme, dir, "apps", file,
                               NULL);
    if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
      return p;
    g_free(p);
  }
  return NULL;
}

static char *find_icon(const char *icon, const char *const *data_dirs,
                       const char *theme, int size) {
  if (g_path_is_absolute(icon))
    return g_file_test(icon, G_FILE_TEST_IS_REGULAR) ? g_strdup(icon) : NULL;
  /* Old entries write "foo.png"; the theme lookup wants "foo". */
  g_autofree char *name = g_strdup(icon);
  char *dot = strrchr(name, '.');
  if (dot && (g_str_equal(dot, ".png") || g_str_equal(dot, ".svg") ||
              g_str_equal(dot, ".xpm")))
    *dot = '\0';
  const char *themes[] = {theme && *theme ? theme : "hicolor", "hicolor",
                          NULL};
  for (int t = 0; themes[t]; t++)
    for (const char *const *d = data_dirs; d && *d; d++) {
      char *p = find_in_theme(*d, themes[t], name, size);
      if (p)
        return p;
    }
  const char *exts[] = {".png", ".svg", ".xpm", NULL};
  for (const char *const *d = data_dirs; d && *d; d++)
    for (int i = 0; exts[i]; i++) {
      g_autofree char *file = g_strconcat(name, exts[i], NULL);
      char *p = g_build_filename(*d, "pixmaps", file, NULL);
      if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
        return p;
      g_free(p);
    }
  return NULL;
}

#define MAX_ICON_FILE (8 * 1024 * 1024)

static void on_size_prepared(GdkPixbufLoader *l, int w, int h, gpointer data) {
  int size = GPOINTER_TO_INT(data);
  if (w <= 0 || h <= 0)
    return;
  /* Fit in size x size, keeping the aspect ratio. */
  if (w >= h)
    gdk_pixbuf_loader_set_size(l, size, MAX(1, h * size / w));
  else
    gdk_pixbuf_loader_set_size(l, MAX(1, w * size / h), size);
}

/* The loader is chosen by the file's extension, not by content sniffing,
 * which needs a shared-mime-info database a small guest may not have. */
static GdkPixbuf *load_scaled(const char *path, int size, GError **error) {
  const char *ext = strrchr(path, '.');
  const char *type = ext && g_str_equal(ext, ".svg")   ? "svg"
                     : ext && g_str_equal(ext, ".xpm") ? "xpm"
                                                       : "png";
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, error))
    return NULL;
  if (len > MAX_ICON_FILE) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "icon file too large");
    return NULL;
  }
  g_autoptr(GdkPixbufLoader) l = gdk_pixbuf_loader_new_with_type(type, error);
  if (!l)
    return NULL;
  g_signal_connect(l, "size-prepared", G_CALLBACK(on_size_prepared),
                   GINT_TO_POINTER(size));
  gboolean ok = gdk_pixbuf_loader_write(l, (const guchar *)data, len, error);
  /* close() always, even after a failed write, or the loader complains. */
  ok = gdk_pixbuf_loader_close(l, ok ? error : NULL) && ok;
  GdkPixbuf *pb = ok ? gdk_pixbuf_loader_get_pixbuf(l) : NULL;
  return pb ? g_object_ref(pb) : NULL;
}

GBytes *tandem_catalog_load_icon(const TandemAppEntry *e,
                                 const char *const *data_dirs,
                                 const char *theme, int size,
                                 gsize max_bytes) {
  g_autoptr(GError) error = NULL;
  if (!e->icon || !*e->icon || size <= 0)
    return NULL;
  g_autofree char *path = find_icon(e->icon, data_dirs, theme, size);
  if (!path)
    return NULL;
  g_autoptr(GdkPixbuf) pb = load_scaled(path, size, &error);
  gchar *png = NULL;
  gsize len = 0;
  if (!pb || !gdk_pixbuf_save_to_buffer(pb, &png, &len, "png", &error, NULL)) {
    g_debug("catalog: icon %s of %s: %s", path, e->id,
            error ? error->message : "unreadable");
    return NULL;
  }
  if (len > max_bytes) {
    g_free(png);
    return NULL;
  }
  return g_bytes_new_take(png, len);
}
