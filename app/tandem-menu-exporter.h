/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host menu exporter: puts a VM's application catalog in the host's
 * application menu as XDG desktop entries and hicolor icons, and tells which
 * catalog entry a guest window belongs to.
 *
 * Pure GLib, no GTK, no main loop: every call does its (small, local) file
 * I/O synchronously and returns. docs/menu.md describes what is written and
 * where.
 *
 * Everything in a TandemMenuApp comes from the guest and is untrusted: text
 * is sanitised (valid UTF-8, no control or bidi-override characters, length
 * capped) and escaped, categories and MIME types are filtered, icons are
 * checked and stripped to their image chunks before anything is written.
 * The VM name and the tandemctl path are the host's own and trusted.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One catalog entry as the agent sent it (APP_ENTRY). The exporter only
 * reads it, during the call it is passed to. */
typedef struct {
  const char *id;               /* desktop file id without .desktop */
  const char *name;
  const char *generic_name;     /* may be NULL or empty */
  const char *comment;          /* may be NULL or empty */
  const char *startup_wm_class; /* may be NULL or empty */
  gboolean terminal;            /* the guest wraps these itself; not exported */
  const char *const *categories; /* NULL-terminated, or NULL */
  const char *const *mime_types; /* NULL-terminated, or NULL */
  const char *const *keywords;   /* NULL-terminated, or NULL */
  GBytes *icon_png;              /* may be NULL or empty */
} TandemMenuApp;

typedef struct _TandemMenuExporter TandemMenuExporter;

/* Icon name of the entries whose own icon is missing or unusable. */
#define TANDEM_MENU_FALLBACK_ICON "org.tandem.Tandem"

/* @data_home: the XDG data directory to write under (NULL: the user's,
 * g_get_user_data_dir()); entries go to @data_home/applications, icons to
 * @data_home/icons/hicolor/NxN/apps. @tandemctl: what the entries' Exec
 * runs, an absolute path or a bare "tandemctl" looked up in PATH. Both are
 * copied. No I/O here. */
TandemMenuExporter *tandem_menu_exporter_new(const char *data_home,
                                             const char *tandemctl);
void tandem_menu_exporter_free(TandemMenuExporter *exporter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemMenuExporter, tandem_menu_exporter_free)

/* Makes the menu hold exactly @apps (@n of them) for @vm: writes entries and
 * icons that are new or changed, each atomically (temporary file, rename;
 * unchanged files are not rewritten), and deletes this VM's entries and
 * icons that are no longer wanted. Other VMs' files and files Tandem did not
 * write are left alone. Apps with an unusable id (empty, longer than 255
 * bytes, characters outside [A-Za-z0-9._+@-], or a leading '-') and repeats
 * of an id are skipped with a debug message; a bad icon falls back to
 * TANDEM_MENU_FALLBACK_ICON. When an icon was added or removed, the hicolor
 * directory's mtime is updated so icon caches notice.
 * Fails with G_IO_ERROR_INVALID_ARGUMENT if @vm is not a valid VM name
 * (tandem_vm_name_is_valid()), or with a G_FILE_ERROR if a file cannot be
 * written or removed (the first such error ends the call). */
gboolean tandem_menu_exporter_sync(TandemMenuExporter *exporter,
                                   const char *vm, const TandemMenuApp *apps,
                                   guint n, GError **error);

/* Removes every entry and icon of @vm: tandem_menu_exporter_sync() with no
 * apps. For a VM that is deleted (not one that merely stops: its menu
 * entries start it). */
gboolean tandem_menu_exporter_remove_vm(TandemMenuExporter *exporter,
                                        const char *vm, GError **error);

/* "tandem.VM.APP": the desktop file's name without ".desktop", also the
 * name of its icon. APP is @app_id when that is made of [A-Za-z0-9._-],
 * at most 160 bytes, and does not end in an image extension; otherwise a
 * cleaned, shortened form plus "-" and 12 hex digits of its SHA-256, so
 * that two ids never share a file. VM names contain no '.', so the id is
 * unique per (VM, app). @vm must be a valid VM name. Free with g_free(). */
char *tandem_menu_desktop_id(const char *vm, const char *app_id);

/* The WM_CLASS (res_name and res_class) the proxy windows of @app_id must
 * carry: the entry's StartupWMClass, so the host's taskbar groups them under
 * the entry and shows its icon. Equal to tandem_menu_desktop_id(), which
 * also serves desktops that match WM_CLASS to desktop file names. Free with
 * g_free(). */
char *tandem_menu_wm_class(const char *vm, const char *app_id);

/* Which of @apps a guest window belongs to, from its WM_CLASS (@res_name,
 * @res_class; either may be NULL or empty). Rules, in order: an app whose
 * StartupWMClass equals the window's res_name or res_class; one whose id
 * does; one whose id's last '.'- or '-'-separated component does
 * ("org.xfce.mousepad" for "Mousepad", "debian-xterm" for "XTerm").
 * Comparisons ignore ASCII case. Within a rule res_name is tried before
 * res_class (it is the more specific, as GNOME Shell also assumes), then
 * the first app in @apps wins. Returns that app's id (owned by @apps), or
 * NULL. */
const char *tandem_menu_match_app(const TandemMenuApp *apps, guint n,
                                  const char *res_name,
                                  const char *res_class);

G_END_DECLS
