/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The frame stamp of the pixel benchmark: tandem-bench-anim writes it into
 * every frame, the receivers (bench-pixels for Tandem, xpra-client.py for
 * Xpra) read it back from the pixels they were sent.
 *
 * A 64x64 square at (BENCH_STAMP_X, BENCH_STAMP_Y): 16x16 cells of 4x4
 * pixels, one bit per cell, row by row, least significant bit of word 0
 * first. A set bit is white, a clear bit black, in every channel, so the
 * stamp reads the same in BGRA, RGBX or RGB and survives any lossless
 * transport. Eight 32-bit words:
 *   0 magic BENCH_STAMP_MAGIC   1 frame counter (0, 1, 2, ...)
 *   2 draw time, CLOCK_MONOTONIC ns of the drawing system, low word
 *   3 ... high word             4 the app's mode (0 full, 1 small)
 *   5 checksum of words 0-4     6, 7 filler that changes every frame
 * The whole square therefore changes in every frame.
 *
 * Header only and plain C, so that the app (which goes into the guest
 * image too) needs nothing but libxcb. */
#pragma once

#include <stdint.h>

#define BENCH_STAMP_X 608
#define BENCH_STAMP_Y 328
#define BENCH_STAMP_SIZE 64
#define BENCH_STAMP_CELL 4
#define BENCH_STAMP_GRID (BENCH_STAMP_SIZE / BENCH_STAMP_CELL)
#define BENCH_STAMP_WORDS 8
#define BENCH_STAMP_MAGIC 0x504d5453u /* "STMP" */

typedef struct {
  uint32_t counter;
  uint64_t draw_ns;
  uint32_t mode;
} BenchStamp;

static inline uint32_t bench_stamp_checksum(const uint32_t *w) {
  uint32_t h = 2166136261u; /* FNV-1a over the bytes of words 0-4 */
  for (int i = 0; i < 5; i++)
    for (int b = 0; b < 4; b++)
      h = (h ^ ((w[i] >> (8 * b)) & 0xff)) * 16777619u;
  return h;
}

static inline void bench_stamp_words(const BenchStamp *s, uint32_t *w) {
  w[0] = BENCH_STAMP_MAGIC;
  w[1] = s->counter;
  w[2] = (uint32_t)s->draw_ns;
  w[3] = (uint32_t)(s->draw_ns >> 32);
  w[4] = s->mode;
  w[5] = bench_stamp_checksum(w);
  w[6] = s->counter * 2654435761u;
  w[7] = ~w[6] ^ 0x5a5a5a5au;
}

/* Draws @s into a 32-bit image (@stride bytes per row) whose pixel (0, 0)
 * is the stamp's top left corner. */
static inline void bench_stamp_draw(const BenchStamp *s, uint8_t *img,
                                    int stride) {
  uint32_t w[BENCH_STAMP_WORDS];
  bench_stamp_words(s, w);
  for (int y = 0; y < BENCH_STAMP_SIZE; y++) {
    uint32_t *row = (uint32_t *)(void *)(img + (long)y * stride);
    int cy = y / BENCH_STAMP_CELL;
    for (int cx = 0; cx < BENCH_STAMP_GRID; cx++) {
      int bit = cy * BENCH_STAMP_GRID + cx;
      uint32_t px = (w[bit / 32] >> (bit % 32)) & 1 ? 0xffffffffu : 0xff000000u;
      for (int x = 0; x < BENCH_STAMP_CELL; x++)
        row[cx * BENCH_STAMP_CELL + x] = px;
    }
  }
}

/* Reads a stamp from pixels of @bpp bytes (3 or 4) whose pixel (0, 0) is
 * the stamp's top left corner; each cell is sampled at its centre. Returns
 * 0 on success, -1 if there is no valid stamp there. */
static inline int bench_stamp_read(const uint8_t *img, int stride, int bpp,
                                   BenchStamp *out) {
  uint32_t w[BENCH_STAMP_WORDS] = {0};
  for (int bit = 0; bit < BENCH_STAMP_GRID * BENCH_STAMP_GRID; bit++) {
    int cx = bit % BENCH_STAMP_GRID, cy = bit / BENCH_STAMP_GRID;
    const uint8_t *p = img + (long)(cy * BENCH_STAMP_CELL + 2) * stride +
                       (cx * BENCH_STAMP_CELL + 2) * bpp;
    if (p[1] > 127)
      w[bit / 32] |= 1u << (bit % 32);
  }
  if (w[0] != BENCH_STAMP_MAGIC || w[5] != bench_stamp_checksum(w))
    return -1;
  out->counter = w[1];
  out->draw_ns = (uint64_t)w[3] << 32 | w[2];
  out->mode = w[4];
  return 0;
}
