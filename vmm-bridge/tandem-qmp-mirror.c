/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-qmp-mirror.h"

#include "tandem-qmp-call.h"
#include "tandem-qmp-commands.h"

void tandem_qmp_blockdev_add_quorum_async(TandemQmpClient *client,
                                          const char *node_name,
                                          const char *const *children,
                                          gboolean read_only,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data) {
  g_return_if_fail(node_name != NULL && children != NULL);
  g_return_if_fail(children[0] != NULL);
  JsonArray *list = json_array_new();
  for (guint i = 0; children[i]; i++)
    json_array_add_string_element(list, children[i]);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "driver", "quorum");
  json_object_set_string_member(args, "node-name", node_name);
  json_object_set_array_member(args, "children", list);
  json_object_set_int_member(args, "vote-threshold", 1);
  json_object_set_string_member(args, "read-pattern", "fifo");
  json_object_set_boolean_member(args, "read-only", read_only);
  tandem_qmp_call_async(client, "blockdev-add", args, -1, NULL, NULL,
                        tandem_qmp_blockdev_add_quorum_async, cancellable,
                        callback, user_data);
}

void tandem_qmp_blockdev_change_async(TandemQmpClient *client,
                                      const char *parent, const char *child,
                                      const char *node,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data) {
  g_return_if_fail(parent != NULL && (child == NULL) != (node == NULL));
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "parent", parent);
  if (child)
    json_object_set_string_member(args, "child", child);
  else
    json_object_set_string_member(args, "node", node);
  tandem_qmp_call_async(client, "x-blockdev-change", args, -1, NULL, NULL,
                        tandem_qmp_blockdev_change_async, cancellable,
                        callback, user_data);
}

gboolean tandem_qmp_blockdev_change_finish(TandemQmpClient *client,
                                           GAsyncResult *result,
                                           GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_blockdev_change_async, error);
}

void tandem_qmp_blockdev_mirror_async(TandemQmpClient *client,
                                      const char *job_id, const char *device,
                                      const char *target,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data) {
  g_return_if_fail(job_id != NULL && device != NULL && target != NULL);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "job-id", job_id);
  json_object_set_string_member(args, "device", device);
  json_object_set_string_member(args, "target", target);
  json_object_set_string_member(args, "sync", "full");
  json_object_set_string_member(args, "copy-mode", "write-blocking");
  tandem_qmp_call_async(client, "blockdev-mirror", args, -1, NULL, NULL,
                        tandem_qmp_blockdev_mirror_async, cancellable,
                        callback, user_data);
}

gboolean tandem_qmp_blockdev_mirror_finish(TandemQmpClient *client,
                                           GAsyncResult *result,
                                           GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_blockdev_mirror_async, error);
}

void tandem_qmp_block_job_cancel_async(TandemQmpClient *client,
                                       const char *job_id,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data) {
  g_return_if_fail(job_id != NULL);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "device", job_id);
  tandem_qmp_call_async(client, "block-job-cancel", args, -1, NULL, NULL,
                        tandem_qmp_block_job_cancel_async, cancellable,
                        callback, user_data);
}

gboolean tandem_qmp_block_job_cancel_finish(TandemQmpClient *client,
                                            GAsyncResult *result,
                                            GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_block_job_cancel_async, error);
}

gboolean tandem_qmp_quorum_report_bad_parse(JsonObject *untrusted_data,
                                            const char **node_name,
                                            gboolean *io_error) {
  if (!untrusted_data)
    return FALSE;
  JsonNode *n = json_object_get_member(untrusted_data, "node-name");
  if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
      json_node_get_value_type(n) != G_TYPE_STRING)
    return FALSE;
  *node_name = json_node_get_string(n);
  /* "error" is there for a failed request, absent for a lost vote. */
  *io_error = json_object_has_member(untrusted_data, "error");
  return TRUE;
}

gboolean tandem_qmp_block_job_event_is(JsonObject *untrusted_data,
                                       const char *job_id,
                                       const char **error) {
  if (error)
    *error = NULL;
  if (!untrusted_data)
    return FALSE;
  JsonNode *n = json_object_get_member(untrusted_data, "device");
  if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
      json_node_get_value_type(n) != G_TYPE_STRING ||
      g_strcmp0(json_node_get_string(n), job_id))
    return FALSE;
  JsonNode *e = json_object_get_member(untrusted_data, "error");
  if (error && e && JSON_NODE_HOLDS_VALUE(e) &&
      json_node_get_value_type(e) == G_TYPE_STRING)
    *error = json_node_get_string(e);
  return TRUE;
}
