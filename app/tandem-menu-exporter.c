/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host menu exporter: desktop entries and icons for guest applications.
 *
 * What the guest sends is untrusted. Every field is named after what it is
 * once it has been checked: clean_text(), clean_categories(),
 * clean_mime_types() and clean_png() are the only ways from a TandemMenuApp
 * to a file, and the entry is written by hand (not GKeyFile) so that the
 * escaping is exactly the Desktop Entry Specification's.
 */
#define G_LOG_DOMAIN "tandem-menu"

#include "config.h"

#include "tandem-menu-exporter.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include "tandem-i18n.h"
#include "tandem-vm-config.h"

#define ID_PREFIX "tandem."
#define ENTRY_GROUP "Desktop Entry"
#define KEY_VM "X-Tandem-VM"
#define KEY_APP "X-Tandem-App"

/* Caps on what is taken from the guest. The protocol has its own (larger or
 * equal) limits; these are what a menu can reasonably show. */
#define MAX_NAME_BYTES 256
#define MAX_COMMENT_BYTES 512
#define MAX_KEYWORD_BYTES 128
#define MAX_KEYWORDS 64
#define MAX_CATEGORIES 32
#define MAX_MIME_TYPES 256
#define MAX_MIME_BYTES 255
#define MAX_APP_ID_BYTES 255
#define MAX_SCAN_BYTES (64 * 1024) /* input looked at per text, at most */
#define MAX_ICON_BYTES (1024 * 1024)
#define MAX_PNG_CHUNKS 4096
/* The app part of a desktop id, so that "tandem.VM.APP.desktop" plus
 * g_file_set_contents()'s ".XXXXXX" stays under NAME_MAX (255). */
#define MAX_APP_PART 160
#define HASH_DIGITS 12

/* The hicolor theme's fixed-size application directories
 * (/usr/share/icons/hicolor/index.theme). An icon in a directory that the
 * theme does not list is never found, and GTK 3 draws an icon at
 * (its size x asked size / directory size), so an icon goes into the
 * directory of exactly its size or not at all. */
static const guint icon_sizes[] = {16,  22,  24,  32,  36,  48, 64,
                                   72,  96,  128, 192, 256, 512};

struct _TandemMenuExporter {
  char *applications_dir; /* $data_home/applications */
  char *hicolor_dir;      /* $data_home/icons/hicolor */
  char *tandemctl;
};

/* --- Text ----------------------------------------------------------------- */

/* Characters no menu entry text keeps: C0 and C1 controls, DEL, the
 * bidirectional marks, embeddings, overrides and isolates (they can make
 * "evil.exe" read as "exe.live"), line and paragraph separators and the
 * byte-order mark. Whitespace controls are handled before this. */
static gboolean is_stripped_char(gunichar c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c ||
         c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029 ||
         c == 0xfeff;
}

/* Untrusted text -> one line of valid UTF-8 without stripped characters,
 * whitespace runs as single spaces, trimmed, at most @max_bytes bytes (cut
 * between characters). Invalid bytes are dropped. NULL gives "". */
static char *clean_text(const char *untrusted, gsize max_bytes) {
  GString *out = g_string_new(NULL);
  if (!untrusted)
    return g_string_free(out, FALSE);
  const char *p = untrusted;
  const char *end = untrusted + strnlen(untrusted, MAX_SCAN_BYTES);
  gboolean pending_space = FALSE;
  while (p < end) {
    gunichar c = g_utf8_get_char_validated(p, end - p);
    if (c == (gunichar)-1 || c == (gunichar)-2) {
      p++;
      continue;
    }
    const char *next = g_utf8_next_char(p);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
        c == '\f') {
      pending_space = out->len > 0;
    } else if (!is_stripped_char(c)) {
      gsize n = (gsize)(next - p);
      if (out->len + (pending_space ? 1 : 0) + n > max_bytes)
        break;
      if (pending_space)
        g_string_append_c(out, ' ');
      pending_space = FALSE;
      g_string_append_len(out, p, (gssize)n);
    }
    p = next;
  }
  return g_string_free(out, FALSE);
}

static gboolean text_equal_folded(const char *a, const char *b) {
  g_autofree char *fa = g_utf8_casefold(a, -1);
  g_autofree char *fb = g_utf8_casefold(b, -1);
  return g_str_equal(fa, fb);
}

/* Appends @s as a key-file value: the Desktop Entry Specification's \s \n
 * \t \r \\ escapes, and \; inside list items. */
static void append_escaped(GString *out, const char *s, gboolean list_item) {
  for (const char *p = s; *p; p++) {
    switch (*p) {
    case '\\': g_string_append(out, "\\\\"); break;
    case '\n': g_string_append(out, "\\n"); break;
    case '\t': g_string_append(out, "\\t"); break;
    case '\r': g_string_append(out, "\\r"); break;
    case ';': g_string_append(out, list_item ? "\\;" : ";"); break;
    case ' ':
      /* A leading space would be taken for layout and dropped. */
      g_string_append(out, p == s ? "\\s" : " ");
      break;
    default: g_string_append_c(out, *p); break;
    }
  }
}

static void put_value(GString *entry, const char *key, const char *value) {
  g_string_append_printf(entry, "%s=", key);
  append_escaped(entry, value, FALSE);
  g_string_append_c(entry, '\n');
}

static void put_list(GString *entry, const char *key, GPtrArray *items) {
  if (items->len == 0)
    return;
  g_string_append_printf(entry, "%s=", key);
  for (guint i = 0; i < items->len; i++) {
    append_escaped(entry, items->pdata[i], TRUE);
    g_string_append_c(entry, ';');
  }
  g_string_append_c(entry, '\n');
}

/* Appends one argument to an Exec value, quoted as the specification's
 * "Exec key" section says: double quotes around an argument with a reserved
 * character, a backslash before " ` $ and \ inside them, and % doubled
 * everywhere so that it is no field code. */
static void append_exec_arg(GString *exec, const char *arg) {
  gboolean quote = !*arg || strpbrk(arg, " \t\n\"'\\><~|&;$*?#()`") != NULL;
  if (exec->len)
    g_string_append_c(exec, ' ');
  if (quote)
    g_string_append_c(exec, '"');
  for (const char *p = arg; *p; p++) {
    if (quote && strchr("\"`$\\", *p))
      g_string_append_c(exec, '\\');
    if (*p == '%')
      g_string_append_c(exec, '%');
    g_string_append_c(exec, *p);
  }
  if (quote)
    g_string_append_c(exec, '"');
}

/* --- Ids ------------------------------------------------------------------ */

/* What tandemctl can be given as APP: the protocol's id characters, and no
 * leading '-' (it would be read as an option). */
static gboolean app_id_is_usable(const char *untrusted_id) {
  if (!untrusted_id || !*untrusted_id || untrusted_id[0] == '-')
    return FALSE;
  gsize len = strnlen(untrusted_id, MAX_APP_ID_BYTES + 1);
  if (len > MAX_APP_ID_BYTES)
    return FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = untrusted_id[i];
    if (!g_ascii_isalnum(c) && !strchr("._+@-", c))
      return FALSE;
  }
  return TRUE;
}

/* Icon names ending like a file are a common mistake in desktop files, and
 * GIO "corrects" them by cutting the extension off: never produce one. */
static gboolean has_image_extension(const char *s) {
  const char *dot = strrchr(s, '.');
  return dot && (!g_ascii_strcasecmp(dot, ".png") ||
                 !g_ascii_strcasecmp(dot, ".xpm") ||
                 !g_ascii_strcasecmp(dot, ".svg") ||
                 !g_ascii_strcasecmp(dot, ".svgz"));
}

static char *app_part(const char *app_id) {
  gsize len = strlen(app_id);
  gboolean clean = len > 0 && len <= MAX_APP_PART &&
                   !has_image_extension(app_id);
  for (gsize i = 0; clean && i < len; i++)
    clean = g_ascii_isalnum(app_id[i]) || strchr("._-", app_id[i]);
  if (clean)
    return g_strdup(app_id);

  /* Cleaned and cut, plus a hash of the original so that ids differing
   * only in what was cleaned stay apart. */
  GString *s = g_string_new(NULL);
  for (gsize i = 0; i < len && s->len < MAX_APP_PART - HASH_DIGITS - 1; i++) {
    char c = app_id[i];
    g_string_append_c(s, g_ascii_isalnum(c) || strchr("._-", c) ? c : '_');
  }
  g_autofree char *sum =
      g_compute_checksum_for_string(G_CHECKSUM_SHA256, app_id, (gssize)len);
  g_string_append_printf(s, "-%.*s", HASH_DIGITS, sum);
  return g_string_free(s, FALSE);
}

char *tandem_menu_desktop_id(const char *vm, const char *app_id) {
  g_return_val_if_fail(tandem_vm_name_is_valid(vm), NULL);
  g_return_val_if_fail(app_id != NULL, NULL);
  g_autofree char *app = app_part(app_id);
  return g_strconcat(ID_PREFIX, vm, ".", app, NULL);
}

char *tandem_menu_wm_class(const char *vm, const char *app_id) {
  return tandem_menu_desktop_id(vm, app_id);
}

/* --- Categories and MIME types -------------------------------------------- */

/* The registered categories of the Desktop Menu Specification 1.0 that
 * desktop-file-validate 0.26 knows (newer ones would fail there). The
 * reserved ones (Screensaver, TrayIcon, Applet, Shell) need OnlyShowIn and
 * are left out on purpose. */
static const char *const registered_categories[] = {
    "AudioVideo", "Audio", "Video", "Development", "Education", "Game",
    "Graphics", "Network", "Office", "Science", "Settings", "System",
    "Utility", "Building", "Debugger", "IDE", "GUIDesigner", "Profiling",
    "RevisionControl", "Translation", "Calendar", "ContactManagement",
    "Database", "Dictionary", "Chart", "Email", "Finance", "FlowChart", "PDA",
    "ProjectManagement", "Presentation", "Spreadsheet", "WordProcessor",
    "2DGraphics", "VectorGraphics", "RasterGraphics", "3DGraphics",
    "Scanning", "OCR", "Photography", "Publishing", "Viewer", "TextTools",
    "DesktopSettings", "HardwareSettings", "Printing", "PackageManager",
    "Dialup", "InstantMessaging", "Chat", "IRCClient", "Feed",
    "FileTransfer", "HamRadio", "News", "P2P", "RemoteAccess", "Telephony",
    "TelephonyTools", "VideoConference", "WebBrowser", "WebDevelopment",
    "Midi", "Mixer", "Sequencer", "Tuner", "TV", "AudioVideoEditing",
    "Player", "Recorder", "DiscBurning", "ActionGame", "AdventureGame",
    "ArcadeGame", "BoardGame", "BlocksGame", "CardGame", "KidsGame",
    "LogicGame", "RolePlaying", "Shooter", "Simulation", "SportsGame",
    "StrategyGame", "Art", "Construction", "Music", "Languages",
    "ArtificialIntelligence", "Astronomy", "Biology", "Chemistry",
    "ComputerScience", "DataVisualization", "Economy", "Electricity",
    "Geography", "Geology", "Geoscience", "History", "Humanities",
    "ImageProcessing", "Literature", "Maps", "Math", "NumericalAnalysis",
    "MedicalSoftware", "Physics", "Robotics", "Spirituality", "Sports",
    "ParallelComputing", "Amusement", "Archiving", "Compression",
    "Electronics", "Emulator", "Engineering", "FileTools", "FileManager",
    "TerminalEmulator", "Filesystem", "Monitor", "Security", "Accessibility",
    "Calculator", "Clock", "TextEditor", "Documentation", "Adult", "Core",
    "KDE", "GNOME", "XFCE", "GTK", "Qt", "Motif", "Java", "ConsoleOnly",
    NULL};

/* Registered categories only, each once; Audio and Video bring the
 * AudioVideo they require. */
static GPtrArray *clean_categories(const char *const *untrusted) {
  GPtrArray *out = g_ptr_array_new();
  gboolean needs_audio_video = FALSE;
  for (guint i = 0; untrusted && untrusted[i] && i < MAX_CATEGORIES; i++) {
    for (guint k = 0; registered_categories[k]; k++) {
      const char *known = registered_categories[k];
      if (!g_str_equal(untrusted[i], known))
        continue;
      if (!g_ptr_array_find_with_equal_func(out, known, g_str_equal, NULL))
        g_ptr_array_add(out, (gpointer)known);
      needs_audio_video |= g_str_equal(known, "Audio") ||
                           g_str_equal(known, "Video");
      break;
    }
  }
  if (needs_audio_video &&
      !g_ptr_array_find_with_equal_func(out, "AudioVideo", g_str_equal, NULL))
    g_ptr_array_insert(out, 0, (gpointer) "AudioVideo");
  return out;
}

/* The media types desktop-file-validate accepts. inode/ (folders, mounts)
 * and x-content/ (what runs when media is inserted) are the host's own
 * business and are dropped. */
static const char *const media_types[] = {
    "application", "audio", "chemical", "font", "image", "message", "model",
    "multipart", "text", "video", "x-epoc", "x-scheme-handler", NULL};

/* "type/subtype" with a known type (lower-cased) and a subtype of
 * [A-Za-z0-9.+_-] starting with a letter or digit; NULL otherwise. */
static char *clean_mime_type(const char *untrusted) {
  gsize len = strnlen(untrusted, MAX_MIME_BYTES + 1);
  const char *slash = memchr(untrusted, '/', len);
  if (len > MAX_MIME_BYTES || !slash)
    return NULL;
  g_autofree char *type = g_ascii_strdown(untrusted, slash - untrusted);
  const char *subtype = slash + 1;
  if (!g_strv_contains(media_types, type) || !g_ascii_isalnum(subtype[0]))
    return NULL;
  for (const char *p = subtype; *p; p++)
    if (!g_ascii_isalnum(*p) && !strchr(".+_-", *p))
      return NULL;
  return g_strconcat(type, "/", subtype, NULL);
}

static GPtrArray *clean_mime_types(const char *const *untrusted) {
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; untrusted && untrusted[i] && i < MAX_MIME_TYPES; i++) {
    char *mime = clean_mime_type(untrusted[i]);
    gboolean seen = FALSE;
    for (guint k = 0; mime && !seen && k < out->len; k++)
      seen = !g_ascii_strcasecmp(out->pdata[k], mime);
    if (mime && !seen)
      g_ptr_array_add(out, mime);
    else
      g_free(mime);
  }
  return out;
}

static GPtrArray *clean_keywords(const char *const *untrusted) {
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; untrusted && untrusted[i] && i < MAX_KEYWORDS; i++) {
    char *word = clean_text(untrusted[i], MAX_KEYWORD_BYTES);
    gboolean seen = !*word;
    for (guint k = 0; !seen && k < out->len; k++)
      seen = text_equal_folded(out->pdata[k], word);
    if (!seen)
      g_ptr_array_add(out, word);
    else
      g_free(word);
  }
  return out;
}

/* --- Icons ---------------------------------------------------------------- */

static guint32 read_be32(const guint8 *p) {
  return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 |
         (guint32)p[3];
}

static void png_crc_table(guint32 table[256]) {
  for (guint32 n = 0; n < 256; n++) {
    guint32 c = n;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
}

static guint32 png_crc(const guint32 table[256], const guint8 *data,
                       gsize len) {
  guint32 crc = 0xffffffffu;
  for (gsize i = 0; i < len; i++)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

static gboolean is_icon_size(guint size) {
  for (guint i = 0; i < G_N_ELEMENTS(icon_sizes); i++)
    if (icon_sizes[i] == size)
      return TRUE;
  return FALSE;
}

/* Checks an untrusted PNG's structure without decoding its pixels: the
 * signature, every chunk's length and CRC, IHDR first with sane values,
 * image data, IEND last and nothing after it. Returns a copy holding only
 * the chunks needed to draw it (IHDR, PLTE, tRNS, IDAT, IEND): text,
 * colour profiles and the like do not reach the host's icon loaders.
 * @size: the hicolor directory it belongs in. NULL with @why on failure. */
static GBytes *clean_png(GBytes *untrusted_png, guint *size,
                         const char **why) {
  gsize len = 0;
  const guint8 *data = g_bytes_get_data(untrusted_png, &len);
  static const guint8 signature[8] = {0x89, 'P', 'N', 'G',
                                      '\r', '\n', 0x1a, '\n'};
  if (len > MAX_ICON_BYTES) {
    *why = "the icon is larger than 1 MiB";
    return NULL;
  }
  if (len < sizeof signature || memcmp(data, signature, sizeof signature)) {
    *why = "the icon is not a PNG";
    return NULL;
  }
  guint32 crc_table[256];
  png_crc_table(crc_table);
  g_autoptr(GByteArray) out = g_byte_array_new();
  g_byte_array_append(out, signature, sizeof signature);
  guint32 width = 0, height = 0;
  guint8 color_type = 0;
  gboolean has_plte = FALSE, has_idat = FALSE, has_iend = FALSE;
  gsize off = sizeof signature;
  for (guint n = 0; off < len; n++) {
    if (n >= MAX_PNG_CHUNKS || len - off < 12) {
      *why = "the icon's PNG chunks are truncated or too many";
      return NULL;
    }
    guint32 clen = read_be32(data + off);
    const guint8 *type = data + off + 4;
    if (clen > len - off - 12) {
      *why = "a PNG chunk runs past the end of the icon";
      return NULL;
    }
    for (int i = 0; i < 4; i++) {
      if (!g_ascii_isalpha(type[i])) {
        *why = "the icon has a PNG chunk with a bad type";
        return NULL;
      }
    }
    if (png_crc(crc_table, type, clen + 4) != read_be32(type + 4 + clen)) {
      *why = "a PNG chunk of the icon fails its CRC";
      return NULL;
    }
    const guint8 *body = type + 4;
    gboolean keep = FALSE;
    if (n == 0) {
      if (memcmp(type, "IHDR", 4) || clen != 13) {
        *why = "the icon's PNG does not start with its header";
        return NULL;
      }
      width = read_be32(body);
      height = read_be32(body + 4);
      guint8 depth = body[8];
      color_type = body[9];
      gboolean depth_ok =
          (color_type == 0 && (depth == 1 || depth == 2 || depth == 4 ||
                               depth == 8 || depth == 16)) ||
          (color_type == 3 && (depth == 1 || depth == 2 || depth == 4 ||
                               depth == 8)) ||
          ((color_type == 2 || color_type == 4 || color_type == 6) &&
           (depth == 8 || depth == 16));
      if (!depth_ok || body[10] != 0 || body[11] != 0 || body[12] > 1) {
        *why = "the icon's PNG header has invalid values";
        return NULL;
      }
      keep = TRUE;
    } else if (!memcmp(type, "IHDR", 4)) {
      *why = "the icon's PNG has two headers";
      return NULL;
    } else if (!memcmp(type, "PLTE", 4)) {
      keep = has_plte = TRUE;
    } else if (!memcmp(type, "tRNS", 4)) {
      keep = TRUE;
    } else if (!memcmp(type, "IDAT", 4)) {
      keep = has_idat = TRUE;
    } else if (!memcmp(type, "IEND", 4)) {
      keep = has_iend = TRUE;
    } else if (g_ascii_isupper(type[0])) {
      /* An unknown critical chunk: decoders must refuse the image. */
      *why = "the icon's PNG has an unknown critical chunk";
      return NULL;
    }
    if (keep)
      g_byte_array_append(out, data + off, clen + 12);
    off += (gsize)clen + 12;
    if (has_iend)
      break;
  }
  if (!has_iend || off != len || !has_idat || (color_type == 3 && !has_plte)) {
    *why = "the icon's PNG is incomplete or has data after its end";
    return NULL;
  }
  if (width == 0 || height == 0 || width > 1024 || height > 1024) {
    *why = "the icon is larger than 1024 pixels or empty";
    return NULL;
  }
  guint longest = MAX(width, height), shortest = MIN(width, height);
  if (shortest * 2 < longest) {
    *why = "the icon is far from square";
    return NULL;
  }
  if (!is_icon_size(longest)) {
    *why = "the icon's size is not one the hicolor theme has a directory "
           "for (16, 22, 24, 32, 36, 48, 64, 72, 96, 128, 192, 256, 512)";
    return NULL;
  }
  *size = longest;
  return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/* --- Files ---------------------------------------------------------------- */

static gboolean set_errno_error(GError **error, int saved_errno,
                                const char *what, const char *path) {
  g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved_errno),
              "Could not %s “%s”: %s", what, path, g_strerror(saved_errno));
  return FALSE;
}

static gboolean make_dir(const char *path, GError **error) {
  if (g_mkdir_with_parents(path, 0700) != 0)
    return set_errno_error(error, errno, "create", path);
  return TRUE;
}

/* Writes @data to @path (temporary file + rename) unless the file already
 * holds exactly that, so that unchanged entries keep their mtime and the
 * desktop does not reload menus for nothing. */
static gboolean write_if_changed(const char *path, const void *data,
                                 gsize len, gboolean *changed,
                                 GError **error) {
  GStatBuf st;
  *changed = FALSE;
  if (g_lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
      (gsize)st.st_size == len) {
    g_autofree char *old = NULL;
    gsize old_len = 0;
    if (g_file_get_contents(path, &old, &old_len, NULL) && old_len == len &&
        memcmp(old, data, len) == 0)
      return TRUE;
  }
  if (!g_file_set_contents_full(path, data, (gssize)len,
                                G_FILE_SET_CONTENTS_CONSISTENT, 0644, error))
    return FALSE;
  *changed = TRUE;
  return TRUE;
}

static gboolean remove_file(const char *path, GError **error) {
  if (g_unlink(path) != 0 && errno != ENOENT)
    return set_errno_error(error, errno, "remove", path);
  return TRUE;
}

/* Ours: a regular file whose entry names @vm in X-Tandem-VM. A file that
 * does not parse is not provably ours and is left alone. */
static gboolean entry_belongs_to(const char *path, const char *vm) {
  GStatBuf st;
  if (g_lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size > 1024 * 1024)
    return FALSE;
  g_autoptr(GKeyFile) kf = g_key_file_new();
  if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
    return FALSE;
  g_autofree char *owner =
      g_key_file_get_string(kf, ENTRY_GROUP, KEY_VM, NULL);
  return owner && g_str_equal(owner, vm);
}

/* Names in @dir that start with @prefix and end with @suffix (the
 * directory may be missing). */
static GPtrArray *list_dir(const char *dir, const char *prefix,
                           const char *suffix) {
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name(d));)
    if (g_str_has_prefix(name, prefix) && g_str_has_suffix(name, suffix))
      g_ptr_array_add(names, g_strdup(name));
  return names;
}

/* --- Entries -------------------------------------------------------------- */

static char *build_entry(TandemMenuExporter *self, const char *vm,
                         const TandemMenuApp *app, const char *desktop_id,
                         const char *icon_name) {
  g_autofree char *name = clean_text(app->name, MAX_NAME_BYTES);
  if (!*name) {
    g_free(name);
    name = g_strdup(app->id); /* checked by app_id_is_usable() */
  }
  g_autofree char *generic_name =
      clean_text(app->generic_name, MAX_NAME_BYTES);
  g_autofree char *guest_comment =
      clean_text(app->comment, MAX_COMMENT_BYTES);
  g_autofree char *comment =
      *guest_comment
          /* TRANSLATORS: a menu entry's tooltip: the application's own
           * description (%1$s), then the virtual machine it runs in. */
          ? g_strdup_printf(_("%1$s (in the virtual machine “%2$s”)"),
                            guest_comment, vm)
          /* TRANSLATORS: a menu entry's tooltip; %s is the name of the
           * virtual machine the application runs in. */
          : g_strdup_printf(_("Runs in the virtual machine “%s”"), vm);
  g_autoptr(GPtrArray) categories = clean_categories(app->categories);
  g_autoptr(GPtrArray) mime_types = clean_mime_types(app->mime_types);
  g_autoptr(GPtrArray) keywords = clean_keywords(app->keywords);

  g_autoptr(GString) exec = g_string_new(NULL);
  append_exec_arg(exec, self->tandemctl);
  append_exec_arg(exec, "launch");
  append_exec_arg(exec, vm);
  append_exec_arg(exec, app->id);
  /* URIs, not paths: the file is on the host and tandemctl decides how it
   * reaches the guest. */
  if (mime_types->len)
    g_string_append(exec, " %U");

  GString *e = g_string_new("[" ENTRY_GROUP "]\n");
  put_value(e, "Type", "Application");
  put_value(e, "Name", name);
  if (*generic_name && !text_equal_folded(generic_name, name))
    put_value(e, "GenericName", generic_name);
  put_value(e, "Comment", comment);
  put_value(e, "Icon", icon_name);
  if (g_path_is_absolute(self->tandemctl))
    put_value(e, "TryExec", self->tandemctl);
  put_value(e, "Exec", exec->str);
  /* The guest runs terminal applications in a terminal of its own. */
  put_value(e, "Terminal", "false");
  put_value(e, "StartupNotify", "true");
  put_value(e, "StartupWMClass", desktop_id);
  put_list(e, "Categories", categories);
  put_list(e, "MimeType", mime_types);
  put_list(e, "Keywords", keywords);
  put_value(e, KEY_VM, vm);
  put_value(e, KEY_APP, app->id);
  return g_string_free(e, FALSE);
}

/* Writes one app's icon and entry, and records them in @entries (desktop
 * ids) and @icons (paths under the hicolor directory) so that the sweep
 * keeps them. */
static gboolean export_app(TandemMenuExporter *self, const char *vm,
                           const TandemMenuApp *app, GHashTable *entries,
                           GHashTable *icons, gboolean *icons_changed,
                           GError **error) {
  if (!app_id_is_usable(app->id)) {
    g_debug("VM %s: skipping an application whose id is empty, too long or "
            "has characters tandemctl cannot take",
            vm);
    return TRUE;
  }
  g_autofree char *desktop_id = tandem_menu_desktop_id(vm, app->id);
  if (g_hash_table_contains(entries, desktop_id)) {
    g_debug("VM %s: application %s appears twice; keeping the first", vm,
            app->id);
    return TRUE;
  }
  g_hash_table_add(entries, g_strdup(desktop_id));

  const char *icon_name = TANDEM_MENU_FALLBACK_ICON;
  const char *why = "the guest sent no icon";
  guint size = 0;
  g_autoptr(GBytes) png = NULL;
  if (app->icon_png && g_bytes_get_size(app->icon_png))
    png = clean_png(app->icon_png, &size, &why);
  if (png) {
    g_autofree char *rel =
        g_strdup_printf("%ux%u/apps/%s.png", size, size, desktop_id);
    g_autofree char *path = g_build_filename(self->hicolor_dir, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    gboolean changed = FALSE;
    if (!make_dir(dir, error) ||
        !write_if_changed(path, g_bytes_get_data(png, NULL),
                          g_bytes_get_size(png), &changed, error))
      return FALSE;
    *icons_changed |= changed;
    g_hash_table_add(icons, g_steal_pointer(&rel));
    icon_name = desktop_id;
  } else {
    g_debug("VM %s, application %s: %s; using the %s icon", vm, app->id, why,
            TANDEM_MENU_FALLBACK_ICON);
  }

  g_autofree char *entry = build_entry(self, vm, app, desktop_id, icon_name);
  g_autofree char *file = g_strconcat(desktop_id, ".desktop", NULL);
  g_autofree char *path = g_build_filename(self->applications_dir, file, NULL);
  gboolean changed = FALSE;
  return make_dir(self->applications_dir, error) &&
         write_if_changed(path, entry, strlen(entry), &changed, error);
}

/* Deletes @vm's entries and icons that are not in @entries / @icons. */
static gboolean sweep(TandemMenuExporter *self, const char *vm,
                      GHashTable *entries, GHashTable *icons,
                      gboolean *icons_changed, GError **error) {
  g_autofree char *prefix = g_strconcat(ID_PREFIX, vm, ".", NULL);
  g_autoptr(GPtrArray) names =
      list_dir(self->applications_dir, prefix, ".desktop");
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    g_autofree char *id =
        g_strndup(name, strlen(name) - strlen(".desktop"));
    g_autofree char *path =
        g_build_filename(self->applications_dir, name, NULL);
    if (g_hash_table_contains(entries, id) || !entry_belongs_to(path, vm))
      continue;
    if (!remove_file(path, error))
      return FALSE;
  }
  /* Icons carry no owner key: the name (VM names have no '.') says whose. */
  for (guint s = 0; s < G_N_ELEMENTS(icon_sizes); s++) {
    g_autofree char *dir = g_strdup_printf("%ux%u/apps", icon_sizes[s],
                                           icon_sizes[s]);
    g_autofree char *abs = g_build_filename(self->hicolor_dir, dir, NULL);
    g_autoptr(GPtrArray) icon_names = list_dir(abs, prefix, ".png");
    for (guint i = 0; i < icon_names->len; i++) {
      g_autofree char *rel =
          g_build_filename(dir, icon_names->pdata[i], NULL);
      if (g_hash_table_contains(icons, rel))
        continue;
      g_autofree char *path = g_build_filename(self->hicolor_dir, rel, NULL);
      if (!remove_file(path, error))
        return FALSE;
      *icons_changed = TRUE;
    }
  }
  return TRUE;
}

/* GTK and other icon caches rescan a theme when its directory's mtime
 * changes; adding a file two levels down does not change it. */
static void touch_icon_theme(TandemMenuExporter *self) {
  if (g_utime(self->hicolor_dir, NULL) != 0)
    g_debug("Could not update the mtime of %s: %s", self->hicolor_dir,
            g_strerror(errno));
}

/* --- Public --------------------------------------------------------------- */

TandemMenuExporter *tandem_menu_exporter_new(const char *data_home,
                                             const char *tandemctl) {
  g_return_val_if_fail(tandemctl != NULL && *tandemctl, NULL);
  TandemMenuExporter *self = g_new0(TandemMenuExporter, 1);
  const char *home = data_home ? data_home : g_get_user_data_dir();
  self->applications_dir = g_build_filename(home, "applications", NULL);
  self->hicolor_dir = g_build_filename(home, "icons", "hicolor", NULL);
  self->tandemctl = g_strdup(tandemctl);
  return self;
}

void tandem_menu_exporter_free(TandemMenuExporter *self) {
  if (!self)
    return;
  g_free(self->applications_dir);
  g_free(self->hicolor_dir);
  g_free(self->tandemctl);
  g_free(self);
}

gboolean tandem_menu_exporter_sync(TandemMenuExporter *self, const char *vm,
                                   const TandemMenuApp *apps, guint n,
                                   GError **error) {
  g_return_val_if_fail(self != NULL, FALSE);
  g_return_val_if_fail(apps != NULL || n == 0, FALSE);
  if (!tandem_vm_name_is_valid(vm)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "“%s” is not a valid VM name", vm ? vm : "");
    return FALSE;
  }
  g_autoptr(GHashTable) entries =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) icons =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  gboolean icons_changed = FALSE;
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < n; i++)
    ok = export_app(self, vm, &apps[i], entries, icons, &icons_changed,
                    error);
  if (ok)
    ok = sweep(self, vm, entries, icons, &icons_changed, error);
  if (icons_changed)
    touch_icon_theme(self);
  return ok;
}

gboolean tandem_menu_exporter_remove_vm(TandemMenuExporter *self,
                                        const char *vm, GError **error) {
  return tandem_menu_exporter_sync(self, vm, NULL, 0, error);
}

/* --- Matching windows ----------------------------------------------------- */

static gboolean class_equal(const char *a, const char *b) {
  return a && b && *a && *b && !g_ascii_strcasecmp(a, b);
}

/* What follows the id's last '.' or '-', or NULL if it has neither. */
static const char *last_component(const char *id) {
  const char *dot = strrchr(id, '.');
  const char *dash = strrchr(id, '-');
  const char *sep = !dot ? dash : !dash ? dot : dot > dash ? dot : dash;
  return sep ? sep + 1 : NULL;
}

typedef enum { BY_WM_CLASS, BY_ID, BY_LAST_COMPONENT } MatchRule;

static const char *match_rule(const TandemMenuApp *apps, guint n,
                              MatchRule rule, const char *res) {
  for (guint i = 0; i < n; i++) {
    const char *id = apps[i].id;
    if (!id)
      continue;
    const char *key = rule == BY_WM_CLASS ? apps[i].startup_wm_class
                      : rule == BY_ID     ? id
                                          : last_component(id);
    if (class_equal(key, res))
      return id;
  }
  return NULL;
}

const char *tandem_menu_match_app(const TandemMenuApp *apps, guint n,
                                  const char *res_name,
                                  const char *res_class) {
  g_return_val_if_fail(apps != NULL || n == 0, NULL);
  /* Within a rule the instance (res_name) goes first, as in GNOME Shell:
   * it is the more specific of the two (browsers' web apps share a class
   * and differ by instance). */
  for (MatchRule rule = BY_WM_CLASS; rule <= BY_LAST_COMPONENT; rule++) {
    const char *id = match_rule(apps, n, rule, res_name);
    if (!id)
      id = match_rule(apps, n, rule, res_class);
    if (id)
      return id;
  }
  return NULL;
}
