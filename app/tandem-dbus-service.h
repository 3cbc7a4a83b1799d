/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shell's D-Bus service on the session bus, with sd-bus.
 *
 * Owns the bus name org.tandem.Tandem (that is what makes the shell a
 * single instance) and exports, on /org/tandem/Tandem:
 *   org.freedesktop.Application   Activate, Open, ActivateAction
 *   org.tandem.Tandem1.Manager    the VMs of a TandemVmManager
 *   org.tandem.Tandem1.Guests     their applications, windows and focus,
 *                                 from a TandemGuestHub (when one is set)
 *   org.tandem.Tandem1.Snapshots  their snapshots, from a
 *                                 TandemSnapshotManager (when one is set)
 *   org.tandem.Tandem1.Storage    network disks attached to them, from a
 *                                 TandemDiskManager (when one is set)
 * docs/dbus.md is the interface's reference; tandemctl is its client.
 *
 * Every handler runs on the main loop and answers without blocking: VM
 * operations reply when they complete, minutes later if need be.
 */
#pragma once

#include <gio/gio.h>

#include "tandem-vm-manager.h"

G_BEGIN_DECLS

#define TANDEM_DBUS_NAME "org.tandem.Tandem"
#define TANDEM_DBUS_PATH "/org/tandem/Tandem"
#define TANDEM_DBUS_APPLICATION_INTERFACE "org.freedesktop.Application"
#define TANDEM_DBUS_MANAGER_INTERFACE "org.tandem.Tandem1.Manager"
#define TANDEM_DBUS_GUESTS_INTERFACE "org.tandem.Tandem1.Guests"
#define TANDEM_DBUS_SNAPSHOTS_INTERFACE "org.tandem.Tandem1.Snapshots"
#define TANDEM_DBUS_STORAGE_INTERFACE "org.tandem.Tandem1.Storage"

/* The errors of the Manager, Guests, Snapshots and Storage; each carries a
 * message meant for the user. */
#define TANDEM_DBUS_ERROR_NOT_FOUND "org.tandem.Tandem1.Error.NotFound"
#define TANDEM_DBUS_ERROR_EXISTS "org.tandem.Tandem1.Error.Exists"
#define TANDEM_DBUS_ERROR_ALREADY_RUNNING \
  "org.tandem.Tandem1.Error.AlreadyRunning"
#define TANDEM_DBUS_ERROR_NOT_RUNNING "org.tandem.Tandem1.Error.NotRunning"
#define TANDEM_DBUS_ERROR_BUSY "org.tandem.Tandem1.Error.Busy"
#define TANDEM_DBUS_ERROR_CONFIG "org.tandem.Tandem1.Error.Config"
/* Snapshots: a name or id that breaks the rules, too many snapshots. */
#define TANDEM_DBUS_ERROR_INVALID "org.tandem.Tandem1.Error.Invalid"
/* Snapshots: a damaged or truncated snapshot, or another VM's. */
#define TANDEM_DBUS_ERROR_CORRUPT "org.tandem.Tandem1.Error.Corrupt"
#define TANDEM_DBUS_ERROR_NO_SPACE "org.tandem.Tandem1.Error.NoSpace"
#define TANDEM_DBUS_ERROR_FAILED "org.tandem.Tandem1.Error.Failed"
/* Storage: the server of a disk cannot be reached. */
#define TANDEM_DBUS_ERROR_UNREACHABLE "org.tandem.Tandem1.Error.Unreachable"
/* Storage: what was asked for needs what this host's QEMU lacks. */
#define TANDEM_DBUS_ERROR_NOT_SUPPORTED \
  "org.tandem.Tandem1.Error.NotSupported"
/* Storage: a read-only export attached writable. */
#define TANDEM_DBUS_ERROR_READ_ONLY "org.tandem.Tandem1.Error.ReadOnly"
/* Storage: the guest has files open on a disk being detached. */
#define TANDEM_DBUS_ERROR_IN_USE "org.tandem.Tandem1.Error.InUse"
/* Storage: the guest did not let a disk go in time. */
#define TANDEM_DBUS_ERROR_TIMED_OUT "org.tandem.Tandem1.Error.TimedOut"

/* Declared here rather than included, so that tandemctl (which uses the
 * names above) needs none of the shell's guest side to build. */
typedef struct _TandemGuestHub TandemGuestHub;
typedef struct _TandemSnapshotManager TandemSnapshotManager;
typedef struct _TandemDiskManager TandemDiskManager;

#define TANDEM_TYPE_DBUS_SERVICE (tandem_dbus_service_get_type())
G_DECLARE_FINAL_TYPE(TandemDbusService, tandem_dbus_service, TANDEM,
                     DBUS_SERVICE, GObject)

/* No I/O yet. @app is not referenced: it owns the service and outlives it.
 * Activate, Open and ActivateAction call g_application_activate(@app). */
TandemDbusService *tandem_dbus_service_new(GApplication *app);

/* Connects to the session bus and requests TANDEM_DBUS_NAME without
 * queueing. Fails with G_IO_ERROR_EXISTS if another process owns it, or
 * another G_IO_ERROR if there is no usable session bus. Blocks for one
 * round trip to the bus daemon: call it at start-up, before any window. */
gboolean tandem_dbus_service_own_name(TandemDbusService *self,
                                      GError **error);

/* After own_name() failed with G_IO_ERROR_EXISTS: asks the owner to
 * activate (show its window). Blocks for up to 10 s; start-up only. */
gboolean tandem_dbus_service_activate_owner(TandemDbusService *self,
                                            GError **error);

/* Before export(): the guests that org.tandem.Tandem1.Guests reports on
 * (a reference is taken; NULL drops the one set before). Without a hub
 * that interface is not exported. */
void tandem_dbus_service_set_guest_hub(TandemDbusService *self,
                                       TandemGuestHub *hub);

/* Before export(): the snapshots that org.tandem.Tandem1.Snapshots takes,
 * lists, restores and deletes (a reference is taken; NULL drops the one
 * set before). It must be made for the manager given to export(). Without
 * one that interface is not exported. */
void tandem_dbus_service_set_snapshot_manager(TandemDbusService *self,
                                              TandemSnapshotManager *snapshots);

/* Before export(): the disks that org.tandem.Tandem1.Storage attaches,
 * lists and detaches (a reference is taken; NULL drops the one set
 * before). It must be made for the manager given to export(). Without one
 * that interface is not exported. */
void tandem_dbus_service_set_disk_manager(TandemDbusService *self,
                                          TandemDiskManager *disks);

/* After own_name() succeeded: exports the interfaces for @manager (taking
 * a reference), the guest hub, the snapshot manager and the disk manager,
 * if they were set,
 * and starts serving on the thread-default main context. Calls that
 * arrived since the name was taken are answered then. */
gboolean tandem_dbus_service_export(TandemDbusService *self,
                                   TandemVmManager *manager, GError **error);

/* Hands the bus name over when the shell quits: releases it, answers the
 * calls already on their way to us, then closes the connection. Blocks for
 * one round trip to the bus daemon. Dispose does it too; calling it twice
 * is harmless. */
void tandem_dbus_service_close(TandemDbusService *self);

/* Signals:
 *   "connection-lost": void (TandemDbusService *) -- the session bus went
 *                      away (the session is ending); nothing is served
 *                      any more.
 */

G_END_DECLS
