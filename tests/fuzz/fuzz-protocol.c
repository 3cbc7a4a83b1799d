/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the stream reader and every decoder, as the host and as
 * the agent receive them.
 *
 * Input: byte 0 picks the receiving role (bit 0) and the read size (the
 * other bits), the rest is the stream. Beyond "no crash, no leak, no UB",
 * it checks that whatever the decoder accepts the encoder can write again,
 * and that this re-encoded frame decodes and encodes to itself. */
#include <stdlib.h>
#include <string.h>

#include "tandem-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reencode(const TpMessage *msg, TpRole role) {
  TpBuf first, second;
  tp_buf_init(&first);
  tp_buf_init(&second);
  if (tp_encode(msg, &first) != TP_OK)
    abort(); /* accepted on the way in, refused on the way out */

  TpReader *r = tp_reader_new(role);
  TpMessage again;
  if (tp_reader_feed(r, first.data, first.len) != first.len ||
      tp_reader_next(r, &again) != TP_OK ||
      tp_encode(&again, &second) != TP_OK || second.len != first.len ||
      memcmp(first.data, second.data, first.len) != 0)
    abort(); /* encoder and decoder disagree */
  tp_reader_free(r);
  tp_buf_clear(&first);
  tp_buf_clear(&second);
}

/* Shared-memory pixels: whatever a reference says, an accepted one lies
 * within the region after its header (as the host would then copy it). */
static void check_shm_refs(const TpMessage *msg) {
  if (msg->type != TP_MSG_DAMAGE || msg->u.damage.encoding != TP_ENCODING_SHM)
    return;
  static const uint64_t sizes[] = {2 * TP_SHM_HEADER_SIZE, 64u << 20,
                                   (uint64_t)1 << 32};
  for (unsigned i = 0; i < msg->u.damage.n_rects; i++)
    for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
      const TpRect *r = &msg->u.damage.rects[i];
      TpShmRef ref;
      if (tp_shm_ref_read(r, sizes[k], &ref) != TP_OK)
        continue;
      uint64_t end = ref.offset + (uint64_t)(r->height - 1) * ref.stride +
                     (uint64_t)r->width * 4;
      if (ref.offset < TP_SHM_HEADER_SIZE || end > sizes[k] ||
          ref.stride < (uint64_t)r->width * 4)
        abort();
    }
}

/* Copies within a window: an accepted DAMAGE's source lies in the largest
 * window (the host clips it to its own surface). */
static void check_copy_refs(const TpMessage *msg) {
  if (msg->type != TP_MSG_DAMAGE || msg->u.damage.encoding != TP_ENCODING_COPY)
    return;
  for (unsigned i = 0; i < msg->u.damage.n_rects; i++) {
    const TpRect *r = &msg->u.damage.rects[i];
    TpCopyRef ref;
    if (tp_copy_ref_read(r, &ref) != TP_OK ||
        (uint32_t)ref.src_x + r->width > TP_MAX_WINDOW_DIM ||
        (uint32_t)ref.src_y + r->height > TP_MAX_WINDOW_DIM)
      abort(); /* the decoder let through what the check refuses */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  TpRole role = (data[0] & 1) ? TP_ROLE_HOST : TP_ROLE_AGENT;
  size_t chunk = (size_t)(data[0] >> 1) * 37 + 1;
  data++, size--;

  TpReader *r = tp_reader_new(role);
  size_t pos = 0;
  while (pos < size) {
    size_t n = size - pos < chunk ? size - pos : chunk;
    size_t taken = tp_reader_feed(r, data + pos, n);
    pos += taken;
    TpMessage msg;
    TpError err;
    while ((err = tp_reader_next(r, &msg)) == TP_OK) {
      check_reencode(&msg, role);
      check_shm_refs(&msg);
      check_copy_refs(&msg);
    }
    if (err != TP_AGAIN)
      break; /* the connection would be dropped here */
    if (taken == 0)
      abort(); /* a drained, healthy reader must always take bytes */
  }
  tp_reader_free(r);
  return 0;
}
