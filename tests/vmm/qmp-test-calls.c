/* SPDX-License-Identifier: GPL-2.0-or-later */
/* See qmp-test-calls.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qmp-test-calls.h"
#include "test-wait.h"

void on_done(GObject *source, GAsyncResult *result, gpointer data) {
  Wait *w = data;
  w->result = g_object_ref(result);
  w->done = TRUE;
}

GAsyncResult *wait_for(Wait *w) {
  if (!tandem_test_wait(&w->done, 5))
    fail_msg("timed out waiting for the call");
  return w->result;
}

TandemQmpClient *connect_to(Fake *f) {
  Wait w = {0};
  g_autoptr(GError) error = NULL;
  tandem_qmp_client_connect_async(f->path, 2000, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  TandemQmpClient *c = tandem_qmp_client_connect_finish(res, &error);
  if (!c)
    fail_msg("connect: %s", error->message);
  return c;
}

JsonObject *json_object_from(const char *text) {
  g_autoptr(JsonParser) p = json_parser_new();
  assert_true(json_parser_load_from_data(p, text, -1, NULL));
  return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}

TandemQmpStatusInfo *query_status(TandemQmpClient *c, GError **error) {
  Wait w = {0};
  tandem_qmp_query_status_async(c, NULL, on_done, &w);
  g_autoptr(GAsyncResult) res = wait_for(&w);
  return tandem_qmp_query_status_finish(c, res, error);
}
