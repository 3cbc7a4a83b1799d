/* bench-pixels: Xpra forwarding the same app on the same machine.
 *
 * The server is Debian's xpra 3.1 as installed, with its system
 * configuration, on an Xvfb started exactly like Tandem's
 * (--use-display), told to use the "rgb" encoding and to leave out every
 * feature that is not pixels (sound, clipboard, printing, notifications,
 * mDNS, D-Bus, the session script of /etc/xpra: "start =" in a private
 * configuration directory, because list options given on the command
 * line add to the configured ones). The client is xpra-client.py, on
 * Xpra's own modules. */
#include "bench-pixels.h"

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"

/* Reads one line from @fd (a pipe) within @seconds; NULL on timeout/EOF. */
static char *read_line(int fd, GString *buf, double seconds) {
  gint64 end = px_now_ns() + (gint64)(seconds * 1e9);
  for (;;) {
    char *nl = memchr(buf->str, '\n', buf->len);
    if (nl) {
      char *line = g_strndup(buf->str, (gsize)(nl - buf->str));
      g_string_erase(buf, 0, nl - buf->str + 1);
      return line;
    }
    int left = (int)((end - px_now_ns()) / 1000000);
    struct pollfd p = {fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) != 1)
      return NULL;
    char chunk[256];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return NULL;
    g_string_append_len(buf, chunk, n);
  }
}

static char *tail(const char *path) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return g_strdup("(no log)");
  gsize len = strlen(text);
  return g_strdup(len > 1500 ? text + len - 1500 : text);
}

static char *xpra_version(const char *xpra) {
  g_autofree char *out = NULL;
  const char *argv[] = {xpra, "--version", NULL};
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, &out, NULL, NULL, NULL) || !out)
    return NULL;
  /* "xpra v3.1.3" (possibly after warnings) */
  char *v = strstr(out, "xpra v");
  return v ? g_strstrip(g_strndup(v + 6, strcspn(v + 6, "\r\n"))) : NULL;
}

/* Reads xpra-client.py's result file into @frames and its info lines. */
static gboolean read_results(const char *path, GArray *frames,
                             GString *info) {
  g_autofree char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return FALSE;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **l = lines; *l; l++) {
    PxFrame f = {0};
    long long d, r, p = 0;
    unsigned long long b;
    char key[64], value[256];
    if (sscanf(*l, "frame %u %lld %lld %llu %lld", &f.counter, &d, &r, &b,
               &p) >= 4) {
      f.draw_ns = d, f.recv_ns = r, f.bytes = b, f.paint_ns = p;
      g_array_append_val(frames, f);
    } else if (sscanf(*l, "info %63s %255s", key, value) == 2) {
      g_string_append_printf(info, "%s%s %s", info->len ? ", " : "", key,
                             value);
    }
  }
  return TRUE;
}

/* The same frames timed at their painting. */
static void painted_stats(const PxConfig *cfg, GArray *frames, gint64 t0,
                          PxResult *painted) {
  g_autoptr(GArray) at_paint = g_array_new(FALSE, FALSE, sizeof(PxFrame));
  for (guint i = 0; i < frames->len; i++) {
    PxFrame f = g_array_index(frames, PxFrame, i);
    if (!f.paint_ns)
      return; /* an older client: not known */
    f.recv_ns = f.paint_ns;
    g_array_append_val(at_paint, f);
  }
  px_stats(cfg, at_paint, 0, t0, 0, painted);
}

gboolean px_run_xpra(const PxConfig *cfg, const char *mode, PxResult *r,
                     PxResult *painted, char **xpra_info, gboolean *skipped,
                     GError **error) {
  r->mode = mode;
  r->transport = g_strdup("UNIX socket");
  r->app_fps = -1;
  g_autofree char *xpra = g_find_program_in_path("xpra");
  g_autofree char *version = xpra ? xpra_version(xpra) : NULL;
  const char *python = g_getenv("TANDEM_XPRA_PYTHON");
  const char *client = g_getenv("TANDEM_XPRA_CLIENT");
  python = python && *python ? python : "/usr/bin/python3";
  client = client && *client ? client : BENCH_XPRA_CLIENT;
  if (!version) {
    r->system = g_strdup("Xpra");
    r->note = g_strdup("not measured: xpra is not installed (Debian package "
                       "xpra); Tandem reported alone");
    *skipped = TRUE;
    return FALSE;
  }
  r->system = g_strdup_printf("Xpra %s", version);
  const char *check[] = {python, "-c", "import numpy, xpra.net.protocol",
                         NULL};
  int status = -1;
  if (!g_spawn_sync(NULL, (char **)check, NULL,
                    G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, NULL, NULL, &status, NULL) ||
      !g_spawn_check_wait_status(status, NULL)) {
    r->note = g_strdup_printf("not measured: %s cannot import numpy and "
                              "Xpra's modules (Debian packages xpra, "
                              "python3-numpy); Tandem reported alone",
                              python);
    *skipped = TRUE;
    return FALSE;
  }

  g_autofree char *dir = g_strdup_printf("%s/xpra-%s", cfg->tmp, mode);
  g_autofree char *run = g_build_filename(dir, "run", NULL);
  g_autofree char *home = g_build_filename(dir, "home", NULL);
  g_autofree char *conf_dir = g_build_filename(dir, "xdg", "xpra", NULL);
  g_autofree char *conf = g_build_filename(conf_dir, "xpra.conf", NULL);
  g_autofree char *xdg = g_build_filename(dir, "xdg", NULL);
  g_autofree char *sock_dir = g_build_filename(dir, "sock", NULL);
  g_autofree char *sock = g_build_filename(sock_dir, "xpra.sock", NULL);
  g_autofree char *server_log = g_build_filename(dir, "xpra-server.log", NULL);
  g_autofree char *client_log = g_build_filename(dir, "xpra-client.log", NULL);
  g_autofree char *results = g_build_filename(dir, "frames.txt", NULL);
  g_autofree char *anim_log = g_build_filename(dir, "anim.log", NULL);
  g_autofree char *anim_out = g_build_filename(dir, "anim.out", NULL);
  g_mkdir_with_parents(home, 0700);
  g_mkdir_with_parents(run, 0700);
  g_mkdir_with_parents(conf_dir, 0700);
  g_mkdir_with_parents(sock_dir, 0700);
  if (!g_file_set_contents(conf, "# bench-pixels: no session script\n"
                                 "start =\n", -1, error))
    return FALSE;

  g_autofree char *display = NULL;
  GSubprocess *xvfb = px_xvfb_start(dir, &display, error);
  if (!xvfb)
    return FALSE;
  gboolean ok = FALSE;
  GSubprocess *server = NULL, *cl = NULL, *anim = NULL;
  g_autoptr(GString) buf = g_string_new("");
  g_autoptr(GArray) frames = g_array_new(FALSE, FALSE, sizeof(PxFrame));
  g_autoptr(GString) info = g_string_new("");
  g_autofree char *bind = g_strconcat("--bind=", sock, NULL);
  g_autofree char *sdirs = g_strconcat("--socket-dirs=", sock_dir, NULL);
  g_autofree char *ldir = g_strconcat("--log-dir=", dir, NULL);
  g_autofree char *fps = g_strdup_printf("%g", cfg->fps);
  g_autofree char *ready = NULL, *first = NULL;
  g_autoptr(GSubprocessLauncher) l =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  int out_fd;
  /* G_DEBUG off: the tests' fatal-criticals would abort Xpra's GTK on
   * warnings it lives with. */
  const char *env[] = {"HOME", home, "XDG_RUNTIME_DIR", run,
                       "XDG_CONFIG_DIRS", xdg, "G_DEBUG", "", NULL};
  server = px_spawn(
      NULL, server_log, env, error, xpra, "start", display,
      "--use-display=yes", "--daemon=no", bind, sdirs, ldir,
      "--encoding=rgb", "--video-encoders=none", "--csc-modules=none",
      "--resize-display=no", "--mdns=no", "--pulseaudio=no",
      "--speaker=off", "--microphone=off", "--av-sync=no", "--webcam=no",
      "--notifications=no", "--dbus-proxy=no", "--dbus-control=no",
      "--dbus-launch=", "--systemd-run=no", "--html=off", "--clipboard=no",
      "--printing=no", "--file-transfer=no", "--bell=no", "--cursors=no",
      "--system-tray=no", "--tray=no", "--opengl=no", NULL);
  if (!server)
    goto out;
  gint64 end = px_now_ns() + 30 * 1000000000LL;
  while (!bench_socket_ready(sock)) {
    if (!g_subprocess_get_identifier(server) || px_now_ns() > end) {
      g_autofree char *t = tail(server_log);
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                  "the xpra server did not start within 30 s:\n%s", t);
      goto out;
    }
    g_usleep(50000); /* waiting on another process's socket: bounded */
  }

  g_subprocess_launcher_set_stderr_file_path(l, client_log);
  g_subprocess_launcher_unsetenv(l, "G_DEBUG");
  cl = g_subprocess_launcher_spawn(l, error, python, client, "--socket", sock,
                                   "--out", results, "--seconds", "300",
                                   NULL);
  if (!cl)
    goto out;
  out_fd = g_unix_input_stream_get_fd(
      G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(cl)));
  ready = read_line(out_fd, buf, 30);
  if (!ready || !g_str_equal(ready, "ready")) {
    g_autofree char *t = tail(client_log);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "the Xpra client did not connect within 30 s:\n%s", t);
    goto out;
  }
  anim = px_spawn(display, anim_out, NULL, error, cfg->anim, "--mode", mode,
                  "--fps", fps, "--log", anim_log, NULL);
  if (!anim)
    goto out;
  first = read_line(out_fd, buf, 15);
  long long first_ns = 0;
  if (!first || sscanf(first, "first %lld", &first_ns) != 1) {
    r->done = TRUE;
    r->note = g_strdup("no frame of the app within 15 s");
    ok = TRUE;
    goto out;
  }
  gint64 t0 = first_ns + (gint64)(cfg->warmup_s * 1e9);
  gint64 stop_at = t0 + (gint64)(cfg->measure_s * 1e9) + 200000000;
  /* CPU over the measured time: the server and the X server the app draws
   * on (the guest's side), the client (the host's; it paints into memory,
   * no X server). */
  guint64 cpu[2][2] = {{0}};
  gint64 marks[2] = {t0, t0 + (gint64)(cfg->measure_s * 1e9)};
  for (int k = 0; k < 2; k++) {
    while (px_now_ns() < marks[k])
      g_usleep((gulong)MIN(100000, (marks[k] - px_now_ns()) / 1000 + 1));
    cpu[k][0] = px_cpu_ns(px_pid(server)) + px_cpu_ns(px_pid(xvfb));
    cpu[k][1] = px_cpu_ns(px_pid(cl));
  }
  while (px_now_ns() < stop_at)
    g_usleep((gulong)MIN(100000, (stop_at - px_now_ns()) / 1000 + 1));
  px_stop(cl, 10); /* it writes its results on SIGTERM */
  cl = NULL;
  if (!read_results(results, frames, info)) {
    g_autofree char *t = tail(client_log);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "the Xpra client wrote no results:\n%s", t);
    goto out;
  }
  px_stats(cfg, frames, 0, t0, 0, r);
  r->note = g_strdup_printf("as sent: %s", info->str);
  if (painted) {
    painted->system = g_strdup(r->system);
    painted->transport = g_strdup(r->transport);
    painted->mode = mode;
    painted->app_fps = -1;
    painted_stats(cfg, frames, t0, painted);
    painted->unshown_pct = -1;
    painted->cpu_guest_ms = painted->cpu_host_ms = -1;
    if (painted->frames > 0) {
      painted->cpu_guest_ms = (double)(cpu[1][0] - cpu[0][0]) / 1e6 /
                              painted->frames;
      painted->cpu_host_ms = (double)(cpu[1][1] - cpu[0][1]) / 1e6 /
                             painted->frames;
    }
  }
  *xpra_info = g_strdup_printf(
      "server xpra %s as Debian configures it, --encoding=rgb, on an Xvfb "
      "like Tandem's; client xpra-client.py on Xpra's own protocol "
      "modules: acks every update after painting it, no mmap",
      version);
  ok = TRUE;
out:
  px_stop(anim, 5);
  if (ok)
    r->app_fps = px_anim_log_fps(anim_log, NULL);
  if (ok && painted)
    painted->app_fps = r->app_fps;
  px_stop(cl, 10);
  px_stop(server, 15);
  px_stop(xvfb, 5);
  return ok;
}
