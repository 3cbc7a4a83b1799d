/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl's "storage" commands: a client of
 * org.tandem.Tandem1.Storage. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "tandemctl storage attach|detach|list VM …": @argv[0] is "storage".
 * Returns a TandemctlExit. */
int tandemctl_storage_main(int argc, char **argv);

G_END_DECLS
