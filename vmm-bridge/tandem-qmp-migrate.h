/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Typed QMP migration commands, used to save and restore a VM's memory:
 * capabilities and parameters, migrate / migrate-incoming / migrate_cancel,
 * query-migrate, and the MIGRATION event's data. Same conventions as
 * tandem-qmp-commands.h (which includes this header).
 *
 * QEMU 7.2 has no "file:" URI: pass a descriptor with tandem_qmp_getfd_async()
 * and migrate to "fd:NAME". MIGRATION events are sent only once the "events"
 * capability is on.
 */
#pragma once

#include "tandem-qmp-client.h"

G_BEGIN_DECLS

/* QEMU's MigrationStatus, plus UNKNOWN for anything else it may send. */
typedef enum {
  TANDEM_QMP_MIGRATION_STATUS_UNKNOWN,
  TANDEM_QMP_MIGRATION_STATUS_NONE,
  TANDEM_QMP_MIGRATION_STATUS_SETUP,
  TANDEM_QMP_MIGRATION_STATUS_CANCELLING,
  TANDEM_QMP_MIGRATION_STATUS_CANCELLED,
  TANDEM_QMP_MIGRATION_STATUS_ACTIVE,
  TANDEM_QMP_MIGRATION_STATUS_POSTCOPY_ACTIVE,
  TANDEM_QMP_MIGRATION_STATUS_POSTCOPY_PAUSED,
  TANDEM_QMP_MIGRATION_STATUS_POSTCOPY_RECOVER,
  TANDEM_QMP_MIGRATION_STATUS_COMPLETED,
  TANDEM_QMP_MIGRATION_STATUS_FAILED,
  TANDEM_QMP_MIGRATION_STATUS_COLO,
  TANDEM_QMP_MIGRATION_STATUS_PRE_SWITCHOVER,
  TANDEM_QMP_MIGRATION_STATUS_DEVICE,
  TANDEM_QMP_MIGRATION_STATUS_WAIT_UNPLUG,
} TandemQmpMigrationStatus;

/* QEMU's name ("pre-switchover") to the enum; NULL or an unknown name gives
 * UNKNOWN. Pure. */
TandemQmpMigrationStatus tandem_qmp_migration_status_from_string(
    const char *name);
/* QEMU's name, "unknown" for UNKNOWN. */
const char *tandem_qmp_migration_status_to_string(
    TandemQmpMigrationStatus status);
/* TRUE for the states a migration does not leave by itself: completed,
 * failed, cancelled. */
gboolean tandem_qmp_migration_status_is_finished(
    TandemQmpMigrationStatus status);

/* The "data" of a MIGRATION event, {"status": "..."} (may be NULL, as the
 * client's "event" signal passes it). FALSE with TANDEM_QMP_ERROR_PROTOCOL
 * if it has no status string; a status this code does not know is UNKNOWN,
 * not an error. Pure. */
gboolean tandem_qmp_migration_event_parse(JsonObject *untrusted_data,
                                          TandemQmpMigrationStatus *status,
                                          GError **error);

/* --- migrate-set-capabilities ------------------------------------------- */

/* The capabilities worth setting for a local save or restore. Several
 * exclude each other: background-snapshot refuses postcopy-ram, multifd,
 * compress, xbzrle and others; QEMU says which with a GENERIC error. */
typedef enum {
  TANDEM_QMP_MIGRATION_CAP_EVENTS,              /* MIGRATION events */
  TANDEM_QMP_MIGRATION_CAP_BACKGROUND_SNAPSHOT, /* save while running */
  TANDEM_QMP_MIGRATION_CAP_AUTO_CONVERGE,
  TANDEM_QMP_MIGRATION_CAP_XBZRLE,
  TANDEM_QMP_MIGRATION_CAP_COMPRESS,
  TANDEM_QMP_MIGRATION_CAP_ZERO_BLOCKS,
  TANDEM_QMP_MIGRATION_CAP_POSTCOPY_RAM,
  TANDEM_QMP_MIGRATION_CAP_RETURN_PATH,
  TANDEM_QMP_MIGRATION_CAP_PAUSE_BEFORE_SWITCHOVER,
  TANDEM_QMP_MIGRATION_CAP_MULTIFD,
  TANDEM_QMP_MIGRATION_CAP_DIRTY_BITMAPS,
  TANDEM_QMP_MIGRATION_CAP_RELEASE_RAM,
  TANDEM_QMP_MIGRATION_CAP_LATE_BLOCK_ACTIVATE,
  TANDEM_QMP_MIGRATION_CAP_X_IGNORE_SHARED,
  TANDEM_QMP_MIGRATION_CAP_VALIDATE_UUID,
} TandemQmpMigrationCapability;

/* QEMU's name ("background-snapshot"), or NULL for a value not in the enum. */
const char *tandem_qmp_migration_capability_to_string(
    TandemQmpMigrationCapability capability);

typedef struct {
  TandemQmpMigrationCapability capability;
  gboolean state;
} TandemQmpMigrationCapabilityState;

/* Sets all of @caps in one command: QEMU checks them together and applies
 * none if the combination is refused. Only while no migration runs. */
void tandem_qmp_migrate_set_capabilities_async(
    TandemQmpClient *client, const TandemQmpMigrationCapabilityState *caps,
    gsize n_caps, GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data);
gboolean tandem_qmp_migrate_set_capabilities_finish(TandemQmpClient *client,
                                                    GAsyncResult *result,
                                                    GError **error);

/* --- migrate-set-parameters --------------------------------------------- */

/* Which members of TandemQmpMigrationParameters are sent. */
typedef enum {
  TANDEM_QMP_MIGRATION_PARAM_MAX_BANDWIDTH = 1 << 0,
  TANDEM_QMP_MIGRATION_PARAM_DOWNTIME_LIMIT = 1 << 1,
} TandemQmpMigrationParamFlags;

typedef struct {
  TandemQmpMigrationParamFlags set;
  /* Bytes per second. QEMU 7.2's default (128 MiB/s, as query-migrate-
   * parameters reports it) throttles a local save: raise it for one. */
  guint64 max_bandwidth;
  /* Milliseconds the final stop-and-copy may take; QEMU allows 0..2000000. */
  guint64 downtime_limit_ms;
} TandemQmpMigrationParameters;

/* Values above G_MAXINT64 are a programmer error (JSON cannot carry them
 * here). */
void tandem_qmp_migrate_set_parameters_async(
    TandemQmpClient *client, const TandemQmpMigrationParameters *params,
    GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data);
gboolean tandem_qmp_migrate_set_parameters_finish(TandemQmpClient *client,
                                                  GAsyncResult *result,
                                                  GError **error);

/* --- migrate, migrate-incoming, migrate_cancel, migrate-continue -------- */

/* Starts sending the VM's state to @uri ("fd:NAME", "exec:CMD", ...) and
 * returns once it has started; follow it with MIGRATION events or
 * query-migrate. With background-snapshot, QEMU 7.2 resumes a stopped guest
 * by itself at the end of setup. */
void tandem_qmp_migrate_async(TandemQmpClient *client, const char *uri,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean tandem_qmp_migrate_finish(TandemQmpClient *client,
                                   GAsyncResult *result, GError **error);

/* Starts loading state from @uri; QEMU must run with "-incoming defer".
 * The restored guest stays paused until cont. */
void tandem_qmp_migrate_incoming_async(TandemQmpClient *client,
                                       const char *uri,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean tandem_qmp_migrate_incoming_finish(TandemQmpClient *client,
                                            GAsyncResult *result,
                                            GError **error);

/* Asks a running migration to stop; it passes through "cancelling" to
 * "cancelled". Succeeds, doing nothing, when none runs. */
void tandem_qmp_migrate_cancel_async(TandemQmpClient *client,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean tandem_qmp_migrate_cancel_finish(TandemQmpClient *client,
                                          GAsyncResult *result,
                                          GError **error);

/* Lets a migration paused in "pre-switchover" (capability
 * pause-before-switchover) go on to completion: sends migrate-continue with
 * state "pre-switchover", the only state QEMU 7.2 waits in. GENERIC if the
 * migration is in another state. */
void tandem_qmp_migrate_continue_async(TandemQmpClient *client,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean tandem_qmp_migrate_continue_finish(TandemQmpClient *client,
                                            GAsyncResult *result,
                                            GError **error);

/* --- query-migrate ------------------------------------------------------ */

/* Members QEMU leaves out are 0 (or NULL): before any migration it sends
 * only "{}", which reads as status NONE. */
typedef struct {
  TandemQmpMigrationStatus status;
  guint64 total_time_ms; /* since the start (total-time) */
  guint64 downtime_ms;   /* the guest's pause, once completed */
  guint64 setup_time_ms;
  guint64 ram_transferred; /* bytes (ram.transferred) */
  guint64 ram_total;       /* bytes of guest RAM (ram.total) */
  guint64 ram_remaining;   /* bytes (ram.remaining) */
  char *error_desc; /* why it failed, or NULL; for people, not for code */
} TandemQmpMigrationInfo;

void tandem_qmp_migration_info_free(TandemQmpMigrationInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemQmpMigrationInfo,
                              tandem_qmp_migration_info_free)

void tandem_qmp_query_migrate_async(TandemQmpClient *client,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
/* Transfer full. */
TandemQmpMigrationInfo *tandem_qmp_query_migrate_finish(
    TandemQmpClient *client, GAsyncResult *result, GError **error);

G_END_DECLS
