/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shared pixel region, host side: a file both the host and the guest's
 * agent map (through QEMU's ivshmem-plain device in a VM, directly in
 * loopback), so that window pixels never go through the agent's channel.
 * The host creates the file with the protocol's header (TP_SHM_MAGIC) and
 * maps it read-only; the agent writes pixels after the header and a
 * DAMAGE message with TP_ENCODING_SHM says where (tp_shm_ref_read checks
 * every reference against the size). Whatever the guest writes there is
 * only ever copied out, never trusted as anything but pixels. */
#pragma once

#include <glib.h>

#include "tandem-protocol.h"

G_BEGIN_DECLS

typedef struct _TandemPixelRegion TandemPixelRegion;

/* Creates (or replaces) @path, 0600, of @size bytes (at least two pages),
 * writes the header and maps it. */
TandemPixelRegion *tandem_pixel_region_create(const char *path, guint64 size,
                                              GError **error);
TandemPixelRegion *tandem_pixel_region_ref(TandemPixelRegion *self);
/* Unmaps; the last reference also removes the file. */
void tandem_pixel_region_unref(TandemPixelRegion *self);
guint64 tandem_pixel_region_get_size(TandemPixelRegion *self);

/* The first pixel of @rect (a TP_ENCODING_SHM rectangle) and its stride,
 * or NULL and TP_ERR_* in @err if it does not lie within the region. */
const uint8_t *tandem_pixel_region_locate(TandemPixelRegion *self,
                                          const TpRect *rect, size_t *stride,
                                          TpError *err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemPixelRegion, tandem_pixel_region_unref)

G_END_DECLS
