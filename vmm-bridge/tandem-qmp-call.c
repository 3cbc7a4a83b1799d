/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-qmp-call.h"

/* What a typed call remembers between sending and the reply. */
typedef struct {
  char *command; /* for error messages */
  TandemQmpParseFunc parse;
  GDestroyNotify result_free;
} Call;

static void call_free(Call *call) {
  g_free(call->command);
  g_free(call);
}

static void on_executed(GObject *source, GAsyncResult *result,
                        gpointer data) {
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = tandem_qmp_client_execute_finish(
      TANDEM_QMP_CLIENT(source), result, &error);
  Call *call = g_task_get_task_data(task);

  if (!ret) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  if (!call->parse) {
    g_task_return_boolean(task, TRUE);
    return;
  }
  gpointer value = call->parse(ret, &error);
  if (!value) {
    g_prefix_error(&error, "QEMU's reply to “%s” is malformed: ",
                   call->command);
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  g_task_return_pointer(task, value, call->result_free);
}

void tandem_qmp_call_async(TandemQmpClient *client, const char *command,
                           JsonObject *arguments, int fd,
                           TandemQmpParseFunc parse,
                           GDestroyNotify result_free, gpointer source_tag,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data) {
  g_autoptr(JsonObject) args = arguments;
  g_return_if_fail(TANDEM_IS_QMP_CLIENT(client));
  g_return_if_fail(command != NULL);

  GTask *task = g_task_new(client, cancellable, callback, user_data);
  Call *call = g_new0(Call, 1);
  call->command = g_strdup(command);
  call->parse = parse;
  call->result_free = result_free;
  g_task_set_source_tag(task, source_tag);
  g_task_set_task_data(task, call, (GDestroyNotify)call_free);
  /* The client's own task carries the cancellable and the timeout; this one
   * only turns its answer into typed values. */
  tandem_qmp_client_execute_async(client, command, args, fd, 0, cancellable,
                                  on_executed, task);
}

static gboolean is_call(TandemQmpClient *client, GAsyncResult *result,
                        gpointer source_tag) {
  return g_task_is_valid(result, client) &&
         g_task_get_source_tag(G_TASK(result)) == source_tag;
}

gpointer tandem_qmp_call_finish_pointer(TandemQmpClient *client,
                                        GAsyncResult *result,
                                        gpointer source_tag, GError **error) {
  g_return_val_if_fail(is_call(client, result, source_tag), NULL);
  return g_task_propagate_pointer(G_TASK(result), error);
}

gboolean tandem_qmp_call_finish_boolean(TandemQmpClient *client,
                                        GAsyncResult *result,
                                        gpointer source_tag, GError **error) {
  g_return_val_if_fail(is_call(client, result, source_tag), FALSE);
  return g_task_propagate_boolean(G_TASK(result), error);
}

/* --- Reading untrusted replies ------------------------------------------ */

static const char *node_kind(JsonNode *n) {
  if (JSON_NODE_HOLDS_OBJECT(n))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY(n))
    return "an array";
  if (JSON_NODE_HOLDS_NULL(n))
    return "null";
  switch (json_node_get_value_type(n)) {
  case G_TYPE_STRING:
    return "a string";
  case G_TYPE_BOOLEAN:
    return "a boolean";
  case G_TYPE_INT64:
  case G_TYPE_DOUBLE:
    return "a number";
  default:
    return "something else";
  }
}

static gboolean wrong_type(JsonNode *n, const char *name, const char *wanted,
                           GError **error) {
  g_set_error(error, TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_PROTOCOL,
              "“%s” is %s, not %s", name, node_kind(n), wanted);
  return FALSE;
}

/* The member's node, NULL if absent; FALSE if absent but required. */
static gboolean get_member(JsonObject *o, const char *name, gboolean required,
                           JsonNode **out, GError **error) {
  *out = json_object_get_member(o, name);
  if (!*out && required) {
    g_set_error(error, TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_PROTOCOL,
                "“%s” is missing", name);
    return FALSE;
  }
  return TRUE;
}

static gboolean holds(JsonNode *n, GType type) {
  return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type;
}

gboolean tandem_qmp_read_string(JsonObject *o, const char *name,
                                gboolean required, char **out,
                                GError **error) {
  JsonNode *n;
  *out = NULL;
  if (!get_member(o, name, required, &n, error))
    return FALSE;
  if (!n)
    return TRUE;
  if (!holds(n, G_TYPE_STRING))
    return wrong_type(n, name, "a string", error);
  *out = g_strdup(json_node_get_string(n));
  return TRUE;
}

gboolean tandem_qmp_read_boolean(JsonObject *o, const char *name,
                                 gboolean required, gboolean *out,
                                 GError **error) {
  JsonNode *n;
  *out = FALSE;
  if (!get_member(o, name, required, &n, error))
    return FALSE;
  if (!n)
    return TRUE;
  if (!holds(n, G_TYPE_BOOLEAN))
    return wrong_type(n, name, "a boolean", error);
  *out = json_node_get_boolean(n);
  return TRUE;
}

gboolean tandem_qmp_read_u64(JsonObject *o, const char *name,
                             gboolean required, guint64 *out,
                             GError **error) {
  JsonNode *n;
  *out = 0;
  if (!get_member(o, name, required, &n, error))
    return FALSE;
  if (!n)
    return TRUE;
  if (!holds(n, G_TYPE_INT64) || json_node_get_int(n) < 0)
    return wrong_type(n, name, "a non-negative integer", error);
  *out = (guint64)json_node_get_int(n);
  return TRUE;
}

gboolean tandem_qmp_read_object(JsonObject *o, const char *name,
                                gboolean required, JsonObject **out,
                                GError **error) {
  JsonNode *n;
  *out = NULL;
  if (!get_member(o, name, required, &n, error))
    return FALSE;
  if (!n)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT(n))
    return wrong_type(n, name, "an object", error);
  *out = json_node_get_object(n);
  return TRUE;
}

JsonObject *tandem_qmp_expect_object(JsonNode *node, const char *what,
                                     GError **error) {
  if (!JSON_NODE_HOLDS_OBJECT(node)) {
    wrong_type(node, what, "an object", error);
    return NULL;
  }
  return json_node_get_object(node);
}

JsonArray *tandem_qmp_expect_list(JsonNode *node, const char *what,
                                  GError **error) {
  if (!JSON_NODE_HOLDS_ARRAY(node)) {
    wrong_type(node, what, "an array", error);
    return NULL;
  }
  JsonArray *a = json_node_get_array(node);
  if (json_array_get_length(a) > TANDEM_QMP_MAX_LIST) {
    g_set_error(error, TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_PROTOCOL,
                "“%s” has %u entries, more than the %d Tandem accepts", what,
                json_array_get_length(a), TANDEM_QMP_MAX_LIST);
    return NULL;
  }
  return a;
}
