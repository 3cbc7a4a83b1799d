/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internals of the protocol library: the table that describes every message
 * body as a list of fields, shared by the generic encoder and decoder. */
#pragma once

#include "tandem-protocol.h"

typedef enum {
  TP_F_U8,
  TP_F_U16,
  TP_F_U32,
  TP_F_I32,
  TP_F_U64,
  TP_F_STR,       /* u16 length + bytes; stored as const char * */
  TP_F_STR_LIST,  /* u16 count + count strings; stored as TpStrList */
  TP_F_BLOB,      /* u32 length + bytes; stored as TpBlob */
  TP_F_BYTES32,   /* 32 raw bytes; stored as uint8_t[32] */
} TpFieldKind;

/* What a string may hold. */
typedef enum {
  TP_TEXT,        /* UTF-8; controls and bidi overrides removed on decode */
  TP_PATH,        /* UTF-8 with no control characters at all (rejected) */
  TP_ID,          /* ASCII [A-Za-z0-9._+@-] */
  TP_MIME,        /* ASCII [A-Za-z0-9._+/-] */
  TP_FSNAME,      /* ASCII [a-z0-9] (file system types) */
} TpCharset;

typedef enum {
  TP_CHECK_NONE,
  TP_CHECK_PNG,   /* blob: empty, or a PNG within TP_MAX_APP_ICON_DIM */
} TpBlobCheck;

typedef struct {
  uint8_t kind;       /* TpFieldKind */
  uint8_t charset;    /* strings: TpCharset; blobs: TpBlobCheck */
  uint8_t err;        /* TpError when an integer is out of [min, max] */
  uint16_t offset;    /* offsetof(TpMessage, ...) */
  int64_t min, max;   /* integers: value range; strings/blobs: length range */
  uint32_t max_items; /* lists: most entries */
} TpField;

typedef enum {
  TP_WIN_NONE,        /* header window must be 0 */
  TP_WIN_REQUIRED,    /* must be non-zero */
  TP_WIN_OPTIONAL,    /* 0 has a meaning (stub focus) */
} TpWindowRule;

typedef struct TpSpec TpSpec;
struct TpSpec {
  const char *name;
  uint8_t senders;        /* TpRole bits of who may send it */
  uint8_t window_rule;    /* TpWindowRule */
  const TpField *fields;
  uint8_t n_fields;
  /* Messages with a layout the table cannot express (DAMAGE). */
  TpError (*decode)(const uint8_t *body, uint32_t len, TpArena *arena,
                    TpMessage *out);
  TpError (*encode)(const TpMessage *msg, TpBuf *buf);
  uint32_t custom_max; /* body bound for custom codecs */
  /* Cross-field rules, run on the decoded and on the to-be-encoded form. */
  TpError (*check)(const TpMessage *msg);
};

const TpSpec *tp_spec_lookup(uint16_t type);

/* Wire size of a field at its smallest (the exact size of fixed fields). */
uint32_t tp_field_min_size(const TpField *f);

/* Body length bounds of a type: equal for fixed-size bodies. */
void tp_spec_body_bounds(const TpSpec *spec, uint32_t *min, uint32_t *max);

/* Little-endian primitives. */
static inline uint16_t tp_get_u16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t tp_get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}
static inline uint64_t tp_get_u64(const uint8_t *p) {
  return (uint64_t)tp_get_u32(p) | ((uint64_t)tp_get_u32(p + 4) << 32);
}
static inline void tp_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void tp_put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static inline void tp_put_u64(uint8_t *p, uint64_t v) {
  tp_put_u32(p, (uint32_t)v);
  tp_put_u32(p + 4, (uint32_t)(v >> 32));
}

/* Buffer and arena internals. */
uint8_t *tp_buf_grow(TpBuf *buf, size_t extra); /* NULL on overflow/OOM */
void *tp_arena_alloc(TpArena *arena, size_t size, size_t align);
void tp_arena_reset(TpArena *arena);
/* Makes room for @size bytes in all; call before handing out pointers, as
 * growing moves the arena. */
bool tp_arena_reserve(TpArena *arena, size_t size);

/* Checks one string against its charset (TP_TEXT: valid UTF-8 only; the
 * decoder then removes controls with tp_text_sanitize()). */
TpError tp_string_check(const char *s, size_t len, TpCharset charset);

/* Writes the 12-byte header. */
void tp_header_write(uint8_t *p, uint16_t type, uint32_t window, uint32_t len);

/* DAMAGE codec (tp-damage.c). */
TpError tp_damage_decode(const uint8_t *body, uint32_t len, TpArena *arena,
                         TpMessage *out);
TpError tp_damage_encode(const TpMessage *msg, TpBuf *buf);
TpError tp_damage_check(const TpMessage *msg);
#define TP_DAMAGE_FIXED 8u
#define TP_DAMAGE_RECT_SIZE 12u
#define TP_DAMAGE_MAX_BODY \
  (TP_DAMAGE_FIXED + TP_MAX_DAMAGE_RECTS * TP_DAMAGE_RECT_SIZE + \
   TP_MAX_DAMAGE_PAYLOAD)
