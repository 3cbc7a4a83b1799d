/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sd-bus on the GLib main loop, and g_autoptr()/g_auto() for sd-bus types.
 *
 * The shell talks D-Bus with sd-bus (not GDBus); this GSource lets a
 * connection be served by the same main loop as GTK, so method handlers run
 * on the UI thread between other events and must never block.
 */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus, sd_bus_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sd_bus_error, sd_bus_error_free)

/* A source that runs sd_bus_process() on @bus whenever its socket is ready
 * or one of its timeouts (pending method calls) expires. Takes a reference
 * on @bus for the source's lifetime.
 *
 * The source's callback, a GSourceFunc set with g_source_set_callback(), is
 * called once if the connection is lost (peer gone, I/O error); the source
 * then destroys itself. Without a callback the loss is only logged. */
GSource *tandem_bus_source_new(sd_bus *bus);

G_END_DECLS
