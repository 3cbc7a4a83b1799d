/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The real tandem-agent in loopback mode against a host written here:
 * handshake, catalog for the host's locale with icons, heartbeats,
 * launching only what the catalog offers, live catalog changes,
 * reconnecting with full state, and dropping a host that sends garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-host.h"
#include "tandem-protocol.h"

static char *root, *sock_path, *user_dir, *sys_dir;
static int listen_fd = -1;
static GSubprocess *agent;

static void put(const char *dir, const char *rel, const char *text) {
  g_autofree char *path = g_build_filename(dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname(path);
  g_mkdir_with_parents(parent, 0700);
  assert_true(g_file_set_contents(path, text, -1, NULL));
}

typedef AgentHost Host;
#define host_send agent_host_send
#define host_next agent_host_next
#define host_close agent_host_close

static void expect(Host *h, TpMessage *m, uint16_t type) {
  agent_host_expect(h, m, type, 10000);
}

/* The catalog's ids; xterm arrives translated, with its icon. */
static GPtrArray *read_catalog(Host *h) {
  g_autoptr(GPtrArray) items = agent_host_read_catalog(h, 10000);
  GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
  const CatalogItem *x = agent_host_find(items, "xterm");
  assert_non_null(x);
  assert_string_equal(x->name, "XTerm-Terminal"); /* the host's locale */
  assert_true(x->icon_len > 0);
  assert_string_equal(x->wm_class, "XTerm");
  for (guint i = 0; i < items->len; i++)
    g_ptr_array_add(ids, g_strdup(((CatalogItem *)items->pdata[i])->id));
  return ids;
}

static Host handshake(void) {
  Host h = agent_host_accept(listen_fd, 10000);
  TpMessage m;
  expect(&h, &m, TP_MSG_HELLO);
  assert_int_equal(m.u.hello.magic, TP_MAGIC);
  assert_non_null(strstr(m.u.hello.software, "tandem-agent"));
  agent_host_say_hello(&h);
  return h;
}

static gboolean contains(GPtrArray *ids, const char *id) {
  for (guint i = 0; i < ids->len; i++)
    if (g_str_equal(ids->pdata[i], id))
      return TRUE;
  return FALSE;
}

static Host host; /* the current connection, across the tests */

static void test_handshake_and_catalog(void **state) {
  (void)state;
  host = handshake();
  g_autoptr(GPtrArray) ids = read_catalog(&host);
  assert_int_equal(ids->len, 3);
  assert_true(contains(ids, "xterm"));
  assert_true(contains(ids, "toucher"));
  assert_true(contains(ids, "echoer"));
}

static void test_heartbeat(void **state) {
  (void)state;
  TpMessage m = {.type = TP_MSG_HEARTBEAT};
  m.u.heartbeat = (TpHeartbeat){7, 0, 123456789, 0};
  host_send(&host, &m);
  expect(&host, &m, TP_MSG_HEARTBEAT);
  assert_int_equal(m.u.heartbeat.seq, 7);
  assert_int_equal(m.u.heartbeat.reply, 1);
  assert_int_equal(m.u.heartbeat.echo_ns, 123456789);
}

static void launch(const char *app, const char *const *args, TpMessage *out) {
  TpMessage m = {.type = TP_MSG_LAUNCH};
  guint n = args ? g_strv_length((GStrv)args) : 0;
  m.u.launch = (TpLaunch){42, app, "", {n, args}};
  host_send(&host, &m);
  expect(&host, out, TP_MSG_LAUNCH_RESULT);
  assert_int_equal(out->u.launch_result.request_id, 42);
}

static void test_launch(void **state) {
  (void)state;
  TpMessage r;
  /* A file name with shell syntax stays one file name: no shell runs. */
  g_autofree char *target = g_build_filename(root, "made by $(id); true",
                                             NULL);
  const char *args[] = {target, NULL};
  launch("toucher", args, &r);
  assert_int_equal(r.u.launch_result.status, TP_LAUNCH_STARTED);
  assert_true(r.u.launch_result.pid > 0);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (!g_file_test(target, G_FILE_TEST_EXISTS) &&
         g_get_monotonic_time() < end)
    g_usleep(10000); /* waiting on another process's file: bounded poll */
  assert_true(g_file_test(target, G_FILE_TEST_EXISTS));

  launch("rm", NULL, &r); /* not in the catalog: never run */
  assert_int_equal(r.u.launch_result.status, TP_LAUNCH_NOT_FOUND);
  assert_non_null(strstr(r.u.launch_result.message, "catalog"));

  launch("echoer", NULL, &r); /* Exec names a program that is not there */
  assert_int_equal(r.u.launch_result.status, TP_LAUNCH_EXEC_FAILED);
}

static void test_catalog_changes_are_sent(void **state) {
  (void)state;
  TpMessage m;
  put(user_dir, "applications/newcomer.desktop",
      "[Desktop Entry]\nType=Application\nName=Newcomer\nExec=true\n");
  expect(&host, &m, TP_MSG_APP_ENTRY);
  assert_string_equal(m.u.app.id, "newcomer");
  g_autofree char *gone = g_build_filename(user_dir, "applications",
                                           "newcomer.desktop", NULL);
  g_unlink(gone);
  expect(&host, &m, TP_MSG_APP_REMOVE);
  assert_string_equal(m.u.app_remove.id, "newcomer");
}

static void test_reconnects_with_full_state(void **state) {
  (void)state;
  host_close(&host);
  host = handshake();
  g_autoptr(GPtrArray) ids = read_catalog(&host);
  assert_int_equal(ids->len, 3);
}

/* A new host on the same connection (a VM restored from a snapshot: the
 * guest's memory still holds the old session): its HELLO gets the agent's
 * HELLO and the whole catalog again. */
static void test_a_new_host_on_a_live_connection(void **state) {
  (void)state;
  TpMessage m;
  agent_host_say_hello(&host);
  expect(&host, &m, TP_MSG_HELLO);
  assert_non_null(strstr(m.u.hello.software, "tandem-agent"));
  g_autoptr(GPtrArray) ids = read_catalog(&host);
  assert_int_equal(ids->len, 3);
}

static void test_garbage_drops_the_host(void **state) {
  (void)state;
  static const uint8_t garbage[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0,
                                      4,    0,    0, 0};
  TpMessage m;
  assert_int_equal(write(host.fd, garbage, sizeof(garbage)), 16);
  assert_false(host_next(&host, &m, 5000)); /* the agent hangs up */
  host_close(&host);
  host = handshake(); /* and comes back for a well-behaved host */
  g_autoptr(GPtrArray) ids = read_catalog(&host);
  assert_int_equal(ids->len, 3);
}

static int setup(void **state) {
  root = g_dir_make_tmp("agent-loop-XXXXXX", NULL);
  sock_path = g_build_filename(root, "agent.sock", NULL);
  user_dir = g_build_filename(root, "user", NULL);
  sys_dir = g_build_filename(root, "sys", NULL);
  put(sys_dir, "applications/xterm.desktop",
      "[Desktop Entry]\nType=Application\nName=XTerm\nName[de]=XTerm-Terminal\n"
      "Exec=xterm\nIcon=utilities-terminal\nStartupWMClass=XTerm\n");
  put(sys_dir, "applications/toucher.desktop",
      "[Desktop Entry]\nType=Application\nName=Toucher\nExec=touch %f\n");
  put(sys_dir, "applications/echoer.desktop",
      "[Desktop Entry]\nType=Application\nName=Echoer\n"
      "Exec=/nonexistent/bin/echoer\n");
  put(sys_dir, "applications/hidden.desktop",
      "[Desktop Entry]\nType=Application\nName=H\nExec=x\nNoDisplay=true\n");
  put(sys_dir, "icons/hicolor/scalable/apps/utilities-terminal.svg",
      "<svg xmlns='http://www.w3.org/2000/svg' width='16' height='16'>"
      "<rect width='16' height='16' fill='#222'/></svg>");
  g_mkdir_with_parents(user_dir, 0700);

  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(listen_fd, 2) != 0)
    return -1;

  g_autoptr(GSubprocessLauncher) l =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv(l, "XDG_DATA_HOME", user_dir, TRUE);
  g_subprocess_launcher_setenv(l, "XDG_DATA_DIRS", sys_dir, TRUE);
  g_subprocess_launcher_setenv(l, "XDG_CURRENT_DESKTOP", "Tandem", TRUE);
  g_subprocess_launcher_unsetenv(l, "DISPLAY"); /* the catalog side only */
  g_autofree char *bin = g_build_filename(g_getenv("TANDEM_BUILD_ROOT"),
                                          "guest-agent", "tandem-agent", NULL);
  g_autofree char *addr = g_strconcat("unix:", sock_path, NULL);
  agent = g_subprocess_launcher_spawn(l, NULL, bin, "--connect", addr, NULL);
  return agent ? 0 : -1;
}

static int teardown(void **state) {
  if (agent) {
    g_subprocess_send_signal(agent, SIGTERM);
    g_subprocess_wait(agent, NULL, NULL);
    g_clear_object(&agent);
  }
  if (host.reader)
    host_close(&host);
  close(listen_fd);
  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", root);
  if (system(cmd) != 0)
    g_warning("could not remove %s", root);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_and_catalog),
      cmocka_unit_test(test_heartbeat),
      cmocka_unit_test(test_launch),
      cmocka_unit_test(test_catalog_changes_are_sent),
      cmocka_unit_test(test_reconnects_with_full_state),
      cmocka_unit_test(test_a_new_host_on_a_live_connection),
      cmocka_unit_test(test_garbage_drops_the_host),
  };
  return cmocka_run_group_tests_name("agent-loopback", tests, setup,
                                     teardown);
}
