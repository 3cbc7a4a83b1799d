/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where an external disk lives, as the user writes it:
 *
 *   nbd://HOST[:PORT]/EXPORT            NBD over TCP (port 10809 by default)
 *   nbd+unix:///EXPORT?socket=PATH      NBD on a local UNIX socket
 *   iscsi://HOST[:PORT]/TARGET/LUN      iSCSI (port 3260 by default)
 *
 * The export name may be empty (the server's default export). Parsing is
 * strict and every error says what form was expected: user names and
 * passwords, fragments and unknown query parameters are refused rather
 * than ignored. Pure logic, GLib only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  TANDEM_STORAGE_NBD,
  TANDEM_STORAGE_ISCSI,
} TandemStorageProtocol;

#define TANDEM_STORAGE_NBD_PORT 10809
#define TANDEM_STORAGE_ISCSI_PORT 3260
/* NBD's limit on export names (the protocol's own). */
#define TANDEM_STORAGE_MAX_EXPORT 4096
#define TANDEM_STORAGE_MAX_URI 8192

typedef struct {
  TandemStorageProtocol protocol;
  char *host;        /* NULL for a UNIX socket */
  guint16 port;      /* with host */
  char *socket_path; /* nbd+unix: an absolute path */
  char *export_name; /* NBD: may be "" */
  char *target;      /* iSCSI: the target's IQN */
  guint lun;         /* iSCSI */
} TandemStorageUri;

void tandem_storage_uri_free(TandemStorageUri *uri);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemStorageUri, tandem_storage_uri_free)

/* NULL and G_IO_ERROR_INVALID_ARGUMENT with a message for the user when
 * @text is not one of the forms above. */
TandemStorageUri *tandem_storage_uri_parse(const char *text, GError **error);

/* The canonical form (default ports spelled out), for lists and configs. */
char *tandem_storage_uri_to_string(const TandemStorageUri *uri);

/* A short name for the attachment when the user gives none: the export's
 * or target's last component, else the host; [A-Za-z0-9._-] only, at most
 * 32 characters, never empty. */
char *tandem_storage_uri_default_name(const TandemStorageUri *uri);

G_END_DECLS
