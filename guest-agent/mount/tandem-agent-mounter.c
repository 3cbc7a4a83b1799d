/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The agent's side of mounting: the asynchronous client of
 * tandem-mount-helper's socket, and TandemMounter, which runs requests one
 * at a time through the helper or, as root, in-process on a worker
 * thread. */
#include "tandem-agent-mount.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <unistd.h>

/* Mounting replays journals and unmounting writes back dirty data: both
 * may take long, but a helper that never answers must not hang a request
 * forever. */
#define HELPER_TIMEOUT_S 600u

/* --- The helper's client ------------------------------------------------- */

typedef struct {
  char *socket_path;
  char *line;
  GSocketConnection *conn;
  GByteArray *reply;
  guint8 buf[1024];
} ClientOp;

static void client_op_free(ClientOp *op) {
  g_free(op->socket_path);
  g_free(op->line);
  g_clear_object(&op->conn);
  g_byte_array_unref(op->reply);
  g_free(op);
}

static void client_fail(GTask *task, GError *error) {
  ClientOp *op = g_task_get_task_data(task);
  g_prefix_error(&error, "cannot ask the mount service at %s: ",
                 op->socket_path);
  g_task_return_error(task, error);
  g_object_unref(task);
}

static void on_read(GObject *source, GAsyncResult *res, gpointer data);

static void read_more(GTask *task) {
  ClientOp *op = g_task_get_task_data(task);
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(op->conn));
  g_input_stream_read_async(in, op->buf, sizeof op->buf, G_PRIORITY_DEFAULT,
                            g_task_get_cancellable(task), on_read, task);
}

static void on_read(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  ClientOp *op = g_task_get_task_data(task);
  GError *error = NULL;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, &error);
  if (n < 0) {
    client_fail(task, error);
    return;
  }
  g_byte_array_append(op->reply, op->buf, (guint)n);
  const guint8 *nl = memchr(op->reply->data, '\n', op->reply->len);
  if (!nl && op->reply->len >= TANDEM_MOUNT_MAX_REPLY) {
    client_fail(task, g_error_new(G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                  "its reply is longer than %u bytes",
                                  TANDEM_MOUNT_MAX_REPLY));
    return;
  }
  if (!nl && n == 0) {
    client_fail(task, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED,
                                          "it hung up without an answer"));
    return;
  }
  if (!nl) {
    read_more(task);
    return;
  }
  g_autofree char *line = g_strndup((const char *)op->reply->data,
                                    (gsize)(nl - op->reply->data));
  if (strlen(line) != (gsize)(nl - op->reply->data)) {
    client_fail(task, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                          "its reply holds a NUL byte"));
    return;
  }
  TandemMountResult *r = tandem_mount_result_parse(line, &error);
  if (!r) {
    client_fail(task, error);
    return;
  }
  g_task_return_pointer(task, r, (GDestroyNotify)tandem_mount_result_free);
  g_object_unref(task);
}

static void on_written(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  GError *error = NULL;
  if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL,
                                        &error)) {
    client_fail(task, error);
    return;
  }
  read_more(task);
}

static void on_connected(GObject *source, GAsyncResult *res, gpointer data) {
  GTask *task = data;
  ClientOp *op = g_task_get_task_data(task);
  GError *error = NULL;
  op->conn = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), res,
                                            &error);
  if (!op->conn) {
    client_fail(task, error);
    return;
  }
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(op->conn));
  g_output_stream_write_all_async(out, op->line, strlen(op->line),
                                  G_PRIORITY_DEFAULT,
                                  g_task_get_cancellable(task), on_written,
                                  task);
}

static void client_start(const char *socket_path,
                         const TandemMountRequest *req,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data,
                         gpointer source_tag) {
  GTask *task = g_task_new(NULL, cancellable, callback, user_data);
  g_task_set_source_tag(task, source_tag);
  ClientOp *op = g_new0(ClientOp, 1);
  op->socket_path = g_strdup(socket_path);
  op->reply = g_byte_array_new();
  g_task_set_task_data(task, op, (GDestroyNotify)client_op_free);

  /* Requests the helper would refuse are answered here, in its words. */
  if (!tandem_mount_serial_is_valid(req->serial)) {
    g_task_return_pointer(
        task,
        tandem_mount_result_new(
            TP_MOUNT_FAILED, "",
            "“%s” is not a disk serial: use 1 to 64 letters, digits, “.”, "
            "“_”, “+”, “@” or “-”.",
            req->serial ? req->serial : ""),
        (GDestroyNotify)tandem_mount_result_free);
    g_object_unref(task);
    return;
  }
  if (!req->unmount && !tandem_mount_label_is_valid(req->label)) {
    g_task_return_pointer(
        task,
        tandem_mount_result_new(
            TP_MOUNT_FAILED, "",
            "“%s” cannot be a mount label: use 1 to 64 letters, digits, "
            "“.”, “_” or “-” (not “.” or “..”).",
            req->label ? req->label : ""),
        (GDestroyNotify)tandem_mount_result_free);
    g_object_unref(task);
    return;
  }
  op->line = tandem_mount_request_format(req);

  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_socket_client_set_timeout(client, HELPER_TIMEOUT_S);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(socket_path);
  g_socket_client_connect_async(client, G_SOCKET_CONNECTABLE(addr),
                                cancellable, on_connected, task);
}

void tandem_mount_request_async(const char *socket_path, const TpMount *mount,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data) {
  TandemMountRequest req = {
      .serial = (char *)mount->serial,
      .label = (char *)mount->label,
      .read_only = mount->read_only != 0,
  };
  client_start(socket_path, &req, cancellable, callback, user_data,
               tandem_mount_request_async);
}

TandemMountResult *tandem_mount_request_finish(GAsyncResult *result,
                                               GError **error) {
  g_return_val_if_fail(
      g_async_result_is_tagged(result, tandem_mount_request_async), NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}

void tandem_unmount_request_async(const char *socket_path,
                                  const TpUnmount *unmount,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data) {
  TandemMountRequest req = {.unmount = TRUE,
                            .serial = (char *)unmount->serial,
                            .lazy = unmount->force != 0};
  client_start(socket_path, &req, cancellable, callback, user_data,
               tandem_unmount_request_async);
}

TandemMountResult *tandem_unmount_request_finish(GAsyncResult *result,
                                                 GError **error) {
  g_return_val_if_fail(
      g_async_result_is_tagged(result, tandem_unmount_request_async), NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}

/* --- In-process configuration, shared with worker threads ---------------- */

typedef struct {
  TandemMountConfig config;
  char *sysfs_root, *dev_root, *base_dir, *mountinfo, *proc_root;
} SharedConfig;

static void shared_config_clear(SharedConfig *s) {
  g_free(s->sysfs_root);
  g_free(s->dev_root);
  g_free(s->base_dir);
  g_free(s->mountinfo);
  g_free(s->proc_root);
}

static SharedConfig *shared_config_new(const TandemMountConfig *c) {
  SharedConfig *s = g_atomic_rc_box_new0(SharedConfig);
  s->config = *c;
  s->config.sysfs_root = s->sysfs_root = g_strdup(c->sysfs_root);
  s->config.dev_root = s->dev_root = g_strdup(c->dev_root);
  s->config.base_dir = s->base_dir = g_strdup(c->base_dir);
  s->config.mountinfo = s->mountinfo = g_strdup(c->mountinfo);
  s->config.proc_root = s->proc_root = g_strdup(c->proc_root);
  return s;
}

static void shared_config_unref(SharedConfig *s) {
  g_atomic_rc_box_release_full(s, (GDestroyNotify)shared_config_clear);
}

/* One mount or unmount at a time in this process, whatever the mounter. */
static GMutex in_process_lock;

/* --- TandemMounter ------------------------------------------------------- */

typedef struct {
  TandemMounter *self;        /* not a reference: see the cancellable */
  GCancellable *cancellable;  /* the mounter's; cancelled when it goes */
  SharedConfig *config;       /* in-process; helper: for the sync */
  TandemMountRequest req;
  guint32 request_id;
  TandemMountCallback callback;
  gpointer user_data;
} Op;

static void op_free(Op *op) {
  g_clear_object(&op->cancellable);
  g_clear_pointer(&op->config, shared_config_unref);
  g_free(op->req.serial);
  g_free(op->req.label);
  g_free(op);
}

struct _TandemMounter {
  GObject parent_instance;
  char *socket_path;     /* NULL: in-process */
  SharedConfig *config;  /* in-process: everything; else what to sync */
  char *description;
  GCancellable *cancellable;
  GQueue queue;          /* Op, waiting */
  gboolean running;      /* an Op is under way */
};

G_DEFINE_TYPE(TandemMounter, tandem_mounter, G_TYPE_OBJECT)

static void run_next(TandemMounter *self);

/* Every request ends here, with a result or the reason there is none. */
static void op_done(Op *op, TandemMountResult *r, GError *error) {
  if (g_cancellable_is_cancelled(op->cancellable)) {
    /* The mounter is gone (or going): nobody to tell. */
    tandem_mount_result_free(r);
    g_clear_error(&error);
    op_free(op);
    return;
  }
  TandemMounter *self = op->self;
  if (!r) {
    r = tandem_mount_result_new(
        TP_MOUNT_FAILED, "",
        "Nothing was %s: %s. The mount service (tandem-mount-helper) must "
        "run as root in the guest; see docs/mount.md.",
        op->req.unmount ? "unmounted" : "mounted",
        error ? error->message : "unknown error");
  }
  g_clear_error(&error);
  TpMountResult out = {
      .request_id = op->request_id,
      .status = r->status,
      .mountpoint = r->mountpoint,
      .message = r->message,
      .fs_type = r->fs_type,
      .total_bytes = r->total_bytes,
      .free_bytes = r->free_bytes,
  };
  g_object_ref(self);
  self->running = FALSE;
  op->callback(&out, op->user_data);
  tandem_mount_result_free(r);
  op_free(op);
  run_next(self);
  g_object_unref(self);
}

static void on_helper_reply(GObject *source, GAsyncResult *res,
                            gpointer data) {
  Op *op = data;
  GError *error = NULL;
  TandemMountResult *r =
      op->req.unmount ? tandem_unmount_request_finish(res, &error)
                      : tandem_mount_request_finish(res, &error);
  op_done(op, r, error);
}

static void in_process_thread(GTask *task, gpointer source, gpointer data,
                              GCancellable *cancellable) {
  Op *op = data;
  g_mutex_lock(&in_process_lock);
  TandemMountResult *r = tandem_mount_request_run(&op->config->config,
                                                  &op->req);
  g_mutex_unlock(&in_process_lock);
  g_task_return_pointer(task, r, (GDestroyNotify)tandem_mount_result_free);
}

static void on_in_process_done(GObject *source, GAsyncResult *res,
                               gpointer data) {
  Op *op = data;
  /* Not g_task_propagate_pointer: it would report a cancellation before
   * the result, and the work is done either way. */
  TandemMountResult *r = g_task_had_error(G_TASK(res))
                             ? NULL
                             : g_task_propagate_pointer(G_TASK(res), NULL);
  op_done(op, r, r ? NULL
                   : g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED,
                                         "the worker failed"));
}

/* Through the helper, the agent flushes the disk's file systems itself
 * first (syncfs needs no privilege), on a worker thread, so what the
 * session wrote is on the disk whatever the helper then does. */
static void sync_thread(GTask *task, gpointer source, gpointer data,
                        GCancellable *cancellable) {
  Op *op = data;
  tandem_mount_sync_disk(&op->config->config, op->req.serial);
  g_task_return_boolean(task, TRUE);
}

static void on_synced(GObject *source, GAsyncResult *res, gpointer data) {
  Op *op = data;
  if (g_cancellable_is_cancelled(op->cancellable)) {
    op_done(op, NULL, NULL);
    return;
  }
  TpUnmount u = {op->request_id, op->req.serial, (uint8_t)op->req.lazy};
  tandem_unmount_request_async(op->self->socket_path, &u, op->cancellable,
                               on_helper_reply, op);
}

static void run_next(TandemMounter *self) {
  if (self->running)
    return;
  Op *op = g_queue_pop_head(&self->queue);
  if (!op)
    return;
  self->running = TRUE;
  if (self->socket_path) {
    if (op->req.unmount) {
      op->config = g_atomic_rc_box_acquire(self->config);
      GTask *task = g_task_new(NULL, NULL, on_synced, op);
      g_task_set_task_data(task, op, NULL);
      g_task_run_in_thread(task, sync_thread);
      g_object_unref(task);
    } else {
      TpMount m = {op->request_id, op->req.serial, op->req.label,
                   (uint8_t)op->req.read_only};
      tandem_mount_request_async(self->socket_path, &m, self->cancellable,
                                 on_helper_reply, op);
    }
    return;
  }
  op->config = g_atomic_rc_box_acquire(self->config);
  /* No cancellable on the task: a mount under way finishes regardless. */
  GTask *task = g_task_new(NULL, NULL, on_in_process_done, op);
  g_task_set_task_data(task, op, NULL);
  g_task_run_in_thread(task, in_process_thread);
  g_object_unref(task);
}

static void enqueue(TandemMounter *self, gboolean unmount, guint32 id,
                    const char *serial, const char *label, gboolean ro,
                    gboolean lazy, TandemMountCallback callback,
                    gpointer user_data) {
  g_return_if_fail(TANDEM_IS_MOUNTER(self));
  g_return_if_fail(callback != NULL);
  Op *op = g_new0(Op, 1);
  op->self = self;
  op->cancellable = g_object_ref(self->cancellable);
  op->req.unmount = unmount;
  op->req.serial = g_strdup(serial ? serial : "");
  op->req.label = unmount ? NULL : g_strdup(label ? label : "");
  op->req.read_only = ro;
  op->req.lazy = unmount && lazy;
  op->request_id = id;
  op->callback = callback;
  op->user_data = user_data;
  /* In-process, invalid requests still go to the thread: the answer is
   * the same as the helper's, and it comes later, as promised. */
  g_queue_push_tail(&self->queue, op);
  run_next(self);
}

void tandem_mounter_mount(TandemMounter *self, const TpMount *request,
                          TandemMountCallback callback, gpointer user_data) {
  enqueue(self, FALSE, request->request_id, request->serial, request->label,
          request->read_only != 0, FALSE, callback, user_data);
}

void tandem_mounter_unmount(TandemMounter *self, const TpUnmount *request,
                            TandemMountCallback callback, gpointer user_data) {
  enqueue(self, TRUE, request->request_id, request->serial, NULL, FALSE,
          request->force != 0, callback, user_data);
}

const char *tandem_mounter_describe(TandemMounter *self) {
  return self->description;
}

static void tandem_mounter_dispose(GObject *object) {
  TandemMounter *self = TANDEM_MOUNTER(object);
  g_cancellable_cancel(self->cancellable);
  g_queue_clear_full(&self->queue, (GDestroyNotify)op_free);
  G_OBJECT_CLASS(tandem_mounter_parent_class)->dispose(object);
}

static void tandem_mounter_finalize(GObject *object) {
  TandemMounter *self = TANDEM_MOUNTER(object);
  g_free(self->socket_path);
  g_clear_pointer(&self->config, shared_config_unref);
  g_free(self->description);
  g_object_unref(self->cancellable);
  G_OBJECT_CLASS(tandem_mounter_parent_class)->finalize(object);
}

static void tandem_mounter_class_init(TandemMounterClass *klass) {
  G_OBJECT_CLASS(klass)->dispose = tandem_mounter_dispose;
  G_OBJECT_CLASS(klass)->finalize = tandem_mounter_finalize;
}

static void tandem_mounter_init(TandemMounter *self) {
  self->cancellable = g_cancellable_new();
  g_queue_init(&self->queue);
}

TandemMounter *tandem_mounter_new_for_socket(const char *socket_path) {
  g_return_val_if_fail(socket_path && *socket_path, NULL);
  TandemMounter *self = g_object_new(TANDEM_TYPE_MOUNTER, NULL);
  self->socket_path = g_strdup(socket_path);
  /* Only to find what to flush before an unmount. */
  TandemMountConfig c;
  tandem_mount_config_init(&c);
  self->config = shared_config_new(&c);
  self->description =
      g_strdup_printf("tandem-mount-helper at %s", socket_path);
  return self;
}

TandemMounter *tandem_mounter_new_in_process(const TandemMountConfig *config) {
  g_return_val_if_fail(config != NULL, NULL);
  TandemMounter *self = g_object_new(TANDEM_TYPE_MOUNTER, NULL);
  self->config = shared_config_new(config);
  self->description = g_strdup_printf("in-process (uid %u)",
                                      (unsigned)geteuid());
  return self;
}

TandemMounter *tandem_mounter_new(void) {
  const char *env = g_getenv("TANDEM_MOUNT_SOCKET");
  if (env && *env)
    return tandem_mounter_new_for_socket(env);
  if (geteuid() == 0) {
    TandemMountConfig c;
    tandem_mount_config_init(&c);
    return tandem_mounter_new_in_process(&c);
  }
  return tandem_mounter_new_for_socket(TANDEM_MOUNT_SOCKET_DEFAULT);
}
