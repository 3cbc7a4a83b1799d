/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A snapshot's memory file (tandem-snapshot-file.h): its header, and the
 * checks and streaming of a file written by tandem-snapshot-writer.c. */
#include "tandem-snapshot-file.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "tandem-snapshot-format.h"

G_DEFINE_QUARK(tandem-snapshot-error-quark, tandem_snapshot_error)

#define MAX_NAME 64

static const char *const method_names[] = {"background", "stopped",
                                           "live"};

const char *tandem_snapshot_method_to_string(TandemSnapshotMethod method) {
  return (unsigned)method < G_N_ELEMENTS(method_names) ? method_names[method]
                                                       : "unknown";
}

int tandem_snapshot_method_from_string(const char *text) {
  for (guint i = 0; text && i < G_N_ELEMENTS(method_names); i++)
    if (g_str_equal(text, method_names[i]))
      return (int)i;
  return -1;
}

void tandem_snapshot_header_clear(TandemSnapshotHeader *h) {
  g_clear_pointer(&h->vm, g_free);
  g_clear_pointer(&h->id, g_free);
  g_clear_pointer(&h->qemu, g_free);
  memset(h, 0, sizeof(*h));
}

void tandem_snapshot_file_info_clear(TandemSnapshotFileInfo *info) {
  tandem_snapshot_header_clear(&info->header);
  memset(info, 0, sizeof(*info));
}

char *tandem_snapshot_header_to_json(const TandemSnapshotHeader *h) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "vm");
  json_builder_add_string_value(b, h->vm);
  json_builder_set_member_name(b, "id");
  json_builder_add_string_value(b, h->id);
  json_builder_set_member_name(b, "created");
  json_builder_add_int_value(b, h->created);
  json_builder_set_member_name(b, "method");
  json_builder_add_string_value(b, tandem_snapshot_method_to_string(h->method));
  json_builder_set_member_name(b, "memory");
  json_builder_add_int_value(b, (gint64)h->memory);
  json_builder_set_member_name(b, "qemu");
  json_builder_add_string_value(b, h->qemu ? h->qemu : "");
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

static const char *member_string(JsonObject *o, const char *name,
                                 gsize max) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
      json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  const char *s = json_node_get_string(n);
  return s && strlen(s) <= max && g_utf8_validate(s, -1, NULL) ? s : NULL;
}

static gboolean member_int(JsonObject *o, const char *name, gint64 *out) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
      json_node_get_value_type(n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int(n);
  return TRUE;
}

gboolean tandem_snapshot_header_parse(const char *json, gsize len,
                                      TandemSnapshotHeader *h,
                                      GError **error) {
  tandem_snapshot_header_clear(h);
  g_autoptr(JsonParser) p = json_parser_new();
  gint64 created, memory;
  const char *vm, *id, *method, *qemu;
  JsonNode *root;
  if (len > TANDEM_SNAPSHOT_MAX_HEADER ||
      !json_parser_load_from_data(p, json, (gssize)len, NULL) ||
      !(root = json_parser_get_root(p)) || !JSON_NODE_HOLDS_OBJECT(root)) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "its header is not readable");
    return FALSE;
  }
  JsonObject *o = json_node_get_object(root);
  if (!(vm = member_string(o, "vm", MAX_NAME)) ||
      !(id = member_string(o, "id", MAX_NAME)) ||
      !(method = member_string(o, "method", 16)) ||
      !(qemu = member_string(o, "qemu", MAX_NAME)) ||
      !member_int(o, "created", &created) ||
      !member_int(o, "memory", &memory) || memory <= 0 ||
      tandem_snapshot_method_from_string(method) < 0) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "its header lacks what a snapshot must say");
    return FALSE;
  }
  h->vm = g_strdup(vm);
  h->id = g_strdup(id);
  h->qemu = g_strdup(qemu);
  h->created = created;
  h->memory = (guint64)memory;
  h->method = (TandemSnapshotMethod)tandem_snapshot_method_from_string(method);
  return TRUE;
}

gsize tandem_snapshot_max_stored(void) {
  return ZSTD_compressBound(TANDEM_SNAPSHOT_CHUNK);
}

/* --- Reading a file ------------------------------------------------------ */

typedef struct {
  int fd;
  const char *path;
  guint32 crc;      /* of every byte read so far */
  guint64 offset;
  GCancellable *cancellable;
} Input;

/* Reads exactly @len bytes; FALSE with TRUNCATED at the end of the file. */
static gboolean input_read(Input *in, void *buf, gsize len, GError **error) {
  gsize done = 0;
  while (done < len) {
    if (g_cancellable_set_error_if_cancelled(in->cancellable, error))
      return FALSE;
    ssize_t n = read(in->fd, (guint8 *)buf + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                  "Cannot read %s: %s", in->path, g_strerror(e));
      return FALSE;
    }
    if (n == 0) {
      g_set_error(error, TANDEM_SNAPSHOT_ERROR,
                  TANDEM_SNAPSHOT_ERROR_TRUNCATED,
                  "it ends after %" G_GUINT64_FORMAT " bytes, before its end",
                  in->offset + done);
      return FALSE;
    }
    done += (gsize)n;
  }
  in->crc = (guint32)crc32(in->crc, buf, (uInt)len);
  in->offset += len;
  return TRUE;
}

static gboolean input_open(Input *in, const char *path,
                           TandemSnapshotHeader *h, const char *vm,
                           GCancellable *cancellable, GError **error) {
  *in = (Input){-1, path, (guint32)crc32(0, NULL, 0), 0, cancellable};
  in->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (in->fd < 0 && errno == ENOENT) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "its memory file is missing");
    return FALSE;
  }
  if (in->fd < 0) {
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "Cannot open %s: %s", path, g_strerror(e));
    return FALSE;
  }
  guint8 prefix[TANDEM_SNAPSHOT_PREFIX_LEN];
  if (!input_read(in, prefix, sizeof(prefix), error))
    return FALSE;
  if (memcmp(prefix, TANDEM_SNAPSHOT_MAGIC, 8) != 0) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "it is not a Tandem snapshot");
    return FALSE;
  }
  guint32 version = tsf_get_u32(prefix + 8), hlen = tsf_get_u32(prefix + 12);
  if (version != TANDEM_SNAPSHOT_VERSION) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "it is of format version %u; this Tandem reads version %u",
                version, TANDEM_SNAPSHOT_VERSION);
    return FALSE;
  }
  if (hlen == 0 || hlen > TANDEM_SNAPSHOT_MAX_HEADER) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "its header length (%u) is impossible", hlen);
    return FALSE;
  }
  g_autofree char *json = g_malloc(hlen);
  if (!input_read(in, json, hlen, error) ||
      !tandem_snapshot_header_parse(json, hlen, h, error))
    return FALSE;
  if (vm && !g_str_equal(h->vm, vm)) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_WRONG_VM,
                "it is a snapshot of “%s”, not of “%s”", h->vm, vm);
    return FALSE;
  }
  return TRUE;
}

/* The next record, decompressed into @raw (TANDEM_SNAPSHOT_CHUNK bytes);
 * *raw_len 0 at the end record. */
static gboolean next_record(Input *in, ZSTD_DCtx *dctx, guint8 *stored,
                            guint8 *raw, guint32 *raw_len, GError **error) {
  guint8 rec[TANDEM_SNAPSHOT_RECORD_LEN];
  if (!input_read(in, rec, sizeof(rec), error))
    return FALSE;
  guint32 rlen = tsf_get_u32(rec), slen = tsf_get_u32(rec + 4);
  *raw_len = rlen;
  if (rlen == 0 && slen == 0)
    return TRUE;
  if (rlen == 0 || rlen > TANDEM_SNAPSHOT_CHUNK || slen == 0 ||
      slen > tandem_snapshot_max_stored()) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "a record at byte %" G_GUINT64_FORMAT " has impossible "
                "lengths", in->offset - sizeof(rec));
    return FALSE;
  }
  if (!input_read(in, stored, slen, error))
    return FALSE;
  size_t got = ZSTD_decompressDCtx(dctx, raw, TANDEM_SNAPSHOT_CHUNK, stored,
                                   slen);
  if (ZSTD_isError(got) || got != rlen) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "the record at byte %" G_GUINT64_FORMAT " is damaged (%s)",
                in->offset - slen - sizeof(rec),
                ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong length");
    return FALSE;
  }
  return TRUE;
}

static gboolean check_trailer(Input *in, guint64 raw_total, guint64 records,
                              guint32 *crc_out, GError **error) {
  guint32 crc = in->crc;
  guint8 t[TANDEM_SNAPSHOT_TRAILER_LEN], extra;
  if (!input_read(in, t, sizeof(t), error))
    return FALSE;
  if (tsf_get_u64(t) != raw_total || tsf_get_u64(t + 8) != records ||
      tsf_get_u32(t + 16) != crc || tsf_get_u32(t + 20) != 0) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "its trailer does not match its contents");
    return FALSE;
  }
  if (read(in->fd, &extra, 1) != 0) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_CORRUPT,
                "it has bytes after its end");
    return FALSE;
  }
  *crc_out = crc;
  return TRUE;
}

/* Walks the whole file; with @out_fd >= 0 writes the stream there. */
static gboolean walk(const char *path, const char *vm, int out_fd,
                     TandemSnapshotFileInfo *info, GCancellable *cancellable,
                     GError **error) {
  Input in;
  TandemSnapshotFileInfo local = {0};
  TandemSnapshotFileInfo *i = info ? info : &local;
  tandem_snapshot_file_info_clear(i);
  gboolean ok = input_open(&in, path, &i->header, vm, cancellable, error);
  g_autofree guint8 *stored = g_malloc(tandem_snapshot_max_stored());
  g_autofree guint8 *raw = g_malloc(TANDEM_SNAPSHOT_CHUNK);
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  while (ok) {
    guint32 rlen;
    ok = next_record(&in, dctx, stored, raw, &rlen, error);
    if (!ok || rlen == 0)
      break;
    i->raw_bytes += rlen;
    i->records++;
    if (out_fd >= 0 && !tsf_write_all(out_fd, raw, rlen, error))
      ok = FALSE;
  }
  ok = ok && check_trailer(&in, i->raw_bytes, i->records, &i->crc, error);
  i->file_bytes = in.offset;
  ZSTD_freeDCtx(dctx);
  if (in.fd >= 0)
    close(in.fd);
  if (!ok && error && *error && (*error)->domain == TANDEM_SNAPSHOT_ERROR &&
      (*error)->code != TANDEM_SNAPSHOT_ERROR_WRONG_VM)
    g_prefix_error(error, "The snapshot file %s is not usable: ", path);
  tandem_snapshot_file_info_clear(&local);
  return ok;
}

gboolean tandem_snapshot_file_verify(const char *path, const char *vm,
                                     TandemSnapshotFileInfo *info,
                                     GCancellable *cancellable,
                                     GError **error) {
  return walk(path, vm, -1, info, cancellable, error);
}

gboolean tandem_snapshot_file_stream(const char *path, int out_fd,
                                     guint64 *raw_bytes,
                                     GCancellable *cancellable,
                                     GError **error) {
  TandemSnapshotFileInfo info = {0};
  gboolean ok = walk(path, NULL, out_fd, &info, cancellable, error);
  if (raw_bytes)
    *raw_bytes = info.raw_bytes;
  tandem_snapshot_file_info_clear(&info);
  close(out_fd);
  return ok;
}
