/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the parts of the disk manager share (tandem-disk-manager.c: the
 * table, attaching, mounting; tandem-disk-detach.c: detaching, and a
 * restored snapshot's disks put back). Not for other modules. */
#pragma once

#include "tandem-disk-manager.h"
#include "tandem-disk-probe.h"
#include "tandem-qmp-commands.h"

/* How long the guest has to see a hot-plugged disk before the mount gives
 * up (PCIe hot-plug under TCG takes a second or two), how often the agent
 * is asked meanwhile, and how long the guest has to release a device. */
#define MOUNT_WAIT_MS 20000
#define MOUNT_RETRY_MS 250
#define UNPLUG_WAIT_MS 15000
#define OPEN_TIMEOUT_S 5
/* NVMe transfers of up to 2 MiB (QEMU's default, 512 KiB, splits a 1 MiB
 * request in two): sequential reads 576 -> 1492 MiB/s in bench-storage
 * (TCG, 1 vCPU). */
#define NVME_MDTS 9
/* A disk refused as busy is asked again this often before the user is
 * told: 5 times over about 1.2 s. */
#define UNMOUNT_TRIES 5
#define UNMOUNT_RETRY_MS 300

typedef struct _TdmMirror TdmMirror;

typedef struct {
  TandemDiskInfo info;
  char *node, *device;
  TdmMirror *mirror; /* two exports as one disk (tandem-disk-mirror.c) */
  gint64 lost_at;    /* when its server was found gone (tandem-disk-watch.c) */
  char *saved_message; /* the message before, given back when it is back */
} Attachment;

struct _TandemDiskManager {
  GObject parent;
  TandemVmManager *vms;
  TandemDiskLinkFunc link_func;
  gpointer link_data;
  GHashTable *by_vm; /* VM name -> GPtrArray of Attachment */
  GHashTable *starting; /* VM names started and not running yet */
  guint watch_id;       /* tandem-disk-watch.c's timer, while it runs */
};

/* The VM's attachments (created empty when @create), one by name. */
GPtrArray *tdm_attachments_of(TandemDiskManager *self, const char *vm,
                              gboolean create);
Attachment *tdm_find(TandemDiskManager *self, const char *vm,
                     const char *name);
/* Emits "changed" for @vm. */
void tdm_changed(TandemDiskManager *self, const char *vm);
/* Out of the table (freed), "changed" emitted. */
void tdm_forget(TandemDiskManager *self, Attachment *a);
/* The VM's configuration keeps (@keep) or forgets @info. */
void tdm_remember(TandemDiskManager *self, const TandemDiskInfo *info,
                  gboolean keep);
void tdm_set_unmounted(Attachment *a);
gboolean tdm_vm_runs(TandemDiskManager *self, const char *vm);
/* The VM's agent session, when it is there and can mount. */
TandemGuestLink *tdm_link_of(TandemDiskManager *self, const char *vm);
gboolean tdm_port_is_free(TandemDiskManager *self, TandemVm *vm,
                          const char *port);

/* A new attachment (not in the table yet), state attaching, its node,
 * device and serial named after @tag; @mirror (may be NULL) the address of
 * its second export. */
Attachment *tdm_attachment_new(const char *vm, const char *name,
                               const char *uri, const char *mirror,
                               TandemDiskBus bus, gboolean read_only,
                               guint32 tag, const char *port);
/* blockdev-add of @a's node: on its address, or for a mirrored one on
 * both (a quorum over two nodes). Finish with tdm_add_node_finish(); on an
 * error nothing is left added. The error is QEMU's for a single address
 * (the caller may ask again read-only), and already explained
 * (tdm_explain_add_error, naming the address that failed) for a mirror. */
void tdm_add_node(TandemQmpClient *qmp, Attachment *a, gboolean read_only,
                  GAsyncReadyCallback callback, gpointer data);
gboolean tdm_add_node_finish(GAsyncResult *result, GError **error);
/* Why blockdev-add of @u failed, for the user (QEMU's words kept). */
GError *tdm_explain_add_error(const TandemStorageUri *u, const GError *qemu);
/* blockdev-add of one node @node on @u (finish:
 * tandem_qmp_blockdev_add_finish). @open_timeout: see
 * TandemQmpNbdBlockdev. */
void tdm_add_one_node(TandemQmpClient *qmp, const char *node,
                      const TandemStorageUri *u, gboolean read_only,
                      guint open_timeout, GAsyncReadyCallback callback,
                      gpointer data);

/* Starts watching the servers of plugged-in disks if there are any and
 * the watch is not running (tandem-disk-watch.c); it stops by itself. */
void tdm_watch_update(TandemDiskManager *self);

/* --- Mirrors (tandem-disk-mirror.c) ----------------------------------- */

/* The mirror of @a (whose info.mirror is set), its children named after
 * @a's node. */
TdmMirror *tdm_mirror_new(Attachment *a);
/* The attachment is going: no more steps for it (a step under way ends
 * quietly). */
void tdm_mirror_free(TdmMirror *m);
/* Adds the two children and the quorum over them (tdm_add_node). */
void tdm_mirror_add_nodes(TdmMirror *m, TandemQmpClient *qmp,
                          gboolean read_only, GTask *task);
/* Watches QEMU's events for @m's children: a child that fails makes the
 * attachment degraded and is resynchronised when its server is back. */
void tdm_mirror_watch(TdmMirror *m, TandemDiskManager *mgr, TandemQmpClient *qmp);
/* At a start or a restore: a mirror whose one server is not there is
 * attached degraded on the other, rather than not at all. */
void tdm_mirror_allow_degraded(TdmMirror *m);
/* The state of @m's attachment once plugged in: DEGRADED (with the
 * message, and the missing server tried again) when it came up on one
 * server, else ATTACHED (also for NULL). */
TandemDiskState tdm_mirror_settle(TdmMirror *m);
/* The watch's turn (tandem-disk-watch.c) for a mirrored disk, with the
 * host's socket tables of now: a server QEMU has not been connected to
 * for longer than the reconnect delay is lost (degraded, even when the
 * guest is not using the disk); when the server the disk runs on alone is
 * lost too, the disk is failed until it is back. Emits "changed" itself
 * (returns FALSE). */
gboolean tdm_mirror_check(TdmMirror *m, const TandemDiskProbe *probe,
                          gint64 now);
/* While a detach runs (@hold), a lost child is not tried again; after a
 * detach that failed, it is. */
void tdm_mirror_hold(TdmMirror *m, gboolean hold);
/* A resynchronisation is copying: the disk cannot be detached now. */
gboolean tdm_mirror_busy(const TdmMirror *m);
/* After the quorum node is gone: its children go too. */
void tdm_mirror_remove_children(TdmMirror *m, TandemQmpClient *qmp);
/* device_add of @a on its port (finish: tandem_qmp_device_add_finish). */
void tdm_plug(TandemQmpClient *qmp, const Attachment *a,
              GAsyncReadyCallback callback, gpointer data);
