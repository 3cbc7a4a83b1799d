#include "tandem-qmp-commands.h"

#include <string.h>

#include "tandem-qmp-call.h"

/* --- Run state ---------------------------------------------------------- */

void tandem_qmp_stop_async(TandemQmpClient *client, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data) {
  tandem_qmp_call_async(client, "stop", NULL, -1, NULL, NULL,
                        tandem_qmp_stop_async, cancellable, callback,
                        user_data);
}

gboolean tandem_qmp_stop_finish(TandemQmpClient *client, GAsyncResult *result,
                                GError **error) {
  return tandem_qmp_call_finish_boolean(client, result, tandem_qmp_stop_async,
                                        error);
}

void tandem_qmp_cont_async(TandemQmpClient *client, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data) {
  tandem_qmp_call_async(client, "cont", NULL, -1, NULL, NULL,
                        tandem_qmp_cont_async, cancellable, callback,
                        user_data);
}

gboolean tandem_qmp_cont_finish(TandemQmpClient *client, GAsyncResult *result,
                                GError **error) {
  return tandem_qmp_call_finish_boolean(client, result, tandem_qmp_cont_async,
                                        error);
}

void tandem_qmp_status_info_free(TandemQmpStatusInfo *info) {
  if (!info)
    return;
  g_free(info->status);
  g_free(info);
}

static gpointer parse_status(JsonNode *untrusted_ret, GError **error) {
  JsonObject *o = tandem_qmp_expect_object(untrusted_ret, "return", error);
  g_autoptr(TandemQmpStatusInfo) info = g_new0(TandemQmpStatusInfo, 1);
  if (!o ||
      !tandem_qmp_read_boolean(o, "running", TRUE, &info->running, error) ||
      !tandem_qmp_read_string(o, "status", TRUE, &info->status, error))
    return NULL;
  return g_steal_pointer(&info);
}

void tandem_qmp_query_status_async(TandemQmpClient *client,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data) {
  tandem_qmp_call_async(client, "query-status", NULL, -1, parse_status,
                        (GDestroyNotify)tandem_qmp_status_info_free,
                        tandem_qmp_query_status_async, cancellable, callback,
                        user_data);
}

TandemQmpStatusInfo *tandem_qmp_query_status_finish(TandemQmpClient *client,
                                                    GAsyncResult *result,
                                                    GError **error) {
  return tandem_qmp_call_finish_pointer(client, result,
                                        tandem_qmp_query_status_async, error);
}

/* --- Disks -------------------------------------------------------------- */

void tandem_qmp_block_device_free(TandemQmpBlockDevice *device) {
  if (!device)
    return;
  g_free(device->qdev);
  g_free(device->node_name);
  g_free(device->file);
  g_free(device->format);
  g_free(device->backing_file);
  g_free(device);
}

char *tandem_qmp_qdev_to_device_id(const char *qdev) {
  static const char peripheral[] = "/machine/peripheral/";

  if (!qdev || !*qdev)
    return NULL;
  /* A device given an id lives under /machine/peripheral/ID; the block
   * device may be a child of it (virtio-blk-pci's "virtio-backend"). */
  if (g_str_has_prefix(qdev, peripheral)) {
    const char *id = qdev + strlen(peripheral);
    const char *end = strchrnul(id, '/');
    return end > id ? g_strndup(id, (gsize)(end - id)) : NULL;
  }
  /* Other paths (/machine/peripheral-anon/..., /machine/unattached/...)
   * belong to devices without an id; a bare name is the id itself, as
   * QEMU reports it for devices that are their own block device. */
  return qdev[0] == '/' ? NULL : g_strdup(qdev);
}

/* One element of query-block's list into @out, or *out = NULL for a device
 * with no medium. */
static gboolean parse_block_device(JsonNode *untrusted_node,
                                   TandemQmpBlockDevice **out,
                                   GError **error) {
  JsonObject *o = tandem_qmp_expect_object(untrusted_node, "device", error);
  JsonObject *inserted, *image;
  g_autoptr(TandemQmpBlockDevice) dev = g_new0(TandemQmpBlockDevice, 1);

  *out = NULL;
  if (!o || !tandem_qmp_read_object(o, "inserted", FALSE, &inserted, error))
    return FALSE;
  if (!inserted)
    return TRUE;
  if (!tandem_qmp_read_string(o, "qdev", FALSE, &dev->qdev, error) ||
      !tandem_qmp_read_string(inserted, "node-name", TRUE, &dev->node_name,
                              error) ||
      !tandem_qmp_read_string(inserted, "file", TRUE, &dev->file, error) ||
      !tandem_qmp_read_string(inserted, "drv", TRUE, &dev->format, error) ||
      !tandem_qmp_read_boolean(inserted, "ro", TRUE, &dev->read_only,
                               error) ||
      !tandem_qmp_read_object(inserted, "image", TRUE, &image, error) ||
      !tandem_qmp_read_u64(image, "virtual-size", TRUE, &dev->virtual_size,
                           error) ||
      !tandem_qmp_read_string(image, "backing-filename", FALSE,
                              &dev->backing_file, error))
    return FALSE;
  /* The node name is what a snapshot transaction is addressed to. */
  if (!*dev->node_name) {
    g_set_error_literal(error, TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_PROTOCOL,
                        "“node-name” is empty");
    return FALSE;
  }
  *out = g_steal_pointer(&dev);
  return TRUE;
}

static gpointer parse_block_list(JsonNode *untrusted_ret, GError **error) {
  JsonArray *list = tandem_qmp_expect_list(untrusted_ret, "return", error);
  if (!list)
    return NULL;
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func(
      (GDestroyNotify)tandem_qmp_block_device_free);
  for (guint i = 0; i < json_array_get_length(list); i++) {
    TandemQmpBlockDevice *dev;
    if (!parse_block_device(json_array_get_element(list, i), &dev, error)) {
      g_prefix_error(error, "entry %u: ", i);
      return NULL;
    }
    if (dev)
      g_ptr_array_add(devices, dev);
  }
  return g_steal_pointer(&devices);
}

void tandem_qmp_query_block_async(TandemQmpClient *client,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data) {
  tandem_qmp_call_async(client, "query-block", NULL, -1, parse_block_list,
                        (GDestroyNotify)g_ptr_array_unref,
                        tandem_qmp_query_block_async, cancellable, callback,
                        user_data);
}

GPtrArray *tandem_qmp_query_block_finish(TandemQmpClient *client,
                                         GAsyncResult *result,
                                         GError **error) {
  return tandem_qmp_call_finish_pointer(client, result,
                                        tandem_qmp_query_block_async, error);
}

static JsonObject *snapshot_action(const TandemQmpSnapshotAction *a) {
  JsonObject *data = json_object_new();
  json_object_set_string_member(data, "node-name", a->node_name);
  json_object_set_string_member(data, "snapshot-file", a->snapshot_file);
  if (a->snapshot_node_name)
    json_object_set_string_member(data, "snapshot-node-name",
                                  a->snapshot_node_name);
  if (a->format)
    json_object_set_string_member(data, "format", a->format);
  json_object_set_string_member(data, "mode",
                                a->existing ? "existing" : "absolute-paths");

  JsonObject *action = json_object_new();
  json_object_set_string_member(action, "type", "blockdev-snapshot-sync");
  json_object_set_object_member(action, "data", data);
  return action;
}

void tandem_qmp_blockdev_snapshot_transaction_async(
    TandemQmpClient *client, const TandemQmpSnapshotAction *actions,
    gsize n_actions, GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data) {
  g_return_if_fail(actions != NULL || n_actions == 0);
  for (gsize i = 0; i < n_actions; i++)
    g_return_if_fail(actions[i].node_name && actions[i].snapshot_file);

  JsonArray *list = json_array_sized_new((guint)n_actions);
  for (gsize i = 0; i < n_actions; i++)
    json_array_add_object_element(list, snapshot_action(&actions[i]));
  JsonObject *args = json_object_new();
  json_object_set_array_member(args, "actions", list);
  tandem_qmp_call_async(client, "transaction", args, -1, NULL, NULL,
                        tandem_qmp_blockdev_snapshot_transaction_async,
                        cancellable, callback, user_data);
}

gboolean tandem_qmp_blockdev_snapshot_transaction_finish(
    TandemQmpClient *client, GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_blockdev_snapshot_transaction_async, error);
}

/* --- File descriptors --------------------------------------------------- */

static JsonObject *fdname_arguments(const char *name) {
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "fdname", name);
  return args;
}

void tandem_qmp_getfd_async(TandemQmpClient *client, const char *name, int fd,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data) {
  g_return_if_fail(name != NULL);
  g_return_if_fail(fd >= 0);
  tandem_qmp_call_async(client, "getfd", fdname_arguments(name), fd, NULL,
                        NULL, tandem_qmp_getfd_async, cancellable, callback,
                        user_data);
}

gboolean tandem_qmp_getfd_finish(TandemQmpClient *client, GAsyncResult *result,
                                 GError **error) {
  return tandem_qmp_call_finish_boolean(client, result, tandem_qmp_getfd_async,
                                        error);
}

void tandem_qmp_closefd_async(TandemQmpClient *client, const char *name,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data) {
  g_return_if_fail(name != NULL);
  tandem_qmp_call_async(client, "closefd", fdname_arguments(name), -1, NULL,
                        NULL, tandem_qmp_closefd_async, cancellable, callback,
                        user_data);
}

gboolean tandem_qmp_closefd_finish(TandemQmpClient *client,
                                   GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_closefd_async, error);
}

/* --- Jobs --------------------------------------------------------------- */

void tandem_qmp_snapshot_save_async(TandemQmpClient *client,
                                    const char *job_id, const char *tag,
                                    const char *vmstate_node,
                                    const char *const *devices,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data) {
  g_return_if_fail(job_id && tag && vmstate_node);
  g_return_if_fail(devices && devices[0]);

  JsonArray *list = json_array_new();
  for (gsize i = 0; devices[i]; i++)
    json_array_add_string_element(list, devices[i]);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "job-id", job_id);
  json_object_set_string_member(args, "tag", tag);
  json_object_set_string_member(args, "vmstate", vmstate_node);
  json_object_set_array_member(args, "devices", list);
  tandem_qmp_call_async(client, "snapshot-save", args, -1, NULL, NULL,
                        tandem_qmp_snapshot_save_async, cancellable, callback,
                        user_data);
}

gboolean tandem_qmp_snapshot_save_finish(TandemQmpClient *client,
                                         GAsyncResult *result,
                                         GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_snapshot_save_async, error);
}

void tandem_qmp_job_info_free(TandemQmpJobInfo *info) {
  if (!info)
    return;
  g_free(info->id);
  g_free(info->type);
  g_free(info->status);
  g_free(info->error);
  g_free(info);
}

static TandemQmpJobInfo *parse_job(JsonNode *untrusted_node, GError **error) {
  JsonObject *o = tandem_qmp_expect_object(untrusted_node, "job", error);
  g_autoptr(TandemQmpJobInfo) job = g_new0(TandemQmpJobInfo, 1);
  if (!o || !tandem_qmp_read_string(o, "id", TRUE, &job->id, error) ||
      !tandem_qmp_read_string(o, "type", TRUE, &job->type, error) ||
      !tandem_qmp_read_string(o, "status", TRUE, &job->status, error) ||
      !tandem_qmp_read_string(o, "error", FALSE, &job->error, error))
    return NULL;
  return g_steal_pointer(&job);
}

static gpointer parse_job_list(JsonNode *untrusted_ret, GError **error) {
  JsonArray *list = tandem_qmp_expect_list(untrusted_ret, "return", error);
  if (!list)
    return NULL;
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func(
      (GDestroyNotify)tandem_qmp_job_info_free);
  for (guint i = 0; i < json_array_get_length(list); i++) {
    TandemQmpJobInfo *job = parse_job(json_array_get_element(list, i), error);
    if (!job) {
      g_prefix_error(error, "entry %u: ", i);
      return NULL;
    }
    g_ptr_array_add(jobs, job);
  }
  return g_steal_pointer(&jobs);
}

void tandem_qmp_query_jobs_async(TandemQmpClient *client,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data) {
  tandem_qmp_call_async(client, "query-jobs", NULL, -1, parse_job_list,
                        (GDestroyNotify)g_ptr_array_unref,
                        tandem_qmp_query_jobs_async, cancellable, callback,
                        user_data);
}

GPtrArray *tandem_qmp_query_jobs_finish(TandemQmpClient *client,
                                        GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_pointer(client, result,
                                        tandem_qmp_query_jobs_async, error);
}

const TandemQmpJobInfo *tandem_qmp_job_list_find(GPtrArray *jobs,
                                                 const char *id) {
  g_return_val_if_fail(jobs != NULL && id != NULL, NULL);
  for (guint i = 0; i < jobs->len; i++) {
    const TandemQmpJobInfo *job = g_ptr_array_index(jobs, i);
    if (g_str_equal(job->id, id))
      return job;
  }
  return NULL;
}

/* job-cancel and job-dismiss: a command on one job, answered with {}. */
static void job_call(TandemQmpClient *client, const char *command,
                     const char *id, gpointer tag, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data) {
  g_return_if_fail(id != NULL);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "id", id);
  tandem_qmp_call_async(client, command, args, -1, NULL, NULL, tag,
                        cancellable, callback, user_data);
}

void tandem_qmp_job_cancel_async(TandemQmpClient *client, const char *id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data) {
  job_call(client, "job-cancel", id, tandem_qmp_job_cancel_async,
           cancellable, callback, user_data);
}

gboolean tandem_qmp_job_cancel_finish(TandemQmpClient *client,
                                      GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_job_cancel_async, error);
}

void tandem_qmp_job_dismiss_async(TandemQmpClient *client, const char *id,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data) {
  job_call(client, "job-dismiss", id, tandem_qmp_job_dismiss_async,
           cancellable, callback, user_data);
}

gboolean tandem_qmp_job_dismiss_finish(TandemQmpClient *client,
                                       GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_job_dismiss_async, error);
}

/* --- Merging images ----------------------------------------------------- */

void tandem_qmp_block_node_free(TandemQmpBlockNode *node) {
  if (!node)
    return;
  g_free(node->node_name);
  g_free(node->file);
  g_free(node->format);
  g_free(node);
}

static gpointer parse_block_node_list(JsonNode *untrusted_ret,
                                      GError **error) {
  JsonArray *list = tandem_qmp_expect_list(untrusted_ret, "return", error);
  if (!list)
    return NULL;
  g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func(
      (GDestroyNotify)tandem_qmp_block_node_free);
  for (guint i = 0; i < json_array_get_length(list); i++) {
    JsonObject *o = tandem_qmp_expect_object(json_array_get_element(list, i),
                                             "node", error);
    g_autoptr(TandemQmpBlockNode) node = g_new0(TandemQmpBlockNode, 1);
    if (!o ||
        !tandem_qmp_read_string(o, "node-name", TRUE, &node->node_name,
                                error) ||
        !tandem_qmp_read_string(o, "file", TRUE, &node->file, error) ||
        !tandem_qmp_read_string(o, "drv", TRUE, &node->format, error)) {
      g_prefix_error(error, "entry %u: ", i);
      return NULL;
    }
    g_ptr_array_add(nodes, g_steal_pointer(&node));
  }
  return g_steal_pointer(&nodes);
}

void tandem_qmp_query_named_block_nodes_async(TandemQmpClient *client,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data) {
  JsonObject *args = json_object_new();
  json_object_set_boolean_member(args, "flat", TRUE);
  tandem_qmp_call_async(client, "query-named-block-nodes", args, -1,
                        parse_block_node_list,
                        (GDestroyNotify)g_ptr_array_unref,
                        tandem_qmp_query_named_block_nodes_async, cancellable,
                        callback, user_data);
}

GPtrArray *tandem_qmp_query_named_block_nodes_finish(TandemQmpClient *client,
                                                     GAsyncResult *result,
                                                     GError **error) {
  return tandem_qmp_call_finish_pointer(
      client, result, tandem_qmp_query_named_block_nodes_async, error);
}

const TandemQmpBlockNode *tandem_qmp_block_node_find(GPtrArray *nodes,
                                                     const char *file,
                                                     const char *format) {
  g_return_val_if_fail(nodes && file && format, NULL);
  for (guint i = 0; i < nodes->len; i++) {
    const TandemQmpBlockNode *n = g_ptr_array_index(nodes, i);
    if (g_str_equal(n->file, file) && g_str_equal(n->format, format))
      return n;
  }
  return NULL;
}

void tandem_qmp_block_stream_async(TandemQmpClient *client,
                                   const char *job_id, const char *device,
                                   const char *bottom, guint64 speed,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data) {
  g_return_if_fail(job_id && device && bottom);
  g_return_if_fail(speed <= G_MAXINT64);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "job-id", job_id);
  json_object_set_string_member(args, "device", device);
  json_object_set_string_member(args, "bottom", bottom);
  if (speed)
    json_object_set_int_member(args, "speed", (gint64)speed);
  json_object_set_boolean_member(args, "auto-dismiss", FALSE);
  tandem_qmp_call_async(client, "block-stream", args, -1, NULL, NULL,
                        tandem_qmp_block_stream_async, cancellable, callback,
                        user_data);
}

gboolean tandem_qmp_block_stream_finish(TandemQmpClient *client,
                                        GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_block_stream_async, error);
}
