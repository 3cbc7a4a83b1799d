/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mounting the disks the host attaches, by serial (MOUNT, UNMOUNT,
 * MOUNT_RESULT in docs/protocol.md; the design in docs/mount.md).
 *
 * The agent core needs only the last part of this header, TandemMounter:
 *
 *   self->mounter = tandem_mounter_new();               // once
 *   ...
 *   case TP_MSG_MOUNT:
 *     tandem_mounter_mount(self->mounter, &m->u.mount, on_mount_result, self);
 *   case TP_MSG_UNMOUNT:
 *     tandem_mounter_unmount(self->mounter, &m->u.unmount, on_mount_result,
 *                            self);
 *   ...
 *   static void on_mount_result(const TpMountResult *r, gpointer data) {
 *     TandemAgent *self = data;
 *     TpMessage m = {.type = TP_MSG_MOUNT_RESULT, .u.mount_result = *r};
 *     if (self->greeted)               // the host may have gone meanwhile
 *       tandem_channel_send(self->channel, &m);
 *   }
 *   ...
 *   g_clear_object(&self->mounter);                     // in finalize
 *
 * The rest is what the mounter is made of, public for the privileged
 * helper (tandem-mount-helper), the command-line client (tandem-mount) and
 * the unit tests:
 *  - validation of serials and labels;
 *  - finding a disk by serial in sysfs (virtio-blk, NVMe, SCSI/ATA);
 *  - recognising a file system by its superblock (never a shell, never
 *    blkid);
 *  - the privileged mount and unmount themselves (root only);
 *  - the one-line request/reply format spoken on the helper's socket, and
 *    its asynchronous client.
 * GLib, GIO and libc only. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "tandem-protocol.h"

G_BEGIN_DECLS

/* --- Defaults ------------------------------------------------------------ */

/* Where tandem-mount-helper listens ($TANDEM_MOUNT_SOCKET overrides it for
 * tandem_mounter_new()). */
#define TANDEM_MOUNT_SOCKET_DEFAULT "/run/tandem/mount.sock"
/* Every mount point is BASE/LABEL. */
#define TANDEM_MOUNT_BASE_DEFAULT "/media/tandem"
/* Bounds of the helper's line protocol, newline included. */
#define TANDEM_MOUNT_MAX_REQUEST 256u
#define TANDEM_MOUNT_MAX_REPLY 8192u

/* --- Validation ---------------------------------------------------------- */

/* A serial as the protocol carries it: 1-64 bytes of [A-Za-z0-9._+@-]. */
gboolean tandem_mount_serial_is_valid(const char *serial);
/* A label (the mount point's name): 1-64 bytes of [A-Za-z0-9._-], not "."
 * or "..". Never a path. */
gboolean tandem_mount_label_is_valid(const char *label);

/* --- Finding the disk ---------------------------------------------------- */

/* The kernel name ("vda", "nvme0n1", "sda") of the one whole disk under
 * SYSFS_ROOT/block whose serial is @serial, compared after trimming
 * padding (spaces, NULs, newlines). The serial is read from, in order:
 * NAME/serial (virtio-blk), NAME/device/serial (NVMe, MMC) and
 * NAME/device/vpd_pg80 (SCSI, and ATA through libata). Errors
 * (G_IO_ERROR): INVALID_ARGUMENT for an invalid serial, NOT_FOUND when no
 * disk has it, EXISTS when several do (e.g. NVMe namespaces of one
 * controller). */
char *tandem_mount_find_disk(const char *sysfs_root, const char *serial,
                             GError **error);
/* The same, as "/dev/NAME". */
char *tandem_mount_find_device(const char *sysfs_root, const char *serial,
                               GError **error);

/* --- File systems -------------------------------------------------------- */

typedef enum {
  TANDEM_FS_UNKNOWN = 0,
  TANDEM_FS_EXT2,
  TANDEM_FS_EXT3,
  TANDEM_FS_EXT4,
  TANDEM_FS_VFAT,
  TANDEM_FS_EXFAT,
  TANDEM_FS_NTFS,
  TANDEM_FS_XFS,
  TANDEM_FS_BTRFS,
  TANDEM_FS_ISO9660,
  TANDEM_FS_SWAP,          /* recognised, never mounted */
  TANDEM_FS_EXT_JOURNAL,   /* an external ext3/4 journal: never mounted */
} TandemFsType;

/* Bytes from the start of a device that tandem_mount_probe_bytes() needs
 * to see every superblock it knows (btrfs's lies at 64 KiB). */
#define TANDEM_MOUNT_PROBE_BYTES (68u * 1024u)

/* Recognises a file system from the first @len bytes of a device (fewer
 * than TANDEM_MOUNT_PROBE_BYTES is fine: what lies beyond is not looked
 * at). Pure. */
TandemFsType tandem_mount_probe_bytes(const guint8 *data, gsize len);
/* Reads the start of @path and probes it. UNKNOWN with @error unset when
 * the file was read but holds nothing known. */
TandemFsType tandem_mount_probe_file(const char *path, GError **error);
/* "ext4", "vfat", ... as people say it ("unknown" for UNKNOWN). */
const char *tandem_fs_type_to_string(TandemFsType type);
/* The kernel's name for mount(2), or NULL if it is never mounted (ext2 and
 * ext3 are mounted by the ext4 driver). */
const char *tandem_fs_type_kernel_name(TandemFsType type);
/* Whether a partition table starts these bytes (MBR signature or GPT
 * header) -- only asked when no file system was recognised. */
gboolean tandem_mount_bytes_have_partition_table(const guint8 *data,
                                                 gsize len);

/* --- Results ------------------------------------------------------------- */

/* What MOUNT_RESULT carries (without the request id). */
typedef struct {
  TpMountStatus status;
  char *mountpoint;  /* never NULL; "" unless mounted (or just unmounted) */
  char *message;     /* never NULL; English, says what to do on failure */
  char *fs_type;     /* never NULL; the kernel's type ("ext4", "vfat") when
                        a mount succeeded (status ok), else "" */
  guint64 total_bytes;  /* statvfs of the mount point after mounting; */
  guint64 free_bytes;   /* available to unprivileged users; 0 without type */
} TandemMountResult;

TandemMountResult *tandem_mount_result_new(TpMountStatus status,
                                           const char *mountpoint,
                                           const char *format, ...)
    G_GNUC_PRINTF(3, 4);
void tandem_mount_result_free(TandemMountResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemMountResult, tandem_mount_result_free)
/* A file system type as MOUNT_RESULT carries it: 1-16 of [a-z0-9]. */
gboolean tandem_mount_fs_type_is_valid(const char *fs_type);
/* Sets the type and sizes of a result: only for status ok and a valid
 * type, else they are cleared; free_bytes is capped at total_bytes. */
void tandem_mount_result_set_fs(TandemMountResult *result,
                                const char *fs_type, guint64 total_bytes,
                                guint64 free_bytes);
/* The protocol's name of a status: "ok", "not-found", "failed", "busy",
 * "no-filesystem". */
const char *tandem_mount_status_to_string(TpMountStatus status);

/* --- The privileged part (root, or the helper) --------------------------- */

/* Everything the privileged part touches, so that tests can use a fixture
 * tree and stand-ins for the two system calls. */
typedef struct {
  const char *sysfs_root;  /* "/sys" */
  const char *dev_root;    /* "/dev" */
  const char *base_dir;    /* TANDEM_MOUNT_BASE_DEFAULT */
  const char *mountinfo;   /* "/proc/self/mountinfo" */
  const char *proc_root;   /* "/proc": who keeps a mount busy */
  uid_t owner_uid;         /* the session user: owns FAT/exFAT/NTFS files */
  gid_t owner_gid;         /* and the root of a fresh writable file system */
  /* mount(2) and umount2(2) (NULL: the real ones). Return 0, or -1 with
   * errno set. */
  int (*mount_fn)(const char *source, const char *target, const char *fstype,
                  unsigned long flags, const char *data, void *fn_data);
  int (*umount_fn)(const char *target, int flags, void *fn_data);
  void *fn_data;
} TandemMountConfig;

/* The defaults above, owner = the calling process's uid and gid. */
void tandem_mount_config_init(TandemMountConfig *config);

/* Mounts the disk with @serial on BASE/@label (the result carries the
 * type and the statvfs sizes; TP_MOUNT_NO_FILESYSTEM when every device of
 * the disk was read and none holds a file system this guest mounts): the first partition holding
 * a known file system (sysfs NAME/NAME1...), else the whole disk; the type
 * from its superblock; MS_NOSUID | MS_NODEV (| MS_RDONLY); FAT, exFAT and
 * NTFS files owned by the owner; a writable ext/xfs/btrfs whose root is
 * still empty (at most lost+found) and not the owner's is given to the
 * owner. Mounting what is already mounted there succeeds again. Blocking;
 * never returns NULL. Not thread-safe against itself: callers serialise. */
TandemMountResult *tandem_mount_do_mount(const TandemMountConfig *config,
                                         const char *serial,
                                         const char *label,
                                         gboolean read_only);
/* Unmounts what this service mounted (under BASE) from the disk with
 * @serial: syncfs, umount2 (MNT_DETACH only if @lazy), rmdir. A disk that
 * is not mounted there is "ok"; one the system mounted elsewhere (e.g. the
 * home disk) is refused. EBUSY is TP_MOUNT_BUSY, with the programs keeping
 * it busy named ("in use by: xterm (pid 123), sh (pid 130)"); nothing is
 * forced. With @lazy the answer says what was synced and detached, and
 * which programs still use it. Blocking; never returns NULL. */
TandemMountResult *tandem_mount_do_unmount(const TandemMountConfig *config,
                                           const char *serial,
                                           gboolean lazy);

/* syncfs on every mount of the disk with @serial and its partitions (as
 * CONFIG's sysfs and mount table say), so that a detach loses nothing:
 * what the agent does before it asks for an unmount. Needs no privilege.
 * Returns how many file systems were synced. Blocking. */
guint tandem_mount_sync_disk(const TandemMountConfig *config,
                             const char *serial);

/* Bounds of a scan of /proc for the programs using a mount. */
typedef struct {
  guint max_users;      /* programs named */
  guint max_processes;  /* PROC_ROOT/PID directories looked at */
  guint max_entries;    /* links read, in all (cwd, root, exe, fd/N) */
  gint64 max_time_us;   /* wall-clock time */
} TandemProcScanLimits;
#define TANDEM_PROC_SCAN_LIMITS_DEFAULT \
  { 8u, 32768u, 262144u, 2 * G_USEC_PER_SEC }

/* "name (pid N)" of the processes under PROC_ROOT whose working directory,
 * root, executable or an open file lies in @path, by pid; NULL-terminated,
 * maybe empty. Links are read, never followed; PID and fd directories are
 * opened without following symbolic links. Stops at any bound of @limits
 * (NULL: the defaults) and then sets *incomplete (which may be NULL). */
GStrv tandem_mount_scan_users(const char *proc_root, const char *path,
                              const TandemProcScanLimits *limits,
                              gboolean *incomplete);
/* The same with the default bounds, naming at most @max. */
GStrv tandem_mount_find_users(const char *proc_root, const char *path,
                              guint max);

/* --- The helper's line protocol ----------------------------------------- */

/* Requests, one line each (newline included, at most
 * TANDEM_MOUNT_MAX_REQUEST bytes):
 *   "mount SERIAL LABEL ro|rw\n"   "unmount SERIAL\n"   "unmount SERIAL lazy\n"
 * Reply, one line (at most TANDEM_MOUNT_MAX_REPLY bytes):
 *   "STATUS\tMOUNTPOINT\tFSTYPE\tTOTAL\tFREE\tMESSAGE\n"
 * STATUS a decimal TpMountStatus; FSTYPE "" or [a-z0-9]{1,16}, set only
 * with status 0; TOTAL and FREE decimal bytes, FREE <= TOTAL, both 0
 * without FSTYPE. */
typedef struct {
  gboolean unmount;
  char *serial;
  char *label;       /* NULL for unmount */
  gboolean read_only;
  gboolean lazy;
} TandemMountRequest;

void tandem_mount_request_free(TandemMountRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemMountRequest, tandem_mount_request_free)
/* Parses one line (with or without its newline); G_IO_ERROR_INVALID_DATA
 * with a reason on anything else. Serial and label are validated. */
TandemMountRequest *tandem_mount_request_parse(const char *line,
                                               GError **error);
/* The line for a request (NULL if a field is invalid). */
char *tandem_mount_request_format(const TandemMountRequest *request);
/* The reply line for @result: fields cut to the protocol's limits, tabs
 * and control characters in the message made spaces. */
char *tandem_mount_result_format(const TandemMountResult *result);
TandemMountResult *tandem_mount_result_parse(const char *line, GError **error);
/* Runs one parsed request as @config says: the helper's work. */
TandemMountResult *tandem_mount_request_run(const TandemMountConfig *config,
                                            const TandemMountRequest *request);

/* --- The helper's client ------------------------------------------------- */

/* Sends one request to the helper at @socket_path and reads its reply.
 * The finish functions return NULL with @error set only when the helper
 * could not be asked or answered nonsense (G_IO_ERROR_*). */
void tandem_mount_request_async(const char *socket_path, const TpMount *mount,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
TandemMountResult *tandem_mount_request_finish(GAsyncResult *result,
                                               GError **error);
void tandem_unmount_request_async(const char *socket_path,
                                  const TpUnmount *unmount,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
TandemMountResult *tandem_unmount_request_finish(GAsyncResult *result,
                                                 GError **error);

/* --- TandemMounter: what the agent core calls ---------------------------- */

#define TANDEM_TYPE_MOUNTER (tandem_mounter_get_type())
G_DECLARE_FINAL_TYPE(TandemMounter, tandem_mounter, TANDEM, MOUNTER, GObject)

/* @result is valid during the call only; its request_id is the request's.
 * Every failure arrives here as a result with a message (never a GError). */
typedef void (*TandemMountCallback)(const TpMountResult *result,
                                    gpointer user_data);

/* The mounter for this process: the helper at $TANDEM_MOUNT_SOCKET if that
 * is set; else, as root, mounting in-process (owner: this process); else
 * the helper at TANDEM_MOUNT_SOCKET_DEFAULT. */
TandemMounter *tandem_mounter_new(void);
TandemMounter *tandem_mounter_new_for_socket(const char *socket_path);
/* In-process, on a worker thread (the strings of @config are copied). */
TandemMounter *tandem_mounter_new_in_process(const TandemMountConfig *config);
/* "tandem-mount-helper at PATH" or "in-process": for logs. */
const char *tandem_mounter_describe(TandemMounter *self);

/* Mounts (unmounts) as the request says, then calls @callback once, from
 * the thread-default main context of the caller, never before returning.
 * Requests are carried out one at a time, in order. Disposing the mounter
 * cancels what has not answered yet: no callback is called after it. */
void tandem_mounter_mount(TandemMounter *self, const TpMount *request,
                          TandemMountCallback callback, gpointer user_data);
void tandem_mounter_unmount(TandemMounter *self, const TpUnmount *request,
                            TandemMountCallback callback, gpointer user_data);

G_END_DECLS
