/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qcow2 headers (tandem-qcow2.h), after QEMU's docs/interop/qcow2.txt:
 * big-endian; the magic "QFI\xfb", the version (2 or 3), the backing
 * file's name's offset (8 bytes at 8) and size (4 at 16); version 3 has
 * the header's length at 100; header extensions follow the header, each a
 * type, a length and the data padded to 8 bytes, up to a type 0. */
#include "tandem-qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK(tandem-qcow2-error-quark, tandem_qcow2_error)

#define QCOW2_MAGIC 0x514649fbu
#define V2_HEADER_BYTES 72
#define V3_MIN_HEADER_BYTES 104
#define EXT_END 0
#define EXT_BACKING_FORMAT 0xe2792acau
/* A format's name: "qcow2", "raw"; QEMU's own names are short. */
#define MAX_FORMAT 32

static guint32 be32_at(const guint8 *p) {
  return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 |
         p[3];
}

static guint64 be64_at(const guint8 *p) {
  return (guint64)be32_at(p) << 32 | be32_at(p + 4);
}

/* Text Tandem may pass on as a path or a format: UTF-8, no control
 * characters, no NUL inside. */
static char *text_or_null(const guint8 *p, gsize len) {
  if (len == 0 || memchr(p, 0, len) ||
      !g_utf8_validate((const char *)p, (gssize)len, NULL))
    return NULL;
  for (gsize i = 0; i < len; i++)
    if (p[i] < 0x20 || p[i] == 0x7f)
      return NULL;
  return g_strndup((const char *)p, len);
}

static gboolean invalid(GError **error, const char *what) {
  g_set_error(error, TANDEM_QCOW2_ERROR, TANDEM_QCOW2_ERROR_INVALID,
              "not a valid qcow2 header: %s", what);
  return FALSE;
}

/* The backing format extension, if the extensions between @start and
 * @end (exclusive) have one; FALSE when they do not hold up. */
static gboolean read_extensions(const guint8 *head, gsize start, gsize end,
                                char **format, GError **error) {
  gsize at = start;

  while (at + 8 <= end) {
    guint32 type = be32_at(head + at);
    guint32 len = be32_at(head + at + 4);
    gsize padded;

    if (type == EXT_END)
      return TRUE;
    at += 8;
    if (len > end - at)
      return invalid(error, "a header extension runs past its end");
    padded = ((gsize)len + 7) & ~(gsize)7;
    if (type == EXT_BACKING_FORMAT) {
      g_free(*format);
      *format = len <= MAX_FORMAT ? text_or_null(head + at, len) : NULL;
      if (!*format)
        return invalid(error, "the backing format is not a format's name");
    }
    if (padded > end - at)
      return TRUE; /* the last one, unpadded: nothing can follow */
    at += padded;
  }
  return TRUE;
}

gboolean tandem_qcow2_parse_backing(const guint8 *head, gsize len,
                                    char **backing, char **format,
                                    GError **error) {
  g_autofree char *name = NULL, *fmt = NULL;
  guint32 version, name_size;
  guint64 name_offset;
  gsize header_bytes, ext_end;

  *backing = NULL;
  *format = NULL;
  if (len < V2_HEADER_BYTES || be32_at(head) != QCOW2_MAGIC) {
    g_set_error(error, TANDEM_QCOW2_ERROR, TANDEM_QCOW2_ERROR_NOT_QCOW2,
                "not a qcow2 image");
    return FALSE;
  }
  version = be32_at(head + 4);
  if (version != 2 && version != 3)
    return invalid(error, "an unknown version");
  header_bytes = V2_HEADER_BYTES;
  if (version == 3) {
    if (len < V3_MIN_HEADER_BYTES)
      return invalid(error, "cut short");
    header_bytes = be32_at(head + 100);
    if (header_bytes < V3_MIN_HEADER_BYTES || header_bytes > len)
      return invalid(error, "a header length out of bounds");
  }
  name_offset = be64_at(head + 8);
  name_size = be32_at(head + 16);
  if (name_offset != 0) {
    if (name_size == 0 || name_size > TANDEM_QCOW2_MAX_BACKING)
      return invalid(error, "a backing file name's size out of bounds");
    if (name_offset < header_bytes || name_offset > len ||
        name_size > len - name_offset)
      return invalid(error, "a backing file name out of bounds");
    name = text_or_null(head + name_offset, name_size);
    if (!name)
      return invalid(error, "a backing file name that is not text");
  }
  /* The extensions end where the name begins, or at the bytes given. */
  ext_end = name_offset ? (gsize)name_offset : len;
  if (!read_extensions(head, header_bytes, ext_end, &fmt, error))
    return FALSE;
  *backing = g_steal_pointer(&name);
  *format = name_offset ? g_steal_pointer(&fmt) : NULL;
  return TRUE;
}

gboolean tandem_qcow2_read_backing(const char *path, char **backing,
                                   char **format, GError **error) {
  g_autofree guint8 *head = g_malloc(TANDEM_QCOW2_HEAD_BYTES);
  g_autofree char *name = NULL;
  gsize len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  *backing = NULL;
  *format = NULL;
  if (fd < 0) {
    int e = errno;
    g_set_error(error, TANDEM_QCOW2_ERROR, TANDEM_QCOW2_ERROR_IO,
                "%s: %s", path, g_strerror(e));
    return FALSE;
  }
  while (len < TANDEM_QCOW2_HEAD_BYTES) {
    ssize_t n = pread(fd, head + len, TANDEM_QCOW2_HEAD_BYTES - len,
                      (off_t)len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      g_set_error(error, TANDEM_QCOW2_ERROR, TANDEM_QCOW2_ERROR_IO,
                  "%s: %s", path, g_strerror(e));
      return FALSE;
    }
    if (n == 0)
      break;
    len += (gsize)n;
  }
  close(fd);
  if (!tandem_qcow2_parse_backing(head, len, &name, format, error)) {
    g_prefix_error(error, "%s: ", path);
    return FALSE;
  }
  if (name) {
    g_autofree char *dir = g_path_get_dirname(path);
    *backing = g_canonicalize_filename(name, dir);
  }
  return TRUE;
}
