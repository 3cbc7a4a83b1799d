/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tidying snapshot disk images, the plan (tandem-snapshot-chain.h). */
#include "tandem-snapshot-chain.h"

#include <string.h>

static const TandemChainImage *find(const TandemChainImage *images, gsize n,
                                    const char *path) {
  for (gsize i = 0; path && i < n; i++)
    if (g_str_equal(images[i].path, path))
      return &images[i];
  return NULL;
}

static gboolean is_referenced(const char *const *referenced,
                              const char *path) {
  for (gsize i = 0; referenced && referenced[i]; i++)
    if (g_str_equal(referenced[i], path))
      return TRUE;
  return FALSE;
}

/* TRUE if following backing files from some image comes back round. */
static gboolean has_loop(const TandemChainImage *images, gsize n) {
  for (gsize i = 0; i < n; i++) {
    const TandemChainImage *at = &images[i];
    for (gsize steps = 0; at && at->backing; steps++) {
      if (steps >= n)
        return TRUE;
      at = find(images, n, at->backing);
    }
  }
  return FALSE;
}

TandemChainStep tandem_snapshot_chain_next(const TandemChainImage *images,
                                           gsize n_images,
                                           const char *const *referenced) {
  const TandemChainStep nothing = {TANDEM_CHAIN_NOTHING, NULL, NULL};
  TandemChainStep merge = nothing;

  for (gsize i = 0; i < n_images; i++)
    if (images[i].unreadable)
      return nothing;
  if (has_loop(images, n_images))
    return nothing;

  for (gsize i = 0; i < n_images; i++) {
    const TandemChainImage *x = &images[i];
    const TandemChainImage *child = NULL;
    gsize children = 0;

    if (!x->owned || is_referenced(referenced, x->path))
      continue;
    for (gsize j = 0; j < n_images; j++)
      if (images[j].backing && g_str_equal(images[j].backing, x->path)) {
        children++;
        child = &images[j];
      }
    if (children == 0)
      return (TandemChainStep){TANDEM_CHAIN_REMOVE, x->path, NULL};
    /* Never merged into an image that is not Tandem's. */
    if (children == 1 && child->owned &&
        merge.action == TANDEM_CHAIN_NOTHING)
      merge = (TandemChainStep){TANDEM_CHAIN_MERGE, x->path, child->path};
  }
  return merge;
}
