/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Focus synchronisation between the host desktop and one VM's guest.
 *
 * A pure state machine: no X, no GTK, no clock of its own. proxy/ feeds it
 * what happens on the host (a proxy window gained or lost host focus), what
 * the agent reports (the guest's actual focus, windows appearing and going)
 * and the time; it answers with actions for the caller to carry out. The
 * rules (docs/focus.md):
 *
 *  - a proxy has host focus  => guest focus is held on its guest window;
 *  - nothing of this VM has host focus => guest focus is on the agent's
 *    stub placeholder window (window 0), so no guest app gets keys;
 *  - moving host focus from one proxy to another never passes through the
 *    stub: a focus-out is debounced (TF_DEBOUNCE_MS) and a focus-in to
 *    another proxy within that time goes straight there;
 *  - on every proxy focus-in the host's full key state is sent;
 *  - a new dialog (transient) of the app whose proxy has focus takes host
 *    focus; any other new window gets nothing, and a guest app asking for
 *    activation only gets attention (an urgency hint), never host focus;
 *  - every focus request carries a sequence number; reports answering an
 *    older request are ignored; a guest that moves focus by itself while a
 *    proxy is focused is put back (bounded, so two fighting apps cannot
 *    loop);
 *  - keyboard input may be delivered only to the guest window whose proxy
 *    has host focus.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TF_DEBOUNCE_MS 20u
/* At most this many re-assertions of guest focus per second. */
#define TF_MAX_REASSERT_PER_S 5u
/* Windows tracked at most (protocol TP_MAX_WINDOWS); more are ignored. */
#define TF_MAX_WINDOWS 1024u
/* How long the guest may keep focus on a dialog whose proxy the machine
 * asked the host to activate before guest focus is put back. */
#define TF_ACTIVATE_WAIT_MS 500u
/* A dialog mapped at most this long ago counts as new when the guest
 * reports that it took focus. */
#define TF_NEW_WINDOW_MS 1000u

typedef enum {
  /* Send FOCUS_SET: window (0 = the stub placeholder) with seq. */
  TF_ACTION_SET_GUEST_FOCUS = 1,
  /* Send KEY_STATE (the host's full key state) to window. */
  TF_ACTION_SEND_KEY_STATE,
  /* Give host focus to the proxy of window (a new dialog of the focused
   * app). */
  TF_ACTION_ACTIVATE_PROXY,
  /* Mark the proxy of window as wanting attention (urgency hint). */
  TF_ACTION_REQUEST_ATTENTION,
  /* Call tandem_focus_timeout() once, @ms from now (replaces any timer
   * armed before). */
  TF_ACTION_ARM_TIMER,
  /* Drop any armed timer. */
  TF_ACTION_CANCEL_TIMER,
} TfActionType;

typedef struct {
  TfActionType type;
  uint32_t window; /* guest window id (protocol), 0 = stub / none */
  uint32_t seq;    /* SET_GUEST_FOCUS */
  uint32_t ms;     /* ARM_TIMER */
} TfAction;

/* Guest focus kinds, as in protocol FOCUS_REPORT. */
typedef enum {
  TF_GUEST_WINDOW = 0,
  TF_GUEST_STUB = 1,
  TF_GUEST_NONE = 2,
  TF_GUEST_OTHER = 3,
} TfGuestKind;

typedef void (*TfActionFunc)(const TfAction *action, void *user_data);

typedef struct TandemFocus TandemFocus;

TandemFocus *tandem_focus_new(TfActionFunc func, void *user_data);
void tandem_focus_free(TandemFocus *self);

/* The agent's channel is up (after the handshake) / went down. On connect
 * the machine sends the guest focus it wants at once. */
void tandem_focus_connected(TandemFocus *self, uint64_t now_ms);
void tandem_focus_disconnected(TandemFocus *self, uint64_t now_ms);

/* Guest windows, as WINDOW_CREATE / MAP / UNMAP / DESTROY announce them.
 * @transient_for is 0 or the parent's id. */
void tandem_focus_window_created(TandemFocus *self, uint32_t window,
                                 uint32_t transient_for,
                                 bool override_redirect, uint64_t now_ms);
void tandem_focus_window_mapped(TandemFocus *self, uint32_t window,
                                uint64_t now_ms);
void tandem_focus_window_unmapped(TandemFocus *self, uint32_t window,
                                  uint64_t now_ms);
void tandem_focus_window_destroyed(TandemFocus *self, uint32_t window,
                                   uint64_t now_ms);

/* The proxy of @window gained / lost host focus. */
void tandem_focus_host_in(TandemFocus *self, uint32_t window,
                          uint64_t now_ms);
void tandem_focus_host_out(TandemFocus *self, uint32_t window,
                           uint64_t now_ms);

/* The timer armed with TF_ACTION_ARM_TIMER fired. */
void tandem_focus_timeout(TandemFocus *self, uint64_t now_ms);

/* FOCUS_REPORT from the agent (untrusted: any values). */
void tandem_focus_guest_report(TandemFocus *self, uint32_t seq,
                               TfGuestKind kind, uint32_t window,
                               uint64_t now_ms);

/* The guest asked for @window to be activated, or set its urgency. */
void tandem_focus_guest_attention(TandemFocus *self, uint32_t window,
                                  uint64_t now_ms);

/* May keyboard input for @window be sent to the guest now? */
bool tandem_focus_may_deliver_keys(const TandemFocus *self, uint32_t window);

/* The window whose proxy has host focus (0: none of this VM). */
uint32_t tandem_focus_host_window(const TandemFocus *self);
/* The guest's focus as last confirmed by the agent for the latest request
 * (window id, or 0 with *kind set). */
uint32_t tandem_focus_guest_window(const TandemFocus *self,
                                   TfGuestKind *kind);
/* The last sequence number sent. */
uint32_t tandem_focus_last_seq(const TandemFocus *self);

/* Inspection and tests. */

/* The guest moved focus away by itself more often than
 * TF_MAX_REASSERT_PER_S allows, and the machine stopped putting it back
 * until its next request. */
bool tandem_focus_reassert_suspended(const TandemFocus *self);
/* Windows tracked (at most TF_MAX_WINDOWS). */
size_t tandem_focus_window_count(const TandemFocus *self);
/* Continue numbering requests after @seq (a new machine for a VM whose
 * agent saw an older one's numbers, or tests of the wrap-around). A
 * request still unanswered is forgotten. */
void tandem_focus_set_last_seq(TandemFocus *self, uint32_t seq);
/* "SET_GUEST_FOCUS", ... for logs. */
const char *tandem_focus_action_name(TfActionType type);

#ifdef __cplusplus
}
#endif
