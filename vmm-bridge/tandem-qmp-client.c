/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-qmp-client.h"

#include <gio/gunixfdmessage.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>

G_DEFINE_QUARK(tandem-qmp-error-quark, tandem_qmp_error)

/* One command waiting for its reply. */
typedef struct {
  TandemQmpClient *client; /* not owned: the task holds the client */
  gint64 id;
  GTask *task;
  GSource *timeout;
  GSource *cancel;
} Pending;

/* One line waiting to be written, with the fd that travels with it. */
typedef struct {
  GBytes *bytes;
  gsize offset;
  int fd; /* owned dup, -1 if none */
} Outgoing;

struct _TandemQmpClient {
  GObject parent_instance;

  GSocketConnection *connection;
  GSocket *socket;
  GSource *read_source;
  GSource *write_source;
  GByteArray *in;
  GQueue out; /* Outgoing */
  gsize max_line;

  gint64 next_id;
  GHashTable *pending; /* id (gint64 *) -> Pending */
  JsonObject *greeting;
  GTask *connect_task; /* until capabilities are negotiated */
  GSource *connect_timeout;
  GSource *connect_cancel;
  gboolean closed;
};

G_DEFINE_TYPE(TandemQmpClient, tandem_qmp_client, G_TYPE_OBJECT)

enum { SIGNAL_EVENT, SIGNAL_DISCONNECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

TandemQmpError tandem_qmp_error_from_class(const char *klass) {
  static const struct {
    const char *name;
    TandemQmpError code;
  } classes[] = {
      {"GenericError", TANDEM_QMP_ERROR_GENERIC},
      {"CommandNotFound", TANDEM_QMP_ERROR_COMMAND_NOT_FOUND},
      {"DeviceNotFound", TANDEM_QMP_ERROR_DEVICE_NOT_FOUND},
      {"DeviceNotActive", TANDEM_QMP_ERROR_DEVICE_NOT_ACTIVE},
      {"KVMMissingCap", TANDEM_QMP_ERROR_KVM_MISSING_CAP},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(classes); i++)
    if (g_strcmp0(klass, classes[i].name) == 0)
      return classes[i].code;
  return TANDEM_QMP_ERROR_UNKNOWN_CLASS;
}

/* Members of QEMU's messages, read without trusting their types. */
static const char *member_string(JsonObject *o, const char *name) {
  JsonNode *n = o ? json_object_get_member(o, name) : NULL;
  return n && json_node_get_value_type(n) == G_TYPE_STRING
             ? json_node_get_string(n) : NULL;
}

static gint64 member_int(JsonObject *o, const char *name) {
  JsonNode *n = o ? json_object_get_member(o, name) : NULL;
  return n && json_node_get_value_type(n) == G_TYPE_INT64 ? json_node_get_int(n)
                                                           : 0;
}

static void outgoing_free(Outgoing *o) {
  g_bytes_unref(o->bytes);
  if (o->fd >= 0)
    close(o->fd);
  g_free(o);
}

static void destroy_source(GSource **source) {
  if (*source) {
    g_source_destroy(*source);
    g_clear_pointer(source, g_source_unref);
  }
}

static void pending_free(Pending *p) {
  destroy_source(&p->timeout);
  destroy_source(&p->cancel);
  g_clear_object(&p->task);
  g_free(p);
}

/* Takes @p out of the table; the caller completes its task. */
static GTask *pending_steal(TandemQmpClient *self, Pending *p) {
  GTask *task = g_steal_pointer(&p->task);
  g_hash_table_remove(self->pending, &p->id);
  return task;
}

static void fail_connect(TandemQmpClient *self, GError *error) {
  destroy_source(&self->connect_timeout);
  destroy_source(&self->connect_cancel);
  if (self->connect_task) {
    g_autoptr(GTask) task = g_steal_pointer(&self->connect_task);
    g_task_return_error(task, error);
  } else {
    g_error_free(error);
  }
}

/* Ends the connection for @reason (taken), failing every pending call. */
static void disconnect(TandemQmpClient *self, GError *reason) {
  if (self->closed) {
    g_error_free(reason);
    return;
  }
  self->closed = TRUE;
  g_object_ref(self);
  destroy_source(&self->read_source);
  destroy_source(&self->write_source);
  if (self->connection)
    g_io_stream_close(G_IO_STREAM(self->connection), NULL, NULL);
  g_queue_clear_full(&self->out, (GDestroyNotify)outgoing_free);

  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) tasks = g_ptr_array_new_with_free_func(g_object_unref);
  g_hash_table_iter_init(&iter, self->pending);
  while (g_hash_table_iter_next(&iter, NULL, &value)) {
    g_ptr_array_add(tasks, g_steal_pointer(&((Pending *)value)->task));
    g_hash_table_iter_remove(&iter);
  }
  for (guint i = 0; i < tasks->len; i++)
    g_task_return_new_error(tasks->pdata[i], TANDEM_QMP_ERROR,
                            TANDEM_QMP_ERROR_DISCONNECTED,
                            "QEMU's monitor connection closed: %s",
                            reason->message);
  if (self->connect_task)
    fail_connect(self, g_error_copy(reason));
  g_signal_emit(self, signals[SIGNAL_DISCONNECTED], 0, reason);
  g_error_free(reason);
  g_object_unref(self);
}

/* --- Writing ------------------------------------------------------------ */

static gboolean on_writable(GSocket *socket, GIOCondition cond, gpointer data);

static void flush_output(TandemQmpClient *self) {
  while (!self->closed && !g_queue_is_empty(&self->out)) {
    Outgoing *o = g_queue_peek_head(&self->out);
    gsize size;
    const guint8 *bytes = g_bytes_get_data(o->bytes, &size);
    GOutputVector vec = {bytes + o->offset, size - o->offset};
    g_autoptr(GSocketControlMessage) fdmsg = NULL;
    GSocketControlMessage *msgs[1];
    g_autoptr(GError) error = NULL;

    if (o->fd >= 0 && o->offset == 0) {
      fdmsg = g_unix_fd_message_new();
      if (!g_unix_fd_message_append_fd(G_UNIX_FD_MESSAGE(fdmsg), o->fd,
                                       &error)) {
        disconnect(self, g_steal_pointer(&error));
        return;
      }
      msgs[0] = fdmsg;
    }
    gssize n = g_socket_send_message(self->socket, NULL, &vec, 1,
                                     fdmsg ? msgs : NULL, fdmsg ? 1 : 0,
                                     G_SOCKET_MSG_NONE, NULL, &error);
    if (n < 0) {
      if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        if (!self->write_source) {
          self->write_source = g_socket_create_source(self->socket, G_IO_OUT,
                                                      NULL);
          g_source_set_callback(self->write_source,
                                (GSourceFunc)(void (*)(void))on_writable, self,
                                NULL);
          g_source_attach(self->write_source, NULL);
        }
        return;
      }
      disconnect(self, g_steal_pointer(&error));
      return;
    }
    o->offset += (gsize)n;
    if (o->offset == size)
      outgoing_free(g_queue_pop_head(&self->out));
  }
  destroy_source(&self->write_source);
}

static gboolean on_writable(GSocket *socket, GIOCondition cond,
                            gpointer data) {
  TandemQmpClient *self = data;
  g_clear_pointer(&self->write_source, g_source_unref);
  flush_output(self);
  return G_SOURCE_REMOVE;
}

static gboolean queue_line(TandemQmpClient *self, JsonNode *node, int fd,
                           GError **error) {
  g_autofree char *json = json_to_string(node, FALSE);
  Outgoing *o = g_new0(Outgoing, 1);

  o->fd = -1;
  if (fd >= 0 && (o->fd = dup(fd)) < 0) {
    g_free(o);
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                "Cannot pass file descriptor %d: %s", fd, g_strerror(errno));
    return FALSE;
  }
  o->bytes = g_bytes_new_take(g_strconcat(json, "\r\n", NULL),
                              strlen(json) + 2);
  g_queue_push_tail(&self->out, o);
  flush_output(self);
  return TRUE;
}

/* --- Commands ----------------------------------------------------------- */

static gboolean on_command_timeout(gpointer data) {
  Pending *p = data;
  TandemQmpClient *self = p->client;
  g_autoptr(GTask) task = pending_steal(self, p);

  /* A late reply finds no pending entry and is dropped. */
  g_task_return_new_error(task, TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_TIMEOUT,
                          "QEMU did not answer “%s” in time",
                          (const char *)g_task_get_task_data(task));
  return G_SOURCE_REMOVE;
}

static gboolean on_command_cancelled(GCancellable *cancellable,
                                     gpointer data) {
  Pending *p = data;
  g_autoptr(GTask) task = pending_steal(p->client, p);
  g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                          "Operation was cancelled");
  return G_SOURCE_REMOVE;
}

void tandem_qmp_client_execute_async(TandemQmpClient *self,
                                     const char *command,
                                     JsonObject *arguments, int fd,
                                     guint timeout_ms,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data) {
  g_return_if_fail(TANDEM_IS_QMP_CLIENT(self));
  g_return_if_fail(command != NULL);
  g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  g_task_set_source_tag(task, tandem_qmp_client_execute_async);
  g_task_set_task_data(task, g_strdup(command), g_free);

  if (self->closed) {
    g_task_return_new_error(task, TANDEM_QMP_ERROR,
                            TANDEM_QMP_ERROR_DISCONNECTED,
                            "Not connected to QEMU's monitor");
    return;
  }
  if (g_task_return_error_if_cancelled(task))
    return;

  g_autoptr(JsonBuilder) b = json_builder_new();
  gint64 id = self->next_id++;
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "execute");
  json_builder_add_string_value(b, command);
  if (arguments) {
    json_builder_set_member_name(b, "arguments");
    JsonNode *args = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(args, arguments);
    json_builder_add_value(b, args);
  }
  json_builder_set_member_name(b, "id");
  json_builder_add_int_value(b, id);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);

  Pending *p = g_new0(Pending, 1);
  p->client = self;
  p->id = id;
  p->task = g_object_ref(task);
  p->timeout = g_timeout_source_new(timeout_ms ? timeout_ms
                                               : TANDEM_QMP_DEFAULT_TIMEOUT_MS);
  g_source_set_callback(p->timeout, on_command_timeout, p, NULL);
  g_source_attach(p->timeout, NULL);
  if (cancellable) {
    p->cancel = g_cancellable_source_new(cancellable);
    g_source_set_callback(p->cancel,
                          (GSourceFunc)(void (*)(void))on_command_cancelled, p,
                          NULL);
    g_source_attach(p->cancel, NULL);
  }
  g_hash_table_insert(self->pending, &p->id, p);
  if (!queue_line(self, root, fd, &error)) {
    g_autoptr(GTask) t = pending_steal(self, p);
    g_task_return_error(t, g_steal_pointer(&error));
  }
}

JsonNode *tandem_qmp_client_execute_finish(TandemQmpClient *self,
                                           GAsyncResult *result,
                                           GError **error) {
  g_return_val_if_fail(g_task_is_valid(result, self), NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}

/* --- Reading ------------------------------------------------------------ */

static void handle_reply(TandemQmpClient *self, JsonObject *msg) {
  JsonNode *id_node = json_object_get_member(msg, "id");
  if (!id_node || json_node_get_value_type(id_node) != G_TYPE_INT64) {
    g_debug("QMP reply without a numeric id ignored");
    return;
  }
  gint64 id = json_node_get_int(id_node);
  Pending *p = g_hash_table_lookup(self->pending, &id);
  if (!p) {
    g_debug("QMP reply to %" G_GINT64_FORMAT " came too late; ignored", id);
    return;
  }
  g_autoptr(GTask) task = pending_steal(self, p);
  if (json_object_has_member(msg, "return")) {
    g_task_return_pointer(task, json_node_copy(json_object_get_member(msg,
                                                                     "return")),
                          (GDestroyNotify)json_node_unref);
    return;
  }
  JsonNode *err = json_object_get_member(msg, "error");
  JsonObject *eo = err && JSON_NODE_HOLDS_OBJECT(err)
                       ? json_node_get_object(err) : NULL;
  const char *klass = member_string(eo, "class");
  const char *desc = member_string(eo, "desc");
  /* The description is for people; code decides on the class alone. */
  g_task_return_new_error(task, TANDEM_QMP_ERROR,
                          tandem_qmp_error_from_class(klass), "%s (%s)",
                          desc ? desc : "no description",
                          klass ? klass : "no class");
}

static void handle_event(TandemQmpClient *self, JsonObject *msg) {
  const char *name = member_string(msg, "event");
  if (!name)
    return;
  JsonNode *data = json_object_get_member(msg, "data");
  JsonNode *ts = json_object_get_member(msg, "timestamp");
  gint64 us = 0;
  if (ts && JSON_NODE_HOLDS_OBJECT(ts)) {
    JsonObject *t = json_node_get_object(ts);
    us = member_int(t, "seconds") * G_USEC_PER_SEC +
         member_int(t, "microseconds");
  }
  g_signal_emit(self, signals[SIGNAL_EVENT], g_quark_from_string(name), name,
                data && JSON_NODE_HOLDS_OBJECT(data) ? json_node_get_object(data)
                                                     : NULL,
                us);
}

static void on_capabilities(GObject *source, GAsyncResult *result,
                            gpointer data) {
  TandemQmpClient *self = TANDEM_QMP_CLIENT(source);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = tandem_qmp_client_execute_finish(self, result,
                                                             &error);
  if (!self->connect_task)
    return; /* already failed (timeout, disconnect) */
  if (!ret) {
    fail_connect(self, g_steal_pointer(&error));
    tandem_qmp_client_close(self);
    return;
  }
  destroy_source(&self->connect_timeout);
  destroy_source(&self->connect_cancel);
  g_autoptr(GTask) task = g_steal_pointer(&self->connect_task);
  g_task_return_pointer(task, g_object_ref(self), g_object_unref);
}

static gboolean handle_line(TandemQmpClient *self, const char *line,
                            gsize len) {
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable();

  if (!json_parser_load_from_data(parser, line, (gssize)len, &error) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    disconnect(self, g_error_new(TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_PROTOCOL,
                                 "QEMU sent something that is not a JSON "
                                 "object: %s",
                                 error ? error->message : "not an object"));
    return FALSE;
  }
  JsonObject *msg = json_node_get_object(json_parser_get_root(parser));
  if (json_object_has_member(msg, "QMP")) {
    JsonNode *g = json_object_get_member(msg, "QMP");
    if (self->greeting || !JSON_NODE_HOLDS_OBJECT(g) || !self->connect_task) {
      disconnect(self, g_error_new_literal(TANDEM_QMP_ERROR,
                                           TANDEM_QMP_ERROR_PROTOCOL,
                                           "Unexpected QMP greeting"));
      return FALSE;
    }
    self->greeting = json_object_ref(json_node_get_object(g));
    tandem_qmp_client_execute_async(self, "qmp_capabilities", NULL, -1, 0,
                                    NULL, on_capabilities, NULL);
  } else if (!self->greeting) {
    disconnect(self, g_error_new_literal(TANDEM_QMP_ERROR,
                                         TANDEM_QMP_ERROR_PROTOCOL,
                                         "QEMU did not greet with QMP"));
    return FALSE;
  } else if (json_object_has_member(msg, "event")) {
    handle_event(self, msg);
  } else if (json_object_has_member(msg, "return") ||
             json_object_has_member(msg, "error")) {
    handle_reply(self, msg);
  } else {
    disconnect(self, g_error_new_literal(TANDEM_QMP_ERROR,
                                         TANDEM_QMP_ERROR_PROTOCOL,
                                         "Unknown message from QEMU"));
    return FALSE;
  }
  return !self->closed;
}

/* Splits complete lines off the input buffer; a line longer than the cap
 * ends the connection before the buffer can grow further. */
static void process_input(TandemQmpClient *self) {
  gsize start = 0;
  while (!self->closed) {
    guint8 *nl = memchr(self->in->data + start, '\n', self->in->len - start);
    if (!nl)
      break;
    gsize len = (gsize)(nl - (self->in->data + start));
    if (len > self->max_line)
      break;
    if (len > 0 && self->in->data[start + len - 1] == '\r')
      len--;
    if (len > 0 && !handle_line(self, (const char *)self->in->data + start,
                                len))
      return;
    start = (gsize)(nl - self->in->data) + 1;
  }
  if (self->closed)
    return;
  g_byte_array_remove_range(self->in, 0, (guint)start);
  if (self->in->len > self->max_line)
    disconnect(self, g_error_new(TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_PROTOCOL,
                                 "QEMU sent a line longer than %" G_GSIZE_FORMAT
                                 " bytes",
                                 self->max_line));
}

static gboolean on_readable(GSocket *socket, GIOCondition cond, gpointer data) {
  TandemQmpClient *self = data;
  guint8 buf[65536];
  g_autoptr(GError) error = NULL;

  gssize n = g_socket_receive(socket, (char *)buf, sizeof(buf), NULL, &error);
  if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n <= 0) {
    g_clear_pointer(&self->read_source, g_source_unref);
    disconnect(self, n == 0 ? g_error_new_literal(
                                  TANDEM_QMP_ERROR,
                                  TANDEM_QMP_ERROR_DISCONNECTED,
                                  "QEMU closed the monitor connection")
                            : g_steal_pointer(&error));
    return G_SOURCE_REMOVE;
  }
  g_object_ref(self);
  g_byte_array_append(self->in, buf, (guint)n);
  process_input(self);
  gboolean keep = !self->closed;
  g_object_unref(self);
  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* --- Connecting --------------------------------------------------------- */

static gboolean on_connect_timeout(gpointer data) {
  TandemQmpClient *self = data;
  g_clear_pointer(&self->connect_timeout, g_source_unref);
  disconnect(self, g_error_new_literal(TANDEM_QMP_ERROR,
                                       TANDEM_QMP_ERROR_TIMEOUT,
                                       "QEMU's monitor did not answer in time"));
  return G_SOURCE_REMOVE;
}

static gboolean on_connect_cancelled(GCancellable *cancellable,
                                     gpointer data) {
  TandemQmpClient *self = data;
  g_clear_pointer(&self->connect_cancel, g_source_unref);
  disconnect(self, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                       "Operation was cancelled"));
  return G_SOURCE_REMOVE;
}

static void on_socket_connected(GObject *source, GAsyncResult *result,
                                gpointer data) {
  g_autoptr(TandemQmpClient) self = data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn = g_socket_client_connect_finish(
      G_SOCKET_CLIENT(source), result, &error);

  if (!conn) {
    self->closed = TRUE;
    fail_connect(self, g_steal_pointer(&error));
    return;
  }
  if (!self->connect_task) { /* timed out or cancelled meanwhile */
    g_object_unref(conn);
    return;
  }
  self->connection = conn;
  self->socket = g_socket_connection_get_socket(conn);
  g_socket_set_blocking(self->socket, FALSE);
  self->read_source = g_socket_create_source(self->socket,
                                             G_IO_IN | G_IO_HUP | G_IO_ERR,
                                             NULL);
  g_source_set_callback(self->read_source,
                        (GSourceFunc)(void (*)(void))on_readable, self, NULL);
  g_source_attach(self->read_source, NULL);
}

void tandem_qmp_client_connect_async(const char *socket_path, guint timeout_ms,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data) {
  g_return_if_fail(socket_path != NULL);
  TandemQmpClient *self = g_object_new(TANDEM_TYPE_QMP_CLIENT, NULL);
  g_autoptr(GSocketClient) sc = g_socket_client_new();
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(socket_path);

  self->connect_task = g_task_new(NULL, cancellable, callback, user_data);
  g_task_set_source_tag(self->connect_task, tandem_qmp_client_connect_async);
  /* The task keeps the client alive until the handshake ends; on success it
   * hands the caller a reference of its own. */
  g_task_set_task_data(self->connect_task, self, g_object_unref);
  self->connect_timeout = g_timeout_source_new(
      timeout_ms ? timeout_ms : TANDEM_QMP_DEFAULT_TIMEOUT_MS);
  g_source_set_callback(self->connect_timeout, on_connect_timeout, self, NULL);
  g_source_attach(self->connect_timeout, NULL);
  if (cancellable) {
    self->connect_cancel = g_cancellable_source_new(cancellable);
    g_source_set_callback(self->connect_cancel,
                          (GSourceFunc)(void (*)(void))on_connect_cancelled,
                          self, NULL);
    g_source_attach(self->connect_cancel, NULL);
  }
  g_socket_client_connect_async(sc, G_SOCKET_CONNECTABLE(addr), cancellable,
                                on_socket_connected, g_object_ref(self));
}

TandemQmpClient *tandem_qmp_client_connect_finish(GAsyncResult *result,
                                                  GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}

/* --- Object ------------------------------------------------------------- */

void tandem_qmp_client_close(TandemQmpClient *self) {
  g_return_if_fail(TANDEM_IS_QMP_CLIENT(self));
  disconnect(self, g_error_new_literal(TANDEM_QMP_ERROR,
                                       TANDEM_QMP_ERROR_DISCONNECTED,
                                       "Connection closed by Tandem"));
}

gboolean tandem_qmp_client_is_connected(TandemQmpClient *self) {
  g_return_val_if_fail(TANDEM_IS_QMP_CLIENT(self), FALSE);
  return !self->closed && self->greeting && !self->connect_task;
}

JsonObject *tandem_qmp_client_get_greeting(TandemQmpClient *self) {
  g_return_val_if_fail(TANDEM_IS_QMP_CLIENT(self), NULL);
  return self->greeting;
}

void tandem_qmp_client_set_max_line(TandemQmpClient *self, gsize max) {
  g_return_if_fail(TANDEM_IS_QMP_CLIENT(self));
  self->max_line = max;
}

static void tandem_qmp_client_dispose(GObject *object) {
  TandemQmpClient *self = TANDEM_QMP_CLIENT(object);
  if (!self->closed && self->connection)
    tandem_qmp_client_close(self);
  destroy_source(&self->read_source);
  destroy_source(&self->write_source);
  destroy_source(&self->connect_timeout);
  destroy_source(&self->connect_cancel);
  g_clear_object(&self->connection);
  G_OBJECT_CLASS(tandem_qmp_client_parent_class)->dispose(object);
}

static void tandem_qmp_client_finalize(GObject *object) {
  TandemQmpClient *self = TANDEM_QMP_CLIENT(object);
  g_queue_clear_full(&self->out, (GDestroyNotify)outgoing_free);
  g_hash_table_unref(self->pending);
  g_byte_array_unref(self->in);
  g_clear_pointer(&self->greeting, json_object_unref);
  G_OBJECT_CLASS(tandem_qmp_client_parent_class)->finalize(object);
}

static void tandem_qmp_client_class_init(TandemQmpClientClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->dispose = tandem_qmp_client_dispose;
  object_class->finalize = tandem_qmp_client_finalize;

  signals[SIGNAL_EVENT] = g_signal_new(
      "event", G_TYPE_FROM_CLASS(klass),
      G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0, NULL, NULL, NULL, G_TYPE_NONE,
      3, G_TYPE_STRING, JSON_TYPE_OBJECT, G_TYPE_INT64);
  signals[SIGNAL_DISCONNECTED] = g_signal_new(
      "disconnected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void tandem_qmp_client_init(TandemQmpClient *self) {
  self->in = g_byte_array_new();
  g_queue_init(&self->out);
  self->max_line = TANDEM_QMP_DEFAULT_MAX_LINE;
  self->next_id = 1;
  self->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                        (GDestroyNotify)pending_free);
}
