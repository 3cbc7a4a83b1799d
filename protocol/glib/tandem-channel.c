/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-channel.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

struct _TandemChannel {
  GObject parent_instance;
  TpRole role;
  int fd;
  TpReader *reader;
  GSource *read_source;
  GSource *write_source;
  TpBuf out;      /* encoded frames not yet written, from out_off on */
  size_t out_off;
  gsize max_queued; /* 0: no limit */
  gboolean backlog; /* complete frames left in the reader for next time */
};

/* Per dispatch of the read source, at most this many messages, or this
 * long: one busy peer cannot hold the main loop, and other sources (the
 * other guests, the user's input, painting) get their turn in between. */
#define READ_SLICE_MESSAGES 64
#define READ_SLICE_US 4000

/* What a peer sends is read after the user's input, D-Bus and painting
 * (GDK's redraw runs at G_PRIORITY_HIGH_IDLE + 20), not before them: at
 * G_PRIORITY_DEFAULT, a peer that never stops sending kept a source ready
 * all the time, and no window of any guest was painted until it stopped. */
#define READ_PRIORITY (G_PRIORITY_HIGH_IDLE + 30)

G_DEFINE_TYPE(TandemChannel, tandem_channel, G_TYPE_OBJECT)

enum { SIGNAL_MESSAGE, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void drop_source(GSource **s) {
  if (*s) {
    g_source_destroy(*s);
    g_clear_pointer(s, g_source_unref);
  }
}

static void shut(TandemChannel *self, const char *reason) {
  if (self->fd < 0)
    return;
  drop_source(&self->read_source);
  drop_source(&self->write_source);
  close(self->fd);
  self->fd = -1;
  tp_buf_reset(&self->out);
  self->out_off = 0;
  g_clear_pointer(&self->reader, tp_reader_free);
  g_signal_emit(self, signals[SIGNAL_CLOSED], 0, reason);
}

void tandem_channel_close(TandemChannel *self) {
  shut(self, "closed by this side");
}

gboolean tandem_channel_is_open(TandemChannel *self) {
  return self->fd >= 0;
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer data);

static void flush(TandemChannel *self) {
  /* A failed write closes the channel, and whoever holds it may drop it
   * in its "closed" handler: it stays alive until this returns. */
  g_object_ref(self);
  while (self->out_off < self->out.len) {
    ssize_t n = write(self->fd, self->out.data + self->out_off,
                      self->out.len - self->out_off);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!self->write_source) {
        self->write_source = g_unix_fd_source_new(self->fd, G_IO_OUT);
        g_source_set_callback(self->write_source,
                              (GSourceFunc)(void (*)(void))on_writable, self,
                              NULL);
        g_source_attach(self->write_source, NULL);
      }
      break;
    }
    if (n <= 0) {
      shut(self, g_strerror(errno));
      break;
    }
    self->out_off += (size_t)n;
  }
  if (self->out_off == self->out.len) {
    tp_buf_reset(&self->out);
    self->out_off = 0;
    drop_source(&self->write_source);
  } else if (self->out_off > self->out.len / 2) {
    /* Keep the unsent tail at the front, moving it rarely. */
    memmove(self->out.data, self->out.data + self->out_off,
            self->out.len - self->out_off);
    self->out.len -= self->out_off;
    self->out_off = 0;
  }
  g_object_unref(self);
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer data) {
  TandemChannel *self = data;
  g_clear_pointer(&self->write_source, g_source_unref);
  flush(self);
  return G_SOURCE_REMOVE;
}

gboolean tandem_channel_send(TandemChannel *self,
                                   const TpMessage *msg) {
  if (self->fd < 0)
    return FALSE;
  TpError err = tp_encode(msg, &self->out); /* appends, or leaves it be */
  if (err) {
    g_warning("channel: cannot encode %s: %s", tp_message_type_name(msg->type),
              tp_error_to_string(err));
    return FALSE;
  }
  g_object_ref(self); /* as in flush() */
  flush(self);
  if (self->fd >= 0 && self->max_queued &&
      tandem_channel_get_queued(self) > self->max_queued) {
    g_autofree char *size = g_format_size(self->max_queued);
    g_autofree char *why = g_strdup_printf(
        "the peer does not read what is sent to it (more than %s waiting)",
        size);
    shut(self, why);
  }
  gboolean open = self->fd >= 0;
  g_object_unref(self);
  return open;
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer data) {
  TandemChannel *self = data;
  /* Woken by the ready time set below, or by the fd: either way, the
   * frames already read go first, and nothing more is read before. */
  g_source_set_ready_time(self->read_source, -1);
  if (!self->backlog) {
    size_t avail;
    uint8_t *p = tp_reader_prepare(self->reader, &avail);
    ssize_t n = p && avail ? read(fd, p, avail) : 0;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return G_SOURCE_CONTINUE;
    if (n <= 0) {
      g_clear_pointer(&self->read_source, g_source_unref);
      shut(self, n == 0 ? "the peer went away" : g_strerror(errno));
      return G_SOURCE_REMOVE;
    }
    tp_reader_commit(self->reader, (size_t)n);
  }
  g_object_ref(self);
  TpMessage msg;
  TpError err = TP_AGAIN;
  gint64 until = g_get_monotonic_time() + READ_SLICE_US;
  guint handled = 0;
  self->backlog = FALSE;
  while (self->fd >= 0) {
    if (handled == READ_SLICE_MESSAGES || g_get_monotonic_time() > until) {
      /* The rest at the next turn of the loop, after everyone else. */
      self->backlog = TRUE;
      g_source_set_ready_time(self->read_source, 0);
      break;
    }
    if ((err = tp_reader_next(self->reader, &msg)) != TP_OK)
      break;
    g_signal_emit(self, signals[SIGNAL_MESSAGE], 0, &msg);
    handled++;
  }
  gboolean open = self->fd >= 0;
  if (open && !self->backlog && err != TP_AGAIN) {
    g_autofree char *why = g_strdup_printf("bad frame from the peer: %s",
                                           tp_error_to_string(err));
    g_clear_pointer(&self->read_source, g_source_unref);
    shut(self, why);
    open = FALSE;
  }
  g_object_unref(self);
  return open ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

TandemChannel *tandem_channel_new(int fd, TpRole receiver) {
  TandemChannel *self = g_object_new(TANDEM_TYPE_CHANNEL, NULL);
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0)
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  self->role = receiver;
  self->fd = fd;
  self->reader = tp_reader_new(receiver);
  self->read_source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback(self->read_source,
                        (GSourceFunc)(void (*)(void))on_readable, self, NULL);
  g_source_set_priority(self->read_source, READ_PRIORITY);
  g_source_attach(self->read_source, NULL);
  return self;
}

void tandem_channel_set_max_queued(TandemChannel *self, gsize bytes) {
  self->max_queued = bytes;
}

gsize tandem_channel_get_queued(TandemChannel *self) {
  return self->out.len - self->out_off;
}

static void tandem_channel_finalize(GObject *object) {
  TandemChannel *self = TANDEM_CHANNEL(object);
  drop_source(&self->read_source);
  drop_source(&self->write_source);
  if (self->fd >= 0)
    close(self->fd);
  g_clear_pointer(&self->reader, tp_reader_free);
  tp_buf_clear(&self->out);
  G_OBJECT_CLASS(tandem_channel_parent_class)->finalize(object);
}

static void tandem_channel_class_init(TandemChannelClass *klass) {
  G_OBJECT_CLASS(klass)->finalize = tandem_channel_finalize;
  signals[SIGNAL_MESSAGE] = g_signal_new(
      "message", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_CLOSED] = g_signal_new(
      "closed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void tandem_channel_init(TandemChannel *self) {
  self->fd = -1;
  tp_buf_init(&self->out);
}
