/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The QMP client against a scripted fake QMP server (qmp-fake.h):
 * framing, ids, events, errors, timeouts, cancellation, fd passing, and
 * every way the peer can misbehave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "qmp-fake.h"
#include "tandem-qmp-client.h"
#include "test-wait.h"

/* Sleeps in the main loop until *flag; fails after 5 s. */
static void run_until(gboolean *flag) {
  if (!tandem_test_wait(flag, 5))
    fail_msg("timed out waiting for the client");
}

typedef struct {
  gboolean done;
  GObject *object;
  JsonNode *node;
  GError *error;
  void (*on_client)(TandemQmpClient *c, gpointer data); /* in the callback */
  gpointer on_client_data;
} Result;

/* Handlers must be connected in the connect callback: events that follow
 * the handshake are delivered as soon as it returns. */
static void on_connected(GObject *src, GAsyncResult *res, gpointer data) {
  Result *r = data;
  r->object = (GObject *)tandem_qmp_client_connect_finish(res, &r->error);
  if (r->object && r->on_client)
    r->on_client(TANDEM_QMP_CLIENT(r->object), r->on_client_data);
  r->done = TRUE;
}

static void on_executed(GObject *src, GAsyncResult *res, gpointer data) {
  Result *r = data;
  r->node = tandem_qmp_client_execute_finish(TANDEM_QMP_CLIENT(src), res,
                                             &r->error);
  r->done = TRUE;
}

static TandemQmpClient *connect_with(Fake *f,
                                     void (*cb)(TandemQmpClient *, gpointer),
                                     gpointer data) {
  Result r = {.on_client = cb, .on_client_data = data};
  tandem_qmp_client_connect_async(f->path, 2000, NULL, on_connected, &r);
  run_until(&r.done);
  if (r.error)
    fail_msg("connect: %s", r.error->message);
  return TANDEM_QMP_CLIENT(r.object);
}

static TandemQmpClient *connect_ok(Fake *f) {
  return connect_with(f, NULL, NULL);
}

static void execute(TandemQmpClient *c, const char *cmd, guint timeout,
                    GCancellable *cancel, Result *r) {
  memset(r, 0, sizeof(*r));
  tandem_qmp_client_execute_async(c, cmd, NULL, -1, timeout, cancel,
                                  on_executed, r);
}

static void result_clear(Result *r) {
  g_clear_pointer(&r->node, json_node_unref);
  g_clear_error(&r->error);
}

static void test_handshake_and_command(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {REPLY, "\"execute\":\"query-status\"",
       "{\"return\": {\"status\": \"running\", \"running\": true}, "
       "\"id\": %lld}", 0},
      {WAIT_EOF, NULL, NULL, 0}, {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_ok(f);
  assert_true(tandem_qmp_client_is_connected(c));
  JsonObject *g = tandem_qmp_client_get_greeting(c);
  assert_true(json_object_has_member(g, "version"));

  Result r;
  execute(c, "query-status", 0, NULL, &r);
  run_until(&r.done);
  assert_null(r.error);
  JsonObject *o = json_node_get_object(r.node);
  assert_string_equal(json_object_get_string_member(o, "status"), "running");
  result_clear(&r);
  g_object_unref(c);
  fake_finish(f);
}

typedef struct {
  int count;
  int stops;
  gboolean all;
  gint64 stop_us;
  char device[32];
} Events;

static void on_event(TandemQmpClient *c, const char *name, JsonObject *data,
                     gint64 us, gpointer user) {
  Events *e = user;
  e->count++;
  if (g_str_equal(name, "STOP"))
    e->stop_us = us;
  if (g_str_equal(name, "DEVICE_DELETED") && data)
    g_strlcpy(e->device, json_object_get_string_member(data, "device"),
              sizeof(e->device));
  e->all = e->count == 2;
}

static void on_stop(TandemQmpClient *c, const char *name, JsonObject *data,
                    gint64 us, gpointer user) {
  ((Events *)user)->stops++;
}

static void watch_events(TandemQmpClient *c, gpointer data) {
  g_signal_connect(c, "event", G_CALLBACK(on_event), data);
  g_signal_connect(c, "event::STOP", G_CALLBACK(on_stop), data);
}

static void test_events(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {SEND, NULL, "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": "
                   "1700000000, \"microseconds\": 123456}}", 0},
      {SEND, NULL, "{\"timestamp\": {\"seconds\": 1700000001, "
                   "\"microseconds\": 0}, \"event\": \"DEVICE_DELETED\", "
                   "\"data\": {\"device\": \"nbd0\", \"path\": \"/x\"}}", 0},
      {SEND, NULL, "{\"event\": 42}", 0}, /* malformed: ignored */
      {WAIT_EOF, NULL, NULL, 0}, {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  Events e = {0};
  TandemQmpClient *c = connect_with(f, watch_events, &e);
  run_until(&e.all);
  assert_int_equal(e.count, 2);
  assert_int_equal(e.stops, 1);
  assert_int_equal(e.stop_us, 1700000000LL * 1000000 + 123456);
  assert_string_equal(e.device, "nbd0");
  g_object_unref(c);
  fake_finish(f);
}

static void test_replies_matched_by_id(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {READ, "first", NULL, 0},
      {READ, "second", NULL, 0},
      {SEND_ID, NULL, "{\"return\": \"for second\", \"id\": %lld}", 1},
      {SEND_ID, NULL, "{\"return\": \"for first\", \"id\": %lld}", 0},
      {WAIT_EOF, NULL, NULL, 0}, {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_ok(f);
  Result a, b;
  execute(c, "first", 0, NULL, &a);
  execute(c, "second", 0, NULL, &b);
  run_until(&a.done);
  run_until(&b.done);
  assert_string_equal(json_node_get_string(a.node), "for first");
  assert_string_equal(json_node_get_string(b.node), "for second");
  result_clear(&a);
  result_clear(&b);
  g_object_unref(c);
  fake_finish(f);
}

static void test_error_classes(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {REPLY, "nope", "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                      "\"The command nope has not been found\"}, \"id\": %lld}",
       0},
      {REPLY, "bad", "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                     "\"Parameter 'x' is missing\"}, \"id\": %lld}", 0},
      {REPLY, "future", "{\"error\": {\"class\": \"BrandNewClass\"}, "
                        "\"id\": %lld}", 0},
      {WAIT_EOF, NULL, NULL, 0}, {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_ok(f);
  struct {
    const char *cmd;
    int code;
  } cases[] = {{"nope", TANDEM_QMP_ERROR_COMMAND_NOT_FOUND},
               {"bad", TANDEM_QMP_ERROR_GENERIC},
               {"future", TANDEM_QMP_ERROR_UNKNOWN_CLASS}};
  for (int i = 0; i < 3; i++) {
    Result r;
    execute(c, cases[i].cmd, 0, NULL, &r);
    run_until(&r.done);
    assert_null(r.node);
    assert_true(g_error_matches(r.error, TANDEM_QMP_ERROR, cases[i].code));
    result_clear(&r);
  }
  assert_true(tandem_qmp_client_is_connected(c));
  g_object_unref(c);
  fake_finish(f);
}

typedef struct {
  int count;
  int code;
} Disconnects;

static void on_disconnected(TandemQmpClient *c, const GError *e, gpointer u) {
  Disconnects *d = u;
  d->count++;
  d->code = e->code;
}

/* A pending call, then @bad_step from the server: the call fails, the
 * connection drops with @code, the signal fires once. */
static void expect_drop(const Step *script, int code, gsize max_line) {
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_ok(f);
  if (max_line)
    tandem_qmp_client_set_max_line(c, max_line);
  Disconnects d = {0};
  g_signal_connect(c, "disconnected", G_CALLBACK(on_disconnected), &d);
  Result r;
  execute(c, "query-status", 0, NULL, &r);
  run_until(&r.done);
  assert_true(g_error_matches(r.error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DISCONNECTED));
  assert_int_equal(d.count, 1);
  assert_int_equal(d.code, code);
  assert_false(tandem_qmp_client_is_connected(c));
  result_clear(&r);

  /* Later calls fail at once; closing again signals nothing more. */
  execute(c, "query-status", 0, NULL, &r);
  run_until(&r.done);
  assert_true(g_error_matches(r.error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_DISCONNECTED));
  result_clear(&r);
  tandem_qmp_client_close(c);
  assert_int_equal(d.count, 1);
  g_object_unref(c);
  fake_finish(f);
}

static void test_invalid_json_drops(void **state) {
  (void)state;
  static const Step script[] = {HANDSHAKE, {READ, "query-status", NULL, 0},
                                {SEND, NULL, "{\"return\": {,,,", 0},
                                {WAIT_EOF, NULL, NULL, 0},
                                {END, NULL, NULL, 0}};
  expect_drop(script, TANDEM_QMP_ERROR_PROTOCOL, 0);
}

static void test_not_an_object_drops(void **state) {
  (void)state;
  static const Step script[] = {HANDSHAKE, {READ, "query-status", NULL, 0},
                                {SEND, NULL, "[1, 2, 3]", 0},
                                {WAIT_EOF, NULL, NULL, 0},
                                {END, NULL, NULL, 0}};
  expect_drop(script, TANDEM_QMP_ERROR_PROTOCOL, 0);
}

/* No newline ever comes: the client gives up at its cap, not at EOF. */
static void test_oversized_line_drops(void **state) {
  (void)state;
  static const Step script[] = {HANDSHAKE, {READ, "query-status", NULL, 0},
                                {SEND_RAW, NULL, NULL, 70000},
                                {WAIT_EOF, NULL, NULL, 0},
                                {END, NULL, NULL, 0}};
  expect_drop(script, TANDEM_QMP_ERROR_PROTOCOL, 1024);
}

static void test_server_closes(void **state) {
  (void)state;
  static const Step script[] = {HANDSHAKE, {READ, "query-status", NULL, 0},
                                {CLOSE, NULL, NULL, 0}, {END, NULL, NULL, 0}};
  expect_drop(script, TANDEM_QMP_ERROR_DISCONNECTED, 0);
}

static void test_timeout_and_late_reply(void **state) {
  (void)state;
  static const Step script[] = {
      HANDSHAKE,
      {READ, "slow", NULL, 0},
      {REPLY, "next", "{\"return\": \"next\", \"id\": %lld}", 0},
      /* The slow reply arrives after the client gave up on it. */
      {SEND_ID, NULL, "{\"return\": \"late\", \"id\": %lld}", 0},
      {REPLY, "after", "{\"return\": \"after\", \"id\": %lld}", 0},
      {WAIT_EOF, NULL, NULL, 0}, {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_ok(f);
  Result slow, next, after;
  execute(c, "slow", 100, NULL, &slow);
  run_until(&slow.done);
  assert_true(g_error_matches(slow.error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_TIMEOUT));
  execute(c, "next", 0, NULL, &next);
  run_until(&next.done);
  assert_string_equal(json_node_get_string(next.node), "next");
  execute(c, "after", 0, NULL, &after);
  run_until(&after.done);
  assert_string_equal(json_node_get_string(after.node), "after");
  assert_true(tandem_qmp_client_is_connected(c));
  result_clear(&slow);
  result_clear(&next);
  result_clear(&after);
  g_object_unref(c);
  fake_finish(f);
}

static void test_cancel(void **state) {
  (void)state;
  static const Step script[] = {HANDSHAKE, {READ, "never", NULL, 0},
                                {WAIT_EOF, NULL, NULL, 0},
                                {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_ok(f);
  g_autoptr(GCancellable) cancel = g_cancellable_new();
  Result r;
  execute(c, "never", 0, cancel, &r);
  g_cancellable_cancel(cancel);
  run_until(&r.done);
  assert_true(g_error_matches(r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  result_clear(&r);
  g_object_unref(c);
  fake_finish(f);
}

/* The fd given with a command reaches the server and is usable there. */
static void test_fd_passing(void **state) {
  (void)state;
  static const Step script[] = {HANDSHAKE, {RECV_FD, NULL, NULL, 0},
                                {WAIT_EOF, NULL, NULL, 0},
                                {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  TandemQmpClient *c = connect_ok(f);
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], "hello qemu", 10), 10);
  close(p[1]);
  JsonObject *args = json_object_new();
  json_object_set_string_member(args, "fdname", "snapshot");
  Result r = {0};
  tandem_qmp_client_execute_async(c, "getfd", args, p[0], 0, NULL,
                                  on_executed, &r);
  json_object_unref(args);
  close(p[0]); /* the client sends its own duplicate */
  run_until(&r.done);
  assert_null(r.error);
  result_clear(&r);
  g_object_unref(c);
  char data[64];
  fake_finish_with_data(f, data);
  assert_string_equal(data, "hello qemu");
}

static void test_no_greeting(void **state) {
  (void)state;
  static const Step script[] = {{SEND, NULL, "{\"return\": {}}", 0},
                                {WAIT_EOF, NULL, NULL, 0},
                                {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  Result r = {0};
  tandem_qmp_client_connect_async(f->path, 2000, NULL, on_connected, &r);
  run_until(&r.done);
  assert_null(r.object);
  assert_true(g_error_matches(r.error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_PROTOCOL));
  result_clear(&r);
  fake_finish(f);
}

static void test_silent_server_times_out(void **state) {
  (void)state;
  static const Step script[] = {{WAIT_EOF, NULL, NULL, 0},
                                {END, NULL, NULL, 0}};
  Fake *f = fake_start(script);
  Result r = {0};
  tandem_qmp_client_connect_async(f->path, 200, NULL, on_connected, &r);
  run_until(&r.done);
  assert_true(g_error_matches(r.error, TANDEM_QMP_ERROR,
                              TANDEM_QMP_ERROR_TIMEOUT));
  result_clear(&r);
  fake_finish(f);
}

static void test_no_socket(void **state) {
  (void)state;
  Result r = {0};
  tandem_qmp_client_connect_async("/nonexistent/qmp.sock", 500, NULL,
                                  on_connected, &r);
  run_until(&r.done);
  assert_null(r.object);
  assert_true(g_error_matches(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  result_clear(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_and_command),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_replies_matched_by_id),
      cmocka_unit_test(test_error_classes),
      cmocka_unit_test(test_invalid_json_drops),
      cmocka_unit_test(test_not_an_object_drops),
      cmocka_unit_test(test_oversized_line_drops),
      cmocka_unit_test(test_server_closes),
      cmocka_unit_test(test_timeout_and_late_reply),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_fd_passing),
      cmocka_unit_test(test_no_greeting),
      cmocka_unit_test(test_silent_server_times_out),
      cmocka_unit_test(test_no_socket),
  };
  return cmocka_run_group_tests_name("qmp-client", tests, NULL, NULL);
}
