/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which of a VM's snapshot disk images can go, and how (pure: no files
 * touched here). Taking a snapshot freezes each disk's image and puts a new
 * overlay on it; restoring one puts a new overlay on its images. Images
 * pile up as snapshots come and go, so after a delete or a restore Tandem
 * tidies the snapshot directory's disks/, one step at a time:
 *
 *   REMOVE  an image nothing refers to and nothing sits on: delete it;
 *   MERGE   an image nothing refers to with exactly one image on it: copy
 *           its data into that one (which then sits on the image below),
 *           after which it is a REMOVE.
 *
 * "Refers to" means: a snapshot in the manifest was taken on it, or the VM
 * uses it now. Only images in disks/ (owned) are ever removed or merged
 * into; anything else (the user's own images) is only read. An image with
 * two or more on it stays: merging it would copy its data twice.
 *
 * Images' headers are untrusted: a backing chain that loops, or an image
 * whose header could not be read (its children unknown), stops all
 * tidying (NOTHING), so that a doubt never costs data. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *path;    /* canonical, absolute */
  const char *backing; /* canonical, absolute, or NULL */
  gboolean owned;      /* in disks/: Tandem made it and may change it */
  gboolean unreadable; /* its header could not be read */
} TandemChainImage;

typedef enum {
  TANDEM_CHAIN_NOTHING,
  TANDEM_CHAIN_REMOVE,
  TANDEM_CHAIN_MERGE,
} TandemChainAction;

typedef struct {
  TandemChainAction action;
  const char *image; /* REMOVE, MERGE: the image that goes (borrowed) */
  const char *into;  /* MERGE: the one image on it (borrowed) */
} TandemChainStep;

/* The next step for @images (every image of the VM's chains: the owned
 * ones and those referred to), @referenced (NULL-terminated paths). */
TandemChainStep tandem_snapshot_chain_next(const TandemChainImage *images,
                                           gsize n_images,
                                           const char *const *referenced);

G_END_DECLS
