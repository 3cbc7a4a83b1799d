/* The VMs the user has configured, as the shell lists them. */
#pragma once

#include <glib.h>

#include "tandem-vm-config.h"

G_BEGIN_DECLS

/* $XDG_CONFIG_HOME/tandem/vms: one NAME.conf key file per VM. */
char *tandem_vm_config_dir(void);

/* Sorted names of the VMs configured in @dir (files NAME.conf whose NAME is
 * a valid VM name). A missing directory is an empty list, not an error.
 * Returns a NULL-terminated array (free with g_strfreev()), or NULL with
 * @error set if the directory exists but cannot be read. */
char **tandem_vm_list_names(const char *dir, GError **error);

G_END_DECLS
