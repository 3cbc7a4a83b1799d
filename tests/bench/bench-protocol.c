/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Decoder throughput on realistic agent -> host streams.
 *
 * Each stream is fed to the reader the way the host's I/O code will: in
 * 64 KiB reads copied straight into the reader's buffer (prepare/commit),
 * draining every complete frame after each read. The baseline, measured in
 * the same run on the same bytes, is that copy alone: what any reader pays
 * to take bytes off a socket. "overhead" is decode time over copy time.
 *
 *   bench-protocol [--short] [--json FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tandem-protocol.h"

#define READ_SIZE 65536

typedef struct {
  const char *name;
  const char *what;
  TpBuf bytes;
  size_t messages;
} Stream;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *pixels(size_t n) {
  uint8_t *p = malloc(n);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 2654435761u >> 24);
  return p;
}

static void add(Stream *s, const TpMessage *m) {
  if (tp_encode(m, &s->bytes) != TP_OK) {
    fprintf(stderr, "bench: cannot encode %s\n", tp_message_type_name(m->type));
    exit(1);
  }
  s->messages++;
}

/* The chatter of a desktop session besides pixels. */
static void add_small_messages(Stream *s, uint32_t i) {
  for (uint32_t k = 0; k < 10; k++) {
    TpMessage m = {.type = TP_MSG_WINDOW_CONFIGURE, .window = 0x400001 + k};
    m.u.configure = (TpWindowConfigure){(int32_t)(i % 500), 40, 640, 480, 0};
    add(s, &m);
  }
  for (uint32_t k = 0; k < 5; k++) {
    TpMessage m = {.type = TP_MSG_WINDOW_TITLE, .window = 0x400001 + k};
    m.u.title.title = "notes.txt (~/Documents) – Mousepad";
    add(s, &m);
    m = (TpMessage){.type = TP_MSG_HEARTBEAT};
    m.u.heartbeat = (TpHeartbeat){i, 0, 1000000ull * i, 0};
    add(s, &m);
    m = (TpMessage){.type = TP_MSG_FOCUS_REPORT, .window = 0x400001 + k};
    m.u.focus_report = (TpFocusReport){i, TP_FOCUS_WINDOW};
    add(s, &m);
    m = (TpMessage){.type = TP_MSG_WINDOW_STATE, .window = 0x400001 + k};
    m.u.state.states = TP_STATE_MAXIMIZED_VERT;
    add(s, &m);
  }
}

static void build_streams(Stream *st, size_t target) {
  uint8_t *big = pixels(1280 * 720 * 4);
  uint8_t *mid = pixels(256 * 128 * 4);
  uint8_t *small = pixels(64 * 16 * 4);

  /* 1. A desktop: a mid-sized update, a few small ones, and chatter. */
  st[0].name = "desktop-mix";
  st[0].what = "damage 256x128 + 3x 64x16 + 30 small msgs";
  for (uint32_t i = 0; st[0].bytes.len < target; i++) {
    TpRect r[4] = {{10, 10, 256, 128, 256 * 128 * 4, mid},
                   {300, 0, 64, 16, 64 * 16 * 4, small},
                   {300, 20, 64, 16, 64 * 16 * 4, small},
                   {300, 40, 64, 16, 64 * 16 * 4, small}};
    TpMessage m = {.type = TP_MSG_DAMAGE, .window = 0x400001};
    m.u.damage = (TpDamage){i, TP_ENCODING_RAW, TP_DAMAGE_FRAME_END, 4, r};
    add(&st[0], &m);
    add_small_messages(&st[0], i);
  }

  /* 2. Video: every frame repaints a whole 1280x720 window. */
  st[1].name = "full-720p";
  st[1].what = "damage 1280x720, whole window";
  for (uint32_t i = 0; st[1].bytes.len < target; i++) {
    TpRect r = {0, 0, 1280, 720, 1280 * 720 * 4, big};
    TpMessage m = {.type = TP_MSG_DAMAGE, .window = 0x400002};
    m.u.damage = (TpDamage){i, TP_ENCODING_RAW, TP_DAMAGE_FRAME_END, 1, &r};
    add(&st[1], &m);
  }

  /* 3. No pixels at all: the per-message cost. */
  st[2].name = "small-only";
  st[2].what = "configure/title/heartbeat/focus/state";
  for (uint32_t i = 0; st[2].bytes.len < target / 4; i++)
    add_small_messages(&st[2], i);

  free(big);
  free(mid);
  free(small);
}

/* Returns seconds; @checksum keeps the compiler from skipping work. */
static double run_decode(const Stream *s, size_t *messages, uint64_t *sum) {
  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  double t0 = now();
  size_t pos = 0, n_msgs = 0;
  uint64_t acc = 0;
  while (pos < s->bytes.len) {
    size_t avail;
    uint8_t *p = tp_reader_prepare(r, &avail);
    size_t n = s->bytes.len - pos;
    n = n < READ_SIZE ? n : READ_SIZE;
    n = n < avail ? n : avail;
    memcpy(p, s->bytes.data + pos, n);
    tp_reader_commit(r, n);
    pos += n;
    TpMessage m;
    TpError err;
    while ((err = tp_reader_next(r, &m)) == TP_OK) {
      n_msgs++;
      if (m.type == TP_MSG_DAMAGE)
        for (unsigned k = 0; k < m.u.damage.n_rects; k++)
          acc += m.u.damage.rects[k].data[m.u.damage.rects[k].len - 1];
    }
    if (err != TP_AGAIN) {
      fprintf(stderr, "bench: decode failed: %s\n", tp_error_to_string(err));
      exit(1);
    }
  }
  double t = now() - t0;
  tp_reader_free(r);
  *messages = n_msgs;
  *sum += acc;
  return t;
}

/* The baseline: the same reads into a buffer of the reader's own read size
 * (so both work in the same cache footprint), no parsing. */
#define COPY_BUF (256 * 1024)
static double run_copy(const Stream *s, uint64_t *sum) {
  uint8_t *buf = malloc(COPY_BUF);
  double t0 = now();
  size_t pos = 0, off = 0;
  while (pos < s->bytes.len) {
    size_t n = s->bytes.len - pos;
    n = n < READ_SIZE ? n : READ_SIZE;
    if (off + n > COPY_BUF)
      off = 0;
    memcpy(buf + off, s->bytes.data + pos, n);
    *sum += buf[off + n - 1];
    off += n;
    pos += n;
  }
  double t = now() - t0;
  free(buf);
  return t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return v[n / 2];
}

int main(int argc, char **argv) {
  int is_short = 0;
  const char *json_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--short") == 0)
      is_short = 1;
    else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
      json_path = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--short] [--json FILE]\n", argv[0]);
      return 2;
    }
  }
  size_t target = (is_short ? 16u : 128u) * 1024 * 1024;
  int reps = is_short ? 3 : 7;
  Stream st[3];
  memset(st, 0, sizeof(st));
  build_streams(st, target);

  FILE *json = json_path ? fopen(json_path, "w") : NULL;
  if (json_path && !json) {
    perror(json_path);
    return 1;
  }
  printf("Protocol decoder throughput (%s mode, median of %d runs, %d KiB "
         "reads)\n\n",
         is_short ? "short" : "full", reps, READ_SIZE / 1024);
  printf("%-12s %9s %9s %10s %11s %11s %9s\n", "stream", "MiB", "msgs",
         "decode", "decode", "copy-only", "overhead");
  printf("%-12s %9s %9s %10s %11s %11s %9s\n", "", "", "", "MB/s", "msgs/s",
         "MB/s", "x copy");
  if (json)
    fprintf(json, "{\"benchmark\":\"protocol-decode\",\"mode\":\"%s\","
                  "\"read_size\":%d,\"streams\":[",
            is_short ? "short" : "full", READ_SIZE);

  uint64_t sum = 0;
  for (int s = 0; s < 3; s++) {
    double td[16], tc[16];
    size_t msgs = 0;
    for (int r = 0; r < reps; r++) {
      td[r] = run_decode(&st[s], &msgs, &sum);
      tc[r] = run_copy(&st[s], &sum);
    }
    if (msgs != st[s].messages) {
      fprintf(stderr, "bench: %s decoded %zu of %zu messages\n", st[s].name,
              msgs, st[s].messages);
      return 1;
    }
    double d = median(td, reps), c = median(tc, reps);
    double mb = (double)st[s].bytes.len / 1e6;
    printf("%-12s %9.1f %9zu %10.0f %11.0f %11.0f %9.2f\n", st[s].name,
           (double)st[s].bytes.len / 1048576.0, msgs, mb / d,
           (double)msgs / d, mb / c, d / c);
    if (json)
      fprintf(json,
              "%s{\"name\":\"%s\",\"content\":\"%s\",\"bytes\":%zu,"
              "\"messages\":%zu,\"decode_mb_per_s\":%.1f,"
              "\"decode_msgs_per_s\":%.0f,\"baseline\":\"copy-only\","
              "\"baseline_mb_per_s\":%.1f,\"overhead_vs_copy\":%.3f}",
              s ? "," : "", st[s].name, st[s].what, st[s].bytes.len, msgs,
              mb / d, (double)msgs / d, mb / c, d / c);
    tp_buf_clear(&st[s].bytes);
  }
  if (json) {
    fprintf(json, "]}\n");
    fclose(json);
  }
  printf("\n(checksum %llu)\n", (unsigned long long)sum);
  return 0;
}
