/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a qcow2 image's header says about its backing file, read without
 * QEMU: the snapshot manager's overlay chains are walked with it to know
 * which image needs which (tandem-snapshot-chain.h).
 *
 * The header is untrusted (the images sit in the user's data directory and
 * a guest wrote their contents, if not their headers): every offset and
 * length is checked against the bytes given, names are bounded and must be
 * text without control characters. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TANDEM_QCOW2_ERROR (tandem_qcow2_error_quark())
GQuark tandem_qcow2_error_quark(void);

typedef enum {
  TANDEM_QCOW2_ERROR_NOT_QCOW2, /* no qcow2 magic: a raw image, or not one */
  TANDEM_QCOW2_ERROR_INVALID,   /* a qcow2 header that does not hold up */
  TANDEM_QCOW2_ERROR_IO,        /* the file could not be read */
} TandemQcow2Error;

/* How much of the file's start tandem_qcow2_read_backing() reads: QEMU
 * puts the header, its extensions and the backing file's name first. */
#define TANDEM_QCOW2_HEAD_BYTES 65536
/* QEMU's own limit on a backing file's name. */
#define TANDEM_QCOW2_MAX_BACKING 1023

/* From the first @len bytes of an image: its backing file's name as
 * written (NULL: no backing file; may be relative to the image's
 * directory) and the backing file's format from the header extension
 * (NULL when not recorded). Pure. */
gboolean tandem_qcow2_parse_backing(const guint8 *head, gsize len,
                                    char **backing, char **format,
                                    GError **error);

/* The same from the file at @path, the backing name made absolute (against
 * @path's directory) and canonical ("." and ".." resolved, not links). */
gboolean tandem_qcow2_read_backing(const char *path, char **backing,
                                   char **format, GError **error);

G_END_DECLS
