/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shared pixel region, guest side: memory the host maps too (BAR 2 of
 * the ivshmem-plain device Tandem gives a VM; a file in loopback), so
 * that window pixels reach the host without going through the channel.
 * The host wrote the protocol's header at its start (TP_SHM_MAGIC); this
 * side hands out space after it for frames in flight and takes it back
 * when the host acknowledges them. Nothing here knows X: a display
 * backend gives the descriptor to its window system (MIT-SHM) and asks
 * for space per frame. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct _TandemPixelMemory TandemPixelMemory;

/* Opens @path, or (NULL) the first ivshmem device under @sysfs_devices
 * (NULL: /sys/bus/pci/devices) whose BAR 2 holds a Tandem header. NULL
 * and G_IO_ERROR_NOT_FOUND when there is none: pixels then go through
 * the channel. */
TandemPixelMemory *tandem_pixel_memory_open(const char *path,
                                            const char *sysfs_devices,
                                            GError **error);
void tandem_pixel_memory_free(TandemPixelMemory *self);

const char *tandem_pixel_memory_get_path(TandemPixelMemory *self);
int tandem_pixel_memory_get_fd(TandemPixelMemory *self); /* still ours */
uint8_t *tandem_pixel_memory_get_data(TandemPixelMemory *self);
guint64 tandem_pixel_memory_get_size(TandemPixelMemory *self);

/* @len bytes for frame @seq of window @owner, 64-byte aligned, after the
 * header; FALSE when no gap is large enough (the frame then goes through
 * the channel). */
gboolean tandem_pixel_memory_alloc(TandemPixelMemory *self, uint32_t owner,
                                   uint32_t seq, guint64 len,
                                   uint32_t *offset);
/* Gives back @owner's frames up to @seq (the host acknowledged it). */
void tandem_pixel_memory_release(TandemPixelMemory *self, uint32_t owner,
                                 uint32_t seq);
/* Gives back all of @owner's (0: everyone's) frames. */
void tandem_pixel_memory_release_owner(TandemPixelMemory *self,
                                       uint32_t owner);
guint64 tandem_pixel_memory_get_used(TandemPixelMemory *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemPixelMemory, tandem_pixel_memory_free)

G_END_DECLS
