/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stream reader: turns bytes as they arrive (in any split) into messages.
 *
 * Memory is bounded: the buffer holds at most one read chunk, or the one
 * frame being assembled if that is larger, and a frame's size is only
 * trusted after its header has passed tp_header_decode(). */
#include "tp-private.h"

#include <stdlib.h>
#include <string.h>

#define TP_READ_CHUNK ((size_t)256 * 1024)

struct TpReader {
  TpRole role;
  uint8_t *buf;
  size_t cap;
  size_t start, end;   /* unconsumed bytes are buf[start, end) */
  bool have_header;    /* header at buf[start] validated into .header */
  TpHeader header;
  TpError error;       /* sticky once set */
  TpArena arena;
};

TpReader *tp_reader_new(TpRole receiver) {
  if (receiver != TP_ROLE_HOST && receiver != TP_ROLE_AGENT)
    return NULL;
  TpReader *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->role = receiver;
  tp_arena_init(&r->arena);
  return r;
}

void tp_reader_free(TpReader *r) {
  if (!r)
    return;
  free(r->buf);
  tp_arena_clear(&r->arena);
  free(r);
}

static void check_header(TpReader *r) {
  if (r->error || r->have_header || r->end - r->start < TP_HEADER_SIZE)
    return;
  r->error = tp_header_decode(r->buf + r->start, r->role, &r->header);
  r->have_header = r->error == TP_OK;
}

uint8_t *tp_reader_prepare(TpReader *r, size_t *avail) {
  *avail = 0;
  check_header(r);
  if (r->error)
    return NULL;
  if (r->start > 0) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  size_t limit = TP_READ_CHUNK;
  if (r->have_header && TP_HEADER_SIZE + (size_t)r->header.length > limit)
    limit = TP_HEADER_SIZE + (size_t)r->header.length;
  if (r->end >= limit)
    return r->buf + r->end; /* caller must drain with tp_reader_next() */
  if (r->cap < limit) {
    uint8_t *p = realloc(r->buf, limit);
    if (!p) {
      r->error = TP_ERR_NOMEM;
      return NULL;
    }
    r->buf = p;
    r->cap = limit;
  }
  *avail = limit - r->end;
  return r->buf + r->end;
}

void tp_reader_commit(TpReader *r, size_t n) {
  if (r->error)
    return;
  if (n > r->cap - r->end) {
    r->error = TP_ERR_INVALID_ARG;
    return;
  }
  r->end += n;
}

size_t tp_reader_feed(TpReader *r, const void *data, size_t len) {
  size_t taken = 0;
  while (taken < len) {
    size_t avail;
    uint8_t *p = tp_reader_prepare(r, &avail);
    if (!p || avail == 0)
      break;
    size_t n = len - taken < avail ? len - taken : avail;
    memcpy(p, (const uint8_t *)data + taken, n);
    tp_reader_commit(r, n);
    taken += n;
  }
  return taken;
}

TpError tp_reader_next(TpReader *r, TpMessage *out) {
  check_header(r);
  if (r->error)
    return r->error;
  if (!r->have_header ||
      r->end - r->start < TP_HEADER_SIZE + (size_t)r->header.length)
    return TP_AGAIN;
  TpError err = tp_body_decode(&r->header, r->buf + r->start + TP_HEADER_SIZE,
                               &r->arena, out);
  r->start += TP_HEADER_SIZE + (size_t)r->header.length;
  r->have_header = false;
  if (err)
    r->error = err;
  return err;
}

size_t tp_reader_buffered(const TpReader *r) { return r->end - r->start; }
