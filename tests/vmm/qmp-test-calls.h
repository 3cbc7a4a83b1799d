/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the fake-QMP tests of the typed commands share: waiting for a call
 * and connecting to the fake server (qmp-fake.h). */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "qmp-fake.h"
#include "tandem-qmp-commands.h"

#define OK "{\"return\": {}, \"id\": %lld}"
#define CLOSE_SCRIPT {WAIT_EOF, NULL, NULL, 0}, {END, NULL, NULL, 0}

typedef struct {
  gboolean done;
  GAsyncResult *result;
} Wait;

/* A GAsyncReadyCallback filling the Wait in @data. */
void on_done(GObject *source, GAsyncResult *result, gpointer data);
/* The call's result once it completes (transfer full); fails after 5 s. */
GAsyncResult *wait_for(Wait *w);
/* A client connected to @f (fails the test otherwise). */
TandemQmpClient *connect_to(Fake *f);
/* @text parsed as a JSON object (transfer full); fails the test if not. */
JsonObject *json_object_from(const char *text);

/* Runs tandem_qmp_NAME_async(c, args…) to its end: NAME's _finish value. */
#define RUN_VOID(c, error, name, ...)                                        \
  ({                                                                         \
    Wait w_ = {0};                                                           \
    tandem_qmp_##name##_async(c, ##__VA_ARGS__, NULL, on_done, &w_);         \
    g_autoptr(GAsyncResult) r_ = wait_for(&w_);                              \
    tandem_qmp_##name##_finish(c, r_, error);                                \
  })
#define RUN_VOID0(c, error, name)                                            \
  ({                                                                         \
    Wait w_ = {0};                                                           \
    tandem_qmp_##name##_async(c, NULL, on_done, &w_);                        \
    g_autoptr(GAsyncResult) r_ = wait_for(&w_);                              \
    tandem_qmp_##name##_finish(c, r_, error);                                \
  })

/* query-status, run to its end. */
TandemQmpStatusInfo *query_status(TandemQmpClient *c, GError **error);
