/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The X11 backend's shared state. Split by concern:
 *   tandem-x11.c          connection, event source, atoms, dispatch, ops
 *   tandem-x11-windows.c  tracking, the minimal window manager, other WMs
 *   tandem-x11-props.c    a window's properties, read and sent to the host
 *   tandem-x11-pixels.c   Composite + Damage + MIT-SHM capture, frame acks
 *   tandem-x11-input.c    XTest injection, keymap, key state
 *   tandem-x11-focus.c    focus requests and reports, the stub window
 */
#pragma once

#include <gio/gio.h>
#include <xcb/composite.h>
#include <xcb/damage.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>
#include <xcb/xtest.h>

#include "tandem-display.h"
#include "tx-pure.h"

#define TX_MAX_CAPTURE_RECTS 64u
#define TX_ICON_WANT 64u

typedef struct {
  xcb_window_t xid;
  xcb_window_t frame; /* its root child: itself, or another WM's frame */
  uint32_t id; /* protocol id, never reused while the agent runs */
  int32_t x, y;
  uint32_t width, height, border;
  uint8_t depth;
  gboolean override_redirect;
  gboolean input_output;
  gboolean mapped;        /* MapNotify seen, no UnmapNotify since */
  gboolean managed;       /* we set WM_STATE on it (window manager mode) */
  gboolean iconic;        /* minimized: unmapped by us, still announced */
  gboolean announced;     /* the current host got WINDOW_CREATE */
  gboolean shown;         /* ... and WINDOW_MAP, no UNMAP since */
  xcb_window_t transient_for;
  uint8_t type;           /* TpWindowType */
  uint32_t states;        /* TP_STATE_* last known */
  gboolean take_focus, delete_window, input_hint;
  /* Geometry before maximize/fullscreen, to go back to. */
  int32_t saved_x, saved_y;
  uint32_t saved_w, saved_h;

  /* Pixels */
  xcb_damage_damage_t damage;
  gboolean dirty;         /* damage not yet captured */
  gboolean full;          /* next capture is the whole window */
  uint32_t frame_seq;     /* last frame sent */
  uint32_t acked_seq;     /* last frame the host acknowledged */
  gint64 damage_us;       /* when the oldest uncaptured damage arrived */
  guint lz4_skip;         /* frames before LZ4 is tried again */
  guint delta_skip;       /* ... and comparing with the shadow */
  guint delta_misses;     /* frames in a row where comparing did not pay */
  guint read_retries;     /* failed reads in a row */
  /* What the host holds of the window (the pixels last sent through the
   * channel), to send only what changed and scrolls as copies; NULL when
   * not known (shared memory, no TP_CAP_COPY, too large, not sent yet). */
  uint8_t *shadow;
  uint32_t shadow_w, shadow_h;
} TxWindow;

void tx_window_free(gpointer w);

typedef struct {
  TandemDisplay base;
  xcb_connection_t *c;
  xcb_screen_t *screen;
  xcb_window_t root;
  GSource *source;
  gboolean host_ready;
  gboolean wm;            /* we are the window manager */
  xcb_window_t wm_window; /* _NET_SUPPORTING_WM_CHECK, also the stub */
  xcb_window_t stub;      /* focus placeholder */
  uint8_t damage_event, xfixes_ok;
  gboolean have_shm, have_xtest, have_composite, have_damage;
  xcb_timestamp_t last_time;

  GHashTable *by_xid;     /* xcb_window_t -> TxWindow* (owns) */
  GHashTable *by_frame;   /* its root child -> TxWindow* */
  GHashTable *by_id;      /* uint32 id -> TxWindow* */
  GArray *stack;          /* xcb_window_t root children, bottom to top */
  uint32_t next_id;

  /* Pixels */
  xcb_xfixes_region_t region;
  xcb_shm_seg_t shm_seg;
  uint8_t *shm_data;
  size_t shm_size;
  /* The memory shared with the host (tandem-pixel-memory.h), attached to
   * the X server as a segment of its own: frames go there when the host
   * takes them (pm_active), through the channel otherwise. */
  TandemPixelMemory *pm;  /* NULL unless the X server took it */
  xcb_shm_seg_t pm_seg;
  gboolean pm_active;
  gboolean lz4;           /* the host takes LZ4 rectangles */
  gboolean copy;          /* ... and copies within a window (scrolls) */
  gboolean bgr;           /* ... and LZ4 of 3-byte BGR pixels */
  guint capture_id;       /* idle source that captures dirty windows */
  guint retry_id;         /* a window to read again (READ_RETRY_MS) */
  uint64_t bytes_sent, frames_sent, copies_sent;

  /* Input */
  uint32_t *keysyms;
  TxKeymap keymap;
  uint8_t held_mods[32];       /* keycodes KEY_STATE may press (tx-pure.h) */
  uint8_t *modmap;             /* GetModifierMapping: 8 rows of mod_per */
  uint32_t mod_per;
  uint8_t host_to_guest[256];  /* guest keycode we pressed for a host
                                * keycode; 0: its press was not injected */
  uint32_t buttons_down;       /* bit b: we injected button b's press */
  uint32_t borrowed_kc;        /* spare keycode remapped to a keysym */
  int32_t scroll_acc_x, scroll_acc_y;
  uint32_t client_mask;        /* the X client part of a resource id */
  uint64_t input_dropped;      /* events refused: their window lacked focus */
  gint64 drop_log_us;          /* rate limit of the log line about them */

  /* Focus */
  uint32_t focus_seq;          /* last FOCUS_SET seq */
  uint32_t focus_target;       /* its window, 0 = stub */
  gboolean focus_pending;      /* waiting for the guest to confirm it */
  uint32_t reported_window;
  int reported_kind;           /* -1 = nothing reported yet */
  guint focus_check_id;
  guint take_focus_id;         /* bounded wait for a WM_TAKE_FOCUS client */

  struct {
    xcb_atom_t wm_protocols, wm_delete_window, wm_take_focus, wm_state,
        wm_change_state, wm_transient_for, wm_class, wm_name, wm_hints,
        wm_normal_hints, utf8_string, net_wm_name, net_wm_icon,
        net_wm_state, net_wm_window_type, net_supported,
        net_supporting_wm_check, net_active_window, net_client_list,
        net_close_window, net_frame_extents, net_request_frame_extents,
        net_wm_pid, net_moveresize_window, net_restack_window,
        st_max_horz, st_max_vert, st_fullscreen, st_hidden, st_attention,
        st_modal, st_above, st_below, st_sticky, st_skip_taskbar,
        t_normal, t_dialog, t_utility, t_toolbar, t_splash, t_menu,
        t_dropdown, t_popup, t_tooltip, t_notification, t_combo, t_dnd;
  } atom;
} TandemX11;

/* tandem-x11.c */
gboolean tx_send(TandemX11 *x, const TpMessage *m);
void *tx_property(TandemX11 *x, xcb_window_t w, xcb_atom_t prop,
                  xcb_atom_t type, uint32_t max_longs, uint32_t *n_items,
                  uint8_t *format);
TxWindow *tx_window_by_id(TandemX11 *x, uint32_t id);
xcb_window_t tx_toplevel_of(TandemX11 *x, xcb_window_t w);
xcb_window_t tx_root_child(TandemX11 *x, xcb_window_t w, gboolean tracked);

/* tandem-x11-props.c: read a window's properties, tell the host (the
 * send_ functions do nothing before the window is announced) */
void tx_send_title(TandemX11 *x, TxWindow *w);
void tx_send_class(TandemX11 *x, TxWindow *w);
void tx_send_icon(TandemX11 *x, TxWindow *w);
void tx_send_hints(TandemX11 *x, TxWindow *w);
void tx_send_states(TandemX11 *x, TxWindow *w, gboolean always);
void tx_read_protocols(TandemX11 *x, TxWindow *w);
void tx_read_transient(TandemX11 *x, TxWindow *w);
uint8_t tx_read_type(TandemX11 *x, TxWindow *w);
void tx_write_net_states(TandemX11 *x, TxWindow *w, uint32_t bits);
xcb_atom_t tx_state_atom(TandemX11 *x, uint32_t bit);
uint32_t tx_state_bit(TandemX11 *x, xcb_atom_t atom);

/* tandem-x11-windows.c */
void tx_windows_init(TandemX11 *x);
void tx_windows_event(TandemX11 *x, xcb_generic_event_t *ev, uint8_t type);
void tx_windows_announce_all(TandemX11 *x);
void tx_window_handle(TandemX11 *x, TxWindow *w, const TpMessage *m);
void tx_window_raise(TandemX11 *x, TxWindow *w);
uint32_t tx_window_states(TandemX11 *x, TxWindow *w);

/* tandem-x11-pixels.c */
gboolean tx_pixels_init(TandemX11 *x, GError **error);
void tx_pixels_fini(TandemX11 *x);
void tx_pixels_track(TandemX11 *x, TxWindow *w);
void tx_pixels_untrack(TandemX11 *x, TxWindow *w);
void tx_pixels_damaged(TandemX11 *x, xcb_damage_notify_event_t *ev);
void tx_pixels_full(TandemX11 *x, TxWindow *w);
void tx_pixels_ack(TandemX11 *x, TxWindow *w, uint32_t seq);
/* A host said HELLO (@host) or went away (NULL). */
void tx_pixels_host_ready(TandemX11 *x, const TpHello *host);

/* tandem-x11-input.c */
void tx_input_init(TandemX11 *x);
void tx_input_fini(TandemX11 *x);
void tx_input_keymap_changed(TandemX11 *x);
void tx_input_handle(TandemX11 *x, TxWindow *w, const TpMessage *m);
/* A key for a window the agent no longer knows: only a release, of a key
 * it pressed, is injected (with focus on the stub). */
void tx_input_key_for_gone(TandemX11 *x, const TpKey *k);

/* tandem-x11-focus.c */
void tx_focus_init(TandemX11 *x);
void tx_focus_set(TandemX11 *x, uint32_t window, uint32_t seq);
void tx_focus_changed(TandemX11 *x);
void tx_focus_report_now(TandemX11 *x, uint32_t seq);
/* Whether keyboard input goes to @w's application now: focus on @w or a
 * window inside it, or on an override-redirect window of the same X client
 * (its menu took focus; taking it back would close the menu). */
gboolean tx_focus_is_on(TandemX11 *x, TxWindow *w);
/* With the server grabbed (tx_input_*): whether keyboard input goes to
 * @w's application now, giving @w focus first if it has not. */
gboolean tx_focus_hold(TandemX11 *x, TxWindow *w);
/* With the server grabbed: focus on the stub, so input goes nowhere. */
void tx_focus_to_stub(TandemX11 *x);
/* Whether @a and @b were created by the same X client. */
gboolean tx_same_client(TandemX11 *x, xcb_window_t a, xcb_window_t b);
void tx_focus_fini(TandemX11 *x);
