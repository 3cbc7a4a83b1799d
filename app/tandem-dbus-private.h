/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the D-Bus service's files share. Split by interface:
 *   tandem-dbus-service.c    the connection, org.freedesktop.Application
 *                            and org.tandem.Tandem1.Manager
 *   tandem-dbus-guests.c     org.tandem.Tandem1.Guests, from the guest hub
 *   tandem-dbus-snapshots.c  org.tandem.Tandem1.Snapshots, from the
 *                            snapshot manager
 *   tandem-dbus-storage.c    org.tandem.Tandem1.Storage, from the disk
 *                            manager
 */
#pragma once

#include <systemd/sd-bus.h>

#include "tandem-dbus-service.h"

struct _TandemDbusService {
  GObject parent_instance;

  GApplication *app; /* not a reference: the application owns us */
  TandemVmManager *manager;
  TandemGuestHub *hub; /* NULL: no Guests interface */
  TandemSnapshotManager *snapshots; /* NULL: no Snapshots interface */
  TandemDiskManager *disks; /* NULL: no Storage interface */
  sd_bus *bus;
  sd_bus_slot *application_slot;
  sd_bus_slot *manager_slot;
  sd_bus_slot *guests_slot;
  sd_bus_slot *snapshots_slot;
  sd_bus_slot *storage_slot;
  GSource *bus_source;
  /* Cancelled at close(): VM operations, launches, snapshots and disks
   * being attached or detached still in flight then. Their calls get no
   * reply; the caller sees the connection go (NoReply). */
  GCancellable *cancellable;
};

/* The D-Bus error (one of TANDEM_DBUS_ERROR_*, or InvalidArgs) that a
 * reply carries for @error: TANDEM_VMM_ERROR's codes, TANDEM_SNAPSHOT_ERROR's
 * and GIO's, which the hub, the agent link and the snapshots use. */
const char *tandem_dbus_error_name_for(const GError *error);

/* The VM called @name, the configuration directory re-read first (files
 * written or deleted by hand count at once); NULL with NotFound set in
 * @ret_error if there is none. */
/* A method call answered later (an attach, a snapshot): the call, and the
 * application held until the answer is sent. */
typedef struct {
  sd_bus_message *call; /* a reference */
  GApplication *app;    /* a reference and a hold */
} TandemDbusPending;

TandemDbusPending *tandem_dbus_pending_new(sd_bus_message *call,
                                           GApplication *app);
void tandem_dbus_pending_free(TandemDbusPending *pending);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemDbusPending, tandem_dbus_pending_free)

/* Replies to @call with an array of @signature (one element's), one
 * element per item of @items written by @append. */
int tandem_dbus_reply_array(sd_bus_message *call, const char *signature,
                            GPtrArray *items,
                            int (*append)(sd_bus_message *reply,
                                          gconstpointer item));

TandemVm *tandem_dbus_service_lookup_vm(TandemDbusService *self,
                                        const char *name,
                                        sd_bus_error *ret_error);

/* D-Bus strings cannot be NULL. */
static inline const char *or_empty(const char *text) {
  return text ? text : "";
}

/* At export(), when a hub is set: exports org.tandem.Tandem1.Guests and
 * passes the hub's signals on. A negative errno if sd-bus refused. */
int tandem_dbus_service_export_guests(TandemDbusService *self);

/* At export(), when a snapshot manager is set: exports
 * org.tandem.Tandem1.Snapshots and passes the manager's signals on. A
 * negative errno if sd-bus refused. */
int tandem_dbus_service_export_snapshots(TandemDbusService *self);

/* At export(), when a disk manager is set: exports
 * org.tandem.Tandem1.Storage and passes the manager's signal on. A negative
 * errno if sd-bus refused. */
int tandem_dbus_service_export_storage(TandemDbusService *self);
