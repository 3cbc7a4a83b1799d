/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes the seed corpus: every sample message from the round-trip tests,
 * each as the side that receives it, plus one stream of all of them. */
#include <stdio.h>
#include <stdlib.h>

#include "protocol-samples.h"

static void write_seed(const char *dir, const char *name, uint8_t mode,
                       const TpBuf *buf) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(&mode, 1, 1, f) != 1 ||
      fwrite(buf->data, 1, buf->len, f) != buf->len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
    return 2;
  }
  TpBuf all_host, one;
  tp_buf_init(&all_host);
  tp_buf_init(&one);
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++) {
    TpMessage m;
    tp_sample_message(t, &m);
    tp_buf_reset(&one);
    if (tp_encode(&m, &one) != TP_OK)
      return 1;
    uint8_t mode = tp_sample_receiver(t) == TP_ROLE_HOST ? 1 : 0;
    write_seed(argv[1], tp_message_type_name(t), mode, &one);
    if (mode)
      tp_encode(&m, &all_host);
  }
  write_seed(argv[1], "STREAM_TO_HOST", 0x41, &all_host);

  /* Pixels in shared memory: two references, one at the region's start. */
  uint8_t refs[2][TP_SHM_REF_SIZE];
  tp_shm_ref_write(refs[0], &(TpShmRef){TP_SHM_HEADER_SIZE, 64});
  tp_shm_ref_write(refs[1], &(TpShmRef){TP_SHM_HEADER_SIZE + 4096, 16});
  TpRect rects[2] = {{0, 0, 16, 8, TP_SHM_REF_SIZE, refs[0]},
                     {100, 30, 4, 2, TP_SHM_REF_SIZE, refs[1]}};
  TpMessage shm = {.type = TP_MSG_DAMAGE, .window = 7};
  shm.u.damage = (TpDamage){18, TP_ENCODING_SHM, TP_DAMAGE_FRAME_END, 2,
                            rects};
  tp_buf_reset(&one);
  if (tp_encode(&shm, &one) != TP_OK)
    return 1;
  write_seed(argv[1], "DAMAGE_SHM", 1, &one);

  /* A scroll: a copy within the window, then the new rows. */
  uint8_t from[TP_COPY_REF_SIZE];
  tp_copy_ref_write(from, &(TpCopyRef){0, 13});
  TpRect moved = {0, 0, 64, 51, TP_COPY_REF_SIZE, from};
  TpMessage copy = {.type = TP_MSG_DAMAGE, .window = 7};
  copy.u.damage = (TpDamage){19, TP_ENCODING_COPY, 0, 1, &moved};
  tp_buf_reset(&one);
  if (tp_encode(&copy, &one) != TP_OK)
    return 1;
  write_seed(argv[1], "DAMAGE_COPY", 1, &one);
  tp_buf_clear(&all_host);
  tp_buf_clear(&one);
  return 0;
}
