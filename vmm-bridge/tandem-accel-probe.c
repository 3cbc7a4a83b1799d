/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-accel-probe.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tandem-vmm-error.h"

#define PROBE_MARKER "Linux version"

void tandem_accel_verdict_free(TandemAccelVerdict *v) {
  if (v) {
    g_free(v->reason);
    g_free(v);
  }
}

static TandemAccelVerdict *verdict_new(TandemAccel accel, gboolean cached,
                                       const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static TandemAccelVerdict *verdict_new(TandemAccel accel, gboolean cached,
                                       const char *fmt, ...) {
  va_list ap;
  TandemAccelVerdict *v = g_new0(TandemAccelVerdict, 1);
  va_start(ap, fmt);
  v->reason = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  v->accel = accel;
  v->from_cache = cached;
  return v;
}

char *tandem_accel_cache_path(void) {
  return g_build_filename(g_get_user_cache_dir(), "tandem", "accel-probe.ini",
                          NULL);
}

/* The verdict holds for this host kernel and this QEMU binary. */
static char *cache_key(const char *qemu_binary) {
  struct utsname u;
  GStatBuf st;
  g_autofree char *qemu = g_find_program_in_path(qemu_binary);
  if (uname(&u) != 0 || !qemu || g_stat(qemu, &st) != 0)
    return NULL;
  return g_strdup_printf("%s %s|%s:%lld:%lld", u.release, u.machine, qemu,
                         (long long)st.st_size, (long long)st.st_mtime);
}

static int cache_lookup(const char *key) {
  g_autofree char *path = tandem_accel_cache_path();
  g_autoptr(GKeyFile) kf = g_key_file_new();
  if (!key || !g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
    return -1;
  g_autofree char *v = g_key_file_get_string(kf, "probe", key, NULL);
  if (g_strcmp0(v, "kvm") == 0)
    return TANDEM_ACCEL_KVM;
  if (g_strcmp0(v, "tcg") == 0)
    return TANDEM_ACCEL_TCG;
  return -1;
}

static void cache_store(const char *key, TandemAccel accel) {
  g_autofree char *path = tandem_accel_cache_path();
  g_autofree char *dir = g_path_get_dirname(path);
  g_autoptr(GKeyFile) kf = g_key_file_new();
  if (!key)
    return;
  g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL);
  g_key_file_set_string(kf, "probe", key, tandem_accel_to_string(accel));
  g_mkdir_with_parents(dir, 0700);
  if (!g_key_file_save_to_file(kf, path, NULL))
    g_debug("could not cache the accelerator verdict in %s", path);
}

/* --- The probe ---------------------------------------------------------- */

typedef struct {
  GSubprocess *proc;
  GDataInputStream *out;
  GSource *timeout;
  gboolean returned; /* g_task_get_completed() lags until the callback */
  char *last_line;   /* QEMU's last words, for the verdict's reason */
} Probe;

static void probe_free(Probe *p) {
  if (p->timeout) {
    g_source_destroy(p->timeout);
    g_source_unref(p->timeout);
  }
  if (p->proc)
    g_subprocess_force_exit(p->proc);
  g_clear_object(&p->out);
  g_clear_object(&p->proc);
  g_free(p->last_line);
  g_free(p);
}

/* Returns @booted, or @error (taken) if set. */
static void probe_done(GTask *task, gboolean booted, GError *error) {
  Probe *p = g_task_get_task_data(task);
  if (p->returned) {
    g_clear_error(&error);
    return;
  }
  p->returned = TRUE;
  g_subprocess_force_exit(p->proc); /* it served its purpose either way */
  if (error)
    g_task_return_error(task, error);
  else
    g_task_return_boolean(task, booted);
}

static void on_probe_line(GObject *src, GAsyncResult *res, gpointer data) {
  g_autoptr(GTask) task = data;
  Probe *p = g_task_get_task_data(task);
  gsize len;
  GError *error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish(
      G_DATA_INPUT_STREAM(src), res, &len, &error);
  if (p->returned) {
    g_clear_error(&error);
    return;
  }
  if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    probe_done(task, FALSE, error);
    return;
  }
  g_clear_error(&error);
  if (!line) { /* EOF: QEMU exited (no KVM access, bad kernel, ...) */
    probe_done(task, FALSE, NULL);
    return;
  }
  if (strstr(line, PROBE_MARKER)) {
    probe_done(task, TRUE, NULL);
    return;
  }
  g_free(p->last_line);
  p->last_line = g_utf8_make_valid(line, MIN(len, 200));
  g_data_input_stream_read_line_async(p->out, G_PRIORITY_DEFAULT,
                                      g_task_get_cancellable(task),
                                      on_probe_line, g_object_ref(task));
}

static gboolean on_probe_timeout(gpointer data) {
  GTask *task = data;
  Probe *p = g_task_get_task_data(task);
  g_clear_pointer(&p->timeout, g_source_unref);
  probe_done(task, FALSE, NULL);
  return G_SOURCE_REMOVE;
}

void tandem_accel_probe_async(const char *qemu_binary, TandemAccel accel,
                              const char *kernel, guint timeout_ms,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data) {
  g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  gboolean kvm = accel == TANDEM_ACCEL_KVM;
  Probe *p = g_new0(Probe, 1);
  g_task_set_task_data(task, p, (GDestroyNotify)probe_free);

  /* The kernel panics for want of a root file system right after its first
   * lines; by then the answer is in. */
  p->proc = g_subprocess_new(
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
      &error, qemu_binary, "-accel", kvm ? "kvm" : "tcg", "-cpu",
      kvm ? "host" : "max", "-machine", "q35", "-m", "128", "-nodefaults",
      "-no-user-config", "-display", "none", "-nic", "none", "-no-reboot",
      "-kernel", kernel, "-append",
      "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1", "-serial", "stdio",
      NULL);
  if (!p->proc) {
    g_task_return_new_error(task, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_SPAWN,
                            "Cannot run %s: %s", qemu_binary, error->message);
    return;
  }
  p->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(p->proc));
  g_data_input_stream_set_newline_type(p->out, G_DATA_STREAM_NEWLINE_TYPE_ANY);
  p->timeout = g_timeout_source_new(timeout_ms);
  g_source_set_callback(p->timeout, on_probe_timeout, task, NULL);
  g_source_attach(p->timeout, NULL);
  g_data_input_stream_read_line_async(p->out, G_PRIORITY_DEFAULT, cancellable,
                                      on_probe_line, g_object_ref(task));
}

gboolean tandem_accel_probe_finish(GAsyncResult *result, char **qemu_said,
                                   GError **error) {
  Probe *p = g_task_get_task_data(G_TASK(result));
  if (qemu_said)
    *qemu_said = g_strdup(p->last_line);
  return g_task_propagate_boolean(G_TASK(result), error);
}

/* --- Choosing ------------------------------------------------------------- */

typedef struct {
  char *key;
} Choice;

static void choice_free(Choice *c) {
  g_free(c->key);
  g_free(c);
}

static void on_probed(GObject *src, GAsyncResult *res, gpointer data) {
  g_autoptr(GTask) task = data;
  Choice *c = g_task_get_task_data(task);
  g_autoptr(GError) error = NULL;
  g_autofree char *said = NULL;
  gboolean works = tandem_accel_probe_finish(res, &said, &error);
  if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  TandemAccel accel = works ? TANDEM_ACCEL_KVM : TANDEM_ACCEL_TCG;
  cache_store(c->key, accel);
  g_task_return_pointer(
      task,
      works ? verdict_new(accel, FALSE, "KVM booted a probe guest")
            : verdict_new(accel, FALSE,
                          "KVM is present but a probe guest did not boot "
                          "under it within %d s (nested virtualisation?)%s%s; "
                          "using TCG",
                          TANDEM_ACCEL_PROBE_TIMEOUT_MS / 1000,
                          said ? "; QEMU said: " : "", said ? said : ""),
      (GDestroyNotify)tandem_accel_verdict_free);
}

void tandem_accel_choose_async(TandemAccel configured, const char *qemu_binary,
                               const char *probe_kernel,
                               const char *kvm_device,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data) {
  g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
  GDestroyNotify free_verdict = (GDestroyNotify)tandem_accel_verdict_free;
  const char *env = g_getenv("TANDEM_ACCEL");

  if (env && *env) {
    if (g_ascii_strcasecmp(env, "kvm") == 0 ||
        g_ascii_strcasecmp(env, "tcg") == 0) {
      TandemAccel a = g_ascii_strcasecmp(env, "kvm") == 0 ? TANDEM_ACCEL_KVM
                                                          : TANDEM_ACCEL_TCG;
      g_task_return_pointer(task, verdict_new(a, FALSE, "TANDEM_ACCEL=%s", env),
                            free_verdict);
    } else {
      g_task_return_new_error(task, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_ACCEL,
                              "TANDEM_ACCEL=%s: use kvm or tcg", env);
    }
    return;
  }
  if (configured != TANDEM_ACCEL_AUTO) {
    g_task_return_pointer(task,
                          verdict_new(configured, FALSE,
                                      "the VM's configuration asks for %s",
                                      tandem_accel_to_string(configured)),
                          free_verdict);
    return;
  }
  int fd = open(kvm_device, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    g_task_return_pointer(task,
                          verdict_new(TANDEM_ACCEL_TCG, FALSE,
                                      "%s is not usable (%s); using TCG",
                                      kvm_device, g_strerror(errno)),
                          free_verdict);
    return;
  }
  close(fd);
  Choice *c = g_new0(Choice, 1);
  c->key = cache_key(qemu_binary);
  g_task_set_task_data(task, c, (GDestroyNotify)choice_free);
  int cached = cache_lookup(c->key);
  if (cached >= 0) {
    g_task_return_pointer(task,
                          verdict_new((TandemAccel)cached, TRUE,
                                      "cached probe verdict: %s",
                                      tandem_accel_to_string(cached)),
                          free_verdict);
    return;
  }
  if (!probe_kernel) {
    g_task_return_pointer(task,
                          verdict_new(TANDEM_ACCEL_TCG, FALSE,
                                      "no kernel to probe KVM with; using TCG "
                                      "to be safe"),
                          free_verdict);
    return;
  }
  tandem_accel_probe_async(qemu_binary, TANDEM_ACCEL_KVM, probe_kernel,
                           TANDEM_ACCEL_PROBE_TIMEOUT_MS, cancellable,
                           on_probed, g_object_ref(task));
}

TandemAccelVerdict *tandem_accel_choose_finish(GAsyncResult *result,
                                               GError **error) {
  return g_task_propagate_pointer(G_TASK(result), error);
}
