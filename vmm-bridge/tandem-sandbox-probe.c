/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-sandbox-probe.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tandem-qemu-argv.h"

void tandem_sandbox_verdict_free(TandemSandboxVerdict *v) {
  if (v) {
    g_free(v->reason);
    g_free(v);
  }
}

static TandemSandboxVerdict *verdict_new(gboolean sandboxed, gboolean cached,
                                         const char *reason) {
  TandemSandboxVerdict *v = g_new0(TandemSandboxVerdict, 1);
  v->sandboxed = sandboxed;
  v->reason = g_strdup(reason);
  v->from_cache = cached;
  return v;
}

/* --- The cache ------------------------------------------------------------ */

/* Verdicts by binary; a QEMU upgraded in place has another size or mtime.
 * Process-wide: every VM of the shell shares one QEMU binary, normally. */
G_LOCK_DEFINE_STATIC(cache);
static GHashTable *cache; /* key -> TandemSandboxVerdict */

static char *cache_key(const char *qemu_binary) {
  GStatBuf st;
  g_autofree char *qemu = g_find_program_in_path(qemu_binary);
  if (!qemu || g_stat(qemu, &st) != 0)
    return NULL;
  return g_strdup_printf("%s:%lld:%lld", qemu, (long long)st.st_size,
                         (long long)st.st_mtime);
}

static TandemSandboxVerdict *cache_lookup(const char *key) {
  TandemSandboxVerdict *v = NULL;
  G_LOCK(cache);
  const TandemSandboxVerdict *c = cache ? g_hash_table_lookup(cache, key)
                                        : NULL;
  if (c)
    v = verdict_new(c->sandboxed, TRUE, c->reason);
  G_UNLOCK(cache);
  return v;
}

static void cache_store(const char *key, const TandemSandboxVerdict *v) {
  G_LOCK(cache);
  if (!cache)
    cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                  (GDestroyNotify)tandem_sandbox_verdict_free);
  g_hash_table_replace(cache, g_strdup(key),
                       verdict_new(v->sandboxed, FALSE, v->reason));
  G_UNLOCK(cache);
}

void tandem_sandbox_probe_forget(void) {
  G_LOCK(cache);
  g_clear_pointer(&cache, g_hash_table_unref);
  G_UNLOCK(cache);
}

/* --- The probe ---------------------------------------------------------- */

typedef struct {
  char *key;
  GSubprocess *proc;
  GSource *timeout;
  guint timeout_ms;
  gboolean timed_out;
} Probe;

static void probe_free(Probe *p) {
  if (p->timeout) {
    g_source_destroy(p->timeout);
    g_source_unref(p->timeout);
  }
  if (p->proc)
    g_subprocess_force_exit(p->proc);
  g_clear_object(&p->proc);
  g_free(p->key);
  g_free(p);
}

static gboolean on_probe_timeout(gpointer data) {
  Probe *p = data;
  g_clear_pointer(&p->timeout, g_source_unref);
  p->timed_out = TRUE;
  g_subprocess_force_exit(p->proc); /* communicate() then completes */
  return G_SOURCE_REMOVE;
}

/* QEMU's last line, which names what it refused ("-sandbox support is not
 * enabled in this QEMU binary", "failed to install seccomp syscall
 * filter in the kernel"). */
static char *last_line(GBytes *out) {
  gsize len = 0;
  const char *data = out ? g_bytes_get_data(out, &len) : NULL;
  if (!data)
    return NULL;
  g_autofree char *text = g_utf8_make_valid(data, len);
  g_auto(GStrv) lines = g_strsplit(g_strstrip(text), "\n", -1);
  guint n = g_strv_length(lines);
  if (n == 0 || !*lines[n - 1])
    return NULL;
  char *line = g_strstrip(lines[n - 1]);
  return g_utf8_substring(line, 0, MIN(g_utf8_strlen(line, -1), 200));
}

static void on_probe_done(GObject *src, GAsyncResult *res, gpointer data) {
  g_autoptr(GTask) task = data;
  Probe *p = g_task_get_task_data(task);
  GSubprocess *proc = G_SUBPROCESS(src);
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GError) error = NULL;
  gboolean done = g_subprocess_communicate_finish(proc, res, &out, NULL,
                                                  &error);
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  g_autofree char *said = last_line(out);
  g_autofree char *why = NULL;
  gboolean sandboxed = FALSE, keep = FALSE;
  if (p->timed_out) {
    why = g_strdup_printf("QEMU did not answer the sandbox probe within %u ms",
                          p->timeout_ms);
  } else if (!done) {
    why = g_strdup_printf("the sandbox probe failed: %s", error->message);
  } else if (g_subprocess_get_if_exited(proc) &&
             g_subprocess_get_exit_status(proc) == 0) {
    sandboxed = keep = TRUE;
    why = g_strdup("QEMU accepts -sandbox " TANDEM_QEMU_SANDBOX);
  } else {
    /* A definite no, from this binary on this kernel, when QEMU names the
     * sandbox or the filter killed it; anything else (out of memory, ...)
     * may pass, and is asked again at the next start. */
    keep = (said && (strstr(said, "sandbox") || strstr(said, "seccomp"))) ||
           (g_subprocess_get_if_signaled(proc) &&
            g_subprocess_get_term_sig(proc) == SIGSYS);
    g_autofree char *how =
        g_subprocess_get_if_signaled(proc)
            ? g_strdup_printf("killed by signal %d",
                              g_subprocess_get_term_sig(proc))
            : g_strdup_printf("exit status %d",
                              g_subprocess_get_exit_status(proc));
    why = g_strdup_printf("QEMU refuses -sandbox " TANDEM_QEMU_SANDBOX
                          " (%s)%s%s",
                          how, said ? ": " : "", said ? said : "");
  }
  /* A probe that did not run to the end is not kept either: a loaded host
   * may answer next time. */
  g_autoptr(TandemSandboxVerdict) v = verdict_new(sandboxed, FALSE, why);
  if (keep)
    cache_store(p->key, v);
  g_task_return_pointer(task, g_steal_pointer(&v),
                        (GDestroyNotify)tandem_sandbox_verdict_free);
}

void tandem_sandbox_probe_async(const char *qemu_binary, guint timeout_ms,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data) {
  g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
  GDestroyNotify free_verdict = (GDestroyNotify)tandem_sandbox_verdict_free;
  g_autoptr(GError) error = NULL;
  Probe *p = g_new0(Probe, 1);
  g_task_set_task_data(task, p, (GDestroyNotify)probe_free);

  p->key = cache_key(qemu_binary);
  if (!p->key) {
    g_autofree char *why = g_strdup_printf("%s is not installed", qemu_binary);
    g_task_return_pointer(task, verdict_new(FALSE, FALSE, why), free_verdict);
    return;
  }
  TandemSandboxVerdict *cached = cache_lookup(p->key);
  if (cached) {
    g_task_return_pointer(task, cached, free_verdict);
    return;
  }

  /* No machine, no guest: only the sandbox is installed (QEMU does that
   * among its first options, so a failure shows at once), then the monitor
   * reads "quit" from stdin. The command is in the pipe before QEMU starts,
   * so no write can meet a QEMU that is gone (SIGPIPE). */
  int in[2];
  if (!g_unix_open_pipe(in, FD_CLOEXEC, &error)) {
    g_autofree char *why = g_strdup_printf("no pipe for the sandbox probe: %s",
                                           error->message);
    g_task_return_pointer(task, verdict_new(FALSE, FALSE, why), free_verdict);
    return;
  }
  static const char quit[] = "quit\n";
  if (write(in[1], quit, sizeof quit - 1) != sizeof quit - 1) /* 5 bytes */
    g_set_error(&error, G_IO_ERROR, g_io_error_from_errno(errno),
                "%s", g_strerror(errno));
  close(in[1]);
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_take_stdin_fd(l, in[0]);
  if (!error)
    p->proc = g_subprocess_launcher_spawn(
        l, &error, qemu_binary, "-sandbox", TANDEM_QEMU_SANDBOX, "-machine",
        "none", "-nodefaults", "-no-user-config", "-display", "none",
        "-monitor", "stdio", NULL);
  if (!p->proc) {
    g_autofree char *why = g_strdup_printf("cannot run %s: %s", qemu_binary,
                                           error->message);
    g_task_return_pointer(task, verdict_new(FALSE, FALSE, why), free_verdict);
    return;
  }
  p->timeout_ms = timeout_ms;
  p->timeout = g_timeout_source_new(timeout_ms);
  g_source_set_callback(p->timeout, on_probe_timeout, p, NULL);
  g_source_attach(p->timeout, g_main_context_get_thread_default());
  g_subprocess_communicate_async(p->proc, NULL, cancellable, on_probe_done,
                                 g_object_ref(task));
}

TandemSandboxVerdict *tandem_sandbox_probe_finish(GAsyncResult *result,
                                                  GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}
