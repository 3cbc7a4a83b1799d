/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Typed QMP commands on top of TandemQmpClient: one function per command
 * Tandem sends, C values in and out. Call sites never build or read JSON.
 *
 * Every command is an _async/_finish pair. The client bounds each one by its
 * default timeout (TANDEM_QMP_DEFAULT_TIMEOUT_MS) and cancels it with
 * @cancellable. Errors are in TANDEM_QMP_ERROR: QMP's error classes as the
 * client maps them, and TANDEM_QMP_ERROR_PROTOCOL when a reply does not have
 * the shape QEMU 7.2 documents. Replies are untrusted (a guest may own the
 * QEMU process): member types are checked, lists are capped at 256 entries,
 * and nothing from a reply is used before it has been checked.
 *
 * Argument and member names follow QEMU 7.2's QAPI schema. The migration
 * commands are in tandem-qmp-migrate.h, included here.
 */
#pragma once

#include "tandem-qmp-client.h"
#include "tandem-qmp-migrate.h"

G_BEGIN_DECLS

/* --- Run state: stop, cont, query-status -------------------------------- */

void tandem_qmp_stop_async(TandemQmpClient *client, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean tandem_qmp_stop_finish(TandemQmpClient *client, GAsyncResult *result,
                                GError **error);

void tandem_qmp_cont_async(TandemQmpClient *client, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean tandem_qmp_cont_finish(TandemQmpClient *client, GAsyncResult *result,
                                GError **error);

typedef struct {
  gboolean running;
  /* QEMU's RunState: "running", "paused", "prelaunch" (started with -S),
   * "inmigrate", "postmigrate", "finish-migrate", "shutdown", ... Kept as
   * text: callers compare the few they act on. */
  char *status;
} TandemQmpStatusInfo;

void tandem_qmp_status_info_free(TandemQmpStatusInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemQmpStatusInfo, tandem_qmp_status_info_free)

void tandem_qmp_query_status_async(TandemQmpClient *client,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
/* Transfer full. */
TandemQmpStatusInfo *tandem_qmp_query_status_finish(TandemQmpClient *client,
                                                    GAsyncResult *result,
                                                    GError **error);

/* --- Disks: query-block, transaction of blockdev-snapshot-sync ---------- */

/* One guest disk with a medium inserted. */
typedef struct {
  /* The guest device: its id, or the QOM path of the block device inside
   * it, e.g. "/machine/peripheral/disk-home-dev/virtio-backend" for a
   * virtio-blk-pci with id "disk-home-dev". NULL if QEMU gave none. */
  char *qdev;
  char *node_name;    /* inserted.node-name: the active (top) node */
  char *file;         /* inserted.file: the top image's file name */
  char *format;       /* inserted.drv, e.g. "qcow2" */
  gboolean read_only; /* inserted.ro */
  guint64 virtual_size;  /* inserted.image.virtual-size, bytes */
  char *backing_file;    /* inserted.image.backing-filename, or NULL */
} TandemQmpBlockDevice;

void tandem_qmp_block_device_free(TandemQmpBlockDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemQmpBlockDevice,
                              tandem_qmp_block_device_free)

/* The id the device was given with -device id=... ("disk-home-dev" for the
 * path above), or NULL for a device without one. Pure; transfer full. */
char *tandem_qmp_qdev_to_device_id(const char *qdev);

void tandem_qmp_query_block_async(TandemQmpClient *client,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
/* Transfer full: TandemQmpBlockDevice elements, in QEMU's order. Devices
 * with no medium (an empty CD drive) are left out. */
GPtrArray *tandem_qmp_query_block_finish(TandemQmpClient *client,
                                         GAsyncResult *result,
                                         GError **error);

/* One disk to put a new overlay on. Strings are borrowed for the call. */
typedef struct {
  const char *node_name;          /* the active node (query-block) */
  const char *snapshot_file;      /* the new overlay's path */
  const char *snapshot_node_name; /* the overlay's node name, or NULL */
  const char *format;             /* NULL: QEMU's default, "qcow2" */
  /* TRUE: the overlay already exists, made by the caller (mode "existing").
   * FALSE: QEMU creates it, naming its backing file by absolute path
   * (mode "absolute-paths"). */
  gboolean existing;
} TandemQmpSnapshotAction;

/* One QMP "transaction" of blockdev-snapshot-sync actions: every disk gets
 * its overlay or, if any fails, none does. From then on the guest writes to
 * the overlays and the former top images are frozen. Stop the guest first
 * if the disks must match a memory snapshot. @n_actions may be 0 (QEMU
 * accepts an empty transaction and does nothing).
 * On failure QEMU 7.2 rolls back the block graph but not the files: overlays
 * it created (not "existing") for the actions before the failing one stay
 * on disk, for the caller to delete. */
void tandem_qmp_blockdev_snapshot_transaction_async(
    TandemQmpClient *client, const TandemQmpSnapshotAction *actions,
    gsize n_actions, GCancellable *cancellable, GAsyncReadyCallback callback,
    gpointer user_data);
gboolean tandem_qmp_blockdev_snapshot_transaction_finish(
    TandemQmpClient *client, GAsyncResult *result, GError **error);

/* --- File descriptors: getfd, closefd ----------------------------------- */

/* Hands @fd (not taken: the client sends a duplicate) to QEMU under @name,
 * for URIs such as "fd:NAME". A name already in use is replaced. A
 * `migrate` or `migrate-incoming` that starts on "fd:NAME" consumes the
 * descriptor: QEMU forgets the name, and a closefd for it then fails
 * (seen with QEMU 7.2). Close it yourself only if the migration never
 * started. */
void tandem_qmp_getfd_async(TandemQmpClient *client, const char *name, int fd,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean tandem_qmp_getfd_finish(TandemQmpClient *client, GAsyncResult *result,
                                 GError **error);

/* Closes QEMU's descriptor @name; GENERIC if there is none by that name. */
void tandem_qmp_closefd_async(TandemQmpClient *client, const char *name,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean tandem_qmp_closefd_finish(TandemQmpClient *client,
                                   GAsyncResult *result, GError **error);

/* --- Internal snapshots as a job: snapshot-save, query-jobs, job-dismiss -- */

/* Starts job @job_id saving the VM state into node @vmstate_node and a
 * snapshot @tag on each of @devices (node names, NULL-terminated, at least
 * one). Returns when the job is created, not when it ends: wait with
 * query-jobs until its status is "concluded", read its error, then
 * job-dismiss it. The guest is paused while the job runs. */
void tandem_qmp_snapshot_save_async(TandemQmpClient *client,
                                    const char *job_id, const char *tag,
                                    const char *vmstate_node,
                                    const char *const *devices,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
gboolean tandem_qmp_snapshot_save_finish(TandemQmpClient *client,
                                         GAsyncResult *result,
                                         GError **error);

typedef struct {
  char *id;
  char *type;   /* "snapshot-save", "mirror", ... */
  /* QEMU's JobStatus: "created", "running", "paused", "ready", "standby",
   * "waiting", "pending", "aborting", "concluded", "undefined", "null".
   * A finished job stays "concluded" until dismissed. */
  char *status;
  char *error;  /* why the job failed, or NULL; for people, not for code */
} TandemQmpJobInfo;

void tandem_qmp_job_info_free(TandemQmpJobInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemQmpJobInfo, tandem_qmp_job_info_free)

void tandem_qmp_query_jobs_async(TandemQmpClient *client,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
/* Transfer full: TandemQmpJobInfo elements. */
GPtrArray *tandem_qmp_query_jobs_finish(TandemQmpClient *client,
                                        GAsyncResult *result, GError **error);

/* The job called @id in a query-jobs result (borrowed), or NULL. */
const TandemQmpJobInfo *tandem_qmp_job_list_find(GPtrArray *jobs,
                                                 const char *id);

/* Asks job @id to stop early (job-cancel). It goes on to "concluded" with
 * an error, and must still be dismissed; what a cancelled job leaves is
 * the job's to say (block-stream: the image whole on its old backing
 * file, the clusters already copied kept). */
void tandem_qmp_job_cancel_async(TandemQmpClient *client, const char *id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean tandem_qmp_job_cancel_finish(TandemQmpClient *client,
                                      GAsyncResult *result, GError **error);

/* Removes concluded job @id from QEMU's list. */
void tandem_qmp_job_dismiss_async(TandemQmpClient *client, const char *id,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean tandem_qmp_job_dismiss_finish(TandemQmpClient *client,
                                       GAsyncResult *result, GError **error);

/* --- Merging images: query-named-block-nodes, block-stream -------------- */

/* One image node of the block graph (query-named-block-nodes, flat). */
typedef struct {
  char *node_name; /* "node-name", an automatic one ("#block123") included */
  char *file;      /* "file": the image's file name */
  char *format;    /* "drv": "qcow2", "raw", "file" (a protocol node) ... */
} TandemQmpBlockNode;

void tandem_qmp_block_node_free(TandemQmpBlockNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemQmpBlockNode, tandem_qmp_block_node_free)

void tandem_qmp_query_named_block_nodes_async(TandemQmpClient *client,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
/* Transfer full: TandemQmpBlockNode elements, every node once (flat). */
GPtrArray *tandem_qmp_query_named_block_nodes_finish(TandemQmpClient *client,
                                                     GAsyncResult *result,
                                                     GError **error);

/* The node in a query-named-block-nodes result whose image is @file in
 * format @format (borrowed), or NULL. */
const TandemQmpBlockNode *tandem_qmp_block_node_find(GPtrArray *nodes,
                                                     const char *file,
                                                     const char *format);

/* Starts job @job_id copying into node @device, while the guest runs,
 * every cluster it reads from its backing chain down to and including
 * node @bottom; then @device's backing file becomes @bottom's, and @bottom
 * leaves the graph (its file may be deleted). An interrupted job leaves
 * @device whole, its backing file unchanged. @speed caps the copy in bytes
 * per second (0: as fast as the host allows). Returns when the job is
 * created: wait with query-jobs until it is "concluded", read its error,
 * then job-dismiss it (the job is never dismissed automatically). */
void tandem_qmp_block_stream_async(TandemQmpClient *client,
                                   const char *job_id, const char *device,
                                   const char *bottom, guint64 speed,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean tandem_qmp_block_stream_finish(TandemQmpClient *client,
                                        GAsyncResult *result, GError **error);

/* --- Network disks: blockdev-add, blockdev-del, device_add, device_del --- */

/* A block node on an NBD export (blockdev-add, driver "nbd"). Strings are
 * borrowed for the call. */
typedef struct {
  const char *node_name;
  /* The server's UNIX socket (server type "unix"), or NULL for TCP (type
   * "inet", @host and @port). */
  const char *unix_path;
  const char *host; /* when @unix_path is NULL: a name or an address */
  guint16 port;     /* when @unix_path is NULL; 0: NBD's 10809 */
  const char *export_name; /* "export"; NULL: the server's default ("") */
  gboolean read_only;
  /* "reconnect-delay", seconds: after the connection is lost, requests wait
   * this long for a reconnection before failing (0: fail at once; QEMU
   * keeps reconnecting either way). QEMU 7.2 retries about 1, 3, 7 and 15 s
   * after a loss, doubling up to 16 s: a server back within the delay may
   * still be found too late. */
  guint reconnect_delay;
  /* "open-timeout", seconds, sent only when not 0: how long blockdev-add
   * keeps trying to connect. With 0 QEMU tries once and does not bound that
   * try: a server that accepts the connection but never answers (qemu-nbd
   * already serving its limit of clients, by default one) blocks every QMP
   * monitor of QEMU until it answers (seen with QEMU 7.2), and this call
   * fails with TANDEM_QMP_ERROR_TIMEOUT while QEMU stays stuck. A non-zero
   * value also blocks QMP that long when the server stays unreachable. */
  guint open_timeout;
} TandemQmpNbdBlockdev;

/* Adds the node, connected to the export: GENERIC when the server is
 * unreachable, has no such export, or @node_name is taken; then nothing is
 * added. Read-only nodes suit exports served read-only. QEMU 7.2 reports
 * neither a lost connection nor a reconnection (no event, nothing in
 * query-block): watch the server yourself. Finish with
 * tandem_qmp_blockdev_add_finish(). */
void tandem_qmp_blockdev_add_nbd_async(TandemQmpClient *client,
                                       const TandemQmpNbdBlockdev *nbd,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);

/* A block node on an iSCSI LUN (blockdev-add, driver "iscsi", transport
 * "tcp", no CHAP). Strings are borrowed for the call. */
typedef struct {
  const char *node_name;
  const char *host; /* the portal's name or address (IPv6 without [ ]) */
  guint16 port;     /* 0: iSCSI's 3260 */
  const char *target; /* the target's IQN, "iqn.2004-04.com.example:disk" */
  guint lun;
  gboolean read_only;
  const char *initiator_name; /* "initiator-name", or NULL: QEMU's own */
} TandemQmpIscsiBlockdev;

/* Adds the node, logged in to the LUN; GENERIC when that fails (then
 * nothing is added). QEMU's libiscsi connects while QMP waits. Finish with
 * tandem_qmp_blockdev_add_finish(). */
void tandem_qmp_blockdev_add_iscsi_async(TandemQmpClient *client,
                                         const TandemQmpIscsiBlockdev *iscsi,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);

/* Finishes either blockdev-add above, and the quorum's
 * (tandem-qmp-mirror.h). */
gboolean tandem_qmp_blockdev_add_finish(TandemQmpClient *client,
                                        GAsyncResult *result, GError **error);

/* Removes node @node_name, added with blockdev-add, and closes its
 * connection. GENERIC when there is no such node or a device still uses
 * it (remove the device first, and wait for DEVICE_DELETED). */
void tandem_qmp_blockdev_del_async(TandemQmpClient *client,
                                   const char *node_name,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean tandem_qmp_blockdev_del_finish(TandemQmpClient *client,
                                        GAsyncResult *result, GError **error);

typedef enum {
  TANDEM_QMP_DISK_NVME,   /* "nvme": an NVMe controller, one namespace */
  TANDEM_QMP_DISK_VIRTIO, /* "virtio-blk-pci" */
} TandemQmpDiskDriver;

/* A disk device for the guest on a block node. Strings are borrowed for
 * the call. */
typedef struct {
  TandemQmpDiskDriver driver;
  const char *id;    /* the device's id, for device_del and DEVICE_DELETED */
  /* The id of a free pcie-root-port: q35's pcie.0 refuses hot-plug. QEMU
   * 7.2 does not refuse a second device on a root port that has one (seen
   * with nvme): keeping one disk per port is the caller's job. */
  const char *bus;
  const char *drive; /* the block node's name */
  /* "serial": what the guest sees as the disk's serial number
   * (/dev/disk/by-id). Required for NVMe (QEMU: "serial property not
   * set"), whose serial field holds 20 bytes; NULL leaves a virtio disk
   * without one. */
  const char *serial;
  /* NVMe only, sent when not 0: "mdts", the largest transfer as a power of
   * two of 4 KiB pages (QEMU's default 7: 512 KiB, so the guest splits a
   * 1 MiB request in two). */
  guint8 nvme_mdts;
} TandemQmpDiskDevice;

/* Plugs the disk in (device_add); finish with
 * tandem_qmp_device_add_finish(). Neither device has a "read-only"
 * property in QEMU 7.2: a disk is read-only when its node is. GENERIC
 * when the bus or node does not exist, the id is taken, or a device
 * already writes to the node. */
void tandem_qmp_device_add_disk_async(TandemQmpClient *client,
                                      const TandemQmpDiskDevice *disk,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean tandem_qmp_device_add_finish(TandemQmpClient *client,
                                      GAsyncResult *result, GError **error);

/* Asks the guest to release device @id (device_del). Returns when QEMU has
 * passed the request on, not when the device is gone: that is the
 * DEVICE_DELETED event, sent once the guest OS has acknowledged, maybe
 * never. DEVICE_NOT_FOUND for an unknown id; GENERIC while an earlier
 * request for @id is still pending. */
void tandem_qmp_device_del_async(TandemQmpClient *client, const char *id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean tandem_qmp_device_del_finish(TandemQmpClient *client,
                                      GAsyncResult *result, GError **error);

/* device_del, then waiting for the DEVICE_DELETED event of @id, the two
 * together bounded by @timeout_ms (0: TANDEM_QMP_DEFAULT_TIMEOUT_MS). An
 * event that comes before the reply counts. TRUE once both came; the
 * device_del error; G_IO_ERROR_TIMED_OUT when the event did not come in
 * time (the request stays pending in QEMU: the device may still go later,
 * and device_del again fails with GENERIC); G_IO_ERROR_CANCELLED;
 * TANDEM_QMP_ERROR_DISCONNECTED when the connection ends first. A guest's
 * PCIe hot-plug driver may take seconds (Linux waits 5 s after QEMU's
 * simulated button press), so allow more than that. */
void tandem_qmp_device_del_wait_async(TandemQmpClient *client,
                                      const char *id, guint timeout_ms,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean tandem_qmp_device_del_wait_finish(TandemQmpClient *client,
                                           GAsyncResult *result,
                                           GError **error);

/* Whether the "data" of a DEVICE_DELETED event (may be NULL, as the
 * client's "event" signal passes it) is about device @id: its "device"
 * member is @id. QEMU may also send one for a device's QOM child without
 * an id (virtio-blk-pci's "virtio-backend"): a "path" and no "device". */
gboolean tandem_qmp_device_deleted_event_is(JsonObject *untrusted_data,
                                            const char *id);

G_END_DECLS
