/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Byte-level helpers shared by the snapshot file's reader and writer
 * (private to storage/). */
#pragma once

#include <errno.h>
#include <gio/gio.h>
#include <unistd.h>

#include "tandem-snapshot-file.h"

static inline guint32 tsf_get_u32(const guint8 *p) {
  return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 |
         (guint32)p[3] << 24;
}

static inline guint64 tsf_get_u64(const guint8 *p) {
  return (guint64)tsf_get_u32(p) | (guint64)tsf_get_u32(p + 4) << 32;
}

static inline void tsf_put_u32(guint8 *p, guint32 v) {
  p[0] = (guint8)v;
  p[1] = (guint8)(v >> 8);
  p[2] = (guint8)(v >> 16);
  p[3] = (guint8)(v >> 24);
}

static inline void tsf_put_u64(guint8 *p, guint64 v) {
  tsf_put_u32(p, (guint32)v);
  tsf_put_u32(p + 4, (guint32)(v >> 32));
}

/* Writes all of @buf, retrying short writes; a full disk is NO_SPACE. */
static inline gboolean tsf_write_all(int fd, const void *buf, gsize len,
                                     GError **error) {
  const guint8 *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        g_set_error(error, TANDEM_SNAPSHOT_ERROR,
                    TANDEM_SNAPSHOT_ERROR_NO_SPACE,
                    "The disk is full (%s): free some space and take the "
                    "snapshot again",
                    g_strerror(e));
      else
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                    "Cannot write: %s", g_strerror(e));
      return FALSE;
    }
    p += n;
    len -= (gsize)n;
  }
  return TRUE;
}
