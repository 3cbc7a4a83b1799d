#include "tandem-vm-list.h"

#include <errno.h>
#include <string.h>

char *tandem_vm_config_dir(void) {
  return g_build_filename(g_get_user_config_dir(), "tandem", "vms", NULL);
}

static int compare_names(const void *a, const void *b) {
  return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

char **tandem_vm_list_names(const char *dir, GError **error) {
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) d = g_dir_open(dir, 0, &local);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

  if (!d) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_new0(char *, 1);
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  for (const char *entry; (entry = g_dir_read_name(d));) {
    if (!g_str_has_suffix(entry, ".conf"))
      continue;
    g_autofree char *name = g_strndup(entry, strlen(entry) - strlen(".conf"));
    if (tandem_vm_name_is_valid(name))
      g_ptr_array_add(names, g_steal_pointer(&name));
  }
  g_ptr_array_sort(names, compare_names);
  g_ptr_array_add(names, NULL);
  return (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}
