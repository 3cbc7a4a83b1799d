/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tandem-vm-manager.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tandem-vmm-error.h"

struct _TandemVmManager {
  GObject parent_instance;
  char *config_dir;
  GPtrArray *vms;         /* sorted by name */
  GPtrArray *problems;    /* char *, NULL-terminated */
};

G_DEFINE_TYPE(TandemVmManager, tandem_vm_manager, G_TYPE_OBJECT)

enum { SIGNAL_VM_ADDED, SIGNAL_VM_REMOVED, SIGNAL_VM_STATE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static int compare_vms(gconstpointer a, gconstpointer b) {
  return g_strcmp0(tandem_vm_get_name(*(TandemVm *const *)a),
                   tandem_vm_get_name(*(TandemVm *const *)b));
}

static void on_vm_state_changed(TandemVm *vm, int old, int state,
                                gpointer data) {
  g_signal_emit(data, signals[SIGNAL_VM_STATE_CHANGED], 0, vm, old, state);
}

static TandemVm *add_vm(TandemVmManager *self, TandemVmConfig *config) {
  TandemVm *vm = tandem_vm_new(config);
  g_signal_connect_object(vm, "state-changed",
                          G_CALLBACK(on_vm_state_changed), self, 0);
  g_ptr_array_add(self->vms, vm);
  g_ptr_array_sort(self->vms, compare_vms);
  g_signal_emit(self, signals[SIGNAL_VM_ADDED], 0, vm);
  return vm;
}

TandemVm *tandem_vm_manager_lookup(TandemVmManager *self, const char *name) {
  for (guint i = 0; i < self->vms->len; i++)
    if (g_str_equal(tandem_vm_get_name(self->vms->pdata[i]), name))
      return self->vms->pdata[i];
  return NULL;
}

static gboolean is_idle(TandemVm *vm) {
  TandemVmState s = tandem_vm_get_state(vm);
  return s == TANDEM_VM_STOPPED || s == TANDEM_VM_CRASHED;
}

void tandem_vm_manager_reload(TandemVmManager *self) {
  g_autoptr(GError) dir_error = NULL;
  g_autoptr(GDir) dir = g_dir_open(self->config_dir, 0, &dir_error);
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                     g_free, NULL);
  g_ptr_array_set_size(self->problems, 0);
  /* No directory yet is simply no VMs; one that cannot be read is news. */
  if (!dir && !g_error_matches(dir_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_ptr_array_add(self->problems,
                    g_strdup_printf("Cannot read the VM configurations in "
                                    "%s: %s",
                                    self->config_dir, dir_error->message));

  for (const char *e; dir && (e = g_dir_read_name(dir));) {
    if (!g_str_has_suffix(e, ".conf"))
      continue;
    g_autofree char *name = g_strndup(e, strlen(e) - strlen(".conf"));
    if (!tandem_vm_name_is_valid(name))
      continue;
    g_autoptr(GError) error = NULL;
    TandemVmConfig *config = tandem_vm_config_load(self->config_dir, name,
                                                   &error);
    if (!config) {
      g_ptr_array_add(self->problems, g_strdup(error->message));
      continue;
    }
    g_hash_table_add(seen, g_strdup(name));
    TandemVm *vm = tandem_vm_manager_lookup(self, name);
    if (!vm)
      add_vm(self, config);
    else if (is_idle(vm))
      tandem_vm_set_config(vm, config, NULL);
    else
      tandem_vm_config_free(config); /* applies at the next start */
  }
  for (guint i = self->vms->len; i-- > 0;) {
    TandemVm *vm = self->vms->pdata[i];
    if (!g_hash_table_contains(seen, tandem_vm_get_name(vm)) && is_idle(vm)) {
      g_autoptr(TandemVm) gone = g_object_ref(vm);
      g_ptr_array_remove_index(self->vms, i);
      g_signal_emit(self, signals[SIGNAL_VM_REMOVED], 0, gone);
    }
  }
  g_ptr_array_add(self->problems, NULL);
  g_ptr_array_set_size(self->problems, self->problems->len - 1);
}

GPtrArray *tandem_vm_manager_get_vms(TandemVmManager *self) {
  return self->vms;
}

const char *const *tandem_vm_manager_get_problems(TandemVmManager *self) {
  /* Keep a NULL after the last entry without counting it. */
  g_ptr_array_add(self->problems, NULL);
  g_ptr_array_set_size(self->problems, self->problems->len - 1);
  return (const char *const *)self->problems->pdata;
}

const char *tandem_vm_manager_get_config_dir(TandemVmManager *self) {
  return self->config_dir;
}

TandemVm *tandem_vm_manager_create(TandemVmManager *self,
                                   TandemVmConfig *config, GError **error) {
  g_autoptr(TandemVmConfig) c = config;
  g_autofree char *file = g_strdup_printf("%s.conf", c->name);
  g_autofree char *path = g_build_filename(self->config_dir, file, NULL);
  g_autofree char *data_dir = tandem_vm_data_dir(c->name);

  if (tandem_vm_manager_lookup(self, c->name) ||
      g_file_test(path, G_FILE_TEST_EXISTS)) {
    g_set_error(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_EXISTS,
                "A VM called “%s” already exists (%s)", c->name, path);
    return NULL;
  }
  if (g_mkdir_with_parents(data_dir, 0700) != 0) {
    g_set_error(error, TANDEM_VMM_ERROR, TANDEM_VMM_ERROR_CONFIG,
                "Cannot create %s: %s", data_dir, g_strerror(errno));
    return NULL;
  }
  if (!tandem_vm_config_save(c, self->config_dir, error))
    return NULL;
  return add_vm(self, g_steal_pointer(&c));
}

TandemVmManager *tandem_vm_manager_new(const char *config_dir) {
  TandemVmManager *self = g_object_new(TANDEM_TYPE_VM_MANAGER, NULL);
  self->config_dir = config_dir ? g_strdup(config_dir)
                                : g_build_filename(g_get_user_config_dir(),
                                                   "tandem", "vms", NULL);
  tandem_vm_manager_reload(self);
  return self;
}

static void tandem_vm_manager_finalize(GObject *object) {
  TandemVmManager *self = TANDEM_VM_MANAGER(object);
  g_ptr_array_unref(self->vms);
  g_ptr_array_unref(self->problems);
  g_free(self->config_dir);
  G_OBJECT_CLASS(tandem_vm_manager_parent_class)->finalize(object);
}

static void tandem_vm_manager_class_init(TandemVmManagerClass *klass) {
  G_OBJECT_CLASS(klass)->finalize = tandem_vm_manager_finalize;
  signals[SIGNAL_VM_ADDED] = g_signal_new(
      "vm-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, TANDEM_TYPE_VM);
  signals[SIGNAL_VM_REMOVED] = g_signal_new(
      "vm-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, TANDEM_TYPE_VM);
  signals[SIGNAL_VM_STATE_CHANGED] = g_signal_new(
      "vm-state-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 3, TANDEM_TYPE_VM, G_TYPE_INT, G_TYPE_INT);
}

static void tandem_vm_manager_init(TandemVmManager *self) {
  self->vms = g_ptr_array_new_with_free_func(g_object_unref);
  self->problems = g_ptr_array_new_with_free_func(g_free);
}
