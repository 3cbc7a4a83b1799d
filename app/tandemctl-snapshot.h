/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl's "snapshot" commands: a client of
 * org.tandem.Tandem1.Snapshots. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "tandemctl snapshot create|list|restore|delete VM …": @argv[0] is
 * "snapshot". Returns a TandemctlExit. */
int tandemctl_snapshot_main(int argc, char **argv);

G_END_DECLS
