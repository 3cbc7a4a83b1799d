/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One end of the Tandem agent channel on the GLib main loop: protocol/
 * frames over a connected file descriptor (a UNIX socket, or the guest's
 * virtio-serial port). Used by both tandem-agent (receiving as
 * TP_ROLE_AGENT) and the host (TP_ROLE_HOST).
 *
 * Knows framing, not meaning: decoded messages come out as signals, and
 * anything malformed from the peer ends the connection. Writes never
 * block: frames queue and go out as the peer reads. Reading is fair: a
 * bounded slice of messages per main-loop turn.
 */
#pragma once

#include <gio/gio.h>

#include "tandem-protocol.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_CHANNEL (tandem_channel_get_type())
G_DECLARE_FINAL_TYPE(TandemChannel, tandem_channel, TANDEM, CHANNEL, GObject)

/* Takes @fd (made non-blocking); @receiver: which side this end is. */
TandemChannel *tandem_channel_new(int fd, TpRole receiver);

void tandem_channel_close(TandemChannel *self);
gboolean tandem_channel_is_open(TandemChannel *self);

/* Queues @msg; FALSE if it does not encode (a bug on our side) or the
 * channel is closed. */
gboolean tandem_channel_send(TandemChannel *self, const TpMessage *msg);

/* A peer that leaves more than @bytes unread is cut off ("closed" says
 * so): what is queued for it can never grow without end. 0: no limit. */
void tandem_channel_set_max_queued(TandemChannel *self, gsize bytes);

/* Bytes queued and not yet taken by the peer. */
gsize tandem_channel_get_queued(TandemChannel *self);

/* Signals:
 *   "message": void (TandemChannel *, const TpMessage *msg) -- msg valid
 *              only during the emission
 *   "closed":  void (TandemChannel *, const char *reason) -- once
 */

G_END_DECLS
