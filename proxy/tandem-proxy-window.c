/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "tandem-proxy-window.h"

#include <limits.h>
#include <lz4.h>

#include <gdk/gdkx.h>
#include <glib/gi18n.h>
#include <string.h>
#include <sys/mman.h>
#include <X11/Xlib.h>

#define ACK_FALLBACK_MS 100

struct _TandemProxyWindow {
  GtkWindow parent_instance;
  char *vm_name;
  uint32_t id;
  TandemProxyHooks hooks;
  TandemProxyWindow *parent_proxy; /* weak */
  gboolean override_redirect;
  uint8_t type;
  GtkWidget *area;

  cairo_surface_t *surface; /* guest pixels, RGB24, device scale = GDK's */
  /* The parts of the surface that hold pixels (the guest's, or kept from
   * the surface before); the rest was never written and is shown in the
   * background colour. A new surface is not painted over whole, which for
   * a large window cost more than anything else the shell does. */
  cairo_region_t *filled;
  TandemPixelRegion *pixels; /* shared with the guest, NULL: none */
  gboolean lz4_warned;       /* a bad LZ4 rectangle was logged */
  int32_t gx, gy;
  uint32_t gw, gh;
  char *title, *app_id;
  gboolean shown, placed, own_icon;
  uint32_t guest_states;
  int scale;

  uint32_t pending_ack;
  gboolean ack_due;
  gint64 frame_us;
  guint ack_timer;
  guint64 frames;
  int last_w, last_h; /* host size last sent or applied, logical px */
  int last_x, last_y; /* host position last sent */
  GtkWidget *consent; /* the "allow full screen?" question, while open */
};

G_DEFINE_TYPE(TandemProxyWindow, tandem_proxy_window, GTK_TYPE_WINDOW)

enum { SIG_FRAME_PAINTED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void send(TandemProxyWindow *self, TpMessage *m) {
  m->window = self->id;
  self->hooks.send(self, m, self->hooks.data);
}

static uint32_t mods(GdkModifierType state) {
  return (uint32_t)state & 0xffu; /* X's core modifier bits */
}

/* Host logical pixels to guest pixels. */
static int32_t gpx(TandemProxyWindow *self, double v) {
  return (int32_t)CLAMP(v * self->scale, -32768, 32767);
}

/* --- Pixels -------------------------------------------------------------- */

static gsize surface_bytes(cairo_surface_t *s) {
  return s ? (gsize)cairo_image_surface_get_stride(s) *
                 (gsize)cairo_image_surface_get_height(s)
           : 0;
}

gsize tandem_proxy_window_get_surface_bytes(TandemProxyWindow *self) {
  return surface_bytes(self->surface);
}

static void host_limit(TandemProxyWindow *self, int *w, int *h);

/* A w x h surface in memory of its own (mmap), whose pages cost nothing
 * until written: a window the guest draws 16x16 pixels of stays cheap
 * however large it says it is. (Calloc gives no such promise: with
 * MALLOC_PERTURB_ set, as in the tests, glibc writes every page.) */
typedef struct {
  void *data;
  size_t len;
} Pages;

static cairo_user_data_key_t pages_key;

static void free_pages(void *p) {
  Pages *pages = p;
  munmap(pages->data, pages->len);
  g_free(pages);
}

static cairo_surface_t *new_surface(int w, int h) {
  int stride = cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, w);
  size_t len = (size_t)stride * (size_t)h;
  void *data = mmap(NULL, len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED)
    return cairo_image_surface_create(CAIRO_FORMAT_INVALID, 0, 0);
  cairo_surface_t *s =
      cairo_image_surface_create_for_data(data, CAIRO_FORMAT_RGB24, w, h,
                                          stride);
  Pages *pages = g_new(Pages, 1);
  *pages = (Pages){data, len};
  if (cairo_surface_set_user_data(s, &pages_key, pages, free_pages) !=
      CAIRO_STATUS_SUCCESS)
    free_pages(pages); /* s is an error surface, which holds nothing */
  return s;
}

/* The surface holds the guest pixels the proxy can show: the guest's size,
 * but never more than the proxy's largest size on its monitor. It is
 * (re)allocated only when pixels arrive or are drawn, so a storm of
 * resizes costs one allocation, and only within the VM's budget (the
 * reserve hook). */
static void ensure_surface(TandemProxyWindow *self) {
  int lw = MAX(1, (int)self->gw / self->scale);
  int lh = MAX(1, (int)self->gh / self->scale);
  host_limit(self, &lw, &lh);
  int w = (int)MIN(self->gw, (uint32_t)lw * (uint32_t)self->scale);
  int h = (int)MIN(self->gh, (uint32_t)lh * (uint32_t)self->scale);
  w = MAX(w, 1);
  h = MAX(h, 1);
  if (self->surface && cairo_image_surface_get_width(self->surface) == w &&
      cairo_image_surface_get_height(self->surface) == h)
    return;
  gsize bytes = (gsize)cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, w) *
                (gsize)h;
  if (!self->hooks.reserve(self, bytes, self->hooks.data)) {
    g_clear_pointer(&self->surface, cairo_surface_destroy);
    return; /* over the VM's budget: the manager cuts the link */
  }
  cairo_surface_t *s = new_surface(w, h);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    /* Out of memory: show nothing rather than write into a surface that
     * is not there. */
    g_warning("%s: no memory for a %dx%d window", self->vm_name, w, h);
    cairo_surface_destroy(s);
    g_clear_pointer(&self->surface, cairo_surface_destroy);
    return;
  }
  cairo_region_t *filled = cairo_region_create();
  if (self->surface) {
    /* Keep what was there: no black frame while the guest redraws. */
    cairo_t *cr = cairo_create(s);
    cairo_surface_set_device_scale(self->surface, 1, 1);
    cairo_set_source_surface(cr, self->surface, 0, 0);
    cairo_paint(cr);
    cairo_destroy(cr);
    cairo_surface_destroy(self->surface);
    cairo_rectangle_int_t all = {0, 0, w, h};
    cairo_region_union(filled, self->filled);
    cairo_region_intersect_rectangle(filled, &all);
  }
  cairo_region_destroy(self->filled);
  self->filled = filled;
  cairo_surface_set_device_scale(s, self->scale, self->scale);
  self->surface = s;
}

#define MAX_FILLED_PIECES 64

/* BACKGROUND: what a part of a window shows before the guest drew it. */
#define BACKGROUND 0.96, 0.96, 0.96

/* Paints the parts never written in the background colour, so that the
 * whole surface holds pixels: for those who read it, or when the filled
 * parts have become too many to track. */
static gboolean all_filled(TandemProxyWindow *self,
                           cairo_rectangle_int_t *all) {
  *all = (cairo_rectangle_int_t){
      0, 0, cairo_image_surface_get_width(self->surface),
      cairo_image_surface_get_height(self->surface)};
  return cairo_region_contains_rectangle(self->filled, all) ==
         CAIRO_REGION_OVERLAP_IN;
}

static void fill_surface(TandemProxyWindow *self) {
  cairo_rectangle_int_t all;
  if (!self->surface || all_filled(self, &all))
    return;
  cairo_region_t *empty = cairo_region_create_rectangle(&all);
  cairo_region_subtract(empty, self->filled);
  cairo_surface_set_device_scale(self->surface, 1, 1);
  cairo_t *cr = cairo_create(self->surface);
  for (int i = 0; i < cairo_region_num_rectangles(empty); i++) {
    cairo_rectangle_int_t r;
    cairo_region_get_rectangle(empty, i, &r);
    cairo_rectangle(cr, r.x, r.y, r.width, r.height);
  }
  cairo_set_source_rgb(cr, BACKGROUND);
  cairo_fill(cr);
  cairo_destroy(cr);
  cairo_surface_set_device_scale(self->surface, self->scale, self->scale);
  cairo_region_destroy(empty);
  cairo_region_union_rectangle(self->filled, &all);
}

static void send_ack(TandemProxyWindow *self) {
  if (!self->ack_due)
    return;
  self->ack_due = FALSE;
  if (self->ack_timer)
    g_source_remove(self->ack_timer);
  self->ack_timer = 0;
  TpMessage m = {.type = TP_MSG_FRAME_ACK};
  gint64 us = g_get_monotonic_time() - self->frame_us;
  m.u.frame_ack = (TpFrameAck){self->pending_ack,
                               (uint32_t)CLAMP(us, 0, G_MAXUINT32)};
  send(self, &m);
}

/* Can the user see this proxy at all (mapped, not minimized)? */
static gboolean viewable(TandemProxyWindow *self) {
  GdkWindow *gw = gtk_widget_get_window(GTK_WIDGET(self));
  return gw && gtk_widget_get_mapped(GTK_WIDGET(self)) &&
         gdk_window_is_viewable(gw) &&
         !(gdk_window_get_state(gw) & GDK_WINDOW_STATE_ICONIFIED);
}

static gboolean ack_fallback(gpointer data) {
  TandemProxyWindow *self = data;
  self->ack_timer = 0;
  /* Shown but not drawn in time (a busy host): don't stall the guest. A
   * hidden proxy's frame waits until it is shown and drawn, so the guest
   * captures nothing nobody can see. */
  if (viewable(self))
    send_ack(self);
  return G_SOURCE_REMOVE;
}

/* Shown again: draw the last frame, which acknowledges it. */
static gboolean on_shown_again(GtkWidget *widget, GdkEvent *event,
                               gpointer data) {
  TandemProxyWindow *self = data;
  if (self->ack_due && self->area)
    gtk_widget_queue_draw(self->area);
  return FALSE;
}

/* Where @r's pixels are and how far apart its rows: in the message, or
 * in the shared region for TP_ENCODING_SHM. NULL (logged) if they are
 * nowhere this window may read. */
/* One buffer for every window's LZ4 rectangles: each is copied out of it
 * before the next is decoded, and none expands past 16 MiB (the protocol
 * says so), so a guest cannot make the shell hold more. */
static uint8_t *lz4_buf;
static size_t lz4_buf_size;

static const uint8_t *rect_pixels(TandemProxyWindow *self, uint8_t encoding,
                                  const TpRect *r, size_t *stride) {
  size_t bpp = encoding == TP_ENCODING_LZ4_BGR ? 3 : 4;
  *stride = (size_t)r->width * bpp;
  if (encoding == TP_ENCODING_RAW)
    return r->data;
  if (encoding == TP_ENCODING_LZ4 || encoding == TP_ENCODING_LZ4_BGR) {
    size_t raw = (size_t)r->width * r->height * bpp;
    if (raw > TP_MAX_DAMAGE_PAYLOAD || r->len > INT_MAX)
      return NULL; /* the decoder refused it already */
    if (lz4_buf_size < raw) {
      g_free(lz4_buf);
      lz4_buf_size = MAX(raw, (size_t)1 << 20);
      lz4_buf = g_malloc(lz4_buf_size);
    }
    int n = LZ4_decompress_safe((const char *)r->data, (char *)lz4_buf,
                                (int)r->len, (int)raw);
    if (n == (int)raw)
      return lz4_buf;
    if (!self->lz4_warned)
      g_warning("%s: window %u: a %ux%u LZ4 rectangle does not decode to "
                "its size (%d of %zu bytes): not drawn (once per window)",
                self->vm_name, self->id, r->width, r->height, n, raw);
    self->lz4_warned = TRUE;
    return NULL;
  }
  if (encoding == TP_ENCODING_SHM && self->pixels) {
    TpError err;
    const uint8_t *p = tandem_pixel_region_locate(self->pixels, r, stride,
                                                  &err);
    if (!p)
      g_warning("%s: window %u: a rectangle %ux%u at %u,%u in shared memory "
                "is not within it (%s): not drawn",
                self->vm_name, self->id, r->width, r->height, r->x, r->y,
                tp_error_to_string(err));
    return p;
  }
  g_warning("%s: window %u: pixels encoded as %u, which was not negotiated: "
            "not drawn", self->vm_name, self->id, encoding);
  return NULL;
}

/* Draw that part of the surface (guest pixels) at the next paint. */
static void queue_area(TandemProxyWindow *self, GdkWindow *gw, int x, int y,
                       int w, int h) {
  if (!gw)
    return;
  gtk_widget_queue_draw_area(self->area, x / self->scale, y / self->scale,
                             (w + self->scale - 1) / self->scale + 1,
                             (h + self->scale - 1) / self->scale + 1);
}

/* A TP_ENCODING_COPY rectangle: the window's pixels moved within it (a
 * scroll), as far as both ends lie in the surface. What comes from a part
 * the host never had (outside the surface, or never drawn) is not filled
 * afterwards: it shows the background until the guest draws it. */
static void apply_copy(TandemProxyWindow *self, const TpRect *r, int sw,
                       int sh, int stride, uint8_t *data) {
  TpCopyRef ref;
  if (tp_copy_ref_read(r, &ref) != TP_OK)
    return; /* the link checked it already */
  cairo_rectangle_int_t dst = {r->x, r->y, r->width, r->height};
  int w = MIN(MIN((int)r->width, sw - (int)r->x), sw - (int)ref.src_x);
  int h = MIN(MIN((int)r->height, sh - (int)r->y), sh - (int)ref.src_y);
  /* Which pixels of the destination will hold something: the filled part
   * of the source, moved there. */
  cairo_region_t *moved = cairo_region_copy(self->filled);
  cairo_rectangle_int_t src = {ref.src_x, ref.src_y, MAX(w, 0), MAX(h, 0)};
  cairo_region_intersect_rectangle(moved, &src);
  cairo_region_translate(moved, (int)r->x - (int)ref.src_x,
                         (int)r->y - (int)ref.src_y);
  if (w > 0 && h > 0) {
    size_t row = (size_t)w * 4;
    /* Rows in the order that never reads one already overwritten. */
    gboolean down = r->y > ref.src_y;
    for (int i = 0; i < h; i++) {
      int y = down ? h - 1 - i : i;
      memmove(data + (size_t)(r->y + y) * (size_t)stride + (size_t)r->x * 4,
              data + (size_t)(ref.src_y + y) * (size_t)stride +
                  (size_t)ref.src_x * 4,
              row);
    }
  }
  cairo_region_subtract_rectangle(self->filled, &dst);
  cairo_region_union(self->filled, moved);
  cairo_region_destroy(moved);
  if (w > 0 && h > 0)
    cairo_surface_mark_dirty_rectangle(self->surface, r->x, r->y, w, h);
}

static void apply_damage(TandemProxyWindow *self, const TpDamage *d) {
  ensure_surface(self);
  if (!self->surface)
    return;
  int sw = cairo_image_surface_get_width(self->surface);
  int sh = cairo_image_surface_get_height(self->surface);
  int stride = cairo_image_surface_get_stride(self->surface);
  cairo_surface_flush(self->surface);
  uint8_t *dst = cairo_image_surface_get_data(self->surface);
  GdkWindow *gw = gtk_widget_get_window(self->area);
  for (uint16_t i = 0; i < d->n_rects; i++) {
    const TpRect *r = &d->rects[i];
    /* The guest's rectangle, clipped to what this window is now. */
    int w = MIN((int)r->width, sw - (int)r->x);
    int h = MIN((int)r->height, sh - (int)r->y);
    if (w <= 0 || h <= 0)
      continue;
    if (d->encoding == TP_ENCODING_COPY) {
      apply_copy(self, r, sw, sh, stride, dst);
      queue_area(self, gw, r->x, r->y, w, h);
      continue;
    }
    size_t src_stride;
    const uint8_t *src = rect_pixels(self, d->encoding, r, &src_stride);
    if (!src)
      break;
    if (d->encoding == TP_ENCODING_LZ4_BGR)
      for (int y = 0; y < h; y++) {
        const uint8_t *s = src + (size_t)y * src_stride;
        uint8_t *o = dst + (size_t)(r->y + y) * (size_t)stride +
                     (size_t)r->x * 4;
        for (int x = 0; x < w; x++, s += 3, o += 4) {
          o[0] = s[0];
          o[1] = s[1];
          o[2] = s[2];
          o[3] = 0xff;
        }
      }
    else
      for (int y = 0; y < h; y++)
        memcpy(dst + (size_t)(r->y + y) * (size_t)stride + (size_t)r->x * 4,
               src + (size_t)y * src_stride, (size_t)w * 4);
    cairo_surface_mark_dirty_rectangle(self->surface, r->x, r->y, w, h);
    cairo_region_union_rectangle(self->filled,
                                 &(cairo_rectangle_int_t){r->x, r->y, w, h});
    queue_area(self, gw, r->x, r->y, w, h);
  }
  /* A guest drawing a checkerboard must not make the region costly: past
   * a few dozen pieces, the rest is painted once and the region is whole. */
  if (cairo_region_num_rectangles(self->filled) > MAX_FILLED_PIECES)
    fill_surface(self);
  if (d->flags & TP_DAMAGE_FRAME_END) {
    /* A frame not painted yet is simply superseded by this newer one. */
    self->pending_ack = d->frame_seq;
    self->ack_due = TRUE;
    self->frame_us = g_get_monotonic_time();
    self->frames++;
    if (!self->ack_timer)
      self->ack_timer = g_timeout_add(ACK_FALLBACK_MS, ack_fallback, self);
  }
}

static gboolean on_draw(GtkWidget *area, cairo_t *cr, gpointer data) {
  TandemProxyWindow *self = data;
  ensure_surface(self);
  cairo_rectangle_int_t all;
  if (self->surface && !all_filled(self, &all)) {
    /* Not drawn by the guest yet: the background there. */
    cairo_set_source_rgb(cr, BACKGROUND);
    cairo_paint(cr);
    for (int i = 0; i < cairo_region_num_rectangles(self->filled); i++) {
      cairo_rectangle_int_t r;
      cairo_region_get_rectangle(self->filled, i, &r);
      cairo_rectangle(cr, (double)r.x / self->scale, (double)r.y / self->scale,
                      (double)r.width / self->scale,
                      (double)r.height / self->scale);
    }
    cairo_clip(cr);
  }
  if (self->surface) {
    cairo_set_source_surface(cr, self->surface, 0, 0);
    cairo_paint(cr);
  }
  if (self->ack_due) {
    uint32_t seq = self->pending_ack;
    /* The ack may find the link gone, whose end closes this proxy: it
     * stays alive for the signal. */
    g_object_ref(self);
    send_ack(self);
    g_signal_emit(self, signals[SIG_FRAME_PAINTED], 0, (guint)seq);
    g_object_unref(self);
  }
  return TRUE;
}

cairo_surface_t *tandem_proxy_window_get_surface(TandemProxyWindow *self) {
  fill_surface(self);
  return self->surface;
}

gboolean tandem_proxy_window_is_asking(TandemProxyWindow *self) {
  return self->consent != NULL;
}

/* --- Geometry ------------------------------------------------------------ */

/* A monitor's work area, asked of the X server at most once a second per
 * monitor: GDK asks it again (a round trip or three) on every call, and a
 * guest showing hundreds of windows must not make the shell wait on the X
 * server hundreds of times. A panel that moves is seen within a second. */
typedef struct {
  GdkRectangle area;
  gint64 when_us;
} WorkArea;

static void workarea(GdkMonitor *mon, GdkRectangle *out) {
  WorkArea *c = g_object_get_data(G_OBJECT(mon), "tandem-workarea");
  gint64 now = g_get_monotonic_time();
  if (!c) {
    c = g_new0(WorkArea, 1);
    g_object_set_data_full(G_OBJECT(mon), "tandem-workarea", c, g_free);
  } else if (now - c->when_us < G_USEC_PER_SEC) {
    *out = c->area;
    return;
  }
  gdk_monitor_get_workarea(mon, &c->area);
  c->when_us = now;
  *out = c->area;
}

/* Keeps a window on a monitor: never lost off every screen. */
static void clamp_to_monitor(TandemProxyWindow *self, int *x, int *y, int w,
                             int h) {
  GdkDisplay *dpy = gtk_widget_get_display(GTK_WIDGET(self));
  GdkMonitor *mon = gdk_display_get_monitor_at_point(dpy, *x, *y);
  if (!mon)
    mon = gdk_display_get_primary_monitor(dpy);
  if (!mon)
    return;
  GdkRectangle a;
  workarea(mon, &a);
  *x = w >= a.width ? a.x : CLAMP(*x, a.x, a.x + a.width - w);
  *y = h >= a.height ? a.y : CLAMP(*y, a.y, a.y + a.height - h);
}

/* The monitor a proxy belongs on: its parent's (the one under the
 * parent's centre, from its last configure event: no round trip),
 * else the one at (x, y). */
static GdkMonitor *home_monitor(TandemProxyWindow *self, int x, int y) {
  GdkDisplay *dpy = gtk_widget_get_display(GTK_WIDGET(self));
  TandemProxyWindow *p = self->parent_proxy;
  if (p && p->shown && p->last_w > 0) {
    x = p->last_x + p->last_w / 2; /* where the host last put it */
    y = p->last_y + p->last_h / 2;
  } else if (p) {
    x = p->gx / p->scale;
    y = p->gy / p->scale;
  }
  GdkMonitor *mon = gdk_display_get_monitor_at_point(dpy, x, y);
  return mon ? mon : gdk_display_get_primary_monitor(dpy);
}

/* The screen is the user's: a guest window is never larger than its
 * monitor's work area, and leaves an eighth of it free in each direction,
 * so that it can never pose as the whole desktop (menus, tooltips and
 * splash screens show no VM name). Filling the screen is the user's to
 * give: maximized by the host's window manager, or full screen after
 * ask_fullscreen(). Logical pixels. */
static void host_limit(TandemProxyWindow *self, int *w, int *h) {
  GdkWindow *win = gtk_widget_get_window(GTK_WIDGET(self));
  gboolean given = win && (gdk_window_get_state(win) &
                           (GDK_WINDOW_STATE_MAXIMIZED |
                            GDK_WINDOW_STATE_FULLSCREEN));
  GdkMonitor *mon = home_monitor(self, self->gx / self->scale,
                                 self->gy / self->scale);
  if (!mon)
    return;
  GdkRectangle a;
  workarea(mon, &a);
  int mw = MAX(a.width, 1), mh = MAX(a.height, 1);
  if (!given) {
    mw = MAX(mw - mw / 8, 1);
    mh = MAX(mh - mh / 8, 1);
  }
  *w = MIN(*w, mw);
  *h = MIN(*h, mh);
}

/* Does the proxy, at its largest, cover (nearly) all of its monitor? */
static gboolean covers_monitor(TandemProxyWindow *self) {
  int w = G_MAXINT, h = G_MAXINT;
  host_limit(self, &w, &h); /* the work area, less an eighth */
  int gw = (int)self->gw / self->scale, gh = (int)self->gh / self->scale;
  return gw >= w - w / 8 && gh >= h - h / 8;
}

static void place(TandemProxyWindow *self) {
  int w = MAX(1, (int)self->gw / self->scale);
  int h = MAX(1, (int)self->gh / self->scale);
  host_limit(self, &w, &h);
  int x = self->gx / self->scale, y = self->gy / self->scale;
  if (self->parent_proxy && (self->override_redirect || !self->placed)) {
    /* Menus and tooltips sit where the guest put them relative to their
     * parent, wherever the parent's proxy is on the host. */
    int px, py, pw, ph;
    gtk_window_get_position(GTK_WINDOW(self->parent_proxy), &px, &py);
    x = px + (self->gx - self->parent_proxy->gx) / self->scale;
    y = py + (self->gy - self->parent_proxy->gy) / self->scale;
    /* A borderless window stays next to its parent, touching it at least:
     * never anywhere on the screen, as if it were the host's own. */
    gtk_window_get_size(GTK_WINDOW(self->parent_proxy), &pw, &ph);
    if (self->override_redirect) {
      x = CLAMP(x, px - w, px + pw);
      y = CLAMP(y, py - h, py + ph);
    }
  }
  clamp_to_monitor(self, &x, &y, w, h);
  gtk_window_move(GTK_WINDOW(self), x, y);
  self->placed = TRUE;
}

static void apply_size(TandemProxyWindow *self) {
  int w = MAX(1, (int)self->gw / self->scale);
  int h = MAX(1, (int)self->gh / self->scale);
  host_limit(self, &w, &h);
  if (gtk_widget_get_mapped(self->area))
    gtk_widget_queue_draw(self->area); /* the surface follows there */
  gtk_widget_set_size_request(self->area, self->override_redirect ? w : 1,
                              self->override_redirect ? h : 1);
  if (w != self->last_w || h != self->last_h) {
    self->last_w = w;
    self->last_h = h;
    gtk_window_resize(GTK_WINDOW(self), w, h);
  }
}

static gboolean on_configure(GtkWidget *widget, GdkEventConfigure *ev,
                             gpointer data) {
  TandemProxyWindow *self = data;
  if (!self->shown || self->override_redirect)
    return FALSE;
  uint32_t flags = 0;
  if (ev->width != self->last_w || ev->height != self->last_h) {
    /* The user resized the proxy: the guest window follows. */
    self->last_w = ev->width;
    self->last_h = ev->height;
    flags |= TP_RESIZE;
  }
  if (ev->x != self->last_x || ev->y != self->last_y) {
    /* Moved: the guest window follows as far as the guest's screen lets
     * it (the agent keeps it reachable there). */
    self->last_x = ev->x;
    self->last_y = ev->y;
    flags |= TP_MOVE;
  }
  if (!flags)
    return FALSE;
  TpMessage m = {.type = TP_MSG_WINDOW_MOVE_RESIZE};
  m.u.move_resize = (TpMoveResize){
      gpx(self, ev->x), gpx(self, ev->y),
      (uint32_t)CLAMP(ev->width * self->scale, 1, (int)TP_MAX_WINDOW_DIM),
      (uint32_t)CLAMP(ev->height * self->scale, 1, (int)TP_MAX_WINDOW_DIM),
      flags};
  send(self, &m);
  return FALSE;
}

static void apply_hints(TandemProxyWindow *self, const TpWindowHints *h) {
  GdkGeometry g = {0};
  GdkWindowHints mask = 0;
  int s = self->scale;
  if (h->flags & TP_HINT_MIN_SIZE) {
    g.min_width = (int)h->min_width / s;
    g.min_height = (int)h->min_height / s;
    mask |= GDK_HINT_MIN_SIZE;
  }
  if (h->flags & TP_HINT_MAX_SIZE) {
    g.max_width = MAX(1, (int)h->max_width / s);
    g.max_height = MAX(1, (int)h->max_height / s);
    mask |= GDK_HINT_MAX_SIZE;
  }
  if ((h->flags & TP_HINT_RESIZE_INC) && h->width_inc && h->height_inc) {
    g.width_inc = MAX(1, (int)h->width_inc / s);
    g.height_inc = MAX(1, (int)h->height_inc / s);
    mask |= GDK_HINT_RESIZE_INC;
  }
  if (h->flags & TP_HINT_BASE_SIZE) {
    g.base_width = (int)h->base_width / s;
    g.base_height = (int)h->base_height / s;
    mask |= GDK_HINT_BASE_SIZE;
  }
  gtk_window_set_geometry_hints(GTK_WINDOW(self), NULL, &g, mask);
}

/* --- Title, icon, states -------------------------------------------------- */

static void apply_title(TandemProxyWindow *self, const char *guest_title) {
  g_free(self->title);
  self->title = g_strdup(guest_title);
  /* Always marked as the VM's: a guest cannot pose as a host window. */
  g_autofree char *shown = *guest_title
                               ? g_strdup_printf(_("%s — %s"), guest_title,
                                                 self->vm_name)
                               : g_strdup(self->vm_name);
  gtk_window_set_title(GTK_WINDOW(self), shown);
}

static void apply_icon(TandemProxyWindow *self, const TpWindowIcon *icon) {
  GdkPixbuf *pb = gdk_pixbuf_new(GDK_COLORSPACE_RGB, TRUE, 8,
                                 (int)icon->width, (int)icon->height);
  if (!pb)
    return;
  uint8_t *px = gdk_pixbuf_get_pixels(pb);
  int stride = gdk_pixbuf_get_rowstride(pb);
  for (uint32_t y = 0; y < icon->height; y++)
    for (uint32_t x = 0; x < icon->width; x++) {
      uint32_t v;
      memcpy(&v, icon->argb.data + ((size_t)y * icon->width + x) * 4, 4);
      uint8_t *o = px + (size_t)y * (size_t)stride + x * 4;
      o[0] = (uint8_t)(v >> 16);
      o[1] = (uint8_t)(v >> 8);
      o[2] = (uint8_t)v;
      o[3] = (uint8_t)(v >> 24);
    }
  gtk_window_set_icon(GTK_WINDOW(self), pb);
  g_object_unref(pb);
  self->own_icon = TRUE;
}

void tandem_proxy_window_set_app_icon(TandemProxyWindow *self, GBytes *png) {
  if (self->own_icon)
    return;
  g_autoptr(GdkPixbufLoader) l = gdk_pixbuf_loader_new_with_type("png", NULL);
  gsize n;
  const guchar *d = g_bytes_get_data(png, &n);
  /* The exporter checked it; still, decoding it stays bounded. */
  gdk_pixbuf_loader_set_size(l, 64, 64);
  gboolean ok = l && gdk_pixbuf_loader_write(l, d, n, NULL);
  ok = l && gdk_pixbuf_loader_close(l, NULL) && ok;
  if (ok && gdk_pixbuf_loader_get_pixbuf(l))
    gtk_window_set_icon(GTK_WINDOW(self), gdk_pixbuf_loader_get_pixbuf(l));
}

static void on_consent(GtkDialog *d, int response, gpointer data) {
  TandemProxyWindow *self = data;
  gtk_widget_destroy(GTK_WIDGET(d));
  self->consent = NULL;
  if (response == GTK_RESPONSE_ACCEPT) {
    gtk_window_fullscreen(GTK_WINDOW(self));
    return;
  }
  /* Not granted: the guest application learns it is not full screen. */
  TpMessage m = {.type = TP_MSG_WINDOW_SET_STATE};
  m.u.set_state = (TpSetState){TP_STATE_FULLSCREEN, 0};
  send(self, &m);
}

/* Covering the whole host screen, over the host's own windows, needs the
 * user's yes: a guest must not be able to pose as the host desktop. */
static void ask_fullscreen(TandemProxyWindow *self) {
  if (self->consent)
    return;
  if (!self->hooks.may_ask(self, self->hooks.data)) {
    /* One question per VM at a time: no wall of dialogs. */
    TpMessage m = {.type = TP_MSG_WINDOW_SET_STATE};
    m.u.set_state = (TpSetState){TP_STATE_FULLSCREEN, 0};
    send(self, &m);
    return;
  }
  self->consent = gtk_message_dialog_new(
      GTK_WINDOW(self), GTK_DIALOG_DESTROY_WITH_PARENT,
      GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE,
      _("“%s” in the virtual machine “%s” wants to fill the whole screen."),
      self->title && *self->title ? self->title : _("A window"),
      self->vm_name);
  gtk_window_set_title(GTK_WINDOW(self->consent), _("Full Screen?"));
  gtk_message_dialog_format_secondary_text(
      GTK_MESSAGE_DIALOG(self->consent),
      _("While it does, your own windows are hidden behind it. Press F11 or "
        "use the window's menu to leave full screen."));
  gtk_dialog_add_buttons(GTK_DIALOG(self->consent), _("_Not Now"),
                         GTK_RESPONSE_REJECT, _("_Allow"),
                         GTK_RESPONSE_ACCEPT, NULL);
  g_signal_connect(self->consent, "response", G_CALLBACK(on_consent), self);
  gtk_widget_show(self->consent);
}

static void apply_states(TandemProxyWindow *self, uint32_t states) {
  uint32_t old = self->guest_states;
  self->guest_states = states;
  GtkWindow *win = GTK_WINDOW(self);
  gtk_window_set_urgency_hint(win,
                              (states & TP_STATE_DEMANDS_ATTENTION) != 0);
  if ((states ^ old) & TP_STATE_HIDDEN) {
    if (states & TP_STATE_HIDDEN)
      gtk_window_iconify(win);
    else
      gtk_window_deiconify(win);
  }
  uint32_t max = TP_STATE_MAXIMIZED_HORZ | TP_STATE_MAXIMIZED_VERT;
  if ((states ^ old) & max) {
    if ((states & max) == max)
      gtk_window_maximize(win);
    else if (!(states & max))
      gtk_window_unmaximize(win);
  }
  if ((states & ~old) & TP_STATE_FULLSCREEN)
    ask_fullscreen(self);
  else if ((old & ~states) & TP_STATE_FULLSCREEN)
    gtk_window_unfullscreen(win);
  /* Above the user's windows only when it leaves room beside it. */
  gtk_window_set_keep_above(
      win, (states & TP_STATE_ABOVE) != 0 && !covers_monitor(self));
  gtk_window_set_skip_taskbar_hint(win,
                                   (states & TP_STATE_SKIP_TASKBAR) != 0);
}

static gboolean on_window_state(GtkWidget *widget, GdkEventWindowState *ev,
                                gpointer data) {
  TandemProxyWindow *self = data;
  uint32_t want = 0, mask = 0;
  if (ev->changed_mask & GDK_WINDOW_STATE_ICONIFIED) {
    mask |= TP_STATE_HIDDEN;
    if (ev->new_window_state & GDK_WINDOW_STATE_ICONIFIED)
      want |= TP_STATE_HIDDEN;
  }
  if (ev->changed_mask & GDK_WINDOW_STATE_MAXIMIZED) {
    mask |= TP_STATE_MAXIMIZED_HORZ | TP_STATE_MAXIMIZED_VERT;
    if (ev->new_window_state & GDK_WINDOW_STATE_MAXIMIZED)
      want |= TP_STATE_MAXIMIZED_HORZ | TP_STATE_MAXIMIZED_VERT;
  }
  if (ev->changed_mask & GDK_WINDOW_STATE_FULLSCREEN) {
    mask |= TP_STATE_FULLSCREEN;
    if (ev->new_window_state & GDK_WINDOW_STATE_FULLSCREEN)
      want |= TP_STATE_FULLSCREEN;
  }
  /* Only changes the guest does not already have: no echo loops. */
  if (mask && (self->guest_states & mask) != want) {
    TpMessage m = {.type = TP_MSG_WINDOW_SET_STATE};
    m.u.set_state = (TpSetState){mask, want & mask};
    send(self, &m);
  }
  return FALSE;
}

/* --- Input ---------------------------------------------------------------- */

static gboolean on_key(GtkWidget *widget, GdkEventKey *ev, gpointer data) {
  TandemProxyWindow *self = data;
  if (ev->hardware_keycode < TP_MIN_KEYCODE ||
      !self->hooks.may_type(self, self->hooks.data))
    return TRUE; /* keys never go to a window the user is not in */
  TpMessage m = {.type = TP_MSG_KEY};
  m.u.key = (TpKey){ev->hardware_keycode, ev->keyval, mods(ev->state),
                    ev->type == GDK_KEY_PRESS, ev->time};
  send(self, &m);
  return TRUE;
}

static gboolean on_button(GtkWidget *widget, GdkEventButton *ev,
                          gpointer data) {
  TandemProxyWindow *self = data;
  if (ev->type != GDK_BUTTON_PRESS && ev->type != GDK_BUTTON_RELEASE)
    return TRUE; /* double/triple clicks: the guest counts for itself */
  if (ev->button < 1 || ev->button > TP_MAX_BUTTON)
    return TRUE;
  TpMessage m = {.type = TP_MSG_BUTTON};
  m.u.button = (TpButton){ev->button, ev->type == GDK_BUTTON_PRESS,
                          gpx(self, ev->x), gpx(self, ev->y),
                          mods(ev->state), ev->time};
  send(self, &m);
  return TRUE;
}

static gboolean on_motion(GtkWidget *widget, GdkEventMotion *ev,
                          gpointer data) {
  TandemProxyWindow *self = data;
  TpMessage m = {.type = TP_MSG_MOTION};
  m.u.motion = (TpMotion){gpx(self, ev->x), gpx(self, ev->y),
                          mods(ev->state), ev->time};
  send(self, &m);
  return TRUE;
}

static gboolean on_scroll(GtkWidget *widget, GdkEventScroll *ev,
                          gpointer data) {
  TandemProxyWindow *self = data;
  TpMessage m = {.type = TP_MSG_SCROLL};
  TpScroll *s = &m.u.scroll;
  s->x = gpx(self, ev->x);
  s->y = gpx(self, ev->y);
  s->modifiers = mods(ev->state);
  s->time_ms = ev->time;
  switch (ev->direction) {
  case GDK_SCROLL_UP:
    s->discrete_y = -1;
    break;
  case GDK_SCROLL_DOWN:
    s->discrete_y = 1;
    break;
  case GDK_SCROLL_LEFT:
    s->discrete_x = -1;
    break;
  case GDK_SCROLL_RIGHT:
    s->discrete_x = 1;
    break;
  case GDK_SCROLL_SMOOTH:
    s->smooth_x = (int32_t)CLAMP(ev->delta_x * 65536.0, -(1 << 28), 1 << 28);
    s->smooth_y = (int32_t)CLAMP(ev->delta_y * 65536.0, -(1 << 28), 1 << 28);
    break;
  }
  send(self, &m);
  return TRUE;
}

static gboolean on_crossing(GtkWidget *widget, GdkEventCrossing *ev,
                            gpointer data) {
  TandemProxyWindow *self = data;
  TpMessage m = {.type = TP_MSG_CROSSING};
  m.u.crossing = (TpCrossing){ev->type == GDK_ENTER_NOTIFY, gpx(self, ev->x),
                              gpx(self, ev->y), mods(ev->state), ev->time};
  send(self, &m);
  return FALSE;
}

static gboolean on_focus(GtkWidget *widget, GdkEventFocus *ev,
                         gpointer data) {
  TandemProxyWindow *self = data;
  self->hooks.focus(self, ev->in, self->hooks.data);
  return FALSE;
}

void tandem_proxy_window_send_key_state(TandemProxyWindow *self) {
  TpMessage m = {.type = TP_MSG_KEY_STATE};
  GdkDisplay *dpy = gtk_widget_get_display(GTK_WIDGET(self));
  if (GDK_IS_X11_DISPLAY(dpy)) {
    char keys[32];
    XQueryKeymap(GDK_DISPLAY_XDISPLAY(dpy), keys);
    memcpy(m.u.key_state.keys, keys, 32);
  }
  GdkKeymap *km = gdk_keymap_get_for_display(dpy);
  m.u.key_state.modifiers = gdk_keymap_get_modifier_state(km) & 0xffu;
  for (int k = 0; k < (int)TP_MIN_KEYCODE; k++) /* not keys, on the wire */
    m.u.key_state.keys[k / 8] &= (uint8_t) ~(1u << (k % 8));
  send(self, &m);
}

static gboolean on_delete(GtkWidget *widget, GdkEvent *ev, gpointer data) {
  TandemProxyWindow *self = data;
  TpMessage m = {.type = TP_MSG_WINDOW_CLOSE};
  send(self, &m); /* the guest app decides (it may ask to save) */
  return TRUE;
}

static void on_scale(GObject *obj, GParamSpec *pspec, gpointer data) {
  TandemProxyWindow *self = data;
  int s = gtk_widget_get_scale_factor(GTK_WIDGET(self));
  if (s < 1 || s == self->scale)
    return;
  self->scale = s;
  if (self->surface)
    cairo_surface_set_device_scale(self->surface, s, s);
  self->last_w = self->last_h = 0;
  apply_size(self);
}

/* --- Messages from the guest ---------------------------------------------- */

void tandem_proxy_window_handle(TandemProxyWindow *self, const TpMessage *m) {
  switch (m->type) {
  case TP_MSG_WINDOW_MAP:
    if (!self->shown) {
      self->shown = TRUE;
      apply_size(self);
      place(self);
      gtk_widget_show(GTK_WIDGET(self));
    }
    break;
  case TP_MSG_WINDOW_UNMAP:
    self->shown = FALSE;
    self->placed = FALSE;
    gtk_widget_hide(GTK_WIDGET(self));
    send_ack(self);
    break;
  case TP_MSG_WINDOW_CONFIGURE: {
    const TpWindowConfigure *c = &m->u.configure;
    gboolean moved = c->x != self->gx || c->y != self->gy;
    self->gx = c->x;
    self->gy = c->y;
    self->gw = c->width;
    self->gh = c->height;
    apply_size(self);
    if (self->shown && moved && self->override_redirect)
      place(self);
    break;
  }
  case TP_MSG_WINDOW_TITLE:
    apply_title(self, m->u.title.title);
    break;
  case TP_MSG_WINDOW_ICON:
    apply_icon(self, &m->u.icon);
    break;
  case TP_MSG_WINDOW_HINTS:
    if (!self->override_redirect)
      apply_hints(self, &m->u.hints);
    break;
  case TP_MSG_WINDOW_STATE:
    apply_states(self, m->u.state.states);
    break;
  case TP_MSG_DAMAGE:
    apply_damage(self, &m->u.damage);
    break;
  default:
    break;
  }
}

/* --- Life ------------------------------------------------------------------ */

void tandem_proxy_window_set_app(TandemProxyWindow *self, const char *app_id,
                                 const char *wm_class) {
  g_free(self->app_id);
  self->app_id = g_strdup(app_id);
  if (wm_class && !gtk_widget_get_realized(GTK_WIDGET(self))) {
    /* Each guest application its own taskbar entry and Alt-Tab icon. */
    G_GNUC_BEGIN_IGNORE_DEPRECATIONS
    gtk_window_set_wmclass(GTK_WINDOW(self), wm_class, wm_class);
    G_GNUC_END_IGNORE_DEPRECATIONS
  }
}

static GdkWindowTypeHint type_hint(uint8_t type) {
  switch (type) {
  case TP_WINDOW_TYPE_DIALOG: return GDK_WINDOW_TYPE_HINT_DIALOG;
  case TP_WINDOW_TYPE_UTILITY: return GDK_WINDOW_TYPE_HINT_UTILITY;
  case TP_WINDOW_TYPE_TOOLBAR: return GDK_WINDOW_TYPE_HINT_TOOLBAR;
  case TP_WINDOW_TYPE_SPLASH: return GDK_WINDOW_TYPE_HINT_SPLASHSCREEN;
  case TP_WINDOW_TYPE_MENU: return GDK_WINDOW_TYPE_HINT_MENU;
  case TP_WINDOW_TYPE_DROPDOWN_MENU: return GDK_WINDOW_TYPE_HINT_DROPDOWN_MENU;
  case TP_WINDOW_TYPE_POPUP_MENU: return GDK_WINDOW_TYPE_HINT_POPUP_MENU;
  case TP_WINDOW_TYPE_TOOLTIP: return GDK_WINDOW_TYPE_HINT_TOOLTIP;
  case TP_WINDOW_TYPE_NOTIFICATION: return GDK_WINDOW_TYPE_HINT_NOTIFICATION;
  case TP_WINDOW_TYPE_COMBO: return GDK_WINDOW_TYPE_HINT_COMBO;
  case TP_WINDOW_TYPE_DND: return GDK_WINDOW_TYPE_HINT_DND;
  default: return GDK_WINDOW_TYPE_HINT_NORMAL;
  }
}

TandemProxyWindow *tandem_proxy_window_new(const char *vm_name,
                                           uint32_t guest_id,
                                           const TpWindowCreate *c,
                                           TandemProxyWindow *parent,
                                           const TandemProxyHooks *hooks) {
  TandemProxyWindow *self = g_object_new(
      TANDEM_TYPE_PROXY_WINDOW, "type",
      c->override_redirect ? GTK_WINDOW_POPUP : GTK_WINDOW_TOPLEVEL, NULL);
  self->vm_name = g_strdup(vm_name);
  self->id = guest_id;
  self->hooks = *hooks;
  self->override_redirect = c->override_redirect;
  self->type = c->window_type;
  self->gx = c->x;
  self->gy = c->y;
  self->gw = c->width;
  self->gh = c->height;
  self->scale = MAX(1, gtk_widget_get_scale_factor(GTK_WIDGET(self)));
  g_signal_connect(self, "map-event", G_CALLBACK(on_shown_again), self);
  g_signal_connect(self, "window-state-event", G_CALLBACK(on_shown_again),
                   self);
  if (parent) {
    self->parent_proxy = parent;
    g_object_add_weak_pointer(G_OBJECT(parent),
                              (gpointer *)&self->parent_proxy);
    if (!c->override_redirect)
      gtk_window_set_transient_for(GTK_WINDOW(self), GTK_WINDOW(parent));
  }
  GtkWindow *win = GTK_WINDOW(self);
  gtk_window_set_type_hint(win, type_hint(c->window_type));
  /* Focus is the focus logic's to give, not the window manager's. */
  gtk_window_set_focus_on_map(win, FALSE);
  apply_title(self, "");

  self->area = gtk_drawing_area_new();
  gtk_widget_set_can_focus(self->area, TRUE);
  gtk_widget_add_events(self->area,
                        GDK_POINTER_MOTION_MASK | GDK_BUTTON_PRESS_MASK |
                            GDK_BUTTON_RELEASE_MASK | GDK_SCROLL_MASK |
                            GDK_SMOOTH_SCROLL_MASK | GDK_ENTER_NOTIFY_MASK |
                            GDK_LEAVE_NOTIFY_MASK | GDK_KEY_PRESS_MASK |
                            GDK_KEY_RELEASE_MASK);
  g_signal_connect(self->area, "draw", G_CALLBACK(on_draw), self);
  g_signal_connect(self->area, "button-press-event", G_CALLBACK(on_button),
                   self);
  g_signal_connect(self->area, "button-release-event", G_CALLBACK(on_button),
                   self);
  g_signal_connect(self->area, "motion-notify-event", G_CALLBACK(on_motion),
                   self);
  g_signal_connect(self->area, "scroll-event", G_CALLBACK(on_scroll), self);
  g_signal_connect(self->area, "enter-notify-event", G_CALLBACK(on_crossing),
                   self);
  g_signal_connect(self->area, "leave-notify-event", G_CALLBACK(on_crossing),
                   self);
  g_signal_connect(self, "key-press-event", G_CALLBACK(on_key), self);
  g_signal_connect(self, "key-release-event", G_CALLBACK(on_key), self);
  g_signal_connect(self, "focus-in-event", G_CALLBACK(on_focus), self);
  g_signal_connect(self, "focus-out-event", G_CALLBACK(on_focus), self);
  g_signal_connect(self, "delete-event", G_CALLBACK(on_delete), self);
  g_signal_connect(self, "configure-event", G_CALLBACK(on_configure), self);
  g_signal_connect(self, "window-state-event", G_CALLBACK(on_window_state),
                   self);
  g_signal_connect(self, "notify::scale-factor", G_CALLBACK(on_scale), self);
  gtk_container_add(GTK_CONTAINER(self), self->area);
  gtk_widget_show(self->area);
  return self;
}

uint32_t tandem_proxy_window_get_guest_id(TandemProxyWindow *self) {
  return self->id;
}
TandemProxyWindow *tandem_proxy_window_get_parent(TandemProxyWindow *self) {
  return self->parent_proxy;
}
const char *tandem_proxy_window_get_title(TandemProxyWindow *self) {
  return self->title ? self->title : "";
}
const char *tandem_proxy_window_get_app_id(TandemProxyWindow *self) {
  return self->app_id ? self->app_id : "";
}
gboolean tandem_proxy_window_is_shown(TandemProxyWindow *self) {
  return self->shown;
}
void tandem_proxy_window_set_pixel_region(TandemProxyWindow *self,
                                          TandemPixelRegion *region) {
  if (region)
    tandem_pixel_region_ref(region);
  g_clear_pointer(&self->pixels, tandem_pixel_region_unref);
  self->pixels = region;
}

guint64 tandem_proxy_window_get_frames(TandemProxyWindow *self) {
  return self->frames;
}
void tandem_proxy_window_get_guest_geometry(TandemProxyWindow *self,
                                            int32_t *x, int32_t *y,
                                            uint32_t *w, uint32_t *h) {
  *x = self->gx;
  *y = self->gy;
  *w = self->gw;
  *h = self->gh;
}

static void tandem_proxy_window_dispose(GObject *object) {
  TandemProxyWindow *self = TANDEM_PROXY_WINDOW(object);
  if (self->ack_timer)
    g_source_remove(self->ack_timer);
  self->ack_timer = 0;
  if (self->parent_proxy) {
    g_object_remove_weak_pointer(G_OBJECT(self->parent_proxy),
                                 (gpointer *)&self->parent_proxy);
    self->parent_proxy = NULL;
  }
  G_OBJECT_CLASS(tandem_proxy_window_parent_class)->dispose(object);
}

static void tandem_proxy_window_finalize(GObject *object) {
  TandemProxyWindow *self = TANDEM_PROXY_WINDOW(object);
  g_clear_pointer(&self->pixels, tandem_pixel_region_unref);
  g_clear_pointer(&self->surface, cairo_surface_destroy);
  g_clear_pointer(&self->filled, cairo_region_destroy);
  g_free(self->vm_name);
  g_free(self->title);
  g_free(self->app_id);
  G_OBJECT_CLASS(tandem_proxy_window_parent_class)->finalize(object);
}

static void tandem_proxy_window_class_init(TandemProxyWindowClass *klass) {
  G_OBJECT_CLASS(klass)->dispose = tandem_proxy_window_dispose;
  G_OBJECT_CLASS(klass)->finalize = tandem_proxy_window_finalize;
  signals[SIG_FRAME_PAINTED] = g_signal_new(
      "frame-painted", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void tandem_proxy_window_init(TandemProxyWindow *self) {}
