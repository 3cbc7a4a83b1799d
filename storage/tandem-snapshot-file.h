/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A snapshot's memory file: QEMU's migration stream, compressed in records
 * that each carry their own checksum, behind a header that says whose it
 * is and a trailer that says it is whole.
 *
 *   magic "TNDMSNAP", u32 version (1), u32 header length (at most 64 KiB),
 *   the header: a JSON object (TandemSnapshotHeader);
 *   records: u32 raw length (1 .. TANDEM_SNAPSHOT_CHUNK), u32 stored length
 *     (1 .. tandem_snapshot_max_stored()), the stored bytes: one zstd frame
 *     with its content checksum;
 *   the end record: two zero u32;
 *   the trailer: u64 raw bytes in all, u64 records, u32 CRC-32 (zlib's) of
 *     every byte before the trailer, u32 0.
 * Integers are little-endian. Everything in such a file is checked before
 * it is believed: a file can be truncated, corrupted, or another VM's. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TANDEM_SNAPSHOT_MAGIC "TNDMSNAP"
#define TANDEM_SNAPSHOT_VERSION 1u
#define TANDEM_SNAPSHOT_CHUNK (1u << 20)
#define TANDEM_SNAPSHOT_MAX_HEADER (64u << 10)
#define TANDEM_SNAPSHOT_PREFIX_LEN 16u  /* magic, version, header length */
#define TANDEM_SNAPSHOT_RECORD_LEN 8u   /* raw length, stored length */
#define TANDEM_SNAPSHOT_TRAILER_LEN 24u

#define TANDEM_SNAPSHOT_ERROR (tandem_snapshot_error_quark())
GQuark tandem_snapshot_error_quark(void);

typedef enum {
  TANDEM_SNAPSHOT_ERROR_FAILED,
  TANDEM_SNAPSHOT_ERROR_CORRUPT,    /* not a snapshot file, or damaged */
  TANDEM_SNAPSHOT_ERROR_TRUNCATED,  /* ends before its trailer */
  TANDEM_SNAPSHOT_ERROR_WRONG_VM,   /* another VM's snapshot */
  TANDEM_SNAPSHOT_ERROR_NO_SPACE,   /* the disk is full */
  TANDEM_SNAPSHOT_ERROR_INVALID,    /* a bad name, id or setting */
  TANDEM_SNAPSHOT_ERROR_NOT_FOUND,
  TANDEM_SNAPSHOT_ERROR_BUSY,       /* another snapshot is being taken */
  TANDEM_SNAPSHOT_ERROR_UNSUPPORTED,/* the method cannot run here */
  TANDEM_SNAPSHOT_ERROR_CANCELLED,
} TandemSnapshotError;

typedef enum {
  TANDEM_SNAPSHOT_METHOD_BACKGROUND, /* write-protect + copy-on-write */
  TANDEM_SNAPSHOT_METHOD_STOPPED,    /* the guest paused while QEMU copied
                                      * its memory into the RAM queue */
  TANDEM_SNAPSHOT_METHOD_PRECOPY,    /* live pre-copy: the guest runs while
                                      * QEMU copies, paused only for the
                                      * last pages (the fallback) */
} TandemSnapshotMethod;

/* "background", "stopped", "live"; from_string: -1 if unknown. */
const char *tandem_snapshot_method_to_string(TandemSnapshotMethod method);
int tandem_snapshot_method_from_string(const char *text);

typedef struct {
  char *vm;          /* the VM's name */
  char *id;          /* the snapshot's id */
  gint64 created;    /* unix time, seconds */
  TandemSnapshotMethod method;
  guint64 memory;    /* the guest's RAM in bytes */
  char *qemu;        /* QEMU's version, "7.2.0" */
} TandemSnapshotHeader;

void tandem_snapshot_header_clear(TandemSnapshotHeader *h);
/* The header's JSON text. */
char *tandem_snapshot_header_to_json(const TandemSnapshotHeader *h);
/* Parses untrusted header text into @h (cleared first); every member must
 * be there with its type, names within their bounds. */
gboolean tandem_snapshot_header_parse(const char *json, gsize len,
                                      TandemSnapshotHeader *h,
                                      GError **error);

/* zstd's bound for one record's stored bytes. */
gsize tandem_snapshot_max_stored(void);

/* What a whole, verified file holds. */
typedef struct {
  TandemSnapshotHeader header;
  guint64 raw_bytes;  /* the migration stream's length */
  guint64 records;
  guint64 file_bytes;
  guint32 crc;        /* the trailer's CRC-32 */
} TandemSnapshotFileInfo;

void tandem_snapshot_file_info_clear(TandemSnapshotFileInfo *info);

/* Reads all of @path and checks it: magic, version, header, every record's
 * lengths and zstd frame (decompressed, its checksum verified), the end
 * record, the trailer's counts and CRC, nothing after it; with @vm, that
 * the header names it. Blocking: run it in a thread. */
gboolean tandem_snapshot_file_verify(const char *path, const char *vm,
                                     TandemSnapshotFileInfo *info,
                                     GCancellable *cancellable,
                                     GError **error);

/* Streams @path's migration stream, decompressed, into @out_fd (taken,
 * closed at the end: the reader, QEMU, sees the end of the stream). Each
 * record is checked as it goes; the first bad one ends the stream with an
 * error (QEMU's incoming migration then fails). Blocking: a thread. */
gboolean tandem_snapshot_file_stream(const char *path, int out_fd,
                                     guint64 *raw_bytes,
                                     GCancellable *cancellable,
                                     GError **error);

G_END_DECLS
