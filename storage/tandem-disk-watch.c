/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Watching the servers of attached network disks (tandem-disk-manager.h):
 * QEMU says nothing when it loses an NBD server or gets it back, so every
 * WATCH_MS, while a VM has such a disk attached, the host's socket tables
 * say whether QEMU is connected to it (tandem-disk-probe.h). Not
 * connected: "reconnecting" (QEMU holds the guest's requests), and after
 * the reconnect delay "failed" (QEMU fails them); connected again:
 * "attached". For a mirrored disk the mirror decides (tdm_mirror_check):
 * a lost server is a lost child. The timer runs only while there
 * is something to watch, so a shell with no network disk stays idle. */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "tandem-disk-private.h"
#include "tandem-disk-probe.h"

#define WATCH_MS 2000

static gboolean watched(const Attachment *a) {
  if (!a->info.plugged)
    return FALSE;
  if (a->mirror)
    return a->info.state == TANDEM_DISK_ATTACHED ||
           a->info.state == TANDEM_DISK_DEGRADED ||
           a->info.state == TANDEM_DISK_FAILED;
  return a->info.state == TANDEM_DISK_ATTACHED ||
         a->info.state == TANDEM_DISK_RECONNECTING ||
         a->info.state == TANDEM_DISK_FAILED;
}

static void set_lost(Attachment *a, TandemDiskState state, gint64 now) {
  if (a->info.state == TANDEM_DISK_ATTACHED) {
    a->lost_at = now;
    g_free(a->saved_message);
    a->saved_message = g_strdup(a->info.message);
  }
  a->info.state = state;
  g_free(a->info.message);
  a->info.message =
      state == TANDEM_DISK_RECONNECTING
          ? g_strdup_printf(_("The server of %s does not answer: QEMU is "
                              "reconnecting, and the guest's reads and "
                              "writes on this disk wait for it (up to %d "
                              "s)."),
                            a->info.uri, TANDEM_DISK_RECONNECT_DELAY)
          : g_strdup_printf(_("The server of %s has been away for more than "
                              "%d s: the guest's reads and writes on this "
                              "disk fail until it is back. The VM and its "
                              "other disks go on."),
                            a->info.uri, TANDEM_DISK_RECONNECT_DELAY);
}

/* TRUE when @a's state changed. */
static gboolean check(Attachment *a, const TandemDiskProbe *probe,
                      gint64 now) {
  g_autoptr(TandemStorageUri) u = tandem_storage_uri_parse(a->info.uri, NULL);
  if (!u)
    return FALSE;
  TandemDiskProbeResult r = tandem_disk_probe_check(probe, u);
  if (r == TANDEM_DISK_PROBE_UNKNOWN)
    return FALSE;
  if (r == TANDEM_DISK_PROBE_CONNECTED) {
    if (a->info.state == TANDEM_DISK_ATTACHED)
      return FALSE;
    g_message("VM %s: network disk %s: the server of %s is back",
              a->info.vm, a->info.name, a->info.uri);
    a->info.state = TANDEM_DISK_ATTACHED;
    g_free(a->info.message);
    a->info.message = g_strdup(a->saved_message ? a->saved_message : "");
    g_clear_pointer(&a->saved_message, g_free);
    return TRUE;
  }
  gboolean expired = a->info.state != TANDEM_DISK_ATTACHED &&
                     now - a->lost_at >
                         (gint64)TANDEM_DISK_RECONNECT_DELAY * G_USEC_PER_SEC;
  TandemDiskState state =
      expired ? TANDEM_DISK_FAILED : TANDEM_DISK_RECONNECTING;
  if (state == a->info.state)
    return FALSE;
  set_lost(a, state, now);
  g_message("VM %s: network disk %s: %s", a->info.vm, a->info.name,
            a->info.message);
  return TRUE;
}

static gboolean on_watch(gpointer data) {
  TandemDiskManager *self = data;
  gint64 now = g_get_monotonic_time();
  gboolean any = FALSE;
  /* By name, found again before each check: "changed" listeners may
   * change the table under the walk. */
  g_autoptr(GPtrArray) vms = g_ptr_array_new_with_free_func(g_free);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, self->by_vm);
  while (g_hash_table_iter_next(&it, &key, NULL))
    g_ptr_array_add(vms, g_strdup(key));
  for (guint v = 0; v < vms->len; v++) {
    const char *vm_name = vms->pdata[v];
    GPtrArray *list = tdm_attachments_of(self, vm_name, FALSE);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; list && i < list->len; i++)
      if (watched(list->pdata[i]))
        g_ptr_array_add(names,
                        g_strdup(((Attachment *)list->pdata[i])->info.name));
    if (!names->len)
      continue;
    any = TRUE;
    TandemVm *vm = tandem_vm_manager_lookup(self->vms, vm_name);
    g_autoptr(TandemDiskProbe) probe =
        vm ? tandem_disk_probe_new(tandem_vm_get_pid(vm)) : NULL;
    for (guint i = 0; probe && i < names->len; i++) {
      Attachment *a = tdm_find(self, vm_name, names->pdata[i]);
      if (!a || !watched(a))
        continue;
      if (a->mirror ? tdm_mirror_check(a->mirror, probe, now)
                    : check(a, probe, now))
        tdm_changed(self, vm_name);
    }
  }
  if (!any)
    self->watch_id = 0;
  return any ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void tdm_watch_update(TandemDiskManager *self) {
  if (self->watch_id)
    return;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, self->by_vm);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    GPtrArray *list = value;
    for (guint i = 0; i < list->len; i++)
      if (watched(list->pdata[i])) {
        self->watch_id = g_timeout_add(WATCH_MS, on_watch, self);
        return;
      }
  }
}
