/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Typed QMP calls for mirrored disks: a quorum node over several block
 * nodes, replacing one of its children, and copying a node onto another
 * with a mirror job (QEMU 7.2). Same conventions as tandem-qmp-commands.h:
 * one function per command, strings borrowed for the call, errors in
 * TANDEM_QMP_ERROR (GENERIC for QEMU's refusals, with its words).
 *
 * Resynchronising a child that missed writes while its server was away
 * (checked with QEMU 7.2 under TCG, the guest writing meanwhile): remove it
 * from the quorum (x-blockdev-change), blockdev-del it, blockdev-add it
 * again, mirror the quorum node onto it (sync full, write-blocking) until
 * BLOCK_JOB_READY, stop the guest, cancel the job (a ready mirror then
 * completes without switching over), add the child back, let the guest go
 * on: a pause of milliseconds. A child merely re-added copies nothing. */
#pragma once

#include "tandem-qmp-client.h"

G_BEGIN_DECLS

/* A quorum node (blockdev-add, driver "quorum") over the existing nodes
 * @children (NULL-terminated, at least 1; 2 for a mirror, 1 for a mirror
 * that starts with one server missing): "vote-threshold" 1 and
 * "read-pattern" fifo, so that the node keeps working while one child
 * does; QEMU then names the children "children.0", "children.1", ... in
 * that order. Finish with tandem_qmp_blockdev_add_finish(). */
void tandem_qmp_blockdev_add_quorum_async(TandemQmpClient *client,
                                          const char *node_name,
                                          const char *const *children,
                                          gboolean read_only,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);

/* x-blockdev-change: with @child (the child's name in @parent, e.g.
 * "children.1") removes it from quorum node @parent; with @node instead
 * adds node @node to it as a new child. One of the two, not both. QEMU
 * 7.2 refuses removing a child below the vote threshold. */
void tandem_qmp_blockdev_change_async(TandemQmpClient *client,
                                      const char *parent, const char *child,
                                      const char *node,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean tandem_qmp_blockdev_change_finish(TandemQmpClient *client,
                                           GAsyncResult *result,
                                           GError **error);

/* A mirror job @job_id copying node @device (in use by the guest) onto
 * node @target ("sync" full, "copy-mode" write-blocking: once READY, every
 * guest write lands on both before it completes). BLOCK_JOB_READY says the
 * two are the same. */
void tandem_qmp_blockdev_mirror_async(TandemQmpClient *client,
                                      const char *job_id, const char *device,
                                      const char *target,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean tandem_qmp_blockdev_mirror_finish(TandemQmpClient *client,
                                           GAsyncResult *result,
                                           GError **error);

/* block-job-cancel of @job_id: a READY mirror then completes without
 * switching the device over (BLOCK_JOB_COMPLETED), one not ready yet is
 * cancelled (BLOCK_JOB_CANCELLED). */
void tandem_qmp_block_job_cancel_async(TandemQmpClient *client,
                                       const char *job_id,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean tandem_qmp_block_job_cancel_finish(TandemQmpClient *client,
                                            GAsyncResult *result,
                                            GError **error);

/* A QUORUM_REPORT_BAD event's untrusted "data": the child's node name
 * (borrowed from @data) and whether it was an I/O error (a child that
 * failed) rather than a vote it lost. FALSE when @data has not that
 * shape. */
gboolean tandem_qmp_quorum_report_bad_parse(JsonObject *untrusted_data,
                                            const char **node_name,
                                            gboolean *io_error);

/* Whether a BLOCK_JOB_* event's untrusted "data" is about job @job_id (its
 * "device" member, which QEMU 7.2 sets to the job's id); @error (may be
 * NULL) is set to the job's error message, borrowed, or NULL. */
gboolean tandem_qmp_block_job_event_is(JsonObject *untrusted_data,
                                       const char *job_id,
                                       const char **error);

G_END_DECLS
