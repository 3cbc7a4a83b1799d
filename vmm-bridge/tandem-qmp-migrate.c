/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-qmp-migrate.h"

#include "tandem-qmp-call.h"

/* --- Status ------------------------------------------------------------- */

/* Indexed by TandemQmpMigrationStatus. */
static const char *const status_names[] = {
    [TANDEM_QMP_MIGRATION_STATUS_UNKNOWN] = "unknown",
    [TANDEM_QMP_MIGRATION_STATUS_NONE] = "none",
    [TANDEM_QMP_MIGRATION_STATUS_SETUP] = "setup",
    [TANDEM_QMP_MIGRATION_STATUS_CANCELLING] = "cancelling",
    [TANDEM_QMP_MIGRATION_STATUS_CANCELLED] = "cancelled",
    [TANDEM_QMP_MIGRATION_STATUS_ACTIVE] = "active",
    [TANDEM_QMP_MIGRATION_STATUS_POSTCOPY_ACTIVE] = "postcopy-active",
    [TANDEM_QMP_MIGRATION_STATUS_POSTCOPY_PAUSED] = "postcopy-paused",
    [TANDEM_QMP_MIGRATION_STATUS_POSTCOPY_RECOVER] = "postcopy-recover",
    [TANDEM_QMP_MIGRATION_STATUS_COMPLETED] = "completed",
    [TANDEM_QMP_MIGRATION_STATUS_FAILED] = "failed",
    [TANDEM_QMP_MIGRATION_STATUS_COLO] = "colo",
    [TANDEM_QMP_MIGRATION_STATUS_PRE_SWITCHOVER] = "pre-switchover",
    [TANDEM_QMP_MIGRATION_STATUS_DEVICE] = "device",
    [TANDEM_QMP_MIGRATION_STATUS_WAIT_UNPLUG] = "wait-unplug",
};

TandemQmpMigrationStatus tandem_qmp_migration_status_from_string(
    const char *name) {
  /* "unknown" is this code's word, not QEMU's: it must not map back. */
  for (gsize i = TANDEM_QMP_MIGRATION_STATUS_NONE;
       name && i < G_N_ELEMENTS(status_names); i++)
    if (g_str_equal(name, status_names[i]))
      return (TandemQmpMigrationStatus)i;
  return TANDEM_QMP_MIGRATION_STATUS_UNKNOWN;
}

const char *tandem_qmp_migration_status_to_string(
    TandemQmpMigrationStatus status) {
  if ((gsize)status >= G_N_ELEMENTS(status_names))
    return status_names[TANDEM_QMP_MIGRATION_STATUS_UNKNOWN];
  return status_names[status];
}

gboolean tandem_qmp_migration_status_is_finished(
    TandemQmpMigrationStatus status) {
  return status == TANDEM_QMP_MIGRATION_STATUS_COMPLETED ||
         status == TANDEM_QMP_MIGRATION_STATUS_FAILED ||
         status == TANDEM_QMP_MIGRATION_STATUS_CANCELLED;
}

/* A status member: absent is NONE (QEMU leaves it out before the first
 * migration), a name not in the enum UNKNOWN, anything but a string an
 * error. */
static gboolean read_status(JsonObject *o, gboolean required,
                            TandemQmpMigrationStatus *status, GError **error) {
  g_autofree char *name = NULL;
  *status = TANDEM_QMP_MIGRATION_STATUS_NONE;
  if (!tandem_qmp_read_string(o, "status", required, &name, error))
    return FALSE;
  if (name)
    *status = tandem_qmp_migration_status_from_string(name);
  return TRUE;
}

gboolean tandem_qmp_migration_event_parse(JsonObject *untrusted_data,
                                          TandemQmpMigrationStatus *status,
                                          GError **error) {
  g_return_val_if_fail(status != NULL, FALSE);
  *status = TANDEM_QMP_MIGRATION_STATUS_UNKNOWN;
  if (!untrusted_data) {
    g_set_error_literal(error, TANDEM_QMP_ERROR, TANDEM_QMP_ERROR_PROTOCOL,
                        "QEMU's MIGRATION event has no data");
    return FALSE;
  }
  if (!read_status(untrusted_data, TRUE, status, error)) {
    *status = TANDEM_QMP_MIGRATION_STATUS_UNKNOWN;
    g_prefix_error(error, "QEMU's MIGRATION event is malformed: ");
    return FALSE;
  }
  return TRUE;
}

/* --- migrate-set-capabilities ------------------------------------------- */

/* Indexed by TandemQmpMigrationCapability. */
static const char *const capability_names[] = {
    [TANDEM_QMP_MIGRATION_CAP_EVENTS] = "events",
    [TANDEM_QMP_MIGRATION_CAP_BACKGROUND_SNAPSHOT] = "background-snapshot",
    [TANDEM_QMP_MIGRATION_CAP_AUTO_CONVERGE] = "auto-converge",
    [TANDEM_QMP_MIGRATION_CAP_XBZRLE] = "xbzrle",
    [TANDEM_QMP_MIGRATION_CAP_COMPRESS] = "compress",
    [TANDEM_QMP_MIGRATION_CAP_ZERO_BLOCKS] = "zero-blocks",
    [TANDEM_QMP_MIGRATION_CAP_POSTCOPY_RAM] = "postcopy-ram",
    [TANDEM_QMP_MIGRATION_CAP_RETURN_PATH] = "return-path",
    [TANDEM_QMP_MIGRATION_CAP_PAUSE_BEFORE_SWITCHOVER] =
        "pause-before-switchover",
    [TANDEM_QMP_MIGRATION_CAP_MULTIFD] = "multifd",
    [TANDEM_QMP_MIGRATION_CAP_DIRTY_BITMAPS] = "dirty-bitmaps",
    [TANDEM_QMP_MIGRATION_CAP_RELEASE_RAM] = "release-ram",
    [TANDEM_QMP_MIGRATION_CAP_LATE_BLOCK_ACTIVATE] = "late-block-activate",
    [TANDEM_QMP_MIGRATION_CAP_X_IGNORE_SHARED] = "x-ignore-shared",
    [TANDEM_QMP_MIGRATION_CAP_VALIDATE_UUID] = "validate-uuid",
};

const char *tandem_qmp_migration_capability_to_string(
    TandemQmpMigrationCapability capability) {
  return (gsize)capability < G_N_ELEMENTS(capability_names)
             ? capability_names[capability]
             : NULL;
}

void tandem_qmp_migrate_set_capabilities_async(
    TandemQmpClient *client, const TandemQmpMigrationCapabilityState *caps,
    gsize n_caps, GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data) {
  g_return_if_fail(caps != NULL || n_caps == 0);
  for (gsize i = 0; i < n_caps; i++)
    g_return_if_fail(tandem_qmp_migration_capability_to_string(
                         caps[i].capability) != NULL);

  JsonArray *list = json_array_sized_new((guint)n_caps);
  for (gsize i = 0; i < n_caps; i++) {
    JsonObject *cap = json_object_new();
    json_object_set_string_member(
        cap, "capability",
        tandem_qmp_migration_capability_to_string(caps[i].capability));
    json_object_set_boolean_member(cap, "state", caps[i].state);
    json_array_add_object_element(list, cap);
  }
  JsonObject *args = json_object_new();
  json_object_set_array_member(args, "capabilities", list);
  tandem_qmp_call_async(client, "migrate-set-capabilities", args, -1, NULL,
                        NULL, tandem_qmp_migrate_set_capabilities_async,
                        cancellable, callback, user_data);
}

gboolean tandem_qmp_migrate_set_capabilities_finish(TandemQmpClient *client,
                                                    GAsyncResult *result,
                                                    GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_migrate_set_capabilities_async, error);
}

/* --- migrate-set-parameters --------------------------------------------- */

void tandem_qmp_migrate_set_parameters_async(
    TandemQmpClient *client, const TandemQmpMigrationParameters *params,
    GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data) {
  g_return_if_fail(params != NULL);
  g_return_if_fail(params->max_bandwidth <= G_MAXINT64);
  g_return_if_fail(params->downtime_limit_ms <= G_MAXINT64);

  JsonObject *args = json_object_new();
  if (params->set & TANDEM_QMP_MIGRATION_PARAM_MAX_BANDWIDTH)
    json_object_set_int_member(args, "max-bandwidth",
                               (gint64)params->max_bandwidth);
  if (params->set & TANDEM_QMP_MIGRATION_PARAM_DOWNTIME_LIMIT)
    json_object_set_int_member(args, "downtime-limit",
                               (gint64)params->downtime_limit_ms);
  tandem_qmp_call_async(client, "migrate-set-parameters", args, -1, NULL,
                        NULL, tandem_qmp_migrate_set_parameters_async,
                        cancellable, callback, user_data);
}

gboolean tandem_qmp_migrate_set_parameters_finish(TandemQmpClient *client,
                                                  GAsyncResult *result,
                                                  GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_migrate_set_parameters_async, error);
}

/* --- migrate, migrate-incoming, migrate_cancel, migrate-continue -------- */

static JsonObject *uri_arguments(const char *uri) {
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "uri", uri);
  return args;
}

void tandem_qmp_migrate_async(TandemQmpClient *client, const char *uri,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data) {
  g_return_if_fail(uri != NULL);
  tandem_qmp_call_async(client, "migrate", uri_arguments(uri), -1, NULL, NULL,
                        tandem_qmp_migrate_async, cancellable, callback,
                        user_data);
}

gboolean tandem_qmp_migrate_finish(TandemQmpClient *client,
                                   GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_migrate_async, error);
}

void tandem_qmp_migrate_incoming_async(TandemQmpClient *client,
                                       const char *uri,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data) {
  g_return_if_fail(uri != NULL);
  tandem_qmp_call_async(client, "migrate-incoming", uri_arguments(uri), -1,
                        NULL, NULL, tandem_qmp_migrate_incoming_async,
                        cancellable, callback, user_data);
}

gboolean tandem_qmp_migrate_incoming_finish(TandemQmpClient *client,
                                            GAsyncResult *result,
                                            GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_migrate_incoming_async, error);
}

void tandem_qmp_migrate_cancel_async(TandemQmpClient *client,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data) {
  tandem_qmp_call_async(client, "migrate_cancel", NULL, -1, NULL, NULL,
                        tandem_qmp_migrate_cancel_async, cancellable,
                        callback, user_data);
}

gboolean tandem_qmp_migrate_cancel_finish(TandemQmpClient *client,
                                          GAsyncResult *result,
                                          GError **error) {
  return tandem_qmp_call_finish_boolean(client, result,
                                        tandem_qmp_migrate_cancel_async,
                                        error);
}

void tandem_qmp_migrate_continue_async(TandemQmpClient *client,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data) {
  JsonObject *args = json_object_new();
  json_object_set_string_member(
      args, "state",
      status_names[TANDEM_QMP_MIGRATION_STATUS_PRE_SWITCHOVER]);
  tandem_qmp_call_async(client, "migrate-continue", args, -1, NULL, NULL,
                        tandem_qmp_migrate_continue_async, cancellable,
                        callback, user_data);
}

gboolean tandem_qmp_migrate_continue_finish(TandemQmpClient *client,
                                            GAsyncResult *result,
                                            GError **error) {
  return tandem_qmp_call_finish_boolean(
      client, result, tandem_qmp_migrate_continue_async, error);
}

/* --- query-migrate ------------------------------------------------------ */

void tandem_qmp_migration_info_free(TandemQmpMigrationInfo *info) {
  if (!info)
    return;
  g_free(info->error_desc);
  g_free(info);
}

static gpointer parse_migration_info(JsonNode *untrusted_ret,
                                     GError **error) {
  JsonObject *o = tandem_qmp_expect_object(untrusted_ret, "return", error);
  JsonObject *ram = NULL;
  g_autoptr(TandemQmpMigrationInfo) info = g_new0(TandemQmpMigrationInfo, 1);

  /* Every member is optional in QEMU's schema; which ones come depends on
   * the status (no "downtime" before completion, no "ram" in setup). */
  if (!o || !read_status(o, FALSE, &info->status, error) ||
      !tandem_qmp_read_u64(o, "total-time", FALSE, &info->total_time_ms,
                           error) ||
      !tandem_qmp_read_u64(o, "downtime", FALSE, &info->downtime_ms, error) ||
      !tandem_qmp_read_u64(o, "setup-time", FALSE, &info->setup_time_ms,
                           error) ||
      !tandem_qmp_read_string(o, "error-desc", FALSE, &info->error_desc,
                              error) ||
      !tandem_qmp_read_object(o, "ram", FALSE, &ram, error))
    return NULL;
  if (ram && (!tandem_qmp_read_u64(ram, "transferred", FALSE,
                                   &info->ram_transferred, error) ||
              !tandem_qmp_read_u64(ram, "total", FALSE, &info->ram_total,
                                   error) ||
              !tandem_qmp_read_u64(ram, "remaining", FALSE,
                                   &info->ram_remaining, error))) {
    g_prefix_error(error, "ram: ");
    return NULL;
  }
  return g_steal_pointer(&info);
}

void tandem_qmp_query_migrate_async(TandemQmpClient *client,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data) {
  tandem_qmp_call_async(client, "query-migrate", NULL, -1,
                        parse_migration_info,
                        (GDestroyNotify)tandem_qmp_migration_info_free,
                        tandem_qmp_query_migrate_async, cancellable, callback,
                        user_data);
}

TandemQmpMigrationInfo *tandem_qmp_query_migrate_finish(
    TandemQmpClient *client, GAsyncResult *result, GError **error) {
  return tandem_qmp_call_finish_pointer(client, result,
                                        tandem_qmp_query_migrate_async, error);
}
