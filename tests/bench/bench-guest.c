/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The default guest under TCG, from starting QEMU to the session being
 * ready (console line) and to the agent's whole catalog having arrived over
 * virtio-serial ("agent ready"): through TandemVm, and for a bare QEMU with
 * the same devices started by this program (the baseline: what QEMU and the
 * guest cost without Tandem's supervisor).
 *
 *   bench-guest [--short] [--json FILE]   (needs the default guest:
 *   $TANDEM_DEFAULT_GUEST or build/default-guest)
 */
#include <glib/gstdio.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench-util.h"
#include "tandem-protocol.h"
#include "tandem-qemu-argv.h"
#include "tandem-vm.h"

#define MARKER "TANDEM-GUEST: session ready"

typedef struct {
  double session_ms, agent_ms;
} Boot;

static char *dir;

/* Connects to the agent's socket, greets it and reads until its catalog
 * ends; the agent reopens its port until a host is there. */
static gboolean agent_catalog(const char *sock, double seconds) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  g_strlcpy(sa.sun_path, sock, sizeof(sa.sun_path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return FALSE;
  }
  TpMessage m = {.type = TP_MSG_HELLO};
  m.u.hello = (TpHello){TP_MAGIC, TP_PROTOCOL_VERSION, TP_PROTOCOL_MIN_VERSION, 0, 0, 0, 1920, 1080, 100, 32,
                        "bench", "bench-guest", "C"};
  TpBuf b;
  tp_buf_init(&b);
  tp_encode(&m, &b);
  gboolean ok = write(fd, b.data, b.len) == (ssize_t)b.len;
  tp_buf_clear(&b);
  TpReader *r = tp_reader_new(TP_ROLE_HOST);
  gint64 end = g_get_monotonic_time() + (gint64)(seconds * G_USEC_PER_SEC);
  gboolean done = FALSE;
  while (ok && !done && g_get_monotonic_time() < end) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 200) != 1)
      continue;
    size_t avail;
    uint8_t *buf = tp_reader_prepare(r, &avail);
    ssize_t n = buf ? read(fd, buf, avail) : -1;
    if (n <= 0)
      break;
    tp_reader_commit(r, (size_t)n);
    TpError err;
    while ((err = tp_reader_next(r, &m)) == TP_OK)
      done = done || m.type == TP_MSG_APP_LIST_END;
    ok = err == TP_AGAIN;
  }
  tp_reader_free(r);
  close(fd);
  return done;
}

static char *home_overlay(const char *tmp) {
  g_autofree char *base = g_build_filename(dir, "home.qcow2", NULL);
  char *overlay = g_build_filename(tmp, "home.qcow2", NULL);
  const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-b",
                        base, "-F", "qcow2", overlay, NULL};
  g_unlink(overlay);
  g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
               NULL, NULL, NULL, NULL);
  return overlay;
}

typedef struct {
  gboolean ready;
  gint64 at;
} Watch;

static void on_line(TandemVm *vm, const char *line, gpointer data) {
  Watch *w = data;
  if (!w->ready && strstr(line, MARKER))
    w->ready = TRUE, w->at = g_get_monotonic_time();
}

static void on_done(GObject *s, GAsyncResult *r, gpointer data) {
  *(gboolean *)data = TRUE;
}

static gboolean boot_tandem(const char *tmp, Boot *out) {
  g_autofree char *home = home_overlay(tmp);
  g_autofree char *conf = g_strdup_printf(
      "[VM]\nMemory=1G\nCPUs=2\nAccelerator=tcg\n"
      "[Boot]\nKernel=%s/vmlinuz\nInitrd=%s/initramfs.img\n"
      "CommandLine=console=ttyS0 quiet\n[Disk home]\nPath=%s\n",
      dir, dir, home);
  TandemVmConfig *c = tandem_vm_config_parse("bench-guest", conf, dir, NULL);
  if (!c)
    return FALSE;
  g_autoptr(TandemVm) vm = tandem_vm_new(c);
  Watch w = {0};
  gboolean started = FALSE, stopped = FALSE;
  g_signal_connect(vm, "console-line", G_CALLBACK(on_line), &w);
  tandem_vm_start_async(vm, NULL, on_done, &started);
  if (!tandem_test_wait(&started, 60) || !tandem_test_wait(&w.ready, 300))
    return FALSE;
  TandemVmTimings t;
  tandem_vm_get_timings(vm, &t);
  g_autofree char *sock = g_build_filename(tandem_vm_get_runtime_dir(vm),
                                           TANDEM_RUNTIME_AGENT, NULL);
  gboolean agent = agent_catalog(sock, 60);
  out->session_ms = (double)(w.at - t.spawned) / 1000;
  out->agent_ms = (double)(g_get_monotonic_time() - t.spawned) / 1000;
  tandem_vm_stop_async(vm, TRUE, NULL, on_done, &stopped);
  tandem_test_wait(&stopped, 30);
  return agent;
}

static gboolean boot_bare(const char *tmp, Boot *out) {
  g_autofree char *home = home_overlay(tmp);
  g_autofree char *agent_sock = g_build_filename(tmp, "agent.sock", NULL);
  g_autofree char *kernel = g_build_filename(dir, "vmlinuz", NULL);
  g_autofree char *initrd = g_build_filename(dir, "initramfs.img", NULL);
  g_autofree char *drive = g_strdup_printf(
      "if=none,id=home,file=%s,format=qcow2", home);
  g_autofree char *chardev = g_strdup_printf(
      "socket,id=a,path=%s,server=on,wait=off", agent_sock);
  g_unlink(agent_sock);
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(GSubprocess) p = g_subprocess_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL,
      "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max",
      "-m", "1G", "-smp", "2", "-nodefaults", "-no-user-config", "-nic",
      "none", "-display", "none", "-device", "VGA", "-kernel", kernel,
      "-initrd", initrd, "-append", "console=ttyS0 quiet", "-serial", "stdio",
      "-drive", drive, "-device", "virtio-blk-pci,drive=home,serial=home",
      "-device", "virtio-serial-pci", "-chardev", chardev, "-device",
      "virtserialport,chardev=a,name=" TANDEM_AGENT_PORT_NAME, NULL);
  if (!p)
    return FALSE;
  g_autoptr(GDataInputStream) lines =
      g_data_input_stream_new(g_subprocess_get_stdout_pipe(p));
  gboolean ready = FALSE;
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line(lines, NULL, NULL,
                                                          NULL);
    if (!line)
      break;
    if (strstr(line, MARKER)) {
      ready = TRUE;
      break;
    }
  }
  out->session_ms = (double)(g_get_monotonic_time() - t0) / 1000;
  gboolean agent = ready && agent_catalog(agent_sock, 60);
  out->agent_ms = (double)(g_get_monotonic_time() - t0) / 1000;
  g_subprocess_force_exit(p);
  g_subprocess_wait(p, NULL, NULL);
  g_unlink(agent_sock);
  return agent;
}

int main(int argc, char **argv) {
  gboolean is_short;
  const char *json_path;
  if (!bench_parse_args(argc, argv, &is_short, &json_path))
    return 2;
  const char *env = g_getenv("TANDEM_DEFAULT_GUEST");
  dir = env && *env ? g_strdup(env)
                    : g_build_filename(g_getenv("TANDEM_SOURCE_ROOT")
                                           ? g_getenv("TANDEM_SOURCE_ROOT")
                                           : ".",
                                       "build", "default-guest", NULL);
  g_autofree char *k = g_build_filename(dir, "vmlinuz", NULL);
  if (!g_file_test(k, G_FILE_TEST_EXISTS)) {
    fprintf(stderr, "bench-guest: no default guest in %s: run "
            "guest-agent/image/build-guest.sh there first\n", dir);
    return 1;
  }
  int boots = is_short ? 1 : 3;
  g_autofree char *tmp = g_dir_make_tmp("bench-guest-XXXXXX", NULL);
  double ts[4], ta[4], bs[4], ba[4];
  for (int i = 0; i < boots; i++) {
    Boot t, b;
    if (!boot_tandem(tmp, &t) || !boot_bare(tmp, &b)) {
      fprintf(stderr, "bench-guest: a boot failed\n");
      return 1;
    }
    ts[i] = t.session_ms, ta[i] = t.agent_ms;
    bs[i] = b.session_ms, ba[i] = b.agent_ms;
  }
  double m[4] = {bench_percentile(ts, boots, 0.5),
                 bench_percentile(ta, boots, 0.5),
                 bench_percentile(bs, boots, 0.5),
                 bench_percentile(ba, boots, 0.5)};
  printf("Default guest boot under TCG (1 GiB, 2 CPUs; median of %d)\n\n",
         boots);
  printf("%-22s %18s %22s\n", "", "session ready ms", "agent catalog in ms");
  printf("%-22s %18.0f %22.0f\n", "Tandem (TandemVm)", m[0], m[1]);
  printf("%-22s %18.0f %22.0f\n", "bare QEMU (baseline)", m[2], m[3]);
  if (json_path) {
    FILE *f = fopen(json_path, "w");
    if (!f)
      return 1;
    fprintf(f,
            "{\"benchmark\":\"default-guest-boot\",\"mode\":\"%s\","
            "\"accelerator\":\"tcg\",\"boots\":%d,\"tandem\":{"
            "\"session_ready_ms\":%.0f,\"agent_ready_ms\":%.0f},"
            "\"bare_qemu\":{\"session_ready_ms\":%.0f,"
            "\"agent_ready_ms\":%.0f}}\n",
            is_short ? "short" : "full", boots, m[0], m[1], m[2], m[3]);
    fclose(f);
  }
  g_autofree char *home = g_build_filename(tmp, "home.qcow2", NULL);
  g_unlink(home);
  g_rmdir(tmp);
  return 0;
}
