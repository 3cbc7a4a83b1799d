/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem-mount: mount and unmount attached disks by serial from a terminal
 * or a script in the guest, the way the agent does it (TandemMounter:
 * through tandem-mount-helper, or in-process as root).
 *
 *   tandem-mount mount SERIAL LABEL [ro|rw]    prints the mount point
 *   tandem-mount unmount SERIAL [force]
 *
 * The message goes to standard error; the exit status is the protocol's
 * status: 0 ok, 1 not found, 2 failed, 3 busy, 4 no file system (64:
 * usage). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tandem-agent-mount.h"

typedef struct {
  gboolean done;
  TpMountStatus status;
  gboolean print_mountpoint;
} Outcome;

static void on_result(const TpMountResult *r, gpointer data) {
  Outcome *o = data;
  if (r->status == TP_MOUNT_OK && o->print_mountpoint && *r->mountpoint) {
    printf("%s\n", r->mountpoint);
    fflush(stdout);
  }
  fprintf(stderr, "%s\n", r->message);
  o->status = r->status;
  o->done = TRUE;
}

int main(int argc, char **argv) {
  g_autofree char *socket_path = NULL;
  gboolean read_only = FALSE;
  GOptionEntry entries[] = {
      {"socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path,
       "Ask the helper listening here (default: $TANDEM_MOUNT_SOCKET, else "
       "in-process as root, else " TANDEM_MOUNT_SOCKET_DEFAULT ")",
       "PATH"},
      {"read-only", 'r', 0, G_OPTION_ARG_NONE, &read_only,
       "Mount read-only (the same as ro)", NULL},
      {NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(
      "mount SERIAL LABEL [ro|rw] | unmount SERIAL [force]");
  g_option_context_set_summary(
      ctx, "Mounts the disk with serial SERIAL on " TANDEM_MOUNT_BASE_DEFAULT
           "/LABEL, or unmounts it (force: sync, then detach it lazily even "
           "if it is in use).\nExit status: 0 ok, 1 not found, 2 failed, "
           "3 busy, 4 no file system.");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "tandem-mount: %s (see --help)\n", error->message);
    return 64;
  }
  gboolean is_mount = argc >= 2 && strcmp(argv[1], "mount") == 0;
  gboolean is_unmount = argc >= 2 && strcmp(argv[1], "unmount") == 0;
  if (is_mount && argc == 5) {
    if (strcmp(argv[4], "ro") == 0)
      read_only = TRUE;
    else if (strcmp(argv[4], "rw") != 0)
      is_mount = FALSE;
  }
  gboolean force = is_unmount && argc == 4 && strcmp(argv[3], "force") == 0;
  if (!(is_mount && (argc == 4 || argc == 5)) &&
      !(is_unmount && (argc == 3 || force))) {
    fprintf(stderr, "usage: tandem-mount mount SERIAL LABEL [ro|rw]\n"
                    "       tandem-mount unmount SERIAL [force]\n");
    return 64;
  }

  g_autoptr(TandemMounter) mounter =
      socket_path ? tandem_mounter_new_for_socket(socket_path)
                  : tandem_mounter_new();
  Outcome o = {FALSE, TP_MOUNT_FAILED, is_mount};
  if (is_mount) {
    TpMount m = {1, argv[2], argv[3], (uint8_t)read_only};
    tandem_mounter_mount(mounter, &m, on_result, &o);
  } else {
    TpUnmount u = {1, argv[2], (uint8_t)force};
    tandem_mounter_unmount(mounter, &u, on_result, &o);
  }
  while (!o.done)
    g_main_context_iteration(NULL, TRUE);
  return (int)o.status;
}
