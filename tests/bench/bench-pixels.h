/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-pixels: the parts shared by its files, and by bench-proxy (which
 * links the harness: processes, results, Xpra, the guest overlay). */
#pragma once

#include <gio/gio.h>

#include "tandem-protocol.h"
#include "tandem-vm.h"

/* One frame of tandem-bench-anim as a receiver got it. */
typedef struct {
  guint32 window;   /* Tandem: guest window id; Xpra: 0 */
  guint32 counter;  /* the app's frame number */
  guint32 mode;     /* 0 full, 1 small (from the stamp) */
  gint64 draw_ns;   /* the drawing system's CLOCK_MONOTONIC */
  gint64 recv_ns;   /* the receiver's CLOCK_MONOTONIC */
  guint64 bytes;    /* bytes read from the channel so far */
  gint64 paint_ns;  /* painted (Xpra's client: decoded and painted into
                     * its buffer), 0 if not known */
} PxFrame;

typedef struct {
  char *system;     /* "Tandem", "Xpra 3.1.3" */
  char *transport;  /* "UNIX socket", "virtio-serial (TCG)" */
  const char *mode; /* "full", "small" */
  gboolean done;    /* measured (else @note says why not) */
  int frames;
  double fps, drawn_fps, bytes_per_frame, p50_ms, p99_ms;
  double app_fps;   /* what the app drew in the whole run, -1 unknown */
  double unshown_pct; /* frames received but never painted, -1 unknown */
  /* CPU per painted frame over the measured time, ms (-1: unknown): of
   * the guest's side (agent or server, and the X server the app draws
   * on) and of the host's (the client or the shell, and its X server). */
  double cpu_guest_ms, cpu_host_ms;
  char *note;
} PxResult;

typedef struct {
  gboolean is_short;
  double warmup_s, measure_s;
  double fps;       /* the app's target */
  char *tmp;
  char *agent;      /* tandem-agent binary */
  char *anim;       /* tandem-bench-anim binary */
} PxConfig;

gint64 px_now_ns(void);
/* CPU time (user + system, all threads) of process @pid so far, in ns; 0
 * if it is gone. */
guint64 px_cpu_ns(GPid pid);
/* CPU time of processes counted two ways: px_cpu_ns (clock ticks of 10
 * ms, threads that ended included) and the sum of their threads'
 * /proc/PID/task/TID/schedstat (ns, living threads only). Fine enough
 * for a window that changes once a second. */
typedef struct {
  guint64 ticks_ns, fine_ns;
  int procs;
} PxCpu;
/* Adds @pid's CPU so far to @sum (nothing if @pid <= 0 or gone). */
void px_cpu_add(PxCpu *sum, GPid pid);
/* ms from @a to @b: the fine count, unless the coarse one (which counts
 * the threads that ended in between) exceeds it by more than its
 * resolution. */
double px_cpu_ms_between(const PxCpu *a, const PxCpu *b);
/* The same for a subprocess (NULL: 0). */
GPid px_pid(GSubprocess *p);
void px_result_clear(PxResult *r);
/* Fills @r from the frames received in [t0, t0 + measure_s) of @window
 * (0: any), latency taken against draw_ns - @offset_ns (offset: the
 * drawing clock minus the receiver's). */
void px_stats(const PxConfig *cfg, GArray *frames, guint32 window,
              gint64 t0, gint64 offset_ns, PxResult *r);

/* --- Processes ---------------------------------------------------------- */

/* Starts Xvfb (1920x1080x24) on a free display, ready once this returns:
 * sets *display (":N"). */
GSubprocess *px_xvfb_start(const char *dir, char **display, GError **error);
/* SIGTERM, then SIGKILL after @seconds; NULL-safe, unrefs. */
void px_stop(GSubprocess *p, double seconds);
/* The spawn of a benchmark program with @display and extra environment
 * (NULL-terminated KEY, VALUE pairs), output to @log (NULL: discarded). */
GSubprocess *px_spawn(const char *display, const char *log,
                      const char *const *env, GError **error,
                      const char *argv0, ...) G_GNUC_NULL_TERMINATED;
/* "frames N seconds S fps F shm B" written by tandem-bench-anim --log. */
double px_anim_log_fps(const char *path, int *shm);

/* The user's keys on an X display, through XTEST (bench-pixels-keys.c). */
typedef struct PxKeys PxKeys;
/* A connection to @display that types @keysym (0xff56: Page_Down). NULL
 * with @error when the display cannot be opened, it lacks XTEST, or no
 * key of its keymap gives @keysym. */
PxKeys *px_keys_new(const char *display, guint32 keysym, GError **error);
void px_keys_free(PxKeys *k);
/* XSetInputFocus on @window. */
void px_keys_focus(PxKeys *k, guint32 window);
/* One press and release, flushed; and how many so far. */
void px_keys_tap(PxKeys *k);
guint px_keys_count(const PxKeys *k);
/* A window (a child of the root, or of a frame there) whose WM_NAME
 * contains @text? */
gboolean px_keys_title_shown(PxKeys *k, const char *text);

/* --- Real applications (no frame stamps) ----------------------------------- */

/* An application measured as it is (xterm scrolling, mousepad paging,
 * an idle xclock): frames painted, bytes and CPU per painted frame, no
 * latency (nothing in its pixels says when it drew them). */
typedef struct {
  const char *name;          /* "xterm": the result's app */
  const char *const *argv;   /* the program (in PATH) and its arguments */
  guint32 keysym;            /* typed at key_hz while measured; 0: none */
  double key_hz;
  const char *title;         /* keys start once a window's name contains
                              * it (a file loaded); NULL: at once */
  double warmup_s, measure_s;
} PxApp;

typedef struct {
  char *system;              /* "Tandem", "Xpra 3.1.3" */
  char *transport;
  const char *app;           /* PxApp.name */
  gboolean done;             /* measured; else @note says why not */
  double seconds;            /* measured time */
  int painted;               /* frames painted in it */
  int sent;                  /* frames that reached the host (Tandem: a
                              * DAMAGE with FRAME_END); -1: unknown */
  double fps, sent_fps;      /* painted, sent per second */
  double bytes_per_frame;    /* every byte the host read from the guest's
                              * channel (Xpra: its socket) per painted
                              * frame; -1: none painted */
  double damage_bytes_per_frame; /* Tandem: the window's DAMAGE only */
  double unshown_pct;        /* sent but never painted, -1: unknown */
  double cpu_guest_ms, cpu_host_ms; /* per painted frame, -1: unknown */
  int keys;                  /* keys typed in the measured time */
  char *note;
} PxAppResult;

void px_app_result_clear(PxAppResult *r);
/* The result before measuring: nothing known. */
void px_app_result_init(PxAppResult *r, const char *system,
                        const char *transport, const char *app);

/* --- The default guest (bench-pixels-overlay.c) ---------------------------- */

typedef struct {
  const char *src;  /* a binary of this build */
  const char *dest; /* where it goes in the guest, "usr/bin/NAME" */
  gboolean data;    /* a file, not a program: no libraries to look for */
} PxOverlayFile;

typedef struct {
  const char *id;   /* desktop file name less ".desktop" */
  const char *text;
} PxOverlayApp;

/* $TANDEM_DEFAULT_GUEST, else the source tree's build/default-guest. */
char *px_guest_dir(void);
/* The guest's initramfs with an overlay of @files (and their libraries)
 * and @apps appended, written in @dir; both lists end with a NULL
 * member. */
char *px_guest_initrd(const char *guest, const char *dir,
                      const PxOverlayFile *files, const PxOverlayApp *apps,
                      GError **error);
/* A throwaway qcow2 overlay of the guest's home disk, in @dir. */
char *px_guest_home(const char *guest, const char *dir);
/* A VM configuration (TCG, 2 vCPUs, 1 GiB, SPICE) booting the guest, with
 * @cmdline_extra (may be NULL) after the kernel command line. */
char *px_guest_config(const char *guest, const char *initrd,
                      const char *home, const char *cmdline_extra);
/* Starts @vm and waits for the guest's session (its console marker);
 * *boot_s: from the start to the marker. */
gboolean px_guest_boot(TandemVm *vm, double *boot_s, GError **error);
/* Stops @vm at once (bounded). */
void px_guest_stop(TandemVm *vm);
/* A desktop entry for tandem-bench-anim: @exec (a path or a name on the
 * guest's PATH), @mode, @fps, its --log (NULL: none). */
char *px_anim_desktop(const char *exec, const char *mode, double fps,
                      const char *log);

/* --- The Tandem host ---------------------------------------------------- */

typedef struct {
  guint32 id;
  guint32 width, height;
  guint8 *fb;       /* BGRA, width x height */
  gboolean anim;    /* WM_CLASS names tandem-bench-anim */
  gint64 last_counter;
} PxWindow;

typedef struct {
  int fd;
  TpReader *reader;
  GHashTable *windows;   /* id -> PxWindow */
  guint64 bytes;         /* read from the channel */
  GArray *frames;        /* PxFrame */
  guint32 newest_anim;   /* the last window with the app's WM_CLASS */
  guint32 undecodable;   /* frames of the app's window without a stamp,
                          * after its first stamped one */
  gboolean pinging;      /* heartbeats for the clock offset */
  gint64 next_ping_ns;
  guint32 ping_seq;
  gint64 offset_ns;      /* agent's clock minus ours, best sample */
  gint64 offset_rtt_ns;  /* that sample's round trip, G_MAXINT64: none */
  gboolean hello_on_hello; /* answer the agent's first HELLO with ours
                            * (VM: ours may have gone out before the guest
                            * opened its port). Only the first: the agent
                            * answers a second host HELLO with its own,
                            * and answering every one never ends. */
  gboolean answered_hello;
  gboolean catalog_done;
  GPtrArray *catalog;    /* app ids */
  guint32 launch_status; /* G_MAXUINT32 until LAUNCH_RESULT */
  guint32 screen_width, screen_height;
  char *software;
  char *error;           /* why the channel ended */
} PxHost;

void px_host_init(PxHost *h, int fd);
void px_host_clear(PxHost *h);
void px_host_say_hello(PxHost *h);
/* HELLO both ways within @seconds. */
gboolean px_host_handshake(PxHost *h, double seconds);
/* Reads and answers the agent until @until (px_now_ns() time) or @done
 * says so; FALSE if the channel failed (h->error). */
gboolean px_host_run(PxHost *h, gint64 until,
                     gboolean (*done)(PxHost *h, gpointer data),
                     gpointer data);
void px_host_send(PxHost *h, const TpMessage *m);

/* --- The cases ---------------------------------------------------------- */

/* Tandem in loopback: Xvfb, the real agent on a UNIX socket, the app. */
gboolean px_run_tandem(const PxConfig *cfg, const char *mode, PxResult *r,
                       GError **error);
/* Xpra 3.1 forwarding the same app on the same machine. FALSE with
 * *skipped set (and @r->note) when Xpra is not installed. @r: latency to
 * the receipt of a frame; @painted (optional): to the end of its decoding
 * and painting into the client's buffer, over the same frames. */
gboolean px_run_xpra(const PxConfig *cfg, const char *mode, PxResult *r,
                     PxResult *painted, char **xpra_info, gboolean *skipped,
                     GError **error);
/* Xpra 3.1 forwarding each of @apps in turn, on one server with one
 * client (xpra-client.py --all-frames: every batch of draw packets that
 * ends with flush 0 is a frame, painted into memory and acked). An app
 * that is not installed or shows nothing gets a "not run" result; FALSE
 * only when the harness fails, or with *skipped (the note in every
 * result) when Xpra is missing. */
gboolean px_run_xpra_apps(const PxConfig *cfg, const PxApp *apps, guint n,
                          PxAppResult *results, char **xpra_info,
                          gboolean *skipped, GError **error);
/* The default guest under TCG, the app launched in it through the agent,
 * pixels over virtio-serial: one boot, both modes. */
gboolean px_run_virtio(const PxConfig *cfg, PxResult *full, PxResult *small,
                       char **vm_info, gboolean *skipped, GError **error);
