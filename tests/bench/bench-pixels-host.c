/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-pixels: the Tandem host. Speaks to the real agent as Tandem's
 * host would for pixels: keeps a buffer per window, paints every DAMAGE
 * rectangle into it, acknowledges each frame with FRAME_ACK as soon as
 * its last message is painted, and reads the app's frame stamp from the
 * buffer at every frame end. Blocking I/O with bounded waits. */
#include "bench-pixels.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "bench-stamp.h"

#define PING_INTERVAL_NS (50 * 1000000LL)
#define MAX_FB_DIM 4096

static void window_free(PxWindow *w) {
  g_free(w->fb);
  g_free(w);
}

void px_host_init(PxHost *h, int fd) {
  memset(h, 0, sizeof(*h));
  h->fd = fd;
  h->reader = tp_reader_new(TP_ROLE_HOST);
  h->windows = g_hash_table_new_full(NULL, NULL, NULL,
                                     (GDestroyNotify)window_free);
  h->frames = g_array_new(FALSE, FALSE, sizeof(PxFrame));
  h->catalog = g_ptr_array_new_with_free_func(g_free);
  h->offset_rtt_ns = G_MAXINT64;
  h->launch_status = G_MAXUINT32;
}

void px_host_clear(PxHost *h) {
  if (h->fd >= 0)
    close(h->fd);
  h->fd = -1;
  g_clear_pointer(&h->reader, tp_reader_free);
  g_clear_pointer(&h->windows, g_hash_table_unref);
  g_clear_pointer(&h->frames, g_array_unref);
  g_clear_pointer(&h->catalog, g_ptr_array_unref);
  g_clear_pointer(&h->software, g_free);
  g_clear_pointer(&h->error, g_free);
}

static void fail(PxHost *h, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void fail(PxHost *h, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (!h->error)
    h->error = g_strdup_vprintf(fmt, ap);
  va_end(ap);
}

void px_host_send(PxHost *h, const TpMessage *m) {
  TpBuf b;
  tp_buf_init(&b);
  TpError err = tp_encode(m, &b);
  size_t off = 0;
  while (err == TP_OK && off < b.len && !h->error) {
    ssize_t n = write(h->fd, b.data + off, b.len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      fail(h, "writing to the agent: %s", g_strerror(errno));
    else
      off += (size_t)n;
  }
  if (err != TP_OK)
    fail(h, "cannot encode %s: %s", tp_message_type_name(m->type),
         tp_error_to_string(err));
  tp_buf_clear(&b);
}

static void set_size(PxWindow *w, guint32 width, guint32 height) {
  if (w->fb && w->width == width && w->height == height)
    return;
  g_free(w->fb);
  w->width = width;
  w->height = height;
  w->fb = width <= MAX_FB_DIM && height <= MAX_FB_DIM
              ? g_malloc0((gsize)width * height * 4)
              : NULL;
}

/* Paints the rectangles (raw BGRA; the host offers no compression) and,
 * at the frame's end, acknowledges it and reads the stamp. */
static void on_damage(PxHost *h, guint32 id, const TpDamage *d) {
  PxWindow *w = g_hash_table_lookup(h->windows, GUINT_TO_POINTER(id));
  if (!w) {
    fail(h, "DAMAGE for unknown window 0x%x", id);
    return;
  }
  gint64 t0 = px_now_ns();
  if (d->encoding != TP_ENCODING_RAW) {
    fail(h, "DAMAGE encoding %u, which this host did not offer",
         d->encoding);
    return;
  }
  for (guint i = 0; w->fb && i < d->n_rects; i++) {
    const TpRect *r = &d->rects[i];
    if (r->x >= w->width || r->y >= w->height)
      continue;
    guint cw = MIN(r->width, w->width - r->x);
    guint ch = MIN(r->height, w->height - r->y);
    for (guint y = 0; y < ch; y++)
      memcpy(w->fb + (((gsize)r->y + y) * w->width + r->x) * 4,
             r->data + (gsize)y * r->width * 4, (gsize)cw * 4);
  }
  if (!(d->flags & TP_DAMAGE_FRAME_END))
    return;
  gint64 t1 = px_now_ns();
  TpMessage ack = {.type = TP_MSG_FRAME_ACK, .window = id};
  ack.u.frame_ack = (TpFrameAck){d->frame_seq, (uint32_t)((t1 - t0) / 1000)};
  px_host_send(h, &ack);
  if (!w->fb || w->width < BENCH_STAMP_X + BENCH_STAMP_SIZE ||
      w->height < BENCH_STAMP_Y + BENCH_STAMP_SIZE)
    return;
  BenchStamp s;
  const guint8 *at = w->fb + ((gsize)BENCH_STAMP_Y * w->width + BENCH_STAMP_X) * 4;
  if (bench_stamp_read(at, (int)w->width * 4, 4, &s) != 0) {
    h->undecodable += w->last_counter >= 0;
    return;
  }
  if ((gint64)s.counter <= w->last_counter)
    return;
  w->last_counter = s.counter;
  PxFrame f = {id, s.counter, s.mode, (gint64)s.draw_ns, t0, h->bytes};
  g_array_append_val(h->frames, f);
}

static void on_message(PxHost *h, const TpMessage *m) {
  PxWindow *w;
  switch (m->type) {
  case TP_MSG_HELLO:
    g_free(h->software);
    h->software = g_strdup(m->u.hello.software);
    h->screen_width = m->u.hello.screen_width;
    h->screen_height = m->u.hello.screen_height;
    if (h->hello_on_hello && !h->answered_hello) {
      h->answered_hello = TRUE;
      px_host_say_hello(h);
    }
    break;
  case TP_MSG_HEARTBEAT:
    if (!m->u.heartbeat.reply) {
      TpMessage pong = {.type = TP_MSG_HEARTBEAT};
      pong.u.heartbeat = (TpHeartbeat){m->u.heartbeat.seq, 1,
                                       (uint64_t)px_now_ns(),
                                       m->u.heartbeat.sent_ns};
      px_host_send(h, &pong);
    } else {
      /* NTP's estimate: the agent read its clock halfway through the
       * round trip, give or take half of it; the shortest round trip
       * bounds the error best. */
      gint64 now = px_now_ns();
      gint64 sent = (gint64)m->u.heartbeat.echo_ns;
      gint64 rtt = now - sent;
      if (rtt >= 0 && rtt < h->offset_rtt_ns) {
        h->offset_rtt_ns = rtt;
        h->offset_ns = (gint64)m->u.heartbeat.sent_ns - (sent + now) / 2;
      }
    }
    break;
  case TP_MSG_ERROR:
    g_printerr("bench-pixels: the agent reports: %s\n", m->u.error.message);
    break;
  case TP_MSG_APP_LIST_BEGIN:
    g_ptr_array_set_size(h->catalog, 0);
    break;
  case TP_MSG_APP_ENTRY:
    g_ptr_array_add(h->catalog, g_strdup(m->u.app.id));
    break;
  case TP_MSG_APP_LIST_END:
    h->catalog_done = TRUE;
    break;
  case TP_MSG_LAUNCH_RESULT:
    h->launch_status = m->u.launch_result.status;
    if (m->u.launch_result.status != TP_LAUNCH_STARTED)
      g_printerr("bench-pixels: launch failed: %s\n",
                 m->u.launch_result.message);
    break;
  case TP_MSG_WINDOW_CREATE:
    w = g_new0(PxWindow, 1);
    w->id = m->window;
    w->last_counter = -1;
    set_size(w, m->u.create.width, m->u.create.height);
    g_hash_table_replace(h->windows, GUINT_TO_POINTER(m->window), w);
    break;
  case TP_MSG_WINDOW_CONFIGURE:
    w = g_hash_table_lookup(h->windows, GUINT_TO_POINTER(m->window));
    if (w)
      set_size(w, m->u.configure.width, m->u.configure.height);
    break;
  case TP_MSG_WINDOW_CLASS:
    w = g_hash_table_lookup(h->windows, GUINT_TO_POINTER(m->window));
    if (w && g_str_equal(m->u.wclass.res_name, "tandem-bench-anim")) {
      w->anim = TRUE;
      h->newest_anim = w->id;
    }
    break;
  case TP_MSG_WINDOW_DESTROY: {
    g_hash_table_remove(h->windows, GUINT_TO_POINTER(m->window));
    TpMessage ack = {.type = TP_MSG_WINDOW_DESTROY_ACK, .window = m->window};
    px_host_send(h, &ack);
    break;
  }
  case TP_MSG_DAMAGE:
    on_damage(h, m->window, &m->u.damage);
    break;
  default:
    break;
  }
}

/* Decodes what is buffered; FALSE on a bad frame. */
static gboolean drain(PxHost *h, gboolean (*done)(PxHost *, gpointer),
                      gpointer data, gboolean *is_done) {
  TpMessage m;
  TpError err;
  while ((err = tp_reader_next(h->reader, &m)) == TP_OK) {
    on_message(h, &m);
    if (h->error)
      return FALSE;
    if (done && done(h, data)) {
      *is_done = TRUE;
      return TRUE;
    }
  }
  if (err != TP_AGAIN) {
    fail(h, "the agent sent a bad frame: %s", tp_error_to_string(err));
    return FALSE;
  }
  return TRUE;
}

gboolean px_host_run(PxHost *h, gint64 until,
                     gboolean (*done)(PxHost *h, gpointer data),
                     gpointer data) {
  gboolean is_done = FALSE;
  if (h->error || !drain(h, done, data, &is_done))
    return FALSE;
  while (!is_done) {
    gint64 now = px_now_ns();
    if (now >= until)
      return TRUE;
    if (h->pinging && now >= h->next_ping_ns) {
      TpMessage ping = {.type = TP_MSG_HEARTBEAT};
      ping.u.heartbeat = (TpHeartbeat){++h->ping_seq, 0, (uint64_t)now, 0};
      px_host_send(h, &ping);
      h->next_ping_ns = now + PING_INTERVAL_NS;
    }
    /* Keep the main loop going (TandemVm's QMP and console), briefly. */
    while (g_main_context_iteration(NULL, FALSE))
      ;
    gint64 wake = MIN(now + 20000000, h->pinging ? MIN(until, h->next_ping_ns)
                                                 : until);
    struct pollfd p = {h->fd, POLLIN, 0};
    int ms = (int)MAX(1, (wake - now + 999999) / 1000000);
    int r = poll(&p, 1, ms);
    if (r < 0 && errno != EINTR) {
      fail(h, "poll: %s", g_strerror(errno));
      return FALSE;
    }
    if (r <= 0)
      continue;
    size_t avail;
    uint8_t *buf = tp_reader_prepare(h->reader, &avail);
    if (!buf || !avail) {
      fail(h, "protocol reader stuck");
      return FALSE;
    }
    ssize_t n = read(h->fd, buf, avail);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      fail(h, "the agent closed the channel");
      return FALSE;
    }
    tp_reader_commit(h->reader, (size_t)n);
    h->bytes += (guint64)n;
    if (!drain(h, done, data, &is_done))
      return FALSE;
  }
  return TRUE;
}

void px_host_say_hello(PxHost *h) {
  TpMessage m = {.type = TP_MSG_HELLO};
  /* No compression offered: raw BGRA, the encoding under test. */
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION, 0, 0, 0, 1920, 1080, 100, 32,
                        "Debian GNU/Linux 12", "bench-pixels", "C.UTF-8"};
  px_host_send(h, &m);
}

static gboolean got_hello(PxHost *h, gpointer data) {
  return h->software != NULL;
}

gboolean px_host_handshake(PxHost *h, double seconds) {
  px_host_say_hello(h);
  if (!px_host_run(h, px_now_ns() + (gint64)(seconds * 1e9), got_hello,
                   NULL))
    return FALSE;
  if (!h->software)
    fail(h, "no HELLO from the agent within %.0f s", seconds);
  return h->software != NULL;
}
