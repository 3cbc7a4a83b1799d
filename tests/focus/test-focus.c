/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The focus state machine, rule by rule: each event and the exact list of
 * actions it must produce (docs/focus.md has the table). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "tandem-focus.h"

#define MAX_RECORDED 64

/* Windows: M and N are two applications' main windows, D a dialog of M. */
enum { M = 0x100, D = 0x101, D2 = 0x102, MENU = 0x103, N = 0x200, E = 0x201 };

typedef struct {
  TandemFocus *m;
  TfAction got[MAX_RECORDED];
  size_t n;
  uint64_t now;
} F;

static void record(const TfAction *a, void *data) {
  F *f = data;
  assert_true(f->n < MAX_RECORDED);
  f->got[f->n++] = *a;
}

static int setup(void **state) {
  F *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->m = tandem_focus_new(record, f);
  assert_non_null(f->m);
  f->now = 1000;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  F *f = *state;
  tandem_focus_free(f->m);
  free(f);
  return 0;
}

#define SET(w, s) {TF_ACTION_SET_GUEST_FOCUS, (w), (s), 0}
#define KEYS(w) {TF_ACTION_SEND_KEY_STATE, (w), 0, 0}
#define ACTIVATE(w) {TF_ACTION_ACTIVATE_PROXY, (w), 0, 0}
#define ATTENTION(w) {TF_ACTION_REQUEST_ATTENTION, (w), 0, 0}
#define ARM(ms) {TF_ACTION_ARM_TIMER, 0, 0, (ms)}
#define CANCEL {TF_ACTION_CANCEL_TIMER, 0, 0, 0}

static void print_actions(const char *what, const TfAction *a, size_t n) {
  fprintf(stderr, "# %s:", what);
  for (size_t i = 0; i < n; i++)
    fprintf(stderr, " %s(w=%#x seq=%u ms=%u)",
            tandem_focus_action_name(a[i].type), a[i].window, a[i].seq,
            a[i].ms);
  fprintf(stderr, "%s\n", n ? "" : " nothing");
}

/* The actions since the last check must be exactly @want, in order. */
static void check(F *f, const TfAction *want, size_t n, int line) {
  bool same = f->n == n;
  for (size_t i = 0; same && i < n; i++)
    same = f->got[i].type == want[i].type &&
           f->got[i].window == want[i].window &&
           f->got[i].seq == want[i].seq && f->got[i].ms == want[i].ms;
  if (!same) {
    fprintf(stderr, "# line %d\n", line);
    print_actions("want", want, n);
    print_actions("got ", f->got, f->n);
    fail_msg("unexpected actions at line %d", line);
  }
  f->n = 0;
}

#define EXPECT(f, ...)                                                       \
  check((f), (const TfAction[]){__VA_ARGS__},                                \
        sizeof((const TfAction[]){__VA_ARGS__}) / sizeof(TfAction), __LINE__)
#define EXPECT_NOTHING(f) check((f), NULL, 0, __LINE__)

static uint32_t seq(F *f) { return tandem_focus_last_seq(f->m); }

static void window(F *f, uint32_t id, uint32_t transient_for, bool override) {
  tandem_focus_window_created(f->m, id, transient_for, override, f->now);
  tandem_focus_window_mapped(f->m, id, f->now);
}

/* Connected, the stub confirmed, and M and N mapped long ago. */
static F *ready(void **state) {
  F *f = *state;
  tandem_focus_connected(f->m, f->now);
  EXPECT(f, SET(0, 1));
  tandem_focus_guest_report(f->m, 1, TF_GUEST_STUB, 0, f->now);
  EXPECT_NOTHING(f);
  window(f, M, 0, false);
  window(f, N, 0, false);
  EXPECT_NOTHING(f);
  f->now += 5000;
  return f;
}

/* The host focuses @w's proxy and the guest confirms. */
static void focus(F *f, uint32_t w) {
  tandem_focus_host_in(f->m, w, f->now);
  EXPECT(f, KEYS(w), SET(w, seq(f)));
  tandem_focus_guest_report(f->m, seq(f), TF_GUEST_WINDOW, w, f->now);
  EXPECT_NOTHING(f);
}

static void answer(F *f, TfGuestKind kind, uint32_t w) {
  tandem_focus_guest_report(f->m, seq(f), kind, w, f->now);
}

static void assert_guest(F *f, TfGuestKind kind, uint32_t w) {
  TfGuestKind k;
  assert_int_equal(tandem_focus_guest_window(f->m, &k), w);
  assert_int_equal(k, kind);
}

/* ---- connection ------------------------------------------------------- */

static void test_initial_state(void **state) {
  F *f = *state;
  assert_int_equal(tandem_focus_host_window(f->m), 0);
  assert_guest(f, TF_GUEST_NONE, 0);
  assert_int_equal(tandem_focus_last_seq(f->m), 0);
  assert_false(tandem_focus_may_deliver_keys(f->m, 0));
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  assert_false(tandem_focus_reassert_suspended(f->m));
  assert_int_equal(tandem_focus_window_count(f->m), 0);
  EXPECT_NOTHING(f);
  tandem_focus_free(NULL);
}

static void test_connect_sends_stub(void **state) {
  F *f = *state;
  tandem_focus_connected(f->m, f->now);
  EXPECT(f, SET(0, 1));
  answer(f, TF_GUEST_STUB, 0);
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_STUB, 0);
}

static void test_nothing_before_connect(void **state) {
  F *f = *state;
  window(f, M, 0, false);
  window(f, D, M, false);
  tandem_focus_host_in(f->m, M, f->now);
  tandem_focus_host_out(f->m, M, f->now);
  tandem_focus_host_in(f->m, M, f->now);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
  tandem_focus_guest_attention(f->m, D, f->now);
  tandem_focus_timeout(f->m, f->now);
  EXPECT_NOTHING(f);
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  assert_guest(f, TF_GUEST_NONE, 0);
  /* Connecting sends what is wanted now: the host-focused window. */
  tandem_focus_connected(f->m, f->now);
  EXPECT(f, KEYS(M), SET(M, 1));
  assert_true(tandem_focus_may_deliver_keys(f->m, M));
}

static void test_disconnect(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  tandem_focus_host_in(f->m, M, f->now);
  EXPECT(f, KEYS(M), CANCEL);
  tandem_focus_disconnected(f->m, f->now);
  EXPECT_NOTHING(f); /* no timer was armed */
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  assert_int_equal(tandem_focus_window_count(f->m), 0);
  assert_guest(f, TF_GUEST_NONE, 0);
  tandem_focus_disconnected(f->m, f->now);
  EXPECT_NOTHING(f);
  /* Host focus stays; the window is announced again after reconnecting. */
  uint32_t before = seq(f);
  tandem_focus_connected(f->m, f->now);
  EXPECT(f, SET(0, before + 1));
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  tandem_focus_window_created(f->m, M, 0, false, f->now);
  EXPECT_NOTHING(f);
  tandem_focus_window_mapped(f->m, M, f->now);
  EXPECT(f, KEYS(M), SET(M, before + 2));
  assert_true(tandem_focus_may_deliver_keys(f->m, M));
}

static void test_disconnect_cancels_timer(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  tandem_focus_disconnected(f->m, f->now);
  EXPECT(f, CANCEL);
  f->now += TF_DEBOUNCE_MS;
  tandem_focus_timeout(f->m, f->now);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, M, f->now);
  EXPECT_NOTHING(f);
  tandem_focus_connected(f->m, f->now);
  EXPECT(f, SET(0, seq(f)));
}

/* ---- host focus ------------------------------------------------------- */

static void test_focus_in_sends_keys_then_focus(void **state) {
  F *f = ready(state);
  tandem_focus_host_in(f->m, M, f->now);
  EXPECT(f, KEYS(M), SET(M, 2));
  assert_int_equal(tandem_focus_host_window(f->m), M);
  assert_true(tandem_focus_may_deliver_keys(f->m, M));
  answer(f, TF_GUEST_WINDOW, M);
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_WINDOW, M);
}

static void test_focus_in_again_sends_keys_only(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_in(f->m, M, f->now);
  EXPECT(f, KEYS(M));
  tandem_focus_host_in(f->m, N, f->now);
  EXPECT(f, KEYS(N), SET(N, seq(f)));
  /* Not confirmed yet: a request is outstanding, so ask again. */
  tandem_focus_host_in(f->m, N, f->now);
  EXPECT(f, KEYS(N), SET(N, seq(f)));
}

static void test_focus_out_goes_to_stub_after_debounce(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  /* Keys stop at once, not after the debounce. */
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  assert_int_equal(tandem_focus_host_window(f->m), 0);
  f->now += TF_DEBOUNCE_MS;
  tandem_focus_timeout(f->m, f->now);
  EXPECT(f, SET(0, seq(f)));
  answer(f, TF_GUEST_STUB, 0);
  EXPECT_NOTHING(f);
  tandem_focus_timeout(f->m, f->now); /* not armed: nothing */
  EXPECT_NOTHING(f);
}

static void test_switch_between_proxies_skips_stub(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  f->now += TF_DEBOUNCE_MS - 1;
  tandem_focus_host_in(f->m, N, f->now);
  EXPECT(f, KEYS(N), SET(N, seq(f)), CANCEL);
  f->now += 100;
  tandem_focus_timeout(f->m, f->now); /* a late one: ignored */
  EXPECT_NOTHING(f);
  assert_true(tandem_focus_may_deliver_keys(f->m, N));
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
}

static void test_focus_in_before_focus_out(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_in(f->m, N, f->now);
  EXPECT(f, KEYS(N), SET(N, seq(f)));
  tandem_focus_host_out(f->m, M, f->now); /* stale: N has focus */
  EXPECT_NOTHING(f);
  assert_true(tandem_focus_may_deliver_keys(f->m, N));
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
}

static void test_back_within_debounce(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  tandem_focus_host_in(f->m, M, f->now + 3);
  EXPECT(f, KEYS(M), CANCEL); /* the guest is on M already */
  /* Same, but M's request was never answered. */
  tandem_focus_host_in(f->m, N, f->now);
  f->n = 0;
  tandem_focus_host_out(f->m, N, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  tandem_focus_host_in(f->m, N, f->now + 3);
  EXPECT(f, KEYS(N), SET(N, seq(f)), CANCEL);
}

static void test_focus_out_of_other_window_ignored(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_out(f->m, N, f->now);
  tandem_focus_host_out(f->m, 0, f->now);
  tandem_focus_host_out(f->m, 0x999, f->now);
  tandem_focus_host_in(f->m, 0, f->now);
  EXPECT_NOTHING(f);
  assert_true(tandem_focus_may_deliver_keys(f->m, M));
}

static void test_focus_in_unknown_window(void **state) {
  F *f = ready(state);
  /* Nothing focused before: still nothing to do. */
  tandem_focus_host_in(f->m, 0x999, f->now);
  EXPECT_NOTHING(f);
  assert_false(tandem_focus_may_deliver_keys(f->m, 0x999));
  focus(f, M);
  /* From M to a window not known: M lost focus. */
  tandem_focus_host_in(f->m, 0x999, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  f->now += TF_DEBOUNCE_MS;
  tandem_focus_timeout(f->m, f->now);
  EXPECT(f, SET(0, seq(f)));
  /* Its window is announced later: the focused proxy gets guest focus. */
  window(f, 0x999, 0, false);
  EXPECT(f, KEYS(0x999), SET(0x999, seq(f)));
  assert_true(tandem_focus_may_deliver_keys(f->m, 0x999));
}

static void test_focus_in_before_map(void **state) {
  F *f = ready(state);
  tandem_focus_window_created(f->m, E, 0, false, f->now);
  tandem_focus_host_in(f->m, E, f->now);
  EXPECT_NOTHING(f);
  assert_false(tandem_focus_may_deliver_keys(f->m, E));
  tandem_focus_window_mapped(f->m, E, f->now);
  EXPECT(f, KEYS(E), SET(E, seq(f)));
  assert_true(tandem_focus_may_deliver_keys(f->m, E));
}

static void test_override_redirect_never_focused(void **state) {
  F *f = ready(state);
  focus(f, M);
  window(f, MENU, M, true);
  EXPECT_NOTHING(f); /* not a dialog to activate */
  tandem_focus_host_in(f->m, MENU, f->now);
  tandem_focus_host_out(f->m, MENU, f->now);
  EXPECT_NOTHING(f);
  assert_int_equal(tandem_focus_host_window(f->m), M);
  assert_false(tandem_focus_may_deliver_keys(f->m, MENU));
  tandem_focus_guest_attention(f->m, MENU, f->now);
  EXPECT_NOTHING(f);
}

static void test_may_deliver_keys(void **state) {
  F *f = ready(state);
  assert_false(tandem_focus_may_deliver_keys(f->m, M)); /* no focus */
  focus(f, M);
  assert_true(tandem_focus_may_deliver_keys(f->m, M));
  assert_false(tandem_focus_may_deliver_keys(f->m, N));
  assert_false(tandem_focus_may_deliver_keys(f->m, 0));
  assert_false(tandem_focus_may_deliver_keys(f->m, 0x999));
  /* Before the guest confirmed: allowed (the agent focuses before it
   * types). */
  tandem_focus_host_in(f->m, N, f->now);
  assert_true(tandem_focus_may_deliver_keys(f->m, N));
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  tandem_focus_window_unmapped(f->m, N, f->now);
  assert_false(tandem_focus_may_deliver_keys(f->m, N));
  tandem_focus_window_mapped(f->m, N, f->now); /* host focus was lost */
  assert_false(tandem_focus_may_deliver_keys(f->m, N));
  tandem_focus_host_in(f->m, N, f->now);
  assert_true(tandem_focus_may_deliver_keys(f->m, N));
  tandem_focus_disconnected(f->m, f->now);
  assert_false(tandem_focus_may_deliver_keys(f->m, N));
}

/* ---- windows going away ------------------------------------------------ */

static void test_unmap_of_focused_window(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_window_unmapped(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  tandem_focus_host_out(f->m, M, f->now); /* late: ignored */
  EXPECT_NOTHING(f);
  f->now += TF_DEBOUNCE_MS;
  tandem_focus_timeout(f->m, f->now);
  EXPECT(f, SET(0, seq(f)));
  /* Mapped again: the host has to focus it again first. */
  tandem_focus_window_mapped(f->m, M, f->now);
  EXPECT_NOTHING(f);
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
}

static void test_unmap_then_other_proxy(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_window_unmapped(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  tandem_focus_host_in(f->m, N, f->now + 5);
  EXPECT(f, KEYS(N), SET(N, seq(f)), CANCEL);
}

static void test_destroy_of_focused_window(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_window_destroyed(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  assert_int_equal(tandem_focus_window_count(f->m), 1);
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  tandem_focus_window_destroyed(f->m, M, f->now);
  tandem_focus_window_unmapped(f->m, M, f->now);
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT_NOTHING(f);
  f->now += TF_DEBOUNCE_MS;
  tandem_focus_timeout(f->m, f->now);
  EXPECT(f, SET(0, seq(f)));
}

static void test_unmap_of_other_windows(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_window_unmapped(f->m, N, f->now);
  tandem_focus_window_unmapped(f->m, N, f->now);
  tandem_focus_window_unmapped(f->m, 0x999, f->now);
  tandem_focus_window_mapped(f->m, 0x999, f->now);
  tandem_focus_window_destroyed(f->m, N, f->now);
  tandem_focus_window_destroyed(f->m, 0x999, f->now);
  EXPECT_NOTHING(f);
  assert_true(tandem_focus_may_deliver_keys(f->m, M));
}

static void test_create_again_replaces(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_window_created(f->m, M, 0, false, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS)); /* a new, unmapped window now */
  assert_false(tandem_focus_may_deliver_keys(f->m, M));
  assert_int_equal(tandem_focus_window_count(f->m), 2);
}

/* ---- dialogs, new windows, attention ---------------------------------- */

static void test_dialog_of_focused_window_activated(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_window_created(f->m, D, M, false, f->now);
  EXPECT_NOTHING(f);
  tandem_focus_window_mapped(f->m, D, f->now);
  EXPECT(f, ACTIVATE(D), ARM(TF_ACTIVATE_WAIT_MS));
  /* The guest gives it focus before the host follows: fine. */
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, D, f->now);
  EXPECT_NOTHING(f);
  /* The host follows, proxy to proxy. */
  tandem_focus_host_out(f->m, M, f->now + 2);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  tandem_focus_host_in(f->m, D, f->now + 4);
  EXPECT(f, KEYS(D), SET(D, seq(f)), CANCEL);
  assert_true(tandem_focus_may_deliver_keys(f->m, D));
  /* A second MAP of a mapped window changes nothing. */
  tandem_focus_window_mapped(f->m, D, f->now);
  EXPECT_NOTHING(f);
}

static void test_dialog_family(void **state) {
  F *f = ready(state);
  focus(f, M);
  window(f, D, M, false);
  EXPECT(f, ACTIVATE(D), ARM(TF_ACTIVATE_WAIT_MS));
  tandem_focus_host_in(f->m, D, f->now);
  EXPECT(f, KEYS(D), SET(D, seq(f)), CANCEL);
  answer(f, TF_GUEST_WINDOW, D);
  /* A dialog of the dialog. */
  window(f, D2, D, false);
  EXPECT(f, ACTIVATE(D2), ARM(TF_ACTIVATE_WAIT_MS));
  tandem_focus_window_unmapped(f->m, D2, f->now);
  EXPECT(f, CANCEL);
  /* A sibling: another dialog of M while D has focus. */
  window(f, 0x104, M, false);
  EXPECT(f, ACTIVATE(0x104), ARM(TF_ACTIVATE_WAIT_MS));
}

static void test_other_new_windows_not_activated(void **state) {
  F *f = ready(state);
  focus(f, M);
  window(f, E, N, false);          /* a dialog of another application */
  window(f, 0x300, 0, false);      /* a new main window */
  window(f, MENU, M, true);        /* a menu of M */
  window(f, 0x301, 0x9999, false); /* transient for a window not known */
  EXPECT_NOTHING(f);
  /* While host focus is away (debouncing, or elsewhere): nothing. */
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  window(f, D, M, false);
  EXPECT_NOTHING(f);
  f->now += TF_DEBOUNCE_MS;
  tandem_focus_timeout(f->m, f->now);
  EXPECT(f, SET(0, seq(f)));
  window(f, D2, M, false);
  EXPECT_NOTHING(f);
}

static void test_transient_cycles(void **state) {
  F *f = ready(state);
  /* A says it is a dialog of B, B of A; S of itself. */
  window(f, 0x400, 0x401, false);
  window(f, 0x401, 0x400, false);
  window(f, 0x402, 0x402, false);
  EXPECT_NOTHING(f);
  focus(f, 0x400);
  window(f, 0x403, 0x401, false); /* in a loop: no family */
  window(f, 0x404, 0x402, false);
  EXPECT_NOTHING(f);
  focus(f, 0x402);
  window(f, 0x405, 0x402, false);
  EXPECT_NOTHING(f);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, 0x405, f->now);
  EXPECT(f, SET(0x402, seq(f)));
}

static void test_dialog_orphaned_by_destroy(void **state) {
  F *f = ready(state);
  tandem_focus_window_created(f->m, 0x300, 0, false, f->now);
  tandem_focus_window_created(f->m, 0x301, 0x300, false, f->now);
  tandem_focus_window_destroyed(f->m, 0x300, f->now);
  window(f, 0x300, 0, false); /* another window with the same id */
  focus(f, 0x300);
  tandem_focus_window_mapped(f->m, 0x301, f->now);
  EXPECT_NOTHING(f);
}

static void test_activation_not_followed(void **state) {
  F *f = ready(state);
  focus(f, M);
  window(f, D, M, false);
  EXPECT(f, ACTIVATE(D), ARM(TF_ACTIVATE_WAIT_MS));
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, D, f->now);
  EXPECT_NOTHING(f);
  f->now += TF_ACTIVATE_WAIT_MS;
  tandem_focus_timeout(f->m, f->now);
  EXPECT(f, SET(M, seq(f))); /* the host refused: guest focus goes back */
  answer(f, TF_GUEST_WINDOW, M);
  EXPECT_NOTHING(f);
  /* Taking focus again later is a steal like any other. */
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, D, f->now);
  EXPECT(f, SET(M, seq(f)));
}

static void test_activation_expires_quietly(void **state) {
  F *f = ready(state);
  focus(f, M);
  window(f, D, M, false);
  EXPECT(f, ACTIVATE(D), ARM(TF_ACTIVATE_WAIT_MS));
  f->now += TF_ACTIVATE_WAIT_MS;
  tandem_focus_timeout(f->m, f->now);
  EXPECT_NOTHING(f); /* the guest stayed on M */
}

static void test_new_dialog_reported_by_guest(void **state) {
  F *f = ready(state);
  tandem_focus_window_created(f->m, D2, M, false, f->now - 5000);
  tandem_focus_window_mapped(f->m, D2, f->now - 5000);
  focus(f, M);
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  window(f, D, M, false); /* appears while host focus is in between */
  tandem_focus_host_in(f->m, M, f->now + 5);
  EXPECT(f, KEYS(M), CANCEL);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, D, f->now + 10);
  EXPECT(f, ACTIVATE(D), ARM(TF_ACTIVATE_WAIT_MS));
  /* An old dialog taking focus is put back instead. */
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, D2, f->now + 10);
  EXPECT(f, SET(M, seq(f)));
}

static void test_attention(void **state) {
  F *f = ready(state);
  window(f, D, M, false);
  focus(f, M);
  tandem_focus_guest_attention(f->m, N, f->now);
  EXPECT(f, ATTENTION(N));
  tandem_focus_guest_attention(f->m, M, f->now); /* has focus already */
  tandem_focus_guest_attention(f->m, 0, f->now);
  tandem_focus_guest_attention(f->m, 0x999, f->now);
  tandem_focus_window_created(f->m, E, 0, false, f->now);
  tandem_focus_guest_attention(f->m, E, f->now); /* not mapped */
  EXPECT_NOTHING(f);
  /* A dialog of the focused app asking: still only attention. */
  tandem_focus_guest_attention(f->m, D, f->now);
  EXPECT(f, ATTENTION(D));
}

/* ---- guest reports ---------------------------------------------------- */

static void test_stale_and_future_reports(void **state) {
  F *f = ready(state);
  tandem_focus_host_in(f->m, M, f->now);
  EXPECT(f, KEYS(M), SET(M, 2));
  tandem_focus_host_in(f->m, N, f->now);
  EXPECT(f, KEYS(N), SET(N, 3));
  tandem_focus_guest_report(f->m, 2, TF_GUEST_WINDOW, M, f->now);
  tandem_focus_guest_report(f->m, 4, TF_GUEST_WINDOW, M, f->now);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, M, f->now);
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_STUB, 0); /* still the connect's answer */
  tandem_focus_guest_report(f->m, 3, TF_GUEST_WINDOW, N, f->now);
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_WINDOW, N);
  /* The same answer twice: the second is news like an unsolicited one. */
  tandem_focus_guest_report(f->m, 3, TF_GUEST_WINDOW, N, f->now);
  EXPECT_NOTHING(f);
  tandem_focus_guest_report(f->m, 3, TF_GUEST_WINDOW, M, f->now);
  EXPECT(f, SET(N, 4));
}

static void test_sequence_wraps(void **state) {
  F *f = ready(state);
  tandem_focus_set_last_seq(f->m, UINT32_MAX - 1);
  tandem_focus_host_in(f->m, M, f->now);
  EXPECT(f, KEYS(M), SET(M, UINT32_MAX));
  tandem_focus_host_in(f->m, N, f->now);
  EXPECT(f, KEYS(N), SET(N, 1)); /* 0 is "unsolicited": skipped */
  tandem_focus_guest_report(f->m, UINT32_MAX, TF_GUEST_WINDOW, M, f->now);
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_STUB, 0);
  tandem_focus_guest_report(f->m, 1, TF_GUEST_WINDOW, N, f->now);
  assert_guest(f, TF_GUEST_WINDOW, N);
  EXPECT_NOTHING(f);
}

static void test_steal_is_put_back(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
  EXPECT(f, SET(M, seq(f)));
  /* Further news before the answer describes the past: ignored. */
  tandem_focus_guest_report(f->m, 0, TF_GUEST_NONE, 0, f->now);
  EXPECT_NOTHING(f);
  answer(f, TF_GUEST_WINDOW, M);
  EXPECT_NOTHING(f);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_NONE, 0, f->now);
  EXPECT(f, SET(M, seq(f)));
  answer(f, TF_GUEST_WINDOW, M);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_STUB, 0, f->now);
  EXPECT(f, SET(M, seq(f)));
  answer(f, TF_GUEST_WINDOW, M);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_OTHER, 0, f->now);
  EXPECT(f, SET(M, seq(f)));
}

static void test_reassert_is_bounded(void **state) {
  F *f = ready(state);
  focus(f, M);
  uint64_t start = f->now;
  for (unsigned i = 0; i < TF_MAX_REASSERT_PER_S; i++) {
    f->now = start + i * 100;
    tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
    EXPECT(f, SET(M, seq(f)));
    answer(f, TF_GUEST_WINDOW, M);
    EXPECT_NOTHING(f);
  }
  f->now = start + 999;
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
  EXPECT(f, ATTENTION(N));
  assert_true(tandem_focus_reassert_suspended(f->m));
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_NONE, 0, f->now);
  EXPECT_NOTHING(f); /* once is enough */
  /* A second after the first one, the budget has room again. */
  f->now = start + 1000;
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
  EXPECT(f, SET(M, seq(f)));
  assert_false(tandem_focus_reassert_suspended(f->m));
  answer(f, TF_GUEST_WINDOW, M);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
  EXPECT(f, ATTENTION(N));
  /* A host focus change always gets through. */
  tandem_focus_host_in(f->m, N, f->now);
  EXPECT(f, KEYS(N), SET(N, seq(f)));
  assert_false(tandem_focus_reassert_suspended(f->m));
}

static void test_steal_while_nothing_focused(void **state) {
  F *f = ready(state);
  uint64_t start = f->now;
  for (unsigned i = 0; i < TF_MAX_REASSERT_PER_S; i++) {
    tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, M, f->now);
    EXPECT(f, SET(0, seq(f)));
    answer(f, TF_GUEST_STUB, 0);
    EXPECT_NOTHING(f);
  }
  tandem_focus_guest_report(f->m, 0, TF_GUEST_NONE, 0, start + 10);
  EXPECT_NOTHING(f); /* suspended; NONE is no window to flag */
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, M, start + 10);
  EXPECT(f, ATTENTION(M));
}

static void test_reports_while_debouncing_ignored(void **state) {
  F *f = ready(state);
  focus(f, M);
  tandem_focus_host_out(f->m, M, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_WINDOW, N); /* noted, though */
}

static void test_answer_refused_holds_stub(void **state) {
  F *f = ready(state);
  /* E takes no input: the guest keeps its focus where it was. */
  window(f, E, 0, false);
  focus(f, N);
  tandem_focus_host_in(f->m, E, f->now);
  EXPECT(f, KEYS(E), SET(E, seq(f)));
  answer(f, TF_GUEST_WINDOW, N);
  EXPECT(f, SET(0, seq(f))); /* not N: the user is not looking at it */
  answer(f, TF_GUEST_STUB, 0);
  EXPECT_NOTHING(f);
  assert_true(tandem_focus_may_deliver_keys(f->m, E));
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, N, f->now);
  EXPECT(f, SET(0, seq(f)));
  answer(f, TF_GUEST_STUB, 0);
  /* The stub is where guest focus is when E's proxy loses focus too. */
  tandem_focus_host_out(f->m, E, f->now);
  EXPECT(f, ARM(TF_DEBOUNCE_MS));
  f->now += TF_DEBOUNCE_MS;
  tandem_focus_timeout(f->m, f->now);
  EXPECT_NOTHING(f);
  /* An answer "none" (no input, nothing focused) likewise. */
  tandem_focus_host_in(f->m, E, f->now);
  EXPECT(f, KEYS(E), SET(E, seq(f)));
  answer(f, TF_GUEST_NONE, 0);
  EXPECT(f, SET(0, seq(f)));
  /* The stub request's own answer is final whatever it says. */
  answer(f, TF_GUEST_OTHER, 0);
  EXPECT_NOTHING(f);
}

static void test_answer_in_same_family_kept(void **state) {
  F *f = ready(state);
  tandem_focus_window_created(f->m, D, M, false, f->now - 5000);
  tandem_focus_window_mapped(f->m, D, f->now - 5000);
  tandem_focus_host_in(f->m, M, f->now);
  EXPECT(f, KEYS(M), SET(M, seq(f)));
  answer(f, TF_GUEST_WINDOW, D); /* a modal dialog keeps focus */
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_WINDOW, D);
  assert_true(tandem_focus_may_deliver_keys(f->m, M));
}

static void test_answer_with_new_dialog_activates(void **state) {
  F *f = ready(state);
  tandem_focus_host_in(f->m, M, f->now);
  EXPECT(f, KEYS(M), SET(M, seq(f)));
  tandem_focus_window_created(f->m, D, M, false, f->now);
  tandem_focus_window_mapped(f->m, D, f->now);
  EXPECT(f, ACTIVATE(D), ARM(TF_ACTIVATE_WAIT_MS));
  answer(f, TF_GUEST_WINDOW, D);
  EXPECT_NOTHING(f);
}

static void test_menu_focus_tolerated(void **state) {
  F *f = ready(state);
  focus(f, M);
  window(f, MENU, M, true);
  window(f, 0x202, N, true);
  EXPECT_NOTHING(f);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, MENU, f->now);
  EXPECT_NOTHING(f);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, 0x202, f->now);
  EXPECT(f, SET(M, seq(f))); /* another app's menu */
}

static void test_garbage_reports(void **state) {
  F *f = ready(state);
  focus(f, M);
  uint32_t s = seq(f);
  static const struct {
    TfGuestKind kind;
    uint32_t window;
  } bad[] = {
      {(TfGuestKind)4, 0},     {(TfGuestKind)255, M}, {(TfGuestKind)-1, 0},
      {TF_GUEST_WINDOW, 0},    {TF_GUEST_STUB, N},    {TF_GUEST_NONE, M},
      {TF_GUEST_OTHER, 0x999},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    for (uint32_t r = 0; r < 3; r++) {
      uint32_t sq = r == 0 ? 0 : r == 1 ? s : s + 1;
      tandem_focus_guest_report(f->m, sq, bad[i].kind, bad[i].window,
                                f->now);
    }
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_WINDOW, M);
  assert_int_equal(seq(f), s);
  /* A window not known counts as "other": M is put back; the unknown id
   * never appears in an action, not even once re-asserting stops. */
  for (unsigned i = 0; i < TF_MAX_REASSERT_PER_S; i++) {
    tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, 0x999, f->now);
    EXPECT(f, SET(M, seq(f)));
    assert_guest(f, TF_GUEST_OTHER, 0);
    answer(f, TF_GUEST_WINDOW, M);
  }
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, 0x999, f->now);
  EXPECT_NOTHING(f);
  /* Nor a window known but not mapped. */
  tandem_focus_window_created(f->m, E, 0, false, f->now);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, E, f->now);
  EXPECT_NOTHING(f);
  assert_guest(f, TF_GUEST_OTHER, 0);
}

/* ---- bounds and odds -------------------------------------------------- */

static void test_window_table_bounded(void **state) {
  F *f = ready(state);
  /* M and N, then a chain of 1022 dialogs, each of the one before. */
  const uint32_t base = 0x1000;
  for (uint32_t id = base + 1; tandem_focus_window_count(f->m) < TF_MAX_WINDOWS;
       id++)
    tandem_focus_window_created(f->m, id, id - 1, false, f->now);
  assert_int_equal(tandem_focus_window_count(f->m), TF_MAX_WINDOWS);
  const uint32_t extra = 0x10000;
  window(f, extra, 0, false);
  EXPECT_NOTHING(f);
  assert_int_equal(tandem_focus_window_count(f->m), TF_MAX_WINDOWS);
  tandem_focus_host_in(f->m, extra, f->now);
  EXPECT_NOTHING(f);
  assert_false(tandem_focus_may_deliver_keys(f->m, extra));
  tandem_focus_guest_attention(f->m, extra, f->now);
  tandem_focus_guest_report(f->m, 0, TF_GUEST_WINDOW, extra, f->now);
  EXPECT(f, SET(0, seq(f))); /* "other": the stub is put back */
  /* A thousand links up, the family is still found. */
  tandem_focus_window_mapped(f->m, base + 1, f->now);
  tandem_focus_host_in(f->m, base + 1, f->now);
  EXPECT(f, KEYS(base + 1), SET(base + 1, seq(f)));
  tandem_focus_window_mapped(f->m, base + 1000, f->now);
  EXPECT(f, ACTIVATE(base + 1000), ARM(TF_ACTIVATE_WAIT_MS));
  /* Room again after a destroy. */
  tandem_focus_window_destroyed(f->m, base + 500, f->now);
  window(f, extra, 0, false);
  assert_int_equal(tandem_focus_window_count(f->m), TF_MAX_WINDOWS);
  tandem_focus_host_in(f->m, extra, f->now);
  EXPECT(f, KEYS(extra), SET(extra, seq(f)), CANCEL);
}

static void test_long_transient_cycle(void **state) {
  F *f = ready(state);
  /* 1000 windows in one loop: each a dialog of the one before, the first
   * of the last. None belongs to a family; the walk ends. */
  const uint32_t base = 0x1000, n = 1000;
  for (uint32_t i = 0; i < n; i++)
    tandem_focus_window_created(f->m, base + i,
                                i ? base + i - 1 : base + n - 1, false,
                                f->now);
  tandem_focus_window_mapped(f->m, base, f->now);
  tandem_focus_host_in(f->m, base, f->now);
  EXPECT(f, KEYS(base), SET(base, seq(f)));
  for (uint32_t i = 1; i < n; i += 97)
    tandem_focus_window_mapped(f->m, base + i, f->now);
  EXPECT_NOTHING(f);
}

static void test_no_callback(void **state) {
  (void)state;
  TandemFocus *m = tandem_focus_new(NULL, NULL);
  tandem_focus_connected(m, 0);
  tandem_focus_window_created(m, M, 0, false, 0);
  tandem_focus_window_mapped(m, M, 0);
  tandem_focus_host_in(m, M, 0);
  tandem_focus_host_out(m, M, 0);
  tandem_focus_timeout(m, 20);
  assert_int_equal(tandem_focus_last_seq(m), 3);
  tandem_focus_free(m);
}

static void test_action_names(void **state) {
  (void)state;
  assert_string_equal(tandem_focus_action_name(TF_ACTION_SET_GUEST_FOCUS),
                      "SET_GUEST_FOCUS");
  assert_string_equal(tandem_focus_action_name(TF_ACTION_SEND_KEY_STATE),
                      "SEND_KEY_STATE");
  assert_string_equal(tandem_focus_action_name(TF_ACTION_ACTIVATE_PROXY),
                      "ACTIVATE_PROXY");
  assert_string_equal(tandem_focus_action_name(TF_ACTION_REQUEST_ATTENTION),
                      "REQUEST_ATTENTION");
  assert_string_equal(tandem_focus_action_name(TF_ACTION_ARM_TIMER),
                      "ARM_TIMER");
  assert_string_equal(tandem_focus_action_name(TF_ACTION_CANCEL_TIMER),
                      "CANCEL_TIMER");
  assert_string_equal(tandem_focus_action_name((TfActionType)99), "?");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_initial_state),
      T(test_connect_sends_stub),
      T(test_nothing_before_connect),
      T(test_disconnect),
      T(test_disconnect_cancels_timer),
      T(test_focus_in_sends_keys_then_focus),
      T(test_focus_in_again_sends_keys_only),
      T(test_focus_out_goes_to_stub_after_debounce),
      T(test_switch_between_proxies_skips_stub),
      T(test_focus_in_before_focus_out),
      T(test_back_within_debounce),
      T(test_focus_out_of_other_window_ignored),
      T(test_focus_in_unknown_window),
      T(test_focus_in_before_map),
      T(test_override_redirect_never_focused),
      T(test_may_deliver_keys),
      T(test_unmap_of_focused_window),
      T(test_unmap_then_other_proxy),
      T(test_destroy_of_focused_window),
      T(test_unmap_of_other_windows),
      T(test_create_again_replaces),
      T(test_dialog_of_focused_window_activated),
      T(test_dialog_family),
      T(test_other_new_windows_not_activated),
      T(test_transient_cycles),
      T(test_dialog_orphaned_by_destroy),
      T(test_activation_not_followed),
      T(test_activation_expires_quietly),
      T(test_new_dialog_reported_by_guest),
      T(test_attention),
      T(test_stale_and_future_reports),
      T(test_sequence_wraps),
      T(test_steal_is_put_back),
      T(test_reassert_is_bounded),
      T(test_steal_while_nothing_focused),
      T(test_reports_while_debouncing_ignored),
      T(test_answer_refused_holds_stub),
      T(test_answer_in_same_family_kept),
      T(test_answer_with_new_dialog_activates),
      T(test_menu_focus_tolerated),
      T(test_garbage_reports),
      T(test_window_table_bounded),
      T(test_long_transient_cycle),
      cmocka_unit_test(test_no_callback),
      cmocka_unit_test(test_action_names),
  };
  return cmocka_run_group_tests_name("focus", tests, NULL, NULL);
}
