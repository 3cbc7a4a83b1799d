/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vmm-bridge under TCG, each figure beside its baseline in the same run:
 *
 * 1. Start: from spawning QEMU to QMP ready, to the guest's first console
 *    line (the kernel's first, as the kernel is not quiet here) and to the
 *    test guest's "ready" line — through TandemVm, and for
 *    a bare QEMU started by this program with the same kind of command line
 *    and polled as fast as it can (the floor: what QEMU itself costs).
 * 2. QMP round trip of query-status, p50/p99 over 10,000 calls: Tandem's
 *    asynchronous client on the GLib main loop against a minimal blocking
 *    client on a plain socket, both on the same QEMU (two monitors), taking
 *    turns in rounds of 1,000.
 *
 *   bench-vmm [--short] [--json FILE]    (needs the test guest, like the
 *   VM tests: $TANDEM_TEST_GUEST or build/test-guest)
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench-util.h"
#include "tandem-qmp-client.h"
#include "tandem-vm.h"

#define CALLS 10000
#define ROUNDS 10

static const char *guest_dir(void) {
  const char *env = g_getenv("TANDEM_TEST_GUEST");
  static char *dir;
  if (env && *env)
    return env;
  if (!dir)
    dir = g_build_filename(g_getenv("TANDEM_SOURCE_ROOT")
                               ? g_getenv("TANDEM_SOURCE_ROOT") : ".",
                           "build", "test-guest", NULL);
  return dir;
}

/* --- 1. Start times ------------------------------------------------------ */

typedef struct {
  double qmp_ms, console_ms, ready_ms;
} Boot;

typedef struct {
  gboolean done, ready;
  gint64 ready_at;
  GError *error;
} StartWatch;

static void on_line(TandemVm *vm, const char *line, gpointer data) {
  StartWatch *w = data;
  if (!w->ready && strstr(line, "TANDEM-TEST-GUEST: ready")) {
    w->ready = TRUE;
    w->ready_at = g_get_monotonic_time();
  }
}

static void on_started(GObject *s, GAsyncResult *r, gpointer data) {
  StartWatch *w = data;
  tandem_vm_start_finish(TANDEM_VM(s), r, &w->error);
  w->done = TRUE;
}

static void on_stopped(GObject *s, GAsyncResult *r, gpointer data) {
  tandem_vm_stop_finish(TANDEM_VM(s), r, NULL);
  *(gboolean *)data = TRUE;
}

static gboolean boot_tandem(Boot *out) {
  g_autofree char *conf = g_strdup_printf(
      "[VM]\nMemory=256M\nCPUs=1\nAccelerator=tcg\nDisplay=none\n"
      "[Boot]\nKernel=%s/vmlinuz\nInitrd=%s/initramfs.img\n"
      "CommandLine=console=ttyS0\n",
      guest_dir(), guest_dir());
  g_autoptr(GError) error = NULL;
  TandemVmConfig *c = tandem_vm_config_parse("bench", conf, "/", &error);
  if (!c) {
    fprintf(stderr, "bench-vmm: %s\n", error->message);
    return FALSE;
  }
  g_autoptr(TandemVm) vm = tandem_vm_new(c);
  StartWatch w = {0};
  g_signal_connect(vm, "console-line", G_CALLBACK(on_line), &w);
  tandem_vm_start_async(vm, NULL, on_started, &w);
  if (!tandem_test_wait(&w.done, 60) || w.error || !tandem_test_wait(&w.ready, 60)) {
    fprintf(stderr, "bench-vmm: start failed: %s\n",
            w.error ? w.error->message : "timeout");
    return FALSE;
  }
  TandemVmTimings t;
  tandem_vm_get_timings(vm, &t);
  out->qmp_ms = (double)(t.qmp_ready - t.spawned) / 1000;
  out->console_ms = (double)(t.first_console - t.spawned) / 1000;
  out->ready_ms = (double)(w.ready_at - t.spawned) / 1000;
  gboolean stopped = FALSE;
  tandem_vm_stop_async(vm, TRUE, NULL, on_stopped, &stopped);
  return tandem_test_wait(&stopped, 30);
}

/* The baseline: QEMU with the serial console on a pipe, polled directly. */
static gboolean boot_bare(const char *tmp, Boot *out) {
  g_autofree char *qmp = g_build_filename(tmp, "bare-qmp.sock", NULL);
  g_autofree char *qmp_arg = g_strdup_printf("unix:%s,server=on,wait=off", qmp);
  g_autofree char *kernel = g_build_filename(guest_dir(), "vmlinuz", NULL);
  g_autofree char *initrd = g_build_filename(guest_dir(), "initramfs.img",
                                             NULL);
  g_unlink(qmp);
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(GSubprocess) p = g_subprocess_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
      &error, "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu",
      "max", "-m", "256M", "-smp", "1", "-nodefaults", "-no-user-config",
      "-nic", "none", "-display", "none", "-qmp", qmp_arg, "-kernel", kernel,
      "-initrd", initrd, "-append", "console=ttyS0", "-serial", "stdio",
      NULL);
  if (!p)
    return FALSE;
  while (!bench_socket_ready(qmp) && g_get_monotonic_time() - t0 < 10000000)
    g_usleep(200); /* the baseline polls as tightly as it reasonably can */
  out->qmp_ms = (double)(g_get_monotonic_time() - t0) / 1000;
  GInputStream *in = g_subprocess_get_stdout_pipe(p);
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new(in);
  out->console_ms = -1;
  for (;;) {
    g_autofree char *line = g_data_input_stream_read_line(lines, NULL, NULL,
                                                          NULL);
    if (!line)
      break;
    if (out->console_ms < 0)
      out->console_ms = (double)(g_get_monotonic_time() - t0) / 1000;
    if (strstr(line, "TANDEM-TEST-GUEST: ready")) {
      out->ready_ms = (double)(g_get_monotonic_time() - t0) / 1000;
      break;
    }
  }
  g_subprocess_force_exit(p);
  g_subprocess_wait(p, NULL, NULL);
  return out->console_ms >= 0;
}

/* --- 2. QMP round trips -------------------------------------------------- */

typedef struct {
  int remaining;
  double *lat;
  int n;
  gint64 t;
  gboolean done;
  TandemQmpClient *client;
} Loop;

static void next_call(Loop *l);

static void on_reply(GObject *s, GAsyncResult *r, gpointer data) {
  Loop *l = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) n = tandem_qmp_client_execute_finish(
      TANDEM_QMP_CLIENT(s), r, &error);
  if (!n) {
    fprintf(stderr, "bench-vmm: query-status: %s\n", error->message);
    exit(1);
  }
  l->lat[l->n++] = (double)(g_get_monotonic_time() - l->t);
  next_call(l);
}

static void next_call(Loop *l) {
  if (l->remaining-- == 0) {
    l->done = TRUE;
    return;
  }
  l->t = g_get_monotonic_time();
  tandem_qmp_client_execute_async(l->client, "query-status", NULL, -1, 0, NULL,
                                  on_reply, l);
}

static void on_connected(GObject *s, GAsyncResult *r, gpointer data) {
  Loop *l = data;
  g_autoptr(GError) error = NULL;
  l->client = tandem_qmp_client_connect_finish(r, &error);
  if (!l->client)
    fprintf(stderr, "bench-vmm: %s\n", error->message);
  l->done = TRUE;
}

/* The baseline client: write a line, read until the reply line. */
typedef struct {
  int fd;
  char buf[65536];
  size_t len;
} Blocking;

static gboolean blocking_line(Blocking *b, char *out, size_t cap) {
  for (;;) {
    char *nl = memchr(b->buf, '\n', b->len);
    if (nl) {
      size_t n = (size_t)(nl - b->buf) + 1;
      memcpy(out, b->buf, MIN(n, cap - 1));
      out[MIN(n, cap - 1)] = '\0';
      memmove(b->buf, b->buf + n, b->len - n);
      b->len -= n;
      return TRUE;
    }
    ssize_t r = read(b->fd, b->buf + b->len, sizeof(b->buf) - b->len);
    if (r <= 0)
      return FALSE;
    b->len += (size_t)r;
  }
}

static gboolean blocking_command(Blocking *b, const char *json) {
  char line[4096];
  size_t n = strlen(json);
  if (write(b->fd, json, n) != (ssize_t)n)
    return FALSE;
  while (blocking_line(b, line, sizeof(line)))
    if (strstr(line, "\"return\"") || strstr(line, "\"error\""))
      return TRUE; /* events in between are skipped */
  return FALSE;
}

static gboolean blocking_connect(Blocking *b, const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  char line[4096];
  g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
  b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  b->len = 0;
  return connect(b->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
         blocking_line(b, line, sizeof(line)) && /* greeting */
         blocking_command(b, "{\"execute\":\"qmp_capabilities\"}\r\n");
}

static void report(const char *what, double *v, int n, double *p50,
                   double *p99) {
  *p50 = bench_percentile(v, n, 0.50);
  *p99 = bench_percentile(v, n, 0.99);
  printf("%-34s %8.1f %8.1f %8.1f\n", what, *p50, *p99, v[n - 1]);
}

int main(int argc, char **argv) {
  gboolean is_short;
  const char *json_path;
  if (!bench_parse_args(argc, argv, &is_short, &json_path))
    return 2;
  g_autofree char *k = g_build_filename(guest_dir(), "vmlinuz", NULL);
  if (!g_file_test(k, G_FILE_TEST_EXISTS)) {
    fprintf(stderr, "bench-vmm: no test guest in %s: run "
            "tests/vm/make-test-guest.sh there first\n", guest_dir());
    return 1;
  }
  int boots = is_short ? 1 : 5;
  g_autofree char *tmp = g_dir_make_tmp("bench-vmm-XXXXXX", NULL);

  /* 1. Start times: alternate Tandem and bare runs. */
  Boot tb[8], bb[8];
  for (int i = 0; i < boots; i++)
    if (!boot_tandem(&tb[i]) || !boot_bare(tmp, &bb[i]))
      return 1;
  double med[2][3];
  for (int w = 0; w < 2; w++) {
    Boot *b = w ? bb : tb;
    double v[8];
    for (int f = 0; f < 3; f++) {
      for (int i = 0; i < boots; i++)
        v[i] = f == 0 ? b[i].qmp_ms : f == 1 ? b[i].console_ms : b[i].ready_ms;
      med[w][f] = bench_percentile(v, boots, 0.5);
    }
  }
  printf("VM start under TCG (test guest, 256 MiB; median of %d)\n\n", boots);
  printf("%-22s %14s %20s %18s\n", "", "QMP ready ms", "first console ms",
         "guest ready ms");
  printf("%-22s %14.0f %20.0f %18.0f\n", "Tandem (TandemVm)", med[0][0],
         med[0][1], med[0][2]);
  printf("%-22s %14.0f %20.0f %18.0f\n\n", "bare QEMU (baseline)", med[1][0],
         med[1][1], med[1][2]);

  /* 2. QMP latency: one QEMU, two monitors. */
  g_autofree char *qa = g_build_filename(tmp, "a.sock", NULL);
  g_autofree char *qb = g_build_filename(tmp, "b.sock", NULL);
  g_autofree char *arg_a = g_strdup_printf("unix:%s,server=on,wait=off", qa);
  g_autofree char *arg_b = g_strdup_printf("unix:%s,server=on,wait=off", qb);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) q = g_subprocess_new(
      G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, "qemu-system-x86_64",
      "-machine", "q35", "-accel", "tcg", "-nodefaults", "-no-user-config",
      "-display", "none", "-S", "-qmp", arg_a, "-qmp", arg_b, NULL);
  gint64 t0 = g_get_monotonic_time();
  while ((!bench_socket_ready(qa) || !bench_socket_ready(qb)) &&
         g_get_monotonic_time() - t0 < 10000000)
    g_usleep(1000);

  Loop l = {0};
  l.lat = g_new(double, CALLS);
  /* QEMU's monitor accepts one connection at a time, and the readiness
   * probe's may still be in its backlog (EAGAIN): try again a little. */
  for (int i = 0; i < 50 && !l.client; i++) {
    l.done = FALSE;
    tandem_qmp_client_connect_async(qa, 0, NULL, on_connected, &l);
    tandem_test_wait(&l.done, 10);
    if (!l.client)
      g_usleep(20000);
  }
  Blocking b;
  double *blat = g_new(double, CALLS);
  gboolean connected = FALSE;
  for (int i = 0; i < 50 && !connected; i++) {
    connected = blocking_connect(&b, qb);
    if (!connected) {
      close(b.fd);
      g_usleep(20000);
    }
  }
  if (!l.client || !connected) {
    fprintf(stderr, "bench-vmm: cannot connect to QEMU's monitors\n");
    g_subprocess_force_exit(q);
    return 1;
  }
  /* Warm-up, then the two clients take turns in rounds, so neither gets
   * a quieter machine than the other. */
  l.done = FALSE;
  l.remaining = 200;
  next_call(&l);
  tandem_test_wait(&l.done, 60);
  for (int i = 0; i < 200; i++)
    blocking_command(&b, "{\"execute\":\"query-status\"}\r\n");
  l.n = 0;
  int bn = 0;
  for (int round = 0; round < ROUNDS; round++) {
    l.done = FALSE;
    l.remaining = CALLS / ROUNDS;
    next_call(&l);
    tandem_test_wait(&l.done, 120);
    for (int i = 0; i < CALLS / ROUNDS; i++) {
      gint64 t = g_get_monotonic_time();
      if (!blocking_command(&b, "{\"execute\":\"query-status\"}\r\n"))
        return 1;
      blat[bn++] = (double)(g_get_monotonic_time() - t);
    }
  }
  close(b.fd);
  printf("QMP round trip, query-status, %d calls (µs)\n\n", CALLS);
  printf("%-34s %8s %8s %8s\n", "", "p50", "p99", "max");
  double tp50, tp99, bp50, bp99;
  report("Tandem async client (GLib loop)", l.lat, l.n, &tp50, &tp99);
  report("blocking socket client (baseline)", blat, bn, &bp50, &bp99);

  g_object_unref(l.client);
  g_subprocess_force_exit(q);
  g_subprocess_wait(q, NULL, NULL);

  if (json_path) {
    FILE *f = fopen(json_path, "w");
    if (!f)
      return 1;
    fprintf(f,
            "{\"benchmark\":\"vmm\",\"mode\":\"%s\",\"accelerator\":\"tcg\","
            "\"boots\":%d,\"start_ms\":{\"tandem\":{\"qmp_ready\":%.1f,"
            "\"first_console\":%.1f,\"guest_ready\":%.1f},\"bare_qemu\":{"
            "\"qmp_ready\":%.1f,\"first_console\":%.1f,\"guest_ready\":%.1f}},"
            "\"qmp_roundtrip_us\":{\"calls\":%d,\"tandem\":{\"p50\":%.1f,"
            "\"p99\":%.1f},\"blocking_baseline\":{\"p50\":%.1f,\"p99\":%.1f}}}"
            "\n",
            is_short ? "short" : "full", boots, med[0][0], med[0][1],
            med[0][2], med[1][0], med[1][1], med[1][2], CALLS, tp50, tp99,
            bp50, bp99);
    fclose(f);
  }
  g_free(l.lat);
  g_free(blat);
  g_autofree char *bare = g_build_filename(tmp, "bare-qmp.sock", NULL);
  g_unlink(bare);
  g_unlink(qa);
  g_unlink(qb);
  g_rmdir(tmp);
  return 0;
}
