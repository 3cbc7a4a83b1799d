/* bench-pixels: the same pipeline through the VM's virtio-serial channel.
 *
 * Boots the default guest under TCG through Tandem's own TandemVm (the
 * product's QEMU command line), with a second initramfs archive appended
 * to the guest's (the kernel unpacks every archive of a concatenation in
 * turn, later files replacing earlier ones), so the image needs no
 * rebuilding and stays untouched:
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
#include "test-wait.h"

#define MARKER "TANDEM-GUEST: session ready"

static char *guest_dir(void) {
  const char *env = g_getenv("TANDEM_DEFAULT_GUEST");
  if (env && *env)
    return g_strdup(env);
  const char *src = g_getenv("TANDEM_SOURCE_ROOT");
  return g_build_filename(src && *src ? src : BENCH_SOURCE_ROOT, "build",
                          "default-guest", NULL);
}

/* Copies @src to @root/@dest (0755 directories, the file's own mode). */
static gboolean stage(const char *root, const char *src, const char *dest,
                      GError **error) {
  g_autofree char *to = g_build_filename(root, dest, NULL);
  g_autofree char *parent = g_path_get_dirname(to);
  g_autofree char *data = NULL;
  gsize len;
  if (g_mkdir_with_parents(parent, 0755) != 0 ||
      !g_file_get_contents(src, &data, &len, error) ||
      !g_file_set_contents_full(to, data, (gssize)len,
                                G_FILE_SET_CONTENTS_NONE, 0755, error))
    return FALSE;
  return TRUE;
}

/* @elf and every library ldd names for it, the libraries under /usr/lib
 * (the image has a merged /usr). The dynamic loader is the image's own. */
static gboolean stage_elf(const char *root, const char *elf, const char *dest,
                          GError **error) {
  if (!stage(root, elf, dest, error))
    return FALSE;
  g_autofree char *out = NULL;
  const char *argv[] = {"ldd", elf, NULL};
  int status;
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                    NULL, &out, NULL, &status, error))
    return FALSE;
  g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
  for (char **l = lines; *l; l++) {
    char *arrow = strstr(*l, "=> /");
    if (!arrow)
      continue;
    g_autofree char *path = g_strndup(arrow + 3, strcspn(arrow + 3, " "));
    const char *rel = g_str_has_prefix(path, "/usr/") ? path + 5 : path + 1;
    g_autofree char *d = g_build_filename("usr", rel, NULL);
    if (!stage(root, path, d, error))
      return FALSE;
  }
  return TRUE;
}

static const char *const desktop_fmt =
    "[Desktop Entry]\nType=Application\nName=Bench animation (%s)\n"
    "Exec=tandem-bench-anim --mode %s --fps %g --seconds 600\n"
    "Terminal=false\nStartupWMClass=TandemBenchAnim\n";

/* The guest's initramfs with the overlay appended, in @dir. */
static char *make_initrd(const PxConfig *cfg, const char *guest,
                         const char *dir, GError **error) {
  g_autofree char *root = g_build_filename(dir, "overlay", NULL);
  if (!stage_elf(root, cfg->anim, "usr/bin/tandem-bench-anim", error) ||
      !stage_elf(root, cfg->agent, "usr/bin/tandem-agent", error))
    return NULL;
  for (int i = 0; i < 2; i++) {
    const char *mode = i ? "small" : "full";
    g_autofree char *name = g_strdup_printf(
        "usr/share/applications/tandem-bench-anim-%s.desktop", mode);
    g_autofree char *path = g_build_filename(root, name, NULL);
    g_autofree char *text = g_strdup_printf(desktop_fmt, mode, mode,
                                            cfg->fps);
    g_autofree char *parent = g_path_get_dirname(path);
    g_mkdir_with_parents(parent, 0755);
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_NONE,
                                  0644, error))
      return NULL;
  }
  /* cpio (newc, owned by root) of the tree, the list from find. */
  g_autofree char *list = NULL;
  const char *find[] = {"find", ".", "-mindepth", "1", NULL};
  if (!g_spawn_sync(root, (char **)find, NULL, G_SPAWN_SEARCH_PATH, NULL,
                    NULL, &list, NULL, NULL, error))
    return NULL;
  g_autofree char *cpio_path = g_build_filename(dir, "overlay.cpio", NULL);
  g_autoptr(GSubprocessLauncher) l =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_subprocess_launcher_set_cwd(l, root);
  g_subprocess_launcher_set_stdout_file_path(l, cpio_path);
  g_autoptr(GSubprocess) cpio = g_subprocess_launcher_spawn(
      l, error, "cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet", NULL);
  if (!cpio || !g_subprocess_communicate_utf8(cpio, list, NULL, NULL, NULL,
                                              error))
    return NULL;
  if (!g_subprocess_get_successful(cpio)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cpio failed");
    return NULL;
  }
  g_autofree char *base_path = g_build_filename(guest, "initramfs.img", NULL);
  g_autofree char *base = NULL, *extra = NULL;
  gsize base_len, extra_len;
  if (!g_file_get_contents(base_path, &base, &base_len, error) ||
      !g_file_get_contents(cpio_path, &extra, &extra_len, error))
    return NULL;
  /* Archives start on 4-byte boundaries; the kernel skips zero padding. */
  g_autoptr(GByteArray) all = g_byte_array_sized_new(base_len + extra_len + 4);
  static const guint8 zeros[4] = {0};
  g_byte_array_append(all, (guint8 *)base, (guint)base_len);
  g_byte_array_append(all, zeros, (guint)((4 - base_len % 4) % 4));
  g_byte_array_append(all, (guint8 *)extra, (guint)extra_len);
  char *out = g_build_filename(dir, "initrd.img", NULL);
  if (!g_file_set_contents(out, (char *)all->data, all->len, error)) {
    g_free(out);
    return NULL;
  }
  return out;
}

static char *home_overlay(const char *guest, const char *dir) {
  g_autofree char *base = g_build_filename(guest, "home.qcow2", NULL);
  char *overlay = g_build_filename(dir, "home.qcow2", NULL);
  const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-b",
                        base, "-F", "qcow2", overlay, NULL};
  g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
               NULL, NULL, NULL, NULL);
  return overlay;
}

static void on_line(TandemVm *vm, const char *line, gpointer data) {
  if (strstr(line, MARKER))
    *(gboolean *)data = TRUE;
}

static void on_done(GObject *s, GAsyncResult *r, gpointer data) {
  *(gboolean *)data = TRUE;
}

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
  g_autofree char *guest = guest_dir();
  g_autofree char *kernel = g_build_filename(guest, "vmlinuz", NULL);
  if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
    *vm_info = g_strdup_printf("not measured: no default guest in %s "
                               "(tools/dev.sh test builds it)", guest);
    *skipped = TRUE;
    return FALSE;
  }
  g_autofree char *dir = g_build_filename(cfg->tmp, "vm", NULL);
  g_mkdir_with_parents(dir, 0700);
  g_autofree char *initrd = make_initrd(cfg, guest, dir, error);
  if (!initrd)
    return FALSE;
  g_autofree char *home = home_overlay(guest, dir);
  g_autofree char *conf = g_strdup_printf(
      "[VM]\nMemory=1G\nCPUs=2\nAccelerator=tcg\nDisplay=spice\n"
      "[Boot]\nKernel=%s\nInitrd=%s\nCommandLine=console=ttyS0 quiet\n"
      "[Disk home]\nPath=%s\n",
      kernel, initrd, home);
  TandemVmConfig *c = tandem_vm_config_parse("bench-pixels", conf, dir,
                                             error);
  if (!c)
    return FALSE;
  g_autoptr(TandemVm) vm = tandem_vm_new(c);
  gboolean ready = FALSE, started = FALSE, stopped = FALSE, ok = FALSE;
  g_autofree char *sock = NULL;
  double boot_s = 0;
  PxHost h;
  px_host_init(&h, -1);
  h.hello_on_hello = TRUE;
  g_signal_connect(vm, "console-line", G_CALLBACK(on_line), &ready);
  gint64 t_boot = px_now_ns();
  tandem_vm_start_async(vm, NULL, on_done, &started);
  if (!tandem_test_wait(&started, 60) || !tandem_test_wait(&ready, 300)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "the default guest did not reach \"%s\" (state %s)", MARKER,
                tandem_vm_state_to_string(tandem_vm_get_state(vm)));
    goto out;
  }
  boot_s = (double)(px_now_ns() - t_boot) / 1e9;
  sock = g_build_filename(tandem_vm_get_runtime_dir(vm),
                                           TANDEM_RUNTIME_AGENT, NULL);
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
  tandem_vm_stop_async(vm, TRUE, NULL, on_done, &stopped);
  tandem_test_wait(&stopped, 30);
  g_unlink(home);
  return ok;
}
