/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-runtime-dir.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tandem-qemu-argv.h"
#include "tandem-vmm-error.h"

struct _TandemRuntimeDir {
  char *path;
  int lock_fd;
};

static const char *const sockets[] = {
    TANDEM_RUNTIME_QMP, TANDEM_RUNTIME_AGENT, TANDEM_RUNTIME_SPICE,
    TANDEM_RUNTIME_CONSOLE, NULL};

char *tandem_runtime_dir_path_for(const char *vm_name) {
  return g_build_filename(g_get_user_runtime_dir(), "tandem", vm_name, NULL);
}

static gboolean fail(GError **error, int code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static gboolean fail(GError **error, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, TANDEM_VMM_ERROR, code, msg);
  return FALSE;
}

static void remove_sockets(const char *path) {
  for (int i = 0; sockets[i]; i++) {
    g_autofree char *s = g_build_filename(path, sockets[i], NULL);
    g_unlink(s);
  }
}

TandemRuntimeDir *tandem_runtime_dir_acquire(const char *vm_name,
                                             GError **error) {
  g_autofree char *path = tandem_runtime_dir_path_for(vm_name);
  g_autofree char *longest = g_build_filename(path, TANDEM_RUNTIME_CONSOLE,
                                              NULL);
  struct sockaddr_un sa;
  struct stat st;

  if (strlen(longest) >= sizeof(sa.sun_path)) {
    fail(error, TANDEM_VMM_ERROR_RUNTIME_DIR,
         "The runtime directory %s is too long for UNIX sockets; set "
         "XDG_RUNTIME_DIR to a shorter path",
         path);
    return NULL;
  }
  if (g_mkdir_with_parents(path, 0700) != 0 || lstat(path, &st) != 0 ||
      !S_ISDIR(st.st_mode) || st.st_uid != getuid()) {
    fail(error, TANDEM_VMM_ERROR_RUNTIME_DIR,
         "Cannot use %s as the VM's runtime directory: %s", path,
         errno ? g_strerror(errno) : "not a directory of yours");
    return NULL;
  }
  chmod(path, 0700); /* it holds the monitor socket: nobody else may enter */

  g_autofree char *lock_path = g_build_filename(path, TANDEM_RUNTIME_LOCK,
                                                NULL);
  int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    fail(error, TANDEM_VMM_ERROR_RUNTIME_DIR, "Cannot open %s: %s", lock_path,
         g_strerror(errno));
    return NULL;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
    pid[n > 0 ? n : 0] = '\0';
    g_strchomp(pid);
    close(fd);
    fail(error, TANDEM_VMM_ERROR_ALREADY_RUNNING,
         "“%s” is already running%s%s%s", vm_name, *pid ? " (QEMU process " : "",
         pid, *pid ? ")" : "");
    return NULL;
  }
  /* Nobody holds the lock, so any socket here belongs to a dead VM. */
  remove_sockets(path);
  TandemRuntimeDir *dir = g_new0(TandemRuntimeDir, 1);
  dir->path = g_steal_pointer(&path);
  dir->lock_fd = fd;
  return dir;
}

void tandem_runtime_dir_set_pid(TandemRuntimeDir *dir, GPid pid) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
  if (ftruncate(dir->lock_fd, 0) != 0 ||
      pwrite(dir->lock_fd, buf, (size_t)n, 0) != n)
    g_debug("could not record QEMU's pid: %s", g_strerror(errno));
}

void tandem_runtime_dir_release(TandemRuntimeDir *dir) {
  if (!dir)
    return;
  remove_sockets(dir->path);
  if (ftruncate(dir->lock_fd, 0) != 0)
    g_debug("could not clear the lock file");
  close(dir->lock_fd);
  g_free(dir->path);
  g_free(dir);
}

const char *tandem_runtime_dir_get_path(TandemRuntimeDir *dir) {
  return dir->path;
}

int tandem_runtime_dir_get_lock_fd(TandemRuntimeDir *dir) {
  return dir->lock_fd;
}
