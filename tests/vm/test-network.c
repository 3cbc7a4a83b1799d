/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM's network card against real QEMU under TCG, booting the test
 * guest with "tandem.fetch=": its DHCP client brings the card up, and it
 * fetches pages from an HTTP server this test runs on the host's loopback.
 *
 *   - Network=restricted with a Forward: the page comes through the
 *     forward, and the host's own address on the guest's network (10.0.2.2,
 *     which user-mode networking maps to the host's loopback) is refused;
 *   - Network=user (the default): the host is reachable through 10.0.2.2;
 *   - Network=none: the guest has no network card.
 *
 * No test reaches any address but this machine's loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <string.h>

#include "vm-test-util.h"

/* --- A one-page HTTP server on 127.0.0.1 ----------------------------------- */

typedef struct {
  GSocketService *service;
  guint16 port;
  char *body;     /* what every GET gets */
  guint requests; /* answered so far */
} Server;

/* One connection: the request is read without blocking the loop (QEMU
 * opens a forward's connection when it starts, long before the guest sends
 * anything on it). */
typedef struct {
  Server *server;
  GSocketConnection *conn;
  char buf[2048];
} Client;

static void on_request(GObject *src, GAsyncResult *res, gpointer data) {
  Client *c = data;
  gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, NULL);
  if (n > 0 && g_str_has_prefix(c->buf, "GET ")) {
    g_autofree char *reply = g_strdup_printf(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
        strlen(c->server->body), c->server->body);
    GOutputStream *out =
        g_io_stream_get_output_stream(G_IO_STREAM(c->conn));
    g_output_stream_write_all(out, reply, strlen(reply), NULL, NULL, NULL);
    c->server->requests++;
  }
  g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
  g_object_unref(c->conn);
  g_free(c);
}

static gboolean on_incoming(GSocketService *service,
                            GSocketConnection *conn, GObject *source,
                            gpointer data) {
  Client *c = g_new0(Client, 1);
  c->server = data;
  c->conn = g_object_ref(conn);
  g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(conn)),
                            c->buf, sizeof(c->buf) - 1, G_PRIORITY_DEFAULT,
                            NULL, on_request, c);
  return TRUE;
}

static void server_start(Server *s) {
  s->service = g_socket_service_new();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  assert_true(g_socket_listener_add_address(
      G_SOCKET_LISTENER(s->service), any, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
  s->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  s->body = g_strdup_printf("tandem-network-ok-%08x", g_random_int());
  g_signal_connect(s->service, "incoming", G_CALLBACK(on_incoming), s);
  g_socket_service_start(s->service);
}

static void server_stop(Server *s) {
  g_socket_service_stop(s->service);
  g_socket_listener_close(G_SOCKET_LISTENER(s->service));
  g_clear_object(&s->service);
  g_clear_pointer(&s->body, g_free);
}

/* --- Booting the guest with its console kept -------------------------------- */

static void on_line(TandemVm *vm, const char *line, gpointer data) {
  g_string_append_printf(data, "%s\n", line);
}

/* Boots the test guest with @network (and @forward, if any) and fetching
 * @urls; returns its console up to "ready". */
static char *boot_and_fetch(const char *name, TandemNetwork network,
                            const char *forward, const char *urls) {
  TandemVmConfig *c = vm_test_config(name, TANDEM_ACCEL_TCG);
  c->network = network;
  if (forward) {
    g_strfreev(c->forwards);
    c->forwards = g_strsplit(forward, ";", -1);
  }
  g_autofree char *old = c->cmdline;
  c->cmdline = g_strdup_printf("%s tandem.fetch=%s", old, urls);
  g_autoptr(TandemVm) vm = tandem_vm_new(c);
  GString *console = g_string_new(NULL);
  g_signal_connect(vm, "console-line", G_CALLBACK(on_line), console);
  vm_test_start_ready(vm);
  g_autoptr(GError) error = NULL;
  assert_true(vm_test_stop(vm, TRUE, &error));
  g_signal_handlers_disconnect_by_data(vm, console);
  return g_string_free(console, FALSE);
}

static void expect_line(const char *console, const char *line) {
  if (!strstr(console, line))
    fail_msg("the guest did not print \"%s\"; its console:\n%s", line,
             console);
}

static void test_restricted_with_a_forward(void **state) {
  (void)state;
  Server s = {0};
  server_start(&s);
  g_autofree char *forward = g_strdup_printf("10.0.2.100:80=127.0.0.1:%u",
                                             s.port);
  g_autofree char *direct = g_strdup_printf("http://10.0.2.2:%u/page", s.port);
  g_autofree char *urls = g_strdup_printf("http://10.0.2.100/page,%s", direct);
  g_autofree char *console = boot_and_fetch("t-net-r",
                                            TANDEM_NETWORK_RESTRICTED,
                                            forward, urls);
  expect_line(console, "TANDEM-TEST-GUEST: network: inet 10.0.2.15");
  g_autofree char *fetched = g_strdup_printf(
      "TANDEM-TEST-GUEST: fetched http://10.0.2.100/page: %s", s.body);
  expect_line(console, fetched);
  g_autofree char *refused = g_strdup_printf(
      "TANDEM-TEST-GUEST: fetch failed: %s", direct);
  expect_line(console, refused);
  assert_int_equal(s.requests, 1); /* the forward's, and nothing else */
  server_stop(&s);
}

static void test_user_network_reaches_the_host(void **state) {
  (void)state;
  Server s = {0};
  server_start(&s);
  g_autofree char *url = g_strdup_printf("http://10.0.2.2:%u/page", s.port);
  g_autofree char *console = boot_and_fetch("t-net-u", TANDEM_NETWORK_USER,
                                            NULL, url);
  g_autofree char *fetched = g_strdup_printf(
      "TANDEM-TEST-GUEST: fetched %s: %s", url, s.body);
  expect_line(console, fetched);
  assert_int_equal(s.requests, 1);
  server_stop(&s);
}

static void test_no_network(void **state) {
  (void)state;
  g_autofree char *console = boot_and_fetch("t-net-n", TANDEM_NETWORK_NONE,
                                            NULL, "http://10.0.2.2/");
  expect_line(console, "TANDEM-TEST-GUEST: network: no interface");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_restricted_with_a_forward),
      cmocka_unit_test(test_user_network_reaches_the_host),
      cmocka_unit_test(test_no_network),
  };
  return cmocka_run_group_tests_name("network", tests, NULL, NULL);
}
