#include "tandem-agent-channel.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct _TandemAgentChannel {
  GObject parent_instance;
  char *address;
  int fd;
  TpReader *reader;
  GSource *read_source;
  GSource *write_source;
  TpBuf out;      /* encoded frames not yet written, from out_off on */
  size_t out_off;
};

G_DEFINE_TYPE(TandemAgentChannel, tandem_agent_channel, G_TYPE_OBJECT)

enum { SIGNAL_MESSAGE, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void drop_source(GSource **s) {
  if (*s) {
    g_source_destroy(*s);
    g_clear_pointer(s, g_source_unref);
  }
}

static void shut(TandemAgentChannel *self, const char *reason) {
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

void tandem_agent_channel_close(TandemAgentChannel *self) {
  shut(self, "closed by the agent");
}

gboolean tandem_agent_channel_is_open(TandemAgentChannel *self) {
  return self->fd >= 0;
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer data);

static void flush(TandemAgentChannel *self) {
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
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer data) {
  TandemAgentChannel *self = data;
  g_clear_pointer(&self->write_source, g_source_unref);
  flush(self);
  return G_SOURCE_REMOVE;
}

gboolean tandem_agent_channel_send(TandemAgentChannel *self,
                                   const TpMessage *msg) {
  if (self->fd < 0)
    return FALSE;
  TpError err = tp_encode(msg, &self->out); /* appends, or leaves it be */
  if (err) {
    g_warning("agent: cannot encode %s: %s", tp_message_type_name(msg->type),
              tp_error_to_string(err));
    return FALSE;
  }
  flush(self);
  return self->fd >= 0;
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer data) {
  TandemAgentChannel *self = data;
  size_t avail;
  uint8_t *p = tp_reader_prepare(self->reader, &avail);
  ssize_t n = p && avail ? read(fd, p, avail) : 0;

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n <= 0) {
    g_clear_pointer(&self->read_source, g_source_unref);
    shut(self, n == 0 ? "the host went away" : g_strerror(errno));
    return G_SOURCE_REMOVE;
  }
  tp_reader_commit(self->reader, (size_t)n);
  g_object_ref(self);
  TpMessage msg;
  TpError err;
  while (self->fd >= 0 && (err = tp_reader_next(self->reader, &msg)) == TP_OK)
    g_signal_emit(self, signals[SIGNAL_MESSAGE], 0, &msg);
  gboolean open = self->fd >= 0;
  if (open && err != TP_AGAIN) {
    g_autofree char *why = g_strdup_printf("bad frame from the host: %s",
                                           tp_error_to_string(err));
    g_clear_pointer(&self->read_source, g_source_unref);
    shut(self, why);
    open = FALSE;
  }
  g_object_unref(self);
  return open ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* The virtio-serial port's device node, found by the port's name. */
static char *find_virtio_port(const char *name) {
  g_autofree char *link = g_build_filename("/dev/virtio-ports", name, NULL);
  if (g_file_test(link, G_FILE_TEST_EXISTS))
    return g_steal_pointer(&link);
  g_autoptr(GDir) d = g_dir_open("/sys/class/virtio-ports", 0, NULL);
  for (const char *port; d && (port = g_dir_read_name(d));) {
    g_autofree char *file = g_build_filename("/sys/class/virtio-ports", port,
                                             "name", NULL);
    g_autofree char *text = NULL;
    if (g_file_get_contents(file, &text, NULL, NULL) &&
        g_str_equal(g_strstrip(text), name))
      return g_build_filename("/dev", port, NULL);
  }
  return NULL;
}

static int open_address(const char *address, GError **error) {
  if (g_str_has_prefix(address, "unix:")) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = address + 5;
    if (strlen(path) >= sizeof(sa.sun_path)) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                  "Socket path too long: %s", path);
      return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
      return fd;
    int e = errno;
    if (fd >= 0)
      close(fd);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                "Cannot connect to %s: %s", path, g_strerror(e));
    return -1;
  }
  if (g_str_has_prefix(address, "virtio:")) {
    g_autofree char *dev = find_virtio_port(address + 7);
    if (!dev) {
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                  "No virtio-serial port named %s", address + 7);
      return -1;
    }
    int fd = open(dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
      g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                  "Cannot open %s: %s", dev, g_strerror(errno));
    return fd;
  }
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
              "Unknown channel address “%s”: use unix:PATH or virtio:NAME",
              address);
  return -1;
}

gboolean tandem_agent_channel_open(TandemAgentChannel *self, GError **error) {
  g_return_val_if_fail(self->fd < 0, FALSE);
  self->fd = open_address(self->address, error);
  if (self->fd < 0)
    return FALSE;
  self->reader = tp_reader_new(TP_ROLE_AGENT);
  self->read_source = g_unix_fd_source_new(self->fd,
                                           G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback(self->read_source,
                        (GSourceFunc)(void (*)(void))on_readable, self, NULL);
  g_source_attach(self->read_source, NULL);
  return TRUE;
}

TandemAgentChannel *tandem_agent_channel_new(const char *address) {
  TandemAgentChannel *self = g_object_new(TANDEM_TYPE_AGENT_CHANNEL, NULL);
  self->address = g_strdup(address);
  return self;
}

static void tandem_agent_channel_finalize(GObject *object) {
  TandemAgentChannel *self = TANDEM_AGENT_CHANNEL(object);
  drop_source(&self->read_source);
  drop_source(&self->write_source);
  if (self->fd >= 0)
    close(self->fd);
  g_clear_pointer(&self->reader, tp_reader_free);
  tp_buf_clear(&self->out);
  g_free(self->address);
  G_OBJECT_CLASS(tandem_agent_channel_parent_class)->finalize(object);
}

static void tandem_agent_channel_class_init(TandemAgentChannelClass *klass) {
  G_OBJECT_CLASS(klass)->finalize = tandem_agent_channel_finalize;
  signals[SIGNAL_MESSAGE] = g_signal_new(
      "message", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_CLOSED] = g_signal_new(
      "closed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void tandem_agent_channel_init(TandemAgentChannel *self) {
  self->fd = -1;
  tp_buf_init(&self->out);
}
