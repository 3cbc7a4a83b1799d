/* SPDX-License-Identifier: GPL-2.0-or-later */
/* End to end, under TCG: Tandem starts the default guest (built with the
 * agent in it), the agent answers over virtio-serial, its catalog lists
 * the sample applications with icons, and a launch starts one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "agent-host.h"
#include "tandem-qemu-argv.h"
#include "vm-test-util.h"

static char *guest_dir(void) {
  const char *env = g_getenv("TANDEM_DEFAULT_GUEST");
  char *dir = env && *env ? g_strdup(env)
                          : g_build_filename(g_getenv("TANDEM_SOURCE_ROOT"),
                                             "build", "default-guest", NULL);
  g_autofree char *k = g_build_filename(dir, "vmlinuz", NULL);
  if (!g_file_test(k, G_FILE_TEST_EXISTS))
    fail_msg("no default guest in %s (tools/dev.sh test builds it)", dir);
  return dir;
}

/* A throw-away overlay, so the built home disk is never written. */
static char *home_overlay(const char *dir, const char *tmp) {
  g_autofree char *base = g_build_filename(dir, "home.qcow2", NULL);
  char *overlay = g_build_filename(tmp, "home.qcow2", NULL);
  const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-b",
                        base, "-F", "qcow2", overlay, NULL};
  int status = -1;
  assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                           NULL, NULL, NULL, NULL, &status, NULL));
  assert_int_equal(status, 0);
  return overlay;
}

/* The agent reopens its port until a host listens: connect, say HELLO and
 * take its HELLO (if it comes again) and catalog, within @seconds. */
static GPtrArray *agent_catalog(TandemVm *vm, AgentHost *h, double seconds) {
  g_autofree char *sock = g_build_filename(tandem_vm_get_runtime_dir(vm),
                                           TANDEM_RUNTIME_AGENT, NULL);
  assert_true(agent_host_connect(h, sock));
  agent_host_say_hello(h);
  gint64 end = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
  TpMessage m;
  while (g_get_monotonic_time() < end) {
    int left = (int)((end - g_get_monotonic_time()) / 1000);
    if (!agent_host_next(h, &m, left))
      break;
    if (m.type == TP_MSG_HELLO) {
      assert_non_null(strstr(m.u.hello.software, "tandem-agent"));
      agent_host_say_hello(h); /* in case ours crossed its reconnect */
      continue;
    }
    if (m.type != TP_MSG_APP_LIST_BEGIN)
      continue;
    GPtrArray *items = g_ptr_array_new();
    uint32_t count = m.u.app_list_begin.count;
    for (uint32_t i = 0; i < count; i++) {
      agent_host_expect(h, &m, TP_MSG_APP_ENTRY, 30000);
      CatalogItem *it = g_new0(CatalogItem, 1);
      it->id = g_strdup(m.u.app.id);
      it->name = g_strdup(m.u.app.name);
      it->icon_len = m.u.app.icon_png.len;
      g_ptr_array_add(items, it);
    }
    agent_host_expect(h, &m, TP_MSG_APP_LIST_END, 30000);
    return items;
  }
  fail_msg("no catalog from the agent within %.0f s", seconds);
  g_assert_not_reached();
}

static void test_agent_over_virtio(void **state) {
  (void)state;
  g_autofree char *dir = guest_dir();
  g_autofree char *tmp = g_dir_make_tmp("agent-vm-XXXXXX", NULL);
  g_autofree char *home = home_overlay(dir, tmp);
  g_autofree char *conf = g_strdup_printf(
      "[VM]\nMemory=1G\nCPUs=2\nAccelerator=tcg\nDisplay=spice\n"
      "[Boot]\nKernel=%s/vmlinuz\nInitrd=%s/initramfs.img\n"
      "CommandLine=console=ttyS0 quiet\n"
      "[Disk home]\nPath=%s\n",
      dir, dir, home);
  g_autoptr(GError) error = NULL;
  TandemVmConfig *c = tandem_vm_config_parse("agent-vm", conf, dir, &error);
  assert_non_null(c);
  g_autoptr(TandemVm) vm = tandem_vm_new(c);

  gint64 t0 = g_get_monotonic_time();
  vm_test_start_ready_marker(vm, "TANDEM-GUEST: session ready", 180);
  print_message("# default guest: session ready after %.1f s\n",
                (double)(g_get_monotonic_time() - t0) / 1e6);

  AgentHost h = {-1, NULL};
  g_autoptr(GPtrArray) catalog = agent_catalog(vm, &h, 60);
  print_message("# agent catalog after %.1f s: %u applications\n",
                (double)(g_get_monotonic_time() - t0) / 1e6, catalog->len);
  const char *apps[] = {"debian-xterm", "org.xfce.mousepad", "xclock", NULL};
  for (int i = 0; apps[i]; i++) {
    const CatalogItem *it = agent_host_find(catalog, apps[i]);
    if (!it)
      fail_msg("%s is not in the guest's catalog", apps[i]);
    assert_true(it->icon_len > 0);
  }

  TpMessage m = {.type = TP_MSG_LAUNCH};
  m.u.launch = (TpLaunch){1, "xclock", "", {0, NULL}};
  agent_host_send(&h, &m);
  do { /* catalog changes may come first */
    if (!agent_host_next(&h, &m, 30000))
      fail_msg("no LAUNCH_RESULT from the agent");
  } while (m.type != TP_MSG_LAUNCH_RESULT);
  assert_int_equal(m.u.launch_result.status, TP_LAUNCH_STARTED);
  assert_true(m.u.launch_result.pid > 0);

  /* xclock's window arrives: created, titled, mapped, then its pixels. */
  uint32_t window = 0, frames = 0;
  gboolean mapped = FALSE, drawn = FALSE;
  while (!drawn) {
    if (!agent_host_next(&h, &m, 60000))
      fail_msg("xclock's window did not arrive with pixels");
    if (m.type == TP_MSG_WINDOW_TITLE && g_str_equal(m.u.title.title,
                                                     "xclock"))
      window = m.window;
    else if (m.type == TP_MSG_WINDOW_MAP && m.window == window)
      mapped = TRUE;
    else if (m.type == TP_MSG_DAMAGE && m.window == window) {
      assert_true(mapped); /* never pixels before the window is shown */
      const TpRect *r = &m.u.damage.rects[0];
      for (uint32_t i = 4; i < r->len && !drawn; i += 4)
        drawn = memcmp(r->data, r->data + i, 3) != 0; /* not one colour */
      if (m.u.damage.flags & TP_DAMAGE_FRAME_END) {
        frames++;
        TpMessage a = {.type = TP_MSG_FRAME_ACK, .window = window};
        a.u.frame_ack = (TpFrameAck){m.u.damage.frame_seq, 0};
        agent_host_send(&h, &a);
      }
    }
  }
  print_message("# xclock's window with pixels after %.1f s (%u frames)\n",
                (double)(g_get_monotonic_time() - t0) / 1e6, frames);
  /* xclock takes no input (Xt's default input hint), so focus goes to a
   * terminal: launched, mapped, focused, confirmed with the request's
   * number. */
  m = (TpMessage){.type = TP_MSG_LAUNCH};
  m.u.launch = (TpLaunch){2, "debian-xterm", "", {0, NULL}};
  agent_host_send(&h, &m);
  window = 0;
  for (gboolean shown = FALSE; !shown;) {
    if (!agent_host_next(&h, &m, 60000))
      fail_msg("xterm's window did not arrive");
    if (m.type == TP_MSG_WINDOW_CLASS &&
        g_str_equal(m.u.wclass.res_class, "XTerm"))
      window = m.window;
    shown = m.type == TP_MSG_WINDOW_MAP && window && m.window == window;
  }
  m = (TpMessage){.type = TP_MSG_FOCUS_SET, .window = window};
  m.u.focus_set.seq = 77;
  agent_host_send(&h, &m);
  do {
    if (!agent_host_next(&h, &m, 30000))
      fail_msg("no FOCUS_REPORT for request 77");
  } while (m.type != TP_MSG_FOCUS_REPORT || m.u.focus_report.seq != 77);
  assert_int_equal(m.u.focus_report.kind, TP_FOCUS_WINDOW);
  assert_int_equal(m.window, window);
  agent_host_close(&h);

  assert_true(vm_test_stop(vm, FALSE, &error));
  assert_int_equal(tandem_vm_get_state(vm), TANDEM_VM_STOPPED);
  g_unlink(home);
  g_rmdir(tmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_agent_over_virtio),
  };
  return cmocka_run_group_tests_name("agent-vm", tests, NULL, NULL);
}
