/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The X11 backend's pure logic: no X connection, no GLib main loop, so the
 * unit tests (and valgrind) see all of it. Everything here reads data that
 * guest applications control (properties, damage) and bounds it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tandem-protocol.h"

typedef struct {
  int32_t x, y;
  uint32_t width, height;
} TxRect;

/* Turns the damaged rectangles of a @win_w x @win_h window into at most
 * @max_out rectangles to capture: clipped to the window, empty ones dropped,
 * and replaced by their bounding box when there are too many or when they
 * cover most of it anyway (one large capture beats many small ones).
 * Returns the number written to @out. */
size_t tx_merge_rects(const TxRect *in, size_t n, uint32_t win_w,
                      uint32_t win_h, TxRect *out, size_t max_out);

/* --- What changed between two captures (tx-delta.c) ------------------- */

/* BGRA pixels, rows @stride bytes apart (a multiple of 4). */
typedef struct {
  uint8_t *data;
  size_t stride;
} TxPixels;

/* A block of @rows rows, from row @first on, that holds what was @dy rows
 * above it (dy > 0: the content moved down) or below it (dy < 0). */
typedef struct {
  int32_t dy;
  uint32_t first, rows;
} TxScroll;

/* A scroll is worth a copy from this many rows on; found from rows that
 * appear once in the old picture and moved, at least this many. */
#define TX_SCROLL_MIN_ROWS 8u
#define TX_SCROLL_MIN_VOTES 4u

/* Did the @width x @height picture @before scroll into @now? The shift
 * most rows that occur once in @before agree on, and the longest block of
 * rows that moved by it (checked byte for byte). Returns 1 and fills @out,
 * or 0: no block of TX_SCROLL_MIN_ROWS rows moved (or no memory). */
int tx_find_scroll(const TxPixels *now, const TxPixels *before,
                   uint32_t width, uint32_t height, TxScroll *out);

/* Applies @s to @px (the @width columns of it): what the host does with
 * the copy, done to our picture of what the host has. */
void tx_apply_scroll(TxPixels *px, uint32_t width, const TxScroll *s);

/* Changed rows closer than this are sent as one rectangle. */
#define TX_DELTA_JOIN_ROWS 2u

/* The parts of a @width x @height picture that differ between @before and
 * @now, as at most @max rectangles (relative to the picture) covering
 * every differing pixel: runs of changed rows, each as wide as its
 * changed columns. Returns how many; 0 when nothing changed. */
size_t tx_changed_rects(const TxPixels *now, const TxPixels *before,
                        uint32_t width, uint32_t height, TxRect *out,
                        size_t max);

/* Rows of a @width-pixel-wide rectangle that fit into @max_bytes of BGRA
 * (at least 1). */
uint32_t tx_band_rows(uint32_t width, uint32_t max_bytes);

/* WM_NORMAL_HINTS (an array of 18 CARD32, ICCCM 4.1.2.3) to the protocol's
 * hints, with every value clamped to what the protocol allows and
 * contradictions (min above max) dropped. @n is the number of values the
 * property really had. */
void tx_parse_size_hints(const uint32_t *v, size_t n, TpWindowHints *out);

/* _NET_WM_ICON: a list of (width, height, width*height ARGB pixels). Picks
 * the smallest icon at least @want pixels wide, else the largest one,
 * ignoring icons larger than @max_dim or running past the end. Returns the
 * index of its first pixel in @v, or -1 when there is no usable icon. */
long tx_pick_icon(const uint32_t *v, size_t n, uint32_t want,
                  uint32_t max_dim, uint32_t *width, uint32_t *height);

/* The keyboard mapping as GetKeyboardMapping returns it: @per keysyms for
 * each keycode from @min_kc to @max_kc. */
typedef struct {
  const uint32_t *syms;
  uint32_t min_kc, max_kc, per;
} TxKeymap;

/* The guest keycode to press for the host's (@keycode, @keysym): the same
 * keycode when it produces @keysym in the guest too (or @keysym is 0), else
 * the keycode producing @keysym with the fewest modifiers, else 0. */
uint32_t tx_keymap_find(const TxKeymap *map, uint32_t keycode,
                        uint32_t keysym);

/* A keycode with no keysym at all, to be borrowed for keysyms the guest's
 * keymap lacks (searched from the top), or 0. */
uint32_t tx_keymap_spare(const TxKeymap *map);

/* Guest keycodes that a focus-in may press on the host's behalf: those in
 * the modifier mapping (@modmap, as GetModifierMapping returns it: 8 rows
 * of @per keycodes, Shift, Lock, Control, Mod1..Mod5) of a modifier that
 * is active while its key is held down. The Lock row is left out, and so
 * is every key that locks or latches (Num_Lock, Caps_Lock, ISO_Level3_Lock
 * and the like), whichever row it is in: pressing one would toggle a
 * state instead of holding it. Sets bit k of @out for keycode k. */
void tx_held_modifiers(const TxKeymap *map, const uint8_t *modmap,
                       uint32_t per, uint8_t out[32]);

/* What KEY_STATE does to the guest's keyboard. @host_down: the guest
 * keycodes the host holds; @guest_down: the keycodes down in the guest;
 * @held_mods: tx_held_modifiers(). @release gets every key down in the
 * guest that the host does not hold; @press every held modifier the host
 * holds that the guest does not (never another key: a letter held across a
 * switch would type itself into the window). Keycodes below 8 are never
 * set. */
void tx_key_state_plan(const uint8_t host_down[32],
                       const uint8_t guest_down[32],
                       const uint8_t held_mods[32], uint8_t release[32],
                       uint8_t press[32]);

/* Makes the guest's modifiers match an input event's: @host_mask is the
 * X modifier state the host reported with the event, @guest_mask the
 * guest's now. For each modifier (not Lock) that has a held key in the
 * mapping (@modmap, @per, @held as for tx_held_modifiers()): held on the
 * host only, @press gets its first held keycode; held in the guest only,
 * @release gets every keycode of its row. So a letter typed with Shift
 * arrives with Shift, and one typed without Alt never arrives with an Alt
 * the guest still believed down. */
void tx_modifier_sync(uint32_t host_mask, uint32_t guest_mask,
                      const uint8_t *modmap, uint32_t per,
                      const uint8_t held[32], uint8_t press[32],
                      uint8_t release[32]);

/* Smooth scrolling: adds @delta (16.16 fixed point) to @acc and returns the
 * whole clicks to emit now (signed); the remainder stays in @acc. */
int32_t tx_scroll_clicks(int32_t *acc, int32_t delta);
