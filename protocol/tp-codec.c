/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Generic, table-driven encoder and decoder for every message body that is a
 * sequence of fields (all but DAMAGE). The same checks run on both paths, so
 * whatever the encoder accepts the decoder accepts, and vice versa. */
#include "tp-private.h"

#include <string.h>

#define FIELD_PTR(msg, f) ((void *)((char *)(msg) + (f)->offset))
#define FIELD_CPTR(msg, f) ((const void *)((const char *)(msg) + (f)->offset))

const char *tp_error_to_string(TpError err) {
  static const char *const names[TP_N_ERRORS] = {
      [TP_OK] = "success",
      [TP_AGAIN] = "incomplete frame",
      [TP_ERR_TRUNCATED] = "body ends inside a field",
      [TP_ERR_TOO_LONG] = "length above the limit for its type or field",
      [TP_ERR_BAD_LENGTH] = "wrong body length for the message type",
      [TP_ERR_UNKNOWN_TYPE] = "unknown message type",
      [TP_ERR_WRONG_DIRECTION] = "message not accepted from this peer",
      [TP_ERR_BAD_FLAGS] = "reserved or unknown flags set",
      [TP_ERR_BAD_WINDOW] = "window id missing or not allowed",
      [TP_ERR_BAD_SIZE] = "size or position out of range",
      [TP_ERR_TOO_MANY] = "count above its limit",
      [TP_ERR_BAD_UTF8] = "invalid UTF-8",
      [TP_ERR_BAD_STRING] = "string empty, unterminated or with bad characters",
      [TP_ERR_BAD_VALUE] = "field value out of range",
      [TP_ERR_BAD_MAGIC] = "not a Tandem peer (bad magic)",
      [TP_ERR_BAD_IMAGE] = "icon is not a PNG within the size limit",
      [TP_ERR_NOMEM] = "out of memory",
      [TP_ERR_INVALID_ARG] = "invalid argument",
      [TP_ERR_VERSION] = "no protocol version in common",
  };
  if ((unsigned)err >= TP_N_ERRORS)
    return "unknown error";
  return names[err];
}

void tp_header_write(uint8_t *p, uint16_t type, uint32_t window,
                     uint32_t len) {
  tp_put_u16(p, type);
  tp_put_u16(p + 2, 0);
  tp_put_u32(p + 4, window);
  tp_put_u32(p + 8, len);
}

static TpError check_window_rule(const TpSpec *spec, uint32_t window) {
  switch ((TpWindowRule)spec->window_rule) {
  case TP_WIN_NONE: return window == 0 ? TP_OK : TP_ERR_BAD_WINDOW;
  case TP_WIN_REQUIRED: return window != 0 ? TP_OK : TP_ERR_BAD_WINDOW;
  case TP_WIN_OPTIONAL: return TP_OK;
  }
  return TP_ERR_BAD_WINDOW;
}

TpError tp_header_decode(const uint8_t bytes[TP_HEADER_SIZE], TpRole receiver,
                         TpHeader *out) {
  if (!bytes || !out ||
      (receiver != TP_ROLE_HOST && receiver != TP_ROLE_AGENT))
    return TP_ERR_INVALID_ARG;
  out->type = tp_get_u16(bytes);
  out->flags = tp_get_u16(bytes + 2);
  out->window = tp_get_u32(bytes + 4);
  out->length = tp_get_u32(bytes + 8);

  const TpSpec *spec = tp_spec_lookup(out->type);
  if (!spec)
    return TP_ERR_UNKNOWN_TYPE;
  TpRole sender = receiver == TP_ROLE_HOST ? TP_ROLE_AGENT : TP_ROLE_HOST;
  if (!(spec->senders & sender))
    return TP_ERR_WRONG_DIRECTION;
  if (out->flags != 0)
    return TP_ERR_BAD_FLAGS;
  TpError err = check_window_rule(spec, out->window);
  if (err)
    return err;
  uint32_t min, max;
  tp_spec_body_bounds(spec, &min, &max);
  if (min == max && out->length != min)
    return TP_ERR_BAD_LENGTH;
  if (out->length > max)
    return TP_ERR_TOO_LONG;
  if (out->length < min)
    return TP_ERR_BAD_LENGTH;
  return TP_OK;
}

/* --- Field values ------------------------------------------------------ */

static int64_t load_int(const TpMessage *msg, const TpField *f) {
  const void *p = FIELD_CPTR(msg, f);
  switch ((TpFieldKind)f->kind) {
  case TP_F_U8: return *(const uint8_t *)p;
  case TP_F_U16: return *(const uint16_t *)p;
  case TP_F_U32: return *(const uint32_t *)p;
  case TP_F_I32: return *(const int32_t *)p;
  default: return 0;
  }
}

/* A PNG starts with its signature and an IHDR chunk holding the size. */
static TpError check_png(const TpBlob *b) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (b->len == 0)
    return TP_OK;
  if (b->len < 24 || memcmp(b->data, sig, 8) != 0 ||
      memcmp(b->data + 12, "IHDR", 4) != 0)
    return TP_ERR_BAD_IMAGE;
  const uint8_t *d = b->data + 16;
  uint32_t w = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | d[2] << 8 | d[3];
  uint32_t h = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | d[6] << 8 | d[7];
  if (w == 0 || h == 0 || w > TP_MAX_APP_ICON_DIM || h > TP_MAX_APP_ICON_DIM)
    return TP_ERR_BAD_IMAGE;
  return TP_OK;
}

/* Length and charset of one string; @len is after sanitising on decode. */
static TpError check_string(const TpField *f, const char *s, size_t len) {
  if (!s)
    return TP_ERR_INVALID_ARG;
  if (len > (uint64_t)f->max)
    return TP_ERR_TOO_LONG;
  TpError err = tp_string_check(s, len, (TpCharset)f->charset);
  if (err)
    return err;
  return len < (uint64_t)f->min ? TP_ERR_BAD_STRING : TP_OK;
}

/* Rules on values that both directions share: integer ranges, blob checks,
 * list counts. Strings are checked where they are read or written. */
static TpError check_values(const TpSpec *spec, const TpMessage *msg) {
  for (unsigned i = 0; i < spec->n_fields; i++) {
    const TpField *f = &spec->fields[i];
    switch ((TpFieldKind)f->kind) {
    case TP_F_U8:
    case TP_F_U16:
    case TP_F_U32:
    case TP_F_I32: {
      int64_t v = load_int(msg, f);
      if (v < f->min || v > f->max)
        return (TpError)f->err;
      break;
    }
    case TP_F_STR_LIST:
      if (((const TpStrList *)FIELD_CPTR(msg, f))->n > f->max_items)
        return TP_ERR_TOO_MANY;
      break;
    case TP_F_BLOB: {
      const TpBlob *b = FIELD_CPTR(msg, f);
      if (b->len > (uint64_t)f->max)
        return TP_ERR_TOO_LONG;
      if (b->len && !b->data)
        return TP_ERR_INVALID_ARG;
      if (f->charset == TP_CHECK_PNG) {
        TpError err = check_png(b);
        if (err)
          return err;
      }
      break;
    }
    default:
      break;
    }
  }
  return spec->check ? spec->check(msg) : TP_OK;
}

/* --- Decoding ------------------------------------------------------------ */

typedef struct {
  const uint8_t *p;
  uint32_t len, pos;
  TpArena *arena;
} Cursor;

static bool take(Cursor *c, uint32_t n, const uint8_t **out) {
  if (c->len - c->pos < n)
    return false;
  *out = c->p + c->pos;
  c->pos += n;
  return true;
}

static TpError read_string(Cursor *c, const TpField *f, uint32_t min_len,
                           const char **out) {
  const uint8_t *p;
  if (!take(c, 2, &p))
    return TP_ERR_TRUNCATED;
  uint16_t n = tp_get_u16(p);
  if (n > f->max)
    return TP_ERR_TOO_LONG;
  if (!take(c, n, &p))
    return TP_ERR_TRUNCATED;
  char *s = tp_arena_alloc(c->arena, (size_t)n + 1, 1);
  if (!s)
    return TP_ERR_NOMEM;
  memcpy(s, p, n);
  size_t len = n;
  TpError err = tp_string_check(s, len, (TpCharset)f->charset);
  if (err)
    return err;
  if (f->charset == TP_TEXT)
    len = tp_text_sanitize(s, len);
  s[len] = '\0';
  if (len < min_len)
    return TP_ERR_BAD_STRING;
  *out = s;
  return TP_OK;
}

static TpError read_field(Cursor *c, const TpField *f, TpMessage *msg) {
  void *dst = FIELD_PTR(msg, f);
  const uint8_t *p;
  switch ((TpFieldKind)f->kind) {
  case TP_F_U8:
    if (!take(c, 1, &p)) return TP_ERR_TRUNCATED;
    *(uint8_t *)dst = p[0];
    return TP_OK;
  case TP_F_U16:
    if (!take(c, 2, &p)) return TP_ERR_TRUNCATED;
    *(uint16_t *)dst = tp_get_u16(p);
    return TP_OK;
  case TP_F_U32:
  case TP_F_I32: /* two's complement on the wire */
    if (!take(c, 4, &p)) return TP_ERR_TRUNCATED;
    *(uint32_t *)dst = tp_get_u32(p);
    return TP_OK;
  case TP_F_U64:
    if (!take(c, 8, &p)) return TP_ERR_TRUNCATED;
    *(uint64_t *)dst = tp_get_u64(p);
    return TP_OK;
  case TP_F_BYTES32:
    if (!take(c, 32, &p)) return TP_ERR_TRUNCATED;
    memcpy(dst, p, 32);
    return TP_OK;
  case TP_F_STR:
    return read_string(c, f, (uint32_t)f->min, (const char **)dst);
  case TP_F_STR_LIST: {
    TpStrList *list = dst;
    if (!take(c, 2, &p)) return TP_ERR_TRUNCATED;
    uint16_t n = tp_get_u16(p);
    if (n > f->max_items)
      return TP_ERR_TOO_MANY;
    const char **items = tp_arena_alloc(c->arena, (n + 1u) * sizeof(char *),
                                        sizeof(char *));
    if (!items)
      return TP_ERR_NOMEM;
    for (uint16_t i = 0; i < n; i++) {
      TpError err = read_string(c, f, 1, &items[i]);
      if (err)
        return err;
    }
    items[n] = NULL;
    list->n = n;
    list->items = items;
    return TP_OK;
  }
  case TP_F_BLOB: {
    TpBlob *b = dst;
    if (!take(c, 4, &p)) return TP_ERR_TRUNCATED;
    uint32_t n = tp_get_u32(p);
    if (n > f->max)
      return TP_ERR_TOO_LONG;
    if (!take(c, n, &b->data))
      return TP_ERR_TRUNCATED;
    b->len = n;
    return TP_OK;
  }
  }
  return TP_ERR_INVALID_ARG;
}

/* Arena needed by a body of @len bytes: its strings (each at most the body
 * plus a NUL) and the pointer arrays of its lists. */
static size_t arena_bound(const TpSpec *spec, uint32_t len) {
  size_t strings = 0;
  for (unsigned i = 0; i < spec->n_fields; i++) {
    const TpField *f = &spec->fields[i];
    if (f->kind == TP_F_STR)
      strings += 1;
    else if (f->kind == TP_F_STR_LIST)
      strings += f->max_items + 2u; /* items, NULL end, alignment */
  }
  return (size_t)len + strings * (sizeof(char *) + 1u) + 16u;
}

TpError tp_body_decode(const TpHeader *header, const uint8_t *body,
                       TpArena *arena, TpMessage *out) {
  if (!header || !arena || !out || (!body && header->length))
    return TP_ERR_INVALID_ARG;
  const TpSpec *spec = tp_spec_lookup(header->type);
  if (!spec)
    return TP_ERR_UNKNOWN_TYPE;
  memset(out, 0, sizeof(*out));
  out->type = header->type;
  out->window = header->window;
  tp_arena_reset(arena);

  TpError err;
  if (spec->decode) {
    err = spec->decode(body, header->length, arena, out);
  } else {
    if (!tp_arena_reserve(arena, arena_bound(spec, header->length)))
      return TP_ERR_NOMEM;
    Cursor c = {body, header->length, 0, arena};
    err = TP_OK;
    for (unsigned i = 0; i < spec->n_fields && !err; i++)
      err = read_field(&c, &spec->fields[i], out);
    if (!err && c.pos != c.len)
      err = TP_ERR_BAD_LENGTH;
  }
  if (!err)
    err = check_values(spec, out);
  if (err)
    memset(out, 0, sizeof(*out)); /* nothing half-decoded escapes */
  return err;
}

/* --- Encoding ------------------------------------------------------------ */

static TpError check_strings(const TpSpec *spec, const TpMessage *msg,
                             size_t *body) {
  for (unsigned i = 0; i < spec->n_fields; i++) {
    const TpField *f = &spec->fields[i];
    if (f->kind == TP_F_STR) {
      const char *s = *(const char *const *)FIELD_CPTR(msg, f);
      size_t len = s ? strlen(s) : 0;
      TpError err = check_string(f, s, len);
      if (err)
        return err;
      *body += 2 + len;
    } else if (f->kind == TP_F_STR_LIST) {
      const TpStrList *l = FIELD_CPTR(msg, f);
      if (l->n > f->max_items)
        return TP_ERR_TOO_MANY;
      if (l->n && !l->items)
        return TP_ERR_INVALID_ARG;
      *body += 2;
      for (uint32_t k = 0; k < l->n; k++) {
        size_t len = l->items[k] ? strlen(l->items[k]) : 0;
        TpError err = check_string(f, l->items[k], len);
        if (err)
          return err;
        if (len == 0)
          return TP_ERR_BAD_STRING;
        *body += 2 + len;
      }
    } else {
      *body += f->kind == TP_F_BLOB
                   ? 4u + ((const TpBlob *)FIELD_CPTR(msg, f))->len
                   : tp_field_min_size(f);
    }
  }
  return TP_OK;
}

static uint8_t *write_string(uint8_t *p, const char *s) {
  size_t len = strlen(s);
  tp_put_u16(p, (uint16_t)len);
  memcpy(p + 2, s, len);
  return p + 2 + len;
}

static uint8_t *write_field(uint8_t *p, const TpField *f, const TpMessage *m) {
  const void *src = FIELD_CPTR(m, f);
  switch ((TpFieldKind)f->kind) {
  case TP_F_U8: *p = *(const uint8_t *)src; return p + 1;
  case TP_F_U16: tp_put_u16(p, *(const uint16_t *)src); return p + 2;
  case TP_F_U32:
  case TP_F_I32: tp_put_u32(p, *(const uint32_t *)src); return p + 4;
  case TP_F_U64: tp_put_u64(p, *(const uint64_t *)src); return p + 8;
  case TP_F_BYTES32: memcpy(p, src, 32); return p + 32;
  case TP_F_STR: return write_string(p, *(const char *const *)src);
  case TP_F_STR_LIST: {
    const TpStrList *l = src;
    tp_put_u16(p, (uint16_t)l->n);
    p += 2;
    for (uint32_t k = 0; k < l->n; k++)
      p = write_string(p, l->items[k]);
    return p;
  }
  case TP_F_BLOB: {
    const TpBlob *b = src;
    tp_put_u32(p, b->len);
    if (b->len)
      memcpy(p + 4, b->data, b->len);
    return p + 4 + b->len;
  }
  }
  return p;
}

TpError tp_encode(const TpMessage *msg, TpBuf *buf) {
  if (!msg || !buf)
    return TP_ERR_INVALID_ARG;
  const TpSpec *spec = tp_spec_lookup(msg->type);
  if (!spec)
    return TP_ERR_UNKNOWN_TYPE;
  TpError err = check_window_rule(spec, msg->window);
  if (err)
    return err;
  if (spec->encode) {
    err = spec->check ? spec->check(msg) : TP_OK;
    return err ? err : spec->encode(msg, buf);
  }
  size_t body = 0;
  err = check_strings(spec, msg, &body);
  if (!err)
    err = check_values(spec, msg);
  if (err)
    return err;

  uint8_t *p = tp_buf_grow(buf, TP_HEADER_SIZE + body);
  if (!p)
    return TP_ERR_NOMEM;
  tp_header_write(p, msg->type, msg->window, (uint32_t)body);
  p += TP_HEADER_SIZE;
  for (unsigned i = 0; i < spec->n_fields; i++)
    p = write_field(p, &spec->fields[i], msg);
  return TP_OK;
}

/* --- Handshake ------------------------------------------------------------ */

TpError tp_hello_negotiate(const TpHello *ours, const TpHello *peer,
                           uint16_t *version, uint64_t *caps) {
  if (!ours || !peer || !version || !caps)
    return TP_ERR_INVALID_ARG;
  if (peer->magic != TP_MAGIC)
    return TP_ERR_BAD_MAGIC;
  uint16_t lo = ours->min_version > peer->min_version ? ours->min_version
                                                      : peer->min_version;
  uint16_t hi = ours->version < peer->version ? ours->version : peer->version;
  if (lo > hi)
    return TP_ERR_VERSION;
  *version = hi;
  *caps = ours->caps & peer->caps;
  return TP_OK;
}
