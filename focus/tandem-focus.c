/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The focus synchronisation state machine. The contract is tandem-focus.h;
 * docs/focus.md gives the rules, the event -> action table and why each
 * rule exists.
 *
 * Everything the guest says (window ids, transient_for, reports) is
 * untrusted: a window takes part only once WINDOW_CREATE announced it and
 * the table had room, actions name only windows that are known and mapped
 * (and not override-redirect), and every walk over guest-made structure
 * (transient chains) is bounded. */
#include "tandem-focus.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  uint32_t id;
  uint32_t transient_for; /* 0, or any id: checked when followed */
  bool override_redirect;
  bool mapped;
  bool activated; /* ACTIVATE_PROXY sent during this mapping */
  uint64_t mapped_ms;
} TfWindow;

struct TandemFocus {
  TfActionFunc func;
  void *user_data;

  /* Sorted by id, for binary search. */
  TfWindow windows[TF_MAX_WINDOWS];
  size_t n_windows;

  bool connected;

  /* What the host says has focus (host_in without a host_out since). It
   * counts only while it names a known, mapped, not override-redirect
   * window: see host_window(). */
  uint32_t host_raw;

  /* Requests: the latest one's number and target, and whether its answer
   * is still to come. */
  uint32_t last_seq;
  uint32_t sent_target;
  bool outstanding;
  /* The host-focused window refused guest focus (the agent answered with
   * something else): the stub is held instead, so no other guest app keeps
   * focus while the user looks at this one. */
  bool fallback;

  /* The guest's focus as the agent last told it (accepted reports only). */
  TfGuestKind guest_kind;
  uint32_t guest_window;

  /* Host focus left this VM's proxies: the stub is requested at
   * debounce_at unless a proxy gains focus first. */
  bool debouncing;
  uint64_t debounce_at;

  /* ACTIVATE_PROXY sent for this dialog; the guest may keep focus on it
   * until activate_at while the host follows. */
  uint32_t activating;
  uint64_t activate_at;

  /* The timer the caller holds for us (ARM_TIMER). */
  bool timer_armed;
  uint64_t timer_at;

  /* The last TF_MAX_REASSERT_PER_S re-assertions, a ring. */
  uint64_t reassert_ms[TF_MAX_REASSERT_PER_S];
  unsigned reassert_next;
  unsigned reassert_count;
  bool suspended;
  uint32_t attention_given; /* asked for after suspending, once */
};

/* ---- actions ---------------------------------------------------------- */

static void emit(TandemFocus *self, TfActionType type, uint32_t window,
                 uint32_t seq, uint32_t ms) {
  TfAction a = {.type = type, .window = window, .seq = seq, .ms = ms};
  if (self->func)
    self->func(&a, self->user_data);
}

const char *tandem_focus_action_name(TfActionType type) {
  switch (type) {
  case TF_ACTION_SET_GUEST_FOCUS:
    return "SET_GUEST_FOCUS";
  case TF_ACTION_SEND_KEY_STATE:
    return "SEND_KEY_STATE";
  case TF_ACTION_ACTIVATE_PROXY:
    return "ACTIVATE_PROXY";
  case TF_ACTION_REQUEST_ATTENTION:
    return "REQUEST_ATTENTION";
  case TF_ACTION_ARM_TIMER:
    return "ARM_TIMER";
  case TF_ACTION_CANCEL_TIMER:
    return "CANCEL_TIMER";
  }
  return "?";
}

/* ---- the window table ------------------------------------------------- */

/* Index of the first window with id >= @id. */
static size_t lower_bound(const TandemFocus *self, uint32_t id) {
  size_t lo = 0, hi = self->n_windows;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (self->windows[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static TfWindow *find(TandemFocus *self, uint32_t id) {
  if (id == 0)
    return NULL;
  size_t i = lower_bound(self, id);
  return i < self->n_windows && self->windows[i].id == id ? &self->windows[i]
                                                          : NULL;
}

static const TfWindow *find_const(const TandemFocus *self, uint32_t id) {
  return find((TandemFocus *)self, id);
}

/* Known, mapped and able to have a proxy with host focus. */
static bool focusable(const TfWindow *w) {
  return w && w->mapped && !w->override_redirect;
}

/* The root of @id's transient chain, or 0 when @id is unknown or the chain
 * loops (a guest can make WM_TRANSIENT_FOR cycles): such a window belongs
 * to no family. A chain through n known windows has fewer than n links,
 * which bounds the walk. */
static uint32_t family_root(const TandemFocus *self, uint32_t id) {
  const TfWindow *w = find_const(self, id);
  if (!w)
    return 0;
  for (size_t steps = 0; steps <= self->n_windows; steps++) {
    const TfWindow *parent = find_const(self, w->transient_for);
    if (!parent)
      return w->id;
    w = parent;
  }
  return 0;
}

static bool same_family(const TandemFocus *self, uint32_t a, uint32_t b) {
  uint32_t root = family_root(self, a);
  return root != 0 && root == family_root(self, b);
}

/* ---- derived state ---------------------------------------------------- */

/* The window whose proxy has host focus, if it may have it. */
static uint32_t host_window(const TandemFocus *self) {
  return focusable(find_const(self, self->host_raw)) ? self->host_raw : 0;
}

/* Where guest focus is held while not debouncing: the host-focused
 * window, or the stub. */
static uint32_t target(const TandemFocus *self) {
  return self->fallback ? 0 : host_window(self);
}

/* Is the guest's focus (as reported) where it should be? Besides the
 * target itself: the dialog being activated (the host is about to follow)
 * and the target's own override-redirect windows (a menu that took
 * focus; putting focus back would close it). */
static bool acceptable(const TandemFocus *self, TfGuestKind kind,
                       uint32_t window) {
  if (kind == TF_GUEST_WINDOW && window != 0 && window == self->activating)
    return true;
  uint32_t t = target(self);
  if (t == 0)
    return kind == TF_GUEST_STUB;
  if (kind != TF_GUEST_WINDOW)
    return false;
  if (window == t)
    return true;
  const TfWindow *w = find_const(self, window);
  return w && w->mapped && w->override_redirect &&
         same_family(self, window, t);
}

/* A dialog of the host-focused window's family that just appeared and has
 * not been activated yet. */
static bool is_new_dialog(const TandemFocus *self, const TfWindow *w,
                          uint64_t now_ms) {
  uint32_t host = host_window(self);
  return host != 0 && focusable(w) && w->id != host && !w->activated &&
         now_ms >= w->mapped_ms && now_ms - w->mapped_ms <= TF_NEW_WINDOW_MS &&
         same_family(self, w->id, host);
}

/* ---- the timer -------------------------------------------------------- */

/* One timer serves both deadlines: arm it for the earlier one. Called at
 * the end of every event, so timer actions always come last. */
static void sync_timer(TandemFocus *self, uint64_t now_ms) {
  bool want = false;
  uint64_t at = 0;
  if (self->debouncing) {
    want = true;
    at = self->debounce_at;
  }
  if (self->activating && (!want || self->activate_at < at)) {
    want = true;
    at = self->activate_at;
  }
  if (!want) {
    if (self->timer_armed) {
      self->timer_armed = false;
      emit(self, TF_ACTION_CANCEL_TIMER, 0, 0, 0);
    }
    return;
  }
  if (self->timer_armed && self->timer_at == at)
    return;
  self->timer_armed = true;
  self->timer_at = at;
  uint64_t ms = at > now_ms ? at - now_ms : 0;
  emit(self, TF_ACTION_ARM_TIMER, 0, 0, ms > UINT32_MAX ? UINT32_MAX
                                                         : (uint32_t)ms);
}

/* ---- requests --------------------------------------------------------- */

static void request(TandemFocus *self, uint32_t window) {
  if (++self->last_seq == 0) /* 0 means "unsolicited" in reports */
    self->last_seq = 1;
  self->sent_target = window;
  self->outstanding = true;
  self->suspended = false;
  self->attention_given = 0;
  emit(self, TF_ACTION_SET_GUEST_FOCUS, window, self->last_seq, 0);
}

/* Holds guest focus on @window (0: the stub) because the host says so. No
 * new request when the guest has already confirmed exactly that and
 * nothing is pending: a focus-out and back within the debounce costs no
 * round trip. */
static void hold(TandemFocus *self, uint32_t window) {
  self->fallback = false;
  bool confirmed = window ? self->guest_kind == TF_GUEST_WINDOW &&
                                self->guest_window == window
                          : self->guest_kind == TF_GUEST_STUB;
  if (!self->outstanding && self->sent_target == window && confirmed)
    return;
  request(self, window);
}

/* A proxy gained host focus (or the host-focused proxy became
 * focusable). The key state goes first so the guest releases stale keys
 * before the window sees focus. */
static void focus_in(TandemFocus *self, uint32_t window) {
  self->debouncing = false;
  self->activating = 0;
  emit(self, TF_ACTION_SEND_KEY_STATE, window, 0, 0);
  hold(self, window);
}

/* Host focus left this VM's proxies: the stub, unless a proxy gains focus
 * within TF_DEBOUNCE_MS. */
static void start_debounce(TandemFocus *self, uint64_t now_ms) {
  self->debouncing = true;
  self->debounce_at = now_ms + TF_DEBOUNCE_MS;
  self->activating = 0;
}

static bool reassert_allowed(const TandemFocus *self, uint64_t now_ms) {
  if (self->reassert_count < TF_MAX_REASSERT_PER_S)
    return true;
  uint64_t oldest = self->reassert_ms[self->reassert_next];
  return now_ms >= oldest && now_ms - oldest >= 1000;
}

/* The guest's focus moved away from the target by itself: put it back,
 * at most TF_MAX_REASSERT_PER_S times in any second. Beyond that the
 * correction is dropped, not postponed (an app that grabs focus whenever
 * it loses it would otherwise be fought forever), and the window that
 * took focus gets an urgency hint instead, which is what a guest app that
 * wants focus is allowed. The next host focus change, or a guest change
 * once the second has passed, starts over. */
static void reassert(TandemFocus *self, uint64_t now_ms) {
  if (reassert_allowed(self, now_ms)) {
    self->reassert_ms[self->reassert_next] = now_ms;
    self->reassert_next = (self->reassert_next + 1) % TF_MAX_REASSERT_PER_S;
    if (self->reassert_count < TF_MAX_REASSERT_PER_S)
      self->reassert_count++;
    request(self, target(self));
    return;
  }
  self->suspended = true;
  const TfWindow *w = self->guest_kind == TF_GUEST_WINDOW
                          ? find_const(self, self->guest_window)
                          : NULL;
  if (focusable(w) && w->id != host_window(self) &&
      w->id != self->attention_given) {
    self->attention_given = w->id;
    emit(self, TF_ACTION_REQUEST_ATTENTION, w->id, 0, 0);
  }
}

static void activate(TandemFocus *self, TfWindow *w, uint64_t now_ms) {
  w->activated = true;
  self->activating = w->id;
  self->activate_at = now_ms + TF_ACTIVATE_WAIT_MS;
  emit(self, TF_ACTION_ACTIVATE_PROXY, w->id, 0, 0);
}

/* ---- life cycle ------------------------------------------------------- */

TandemFocus *tandem_focus_new(TfActionFunc func, void *user_data) {
  TandemFocus *self = calloc(1, sizeof *self);
  if (!self)
    return NULL;
  self->func = func;
  self->user_data = user_data;
  self->guest_kind = TF_GUEST_NONE;
  return self;
}

void tandem_focus_free(TandemFocus *self) { free(self); }

void tandem_focus_connected(TandemFocus *self, uint64_t now_ms) {
  self->connected = true;
  self->debouncing = false;
  self->activating = 0;
  self->fallback = false;
  uint32_t window = host_window(self);
  if (window)
    emit(self, TF_ACTION_SEND_KEY_STATE, window, 0, 0);
  request(self, window);
  sync_timer(self, now_ms);
}

/* The agent re-announces every window after a reconnection, so the table
 * starts again empty; host focus is the host's and is kept: when its
 * window comes back, guest focus follows it. */
void tandem_focus_disconnected(TandemFocus *self, uint64_t now_ms) {
  (void)now_ms;
  if (!self->connected)
    return;
  self->connected = false;
  self->n_windows = 0;
  self->outstanding = false;
  self->fallback = false;
  self->sent_target = 0;
  self->guest_kind = TF_GUEST_NONE;
  self->guest_window = 0;
  self->debouncing = false;
  self->activating = 0;
  self->suspended = false; /* the budget stays: reconnecting renews nothing */
  self->attention_given = 0;
  if (self->timer_armed) {
    self->timer_armed = false;
    emit(self, TF_ACTION_CANCEL_TIMER, 0, 0, 0);
  }
}

/* ---- windows ---------------------------------------------------------- */

void tandem_focus_window_created(TandemFocus *self, uint32_t window,
                                 uint32_t transient_for,
                                 bool override_redirect, uint64_t now_ms) {
  if (window == 0)
    return;
  if (find(self, window)) /* a new window under a known id: the old one */
    tandem_focus_window_destroyed(self, window, now_ms); /* is gone */
  if (self->n_windows >= TF_MAX_WINDOWS)
    return;
  size_t i = lower_bound(self, window);
  memmove(&self->windows[i + 1], &self->windows[i],
          (self->n_windows - i) * sizeof self->windows[0]);
  self->windows[i] = (TfWindow){.id = window,
                                .transient_for = transient_for,
                                .override_redirect = override_redirect};
  self->n_windows++;
}

void tandem_focus_window_mapped(TandemFocus *self, uint32_t window,
                                uint64_t now_ms) {
  TfWindow *w = find(self, window);
  if (!w || w->mapped)
    return;
  w->mapped = true;
  w->mapped_ms = now_ms;
  w->activated = false;
  if (!self->connected)
    return;
  if (window == self->host_raw && focusable(w))
    focus_in(self, window); /* the host focused its proxy already */
  else if (is_new_dialog(self, w, now_ms))
    activate(self, w, now_ms);
  sync_timer(self, now_ms);
}

void tandem_focus_window_unmapped(TandemFocus *self, uint32_t window,
                                  uint64_t now_ms) {
  TfWindow *w = find(self, window);
  if (!w || !w->mapped)
    return;
  bool was_host = host_window(self) == window;
  w->mapped = false;
  w->activated = false;
  if (self->activating == window)
    self->activating = 0;
  if (was_host) {
    /* Keys must stop at once; the host will move its focus on its own.
     * A host_out for it later no longer matches and is ignored. */
    self->host_raw = 0;
    if (self->connected)
      start_debounce(self, now_ms);
  }
  if (self->connected)
    sync_timer(self, now_ms);
}

void tandem_focus_window_destroyed(TandemFocus *self, uint32_t window,
                                   uint64_t now_ms) {
  if (!find(self, window))
    return;
  tandem_focus_window_unmapped(self, window, now_ms);
  size_t i = lower_bound(self, window);
  memmove(&self->windows[i], &self->windows[i + 1],
          (self->n_windows - i - 1) * sizeof self->windows[0]);
  self->n_windows--;
  /* Its dialogs are orphans now: a later window with the same id must not
   * adopt them. */
  for (size_t j = 0; j < self->n_windows; j++)
    if (self->windows[j].transient_for == window)
      self->windows[j].transient_for = 0;
}

/* ---- host focus ------------------------------------------------------- */

void tandem_focus_host_in(TandemFocus *self, uint32_t window,
                          uint64_t now_ms) {
  if (window == 0)
    return;
  const TfWindow *w = find(self, window);
  if (w && w->override_redirect) /* popups never take part in focus */
    return;
  uint32_t before = host_window(self);
  self->host_raw = window;
  if (!self->connected)
    return;
  uint32_t after = host_window(self);
  if (after)
    focus_in(self, after);
  else if (before)
    start_debounce(self, now_ms); /* focus on a proxy not (yet) mapped */
  sync_timer(self, now_ms);
}

void tandem_focus_host_out(TandemFocus *self, uint32_t window,
                           uint64_t now_ms) {
  /* A focus-out for another window comes after a direct focus-in
   * elsewhere (or is made up): it changes nothing. */
  if (window == 0 || window != self->host_raw)
    return;
  uint32_t before = host_window(self);
  self->host_raw = 0;
  if (!self->connected)
    return;
  if (before)
    start_debounce(self, now_ms);
  sync_timer(self, now_ms);
}

void tandem_focus_timeout(TandemFocus *self, uint64_t now_ms) {
  if (!self->connected || !self->timer_armed)
    return; /* cancelled meanwhile, or not ours */
  self->timer_armed = false;
  /* The caller's clock and ours may differ by a millisecond: whatever the
   * timer was armed for is due. */
  uint64_t due = now_ms > self->timer_at ? now_ms : self->timer_at;
  if (self->debouncing && self->debounce_at <= due) {
    self->debouncing = false;
    hold(self, host_window(self)); /* 0 unless its window came back */
  }
  if (self->activating && self->activate_at <= due) {
    /* The host did not follow: the guest's focus goes back. */
    self->activating = 0;
    if (!self->debouncing && !self->outstanding &&
        !acceptable(self, self->guest_kind, self->guest_window))
      reassert(self, now_ms);
  }
  sync_timer(self, now_ms);
}

/* ---- the guest -------------------------------------------------------- */

void tandem_focus_guest_report(TandemFocus *self, uint32_t seq,
                               TfGuestKind kind, uint32_t window,
                               uint64_t now_ms) {
  if (!self->connected)
    return;
  /* The checks on what the agent said. The protocol's decoder enforces
   * the same, but this machine does not rely on it. */
  if ((unsigned)kind > TF_GUEST_OTHER)
    return;
  if ((kind == TF_GUEST_WINDOW) != (window != 0))
    return;
  /* Only the answer to the latest request counts; one for an older
   * request is stale, one for a newer is made up. */
  if (seq != 0 && seq != self->last_seq)
    return;
  bool answer = seq != 0 && self->outstanding;
  if (!answer && self->outstanding)
    return; /* says where focus was before our request is applied */
  TfWindow *w = kind == TF_GUEST_WINDOW ? find(self, window) : NULL;
  if (kind == TF_GUEST_WINDOW && !(w && w->mapped)) {
    kind = TF_GUEST_OTHER; /* not a window we know as shown */
    window = 0;
    w = NULL;
  }
  /* Checked from here on. */

  self->guest_kind = kind;
  self->guest_window = window;
  if (answer)
    self->outstanding = false;
  if (self->debouncing || acceptable(self, kind, window))
    return;
  if (w && is_new_dialog(self, w, now_ms)) {
    /* The focused app opened a dialog and the guest gave it focus: the
     * host follows, not the other way round. */
    activate(self, w, now_ms);
    sync_timer(self, now_ms);
    return;
  }
  if (answer) {
    /* The agent applied the request and this is what the guest made of
     * it: asking again would get the same answer. Another window of the
     * same application (a modal dialog taking focus from its parent) may
     * keep it; anything else means the window does not take focus, so the
     * stub holds it rather than an app the user is not looking at. */
    uint32_t t = target(self);
    if (t != 0 && !(w && same_family(self, w->id, t))) {
      self->fallback = true;
      request(self, 0);
    }
    return;
  }
  reassert(self, now_ms);
}

void tandem_focus_guest_attention(TandemFocus *self, uint32_t window,
                                  uint64_t now_ms) {
  (void)now_ms;
  if (!self->connected)
    return;
  const TfWindow *w = find(self, window);
  if (focusable(w) && window != host_window(self))
    emit(self, TF_ACTION_REQUEST_ATTENTION, window, 0, 0);
}

/* ---- queries ---------------------------------------------------------- */

bool tandem_focus_may_deliver_keys(const TandemFocus *self, uint32_t window) {
  return self->connected && window != 0 && window == host_window(self);
}

uint32_t tandem_focus_host_window(const TandemFocus *self) {
  return host_window(self);
}

uint32_t tandem_focus_guest_window(const TandemFocus *self,
                                   TfGuestKind *kind) {
  if (kind)
    *kind = self->guest_kind;
  return self->guest_window;
}

uint32_t tandem_focus_last_seq(const TandemFocus *self) {
  return self->last_seq;
}

bool tandem_focus_reassert_suspended(const TandemFocus *self) {
  return self->suspended;
}

size_t tandem_focus_window_count(const TandemFocus *self) {
  return self->n_windows;
}

void tandem_focus_set_last_seq(TandemFocus *self, uint32_t seq) {
  self->last_seq = seq;
  self->outstanding = false;
}
