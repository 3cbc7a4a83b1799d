/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The stream reader: partial reads, many frames per read, bounded memory,
 * zero-copy reads through prepare/commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocol-samples.h"
#include "tandem-protocol.h"

/* A full-frame damage of @w x @h, raw. */
static void encode_big_damage(TpBuf *buf, uint16_t w, uint16_t h,
                              uint8_t **pixels) {
  *pixels = malloc((size_t)w * h * 4);
  for (size_t i = 0; i < (size_t)w * h * 4; i++)
    (*pixels)[i] = (uint8_t)(i * 13);
  TpRect rect = {0, 0, w, h, (uint32_t)w * h * 4, *pixels};
  TpMessage m = {.type = TP_MSG_DAMAGE, .window = 9};
  m.u.damage = (TpDamage){1, TP_ENCODING_RAW, TP_DAMAGE_FRAME_END, 1, &rect};
  assert_int_equal(tp_encode(&m, buf), TP_OK);
}

/* Reading a 1280x720 frame in socket-sized pieces straight into the
 * reader's buffer, the way the host's I/O code does. */
static void test_prepare_commit_large_frame(void **state) {
  (void)state;
  TpBuf buf;
  uint8_t *pixels;
  tp_buf_init(&buf);
  encode_big_damage(&buf, 1280, 720, &pixels);

  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  TpMessage m;
  size_t pos = 0;
  TpError err = TP_AGAIN;
  while (pos < buf.len) {
    size_t avail;
    uint8_t *p = tp_reader_prepare(r, &avail);
    assert_non_null(p);
    assert_true(avail > 0);
    size_t n = buf.len - pos < 65536 ? buf.len - pos : 65536;
    n = n < avail ? n : avail;
    memcpy(p, buf.data + pos, n);
    tp_reader_commit(r, n);
    pos += n;
    err = tp_reader_next(r, &m);
    if (pos < buf.len)
      assert_int_equal(err, TP_AGAIN);
  }
  assert_int_equal(err, TP_OK);
  assert_int_equal(m.u.damage.rects[0].width, 1280);
  assert_memory_equal(m.u.damage.rects[0].data, pixels, 1280 * 720 * 4);
  tp_reader_free(r);
  tp_buf_clear(&buf);
  free(pixels);
}

/* Until a header is validated, the reader offers no more than one read
 * chunk; a caller that never drains gets no more room. */
static void test_memory_bounded_without_draining(void **state) {
  (void)state;
  TpBuf buf;
  tp_buf_init(&buf);
  TpMessage m;
  tp_sample_message(TP_MSG_HEARTBEAT, &m);
  while (buf.len < 4u * 1024 * 1024)
    assert_int_equal(tp_encode(&m, &buf), TP_OK);

  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  size_t taken = tp_reader_feed(r, buf.data, buf.len);
  assert_true(taken < buf.len);
  assert_true(taken <= 256 * 1024);
  assert_int_equal(tp_reader_buffered(r), taken);
  size_t avail = 1;
  tp_reader_prepare(r, &avail);
  assert_int_equal(avail, 0);

  /* Draining makes room again, and every message comes out. */
  size_t pos = taken, count = 0;
  for (;;) {
    TpError err;
    while ((err = tp_reader_next(r, &m)) == TP_OK) {
      assert_int_equal(m.type, TP_MSG_HEARTBEAT);
      count++;
    }
    assert_int_equal(err, TP_AGAIN);
    if (pos == buf.len)
      break;
    pos += tp_reader_feed(r, buf.data + pos, buf.len - pos);
  }
  size_t frame = TP_HEADER_SIZE + 4 + 1 + 8 + 8;
  assert_int_equal(count, buf.len / frame);
  tp_reader_free(r);
  tp_buf_clear(&buf);
}

static void test_commit_beyond_prepared_is_an_error(void **state) {
  (void)state;
  TpReader *r = tp_reader_new(TP_ROLE_AGENT);
  size_t avail;
  assert_non_null(tp_reader_prepare(r, &avail));
  tp_reader_commit(r, avail + 1);
  TpMessage m;
  assert_int_equal(tp_reader_next(r, &m), TP_ERR_INVALID_ARG);
  tp_reader_free(r);
}

static void test_bad_roles(void **state) {
  (void)state;
  assert_null(tp_reader_new((TpRole)0));
  assert_null(tp_reader_new((TpRole)3));
  uint8_t hdr[TP_HEADER_SIZE] = {1};
  TpHeader h;
  assert_int_equal(tp_header_decode(hdr, (TpRole)7, &h), TP_ERR_INVALID_ARG);
}

/* Decoded strings belong to the reader until the next message. */
static void test_strings_stable_until_next(void **state) {
  (void)state;
  TpBuf buf;
  tp_buf_init(&buf);
  TpMessage m;
  tp_sample_message(TP_MSG_WINDOW_TITLE, &m);
  tp_encode(&m, &buf);
  m.u.title.title = "second";
  tp_encode(&m, &buf);
  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  tp_reader_feed(r, buf.data, buf.len);
  TpMessage a;
  assert_int_equal(tp_reader_next(r, &a), TP_OK);
  char *first = strdup(a.u.title.title);
  assert_string_equal(a.u.title.title, "notes.txt – Mousepad ☃");
  assert_int_equal(tp_reader_next(r, &a), TP_OK);
  assert_string_equal(a.u.title.title, "second");
  assert_string_equal(first, "notes.txt – Mousepad ☃");
  free(first);
  tp_reader_free(r);
  tp_buf_clear(&buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prepare_commit_large_frame),
      cmocka_unit_test(test_memory_bounded_without_draining),
      cmocka_unit_test(test_commit_beyond_prepared_is_an_error),
      cmocka_unit_test(test_bad_roles),
      cmocka_unit_test(test_strings_stable_until_next),
  };
  return cmocka_run_group_tests_name("protocol-reader", tests, NULL, NULL);
}
