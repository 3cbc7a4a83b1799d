/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every message type survives encode -> stream reader -> decode unchanged,
 * however the bytes are split, and re-encodes to the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol-compare.h"
#include "protocol-samples.h"
#include "tandem-protocol.h"

static void assert_same(const TpMessage *want, const TpMessage *got) {
  char why[128] = "";
  if (!tp_message_equal(want, got, why, sizeof(why)))
    fail_msg("%s: %s", tp_message_type_name(want->type), why);
}

static void encode_sample(uint16_t type, TpMessage *msg, TpBuf *buf) {
  tp_buf_init(buf);
  assert_true(tp_sample_message(type, msg));
  TpError err = tp_encode(msg, buf);
  if (err)
    fail_msg("encode %s: %s", tp_message_type_name(type),
             tp_error_to_string(err));
}

static void test_roundtrip_whole(void **state) {
  uint16_t type = (uint16_t)(uintptr_t)*state;
  TpMessage want, got;
  TpBuf buf, again;
  encode_sample(type, &want, &buf);

  /* Header as documented: type, flags, window, length. */
  assert_int_equal(buf.data[0] | buf.data[1] << 8, type);
  assert_int_equal(buf.data[2] | buf.data[3] << 8, 0);
  assert_int_equal(buf.len - TP_HEADER_SIZE,
                   (uint32_t)(buf.data[8] | buf.data[9] << 8 |
                              buf.data[10] << 16 |
                              (uint32_t)buf.data[11] << 24));

  TpReader *r = tp_reader_new(tp_sample_receiver(type));
  assert_int_equal(tp_reader_feed(r, buf.data, buf.len), buf.len);
  assert_int_equal(tp_reader_next(r, &got), TP_OK);
  assert_same(&want, &got);

  /* The decoded form encodes to the very same bytes. */
  tp_buf_init(&again);
  assert_int_equal(tp_encode(&got, &again), TP_OK);
  assert_int_equal(again.len, buf.len);
  assert_memory_equal(again.data, buf.data, buf.len);

  assert_int_equal(tp_reader_next(r, &got), TP_AGAIN);
  assert_int_equal(tp_reader_buffered(r), 0);
  tp_reader_free(r);
  tp_buf_clear(&buf);
  tp_buf_clear(&again);
}

static void test_roundtrip_byte_by_byte(void **state) {
  uint16_t type = (uint16_t)(uintptr_t)*state;
  TpMessage want, got;
  TpBuf buf;
  encode_sample(type, &want, &buf);

  TpReader *r = tp_reader_new(tp_sample_receiver(type));
  for (size_t i = 0; i < buf.len; i++) {
    assert_int_equal(tp_reader_feed(r, buf.data + i, 1), 1);
    TpError err = tp_reader_next(r, &got);
    if (i + 1 < buf.len)
      assert_int_equal(err, TP_AGAIN);
    else
      assert_int_equal(err, TP_OK);
  }
  assert_same(&want, &got);
  tp_reader_free(r);
  tp_buf_clear(&buf);
}

/* What one side sends, the same side never accepts (except the few
 * messages both sides send). */
static void test_wrong_direction(void **state) {
  uint16_t type = (uint16_t)(uintptr_t)*state;
  TpMessage msg, got;
  TpBuf buf;
  encode_sample(type, &msg, &buf);
  TpRole other = tp_sample_receiver(type) == TP_ROLE_HOST ? TP_ROLE_AGENT
                                                          : TP_ROLE_HOST;
  TpReader *r = tp_reader_new(other);
  tp_reader_feed(r, buf.data, buf.len);
  TpError err = tp_reader_next(r, &got);
  if (type == TP_MSG_HELLO || type == TP_MSG_HEARTBEAT || type == TP_MSG_ERROR)
    assert_int_equal(err, TP_OK);
  else
    assert_int_equal(err, TP_ERR_WRONG_DIRECTION);
  tp_reader_free(r);
  tp_buf_clear(&buf);
}

/* A stream of every message, one after another, fed in odd-sized chunks. */
static void test_stream_of_all_types(void **state) {
  (void)state;
  TpBuf buf;
  tp_buf_init(&buf);
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++) {
    TpMessage m;
    assert_true(tp_sample_message(t, &m));
    if (tp_sample_receiver(t) == TP_ROLE_HOST)
      assert_int_equal(tp_encode(&m, &buf), TP_OK);
  }
  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  size_t pos = 0, chunk = 1;
  uint16_t expect = 1;
  TpMessage got, want;
  while (pos < buf.len) {
    size_t n = buf.len - pos < chunk ? buf.len - pos : chunk;
    pos += tp_reader_feed(r, buf.data + pos, n);
    chunk = chunk * 3 % 97 + 1;
    TpError err;
    while ((err = tp_reader_next(r, &got)) == TP_OK) {
      while (tp_sample_receiver(expect) != TP_ROLE_HOST)
        expect++;
      tp_sample_message(expect, &want);
      assert_same(&want, &got);
      expect++;
    }
    assert_int_equal(err, TP_AGAIN);
  }
  while (expect <= TP_MSG_LAST && tp_sample_receiver(expect) != TP_ROLE_HOST)
    expect++;
  assert_int_equal(expect, TP_MSG_LAST + 1);
  tp_reader_free(r);
  tp_buf_clear(&buf);
}

/* The wire layout is a contract with agents built separately: pin it. */
static void test_golden_key(void **state) {
  (void)state;
  static const uint8_t want[] = {
      23, 0, 0, 0,             /* type KEY, flags */
      0x07, 0, 0xa0, 0,        /* window 0x00a00007 */
      17, 0, 0, 0,             /* body length */
      38, 0, 0, 0,             /* keycode */
      0x61, 0, 0, 0,           /* keysym 'a' */
      4, 0, 0, 0,              /* modifiers: Control */
      1,                       /* pressed */
      0xe8, 0x03, 0, 0,        /* time 1000 ms */
  };
  TpMessage m;
  TpBuf buf;
  encode_sample(TP_MSG_KEY, &m, &buf);
  assert_int_equal(buf.len, sizeof(want));
  assert_memory_equal(buf.data, want, sizeof(want));
  tp_buf_clear(&buf);
}

static void test_golden_hello_prefix(void **state) {
  (void)state;
  static const uint8_t want[] = {
      1, 0, 0, 0, 0, 0, 0, 0,  /* HELLO, no window */
      'T', 'N', 'D', 'M',      /* magic */
      1, 0, 1, 0,              /* version 1, min_version 1 */
  };
  TpMessage m;
  TpBuf buf;
  encode_sample(TP_MSG_HELLO, &m, &buf);
  assert_memory_equal(buf.data, want, 8);
  assert_memory_equal(buf.data + 12, want + 8, 8);
  tp_buf_clear(&buf);
}

static void test_golden_damage_layout(void **state) {
  (void)state;
  TpMessage m;
  TpBuf buf;
  encode_sample(TP_MSG_DAMAGE, &m, &buf);
  const uint8_t *b = buf.data + TP_HEADER_SIZE;
  assert_int_equal(b[0], 17);              /* frame_seq */
  assert_int_equal(b[4], TP_ENCODING_RAW);
  assert_int_equal(b[5], TP_DAMAGE_FRAME_END);
  assert_int_equal(b[6], 2);               /* n_rects */
  assert_int_equal(b[8 + 12 + 0], 100);    /* second rect x */
  assert_int_equal(b[8 + 12 + 8], 4 * 2 * 4); /* its length */
  /* Pixel data follows the rect table, first rect first. */
  assert_memory_equal(b + 8 + 24, m.u.damage.rects[0].data, 16 * 8 * 4);
  tp_buf_clear(&buf);
}

/* Version 2's layout of UNMOUNT and MOUNT_RESULT's new tail. */
static void test_golden_mount_v2(void **state) {
  (void)state;
  static const uint8_t unmount[] = {
      36, 0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0, /* UNMOUNT, 19 bytes */
      6, 0, 0, 0,                            /* request_id */
      12, 0, 't', 'a', 'n', 'd', 'e', 'm', '-', 'n', 'b', 'd', '-', '1',
      1,                                     /* force */
  };
  TpMessage m;
  TpBuf buf;
  encode_sample(TP_MSG_UNMOUNT, &m, &buf);
  assert_int_equal(buf.len, sizeof(unmount));
  assert_memory_equal(buf.data, unmount, sizeof(unmount));
  tp_buf_clear(&buf);

  static const uint8_t tail[] = {
      4, 0, 'e', 'x', 't', '4',                 /* fs_type */
      0x00, 0xa0, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, /* total_bytes */
      0x00, 0x9a, 0x78, 0x56, 0x34, 0x02, 0x00, 0x00, /* free_bytes */
  };
  encode_sample(TP_MSG_MOUNT_RESULT, &m, &buf);
  assert_true(buf.len > sizeof(tail));
  assert_memory_equal(buf.data + buf.len - sizeof(tail), tail, sizeof(tail));
  tp_buf_clear(&buf);
}

static void test_hello_negotiation(void **state) {
  (void)state;
  TpMessage a, b;
  tp_sample_message(TP_MSG_HELLO, &a);
  tp_sample_message(TP_MSG_HELLO, &b);
  uint16_t version;
  uint64_t caps;

  a.u.hello.version = 3, a.u.hello.min_version = 1;
  b.u.hello.version = 2, b.u.hello.min_version = 2;
  a.u.hello.caps = TP_CAP_LZ4 | TP_CAP_ZSTD, b.u.hello.caps = TP_CAP_ZSTD;
  assert_int_equal(tp_hello_negotiate(&a.u.hello, &b.u.hello, &version, &caps),
                   TP_OK);
  assert_int_equal(version, 2);
  assert_int_equal(caps, TP_CAP_ZSTD);

  b.u.hello.version = 5, b.u.hello.min_version = 4;
  assert_int_equal(tp_hello_negotiate(&a.u.hello, &b.u.hello, &version, &caps),
                   TP_ERR_VERSION);
  b.u.hello.magic = 0x12345678;
  assert_int_equal(tp_hello_negotiate(&a.u.hello, &b.u.hello, &version, &caps),
                   TP_ERR_BAD_MAGIC);
}

/* Decoded strings are NUL-terminated copies the caller can print. */
static void test_decoded_strings(void **state) {
  (void)state;
  TpMessage m, got;
  TpBuf buf;
  encode_sample(TP_MSG_APP_ENTRY, &m, &buf);
  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  tp_reader_feed(r, buf.data, buf.len);
  assert_int_equal(tp_reader_next(r, &got), TP_OK);
  assert_string_equal(got.u.app.id, "org.example.Terminal");
  assert_string_equal(got.u.app.comment, "Befehlszeile verwenden – “quoted” ✓");
  assert_int_equal(got.u.app.mime_types.n, 3);
  assert_string_equal(got.u.app.mime_types.items[2], "inode/directory");
  assert_null(got.u.app.mime_types.items[3]);
  assert_int_equal(got.u.app.icon_png.len, tp_sample_png_len);
  tp_reader_free(r);
  tp_buf_clear(&buf);
}

int main(void) {
  enum { PER_TYPE = 3, EXTRA = 7 };
  static struct CMUnitTest tests[TP_MSG_LAST * PER_TYPE + EXTRA];
  static char names[TP_MSG_LAST * PER_TYPE][64];
  size_t n = 0;

  for (uint16_t t = 1; t <= TP_MSG_LAST; t++) {
    static const struct {
      const char *what;
      CMUnitTestFunction fn;
    } kinds[PER_TYPE] = {
        {"roundtrip", test_roundtrip_whole},
        {"byte-by-byte", test_roundtrip_byte_by_byte},
        {"direction", test_wrong_direction},
    };
    for (int k = 0; k < PER_TYPE; k++) {
      snprintf(names[n], sizeof(names[n]), "%s %s", kinds[k].what,
               tp_message_type_name(t));
      tests[n] = (struct CMUnitTest){names[n], kinds[k].fn, NULL, NULL,
                                     (void *)(uintptr_t)t};
      n++;
    }
  }
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_stream_of_all_types);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_golden_key);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_golden_hello_prefix);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_golden_damage_layout);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_golden_mount_v2);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_hello_negotiation);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_decoded_strings);
  return _cmocka_run_group_tests("protocol-roundtrip", tests, n, NULL, NULL);
}
