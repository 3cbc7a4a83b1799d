/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Output buffer and decode arena. Both only grow, and are reused across
 * messages so that steady-state encoding and decoding do not allocate. */
#include "tp-private.h"

#include <stdlib.h>
#include <string.h>

static bool grow_to(uint8_t **data, size_t *cap, size_t need) {
  if (need <= *cap)
    return true;
  size_t cap2 = *cap ? *cap : 256;
  while (cap2 < need) {
    if (cap2 > SIZE_MAX / 2)
      return false;
    cap2 *= 2;
  }
  uint8_t *p = realloc(*data, cap2);
  if (!p)
    return false;
  *data = p;
  *cap = cap2;
  return true;
}

void tp_buf_init(TpBuf *buf) { memset(buf, 0, sizeof(*buf)); }

void tp_buf_clear(TpBuf *buf) {
  free(buf->data);
  tp_buf_init(buf);
}

void tp_buf_reset(TpBuf *buf) { buf->len = 0; }

uint8_t *tp_buf_grow(TpBuf *buf, size_t extra) {
  if (extra > SIZE_MAX - buf->len)
    return NULL;
  if (!grow_to(&buf->data, &buf->cap, buf->len + extra))
    return NULL;
  uint8_t *p = buf->data + buf->len;
  buf->len += extra;
  return p;
}

void tp_arena_init(TpArena *arena) { memset(arena, 0, sizeof(*arena)); }

void tp_arena_clear(TpArena *arena) {
  free(arena->data);
  tp_arena_init(arena);
}

void tp_arena_reset(TpArena *arena) { arena->used = 0; }

/* The arena is sized before a message is decoded (see the codec), so it never
 * moves while pointers into it are being handed out. */
void *tp_arena_alloc(TpArena *arena, size_t size, size_t align) {
  size_t start = (arena->used + align - 1) & ~(align - 1);
  if (start < arena->used || size > arena->cap ||
      start > arena->cap - size)
    return NULL;
  arena->used = start + size;
  return arena->data + start;
}

bool tp_arena_reserve(TpArena *arena, size_t size) {
  return grow_to(&arena->data, &arena->cap, size);
}
