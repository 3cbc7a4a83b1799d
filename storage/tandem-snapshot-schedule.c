/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Scheduled snapshots (tandem-snapshot-manager.h): one periodic timer per
 * running VM whose configuration has a [Snapshots] Every, armed when the
 * VM runs and removed when it stops; nothing runs for a VM without one,
 * so a shell at rest wakes up for nothing. */
#include "tandem-snapshot-private.h"

static void apply_retention(TandemSnapshotManager *self, const char *vm) {
  TandemVm *v = tandem_vm_manager_lookup(self->vms, vm);
  if (!v)
    return;
  const TandemVmConfig *c = tandem_vm_get_config(v);
  g_autoptr(GPtrArray) all = tandem_snapshot_manager_list(self, vm, NULL);
  if (!all)
    return;
  g_autoptr(GPtrArray) victims = tandem_snapshot_retention_victims(
      all, c->snapshot_keep, c->snapshot_max_age,
      g_get_real_time() / G_USEC_PER_SEC);
  for (guint i = 0; i < victims->len; i++) {
    g_autoptr(GError) error = NULL;
    if (!tandem_snapshot_manager_delete(self, vm, victims->pdata[i], &error))
      g_warning("VM %s: scheduled snapshot %s not deleted: %s", vm,
                (char *)victims->pdata[i], error->message);
  }
}

static void on_scheduled_taken(GObject *source, GAsyncResult *result,
                               gpointer data) {
  g_autofree char *vm = data;
  TandemSnapshotManager *self = TANDEM_SNAPSHOT_MANAGER(source);
  g_autoptr(GError) error = NULL;
  g_autoptr(TandemSnapshotInfo) info =
      tandem_snapshot_manager_create_finish(self, result, &error);
  if (!info) {
    g_warning("VM %s: scheduled snapshot failed: %s", vm, error->message);
    return;
  }
  apply_retention(self, vm);
}

typedef struct {
  TandemSnapshotManager *self; /* not a reference: the timer goes first */
  char *vm;
} Tick;

static void tick_free(Tick *t) {
  g_free(t->vm);
  g_free(t);
}

static gboolean on_tick(gpointer data) {
  Tick *t = data;
  TandemVm *vm = tandem_vm_manager_lookup(t->self->vms, t->vm);
  /* Skipped, not queued: paused, a snapshot under way, or images being
   * merged (which a snapshot would interrupt: a frequent schedule would
   * keep a merge from ever finishing). */
  if (!vm || tandem_vm_get_state(vm) != TANDEM_VM_RUNNING ||
      tandem_snapshot_manager_is_busy(t->self, t->vm) ||
      tandem_snapshot_manager_is_tidying(t->self, t->vm))
    return G_SOURCE_CONTINUE;
  tsm_take_async(t->self, t->vm, "Scheduled", TSM_TAKE_SCHEDULED, NULL,
                 on_scheduled_taken, g_strdup(t->vm));
  return G_SOURCE_CONTINUE;
}

static void disarm(TandemSnapshotManager *self, const char *vm) {
  guint id = GPOINTER_TO_UINT(g_hash_table_lookup(self->timers, vm));
  if (id)
    g_source_remove(id);
  g_hash_table_remove(self->timers, vm);
}

void tandem_snapshot_manager_reschedule(TandemSnapshotManager *self,
                                        const char *vm_name) {
  disarm(self, vm_name);
  TandemVm *vm = tandem_vm_manager_lookup(self->vms, vm_name);
  if (!vm)
    return;
  TandemVmState s = tandem_vm_get_state(vm);
  guint64 every = tandem_vm_get_config(vm)->snapshot_every;
  if (!every || (s != TANDEM_VM_RUNNING && s != TANDEM_VM_PAUSED))
    return;
  Tick *t = g_new0(Tick, 1);
  t->self = self;
  t->vm = g_strdup(vm_name);
  guint id = g_timeout_add_seconds_full(G_PRIORITY_DEFAULT,
                                        (guint)MIN(every, G_MAXUINT), on_tick,
                                        t, (GDestroyNotify)tick_free);
  g_hash_table_insert(self->timers, g_strdup(vm_name), GUINT_TO_POINTER(id));
}

gboolean tandem_snapshot_manager_set_schedule(TandemSnapshotManager *self,
                                              const char *vm_name,
                                              guint64 every, guint keep,
                                              guint64 max_age,
                                              GError **error) {
  TandemVm *vm = tsm_lookup(self, vm_name, error);
  if (!vm)
    return FALSE;
  if ((every && every < TANDEM_VM_MIN_SNAPSHOT_EVERY) ||
      every > TANDEM_MAX_DURATION || keep < 1 ||
      keep > TANDEM_VM_MAX_SNAPSHOT_KEEP || max_age > TANDEM_MAX_DURATION) {
    g_set_error(error, TANDEM_SNAPSHOT_ERROR, TANDEM_SNAPSHOT_ERROR_INVALID,
                "A schedule takes a snapshot every %d s or more (0 for "
                "never) and keeps 1 to %d of them",
                TANDEM_VM_MIN_SNAPSHOT_EVERY, TANDEM_VM_MAX_SNAPSHOT_KEEP);
    return FALSE;
  }
  const TandemVmConfig *c = tandem_vm_get_config(vm);
  guint64 old_every = c->snapshot_every, old_age = c->snapshot_max_age;
  guint old_keep = c->snapshot_keep;
  tandem_vm_set_snapshot_schedule(vm, every, keep, max_age);
  if (!tsm_save_config(self, vm, error)) {
    tandem_vm_set_snapshot_schedule(vm, old_every, old_keep, old_age);
    return FALSE;
  }
  tandem_snapshot_manager_reschedule(self, vm_name);
  apply_retention(self, vm_name); /* a smaller Keep applies now */
  return TRUE;
}

static void on_state_changed(TandemVmManager *vms, TandemVm *vm,
                             TandemVmState old_state, TandemVmState state,
                             gpointer data) {
  TandemSnapshotManager *self = data;
  const char *name = tandem_vm_get_name(vm);
  gboolean armed = g_hash_table_contains(self->timers, name);
  gboolean runs = state == TANDEM_VM_RUNNING || state == TANDEM_VM_PAUSED;
  if (runs && !armed)
    tandem_snapshot_manager_reschedule(self, name);
  else if (!runs && armed)
    disarm(self, name);
}

void tsm_schedule_init(TandemSnapshotManager *self) {
  g_signal_connect(self->vms, "vm-state-changed",
                   G_CALLBACK(on_state_changed), self);
}

void tsm_schedule_fini(TandemSnapshotManager *self) {
  if (self->vms)
    g_signal_handlers_disconnect_by_data(self->vms, self);
  GHashTableIter it;
  gpointer id;
  g_hash_table_iter_init(&it, self->timers);
  while (g_hash_table_iter_next(&it, NULL, &id))
    g_source_remove(GPOINTER_TO_UINT(id));
  g_hash_table_remove_all(self->timers);
}
