/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The X11 backend's pure logic over hostile and ordinary input: damage
 * merging, banding, WM_NORMAL_HINTS, _NET_WM_ICON, keymap lookup and
 * smooth-scroll accumulation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include <string.h>

#include "tx-pure.h"

static void test_merge_clips_and_drops(void **state) {
  (void)state;
  TxRect in[] = {{-10, -10, 20, 20}, {500, 500, 10, 10}, {90, 0, 20, 5},
                 {5, 5, 0, 7}};
  TxRect out[8];
  size_t n = tx_merge_rects(in, 4, 100, 100, out, 8);
  assert_int_equal(n, 2);
  assert_int_equal(out[0].x, 0);
  assert_int_equal(out[0].width, 10);
  assert_int_equal(out[0].height, 10);
  assert_int_equal(out[1].x, 90);
  assert_int_equal(out[1].width, 10); /* clipped at the right edge */
}

static void test_merge_far_apart_stays_apart(void **state) {
  (void)state;
  TxRect in[] = {{0, 0, 10, 10}, {990, 990, 10, 10}};
  TxRect out[8];
  assert_int_equal(tx_merge_rects(in, 2, 1000, 1000, out, 8), 2);
}

static void test_merge_dense_becomes_the_box(void **state) {
  (void)state;
  TxRect in[] = {{0, 0, 50, 100}, {50, 0, 40, 100}};
  TxRect out[8];
  assert_int_equal(tx_merge_rects(in, 2, 1000, 1000, out, 8), 1);
  assert_int_equal(out[0].width, 90);
  assert_int_equal(out[0].height, 100);
}

static void test_merge_too_many_becomes_the_box(void **state) {
  (void)state;
  TxRect in[100];
  for (int i = 0; i < 100; i++)
    in[i] = (TxRect){i * 10, i * 10, 1, 1};
  TxRect out[4];
  assert_int_equal(tx_merge_rects(in, 100, 2000, 2000, out, 4), 1);
  assert_int_equal(out[0].x, 0);
  assert_int_equal(out[0].width, 991);
  assert_int_equal(tx_merge_rects(in, 0, 10, 10, out, 4), 0);
}

static void test_band_rows(void **state) {
  (void)state;
  assert_int_equal(tx_band_rows(1280, 8u << 20), (8u << 20) / 5120);
  assert_int_equal(tx_band_rows(8192, 100), 1); /* never 0 */
  assert_int_equal(tx_band_rows(0, 100), 1);
}

static void test_size_hints(void **state) {
  (void)state;
  /* min 100x50, max 10x10 (contradiction: dropped), inc 7x13, base,
   * gravity 5, a negative min from a buggy client clamped to 0. */
  uint32_t v[18] = {(1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9),
                    0, 0, 0, 0, 100, 50, 10, 10, 7, 13, 0, 0, 0, 0, 2, 3, 5};
  TpWindowHints h;
  tx_parse_size_hints(v, 18, &h);
  assert_int_equal(h.flags, TP_HINT_MIN_SIZE | TP_HINT_RESIZE_INC |
                                TP_HINT_BASE_SIZE | TP_HINT_GRAVITY);
  assert_int_equal(h.min_width, 100);
  assert_int_equal(h.width_inc, 7);
  assert_int_equal(h.base_height, 3);
  assert_int_equal(h.gravity, 5);

  v[5] = 0xffffff00u; /* -256 */
  v[7] = v[8] = 99999;
  tx_parse_size_hints(v, 18, &h);
  assert_int_equal(h.min_width, 0);
  assert_int_equal(h.max_width, TP_MAX_WINDOW_DIM);

  v[17] = 11; /* no such gravity */
  tx_parse_size_hints(v, 18, &h);
  assert_false(h.flags & TP_HINT_GRAVITY);

  tx_parse_size_hints(v, 3, &h); /* truncated property */
  assert_int_equal(h.flags, 0);
  tx_parse_size_hints(NULL, 0, &h);
  assert_int_equal(h.flags, 0);
}

static void test_icon_pick(void **state) {
  (void)state;
  uint32_t v[2 + 16 + 2 + 64 * 64 + 2 + 4];
  size_t n = 0;
  v[n++] = 4, v[n++] = 4, n += 16;
  size_t at64 = n + 2;
  v[n++] = 64, v[n++] = 64, n += 64 * 64;
  v[n++] = 2, v[n++] = 2, n += 4;
  uint32_t w, h;
  assert_int_equal(tx_pick_icon(v, n, 48, 256, &w, &h), (long)at64);
  assert_int_equal(w, 64);
  assert_int_equal(tx_pick_icon(v, n, 128, 256, &w, &h), (long)at64);
  assert_int_equal(tx_pick_icon(v, n, 3, 256, &w, &h), 2); /* the 4x4 */
  assert_int_equal(tx_pick_icon(v, n, 64, 32, &w, &h), 2); /* 64 too big */

  /* Lies about its size: nothing past the end is ever read. */
  uint32_t liar[] = {1000, 1000, 1, 2, 3};
  assert_int_equal(tx_pick_icon(liar, 5, 64, 256, &w, &h), -1);
  uint32_t zero[] = {0, 5, 1, 2};
  assert_int_equal(tx_pick_icon(zero, 4, 64, 256, &w, &h), -1);
  assert_int_equal(tx_pick_icon(v, 1, 64, 256, &w, &h), -1);
  uint32_t huge[] = {0x10000u, 0x10000u};
  assert_int_equal(tx_pick_icon(huge, 2, 64, 256, &w, &h), -1);
}

static void test_keymap(void **state) {
  (void)state;
  /* Keycodes 10..13, 2 per keycode: a/A, b/B, (none), e-acute. */
  uint32_t syms[] = {'a', 'A', 'b', 'B', 0, 0, 0xe9, 0xc9};
  TxKeymap map = {syms, 10, 13, 2};
  assert_int_equal(tx_keymap_find(&map, 10, 'a'), 10);
  assert_int_equal(tx_keymap_find(&map, 10, 'A'), 10);
  assert_int_equal(tx_keymap_find(&map, 10, 'b'), 11); /* differing maps */
  assert_int_equal(tx_keymap_find(&map, 200, 'B'), 11);
  assert_int_equal(tx_keymap_find(&map, 10, 0xc9), 13);
  assert_int_equal(tx_keymap_find(&map, 10, 0x20ac), 0); /* no euro key */
  assert_int_equal(tx_keymap_find(&map, 12, 0), 12);     /* raw keycode */
  assert_int_equal(tx_keymap_find(&map, 99, 0), 0);
  assert_int_equal(tx_keymap_spare(&map), 12);
  TxKeymap bad = {NULL, 0, 0, 0};
  assert_int_equal(tx_keymap_find(&bad, 10, 'a'), 0);
  assert_int_equal(tx_keymap_spare(&bad), 0);
}

#define BIT(a, k) (((a)[(k) / 8] >> ((k) % 8)) & 1)

static void set_bit(uint8_t *a, uint32_t k) { a[k / 8] |= (uint8_t)(1u << (k % 8)); }

/* The us keymap's modifiers as Xorg sets them up: keycodes 50 Shift_L,
 * 62 Shift_R, 66 Caps_Lock, 37 Control_L, 64 Alt_L, 77 Num_Lock, 133
 * Super_L, 92 ISO_Level3_Shift, 203 Mode_switch, 94 an ISO_Level3_Lock. */
static void us_modifiers(uint32_t *syms, TxKeymap *map, uint8_t *modmap) {
  *map = (TxKeymap){syms, 8, 255, 2};
  struct { uint32_t kc, sym; } keys[] = {
      {50, 0xffe1}, {62, 0xffe2}, {66, 0xffe5}, {37, 0xffe3}, {64, 0xffe9},
      {77, 0xff7f}, {133, 0xffeb}, {92, 0xfe03}, {203, 0xff7e},
      {94, 0xfe05}, {38, 'a'}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    syms[(keys[i].kc - 8) * 2] = keys[i].sym;
  /* 8 rows of 2: Shift, Lock, Control, Mod1, Mod2, Mod3, Mod4, Mod5 */
  /* (A lock key bound to Mod5 stays out all the same.) */
  uint8_t rows[16] = {50, 62, 66, 0, 37, 0, 64, 0, 77, 0, 0, 0, 133, 203,
                      92, 94};
  for (int i = 0; i < 16; i++)
    modmap[i] = rows[i];
}

/* The us keymap's modifiers and which of them may be held for the host. */
typedef struct {
  uint32_t syms[248 * 2];
  TxKeymap map;
  uint8_t modmap[16], held[32];
} UsKeys;

static void us_keys(UsKeys *k) {
  memset(k, 0, sizeof(*k));
  us_modifiers(k->syms, &k->map, k->modmap);
  tx_held_modifiers(&k->map, k->modmap, 2, k->held);
}

static void test_held_modifiers(void **state) {
  (void)state;
  static UsKeys us;
  us_keys(&us);
  TxKeymap map = us.map;
  uint8_t *modmap = us.modmap, *held = us.held;
  /* Held: Shift, Control, Alt, Super, AltGr, Mode_switch. */
  uint32_t yes[] = {50, 62, 37, 64, 133, 92, 203};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    assert_true(BIT(held, yes[i]));
  /* Never: Caps Lock (the Lock row), Num Lock (Mod2), a level-3 lock, a
   * letter, anything not in the mapping. */
  uint32_t no[] = {66, 77, 94, 38, 9, 0};
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    assert_false(BIT(held, no[i]));
  /* No mapping: nothing to press. */
  tx_held_modifiers(&map, NULL, 2, held);
  for (int i = 0; i < 32; i++)
    assert_int_equal(held[i], 0);
  /* A keymap the agent could not read: the modifier mapping alone. */
  TxKeymap none = {NULL, 0, 0, 0};
  tx_held_modifiers(&none, modmap, 2, held);
  assert_true(BIT(held, 50));
  assert_false(BIT(held, 66));
}

static void test_key_state_plan(void **state) {
  (void)state;
  static UsKeys us;
  us_keys(&us);
  const uint8_t *held = us.held;
  uint8_t host[32] = {0}, guest[32] = {0}, release[32], press[32];
  /* The host holds Shift (pressed over a native window) and 'a'; the
   * guest still holds Alt (from an Alt-Tab) and Control. */
  set_bit(host, 50);
  set_bit(host, 38);
  set_bit(host, 37);
  set_bit(guest, 64);
  set_bit(guest, 37);
  tx_key_state_plan(host, guest, held, release, press);
  assert_true(BIT(press, 50));    /* Shift is pressed: capitals */
  assert_false(BIT(press, 38));   /* the letter is not typed again */
  assert_false(BIT(press, 37));   /* already down */
  assert_true(BIT(release, 64));  /* Alt let go */
  assert_false(BIT(release, 37)); /* still held on the host */
  for (uint32_t k = 0; k < 256; k++)
    if (k != 50)
      assert_false(BIT(press, k));
  /* Caps Lock held on the host is never pressed (it would toggle). */
  memset(host, 0, sizeof host);
  memset(guest, 0, sizeof guest);
  set_bit(host, 66);
  host[0] = 0xff; /* keycodes below 8 are not keys */
  guest[0] = 0xff;
  tx_key_state_plan(host, guest, held, release, press);
  assert_false(BIT(press, 66));
  assert_int_equal(press[0], 0);
  assert_int_equal(release[0], 0);
}

static void test_modifier_sync(void **state) {
  (void)state;
  static UsKeys us;
  us_keys(&us);
  const uint8_t *modmap = us.modmap, *held = us.held;
  uint8_t press[32], release[32];
  enum { SHIFT = 1, LOCK = 2, CONTROL = 4, MOD1 = 8, MOD2 = 16, MOD4 = 64 };
  /* Typed with Shift, the guest has none: Shift_L is pressed. */
  tx_modifier_sync(SHIFT, 0, modmap, 2, held, press, release);
  assert_true(BIT(press, 50));
  assert_false(BIT(press, 62));
  /* Typed without Alt, the guest still has it: Alt's row comes up. */
  tx_modifier_sync(0, MOD1 | CONTROL, modmap, 2, held, press, release);
  assert_true(BIT(release, 64));
  assert_true(BIT(release, 37));
  for (uint32_t k = 0; k < 256; k++)
    assert_false(BIT(press, k));
  /* Caps Lock and Num Lock states are never touched (they lock). */
  tx_modifier_sync(LOCK | MOD2, 0, modmap, 2, held, press, release);
  tx_modifier_sync(0, LOCK | MOD2, modmap, 2, held, press, release);
  for (uint32_t k = 0; k < 256; k++) {
    assert_false(BIT(press, k));
    assert_false(BIT(release, k));
  }
  /* The same on both sides: nothing; no mapping: nothing. */
  tx_modifier_sync(SHIFT | MOD4, SHIFT | MOD4, modmap, 2, held, press,
                   release);
  for (uint32_t k = 0; k < 256; k++)
    assert_false(BIT(press, k) || BIT(release, k));
  tx_modifier_sync(SHIFT, 0, NULL, 2, held, press, release);
  for (uint32_t k = 0; k < 256; k++)
    assert_false(BIT(press, k) || BIT(release, k));
}

static void test_scroll_clicks(void **state) {
  (void)state;
  int32_t acc = 0;
  assert_int_equal(tx_scroll_clicks(&acc, 0x8000), 0); /* half a click */
  assert_int_equal(tx_scroll_clicks(&acc, 0x8000), 1);
  assert_int_equal(acc, 0);
  assert_int_equal(tx_scroll_clicks(&acc, -3 * 65536 - 1), -3);
  assert_int_equal(tx_scroll_clicks(&acc, INT32_MAX), 64); /* bounded */
  assert_true(acc < 65536 * 1024);
}

/* --- What changed between two captures (tx-delta.c) --------------------- */

#define PW 48u
#define PH 120u

/* A picture whose rows all differ: row r holds text-like content r. */
static void draw_rows(uint8_t *px, uint32_t h, uint32_t first_content) {
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < PW; x++) {
      uint32_t v = (y + first_content) * 2654435761u ^ (x / 5);
      memcpy(px + ((size_t)y * PW + x) * 4, &v, 4);
    }
}

static void test_scroll_up_found_and_applied(void **state) {
  (void)state;
  uint8_t *before = malloc(PW * PH * 4), *now = malloc(PW * PH * 4);
  draw_rows(before, PH, 0);
  draw_rows(now, PH, 17); /* the content moved 17 rows up */
  TxPixels b = {before, PW * 4}, n = {now, PW * 4};
  TxScroll s;
  assert_int_equal(tx_find_scroll(&n, &b, PW, PH, &s), 1);
  assert_int_equal(s.dy, -17);
  assert_int_equal(s.first, 0);
  assert_int_equal(s.rows, PH - 17);
  /* What the host does with the copy, then only the 17 new rows differ. */
  tx_apply_scroll(&b, PW, &s);
  TxRect r[8];
  size_t k = tx_changed_rects(&n, &b, PW, PH, r, 8);
  assert_int_equal(k, 1);
  assert_int_equal(r[0].y, PH - 17);
  assert_int_equal(r[0].height, 17);
  memcpy(before + (size_t)(PH - 17) * PW * 4, now + (size_t)(PH - 17) * PW * 4,
         17 * PW * 4);
  assert_memory_equal(before, now, PW * PH * 4);
  free(before);
  free(now);
}

static void test_scroll_down_within_a_block(void **state) {
  (void)state;
  uint8_t *before = malloc(PW * PH * 4), *now = malloc(PW * PH * 4);
  draw_rows(before, PH, 1000);
  memcpy(now, before, PW * PH * 4);
  /* Rows 30..89 move 9 down (to 39..98), row 30..38 become new ones. */
  memmove(now + 39u * PW * 4, before + 30u * PW * 4, 60u * PW * 4);
  draw_rows(now + 30u * PW * 4, 9, 5000);
  TxPixels b = {before, PW * 4}, n = {now, PW * 4};
  TxScroll s;
  assert_int_equal(tx_find_scroll(&n, &b, PW, PH, &s), 1);
  assert_int_equal(s.dy, 9);
  assert_int_equal(s.first, 39);
  assert_int_equal(s.rows, 60);
  tx_apply_scroll(&b, PW, &s);
  TxRect r[8];
  size_t k = tx_changed_rects(&n, &b, PW, PH, r, 8);
  assert_int_equal(k, 1);
  assert_int_equal(r[0].y, 30);
  assert_int_equal(r[0].height, 9);
  free(before);
  free(now);
}

static void test_no_scroll_without_evidence(void **state) {
  (void)state;
  uint8_t *before = calloc(PW * PH, 4), *now = calloc(PW * PH, 4);
  TxPixels b = {before, PW * 4}, n = {now, PW * 4};
  TxScroll s;
  /* Blank pictures: every row the same, nothing says what moved. */
  assert_int_equal(tx_find_scroll(&n, &b, PW, PH, &s), 0);
  /* Unrelated pictures. */
  draw_rows(before, PH, 0);
  draw_rows(now, PH, 100000);
  assert_int_equal(tx_find_scroll(&n, &b, PW, PH, &s), 0);
  /* Too short to be worth it. */
  assert_int_equal(tx_find_scroll(&n, &b, PW, TX_SCROLL_MIN_ROWS, &s), 0);
  /* Nothing changed: no rectangles. */
  TxRect r[4];
  assert_int_equal(tx_changed_rects(&b, &b, PW, PH, r, 4), 0);
  free(before);
  free(now);
}

static void set_px(uint8_t *px, uint32_t x, uint32_t y, uint32_t v) {
  memcpy(px + ((size_t)y * PW + x) * 4, &v, 4);
}

static void test_changed_rects_bound_what_differs(void **state) {
  (void)state;
  uint8_t *before = calloc(PW * PH, 4), *now = calloc(PW * PH, 4);
  TxPixels b = {before, PW * 4}, n = {now, PW * 4};
  set_px(now, 5, 10, 1);
  set_px(now, 9, 12, 1); /* two rows apart: the same rectangle */
  set_px(now, 40, 50, 1);
  set_px(now, 20, 54, 1); /* three unchanged rows between: its own */
  TxRect r[8];
  size_t k = tx_changed_rects(&n, &b, PW, PH, r, 8);
  assert_int_equal(k, 3);
  assert_int_equal(r[0].x, 5);
  assert_int_equal(r[0].y, 10);
  assert_int_equal(r[0].width, 5);
  assert_int_equal(r[0].height, 3);
  assert_int_equal(r[1].x, 40);
  assert_int_equal(r[1].width, 1);
  assert_int_equal(r[2].x, 20);
  assert_int_equal(r[2].y, 54);
  /* More than allowed: the rest joins the last one, still covering all. */
  for (uint32_t y = 60; y < PH; y += 4)
    set_px(now, y % PW, y, 7);
  k = tx_changed_rects(&n, &b, PW, PH, r, 3);
  assert_int_equal(k, 3);
  assert_int_equal(r[2].y, 54);
  assert_int_equal(r[2].y + (int32_t)r[2].height, 117);
  free(before);
  free(now);
}

/* Whatever the pictures hold, what is found moves within them, and the
 * rectangles cover every pixel that differs after the move. */
static void test_delta_random_pictures(void **state) {
  (void)state;
  uint8_t *before = malloc(PW * PH * 4), *now = malloc(PW * PH * 4);
  srand(4242);
  for (int round = 0; round < 200; round++) {
    uint32_t h = 1 + (uint32_t)rand() % PH;
    for (size_t i = 0; i < (size_t)PW * h * 4; i++) {
      before[i] = (uint8_t)(rand() % 3);
      now[i] = (uint8_t)(rand() % 3);
    }
    if (round % 2) /* some of them scrolled, with noise */
      memcpy(now, before + (size_t)(h / 3) * PW * 4,
             (size_t)(h - h / 3) * PW * 4);
    TxPixels b = {before, PW * 4}, n = {now, PW * 4};
    TxScroll s;
    if (tx_find_scroll(&n, &b, PW, h, &s)) {
      assert_true(s.first + s.rows <= h);
      assert_true((int64_t)s.first - s.dy >= 0);
      assert_true((int64_t)s.first + s.rows - s.dy <= h);
      tx_apply_scroll(&b, PW, &s);
    }
    TxRect r[16];
    size_t k = tx_changed_rects(&n, &b, PW, h, r, 16);
    for (size_t i = 0; i < k; i++)
      for (uint32_t y = 0; y < r[i].height; y++)
        memcpy(before + ((size_t)(r[i].y + (int32_t)y) * PW + (size_t)r[i].x) *
                            4,
               now + ((size_t)(r[i].y + (int32_t)y) * PW + (size_t)r[i].x) * 4,
               (size_t)r[i].width * 4);
    assert_memory_equal(before, now, (size_t)PW * h * 4);
  }
  free(before);
  free(now);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_merge_clips_and_drops),
      cmocka_unit_test(test_merge_far_apart_stays_apart),
      cmocka_unit_test(test_merge_dense_becomes_the_box),
      cmocka_unit_test(test_merge_too_many_becomes_the_box),
      cmocka_unit_test(test_band_rows),
      cmocka_unit_test(test_size_hints),
      cmocka_unit_test(test_icon_pick),
      cmocka_unit_test(test_keymap),
      cmocka_unit_test(test_held_modifiers),
      cmocka_unit_test(test_key_state_plan),
      cmocka_unit_test(test_modifier_sync),
      cmocka_unit_test(test_scroll_clicks),
      cmocka_unit_test(test_scroll_up_found_and_applied),
      cmocka_unit_test(test_scroll_down_within_a_block),
      cmocka_unit_test(test_no_scroll_without_evidence),
      cmocka_unit_test(test_changed_rects_bound_what_differs),
      cmocka_unit_test(test_delta_random_pictures),
  };
  return cmocka_run_group_tests_name("x11-pure", tests, NULL, NULL);
}
