/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The copy-on-write queue and the snapshot file: a stream fed through a
 * pipe comes back byte for byte; the queue never holds more than its bound
 * and makes the feeder wait when full; a full disk fails cleanly while the
 * pipe keeps draining; every kind of damaged file is refused with its own
 * message, another VM's too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tandem-snapshot-file.h"
#include "tandem-snapshot-writer.h"
#include "test-wait.h"

#define MiB (1u << 20)

static char *dir;

/* A stream like a guest's RAM: zero pages, text-like pages and noise. */
static guint8 *make_stream(gsize len, guint32 seed) {
  guint8 *s = g_malloc(len);
  GRand *r = g_rand_new_with_seed(seed);
  guint64 x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (gsize page = 0; page < len; page += 4096) {
    gsize n = MIN(4096, len - page);
    switch (g_rand_int_range(r, 0, 3)) {
    case 0:
      memset(s + page, 0, n);
      break;
    case 1:
      for (gsize i = 0; i < n; i++)
        s[page + i] = (guint8)("tandem snapshot "[i % 16]);
      break;
    default: /* xorshift: cheap enough under valgrind */
      for (gsize i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s[page + i] = (guint8)x;
      }
    }
  }
  g_rand_free(r);
  return s;
}

typedef struct {
  int fd;
  const guint8 *data;
  gsize len;
  gboolean ok;
} Feed;

static gpointer feed_main(gpointer data) {
  Feed *f = data;
  gsize done = 0;
  while (done < f->len) {
    ssize_t n = write(f->fd, f->data + done, MIN(f->len - done, 300000));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += (gsize)n;
  }
  f->ok = done == f->len;
  close(f->fd);
  return NULL;
}

static TandemSnapshotHeader header(const char *vm) {
  return (TandemSnapshotHeader){(char *)vm, (char *)"20261203-0001",
                                1764720000, TANDEM_SNAPSHOT_METHOD_BACKGROUND,
                                1u << 30, (char *)"7.2.0"};
}

typedef struct {
  gboolean done, ok;
  GError *error;
} Wait;

static void on_done(GObject *src, GAsyncResult *res, gpointer data) {
  Wait *w = data;
  w->ok = tandem_snapshot_writer_wait_finish(NULL, res, &w->error);
  w->done = TRUE;
}

/* Writes @len bytes of stream through the writer into @path. */
static gboolean write_snapshot(const char *path, const guint8 *stream,
                               gsize len,
                               const TandemSnapshotWriterOptions *opts,
                               TandemSnapshotWriterStats *stats,
                               GError **error) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  TandemSnapshotHeader h = header("work");
  int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  assert_true(out >= 0);
  TandemSnapshotWriter *w =
      tandem_snapshot_writer_new(p[0], out, &h, opts, error);
  if (!w) {
    close(p[1]);
    return FALSE;
  }
  Feed f = {p[1], stream, len, FALSE};
  GThread *t = g_thread_new("feed", feed_main, &f);
  Wait wait = {0};
  tandem_snapshot_writer_wait_async(w, NULL, on_done, &wait);
  assert_true(tandem_test_wait(&wait.done, 60));
  g_thread_join(t);
  if (stats)
    tandem_snapshot_writer_get_stats(w, stats);
  tandem_snapshot_writer_free(w);
  if (wait.error)
    g_propagate_error(error, wait.error);
  return wait.ok;
}

static char *path_of(const char *name) {
  return g_build_filename(dir, name, NULL);
}

typedef struct {
  const char *path;
  int fd;
  gboolean ok;
  GError *error;
} Stream;

static gpointer stream_main(gpointer data) {
  Stream *st = data;
  st->ok = tandem_snapshot_file_stream(st->path, st->fd, NULL, NULL,
                                       &st->error);
  return NULL;
}

/* Streams @path back through a pipe, as to QEMU; returns what came out. */
static GByteArray *read_back(const char *path, gboolean *ok,
                             GError **error) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  Stream st = {path, p[1], FALSE, NULL};
  GThread *t = g_thread_new("stream", stream_main, &st);
  GByteArray *out = g_byte_array_new();
  guint8 buf[65536];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof(buf))) > 0)
    g_byte_array_append(out, buf, (guint)n);
  close(p[0]);
  g_thread_join(t);
  *ok = st.ok;
  if (st.error)
    g_propagate_error(error, st.error);
  return out;
}

static void test_round_trip(void **state) {
  (void)state;
  const gsize len = 8 * MiB + 12345; /* not a multiple of a chunk */
  g_autofree guint8 *stream = make_stream(len, 1);
  g_autofree char *path = path_of("round.tsnap");
  g_autoptr(GError) error = NULL;
  TandemSnapshotWriterStats stats;
  assert_true(write_snapshot(path, stream, len, NULL, &stats, &error));
  assert_int_equal(stats.read_bytes, len);
  assert_true(stats.file_bytes < len); /* zero pages cost nothing */
  assert_int_equal(stats.queued_bytes, 0);

  TandemSnapshotFileInfo info = {0};
  assert_true(tandem_snapshot_file_verify(path, "work", &info, NULL,
                                          &error));
  assert_int_equal(info.raw_bytes, len);
  assert_int_equal(info.records, (len + MiB - 1) / MiB);
  assert_string_equal(info.header.id, "20261203-0001");
  assert_int_equal(info.header.method, TANDEM_SNAPSHOT_METHOD_BACKGROUND);
  assert_int_equal(info.header.memory, 1u << 30);
  GStatBuf st;
  assert_int_equal(g_stat(path, &st), 0);
  assert_int_equal(info.file_bytes, (guint64)st.st_size);
  assert_int_equal(stats.file_bytes, (guint64)st.st_size);
  assert_int_equal(stats.crc, info.crc);
  tandem_snapshot_file_info_clear(&info);

  gboolean ok;
  g_autoptr(GByteArray) back = read_back(path, &ok, &error);
  assert_true(ok);
  assert_int_equal(back->len, len);
  assert_memory_equal(back->data, stream, len);
}

static void test_empty_stream(void **state) {
  (void)state;
  g_autofree char *path = path_of("empty.tsnap");
  g_autoptr(GError) error = NULL;
  assert_true(write_snapshot(path, NULL, 0, NULL, NULL, &error));
  TandemSnapshotFileInfo info = {0};
  assert_true(tandem_snapshot_file_verify(path, NULL, &info, NULL, &error));
  assert_int_equal(info.raw_bytes, 0);
  tandem_snapshot_file_info_clear(&info);
}

typedef struct {
  TandemSnapshotWriter *w;
  guint64 bound;
} Full;

static gboolean queue_full(gpointer data) {
  Full *f = data;
  TandemSnapshotWriterStats st;
  tandem_snapshot_writer_get_stats(f->w, &st);
  return st.full_waits > 0 && st.queued_bytes + MiB > f->bound;
}

typedef struct {
  int from, to;
} Copy;

static gpointer copy_main(gpointer data) {
  Copy *c = data;
  guint8 buf[65536];
  ssize_t n;
  while ((n = read(c->from, buf, sizeof(buf))) > 0)
    if (write(c->to, buf, (size_t)n) != n)
      break;
  close(c->from);
  close(c->to);
  return NULL;
}

/* The disk stops taking writes (a pipe nobody reads stands in for a slow
 * one): the queue fills to its bound and no further, the feeder (QEMU)
 * waits; once the disk takes writes again nothing has been lost. */
static void test_queue_bound_and_back_pressure(void **state) {
  (void)state;
  const gsize len = 24 * MiB;
  g_autofree guint8 *stream = make_stream(len, 2);
  g_autofree char *path = path_of("slow.tsnap");
  g_autoptr(GError) error = NULL;
  int in[2], disk[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(disk), 0);
  TandemSnapshotHeader h = header("work");
  TandemSnapshotWriterOptions opts = {TANDEM_SNAPSHOT_MIN_QUEUE, 1};
  TandemSnapshotWriter *w =
      tandem_snapshot_writer_new(in[0], disk[1], &h, &opts, &error);
  assert_non_null(w);
  Feed f = {in[1], stream, len, FALSE};
  GThread *feeder = g_thread_new("feed", feed_main, &f);
  Full full = {w, TANDEM_SNAPSHOT_MIN_QUEUE};
  gboolean filled = FALSE;
  for (int i = 0; i < 3000 && !(filled = queue_full(&full)); i++)
    g_usleep(10000); /* other threads' progress: a bounded poll */
  assert_true(filled);
  TandemSnapshotWriterStats st;
  tandem_snapshot_writer_get_stats(w, &st);
  assert_true(st.queue_peak <= TANDEM_SNAPSHOT_MIN_QUEUE);
  assert_true(st.read_bytes < len); /* the feeder is held back */

  /* The disk comes back. */
  int file = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  Copy c = {disk[0], file};
  GThread *copier = g_thread_new("disk", copy_main, &c);
  Wait wait = {0};
  tandem_snapshot_writer_wait_async(w, NULL, on_done, &wait);
  assert_true(tandem_test_wait(&wait.done, 120));
  assert_true(wait.ok);
  g_thread_join(feeder);
  assert_true(f.ok);
  tandem_snapshot_writer_get_stats(w, &st);
  assert_true(st.queue_peak <= TANDEM_SNAPSHOT_MIN_QUEUE);
  tandem_snapshot_writer_free(w);
  g_thread_join(copier);
  gboolean ok;
  g_autoptr(GByteArray) back = read_back(path, &ok, &error);
  assert_true(ok);
  assert_int_equal(back->len, len);
  assert_memory_equal(back->data, stream, len);
}

static void test_bad_options(void **state) {
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  g_autofree char *path = path_of("never.tsnap");
  g_autoptr(GError) error = NULL;
  TandemSnapshotHeader h = header("work");
  TandemSnapshotWriterOptions opts = {1024, 1};
  int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  assert_null(tandem_snapshot_writer_new(p[0], out, &h, &opts, &error));
  assert_true(g_error_matches(error, TANDEM_SNAPSHOT_ERROR,
                              TANDEM_SNAPSHOT_ERROR_INVALID));
  GStatBuf st;
  assert_int_equal(g_stat(path, &st), 0);
  assert_int_equal(st.st_size, 0); /* nothing written */
  close(p[1]);
}

/* The disk fills up (a file size limit stands in for it, in a child
 * process): the writer fails with NO_SPACE, and the feeder (QEMU) is
 * never left blocked on the pipe. */
static void test_full_disk(void **state) {
  (void)state;
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {MiB, MiB};
    setrlimit(RLIMIT_FSIZE, &lim);
    const gsize len = 12 * MiB;
    guint8 *stream = make_stream(len, 3);
    char *path = path_of("full.tsnap");
    GError *error = NULL;
    gboolean ok = write_snapshot(path, stream, len, NULL, NULL, &error);
    gboolean no_space = g_error_matches(error, TANDEM_SNAPSHOT_ERROR,
                                        TANDEM_SNAPSHOT_ERROR_NO_SPACE);
    g_free(stream); /* nothing left for valgrind to call a leak */
    g_free(path);
    g_clear_error(&error);
    g_free(dir);
    _exit(!ok && no_space ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- Damaged files --------------------------------------------------------- */

static char *good_file(void) {
  char *path = path_of("good.tsnap");
  if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
    const gsize len = 3 * MiB + 100;
    g_autofree guint8 *stream = make_stream(len, 4);
    assert_true(write_snapshot(path, stream, len, NULL, NULL, NULL));
  }
  return path;
}

/* A copy of the good file changed by @edit, verified. */
static GError *verify_edited(void (*edit)(GByteArray *), const char *vm) {
  g_autofree char *good = good_file();
  g_autofree char *data = NULL;
  gsize len;
  assert_true(g_file_get_contents(good, &data, &len, NULL));
  g_autoptr(GByteArray) b = g_byte_array_new();
  g_byte_array_append(b, (guint8 *)data, (guint)len);
  if (edit)
    edit(b);
  g_autofree char *path = path_of("edited.tsnap");
  assert_true(g_file_set_contents(path, (char *)b->data, b->len, NULL));
  GError *error = NULL;
  TandemSnapshotFileInfo info = {0};
  gboolean ok = tandem_snapshot_file_verify(path, vm, &info, NULL, &error);
  tandem_snapshot_file_info_clear(&info);
  assert_true(ok == (error == NULL));
  return error;
}

static void truncate_half(GByteArray *b) { g_byte_array_set_size(b, b->len / 2); }
static void truncate_trailer(GByteArray *b) {
  g_byte_array_set_size(b, b->len - 10);
}
static void flip_in_record(GByteArray *b) { b->data[b->len / 2] ^= 0x40; }
static void flip_in_header(GByteArray *b) { b->data[20] ^= 0x01; }
static void bad_magic(GByteArray *b) { b->data[0] = 'X'; }
static void extra_bytes(GByteArray *b) {
  g_byte_array_append(b, (const guint8 *)"junk", 4);
}
static void huge_record(GByteArray *b) {
  /* The first record's raw length claims 4 GiB. */
  guint32 hlen = b->data[12] | b->data[13] << 8 | b->data[14] << 16 |
                 (guint32)b->data[15] << 24;
  memset(b->data + 16 + hlen, 0xff, 4);
}
static void huge_header(GByteArray *b) { memset(b->data + 12, 0xff, 4); }

static void expect(GError *error, int code, const char *words) {
  assert_non_null(error);
  if (error->domain != TANDEM_SNAPSHOT_ERROR || error->code != code ||
      !strstr(error->message, words))
    fail_msg("got “%s” (code %d)", error->message, error->code);
  g_error_free(error);
}

static void test_damaged_files_are_refused(void **state) {
  (void)state;
  assert_null(verify_edited(NULL, "work"));
  expect(verify_edited(truncate_half, NULL), TANDEM_SNAPSHOT_ERROR_TRUNCATED,
         "ends after");
  expect(verify_edited(truncate_trailer, NULL),
         TANDEM_SNAPSHOT_ERROR_TRUNCATED, "ends after");
  expect(verify_edited(flip_in_record, NULL), TANDEM_SNAPSHOT_ERROR_CORRUPT,
         "is damaged");
  expect(verify_edited(flip_in_header, NULL), TANDEM_SNAPSHOT_ERROR_CORRUPT,
         "");
  expect(verify_edited(bad_magic, NULL), TANDEM_SNAPSHOT_ERROR_CORRUPT,
         "not a Tandem snapshot");
  expect(verify_edited(extra_bytes, NULL), TANDEM_SNAPSHOT_ERROR_CORRUPT,
         "after its end");
  expect(verify_edited(huge_record, NULL), TANDEM_SNAPSHOT_ERROR_CORRUPT,
         "impossible lengths");
  expect(verify_edited(huge_header, NULL), TANDEM_SNAPSHOT_ERROR_CORRUPT,
         "header length");
  expect(verify_edited(NULL, "another"), TANDEM_SNAPSHOT_ERROR_WRONG_VM,
         "not of “another”");
}

/* Streaming a damaged file to QEMU stops at the damage with an error. */
static void test_stream_stops_at_damage(void **state) {
  (void)state;
  g_autofree char *good = good_file();
  g_autofree char *data = NULL;
  gsize len;
  assert_true(g_file_get_contents(good, &data, &len, NULL));
  data[len - 200] ^= 0x10; /* in the last record */
  g_autofree char *path = path_of("damaged.tsnap");
  assert_true(g_file_set_contents(path, data, (gssize)len, NULL));
  gboolean ok;
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) back = read_back(path, &ok, &error);
  assert_false(ok);
  assert_non_null(error);
  assert_true(back->len < 3 * MiB + 100);
}

static void test_header_parsing(void **state) {
  (void)state;
  TandemSnapshotHeader h = {0};
  g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;
  const char *ok = "{\"vm\":\"a\",\"id\":\"b\",\"created\":1,\"method\":"
                   "\"stopped\",\"memory\":5,\"qemu\":\"7.2.0\"}";
  assert_true(tandem_snapshot_header_parse(ok, strlen(ok), &h, &e1));
  assert_int_equal(h.method, TANDEM_SNAPSHOT_METHOD_STOPPED);
  const char *bad_method = "{\"vm\":\"a\",\"id\":\"b\",\"created\":1,"
                           "\"method\":\"magic\",\"memory\":5,\"qemu\":\"\"}";
  assert_false(tandem_snapshot_header_parse(bad_method, strlen(bad_method),
                                            &h, &e2));
  const char *not_json = "[1,2";
  assert_false(tandem_snapshot_header_parse(not_json, strlen(not_json), &h,
                                            &e3));
  tandem_snapshot_header_clear(&h);
}

static int setup(void **state) {
  (void)state;
  dir = g_dir_make_tmp("test-snapshot-XXXXXX", NULL);
  return dir ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d))) {
    g_autofree char *p = path_of(name);
    g_unlink(p);
  }
  g_rmdir(dir);
  g_free(dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_empty_stream),
      cmocka_unit_test(test_queue_bound_and_back_pressure),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_full_disk),
      cmocka_unit_test(test_damaged_files_are_refused),
      cmocka_unit_test(test_stream_stops_at_damage),
      cmocka_unit_test(test_header_parsing),
  };
  return cmocka_run_group_tests_name("snapshot-file", tests, setup, teardown);
}
