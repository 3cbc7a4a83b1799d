/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-vm.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tandem-accel-probe.h"
#include "tandem-qemu-argv.h"
#include "tandem-runtime-dir.h"
#include "tandem-sandbox-probe.h"
#include "tandem-vmm-error.h"

#define CONSOLE_MAX_LINE 4096
#define CRASH_LOG_LINES 20
#define QMP_RETRY_MS 20

struct _TandemVm {
  GObject parent_instance;

  TandemVmConfig *config;
  TandemVmState state;
  TandemAccel accel;
  char *accel_reason;
  gboolean sandbox;            /* QEMU runs under -sandbox (the probe said so) */
  char *crash_report;

  /* One run of QEMU; all cleared when it exits. */
  TandemRuntimeDir *rundir;
  TandemPixelRegion *pixels;   /* shared with the guest, NULL: none */
  GSubprocess *proc;
  TandemQmpClient *qmp;
  GCancellable *run_cancel;    /* cancelled when the process exits */
  GSocketConnection *console;
  GByteArray *console_line;
  gboolean console_skipping;   /* inside a line past CONSOLE_MAX_LINE */
  gboolean exit_expected;      /* a stop was asked for, or the guest shut down */
  gint64 qmp_deadline;

  GTask *start_task;
  GPtrArray *stop_tasks;       /* every stop call waits for the exit */
  GSource *stop_timer;
  gboolean stop_quit_sent;
  gboolean incoming;           /* the next start receives a saved state */
  gboolean run_incoming;       /* this run does */

  guint qmp_ready_ms, powerdown_ms, quit_ms;
  TandemVmTimings timings;
};

G_DEFINE_TYPE(TandemVm, tandem_vm, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_STATE, N_PROPS };
static GParamSpec *props[N_PROPS];
enum { SIGNAL_STATE_CHANGED, SIGNAL_CONSOLE_LINE, N_SIGNALS };
static guint signals[N_SIGNALS];

const char *tandem_vm_state_to_string(TandemVmState state) {
  static const char *const names[] = {"stopped", "starting", "running",
                                      "paused",  "stopping", "crashed"};
  return (unsigned)state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

static void set_state(TandemVm *self, TandemVmState state) {
  if (self->state == state)
    return;
  TandemVmState old = self->state;
  self->state = state;
  g_debug("VM %s: %s -> %s", self->config->name,
          tandem_vm_state_to_string(old), tandem_vm_state_to_string(state));
  g_object_notify_by_pspec(G_OBJECT(self), props[PROP_STATE]);
  g_signal_emit(self, signals[SIGNAL_STATE_CHANGED], 0, old, state);
}

static const char *qemu_binary(void) {
  const char *env = g_getenv("TANDEM_QEMU");
  return env && *env ? env : "qemu-system-x86_64";
}

static void clear_stop_timer(TandemVm *self) {
  if (self->stop_timer) {
    g_source_destroy(self->stop_timer);
    g_clear_pointer(&self->stop_timer, g_source_unref);
  }
}

/* The last lines of QEMU's own log (never more than 16 KiB of it). */
static char *log_tail(const char *path) {
  g_autoptr(GFile) file = g_file_new_for_path(path);
  g_autoptr(GFileInputStream) in = g_file_read(file, NULL, NULL);
  char buf[16384];
  if (!in)
    return g_strdup("");
  g_seekable_seek(G_SEEKABLE(in), -(goffset)sizeof(buf), G_SEEK_END, NULL,
                  NULL);
  gsize n = 0;
  g_input_stream_read_all(G_INPUT_STREAM(in), buf, sizeof(buf) - 1, &n, NULL,
                          NULL);
  buf[n] = '\0';
  g_auto(GStrv) lines = g_strsplit(g_strchomp(buf), "\n", -1);
  guint count = g_strv_length(lines);
  guint first = count > CRASH_LOG_LINES ? count - CRASH_LOG_LINES : 0;
  return g_strjoinv("\n", lines + first);
}

/* --- Ending a run ----------------------------------------------------- */

static void fail_start(TandemVm *self, GError *error) {
  g_autoptr(GTask) task = g_steal_pointer(&self->start_task);
  if (task)
    g_task_return_error(task, error);
  else
    g_error_free(error);
}

static void on_exited(GObject *source, GAsyncResult *result, gpointer data) {
  g_autoptr(TandemVm) self = data;
  GSubprocess *proc = G_SUBPROCESS(source);
  g_subprocess_wait_finish(proc, result, NULL);
  if (proc != self->proc)
    return;

  g_autofree char *how = NULL;
  if (g_subprocess_get_if_signaled(proc))
    how = g_strdup_printf("QEMU was killed by signal %d (%s)",
                          g_subprocess_get_term_sig(proc),
                          g_strsignal(g_subprocess_get_term_sig(proc)));
  else
    how = g_strdup_printf("QEMU exited with status %d",
                          g_subprocess_get_exit_status(proc));
  gboolean expected = self->exit_expected;
  if (!expected) {
    g_autofree char *log_path = g_build_filename(
        tandem_runtime_dir_get_path(self->rundir), TANDEM_RUNTIME_QEMU_LOG,
        NULL);
    g_autofree char *tail = log_tail(log_path);
    g_free(self->crash_report);
    self->crash_report = g_strdup_printf("%s.%s%s", how, *tail ? "\n" : "",
                                         tail);
    g_warning("VM %s: %s", self->config->name, self->crash_report);
  }

  /* Everything of this run goes, before anyone is told. */
  g_cancellable_cancel(self->run_cancel);
  g_clear_object(&self->run_cancel);
  if (self->qmp) {
    g_signal_handlers_disconnect_by_data(self->qmp, self);
    tandem_qmp_client_close(self->qmp);
    g_clear_object(&self->qmp);
  }
  g_clear_object(&self->console);
  /* A line the old run left unfinished is not the start of the next's. */
  g_byte_array_set_size(self->console_line, 0);
  self->console_skipping = FALSE;
  clear_stop_timer(self);
  g_clear_pointer(&self->pixels, tandem_pixel_region_unref);
  g_clear_pointer(&self->rundir, tandem_runtime_dir_release);
  g_clear_object(&self->proc);

  set_state(self, expected ? TANDEM_VM_STOPPED : TANDEM_VM_CRASHED);
  if (self->start_task && expected)
    fail_start(self, g_error_new(TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_NOT_RUNNING,
                                 "“%s” was stopped while starting",
                                 self->config->name));
  else if (self->start_task)
    fail_start(self, g_error_new(TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_CRASHED,
                                 "“%s” could not start: %s",
                                 self->config->name, self->crash_report));
  g_autoptr(GPtrArray) stops = g_steal_pointer(&self->stop_tasks);
  self->stop_tasks = g_ptr_array_new_with_free_func(g_object_unref);
  for (guint i = 0; i < stops->len; i++)
    g_task_return_boolean(stops->pdata[i], TRUE);
}

/* --- QMP events --------------------------------------------------------- */

static void on_qmp_event(TandemQmpClient *qmp, const char *name,
                         JsonObject *data, gint64 us, gpointer user) {
  TandemVm *self = user;
  if (g_str_equal(name, "STOP")) {
    if (self->state == TANDEM_VM_RUNNING)
      set_state(self, TANDEM_VM_PAUSED);
  } else if (g_str_equal(name, "RESUME")) {
    if (self->state == TANDEM_VM_PAUSED)
      set_state(self, TANDEM_VM_RUNNING);
  } else if (g_str_equal(name, "SHUTDOWN")) {
    /* QEMU exits next, by itself: a clean stop, not a crash. */
    self->exit_expected = TRUE;
    if (self->state == TANDEM_VM_RUNNING || self->state == TANDEM_VM_PAUSED)
      set_state(self, TANDEM_VM_STOPPING);
  }
}

/* --- The serial console --------------------------------------------------- */

static void read_console(TandemVm *self);

static void emit_console_line(TandemVm *self) {
  GByteArray *l = self->console_line;
  if (l->len && l->data[l->len - 1] == '\r')
    g_byte_array_set_size(l, l->len - 1);
  g_byte_array_append(l, (const guint8 *)"", 1);
  /* Guest output: make it valid UTF-8 before anyone displays it. */
  g_autofree char *line = g_utf8_make_valid((const char *)l->data, -1);
  g_byte_array_set_size(l, 0);
  if (!self->timings.first_console)
    self->timings.first_console = g_get_monotonic_time();
  /* G_MESSAGES_DEBUG=all shows what the guest says while it boots. */
  g_debug("VM %s console: %s", self->config->name, line);
  g_signal_emit(self, signals[SIGNAL_CONSOLE_LINE], 0, line);
}

static void on_console_read(GObject *source, GAsyncResult *result,
                            gpointer data) {
  g_autoptr(TandemVm) self = data;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish(
      G_INPUT_STREAM(source), result, NULL);
  gsize len;
  const guint8 *p = bytes ? g_bytes_get_data(bytes, &len) : NULL;
  if (!p || len == 0 || !self->console)
    return; /* closed: the VM is gone */
  for (gsize i = 0; i < len; i++) {
    if (p[i] == '\n') {
      if (!self->console_skipping)
        emit_console_line(self);
      self->console_skipping = FALSE;
    } else if (!self->console_skipping) {
      g_byte_array_append(self->console_line, &p[i], 1);
      if (self->console_line->len >= CONSOLE_MAX_LINE) {
        emit_console_line(self); /* cut; the rest of the line is dropped */
        self->console_skipping = TRUE;
      }
    }
  }
  read_console(self);
}

static void read_console(TandemVm *self) {
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(self->console));
  g_input_stream_read_bytes_async(in, 4096, G_PRIORITY_DEFAULT,
                                  self->run_cancel, on_console_read,
                                  g_object_ref(self));
}

/* --- Starting ------------------------------------------------------------- */

static void on_cont(GObject *source, GAsyncResult *result, gpointer data) {
  g_autoptr(TandemVm) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = tandem_qmp_client_execute_finish(
      TANDEM_QMP_CLIENT(source), result, &error);
  if (!self->start_task || self->state != TANDEM_VM_STARTING)
    return;
  if (!ret) {
    if (self->proc)
      g_subprocess_force_exit(self->proc); /* on_exited fails the start */
    return;
  }
  self->timings.running = g_get_monotonic_time();
  set_state(self, TANDEM_VM_RUNNING);
  g_autoptr(GTask) task = g_steal_pointer(&self->start_task);
  g_task_return_boolean(task, TRUE);
}

static void let_guest_run(TandemVm *self) {
  tandem_qmp_client_execute_async(self->qmp, "cont", NULL, -1, 0, NULL,
                                  on_cont, g_object_ref(self));
}

/* An incoming start is done once QEMU listens: the guest stays paused
 * until its state has come in and the caller resumes it. */
static void ready_for_state(TandemVm *self) {
  self->timings.running = g_get_monotonic_time();
  set_state(self, TANDEM_VM_PAUSED);
  g_autoptr(GTask) task = g_steal_pointer(&self->start_task);
  g_task_return_boolean(task, TRUE);
}

static void on_console_connected(GObject *source, GAsyncResult *result,
                                 gpointer data) {
  g_autoptr(TandemVm) self = data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn = g_socket_client_connect_finish(
      G_SOCKET_CLIENT(source), result, &error);
  if (!self->proc || !self->qmp) {
    g_clear_object(&conn);
    return;
  }
  if (conn) {
    self->console = conn;
    read_console(self);
  } else {
    g_warning("VM %s: no serial console: %s", self->config->name,
              error->message);
  }
  /* The console is attached before the guest runs: no line is missed. */
  if (self->run_incoming) {
    ready_for_state(self);
  } else {
    let_guest_run(self);
  }
}

static void try_connect_qmp(TandemVm *self);

static gboolean retry_qmp(gpointer data) {
  TandemVm *self = data;
  if (self->proc && self->start_task)
    try_connect_qmp(self);
  return G_SOURCE_REMOVE;
}

static void on_qmp_connected(GObject *source, GAsyncResult *result,
                             gpointer data) {
  g_autoptr(TandemVm) self = data;
  g_autoptr(GError) error = NULL;
  TandemQmpClient *qmp = tandem_qmp_client_connect_finish(result, &error);
  if (!self->proc || !self->start_task) {
    g_clear_object(&qmp);
    return; /* QEMU exited meanwhile; on_exited reports it */
  }
  if (!qmp) {
    /* Not listening yet, or QEMU is on its way out (its socket existed a
     * moment). Either way try again: if QEMU exits, on_exited reports how,
     * with its log; only a QEMU alive but mute until the deadline is a
     * timeout. */
    if (g_get_monotonic_time() < self->qmp_deadline) {
      g_timeout_add_full(G_PRIORITY_DEFAULT, QMP_RETRY_MS, retry_qmp,
                         g_object_ref(self), g_object_unref);
      return;
    }
    fail_start(self, g_error_new(TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_TIMEOUT,
                                 "QEMU's monitor for “%s” did not come up: %s",
                                 self->config->name, error->message));
    self->exit_expected = TRUE;
    g_subprocess_force_exit(self->proc);
    return;
  }
  self->qmp = qmp;
  self->timings.qmp_ready = g_get_monotonic_time();
  g_signal_connect(qmp, "event", G_CALLBACK(on_qmp_event), self);

  g_autoptr(GSocketClient) sc = g_socket_client_new();
  g_autofree char *path = g_build_filename(
      tandem_runtime_dir_get_path(self->rundir), TANDEM_RUNTIME_CONSOLE, NULL);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
  g_socket_client_connect_async(sc, G_SOCKET_CONNECTABLE(addr),
                                self->run_cancel, on_console_connected,
                                g_object_ref(self));
}

static void try_connect_qmp(TandemVm *self) {
  g_autofree char *path = g_build_filename(
      tandem_runtime_dir_get_path(self->rundir), TANDEM_RUNTIME_QMP, NULL);
  tandem_qmp_client_connect_async(path, self->qmp_ready_ms, self->run_cancel,
                                  on_qmp_connected, g_object_ref(self));
}

static void child_setup(gpointer data) {
  /* QEMU does not outlive the shell that supervises it. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean spawn_qemu(TandemVm *self, GError **error) {
  const char *binary = qemu_binary();
  g_autofree char *found = g_find_program_in_path(binary);
  if (!found) {
    g_set_error(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_SPAWN,
                "QEMU (%s) is not installed: install the qemu-system-x86 "
                "package",
                binary);
    return FALSE;
  }
  self->rundir = tandem_runtime_dir_acquire(self->config->name, error);
  if (!self->rundir)
    return FALSE;
  const char *dir = tandem_runtime_dir_get_path(self->rundir);
  self->run_incoming = self->incoming;
  self->incoming = FALSE;
  if (self->config->pixel_memory && !self->run_incoming) {
    /* Without it pixels go through the agent's channel: slower, not
     * broken. */
    g_autoptr(GError) local = NULL;
    g_autofree char *pixels = g_build_filename(dir, TANDEM_RUNTIME_PIXELS,
                                               NULL);
    self->pixels = tandem_pixel_region_create(
        pixels, self->config->pixel_memory, &local);
    if (!self->pixels)
      g_warning("VM %s: %s", self->config->name, local->message);
  }
  TandemQemuLaunch launch = {found, dir, self->accel, TRUE,
                             self->run_incoming, self->sandbox,
                             self->pixels != NULL};
  g_auto(GStrv) argv = tandem_qemu_argv_build(self->config, &launch);
  g_autofree char *log = g_build_filename(dir, TANDEM_RUNTIME_QEMU_LOG, NULL);
  g_autofree char *cmdline = g_strjoinv(" ", argv);
  g_debug("VM %s: %s", self->config->name, cmdline);

  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
      G_SUBPROCESS_FLAGS_STDIN_INHERIT | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path(l, log);
  g_subprocess_launcher_set_child_setup(l, child_setup, NULL, NULL);
  /* QEMU holds the runtime directory's lock for as long as it lives. */
  int lock = dup(tandem_runtime_dir_get_lock_fd(self->rundir));
  if (lock >= 0)
    g_subprocess_launcher_take_fd(l, lock, 3);
  self->proc = g_subprocess_launcher_spawnv(l, (const char *const *)argv,
                                            error);
  if (!self->proc) {
    g_clear_pointer(&self->pixels, tandem_pixel_region_unref);
    g_clear_pointer(&self->rundir, tandem_runtime_dir_release);
    return FALSE;
  }
  tandem_runtime_dir_set_pid(self->rundir,
                             (GPid)atoi(g_subprocess_get_identifier(self->proc)));
  self->timings.spawned = g_get_monotonic_time();
  self->run_cancel = g_cancellable_new();
  self->exit_expected = FALSE;
  self->stop_quit_sent = FALSE;
  g_subprocess_wait_async(self->proc, NULL, on_exited, g_object_ref(self));
  return TRUE;
}

static void on_sandbox_probed(GObject *source, GAsyncResult *result,
                              gpointer data);

static void on_accel_chosen(GObject *source, GAsyncResult *result,
                            gpointer data) {
  g_autoptr(TandemVm) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemAccelVerdict) v = tandem_accel_choose_finish(result, &error);
  if (!v) {
    set_state(self, TANDEM_VM_STOPPED);
    fail_start(self, g_steal_pointer(&error));
    return;
  }
  self->accel = v->accel;
  g_free(self->accel_reason);
  self->accel_reason = g_strdup(v->reason);
  g_debug("VM %s: accelerator %s (%s)", self->config->name,
            tandem_accel_to_string(v->accel), v->reason);
  tandem_sandbox_probe_async(
      qemu_binary(), TANDEM_SANDBOX_PROBE_TIMEOUT_MS,
      self->start_task ? g_task_get_cancellable(self->start_task) : NULL,
      on_sandbox_probed, g_object_ref(self));
}

static void on_sandbox_probed(GObject *source, GAsyncResult *result,
                              gpointer data) {
  g_autoptr(TandemVm) self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSandboxVerdict) v =
      tandem_sandbox_probe_finish(result, &error);
  if (!v) {
    set_state(self, TANDEM_VM_STOPPED);
    fail_start(self, g_steal_pointer(&error));
    return;
  }
  self->sandbox = v->sandboxed;
  /* Running unconfined is worth a warning; a kept verdict is not told
   * again. */
  if (!v->sandboxed && !v->from_cache)
    g_warning("VM %s: QEMU runs without its seccomp sandbox: %s",
              self->config->name, v->reason);
  else
    g_debug("VM %s: %s", self->config->name, v->reason);
  if (!spawn_qemu(self, &error)) {
    set_state(self, TANDEM_VM_STOPPED);
    fail_start(self, g_steal_pointer(&error));
    return;
  }
  self->qmp_deadline = g_get_monotonic_time() +
                       (gint64)self->qmp_ready_ms * 1000;
  try_connect_qmp(self);
}

void tandem_vm_start_async(TandemVm *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data) {
  g_return_if_fail(TANDEM_IS_VM(self));
  g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  g_task_set_source_tag(task, tandem_vm_start_async);

  if (self->state == TANDEM_VM_STARTING || self->state == TANDEM_VM_STOPPING) {
    g_task_return_new_error(task, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_BUSY,
                            "“%s” is %s; try again when it is done",
                            self->config->name,
                            tandem_vm_state_to_string(self->state));
    return;
  }
  if (self->state != TANDEM_VM_STOPPED && self->state != TANDEM_VM_CRASHED) {
    g_task_return_new_error(task, TANDEM_VMM_ERROR,
                            TANDEM_VMM_ERROR_ALREADY_RUNNING,
                            "“%s” is already running", self->config->name);
    return;
  }
  if (!tandem_vm_config_check_files(self->config, &error)) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  memset(&self->timings, 0, sizeof(self->timings));
  g_clear_pointer(&self->crash_report, g_free);
  self->start_task = g_steal_pointer(&task);
  set_state(self, TANDEM_VM_STARTING);
  const char *kvm = g_getenv("TANDEM_KVM_DEVICE");
  tandem_accel_choose_async(self->config->accel, qemu_binary(),
                            self->config->kernel ? self->config->kernel
                                                 : g_getenv("TANDEM_PROBE_KERNEL"),
                            kvm && *kvm ? kvm : "/dev/kvm", cancellable,
                            on_accel_chosen, g_object_ref(self));
}

gboolean tandem_vm_start_finish(TandemVm *self, GAsyncResult *result,
                                GError **error) {
  g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
  return g_task_propagate_boolean(G_TASK(result), error);
}

/* --- Stopping ------------------------------------------------------------- */

static void on_stop_command(GObject *source, GAsyncResult *result,
                            gpointer data) {
  JsonNode *ret = tandem_qmp_client_execute_finish(TANDEM_QMP_CLIENT(source),
                                                   result, NULL);
  /* Errors do not matter: the timer escalates if QEMU does not exit. */
  if (ret)
    json_node_unref(ret);
}

static gboolean on_stop_timer(gpointer data);

static void arm_stop_timer(TandemVm *self, guint ms) {
  clear_stop_timer(self);
  self->stop_timer = g_timeout_source_new(ms);
  g_source_set_callback(self->stop_timer, on_stop_timer, self, NULL);
  g_source_attach(self->stop_timer, NULL);
}

/* Power-down ignored: "quit". "quit" ignored: SIGKILL. */
static void escalate(TandemVm *self) {
  if (!self->proc)
    return;
  if (!self->stop_quit_sent && self->qmp &&
      tandem_qmp_client_is_connected(self->qmp)) {
    self->stop_quit_sent = TRUE;
    tandem_qmp_client_execute_async(self->qmp, "quit", NULL, -1, 0, NULL,
                                    on_stop_command, NULL);
    arm_stop_timer(self, self->quit_ms);
    return;
  }
  g_warning("VM %s: QEMU did not quit; killing it", self->config->name);
  clear_stop_timer(self);
  g_subprocess_force_exit(self->proc);
}

static gboolean on_stop_timer(gpointer data) {
  TandemVm *self = data;
  g_clear_pointer(&self->stop_timer, g_source_unref);
  escalate(self);
  return G_SOURCE_REMOVE;
}

void tandem_vm_stop_async(TandemVm *self, gboolean force,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data) {
  g_return_if_fail(TANDEM_IS_VM(self));
  g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, tandem_vm_stop_async);

  if (!self->proc) {
    gboolean probing = self->state == TANDEM_VM_STARTING;
    g_task_return_new_error(task, TANDEM_VMM_ERROR,
                            probing ? TANDEM_VMM_ERROR_BUSY
                                    : TANDEM_VMM_ERROR_NOT_RUNNING,
                            probing ? "“%s” is still choosing its accelerator; "
                                      "try again in a moment"
                                    : "“%s” is not running",
                            self->config->name);
    return;
  }
  g_ptr_array_add(self->stop_tasks, g_steal_pointer(&task));
  gboolean was_stopping = self->state == TANDEM_VM_STOPPING;
  self->exit_expected = TRUE;
  set_state(self, TANDEM_VM_STOPPING);
  if (force || self->start_task || !self->qmp) {
    escalate(self); /* a guest that has not booted cannot power down */
  } else if (!was_stopping) {
    tandem_qmp_client_execute_async(self->qmp, "system_powerdown", NULL, -1, 0,
                                    NULL, on_stop_command, NULL);
    arm_stop_timer(self, self->powerdown_ms);
  }
}

gboolean tandem_vm_stop_finish(TandemVm *self, GAsyncResult *result,
                               GError **error) {
  g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
  return g_task_propagate_boolean(G_TASK(result), error);
}

/* --- Pause, resume, reset ------------------------------------------------- */

static void on_command(GObject *source, GAsyncResult *result, gpointer data) {
  g_autoptr(GTask) task = data;
  TandemVm *self = g_task_get_source_object(task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = tandem_qmp_client_execute_finish(
      TANDEM_QMP_CLIENT(source), result, &error);
  if (!ret) {
    g_task_return_error(task, g_steal_pointer(&error));
    return;
  }
  /* Do not wait for the event: callers see the new state on return. */
  TandemVmState want = GPOINTER_TO_INT(g_task_get_task_data(task));
  if ((want == TANDEM_VM_PAUSED && self->state == TANDEM_VM_RUNNING) ||
      (want == TANDEM_VM_RUNNING && self->state == TANDEM_VM_PAUSED))
    set_state(self, want);
  g_task_return_boolean(task, TRUE);
}

static void run_command(TandemVm *self, const char *command,
                        TandemVmState need, TandemVmState result_state,
                        GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data) {
  g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
  g_task_set_source_tag(task, run_command);
  g_task_set_task_data(task, GINT_TO_POINTER(result_state), NULL);
  if (self->state == result_state && self->qmp && need != result_state) {
    g_task_return_boolean(task, TRUE); /* already paused / already running */
    return;
  }
  if (self->state != need || !self->qmp) {
    gboolean running = self->state == TANDEM_VM_RUNNING ||
                       self->state == TANDEM_VM_PAUSED;
    g_task_return_new_error(task, TANDEM_VMM_ERROR,
                            running ? TANDEM_VMM_ERROR_BUSY
                                    : TANDEM_VMM_ERROR_NOT_RUNNING,
                            "“%s” is %s, not %s", self->config->name,
                            tandem_vm_state_to_string(self->state),
                            tandem_vm_state_to_string(need));
    return;
  }
  tandem_qmp_client_execute_async(self->qmp, command, NULL, -1, 0, cancellable,
                                  on_command, g_steal_pointer(&task));
}

void tandem_vm_pause_async(TandemVm *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data) {
  run_command(self, "stop", TANDEM_VM_RUNNING, TANDEM_VM_PAUSED, cancellable,
              callback, user_data);
}

void tandem_vm_resume_async(TandemVm *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data) {
  run_command(self, "cont", TANDEM_VM_PAUSED, TANDEM_VM_RUNNING, cancellable,
              callback, user_data);
}

void tandem_vm_reset_async(TandemVm *self, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data) {
  run_command(self, "system_reset", TANDEM_VM_RUNNING, TANDEM_VM_RUNNING,
              cancellable, callback, user_data);
}

gboolean tandem_vm_command_finish(TandemVm *self, GAsyncResult *result,
                                  GError **error) {
  g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
  return g_task_propagate_boolean(G_TASK(result), error);
}

/* --- Accessors and object ------------------------------------------------- */

const char *tandem_vm_get_name(TandemVm *self) { return self->config->name; }
const TandemVmConfig *tandem_vm_get_config(TandemVm *self) {
  return self->config;
}
TandemVmState tandem_vm_get_state(TandemVm *self) { return self->state; }
TandemAccel tandem_vm_get_accel(TandemVm *self) { return self->accel; }
const char *tandem_vm_get_accel_reason(TandemVm *self) {
  return self->accel_reason;
}
const char *tandem_vm_get_crash_report(TandemVm *self) {
  return self->crash_report;
}
const char *tandem_vm_get_runtime_dir(TandemVm *self) {
  return self->rundir ? tandem_runtime_dir_get_path(self->rundir) : NULL;
}
TandemQmpClient *tandem_vm_get_qmp(TandemVm *self) { return self->qmp; }
TandemPixelRegion *tandem_vm_get_pixel_region(TandemVm *self) {
  return self->pixels;
}
GPid tandem_vm_get_pid(TandemVm *self) {
  return self->proc ? (GPid)atoi(g_subprocess_get_identifier(self->proc)) : 0;
}
gboolean tandem_vm_is_sandboxed(TandemVm *self) {
  return self->proc && self->sandbox;
}

void tandem_vm_get_timings(TandemVm *self, TandemVmTimings *out) {
  *out = self->timings;
}

gboolean tandem_vm_set_config(TandemVm *self, TandemVmConfig *config,
                              GError **error) {
  if (self->state != TANDEM_VM_STOPPED && self->state != TANDEM_VM_CRASHED) {
    tandem_vm_config_free(config);
    g_set_error(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_BUSY,
                "“%s” is %s: stop it before changing its configuration",
                self->config->name, tandem_vm_state_to_string(self->state));
    return FALSE;
  }
  tandem_vm_config_free(self->config);
  self->config = config;
  return TRUE;
}

void tandem_vm_set_incoming(TandemVm *self, gboolean incoming) {
  self->incoming = incoming;
}

gboolean tandem_vm_set_disk_path(TandemVm *self, const char *name,
                                 const char *path) {
  if (!*name) {
    if (!self->config->image)
      return FALSE;
    g_free(self->config->image);
    self->config->image = g_strdup(path);
    return TRUE;
  }
  for (guint i = 0; i < self->config->disks->len; i++) {
    TandemVmDisk *d = self->config->disks->pdata[i];
    if (g_str_equal(d->name, name)) {
      g_free(d->path);
      d->path = g_strdup(path);
      return TRUE;
    }
  }
  return FALSE;
}

void tandem_vm_set_snapshot_schedule(TandemVm *self, guint64 every,
                                     guint keep, guint64 max_age) {
  self->config->snapshot_every = every;
  self->config->snapshot_keep = keep;
  self->config->snapshot_max_age = max_age;
}

void tandem_vm_set_timeouts(TandemVm *self, guint qmp_ready_ms,
                            guint powerdown_ms, guint quit_ms) {
  if (qmp_ready_ms)
    self->qmp_ready_ms = qmp_ready_ms;
  if (powerdown_ms)
    self->powerdown_ms = powerdown_ms;
  if (quit_ms)
    self->quit_ms = quit_ms;
}

TandemVm *tandem_vm_new(TandemVmConfig *config) {
  g_return_val_if_fail(config != NULL, NULL);
  TandemVm *self = g_object_new(TANDEM_TYPE_VM, NULL);
  self->config = config;
  return self;
}

static void tandem_vm_get_property(GObject *object, guint id, GValue *value,
                                   GParamSpec *pspec) {
  TandemVm *self = TANDEM_VM(object);
  switch (id) {
  case PROP_NAME:
    g_value_set_string(value, self->config ? self->config->name : NULL);
    break;
  case PROP_STATE:
    g_value_set_int(value, self->state);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void tandem_vm_dispose(GObject *object) {
  TandemVm *self = TANDEM_VM(object);
  /* Pending callbacks hold references, so this only runs once no QEMU is
   * supervised any more; make sure of it. */
  if (self->proc)
    g_subprocess_force_exit(self->proc);
  clear_stop_timer(self);
  g_clear_object(&self->qmp);
  g_clear_object(&self->console);
  g_clear_object(&self->run_cancel);
  g_clear_object(&self->proc);
  g_clear_pointer(&self->pixels, tandem_pixel_region_unref);
  g_clear_pointer(&self->rundir, tandem_runtime_dir_release);
  G_OBJECT_CLASS(tandem_vm_parent_class)->dispose(object);
}

static void tandem_vm_finalize(GObject *object) {
  TandemVm *self = TANDEM_VM(object);
  tandem_vm_config_free(self->config);
  g_free(self->accel_reason);
  g_free(self->crash_report);
  g_byte_array_unref(self->console_line);
  g_ptr_array_unref(self->stop_tasks);
  G_OBJECT_CLASS(tandem_vm_parent_class)->finalize(object);
}

static void tandem_vm_class_init(TandemVmClass *klass) {
  GObjectClass *object_class = G_OBJECT_CLASS(klass);
  object_class->get_property = tandem_vm_get_property;
  object_class->dispose = tandem_vm_dispose;
  object_class->finalize = tandem_vm_finalize;

  props[PROP_NAME] = g_param_spec_string("name", NULL, NULL, NULL,
                                         G_PARAM_READABLE |
                                             G_PARAM_STATIC_STRINGS);
  props[PROP_STATE] = g_param_spec_int(
      "state", NULL, NULL, TANDEM_VM_STOPPED, TANDEM_VM_CRASHED,
      TANDEM_VM_STOPPED, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties(object_class, N_PROPS, props);

  signals[SIGNAL_STATE_CHANGED] = g_signal_new(
      "state-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
  signals[SIGNAL_CONSOLE_LINE] = g_signal_new(
      "console-line", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void tandem_vm_init(TandemVm *self) {
  self->state = TANDEM_VM_STOPPED;
  self->accel = TANDEM_ACCEL_AUTO;
  self->console_line = g_byte_array_new();
  self->stop_tasks = g_ptr_array_new_with_free_func(g_object_unref);
  self->qmp_ready_ms = 10000;
  self->powerdown_ms = 30000;
  self->quit_ms = 5000;
}
