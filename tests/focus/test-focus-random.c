/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The focus state machine in a long randomized run against models of the
 * rest of the world:
 *
 *  - the guest and its agent: windows created, mapped, unmapped and
 *    destroyed (dialogs, menus, windows that take no input, transient
 *    loops), applications that take focus by themselves, requests for
 *    attention; the agent applies FOCUS_SET and answers with what the
 *    guest really has, reports changes the guest made, and moves focus to
 *    a window before typing into it;
 *  - the channel: two FIFOs with random latency, lost on a disconnection,
 *    after which the agent sends its full state again;
 *  - the host: the user clicks proxies and native windows (focus-out then
 *    focus-in, or the other way round, a few ms apart), the window manager
 *    moves focus when a focused proxy disappears and follows activation
 *    requests (or not);
 *  - a hostile guest: malformed, stale and forged reports, and lies.
 *
 * At every step the user types into the focused host window and the proxy
 * side asks may_deliver_keys() for every window: a key delivered to a
 * guest window whose proxy is not the focused host window is misrouted.
 * Every few thousand steps the world settles (no input, every message and
 * timer delivered) and guest focus must then be the focused proxy's window,
 * or the stub when no proxy is focused. Along the way: the stub is never
 * requested during a direct switch from proxy to proxy, actions name only
 * windows that have a proxy, sequence numbers increase, nothing happens
 * while disconnected, re-assertions stay within their bound.
 *
 * The guest, its agent and the channel are modelled in focus-model.c; here
 * are the host, the hostile agent, the checks and the run.
 *
 * TANDEM_FOCUS_SEED and TANDEM_FOCUS_STEPS override the fixed defaults;
 * the seed is printed so a failure can be replayed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "focus-model.h"
#include "tandem-focus.h"

#define DEFAULT_SEED UINT64_C(0x7a4d3e5f0c1b2a39)
#define DEFAULT_STEPS 200000u
#define SETTLE_EVERY 2000u

/* ---- host-side views -------------------------------------------------- */

static bool has_proxy(uint32_t id) {
  int i = widx(id);
  return i >= 0 && S.h[i].known && S.h[i].mapped && !S.h[i].override_redirect;
}

/* The root of @id's transient chain in proxy/'s view, 0 for loops. */
static uint32_t host_root(uint32_t id) {
  for (int steps = 0; steps <= POOL; steps++) {
    int i = widx(id);
    int p = i >= 0 ? widx(S.h[i].transient_for) : -1;
    if (p < 0 || !S.h[p].known)
      return id;
    id = S.h[i].transient_for;
  }
  return 0;
}

static bool host_family(uint32_t a, uint32_t b) {
  uint32_t r = host_root(a);
  return r != 0 && r == host_root(b);
}

/* ---- calling the machine ---------------------------------------------- */

static void begin(Call call, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  S.call = call;
  S.call_actions = 0;
  S.call_key_state = 0;
  trace(call, a, b, c, d);
}

static void end(void) {
  bool suspended = tandem_focus_reassert_suspended(S.m);
  if (suspended && !S.suspended)
    S.n.suspensions++;
  S.suspended = suspended;
  S.call = CALL_NONE;
}

static void count_reassert(void) {
  S.n.reasserts++;
  if (S.n_reasserts == TF_MAX_REASSERT_PER_S)
    CHECK(S.now - S.reasserts[S.reassert_next] >= 1000,
          "more than %u re-assertions in a second", TF_MAX_REASSERT_PER_S);
  S.reasserts[S.reassert_next] = S.now;
  S.reassert_next = (S.reassert_next + 1) % TF_MAX_REASSERT_PER_S;
  if (S.n_reasserts < TF_MAX_REASSERT_PER_S)
    S.n_reasserts++;
}

static void on_action(const TfAction *a, void *data) {
  (void)data;
  trace(CALL_ACTION, a->type, a->window, a->seq, a->ms);
  S.call_actions++;
  CHECK(S.call != CALL_NONE, "an action outside any call");
  CHECK(S.connected || (S.call == CALL_DISCONNECTED &&
                        a->type == TF_ACTION_CANCEL_TIMER),
        "%s while disconnected", tandem_focus_action_name(a->type));
  switch (a->type) {
  case TF_ACTION_SET_GUEST_FOCUS:
    CHECK(a->seq == (S.last_seq + 1 ? S.last_seq + 1 : 1),
          "seq %u after %u", a->seq, S.last_seq);
    S.last_seq = a->seq;
    CHECK(a->window == 0 || has_proxy(a->window),
          "guest focus for %#x, which has no proxy", a->window);
    if (a->window == 0) {
      S.n.stub_requests++;
      /* Never the debounce; a report may (the new window refused focus,
       * so the stub holds it). */
      if (S.switching && S.call != CALL_REPORT) {
        S.n.stub_in_switch++;
        violation("the stub requested during a direct switch");
      }
    }
    if ((S.call == CALL_REPORT && S.call_seq == 0) ||
        (S.call == CALL_TIMEOUT && a->window != 0))
      count_reassert();
    S.n.requests++;
    fifo_push(&S.h2a, MSG_SET, a->window, a->seq, 0);
    break;
  case TF_ACTION_SEND_KEY_STATE:
    CHECK(a->window != 0 && a->window == S.truth,
          "key state for %#x, host focus is on %#x", a->window, S.truth);
    S.n.key_states++;
    S.call_key_state = a->window;
    fifo_push(&S.h2a, MSG_KEY_STATE, a->window, S.host_shift, 0);
    break;
  case TF_ACTION_ACTIVATE_PROXY:
    CHECK(has_proxy(a->window), "activating %#x, no proxy", a->window);
    CHECK(S.truth != 0 && a->window != S.truth &&
              host_family(a->window, S.truth),
          "activating %#x, not a dialog of the focused %#x", a->window,
          S.truth);
    S.n.activations++;
    if (chance(750)) {
      S.n.follows++;
      schedule(HEV_CLICK, a->window, S.now + rnd(30));
    }
    break;
  case TF_ACTION_REQUEST_ATTENTION:
    CHECK(has_proxy(a->window) && a->window != S.truth,
          "attention for %#x", a->window);
    S.n.attentions++;
    break;
  case TF_ACTION_ARM_TIMER:
    CHECK(a->ms <= TF_ACTIVATE_WAIT_MS, "a timer of %u ms", a->ms);
    S.timer_armed = true;
    S.timer_at = S.now + a->ms;
    break;
  case TF_ACTION_CANCEL_TIMER:
    CHECK(S.timer_armed, "cancelling a timer that is not armed");
    S.timer_armed = false;
    break;
  }
}

/* ---- the host (proxy/ and the window manager) ------------------------- */

static void host_in(uint32_t w) {
  if (w != S.last_proxy)
    S.n.switches++;
  S.truth = S.last_proxy = w;
  begin(CALL_HOST_IN, w, 0, 0, 0);
  tandem_focus_host_in(S.m, w, S.now);
  CHECK(!S.connected || S.call_key_state == w,
        "no key state on the focus-in of %#x", w);
  end();
}

static void host_out(uint32_t w) {
  if (S.truth == w)
    S.truth = 0;
  begin(CALL_HOST_OUT, w, 0, 0, 0);
  tandem_focus_host_out(S.m, w, S.now);
  end();
}

/* The user clicks the proxy of @w (or the WM activates it: then the guest
 * pointer stays where it was). */
static void click(uint32_t w) {
  uint32_t from = S.truth;
  if (chance(500))
    guest_pointer(widx(w));
  if (from == 0) {
    host_in(w);
    return;
  }
  uint64_t delay = rnd(40);
  S.switch_pending = true;
  if (w == from || chance(700)) { /* focus-out first, focus-in a little later */
    S.switching = delay < TF_DEBOUNCE_MS;
    if (S.switching && w != from)
      S.n.direct_switches++;
    host_out(from);
    schedule(HEV_IN, w, S.now + delay);
  } else { /* some toolkits and WMs: focus-in first */
    host_in(w);
    S.switching = true;
    S.n.direct_switches++;
    schedule(HEV_OUT, from, S.now + delay);
  }
}

/* A proxy went away while it had host focus: the WM moves focus on. */
static void proxy_gone(uint32_t w) {
  S.truth = 0;
  S.switching = false; /* no switch to finish: the stub may be next */
  if (chance(500)) {
    host_out(w); /* a late focus-out: must change nothing */
    CHECK(S.call_actions == 0, "late focus-out of a gone proxy acted");
  }
  if (chance(300)) {
    int j = (int)rnd(POOL);
    if (has_proxy(WID(j)))
      schedule(HEV_CLICK, WID(j), S.now + rnd(30));
  }
}

static void host_receive(const Msg *msg) {
  int i = widx(msg->window);
  switch (msg->type) {
  case MSG_CREATE:
    if (i >= 0)
      S.h[i] = (HostWin){true, false, msg->b != 0, msg->a};
    begin(CALL_CREATED, msg->window, msg->a, msg->b, 0);
    tandem_focus_window_created(S.m, msg->window, msg->a, msg->b != 0,
                                S.now);
    end();
    break;
  case MSG_MAP:
    if (i >= 0)
      S.h[i].mapped = true;
    begin(CALL_MAPPED, msg->window, 0, 0, 0);
    tandem_focus_window_mapped(S.m, msg->window, S.now);
    end();
    break;
  case MSG_UNMAP:
  case MSG_DESTROY:
    begin(msg->type == MSG_UNMAP ? CALL_UNMAPPED : CALL_DESTROYED,
          msg->window, 0, 0, 0);
    if (msg->type == MSG_UNMAP)
      tandem_focus_window_unmapped(S.m, msg->window, S.now);
    else
      tandem_focus_window_destroyed(S.m, msg->window, S.now);
    end();
    if (i >= 0) {
      S.h[i].mapped = false;
      if (msg->type == MSG_DESTROY)
        S.h[i].known = false;
    }
    /* A new window with the same id later is not its dialogs' parent. */
    for (int j = 0; j < POOL && msg->type == MSG_DESTROY; j++)
      if (S.h[j].transient_for == msg->window)
        S.h[j].transient_for = 0;
    if (msg->window == S.truth)
      proxy_gone(msg->window);
    break;
  case MSG_REPORT:
    begin(CALL_REPORT, msg->a, msg->b, msg->window, 0);
    S.call_seq = msg->a;
    tandem_focus_guest_report(S.m, msg->a, (TfGuestKind)msg->b, msg->window,
                              S.now);
    end();
    break;
  case MSG_ATTENTION:
    begin(CALL_ATTENTION, msg->window, 0, 0, 0);
    tandem_focus_guest_attention(S.m, msg->window, S.now);
    end();
    break;
  default:
    break;
  }
}

static void connect(void) {
  S.connected = true;
  begin(CALL_CONNECTED, 0, 0, 0, 0);
  tandem_focus_connected(S.m, S.now);
  end();
  agent_hello();
}

static void disconnect(void) {
  S.n.disconnects++;
  S.connected = false;
  begin(CALL_DISCONNECTED, 0, 0, 0, 0);
  tandem_focus_disconnected(S.m, S.now);
  end();
  CHECK(!S.timer_armed, "a timer left armed over a disconnection");
  fifo_clear(&S.a2h);
  fifo_clear(&S.h2a);
  S.switching = false;
  /* proxy/ drops its windows; the WM moves focus to a native window. */
  uint32_t had = S.truth;
  memset(S.h, 0, sizeof S.h);
  S.truth = 0;
  if (had)
    host_out(had);
  schedule(HEV_RECONNECT, 0, S.now + 5 + rnd(200));
}

static void host_event(HostEv ev) {
  switch (ev.type) {
  case HEV_IN:
    S.switch_pending = S.switching = false;
    if (has_proxy(ev.window))
      host_in(ev.window);
    break;
  case HEV_OUT:
    S.switch_pending = S.switching = false;
    host_out(ev.window);
    break;
  case HEV_CLICK:
    if (has_proxy(ev.window) && ev.window != S.truth && !S.switch_pending) {
      S.n.wm_moves++;
      click(ev.window);
    }
    break;
  case HEV_RECONNECT:
    connect();
    break;
  case HEV_STEAL:
    S.n.steals++;
    if (takes_focus(widx(ev.window)))
      guest_focus(TF_GUEST_WINDOW, ev.window);
    break;
  case HEV_AGENT_STUB:
    agent_stub_if_reverted();
    break;
  }
}

/* ---- time ------------------------------------------------------------- */

/* Delivers the earliest thing due at or before @until; false if none. */
static bool deliver_one(uint64_t until) {
  uint64_t best = UINT64_MAX;
  int which = -1;
  size_t hev = 0;
  for (size_t k = 0; k < S.n_hev; k++)
    if (S.hev[k].at < best) {
      best = S.hev[k].at;
      which = 0;
      hev = k;
    }
  if (S.a2h.len && S.a2h.q[S.a2h.head].at < best) {
    best = S.a2h.q[S.a2h.head].at;
    which = 1;
  }
  /* The agent handles one message at a time: not while it injects. */
  if (S.h2a.len && S.h2a.q[S.h2a.head].at < best && !S.inject.active) {
    best = S.h2a.q[S.h2a.head].at;
    which = 2;
  }
  if (S.inject.active && S.inject.at < best) {
    best = S.inject.at;
    which = 4;
  }
  if (S.timer_armed && S.timer_at < best) {
    best = S.timer_at;
    which = 3;
  }
  if (which < 0 || best > until)
    return false;
  if (best > S.now)
    S.now = best;
  if (which == 0) {
    HostEv ev = S.hev[hev];
    S.hev[hev] = S.hev[--S.n_hev];
    host_event(ev);
  } else if (which == 1) {
    Msg m = fifo_pop(&S.a2h);
    host_receive(&m);
  } else if (which == 2) {
    Msg m = fifo_pop(&S.h2a);
    agent_receive(&m);
  } else if (which == 4) {
    agent_inject();
  } else {
    S.timer_armed = false;
    begin(CALL_TIMEOUT, 0, 0, 0, 0);
    tandem_focus_timeout(S.m, S.now);
    end();
  }
  return true;
}
/* ---- a hostile agent -------------------------------------------------- */

/* A hostile agent: reports that must be ignored whole. */
static void garbage_report(void) {
  S.n.garbage++;
  uint32_t seq, kind, window;
  switch (rnd(4)) {
  case 0: /* malformed: kind out of range */
    seq = rnd(3) ? 0 : S.last_seq;
    kind = 4 + rnd(300);
    window = rnd(2) ? WID(rnd(POOL)) : 0;
    break;
  case 1: /* malformed: the window rule broken */
    seq = rnd(2) ? 0 : S.last_seq;
    kind = rnd(4);
    window = kind == TF_GUEST_WINDOW ? 0 : WID(rnd(POOL));
    break;
  case 2: /* stale */
    seq = S.last_seq - 1 - rnd(5);
    kind = rnd(4);
    window = kind == TF_GUEST_WINDOW ? WID(rnd(POOL)) : 0;
    break;
  default: /* forged: a request not made yet */
    seq = S.last_seq + 1 + rnd(1000);
    kind = rnd(4);
    window = kind == TF_GUEST_WINDOW ? WID(rnd(POOL)) : 0;
    break;
  }
  if (seq == 0 && kind <= TF_GUEST_OTHER &&
      (kind == TF_GUEST_WINDOW) == (window != 0))
    return; /* came out well-formed and unsolicited: not garbage */
  begin(CALL_REPORT, seq, kind, window, 1);
  S.call_seq = seq;
  tandem_focus_guest_report(S.m, seq, (TfGuestKind)kind, window, S.now);
  CHECK(S.call_actions == 0, "a garbage report acted");
  end();
}

/* A hostile agent: an unsolicited report that is not true, maybe of a
 * window that does not exist. The truth follows on the channel: a lie
 * may cost re-assertions, but must not leave guest focus wrong once an
 * honest report arrives. */
static void lie(void) {
  S.n.lies++;
  uint32_t kind = rnd(4);
  uint32_t window = kind != TF_GUEST_WINDOW ? 0
                    : rnd(4)                ? WID(rnd(POOL))
                                            : UNKNOWN_ID;
  begin(CALL_REPORT, 0, kind, window, 2);
  S.call_seq = 0;
  tandem_focus_guest_report(S.m, 0, (TfGuestKind)kind, window, S.now);
  end();
  agent_report(0);
}

/* ---- the checks ------------------------------------------------------- */

static void type_keys(void) {
  if (S.truth) {
    S.n.keys_typed++;
    if (tandem_focus_may_deliver_keys(S.m, S.truth)) {
      S.n.keys_delivered++;
      fifo_push(&S.h2a, MSG_KEY, S.truth, KEY_LETTER, S.host_shift);
    } else {
      S.n.keys_refused++;
    }
  }
  /* Key events still queued for other proxies, or made up. */
  for (int i = 0; i <= POOL; i++) {
    uint32_t w = i < POOL ? WID(i) : UNKNOWN_ID;
    if (w != S.truth && tandem_focus_may_deliver_keys(S.m, w)) {
      S.n.misrouted++;
      violation("keys may go to %#x, host focus is on %#x", w, S.truth);
    }
  }
  CHECK(tandem_focus_host_window(S.m) == S.truth,
        "the machine thinks %#x has host focus, it is %#x",
        tandem_focus_host_window(S.m), S.truth);
}

static bool guest_is(TfGuestKind kind, uint32_t window) {
  return S.gkind == kind && S.gwin == window;
}

/* Everything delivered, nothing new: guest focus must follow host focus. */
static void settle(void) {
  S.n.settles++;
  unsigned rounds = 0;
  while (deliver_one(UINT64_MAX))
    CHECK(++rounds < 100000, "the world does not settle");
  CHECK(S.connected, "still disconnected after settling");
  CHECK(tandem_focus_host_window(S.m) == S.truth, "host window %#x vs %#x",
        tandem_focus_host_window(S.m), S.truth);
  if (tandem_focus_reassert_suspended(S.m)) {
    S.n.settles_suspended++;
    return;
  }
  TfGuestKind bkind;
  uint32_t bwin = tandem_focus_guest_window(S.m, &bkind);
  CHECK(bkind == S.gkind && bwin == S.gwin,
        "the machine believes guest focus is %d/%#x, it is %d/%#x", bkind,
        bwin, S.gkind, S.gwin);
  int i = widx(S.truth);
  if (S.truth == 0) {
    CHECK(guest_is(TF_GUEST_STUB, 0), "no proxy focused, guest on %d/%#x",
          S.gkind, S.gwin);
  } else if (S.g[i].no_input) {
    /* It cannot take focus: the stub holds it, or its own dialog. */
    CHECK(guest_is(TF_GUEST_STUB, 0) ||
              (S.gkind == TF_GUEST_WINDOW && host_family(S.gwin, S.truth)),
          "%#x (no input) focused, guest on %d/%#x", S.truth, S.gkind,
          S.gwin);
  } else {
    CHECK(guest_is(TF_GUEST_WINDOW, S.truth), "%#x focused, guest on %d/%#x",
          S.truth, S.gkind, S.gwin);
  }
}

/* ---- the run ---------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t fallback) {
  const char *s = getenv(name);
  if (!s || !*s)
    return fallback;
  char *end;
  uint64_t v = strtoull(s, &end, 0);
  return *end ? fallback : v;
}

static void random_step(void) {
  /* Time passes: mostly a little, sometimes a lot. */
  uint32_t r = rnd(100);
  uint64_t dt = r < 60 ? rnd(4) : r < 90 ? 4 + rnd(27) : 31 + rnd(270);
  uint64_t until = S.now + dt;
  while (deliver_one(until))
    ;
  S.now = until;

  /* The user. */
  if (!S.switch_pending) {
    if (chance(80)) {
      int i = random_slot(true, 1);
      if (i >= 0 && has_proxy(WID(i)) && (WID(i) != S.truth || chance(100)))
        click(WID(i));
    } else if (chance(20) && S.truth) {
      host_out(S.truth); /* a native window */
    }
  }
  /* Shift, pressed or released wherever host focus is (a native window:
   * the guest hears nothing of it). */
  if (chance(30)) {
    S.host_shift = !S.host_shift;
    if (S.host_shift)
      S.n.shift_typed++;
    if (S.truth && tandem_focus_may_deliver_keys(S.m, S.truth))
      fifo_push(&S.h2a, MSG_KEY, S.truth,
                S.host_shift ? KEY_SHIFT_DOWN : KEY_SHIFT_UP, S.host_shift);
  }
  if (chance(40)) /* the mouse crosses another window */
    guest_pointer(random_slot(true, 1));

  /* The guest. */
  r = rnd(1000);
  if (r < 30)
    guest_create();
  else if (r < 70)
    guest_map();
  else if (r < 100) {
    int i = random_slot(true, 1);
    if (i >= 0)
      guest_unmap(i);
  } else if (r < 120)
    guest_destroy();
  else if (r < 125)
    guest_steal();
  else if (r < 130) {
    int i = random_slot(true, -1);
    if (i >= 0)
      agent_send(MSG_ATTENTION, WID(i), 0, 0);
  } else if (r < 135 && S.connected)
    garbage_report();
  else if (r < 138 && S.connected)
    lie();
  else if (r < 139 && S.connected && chance(300))
    disconnect();
  else if (r < 140 && S.n_hev + 10 < MAX_HOST_EVENTS) {
    /* An app that takes focus back again and again. */
    int i = random_slot(true, 1);
    if (takes_focus(i)) {
      S.n.fights++;
      uint64_t at = S.now;
      for (uint32_t k = 3 + rnd(8); k > 0; k--)
        schedule(HEV_STEAL, WID(i), at += 1 + rnd(80));
    }
  }

  type_keys();
}

/* Runs @steps random steps against @agent; prints what happened. */
static void run(AgentKind agent, bool count_only, uint64_t steps) {
  memset(&S, 0, sizeof S);
  S.agent = agent;
  S.count_only = count_only;
  S.pointer = -1;
  S.seed = env_u64("TANDEM_FOCUS_SEED", DEFAULT_SEED);
  seed_randomness(S.seed);
  printf("# %s agent: seed %#" PRIx64 " (TANDEM_FOCUS_SEED), %" PRIu64
         " steps (TANDEM_FOCUS_STEPS)\n",
         agent == AGENT_ATOMIC ? "today's" : "the two-step", S.seed, steps);
  fflush(stdout);
  S.m = tandem_focus_new(on_action, NULL);
  assert_non_null(S.m);
  S.now = 1;
  S.gkind = S.rep_kind = TF_GUEST_STUB;
  connect();

  for (S.step = 1; S.step <= steps; S.step++) {
    random_step();
    if (S.step % SETTLE_EVERY == 0)
      settle();
  }
  settle();

  printf("# %u steps, %" PRIu64 " ms simulated, %lu settles "
         "(%lu with re-assertion suspended)\n",
         S.step - 1, S.now, S.n.settles, S.n.settles_suspended);
  printf("# focus switches %lu (direct proxy to proxy %lu, stub requested "
         "in one %lu), WM moves %lu\n",
         S.n.switches, S.n.direct_switches, S.n.stub_in_switch, S.n.wm_moves);
  printf("# dialog activations %lu (WM followed %lu), attention %lu\n",
         S.n.activations, S.n.follows, S.n.attentions);
  printf("# guest focus requests %lu (stub %lu, re-assertions %lu, "
         "re-assertion suspended %lu times), key states %lu\n",
         S.n.requests, S.n.stub_requests, S.n.reasserts, S.n.suspensions,
         S.n.key_states);
  printf("# windows created %lu, steals %lu (fights %lu), garbage reports "
         "%lu, lies %lu, disconnections %lu\n",
         S.n.windows_created, S.n.steals, S.n.fights, S.n.garbage, S.n.lies,
         S.n.disconnects);
  printf("# guest pointer moves %lu, focus reverted to the stub %lu, Shift "
         "pressed %lu (carried into a proxy by its key state %lu, made "
         "right by a key's own state %lu)\n",
         S.n.pointer_moves, S.n.reverts, S.n.shift_typed, S.n.shift_carried,
         S.n.shift_synced);
  printf("# keys typed %lu: delivered %lu (typed in their window %lu, "
         "dropped by the agent %lu, went nowhere %lu), refused %lu\n",
         S.n.keys_typed, S.n.keys_delivered, S.n.keys_in_guest,
         S.n.keys_dropped_by_agent, S.n.keys_nowhere, S.n.keys_refused);
  printf("# misrouted on the host %lu, in the guest %lu (injections that "
         "found focus moved %lu), with the wrong Shift %lu\n",
         S.n.misrouted, S.n.misrouted_in_guest, S.n.injections_raced,
         S.n.wrong_case);
  fflush(stdout);
  assert_int_equal(S.n.misrouted, 0);
  assert_int_equal(S.n.stub_in_switch, 0);
  /* The run covered what it is meant to. */
  assert_true(S.n.direct_switches > 100);
  assert_true(S.n.activations > 10);
  assert_true(S.n.follows > 10);
  assert_true(S.n.suspensions > 0 || steps < DEFAULT_STEPS);
  assert_true(S.n.disconnects > 0 || steps < DEFAULT_STEPS);
  tandem_focus_free(S.m);
}

static void test_random_run(void **state) {
  (void)state;
  uint64_t steps = env_u64("TANDEM_FOCUS_STEPS", DEFAULT_STEPS);
  run(AGENT_ATOMIC, false, steps);
  assert_int_equal(S.n.misrouted_in_guest, 0);
  assert_int_equal(S.n.wrong_case, 0);
  /* The guest-side hazards happened. */
  assert_true(S.n.reverts > 10 || steps < DEFAULT_STEPS);
  assert_true(S.n.shift_carried > 10 || steps < DEFAULT_STEPS);
  assert_true(S.n.keys_dropped_by_agent > 10 || steps < DEFAULT_STEPS);
}

/* The same world against the agent before focus and injection became one
 * step: the checks must see what it did wrong (keys in windows the user
 * was not typing into, Shift held across a switch lost). */
static void test_two_step_agent_is_caught(void **state) {
  (void)state;
  run(AGENT_TWO_STEP, true, DEFAULT_STEPS);
  assert_true(S.n.injections_raced > 0);
  assert_true(S.n.misrouted_in_guest > 0);
  assert_true(S.n.wrong_case > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_run),
      cmocka_unit_test(test_two_step_agent_is_caught),
  };
  return cmocka_run_group_tests_name("focus-random", tests, NULL, NULL);
}
