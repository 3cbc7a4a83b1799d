/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-bench-keys' reports, read as they come (keys-recorder.h). */
#include "keys-recorder.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-pixels.h"

struct KeysRecorder {
  GSubprocess *proc;
  guint watch;
  GString *buf;
  gboolean ready;
  KeysReportFunc func;
  gpointer data;
};

static void on_line(KeysRecorder *r, const char *line) {
  if (g_str_equal(line, "ready")) {
    r->ready = TRUE;
    return;
  }
  char name[80];
  unsigned kc, state = 0;
  if (sscanf(line, "%79s %u %u", name, &kc, &state) < 2)
    return;
  KeysReport report = {name, kc, state};
  r->func(&report, r->data);
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer data) {
  KeysRecorder *r = data;
  char chunk[4096];
  ssize_t n = read(fd, chunk, sizeof(chunk));
  if (n <= 0) {
    r->watch = 0;
    return G_SOURCE_REMOVE;
  }
  g_string_append_len(r->buf, chunk, n);
  char *nl;
  while ((nl = memchr(r->buf->str, '\n', r->buf->len))) {
    *nl = '\0';
    on_line(r, r->buf->str);
    g_string_erase(r->buf, 0, nl - r->buf->str + 1);
  }
  return G_SOURCE_CONTINUE;
}

KeysRecorder *keys_recorder_spawn(const char *display, const char *program,
                                  KeysReportFunc func, gpointer data,
                                  GError **error, ...) {
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (gpointer)program);
  va_list ap;
  va_start(ap, error);
  const char *arg;
  while ((arg = va_arg(ap, const char *)))
    g_ptr_array_add(argv, (gpointer)arg);
  va_end(ap);
  g_ptr_array_add(argv, NULL);
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_setenv(l, "DISPLAY", display, TRUE);
  GSubprocess *proc = g_subprocess_launcher_spawnv(
      l, (const char *const *)argv->pdata, error);
  if (!proc)
    return NULL;
  KeysRecorder *r = g_new0(KeysRecorder, 1);
  r->proc = proc;
  r->buf = g_string_new("");
  r->func = func;
  r->data = data;
  int fd = g_unix_input_stream_get_fd(
      G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(proc)));
  r->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP, on_readable, r);
  return r;
}

gboolean keys_recorder_ready(KeysRecorder *r) { return r && r->ready; }

void keys_recorder_free(KeysRecorder *r) {
  if (!r)
    return;
  if (r->watch)
    g_source_remove(r->watch);
  px_stop(r->proc, 5);
  g_string_free(r->buf, TRUE);
  g_free(r);
}
