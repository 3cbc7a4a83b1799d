/* SPDX-License-Identifier: GPL-2.0-or-later */
/* UTF-8 validation and sanitising of strings that cross the channel. */
#include "tp-private.h"

#include <string.h>

/* Decodes one scalar value at s[i]; returns its byte length, or 0 if the
 * sequence is malformed (truncated, overlong, surrogate, > U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t len, size_t i,
                        uint32_t *cp) {
  unsigned char c = s[i];
  size_t n;
  uint32_t v, min;

  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    n = 2, v = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, v = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (len - i < n)
    return 0;
  for (size_t k = 1; k < n; k++) {
    if ((s[i + k] & 0xc0) != 0x80)
      return 0;
    v = (v << 6) | (s[i + k] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return n;
}

bool tp_utf8_validate(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  uint32_t cp;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_next(u, len, i, &cp);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

static bool is_control(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* Characters that let a title display differently from its logical order,
 * the classic way to make "evil.exe" look like "exe.live". */
static bool is_bidi_override(uint32_t cp) {
  return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t tp_text_sanitize(char *s, size_t len) {
  unsigned char *u = (unsigned char *)s;
  size_t out = 0;
  uint32_t cp;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_next(u, len, i, &cp);
    if (n == 0) /* callers validate first; drop garbage rather than keep it */
      n = 1, cp = 0;
    if (!is_control(cp) && !is_bidi_override(cp)) {
      memmove(u + out, u + i, n);
      out += n;
    }
    i += n;
  }
  return out;
}

size_t tp_utf8_truncate(const char *s, size_t len, size_t max) {
  const unsigned char *u = (const unsigned char *)s;
  if (len <= max)
    return len;
  size_t cut = max;
  /* Step back over continuation bytes to the start of the cut sequence. */
  while (cut > 0 && (u[cut] & 0xc0) == 0x80)
    cut--;
  return cut;
}

static bool id_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == '+' || c == '@';
}

static bool mime_char(unsigned char c) {
  return (id_char(c) && c != '@') || c == '/';
}

TpError tp_string_check(const char *s, size_t len, TpCharset charset) {
  const unsigned char *u = (const unsigned char *)s;
  switch (charset) {
  case TP_ID:
  case TP_MIME:
    for (size_t i = 0; i < len; i++)
      if (!(charset == TP_ID ? id_char(u[i]) : mime_char(u[i])))
        return TP_ERR_BAD_STRING;
    return TP_OK;
  case TP_FSNAME:
    for (size_t i = 0; i < len; i++)
      if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9')))
        return TP_ERR_BAD_STRING;
    return TP_OK;
  case TP_PATH:
    if (!tp_utf8_validate(s, len))
      return TP_ERR_BAD_UTF8;
    for (size_t i = 0; i < len;) {
      uint32_t cp;
      size_t n = utf8_next(u, len, i, &cp);
      if (is_control(cp))
        return TP_ERR_BAD_STRING;
      i += n;
    }
    return TP_OK;
  case TP_TEXT:
    return tp_utf8_validate(s, len) ? TP_OK : TP_ERR_BAD_UTF8;
  }
  return TP_ERR_BAD_STRING;
}
