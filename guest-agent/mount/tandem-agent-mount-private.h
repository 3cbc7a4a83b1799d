/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the parts of the mount library share (tandem-agent-mount.c,
 * -fs.c, -users.c). Not for the agent. */
#pragma once

#include <glib.h>

/* Valid UTF-8, no control characters (tabs and line breaks become
 * spaces), at most @max bytes. */
char *tam_clean_text(const char *s, gsize max);
/* Reads the start of @path, TANDEM_MOUNT_PROBE_BYTES or less if it is
 * shorter, into @buf; *@len: how much. */
gboolean tam_read_start(const char *path, guint8 *buf, gsize *len,
                        GError **error);
