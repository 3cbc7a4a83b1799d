/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What changed between two captures of the same rectangle of a window:
 * a scroll (rows that moved up or down as a block) and the rows and
 * columns that differ. Pure: the unit tests and valgrind see all of it. */
#include "tx-pure.h"

#include <stdlib.h>
#include <string.h>

/* A row's fingerprint (not cryptographic: equal rows are always compared
 * with memcmp before anything relies on them). */
static uint64_t row_hash(const uint8_t *p, size_t len) {
  uint64_t h = 0x243f6a8885a308d3ull ^ len;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    h = (h ^ v) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
  }
  for (; i < len; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h ^ (h >> 32);
}

/* An open-addressing table: row hash -> the one row of @before with it,
 * or DUP when several rows have it (blank lines: no evidence of a move). */
#define EMPTY UINT32_MAX
#define DUP (UINT32_MAX - 1)

typedef struct {
  uint64_t *keys;
  uint32_t *rows;
  size_t mask;
} RowTable;

static int table_init(RowTable *t, uint32_t n) {
  size_t size = 16;
  while (size < (size_t)n * 2)
    size <<= 1;
  t->keys = malloc(size * sizeof(*t->keys));
  t->rows = malloc(size * sizeof(*t->rows));
  t->mask = size - 1;
  if (!t->keys || !t->rows) {
    free(t->keys);
    free(t->rows);
    return 0;
  }
  for (size_t i = 0; i < size; i++)
    t->rows[i] = EMPTY;
  return 1;
}

static uint32_t *table_slot(RowTable *t, uint64_t key, int *found) {
  size_t i = (size_t)key & t->mask;
  while (t->rows[i] != EMPTY && t->keys[i] != key)
    i = (i + 1) & t->mask;
  *found = t->rows[i] != EMPTY;
  t->keys[i] = key;
  return &t->rows[i];
}

static int same_row(const TxPixels *a, uint32_t ya, const TxPixels *b,
                    uint32_t yb, uint32_t width) {
  return memcmp(a->data + (size_t)ya * a->stride,
                b->data + (size_t)yb * b->stride, (size_t)width * 4) == 0;
}

int tx_find_scroll(const TxPixels *now, const TxPixels *before,
                   uint32_t width, uint32_t height, TxScroll *out) {
  if (height < 2 * TX_SCROLL_MIN_ROWS || width == 0)
    return 0;
  RowTable t;
  if (!table_init(&t, height))
    return 0;
  size_t len = (size_t)width * 4;
  for (uint32_t y = 0; y < height; y++) {
    int found;
    uint32_t *slot = table_slot(&t, row_hash(before->data + y * before->stride,
                                             len), &found);
    *slot = found ? DUP : y;
  }
  /* Votes for each shift dy = (row now) - (row before), from rows found
   * once in @before and not where they were. */
  uint32_t *votes = calloc((size_t)height * 2, sizeof(*votes));
  if (!votes) {
    free(t.keys);
    free(t.rows);
    return 0;
  }
  for (uint32_t y = 0; y < height; y++) {
    uint64_t key = row_hash(now->data + y * now->stride, len);
    size_t i = (size_t)key & t.mask;
    while (t.rows[i] != EMPTY && t.keys[i] != key)
      i = (i + 1) & t.mask;
    if (t.rows[i] == EMPTY || t.rows[i] == DUP || t.rows[i] == y)
      continue;
    votes[(size_t)((int64_t)y - t.rows[i] + height)]++;
  }
  free(t.keys);
  free(t.rows);
  size_t best = 0;
  for (size_t i = 1; i < (size_t)height * 2; i++)
    if (votes[i] > votes[best])
      best = i;
  uint32_t n_votes = votes[best];
  free(votes);
  if (n_votes < TX_SCROLL_MIN_VOTES)
    return 0;
  int32_t dy = (int32_t)best - (int32_t)height;
  /* The longest block of rows that really moved by dy (memcmp, not the
   * hash): where both ends lie in the rectangle. */
  uint32_t lo = dy > 0 ? (uint32_t)dy : 0;
  uint32_t hi = dy > 0 ? height : height - (uint32_t)-dy;
  uint32_t run = 0, best_first = 0, best_rows = 0;
  for (uint32_t y = lo; y < hi; y++) {
    if (same_row(now, y, before, (uint32_t)((int32_t)y - dy), width)) {
      run++;
      if (run > best_rows) {
        best_rows = run;
        best_first = y + 1 - run;
      }
    } else {
      run = 0;
    }
  }
  if (best_rows < TX_SCROLL_MIN_ROWS)
    return 0;
  *out = (TxScroll){dy, best_first, best_rows};
  return 1;
}

void tx_apply_scroll(TxPixels *px, uint32_t width, const TxScroll *s) {
  size_t len = (size_t)width * 4;
  for (uint32_t i = 0; i < s->rows; i++) {
    /* Moving down: from the bottom up, so no source row is overwritten
     * before it is read. */
    uint32_t k = s->dy > 0 ? s->rows - 1 - i : i;
    uint32_t y = s->first + k;
    memmove(px->data + (size_t)y * px->stride,
            px->data + (size_t)((int32_t)y - s->dy) * px->stride, len);
  }
}

/* The first and one past the last column where row @y differs. */
static int row_span(const TxPixels *now, const TxPixels *before, uint32_t y,
                    uint32_t width, uint32_t *x0, uint32_t *x1) {
  const uint32_t *a = (const uint32_t *)(const void *)(now->data +
                                                       y * now->stride);
  const uint32_t *b = (const uint32_t *)(const void *)(before->data +
                                                       y * before->stride);
  if (memcmp(a, b, (size_t)width * 4) == 0)
    return 0;
  uint32_t l = 0, r = width;
  while (a[l] == b[l])
    l++;
  while (a[r - 1] == b[r - 1])
    r--;
  *x0 = l;
  *x1 = r;
  return 1;
}

size_t tx_changed_rects(const TxPixels *now, const TxPixels *before,
                        uint32_t width, uint32_t height, TxRect *out,
                        size_t max) {
  if (max == 0)
    return 0;
  size_t n = 0;
  uint32_t gap = 0;
  for (uint32_t y = 0; y < height; y++) {
    uint32_t x0, x1;
    if (!row_span(now, before, y, width, &x0, &x1)) {
      gap++;
      continue;
    }
    TxRect *last = n ? &out[n - 1] : NULL;
    /* A few unchanged rows between two changed ones cost less sent than
     * another rectangle (and the host's work per rectangle); past @max,
     * everything joins the last one. */
    if (last && (gap <= TX_DELTA_JOIN_ROWS || n == max)) {
      uint32_t l = (uint32_t)last->x < x0 ? (uint32_t)last->x : x0;
      uint32_t r = (uint32_t)last->x + last->width > x1
                       ? (uint32_t)last->x + last->width
                       : x1;
      last->x = (int32_t)l;
      last->width = r - l;
      last->height = y + 1 - (uint32_t)last->y;
    } else {
      out[n++] = (TxRect){(int32_t)x0, (int32_t)y, x1 - x0, 1};
    }
    gap = 0;
  }
  return n;
}
