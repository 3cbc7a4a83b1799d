/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The world around the focus state machine, for test-focus-random.c: its
 * state (Sim), the randomness, the channel between host and agent (two
 * FIFOs with random latency, a byte stream's order), and the models of
 * the guest and its agent. The host side, which calls the machine, and the
 * checks are in the test.
 *
 * The agent comes in two kinds. AGENT_ATOMIC is today's: it checks that
 * the window a key is for holds the guest's focus (giving it focus if it
 * can) and injects in one step, after making the guest's modifiers those
 * the key was typed with; a focus that reverts goes to the stub; KEY_STATE
 * presses the modifiers the host holds, in its window. The
 * other, AGENT_TWO_STEP, is the agent before that: focus first, the key a
 * moment later (anything may happen in between: a window closes and focus
 * reverts to PointerRoot, so the key goes to the window under the guest
 * pointer; an application takes focus), and KEY_STATE only releases. The
 * checks must catch the second.
 *
 * One world per process, in S; the test resets it (memset) and seeds the
 * randomness before a run. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem-focus.h"

#define POOL 12   /* guest window slots, ids WID(0)..WID(POOL-1) */
#define QCAP 8192 /* messages in flight per direction */
#define MAX_HOST_EVENTS 48
#define TRACE 96

#define WID(i) (0x4000u + (uint32_t)(i))
#define UNKNOWN_ID 0x7777u

static inline int widx(uint32_t id) {
  return id >= WID(0) && id < WID(POOL) ? (int)(id - WID(0)) : -1;
}

/* ---- the world -------------------------------------------------------- */

typedef enum {
  /* agent -> host */
  MSG_CREATE,
  MSG_MAP,
  MSG_UNMAP,
  MSG_DESTROY,
  MSG_REPORT,
  MSG_ATTENTION,
  /* host -> agent */
  MSG_SET,
  MSG_KEY_STATE, /* a: the host holds Shift */
  MSG_KEY,       /* a: KeyKind, b: Shift held when it was typed */
} MsgType;

typedef enum {
  KEY_LETTER,
  KEY_SHIFT_DOWN,
  KEY_SHIFT_UP,
} KeyKind;

typedef enum {
  AGENT_ATOMIC,
  AGENT_TWO_STEP,
} AgentKind;

typedef struct {
  MsgType type;
  uint32_t window, a, b; /* CREATE: transient_for, override; REPORT and
                            SET: seq, kind */
  uint64_t at;
} Msg;

typedef struct {
  Msg q[QCAP];
  size_t head, len;
  uint64_t last_at;
} Fifo;

typedef struct {
  bool exists, mapped, override_redirect, no_input;
  uint32_t transient_for;
} GuestWin;

typedef struct {
  bool known, mapped, override_redirect;
  uint32_t transient_for;
} HostWin;

/* Scheduled events: the host's, and a guest app fighting for focus. */
typedef enum {
  HEV_IN,
  HEV_OUT,
  HEV_CLICK,
  HEV_RECONNECT,
  HEV_STEAL,
  HEV_AGENT_STUB, /* the agent notices focus reverted, puts it on the stub */
} HostEvType;

typedef struct {
  HostEvType type;
  uint32_t window;
  uint64_t at;
} HostEv;

typedef enum {
  CALL_NONE,
  CALL_CONNECTED,
  CALL_DISCONNECTED,
  CALL_CREATED,
  CALL_MAPPED,
  CALL_UNMAPPED,
  CALL_DESTROYED,
  CALL_HOST_IN,
  CALL_HOST_OUT,
  CALL_TIMEOUT,
  CALL_REPORT,
  CALL_ATTENTION,
  CALL_ACTION, /* trace only */
} Call;

typedef struct {
  uint64_t now;
  Call call;
  uint32_t a, b, c, d;
} TraceEntry;

/* A key the two-step agent has focused for and injects at @at. */
typedef struct {
  bool active;
  uint64_t at;
  uint32_t window;
  KeyKind kind;
  bool shift;
} Injection;

typedef struct {
  TandemFocus *m;
  uint64_t seed, now;
  unsigned step;
  bool connected;
  AgentKind agent;
  bool count_only; /* guest-side misroutes are counted, not failures */

  /* The guest, as it really is. */
  GuestWin g[POOL];
  TfGuestKind gkind;
  uint32_t gwin;
  TfGuestKind rep_kind; /* what the agent last reported */
  uint32_t rep_win;
  int pointer;          /* slot under the guest pointer, -1: none */
  bool guest_shift;     /* Shift down in the guest's X server */
  Injection inject;

  /* The host: the proxies proxy/ has (from the messages it received) and
   * which host window has focus (0: a native window or none). */
  HostWin h[POOL];
  uint32_t truth;
  uint32_t last_proxy; /* the proxy that had host focus last */
  bool host_shift;     /* the user holds Shift */
  bool suspended;      /* re-assertion, as last seen */

  Fifo a2h, h2a;
  HostEv hev[MAX_HOST_EVENTS];
  size_t n_hev;
  bool switch_pending; /* the user waits for the last click to land */
  bool switching;      /* a direct switch between two proxies */

  bool timer_armed;
  uint64_t timer_at;

  /* The call in progress, for the action checks. */
  Call call;
  uint32_t call_seq; /* REPORT: its seq */
  unsigned call_actions;
  uint32_t call_key_state; /* SEND_KEY_STATE's window */
  uint32_t last_seq;
  uint64_t reasserts[TF_MAX_REASSERT_PER_S];
  unsigned n_reasserts, reassert_next;

  TraceEntry trace[TRACE];
  unsigned trace_next;

  struct {
    unsigned long suspensions, fights, wm_moves, switches, direct_switches,
        requests, stub_requests, reasserts, activations, follows, attentions,
        keys_typed, keys_delivered, keys_refused, keys_in_guest,
        keys_dropped_by_agent, keys_nowhere, misrouted, misrouted_in_guest,
        wrong_case, shift_typed, shift_carried, shift_synced, reverts, pointer_moves,
        injections_raced, stub_in_switch, settles,
        settles_suspended, garbage, lies, steals, disconnects, windows_created,
        key_states;
  } n;
} Sim;

extern Sim S;

/* ---- randomness ------------------------------------------------------- */

/* The same @seed gives the same run. */
void seed_randomness(uint64_t seed);
uint32_t rnd(uint32_t n);
/* True with probability @per_mille / 1000. */
bool chance(uint32_t per_mille);

/* ---- tracing and violations ------------------------------------------- */

void trace(Call call, uint32_t a, uint32_t b, uint32_t c, uint32_t d);
/* Prints the world and the trace, then fails the test. */
__attribute__((format(printf, 1, 2))) void violation(const char *fmt, ...);

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond))                                                             \
      violation(__VA_ARGS__);                                                \
  } while (0)

/* Schedules a host event (or a guest app's, or the agent's) at @at. */
void schedule(HostEvType type, uint32_t window, uint64_t at);

/* ---- the channel ------------------------------------------------------ */

/* Queues a message, delivered after a random latency but never before
 * the one queued before it. */
void fifo_push(Fifo *f, MsgType type, uint32_t window, uint32_t a,
               uint32_t b);
Msg fifo_pop(Fifo *f);
/* A disconnection: what was in flight is lost. */
void fifo_clear(Fifo *f);

/* ---- the agent -------------------------------------------------------- */

/* To the host, if connected. */
void agent_send(MsgType type, uint32_t window, uint32_t a, uint32_t b);
/* Reports guest focus (@seq: the request it answers, 0 for none). */
void agent_report(uint32_t seq);
/* The agent notices a focus change the guest made and reports it. */
void guest_focus(TfGuestKind kind, uint32_t window);
/* Whether guest window slot @i (-1: none) can take focus. */
bool takes_focus(int i);
/* A message from the host: FOCUS_SET, key state, a key to type. */
void agent_receive(const Msg *msg);
/* The two-step agent's injection of S.inject, now. */
void agent_inject(void);
/* The agent puts focus on the stub if it is still nowhere. */
void agent_stub_if_reverted(void);
/* The full state, as after every (re)connection. */
void agent_hello(void);

/* ---- the guest's own doings ------------------------------------------- */

/* A random slot with that existence and mapping (@mapped -1: either), or
 * -1. */
int random_slot(bool exists, int mapped);
void guest_create(void);
void guest_map(void);
void guest_unmap(int i);
void guest_destroy(void);
void guest_steal(void);
/* The user moves the mouse over guest window slot @i (-1: none). */
void guest_pointer(int i);
