/* The main window: the configured VMs, or an empty state explaining how to
 * add one. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define TANDEM_TYPE_WINDOW (tandem_window_get_type())
G_DECLARE_FINAL_TYPE(TandemWindow, tandem_window, TANDEM, WINDOW,
                     GtkApplicationWindow)

TandemWindow *tandem_window_new(GtkApplication *app, const char *config_dir);

/* Re-reads the VM configuration directory. */
void tandem_window_reload(TandemWindow *self);

/* For tests: number of VM rows shown, and whether the empty state is up. */
guint tandem_window_get_vm_count(TandemWindow *self);
gboolean tandem_window_is_empty_state(TandemWindow *self);

G_END_DECLS
