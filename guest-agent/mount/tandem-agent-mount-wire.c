/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one-line requests and replies of tandem-mount-helper's socket. Both
 * sides distrust each other's bytes: everything is bounded and checked. */
#include "tandem-agent-mount.h"

#include <string.h>

void tandem_mount_request_free(TandemMountRequest *r) {
  if (!r)
    return;
  g_free(r->serial);
  g_free(r->label);
  g_free(r);
}

static gboolean invalid(GError **error, const char *why) {
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s", why);
  return FALSE;
}

/* The line without its newline; FALSE if it is too long or holds anything
 * but printable ASCII. */
static gboolean line_body(const char *line, gsize max, gsize *len,
                          GError **error) {
  gsize n = strlen(line);
  if (n > 0 && line[n - 1] == '\n')
    n--;
  if (n + 1 > max)
    return invalid(error, "line too long");
  for (gsize i = 0; i < n; i++)
    if ((guchar)line[i] < 0x20 || (guchar)line[i] > 0x7e)
      return invalid(error, "control or non-ASCII character in the request");
  *len = n;
  return TRUE;
}

TandemMountRequest *tandem_mount_request_parse(const char *line,
                                               GError **error) {
  gsize len = 0;
  if (!line_body(line, TANDEM_MOUNT_MAX_REQUEST, &len, error))
    return NULL;
  g_autofree char *body = g_strndup(line, len);
  g_auto(GStrv) f = g_strsplit(body, " ", -1);
  guint n = g_strv_length(f);
  g_autoptr(TandemMountRequest) r = g_new0(TandemMountRequest, 1);
  if (n == 4 && strcmp(f[0], "mount") == 0) {
    if (strcmp(f[3], "ro") != 0 && strcmp(f[3], "rw") != 0) {
      invalid(error, "the mode must be ro or rw");
      return NULL;
    }
    r->label = g_strdup(f[2]);
    r->read_only = strcmp(f[3], "ro") == 0;
  } else if ((n == 2 || n == 3) && strcmp(f[0], "unmount") == 0) {
    if (n == 3 && strcmp(f[2], "lazy") != 0) {
      invalid(error, "unmount takes only the option lazy");
      return NULL;
    }
    r->unmount = TRUE;
    r->lazy = n == 3;
  } else {
    invalid(error, "expected “mount SERIAL LABEL ro|rw” or “unmount SERIAL "
                   "[lazy]”");
    return NULL;
  }
  r->serial = g_strdup(f[1]);
  if (!tandem_mount_serial_is_valid(r->serial)) {
    invalid(error, "invalid serial");
    return NULL;
  }
  if (r->label && !tandem_mount_label_is_valid(r->label)) {
    invalid(error, "invalid label");
    return NULL;
  }
  return g_steal_pointer(&r);
}

char *tandem_mount_request_format(const TandemMountRequest *r) {
  if (!tandem_mount_serial_is_valid(r->serial))
    return NULL;
  if (r->unmount)
    return g_strdup_printf("unmount %s%s\n", r->serial, r->lazy ? " lazy" : "");
  if (!tandem_mount_label_is_valid(r->label))
    return NULL;
  return g_strdup_printf("mount %s %s %s\n", r->serial, r->label,
                         r->read_only ? "ro" : "rw");
}

char *tandem_mount_result_format(const TandemMountResult *result) {
  /* Re-cleaned, so a result built by hand cannot break the line. */
  g_autoptr(TandemMountResult) r = tandem_mount_result_new(
      result->status, result->mountpoint, "%s", result->message);
  tandem_mount_result_set_fs(r, result->fs_type, result->total_bytes,
                             result->free_bytes);
  return g_strdup_printf("%u\t%s\t%s\t%" G_GUINT64_FORMAT
                         "\t%" G_GUINT64_FORMAT "\t%s\n",
                         (unsigned)r->status, r->mountpoint, r->fs_type,
                         r->total_bytes, r->free_bytes, r->message);
}

/* A decimal byte count as the reply carries it: digits only, no sign, no
 * leading zeros, at most 2^63 - 1 (the protocol's u64 bound). */
static gboolean parse_bytes(const char *s, guint64 *out) {
  if (!g_ascii_isdigit(s[0]) || (s[0] == '0' && s[1]))
    return FALSE;
  return g_ascii_string_to_unsigned(s, 10, 0, G_MAXINT64, out, NULL);
}

TandemMountResult *tandem_mount_result_parse(const char *line,
                                             GError **error) {
  gsize n = strlen(line);
  if (n > 0 && line[n - 1] == '\n')
    n--;
  if (n + 1 > TANDEM_MOUNT_MAX_REPLY) {
    invalid(error, "reply too long");
    return NULL;
  }
  g_autofree char *body = g_strndup(line, n);
  /* STATUS MOUNTPOINT FSTYPE TOTAL FREE MESSAGE; the message may hold
   * anything but a line break, tabs included. */
  g_auto(GStrv) f = g_strsplit(body, "\t", 6);
  guint64 status = 0, total = 0, avail = 0;
  if (g_strv_length(f) != 6 || !g_ascii_isdigit(f[0][0]) ||
      !g_ascii_string_to_unsigned(f[0], 10, 0, TP_MOUNT_LAST, &status, NULL)) {
    invalid(error, "malformed reply");
    return NULL;
  }
  if (*f[1] && (!g_path_is_absolute(f[1]) || strchr(f[1], '\t'))) {
    invalid(error, "malformed mount point in the reply");
    return NULL;
  }
  gboolean typed = *f[2] != '\0';
  if ((typed && (status != TP_MOUNT_OK ||
                 !tandem_mount_fs_type_is_valid(f[2]))) ||
      !parse_bytes(f[3], &total) || !parse_bytes(f[4], &avail) ||
      avail > total || (!typed && total != 0)) {
    invalid(error, "malformed file system type or size in the reply");
    return NULL;
  }
  TandemMountResult *r =
      tandem_mount_result_new((TpMountStatus)status, f[1], "%s", f[5]);
  if (strcmp(r->mountpoint, f[1]) != 0) {
    tandem_mount_result_free(r);
    invalid(error, "malformed mount point in the reply");
    return NULL;
  }
  tandem_mount_result_set_fs(r, f[2], total, avail);
  return r;
}

TandemMountResult *tandem_mount_request_run(const TandemMountConfig *config,
                                            const TandemMountRequest *r) {
  if (r->unmount)
    return tandem_mount_do_unmount(config, r->serial, r->lazy);
  return tandem_mount_do_mount(config, r->serial, r->label, r->read_only);
}
