/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tx-pure.h"

#include <string.h>

static uint64_t area(const TxRect *r) {
  return (uint64_t)r->width * r->height;
}

/* @r clipped to [0,w)x[0,h); FALSE if nothing is left. */
static int clip(TxRect *r, uint32_t w, uint32_t h) {
  int64_t x0 = r->x, y0 = r->y;
  int64_t x1 = x0 + r->width, y1 = y0 + r->height;
  if (x0 < 0)
    x0 = 0;
  if (y0 < 0)
    y0 = 0;
  if (x1 > (int64_t)w)
    x1 = w;
  if (y1 > (int64_t)h)
    y1 = h;
  if (x1 <= x0 || y1 <= y0)
    return 0;
  *r = (TxRect){(int32_t)x0, (int32_t)y0, (uint32_t)(x1 - x0),
                (uint32_t)(y1 - y0)};
  return 1;
}

size_t tx_merge_rects(const TxRect *in, size_t n, uint32_t win_w,
                      uint32_t win_h, TxRect *out, size_t max_out) {
  size_t k = 0;
  uint64_t sum = 0;
  int64_t bx0 = INT64_MAX, by0 = INT64_MAX, bx1 = INT64_MIN, by1 = INT64_MIN;
  if (!max_out)
    return 0;
  for (size_t i = 0; i < n; i++) {
    TxRect r = in[i];
    if (!clip(&r, win_w, win_h))
      continue;
    if (k < max_out)
      out[k] = r;
    k++;
    sum += area(&r);
    if (r.x < bx0)
      bx0 = r.x;
    if (r.y < by0)
      by0 = r.y;
    if (r.x + (int64_t)r.width > bx1)
      bx1 = r.x + (int64_t)r.width;
    if (r.y + (int64_t)r.height > by1)
      by1 = r.y + (int64_t)r.height;
  }
  if (k <= 1)
    return k;
  TxRect box = {(int32_t)bx0, (int32_t)by0, (uint32_t)(bx1 - bx0),
                (uint32_t)(by1 - by0)};
  /* Overlapping input can add up to more than the box: that, too many
   * pieces, or pieces covering 3/4 of the box all mean "take the box". */
  if (k > max_out || sum * 4 >= area(&box) * 3) {
    out[0] = box;
    return 1;
  }
  return k;
}

uint32_t tx_band_rows(uint32_t width, uint32_t max_bytes) {
  uint64_t row = (uint64_t)width * 4u;
  uint64_t rows = row ? max_bytes / row : 1;
  return rows ? (uint32_t)(rows > UINT32_MAX ? UINT32_MAX : rows) : 1u;
}

static uint32_t clampu(uint32_t v, uint32_t max) { return v > max ? max : v; }

void tx_parse_size_hints(const uint32_t *v, size_t n, TpWindowHints *out) {
  enum {
    P_MIN = 1u << 4, P_MAX = 1u << 5, P_INC = 1u << 6, P_ASPECT = 1u << 7,
    P_BASE = 1u << 8, P_GRAVITY = 1u << 9
  };
  memset(out, 0, sizeof(*out));
  if (n < 15)
    return;
  /* Values are CARD32 but meant as INT32: negative is nonsense, 0 it is. */
  uint32_t val[18] = {0};
  for (size_t i = 0; i < n && i < 18; i++)
    val[i] = v[i] > INT32_MAX ? 0 : v[i];
  uint32_t flags = v[0];
  if (flags & P_MIN) {
    out->flags |= TP_HINT_MIN_SIZE;
    out->min_width = clampu(val[5], TP_MAX_WINDOW_DIM);
    out->min_height = clampu(val[6], TP_MAX_WINDOW_DIM);
  }
  if (flags & P_MAX) {
    out->flags |= TP_HINT_MAX_SIZE;
    out->max_width = clampu(val[7], TP_MAX_WINDOW_DIM);
    out->max_height = clampu(val[8], TP_MAX_WINDOW_DIM);
  }
  if ((out->flags & TP_HINT_MIN_SIZE) && (out->flags & TP_HINT_MAX_SIZE) &&
      (out->min_width > out->max_width || out->min_height > out->max_height)) {
    out->flags &= ~(uint32_t)TP_HINT_MAX_SIZE;
    out->max_width = out->max_height = 0;
  }
  if (flags & P_INC) {
    out->flags |= TP_HINT_RESIZE_INC;
    out->width_inc = clampu(val[9], TP_MAX_WINDOW_DIM);
    out->height_inc = clampu(val[10], TP_MAX_WINDOW_DIM);
  }
  if (flags & P_ASPECT) {
    out->flags |= TP_HINT_ASPECT;
    out->min_aspect_num = clampu(val[11], TP_MAX_ASPECT);
    out->min_aspect_den = clampu(val[12], TP_MAX_ASPECT);
    out->max_aspect_num = clampu(val[13], TP_MAX_ASPECT);
    out->max_aspect_den = clampu(val[14], TP_MAX_ASPECT);
  }
  if ((flags & P_BASE) && n >= 17) {
    out->flags |= TP_HINT_BASE_SIZE;
    out->base_width = clampu(val[15], TP_MAX_WINDOW_DIM);
    out->base_height = clampu(val[16], TP_MAX_WINDOW_DIM);
  }
  if ((flags & P_GRAVITY) && n >= 18 && val[17] >= 1 && val[17] <= 10) {
    out->flags |= TP_HINT_GRAVITY;
    out->gravity = (uint8_t)val[17];
  }
}

long tx_pick_icon(const uint32_t *v, size_t n, uint32_t want,
                  uint32_t max_dim, uint32_t *width, uint32_t *height) {
  long best = -1;
  uint32_t bw = 0, bh = 0;
  size_t i = 0;
  while (i + 2 <= n) {
    uint32_t w = v[i], h = v[i + 1];
    uint64_t px = (uint64_t)w * h;
    if (w == 0 || h == 0 || px > n - i - 2)
      break; /* malformed or truncated: stop at what was sane */
    if (w <= max_dim && h <= max_dim) {
      int better;
      if (best < 0)
        better = 1;
      else if (bw >= want)
        better = w >= want && w < bw;
      else
        better = w > bw;
      if (better) {
        best = (long)(i + 2);
        bw = w;
        bh = h;
      }
    }
    i += 2 + (size_t)px;
  }
  if (best >= 0) {
    *width = bw;
    *height = bh;
  }
  return best;
}

static const uint32_t *syms_of(const TxKeymap *m, uint32_t kc) {
  return m->syms + (size_t)(kc - m->min_kc) * m->per;
}

static int valid_map(const TxKeymap *m) {
  return m->syms && m->per && m->min_kc <= m->max_kc && m->max_kc <= 255;
}

uint32_t tx_keymap_find(const TxKeymap *map, uint32_t keycode,
                        uint32_t keysym) {
  if (!valid_map(map))
    return keysym ? 0 : keycode;
  int in_range = keycode >= map->min_kc && keycode <= map->max_kc;
  if (!keysym)
    return in_range ? keycode : 0;
  if (in_range) {
    const uint32_t *s = syms_of(map, keycode);
    for (uint32_t c = 0; c < map->per && c < 4; c++)
      if (s[c] == keysym)
        return keycode;
  }
  /* Column 0 needs no modifier, column 1 Shift, 2-3 the group switch. */
  uint32_t cols = map->per < 4 ? map->per : 4;
  for (uint32_t c = 0; c < cols; c++)
    for (uint32_t kc = map->min_kc; kc <= map->max_kc; kc++)
      if (syms_of(map, kc)[c] == keysym)
        return kc;
  return 0;
}

uint32_t tx_keymap_spare(const TxKeymap *map) {
  if (!valid_map(map))
    return 0;
  for (uint32_t kc = map->max_kc; kc >= map->min_kc && kc >= 8; kc--) {
    const uint32_t *s = syms_of(map, kc);
    uint32_t c = 0;
    while (c < map->per && s[c] == 0)
      c++;
    if (c == map->per)
      return kc;
  }
  return 0;
}

/* Keysyms of keys that lock or latch a modifier rather than hold it. */
static int locks(uint32_t keysym) {
  switch (keysym) {
  case 0xffe5: /* Caps_Lock */
  case 0xffe6: /* Shift_Lock */
  case 0xff7f: /* Num_Lock */
  case 0xff14: /* Scroll_Lock */
    return 1;
  case 0xfe03: /* ISO_Level3_Shift (AltGr) */
  case 0xfe11: /* ISO_Level5_Shift */
    return 0;
  default: /* ISO_Lock .. ISO_Level5_Lock: locks, latches, group moves */
    return keysym >= 0xfe01 && keysym <= 0xfe13;
  }
}

void tx_held_modifiers(const TxKeymap *map, const uint8_t *modmap,
                       uint32_t per, uint8_t out[32]) {
  for (int i = 0; i < 32; i++)
    out[i] = 0;
  if (!modmap)
    return;
  for (uint32_t row = 0; row < 8; row++) {
    if (row == 1) /* Lock */
      continue;
    for (uint32_t i = 0; i < per; i++) {
      uint32_t kc = modmap[row * per + i];
      if (kc < 8)
        continue; /* 0: an unused slot */
      int lock = 0;
      if (valid_map(map) && kc >= map->min_kc && kc <= map->max_kc) {
        const uint32_t *s = syms_of(map, kc);
        for (uint32_t c = 0; c < map->per && c < 4; c++)
          lock |= locks(s[c]);
      }
      if (!lock)
        out[kc / 8] |= (uint8_t)(1u << (kc % 8));
    }
  }
}

void tx_key_state_plan(const uint8_t host_down[32],
                       const uint8_t guest_down[32],
                       const uint8_t held_mods[32], uint8_t release[32],
                       uint8_t press[32]) {
  for (int i = 0; i < 32; i++) {
    release[i] = (uint8_t)(guest_down[i] & ~host_down[i]);
    press[i] = (uint8_t)(host_down[i] & ~guest_down[i] & held_mods[i]);
  }
  release[0] = press[0] = 0; /* keycodes 0-7 do not exist */
}

void tx_modifier_sync(uint32_t host_mask, uint32_t guest_mask,
                      const uint8_t *modmap, uint32_t per,
                      const uint8_t held[32], uint8_t press[32],
                      uint8_t release[32]) {
  for (int i = 0; i < 32; i++)
    press[i] = release[i] = 0;
  if (!modmap)
    return;
  for (uint32_t row = 0; row < 8; row++) {
    uint32_t bit = 1u << row;
    if (row == 1 || !((host_mask ^ guest_mask) & bit))
      continue; /* Lock, or already the same */
    uint32_t first = 0;
    for (uint32_t i = 0; i < per && !first; i++) {
      uint32_t kc = modmap[row * per + i];
      if (kc >= 8 && (held[kc / 8] >> (kc % 8) & 1))
        first = kc;
    }
    if (!first)
      continue; /* only locks (Num_Lock) or nothing: not ours to change */
    if (host_mask & bit) {
      press[first / 8] |= (uint8_t)(1u << (first % 8));
      continue;
    }
    for (uint32_t i = 0; i < per; i++) {
      uint32_t kc = modmap[row * per + i];
      if (kc >= 8)
        release[kc / 8] |= (uint8_t)(1u << (kc % 8));
    }
  }
}

int32_t tx_scroll_clicks(int32_t *acc, int32_t delta) {
  int64_t sum = (int64_t)*acc + delta;
  int64_t clicks = sum / 65536; /* truncates toward zero */
  if (clicks > 64)
    clicks = 64; /* one message never turns into a flood of clicks */
  if (clicks < -64)
    clicks = -64;
  sum -= clicks * 65536;
  if (sum > INT32_MAX / 2 || sum < INT32_MIN / 2)
    sum = 0;
  *acc = (int32_t)sum;
  return (int32_t)clicks;
}
