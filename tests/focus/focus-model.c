/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The world around the focus state machine (focus-model.h): the guest
 * and its agent, the channel, the randomness, and the dump of it all when
 * a check fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>

#include "focus-model.h"

/* ---- randomness ------------------------------------------------------- */

static uint64_t rng;

void seed_randomness(uint64_t seed) { rng = seed; }

static uint64_t next_u64(void) { /* splitmix64 */
  uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

uint32_t rnd(uint32_t n) { return (uint32_t)(next_u64() % n); }
bool chance(uint32_t per_mille) { return rnd(1000) < per_mille; }

/* ---- the world -------------------------------------------------------- */

Sim S;

static const char *const call_names[] = {
    "-",        "connected", "disconnected", "created", "mapped",
    "unmapped", "destroyed", "host_in",      "host_out", "timeout",
    "report",   "attention", "  action",
};

void trace(Call call, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  S.trace[S.trace_next++ % TRACE] = (TraceEntry){S.now, call, a, b, c, d};
}

void violation(const char *fmt, ...) {
  fprintf(stderr, "# window: proxy/ known mapped override transient_for |"
                  " guest exists mapped no-input transient_for\n");
  for (int i = 0; i < POOL; i++)
    fprintf(stderr, "#   %#x: %d %d %d %#x | %d %d %d %#x\n", WID(i),
            S.h[i].known, S.h[i].mapped, S.h[i].override_redirect,
            S.h[i].transient_for, S.g[i].exists, S.g[i].mapped,
            S.g[i].no_input, S.g[i].transient_for);
  fprintf(stderr, "# the last %u events, oldest first:\n", TRACE);
  unsigned first = S.trace_next > TRACE ? S.trace_next - TRACE : 0;
  for (unsigned i = first; i < S.trace_next; i++) {
    const TraceEntry *t = &S.trace[i % TRACE];
    if (t->call == CALL_ACTION)
      fprintf(stderr, "#   %8" PRIu64 "      -> %s w=%#x seq=%u ms=%u\n",
              t->now, tandem_focus_action_name((TfActionType)t->a), t->b,
              t->c, t->d);
    else
      fprintf(stderr, "#   %8" PRIu64 " %s %#x %#x %#x %#x\n", t->now,
              call_names[t->call], t->a, t->b, t->c, t->d);
  }
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "# seed %#" PRIx64 ", step %u, t=%" PRIu64 " ms: %s\n",
          S.seed, S.step, S.now, msg);
  fail_msg("%s (TANDEM_FOCUS_SEED=%#" PRIx64 ")", msg, S.seed);
}

void schedule(HostEvType type, uint32_t window, uint64_t at) {
  CHECK(S.n_hev < MAX_HOST_EVENTS, "too many host events");
  S.hev[S.n_hev++] = (HostEv){type, window, at};
}

/* ---- the channel ------------------------------------------------------ */

static uint64_t latency(void) {
  uint32_t r = rnd(100);
  return r < 70 ? rnd(3) : r < 95 ? 3 + rnd(13) : 16 + rnd(105);
}

void fifo_push(Fifo *f, MsgType type, uint32_t window, uint32_t a,
               uint32_t b) {
  CHECK(f->len < QCAP, "channel overflow");
  uint64_t at = S.now + latency();
  if (at < f->last_at) /* a byte stream: no overtaking */
    at = f->last_at;
  f->last_at = at;
  f->q[(f->head + f->len++) % QCAP] = (Msg){type, window, a, b, at};
}

Msg fifo_pop(Fifo *f) {
  Msg m = f->q[f->head];
  f->head = (f->head + 1) % QCAP;
  f->len--;
  return m;
}

void fifo_clear(Fifo *f) {
  f->len = 0;
  f->last_at = 0;
}

/* ---- the agent -------------------------------------------------------- */

void agent_send(MsgType type, uint32_t window, uint32_t a, uint32_t b) {
  if (S.connected)
    fifo_push(&S.a2h, type, window, a, b);
}

void agent_report(uint32_t seq) {
  S.rep_kind = S.gkind;
  S.rep_win = S.gwin;
  agent_send(MSG_REPORT, S.gwin, seq, S.gkind);
}

/* The agent notices a focus change the guest made and reports it. Focus
 * that reverts (None, PointerRoot) is put on the stub by today's agent as
 * soon as it notices; the two-step agent left it there. */
void guest_focus(TfGuestKind kind, uint32_t window) {
  S.gkind = kind;
  S.gwin = kind == TF_GUEST_WINDOW ? window : 0;
  if (kind == TF_GUEST_NONE && S.agent == AGENT_ATOMIC &&
      S.n_hev < MAX_HOST_EVENTS)
    schedule(HEV_AGENT_STUB, 0, S.now + rnd(3));
  if (S.gkind != S.rep_kind || S.gwin != S.rep_win)
    agent_report(0);
}

void agent_stub_if_reverted(void) {
  if (S.gkind == TF_GUEST_NONE) {
    S.n.reverts++;
    guest_focus(TF_GUEST_STUB, 0);
  }
}

bool takes_focus(int i) {
  return i >= 0 && S.g[i].exists && S.g[i].mapped &&
         !S.g[i].override_redirect && !S.g[i].no_input;
}

/* Where a key injected now goes, as a slot: the focused window; with focus
 * reverted to PointerRoot, the window under the pointer. -1: nowhere (the
 * stub, no window); -2: a guest window the host does not know. */
static int key_destination(void) {
  switch (S.gkind) {
  case TF_GUEST_WINDOW:
    return widx(S.gwin);
  case TF_GUEST_NONE:
    return S.pointer >= 0 && S.g[S.pointer].exists && S.g[S.pointer].mapped
               ? S.pointer
               : -1;
  case TF_GUEST_OTHER:
    return -2;
  default:
    return -1;
  }
}

static void guest_violation(const char *what, uint32_t window, int dest) {
  if (!S.count_only)
    violation("%s for %#x reached %s %#x", what, window,
              dest == -2 ? "an unknown window" : "window",
              dest >= 0 ? WID(dest) : 0);
}

/* A key event arrives in the guest at @dest (key_destination()). */
static void land(int dest, uint32_t window, KeyKind kind, bool shift) {
  if (kind != KEY_LETTER) /* the X server's modifier state is global */
    S.guest_shift = kind == KEY_SHIFT_DOWN;
  if (kind == KEY_SHIFT_UP)
    return; /* a release goes where the focus is: harmless anywhere */
  if (dest == -1) {
    S.n.keys_nowhere++;
    return;
  }
  if (dest != widx(window)) {
    S.n.misrouted_in_guest++;
    guest_violation(kind == KEY_LETTER ? "a key" : "a modifier", window, dest);
    return;
  }
  if (kind != KEY_LETTER)
    return;
  S.n.keys_in_guest++;
  if (S.guest_shift != shift) {
    S.n.wrong_case++;
    if (!S.count_only)
      violation("a key for %#x typed with Shift %s arrived with it %s",
                window, shift ? "held" : "up",
                S.guest_shift ? "down" : "up");
  }
}

/* Today's agent: keys for slot @i reach it now, giving it focus if it has
 * not (one step with the check). */
static bool hold_focus(int i) {
  if (S.gkind == TF_GUEST_WINDOW && S.gwin == WID(i))
    return true;
  if (!takes_focus(i))
    return false;
  guest_focus(TF_GUEST_WINDOW, WID(i));
  return true;
}

static void key_atomic(const Msg *msg, int i) {
  KeyKind kind = (KeyKind)msg->a;
  if (kind == KEY_SHIFT_UP) { /* comes up: in its window, else nowhere */
    if (S.guest_shift)
      land(hold_focus(i) ? i : -1, msg->window, kind, false);
    return;
  }
  if (!hold_focus(i)) {
    S.n.keys_dropped_by_agent++;
    return;
  }
  /* The event's own modifier state is made the guest's first. */
  if (kind == KEY_LETTER && S.guest_shift != (msg->b != 0)) {
    S.n.shift_synced++;
    S.guest_shift = msg->b != 0;
  }
  land(i, msg->window, kind, msg->b != 0);
}

/* The two-step agent: focus now, the key a little later. */
static void key_two_step(const Msg *msg, int i) {
  if (!(i >= 0 && S.g[i].exists && S.g[i].mapped) || !hold_focus(i)) {
    S.n.keys_dropped_by_agent++;
    return;
  }
  S.inject = (Injection){true, S.now + rnd(3), msg->window, (KeyKind)msg->a,
                         msg->b != 0};
}

void agent_inject(void) {
  S.inject.active = false;
  int dest = key_destination();
  if (dest != widx(S.inject.window))
    S.n.injections_raced++;
  land(dest, S.inject.window, S.inject.kind, S.inject.shift);
}

static void key_state(const Msg *msg, int i) {
  bool held = msg->a != 0;
  if (!held && S.guest_shift)
    land(key_destination(), msg->window, KEY_SHIFT_UP, false);
  if (held && !S.guest_shift && S.agent == AGENT_ATOMIC && hold_focus(i)) {
    S.n.shift_carried++;
    land(i, msg->window, KEY_SHIFT_DOWN, true);
  }
}

void agent_receive(const Msg *msg) {
  int i = widx(msg->window);
  switch (msg->type) {
  case MSG_SET:
    if (msg->window == 0) {
      S.gkind = TF_GUEST_STUB;
      S.gwin = 0;
    } else if (takes_focus(i)) {
      S.gkind = TF_GUEST_WINDOW;
      S.gwin = msg->window;
    } /* else unchanged: not mapped (any more), or takes no input */
    agent_report(msg->a);
    break;
  case MSG_KEY:
    if (S.agent == AGENT_ATOMIC)
      key_atomic(msg, i);
    else
      key_two_step(msg, i);
    break;
  case MSG_KEY_STATE:
    key_state(msg, i);
    break;
  default:
    break;
  }
}

/* The full state, as after every (re)connection. */
void agent_hello(void) {
  for (int i = 0; i < POOL; i++) {
    if (!S.g[i].exists)
      continue;
    agent_send(MSG_CREATE, WID(i), S.g[i].transient_for,
               S.g[i].override_redirect);
    if (S.g[i].mapped)
      agent_send(MSG_MAP, WID(i), 0, 0);
  }
  agent_report(0);
}

/* ---- the guest's own doings ------------------------------------------- */

int random_slot(bool exists, int mapped) {
  int start = (int)rnd(POOL);
  for (int k = 0; k < POOL; k++) {
    int i = (start + k) % POOL;
    if (S.g[i].exists == exists &&
        (mapped < 0 || S.g[i].mapped == (mapped != 0)))
      return i;
  }
  return -1;
}

void guest_create(void) {
  int i = random_slot(false, -1);
  if (i < 0)
    return;
  uint32_t tf = 0;
  uint32_t r = rnd(100);
  if (r < 40) { /* a dialog of some window (maybe gone, maybe later) */
    tf = WID(rnd(POOL));
  } else if (r < 45) {
    tf = r & 1 ? WID(i) : UNKNOWN_ID; /* of itself, of nothing known */
  }
  bool override = chance(150);
  S.g[i] = (GuestWin){true, false, override, !override && chance(100), tf};
  S.n.windows_created++;
  agent_send(MSG_CREATE, WID(i), tf, override);
}

void guest_map(void) {
  int i = random_slot(true, 0);
  if (i < 0)
    return;
  S.g[i].mapped = true;
  agent_send(MSG_MAP, WID(i), 0, 0);
  if (takes_focus(i) && chance(400)) /* apps focus their new windows */
    guest_focus(TF_GUEST_WINDOW, WID(i));
}

void guest_unmap(int i) {
  S.g[i].mapped = false;
  agent_send(MSG_UNMAP, WID(i), 0, 0);
  if (S.gkind == TF_GUEST_WINDOW && S.gwin == WID(i))
    guest_focus(TF_GUEST_NONE, 0); /* X reverts focus */
}

void guest_destroy(void) {
  int i = random_slot(true, -1);
  if (i < 0)
    return;
  if (S.g[i].mapped && chance(500))
    guest_unmap(i); /* else destroyed while mapped: DESTROY alone */
  S.g[i] = (GuestWin){0};
  agent_send(MSG_DESTROY, WID(i), 0, 0);
  if (S.gkind == TF_GUEST_WINDOW && S.gwin == WID(i))
    guest_focus(TF_GUEST_NONE, 0);
}

void guest_pointer(int i) {
  S.n.pointer_moves++;
  S.pointer = i;
}

void guest_steal(void) {
  S.n.steals++;
  uint32_t r = rnd(100);
  if (r < 80) {
    int i = random_slot(true, 1);
    if (takes_focus(i))
      guest_focus(TF_GUEST_WINDOW, WID(i));
  } else {
    guest_focus(r < 90 ? TF_GUEST_NONE : TF_GUEST_OTHER, 0);
  }
}

