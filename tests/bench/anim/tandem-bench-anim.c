/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-bench-anim: the animated window of the pixel benchmark.
 *
 *   tandem-bench-anim [--mode full|small] [--fps N] [--seconds S]
 *                     [--content noise|gradient] [--no-shm] [--log FILE]
 *
 * One 1280x720 top-level window. Mode "full" repaints all of it every
 * frame, mode "small" only the 64x64 square of the frame stamp
 * (bench-stamp.h), which carries the frame counter and the draw time
 * (CLOCK_MONOTONIC, taken just before the frame goes to the X server), so
 * that whoever receives the pixels can tell which frame it got and how
 * old it is.
 *
 * Frames are sent with MIT-SHM PutImage (plain PutImage without the
 * extension or with --no-shm), each followed by a round trip, so the X
 * server holds every frame's pixels before the next one is drawn. --fps N
 * paces the frames on CLOCK_MONOTONIC (default 60; a frame that is late is
 * dropped, never made up for with a burst); --fps 0 draws as fast as the X
 * server takes them.
 *
 * Content "noise" (default) is a field of random pixels shifted every
 * frame: no compressor can shrink it, like video. "gradient" is smooth and
 * compresses well.
 *
 * Runs until SIGTERM/SIGINT, its window is closed (WM_DELETE_WINDOW) or
 * --seconds pass, then prints (or writes to
 * --log) one line: "frames N seconds S fps F shm 0|1".
 *
 * Plain C, libxcb and libxcb-shm only: it also runs inside the guest. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>

#include "bench-stamp.h"

#define WIDTH 1280
#define HEIGHT 720
#define TEX_WIDTH (2 * WIDTH)

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "tandem-bench-anim: %s\n", what);
  exit(1);
}

typedef struct {
  xcb_connection_t *c;
  xcb_window_t win;
  xcb_gcontext_t gc;
  uint8_t depth;
  uint8_t *img; /* WIDTH x HEIGHT, 32 bits per pixel */
  int shm;
  xcb_shm_seg_t seg;
  uint32_t max_req; /* bytes */
} Anim;

static void set_string(Anim *a, xcb_atom_t prop, xcb_atom_t type,
                       const char *s, uint32_t len) {
  xcb_change_property(a->c, XCB_PROP_MODE_REPLACE, a->win, prop, type, 8, len,
                      s);
}

static xcb_atom_t atom(Anim *a, const char *name) {
  xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(
      a->c, xcb_intern_atom(a->c, 0, (uint16_t)strlen(name), name), NULL);
  xcb_atom_t at = r ? r->atom : XCB_ATOM_NONE;
  free(r);
  return at;
}

/* The server's bits per pixel for @depth must be 32. */
static int depth_is_32bpp(const xcb_setup_t *setup, uint8_t depth) {
  xcb_format_iterator_t f = xcb_setup_pixmap_formats_iterator(setup);
  for (; f.rem; xcb_format_next(&f))
    if (f.data->depth == depth)
      return f.data->bits_per_pixel == 32;
  return 0;
}

static void setup_shm(Anim *a, int want) {
  a->shm = 0;
  if (want) {
    const xcb_query_extension_reply_t *ext =
        xcb_get_extension_data(a->c, &xcb_shm_id);
    if (ext && ext->present) {
      int id = shmget(IPC_PRIVATE, (size_t)WIDTH * HEIGHT * 4,
                      IPC_CREAT | 0600);
      if (id >= 0) {
        void *p = shmat(id, NULL, 0);
        a->seg = xcb_generate_id(a->c);
        xcb_void_cookie_t ck = xcb_shm_attach_checked(a->c, a->seg,
                                                      (uint32_t)id, 1);
        xcb_generic_error_t *err = xcb_request_check(a->c, ck);
        shmctl(id, IPC_RMID, NULL); /* gone once both sides detach */
        if (p != (void *)-1 && !err) {
          a->img = p;
          a->shm = 1;
          return;
        }
        free(err);
        if (p != (void *)-1)
          shmdt(p);
      }
    }
  }
  a->img = malloc((size_t)WIDTH * HEIGHT * 4);
  if (!a->img)
    die("out of memory");
}

/* Sends the rectangle (x, y, w, h) of the image and waits until the X
 * server has it (the round trip also keeps the app from running ahead). */
static void put(Anim *a, int x, int y, int w, int h) {
  if (a->shm) {
    xcb_shm_put_image(a->c, a->win, a->gc, WIDTH, HEIGHT, (uint16_t)x,
                      (uint16_t)y, (uint16_t)w, (uint16_t)h, (int16_t)x,
                      (int16_t)y, a->depth, XCB_IMAGE_FORMAT_Z_PIXMAP, 0,
                      a->seg, 0);
  } else {
    /* Bands of rows that fit one request. */
    int rows = (int)((a->max_req - 64) / ((uint32_t)w * 4));
    if (rows < 1)
      rows = 1;
    uint8_t *band = malloc((size_t)w * 4 * (size_t)(rows < h ? rows : h));
    if (!band)
      die("out of memory");
    for (int y0 = 0; y0 < h; y0 += rows) {
      int n = h - y0 < rows ? h - y0 : rows;
      for (int r = 0; r < n; r++)
        memcpy(band + (size_t)r * w * 4,
               a->img + ((size_t)(y + y0 + r) * WIDTH + (size_t)x) * 4,
               (size_t)w * 4);
      xcb_put_image(a->c, XCB_IMAGE_FORMAT_Z_PIXMAP, a->win, a->gc,
                    (uint16_t)w, (uint16_t)n, (int16_t)x, (int16_t)(y + y0),
                    0, a->depth, (uint32_t)(w * n * 4), band);
    }
    free(band);
  }
  free(xcb_get_input_focus_reply(a->c, xcb_get_input_focus(a->c), NULL));
}

static uint32_t xorshift(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* The frame's background: the texture shifted by a few pixels more every
 * frame, so every pixel changes. */
static void paint_background(Anim *a, const uint32_t *tex, uint32_t frame) {
  size_t shift = (frame * 7u) % WIDTH;
  for (int y = 0; y < HEIGHT; y++)
    memcpy(a->img + (size_t)y * WIDTH * 4, tex + (size_t)y * TEX_WIDTH + shift,
           WIDTH * 4);
}

static uint32_t *make_texture(int noise) {
  uint32_t *tex = malloc((size_t)TEX_WIDTH * HEIGHT * 4);
  if (!tex)
    die("out of memory");
  uint32_t s = 0x12345678u;
  for (int y = 0; y < HEIGHT; y++)
    for (int x = 0; x < TEX_WIDTH; x++) {
      uint32_t px;
      if (noise) {
        px = xorshift(&s);
      } else {
        int t = x % WIDTH;
        px = (uint32_t)(t * 255 / WIDTH) << 16 | (uint32_t)(y * 255 / HEIGHT)
             << 8 | (uint32_t)((t + y) & 0xff);
      }
      tex[(size_t)y * TEX_WIDTH + x] = px | 0xff000000u;
    }
  return tex;
}

static void usage(void) {
  fprintf(stderr, "usage: tandem-bench-anim [--mode full|small] [--fps N] "
                  "[--seconds S] [--content noise|gradient] [--no-shm] "
                  "[--log FILE]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int small = 0, noise = 1, want_shm = 1;
  double fps = 60, seconds = 0;
  const char *log_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--no-shm")) {
      want_shm = 0;
      continue;
    }
    if (!v)
      usage();
    if (!strcmp(argv[i], "--mode") && (!strcmp(v, "full") || !strcmp(v, "small")))
      small = !strcmp(v, "small");
    else if (!strcmp(argv[i], "--fps"))
      fps = atof(v);
    else if (!strcmp(argv[i], "--seconds"))
      seconds = atof(v);
    else if (!strcmp(argv[i], "--content") &&
             (!strcmp(v, "noise") || !strcmp(v, "gradient")))
      noise = !strcmp(v, "noise");
    else if (!strcmp(argv[i], "--log"))
      log_path = v;
    else
      usage();
    i++;
  }
  if (fps < 0 || seconds < 0)
    usage();

  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  Anim a = {0};
  int screen_no;
  a.c = xcb_connect(NULL, &screen_no);
  if (xcb_connection_has_error(a.c))
    die("cannot open the display");
  const xcb_setup_t *setup = xcb_get_setup(a.c);
  xcb_screen_iterator_t it = xcb_setup_roots_iterator(setup);
  for (int i = 0; i < screen_no; i++)
    xcb_screen_next(&it);
  xcb_screen_t *screen = it.data;
  a.depth = screen->root_depth;
  if (a.depth != 24 || !depth_is_32bpp(setup, a.depth))
    die("the root visual is not 24-bit colour in 32 bits per pixel");
  a.max_req = xcb_get_maximum_request_length(a.c) * 4;

  a.win = xcb_generate_id(a.c);
  uint32_t values[] = {XCB_BACK_PIXMAP_NONE, XCB_EVENT_MASK_EXPOSURE |
                                                 XCB_EVENT_MASK_STRUCTURE_NOTIFY};
  xcb_create_window(a.c, a.depth, a.win, screen->root, 0, 0, WIDTH, HEIGHT, 0,
                    XCB_WINDOW_CLASS_INPUT_OUTPUT, screen->root_visual,
                    XCB_CW_BACK_PIXMAP | XCB_CW_EVENT_MASK, values);
  static const char title[] = "tandem-bench-anim";
  static const char wm_class[] = "tandem-bench-anim\0TandemBenchAnim";
  set_string(&a, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, title, sizeof(title) - 1);
  set_string(&a, atom(&a, "_NET_WM_NAME"), atom(&a, "UTF8_STRING"), title,
             sizeof(title) - 1);
  set_string(&a, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, wm_class,
             sizeof(wm_class));
  /* A fixed size: min = max = 1280x720 (WM_NORMAL_HINTS, ICCCM layout). */
  uint32_t hints[18] = {0};
  hints[0] = (1u << 4) | (1u << 5); /* PMinSize | PMaxSize */
  hints[5] = hints[7] = WIDTH;
  hints[6] = hints[8] = HEIGHT;
  xcb_change_property(a.c, XCB_PROP_MODE_REPLACE, a.win,
                      XCB_ATOM_WM_NORMAL_HINTS, XCB_ATOM_WM_SIZE_HINTS, 32, 18,
                      hints);
  /* Closing the window (WM_DELETE_WINDOW) ends the app. */
  xcb_atom_t wm_delete = atom(&a, "WM_DELETE_WINDOW");
  xcb_change_property(a.c, XCB_PROP_MODE_REPLACE, a.win,
                      atom(&a, "WM_PROTOCOLS"), XCB_ATOM_ATOM, 32, 1,
                      &wm_delete);
  uint32_t pid = (uint32_t)getpid();
  xcb_change_property(a.c, XCB_PROP_MODE_REPLACE, a.win,
                      atom(&a, "_NET_WM_PID"), XCB_ATOM_CARDINAL, 32, 1, &pid);
  a.gc = xcb_generate_id(a.c);
  uint32_t gcv[] = {0};
  xcb_create_gc(a.c, a.gc, a.win, XCB_GC_GRAPHICS_EXPOSURES, gcv);
  setup_shm(&a, want_shm);
  uint32_t *tex = make_texture(noise);
  xcb_map_window(a.c, a.win);
  xcb_flush(a.c);

  /* Wait until the window is mapped (a window manager may map it later). */
  xcb_generic_event_t *ev;
  int mapped = 0;
  while (!mapped && !stop && (ev = xcb_wait_for_event(a.c))) {
    mapped = (ev->response_type & 0x7f) == XCB_MAP_NOTIFY;
    free(ev);
  }
  if (xcb_connection_has_error(a.c))
    die("lost the display");

  uint64_t period = fps > 0 ? (uint64_t)(1e9 / fps) : 0;
  uint64_t start = now_ns(), next = start;
  uint64_t end = seconds > 0 ? start + (uint64_t)(seconds * 1e9) : UINT64_MAX;
  uint32_t frame = 0;
  uint8_t *stamp_at = a.img + ((size_t)BENCH_STAMP_Y * WIDTH + BENCH_STAMP_X) * 4;
  /* Frame 0 is the whole window, in both modes. */
  paint_background(&a, tex, 0);
  while (!stop && now_ns() < end) {
    if (!small || frame == 0)
      paint_background(&a, tex, frame);
    BenchStamp s = {frame, now_ns(), (uint32_t)small};
    bench_stamp_draw(&s, stamp_at, WIDTH * 4);
    if (!small || frame == 0)
      put(&a, 0, 0, WIDTH, HEIGHT);
    else
      put(&a, BENCH_STAMP_X, BENCH_STAMP_Y, BENCH_STAMP_SIZE, BENCH_STAMP_SIZE);
    if (xcb_connection_has_error(a.c))
      die("lost the display");
    while ((ev = xcb_poll_for_event(a.c))) {
      if ((ev->response_type & 0x7f) == XCB_CLIENT_MESSAGE &&
          ((xcb_client_message_event_t *)ev)->data.data32[0] == wm_delete)
        stop = 1;
      free(ev);
    }
    frame++;
    if (period) {
      next += period;
      uint64_t now = now_ns();
      if (next < now) {
        next = now; /* late: drop the missed frames, no burst */
        continue;
      }
      struct timespec ts = {(time_t)(next / 1000000000u),
                            (long)(next % 1000000000u)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
                 EINTR &&
             !stop)
        ;
    }
  }
  double elapsed = (double)(now_ns() - start) / 1e9;
  FILE *out = log_path ? fopen(log_path, "w") : stdout;
  if (out) {
    fprintf(out, "frames %u seconds %.3f fps %.1f shm %d\n", frame, elapsed,
            elapsed > 0 ? frame / elapsed : 0.0, a.shm);
    if (out != stdout)
      fclose(out);
  }
  if (a.shm) {
    xcb_shm_detach(a.c, a.seg);
    shmdt(a.img);
  } else {
    free(a.img);
  }
  free(tex);
  xcb_disconnect(a.c);
  return 0;
}
