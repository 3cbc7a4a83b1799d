/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to vmm-bridge: what the typed QMP calls (tandem-qmp-commands.c,
 * tandem-qmp-migrate.c) share. Call sites use those headers, never this one.
 *
 * One GTask per typed call wraps one tandem_qmp_client_execute_async(); the
 * reply's value goes through a parse function before anyone sees it, because
 * everything QEMU sends is untrusted: its process may be compromised by the
 * guest. Parse functions read members only through the readers below, which
 * check types and say which member was wrong.
 */
#pragma once

#include "tandem-qmp-client.h"

G_BEGIN_DECLS

/* Lists from QEMU longer than this are refused: no VM Tandem runs has
 * anywhere near as many disks or jobs, and a hostile reply must not make
 * Tandem allocate per entry without limit. */
#define TANDEM_QMP_MAX_LIST 256

/* Turns QMP's "return" value into the finish function's result; returns
 * NULL and sets @error (TANDEM_QMP_ERROR_PROTOCOL) when the value does not
 * have the shape QEMU documents. */
typedef gpointer (*TandemQmpParseFunc)(JsonNode *untrusted_ret,
                                       GError **error);

/* Runs @command. Takes @arguments (may be NULL); @fd is not taken (-1: none).
 * With @parse NULL the reply's value is ignored and the task returns TRUE;
 * otherwise it returns what @parse made, freed with @result_free if nobody
 * takes it. @source_tag is the public _async function, which the matching
 * finish function checks. */
void tandem_qmp_call_async(TandemQmpClient *client, const char *command,
                           JsonObject *arguments, int fd,
                           TandemQmpParseFunc parse,
                           GDestroyNotify result_free, gpointer source_tag,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gpointer tandem_qmp_call_finish_pointer(TandemQmpClient *client,
                                        GAsyncResult *result,
                                        gpointer source_tag, GError **error);
gboolean tandem_qmp_call_finish_boolean(TandemQmpClient *client,
                                        GAsyncResult *result,
                                        gpointer source_tag, GError **error);

/* Readers for members of an untrusted object. Each returns FALSE with
 * @error set when the member has the wrong type, or is missing and
 * @required; a missing optional member leaves the default (NULL, FALSE, 0).
 * Integers must be whole and non-negative: json-glib wraps numbers above
 * G_MAXINT64 to negative ones, and no size or time QEMU reports is that
 * large. */
gboolean tandem_qmp_read_string(JsonObject *o, const char *name,
                                gboolean required, char **out,
                                GError **error);
gboolean tandem_qmp_read_boolean(JsonObject *o, const char *name,
                                 gboolean required, gboolean *out,
                                 GError **error);
gboolean tandem_qmp_read_u64(JsonObject *o, const char *name,
                             gboolean required, guint64 *out, GError **error);
/* @out is borrowed from @o. */
gboolean tandem_qmp_read_object(JsonObject *o, const char *name,
                                gboolean required, JsonObject **out,
                                GError **error);

/* The object held by @node, or NULL with @error set. */
JsonObject *tandem_qmp_expect_object(JsonNode *node, const char *what,
                                     GError **error);
/* The array held by @node if it has at most TANDEM_QMP_MAX_LIST elements,
 * or NULL with @error set. */
JsonArray *tandem_qmp_expect_list(JsonNode *node, const char *what,
                                  GError **error);

G_END_DECLS
