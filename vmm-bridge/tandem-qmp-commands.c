/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-qmp-commands.h"

#include <string.h>

#include "tandem-qmp-call.h"
#include "tandem-qmp-mirror.h"

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

/* --- Network disks ------------------------------------------------------ */

#define NBD_DEFAULT_PORT 10809
#define ISCSI_DEFAULT_PORT 3260

void tandem_qmp_blockdev_add_nbd_async(TandemQmpClient *client,
                                       const TandemQmpNbdBlockdev *nbd,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data) {
  g_return_if_fail(nbd != NULL && nbd->node_name != NULL);
  g_return_if_fail(nbd->unix_path != NULL || nbd->host != NULL);

  /* SocketAddress, flat: "inet" takes its port as a string. */
  JsonObject *server = json_object_new();
  if (nbd->unix_path) {
    json_object_set_string_member(server, "type", "unix");
    json_object_set_string_member(server, "path", nbd->unix_path);
  } else {
    g_autofree char *port = g_strdup_printf(
        "%u", nbd->port ? (guint)nbd->port : NBD_DEFAULT_PORT);
    json_object_set_string_member(server, "type", "inet");
    json_object_set_string_member(server, "host", nbd->host);
    json_object_set_string_member(server, "port", port);
  }
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "driver", "nbd");
  json_object_set_string_member(args, "node-name", nbd->node_name);
  json_object_set_object_member(args, "server", server);
  if (nbd->export_name)
    json_object_set_string_member(args, "export", nbd->export_name);
  json_object_set_boolean_member(args, "read-only", nbd->read_only);
  json_object_set_int_member(args, "reconnect-delay", nbd->reconnect_delay);
  if (nbd->open_timeout)
    json_object_set_int_member(args, "open-timeout", nbd->open_timeout);
  tandem_qmp_call_async(client, "blockdev-add", args, -1, NULL, NULL,
                        tandem_qmp_blockdev_add_nbd_async, cancellable,
                        callback, user_data);
}

void tandem_qmp_blockdev_add_iscsi_async(TandemQmpClient *client,
                                         const TandemQmpIscsiBlockdev *iscsi,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data) {
  g_return_if_fail(iscsi != NULL && iscsi->node_name != NULL);
  g_return_if_fail(iscsi->host != NULL && iscsi->target != NULL);

  /* "portal" is "HOST:PORT", an IPv6 address in brackets. */
  guint port = iscsi->port ? iscsi->port : ISCSI_DEFAULT_PORT;
  g_autofree char *portal =
      strchr(iscsi->host, ':')
          ? g_strdup_printf("[%s]:%u", iscsi->host, port)
          : g_strdup_printf("%s:%u", iscsi->host, port);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "driver", "iscsi");
  json_object_set_string_member(args, "node-name", iscsi->node_name);
  json_object_set_string_member(args, "transport", "tcp");
  json_object_set_string_member(args, "portal", portal);
  json_object_set_string_member(args, "target", iscsi->target);
  json_object_set_int_member(args, "lun", iscsi->lun);
  if (iscsi->initiator_name)
    json_object_set_string_member(args, "initiator-name",
                                  iscsi->initiator_name);
  json_object_set_boolean_member(args, "read-only", iscsi->read_only);
  tandem_qmp_call_async(client, "blockdev-add", args, -1, NULL, NULL,
                        tandem_qmp_blockdev_add_iscsi_async, cancellable,
                        callback, user_data);
}

gboolean tandem_qmp_blockdev_add_finish(TandemQmpClient *client,
                                        GAsyncResult *result, GError **error) {
  g_return_val_if_fail(G_IS_TASK(result), FALSE);
  gpointer tag = g_task_get_source_tag(G_TASK(result));
  g_return_val_if_fail(tag == tandem_qmp_blockdev_add_nbd_async ||
                           tag == tandem_qmp_blockdev_add_iscsi_async ||
                           tag == tandem_qmp_blockdev_add_quorum_async,
                       FALSE);
  return tandem_qmp_call_finish_boolean(client, result, tag, error);
}

void tandem_qmp_blockdev_del_async(TandemQmpClient *client,
                                   const char *node_name,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data) {
  g_return_if_fail(node_name != NULL);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "node-name", node_name);
  tandem_qmp_call_async(client, "blockdev-del", args, -1, NULL, NULL,
                        tandem_qmp_blockdev_del_async, cancellable, callback,
                        user_data);
}

gboolean tandem_qmp_blockdev_del_finish(TandemQmpClient *client,
                                        GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_blockdev_del_async, error);
}

/* Indexed by TandemQmpDiskDriver. */
static const char *const disk_drivers[] = {
    [TANDEM_QMP_DISK_NVME] = "nvme",
    [TANDEM_QMP_DISK_VIRTIO] = "virtio-blk-pci",
};

void tandem_qmp_device_add_disk_async(TandemQmpClient *client,
                                      const TandemQmpDiskDevice *disk,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data) {
  g_return_if_fail(disk != NULL);
  g_return_if_fail((guint)disk->driver < G_N_ELEMENTS(disk_drivers));
  g_return_if_fail(disk->id && disk->bus && disk->drive);
  /* QEMU 7.2's nvme refuses to start without a serial. */
  g_return_if_fail(disk->serial || disk->driver != TANDEM_QMP_DISK_NVME);

  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "driver", disk_drivers[disk->driver]);
  json_object_set_string_member(args, "id", disk->id);
  json_object_set_string_member(args, "bus", disk->bus);
  json_object_set_string_member(args, "drive", disk->drive);
  if (disk->serial)
    json_object_set_string_member(args, "serial", disk->serial);
  if (disk->driver == TANDEM_QMP_DISK_NVME && disk->nvme_mdts)
    json_object_set_int_member(args, "mdts", disk->nvme_mdts);
  tandem_qmp_call_async(client, "device_add", args, -1, NULL, NULL,
                        tandem_qmp_device_add_disk_async, cancellable,
                        callback, user_data);
}

gboolean tandem_qmp_device_add_finish(TandemQmpClient *client,
                                      GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_device_add_disk_async, error);
}

static JsonObject *device_id_arguments(const char *id) {
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "id", id);
  return args;
}

void tandem_qmp_device_del_async(TandemQmpClient *client, const char *id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data) {
  g_return_if_fail(id != NULL);
  tandem_qmp_call_async(client, "device_del", device_id_arguments(id), -1,
                        NULL, NULL, tandem_qmp_device_del_async, cancellable,
                        callback, user_data);
}

gboolean tandem_qmp_device_del_finish(TandemQmpClient *client,
                                      GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_device_del_async, error);
}

gboolean tandem_qmp_device_deleted_event_is(JsonObject *untrusted_data,
                                            const char *id) {
  g_return_val_if_fail(id != NULL, FALSE);
  JsonNode *n =
      untrusted_data ? json_object_get_member(untrusted_data, "device") : NULL;
  return n && JSON_NODE_HOLDS_VALUE(n) &&
         json_node_get_value_type(n) == G_TYPE_STRING &&
         g_str_equal(json_node_get_string(n), id);
}

/* device_del and its DEVICE_DELETED event. The event handler is connected
 * before the command is sent, so that an event QEMU sends ahead of its
 * reply is seen; the task completes once both are in, or at the first
 * failure. */
typedef struct {
  TandemQmpClient *client; /* not owned: the task holds it */
  char *id;
  gboolean replied, deleted, completed;
  gulong event_handler, disconnected_handler;
  GSource *timeout;
  GSource *cancel;
} DeviceDelWait;

static void device_del_wait_stop(DeviceDelWait *w) {
  g_clear_signal_handler(&w->event_handler, w->client);
  g_clear_signal_handler(&w->disconnected_handler, w->client);
  if (w->timeout) {
    g_source_destroy(w->timeout);
    g_clear_pointer(&w->timeout, g_source_unref);
  }
  if (w->cancel) {
    g_source_destroy(w->cancel);
    g_clear_pointer(&w->cancel, g_source_unref);
  }
}

static void device_del_wait_free(DeviceDelWait *w) {
  device_del_wait_stop(w);
  g_free(w->id);
  g_free(w);
}

/* Completes @task with @error (taken), or TRUE when NULL; once. Drops
 * the reference the waiting held. */
static void device_del_wait_complete(GTask *task, GError *error) {
  DeviceDelWait *w = g_task_get_task_data(task);
  if (w->completed) {
    g_clear_error(&error);
    return;
  }
  w->completed = TRUE;
  device_del_wait_stop(w);
  if (error)
    g_task_return_error(task, error);
  else
    g_task_return_boolean(task, TRUE);
  g_object_unref(task);
}

static void device_del_wait_check(GTask *task) {
  DeviceDelWait *w = g_task_get_task_data(task);
  if (w->replied && w->deleted)
    device_del_wait_complete(task, NULL);
}

static void on_device_deleted(TandemQmpClient *client, const char *name,
                              JsonObject *data, gint64 timestamp_us,
                              gpointer user_data) {
  GTask *task = user_data;
  DeviceDelWait *w = g_task_get_task_data(task);
  if (!tandem_qmp_device_deleted_event_is(data, w->id))
    return;
  w->deleted = TRUE;
  device_del_wait_check(task);
}

static void on_wait_disconnected(TandemQmpClient *client,
                                 const GError *reason, gpointer user_data) {
  device_del_wait_complete(
      user_data, g_error_new(TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_DISCONNECTED,
                             "QEMU's monitor connection closed: %s",
                             reason ? reason->message : "no reason"));
}

static gboolean on_wait_timeout(gpointer user_data) {
  GTask *task = user_data;
  DeviceDelWait *w = g_task_get_task_data(task);
  device_del_wait_complete(
      task, g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "Device “%s” was not removed in time: the guest did "
                        "not release it", w->id));
  return G_SOURCE_REMOVE;
}

static gboolean on_wait_cancelled(GCancellable *cancellable,
                                  gpointer user_data) {
  GError *error = NULL;
  g_cancellable_set_error_if_cancelled(cancellable, &error);
  device_del_wait_complete(user_data, error);
  return G_SOURCE_REMOVE;
}

static void on_device_del_replied(GObject *source, GAsyncResult *result,
                                  gpointer user_data) {
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  if (!tandem_qmp_device_del_finish(TANDEM_QMP_CLIENT(source), result,
                                    &error)) {
    device_del_wait_complete(task, error);
    return;
  }
  DeviceDelWait *w = g_task_get_task_data(task);
  w->replied = TRUE;
  device_del_wait_check(task);
}

void tandem_qmp_device_del_wait_async(TandemQmpClient *client,
                                      const char *id, guint timeout_ms,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data) {
  g_return_if_fail(TANDEM_IS_QMP_CLIENT(client));
  g_return_if_fail(id != NULL);

  GTask *task = g_task_new(client, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_qmp_device_del_wait_async);
  DeviceDelWait *w = g_new0(DeviceDelWait, 1);
  w->client = client;
  w->id = g_strdup(id);
  g_task_set_task_data(task, w, (GDestroyNotify)device_del_wait_free);

  if (!tandem_qmp_client_is_connected(client)) {
    g_task_return_new_error(task, TANDEM_QMP_ERROR,
                            TANDEM_QMP_ERROR_DISCONNECTED,
                            "QEMU's monitor connection is closed");
    g_object_unref(task);
    return;
  }
  w->event_handler = g_signal_connect(client, "event::DEVICE_DELETED",
                                      G_CALLBACK(on_device_deleted), task);
  w->disconnected_handler = g_signal_connect(
      client, "disconnected", G_CALLBACK(on_wait_disconnected), task);
  GMainContext *context = g_task_get_context(task);
  w->timeout = g_timeout_source_new(timeout_ms ? timeout_ms
                                               : TANDEM_QMP_DEFAULT_TIMEOUT_MS);
  g_source_set_callback(w->timeout, on_wait_timeout, task, NULL);
  g_source_attach(w->timeout, context);
  if (cancellable) {
    w->cancel = g_cancellable_source_new(cancellable);
    g_source_set_callback(w->cancel, G_SOURCE_FUNC(on_wait_cancelled), task,
                          NULL);
    g_source_attach(w->cancel, context);
  }
  /* Two references: the one from g_task_new() is the waiting's (the
   * handlers' and sources'), dropped on completion; the call holds another
   * until it ends, maybe later. The cancellable also ends the call, should
   * the reply not be in yet; whichever sees the cancellation first
   * completes the task. */
  tandem_qmp_device_del_async(client, id, cancellable, on_device_del_replied,
                              g_object_ref(task));
}

gboolean tandem_qmp_device_del_wait_finish(TandemQmpClient *client,
                                           GAsyncResult *result,
                                           GError **error) {
  g_return_val_if_fail(g_task_is_valid(result, client), FALSE);
  g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) ==
                           tandem_qmp_device_del_wait_async,
                       FALSE);
  return g_task_propagate_boolean(G_TASK(result), error);
}
