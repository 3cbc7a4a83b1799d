/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whether a process is connected to a network disk's server, read from
 * the host's socket tables (storage/tandem-disk-probe.c): the parsers on
 * /proc/net/tcp text, and the whole probe on real sockets of this
 * process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tandem-disk-probe.h"

static void test_socket_inode(void **state) {
  (void)state;
  assert_int_equal(tandem_disk_probe_socket_inode("socket:[1234]"), 1234);
  assert_int_equal(tandem_disk_probe_socket_inode("socket:[]"), 0);
  assert_int_equal(tandem_disk_probe_socket_inode("socket:[12x]"), 0);
  assert_int_equal(tandem_disk_probe_socket_inode("socket:[12]]"), 0);
  assert_int_equal(tandem_disk_probe_socket_inode("pipe:[1234]"), 0);
  assert_int_equal(tandem_disk_probe_socket_inode("/dev/null"), 0);
  assert_int_equal(tandem_disk_probe_socket_inode(NULL), 0);
}

static void test_parse_tcp(void **state) {
  (void)state;
  const char *v4 =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
      "retrnsmt   uid  timeout inode\n"
      /* listening: skipped */
      "   0: 0100007F:2A29 00000000:0000 0A 00000000:00000000 00:00000000 "
      "00000000     0        0 111 1 0000000000000000 100 0 0 10 0\n"
      /* established to 127.0.0.1:10809 */
      "   1: 0100007F:D1C2 0100007F:2A39 01 00000000:00000000 00:00000000 "
      "00000000     0        0 222 1 0000000000000000 20 4 30 10 -1\n"
      /* malformed: a short line, a bad address, a bad state, no inode */
      "   2: 0100007F:D1C2 0100007F:2A39\n"
      "   3: 0100007F:D1C2 0100007G:2A39 01 0:0 0:0 0 0 0 333\n"
      "   4: 0100007F:D1C2 0100007F:2A39 zz 0:0 0:0 0 0 0 444\n"
      "   5: 0100007F:D1C2 0100007F:2A39 01 0:0 0:0 0 0 0 0\n"
      "   6: 0100007F:D1C2 0100007F:12345 01 0:0 0:0 0 0 0 555\n";
  g_autoptr(GArray) out = g_array_new(FALSE, FALSE,
                                      sizeof(TandemDiskProbeTcp));
  tandem_disk_probe_parse_tcp(v4, FALSE, 1000, out);
  assert_int_equal(out->len, 1);
  TandemDiskProbeTcp *c = &g_array_index(out, TandemDiskProbeTcp, 0);
  assert_int_equal(c->inode, 222);
  assert_int_equal(c->remote_port, 10809);
  static const guint8 lo[4] = {127, 0, 0, 1};
  assert_memory_equal(c->remote, lo, 4);
  /* A bound on the lines read. */
  g_array_set_size(out, 0);
  tandem_disk_probe_parse_tcp(v4, FALSE, 1, out);
  assert_int_equal(out->len, 0);
  tandem_disk_probe_parse_tcp(NULL, FALSE, 10, out);
  tandem_disk_probe_parse_tcp("", TRUE, 10, out);
  tandem_disk_probe_parse_tcp("header only", TRUE, 10, out);
  assert_int_equal(out->len, 0);

  const char *v6 =
      "  sl  local_address                         remote_address           "
      "             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
      "inode\n"
      "   0: 00000000000000000000000001000000:D1C2 "
      "00000000000000000000000001000000:0CBC 01 00000000:00000000 "
      "00:00000000 00000000     0        0 666 1 0 20 4 30 10 -1\n";
  tandem_disk_probe_parse_tcp(v6, TRUE, 1000, out);
  assert_int_equal(out->len, 1);
  c = &g_array_index(out, TandemDiskProbeTcp, 0);
  assert_true(c->v6);
  assert_int_equal(c->remote_port, 3260);
  static const guint8 lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                 0, 0, 0, 0, 0, 0, 0, 1};
  assert_memory_equal(c->remote, lo6, 16);
}

static TandemDiskProbeResult check(const char *uri) {
  g_autoptr(TandemDiskProbe) probe = tandem_disk_probe_new(getpid());
  assert_non_null(probe);
  g_autoptr(TandemStorageUri) u = tandem_storage_uri_parse(uri, NULL);
  assert_non_null(u);
  return tandem_disk_probe_check(probe, u);
}

/* A server and a client in this process, as QEMU and qemu-nbd would be. */
static void test_unix(void **state) {
  (void)state;
  g_autofree char *dir = g_dir_make_tmp("tandem-probe-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "nbd.sock", NULL);
  g_autofree char *uri = g_strdup_printf("nbd+unix:///x?socket=%s", path);
  g_autofree char *other = g_strdup_printf("nbd+unix:///x?socket=%s/o.sock",
                                           dir);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
  int server = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(bind(server, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(server, 1), 0);
  /* Listening, no client: not connected. */
  assert_int_equal(check(uri), TANDEM_DISK_PROBE_NOT_CONNECTED);
  int client = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof sa), 0);
  int accepted = accept(server, NULL, NULL);
  assert_true(accepted >= 0);
  assert_int_equal(check(uri), TANDEM_DISK_PROBE_CONNECTED);
  assert_int_equal(check(other), TANDEM_DISK_PROBE_NOT_CONNECTED);
  /* The server gone (its sockets closed): not connected. */
  close(accepted);
  close(server);
  assert_int_equal(check(uri), TANDEM_DISK_PROBE_NOT_CONNECTED);
  close(client);
  g_unlink(path);
  g_rmdir(dir);
}

static void test_tcp(void **state) {
  (void)state;
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  int server = socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(bind(server, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(server, 1), 0);
  assert_int_equal(getsockname(server, (struct sockaddr *)&sa, &len), 0);
  int port = ntohs(sa.sin_port);
  g_autofree char *uri = g_strdup_printf("nbd://127.0.0.1:%d/x", port);
  g_autofree char *named = g_strdup_printf("nbd://localhost:%d/x", port);
  g_autofree char *elsewhere = g_strdup_printf("nbd://10.1.2.3:%d/x", port);
  g_autofree char *other_port =
      g_strdup_printf("nbd://127.0.0.1:%d/x", port == 65535 ? 1 : port + 1);
  assert_int_equal(check(uri), TANDEM_DISK_PROBE_NOT_CONNECTED);
  int client = socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof sa), 0);
  int accepted = accept(server, NULL, NULL);
  assert_true(accepted >= 0);
  assert_int_equal(check(uri), TANDEM_DISK_PROBE_CONNECTED);
  assert_int_equal(check(named), TANDEM_DISK_PROBE_CONNECTED); /* port */
  assert_int_equal(check(elsewhere), TANDEM_DISK_PROBE_NOT_CONNECTED);
  assert_int_equal(check(other_port), TANDEM_DISK_PROBE_NOT_CONNECTED);
  close(client);
  close(accepted);
  close(server);
}

static void test_no_process(void **state) {
  (void)state;
  assert_null(tandem_disk_probe_new(0));
  assert_null(tandem_disk_probe_new(-1));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_socket_inode),
      cmocka_unit_test(test_parse_tcp),
      cmocka_unit_test(test_unix),
      cmocka_unit_test(test_tcp),
      cmocka_unit_test(test_no_process),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
