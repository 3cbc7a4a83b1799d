/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's side of one VM's agent channel, with no GTK: the handshake,
 * heartbeats, the guest's application catalog, launching, and the window
 * bookkeeping that keeps a guest from referring to windows it never
 * announced; mounting the disks storage/ attaches. proxy windows, storage/
 * and the shell sit on top of it.
 *
 * Everything read here comes from the guest and is untrusted: the decoder
 * bounds every message, and the link drops the connection (with a logged
 * reason) on any protocol violation: unknown window ids, a second CREATE
 * for a live id, more than TP_MAX_WINDOWS windows, a catalog that is not
 * a well-formed BEGIN..END list.
 */
#pragma once

#include <gio/gio.h>

#include "tandem-pixel-region.h"
#include "tandem-protocol.h"

G_BEGIN_DECLS

/* One application of the guest's catalog (owned copies, sanitised). */
typedef struct {
  char *id, *name, *generic_name, *comment, *startup_wm_class;
  gboolean terminal;
  GStrv categories, mime_types, keywords;
  GBytes *icon_png; /* NULL when the guest sent none */
} TandemGuestApp;

void tandem_guest_app_free(TandemGuestApp *app);

typedef enum {
  TANDEM_GUEST_LINK_DISCONNECTED,
  TANDEM_GUEST_LINK_HANDSHAKE,
  TANDEM_GUEST_LINK_READY,
} TandemGuestLinkState;

/* Messages an agent may send on a new connection before its HELLO (a
 * guest restored from a snapshot goes on talking to its old host until it
 * reads ours): dropped; one more closes the connection. */
#define TANDEM_GUEST_LINK_MAX_BEFORE_HELLO 256

/* Defaults of what one guest may take on the host: its catalog (names,
 * lists and icons: a few hundred ordinary apps take a few MiB), and what
 * is sent to it and not yet read (input and acknowledgements: a few KiB
 * in ordinary use). Over either, the link is cut with a log line. */
#define TANDEM_GUEST_LINK_DEFAULT_CATALOG_MEMORY ((gsize)64 << 20)
#define TANDEM_GUEST_LINK_DEFAULT_MAX_QUEUED ((gsize)8 << 20)

#define TANDEM_TYPE_GUEST_LINK (tandem_guest_link_get_type())
G_DECLARE_FINAL_TYPE(TandemGuestLink, tandem_guest_link, TANDEM, GUEST_LINK,
                     GObject)

void tandem_guest_link_set_limits(TandemGuestLink *self, gsize catalog_memory,
                                  gsize max_queued);

TandemGuestLink *tandem_guest_link_new(const char *vm_name);
const char *tandem_guest_link_get_vm_name(TandemGuestLink *self);

/* Host facts sent in HELLO: the desktop's size and scale, the icon size
 * wanted, the locale (NULL: this process's LC_MESSAGES). */
void tandem_guest_link_set_host(TandemGuestLink *self, uint32_t width,
                                uint32_t height, uint16_t scale_percent,
                                uint16_t icon_size, const char *locale);

/* Starts a session on a connected descriptor (taken over), closing any
 * previous one. */
void tandem_guest_link_attach_fd(TandemGuestLink *self, int fd);
/* Connects to a UNIX socket (QEMU's chardev for the agent port). */
gboolean tandem_guest_link_connect(TandemGuestLink *self, const char *path,
                                   GError **error);
void tandem_guest_link_close(TandemGuestLink *self, const char *reason);

TandemGuestLinkState tandem_guest_link_get_state(TandemGuestLink *self);
/* The agent's HELLO fields (valid while READY). */
const char *tandem_guest_link_get_agent_software(TandemGuestLink *self);
/* The guest's system as its agent names it, and the highest protocol
 * version the agent speaks (0 before its HELLO). */
const char *tandem_guest_link_get_agent_os(TandemGuestLink *self);
guint tandem_guest_link_get_agent_protocol(TandemGuestLink *self);
uint64_t tandem_guest_link_get_caps(TandemGuestLink *self);
/* Memory shared with the agent for pixels: offered (TP_CAP_SHM) in the
 * HELLOs after this call; the getter gives it only while the session uses
 * it (both sides offered it). */
void tandem_guest_link_set_pixel_region(TandemGuestLink *self,
                                        TandemPixelRegion *region);
TandemPixelRegion *tandem_guest_link_get_pixel_region(TandemGuestLink *self);

/* The catalog as the agent last sent it: TandemGuestApp, sorted by id. */
GPtrArray *tandem_guest_link_get_apps(TandemGuestLink *self);
const TandemGuestApp *tandem_guest_link_find_app(TandemGuestLink *self,
                                                 const char *id);
/* TRUE once a whole catalog has arrived in this session. */
gboolean tandem_guest_link_has_catalog(TandemGuestLink *self);

/* Sends a message (input, acks, focus, window requests). */
gboolean tandem_guest_link_send(TandemGuestLink *self, const TpMessage *msg);

/* LAUNCH: completes with the guest pid, or an error carrying the agent's
 * message (G_IO_ERROR_NOT_FOUND, _FAILED, _INVALID_ARGUMENT,
 * _PERMISSION_DENIED; G_IO_ERROR_CLOSED if the link went down;
 * G_IO_ERROR_TIMED_OUT after 30 s). */
void tandem_guest_link_launch_async(TandemGuestLink *self, const char *app_id,
                                    const char *const *args,
                                    const char *startup_id,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
guint32 tandem_guest_link_launch_finish(TandemGuestLink *self,
                                        GAsyncResult *result, GError **error);

/* MOUNT: the agent mounts the disk whose serial is @serial (as given to
 * QEMU's device) under a directory named @label for the guest user.
 * Completes with where, as what and how much room (the guest's word:
 * show it, never trust it as a host path), or an error carrying the
 * agent's message: G_IO_ERROR_NOT_FOUND (no such disk), _FAILED,
 * _BUSY, _NOT_MOUNTABLE_FILE (no file system: nothing was formatted);
 * _CLOSED, _NOT_CONNECTED, _TIMED_OUT (30 s) as for launches. */
typedef struct {
  char *mountpoint, *fs_type, *message;
  guint64 total_bytes, free_bytes;
} TandemGuestMount;
void tandem_guest_mount_free(TandemGuestMount *mount);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TandemGuestMount, tandem_guest_mount_free)

void tandem_guest_link_mount_async(TandemGuestLink *self, const char *serial,
                                   const char *label, gboolean read_only,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
/* Transfer full. */
TandemGuestMount *tandem_guest_link_mount_finish(TandemGuestLink *self,
                                                 GAsyncResult *result,
                                                 GError **error);
/* UNMOUNT: the agent flushes and unmounts the disk's file system. A busy
 * one is refused (G_IO_ERROR_BUSY, the message naming the programs that
 * hold it) unless @force (flushed, then detached lazily). A disk that was
 * never mounted is G_IO_ERROR_NOT_FOUND. */
void tandem_guest_link_unmount_async(TandemGuestLink *self,
                                     const char *serial, gboolean force,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean tandem_guest_link_unmount_finish(TandemGuestLink *self,
                                          GAsyncResult *result,
                                          GError **error);
/* Round-trip time of the last heartbeat, in microseconds (0: none yet). */
guint64 tandem_guest_link_get_rtt_us(TandemGuestLink *self);

/* Signals:
 *   "state-changed"   ()
 *   "catalog-changed" ()
 *   "window-message"  (const TpMessage *msg)   window messages, validated
 *                     (CREATE .. DESTROY, TITLE, CLASS, ICON, HINTS,
 *                     STATE, DAMAGE); valid only during the emission
 *   "focus-report"    (guint seq, guint kind, guint window)
 *   "closed"          (const char *reason)
 */

G_END_DECLS
