/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guest's application catalog, as its users' desktops would show it.
 *
 * Follows the Desktop Entry Specification: applications directories under
 * $XDG_DATA_HOME then each of $XDG_DATA_DIRS, the first desktop file id
 * found winning (so the user's own override the system's); Hidden and
 * NoDisplay; OnlyShowIn/NotShowIn against $XDG_CURRENT_DESKTOP; TryExec;
 * Terminal; localized keys for the host's locale; Exec field codes.
 * Plain logic over files: no X, no GTK, no channel.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *id;               /* desktop file id without ".desktop" */
  char *path;             /* the desktop file */
  char *name, *generic_name, *comment, *startup_wm_class;
  char *exec;             /* the Exec line, unexpanded */
  char *icon;             /* Icon= as written: a theme name or a path */
  gboolean terminal;
  GStrv categories, mime_types, keywords;
} TandemAppEntry;

void tandem_app_entry_free(TandemAppEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemAppEntry, tandem_app_entry_free)

/* Scans @data_dirs (NULL-terminated, highest precedence first; each holds
 * an "applications" directory). @locale: the host's (NULL: untranslated).
 * @desktops: the guest's desktop names for OnlyShowIn/NotShowIn (may be
 * NULL). Returns TandemAppEntry, sorted by id. Unreadable or invalid files
 * are skipped with a debug message. */
GPtrArray *tandem_catalog_scan(const char *const *data_dirs,
                               const char *locale,
                               const char *const *desktops);

/* The data dirs of this session, in precedence order. */
GStrv tandem_catalog_default_data_dirs(void);

/* Expands @entry's Exec line for @args (files or URIs) into an argv, as
 * the spec says: %f/%u one argument (the first), %F/%U all of them, %i the
 * icon, %c the name, %k the desktop file, %% a percent sign; deprecated
 * codes dropped. Arguments never pass through a shell. Fails (G_SHELL_ERROR
 * or G_IO_ERROR_INVALID_ARGUMENT) on a malformed Exec line. */
GStrv tandem_catalog_expand_exec(const TandemAppEntry *entry,
                                 const char *const *args, GError **error);

/* Finds @entry's icon and renders it as a PNG of @size pixels (bounded to
 * @max_bytes). NULL if none is found or it cannot be rendered. */
GBytes *tandem_catalog_load_icon(const TandemAppEntry *entry,
                                 const char *const *data_dirs,
                                 const char *theme, int size,
                                 gsize max_bytes);

G_END_DECLS
