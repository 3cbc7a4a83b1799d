/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The copy-on-write queue: QEMU's migration stream drained into host RAM
 * and written to disk behind it.
 *
 * During a background snapshot a guest write to a page not yet saved waits
 * until QEMU has put that page into the migration stream. If the stream's
 * reader is slow (a disk), the guest stalls. So the stream goes into a
 * pipe whose other end this writer holds: a reader thread moves it into a
 * bounded queue in RAM as fast as QEMU writes, and a writer thread
 * compresses, checksums and writes it to the file in large sequential
 * writes (tandem-snapshot-file.h). The guest waits for a memory copy, never
 * for the disk. When the queue is full the reader waits (back-pressure on
 * QEMU): nothing is ever dropped. */
#pragma once

#include <gio/gio.h>

#include "tandem-snapshot-file.h"

G_BEGIN_DECLS

#define TANDEM_SNAPSHOT_DEFAULT_QUEUE (256u << 20)
#define TANDEM_SNAPSHOT_MIN_QUEUE (4u << 20)
#define TANDEM_SNAPSHOT_MAX_QUEUE (16ull << 30)
#define TANDEM_SNAPSHOT_DEFAULT_LEVEL 1

typedef struct {
  guint64 queue_max; /* bytes of the stream held in RAM at most */
  int level;         /* zstd level, -5 .. 19 */
} TandemSnapshotWriterOptions;

typedef struct {
  guint64 read_bytes;    /* taken from the pipe */
  guint64 file_bytes;    /* written to the file */
  guint64 queued_bytes;  /* in RAM now */
  guint64 queue_peak;
  guint64 full_waits;    /* times the queue was full */
  gint64 full_wait_us;   /* time the reader waited for room in all */
  guint32 crc;           /* the trailer's CRC, once the file is whole */
} TandemSnapshotWriterStats;

typedef struct _TandemSnapshotWriter TandemSnapshotWriter;

/* Starts the two threads: reads @in_fd (taken; a pipe's read end: its
 * buffer is enlarged) until its end, writes the snapshot file to @out_fd
 * (taken: a new file, fsynced at the end). @options NULL: the defaults. */
TandemSnapshotWriter *tandem_snapshot_writer_new(
    int in_fd, int out_fd, const TandemSnapshotHeader *header,
    const TandemSnapshotWriterOptions *options, GError **error);

/* Thread-safe. */
void tandem_snapshot_writer_get_stats(TandemSnapshotWriter *self,
                                      TandemSnapshotWriterStats *out);

/* Completes once the stream ended and the file is whole and on disk
 * (fsync), or failed (a full disk: TANDEM_SNAPSHOT_ERROR_NO_SPACE). After
 * a failure the reader keeps draining the pipe, so QEMU is never blocked
 * by it; the caller cancels the migration. */
void tandem_snapshot_writer_wait_async(TandemSnapshotWriter *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean tandem_snapshot_writer_wait_finish(TandemSnapshotWriter *self,
                                            GAsyncResult *result,
                                            GError **error);

/* Stops both threads (at once if still running) and frees @self. The
 * file stays: the caller owns its path. */
void tandem_snapshot_writer_free(TandemSnapshotWriter *self);

G_END_DECLS
