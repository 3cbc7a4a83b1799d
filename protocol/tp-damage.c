/* SPDX-License-Identifier: GPL-2.0-or-later */
/* DAMAGE: the one message whose layout the field table cannot express.
 *
 *   u32 frame_seq, u8 encoding, u8 flags, u16 n_rects
 *   n_rects x { u16 x, u16 y, u16 width, u16 height, u32 len }
 *   the rectangles' data, in the same order, back to back
 */
#include "tp-private.h"

#include <string.h>

TpError tp_damage_check(const TpMessage *msg) {
  const TpDamage *d = &msg->u.damage;
  if (d->encoding > TP_ENCODING_LAST)
    return TP_ERR_BAD_VALUE;
  if (d->flags & ~TP_DAMAGE_FLAGS_KNOWN)
    return TP_ERR_BAD_FLAGS;
  if (d->n_rects > TP_MAX_DAMAGE_RECTS)
    return TP_ERR_TOO_MANY;
  /* An empty DAMAGE only makes sense as the end of a split frame. */
  if (d->n_rects == 0 && !(d->flags & TP_DAMAGE_FRAME_END))
    return TP_ERR_BAD_VALUE;
  if (d->n_rects && !d->rects)
    return TP_ERR_INVALID_ARG;

  uint64_t total = 0;
  for (unsigned i = 0; i < d->n_rects; i++) {
    const TpRect *r = &d->rects[i];
    if (r->width == 0 || r->height == 0 ||
        (uint32_t)r->x + r->width > TP_MAX_WINDOW_DIM ||
        (uint32_t)r->y + r->height > TP_MAX_WINDOW_DIM)
      return TP_ERR_BAD_SIZE;
    uint64_t raw = (uint64_t)r->width * r->height * 4u;
    if (d->encoding == TP_ENCODING_SHM) {
      if (r->len != TP_SHM_REF_SIZE)
        return TP_ERR_BAD_LENGTH;
    } else if (d->encoding == TP_ENCODING_COPY) {
      TpCopyRef ref; /* its source inside the largest window */
      TpError err = tp_copy_ref_read(r, &ref);
      if (err)
        return err;
    } else if (d->encoding == TP_ENCODING_RAW ? r->len != raw
                                       : (r->len == 0 ||
                                          r->len > TP_COMPRESSED_BOUND(raw)))
      return TP_ERR_BAD_LENGTH;
    /* What a compressed rectangle expands to is bounded like a message:
     * the receiver decodes it into one buffer of that size. */
    else if (d->encoding != TP_ENCODING_RAW && raw > TP_MAX_DAMAGE_PAYLOAD)
      return TP_ERR_TOO_LONG;
    if (r->len && !r->data)
      return TP_ERR_INVALID_ARG;
    total += r->len;
  }
  return total > TP_MAX_DAMAGE_PAYLOAD ? TP_ERR_TOO_LONG : TP_OK;
}

TpError tp_damage_decode(const uint8_t *body, uint32_t len, TpArena *arena,
                         TpMessage *out) {
  TpDamage *d = &out->u.damage;
  if (len < TP_DAMAGE_FIXED)
    return TP_ERR_TRUNCATED;
  d->frame_seq = tp_get_u32(body);
  d->encoding = body[4];
  d->flags = body[5];
  d->n_rects = tp_get_u16(body + 6);
  if (d->n_rects > TP_MAX_DAMAGE_RECTS)
    return TP_ERR_TOO_MANY;

  uint32_t table = TP_DAMAGE_FIXED + (uint32_t)d->n_rects * TP_DAMAGE_RECT_SIZE;
  if (len < table)
    return TP_ERR_TRUNCATED;
  size_t need = (size_t)d->n_rects * sizeof(TpRect) + sizeof(TpRect);
  if (!tp_arena_reserve(arena, need))
    return TP_ERR_NOMEM;
  TpRect *rects = tp_arena_alloc(arena, need, _Alignof(TpRect));
  if (!rects)
    return TP_ERR_NOMEM;

  uint32_t data_pos = table;
  for (unsigned i = 0; i < d->n_rects; i++) {
    const uint8_t *p = body + TP_DAMAGE_FIXED + i * TP_DAMAGE_RECT_SIZE;
    TpRect *r = &rects[i];
    r->x = tp_get_u16(p);
    r->y = tp_get_u16(p + 2);
    r->width = tp_get_u16(p + 4);
    r->height = tp_get_u16(p + 6);
    r->len = tp_get_u32(p + 8);
    if (r->len > len - data_pos)
      return TP_ERR_TRUNCATED;
    r->data = body + data_pos;
    data_pos += r->len;
  }
  if (data_pos != len)
    return TP_ERR_BAD_LENGTH;
  d->rects = rects;
  return TP_OK;
}

TpError tp_damage_encode(const TpMessage *msg, TpBuf *buf) {
  const TpDamage *d = &msg->u.damage;
  size_t body = TP_DAMAGE_FIXED + (size_t)d->n_rects * TP_DAMAGE_RECT_SIZE;
  for (unsigned i = 0; i < d->n_rects; i++)
    body += d->rects[i].len;

  uint8_t *p = tp_buf_grow(buf, TP_HEADER_SIZE + body);
  if (!p)
    return TP_ERR_NOMEM;
  tp_header_write(p, TP_MSG_DAMAGE, msg->window, (uint32_t)body);
  p += TP_HEADER_SIZE;
  tp_put_u32(p, d->frame_seq);
  p[4] = d->encoding;
  p[5] = d->flags;
  tp_put_u16(p + 6, d->n_rects);
  uint8_t *data = p + TP_DAMAGE_FIXED + d->n_rects * TP_DAMAGE_RECT_SIZE;
  for (unsigned i = 0; i < d->n_rects; i++) {
    const TpRect *r = &d->rects[i];
    uint8_t *q = p + TP_DAMAGE_FIXED + i * TP_DAMAGE_RECT_SIZE;
    tp_put_u16(q, r->x);
    tp_put_u16(q + 2, r->y);
    tp_put_u16(q + 4, r->width);
    tp_put_u16(q + 6, r->height);
    tp_put_u32(q + 8, r->len);
    if (r->len)
      memcpy(data, r->data, r->len);
    data += r->len;
  }
  return TP_OK;
}

/* --- Copies within a window --------------------------------------------- */

TpError tp_copy_ref_read(const TpRect *rect, TpCopyRef *out) {
  if (rect->len != TP_COPY_REF_SIZE || !rect->data)
    return TP_ERR_BAD_LENGTH;
  TpCopyRef ref = {tp_get_u16(rect->data), tp_get_u16(rect->data + 2)};
  if ((uint32_t)ref.src_x + rect->width > TP_MAX_WINDOW_DIM ||
      (uint32_t)ref.src_y + rect->height > TP_MAX_WINDOW_DIM)
    return TP_ERR_BAD_SIZE;
  *out = ref;
  return TP_OK;
}

void tp_copy_ref_write(uint8_t out[TP_COPY_REF_SIZE], const TpCopyRef *ref) {
  tp_put_u16(out, ref->src_x);
  tp_put_u16(out + 2, ref->src_y);
}

/* --- The shared pixel region ------------------------------------------- */

TpError tp_shm_ref_read(const TpRect *rect, uint64_t region_size,
                        TpShmRef *out) {
  if (rect->len != TP_SHM_REF_SIZE || !rect->data)
    return TP_ERR_BAD_LENGTH;
  TpShmRef ref = {tp_get_u32(rect->data), tp_get_u32(rect->data + 4)};
  uint64_t row = (uint64_t)rect->width * 4u;
  if (rect->width == 0 || rect->height == 0 || ref.stride < row ||
      ref.stride % 4u || ref.offset % 4u || ref.offset < TP_SHM_HEADER_SIZE)
    return TP_ERR_BAD_VALUE;
  /* At most 65535 rows of at most 4 GiB: no overflow in 64 bits. */
  uint64_t end = (uint64_t)ref.offset +
                 (uint64_t)(rect->height - 1u) * ref.stride + row;
  if (end > region_size)
    return TP_ERR_BAD_VALUE;
  *out = ref;
  return TP_OK;
}

void tp_shm_ref_write(uint8_t out[TP_SHM_REF_SIZE], const TpShmRef *ref) {
  tp_put_u32(out, ref->offset);
  tp_put_u32(out + 4, ref->stride);
}

void tp_shm_header_write(uint8_t *data, uint64_t size) {
  memset(data, 0, TP_SHM_HEADER_SIZE);
  memcpy(data, TP_SHM_MAGIC, 8);
  tp_put_u32(data + 8, 1);
  tp_put_u32(data + 12, TP_SHM_HEADER_SIZE);
  tp_put_u32(data + 16, (uint32_t)size);
  tp_put_u32(data + 20, (uint32_t)(size >> 32));
}

bool tp_shm_header_check(const uint8_t *data, uint64_t mapped) {
  uint64_t size = tp_get_u32(data + 16) |
                  (uint64_t)tp_get_u32(data + 20) << 32;
  return memcmp(data, TP_SHM_MAGIC, 8) == 0 && tp_get_u32(data + 8) == 1 &&
         tp_get_u32(data + 12) == TP_SHM_HEADER_SIZE &&
         size > TP_SHM_HEADER_SIZE && size <= mapped;
}
