/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's configuration: $XDG_CONFIG_HOME/tandem/vms/NAME.conf, a key file.
 *
 *   [VM]        Memory=1G  CPUs=2  Accelerator=auto|kvm|tcg
 *               Display=spice|none  HotplugPorts=4
 *               SaveOnStop=false  (stopping saves the session, the next
 *                                  start resumes it: docs/snapshots.md)
 *   [Boot]      Kernel=  Initrd=  CommandLine=      (boot a kernel), or
 *               Image=  ImageFormat=qcow2|raw       (boot a disk image)
 *   [Disk NAME] Path=  Format=qcow2|raw  ReadOnly=false   (data disks)
 *   [Storage NAME] URI=  Bus=nvme|virtio  ReadOnly=false
 *               (network disks attached while it runs: storage/, written
 *               by tandemctl storage attach, attached again at each start)
 *   [Snapshots] Every=30m  Keep=10  MaxAge=7d   (scheduled snapshots; off
 *               without Every)  Method=auto|live|paused
 *               QueueSize=256M  Compression=1   (the RAM queue, zstd level)
 *
 * Relative paths are relative to the VM's data directory,
 * $XDG_DATA_HOME/tandem/vms/NAME/. docs/vm-config.md has the details.
 */
#pragma once

#include <glib.h>

#include "tandem-vmm-error.h"

G_BEGIN_DECLS

/* How snapshots of the VM are taken (docs/snapshots.md). */
typedef enum {
  TANDEM_SNAPSHOT_HOW_AUTO,   /* background-snapshot, else live pre-copy */
  TANDEM_SNAPSHOT_HOW_LIVE,   /* always the live pre-copy */
  TANDEM_SNAPSHOT_HOW_PAUSED, /* always with the guest paused */
} TandemSnapshotHow;

typedef enum {
  TANDEM_ACCEL_AUTO,
  TANDEM_ACCEL_KVM,
  TANDEM_ACCEL_TCG,
} TandemAccel;

typedef enum {
  TANDEM_DISPLAY_SPICE,
  TANDEM_DISPLAY_NONE,
} TandemDisplay;

/* The VM's network card: QEMU's user-mode network (the guest reaches what
 * the host reaches), the same restricted to the forwards listed, or none. */
typedef enum {
  TANDEM_NETWORK_USER,
  TANDEM_NETWORK_RESTRICTED,
  TANDEM_NETWORK_NONE,
} TandemNetwork;

typedef struct {
  char *name;        /* [a-z][a-z0-9_-]{0,19}: node names and serials */
  char *path;        /* absolute */
  char *format;      /* "qcow2" or "raw" */
  gboolean read_only;
} TandemVmDisk;

/* A network disk (storage/tandem-disk-manager.h). The address is checked
 * where it is used: a bad one makes that attachment fail, not the VM. */
typedef struct {
  char *name;        /* tandem_vm_attachment_name_is_valid() */
  char *uri;         /* as the user wrote it, at most 8192 bytes */
  /* A second export of the same size mirroring the first (QEMU's quorum:
   * the guest sees one disk that survives either server), or NULL. */
  char *mirror;
  char *bus;         /* "nvme" or "virtio" */
  gboolean read_only;
  /* Where it was last plugged in (written by storage/, NULL if never):
   * the serial the guest knows it by ("tdm-" and 8 hex digits) and the
   * hot-plug port. Kept so that the guest sees the same disk after a
   * start, and so that a snapshot restored puts it back where the
   * guest's memory has it. */
  char *serial, *port;
} TandemVmAttachment;

typedef struct {
  char *name;
  guint64 memory;    /* bytes */
  guint cpus;
  TandemAccel accel;
  TandemDisplay display;
  guint hotplug_ports;
  /* Memory the guest's agent and the host share for window pixels
   * (ivshmem), bytes; 0: none, pixels go through the agent's channel. */
  guint64 pixel_memory;
  gboolean save_on_stop;           /* a stop saves, the next start resumes */
  TandemNetwork network;           /* [VM] Network */
  /* [VM] Forward: connections the guest opens to an address of its
   * network, taken to one the host reaches, each "GUEST:PORT=HOST:PORT"
   * (IPv4; the guest's side in 10.0.2.0/24). NULL-terminated, or NULL. */
  GStrv forwards;
  /* Scheduled snapshots: every @snapshot_every seconds while the VM runs
   * (0: off), keeping the newest @snapshot_keep of them and none older
   * than @snapshot_max_age seconds (0: no limit). */
  guint64 snapshot_every, snapshot_max_age;
  guint snapshot_keep;
  TandemSnapshotHow snapshot_how;  /* [Snapshots] Method */
  /* [Snapshots] QueueSize (bytes, 0: the snapshot manager's default) and
   * Compression (a zstd level, when snapshot_compression_set). */
  guint64 snapshot_queue;
  int snapshot_compression;
  gboolean snapshot_compression_set;
  /* [Limits]: what the guest may take on the host, in bytes (0: the
   * default of the part that keeps it): its windows' pixels
   * (WindowMemory), its application catalog (CatalogMemory), and what is
   * sent to it and not read yet (OutputQueue). */
  guint64 limit_window_memory, limit_catalog_memory, limit_output_queue;
  char *kernel, *initrd, *cmdline; /* boot a kernel ... */
  char *image, *image_format;      /* ... or a disk image (absolute paths) */
  GPtrArray *disks;                /* TandemVmDisk */
  GPtrArray *attachments;          /* TandemVmAttachment */
} TandemVmConfig;

#define TANDEM_VM_MIN_LIMIT (64ull << 10)
#define TANDEM_VM_MAX_LIMIT (64ull << 30)

#define TANDEM_VM_MIN_MEMORY (64ull << 20)
#define TANDEM_VM_MAX_MEMORY (1ull << 40)
#define TANDEM_VM_MAX_CPUS 64
#define TANDEM_VM_MAX_HOTPLUG_PORTS 16
#define TANDEM_VM_DEFAULT_PIXEL_MEMORY (64ull << 20)
#define TANDEM_VM_MIN_PIXEL_MEMORY (4ull << 20)
#define TANDEM_VM_MAX_PIXEL_MEMORY (1ull << 30)
#define TANDEM_VM_MAX_DISKS 16
#define TANDEM_VM_MAX_FORWARDS 8
#define TANDEM_VM_MAX_ATTACHMENTS TANDEM_VM_MAX_HOTPLUG_PORTS

/* One Forward entry: FALSE unless it is GUEST:PORT=HOST:PORT as the
 * config allows it. */
gboolean tandem_vm_forward_parse(const char *text, guint8 guest_ip[4],
                                 guint *guest_port, guint8 host_ip[4],
                                 guint *host_port);

/* Attachment names: 1..32 characters of [A-Za-z0-9._-], not starting with
 * '.' or '-' (they name the guest's mount point). */
gboolean tandem_vm_attachment_name_is_valid(const char *name);
TandemVmAttachment *tandem_vm_attachment_new(const char *name,
                                             const char *uri,
                                             const char *bus,
                                             gboolean read_only);
void tandem_vm_attachment_free(TandemVmAttachment *a);
/* "tdm-" and 8 lowercase hex digits. */
gboolean tandem_vm_attachment_serial_is_valid(const char *serial);
/* @c's attachment @name, or NULL. */
TandemVmAttachment *tandem_vm_config_find_attachment(const TandemVmConfig *c,
                                                     const char *name);

/* Defaults: 1 GiB, 2 CPUs, auto accelerator, SPICE, 4 hot-plug ports. */
TandemVmConfig *tandem_vm_config_new(const char *name);
void tandem_vm_config_free(TandemVmConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemVmConfig, tandem_vm_config_free)

/* Parses key-file text. @base_dir resolves relative paths. Every problem
 * is a TANDEM_VMM_ERROR_CONFIG whose message names the file, the section,
 * the key and what to write instead. Files are not checked here. */
TandemVmConfig *tandem_vm_config_parse(const char *name, const char *data,
                                       const char *base_dir, GError **error);

/* Loads $dir/NAME.conf (base dir: tandem_vm_data_dir(NAME)). */
TandemVmConfig *tandem_vm_config_load(const char *config_dir, const char *name,
                                      GError **error);

/* Checks what parsing cannot: that the files it names exist. */
gboolean tandem_vm_config_check_files(const TandemVmConfig *config,
                                      GError **error);

/* Key-file text for @config; parse(to_data(c)) gives c back. */
char *tandem_vm_config_to_data(const TandemVmConfig *config);

/* Writes $dir/NAME.conf atomically (creating @dir). */
gboolean tandem_vm_config_save(const TandemVmConfig *config,
                               const char *config_dir, GError **error);

/* "30s", "5m", "2h", "7d", "90" (seconds) -> seconds. FALSE if not a
 * duration or over ten years. */
gboolean tandem_parse_duration(const char *text, guint64 *seconds);
/* The shortest text tandem_parse_duration() reads back as @seconds. */
char *tandem_format_duration(guint64 seconds);

#define TANDEM_VM_MIN_SNAPSHOT_EVERY 2 /* seconds */
#define TANDEM_VM_DEFAULT_SNAPSHOT_KEEP 10
#define TANDEM_VM_MAX_SNAPSHOT_KEEP 500
#define TANDEM_VM_MIN_SNAPSHOT_QUEUE (4ull << 20)
#define TANDEM_VM_MAX_SNAPSHOT_QUEUE (16ull << 30)
#define TANDEM_VM_MIN_SNAPSHOT_COMPRESSION (-5)
#define TANDEM_VM_MAX_SNAPSHOT_COMPRESSION 19
/* The longest duration: ten years, longer than any VM runs. */
#define TANDEM_MAX_DURATION (10ull * 366 * 86400)

/* "512M", "2G", "1.5G", "1073741824" -> bytes. FALSE if not a size. */
gboolean tandem_parse_size(const char *text, guint64 *bytes);

/* VM names: 1..64 characters of [A-Za-z0-9_-], not starting with '-'. */
gboolean tandem_vm_name_is_valid(const char *name);

/* $XDG_DATA_HOME/tandem/vms/NAME: disks and state of one VM. */
char *tandem_vm_data_dir(const char *name);

const char *tandem_accel_to_string(TandemAccel accel);

G_END_DECLS
