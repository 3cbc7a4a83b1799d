/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Is QEMU connected to a network disk's server? Read from the host's own
 * tables, without a connection of ours: QEMU 7.2 reports neither losing
 * an NBD server nor reconnecting to it (field notes), and a probe
 * connection could take the one client slot a server such as qemu-nbd
 * offers.
 *
 * A snapshot (tandem_disk_probe_new) lists the sockets process @pid holds
 * (/proc/PID/fd), their established TCP peers (/proc/net/tcp, tcp6) and,
 * through sock_diag, the UNIX socket each is connected to and that
 * socket's path (a server's accepted socket carries the path it listens
 * on). GTK-free. */
#pragma once

#include <glib.h>

#include "tandem-storage-uri.h"

G_BEGIN_DECLS

typedef struct _TandemDiskProbe TandemDiskProbe;

typedef enum {
  TANDEM_DISK_PROBE_CONNECTED,
  TANDEM_DISK_PROBE_NOT_CONNECTED,
  TANDEM_DISK_PROBE_UNKNOWN, /* the tables could not be read */
} TandemDiskProbeResult;

/* NULL when @pid's sockets cannot be listed (gone, not ours). */
TandemDiskProbe *tandem_disk_probe_new(GPid pid);
void tandem_disk_probe_free(TandemDiskProbe *probe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemDiskProbe, tandem_disk_probe_free)

/* Whether the process has a connection to @u's server: for a UNIX socket
 * one connected to a socket bound to its path; for TCP an established one
 * to its port (and its address, when @u names the server by one). */
TandemDiskProbeResult tandem_disk_probe_check(const TandemDiskProbe *probe,
                                              const TandemStorageUri *u);

/* --- The parsers, for tests ------------------------------------------- */

typedef struct {
  guint64 inode;
  guint8 remote[16]; /* IPv4 in the first 4 bytes, network order */
  gboolean v6;
  guint16 remote_port;
} TandemDiskProbeTcp;

/* Appends the ESTABLISHED connections of a /proc/net/tcp (@v6: tcp6) text
 * to @out (TandemDiskProbeTcp); lines that do not parse are skipped, at
 * most @max_lines are read. */
void tandem_disk_probe_parse_tcp(const char *text, gboolean v6,
                                 guint max_lines, GArray *out);

/* The socket inode of a /proc/PID/fd link target ("socket:[1234]"), or 0. */
guint64 tandem_disk_probe_socket_inode(const char *link);

G_END_DECLS
