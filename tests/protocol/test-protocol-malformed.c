/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Every malformed form the host (or agent) can be sent is rejected with the
 * expected error, and the reader stays dead afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol-samples.h"
#include "tandem-protocol.h"
#include "tp-private.h"

/* A frame under construction: header + body, patched by the tests. */
typedef struct {
  uint8_t *data;
  size_t len;
  TpRole receiver;
} Frame;

static Frame frame_from_sample(uint16_t type) {
  TpMessage m;
  TpBuf buf;
  tp_buf_init(&buf);
  assert_true(tp_sample_message(type, &m));
  assert_int_equal(tp_encode(&m, &buf), TP_OK);
  return (Frame){buf.data, buf.len, tp_sample_receiver(type)};
}

static Frame frame_raw(TpRole receiver, uint16_t type, uint32_t window,
                       const void *body, uint32_t len) {
  Frame f = {malloc(TP_HEADER_SIZE + len + 1), TP_HEADER_SIZE + len, receiver};
  tp_header_write(f.data, type, window, len);
  if (len)
    memcpy(f.data + TP_HEADER_SIZE, body, len);
  return f;
}

/* A window id the type's header accepts. */
static uint32_t valid_window(uint16_t type) {
  return tp_spec_lookup(type)->window_rule == TP_WIN_NONE ? 0 : 7;
}

/* Body size bounds of @type; true for a fixed-size type. */
static bool body_bounds(uint16_t type, uint32_t *min, uint32_t *max) {
  tp_spec_body_bounds(tp_spec_lookup(type), min, max);
  return *min == *max;
}

static uint8_t *body(Frame *f) { return f->data + TP_HEADER_SIZE; }

static void set_length(Frame *f, uint32_t len) { tp_put_u32(f->data + 8, len); }

/* Feeds @f to a fresh reader; returns what the reader says, after checking
 * that the error is sticky and that a valid frame cannot revive it. */
static TpError decode_frame(Frame *f) {
  TpReader *r = tp_reader_new(f->receiver);
  TpMessage m;
  tp_reader_feed(r, f->data, f->len);
  TpError err = tp_reader_next(r, &m);
  if (err != TP_OK && err != TP_AGAIN) {
    Frame ok = frame_from_sample(TP_MSG_HEARTBEAT);
    tp_reader_feed(r, ok.data, ok.len);
    assert_int_equal(tp_reader_next(r, &m), err);
    free(ok.data);
  }
  tp_reader_free(r);
  free(f->data);
  f->data = NULL;
  return err;
}

#define assert_rejected(frame, want) \
  assert_string_equal(tp_error_to_string(decode_frame(frame)), \
                      tp_error_to_string(want))

/* --- Header ------------------------------------------------------------- */

static void test_unknown_types(void **state) {
  (void)state;
  uint16_t bad[] = {0, TP_MSG_LAST + 1, 0x7fff, 0xffff};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    Frame f = frame_raw(TP_ROLE_HOST, bad[i], 0, NULL, 0);
    assert_rejected(&f, TP_ERR_UNKNOWN_TYPE);
    f = frame_raw(TP_ROLE_AGENT, bad[i], 0, NULL, 0);
    assert_rejected(&f, TP_ERR_UNKNOWN_TYPE);
  }
}

static void test_reserved_header_flags(void **state) {
  (void)state;
  Frame f = frame_from_sample(TP_MSG_WINDOW_TITLE);
  f.data[3] = 0x80;
  assert_rejected(&f, TP_ERR_BAD_FLAGS);
}

static void test_window_rules(void **state) {
  (void)state;
  Frame f = frame_from_sample(TP_MSG_KEY); /* needs a window */
  tp_put_u32(f.data + 4, 0);
  assert_rejected(&f, TP_ERR_BAD_WINDOW);
  f = frame_from_sample(TP_MSG_DAMAGE);
  tp_put_u32(f.data + 4, 0);
  assert_rejected(&f, TP_ERR_BAD_WINDOW);
  f = frame_from_sample(TP_MSG_HELLO); /* must not have one */
  tp_put_u32(f.data + 4, 42);
  assert_rejected(&f, TP_ERR_BAD_WINDOW);
  f = frame_from_sample(TP_MSG_FOCUS_SET); /* 0 means the stub: fine */
  tp_put_u32(f.data + 4, 0);
  assert_rejected(&f, TP_OK);
}

/* Fixed-size types accept exactly one length. */
static void test_fixed_lengths(void **state) {
  (void)state;
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++) {
    uint32_t min, max;
    if (!body_bounds(t, &min, &max))
      continue;
    uint8_t zeros[128] = {0};
    Frame f = frame_raw(tp_sample_receiver(t), t, valid_window(t), zeros,
                        min + 1);
    assert_rejected(&f, TP_ERR_BAD_LENGTH);
    if (min > 0) {
      f = frame_raw(tp_sample_receiver(t), t, valid_window(t), zeros,
                      min - 1);
      assert_rejected(&f, TP_ERR_BAD_LENGTH);
    }
  }
}

/* A declared length above the type's bound is refused from the header
 * alone: the reader never buffers (or waits for) such a body. */
static void test_oversized_rejected_before_buffering(void **state) {
  (void)state;
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++) {
    uint32_t min, max;
    if (body_bounds(t, &min, &max))
      continue;
    uint8_t hdr[TP_HEADER_SIZE];
    tp_header_write(hdr, t, valid_window(t), max + 1);
    TpReader *r = tp_reader_new(tp_sample_receiver(t));
    assert_int_equal(tp_reader_feed(r, hdr, sizeof(hdr)), sizeof(hdr));
    TpMessage m;
    assert_int_equal(tp_reader_next(r, &m), TP_ERR_TOO_LONG);
    size_t avail = 1;
    assert_null(tp_reader_prepare(r, &avail));
    assert_int_equal(avail, 0);
    tp_reader_free(r);
  }
  /* 4 GiB - 1 declared: same answer, nothing allocated for it. */
  uint8_t hdr[TP_HEADER_SIZE];
  tp_header_write(hdr, TP_MSG_DAMAGE, 7, UINT32_MAX);
  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  tp_reader_feed(r, hdr, sizeof(hdr));
  TpMessage m;
  assert_int_equal(tp_reader_next(r, &m), TP_ERR_TOO_LONG);
  tp_reader_free(r);
}

/* --- Variable bodies ------------------------------------------------------ */

static void test_truncated_bodies(void **state) {
  (void)state;
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++) {
    uint32_t min, max;
    if (body_bounds(t, &min, &max))
      continue;
    Frame f = frame_from_sample(t);
    uint32_t len = (uint32_t)f.len - TP_HEADER_SIZE;
    set_length(&f, len - 1);
    f.len -= 1;
    TpError err = decode_frame(&f);
    if (err != TP_ERR_TRUNCATED && err != TP_ERR_BAD_LENGTH &&
        err != TP_ERR_BAD_STRING && err != TP_ERR_BAD_IMAGE)
      fail_msg("%s cut by one byte: %s", tp_message_type_name(t),
               tp_error_to_string(err));
  }
}

static void test_trailing_bytes(void **state) {
  (void)state;
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++) {
    uint32_t min, max;
    if (body_bounds(t, &min, &max))
      continue;
    Frame f = frame_from_sample(t);
    f.data = realloc(f.data, f.len + 1);
    f.data[f.len] = 0;
    set_length(&f, (uint32_t)(f.len + 1 - TP_HEADER_SIZE));
    f.len += 1;
    TpError err = decode_frame(&f);
    if (err != TP_ERR_BAD_LENGTH)
      fail_msg("%s with a trailing byte: %s", tp_message_type_name(t),
               tp_error_to_string(err));
  }
}

/* Every integer field with a range rejects the values just outside it with
 * the field's error. Works on the fixed-layout prefix of each body. */
static void test_integer_ranges(void **state) {
  (void)state;
  unsigned checked = 0;
  for (uint16_t t = 1; t <= TP_MSG_LAST; t++) {
    const TpSpec *spec = tp_spec_lookup(t);
    uint32_t off = 0;
    for (unsigned i = 0; i < spec->n_fields; i++) {
      const TpField *fd = &spec->fields[i];
      if (fd->kind >= TP_F_STR)
        break; /* offsets after a variable field depend on the sample */
      if (fd->kind == TP_F_U64) { /* no range: every value is valid */
        off += tp_field_min_size(fd);
        continue;
      }
      int64_t lo, hi;
      switch (fd->kind) {
      case TP_F_U8: lo = 0, hi = UINT8_MAX; break;
      case TP_F_U16: lo = 0, hi = UINT16_MAX; break;
      case TP_F_U32: lo = 0, hi = UINT32_MAX; break;
      case TP_F_I32: lo = INT32_MIN, hi = INT32_MAX; break;
      default: lo = fd->min, hi = fd->max; break;
      }
      int64_t probes[2] = {fd->min - 1, fd->max + 1};
      for (int p = 0; p < 2; p++) {
        if (probes[p] < lo || probes[p] > hi)
          continue;
        Frame f = frame_from_sample(t);
        uint8_t *b = body(&f) + off;
        uint64_t v = (uint64_t)probes[p];
        for (uint32_t k = 0; k < tp_field_min_size(fd); k++)
          b[k] = (uint8_t)(v >> (8 * k));
        TpError err = decode_frame(&f);
        if (err != (TpError)fd->err)
          fail_msg("%s field %u = %lld: got \"%s\"", spec->name, i,
                   (long long)probes[p], tp_error_to_string(err));
        checked++;
      }
      off += tp_field_min_size(fd);
    }
  }
  assert_true(checked > 60);
}

/* --- Geometry ------------------------------------------------------------- */

static void test_window_sizes(void **state) {
  (void)state;
  uint32_t bad_dims[] = {0, TP_MAX_WINDOW_DIM + 1, 100000, UINT32_MAX};
  for (size_t i = 0; i < 4; i++) {
    Frame f = frame_from_sample(TP_MSG_WINDOW_CREATE);
    tp_put_u32(body(&f) + 8, bad_dims[i]); /* width */
    assert_rejected(&f, TP_ERR_BAD_SIZE);
    f = frame_from_sample(TP_MSG_WINDOW_CONFIGURE);
    tp_put_u32(body(&f) + 12, bad_dims[i]); /* height */
    assert_rejected(&f, TP_ERR_BAD_SIZE);
  }
  Frame f = frame_from_sample(TP_MSG_WINDOW_CREATE);
  tp_put_u32(body(&f) + 0, (uint32_t)-40000); /* x */
  assert_rejected(&f, TP_ERR_BAD_SIZE);
  f = frame_from_sample(TP_MSG_WINDOW_CREATE);
  tp_put_u32(body(&f) + 8, TP_MAX_WINDOW_DIM); /* the limit itself is fine */
  assert_rejected(&f, TP_OK);
}

/* --- DAMAGE ---------------------------------------------------------------- */

/* Body offsets in the sample: fixed part, then two 12-byte rect entries. */
#define RECT0 (TP_DAMAGE_FIXED)
#define RECT1 (TP_DAMAGE_FIXED + TP_DAMAGE_RECT_SIZE)

static void test_damage_malformed(void **state) {
  (void)state;
  Frame f = frame_from_sample(TP_MSG_DAMAGE);
  tp_put_u16(body(&f) + 6, TP_MAX_DAMAGE_RECTS + 1);
  assert_rejected(&f, TP_ERR_TOO_MANY);

  f = frame_from_sample(TP_MSG_DAMAGE); /* x + width past the limit */
  tp_put_u16(body(&f) + RECT1, TP_MAX_WINDOW_DIM - 2);
  assert_rejected(&f, TP_ERR_BAD_SIZE);

  f = frame_from_sample(TP_MSG_DAMAGE); /* zero-sized rectangle */
  tp_put_u16(body(&f) + RECT0 + 4, 0);
  assert_rejected(&f, TP_ERR_BAD_SIZE);

  f = frame_from_sample(TP_MSG_DAMAGE); /* raw data not width*height*4 */
  tp_put_u16(body(&f) + RECT0 + 4, 15);
  assert_rejected(&f, TP_ERR_BAD_LENGTH);

  f = frame_from_sample(TP_MSG_DAMAGE); /* data runs past the body */
  tp_put_u32(body(&f) + RECT1 + 8, 4 * 2 * 4 + 1);
  assert_rejected(&f, TP_ERR_TRUNCATED);

  f = frame_from_sample(TP_MSG_DAMAGE); /* rect table past the body */
  tp_put_u16(body(&f) + 6, 200);
  assert_rejected(&f, TP_ERR_TRUNCATED);

  f = frame_from_sample(TP_MSG_DAMAGE);
  body(&f)[4] = TP_ENCODING_LAST + 1;
  assert_rejected(&f, TP_ERR_BAD_VALUE);

  f = frame_from_sample(TP_MSG_DAMAGE);
  body(&f)[5] = 0x80;
  assert_rejected(&f, TP_ERR_BAD_FLAGS);

  /* An empty DAMAGE is only valid as a frame end. */
  uint8_t empty[TP_DAMAGE_FIXED] = {1, 0, 0, 0, TP_ENCODING_RAW, 0, 0, 0};
  f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, empty, sizeof(empty));
  assert_rejected(&f, TP_ERR_BAD_VALUE);
  empty[5] = TP_DAMAGE_FRAME_END;
  f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, empty, sizeof(empty));
  assert_rejected(&f, TP_OK);

  /* Compressed data may not claim more than the bound of its raw size. */
  uint8_t c[TP_DAMAGE_FIXED + TP_DAMAGE_RECT_SIZE + 200] = {0};
  c[4] = TP_ENCODING_LZ4, c[5] = TP_DAMAGE_FRAME_END, c[6] = 1;
  tp_put_u16(c + RECT0 + 4, 1), tp_put_u16(c + RECT0 + 6, 1);
  tp_put_u32(c + RECT0 + 8, 200);
  f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, c, sizeof(c));
  assert_rejected(&f, TP_ERR_BAD_LENGTH);
  tp_put_u32(c + RECT0 + 8, 10);
  f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, c,
                TP_DAMAGE_FIXED + TP_DAMAGE_RECT_SIZE + 10);
  assert_rejected(&f, TP_OK);

  /* A compressed rectangle expands to at most TP_MAX_DAMAGE_PAYLOAD. */
  c[4] = TP_ENCODING_LZ4;
  tp_put_u16(c + RECT0 + 4, 4096), tp_put_u16(c + RECT0 + 6, 1025);
  tp_put_u32(c + RECT0 + 8, 10);
  f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, c,
                TP_DAMAGE_FIXED + TP_DAMAGE_RECT_SIZE + 10);
  assert_rejected(&f, TP_ERR_TOO_LONG);
  tp_put_u16(c + RECT0 + 6, 1024); /* exactly 16 MiB */
  f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, c,
                TP_DAMAGE_FIXED + TP_DAMAGE_RECT_SIZE + 10);
  assert_rejected(&f, TP_OK);

  /* In shared memory a rectangle's data is exactly a reference. */
  c[4] = TP_ENCODING_SHM;
  tp_put_u16(c + RECT0 + 4, 64), tp_put_u16(c + RECT0 + 6, 64);
  for (uint32_t len = 0; len <= 16; len++) {
    tp_put_u32(c + RECT0 + 8, len);
    f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, c,
                  TP_DAMAGE_FIXED + TP_DAMAGE_RECT_SIZE + len);
    assert_rejected(&f, len == TP_SHM_REF_SIZE ? TP_OK : TP_ERR_BAD_LENGTH);
  }

  /* A copy within the window: exactly a source position, and a source
   * that fits in the largest window. */
  c[4] = TP_ENCODING_COPY;
  for (uint32_t len = 0; len <= 8; len++) {
    tp_put_u32(c + RECT0 + 8, len);
    memset(c + RECT0 + TP_DAMAGE_RECT_SIZE, 0, 8);
    f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, c,
                  TP_DAMAGE_FIXED + TP_DAMAGE_RECT_SIZE + len);
    assert_rejected(&f, len == TP_COPY_REF_SIZE ? TP_OK : TP_ERR_BAD_LENGTH);
  }
  tp_put_u32(c + RECT0 + 8, TP_COPY_REF_SIZE);
  static const struct {
    uint16_t sx, sy;
    TpError want;
  } src[] = {{TP_MAX_WINDOW_DIM - 64, TP_MAX_WINDOW_DIM - 64, TP_OK},
             {TP_MAX_WINDOW_DIM - 63, 0, TP_ERR_BAD_SIZE},
             {0, TP_MAX_WINDOW_DIM - 63, TP_ERR_BAD_SIZE},
             {UINT16_MAX, UINT16_MAX, TP_ERR_BAD_SIZE}};
  for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
    tp_put_u16(c + RECT0 + TP_DAMAGE_RECT_SIZE, src[i].sx);
    tp_put_u16(c + RECT0 + TP_DAMAGE_RECT_SIZE + 2, src[i].sy);
    f = frame_raw(TP_ROLE_HOST, TP_MSG_DAMAGE, 7, c,
                  TP_DAMAGE_FIXED + TP_DAMAGE_RECT_SIZE + TP_COPY_REF_SIZE);
    assert_rejected(&f, src[i].want);
  }
}

/* Where a shared-memory rectangle's pixels are: within the region after
 * its header, rows not overlapping, aligned, or refused. */
static void test_shm_ref(void **state) {
  const uint64_t size = 1u << 20;
  uint8_t data[TP_SHM_REF_SIZE];
  TpRect r = {0, 0, 16, 4, TP_SHM_REF_SIZE, data};
  TpShmRef out;
  static const struct {
    uint16_t w, h;
    uint32_t offset, stride;
    TpError want;
  } cases[] = {
      {16, 4, TP_SHM_HEADER_SIZE, 64, TP_OK},
      {16, 4, TP_SHM_HEADER_SIZE, 128, TP_OK},     /* padded rows */
      {1, 1, (1u << 20) - 4, 4, TP_OK},            /* the very last pixel */
      {16, 4, (1u << 20) - 3 * 128 - 64, 128, TP_OK}, /* last row ends there */
      {16, 4, (1u << 20) - 3 * 128 - 60, 128, TP_ERR_BAD_VALUE},
      {1, 1, 1u << 20, 4, TP_ERR_BAD_VALUE},
      {16, 4, 0, 64, TP_ERR_BAD_VALUE},            /* the header */
      {16, 4, TP_SHM_HEADER_SIZE - 64, 64, TP_ERR_BAD_VALUE},
      {16, 4, TP_SHM_HEADER_SIZE, 60, TP_ERR_BAD_VALUE}, /* rows overlap */
      {16, 4, TP_SHM_HEADER_SIZE, 66, TP_ERR_BAD_VALUE}, /* misaligned */
      {16, 4, TP_SHM_HEADER_SIZE + 1, 64, TP_ERR_BAD_VALUE},
      {1, 65535, TP_SHM_HEADER_SIZE, 0xfffffffcu, TP_ERR_BAD_VALUE},
      {65535, 65535, TP_SHM_HEADER_SIZE, 65535u * 4, TP_ERR_BAD_VALUE},
      {0, 4, TP_SHM_HEADER_SIZE, 64, TP_ERR_BAD_VALUE},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    r.width = cases[i].w, r.height = cases[i].h;
    tp_shm_ref_write(data, &(TpShmRef){cases[i].offset, cases[i].stride});
    TpError err = tp_shm_ref_read(&r, size, &out);
    if (err != cases[i].want)
      fail_msg("case %zu: %s, wanted %s", i, tp_error_to_string(err),
               tp_error_to_string(cases[i].want));
    if (!err)
      assert_int_equal(out.offset, cases[i].offset);
  }
  r.len = 7;
  assert_int_equal(tp_shm_ref_read(&r, size, &out), TP_ERR_BAD_LENGTH);

  /* The header: written, checked, and refused when it claims more than
   * is mapped or is not ours. */
  uint8_t header[TP_SHM_HEADER_SIZE];
  tp_shm_header_write(header, size);
  assert_true(tp_shm_header_check(header, size));
  assert_true(tp_shm_header_check(header, size * 2));
  assert_false(tp_shm_header_check(header, size - 1));
  header[0] ^= 1;
  assert_false(tp_shm_header_check(header, size));
}

/* --- Strings ---------------------------------------------------------------- */

static Frame title_frame(const char *title, uint16_t declared) {
  size_t n = strlen(title);
  uint8_t *b = malloc(2 + n + 1);
  tp_put_u16(b, declared);
  memcpy(b + 2, title, n);
  Frame f = frame_raw(TP_ROLE_HOST, TP_MSG_WINDOW_TITLE, 7, b,
                      (uint32_t)(2 + n));
  free(b);
  return f;
}

static void test_invalid_utf8(void **state) {
  (void)state;
  const char *bad[] = {
      "\xff",             /* never valid */
      "ab\xc0\xaf",       /* overlong '/' */
      "\xe0\x80\xaf",     /* overlong, 3 bytes */
      "\xed\xa0\x80",     /* UTF-16 surrogate */
      "tail \xe2\x82",    /* cut sequence */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "\x80 lone continuation",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    Frame f = title_frame(bad[i], (uint16_t)strlen(bad[i]));
    assert_rejected(&f, TP_ERR_BAD_UTF8);
  }
}

static void test_unterminated_string(void **state) {
  (void)state;
  /* The length prefix promises more bytes than the body holds. */
  Frame f = title_frame("short", 100);
  assert_rejected(&f, TP_ERR_TRUNCATED);
  f = title_frame("", 1);
  assert_rejected(&f, TP_ERR_TRUNCATED);
}

static void test_title_sanitised(void **state) {
  (void)state;
  const char *evil = "a\x1b[31mb\xe2\x80\xae" "c\xe2\x81\xa6" "d\x7f\xc2\x85" "e\tf";
  Frame f = title_frame(evil, (uint16_t)strlen(evil));
  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  TpMessage m;
  tp_reader_feed(r, f.data, f.len);
  assert_int_equal(tp_reader_next(r, &m), TP_OK);
  assert_string_equal(m.u.title.title, "a[31mbcdef");
  tp_reader_free(r);
  free(f.data);
}

static void test_title_length_limit(void **state) {
  (void)state;
  char *t = malloc(TP_MAX_TITLE_LEN + 2);
  memset(t, 'x', TP_MAX_TITLE_LEN + 1);
  t[TP_MAX_TITLE_LEN] = '\0';
  Frame f = title_frame(t, TP_MAX_TITLE_LEN);
  assert_rejected(&f, TP_OK);
  t[TP_MAX_TITLE_LEN] = 'x', t[TP_MAX_TITLE_LEN + 1] = '\0';
  f = title_frame(t, TP_MAX_TITLE_LEN + 1);
  assert_rejected(&f, TP_ERR_TOO_LONG);
  free(t);
}

/* An APP_ENTRY built field by field, so single fields can be made bad. */
typedef struct {
  const char *id, *name;
  uint16_t n_mime;
  const char *mime;
  const uint8_t *png;
  uint32_t png_len;
} AppSpec;

static Frame app_frame(const AppSpec *a) {
  TpBuf b;
  tp_buf_init(&b);
  const char *strs[] = {a->id, a->name, "", "", ""};
  for (int i = 0; i < 5; i++) {
    size_t n = strlen(strs[i]);
    uint8_t *p = tp_buf_grow(&b, 2 + n);
    tp_put_u16(p, (uint16_t)n);
    memcpy(p + 2, strs[i], n);
  }
  tp_put_u32(tp_buf_grow(&b, 4), 0); /* flags */
  tp_put_u16(tp_buf_grow(&b, 2), 0); /* categories */
  tp_put_u16(tp_buf_grow(&b, 2), a->n_mime);
  for (uint16_t i = 0; i < a->n_mime; i++) {
    size_t n = strlen(a->mime);
    uint8_t *p = tp_buf_grow(&b, 2 + n);
    tp_put_u16(p, (uint16_t)n);
    memcpy(p + 2, a->mime, n);
  }
  tp_put_u16(tp_buf_grow(&b, 2), 0); /* keywords */
  tp_put_u32(tp_buf_grow(&b, 4), a->png_len);
  if (a->png_len)
    memcpy(tp_buf_grow(&b, a->png_len), a->png, a->png_len);
  Frame f = frame_raw(TP_ROLE_HOST, TP_MSG_APP_ENTRY, 0, b.data,
                      (uint32_t)b.len);
  tp_buf_clear(&b);
  return f;
}

static void test_app_entry_fields(void **state) {
  (void)state;
  AppSpec ok = {"org.example.App", "App", 1, "text/plain", tp_sample_png,
                tp_sample_png_len};
  Frame f = app_frame(&ok);
  assert_rejected(&f, TP_OK);

  AppSpec a = ok;
  a.id = "../../etc/passwd"; /* ids never name paths */
  f = app_frame(&a);
  assert_rejected(&f, TP_ERR_BAD_STRING);
  a = ok, a.id = "";
  f = app_frame(&a);
  assert_rejected(&f, TP_ERR_BAD_STRING);
  a = ok, a.name = "\x01\x02\xe2\x80\xae"; /* nothing left once sanitised */
  f = app_frame(&a);
  assert_rejected(&f, TP_ERR_BAD_STRING);
  a = ok, a.mime = "text plain";
  f = app_frame(&a);
  assert_rejected(&f, TP_ERR_BAD_STRING);
  a = ok, a.n_mime = TP_MAX_MIME_TYPES + 1;
  f = app_frame(&a);
  assert_rejected(&f, TP_ERR_TOO_MANY);

  char longname[TP_MAX_NAME_LEN + 2];
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  a = ok, a.name = longname;
  f = app_frame(&a);
  assert_rejected(&f, TP_ERR_TOO_LONG);

  static const uint8_t not_png[32] = "GIF89a not a png at all.......";
  a = ok, a.png = not_png, a.png_len = sizeof(not_png);
  f = app_frame(&a);
  assert_rejected(&f, TP_ERR_BAD_IMAGE);

  uint8_t huge[128];
  assert_true(tp_sample_png_len <= sizeof(huge));
  memcpy(huge, tp_sample_png, tp_sample_png_len);
  huge[16 + 2] = 0x13; /* IHDR width 0x1300 = 4864 > limit */
  a = ok, a.png = huge, a.png_len = tp_sample_png_len;
  f = app_frame(&a);
  assert_rejected(&f, TP_ERR_BAD_IMAGE);
}

static void test_launch_args(void **state) {
  (void)state;
  TpMessage m;
  TpBuf b;
  const char *args[TP_MAX_LAUNCH_ARGS + 1];
  for (size_t i = 0; i <= TP_MAX_LAUNCH_ARGS; i++)
    args[i] = "/tmp/x";

  tp_sample_message(TP_MSG_LAUNCH, &m);
  m.u.launch.args = (TpStrList){TP_MAX_LAUNCH_ARGS + 1, args};
  tp_buf_init(&b);
  assert_int_equal(tp_encode(&m, &b), TP_ERR_TOO_MANY);
  assert_int_equal(b.len, 0); /* nothing half-written */

  args[0] = "/tmp/evil\nname";
  m.u.launch.args = (TpStrList){1, args};
  assert_int_equal(tp_encode(&m, &b), TP_ERR_BAD_STRING);

  /* The same on the decoding side, from raw bytes: 65 args declared. */
  Frame f = frame_from_sample(TP_MSG_LAUNCH);
  uint8_t *p = body(&f) + 4;          /* after request_id */
  p += 2 + tp_get_u16(p);              /* app_id */
  p += 2 + tp_get_u16(p);              /* startup_id */
  tp_put_u16(p, TP_MAX_LAUNCH_ARGS + 1);
  assert_rejected(&f, TP_ERR_TOO_MANY);
  tp_buf_clear(&b);
}

/* --- Cross-field rules --------------------------------------------------- */

static void test_cross_field_rules(void **state) {
  (void)state;
  Frame f = frame_from_sample(TP_MSG_WINDOW_ICON); /* 4x3 needs 48 bytes */
  tp_put_u32(body(&f), 5);
  assert_rejected(&f, TP_ERR_BAD_LENGTH);

  f = frame_from_sample(TP_MSG_FOCUS_REPORT); /* WINDOW kind, no window */
  tp_put_u32(f.data + 4, 0);
  assert_rejected(&f, TP_ERR_BAD_WINDOW);
  f = frame_from_sample(TP_MSG_FOCUS_REPORT); /* STUB kind with a window */
  body(&f)[4] = TP_FOCUS_STUB;
  assert_rejected(&f, TP_ERR_BAD_WINDOW);

  f = frame_from_sample(TP_MSG_WINDOW_SET_STATE);
  tp_put_u32(body(&f) + 4, TP_STATE_ABOVE); /* value outside the mask */
  assert_rejected(&f, TP_ERR_BAD_FLAGS);

  f = frame_from_sample(TP_MSG_WINDOW_HINTS); /* min above max */
  tp_put_u32(body(&f) + 4, 5000);
  assert_rejected(&f, TP_ERR_BAD_SIZE);

  f = frame_from_sample(TP_MSG_HELLO); /* min_version above version */
  tp_put_u16(body(&f) + 6, 2);
  assert_rejected(&f, TP_ERR_BAD_VALUE);
}

/* --- Mounting (version 2) ------------------------------------------------ */

/* A MOUNT_RESULT body: request 5, @status, mount point "/m", message "x",
 * then the type and sizes. */
static Frame mount_result_frame(uint32_t status, const char *fs_type,
                                uint64_t total, uint64_t avail) {
  uint8_t b[128];
  size_t n = 0, fs_len = strlen(fs_type);
  tp_put_u32(b + n, 5), n += 4;
  tp_put_u32(b + n, status), n += 4;
  tp_put_u16(b + n, 2), memcpy(b + n + 2, "/m", 2), n += 4;
  tp_put_u16(b + n, 1), b[n + 2] = 'x', n += 3;
  tp_put_u16(b + n, (uint16_t)fs_len), memcpy(b + n + 2, fs_type, fs_len);
  n += 2 + fs_len;
  tp_put_u64(b + n, total), n += 8;
  tp_put_u64(b + n, avail), n += 8;
  return frame_raw(TP_ROLE_HOST, TP_MSG_MOUNT_RESULT, 0, b, (uint32_t)n);
}

static TpError encode_mount_result(uint32_t status, const char *fs_type,
                                   uint64_t total, uint64_t avail) {
  TpMessage m;
  TpBuf b;
  tp_buf_init(&b);
  tp_sample_message(TP_MSG_MOUNT_RESULT, &m);
  m.u.mount_result.status = status;
  m.u.mount_result.fs_type = fs_type;
  m.u.mount_result.total_bytes = total;
  m.u.mount_result.free_bytes = avail;
  TpError err = tp_encode(&m, &b);
  assert_int_equal(err == TP_OK, b.len > 0);
  tp_buf_clear(&b);
  return err;
}

static void test_mount_result_fields(void **state) {
  (void)state;
  struct {
    uint32_t status;
    const char *fs_type;
    uint64_t total, avail;
    TpError want;
  } cases[] = {
      {TP_MOUNT_OK, "ext4", 1000, 10, TP_OK},
      {TP_MOUNT_OK, "vfat", 1000, 1000, TP_OK},
      {TP_MOUNT_OK, "abcdefghijklmnop", UINT64_MAX, 0, TP_OK}, /* 16 */
      {TP_MOUNT_OK, "iso9660", 0, 0, TP_OK},
      {TP_MOUNT_OK, "", 0, 0, TP_OK},           /* an unmount */
      {TP_MOUNT_NO_FILESYSTEM, "", 0, 0, TP_OK},
      {TP_MOUNT_NO_FILESYSTEM + 1, "", 0, 0, TP_ERR_BAD_VALUE},
      {TP_MOUNT_OK, "abcdefghijklmnopq", 1, 0, TP_ERR_TOO_LONG}, /* 17 */
      {TP_MOUNT_OK, "EXT4", 1, 0, TP_ERR_BAD_STRING},
      {TP_MOUNT_OK, "ext-4", 1, 0, TP_ERR_BAD_STRING},
      {TP_MOUNT_OK, "fuse.sshfs", 1, 0, TP_ERR_BAD_STRING},
      {TP_MOUNT_OK, "ext4", 10, 11, TP_ERR_BAD_VALUE},   /* free > total */
      {TP_MOUNT_OK, "", 10, 0, TP_ERR_BAD_VALUE},        /* size, no type */
      {TP_MOUNT_FAILED, "ext4", 0, 0, TP_ERR_BAD_VALUE}, /* type, failed */
      {TP_MOUNT_BUSY, "", 0, 0, TP_OK},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Frame f = mount_result_frame(cases[i].status, cases[i].fs_type,
                                 cases[i].total, cases[i].avail);
    TpError got = decode_frame(&f);
    if (got != cases[i].want)
      fail_msg("case %zu (%s) decoded: %s", i, cases[i].fs_type,
               tp_error_to_string(got));
    got = encode_mount_result(cases[i].status, cases[i].fs_type,
                              cases[i].total, cases[i].avail);
    if (got != cases[i].want)
      fail_msg("case %zu (%s) encoded: %s", i, cases[i].fs_type,
               tp_error_to_string(got));
  }
  /* The decoded values are the sent ones. */
  Frame f = mount_result_frame(TP_MOUNT_OK, "btrfs", UINT64_C(1) << 40,
                               UINT64_C(123456789));
  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  TpMessage m;
  tp_reader_feed(r, f.data, f.len);
  assert_int_equal(tp_reader_next(r, &m), TP_OK);
  assert_string_equal(m.u.mount_result.fs_type, "btrfs");
  assert_true(m.u.mount_result.total_bytes == UINT64_C(1) << 40);
  assert_true(m.u.mount_result.free_bytes == UINT64_C(123456789));
  tp_reader_free(r);
  free(f.data);
  /* NULL type: the caller's mistake. */
  assert_int_equal(encode_mount_result(TP_MOUNT_OK, NULL, 0, 0),
                   TP_ERR_INVALID_ARG);

  /* Version 1 bodies (no type, no sizes; no force) are refused: below the
   * smallest body, or ending where the new fields start. */
  static const uint8_t v1[] = {5, 0, 0, 0, 0, 0, 0, 0, 2, 0, '/', 'm',
                               1, 0, 'x'};
  f = frame_raw(TP_ROLE_HOST, TP_MSG_MOUNT_RESULT, 0, v1, sizeof v1);
  assert_rejected(&f, TP_ERR_BAD_LENGTH);
  uint8_t v1_long[12 + 2 + 40] = {5, 0, 0, 0, 0, 0, 0, 0, 2, 0, '/', 'm',
                                  40, 0};
  memset(v1_long + 14, 'x', 40);
  f = frame_raw(TP_ROLE_HOST, TP_MSG_MOUNT_RESULT, 0, v1_long,
                sizeof v1_long);
  assert_rejected(&f, TP_ERR_TRUNCATED);
  static const uint8_t v1_unmount[] = {6, 0, 0, 0, 1, 0, 'd'};
  f = frame_raw(TP_ROLE_AGENT, TP_MSG_UNMOUNT, 0, v1_unmount,
                sizeof v1_unmount);
  assert_rejected(&f, TP_ERR_BAD_LENGTH);
  static const uint8_t v1_unmount_long[] = {6, 0, 0, 0, 2, 0, 'd', 'e'};
  f = frame_raw(TP_ROLE_AGENT, TP_MSG_UNMOUNT, 0, v1_unmount_long,
                sizeof v1_unmount_long);
  assert_rejected(&f, TP_ERR_TRUNCATED);
  /* force is 0 or 1. */
  static const uint8_t force2[] = {6, 0, 0, 0, 1, 0, 'd', 2};
  f = frame_raw(TP_ROLE_AGENT, TP_MSG_UNMOUNT, 0, force2, sizeof force2);
  assert_rejected(&f, TP_ERR_BAD_VALUE);
}

/* The encoder applies the decoder's rules and leaves its buffer alone. */
static void test_encoder_refuses_invalid(void **state) {
  (void)state;
  TpMessage m;
  TpBuf b;
  tp_buf_init(&b);
  tp_sample_message(TP_MSG_WINDOW_CREATE, &m);
  m.u.create.width = 0;
  assert_int_equal(tp_encode(&m, &b), TP_ERR_BAD_SIZE);
  tp_sample_message(TP_MSG_KEY, &m);
  m.window = 0;
  assert_int_equal(tp_encode(&m, &b), TP_ERR_BAD_WINDOW);
  tp_sample_message(TP_MSG_WINDOW_TITLE, &m);
  m.u.title.title = "bad \xff";
  assert_int_equal(tp_encode(&m, &b), TP_ERR_BAD_UTF8);
  m.type = 0;
  assert_int_equal(tp_encode(&m, &b), TP_ERR_UNKNOWN_TYPE);
  assert_int_equal(b.len, 0);
  tp_buf_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unknown_types),
      cmocka_unit_test(test_reserved_header_flags),
      cmocka_unit_test(test_window_rules),
      cmocka_unit_test(test_fixed_lengths),
      cmocka_unit_test(test_oversized_rejected_before_buffering),
      cmocka_unit_test(test_truncated_bodies),
      cmocka_unit_test(test_trailing_bytes),
      cmocka_unit_test(test_integer_ranges),
      cmocka_unit_test(test_window_sizes),
      cmocka_unit_test(test_damage_malformed),
      cmocka_unit_test(test_shm_ref),
      cmocka_unit_test(test_invalid_utf8),
      cmocka_unit_test(test_unterminated_string),
      cmocka_unit_test(test_title_sanitised),
      cmocka_unit_test(test_title_length_limit),
      cmocka_unit_test(test_app_entry_fields),
      cmocka_unit_test(test_launch_args),
      cmocka_unit_test(test_cross_field_rules),
      cmocka_unit_test(test_mount_result_fields),
      cmocka_unit_test(test_encoder_refuses_invalid),
  };
  return cmocka_run_group_tests_name("protocol-malformed", tests, NULL, NULL);
}
