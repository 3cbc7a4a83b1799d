/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An asynchronous QMP client on the GLib main loop.
 *
 * Knows QMP (the greeting, capability negotiation, commands matched to
 * replies by id, events) and nothing of what the commands mean: snapshots,
 * storage and the supervisor build on it. Never blocks: every call is an
 * _async/_finish pair with a GCancellable and a timeout.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TANDEM_QMP_ERROR (tandem_qmp_error_quark())
GQuark tandem_qmp_error_quark(void);

/* QMP's error classes (never its free text), plus this client's own. */
typedef enum {
  TANDEM_QMP_ERROR_GENERIC,           /* GenericError */
  TANDEM_QMP_ERROR_COMMAND_NOT_FOUND, /* CommandNotFound */
  TANDEM_QMP_ERROR_DEVICE_NOT_FOUND,  /* DeviceNotFound */
  TANDEM_QMP_ERROR_DEVICE_NOT_ACTIVE, /* DeviceNotActive */
  TANDEM_QMP_ERROR_KVM_MISSING_CAP,   /* KVMMissingCap */
  TANDEM_QMP_ERROR_UNKNOWN_CLASS,     /* a class QEMU added later */
  TANDEM_QMP_ERROR_PROTOCOL,    /* invalid JSON, oversized line, no greeting */
  TANDEM_QMP_ERROR_DISCONNECTED,
  TANDEM_QMP_ERROR_TIMEOUT,
} TandemQmpError;

/* Maps a QMP error class name to its code. */
TandemQmpError tandem_qmp_error_from_class(const char *klass);

#define TANDEM_QMP_DEFAULT_TIMEOUT_MS 10000
#define TANDEM_QMP_DEFAULT_MAX_LINE (4 * 1024 * 1024)

#define TANDEM_TYPE_QMP_CLIENT (tandem_qmp_client_get_type())
G_DECLARE_FINAL_TYPE(TandemQmpClient, tandem_qmp_client, TANDEM, QMP_CLIENT,
                     GObject)

/* Connects to QEMU's QMP UNIX socket, reads the greeting and negotiates
 * capabilities, all within @timeout_ms (0: the default). Connect signal
 * handlers in @callback: events that follow the handshake are delivered as
 * soon as it returns. */
void tandem_qmp_client_connect_async(const char *socket_path, guint timeout_ms,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
TandemQmpClient *tandem_qmp_client_connect_finish(GAsyncResult *result,
                                                  GError **error);

/* Runs @command with @arguments (may be NULL; not taken). With @fd >= 0 the
 * descriptor travels with the command (SCM_RIGHTS), for getfd and add-fd;
 * it is not taken either. @timeout_ms 0 means the default. The finish
 * function returns QMP's "return" value (transfer full). */
void tandem_qmp_client_execute_async(TandemQmpClient *self,
                                     const char *command,
                                     JsonObject *arguments, int fd,
                                     guint timeout_ms,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
JsonNode *tandem_qmp_client_execute_finish(TandemQmpClient *self,
                                           GAsyncResult *result,
                                           GError **error);

/* Closes the connection: pending calls fail with DISCONNECTED and
 * "disconnected" is emitted (once, whatever ends the connection). */
void tandem_qmp_client_close(TandemQmpClient *self);
gboolean tandem_qmp_client_is_connected(TandemQmpClient *self);

/* The greeting's "QMP" object ({"version": ..., "capabilities": ...}). */
JsonObject *tandem_qmp_client_get_greeting(TandemQmpClient *self);

/* Lines longer than this close the connection (default 4 MiB). */
void tandem_qmp_client_set_max_line(TandemQmpClient *self, gsize max);

/* Signals:
 *   "event" (detailed by the event name, e.g. "event::STOP"):
 *       void (TandemQmpClient *, const char *name, JsonObject *data or NULL,
 *             gint64 timestamp_us)   -- QEMU's timestamp, wall clock
 *   "disconnected": void (TandemQmpClient *, const GError *reason)
 */

G_END_DECLS
