/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Window pixels: Composite keeps every top-level's contents in a pixmap of
 * its own, DAMAGE says what changed, MIT-SHM brings the changed pixels over
 * without a copy through the socket. Where the host shares memory with us
 * (TP_CAP_SHM: ivshmem in a VM), the X server writes them straight into
 * it and the channel only says where: one copy from the window to memory
 * the host reads. Otherwise they go through the channel, as BGRA whose
 * fourth byte the host ignores. Frames are paced by the host's
 * acknowledgements, which come when it painted them: at most
 * TP_MAX_FRAMES_IN_FLIGHT per window, further damage accumulating in the
 * server meanwhile and sent as one frame. */
#include "tandem-x11-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lz4.h>

#define BAND_BYTES (8u * 1024u * 1024u)
/* A window that could not be read (its server-side state changing under
 * us) is read again whole, a bounded number of times: an idle window
 * would otherwise stay without pixels until it next changes. */
#define READ_RETRIES 10u
#define READ_RETRY_MS 100u

static gboolean capture_dirty(gpointer data);
static gboolean attach_shared(TandemX11 *x);

static void schedule(TandemX11 *x) {
  /* After every pending X event has been read: one capture per burst. */
  if (!x->capture_id)
    x->capture_id = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, capture_dirty, x,
                                    NULL);
}

gboolean tx_pixels_init(TandemX11 *x, GError **error) {
  xcb_xfixes_query_version_reply_t *fv = xcb_xfixes_query_version_reply(
      x->c, xcb_xfixes_query_version(x->c, 5, 0), NULL);
  xcb_damage_query_version_reply_t *dv = xcb_damage_query_version_reply(
      x->c, xcb_damage_query_version(x->c, 1, 1), NULL);
  xcb_composite_query_version_reply_t *cv = xcb_composite_query_version_reply(
      x->c, xcb_composite_query_version(x->c, 0, 4), NULL);
  gboolean ok = fv && dv && cv && (cv->major_version > 0 ||
                                   cv->minor_version >= 2);
  free(fv);
  free(dv);
  free(cv);
  if (!ok) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "The X server's Composite, DAMAGE or XFIXES extension is too "
                "old (Composite 0.2, DAMAGE 1.1 and XFIXES 2.0 are needed)");
    return FALSE;
  }
  if (x->have_shm) {
    xcb_shm_query_version_reply_t *sv = xcb_shm_query_version_reply(
        x->c, xcb_shm_query_version(x->c), NULL);
    /* Passing a memfd needs MIT-SHM 1.2; without it, plain GetImage. */
    x->have_shm = sv && (sv->major_version > 1 || sv->minor_version >= 2);
    free(sv);
  }
  /* Automatic redirection: the server still draws the screen (the SPICE
   * console shows the guest's desktop) and every top-level keeps all of
   * its contents, even where other windows cover it. */
  xcb_composite_redirect_subwindows(x->c, x->root,
                                    XCB_COMPOSITE_REDIRECT_AUTOMATIC);
  x->region = xcb_generate_id(x->c);
  xcb_xfixes_create_region(x->c, x->region, 0, NULL);
  if (x->pm && !attach_shared(x))
    g_clear_pointer(&x->pm, tandem_pixel_memory_free);
  return TRUE;
}

static void shm_release(TandemX11 *x) {
  if (x->shm_data) {
    xcb_shm_detach(x->c, x->shm_seg);
    munmap(x->shm_data, x->shm_size);
    x->shm_data = NULL;
    x->shm_size = 0;
  }
}

/* A shared segment of at least @size bytes; FALSE to fall back to
 * GetImage. */
static gboolean shm_reserve(TandemX11 *x, size_t size) {
  if (!x->have_shm)
    return FALSE;
  if (x->shm_size >= size)
    return TRUE;
  shm_release(x);
  size = (size + 0xfffffu) & ~(size_t)0xfffffu; /* whole MiB, fewer regrows */
  int fd = memfd_create("tandem-pixels", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
    g_warning("x11: no shared memory for pixels (%s); using GetImage",
              g_strerror(errno));
    if (fd >= 0)
      close(fd);
    x->have_shm = FALSE;
    return FALSE;
  }
  x->shm_data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (x->shm_data == MAP_FAILED) {
    x->shm_data = NULL;
    close(fd);
    x->have_shm = FALSE;
    return FALSE;
  }
  x->shm_size = size;
  x->shm_seg = xcb_generate_id(x->c);
  xcb_shm_attach_fd(x->c, x->shm_seg, fd, 0); /* xcb closes fd */
  return TRUE;
}

/* Gives the shared memory to the X server as a segment of its own; FALSE
 * (logged) if it refuses it. */
static gboolean attach_shared(TandemX11 *x) {
  int fd = x->have_shm ? dup(tandem_pixel_memory_get_fd(x->pm)) : -1;
  if (fd < 0) {
    g_message("x11: no MIT-SHM 1.2 to share pixel memory with the X server: "
              "pixels through the channel");
    return FALSE;
  }
  xcb_shm_seg_t seg = xcb_generate_id(x->c);
  xcb_generic_error_t *e = xcb_request_check(
      x->c, xcb_shm_attach_fd_checked(x->c, seg, fd, 0));
  if (e) {
    g_message("x11: the X server refused the shared pixel memory %s (X error "
              "%u): pixels through the channel",
              tandem_pixel_memory_get_path(x->pm), e->error_code);
    free(e);
    return FALSE;
  }
  x->pm_seg = seg;
  return TRUE;
}

static void drop_shadow(TxWindow *w) {
  g_clear_pointer(&w->shadow, g_free);
  w->shadow_w = w->shadow_h = 0;
}

void tx_window_free(gpointer data) {
  TxWindow *w = data;
  drop_shadow(w);
  g_free(w);
}

void tx_pixels_host_ready(TandemX11 *x, const TpHello *host) {
  if (x->pm)
    tandem_pixel_memory_release_owner(x->pm, 0);
  /* A new host has none of our pixels. */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, x->by_xid);
  while (g_hash_table_iter_next(&it, NULL, &value))
    drop_shadow(value);
  x->pm_active = host && x->pm && (host->caps & TP_CAP_SHM);
  x->lz4 = host && (host->caps & TP_CAP_LZ4);
  x->copy = host && (host->caps & TP_CAP_COPY);
  x->bgr = host && (host->caps & TP_CAP_BGR);
  if (host)
    g_message("x11: pixels %s", x->pm_active ? "in shared memory"
                                             : "through the channel");
}

void tx_pixels_fini(TandemX11 *x) {
  if (x->capture_id)
    g_source_remove(x->capture_id);
  x->capture_id = 0;
  g_clear_handle_id(&x->retry_id, g_source_remove);
  gboolean live = x->c && !xcb_connection_has_error(x->c);
  if (live)
    shm_release(x);
  else if (x->shm_data)
    munmap(x->shm_data, x->shm_size);
  if (live && x->pm_seg)
    xcb_shm_detach(x->c, x->pm_seg);
  x->pm_seg = XCB_NONE;
  g_clear_pointer(&x->pm, tandem_pixel_memory_free);
}

void tx_pixels_track(TandemX11 *x, TxWindow *w) {
  w->damage = xcb_generate_id(x->c);
  xcb_damage_create(x->c, w->damage, w->xid,
                    XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY);
}

void tx_pixels_untrack(TandemX11 *x, TxWindow *w) {
  /* The server destroyed the damage object with the window. */
  w->damage = XCB_NONE;
  drop_shadow(w);
  if (x->pm && w->id)
    tandem_pixel_memory_release_owner(x->pm, w->id);
}

static gboolean may_send(TxWindow *w) {
  return w->shown && w->frame_seq - w->acked_seq < TP_MAX_FRAMES_IN_FLIGHT;
}

void tx_pixels_damaged(TandemX11 *x, xcb_damage_notify_event_t *ev) {
  TxWindow *w = g_hash_table_lookup(x->by_xid, GUINT_TO_POINTER(ev->drawable));
  if (!w)
    return;
  if (!w->dirty)
    w->damage_us = g_get_monotonic_time();
  w->dirty = TRUE;
  if (may_send(w))
    schedule(x);
}

void tx_pixels_full(TandemX11 *x, TxWindow *w) {
  w->full = TRUE;
  if (may_send(w))
    schedule(x);
}

void tx_pixels_ack(TandemX11 *x, TxWindow *w, uint32_t seq) {
  /* Only acks for frames really sent count, and never backwards. */
  if (seq - w->acked_seq > w->frame_seq - w->acked_seq || seq == w->acked_seq)
    return;
  w->acked_seq = seq;
  if (x->pm)
    tandem_pixel_memory_release(x->pm, w->id, seq);
  if ((w->dirty || w->full) && may_send(w))
    schedule(x);
}

/* The damaged rectangles, taken out of the server's damage record. */
static size_t fetch_damage(TandemX11 *x, TxWindow *w, TxRect *out,
                           size_t max) {
  xcb_damage_subtract(x->c, w->damage, XCB_NONE, x->region);
  xcb_xfixes_fetch_region_reply_t *r = xcb_xfixes_fetch_region_reply(
      x->c, xcb_xfixes_fetch_region(x->c, x->region), NULL);
  if (!r)
    return 0;
  int n = xcb_xfixes_fetch_region_rectangles_length(r);
  xcb_rectangle_t *rects = xcb_xfixes_fetch_region_rectangles(r);
  TxRect *in = g_new(TxRect, n > 0 ? n : 1);
  for (int i = 0; i < n; i++)
    in[i] = (TxRect){rects[i].x, rects[i].y, rects[i].width, rects[i].height};
  size_t k = tx_merge_rects(in, (size_t)MAX(n, 0), MIN(w->width,
                                                       TP_MAX_WINDOW_DIM),
                            MIN(w->height, TP_MAX_WINDOW_DIM), out, max);
  g_free(in);
  free(r);
  return k;
}

typedef struct {
  TpRect rect;
  size_t offset;          /* in the SHM segment (or the reply copy) */
  uint8_t *copy;          /* GetImage fallback, or the LZ4 block */
  uint8_t encoding;       /* TpEncoding of rect.data */
} Piece;

/* LZ4 on a window whose content did not compress is tried again only
 * after this many frames (noise, video: the time is better spent
 * sending). */
#define LZ4_RETRY_FRAMES 30u

/* Splits rectangles into bands that keep each DAMAGE message bounded. */
static GArray *pieces_for(const TxRect *rects, size_t n) {
  GArray *p = g_array_new(FALSE, TRUE, sizeof(Piece));
  for (size_t i = 0; i < n; i++) {
    uint32_t rows = tx_band_rows(rects[i].width, BAND_BYTES);
    for (uint32_t y = 0; y < rects[i].height; y += rows) {
      Piece piece = {0};
      uint32_t h = MIN(rows, rects[i].height - y);
      piece.rect = (TpRect){(uint16_t)rects[i].x, (uint16_t)(rects[i].y + y),
                            (uint16_t)rects[i].width, (uint16_t)h,
                            rects[i].width * h * 4u, NULL};
      g_array_append_val(p, piece);
    }
  }
  return p;
}

/* Reads every piece's pixels; FALSE if the window is not drawable now. */
static gboolean read_pixels(TandemX11 *x, TxWindow *w, GArray *pieces) {
  size_t total = 0;
  for (guint i = 0; i < pieces->len; i++) {
    Piece *p = &g_array_index(pieces, Piece, i);
    p->offset = total;
    total += p->rect.len;
  }
  gboolean ok = TRUE;
  if (shm_reserve(x, total)) {
    xcb_shm_get_image_cookie_t *ck = g_new(xcb_shm_get_image_cookie_t,
                                           pieces->len);
    for (guint i = 0; i < pieces->len; i++) { /* pipelined */
      Piece *p = &g_array_index(pieces, Piece, i);
      ck[i] = xcb_shm_get_image(x->c, w->xid, (int16_t)p->rect.x,
                                (int16_t)p->rect.y, p->rect.width,
                                p->rect.height, ~0u,
                                XCB_IMAGE_FORMAT_Z_PIXMAP, x->shm_seg,
                                (uint32_t)p->offset);
    }
    for (guint i = 0; i < pieces->len; i++) {
      xcb_shm_get_image_reply_t *r = xcb_shm_get_image_reply(x->c, ck[i],
                                                             NULL);
      Piece *p = &g_array_index(pieces, Piece, i);
      if (!r || r->size < p->rect.len)
        ok = FALSE;
      else
        p->rect.data = x->shm_data + p->offset;
      free(r);
    }
    g_free(ck);
    return ok;
  }
  for (guint i = 0; i < pieces->len; i++) {
    Piece *p = &g_array_index(pieces, Piece, i);
    xcb_get_image_reply_t *r = xcb_get_image_reply(
        x->c, xcb_get_image(x->c, XCB_IMAGE_FORMAT_Z_PIXMAP, w->xid,
                            (int16_t)p->rect.x, (int16_t)p->rect.y,
                            p->rect.width, p->rect.height, ~0u),
        NULL);
    if (!r || (uint32_t)xcb_get_image_data_length(r) < p->rect.len) {
      free(r);
      ok = FALSE;
      continue;
    }
    p->copy = g_memdup2(xcb_get_image_data(r), p->rect.len);
    p->rect.data = p->copy;
    free(r);
  }
  return ok;
}

/* LZ4 for each piece where it saves at least an eighth; a frame where it
 * saved nothing worth it pauses the attempts on this window. */
/* @n pixels of BGRA as BGR, into @out (n * 3 bytes). */
static void pack_bgr(const uint8_t *in, size_t n, uint8_t *out) {
  for (size_t i = 0; i < n; i++, in += 4, out += 3) {
    out[0] = in[0];
    out[1] = in[1];
    out[2] = in[2];
  }
}

static void compress(TxWindow *w, GArray *pieces, gboolean bgr) {
  if (w->lz4_skip) {
    w->lz4_skip--;
    return;
  }
  uint64_t raw = 0, packed = 0;
  for (guint i = 0; i < pieces->len; i++) {
    Piece *p = &g_array_index(pieces, Piece, i);
    if (p->encoding != TP_ENCODING_RAW)
      continue;
    /* Without the fourth byte where the host takes that: a quarter less
     * to compress and to send. */
    uint8_t *packed_px = NULL;
    const uint8_t *in = p->rect.data;
    int len = (int)p->rect.len;
    if (bgr) {
      packed_px = g_malloc((gsize)len / 4 * 3);
      pack_bgr(p->rect.data, (size_t)len / 4, packed_px);
      in = packed_px;
      len = len / 4 * 3;
    }
    int bound = LZ4_compressBound(len);
    uint8_t *out = g_malloc((gsize)bound);
    int n = LZ4_compress_default((const char *)in, (char *)out, len, bound);
    g_free(packed_px);
    /* It pays when it saves an eighth of what it compressed: noise is
     * sent as it is, without the work. */
    raw += (uint64_t)len;
    if (n > 0 && n <= len - len / 8) {
      g_free(p->copy); /* the pixels are in the block now */
      p->copy = out;
      p->rect.data = out;
      p->rect.len = (uint32_t)n;
      p->encoding = bgr ? TP_ENCODING_LZ4_BGR : TP_ENCODING_LZ4;
      packed += (uint64_t)n;
    } else {
      g_free(out);
      packed += (uint64_t)len;
    }
  }
  if (packed > raw - raw / 8)
    w->lz4_skip = LZ4_RETRY_FRAMES;
}

/* Sends one frame as DAMAGE messages of at most 256 rectangles and
 * TP_MAX_DAMAGE_PAYLOAD bytes each, one encoding each, the last flagged
 * FRAME_END. */
static void send_frame(TandemX11 *x, TxWindow *w, GArray *pieces) {
  uint32_t seq = w->frame_seq + 1;
  guint start = 0;
  TpRect *rects = g_new(TpRect, MIN(pieces->len, TP_MAX_DAMAGE_RECTS) + 1);
  do {
    guint n = 0;
    uint64_t bytes = 0;
    uint8_t encoding = pieces->len ? g_array_index(pieces, Piece, start).encoding
                                   : TP_ENCODING_RAW;
    while (start + n < pieces->len && n < TP_MAX_DAMAGE_RECTS) {
      const Piece *p = &g_array_index(pieces, Piece, start + n);
      if (n && (bytes + p->rect.len > TP_MAX_DAMAGE_PAYLOAD ||
                p->encoding != encoding))
        break;
      rects[n++] = p->rect;
      bytes += p->rect.len;
    }
    start += n;
    TpMessage m = {.type = TP_MSG_DAMAGE, .window = w->id};
    m.u.damage = (TpDamage){seq, encoding,
                            start >= pieces->len ? TP_DAMAGE_FRAME_END : 0,
                            (uint16_t)n, rects};
    tx_send(x, &m);
    x->bytes_sent += bytes;
  } while (start < pieces->len);
  g_free(rects);
  w->frame_seq = seq;
  x->frames_sent++;
}

static void free_pieces(GArray *pieces) {
  for (guint i = 0; i < pieces->len; i++)
    g_free(g_array_index(pieces, Piece, i).copy);
  g_array_unref(pieces);
}

/* A window larger than this is sent as damaged, without a shadow: 16 MiB
 * of guest memory (2048 x 2048) at most per window. */
#define SHADOW_MAX_BYTES (16u << 20)
/* Frames sent as damaged, without comparing, after DELTA_MISSES in a row
 * where comparing saved less than an eighth. */
#define DELTA_RETRY_FRAMES 8u
#define DELTA_MISSES 2u

/* The shadow's pixels at @r's place. */
static TxPixels shadow_at(TxWindow *w, const TpRect *r) {
  size_t stride = (size_t)w->shadow_w * 4;
  return (TxPixels){w->shadow + (size_t)r->y * stride + (size_t)r->x * 4,
                    stride};
}

static void shadow_store(TxWindow *w, const TpRect *r, const uint8_t *data) {
  TxPixels s = shadow_at(w, r);
  for (uint32_t y = 0; y < r->height; y++)
    memcpy(s.data + y * s.stride, data + (size_t)y * r->width * 4,
           (size_t)r->width * 4);
}

/* The pixels of @sub (relative to @p's rectangle) in a block of their own,
 * as a piece of the frame. */
static Piece sub_piece(const Piece *p, const TxRect *sub) {
  size_t row = (size_t)sub->width * 4, stride = (size_t)p->rect.width * 4;
  uint8_t *copy = g_malloc(row * sub->height);
  const uint8_t *from = p->rect.data + (size_t)sub->y * stride +
                        (size_t)sub->x * 4;
  for (uint32_t y = 0; y < sub->height; y++)
    memcpy(copy + y * row, from + y * stride, row);
  return (Piece){.rect = {(uint16_t)(p->rect.x + sub->x),
                          (uint16_t)(p->rect.y + sub->y),
                          (uint16_t)sub->width, (uint16_t)sub->height,
                          (uint32_t)(row * sub->height), copy},
                 .copy = copy, .encoding = TP_ENCODING_RAW};
}

/* The channel path with a shadow: a full capture is sent whole and becomes
 * the shadow; otherwise each damaged piece is compared with the shadow, a
 * scroll found in it goes as a copy (TP_ENCODING_COPY), and only the rows
 * and columns that still differ go as pixels. Returns the pieces to send
 * instead of @pieces (copies first), or NULL to send @pieces as they are. */
static GArray *follow_shadow(TandemX11 *x, TxWindow *w, GArray *pieces,
                             gboolean full) {
  uint32_t ww = MIN(w->width, TP_MAX_WINDOW_DIM);
  uint32_t wh = MIN(w->height, TP_MAX_WINDOW_DIM);
  guint64 damaged = 0;
  for (guint i = 0; i < pieces->len; i++)
    damaged += (guint64)g_array_index(pieces, Piece, i).rect.width *
               g_array_index(pieces, Piece, i).rect.height;
  if (w->delta_skip && !full) {
    /* Its content changed all over lately (video, noise): no comparing
     * and no shadow for a while, then a whole frame to start again. */
    if (--w->delta_skip == 0)
      w->full = TRUE;
    drop_shadow(w);
    return NULL;
  }
  /* A capture of all of it (a full frame, or damage everywhere) can start
   * the shadow again. */
  gboolean whole = full || damaged == (guint64)ww * wh;
  if (whole && !w->shadow)
    full = TRUE;
  if (full || w->shadow_w != ww || w->shadow_h != wh) {
    drop_shadow(w);
    if (!full || (guint64)ww * wh * 4 > SHADOW_MAX_BYTES)
      return NULL;
    w->shadow = g_malloc((gsize)ww * wh * 4);
    w->shadow_w = ww;
    w->shadow_h = wh;
    for (guint i = 0; i < pieces->len; i++) {
      const Piece *p = &g_array_index(pieces, Piece, i);
      shadow_store(w, &p->rect, p->rect.data);
    }
    return NULL;
  }
  GArray *copies = g_array_new(FALSE, TRUE, sizeof(Piece));
  GArray *rest = g_array_new(FALSE, TRUE, sizeof(Piece));
  for (guint i = 0; i < pieces->len; i++) {
    const Piece *p = &g_array_index(pieces, Piece, i);
    TxPixels now = {(uint8_t *)p->rect.data, (size_t)p->rect.width * 4};
    TxPixels before = shadow_at(w, &p->rect);
    TxScroll s;
    if (tx_find_scroll(&now, &before, p->rect.width, p->rect.height, &s)) {
      Piece c = {.rect = {p->rect.x, (uint16_t)(p->rect.y + s.first),
                          p->rect.width, (uint16_t)s.rows, TP_COPY_REF_SIZE,
                          NULL},
                 .encoding = TP_ENCODING_COPY};
      c.copy = g_malloc(TP_COPY_REF_SIZE);
      TpCopyRef ref = {p->rect.x,
                       (uint16_t)((int32_t)p->rect.y + (int32_t)s.first -
                                  s.dy)};
      tp_copy_ref_write(c.copy, &ref);
      c.rect.data = c.copy;
      g_array_append_val(copies, c);
      tx_apply_scroll(&before, p->rect.width, &s);
      if (!x->copies_sent++)
        g_message("x11: a scroll sent as a copy within window %u (further "
                  "ones are not logged)", w->id);
    }
    TxRect sub[TX_MAX_CAPTURE_RECTS];
    size_t n = tx_changed_rects(&now, &before, p->rect.width, p->rect.height,
                                sub, G_N_ELEMENTS(sub));
    for (size_t k = 0; k < n; k++) {
      Piece q = sub_piece(p, &sub[k]);
      g_array_append_val(rest, q);
    }
    shadow_store(w, &p->rect, p->rect.data);
  }
  /* Nearly everything differed and nothing scrolled, over a large part of
   * the window: the comparing did not pay; it pauses, like LZ4 on what
   * does not compress. (Small rectangles, a typed letter, cost little.) */
  guint64 sent = 0;
  for (guint i = 0; i < rest->len; i++)
    sent += (guint64)g_array_index(rest, Piece, i).rect.width *
            g_array_index(rest, Piece, i).rect.height;
  if (damaged >= (guint64)ww * wh / 4 && copies->len == 0 &&
      sent > damaged - damaged / 8) {
    if (++w->delta_misses >= DELTA_MISSES)
      w->delta_skip = DELTA_RETRY_FRAMES;
  } else {
    w->delta_misses = 0;
  }
  g_array_append_vals(copies, rest->data, rest->len);
  g_array_unref(rest);
  return copies;
}

static gboolean retry_due(gpointer data) {
  TandemX11 *x = data;
  x->retry_id = 0;
  schedule(x);
  return G_SOURCE_REMOVE;
}

/* Unmapped or resized meanwhile (its next map or configure asks for a full
 * frame again), or busy: the whole window again shortly, a few times. */
static void read_failed(TandemX11 *x, TxWindow *w) {
  g_debug("x11: window 0x%x could not be read", w->xid);
  if (!w->mapped || w->read_retries >= READ_RETRIES)
    return;
  w->read_retries++;
  w->full = TRUE;
  if (!x->retry_id)
    x->retry_id = g_timeout_add(READ_RETRY_MS, retry_due, x);
}

/* Captures the frame straight into the shared memory; FALSE if that has
 * no room for it now (it then goes through the channel). */
static gboolean capture_shared(TandemX11 *x, TxWindow *w, const TxRect *rects,
                               size_t n) {
  uint32_t seq = w->frame_seq + 1;
  guint64 total = 0;
  for (size_t i = 0; i < n; i++)
    total += (guint64)rects[i].width * rects[i].height * 4u;
  uint32_t at;
  if (!tandem_pixel_memory_alloc(x->pm, w->id, seq, total, &at))
    return FALSE;
  GArray *pieces = g_array_sized_new(FALSE, TRUE, sizeof(Piece), (guint)n);
  uint8_t *refs = g_malloc(n * TP_SHM_REF_SIZE);
  xcb_shm_get_image_cookie_t ck[TX_MAX_CAPTURE_RECTS];
  for (size_t i = 0; i < n; i++) { /* pipelined */
    const TxRect *r = &rects[i];
    TpShmRef ref = {at, r->width * 4u};
    uint8_t *data = refs + i * TP_SHM_REF_SIZE;
    tp_shm_ref_write(data, &ref);
    Piece p = {.rect = {(uint16_t)r->x, (uint16_t)r->y, (uint16_t)r->width,
                        (uint16_t)r->height, TP_SHM_REF_SIZE, data},
               .encoding = TP_ENCODING_SHM};
    g_array_append_val(pieces, p);
    ck[i] = xcb_shm_get_image(x->c, w->xid, (int16_t)r->x, (int16_t)r->y,
                              (uint16_t)r->width, (uint16_t)r->height, ~0u,
                              XCB_IMAGE_FORMAT_Z_PIXMAP, x->pm_seg, at);
    at += r->width * r->height * 4u;
  }
  gboolean ok = TRUE;
  for (size_t i = 0; i < n; i++) {
    xcb_shm_get_image_reply_t *r = xcb_shm_get_image_reply(x->c, ck[i], NULL);
    if (!r || r->size < rects[i].width * rects[i].height * 4u)
      ok = FALSE;
    free(r);
  }
  if (ok) {
    w->read_retries = 0;
    send_frame(x, w, pieces);
  } else {
    tandem_pixel_memory_release(x->pm, w->id, seq);
    read_failed(x, w);
  }
  g_free(refs);
  g_array_unref(pieces);
  return TRUE;
}

static void capture(TandemX11 *x, TxWindow *w) {
  TxRect rects[TX_MAX_CAPTURE_RECTS];
  size_t n = 0;
  uint32_t cw = MIN(w->width, TP_MAX_WINDOW_DIM);
  uint32_t ch = MIN(w->height, TP_MAX_WINDOW_DIM);
  if (w->dirty)
    n = fetch_damage(x, w, rects, G_N_ELEMENTS(rects));
  gboolean full = w->full;
  if (w->full) {
    rects[0] = (TxRect){0, 0, cw, ch};
    n = 1;
  }
  w->dirty = w->full = FALSE;
  if (!n || (x->pm_active && capture_shared(x, w, rects, n)))
    return;
  GArray *pieces = pieces_for(rects, n);
  if (read_pixels(x, w, pieces)) {
    w->read_retries = 0;
    GArray *changed = NULL;
    if (x->copy && !x->pm_active)
      changed = follow_shadow(x, w, pieces, full);
    GArray *out = changed ? changed : pieces;
    if (x->lz4)
      compress(w, out, x->bgr);
    if (out->len)
      send_frame(x, w, out);
    if (changed)
      free_pieces(changed);
  } else {
    read_failed(x, w);
  }
  free_pieces(pieces);
}

static gboolean capture_dirty(gpointer data) {
  TandemX11 *x = data;
  x->capture_id = 0;
  if (!x->host_ready)
    return G_SOURCE_REMOVE;
  GHashTableIter it;
  gpointer value;
  GPtrArray *due = g_ptr_array_new();
  g_hash_table_iter_init(&it, x->by_xid);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    TxWindow *w = value;
    if ((w->dirty || w->full) && may_send(w) && w->mapped)
      g_ptr_array_add(due, w);
  }
  /* capture() may read events and so change the table: take the list
   * first, and re-check each window is still there. */
  for (guint i = 0; i < due->len; i++) {
    TxWindow *w = due->pdata[i];
    if (g_hash_table_lookup(x->by_id, GUINT_TO_POINTER(w->id)) == w)
      capture(x, w);
  }
  g_ptr_array_unref(due);
  xcb_flush(x->c);
  return G_SOURCE_REMOVE;
}
