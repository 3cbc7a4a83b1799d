/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who keeps a mount busy: the programs whose working directory, root,
 * executable or open files are under it, read from /proc without following
 * anything (tandem_mount_scan_users() in tandem-agent-mount.h). */
#include "tandem-agent-mount.h"
#include "tandem-agent-mount-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean path_within(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether the symbolic link @name in @dirfd points into @path. The link is
 * read, never followed. */
static gboolean link_within_at(int dirfd, const char *name, const char *path) {
  char target[PATH_MAX];
  ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
  if (n <= 0)
    return FALSE;
  target[n] = '\0';
  return path_within(target, path);
}

/* "comm (pid N)"; the name cut to what the kernel allows and cleaned. */
static char *describe_process(int piddir, guint pid) {
  char comm[64] = "";
  int fd = openat(piddir, "comm", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, comm, sizeof comm - 1);
    comm[n > 0 ? n : 0] = '\0';
    close(fd);
  }
  g_autofree char *name = tam_clean_text(comm, 32);
  g_strstrip(name);
  return g_strdup_printf("%s (pid %u)", *name ? name : "?", pid);
}

static gint compare_pids(gconstpointer a, gconstpointer b) {
  guint x = *(const guint *)a, y = *(const guint *)b;
  return x < y ? -1 : x > y;
}

/* The processes under PROC_ROOT, by number, at most @max (*cut set if there
 * are more); NULL if it cannot be read. */
static GArray *list_pids(int procfd, guint max, gboolean *cut) {
  int fd = dup(procfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  GArray *pids = g_array_new(FALSE, FALSE, sizeof(guint));
  struct dirent *de;
  while ((de = readdir(d))) {
    guint64 pid;
    if (!g_ascii_isdigit(de->d_name[0]) ||
        !g_ascii_string_to_unsigned(de->d_name, 10, 1, G_MAXINT, &pid, NULL))
      continue;
    if (pids->len >= max) {
      *cut = TRUE;
      break;
    }
    guint v = (guint)pid;
    g_array_append_val(pids, v);
  }
  closedir(d);
  g_array_sort(pids, compare_pids);
  return pids;
}

GStrv tandem_mount_scan_users(const char *proc_root, const char *path,
                              const TandemProcScanLimits *limits,
                              gboolean *incomplete) {
  const TandemProcScanLimits defaults = TANDEM_PROC_SCAN_LIMITS_DEFAULT;
  const TandemProcScanLimits *l = limits ? limits : &defaults;
  GPtrArray *users = g_ptr_array_new();
  gboolean cut = FALSE;
  gint64 deadline = g_get_monotonic_time() + l->max_time_us;
  guint entries = 0;
  int procfd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_autoptr(GArray) pids =
      procfd >= 0 ? list_pids(procfd, l->max_processes, &cut) : NULL;
  for (guint i = 0; pids && i < pids->len; i++) {
    if (g_get_monotonic_time() > deadline || entries >= l->max_entries) {
      cut = TRUE;
      break;
    }
    guint pid = g_array_index(pids, guint, i);
    char name[16];
    g_snprintf(name, sizeof name, "%u", pid);
    int piddir = openat(procfd, name,
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (piddir < 0)
      continue; /* gone meanwhile, or not a directory */
    gboolean found = FALSE;
    static const char *const links[] = {"cwd", "root", "exe"};
    for (guint k = 0; k < G_N_ELEMENTS(links) && !found; k++) {
      entries++;
      found = link_within_at(piddir, links[k], path);
    }
    int fdfd = found ? -1
                     : openat(piddir, "fd",
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *fds = fdfd >= 0 ? fdopendir(fdfd) : NULL;
    if (!fds && fdfd >= 0)
      close(fdfd);
    struct dirent *de;
    while (fds && !found && (de = readdir(fds))) {
      if (de->d_name[0] == '.')
        continue;
      if (++entries > l->max_entries ||
          ((entries & 63) == 0 && g_get_monotonic_time() > deadline)) {
        cut = TRUE;
        break;
      }
      found = link_within_at(dirfd(fds), de->d_name, path);
    }
    if (fds)
      closedir(fds);
    if (found) {
      if (users->len >= l->max_users) {
        cut = TRUE; /* more than we name */
        close(piddir);
        break;
      }
      g_ptr_array_add(users, describe_process(piddir, pid));
    }
    close(piddir);
    if (cut)
      break;
  }
  if (procfd >= 0)
    close(procfd);
  if (incomplete)
    *incomplete = cut;
  g_ptr_array_add(users, NULL);
  return (GStrv)g_ptr_array_free(users, FALSE);
}

GStrv tandem_mount_find_users(const char *proc_root, const char *path,
                              guint max) {
  TandemProcScanLimits l = TANDEM_PROC_SCAN_LIMITS_DEFAULT;
  l.max_users = max;
  return tandem_mount_scan_users(proc_root, path, &l, NULL);
}

/* "in use by: a (pid 1), b (pid 2)", "and maybe others" when the scan was
 * cut short; "" when it found nobody. */
