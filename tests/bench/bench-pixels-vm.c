/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-pixels: the same pipeline through the VM's virtio-serial channel.
 *
 * Boots the default guest under TCG through Tandem's own TandemVm (the
 * product's QEMU command line), with an overlay appended to its initramfs
 * (bench-pixels-overlay.c):
 *   /usr/bin/tandem-bench-anim             the app
 *   /usr/bin/tandem-agent                  this build's agent, so loopback
 *                                          and virtio measure the same one
 *   their libraries (ldd), under /usr/lib
 *   /usr/share/applications/tandem-bench-anim-{full,small}.desktop
 * Each mode is launched through the agent's catalog (LAUNCH), as a user's
 * menu entry would, measured, then closed (WINDOW_CLOSE).
 *
 * Clocks: the stamp's draw time is the guest's CLOCK_MONOTONIC. The host
 * pings the agent every 50 ms; a pong carries the agent's clock, read
 * between the ping's sending and the pong's arrival, so
 *   offset = agent_time - (ping_sent + pong_received) / 2
 * is off by at most half the round trip; the sample with the shortest
 * round trip of each mode's run is used, and its round trip is reported
 * as the error bound of the latencies. */
#include "bench-pixels.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tandem-protocol.h"
#include "tandem-qemu-argv.h"
#include "tandem-vm.h"

static int connect_unix(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

static gboolean catalog_in(PxHost *h, gpointer data) {
  return h->catalog_done;
}

static gboolean launched(PxHost *h, gpointer data) {
  return h->launch_status != G_MAXUINT32;
}

typedef struct {
  guint from;       /* frames already there before the launch */
  guint32 window;   /* set when the new window's first frame came */
} FirstFrame;

static gboolean new_frame(PxHost *h, gpointer data) {
  FirstFrame *ff = data;
  if (h->frames->len > ff->from)
    ff->window = g_array_index(h->frames, PxFrame, ff->from).window;
  return ff->window != 0;
}

static gboolean window_gone(PxHost *h, gpointer data) {
  return !g_hash_table_contains(h->windows, data);
}

/* Launches the app in @mode through the catalog and measures it. */
static gboolean measure_mode(const PxConfig *cfg, PxHost *h,
                             const char *mode, PxResult *r, GError **error) {
  r->system = g_strdup("Tandem");
  r->transport = g_strdup("virtio-serial, TCG");
  r->mode = mode;
  r->app_fps = -1;
  g_autofree char *app = g_strdup_printf("tandem-bench-anim-%s", mode);
  TpMessage m = {.type = TP_MSG_LAUNCH};
  m.u.launch = (TpLaunch){1, app, "", {0, NULL}};
  h->launch_status = G_MAXUINT32;
  px_host_send(h, &m);
  FirstFrame ff = {h->frames->len, 0};
  if (!px_host_run(h, px_now_ns() + 30 * 1000000000LL, launched, NULL))
    goto broken;
  if (h->launch_status != TP_LAUNCH_STARTED) {
    r->note = g_strdup_printf("LAUNCH of %s: status %u", app,
                              h->launch_status);
    return TRUE;
  }
  h->offset_rtt_ns = G_MAXINT64; /* this run's own best sample */
  h->undecodable = 0;
  if (!px_host_run(h, px_now_ns() + 60 * 1000000000LL, new_frame, &ff))
    goto broken;
  if (!ff.window) {
    r->done = TRUE;
    r->note = g_strdup("no frame of the app within 60 s of its launch");
    return TRUE;
  }
  gint64 t0 = g_array_index(h->frames, PxFrame, ff.from).recv_ns +
              (gint64)(cfg->warmup_s * 1e9);
  if (!px_host_run(h, t0 + (gint64)(cfg->measure_s * 1e9) + 100000000, NULL,
                   NULL))
    goto broken;
  px_stats(cfg, h->frames, ff.window, t0, h->offset_ns, r);
  r->note = g_strdup_printf(
      "clock offset guest-host %.3f ms, best heartbeat rtt %.3f ms (latency "
      "error within +-%.3f ms); %u frames without a readable stamp",
      (double)h->offset_ns / 1e6, (double)h->offset_rtt_ns / 1e6,
      (double)h->offset_rtt_ns / 2e6, h->undecodable);
  /* Close it politely and wait for its window to go. */
  TpMessage close_msg = {.type = TP_MSG_WINDOW_CLOSE, .window = ff.window};
  px_host_send(h, &close_msg);
  if (!px_host_run(h, px_now_ns() + 20 * 1000000000LL, window_gone,
                   GUINT_TO_POINTER(ff.window)))
    goto broken;
  if (g_hash_table_contains(h->windows, GUINT_TO_POINTER(ff.window))) {
    g_autofree char *old = r->note;
    r->note = g_strdup_printf("%s; the app's window did not close within "
                              "20 s of WINDOW_CLOSE", old);
  }
  return TRUE;
broken:
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
              "virtio agent channel (%s mode): %s", mode, h->error);
  return FALSE;
}

gboolean px_run_virtio(const PxConfig *cfg, PxResult *full, PxResult *small,
                       char **vm_info, gboolean *skipped, GError **error) {
  g_autofree char *guest = px_guest_dir();
  g_autofree char *kernel = g_build_filename(guest, "vmlinuz", NULL);
  if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
    *vm_info = g_strdup_printf("not measured: no default guest in %s "
                               "(tools/dev.sh test builds it)", guest);
    *skipped = TRUE;
    return FALSE;
  }
  g_autofree char *dir = g_build_filename(cfg->tmp, "vm", NULL);
  g_mkdir_with_parents(dir, 0700);
  g_autofree char *full_entry = px_anim_desktop("tandem-bench-anim", "full",
                                                cfg->fps, NULL);
  g_autofree char *small_entry = px_anim_desktop("tandem-bench-anim",
                                                 "small", cfg->fps, NULL);
  const PxOverlayFile files[] = {
      {cfg->anim, "usr/bin/tandem-bench-anim"},
      {cfg->agent, "usr/bin/tandem-agent"},
      {NULL, NULL}};
  const PxOverlayApp apps[] = {{"tandem-bench-anim-full", full_entry},
                               {"tandem-bench-anim-small", small_entry},
                               {NULL, NULL}};
  g_autofree char *initrd = px_guest_initrd(guest, dir, files, apps, error);
  if (!initrd)
    return FALSE;
  g_autofree char *home = px_guest_home(guest, dir);
  g_autofree char *conf = px_guest_config(guest, initrd, home, NULL);
  TandemVmConfig *c = tandem_vm_config_parse("bench-pixels", conf, dir,
                                             error);
  if (!c)
    return FALSE;
  g_autoptr(TandemVm) vm = tandem_vm_new(c);
  gboolean ok = FALSE;
  g_autofree char *sock = NULL;
  double boot_s = 0;
  PxHost h;
  px_host_init(&h, -1);
  h.hello_on_hello = TRUE;
  if (!px_guest_boot(vm, &boot_s, error))
    goto out;
  sock = g_build_filename(tandem_vm_get_runtime_dir(vm), TANDEM_RUNTIME_AGENT,
                          NULL);
  h.fd = connect_unix(sock);
  if (h.fd < 0 || !px_host_handshake(&h, 60) ||
      !px_host_run(&h, px_now_ns() + 60 * 1000000000LL, catalog_in, NULL) ||
      !h.catalog_done) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "no catalog from the guest's agent: %s",
                h.error ? h.error : "timeout");
    goto out;
  }
  gboolean listed = FALSE;
  for (guint i = 0; i < h.catalog->len; i++)
    listed |= g_str_equal(h.catalog->pdata[i], "tandem-bench-anim-full");
  if (!listed) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "the guest's catalog lacks tandem-bench-anim-full: the "
                "appended initramfs was not unpacked");
    goto out;
  }
  h.pinging = TRUE;
  if (!measure_mode(cfg, &h, "full", full, error) ||
      !measure_mode(cfg, &h, "small", small, error))
    goto out;
  *vm_info = g_strdup_printf(
      "default guest (Debian kernel, Xorg modesetting on -device VGA, "
      "screen %ux%u), TCG, 2 vCPUs, 1 GiB, session ready %.1f s after QEMU "
      "started; %s; app launched through the catalog",
      h.screen_width, h.screen_height, boot_s, h.software);
  ok = TRUE;
out:
  px_host_clear(&h);
  px_guest_stop(vm);
  g_unlink(home);
  return ok;
}
