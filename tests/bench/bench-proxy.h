/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-proxy: the parts shared by its files. */
#pragma once

#include <gtk/gtk.h>

#include "bench-pixels.h"
#include "tandem-guest-hub.h"
#include "tandem-proxy-manager.h"
#include "tandem-vm-manager.h"

typedef struct {
  PxConfig px;          /* warm-up, measured time, the app's fps, paths */
  int victim_keys;      /* the closing window closes on its Nth key */
  char *memprobe;       /* tandem-memprobe, copied into the VM if set */
  const char *cmdline;  /* more of the VM's kernel command line, or NULL */
  gboolean channel_pixels; /* no shared pixel memory: the channel path */
  int steal_ms;         /* the focus-taking app's period */
  char *keys;           /* tandem-bench-keys */
  char *xclock;         /* the host's xclock; NULL: not installed */
  int focus_switches;   /* focus latency, per guest (the VM: a quarter) */
  int misroute_steps;   /* the randomized focus-and-type run */
  int launches;         /* warm launches per guest */
  guint32 seed;
  char *text;           /* the large text file mousepad pages through */
  gboolean vm_apps;     /* the real applications in the VM too */
  double app_warmup_s, app_measure_s, clock_measure_s;
} BpConfig;

/* A guest window as the host saw it. Times are CLOCK_MONOTONIC ns of this
 * process, taken when the message had been handled by the proxy code. */
typedef struct {
  guint32 id;
  char *res_name, *title;
  gint64 create_ns, map_ns;
  gint64 first_paint_ns;      /* first "frame-painted"; 0: none yet */
  gint64 recv_counter, paint_counter; /* newest stamps seen, -1: none */
  gboolean viewable;          /* its proxy got its MapNotify */
  gint64 focus_in_ns;         /* its proxy's last GTK focus-in */
  /* Counted for every window, stamps or not: */
  guint64 frames_sent;        /* DAMAGE with FRAME_END handled */
  guint64 frames_painted;     /* its proxy's "frame-painted" */
  guint64 damage_bytes;       /* its DAMAGE messages' bytes */
  guint64 damage_px;          /* the pixels they covered */
  TandemProxyWindow *proxy;   /* NULL until shown; weak */
} BpWindow;

typedef struct {
  const char *name;           /* the hub's name for it */
  char *transport;            /* "UNIX socket", "virtio-serial, TCG" */
  gboolean is_vm;
  TandemVmManager *vms;
  TandemGuestHub *hub;
  TandemGuestLink *link;      /* the hub's */
  TandemProxyManager *pm;
  GHashTable *windows;        /* guest id -> BpWindow */
  /* Stamped frames of tandem-bench-anim (PxFrame; recv_ns is the time
   * of the event named): */
  GArray *received;           /* its last DAMAGE of the frame handled
                               * (copied into the proxy's surface) */
  GArray *painted;            /* "frame-painted" (drawn by GTK, acked) */
  guint32 unstamped;          /* frames painted with no readable stamp */
  guint64 damage_bytes;       /* DAMAGE messages' bytes on the channel */
  guint64 channel_bytes;      /* every message from the guest, less the
                               * answers to the benchmark's heartbeats */
  char *dir;
  /* Loopback */
  GSubprocess *xvfb, *agent;
  char *display;
  /* VM */
  TandemVm *vm;               /* the manager's */
  double boot_s, catalog_s;
  /* The guest's clock minus ours, from heartbeats of our own (NTP's
   * estimate, best round trip since bp_guest_reset_clock). */
  gint64 offset_ns, offset_rtt_ns;
  guint32 ping_seq;
  guint ping_id;
  gulong hook_id;
} BpGuest;

/* --- Guests (bench-proxy-guest.c) ---------------------------------------- */

/* The real agent on a second Xvfb, connecting to a loopback guest of a
 * TandemGuestHub, its proxies on this process's display. */
gboolean bp_guest_start_loopback(BpGuest *g, const BpConfig *cfg,
                                 GError **error);
/* The default guest under TCG (with this build's agent and apps in an
 * overlay), a VM of a TandemVmManager, through the same hub. FALSE with
 * *skipped (and *why) when there is no default guest. */
gboolean bp_guest_start_vm(BpGuest *g, const BpConfig *cfg,
                           gboolean *skipped, char **why, GError **error);
void bp_guest_stop(BpGuest *g);

/* Frees what the configuration holds; with @remove_tmp, deletes its
 * scratch directory first. */
void bp_config_clear(BpConfig *cfg, gboolean remove_tmp);

/* The path in environment variable @env if set, else @fallback. */
char *bp_locate(const char *env, const char *fallback);
/* GTK on an Xvfb of our own in @tmp: the host's display (DISPLAY set). */
/* The host display's X server (for its CPU time). */
GPid bp_host_display_pid(void);
GSubprocess *bp_host_display_start(const char *tmp, GError **error);
/* Stops it (GDK ends the process if its display goes while the main loop
 * runs: this waits without iterating it). */
void bp_host_display_stop(GSubprocess *xvfb);

/* A progress line on stderr, with the time since the start. */
void bp_progress(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Iterates the main loop until @done says so or @seconds pass. */
gboolean bp_wait(gboolean (*done)(gpointer data), gpointer data,
                 double seconds);
/* Iterates the main loop for @seconds. */
void bp_run_for(double seconds);

/* The newest window of @res_name created at or after @after_ns that is
 * mapped (and has painted a frame, if @painted), or NULL. */
BpWindow *bp_guest_find(BpGuest *g, const char *res_name, gint64 after_ns,
                        gboolean painted);
BpWindow *bp_guest_find_title(BpGuest *g, const char *title);
/* The X window of @w's proxy once it is mapped on the host, else None. */
guint32 bp_window_xid(BpWindow *w);
/* Asks the guest to close @id (WINDOW_CLOSE) and waits for its proxy to
 * go; FALSE if it stayed. */
gboolean bp_guest_close(BpGuest *g, guint32 id, double seconds);
void bp_guest_reset_clock(BpGuest *g);
/* The benchmark's heartbeats (every 50 ms, for the guest's clock) on or
 * off: off, a window that barely changes is measured without them. */
void bp_guest_set_pinging(BpGuest *g, gboolean on);

/* A launch through tandem_guest_hub_launch_async; the callback's time. */
typedef struct BpLaunch BpLaunch;
BpLaunch *bp_launch(BpGuest *g, const char *app_id);
/* Waits for the answer; FALSE with @error on a failure or timeout. Frees
 * @l either way. */
gboolean bp_launch_finish(BpLaunch *l, double seconds, gint64 *done_ns,
                          guint32 *pid, GError **error);

/* --- Cases ------------------------------------------------------------------ */

/* bench-proxy-pixels.c: tandem-bench-anim in @mode launched in the guest,
 * latency to the frame's receipt and to its painting. */
gboolean bp_run_pixels(BpGuest *g, const BpConfig *cfg, const char *mode,
                       PxResult *received, PxResult *painted,
                       GError **error);

/* bench-proxy-apps.c: real applications, measured as they are (no
 * stamps, no latency): xterm scrolling, mousepad paging with Page_Down
 * held, an idle xclock. */
enum { BP_APP_XTERM, BP_APP_MOUSEPAD, BP_APP_XCLOCK, BP_N_APPS };

/* The large text file (in cfg->px.tmp) and the cases' times. */
gboolean bp_apps_prepare(BpConfig *cfg, GError **error);
/* The catalog id of app @i, and its desktop entry: the host's program
 * for the loopback guest (NULL: not installed here), the guest's for
 * the VM's overlay. */
const char *bp_app_id(int i);
char *bp_app_desktop(int i, const BpConfig *cfg, gboolean in_vm);
/* The overlay's copy of cfg->text in the VM. */
#define BP_APP_TEXT_IN_VM "usr/share/tandem-bench/tandem-bench-text.txt"
/* Each app in turn, launched in @g through the hub, measured, closed:
 * @out[BP_N_APPS] (a case that cannot run says why in its note). FALSE
 * only when the harness fails. */
gboolean bp_run_apps(BpGuest *g, const BpConfig *cfg, PxAppResult *out,
                     GError **error);
/* The same apps under Xpra (px_run_xpra_apps). */
gboolean bp_run_xpra_apps(const BpConfig *cfg, PxAppResult *out,
                          char **info, gboolean *skipped, GError **error);

/* A set of results for the table: @r[BP_N_APPS]. */
typedef struct {
  PxAppResult *r;
  gboolean channel;  /* Tandem with the pixels on the channel */
  gboolean loopback; /* Tandem on this machine (CPU comparable) */
  gboolean xpra;
} BpAppSet;
void bp_apps_print(const BpConfig *cfg, const BpAppSet *sets, guint n,
                   const char *xpra_info);
/* ,"apps":{...} */
void bp_apps_json(GString *j, const BpConfig *cfg, const BpAppSet *sets,
                  guint n);

/* bench-proxy-focus.c */
typedef struct {
  gboolean done;
  int switches;
  /* host focus set (XSetInputFocus) -> the guest's FOCUS_REPORT of it
   * handled on the host, by kind of switch; and -> GTK's focus-in on the
   * host window (the host's own part, and the whole of a switch between
   * native windows) */
  GArray *to_proxy_from_proxy, *to_proxy_from_native, *to_native,
      *host_focus_in;
  int timeouts;
  char *note;
} BpFocusResult;

/* The randomized focus-and-type run with the guest-side hazards on: a
 * window that closes on a key while more are typed into it (with the
 * guest pointer over another window), an application that takes the
 * guest's focus every few ms, Shift held across focus switches. */
typedef struct {
  gboolean done;
  guint32 seed;
  int steps, focus_moves, typed, typed_to_proxies, delivered, misrouted,
      lost;
  int wrong_shift;        /* arrived with Shift other than it was typed */
  int shift_switches;     /* focus moved while the user held Shift */
  int typed_shifted;      /* keys typed with Shift held */
  int victims_closed;     /* windows that closed while keys came */
  int typed_into_closing; /* keys typed into them (after the closing key
                           * they must go nowhere) */
  int excluded;           /* host focus moved while the key was typed */
  double seconds;
  char *note;
} BpMisrouteResult;

void bp_focus_result_clear(BpFocusResult *r);
/* Focus switches between the proxies of tandem-bench-keys' three windows
 * and a native host window; with @misroute (loopback only), then the
 * randomized focus-and-type run with the hazards. */
gboolean bp_run_focus(BpGuest *g, const BpConfig *cfg, int switches,
                      BpFocusResult *r, BpMisrouteResult *m, GError **error);

/* bench-proxy-launch.c */
typedef struct {
  gboolean done;
  int runs;
  /* from the launch request: LAUNCH_RESULT handled, WINDOW_MAP handled,
   * the first frame painted; and WINDOW_MAP -> first frame painted */
  GArray *to_result, *to_map, *to_paint, *map_to_paint;
  int failures;
  int unclosed;    /* windows still there 2 s after WINDOW_CLOSE */
  char *note;
} BpLaunchResult;

typedef struct {
  gboolean done;
  int runs;
  GArray *to_map;  /* spawn -> MapNotify of its top-level window */
  char *note;
} BpBaselineResult;

void bp_launch_result_clear(BpLaunchResult *r);
void bp_baseline_result_clear(BpBaselineResult *r);

/* A local Xvfb on which the baseline program is started directly. */
typedef struct BpBaseline BpBaseline;
BpBaseline *bp_baseline_new(const BpConfig *cfg, const char *program,
                            GError **error);
/* One run of the program, spawn -> MapNotify, into @r. */
gboolean bp_baseline_run(BpBaseline *b, BpBaselineResult *r, GError **error);
void bp_baseline_free(BpBaseline *b);

/* Warm launches of @app_id (a window of @res_name) in a running guest;
 * with @base, each run takes turns with one of @base (into @base_r). */
gboolean bp_run_launch(BpGuest *g, const BpConfig *cfg, const char *app_id,
                       const char *res_name, BpLaunchResult *r,
                       BpBaseline *base, BpBaselineResult *base_r,
                       GError **error);
