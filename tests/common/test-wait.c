/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "test-wait.h"

static gboolean on_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean tandem_test_wait(const gboolean *flag, double seconds) {
  gboolean expired = FALSE;
  guint id = g_timeout_add((guint)(seconds * 1000), on_deadline, &expired);
  while (!*flag && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (!expired)
    g_source_remove(id);
  return *flag;
}
