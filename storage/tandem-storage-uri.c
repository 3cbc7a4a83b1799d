/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-storage-uri.h"

#include <gio/gio.h>
#include <string.h>

#define FORMS                                                                  \
  "nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH or "             \
  "iscsi://HOST[:PORT]/TARGET/LUN"

void tandem_storage_uri_free(TandemStorageUri *uri) {
  if (!uri)
    return;
  g_free(uri->host);
  g_free(uri->socket_path);
  g_free(uri->export_name);
  g_free(uri->target);
  g_free(uri);
}

static gboolean fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean fail(GError **error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s", msg);
  return FALSE;
}

/* Printable UTF-8 without control characters: names that reach QEMU's
 * JSON and the user's screen. */
static gboolean is_clean(const char *s) {
  if (!g_utf8_validate(s, -1, NULL))
    return FALSE;
  for (const char *p = s; *p; p = g_utf8_next_char(p))
    if (g_unichar_iscntrl(g_utf8_get_char(p)))
      return FALSE;
  return TRUE;
}

static gboolean take_host(GUri *u, TandemStorageUri *out, guint16 dflt,
                          GError **error) {
  const char *host = g_uri_get_host(u);
  if (!host || !*host)
    return fail(error, "The address names no server: write it as " FORMS);
  if (strlen(host) > 253 || !is_clean(host) || strchr(host, '/'))
    return fail(error, "“%s” is not a host name or address", host);
  int port = g_uri_get_port(u);
  if (port == 0 || port > 65535)
    return fail(error, "The port must be between 1 and 65535");
  out->host = g_strdup(host);
  out->port = port < 0 ? dflt : (guint16)port;
  return TRUE;
}

static gboolean parse_nbd_unix(GUri *u, TandemStorageUri *out,
                               GError **error) {
  if (g_uri_get_host(u) && *g_uri_get_host(u))
    return fail(error, "nbd+unix:// takes no host: write "
                       "nbd+unix:///EXPORT?socket=PATH");
  const char *query = g_uri_get_query(u);
  g_autoptr(GError) e = NULL;
  g_autoptr(GHashTable) params =
      query ? g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, &e) : NULL;
  if (query && !params)
    return fail(error, "The query of the address is malformed: %s",
                e->message);
  const char *socket = params ? g_hash_table_lookup(params, "socket") : NULL;
  if (!socket)
    return fail(error, "nbd+unix:// needs the socket: write "
                       "nbd+unix:///EXPORT?socket=PATH");
  if (g_hash_table_size(params) != 1)
    return fail(error, "Only the socket=PATH parameter is understood in an "
                       "nbd+unix:// address");
  if (!g_path_is_absolute(socket) || !is_clean(socket))
    return fail(error, "The socket must be an absolute path, not “%s”",
                socket);
  if (strlen(socket) >= 108)
    return fail(error, "The socket path is too long for a UNIX socket "
                       "(at most 107 bytes)");
  out->socket_path = g_strdup(socket);
  return TRUE;
}

static gboolean parse_iscsi(GUri *u, TandemStorageUri *out, GError **error) {
  if (!take_host(u, out, TANDEM_STORAGE_ISCSI_PORT, error))
    return FALSE;
  if (g_uri_get_query(u))
    return fail(error, "An iscsi:// address takes no query parameters");
  const char *path = g_uri_get_path(u);
  g_auto(GStrv) parts = g_strsplit(*path == '/' ? path + 1 : path, "/", -1);
  if (g_strv_length(parts) != 2 || !*parts[0] || !*parts[1])
    return fail(error, "An iSCSI address names a target and a LUN: write "
                       "iscsi://HOST[:PORT]/TARGET/LUN");
  if (strlen(parts[0]) > 223 || !is_clean(parts[0]))
    return fail(error, "“%s” is not an iSCSI target name", parts[0]);
  guint64 lun;
  if (!g_ascii_string_to_unsigned(parts[1], 10, 0, 16383, &lun, NULL))
    return fail(error, "The LUN must be a number from 0 to 16383, not “%s”",
                parts[1]);
  out->target = g_strdup(parts[0]);
  out->lun = (guint)lun;
  return TRUE;
}

TandemStorageUri *tandem_storage_uri_parse(const char *text, GError **error) {
  if (!text || !*text) {
    fail(error, "No address given: write " FORMS);
    return NULL;
  }
  if (strlen(text) > TANDEM_STORAGE_MAX_URI || !is_clean(text)) {
    fail(error, "The address is too long or has control characters");
    return NULL;
  }
  g_autoptr(GError) e = NULL;
  g_autoptr(GUri) u = g_uri_parse(text, G_URI_FLAGS_NONE, &e);
  if (!u) {
    fail(error, "“%s” is not an address (%s): write " FORMS, text,
         e->message);
    return NULL;
  }
  const char *scheme = g_uri_get_scheme(u);
  g_autoptr(TandemStorageUri) out = g_new0(TandemStorageUri, 1);
  if (g_uri_get_userinfo(u)) {
    fail(error, "User names and passwords in the address are not supported");
    return NULL;
  }
  if (g_uri_get_fragment(u)) {
    fail(error, "An address of a disk has no #fragment");
    return NULL;
  }
  gboolean ok;
  if (!g_ascii_strcasecmp(scheme, "nbd") ||
      !g_ascii_strcasecmp(scheme, "nbd+unix")) {
    out->protocol = TANDEM_STORAGE_NBD;
    const char *path = g_uri_get_path(u);
    const char *export_name = *path == '/' ? path + 1 : path;
    if (strlen(export_name) > TANDEM_STORAGE_MAX_EXPORT ||
        !is_clean(export_name)) {
      fail(error, "The export name is too long (at most %d bytes) or not "
                  "text", TANDEM_STORAGE_MAX_EXPORT);
      return NULL;
    }
    out->export_name = g_strdup(export_name);
    if (!g_ascii_strcasecmp(scheme, "nbd")) {
      ok = take_host(u, out, TANDEM_STORAGE_NBD_PORT, error);
      if (ok && g_uri_get_query(u))
        ok = fail(error, "An nbd:// address takes no query parameters "
                         "(for a UNIX socket write "
                         "nbd+unix:///EXPORT?socket=PATH)");
    } else {
      ok = parse_nbd_unix(u, out, error);
    }
  } else if (!g_ascii_strcasecmp(scheme, "iscsi")) {
    out->protocol = TANDEM_STORAGE_ISCSI;
    ok = parse_iscsi(u, out, error);
  } else {
    ok = fail(error, "Tandem cannot attach “%s:” addresses: write " FORMS,
              scheme);
  }
  return ok ? g_steal_pointer(&out) : NULL;
}

/* Paths stay readable: only what would change the address's meaning is
 * escaped (for an export, a '/' would not: it is one path). */
static char *escape(const char *s) {
  return g_uri_escape_string(s, "/:@!$'()*+,;=", TRUE);
}

char *tandem_storage_uri_to_string(const TandemStorageUri *uri) {
  g_autofree char *host = NULL;
  if (uri->host)
    host = strchr(uri->host, ':') ? g_strdup_printf("[%s]", uri->host)
                                  : g_strdup(uri->host);
  if (uri->protocol == TANDEM_STORAGE_ISCSI) {
    g_autofree char *target = escape(uri->target);
    return g_strdup_printf("iscsi://%s:%u/%s/%u", host, uri->port, target,
                           uri->lun);
  }
  g_autofree char *export_name = escape(uri->export_name);
  if (uri->socket_path) {
    g_autofree char *sock = escape(uri->socket_path);
    return g_strdup_printf("nbd+unix:///%s?socket=%s", export_name, sock);
  }
  return g_strdup_printf("nbd://%s:%u/%s", host, uri->port, export_name);
}

char *tandem_storage_uri_default_name(const TandemStorageUri *uri) {
  const char *from = uri->protocol == TANDEM_STORAGE_ISCSI ? uri->target
                                                           : uri->export_name;
  const char *slash = from ? strrchr(from, '/') : NULL;
  if (slash)
    from = slash + 1;
  if (!from || !*from)
    from = uri->host ? uri->host : "disk";
  GString *name = g_string_new(NULL);
  for (const char *p = from; *p && name->len < 32; p++)
    if (g_ascii_isalnum(*p) || *p == '.' || *p == '_' || *p == '-')
      g_string_append_c(name, *p);
  if (!name->len || name->str[0] == '.' || name->str[0] == '-')
    g_string_prepend(name, "disk");
  if (name->len > 32)
    g_string_truncate(name, 32);
  return g_string_free(name, FALSE);
}
