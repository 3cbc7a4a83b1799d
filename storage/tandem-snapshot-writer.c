/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The copy-on-write queue (tandem-snapshot-writer.h). */
#include "tandem-snapshot-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "tandem-snapshot-format.h"

/* A pipe buffer as large as a chunk: QEMU writes a whole chunk before the
 * reader must have taken any of it. */
#define PIPE_SIZE TANDEM_SNAPSHOT_CHUNK

typedef struct Chunk {
  struct Chunk *next;
  gsize len;
  guint8 data[];
} Chunk;

struct _TandemSnapshotWriter {
  int in_fd, out_fd, wake_fd;
  int level;
  guint64 queue_max;
  GThread *reader, *writer;

  GMutex lock;
  GCond changed;          /* queue, free list or flags changed */
  Chunk *head, *tail;     /* the queue, oldest first */
  Chunk *free_list;       /* chunks to reuse, so RAM is touched once */
  guint64 free_bytes;
  gboolean input_done;    /* the reader queued the end */
  gboolean stop;          /* free(): stop at once */
  gboolean failed;        /* the writer failed: the reader discards */
  gboolean done;          /* the writer finished, well or not */
  GError *error;
  TandemSnapshotWriterStats stats;
  GTask *task;            /* wait_async's, until done */

  guint32 crc;            /* writer thread only */
  guint64 records;
};

/* --- Chunks -------------------------------------------------------------- */

/* With the lock held: a chunk to fill, or NULL when the queue is full. */
static Chunk *take_free_chunk(TandemSnapshotWriter *self) {
  if (self->stats.queued_bytes + TANDEM_SNAPSHOT_CHUNK > self->queue_max &&
      self->head)
    return NULL;
  Chunk *c = self->free_list;
  if (c) {
    self->free_list = c->next;
    self->free_bytes -= TANDEM_SNAPSHOT_CHUNK;
  } else {
    c = g_malloc(sizeof(Chunk) + TANDEM_SNAPSHOT_CHUNK);
  }
  c->next = NULL;
  c->len = 0;
  return c;
}

/* With the lock held. Keeps at most a queue's worth for reuse. */
static void give_back(TandemSnapshotWriter *self, Chunk *c) {
  if (self->free_bytes + TANDEM_SNAPSHOT_CHUNK <= self->queue_max) {
    c->next = self->free_list;
    self->free_list = c;
    self->free_bytes += TANDEM_SNAPSHOT_CHUNK;
  } else {
    g_free(c);
  }
}

static void free_list(Chunk *c) {
  while (c) {
    Chunk *next = c->next;
    g_free(c);
    c = next;
  }
}

/* --- The reader: pipe -> RAM ---------------------------------------------- */

/* Fills @c from the pipe; FALSE at its end (or when stopped). */
static gboolean fill(TandemSnapshotWriter *self, Chunk *c) {
  while (c->len < TANDEM_SNAPSHOT_CHUNK) {
    struct pollfd p[2] = {{self->in_fd, POLLIN, 0},
                          {self->wake_fd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      return FALSE;
    if (p[1].revents)
      return FALSE; /* stopped */
    if (!p[0].revents)
      continue;
    ssize_t n = read(self->in_fd, c->data + c->len,
                     TANDEM_SNAPSHOT_CHUNK - c->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      return FALSE;
    c->len += (gsize)n;
    g_mutex_lock(&self->lock);
    self->stats.read_bytes += (guint64)n;
    g_mutex_unlock(&self->lock);
  }
  return TRUE;
}

static gpointer reader_main(gpointer data) {
  TandemSnapshotWriter *self = data;
  for (;;) {
    g_mutex_lock(&self->lock);
    Chunk *c = NULL;
    gint64 waited_from = 0;
    while (!self->stop && !(c = take_free_chunk(self))) {
      if (!waited_from) {
        waited_from = g_get_monotonic_time();
        self->stats.full_waits++;
      }
      g_cond_wait(&self->changed, &self->lock);
    }
    if (waited_from)
      self->stats.full_wait_us += g_get_monotonic_time() - waited_from;
    gboolean stop = self->stop;
    g_mutex_unlock(&self->lock);
    if (stop)
      break;
    gboolean more = fill(self, c);
    g_mutex_lock(&self->lock);
    if (c->len && !self->failed) {
      if (self->tail)
        self->tail->next = c;
      else
        self->head = c;
      self->tail = c;
      self->stats.queued_bytes += c->len;
      if (self->stats.queued_bytes > self->stats.queue_peak)
        self->stats.queue_peak = self->stats.queued_bytes;
    } else {
      give_back(self, c); /* empty, or the writer failed: drained away */
    }
    if (!more)
      self->input_done = TRUE;
    g_cond_broadcast(&self->changed);
    g_mutex_unlock(&self->lock);
    if (!more)
      break;
  }
  return NULL;
}

/* --- The writer: RAM -> file ----------------------------------------------- */

static gboolean out(TandemSnapshotWriter *self, const void *buf, gsize len,
                    GError **error) {
  if (!tsf_write_all(self->out_fd, buf, len, error))
    return FALSE;
  self->crc = (guint32)crc32(self->crc, buf, (uInt)len);
  g_mutex_lock(&self->lock);
  self->stats.file_bytes += len;
  g_mutex_unlock(&self->lock);
  return TRUE;
}

/* One record. Records are coalesced into writes of several MiB. */
static gboolean put_record(TandemSnapshotWriter *self, ZSTD_CCtx *cctx,
                           const Chunk *c, GByteArray *batch,
                           guint8 *stored, GError **error) {
  size_t n = ZSTD_compress2(cctx, stored, tandem_snapshot_max_stored(),
                            c->data, c->len);
  if (ZSTD_isError(n)) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_FAILED,
                "Compressing the snapshot failed: %s", ZSTD_getErrorName(n));
    return FALSE;
  }
  guint8 rec[TANDEM_SNAPSHOT_RECORD_LEN];
  tsf_put_u32(rec, (guint32)c->len);
  tsf_put_u32(rec + 4, (guint32)n);
  g_byte_array_append(batch, rec, sizeof(rec));
  g_byte_array_append(batch, stored, (guint)n);
  self->records++;
  return TRUE;
}

static gboolean flush_batch(TandemSnapshotWriter *self, GByteArray *batch,
                            GError **error) {
  gboolean ok = out(self, batch->data, batch->len, error);
  g_byte_array_set_size(batch, 0);
  return ok;
}

static gboolean finish_file(TandemSnapshotWriter *self, GError **error) {
  guint8 end[TANDEM_SNAPSHOT_RECORD_LEN] = {0};
  if (!out(self, end, sizeof(end), error))
    return FALSE;
  guint8 t[TANDEM_SNAPSHOT_TRAILER_LEN] = {0};
  g_mutex_lock(&self->lock);
  guint64 raw = self->stats.read_bytes;
  g_mutex_unlock(&self->lock);
  tsf_put_u64(t, raw);
  tsf_put_u64(t + 8, self->records);
  tsf_put_u32(t + 16, self->crc);
  if (!tsf_write_all(self->out_fd, t, sizeof(t), error))
    return FALSE;
  g_mutex_lock(&self->lock);
  self->stats.file_bytes += sizeof(t);
  self->stats.crc = self->crc;
  g_mutex_unlock(&self->lock);
  if (fsync(self->out_fd) != 0 && errno != EINVAL) { /* EINVAL: a pipe */
    int e = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "Cannot write the snapshot to disk: %s", g_strerror(e));
    return FALSE;
  }
  return TRUE;
}

static gboolean write_all_records(TandemSnapshotWriter *self,
                                  GError **error) {
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, self->level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  g_autofree guint8 *stored = g_malloc(tandem_snapshot_max_stored());
  g_autoptr(GByteArray) batch = g_byte_array_sized_new(8u << 20);
  gboolean ok = TRUE;
  for (;;) {
    g_mutex_lock(&self->lock);
    while (!self->head && !self->input_done && !self->stop)
      g_cond_wait(&self->changed, &self->lock);
    Chunk *c = self->head;
    if (c) {
      self->head = c->next;
      if (!self->head)
        self->tail = NULL;
    }
    gboolean stop = self->stop;
    g_mutex_unlock(&self->lock);
    if (stop) {
      g_set_error(error, TANDEM_SNAPSHOT_ERROR,
                  TANDEM_SNAPSHOT_ERROR_CANCELLED, "The snapshot was stopped");
      ok = FALSE;
      break;
    }
    if (!c)
      break; /* the end of the stream: nothing queued, input done */
    ok = put_record(self, cctx, c, batch, stored, error);
    g_mutex_lock(&self->lock);
    self->stats.queued_bytes -= c->len;
    give_back(self, c);
    g_cond_broadcast(&self->changed);
    g_mutex_unlock(&self->lock);
    if (ok && batch->len >= (4u << 20))
      ok = flush_batch(self, batch, error);
    if (!ok)
      break;
  }
  if (ok && batch->len)
    ok = flush_batch(self, batch, error);
  ZSTD_freeCCtx(cctx);
  return ok;
}

static void complete(TandemSnapshotWriter *self, GError *error) {
  g_mutex_lock(&self->lock);
  self->done = TRUE;
  self->error = error;
  if (error) {
    self->failed = TRUE;
    /* Drain and drop what is queued: the reader must never block QEMU. */
    while (self->head) {
      Chunk *c = self->head;
      self->head = c->next;
      self->stats.queued_bytes -= c->len;
      give_back(self, c);
    }
    self->tail = NULL;
  }
  GTask *task = g_steal_pointer(&self->task);
  g_cond_broadcast(&self->changed);
  g_mutex_unlock(&self->lock);
  if (task) {
    if (error)
      g_task_return_error(task, g_error_copy(error));
    else
      g_task_return_boolean(task, TRUE);
    g_object_unref(task);
  }
}

static gpointer writer_main(gpointer data) {
  TandemSnapshotWriter *self = data;
  GError *error = NULL;
  /* The guest's vCPUs and QEMU's migration thread come first: a guest
   * write to an unsaved page waits for that thread, never for us. The
   * queue absorbs what this thread has not compressed yet. */
  if (setpriority(PRIO_PROCESS, (id_t)gettid(), 19) != 0)
    g_debug("snapshot writer: cannot lower its priority");
  if (write_all_records(self, &error))
    finish_file(self, &error);
  complete(self, error);
  return NULL;
}

/* --- Public ---------------------------------------------------------------- */

TandemSnapshotWriter *tandem_snapshot_writer_new(
    int in_fd, int out_fd, const TandemSnapshotHeader *header,
    const TandemSnapshotWriterOptions *options, GError **error) {
  TandemSnapshotWriterOptions defaults = {TANDEM_SNAPSHOT_DEFAULT_QUEUE,
                                          TANDEM_SNAPSHOT_DEFAULT_LEVEL};
  const TandemSnapshotWriterOptions *o = options ? options : &defaults;
  if (o->queue_max < TANDEM_SNAPSHOT_MIN_QUEUE ||
      o->queue_max > TANDEM_SNAPSHOT_MAX_QUEUE || o->level < -5 ||
      o->level > 19) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_INVALID,
                "The snapshot queue must be 4 MiB to 16 GiB and the "
                "compression level -5 to 19");
    close(in_fd);
    close(out_fd);
    return NULL;
  }
  TandemSnapshotWriter *self = g_new0(TandemSnapshotWriter, 1);
  self->in_fd = in_fd;
  self->out_fd = out_fd;
  self->wake_fd = eventfd(0, EFD_CLOEXEC);
  self->level = o->level;
  self->queue_max = o->queue_max;
  self->crc = (guint32)crc32(0, NULL, 0);
  g_mutex_init(&self->lock);
  g_cond_init(&self->changed);
  fcntl(in_fd, F_SETPIPE_SZ, PIPE_SIZE); /* a hint: fine if refused */

  g_autofree char *json = tandem_snapshot_header_to_json(header);
  guint8 prefix[TANDEM_SNAPSHOT_PREFIX_LEN];
  memcpy(prefix, TANDEM_SNAPSHOT_MAGIC, 8);
  tsf_put_u32(prefix + 8, TANDEM_SNAPSHOT_VERSION);
  tsf_put_u32(prefix + 12, (guint32)strlen(json));
  if (self->wake_fd < 0 || !out(self, prefix, sizeof(prefix), error) ||
      !out(self, json, strlen(json), error)) {
    if (error && !*error)
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "No eventfd");
    tandem_snapshot_writer_free(self);
    return NULL;
  }
  self->reader = g_thread_new("snapshot-reader", reader_main, self);
  self->writer = g_thread_new("snapshot-writer", writer_main, self);
  return self;
}

void tandem_snapshot_writer_get_stats(TandemSnapshotWriter *self,
                                      TandemSnapshotWriterStats *out_stats) {
  g_mutex_lock(&self->lock);
  *out_stats = self->stats;
  g_mutex_unlock(&self->lock);
}

void tandem_snapshot_writer_wait_async(TandemSnapshotWriter *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data) {
  GTask *task = g_task_new(NULL, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_snapshot_writer_wait_async);
  g_mutex_lock(&self->lock);
  if (!self->done) {
    g_clear_object(&self->task);
    self->task = task;
    g_mutex_unlock(&self->lock);
    return;
  }
  GError *e = self->error ? g_error_copy(self->error) : NULL;
  g_mutex_unlock(&self->lock);
  if (e)
    g_task_return_error(task, e);
  else
    g_task_return_boolean(task, TRUE);
  g_object_unref(task);
}

gboolean tandem_snapshot_writer_wait_finish(TandemSnapshotWriter *self,
                                            GAsyncResult *result,
                                            GError **error) {
  return g_task_propagate_boolean(G_TASK(result), error);
}

void tandem_snapshot_writer_free(TandemSnapshotWriter *self) {
  if (!self)
    return;
  g_mutex_lock(&self->lock);
  self->stop = TRUE;
  g_cond_broadcast(&self->changed);
  g_mutex_unlock(&self->lock);
  if (self->wake_fd >= 0) {
    guint64 one = 1;
    if (write(self->wake_fd, &one, sizeof(one)) < 0)
      g_warning("cannot wake the snapshot reader");
  }
  if (self->reader)
    g_thread_join(self->reader);
  if (self->writer)
    g_thread_join(self->writer);
  free_list(self->head);
  free_list(self->free_list);
  g_clear_object(&self->task);
  g_clear_error(&self->error);
  if (self->in_fd >= 0)
    close(self->in_fd);
  if (self->out_fd >= 0)
    close(self->out_fd);
  if (self->wake_fd >= 0)
    close(self->wake_fd);
  g_mutex_clear(&self->lock);
  g_cond_clear(&self->changed);
  g_free(self);
}
