/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-writer: the copy-on-write queue's settings (queue size, zstd
 * level), measured side by side with writing the stream straight to a
 * file, which is what QEMU's own background-snapshot does.
 *
 * A producer thread writes a migration-like stream into a pipe as fast as
 * it can, as QEMU does at memory speed: 4 KiB pages, each behind an 8-byte
 * header, whose contents are drawn (seeded) from real files of this
 * machine (program code and data from /usr/lib, text from /usr/share) and
 * from random bytes, in the proportions of a desktop guest's RAM (zero
 * pages are not in a migration stream: QEMU sends them as a flag). For
 * each case it reports:
 *
 *   drain MB/s  how fast the pipe was emptied while the producer wrote:
 *               what QEMU, and so a guest waiting for a page to be saved,
 *               sees; the number that matters for stalls
 *   total s     until the file was whole and fsynced
 *   ratio       file bytes / stream bytes
 *   waits       times the queue was full (the producer held back)
 *
 *   bench-writer [--short] [--json FILE]
 *
 * The short mode (CI) streams 64 MiB through fewer cases; the full one
 * 512 MiB. Files go to $TMPDIR. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"
#include "tandem-snapshot-writer.h"

#define PAGE 4096
#define PAGE_HEADER 8

/* --- The stream --------------------------------------------------------- */

typedef struct {
  GByteArray *code, *text; /* real bytes to draw pages from */
  guint64 bytes;           /* the stream's length, at least */
  guint64 sent;            /* written, in the end */
  int fd;                  /* the pipe's write end (closed at the end) */
  gint64 start_us, end_us; /* the producer's first and last write */
} Producer;

/* Up to @max bytes of the regular files under @dir (not following links),
 * in a fixed order. */
static void slurp(const char *dir, GByteArray *into, gsize max, int depth) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  if (!d || depth > 4)
    return;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while ((n = g_dir_read_name(d)))
    g_ptr_array_add(names, g_strdup(n));
  g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
  for (guint i = 0; i < names->len && into->len < max; i++) {
    g_autofree char *path =
        g_build_filename(dir, (char *)names->pdata[i], NULL);
    if (g_file_test(path, G_FILE_TEST_IS_SYMLINK))
      continue;
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
      slurp(path, into, max, depth + 1);
      continue;
    }
    g_autofree char *data = NULL;
    gsize len = 0;
    if (g_file_get_contents(path, &data, &len, NULL) && len >= PAGE)
      g_byte_array_append(into, (guint8 *)data, MIN(len, max - into->len));
  }
}

static gpointer produce(gpointer data) {
  Producer *p = data;
  GRand *r = g_rand_new_with_seed(42);
  guint8 *chunk = g_malloc(256 * (PAGE + PAGE_HEADER));
  guint64 sent = 0, page_no = 0;
  p->start_us = g_get_monotonic_time();
  while (sent < p->bytes) {
    gsize n = 0;
    for (int i = 0; i < 256; i++, page_no++) {
      guint64 hdr = GUINT64_TO_BE(page_no * PAGE | 0x08); /* "page" flag */
      memcpy(chunk + n, &hdr, PAGE_HEADER);
      n += PAGE_HEADER;
      guint kind = (guint)g_rand_int_range(r, 0, 100);
      GByteArray *src = kind < 60 ? p->code : kind < 80 ? p->text : NULL;
      if (src && src->len >= PAGE) {
        guint at = (guint)g_rand_int_range(r, 0, (gint32)(src->len / PAGE));
        memcpy(chunk + n, src->data + (gsize)at * PAGE, PAGE);
      } else {
        for (int k = 0; k < PAGE; k += 4) {
          guint32 v = g_rand_int(r);
          memcpy(chunk + n + k, &v, 4);
        }
      }
      n += PAGE;
    }
    gsize off = 0;
    while (off < n) {
      ssize_t w = write(p->fd, chunk + off, n - off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        goto out;
      off += (gsize)w;
    }
    sent += n;
  }
out:
  p->sent = sent;
  p->end_us = g_get_monotonic_time();
  close(p->fd);
  g_free(chunk);
  g_rand_free(r);
  return NULL;
}

/* --- The cases ---------------------------------------------------------- */

typedef struct {
  const char *name;
  gboolean plain;  /* the baseline: straight to a file */
  guint64 queue;   /* bytes */
  int level;
  double drain_mbs, total_s, ratio;
  guint64 file_bytes, waits, peak;
  gboolean ok;
} Case;

static void on_waited(GObject *src, GAsyncResult *res, gpointer data) {
  *(GAsyncResult **)data = g_object_ref(res);
}

/* The baseline: a thread copies the pipe into the file as it comes (as
 * QEMU's migration thread writes to its file), then fsync. */
typedef struct {
  int in, out;
  guint64 bytes;
} Copier;

static gpointer copy_plain(gpointer data) {
  Copier *c = data;
  guint8 *buf = g_malloc(1 << 20);
  ssize_t n;
  while ((n = read(c->in, buf, 1 << 20)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0 && write(c->out, buf, (size_t)n) == n)
      c->bytes += (guint64)n;
  fsync(c->out);
  g_free(buf);
  return NULL;
}

static void run_case(Case *c, Producer *base, const char *dir) {
  int pfd[2];
  g_autofree char *path = g_build_filename(dir, "bench-writer.out", NULL);
  int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0 || pipe2(pfd, O_CLOEXEC) != 0)
    return;
  fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20);
  Producer p = *base;
  p.fd = pfd[1];
  gint64 t0 = g_get_monotonic_time();
  GThread *prod = g_thread_new("producer", produce, &p);
  if (c->plain) {
    Copier cp = {pfd[0], out, 0};
    GThread *copier = g_thread_new("copier", copy_plain, &cp);
    g_thread_join(prod);
    g_thread_join(copier);
    close(pfd[0]);
    close(out);
    c->file_bytes = cp.bytes;
    c->ok = cp.bytes == p.sent;
  } else {
    TandemSnapshotHeader h = {(char *)"bench", (char *)"bench", 0,
                              TANDEM_SNAPSHOT_METHOD_BACKGROUND, 1ull << 30,
                              (char *)"7.2.0"};
    TandemSnapshotWriterOptions o = {c->queue, c->level};
    g_autoptr(GError) error = NULL;
    TandemSnapshotWriter *w =
        tandem_snapshot_writer_new(pfd[0], out, &h, &o, &error);
    if (!w) {
      fprintf(stderr, "bench-writer: %s\n", error->message);
      g_thread_join(prod);
      return;
    }
    GAsyncResult *res = NULL;
    tandem_snapshot_writer_wait_async(w, NULL, on_waited, &res);
    g_thread_join(prod);
    while (!res)
      g_main_context_iteration(NULL, TRUE);
    c->ok = tandem_snapshot_writer_wait_finish(w, res, &error);
    g_object_unref(res);
    TandemSnapshotWriterStats st;
    tandem_snapshot_writer_get_stats(w, &st);
    c->file_bytes = st.file_bytes;
    c->waits = st.full_waits;
    c->peak = st.queue_peak;
    tandem_snapshot_writer_free(w);
  }
  gint64 t1 = g_get_monotonic_time();
  c->drain_mbs = (double)p.sent / 1e6 /
                 ((double)(p.end_us - p.start_us) / 1e6);
  c->total_s = (double)(t1 - t0) / 1e6;
  c->ratio = (double)c->file_bytes / (double)p.sent;
  g_unlink(path);
}

int main(int argc, char **argv) {
  gboolean is_short;
  const char *json_path;
  if (!bench_parse_args(argc, argv, &is_short, &json_path))
    return 2;
  Producer base = {g_byte_array_new(), g_byte_array_new(),
                   (guint64)(is_short ? 64 : 512) << 20, 0, -1, 0, 0};
  slurp("/usr/lib/x86_64-linux-gnu", base.code, 96 << 20, 0);
  slurp("/usr/share/doc", base.text, 32 << 20, 0);
  slurp("/usr/share/perl", base.text, 32 << 20, 0);
  const char *dir = g_get_tmp_dir();

  Case full[] = {
      {"file, no queue (QEMU's way)", TRUE, 0, 0},
      {"queue 16M, zstd 1", FALSE, 16 << 20, 1},
      {"queue 256M, zstd -1", FALSE, 256 << 20, -1},
      {"queue 256M, zstd 1 (default)", FALSE, 256 << 20, 1},
      {"queue 256M, zstd 3", FALSE, 256 << 20, 3},
      {"queue 256M, zstd 6", FALSE, 256 << 20, 6},
      {"queue 1G, zstd 3", FALSE, 1 << 30, 3},
  };
  Case brief[] = {
      {"file, no queue (QEMU's way)", TRUE, 0, 0},
      {"queue 16M, zstd 1", FALSE, 16 << 20, 1},
      {"queue 256M, zstd 1 (default)", FALSE, 256 << 20, 1},
      {"queue 256M, zstd 6", FALSE, 256 << 20, 6},
  };
  Case *cases = is_short ? brief : full;
  gsize n = is_short ? G_N_ELEMENTS(brief) : G_N_ELEMENTS(full);
  for (gsize i = 0; i < n; i++) {
    fprintf(stderr, "bench-writer: %s\n", cases[i].name);
    run_case(&cases[i], &base, dir);
  }

  printf("bench-writer, %s mode: %" G_GUINT64_FORMAT " MiB of migration-like "
         "stream (pages of this machine's libraries 60 %%, text 20 %%, random "
         "20 %%) through a pipe into %s\n\n",
         is_short ? "short" : "full", base.bytes >> 20, dir);
  printf("%-32s %10s %9s %7s %7s %9s\n", "case", "drain MB/s", "total s",
         "ratio", "waits", "peak MiB");
  GString *j = g_string_new("{\"bench\":\"writer\",\"cases\":[");
  for (gsize i = 0; i < n; i++) {
    const Case *c = &cases[i];
    if (!c->ok) {
      printf("%-32s failed\n", c->name);
      continue;
    }
    printf("%-32s %10.0f %9.2f %7.3f %7" G_GUINT64_FORMAT " %9.0f\n", c->name,
           c->drain_mbs, c->total_s, c->ratio, c->waits,
           (double)c->peak / (1 << 20));
    g_string_append_printf(
        j,
        "%s{\"case\":\"%s\",\"drain_mb_s\":%.1f,\"total_s\":%.3f,"
        "\"ratio\":%.4f,\"full_waits\":%" G_GUINT64_FORMAT "}",
        i ? "," : "", c->name, c->drain_mbs, c->total_s, c->ratio, c->waits);
  }
  g_string_append(j, "]}\n");
  if (json_path)
    g_file_set_contents(json_path, j->str, -1, NULL);
  g_string_free(j, TRUE);
  g_byte_array_unref(base.code);
  g_byte_array_unref(base.text);
  for (gsize i = 0; i < n; i++)
    if (!cases[i].ok)
      return 1;
  return 0;
}
