/* SPDX-License-Identifier: GPL-2.0-or-later */
/* External network storage attached to running VMs as local disks.
 *
 * Attaching (docs/storage.md): the address (tandem-storage-uri.h) becomes a
 * QEMU block node (blockdev-add, NBD with a reconnect delay, or iSCSI),
 * presented by an emulated local controller, NVMe by default or
 * virtio-blk, hot-plugged on a free PCIe root port of the VM (its
 * HotplugPorts) with a serial of Tandem's. The VM's agent then finds the
 * disk by that serial and mounts its file system for the guest user; the
 * mount point, file system and free space come back and are shown.
 * Nothing is ever formatted.
 *
 * Attachments are part of the VM's configuration ([Storage NAME] in
 * tandem-vm-config.h): attached again at each start, listed as failed
 * (with the reason) when that cannot be done, and forgotten on detach.
 *
 * Detaching: the agent flushes and unmounts (a disk in use is refused,
 * naming the programs that hold it, unless forced), then the device is
 * unplugged (waiting, bounded, for the guest to release it), then the
 * block node is removed. Every step that fails leaves things as they were
 * before the request.
 *
 * GTK-free. The agent sessions belong to the shell: it hands them over
 * with a lookup function. */
#pragma once

#include <gio/gio.h>

#include "tandem-guest-link.h"
#include "tandem-storage-uri.h"
#include "tandem-vm-manager.h"

G_BEGIN_DECLS

typedef enum {
  TANDEM_DISK_BUS_NVME,
  TANDEM_DISK_BUS_VIRTIO,
} TandemDiskBus;

/* "nvme", "virtio"; and back (FALSE for anything else). */
const char *tandem_disk_bus_to_string(TandemDiskBus bus);
gboolean tandem_disk_bus_from_string(const char *text, TandemDiskBus *bus);

typedef enum {
  TANDEM_DISK_ATTACHING,
  TANDEM_DISK_ATTACHED,     /* the guest sees the disk */
  TANDEM_DISK_DETACHING,
  TANDEM_DISK_FAILED,       /* in the configuration, could not be attached
                               at the start: the message says why */
  TANDEM_DISK_DEGRADED,     /* mirrored, one server lost: the guest goes on
                               with the other; resynchronised when it is
                               back (the message says which) */
  TANDEM_DISK_RECONNECTING, /* its server is away: QEMU holds the guest's
                               requests for the reconnect delay */
} TandemDiskState;

/* "attaching", "attached", "detaching", "failed", "degraded",
 * "reconnecting". FAILED is also an attached disk whose server stayed
 * away longer than the reconnect delay: the guest's requests fail until it
 * is back (then it is attached again). */
const char *tandem_disk_state_to_string(TandemDiskState state);

typedef enum {
  TANDEM_DISK_MOUNT_NONE,       /* not asked (yet), or unmounted */
  TANDEM_DISK_MOUNT_MOUNTED,
  TANDEM_DISK_MOUNT_NO_FILESYSTEM,
  TANDEM_DISK_MOUNT_FAILED,     /* see message */
  TANDEM_DISK_MOUNT_NO_AGENT,   /* no agent, or one that cannot mount */
} TandemDiskMount;

/* "none", "mounted", "no-filesystem", "failed", "no-agent". */
const char *tandem_disk_mount_to_string(TandemDiskMount mount);

/* One attachment, as listed. */
typedef struct {
  char *vm, *name;
  char *uri;           /* canonical */
  char *mirror;        /* the second export's (canonical), or NULL */
  TandemDiskBus bus;
  gboolean read_only;
  TandemDiskState state;
  char *serial;        /* what the guest sees */
  char *port;          /* the PCIe root port it is plugged into */
  TandemDiskMount mount;
  char *mountpoint;    /* the guest's word: shown, never used as a path */
  char *fs_type;
  guint64 total_bytes, free_bytes;
  char *message;       /* for the user: why not mounted, ... ("" if none) */
  guint64 size_bytes;  /* the export's size, 0 if unknown */
  gboolean plugged;    /* the guest has the device (a failed one too when
                          its server went away after it was attached) */
} TandemDiskInfo;

void tandem_disk_info_free(TandemDiskInfo *info);
TandemDiskInfo *tandem_disk_info_copy(const TandemDiskInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemDiskInfo, tandem_disk_info_free)

/* Attachment names: 1..32 characters of [A-Za-z0-9._-], not starting with
 * '.' or '-'. They name the guest's mount point too. */
#define TANDEM_DISK_MAX_NAME 32
gboolean tandem_disk_name_is_valid(const char *name);

/* The seconds QEMU holds a request while the NBD server is away before
 * failing it (`reconnect-delay`). QEMU 7.2 retries about 1, 3, 7 and 15 s
 * after a loss, so 16 lets a server that is back within 15 s lose nothing. */
#define TANDEM_DISK_RECONNECT_DELAY 16

typedef TandemGuestLink *(*TandemDiskLinkFunc)(const char *vm, gpointer data);

#define TANDEM_TYPE_DISK_MANAGER (tandem_disk_manager_get_type())
G_DECLARE_FINAL_TYPE(TandemDiskManager, tandem_disk_manager, TANDEM,
                     DISK_MANAGER, GObject)

TandemDiskManager *tandem_disk_manager_new(TandemVmManager *vms,
                                           TandemDiskLinkFunc link_func,
                                           gpointer link_data);

/* Attaches @uri to the running VM @vm as @name (NULL: one derived from the
 * address). Completes once the guest has the disk, mounted if it can be;
 * an attachment that could not be mounted is still attached (its mount
 * state and message say why). Errors (G_IO_ERROR, nothing changed):
 * NOT_FOUND (no such VM), NOT_CONNECTED (VM not running), INVALID_ARGUMENT
 * (a malformed address or name), EXISTS (the name is taken), NO_SPACE (no
 * free hot-plug port), HOST_UNREACHABLE (server unreachable),
 * NOT_SUPPORTED (iSCSI without QEMU's driver), READ_ONLY (a read-only
 * export attached writable), FAILED (QEMU refused, with its words).
 * With @mirror (NULL: none) the disk is the two exports, which must be of
 * the same size, as mirrors (QEMU's quorum): every write goes to both,
 * and losing one server leaves the disk working ("degraded") until it is
 * back and resynchronised. */
void tandem_disk_manager_attach_async(TandemDiskManager *self, const char *vm,
                                      const char *uri, const char *mirror,
                                      TandemDiskBus bus,
                                      const char *name, gboolean read_only,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
/* Transfer full. */
TandemDiskInfo *tandem_disk_manager_attach_finish(TandemDiskManager *self,
                                                  GAsyncResult *result,
                                                  GError **error);

/* Detaches @name from @vm. Errors: NOT_FOUND (no such VM or attachment),
 * BUSY (the guest has files open on it: the message names the programs;
 * nothing changed), PENDING (it is being attached or detached), TIMED_OUT
 * (the guest did not release the device; it stays attached). */
void tandem_disk_manager_detach_async(TandemDiskManager *self, const char *vm,
                                      const char *name, gboolean force,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean tandem_disk_manager_detach_finish(TandemDiskManager *self,
                                           GAsyncResult *result,
                                           GError **error);

/* A snapshot being restored (tandem_snapshot_manager_set_plug_hook): the
 * network disks of the VM's restored configuration that were plugged in
 * are put back on the same ports with the same serials, before the
 * guest's memory comes back, so that its devices are where it left them.
 * The guest finds them as it had them (mounted or not); it is the user's
 * to know that a disk written since the snapshot is not turned back. */
void tandem_disk_manager_plug_restored_async(TandemDiskManager *self,
                                             TandemVm *vm,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
gboolean tandem_disk_manager_plug_restored_finish(TandemDiskManager *self,
                                                  GAsyncResult *result,
                                                  GError **error);

/* The shell's agent session of a VM: disks attached before the agent was
 * there (at a start) are mounted when it is. */
void tandem_disk_manager_watch_link(TandemDiskManager *self,
                                    TandemGuestLink *link);

/* The VM's attachments, in the order they were made (TandemDiskInfo,
 * transfer full); NULL and NOT_FOUND for an unknown VM. */
GPtrArray *tandem_disk_manager_list(TandemDiskManager *self, const char *vm,
                                    GError **error);

/* Signals:
 *   "changed" (const char *vm): an attachment of @vm was added, removed,
 *   or changed state. */

G_END_DECLS
