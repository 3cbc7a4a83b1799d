/* SPDX-License-Identifier: GPL-2.0-or-later */
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

/* One Xpra server on an Xvfb of its own, and the client connected to it. */
typedef struct {
  char *xpra, *version, *python, *client;
  char *dir, *display, *sock, *server_log, *client_log, *results;
  GSubprocess *xvfb, *server, *cl;
  int out_fd;
  GString *buf;   /* what the client printed, not yet read as lines */
} Xpra;

/* Xpra and the client's modules installed? NULL if so, else why not. */
static char *xpra_find(Xpra *x) {
  x->xpra = g_find_program_in_path("xpra");
  x->version = x->xpra ? xpra_version(x->xpra) : NULL;
  const char *python = g_getenv("TANDEM_XPRA_PYTHON");
  const char *client = g_getenv("TANDEM_XPRA_CLIENT");
  x->python = g_strdup(python && *python ? python : "/usr/bin/python3");
  x->client = g_strdup(client && *client ? client : BENCH_XPRA_CLIENT);
  if (!x->version)
    return g_strdup("xpra is not installed (Debian package xpra)");
  const char *check[] = {x->python, "-c", "import numpy, xpra.net.protocol",
                         NULL};
  int status = -1;
  if (!g_spawn_sync(NULL, (char **)check, NULL,
                    G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                    NULL, NULL, NULL, NULL, &status, NULL) ||
      !g_spawn_check_wait_status(status, NULL))
    return g_strdup_printf("%s cannot import numpy and Xpra's modules "
                           "(Debian packages xpra, python3-numpy)",
                           x->python);
  return NULL;
}

/* The server, as Debian configures it less every feature that is not
 * pixels, on its own Xvfb, in @cfg->tmp/xpra-@label; ready (its socket
 * answers) when this returns. */
static gboolean xpra_start_server(Xpra *x, const PxConfig *cfg,
                                  const char *label, GError **error) {
  x->dir = g_strdup_printf("%s/xpra-%s", cfg->tmp, label);
  g_autofree char *run = g_build_filename(x->dir, "run", NULL);
  g_autofree char *home = g_build_filename(x->dir, "home", NULL);
  g_autofree char *conf_dir = g_build_filename(x->dir, "xdg", "xpra", NULL);
  g_autofree char *conf = g_build_filename(conf_dir, "xpra.conf", NULL);
  g_autofree char *xdg = g_build_filename(x->dir, "xdg", NULL);
  g_autofree char *sock_dir = g_build_filename(x->dir, "sock", NULL);
  x->sock = g_build_filename(sock_dir, "xpra.sock", NULL);
  x->server_log = g_build_filename(x->dir, "xpra-server.log", NULL);
  x->client_log = g_build_filename(x->dir, "xpra-client.log", NULL);
  x->results = g_build_filename(x->dir, "frames.txt", NULL);
  x->buf = g_string_new("");
  x->out_fd = -1;
  g_mkdir_with_parents(home, 0700);
  g_mkdir_with_parents(run, 0700);
  g_mkdir_with_parents(conf_dir, 0700);
  g_mkdir_with_parents(sock_dir, 0700);
  if (!g_file_set_contents(conf, "# bench-pixels: no session script\n"
                                 "start =\n", -1, error))
    return FALSE;
  x->xvfb = px_xvfb_start(x->dir, &x->display, error);
  if (!x->xvfb)
    return FALSE;
  g_autofree char *bind = g_strconcat("--bind=", x->sock, NULL);
  g_autofree char *sdirs = g_strconcat("--socket-dirs=", sock_dir, NULL);
  g_autofree char *ldir = g_strconcat("--log-dir=", x->dir, NULL);
  /* G_DEBUG off: the tests' fatal-criticals would abort Xpra's GTK on
   * warnings it lives with. */
  const char *env[] = {"HOME", home, "XDG_RUNTIME_DIR", run,
                       "XDG_CONFIG_DIRS", xdg, "G_DEBUG", "", NULL};
  x->server = px_spawn(
      NULL, x->server_log, env, error, x->xpra, "start", x->display,
      "--use-display=yes", "--daemon=no", bind, sdirs, ldir,
      "--encoding=rgb", "--video-encoders=none", "--csc-modules=none",
      "--resize-display=no", "--mdns=no", "--pulseaudio=no",
      "--speaker=off", "--microphone=off", "--av-sync=no", "--webcam=no",
      "--notifications=no", "--dbus-proxy=no", "--dbus-control=no",
      "--dbus-launch=", "--systemd-run=no", "--html=off", "--clipboard=no",
      "--printing=no", "--file-transfer=no", "--bell=no", "--cursors=no",
      "--system-tray=no", "--tray=no", "--opengl=no", NULL);
  if (!x->server)
    return FALSE;
  gint64 end = px_now_ns() + 30 * 1000000000LL;
  while (!bench_socket_ready(x->sock)) {
    if (!g_subprocess_get_identifier(x->server) || px_now_ns() > end) {
      g_autofree char *t = tail(x->server_log);
      g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                  "the xpra server did not start within 30 s:\n%s", t);
      return FALSE;
    }
    g_usleep(50000); /* waiting on another process's socket: bounded */
  }
  return TRUE;
}

/* The client, connected once this returns ("ready"). */
static gboolean xpra_start_client(Xpra *x, gboolean all_frames,
                                  GError **error) {
  g_autoptr(GSubprocessLauncher) l =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path(l, x->client_log);
  g_subprocess_launcher_unsetenv(l, "G_DEBUG");
  x->cl = g_subprocess_launcher_spawn(
      l, error, x->python, x->client, "--socket", x->sock, "--out",
      x->results, "--seconds", "900", all_frames ? "--all-frames" : NULL,
      NULL);
  if (!x->cl)
    return FALSE;
  x->out_fd = g_unix_input_stream_get_fd(
      G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(x->cl)));
  g_autofree char *ready = read_line(x->out_fd, x->buf, 30);
  if (!ready || !g_str_equal(ready, "ready")) {
    g_autofree char *t = tail(x->client_log);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "the Xpra client did not connect within 30 s:\n%s", t);
    return FALSE;
  }
  return TRUE;
}

/* Ends the client (it writes its results on SIGTERM) and reads them. */
static gboolean xpra_stop_client(Xpra *x, GArray *frames, GString *info,
                                 GError **error) {
  px_stop(x->cl, 10);
  x->cl = NULL;
  if (!read_results(x->results, frames, info)) {
    g_autofree char *t = tail(x->client_log);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                "the Xpra client wrote no results:\n%s", t);
    return FALSE;
  }
  return TRUE;
}

static void xpra_stop(Xpra *x) {
  px_stop(x->cl, 10);
  px_stop(x->server, 15);
  px_stop(x->xvfb, 5);
  x->cl = x->server = x->xvfb = NULL;
  g_free(x->xpra);
  g_free(x->version);
  g_free(x->python);
  g_free(x->client);
  g_free(x->dir);
  g_free(x->display);
  g_free(x->sock);
  g_free(x->server_log);
  g_free(x->client_log);
  g_free(x->results);
  if (x->buf)
    g_string_free(x->buf, TRUE);
  memset(x, 0, sizeof(*x));
}

static char *xpra_describe(const Xpra *x) {
  return g_strdup_printf(
      "server xpra %s as Debian configures it, --encoding=rgb, on an Xvfb "
      "like Tandem's; client xpra-client.py on Xpra's own protocol "
      "modules: acks every update after painting it, no mmap",
      x->version);
}

gboolean px_run_xpra(const PxConfig *cfg, const char *mode, PxResult *r,
                     PxResult *painted, char **xpra_info, gboolean *skipped,
                     GError **error) {
  r->mode = mode;
  r->transport = g_strdup("UNIX socket");
  r->app_fps = -1;
  Xpra x = {0};
  g_autofree char *missing = xpra_find(&x);
  r->system = g_strdup_printf("Xpra%s%s", x.version ? " " : "",
                              x.version ? x.version : "");
  if (missing) {
    r->note = g_strdup_printf("not measured: %s; Tandem reported alone",
                              missing);
    *skipped = TRUE;
    xpra_stop(&x);
    return FALSE;
  }
  gboolean ok = FALSE;
  GSubprocess *anim = NULL;
  g_autoptr(GArray) frames = g_array_new(FALSE, FALSE, sizeof(PxFrame));
  g_autoptr(GString) info = g_string_new("");
  g_autofree char *fps = g_strdup_printf("%g", cfg->fps);
  g_autofree char *first = NULL, *anim_log = NULL, *anim_out = NULL;
  if (!xpra_start_server(&x, cfg, mode, error) ||
      !xpra_start_client(&x, FALSE, error))
    goto out;
  anim_log = g_build_filename(x.dir, "anim.log", NULL);
  anim_out = g_build_filename(x.dir, "anim.out", NULL);
  anim = px_spawn(x.display, anim_out, NULL, error, cfg->anim, "--mode",
                  mode, "--fps", fps, "--log", anim_log, NULL);
  if (!anim)
    goto out;
  first = read_line(x.out_fd, x.buf, 15);
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
    cpu[k][0] = px_cpu_ns(px_pid(x.server)) + px_cpu_ns(px_pid(x.xvfb));
    cpu[k][1] = px_cpu_ns(px_pid(x.cl));
  }
  while (px_now_ns() < stop_at)
    g_usleep((gulong)MIN(100000, (stop_at - px_now_ns()) / 1000 + 1));
  if (!xpra_stop_client(&x, frames, info, error))
    goto out;
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
  *xpra_info = xpra_describe(&x);
  ok = TRUE;
out:
  px_stop(anim, 5);
  if (ok)
    r->app_fps = px_anim_log_fps(anim_log, NULL);
  if (ok && painted)
    painted->app_fps = r->app_fps;
  xpra_stop(&x);
  return ok;
}

/* --- Applications without stamps ------------------------------------------- */

/* One app's run, its frames counted once the client has written them. */
typedef struct {
  gboolean measured;
  gint64 t0, t1;
  PxCpu cpu[2][2]; /* [start, end][guest side, host side] */
} AppRun;

/* @argv on @display, its output to @log. */
static GSubprocess *spawn_argv(const char *display, const char *log,
                               const char *const *argv, GError **error) {
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
      G_SUBPROCESS_FLAGS_STDIN_INHERIT | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path(l, log);
  g_subprocess_launcher_setenv(l, "DISPLAY", display, TRUE);
  return g_subprocess_launcher_spawnv(l, argv, error);
}

/* Waits until @until, typing @k (if any) at @hz on the way. */
static void pace(gint64 until, PxKeys *k, double hz, gint64 *next_key) {
  for (gint64 now; (now = px_now_ns()) < until;) {
    if (k && now >= *next_key) {
      px_keys_tap(k);
      *next_key += (gint64)(1e9 / hz);
      if (*next_key < now) /* late: no burst to catch up */
        *next_key = now + (gint64)(1e9 / hz);
      continue;
    }
    gint64 wake = k ? MIN(until, *next_key) : until;
    g_usleep((gulong)MIN(100000, (wake - now) / 1000 + 1));
  }
}

static void sample(Xpra *x, PxCpu cpu[2]) {
  memset(cpu, 0, 2 * sizeof(PxCpu));
  px_cpu_add(&cpu[0], px_pid(x->server));
  px_cpu_add(&cpu[0], px_pid(x->xvfb));
  px_cpu_add(&cpu[1], px_pid(x->cl));
}

/* Runs @app on the server's display until its measured time is over. */
static void run_app(Xpra *x, const PxApp *app, PxAppResult *r, AppRun *run) {
  g_autofree char *log = g_strdup_printf("%s/%s.log", x->dir, app->name);
  g_autoptr(GError) e = NULL;
  gint64 spawned = px_now_ns();
  GSubprocess *p = spawn_argv(x->display, log, app->argv, &e);
  if (!p) {
    r->note = g_strdup_printf("not run: %s", e->message);
    return;
  }
  /* Its first frame: a window's ("window WID NS") after the spawn. */
  gint64 end = spawned + 20 * 1000000000LL;
  long long wid = 0, at = 0;
  while (!at && px_now_ns() < end) {
    g_autofree char *line = read_line(
        x->out_fd, x->buf, (double)(end - px_now_ns()) / 1e9);
    if (!line)
      break;
    if (sscanf(line, "window %lld %lld", &wid, &at) != 2 || at < spawned)
      at = 0;
  }
  PxKeys *k = NULL;
  gint64 next_key = 0;
  if (!at) {
    r->note = g_strdup_printf("not run: no frame of %s within 20 s (see %s)",
                              app->name, log);
    goto out;
  }
  if (app->keysym) {
    k = px_keys_new(x->display, app->keysym, &e);
    if (!k) {
      r->note = g_strdup_printf("not run: keys: %s", e->message);
      goto out;
    }
    /* The file loaded (its name in the title), within a bound. */
    gint64 loaded_by = px_now_ns() + 30 * 1000000000LL;
    while (app->title && !px_keys_title_shown(k, app->title) &&
           px_now_ns() < loaded_by)
      g_usleep(20000); /* another process's window: polled, bounded */
    if (app->title && !px_keys_title_shown(k, app->title))
      r->note = g_strdup_printf("no window named \"%s\" within 30 s: keys "
                                "typed anyway", app->title);
    next_key = px_now_ns();
  }
  run->t0 = px_now_ns() + (gint64)(app->warmup_s * 1e9);
  run->t1 = run->t0 + (gint64)(app->measure_s * 1e9);
  pace(run->t0, k, app->key_hz, &next_key);
  guint keys0 = px_keys_count(k);
  sample(x, run->cpu[0]);
  pace(run->t1, k, app->key_hz, &next_key);
  sample(x, run->cpu[1]);
  r->keys = (int)(px_keys_count(k) - keys0);
  run->measured = TRUE;
out:
  px_keys_free(k);
  px_stop(p, 5);
}

gboolean px_run_xpra_apps(const PxConfig *cfg, const PxApp *apps, guint n,
                          PxAppResult *results, char **xpra_info,
                          gboolean *skipped, GError **error) {
  Xpra x = {0};
  g_autofree char *missing = xpra_find(&x);
  g_autofree char *system = g_strdup_printf("Xpra%s%s", x.version ? " " : "",
                                            x.version ? x.version : "");
  for (guint i = 0; i < n; i++)
    px_app_result_init(&results[i], system, "UNIX socket", apps[i].name);
  if (missing) {
    for (guint i = 0; i < n; i++)
      results[i].note = g_strdup_printf("not run: %s", missing);
    *skipped = TRUE;
    xpra_stop(&x);
    return FALSE;
  }
  gboolean ok = FALSE;
  g_autofree AppRun *runs = g_new0(AppRun, n);
  g_autoptr(GArray) frames = g_array_new(FALSE, FALSE, sizeof(PxFrame));
  g_autoptr(GString) info = g_string_new("");
  g_autofree char *about = NULL;
  if (!xpra_start_server(&x, cfg, "apps", error) ||
      !xpra_start_client(&x, TRUE, error))
    goto out;
  for (guint i = 0; i < n; i++) {
    if (!apps[i].argv) {
      results[i].note = g_strdup_printf("not run: %s is not installed on "
                                        "this machine",
                                        apps[i].name);
      continue;
    }
    run_app(&x, &apps[i], &results[i], &runs[i]);
  }
  if (!xpra_stop_client(&x, frames, info, error))
    goto out;
  /* Frames painted in each app's measured time; bytes since the last
   * frame before it, so every frame brings its own. */
  for (guint i = 0; i < n; i++) {
    PxAppResult *r = &results[i];
    AppRun *run = &runs[i];
    if (!run->measured)
      continue;
    guint64 before = 0, last = 0;
    int painted = 0;
    for (guint f = 0; f < frames->len; f++) {
      const PxFrame *fr = &g_array_index(frames, PxFrame, f);
      if (fr->paint_ns < run->t0) {
        before = fr->bytes;
      } else if (fr->paint_ns < run->t1) {
        painted++;
        last = fr->bytes;
      }
    }
    r->done = TRUE;
    r->seconds = (double)(run->t1 - run->t0) / 1e9;
    r->painted = painted;
    r->fps = painted / r->seconds;
    if (painted > 0) {
      r->bytes_per_frame = before ? (double)(last - before) / painted : -1;
      r->cpu_guest_ms =
          px_cpu_ms_between(&run->cpu[0][0], &run->cpu[1][0]) / painted;
      r->cpu_host_ms =
          px_cpu_ms_between(&run->cpu[0][1], &run->cpu[1][1]) / painted;
    }
  }
  about = xpra_describe(&x);
  *xpra_info = g_strdup_printf("%s; one server and client for the apps, "
                               "as sent to it: %s", about, info->str);
  ok = TRUE;
out:
  xpra_stop(&x);
  return ok;
}
