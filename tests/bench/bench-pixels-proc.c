/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-pixels: the processes it runs (Xvfb, the agent, the app, Xpra),
 * each started with a bounded wait and stopped with SIGTERM, then
 * SIGKILL if it does not end in time. */
#include "bench-pixels.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "test-wait.h"

guint64 px_cpu_ns(GPid pid) {
  if (pid <= 0)
    return 0;
  g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return 0;
  /* Fields after the command (which may hold spaces) and its ')'. */
  const char *p = strrchr(text, ')');
  unsigned long long utime = 0, stime = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                          "%llu %llu", &utime, &stime) != 2)
    return 0;
  long hz = sysconf(_SC_CLK_TCK);
  return (utime + stime) * (guint64)(1000000000LL / (hz > 0 ? hz : 100));
}

/* The sum of the living threads' run time (schedstat's first field, ns). */
static guint64 fine_cpu_ns(GPid pid) {
  g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  guint64 sum = 0;
  const char *tid;
  while (d && (tid = g_dir_read_name(d))) {
    g_autofree char *path = g_build_filename(dir, tid, "schedstat", NULL);
    g_autofree char *text = NULL;
    unsigned long long ns;
    if (g_file_get_contents(path, &text, NULL, NULL) &&
        sscanf(text, "%llu", &ns) == 1)
      sum += ns;
  }
  return sum;
}

void px_cpu_add(PxCpu *sum, GPid pid) {
  if (pid <= 0)
    return;
  sum->ticks_ns += px_cpu_ns(pid);
  sum->fine_ns += fine_cpu_ns(pid);
  sum->procs++;
}

double px_cpu_ms_between(const PxCpu *a, const PxCpu *b) {
  double ticks = ((double)b->ticks_ns - (double)a->ticks_ns) / 1e6;
  double fine = ((double)b->fine_ns - (double)a->fine_ns) / 1e6;
  /* Each process's user and system ticks are truncated at both ends: the
   * coarse count is within two ticks of the truth per process. Past
   * that, threads that ended took their CPU with them from the fine
   * count. */
  long hz = sysconf(_SC_CLK_TCK);
  double tick_ms = 1000.0 / (hz > 0 ? hz : 100);
  if (b->fine_ns == 0 || ticks > fine + (2 * MAX(a->procs, b->procs) + 1) *
                                            tick_ms)
    return MAX(ticks, 0);
  return MAX(fine, 0);
}

GPid px_pid(GSubprocess *p) {
  const char *id = p ? g_subprocess_get_identifier(p) : NULL;
  return id ? (GPid)atoi(id) : 0;
}

gint64 px_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* In the child: end with the benchmark, even if it crashes, so that no
 * display outlives it. */
static void die_with_parent(gpointer data) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

GSubprocess *px_xvfb_start(const char *dir, char **display, GError **error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "pipe: %s",
                g_strerror(errno));
    return NULL;
  }
  g_autofree char *log = g_build_filename(dir, "xvfb.log", NULL);
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
      G_SUBPROCESS_FLAGS_STDIN_INHERIT | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path(l, log);
  g_subprocess_launcher_take_fd(l, fds[1], 3);
  g_subprocess_launcher_set_child_setup(l, die_with_parent, NULL, NULL);
  GSubprocess *p = g_subprocess_launcher_spawn(
      l, error, "Xvfb", "-displayfd", "3", "-screen", "0", "1920x1080x24",
      "-nolisten", "tcp", "-noreset", NULL);
  if (!p) {
    close(fds[0]);
    return NULL;
  }
  /* Xvfb writes the display number once it accepts clients. */
  char buf[32] = {0};
  size_t got = 0;
  gint64 end = px_now_ns() + 10 * 1000000000LL;
  while (got < sizeof(buf) - 1 && !strchr(buf, '\n')) {
    struct pollfd pf = {fds[0], POLLIN, 0};
    int left = (int)((end - px_now_ns()) / 1000000);
    if (left <= 0 || poll(&pf, 1, left) != 1)
      break;
    ssize_t n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fds[0]);
  if (!strchr(buf, '\n')) {
    g_autofree char *text = NULL;
    g_file_get_contents(log, &text, NULL, NULL);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "Xvfb did not start: %s", text ? text : "(no log)");
    px_stop(p, 2);
    return NULL;
  }
  *display = g_strdup_printf(":%d", atoi(buf));
  return p;
}

static void on_exited(GObject *source, GAsyncResult *res, gpointer data) {
  g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
  *(gboolean *)data = TRUE;
}

void px_stop(GSubprocess *p, double seconds) {
  if (!p)
    return;
  gboolean exited = FALSE;
  if (g_subprocess_get_identifier(p))
    g_subprocess_send_signal(p, SIGTERM);
  g_subprocess_wait_async(p, NULL, on_exited, &exited);
  if (!tandem_test_wait(&exited, seconds)) {
    g_subprocess_force_exit(p);
    tandem_test_wait(&exited, 5);
  }
  g_object_unref(p);
}

GSubprocess *px_spawn(const char *display, const char *log,
                      const char *const *env, GError **error,
                      const char *argv0, ...) {
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  va_list ap;
  va_start(ap, argv0);
  for (const char *a = argv0; a; a = va_arg(ap, const char *))
    g_ptr_array_add(argv, (gpointer)a);
  va_end(ap);
  g_ptr_array_add(argv, NULL);
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDIN_INHERIT;
  flags |= log ? G_SUBPROCESS_FLAGS_STDERR_MERGE
               : G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                     G_SUBPROCESS_FLAGS_STDERR_SILENCE;
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(flags);
  if (log)
    g_subprocess_launcher_set_stdout_file_path(l, log);
  if (display)
    g_subprocess_launcher_setenv(l, "DISPLAY", display, TRUE);
  for (int i = 0; env && env[i]; i += 2)
    g_subprocess_launcher_setenv(l, env[i], env[i + 1], TRUE);
  return g_subprocess_launcher_spawnv(l, (const char *const *)argv->pdata,
                                      error);
}

double px_anim_log_fps(const char *path, int *shm) {
  g_autofree char *text = NULL;
  unsigned frames;
  double seconds, fps;
  int s = 0;
  if (!g_file_get_contents(path, &text, NULL, NULL) ||
      sscanf(text, "frames %u seconds %lf fps %lf shm %d", &frames, &seconds,
             &fps, &s) != 4)
    return -1;
  if (shm)
    *shm = s;
  return fps;
}
