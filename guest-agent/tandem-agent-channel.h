/* The agent's end of the channel: a UNIX socket (loopback mode) or the
 * virtio-serial port org.tandem.agent.0, speaking protocol/ frames.
 *
 * Knows framing, not meaning: decoded messages come out as signals, and
 * anything malformed from the host ends the connection. Reconnecting is
 * the owner's decision.
 */
#pragma once

#include <gio/gio.h>

#include "tandem-protocol.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_AGENT_CHANNEL (tandem_agent_channel_get_type())
G_DECLARE_FINAL_TYPE(TandemAgentChannel, tandem_agent_channel, TANDEM,
                     AGENT_CHANNEL, GObject)

/* @address: "unix:PATH", or "virtio:NAME" (the port's name, looked up in
 * /sys/class/virtio-ports; /dev/virtio-ports/NAME if udev made it). */
TandemAgentChannel *tandem_agent_channel_new(const char *address);

/* Opens the channel; FALSE with @error if the peer is not there (yet). */
gboolean tandem_agent_channel_open(TandemAgentChannel *self, GError **error);
void tandem_agent_channel_close(TandemAgentChannel *self);
gboolean tandem_agent_channel_is_open(TandemAgentChannel *self);

/* Queues @msg; FALSE if it does not encode (a bug on our side) or the
 * channel is closed. Writes happen as the peer reads. */
gboolean tandem_agent_channel_send(TandemAgentChannel *self,
                                   const TpMessage *msg);

/* Signals:
 *   "message": void (TandemAgentChannel *, const TpMessage *msg)  -- valid
 *               only during the emission
 *   "closed":  void (TandemAgentChannel *, const char *reason)
 */

G_END_DECLS
